//! Requests for footage (R4): filing with the scanned written request, the approvers'
//! inbox, approval or rejection with a comment, the grants and the optional hold an
//! approval creates, releasing the hold, export of an approved request and the download
//! page. Rules are `govern`'s ([`govern::authorize`] and the checks inside
//! `Govern::create_request`/`decide_request`); this module turns HTTP into those calls.
//!
//! The scanned request (PDF, JPEG, PNG; checked by its magic bytes, at most
//! [`MAX_DOCUMENT_BYTES`]) is stored as `DATA/requests/<id>/<name>` with its SHA-256 in the
//! database. The filing form is multipart; `requests.js` sends it with the CSRF header
//! (the session guard reads the token from the header for non-urlencoded bodies).

use std::path::{Path as FsPath, PathBuf};

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use sha2::{Digest, Sha256};
use tracing::{error, warn};

use crate::auth::{Authed, ClientAddr};
use crate::i18n::{t, Lang};
use crate::ui;
use crate::AppState;

/// Largest scanned request accepted.
pub const MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;
/// Longest a grant may last (days) when the approver does not say.
pub const DEFAULT_GRANT_DAYS: i64 = 7;
const TICKS_PER_SEC: i64 = 90_000;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/requests", get(list_page).post(create))
        .route("/requests/new", get(new_page))
        .route("/requests/inbox", get(inbox_page))
        .route("/requests/{id}", get(detail_page))
        .route("/requests/{id}/document", get(document))
        .route("/requests/{id}/decide", post(decide))
        .route("/requests/{id}/release-hold", post(release_hold))
        .route("/requests/{id}/export", post(export))
        .route("/requests/{id}/exports/{eid}", get(download_page))
        .route("/requests/{id}/exports/{eid}/{file}", get(download))
        .route("/assets/requests.js", get(requests_js))
        .layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 256 * 1024))
}

// ---------------------------------------------------------------------------------------
// Errors and helpers

/// A refusal or failure shown as a page with a translated message.
pub struct Fail {
    status: StatusCode,
    message: String,
}

impl Fail {
    fn new(status: StatusCode, message: impl Into<String>) -> Fail {
        Fail {
            status,
            message: message.into(),
        }
    }
    fn forbidden(lang: Lang) -> Fail {
        Fail::new(StatusCode::FORBIDDEN, t(lang, "error.forbidden"))
    }
    fn internal(lang: Lang, e: impl std::fmt::Display) -> Fail {
        error!("requests: {e}");
        Fail::new(StatusCode::INTERNAL_SERVER_ERROR, t(lang, "error.internal"))
    }
    fn bad(message: impl Into<String>) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (
            self.status,
            html! { (maud::DOCTYPE) html { body { p.error { (self.message) } } } },
        )
            .into_response()
    }
}

/// The translated message of a govern error (rule refusals are 403/409/400).
fn govern_fail(lang: Lang, e: govern::GovernError) -> Fail {
    use govern::GovernError as G;
    match e {
        G::NotAllowed => Fail::forbidden(lang),
        G::SelfApproval => Fail::new(StatusCode::FORBIDDEN, t(lang, "req.err.self_approval")),
        G::NotPending => Fail::new(StatusCode::CONFLICT, t(lang, "req.err.not_pending")),
        G::NoSuchRequest(_) => Fail::new(StatusCode::NOT_FOUND, t(lang, "error.not_found")),
        G::Invalid(m) => Fail::bad(format!("{}: {m}", t(lang, "req.err.invalid"))),
        G::NoSuchUser(_) => Fail::bad(t(lang, "req.err.invalid")),
        other => Fail::internal(lang, other),
    }
}

