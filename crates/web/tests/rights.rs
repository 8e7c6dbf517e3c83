//! Every route × every preset role → the expected allow or deny, in-process over the whole
//! router (`web::router`), plus the request → approval → grant path: a guard's request
//! cannot be approved by the guard (nor by anyone else who filed it), playback outside the
//! guard's 30-minute window is refused without a grant, allowed with one, and refused again
//! once the grant has expired; the timeline lists exactly the spans a grant opens.
//!
//! "Allowed" means the route answered something other than 401/403 or a redirect to the
//! login page (a permitted playback of an empty store answers 404, which is fine here).
//! Live viewing needs a running camera stream to render tiles, so its row checks
//! `govern::authorize` on the very user the session guard builds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

const PW: &str = "Mật-khẩu-thử-2024";
const T0_MS: i64 = 1_750_000_000_000;
const MIN_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// The preset roles, in table order.
const ROLES: [&str; 7] = [
    "leadership",
    "guard",
    "it",
    "accountant",
    "department_head",
    "auditor",
    "viewer",
];

struct Env {
    _dir: tempfile::TempDir,
    /// The configured export directory (`Settings::export_dir`), outside the data directory
    /// as an export drive would be.
    exports: tempfile::TempDir,
    store: store::Store,
    app: Router,
    clock: Arc<AtomicI64>,
    govern: govern::Govern,
    /// (role, token, csrf, user id)
    sessions: Vec<(&'static str, String, String, i64)>,
}

impl Env {
    fn session(&self, role: &str) -> (&str, &str, i64) {
        let s = self.sessions.iter().find(|s| s.0 == role).unwrap();
        (&s.1, &s.2, s.3)
    }
    fn now_ms(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }
    /// Moves the clock and logs everyone in again (sessions end after 12 hours).
    fn advance_to(&mut self, ms: i64) {
        self.clock.store(ms, Ordering::SeqCst);
        for s in &mut self.sessions {
            let n = self.govern.login(s.0, PW, "127.0.0.1", ms / 1000).unwrap();
            s.1 = n.token;
            s.2 = n.csrf;
        }
    }
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store::Store::open(dir.path(), store::StoreOptions::default()).unwrap();
    for (name, zone) in [("cổng", "A"), ("sân", "B")] {
        store
            .add_camera(store::NewCamera {
                name: name.into(),
                main_url: "rtsp://127.0.0.1:9/main".into(),
                zone: Some(zone.into()),
                ..Default::default()
            })
            .unwrap();
    }
    let govern = govern::Govern::open_with(
        &dir.path().join(store::DB_FILE),
        govern::PasswordParams::insecure_for_tests(),
    )
    .unwrap();
    let now = T0_MS / 1000;
    let it = govern
        .create_user("it", "CNTT", govern::Role::Administrator, PW, now)
        .unwrap();
    for role in ROLES {
        if role == "it" {
            continue;
        }
        let zone = (role == "department_head").then_some("A");
        govern
            .create_user_with_roles(
                &it,
                role,
                role,
                PW,
                &[govern.role_id(role).unwrap()],
                zone,
                now,
            )
            .unwrap();
    }
    // A second principal who also holds the guard role (files requests too).
    govern
        .create_user_with_roles(
            &it,
            "principal2",
            "Hiệu phó",
            PW,
            &[
                govern.role_id("leadership").unwrap(),
                govern.role_id("guard").unwrap(),
            ],
            None,
            now,
        )
        .unwrap();
    let mut sessions = Vec::new();
    for role in ROLES.iter().copied().chain(["principal2"]) {
        let s = govern.login(role, PW, "127.0.0.1", now).unwrap();
        sessions.push((role, s.token, s.csrf, s.user.id));
    }
    let clock = Arc::new(AtomicI64::new(T0_MS));
    let exports = tempfile::tempdir().unwrap();
    let mut settings = web::Settings::new(dir.path().to_path_buf());
    settings.export_dir = Some(exports.path().to_path_buf());
    let state = web::AppState::new(
        store.clone(),
        govern.clone(),
        audit::Audit::open(
            &dir.path().join(store::DB_FILE),
            audit::RecorderKey::load_or_create(dir.path()).unwrap(),
        )
        .unwrap(),
        web::LiveRegistry::default(),
        settings,
    )
    .with_clock(web::Clock::manual(clock.clone()));
    Env {
        _dir: dir,
        exports,
        store,
        app: web::router(state),
        clock,
        govern,
        sessions,
    }
}

struct Resp {
    status: StatusCode,
    location: String,
    body: String,
}

impl Resp {
    fn allowed(&self) -> bool {
        !matches!(
            self.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) && !self.location.starts_with("/login")
    }
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn req(method: Method, path: &str, token: &str) -> axum::http::request::Builder {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "vigil.test")
        .header(
            header::COOKIE,
            format!("{}={token}", web::auth::SESSION_COOKIE),
        );
    let a: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    b.extensions_mut().unwrap().insert(ConnectInfo(a));
    b
}

async fn get(e: &Env, role: &str, path: &str) -> Resp {
    let (token, _, _) = e.session(role);
    send(
        &e.app,
        req(Method::GET, path, token).body(Body::empty()).unwrap(),
    )
    .await
}

async fn post_form(e: &Env, role: &str, path: &str, pairs: &[(&str, &str)]) -> Resp {
    let (token, csrf, _) = e.session(role);
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf)];
    all.extend_from_slice(pairs);
    send(
        &e.app,
        req(Method::POST, path, token)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(serde_urlencoded::to_string(&all).unwrap()))
            .unwrap(),
    )
    .await
}

