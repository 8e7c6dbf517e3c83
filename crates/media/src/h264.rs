//! H.264 bytes: Annex B splitting and conversion to the MP4 (length-prefixed) form, SPS
//! parsing for picture dimensions, and the `avc1` sample entry and RFC 6381 codec string.
//!
//! `ingest` gets all of this from retina for real cameras; the simulator, the tests and
//! anything that reads raw `.h264` files use these functions.

use crate::mp4box::{self, put_u16, put_u32, put_u8};
use crate::{Codec, Error, VideoParams};

/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type of an IDR slice.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// `nal_unit_type` of a NAL unit (its first byte's low 5 bits); 0 for an empty slice.
#[inline]
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Splits Annex B bytes (NAL units each preceded by a `00 00 01` or `00 00 00 01` start
/// code) into NAL units, without start codes or trailing zero bytes. Bytes before the first
/// start code are skipped; empty NAL units are not yielded.
pub fn split_annexb(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    // Position just after the first start code (or the end).
    let mut pos = find_start_code(data, 0).map_or(data.len(), |(_, after)| after);
    std::iter::from_fn(move || loop {
        if pos >= data.len() {
            return None;
        }
        let (nal_end, next) = match find_start_code(data, pos) {
            Some((sc, after)) => (sc, after),
            None => (data.len(), data.len()),
        };
        let mut nal = &data[pos..nal_end];
        pos = next;
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        if !nal.is_empty() {
            return Some(nal);
        }
    })
}

/// Finds the next `00 00 01` at or after `from`: returns (index of its first zero, index
/// just after the `01`).
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from + 2;
    while i < data.len() {
        // Skip quickly: a start code ends in 01, preceded by two zeros.
        match data[i] {
            1 if data[i - 1] == 0 && data[i - 2] == 0 => return Some((i - 2, i + 1)),
            0 => i += 1,
            _ => i += 3,
        }
    }
    None
}

/// Converts Annex B bytes to the MP4 form: each NAL unit prefixed by its 4-byte big-endian
/// length (as [`crate::Frame::data`] holds them).
pub fn annexb_to_avc(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for nal in split_annexb(data) {
        put_u32(&mut out, nal.len() as u32);
        out.extend_from_slice(nal);
    }
    out
}

/// Iterates over the NAL units of MP4-form data (4-byte lengths). Stops at the first length
/// that overruns the data.
pub fn split_avc(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let len = data.get(pos..pos + 4)?;
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let nal = data.get(pos + 4..(pos + 4).checked_add(len)?)?;
        pos += 4 + len;
        Some(nal)
    })
}

/// The `avc1` sample entry (with `avcC`) for one SPS and one PPS (NAL units including their
/// header byte, without start codes). Width and height above 65535 are clamped.
pub fn sample_entry_avc1(sps: &[u8], pps: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(120 + sps.len() + pps.len());
    let avc1 = mp4box::begin(&mut b, b"avc1");
    b.extend_from_slice(&[0; 6]); // reserved
    put_u16(&mut b, 1); // data_reference_index
    b.extend_from_slice(&[0; 16]); // pre_defined, reserved
    put_u16(&mut b, width.min(0xffff) as u16);
    put_u16(&mut b, height.min(0xffff) as u16);
    put_u32(&mut b, 0x0048_0000); // 72 dpi
    put_u32(&mut b, 0x0048_0000);
    put_u32(&mut b, 0); // reserved
    put_u16(&mut b, 1); // frame_count
    b.extend_from_slice(&[0; 32]); // compressorname
    put_u16(&mut b, 0x0018); // depth
    put_u16(&mut b, 0xffff); // pre_defined = -1
    let avcc = mp4box::begin(&mut b, b"avcC");
    put_u8(&mut b, 1); // configurationVersion
    put_u8(&mut b, sps.get(1).copied().unwrap_or(0)); // profile
    put_u8(&mut b, sps.get(2).copied().unwrap_or(0)); // compatibility
    put_u8(&mut b, sps.get(3).copied().unwrap_or(0)); // level
    put_u8(&mut b, 0xff); // lengthSizeMinusOne = 3
    put_u8(&mut b, 0xe1); // one SPS
    put_u16(&mut b, sps.len() as u16);
    b.extend_from_slice(sps);
    put_u8(&mut b, 1); // one PPS
    put_u16(&mut b, pps.len() as u16);
    b.extend_from_slice(pps);
    if let Ok(info) = parse_sps(sps) {
        if info.high_profile {
            put_u8(&mut b, 0xfc | info.chroma_format_idc as u8);
            put_u8(&mut b, 0xf8 | info.bit_depth_luma_minus8 as u8);
            put_u8(&mut b, 0xf8 | info.bit_depth_chroma_minus8 as u8);
            put_u8(&mut b, 0); // numOfSequenceParameterSetExt
        }
    }
    mp4box::end(&mut b, avcc);
    mp4box::end(&mut b, avc1);
    b
}

