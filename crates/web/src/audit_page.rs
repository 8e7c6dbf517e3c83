//! The audit page (`/audit`, `/api/audit`, `/audit.csv`) and the one-line hooks the other
//! handlers call to record logins, views and configuration changes in the audit trail.
//!
//! Reading the trail needs `govern::Action::ReadAudit`; reading it is itself audited.
//! Filters: actor (user name), action (exact, or a family such as `login.`), target text
//! (`camera:3`), and a local-day range (`from`, `to` inclusive, `YYYY-MM-DD`).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::html;
use serde_json::json;

use crate::auth::Authed;
use crate::i18n::{t, Lang};
use crate::AppState;

/// Rows shown on the page (the CSV has them all).
const PAGE_ROWS: usize = 500;

/// Actions offered in the filter's list (any other can be typed in the URL).
const ACTIONS: &[&str] = &[
    "login.",
    "login.ok",
    "login.fail",
    "logout",
    "live.",
    "live.view",
    "live.view_end",
    "playback.",
    "playback.view",
    "playback.export",
    "timeline.view",
    "request.",
    "export.",
    "hold.",
    "config.",
    "user.",
    "alarm.ack",
    "audit.read",
    "retention.delete",
    "storage.seal",
    "system.",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_page))
        .route("/api/audit", get(audit_api))
        .route("/audit.csv", get(audit_csv))
}

// ---------------------------------------------------------------------------------------
// Hooks: one call per audited event from the other handlers.

/// A login attempt's outcome (`login.ok` / `login.fail`, with the client address).
pub fn login<E>(
    st: &AppState,
    typed: &str,
    client: &str,
    res: &Result<Result<govern::NewSession, govern::LoginError>, E>,
) {
    let (action, detail) = match res {
        Ok(Ok(_)) => ("login.ok", json!({})),
        Ok(Err(e)) => (
            "login.fail",
            json!({ "reason": match e {
                govern::LoginError::Invalid => "invalid",
                govern::LoginError::AccountLocked { .. } => "account_locked",
                govern::LoginError::AddressLocked { .. } => "address_locked",
                govern::LoginError::Govern(_) => "error",
            }}),
        ),
        Err(_) => ("login.fail", json!({ "reason": "error" })),
    };
    // The typed name is what was tried (it may not exist); long junk is cut.
    let typed: String = typed.chars().take(64).collect();
    st.audit.note(
        audit::Event::new(action, format!("user:{typed}"))
            .by(typed)
            .from(client)
            .detail(detail),
    );
}

/// The first administrator created at set-up (`user.change`).
pub fn setup(st: &AppState, s: &govern::NewSession, client: &str) {
    st.audit.note(
        audit::Event::new("user.change", format!("user:{}", s.user.username))
            .by(&s.user.username)
            .from(client)
            .detail(json!({ "change": "create", "role": s.user.role.as_str(), "via": "setup" })),
    );
}

/// A logout.
pub fn logout(st: &AppState, who: Option<&Authed>) {
    if let Some(a) = who {
        st.audit.note(
            audit::Event::new("logout", format!("user:{}", a.user.username)).by(&a.user.username),
        );
    }
}

/// A live view opened (who, from where, camera, stream).
pub fn live_view(st: &AppState, a: &Authed, client: &str, camera: i64, stream: &str) {
    st.audit.note(
        audit::Event::new("live.view", format!("camera:{camera}"))
            .by(&a.user.username)
            .from(client)
            .detail(json!({ "stream": stream })),
    );
}

/// A live view ended: the times watched (`from`, `to`, RFC 3339 UTC, and seconds), so the
/// trail says which times of which camera a person saw live.
pub fn live_view_end(
    st: &AppState,
    user: &str,
    client: &str,
    camera: i64,
    stream: &str,
    from: std::time::SystemTime,
) {
    let to = std::time::SystemTime::now();
    let ticks = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64 * 90)
    };
    st.audit.note(
        audit::Event::new("live.view_end", format!("camera:{camera}"))
            .by(user)
            .from(client)
            .detail(json!({
                "stream": stream,
                "from": media::time::format_ticks(ticks(from)),
                "to": media::time::format_ticks(ticks(to)),
                "seconds": to.duration_since(from).map_or(0.0, |d| d.as_millis() as f64 / 1000.0),
            })),
    );
}

