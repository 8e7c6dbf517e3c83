//! `vigil serve`: the recorder's wiring.
//!
//! Per recorded camera stream: an `ingest` session (a tokio task) sends events through a
//! bounded channel to a writer thread that owns that stream's `store::Writer`. Writers block
//! only on their own files, so a slow or full disk for one stream never stalls another
//! stream's network reads. Around them: retention on a timer, the recording schedule, a
//! status file for `vigil status`, and a reconcile loop that starts, restarts and stops
//! streams when cameras are added, edited or removed in the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::status::{StatusFile, StreamStatus};

/// Events buffered between a stream's network task and its writer thread: ~17 s at 30 fps.
const CHANNEL_CAPACITY: usize = 512;

/// What the writer thread reports about itself.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WriterStatus {
    /// A segment is open and frames are being written.
    pub recording: bool,
    /// The schedule says "off" right now.
    pub schedule_off: bool,
    pub segments_closed: u64,
    pub write_errors: u64,
    pub last_error: Option<String>,
}

struct Running {
    fingerprint: String,
    camera: String,
    kind: String,
    handle: ingest::StreamHandle,
    writer: Option<std::thread::JoinHandle<()>>,
    status: Arc<Mutex<WriterStatus>>,
}

pub async fn serve(cfg: Config, stop_after: Option<Duration>) -> Result<()> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        format!(
            "creating the data directory {}: check the path and its permissions",
            cfg.data_dir.display()
        )
    })?;
    let opts = store::StoreOptions {
        segment_duration: media::Ticks::from(cfg.segment_seconds) * media::time::TICKS_PER_SEC,
        fragment_max_duration: i64::from(cfg.fragment_ms) * 90,
        sync_interval: (cfg.sync_interval_ms >= 0).then_some(cfg.sync_interval_ms * 90),
        ..Default::default()
    };
    let dir = cfg.data_dir.clone();
    let (store, report) = tokio::task::spawn_blocking(move || store::Store::open(&dir, opts))
        .await?
        .with_context(|| format!("opening the store in {}", cfg.data_dir.display()))?;
    info!(?report, "store opened");

    let mut running: HashMap<i64, Running> = HashMap::new();
    let stop = async {
        match stop_after {
            Some(d) => tokio::time::sleep(d).await,
            None => crate::sim_cmd::wait_for_signal().await,
        }
    };
    tokio::pin!(stop);
    let mut reconcile_tick = tokio::time::interval(Duration::from_secs(5));
    let mut status_tick = tokio::time::interval(Duration::from_secs(2));
    let mut retention_tick =
        tokio::time::interval(Duration::from_secs(cfg.retention_interval_seconds.into()));
    let status_path = cfg.data_dir.join("status.json");
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = reconcile_tick.tick() => {
                if let Err(e) = reconcile(&store, &cfg, &mut running).await {
                    error!("reading the camera list: {e:#}");
                }
            }
            _ = status_tick.tick() => {
                if let Err(e) = write_status(&status_path, &running) {
                    warn!("writing {}: {e:#}", status_path.display());
                }
            }
            _ = retention_tick.tick() => {
                let s = store.clone();
                let now = now_ticks();
                match tokio::task::spawn_blocking(move || s.run_retention(now)).await? {
                    Ok(r) => if r.deleted_segments > 0 { info!(?r, "retention") },
                    Err(e) => error!("retention: {e:#}"),
                }
            }
        }
    }
    info!("stopping: closing every open segment");
    let threads: Vec<_> = running
        .drain()
        .filter_map(|(_, r)| {
            r.handle.stop();
            r.writer
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        for t in threads {
            let _ = t.join();
        }
    })
    .await?;
    let _ = std::fs::remove_file(&status_path);
    Ok(())
}

pub fn now_ticks() -> media::Ticks {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs() as i64 * media::time::TICKS_PER_SEC
        + i64::from(d.subsec_nanos()) * media::time::TICKS_PER_SEC / 1_000_000_000
}

/// Starts what should run, stops what should not, restarts what changed.
async fn reconcile(
    store: &store::Store,
    cfg: &Config,
    running: &mut HashMap<i64, Running>,
) -> Result<()> {
    let s = store.clone();
    let (cameras, streams) =
        tokio::task::spawn_blocking(move || -> Result<_> { Ok((s.cameras()?, s.streams()?)) })
            .await??;
    let mut wanted: HashMap<i64, (store::Camera, store::StreamInfo, String)> = HashMap::new();
    for st in streams {
        let Some(cam) = cameras.iter().find(|c| c.id == st.camera_id) else {
            continue;
        };
        if !cam.enabled || !st.record {
            continue;
        }
        let fp = format!(
            "{}|{}|{}|{}|{:?}",
            st.url,
            cam.username.as_deref().unwrap_or(""),
            cam.password.as_deref().unwrap_or(""),
            serde_json::to_string(&cam.schedule).unwrap_or_default(),
            cfg.stall_timeout_seconds
        );
        wanted.insert(st.id, (cam.clone(), st, fp));
    }
    let stale: Vec<i64> = running
        .iter()
        .filter(|(id, r)| wanted.get(id).is_none_or(|w| w.2 != r.fingerprint))
        .map(|(id, _)| *id)
        .collect();
    for id in stale {
        if let Some(r) = running.remove(&id) {
            info!(camera = %r.camera, kind = %r.kind, "stopping stream (camera changed, disabled or removed)");
            r.handle.stop();
            if let Some(t) = r.writer {
                tokio::task::spawn_blocking(move || t.join()).await?.ok();
            }
        }
    }
    for (id, (cam, st, fp)) in wanted {
        if running.contains_key(&id) {
            continue;
        }
        match start_stream(store, cfg, &cam, &st, fp) {
            Ok(r) => {
                info!(camera = %cam.name, kind = %st.kind, "recording stream");
                running.insert(id, r);
            }
            Err(e) => error!(camera = %cam.name, "cannot start stream: {e:#}"),
        }
    }
    Ok(())
}

