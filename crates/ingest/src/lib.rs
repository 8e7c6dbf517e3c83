//! # ingest — camera sessions
//!
//! What this crate is for: keeping one RTSP session per camera stream alive and turning it
//! into [`media::Frame`]s.
//!
//! - [`spawn`] starts a *supervisor* task per stream: connect → DESCRIBE/SETUP/PLAY (retina,
//!   RTP interleaved over the RTSP TCP connection, Basic/Digest auth) → frames; on any error,
//!   end of stream or *stall* (no frame for [`StreamConfig::stall_timeout`]) it reports
//!   [`Event::Disconnected`], waits with exponential backoff and jitter, and reconnects.
//! - Frames, in decode order, carry wall-clock times: the camera's RTP clock is anchored to
//!   the receive time at session start, its drift is tracked, and it is re-anchored (with an
//!   [`Event::Discontinuity`]) when it drifts or jumps (see the `clock` module's docs).
//! - Events go to the recorder through a bounded channel that never stalls the RTSP read
//!   loop: when it is full, frames are dropped up to the next key frame and the consumer is
//!   told how many ([`DiscontinuityReason::FramesDropped`]).
//! - A live bus ([`StreamHandle::subscribe`]) fans frames out to viewers and analysis;
//!   frame data is reference counted, never copied, and slow subscribers lag on their own.
//! - [`StreamHandle::stats`] gives a cheap snapshot: state, fps, bitrate, GOP, drift, loss…
//! - Key frames are random access points: IDR for H.264; IDR, CRA or BLA for H.265 (retina
//!   0.4 flags only IDR, so ingest reads the NAL headers of H.265 frames itself: cameras with
//!   open GOPs send CRA key frames only).
//!
//! What it is not for: writing files (that is `store`), decoding pictures (`analyze`),
//! serving viewers (`web`), audio, UDP transport, or cameras that send B-frames.
//!
//! One supervisor per stream; one events channel per stream (events carry no stream id).

mod backoff;
mod clock;
mod config;
mod error;
mod session;
mod stats;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use media::{Frame, VideoParams};
use tokio::sync::{broadcast, mpsc, watch};

pub use clock::wall_ticks;
pub use config::{redact_url, BackoffConfig, Credentials, StreamConfig};
pub use error::Error;
pub use stats::{StreamState, StreamStats};

/// Smallest events channel capacity [`spawn`] accepts: a frame may be preceded by up to
/// four control events, which are reserved together with it.
pub const MIN_EVENTS_CAPACITY: usize = 8;

/// What a stream tells its consumer (the recorder), in order.
#[derive(Clone, Debug)]
pub enum Event {
    /// A session is up; sent just before its first frame. `params` are that frame's.
    Connected { params: Arc<VideoParams> },
    /// One encoded picture.
    Frame(Frame),
    /// The frames that follow do not continue the previous ones seamlessly: start a new
    /// segment (or at least a new fragment) before the next frame.
    Discontinuity { reason: DiscontinuityReason },
    /// The session ended (or an attempt failed); a reconnect follows unless stopped.
    Disconnected { reason: Error },
}

/// Why an [`Event::Discontinuity`] was sent.
#[derive(Clone, Debug)]
pub enum DiscontinuityReason {
    /// The camera changed its parameter sets (resolution, profile…); the following frames
    /// carry the new `Arc`.
    ParamsChanged { params: Arc<VideoParams> },
    /// The camera's RTP clock jumped by `jump_ms` relative to the receive clock; frame times
    /// were re-anchored to the receive time.
    TimestampJump { jump_ms: i64 },
    /// The RTP clock drifted `drift_ms` from the wall clock (beyond
    /// [`StreamConfig::max_drift`]); frame times were re-anchored. A negative drift means
    /// the next frame's time steps back by about that much.
    ClockReanchored { drift_ms: i64 },
    /// `frames` frames were dropped because the events channel was full; the next frame is
    /// a key frame.
    FramesDropped { frames: u64 },
}

impl std::fmt::Display for DiscontinuityReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscontinuityReason::ParamsChanged { params } => write!(
                f,
                "parameters changed to {} {}x{} ({})",
                params.codec.as_str(),
                params.width,
                params.height,
                params.rfc6381
            ),
            DiscontinuityReason::TimestampJump { jump_ms } => {
                write!(f, "camera timestamp jumped by {jump_ms} ms; re-anchored")
            }
            DiscontinuityReason::ClockReanchored { drift_ms } => {
                write!(f, "camera clock drifted {drift_ms} ms; re-anchored")
            }
            DiscontinuityReason::FramesDropped { frames } => {
                write!(f, "{frames} frames dropped (consumer behind)")
            }
        }
    }
}

