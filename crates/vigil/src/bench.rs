//! `vigil bench ingest`: records N simulated cameras for a fixed time and measures the
//! recorder's own process (CPU, memory, bytes written), then records the same streams with
//! one `ffmpeg -c copy -f segment` per camera (how Frigate records) in the same run.
//!
//! The simulator runs in a separate process, so its CPU is never counted. Figures are
//! ratios within one run on a shared, noisy machine; see BENCHMARKS.md.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::procstat::{self, ProcSample};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Recording cost per stream: Vigil against ffmpeg stream copy.
    Ingest(IngestArgs),
}

#[derive(Args)]
pub struct IngestArgs {
    /// Stream counts to measure, comma separated.
    #[arg(long, default_value = "10,30,100", value_delimiter = ',')]
    streams: Vec<usize>,
    /// Measured seconds per run (after the warm-up).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Warm-up seconds before measuring (connections, first segments).
    #[arg(long, default_value_t = 15)]
    warmup: u64,
    #[arg(long, default_value_t = 1920)]
    width: u32,
    #[arg(long, default_value_t = 1080)]
    height: u32,
    #[arg(long, default_value_t = 15)]
    fps: u32,
    #[arg(long, default_value_t = 2_000_000)]
    bitrate: u32,
    /// Skip the ffmpeg baseline.
    #[arg(long)]
    no_ffmpeg: bool,
    /// Where the recordings go (a fresh subdirectory per run, removed afterwards).
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// Extra settings for the recorder's config file, e.g. `fragment_ms = 2000`.
    #[arg(long)]
    recorder_config: Option<String>,
}

struct Measured {
    cpu_secs: f64,
    wall_secs: f64,
    write_bytes: u64,
    rss: u64,
    peak_rss: u64,
    pss: u64,
    received_bytes: u64,
}

struct ChildGuard(Vec<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SAFETY: plain kill(2) of a child we started.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &mut self.0 {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
}

pub fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Ingest(a) => ingest(a),
    }
}

fn sum_samples(pids: &[u32]) -> Result<ProcSample> {
    let mut t = ProcSample::default();
    for &p in pids {
        let s = procstat::sample(p)?;
        t.cpu_secs += s.cpu_secs;
        t.write_bytes += s.write_bytes;
        t.rss += s.rss;
        t.peak_rss += s.peak_rss;
        t.pss += s.pss;
    }
    Ok(t)
}

fn measure(
    pids: &[u32],
    warmup: u64,
    seconds: u64,
    received: &dyn Fn() -> u64,
) -> Result<Measured> {
    std::thread::sleep(Duration::from_secs(warmup));
    let a = sum_samples(pids)?;
    let ra = received();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let b = sum_samples(pids)?;
    let rb = received();
    Ok(Measured {
        cpu_secs: b.cpu_secs - a.cpu_secs,
        wall_secs: t0.elapsed().as_secs_f64(),
        write_bytes: b.write_bytes.saturating_sub(a.write_bytes),
        rss: b.rss,
        peak_rss: b.peak_rss,
        pss: b.pss,
        received_bytes: rb.saturating_sub(ra),
    })
}

