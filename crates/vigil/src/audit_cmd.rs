//! `vigil audit verify|export`, the recorder's side of the audit trail (opening it with
//! the recorder's key at start, retention summaries and store chain heads on every
//! retention run, closing and sealing at stop), the CLI's side ([`CliAudit`] for `vigil
//! camera …` and `vigil user …`), and the comparison of the store's chains with the sealed
//! heads for `vigil verify-storage` ([`sealed_chain_problems`]).

use std::collections::{HashMap, HashSet};
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

/// The audit trail as an offline configuration command (`vigil camera …`, `vigil user …`)
/// writes to it: events by `cli:<unix user>` ([`cli_actor`]), committed and sealed when the
/// command ends. Safe beside a running `vigil serve`: both append to the one chain (each
/// commit re-reads the chain's tail inside its write transaction, see the `audit` crate).
pub struct CliAudit {
    audit: audit::Audit,
    actor: String,
}

impl CliAudit {
    /// Opens the trail of `data_dir` with the recorder's key (created if there is none yet).
    /// Call it *before* changing anything: a trail that cannot be opened changes nothing.
    pub fn open(data_dir: &Path) -> Result<CliAudit> {
        let key = audit::RecorderKey::load_or_create(data_dir).context(
            "loading the recorder's signing key for the audit trail (run this as the \
             recorder's user); nothing changed",
        )?;
        let audit = audit::Audit::open(&data_dir.join(store::DB_FILE), key)
            .context("opening the audit trail; nothing changed")?;
        Ok(CliAudit {
            audit,
            actor: cli_actor(),
        })
    }

    /// Records `action` on `target`; `detail` (an object) must hold no secret. When run
    /// through sudo, the invoking user is added to the detail as `sudo_user`.
    pub fn record(
        &self,
        action: &'static str,
        target: impl Into<String>,
        mut detail: serde_json::Value,
    ) -> Result<()> {
        if let (Some(obj), Ok(by)) = (detail.as_object_mut(), std::env::var("SUDO_USER")) {
            if !by.is_empty() {
                obj.insert("sudo_user".into(), by.into());
            }
        }
        self.audit
            .record(
                audit::Event::new(action, target)
                    .by(&self.actor)
                    .detail(detail),
            )
            .with_context(|| format!("recording {action} in the audit trail"))?;
        Ok(())
    }

    /// Commits what was recorded and seals the chain's head.
    pub fn close(self) -> Result<()> {
        self.audit
            .close()
            .context("committing the audit trail (the change itself was made)")
    }
}

/// `cli:<name of the user running the command>` (`cli:uid<N>` when the name is unknown).
pub fn cli_actor() -> String {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    // SAFETY: passwd is plain data (integers and pointers); all zeros is a valid value.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, writable memory of the given size; on success
    // `pwd`'s strings point into `buf`, read before `buf` is dropped.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    let name = if rc == 0 && !found.is_null() && !pwd.pw_name.is_null() {
        // SAFETY: a NUL-terminated string inside `buf`, per getpwuid_r's contract.
        unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned()
    } else {
        format!("uid{uid}")
    };
    format!("cli:{name}")
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

/// What the recorder last put in a `storage.seal` event: when, and each stream's sealed
/// head (sequence number), so that a seal names only the heads that moved and comes at
/// most every [`audit::SEAL_INTERVAL`].
#[derive(Debug, Default)]
pub struct StorageSeals {
    last: Option<std::time::Instant>,
    heads: HashMap<i64, i64>,
}

/// After a retention run: a `retention.delete` summary when footage was deleted, and — at
/// most every [`audit::SEAL_INTERVAL`] — a `storage.seal` event with the chain head of
/// every stream whose head moved since the last one ([`storage_seal`]).
pub fn retention_events(
    audit: &audit::Audit,
    store: &store::Store,
    r: &store::RetentionReport,
    seals: &mut StorageSeals,
) {
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
    if seals
        .last
        .is_none_or(|t| t.elapsed() >= audit::SEAL_INTERVAL)
    {
        storage_seal(audit, store, seals);
    }
}

