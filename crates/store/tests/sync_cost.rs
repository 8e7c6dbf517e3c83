//! Measures what `sync_each_fragment` costs (a benchmark, not a pass/fail test):
//! `cargo test -p store --release --test sync_cost -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use common::*;
use store::Store;

#[test]
#[ignore = "measurement; run explicitly"]
fn sync_each_fragment_cost() {
    clip(); // encode the test clip before measuring
    for sync in [false, true, false, true] {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let mut opts = options(60);
        opts.sync_interval = sync.then_some(0);
        let (store, _) = Store::open(dir.path(), opts).unwrap();
        let s = add_stream(&store, "bench");
        let mut w = store.writer(s).unwrap();
        let frames = 15 * 600; // 10 minutes of video
        let t = Instant::now();
        let cpu0 = cpu_time();
        record(&mut w, 0, frames, T0);
        let stats = w.close().unwrap();
        let wall = t.elapsed();
        let cpu = cpu_time() - cpu0;
        println!(
            "sync_each_fragment={sync}: {} MB, {} fragments, {} segments in {:.1} ms wall, {:.1} ms CPU \
             ({:.3} ms wall per fragment)",
            stats.bytes_written / 1_000_000,
            stats.fragments_written,
            stats.segments_closed,
            wall.as_secs_f64() * 1e3,
            cpu * 1e3,
            wall.as_secs_f64() * 1e3 / stats.fragments_written as f64
        );
    }
}

fn cpu_time() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
