//! The recorder against a real camera server (GStreamer's RTSP server: live H.264 1080p and
//! H.265 720p with open-gop=0, Digest auth), with the recorder killed by SIGKILL at a random
//! moment and restarted, and the camera server restarted once. Afterwards: every segment
//! decodes without one error line, index and files agree, the hole around the kill is no
//! longer than kill-to-recording-again plus one GOP, and a progressive MP4 built from the
//! index across several segments and the hole has the right duration and decodes cleanly.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const GOP_MS: i64 = 2_000; // --gop 30 at 15 fps
/// The writer pool hands frames to the files this often: a kill loses at most this + 1 frame.
const WRITE_MS: i64 = 250;
const USER: &str = "camera";
const PASS: &str = "s3cret-Pa55";

/// Starts `vigil serve` with its log piped through; returns the process and a receiver of
/// the wall time (Unix ms, from the log line) at which each camera session began streaming.
fn serve(cfg: &str) -> (Proc, std::sync::mpsc::Receiver<(String, i64)>) {
    let mut child = vigil()
        .args(["serve", "-c", cfg])
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil serve");
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("{line}");
            // e.g. "2026-11-22T04:54:28.009029Z  INFO ingest::session: streaming camera=gate/main …"
            if line.contains("ingest::session: streaming") {
                let ts = line.split_whitespace().next().unwrap_or("");
                let cam = line
                    .split("camera=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("")
                    .to_string();
                if let Ok(t) = media::time::parse_rfc3339(ts) {
                    let _ = tx.send((cam, t / 90));
                }
            }
        }
    });
    (
        Proc {
            child,
            name: "vigil serve",
        },
        rx,
    )
}

