//! `vigil camera add|list|edit|remove` and `vigil plan`. Every change is an audit event
//! (`config.camera`, by `cli:<unix user>`), written beside a running recorder too.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::audit_cmd::CliAudit;
use crate::DataArgs;

#[derive(Subcommand)]
pub enum CameraCmd {
    /// Add a camera (its main stream, and its sub-stream if given).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// A short unique name, e.g. `gate` or `hall-2`.
        name: String,
        #[command(flatten)]
        opts: CameraOpts,
    },
    /// List cameras (passwords are never shown).
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Change a camera's settings; options not given stay as they are.
    Edit {
        #[command(flatten)]
        data: DataArgs,
        name: String,
        #[command(flatten)]
        opts: CameraOpts,
    },
    /// Remove a camera from the configuration. Its footage stays until retention removes it.
    Remove {
        #[command(flatten)]
        data: DataArgs,
        name: String,
    },
}

#[derive(Args, Clone, Debug, Default)]
pub struct CameraOpts {
    /// Main stream RTSP URL (recorded).
    #[arg(long)]
    main: Option<String>,
    /// Sub-stream RTSP URL (for the live wall; recorded only with --record-sub).
    #[arg(long)]
    sub: Option<String>,
    /// Camera user name (RTSP Basic/Digest).
    #[arg(long)]
    user: Option<String>,
    /// Camera password (or set VIGIL_CAMERA_PASSWORD, which keeps it out of `ps`).
    #[arg(long, env = "VIGIL_CAMERA_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Where the camera is, e.g. `Cổng chính`.
    #[arg(long)]
    zone: Option<String>,
    /// Department responsible for the camera's area.
    #[arg(long)]
    department: Option<String>,
    /// Recording schedule, e.g. `mon-fri 06:00-18:00 continuous; sat,sun off; default continuous`.
    #[arg(long)]
    schedule: Option<String>,
    /// Byte quota of the main stream, e.g. `380G`.
    #[arg(long)]
    quota: Option<String>,
    /// Days of footage that must be kept at least (alarm below it).
    #[arg(long)]
    min_days: Option<u32>,
    /// Days after which footage is deleted (privacy ceiling).
    #[arg(long)]
    max_days: Option<u32>,
    /// Also record the sub-stream.
    #[arg(long)]
    record_sub: Option<bool>,
    /// Enable or disable the camera.
    #[arg(long)]
    enabled: Option<bool>,
}

