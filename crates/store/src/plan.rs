//! The storage plan: how many days of footage a disk keeps for a fleet of cameras, and what
//! to change when that is fewer days than the rules require (`vigil plan` prints this).
//!
//! The school's fact this module is built around: 12 TB ÷ 30 cameras ÷ 20 days ≈
//! 1.85 Mbit/s average per camera (decimal TB, before filesystem overhead); a fleet left at
//! the cameras' factory 4 Mbit/s H.264 keeps only about 9.26 days.
//!
//! [`plan`] is a pure function of a [`PlanInput`]: per camera it gives a byte quota
//! proportional to the camera's bytes per day (so every camera keeps the same number of
//! days), the equal-share alternative, the forecast days, whether the requirement is met
//! and the highest average bitrate that would meet it; for the fleet the usable bytes, the
//! days kept and the bitrate budget per camera; and plain [`Advice`] in English, each with
//! a stable `code` and numeric `params` so that the UI can translate it.
//!
//! Units: bytes and bits are decimal (1 TB = 10¹² B, 1 Mbit/s = 10⁶ bit/s) unless a binary
//! unit (TiB, GiB…) is written; days are 86 400 s of recording.
//!
//! What it is not for: measuring bitrates (the recorder does that), enforcing quotas
//! (retention does that, using [`forecast_days`] for its alarms), or reading the disk's
//! size (the caller passes it).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use media::Codec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Share of the disk held back by default for the filesystem, the SQLite index and the
/// segment being written.
pub const DEFAULT_RESERVE_FRACTION: f64 = 0.03;

/// The minimum retention the school's rules require, in days.
pub const DEFAULT_REQUIRED_DAYS: f64 = 20.0;

/// H.265 bitrate as a fraction of H.264's for similar picture quality.
///
/// An *estimate*: the usual rule of thumb for surveillance scenes is 40–60 %; the real
/// saving depends on the camera's encoder and the scene. The advice says so.
pub const H265_BITRATE_RATIO: f64 = 0.5;

/// Share of the recorded hours assumed to be "night" (18:00–06:00) when the advice
/// estimates recording the sub-stream at night.
pub const NIGHT_FRACTION: f64 = 0.5;

const SECS_PER_DAY: f64 = 86_400.0;

/// One camera's recording load: bitrates given by the user or measured by a running recorder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CameraLoad {
    pub name: String,
    #[serde(serialize_with = "ser_codec", deserialize_with = "de_codec")]
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Average bitrate of the main stream, bit/s (always recorded).
    pub main_bps: f64,
    /// Average bitrate of the sub-stream, bit/s, when the camera has one and it is known.
    pub sub_bps: Option<f64>,
    /// The sub-stream is recorded too, in addition to the main stream.
    pub record_sub: bool,
    /// The bitrates were measured by the recorder (`false`: given by the user / nominal).
    pub measured: bool,
    /// Hours of recording per day on average (24 for continuous; less with a schedule).
    pub recording_hours_per_day: f64,
}

impl CameraLoad {
    /// Bits per second written while the camera records (main plus sub when recorded).
    pub fn recorded_bps(&self) -> f64 {
        self.main_bps + self.recorded_sub_bps()
    }

    fn recorded_sub_bps(&self) -> f64 {
        if self.record_sub {
            self.sub_bps.unwrap_or(0.0)
        } else {
            0.0
        }
    }

    /// Bytes written per day on average.
    pub fn bytes_per_day(&self) -> f64 {
        bytes_per_day(self.recorded_bps(), self.recording_hours_per_day)
    }

    fn validate(&self) -> Result<(), PlanError> {
        let bad = |field: &'static str, value: f64, hint: &'static str| {
            Err(PlanError::BadCamera {
                camera: self.name.clone(),
                field,
                value,
                hint,
            })
        };
        let h = self.recording_hours_per_day;
        if !(0.0..=24.0).contains(&h) {
            return bad(
                "recording_hours_per_day",
                h,
                "give the average hours recorded per day, from 0 to 24",
            );
        }
        if !self.main_bps.is_finite() || self.main_bps < 0.0 || (self.main_bps == 0.0 && h > 0.0) {
            return bad(
                "main_bps",
                self.main_bps,
                "give the main stream's bitrate (e.g. 4M) or let the recorder measure it",
            );
        }
        if let Some(sub) = self.sub_bps {
            if !sub.is_finite() || sub < 0.0 {
                return bad(
                    "sub_bps",
                    sub,
                    "give the sub-stream's bitrate (e.g. 512k), or none if it has no sub-stream",
                );
            }
        } else if self.record_sub && h > 0.0 {
            return Err(PlanError::MissingSubBitrate {
                camera: self.name.clone(),
            });
        }
        if !self.fps.is_finite() || self.fps < 0.0 {
            return bad("fps", self.fps, "give the frame rate, e.g. 25");
        }
        Ok(())
    }
}

fn ser_codec<S: Serializer>(codec: &Codec, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(codec.as_str())
}

fn de_codec<'de, D: Deserializer<'de>>(d: D) -> Result<Codec, D::Error> {
    let s = String::deserialize(d)?;
    parse_codec(&s).map_err(serde::de::Error::custom)
}

/// Parses a codec name: `h264`/`avc`/`h.264` or `h265`/`hevc`/`h.265` (any case).
pub fn parse_codec(s: &str) -> Result<Codec, ParseUnitError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "h264" | "h.264" | "avc" | "avc1" | "x264" => Ok(Codec::H264),
        "h265" | "h.265" | "hevc" | "hvc1" | "hev1" | "x265" => Ok(Codec::H265),
        _ => Err(ParseUnitError {
            what: "codec",
            input: s.to_owned(),
            reason: "use h264 or h265",
        }),
    }
}

/// What to plan for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanInput {
    pub cameras: Vec<CameraLoad>,
    /// Size of the recording disk (or array), bytes.
    pub disk_bytes: u64,
    /// Days of footage the rules require (the floor no user may shorten), e.g. 20.
    pub required_days: f64,
    /// Filesystem + index overhead held back, as a fraction of the disk (default 0.03).
    pub reserve_fraction: f64,
}

