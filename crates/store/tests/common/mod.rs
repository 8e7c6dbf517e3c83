//! Test support: real H.264 frames (encoded with openh264, 320x240, 15 fps, GOP 30), a store
//! in a temporary directory, and ffmpeg/ffprobe checks (which fail if the tools are missing).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use media::time::TICKS_PER_SEC;
use media::{Frame, Ticks, VideoParams};
use openh264::encoder::{
    Encoder, EncoderConfig, FrameRate, IntraFramePeriod, QpRange, RateControlMode,
};
use openh264::formats::YUVBuffer;
use openh264::OpenH264API;
use store::{NewCamera, Store, StoreOptions, StreamId};

pub const FPS: i64 = 15;
pub const FRAME_TICKS: i64 = TICKS_PER_SEC / FPS;
/// 2024-05-01T00:00:00Z.
pub const T0: Ticks = 1_714_521_600 * TICKS_PER_SEC;

pub struct Clip {
    pub params: Arc<VideoParams>,
    /// (is_key, AVC data) of 60 frames: two GOPs.
    pub frames: Vec<(bool, bytes::Bytes)>,
}

/// Two GOPs of real H.264, encoded once per test binary.
pub fn clip() -> &'static Clip {
    static CLIP: OnceLock<Clip> = OnceLock::new();
    CLIP.get_or_init(encode_clip)
}

fn encode_clip() -> Clip {
    let (w, h) = (320usize, 240usize);
    let config = EncoderConfig::new()
        .max_frame_rate(FrameRate::from_hz(FPS as f32))
        .skip_frames(false)
        .rate_control_mode(RateControlMode::Off)
        .qp(QpRange::new(30, 30))
        .scene_change_detect(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(30));
    let mut enc = Encoder::with_api_config(OpenH264API::from_source(), config).expect("encoder");
    let mut sps = None;
    let mut pps = None;
    let mut frames = Vec::new();
    for i in 0..60usize {
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let p = (y * w + x) * 3;
                rgb[p] = ((x + i * 4) % 256) as u8;
                rgb[p + 1] = ((y * 2 + i) % 256) as u8;
                rgb[p + 2] = (((x / 16 + y / 16 + i / 3) % 2) * 200) as u8;
            }
        }
        let yuv = YUVBuffer::from_rgb8_source(openh264::formats::RgbSliceU8::new(&rgb, (w, h)));
        let bs = enc.encode(&yuv).expect("encode").to_vec();
        let mut data = Vec::new();
        let mut is_key = false;
        for nal in media::h264::split_annexb(&bs) {
            match media::h264::nal_type(nal) {
                media::h264::NAL_SPS => sps = Some(nal.to_vec()),
                media::h264::NAL_PPS => pps = Some(nal.to_vec()),
                t => {
                    if t == media::h264::NAL_IDR {
                        is_key = true;
                    }
                    data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    data.extend_from_slice(nal);
                }
            }
        }
        assert!(!data.is_empty(), "frame {i} encoded to nothing");
        assert_eq!(is_key, i % 30 == 0, "frame {i}: unexpected key frame flag");
        frames.push((is_key, bytes::Bytes::from(data)));
    }
    let params = media::h264::video_params(&sps.expect("SPS"), &pps.expect("PPS")).expect("params");
    assert_eq!((params.width, params.height), (320, 240));
    Clip {
        params: Arc::new(params),
        frames,
    }
}

/// Frame `n` of an endless loop of the clip, at `start + n / 15 s`.
pub fn frame(n: usize, start: Ticks) -> Frame {
    let c = clip();
    let (is_key, data) = &c.frames[n % c.frames.len()];
    Frame {
        time: start + n as i64 * FRAME_TICKS,
        is_key: *is_key,
        data: data.clone(),
        params: c.params.clone(),
        loss: 0,
    }
}

pub fn options(segment_secs: i64) -> StoreOptions {
    StoreOptions {
        segment_duration: segment_secs * TICKS_PER_SEC,
        retry_backoff: std::time::Duration::ZERO,
        ..StoreOptions::default()
    }
}

pub fn camera(name: &str) -> NewCamera {
    NewCamera {
        name: name.into(),
        main_url: format!("rtsp://127.0.0.1:8554/{name}"),
        username: Some("admin".into()),
        password: Some("secret-password".into()),
        zone: Some("A".into()),
        department: Some("IT".into()),
        ..NewCamera::default()
    }
}

/// Adds a camera; returns its main stream's id.
pub fn add_stream(store: &Store, name: &str) -> StreamId {
    let cam = store.add_camera(camera(name)).expect("add camera");
    store
        .streams()
        .unwrap()
        .into_iter()
        .find(|s| s.camera_id == cam)
        .expect("main stream")
        .id
}

/// Pushes frames `from..to` (frame numbers) at `start`.
pub fn record(w: &mut store::Writer, from: usize, to: usize, start: Ticks) {
    for n in from..to {
        w.push(&frame(n, start)).expect("push");
    }
}

/// `ffmpeg -v error -i PATH -f null -` must succeed with empty stderr.
pub fn assert_decodes(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed to run these tests");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{} does not decode cleanly: {stderr}",
        path.display()
    );
}

/// Duration in seconds and frame count per ffprobe.
pub fn probe(path: &Path) -> (f64, u64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "format=duration:stream=nb_read_frames",
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .expect("ffprobe must be installed to run these tests");
    assert!(
        out.status.success(),
        "ffprobe {}: {:?}",
        path.display(),
        out
    );
    let s = String::from_utf8_lossy(&out.stdout);
    let mut dur = None;
    let mut frames = None;
    for l in s.lines() {
        if let Some(v) = l.strip_prefix("duration=") {
            dur = v.parse().ok();
        }
        if let Some(v) = l.strip_prefix("nb_read_frames=") {
            frames = v.parse().ok();
        }
    }
    (dur.expect("duration"), frames.expect("frames"))
}