pub fn run(c: CameraCmd) -> Result<()> {
    match c {
        CameraCmd::Add { data, name, opts } => {
            let (store, dir) = open(&data)?;
            let main = opts
                .main
                .clone()
                .context("a camera needs its main stream URL: add --main rtsp://HOST/PATH")?;
            check_url(&main)?;
            if let Some(s) = &opts.sub {
                check_url(s)?;
            }
            check_opts(&opts)?;
            let audit = CliAudit::open(&dir)?;
            let id = store.add_camera(store::NewCamera {
                name: name.clone(),
                main_url: main,
                sub_url: opts.sub.clone(),
                username: opts.user.clone(),
                password: opts.password.clone(),
                zone: opts.zone.clone(),
                department: opts.department.clone(),
                ..Default::default()
            })?;
            let applied = apply_opts(&store, &name, &opts);
            audit.record(
                "config.camera",
                format!("camera:{id}"),
                audit_detail("add", &name, &opts, &applied),
            )?;
            audit.close()?;
            applied?;
            println!("added camera {name} (id {id})");
        }
        CameraCmd::List { data } => {
            let (store, _) = open(&data)?;
            let cams = store.cameras()?;
            let streams = store.streams()?;
            println!(
                "{:<16} {:<8} {:<44} {:<10} zone / schedule",
                "name", "enabled", "main URL", "user"
            );
            for c in cams {
                println!(
                    "{:<16} {:<8} {:<44} {:<10} {} / {}",
                    c.name,
                    if c.enabled { "yes" } else { "no" },
                    redact(&c.main_url),
                    c.username.as_deref().unwrap_or("-"),
                    c.zone.as_deref().unwrap_or("-"),
                    c.schedule
                );
                for s in streams.iter().filter(|s| s.camera_id == c.id) {
                    println!(
                        "    {:<5} record={} quota={} min_days={} max_days={}",
                        s.kind,
                        s.record,
                        if s.quota_bytes == 0 {
                            "-".to_string()
                        } else {
                            format!("{:.1} GB", s.quota_bytes as f64 / 1e9)
                        },
                        s.min_days,
                        s.max_days
                    );
                }
            }
        }
        CameraCmd::Edit { data, name, opts } => {
            let (store, dir) = open(&data)?;
            let cam = store
                .camera_by_name(&name)?
                .with_context(|| format!("no camera named {name}: see `vigil camera list`"))?;
            if let Some(u) = &opts.main {
                check_url(u)?;
            }
            if let Some(u) = &opts.sub {
                check_url(u)?;
            }
            check_opts(&opts)?;
            let audit = CliAudit::open(&dir)?;
            let updated = if opts.main.is_some()
                || opts.sub.is_some()
                || opts.user.is_some()
                || opts.password.is_some()
                || opts.zone.is_some()
                || opts.department.is_some()
            {
                store.update_camera(
                    cam.id,
                    store::CameraUpdate {
                        main_url: opts.main.clone(),
                        sub_url: opts.sub.clone().map(Some),
                        username: opts.user.clone().map(Some),
                        password: opts.password.clone().map(Some),
                        zone: opts.zone.clone().map(Some),
                        department: opts.department.clone().map(Some),
                        ..Default::default()
                    },
                )
            } else {
                Ok(())
            };
            // Whatever part was made is recorded, also when a later part failed.
            let applied = match updated {
                Ok(()) => apply_opts(&store, &name, &opts),
                Err(e) => Err(e.into()),
            };
            audit.record(
                "config.camera",
                format!("camera:{}", cam.id),
                audit_detail("edit", &name, &opts, &applied),
            )?;
            audit.close()?;
            applied?;
            println!("updated camera {name}");
        }
        CameraCmd::Remove { data, name } => {
            let (store, dir) = open(&data)?;
            let cam = store
                .camera_by_name(&name)?
                .with_context(|| format!("no camera named {name}: see `vigil camera list`"))?;
            let audit = CliAudit::open(&dir)?;
            store.remove_camera(cam.id)?;
            audit.record(
                "config.camera",
                format!("camera:{}", cam.id),
                json!({ "change": "remove", "name": name }),
            )?;
            audit.close()?;
            println!(
                "removed camera {name} from the configuration; its footage stays until retention \
                 removes it"
            );
        }
    }
    Ok(())
}

/// A client handle on the store and the data directory it is in.
fn open(data: &DataArgs) -> Result<(store::Store, PathBuf)> {
    let cfg = data.load()?;
    Ok((open_dir(&cfg.data_dir)?, cfg.data_dir))
}

/// Checks the options that are parsed (schedule, quota) before anything is changed.
fn check_opts(o: &CameraOpts) -> Result<()> {
    if let Some(s) = &o.schedule {
        store::schedule::Schedule::parse(s).context("--schedule")?;
    }
    if let Some(q) = &o.quota {
        store::plan::parse_size(q).context("--quota")?;
    }
    Ok(())
}

/// The audit detail of a camera change: what was asked, never a credential (URLs without
/// user, password and query; only *that* the camera user or password changed).
fn audit_detail(
    change: &str,
    name: &str,
    o: &CameraOpts,
    outcome: &Result<()>,
) -> serde_json::Value {
    let mut d = serde_json::Map::new();
    d.insert("change".into(), change.into());
    d.insert("name".into(), name.into());
    let mut put = |k: &str, v: serde_json::Value| {
        d.insert(k.into(), v);
    };
    if let Some(u) = &o.main {
        put("main_url", audit_url(u).into());
    }
    if let Some(u) = &o.sub {
        put("sub_url", audit_url(u).into());
    }
    if o.user.is_some() {
        put("camera_user_changed", true.into());
    }
    if o.password.is_some() {
        put("camera_password_changed", true.into());
    }
    if let Some(v) = &o.zone {
        put("zone", v.as_str().into());
    }
    if let Some(v) = &o.department {
        put("department", v.as_str().into());
    }
    if let Some(v) = &o.schedule {
        put("schedule", v.as_str().into());
    }
    if let Some(v) = &o.quota {
        put("quota", v.as_str().into());
    }
    if let Some(v) = o.min_days {
        put("min_days", v.into());
    }
    if let Some(v) = o.max_days {
        put("max_days", v.into());
    }
    if let Some(v) = o.record_sub {
        put("record_sub", v.into());
    }
    if let Some(v) = o.enabled {
        put("enabled", v.into());
    }
    if let Err(e) = outcome {
        put("incomplete", format!("{e:#}").into());
    }
    serde_json::Value::Object(d)
}

