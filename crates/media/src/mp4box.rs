//! ISO BMFF box writing and reading helpers shared by [`crate::fmp4`] and
//! [`crate::progressive`]. Writers append to a `Vec<u8>`; readers are bounds-checked and
//! never panic.

use crate::{Codec, TIMESCALE};

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01 (the Unix epoch).
pub(crate) const MP4_EPOCH_OFFSET: u64 = 2_082_844_800;

/// The identity transformation matrix of `mvhd`/`tkhd`.
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

#[inline]
pub(crate) fn put_u8(b: &mut Vec<u8>, v: u8) {
    b.push(v);
}
#[inline]
pub(crate) fn put_u16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}
#[inline]
pub(crate) fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}
#[inline]
pub(crate) fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// Starts a box: writes a placeholder size and the type; returns the box's start for [`end`].
#[inline]
pub(crate) fn begin(b: &mut Vec<u8>, typ: &[u8; 4]) -> usize {
    let start = b.len();
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(typ);
    start
}

/// Starts a full box (with version and flags).
#[inline]
pub(crate) fn begin_full(b: &mut Vec<u8>, typ: &[u8; 4], version: u8, flags: u32) -> usize {
    let start = begin(b, typ);
    put_u32(b, (u32::from(version) << 24) | (flags & 0x00ff_ffff));
    start
}

/// Ends a box started with [`begin`]/[`begin_full`] by patching its size.
///
/// Panics if the box is 4 GiB or larger: callers only use this for header boxes whose size
/// they bound beforehand (`mdat` headers are written separately).
#[inline]
pub(crate) fn end(b: &mut [u8], start: usize) {
    let len = u32::try_from(b.len() - start).expect("MP4 header box larger than 4 GiB");
    b[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Writes an `mdat` header for `payload_len` bytes of data; the 16-byte form only if needed.
pub(crate) fn put_mdat_header(b: &mut Vec<u8>, payload_len: u64) {
    match u32::try_from(payload_len + 8) {
        Ok(size) => {
            put_u32(b, size);
            b.extend_from_slice(b"mdat");
        }
        Err(_) => {
            put_u32(b, 1);
            b.extend_from_slice(b"mdat");
            put_u64(b, payload_len + 16);
        }
    }
}

/// Length of the `mdat` header [`put_mdat_header`] writes for `payload_len` bytes.
pub(crate) fn mdat_header_len(payload_len: u64) -> u64 {
    if payload_len + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    }
}

/// `ftyp`. `fragmented` adds the `iso6` brand (movie fragments with `tfdt`).
pub(crate) fn put_ftyp(b: &mut Vec<u8>, codec: Codec, fragmented: bool) {
    let start = begin(b, b"ftyp");
    b.extend_from_slice(b"isom");
    put_u32(b, 0x200);
    b.extend_from_slice(b"isom");
    if fragmented {
        b.extend_from_slice(b"iso6");
    } else {
        b.extend_from_slice(b"iso2");
    }
    b.extend_from_slice(b"mp41");
    b.extend_from_slice(match codec {
        Codec::H264 => b"avc1",
        Codec::H265 => b"hvc1",
    });
    end(b, start);
}

/// Writes `creation`, `modification` (both `time`), a 32-bit field `mid` (timescale or
/// track id) and `duration`, in version 0 or 1 as `version` says.
fn put_times(b: &mut Vec<u8>, version: u8, time: u64, mid: u32, duration: u64) {
    if version == 1 {
        put_u64(b, time);
        put_u64(b, time);
        put_u32(b, mid);
        put_u64(b, duration);
    } else {
        put_u32(b, time as u32);
        put_u32(b, time as u32);
        put_u32(b, mid);
        put_u32(b, duration as u32);
    }
}

fn version_for(time: u64, duration: u64) -> u8 {
    u8::from(time > u64::from(u32::MAX) || duration > u64::from(u32::MAX))
}

/// `mvhd` with timescale 90 kHz. `time` is in MP4-epoch seconds (0 for "unknown").
pub(crate) fn put_mvhd(b: &mut Vec<u8>, time: u64, duration: u64) {
    let version = version_for(time, duration);
    let start = begin_full(b, b"mvhd", version, 0);
    put_times(b, version, time, TIMESCALE, duration);
    put_u32(b, 0x0001_0000); // rate 1.0
    put_u16(b, 0x0100); // volume 1.0
    b.extend_from_slice(&[0; 10]); // reserved
    for m in MATRIX {
        put_u32(b, m);
    }
    b.extend_from_slice(&[0; 24]); // pre_defined
    put_u32(b, 2); // next_track_ID
    end(b, start);
}

/// `tkhd` of track 1, enabled and in the movie. `duration` in the movie timescale.
pub(crate) fn put_tkhd(b: &mut Vec<u8>, time: u64, duration: u64, width: u32, height: u32) {
    let version = version_for(time, duration);
    let start = begin_full(b, b"tkhd", version, 0x3);
    if version == 1 {
        put_u64(b, time);
        put_u64(b, time);
        put_u32(b, 1);
        put_u32(b, 0);
        put_u64(b, duration);
    } else {
        put_u32(b, time as u32);
        put_u32(b, time as u32);
        put_u32(b, 1);
        put_u32(b, 0);
        put_u32(b, duration as u32);
    }
    b.extend_from_slice(&[0; 8]); // reserved
    put_u16(b, 0); // layer
    put_u16(b, 0); // alternate_group
    put_u16(b, 0); // volume
    put_u16(b, 0); // reserved
    for m in MATRIX {
        put_u32(b, m);
    }
    put_u32(b, width.min(0xffff) << 16);
    put_u32(b, height.min(0xffff) << 16);
    end(b, start);
}

/// `mdhd` with timescale 90 kHz and language `und`.
pub(crate) fn put_mdhd(b: &mut Vec<u8>, time: u64, duration: u64) {
    let version = version_for(time, duration);
    let start = begin_full(b, b"mdhd", version, 0);
    put_times(b, version, time, TIMESCALE, duration);
    put_u16(b, 0x55c4); // 'und'
    put_u16(b, 0);
    end(b, start);
}

/// `hdlr` for video.
pub(crate) fn put_hdlr_vide(b: &mut Vec<u8>) {
    let start = begin_full(b, b"hdlr", 0, 0);
    put_u32(b, 0); // pre_defined
    b.extend_from_slice(b"vide");
    b.extend_from_slice(&[0; 12]);
    b.extend_from_slice(b"VideoHandler\0");
    end(b, start);
}

/// `vmhd` + `dinf` (self-contained data reference).
pub(crate) fn put_vmhd_dinf(b: &mut Vec<u8>) {
    let start = begin_full(b, b"vmhd", 0, 1);
    b.extend_from_slice(&[0; 8]); // graphicsmode, opcolor
    end(b, start);
    let dinf = begin(b, b"dinf");
    let dref = begin_full(b, b"dref", 0, 0);
    put_u32(b, 1);
    let url = begin_full(b, b"url ", 0, 1);
    end(b, url);
    end(b, dref);
    end(b, dinf);
}

/// `stsd` with one sample entry, copied verbatim.
pub(crate) fn put_stsd(b: &mut Vec<u8>, sample_entry: &[u8]) {
    let start = begin_full(b, b"stsd", 0, 0);
    put_u32(b, 1);
    b.extend_from_slice(sample_entry);
    end(b, start);
}

/// A parsed box header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub typ: [u8; 4],
    /// Offset of the box's first byte.
    pub start: usize,
    /// Offset of the box's body (after size, type and any largesize).
    pub body: usize,
    /// Offset one past the box's last byte (may be beyond the data for a truncated box).
    pub end: u64,
}

