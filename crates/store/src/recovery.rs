//! Crash recovery: what [`crate::Store::open`] does before anything else, and what a
//! writer does with a segment a write error interrupted.
//!
//! 1. Files listed in `garbage` are unlinked (their directories fsynced) and the rows
//!    deleted — finishing deletions a crash interrupted.
//! 2. Every segment row still 'writing' is settled: if its file is missing or holds no
//!    complete fragment, the row (and file) go; otherwise the file is scanned, truncated to
//!    the end of its last complete fragment, fsynced, hashed, and the row is closed with
//!    the scanned index and its chain value — exactly as if the writer had closed it.
//!
//! Files under `streams/` that no row knows are not touched here; `verify` reports them.

use std::path::PathBuf;

use media::index::FragmentIndex;
use rusqlite::params;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{self, Closing};
use crate::error::{DbContext, Error, IoContext};
use crate::{Store, StreamId};

/// A segment row in state 'writing'.
#[derive(Clone, Debug)]
pub(crate) struct WritingRow {
    pub id: i64,
    pub stream_id: StreamId,
    pub seq: i64,
    pub rel_path: String,
    pub start: i64,
}

/// What recovery did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecoveryReport {
    /// Files of interrupted deletions that were removed.
    pub garbage_removed: usize,
    pub segments: Vec<RecoveredSegment>,
}

impl RecoveryReport {
    /// Segments indexed from their files.
    pub fn recovered(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s.outcome, RecoveryOutcome::Indexed { .. }))
            .count()
    }
    /// Bytes cut off the ends of recovered files (incomplete fragments).
    pub fn truncated_bytes(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| match s.outcome {
                RecoveryOutcome::Indexed {
                    truncated_bytes, ..
                } => truncated_bytes,
                _ => 0,
            })
            .sum()
    }
}

/// One 'writing' segment found at recovery.
#[derive(Clone, Debug, Serialize)]
pub struct RecoveredSegment {
    pub stream_id: StreamId,
    pub seq: i64,
    pub path: PathBuf,
    pub outcome: RecoveryOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum RecoveryOutcome {
    /// The file was truncated to its complete fragments and indexed.
    Indexed {
        bytes: u64,
        truncated_bytes: u64,
        frames: u64,
        fragments: usize,
    },
    /// The row was removed: no file, or no complete fragment (the file was deleted too),
    /// or not an fMP4 file (the file is kept and `verify` will report it as unindexed).
    Dropped { reason: String },
}

pub(crate) fn recover(store: &Store) -> Result<RecoveryReport, Error> {
    let mut report = RecoveryReport {
        garbage_removed: db::collect_garbage(&store.conn(), store.root())?,
        segments: Vec::new(),
    };
    for row in writing_rows(store, None)? {
        let outcome = recover_segment(store, &row)?;
        tracing::info!(stream = row.stream_id, seq = row.seq, path = %row.rel_path, ?outcome, "recovered segment");
        report.segments.push(RecoveredSegment {
            stream_id: row.stream_id,
            seq: row.seq,
            path: store.root().join(&row.rel_path),
            outcome,
        });
    }
    if report.garbage_removed > 0 || !report.segments.is_empty() {
        tracing::info!(
            garbage = report.garbage_removed,
            recovered = report.recovered(),
            truncated_bytes = report.truncated_bytes(),
            "crash recovery done"
        );
    }
    Ok(report)
}

pub(crate) fn writing_rows(
    store: &Store,
    stream: Option<StreamId>,
) -> Result<Vec<WritingRow>, Error> {
    let conn = store.conn();
    let mut stmt = conn
        .prepare(
            "SELECT id, stream_id, seq, path, start FROM segment \
             WHERE state = 'writing' AND (?1 IS NULL OR stream_id = ?1) ORDER BY stream_id, seq",
        )
        .ctx(|| "listing segments being written".into())?;
    let rows = stmt
        .query_map([stream], |r| {
            Ok(WritingRow {
                id: r.get(0)?,
                stream_id: r.get(1)?,
                seq: r.get(2)?,
                rel_path: r.get(3)?,
                start: r.get(4)?,
            })
        })
        .ctx(|| "listing segments being written".into())?;
    rows.collect::<Result<_, _>>()
        .ctx(|| "listing segments being written".into())
}

/// Settles one 'writing' segment (see the module doc).
pub(crate) fn recover_segment(store: &Store, row: &WritingRow) -> Result<RecoveryOutcome, Error> {
    let path = store.root().join(&row.rel_path);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return drop_row(store, row, false, "the file does not exist");
        }
        Err(e) => return Err(e).io_ctx("read segment file", &path),
    };
    let scan = match media::fmp4::scan(&data) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "segment file is not Vigil's fMP4; keeping the file, dropping its row");
            return drop_row(store, row, false, &format!("not an fMP4 file: {e}"));
        }
    };
    if scan.fragments.is_empty() {
        return drop_row(store, row, true, "no complete fragment");
    }
    let valid = scan.valid_len;
    let truncated = data.len() as u64 - valid;
    {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .io_ctx("open segment file", &path)?;
        if truncated > 0 {
            f.set_len(valid).io_ctx("truncate", &path)?;
        }
        f.sync_all().io_ctx("fsync", &path)?;
    }
    if let Some(dir) = path.parent() {
        db::fsync_dir(dir)?;
    }
    let file_sha256: [u8; 32] = Sha256::digest(&data[..valid as usize]).into();
    let fragments: Vec<FragmentIndex> = scan
        .fragments
        .into_iter()
        .map(|f| FragmentIndex {
            offset: f.offset,
            data_offset: f.data_offset,
            start: f.base_decode_time as i64,
            samples: f.samples,
        })
        .collect();
    let last = fragments.last().expect("at least one fragment");
    let duration = last.start + last.duration();
    let frames: u64 = fragments.iter().map(|f| f.samples.len() as u64).sum();
    let blob = media::index::encode(&fragments);
    db::close_segment(
        &mut store.conn(),
        &Closing {
            id: row.id,
            stream_id: row.stream_id,
            seq: row.seq,
            start: row.start,
            end: row.start + duration,
            bytes: valid,
            frames,
            fragments: &blob,
            file_sha256,
        },
    )?;
    Ok(RecoveryOutcome::Indexed {
        bytes: valid,
        truncated_bytes: truncated,
        frames,
        fragments: fragments.len(),
    })
}

