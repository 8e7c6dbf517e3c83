//! `vigil audit verify|export` and `vigil verify` as a user runs them: exit status 0 on an
//! intact trail or package, 1 with the tampered rows or files named otherwise; `vigil
//! camera …` and `vigil user …` recorded in the trail while another process appends to it;
//! `vigil verify-storage` catching a rewritten index tail against the sealed chain heads.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use media::time::TICKS_PER_SEC;

fn vigil(args: &[&str]) -> Output {
    vigil_env(args, &[])
}

fn vigil_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env_remove("VIGIL_CONFIG")
        .env_remove("VIGIL_DATA_DIR")
        .env_remove("VIGIL_CAMERA_PASSWORD")
        .env_remove("VIGIL_USER_PASSWORD")
        .envs(env.iter().copied())
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

#[test]
fn cli_camera_and_user_changes_are_audited_beside_another_writer() {
    let (dir, _) = data();
    let d = dir.path().to_str().unwrap();
    let db = dir.path().join(store::DB_FILE);
    // Another process's handle on the trail (as a running recorder's), appending all along.
    let key = audit::RecorderKey::load_or_create(dir.path()).unwrap();
    let recorder = audit::Audit::open(&db, key).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            recorder
                .record(audit::Event::new("live.view", "camera:1").by("other_process"))
                .unwrap();
            n += 1;
            if n.is_multiple_of(4) {
                recorder.flush().unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        recorder.close().unwrap();
        n
    });
    let pw = ("VIGIL_USER_PASSWORD", "Mật-khẩu-thử-2024");
    let pw2 = ("VIGIL_USER_PASSWORD", "Một-mật-khẩu-khác-77");
    let main = "rtsp://cam:secret1@127.0.0.1:8554/hall?password=secret2";
    type Step<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let steps: Vec<Step> = vec![
        (
            vec!["camera", "add", "-d", d, "hall", "--main", main],
            vec![("VIGIL_CAMERA_PASSWORD", "secret3")],
        ),
        (
            vec![
                "camera",
                "edit",
                "-d",
                d,
                "hall",
                "--enabled",
                "false",
                "--password",
                "secret4",
            ],
            vec![],
        ),
        (
            vec!["user", "add", "-d", d, "anna", "--role", "guard"],
            vec![pw],
        ),
        (vec!["user", "passwd", "-d", d, "anna"], vec![pw2]),
        (vec!["user", "disable", "-d", d, "anna"], vec![]),
        (vec!["user", "enable", "-d", d, "anna"], vec![]),
        (vec!["camera", "remove", "-d", d, "hall"], vec![]),
    ];
    for (args, env) in &steps {
        let o = vigil_env(args, env);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
    }
    stop.store(true, Ordering::Relaxed);
    let n = writer.join().unwrap();
    assert!(n > 0);

    // One chain: the data's 11 events, the other writer's and the 7 changes, all verified.
    let ok = vigil(&["audit", "verify", "-d", d]);
    assert!(ok.status.success(), "{}", text(&ok));
    let want = format!("audit trail OK: {} events", 11 + n + 7);
    assert!(text(&ok).contains(&want), "{want}: {}", text(&ok));

    let csv = vigil(&["audit", "export", "--csv", "-d", d]);
    assert!(csv.status.success(), "{}", text(&csv));
    let out = String::from_utf8_lossy(&csv.stdout).into_owned();
    for secret in [
        "secret1",
        "secret2",
        "secret3",
        "secret4",
        "Mật-khẩu",
        "mật-khẩu",
    ] {
        assert!(!out.contains(secret), "{secret} in the trail:\n{out}");
    }
    let cli: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.split(',').nth(2).is_some_and(|a| a.starts_with("cli:")))
        .map(|l| l.split(',').collect())
        .collect();
    let actions: Vec<(&str, &str)> = cli.iter().map(|f| (f[3], f[4])).collect();
    let cam = actions[0].1;
    assert!(cam.starts_with("camera:"), "{actions:?}");
    assert_eq!(
        actions,
        vec![
            ("config.camera", cam),
            ("config.camera", cam),
            ("user.create", "user:anna"),
            ("user.change", "user:anna"),
            ("user.change", "user:anna"),
            ("user.change", "user:anna"),
            ("config.camera", cam),
        ]
    );
    let add = out
        .lines()
        .find(|l| l.contains("config.camera") && l.contains("add"))
        .unwrap();
    assert!(
        add.contains("rtsp://127.0.0.1:8554/hall") && add.contains("hall"),
        "{add}"
    );
    assert!(out
        .lines()
        .any(|l| l.contains("config.camera") && l.contains("camera_password_changed")));
    // The two processes' events interleave in the one chain.
    let seq_of = |l: &str| l.split(',').next().unwrap().parse::<u64>().unwrap();
    let cli_seqs: Vec<u64> = out
        .lines()
        .filter(|l| l.split(',').nth(2).is_some_and(|a| a.starts_with("cli:")))
        .map(seq_of)
        .collect();
    let (first, last) = (cli_seqs[0], *cli_seqs.last().unwrap());
    assert!(
        out.lines()
            .filter(|l| l.contains("other_process"))
            .map(seq_of)
            .any(|s| first < s && s < last),
        "{out}"
    );
    // The family filter finds them as the audit page does.
    let users = vigil(&["audit", "export", "--csv", "-d", d, "--action", "user."]);
    assert_eq!(
        String::from_utf8_lossy(&users.stdout).lines().count(),
        1 + 4
    );
}

