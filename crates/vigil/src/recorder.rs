//! `vigil serve`: the recorder's wiring.
//!
//! Per recorded camera stream: an `ingest` session (a tokio task) sends events through a
//! bounded channel that the writer pool (`writer_pool`) drains in batches into that
//! stream's `store::Writer`. Network reads never wait for the disk: a full channel makes
//! ingest drop frames up to the next key frame. Around them: retention on a timer, the
//! recording schedule, a status file for `vigil status`, and a reconcile loop that starts,
//! restarts and stops streams when cameras are added, edited or removed in the database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::status::{StatusFile, StreamStatus};

/// How often `status.json` is rewritten.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(5);

/// Events buffered between a stream's network task and the writer pool: ~17 s at 30 fps.
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
    camera_id: i64,
    stream_kind: store::StreamKind,
    camera: String,
    kind: String,
    handle: ingest::StreamHandle,
    closing: Arc<AtomicBool>,
    done: std::sync::mpsc::Receiver<()>,
    status: Arc<Mutex<WriterStatus>>,
}

impl Running {
    /// Stops the network side and waits (off the async threads) until the pool has
    /// written what was queued and closed the segment.
    async fn stop(self) {
        self.handle.stop();
        self.closing.store(true, Ordering::SeqCst);
        let done = self.done;
        let _ =
            tokio::task::spawn_blocking(move || done.recv_timeout(Duration::from_secs(60))).await;
    }
}

pub async fn serve(cfg: Config, stop_after: Option<Duration>) -> Result<()> {
    serve_with(cfg, stop_after, None).await
}

/// Called once the web UI listens, with its URL (`None`: no web UI).
pub type OnWeb = Box<dyn FnOnce(Option<&str>) + Send>;

/// [`serve`], telling `on_web` where the web UI listens (the demo prints it).
pub async fn serve_with(
    cfg: Config,
    stop_after: Option<Duration>,
    on_web: Option<OnWeb>,
) -> Result<()> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        format!(
            "creating the data directory {}: check the path and its permissions",
            cfg.data_dir.display()
        )
    })?;
    // Recording never waits on the export drive: say loudly what to do, and let exports
    // fail with that reason until it is fixed.
    if let Err(e) = cfg.prepare_export_dir() {
        tracing::error!(
            "{e:#} — recording continues; evidence exports will fail until this is fixed"
        );
    }
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
    let audit = crate::audit_cmd::open_for_recorder(&cfg.data_dir).await?;

    let mut pool = crate::writer_pool::WriterPool::new(
        cfg.writer_threads as usize,
        Duration::from_millis(cfg.write_interval_ms.into()),
    )
    .context("starting the writer threads")?;
    let mut running: HashMap<i64, Running> = HashMap::new();
    let live = web::LiveRegistry::default();
    // The web UI beside the recorder, over the same store and live streams. A web UI that
    // cannot start (port in use, bad certificate) is logged; recording goes on.
    let web_ui = match crate::webui::start(&cfg, store.clone(), live.clone(), audit.clone()).await {
        Ok(w) => w,
        Err(e) => {
            error!("web UI not started: {e:#}");
            None
        }
    };
    if let Some(f) = on_web {
        f(web_ui.as_ref().map(|w| w.url.as_str()));
    }
    let stop = async {
        match stop_after {
            Some(d) => tokio::time::sleep(d).await,
            None => crate::sim_cmd::wait_for_signal().await,
        }
    };
    tokio::pin!(stop);
    let mut reconcile_tick = tokio::time::interval(Duration::from_secs(5));
    // The status file is for `vigil status` and scripts; at 100 cameras each write is ~40 kB,
    // so it is written every few seconds, compactly (it counts in the write amplification).
    let mut status_tick = tokio::time::interval(STATUS_INTERVAL);
    let mut retention_tick =
        tokio::time::interval(Duration::from_secs(cfg.retention_interval_seconds.into()));
    let status_path = cfg.data_dir.join("status.json");
    let storage_seals = std::sync::Arc::new(std::sync::Mutex::new(
        crate::audit_cmd::StorageSeals::default(),
    ));
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = reconcile_tick.tick() => {
                if let Err(e) = reconcile(&store, &cfg, &mut running, &mut pool, &live).await {
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
                let (dir, configured) = (cfg.data_dir.clone(), cfg.storage_bytes);
                let audit = audit.clone();
                let seals = storage_seals.clone();
                let r = tokio::task::spawn_blocking(move || -> Result<_> {
                    let mut r = s.run_retention(now)?;
                    let limit = storage_limit(&dir, configured, s.footage_bytes()?)?;
                    let t = s.enforce_total(limit)?;
                    r.deleted_segments += t.deleted_segments;
                    r.deleted_bytes += t.deleted_bytes;
                    r.streams.extend(t.streams);
                    let mut seals = seals.lock().unwrap_or_else(|p| p.into_inner());
                    crate::audit_cmd::retention_events(&audit, &s, &r, &mut seals);
                    Ok(r)
                })
                .await?;
                match r {
                    Ok(r) => if r.deleted_segments > 0 { info!(?r, "retention") },
                    Err(e) => error!("retention: {e:#}"),
                }
            }
        }
    }
    info!("stopping: closing every open segment");
    for (_, r) in running.drain() {
        r.handle.stop();
    }
    if let Some(w) = web_ui {
        w.stop().await;
    }
    tokio::task::spawn_blocking(move || pool.shutdown()).await?;
    // The heads of the segments just closed, sealed with the trail's closing seal.
    {
        let (audit, store, seals) = (audit.clone(), store.clone(), storage_seals.clone());
        tokio::task::spawn_blocking(move || {
            let mut seals = seals.lock().unwrap_or_else(|p| p.into_inner());
            crate::audit_cmd::storage_seal(&audit, &store, &mut seals);
        })
        .await?;
    }
    crate::audit_cmd::close_for_recorder(audit).await;
    let _ = std::fs::remove_file(&status_path);
    Ok(())
}

