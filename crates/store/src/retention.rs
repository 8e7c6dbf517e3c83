//! Retention: the only way footage leaves the store.
//!
//! Per stream, the oldest closed segments are deleted first while the stream uses more
//! than its byte quota or while they ended more than `max_days` ago — except segments
//! that overlap an active hold, which stay past both limits until the hold is released.
//! (The byte quota wins over `min_days`: the disk must never fill. The forecast in
//! [`StreamUsage`] raises an [`Alarm`] well before the quota can no longer keep
//! `min_days`.)
//!
//! Deletion follows the garbage protocol: in one transaction, a `retention_cut` row per
//! run of consecutive deleted segments (carrying the chain value of the run's last
//! segment, so verification continues across it), a `garbage` row per file, and the
//! deletion of the segment rows; after the commit the files are unlinked, their
//! directories fsynced and the garbage rows deleted. A crash in between is finished by the
//! next start's recovery.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use media::time::TICKS_PER_SEC;
use media::Ticks;

use crate::camera::{CameraId, StreamKind};
use crate::db::{self, blob32, now_secs};
use crate::error::{DbContext, Error};
use crate::{Store, StreamId};

/// 90 kHz ticks in a day.
pub const TICKS_PER_DAY: Ticks = 86_400 * TICKS_PER_SEC;

/// A request to keep footage: of a whole camera (all its streams) or of one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldSpec {
    pub camera_id: Option<CameraId>,
    pub stream_id: Option<StreamId>,
    /// Wall time window, 90 kHz ticks since the epoch, `start < end`.
    pub start: Ticks,
    pub end: Ticks,
    pub reason: String,
    /// The request (e.g. police letter, incident number) this hold serves.
    pub request_ref: Option<String>,
    pub created_by: String,
}

/// A hold, active or released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub id: i64,
    pub camera_id: Option<CameraId>,
    pub stream_id: Option<StreamId>,
    pub start: Ticks,
    pub end: Ticks,
    pub reason: String,
    pub request_ref: Option<String>,
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    pub released_at: Option<i64>,
    pub released_by: Option<String>,
}

/// What one retention pass deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Totals over all streams.
    pub deleted_segments: usize,
    pub deleted_bytes: u64,
    /// Streams where something was deleted or kept by a hold.
    pub streams: Vec<StreamRetention>,
}

/// Retention of one stream in one pass (only streams where something happened).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamRetention {
    pub stream_id: StreamId,
    pub deleted_segments: usize,
    pub deleted_bytes: u64,
    /// Segments that retention would have deleted but a hold keeps.
    pub kept_by_holds: usize,
    /// Bytes still used after the pass.
    pub used_bytes: u64,
}

/// Storage use and forecast of one stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StreamUsage {
    pub stream_id: StreamId,
    pub camera_id: CameraId,
    /// The camera's name.
    pub camera: String,
    pub kind: StreamKind,
    pub used_bytes: u64,
    pub segments: u64,
    /// Start of the oldest footage kept.
    pub oldest: Option<Ticks>,
    /// End of the newest footage.
    pub newest: Option<Ticks>,
    /// Recorded footage in days (sum of segment durations; holes not counted).
    pub recorded_days: f64,
    /// Measured bytes per recorded day over the last 24 h (or all footage if less).
    pub bytes_per_day: Option<f64>,
    /// Days the quota keeps at the measured rate; `None` without quota or measurement.
    pub forecast_days: Option<f64>,
    pub quota_bytes: u64,
    pub min_days: u32,
    pub max_days: u32,
    pub alarm: Option<Alarm>,
}

/// A storage condition that needs someone's attention.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Alarm {
    /// At the measured bitrate the quota keeps fewer days than the minimum: raise the quota,
    /// lower the camera's bitrate, or add disk.
    ForecastBelowMinimum { forecast_days: f64, min_days: u32 },
    /// The stream's writer fails to write (the message says why).
    WriteFailing { error: String, disk_full: bool },
}

