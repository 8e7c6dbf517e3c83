//! The live wall end to end: a simulated camera (sim) → ingest → the web router's
//! WebSocket feed → a WebSocket client on 127.0.0.1, checked with `media::fmp4::scan` and
//! decoded with ffprobe. Plus the page, Origin and CSRF checks, and (ignored) the live
//! benchmark whose figures are in BENCHMARKS.md.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use media::Ticks;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

struct Env {
    _dir: tempfile::TempDir,
    _sim: sim::Sim,
    _handles: Vec<ingest::StreamHandle>,
    addr: SocketAddr,
    token: String,
    csrf: String,
    cameras: Vec<i64>,
    live: web::LiveRegistry,
    audit: audit::Audit,
}

fn loop_source(width: u32, height: u32, fps: u32, bitrate_bps: u32) -> sim::SourceSpec {
    sim::SourceSpec::Loop {
        width,
        height,
        fps,
        bitrate_bps,
        gop_frames: fps * 2,
        seconds: 4,
    }
}

/// `n` simulated cameras (main, and sub when `sub`), each streamed by ingest into a live
/// registry, and the web router serving them on 127.0.0.1.
async fn env(n: usize, sub: bool, main: sim::SourceSpec) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store::Store::open(dir.path(), store::StoreOptions::default()).unwrap();
    let govern = govern::Govern::open_with(
        &dir.path().join(store::DB_FILE),
        govern::PasswordParams::insecure_for_tests(),
    )
    .unwrap();
    let cache = std::env::var_os("HOME")
        .map(|h| std::path::PathBuf::from(h).join(".cache/vigil-sim"))
        .unwrap_or_else(|| dir.path().join("sim-cache"));
    let cameras_spec: Vec<sim::CameraSpec> = (0..n)
        .map(|i| sim::CameraSpec {
            name: format!("cam{i}"),
            main: main.clone(),
            sub: sub.then(|| loop_source(320, 240, 10, 200_000)),
        })
        .collect();
    let sim = sim::Sim::start(sim::SimConfig {
        cameras: cameras_spec,
        cache_dir: Some(cache),
        ..Default::default()
    })
    .await
    .expect("simulator starts");
    let live = web::LiveRegistry::default();
    let mut handles = Vec::new();
    let mut cameras = Vec::new();
    for i in 0..n {
        let name = format!("cam{i}");
        let id = store
            .add_camera(store::NewCamera {
                name: format!("Camera {i}"),
                main_url: sim.url(&name, false),
                sub_url: sub.then(|| sim.url(&name, true)),
                ..Default::default()
            })
            .unwrap();
        cameras.push(id);
        let kinds: &[(store::StreamKind, bool)] = if sub {
            &[
                (store::StreamKind::Main, false),
                (store::StreamKind::Sub, true),
            ]
        } else {
            &[(store::StreamKind::Main, false)]
        };
        for &(kind, is_sub) in kinds {
            let url = url::Url::parse(&sim.url(&name, is_sub)).unwrap();
            let (tx, mut rx) = mpsc::channel(64);
            // Nothing records in these tests: drain the recorder's channel.
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
            let h = ingest::spawn(ingest::StreamConfig::new(format!("{name}/{kind}"), url), tx);
            live.insert(id, kind, h.monitor());
            handles.push(h);
        }
    }
    let user = govern
        .create_user(
            "baove",
            "Bảo vệ Minh",
            govern::Role::Guard,
            "đúng-mật-khẩu-dài-42",
            0,
        )
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let session = govern
        .login(&user.username, "đúng-mật-khẩu-dài-42", "127.0.0.1", now)
        .unwrap();
    let audit = audit::Audit::open(
        &dir.path().join(store::DB_FILE),
        audit::RecorderKey::load_or_create(dir.path()).unwrap(),
    )
    .unwrap();
    let state = web::AppState::new(
        store,
        govern,
        audit.clone(),
        live.clone(),
        web::Settings::new(dir.path().to_owned()),
    );
    let app = web::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Env {
        _dir: dir,
        _sim: sim,
        _handles: handles,
        addr,
        token: session.token,
        csrf: session.csrf,
        cameras,
        live,
        audit,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Env {
    fn ws_request(
        &self,
        camera: i64,
        kind: &str,
        origin: Option<&str>,
        csrf: bool,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        let q = if csrf {
            format!("?csrf={}", self.csrf)
        } else {
            String::new()
        };
        let mut req = format!("ws://{}/ws/live/{camera}/{kind}{q}", self.addr)
            .into_client_request()
            .unwrap();
        let h = req.headers_mut();
        h.insert(
            "cookie",
            format!("vigil_session={}", self.token).parse().unwrap(),
        );
        if let Some(o) = origin {
            h.insert("origin", o.parse().unwrap());
        }
        req
    }

    async fn open(&self, camera: i64, kind: &str) -> Ws {
        let origin = format!("http://{}", self.addr);
        let req = self.ws_request(camera, kind, Some(&origin), true);
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("WebSocket opens");
        ws
    }

    async fn get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: vigil_session={}\r\nConnection: close\r\n\r\n",
            self.addr, self.token
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).to_string();
        let status = text[9..12].parse().unwrap();
        (status, text)
    }
}

