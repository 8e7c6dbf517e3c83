//! Audit write cost per event: `cargo run --release -p audit --example audit_bench [N]`.
//!
//! Records N events (default 200 000) shaped like a live view (actor, target, a small JSON
//! detail, client address) into a fresh database, and reports the mean and the 99th
//! percentile cost of `Audit::record` (what the caller pays), then the time `close`
//! needs to commit the rest and seal, and the end-to-end cost per committed event.

use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("vigil.db");
    let audit = audit::Audit::open(&db, audit::RecorderKey::from_secret([5; 32])).expect("open");
    let mut each = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let e = audit::Event::new("live.view", format!("camera:{}", i % 36 + 1))
            .by("bao_ve_1")
            .from("192.168.10.23")
            .detail(serde_json::json!({ "stream": "sub" }));
        let t = Instant::now();
        audit.record(e).expect("record");
        each.push(t.elapsed().as_nanos() as u64);
    }
    let recorded = t0.elapsed();
    let t1 = Instant::now();
    audit.close().expect("close");
    let closed = t1.elapsed();
    let total = t0.elapsed();
    each.sort_unstable();
    let mean = each.iter().sum::<u64>() as f64 / n as f64 / 1000.0;
    let p99 = each[n * 99 / 100] as f64 / 1000.0;
    let max = each[n - 1] as f64 / 1000.0;
    let report =
        audit::verify(&db, &audit::RecorderKey::from_secret([5; 32]).public_pem()).expect("verify");
    assert!(report.is_ok(), "{report}");
    println!("events: {n}");
    println!("record(): mean {mean:.2} µs, p99 {p99:.2} µs, max {max:.0} µs");
    println!(
        "recording loop {:.3} s; close (commit the rest + seal) {:.3} s",
        recorded.as_secs_f64(),
        closed.as_secs_f64()
    );
    println!(
        "end to end (recorded, committed, sealed): {:.2} µs per event",
        total.as_secs_f64() * 1e6 / n as f64
    );
    println!("{report}");
}
