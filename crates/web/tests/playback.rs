//! Playback from the index through the web router: the timeline's ranges and holes, the
//! fMP4 stream for MSE (checked with `media::fmp4::scan` and decoded by ffprobe), the
//! progressive MP4 with HTTP Range, a guard's recent-window limit, the page; and
//! (ignored) the time-to-first-byte benchmark over 20 days × 30 cameras of index.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use media::time::TICKS_PER_SEC;
use media::{Frame, Ticks, VideoParams};
use tower::ServiceExt;

const PASSWORD: &str = "đúng-mật-khẩu-dài-42";

/// A real H.264 clip (320x240, 15 fps, GOP 15, no B-frames) encoded by ffmpeg, as frames.
fn clip(dir: &Path, seconds: u32) -> (Arc<VideoParams>, Vec<(bool, bytes::Bytes)>) {
    let path = dir.join("clip.h264");
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x240:rate=15")
        .args(["-t", &seconds.to_string()])
        .args([
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
        ])
        .args(["-g", "15", "-bf", "0"])
        .args([
            "-x264-params",
            "aud=1:keyint_min=15:scenecut=0",
            "-f",
            "h264",
        ])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (scripts/install-deps.sh)");
    assert!(st.success());
    let data = std::fs::read(&path).unwrap();
    let (mut sps, mut pps) = (None, None);
    let mut frames = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut key = false;
    let mut has_slice = false;
    for nal in media::h264::split_annexb(&data) {
        match media::h264::nal_type(nal) {
            media::h264::NAL_AUD => {
                if has_slice {
                    frames.push((key, bytes::Bytes::from(std::mem::take(&mut cur))));
                }
                key = false;
                has_slice = false;
                continue;
            }
            media::h264::NAL_SPS => sps = Some(nal.to_vec()),
            media::h264::NAL_PPS => pps = Some(nal.to_vec()),
            media::h264::NAL_IDR => {
                key = true;
                has_slice = true
            }
            1 => has_slice = true,
            _ => {}
        }
        cur.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        cur.extend_from_slice(nal);
    }
    if has_slice {
        frames.push((key, bytes::Bytes::from(cur)));
    }
    let params = media::h264::video_params(&sps.unwrap(), &pps.unwrap()).unwrap();
    assert!(frames[0].0, "the clip starts with a key frame");
    (Arc::new(params), frames)
}

/// Writes `frames` as a stream's footage starting at `t0`, one frame every `step` ticks.
fn record(
    w: &mut store::Writer,
    params: &Arc<VideoParams>,
    frames: &[(bool, bytes::Bytes)],
    t0: Ticks,
    step: Ticks,
) {
    for (i, (key, data)) in frames.iter().enumerate() {
        w.push(&Frame {
            time: t0 + i as i64 * step,
            is_key: *key,
            data: data.clone(),
            params: params.clone(),
            loss: 0,
        })
        .unwrap();
    }
    w.flush().unwrap();
    w.end_segment("test").unwrap();
}

fn now_ticks() -> Ticks {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_millis() as i64 * 90
}

