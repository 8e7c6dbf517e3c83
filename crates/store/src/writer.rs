//! The writer: one per recorded stream, turning frames into segment files.
//!
//! Frames are buffered (as `Frame` clones: reference counts, no data copies) until the
//! next key frame, or until the fragment reaches [`StoreOptions::fragment_max_duration`]
//! or [`StoreOptions::fragment_max_bytes`]. Then the fragment's sample durations are
//! computed from successive frame times (the last one's from the frame that follows), and
//! the `moof`+`mdat` header and every frame's data go to the file with one vectored write
//! loop; the SHA-256 of the file is updated as the bytes go out, so closing never re-reads.
//!
//! A segment starts at a key frame and ends at the first key frame after the target
//! duration (the first segment of a writer is shortened by `stream_id × 7 s mod target`,
//! so that cameras do not all rotate, and fsync, at the same moment), when the video
//! parameters change, or on a discontinuity (a time jump, time going back beyond B-frame
//! reordering, [`Writer::end_segment`]); a hole follows.
//!
//! Consistency protocol: the segment row is inserted as 'writing' (with its path) before
//! the file is created; at close the file is fdatasynced, its directory fsynced, and only
//! then is the row updated to 'closed' with end, size, frame count, fragment index, file
//! hash and chain value, in one transaction.
//!
//! Write errors (ENOSPC, EIO, a full database) never panic and never block other streams:
//! the segment is brought back to its last complete fragment and closed by the same code
//! that does crash recovery (or, if even that fails, left 'writing' for the next attempt or
//! the next start); the writer then drops frames until a retry backoff has passed and a key
//! frame arrives, and makes room (retention) before it opens the next segment.

use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use media::index::FragmentIndex;
use media::time::TICKS_PER_SEC;
use media::{Frame, Sample, Ticks, VideoParams};
use rusqlite::params;
use sha2::{Digest, Sha256};

use crate::db::{self, Closing};
use crate::error::{DbContext, Error, IoContext, WriteError};
use crate::recovery::{self, WritingRow};
use crate::{Store, StoreOptions, StreamId};

/// Why a segment ends early (for the log; [`Writer::end_segment`] takes any `Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The camera session ended (disconnect, stall, shutdown of the session).
    Disconnect,
    /// The frame times jumped or went backwards.
    Discontinuity,
    /// The camera changed its video parameters.
    ParamsChange,
    /// The recorder is stopping.
    Shutdown,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndReason::Disconnect => "camera disconnected",
            EndReason::Discontinuity => "time discontinuity",
            EndReason::ParamsChange => "video parameters changed",
            EndReason::Shutdown => "shutdown",
        })
    }
}

/// Counters of a writer, for statistics and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub frames_written: u64,
    pub fragments_written: u64,
    pub segments_closed: u64,
    pub bytes_written: u64,
    /// Frames dropped while waiting for the first key frame (of the stream or after a hole).
    pub frames_dropped_waiting_for_key: u64,
    /// Frames dropped while backing off after a write error.
    pub frames_dropped_after_error: u64,
    /// Buffered frames lost because writing their fragment failed.
    pub frames_lost_in_errors: u64,
    pub write_errors: u64,
    pub discontinuities: u64,
}

/// Writes one stream's frames into segments. Not `Clone`; owned by the stream's recorder
/// thread. Obtain with [`Store::writer`]; finish with [`Writer::close`].
pub struct Writer {
    store: Store,
    stream: StreamId,
    opts: StoreOptions,
    dir: PathBuf,
    seg: Option<OpenSegment>,
    /// The current fragment's frames, in decode order.
    pending: Vec<Frame>,
    pending_bytes: usize,
    /// A segment a write error interrupted that is not closed yet.
    broken: Option<WritingRow>,
    /// Whether the next segment is this writer's first (staggered).
    first_segment: bool,
    /// Frame duration used when none can be measured (the last measured one).
    last_duration: u32,
    /// Composition offset shift needed by B-frames seen so far.
    reorder_shift: i64,
    /// Set after a write error: frames are refused until this instant and a key frame.
    backoff_until: Option<Instant>,
    consecutive_failures: u32,
    /// Size of the last closed segment: how much room to make for the next.
    last_segment_bytes: u64,
    params_cache: Option<(Arc<VideoParams>, i64)>,
    stats: WriterStats,
    // Scratch buffers reused for every fragment.
    header: Vec<u8>,
    order: Vec<Ticks>,
}

