//! End-to-end tests of the store with real H.264 (openh264) and real tools (ffmpeg, ffprobe).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::*;
use media::time::TICKS_PER_SEC;
use store::{EndReason, HoldSpec, ProblemKind, RecoveryOutcome, Store};

const S: i64 = TICKS_PER_SEC;

#[test]
fn segments_cut_at_key_frames_decode_and_match_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (store, report) = Store::open(dir.path(), options(4)).unwrap();
    assert!(report.segments.is_empty());
    let stream = add_stream(&store, "gate");
    let mut w = store.writer(stream).unwrap();
    // 20 s at 15 fps, GOP 2 s.
    record(&mut w, 0, 300, T0);
    let stats = w.close().unwrap();
    assert_eq!(stats.frames_written, 300);

    let segs = store.segments(stream, T0, T0 + 60 * S).unwrap();
    // Stream 1 is staggered: its first segment targets 4 - 7 mod 4 = 1 s, so it ends at
    // the first key frame after that (2 s); then 4 s segments; the rest at the end.
    let bounds: Vec<(i64, i64)> = segs
        .iter()
        .map(|s| ((s.start - T0) / (S / 1000), (s.end - T0) / (S / 1000)))
        .collect();
    assert_eq!(
        bounds,
        vec![
            (0, 2000),
            (2000, 6000),
            (6000, 10000),
            (10000, 14000),
            (14000, 18000),
            (18000, 20000)
        ]
    );
    let total_frames: u64 = segs.iter().map(|s| s.frames).sum();
    assert_eq!(total_frames, 300);
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.seq, i as i64 + 1);
        assert!(
            s.fragments[0].samples[0].is_key,
            "segment {} starts at a key frame",
            s.seq
        );
        assert!(s.path.ends_with(format!(
            "streams/{stream}/20240501-0000{:02}-{}.mp4",
            (s.start - T0) / S,
            s.seq
        )));
        // Index and file agree.
        let data = std::fs::read(&s.path).unwrap();
        assert_eq!(data.len() as u64, s.bytes);
        let scan = media::fmp4::scan(&data).unwrap();
        assert_eq!(scan.valid_len, s.bytes);
        assert_eq!(scan.fragments.len(), s.fragments.len());
        for (a, b) in scan.fragments.iter().zip(&s.fragments) {
            assert_eq!(
                (a.offset, a.data_offset, a.base_decode_time as i64),
                (b.offset, b.data_offset, b.start)
            );
            assert_eq!(a.samples, b.samples);
        }
        use sha2::Digest;
        assert_eq!(<[u8; 32]>::from(sha2::Sha256::digest(&data)), s.file_sha256);
        assert_decodes(&s.path);
        let (dur, frames) = probe(&s.path);
        assert_eq!(frames, s.frames);
        assert!(
            (dur - (s.end - s.start) as f64 / S as f64).abs() < 0.01,
            "ffprobe duration {dur}"
        );
    }
    let v = store.verify_storage().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    assert_eq!(v.segments_checked, segs.len() as u64);
}

#[test]
fn frames_before_the_first_key_frame_are_dropped_and_a_time_jump_starts_a_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(60)).unwrap();
    let stream = add_stream(&store, "hall");
    let mut w = store.writer(stream).unwrap();
    record(&mut w, 10, 90, T0); // frames 10..29 are not key: dropped
    assert_eq!(w.stats().frames_dropped_waiting_for_key, 20);
    // A jump of a minute: the segment ends, a new one starts at the next key frame.
    record(&mut w, 0, 45, T0 + 120 * S);
    let stats = w.close().unwrap();
    assert_eq!(stats.discontinuities, 1);
    let segs = store.segments(stream, 0, i64::MAX).unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!((segs[0].start, segs[0].frames), (T0 + 30 * FRAME_TICKS, 60));
    assert_eq!((segs[1].start, segs[1].frames), (T0 + 120 * S, 45));
    for s in &segs {
        assert_decodes(&s.path);
    }
}

const CRASH_ENV: &str = "STORE_TEST_CRASH_DIR";

