//! Feeds: one per camera stream, producing timed, pre-packetized access units into a
//! bounded broadcast channel that every playing session of that stream reads.
//!
//! - Live feeds run on their own OS thread (rendering and encoding are CPU work that must
//!   not block the async runtime) and only render/encode while the stream has clients.
//! - Loop and File feeds are cheap tokio tasks replaying a shared list of pre-packetized
//!   access units; they tick only while the stream has clients.
//!
//! Timestamps (`OutFrame::pts`, 90 kHz) follow the monotonic clock: frame `k` is due at
//! `start + k / fps` and stamped `k * 90000 / fps` (plus any timestamp-jump fault), so they
//! keep increasing across loop wraps, idle periods and stalls.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use media::Codec;
use tokio::sync::{broadcast, Notify};
use tracing::{debug, error, info, warn};

use crate::encode::{EncodeParams, H264Encoder};
use crate::fault::FaultState;
use crate::nal::{self, AccessUnit, ParamSets};
use crate::rtp::{self, PacketizedAu};
use crate::scene::{RenderOpts, Renderer};
use crate::Error;

/// Frames a stream's channel holds; a client further behind skips to the next key frame.
const CHANNEL_FRAMES: usize = 64;

/// One access unit as sent to clients: its feed timestamp and shared packets.
#[derive(Clone, Debug)]
pub(crate) struct OutFrame {
    pub pts: i64,
    pub au: Arc<PacketizedAu>,
}

/// What kind of source feeds a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FeedKind {
    Live,
    Loop,
    File,
}

impl FeedKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FeedKind::Live => "live",
            FeedKind::Loop => "loop",
            FeedKind::File => "file",
        }
    }
}

/// The shared state of one camera stream's feed.
pub(crate) struct Feed {
    pub codec: Codec,
    pub kind: FeedKind,
    pub fps: u32,
    pub tx: broadcast::Sender<OutFrame>,
    /// Current parameter sets, for the SDP.
    pub params: Mutex<ParamSets>,
    /// Feed timestamp of the latest produced frame (for RTP-Info).
    pub last_pts: Mutex<i64>,
    /// Set by a new subscriber: live feeds then encode an IDR at once.
    pub want_key: AtomicBool,
    /// Wakes an idle loop/file feed.
    pub wake: Notify,
}