#[test]
fn records_through_sigkill_and_camera_restart() {
    require("ffmpeg", "-version");
    require("ffprobe", "-version");
    let port = free_port();
    let mut gst = Some(start_gst(port, USER, PASS));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = tmp.path().join("vigil.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {:?}\nsegment_seconds = 20\nstall_timeout_seconds = 4\nwrite_interval_ms = {WRITE_MS}\n",
            data
        ),
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();
    for (name, path) in [("gate", "h264"), ("hall", "h265")] {
        let url = format!("rtsp://127.0.0.1:{port}/{path}");
        vigil_ok(&[
            "camera",
            "add",
            "-c",
            cfg_s,
            name,
            "--main",
            &url,
            "--user",
            USER,
            "--password",
            PASS,
        ]);
    }
    let t0 = Instant::now();
    let (rec, _) = serve(cfg_s);
    // A random kill moment 35–65 s in (printed, so a failure can be replayed by reading it).
    let jitter_ms = (unix_ms().rem_euclid(30_000)) as u64;
    let kill_after = Duration::from_millis(35_000 + jitter_ms);
    eprintln!("e2e: SIGKILL after {kill_after:?}");
    std::thread::sleep(kill_after.saturating_sub(t0.elapsed()));
    let kill_ms = unix_ms();
    rec.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    let restart_ms = unix_ms();
    let (rec, streaming) = serve(cfg_s);
    // When each camera's session was established again (PLAY answered, first frame in).
    let mut back_ms = std::collections::HashMap::new();
    while back_ms.len() < 2 {
        let (cam, t) = streaming
            .recv_timeout(Duration::from_secs(30))
            .expect("the restarted recorder never streamed from both cameras");
        back_ms.entry(cam).or_insert(t);
    }
    eprintln!(
        "e2e: killed at {kill_ms}, restarted {} ms later, sessions back after {back_ms:?}",
        restart_ms - kill_ms
    );

    // Restart the camera server once.
    std::thread::sleep(Duration::from_secs(95).saturating_sub(t0.elapsed()));
    assert!(gst.take().unwrap().stop(Duration::from_secs(10)));
    let cam_down_ms = unix_ms();
    std::thread::sleep(Duration::from_secs(2));
    gst = Some(start_gst(port, USER, PASS));
    eprintln!("e2e: camera server restarted at {cam_down_ms}");

    std::thread::sleep(Duration::from_secs(150).saturating_sub(t0.elapsed()));
    assert!(
        rec.stop(Duration::from_secs(30)),
        "vigil serve did not stop within 30 s of SIGTERM"
    );
    drop(gst);

    // Index and files agree.
    let out = vigil()
        .args(["verify-storage", "-c", cfg_s])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify-storage failed:\n{report}");

    let store = store::Store::open_client(&data).unwrap();
    let streams = store.streams().unwrap();
    assert_eq!(streams.len(), 2);
    let kill = kill_ms * 90;
    let cameras = store.cameras().unwrap();
    for st in &streams {
        let cam = cameras.iter().find(|c| c.id == st.camera_id).unwrap();
        let back = back_ms[&format!("{}/main", cam.name)];
        let segs = store.segments(st.id, 0, i64::MAX).unwrap();
        assert!(
            segs.len() >= 6,
            "stream {}: only {} segments",
            st.id,
            segs.len()
        );
        // Every segment decodes without a single error line.
        for s in &segs {
            let path = s.path.clone();
            let errs = ffmpeg_errors(&path);
            assert!(
                errs.trim().is_empty(),
                "{}: ffmpeg says:\n{errs}",
                path.display()
            );
        }
        // The hole around the kill: what the kill lost (at most one write interval and the
        // frame in hand) + the time until the recorder was back and its camera session
        // established + the wait for the next key frame (≤ one GOP).
        let before = segs
            .iter()
            .filter(|s| s.start < kill)
            .map(|s| s.end)
            .max()
            .unwrap();
        let after = segs
            .iter()
            .filter(|s| s.start >= kill)
            .map(|s| s.start)
            .min()
            .unwrap();
        let hole_ms = (after - before) / 90;
        let back_after_ms = back - kill_ms;
        // Slack: one write interval and one frame (67 ms) lost at the kill, and the
        // log's timestamp granularity.
        let allowed = back_after_ms + GOP_MS + WRITE_MS + 100;
        eprintln!(
            "e2e: {}: hole around the kill {hole_ms} ms; recorder back after {back_after_ms} ms; \
             allowed {allowed} ms",
            cam.name
        );
        assert!(
            hole_ms <= allowed,
            "{}: hole {hole_ms} ms > kill-to-restart {back_after_ms} ms + one GOP",
            cam.name
        );
        assert!(
            (kill - before) / 90 <= WRITE_MS + 100,
            "{}: the kill lost {} ms of already received video",
            cam.name,
            (kill - before) / 90
        );
        assert!(before <= kill + 90 * 100, "frames recorded after the kill?");

        // A progressive MP4 across several segments and the hole.
        let start = kill - 30 * 90_000;
        let end = kill + 25 * 90_000;
        let p = store.progressive(st.id, start, end).unwrap();
        assert!(
            !p.holes.is_empty(),
            "the range should contain the kill's hole"
        );
        assert!(p.segments.len() >= 3, "range should span several segments");
        let file = tmp.path().join(format!("range-{}.mp4", st.id));
        let mut f = std::fs::File::create(&file).unwrap();
        store::Store::write_mp4(&p.mp4, &p.sources, &mut f).unwrap();
        drop(f);
        let errs = ffmpeg_errors(&file);
        assert!(errs.trim().is_empty(), "range MP4: ffmpeg says:\n{errs}");
        let got = ffprobe_duration(&file);
        let want = (p.end - p.start) as f64 / 90_000.0;
        assert!(
            (got - want).abs() < 0.1,
            "range MP4 lasts {got} s in ffprobe, the index says {want} s"
        );
        assert!(
            (want - 55.0).abs() <= GOP_MS as f64 / 1000.0 + 0.2,
            "range covers {want} s for a 55 s request"
        );
    }

    // `vigil verify-storage` names one flipped byte and one removed file.
    let segs = store.segments(streams[0].id, 0, i64::MAX).unwrap();
    drop(store);
    let flipped = &segs[1].path;
    let removed = &segs[3].path;
    let mut bytes = std::fs::read(flipped).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(flipped, bytes).unwrap();
    std::fs::remove_file(removed).unwrap();
    let out = vigil()
        .args(["verify-storage", "-c", cfg_s])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify-storage must fail:\n{report}"
    );
    let name = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        report
            .lines()
            .any(|l| l.contains("ltered") && l.contains(&name(flipped))),
        "the flipped byte is not named:\n{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.contains("issing") && l.contains(&name(removed))),
        "the removed file is not named:\n{report}"
    );
}
