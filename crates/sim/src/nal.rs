//! Annex B elementary streams: NAL unit splitting, access unit boundaries, key frames and
//! parameter sets for H.264 and H.265.
//!
//! NAL units are handed out as [`Bytes`] slices of the input: splitting never copies.

use bytes::Bytes;
use media::Codec;

/// Splits an Annex B byte stream into NAL units (without start codes). Empty NALs and
/// trailing zero bytes before a start code are dropped.
pub fn split_annexb(data: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let b = &data[..];
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 {
            if let Some(s) = start {
                push_trimmed(&mut out, data, s, i);
            }
            i += 3;
            start = Some(i);
        } else if b[i + 2] > 1 {
            // No start code can begin at i, i+1 or i+2.
            i += 3;
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        push_trimmed(&mut out, data, s, b.len());
    }
    out
}

fn push_trimmed(out: &mut Vec<Bytes>, data: &Bytes, s: usize, mut e: usize) {
    while e > s && data[e - 1] == 0 {
        e -= 1;
    }
    if e > s {
        out.push(data.slice(s..e));
    }
}

/// The NAL unit type of `nal` for `codec`.
pub fn nal_type(codec: Codec, nal: &[u8]) -> u8 {
    match codec {
        Codec::H264 => nal.first().map_or(0, |h| h & 0x1f),
        Codec::H265 => nal.first().map_or(0, |h| (h >> 1) & 0x3f),
    }
}

/// Whether `nal` is a picture slice (VCL).
pub fn is_vcl(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        Codec::H264 => (1..=5).contains(&t),
        Codec::H265 => t < 32,
    }
}

/// Whether `nal` is a random access point slice: IDR for H.264, IRAP for H.265.
pub fn is_key_slice(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        Codec::H264 => t == 5,
        Codec::H265 => (16..=23).contains(&t),
    }
}

/// Whether `nal` is a parameter set (SPS/PPS, or VPS/SPS/PPS).
pub fn is_param_set(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        Codec::H264 => t == 7 || t == 8,
        Codec::H265 => (32..=34).contains(&t),
    }
}

/// Whether `nal` is the first slice of a picture.
fn is_first_slice(codec: Codec, nal: &[u8]) -> bool {
    match codec {
        // first_mb_in_slice is ue(v); value 0 is coded as a single '1' bit.
        Codec::H264 => nal.get(1).is_some_and(|b| b & 0x80 != 0),
        // first_slice_segment_in_pic_flag is the first bit after the 2-byte header.
        Codec::H265 => nal.get(2).is_some_and(|b| b & 0x80 != 0),
    }
}

/// Whether a non-VCL `nal` starts a new access unit when it follows a picture.
fn starts_au_before_vcl(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        // AUD, SEI, SPS, PPS, and the reserved 14..=18 range.
        Codec::H264 => matches!(t, 6..=9 | 14..=18),
        // VPS, SPS, PPS, AUD, prefix SEI, reserved 41..=44, unspecified 48..=55.
        Codec::H265 => matches!(t, 32..=35 | 39 | 41..=44 | 48..=55),
    }
}

/// One access unit (picture) of an elementary stream.
#[derive(Clone, Debug)]
pub struct AccessUnit {
    pub nals: Vec<Bytes>,
    pub is_key: bool,
}

/// Groups NAL units into access units (ITU-T H.264 7.4.1.2.3 / H.265 7.4.2.4.4).
/// A trailing group without any slice is dropped.
pub fn access_units(codec: Codec, nals: Vec<Bytes>) -> Vec<AccessUnit> {
    let mut out = Vec::new();
    let mut cur: Vec<Bytes> = Vec::new();
    let mut seen_vcl = false;
    for nal in nals {
        let vcl = is_vcl(codec, &nal);
        let boundary = seen_vcl
            && ((vcl && is_first_slice(codec, &nal))
                || (!vcl && starts_au_before_vcl(codec, &nal)));
        if boundary {
            out.push(finish_au(codec, std::mem::take(&mut cur)));
            seen_vcl = false;
        }
        seen_vcl |= vcl;
        cur.push(nal);
    }
    if seen_vcl {
        out.push(finish_au(codec, cur));
    }
    out
}

