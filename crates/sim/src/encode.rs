//! H.264 encoding of rendered pictures with openh264 (Annex B out, split into NAL units).

use bytes::Bytes;
use media::Codec;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::YUVSlices;
use openh264::{OpenH264API, Timestamp};

use crate::nal::{self, AccessUnit};
use crate::scene::Renderer;

/// Encoder settings of one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EncodeParams {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_bps: u32,
    pub gop_frames: u32,
}

/// An openh264 encoder for one stream: constant bit rate, fixed GOP, no B-frames,
/// single-threaded (many of them may run at once).
pub struct H264Encoder {
    enc: Encoder,
    params: EncodeParams,
    frame: u64,
}

impl H264Encoder {
    pub fn new(params: EncodeParams) -> Result<H264Encoder, String> {
        let cfg = EncoderConfig::new()
            .bitrate(BitRate::from_bps(params.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(params.fps as f32))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(false)
            .usage_type(UsageType::CameraVideoRealTime)
            .intra_frame_period(IntraFramePeriod::from_num_frames(params.gop_frames))
            .scene_change_detect(false)
            .num_threads(1);
        let enc = Encoder::with_api_config(OpenH264API::from_source(), cfg)
            .map_err(|e| format!("cannot create encoder: {e}"))?;
        Ok(H264Encoder {
            enc,
            params,
            frame: 0,
        })
    }

    pub fn params(&self) -> EncodeParams {
        self.params
    }

    /// Encodes the renderer's current picture. Returns `None` when the encoder skipped it.
    pub fn encode(&mut self, r: &Renderer, force_idr: bool) -> Result<Option<AccessUnit>, String> {
        if r.width != self.params.width as usize || r.height != self.params.height as usize {
            return Err(format!(
                "picture is {}x{} but the encoder is set up for {}x{}",
                r.width, r.height, self.params.width, self.params.height
            ));
        }
        if force_idr && self.frame > 0 {
            self.enc.force_intra_frame();
        }
        let yuv = YUVSlices::new(
            (&r.y, &r.u, &r.v),
            (r.width, r.height),
            (r.width, r.width / 2, r.width / 2),
        );
        let ts = Timestamp::from_millis(self.frame * 1000 / u64::from(self.params.fps.max(1)));
        self.frame += 1;
        let bs = self
            .enc
            .encode_at(&yuv, ts)
            .map_err(|e| format!("encoding frame {} failed: {e}", self.frame - 1))?;
        if matches!(bs.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        let data = Bytes::from(bs.to_vec());
        let nals = nal::split_annexb(&data);
        Ok(nal::access_units(Codec::H264, nals).into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::RenderOpts;

    #[test]
    fn encodes_gops_with_in_band_parameter_sets() {
        let p = EncodeParams {
            width: 320,
            height: 240,
            fps: 10,
            bitrate_bps: 300_000,
            gop_frames: 5,
        };
        let mut enc = H264Encoder::new(p).unwrap();
        let mut r = Renderer::new(320, 240);
        let mut keys = Vec::new();
        for n in 0..12 {
            r.render(n, RenderOpts::default(), &["TEST"]);
            let au = enc.encode(&r, n == 7).unwrap().expect("frame skipped");
            if au.is_key {
                let types: Vec<u8> = au.nals.iter().map(|n| n[0] & 0x1f).collect();
                assert!(
                    types.contains(&7) && types.contains(&8),
                    "IDR without SPS/PPS: {types:?}"
                );
            }
            keys.push(au.is_key);
        }
        assert!(keys[0] && keys[5] && keys[7], "{keys:?}");
        assert!(!keys[1] && !keys[6], "{keys:?}");
    }
}