struct Env {
    dir: tempfile::TempDir,
    app: axum::Router,
    admin: String,
    guard: String,
    camera: i64,
    store: store::Store,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let opts = store::StoreOptions {
        segment_duration: 2 * TICKS_PER_SEC,
        max_frame_gap: TICKS_PER_SEC,
        ..Default::default()
    };
    let (store, _) = store::Store::open(dir.path(), opts).unwrap();
    let govern = govern::Govern::open_with(
        &dir.path().join(store::DB_FILE),
        govern::PasswordParams::insecure_for_tests(),
    )
    .unwrap();
    let camera = store
        .add_camera(store::NewCamera {
            name: "Cổng chính".into(),
            main_url: "rtsp://127.0.0.1:1/main".into(),
            ..Default::default()
        })
        .unwrap();
    let now = now_ticks() / 90_000;
    // IT (the administrator) may not watch footage under the regulation: it creates an
    // "investigator" role that may play back everything this test recorded, and the user
    // these tests play back as ("admin" below) holds it.
    let it = govern
        .create_user("it", "CNTT", govern::Role::Administrator, PASSWORD, now)
        .unwrap();
    let investigator = govern
        .create_user("admin", "Điều tra", govern::Role::Viewer, PASSWORD, now)
        .unwrap();
    let role = govern
        .create_role(&it, "investigator", "plays back any recent footage", now)
        .unwrap();
    govern
        .set_role_rights(
            &it,
            role,
            &[
                govern::Assignment::new(govern::Right::LiveView, govern::Scope::All),
                govern::Assignment {
                    window_secs: Some(10 * 365 * 86_400),
                    ..govern::Assignment::new(govern::Right::PlaybackRecent, govern::Scope::All)
                },
            ],
            now,
        )
        .unwrap();
    govern
        .set_user_roles(&it, investigator.id, &[role], now)
        .unwrap();
    govern
        .create_user("baove", "Bảo vệ", govern::Role::Guard, PASSWORD, now)
        .unwrap();
    let admin = govern
        .login("admin", PASSWORD, "127.0.0.1", now)
        .unwrap()
        .token;
    let guard = govern
        .login("baove", PASSWORD, "127.0.0.1", now)
        .unwrap()
        .token;
    let state = web::AppState::new(
        store.clone(),
        govern,
        audit::Audit::open(
            &dir.path().join(store::DB_FILE),
            audit::RecorderKey::load_or_create(dir.path()).unwrap(),
        )
        .unwrap(),
        web::LiveRegistry::default(),
        web::Settings::new(dir.path().to_owned()),
    );
    Env {
        app: web::router(state),
        dir,
        admin,
        guard,
        camera,
        store,
    }
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Env {
    async fn get(&self, token: &str, uri: &str, range: Option<&str>) -> Resp {
        let mut req = Request::get(uri).header("cookie", format!("vigil_session={token}"));
        if let Some(r) = range {
            req = req.header("range", r);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }
}

fn ffprobe_frames(dir: &Path, name: &str, bytes: &[u8]) -> u64 {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("ffprobe is installed (scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_fmp4_and_ranged_mp4_from_the_index() {
    let env = env();
    let (params, frames) = clip(env.dir.path(), 4); // 60 frames
    let stream = web::playback::playback_stream(&env.store, env.camera).unwrap();
    let step = TICKS_PER_SEC / 15;
    // Part A two hours ago (outside a guard's window), B and C recently with a 10 s hole.
    let now = now_ticks();
    let a = now - 2 * 3600 * TICKS_PER_SEC;
    let b = now - 120 * TICKS_PER_SEC;
    let c = b + 14 * TICKS_PER_SEC;
    {
        let mut w = env.store.writer(stream.id).unwrap();
        record(&mut w, &params, &frames, a, step);
        record(&mut w, &params, &frames, b, step);
        record(&mut w, &params, &frames, c, step);
        w.close().unwrap();
    }
    let day = web::playback::local_day(b, 7 * 60);
    let id = env.camera;

    // Timeline: B and C are two ranges with the hole between them.
    let r = env
        .get(
            &env.admin,
            &format!("/api/cameras/{id}/timeline?day={day}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let tl: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let ranges = tl["ranges"].as_array().unwrap();
    let holes = tl["holes"].as_array().unwrap();
    let b_ms = b / 90;
    let c_ms = c / 90;
    let rb = ranges
        .iter()
        .find(|r| r["start"].as_i64() == Some(b_ms))
        .expect("range B");
    assert_eq!(rb["end"].as_i64().unwrap(), b_ms + 4000);
    assert!(ranges.iter().any(|r| r["start"].as_i64() == Some(c_ms)));
    assert!(
        holes
            .iter()
            .any(|h| h["start"].as_i64() == Some(b_ms + 4000) && h["end"].as_i64() == Some(c_ms)),
        "{holes:?}"
    );
    assert!((tl["fps"].as_f64().unwrap() - 15.0).abs() < 0.5);
    assert!(tl["limited_from"].is_null());

    // fMP4 from the middle of B (1.5 s in): starts at the key frame at 1 s, runs to the
    // end of C, jumping over the hole.
    let start_ms = b_ms + 1500;
    let r = env
        .get(
            &env.admin,
            &format!("/api/cameras/{id}/fmp4?start={start_ms}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["x-vigil-base"].to_str().unwrap(),
        ((b + TICKS_PER_SEC) / 90).to_string()
    );
    assert_eq!(r.headers["x-vigil-codec"].to_str().unwrap(), params.rfc6381);
    let scan = media::fmp4::scan(&r.body).expect("valid fMP4");
    let samples: usize = scan.fragments.iter().map(|f| f.samples.len()).sum();
    assert_eq!(samples, 45 + 60);
    assert!(scan.fragments[0].samples[0].is_key);
    assert_eq!(scan.fragments[0].base_decode_time, 0);
    // Regrouped: one fragment per GOP (15 frames = 1 s).
    assert!(scan.fragments.iter().all(|f| f.samples.len() == 15));
    let c_frag = scan
        .fragments
        .iter()
        .find(|f| f.base_decode_time as i64 == c - (b + TICKS_PER_SEC))
        .expect("C's first fragment after the hole");
    assert!(c_frag.samples[0].is_key);
    assert_eq!(ffprobe_frames(env.dir.path(), "pb.mp4", &r.body), 105);

    // With an end: stops at it.
    let r = env
        .get(
            &env.admin,
            &format!("/api/cameras/{id}/fmp4?start={b_ms}&end={}", b_ms + 2000),
            None,
        )
        .await;
    let scan = media::fmp4::scan(&r.body).unwrap();
    assert_eq!(
        scan.fragments
            .iter()
            .map(|f| f.samples.len())
            .sum::<usize>(),
        30
    );

    // Progressive MP4 of B..C, whole and by ranges.
    let uri = format!(
        "/api/cameras/{id}/video.mp4?start={b_ms}&end={}",
        c_ms + 4000
    );
    let full = env.get(&env.admin, &uri, None).await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.headers["accept-ranges"], "bytes");
    let len = full.body.len();
    assert_eq!(
        full.headers["content-length"].to_str().unwrap(),
        len.to_string()
    );
    assert_eq!(ffprobe_frames(env.dir.path(), "full.mp4", &full.body), 120);
    let part = env.get(&env.admin, &uri, Some("bytes=100-4099")).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers["content-range"].to_str().unwrap(),
        format!("bytes 100-4099/{len}")
    );
    assert_eq!(part.body, full.body[100..4100]);
    let tail = env.get(&env.admin, &uri, Some("bytes=-1000")).await;
    assert_eq!(tail.body, full.body[len - 1000..]);
    let mut stitched = Vec::new();
    let mut pos = 0;
    while pos < len {
        let r = env
            .get(
                &env.admin,
                &uri,
                Some(&format!("bytes={pos}-{}", pos + 65_535)),
            )
            .await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
        pos += r.body.len();
        stitched.extend_from_slice(&r.body);
    }
    assert_eq!(stitched, full.body);
    let bad = env
        .get(&env.admin, &uri, Some(&format!("bytes={len}-")))
        .await;
    assert_eq!(bad.status, StatusCode::RANGE_NOT_SATISFIABLE);

    // Nothing recorded / bad requests.
    let none = env
        .get(
            &env.admin,
            &format!("/api/cameras/{id}/fmp4?start={}", now / 90 + 60_000),
            None,
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let bad = env
        .get(
            &env.admin,
            &format!("/api/cameras/{id}/timeline?day=2025-02-30"),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // A guard: recent footage yes, two hours ago no; the timeline says where the limit is.
    let r = env
        .get(
            &env.guard,
            &format!("/api/cameras/{id}/fmp4?start={b_ms}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = env
        .get(
            &env.guard,
            &format!("/api/cameras/{id}/fmp4?start={}", a / 90),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = env
        .get(
            &env.guard,
            &format!(
                "/api/cameras/{id}/video.mp4?start={}&end={}",
                a / 90,
                a / 90 + 4000
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = env
        .get(
            &env.guard,
            &format!("/api/cameras/{id}/timeline?day={day}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let tl: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(tl["limited_from"].as_i64().unwrap() > a / 90);

    // Without a session: refused.
    let r = env
        .app
        .clone()
        .oneshot(
            Request::get(format!("/api/cameras/{id}/timeline"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(r.status().is_client_error() || r.status().is_redirection());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_page_has_the_dom_contract() {
    let env = env();
    let id = env.camera;
    let r = env
        .get(
            &env.admin,
            &format!("/playback?camera={id}&day=2025-03-04"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = String::from_utf8(r.body).unwrap();
    assert!(page.contains(r#"id="timeline""#));
    assert!(
        page.contains(&format!(r#"class="player" data-camera="{id}""#)),
        "{page}"
    );
    for s in [1, 2, 4, 8] {
        assert!(page.contains(&format!(r#"data-speed="{s}""#)));
    }
    assert!(page.contains(r#"class="step""#));
    assert!(page.contains(r#""dayStart":"#));
    assert!(page.contains("Cổng chính"));
    let r = env.get(&env.admin, "/playback?day=bad", None).await;
    let page = String::from_utf8(r.body).unwrap();
    assert!(page.contains(web::i18n::t(web::i18n::Lang::Vi, "playback.bad_day")));
    let r = env.get(&env.admin, "/assets/playback.js", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8(r.body)
        .unwrap()
        .contains("window.vigilPlayback"));
}

/// Time to first byte of playback requests over 20 days of index for 30 cameras. Run with
/// `cargo test --release -p web --test playback -- --ignored --nocapture bench_playback`.
///
/// One real 60 s segment per camera is written through the store's writer (60 frames, one
/// per second); then its row is copied 28 800 times per camera (20 days of back-to-back
/// minutes) with rusqlite. The copies' paths are distinct spellings (`./` vs `.//`) of the
/// same file, so every row reads real bytes; the chain values are not meaningful.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: figures go to BENCHMARKS.md"]
async fn bench_playback_first_byte_20_days_30_cameras() {
    const CAMERAS: i64 = 30;
    const DAYS: i64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store::Store::open(dir.path(), store::StoreOptions::default()).unwrap();
    let govern = govern::Govern::open_with(
        &dir.path().join(store::DB_FILE),
        govern::PasswordParams::insecure_for_tests(),
    )
    .unwrap();
    let (params, frames) = clip(dir.path(), 4);
    let frames = &frames[..60];
    let per_day = 24 * 60;
    let rows = DAYS * per_day;
    let now = now_ticks();
    let t0 = (now / (60 * TICKS_PER_SEC) - rows) * 60 * TICKS_PER_SEC;
    let mut cams = Vec::new();
    for c in 0..CAMERAS {
        let id = store
            .add_camera(store::NewCamera {
                name: format!("cam{c}"),
                main_url: "rtsp://127.0.0.1:1/x".into(),
                ..Default::default()
            })
            .unwrap();
        let stream = web::playback::playback_stream(&store, id).unwrap();
        let mut w = store.writer(stream.id).unwrap();
        // Keys every 15 frames at 1 fps = a 60 s segment of four 15 s GOPs.
        record(&mut w, &params, frames, t0, TICKS_PER_SEC);
        w.close().unwrap();
        cams.push((id, stream.id));
    }
    let fill = Instant::now();
    let mut seg_len = 60 * TICKS_PER_SEC;
    // Per camera: where its footage ends.
    let mut ends = Vec::new();
    {
        let mut db = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
        db.busy_timeout(Duration::from_secs(30)).unwrap();
        let tx = db.transaction().unwrap();
        for &(_, sid) in &cams {
            // The template: the stream's first segment; copies go after its last one.
            let (path, seq, len, last_seq, last_end): (String, i64, i64, i64, i64) = tx
                .query_row(
                    "SELECT path, seq, \"end\" - start, \
                     (SELECT MAX(seq) FROM segment WHERE stream_id = ?1), \
                     (SELECT MAX(\"end\") FROM segment WHERE stream_id = ?1) \
                     FROM segment WHERE stream_id = ?1 ORDER BY seq LIMIT 1",
                    [sid],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .unwrap();
            ends.push(last_end + (rows - 1) * len);
            if sid == cams[0].1 {
                seg_len = len;
                println!(
                    "template segment: {:.1} s; the writer made {} segment(s)",
                    len as f64 / TICKS_PER_SEC as f64,
                    last_seq - seq + 1
                );
            }
            let (d, f) = path.rsplit_once('/').unwrap();
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO segment (stream_id, seq, state, path, start, \"end\", bytes, \
                     frames, sample_entry_id, fragments, file_sha256, prev_chain, chain) \
                     SELECT stream_id, ?2, state, ?3, start + ?4, \"end\" + ?4, bytes, frames, \
                     sample_entry_id, fragments, file_sha256, prev_chain, chain \
                     FROM segment WHERE stream_id = ?1 AND seq = ?5",
                )
                .unwrap();
            for i in 1..rows {
                let spelled: String = (0..20)
                    .map(|bit| if i >> bit & 1 == 1 { "./" } else { ".//" })
                    .collect();
                stmt.execute(rusqlite::params![
                    sid,
                    last_seq + i,
                    format!("{d}/{spelled}{f}"),
                    last_end - t0 + (i - 1) * len,
                    seq
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    println!(
        "filled {} segment rows ({} cameras x {} rows of {:.0} s = {:.1} days) in {:.1} s",
        CAMERAS * rows,
        CAMERAS,
        rows,
        seg_len as f64 / TICKS_PER_SEC as f64,
        (rows * seg_len) as f64 / (86_400 * TICKS_PER_SEC) as f64,
        fill.elapsed().as_secs_f64()
    );
    let user_now = now / 90_000;
    govern
        .create_user(
            "admin",
            "Quản trị",
            govern::Role::Administrator,
            PASSWORD,
            user_now,
        )
        .unwrap();
    let token = govern
        .login("admin", PASSWORD, "127.0.0.1", user_now)
        .unwrap()
        .token;
    let app = web::router(web::AppState::new(
        store,
        govern,
        audit::Audit::open(
            &dir.path().join(store::DB_FILE),
            audit::RecorderKey::load_or_create(dir.path()).unwrap(),
        )
        .unwrap(),
        web::LiveRegistry::default(),
        web::Settings::new(dir.path().to_owned()),
    ));
    let first_byte = |uri: String, range: Option<&'static str>| {
        let app = app.clone();
        let token = token.clone();
        async move {
            let t = Instant::now();
            let uri_s = uri.clone();
            let mut req = Request::get(uri).header("cookie", format!("vigil_session={token}"));
            if let Some(r) = range {
                req = req.header("range", r);
            }
            let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            assert!(resp.status().is_success(), "{} {uri_s}", resp.status());
            let mut body = resp.into_body();
            let frame = body.frame().await.expect("a first chunk").unwrap();
            assert!(frame.data_ref().is_some_and(|d| !d.is_empty()));
            t.elapsed()
        }
    };
    let mut rng_state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move |n: i64| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        (rng_state % n as u64) as i64
    };
    let (mut fmp4, mut mp4, mut mp4_range, mut tl) = (vec![], vec![], vec![], vec![]);
    if std::env::var_os("VIGIL_BENCH_KEEP").is_some() {
        println!("keeping {}", dir.path().display());
        std::mem::forget(dir);
    }
    for _ in 0..200 {
        let c = rnd(CAMERAS) as usize;
        let (id, _) = cams[c];
        // Segments are cut at the first key frame after the target length (staggered per
        // stream), so each camera's copies span a little differently.
        let at_ms = (t0 + rnd(ends[c] - t0 - 5 * 60 * TICKS_PER_SEC)) / 90;
        fmp4.push(first_byte(format!("/api/cameras/{id}/fmp4?start={at_ms}"), None).await);
        let uri = format!(
            "/api/cameras/{id}/video.mp4?start={at_ms}&end={}",
            at_ms + 300_000
        );
        mp4.push(first_byte(uri.clone(), None).await);
        // A follow-up Range request (the browser's next one) hits the MP4 cache.
        mp4_range.push(first_byte(uri, Some("bytes=100000-")).await);
        let day = web::playback::local_day(at_ms * 90, 7 * 60);
        tl.push(first_byte(format!("/api/cameras/{id}/timeline?day={day}"), None).await);
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
    };
    for (name, v) in [
        ("fmp4 (MSE) first byte", &mut fmp4),
        ("video.mp4 (5 min, progressive) first byte", &mut mp4),
        (
            "video.mp4 follow-up Range request first byte",
            &mut mp4_range,
        ),
        ("timeline of one day (1440 segments)", &mut tl),
    ] {
        println!(
            "{name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} requests)",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 1.0),
            v.len()
        );
    }
}
