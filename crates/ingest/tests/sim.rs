//! Ingest against `sim`, Vigil's RTSP camera simulator (a real RTSP server on 127.0.0.1
//! with faults on demand), and against H.265 files served by it.
//!
//! Waits are bounded (a generous liveness limit, not a timing assertion).

use std::sync::Arc;
use std::time::Duration;

use ingest::{DiscontinuityReason, Event, StreamConfig, StreamHandle, StreamState};
use media::{Codec, Frame, VideoParams};
use sim::{Auth, CameraSpec, FaultKind, Sim, SimConfig, SourceSpec};
use tokio::sync::mpsc;
use url::Url;

const USER: &str = "viewer";
const PASS: &str = "s3cret-pw";
/// Upper bound for any single expected event; far above what any of them needs.
const LIMIT: Duration = Duration::from_secs(30);

fn live(width: u32, height: u32) -> SourceSpec {
    SourceSpec::Live {
        width,
        height,
        fps: 15,
        bitrate_bps: 300_000,
        gop_frames: 15,
    }
}

async fn start_sim(main: SourceSpec) -> Sim {
    Sim::start(SimConfig {
        auth: Some(Auth::Digest {
            user: USER.into(),
            pass: PASS.into(),
        }),
        cameras: vec![CameraSpec {
            name: "cam1".into(),
            main,
            sub: None,
        }],
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// A test configuration: credentials in the URL, stall timeout 2 s, short backoff.
fn config(sim: &Sim) -> StreamConfig {
    let mut url = Url::parse(&sim.url("cam1", false)).unwrap();
    url.set_username(USER).unwrap();
    url.set_password(Some(PASS)).unwrap();
    let mut cfg = StreamConfig::new("cam1/main", url);
    cfg.stall_timeout = Duration::from_secs(2);
    cfg.request_timeout = Duration::from_secs(5);
    cfg.backoff.base = Duration::from_millis(200);
    cfg.backoff.max = Duration::from_secs(1);
    cfg
}

fn spawn(cfg: StreamConfig) -> (StreamHandle, mpsc::Receiver<Event>) {
    let (tx, rx) = mpsc::channel(256);
    (ingest::spawn(cfg, tx), rx)
}

async fn next(rx: &mut mpsc::Receiver<Event>) -> Event {
    tokio::time::timeout(LIMIT, rx.recv())
        .await
        .expect("an event within the limit")
        .expect("events channel open")
}

/// Skips events until `pred` matches one, returning it; fails after `LIMIT` in total.
async fn until(rx: &mut mpsc::Receiver<Event>, mut pred: impl FnMut(&Event) -> bool) -> Event {
    tokio::time::timeout(LIMIT, async {
        loop {
            let ev = rx.recv().await.expect("events channel open");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("the awaited event within the limit")
}

async fn frames(rx: &mut mpsc::Receiver<Event>, n: usize) -> Vec<Frame> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match next(rx).await {
            Event::Frame(f) => out.push(f),
            other => panic!("unexpected {other:?} while expecting frames"),
        }
    }
    out
}

fn now_ticks() -> i64 {
    ingest::wall_ticks(std::time::SystemTime::now())
}

#[tokio::test]
async fn frames_arrive_with_increasing_times_key_frames_and_stats() {
    let sim = start_sim(live(320, 240)).await;
    let (h, mut rx) = spawn(config(&sim));
    let mut live_rx = h.subscribe();
    let params = match next(&mut rx).await {
        Event::Connected { params } => params,
        other => panic!("expected Connected first, got {other:?}"),
    };
    assert_eq!(params.codec, Codec::H264);
    assert_eq!((params.width, params.height), (320, 240));
    assert!(params.rfc6381.starts_with("avc1."), "{}", params.rfc6381);
    assert_eq!(&params.sample_entry[4..8], b"avc1");

    let fs = frames(&mut rx, 45).await;
    assert!(
        fs.iter().filter(|f| f.is_key).count() >= 2,
        "GOP is 15 frames"
    );
    for w in fs.windows(2) {
        assert!(w[1].time > w[0].time, "times strictly increase");
    }
    for f in &fs {
        assert!(Arc::ptr_eq(&f.params, &params));
        // 4-byte length-prefixed NALs covering the whole frame.
        let mut pos = 0;
        while pos < f.data.len() {
            let n = u32::from_be_bytes(f.data[pos..pos + 4].try_into().unwrap()) as usize;
            pos += 4 + n;
        }
        assert_eq!(pos, f.data.len());
    }
    let last = fs.last().unwrap().time;
    assert!(
        (last - now_ticks()).abs() < 90_000 * 2,
        "frame times follow the wall clock"
    );

    // The live bus saw the same frames (shared data, no copy).
    let live = live_rx.recv().await.unwrap();
    assert!(fs
        .iter()
        .any(|f| f.time == live.time && f.data.as_ptr() == live.data.as_ptr()));
    assert_eq!(h.params().as_deref(), Some(&*params));

    let s = h.stats();
    assert_eq!(s.state, StreamState::Streaming);
    assert!(s.frames >= 45 && s.key_frames >= 2 && s.bytes > 0, "{s:?}");
    assert!(s.fps > 5.0 && s.bitrate > 0.0, "{s:?}");
    assert_eq!(s.gop_frames, Some(15));
    assert_eq!(
        (s.codec, s.resolution),
        (Some(Codec::H264), Some((320, 240)))
    );
    assert_eq!((s.reconnects, s.dropped), (0, 0));
    assert!(s.drift_ms.is_some());

    h.shutdown().await;
    let ev = until(&mut rx, |e| matches!(e, Event::Disconnected { .. })).await;
    assert!(matches!(
        ev,
        Event::Disconnected {
            reason: ingest::Error::Stopped { .. }
        }
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_password_reports_auth_error_and_backs_off() {
    let sim = start_sim(live(160, 120)).await;
    let mut cfg = config(&sim);
    cfg.url.set_username("").unwrap();
    cfg.url.set_password(None).unwrap();
    cfg.credentials = Some(ingest::Credentials {
        username: USER.into(),
        password: "wrong-password".into(),
    });
    let (h, mut rx) = spawn(cfg);
    for attempt in 0..2 {
        match next(&mut rx).await {
            Event::Disconnected { reason } => {
                assert!(reason.is_auth(), "{reason}");
                let text = reason.to_string();
                assert!(text.contains("401") && text.contains("cam1/main"), "{text}");
                assert!(!text.contains("wrong-password"), "{text}");
            }
            other => panic!("attempt {attempt}: expected Disconnected, got {other:?}"),
        }
    }
    let s = h.stats();
    assert!(s.reconnects >= 1, "{s:?}");
    assert!(s.last_error.as_ref().is_some_and(ingest::Error::is_auth));
    assert!(
        matches!(
            s.state,
            StreamState::Backoff { .. } | StreamState::Connecting
        ),
        "{:?}",
        s.state
    );
    assert_eq!(s.frames, 0);
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_fault_drops_the_session_and_reconnects() {
    let sim = start_sim(live(160, 120)).await;
    let (h, mut rx) = spawn(config(&sim));
    until(&mut rx, |e| matches!(e, Event::Frame(_))).await;
    // The sim keeps TCP open and answers keep-alives: only ingest's stall timeout notices.
    sim.inject("cam1", FaultKind::Stall, Duration::from_secs(3))
        .unwrap();
    let ev = until(&mut rx, |e| matches!(e, Event::Disconnected { .. })).await;
    let Event::Disconnected { reason } = ev else {
        unreachable!()
    };
    assert!(reason.is_stall(), "{reason}");
    until(&mut rx, |e| matches!(e, Event::Connected { .. })).await;
    until(&mut rx, |e| matches!(e, Event::Frame(f) if f.is_key)).await;
    let s = h.stats();
    assert!(s.reconnects >= 1, "{s:?}");
    assert!(s.last_error.as_ref().is_some_and(ingest::Error::is_stall));
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn disconnect_fault_reconnects() {
    let sim = start_sim(live(160, 120)).await;
    let (h, mut rx) = spawn(config(&sim));
    until(&mut rx, |e| matches!(e, Event::Frame(_))).await;
    sim.inject("cam1", FaultKind::Disconnect, Duration::from_secs(1))
        .unwrap();
    let ev = until(&mut rx, |e| !matches!(e, Event::Frame(_))).await;
    assert!(matches!(ev, Event::Disconnected { .. }), "{ev:?}");
    // While "offline" the camera answers 503; then it comes back.
    until(&mut rx, |e| matches!(e, Event::Connected { .. })).await;
    let fs = frames(&mut rx, 5).await;
    assert!(fs.windows(2).all(|w| w[1].time > w[0].time));
    assert!(h.stats().reconnects >= 1);
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn timestamp_jumps_are_discontinuities_and_times_stay_on_the_wall_clock() {
    let sim = start_sim(live(160, 120)).await;
    let (h, mut rx) = spawn(config(&sim));
    frames_after_connect(&mut rx).await;
    for secs in [3600, -7200] {
        sim.inject("cam1", FaultKind::TimestampJump { secs }, Duration::ZERO)
            .unwrap();
        let ev = until(&mut rx, |e| !matches!(e, Event::Frame(_))).await;
        let Event::Discontinuity {
            reason: DiscontinuityReason::TimestampJump { jump_ms },
        } = ev
        else {
            panic!("expected a timestamp jump, got {ev:?}");
        };
        assert!(
            (jump_ms - secs * 1000).abs() < 2000,
            "{jump_ms} vs {secs} s"
        );
        let fs = frames(&mut rx, 5).await;
        assert!(fs.windows(2).all(|w| w[1].time > w[0].time));
        let off = fs[4].time - now_ticks();
        assert!(
            off.abs() < 90_000 * 2,
            "re-anchored to the wall clock (off by {off} ticks)"
        );
    }
    assert!(h.stats().discontinuities >= 2);
    h.shutdown().await;
    sim.shutdown().await;
}

async fn frames_after_connect(rx: &mut mpsc::Receiver<Event>) -> Arc<VideoParams> {
    let Event::Connected { params } = next(rx).await else {
        panic!("expected Connected");
    };
    frames(rx, 3).await;
    params
}

#[tokio::test]
async fn param_change_is_a_discontinuity_with_new_params() {
    let sim = start_sim(live(320, 240)).await;
    let (h, mut rx) = spawn(config(&sim));
    let first = frames_after_connect(&mut rx).await;
    sim.inject("cam1", FaultKind::ParamChange, Duration::from_secs(2))
        .unwrap();
    let ev = until(&mut rx, |e| !matches!(e, Event::Frame(_))).await;
    let Event::Discontinuity {
        reason: DiscontinuityReason::ParamsChanged { params },
    } = ev
    else {
        panic!("expected a parameter change, got {ev:?}");
    };
    assert_ne!(*params, *first);
    assert_ne!((params.width, params.height), (320, 240));
    let fs = frames(&mut rx, 3).await;
    assert!(fs[0].is_key, "the change comes with a key frame");
    assert!(fs.iter().all(|f| Arc::ptr_eq(&f.params, &params)));
    assert_eq!(h.params().as_deref(), Some(&*params));
    assert_eq!(h.stats().resolution, Some((params.width, params.height)));
    // And back to the original parameters when the fault ends.
    let ev = until(&mut rx, |e| !matches!(e, Event::Frame(_))).await;
    let Event::Discontinuity {
        reason: DiscontinuityReason::ParamsChanged { params: back },
    } = ev
    else {
        panic!("expected the change back, got {ev:?}");
    };
    assert_eq!((back.width, back.height), (320, 240));
    h.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_consumer_gets_frames_dropped_until_a_key_frame() {
    let sim = start_sim(live(160, 120)).await;
    let (tx, mut rx) = mpsc::channel(ingest::MIN_EVENTS_CAPACITY);
    let h = ingest::spawn(config(&sim), tx);
    // Don't read until well over a channel's worth of frames (and a GOP) went by.
    until_stats(&h, |s| s.dropped >= 20).await;
    let mut saw_drop = false;
    for _ in 0..200 {
        match next(&mut rx).await {
            Event::Discontinuity {
                reason: DiscontinuityReason::FramesDropped { frames },
            } => {
                assert!(frames > 0);
                match next(&mut rx).await {
                    Event::Frame(f) => assert!(f.is_key, "delivery resumes at a key frame"),
                    other => panic!("expected a key frame after the gap, got {other:?}"),
                }
                saw_drop = true;
                break;
            }
            Event::Connected { .. } | Event::Frame(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw_drop);
    h.shutdown().await;
    sim.shutdown().await;
}

async fn until_stats(h: &StreamHandle, pred: impl Fn(&ingest::StreamStats) -> bool) {
    for _ in 0..(LIMIT.as_millis() / 50) {
        if pred(&h.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stats never matched: {:?}", h.stats());
}

/// An H.265 file whose key frames after the first are CRA pictures (open GOP), as some
/// cameras send: every CRA must count as a key frame. Needs ffmpeg with libx265.
#[tokio::test]
async fn h265_cra_only_stream_has_key_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cra.h265");
    let st = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x240:rate=15")
        .args(["-t", "3", "-c:v", "libx265", "-x265-params"])
        .arg("keyint=15:min-keyint=15:open-gop=1:bframes=0:scenecut=0:log-level=error")
        .args(["-f", "hevc"])
        .arg(&path)
        .status()
        .expect("ffmpeg must be installed to run this test");
    assert!(st.success(), "ffmpeg failed: {st}");
    let sim = start_sim(SourceSpec::File {
        path,
        codec: Codec::H265,
        fps: 15,
    })
    .await;
    let (h, mut rx) = spawn(config(&sim));
    let params = frames_after_connect(&mut rx).await;
    assert_eq!(params.codec, Codec::H265);
    assert!(params.rfc6381.starts_with("hvc1."), "{}", params.rfc6381);
    assert_eq!(&params.sample_entry[4..8], b"hvc1");
    let fs = frames(&mut rx, 50).await;
    let cra_keys = fs
        .iter()
        .filter(|f| f.is_key && first_vcl_type(&f.data) == Some(21))
        .count();
    assert!(cra_keys >= 2, "CRA pictures are key frames");
    assert!(fs.windows(2).all(|w| w[1].time > w[0].time));
    h.shutdown().await;
    sim.shutdown().await;
}

/// The H.265 NAL unit type of the first VCL NAL in length-prefixed frame data.
fn first_vcl_type(mut data: &[u8]) -> Option<u8> {
    while data.len() > 4 {
        let n = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        let t = (data[4] >> 1) & 0x3f;
        if t < 32 {
            return Some(t);
        }
        data = &data[(4 + n).min(data.len())..];
    }
    None
}

#[tokio::test]
async fn dropping_the_handle_stops_the_stream() {
    let sim = start_sim(live(160, 120)).await;
    let (h, mut rx) = spawn(config(&sim));
    let monitor = h.monitor();
    until(&mut rx, |e| matches!(e, Event::Frame(_))).await;
    drop(h);
    // The supervisor ends and drops its sender: the channel drains and closes.
    tokio::time::timeout(LIMIT, async { while rx.recv().await.is_some() {} })
        .await
        .expect("the stream stops after its handle is dropped");
    assert_eq!(monitor.stats().state, StreamState::Stopped);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_current_gop_is_kept_for_live_viewers() {
    let sim = start_sim(live(320, 240)).await;
    let (h, mut rx) = spawn(config(&sim));
    let monitor = h.monitor();
    assert!(matches!(next(&mut rx).await, Event::Connected { .. }));
    // 45 frames = 3 GOPs of 15: the cache then holds the frames since the latest key frame.
    let fs = frames(&mut rx, 45).await;
    let gop = monitor.gop();
    assert!(
        !gop.is_empty() && gop.len() <= 15,
        "one GOP: {} frames",
        gop.len()
    );
    assert!(gop[0].is_key, "it starts at a key frame");
    assert!(gop[1..].iter().all(|f| !f.is_key));
    for w in gop.windows(2) {
        assert!(w[1].time > w[0].time);
    }
    // The same frames the recorder got (shared buffers, no copies).
    let last_key = fs.iter().rposition(|f| f.is_key).unwrap();
    assert!(gop[0].data.as_ptr() == fs[last_key].data.as_ptr() || gop[0].time > fs[last_key].time);
}