/// The bytes of footage Vigil may keep: `storage_bytes` from the config when set; else what
/// it holds now plus the filesystem's free space, minus a reserve (2 % of the filesystem,
/// at least 1 GiB) — so footage never fills the disk, even as other files grow.
pub fn storage_limit(data_dir: &Path, configured: u64, footage: u64) -> Result<u64> {
    if configured > 0 {
        return Ok(configured);
    }
    let c = std::ffi::CString::new(data_dir.as_os_str().as_encoded_bytes())?;
    // SAFETY: statvfs writes into the zeroed struct we pass; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statvfs {}", data_dir.display()));
    }
    let frsize = st.f_frsize as u64;
    let total = st.f_blocks as u64 * frsize;
    let avail = st.f_bavail as u64 * frsize;
    let reserve = (total / 50).max(1 << 30);
    Ok((footage + avail).saturating_sub(reserve))
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
    pool: &mut crate::writer_pool::WriterPool,
    live: &web::LiveRegistry,
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
        // Every stream of an enabled camera runs (the live wall watches sub-streams);
        // only those with `record` are written.
        // A stream without a URL (a sub URL removed) has nothing to connect to.
        if !cam.enabled || st.url.is_empty() {
            continue;
        }
        let fp = format!(
            "{}|{}|{}|{}|{}|{:?}",
            st.record,
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
            live.remove(r.camera_id, r.stream_kind);
            r.stop().await;
        }
    }
    for (id, (cam, st, fp)) in wanted {
        if running.contains_key(&id) {
            continue;
        }
        match start_stream(store, cfg, &cam, &st, fp, pool, live) {
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
    pool: &mut crate::writer_pool::WriterPool,
    live: &web::LiveRegistry,
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
    let writer = if st.record {
        Some(store.writer(st.id).with_context(|| {
            format!(
                "camera {}: opening its {} stream's writer",
                cam.name, st.kind
            )
        })?)
    } else {
        None
    };
    live.insert(cam.id, st.kind, handle.monitor());
    let status = Arc::new(Mutex::new(WriterStatus::default()));
    let closing = Arc::new(AtomicBool::new(false));
    let (done_tx, done) = std::sync::mpsc::channel();
    pool.add(crate::writer_pool::Slot {
        name: format!("{}/{}", cam.name, st.kind),
        rx,
        writer,
        schedule: cam.schedule.clone(),
        utc_offset_secs: i64::from(cfg.utc_offset_minutes) * 60,
        status: status.clone(),
        closing: closing.clone(),
        done: done_tx,
    });
    Ok(Running {
        fingerprint,
        camera_id: cam.id,
        stream_kind: st.kind,
        camera: cam.name.clone(),
        kind: st.kind.to_string(),
        handle,
        closing,
        done,
        status,
    })
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
    std::fs::write(&tmp, serde_json::to_vec(&file)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
