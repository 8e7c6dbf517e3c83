//! The recorder against a real camera server (GStreamer's RTSP server: live H.264 1080p and
//! H.265 720p with open-gop=0, Digest auth), with the recorder killed by SIGKILL at a random
//! moment and restarted, and the camera server restarted once. Afterwards: every segment
//! decodes without one error line, index and files agree, the hole around the kill is no
//! longer than kill-to-recording-again plus one GOP, and a progressive MP4 built from the
//! index across several segments and the hole has the right duration and decodes cleanly.

mod common;

use std::time::{Duration, Instant};

use common::*;

const GOP_MS: i64 = 2_000; // --gop 30 at 15 fps
const USER: &str = "camera";
const PASS: &str = "s3cret-Pa55";

fn wait_streaming(status: &std::path::Path, want: usize, timeout: Duration) -> Option<i64> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(b) = std::fs::read(status) {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&b) {
                let n = v["streams"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|s| s["frames"].as_u64().unwrap_or(0) > 0)
                            .count()
                    })
                    .unwrap_or(0);
                if n >= want {
                    return Some(unix_ms());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
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
            "data_dir = {:?}\nsegment_seconds = 20\nstall_timeout_seconds = 4\n",
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
    let serve = || Proc {
        child: vigil()
            .args(["serve", "-c", cfg_s])
            .spawn()
            .expect("vigil serve"),
        name: "vigil serve",
    };
    let status = data.join("status.json");

    let t0 = Instant::now();
    let rec = serve();
    // A random kill moment 35–65 s in (printed, so a failure can be replayed by reading it).
    let jitter_ms = (unix_ms().rem_euclid(30_000)) as u64;
    let kill_after = Duration::from_millis(35_000 + jitter_ms);
    eprintln!("e2e: SIGKILL after {kill_after:?}");
    std::thread::sleep(kill_after.saturating_sub(t0.elapsed()));
    let kill_ms = unix_ms();
    rec.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = std::fs::remove_file(&status);
    let restart_ms = unix_ms();
    let rec = serve();
    let streaming_ms = wait_streaming(&status, 2, Duration::from_secs(30))
        .expect("the restarted recorder never received frames from both cameras");
    eprintln!(
        "e2e: killed at {kill_ms}, restarted {} ms later, frames again {} ms after the kill",
        restart_ms - kill_ms,
        streaming_ms - kill_ms
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

    let (store, _) = store::Store::open(&data, store::StoreOptions::default()).unwrap();
    let streams = store.streams().unwrap();
    assert_eq!(streams.len(), 2);
    let kill = kill_ms * 90;
    for st in &streams {
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
        // The hole around the kill.
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
        let allowed = (streaming_ms - kill_ms) + GOP_MS + 200;
        eprintln!(
            "e2e: stream {} hole around the kill {hole_ms} ms (allowed {allowed})",
            st.id
        );
        assert!(
            hole_ms <= allowed,
            "stream {}: hole {hole_ms} ms > kill-to-frames-again {} ms + one GOP",
            st.id,
            streaming_ms - kill_ms
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
}
