//! # sim — an RTSP camera simulator with faults on demand
//!
//! What this crate is for: standing in for a school's IP cameras in Vigil's demo, tests and
//! benchmarks. [`Sim::start`] serves `rtsp://HOST:PORT/<camera>/main` and `/<camera>/sub`
//! for each configured camera over RTSP with RTP interleaved on TCP, optionally behind
//! Basic or Digest authentication, and injects faults (disconnect, stall, frozen, black,
//! blurred or moved picture, timestamp jump, parameter-set change) on command
//! ([`Sim::inject`], or `POST /fault/<camera>/<kind>?secs=N` on the control port) or on a
//! schedule ([`parse_schedule`]).
//!
//! Each camera stream is fed by one of three sources ([`SourceSpec`]):
//!
//! - **Live**: a moving scene with the camera name and the UTC date and time burned in,
//!   rendered and H.264-encoded (openh264) frame by frame. The encoder of a live stream runs
//!   only while the stream has clients (on its own thread), so idle cameras cost nothing.
//! - **Loop**: N seconds of a detailed scene encoded once (cached on disk in
//!   [`SimConfig::cache_dir`], keyed by its parameters), packetized once, and replayed to
//!   every client of every camera using it with continuing timestamps. Cheap enough for
//!   hundreds of streams.
//! - **File**: an Annex B H.264 or H.265 elementary stream (no B-frames), split into access
//!   units and replayed in a loop at a given frame rate.
//!
//! What it is not for: a general RTSP server. It speaks just enough RTSP for real clients
//! (retina, ffmpeg, GStreamer): one session per connection, TCP interleaved transport only
//! (UDP `SETUP` gets `461 Unsupported Transport`), no audio, no RTSP over HTTP, no
//! recording (`ANNOUNCE`/`RECORD`). It is not a way to serve footage to users.
//!
//! Timing: stream timestamps follow the monotonic clock from start-up; the burned-in clock
//! of live sources is UTC wall time. Picture faults need live sources (for loop and file
//! sources [`Sim::inject`] returns [`Error::UnsupportedFault`]); disconnect, stall and
//! timestamp jump work for every source. A client too slow to keep up is skipped ahead to
//! the next key frame (each stream buffers at most 64 frames) and disconnected if it
//! cannot take one frame within 10 s.

mod auth;
mod control;
mod encode;
mod error;
mod fault;
mod font;
mod nal;
mod rtp;
mod rtsp;
mod scene;
mod source;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use auth::Auth;
pub use error::Error;
pub use fault::{parse_duration, parse_schedule, FaultKind, ScheduledFault};
pub use media::Codec;

use encode::EncodeParams;
use rtsp::{Camera, Counters, Shared};
use source::{Clip, Feed, FeedKind};

/// Everything the simulator serves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// RTSP listening address; `127.0.0.1:0` picks a free port (see [`Sim::rtsp_addr`]).
    pub bind: SocketAddr,
    /// HTTP control endpoint address, if wanted (`127.0.0.1:0` picks a free port).
    pub control_bind: Option<SocketAddr>,
    /// Credentials the cameras require; `None` for open cameras.
    pub auth: Option<Auth>,
    pub cameras: Vec<CameraSpec>,
    /// Faults to inject at times after start-up.
    pub schedule: Vec<ScheduledFault>,
    /// Where loop clips are cached (e.g. `~/.cache/vigil-sim`); `None` encodes them at
    /// every start.
    pub cache_dir: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            control_bind: None,
            auth: None,
            cameras: Vec::new(),
            schedule: Vec::new(),
            cache_dir: None,
        }
    }
}

/// One simulated camera: a name used in its URLs (`cam1`), a main and an optional sub
/// stream.
#[derive(Clone, Debug)]
pub struct CameraSpec {
    pub name: String,
    pub main: SourceSpec,
    pub sub: Option<SourceSpec>,
}

impl CameraSpec {
    /// A demo camera: live 1280x720 main stream at 15 fps, 2 Mbit/s, and a live 640x360
    /// sub stream at 10 fps, 512 kbit/s; 2 s GOPs.
    pub fn demo(name: &str) -> CameraSpec {
        CameraSpec {
            name: name.to_owned(),
            main: SourceSpec::Live {
                width: 1280,
                height: 720,
                fps: 15,
                bitrate_bps: 2_000_000,
                gop_frames: 30,
            },
            sub: Some(SourceSpec::Live {
                width: 640,
                height: 360,
                fps: 10,
                bitrate_bps: 512_000,
                gop_frames: 20,
            }),
        }
    }