async fn blocking<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, Fail> + Send + 'static,
) -> Result<T, Fail> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Fail::internal(lang, e))?
}
/// Local `YYYY-MM-DD HH:MM:SS` of 90 kHz wall ticks.
pub fn local_time(ticks: i64, offset_min: i32) -> String {
    let secs = ticks.div_euclid(TICKS_PER_SEC) + i64::from(offset_min) * 60;
    let (y, m, d) = media::time::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// `YYYY-MM-DDTHH:MM[:SS]` (a `datetime-local` input, local time) → 90 kHz wall ticks.
pub fn parse_local(s: &str, offset_min: i32) -> Option<i64> {
    let s = s.trim();
    let (day, time) = s.split_once(['T', ' '])?;
    let (y, m, d) = crate::playback::parse_day(day)?;
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let mi: i64 = parts.next()?.parse().ok()?;
    let se: i64 = match parts.next() {
        Some(x) => x.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some()
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..60).contains(&se)
    {
        return None;
    }
    let secs = media::time::days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + se
        - i64::from(offset_min) * 60;
    Some(secs * TICKS_PER_SEC)
}

/// The type of a scanned request from its first bytes: PDF, JPEG or PNG.
pub fn sniff_document(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"%PDF-") {
        Some(("application/pdf", "pdf"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else {
        None
    }
}

fn requests_dir(st: &AppState, id: i64) -> PathBuf {
    st.settings.data_dir.join("requests").join(id.to_string())
}

fn purpose_label(lang: Lang, q: &govern::Request) -> String {
    let p = t(lang, &format!("req.purpose.{}", q.purpose.as_str()));
    if q.purpose == govern::Purpose::Other {
        format!("{p}: {}", q.purpose_other)
    } else {
        p.to_string()
    }
}

fn status_label(lang: Lang, s: govern::Status) -> &'static str {
    t(lang, &format!("req.status.{}", s.as_str()))
}

fn camera_names(st: &AppState) -> Vec<(i64, String)> {
    st.store
        .cameras()
        .map(|cs| cs.into_iter().map(|c| (c.id, c.name)).collect())
        .unwrap_or_default()
}

fn name_of(cams: &[(i64, String)], id: i64) -> String {
    cams.iter()
        .find(|c| c.0 == id)
        .map(|c| c.1.clone())
        .unwrap_or_else(|| format!("#{id}"))
}

fn requests_table(
    lang: Lang,
    off: i32,
    cams: &[(i64, String)],
    rows: &[govern::Request],
) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { (t(lang, "req.none")) }
        } @else {
            table.requests {
                thead { tr {
                    th { "#" } th { (t(lang, "req.requester")) } th { (t(lang, "req.purpose")) }
                    th { (t(lang, "req.cameras")) } th { (t(lang, "req.window")) }
                    th { (t(lang, "req.status")) }
                } }
                tbody {
                    @for q in rows {
                        tr data-request=(q.id) data-status=(q.status.as_str()) {
                            td { a href={ "/requests/" (q.id) } { (q.id) } }
                            td { (q.requester) }
                            td { (purpose_label(lang, q)) }
                            td { (q.cameras.iter().map(|c| name_of(cams, *c)).collect::<Vec<_>>().join(", ")) }
                            td { (local_time(q.start, off)) " → " (local_time(q.end, off)) }
                            td.status { (status_label(lang, q.status)) }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pages

async fn list_page(State(st): State<AppState>, a: Authed) -> Result<Response, Fail> {
    if !govern::authorize(&a.user, &govern::Action::OpenRequests) {
        return Err(Fail::forbidden(a.lang));
    }
    let lang = a.lang;
    let uid = a.user.id;
    let st2 = st.clone();
    let (mine, granted, cams) = blocking(lang, move || {
        let mine = st2
            .govern
            .requests(govern::RequestFilter::By(uid), 200)
            .map_err(|e| govern_fail(lang, e))?;
        let granted = st2
            .govern
            .requests(govern::RequestFilter::GrantedTo(uid), 200)
            .map_err(|e| govern_fail(lang, e))?;
        Ok((mine, granted, camera_names(&st2)))
    })
    .await?;
    let off = st.settings.utc_offset_minutes;
    let may_file = a.user.access.has_any(govern::Right::ExportRequest);
    let inbox = govern::authorize(&a.user, &govern::Action::RequestInbox);
    Ok(ui::page(
        &a,
        t(lang, "req.title"),
        html! {
            h1 { (t(lang, "req.title")) }
            p.actions {
                @if may_file { a.button href="/requests/new" { (t(lang, "req.new")) } " " }
                @if inbox { a.button href="/requests/inbox" { (t(lang, "req.inbox")) } }
            }
            h2 { (t(lang, "req.mine")) }
            (requests_table(lang, off, &cams, &mine))
            h2 { (t(lang, "req.granted")) }
            (requests_table(lang, off, &cams, &granted))
        },
    ))
}

async fn inbox_page(State(st): State<AppState>, a: Authed) -> Result<Response, Fail> {
    if !govern::authorize(&a.user, &govern::Action::RequestInbox) {
        return Err(Fail::forbidden(a.lang));
    }
    let lang = a.lang;
    let st2 = st.clone();
    let (pending, all, cams) = blocking(lang, move || {
        let p = st2
            .govern
            .requests(govern::RequestFilter::Pending, 500)
            .map_err(|e| govern_fail(lang, e))?;
        let all = st2
            .govern
            .requests(govern::RequestFilter::All, 100)
            .map_err(|e| govern_fail(lang, e))?;
        Ok((p, all, camera_names(&st2)))
    })
    .await?;
    let decided: Vec<_> = all
        .into_iter()
        .filter(|q| q.status != govern::Status::Pending)
        .collect();
    let off = st.settings.utc_offset_minutes;
    Ok(ui::page(
        &a,
        t(lang, "req.inbox"),
        html! {
            h1 { (t(lang, "req.inbox")) }
            section #inbox { (requests_table(lang, off, &cams, &pending)) }
            h2 { (t(lang, "req.decided")) }
            (requests_table(lang, off, &cams, &decided))
        },
    ))
}

async fn new_page(State(st): State<AppState>, a: Authed) -> Result<Response, Fail> {
    let lang = a.lang;
    if !a.user.access.has_any(govern::Right::ExportRequest) {
        return Err(Fail::forbidden(lang));
    }
    let st2 = st.clone();
    let cams = blocking(lang, move || Ok(camera_names(&st2))).await?;
    let cams: Vec<_> = cams
        .into_iter()
        .filter(|(id, _)| {
            govern::authorize(&a.user, &govern::Action::CreateRequest { camera: *id })
        })
        .collect();
    Ok(ui::page(
        &a,
        t(lang, "req.new"),
        html! {
            h1 { (t(lang, "req.new")) }
            p.muted { (t(lang, "req.new_hint")) }
            form #request method="post" action="/requests" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(a.csrf);
                label { (t(lang, "req.purpose"))
                    select name="purpose" required {
                        @for p in govern::Purpose::ALL {
                            option value=(p.as_str()) { (t(lang, &format!("req.purpose.{}", p.as_str()))) }
                        }
                    }
                }
                label { (t(lang, "req.purpose_other")) input type="text" name="purpose_other" maxlength="500"; }
                fieldset.cameras {
                    legend { (t(lang, "req.cameras")) }
                    @for (id, name) in &cams {
                        label.check { input type="checkbox" name="camera" value=(id); " " (name) }
                    }
                }
                div.times {
                    label { (t(lang, "req.start")) input type="datetime-local" name="start" step="1" required; }
                    label { (t(lang, "req.end")) input type="datetime-local" name="end" step="1" required; }
                }
                label { (t(lang, "req.reason")) textarea name="reason" rows="5" maxlength="4000" required {} }
                label.check { input type="checkbox" name="want_hold" value="1"; " " (t(lang, "req.want_hold")) }
                label { (t(lang, "req.document")) " (PDF, JPEG, PNG ≤ 20 MB)"
                    input type="file" name="document" accept="application/pdf,image/jpeg,image/png" required;
                }
                p.error hidden {}
                button type="submit" { (t(lang, "req.submit")) }
            }
            script type="module" src="/assets/requests.js" {}
        },
    ))
}

async fn requests_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/requests.js"),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------
// Filing

async fn create(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    mut mp: Multipart,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let off = st.settings.utc_offset_minutes;
    let mut purpose = None;
    let mut purpose_other = String::new();
    let mut cameras = Vec::new();
    let (mut start, mut end) = (None, None);
    let mut reason = String::new();
    let mut want_hold = false;
    let mut doc: Option<(String, bytes::Bytes)> = None;
    // Bounded: the body limit caps the number and size of fields.
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|_| Fail::bad(t(lang, "req.err.upload")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "document" {
            let file = field.file_name().unwrap_or("document").to_string();
            let data = field.bytes().await.map_err(|_| {
                Fail::new(StatusCode::PAYLOAD_TOO_LARGE, t(lang, "req.err.too_large"))
            })?;
            doc = Some((file, data));
            continue;
        }
        let v = field
            .text()
            .await
            .map_err(|_| Fail::bad(t(lang, "req.err.upload")))?;
        match name.as_str() {
            "purpose" => purpose = govern::Purpose::parse(&v),
            "purpose_other" => purpose_other = v,
            "camera" => cameras.push(
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| Fail::bad(t(lang, "req.err.cameras")))?,
            ),
            "start" => start = parse_local(&v, off),
            "end" => end = parse_local(&v, off),
            "reason" => reason = v,
            "want_hold" => want_hold = !v.is_empty(),
            _ => {}
        }
    }
    let purpose = purpose.ok_or_else(|| Fail::bad(t(lang, "req.err.purpose")))?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(Fail::bad(t(lang, "req.err.window")));
    };
    if end <= start {
        return Err(Fail::bad(t(lang, "req.err.window")));
    }
    if cameras.is_empty() {
        return Err(Fail::bad(t(lang, "req.err.cameras")));
    }
    let (file, data) = doc.ok_or_else(|| Fail::bad(t(lang, "req.err.document")))?;
    if data.is_empty() {
        return Err(Fail::bad(t(lang, "req.err.document")));
    }
    if data.len() > MAX_DOCUMENT_BYTES {
        return Err(Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            t(lang, "req.err.too_large"),
        ));
    }
    let (mime, ext) =
        sniff_document(&data).ok_or_else(|| Fail::bad(t(lang, "req.err.doc_type")))?;
    let sha = hex::encode(Sha256::digest(&data));
    let stored_name = format!("request.{ext}");
    let new = govern::NewRequest {
        purpose,
        purpose_other,
        reason,
        cameras,
        start,
        end,
        want_export: true,
        want_hold,
        document: govern::Document {
            file: stored_name.clone(),
            mime: mime.to_string(),
            size: data.len() as i64,
            sha256: sha.clone(),
        },
    };
    let now = st.clock.now_secs();
    let st2 = st.clone();
    let user = a.user.clone();
    let id = blocking(lang, move || {
        let id = st2
            .govern
            .create_request(&user, &new, now)
            .map_err(|e| govern_fail(lang, e))?;
        let dir = requests_dir(&st2, id);
        if let Err(e) = write_durably(&dir, &stored_name, &data) {
            let _ = st2.govern.discard_pending_request(id);
            return Err(Fail::internal(
                lang,
                format!("storing the document of request {id}: {e}"),
            ));
        }
        Ok(id)
    })
    .await?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "request.create",
        format!("request:{id}"),
        serde_json::json!({ "document_sha256": sha, "original_name": file }),
    );
    Ok(Redirect::to(&format!("/requests/{id}")).into_response())
}

/// Writes `name` in `dir` (created), fsyncs the file and the directory.
fn write_durably(dir: &FsPath, name: &str, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One request

async fn load_visible(st: &AppState, a: &Authed, id: i64) -> Result<govern::Request, Fail> {
    let lang = a.lang;
    let st2 = st.clone();
    let q = blocking(lang, move || {
        st2.govern.request(id).map_err(|e| govern_fail(lang, e))
    })
    .await?;
    let grantee = a.user.access.grants.iter().any(|g| g.request_id == id);
    if !grantee
        && !govern::authorize(
            &a.user,
            &govern::Action::ViewRequest {
                requester: q.requester_id,
            },
        )
    {
        return Err(Fail::forbidden(lang));
    }
    Ok(q)
}

async fn detail_page(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let q = load_visible(&st, &a, id).await?;
    let st2 = st.clone();
    let (grants, exports, cams, people) = blocking(lang, move || {
        let g = st2
            .govern
            .grants_of_request(id)
            .map_err(|e| govern_fail(lang, e))?;
        let e = st2.govern.exports(id).map_err(|e| govern_fail(lang, e))?;
        let p = st2
            .govern
            .grantee_candidates()
            .map_err(|e| govern_fail(lang, e))?;
        Ok((g, e, camera_names(&st2), p))
    })
    .await?;
    let off = st.settings.utc_offset_minutes;
    let now = st.clock.now_secs();
    let may_decide = q.status == govern::Status::Pending
        && q.cameras.iter().all(|&camera| {
            govern::authorize(
                &a.user,
                &govern::Action::DecideRequest {
                    requester: q.requester_id,
                    camera,
                },
            )
        });
    let own_pending = q.status == govern::Status::Pending && q.requester_id == a.user.id;
    let may_export = q.status == govern::Status::Approved
        && govern::authorize(&a.user, &govern::Action::ExportPerform { request: id, now });
    let may_release = !q.hold_ids.is_empty()
        && q.hold_released_at.is_none()
        && q.cameras
            .iter()
            .all(|&camera| govern::authorize(&a.user, &govern::Action::Hold { camera }));
    let name_of_user = |uid: i64| {
        people
            .iter()
            .find(|p| p.0 == uid)
            .map(|p| p.1.clone())
            .unwrap_or_else(|| format!("#{uid}"))
    };
    let mut grantees: Vec<(i64, bool, bool, i64)> = Vec::new();
    for g in &grants {
        if !grantees.iter().any(|x| x.0 == g.user_id) {
            grantees.push((g.user_id, g.can_view, g.can_export, g.expires_at));
        }
    }
    let default_expiry = local_time((now + DEFAULT_GRANT_DAYS * 86_400) * TICKS_PER_SEC, off);
    let default_expiry = default_expiry.replace(' ', "T");
    Ok(ui::page(
        &a,
        &format!("{} #{id}", t(lang, "req.request")),
        html! {
            h1 { (t(lang, "req.request")) " #" (id) }
            dl #request-detail data-request=(id) data-status=(q.status.as_str()) {
                dt { (t(lang, "req.status")) } dd.status { (status_label(lang, q.status)) }
                dt { (t(lang, "req.requester")) } dd { (q.requester) }
                dt { (t(lang, "req.purpose")) } dd { (purpose_label(lang, &q)) }
                dt { (t(lang, "req.cameras")) } dd { (q.cameras.iter().map(|c| name_of(&cams, *c)).collect::<Vec<_>>().join(", ")) }
                dt { (t(lang, "req.window")) } dd { (local_time(q.start, off)) " → " (local_time(q.end, off)) }
                dt { (t(lang, "req.reason")) } dd { (q.reason) }
                dt { (t(lang, "req.document")) }
                dd { a.document href={ "/requests/" (id) "/document" } { (q.document.file) } " · " (q.document.size) " B · SHA-256 " code { (q.document.sha256) } }
                dt { (t(lang, "req.filed_at")) } dd { (local_time(q.created_at * TICKS_PER_SEC, off)) }
                @if let Some(d) = &q.decider {
                    dt { (t(lang, "req.decider")) } dd.decider { (d) }
                    dt { (t(lang, "req.comment")) } dd { (q.comment.clone().unwrap_or_default()) }
                }
                @if let Some(e) = q.grant_expires_at {
                    dt { (t(lang, "req.expires")) } dd { (local_time(e * TICKS_PER_SEC, off)) }
                }
                @if !q.hold_ids.is_empty() {
                    dt { (t(lang, "req.hold")) }
                    dd.hold { @if q.hold_released_at.is_some() { (t(lang, "req.hold_released")) } @else { (t(lang, "req.hold_active")) } }
                }
            }
            @if own_pending {
                p.notice.own { (t(lang, "req.own_pending")) }
            }
            @if may_decide {
                h2 { (t(lang, "req.decide")) }
                form #decide method="post" action={ "/requests/" (id) "/decide" } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    label { (t(lang, "req.comment")) textarea name="comment" rows="4" maxlength="4000" {} }
                    fieldset.grantees {
                        legend { (t(lang, "req.grantees")) }
                        table { thead { tr { th { (t(lang, "req.person")) } th { (t(lang, "req.can_view")) } th { (t(lang, "req.can_export")) } } }
                            tbody { @for (uid, name, performer) in &people {
                                tr data-user=(uid) {
                                    td { (name) }
                                    td { input type="checkbox" name="view" value=(uid) checked[*uid == q.requester_id]; }
                                    td { @if *performer { input type="checkbox" name="export" value=(uid); } }
                                }
                            } }
                        }
                    }
                    label { (t(lang, "req.expires")) input type="datetime-local" name="expires" step="1" value=(default_expiry) required; }
                    label.check { input type="checkbox" name="hold" value="1" checked[q.want_hold]; " " (t(lang, "req.place_hold")) }
                    div.buttons {
                        button type="submit" name="decision" value="approve" { (t(lang, "req.approve")) }
                        button type="submit" name="decision" value="reject" { (t(lang, "req.reject")) }
                    }
                }
            }
            @if !grantees.is_empty() {
                h2 { (t(lang, "req.grants")) }
                table #grants { tbody { @for (uid, v, e, exp) in &grantees {
                    tr data-user=(uid) { td { (name_of_user(*uid)) }
                        td { @if *v { (t(lang, "req.can_view")) } }
                        td { @if *e { (t(lang, "req.can_export")) } }
                        td { (local_time(exp * TICKS_PER_SEC, off)) } }
                } } }
            }
            @if may_release {
                form #release method="post" action={ "/requests/" (id) "/release-hold" } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    button type="submit" { (t(lang, "req.release_hold")) }
                }
            }
            @if may_export {
                form #export method="post" action={ "/requests/" (id) "/export" } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    button.export type="submit" { (t(lang, "req.export")) }
                }
            }
            @if !exports.is_empty() {
                h2 { (t(lang, "req.exports")) }
                ul #exports { @for e in &exports {
                    li data-export=(e.id) { a href={ "/requests/" (id) "/exports/" (e.id) } { (local_time(e.created_at * TICKS_PER_SEC, off)) " · " (e.operator) } }
                } }
            }
        },
    ))
}

