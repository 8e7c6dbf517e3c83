//! The compact per-fragment index stored with each segment row (a blob), so that seeking,
//! playback and export never scan segment files.
//!
//! # Format (version 1)
//!
//! ```text
//! blob      = version:u8 (=1) fragment_count:varint fragment*
//! fragment  = flags:u8 offset_delta:zvarint start_delta:zvarint sample_count:varint
//!             sample* header_delta:zvarint
//! sample    = head:varint [duration_delta:zvarint] [composition_offset:zvarint]
//! ```
//!
//! - `offset_delta` = the fragment's offset minus the previous fragment's end (0 for
//!   back-to-back fragments; the first fragment's is against 0); `header_delta` =
//!   `data_offset - offset` minus the length [`crate::fmp4::fragment_header_len`] predicts
//!   from the samples (0 for fragments written by [`crate::fmp4`]); `start_delta` = the fragment's start minus the previous
//!   fragment's start + duration (0 for contiguous fragments; the first against 0).
//! - `head` = `size << 2 | key << 1 | duration_changed`: the sample size with the key flag
//!   and a "duration differs from the previous sample's" flag folded into the low bits;
//!   `duration_delta` (present only when that flag is set) is the zig-zag difference from
//!   the previous sample's duration (across fragments; the first against 0).
//! - `flags` bit 0: the fragment's samples carry composition offsets. Other bits must be 0.
//! - varints are LEB128 (at most 10 bytes); zvarints are zig-zag-encoded signed varints.
//!
//! With steady frame durations a sample costs just its `head`: 2 bytes for frames up to
//! 4 KiB (a 15 fps sub-stream below ~400 kbit/s), 3 bytes up to 512 KiB (main streams);
//! plus 5 bytes per fragment.

use crate::{Error, Sample};

/// The format version this module writes.
pub const VERSION: u8 = 1;

const FLAG_CTO: u8 = 1;

/// One fragment of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentIndex {
    /// Offset of the fragment's `moof` in the segment file.
    pub offset: u64,
    /// Offset of its first sample's data.
    pub data_offset: u64,
    /// Decode time of its first sample, ticks from the segment's start.
    pub start: i64,
    pub samples: Vec<Sample>,
}

impl FragmentIndex {
    /// Sum of the samples' durations.
    pub fn duration(&self) -> i64 {
        self.samples.iter().map(|s| s.duration as i64).sum()
    }
    /// Offset one past the fragment's last byte.
    pub fn end(&self) -> u64 {
        self.data_offset + self.samples.iter().map(|s| s.size as u64).sum::<u64>()
    }

    /// The index entry of a fragment found by [`crate::fmp4::scan`]; `segment_start` is
    /// the base decode time that counts as the segment's start (usually the first
    /// fragment's).
    pub fn from_scanned(f: &crate::fmp4::ScannedFragment, segment_start: u64) -> Self {
        FragmentIndex {
            offset: f.offset,
            data_offset: f.data_offset,
            start: f.base_decode_time.wrapping_sub(segment_start) as i64,
            samples: f.samples.clone(),
        }
    }
}

#[inline]
fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes fragments into a compact blob (varints, deltas).
pub fn encode(fragments: &[FragmentIndex]) -> Vec<u8> {
    let samples: usize = fragments.iter().map(|f| f.samples.len()).sum();
    let mut b = Vec::with_capacity(2 + fragments.len() * 8 + samples * 3);
    b.push(VERSION);
    put_varint(&mut b, fragments.len() as u64);
    let mut prev_end = 0u64;
    let mut prev_end_time = 0i64;
    let mut prev_duration = 0u32;
    for f in fragments {
        let has_cto = f.samples.iter().any(|s| s.composition_offset != 0);
        b.push(if has_cto { FLAG_CTO } else { 0 });
        put_varint(&mut b, zigzag(f.offset.wrapping_sub(prev_end) as i64));
        put_varint(&mut b, zigzag(f.start.wrapping_sub(prev_end_time)));
        put_varint(&mut b, f.samples.len() as u64);
        let mut end = f.data_offset;
        let mut end_time = f.start;
        for s in &f.samples {
            let changed = s.duration != prev_duration;
            put_varint(
                &mut b,
                (u64::from(s.size) << 2) | (u64::from(s.is_key) << 1) | u64::from(changed),
            );
            if changed {
                put_varint(
                    &mut b,
                    zigzag(i64::from(s.duration) - i64::from(prev_duration)),
                );
                prev_duration = s.duration;
            }
            if has_cto {
                put_varint(&mut b, zigzag(i64::from(s.composition_offset)));
            }
            end = end.wrapping_add(u64::from(s.size));
            end_time = end_time.wrapping_add(i64::from(s.duration));
        }
        let predicted = crate::fmp4::fragment_header_len(&f.samples);
        let header_len = f.data_offset.wrapping_sub(f.offset);
        put_varint(&mut b, zigzag(header_len.wrapping_sub(predicted) as i64));
        prev_end = end;
        prev_end_time = end_time;
    }
    b
}