/// Writes a `storage.seal` event with the chain head (newest segment's sequence number and
/// chain value, [`store::Store::chain_heads`]) of every stream whose head moved since the
/// last one, so the next audit seal covers the store's chains: rewriting the newest index
/// rows (even with `next_seq`) later no longer goes unnoticed ([`sealed_chain_problems`],
/// run by `vigil verify-storage`). The recorder calls it after retention runs (throttled)
/// and once at stop, after the last segments closed. About 100 bytes per moved stream.
pub fn storage_seal(audit: &audit::Audit, store: &store::Store, seals: &mut StorageSeals) {
    match storage_seal_detail(store, &seals.heads) {
        Ok(Some((detail, heads))) => {
            audit.note(audit::Event::new("storage.seal", "storage").detail(detail));
            seals.heads.extend(heads);
        }
        Ok(None) => {}
        Err(e) => warn!("reading the store's chain heads for the audit seal: {e:#}"),
    }
    seals.last = Some(std::time::Instant::now());
}

/// A `storage.seal` event's detail and the (stream, seq) heads it seals.
pub type SealDetail = (serde_json::Value, Vec<(i64, i64)>);

/// The detail of a `storage.seal` event, `{"streams": [{stream, seq, chain}, …]}`, for the
/// streams whose head is not `sealed` already, with those heads; `None` when none moved.
pub fn storage_seal_detail(
    store: &store::Store,
    sealed: &HashMap<i64, i64>,
) -> Result<Option<SealDetail>> {
    let heads: Vec<_> = store
        .chain_heads()?
        .into_iter()
        .filter(|h| sealed.get(&h.stream_id) != Some(&h.seq))
        .collect();
    if heads.is_empty() {
        return Ok(None);
    }
    let streams: Vec<_> = heads
        .iter()
        .map(|h| json!({ "stream": h.stream_id, "seq": h.seq, "chain": hex_of(&h.chain) }))
        .collect();
    Ok(Some((
        json!({ "streams": streams }),
        heads.iter().map(|h| (h.stream_id, h.seq)).collect(),
    )))
}

/// What [`sealed_chain_problems`] compared and found.
#[derive(Debug, Default)]
pub struct SealCheck {
    /// `storage.seal` events read that carry chain values.
    pub seals: u64,
    /// Audit sequence numbers of the newest and the oldest of them.
    pub newest: Option<u64>,
    pub oldest: Option<u64>,
    pub problems: Vec<store::Problem>,
}