async fn document(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let q = load_visible(&st, &a, id).await?;
    let path = requests_dir(&st, id).join(&q.document.file);
    let data = tokio::fs::read(&path)
        .await
        .map_err(|e| Fail::internal(lang, format!("{}: {e}", path.display())))?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "request.document",
        format!("request:{id}"),
        serde_json::json!({}),
    );
    Ok((
        [
            (header::CONTENT_TYPE, q.document.mime.clone()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}\"", q.document.file),
            ),
        ],
        data,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------
// Decisions and holds

async fn decide(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let off = st.settings.utc_offset_minutes;
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let approve = match get("decision").as_deref() {
        Some("approve") => true,
        Some("reject") => false,
        _ => return Err(Fail::bad(t(lang, "req.err.invalid"))),
    };
    let ids = |k: &str| -> Vec<i64> {
        form.iter()
            .filter(|(n, _)| n == k)
            .filter_map(|(_, v)| v.trim().parse().ok())
            .collect()
    };
    let view = ids("view");
    let exp = ids("export");
    let mut grantees: Vec<govern::Grantee> = Vec::new();
    for uid in view.iter().chain(exp.iter()) {
        if grantees.iter().any(|g| g.user_id == *uid) {
            continue;
        }
        grantees.push(govern::Grantee {
            user_id: *uid,
            can_view: view.contains(uid),
            can_export: exp.contains(uid),
        });
    }
    let now = st.clock.now_secs();
    let expires_at = match get("expires").and_then(|e| parse_local(&e, off)) {
        Some(t) => t.div_euclid(TICKS_PER_SEC),
        None if !approve => 0,
        None => return Err(Fail::bad(t(lang, "req.err.expiry"))),
    };
    let hold = approve && get("hold").is_some();
    let d = govern::Decision {
        approve,
        comment: get("comment").unwrap_or_default(),
        grantees,
        expires_at,
    };
    let st2 = st.clone();
    let user = a.user.clone();
    let decided = blocking(lang, move || {
        let q = st2
            .govern
            .decide_request(&user, id, &d, now)
            .map_err(|e| govern_fail(lang, e))?;
        let mut holds = Vec::new();
        if hold {
            for c in &q.cameras {
                let h = st2.store.add_hold(&store::HoldSpec {
                    camera_id: Some(*c),
                    stream_id: None,
                    start: q.start,
                    end: q.end,
                    reason: q.reason.clone(),
                    request_ref: Some(format!("request:{id}")),
                    created_by: user.username.clone(),
                });
                match h {
                    Ok(h) => holds.push(h),
                    Err(e) => error!(request = id, camera = c, "placing a hold: {e}"),
                }
            }
            st2.govern
                .set_request_holds(id, &holds)
                .map_err(|e| govern_fail(lang, e))?;
        }
        Ok((q, holds))
    })
    .await;
    let (q, holds) = match decided {
        Ok(v) => v,
        Err(f) => {
            // A refused decision (no right, or one's own request) is a security event.
            if f.status == StatusCode::FORBIDDEN {
                crate::audit_page::change(
                    &st,
                    &a,
                    Some(&client.0),
                    "request.decide_refused",
                    format!("request:{id}"),
                    serde_json::json!({
                        "decision": if approve { "approve" } else { "reject" },
                        "why": f.message,
                    }),
                );
            }
            return Err(f);
        }
    };
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        if approve {
            "request.approve"
        } else {
            "request.reject"
        },
        format!("request:{id}"),
        serde_json::json!({
            "comment": q.comment, "expires_at": q.grant_expires_at,
            "grantees": view.iter().chain(exp.iter()).collect::<Vec<_>>(),
            "view": view, "export": exp,
        }),
    );
    if !holds.is_empty() {
        crate::audit_page::change(
            &st,
            &a,
            Some(&client.0),
            "hold.place",
            format!("request:{id}"),
            serde_json::json!({ "holds": holds, "cameras": q.cameras, "start": q.start, "end": q.end }),
        );
    }
    Ok(Redirect::to(&format!("/requests/{id}")).into_response())
}

