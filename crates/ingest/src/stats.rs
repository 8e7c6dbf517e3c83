//! Per-stream statistics: updated once per frame under a short lock, read as snapshots.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use media::time::TICKS_PER_SEC;
use media::{Codec, Ticks, VideoParams};

use crate::Error;

/// Seconds in the fps/bitrate window.
const RATE_SECS: usize = 10;

/// What the stream's supervisor is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamState {
    /// Connecting, or connected and waiting for the first frame.
    Connecting,
    /// Frames are flowing.
    Streaming,
    /// Waiting before the next connection attempt.
    Backoff { until: SystemTime },
    /// Stopped through the handle; no more attempts.
    Stopped,
}

/// A snapshot of one stream's health and throughput.
#[derive(Clone, Debug)]
pub struct StreamStats {
    pub name: Arc<str>,
    pub state: StreamState,
    /// When `state` was entered.
    pub since: SystemTime,
    /// Why the last session ended (or the last attempt failed).
    pub last_error: Option<Error>,
    /// Frames per second over the last ~10 s.
    pub fps: f64,
    /// Bits per second of frame data over the last ~10 s.
    pub bitrate: f64,
    /// Length of the last complete GOP (key frame to key frame), in frames.
    pub gop_frames: Option<u32>,
    /// Length of the last complete GOP in seconds.
    pub gop_secs: Option<f64>,
    /// Wall time (90 kHz ticks since the epoch) of the latest frame.
    pub last_frame_time: Option<Ticks>,
    /// Frames received (including ones dropped because the consumer was behind).
    pub frames: u64,
    /// Bytes of frame data received.
    pub bytes: u64,
    pub key_frames: u64,
    /// Connection attempts after the first.
    pub reconnects: u64,
    /// Frames not delivered to the event channel because it was full.
    pub dropped: u64,
    /// RTP packets lost (sequence-number gaps seen by retina).
    pub rtp_loss: u64,
    /// Discontinuity events emitted (clock re-anchors, parameter changes, drops).
    pub discontinuities: u64,
    /// Smoothed difference between receive time and the RTP-mapped frame time, in ms;
    /// positive when the camera's clock runs behind ours.
    pub drift_ms: Option<f64>,
    /// Rate of that drift, in parts per million (needs about a minute of streaming).
    pub drift_ppm: Option<f64>,
    pub codec: Option<Codec>,
    /// Pixel dimensions (width, height).
    pub resolution: Option<(u32, u32)>,
}

#[derive(Clone, Copy, Debug, Default)]
struct RateBucket {
    sec: u64,
    frames: u32,
    bytes: u64,
}

/// Mutable statistics behind the stream's mutex. Per-frame work is a few additions.
#[derive(Debug)]
pub(crate) struct StatsInner {
    name: Arc<str>,
    state: StreamState,
    since: SystemTime,
    pub(crate) last_error: Option<Error>,
    origin: Instant,
    first_frame: Option<Instant>,
    rate: [RateBucket; RATE_SECS],
    last_key_time: Option<Ticks>,
    frames_since_key: u32,
    gop: Option<(u32, Ticks)>,
    last_frame_time: Option<Ticks>,
    frames: u64,
    bytes: u64,
    key_frames: u64,
    pub(crate) reconnects: u64,
    pub(crate) dropped: u64,
    rtp_loss: u64,
    pub(crate) discontinuities: u64,
    drift: Option<(Ticks, Option<f64>)>,
    pub(crate) params: Option<Arc<VideoParams>>,
}

impl StatsInner {
    pub(crate) fn new(name: Arc<str>, now: Instant) -> StatsInner {
        StatsInner {
            name,
            state: StreamState::Connecting,
            since: SystemTime::now(),
            last_error: None,
            origin: now,
            first_frame: None,
            rate: [RateBucket::default(); RATE_SECS],
            last_key_time: None,
            frames_since_key: 0,
            gop: None,
            last_frame_time: None,
            frames: 0,
            bytes: 0,
            key_frames: 0,
            reconnects: 0,
            dropped: 0,
            rtp_loss: 0,
            discontinuities: 0,
            drift: None,
            params: None,
        }
    }

    pub(crate) fn set_state(&mut self, state: StreamState) {
        if self.state != state {
            self.state = state;
            self.since = SystemTime::now();
        }
    }

    pub(crate) fn state(&self) -> StreamState {
        self.state
    }

    /// Forgets the GOP in progress (its key frame's time is not comparable any more).
    pub(crate) fn break_gop(&mut self) {
        self.last_key_time = None;
        self.frames_since_key = 0;
    }