struct Cursor<'a> {
    blob: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn err(&self, detail: String) -> Error {
        Error::Malformed {
            what: "fragment index blob",
            offset: self.pos as u64,
            detail,
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, Error> {
        let v = *self
            .blob
            .get(self.pos)
            .ok_or_else(|| self.err(format!("ends before {what}")))?;
        self.pos += 1;
        Ok(v)
    }

    fn varint(&mut self, what: &str) -> Result<u64, Error> {
        let mut v = 0u64;
        for i in 0..10 {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(self.err(format!("{what} overflows 64 bits")));
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err(format!("{what} is longer than 10 bytes")))
    }

    fn zvarint(&mut self, what: &str) -> Result<i64, Error> {
        self.varint(what).map(unzigzag)
    }

    /// A count of items that each take at least one more byte of the blob.
    fn count(&mut self, what: &str) -> Result<usize, Error> {
        let n = self.varint(what)?;
        let left = (self.blob.len() - self.pos) as u64;
        if n > left {
            return Err(self.err(format!(
                "{what} {n} exceeds the {left} bytes left in the blob"
            )));
        }
        Ok(n as usize)
    }
}

/// Decodes a blob made by [`encode`]. Rejects anything malformed (truncated, trailing
/// bytes, out-of-range values, an unknown version) with an error; never panics.
pub fn decode(blob: &[u8]) -> Result<Vec<FragmentIndex>, Error> {
    let mut c = Cursor { blob, pos: 0 };
    let version = c.u8("the version byte")?;
    if version != VERSION {
        return Err(Error::Unsupported(format!(
            "fragment index blob version {version} (this build reads version {VERSION})"
        )));
    }
    let n = c.count("fragment count")?;
    let mut out = Vec::with_capacity(n);
    let mut prev_end = 0u64;
    let mut prev_end_time = 0i64;
    let mut prev_duration = 0u32;
    for _ in 0..n {
        let flags = c.u8("fragment flags")?;
        if flags & !FLAG_CTO != 0 {
            return Err(c.err(format!("unknown fragment flags {flags:#04x}")));
        }
        let has_cto = flags & FLAG_CTO != 0;
        let offset = prev_end.wrapping_add(c.zvarint("fragment offset")? as u64);
        let start = prev_end_time.wrapping_add(c.zvarint("fragment start")?);
        let count = c.count("sample count")?;
        let mut samples = Vec::with_capacity(count);
        let mut data_len = 0u64;
        let mut end_time = start;
        for _ in 0..count {
            let head = c.varint("sample size")?;
            let size = u32::try_from(head >> 2)
                .map_err(|_| c.err(format!("sample size {} exceeds 32 bits", head >> 2)))?;
            if head & 1 != 0 {
                let d = i64::from(prev_duration).saturating_add(c.zvarint("sample duration")?);
                prev_duration = u32::try_from(d)
                    .map_err(|_| c.err(format!("sample duration {d} out of range")))?;
            }
            let composition_offset = if has_cto {
                let v = c.zvarint("composition offset")?;
                i32::try_from(v)
                    .map_err(|_| c.err(format!("composition offset {v} out of range")))?
            } else {
                0
            };
            data_len += u64::from(size);
            end_time = end_time.wrapping_add(i64::from(prev_duration));
            samples.push(Sample {
                duration: prev_duration,
                size,
                is_key: head & 2 != 0,
                composition_offset,
            });
        }
        let header_len = crate::fmp4::fragment_header_len(&samples)
            .wrapping_add(c.zvarint("fragment header length")? as u64);
        let data_offset = offset.wrapping_add(header_len);
        prev_end = data_offset
            .checked_add(data_len)
            .ok_or_else(|| c.err("fragment end overflows 64 bits".into()))?;
        prev_end_time = end_time;
        out.push(FragmentIndex {
            offset,
            data_offset,
            start,
            samples,
        });
    }
    if c.pos != blob.len() {
        return Err(c.err(format!(
            "{} unexpected bytes after the last fragment",
            blob.len() - c.pos
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment of `fragments` one-second GOPs at 15 fps as Vigil writes them: key frames
    /// of `key` bytes, others `p` bytes ± 25 %, and every 100th duration one tick off (as
    /// when a camera's clock is corrected).
    fn segment(fragments: usize, key: u32, p: u32, cto: bool) -> Vec<FragmentIndex> {
        let mut x: u32 = 7;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let mut out = Vec::new();
        let mut offset = 800u64;
        let mut start = 0i64;
        for _ in 0..fragments {
            let samples: Vec<Sample> = (0..15)
                .map(|i| Sample {
                    duration: if rnd() % 100 == 0 { 6001 } else { 6000 },
                    size: if i == 0 {
                        key
                    } else {
                        p - p / 4 + rnd() % (p / 2)
                    },
                    is_key: i == 0,
                    composition_offset: if cto { [0, 12000, -6000][i % 3] } else { 0 },
                })
                .collect();
            let f = FragmentIndex {
                offset,
                data_offset: offset + crate::fmp4::fragment_header_len(&samples),
                start,
                samples,
            };
            offset = f.end();
            start += f.duration();
            out.push(f);
        }
        out
    }

    #[test]
    fn round_trip_and_size() {
        // A 2 Mbit/s main stream: ~16 kB frames.
        let frags = segment(60, 60_000, 15_000, false);
        let blob = encode(&frags);
        assert_eq!(decode(&blob).unwrap(), frags);
        let per_sample = blob.len() as f64 / (60.0 * 15.0);
        assert!(per_sample <= 3.4, "{per_sample} bytes per sample");
        // A 384 kbit/s sub-stream: ~3 kB frames.
        let frags = segment(60, 12_000, 2_800, false);
        let blob = encode(&frags);
        assert_eq!(decode(&blob).unwrap(), frags);
        let per_sample = blob.len() as f64 / (60.0 * 15.0);
        assert!(per_sample <= 2.5, "{per_sample} bytes per sample");

        let frags = segment(10, 60_000, 15_000, true);
        assert_eq!(decode(&encode(&frags)).unwrap(), frags);
        assert_eq!(decode(&encode(&[])).unwrap(), vec![]);
        // A gap between fragments and an unusual header length survive too.
        let mut frags = segment(3, 60_000, 15_000, false);
        frags[1].offset += 1000;
        frags[1].data_offset += 1003;
        frags[2].start += 90_000;
        assert_eq!(decode(&encode(&frags)).unwrap(), frags);
    }

    #[test]
    fn extreme_values_round_trip() {
        let frags = vec![
            FragmentIndex {
                offset: u64::MAX - 10,
                data_offset: 5,
                start: i64::MIN,
                samples: vec![Sample {
                    duration: u32::MAX,
                    size: u32::MAX,
                    is_key: true,
                    composition_offset: i32::MIN,
                }],
            },
            FragmentIndex {
                offset: 0,
                data_offset: u64::MAX,
                start: i64::MAX,
                samples: vec![Sample {
                    duration: 0,
                    size: 0,
                    is_key: false,
                    composition_offset: i32::MAX,
                }],
            },
        ];
        assert_eq!(decode(&encode(&frags)).unwrap(), frags);
        // A fragment whose end overflows: encode wraps, decode rejects.
        let mut bad = frags.clone();
        bad[1].samples[0].size = 1;
        assert!(decode(&encode(&bad)).is_err());
    }

    #[test]
    fn rejects_malformed() {
        let blob = encode(&segment(3, 60_000, 15_000, true));
        for len in 0..blob.len() {
            assert!(decode(&blob[..len]).is_err(), "prefix {len}");
        }
        let mut extra = blob.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        assert!(matches!(decode(&[2, 0]), Err(Error::Unsupported(_))));
        assert!(decode(&[1, 1, 0x80, 0, 0, 0, 0]).is_err()); // unknown flags
        assert!(decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err()); // huge count
        let overlong = [
            1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert!(decode(&overlong).is_err());
    }

    #[test]
    fn random_blobs_never_panic() {
        let good = encode(&segment(4, 60_000, 15_000, true));
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = good.clone();
            let i = (x as usize) % b.len();
            b[i] ^= (x >> 40) as u8 | 1;
            b.truncate(((x >> 20) as usize) % (b.len() + 1));
            let _ = decode(&b);
            let r: Vec<u8> = (0..(x % 40) as usize)
                .map(|k| (x >> (k % 8 * 8)) as u8)
                .collect();
            let _ = decode(&r);
        }
    }
}
