//! Security tests of the web layer, in-process: the whole router (`web::router`) over a
//! temporary data directory, driven request by request with `tower::ServiceExt::oneshot`
//! and a manual clock.

mod common;

use common::form;
use common::{req, send, Resp};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use axum::Router;

const ADMIN_PW: &str = "Quản-trị-viên-2024";
const GUARD_PW: &str = "Bảo-vệ-cổng-chính";
const T0_MS: i64 = 1_750_000_000_000;

struct Env {
    _dir: tempfile::TempDir,
    app: Router,
    clock: Arc<AtomicI64>,
    govern: govern::Govern,
}

fn env_with(users: bool, secure: bool) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store::Store::open(dir.path(), store::StoreOptions::default()).unwrap();
    store
        .add_camera(store::NewCamera {
            name: "cổng".into(),
            main_url: "rtsp://127.0.0.1:9/main".into(),
            username: Some("cam".into()),
            password: Some("camera-secret-1".into()),
            ..Default::default()
        })
        .unwrap();
    let govern = govern::Govern::open_with(
        &dir.path().join(store::DB_FILE),
        govern::PasswordParams::insecure_for_tests(),
    )
    .unwrap();
    if users {
        let now = T0_MS / 1000;
        govern
            .create_user("admin", "IT", govern::Role::Administrator, ADMIN_PW, now)
            .unwrap();
        govern
            .create_user("guard", "Bảo vệ", govern::Role::Guard, GUARD_PW, now)
            .unwrap();
    }
    let clock = Arc::new(AtomicI64::new(T0_MS));
    let mut settings = web::Settings::new(dir.path().to_path_buf());
    settings.secure_cookies = secure;
    let state = web::AppState::new(
        store,
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
        app: web::router(state),
        clock,
        govern,
    }
}

fn env() -> Env {
    env_with(true, false)
}

/// Logs in through the form; returns the response of the POST.
async fn login_as(e: &Env, user: &str, pw: &str, addr: &str) -> Resp {
    let page = send(
        &e.app,
        req(Method::GET, "/login", None, addr)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let pre = page
        .cookie(web::auth::PRE_CSRF_COOKIE)
        .expect("pre-login token cookie");
    send(
        &e.app,
        req(
            Method::POST,
            "/login",
            Some(&format!("{}={pre}", web::auth::PRE_CSRF_COOKIE)),
            addr,
        )
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", &pre),
            ("username", user),
            ("password", pw),
        ]))
        .unwrap(),
    )
    .await
}