impl PlanInput {
    /// A plan input with the default required days (20) and reserve (3 %).
    pub fn new(cameras: Vec<CameraLoad>, disk_bytes: u64) -> Self {
        PlanInput {
            cameras,
            disk_bytes,
            required_days: DEFAULT_REQUIRED_DAYS,
            reserve_fraction: DEFAULT_RESERVE_FRACTION,
        }
    }
}

/// Whether a camera keeps the required days under the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Forecast days ≥ required days.
    Meets,
    /// Forecast days < required days.
    Short,
    /// Records nothing (0 hours per day): needs no space.
    NotRecording,
}

/// The plan for one camera.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CameraPlan {
    pub camera: CameraLoad,
    /// Bits per second written while recording (main + sub when the sub is recorded).
    pub recorded_bps: f64,
    /// Bytes written per day on average (recording hours taken into account).
    pub bytes_per_day: f64,
    /// Quota proportional to `bytes_per_day`: every camera keeps the same days.
    pub quota_bytes: u64,
    /// Days this quota keeps (`None` when the camera records nothing).
    pub forecast_days: Option<f64>,
    /// The alternative: the usable bytes split equally between cameras.
    pub equal_share_bytes: u64,
    /// Days the equal share would keep at the current bitrate.
    pub equal_share_days: Option<f64>,
    pub status: Status,
    /// `status != Short`.
    pub meets_requirement: bool,
    /// The highest average main-stream bitrate (bit/s) with which this camera's equal
    /// share lasts the required days, given its recording hours and recorded sub-stream.
    /// When every camera is at or below its figure, the fleet meets the requirement.
    /// `None` when the camera records nothing.
    pub max_main_bps: Option<f64>,
}

/// How urgent a piece of advice is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One piece of plain advice.
///
/// `text` is English; `code` is stable and `params` holds the numbers in the text (bit/s,
/// bytes, days, hours, fractions — the key says which), so a UI can render it in another
/// language.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Advice {
    pub severity: Severity,
    pub code: &'static str,
    /// The cameras the advice is about (cameras with the same load share one advice);
    /// empty for advice about the fleet.
    pub cameras: Vec<String>,
    pub text: String,
    pub params: BTreeMap<&'static str, f64>,
}

/// The storage plan. Serialize it for `vigil plan --json`; [`render_text`] for people.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub disk_bytes: u64,
    pub reserve_fraction: f64,
    /// Disk bytes minus the reserve: what quotas share.
    pub usable_bytes: u64,
    pub required_days: f64,
    pub cameras: Vec<CameraPlan>,
    /// Sum of the cameras' recorded bitrates while recording, bit/s.
    pub total_recorded_bps: f64,
    pub total_bytes_per_day: f64,
    /// Days the whole fleet keeps (`None` when no camera records).
    pub fleet_days: Option<f64>,
    pub meets_requirement: bool,
    /// usable × 8 / (cameras × required days × 86 400): the average bitrate each camera may
    /// use, recording all day, for the fleet to keep the required days.
    pub budget_bps_per_camera: f64,
    /// Disk size (reserve included) needed for the required days at the current bitrates.
    pub needed_disk_bytes: u64,
    /// `needed_disk_bytes - disk_bytes`, or 0 when the disk is large enough.
    pub shortfall_bytes: u64,
    pub advice: Vec<Advice>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("no cameras to plan for: add at least one camera with its bitrate")]
    NoCameras,
    #[error("the disk size is 0 bytes: give the recording disk's size, e.g. 12TB")]
    NoDisk,
    #[error("required retention of {0} days is invalid: give a positive number of days, e.g. 20")]
    BadRequiredDays(f64),
    #[error(
        "reserve fraction {0} is invalid: give the share of the disk held back for filesystem \
         and index overhead, from 0 to below 1 (default 0.03)"
    )]
    BadReserve(f64),
    #[error("camera '{camera}': {field} = {value} is invalid: {hint}")]
    BadCamera {
        camera: String,
        field: &'static str,
        value: f64,
        hint: &'static str,
    },
    #[error(
        "camera '{camera}': its sub-stream is recorded but its bitrate is unknown: give it \
         (e.g. 512k) or let the recorder measure it"
    )]
    MissingSubBitrate { camera: String },
}

/// A size, bitrate or codec that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{input}': {reason}")]
pub struct ParseUnitError {
    pub what: &'static str,
    pub input: String,
    pub reason: &'static str,
}

fn bytes_per_day(bps: f64, hours_per_day: f64) -> f64 {
    bps / 8.0 * hours_per_day * 3600.0
}

/// Days that `quota_bytes` keeps at `bytes_per_day`; `None` when nothing has been measured
/// yet (`bytes_per_day` is 0, negative or not a number).
pub fn forecast_days(quota_bytes: u64, bytes_per_day: f64) -> Option<f64> {
    if bytes_per_day.is_finite() && bytes_per_day > 0.0 {
        Some(quota_bytes as f64 / bytes_per_day)
    } else {
        None
    }
}

/// `a >= b`, forgiving the rounding of a plan that fits exactly.
fn at_least(a: f64, b: f64) -> bool {
    a >= b * (1.0 - 1e-9)
}