struct OpenSegment {
    row: WritingRow,
    file: File,
    params: Arc<VideoParams>,
    /// Target end: the segment is cut at the first key frame at or after it.
    target_end: Ticks,
    bytes: u64,
    hasher: Sha256,
    fragments: Vec<FragmentIndex>,
    frames: u64,
    /// Decode time of the next fragment, ticks from the segment's start.
    decode_time: i64,
    fragment_seq: u32,
    /// Composition offset shift of this segment (B-frames), fixed at its first fragment.
    shift: Option<i64>,
    /// Greatest frame time seen in the segment.
    max_time: Ticks,
    /// `decode_time` when the file was last fdatasynced.
    synced_until: i64,
}

impl Store {
    /// Opens the writer of a stream. Only one writer per stream may exist at a time. A
    /// segment left 'writing' by an earlier writer of this stream (that was dropped without
    /// [`Writer::close`]) is recovered first, as at start-up.
    pub fn writer(&self, stream: StreamId) -> Result<Writer, Error> {
        if !self.is_owner() {
            return Err(Error::NotOwner {
                what: "write footage",
            });
        }
        self.stream(stream)?;
        {
            let mut w = self.inner.writers.lock().unwrap_or_else(|p| p.into_inner());
            if !w.insert(stream) {
                return Err(Error::WriterBusy(stream));
            }
        }
        let mut writer = Writer {
            store: self.clone(),
            stream,
            opts: self.inner.options.clone(),
            dir: self.root().join("streams").join(stream.to_string()),
            seg: None,
            pending: Vec::with_capacity(128),
            pending_bytes: 0,
            broken: None,
            first_segment: true,
            last_duration: (TICKS_PER_SEC / 15) as u32,
            reorder_shift: 0,
            backoff_until: None,
            consecutive_failures: 0,
            last_segment_bytes: 0,
            params_cache: None,
            stats: WriterStats::default(),
            header: Vec::with_capacity(4096),
            order: Vec::with_capacity(128),
        };
        // Segments left 'writing' by a writer of this stream that vanished (this is the
        // only writer now): recover them like at start-up.
        for row in recovery::writing_rows(self, Some(stream))? {
            recovery::recover_segment(self, &row)?;
        }
        writer.last_segment_bytes = self.last_segment_bytes(stream)?;
        Ok(writer)
    }