/// Removes a 'writing' row that holds nothing worth keeping (and, if `delete_file`, its
/// file, through the garbage protocol). Its sequence number is given back when it is the
/// stream's latest; otherwise the gap is recorded as a cut so the chain stays verifiable.
fn drop_row(
    store: &Store,
    row: &WritingRow,
    delete_file: bool,
    reason: &str,
) -> Result<RecoveryOutcome, Error> {
    let mut conn = store.conn();
    let tx = conn
        .transaction()
        .ctx(|| format!("dropping segment {} of stream {}", row.seq, row.stream_id))?;
    if delete_file {
        db::add_garbage(&tx, &row.rel_path, row.stream_id)?;
    }
    tx.execute("DELETE FROM segment WHERE id = ?1", [row.id])
        .ctx(|| format!("dropping segment {} of stream {}", row.seq, row.stream_id))?;
    let rolled_back = tx
        .execute(
            "UPDATE stream SET next_seq = ?2 WHERE id = ?1 AND next_seq = ?2 + 1",
            params![row.stream_id, row.seq],
        )
        .ctx(|| format!("renumbering stream {}", row.stream_id))?;
    if rolled_back == 0 {
        let prev = db::expected_prev_chain(&tx, row.stream_id, row.seq)?.unwrap_or(db::GENESIS);
        tx.execute(
            "INSERT INTO retention_cut (stream_id, from_seq, up_to_seq, chain_at_cut, segments, \
             bytes, start, \"end\", reason, created_at) VALUES (?1, ?2, ?2, ?3, 0, 0, ?4, ?4, ?5, ?6)",
            params![
                row.stream_id,
                row.seq,
                &prev[..],
                row.start,
                format!("recovery: {reason}"),
                db::now_secs()
            ],
        )
        .ctx(|| format!("recording dropped segment {} of stream {}", row.seq, row.stream_id))?;
    }
    tx.commit()
        .ctx(|| format!("dropping segment {} of stream {}", row.seq, row.stream_id))?;
    if delete_file {
        db::collect_garbage(&conn, store.root())?;
    }
    Ok(RecoveryOutcome::Dropped {
        reason: reason.to_owned(),
    })
}