impl Feed {
    fn new(codec: Codec, kind: FeedKind, fps: u32, params: ParamSets) -> Feed {
        Feed {
            codec,
            kind,
            fps,
            tx: broadcast::channel(CHANNEL_FRAMES).0,
            params: Mutex::new(params),
            last_pts: Mutex::new(0),
            want_key: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Subscribes a new client; the feed starts (or keeps) producing.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<OutFrame> {
        let rx = self.tx.subscribe();
        self.want_key.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        rx
    }

    pub(crate) fn param_sets(&self) -> ParamSets {
        self.params.lock().expect("params poisoned").clone()
    }

    pub(crate) fn current_pts(&self) -> i64 {
        *self.last_pts.lock().expect("pts poisoned")
    }

    fn publish(&self, pts: i64, au: Arc<PacketizedAu>) {
        *self.last_pts.lock().expect("pts poisoned") = pts;
        // An error only means nobody is listening right now.
        let _ = self.tx.send(OutFrame { pts, au });
    }
}

fn frame_pts(k: u64, fps: u32) -> i64 {
    (k as i64) * i64::from(media::TIMESCALE) / i64::from(fps.max(1))
}

fn frame_due(start: Instant, k: u64, fps: u32) -> Instant {
    // Rounded up, so that `frame_at(frame_due(k)) == k`.
    start
        + Duration::from_nanos(
            k.saturating_mul(1_000_000_000)
                .div_ceil(u64::from(fps.max(1))),
        )
}

/// The frame index due at `now`.
fn frame_at(start: Instant, now: Instant, fps: u32) -> u64 {
    (now.saturating_duration_since(start).as_nanos() * u128::from(fps) / 1_000_000_000) as u64
}

/// Packetizes `au`, putting the known parameter sets in-band first when a key frame
/// lacks them.
pub(crate) fn packetize_with_params(codec: Codec, au: &AccessUnit, ps: &ParamSets) -> PacketizedAu {
    let has_ps = au.nals.iter().any(|n| nal::is_param_set(codec, n));
    if au.is_key && !has_ps && ps.complete(codec) {
        let pre: Vec<Bytes> = ps.in_order().cloned().collect();
        rtp::packetize(codec, au, &pre)
    } else {
        rtp::packetize(codec, au, &[])
    }
}

// ---------------------------------------------------------------------------------------
// Live

/// Handle of a running live feed thread.
pub(crate) struct LiveThread {
    pub join: std::thread::JoinHandle<()>,
}

/// Starts a live feed: renders and encodes only while the stream has clients.
/// Returns once the encoder produced its parameter sets (for the SDP).
pub(crate) fn start_live(
    label: String,
    enc: EncodeParams,
    faults: Arc<FaultState>,
    shutdown: Arc<AtomicBool>,
) -> Result<(Arc<Feed>, LiveThread), Error> {
    validate_size(&label, enc.width, enc.height)?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Arc<Feed>, Error>>();
    let join = std::thread::Builder::new()
        .name(format!("sim-live-{label}"))
        .spawn(move || live_thread(label, enc, faults, shutdown, ready_tx))
        .map_err(|e| Error::Config(format!("cannot start a live encoder thread: {e}")))?;
    let feed = ready_rx
        .recv()
        .map_err(|_| Error::Config("live encoder thread ended during start-up".into()))??;
    Ok((feed, LiveThread { join }))
}

fn validate_size(label: &str, w: u32, h: u32) -> Result<(), Error> {
    if w < 16 || h < 16 || w & 1 != 0 || h & 1 != 0 || w > 3840 || h > 2160 {
        return Err(Error::Config(format!(
            "{label}: picture size {w}x{h} is not usable (even numbers, 16x16 to 3840x2160)"
        )));
    }
    Ok(())
}

/// The resolution used during a parameter-change fault: about 3/4 of the normal size.
fn alt_size(w: u32, h: u32) -> (u32, u32) {
    let f = |v: u32| ((v * 3 / 4) / 16 * 16).max(16);
    (f(w), f(h))
}

/// `YYYY-MM-DD` and `HH:MM:SS.mmm` (UTC) of a wall-clock instant.
pub(crate) fn utc_date_time(t: SystemTime) -> (String, String) {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60,
            d.subsec_millis()
        ),
    )
}