/// A camera URL for the audit trail: no user, password, query or fragment (some cameras
/// take credentials in the query).
fn audit_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "<invalid URL>".into(),
    }
}

/// A client handle on the data directory, creating the database first if there is none
/// yet (then no recorder can be running there, and the store's lock makes sure of it).
pub fn open_dir(dir: &Path) -> Result<store::Store> {
    if !dir.join(store::DB_FILE).exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        drop(store::Store::open(dir, store::StoreOptions::default())?);
    }
    Ok(store::Store::open_client(dir)?)
}

fn check_url(u: &str) -> Result<()> {
    let url = url::Url::parse(u)
        .with_context(|| format!("{} is not a URL: use rtsp://HOST[:PORT]/PATH", redact(u)))?;
    anyhow::ensure!(
        url.scheme() == "rtsp",
        "{} is not an rtsp:// URL: Vigil records RTSP (over TCP)",
        redact(u)
    );
    Ok(())
}

fn redact(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(url) => ingest::redact_url(&url),
        Err(_) => "<invalid URL>".into(),
    }
}

fn apply_opts(store: &store::Store, name: &str, o: &CameraOpts) -> Result<()> {
    let cam = store
        .camera_by_name(name)?
        .with_context(|| format!("no camera named {name}"))?;
    if let Some(s) = &o.schedule {
        let sched = store::schedule::Schedule::parse(s).context("--schedule")?;
        store.set_schedule(cam.id, &sched)?;
    }
    if let Some(e) = o.enabled {
        store.set_enabled(cam.id, e)?;
    }
    let streams = store.streams()?;
    for st in streams.iter().filter(|s| s.camera_id == cam.id) {
        let is_main = st.kind.to_string() == "main";
        if is_main && (o.quota.is_some() || o.min_days.is_some() || o.max_days.is_some()) {
            let quota = match &o.quota {
                Some(q) => store::plan::parse_size(q).context("--quota")?,
                None => st.quota_bytes,
            };
            store.set_stream_retention(
                st.id,
                quota,
                o.min_days.unwrap_or(st.min_days),
                o.max_days.unwrap_or(st.max_days),
            )?;
        }
        if !is_main {
            if let Some(r) = o.record_sub {
                store.set_stream_record(st.id, r)?;
            }
        }
    }
    Ok(())
}

/// Adds simulated cameras (no credentials) for benchmarks.
pub fn add_sim_cameras(data_dir: &Path, urls: &[String]) -> Result<()> {
    let store = open_dir(data_dir)?;
    for (i, u) in urls.iter().enumerate() {
        store.add_camera(store::NewCamera {
            name: format!("cam{}", i + 1),
            main_url: u.clone(),
            ..Default::default()
        })?;
    }
    Ok(())
}

/// Adds the demo's cameras with their sub-streams and credentials.
pub fn add_demo_cameras(
    data_dir: &Path,
    urls: &[(String, String)],
    user: &str,
    pass: &str,
) -> Result<()> {
    let store = open_dir(data_dir)?;
    for (i, (main, sub)) in urls.iter().enumerate() {
        store.add_camera(store::NewCamera {
            name: format!("cam{}", i + 1),
            main_url: main.clone(),
            sub_url: Some(sub.clone()),
            username: Some(user.to_string()),
            password: Some(pass.to_string()),
            zone: Some(format!("Khu {}", i + 1)),
            ..Default::default()
        })?;
    }
    Ok(())
}

/// A random password of 16 letters and digits.
pub fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

