//! Fragmented MP4 as Vigil writes it: `ftyp`+`moov` (one video track, id 1, timescale
//! 90 000, with `mvex`), then one `moof`+`mdat` per fragment (normally one GOP).
//!
//! The same bytes serve three readers: segment files on disk (which play on their own in
//! ffplay/VLC), the browser's Media Source Extensions for live view and playback, and
//! [`scan`], which finds the complete fragments of a file after a crash and for
//! `verify-storage`.
//!
//! Each fragment has one `traf` with `tfhd` (default-base-is-moof), `tfdt` (version 1) and
//! one `trun` carrying every sample's duration, size and flags, and composition offsets
//! (signed, `trun` version 1) only when some sample has one. The sample data follows in
//! the `mdat` directly after the `moof`.

use crate::mp4box::{self, fourcc, put_u32, put_u64, HeaderRead, Reader};
use crate::{Error, Sample, VideoParams, TIMESCALE};

/// `trun`/`trex` sample flags of a key frame: sample_depends_on = 2 (does not depend on
/// others).
pub const KEY_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// Sample flags of a non-key frame: sample_depends_on = 1, sample_is_non_sync_sample.
pub const NON_KEY_SAMPLE_FLAGS: u32 = 0x0101_0000;
const NON_SYNC_BIT: u32 = 0x0001_0000;

/// `ftyp` + `moov` for one video track described by `params`.
pub fn init_segment(params: &VideoParams) -> Vec<u8> {
    let mut b = Vec::with_capacity(720 + params.sample_entry.len());
    mp4box::put_ftyp(&mut b, params.codec, true);
    let moov = mp4box::begin(&mut b, b"moov");
    mp4box::put_mvhd(&mut b, 0, 0);
    let trak = mp4box::begin(&mut b, b"trak");
    mp4box::put_tkhd(&mut b, 0, 0, params.width, params.height);
    let mdia = mp4box::begin(&mut b, b"mdia");
    mp4box::put_mdhd(&mut b, 0, 0);
    mp4box::put_hdlr_vide(&mut b);
    let minf = mp4box::begin(&mut b, b"minf");
    mp4box::put_vmhd_dinf(&mut b);
    let stbl = mp4box::begin(&mut b, b"stbl");
    mp4box::put_stsd(&mut b, &params.sample_entry);
    for typ in [b"stts", b"stsc", b"stco"] {
        let s = mp4box::begin_full(&mut b, typ, 0, 0);
        put_u32(&mut b, 0); // entry_count
        mp4box::end(&mut b, s);
    }
    let stsz = mp4box::begin_full(&mut b, b"stsz", 0, 0);
    put_u32(&mut b, 0); // sample_size
    put_u32(&mut b, 0); // sample_count
    mp4box::end(&mut b, stsz);
    mp4box::end(&mut b, stbl);
    mp4box::end(&mut b, minf);
    mp4box::end(&mut b, mdia);
    mp4box::end(&mut b, trak);
    let mvex = mp4box::begin(&mut b, b"mvex");
    let trex = mp4box::begin_full(&mut b, b"trex", 0, 0);
    put_u32(&mut b, 1); // track_ID
    put_u32(&mut b, 1); // default_sample_description_index
    put_u32(&mut b, 0); // default_sample_duration
    put_u32(&mut b, 0); // default_sample_size
    put_u32(&mut b, NON_KEY_SAMPLE_FLAGS); // default_sample_flags
    mp4box::end(&mut b, trex);
    mp4box::end(&mut b, mvex);
    mp4box::end(&mut b, moov);
    b
}

/// `moof` + the 8-byte `mdat` header for one fragment. The caller writes these bytes and
/// then the samples' data, in order; the fragment's total length is
/// `header.len() + sum(sample.size)`.
///
/// The `mdat` header is 16 bytes instead of 8 only when the samples total 4 GiB or more.
///
/// # Panics
///
/// If `samples` has more than 100 million entries (the `moof` would not fit its size field).
pub fn fragment_header(sequence: u32, base_decode_time: u64, samples: &[Sample]) -> Vec<u8> {
    let mut b = Vec::new();
    fragment_header_into(&mut b, sequence, base_decode_time, samples);
    b
}