/// Makes the storage plan. Errors (rather than NaN) when there are no cameras, no disk, or
/// an input is out of range.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    let n = input.cameras.len();
    if n == 0 {
        return Err(PlanError::NoCameras);
    }
    if input.disk_bytes == 0 {
        return Err(PlanError::NoDisk);
    }
    let days = input.required_days;
    if !days.is_finite() || days <= 0.0 {
        return Err(PlanError::BadRequiredDays(days));
    }
    let reserve = input.reserve_fraction;
    if !(0.0..1.0).contains(&reserve) {
        return Err(PlanError::BadReserve(reserve));
    }
    for c in &input.cameras {
        c.validate()?;
    }

    let usable = (input.disk_bytes as f64 * (1.0 - reserve)).floor() as u64;
    let usable_f = usable as f64;
    let total_bpd: f64 = input.cameras.iter().map(CameraLoad::bytes_per_day).sum();
    let total_bps: f64 = input.cameras.iter().map(CameraLoad::recorded_bps).sum();
    let equal_share = usable / n as u64;
    let fleet_days = forecast_days(usable, total_bpd);
    let meets = fleet_days.is_none_or(|d| at_least(d, days));
    let budget = usable_f * 8.0 / (n as f64 * days * SECS_PER_DAY);
    let needed_disk = (total_bpd * days / (1.0 - reserve)).ceil();
    let needed_disk = if needed_disk >= u64::MAX as f64 {
        u64::MAX
    } else {
        needed_disk as u64
    };

    let cameras = input
        .cameras
        .iter()
        .map(|c| {
            let bpd = c.bytes_per_day();
            let quota = if total_bpd > 0.0 {
                (usable_f * (bpd / total_bpd)).floor() as u64
            } else {
                equal_share
            };
            let forecast = forecast_days(quota, bpd);
            let status = match forecast {
                None => Status::NotRecording,
                Some(d) if at_least(d, days) => Status::Meets,
                Some(_) => Status::Short,
            };
            let max_main_bps = (c.recording_hours_per_day > 0.0).then(|| {
                let bps = equal_share as f64 * 8.0 / (days * c.recording_hours_per_day * 3600.0);
                (bps - c.recorded_sub_bps()).max(0.0)
            });
            CameraPlan {
                camera: c.clone(),
                recorded_bps: c.recorded_bps(),
                bytes_per_day: bpd,
                quota_bytes: quota,
                forecast_days: forecast,
                equal_share_bytes: equal_share,
                equal_share_days: forecast_days(equal_share, bpd),
                status,
                meets_requirement: status != Status::Short,
                max_main_bps,
            }
        })
        .collect();

    let mut plan = Plan {
        disk_bytes: input.disk_bytes,
        reserve_fraction: reserve,
        usable_bytes: usable,
        required_days: days,
        cameras,
        total_recorded_bps: total_bps,
        total_bytes_per_day: total_bpd,
        fleet_days,
        meets_requirement: meets,
        budget_bps_per_camera: budget,
        needed_disk_bytes: needed_disk,
        shortfall_bytes: needed_disk.saturating_sub(input.disk_bytes),
        advice: Vec::new(),
    };
    plan.advice = advise(&plan);
    Ok(plan)
}

