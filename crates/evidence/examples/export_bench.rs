//! Export throughput against a sequential read of the same bytes:
//! `cargo run --release -p evidence --example export_bench [MINUTES] [FRAME_KB]`.
//!
//! Records MINUTES (default 60) of one camera at 15 fps into a fresh store (real H.264
//! from openh264, padded to about FRAME_KB per frame (default 30 KiB ≈ 3.7 Mbit/s) with
//! filler NAL units so the byte volume is that of a real main stream), then, three times
//! (best kept):
//! 1. reads every segment file sequentially (1 MiB reads) after dropping the page cache
//!    (root only) — the disk-read baseline — and again with the page cache warm;
//! 2. exports the whole range as an evidence package (progressive MP4 remuxed from the
//!    index, hashed, manifest signed, fsynced) with the sources in the page cache;
//! 3. copies the segment files into one file and fsyncs it;
//!
//! then exports twice more with the page cache dropped first (sources from the disk), and
//! three times more so with the package written to another device (`OTHER_DIR`, default
//! `/dev/shm`: tmpfs, memory, so the disk only reads) — after a plain copy and an export
//! with cached sources onto that device, which show what it takes on its own — followed
//! by the plain copy with cold sources both ways; and reports throughputs and ratios.
//!
//! Whether the other device takes `O_DIRECT` is probed and printed: tmpfs refuses it before
//! Linux 6.6 (the export's writer then falls back to buffered writes) and accepts it since
//! (tmpfs has no device below it: the data is copied into its pages either way). Either
//! way `/dev/shm` is a device faster than any disk; a USB drive slower than the source
//! disk bounds the export at its own write speed instead.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

use media::time::TICKS_PER_SEC;
use store::Store;