/// Records 10 s into one open segment, appends half a fragment directly to the file, then
/// "crashes": the writer is forgotten (no close) and the process exits without cleanup.
fn crash_child(root: &Path) -> ! {
    let (store, _) = Store::open(root, options(60)).unwrap();
    let stream = add_stream(&store, "crash");
    let mut w = store.writer(stream).unwrap();
    record(&mut w, 0, 150, T0); // fragments of frames 0..120 are written; 120..150 buffered
    let path = std::fs::read_dir(root.join(format!("streams/{stream}")))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let samples: Vec<media::Sample> = (120..150)
        .map(|n| media::Sample {
            duration: FRAME_TICKS as u32,
            size: frame(n, T0).data.len() as u32,
            is_key: n % 30 == 0,
            composition_offset: 0,
        })
        .collect();
    let mut half = media::fmp4::fragment_header(5, 120 * FRAME_TICKS as u64, &samples);
    for n in 120..135 {
        half.extend_from_slice(&frame(n, T0).data);
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&half).unwrap();
    std::fs::write(root.join("appended"), half.len().to_string()).unwrap();
    std::mem::forget(w);
    std::process::exit(0);
}

#[test]
fn crash_recovery_truncates_indexes_and_chains_the_open_segment() {
    if let Some(dir) = std::env::var_os(CRASH_ENV) {
        crash_child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_recovery_truncates_indexes_and_chains_the_open_segment",
            "--nocapture",
        ])
        .env(CRASH_ENV, dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "crash child failed: {status}");
    let appended: u64 = std::fs::read_to_string(dir.path().join("appended"))
        .unwrap()
        .parse()
        .unwrap();

    let (store, report) = Store::open(dir.path(), options(60)).unwrap();
    assert_eq!(report.segments.len(), 1, "{report:?}");
    let r = &report.segments[0];
    match &r.outcome {
        RecoveryOutcome::Indexed {
            truncated_bytes,
            frames,
            fragments,
            ..
        } => {
            assert_eq!(*truncated_bytes, appended);
            assert_eq!(*frames, 120);
            assert_eq!(*fragments, 4);
        }
        o => panic!("not recovered: {o:?}"),
    }
    let segs = store.segments(r.stream_id, 0, i64::MAX).unwrap();
    assert_eq!(segs.len(), 1);
    assert_eq!((segs[0].start, segs[0].end), (T0, T0 + 120 * FRAME_TICKS));
    assert_decodes(&segs[0].path);
    assert_eq!(probe(&segs[0].path).1, 120);
    assert!(store.verify_storage().unwrap().is_ok());

    // Recording goes on after recovery, and the chain continues.
    let mut w = store.writer(r.stream_id).unwrap();
    record(&mut w, 0, 60, T0 + 30 * S);
    w.close().unwrap();
    assert_eq!(store.segments(r.stream_id, 0, i64::MAX).unwrap().len(), 2);
    let v = store.verify_storage().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    drop(store);
    // A second open finds nothing to do.
    let (_, report) = Store::open(dir.path(), options(60)).unwrap();
    assert!(report.segments.is_empty());
}

