//! The audit trail against someone with write access to the database: every edit,
//! removal or insertion of a row, and every rewrite that only the seal can reveal, is
//! reported with the row named.

use std::path::{Path, PathBuf};

use audit::{Audit, Event, Filter, ProblemKind, RecorderKey};
use rusqlite::{params, Connection};
use serde_json::json;

type RowTuple = (
    i64,
    i64,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
);

fn key() -> RecorderKey {
    RecorderKey::from_secret([7; 32])
}

/// A trail of `n` events, closed (so committed and sealed).
fn trail(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    let a = Audit::open(&db, key()).unwrap();
    for i in 1..=n {
        let seq = a
            .record(
                Event::new("live.view", format!("camera:{}", i % 3 + 1))
                    .by(if i % 2 == 0 { "anna" } else { "binh" })
                    .from("10.0.0.5")
                    .detail(json!({"stream": "sub", "i": i})),
            )
            .unwrap();
        assert_eq!(seq, i);
    }
    a.close().unwrap();
    (dir, db)
}

/// A connection of an attacker who first removes the append-only triggers.
fn attacker(db: &Path) -> Connection {
    let c = Connection::open(db).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete; \
         DROP TRIGGER audit_seal_no_update; DROP TRIGGER audit_seal_no_delete;",
    )
    .unwrap();
    c
}

fn verify(db: &Path) -> audit::Report {
    audit::verify(db, &key().public_pem()).unwrap()
}

#[test]
fn an_untouched_trail_verifies_and_is_sealed() {
    let (_d, db) = trail(20);
    let r = verify(&db);
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.events, 20);
    assert_eq!(r.sealed_seq, Some(20));
    assert!(r.warnings.is_empty(), "{r}");
}

#[test]
fn triggers_refuse_plain_updates_and_deletes() {
    let (_d, db) = trail(3);
    let c = Connection::open(&db).unwrap();
    assert!(c
        .execute("UPDATE audit_event SET actor = 'x' WHERE seq = 2", [])
        .is_err());
    assert!(c
        .execute("DELETE FROM audit_event WHERE seq = 2", [])
        .is_err());
    assert!(c.execute("DELETE FROM audit_seal", []).is_err());
}

#[test]
fn an_edited_row_is_named() {
    let (_d, db) = trail(20);
    attacker(&db)
        .execute("UPDATE audit_event SET actor = 'chi' WHERE seq = 7", [])
        .unwrap();
    let r = verify(&db);
    assert!(!r.is_ok());
    assert_eq!(r.problems.len(), 1, "{r}");
    assert_eq!(r.problems[0].seq, Some(7));
    assert_eq!(r.problems[0].kind, ProblemKind::Edited);
}

#[test]
fn an_edit_with_its_hash_recomputed_is_named() {
    let (_d, db) = trail(20);
    let c = attacker(&db);
    let (time, prev): (i64, Vec<u8>) = c
        .query_row(
            "SELECT time, prev_hash FROM audit_event WHERE seq = 7",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let detail: String = c
        .query_row("SELECT detail FROM audit_event WHERE seq = 7", [], |r| {
            r.get(0)
        })
        .unwrap();
    let client: Option<String> = c
        .query_row("SELECT client FROM audit_event WHERE seq = 7", [], |r| {
            r.get(0)
        })
        .unwrap();
    let action: String = c
        .query_row("SELECT action FROM audit_event WHERE seq = 7", [], |r| {
            r.get(0)
        })
        .unwrap();
    let target: String = c
        .query_row("SELECT target FROM audit_event WHERE seq = 7", [], |r| {
            r.get(0)
        })
        .unwrap();
    let prev: [u8; 32] = prev.try_into().unwrap();
    let bytes = audit::chain::row_bytes(
        7,
        time,
        Some("chi"),
        &action,
        &target,
        &detail,
        client.as_deref(),
    );
    let hash = audit::chain::row_hash(&prev, &bytes);
    c.execute(
        "UPDATE audit_event SET actor = 'chi', hash = ?1 WHERE seq = 7",
        params![&hash[..]],
    )
    .unwrap();
    let r = verify(&db);
    assert_eq!(r.problems.len(), 1, "{r}");
    assert_eq!(r.problems[0].seq, Some(7), "{r}");
    assert_eq!(r.problems[0].kind, ProblemKind::Edited);
}

#[test]
fn a_removed_row_is_named() {
    let (_d, db) = trail(20);
    attacker(&db)
        .execute("DELETE FROM audit_event WHERE seq = 12", [])
        .unwrap();
    let r = verify(&db);
    assert_eq!(r.problems.len(), 1, "{r}");
    assert_eq!(r.problems[0].seq, Some(12));
    assert_eq!(r.problems[0].kind, ProblemKind::Removed);
}

#[test]
fn removed_newest_rows_are_named_by_the_seal() {
    let (_d, db) = trail(20);
    attacker(&db)
        .execute("DELETE FROM audit_event WHERE seq >= 19", [])
        .unwrap();
    let r = verify(&db);
    assert!(!r.is_ok());
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == ProblemKind::Removed && p.detail.contains("19–20")),
        "{r}"
    );
}

