//! A progressive (non-fragmented) MP4 assembled from the index: `ftyp`, `moov` with full
//! sample tables, and one `mdat` whose content is byte ranges of segment files. Nothing is
//! copied to build it; the result is a list of [`Part`]s that a server streams (with HTTP
//! Range, see [`Mp4::slice`]) or an exporter writes out.
//!
//! The `moov` comes before the `mdat` ("fast start"), so a player can start at once and
//! seek with range requests. Each [`Run`] becomes one chunk. With composition offsets
//! (B-frames) the track gets a `ctts` and an edit list that starts presentation at the
//! first presented frame.

use std::ops::Range;

use crate::mp4box::{self, put_u16, put_u32, put_u64};
use crate::{Error, Sample, VideoParams};

/// A run of consecutive samples stored contiguously in one source file.
#[derive(Clone, Debug)]
pub struct Run {
    /// Caller's handle for the file (e.g. an index into its list of segment paths).
    pub source: usize,
    /// Offset in the source file of the first sample's data.
    pub offset: u64,
    pub samples: Vec<Sample>,
}

/// One piece of the output file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Mem(bytes::Bytes),
    File {
        source: usize,
        offset: u64,
        len: u64,
    },
}

impl Part {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Part::Mem(b) => b.len() as u64,
            Part::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The assembled file.
#[derive(Clone, Debug)]
pub struct Mp4 {
    pub parts: Vec<Part>,
    pub len: u64,
}

impl Mp4 {
    /// The parts covering bytes `range` of the file (for an HTTP Range request), with the
    /// first and last split at the range's edges. A range reaching past the end is cut at
    /// the end; an empty or out-of-file range gives no parts. In-memory parts are sliced
    /// without copying.
    pub fn slice(&self, range: Range<u64>) -> Vec<Part> {
        let end = range.end.min(self.len);
        let mut out = Vec::new();
        if range.start >= end {
            return out;
        }
        let mut pos = 0u64;
        for p in &self.parts {
            let p_len = p.len();
            let (p_start, p_end) = (pos, pos + p_len);
            pos = p_end;
            if p_end <= range.start || p_len == 0 {
                continue;
            }
            if p_start >= end {
                break;
            }
            let from = range.start.max(p_start) - p_start;
            let to = end.min(p_end) - p_start;
            out.push(match p {
                Part::Mem(b) => Part::Mem(b.slice(from as usize..to as usize)),
                Part::File { source, offset, .. } => Part::File {
                    source: *source,
                    offset: offset + from,
                    len: to - from,
                },
            });
        }
        out
    }
}

/// Most samples one file may hold (keeps the `moov` well under 4 GiB).
const MAX_SAMPLES: usize = 50_000_000;

/// Builds a progressive MP4 of `runs` (in decode order; sample durations already include
/// any hole the caller chose to cover by holding the previous frame). `creation_time` is
/// seconds since the Unix epoch, written into `mvhd`/`tkhd`/`mdhd`.
///
/// Runs without samples are skipped. Errors when there is no sample at all, or more than
/// 50 million.
pub fn build(params: &VideoParams, runs: &[Run], creation_time: u64) -> Result<Mp4, Error> {
    let samples = || runs.iter().flat_map(|r| r.samples.iter());
    let n = samples().count();
    if n == 0 {
        return Err(Error::Unsupported(
            "a progressive MP4 needs at least one sample; the time range has no video".into(),
        ));
    }
    if n > MAX_SAMPLES {
        return Err(Error::Unsupported(format!(
            "{n} samples in one MP4 (at most {MAX_SAMPLES}); export a shorter time range"
        )));
    }
    let data_len: u64 = samples().map(|s| u64::from(s.size)).sum();
    let last_run_len: u64 = runs
        .iter()
        .rev()
        .find(|r| !r.samples.is_empty())
        .map_or(0, |r| r.samples.iter().map(|s| u64::from(s.size)).sum());
    let mdat_hdr = mp4box::mdat_header_len(data_len);

    let mut co64 = false;
    let (mut head, offsets_at) = loop {
        let mut head = Vec::with_capacity(1024 + n * 12);
        mp4box::put_ftyp(&mut head, params.codec, false);
        let offsets_at = put_moov(&mut head, params, runs, creation_time, co64);
        let data_start = head.len() as u64 + mdat_hdr;
        if !co64 && data_start + data_len - last_run_len > u64::from(u32::MAX) {
            co64 = true;
            continue;
        }
        break (head, offsets_at);
    };
    let data_start = head.len() as u64 + mdat_hdr;
    // Fill in the chunk offsets, one per non-empty run.
    let mut at = offsets_at;
    let mut off = data_start;
    for r in runs.iter().filter(|r| !r.samples.is_empty()) {
        if co64 {
            head[at..at + 8].copy_from_slice(&off.to_be_bytes());
            at += 8;
        } else {
            head[at..at + 4].copy_from_slice(&(off as u32).to_be_bytes());
            at += 4;
        }
        off += r.samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
    }
    mp4box::put_mdat_header(&mut head, data_len);

    let len = head.len() as u64 + data_len;
    let mut parts = Vec::with_capacity(runs.len() + 1);
    parts.push(Part::Mem(bytes::Bytes::from(head)));
    for r in runs {
        let run_len: u64 = r.samples.iter().map(|s| u64::from(s.size)).sum();
        if run_len == 0 {
            continue;
        }
        // Merge runs that continue each other in the same file.
        if let Some(Part::File {
            source,
            offset,
            len,
        }) = parts.last_mut()
        {
            if *source == r.source && *offset + *len == r.offset {
                *len += run_len;
                continue;
            }
        }
        parts.push(Part::File {
            source: r.source,
            offset: r.offset,
            len: run_len,
        });
    }
    Ok(Mp4 { parts, len })
}

/// Writes the `moov`; returns the position of the first chunk offset entry (zeros, for
/// the caller to fill in).
fn put_moov(
    b: &mut Vec<u8>,
    params: &VideoParams,
    runs: &[Run],
    creation_time: u64,
    co64: bool,
) -> usize {
    let samples = || runs.iter().flat_map(|r| r.samples.iter());
    let time = creation_time.saturating_add(mp4box::MP4_EPOCH_OFFSET);
    let duration: u64 = samples().map(|s| u64::from(s.duration)).sum();
    let has_cto = samples().any(|s| s.composition_offset != 0);

    let moov = mp4box::begin(b, b"moov");
    mp4box::put_mvhd(b, time, duration);
    let trak = mp4box::begin(b, b"trak");
    mp4box::put_tkhd(b, time, duration, params.width, params.height);
    if has_cto {
        // Start presentation at the earliest presentation time.
        let mut dts = 0i64;
        let mut first_pts = i64::MAX;
        for s in samples() {
            first_pts = first_pts.min(dts + i64::from(s.composition_offset));
            dts += i64::from(s.duration);
        }
        let media_time = first_pts.max(0);
        let edts = mp4box::begin(b, b"edts");
        let v1 = duration > u64::from(u32::MAX) || media_time > i64::from(i32::MAX);
        let elst = mp4box::begin_full(b, b"elst", u8::from(v1), 0);
        put_u32(b, 1);
        if v1 {
            put_u64(b, duration);
            put_u64(b, media_time as u64);
        } else {
            put_u32(b, duration as u32);
            put_u32(b, media_time as u32);
        }
        put_u16(b, 1); // media_rate 1.0
        put_u16(b, 0);
        mp4box::end(b, elst);
        mp4box::end(b, edts);
    }
    let mdia = mp4box::begin(b, b"mdia");
    mp4box::put_mdhd(b, time, duration);
    mp4box::put_hdlr_vide(b);
    let minf = mp4box::begin(b, b"minf");
    mp4box::put_vmhd_dinf(b);
    let stbl = mp4box::begin(b, b"stbl");
    mp4box::put_stsd(b, &params.sample_entry);

    // stts: run-length durations.
    put_rle(b, b"stts", 0, samples().map(|s| s.duration));
    if has_cto {
        let negative = samples().any(|s| s.composition_offset < 0);
        put_rle(
            b,
            b"ctts",
            u8::from(negative),
            samples().map(|s| s.composition_offset as u32),
        );
    }
    // stss: only when not every sample is a key frame (absent means all are).
    if samples().any(|s| !s.is_key) {
        let stss = mp4box::begin_full(b, b"stss", 0, 0);
        let count_at = b.len();
        put_u32(b, 0);
        let mut count = 0u32;
        for (i, s) in samples().enumerate() {
            if s.is_key {
                put_u32(b, i as u32 + 1);
                count += 1;
            }
        }
        b[count_at..count_at + 4].copy_from_slice(&count.to_be_bytes());
        mp4box::end(b, stss);
    }
    // stsc: one chunk per (non-empty) run; consecutive runs of equal length share an entry.
    let chunks = runs.iter().filter(|r| !r.samples.is_empty());
    let stsc = mp4box::begin_full(b, b"stsc", 0, 0);
    let count_at = b.len();
    put_u32(b, 0);
    let mut entries = 0u32;
    let mut prev_len = None;
    let mut num_chunks = 0u32;
    for (i, r) in chunks.clone().enumerate() {
        num_chunks += 1;
        let len = r.samples.len() as u32;
        if prev_len != Some(len) {
            put_u32(b, i as u32 + 1); // first_chunk
            put_u32(b, len); // samples_per_chunk
            put_u32(b, 1); // sample_description_index
            entries += 1;
            prev_len = Some(len);
        }
    }
    b[count_at..count_at + 4].copy_from_slice(&entries.to_be_bytes());
    mp4box::end(b, stsc);
    // stsz: a constant size when all are equal, else a table.
    let stsz = mp4box::begin_full(b, b"stsz", 0, 0);
    let first_size = samples().next().map_or(0, |s| s.size);
    let n = samples().count() as u32;
    if samples().all(|s| s.size == first_size) {
        put_u32(b, first_size);
        put_u32(b, n);
    } else {
        put_u32(b, 0);
        put_u32(b, n);
        for s in samples() {
            put_u32(b, s.size);
        }
    }
    mp4box::end(b, stsz);
    // Chunk offsets, filled in by the caller.
    let co = mp4box::begin_full(b, if co64 { b"co64" } else { b"stco" }, 0, 0);
    put_u32(b, num_chunks);
    let offsets_at = b.len();
    b.resize(b.len() + num_chunks as usize * if co64 { 8 } else { 4 }, 0);
    mp4box::end(b, co);

    mp4box::end(b, stbl);
    mp4box::end(b, minf);
    mp4box::end(b, mdia);
    mp4box::end(b, trak);
    mp4box::end(b, moov);
    offsets_at
}

/// A run-length table (`stts`, `ctts`): `count` then `(sample_count, value)` pairs.
fn put_rle(b: &mut Vec<u8>, typ: &[u8; 4], version: u8, values: impl Iterator<Item = u32>) {
    let start = mp4box::begin_full(b, typ, version, 0);
    let count_at = b.len();
    put_u32(b, 0);
    let mut entries = 0u32;
    let mut cur: Option<(u32, u32)> = None;
    for v in values {
        match &mut cur {
            Some((n, value)) if *value == v => *n += 1,
            _ => {
                if let Some((n, value)) = cur {
                    put_u32(b, n);
                    put_u32(b, value);
                    entries += 1;
                }
                cur = Some((1, v));
            }
        }
    }
    if let Some((n, value)) = cur {
        put_u32(b, n);
        put_u32(b, value);
        entries += 1;
    }
    b[count_at..count_at + 4].copy_from_slice(&entries.to_be_bytes());
    mp4box::end(b, start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4box::{find_child, read_header, HeaderRead};

    fn params() -> VideoParams {
        let sps = crate::testdata::SPS_320X240;
        crate::h264::video_params(sps, crate::testdata::PPS_320X240).unwrap()
    }

    fn s(duration: u32, size: u32, is_key: bool, cto: i32) -> Sample {
        Sample {
            duration,
            size,
            is_key,
            composition_offset: cto,
        }
    }

    /// Returns the body of the box at the path (e.g. `moov/trak/mdia`) in `head`.
    fn find<'a>(head: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
        let (mut start, mut end) = (0, head.len());
        for (depth, typ) in path.iter().enumerate() {
            let h = if depth == 0 {
                let mut pos = 0;
                loop {
                    match read_header(head, pos) {
                        HeaderRead::Box(h) if &h.typ == *typ => break h,
                        HeaderRead::Box(h) => pos = h.end as usize,
                        _ => return None,
                    }
                }
            } else {
                find_child(head, start, end, typ).ok()??
            };
            start = h.body;
            end = (h.end as usize).min(head.len());
        }
        Some(&head[start..end])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn tables_and_parts() {
        let runs = vec![
            Run {
                source: 0,
                offset: 1000,
                samples: vec![s(6000, 10, true, 0), s(6000, 20, false, 0)],
            },
            Run {
                source: 0,
                offset: 1030,
                samples: vec![s(6000, 5, true, 0), s(456_000, 7, false, 0)],
            },
            Run {
                source: 3,
                offset: 0,
                samples: vec![],
            },
            Run {
                source: 1,
                offset: 500,
                samples: vec![s(6000, 8, true, 0)],
            },
        ];
        let mp4 = build(&params(), &runs, 1_700_000_000).unwrap();
        let Part::Mem(head) = &mp4.parts[0] else {
            panic!("first part must be in memory")
        };
        // Adjacent runs of file 0 merge; the empty run is dropped.
        assert_eq!(
            &mp4.parts[1..],
            &[
                Part::File {
                    source: 0,
                    offset: 1000,
                    len: 42
                },
                Part::File {
                    source: 1,
                    offset: 500,
                    len: 8
                }
            ]
        );
        assert_eq!(mp4.len, head.len() as u64 + 50);
        assert_eq!(&head[head.len() - 4..], b"mdat");
        let stbl = [b"moov", b"trak", b"mdia", b"minf", b"stbl"];
        let sub = |t: &'static [u8; 4]| {
            let mut p = stbl.to_vec();
            p.push(t);
            find(head, &p).unwrap()
        };
        // stts: 3 x 6000, 1 x 456000, 1 x 6000.
        let stts = sub(b"stts");
        assert_eq!(u32_at(stts, 4), 3);
        assert_eq!(
            (
                u32_at(stts, 8),
                u32_at(stts, 12),
                u32_at(stts, 16),
                u32_at(stts, 20)
            ),
            (3, 6000, 1, 456_000)
        );
        let stss = sub(b"stss");
        assert_eq!(
            (u32_at(stss, 4), u32_at(stss, 8), u32_at(stss, 16)),
            (3, 1, 5)
        );
        let stsc = sub(b"stsc");
        assert_eq!(u32_at(stsc, 4), 2); // chunks of 2, 2 (one entry), then 1
        let stco = sub(b"stco");
        assert_eq!(u32_at(stco, 4), 3);
        let data_start = head.len() as u32;
        assert_eq!(
            (u32_at(stco, 8), u32_at(stco, 12), u32_at(stco, 16)),
            (data_start, data_start + 30, data_start + 42)
        );
        assert!(find(head, &[b"moov", b"trak", b"edts"]).is_none());
        // mdhd duration = sum of durations.
        let mdhd = find(head, &[b"moov", b"trak", b"mdia", b"mdhd"]).unwrap();
        assert_eq!(u32_at(mdhd, 12), 90_000);
        assert_eq!(u32_at(mdhd, 16), 480_000);
        assert_eq!(u64::from(u32_at(mdhd, 4)), 1_700_000_000 + 2_082_844_800);
    }

    #[test]
    fn composition_offsets_get_ctts_and_edit_list() {
        // Decode order I P B B, presentation order I B B P.
        let runs = vec![Run {
            source: 0,
            offset: 0,
            samples: vec![
                s(3000, 9, true, 3000),
                s(3000, 9, false, 12000),
                s(3000, 9, false, 0),
                s(3000, 9, false, 0),
            ],
        }];
        let mp4 = build(&params(), &runs, 0).unwrap();
        let Part::Mem(head) = &mp4.parts[0] else {
            panic!()
        };
        let ctts = find(
            head,
            &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"ctts"],
        )
        .unwrap();
        assert_eq!(ctts[0], 0, "non-negative offsets: version 0");
        assert_eq!(u32_at(ctts, 4), 3);
        let elst = find(head, &[b"moov", b"trak", b"edts", b"elst"]).unwrap();
        assert_eq!(
            (u32_at(elst, 4), u32_at(elst, 8), u32_at(elst, 12)),
            (1, 12000, 3000)
        );
        // All sizes equal: constant stsz.
        let stsz = find(
            head,
            &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz"],
        )
        .unwrap();
        assert_eq!((u32_at(stsz, 4), u32_at(stsz, 8), stsz.len()), (9, 4, 12));

        let mut neg = runs.clone();
        neg[0].samples[2].composition_offset = -3000;
        let mp4 = build(&params(), &neg, 0).unwrap();
        let Part::Mem(head) = &mp4.parts[0] else {
            panic!()
        };
        let ctts = find(
            head,
            &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"ctts"],
        )
        .unwrap();
        assert_eq!(ctts[0], 1, "negative offsets: version 1");
    }

    #[test]
    fn large_offsets_use_co64() {
        let big = s(6000, u32::MAX - 100, true, 0);
        let runs: Vec<Run> = (0..3)
            .map(|i| Run {
                source: i,
                offset: 0,
                samples: vec![big],
            })
            .collect();
        let mp4 = build(&params(), &runs, 0).unwrap();
        let Part::Mem(head) = &mp4.parts[0] else {
            panic!()
        };
        assert!(find(
            head,
            &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco"]
        )
        .is_none());
        let co64 = find(
            head,
            &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"co64"],
        )
        .unwrap();
        let off = |i: usize| u64::from_be_bytes(co64[8 + 8 * i..16 + 8 * i].try_into().unwrap());
        let data_start = head.len() as u64;
        assert_eq!(off(0), data_start);
        assert_eq!(off(2), data_start + 2 * u64::from(u32::MAX - 100));
        assert_eq!(&head[head.len() - 16..head.len() - 8], b"\0\0\0\x01mdat");
        assert_eq!(mp4.len, data_start + 3 * u64::from(u32::MAX - 100));
    }

    #[test]
    fn no_samples_is_an_error() {
        assert!(build(&params(), &[], 0).is_err());
    }

    #[test]
    fn slice_covers_ranges() {
        let mp4 = Mp4 {
            parts: vec![
                Part::Mem(bytes::Bytes::from_static(b"0123456789")),
                Part::File {
                    source: 0,
                    offset: 100,
                    len: 10,
                },
                Part::File {
                    source: 1,
                    offset: 0,
                    len: 5,
                },
            ],
            len: 25,
        };
        assert_eq!(mp4.slice(0..25), mp4.parts);
        assert_eq!(mp4.slice(0..100), mp4.parts);
        assert_eq!(
            mp4.slice(3..13),
            vec![
                Part::Mem(bytes::Bytes::from_static(b"3456789")),
                Part::File {
                    source: 0,
                    offset: 100,
                    len: 3
                }
            ]
        );
        assert_eq!(
            mp4.slice(12..22),
            vec![
                Part::File {
                    source: 0,
                    offset: 102,
                    len: 8
                },
                Part::File {
                    source: 1,
                    offset: 0,
                    len: 2
                }
            ]
        );
        assert!(mp4.slice(25..30).is_empty());
        assert!(mp4.slice(5..5).is_empty());
        // Every range's parts add up to its length.
        for a in 0..=25u64 {
            for b in a..=27 {
                let total: u64 = mp4.slice(a..b).iter().map(Part::len).sum();
                assert_eq!(total, b.min(25) - a.min(25));
            }
        }
    }
}
