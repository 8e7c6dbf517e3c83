//! The supervisor of one stream: sessions, reconnects, and frame delivery.
//!
//! A *session* is one RTSP connection: DESCRIBE, SETUP of the first H.264/H.265 video
//! stream (interleaved TCP, MP4 framing), PLAY, then frames until an error, the end of the
//! stream, or a stall. The supervisor runs sessions in a loop with backoff in between.
//!
//! Delivery never waits on the consumer inside a session: control events are kept pending
//! and sent together with the next frame (reserving all their slots at once); if the
//! channel lacks room, frames are dropped until a key frame fits.

use std::convert::Infallible;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use media::{Codec, Frame, Ticks, VideoParams};
use retina::client::{
    Demuxed, PlayOptions, Session, SessionOptions, SetupOptions, TeardownPolicy, Transport,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParametersCodec};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::backoff::Backoff;
use crate::clock::{wall_ticks, Clock, ClockStep};
use crate::config::Target;
use crate::error::from_retina;
use crate::{DiscontinuityReason, Error, Event, Shared, StreamConfig, StreamState};

const USER_AGENT: &str = "Vigil/0.1";

/// How long the supervisor waits for room in the events channel to report a disconnect.
const DISCONNECT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Control events waiting to be sent with the next delivered frame.
#[derive(Debug, Default)]
struct Pending {
    connected: Option<Arc<VideoParams>>,
    params: Option<Arc<VideoParams>>,
    clock: Option<DiscontinuityReason>,
    dropped: u64,
}

impl Pending {
    fn len(&self) -> usize {
        usize::from(self.connected.is_some())
            + usize::from(self.params.is_some())
            + usize::from(self.clock.is_some())
            + usize::from(self.dropped > 0)
    }
}

pub(crate) struct Supervisor {
    cfg: StreamConfig,
    events: mpsc::Sender<Event>,
    shared: Arc<Shared>,
    backoff: Backoff,
    pending: Pending,
    /// Dropping frames until a key frame fits into the events channel.
    dropping: bool,
    /// The consumer closed the events channel (frames then only go to the live bus).
    closed: bool,
}

