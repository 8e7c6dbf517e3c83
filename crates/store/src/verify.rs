//! Storage verification: re-hash every closed segment file, check it against its row,
//! check each stream's hash chain (across retention cuts), and find files nobody indexed.
//!
//! Problems are reported, never repaired: footage that does not match its record is
//! evidence of a fault or of tampering, and a human must look at it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use media::Ticks;
use rusqlite::params;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{self, blob32};
use crate::error::{DbContext, Error};
use crate::{Store, StreamId};

/// Read buffer for hashing: large, sequential reads.
const READ_BUF: usize = 1 << 20;

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ProblemKind {
    /// The index has the segment; its file is gone.
    Missing,
    /// The file's size or SHA-256 differs from the index.
    Altered,
    /// A file under `streams/` that no segment row (and no pending deletion) knows.
    Unindexed,
    /// A row's chain values do not follow from its predecessor: rows were edited or
    /// removed other than by retention.
    ChainBroken,
}

/// One problem found by [`Store::verify_storage`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub stream_id: Option<StreamId>,
    pub segment_id: Option<i64>,
    pub seq: Option<i64>,
    pub path: Option<PathBuf>,
    pub start: Option<Ticks>,
    pub end: Option<Ticks>,
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.kind)?;
        if let Some(s) = self.stream_id {
            write!(f, " stream {s}")?;
        }
        if let Some(seq) = self.seq {
            write!(f, " segment {seq}")?;
        }
        if let Some(id) = self.segment_id {
            write!(f, " (id {id})")?;
        }
        if let (Some(s), Some(e)) = (self.start, self.end) {
            write!(
                f,
                " {}..{}",
                media::time::format_ticks(s),
                media::time::format_ticks(e)
            )?;
        }
        if let Some(p) = &self.path {
            write!(f, " {}", p.display())?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// The result of a verification.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub segments_checked: u64,
    pub bytes_hashed: u64,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checked {} segments ({} bytes hashed): {}",
            self.segments_checked,
            self.bytes_hashed,
            if self.is_ok() {
                "all intact".to_string()
            } else {
                format!("{} problem(s)", self.problems.len())
            }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

struct Row {
    id: i64,
    stream: StreamId,
    seq: i64,
    closed: bool,
    path: String,
    start: Ticks,
    end: Option<Ticks>,
    bytes: Option<i64>,
    sha: Option<[u8; 32]>,
    prev_chain: Option<[u8; 32]>,
    chain: Option<[u8; 32]>,
}

impl Store {
    /// Verifies all footage (see the module doc). Takes as long as reading every segment
    /// file once; the database is locked only while its rows are loaded.
    pub fn verify_storage(&self) -> Result<VerifyReport, Error> {
        let (rows, cuts, next_seqs, garbage) = self.load_for_verify()?;
        let mut report = VerifyReport::default();
        let mut buf = vec![0u8; READ_BUF];
        let root = self.root().to_owned();

        // Files.
        for r in rows.iter().filter(|r| r.closed) {
            let path = root.join(&r.path);
            let problem = |kind, detail: String| Problem {
                kind,
                stream_id: Some(r.stream),
                segment_id: Some(r.id),
                seq: Some(r.seq),
                path: Some(path.clone()),
                start: Some(r.start),
                end: r.end,
                detail,
            };
            report.segments_checked += 1;
            let mut file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    report.problems.push(problem(
                        ProblemKind::Missing,
                        "the file is indexed but does not exist".into(),
                    ));
                    continue;
                }
                Err(e) => {
                    report
                        .problems
                        .push(problem(ProblemKind::Missing, format!("cannot open: {e}")));
                    continue;
                }
            };
            let mut h = Sha256::new();
            let mut len = 0u64;
            let read = loop {
                match file.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        h.update(&buf[..n]);
                        len += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            report.bytes_hashed += len;
            if let Err(e) = read {
                report.problems.push(problem(
                    ProblemKind::Altered,
                    format!("read error after {len} bytes: {e}"),
                ));
                continue;
            }
            let sha: [u8; 32] = h.finalize().into();
            let want_len = r.bytes.unwrap_or(-1);
            if len as i64 != want_len {
                report.problems.push(problem(
                    ProblemKind::Altered,
                    format!("the file has {len} bytes, the index says {want_len}"),
                ));
            } else if Some(sha) != r.sha {
                report.problems.push(problem(
                    ProblemKind::Altered,
                    format!(
                        "SHA-256 {} differs from the indexed {}",
                        hex::encode(sha),
                        r.sha.map(hex::encode).unwrap_or_else(|| "(none)".into())
                    ),
                ));
            }
        }

        // Chains.
        let by_seq: HashMap<(StreamId, i64), &Row> =
            rows.iter().map(|r| ((r.stream, r.seq), r)).collect();
        for r in rows.iter().filter(|r| r.closed) {
            let chain_problem = |detail: String| Problem {
                kind: ProblemKind::ChainBroken,
                stream_id: Some(r.stream),
                segment_id: Some(r.id),
                seq: Some(r.seq),
                path: Some(root.join(&r.path)),
                start: Some(r.start),
                end: r.end,
                detail,
            };
            let expected = if r.seq <= 1 {
                Some(db::GENESIS)
            } else if let Some(p) = by_seq.get(&(r.stream, r.seq - 1)) {
                p.chain
            } else if let Some(c) = cuts.get(&(r.stream, r.seq - 1)) {
                Some(*c)
            } else {
                report.problems.push(chain_problem(format!(
                    "segment {} before it is gone without a retention record \
                     (deleted other than by retention)",
                    r.seq - 1
                )));
                None
            };
            if expected.is_some() && r.prev_chain != expected {
                report.problems.push(chain_problem(
                    "its previous-chain value does not match the segment before it".into(),
                ));
            }
            let recomputed = match (r.prev_chain, r.end, r.bytes, r.sha) {
                (Some(p), Some(end), Some(bytes), Some(sha)) => Some(db::chain_value(
                    &p,
                    r.stream,
                    r.seq,
                    r.start,
                    end,
                    bytes.max(0) as u64,
                    &sha,
                )),
                _ => None,
            };
            if recomputed.is_none() || recomputed != r.chain {
                report.problems.push(chain_problem(
                    "its chain value does not match its own row (the row was edited)".into(),
                ));
            }
        }
        // The newest segments: rows removed at the end leave no successor to notice.
        for (&stream, &next_seq) in &next_seqs {
            let last = next_seq - 1;
            if last >= 1
                && !by_seq.contains_key(&(stream, last))
                && !cuts.contains_key(&(stream, last))
            {
                report.problems.push(Problem {
                    kind: ProblemKind::ChainBroken,
                    stream_id: Some(stream),
                    segment_id: None,
                    seq: Some(last),
                    path: None,
                    start: None,
                    end: None,
                    detail: format!(
                        "the stream's newest segment {last} is gone without a retention record"
                    ),
                });
            }
        }

        // Unindexed files.
        let known: HashSet<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        let streams_dir = root.join("streams");
        let dirs = std::fs::read_dir(&streams_dir).map_err(|source| Error::Io {
            what: "list".into(),
            path: streams_dir.clone(),
            source,
        })?;
        let mut found = Vec::new();
        for d in dirs.flatten() {
            let dname = d.file_name().to_string_lossy().into_owned();
            let Ok(entries) = std::fs::read_dir(d.path()) else {
                found.push((format!("streams/{dname}"), None));
                continue;
            };
            for e in entries.flatten() {
                let rel = format!("streams/{dname}/{}", e.file_name().to_string_lossy());
                found.push((rel, dname.parse::<StreamId>().ok()));
            }
        }
        found.sort();
        for (rel, stream) in found {
            if !known.contains(rel.as_str()) && !garbage.contains(&rel) {
                report.problems.push(Problem {
                    kind: ProblemKind::Unindexed,
                    stream_id: stream,
                    segment_id: None,
                    seq: None,
                    path: Some(root.join(&rel)),
                    start: None,
                    end: None,
                    detail: "no segment row knows this file".into(),
                });
            }
        }
        for p in &report.problems {
            tracing::warn!(problem = %p, "storage verification");
        }
        Ok(report)
    }

    #[allow(clippy::type_complexity)]
    fn load_for_verify(
        &self,
    ) -> Result<
        (
            Vec<Row>,
            HashMap<(StreamId, i64), [u8; 32]>,
            HashMap<StreamId, i64>,
            HashSet<String>,
        ),
        Error,
    > {
        let conn = self.conn();
        let what = || "loading the index for verification".to_string();
        let mut stmt = conn
            .prepare(
                "SELECT id, stream_id, seq, state, path, start, \"end\", bytes, file_sha256, \
                 prev_chain, chain FROM segment ORDER BY stream_id, seq",
            )
            .ctx(what)?;
        let rows = stmt
            .query_map(params![], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    stream: r.get(1)?,
                    seq: r.get(2)?,
                    closed: r.get::<_, String>(3)? == "closed",
                    path: r.get(4)?,
                    start: r.get(5)?,
                    end: r.get(6)?,
                    bytes: r.get(7)?,
                    sha: blob32(r.get(8)?),
                    prev_chain: blob32(r.get(9)?),
                    chain: blob32(r.get(10)?),
                })
            })
            .ctx(what)?
            .collect::<Result<Vec<_>, _>>()
            .ctx(what)?;
        let mut stmt = conn
            .prepare("SELECT stream_id, up_to_seq, chain_at_cut FROM retention_cut")
            .ctx(what)?;
        let cuts = stmt
            .query_map([], |r| {
                Ok((
                    (r.get::<_, i64>(0)?, r.get::<_, i64>(1)?),
                    blob32(r.get(2)?).unwrap_or(db::GENESIS),
                ))
            })
            .ctx(what)?
            .collect::<Result<HashMap<_, _>, _>>()
            .ctx(what)?;
        let mut stmt = conn.prepare("SELECT id, next_seq FROM stream").ctx(what)?;
        let next = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx(what)?
            .collect::<Result<HashMap<_, _>, _>>()
            .ctx(what)?;
        let mut stmt = conn.prepare("SELECT path FROM garbage").ctx(what)?;
        let garbage = stmt
            .query_map([], |r| r.get(0))
            .ctx(what)?
            .collect::<Result<HashSet<String>, _>>()
            .ctx(what)?;
        Ok((rows, cuts, next, garbage))
    }
}