#[test]
fn retention_keeps_quota_deletes_oldest_first_respects_holds_and_keeps_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let a = add_stream(&store, "a");
    let b = add_stream(&store, "b");
    // Measure one 4 s segment first.
    let seg_bytes = {
        let mut w = store.writer(b).unwrap();
        record(&mut w, 0, 150, T0);
        w.close().unwrap();
        store
            .segments(b, 0, i64::MAX)
            .unwrap()
            .iter()
            .map(|s| s.bytes)
            .max()
            .unwrap()
    };
    let quota = seg_bytes * 3;
    store.set_stream_retention(a, quota, 1, 30).unwrap();
    store.set_stream_retention(b, quota, 1, 30).unwrap();
    // Hold stream a's footage around T0 + 3 s (its second segment).
    let cam_a = store.stream(a).unwrap().camera_id;
    let hold = store
        .add_hold(&HoldSpec {
            camera_id: Some(cam_a),
            stream_id: None,
            start: T0 + 3 * S,
            end: T0 + 3 * S + S / 2,
            reason: "incident 2024-17".into(),
            request_ref: Some("REQ-17".into()),
            created_by: "principal".into(),
        })
        .unwrap();

    let mut wa = store.writer(a).unwrap();
    let mut wb = store.writer(b).unwrap();
    let mut max_used = 0;
    for n in 0..900 {
        // 60 s, both streams.
        wa.push(&frame(n, T0)).unwrap();
        wb.push(&frame(n, T0 + 10 * S)).unwrap();
        if n % 30 == 0 {
            for u in store.stream_usage(T0 + 70 * S).unwrap() {
                max_used = max_used.max(u.used_bytes);
            }
        }
    }
    wa.close().unwrap();
    wb.close().unwrap();
    // The writers make room before each segment: never more than quota + one segment
    // (+ the held segment for stream a).
    assert!(
        max_used <= quota + 2 * seg_bytes,
        "used {max_used} > quota {quota} + segments"
    );
    store.run_retention(T0 + 70 * S).unwrap();
    let usage = store.stream_usage(T0 + 70 * S).unwrap();
    for u in &usage {
        let held = if u.stream_id == a { seg_bytes } else { 0 };
        assert!(u.used_bytes <= quota + held, "{u:?}");
        assert!(u.forecast_days.is_some());
    }
    // Oldest first: what is left of stream a is the held segment and the newest ones.
    let segs = store.segments(a, 0, i64::MAX).unwrap();
    assert_eq!(segs[0].start, T0 + 2 * S, "the held segment survives");
    let rest: Vec<i64> = segs[1..].iter().map(|s| s.seq).collect();
    let newest = segs.last().unwrap().seq;
    assert_eq!(
        rest,
        ((newest - rest.len() as i64 + 1)..=newest).collect::<Vec<_>>()
    );
    assert!(segs.last().unwrap().end == T0 + 60 * S);
    let v = store.verify_storage().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);

    // Released, the held segment is the oldest and goes first when space is needed.
    store.release_hold(hold, "principal").unwrap();
    assert!(store.release_hold(hold, "principal").is_err());
    let used = store.stream_usage(T0 + 70 * S).unwrap()[0].used_bytes;
    store.set_stream_retention(a, used - 1, 1, 30).unwrap();
    let r = store.run_retention(T0 + 70 * S).unwrap();
    assert_eq!(r.deleted_segments, 1);
    assert_eq!(store.segments(a, 0, i64::MAX).unwrap()[0].seq, segs[1].seq);
    assert!(store.verify_storage().unwrap().is_ok());

    // max_days: two days later everything of a 1-day stream is gone, by policy.
    store.set_stream_retention(a, 0, 1, 1).unwrap();
    store.run_retention(T0 + 2 * 86_400 * S).unwrap();
    assert!(store.segments(a, 0, i64::MAX).unwrap().is_empty());
    let v = store.verify_storage().unwrap();
    assert!(v.is_ok(), "{:?}", v.problems);
    assert_eq!(
        std::fs::read_dir(dir.path().join(format!("streams/{a}")))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn forecast_alarm_when_quota_keeps_less_than_min_days() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let s = add_stream(&store, "yard");
    let mut w = store.writer(s).unwrap();
    record(&mut w, 0, 300, T0);
    w.close().unwrap();
    // 20 s of footage measured; a quota of 1 GB keeps far less than 20 days of... no:
    // compute what it keeps and set quotas on both sides of the floor.
    let u = &store.stream_usage(T0 + 20 * S).unwrap()[0];
    let bpd = u.bytes_per_day.unwrap();
    store
        .set_stream_retention(s, (bpd * 19.0) as u64, 20, 30)
        .unwrap();
    let u = &store.stream_usage(T0 + 20 * S).unwrap()[0];
    assert!(
        matches!(
            u.alarm,
            Some(store::Alarm::ForecastBelowMinimum { min_days: 20, .. })
        ),
        "{u:?}"
    );
    store
        .set_stream_retention(s, (bpd * 25.0) as u64, 20, 30)
        .unwrap();
    let u = &store.stream_usage(T0 + 20 * S).unwrap()[0];
    assert!(u.alarm.is_none());
    assert!((u.forecast_days.unwrap() - 25.0).abs() < 0.01);
    assert!(store.set_stream_retention(s, 0, 0, 30).is_err());
    assert!(store.set_stream_retention(s, 0, 20, 10).is_err());
}