/// The RFC 6381 codec string of an SPS, e.g. `avc1.64001F` (as retina spells it).
pub fn rfc6381_codec(sps: &[u8]) -> Result<String, Error> {
    match sps {
        [_, p, c, l, ..] => Ok(format!("avc1.{p:02X}{c:02X}{l:02X}")),
        _ => Err(malformed(0, "SPS shorter than 4 bytes".into())),
    }
}

/// [`VideoParams`] for an H.264 stream with this SPS and PPS.
pub fn video_params(sps: &[u8], pps: &[u8]) -> Result<VideoParams, Error> {
    let (width, height) = parse_sps_dimensions(sps)?;
    Ok(VideoParams {
        codec: Codec::H264,
        width,
        height,
        rfc6381: rfc6381_codec(sps)?,
        sample_entry: sample_entry_avc1(sps, pps, width, height),
    })
}

/// The displayed picture size `(width, height)` of an SPS (NAL unit including its header
/// byte), after frame cropping.
pub fn parse_sps_dimensions(sps: &[u8]) -> Result<(u32, u32), Error> {
    parse_sps(sps).map(|i| (i.width, i.height))
}

fn malformed(offset: u64, detail: String) -> Error {
    Error::Malformed {
        what: "H.264 SPS",
        offset,
        detail,
    }
}

struct SpsInfo {
    width: u32,
    height: u32,
    high_profile: bool,
    chroma_format_idc: u32,
    bit_depth_luma_minus8: u32,
    bit_depth_chroma_minus8: u32,
}

/// Reads bits of an RBSP (emulation prevention bytes are skipped on the fly).
struct Bits<'a> {
    data: &'a [u8],
    byte: usize,
    bit: u8,
    zeros: u8,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            byte: 0,
            bit: 0,
            zeros: 0,
        }
    }

    fn err(&self, what: &str) -> Error {
        malformed(
            self.byte as u64 + 1,
            format!("{what}: the SPS ends too early"),
        )
    }

    fn bit(&mut self, what: &str) -> Result<u32, Error> {
        if self.bit == 0 {
            // At a byte boundary: skip an emulation prevention byte (00 00 03).
            if self.zeros >= 2 && self.data.get(self.byte) == Some(&3) {
                self.byte += 1;
                self.zeros = 0;
            }
            let b = *self.data.get(self.byte).ok_or_else(|| self.err(what))?;
            self.zeros = if b == 0 {
                self.zeros.saturating_add(1)
            } else {
                0
            };
        }
        let b = *self.data.get(self.byte).ok_or_else(|| self.err(what))?;
        let v = (b >> (7 - self.bit)) & 1;
        self.bit += 1;
        if self.bit == 8 {
            self.bit = 0;
            self.byte += 1;
        }
        Ok(u32::from(v))
    }

    fn bits(&mut self, n: u32, what: &str) -> Result<u32, Error> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit(what)?;
        }
        Ok(v)
    }

    /// Unsigned exp-Golomb, up to 32 bits of value.
    fn ue(&mut self, what: &str) -> Result<u32, Error> {
        let mut zeros = 0;
        while self.bit(what)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(malformed(
                    self.byte as u64 + 1,
                    format!("{what}: exp-Golomb code longer than 32 bits"),
                ));
            }
        }
        let rest = self.bits(zeros, what)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// Signed exp-Golomb.
    fn se(&mut self, what: &str) -> Result<i32, Error> {
        let k = self.ue(what)?;
        Ok(if k & 1 == 1 {
            (k / 2 + 1) as i32
        } else {
            -((k / 2) as i32)
        })
    }

    fn ue_max(&mut self, max: u32, what: &str) -> Result<u32, Error> {
        let v = self.ue(what)?;
        if v > max {
            return Err(malformed(
                self.byte as u64 + 1,
                format!("{what} = {v}, above its maximum {max}"),
            ));
        }
        Ok(v)
    }
}

