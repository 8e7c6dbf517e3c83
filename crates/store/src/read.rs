//! Reading footage: segments with their fragment index, and progressive MP4s of any time
//! range, assembled from the index without copying sample data.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use media::index::FragmentIndex;
use media::progressive::{Mp4, Part, Run};
use media::time::TICKS_PER_SEC;
use media::Ticks;
use rusqlite::params;

use crate::db::{self, blob32};
use crate::error::{DbContext, Error, IoContext};
use crate::{Store, StreamId};

/// A closed segment with its decoded fragment index.
#[derive(Clone, Debug)]
pub struct SegmentInfo {
    pub id: i64,
    pub stream_id: StreamId,
    pub seq: i64,
    /// Absolute path of the file.
    pub path: PathBuf,
    /// Wall time of the first frame; `end` = `start` + the segment's duration.
    pub start: Ticks,
    pub end: Ticks,
    pub bytes: u64,
    pub frames: u64,
    pub sample_entry_id: i64,
    pub file_sha256: [u8; 32],
    pub fragments: Vec<FragmentIndex>,
}

/// A progressive MP4 of a time range, ready to be written with [`Store::write_mp4`] or
/// served with HTTP Range.
///
/// The MP4's duration is the wall-clock span `end - start`: a hole between segments
/// (camera offline, recorder stopped) is covered by showing the last frame before it for
/// the length of the hole, and listed in `holes`.
#[derive(Clone, Debug)]
pub struct Export {
    pub mp4: Mp4,
    /// The segment files the MP4's file parts refer to (`Part::File::source` indexes this).
    pub sources: Vec<PathBuf>,
    /// The segments used, in order (with their hashes, for a manifest).
    pub segments: Vec<SegmentInfo>,
    /// Wall time of the first frame (the key frame at or before the requested start).
    pub start: Ticks,
    /// Wall time where the last frame ends.
    pub end: Ticks,
    /// Holes inside the range, `(from, to)`, each covered by the previous frame.
    pub holes: Vec<(Ticks, Ticks)>,
    pub frames: u64,
}

