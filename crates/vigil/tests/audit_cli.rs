//! `vigil audit verify|export` and `vigil verify` as a user runs them: exit status 0 on an
//! intact trail or package, 1 with the tampered rows or files named otherwise.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use media::time::TICKS_PER_SEC;

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env_remove("VIGIL_CONFIG")
        .env_remove("VIGIL_DATA_DIR")
        .output()
        .expect("run vigil")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A data directory with footage, an audit trail and one evidence package.
fn data() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store::Store::open(dir.path(), options(4)).unwrap();
    let s = add_stream(&store, "gate");
    let mut w = store.writer(s).unwrap();
    record(&mut w, 0, 150, T0);
    w.close().unwrap();
    let key = audit::RecorderKey::load_or_create(dir.path()).unwrap();
    let au = audit::Audit::open(&dir.path().join(store::DB_FILE), key.clone()).unwrap();
    for i in 0..10 {
        au.record(
            audit::Event::new("live.view", format!("camera:{i}"))
                .by("bao_ve")
                .from("10.0.0.7"),
        )
        .unwrap();
    }
    let spec = evidence::ExportSpec {
        request_id: 3,
        purpose: "Phòng ngừa tội phạm".into(),
        reason: "Mất xe đạp".into(),
        requester: "bao_ve".into(),
        approver: "hieu_truong".into(),
        operator: "cntt".into(),
        cameras: vec![(1, "gate".into(), s)],
        start: T0,
        end: T0 + 8 * TICKS_PER_SEC,
    };
    let pkg = evidence::export(&store, &au, &key, &spec, &dir.path().join("exports")).unwrap();
    au.close().unwrap();
    (dir, pkg.dir)
}

fn tamper(db: &Path, sql: &str) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_event_no_update; DROP TRIGGER IF EXISTS audit_event_no_delete;",
    )
    .unwrap();
    c.execute_batch(sql).unwrap();
}

#[test]
fn audit_verify_names_tampered_rows_and_export_writes_csv() {
    let (dir, _) = data();
    let d = dir.path().to_str().unwrap();
    let ok = vigil(&["audit", "verify", "-d", d]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("audit trail OK: 11 events"),
        "{}",
        text(&ok)
    );

    let csv = vigil(&["audit", "export", "--csv", "-d", d, "--action", "live.view"]);
    assert!(csv.status.success(), "{}", text(&csv));
    let out = String::from_utf8_lossy(&csv.stdout);
    assert!(out.starts_with("seq,time_utc,actor,action"));
    assert_eq!(out.lines().count(), 11);

    let db = dir.path().join(store::DB_FILE);
    tamper(
        &db,
        "UPDATE audit_event SET actor = 'someone' WHERE seq = 4",
    );
    let bad = vigil(&["audit", "verify", "-d", d]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("EDITED row 4"), "{}", text(&bad));

    tamper(&db, "DELETE FROM audit_event WHERE seq = 7");
    let bad = vigil(&["audit", "verify", "-d", d]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("REMOVED row 7"), "{}", text(&bad));

    tamper(
        &db,
        "INSERT INTO audit_event (seq, time, actor, action, target, detail, client, prev_hash, hash) \
         VALUES (12, 0, 'x', 'login.ok', 'user:x', '{}', NULL, zeroblob(32), zeroblob(32))",
    );
    let bad = vigil(&["audit", "verify", "-d", d]);
    assert!(text(&bad).contains("row 12"), "{}", text(&bad));
}

#[test]
fn verify_says_authentic_or_what_is_wrong() {
    let (dir, pkg) = data();
    let p = pkg.to_str().unwrap();
    let ok = vigil(&["verify", p]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).trim_end().ends_with("AUTHENTIC"), "{}", text(&ok));
    let key = audit::RecorderKey::public_path(dir.path());
    let ok = vigil(&["verify", p, "--public-key", key.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", text(&ok));

    let mp4 = std::fs::read_dir(&pkg)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "mp4"))
        .unwrap();
    let mut b = std::fs::read(&mp4).unwrap();
    let i = b.len() / 2;
    b[i] ^= 0x80;
    std::fs::write(&mp4, b).unwrap();
    let bad = vigil(&["verify", p]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("NOT AUTHENTIC"), "{}", text(&bad));
    assert!(
        text(&bad).contains(mp4.file_name().unwrap().to_str().unwrap()),
        "{}",
        text(&bad)
    );
}