/// Compares the store's chains with every `storage.seal` event of the audit trail in `db`
/// (newest first, read in pages): a sealed segment whose chain value is no longer what the
/// store holds at that sequence number (or that vanished without a retention record) means
/// the index was rewritten after that seal — also when `next_seq` was rewritten with it,
/// which [`store::Store::verify_storage`] alone cannot see. Every seal counts, not only the
/// newest: a rewrite is sealed again by the next retention run, but the seals before it
/// still hold the original values. One problem per segment. Whether the audit trail itself
/// is intact is `vigil audit verify`'s question.
pub fn sealed_chain_problems(store: &store::Store, db: &Path) -> Result<SealCheck> {
    const PAGE: usize = 500;
    let mut out = SealCheck::default();
    let mut seen: HashSet<u64> = HashSet::new();
    // The last (seq, chain) compared per stream: an idle stream's head is sealed again and
    // again, and needs one look.
    let mut last: HashMap<i64, (i64, String)> = HashMap::new();
    let mut reported: HashSet<(i64, i64)> = HashSet::new();
    let mut to_ms = None;
    loop {
        let filter = audit::Filter {
            action: Some("storage.seal".into()),
            to_ms,
            limit: PAGE,
            ..Default::default()
        };
        let rows = match audit::query_db(db, &filter) {
            Ok(rows) => rows,
            // A database from before the audit trail existed has no table to read.
            Err(audit::AuditError::Db { source, .. })
                if source.to_string().contains("no such table") =>
            {
                Vec::new()
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading storage seals from {}", db.display()))
            }
        };
        let full = rows.len() == PAGE;
        let mut fresh = 0usize;
        let mut oldest_ms = i64::MAX;
        for ev in rows {
            oldest_ms = oldest_ms.min(ev.time_ms);
            if !seen.insert(ev.seq) {
                continue;
            }
            fresh += 1;
            let detail: serde_json::Value = serde_json::from_str(&ev.detail)
                .with_context(|| format!("audit event {} is not JSON", ev.seq))?;
            let mut with_chain = false;
            for s in detail["streams"].as_array().into_iter().flatten() {
                let (Some(stream), Some(seq), Some(sealed)) =
                    (s["stream"].as_i64(), s["seq"].as_i64(), s["chain"].as_str())
                else {
                    continue; // a seal written before chain values were sealed
                };
                with_chain = true;
                let sealed = sealed.to_ascii_lowercase();
                if last.get(&stream) == Some(&(seq, sealed.clone()))
                    || reported.contains(&(stream, seq))
                {
                    continue;
                }
                last.insert(stream, (seq, sealed.clone()));
                let problem = |detail: String| store::Problem {
                    kind: store::ProblemKind::ChainBroken,
                    stream_id: Some(stream),
                    segment_id: None,
                    seq: Some(seq),
                    path: None,
                    start: None,
                    end: None,
                    detail,
                };
                let sealed_at = audit::format_ms(ev.time_ms);
                let found = match store.chain_at(stream, seq)? {
                    store::verify::ChainAt::Segment(c) | store::verify::ChainAt::Cut(c)
                        if hex_of(&c) != sealed =>
                    {
                        Some(problem(format!(
                            "its chain value {} differs from the one sealed in audit event {} \
                             at {sealed_at} ({sealed}): the index was rewritten after the seal",
                            hex_of(&c),
                            ev.seq
                        )))
                    }
                    store::verify::ChainAt::Missing => Some(problem(format!(
                        "sealed in audit event {} at {sealed_at}, but gone without a retention \
                         record",
                        ev.seq
                    ))),
                    _ => None,
                };
                if let Some(p) = found {
                    reported.insert((stream, seq));
                    out.problems.push(p);
                }
            }
            if with_chain {
                out.seals += 1;
                out.newest = out.newest.max(Some(ev.seq));
                out.oldest = Some(out.oldest.map_or(ev.seq, |o| o.min(ev.seq)));
            }
        }
        if !full || fresh == 0 {
            break;
        }
        // The next page: events up to the oldest time seen (inclusive: others may share it).
        to_ms = Some(oldest_ms.saturating_add(1));
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
    fn every_storage_seal_is_read_across_pages() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store::Store::open(dir.path(), store::StoreOptions::default()).unwrap();
        let db = dir.path().join(store::DB_FILE);
        let au = audit::Audit::open(&db, audit::RecorderKey::from_secret([3; 32])).unwrap();
        let seal = |stream: i64, seq: i64, chain: &str| {
            audit::Event::new("storage.seal", "storage")
                .detail(json!({ "streams": [{ "stream": stream, "seq": seq, "chain": chain }] }))
        };
        // The oldest seal names stream 2; 1 199 later ones stream 1 (the same head).
        au.record(seal(2, 3, &"b".repeat(64))).unwrap();
        for i in 0..1199 {
            au.record(seal(1, 7, &"a".repeat(64))).unwrap();
            if i % 50 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        au.close().unwrap();
        // Neither segment exists in this empty store: both are reported, once each.
        let check = sealed_chain_problems(&store, &db).unwrap();
        assert_eq!(check.seals, 1200);
        assert_eq!((check.oldest, check.newest), (Some(1), Some(1200)));
        let named: Vec<_> = check
            .problems
            .iter()
            .map(|p| (p.stream_id, p.seq))
            .collect();
        assert_eq!(named, vec![(Some(1), Some(7)), (Some(2), Some(3))]);
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert!(parse_time("yesterday").is_err());
    }
}