impl std::fmt::Display for Alarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Alarm::ForecastBelowMinimum {
                forecast_days,
                min_days,
            } => write!(
                f,
                "the quota keeps only {forecast_days:.1} days at the measured bitrate, below \
                 the {min_days}-day minimum: raise the quota, lower the bitrate or add disk"
            ),
            Alarm::WriteFailing { error, disk_full } => {
                if *disk_full {
                    write!(f, "disk full: {error}")
                } else {
                    write!(f, "recording fails: {error}")
                }
            }
        }
    }
}

struct SegRow {
    id: i64,
    seq: i64,
    path: String,
    start: Ticks,
    end: Ticks,
    bytes: u64,
    chain: Option<Vec<u8>>,
}

#[derive(Clone, Copy)]
enum Mode {
    Retention {
        now: Ticks,
    },
    MakeRoom {
        bytes: u64,
    },
    /// Delete the stream's oldest segment that no hold keeps (the total storage limit).
    Oldest,
}

impl Store {
    /// Applies every stream's retention plan at wall time `now` (see the module doc).
    pub fn run_retention(&self, now: Ticks) -> Result<RetentionReport, Error> {
        if !self.is_owner() {
            return Err(Error::NotOwner {
                what: "run retention",
            });
        }
        let streams: Vec<StreamId> = self.streams()?.into_iter().map(|s| s.id).collect();
        let mut report = RetentionReport::default();
        for s in streams {
            // One stream at a time, so the database lock is held only briefly.
            let r = enforce(self, s, Mode::Retention { now })?;
            if r.deleted_segments > 0 || r.kept_by_holds > 0 {
                report.deleted_segments += r.deleted_segments;
                report.deleted_bytes += r.deleted_bytes;
                report.streams.push(r);
            }
        }
        Ok(report)
    }

    /// Deletes a stream's oldest footage (by the retention rules, holds respected) until
    /// `bytes` more fit in its quota. Writers call it before opening a segment, with the
    /// size of their last segment, so that a stream never uses more than its quota plus
    /// about one segment.
    pub fn make_room(&self, stream: StreamId, bytes: u64) -> Result<StreamRetention, Error> {
        if !self.is_owner() {
            return Err(Error::NotOwner {
                what: "delete footage",
            });
        }
        enforce(self, stream, Mode::MakeRoom { bytes })
    }

    /// Bytes of closed footage of all streams.
    pub fn footage_bytes(&self) -> Result<u64, Error> {
        let n: i64 = self
            .conn()
            .query_row(
                "SELECT COALESCE(SUM(bytes), 0) FROM segment WHERE state = 'closed'",
                [],
                |r| r.get(0),
            )
            .ctx(|| "summing the footage's size".to_string())?;
        Ok(n.max(0) as u64)
    }

