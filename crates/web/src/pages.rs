//! The pages IT and the guards use to run the system: cameras (add, edit, disable,
//! connection test with a snapshot), storage (disk use, per-camera bitrate and forecast
//! against the retention floor as a chart, the storage plan's advice), and health (camera
//! states, disk state, alarms until acknowledged). Each page has a JSON twin under `/api/`.
//!
//! Camera passwords are never sent back: the edit form leaves the field empty, and an empty
//! field keeps the stored password.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use maud::{html, Markup, PreEscaped};
use serde::{Deserialize, Serialize};
use tracing::{error, info};

use crate::auth::Authed;
use crate::i18n::{t, Lang};
use crate::ui;
use crate::AppState;

/// Longest a connection test may take.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(15);
/// A stream not streaming for this long raises an "offline" alarm.
pub const OFFLINE_ALARM_AFTER: Duration = Duration::from_secs(30);
/// Free disk below this fraction raises a disk alarm.
pub const DISK_LOW_FRACTION: f64 = 0.05;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cameras", get(cameras_page).post(camera_add_form))
        .route("/cameras/{id}", post(camera_edit_form))
        .route("/cameras/{id}/enable", post(camera_enable_form))
        .route("/cameras/{id}/disable", post(camera_disable_form))
        .route("/cameras/{id}/test", post(camera_test_form))
        .route("/api/cameras", get(cameras_api).post(camera_add_api))
        .route("/api/cameras/{id}", get(camera_api).put(camera_edit_api))
        .route("/api/cameras/{id}/test", post(camera_test_api))
        .route("/storage", get(storage_page))
        .route("/api/storage", get(storage_api))
        .route("/health", get(health_page))
        .route("/api/health", get(health_api))
        .route("/alarms/ack", post(ack_form))
        .route("/api/alarms/ack", post(ack_api))
}

// ---------------------------------------------------------------------------------------
// Errors

/// A handler failure: a status and a translated message (JSON for the API, a page
/// otherwise).
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    pub json: bool,
}

impl PageError {
    fn new(status: StatusCode, message: impl Into<String>, json: bool) -> Self {
        PageError {
            status,
            message: message.into(),
            json,
        }
    }
    fn internal(lang: Lang, what: &str, e: impl std::fmt::Display, json: bool) -> Self {
        error!("{what}: {e}");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            t(lang, "error.internal"),
            json,
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.json {
            (
                self.status,
                Json(serde_json::json!({ "error": self.message })),
            )
                .into_response()
        } else {
            (
                self.status,
                html! { (maud::DOCTYPE) html { body { p.error { (self.message) } } } },
            )
                .into_response()
        }
    }
}

fn require(a: &Authed, action: govern::Action, json: bool) -> Result<(), PageError> {
    a.require(action)
        .map_err(|_| PageError::new(StatusCode::FORBIDDEN, t(a.lang, "error.forbidden"), json))
}

/// Runs blocking store/govern work off the async threads.
async fn blocking<T: Send + 'static>(
    lang: Lang,
    json: bool,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, PageError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(PageError::internal(lang, "request", format!("{e:#}"), json)),
        Err(e) => Err(PageError::internal(lang, "request task", e, json)),
    }
}
// ---------------------------------------------------------------------------------------
// Formatting