#[test]
fn an_inserted_row_is_named() {
    let (_d, db) = trail(20);
    let c = attacker(&db);
    let last: Vec<u8> = c
        .query_row("SELECT hash FROM audit_event WHERE seq = 20", [], |r| {
            r.get(0)
        })
        .unwrap();
    c.execute(
        "INSERT INTO audit_event (seq, time, actor, action, target, detail, client, prev_hash, hash) \
         VALUES (21, 0, 'anna', 'login.ok', 'user:anna', '{}', NULL, ?1, ?2)",
        params![last, vec![9u8; 32]],
    )
    .unwrap();
    c.execute(
        "INSERT INTO audit_event (seq, time, actor, action, target, detail, client, prev_hash, hash) \
         VALUES (0, 0, 'anna', 'login.ok', 'user:anna', '{}', NULL, ?1, ?1)",
        params![vec![0u8; 32]],
    )
    .unwrap();
    let r = verify(&db);
    assert_eq!(r.problems.len(), 2, "{r}");
    assert!(r
        .problems
        .iter()
        .any(|p| p.seq == Some(0) && p.kind == ProblemKind::Inserted));
    assert!(r.problems.iter().any(|p| p.seq == Some(21)));
}

/// An attacker who edits a row and recomputes the rest of the chain (no key needed for
/// SHA-256) is caught by the seal, which names the range.
#[test]
fn a_rewritten_chain_is_caught_by_the_seal() {
    let (_d, db) = trail(20);
    let c = attacker(&db);
    let rows: Vec<RowTuple> = c
        .prepare(
            "SELECT seq, time, actor, action, target, detail, client FROM audit_event ORDER BY seq",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev = [0u8; 32];
    for (seq, time, actor, action, target, detail, client) in rows {
        let actor = if seq == 5 {
            Some("chi".to_string())
        } else {
            actor
        };
        let bytes = audit::chain::row_bytes(
            seq as u64,
            time,
            actor.as_deref(),
            &action,
            &target,
            &detail,
            client.as_deref(),
        );
        let hash = audit::chain::row_hash(&prev, &bytes);
        c.execute(
            "UPDATE audit_event SET actor = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            params![actor, &prev[..], &hash[..], seq],
        )
        .unwrap();
        prev = hash;
    }
    let r = verify(&db);
    assert!(!r.is_ok());
    assert!(
        r.problems
            .iter()
            .any(|p| p.seq == Some(20) && p.detail.contains("1–20")),
        "{r}"
    );
}

#[test]
fn a_forged_or_removed_seal_is_reported() {
    let (_d, db) = trail(5);
    {
        let a = Audit::open(&db, key()).unwrap();
        a.record(Event::new("login.ok", "user:anna").by("anna"))
            .unwrap();
        a.close().unwrap();
    }
    let c = attacker(&db);
    c.execute("UPDATE audit_seal SET time = time + 1 WHERE id = 2", [])
        .unwrap();
    let r = verify(&db);
    assert!(
        r.problems.iter().any(|p| p.kind == ProblemKind::Seal),
        "{r}"
    );
    c.execute("DELETE FROM audit_seal WHERE id = 1", [])
        .unwrap();
    let r = verify(&db);
    assert!(
        r.problems.iter().any(|p| p.detail.contains("seals 1–1")),
        "{r}"
    );
    // A seal made with another key does not verify either.
    let other = audit::verify(&db, &RecorderKey::from_secret([8; 32]).public_pem()).unwrap();
    assert!(!other.is_ok());
}

#[test]
fn events_survive_close_and_reopen_continues_the_chain() {
    let (_d, db) = trail(3);
    let a = Audit::open(&db, key()).unwrap();
    assert_eq!(a.head().0, 3);
    assert_eq!(a.record(Event::new("logout", "user:anna")).unwrap(), 4);
    drop(a); // the last handle dropped: committed and sealed
    let r = verify(&db);
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.events, 4);
    assert_eq!(r.sealed_seq, Some(4));
}

#[test]
fn two_writers_on_one_database_keep_one_chain() {
    let (_d, db) = trail(2);
    let a = Audit::open(&db, key()).unwrap();
    let b = Audit::open(&db, key()).unwrap();
    for i in 0..50 {
        a.record(Event::new("live.view", format!("camera:{i}")))
            .unwrap();
        b.record(Event::new("playback.view", format!("camera:{i}")))
            .unwrap();
        if i % 10 == 0 {
            a.flush().unwrap();
        }
    }
    a.close().unwrap();
    b.close().unwrap();
    let r = verify(&db);
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.events, 102);
}

#[test]
fn filters_and_csv() {
    let (_d, db) = trail(12);
    let a = Audit::open(&db, key()).unwrap();
    a.record(Event::new("login.fail", "user:x").from("10.1.1.1"))
        .unwrap();
    a.record(Event::new("login.ok", "user:anna").by("anna"))
        .unwrap();
    let all = a.query(&Filter::default()).unwrap();
    assert_eq!(all.len(), 14);
    assert_eq!(all[0].seq, 14, "newest first");
    let anna = a
        .query(&Filter {
            actor: Some("ANNA".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(anna.len(), 7);
    let logins = a
        .query(&Filter {
            action: Some("login.".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(logins.len(), 2);
    let cam1 = a
        .query(&Filter {
            target: Some("camera:1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(cam1.len(), 4);
    let none = a
        .query(&Filter {
            to_ms: Some(0),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
    let mut csv = Vec::new();
    assert_eq!(a.write_csv(&logins_filter(), &mut csv).unwrap(), 2);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("seq,time_utc,actor,action"));
    assert!(lines[1].starts_with("13,"), "oldest first: {csv}");
    a.close().unwrap();
    assert_eq!(audit::query_db(&db, &Filter::default()).unwrap().len(), 14);
}

fn logins_filter() -> Filter {
    Filter {
        action: Some("login.".into()),
        ..Default::default()
    }
}

#[test]
fn record_after_close_fails() {
    let (_d, db) = trail(1);
    let a = Audit::open(&db, key()).unwrap();
    a.close().unwrap();
    assert!(matches!(
        a.record(Event::new("logout", "user:a")),
        Err(audit::AuditError::Closed)
    ));
}