    /// A cheap benchmark camera: the shared 1080p, 15 fps, 2 Mbit/s, 2 s GOP, 10 s loop.
    pub fn bench(name: &str) -> CameraSpec {
        CameraSpec {
            name: name.to_owned(),
            main: SourceSpec::Loop {
                width: 1920,
                height: 1080,
                fps: 15,
                bitrate_bps: 2_000_000,
                gop_frames: 30,
                seconds: 10,
            },
            sub: None,
        }
    }
}

/// Where a camera stream's video comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// Rendered and encoded live (H.264) while the stream has clients.
    Live {
        width: u32,
        height: u32,
        fps: u32,
        bitrate_bps: u32,
        gop_frames: u32,
    },
    /// `seconds` of video encoded once (and cached), replayed forever; shared by every
    /// stream with the same parameters.
    Loop {
        width: u32,
        height: u32,
        fps: u32,
        bitrate_bps: u32,
        gop_frames: u32,
        seconds: u32,
    },
    /// An Annex B elementary stream file (no B-frames) replayed in a loop at `fps`.
    File {
        path: PathBuf,
        codec: Codec,
        fps: u32,
    },
}

/// Counters over the simulator's lifetime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Clients currently playing.
    pub clients: usize,
    /// Sessions that started playing since start-up.
    pub sessions_total: u64,
    /// RTP and interleave bytes sent.
    pub bytes_sent: u64,
    /// Access units sent (summed over clients).
    pub frames_sent: u64,
}

/// State shared by the handle, the control endpoint and the schedule.
pub(crate) struct SimInner {
    shared: Arc<Shared>,
    rtsp_addr: SocketAddr,
    /// Camera names in configuration order.
    order: Vec<String>,
}

impl SimInner {
    fn inject(&self, camera: &str, fault: FaultKind, dur: Duration) -> Result<(), Error> {
        let cam = self
            .shared
            .cameras
            .get(camera)
            .ok_or_else(|| Error::UnknownCamera(camera.to_owned()))?;
        if fault.is_picture_fault() && !cam.all_live() {
            let kind = cam
                .feeds()
                .map(|(_, f)| f.kind)
                .find(|k| *k != FeedKind::Live)
                .unwrap_or(FeedKind::Loop);
            return Err(Error::UnsupportedFault {
                camera: camera.to_owned(),
                fault: fault.to_string(),
                source_kind: kind.as_str(),
            });
        }
        info!(camera, %fault, secs = dur.as_secs_f64(), "injecting fault");
        cam.faults.apply(fault, dur, Instant::now());
        if fault == FaultKind::Disconnect {
            cam.disconnect.send_modify(|v| *v = v.wrapping_add(1));
        }
        Ok(())
    }

    fn stats(&self) -> SimStats {
        let c = &self.shared.counters;
        SimStats {
            clients: c.clients.load(Ordering::Relaxed),
            sessions_total: c.sessions_total.load(Ordering::Relaxed),
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
            frames_sent: c.frames_sent.load(Ordering::Relaxed),
        }
    }

    fn url(&self, camera: &str, sub: bool) -> String {
        let s = if sub { "sub" } else { "main" };
        format!("rtsp://{}/{camera}/{s}", self.rtsp_addr)
    }

    fn cameras_json(&self) -> serde_json::Value {
        let cams: Vec<serde_json::Value> = self
            .order
            .iter()
            .filter_map(|n| self.shared.cameras.get(n))
            .map(|c| {
                let active = c.faults.active(Instant::now());
                let streams: Vec<serde_json::Value> = c
                    .feeds()
                    .map(|(s, f)| {
                        serde_json::json!({
                            "stream": s,
                            "url": self.url(&c.name, s == "sub"),
                            "source": f.kind.as_str(),
                            "codec": f.codec.as_str(),
                            "fps": f.fps,
                        })
                    })
                    .collect();
                serde_json::json!({
                    "name": c.name,
                    "clients": c.clients.load(Ordering::Relaxed),
                    "streams": streams,
                    "faults": {
                        "offline": active.offline, "stall": active.stall, "freeze": active.freeze,
                        "black": active.black, "blur": active.blur, "shift": active.shift,
                        "param_change": active.param_change,
                        "ts_offset_secs": active.ts_offset / i64::from(media::TIMESCALE),
                    },
                })
            })
            .collect();
        serde_json::Value::Array(cams)
    }
}