fn fmt_bytes(b: f64) -> String {
    if b >= 1e12 {
        format!("{:.2} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

fn fmt_bps(b: f64) -> String {
    if b >= 1e6 {
        format!("{:.2} Mb/s", b / 1e6)
    } else {
        format!("{:.0} kb/s", b / 1e3)
    }
}

fn fmt_days(d: Option<f64>) -> String {
    d.map(|d| format!("{d:.1}")).unwrap_or_else(|| "—".into())
}

/// `YYYY-MM-DD HH:MM:SS` local time of Unix milliseconds.
fn fmt_local_ms(ms: i64, offset_min: i32) -> String {
    let secs = ms.div_euclid(1000) + i64::from(offset_min) * 60;
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        tod / 3600,
        (tod % 3600) / 60,
        tod % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------------------------------
// Cameras

/// A camera as the API shows it (never its password).
#[derive(Serialize)]
struct CameraView {
    id: i64,
    name: String,
    main_url: String,
    sub_url: Option<String>,
    username: Option<String>,
    has_password: bool,
    enabled: bool,
    zone: Option<String>,
    department: Option<String>,
    schedule: String,
    quota_bytes: u64,
    min_days: u32,
    max_days: u32,
}

fn camera_views(store: &store::Store) -> anyhow::Result<Vec<CameraView>> {
    let streams = store.streams()?;
    Ok(store
        .cameras()?
        .into_iter()
        .map(|c| {
            let main = streams
                .iter()
                .find(|s| s.camera_id == c.id && s.kind == store::StreamKind::Main);
            CameraView {
                id: c.id,
                has_password: c.password.as_deref().is_some_and(|p| !p.is_empty()),
                schedule: c.schedule.to_string(),
                quota_bytes: main.map_or(0, |m| m.quota_bytes),
                min_days: main.map_or(store::camera::DEFAULT_MIN_DAYS, |m| m.min_days),
                max_days: main.map_or(store::camera::DEFAULT_MAX_DAYS, |m| m.max_days),
                name: c.name,
                main_url: c.main_url,
                sub_url: c.sub_url,
                username: c.username,
                enabled: c.enabled,
                zone: c.zone,
                department: c.department,
            }
        })
        .collect())
}

/// The add/edit form (and the API's JSON body). Empty strings mean "none" except for the
/// password, where empty keeps the stored one.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct CameraInput {
    pub name: String,
    pub main_url: String,
    pub sub_url: String,
    pub username: String,
    pub password: String,
    pub zone: String,
    pub department: String,
    pub schedule: String,
    /// Byte quota of the main stream, e.g. `380G` (empty: none).
    pub quota: String,
    pub min_days: String,
    pub max_days: String,
    /// Checkbox: "on"/"true" when enabled.
    pub enabled: String,
}

/// A validated [`CameraInput`].
struct CameraPlan {
    name: String,
    main_url: String,
    sub_url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    zone: Option<String>,
    department: Option<String>,
    schedule: store::schedule::Schedule,
    quota: u64,
    min_days: u32,
    max_days: u32,
    enabled: bool,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn check_rtsp(lang: Lang, u: &str) -> Result<(), String> {
    let url = url::Url::parse(u).map_err(|_| format!("{}: {u}", t(lang, "cameras.err.url")))?;
    if url.scheme() != "rtsp" {
        return Err(format!("{}: {u}", t(lang, "cameras.err.url")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(t(lang, "cameras.err.url_credentials").to_string());
    }
    Ok(())
}

impl CameraInput {
    fn validate(&self, lang: Lang) -> Result<CameraPlan, String> {
        let name = self.name.trim().to_string();
        if name.is_empty() {
            return Err(t(lang, "cameras.err.name").into());
        }
        let main_url = self.main_url.trim().to_string();
        check_rtsp(lang, &main_url)?;
        let sub_url = opt(&self.sub_url);
        if let Some(s) = &sub_url {
            check_rtsp(lang, s)?;
        }
        let schedule = match opt(&self.schedule) {
            None => store::schedule::Schedule::always(),
            Some(s) => store::schedule::Schedule::parse(&s)
                .map_err(|e| format!("{}: {e}", t(lang, "cameras.err.schedule")))?,
        };
        let quota = match opt(&self.quota) {
            None => 0,
            Some(q) => store::plan::parse_size(&q)
                .map_err(|e| format!("{}: {e}", t(lang, "cameras.err.quota")))?,
        };
        let days = |s: &str, default: u32| -> Result<u32, String> {
            match opt(s) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u32>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| t(lang, "cameras.err.days").to_string()),
            }
        };
        let min_days = days(&self.min_days, store::camera::DEFAULT_MIN_DAYS)?;
        let max_days = days(&self.max_days, store::camera::DEFAULT_MAX_DAYS)?;
        if min_days > max_days {
            return Err(t(lang, "cameras.err.days").into());
        }
        Ok(CameraPlan {
            name,
            main_url,
            sub_url,
            username: opt(&self.username),
            password: (!self.password.is_empty()).then(|| self.password.clone()),
            zone: opt(&self.zone),
            department: opt(&self.department),
            schedule,
            quota,
            min_days,
            max_days,
            enabled: matches!(self.enabled.as_str(), "on" | "true" | "1"),
        })
    }
}

fn apply_retention(store: &store::Store, id: i64, p: &CameraPlan) -> anyhow::Result<()> {
    store.set_schedule(id, &p.schedule)?;
    for st in store.streams()?.iter().filter(|s| s.camera_id == id) {
        if st.kind == store::StreamKind::Main {
            store.set_stream_retention(st.id, p.quota, p.min_days, p.max_days)?;
        }
    }
    Ok(())
}

fn add_camera(store: &store::Store, p: CameraPlan) -> anyhow::Result<i64> {
    let id = store.add_camera(store::NewCamera {
        name: p.name.clone(),
        main_url: p.main_url.clone(),
        sub_url: p.sub_url.clone(),
        username: p.username.clone(),
        password: p.password.clone(),
        enabled: p.enabled,
        zone: p.zone.clone(),
        department: p.department.clone(),
    })?;
    apply_retention(store, id, &p)?;
    Ok(id)
}

fn edit_camera(store: &store::Store, id: i64, p: CameraPlan) -> anyhow::Result<()> {
    store.camera(id)?;
    store.update_camera(
        id,
        store::CameraUpdate {
            name: Some(p.name.clone()),
            main_url: Some(p.main_url.clone()),
            sub_url: Some(p.sub_url.clone()),
            username: Some(p.username.clone()),
            // Empty keeps the stored password; clearing the user name clears it too.
            password: match (&p.username, &p.password) {
                (None, _) => Some(None),
                (Some(_), Some(pw)) => Some(Some(pw.clone())),
                (Some(_), None) => None,
            },
            enabled: Some(p.enabled),
            zone: Some(p.zone.clone()),
            department: Some(p.department.clone()),
        },
    )?;
    apply_retention(store, id, &p)?;
    Ok(())
}

#[derive(Deserialize, Default)]
struct CamerasQuery {
    edit: Option<i64>,
}

fn camera_form(
    a: &Authed,
    cam: Option<&CameraView>,
    input: Option<&CameraInput>,
    err: Option<&str>,
) -> Markup {
    let l = a.lang;
    let v = |from_cam: Option<String>, from_input: Option<&str>| -> String {
        from_input
            .map(str::to_string)
            .or(from_cam)
            .unwrap_or_default()
    };
    let action = match cam {
        Some(c) => format!("/cameras/{}", c.id),
        None => "/cameras".to_string(),
    };
    let enabled = match (input, cam) {
        (Some(i), _) => matches!(i.enabled.as_str(), "on" | "true" | "1"),
        (None, Some(c)) => c.enabled,
        (None, None) => true,
    };
    html! {
        section.panel {
            h2 { (if cam.is_some() { t(l, "cameras.edit") } else { t(l, "cameras.add") }) }
            @if let Some(e) = err { p.error role="alert" { (e) } }
            form #camera method="post" action=(action) {
                input type="hidden" name="csrf" value=(a.csrf);
                div.grid-form {
                    label { (t(l, "cameras.name"))
                        input name="name" required value=(v(cam.map(|c| c.name.clone()), input.map(|i| i.name.as_str()))); }
                    label { (t(l, "cameras.zone"))
                        input name="zone" value=(v(cam.and_then(|c| c.zone.clone()), input.map(|i| i.zone.as_str()))); }
                    label { (t(l, "cameras.department"))
                        input name="department" value=(v(cam.and_then(|c| c.department.clone()), input.map(|i| i.department.as_str()))); }
                    label.wide { (t(l, "cameras.main_url"))
                        input name="main_url" required placeholder="rtsp://192.168.1.64:554/Streaming/Channels/101"
                            value=(v(cam.map(|c| c.main_url.clone()), input.map(|i| i.main_url.as_str()))); }
                    label.wide { (t(l, "cameras.sub_url"))
                        input name="sub_url" placeholder="rtsp://192.168.1.64:554/Streaming/Channels/102"
                            value=(v(cam.and_then(|c| c.sub_url.clone()), input.map(|i| i.sub_url.as_str()))); }
                    label { (t(l, "cameras.username"))
                        input name="username" autocomplete="off" value=(v(cam.and_then(|c| c.username.clone()), input.map(|i| i.username.as_str()))); }
                    label { (t(l, "cameras.password"))
                        // Never filled in: the stored password is not sent back.
                        input name="password" type="password" autocomplete="new-password"
                            placeholder=(if cam.is_some_and(|c| c.has_password) { t(l, "cameras.password_keep") } else { "" }); }
                    label.wide { (t(l, "cameras.schedule"))
                        input name="schedule" placeholder="mon-fri 06:00-18:00 continuous; sat,sun off; default continuous"
                            value=(v(cam.map(|c| c.schedule.clone()), input.map(|i| i.schedule.as_str()))); }
                    label { (t(l, "cameras.quota"))
                        input name="quota" placeholder="380G"
                            value=(v(cam.map(|c| if c.quota_bytes > 0 { format!("{}", c.quota_bytes) } else { String::new() }), input.map(|i| i.quota.as_str()))); }
                    label { (t(l, "cameras.min_days"))
                        input name="min_days" type="number" min="1" max="3650"
                            value=(v(cam.map(|c| c.min_days.to_string()), input.map(|i| i.min_days.as_str()))); }
                    label { (t(l, "cameras.max_days"))
                        input name="max_days" type="number" min="1" max="3650"
                            value=(v(cam.map(|c| c.max_days.to_string()), input.map(|i| i.max_days.as_str()))); }
                    label.check {
                        input name="enabled" type="checkbox" checked[enabled];
                        (t(l, "cameras.enabled"))
                    }
                }
                p.hint { (t(l, "cameras.schedule_hint")) }
                button type="submit" { (t(l, "cameras.save")) }
                @if cam.is_some() { " " a href="/cameras" { (t(l, "cameras.cancel")) } }
            }
        }
    }
}

fn cameras_markup(a: &Authed, cams: &[CameraView], form: Markup, test: Option<Markup>) -> Markup {
    let l = a.lang;
    html! {
        h1 { (t(l, "nav.cameras")) }
        @if let Some(tm) = test { (tm) }
        div.table-wrap {
            table #cameras {
                thead { tr {
                    th { (t(l, "cameras.name")) } th { (t(l, "cameras.zone")) }
                    th { (t(l, "cameras.department")) } th { (t(l, "cameras.main_url")) }
                    th { (t(l, "cameras.schedule")) } th { (t(l, "cameras.retention")) }
                    th { (t(l, "cameras.state")) } th {}
                } }
                tbody {
                    @for c in cams {
                        tr data-camera=(c.id) class=(if c.enabled { "" } else { "disabled" }) {
                            td { (c.name) }
                            td { (c.zone.as_deref().unwrap_or("")) }
                            td { (c.department.as_deref().unwrap_or("")) }
                            td.url { (c.main_url) @if let Some(s) = &c.sub_url { br; small { (s) } } }
                            td { small { (c.schedule) } }
                            td { (c.min_days) "–" (c.max_days) " " (t(l, "unit.days"))
                                @if c.quota_bytes > 0 { br; small { (fmt_bytes(c.quota_bytes as f64)) } } }
                            td { (if c.enabled { t(l, "cameras.enabled") } else { t(l, "cameras.disabled") }) }
                            td.actions {
                                a.button href=(format!("/cameras?edit={}", c.id)) { (t(l, "cameras.edit")) }
                                form.inline method="post" action=(format!("/cameras/{}/test", c.id)) {
                                    input type="hidden" name="csrf" value=(a.csrf);
                                    button.test type="submit" { (t(l, "cameras.test")) }
                                }
                                form.inline method="post" action=(format!("/cameras/{}/{}", c.id, if c.enabled { "disable" } else { "enable" })) {
                                    input type="hidden" name="csrf" value=(a.csrf);
                                    button type="submit" { (if c.enabled { t(l, "cameras.disable") } else { t(l, "cameras.enable") }) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if cams.is_empty() { p.hint { (t(l, "cameras.none")) } }
        (form)
    }
}

async fn render_cameras(
    st: &AppState,
    a: &Authed,
    status: StatusCode,
    edit: Option<i64>,
    input: Option<&CameraInput>,
    err: Option<&str>,
    test: Option<Markup>,
) -> Result<Response, PageError> {
    let store = st.store.clone();
    let cams = blocking(a.lang, false, move || camera_views(&store)).await?;
    let editing = edit.and_then(|id| cams.iter().find(|c| c.id == id));
    let form = camera_form(a, editing, input, err);
    let mut r = ui::page(
        a,
        t(a.lang, "nav.cameras"),
        cameras_markup(a, &cams, form, test),
    );
    *r.status_mut() = status;
    Ok(r)
}

async fn cameras_page(
    State(st): State<AppState>,
    a: Authed,
    Query(q): Query<CamerasQuery>,
) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureCameras, false)?;
    render_cameras(&st, &a, StatusCode::OK, q.edit, None, None, None).await
}

/// Saves a camera from the form: `Ok(())` or a translated message.
async fn save_camera(
    st: &AppState,
    a: &Authed,
    id: Option<i64>,
    input: &CameraInput,
) -> Result<i64, (StatusCode, String)> {
    let plan = input
        .validate(a.lang)
        .map_err(|m| (StatusCode::BAD_REQUEST, m))?;
    let store = st.store.clone();
    let lang = a.lang;
    let who = a.user.username.clone();
    let res = tokio::task::spawn_blocking(move || match id {
        Some(id) => edit_camera(&store, id, plan).map(|_| id),
        None => add_camera(&store, plan),
    })
    .await;
    match res {
        Ok(Ok(saved)) => {
            let d = crate::audit_page::camera_detail(
                id,
                &input.name,
                &input.main_url,
                &input.sub_url,
                &input.enabled,
            );
            crate::audit_page::change(st, a, None, "config.camera", format!("camera:{saved}"), d);
            let id = saved;
            info!(camera = id, by = %who, "camera saved");
            Ok(id)
        }
        Ok(Err(e)) => {
            let msg = format!("{e:#}");
            let status = if msg.contains("no camera") || msg.contains("not found") {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            };
            Err((status, format!("{}: {msg}", t(lang, "cameras.err.save"))))
        }
        Err(e) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {e}", t(lang, "error.internal")),
        )),
    }
}

async fn camera_add_form(
    State(st): State<AppState>,
    a: Authed,
    Form(input): Form<CameraInput>,
) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureCameras, false)?;
    match save_camera(&st, &a, None, &input).await {
        Ok(_) => Ok(Redirect::to("/cameras").into_response()),
        Err((s, m)) => render_cameras(&st, &a, s, None, Some(&input), Some(&m), None).await,
    }
}

async fn camera_edit_form(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Form(input): Form<CameraInput>,
) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureCameras, false)?;
    match save_camera(&st, &a, Some(id), &input).await {
        Ok(_) => Ok(Redirect::to("/cameras").into_response()),
        Err((s, m)) => render_cameras(&st, &a, s, Some(id), Some(&input), Some(&m), None).await,
    }
}

async fn set_enabled(
    st: &AppState,
    a: &Authed,
    id: i64,
    enabled: bool,
    json: bool,
) -> Result<(), PageError> {
    require(a, govern::Action::ConfigureCameras, json)?;
    let store = st.store.clone();
    let lang = a.lang;
    let res = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
        if store.cameras()?.iter().all(|c| c.id != id) {
            return Ok(false);
        }
        store.set_enabled(id, enabled)?;
        Ok(true)
    })
    .await;
    match res {
        Ok(Ok(true)) => {
            crate::audit_page::change(
                st,
                a,
                None,
                "config.camera",
                format!("camera:{id}"),
                serde_json::json!({ "change": if enabled { "enable" } else { "disable" } }),
            );
            info!(camera = id, enabled, by = %a.user.username, "camera enabled/disabled");
            Ok(())
        }
        Ok(Ok(false)) => Err(PageError::new(
            StatusCode::NOT_FOUND,
            t(lang, "error.not_found"),
            json,
        )),
        Ok(Err(e)) => Err(PageError::internal(
            lang,
            "enabling a camera",
            format!("{e:#}"),
            json,
        )),
        Err(e) => Err(PageError::internal(lang, "enabling a camera", e, json)),
    }
}

