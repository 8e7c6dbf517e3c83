//! Reading the trail: filters for the audit page and the CSV export.

use std::io::Write;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, ToSql};
use serde::Serialize;

use crate::chain::blob32;
use crate::{format_ms, AuditError, DbContext};

/// Most rows one query returns.
pub const MAX_ROWS: usize = 100_000;

/// Which events to read. Empty fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exact user name (case-insensitive).
    pub actor: Option<String>,
    /// Action, exact ("live.view") or a prefix ending in '.' ("login.").
    pub action: Option<String>,
    /// Text the target contains ("camera:3" also matches "camera:3" only, not "camera:31":
    /// a value ending in a digit matches the whole target or a target followed by '/').
    pub target: Option<String>,
    /// From this time (Unix ms, inclusive)…
    pub from_ms: Option<i64>,
    /// …to this time (exclusive).
    pub to_ms: Option<i64>,
    /// Most rows to return (0: [`MAX_ROWS`]).
    pub limit: usize,
}

/// A committed event as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    pub seq: u64,
    pub time_ms: i64,
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    /// JSON text.
    pub detail: String,
    pub client: Option<String>,
    #[serde(serialize_with = "hex32")]
    pub prev_hash: [u8; 32],
    #[serde(serialize_with = "hex32")]
    pub hash: [u8; 32],
}

fn hex32<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

pub(crate) fn query_conn(conn: &Connection, f: &Filter) -> Result<Vec<StoredEvent>, AuditError> {
    let mut sql = String::from(
        "SELECT seq, time, actor, action, target, detail, client, prev_hash, hash \
         FROM audit_event WHERE 1",
    );
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(a) = f.actor.as_deref().filter(|s| !s.trim().is_empty()) {
        args.push(Box::new(a.trim().to_string()));
        sql += &format!(" AND actor = ?{} COLLATE NOCASE", args.len());
    }
    if let Some(a) = f.action.as_deref().filter(|s| !s.trim().is_empty()) {
        let a = a.trim();
        if a.ends_with('.') {
            args.push(Box::new(format!("{}%", like_escape(a))));
            sql += &format!(" AND action LIKE ?{} ESCAPE '\\'", args.len());
        } else {
            args.push(Box::new(a.to_string()));
            sql += &format!(" AND action = ?{}", args.len());
        }
    }
    if let Some(t) = f.target.as_deref().filter(|s| !s.trim().is_empty()) {
        let t = t.trim();
        if t.ends_with(|c: char| c.is_ascii_digit()) {
            args.push(Box::new(t.to_string()));
            let n = args.len();
            args.push(Box::new(format!("{}/%", like_escape(t))));
            sql += &format!(
                " AND (target = ?{n} OR target LIKE ?{} ESCAPE '\\')",
                args.len()
            );
        } else {
            args.push(Box::new(format!("%{}%", like_escape(t))));
            sql += &format!(" AND target LIKE ?{} ESCAPE '\\'", args.len());
        }
    }
    if let Some(from) = f.from_ms {
        args.push(Box::new(from));
        sql += &format!(" AND time >= ?{}", args.len());
    }
    if let Some(to) = f.to_ms {
        args.push(Box::new(to));
        sql += &format!(" AND time < ?{}", args.len());
    }
    let limit = if f.limit == 0 {
        MAX_ROWS
    } else {
        f.limit.min(MAX_ROWS)
    };
    sql += &format!(" ORDER BY seq DESC LIMIT {limit}");
    let mut stmt = conn.prepare(&sql).ctx("preparing an audit query")?;
    let refs: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let rows = stmt
        .query_map(refs.as_slice(), |r| {
            Ok(StoredEvent {
                seq: r.get::<_, i64>(0)?.max(0) as u64,
                time_ms: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                detail: r.get(5)?,
                client: r.get(6)?,
                prev_hash: blob32(r.get(7)?),
                hash: blob32(r.get(8)?),
            })
        })
        .ctx("querying audit events")?;
    rows.collect::<Result<Vec<_>, _>>()
        .ctx("reading audit events")
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Events matching `filter` in the database `db_path`, newest first, read without the
/// recorder key (the CLI's `vigil audit export`). Opens the database read-only.
pub fn query_db(db_path: &Path, filter: &Filter) -> Result<Vec<StoredEvent>, AuditError> {
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
    query_conn(&conn, filter)
}

/// The CSV header line's columns.
pub const CSV_COLUMNS: [&str; 9] = [
    "seq",
    "time_utc",
    "actor",
    "action",
    "target",
    "detail",
    "client",
    "prev_hash",
    "hash",
];

/// Writes `rows` as CSV (RFC 4180, with a header); returns the row count.
pub fn write_csv(rows: &[StoredEvent], out: &mut impl Write) -> Result<u64, AuditError> {
    csv_rows(rows, out)
}

pub(crate) fn csv_rows(rows: &[StoredEvent], out: &mut impl Write) -> Result<u64, AuditError> {
    let io = |e| AuditError::Io {
        what: "write CSV to".into(),
        path: "<output>".into(),
        source: e,
    };
    writeln!(out, "{}", CSV_COLUMNS.join(",")).map_err(io)?;
    for r in rows {
        let fields = [
            r.seq.to_string(),
            format_ms(r.time_ms),
            r.actor.clone().unwrap_or_default(),
            r.action.clone(),
            r.target.clone(),
            r.detail.clone(),
            r.client.clone().unwrap_or_default(),
            hex::encode(r.prev_hash),
            hex::encode(r.hash),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", line.join(",")).map_err(io)?;
    }
    Ok(rows.len() as u64)
}

/// Quotes a CSV field when needed. A field that a spreadsheet would run as a formula
/// (starting with = + - @) is prefixed with an apostrophe.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("{\"a\":1}"), "\"{\"\"a\"\":1}\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