    /// Accounts one received frame. `now` is its receive instant.
    pub(crate) fn frame(&mut self, now: Instant, time: Ticks, is_key: bool, len: usize, loss: u16) {
        self.first_frame.get_or_insert(now);
        let sec = now.saturating_duration_since(self.origin).as_secs();
        let b = &mut self.rate[(sec % RATE_SECS as u64) as usize];
        if b.sec != sec {
            *b = RateBucket {
                sec,
                frames: 0,
                bytes: 0,
            };
        }
        b.frames += 1;
        b.bytes += len as u64;
        if is_key {
            if let Some(k) = self.last_key_time {
                self.gop = Some((self.frames_since_key, time - k));
            }
            self.last_key_time = Some(time);
            self.frames_since_key = 1;
            self.key_frames += 1;
        } else if self.last_key_time.is_some() {
            self.frames_since_key = self.frames_since_key.saturating_add(1);
        }
        self.last_frame_time = Some(time);
        self.frames += 1;
        self.bytes += len as u64;
        self.rtp_loss += u64::from(loss);
    }

    pub(crate) fn set_drift(&mut self, drift: Ticks, ppm: Option<f64>) {
        self.drift = Some((drift, ppm));
    }

    pub(crate) fn snapshot(&self, now: Instant) -> StreamStats {
        let (fps, bitrate) = self.rates(now);
        StreamStats {
            name: self.name.clone(),
            state: self.state,
            since: self.since,
            last_error: self.last_error.clone(),
            fps,
            bitrate,
            gop_frames: self.gop.map(|g| g.0),
            gop_secs: self.gop.map(|g| g.1 as f64 / TICKS_PER_SEC as f64),
            last_frame_time: self.last_frame_time,
            frames: self.frames,
            bytes: self.bytes,
            key_frames: self.key_frames,
            reconnects: self.reconnects,
            dropped: self.dropped,
            rtp_loss: self.rtp_loss,
            discontinuities: self.discontinuities,
            drift_ms: self
                .drift
                .map(|d| d.0 as f64 * 1000.0 / TICKS_PER_SEC as f64),
            drift_ppm: self.drift.and_then(|d| d.1),
            codec: self.params.as_ref().map(|p| p.codec),
            resolution: self.params.as_ref().map(|p| (p.width, p.height)),
        }
    }

    /// (frames per second, bits per second) over the last `RATE_SECS` seconds (or since the
    /// first frame, if that is more recent).
    fn rates(&self, now: Instant) -> (f64, f64) {
        let Some(first) = self.first_frame else {
            return (0.0, 0.0);
        };
        let elapsed = now.saturating_duration_since(self.origin);
        let now_sec = elapsed.as_secs();
        let oldest = now_sec.saturating_sub(RATE_SECS as u64 - 1);
        let (mut frames, mut bytes) = (0u64, 0u64);
        for b in &self.rate {
            if b.frames > 0 && b.sec >= oldest && b.sec <= now_sec {
                frames += u64::from(b.frames);
                bytes += b.bytes;
            }
        }
        let window_start =
            (oldest as f64).max(first.saturating_duration_since(self.origin).as_secs_f64());
        let span = (elapsed.as_secs_f64() - window_start).max(1.0);
        (frames as f64 / span, bytes as f64 * 8.0 / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fps_bitrate_and_gop() {
        let t0 = Instant::now();
        let mut s = StatsInner::new("cam".into(), t0);
        // 25 fps, 10 000 bytes per frame, a key frame every 50 frames, for 20 s.
        for i in 0..500u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 40);
            s.frame(
                now,
                i64::from(i) * 3600,
                i % 50 == 0,
                10_000,
                u16::from(i == 7),
            );
        }
        let snap = s.snapshot(t0 + Duration::from_millis(20_000));
        assert!((snap.fps - 25.0).abs() < 0.5, "{}", snap.fps);
        assert!(
            (snap.bitrate - 2_000_000.0).abs() < 50_000.0,
            "{}",
            snap.bitrate
        );
        assert_eq!(snap.gop_frames, Some(50));
        assert_eq!(snap.gop_secs, Some(2.0));
        assert_eq!((snap.frames, snap.key_frames, snap.rtp_loss), (500, 10, 1));
        assert_eq!(snap.bytes, 5_000_000);
        // After 30 s of silence the rates fall to zero.
        let later = s.snapshot(t0 + Duration::from_secs(50));
        assert_eq!((later.fps, later.bitrate), (0.0, 0.0));
    }

    #[test]
    fn early_rates_use_time_since_first_frame() {
        let t0 = Instant::now();
        let mut s = StatsInner::new("cam".into(), t0);
        let start = t0 + Duration::from_secs(100);
        for i in 0..60u64 {
            s.frame(start + Duration::from_millis(i * 33), 0, false, 100, 0);
        }
        let snap = s.snapshot(start + Duration::from_secs(2));
        assert!((snap.fps - 30.0).abs() < 1.0, "{}", snap.fps);
    }

    #[test]
    fn broken_gop_is_not_measured() {
        let t0 = Instant::now();
        let mut s = StatsInner::new("cam".into(), t0);
        s.frame(t0, 0, true, 1, 0);
        s.frame(t0, 3000, false, 1, 0);
        s.break_gop();
        s.frame(t0, 900_000, true, 1, 0);
        assert_eq!(s.snapshot(t0).gop_frames, None);
        s.frame(t0, 903_000, false, 1, 0);
        s.frame(t0, 906_000, true, 1, 0);
        assert_eq!(s.snapshot(t0).gop_frames, Some(2));
    }
}