/// Builds one [`Advice`].
fn advice(
    severity: Severity,
    code: &'static str,
    cameras: Vec<String>,
    text: String,
    params: &[(&'static str, f64)],
) -> Advice {
    Advice {
        severity,
        code,
        cameras,
        text,
        params: params.iter().copied().collect(),
    }
}

/// Fleet days if each camera recorded `bps(camera)` (bit/s while recording) instead.
fn fleet_days_with(plan: &Plan, bps: impl Fn(&CameraLoad) -> f64) -> Option<f64> {
    let bpd: f64 = plan
        .cameras
        .iter()
        .map(|c| bytes_per_day(bps(&c.camera), c.camera.recording_hours_per_day))
        .sum();
    forecast_days(plan.usable_bytes, bpd)
}

/// Recorded bit/s of a camera switched to H.265 (its main stream; the sub-stream is kept
/// as it is, since browsers play H.264 sub-streams on the live wall).
fn h265_bps(c: &CameraLoad) -> f64 {
    let main = match c.codec {
        Codec::H264 => c.main_bps * H265_BITRATE_RATIO,
        Codec::H265 => c.main_bps,
    };
    main + c.recorded_sub_bps()
}

/// Recorded bit/s (average over the recorded hours) of a camera that records only its
/// sub-stream at night.
fn night_sub_bps(c: &CameraLoad) -> f64 {
    match c.sub_bps {
        Some(sub) => (1.0 - NIGHT_FRACTION) * c.recorded_bps() + NIGHT_FRACTION * sub,
        None => c.recorded_bps(),
    }
}

/// Recorded bit/s of a camera that records only its sub-stream.
fn sub_only_bps(c: &CameraLoad) -> f64 {
    c.sub_bps.unwrap_or(c.recorded_bps())
}

fn advise(plan: &Plan) -> Vec<Advice> {
    let mut out = Vec::new();
    let req = plan.required_days;
    let n = plan.cameras.len();
    let budget = plan.budget_bps_per_camera;
    let Some(fleet_days) = plan.fleet_days else {
        out.push(advice(
            Severity::Info,
            "fleet_not_recording",
            Vec::new(),
            "No camera records (0 hours per day): nothing to plan.".to_owned(),
            &[],
        ));
        return out;
    };

    if plan.meets_requirement {
        out.push(advice(
            Severity::Info,
            "fleet_meets",
            Vec::new(),
            format!(
                "The fleet keeps {} days ≥ {} required at the current bitrates; the budget is \
                 {} on average per camera recording all day.",
                days(fleet_days),
                days(req),
                mbps(budget)
            ),
            &[
                ("fleet_days", fleet_days),
                ("required_days", req),
                ("budget_bps", budget),
            ],
        ));
    } else {
        out.push(advice(
            Severity::Critical,
            "fleet_short",
            Vec::new(),
            format!(
                "The fleet keeps only {} days < {} required at the current bitrates \
                 ({} in total, {} per camera on average); the budget is {} per camera \
                 recording all day.",
                days(fleet_days),
                days(req),
                mbps(plan.total_recorded_bps),
                mbps(plan.total_recorded_bps / n as f64),
                mbps(budget)
            ),
            &[
                ("fleet_days", fleet_days),
                ("required_days", req),
                ("total_bps", plan.total_recorded_bps),
                ("budget_bps", budget),
            ],
        ));
        out.push(advice(
            Severity::Warning,
            "fleet_add_disk",
            Vec::new(),
            format!(
                "The fleet needs {} of disk for {} days at the current bitrates \
                 ({} % reserve included): add {}.",
                format_bytes(plan.needed_disk_bytes),
                days(req),
                pct(plan.reserve_fraction),
                format_bytes(plan.shortfall_bytes)
            ),
            &[
                ("needed_disk_bytes", plan.needed_disk_bytes as f64),
                ("add_bytes", plan.shortfall_bytes as f64),
                ("required_days", req),
            ],
        ));
        let h264 = plan
            .cameras
            .iter()
            .filter(|c| c.camera.codec == Codec::H264 && c.bytes_per_day > 0.0)
            .count();
        if h264 > 0 {
            if let Some(d) = fleet_days_with(plan, h265_bps) {
                out.push(advice(
                    Severity::Info,
                    "fleet_h265",
                    Vec::new(),
                    format!(
                        "Switching the {h264} H.264 camera(s) to H.265 would keep about {} days \
                         (estimate: H.265 needs ≈ {} % of the H.264 bitrate for similar quality; \
                         browsers need an H.264 sub-stream for live view).",
                        days(d),
                        pct(H265_BITRATE_RATIO)
                    ),
                    &[
                        ("cameras", h264 as f64),
                        ("fleet_days", d),
                        ("h265_ratio", H265_BITRATE_RATIO),
                    ],
                ));
            }
        }
        let with_sub: Vec<&CameraPlan> = plan
            .cameras
            .iter()
            .filter(|c| c.camera.sub_bps.is_some() && c.bytes_per_day > 0.0)
            .collect();
        if !with_sub.is_empty() {
            let avg_sub = with_sub
                .iter()
                .map(|c| c.camera.sub_bps.unwrap_or(0.0))
                .sum::<f64>()
                / with_sub.len() as f64;
            let night = fleet_days_with(plan, night_sub_bps);
            let only = fleet_days_with(plan, sub_only_bps);
            if let (Some(night), Some(only)) = (night, only) {
                out.push(advice(
                    Severity::Info,
                    "fleet_sub_stream",
                    Vec::new(),
                    format!(
                        "Recording only the sub-stream (average {}) at night (18:00–06:00) on \
                         the {} camera(s) that have one would keep about {} days; recording \
                         only the sub-stream all day, about {} days (low resolution: faces \
                         and plates may not be recognisable).",
                        mbps(avg_sub),
                        with_sub.len(),
                        days(night),
                        days(only)
                    ),
                    &[
                        ("cameras", with_sub.len() as f64),
                        ("sub_bps", avg_sub),
                        ("night_fleet_days", night),
                        ("sub_only_fleet_days", only),
                    ],
                ));
            }
        }
        // Recording time scales bytes linearly: cutting every camera's hours by `f` reaches
        // the requirement.
        let f = fleet_days / req;
        out.push(advice(
            Severity::Info,
            "fleet_schedule",
            Vec::new(),
            format!(
                "Recording {} % of the current hours (a camera recording 24 h: {:.1} h/day — \
                 e.g. a school-hours schedule, or motion recording once available) would keep \
                 {} days.",
                pct(f),
                24.0 * f,
                days(req)
            ),
            &[("hours_fraction", f), ("required_days", req)],
        ));
    }

    // Cameras with the same load get the same advice: group them (in plan order).
    let mut groups: Vec<Vec<&CameraPlan>> = Vec::new();
    for c in &plan.cameras {
        match groups
            .iter_mut()
            .find(|g| same_load(&g[0].camera, &c.camera))
        {
            Some(g) => g.push(c),
            None => groups.push(vec![c]),
        }
    }
    for g in &groups {
        camera_advice(plan, g, &mut out);
    }

    let nominal = plan
        .cameras
        .iter()
        .filter(|c| !c.camera.measured && c.bytes_per_day > 0.0)
        .count();
    if nominal > 0 {
        out.push(advice(
            Severity::Info,
            "bitrates_nominal",
            Vec::new(),
            format!(
                "{nominal} of {n} camera bitrates are given, not measured: the recorder measures \
                 them and retention corrects this forecast once it runs."
            ),
            &[("cameras", nominal as f64), ("total_cameras", n as f64)],
        ));
    }
    out
}

/// Whether two cameras write the same (so that the same advice fits both).
fn same_load(a: &CameraLoad, b: &CameraLoad) -> bool {
    a.codec == b.codec
        && a.main_bps == b.main_bps
        && a.sub_bps == b.sub_bps
        && a.record_sub == b.record_sub
        && a.recording_hours_per_day == b.recording_hours_per_day
}

/// "cam1", "cam1, cam2 and cam3", "cam1, cam2, cam3 and 27 more".
fn names(group: &[&CameraPlan]) -> String {
    const SHOWN: usize = 3;
    fn name<'a>(c: &&'a CameraPlan) -> &'a str {
        &c.camera.name
    }
    match group {
        [one] => one.camera.name.clone(),
        _ if group.len() <= SHOWN + 1 => {
            let (last, rest) = group.split_last().expect("group is not empty");
            let rest: Vec<&str> = rest.iter().map(name).collect();
            format!("{} and {}", rest.join(", "), name(last))
        }
        _ => {
            let shown: Vec<&str> = group[..SHOWN].iter().map(name).collect();
            format!("{} and {} more", shown.join(", "), group.len() - SHOWN)
        }
    }
}