#[test]
fn verify_storage_names_altered_missing_unindexed_and_chain_broken() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let s = add_stream(&store, "lab");
    let mut w = store.writer(s).unwrap();
    record(&mut w, 0, 300, T0);
    w.close().unwrap();
    let segs = store.segments(s, 0, i64::MAX).unwrap();
    assert_eq!(segs.len(), 6);
    // Flip a byte in segment 2; remove the file of segment 3; add an extra file; delete
    // the row of segment 5 behind the store's back.
    let mut data = std::fs::read(&segs[1].path).unwrap();
    let i = data.len() - 100;
    data[i] ^= 0x40;
    std::fs::write(&segs[1].path, &data).unwrap();
    std::fs::remove_file(&segs[2].path).unwrap();
    let extra = dir.path().join(format!("streams/{s}/extra.mp4"));
    std::fs::write(&extra, b"not indexed").unwrap();
    let db = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    db.execute("DELETE FROM segment WHERE id = ?1", [segs[4].id])
        .unwrap();
    drop(db);

    let v = store.verify_storage().unwrap();
    let mut found: Vec<(ProblemKind, Option<i64>)> =
        v.problems.iter().map(|p| (p.kind, p.seq)).collect();
    found.sort_by_key(|(k, seq)| (format!("{k:?}"), *seq));
    assert_eq!(
        found,
        vec![
            (ProblemKind::Altered, Some(2)),
            (ProblemKind::ChainBroken, Some(6)),
            (ProblemKind::Missing, Some(3)),
            // The extra file, and the file of the segment whose row was deleted.
            (ProblemKind::Unindexed, None),
            (ProblemKind::Unindexed, None),
        ],
        "{:#?}",
        v.problems
    );
    for p in &v.problems {
        assert_eq!(p.stream_id, Some(s));
        assert!(p.path.is_some());
        if p.kind != ProblemKind::Unindexed {
            assert!(p.start.is_some() && p.end.is_some());
        }
        eprintln!("{p}");
    }
    let unindexed: Vec<_> = v
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Unindexed)
        .map(|p| p.path.clone().unwrap())
        .collect();
    assert!(unindexed.contains(&extra));
    assert!(unindexed.contains(&segs[4].path));
    assert!(v
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::ChainBroken)
        .unwrap()
        .detail
        .contains("segment 5"));
}

#[test]
fn progressive_export_across_segments_and_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let s = add_stream(&store, "corridor");
    let mut w = store.writer(s).unwrap();
    record(&mut w, 0, 150, T0); // 0..10 s
    w.end_segment(EndReason::Disconnect).unwrap();
    record(&mut w, 0, 105, T0 + 13 * S); // 13..20 s
    w.close().unwrap();

    let e = store.progressive(s, T0 + S, T0 + 18 * S).unwrap();
    assert_eq!(
        e.start, T0,
        "starts at the key frame at or before the start"
    );
    assert_eq!(e.end, T0 + 18 * S);
    assert_eq!(e.holes, vec![(T0 + 10 * S, T0 + 13 * S)]);
    assert!(e.segments.len() >= 3);
    assert_eq!(e.frames, 150 + 75);
    let out = dir.path().join("export.mp4");
    let mut f = std::fs::File::create(&out).unwrap();
    let n = Store::write_mp4(&e.mp4, &e.sources, &mut f).unwrap();
    drop(f);
    assert_eq!(n, e.mp4.len);
    assert_decodes(&out);
    let (dur, frames) = probe(&out);
    assert!((dur - 18.0).abs() < 0.07, "duration {dur}");
    assert_eq!(frames, 225);

    // A range without footage.
    assert!(matches!(
        store.progressive(s, T0 + 100 * S, T0 + 110 * S),
        Err(store::Error::NoFootage { .. })
    ));
}