#[derive(Args, Clone, Debug)]
pub struct PlanArgs {
    /// Number of cameras (with --bitrate), when not measuring a running recorder.
    #[arg(long, default_value_t = 30)]
    cameras: usize,
    /// Average main-stream bitrate per camera, e.g. `4M` or `1850k`.
    #[arg(long, default_value = "4M")]
    bitrate: String,
    /// Codec of the main streams: h264 or h265.
    #[arg(long, default_value = "h264")]
    codec: String,
    /// Resolution, e.g. 1920x1080.
    #[arg(long, default_value = "1920x1080")]
    resolution: String,
    /// Sub-stream bitrate, if the cameras have one (for the advice).
    #[arg(long)]
    sub_bitrate: Option<String>,
    /// Disk space for footage, e.g. `12TB`.
    #[arg(long, default_value = "12TB")]
    disk: String,
    /// Days of footage required.
    #[arg(long, default_value_t = 20.0)]
    days: f64,
    /// Space held back for the filesystem and the index (fraction).
    #[arg(long, default_value_t = 0.0)]
    reserve: f64,
    /// Use the cameras and bitrates measured by the recorder in this data directory.
    #[arg(long)]
    from: Option<std::path::PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn plan(a: PlanArgs) -> Result<()> {
    use store::plan::{self, CameraLoad, PlanInput};
    let codec = match a.codec.to_ascii_lowercase().as_str() {
        "h264" | "avc" => media::Codec::H264,
        "h265" | "hevc" => media::Codec::H265,
        other => anyhow::bail!("unknown codec {other}: use h264 or h265"),
    };
    let (w, h) = a
        .resolution
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .with_context(|| format!("resolution {} is not WIDTHxHEIGHT", a.resolution))?;
    let sub_bps = match &a.sub_bitrate {
        Some(s) => Some(plan::parse_bitrate(s).context("--sub-bitrate")?),
        None => None,
    };
    let cameras = match &a.from {
        Some(dir) => measured_loads(dir)?,
        None => {
            let bps = plan::parse_bitrate(&a.bitrate).context("--bitrate")?;
            (1..=a.cameras)
                .map(|i| CameraLoad {
                    name: format!("cam{i}"),
                    codec,
                    width: w,
                    height: h,
                    fps: 15.0,
                    main_bps: bps,
                    sub_bps,
                    record_sub: false,
                    measured: false,
                    recording_hours_per_day: 24.0,
                })
                .collect()
        }
    };
    let input = PlanInput {
        cameras,
        disk_bytes: plan::parse_size(&a.disk).context("--disk")?,
        required_days: a.days,
        reserve_fraction: a.reserve,
    };
    let p = plan::plan(&input)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        print!("{}", plan::render_text(&p));
    }
    Ok(())
}

/// Camera loads measured by a recorder: bitrates from its live status (or, if it is not
/// running, from the bytes per day its streams stored).
fn measured_loads(dir: &Path) -> Result<Vec<store::plan::CameraLoad>> {
    let s = store::Store::open_client(dir)
        .with_context(|| format!("opening the recorder's data in {}", dir.display()))?;
    let now = crate::recorder::now_ticks();
    let live = crate::status::read_status_file(&dir.join("status.json")).ok();
    let mut out = Vec::new();
    for u in s.stream_usage(now)? {
        if u.kind.to_string() != "main" {
            continue;
        }
        let l = live
            .as_ref()
            .and_then(|l| l.streams.iter().find(|x| x.stream_id == u.stream_id));
        let bps = l
            .map(|l| l.bitrate_bps)
            .filter(|b| *b > 0.0)
            .or(u.bytes_per_day.map(|b| b * 8.0 / 86_400.0))
            .unwrap_or(0.0);
        let (w, h) = l.and_then(|l| l.resolution).unwrap_or((0, 0));
        let codec = match l.and_then(|l| l.codec.clone()).as_deref() {
            Some("h265") => media::Codec::H265,
            _ => media::Codec::H264,
        };
        out.push(store::plan::CameraLoad {
            name: u.camera.clone(),
            codec,
            width: w,
            height: h,
            fps: l.map(|l| l.fps).unwrap_or(0.0),
            main_bps: bps,
            sub_bps: None,
            record_sub: false,
            measured: true,
            recording_hours_per_day: 24.0,
        });
    }
    anyhow::ensure!(
        !out.is_empty(),
        "the recorder in {} has no cameras with measurements yet",
        dir.display()
    );
    Ok(out)
}