/// Files a request over HTTP (multipart, CSRF header) and returns the response.
/// `who` approves request `id` with `comment`, letting `viewer` (a role's user) view
/// until `expires` (local time).
async fn approve(e: &Env, who: &str, id: &str, comment: &str, viewer: &str, expires: &str) -> Resp {
    let (_, _, viewer_id) = e.session(viewer);
    let viewer_id = viewer_id.to_string();
    post_form(
        e,
        who,
        &format!("/requests/{id}/decide"),
        &[
            ("decision", "approve"),
            ("comment", comment),
            ("view", &viewer_id),
            ("expires", expires),
        ],
    )
    .await
}

async fn file_request(
    e: &Env,
    role: &str,
    cameras: &[i64],
    start: &str,
    end: &str,
    doc: &[u8],
) -> Resp {
    let (token, csrf, _) = e.session(role);
    let boundary = "vigil-test-boundary-7d1f";
    let mut body: Vec<u8> = Vec::new();
    let mut text = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    text("purpose", "violation");
    for c in cameras {
        text("camera", &c.to_string());
    }
    text("start", start);
    text("end", end);
    text("reason", "Học sinh đánh nhau ở cổng trường");
    text("want_hold", "1");
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"de-nghi.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(doc);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    send(
        &e.app,
        req(Method::POST, "/requests", token)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(web::auth::CSRF_HEADER, csrf)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Records footage on `camera`'s main stream from `start_ms` to `end_ms`: one tiny key
/// frame a second (the export copies samples as recorded; nothing decodes them here).
fn record_footage(store: &store::Store, camera: i64, start_ms: i64, end_ms: i64) {
    let stream = store
        .streams()
        .unwrap()
        .into_iter()
        .find(|s| s.camera_id == camera && s.kind == store::StreamKind::Main)
        .unwrap();
    let params = Arc::new(media::VideoParams {
        codec: media::Codec::H264,
        width: 320,
        height: 240,
        rfc6381: "avc1.42C01E".into(),
        sample_entry: media::h264::sample_entry_avc1(
            &[0x67, 0x42, 0xc0, 0x1e],
            &[0x68, 0xce],
            320,
            240,
        ),
    });
    let mut w = store.writer(stream.id).unwrap();
    for ms in (start_ms..end_ms).step_by(1000) {
        w.push(&media::Frame {
            time: ms * 90,
            is_key: true,
            data: bytes::Bytes::from_static(&[0, 0, 0, 5, 0x65, 1, 2, 3, 4]),
            params: params.clone(),
            loss: 0,
        })
        .unwrap();
    }
    w.close().unwrap();
}

/// Local (UTC+7, the default) `datetime-local` text of Unix milliseconds.
fn local(ms: i64) -> String {
    web::requests::local_time(ms * 90, 7 * 60).replace(' ', "T")
}

fn expect(allowed: &[&str]) -> Vec<bool> {
    ROLES.iter().map(|r| allowed.contains(r)).collect()
}

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_preset_role() {
    let e = setup();
    let now = e.now_ms();
    let recent = format!(
        "/api/cameras/1/video.mp4?start={}&end={}",
        now - 10 * MIN_MS,
        now - 9 * MIN_MS
    );
    let old = format!(
        "/api/cameras/1/video.mp4?start={}&end={}",
        now - 2 * 60 * MIN_MS,
        now - 119 * MIN_MS
    );
    let old_fmp4 = format!("/api/cameras/1/fmp4?start={}", now - 2 * 60 * MIN_MS);
    // (route, roles allowed)
    let table: Vec<(String, Vec<bool>)> = vec![
        ("/health".into(), expect(&["leadership", "guard", "it"])),
        ("/api/health".into(), expect(&["leadership", "guard", "it"])),
        ("/cameras".into(), expect(&["it"])),
        ("/api/cameras".into(), expect(&["it"])),
        ("/storage".into(), expect(&["it"])),
        ("/api/storage".into(), expect(&["it"])),
        ("/admin/users".into(), expect(&["it"])),
        ("/admin/roles".into(), expect(&["it"])),
        ("/audit".into(), expect(&["leadership", "auditor"])),
        ("/api/audit".into(), expect(&["leadership", "auditor"])),
        ("/audit.csv".into(), expect(&["leadership", "auditor"])),
        ("/requests".into(), expect(&["leadership", "guard", "it"])),
        ("/requests/new".into(), expect(&["guard"])),
        ("/requests/inbox".into(), expect(&["leadership"])),
        (recent.clone(), expect(&["leadership", "guard"])),
        (old.clone(), expect(&[])),
        (old_fmp4.clone(), expect(&[])),
    ];
    let mut failures = Vec::new();
    for (path, allowed) in &table {
        for (role, want) in ROLES.iter().zip(allowed) {
            let r = get(&e, role, path).await;
            if r.allowed() != *want {
                failures.push(format!(
                    "GET {path} as {role}: {} (expected {})",
                    r.status,
                    if *want { "allowed" } else { "refused" }
                ));
            }
        }
    }
    // Live view, per camera (camera 1 is in zone A, the department head's).
    for (camera, allowed) in [
        (
            1,
            expect(&["leadership", "guard", "it", "department_head", "viewer"]),
        ),
        (2, expect(&["leadership", "guard", "it", "viewer"])),
    ] {
        for (role, want) in ROLES.iter().zip(&allowed) {
            let (token, _, _) = e.session(role);
            let user = e
                .govern
                .session(token, now / 1000, 1800)
                .unwrap()
                .unwrap()
                .user;
            let got = govern::authorize(&user, &govern::Action::LiveView { camera });
            if got != *want {
                failures.push(format!("live camera {camera} as {role}: {got}"));
            }
            // No role deletes footage, anywhere.
            assert!(!govern::authorize(&user, &govern::Action::DeleteFootage));
        }
    }
    // Nobody changes their own roles (not even IT, who may change others').
    let all_roles: Vec<String> = e
        .govern
        .roles()
        .unwrap()
        .iter()
        .map(|r| r.id.to_string())
        .collect();
    for role in ROLES {
        let (_, _, uid) = e.session(role);
        let mut pairs: Vec<(&str, &str)> = all_roles.iter().map(|r| ("role", r.as_str())).collect();
        pairs.push(("zone", ""));
        let r = post_form(&e, role, &format!("/admin/users/{uid}"), &pairs).await;
        if r.allowed() {
            failures.push(format!("{role} changed their own roles: {}", r.status));
        }
    }
    // Nothing answers a delete of footage.
    for role in ROLES {
        let (token, csrf, _) = e.session(role);
        for path in [
            "/api/cameras/1/video.mp4",
            "/api/cameras/1",
            "/api/cameras/1/segments",
        ] {
            let r = send(
                &e.app,
                req(Method::DELETE, path, token)
                    .header(web::auth::CSRF_HEADER, csrf)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert!(
                !r.status.is_success(),
                "DELETE {path} as {role} answered {}",
                r.status
            );
        }
    }
    // Filing: only the guard (and people holding the guard role) may.
    let (start, end) = (
        local(now - 3 * DAY_MS),
        local(now - 3 * DAY_MS + 10 * MIN_MS),
    );
    for role in ROLES {
        let r = file_request(&e, role, &[1], &start, &end, PDF).await;
        let want = role == "guard";
        if r.allowed() != want {
            failures.push(format!("file a request as {role}: {} {}", r.status, r.body));
        }
    }
    // Deciding: one pending guard request per role; only the leadership may, and never
    // on their own request.
    for role in ROLES {
        let r = file_request(&e, "guard", &[1], &start, &end, PDF).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let id = r.location.trim_start_matches("/requests/").to_string();
        let r = approve(&e, role, &id, "Đồng ý", "guard", &local(now + DAY_MS)).await;
        let want = role == "leadership";
        if r.allowed() != want {
            failures.push(format!("approve as {role}: {} {}", r.status, r.body));
        }
    }
    // Self-approval: principal2 (leadership + guard) files, then may not approve it.
    let r = file_request(&e, "principal2", &[1], &start, &end, PDF).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let own = r.location.trim_start_matches("/requests/").to_string();
    let exp = local(now + DAY_MS);
    let r = approve(&e, "principal2", &own, "tự duyệt", "principal2", &exp).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "self-approval: {}", r.body);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_open_older_playback_until_they_expire() {
    let mut e = setup();
    let now = e.now_ms();
    let w_start = now - 3 * DAY_MS;
    let w_end = w_start + 10 * MIN_MS;
    // Footage around the window, so that the export below has something to package.
    record_footage(&e.store, 1, w_start - 2 * MIN_MS, w_end + 2 * MIN_MS);
    let inside = format!(
        "/api/cameras/1/video.mp4?start={}&end={}",
        w_start + MIN_MS,
        w_start + 2 * MIN_MS
    );
    let other_camera = format!(
        "/api/cameras/2/video.mp4?start={}&end={}",
        w_start + MIN_MS,
        w_start + 2 * MIN_MS
    );
    let before = format!(
        "/api/cameras/1/video.mp4?start={}&end={}",
        w_start - 5 * MIN_MS,
        w_start - 4 * MIN_MS
    );
    // Without a grant: refused to the guard (outside the 30-minute window) and to IT.
    assert_eq!(
        get(&e, "guard", &inside).await.status,
        StatusCode::FORBIDDEN
    );

    // A document that is not a PDF/JPEG/PNG is refused; so is an empty window.
    let r = file_request(
        &e,
        "guard",
        &[1],
        &local(w_start),
        &local(w_end),
        b"MZ\x90\x00binary",
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = file_request(&e, "guard", &[1], &local(w_end), &local(w_start), PDF).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    let r = file_request(&e, "guard", &[1], &local(w_start), &local(w_end), PDF).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id: i64 = r.location.trim_start_matches("/requests/").parse().unwrap();
    // Stored with its hash.
    let q = e.govern.request(id).unwrap();
    let stored = std::fs::read(
        e._dir
            .path()
            .join("requests")
            .join(id.to_string())
            .join(&q.document.file),
    )
    .unwrap();
    assert_eq!(stored, PDF);
    assert_eq!(q.document.sha256, {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(PDF))
    });
    // The inbox lists it for the leadership; the guard's page says someone else decides.
    assert!(get(&e, "leadership", "/requests/inbox")
        .await
        .body
        .contains(&format!("data-request=\"{id}\"")));
    assert!(get(&e, "guard", &format!("/requests/{id}"))
        .await
        .body
        .contains("own"));
    assert!(get(&e, "guard", &format!("/requests/{id}/document"))
        .await
        .status
        .is_success());
    assert_eq!(
        get(&e, "accountant", &format!("/requests/{id}/document"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Approve: the guard may view, IT may export, for one day; hold the footage.
    let (_, _, guard_id) = e.session("guard");
    let (_, _, it_id) = e.session("it");
    let (g, i) = (guard_id.to_string(), it_id.to_string());
    let exp = local(now + DAY_MS);
    let r = post_form(
        &e,
        "leadership",
        &format!("/requests/{id}/decide"),
        &[
            ("decision", "approve"),
            ("comment", "Đồng ý, phục vụ xử lý vi phạm"),
            ("view", &g),
            ("export", &i),
            ("expires", &exp),
            ("hold", "1"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let q = e.govern.request(id).unwrap();
    assert_eq!(q.status, govern::Status::Approved);
    assert_eq!(q.hold_ids.len(), 1, "a hold was placed");

    // With the grant: exactly that camera and window.
    assert!(get(&e, "guard", &inside).await.allowed());
    assert_eq!(
        get(&e, "guard", &other_camera).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&e, "guard", &before).await.status,
        StatusCode::FORBIDDEN
    );
    // A range that starts inside the grant but runs past its end is refused as a whole.
    let past_end = format!(
        "/api/cameras/1/video.mp4?start={}&end={}",
        w_end - MIN_MS,
        w_end + 5 * MIN_MS
    );
    assert_eq!(
        get(&e, "guard", &past_end).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&e, "it", &inside).await.status,
        StatusCode::FORBIDDEN,
        "IT exports, does not view"
    );
    assert_eq!(
        get(&e, "viewer", &inside).await.status,
        StatusCode::FORBIDDEN
    );
    // IT may press Export; the guard and the leadership may not. The package goes to the
    // configured export directory, not DATA/exports, and is served from there.
    let r = post_form(&e, "it", &format!("/requests/{id}/export"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        r.location.starts_with(&format!("/requests/{id}/exports/")),
        "{}",
        r.location
    );
    let packages: Vec<_> = std::fs::read_dir(e.exports.path())
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    assert_eq!(packages.len(), 1, "{packages:?}");
    assert!(packages[0].join(evidence::MANIFEST_FILE).is_file());
    assert!(!e._dir.path().join("exports").exists());
    let page = get(&e, "it", &r.location).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(evidence::MANIFEST_FILE), "{}", page.body);
    let manifest = get(
        &e,
        "it",
        &format!("{}/{}", r.location, evidence::MANIFEST_FILE),
    )
    .await;
    assert_eq!(manifest.status, StatusCode::OK, "{}", manifest.body);
    assert_eq!(
        manifest.body.as_bytes(),
        std::fs::read(packages[0].join(evidence::MANIFEST_FILE)).unwrap()
    );
    assert_eq!(
        post_form(&e, "guard", &format!("/requests/{id}/export"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(&e, "leadership", &format!("/requests/{id}/export"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // The hold is released by an approver, not by the guard.
    assert_eq!(
        post_form(&e, "guard", &format!("/requests/{id}/release-hold"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Two days later the grant has expired: refused again.
    e.advance_to(now + 2 * DAY_MS);
    let later_inside = inside.clone();
    assert_eq!(
        get(&e, "guard", &later_inside).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(&e, "it", &format!("/requests/{id}/export"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = post_form(
        &e,
        "leadership",
        &format!("/requests/{id}/release-hold"),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(e.govern.request(id).unwrap().hold_released_at.is_some());
}

/// The timeline's `allowed` spans as (start, end) ms.
fn allowed_of(r: &Resp) -> Vec<(i64, i64)> {
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["start"].as_i64().unwrap(), s["end"].as_i64().unwrap()))
        .collect()
}

fn limited_from_of(r: &Resp) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["limited_from"].as_i64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_shows_what_grants_open() {
    let mut e = setup();
    let now = e.now_ms();
    let w_start = now - 3 * DAY_MS;
    let w_end = w_start + 10 * MIN_MS;
    let offset = 7 * 60;
    let day = web::playback::local_day(w_start * 90, offset);
    let day_before = web::playback::local_day((w_start - DAY_MS) * 90, offset);
    let timeline = |camera: i64, day: &str| format!("/api/cameras/{camera}/timeline?day={day}");

    // Today: the guard's 30-minute window only.
    let r = get(&e, "guard", "/api/cameras/1/timeline").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(allowed_of(&r), vec![(now - 30 * MIN_MS, now)]);
    assert_eq!(limited_from_of(&r), Some(now - 30 * MIN_MS));
    // That past day, without a grant: nothing to play, refused; so is IT (no playback).
    assert_eq!(
        get(&e, "guard", &timeline(1, &day)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&e, "it", "/api/cameras/1/timeline").await.status,
        StatusCode::FORBIDDEN
    );

    // A grant for camera 1, [w_start, w_end), to view until tomorrow.
    let r = file_request(&e, "guard", &[1], &local(w_start), &local(w_end), PDF).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = r.location.trim_start_matches("/requests/").to_string();
    let r = approve(
        &e,
        "leadership",
        &id,
        "Đồng ý",
        "guard",
        &local(now + DAY_MS),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // The guard now sees exactly the granted span on that day…
    let r = get(&e, "guard", &timeline(1, &day)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(allowed_of(&r), vec![(w_start, w_end)]);
    assert_eq!(limited_from_of(&r), Some(w_start));
    // …and still only the recent window today.
    let r = get(&e, "guard", "/api/cameras/1/timeline").await;
    assert_eq!(allowed_of(&r), vec![(now - 30 * MIN_MS, now)]);
    // Not the day before, not another camera, not the approver (who holds no grant).
    assert_eq!(
        get(&e, "guard", &timeline(1, &day_before)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&e, "guard", &timeline(2, &day)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&e, "leadership", &timeline(1, &day)).await.status,
        StatusCode::FORBIDDEN
    );

    // Once the grant has expired, that day offers nothing again.
    e.advance_to(now + 2 * DAY_MS);
    assert_eq!(
        get(&e, "guard", &timeline(1, &day)).await.status,
        StatusCode::FORBIDDEN
    );
}