/// Length of the header [`fragment_header`] returns for these samples, without building it
/// (`data_offset - offset` of the fragment).
pub fn fragment_header_len(samples: &[Sample]) -> u64 {
    let (moof_len, _, _) = fragment_layout(samples);
    let data_len: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    moof_len as u64 + mp4box::mdat_header_len(data_len)
}

/// `(moof length, trun length, whether composition offsets are written)`.
fn fragment_layout(samples: &[Sample]) -> (usize, usize, bool) {
    let has_cto = samples.iter().any(|s| s.composition_offset != 0);
    let per_sample = if has_cto { 16 } else { 12 };
    let trun_len = 8 + 4 + 4 + 4 + per_sample * samples.len();
    let traf_len = 8 + 16 /* tfhd */ + 20 /* tfdt */ + trun_len;
    let moof_len = 8 + 16 /* mfhd */ + traf_len;
    (moof_len, trun_len, has_cto)
}

/// Like [`fragment_header`], but appends to `buf` (which the caller may reuse, so that
/// writing a fragment allocates nothing once the buffer has grown).
pub fn fragment_header_into(
    buf: &mut Vec<u8>,
    sequence: u32,
    base_decode_time: u64,
    samples: &[Sample],
) {
    assert!(
        samples.len() <= 100_000_000,
        "a fragment of {} samples is too large for one moof",
        samples.len()
    );
    let (moof_len, trun_len, has_cto) = fragment_layout(samples);
    let data_len: u64 = samples.iter().map(|s| u64::from(s.size)).sum();
    let mdat_hdr = mp4box::mdat_header_len(data_len);
    buf.reserve(moof_len + mdat_hdr as usize);
    let b = buf;

    put_u32(b, moof_len as u32);
    b.extend_from_slice(b"moof");
    // mfhd
    put_u32(b, 16);
    b.extend_from_slice(b"mfhd");
    put_u32(b, 0);
    put_u32(b, sequence);
    // traf
    put_u32(b, (moof_len - 24) as u32);
    b.extend_from_slice(b"traf");
    // tfhd: default-base-is-moof
    put_u32(b, 16);
    b.extend_from_slice(b"tfhd");
    put_u32(b, 0x0002_0000);
    put_u32(b, 1); // track_ID
                   // tfdt version 1
    put_u32(b, 20);
    b.extend_from_slice(b"tfdt");
    put_u32(b, 0x0100_0000);
    put_u64(b, base_decode_time);
    // trun: data-offset, duration, size, flags [, composition offset]
    put_u32(b, trun_len as u32);
    b.extend_from_slice(b"trun");
    let (version, flags) = if has_cto { (1u32, 0xf01) } else { (0, 0x701) };
    put_u32(b, (version << 24) | flags);
    put_u32(b, samples.len() as u32);
    put_u32(b, (moof_len as u64 + mdat_hdr) as u32); // data_offset from the moof's start
    for s in samples {
        put_u32(b, s.duration);
        put_u32(b, s.size);
        put_u32(
            b,
            if s.is_key {
                KEY_SAMPLE_FLAGS
            } else {
                NON_KEY_SAMPLE_FLAGS
            },
        );
        if has_cto {
            b.extend_from_slice(&s.composition_offset.to_be_bytes());
        }
    }
    mp4box::put_mdat_header(b, data_len);
}

/// One complete `moof`+`mdat` pair found by [`scan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedFragment {
    /// Offset of the `moof` box in the file.
    pub offset: u64,
    /// Offset of the first sample's data (inside `mdat`).
    pub data_offset: u64,
    /// Offset one past the end of the `mdat` box.
    pub end: u64,
    pub sequence: u32,
    pub base_decode_time: u64,
    pub samples: Vec<Sample>,
}

/// Why [`scan`] stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tail {
    /// At the end of the data, after a complete box.
    End,
    /// At a box that the data ends inside of (a crash or a copy still being written);
    /// `offset` is that fragment's start, or 0 while the init segment is incomplete.
    Incomplete { offset: u64 },
    /// At bytes that are not a box Vigil writes there (garbage, or a damaged fragment).
    Unexpected { offset: u64, detail: String },
}