/// Ends when the handle asks to stop or is dropped.
async fn stop_requested(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl Supervisor {
    pub(crate) fn new(
        cfg: StreamConfig,
        events: mpsc::Sender<Event>,
        shared: Arc<Shared>,
    ) -> Supervisor {
        Supervisor {
            backoff: Backoff::new(cfg.backoff.clone()),
            cfg,
            events,
            shared,
            pending: Pending::default(),
            dropping: false,
            closed: false,
        }
    }

    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let target = match Target::from_config(&self.cfg) {
            Ok(t) => t,
            Err(e) => {
                // A malformed URL will not fix itself: report and end.
                warn!(camera = %self.cfg.name, error = %e, "not starting stream");
                self.finish(e);
                return;
            }
        };
        let mut attempt = 0u64;
        loop {
            if attempt > 0 {
                self.shared.stats().reconnects += 1;
            }
            attempt += 1;
            self.shared.stats().set_state(StreamState::Connecting);
            debug!(camera = %target.camera, url = %target.redacted, attempt, "connecting");
            let mut first_frame: Option<Instant> = None;
            let err = tokio::select! {
                biased;
                () = stop_requested(&mut stop) => break,
                Err(e) = self.session(&target, &mut first_frame) => e,
            };
            let streamed = first_frame.map_or(Duration::ZERO, |t| t.elapsed());
            self.backoff.session_ended(streamed);
            let delay = self.backoff.next_delay();
            warn!(
                camera = %target.camera,
                error = %err,
                streamed_secs = streamed.as_secs(),
                retry_in_ms = delay.as_millis() as u64,
                "camera session ended"
            );
            {
                let mut s = self.shared.stats();
                s.last_error = Some(err.clone());
                s.set_state(StreamState::Backoff {
                    until: std::time::SystemTime::now() + delay,
                });
            }
            if !self.report_disconnect(err, &mut stop).await {
                break;
            }
            tokio::select! {
                biased;
                () = stop_requested(&mut stop) => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        info!(camera = %target.camera, "stream stopped");
        self.finish(Error::Stopped {
            camera: target.camera.clone(),
        });
    }

    /// Marks the stream stopped and tells the consumer if there is room.
    fn finish(&mut self, reason: Error) {
        {
            let mut s = self.shared.stats();
            if !matches!(reason, Error::Stopped { .. }) {
                s.last_error = Some(reason.clone());
            }
            s.set_state(StreamState::Stopped);
        }
        let _ = self.events.try_send(Event::Disconnected { reason });
    }

    /// Sends `Disconnected`, waiting a bounded time for room. Returns false if stopped.
    async fn report_disconnect(&mut self, reason: Error, stop: &mut watch::Receiver<bool>) -> bool {
        let ev = match self.events.try_send(Event::Disconnected { reason }) {
            Ok(()) | Err(TrySendError::Closed(_)) => return true,
            Err(TrySendError::Full(ev)) => ev,
        };
        tokio::select! {
            biased;
            () = stop_requested(stop) => false,
            r = tokio::time::timeout(DISCONNECT_SEND_TIMEOUT, self.events.send(ev)) => {
                if r.is_err() {
                    warn!(camera = %self.cfg.name, "events channel full for {DISCONNECT_SEND_TIMEOUT:?}; disconnect not reported");
                }
                true
            }
        }
    }

    /// Runs one session until it fails; `first_frame` is set when frames start flowing.
    async fn session(
        &mut self,
        target: &Target,
        first_frame: &mut Option<Instant>,
    ) -> Result<Infallible, Error> {
        let (mut demuxed, stream_i) = self.open(target).await?;
        let stream = &demuxed.streams()[stream_i];
        let mut clock = Clock::new(
            stream.clock_rate_hz(),
            ticks(self.cfg.max_drift),
            ticks(self.cfg.max_jump),
        );
        let mut params: Option<Arc<VideoParams>> = None;
        self.pending = Pending::default();
        self.dropping = false;
        self.shared.stats().break_gop();

        let stall = self.cfg.stall_timeout;
        let mut last_frame = Instant::now();
        let sleep = tokio::time::sleep(stall);
        tokio::pin!(sleep);
        loop {
            let item = tokio::select! {
                biased;
                item = demuxed.next() => item,
                () = &mut sleep => {
                    let deadline = last_frame + stall;
                    if Instant::now() >= deadline {
                        return Err(Error::Stall {
                            camera: target.camera.clone(),
                            url: target.redacted.clone(),
                            timeout: stall,
                        });
                    }
                    // Re-arm once per stall period rather than once per frame.
                    sleep.as_mut().reset(deadline.into());
                    continue;
                }
            };
            let frame = match item {
                None => {
                    return Err(Error::EndOfStream {
                        camera: target.camera.clone(),
                        url: target.redacted.clone(),
                    })
                }
                Some(Err(e)) => {
                    return Err(from_retina(
                        &target.camera,
                        &target.redacted,
                        "reading the stream",
                        &e,
                    ))
                }
                Some(Ok(CodecItem::VideoFrame(f))) => f,
                Some(Ok(_)) => continue, // RTCP sender reports and the like.
            };
            let recv = frame.end_ctx().received();
            last_frame = recv;
            if frame.has_new_parameters() || params.is_none() {
                let stream = &demuxed.streams()[stream_i];
                let Some(new) = video_params(target, stream.parameters())? else {
                    debug!(camera = %target.camera, "frame before parameters are known; skipped");
                    continue;
                };
                match &params {
                    Some(old) if **old == new => {}
                    Some(_) => {
                        let new = Arc::new(new);
                        info!(camera = %target.camera, codec = new.codec.as_str(), width = new.width, height = new.height, rfc6381 = %new.rfc6381, "camera changed its parameters");
                        self.pending.params = Some(new.clone());
                        self.shared.stats().break_gop();
                        self.publish_params(&new);
                        params = Some(new);
                    }
                    None => {
                        let new = Arc::new(new);
                        self.publish_params(&new);
                        params = Some(new);
                    }
                }
            }
            let Some(p) = &params else { continue };
            let p = p.clone();
            let recv_wall = wall_ticks(frame.end_ctx().received_wall().into());
            let (time, step) = clock.map(frame.timestamp().timestamp(), recv_wall);
            if let Some(step) = step {
                let reason = match step {
                    ClockStep::Jump { jump } => {
                        DiscontinuityReason::TimestampJump { jump_ms: ms(jump) }
                    }
                    ClockStep::Drift { drift } => DiscontinuityReason::ClockReanchored {
                        drift_ms: ms(drift),
                    },
                };
                info!(camera = %target.camera, %reason, "frame clock re-anchored");
                self.pending.clock = Some(reason);
                self.shared.stats().break_gop();
            }
            let first_frame_now = first_frame.is_none();
            if first_frame.is_none() {
                *first_frame = Some(recv);
                info!(camera = %target.camera, url = %target.redacted, codec = p.codec.as_str(), width = p.width, height = p.height, "streaming");
                // Connected carries the current parameters; no separate change event.
                self.pending.connected = Some(p.clone());
                self.pending.params = None;
            }
            let retina_key = frame.is_random_access_point();
            let loss = frame.loss();
            let data = Bytes::from(frame.into_data());
            // retina 0.4 counts only IDR as an H.265 random access point; CRA and BLA
            // pictures are too (cameras with open GOPs send no IDR after the first).
            let is_key = retina_key || (p.codec == Codec::H265 && h265_is_irap(&data));
            let len = data.len();
            let frame = Frame {
                time,
                is_key,
                data,
                params: p,
                loss,
            };
            self.cache_gop(&frame, step.is_some() || first_frame_now);
            if self.shared.bus.receiver_count() > 0 {
                // Never blocks: a lagging subscriber loses its oldest frames.
                let _ = self.shared.bus.send(frame.clone());
            }
            let (delivered, discontinuities) = self.deliver(frame);
            let mut s = self.shared.stats();
            s.frame(recv, time, is_key, len, loss);
            s.set_drift(clock.drift(), clock.drift_ppm());
            s.discontinuities += discontinuities;
            if !delivered {
                s.dropped += 1;
            }
            if s.state() != StreamState::Streaming {
                s.set_state(StreamState::Streaming);
            }
        }
    }

    /// Keeps the current GOP for live viewers (see `Shared::gop`); `reset` after a clock
    /// step or at a new session, whose frames do not continue the cached ones.
    fn cache_gop(&self, frame: &Frame, reset: bool) {
        let mut g = self
            .shared
            .gop
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if frame.is_key || reset {
            g.clear();
        }
        if frame.is_key || !g.is_empty() {
            if g.len() < crate::MAX_GOP_FRAMES {
                g.push(frame.clone());
            } else {
                g.clear();
            }
        }
    }

    fn publish_params(&self, p: &Arc<VideoParams>) {
        self.shared.stats().params = Some(p.clone());
    }

    /// DESCRIBE, SETUP, PLAY; returns the demuxed session and the index of its video stream.
    async fn open(&self, target: &Target) -> Result<(Demuxed, usize), Error> {
        let timeout = self.cfg.request_timeout;
        let timed_out = |phase: &'static str| Error::Timeout {
            camera: target.camera.clone(),
            url: target.redacted.clone(),
            phase,
            timeout,
        };
        let rtsp = |phase: &'static str| {
            move |e: retina::Error| from_retina(&target.camera, &target.redacted, phase, &e)
        };
        let opts = SessionOptions::default()
            .creds(target.creds.clone())
            .user_agent(USER_AGENT.to_owned())
            .teardown(TeardownPolicy::Auto);
        let mut session =
            tokio::time::timeout(timeout, Session::describe(target.url.clone(), opts))
                .await
                .map_err(|_| timed_out("DESCRIBE"))?
                .map_err(rtsp("DESCRIBE"))?;
        let stream_i = session
            .streams()
            .iter()
            .position(|s| s.media() == "video" && matches!(s.encoding_name(), "h264" | "h265"))
            .ok_or_else(|| Error::NoVideo {
                camera: target.camera.clone(),
                url: target.redacted.clone(),
                found: session
                    .streams()
                    .iter()
                    .map(|s| format!("{}/{}", s.media(), s.encoding_name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let setup = SetupOptions::default()
            .transport(Transport::Tcp(Default::default()))
            .frame_format(FrameFormat::MP4);
        tokio::time::timeout(timeout, session.setup(stream_i, setup))
            .await
            .map_err(|_| timed_out("SETUP"))?
            .map_err(rtsp("SETUP"))?;
        let playing = tokio::time::timeout(timeout, session.play(PlayOptions::default()))
            .await
            .map_err(|_| timed_out("PLAY"))?
            .map_err(rtsp("PLAY"))?;
        let demuxed = playing.demuxed().map_err(rtsp("PLAY"))?;
        Ok((demuxed, stream_i))
    }

    /// Sends pending control events and the frame without waiting. Returns whether the frame
    /// was delivered and how many discontinuity events were sent.
    fn deliver(&mut self, frame: Frame) -> (bool, u64) {
        if self.closed || (self.dropping && !frame.is_key) {
            return (self.closed, 0);
        }
        let n = 1 + self.pending.len();
        let mut permits = match self.events.try_reserve_many(n) {
            Ok(p) => p,
            Err(TrySendError::Full(())) => {
                if !self.dropping {
                    debug!(camera = %self.cfg.name, "events channel full; dropping frames until a key frame");
                }
                self.dropping = true;
                self.pending.dropped += 1;
                return (false, 0);
            }
            Err(TrySendError::Closed(())) => {
                warn!(camera = %self.cfg.name, "events receiver gone; frames go to the live bus only");
                self.closed = true;
                return (true, 0);
            }
        };
        let mut send = |ev: Event| {
            if let Some(p) = permits.next() {
                p.send(ev);
            }
        };
        let mut discontinuities = 0;
        if let Some(params) = self.pending.connected.take() {
            send(Event::Connected { params });
        }
        if self.pending.dropped > 0 {
            let frames = std::mem::take(&mut self.pending.dropped);
            send(Event::Discontinuity {
                reason: DiscontinuityReason::FramesDropped { frames },
            });
            discontinuities += 1;
        }
        if let Some(params) = self.pending.params.take() {
            send(Event::Discontinuity {
                reason: DiscontinuityReason::ParamsChanged { params },
            });
            discontinuities += 1;
        }
        if let Some(reason) = self.pending.clock.take() {
            send(Event::Discontinuity { reason });
            discontinuities += 1;
        }
        send(Event::Frame(frame));
        self.dropping = false;
        (true, discontinuities)
    }
}

/// Whether length-prefixed H.265 access unit data is an IRAP picture (BLA, IDR or CRA:
/// the first VCL NAL's type is in 16..=23). Reads only NAL headers.
fn h265_is_irap(mut data: &[u8]) -> bool {
    while data.len() > 4 {
        let len = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
        let nal_type = (data[4] >> 1) & 0x3f;
        if nal_type < 32 {
            return (16..=23).contains(&nal_type);
        }
        data = &data[(4 + len).min(data.len())..];
    }
    false
}

fn ticks(d: Duration) -> Ticks {
    (d.as_nanos() * 9 / 100_000).min(i64::MAX as u128) as Ticks
}

fn ms(t: Ticks) -> i64 {
    t / 90
}

/// Builds Vigil's parameters from retina's; `Ok(None)` while they are not known yet.
fn video_params(
    target: &Target,
    p: Option<ParametersRef<'_>>,
) -> Result<Option<VideoParams>, Error> {
    let Some(ParametersRef::Video(p)) = p else {
        return Ok(None);
    };
    let bad = |detail: String| Error::Params {
        camera: target.camera.clone(),
        url: target.redacted.clone(),
        detail,
    };
    let codec = match p.codec_params() {
        VideoParametersCodec::H264 { .. } => Codec::H264,
        VideoParametersCodec::H265 { .. } => Codec::H265,
        other => return Err(bad(format!("unsupported codec {other:?}"))),
    };
    let sample_entry = p
        .mp4_sample_entry()
        .build()
        .map_err(|e| bad(format!("building the MP4 sample entry: {e}")))?;
    let (width, height) = p.pixel_dimensions();
    Ok(Some(VideoParams {
        codec,
        width,
        height,
        rfc6381: p.rfc6381_codec().to_owned(),
        sample_entry,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn au(types: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for &t in types {
            v.extend_from_slice(&3u32.to_be_bytes());
            v.extend_from_slice(&[t << 1, 1, 0xaa]);
        }
        v
    }

    #[test]
    fn h265_irap_detection() {
        assert!(h265_is_irap(&au(&[39, 21]))); // SEI, CRA
        assert!(h265_is_irap(&au(&[19])) && h265_is_irap(&au(&[16])));
        assert!(!h265_is_irap(&au(&[39, 1]))); // SEI, TRAIL_R
        assert!(!h265_is_irap(&au(&[39])) && !h265_is_irap(&[]));
        let mut truncated = au(&[39]);
        truncated[3] = 200; // length beyond the data
        assert!(!h265_is_irap(&truncated));
    }

    #[test]
    fn duration_to_ticks() {
        assert_eq!(ticks(Duration::from_secs(1)), 90_000);
        assert_eq!(ticks(Duration::from_millis(1500)), 135_000);
        assert_eq!(ms(90_000), 1000);
    }
}
