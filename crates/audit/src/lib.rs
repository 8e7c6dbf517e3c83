//! # audit — the trail nobody can quietly edit
//!
//! What this crate is for: recording who did what in Vigil (every login and failed login,
//! every view of live or recorded video, requests, decisions, exports, downloads, holds,
//! configuration and permission changes, retention deletions) in an append-only,
//! hash-chained log, sealing the chain's head with the recorder's Ed25519 key
//! ([`RecorderKey`]) at intervals and at shutdown, and verifying all of it ([`verify`]):
//! any edited, removed or inserted row is found and named.
//!
//! - [`Audit`] owns its tables (`audit_event`, `audit_seal`, versioned in `audit_schema`)
//!   in the shared database file `vigil.db`, through its own connection.
//! - [`Audit::record`] costs a few microseconds: the row is chained (its SHA-256 computed)
//!   under a mutex and queued; a background thread commits the queue in one transaction
//!   every [`FLUSH_INTERVAL`] or every [`FLUSH_BATCH`] events. [`Audit::close`] (and
//!   dropping the last handle) commits everything and seals, so a clean shutdown loses
//!   nothing; a crash can lose the last [`FLUSH_INTERVAL`] of events.
//! - Each row's `hash` = SHA-256(`prev_hash` ‖ the row's canonical bytes, see
//!   [`chain::row_bytes`]); `prev_hash` of the first row is 32 zero bytes.
//! - Several processes may append to the same database (the recorder, a CLI command):
//!   each commit re-reads the chain's tail inside its write transaction and re-chains its
//!   queued rows if another process appended meanwhile.
//!
//! What it is not for: deciding who may read the trail (that is `govern::authorize`),
//! HTTP (`web`).

pub mod chain;
mod key;
mod log;
mod query;
mod verify;

pub use key::{RecorderKey, KEYS_DIR, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE};
pub use log::{Audit, Head, Seal, FLUSH_BATCH, FLUSH_INTERVAL, SEAL_INTERVAL};
pub use query::{query_db, write_csv, Filter, StoredEvent};
pub use verify::{verify, Problem, ProblemKind, Report};

use std::path::PathBuf;

/// One thing that happened, as a caller describes it to [`Audit::record`].
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Who did it (user name); `None` for the system itself (retention, seals).
    pub actor: Option<String>,
    /// What was done, a stable dotted name: "login.ok", "login.fail", "logout",
    /// "live.view", "playback.view", "request.create", "request.approve",
    /// "export.create", "export.download", "hold.place", "config.camera",
    /// "user.change", "retention.delete", "storage.seal", …
    pub action: &'static str,
    /// What it was done to, e.g. "camera:3", "user:anna", "request:12".
    pub target: String,
    /// Everything else worth keeping (time ranges, streams, counts), as JSON.
    pub detail: serde_json::Value,
    /// The client's network address, when the event came over the network.
    pub client: Option<String>,
}

impl Event {
    /// An event by nobody in particular, with an empty detail; fill in with the builders.
    pub fn new(action: &'static str, target: impl Into<String>) -> Event {
        Event {
            actor: None,
            action,
            target: target.into(),
            detail: serde_json::Value::Object(Default::default()),
            client: None,
        }
    }

    /// Sets who did it.
    pub fn by(mut self, actor: impl Into<String>) -> Event {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the client address.
    pub fn from(mut self, client: impl ToString) -> Event {
        self.client = Some(client.to_string());
        self
    }

    /// Sets the detail.
    pub fn detail(mut self, detail: serde_json::Value) -> Event {
        self.detail = detail;
        self
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit database error while {what}: {source}")]
    Db {
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the recorder key {path} is not usable: {detail}")]
    Key { path: PathBuf, detail: String },
    #[error("the database holds audit schema version {found}, newer than this program's {supported}: upgrade Vigil")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the audit trail has been closed")]
    Closed,
    #[error("the audit trail cannot be written ({0}); {1} events wait in memory")]
    Backlog(String, usize),
}

pub(crate) trait DbContext<T> {
    fn ctx(self, what: &str) -> Result<T, AuditError>;
}

impl<T> DbContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, what: &str) -> Result<T, AuditError> {
        self.map_err(|source| AuditError::Db {
            what: what.to_string(),
            source,
        })
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds ("2025-01-31T08:00:00.000Z").
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::format_ms(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