/// What [`scan`] found in a file image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Length of `ftyp`+`moov` (0 if they are not complete).
    pub init_len: u64,
    /// The `moov`'s sample entry box, if the init segment is complete.
    pub sample_entry: Option<Vec<u8>>,
    pub fragments: Vec<ScannedFragment>,
    /// Bytes up to the end of the last complete fragment (or of the init segment): the
    /// length to truncate a crashed file to.
    pub valid_len: u64,
    /// Where and why the scan stopped; anything but [`Tail::End`] means bytes past
    /// `valid_len` were ignored.
    pub tail: Tail,
}

/// Defaults from `trex` (used when a `tfhd`/`trun` omits a field).
#[derive(Clone, Copy, Default)]
struct TrackDefaults {
    duration: u32,
    size: u32,
    flags: u32,
}

/// Scans a file image as written by this module. Stops, without error, at the first box
/// that is incomplete (a crash mid-write); errors only when the bytes are not our fMP4 at all.
///
/// Never panics, whatever the input.
pub fn scan(data: &[u8]) -> Result<Scan, Error> {
    let mut out = Scan {
        init_len: 0,
        sample_entry: None,
        fragments: Vec::new(),
        valid_len: 0,
        tail: Tail::End,
    };
    // The head: an `ftyp` box (or a prefix of one).
    let n = data.len().min(8);
    if n > 4 && data[4..n] != b"ftyp"[..n - 4] {
        return Err(not_fmp4(
            0,
            "the file does not start with an ftyp box".into(),
        ));
    }
    let mut pos = 0usize;
    let mut have_moov = false;
    let mut defaults = TrackDefaults::default();
    // Init segment: ftyp, then moov (skipping free space boxes in between).
    while !have_moov {
        let h = match mp4box::read_header(data, pos) {
            HeaderRead::NeedMore if data.is_empty() => return Ok(out),
            HeaderRead::NeedMore => {
                out.tail = Tail::Incomplete { offset: 0 };
                return Ok(out);
            }
            HeaderRead::Invalid(d) => return Err(not_fmp4(pos as u64, d)),
            HeaderRead::Box(h) => h,
        };
        let ok_here = match &h.typ {
            b"ftyp" => pos == 0,
            b"moov" => pos > 0,
            b"free" | b"skip" | b"uuid" => pos > 0,
            _ => false,
        };
        if !ok_here {
            return Err(not_fmp4(
                pos as u64,
                format!("unexpected {} box before the moov", fourcc(&h.typ)),
            ));
        }
        if h.end > data.len() as u64 {
            out.tail = Tail::Incomplete { offset: 0 };
            return Ok(out);
        }
        let end = h.end as usize;
        if &h.typ == b"moov" {
            let (entry, d) =
                parse_moov(data, h.body, end).map_err(|(offset, detail)| Error::Malformed {
                    what: "fMP4 moov",
                    offset,
                    detail,
                })?;
            out.sample_entry = Some(entry.to_vec());
            defaults = d;
            have_moov = true;
            out.init_len = h.end;
            out.valid_len = h.end;
        }
        pos = end;
    }

    // Fragments.
    loop {
        let h = match mp4box::read_header(data, pos) {
            HeaderRead::NeedMore => {
                out.tail = incomplete_or_end(data, pos);
                break;
            }
            HeaderRead::Invalid(detail) => {
                out.tail = Tail::Unexpected {
                    offset: pos as u64,
                    detail,
                };
                break;
            }
            HeaderRead::Box(h) => h,
        };
        match &h.typ {
            b"moof" => {}
            b"free" | b"skip" | b"styp" | b"sidx" | b"prft" | b"emsg" | b"uuid" => {
                if h.end > data.len() as u64 {
                    out.tail = Tail::Incomplete { offset: pos as u64 };
                    break;
                }
                pos = h.end as usize;
                continue;
            }
            t => {
                out.tail = Tail::Unexpected {
                    offset: pos as u64,
                    detail: format!("{} box where a moof was expected", fourcc(t)),
                };
                break;
            }
        }
        if h.end > data.len() as u64 {
            out.tail = Tail::Incomplete { offset: pos as u64 };
            break;
        }
        let moof_end = h.end as usize;
        let mdat = match mp4box::read_header(data, moof_end) {
            HeaderRead::NeedMore => {
                out.tail = Tail::Incomplete { offset: pos as u64 };
                break;
            }
            HeaderRead::Invalid(detail) => {
                out.tail = Tail::Unexpected {
                    offset: moof_end as u64,
                    detail: format!("after the moof: {detail}"),
                };
                break;
            }
            HeaderRead::Box(m) if &m.typ != b"mdat" => {
                out.tail = Tail::Unexpected {
                    offset: moof_end as u64,
                    detail: format!("{} box where an mdat was expected", fourcc(&m.typ)),
                };
                break;
            }
            HeaderRead::Box(m) => m,
        };
        if mdat.end > data.len() as u64 {
            out.tail = Tail::Incomplete { offset: pos as u64 };
            break;
        }
        match parse_moof(data, pos, h.body, moof_end, defaults) {
            Ok(mut f) => {
                let data_end = f
                    .data_offset
                    .saturating_add(f.samples.iter().map(|s| u64::from(s.size)).sum::<u64>());
                if f.data_offset < mdat.body as u64 || data_end > mdat.end {
                    out.tail = Tail::Unexpected {
                        offset: pos as u64,
                        detail: format!(
                            "sample data {}..{} lies outside its mdat {}..{}",
                            f.data_offset, data_end, mdat.body, mdat.end
                        ),
                    };
                    break;
                }
                f.end = mdat.end;
                out.valid_len = mdat.end;
                pos = mdat.end as usize;
                out.fragments.push(f);
            }
            Err(detail) => {
                out.tail = Tail::Unexpected {
                    offset: pos as u64,
                    detail,
                };
                break;
            }
        }
    }
    Ok(out)
}