/// Recorded video served (`playback.view` for MSE fragments, `playback.export` for the
/// progressive MP4): who, camera, and the time range (90 kHz ticks → RFC 3339).
pub fn playback_view(
    st: &AppState,
    a: &Authed,
    action: &'static str,
    camera: i64,
    start: i64,
    end: i64,
) {
    st.audit.note(
        audit::Event::new(action, format!("camera:{camera}"))
            .by(&a.user.username)
            .detail(json!({
                "from": media::time::format_ticks(start),
                "to": media::time::format_ticks(end),
            })),
    );
}

/// The progressive MP4 (`playback.export`), called once per download (for the request
/// that starts at byte 0, not for every HTTP Range request a player makes); the range
/// comes from the request's `start` and `end` (Unix ms).
pub fn mp4_view(st: &AppState, a: &Authed, camera: i64, query: Option<&str>) {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    let ms = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    playback_view(
        st,
        a,
        "playback.export",
        camera,
        ms("start") * 90,
        ms("end") * 90,
    );
}

/// A day's timeline looked at (`timeline.view`).
pub fn timeline_view(st: &AppState, a: &Authed, camera: i64, day: (i64, u32, u32)) {
    st.audit.note(
        audit::Event::new("timeline.view", format!("camera:{camera}"))
            .by(&a.user.username)
            .detail(json!({ "day": format!("{:04}-{:02}-{:02}", day.0, day.1, day.2) })),
    );
}

/// An action by a signed-in user (`config.camera`, `user.change`, `alarm.ack`,
/// `request.create`, …), with the client's address when the handler has it. A failure to
/// audit is logged loudly ([`audit::Audit::note`]): the action has happened.
pub fn change(
    st: &AppState,
    a: &Authed,
    client: Option<&str>,
    action: &'static str,
    target: String,
    detail: serde_json::Value,
) {
    let mut e = audit::Event::new(action, target)
        .by(&a.user.username)
        .detail(detail);
    if let Some(c) = client {
        e = e.from(c);
    }
    st.audit.note(e);
}

/// What a camera form changed, without its password.
pub fn camera_detail(
    id: Option<i64>,
    name: &str,
    main_url: &str,
    sub_url: &str,
    enabled: &str,
) -> serde_json::Value {
    json!({
        "change": if id.is_some() { "edit" } else { "add" },
        "name": name,
        "main_url": strip_credentials(main_url),
        "sub_url": strip_credentials(sub_url),
        "enabled": matches!(enabled, "on" | "true" | "1"),
    })
}

/// `rtsp://user:pass@host/…` → `rtsp://host/…` (credentials never enter the trail).
fn strip_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// The page.

/// The filter as given in the query string.
#[derive(Clone, Debug, Default)]
struct Query {
    actor: String,
    action: String,
    target: String,
    from: String,
    to: String,
}

impl Query {
    fn parse(q: Option<&str>) -> Query {
        let mut out = Query::default();
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(q.unwrap_or("")).unwrap_or_default();
        for (k, v) in pairs {
            let v: String = v.trim().chars().take(200).collect();
            match k.as_str() {
                "actor" => out.actor = v,
                "action" => out.action = v,
                "target" | "camera" => out.target = v,
                "from" => out.from = v,
                "to" => out.to = v,
                _ => {}
            }
        }
        // A bare camera id means that camera.
        if !out.target.is_empty() && out.target.chars().all(|c| c.is_ascii_digit()) {
            out.target = format!("camera:{}", out.target);
        }
        out
    }