fn live_thread(
    label: String,
    base: EncodeParams,
    faults: Arc<FaultState>,
    shutdown: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<Result<Arc<Feed>, Error>>,
) {
    let enc_err = |detail: String| Error::Encoder {
        camera: label.clone(),
        detail,
    };
    let mut renderer = Renderer::new(base.width as usize, base.height as usize);
    let mut encoder = match H264Encoder::new(base) {
        Ok(e) => e,
        Err(e) => {
            let _ = ready.send(Err(enc_err(e)));
            return;
        }
    };
    // Encode one picture to learn the parameter sets the SDP announces.
    let mut ps = ParamSets::default();
    renderer.render(0, RenderOpts::default(), &[]);
    match encoder.encode(&renderer, true) {
        Ok(Some(au)) => {
            ps.update(Codec::H264, &au.nals);
        }
        Ok(None) => {}
        Err(e) => {
            let _ = ready.send(Err(enc_err(e)));
            return;
        }
    }
    if !ps.complete(Codec::H264) {
        let _ = ready.send(Err(enc_err("first frame carried no SPS/PPS".into())));
        return;
    }
    let feed = Arc::new(Feed::new(Codec::H264, FeedKind::Live, base.fps, ps.clone()));
    if ready.send(Ok(feed.clone())).is_err() {
        return;
    }
    drop(ready);
    let text_name = label.to_ascii_uppercase();
    let start = Instant::now();
    let mut k: u64 = 0;
    let mut idle = true;
    let mut need_key = true;
    let mut frozen = false;
    // Bounded by the shutdown flag, checked every frame and every idle poll.
    while !shutdown.load(Ordering::Relaxed) {
        if feed.tx.receiver_count() == 0 {
            if !idle {
                debug!(stream = %label, "no clients; live encoder idle");
            }
            idle = true;
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        if idle {
            idle = false;
            need_key = true;
            k = frame_at(start, Instant::now(), base.fps);
            debug!(stream = %label, "client arrived; live encoder running");
        }
        let due = frame_due(start, k, base.fps);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else if now - due > Duration::from_secs(1) {
            // Far behind (machine overloaded): skip ahead rather than burst.
            k = frame_at(start, now, base.fps);
        }
        let now = Instant::now();
        let active = faults.active(now);
        let pts = frame_pts(k, base.fps) + active.ts_offset;
        let n = k;
        k += 1;
        if active.stall {
            need_key = true;
            continue;
        }
        // Parameter-set change: a new encoder at another resolution.
        let (w, h) = if active.param_change {
            alt_size(base.width, base.height)
        } else {
            (base.width, base.height)
        };
        if encoder.params().width != w || encoder.params().height != h {
            info!(stream = %label, width = w, height = h, "parameter change: restarting encoder");
            let p = EncodeParams {
                width: w,
                height: h,
                ..base
            };
            encoder = match H264Encoder::new(p) {
                Ok(e) => e,
                Err(e) => {
                    error!(stream = %label, error = %e, "cannot restart encoder; live feed stops");
                    return;
                }
            };
            renderer = Renderer::new(w as usize, h as usize);
            frozen = false;
            need_key = true;
        }
        if !(active.freeze && frozen) {
            let (date, time) = utc_date_time(SystemTime::now());
            let time = format!("{time} UTC");
            renderer.render(
                n,
                RenderOpts {
                    black: active.black,
                    blur: active.blur,
                    shift: active.shift,
                    noise: false,
                },
                &[&text_name, &date, &time],
            );
        }
        frozen = active.freeze;
        let force = need_key || feed.want_key.swap(false, Ordering::Relaxed);
        let au = match encoder.encode(&renderer, force) {
            Ok(Some(au)) => au,
            Ok(None) => continue,
            Err(e) => {
                error!(stream = %label, error = %e, "encoder failed; live feed stops");
                return;
            }
        };
        if need_key && !au.is_key {
            continue;
        }
        need_key = false;
        if au.is_key && ps.update(Codec::H264, &au.nals) {
            *feed.params.lock().expect("params poisoned") = ps.clone();
        }
        let p = Arc::new(packetize_with_params(Codec::H264, &au, &ps));
        feed.publish(pts, p);
    }
    debug!(stream = %label, "live feed stopped");
}

// ---------------------------------------------------------------------------------------
// Loop and File

/// A clip of pre-packetized access units, shared by every stream replaying it.
pub(crate) struct Clip {
    pub codec: Codec,
    pub params: ParamSets,
    pub frames: Vec<Arc<PacketizedAu>>,
}

impl Clip {
    /// Builds a clip from an Annex B elementary stream: drops anything before the first
    /// key frame and puts parameter sets in-band before key frames that lack them.
    pub(crate) fn from_annexb(codec: Codec, data: Bytes, path: &Path) -> Result<Clip, Error> {
        let ferr = |detail: String| Error::File {
            path: path.to_owned(),
            detail,
        };
        let aus = nal::access_units(codec, nal::split_annexb(&data));
        let first_key = aus.iter().position(|a| a.is_key).ok_or_else(|| {
            ferr(format!(
                "no {} key frame found in {} access units (is it an Annex B {} stream? for H.265 use open-gop=0)",
                if codec == Codec::H264 { "IDR" } else { "IRAP" },
                aus.len(),
                codec.as_str()
            ))
        })?;
        let mut params = ParamSets::default();
        for au in &aus {
            params.update(codec, &au.nals);
        }
        if !params.complete(codec) {
            return Err(ferr(
                "the stream carries no complete set of parameter sets".into(),
            ));
        }
        let mut cur = ParamSets::default();
        let mut frames = Vec::with_capacity(aus.len() - first_key);
        for au in &aus[first_key..] {
            cur.update(codec, &au.nals);
            let ps = if cur.complete(codec) { &cur } else { &params };
            frames.push(Arc::new(packetize_with_params(codec, au, ps)));
        }
        // SDP announces the sets in force at the first replayed key frame.
        let mut first = ParamSets::default();
        first.update(codec, &aus[first_key].nals);
        let sdp_params = if first.complete(codec) { first } else { params };
        Ok(Clip {
            codec,
            params: sdp_params,
            frames,
        })
    }
}

/// Reads an Annex B file into a clip.
pub(crate) async fn load_file(path: &Path, codec: Codec) -> Result<Clip, Error> {
    let data = tokio::fs::read(path).await.map_err(|e| Error::File {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let path2 = path.to_owned();
    tokio::task::spawn_blocking(move || Clip::from_annexb(codec, Bytes::from(data), &path2))
        .await
        .map_err(|e| Error::Config(format!("clip loader panicked: {e}")))?
}

/// File name of a cached loop clip: every parameter that changes its bytes.
pub(crate) fn loop_cache_name(p: &EncodeParams, seconds: u32) -> String {
    format!(
        "loop-v1-{}x{}-{}fps-{}bps-gop{}-{}s.h264",
        p.width, p.height, p.fps, p.bitrate_bps, p.gop_frames, seconds
    )
}

/// Encodes `seconds` of the detailed scene (blocking; run it off the async runtime).
pub(crate) fn encode_loop(p: EncodeParams, seconds: u32) -> Result<Vec<u8>, Error> {
    validate_size("loop", p.width, p.height)?;
    let enc_err = |detail: String| Error::Encoder {
        camera: "(loop clip)".into(),
        detail,
    };
    let mut enc = H264Encoder::new(p).map_err(enc_err)?;
    let mut r = Renderer::new(p.width as usize, p.height as usize);
    let n_frames = u64::from(seconds.max(1)) * u64::from(p.fps.max(1));
    let mut out = Vec::new();
    let title = format!("LOOP {}X{} {}FPS", p.width, p.height, p.fps);
    for n in 0..n_frames {
        let line = format!("FRAME {n:05}");
        let opts = RenderOpts {
            noise: true,
            ..Default::default()
        };
        r.render(n, opts, &[&title, &line]);
        if let Some(au) = enc.encode(&r, n == 0).map_err(enc_err)? {
            for nal in &au.nals {
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(nal);
            }
        }
    }
    Ok(out)
}

/// Loads the loop clip for `p` from `cache_dir`, encoding and caching it first if needed.
pub(crate) async fn load_loop(
    p: EncodeParams,
    seconds: u32,
    cache_dir: Option<&Path>,
) -> Result<Clip, Error> {
    let name = loop_cache_name(&p, seconds);
    let path: Option<PathBuf> = cache_dir.map(|d| d.join(&name));
    if let Some(path) = &path {
        match tokio::fs::read(path).await {
            Ok(data) => {
                debug!(path = %path.display(), "loop clip from cache");
                let path2 = path.clone();
                let clip = tokio::task::spawn_blocking(move || {
                    Clip::from_annexb(Codec::H264, Bytes::from(data), &path2)
                })
                .await
                .map_err(|e| Error::Config(format!("clip loader panicked: {e}")))?;
                match clip {
                    Ok(c) => return Ok(c),
                    Err(e) => warn!(error = %e, "cached loop clip unusable; encoding it again"),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Cache {
                    path: path.clone(),
                    source: e,
                })
            }
        }
    }
    info!(clip = %name, "encoding loop clip (once; cached afterwards)");
    let data = tokio::task::spawn_blocking(move || encode_loop(p, seconds))
        .await
        .map_err(|e| Error::Config(format!("loop encoder panicked: {e}")))??;
    if let Some(path) = &path {
        let cerr = |source| Error::Cache {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(cerr)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        tokio::fs::write(&tmp, &data).await.map_err(cerr)?;
        tokio::fs::rename(&tmp, path).await.map_err(cerr)?;
    }
    Clip::from_annexb(
        Codec::H264,
        Bytes::from(data),
        path.as_deref().unwrap_or(Path::new("(loop clip)")),
    )
}

/// Starts a task replaying `clip` at `fps` for one camera stream.
pub(crate) fn start_replay(
    label: String,
    kind: FeedKind,
    clip: Arc<Clip>,
    fps: u32,
    faults: Arc<FaultState>,
) -> (Arc<Feed>, tokio::task::JoinHandle<()>) {
    let feed = Arc::new(Feed::new(clip.codec, kind, fps, clip.params.clone()));
    let f = feed.clone();
    let join = tokio::spawn(async move {
        let start = Instant::now();
        let mut k: u64 = 0;
        let mut need_key = true;
        let len = clip.frames.len() as u64;
        // Ends when the simulator aborts the task at shutdown.
        loop {
            if f.tx.receiver_count() == 0 {
                f.wake.notified().await;
                k = frame_at(start, Instant::now(), fps);
                need_key = true;
                continue;
            }
            let due = frame_due(start, k, fps);
            let now = Instant::now();
            if now > due + Duration::from_secs(1) {
                k = frame_at(start, now, fps);
            }
            tokio::time::sleep_until(frame_due(start, k, fps).into()).await;
            let active = faults.active(Instant::now());
            let pts = frame_pts(k, fps) + active.ts_offset;
            let au = &clip.frames[(k % len) as usize];
            k += 1;
            if active.stall {
                need_key = true;
                continue;
            }
            if need_key && !au.is_key {
                continue;
            }
            need_key = false;
            f.publish(pts, au.clone());
            tracing::trace!(stream = %label, k, "frame");
        }
    });
    (feed, join)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_709_210_096_789); // 2024-02-29
        let (d, tm) = utc_date_time(t);
        assert_eq!(d, "2024-02-29");
        assert_eq!(tm, "12:34:56.789");
    }

    #[test]
    fn frame_timing() {
        let s = Instant::now();
        assert_eq!(frame_pts(15, 15), 90_000);
        assert_eq!(frame_at(s, frame_due(s, 31, 15), 15), 31);
        assert_eq!(alt_size(1280, 720), (960, 528));
    }

    #[tokio::test]
    async fn loop_clip_is_cached_and_replays_from_a_key_frame() {
        let dir = tempfile::tempdir().unwrap();
        let p = EncodeParams {
            width: 192,
            height: 108,
            fps: 10,
            bitrate_bps: 200_000,
            gop_frames: 10,
        };
        let clip = load_loop(p, 2, Some(dir.path())).await.unwrap();
        assert_eq!(clip.frames.len(), 20);
        assert!(clip.frames[0].is_key && clip.frames[10].is_key && !clip.frames[1].is_key);
        assert!(clip.params.complete(Codec::H264));
        let cached = dir.path().join(loop_cache_name(&p, 2));
        let bytes = std::fs::read(&cached).unwrap();
        // Second load reads the cache (same bytes, same frames).
        let again = load_loop(p, 2, Some(dir.path())).await.unwrap();
        assert_eq!(again.frames.len(), 20);
        assert_eq!(std::fs::read(&cached).unwrap(), bytes);
    }
}