/// The newest segment row of the database: (id, stream, seq, start, end, bytes, sha, prev).
#[allow(clippy::type_complexity)]
fn newest_row(db: &Path) -> (i64, i64, i64, i64, i64, i64, Vec<u8>, Vec<u8>, String) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT id, stream_id, seq, start, \"end\", bytes, file_sha256, prev_chain, path \
         FROM segment WHERE state = 'closed' ORDER BY seq DESC LIMIT 1",
        [],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        },
    )
    .unwrap()
}

#[test]
fn verify_storage_compares_chains_with_the_newest_storage_seal() {
    let (dir, _) = data();
    let d = dir.path().to_str().unwrap();
    let db = dir.path().join(store::DB_FILE);
    {
        // The footage is from 2024: keep it past retention; and connect to no camera.
        let s = store::Store::open_client(dir.path()).unwrap();
        for st in s.streams().unwrap() {
            s.set_stream_retention(st.id, 0, 20, 36_500).unwrap();
        }
        for c in s.cameras().unwrap() {
            s.set_enabled(c.id, false).unwrap();
        }
    }
    // A recorder run: its first retention run seals the chain heads into the trail.
    let cfg = dir.path().join("vigil.toml");
    std::fs::write(&cfg, format!("data_dir = {d:?}\nweb_listen = \"\"\n")).unwrap();
    let serve = vigil(&["serve", "-c", cfg.to_str().unwrap(), "--seconds", "2"]);
    assert!(serve.status.success(), "{}", text(&serve));
    let seals = vigil(&[
        "audit",
        "export",
        "--csv",
        "-d",
        d,
        "--action",
        "storage.seal",
    ]);
    let seals = String::from_utf8_lossy(&seals.stdout).into_owned();
    let (_, stream, seq, start, end, bytes, sha, prev, path) = newest_row(&db);
    assert!(seq >= 2, "a few segments recorded");
    assert!(
        seals.contains(&format!("\"\"seq\"\":{seq}")) && seals.contains("\"\"chain\"\":"),
        "{seals}"
    );
    let ok = vigil(&["verify-storage", "-d", d]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("compared with 1 storage seal(s)"),
        "{}",
        text(&ok)
    );

    // Rewrite the newest row consistently (a shorter end, its chain value recomputed): the
    // index alone still verifies, the sealed chain value does not.
    let sha: [u8; 32] = sha.try_into().unwrap();
    let prev: [u8; 32] = prev.try_into().unwrap();
    let forged =
        store::db::chain_value(&prev, stream, seq, start, end - 90_000, bytes as u64, &sha);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "UPDATE segment SET \"end\" = ?1, chain = ?2 WHERE stream_id = ?3 AND seq = ?4",
        rusqlite::params![end - 90_000, &forged[..], stream, seq],
    )
    .unwrap();
    let alone = store::Store::open_client(dir.path())
        .unwrap()
        .verify_storage()
        .unwrap();
    assert!(alone.is_ok(), "{alone}");
    let bad = vigil(&["verify-storage", "-d", d]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains(&format!("ChainBroken stream {stream} segment {seq}"))
            && text(&bad).contains("differs from the one sealed"),
        "{}",
        text(&bad)
    );
    // The recorder runs again and seals the rewritten head: the earlier seal still names it.
    let serve = vigil(&["serve", "-c", cfg.to_str().unwrap(), "--seconds", "2"]);
    assert!(serve.status.success(), "{}", text(&serve));
    let bad = vigil(&["verify-storage", "-d", d]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains("compared with 2 storage seal(s)")
            && text(&bad).contains("differs from the one sealed"),
        "{}",
        text(&bad)
    );

    // Remove the newest row and its file and wind `next_seq` back: again invisible to the
    // index alone, named by the seal.
    c.execute(
        "DELETE FROM segment WHERE stream_id = ?1 AND seq = ?2",
        rusqlite::params![stream, seq],
    )
    .unwrap();
    c.execute(
        "UPDATE stream SET next_seq = ?1 WHERE id = ?2",
        rusqlite::params![seq, stream],
    )
    .unwrap();
    std::fs::remove_file(dir.path().join(&path)).unwrap();
    let alone = store::Store::open_client(dir.path())
        .unwrap()
        .verify_storage()
        .unwrap();
    assert!(alone.is_ok(), "{alone}");
    let bad = vigil(&["verify-storage", "-d", d]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains("gone without a retention record"),
        "{}",
        text(&bad)
    );
}
