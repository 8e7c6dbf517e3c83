//! `vigil audit verify|export`, and the recorder's side of the audit trail (opening it with
//! the recorder's key at start, retention summaries and store chain heads on every
//! retention run, closing and sealing at stop).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;
use tracing::{info, warn};

use crate::DataArgs;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Re-compute the audit chain and check its seals; names every edited, removed or
    /// inserted row (exit status 1 when the trail was tampered with).
    Verify {
        #[command(flatten)]
        data: DataArgs,
        /// The recorder's public key (default: DATA/keys/recorder-ed25519.pub.pem).
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Write audit events as CSV (oldest first), optionally filtered.
    Export {
        #[command(flatten)]
        data: DataArgs,
        /// CSV output (the only format; the flag makes scripts explicit).
        #[arg(long)]
        csv: bool,
        /// Output file (default: standard output).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Only this user's events.
        #[arg(long)]
        actor: Option<String>,
        /// Only this action ("live.view"), or a family ending in '.' ("login.").
        #[arg(long)]
        action: Option<String>,
        /// Only events whose target contains this ("camera:3").
        #[arg(long)]
        target: Option<String>,
        /// From this time (RFC 3339, or YYYY-MM-DD in UTC).
        #[arg(long)]
        from: Option<String>,
        /// Up to this time (exclusive; RFC 3339, or YYYY-MM-DD in UTC).
        #[arg(long)]
        to: Option<String>,
    },
}

/// Runs the command; `Ok(false)` when verification found tampering.
pub fn run(cmd: AuditCmd) -> Result<bool> {
    match cmd {
        AuditCmd::Verify { data, public_key } => {
            let cfg = data.load()?;
            let pub_path =
                public_key.unwrap_or_else(|| audit::RecorderKey::public_path(&cfg.data_dir));
            let pem = std::fs::read_to_string(&pub_path).with_context(|| {
                format!(
                    "reading the recorder's public key {} (give another with --public-key)",
                    pub_path.display()
                )
            })?;
            let db = cfg.data_dir.join(store::DB_FILE);
            let report = audit::verify(&db, &pem)
                .with_context(|| format!("verifying the audit trail in {}", db.display()))?;
            println!("{report}");
            Ok(report.is_ok())
        }
        AuditCmd::Export {
            data,
            csv: _,
            output,
            actor,
            action,
            target,
            from,
            to,
        } => {
            let cfg = data.load()?;
            let filter = audit::Filter {
                actor,
                action,
                target,
                from_ms: from.as_deref().map(parse_time).transpose()?,
                to_ms: to.as_deref().map(parse_time).transpose()?,
                limit: 0,
            };
            let db = cfg.data_dir.join(store::DB_FILE);
            let mut rows = audit::query_db(&db, &filter)
                .with_context(|| format!("reading the audit trail in {}", db.display()))?;
            rows.reverse();
            let n = match output {
                Some(p) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(&p)
                            .with_context(|| format!("creating {}", p.display()))?,
                    );
                    let n = audit::write_csv(&rows, &mut f)?;
                    f.flush()?;
                    n
                }
                None => {
                    let out = std::io::stdout();
                    let mut lock = out.lock();
                    audit::write_csv(&rows, &mut lock)?
                }
            };
            eprintln!("{n} events");
            Ok(true)
        }
    }
}

/// RFC 3339 or a UTC day (YYYY-MM-DD) → Unix milliseconds.
fn parse_time(s: &str) -> Result<i64> {
    let s = s.trim();
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    let ticks = media::time::parse_rfc3339(&full).map_err(|e| {
        anyhow::anyhow!("{s:?} is not a time (use 2025-01-31 or 2025-01-31T08:00:00+07:00): {e}")
    })?;
    Ok(ticks / 90)
}

/// Opens the recorder's key (made on first start) and the audit trail signing with it
/// ([`audit::Audit::key`]), and records the start. Off the async threads.
pub async fn open_for_recorder(data_dir: &Path) -> Result<audit::Audit> {
    let dir = data_dir.to_owned();
    tokio::task::spawn_blocking(move || -> Result<_> {
        let key = audit::RecorderKey::load_or_create(&dir)
            .context("loading the recorder's signing key")?;
        let audit = audit::Audit::open(&dir.join(store::DB_FILE), key)
            .context("opening the audit trail")?;
        audit.note(audit::Event::new("system.start", "recorder").detail(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
        })));
        Ok(audit)
    })
    .await?
}

/// Records the stop, commits and seals (off the async threads).
pub async fn close_for_recorder(audit: audit::Audit) {
    let r = tokio::task::spawn_blocking(move || {
        audit.note(audit::Event::new("system.stop", "recorder"));
        audit.close()
    })
    .await;
    match r {
        Ok(Ok(())) => info!("audit trail sealed"),
        Ok(Err(e)) => warn!("closing the audit trail: {e}"),
        Err(e) => warn!("closing the audit trail: {e}"),
    }
}

/// After a retention run: a `retention.delete` summary when footage was deleted, and a
/// `storage.seal` event with every recorded stream's newest segment (sequence number, end,
/// file hash), so the next audit seal covers the store's chain heads: rewriting the newest
/// index rows later no longer goes unnoticed.
pub fn retention_events(audit: &audit::Audit, store: &store::Store, r: &store::RetentionReport) {
    if r.deleted_segments > 0 {
        let streams: Vec<_> = r
            .streams
            .iter()
            .filter(|s| s.deleted_segments > 0)
            .map(|s| {
                json!({
                    "stream": s.stream_id,
                    "segments": s.deleted_segments,
                    "bytes": s.deleted_bytes,
                    "kept_by_holds": s.kept_by_holds,
                })
            })
            .collect();
        audit.note(
            audit::Event::new("retention.delete", "storage").detail(json!({
                "segments": r.deleted_segments,
                "bytes": r.deleted_bytes,
                "streams": streams,
            })),
        );
    }
    match chain_heads(store) {
        Ok(heads) if !heads.is_empty() => audit
            .note(audit::Event::new("storage.seal", "storage").detail(json!({ "streams": heads }))),
        Ok(_) => {}
        Err(e) => warn!("reading the store's chain heads for the audit seal: {e:#}"),
    }
}

/// Each stream's newest closed segment.
fn chain_heads(store: &store::Store) -> Result<Vec<serde_json::Value>> {
    let now = crate::recorder::now_ticks();
    let mut out = Vec::new();
    for u in store.stream_usage(now)? {
        let Some(newest) = u.newest else { continue };
        let segs = store.segments(u.stream_id, newest - 1, newest + 1)?;
        if let Some(s) = segs.last() {
            out.push(json!({
                "stream": u.stream_id,
                "camera": u.camera,
                "kind": u.kind.to_string(),
                "seq": s.seq,
                "end": media::time::format_ticks(s.end),
                "bytes": s.bytes,
                "file_sha256": hex_of(&s.file_sha256),
            }));
        }
    }
    Ok(out)
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert!(parse_time("yesterday").is_err());
    }
}