async fn camera_enable_form(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    set_enabled(&st, &a, id, true, false).await?;
    Ok(Redirect::to("/cameras").into_response())
}

async fn camera_disable_form(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    set_enabled(&st, &a, id, false, false).await?;
    Ok(Redirect::to("/cameras").into_response())
}

async fn cameras_api(State(st): State<AppState>, a: Authed) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureCameras, true)?;
    let store = st.store.clone();
    let cams = blocking(a.lang, true, move || camera_views(&store)).await?;
    Ok(Json(cams).into_response())
}

async fn camera_api(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureCameras, true)?;
    let store = st.store.clone();
    let cams = blocking(a.lang, true, move || camera_views(&store)).await?;
    match cams.into_iter().find(|c| c.id == id) {
        Some(c) => Ok(Json(c).into_response()),
        None => Err(PageError::new(
            StatusCode::NOT_FOUND,
            t(a.lang, "error.not_found"),
            true,
        )),
    }
}

async fn camera_add_api(
    State(st): State<AppState>,
    a: Authed,
    Json(input): Json<CameraInput>,
) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureCameras, true)?;
    match save_camera(&st, &a, None, &input).await {
        Ok(id) => Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response()),
        Err((s, m)) => Err(PageError::new(s, m, true)),
    }
}