/// Result of reading a box header at some offset.
pub(crate) enum HeaderRead {
    Box(Header),
    /// The data ends inside the header.
    NeedMore,
    /// The header can't be a box header (size too small, or `size == 0`).
    Invalid(String),
}

/// Reads a box header at `pos` in `data`. Size 0 ("to the end of the file") is reported as
/// invalid: Vigil always writes explicit sizes.
pub(crate) fn read_header(data: &[u8], pos: usize) -> HeaderRead {
    let Some(h) = data.get(pos..pos.saturating_add(8)) else {
        return HeaderRead::NeedMore;
    };
    let size = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let typ = [h[4], h[5], h[6], h[7]];
    let (size, body) = match size {
        0 => return HeaderRead::Invalid("box size 0 (extends to end of file)".into()),
        1 => {
            let Some(l) = data.get(pos + 8..pos + 16) else {
                return HeaderRead::NeedMore;
            };
            let large = u64::from_be_bytes(l.try_into().expect("8 bytes"));
            if large < 16 {
                return HeaderRead::Invalid(format!("64-bit box size {large} is below 16"));
            }
            (large, pos + 16)
        }
        2..=7 => return HeaderRead::Invalid(format!("box size {size} is below 8")),
        s => (u64::from(s), pos + 8),
    };
    HeaderRead::Box(Header {
        typ,
        start: pos,
        body,
        end: (pos as u64).saturating_add(size),
    })
}

/// Iterates over the complete child boxes of `data[start..end]`, a box body. Yields an error
/// string (for the caller to wrap) for a child that does not fit.
pub(crate) fn children(
    data: &[u8],
    start: usize,
    end: usize,
) -> impl Iterator<Item = Result<Header, String>> + '_ {
    let end = end.min(data.len());
    let mut pos = start;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= end {
            return None;
        }
        let r = match read_header(&data[..end], pos) {
            HeaderRead::Box(h) if h.end <= end as u64 => {
                pos = h.end as usize;
                Ok(h)
            }
            HeaderRead::Box(h) => Err(format!(
                "child box {} at byte {} overruns its parent",
                fourcc(&h.typ),
                pos
            )),
            HeaderRead::NeedMore => Err(format!("truncated child box header at byte {pos}")),
            HeaderRead::Invalid(d) => Err(format!("at byte {pos}: {d}")),
        };
        failed = r.is_err();
        Some(r)
    })
}

/// Finds the first child of type `typ` in the box body `data[start..end]`.
pub(crate) fn find_child(
    data: &[u8],
    start: usize,
    end: usize,
    typ: &[u8; 4],
) -> Result<Option<Header>, String> {
    for c in children(data, start, end) {
        let c = c?;
        if &c.typ == typ {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// A printable four-character code.
pub(crate) fn fourcc(t: &[u8; 4]) -> String {
    t.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

/// A bounds-checked big-endian reader over a byte range.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.remaining() < n {
            return Err(format!(
                "needs {n} more bytes at byte {} of a {}-byte box body",
                self.pos,
                self.data.len()
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.bytes(4)?.try_into().expect("4")))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.bytes(8)?.try_into().expect("8")))
    }
    /// Version and flags of a full box.
    pub(crate) fn full(&mut self) -> Result<(u8, u32), String> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }
}