/// Advice about a group of cameras with the same load.
fn camera_advice(plan: &Plan, group: &[&CameraPlan], out: &mut Vec<Advice>) {
    let req = plan.required_days;
    let c = group[0];
    let cam = &c.camera;
    let who = names(group);
    let all: Vec<String> = group.iter().map(|c| c.camera.name.clone()).collect();
    let (s, it, its, each) = if group.len() == 1 {
        ("s", "it", "its", "")
    } else {
        ("", "them", "their", " each")
    };
    let (Some(max_main), Some(equal_days)) = (c.max_main_bps, c.equal_share_days) else {
        return;
    };
    let hours = cam.recording_hours_per_day;
    if hours < 24.0 {
        let full_day = equal_days * hours / 24.0;
        out.push(advice(
            Severity::Info,
            "camera_schedule",
            all.clone(),
            format!(
                "{who} record{s} {:.1} h/day (schedule or motion): {its} equal share keep{s} {} \
                 days, against {} days recording all day.",
                hours,
                days(equal_days),
                days(full_day)
            ),
            &[
                ("hours_per_day", hours),
                ("equal_share_days", equal_days),
                ("full_day_days", full_day),
            ],
        ));
    }
    if plan.meets_requirement || at_least(equal_days, req) {
        return;
    }
    let mut params = vec![
        ("main_bps", cam.main_bps),
        ("equal_share_days", equal_days),
        ("required_days", req),
        ("max_main_bps", max_main),
    ];
    let mut text = format!(
        "{who} at {}{each} keep{s} {} days on {its} equal share ({}{each}) < {} required: lower \
         {it} to {}",
        mbps(cam.main_bps),
        days(equal_days),
        format_bytes(c.equal_share_bytes),
        days(req),
        mbps(max_main)
    );
    let days_at = |bps: f64| forecast_days(c.equal_share_bytes, bytes_per_day(bps, hours));
    if cam.codec == Codec::H264 {
        if let Some(d) = days_at(h265_bps(cam)) {
            let _ = write!(
                text,
                ", or switch {it} to H.265 (≈ {} % of the H.264 bitrate for similar quality, an \
                 estimate → ~{} days)",
                pct(H265_BITRATE_RATIO),
                days(d)
            );
            params.push(("h265_days", d));
        }
    }
    if let Some(sub) = cam.sub_bps {
        if let (Some(night), Some(only)) = (days_at(night_sub_bps(cam)), days_at(sub)) {
            let _ = write!(
                text,
                ", or record {its} sub-stream ({}) at night (~{} days; sub-stream only: ~{} days)",
                mbps(sub),
                days(night),
                days(only)
            );
            params.push(("sub_bps", sub));
            params.push(("night_sub_days", night));
            params.push(("sub_only_days", only));
        }
    }
    // Hours per day at which its equal share lasts the required days.
    let hours_needed = hours * equal_days / req;
    let _ = write!(
        text,
        ", or record {:.1} h/day instead of {:.1} (schedule).",
        hours_needed, hours
    );
    params.push(("hours_per_day_needed", hours_needed));
    out.push(Advice {
        severity: Severity::Warning,
        code: "camera_over_budget",
        cameras: all,
        text,
        params: params.into_iter().collect(),
    });
}

// ---- formatting -------------------------------------------------------------------------

/// Mbit/s with two decimals, one when the second is 0: "4.0 Mbit/s", "1.85 Mbit/s".
fn mbps(bps: f64) -> String {
    let mut s = format!("{:.2}", bps / 1e6);
    if s.ends_with('0') {
        s.pop();
    }
    s + " Mbit/s"
}

fn days(d: f64) -> String {
    format!("{d:.1}")
}

fn pct(f: f64) -> String {
    let p = f * 100.0;
    if (p - p.round()).abs() < 0.05 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

/// Decimal units: "12.00 TB", "388.0 GB".
pub fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e12 {
        format!("{:.2} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{bytes} B")
    }
}

fn opt_days(d: Option<f64>) -> String {
    d.map_or_else(|| "-".to_owned(), days)
}

/// Aligns `rows` in columns separated by two spaces; the first `left` columns are left
/// aligned, the others right aligned.
fn table(rows: &[Vec<String>], left: usize, out: &mut String) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i < left {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The plan as a readable table with totals and advice (decimal units, days with one
/// decimal).
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Storage plan: {} camera(s), disk {}, reserve {} % ({}) → usable {}, required {} days",
        plan.cameras.len(),
        format_bytes(plan.disk_bytes),
        pct(plan.reserve_fraction),
        format_bytes(plan.disk_bytes - plan.usable_bytes),
        format_bytes(plan.usable_bytes),
        days(plan.required_days)
    );
    out.push('\n');
    let mut rows = vec![[
        "camera",
        "codec",
        "resolution",
        "fps",
        "bitrate",
        "source",
        "h/day",
        "quota",
        "days",
        "equal share",
        "days",
        "max bitrate",
        "status",
    ]
    .map(str::to_owned)
    .to_vec()];
    for c in &plan.cameras {
        let cam = &c.camera;
        let bitrate = match (cam.record_sub, cam.sub_bps) {
            (true, Some(sub)) => format!("{} + {} sub", mbps(cam.main_bps), mbps(sub)),
            _ => mbps(cam.main_bps),
        };
        let status = match c.status {
            Status::Meets => "ok",
            Status::NotRecording => "off",
            Status::Short => "SHORT",
        };
        rows.push(vec![
            cam.name.clone(),
            cam.codec.as_str().to_owned(),
            format!("{}x{}", cam.width, cam.height),
            format!("{}", cam.fps),
            bitrate,
            if cam.measured { "measured" } else { "given" }.to_owned(),
            format!("{:.1}", cam.recording_hours_per_day),
            format_bytes(c.quota_bytes),
            opt_days(c.forecast_days),
            format_bytes(c.equal_share_bytes),
            opt_days(c.equal_share_days),
            c.max_main_bps.map_or_else(|| "-".to_owned(), mbps),
            status.to_owned(),
        ]);
    }
    let quota_sum: u64 = plan.cameras.iter().map(|c| c.quota_bytes).sum();
    rows.push(vec![
        "total".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        mbps(plan.total_recorded_bps),
        String::new(),
        String::new(),
        format_bytes(quota_sum),
        opt_days(plan.fleet_days),
        String::new(),
        String::new(),
        String::new(),
        if plan.meets_requirement {
            "ok"
        } else {
            "SHORT"
        }
        .to_owned(),
    ]);
    table(&rows, 3, &mut out);
    out.push('\n');
    let _ = writeln!(
        out,
        "Fleet: {} written per day, keeps {} days (required {}). Budget: {} per camera \
         recording all day.",
        format_bytes(plan.total_bytes_per_day.round() as u64),
        opt_days(plan.fleet_days),
        days(plan.required_days),
        mbps(plan.budget_bps_per_camera)
    );
    if plan.shortfall_bytes > 0 {
        let _ = writeln!(
            out,
            "Disk needed for {} days at these bitrates: {} (add {}).",
            days(plan.required_days),
            format_bytes(plan.needed_disk_bytes),
            format_bytes(plan.shortfall_bytes)
        );
    }
    if !plan.advice.is_empty() {
        out.push_str("\nAdvice:\n");
        for a in &plan.advice {
            let tag = match a.severity {
                Severity::Info => "info",
                Severity::Warning => "WARNING",
                Severity::Critical => "CRITICAL",
            };
            let _ = writeln!(out, "- [{tag}] {}", a.text);
        }
    }
    out
}

// ---- parsing ----------------------------------------------------------------------------