    fn last_segment_bytes(&self, stream: StreamId) -> Result<u64, Error> {
        let v: Option<i64> = self
            .conn()
            .query_row(
                "SELECT bytes FROM segment WHERE stream_id = ?1 AND state = 'closed' \
                 ORDER BY seq DESC LIMIT 1",
                [stream],
                |r| r.get(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .ctx(|| format!("reading the last segment of stream {stream}"))?;
        Ok(v.unwrap_or(0).max(0) as u64)
    }
}

impl Writer {
    pub fn stream_id(&self) -> StreamId {
        self.stream
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Whether a segment is open (being written).
    pub fn is_recording(&self) -> bool {
        self.seg.is_some()
    }

    /// Adds a frame. Frames before the first key frame (of the writer, or after a hole or
    /// an error) are dropped and counted. On a write error the segment has already been
    /// closed at its last complete fragment when this returns; keep pushing frames.
    pub fn push(&mut self, frame: &Frame) -> Result<(), WriteError> {
        self.push_inner(frame).map_err(|source| WriteError {
            stream: self.stream,
            source,
        })
    }

    fn push_inner(&mut self, frame: &Frame) -> Result<(), Error> {
        if let Some(until) = self.backoff_until {
            if !frame.is_key || Instant::now() < until {
                self.stats.frames_dropped_after_error += 1;
                return Ok(());
            }
            self.backoff_until = None;
        }
        if let Some(seg) = &self.seg {
            let discontinuity = frame.time > seg.max_time + self.opts.max_frame_gap
                || frame.time < seg.max_time - self.opts.max_reorder;
            let params_changed =
                !Arc::ptr_eq(&frame.params, &seg.params) && *frame.params != *seg.params;
            if discontinuity || params_changed {
                let reason = if params_changed {
                    EndReason::ParamsChange
                } else {
                    self.stats.discontinuities += 1;
                    EndReason::Discontinuity
                };
                tracing::info!(
                    stream = self.stream,
                    ?reason,
                    time = frame.time,
                    last = seg.max_time,
                    "ending segment"
                );
                self.finish_segment(None)?;
            }
        }
        if self.seg.is_none() {
            if !frame.is_key {
                self.stats.frames_dropped_waiting_for_key += 1;
                return Ok(());
            }
            self.open_segment(frame)?;
        } else if frame.is_key {
            if !self.pending.is_empty() {
                self.flush_fragment(Some(frame.time))?;
            }
            let seg = self.seg.as_ref().expect("segment is open");
            if frame.time >= seg.target_end {
                self.finish_segment(Some(frame.time))?;
                self.open_segment(frame)?;
            }
        } else if let Some(first) = self.pending.first() {
            if frame.time - first.time >= self.opts.fragment_max_duration
                || self.pending_bytes + frame.data.len() > self.opts.fragment_max_bytes
            {
                self.flush_fragment(Some(frame.time))?;
            }
        }
        let seg = self.seg.as_mut().expect("segment is open");
        seg.max_time = seg.max_time.max(frame.time);
        self.pending_bytes += frame.data.len();
        self.pending.push(frame.clone());
        Ok(())
    }

    /// Writes the buffered frames whose durations are known — all but the newest — as one
    /// fragment, so that a crash of the process loses at most the newest frame. The
    /// recorder calls this after each batch of frames it hands over; fragments then follow
    /// the batches (and never straddle a key frame). With B-frames (times not increasing)
    /// it waits for the fragment's natural end instead.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        let n = self.pending.len();
        if self.seg.is_none() || n < 2 || !self.pending.windows(2).all(|w| w[0].time < w[1].time) {
            return Ok(());
        }
        let newest = self.pending.pop().expect("n >= 2");
        self.pending_bytes -= newest.data.len();
        let r = self.flush_fragment(Some(newest.time));
        if self.seg.is_some() {
            self.pending_bytes += newest.data.len();
            self.pending.push(newest);
        } else {
            self.stats.frames_lost_in_errors += 1;
        }
        r.map_err(|source| WriteError {
            stream: self.stream,
            source,
        })
    }

    /// Ends the open segment (writing what is buffered) because of `reason`; the next
    /// segment starts at the next key frame, after a hole. Use it when the camera session
    /// ends or its clock is reset.
    pub fn end_segment(&mut self, reason: impl std::fmt::Display) -> Result<(), WriteError> {
        if self.seg.is_some() {
            tracing::debug!(stream = self.stream, %reason, "ending segment");
        }
        self.finish_segment(None).map_err(|source| WriteError {
            stream: self.stream,
            source,
        })
    }

    /// Closes the open segment and the writer.
    pub fn close(mut self) -> Result<WriterStats, WriteError> {
        self.end_segment(EndReason::Shutdown)?;
        if let Some(row) = self.broken.take() {
            recovery::recover_segment(&self.store, &row).map_err(|source| WriteError {
                stream: self.stream,
                source,
            })?;
        }
        Ok(self.stats.clone())
    }

    fn sample_entry_id(&mut self, params: &Arc<VideoParams>) -> Result<i64, Error> {
        if let Some((p, id)) = &self.params_cache {
            if Arc::ptr_eq(p, params) || **p == **params {
                return Ok(*id);
            }
        }
        let id = db::sample_entry_id(&self.store.conn(), params)?;
        self.params_cache = Some((params.clone(), id));
        Ok(id)
    }

    /// Opens a new segment starting at key frame `frame`.
    fn open_segment(&mut self, frame: &Frame) -> Result<(), Error> {
        debug_assert!(frame.is_key && self.seg.is_none() && self.pending.is_empty());
        let r = self.try_open_segment(frame);
        if let Err(e) = &r {
            self.failed(e);
        }
        r
    }

    fn try_open_segment(&mut self, frame: &Frame) -> Result<(), Error> {
        if let Some(row) = &self.broken {
            recovery::recover_segment(&self.store, row)?;
            self.broken = None;
        }
        // Keep used bytes within quota + one segment.
        self.store.make_room(self.stream, self.last_segment_bytes)?;
        let sample_entry_id = self.sample_entry_id(&frame.params)?;
        let target = self.opts.segment_duration.max(1);
        let duration = if self.first_segment {
            let stagger = (self.stream * 7 * TICKS_PER_SEC).rem_euclid(target);
            (target - stagger).max(TICKS_PER_SEC.min(target))
        } else {
            target
        };
        let row = {
            let mut conn = self.store.conn();
            let tx = conn
                .transaction()
                .ctx(|| format!("starting a segment of stream {}", self.stream))?;
            let seq: i64 = tx
                .query_row(
                    "UPDATE stream SET next_seq = next_seq + 1 WHERE id = ?1 \
                     RETURNING next_seq - 1",
                    [self.stream],
                    |r| r.get(0),
                )
                .ctx(|| format!("numbering the next segment of stream {}", self.stream))?;
            let rel_path = format!(
                "streams/{}/{}-{seq}.mp4",
                self.stream,
                file_time(frame.time)
            );
            tx.execute(
                "INSERT INTO segment (stream_id, seq, state, path, start, sample_entry_id) \
                 VALUES (?1, ?2, 'writing', ?3, ?4, ?5)",
                params![self.stream, seq, rel_path, frame.time, sample_entry_id],
            )
            .ctx(|| format!("inserting segment {seq} of stream {}", self.stream))?;
            let id = tx.last_insert_rowid();
            tx.commit()
                .ctx(|| format!("inserting segment {seq} of stream {}", self.stream))?;
            WritingRow {
                id,
                stream_id: self.stream,
                seq,
                rel_path,
                start: frame.time,
            }
        };
        // From here on, a failure leaves a 'writing' row that recovery must handle.
        let file = match self.create_file(&row, &frame.params) {
            Ok(f) => f,
            Err(e) => {
                self.broken = Some(row);
                self.recover_broken();
                return Err(e);
            }
        };
        let (file, bytes, hasher) = file;
        tracing::debug!(stream = self.stream, seq = row.seq, path = %row.rel_path, "segment opened");
        self.first_segment = false;
        self.seg = Some(OpenSegment {
            row,
            file,
            params: frame.params.clone(),
            target_end: frame.time + duration,
            bytes,
            hasher,
            fragments: Vec::with_capacity(32),
            frames: 0,
            decode_time: 0,
            fragment_seq: 1,
            shift: None,
            max_time: frame.time,
            synced_until: 0,
        });
        Ok(())
    }

    fn create_file(
        &mut self,
        row: &WritingRow,
        params: &VideoParams,
    ) -> Result<(File, u64, Sha256), Error> {
        if !self.dir.exists() {
            std::fs::create_dir_all(&self.dir).io_ctx("create directory", &self.dir)?;
            db::fsync_dir(&self.store.root().join("streams"))?;
        }
        let path = self.store.root().join(&row.rel_path);
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .io_ctx("create segment file", &path)?;
        let init = media::fmp4::init_segment(params);
        file.write_all(&init).io_ctx("write", &path)?;
        let mut hasher = Sha256::new();
        hasher.update(&init);
        Ok((file, init.len() as u64, hasher))
    }

    /// Writes the buffered frames as one fragment. `next_time` is the time of the frame
    /// that follows (the last frame's duration), if known.
    fn flush_fragment(&mut self, next_time: Option<Ticks>) -> Result<(), Error> {
        let r = self.try_flush_fragment(next_time);
        if let Err(e) = &r {
            self.stats.frames_lost_in_errors += self.pending.len() as u64;
            self.pending.clear();
            self.pending_bytes = 0;
            self.abandon_segment();
            self.failed(e);
        }
        r
    }

    fn try_flush_fragment(&mut self, next_time: Option<Ticks>) -> Result<(), Error> {
        let seg = self.seg.as_mut().expect("flush with an open segment");
        let n = self.pending.len();
        if n == 0 {
            return Ok(());
        }
        // Decode times are the sorted presentation times (frames arrive in decode order;
        // with B-frames their times are not monotonic).
        self.order.clear();
        self.order.extend(self.pending.iter().map(|f| f.time));
        self.order.sort_unstable();
        let last = self.order[n - 1];
        let mut samples = Vec::with_capacity(n);
        let mut min_off = 0i64;
        for (i, f) in self.pending.iter().enumerate() {
            let d = if i + 1 < n {
                self.order[i + 1] - self.order[i]
            } else {
                match next_time {
                    Some(t) if t > last => t - last,
                    _ => i64::from(self.last_duration),
                }
            };
            let off = f.time - self.order[i];
            min_off = min_off.min(off);
            samples.push(Sample {
                duration: d.clamp(0, i64::from(u32::MAX)) as u32,
                size: u32::try_from(f.data.len()).unwrap_or(u32::MAX),
                is_key: f.is_key,
                composition_offset: off as i32,
            });
        }
        if n >= 2 {
            self.last_duration = samples[n - 2].duration.max(1);
        } else if next_time.is_some() {
            self.last_duration = samples[0].duration.max(1);
        }
        // Composition offsets must be ≥ 0: shift them all by the reorder depth. The shift
        // is fixed per segment at its first fragment (a later, deeper reordering is clamped
        // and raises the shift of the next segment).
        self.reorder_shift = self.reorder_shift.max(-min_off);
        let shift = *seg.shift.get_or_insert(self.reorder_shift);
        if shift > 0 || min_off < 0 {
            for s in &mut samples {
                s.composition_offset = (i64::from(s.composition_offset) + shift).max(0) as i32;
            }
        }
        self.header.clear();
        media::fmp4::fragment_header_into(
            &mut self.header,
            seg.fragment_seq,
            seg.decode_time.max(0) as u64,
            &samples,
        );
        let path = self.store.root().join(&seg.row.rel_path);
        {
            let mut bufs: Vec<IoSlice<'_>> = Vec::with_capacity(n + 1);
            bufs.push(IoSlice::new(&self.header));
            bufs.extend(self.pending.iter().map(|f| IoSlice::new(&f.data)));
            write_all_vectored(&mut seg.file, &mut bufs).io_ctx("write", &path)?;
        }
        if let Some(interval) = self.opts.sync_interval {
            if seg.decode_time - seg.synced_until >= interval {
                seg.file.sync_data().io_ctx("fdatasync", &path)?;
                seg.synced_until = seg.decode_time;
            }
        }
        seg.hasher.update(&self.header);
        for f in &self.pending {
            seg.hasher.update(&f.data);
        }
        let total = self.header.len() as u64 + self.pending_bytes as u64;
        let duration: i64 = samples.iter().map(|s| i64::from(s.duration)).sum();
        seg.fragments.push(FragmentIndex {
            offset: seg.bytes,
            data_offset: seg.bytes + self.header.len() as u64,
            start: seg.decode_time,
            samples,
        });
        seg.bytes += total;
        seg.decode_time += duration;
        seg.frames += n as u64;
        seg.fragment_seq = seg.fragment_seq.wrapping_add(1);
        self.stats.frames_written += n as u64;
        self.stats.fragments_written += 1;
        self.stats.bytes_written += total;
        self.pending.clear();
        self.pending_bytes = 0;
        Ok(())
    }

    /// Writes what is buffered and closes the open segment (if any).
    fn finish_segment(&mut self, next_time: Option<Ticks>) -> Result<(), Error> {
        if self.seg.is_none() {
            return Ok(());
        }
        if !self.pending.is_empty() {
            self.flush_fragment(next_time)?;
        }
        let seg = self.seg.take().expect("segment is open");
        if seg.fragments.is_empty() {
            // Nothing but the init segment: not worth keeping.
            self.broken = Some(seg.row);
            self.recover_broken();
            return Ok(());
        }
        let r = self.close_file(seg);
        match r {
            Ok(()) => {
                self.consecutive_failures = 0;
                self.store.set_failing(self.stream, None);
                Ok(())
            }
            Err(e) => {
                self.failed(&e);
                Err(e)
            }
        }
    }

    fn close_file(&mut self, seg: OpenSegment) -> Result<(), Error> {
        let path = self.store.root().join(&seg.row.rel_path);
        let synced = seg
            .file
            .sync_data()
            .io_ctx("fdatasync", &path)
            .and_then(|()| db::fsync_dir(&self.dir));
        if let Err(e) = synced {
            // What is on disk is uncertain: let recovery re-read the file.
            self.broken = Some(seg.row);
            self.recover_broken();
            return Err(e);
        }
        drop(seg.file);
        let fragments = media::index::encode(&seg.fragments);
        let file_sha256: [u8; 32] = seg.hasher.finalize().into();
        let closing = Closing {
            id: seg.row.id,
            stream_id: self.stream,
            seq: seg.row.seq,
            start: seg.row.start,
            end: seg.row.start + seg.decode_time,
            bytes: seg.bytes,
            frames: seg.frames,
            fragments: &fragments,
            file_sha256,
        };
        let r = db::close_segment(&mut self.store.conn(), &closing);
        if let Err(e) = r {
            // The file is complete and synced; the row stays 'writing' until a later
            // attempt (before the next segment) or the next start's recovery indexes it.
            self.broken = Some(seg.row);
            return Err(e);
        }
        self.last_segment_bytes = seg.bytes;
        self.stats.segments_closed += 1;
        tracing::debug!(
            stream = self.stream,
            seq = seg.row.seq,
            bytes = seg.bytes,
            frames = seg.frames,
            "segment closed"
        );
        Ok(())
    }

    /// After a failed write: the open segment goes back to its last complete fragment and
    /// is closed by recovery (or stays 'writing' for a later attempt).
    fn abandon_segment(&mut self) {
        if let Some(seg) = self.seg.take() {
            drop(seg.file);
            self.broken = Some(seg.row);
            self.recover_broken();
        }
    }

    /// Tries to close the broken segment now; on failure it stays for later.
    fn recover_broken(&mut self) {
        if let Some(row) = &self.broken {
            match recovery::recover_segment(&self.store, row) {
                Ok(outcome) => {
                    tracing::info!(
                        stream = self.stream,
                        seq = row.seq,
                        ?outcome,
                        "interrupted segment closed"
                    );
                    self.broken = None;
                }
                Err(e) => {
                    tracing::warn!(stream = self.stream, seq = row.seq, error = %e, "cannot close the interrupted segment yet; will retry");
                }
            }
        }
    }

    fn failed(&mut self, e: &Error) {
        self.stats.write_errors += 1;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let factor = 1u32 << self.consecutive_failures.saturating_sub(1).min(4);
        let backoff = self.opts.retry_backoff.saturating_mul(factor);
        self.backoff_until = Some(Instant::now() + backoff);
        self.pending.clear();
        self.pending_bytes = 0;
        self.store.set_failing(self.stream, Some(e));
        tracing::error!(
            stream = self.stream,
            error = %e,
            retry_in = ?backoff,
            "recording failed; retrying at a key frame after the backoff"
        );
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // A writer dropped without `close` leaves its segment 'writing'; the next writer of
        // this stream (or the next start) recovers it.
        let mut w = self
            .store
            .inner
            .writers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        w.remove(&self.stream);
    }
}

/// Writes every buffer, looping over partial writes.
fn write_all_vectored(file: &mut File, mut bufs: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    // Bounded: every iteration writes at least one byte or returns.
    while !bufs.is_empty() {
        match file.write_vectored(bufs) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "the file accepted no more bytes",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `YYYYMMDD-HHMMSS` (UTC) of a wall time, for file names.
pub(crate) fn file_time(t: Ticks) -> String {
    let secs = t.div_euclid(TICKS_PER_SEC);
    let (y, m, d) = media::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewCamera;

    fn params() -> Arc<VideoParams> {
        Arc::new(VideoParams {
            codec: media::Codec::H264,
            width: 320,
            height: 240,
            rfc6381: "avc1.42C01E".into(),
            sample_entry: media::h264::sample_entry_avc1(
                &[0x67, 0x42, 0xc0, 0x1e],
                &[0x68, 0xce],
                320,
                240,
            ),
        })
    }

    /// B-frames: frames arrive in decode order with non-monotonic times. Decode times are
    /// the sorted presentation times and composition offsets are shifted to be ≥ 0.
    #[test]
    fn b_frames_get_sorted_decode_times_and_non_negative_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(
            dir.path(),
            StoreOptions {
                segment_duration: 60 * TICKS_PER_SEC,
                ..StoreOptions::default()
            },
        )
        .unwrap();
        let cam = store
            .add_camera(NewCamera {
                name: "b".into(),
                main_url: "rtsp://127.0.0.1/b".into(),
                ..NewCamera::default()
            })
            .unwrap();
        let stream = store.streams().unwrap()[0].id;
        assert_eq!(store.streams().unwrap()[0].camera_id, cam);
        let mut w = store.writer(stream).unwrap();
        let p = params();
        let t0 = 1_000_000 * TICKS_PER_SEC;
        let ft = TICKS_PER_SEC / 15;
        // Display order I0 B1 B2 P3 …, decode order I0 P3 B1 B2 P6 B4 B5 …; 2 GOPs of 30.
        let mut order = Vec::new();
        for gop in 0..2 {
            let base = gop * 30;
            order.push(base);
            let mut i = 1;
            while i + 2 < 30 {
                order.extend([base + i + 2, base + i, base + i + 1]);
                i += 3;
            }
            for j in i..30 {
                order.push(base + j);
            }
        }
        for &n in &order {
            w.push(&Frame {
                time: t0 + n * ft,
                is_key: n % 30 == 0,
                data: bytes::Bytes::from(vec![0u8, 0, 0, 2, 0x65, n as u8]),
                params: p.clone(),
                loss: 0,
            })
            .unwrap();
        }
        w.close().unwrap();
        let segs = store.segments(stream, 0, i64::MAX).unwrap();
        assert_eq!(segs.len(), 1);
        let s = &segs[0];
        assert_eq!((s.start, s.end, s.frames), (t0, t0 + 60 * ft, 60));
        let mut decode = 0i64;
        let mut shift = None;
        for f in &s.fragments {
            assert_eq!(f.start, decode);
            for (k, smp) in f.samples.iter().enumerate() {
                assert_eq!(i64::from(smp.duration), ft);
                assert!(smp.composition_offset >= 0);
                // Presentation time = decode + offset − shift = the frame's own time.
                let shift = *shift.get_or_insert(i64::from(smp.composition_offset));
                let n = order[(decode / ft) as usize];
                assert_eq!(
                    decode + i64::from(smp.composition_offset) - shift,
                    n * ft,
                    "sample {k}"
                );
                decode += i64::from(smp.duration);
            }
        }
        assert_eq!(shift, Some(ft), "one frame of reordering");
    }

    #[test]
    fn file_names_use_utc_start_time() {
        // 2024-05-01T07:30:05Z
        assert_eq!(file_time(1_714_548_605 * TICKS_PER_SEC), "20240501-073005");
    }
}
