//! Playback: the `/playback` page and its APIs, all built from the store's index, never by
//! copying segment files.
//!
//! - `GET /api/cameras/{id}/timeline?day=YYYY-MM-DD` — recorded ranges and holes of the
//!   camera's recorded stream on a local day (JSON, ms since the epoch; see [`Timeline`]).
//! - `GET /api/cameras/{id}/fmp4?start=MS[&end=MS]` — for Media Source Extensions: a
//!   chunked stream of an init segment and fragments regrouped from the index (one per GOP,
//!   at most [`MAX_FRAGMENT_TICKS`] long), from the key frame at or before `start`. Decode
//!   time 0 is the first frame's wall time, given in the `X-Vigil-Base` header (ms); the
//!   codec string is in `X-Vigil-Codec`. A hole in the recording is a jump in decode time.
//!   When the parameters change between segments, a new init segment comes first.
//! - `GET /api/cameras/{id}/video.mp4?start=MS&end=MS` — a progressive MP4 of the range
//!   (`store.progressive()`: moov first, sample data as byte ranges of the segment files)
//!   served with HTTP Range (206, `Content-Range`, `Accept-Ranges`), file parts read with
//!   positioned reads.
//!
//! Rights: every request asks `govern::authorize(user, Playback { camera, start, now })`;
//! a guard only gets the recent window and the spans of their active viewing grants (the
//! timeline lists them as `allowed`; the page greys out the rest of the day).

use std::collections::VecDeque;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use maud::{html, PreEscaped};
use media::progressive::{Mp4, Part};
use media::time::TICKS_PER_SEC;
use media::{Sample, Ticks};
use serde::Serialize;
use store::{SegmentInfo, StreamInfo, StreamKind};
use tokio::sync::mpsc;

use crate::i18n::{t, Lang};
use crate::live::{asset, strings_json};
use crate::{ui, AppState, Authed};

/// Longest fragment the fMP4 stream builds (a GOP is cut into pieces of at most this).
pub const MAX_FRAGMENT_TICKS: Ticks = 2 * TICKS_PER_SEC;
/// Longest range one fMP4 request streams (the browser asks again further on).
pub const MAX_FMP4_SPAN: Ticks = 6 * 3600 * TICKS_PER_SEC;
/// Longest range of one progressive MP4.
pub const MAX_MP4_SPAN: Ticks = 24 * 3600 * TICKS_PER_SEC;
/// Most cameras played together.
pub const MAX_CAMERAS: usize = 4;
/// Recorded segments closer than this are one range on the timeline.
const MERGE_GAP: Ticks = TICKS_PER_SEC;
/// Bytes per body chunk read from a segment file.
const CHUNK: u64 = 256 * 1024;
/// Progressive MP4s kept for follow-up Range requests, and for how long.
const MP4_CACHE_ENTRIES: usize = 16;
const MP4_CACHE_TTL: Duration = Duration::from_secs(120);

