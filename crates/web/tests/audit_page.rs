//! The audit trail through the web layer: logins (ok and failed, with the client address),
//! logouts and configuration changes are recorded by the handlers; `/audit`, `/api/audit`
//! and `/audit.csv` are for those with the audit-read right only (leadership here), filter, and are
//! themselves audited; the chain verifies afterwards.

mod common;

use common::{req, send, Resp};

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use axum::Router;

const ADMIN_PW: &str = "Quản-trị-viên-2024";
const GUARD_PW: &str = "Bảo-vệ-cổng-chính";
const BOSS_PW: &str = "Hiệu-trưởng-2024-xyz";

struct Env {
    dir: tempfile::TempDir,
    app: Router,
    audit: audit::Audit,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store::Store::open(dir.path(), store::StoreOptions::default()).unwrap();
    store
        .add_camera(store::NewCamera {
            name: "cổng".into(),
            main_url: "rtsp://127.0.0.1:9/main".into(),
            ..Default::default()
        })
        .unwrap();
    let db = dir.path().join(store::DB_FILE);
    let govern =
        govern::Govern::open_with(&db, govern::PasswordParams::insecure_for_tests()).unwrap();
    govern
        .create_user("admin", "IT", govern::Role::Administrator, ADMIN_PW, 0)
        .unwrap();
    govern
        .create_user("guard", "Bảo vệ", govern::Role::Guard, GUARD_PW, 0)
        .unwrap();
    govern
        .create_user("boss", "Hiệu trưởng", govern::Role::Leadership, BOSS_PW, 0)
        .unwrap();
    let audit =
        audit::Audit::open(&db, audit::RecorderKey::load_or_create(dir.path()).unwrap()).unwrap();
    let state = web::AppState::new(
        store,
        govern,
        audit.clone(),
        web::LiveRegistry::default(),
        web::Settings::new(dir.path().to_path_buf()),
    );
    Env {
        dir,
        app: web::router(state),
        audit,
    }
}

async fn login(e: &Env, user: &str, pw: &str, addr: &str) -> Resp {
    let page = send(
        &e.app,
        req(Method::GET, "/login", None, addr)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let pre = page.cookie(web::auth::PRE_CSRF_COOKIE).unwrap();
    send(
        &e.app,
        req(
            Method::POST,
            "/login",
            Some(&format!("{}={pre}", web::auth::PRE_CSRF_COOKIE)),
            addr,
        )
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            serde_urlencoded::to_string([
                ("csrf", pre.as_str()),
                ("username", user),
                ("password", pw),
            ])
            .unwrap(),
        ))
        .unwrap(),
    )
    .await
}

/// (cookie header, CSRF token)
async fn session(e: &Env, user: &str, pw: &str, addr: &str) -> (String, String) {
    let r = login(e, user, pw, addr).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cookie = format!(
        "{}={}",
        web::auth::SESSION_COOKIE,
        r.cookie(web::auth::SESSION_COOKIE).unwrap()
    );
    let me = send(
        &e.app,
        req(Method::GET, "/api/me", Some(&cookie), addr)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    (cookie, v["csrf"].as_str().unwrap().to_string())
}

async fn get(e: &Env, path: &str, cookie: &str) -> Resp {
    send(
        &e.app,
        req(Method::GET, path, Some(cookie), "10.1.1.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn handlers_record_and_the_audit_page_shows_filters_and_exports() {
    let e = env();
    // A failed login from one address, a good one from another.
    let bad = login(&e, "admin", "wrong-password-123", "10.9.9.9").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let (admin, csrf) = session(&e, "admin", ADMIN_PW, "10.1.1.1").await;
    let (guard, guard_csrf) = session(&e, "guard", GUARD_PW, "10.2.2.2").await;

    // A configuration change by the administrator.
    let r = send(
        &e.app,
        req(Method::POST, "/cameras/1/disable", Some(&admin), "10.1.1.1")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}")))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // The guard may not read the trail, in any form.
    for p in ["/audit", "/api/audit", "/audit.csv"] {
        assert_eq!(
            get(&e, p, &guard).await.status,
            StatusCode::FORBIDDEN,
            "{p}"
        );
    }
    // The guard logs out.
    let r = send(
        &e.app,
        req(Method::POST, "/logout", Some(&guard), "10.2.2.2")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={guard_csrf}")))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // Leadership reads it (the audit-read right).
    let (boss, _) = session(&e, "boss", BOSS_PW, "10.3.3.3").await;
    let admin = boss;
    let page = get(&e, "/audit", &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("table id=\"audit\""), "{}", page.body);
    for action in ["login.fail", "login.ok", "config.camera", "logout"] {
        assert!(
            page.body.contains(&format!("data-action=\"{action}\"")),
            "{action} missing"
        );
    }
    assert!(
        page.body.contains("10.9.9.9"),
        "the failed login's address is shown"
    );

    let api = get(&e, "/api/audit?action=login.fail", &admin).await;
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["client"], "10.9.9.9");
    assert_eq!(events[0]["actor"], "admin");

    let api = get(&e, "/api/audit?camera=1", &admin).await;
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let events = v["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "config.camera");
    assert!(events[0]["detail"].as_str().unwrap().contains("disable"));

    let api = get(&e, "/api/audit?actor=guard", &admin).await;
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let actions: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["logout", "login.ok"], "newest first");

    let csv = get(&e, "/audit.csv?action=login.", &admin).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert!(lines[0].starts_with("seq,time_utc,actor,action"));
    assert_eq!(lines.len(), 1 + 4, "{}", csv.body);
    assert!(lines[1].contains("login.fail"), "oldest first");

    assert_eq!(
        get(&e, "/audit?from=not-a-day", &admin).await.status,
        StatusCode::BAD_REQUEST
    );

    // Reading the trail was audited, and the chain verifies.
    let reads = e
        .audit
        .query(&audit::Filter {
            action: Some("audit.read".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(reads.len() >= 5);
    e.audit.close().unwrap();
    let pem = std::fs::read_to_string(audit::RecorderKey::public_path(e.dir.path())).unwrap();
    let report = audit::verify(&e.dir.path().join(store::DB_FILE), &pem).unwrap();
    assert!(report.is_ok(), "{report}");
}