    /// Keeps the footage of all streams together within `limit` bytes (the space Vigil may
    /// use on its disk): deletes the oldest segments of any stream, holds respected, through
    /// the same garbage protocol and retention cuts as the per-stream rules. Returns what it
    /// deleted; stops early (and logs) when only held footage is left.
    pub fn enforce_total(&self, limit: u64) -> Result<RetentionReport, Error> {
        if !self.is_owner() {
            return Err(Error::NotOwner {
                what: "delete footage",
            });
        }
        let mut report = RetentionReport::default();
        // Bounded: each pass deletes at least one segment or stops.
        for _ in 0..1_000_000 {
            let (total, oldest): (i64, Option<StreamId>) = {
                let conn = self.conn();
                let total = conn
                    .query_row(
                        "SELECT COALESCE(SUM(bytes), 0) FROM segment WHERE state = 'closed'",
                        [],
                        |r| r.get(0),
                    )
                    .ctx(|| "summing the footage's size".to_string())?;
                let oldest = conn
                    .query_row(
                        "SELECT stream_id FROM segment WHERE state = 'closed' \
                         ORDER BY start LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()
                    .ctx(|| "finding the oldest footage".to_string())?;
                (total, oldest)
            };
            if total.max(0) as u64 <= limit {
                break;
            }
            let Some(stream) = oldest else { break };
            let r = enforce(self, stream, Mode::Oldest)?;
            if r.deleted_segments == 0 {
                tracing::warn!(
                    stream,
                    limit,
                    used = total,
                    "over the storage limit, but the oldest footage is held: release holds or \
                     add disk"
                );
                break;
            }
            report.deleted_segments += r.deleted_segments;
            report.deleted_bytes += r.deleted_bytes;
            report.streams.push(r);
        }
        Ok(report)
    }

    /// Places a hold; returns its id.
    pub fn add_hold(&self, h: &HoldSpec) -> Result<i64, Error> {
        if h.camera_id.is_some() == h.stream_id.is_some() {
            return Err(Error::InvalidHold(
                "a hold is on either a camera or a stream (give exactly one)".into(),
            ));
        }
        if h.end <= h.start {
            return Err(Error::InvalidHold(format!(
                "the hold's end ({}) must be after its start ({})",
                media::time::format_ticks(h.end),
                media::time::format_ticks(h.start)
            )));
        }
        if h.reason.trim().is_empty() || h.created_by.trim().is_empty() {
            return Err(Error::InvalidHold(
                "a hold needs a reason and the name of who places it".into(),
            ));
        }
        let conn = self.conn();
        conn.execute(
            "INSERT INTO hold (camera_id, stream_id, start, \"end\", reason, request_ref, \
             created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                h.camera_id,
                h.stream_id,
                h.start,
                h.end,
                h.reason,
                h.request_ref,
                h.created_by,
                now_secs()
            ],
        )
        .map_err(|e| match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Error::InvalidHold("the camera or stream of the hold does not exist".into())
            }
            _ => Error::Db {
                what: "placing a hold".into(),
                source: e,
            },
        })?;
        let id = conn.last_insert_rowid();
        tracing::info!(hold = id, by = %h.created_by, reason = %h.reason, "hold placed");
        Ok(id)
    }

    /// Releases an active hold; the footage it kept is then subject to retention again.
    pub fn release_hold(&self, id: i64, by: &str) -> Result<(), Error> {
        let n = self
            .conn()
            .execute(
                "UPDATE hold SET released_at = ?2, released_by = ?3 \
                 WHERE id = ?1 AND released_at IS NULL",
                params![id, now_secs(), by],
            )
            .ctx(|| format!("releasing hold {id}"))?;
        if n == 0 {
            return Err(Error::HoldNotFound(id));
        }
        tracing::info!(hold = id, by, "hold released");
        Ok(())
    }

    /// Every hold, newest first (released ones too: they are part of the record).
    pub fn holds(&self) -> Result<Vec<Hold>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, camera_id, stream_id, start, \"end\", reason, request_ref, \
                 created_by, created_at, released_at, released_by FROM hold ORDER BY id DESC",
            )
            .ctx(|| "listing holds".into())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Hold {
                    id: r.get(0)?,
                    camera_id: r.get(1)?,
                    stream_id: r.get(2)?,
                    start: r.get(3)?,
                    end: r.get(4)?,
                    reason: r.get(5)?,
                    request_ref: r.get(6)?,
                    created_by: r.get(7)?,
                    created_at: r.get(8)?,
                    released_at: r.get(9)?,
                    released_by: r.get(10)?,
                })
            })
            .ctx(|| "listing holds".into())?;
        rows.collect::<Result<_, _>>()
            .ctx(|| "listing holds".into())
    }

    /// Storage use, measured rate and retention forecast of every stream at `now`.
    pub fn stream_usage(&self, now: Ticks) -> Result<Vec<StreamUsage>, Error> {
        let streams = self.streams()?;
        let names: std::collections::HashMap<CameraId, String> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare("SELECT id, name FROM camera")
                .ctx(|| "listing camera names".into())?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .ctx(|| "listing camera names".into())?;
            rows.collect::<Result<_, _>>()
                .ctx(|| "listing camera names".into())?
        };
        let mut out = Vec::with_capacity(streams.len());
        for s in streams {
            let (used, segments, oldest, newest, recorded): (
                i64,
                i64,
                Option<i64>,
                Option<i64>,
                i64,
            ) = self
                .conn()
                .query_row(
                    "SELECT COALESCE(SUM(bytes), 0), COUNT(*), MIN(start), MAX(\"end\"), \
                         COALESCE(SUM(\"end\" - start), 0) \
                         FROM segment WHERE stream_id = ?1 AND state = 'closed'",
                    [s.id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .ctx(|| format!("measuring stream {}", s.id))?;
            let (bytes_24, dur_24): (i64, i64) = self
                .conn()
                .query_row(
                    "SELECT COALESCE(SUM(bytes), 0), COALESCE(SUM(\"end\" - start), 0) \
                     FROM segment WHERE stream_id = ?1 AND state = 'closed' AND \"end\" > ?2",
                    params![s.id, now - TICKS_PER_DAY],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ctx(|| format!("measuring stream {}", s.id))?;
            let bytes_per_day =
                (dur_24 > 0).then(|| bytes_24 as f64 * TICKS_PER_DAY as f64 / dur_24 as f64);
            let forecast_days = match (s.quota_bytes, bytes_per_day) {
                (q, Some(bpd)) if q > 0 => crate::plan::forecast_days(q, bpd),
                _ => None,
            };
            let alarm = if let Some((error, disk_full)) = self.failing(s.id) {
                Some(Alarm::WriteFailing { error, disk_full })
            } else {
                match forecast_days {
                    Some(f) if s.record && f < f64::from(s.min_days) => {
                        Some(Alarm::ForecastBelowMinimum {
                            forecast_days: f,
                            min_days: s.min_days,
                        })
                    }
                    _ => None,
                }
            };
            out.push(StreamUsage {
                stream_id: s.id,
                camera_id: s.camera_id,
                camera: names.get(&s.camera_id).cloned().unwrap_or_default(),
                kind: s.kind,
                used_bytes: used.max(0) as u64,
                segments: segments.max(0) as u64,
                oldest,
                newest,
                recorded_days: recorded as f64 / TICKS_PER_DAY as f64,
                bytes_per_day,
                forecast_days,
                quota_bytes: s.quota_bytes,
                min_days: s.min_days,
                max_days: s.max_days,
                alarm,
            });
        }
        Ok(out)
    }
}

fn enforce(store: &Store, stream: StreamId, mode: Mode) -> Result<StreamRetention, Error> {
    let mut conn = store.conn();
    let (camera, quota, max_days): (CameraId, i64, i64) = conn
        .query_row(
            "SELECT camera_id, quota_bytes, max_days FROM stream WHERE id = ?1",
            [stream],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .ctx(|| format!("reading the retention plan of stream {stream}"))?
        .ok_or(Error::StreamNotFound(stream))?;
    let quota = quota.max(0) as u64;
    let segs = closed_segments(&conn, stream)?;
    let holds = active_holds(&conn, stream, camera)?;
    let mut used: u64 = segs.iter().map(|s| s.bytes).sum();
    let extra = match mode {
        Mode::MakeRoom { bytes } => bytes,
        Mode::Retention { .. } | Mode::Oldest => 0,
    };
    let cutoff = match mode {
        Mode::Retention { now } => Some(now - max_days * TICKS_PER_DAY),
        Mode::MakeRoom { .. } | Mode::Oldest => None,
    };
    let oldest = matches!(mode, Mode::Oldest);
    let mut report = StreamRetention {
        stream_id: stream,
        ..Default::default()
    };
    // Runs of consecutive deleted segments: (indices into segs, reasons).
    let mut runs: Vec<(Vec<usize>, bool, bool)> = Vec::new();
    let mut in_run = false;
    for (i, s) in segs.iter().enumerate() {
        let over_quota = (quota > 0 && used.saturating_add(extra) > quota)
            || (oldest && report.deleted_segments == 0);
        let too_old = cutoff.is_some_and(|c| s.end <= c);
        if !over_quota && !too_old {
            break;
        }
        if holds.iter().any(|&(hs, he)| hs < s.end && s.start < he) {
            report.kept_by_holds += 1;
            in_run = false;
            continue;
        }
        if !in_run {
            runs.push((Vec::new(), false, false));
            in_run = true;
        }
        let run = runs.last_mut().expect("a run is open");
        run.0.push(i);
        run.1 |= over_quota;
        run.2 |= too_old;
        used -= s.bytes;
        report.deleted_segments += 1;
        report.deleted_bytes += s.bytes;
    }
    report.used_bytes = used;
    if runs.is_empty() {
        return Ok(report);
    }
    let tx = conn
        .transaction()
        .ctx(|| format!("deleting old footage of stream {stream}"))?;
    let now_s = now_secs();
    for (idx, by_quota, by_age) in &runs {
        let first = &segs[idx[0]];
        let last = &segs[*idx.last().expect("run is not empty")];
        let chain = blob32(last.chain.clone()).unwrap_or(db::GENESIS);
        let reason = match (by_quota, by_age) {
            _ if oldest => "storage limit",
            (true, true) => "quota, max_days",
            (true, false) => "quota",
            _ => "max_days",
        };
        let bytes: u64 = idx.iter().map(|&i| segs[i].bytes).sum();
        tx.execute(
            "INSERT INTO retention_cut (stream_id, from_seq, up_to_seq, chain_at_cut, segments, \
             bytes, start, \"end\", reason, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                stream,
                first.seq,
                last.seq,
                &chain[..],
                idx.len() as i64,
                bytes as i64,
                first.start,
                last.end,
                reason,
                now_s
            ],
        )
        .ctx(|| format!("recording the retention cut of stream {stream}"))?;
        for &i in idx {
            db::add_garbage(&tx, &segs[i].path, stream)?;
            tx.execute("DELETE FROM segment WHERE id = ?1", [segs[i].id])
                .ctx(|| format!("deleting segment {} of stream {stream}", segs[i].seq))?;
        }
    }
    tx.commit()
        .ctx(|| format!("deleting old footage of stream {stream}"))?;
    db::collect_garbage(&conn, store.root())?;
    tracing::info!(
        stream,
        segments = report.deleted_segments,
        bytes = report.deleted_bytes,
        kept_by_holds = report.kept_by_holds,
        "retention deleted footage"
    );
    Ok(report)
}

fn closed_segments(conn: &Connection, stream: StreamId) -> Result<Vec<SegRow>, Error> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, seq, path, start, \"end\", bytes, chain FROM segment \
             WHERE stream_id = ?1 AND state = 'closed' ORDER BY seq",
        )
        .ctx(|| format!("listing segments of stream {stream}"))?;
    let rows = stmt
        .query_map([stream], |r| {
            Ok(SegRow {
                id: r.get(0)?,
                seq: r.get(1)?,
                path: r.get(2)?,
                start: r.get(3)?,
                end: r.get(4)?,
                bytes: r.get::<_, i64>(5)?.max(0) as u64,
                chain: r.get(6)?,
            })
        })
        .ctx(|| format!("listing segments of stream {stream}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing segments of stream {stream}"))
}

fn active_holds(
    conn: &Connection,
    stream: StreamId,
    camera: CameraId,
) -> Result<Vec<(Ticks, Ticks)>, Error> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT start, \"end\" FROM hold WHERE released_at IS NULL \
             AND (stream_id = ?1 OR camera_id = ?2)",
        )
        .ctx(|| format!("listing holds of stream {stream}"))?;
    let rows = stmt
        .query_map(params![stream, camera], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx(|| format!("listing holds of stream {stream}"))?;
    rows.collect::<Result<_, _>>()
        .ctx(|| format!("listing holds of stream {stream}"))
}
