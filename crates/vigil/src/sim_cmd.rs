//! `vigil sim`: serve simulated RTSP cameras until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SourceKind {
    /// Render and encode a scene with the wall-clock time burned in (costs CPU per camera).
    Live,
    /// Replay one pre-encoded loop to every camera (cheap: hundreds of streams).
    Loop,
}

#[derive(Args, Clone, Debug)]
pub struct SimArgs {
    /// Number of cameras (served as /cam1/main, /cam1/sub, /cam2/main, …).
    #[arg(long, default_value_t = 4)]
    pub cameras: usize,
    #[arg(long, value_enum, default_value_t = SourceKind::Live)]
    pub source: SourceKind,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    #[arg(long, default_value_t = 15)]
    pub fps: u32,
    /// Main stream bitrate, bits per second.
    #[arg(long, default_value_t = 2_000_000)]
    pub bitrate: u32,
    /// Frames between key frames.
    #[arg(long, default_value_t = 30)]
    pub gop: u32,
    /// Also serve a 640x360 sub-stream per camera.
    #[arg(long)]
    pub sub: bool,
    /// An Annex B H.264/H.265 file to serve as an extra camera `file1` (codec from extension: .h265/.hevc → H.265).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// RTSP port on 127.0.0.1 (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 8554)]
    pub port: u16,
    /// HTTP control port for faults on command (`POST /fault/<camera>/<kind>?secs=N`).
    #[arg(long)]
    pub control_port: Option<u16>,
    /// Require these credentials (Digest auth).
    #[arg(long, requires = "password")]
    pub user: Option<String>,
    #[arg(long, requires = "user")]
    pub password: Option<String>,
    /// Faults on a schedule, e.g. `cam2:stall@30s+10s,cam1:black@60s+20s`.
    #[arg(long)]
    pub faults: Option<String>,
    /// Where encoded loops are cached between runs.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("vigil-sim")
}

pub fn build_config(a: &SimArgs) -> Result<sim::SimConfig> {
    let main = match a.source {
        SourceKind::Live => sim::SourceSpec::Live {
            width: a.width,
            height: a.height,
            fps: a.fps,
            bitrate_bps: a.bitrate,
            gop_frames: a.gop,
        },
        SourceKind::Loop => sim::SourceSpec::Loop {
            width: a.width,
            height: a.height,
            fps: a.fps,
            bitrate_bps: a.bitrate,
            gop_frames: a.gop,
            seconds: 10,
        },
    };
    let sub = a.sub.then_some(match a.source {
        SourceKind::Live => sim::SourceSpec::Live {
            width: 640,
            height: 360,
            fps: a.fps,
            bitrate_bps: 500_000,
            gop_frames: a.gop,
        },
        SourceKind::Loop => sim::SourceSpec::Loop {
            width: 640,
            height: 360,
            fps: a.fps,
            bitrate_bps: 500_000,
            gop_frames: a.gop,
            seconds: 10,
        },
    });
    let mut cameras: Vec<sim::CameraSpec> = (1..=a.cameras)
        .map(|i| sim::CameraSpec {
            name: format!("cam{i}"),
            main: main.clone(),
            sub: sub.clone(),
        })
        .collect();
    if let Some(path) = &a.file {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let codec = if matches!(ext, "h265" | "hevc" | "265") {
            media::Codec::H265
        } else {
            media::Codec::H264
        };
        cameras.push(sim::CameraSpec {
            name: "file1".into(),
            main: sim::SourceSpec::File {
                path: path.clone(),
                codec,
                fps: a.fps,
            },
            sub: None,
        });
    }
    let schedule = match &a.faults {
        Some(s) => sim::parse_schedule(s).context("--faults")?,
        None => Vec::new(),
    };
    let auth = match (&a.user, &a.password) {
        (Some(u), Some(p)) => Some(sim::Auth::Digest {
            user: u.clone(),
            pass: p.clone(),
        }),
        _ => None,
    };
    Ok(sim::SimConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], a.port)),
        control_bind: a
            .control_port
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
        auth,
        cameras,
        schedule,
        cache_dir: Some(a.cache_dir.clone().unwrap_or_else(default_cache_dir)),
    })
}

pub async fn run(a: SimArgs) -> Result<()> {
    let cfg = build_config(&a)?;
    let sim = sim::Sim::start(cfg)
        .await
        .context("starting the simulated cameras")?;
    let addr = sim.rtsp_addr();
    // The first line is machine-readable (benchmarks and tests wait for it).
    println!("READY rtsp://{addr}");
    for i in 1..=a.cameras {
        println!("  cam{i}: {}", sim.url(&format!("cam{i}"), false));
    }
    if let Some(c) = sim.control_addr() {
        println!("  faults: curl -X POST http://{c}/fault/cam1/stall?secs=10");
    }
    use std::io::Write;
    std::io::stdout().flush()?;
    wait_for_signal().await;
    sim.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