async fn camera_edit_api(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Json(input): Json<CameraInput>,
) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureCameras, true)?;
    match save_camera(&st, &a, Some(id), &input).await {
        Ok(id) => Ok(Json(serde_json::json!({ "id": id })).into_response()),
        Err((s, m)) => Err(PageError::new(s, m, true)),
    }
}

/// What a connection test found.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    pub ok: bool,
    /// The snapshot as a `data:image/jpeg;base64,…` URL.
    pub snapshot: Option<String>,
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

/// Connects to `url` (with the credentials) over RTSP/TCP with ffmpeg and grabs one JPEG.
pub async fn snapshot(url: &str, username: Option<&str>, password: Option<&str>) -> TestResult {
    let started = std::time::Instant::now();
    let fail = |e: String| TestResult {
        ok: false,
        snapshot: None,
        error: Some(e),
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    let mut u = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return fail(format!("{url}: {e}")),
    };
    if let Some(user) = username {
        if u.set_username(user).is_err() || u.set_password(password).is_err() {
            return fail("the URL cannot carry credentials".into());
        }
    }
    let mut cmd = tokio::process::Command::new("ffmpeg");
    cmd.args([
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
    ])
    .args(["-timeout", "5000000", "-i"])
    .arg(u.as_str())
    .args([
        "-frames:v",
        "1",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "-q:v",
        "4",
        "-",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return fail(format!(
                "ffmpeg cannot run ({e}): install it with ./scripts/install-deps.sh"
            ))
        }
    };
    match tokio::time::timeout(TEST_TIMEOUT, child.wait_with_output()).await {
        Err(_) => fail(format!("no picture within {} s", TEST_TIMEOUT.as_secs())),
        Ok(Err(e)) => fail(format!("ffmpeg: {e}")),
        Ok(Ok(out)) if out.status.success() && out.stdout.starts_with(&[0xFF, 0xD8]) => {
            use base64::Engine;
            TestResult {
                ok: true,
                snapshot: Some(format!(
                    "data:image/jpeg;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(&out.stdout)
                )),
                error: None,
                elapsed_ms: started.elapsed().as_millis() as u64,
            }
        }
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            // ffmpeg may echo the URL: never show the password back.
            let err = match password {
                Some(p) if !p.is_empty() => err.replace(p, "***"),
                _ => err.into_owned(),
            };
            fail(
                err.lines()
                    .last()
                    .unwrap_or("no picture")
                    .trim()
                    .to_string(),
            )
        }
    }
}

#[derive(Deserialize, Default)]
struct TestQuery {
    /// "main" (default) or "sub".
    stream: Option<String>,
}

async fn run_test(
    st: &AppState,
    a: &Authed,
    id: i64,
    sub: bool,
    json: bool,
) -> Result<(String, TestResult), PageError> {
    require(a, govern::Action::ConfigureCameras, json)?;
    let store = st.store.clone();
    let cam = blocking(a.lang, json, move || {
        Ok(store.cameras()?.into_iter().find(|c| c.id == id))
    })
    .await?;
    let Some(cam) = cam else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            t(a.lang, "error.not_found"),
            json,
        ));
    };
    let url = if sub {
        cam.sub_url.clone().unwrap_or(cam.main_url.clone())
    } else {
        cam.main_url.clone()
    };
    let r = snapshot(&url, cam.username.as_deref(), cam.password.as_deref()).await;
    info!(camera = id, ok = r.ok, by = %a.user.username, "camera connection test");
    Ok((cam.name, r))
}