    /// The audit filter; `Err` names a bad day.
    fn filter(&self, offset_min: i32, limit: usize) -> Result<audit::Filter, String> {
        let day_ms = |s: &str| -> Result<Option<i64>, String> {
            if s.is_empty() {
                return Ok(None);
            }
            let d = crate::playback::parse_day(s).ok_or_else(|| s.to_string())?;
            let (start, _) = crate::playback::day_span(d, offset_min);
            Ok(Some(start / 90))
        };
        let from_ms = day_ms(&self.from)?;
        // `to` is inclusive: up to the end of that local day.
        let to_ms = day_ms(&self.to)?.map(|ms| ms + 86_400_000);
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(audit::Filter {
            actor: opt(&self.actor),
            action: opt(&self.action),
            target: opt(&self.target),
            from_ms,
            to_ms,
            limit,
        })
    }

    fn as_json(&self) -> serde_json::Value {
        json!({ "actor": self.actor, "action": self.action, "target": self.target,
                "from": self.from, "to": self.to })
    }
}

fn bad_day(lang: Lang) -> Response {
    (StatusCode::BAD_REQUEST, t(lang, "audit.bad_day")).into_response()
}

/// Runs the query off the async threads, auditing the read itself.
async fn load(
    st: &AppState,
    a: &Authed,
    filter: audit::Filter,
    q: &Query,
    how: &str,
) -> Result<Vec<audit::StoredEvent>, Response> {
    st.audit.note(
        audit::Event::new("audit.read", "audit")
            .by(&a.user.username)
            .detail(json!({ "filter": q.as_json(), "as": how })),
    );
    let au = st.audit.clone();
    match tokio::task::spawn_blocking(move || au.query(&filter)).await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => {
            tracing::error!("reading the audit trail: {e}");
            Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                t(a.lang, "error.internal"),
            )
                .into_response())
        }
        Err(e) => {
            tracing::error!("reading the audit trail: {e}");
            Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                t(a.lang, "error.internal"),
            )
                .into_response())
        }
    }
}

/// Unix ms → local "YYYY-MM-DD HH:MM:SS".
fn local_time(ms: i64, offset_min: i32) -> String {
    let s = audit::format_ms(ms + i64::from(offset_min) * 60_000);
    // "YYYY-MM-DDTHH:MM:SS.mmmZ" → "YYYY-MM-DD HH:MM:SS"
    format!("{} {}", &s[..10], &s[11..19])
}