/// A running simulator. Dropping it without [`Sim::shutdown`] stops the network tasks
/// but leaves live encoder threads to notice on their own (within one frame).
pub struct Sim {
    inner: Arc<SimInner>,
    control_addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    live_threads: Vec<std::thread::JoinHandle<()>>,
    live_stop: Arc<AtomicBool>,
}

impl Sim {
    /// Prepares every source (encoding or loading loop clips, reading files, starting
    /// live encoders) and starts serving. Fails on a bad configuration, an unreadable
    /// file or a port that cannot be bound.
    pub async fn start(cfg: SimConfig) -> Result<Sim, Error> {
        validate(&cfg)?;
        let live_stop = Arc::new(AtomicBool::new(false));
        let mut sim = Sim {
            inner: Arc::new(SimInner {
                shared: Arc::new(Shared {
                    cameras: HashMap::new(),
                    auth: None,
                    counters: Counters::default(),
                }),
                rtsp_addr: cfg.bind,
                order: Vec::new(),
            }),
            control_addr: None,
            tasks: Vec::new(),
            live_threads: Vec::new(),
            live_stop: live_stop.clone(),
        };
        // From here on, an error drops `sim`, which stops what was started.
        let mut clips: HashMap<(EncodeParams, u32), Arc<Clip>> = HashMap::new();
        let mut files: HashMap<(PathBuf, Codec), Arc<Clip>> = HashMap::new();
        let mut cameras = HashMap::new();
        let mut order = Vec::new();
        for spec in &cfg.cameras {
            let faults = Arc::new(fault::FaultState::default());
            let mut feeds: Vec<Arc<Feed>> = Vec::new();
            for (stream, src) in
                std::iter::once(("main", &spec.main)).chain(spec.sub.iter().map(|s| ("sub", s)))
            {
                let label = format!("{}/{stream}", spec.name);
                let feed = match src {
                    SourceSpec::Live {
                        width,
                        height,
                        fps,
                        bitrate_bps,
                        gop_frames,
                    } => {
                        let p = EncodeParams {
                            width: *width,
                            height: *height,
                            fps: *fps,
                            bitrate_bps: *bitrate_bps,
                            gop_frames: *gop_frames,
                        };
                        let (f, stop) = (faults.clone(), live_stop.clone());
                        let (feed, thread) = tokio::task::spawn_blocking(move || {
                            source::start_live(label, p, f, stop)
                        })
                        .await
                        .map_err(|e| Error::Config(format!("live start-up panicked: {e}")))??;
                        sim.live_threads.push(thread.join);
                        feed
                    }
                    SourceSpec::Loop {
                        width,
                        height,
                        fps,
                        bitrate_bps,
                        gop_frames,
                        seconds,
                    } => {
                        let p = EncodeParams {
                            width: *width,
                            height: *height,
                            fps: *fps,
                            bitrate_bps: *bitrate_bps,
                            gop_frames: *gop_frames,
                        };
                        let clip = match clips.get(&(p, *seconds)) {
                            Some(c) => c.clone(),
                            None => {
                                let c = Arc::new(
                                    source::load_loop(p, *seconds, cfg.cache_dir.as_deref())
                                        .await?,
                                );
                                clips.insert((p, *seconds), c.clone());
                                c
                            }
                        };
                        let (feed, task) =
                            source::start_replay(label, FeedKind::Loop, clip, *fps, faults.clone());
                        sim.tasks.push(task);
                        feed
                    }
                    SourceSpec::File { path, codec, fps } => {
                        let key = (path.clone(), *codec);
                        let clip = match files.get(&key) {
                            Some(c) => c.clone(),
                            None => {
                                let c = Arc::new(source::load_file(path, *codec).await?);
                                files.insert(key, c.clone());
                                c
                            }
                        };
                        let (feed, task) =
                            source::start_replay(label, FeedKind::File, clip, *fps, faults.clone());
                        sim.tasks.push(task);
                        feed
                    }
                };
                feeds.push(feed);
            }
            let mut feeds = feeds.into_iter();
            let main = feeds.next().expect("main feed");
            cameras.insert(
                spec.name.clone(),
                Arc::new(Camera {
                    name: spec.name.clone(),
                    main,
                    sub: feeds.next(),
                    faults,
                    disconnect: tokio::sync::watch::channel(0).0,
                    clients: Default::default(),
                }),
            );
            order.push(spec.name.clone());
        }
        let listener = TcpListener::bind(cfg.bind)
            .await
            .map_err(|source| Error::Bind {
                what: "RTSP",
                addr: cfg.bind,
                source,
            })?;
        let rtsp_addr = listener.local_addr().map_err(|source| Error::Bind {
            what: "RTSP",
            addr: cfg.bind,
            source,
        })?;
        let shared = Arc::new(Shared {
            cameras,
            auth: cfg.auth.clone(),
            counters: Counters::default(),
        });
        let inner = Arc::new(SimInner {
            shared: shared.clone(),
            rtsp_addr,
            order,
        });
        sim.inner = inner.clone();
        sim.tasks
            .push(tokio::spawn(rtsp::accept_loop(listener, shared)));
        if let Some(addr) = cfg.control_bind {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Bind {
                    what: "the control endpoint",
                    addr,
                    source,
                })?;
            sim.control_addr = Some(l.local_addr().map_err(|source| Error::Bind {
                what: "the control endpoint",
                addr,
                source,
            })?);
            sim.tasks
                .push(tokio::spawn(control::serve(l, inner.clone())));
        }
        if !cfg.schedule.is_empty() {
            sim.tasks.push(tokio::spawn(run_schedule(
                cfg.schedule.clone(),
                inner.clone(),
            )));
        }
        info!(
            %rtsp_addr,
            control = ?sim.control_addr,
            cameras = cfg.cameras.len(),
            "camera simulator serving"
        );
        Ok(sim)
    }

    /// The RTSP address actually bound.
    pub fn rtsp_addr(&self) -> SocketAddr {
        self.inner.rtsp_addr
    }

    /// The control endpoint's address actually bound, if one was asked for.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control_addr
    }

    /// `rtsp://ADDR/<camera>/main` (or `/sub`), without credentials.
    pub fn url(&self, camera: &str, sub: bool) -> String {
        self.inner.url(camera, sub)
    }

    /// Injects `fault` into every stream of `camera` for `dur` (ignored by
    /// [`FaultKind::TimestampJump`], which is permanent).
    pub fn inject(&self, camera: &str, fault: FaultKind, dur: Duration) -> Result<(), Error> {
        self.inner.inject(camera, fault, dur)
    }

    /// Current counters.
    pub fn stats(&self) -> SimStats {
        self.inner.stats()
    }

    /// Stops serving: closes every connection and listener and stops the encoders.
    pub async fn shutdown(mut self) {
        self.stop_tasks();
        let threads = std::mem::take(&mut self.live_threads);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                if t.join().is_err() {
                    warn!("a live encoder thread panicked");
                }
            }
        })
        .await;
        info!("camera simulator stopped");
    }

    fn stop_tasks(&mut self) {
        self.live_stop.store(true, Ordering::Relaxed);
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

fn validate(cfg: &SimConfig) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for c in &cfg.cameras {
        let ok = !c.name.is_empty()
            && c.name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
        if !ok {
            return Err(Error::Config(format!(
                "camera name {:?} must be non-empty ASCII letters, digits, '-' or '_'",
                c.name
            )));
        }
        if !seen.insert(c.name.as_str()) {
            return Err(Error::Config(format!(
                "camera name {:?} used twice",
                c.name
            )));
        }
        for s in std::iter::once(&c.main).chain(c.sub.iter()) {
            let (fps, bitrate) = match s {
                SourceSpec::Live {
                    fps, bitrate_bps, ..
                } => (*fps, *bitrate_bps),
                SourceSpec::Loop {
                    fps,
                    bitrate_bps,
                    seconds,
                    ..
                } => {
                    if *seconds == 0 || *seconds > 600 {
                        return Err(Error::Config(format!(
                            "camera {:?}: loop length must be 1..=600 s",
                            c.name
                        )));
                    }
                    (*fps, *bitrate_bps)
                }
                SourceSpec::File { fps, .. } => (*fps, 1),
            };
            if fps == 0 || fps > 120 || bitrate == 0 {
                return Err(Error::Config(format!(
                    "camera {:?}: fps must be 1..=120 and the bit rate above 0",
                    c.name
                )));
            }
        }
    }
    for f in &cfg.schedule {
        if !seen.contains(f.camera.as_str()) {
            return Err(Error::UnknownCamera(f.camera.clone()));
        }
    }
    Ok(())
}

/// Injects scheduled faults at their times (bounded: one wait per entry).
async fn run_schedule(mut schedule: Vec<ScheduledFault>, sim: Arc<SimInner>) {
    let start = tokio::time::Instant::now();
    schedule.sort_by_key(|f| f.at);
    for f in schedule {
        tokio::time::sleep_until(start + f.at).await;
        if let Err(e) = sim.inject(&f.camera, f.kind, f.duration) {
            warn!(error = %e, "scheduled fault not injected");
        }
    }
}