fn finish_au(codec: Codec, nals: Vec<Bytes>) -> AccessUnit {
    let is_key = nals.iter().any(|n| is_key_slice(codec, n));
    AccessUnit { nals, is_key }
}

/// The parameter sets of a stream, as the SDP announces them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamSets {
    /// H.265 only.
    pub vps: Option<Bytes>,
    pub sps: Option<Bytes>,
    pub pps: Option<Bytes>,
}

impl ParamSets {
    /// Records any parameter sets found among `nals`; returns whether anything changed.
    pub fn update(&mut self, codec: Codec, nals: &[Bytes]) -> bool {
        let mut changed = false;
        for n in nals {
            let slot = match (codec, nal_type(codec, n)) {
                (Codec::H264, 7) | (Codec::H265, 33) => &mut self.sps,
                (Codec::H264, 8) | (Codec::H265, 34) => &mut self.pps,
                (Codec::H265, 32) => &mut self.vps,
                _ => continue,
            };
            if slot.as_ref() != Some(n) {
                *slot = Some(n.clone());
                changed = true;
            }
        }
        changed
    }

    /// Whether all the sets a decoder needs are known.
    pub fn complete(&self, codec: Codec) -> bool {
        self.sps.is_some() && self.pps.is_some() && (codec == Codec::H264 || self.vps.is_some())
    }

    /// The sets in decoding order (VPS, SPS, PPS).
    pub fn in_order(&self) -> impl Iterator<Item = &Bytes> {
        [&self.vps, &self.sps, &self.pps].into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let data = Bytes::from_static(&[
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0x88, 0, 0, 3, 1,
        ]);
        let nals = split_annexb(&data);
        assert_eq!(nals.len(), 3);
        assert_eq!(&nals[0][..], &[0x67, 1, 2]);
        assert_eq!(&nals[1][..], &[0x68, 3]);
        assert_eq!(&nals[2][..], &[0x65, 0x88, 0, 0, 3, 1]);
        assert!(split_annexb(&Bytes::from_static(&[1, 2, 3])).is_empty());
    }

    #[test]
    fn groups_h264_access_units() {
        let n = |b: &'static [u8]| Bytes::from_static(b);
        let nals = vec![
            n(&[0x67, 0x42]),
            n(&[0x68, 0xce]),
            n(&[0x65, 0x88]), // IDR, first_mb = 0
            n(&[0x65, 0x40]), // second slice of the same picture
            n(&[0x41, 0x9a]), // P, new picture
            n(&[0x06, 0x05]), // SEI starts the next AU
            n(&[0x41, 0x9a]),
        ];
        let aus = access_units(Codec::H264, nals);
        assert_eq!(aus.len(), 3);
        assert_eq!(aus[0].nals.len(), 4);
        assert!(aus[0].is_key);
        assert!(!aus[1].is_key);
        assert_eq!(aus[2].nals.len(), 2);
        let mut ps = ParamSets::default();
        assert!(ps.update(Codec::H264, &aus[0].nals));
        assert!(ps.complete(Codec::H264));
        assert!(!ps.update(Codec::H264, &aus[0].nals));
    }

    #[test]
    fn groups_h265_access_units() {
        let n = |b: &'static [u8]| Bytes::from_static(b);
        let nals = vec![
            n(&[0x40, 0x01, 0x0c]), // VPS
            n(&[0x42, 0x01, 0x01]), // SPS
            n(&[0x44, 0x01, 0xc1]), // PPS
            n(&[0x26, 0x01, 0xaf]), // IDR_W_RADL, first slice
            n(&[0x02, 0x01, 0xd0]), // TRAIL_R, first slice
        ];
        let aus = access_units(Codec::H265, nals);
        assert_eq!(aus.len(), 2);
        assert!(aus[0].is_key && !aus[1].is_key);
        let mut ps = ParamSets::default();
        ps.update(Codec::H265, &aus[0].nals);
        assert!(ps.complete(Codec::H265));
        assert_eq!(ps.in_order().count(), 3);
    }
}