fn start_stream(
    store: &store::Store,
    cfg: &Config,
    cam: &store::Camera,
    st: &store::StreamInfo,
    fingerprint: String,
) -> Result<Running> {
    let url = url::Url::parse(&st.url).with_context(|| {
        format!(
            "camera {}: {} URL is not a URL: fix it with `vigil camera edit`",
            cam.name, st.kind
        )
    })?;
    let mut scfg = ingest::StreamConfig::new(format!("{}/{}", cam.name, st.kind), url);
    if let Some(u) = &cam.username {
        scfg.credentials = Some(ingest::Credentials {
            username: u.clone(),
            password: cam.password.clone().unwrap_or_default(),
        });
    }
    scfg.stall_timeout = Duration::from_secs(cfg.stall_timeout_seconds.into());
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let handle = ingest::spawn(scfg, tx);
    let writer = store.writer(st.id).with_context(|| {
        format!(
            "camera {}: opening its {} stream's writer",
            cam.name, st.kind
        )
    })?;
    let status = Arc::new(Mutex::new(WriterStatus::default()));
    let schedule = cam.schedule.clone();
    let offset_secs = i64::from(cfg.utc_offset_minutes) * 60;
    let name = format!("{}/{}", cam.name, st.kind);
    let st2 = status.clone();
    let thread = std::thread::Builder::new()
        .name(format!("rec-{}", st.id))
        .stack_size(256 * 1024)
        .spawn(move || writer_loop(name, writer, rx, schedule, offset_secs, st2))?;
    Ok(Running {
        fingerprint,
        camera: cam.name.clone(),
        kind: st.kind.to_string(),
        handle,
        writer: Some(thread),
        status,
    })
}

/// The writer thread: applies the schedule and hands frames to the store.
fn writer_loop(
    name: String,
    mut w: store::Writer,
    mut rx: mpsc::Receiver<ingest::Event>,
    schedule: store::schedule::Schedule,
    utc_offset_secs: i64,
    status: Arc<Mutex<WriterStatus>>,
) {
    use store::schedule::Mode;
    // The schedule's answer and until when it holds (local seconds).
    let mut mode = Mode::Continuous;
    let mut mode_until = i64::MIN;
    let mut last_logged_error = i64::MIN;
    while let Some(ev) = rx.blocking_recv() {
        match ev {
            ingest::Event::Frame(f) => {
                let local = f.time.div_euclid(media::time::TICKS_PER_SEC) + utc_offset_secs;
                if local >= mode_until || local < mode_until - 8 * 86_400 {
                    mode = schedule.mode_at(local);
                    mode_until = schedule
                        .next_change(local)
                        .map(|d| local + d.max(1))
                        .unwrap_or(local + 60);
                }
                if mode == Mode::Off {
                    if w.is_recording() {
                        log_end(&name, w.end_segment("recording schedule: off"));
                    }
                    let mut s = status.lock().unwrap();
                    s.schedule_off = true;
                    s.recording = false;
                    continue;
                }
                match w.push(&f) {
                    Ok(()) => {
                        let mut s = status.lock().unwrap();
                        s.schedule_off = false;
                        s.recording = true;
                    }
                    Err(e) => {
                        let mut s = status.lock().unwrap();
                        s.write_errors += 1;
                        s.recording = false;
                        s.last_error = Some(e.to_string());
                        drop(s);
                        let secs = f.time / media::time::TICKS_PER_SEC;
                        if secs >= last_logged_error + 30 {
                            last_logged_error = secs;
                            error!(stream = %name, "recording: {e}");
                        }
                    }
                }
            }
            ingest::Event::Disconnected { reason } => {
                log_end(
                    &name,
                    w.end_segment(format!("camera disconnected: {reason}")),
                );
                status.lock().unwrap().recording = false;
            }
            ingest::Event::Discontinuity { reason } => {
                log_end(&name, w.end_segment(reason));
            }
            _ => {}
        }
    }
    match w.close() {
        Ok(stats) => info!(stream = %name, ?stats, "writer closed"),
        Err(e) => error!(stream = %name, "closing the last segment: {e}"),
    }
    status.lock().unwrap().recording = false;
}

fn log_end(name: &str, r: Result<(), store::WriteError>) {
    if let Err(e) = r {
        error!(stream = %name, "closing a segment: {e}");
    }
}

fn write_status(path: &Path, running: &HashMap<i64, Running>) -> Result<()> {
    let mut streams: Vec<StreamStatus> = running
        .iter()
        .map(|(id, r)| {
            let ing = r.handle.stats();
            let w = r.status.lock().unwrap().clone();
            StreamStatus::from_parts(*id, &r.camera, &r.kind, &ing, w)
        })
        .collect();
    streams.sort_by(|a, b| {
        (a.camera.as_str(), a.kind.as_str()).cmp(&(b.camera.as_str(), b.kind.as_str()))
    });
    let file = StatusFile {
        written_at_ms: now_ticks() / 90,
        pid: std::process::id(),
        streams,
    };
    let tmp: PathBuf = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&file)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