/// A stream's chain head: its newest closed segment and the chain value there. Sealed into
/// the audit trail (`storage.seal`) so that rewriting the newest rows *and* `next_seq` —
/// which [`Store::verify_storage`] alone cannot notice — is caught later (see
/// [`Store::chain_at`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    pub stream_id: StreamId,
    pub camera_id: crate::CameraId,
    /// The camera's name.
    pub camera: String,
    pub kind: crate::StreamKind,
    pub seq: i64,
    /// End of the segment (wall ticks).
    pub end: Ticks,
    pub bytes: u64,
    pub file_sha256: [u8; 32],
    /// The chain value of segment `seq`.
    pub chain: [u8; 32],
}

/// What the index holds today for segment `seq` of a stream, to compare with a chain value
/// sealed earlier ([`Store::chain_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainAt {
    /// The closed segment's chain value.
    Segment([u8; 32]),
    /// Retention deleted it as the last segment of a run: the cut kept its chain value.
    Cut([u8; 32]),
    /// Retention deleted it inside a run: its chain value was not kept (nothing to compare).
    Deleted,
    /// No closed segment and no retention record covers it: rows were removed or rewritten
    /// other than by the recorder and retention.
    Missing,
}

impl Store {
    /// Every stream's chain head (streams without a closed segment are left out), by stream.
    pub fn chain_heads(&self) -> Result<Vec<ChainHead>, Error> {
        let conn = self.conn();
        let what = || "reading the streams' chain heads".to_string();
        let mut stmt = conn
            .prepare(
                "SELECT s.id, s.camera_id, c.name, s.kind, g.seq, g.\"end\", g.bytes, \
                 g.file_sha256, g.chain \
                 FROM stream s JOIN camera c ON c.id = s.camera_id \
                 JOIN segment g ON g.id = (SELECT id FROM segment \
                     WHERE stream_id = s.id AND state = 'closed' ORDER BY seq DESC LIMIT 1) \
                 ORDER BY s.id",
            )
            .ctx(what)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ChainHead {
                    stream_id: r.get(0)?,
                    camera_id: r.get(1)?,
                    camera: r.get(2)?,
                    kind: if r.get::<_, String>(3)? == "sub" {
                        crate::StreamKind::Sub
                    } else {
                        crate::StreamKind::Main
                    },
                    seq: r.get(4)?,
                    end: r.get::<_, Option<i64>>(5)?.unwrap_or_default(),
                    bytes: r.get::<_, Option<i64>>(6)?.unwrap_or_default().max(0) as u64,
                    file_sha256: blob32(r.get(7)?).unwrap_or(db::GENESIS),
                    chain: blob32(r.get(8)?).unwrap_or(db::GENESIS),
                })
            })
            .ctx(what)?;
        rows.collect::<Result<Vec<_>, _>>().ctx(what)
    }

    /// What the index holds for segment `seq` of `stream` (see [`ChainAt`]).
    pub fn chain_at(&self, stream: StreamId, seq: i64) -> Result<ChainAt, Error> {
        use rusqlite::OptionalExtension;
        let conn = self.conn();
        let what = || format!("reading the chain value of stream {stream} segment {seq}");
        let seg: Option<Option<Vec<u8>>> = conn
            .query_row(
                "SELECT chain FROM segment WHERE stream_id = ?1 AND seq = ?2 AND state = 'closed'",
                params![stream, seq],
                |r| r.get(0),
            )
            .optional()
            .ctx(what)?;
        if let Some(chain) = seg {
            // A closed row without a chain value is itself damage: compare as zeros.
            return Ok(ChainAt::Segment(blob32(chain).unwrap_or(db::GENESIS)));
        }
        let cut: Option<(i64, Vec<u8>)> = conn
            .query_row(
                "SELECT up_to_seq, chain_at_cut FROM retention_cut \
                 WHERE stream_id = ?1 AND from_seq <= ?2 AND ?2 <= up_to_seq \
                 ORDER BY up_to_seq LIMIT 1",
                params![stream, seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ctx(what)?;
        Ok(match cut {
            Some((up_to, chain)) if up_to == seq => {
                ChainAt::Cut(blob32(Some(chain)).unwrap_or(db::GENESIS))
            }
            Some(_) => ChainAt::Deleted,
            None => ChainAt::Missing,
        })
    }
}