async fn release_hold(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let now = st.clock.now_secs();
    let st2 = st.clone();
    let user = a.user.clone();
    let holds = blocking(lang, move || {
        let holds = st2
            .govern
            .release_request_holds(&user, id, now)
            .map_err(|e| govern_fail(lang, e))?;
        for h in &holds {
            if let Err(e) = st2.store.release_hold(*h, &user.username) {
                warn!(hold = h, "releasing a hold: {e}");
            }
        }
        Ok(holds)
    })
    .await?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "hold.release",
        format!("request:{id}"),
        serde_json::json!({ "holds": holds }),
    );
    Ok(Redirect::to(&format!("/requests/{id}")).into_response())
}

// ---------------------------------------------------------------------------------------
// Export and download

/// Makes the evidence package of approved request `q` in the export directory
/// ([`crate::Settings::export_dir`]: `DATA/exports/` unless configured) with
/// `evidence::export` (main streams, the exact window; it audits the export itself),
/// returning its directory. A window the recorder is still writing is a 409 saying when
/// the open segment began (retry after it closes); any other failure a 503 with its cause.
fn make_package(
    st: &AppState,
    q: &govern::Request,
    operator: &govern::User,
    lang: Lang,
) -> Result<PathBuf, Fail> {
    let failed = |e: String| {
        error!(request = q.id, "export: {e}");
        Fail::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}: {e}", t(lang, "req.err.export")),
        )
    };
    let cams = st.store.cameras().map_err(|e| failed(e.to_string()))?;
    let streams = st.store.streams().map_err(|e| failed(e.to_string()))?;
    let mut cameras = Vec::new();
    for c in &q.cameras {
        let name = cams
            .iter()
            .find(|x| x.id == *c)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| format!("#{c}"));
        let stream = streams
            .iter()
            .find(|s| s.camera_id == *c && s.kind == store::StreamKind::Main)
            .ok_or_else(|| failed(format!("camera {c} has no main stream")))?;
        cameras.push((*c, name, stream.id));
    }
    let spec = evidence::ExportSpec {
        request_id: q.id,
        purpose: purpose_label(Lang::Vi, q),
        reason: q.reason.clone(),
        requester: q.requester.clone(),
        approver: q.decider.clone().unwrap_or_default(),
        // The operator as shown and as the audit trail names people (user name).
        operator: format!("{} ({})", operator.display_name, operator.username),
        cameras,
        start: q.start,
        end: q.end,
    };
    let out = st.settings.export_dir();
    std::fs::create_dir_all(&out).map_err(|e| failed(format!("{}: {e}", out.display())))?;
    match evidence::export(&st.store, &st.audit, &st.audit.key(), &spec, &out) {
        Ok(pkg) => Ok(pkg.dir),
        Err(evidence::EvidenceError::StillRecording { since, .. }) => Err(Fail::new(
            StatusCode::CONFLICT,
            format!(
                "{} ({})",
                t(lang, "req.err.still_recording"),
                local_time(since, st.settings.utc_offset_minutes)
            ),
        )),
        Err(e) => Err(failed(e.to_string())),
    }
}

