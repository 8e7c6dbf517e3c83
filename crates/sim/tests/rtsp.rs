//! End-to-end tests: the simulator served to real clients (retina, ffmpeg) on 127.0.0.1.
//!
//! These tests need `ffmpeg` on the PATH (Debian package `ffmpeg`); they fail, not skip,
//! without it.

use std::time::Duration;

use futures::StreamExt;
use retina::client::{Credentials, PlayOptions, Session, SessionOptions, SetupOptions};
use retina::codec::{CodecItem, ParametersRef};
use sim::{Auth, CameraSpec, Codec, FaultKind, Sim, SimConfig, SourceSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: &str = "admin";
const PASS: &str = "s3cret-pass";

/// Safety net so a broken server fails a test instead of hanging it (not a perf check).
const LIMIT: Duration = Duration::from_secs(30);

fn live(width: u32, height: u32) -> SourceSpec {
    SourceSpec::Live {
        width,
        height,
        fps: 10,
        bitrate_bps: 300_000,
        gop_frames: 10,
    }
}

fn small_loop() -> SourceSpec {
    SourceSpec::Loop {
        width: 320,
        height: 180,
        fps: 10,
        bitrate_bps: 400_000,
        gop_frames: 10,
        seconds: 2,
    }
}

async fn start(cameras: Vec<CameraSpec>, auth: bool) -> Sim {
    let cfg = SimConfig {
        control_bind: Some("127.0.0.1:0".parse().unwrap()),
        auth: auth.then(|| Auth::Digest {
            user: USER.into(),
            pass: PASS.into(),
        }),
        cameras,
        ..SimConfig::default()
    };
    Sim::start(cfg).await.expect("simulator starts")
}

fn cam(name: &str, main: SourceSpec, sub: Option<SourceSpec>) -> CameraSpec {
    CameraSpec {
        name: name.into(),
        main,
        sub,
    }
}

type Frames = retina::client::Demuxed;

async fn connect(url: &str, pass: &str) -> Result<Frames, retina::Error> {
    let opts = SessionOptions::default().creds(Some(Credentials {
        username: USER.into(),
        password: pass.into(),
    }));
    let mut s = Session::describe(url::Url::parse(url).unwrap(), opts).await?;
    s.setup(0, SetupOptions::default()).await?;
    s.play(PlayOptions::default()).await?.demuxed()
}

/// Summary of received video frames.
#[derive(Debug, Default)]
struct Got {
    frames: usize,
    keys: usize,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

impl Got {
    fn secs(&self) -> f64 {
        match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => (b - a) as f64 / 90_000.0,
            _ => 0.0,
        }
    }
}

/// Reads frames until `secs` of stream time arrived; checks that timestamps increase.
async fn receive(frames: &mut Frames, secs: f64) -> Got {
    let mut got = Got::default();
    tokio::time::timeout(LIMIT, async {
        while got.secs() < secs {
            let item = frames
                .next()
                .await
                .expect("stream ended")
                .expect("stream error");
            let CodecItem::VideoFrame(f) = item else {
                continue;
            };
            let ts = f.timestamp().timestamp();
            if let Some(last) = got.last_ts {
                assert!(ts > last, "timestamp {ts} after {last}");
            }
            if got.frames == 0 {
                assert!(f.is_random_access_point(), "first frame is not a key frame");
            }
            got.first_ts.get_or_insert(ts);
            got.last_ts = Some(ts);
            got.frames += 1;
            got.keys += f.is_random_access_point() as usize;
            assert!(!f.data().is_empty());
        }
    })
    .await
    .expect("frames arrive");
    got
}

fn stream_dims(frames: &Frames) -> Option<(u32, u32)> {
    match frames.streams()[0].parameters()? {
        ParametersRef::Video(v) => Some(v.pixel_dimensions()),
        _ => None,
    }
}

#[tokio::test]
async fn live_and_loop_streams_with_digest_auth() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig {
        auth: Some(Auth::Digest {
            user: USER.into(),
            pass: PASS.into(),
        }),
        cameras: vec![
            cam("cam1", live(320, 240), Some(live(160, 120))),
            cam("cam2", small_loop(), None),
        ],
        cache_dir: Some(dir.path().to_owned()),
        ..SimConfig::default()
    })
    .await
    .unwrap();

    for (url, dims) in [
        (sim.url("cam1", false), (320, 240)),
        (sim.url("cam1", true), (160, 120)),
        (sim.url("cam2", false), (320, 180)),
    ] {
        let mut frames = connect(&url, PASS)
            .await
            .expect("connects with digest auth");
        assert_eq!(frames.streams()[0].encoding_name(), "h264");
        assert_eq!(stream_dims(&frames), Some(dims), "{url}");
        let got = receive(&mut frames, 2.0).await;
        assert!(got.keys >= 2, "{url}: {got:?}");
        assert!(got.frames >= 20, "{url}: {got:?}");
    }
    let st = sim.stats();
    assert!(
        st.bytes_sent > 0 && st.frames_sent >= 60 && st.sessions_total == 3,
        "{st:?}"
    );
    // The loop clip was cached.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_password_is_refused_with_401() {
    let sim = start(vec![cam("cam1", small_loop(), None)], true).await;
    let err = connect(&sim.url("cam1", false), "wrong")
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("401"), "{err}");
    // Unknown camera paths are 404.
    let err = connect(&sim.url("nosuch", false), PASS)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("404"), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_fault_stops_frames_then_resumes_at_a_key_frame() {
    let sim = start(vec![cam("cam1", live(160, 120), None)], false).await;
    let mut frames = connect(&sim.url("cam1", false), PASS).await.unwrap();
    let got = receive(&mut frames, 0.5).await;
    sim.inject("cam1", FaultKind::Stall, Duration::from_secs(3))
        .unwrap();
    // Let frames already on the wire arrive, then nothing may be sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = sim.stats().frames_sent;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sim.stats().frames_sent,
        before,
        "frames sent during a stall"
    );
    // The connection stays open; frames resume after a gap in stream time as long as the
    // stall, starting with a key frame.
    tokio::time::timeout(LIMIT, async {
        let mut prev = got.last_ts;
        loop {
            let item = frames
                .next()
                .await
                .expect("stream ended")
                .expect("stream error");
            let CodecItem::VideoFrame(f) = item else {
                continue;
            };
            let ts = f.timestamp().timestamp();
            if let Some(p) = prev {
                if ts - p > 2 * 90_000 {
                    assert!(f.is_random_access_point(), "resumed without a key frame");
                    break;
                }
            }
            prev = Some(ts);
        }
    })
    .await
    .expect("frames resume after the stall");
    sim.shutdown().await;
}