/// State shared by a supervisor and the handles watching it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stats: Mutex<stats::StatsInner>,
    pub(crate) bus: broadcast::Sender<Frame>,
    /// The frames since the latest key frame (the current GOP), so that a live viewer can
    /// start at once instead of waiting up to a GOP for the next key frame. The frames are
    /// the same shared buffers the recorder holds: the cost is keeping them a GOP longer.
    pub(crate) gop: Mutex<Vec<Frame>>,
}

/// Most frames kept for the current GOP; a longer GOP is not cached (viewers then wait
/// for the next key frame).
pub(crate) const MAX_GOP_FRAMES: usize = 300;

impl Shared {
    pub(crate) fn stats(&self) -> std::sync::MutexGuard<'_, stats::StatsInner> {
        // Stats stay usable even if a holder panicked: they are plain counters.
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A cheap, cloneable read-only view of a running stream: stats, live bus, parameters.
/// Hand these to the web layer or analysis; only the [`StreamHandle`] controls the stream.
#[derive(Clone, Debug)]
pub struct StreamMonitor {
    shared: Arc<Shared>,
}

impl StreamMonitor {
    /// A snapshot of the stream's statistics (a short lock and a few copies).
    pub fn stats(&self) -> StreamStats {
        self.shared.stats().snapshot(Instant::now())
    }

    /// Subscribes to the live frame bus. Frames arrive from the next one on (use
    /// [`Self::params`] and wait for a key frame to start decoding). A receiver that falls
    /// more than the bus capacity behind gets `RecvError::Lagged` and should skip to the
    /// next key frame; ingest never waits for it.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.shared.bus.subscribe()
    }

    /// The frames of the current GOP, from its key frame (empty before the first key
    /// frame, after a gap, or when the GOP is longer than the cache). Subscribe first, then
    /// take this, and skip bus frames not newer than its last.
    pub fn gop(&self) -> Vec<Frame> {
        self.shared
            .gop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The stream's latest parameters, if a frame has been seen.
    pub fn params(&self) -> Option<Arc<VideoParams>> {
        self.shared.stats().params.clone()
    }
}

/// Controls one stream's supervisor task. Dropping it (or [`StreamHandle::stop`]) stops the
/// stream: the session is torn down and no reconnect follows.
#[derive(Debug)]
pub struct StreamHandle {
    monitor: StreamMonitor,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl StreamHandle {
    /// See [`StreamMonitor::stats`].
    pub fn stats(&self) -> StreamStats {
        self.monitor.stats()
    }

    /// See [`StreamMonitor::subscribe`].
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.monitor.subscribe()
    }

    /// See [`StreamMonitor::params`].
    pub fn params(&self) -> Option<Arc<VideoParams>> {
        self.monitor.params()
    }

    /// A cloneable read-only view of this stream.
    pub fn monitor(&self) -> StreamMonitor {
        self.monitor.clone()
    }

    /// Asks the supervisor to stop (returns at once). It ends the session, sends
    /// `Disconnected { reason: Error::Stopped }` if the channel has room, and exits.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the stream and waits for its task to end.
    pub async fn shutdown(self) {
        self.stop();
        if let Err(e) = self.task.await {
            if e.is_panic() {
                tracing::error!(error = %e, "ingest supervisor panicked");
            }
        }
    }
}

/// Starts the supervisor of one camera stream on the current tokio runtime.
///
/// Events go to `events`, one channel per stream, whose capacity should hold a few seconds
/// of frames (at least [`MIN_EVENTS_CAPACITY`]).
///
/// # Panics
///
/// Outside a tokio runtime, or if `events` has less than [`MIN_EVENTS_CAPACITY`] capacity.
pub fn spawn(cfg: StreamConfig, events: mpsc::Sender<Event>) -> StreamHandle {
    assert!(
        events.max_capacity() >= MIN_EVENTS_CAPACITY,
        "ingest::spawn: events channel capacity {} < {MIN_EVENTS_CAPACITY}",
        events.max_capacity()
    );
    let (bus, _) = broadcast::channel(cfg.bus_capacity.max(1));
    let shared = Arc::new(Shared {
        stats: Mutex::new(stats::StatsInner::new(
            cfg.name.as_str().into(),
            Instant::now(),
        )),
        bus,
        gop: Mutex::new(Vec::new()),
    });
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(session::Supervisor::new(cfg, events, shared.clone()).run(stop_rx));
    StreamHandle {
        monitor: StreamMonitor { shared },
        stop,
        task,
    }
}