async fn export(
    State(st): State<AppState>,
    a: Authed,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let now = st.clock.now_secs();
    if !govern::authorize(&a.user, &govern::Action::ExportPerform { request: id, now }) {
        return Err(Fail::forbidden(lang));
    }
    let st2 = st.clone();
    let user = a.user.clone();
    let eid = blocking(lang, move || {
        let q = st2.govern.request(id).map_err(|e| govern_fail(lang, e))?;
        if q.status != govern::Status::Approved {
            return Err(Fail::new(
                StatusCode::CONFLICT,
                t(lang, "req.err.not_approved"),
            ));
        }
        let dir = make_package(&st2, &q, &user, lang)?;
        st2.govern
            .record_export(&user, id, &dir.to_string_lossy(), now)
            .map_err(|e| govern_fail(lang, e))
    })
    .await?;
    // `evidence::export` recorded "export.create" in the audit trail itself.
    Ok(Redirect::to(&format!("/requests/{id}/exports/{eid}")).into_response())
}

async fn find_export(
    st: &AppState,
    a: &Authed,
    id: i64,
    eid: i64,
) -> Result<govern::ExportRecord, Fail> {
    let lang = a.lang;
    let now = st.clock.now_secs();
    if !govern::authorize(
        &a.user,
        &govern::Action::ExportDownload { request: id, now },
    ) {
        return Err(Fail::forbidden(lang));
    }
    let st2 = st.clone();
    let list = blocking(lang, move || {
        st2.govern.exports(id).map_err(|e| govern_fail(lang, e))
    })
    .await?;
    list.into_iter()
        .find(|e| e.id == eid)
        .ok_or_else(|| Fail::new(StatusCode::NOT_FOUND, t(lang, "error.not_found")))
}