fn start_sim(exe: &Path, a: &IngestArgs, n: usize) -> Result<(Child, String)> {
    let mut child = Command::new(exe)
        .args(["sim", "--source", "loop", "--port", "0"])
        .args(["--cameras", &n.to_string()])
        .args([
            "--width",
            &a.width.to_string(),
            "--height",
            &a.height.to_string(),
        ])
        .args([
            "--fps",
            &a.fps.to_string(),
            "--bitrate",
            &a.bitrate.to_string(),
        ])
        .args(["--gop", &(a.fps * 2).to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the simulator (vigil sim)")?;
    let out = child.stdout.take().context("sim stdout")?;
    let mut lines = BufReader::new(out).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(url) = line.strip_prefix("READY ") {
            let base = url.trim().to_string();
            // Keep draining stdout so the simulator never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Ok((child, base));
        }
    }
    bail!("the simulator exited before it was ready; see its messages above")
}

fn recorder_received(status_path: &Path) -> u64 {
    crate::status::read_status_file(status_path)
        .map(|s| s.streams.iter().map(|x| x.bytes).sum())
        .unwrap_or(0)
}

fn ingest(a: IngestArgs) -> Result<()> {
    let exe = std::env::current_exe()?;
    if !a.no_ffmpeg {
        crate::status::require_tool("ffmpeg")?;
    }
    println!(
        "| streams | recorder | CPU % of one core per stream | CPU s per stream-minute | RSS (MiB) | peak RSS (MiB) | PSS per stream (MiB) | write amplification | vs ffmpeg (CPU) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &n in &a.streams {
        let (sim, base) = start_sim(&exe, &a, n)?;
        let _sim_guard = ChildGuard(vec![sim]);
        let urls: Vec<String> = (1..=n).map(|i| format!("{base}/cam{i}/main")).collect();

        // Vigil.
        let dir = a.work_dir.join(format!("vigil-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let cfg_path = dir.join("vigil.toml");
        std::fs::write(
            &cfg_path,
            format!(
                "data_dir = {:?}\n{}\n",
                dir.join("data"),
                a.recorder_config.as_deref().unwrap_or("")
            ),
        )?;
        crate::camera_cmd::add_sim_cameras(&dir.join("data"), &urls)?;
        let rec = Command::new(&exe)
            .args(["serve", "--config"])
            .arg(&cfg_path)
            .env("VIGIL_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the recorder (vigil serve)")?;
        let pid = rec.id();
        let guard = ChildGuard(vec![rec]);
        let status_path = dir.join("data").join("status.json");
        let m = measure(&[pid], a.warmup, a.seconds, &|| {
            recorder_received(&status_path)
        })?;
        drop(guard);
        let vigil_pct = m.cpu_secs / m.wall_secs / n as f64 * 100.0;
        let per_stream_rate = m.received_bytes as f64 / m.wall_secs / n as f64;
        print_row(n, "vigil", &m, n, m.received_bytes, None);

        // ffmpeg, one process per camera, as Frigate records.
        if !a.no_ffmpeg {
            let fdir = a.work_dir.join(format!("ffmpeg-{n}"));
            let _ = std::fs::remove_dir_all(&fdir);
            let mut kids = Vec::new();
            for (i, url) in urls.iter().enumerate() {
                let d = fdir.join(format!("cam{}", i + 1));
                std::fs::create_dir_all(&d)?;
                kids.push(
                    Command::new("ffmpeg")
                        .args([
                            "-nostdin",
                            "-loglevel",
                            "error",
                            "-rtsp_transport",
                            "tcp",
                            "-i",
                        ])
                        .arg(url)
                        .args(["-c", "copy", "-f", "segment", "-segment_time", "60"])
                        .args(["-reset_timestamps", "1", "-strftime", "0"])
                        .arg(d.join("%05d.mp4"))
                        .stdout(Stdio::null())
                        .spawn()
                        .context("starting ffmpeg")?,
                );
            }
            let pids: Vec<u32> = kids.iter().map(|c| c.id()).collect();
            let guard = ChildGuard(kids);
            let est = (per_stream_rate * n as f64) as u64;
            let fm = measure(&pids, a.warmup, a.seconds, &|| 0)?;
            drop(guard);
            let ff_pct = fm.cpu_secs / fm.wall_secs / n as f64 * 100.0;
            let received = (est as f64 * fm.wall_secs) as u64;
            print_row(n, "ffmpeg -c copy", &fm, n, received, None);
            println!(
                "| {n} | ratio | ffmpeg/vigil CPU = {:.2}× | | | | | | |",
                ff_pct / vigil_pct.max(1e-9)
            );
            let _ = std::fs::remove_dir_all(&fdir);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn print_row(n: usize, who: &str, m: &Measured, streams: usize, received: u64, _x: Option<()>) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let pct = m.cpu_secs / m.wall_secs / streams as f64 * 100.0;
    let per_min = m.cpu_secs / (streams as f64 * m.wall_secs / 60.0);
    let wa = if received > 0 {
        format!("{:.4}", m.write_bytes as f64 / received as f64)
    } else {
        "n/a".into()
    };
    println!(
        "| {n} | {who} | {pct:.3} % | {per_min:.4} | {:.1} | {:.1} | {:.2} | {wa} | |",
        mib(m.rss),
        mib(m.peak_rss),
        mib(m.pss) / streams as f64,
    );
}
