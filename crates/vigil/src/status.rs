//! `vigil status` and `vigil verify-storage`: what the recorder is doing and whether the
//! footage is intact.
//!
//! A running `vigil serve` writes `status.json` in its data directory every 5 s (live
//! per-stream statistics); storage figures come from the database.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::recorder::WriterStatus;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusFile {
    pub written_at_ms: i64,
    pub pid: u32,
    pub streams: Vec<StreamStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StreamStatus {
    pub stream_id: i64,
    pub camera: String,
    pub kind: String,
    pub state: String,
    pub fps: f64,
    pub bitrate_bps: f64,
    pub gop_frames: u32,
    pub last_frame_ms: Option<i64>,
    pub reconnects: u64,
    pub frames: u64,
    /// Frame payload bytes received since the recorder started.
    pub bytes: u64,
    pub dropped: u64,
    pub drift_ms: f64,
    pub codec: Option<String>,
    pub resolution: Option<(u32, u32)>,
    pub last_error: Option<String>,
    pub writer: WriterStatus,
}

impl StreamStatus {
    pub fn from_parts(
        stream_id: i64,
        camera: &str,
        kind: &str,
        s: &ingest::StreamStats,
        writer: WriterStatus,
    ) -> StreamStatus {
        StreamStatus {
            stream_id,
            camera: camera.to_string(),
            kind: kind.to_string(),
            state: match s.state {
                ingest::StreamState::Connecting => "connecting",
                ingest::StreamState::Streaming => "streaming",
                ingest::StreamState::Backoff { .. } => "backoff",
                ingest::StreamState::Stopped => "stopped",
            }
            .to_string(),
            fps: s.fps,
            bitrate_bps: s.bitrate,
            gop_frames: s.gop_frames.unwrap_or(0),
            last_frame_ms: s.last_frame_time.map(|t| t / 90),
            reconnects: s.reconnects,
            frames: s.frames,
            bytes: s.bytes,
            dropped: s.dropped,
            drift_ms: s.drift_ms.unwrap_or(0.0),
            codec: s.codec.map(|c| c.as_str().to_string()),
            resolution: s.resolution,
            last_error: s.last_error.as_ref().map(|e| e.to_string()),
            writer,
        }
    }
}

pub fn read_status_file(path: &Path) -> Result<StatusFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Fails with a clear message when an external tool is missing.
pub fn require_tool(name: &str) -> Result<()> {
    let ok = std::process::Command::new(name)
        .arg("-version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    anyhow::ensure!(ok, "{name} is not installed: run ./scripts/install-deps.sh");
    Ok(())
}

fn open_store(cfg: &Config) -> Result<store::Store> {
    Ok(store::Store::open_client(&cfg.data_dir)?)
}

pub fn print(cfg: &Config, json: bool) -> Result<()> {
    let store = open_store(cfg)?;
    let now = crate::recorder::now_ticks();
    let usage = store.stream_usage(now)?;
    let live = read_status_file(&cfg.data_dir.join("status.json"))
        .ok()
        .filter(|s| {
            (now / 90 - s.written_at_ms) < 3 * crate::recorder::STATUS_INTERVAL.as_millis() as i64
        });
    if json {
        let v = serde_json::json!({
            "recorder_running": live.is_some(),
            "live": live,
            "storage": usage,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if live.is_none() {
        println!(
            "recorder: not running (no fresh status.json in {})",
            cfg.data_dir.display()
        );
    }
    println!(
        "{:<16} {:<5} {:<11} {:>6} {:>10} {:>5} {:>10} {:>9} {:>8}  alarms",
        "camera", "kind", "state", "fps", "bitrate", "recon", "used", "forecast", "floor"
    );
    for u in &usage {
        let l = live
            .as_ref()
            .and_then(|s| s.streams.iter().find(|x| x.stream_id == u.stream_id));
        let (state, fps, rate, recon) = match l {
            Some(l) => (
                if l.writer.schedule_off {
                    "sched-off".to_string()
                } else {
                    l.state.clone()
                },
                format!("{:.1}", l.fps),
                format!("{:.2} Mb/s", l.bitrate_bps / 1e6),
                l.reconnects.to_string(),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        let forecast = u
            .forecast_days
            .map(|d| format!("{d:.1} d"))
            .unwrap_or_else(|| "-".into());
        let mut alarms: Vec<String> = u.alarm.iter().map(|a| a.to_string()).collect();
        if let Some(e) = l.and_then(|l| l.writer.last_error.clone().or(l.last_error.clone())) {
            alarms.push(e);
        }
        println!(
            "{:<16} {:<5} {:<11} {:>6} {:>10} {:>5} {:>10} {:>9} {:>6} d  {}",
            u.camera,
            u.kind.to_string(),
            state,
            fps,
            rate,
            recon,
            store::plan::format_bytes(u.used_bytes),
            forecast,
            u.min_days,
            alarms.join("; ")
        );
    }
    Ok(())
}

/// Prints the verification report; true when everything is intact.
pub fn verify_storage(cfg: &Config) -> Result<bool> {
    let store = open_store(cfg)?;
    let mut report = store.verify_storage()?;
    // The chains against the newest storage seal in the audit trail (catches a rewritten
    // tail together with `next_seq`, which the index alone cannot show).
    let db = cfg.data_dir.join(store::DB_FILE);
    let sealed = match crate::audit_cmd::sealed_chain_problems(&store, &db) {
        Ok(check) => {
            report.problems.extend(check.problems);
            check.newest.zip(check.oldest).map(|n| (check.seals, n))
        }
        Err(e) => {
            eprintln!("warning: not compared with the audit trail's storage seals: {e:#}");
            None
        }
    };
    print!("{report}");
    if let Some((n, (newest, oldest))) = sealed {
        println!(
            "chains compared with {n} storage seal(s) of the audit trail (events {oldest}..={newest})"
        );
    }
    Ok(report.problems.is_empty())
}