async fn camera_test_api(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
    Query(q): Query<TestQuery>,
) -> Result<Response, PageError> {
    let (_, r) = run_test(&st, &a, id, q.stream.as_deref() == Some("sub"), true).await?;
    Ok(Json(r).into_response())
}

async fn camera_test_form(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (name, r) = run_test(&st, &a, id, false, false).await?;
    let l = a.lang;
    let m = html! {
        section.panel.test-result data-camera=(id) data-ok=(r.ok) {
            h2 { (t(l, "cameras.test_result")) ": " (name) }
            @if let Some(s) = &r.snapshot {
                p.ok { (t(l, "cameras.test_ok")) " (" (r.elapsed_ms) " ms)" }
                img.snapshot src=(s) alt=(name);
            }
            @if let Some(e) = &r.error { p.error { (t(l, "cameras.test_failed")) ": " (e) } }
        }
    };
    render_cameras(&st, &a, StatusCode::OK, None, None, None, Some(m)).await
}

// ---------------------------------------------------------------------------------------
// Disk, live state

/// Size and free space of the filesystem holding `path`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct DiskSpace {
    pub total_bytes: u64,
    pub free_bytes: u64,
    /// Free for unprivileged users (what Vigil can use).
    pub available_bytes: u64,
}

/// `statvfs` of `path`.
pub fn disk_space(path: &std::path::Path) -> std::io::Result<DiskSpace> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let f = s.f_frsize as u64;
    Ok(DiskSpace {
        total_bytes: s.f_blocks as u64 * f,
        free_bytes: s.f_bfree as u64 * f,
        available_bytes: s.f_bavail as u64 * f,
    })
}

/// The recorder's per-stream writer state from `status.json` (fresh within 10 s).
fn writer_states(
    data_dir: &std::path::Path,
    now_ms: i64,
) -> HashMap<i64, (bool, bool, Option<String>)> {
    let mut out = HashMap::new();
    let Ok(bytes) = std::fs::read(data_dir.join("status.json")) else {
        return out;
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return out;
    };
    if now_ms - v["written_at_ms"].as_i64().unwrap_or(0) > 10_000 {
        return out;
    }
    for s in v["streams"].as_array().into_iter().flatten() {
        if let Some(id) = s["stream_id"].as_i64() {
            let w = &s["writer"];
            out.insert(
                id,
                (
                    w["recording"].as_bool().unwrap_or(false),
                    w["schedule_off"].as_bool().unwrap_or(false),
                    w["last_error"].as_str().map(str::to_string),
                ),
            );
        }
    }
    out
}

fn state_name(s: &ingest::StreamState) -> &'static str {
    match s {
        ingest::StreamState::Connecting => "connecting",
        ingest::StreamState::Streaming => "streaming",
        ingest::StreamState::Backoff { .. } => "backoff",
        ingest::StreamState::Stopped => "stopped",
    }
}

// ---------------------------------------------------------------------------------------
// Storage

#[derive(Serialize)]
struct StorageRow {
    camera_id: i64,
    camera: String,
    stream_id: i64,
    bitrate_bps: Option<f64>,
    used_bytes: u64,
    quota_bytes: u64,
    bytes_per_day: Option<f64>,
    forecast_days: Option<f64>,
    min_days: u32,
    max_days: u32,
    short: bool,
}

#[derive(Serialize)]
struct StorageReport {
    disk: Option<DiskSpace>,
    used_bytes: u64,
    streams: Vec<StorageRow>,
    /// The storage plan for the measured loads on this disk, when any camera falls short.
    plan: Option<store::plan::Plan>,
}

fn storage_report(st: &AppState) -> anyhow::Result<StorageReport> {
    let now = st.clock.now_ticks();
    let usage = st.store.stream_usage(now)?;
    let live: HashMap<(i64, store::StreamKind), ingest::StreamStats> =
        st.live.stats().into_iter().collect();
    let disk = disk_space(&st.settings.data_dir).ok();
    let mut rows = Vec::new();
    let mut loads = Vec::new();
    let mut required: f64 = 0.0;
    for u in usage.iter() {
        let stats = live.get(&(u.camera_id, u.kind));
        let bitrate = stats.map(|s| s.bitrate).filter(|b| *b > 0.0);
        let forecast = u.forecast_days.or_else(|| {
            // No quota: the stream may use the whole free space at its rate.
            let bpd = u.bytes_per_day.or(bitrate.map(|b| b / 8.0 * 86_400.0))?;
            disk.map(|d| (d.available_bytes + u.used_bytes) as f64 / bpd)
        });
        let short = forecast.is_some_and(|f| f < f64::from(u.min_days));
        if u.kind == store::StreamKind::Main {
            required = required.max(f64::from(u.min_days));
            let bps = bitrate
                .or(u.bytes_per_day.map(|b| b * 8.0 / 86_400.0))
                .unwrap_or(0.0);
            loads.push(store::plan::CameraLoad {
                name: u.camera.clone(),
                codec: stats.and_then(|s| s.codec).unwrap_or(media::Codec::H264),
                width: stats.and_then(|s| s.resolution).map_or(0, |r| r.0),
                height: stats.and_then(|s| s.resolution).map_or(0, |r| r.1),
                fps: stats.map_or(0.0, |s| s.fps),
                main_bps: bps,
                sub_bps: None,
                record_sub: false,
                measured: true,
                recording_hours_per_day: 24.0,
            });
        }
        rows.push(StorageRow {
            camera_id: u.camera_id,
            camera: format!("{} ({})", u.camera, u.kind),
            stream_id: u.stream_id,
            bitrate_bps: bitrate,
            used_bytes: u.used_bytes,
            quota_bytes: u.quota_bytes,
            bytes_per_day: u.bytes_per_day,
            forecast_days: forecast,
            min_days: u.min_days,
            max_days: u.max_days,
            short,
        });
    }
    let used: u64 = usage.iter().map(|u| u.used_bytes).sum();
    let any_short = rows.iter().any(|r| r.short);
    let plan = match disk {
        Some(d) if any_short && loads.iter().any(|l| l.main_bps > 0.0) => {
            let mut input = store::plan::PlanInput::new(loads, d.available_bytes + used);
            if required > 0.0 {
                input.required_days = required;
            }
            store::plan::plan(&input).ok()
        }
        _ => None,
    };
    Ok(StorageReport {
        disk,
        used_bytes: used,
        streams: rows,
        plan,
    })
}