fn package_files(dir: &FsPath) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        e.metadata().map(|m| m.len()).unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The download of a whole package as one uncompressed tar (`<package>/<file>` entries).
const ALL_TAR: &str = "all.tar";

/// What the package page shows of `manifest.json` (read from the package itself).
struct ManifestSummary {
    name: String,
    exported_at: String,
    range: (String, String),
    /// (file, camera name, start, end, frames, holes, sha256)
    cameras: Vec<(String, String, String, String, u64, usize, String)>,
    without: Vec<String>,
    verify: Vec<String>,
}

fn manifest_summary(dir: &FsPath, lang: Lang) -> Option<ManifestSummary> {
    let bytes = std::fs::read(dir.join(evidence::MANIFEST_FILE)).ok()?;
    let m: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let key = if lang == Lang::Vi { "vi" } else { "en" };
    Some(ManifestSummary {
        name: s(&m["package"]),
        exported_at: s(&m["exported_at"]),
        range: (s(&m["range"]["start"]), s(&m["range"]["end"])),
        cameras: m["cameras"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    s(&c["file"]),
                    s(&c["name"]),
                    s(&c["start"]),
                    s(&c["end"]),
                    c["frames"].as_u64().unwrap_or(0),
                    c["holes"].as_array().map_or(0, Vec::len),
                    s(&c["sha256"]),
                )
            })
            .collect(),
        without: m["cameras_without_footage"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| s(&c["name"]))
            .collect(),
        verify: m["how_to_verify"][key]
            .as_array()
            .into_iter()
            .flatten()
            .map(s)
            .collect(),
    })
}

