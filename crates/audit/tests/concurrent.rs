//! Several writers on one database at the same time (the recorder and a CLI command are two
//! processes; here, two handles with their own connections and commit threads): every event
//! lands exactly once in one unbroken chain, and every seal — whoever made it — verifies.

use std::collections::HashSet;

use audit::{Audit, Event, Filter, RecorderKey};

fn key() -> RecorderKey {
    RecorderKey::from_secret([7; 32])
}

#[test]
fn two_handles_appending_concurrently_keep_one_verified_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigil.db");
    const PER_WRITER: usize = 400;
    let writers: Vec<_> = ["recorder", "cli"]
        .into_iter()
        .map(|who| {
            let db = db.clone();
            // Both open the new database at once too.
            std::thread::spawn(move || {
                let a = Audit::open(&db, key()).unwrap();
                for i in 0..PER_WRITER {
                    a.record(Event::new("live.view", format!("{who}:{i}")).by(who))
                        .unwrap();
                    // Commits and seals from both sides, at different rhythms, while the
                    // other side's background thread commits too.
                    match (who, i % 37, i % 10) {
                        ("recorder", 0, _) => drop(a.seal().unwrap()),
                        ("cli", _, 0) => drop(a.flush().unwrap()),
                        _ => {}
                    }
                    // Long enough that each side's commits fall between the other's.
                    std::thread::sleep(std::time::Duration::from_micros(250));
                }
                a.close().unwrap();
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let r = audit::verify(&db, &key().public_pem()).unwrap();
    assert!(r.is_ok(), "{r}");
    assert_eq!(r.events, 2 * PER_WRITER as u64);
    // Every event exactly once, in order per writer; both writers' events interleave.
    let rows = audit::query_db(&db, &Filter::default()).unwrap();
    let mut seen = HashSet::new();
    let mut last: [Option<usize>; 2] = [None, None];
    let mut switches = 0;
    let mut prev_who = "";
    for r in rows.iter().rev() {
        assert!(seen.insert(r.target.clone()), "{} twice", r.target);
        let (who, i) = r.target.split_once(':').unwrap();
        let i: usize = i.parse().unwrap();
        let w = usize::from(who == "cli");
        assert!(last[w].is_none_or(|p| p < i), "{who} out of order at {i}");
        last[w] = Some(i);
        if who != prev_who {
            switches += 1;
            prev_who = who;
        }
    }
    assert_eq!(seen.len(), 2 * PER_WRITER);
    assert!(
        switches > 2,
        "the writers did not overlap ({switches} switches)"
    );
}
