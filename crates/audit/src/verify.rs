//! [`verify`]: re-computes the whole chain and checks every seal; names every row that was
//! edited, removed or inserted behind the trail's back.
//!
//! What each check catches:
//! - a row whose content no longer gives its stored `hash`: **edited** (or inserted with
//!   a made-up hash);
//! - a row whose `prev_hash` is not the previous row's `hash`: the previous row's hash was
//!   rewritten (**edited**), or rows were re-linked;
//! - a gap in `seq`: rows **removed**; a `seq` below 1: **inserted**;
//! - a seal whose signature fails: a forged or altered seal; a gap in seal ids: a seal
//!   removed; a seal whose sealed row is gone or has another hash: rows up to it were
//!   rewritten (consistently, so only the key-signed seal can tell) or the tail removed.
//!
//! Rows after the last seal are covered by the chain only (an insertion at the very end
//! with a correctly computed hash is indistinguishable there); they are reported as a
//! warning. The recorder seals every few minutes and at every clean shutdown.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::chain::{self, blob32, GENESIS};
use crate::{format_ms, AuditError, DbContext, RecorderKey};

/// Problems listed in full; beyond this only counted.
const MAX_PROBLEMS: usize = 1000;

/// What kind of tampering a problem shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The row's content or hash was changed.
    Edited,
    /// Rows are missing.
    Removed,
    /// A row that the chain never had.
    Inserted,
    /// A seal is forged, altered, removed, or no longer matches the chain.
    Seal,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The row concerned (for [`ProblemKind::Removed`], the first missing one).
    pub seq: Option<u64>,
    pub kind: ProblemKind,
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ProblemKind::Edited => "EDITED",
            ProblemKind::Removed => "REMOVED",
            ProblemKind::Inserted => "INSERTED",
            ProblemKind::Seal => "SEAL",
        };
        match self.seq {
            Some(s) => write!(f, "{kind} row {s}: {}", self.detail),
            None => write!(f, "{kind}: {}", self.detail),
        }
    }
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows read.
    pub events: u64,
    /// Highest sequence number.
    pub last_seq: u64,
    /// Seals whose signatures verified.
    pub good_seals: u64,
    /// The last sealed sequence number.
    pub sealed_seq: Option<u64>,
    pub problems: Vec<Problem>,
    /// Problems beyond those listed.
    pub more_problems: u64,
    /// Not tampering, but worth saying (e.g. an unsealed tail).
    pub warnings: Vec<String>,
}

impl Report {
    /// Whether the trail is intact.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn push(&mut self, seq: Option<u64>, kind: ProblemKind, detail: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { seq, kind, detail });
        } else {
            self.more_problems += 1;
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        if self.more_problems > 0 {
            writeln!(f, "… and {} more problems", self.more_problems)?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        if self.is_ok() {
            write!(
                f,
                "audit trail OK: {} events (last {}), {} seals verified (last sealed: {})",
                self.events,
                self.last_seq,
                self.good_seals,
                self.sealed_seq.map_or("none".into(), |s| s.to_string())
            )
        } else {
            write!(
                f,
                "audit trail TAMPERED: {} problems in {} events",
                self.problems.len() as u64 + self.more_problems,
                self.events
            )
        }
    }
}

struct SealRow {
    id: i64,
    seq: i64,
    hash: [u8; 32],
    time: i64,
    signature: Vec<u8>,
}