#[tokio::test]
async fn disconnect_fault_ends_the_session() {
    let sim = start(vec![cam("cam1", small_loop(), None)], true).await;
    let mut frames = connect(&sim.url("cam1", false), PASS).await.unwrap();
    receive(&mut frames, 0.3).await;
    assert_eq!(sim.stats().clients, 1);
    sim.inject("cam1", FaultKind::Disconnect, Duration::from_secs(2))
        .unwrap();
    let ended = tokio::time::timeout(LIMIT, async {
        loop {
            match frames.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "session did not end");
    // While "offline", the camera answers 503.
    let err = connect(&sim.url("cam1", false), PASS)
        .await
        .err()
        .expect("offline");
    assert!(err.to_string().contains("503"), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn ffmpeg_decodes_the_live_stream_without_errors() {
    let sim = start(vec![cam("cam1", live(320, 240), None)], true).await;
    let url = format!("rtsp://{USER}:{PASS}@{}/cam1/main", sim.rtsp_addr());
    let out = tokio::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-i",
            &url,
            "-t",
            "3",
            "-f",
            "null",
            "-",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(LIMIT, out)
        .await
        .expect("ffmpeg finishes")
        .expect("ffmpeg runs (install the ffmpeg package)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg failed: {stderr}");
    assert!(stderr.trim().is_empty(), "ffmpeg reported errors: {stderr}");
    sim.shutdown().await;
}

#[tokio::test]
async fn h265_file_source_is_read_by_retina() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.h265");
    let status = tokio::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=10",
            "-t",
            "2",
        ])
        .args([
            "-c:v",
            "libx265",
            "-x265-params",
            "open-gop=0:bframes=0:keyint=10:log-level=error",
        ])
        .args(["-f", "hevc"])
        .arg(&path)
        .kill_on_drop(true)
        .status()
        .await
        .expect("ffmpeg runs (install the ffmpeg package)");
    assert!(status.success(), "ffmpeg could not make the H.265 file");
    let spec = SourceSpec::File {
        path: path.clone(),
        codec: Codec::H265,
        fps: 10,
    };
    let sim = start(vec![cam("cam1", spec, None)], true).await;
    let mut frames = connect(&sim.url("cam1", false), PASS).await.unwrap();
    assert_eq!(frames.streams()[0].encoding_name(), "h265");
    assert_eq!(stream_dims(&frames), Some((320, 240)));
    // 3 s of a 2 s file: the loop wraps and timestamps keep increasing.
    let got = receive(&mut frames, 3.0).await;
    assert!(got.keys >= 3 && got.frames >= 30, "{got:?}");
    // Picture faults need a live source.
    let err = sim
        .inject("cam1", FaultKind::Black, Duration::from_secs(1))
        .unwrap_err();
    assert!(matches!(err, sim::Error::UnsupportedFault { .. }), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn parameter_change_and_timestamp_jump_reach_the_client() {
    let sim = start(vec![cam("cam1", live(320, 240), None)], false).await;
    let mut frames = connect(&sim.url("cam1", false), PASS).await.unwrap();
    let got = receive(&mut frames, 0.5).await;
    let last = got.last_ts.unwrap();
    sim.inject(
        "cam1",
        FaultKind::TimestampJump { secs: 100 },
        Duration::ZERO,
    )
    .unwrap();
    sim.inject("cam1", FaultKind::ParamChange, Duration::from_secs(30))
        .unwrap();
    let (jumped, dims) = tokio::time::timeout(LIMIT, async {
        let mut jumped = false;
        loop {
            let item = frames
                .next()
                .await
                .expect("stream ended")
                .expect("stream error");
            let CodecItem::VideoFrame(f) = item else {
                continue;
            };
            jumped |= f.timestamp().timestamp() - last > 90 * 90_000;
            if f.has_new_parameters() {
                break (jumped, stream_dims(&frames));
            }
        }
    })
    .await
    .expect("new parameters arrive");
    assert!(jumped, "no timestamp jump seen");
    assert_eq!(dims, Some((240, 176)));
    sim.shutdown().await;
}

#[tokio::test]
async fn udp_setup_gets_461() {
    let sim = start(vec![cam("cam1", small_loop(), None)], false).await;
    let mut s = tokio::net::TcpStream::connect(sim.rtsp_addr())
        .await
        .unwrap();
    let req = format!(
        "SETUP {}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n",
        sim.url("cam1", false)
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(LIMIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert!(reply.starts_with("RTSP/1.0 461 "), "{reply}");
    assert!(reply.contains("CSeq: 1\r\n"), "{reply}");
    sim.shutdown().await;
}

async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(LIMIT, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_owned();
    (code, body)
}

#[tokio::test]
async fn control_endpoint_lists_cameras_and_injects_faults() {
    let sim = start(
        vec![
            cam("cam1", live(160, 120), None),
            cam("cam2", small_loop(), None),
        ],
        false,
    )
    .await;
    let addr = sim.control_addr().unwrap();
    let (code, body) = http(addr, "GET", "/cameras").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["name"], "cam1");
    assert_eq!(v[1]["streams"][0]["source"], "loop");
    assert_eq!(v[1]["streams"][0]["url"], sim.url("cam2", false));

    assert_eq!(http(addr, "POST", "/fault/cam1/black?secs=5").await.0, 200);
    let (_, body) = http(addr, "GET", "/cameras").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["faults"]["black"], true);
    assert_eq!(http(addr, "POST", "/fault/cam2/stall?secs=1").await.0, 200);
    assert_eq!(http(addr, "POST", "/fault/cam2/blur?secs=1").await.0, 400);
    assert_eq!(http(addr, "POST", "/fault/cam9/stall").await.0, 404);
    assert_eq!(http(addr, "POST", "/fault/cam1/melt").await.0, 400);
    assert_eq!(http(addr, "GET", "/fault/cam1/stall").await.0, 405);
    let (code, body) = http(addr, "GET", "/stats").await;
    assert_eq!(code, 200);
    assert!(body.contains("\"clients\":0"), "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn scheduled_fault_fires() {
    let sim = Sim::start(SimConfig {
        control_bind: Some("127.0.0.1:0".parse().unwrap()),
        cameras: vec![cam("cam1", small_loop(), None)],
        schedule: sim::parse_schedule("cam1:disconnect@500ms+5s").unwrap(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = sim.control_addr().unwrap();
    let fired = tokio::time::timeout(LIMIT, async {
        loop {
            let (_, body) = http(addr, "GET", "/cameras").await;
            if body.contains("\"offline\":true") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(fired.is_ok(), "scheduled disconnect never fired");
    sim.shutdown().await;
}