/// Splits "1.5 TB" into ("1.5", "TB").
fn split_number(s: &str) -> (&str, &str) {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, ch)| {
            !(ch.is_ascii_digit()
                || ch == '.'
                || ((ch == 'e' || ch == 'E')
                    && s[i + 1..].starts_with(|c: char| c.is_ascii_digit() || c == '-')
                    && i > 0)
                || ((ch == '-' || ch == '+') && (i == 0 || s[..i].ends_with(['e', 'E']))))
        })
        .map_or(s.len(), |(i, _)| i);
    (&s[..end], s[end..].trim())
}

/// `number × multiplier` as a whole number, exactly for integers.
fn scale(what: &'static str, input: &str, number: &str, mul: u64) -> Result<u64, ParseUnitError> {
    let err = |reason| ParseUnitError {
        what,
        input: input.to_owned(),
        reason,
    };
    if number.is_empty() {
        return Err(err("it does not start with a number"));
    }
    if number.bytes().all(|b| b.is_ascii_digit()) {
        let v: u128 = number.parse().map_err(|_| err("the number is too large"))?;
        return u64::try_from(v * mul as u128).map_err(|_| err("the value is too large"));
    }
    let v: f64 = number.parse().map_err(|_| err("the number is malformed"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(err("the value must be a positive number"));
    }
    let v = (v * mul as f64).round();
    if v >= u64::MAX as f64 {
        return Err(err("the value is too large"));
    }
    Ok(v as u64)
}

/// Parses a size in bytes: "12TB", "12 TiB", "500G", "1.5T", "800 GB", "4096".
///
/// K, M, G, T, P (optionally followed by B) are decimal (10³ …); KiB, MiB, GiB, TiB, PiB
/// are binary (2¹⁰ …). Case is ignored: a disk size is always in bytes.
pub fn parse_size(s: &str) -> Result<u64, ParseUnitError> {
    let (number, unit) = split_number(s);
    let unit = unit.to_ascii_lowercase();
    let mul: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "p" | "pb" => 1_000_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        "pi" | "pib" => 1 << 50,
        _ => {
            return Err(ParseUnitError {
                what: "size",
                input: s.to_owned(),
                reason: "use a number with B, KB, MB, GB, TB (decimal) or KiB, MiB, GiB, TiB \
                         (binary), e.g. 12TB",
            })
        }
    };
    scale("size", s, number, mul)
}