/// Verifies the audit trail in the database `db_path` against the recorder's public key
/// (`pub_pem`, SPKI PEM). Opens the database read-only; safe beside a running recorder.
pub fn verify(db_path: &Path, pub_pem: &str) -> Result<Report, AuditError> {
    if !db_path.exists() {
        return Err(AuditError::Io {
            what: "open".into(),
            path: db_path.to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let conn = Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .ctx("opening the database")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .ctx("setting the busy timeout")?;
    // One read transaction: a consistent snapshot while the recorder keeps appending.
    conn.execute_batch("BEGIN").ctx("starting a read")?;
    let mut report = Report::default();
    // seq → stored hash, for the seal checks (32 bytes per row; 1 M events = 32 MB).
    let mut hashes: Vec<(u64, [u8; 32])> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT seq, time, actor, action, target, detail, client, prev_hash, hash \
                 FROM audit_event ORDER BY seq",
            )
            .ctx("reading the audit trail")?;
        let mut rows = stmt.query([]).ctx("reading the audit trail")?;
        let mut prev_seq = 0u64;
        let mut prev_hash = GENESIS;
        while let Some(r) = rows.next().ctx("reading the audit trail")? {
            report.events += 1;
            let seq: i64 = r.get(0).ctx("reading seq")?;
            let time: i64 = r.get(1).unwrap_or(0);
            let actor: Option<String> = r.get(2).unwrap_or(None);
            let action: String = r.get(3).unwrap_or_default();
            let target: String = r.get(4).unwrap_or_default();
            let detail: String = r.get(5).unwrap_or_default();
            let client: Option<String> = r.get(6).unwrap_or(None);
            let stored_prev = blob32(r.get(7).unwrap_or(None));
            let stored_hash = blob32(r.get(8).unwrap_or(None));
            let what = format!(
                "{action} {target} by {} at {}",
                actor.as_deref().unwrap_or("system"),
                format_ms(time)
            );
            if seq < 1 {
                report.push(
                    Some(seq.max(0) as u64),
                    ProblemKind::Inserted,
                    format!("sequence number {seq} never exists in the chain ({what})"),
                );
                continue;
            }
            let seq = seq as u64;
            let bytes = chain::row_bytes(
                seq,
                time,
                actor.as_deref(),
                &action,
                &target,
                &detail,
                client.as_deref(),
            );
            let recomputed = chain::row_hash(&stored_prev, &bytes);
            let content_ok = recomputed == stored_hash;
            if seq > prev_seq + 1 {
                let n = seq - prev_seq - 1;
                report.push(
                    Some(prev_seq + 1),
                    ProblemKind::Removed,
                    if n == 1 {
                        format!("row {} is missing (removed)", prev_seq + 1)
                    } else {
                        format!(
                            "rows {}–{} are missing ({n} removed)",
                            prev_seq + 1,
                            seq - 1
                        )
                    },
                );
            } else if stored_prev != prev_hash && content_ok {
                // The numbering is intact and this row is consistent, but it no longer
                // links to its predecessor: the previous row's hash was rewritten (to hide
                // an edit of it).
                report.push(
                    Some(prev_seq),
                    ProblemKind::Edited,
                    format!("its hash was rewritten: row {seq} no longer links to it"),
                );
            }
            if !content_ok {
                report.push(
                    Some(seq),
                    ProblemKind::Edited,
                    format!(
                        "content does not match its hash: edited, or inserted with a \
                         made-up hash ({what})"
                    ),
                );
            }
            prev_seq = seq;
            prev_hash = stored_hash;
            hashes.push((seq, stored_hash));
        }
        report.last_seq = prev_seq;
    }
    check_seals(&conn, pub_pem, &hashes, &mut report)?;
    conn.execute_batch("COMMIT").ctx("ending the read")?;
    Ok(report)
}

fn check_seals(
    conn: &Connection,
    pub_pem: &str,
    hashes: &[(u64, [u8; 32])],
    report: &mut Report,
) -> Result<(), AuditError> {
    let mut stmt = conn
        .prepare("SELECT id, seq, hash, time, signature FROM audit_seal ORDER BY id")
        .ctx("reading the seals")?;
    let seals = stmt
        .query_map([], |r| {
            Ok(SealRow {
                id: r.get(0)?,
                seq: r.get(1)?,
                hash: blob32(r.get(2)?),
                time: r.get(3)?,
                signature: r.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
            })
        })
        .ctx("reading the seals")?
        .collect::<Result<Vec<_>, _>>()
        .ctx("reading the seals")?;
    let mut prev_id = 0i64;
    let mut last_good_seq = 0u64;
    for s in &seals {
        if s.id != prev_id + 1 {
            report.push(
                None,
                ProblemKind::Seal,
                format!("seals {}–{} are missing (removed)", prev_id + 1, s.id - 1),
            );
        }
        prev_id = s.id;
        let seq = s.seq.max(0) as u64;
        let msg = chain::seal_bytes(s.id.max(0) as u64, seq, &s.hash, s.time);
        if !RecorderKey::verify(pub_pem, &msg, &s.signature) {
            report.push(
                Some(seq),
                ProblemKind::Seal,
                format!(
                    "seal {} (of row {seq}, {}) does not verify with the recorder's key: forged or altered",
                    s.id,
                    format_ms(s.time)
                ),
            );
            continue;
        }
        report.good_seals += 1;
        if seq == 0 {
            continue;
        }
        match hashes.binary_search_by_key(&seq, |(q, _)| *q) {
            Ok(i) if hashes[i].1 == s.hash => last_good_seq = last_good_seq.max(seq),
            Ok(_) => report.push(
                Some(seq),
                ProblemKind::Edited,
                format!(
                    "row {seq} differs from the head sealed by seal {} at {}: rows {}–{seq} were rewritten",
                    s.id,
                    format_ms(s.time),
                    last_good_seq + 1
                ),
            ),
            Err(_) => report.push(
                Some(seq),
                ProblemKind::Removed,
                if seq > report.last_seq {
                    format!(
                        "seal {} covers rows up to {seq}, but the trail ends at {}: rows {}–{seq} removed",
                        s.id,
                        report.last_seq,
                        report.last_seq + 1
                    )
                } else {
                    format!("row {seq}, sealed by seal {}, is missing", s.id)
                },
            ),
        }
        report.sealed_seq = Some(report.sealed_seq.map_or(seq, |x| x.max(seq)));
    }
    let sealed = report.sealed_seq.unwrap_or(0);
    if report.last_seq > sealed {
        report.warnings.push(format!(
            "rows {}–{} come after the last seal (a running recorder seals every few \
             minutes and at shutdown): the chain alone protects them",
            sealed + 1,
            report.last_seq
        ));
    }
    Ok(())
}
