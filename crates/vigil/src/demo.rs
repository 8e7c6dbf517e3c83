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
    /// Target segment length in seconds (footage becomes exportable when its segment
    /// closes; tests use short segments).
    #[arg(long, default_value_t = Config::default().segment_seconds)]
    segment_seconds: u32,
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

    let logins = create_demo_users(&data_dir)?;
    let cfg = Config {
        data_dir: data_dir.clone(),
        // Plain HTTP on the loopback address only; `vigil serve` defaults to TLS.
        web_listen: format!("127.0.0.1:{}", a.web_port),
        web_tls: crate::config::WebTls::Off,
        segment_seconds: a.segment_seconds,
        ..Config::default()
    };
    cfg.validate()?;
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
    let control = sim.control_addr();
    let on_web: crate::recorder::OnWeb = Box::new(move |url: Option<&str>| {
        match url {
            Some(u) => {
                println!(
                    "  web UI         : {u}  (plain HTTP on 127.0.0.1; `vigil serve` uses TLS)"
                );
                println!("  logins (random passwords, made for this demo):");
                for (role, user, pass) in &logins {
                    println!("    {role:<14} {user:<8} {pass}");
                }
            }
            None => println!("  web UI         : not started (see the log above)"),
        }
        // Machine-readable lines for scripts and tests.
        if let Some(c) = control {
            println!("SIMCONTROL http://{c}");
        }
        if let Some(u) = url {
            println!("WEB {u}");
            for (role, user, pass) in &logins {
                println!("LOGIN {role} {user} {pass}");
            }
        }
        println!("Recording; Ctrl-C stops.");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    });
    let res =
        crate::recorder::serve_with(cfg, a.seconds.map(Duration::from_secs), Some(on_web)).await;
    sim.shutdown().await;
    res
}

/// One user per role with a random password: (role, user name, password).
fn create_demo_users(data_dir: &std::path::Path) -> Result<Vec<(String, String, String)>> {
    let g = govern::Govern::open(&data_dir.join(store::DB_FILE))
        .context("opening the demo's user database")?;
    let now = crate::user_cmd::now_secs();
    let mut out = Vec::new();
    for (role, name, display) in [
        (govern::Role::Administrator, "admin", "Nhân viên CNTT"),
        (govern::Role::Leadership, "leader", "Ban giám hiệu"),
        (govern::Role::Guard, "guard", "Tổ bảo vệ"),
        (govern::Role::Viewer, "viewer", "Người xem"),
    ] {
        let pass = crate::camera_cmd::random_password();
        g.create_user(name, display, role, &pass, now)
            .with_context(|| format!("creating the demo user {name}"))?;
        out.push((role.as_str().to_string(), name.to_string(), pass));
    }
    Ok(out)
}