/// Horizontal bars: each stream's forecast days, its floor (min) and ceiling (max) days.
fn storage_chart(l: Lang, rows: &[StorageRow]) -> Markup {
    let row_h = 28.0;
    let label_w = 190.0;
    let width = 760.0;
    let bar_w = width - label_w - 70.0;
    let height = rows.len() as f64 * row_h + 34.0;
    let scale_max = rows
        .iter()
        .map(|r| {
            r.forecast_days
                .unwrap_or(0.0)
                .max(f64::from(r.max_days))
                .max(f64::from(r.min_days))
        })
        .fold(1.0_f64, f64::max)
        * 1.1;
    let x = |d: f64| label_w + (d.min(scale_max) / scale_max) * bar_w;
    html! {
        svg #storage-chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {width} {height}"))
            role="img" aria-label=(t(l, "storage.chart")) {
            @for (i, r) in rows.iter().enumerate() {
                @let y = i as f64 * row_h + 4.0;
                g data-stream=(r.stream_id) class=(if r.short { "short" } else { "ok" }) {
                    text.label x=(label_w - 8.0) y=(y + row_h * 0.6) text-anchor="end" { (r.camera) }
                    rect.track x=(label_w) y=(y + 4.0) width=(bar_w) height=(row_h - 10.0) rx="3" {}
                    @if let Some(f) = r.forecast_days {
                        rect.bar x=(label_w) y=(y + 4.0) width=(x(f) - label_w) height=(row_h - 10.0) rx="3" {
                            title { (t(l, "storage.forecast")) ": " (fmt_days(Some(f))) " " (t(l, "unit.days")) }
                        }
                        text.value x=(x(f) + 6.0) y=(y + row_h * 0.6) { (fmt_days(Some(f))) }
                    }
                    line.floor x1=(x(f64::from(r.min_days))) x2=(x(f64::from(r.min_days))) y1=(y) y2=(y + row_h - 2.0) {
                        title { (t(l, "storage.floor")) ": " (r.min_days) " " (t(l, "unit.days")) }
                    }
                    line.ceiling x1=(x(f64::from(r.max_days))) x2=(x(f64::from(r.max_days))) y1=(y) y2=(y + row_h - 2.0) {
                        title { (t(l, "storage.ceiling")) ": " (r.max_days) " " (t(l, "unit.days")) }
                    }
                }
            }
            g.legend {
                @let y = rows.len() as f64 * row_h + 22.0;
                rect.bar x=(label_w) y=(y - 9.0) width="14" height="10" {}
                text x=(label_w + 20.0) y=(y) { (t(l, "storage.forecast")) }
                line.floor x1=(label_w + 170.0) x2=(label_w + 170.0) y1=(y - 11.0) y2=(y + 2.0) {}
                text x=(label_w + 178.0) y=(y) { (t(l, "storage.floor")) }
                line.ceiling x1=(label_w + 330.0) x2=(label_w + 330.0) y1=(y - 11.0) y2=(y + 2.0) {}
                text x=(label_w + 338.0) y=(y) { (t(l, "storage.ceiling")) }
            }
        }
    }
}

fn advice_key(code: &str) -> String {
    format!("advice.{code}")
}

async fn storage_page(State(st): State<AppState>, a: Authed) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureStorage, false)?;
    let s2 = st.clone();
    let rep = blocking(a.lang, false, move || storage_report(&s2)).await?;
    let l = a.lang;
    let body = html! {
        h1 { (t(l, "nav.storage")) }
        section.panel.disk {
            h2 { (t(l, "storage.disk")) }
            @if let Some(d) = rep.disk {
                @let used_frac = 1.0 - d.available_bytes as f64 / d.total_bytes.max(1) as f64;
                p { (t(l, "storage.disk_total")) ": " strong { (fmt_bytes(d.total_bytes as f64)) }
                    " · " (t(l, "storage.disk_free")) ": " strong { (fmt_bytes(d.available_bytes as f64)) }
                    " · " (t(l, "storage.vigil_used")) ": " strong { (fmt_bytes(rep.used_bytes as f64)) } }
                meter min="0" max="1" low="0.8" high="0.95" optimum="0" value=(format!("{used_frac:.3}")) {}
            } @else { p.error { (t(l, "storage.disk_unknown")) } }
        }
        section.panel {
            h2 { (t(l, "storage.forecast_title")) }
            @if rep.streams.is_empty() { p.hint { (t(l, "cameras.none")) } }
            @else { (storage_chart(l, &rep.streams)) }
        }
        @if let Some(p) = &rep.plan {
            section.panel.advice #advice {
                h2 { (t(l, "storage.advice")) }
                ul {
                    @for adv in &p.advice {
                        li data-code=(adv.code) class=(format!("{:?}", adv.severity).to_lowercase()) {
                            @let k = advice_key(adv.code);
                            @if crate::i18n::keys().any(|x| x == k) { strong { (t(l, &k)) } }
                            @if !adv.cameras.is_empty() { " (" (adv.cameras.join(", ")) ")" }
                            details { summary { (t(l, "storage.advice_details")) } p { (adv.text) } }
                        }
                    }
                }
            }
        }
        div.table-wrap {
            table #storage {
                thead { tr {
                    th { (t(l, "cameras.name")) } th { (t(l, "storage.bitrate")) } th { (t(l, "storage.used")) }
                    th { (t(l, "cameras.quota")) } th { (t(l, "storage.per_day")) } th { (t(l, "storage.forecast")) }
                    th { (t(l, "storage.floor")) } th { (t(l, "storage.ceiling")) }
                } }
                tbody {
                    @for r in &rep.streams {
                        tr data-stream=(r.stream_id) data-camera=(r.camera_id) class=(if r.short { "short" } else { "" }) {
                            td { (r.camera) }
                            td { (r.bitrate_bps.map(fmt_bps).unwrap_or_else(|| "—".into())) }
                            td { (fmt_bytes(r.used_bytes as f64)) }
                            td { (if r.quota_bytes > 0 { fmt_bytes(r.quota_bytes as f64) } else { t(l, "storage.no_quota").to_string() }) }
                            td { (r.bytes_per_day.map(fmt_bytes).unwrap_or_else(|| "—".into())) }
                            td.forecast { (fmt_days(r.forecast_days)) @if r.short { " ⚠" } }
                            td { (r.min_days) } td { (r.max_days) }
                        }
                    }
                }
            }
        }
    };
    Ok(ui::page(&a, t(l, "nav.storage"), body))
}