/// The decode time (`tfdt`) of a one-track fragment built by `media::fmp4`.
fn tfdt(fragment: &[u8]) -> u64 {
    u64::from_be_bytes(fragment[60..68].try_into().unwrap())
}

#[derive(Debug)]
enum Got {
    Init { codec: String, base_ms: i64 },
    Text(String),
    Binary(Vec<u8>),
}

async fn next(ws: &mut Ws) -> Got {
    let deadline = Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("a message within 20 s")
            .expect("socket open")
            .expect("no socket error");
        match m {
            Message::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "init" {
                    return Got::Init {
                        codec: v["codec"].as_str().unwrap().to_owned(),
                        base_ms: v["base"].as_i64().unwrap(),
                    };
                }
                return Got::Text(t.as_str().to_owned());
            }
            Message::Binary(b) => return Got::Binary(b.to_vec()),
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feed_starts_at_a_key_frame_and_decodes() {
    let env = env(1, true, loop_source(640, 360, 15, 400_000)).await;
    let cam = env.cameras[0];
    let mut ws = env.open(cam, "sub").await;
    // Bounded: the first messages are an optional "waiting", then the init.
    let mut init_json = None;
    for _ in 0..3 {
        match next(&mut ws).await {
            Got::Init { codec, base_ms } => {
                init_json = Some((codec, base_ms));
                break;
            }
            Got::Text(t) => assert!(t.contains("waiting"), "unexpected {t}"),
            Got::Binary(_) => panic!("binary before init"),
        }
    }
    let (codec, base_ms) = init_json.expect("an init message");
    assert!(codec.starts_with("avc1."), "{codec}");
    let Got::Binary(init) = next(&mut ws).await else {
        panic!("init segment expected")
    };
    let mut file = init.clone();
    let mut times = Vec::new();
    for _ in 0..25 {
        let Got::Binary(f) = next(&mut ws).await else {
            panic!("fragment expected")
        };
        times.push(tfdt(&f));
        file.extend_from_slice(&f);
    }
    let scan = media::fmp4::scan(&file).expect("valid fMP4");
    assert_eq!(scan.fragments.len(), 25);
    assert!(scan.fragments[0].samples[0].is_key, "starts at a key frame");
    assert_eq!(times[0], 0, "decode time 0 is the first frame");
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((now_ms - base_ms).abs() < 60_000, "base is wall time");

    // A second viewer starts at once from the hub's cached GOP, at its key frame.
    let mut ws2 = env.open(cam, "sub").await;
    let Got::Init { .. } = next(&mut ws2).await else {
        panic!("the second viewer gets the init first")
    };
    let Got::Binary(_) = next(&mut ws2).await else {
        panic!()
    };
    let Got::Binary(f) = next(&mut ws2).await else {
        panic!()
    };
    let scan2 = media::fmp4::scan(&[init.as_slice(), &f].concat()).unwrap();
    assert!(scan2.fragments[0].samples[0].is_key);

    // What the browser would get decodes: ffprobe counts the frames.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.mp4");
    std::fs::write(&path, &file).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,codec_name,width",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe is installed (scripts/install-deps.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.trim(), "h264,320,25", "ffprobe: {text}");
    ws.close(None).await.ok();
    ws2.close(None).await.ok();

    // Both views are in the audit trail: opened (who, from where) and ended (which times).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ends = loop {
        let ends = env
            .audit
            .query(&audit::Filter {
                action: Some("live.view_end".into()),
                ..Default::default()
            })
            .unwrap();
        if ends.len() >= 2 || std::time::Instant::now() > deadline {
            break ends;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ends.len(), 2, "{ends:?}");
    for e in &ends {
        assert_eq!(e.actor.as_deref(), Some("baove"));
        assert_eq!(e.target, format!("camera:{cam}"));
        assert_eq!(e.client.as_deref(), Some("127.0.0.1"));
        let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        assert_eq!(d["stream"], "sub");
        assert!(
            d["from"].as_str().unwrap() <= d["to"].as_str().unwrap(),
            "{d}"
        );
        assert!(d["seconds"].as_f64().unwrap() >= 0.0, "{d}");
    }
    let opened = env
        .audit
        .query(&audit::Filter {
            action: Some("live.view".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(opened.len(), 2, "{opened:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_needs_same_origin_csrf_and_a_stream() {
    let env = env(1, false, loop_source(320, 240, 10, 200_000)).await;
    let cam = env.cameras[0];
    let refused = |r: Result<_, tokio_tungstenite::tungstenite::Error>| match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the upgrade was accepted"),
    };
    let other = env.ws_request(cam, "main", Some("http://evil.example"), true);
    assert_eq!(
        refused(tokio_tungstenite::connect_async(other).await.map(|_| ())),
        403
    );
    let none = env.ws_request(cam, "main", None, true);
    assert_eq!(
        refused(tokio_tungstenite::connect_async(none).await.map(|_| ())),
        403
    );
    let origin = format!("http://{}", env.addr);
    let no_csrf = env.ws_request(cam, "main", Some(&origin), false);
    assert_eq!(
        refused(tokio_tungstenite::connect_async(no_csrf).await.map(|_| ())),
        403
    );
    // A camera without a sub-stream, and an unknown camera.
    let sub = env.ws_request(cam, "sub", Some(&origin), true);
    assert_eq!(
        refused(tokio_tungstenite::connect_async(sub).await.map(|_| ())),
        404
    );
    let unknown = env.ws_request(9999, "main", Some(&origin), true);
    assert_eq!(
        refused(tokio_tungstenite::connect_async(unknown).await.map(|_| ())),
        404
    );
    // Without a session at all.
    let mut anon = format!("ws://{}/ws/live/{cam}/main", env.addr)
        .into_client_request()
        .unwrap();
    anon.headers_mut().insert("origin", origin.parse().unwrap());
    let r = tokio_tungstenite::connect_async(anon).await.map(|_| ());
    assert!(r.is_err());
    // The proper request works.
    let mut ws = env.open(cam, "main").await;
    let _ = next(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_has_the_wall_tiles_and_strings() {
    let env = env(2, true, loop_source(320, 240, 10, 200_000)).await;
    let (status, page) = env.get("/live").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(r#"id="wall""#));
    for n in web::live::LAYOUTS {
        assert!(page.contains(&format!(r#"data-layout="{n}""#)));
    }
    for id in &env.cameras {
        assert!(
            page.contains(&format!(r#"data-camera="{id}" data-grid-kind="sub""#)),
            "{page}"
        );
    }
    assert!(page.contains("Camera 0") && page.contains("Camera 1"));
    assert!(page.contains(r#"class="watermark""#));
    assert!(page.contains(r#"data-user-name="Bảo vệ Minh""#));
    // Vietnamese strings for the script, from the one table.
    assert!(page.contains(web::i18n::t(web::i18n::Lang::Vi, "live.status.h265")));
    let (status, js) = env.get("/assets/live.js").await;
    assert_eq!(status, 200);
    assert!(js.contains("window.vigilLive"));
    let (status, _) = env.get("/assets/wall.css").await;
    assert_eq!(status, 200);
    assert!(env
        .live
        .get(env.cameras[0], store::StreamKind::Sub)
        .is_some());
}

/// Server-added live latency and time to first frame. Run with
/// `cargo test --release -p web --test live -- --ignored --nocapture bench_live`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: figures go to BENCHMARKS.md"]
async fn bench_live_latency_30_cameras_3_viewers() {
    const CAMERAS: usize = 30;
    const VIEWERS: usize = 3;
    const SECONDS: u64 = 20;
    let env = env(CAMERAS, false, sim::CameraSpec::bench("x").main).await;
    // Wait until every stream delivers frames.
    for &id in &env.cameras {
        let m = env.live.get(id, store::StreamKind::Main).unwrap();
        let mut rx = m.subscribe();
        tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("camera streams")
            .unwrap();
    }
    // Probe: when each frame left the camera's bus (a subscriber beside the hub).
    type Seen = Arc<Mutex<HashMap<(i64, Ticks), Instant>>>;
    let seen: Seen = Arc::default();
    for &id in &env.cameras {
        let mut rx = env
            .live
            .get(id, store::StreamKind::Main)
            .unwrap()
            .subscribe();
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(f) = rx.recv().await {
                // Keyed by the time the client can reconstruct (base rounded to ms).
                seen.lock().unwrap().insert((id, f.time), Instant::now());
            }
        });
    }
    // Every socket is read from the moment it opens (stale data in socket buffers would
    // otherwise count as latency); latencies count from `measure_from` on.
    let lat: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let measure_from: Arc<std::sync::OnceLock<(Instant, Instant)>> = Arc::default();
    let mut tasks = Vec::new();
    let reader = |id: i64, mut ws: Ws, base: Option<Ticks>| {
        let seen = seen.clone();
        let lat = lat.clone();
        let window = measure_from.clone();
        tokio::spawn(async move {
            let mut base_ticks = base;
            // Bounded: ends with the measurement window (or a silent socket).
            loop {
                if window.get().is_some_and(|w| Instant::now() >= w.1) {
                    break;
                }
                let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await
                else {
                    break;
                };
                let at = Instant::now();
                match m {
                    Message::Text(t) => {
                        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                        base_ticks = v["base"].as_i64().map(|ms| ms * 90).or(base_ticks);
                    }
                    Message::Binary(b) if &b[4..8] == b"moof" => {
                        let Some(w) = window.get() else { continue };
                        if at < w.0 {
                            continue;
                        }
                        let Some(base) = base_ticks else { continue };
                        let approx = base + tfdt(&b) as i64;
                        let s = seen.lock().unwrap();
                        // The base was rounded down to a ms: the frame is within 90 ticks.
                        if let Some(t) = (0..90).find_map(|d| s.get(&(id, approx + d))) {
                            lat.lock().unwrap().push(at.saturating_duration_since(*t));
                        }
                    }
                    _ => {}
                }
            }
            ws.close(None).await.ok();
        })
    };
    let open = |id: i64| {
        let env = &env;
        async move {
            let t0 = Instant::now();
            let mut ws = env.open(id, "main").await;
            let mut base = None;
            loop {
                match next(&mut ws).await {
                    Got::Init { base_ms, .. } => base = Some(base_ms * 90),
                    Got::Binary(b) if &b[4..8] == b"moof" => break,
                    _ => {}
                }
            }
            (t0.elapsed(), ws, base)
        }
    };
    // Time to first frame, cold: the first viewer of each stream, before anyone opened the
    // wall page, waits for the stream's next key frame.
    let mut cold = Vec::new();
    for &id in &env.cameras {
        let (d, ws, base) = open(id).await;
        cold.push(d);
        tasks.push(reader(id, ws, base));
    }
    // The wall page starts keeping every stream's GOP cached; then tiles open at once.
    let (status, _) = env.get("/live").await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut warm = Vec::new();
    for _ in 1..VIEWERS {
        for &id in &env.cameras {
            let (d, ws, base) = open(id).await;
            warm.push(d);
            tasks.push(reader(id, ws, base));
        }
    }
    // Let every client catch up, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = Instant::now();
    measure_from
        .set((start, start + Duration::from_secs(SECONDS)))
        .unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    };
    let mut l = lat.lock().unwrap().clone();
    println!(
        "live latency, {CAMERAS} cameras x {VIEWERS} viewers, {SECONDS} s: {} fragments, \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.len(),
        pct(&mut l, 0.5).as_secs_f64() * 1e3,
        pct(&mut l, 0.99).as_secs_f64() * 1e3,
        pct(&mut l, 1.0).as_secs_f64() * 1e3
    );
    println!(
        "time to first frame, cold (waits for a key frame, 2 s GOP): p50 {:.0} ms, max {:.0} ms",
        pct(&mut cold, 0.5).as_secs_f64() * 1e3,
        pct(&mut cold, 1.0).as_secs_f64() * 1e3
    );
    println!(
        "time to first frame, warm (after the wall page: cached GOP): p50 {:.1} ms, max {:.1} ms",
        pct(&mut warm, 0.5).as_secs_f64() * 1e3,
        pct(&mut warm, 1.0).as_secs_f64() * 1e3
    );
    assert!(!l.is_empty());
}