impl Store {
    /// Closed segments of a stream that overlap `[start, end)`, oldest first.
    pub fn segments(
        &self,
        stream: StreamId,
        start: Ticks,
        end: Ticks,
    ) -> Result<Vec<SegmentInfo>, Error> {
        let conn = self.conn();
        let what = || format!("listing segments of stream {stream}");
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, seq, path, start, \"end\", bytes, frames, sample_entry_id, \
                 file_sha256, fragments FROM segment WHERE stream_id = ?1 AND state = 'closed' \
                 AND start < ?3 AND \"end\" > ?2 ORDER BY start, seq",
            )
            .ctx(what)?;
        let rows = stmt
            .query_map(params![stream, start, end], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, Option<Vec<u8>>>(8)?,
                    r.get::<_, Option<Vec<u8>>>(9)?,
                ))
            })
            .ctx(what)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, seq, rel, start, end, bytes, frames, se, sha, frags) = row.ctx(what)?;
            let path = self.root().join(rel);
            let fragments = media::index::decode(frags.as_deref().unwrap_or(&[])).map_err(|e| {
                Error::CorruptIndex {
                    stream,
                    seq,
                    path: path.clone(),
                    detail: e.to_string(),
                }
            })?;
            out.push(SegmentInfo {
                id,
                stream_id: stream,
                seq,
                path,
                start,
                end,
                bytes: bytes.max(0) as u64,
                frames: frames.max(0) as u64,
                sample_entry_id: se,
                file_sha256: blob32(sha).unwrap_or([0; 32]),
                fragments,
            });
        }
        Ok(out)
    }

    /// Where the segment `stream` is writing now begins (ticks), if one is open. Footage
    /// from there on is not in [`Store::segments`] yet: it has no file hash until the
    /// segment closes (at most a segment's length later).
    pub fn writing_since(&self, stream: StreamId) -> Result<Option<Ticks>, Error> {
        let conn = self.conn();
        conn.prepare_cached(
            "SELECT MIN(start) FROM segment WHERE stream_id = ?1 AND state = 'writing'",
        )
        .and_then(|mut st| st.query_row(params![stream], |r| r.get::<_, Option<i64>>(0)))
        .ctx(|| format!("finding the open segment of stream {stream}"))
    }

    /// Builds a progressive MP4 of a stream from the key frame at or before `start` to the
    /// last frame that starts before `end`, across segments (see [`Export`] for holes).
    /// Fails with [`Error::ParamsChanged`] if the camera's video parameters change inside
    /// the range, and with [`Error::NoFootage`] if nothing was recorded in it.
    pub fn progressive(&self, stream: StreamId, start: Ticks, end: Ticks) -> Result<Export, Error> {
        let segs = self.segments(stream, start, end)?;
        let Some(first) = segs.first() else {
            return Err(Error::NoFootage { stream, start, end });
        };
        for w in segs.windows(2) {
            if w[1].sample_entry_id != w[0].sample_entry_id {
                let conn = self.conn();
                let a = db::load_params(&conn, w[0].sample_entry_id)?;
                let b = db::load_params(&conn, w[1].sample_entry_id)?;
                return Err(Error::ParamsChanged {
                    stream,
                    at: w[1].start,
                    seq: w[1].seq,
                    from: format!("{} {}x{}", a.rfc6381, a.width, a.height),
                    to: format!("{} {}x{}", b.rfc6381, b.width, b.height),
                });
            }
        }
        let params = db::load_params(&self.conn(), first.sample_entry_id)?;

        // The first sample: the last key frame at or before `start` in the first segment.
        let mut begin = (0usize, 0usize); // (fragment, sample) in segs[0]
        'find: for (fi, f) in first.fragments.iter().enumerate() {
            let mut t = first.start + f.start;
            for (si, s) in f.samples.iter().enumerate() {
                if t > start {
                    break 'find;
                }
                if s.is_key {
                    begin = (fi, si);
                }
                t += i64::from(s.duration);
            }
        }

        let mut runs: Vec<Run> = Vec::new();
        let mut holes = Vec::new();
        let mut actual_start = None;
        let mut prev_end: Option<Ticks> = None;
        let mut frames = 0u64;
        'segs: for (idx, seg) in segs.iter().enumerate() {
            if let Some(pe) = prev_end {
                let gap = seg.start - pe;
                if gap != 0 {
                    let last = runs
                        .last_mut()
                        .and_then(|r| r.samples.last_mut())
                        .expect("a previous sample exists when prev_end is set");
                    let d = i64::from(last.duration) + gap;
                    if d > i64::from(u32::MAX) {
                        return Err(Error::Media {
                            stream,
                            source: media::Error::Unsupported(format!(
                                "a hole of {} s between {} and {} is too long to cover in one \
                                 MP4; export the times before and after it separately",
                                gap / TICKS_PER_SEC,
                                media::time::format_ticks(pe),
                                media::time::format_ticks(seg.start)
                            )),
                        });
                    }
                    last.duration = d.max(1) as u32;
                    if gap > 0 {
                        holes.push((pe, seg.start));
                    }
                }
            }
            for (fi, f) in seg.fragments.iter().enumerate() {
                let (skip_frag, skip_samples) = if idx == 0 { begin } else { (0, 0) };
                if fi < skip_frag {
                    continue;
                }
                let skip = if fi == skip_frag { skip_samples } else { 0 };
                let mut t = seg.start + f.start;
                let mut offset = f.data_offset;
                for s in &f.samples[..skip] {
                    t += i64::from(s.duration);
                    offset += u64::from(s.size);
                }
                let mut run = Run {
                    source: idx,
                    offset,
                    samples: Vec::new(),
                };
                let mut stop = false;
                for s in &f.samples[skip..] {
                    if t >= end && actual_start.is_some() {
                        stop = true;
                        break;
                    }
                    actual_start.get_or_insert(t);
                    run.samples.push(*s);
                    t += i64::from(s.duration);
                    frames += 1;
                }
                if !run.samples.is_empty() {
                    runs.push(run);
                }
                if stop {
                    break 'segs;
                }
            }
            prev_end = Some(seg.start + seg.fragments.last().map_or(0, |f| f.start + f.duration()));
        }
        let Some(actual_start) = actual_start else {
            return Err(Error::NoFootage { stream, start, end });
        };
        let mp4 = media::progressive::build(
            &params,
            &runs,
            actual_start.div_euclid(TICKS_PER_SEC).max(0) as u64,
        )
        .map_err(|source| Error::Media { stream, source })?;
        let total: i64 = runs
            .iter()
            .flat_map(|r| &r.samples)
            .map(|s| i64::from(s.duration))
            .sum();
        Ok(Export {
            mp4,
            sources: segs.iter().map(|s| s.path.clone()).collect(),
            segments: segs,
            start: actual_start,
            end: actual_start + total,
            holes,
            frames,
        })
    }

    /// Writes an assembled MP4 to `out`, reading the file parts from `sources`. Returns
    /// the number of bytes written.
    pub fn write_mp4(mp4: &Mp4, sources: &[PathBuf], out: &mut impl Write) -> Result<u64, Error> {
        let mut open: Option<(usize, File)> = None;
        let mut written = 0u64;
        let out_path = PathBuf::from("<output>");
        for part in &mp4.parts {
            match part {
                Part::Mem(b) => {
                    out.write_all(b).io_ctx("write", &out_path)?;
                    written += b.len() as u64;
                }
                Part::File {
                    source,
                    offset,
                    len,
                } => {
                    let path = sources.get(*source).ok_or_else(|| Error::ShortSource {
                        path: PathBuf::from(format!("<source #{source}>")),
                        needed: offset + len,
                        has: 0,
                    })?;
                    if open.as_ref().map(|(i, _)| *i) != Some(*source) {
                        open = Some((*source, File::open(path).io_ctx("open", path)?));
                    }
                    let f = &mut open.as_mut().expect("just opened").1;
                    f.seek(SeekFrom::Start(*offset)).io_ctx("seek", path)?;
                    let n = std::io::copy(&mut f.take(*len), out).io_ctx("copy from", path)?;
                    if n != *len {
                        return Err(Error::ShortSource {
                            path: path.clone(),
                            needed: offset + len,
                            has: offset + n,
                        });
                    }
                    written += n;
                }
            }
        }
        Ok(written)
    }
}
