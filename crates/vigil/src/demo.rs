//! `vigil demo`: simulated cameras plus the recorder in a fresh data directory, all on
//! 127.0.0.1 — the README's first command.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;

#[derive(Args, Clone, Debug)]
pub struct DemoArgs {
    /// Number of simulated cameras.
    #[arg(long, default_value_t = 4)]
    cameras: usize,
    /// Data directory (default: a fresh directory under the system's temp dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    seconds: Option<u64>,
    /// Simulated cameras' RTSP port (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Live-encoded scenes (clock burned in; CPU per camera) or a cheap pre-encoded loop
    /// (for many cameras).
    #[arg(long, value_enum, default_value_t = crate::sim_cmd::SourceKind::Live)]
    source: crate::sim_cmd::SourceKind,
    /// Web UI port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub web_port: u16,
}

pub async fn run(a: DemoArgs) -> Result<()> {
    let data_dir = match a.data_dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!(
            "vigil-demo-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
        )),
    };
    if data_dir.join(store::DB_FILE).exists() {
        anyhow::bail!(
            "{} already holds a Vigil database: the demo needs a fresh directory (leave out \
             --data-dir, or give a new one)",
            data_dir.display()
        );
    }
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the demo's data directory {}", data_dir.display()))?;

    let cam_user = "camera".to_string();
    let cam_pass = crate::camera_cmd::random_password();
    let sim_args = crate::sim_cmd::SimArgs {
        cameras: a.cameras,
        source: a.source,
        width: if matches!(a.source, crate::sim_cmd::SourceKind::Loop) {
            1920
        } else {
            960
        },
        height: if matches!(a.source, crate::sim_cmd::SourceKind::Loop) {
            1080
        } else {
            540
        },
        fps: 15,
        bitrate: 1_500_000,
        gop: 30,
        sub: true,
        file: None,
        port: a.port,
        control_port: Some(0),
        user: Some(cam_user.clone()),
        password: Some(cam_pass.clone()),
        faults: None,
        cache_dir: None,
    };
    let sim = sim::Sim::start(crate::sim_cmd::build_config(&sim_args)?)
        .await
        .context("starting the simulated cameras")?;

    let urls: Vec<(String, String)> = (1..=a.cameras)
        .map(|i| {
            let name = format!("cam{i}");
            (sim.url(&name, false), sim.url(&name, true))
        })
        .collect();
    crate::camera_cmd::add_demo_cameras(&data_dir, &urls, &cam_user, &cam_pass)?;

    let cfg = Config {
        data_dir: data_dir.clone(),
        ..Config::default()
    };
    println!("Vigil demo");
    println!("  data directory : {}", data_dir.display());
    println!(
        "  cameras        : {} simulated (RTSP on {}, Digest user '{cam_user}' password '{cam_pass}')",
        a.cameras,
        sim.rtsp_addr()
    );
    for (i, (main, _)) in urls.iter().enumerate() {
        println!("    cam{}: {main}", i + 1);
    }
    if let Some(c) = sim.control_addr() {
        println!("  inject a fault : curl -X POST 'http://{c}/fault/cam1/black?secs=20'");
    }
    println!("  status         : vigil status -d {}", data_dir.display());
    println!(
        "  verify         : vigil verify-storage -d {}",
        data_dir.display()
    );
    println!("  (the web UI and its logins arrive with the control-room issue)");
    // Machine-readable lines for scripts and tests.
    if let Some(c) = sim.control_addr() {
        println!("SIMCONTROL http://{c}");
    }
    println!("Recording; Ctrl-C stops.");
    use std::io::Write;
    std::io::stdout().flush()?;
    let res = crate::recorder::serve(cfg, a.seconds.map(Duration::from_secs)).await;
    sim.shutdown().await;
    res
}