fn skip_scaling_list(r: &mut Bits, size: u32) -> Result<(), Error> {
    let mut last = 8i32;
    let mut next = 8i32;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se("delta_scale")?;
            next = (i64::from(last) + i64::from(delta)).rem_euclid(256) as i32;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

fn parse_sps(sps: &[u8]) -> Result<SpsInfo, Error> {
    if nal_type(sps) != NAL_SPS {
        return Err(malformed(
            0,
            format!("NAL unit type {} is not an SPS (7)", nal_type(sps)),
        ));
    }
    let mut r = Bits::new(&sps[1..]);
    let profile_idc = r.bits(8, "profile_idc")?;
    r.bits(16, "constraint flags and level_idc")?;
    r.ue_max(31, "seq_parameter_set_id")?;
    let high_profile = matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    );
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    let mut bit_depth_luma_minus8 = 0;
    let mut bit_depth_chroma_minus8 = 0;
    if high_profile {
        chroma_format_idc = r.ue_max(3, "chroma_format_idc")?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bit("separate_colour_plane_flag")? == 1;
        }
        bit_depth_luma_minus8 = r.ue_max(6, "bit_depth_luma_minus8")?;
        bit_depth_chroma_minus8 = r.ue_max(6, "bit_depth_chroma_minus8")?;
        r.bit("qpprime_y_zero_transform_bypass_flag")?;
        if r.bit("seq_scaling_matrix_present_flag")? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit("seq_scaling_list_present_flag")? == 1 {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue_max(12, "log2_max_frame_num_minus4")?;
    match r.ue_max(2, "pic_order_cnt_type")? {
        0 => {
            r.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
        }
        1 => {
            r.bit("delta_pic_order_always_zero_flag")?;
            r.se("offset_for_non_ref_pic")?;
            r.se("offset_for_top_to_bottom_field")?;
            let n = r.ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
            for _ in 0..n {
                r.se("offset_for_ref_frame")?;
            }
        }
        _ => {}
    }
    r.ue("max_num_ref_frames")?;
    r.bit("gaps_in_frame_num_value_allowed_flag")?;
    let width_mbs = r.ue_max(4095, "pic_width_in_mbs_minus1")? + 1;
    let height_map_units = r.ue_max(4095, "pic_height_in_map_units_minus1")? + 1;
    let frame_mbs_only = r.bit("frame_mbs_only_flag")?;
    if frame_mbs_only == 0 {
        r.bit("mb_adaptive_frame_field_flag")?;
    }
    r.bit("direct_8x8_inference_flag")?;
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if r.bit("frame_cropping_flag")? == 1 {
        left = r.ue("frame_crop_left_offset")?;
        right = r.ue("frame_crop_right_offset")?;
        top = r.ue("frame_crop_top_offset")?;
        bottom = r.ue("frame_crop_bottom_offset")?;
    }
    let chroma_array_type = if separate_colour_plane {
        0
    } else {
        chroma_format_idc
    };
    let (sub_w, sub_h) = match chroma_array_type {
        1 => (2u32, 2u32),
        2 => (2, 1),
        _ => (1, 1),
    };
    let (crop_x, crop_y) = if chroma_array_type == 0 {
        (1, 2 - frame_mbs_only)
    } else {
        (sub_w, sub_h * (2 - frame_mbs_only))
    };
    let full_w = width_mbs * 16;
    let full_h = (2 - frame_mbs_only) * height_map_units * 16;
    let crop_w = u64::from(crop_x) * (u64::from(left) + u64::from(right));
    let crop_h = u64::from(crop_y) * (u64::from(top) + u64::from(bottom));
    if crop_w >= u64::from(full_w) || crop_h >= u64::from(full_h) {
        return Err(malformed(
            0,
            format!(
                "frame cropping ({left},{right},{top},{bottom}) leaves nothing of {full_w}x{full_h}"
            ),
        ));
    }
    Ok(SpsInfo {
        width: full_w - crop_w as u32,
        height: full_h - crop_h as u32,
        high_profile,
        chroma_format_idc,
        bit_depth_luma_minus8,
        bit_depth_chroma_minus8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_annexb_variants() {
        let d = [
            0xff, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0, 0, 3, 1, 0, 0,
        ];
        let nals: Vec<&[u8]> = split_annexb(&d).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 0, 0, 3, 1][..]]
        );
        assert_eq!(split_annexb(&[]).count(), 0);
        assert_eq!(split_annexb(&[0, 0, 1]).count(), 0);
        assert_eq!(split_annexb(&[1, 2, 3]).count(), 0);
        assert_eq!(split_annexb(&[0, 0, 1, 9, 0, 0, 1, 0, 0, 1]).count(), 1);
        let avc = annexb_to_avc(&d);
        assert_eq!(&avc[..7], &[0, 0, 0, 3, 0x67, 1, 2]);
        let back: Vec<&[u8]> = split_avc(&avc).collect();
        assert_eq!(back, nals);
    }

    #[test]
    fn split_annexb_never_panics() {
        let mut x: u32 = 12345;
        for len in 0..64 {
            for _ in 0..200 {
                let d: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        [0, 0, 1, 3, 0x67][(x >> 16) as usize % 5]
                    })
                    .collect();
                let total: usize = split_annexb(&d).map(|n| n.len()).sum();
                assert!(total <= d.len());
                let _ = parse_sps_dimensions(&d);
            }
        }
    }

    #[test]
    fn sps_dimensions() {
        // x264 Constrained Baseline 320x240.
        let sps = crate::testdata::SPS_320X240;
        assert_eq!(parse_sps_dimensions(sps).unwrap(), (320, 240));
        // x264 High profile 1920x1080 (cropped from 1088), with emulation prevention bytes.
        let sps = [
            0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00,
            0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x78, 0x3c, 0x60, 0xc6, 0x58,
        ];
        assert_eq!(parse_sps_dimensions(&sps).unwrap(), (1920, 1080));
        assert_eq!(rfc6381_codec(&sps).unwrap(), "avc1.640028");
        let entry = sample_entry_avc1(&sps, &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0], 1920, 1080);
        // High profile avcC carries chroma format and bit depths after the PPS.
        assert_eq!(&entry[entry.len() - 4..], &[0xfd, 0xf8, 0xf8, 0]);
        // x264 High 4:4:4 Predictive 1280x720 (chroma_format_idc 3).
        let sps444 = [
            0x67, 0xf4, 0x00, 0x1f, 0x91, 0x9b, 0x28, 0x0a, 0x00, 0xb7, 0x60, 0x22, 0x00, 0x00,
            0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x1e, 0x30, 0x63, 0x2c,
        ];
        assert_eq!(parse_sps_dimensions(&sps444).unwrap(), (1280, 720));
        let entry = sample_entry_avc1(&sps444, &[0x68, 0xeb, 0xe3, 0xc4, 0x48, 0x44], 1280, 720);
        assert_eq!(&entry[entry.len() - 4..], &[0xff, 0xf8, 0xf8, 0]);
        assert!(parse_sps_dimensions(&[0x68, 0x42]).is_err());
        assert!(parse_sps_dimensions(&sps[..8]).is_err());
    }
}