/// A signed-in session: (cookie header value, CSRF token).
async fn session(e: &Env, user: &str, pw: &str) -> (String, String) {
    let r = login_as(e, user, pw, "10.1.1.1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let token = r.cookie(web::auth::SESSION_COOKIE).expect("session cookie");
    let cookie = format!("{}={token}", web::auth::SESSION_COOKIE);
    let me = send(
        &e.app,
        req(Method::GET, "/api/me", Some(&cookie), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    (cookie, v["csrf"].as_str().unwrap().to_string())
}

/// Every route of the application (and some that do not exist: the guard is global).
/// (method, path, is it an API path — 401 instead of a redirect).
const ROUTES: &[(&str, &str, bool)] = &[
    ("GET", "/", false),
    ("GET", "/live", false),
    ("GET", "/playback", false),
    ("GET", "/playback?camera=1&day=2025-06-15", false),
    ("GET", "/cameras", false),
    ("GET", "/cameras?edit=1", false),
    ("POST", "/cameras", false),
    ("POST", "/cameras/1", false),
    ("POST", "/cameras/1/enable", false),
    ("POST", "/cameras/1/disable", false),
    ("POST", "/cameras/1/test", false),
    ("GET", "/storage", false),
    ("GET", "/health", false),
    ("POST", "/alarms/ack", false),
    ("POST", "/logout", false),
    ("GET", "/no-such-page", false),
    ("GET", "/api/cameras", true),
    ("POST", "/api/cameras", true),
    ("GET", "/api/cameras/1", true),
    ("PUT", "/api/cameras/1", true),
    ("POST", "/api/cameras/1/test", true),
    ("GET", "/api/storage", true),
    ("GET", "/api/health", true),
    ("POST", "/api/alarms/ack", true),
    ("GET", "/api/i18n", true),
    ("GET", "/api/me", true),
    ("GET", "/api/playback/segments?camera=1", true),
    ("GET", "/ws/live/1", true),
    ("GET", "/api/no-such-thing", true),
];

#[tokio::test]
async fn every_route_without_a_session_is_refused() {
    let e = env();
    for &(m, path, api) in ROUTES {
        for cookie in [None, Some("vigil_session=forged-or-expired")] {
            let r = send(
                &e.app,
                req(m.parse().unwrap(), path, cookie, "10.0.0.1")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            if api {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m} {path}");
            } else {
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{m} {path}");
                assert_eq!(r.location(), "/login", "{m} {path}");
            }
            assert!(!r.body.contains("cổng"), "{m} {path} leaked data");
        }
    }
    // A WebSocket upgrade without a session: 401.
    let r = send(
        &e.app,
        req(Method::GET, "/ws/live/1", None, "10.0.0.1")
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "upgrade")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Assets and the login page answer without a session.
    let css = send(
        &e.app,
        req(Method::GET, "/assets/app.css", None, "10.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(css.status, StatusCode::OK);
    let login = send(
        &e.app,
        req(Method::GET, "/login", None, "10.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("form id=\"login\""));
    assert!(login.body.contains("Đăng nhập"), "Vietnamese by default");
    let en = send(
        &e.app,
        req(Method::GET, "/login?lang=en", None, "10.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(en.body.contains("Log in"));
}

#[tokio::test]
async fn setup_exists_only_while_there_is_no_user() {
    let e = env_with(false, false);
    // Without users, pages send to the set-up page.
    let r = send(
        &e.app,
        req(Method::GET, "/live", None, "10.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.location(), "/setup");
    let page = send(
        &e.app,
        req(Method::GET, "/setup", None, "10.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("form id=\"login\""));
    let pre = page.cookie(web::auth::PRE_CSRF_COOKIE).unwrap();
    let post = |pw: &'static str, with_token: bool| {
        let pre = pre.clone();
        let app = e.app.clone();
        async move {
            let fields: Vec<(&str, &str)> = if with_token {
                vec![("csrf", pre.as_str()), ("username", "it"), ("password", pw)]
            } else {
                vec![("username", "it"), ("password", pw)]
            };
            send(
                &app,
                req(
                    Method::POST,
                    "/setup",
                    Some(&format!("{}={pre}", web::auth::PRE_CSRF_COOKIE)),
                    "10.0.0.1",
                )
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form(&fields))
                .unwrap(),
            )
            .await
        }
    };
    assert_eq!(
        post("Quản-trị-viên-2024", false).await.status,
        StatusCode::FORBIDDEN
    );
    // No default or weak password.
    for weak in ["admin", "123456", "password", "password123"] {
        let r = post(weak, true).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{weak}");
        assert!(r.body.contains("class=\"error\""));
    }
    assert!(!e.govern.has_users().unwrap());
    let r = post("Quản-trị-viên-2024", true).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.cookie(web::auth::SESSION_COOKIE).is_some());
    let users = e.govern.users().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].user.role, govern::Role::Administrator);
    // Now set-up is closed.
    let r = send(
        &e.app,
        req(Method::GET, "/setup", None, "10.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.location(), "/login");
    let r = post("Another-password-99", true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(e.govern.users().unwrap().len(), 1);
}

#[tokio::test]
async fn session_cookie_attributes() {
    let e = env();
    let r = login_as(&e, "admin", ADMIN_PW, "10.0.0.2").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let c = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("vigil_session="))
        .unwrap();
    assert!(c.contains("HttpOnly"), "{c}");
    assert!(c.contains("SameSite=Strict"), "{c}");
    assert!(c.contains("Path=/"), "{c}");
    assert!(!c.contains("Secure"), "plain HTTP: {c}");
    // Only the token's hash is in the database.
    let token = r.cookie("vigil_session").unwrap();
    assert_eq!(token.len(), 64);

    let e = env_with(true, true);
    let r = login_as(&e, "admin", ADMIN_PW, "10.0.0.2").await;
    let c = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("vigil_session="))
        .unwrap();
    assert!(
        c.contains("Secure") && c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
}

#[tokio::test]
async fn forms_and_mutations_need_the_csrf_token() {
    let e = env();
    let (cookie, csrf) = session(&e, "admin", ADMIN_PW).await;
    let fields = [
        ("name", "sân trường"),
        ("main_url", "rtsp://127.0.0.1:9/yard"),
        ("min_days", "20"),
        ("max_days", "30"),
        ("enabled", "on"),
    ];
    let post_form = |extra: Option<&str>| {
        let mut f: Vec<(&str, &str)> = fields.to_vec();
        if let Some(t) = extra {
            f.push(("csrf", t));
        }
        req(Method::POST, "/cameras", Some(&cookie), "10.1.1.1")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&f))
            .unwrap()
    };
    assert_eq!(
        send(&e.app, post_form(None)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&e.app, post_form(Some("0000"))).await.status,
        StatusCode::FORBIDDEN
    );
    let wrong_len = "x".repeat(csrf.len());
    assert_eq!(
        send(&e.app, post_form(Some(&wrong_len))).await.status,
        StatusCode::FORBIDDEN
    );
    let cams = send(
        &e.app,
        req(Method::GET, "/api/cameras", Some(&cookie), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(!cams.body.contains("sân trường"), "nothing was added");
    let ok = send(&e.app, post_form(Some(&csrf))).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let cams = send(
        &e.app,
        req(Method::GET, "/api/cameras", Some(&cookie), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(cams.body.contains("sân trường"));
    assert!(
        !cams.body.contains("camera-secret-1"),
        "passwords are never sent back"
    );

    // JSON mutations: the header.
    let put = |token: Option<&str>| {
        let mut b = req(Method::PUT, "/api/cameras/1", Some(&cookie), "10.1.1.1")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            b = b.header("X-CSRF-Token", t);
        }
        b.body(Body::from(r#"{"name":"cổng chính","main_url":"rtsp://127.0.0.1:9/main","username":"cam","enabled":"true"}"#))
            .unwrap()
    };
    assert_eq!(send(&e.app, put(None)).await.status, StatusCode::FORBIDDEN);
    let r = send(&e.app, put(Some(&csrf))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A cross-site Origin is refused even with the token.
    let r = send(
        &e.app,
        req(Method::POST, "/api/alarms/ack", Some(&cookie), "10.1.1.1")
            .header("X-CSRF-Token", &csrf)
            .header(header::ORIGIN, "http://evil.example")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"key":"x"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // WebSocket upgrades need a matching Origin and the token.
    let ws = |origin: Option<&str>, path: &str| {
        let mut b = req(Method::GET, path, Some(&cookie), "10.1.1.1")
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.body(Body::empty()).unwrap()
    };
    let with_token = format!("/ws/live/1?csrf={csrf}");
    assert_eq!(
        send(&e.app, ws(None, &with_token)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&e.app, ws(Some("http://evil.example"), &with_token))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&e.app, ws(Some("http://vigil.test"), "/ws/live/1"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Logout needs the token too, then the session is gone.
    let out = |t: Option<&str>| {
        let f: Vec<(&str, &str)> = t.map(|t| vec![("csrf", t)]).unwrap_or_default();
        req(Method::POST, "/logout", Some(&cookie), "10.1.1.1")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&f))
            .unwrap()
    };
    assert_eq!(send(&e.app, out(None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&e.app, out(Some(&csrf))).await.location(), "/login");
    let r = send(
        &e.app,
        req(Method::GET, "/health", Some(&cookie), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.location(), "/login");
}

#[tokio::test]
async fn login_forms_need_their_own_token() {
    let e = env();
    // A POST to /login without the double-submit token (a cross-site login attempt).
    let r = send(
        &e.app,
        req(Method::POST, "/login", None, "10.0.0.3")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(&[("username", "admin"), ("password", ADMIN_PW)]))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.cookie(web::auth::SESSION_COOKIE).is_none());
}

#[tokio::test]
async fn a_second_login_page_keeps_the_browsers_token() {
    // Browsers fetch more than the page (a second tab, /favicon.ico): rendering the login
    // page again must not replace the token the first form carries.
    let e = env();
    let get = |cookie: Option<String>| {
        let app = e.app.clone();
        async move {
            send(
                &app,
                req(Method::GET, "/login", cookie.as_deref(), "10.0.0.4")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
        }
    };
    let first = get(None).await;
    let pre = first.cookie(web::auth::PRE_CSRF_COOKIE).unwrap();
    let again = get(Some(format!("{}={pre}", web::auth::PRE_CSRF_COOKIE))).await;
    assert_eq!(
        again.cookie(web::auth::PRE_CSRF_COOKIE).as_deref(),
        Some(pre.as_str())
    );
    assert!(again.body.contains(&pre), "the form carries the same token");
    // The icon is answered without a redirect to the login page.
    let icon = send(
        &e.app,
        req(Method::GET, "/favicon.ico", None, "10.0.0.4")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(icon.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_sixth_wrong_password_locks_the_account() {
    let e = env();
    for i in 0..5 {
        // From different addresses: only the account lock is at work.
        let r = login_as(&e, "admin", "not-the-password", &format!("10.2.0.{i}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {}", i + 1);
        assert!(r.body.contains("Sai tên đăng nhập hoặc mật khẩu"));
        e.clock.fetch_add(10_000, Ordering::SeqCst);
    }
    // The sixth attempt, even with the right password, is refused with the lockout message.
    let r = login_as(&e, "admin", ADMIN_PW, "10.2.1.1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Tài khoản tạm khóa"), "{}", r.body);
    assert!(r.cookie(web::auth::SESSION_COOKIE).is_none());
    // Still locked 14 minutes later…
    e.clock.fetch_add(14 * 60_000, Ordering::SeqCst);
    let r = login_as(&e, "admin", ADMIN_PW, "10.2.1.1").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // …other accounts are not affected…
    let r = login_as(&e, "guard", GUARD_PW, "10.2.1.1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // …and after 15 minutes the right password works again.
    e.clock.fetch_add(61_000, Ordering::SeqCst);
    let r = login_as(&e, "admin", ADMIN_PW, "10.2.1.1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn five_failures_from_one_address_lock_the_address() {
    let e = env();
    for i in 0..5 {
        let r = login_as(&e, &format!("guess{i}"), "whatever-it-is", "10.3.0.9").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = login_as(&e, "admin", ADMIN_PW, "10.3.0.9").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = login_as(&e, "admin", ADMIN_PW, "10.3.0.10").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_guard_cannot_reach_camera_or_storage_configuration() {
    let e = env();
    let (guard, gcsrf) = session(&e, "guard", GUARD_PW).await;
    let (admin, acsrf) = session(&e, "admin", ADMIN_PW).await;
    for path in [
        "/cameras",
        "/cameras?edit=1",
        "/storage",
        "/api/cameras",
        "/api/cameras/1",
        "/api/storage",
    ] {
        let r = send(
            &e.app,
            req(Method::GET, path, Some(&guard), "10.1.1.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "guard GET {path}");
        assert!(!r.body.contains("rtsp://"), "{path} leaked configuration");
        let r = send(
            &e.app,
            req(Method::GET, path, Some(&admin), "10.1.1.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "admin GET {path}: {}", r.body);
    }
    let admin_page = send(
        &e.app,
        req(Method::GET, "/cameras", Some(&admin), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(admin_page.body.contains("table id=\"cameras\""));
    assert!(admin_page.body.contains("form id=\"camera\""));
    assert!(
        !admin_page.body.contains("camera-secret-1"),
        "the camera password is never shown"
    );
    let storage = send(
        &e.app,
        req(Method::GET, "/storage", Some(&admin), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        storage.body.contains("id=\"storage-chart\"")
            && storage.body.contains("table id=\"storage\"")
    );
    // Mutations, even with the guard's own valid CSRF token.
    for (path, body) in [
        ("/cameras", "name=x&main_url=rtsp%3A%2F%2F127.0.0.1%2Fx"),
        ("/cameras/1", "name=x&main_url=rtsp%3A%2F%2F127.0.0.1%2Fx"),
        ("/cameras/1/disable", ""),
        ("/cameras/1/test", ""),
    ] {
        let r = send(
            &e.app,
            req(Method::POST, path, Some(&guard), "10.1.1.1")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf={gcsrf}&{body}")))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "guard POST {path}");
    }
    let r = send(
        &e.app,
        req(
            Method::POST,
            "/api/cameras/1/test",
            Some(&guard),
            "10.1.1.1",
        )
        .header("X-CSRF-Token", &gcsrf)
        .body(Body::empty())
        .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The camera is unchanged; the administrator may disable it.
    let r = send(
        &e.app,
        req(Method::POST, "/cameras/1/disable", Some(&admin), "10.1.1.1")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={acsrf}")))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The guard does see health and may acknowledge alarms.
    let r = send(
        &e.app,
        req(Method::GET, "/health", Some(&guard), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("table id=\"health\"") && r.body.contains("data-camera=\"1\""));
    assert!(
        !r.body.contains("href=\"/cameras\""),
        "no link to pages the guard may not open"
    );
}

#[tokio::test]
async fn sessions_end_after_the_idle_timeout() {
    let e = env();
    let (cookie, _) = session(&e, "guard", GUARD_PW).await;
    let get = |c: &str| {
        req(Method::GET, "/health", Some(c), "10.1.1.1")
            .body(Body::empty())
            .unwrap()
    };
    // Active every 29 minutes: stays signed in.
    for _ in 0..3 {
        e.clock.fetch_add(29 * 60_000, Ordering::SeqCst);
        assert_eq!(send(&e.app, get(&cookie)).await.status, StatusCode::OK);
    }
    // Idle for 30 minutes: signed out, and the cookie is cleared.
    e.clock.fetch_add(30 * 60_000, Ordering::SeqCst);
    let r = send(&e.app, get(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login");
    assert!(r
        .cookies()
        .iter()
        .any(|c| c.starts_with("vigil_session=;") && c.contains("Max-Age=0")));
    let r = send(
        &e.app,
        req(Method::GET, "/api/health", Some(&cookie), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn alarms_stay_until_acknowledged() {
    let e = env();
    let (cookie, csrf) = session(&e, "guard", GUARD_PW).await;
    let r = send(
        &e.app,
        req(Method::POST, "/api/alarms/ack", Some(&cookie), "10.1.1.1")
            .header("X-CSRF-Token", &csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"key":"offline:1:main:1750000000"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(e
        .govern
        .alarm_ack("offline:1:main:1750000000")
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn signed_in_pages_are_not_cached_and_carry_the_csp() {
    let e = env();
    let (admin, _) = session(&e, "admin", ADMIN_PW).await;
    for path in [
        "/cameras",
        "/storage",
        "/health",
        "/requests",
        "/admin/users",
    ] {
        let r = send(
            &e.app,
            req(Method::GET, path, Some(&admin), "10.1.1.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
        assert_eq!(
            r.headers[header::CACHE_CONTROL],
            "no-store",
            "GET {path} may be cached"
        );
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "GET {path}: {csp}"
        );
    }
}