/// Parses a bitrate in bit/s: "4M", "1850k", "1.85Mbit/s", "2 Mbps", "512 kb/s", "2000000".
///
/// Prefixes k, M, G are decimal, in any case. A capital `B` means bytes and is refused
/// ("4MB/s" is 32 Mbit/s; write what you mean in bits).
pub fn parse_bitrate(s: &str) -> Result<f64, ParseUnitError> {
    let (number, unit) = split_number(s);
    let err = |reason| ParseUnitError {
        what: "bitrate",
        input: s.to_owned(),
        reason,
    };
    let (prefix, rest) = match unit.chars().next() {
        Some(c @ ('k' | 'K' | 'm' | 'M' | 'g' | 'G')) => (Some(c), &unit[1..]),
        _ => (None, unit),
    };
    if rest.starts_with('B') {
        return Err(err(
            "'B' means bytes; bitrates are in bits per second: write e.g. 4M or 4Mbit/s",
        ));
    }
    match rest.to_ascii_lowercase().as_str() {
        "" | "b" | "bit" | "bits" | "bps" | "b/s" | "bit/s" | "bits/s" => {}
        _ => {
            return Err(err(
                "use a number with k, M or G, optionally followed by bit/s or bps, e.g. 4M or \
                 1850k",
            ))
        }
    }
    let mul = match prefix.map(|c| c.to_ascii_lowercase()) {
        None => 1,
        Some('k') => 1_000,
        Some('m') => 1_000_000,
        _ => 1_000_000_000,
    };
    Ok(scale("bitrate", s, number, mul)? as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(name: &str, codec: Codec, main_bps: f64) -> CameraLoad {
        CameraLoad {
            name: name.to_owned(),
            codec,
            width: 1920,
            height: 1080,
            fps: 25.0,
            main_bps,
            sub_bps: None,
            record_sub: false,
            measured: false,
            recording_hours_per_day: 24.0,
        }
    }

    fn school(bps: f64) -> PlanInput {
        PlanInput {
            cameras: (1..=30)
                .map(|i| cam(&format!("cam{i}"), Codec::H264, bps))
                .collect(),
            disk_bytes: 12_000_000_000_000,
            required_days: 20.0,
            reserve_fraction: 0.0,
        }
    }

    fn find<'a>(p: &'a Plan, code: &str, camera: Option<&str>) -> &'a Advice {
        p.advice
            .iter()
            .find(|a| {
                a.code == code
                    && match camera {
                        None => a.cameras.is_empty(),
                        Some(name) => a.cameras.iter().any(|c| c == name),
                    }
            })
            .unwrap_or_else(|| panic!("no advice {code} for {camera:?} in {:#?}", p.advice))
    }

    #[test]
    fn school_budget_is_1_85_mbit() {
        let p = plan(&school(1.8e6)).unwrap();
        assert!((p.budget_bps_per_camera - 1.85e6).abs() < 0.01e6);
        assert!(p.meets_requirement);
        assert!(p.cameras.iter().all(|c| c.status == Status::Meets));
        assert_eq!(p.shortfall_bytes, 0);
        find(&p, "fleet_meets", None);
        assert!(p.advice.iter().all(|a| a.severity == Severity::Info));
    }

    #[test]
    fn school_at_4_mbit_keeps_9_26_days() {
        let p = plan(&school(4e6)).unwrap();
        let d = p.fleet_days.unwrap();
        assert!((d - 9.26).abs() < 0.05, "{d}");
        assert!(!p.meets_requirement);
        for c in &p.cameras {
            assert_eq!(c.status, Status::Short);
            assert!(!c.meets_requirement);
            assert!((c.forecast_days.unwrap() - d).abs() < 1e-6);
            assert!((c.equal_share_days.unwrap() - d).abs() < 1e-6);
            assert!((c.max_main_bps.unwrap() - 1.85e6).abs() < 0.01e6);
            assert_eq!(c.quota_bytes, 400_000_000_000);
        }
        // 30 × 4 Mbit/s × 20 days = 25.92 TB: add 13.92 TB.
        assert_eq!(p.needed_disk_bytes, 25_920_000_000_000);
        assert_eq!(p.shortfall_bytes, 13_920_000_000_000);
        let add = find(&p, "fleet_add_disk", None);
        assert!(add.text.contains("25.92 TB"), "{}", add.text);
        assert!(add.text.contains("add 13.92 TB"), "{}", add.text);

        let a = find(&p, "camera_over_budget", Some("cam3"));
        assert_eq!(a.severity, Severity::Warning);
        assert_eq!(a.cameras.len(), 30);
        assert_eq!(
            p.advice
                .iter()
                .filter(|a| a.code == "camera_over_budget")
                .count(),
            1
        );
        assert!(
            a.text.starts_with(
                "cam1, cam2, cam3 and 27 more at 4.0 Mbit/s each keep 9.3 days on their equal \
                 share (400.0 GB each) < 20.0 required: lower them to 1.85 Mbit/s"
            ),
            "{}",
            a.text
        );
        assert!(a.text.contains("H.265"), "{}", a.text);
        assert!((a.params["h265_days"] - 18.5).abs() < 0.05);
        assert!(a.text.contains("~18.5 days"), "{}", a.text);
        let fleet = find(&p, "fleet_h265", None);
        assert!((fleet.params["fleet_days"] - 18.52).abs() < 0.05);
        // Schedule: 24 × 9.26 / 20 ≈ 11.1 h/day.
        let s = find(&p, "fleet_schedule", None);
        assert!((s.params["hours_fraction"] * 24.0 - 11.11).abs() < 0.05);
        assert!((a.params["hours_per_day_needed"] - 11.11).abs() < 0.05);
        // No sub-streams known: no sub-stream advice.
        assert!(p.advice.iter().all(|a| a.code != "fleet_sub_stream"));
    }

    #[test]
    fn sub_stream_and_reserve() {
        let mut input = school(4e6);
        input.reserve_fraction = DEFAULT_RESERVE_FRACTION;
        for c in &mut input.cameras {
            c.sub_bps = Some(0.5e6);
        }
        let p = plan(&input).unwrap();
        assert_eq!(p.usable_bytes, 11_640_000_000_000);
        assert!((p.fleet_days.unwrap() - 9.26 * 0.97).abs() < 0.05);
        let f = find(&p, "fleet_sub_stream", None);
        // All day on the sub-stream: 8× less than 4 Mbit/s.
        assert!((f.params["sub_only_fleet_days"] - 8.0 * 9.26 * 0.97).abs() < 0.2);
        // Night on the sub: average (4 + 0.5) / 2 = 2.25 Mbit/s.
        assert!((f.params["night_fleet_days"] - 9.26 * 0.97 * 4.0 / 2.25).abs() < 0.05);
        let a = find(&p, "camera_over_budget", Some("cam1"));
        assert!(
            a.text.contains("sub-stream (0.5 Mbit/s) at night"),
            "{}",
            a.text
        );
    }

    #[test]
    fn mixed_fleet_gets_equal_days_with_proportional_quotas() {
        let mut a = cam("gate", Codec::H264, 4e6);
        a.measured = true;
        let mut b = cam("hall", Codec::H265, 1e6);
        b.recording_hours_per_day = 12.0;
        let mut c = cam("yard", Codec::H264, 2e6);
        c.sub_bps = Some(0.5e6);
        c.record_sub = true;
        let off = CameraLoad {
            main_bps: 0.0,
            recording_hours_per_day: 0.0,
            ..cam("spare", Codec::H264, 0.0)
        };
        let input = PlanInput {
            cameras: vec![a, b, c, off],
            disk_bytes: 4_000_000_000_000,
            required_days: 20.0,
            reserve_fraction: 0.0,
        };
        let p = plan(&input).unwrap();
        // Bytes per day: 4M→43.2 GB, 1M×12h→5.4 GB, 2.5M→27 GB, 0.
        let bpd: Vec<f64> = p.cameras.iter().map(|c| c.bytes_per_day).collect();
        assert_eq!(bpd, vec![43.2e9, 5.4e9, 27e9, 0.0]);
        let total = 75.6e9;
        let fleet = 4e12 / total;
        assert!((p.fleet_days.unwrap() - fleet).abs() < 1e-6);
        assert!(p.meets_requirement, "{fleet}");
        for c in &p.cameras[..3] {
            assert!((c.forecast_days.unwrap() - fleet).abs() < 1e-6);
            assert_eq!(c.status, Status::Meets);
        }
        assert_eq!(p.cameras[3].status, Status::NotRecording);
        assert_eq!(p.cameras[3].quota_bytes, 0);
        assert_eq!(p.cameras[3].max_main_bps, None);
        assert!(p.cameras.iter().map(|c| c.quota_bytes).sum::<u64>() <= p.usable_bytes);
        // Equal share: 1 TB each; gate keeps 1e12 / 43.2e9 = 23.1 days.
        assert_eq!(p.cameras[0].equal_share_bytes, 1_000_000_000_000);
        assert!((p.cameras[0].equal_share_days.unwrap() - 23.148).abs() < 0.01);
        // Max for the yard: 1 TB over 20 days at 24 h = 4.63 Mbit/s, minus its 0.5 sub.
        assert!((p.cameras[2].max_main_bps.unwrap() - 4.13e6).abs() < 0.01e6);
        // Max for the hall (12 h/day): twice the all-day figure.
        assert!((p.cameras[1].max_main_bps.unwrap() - 9.26e6).abs() < 0.01e6);
        find(&p, "camera_schedule", Some("hall"));
        let nominal = find(&p, "bitrates_nominal", None);
        assert_eq!(nominal.params["cameras"], 2.0);
        assert!(p.advice.iter().all(|a| a.code != "camera_over_budget"));

        // The same fleet on a smaller disk: the gate is the camera over its budget.
        let p = plan(&PlanInput {
            disk_bytes: 1_000_000_000_000,
            ..input
        })
        .unwrap();
        assert!(!p.meets_requirement);
        let a = find(&p, "camera_over_budget", Some("gate"));
        assert_eq!(a.cameras, vec!["gate".to_owned()]);
        assert!(
            a.text
                .starts_with("gate at 4.0 Mbit/s keeps 5.8 days on its equal share (250.0 GB)"),
            "{}",
            a.text
        );
        let text = render_text(&p);
        assert!(text.contains("SHORT"), "{text}");
    }

    #[test]
    fn errors_instead_of_nan() {
        let mut input = school(4e6);
        input.cameras.clear();
        assert_eq!(plan(&input), Err(PlanError::NoCameras));
        let mut input = school(4e6);
        input.disk_bytes = 0;
        assert_eq!(plan(&input), Err(PlanError::NoDisk));
        let mut input = school(4e6);
        input.required_days = 0.0;
        assert!(matches!(plan(&input), Err(PlanError::BadRequiredDays(_))));
        let mut input = school(4e6);
        input.reserve_fraction = 1.0;
        assert!(matches!(plan(&input), Err(PlanError::BadReserve(_))));
        let mut input = school(4e6);
        input.cameras[4].main_bps = f64::NAN;
        let e = plan(&input).unwrap_err();
        assert!(e.to_string().starts_with("camera 'cam5': main_bps"), "{e}");
        let mut input = school(4e6);
        input.cameras[0].record_sub = true;
        assert_eq!(
            plan(&input),
            Err(PlanError::MissingSubBitrate {
                camera: "cam1".to_owned()
            })
        );
        let msg = PlanError::NoCameras.to_string();
        assert!(msg.contains("add at least one camera"));
    }

    #[test]
    fn all_cameras_off_is_not_nan() {
        let mut input = school(4e6);
        for c in &mut input.cameras {
            c.recording_hours_per_day = 0.0;
        }
        let p = plan(&input).unwrap();
        assert_eq!(p.fleet_days, None);
        assert!(p.meets_requirement);
        assert_eq!(p.cameras[0].quota_bytes, 400_000_000_000);
        find(&p, "fleet_not_recording", None);
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("NaN"));
    }

    #[test]
    fn advice_groups_cameras_with_the_same_load() {
        let mut input = school(4e6);
        input.cameras.truncate(3);
        input.disk_bytes = 1_000_000_000_000;
        let p = plan(&input).unwrap();
        let a = find(&p, "camera_over_budget", Some("cam2"));
        assert!(
            a.text
                .starts_with("cam1, cam2 and cam3 at 4.0 Mbit/s each keep"),
            "{}",
            a.text
        );
        input.cameras[1].main_bps = 3e6;
        let p = plan(&input).unwrap();
        let a = find(&p, "camera_over_budget", Some("cam3"));
        assert_eq!(a.cameras, vec!["cam1".to_owned(), "cam3".to_owned()]);
        assert!(a.text.starts_with("cam1 and cam3 at"), "{}", a.text);
        let b = find(&p, "camera_over_budget", Some("cam2"));
        assert!(b.text.starts_with("cam2 at 3.0 Mbit/s keeps"), "{}", b.text);
    }

    #[test]
    fn forecast_days_needs_a_measurement() {
        assert_eq!(forecast_days(1000, 0.0), None);
        assert_eq!(forecast_days(1000, f64::NAN), None);
        assert_eq!(forecast_days(1000, -1.0), None);
        assert_eq!(forecast_days(1000, 100.0), Some(10.0));
    }

    #[test]
    fn render_text_and_json() {
        let p = plan(&school(4e6)).unwrap();
        let text = render_text(&p);
        for want in [
            "disk 12.00 TB",
            "cam30",
            "h264",
            "1920x1080",
            "4.0 Mbit/s",
            "400.0 GB",
            "9.3",
            "1.85 Mbit/s",
            "SHORT",
            "Budget: 1.85 Mbit/s per camera",
            "[CRITICAL]",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        // Columns line up: every table row is as long as the header row.
        let lines: Vec<&str> = text.lines().skip(2).take(32).collect();
        let w = lines[0].find("status").unwrap();
        assert!(lines[1..].iter().all(|l| l.chars().count() >= w), "{text}");

        let json: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert_eq!(json["cameras"][0]["camera"]["codec"], "h264");
        assert_eq!(json["cameras"][0]["status"], "short");
        assert_eq!(json["advice"][0]["severity"], "critical");
        assert_eq!(json["advice"][0]["code"], "fleet_short");
        assert!(json["advice"][0]["params"]["fleet_days"].is_f64());
        let load: CameraLoad =
            serde_json::from_value(json["cameras"][0]["camera"].clone()).unwrap();
        assert_eq!(load, p.cameras[0].camera);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("12TB"), Ok(12_000_000_000_000));
        assert_eq!(parse_size("12 TiB"), Ok(12 << 40));
        assert_eq!(parse_size("500G"), Ok(500_000_000_000));
        assert_eq!(parse_size("1.5T"), Ok(1_500_000_000_000));
        assert_eq!(parse_size("1.5 tb"), Ok(1_500_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("12e12"), Ok(12_000_000_000_000));
        for bad in ["", "TB", "12 XB", "-1TB", "1.2.3T", "99999999999PB", "nan"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.to_string().starts_with("invalid size"), "{bad}: {e}");
        }
    }

    #[test]
    fn bitrates() {
        assert_eq!(parse_bitrate("4M"), Ok(4e6));
        assert_eq!(parse_bitrate("1850k"), Ok(1.85e6));
        assert_eq!(parse_bitrate("1.85Mbit/s"), Ok(1.85e6));
        assert_eq!(parse_bitrate("2 Mbps"), Ok(2e6));
        assert_eq!(parse_bitrate("512 kb/s"), Ok(512e3));
        assert_eq!(parse_bitrate("2000000"), Ok(2e6));
        assert_eq!(parse_bitrate("1G"), Ok(1e9));
        let e = parse_bitrate("4MB/s").unwrap_err();
        assert!(e.to_string().contains("bytes"), "{e}");
        for bad in ["", "fast", "4 Mhz", "-2M"] {
            assert!(parse_bitrate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn codecs() {
        assert_eq!(parse_codec("HEVC"), Ok(Codec::H265));
        assert_eq!(parse_codec("h.264"), Ok(Codec::H264));
        assert!(parse_codec("mjpeg").is_err());
    }
}