fn main() {
    let mut args = std::env::args().skip(1);
    let minutes: i64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let frame_kb: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(30);
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp".into()))
        .expect("temp dir");
    // Another device for the output (tmpfs unless given).
    let other =
        tempfile::tempdir_in(std::env::var("OTHER_DIR").unwrap_or_else(|_| "/dev/shm".into()))
            .expect("temp dir on the other device");
    let (store, _) = Store::open(dir.path(), common::options(60)).expect("store");
    let stream = common::add_stream(&store, "gate");
    let mut w = store.writer(stream).expect("writer");
    let frames = (minutes * 60 * common::FPS) as usize;
    let t = Instant::now();
    for n in 0..frames {
        let mut f = common::frame(n, common::T0);
        // Pad with a filler NAL (type 12) to the target size.
        let want = frame_kb * 1024;
        if f.data.len() + 5 < want {
            let pad = want - f.data.len() - 4;
            let mut d = f.data.to_vec();
            d.extend_from_slice(&(pad as u32).to_be_bytes());
            d.push(12);
            d.resize(d.len() + pad - 1, 0xff);
            f.data = bytes::Bytes::from(d);
        }
        w.push(&f).expect("push");
    }
    w.close().expect("close");
    println!(
        "recorded {minutes} min at 15 fps, ~{frame_kb} KiB/frame in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let start = common::T0;
    let end = start + minutes * 60 * TICKS_PER_SEC;
    let segs = store.segments(stream, start, end).expect("segments");
    let seg_bytes: u64 = segs.iter().map(|s| s.bytes).sum();

    let read_all = || {
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        for s in &segs {
            let mut f = std::fs::File::open(&s.path).expect("open");
            loop {
                let k = f.read(&mut buf).expect("read");
                if k == 0 {
                    break;
                }
                n += k as u64;
            }
        }
        n
    };
    // Cold: drop the page cache (root only), so the read comes from the disk.
    let drop_caches = || {
        let _ = std::process::Command::new("sync").status();
        std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
    };
    let key = audit::RecorderKey::from_secret([9; 32]);
    let au = audit::Audit::open(&dir.path().join(store::DB_FILE), key.clone()).expect("audit");
    let spec = evidence::ExportSpec {
        request_id: 1,
        purpose: "bench".into(),
        reason: "bench".into(),
        requester: "a".into(),
        approver: "b".into(),
        operator: "c".into(),
        cameras: vec![(1, "gate".into(), stream)],
        start,
        end,
    };
    // Baseline 2: a plain copy of the same bytes into one file, fsynced (what any export
    // must at least do: read them and write them).
    let copy_all = |to: &Path| {
        use std::io::Write;
        let mut out = std::fs::File::create(to).expect("create");
        let mut buf = vec![0u8; 4 << 20];
        for s in &segs {
            let mut f = std::fs::File::open(&s.path).expect("open");
            loop {
                let k = f.read(&mut buf).expect("read");
                if k == 0 {
                    break;
                }
                out.write_all(&buf[..k]).expect("write");
            }
        }
        out.sync_all().expect("sync");
    };
    let mut cold: Option<f64> = None;
    let mut best_copy = f64::MAX;
    let mut best_read = f64::MAX;
    let mut best_export = f64::MAX;
    let mut mp4_bytes = 0;
    let mut export_rounds = Vec::new();
    // Each timed step starts after `sync` (so earlier writes and file deletions, which
    // this filesystem's online discard makes slow, do not land on the next step).
    let settle = || {
        let _ = std::process::Command::new("sync").status();
    };
    for round in 0..3 {
        if drop_caches() {
            let t = Instant::now();
            let n = read_all();
            let s = t.elapsed().as_secs_f64();
            assert_eq!(n, seg_bytes);
            cold = Some(cold.map_or(s, |c: f64| c.min(s)));
        }
        read_all(); // warm the page cache
        settle();
        let t = Instant::now();
        let n = read_all();
        best_read = best_read.min(t.elapsed().as_secs_f64());
        assert_eq!(n, seg_bytes);
        let out = dir.path().join(format!("exports-{round}"));
        settle();
        let t = Instant::now();
        let pkg = evidence::export(&store, &au, &key, &spec, &out).expect("export");
        best_export = best_export.min(t.elapsed().as_secs_f64());
        export_rounds.push(t.elapsed().as_secs_f64());
        mp4_bytes = pkg.video_bytes;
        std::fs::remove_dir_all(&out).expect("clean");
        let copy = dir.path().join("copy.bin");
        settle();
        let t = Instant::now();
        copy_all(&copy);
        best_copy = best_copy.min(t.elapsed().as_secs_f64());
        std::fs::remove_file(&copy).expect("clean");
    }
    let mb = |b: u64, s: f64| b as f64 / s / 1e6;
    println!(
        "segment files: {} in {} segments; MP4: {} bytes",
        seg_bytes,
        segs.len(),
        mp4_bytes
    );
    println!(
        "sequential read: {:.3} s = {:.0} MB/s",
        best_read,
        mb(seg_bytes, best_read)
    );
    if let Some(c) = cold {
        println!(
            "sequential read, cold (page cache dropped): {c:.3} s = {:.0} MB/s",
            mb(seg_bytes, c)
        );
    }
    println!(
        "export (remux + SHA-256 + sign + fsync): {:.3} s = {:.0} MB/s of MP4",
        best_export,
        mb(mp4_bytes, best_export)
    );
    println!(
        "export, each round: {:?} MB/s",
        export_rounds
            .iter()
            .map(|s| mb(mp4_bytes, *s).round())
            .collect::<Vec<_>>()
    );
    println!(
        "plain copy of the segment files (read + write + fsync): {:.3} s = {:.0} MB/s",
        best_copy,
        mb(seg_bytes, best_copy)
    );
    println!(
        "export / plain copy throughput: {:.0} %",
        100.0 * mb(mp4_bytes, best_export) / mb(seg_bytes, best_copy)
    );
    println!(
        "export / warm read throughput: {:.0} %",
        100.0 * mb(mp4_bytes, best_export) / mb(seg_bytes, best_read)
    );
    if let Some(c) = cold {
        println!(
            "export / cold (disk) read throughput: {:.0} %",
            100.0 * mb(mp4_bytes, best_export) / mb(seg_bytes, c)
        );
        // And exports whose sources come from the disk too.
        for round in 0..2 {
            drop_caches();
            let out = dir.path().join(format!("exports-cold-{round}"));
            let t = Instant::now();
            evidence::export(&store, &au, &key, &spec, &out).expect("export");
            let s = t.elapsed().as_secs_f64();
            println!(
                "export with cold sources: {s:.3} s = {:.0} MB/s ({:.0} % of the cold read)",
                mb(mp4_bytes, s),
                100.0 * mb(mp4_bytes, s) / mb(seg_bytes, c)
            );
            std::fs::remove_dir_all(&out).expect("clean");
        }
        // The same for the plain copy: reading and writing share the disk.
        drop_caches();
        let copy = dir.path().join("copy.bin");
        let t = Instant::now();
        copy_all(&copy);
        let s = t.elapsed().as_secs_f64();
        println!(
            "plain copy with cold sources: {s:.3} s = {:.0} MB/s ({:.0} % of the cold read)",
            mb(seg_bytes, s),
            100.0 * mb(seg_bytes, s) / mb(seg_bytes, c)
        );
        std::fs::remove_file(&copy).expect("clean");

        // Sources from the disk, the package onto another device: the disk only reads.
        println!(
            "other device: {} ({}; O_DIRECT {})",
            other.path().display(),
            fs_type(other.path()),
            if o_direct_accepted(other.path()) {
                "accepted"
            } else {
                "refused: the export writes through the page cache"
            }
        );
        // What the other device takes on its own in this run: the plain copy and the
        // export with the sources in the page cache (the disk idle).
        read_all();
        let copy = other.path().join("copy.bin");
        let t = Instant::now();
        copy_all(&copy);
        let s = t.elapsed().as_secs_f64();
        println!(
            "plain copy, sources in the page cache, onto the other device: {s:.3} s = {:.0} MB/s",
            mb(seg_bytes, s)
        );
        std::fs::remove_file(&copy).expect("clean");
        let out = other.path().join("exports-warm");
        let t = Instant::now();
        evidence::export(&store, &au, &key, &spec, &out).expect("export");
        let s = t.elapsed().as_secs_f64();
        println!(
            "export, sources in the page cache, onto the other device: {s:.3} s = {:.0} MB/s ({:.0} % of the cold read)",
            mb(mp4_bytes, s),
            100.0 * mb(mp4_bytes, s) / mb(seg_bytes, c)
        );
        std::fs::remove_dir_all(&out).expect("clean");
        for round in 0..3 {
            drop_caches();
            let out = other.path().join(format!("exports-cold-{round}"));
            let t = Instant::now();
            evidence::export(&store, &au, &key, &spec, &out).expect("export");
            let s = t.elapsed().as_secs_f64();
            println!(
                "export with cold sources onto the other device: {s:.3} s = {:.0} MB/s ({:.0} % of the cold read)",
                mb(mp4_bytes, s),
                100.0 * mb(mp4_bytes, s) / mb(seg_bytes, c)
            );
            std::fs::remove_dir_all(&out).expect("clean");
        }
        drop_caches();
        let t = Instant::now();
        copy_all(&copy);
        let s = t.elapsed().as_secs_f64();
        println!(
            "plain copy with cold sources onto the other device: {s:.3} s = {:.0} MB/s ({:.0} % of the cold read)",
            mb(seg_bytes, s),
            100.0 * mb(seg_bytes, s) / mb(seg_bytes, c)
        );
        std::fs::remove_file(&copy).expect("clean");
    }
    au.close().expect("close audit");
}

/// Whether a 4 KiB-aligned `O_DIRECT` write succeeds in `dir` (the export's writer tries
/// the same and falls back to buffered writes where it fails).
fn o_direct_accepted(dir: &Path) -> bool {
    let path = dir.join("o_direct_probe");
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .and_then(|f| {
            use std::os::unix::fs::FileExt;
            let mem = vec![0u8; 8192];
            let off = mem.as_ptr().align_offset(4096);
            f.write_all_at(&mem[off..off + 4096], 0)
        })
        .is_ok();
    let _ = std::fs::remove_file(&path);
    ok
}

/// The filesystem type of `dir` as `/proc/mounts` names it (the longest mount point
/// containing it).
fn fs_type(dir: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, at, ty) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(at).then(|| (at.len(), ty.to_string()))
        })
        .max_by_key(|(n, _)| *n)
        .map_or_else(|| "unknown filesystem".into(), |(_, ty)| ty)
}