async fn storage_api(State(st): State<AppState>, a: Authed) -> Result<Response, PageError> {
    require(&a, govern::Action::ConfigureStorage, true)?;
    let s2 = st.clone();
    let rep = blocking(a.lang, true, move || storage_report(&s2)).await?;
    Ok(Json(rep).into_response())
}

// ---------------------------------------------------------------------------------------
// Health and alarms

#[derive(Serialize)]
struct StreamHealth {
    kind: store::StreamKind,
    state: &'static str,
    online: bool,
    fps: f64,
    bitrate_bps: f64,
    last_frame_ms: Option<i64>,
    reconnects: u64,
    recording: Option<bool>,
    schedule_off: Option<bool>,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct CameraHealth {
    id: i64,
    name: String,
    enabled: bool,
    online: bool,
    streams: Vec<StreamHealth>,
}

#[derive(Serialize)]
struct AlarmView {
    key: String,
    /// i18n key of the alarm's kind.
    kind: &'static str,
    camera: Option<String>,
    detail: String,
    since_ms: Option<i64>,
}

#[derive(Serialize)]
struct HealthReport {
    recorder_running: bool,
    cameras: Vec<CameraHealth>,
    disk: Option<DiskSpace>,
    disk_state: &'static str,
    alarms: Vec<AlarmView>,
}

fn utc_day(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}{m:02}{d:02}")
}

fn health_report(st: &AppState) -> anyhow::Result<HealthReport> {
    let now_ms = st.clock.now_ms();
    let cams = st.store.cameras()?;
    let streams = st.store.streams()?;
    let writers = writer_states(&st.settings.data_dir, now_ms);
    let recorder_running = !writers.is_empty();
    let mut alarms = Vec::new();
    let mut cameras = Vec::new();
    for c in &cams {
        let mut sh = Vec::new();
        for s in streams.iter().filter(|s| s.camera_id == c.id) {
            let stats = st.live.get(c.id, s.kind).map(|m| m.stats());
            let w = writers.get(&s.id);
            let online = stats
                .as_ref()
                .is_some_and(|x| x.state == ingest::StreamState::Streaming);
            if let Some(x) = &stats {
                let since_ms = x
                    .since
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                if c.enabled
                    && !online
                    && now_ms - since_ms >= OFFLINE_ALARM_AFTER.as_millis() as i64
                {
                    alarms.push(AlarmView {
                        key: format!("offline:{}:{}:{}", c.id, s.kind, since_ms / 1000),
                        kind: "alarm.offline",
                        camera: Some(c.name.clone()),
                        detail: x
                            .last_error
                            .as_ref()
                            .map(|e| e.to_string())
                            .unwrap_or_default(),
                        since_ms: Some(since_ms),
                    });
                }
            }
            sh.push(StreamHealth {
                kind: s.kind,
                state: stats
                    .as_ref()
                    .map_or(if c.enabled { "unknown" } else { "disabled" }, |x| {
                        state_name(&x.state)
                    }),
                online,
                fps: stats.as_ref().map_or(0.0, |x| x.fps),
                bitrate_bps: stats.as_ref().map_or(0.0, |x| x.bitrate),
                last_frame_ms: stats
                    .as_ref()
                    .and_then(|x| x.last_frame_time)
                    .map(|t| t / 90),
                reconnects: stats.as_ref().map_or(0, |x| x.reconnects),
                recording: w.map(|w| w.0),
                schedule_off: w.map(|w| w.1),
                last_error: w.and_then(|w| w.2.clone()).or_else(|| {
                    stats
                        .as_ref()
                        .and_then(|x| x.last_error.as_ref().map(|e| e.to_string()))
                }),
            });
        }
        cameras.push(CameraHealth {
            id: c.id,
            name: c.name.clone(),
            enabled: c.enabled,
            online: sh
                .iter()
                .any(|s| s.kind == store::StreamKind::Main && s.online),
            streams: sh,
        });
    }
    let day = utc_day(now_ms);
    for u in st.store.stream_usage(now_ms * 90)? {
        if let Some(al) = &u.alarm {
            let (kind, tag) = match al {
                store::Alarm::ForecastBelowMinimum { .. } => ("alarm.forecast", "forecast"),
                store::Alarm::WriteFailing {
                    disk_full: true, ..
                } => ("alarm.disk_full", "diskfull"),
                store::Alarm::WriteFailing { .. } => ("alarm.write_failing", "write"),
            };
            alarms.push(AlarmView {
                key: format!("storage:{}:{tag}:{day}", u.stream_id),
                kind,
                camera: Some(format!("{} ({})", u.camera, u.kind)),
                detail: al.to_string(),
                since_ms: None,
            });
        }
    }
    let disk = disk_space(&st.settings.data_dir).ok();
    let disk_state = match disk {
        None => "unknown",
        Some(d) if (d.available_bytes as f64) < d.total_bytes as f64 * DISK_LOW_FRACTION => {
            alarms.push(AlarmView {
                key: format!("disk:low:{day}"),
                kind: "alarm.disk_low",
                camera: None,
                detail: format!(
                    "{} / {}",
                    fmt_bytes(d.available_bytes as f64),
                    fmt_bytes(d.total_bytes as f64)
                ),
                since_ms: None,
            });
            "low"
        }
        Some(_) => "ok",
    };
    let mut open = Vec::new();
    for a in alarms {
        if st.govern.alarm_ack(&a.key)?.is_none() {
            open.push(a);
        }
    }
    Ok(HealthReport {
        recorder_running,
        cameras,
        disk,
        disk_state,
        alarms: open,
    })
}