/// Errors of playback requests.
#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("camera {0} has no recorded stream")]
    NoStream(i64),
    #[error("nothing recorded in the requested range")]
    NoFootage,
    #[error("not allowed")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl PlaybackError {
    fn status(&self) -> StatusCode {
        match self {
            PlaybackError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PlaybackError::NoStream(_) | PlaybackError::NoFootage => StatusCode::NOT_FOUND,
            PlaybackError::Forbidden => StatusCode::FORBIDDEN,
            PlaybackError::Store(store::Error::NoFootage { .. }) => StatusCode::NOT_FOUND,
            PlaybackError::Store(store::Error::CameraNotFound(_)) => StatusCode::NOT_FOUND,
            PlaybackError::Store(store::Error::ParamsChanged { .. }) => StatusCode::CONFLICT,
            PlaybackError::Store(_) | PlaybackError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn into_response_in(self, lang: Lang) -> Response {
        let status = self.status();
        let key = match status {
            StatusCode::NOT_FOUND => "playback.no_footage",
            StatusCode::FORBIDDEN => "playback.forbidden",
            StatusCode::BAD_REQUEST => "playback.error",
            _ => {
                tracing::error!("playback: {self}");
                "playback.error"
            }
        };
        (status, t(lang, key)).into_response()
    }
}

// ---------------------------------------------------------------------------------------
// Days and query strings.

/// `YYYY-MM-DD` → (year, month, day).
pub fn parse_day(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Reject 31 February and the like.
    let days = media::time::days_from_civil(y, m, d);
    (media::time::civil_from_days(days) == (y, m, d)).then_some((y, m, d))
}

/// The wall-time span `[start, end)` (90 kHz ticks) of a local day.
pub fn day_span(day: (i64, u32, u32), utc_offset_minutes: i32) -> (Ticks, Ticks) {
    let secs = media::time::days_from_civil(day.0, day.1, day.2) * 86_400
        - i64::from(utc_offset_minutes) * 60;
    (secs * TICKS_PER_SEC, (secs + 86_400) * TICKS_PER_SEC)
}

/// The local day (`YYYY-MM-DD`) containing wall time `t`.
pub fn local_day(t: Ticks, utc_offset_minutes: i32) -> String {
    let secs = t.div_euclid(TICKS_PER_SEC) + i64::from(utc_offset_minutes) * 60;
    let (y, m, d) = media::time::civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// All values of `key` in a raw query string (percent-decoded).
pub fn query_values(query: Option<&str>, key: &str) -> Vec<String> {
    let Some(q) = query else { return Vec::new() };
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

fn query_ms(query: Option<&str>, key: &str) -> Result<Option<i64>, PlaybackError> {
    match query_values(query, key).first() {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| PlaybackError::BadRequest(format!("{key} must be ms since the epoch"))),
    }
}

// ---------------------------------------------------------------------------------------
// The timeline.

/// The stream playback reads for a camera: its recorded main stream, else its recorded
/// sub-stream, else its main stream (which may have old footage).
pub fn playback_stream(store: &store::Store, camera: i64) -> Result<StreamInfo, PlaybackError> {
    let streams: Vec<StreamInfo> = store
        .streams()?
        .into_iter()
        .filter(|s| s.camera_id == camera)
        .collect();
    let pick = |kind: StreamKind, rec: bool| {
        streams
            .iter()
            .find(|s| s.kind == kind && (s.record || !rec))
            .cloned()
    };
    pick(StreamKind::Main, true)
        .or_else(|| pick(StreamKind::Sub, true))
        .or_else(|| pick(StreamKind::Main, false))
        .ok_or(PlaybackError::NoStream(camera))
}

/// A span of wall time in ms since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

/// What the timeline of one camera and day shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    pub camera: i64,
    pub stream: i64,
    pub day: String,
    /// The day's span (ms).
    pub start: i64,
    pub end: i64,
    /// Now (ms): the timeline ends here for today.
    pub now: i64,
    /// Recorded ranges, oldest first.
    pub ranges: Vec<Span>,
    /// Unrecorded spans between the day's start and `min(end, now)`.
    pub holes: Vec<Span>,
    /// Events (motion, tamper…) once analysis exists.
    pub events: Vec<Span>,
    /// Frames per second of the recording (for stepping one frame).
    pub fps: f64,
    /// When set, the user may play nothing before this time (ms): the start of the first
    /// span of `allowed` (kept for older pages; `allowed` says exactly what may be played).
    pub limited_from: Option<i64>,
    /// The spans of this day (ms, cut to the day, oldest first, overlaps merged) in which the
    /// user may start playback: the recent window of their role and every active viewing
    /// grant for this camera. Empty when the whole day (up to now) may be played.
    pub allowed: Vec<Span>,
}

fn ms(t: Ticks) -> i64 {
    t.div_euclid(90)
}

/// Recorded ranges and holes of `segments` within `[start, end)` (ticks), cut at `now`.
pub fn ranges_and_holes(
    segments: &[SegmentInfo],
    start: Ticks,
    end: Ticks,
    now: Ticks,
) -> (Vec<Span>, Vec<Span>) {
    let stop = end.min(now).max(start);
    let mut ranges: Vec<(Ticks, Ticks)> = Vec::new();
    for s in segments {
        let (a, b) = (s.start.max(start), s.end.min(end));
        if b <= a {
            continue;
        }
        match ranges.last_mut() {
            Some(last) if a - last.1 <= MERGE_GAP => last.1 = last.1.max(b),
            _ => ranges.push((a, b)),
        }
    }
    let mut holes = Vec::new();
    let mut pos = start;
    for &(a, b) in &ranges {
        if a.min(stop) > pos {
            holes.push(Span {
                start: ms(pos),
                end: ms(a.min(stop)),
            });
        }
        pos = pos.max(b);
    }
    if stop > pos + MERGE_GAP {
        holes.push(Span {
            start: ms(pos),
            end: ms(stop),
        });
    }
    let ranges = ranges
        .into_iter()
        .map(|(a, b)| Span {
            start: ms(a),
            end: ms(b),
        })
        .collect();
    (ranges, holes)
}

/// What of `[start, end)` (ticks) `user` may start playback of `camera` in at `now`:
/// `None` when every instant of it that can hold footage (up to `now`) may be played, else
/// the allowed spans cut to `[start, end)`, merged, oldest first — empty when nothing may.
/// Built from `Access::playback_spans` (the role's recent window and every active viewing
/// grant), the spans `govern::authorize` allows a start in.
pub fn allowed_spans(
    user: &govern::User,
    camera: i64,
    start: Ticks,
    end: Ticks,
    now: Ticks,
) -> Option<Vec<(Ticks, Ticks)>> {
    let spans = user.access.playback_spans(camera, now);
    if spans.is_empty() {
        return Some(Vec::new());
    }
    if start > now {
        // A day still to come: nothing recorded that a right could withhold.
        return None;
    }
    let mut merged: Vec<(Ticks, Ticks)> = Vec::new();
    for (a, b) in spans {
        let (a, b) = (a.max(start), b.min(end));
        if b <= a {
            continue;
        }
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    // Starts in [start, need) must be allowed for the whole day: up to now inclusive today,
    // up to the day's end for a past day.
    let need = if now < end { now + 1 } else { end };
    let whole = merged
        .first()
        .is_some_and(|&(a, b)| a <= start && b >= need);
    (!whole).then_some(merged)
}

/// The timeline of `camera` on local `day` as `user` may see it: refused only when the
/// user may play nothing of that camera on that day.
pub fn timeline(
    store: &store::Store,
    user: &govern::User,
    camera: i64,
    day: (i64, u32, u32),
    utc_offset_minutes: i32,
    now: Ticks,
) -> Result<Timeline, PlaybackError> {
    let (start, end) = day_span(day, utc_offset_minutes);
    let allowed: Vec<Span> = match allowed_spans(user, camera, start, end, now) {
        None => Vec::new(),
        Some(spans) if spans.is_empty() => return Err(PlaybackError::Forbidden),
        Some(spans) => spans
            .into_iter()
            .map(|(a, b)| Span {
                start: ms(a),
                // A span ending within a millisecond would vanish: keep it at least 1 ms.
                end: ms(b).max(ms(a) + 1),
            })
            .collect(),
    };
    let limited_from = allowed.first().map(|s| s.start);
    let stream = playback_stream(store, camera)?;
    let segs = store.segments(stream.id, start, end)?;
    let (ranges, holes) = ranges_and_holes(&segs, start, end, now);
    let (frames, ticks) = segs.iter().fold((0u64, 0i64), |(f, d), s| {
        (f + s.frames, d + (s.end - s.start))
    });
    let fps = if ticks > 0 && frames > 1 {
        frames as f64 * TICKS_PER_SEC as f64 / ticks as f64
    } else {
        15.0
    };
    Ok(Timeline {
        camera,
        stream: stream.id,
        day: format!("{:04}-{:02}-{:02}", day.0, day.1, day.2),
        start: ms(start),
        end: ms(end),
        now: ms(now),
        ranges,
        holes,
        events: Vec::new(),
        fps: (fps * 100.0).round() / 100.0,
        limited_from,
        allowed,
    })
}

// ---------------------------------------------------------------------------------------
// fMP4 for Media Source Extensions.

/// The RFC 6381 codec string of an init segment (`avc1.PPCCLL` from its `avcC`; `hvc1` /
/// `hev1` for H.265, which browsers do not play through MSE).
pub fn codec_from_init(init: &[u8]) -> Option<String> {
    let find = |pat: &[u8]| init.windows(pat.len()).position(|w| w == pat);
    if let Some(i) = find(b"avcC") {
        let c = init.get(i + 5..i + 8)?;
        return Some(format!("avc1.{:02X}{:02X}{:02X}", c[0], c[1], c[2]));
    }
    if find(b"hvcC").is_some() {
        return Some(
            if find(b"hev1").is_some() {
                "hev1"
            } else {
                "hvc1"
            }
            .into(),
        );
    }
    None
}

/// Where an fMP4 stream starts, what it needs first, and what it reads.
pub struct Fmp4Plan {
    pub segments: Vec<SegmentInfo>,
    /// (fragment, sample) of the first sample in `segments[0]`.
    pub begin: (usize, usize),
    /// Wall time of the first sample: decode time 0.
    pub base: Ticks,
    pub end: Ticks,
    /// The first segment's init segment (`ftyp` + `moov`), read from its file.
    pub init: Bytes,
    pub codec: String,
}

fn read_exact_at(
    path: &std::path::Path,
    f: &File,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, PlaybackError> {
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, offset)
        .map_err(|source| PlaybackError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(buf)
}

fn open(path: &std::path::Path) -> Result<File, PlaybackError> {
    File::open(path).map_err(|source| PlaybackError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A segment's init segment: its file's bytes before the first fragment.
fn read_init(seg: &SegmentInfo, f: &File) -> Result<Bytes, PlaybackError> {
    let len = seg.fragments.first().map_or(0, |x| x.offset);
    if len == 0 || len > 1 << 20 {
        return Err(PlaybackError::Store(store::Error::CorruptIndex {
            stream: seg.stream_id,
            seq: seg.seq,
            path: seg.path.clone(),
            detail: format!("first fragment at offset {len}"),
        }));
    }
    Ok(Bytes::from(read_exact_at(&seg.path, f, 0, len)?))
}

/// Plans an fMP4 stream of `stream` from the key frame at or before `start` until `end`.
pub fn plan_fmp4(
    store: &store::Store,
    stream: i64,
    start: Ticks,
    end: Ticks,
) -> Result<Fmp4Plan, PlaybackError> {
    let segs = store.segments(stream, start, end)?;
    let Some(first) = segs.first() else {
        return Err(PlaybackError::NoFootage);
    };
    let mut begin = None;
    let mut base = None;
    'find: for (fi, f) in first.fragments.iter().enumerate() {
        let mut t = first.start + f.start;
        for (si, s) in f.samples.iter().enumerate() {
            if t > start && begin.is_some() {
                break 'find;
            }
            if s.is_key {
                begin = Some((fi, si));
                base = Some(t);
            }
            t += i64::from(s.duration);
        }
    }
    let (Some(begin), Some(base)) = (begin, base) else {
        return Err(PlaybackError::NoFootage);
    };
    let file = open(&first.path)?;
    let init = read_init(first, &file)?;
    let codec = codec_from_init(&init).unwrap_or_else(|| "avc1".into());
    Ok(Fmp4Plan {
        segments: segs,
        begin,
        base,
        end,
        init,
        codec,
    })
}

/// Accumulates samples into one output fragment.
struct Pending {
    samples: Vec<Sample>,
    data: Vec<u8>,
    start: Ticks,
    duration: Ticks,
}

/// Produces the fMP4 stream of `plan` into `out`, chunk by chunk (blocking: run it on a
/// blocking thread). Stops early when the receiver goes away.
pub fn run_fmp4(plan: Fmp4Plan, out: mpsc::Sender<Result<Bytes, std::io::Error>>) {
    if let Err(e) = produce_fmp4(plan, |b| out.blocking_send(Ok(b)).is_ok()) {
        tracing::warn!("fmp4 playback stream: {e}");
        let _ = out.blocking_send(Err(std::io::Error::other(e.to_string())));
    }
}

/// Builds the fMP4 stream of `plan`, handing each piece to `emit` (which returns false to
/// stop).
pub fn produce_fmp4(
    plan: Fmp4Plan,
    mut emit: impl FnMut(Bytes) -> bool,
) -> Result<(), PlaybackError> {
    if !emit(plan.init.clone()) {
        return Ok(());
    }
    let mut seq = 0u32;
    let mut sample_entry = plan.segments[0].sample_entry_id;
    let mut pending: Option<Pending> = None;
    let flush = |p: &mut Option<Pending>, seq: &mut u32, emit: &mut dyn FnMut(Bytes) -> bool| {
        let Some(p) = p.take() else { return true };
        *seq = seq.wrapping_add(1);
        let mut b = Vec::with_capacity(p.data.len() + 64 + 12 * p.samples.len());
        media::fmp4::fragment_header_into(&mut b, *seq, (p.start - plan.base) as u64, &p.samples);
        b.extend_from_slice(&p.data);
        emit(Bytes::from(b))
    };
    for (si, seg) in plan.segments.iter().enumerate() {
        let file = open(&seg.path)?;
        if seg.sample_entry_id != sample_entry {
            if !flush(&mut pending, &mut seq, &mut emit) {
                return Ok(());
            }
            sample_entry = seg.sample_entry_id;
            if !emit(read_init(seg, &file)?) {
                return Ok(());
            }
        }
        for (fi, f) in seg.fragments.iter().enumerate() {
            let (skip_f, skip_s) = if si == 0 { plan.begin } else { (0, 0) };
            if fi < skip_f {
                continue;
            }
            let skip = if fi == skip_f { skip_s } else { 0 };
            let mut t = seg.start + f.start;
            let mut off = f.data_offset;
            for s in &f.samples[..skip] {
                t += i64::from(s.duration);
                off += u64::from(s.size);
            }
            let samples = &f.samples[skip..];
            // Which samples of this stored fragment to send (stop at `end`).
            let mut n = 0;
            let mut tt = t;
            for s in samples {
                if tt >= plan.end {
                    break;
                }
                tt += i64::from(s.duration);
                n += 1;
            }
            if n == 0 {
                return Ok(flush(&mut pending, &mut seq, &mut emit)).map(|_| ());
            }
            let len: u64 = samples[..n].iter().map(|s| u64::from(s.size)).sum();
            let data = read_exact_at(&seg.path, &file, off, len)?;
            let mut pos = 0usize;
            for s in &samples[..n] {
                let contiguous = pending.as_ref().is_some_and(|p| p.start + p.duration == t);
                let full = pending
                    .as_ref()
                    .is_some_and(|p| p.duration + i64::from(s.duration) > MAX_FRAGMENT_TICKS);
                if (s.is_key || !contiguous || full) && !flush(&mut pending, &mut seq, &mut emit) {
                    return Ok(());
                }
                let p = pending.get_or_insert_with(|| Pending {
                    samples: Vec::new(),
                    data: Vec::new(),
                    start: t,
                    duration: 0,
                });
                p.samples.push(*s);
                p.data.extend_from_slice(&data[pos..pos + s.size as usize]);
                p.duration += i64::from(s.duration);
                pos += s.size as usize;
                t += i64::from(s.duration);
            }
            if n < samples.len() {
                flush(&mut pending, &mut seq, &mut emit);
                return Ok(());
            }
        }
    }
    flush(&mut pending, &mut seq, &mut emit);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Progressive MP4 with HTTP Range.

/// A parsed `Range: bytes=…` header, resolved against a length: `None` for a full
/// response, `Some(Err(()))` when unsatisfiable.
pub fn parse_range(h: Option<&str>, len: u64) -> Option<Result<Range<u64>, ()>> {
    let spec = h?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multiple ranges: answer with the whole file
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        len.saturating_sub(n)..len
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            len
        } else {
            let e: u64 = b.parse().ok()?;
            if e < start {
                return None;
            }
            (e + 1).min(len)
        };
        start..end
    };
    if r.start >= len || r.start >= r.end {
        return Some(Err(()));
    }
    Some(Ok(r))
}

/// Progressive MP4s recently served, for the browser's follow-up Range requests (each one
/// would otherwise rebuild the `moov`).
#[derive(Clone, Default)]
pub struct Mp4Cache {
    inner: Arc<Mutex<VecDeque<(CacheKey, Instant, CachedMp4)>>>,
}

type CacheKey = (i64, Ticks, Ticks);
/// An assembled MP4 and the segment files its parts refer to.
type CachedMp4 = Arc<(Mp4, Vec<PathBuf>)>;

impl Mp4Cache {
    fn get(&self, k: CacheKey) -> Option<CachedMp4> {
        let mut q = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        q.retain(|(_, at, _)| at.elapsed() < MP4_CACHE_TTL);
        q.iter()
            .find(|(key, _, _)| *key == k)
            .map(|(_, _, v)| v.clone())
    }
    fn put(&self, k: CacheKey, v: CachedMp4) {
        let mut q = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        q.retain(|(key, _, _)| *key != k);
        if q.len() >= MP4_CACHE_ENTRIES {
            q.pop_front();
        }
        q.push_back((k, Instant::now(), v));
    }
}

/// Streams `parts` of an MP4 into `out`, reading file parts with positioned reads in
/// [`CHUNK`] pieces (blocking).
pub fn send_parts(
    parts: Vec<Part>,
    sources: &[PathBuf],
    out: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut open_file: Option<(usize, File)> = None;
    for p in parts {
        match p {
            Part::Mem(b) => {
                if out.blocking_send(Ok(b)).is_err() {
                    return;
                }
            }
            Part::File {
                source,
                offset,
                len,
            } => {
                let Some(path) = sources.get(source) else {
                    let _ = out.blocking_send(Err(std::io::Error::other("bad source index")));
                    return;
                };
                if open_file.as_ref().map(|(i, _)| *i) != Some(source) {
                    match File::open(path) {
                        Ok(f) => open_file = Some((source, f)),
                        Err(e) => {
                            tracing::warn!("playback: opening {}: {e}", path.display());
                            let _ = out.blocking_send(Err(e));
                            return;
                        }
                    }
                }
                let f = &open_file.as_ref().expect("opened above").1;
                let mut pos = 0u64;
                while pos < len {
                    let n = CHUNK.min(len - pos);
                    let mut buf = vec![0u8; n as usize];
                    if let Err(e) = f.read_exact_at(&mut buf, offset + pos) {
                        tracing::warn!("playback: reading {}: {e}", path.display());
                        let _ = out.blocking_send(Err(e));
                        return;
                    }
                    pos += n;
                    if out.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP.

/// The playback routes, merged by [`crate::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/playback", get(playback_page))
        .route("/api/cameras/{id}/timeline", get(timeline_api))
        .route("/api/cameras/{id}/fmp4", get(fmp4_api))
        .route("/api/cameras/{id}/video.mp4", get(mp4_api))
        .route("/assets/playback.js", get(playback_js))
        .layer(Extension(Mp4Cache::default()))
}

/// The playback page's ES module.
pub const PLAYBACK_JS: &str = include_str!("../assets/playback.js");

async fn playback_js() -> Response {
    asset("text/javascript; charset=utf-8", PLAYBACK_JS)
}

fn authorize_start(a: &Authed, camera: i64, start: Ticks, now: Ticks) -> Result<(), PlaybackError> {
    if govern::authorize(&a.user, &govern::Action::Playback { camera, start, now }) {
        Ok(())
    } else {
        tracing::warn!(user = %a.user.username, camera, start_ms = ms(start), "playback refused");
        Err(PlaybackError::Forbidden)
    }
}

/// The end of what `a` may see from `start` on: the span (recent window or grant) that
/// allows `start`, so a range never runs past what was granted. `None` when no span holds
/// `start` (then [`authorize_start`] has refused it already).
fn allowed_until(a: &Authed, camera: i64, start: Ticks, now: Ticks) -> Option<Ticks> {
    a.user
        .access
        .playback_spans(camera, now)
        .into_iter()
        .filter(|&(s, e)| s <= start && start < e)
        .map(|(_, e)| e)
        .max()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PlaybackError> + Send + 'static,
) -> Result<T, PlaybackError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(PlaybackError::BadRequest(format!("task failed: {e}"))))
}

async fn timeline_api(
    State(st): State<AppState>,
    authed: Authed,
    Path(camera): Path<i64>,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = authed.lang;
    let offset = st.settings.utc_offset_minutes;
    let now = st.clock.now_ticks();
    let day = match query_values(q.as_deref(), "day").first() {
        Some(d) => match parse_day(d) {
            Some(d) => d,
            None => return (StatusCode::BAD_REQUEST, t(lang, "playback.bad_day")).into_response(),
        },
        None => parse_day(&local_day(now, offset)).expect("a formatted day parses"),
    };
    let user = authed.user.clone();
    let s = st.store.clone();
    crate::audit_page::timeline_view(&st, &authed, camera, day);
    match blocking(move || timeline(&s, &user, camera, day, offset, now)).await {
        Ok(tl) => Json(tl).into_response(),
        Err(e) => e.into_response_in(lang),
    }
}

async fn fmp4_api(
    State(st): State<AppState>,
    authed: Authed,
    Path(camera): Path<i64>,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = authed.lang;
    let now = st.clock.now_ticks();
    let r = async {
        let start = query_ms(q.as_deref(), "start")?
            .ok_or_else(|| PlaybackError::BadRequest("start is required".into()))?
            * 90;
        let end = match query_ms(q.as_deref(), "end")? {
            Some(e) => e * 90,
            None => start + MAX_FMP4_SPAN,
        };
        let end = end.min(start + MAX_FMP4_SPAN);
        if end <= start {
            return Err(PlaybackError::BadRequest("end must be after start".into()));
        }
        authorize_start(&authed, camera, start, now)?;
        // A stream stops where the user's right (window or grant) stops.
        let end = allowed_until(&authed, camera, start, now).map_or(end, |l| end.min(l));
        let s = st.store.clone();
        let plan = blocking(move || {
            let stream = playback_stream(&s, camera)?;
            plan_fmp4(&s, stream.id, start, end)
        })
        .await?;
        // The key frame may lie before the window the user may see: check where it starts.
        authorize_start(&authed, camera, plan.base, now)?;
        Ok(plan)
    }
    .await;
    let plan = match r {
        Ok(p) => p,
        Err(e) => return e.into_response_in(lang),
    };
    tracing::info!(user = %authed.user.username, camera, from_ms = ms(plan.base), "playback (fMP4)");
    crate::audit_page::playback_view(&st, &authed, "playback.view", camera, plan.base, plan.end);
    let (tx, rx) = mpsc::channel(8);
    let base = ms(plan.base).to_string();
    let codec = plan.codec.clone();
    tokio::task::spawn_blocking(move || run_fmp4(plan, tx));
    let mut resp = Body::from_stream(tokio_stream(rx)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&base) {
        h.insert("x-vigil-base", v);
    }
    if let Ok(v) = HeaderValue::from_str(&codec) {
        h.insert("x-vigil-codec", v);
    }
    resp
}

/// A body stream from a channel of chunks.
fn tokio_stream(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn mp4_api(
    State(st): State<AppState>,
    Extension(cache): Extension<Mp4Cache>,
    authed: Authed,
    Path(camera): Path<i64>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = authed.lang;
    let now = st.clock.now_ticks();
    let r = async {
        let start = query_ms(q.as_deref(), "start")?
            .ok_or_else(|| PlaybackError::BadRequest("start is required".into()))?
            * 90;
        let end = query_ms(q.as_deref(), "end")?
            .ok_or_else(|| PlaybackError::BadRequest("end is required".into()))?
            * 90;
        if end <= start || end - start > MAX_MP4_SPAN {
            return Err(PlaybackError::BadRequest(
                "end must be after start, within 24 hours".into(),
            ));
        }
        authorize_start(&authed, camera, start, now)?;
        // The whole range must lie within what the user may see (not just its start).
        if allowed_until(&authed, camera, start, now).is_some_and(|l| end > l) {
            return Err(PlaybackError::Forbidden);
        }
        let s = st.store.clone();
        let c = cache.clone();
        blocking(move || {
            let stream = playback_stream(&s, camera)?;
            let key = (stream.id, start, end);
            if let Some(v) = c.get(key) {
                return Ok(v);
            }
            let e = s.progressive(stream.id, start, end)?;
            let v = Arc::new((e.mp4, e.sources));
            c.put(key, v.clone());
            Ok(v)
        })
        .await
    }
    .await;
    let mp4 = match r {
        Ok(v) => v,
        Err(e) => return e.into_response_in(lang),
    };
    let len = mp4.0.len;
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        len,
    );
    let (status, range) = match range {
        None => (StatusCode::OK, 0..len),
        Some(Ok(r)) => (StatusCode::PARTIAL_CONTENT, r),
        Some(Err(())) => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response()
        }
    };
    if range.start == 0 {
        tracing::info!(user = %authed.user.username, camera, "playback (MP4)");
        crate::audit_page::mp4_view(&st, &authed, camera, q.as_deref());
    }
    let parts = mp4.0.slice(range.clone());
    let (tx, rx) = mpsc::channel(4);
    let m = mp4.clone();
    tokio::task::spawn_blocking(move || send_parts(parts, &m.1, tx));
    let mut resp = Body::from_stream(tokio_stream(rx)).into_response();
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(range.end - range.start),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) =
            HeaderValue::from_str(&format!("bytes {}-{}/{len}", range.start, range.end - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

/// The i18n keys the playback module's JavaScript uses.
const PLAYBACK_JS_KEYS: &[&str] = &[
    "playback.loading",
    "playback.no_footage",
    "playback.forbidden",
    "playback.limited",
    "playback.error",
    "playback.h265",
    "playback.play",
    "playback.pause",
    "playback.recorded",
    "playback.hole",
];

#[derive(Serialize)]
struct PageConfig<'a> {
    cameras: Vec<PageCamera<'a>>,
    day: String,
    #[serde(rename = "dayStart")]
    day_start: i64,
    #[serde(rename = "dayEnd")]
    day_end: i64,
    initial: Option<i64>,
    #[serde(rename = "utcOffsetMinutes")]
    utc_offset_minutes: i32,
}

#[derive(Serialize)]
struct PageCamera<'a> {
    id: i64,
    name: &'a str,
}

async fn playback_page(
    State(st): State<AppState>,
    authed: Authed,
    RawQuery(q): RawQuery,
) -> Response {
    let lang = authed.lang;
    let offset = st.settings.utc_offset_minutes;
    let now = st.clock.now_ticks();
    let s = st.store.clone();
    let cameras = match blocking(move || Ok(s.cameras()?)).await {
        Ok(c) => c,
        Err(e) => return e.into_response_in(lang),
    };
    let mut chosen: Vec<i64> = Vec::new();
    for v in query_values(q.as_deref(), "camera") {
        if let Ok(id) = v.parse::<i64>() {
            if cameras.iter().any(|c| c.id == id) && !chosen.contains(&id) {
                chosen.push(id);
            }
        }
    }
    chosen.truncate(MAX_CAMERAS);
    let day_str = query_values(q.as_deref(), "day")
        .into_iter()
        .next()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| local_day(now, offset));
    let day = parse_day(&day_str);
    let initial = query_ms(q.as_deref(), "t").ok().flatten();
    let chosen_cams: Vec<&store::Camera> = chosen
        .iter()
        .filter_map(|id| cameras.iter().find(|c| c.id == *id))
        .collect();
    let config = day.map(|d| {
        let (a, b) = day_span(d, offset);
        PageConfig {
            cameras: chosen_cams
                .iter()
                .map(|c| PageCamera {
                    id: c.id,
                    name: &c.name,
                })
                .collect(),
            day: day_str.clone(),
            day_start: ms(a),
            day_end: ms(b),
            initial,
            utc_offset_minutes: offset,
        }
    });
    let user = &authed.user;
    let body = html! {
        link rel="stylesheet" href="/assets/wall.css";
        form.pb-form method="get" action="/playback" {
            @for slot in 0..MAX_CAMERAS {
                label {
                    @if slot == 0 { (t(lang, "playback.camera")) } @else { (t(lang, "playback.add_camera")) }
                    select name="camera" {
                        @if slot > 0 { option value="" { (t(lang, "playback.none")) } }
                        @for c in &cameras {
                            option value=(c.id) selected[chosen.get(slot) == Some(&c.id)] { (c.name) }
                        }
                    }
                }
            }
            label {
                (t(lang, "playback.day"))
                input type="date" name="day" value=(day_str) required;
            }
            button type="submit" { (t(lang, "playback.show")) }
        }
        @if day.is_none() {
            p.error { (t(lang, "playback.bad_day")) }
        } @else if chosen_cams.is_empty() {
            p { (t(lang, "playback.pick_camera")) }
        } @else {
            div.pb-controls {
                button.play type="button" { (t(lang, "playback.play")) }
                span role="group" aria-label=(t(lang, "playback.speed")) {
                    @for s in [1, 2, 4, 8] {
                        button type="button" data-speed=(s) aria-pressed=(s == 1) { (s) "×" }
                    }
                }
                button.step type="button" title=(t(lang, "playback.step")) { "⏭ " (t(lang, "playback.step")) }
                span.pb-clock aria-label=(t(lang, "playback.time")) {}
                a.download href="#" download { (t(lang, "playback.download")) }
                span.pb-status role="status" {}
            }
            div #timeline role="slider" aria-label=(t(lang, "playback.time")) tabindex="0" {
                div.events {}
                div.cursor {}
            }
            div.players data-count=(chosen_cams.len()) {
                @for c in &chosen_cams {
                    div.tile data-camera=(c.id) {
                        video.player data-camera=(c.id) muted playsinline {}
                        div.tile-name { (c.name) }
                        div.tile-status {}
                        div.watermark aria-hidden="true" {}
                    }
                }
            }
            div #pb-user hidden data-user-name=(user.display_name) {}
            script #playback-config type="application/json" {
                (PreEscaped(serde_json::to_string(&config).unwrap_or_default().replace("</", "<\\/")))
            }
            script #playback-strings type="application/json" { (PreEscaped(strings_json(lang, PLAYBACK_JS_KEYS))) }
            script type="module" src="/assets/playback.js" {}
        }
    };
    ui::layout(&authed.ctx(), t(lang, "nav.playback"), body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days() {
        assert_eq!(parse_day("2025-02-28"), Some((2025, 2, 28)));
        assert_eq!(parse_day("2025-02-30"), None);
        assert_eq!(parse_day("2025-13-01"), None);
        assert_eq!(parse_day("x"), None);
        let (a, b) = day_span((1970, 1, 2), 7 * 60);
        assert_eq!(a, (86_400 - 7 * 3600) * TICKS_PER_SEC);
        assert_eq!(b - a, 86_400 * TICKS_PER_SEC);
        assert_eq!(local_day(a, 7 * 60), "1970-01-02");
        assert_eq!(local_day(a - 1, 7 * 60), "1970-01-01");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 100), None);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Some(Ok(0..10)));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Some(Ok(90..100)));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Some(Ok(90..100)));
        assert_eq!(parse_range(Some("bytes=95-200"), 100), Some(Ok(95..100)));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Some(Err(())));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), None);
        assert_eq!(parse_range(Some("items=0-1"), 100), None);
    }

    #[test]
    fn query() {
        let q = Some("camera=1&camera=2&day=2025-01-02&x=%20y");
        assert_eq!(query_values(q, "camera"), vec!["1", "2"]);
        assert_eq!(query_values(q, "x"), vec![" y"]);
        assert!(query_values(None, "camera").is_empty());
    }

    #[test]
    fn codec_string_from_avcc() {
        let mut init = b"....avcC\x01\x64\x00\x28\xff".to_vec();
        assert_eq!(codec_from_init(&init).as_deref(), Some("avc1.640028"));
        init = b"....hvc1....hvcC".to_vec();
        assert_eq!(codec_from_init(&init).as_deref(), Some("hvc1"));
    }

    fn seg(start: Ticks, end: Ticks) -> SegmentInfo {
        SegmentInfo {
            id: 0,
            stream_id: 1,
            seq: 0,
            path: PathBuf::new(),
            start,
            end,
            bytes: 0,
            frames: 0,
            sample_entry_id: 1,
            file_sha256: [0; 32],
            fragments: Vec::new(),
        }
    }

    #[test]
    fn ranges_merge_and_holes_fill_the_rest() {
        let s = TICKS_PER_SEC;
        let segs = [
            seg(10 * s, 70 * s),
            seg(70 * s, 130 * s),
            seg(200 * s, 260 * s),
        ];
        let (r, h) = ranges_and_holes(&segs, 0, 1000 * s, 300 * s);
        assert_eq!(
            r,
            vec![
                Span {
                    start: 10_000,
                    end: 130_000
                },
                Span {
                    start: 200_000,
                    end: 260_000
                }
            ]
        );
        assert_eq!(
            h,
            vec![
                Span {
                    start: 0,
                    end: 10_000
                },
                Span {
                    start: 130_000,
                    end: 200_000
                },
                Span {
                    start: 260_000,
                    end: 300_000
                }
            ]
        );
    }

    fn user(window_secs: Option<i64>, grants: Vec<govern::Grant>) -> govern::User {
        let mut assignments = Vec::new();
        if let Some(w) = window_secs {
            assignments.push(govern::Assignment {
                window_secs: Some(w),
                ..govern::Assignment::new(govern::Right::PlaybackRecent, govern::Scope::All)
            });
        }
        govern::User {
            id: 7,
            username: "baove".into(),
            display_name: "Bảo vệ".into(),
            role: govern::Role::Guard,
            lang: "vi".into(),
            zone: None,
            roles: vec!["guard".into()],
            access: govern::Access {
                assignments,
                grants,
                ..Default::default()
            },
        }
    }

    fn grant(camera: i64, start: Ticks, end: Ticks, expires_at: i64) -> govern::Grant {
        govern::Grant {
            id: 1,
            request_id: 1,
            user_id: 7,
            camera_id: camera,
            start,
            end,
            can_view: true,
            can_export: false,
            expires_at,
        }
    }

    #[test]
    fn allowed_spans_from_window_and_grants() {
        let h = 3600 * TICKS_PER_SEC;
        let (day0, day1) = day_span((2025, 6, 12), 7 * 60);
        let now = day1 + 2 * 24 * h + 15 * h; // 2025-06-15, 15:00 local
        let now_s = now / TICKS_PER_SEC;
        // Nothing at all: no window, no grant.
        assert_eq!(
            allowed_spans(&user(None, vec![]), 1, day0, day1, now),
            Some(vec![])
        );
        // A 30-minute window: that past day offers nothing; today only the window.
        let guard = user(Some(1800), vec![]);
        assert_eq!(allowed_spans(&guard, 1, day0, day1, now), Some(vec![]));
        let (t0, t1) = day_span((2025, 6, 15), 7 * 60);
        assert_eq!(
            allowed_spans(&guard, 1, t0, t1, now),
            Some(vec![(now - 1800 * TICKS_PER_SEC, now + 1)])
        );
        // A long window covers the whole past day and today up to now.
        let long = user(Some(10 * 365 * 86_400), vec![]);
        assert_eq!(allowed_spans(&long, 1, day0, day1, now), None);
        assert_eq!(allowed_spans(&long, 1, t0, t1, now), None);
        // A day still to come holds nothing to withhold.
        assert_eq!(allowed_spans(&guard, 1, t1, t1 + 24 * h, now), None);
        // Grants: overlapping ones merge, cut to the day; another camera's does not count;
        // an expired one gives nothing.
        let g = user(
            Some(1800),
            vec![
                grant(1, day0 + 8 * h, day0 + 9 * h, now_s + 60),
                grant(1, day0 + 8 * h + h / 2, day0 + 10 * h, now_s + 60),
                grant(1, day0 - h, day0 + h, now_s + 60),
                grant(2, day0 + 12 * h, day0 + 13 * h, now_s + 60),
                grant(1, day0 + 20 * h, day0 + 21 * h, now_s - 1),
            ],
        );
        assert_eq!(
            allowed_spans(&g, 1, day0, day1, now),
            Some(vec![(day0, day0 + h), (day0 + 8 * h, day0 + 10 * h)])
        );
        assert_eq!(
            allowed_spans(&g, 2, day0, day1, now),
            Some(vec![(day0 + 12 * h, day0 + 13 * h)])
        );
        // A grant over the whole day opens all of it.
        let all = user(None, vec![grant(1, day0 - h, day1 + h, now_s + 60)]);
        assert_eq!(allowed_spans(&all, 1, day0, day1, now), None);
    }
}