/// A size as people read it: `512 B`, `4.3 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

async fn download_page(
    State(st): State<AppState>,
    a: Authed,
    Path((id, eid)): Path<(i64, i64)>,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let e = find_export(&st, &a, id, eid).await?;
    let dir = PathBuf::from(&e.dir);
    let (files, summary) =
        tokio::task::spawn_blocking(move || (package_files(&dir), manifest_summary(&dir, lang)))
            .await
            .map_err(|e| Fail::internal(lang, e))?;
    let total: u64 = files.iter().map(|f| f.1).sum();
    let base = format!("/requests/{id}/exports/{eid}");
    Ok(ui::page(
        &a,
        t(lang, "req.package"),
        html! {
            h1 { (t(lang, "req.package")) " #" (eid) }
            p { a href={ "/requests/" (id) } { (t(lang, "req.request")) " #" (id) } " · " (e.operator) }
            p.muted { (t(lang, "req.package_hint")) }
            p { a.button.download-all href={ (base) "/" (ALL_TAR) } download {
                (t(lang, "req.download_all")) " (.tar, " (human_bytes(total)) ")"
            } }
            @if let Some(m) = &summary {
                dl #package-summary {
                    dt { (t(lang, "req.package_name")) } dd { code { (m.name) } }
                    dt { (t(lang, "req.exported_at")) } dd { (m.exported_at) }
                    dt { (t(lang, "req.window")) " (UTC)" } dd { (m.range.0) " → " (m.range.1) }
                }
                table #package-cameras {
                    thead { tr {
                        th { (t(lang, "req.cameras")) } th { (t(lang, "req.covered")) }
                        th { (t(lang, "req.frames")) } th { (t(lang, "req.holes")) } th { "SHA-256" }
                    } }
                    tbody {
                        @for (file, name, from, to, frames, holes, sha) in &m.cameras {
                            tr data-file=(file) {
                                td { (name) } td { (from) " → " (to) } td { (frames) } td { (holes) }
                                td { code { (sha) } }
                            }
                        }
                        @for name in &m.without {
                            tr.none { td { (name) } td colspan="4" { (t(lang, "req.no_footage")) } }
                        }
                    }
                }
                @if !m.verify.is_empty() {
                    h2 { (t(lang, "req.how_to_verify")) }
                    pre.verify { @for l in &m.verify { (l) "\n" } }
                }
            }
            h2 { (t(lang, "req.files")) }
            ul #package { @for (f, size) in &files {
                li { a.download href={ (base) "/" (f) } download { (f) } " · " (human_bytes(*size)) }
            } }
        },
    ))
}

