//! Evidence packages from a store with real H.264 segments: AUTHENTIC as written; one
//! flipped byte of an MP4, of the manifest or of the signature is reported by
//! `evidence::verify` and makes `sha256sum -c` and the `openssl pkeyutl` check of the
//! README fail too. (Fails when sha256sum, openssl or ffmpeg is missing.)

#[path = "../../store/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use media::time::TICKS_PER_SEC;
use sha2::Digest;
use store::{EndReason, Store};

const S: i64 = TICKS_PER_SEC;

struct Env {
    _dir: tempfile::TempDir,
    pkg: evidence::Package,
    key: audit::RecorderKey,
    db: std::path::PathBuf,
}

fn make() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let a = add_stream(&store, "gate");
    let b = add_stream(&store, "hall");
    let mut w = store.writer(a).unwrap();
    record(&mut w, 0, 150, T0); // 0..10 s
    w.end_segment(EndReason::Disconnect).unwrap();
    record(&mut w, 0, 105, T0 + 13 * S); // 13..20 s: a hole of 3 s
    w.close().unwrap();
    let mut w = store.writer(b).unwrap();
    record(&mut w, 0, 300, T0);
    w.close().unwrap();
    let key = audit::RecorderKey::load_or_create(dir.path()).unwrap();
    let db = dir.path().join(store::DB_FILE);
    let au = audit::Audit::open(&db, key.clone()).unwrap();
    au.record(audit::Event::new("request.approve", "request:7").by("hieu_truong"))
        .unwrap();
    let cams = store.cameras().unwrap();
    let spec = evidence::ExportSpec {
        request_id: 7,
        purpose: "Xử lý vi phạm".into(),
        reason: "Va chạm ở cổng".into(),
        requester: "bao_ve".into(),
        approver: "hieu_truong".into(),
        operator: "cntt".into(),
        cameras: vec![
            (cams[0].id, cams[0].name.clone(), a),
            (cams[1].id, cams[1].name.clone(), b),
        ],
        start: T0 + S,
        end: T0 + 18 * S,
    };
    let out = dir.path().join("exports");
    let pkg = evidence::export(&store, &au, &key, &spec, &out).unwrap();
    au.close().unwrap();
    Env {
        _dir: dir,
        pkg,
        key,
        db,
    }
}

fn sha256sum_ok(dir: &Path) -> bool {
    Command::new("sha256sum")
        .args(["--quiet", "-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("sha256sum must be installed")
        .status
        .success()
}

/// The exact command of the README, run in the package directory.
fn openssl_ok(dir: &Path) -> bool {
    let args: Vec<&str> = evidence::OPENSSL_COMMAND.split_whitespace().collect();
    assert_eq!(args[0], "openssl");
    let readme = std::fs::read_to_string(dir.join(evidence::README_FILE)).unwrap();
    assert!(readme.contains(evidence::OPENSSL_COMMAND));
    assert!(readme.contains(evidence::SHA256SUMS_COMMAND));
    Command::new("openssl")
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .expect("openssl must be installed")
        .status
        .success()
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let i = at.min(b.len() - 1);
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_package_is_authentic_and_each_alteration_is_named() {
    let env = make();
    let dir = &env.pkg.dir;
    // Contents.
    assert_eq!(env.pkg.cameras.len(), 2);
    let gate = &env.pkg.cameras[0];
    assert_eq!(gate.holes.len(), 1, "the 3 s hole is listed");
    assert!(gate.segments.len() >= 3);
    for c in &env.pkg.cameras {
        assert_decodes(&dir.join(&c.file));
    }
    let (dur, frames) = probe(&dir.join(&gate.file));
    assert!((dur - 18.0).abs() < 0.07, "duration {dur}");
    assert_eq!(frames, 225);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["request"]["approver"], "hieu_truong");
    assert_eq!(manifest["request"]["purpose"], "Xử lý vi phạm");
    assert_eq!(manifest["operator"], "cntt");
    assert_eq!(manifest["audit_head"]["seq"], 1);
    assert_eq!(
        manifest["cameras"][0]["segments"][0]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let custody = std::fs::read_to_string(dir.join("custody.log")).unwrap();
    assert!(custody.contains("created by cntt for request 7"));
    // The export is in the audit trail, with the manifest's hash.
    let events = audit::query_db(
        &env.db,
        &audit::Filter {
            action: Some("export.create".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].detail.contains(&env.pkg.manifest_sha256));
    assert!(audit::verify(&env.db, &env.key.public_pem())
        .unwrap()
        .is_ok());

    // Authentic, by all three checks; downloads appended to custody keep it authentic.
    evidence::append_custody(dir, "downloaded by cntt from 10.0.0.5").unwrap();
    let r = evidence::verify(dir);
    assert!(r.is_authentic(), "{r}");
    assert!(evidence::verify_with_key(dir, &env.key.public_pem()).is_authentic());
    assert!(sha256sum_ok(dir));
    assert!(openssl_ok(dir));
    // Another recorder's key is refused.
    let other = audit::RecorderKey::from_secret([3; 32]);
    assert!(!evidence::verify_with_key(dir, &other.public_pem()).is_authentic());

    let root = dir.parent().unwrap().to_owned();
    // One byte of the MP4.
    let d = root.join("mp4");
    copy_dir(dir, &d);
    flip(&d.join(&gate.file), 5000);
    let r = evidence::verify(&d);
    assert!(!r.is_authentic());
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains(&gate.file) && p.contains("altered")),
        "{r}"
    );
    assert!(!sha256sum_ok(&d));
    // One byte of the manifest.
    let d = root.join("manifest");
    copy_dir(dir, &d);
    flip(&d.join("manifest.json"), 200);
    let r = evidence::verify(&d);
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("manifest.sig does not verify")),
        "{r}"
    );
    assert!(!sha256sum_ok(&d));
    assert!(!openssl_ok(&d));
    // One byte of the signature.
    let d = root.join("sig");
    copy_dir(dir, &d);
    flip(&d.join("manifest.sig"), 10);
    let r = evidence::verify(&d);
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("manifest.sig does not verify")),
        "{r}"
    );
    assert!(!sha256sum_ok(&d));
    assert!(!openssl_ok(&d));
    // A file added.
    let d = root.join("added");
    copy_dir(dir, &d);
    std::fs::write(d.join("extra.mp4"), b"x").unwrap();
    let r = evidence::verify(&d);
    assert!(r.problems.iter().any(|p| p.contains("extra.mp4")), "{r}");
    // A file removed.
    let d = root.join("removed");
    copy_dir(dir, &d);
    std::fs::remove_file(d.join(&env.pkg.cameras[1].file)).unwrap();
    let r = evidence::verify(&d);
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains(&env.pkg.cameras[1].file)),
        "{r}"
    );
}