fn not_fmp4(offset: u64, detail: String) -> Error {
    Error::Malformed {
        what: "fragmented MP4 file",
        offset,
        detail,
    }
}

fn incomplete_or_end(data: &[u8], pos: usize) -> Tail {
    if pos >= data.len() {
        Tail::End
    } else {
        Tail::Incomplete { offset: pos as u64 }
    }
}

type MoovError = (u64, String);

/// Finds a required child, mapping errors to `(offset, detail)`.
fn need(
    data: &[u8],
    parent: &mp4box::Header,
    parent_end: usize,
    typ: &[u8; 4],
) -> Result<mp4box::Header, MoovError> {
    match mp4box::find_child(data, parent.body, parent_end, typ) {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err((
            parent.start as u64,
            format!("{} has no {} box", fourcc(&parent.typ), fourcc(typ)),
        )),
        Err(d) => Err((parent.start as u64, d)),
    }
}

/// Parses `moov` (body `data[body..end]`): returns the sample entry of its (first) track
/// and the `trex` defaults. Requires a video track with a 90 kHz timescale and `mvex`.
fn parse_moov(data: &[u8], body: usize, end: usize) -> Result<(&[u8], TrackDefaults), MoovError> {
    let moov = mp4box::Header {
        typ: *b"moov",
        start: body - 8,
        body,
        end: end as u64,
    };
    let trak = need(data, &moov, end, b"trak")?;
    let mdia = need(data, &trak, trak.end as usize, b"mdia")?;
    let mdhd = need(data, &mdia, mdia.end as usize, b"mdhd")?;
    let mut r = Reader::new(&data[mdhd.body..mdhd.end as usize]);
    let timescale = (|| {
        let (v, _) = r.full()?;
        r.bytes(if v == 1 { 16 } else { 8 })?;
        r.u32()
    })()
    .map_err(|d| (mdhd.start as u64, format!("mdhd: {d}")))?;
    if timescale != TIMESCALE {
        return Err((
            mdhd.start as u64,
            format!("track timescale is {timescale}, Vigil writes {TIMESCALE}"),
        ));
    }
    let hdlr = need(data, &mdia, mdia.end as usize, b"hdlr")?;
    let handler = data.get(hdlr.body + 8..hdlr.body + 12);
    if handler != Some(&b"vide"[..]) {
        return Err((
            hdlr.start as u64,
            "the first track is not a video track".into(),
        ));
    }
    let minf = need(data, &mdia, mdia.end as usize, b"minf")?;
    let stbl = need(data, &minf, minf.end as usize, b"stbl")?;
    let stsd = need(data, &stbl, stbl.end as usize, b"stsd")?;
    // stsd body: version/flags, entry_count, then the entries.
    let entries = stsd.body + 8;
    let entry = match mp4box::read_header(&data[..stsd.end as usize], entries) {
        HeaderRead::Box(h) if h.end <= stsd.end => &data[h.start..h.end as usize],
        _ => {
            return Err((
                stsd.start as u64,
                "stsd has no complete sample entry".into(),
            ))
        }
    };
    let mvex = need(data, &moov, end, b"mvex").map_err(|(o, _)| {
        (
            o,
            "moov has no mvex: this is a progressive MP4, not a fragmented one".to_string(),
        )
    })?;
    let trex = need(data, &mvex, mvex.end as usize, b"trex")?;
    let mut r = Reader::new(&data[trex.body..trex.end as usize]);
    let defaults = (|| {
        r.full()?;
        r.u32()?; // track_ID
        r.u32()?; // default_sample_description_index
        Ok::<_, String>(TrackDefaults {
            duration: r.u32()?,
            size: r.u32()?,
            flags: r.u32()?,
        })
    })()
    .map_err(|d| (trex.start as u64, format!("trex: {d}")))?;
    Ok((entry, defaults))
}