#[test]
fn progressive_refuses_a_parameter_change_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let s = add_stream(&store, "gym");
    let mut w = store.writer(s).unwrap();
    record(&mut w, 0, 60, T0);
    let mut p = (*clip().params).clone();
    p.rfc6381 = "avc1.42C00D".into();
    let n = p.sample_entry.len();
    p.sample_entry[n - 1] ^= 1;
    let p = std::sync::Arc::new(p);
    for n in 60..120 {
        let mut f = frame(n, T0);
        f.params = p.clone();
        w.push(&f).unwrap();
    }
    w.close().unwrap();
    match store.progressive(s, T0, T0 + 8 * S) {
        Err(store::Error::ParamsChanged { at, seq, .. }) => {
            assert_eq!(at, T0 + 4 * S);
            assert_eq!(seq, 3);
        }
        r => panic!("expected ParamsChanged, got {:?}", r.map(|e| e.holes)),
    }
}

#[test]
fn cameras_streams_settings_and_password_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(60)).unwrap();
    let mut c = camera("front");
    c.sub_url = Some("rtsp://127.0.0.1:8554/front-sub".into());
    let id = store.add_camera(c.clone()).unwrap();
    assert!(store.add_camera(c).is_err(), "duplicate name");
    let streams = store.streams().unwrap();
    assert_eq!(streams.len(), 2);
    assert!(streams.iter().all(|s| s.min_days == 20 && s.max_days == 30));
    // The main stream is recorded; the sub-stream is for live view until asked.
    assert!(streams
        .iter()
        .all(|s| s.record == (s.kind == store::StreamKind::Main)));
    let cam = store.camera_by_name("front").unwrap().unwrap();
    assert_eq!(cam.password.as_deref(), Some("secret-password"));
    assert_eq!(
        store
            .streams()
            .unwrap()
            .iter()
            .map(|s| (s.kind.to_string(), s.url.clone()))
            .collect::<Vec<_>>(),
        vec![
            (
                "main".to_string(),
                "rtsp://127.0.0.1:8554/front".to_string()
            ),
            (
                "sub".to_string(),
                "rtsp://127.0.0.1:8554/front-sub".to_string()
            )
        ]
    );
    assert!(!format!("{cam:?}").contains("secret-password"));
    assert!(!serde_json::to_string(&cam)
        .unwrap()
        .contains("secret-password"));
    assert_eq!(cam.schedule, store::schedule::Schedule::always());
    let sched = store::schedule::Schedule::parse("mon-fri 07:00-17:00 continuous")
        .unwrap_or_else(|_| store::schedule::Schedule::always());
    store.set_schedule(id, &sched).unwrap();
    assert_eq!(store.camera(id).unwrap().schedule, sched);
    store.set_enabled(id, false).unwrap();
    assert!(!store.camera(id).unwrap().enabled);
    store
        .update_camera(
            id,
            store::CameraUpdate {
                sub_url: Some(None),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        store.camera(id).unwrap().zone.as_deref(),
        Some("A"),
        "untouched fields stay"
    );
    assert_eq!(
        store.streams().unwrap().iter().filter(|s| s.record).count(),
        1
    );
    store.remove_camera(id).unwrap();
    assert!(store.cameras().unwrap().is_empty());
    assert!(store.camera_by_name("front").unwrap().is_none());
    assert_eq!(
        store.streams().unwrap().len(),
        2,
        "streams (and footage) stay"
    );
    store.add_camera(camera("front")).unwrap();
    store.set_setting("storage.total_quota", "1000000").unwrap();
    assert_eq!(
        store.setting("storage.total_quota").unwrap().as_deref(),
        Some("1000000")
    );
    drop(store);
    // Reopen: the lock is released, the schema is current.
    let (store, _) = Store::open(dir.path(), options(60)).unwrap();
    assert_eq!(store.cameras().unwrap().len(), 1);
    // One process per directory.
    assert!(matches!(
        Store::open(dir.path(), options(60)),
        Err(store::Error::Locked { .. })
    ));
}