async fn health_page(State(st): State<AppState>, a: Authed) -> Result<Response, PageError> {
    require(&a, govern::Action::ViewHealth, false)?;
    let s2 = st.clone();
    let rep = blocking(a.lang, false, move || health_report(&s2)).await?;
    let l = a.lang;
    let off = st.settings.utc_offset_minutes;
    let may_ack = govern::authorize(&a.user, &govern::Action::AcknowledgeAlarm);
    let body = html! {
        h1 { (t(l, "nav.health")) }
        @if !rep.recorder_running { p.warning { (t(l, "health.recorder_not_running")) } }
        section.panel #alarms-panel {
            h2 { (t(l, "health.alarms")) }
            @if rep.alarms.is_empty() { p.ok.no-alarms { (t(l, "health.no_alarms")) } }
            ul #alarms {
                @for al in &rep.alarms {
                    li data-alarm=(al.key) {
                        strong { (t(l, al.kind)) }
                        @if let Some(c) = &al.camera { " · " (c) }
                        @if let Some(s) = al.since_ms { " · " (t(l, "health.since")) " " (fmt_local_ms(s, off)) }
                        @if !al.detail.is_empty() { br; small { (al.detail) } }
                        @if may_ack {
                            form.inline method="post" action="/alarms/ack" {
                                input type="hidden" name="csrf" value=(a.csrf);
                                input type="hidden" name="key" value=(al.key);
                                button.ack type="submit" { (t(l, "health.ack")) }
                            }
                        }
                    }
                }
            }
        }
        section.panel.disk data-state=(rep.disk_state) {
            h2 { (t(l, "storage.disk")) }
            @if let Some(d) = rep.disk {
                p { (t(l, "storage.disk_free")) ": " strong { (fmt_bytes(d.available_bytes as f64)) } " / " (fmt_bytes(d.total_bytes as f64))
                    " · " (t(l, &format!("health.disk.{}", rep.disk_state))) }
            } @else { p.error { (t(l, "storage.disk_unknown")) } }
        }
        div.table-wrap {
            table #health {
                thead { tr {
                    th { (t(l, "cameras.name")) } th { (t(l, "health.state")) } th { "fps" }
                    th { (t(l, "storage.bitrate")) } th { (t(l, "health.last_frame")) }
                    th { (t(l, "health.recording")) } th { (t(l, "health.reconnects")) }
                } }
                tbody {
                    @for c in &rep.cameras {
                        @let main = c.streams.iter().find(|s| s.kind == store::StreamKind::Main);
                        tr data-camera=(c.id) data-online=(c.online) class=(if !c.enabled { "disabled" } else if c.online { "online" } else { "offline" }) {
                            td { (c.name) }
                            td.state {
                                span.badge { (if !c.enabled { t(l, "cameras.disabled") } else if c.online { t(l, "health.online") } else { t(l, "health.offline") }) }
                                @for s in &c.streams { br; small { (s.kind) ": " (t(l, &format!("state.{}", s.state))) } }
                            }
                            td { (main.map_or("—".into(), |s| format!("{:.1}", s.fps))) }
                            td { (main.map_or("—".into(), |s| fmt_bps(s.bitrate_bps))) }
                            td { (main.and_then(|s| s.last_frame_ms).map_or("—".into(), |ms| fmt_local_ms(ms, off))) }
                            td { (match main.and_then(|s| s.recording.zip(s.schedule_off)) {
                                Some((_, true)) => t(l, "health.schedule_off"),
                                Some((true, _)) => t(l, "health.recording_yes"),
                                Some((false, _)) => t(l, "health.recording_no"),
                                None => "—",
                            })
                            @if let Some(e) = main.and_then(|s| s.last_error.as_ref()) { br; small.error { (e) } } }
                            td { (main.map_or(0, |s| s.reconnects)) }
                        }
                    }
                }
            }
        }
        // Refresh every 10 s without script.
        (PreEscaped(r#"<meta http-equiv="refresh" content="10">"#))
    };
    Ok(ui::page(&a, t(l, "nav.health"), body))
}

async fn health_api(State(st): State<AppState>, a: Authed) -> Result<Response, PageError> {
    require(&a, govern::Action::ViewHealth, true)?;
    let s2 = st.clone();
    let rep = blocking(a.lang, true, move || health_report(&s2)).await?;
    Ok(Json(rep).into_response())
}

#[derive(Deserialize)]
struct AckInput {
    key: String,
}

async fn ack(st: &AppState, a: &Authed, key: String, json: bool) -> Result<(), PageError> {
    require(a, govern::Action::AcknowledgeAlarm, json)?;
    if key.is_empty() || key.len() > 200 {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            t(a.lang, "error.not_found"),
            json,
        ));
    }
    let g = st.govern.clone();
    let now = st.clock.now_secs();
    let uid = a.user.id;
    info!(alarm = %key, by = %a.user.username, "alarm acknowledged");
    crate::audit_page::change(
        st,
        a,
        None,
        "alarm.ack",
        format!("alarm:{key}"),
        serde_json::json!({}),
    );
    blocking(a.lang, json, move || {
        Ok(g.acknowledge_alarm(&key, uid, now)?)
    })
    .await
}

async fn ack_form(
    State(st): State<AppState>,
    a: Authed,
    Form(f): Form<AckInput>,
) -> Result<Response, PageError> {
    ack(&st, &a, f.key, false).await?;
    Ok(Redirect::to("/health").into_response())
}

async fn ack_api(
    State(st): State<AppState>,
    a: Authed,
    Json(f): Json<AckInput>,
) -> Result<Response, PageError> {
    ack(&st, &a, f.key, true).await?;
    Ok(Json(serde_json::json!({ "ok": true })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(fmt_local_ms(0, 420), "1970-01-01 07:00:00");
        assert_eq!(utc_day(86_400_000 * 31), "19700201");
    }

    #[test]
    fn camera_input_validation() {
        let ok = CameraInput {
            name: "Cổng".into(),
            main_url: "rtsp://10.0.0.2/main".into(),
            quota: "380G".into(),
            min_days: "20".into(),
            max_days: "30".into(),
            enabled: "on".into(),
            ..Default::default()
        };
        let p = ok.validate(Lang::En).unwrap();
        assert_eq!(p.quota, 380_000_000_000);
        assert!(p.enabled && p.password.is_none());
        let bad = |f: fn(&mut CameraInput)| {
            let mut c = ok.clone();
            f(&mut c);
            c.validate(Lang::En).is_err()
        };
        assert!(bad(|c| c.main_url = "http://x/".into()));
        assert!(bad(|c| c.main_url = "rtsp://admin:secret@x/".into()));
        assert!(bad(|c| c.min_days = "40".into()));
        assert!(bad(|c| c.schedule = "someday".into()));
        assert!(bad(|c| c.name = " ".into()));
    }

    #[test]
    fn disk_space_of_tmp() {
        let d = disk_space(std::path::Path::new("/tmp")).unwrap();
        assert!(d.total_bytes > 0 && d.available_bytes <= d.total_bytes);
    }
}