/// Parses a `moof` (at `start`, body `data[body..end]`) into a fragment (its `end` is set
/// by the caller).
fn parse_moof(
    data: &[u8],
    start: usize,
    body: usize,
    end: usize,
    defaults: TrackDefaults,
) -> Result<ScannedFragment, String> {
    let mut sequence = None;
    let mut traf = None;
    for c in mp4box::children(data, body, end) {
        let c = c.map_err(|d| format!("moof: {d}"))?;
        match &c.typ {
            b"mfhd" => {
                let mut r = Reader::new(&data[c.body..c.end as usize]);
                r.full()?;
                sequence = Some(r.u32().map_err(|d| format!("mfhd: {d}"))?);
            }
            b"traf" if traf.is_some() => {
                return Err("moof has more than one traf; Vigil writes one track".into())
            }
            b"traf" => traf = Some(c),
            _ => {}
        }
    }
    let sequence = sequence.ok_or("moof has no mfhd")?;
    let traf = traf.ok_or("moof has no traf")?;
    let mut base = start as u64;
    let mut d = defaults;
    let mut base_decode_time = None;
    let mut have_tfhd = false;
    let mut samples = Vec::new();
    let mut data_offset: Option<u64> = None;
    let mut next_data: u64 = 0;
    for c in mp4box::children(data, traf.body, traf.end as usize) {
        let c = c.map_err(|d| format!("traf: {d}"))?;
        let mut r = Reader::new(&data[c.body..c.end as usize]);
        match &c.typ {
            b"tfhd" => {
                let (_, flags) = r.full()?;
                r.u32()?; // track_ID
                if flags & 0x01 != 0 {
                    base = r.u64()?;
                }
                if flags & 0x02 != 0 {
                    r.u32()?; // sample_description_index
                }
                if flags & 0x08 != 0 {
                    d.duration = r.u32()?;
                }
                if flags & 0x10 != 0 {
                    d.size = r.u32()?;
                }
                if flags & 0x20 != 0 {
                    d.flags = r.u32()?;
                }
                have_tfhd = true;
            }
            b"tfdt" => {
                let (v, _) = r.full()?;
                base_decode_time = Some(if v == 1 {
                    r.u64()?
                } else {
                    u64::from(r.u32()?)
                });
            }
            b"trun" => {
                if !have_tfhd {
                    return Err("trun before tfhd".into());
                }
                let (version, flags) = r.full()?;
                let count = r.u32()? as usize;
                let run_start = if flags & 0x01 != 0 {
                    let off = r.u32()? as i32;
                    base.checked_add_signed(i64::from(off))
                        .ok_or("trun data offset before the file start")?
                } else if data_offset.is_none() {
                    base
                } else {
                    next_data
                };
                let first_flags = if flags & 0x04 != 0 {
                    Some(r.u32()?)
                } else {
                    None
                };
                let per_sample = 4 * [0x100, 0x200, 0x400, 0x800]
                    .iter()
                    .filter(|&&f| flags & f != 0)
                    .count();
                if per_sample > 0 && count > r.remaining() / per_sample {
                    return Err(format!(
                        "trun claims {count} samples but holds only {} bytes",
                        r.remaining()
                    ));
                }
                if per_sample == 0 && count > 10_000_000 {
                    return Err(format!("trun claims an implausible {count} samples"));
                }
                match data_offset {
                    None => data_offset = Some(run_start),
                    Some(_) if run_start != next_data => {
                        return Err("trun sample data is not contiguous".into())
                    }
                    Some(_) => {}
                }
                samples.reserve(count);
                let mut run_len = 0u64;
                for i in 0..count {
                    let duration = if flags & 0x100 != 0 {
                        r.u32()?
                    } else {
                        d.duration
                    };
                    let size = if flags & 0x200 != 0 { r.u32()? } else { d.size };
                    let mut sflags = if flags & 0x400 != 0 {
                        r.u32()?
                    } else {
                        d.flags
                    };
                    if i == 0 {
                        if let Some(f) = first_flags {
                            sflags = f;
                        }
                    }
                    let composition_offset = if flags & 0x800 != 0 {
                        let v = r.u32()?;
                        if version == 0 {
                            i32::try_from(v).map_err(|_| {
                                format!("unsigned composition offset {v} out of range")
                            })?
                        } else {
                            v as i32
                        }
                    } else {
                        0
                    };
                    run_len += u64::from(size);
                    samples.push(Sample {
                        duration,
                        size,
                        is_key: sflags & NON_SYNC_BIT == 0,
                        composition_offset,
                    });
                }
                next_data = run_start.saturating_add(run_len);
            }
            _ => {}
        }
    }
    Ok(ScannedFragment {
        offset: start as u64,
        data_offset: data_offset.ok_or("traf has no trun")?,
        end: 0,
        sequence,
        base_decode_time: base_decode_time.ok_or("traf has no tfdt")?,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;

    pub(crate) fn params() -> VideoParams {
        let sps = crate::testdata::SPS_320X240;
        let pps = crate::testdata::PPS_320X240;
        VideoParams {
            codec: Codec::H264,
            width: 320,
            height: 240,
            rfc6381: "avc1.42C00C".into(),
            sample_entry: crate::h264::sample_entry_avc1(sps, pps, 320, 240),
        }
    }

    fn sample(size: u32, is_key: bool, cto: i32) -> Sample {
        Sample {
            duration: 6000,
            size,
            is_key,
            composition_offset: cto,
        }
    }

    /// A small file: init + 3 fragments of synthetic (not decodable) data.
    fn small_file() -> (Vec<u8>, Vec<(u64, u64)>) {
        let mut f = init_segment(&params());
        let init_len = f.len() as u64;
        let mut bounds = vec![(0, init_len)];
        let mut bdt = 0;
        for (seq, n) in [(1u32, 3usize), (2, 1), (3, 2)] {
            let start = f.len() as u64;
            let samples: Vec<Sample> = (0..n)
                .map(|i| sample(5 + i as u32 * 3, i == 0, 0))
                .collect();
            f.extend_from_slice(&fragment_header(seq, bdt, &samples));
            for s in &samples {
                f.extend(std::iter::repeat_n(seq as u8, s.size as usize));
            }
            bdt += 6000 * n as u64;
            bounds.push((start, f.len() as u64));
        }
        (f, bounds)
    }

    #[test]
    fn init_segment_structure() {
        let p = params();
        let init = init_segment(&p);
        let s = scan(&init).unwrap();
        assert_eq!(s.init_len, init.len() as u64);
        assert_eq!(s.valid_len, init.len() as u64);
        assert_eq!(s.sample_entry.as_deref(), Some(&p.sample_entry[..]));
        assert_eq!(s.tail, Tail::End);
        assert!(s.fragments.is_empty());
        assert_eq!(&init[4..8], b"ftyp");
        // tkhd width/height in 16.16.
        let tkhd = init.windows(4).position(|w| w == b"tkhd").unwrap() - 4;
        let wh = &init[tkhd + 84..tkhd + 92];
        assert_eq!(wh, &[0x01, 0x40, 0, 0, 0, 0xf0, 0, 0][..]);
    }

    #[test]
    fn fragment_header_layout() {
        let samples = [sample(100, true, 0), sample(50, false, 0)];
        let h = fragment_header(7, 1 << 40, &samples);
        assert_eq!(h.len() as u64, fragment_header_len(&samples));
        let moof_len = u32::from_be_bytes(h[0..4].try_into().unwrap()) as usize;
        assert_eq!(&h[moof_len + 4..moof_len + 8], b"mdat");
        assert_eq!(h.len(), moof_len + 8);
        let mdat_len = u32::from_be_bytes(h[moof_len..moof_len + 4].try_into().unwrap());
        assert_eq!(mdat_len, 158);
        // trun version 0 (no composition offsets), data_offset = moof + 8.
        let trun = h.windows(4).position(|w| w == b"trun").unwrap() - 4;
        assert_eq!(h[trun + 8], 0);
        assert_eq!(&h[trun + 9..trun + 12], &[0, 0x07, 0x01]);
        let off = u32::from_be_bytes(h[trun + 16..trun + 20].try_into().unwrap());
        assert_eq!(off as usize, moof_len + 8);
        // Sample flags.
        assert_eq!(&h[trun + 28..trun + 32], &KEY_SAMPLE_FLAGS.to_be_bytes());
        assert_eq!(
            &h[trun + 40..trun + 44],
            &NON_KEY_SAMPLE_FLAGS.to_be_bytes()
        );
    }

    #[test]
    fn composition_offsets_round_trip_at_box_level() {
        // I P B B P B B with signed offsets (as if the edit list were not shifting).
        let samples = [
            sample(30, true, 0),
            sample(10, false, 9000),
            sample(5, false, -6000),
            sample(5, false, -6000),
            sample(10, false, 9000),
            sample(5, false, -6000),
            sample(5, false, -6000),
        ];
        let h = fragment_header(1, 0, &samples);
        let trun = h.windows(4).position(|w| w == b"trun").unwrap() - 4;
        assert_eq!(h[trun + 8], 1, "trun version 1 for signed offsets");
        assert_eq!(&h[trun + 9..trun + 12], &[0, 0x0f, 0x01]);
        let mut file = init_segment(&params());
        let init_len = file.len() as u64;
        file.extend_from_slice(&h);
        file.resize(file.len() + 70, 0xab);
        let s = scan(&file).unwrap();
        assert_eq!(s.fragments.len(), 1);
        assert_eq!(s.fragments[0].samples, samples);
        assert_eq!(s.fragments[0].offset, init_len);
        assert_eq!(s.fragments[0].data_offset, init_len + h.len() as u64);
    }

    #[test]
    fn large_mdat_uses_64_bit_header() {
        let samples = [sample(u32::MAX, true, 0), sample(10, false, 0)];
        let h = fragment_header(1, 0, &samples);
        let moof_len = u32::from_be_bytes(h[0..4].try_into().unwrap()) as usize;
        assert_eq!(h.len(), moof_len + 16);
        assert_eq!(
            &h[moof_len..moof_len + 8],
            &[0, 0, 0, 1, b'm', b'd', b'a', b't']
        );
        let large = u64::from_be_bytes(h[moof_len + 8..].try_into().unwrap());
        assert_eq!(large, u64::from(u32::MAX) + 10 + 16);
    }

    #[test]
    fn scan_round_trip() {
        let (f, bounds) = small_file();
        let s = scan(&f).unwrap();
        assert_eq!(s.init_len, bounds[0].1);
        assert_eq!(s.valid_len, f.len() as u64);
        assert_eq!(s.tail, Tail::End);
        assert_eq!(s.fragments.len(), 3);
        let mut bdt = 0;
        for (i, fr) in s.fragments.iter().enumerate() {
            assert_eq!(fr.sequence, i as u32 + 1);
            assert_eq!((fr.offset, fr.end), bounds[i + 1]);
            assert_eq!(fr.base_decode_time, bdt);
            assert!(fr.samples[0].is_key);
            assert!(fr.samples[1..].iter().all(|s| !s.is_key));
            let data = &f[fr.data_offset as usize..fr.end as usize];
            assert!(data.iter().all(|&b| b == fr.sequence as u8));
            bdt += 6000 * fr.samples.len() as u64;
        }
    }

    /// Every prefix of a small file scans without panic, to the right length.
    #[test]
    fn every_truncation() {
        let (f, bounds) = small_file();
        for len in 0..=f.len() {
            let s = scan(&f[..len]).unwrap_or_else(|e| panic!("prefix {len}: {e}"));
            let len = len as u64;
            let expect_valid = bounds
                .iter()
                .map(|b| b.1)
                .filter(|&e| e <= len)
                .max()
                .unwrap_or(0);
            assert_eq!(s.valid_len, expect_valid, "prefix {len}");
            let complete = bounds[1..].iter().filter(|b| b.1 <= len).count();
            assert_eq!(s.fragments.len(), complete, "prefix {len}");
            assert_eq!(s.init_len, if len >= bounds[0].1 { bounds[0].1 } else { 0 });
            let expect_tail = if bounds.iter().any(|b| b.1 == len) || len == 0 {
                Tail::End
            } else {
                Tail::Incomplete {
                    offset: expect_valid,
                }
            };
            assert_eq!(s.tail, expect_tail, "prefix {len}");
        }
    }

    #[test]
    fn garbage_after_last_fragment() {
        let (mut f, bounds) = small_file();
        let end = f.len() as u64;
        f.extend_from_slice(b"\x00\x00\x00\x10junkjunkjunkjunk and more");
        let s = scan(&f).unwrap();
        assert_eq!(s.valid_len, end);
        assert_eq!(s.fragments.len(), bounds.len() - 1);
        assert!(matches!(s.tail, Tail::Unexpected { offset, .. } if offset == end));
        // Zeros (a preallocated tail) too.
        let (mut f, _) = small_file();
        f.resize(f.len() + 4096, 0);
        let s = scan(&f).unwrap();
        assert_eq!(s.valid_len, end);
    }

    #[test]
    fn not_an_fmp4() {
        assert!(scan(b"\x00\x00\x00\x08moov").is_err());
        assert!(scan(b"GIF89a....").is_err());
        assert_eq!(scan(b"").unwrap().valid_len, 0);
        assert_eq!(scan(b"\x00\x00\x00\x14ft").unwrap().valid_len, 0);
        // ftyp then moof: no init segment.
        let (f, bounds) = small_file();
        let ftyp_len = u32::from_be_bytes(f[0..4].try_into().unwrap()) as usize;
        let mut g = f[..ftyp_len].to_vec();
        g.extend_from_slice(&f[bounds[1].0 as usize..]);
        assert!(scan(&g).is_err());
    }

    /// A hand-made moof whose tfhd base-data-offset points near the end of the 64-bit range.
    #[test]
    fn hostile_base_data_offset() {
        use crate::mp4box::{begin, begin_full, end};
        let mut f = init_segment(&params());
        let valid = f.len() as u64;
        let moof = begin(&mut f, b"moof");
        let mfhd = begin_full(&mut f, b"mfhd", 0, 0);
        put_u32(&mut f, 1);
        end(&mut f, mfhd);
        let traf = begin(&mut f, b"traf");
        let tfhd = begin_full(&mut f, b"tfhd", 0, 0x01);
        put_u32(&mut f, 1);
        put_u64(&mut f, u64::MAX - 5);
        end(&mut f, tfhd);
        let tfdt = begin_full(&mut f, b"tfdt", 1, 0);
        put_u64(&mut f, 0);
        end(&mut f, tfdt);
        let trun = begin_full(&mut f, b"trun", 0, 0x201);
        put_u32(&mut f, 2);
        put_u32(&mut f, 0x7fff_ffff);
        put_u32(&mut f, u32::MAX);
        put_u32(&mut f, u32::MAX);
        end(&mut f, trun);
        end(&mut f, traf);
        end(&mut f, moof);
        f.extend_from_slice(b"\0\0\0\x10mdat01234567");
        let s = scan(&f).unwrap();
        assert_eq!(s.valid_len, valid);
        assert!(matches!(s.tail, Tail::Unexpected { .. }), "{:?}", s.tail);
    }

    /// Deterministic corruption: flipping bytes anywhere never panics, and what is found
    /// always lies within the data.
    #[test]
    fn corrupted_bytes_never_panic() {
        let (f, _) = small_file();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut g = f.clone();
            for k in 0..(1 + (x >> 60) as usize) {
                let i = ((x >> (k * 3)) as usize) % g.len();
                g[i] = (x >> 32) as u8 ^ (k as u8);
            }
            let cut = ((x >> 20) as usize) % (g.len() + 1);
            if let Ok(s) = scan(&g[..cut]) {
                assert!(s.valid_len <= cut as u64);
                for fr in &s.fragments {
                    assert!(fr.end <= s.valid_len);
                    let sum: u64 = fr.samples.iter().map(|s| u64::from(s.size)).sum();
                    assert!(fr.data_offset + sum <= fr.end);
                }
            }
        }
    }
}