#[test]
fn one_owner_per_directory_and_clients_may_not_write_or_delete() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        Store::open_client(dir.path()).is_err(),
        "a client needs an existing database"
    );
    let (owner, _) = Store::open(dir.path(), options(60)).unwrap();
    let stream = add_stream(&owner, "gate");
    // A second owner is refused while the first holds the directory…
    let err = Store::open(dir.path(), options(60)).err().unwrap();
    assert!(err.to_string().contains("in use"), "{err}");
    // …but clients work beside it, and see the owner's changes.
    let client = Store::open_client(dir.path()).unwrap();
    assert!(!client.is_owner() && owner.is_owner());
    assert_eq!(client.streams().unwrap().len(), 1);
    assert!(client.writer(stream).is_err());
    assert!(client.run_retention(0).is_err());
    assert!(client.make_room(stream, 1).is_err());
    client.camera_by_name("gate").unwrap().unwrap();
}

#[test]
fn flush_puts_every_frame_but_the_newest_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(60)).unwrap();
    let stream = add_stream(&store, "gate");
    let mut w = store.writer(stream).unwrap();
    // Frames 0..10 of the clip (a key frame first), in batches of 3 with a flush after each,
    // as the recorder does.
    for batch in [0..3, 3..6, 6..10] {
        record(&mut w, batch.start, batch.end, 1_000 * S);
        w.flush().unwrap();
    }
    // What a crash right now would leave: the file as it is on disk.
    let file = std::fs::read_dir(dir.path().join("streams").join(stream.to_string()))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let scan = media::fmp4::scan(&std::fs::read(&file).unwrap()).unwrap();
    let frames: usize = scan.fragments.iter().map(|f| f.samples.len()).sum();
    assert_eq!(frames, 9, "all but the newest frame are written");
    assert_eq!(scan.fragments.len(), 3, "one fragment per batch");
    assert!(scan.fragments[0].samples[0].is_key);
    w.close().unwrap();
    let segs = store.segments(stream, 0, i64::MAX).unwrap();
    assert_eq!(segs.iter().map(|s| s.frames).sum::<u64>(), 10);
    assert_decodes(&segs[0].path);
}

#[test]
fn the_total_storage_limit_deletes_the_oldest_footage_of_any_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path(), options(4)).unwrap();
    let a = add_stream(&store, "a");
    let b = add_stream(&store, "b");
    // Stream a records first (older footage), then stream b; no per-stream quota.
    let mut wa = store.writer(a).unwrap();
    record(&mut wa, 0, 300, T0);
    wa.close().unwrap();
    let mut wb = store.writer(b).unwrap();
    record(&mut wb, 0, 300, T0 + 60 * S);
    wb.close().unwrap();
    let used = |s| -> u64 {
        store
            .segments(s, 0, i64::MAX)
            .unwrap()
            .iter()
            .map(|x| x.bytes)
            .sum()
    };
    let (ua, ub) = (used(a), used(b));
    let oldest_a = store.segments(a, 0, i64::MAX).unwrap()[0].seq;
    // A limit that fits stream b and about half of stream a.
    let limit = ub + ua / 2;
    let r = store.enforce_total(limit).unwrap();
    assert!(r.deleted_segments > 0);
    assert!(used(a) + used(b) <= limit, "within the limit");
    assert_eq!(used(b), ub, "the newer stream keeps everything");
    assert!(
        store.segments(a, 0, i64::MAX).unwrap()[0].seq > oldest_a,
        "oldest first"
    );
    let report = store.verify_storage().unwrap();
    assert!(report.is_ok(), "{report}");
    // A client may not.
    assert!(Store::open_client(dir.path())
        .unwrap()
        .enforce_total(0)
        .is_err());
}