async fn download(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path((id, eid, file)): Path<(i64, i64, String)>,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let e = find_export(&st, &a, id, eid).await?;
    // Only a plain file name of the package.
    if file.is_empty() || file.contains(['/', '\\']) || file.starts_with('.') {
        return Err(Fail::new(StatusCode::NOT_FOUND, t(lang, "error.not_found")));
    }
    let dir = PathBuf::from(&e.dir);
    if file == ALL_TAR && !dir.join(ALL_TAR).exists() {
        return download_all(&st, &a, &client, id, eid, dir).await;
    }
    let path = dir.join(&file);
    let f = tokio::fs::File::open(&path)
        .await
        .map_err(|_| Fail::new(StatusCode::NOT_FOUND, t(lang, "error.not_found")))?;
    let len = f.metadata().await.map(|m| m.len()).unwrap_or(0);
    let line = format!(
        "{} download {} by {} from {}",
        st.clock.now_secs(),
        file,
        a.user.username,
        client.0
    );
    let dir2 = dir.clone();
    tokio::task::spawn_blocking(move || append_custody(&dir2, &line))
        .await
        .map_err(|e| Fail::internal(lang, e))?
        .map_err(|e| Fail::internal(lang, format!("custody log: {e}")))?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "export.download",
        format!("request:{id}"),
        serde_json::json!({ "export": eid, "file": file, "bytes": len }),
    );
    let body = axum::body::Body::from_stream(tokio_util_stream(f));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

/// The whole package as one tar stream: the custody line and the audit event come first
/// (as for a single file), then every file under `<package>/`, read on a blocking thread.
async fn download_all(
    st: &AppState,
    a: &Authed,
    client: &ClientAddr,
    id: i64,
    eid: i64,
    dir: PathBuf,
) -> Result<Response, Fail> {
    let lang = a.lang;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("package-{eid}"));
    let line = format!(
        "{} download {} (whole package) by {} from {}",
        st.clock.now_secs(),
        ALL_TAR,
        a.user.username,
        client.0
    );
    let dir2 = dir.clone();
    // The custody line goes in before the listing, so the tar carries it.
    let files = tokio::task::spawn_blocking(move || {
        append_custody(&dir2, &line)?;
        Ok::<_, String>(package_files(&dir2))
    })
    .await
    .map_err(|e| Fail::internal(lang, e))?
    .map_err(|e| Fail::internal(lang, format!("custody log: {e}")))?;
    let len = crate::tar::archive_len(files.iter().map(|f| f.1));
    crate::audit_page::change(
        st,
        a,
        Some(&client.0),
        "export.download",
        format!("request:{id}"),
        serde_json::json!({ "export": eid, "file": ALL_TAR, "bytes": len,
                            "files": files.iter().map(|f| &f.0).collect::<Vec<_>>() }),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let prefix = name.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = crate::tar::write_archive(&dir, &prefix, &files, |chunk| {
            tx.blocking_send(Ok(chunk)).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })
        }) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                error!(package = %dir.display(), "streaming the package as tar: {e}");
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.tar\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Appends a line to the package's custody log (`evidence::append_custody`).
fn append_custody(dir: &FsPath, line: &str) -> Result<(), String> {
    evidence::append_custody(dir, line).map_err(|e| e.to_string())
}

/// A file as a stream of chunks (64 KiB), ending at end of file.
fn tokio_util_stream(
    mut f: tokio::fs::File,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send {
    futures::stream::poll_fn(move |cx| {
        use tokio::io::AsyncRead;
        let mut buf = vec![0u8; 64 * 1024];
        let mut rb = tokio::io::ReadBuf::new(&mut buf);
        match std::pin::Pin::new(&mut f).poll_read(cx, &mut rb) {
            std::task::Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    std::task::Poll::Ready(None)
                } else {
                    buf.truncate(n);
                    std::task::Poll::Ready(Some(Ok(bytes::Bytes::from(buf))))
                }
            }
            std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Some(Err(e))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_round_trip() {
        let t = parse_local("2024-05-06T07:08:09", 420).unwrap();
        assert_eq!(local_time(t, 420), "2024-05-06 07:08:09");
        assert_eq!(
            parse_local("2024-05-06T07:08", 0).unwrap() % (60 * TICKS_PER_SEC),
            0
        );
        for bad in [
            "",
            "2024-05-06",
            "2024-02-30T00:00",
            "2024-05-06T24:00",
            "x",
        ] {
            assert!(parse_local(bad, 0).is_none(), "{bad}");
        }
    }

    #[test]
    fn documents_are_sniffed_by_magic_bytes() {
        assert_eq!(sniff_document(b"%PDF-1.4\n").unwrap().0, "application/pdf");
        assert_eq!(
            sniff_document(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap().0,
            "image/jpeg"
        );
        assert_eq!(
            sniff_document(b"\x89PNG\r\n\x1a\n....").unwrap().0,
            "image/png"
        );
        assert!(sniff_document(b"MZ\x90\x00").is_none());
        assert!(sniff_document(b"<html>").is_none());
    }
}
