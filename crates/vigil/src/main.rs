//! # vigil — the binary
//!
//! Vigil records a school's IP cameras without transcoding and keeps the footage exactly as
//! the school's regulation says. This crate is only the edge: the command line, the server
//! configuration, and the wiring of the library crates (`ingest` → `store`, retention,
//! schedules, status). Business rules live in the library crates; see ARCHITECTURE.md.

mod audit_cmd;
mod bench;
mod camera_cmd;
mod config;
mod demo;
mod procstat;
mod recorder;
mod sim_cmd;
mod status;
mod user_cmd;
mod verify_cmd;
mod webui;
mod writer_pool;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Vigil — network video recorder and governance for school CCTV"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the data lives: a config file, or a data directory given directly.
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// Server configuration file (TOML). Without it, defaults apply.
    #[arg(long, short = 'c', env = "VIGIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database and segments); overrides the config file's `data_dir`.
    #[arg(long, short = 'd', env = "VIGIL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataArgs {
    pub fn load(&self) -> Result<config::Config> {
        let mut cfg = config::Config::load(self.config.as_deref())?;
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        Ok(cfg)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Record every enabled camera until stopped (SIGINT/SIGTERM).
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Stop after this many seconds (for tests and scripts).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Simulated cameras plus the recorder in a fresh data directory.
    Demo(demo::DemoArgs),
    /// Add, list, edit or remove cameras (kept in the database).
    #[command(subcommand)]
    Camera(camera_cmd::CameraCmd),
    /// Per stream: state, fps, bitrate, used space, forecast days, alarms.
    Status {
        #[command(flatten)]
        data: DataArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve simulated RTSP cameras (with faults) until stopped.
    Sim(sim_cmd::SimArgs),
    /// Storage plan: quotas, forecast days and advice for a fleet of cameras.
    Plan(camera_cmd::PlanArgs),
    /// Re-hash every segment and name every one that is missing, altered or unindexed.
    VerifyStorage {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Add, list and manage the people who sign in to the web UI.
    #[command(subcommand)]
    User(user_cmd::UserCmd),
    /// Check an evidence package offline: AUTHENTIC, or exactly what is wrong.
    Verify(verify_cmd::VerifyArgs),
    /// The audit trail: verify its chain and seals, export it as CSV.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCmd),
    /// Benchmarks (`vigil bench ingest`).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> std::process::ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("vigil-rt")
        .build()?)
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match cli.cmd {
        Cmd::Serve { data, seconds } => {
            let cfg = data.load()?;
            runtime()?.block_on(recorder::serve(
                cfg,
                seconds.map(std::time::Duration::from_secs),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Demo(args) => {
            runtime()?.block_on(demo::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Camera(c) => {
            camera_cmd::run(c)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status { data, json } => {
            status::print(&data.load()?, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Sim(args) => {
            runtime()?.block_on(sim_cmd::run(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Plan(args) => {
            camera_cmd::plan(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::VerifyStorage { data } => {
            let ok = status::verify_storage(&data.load()?)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::User(c) => {
            user_cmd::run(c)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify(a) => Ok(if verify_cmd::run(a)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        Cmd::Audit(c) => Ok(if audit_cmd::run(c)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }),
        Cmd::Bench(b) => {
            bench::run(b)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