async fn audit_page(State(st): State<AppState>, a: Authed, RawQuery(raw): RawQuery) -> Response {
    if let Err(d) = a.require(govern::Action::ReadAudit) {
        return d.into_response();
    }
    let lang = a.lang;
    let off = st.settings.utc_offset_minutes;
    let q = Query::parse(raw.as_deref());
    let Ok(filter) = q.filter(off, PAGE_ROWS + 1) else {
        return bad_day(lang);
    };
    let mut rows = match load(&st, &a, filter, &q, "page").await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let truncated = rows.len() > PAGE_ROWS;
    rows.truncate(PAGE_ROWS);
    let csv_href = format!("/audit.csv?{}", raw.as_deref().unwrap_or(""));
    let body = html! {
        h1 { (t(lang, "audit.title")) }
        p.hint { (t(lang, "audit.hint")) }
        form #audit-filter method="get" action="/audit" {
            label { (t(lang, "audit.actor")) " " input name="actor" value=(q.actor) autocomplete="off"; }
            label { (t(lang, "audit.action")) " "
                select name="action" {
                    option value="" { (t(lang, "audit.any")) }
                    @for act in ACTIONS {
                        option value=(act) selected[q.action == *act] { (act) }
                    }
                    @if !q.action.is_empty() && !ACTIONS.contains(&q.action.as_str()) {
                        option value=(q.action) selected { (q.action) }
                    }
                }
            }
            label { (t(lang, "audit.target")) " " input name="target" value=(q.target) placeholder="camera:1"; }
            label { (t(lang, "audit.from")) " " input type="date" name="from" value=(q.from); }
            label { (t(lang, "audit.to")) " " input type="date" name="to" value=(q.to); }
            button type="submit" { (t(lang, "audit.filter")) }
            " "
            a.button #audit-csv href=(csv_href) download="audit.csv" { (t(lang, "audit.csv")) }
        }
        @if truncated {
            p.hint #audit-truncated { (t(lang, "audit.truncated")) " " (PAGE_ROWS) }
        }
        @if rows.is_empty() {
            p #audit-empty { (t(lang, "audit.none")) }
        } @else {
            table #audit {
                thead { tr {
                    th { "#" }
                    th { (t(lang, "audit.time")) }
                    th { (t(lang, "audit.actor")) }
                    th { (t(lang, "audit.action")) }
                    th { (t(lang, "audit.target")) }
                    th { (t(lang, "audit.detail")) }
                    th { (t(lang, "audit.client")) }
                } }
                tbody {
                    @for r in &rows {
                        tr data-seq=(r.seq) data-action=(r.action) {
                            td { (r.seq) }
                            td { (local_time(r.time_ms, off)) }
                            td { (r.actor.as_deref().unwrap_or(t(lang, "audit.system"))) }
                            td { (r.action) }
                            td { (r.target) }
                            td.detail { code { (r.detail) } }
                            td { (r.client.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    crate::ui::page(&a, t(lang, "audit.title"), body)
}

async fn audit_api(State(st): State<AppState>, a: Authed, RawQuery(raw): RawQuery) -> Response {
    if let Err(d) = a.require(govern::Action::ReadAudit) {
        return d.into_response();
    }
    let q = Query::parse(raw.as_deref());
    let Ok(filter) = q.filter(st.settings.utc_offset_minutes, PAGE_ROWS) else {
        return bad_day(a.lang);
    };
    match load(&st, &a, filter, &q, "json").await {
        Ok(rows) => Json(json!({ "events": rows })).into_response(),
        Err(r) => r,
    }
}

async fn audit_csv(State(st): State<AppState>, a: Authed, RawQuery(raw): RawQuery) -> Response {
    if let Err(d) = a.require(govern::Action::ReadAudit) {
        return d.into_response();
    }
    let q = Query::parse(raw.as_deref());
    let Ok(filter) = q.filter(st.settings.utc_offset_minutes, 0) else {
        return bad_day(a.lang);
    };
    let mut rows = match load(&st, &a, filter, &q, "csv").await {
        Ok(r) => r,
        Err(r) => return r,
    };
    rows.reverse();
    let mut out = Vec::with_capacity(rows.len() * 200);
    if let Err(e) = audit::write_csv(&rows, &mut out) {
        tracing::error!("writing the audit CSV: {e}");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            t(a.lang, "error.internal"),
        )
            .into_response();
    }
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"vigil-audit.csv\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parses_and_filters() {
        let q = Query::parse(Some(
            "actor=anna&action=login.&camera=3&from=2025-01-02&to=2025-01-02",
        ));
        assert_eq!(q.target, "camera:3");
        let f = q.filter(7 * 60, 10).unwrap();
        assert_eq!(f.actor.as_deref(), Some("anna"));
        assert_eq!(f.action.as_deref(), Some("login."));
        // 2025-01-02 00:00 at UTC+7 is 2025-01-01T17:00Z.
        assert_eq!(f.from_ms, Some(1_735_750_800_000));
        assert_eq!(f.to_ms, Some(1_735_750_800_000 + 86_400_000));
        assert!(Query::parse(Some("from=yesterday")).filter(0, 1).is_err());
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            strip_credentials("rtsp://admin:secret@10.0.0.9:554/s1"),
            "rtsp://10.0.0.9:554/s1"
        );
        assert_eq!(strip_credentials(""), "");
    }

    #[test]
    fn local_times() {
        assert_eq!(local_time(0, 7 * 60), "1970-01-01 07:00:00");
    }
}