#[test]
fn an_empty_range_or_no_footage_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let a = add_stream(&store, "gate");
    let key = audit::RecorderKey::from_secret([1; 32]);
    let au = audit::Audit::open(&dir.path().join(store::DB_FILE), key.clone()).unwrap();
    let mut spec = evidence::ExportSpec {
        request_id: 1,
        purpose: "x".into(),
        reason: "y".into(),
        requester: "a".into(),
        approver: "b".into(),
        operator: "c".into(),
        cameras: vec![(1, "gate".into(), a)],
        start: T0,
        end: T0 + 10 * S,
    };
    let out = dir.path().join("exports");
    assert!(matches!(
        evidence::export(&store, &au, &key, &spec, &out),
        Err(evidence::EvidenceError::NoFootage { .. })
    ));
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "no partial package left"
    );
    spec.end = spec.start;
    assert!(matches!(
        evidence::export(&store, &au, &key, &spec, &out),
        Err(evidence::EvidenceError::BadRange { .. })
    ));

    // Footage still being written: a range reaching into the open segment is refused
    // (it has no file hash yet), one before it is exported.
    let mut w = store.writer(a).unwrap();
    record(&mut w, 0, 150, T0); // 10 s in 4 s segments: the last one stays open
    let open = store.writing_since(a).unwrap().expect("an open segment");
    spec.end = T0 + 10 * S;
    match evidence::export(&store, &au, &key, &spec, &out) {
        Err(evidence::EvidenceError::StillRecording { since, .. }) => assert_eq!(since, open),
        other => panic!("expected StillRecording, got {other:?}"),
    }
    spec.end = open;
    evidence::export(&store, &au, &key, &spec, &out).expect("the closed part exports");
    w.close().unwrap();
}

/// The exported MP4 is byte for byte what `Store::write_mp4` writes for the same range
/// (the reference remux), across many of the export's 512 KiB pieces and 4 MiB writes,
/// its SHA-256 is the manifest's, and it decodes.
#[test]
fn a_large_export_is_the_reference_mp4_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(10)).unwrap();
    let a = add_stream(&store, "gate");
    let mut w = store.writer(a).unwrap();
    // 40 s of frames padded with a filler NAL unit to ~20 KiB: ~12 MB in 4 segments.
    for n in 0..600 {
        let mut f = frame(n, T0);
        let pad = 20 * 1024 - f.data.len() - 4;
        let mut d = f.data.to_vec();
        d.extend_from_slice(&(pad as u32).to_be_bytes());
        d.push(12);
        d.resize(d.len() + pad - 1, 0xff);
        f.data = bytes::Bytes::from(d);
        w.push(&f).unwrap();
    }
    w.close().unwrap();
    let key = audit::RecorderKey::from_secret([5; 32]);
    let au = audit::Audit::open(&dir.path().join(store::DB_FILE), key.clone()).unwrap();
    let (start, end) = (T0 + 3 * S, T0 + 37 * S);
    let spec = evidence::ExportSpec {
        request_id: 2,
        purpose: "x".into(),
        reason: "y".into(),
        requester: "a".into(),
        approver: "b".into(),
        operator: "c".into(),
        cameras: vec![(1, "gate".into(), a)],
        start,
        end,
    };
    let pkg = evidence::export(&store, &au, &key, &spec, &dir.path().join("exports")).unwrap();
    au.close().unwrap();
    let e = store.progressive(a, start, end).unwrap();
    let mut want = Vec::new();
    Store::write_mp4(&e.mp4, &e.sources, &mut want).unwrap();
    assert!(want.len() > 10 << 20, "{} bytes", want.len());
    let cam = &pkg.cameras[0];
    let got = std::fs::read(pkg.dir.join(&cam.file)).unwrap();
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "the exported MP4 differs from Store::write_mp4's"
    );
    assert_eq!(cam.bytes, want.len() as u64);
    assert_eq!(cam.sha256, hex::encode(sha2::Sha256::digest(&want)));
    assert_decodes(&pkg.dir.join(&cam.file));
    assert!(evidence::verify(&pkg.dir).is_authentic());
    assert!(sha256sum_ok(&pkg.dir));
}
