//! Login, first-run set-up, logout, and the session guard in front of every route.
//!
//! - The session token lives only in the browser, in the `vigil_session` cookie (HttpOnly,
//!   SameSite=Strict, Path=/, Secure under TLS); `govern` stores its SHA-256.
//! - Every mutation (any method but GET/HEAD/OPTIONS) and every WebSocket upgrade must carry
//!   the session's CSRF token: the form field `csrf`, or the `X-CSRF-Token` header (or, for
//!   WebSocket upgrades, which cannot set headers, the `csrf` query parameter). Tokens are
//!   compared in constant time. A request whose `Origin` names another host is refused;
//!   WebSocket upgrades must send a matching `Origin`.
//! - `/login` and `/setup` have no session yet: their forms carry a per-browser token that
//!   must match the `vigil_precsrf` cookie (double submit), so another site cannot log a
//!   browser in (login CSRF).
//! - Rights are checked only through `govern::authorize` ([`Authed::require`]).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use maud::html;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tracing::{error, warn};

use crate::i18n::{t, Lang};
use crate::ui::{layout, PageCtx};
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "vigil_session";
/// The UI language cookie ("vi"/"en").
pub const LANG_COOKIE: &str = "vigil_lang";
/// The login/set-up forms' double-submit cookie.
pub const PRE_CSRF_COOKIE: &str = "vigil_precsrf";
/// The CSRF header for `fetch` calls.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Largest form body the guard reads to find the CSRF field.
const MAX_FORM_BYTES: usize = 1 << 20;

/// The signed-in user of a request, put there by [`guard`]. Use it as an extractor in any
/// handler behind the guard.
#[derive(Clone, Debug)]
pub struct Authed {
    pub user: govern::User,
    /// The session's CSRF token (render it into forms and the `<meta name="csrf">`).
    pub csrf: String,
    /// The UI language of this request.
    pub lang: Lang,
    /// Requests waiting for this approver's decision (pages of approvers only).
    pub inbox: Option<usize>,
}

impl Authed {
    /// `Ok` when `govern::authorize` allows `action`; otherwise a 403 to return.
    pub fn require(&self, action: govern::Action) -> Result<(), Denied> {
        if govern::authorize(&self.user, &action) {
            Ok(())
        } else {
            warn!(user = %self.user.username, ?action, "refused: no right");
            Err(Denied { lang: self.lang })
        }
    }

    /// The page context for [`crate::ui::layout`].
    pub fn ctx(&self) -> PageCtx<'_> {
        PageCtx {
            lang: self.lang,
            user: Some(&self.user),
            csrf: Some(&self.csrf),
            inbox: self.inbox,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = StatusCode;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authed>()
            .cloned()
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}

/// The client's address as the server saw it (IP only), for lockouts and logs.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(client_addr(parts))
    }
}

fn client_addr(parts: &Parts) -> ClientAddr {
    ClientAddr(
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into()),
    )
}

/// A refusal for lack of rights (403). JSON for API paths' callers is not needed: the body
/// is a short translated sentence.
#[derive(Debug)]
pub struct Denied {
    pub lang: Lang,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        (StatusCode::FORBIDDEN, t(self.lang, "error.forbidden")).into_response()
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// A `Set-Cookie` value with Vigil's attributes: HttpOnly, SameSite=Strict, Path=/, and
/// Secure when `secure`. `max_age` in seconds (`Some(0)` deletes the cookie).
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut s = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if let Some(m) = max_age {
        s.push_str(&format!("; Max-Age={m}"));
    }
    if secure {
        s.push_str("; Secure");
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Constant-time comparison of a CSRF token with the expected one.
pub fn csrf_ok(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let q = parts.uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The language asked for by `?lang=`, else the language cookie.
fn requested_lang(parts: &Parts) -> Option<Lang> {
    query_param(parts, "lang")
        .or_else(|| cookie(&parts.headers, LANG_COOKIE))
        .map(|c| Lang::from_code(&c))
}

fn is_websocket(parts: &Parts) -> bool {
    parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn is_mutation(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths whose callers are programs (JSON, WebSocket): refused with 401, not redirected.
fn is_api(parts: &Parts) -> bool {
    let p = parts.uri.path();
    p.starts_with("/api/") || p.starts_with("/ws") || is_websocket(parts)
}

/// Whether the `Origin` header (if any; required when `required`) names this server.
fn origin_ok(parts: &Parts, required: bool) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return !required;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(host) = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
    else {
        return false;
    };
    let Ok(o) = url::Url::parse(origin) else {
        return false;
    };
    let Some(oport) = o.port_or_known_default() else {
        return false;
    };
    let Ok(h) = url::Url::parse(&format!("{}://{host}", o.scheme())) else {
        return false;
    };
    o.host_str() == h.host_str() && Some(oport) == h.port_or_known_default()
}

fn unauthenticated(parts: &Parts, has_users: bool, secure: bool) -> Response {
    let clear = set_cookie(SESSION_COOKIE, "", secure, Some(0));
    let mut resp = if is_api(parts) {
        (StatusCode::UNAUTHORIZED, "unauthorized").into_response()
    } else {
        Redirect::to(if has_users { "/login" } else { "/setup" }).into_response()
    };
    if cookie(&parts.headers, SESSION_COOKIE).is_some() {
        resp.headers_mut().append(header::SET_COOKIE, clear);
    }
    resp
}

fn forbidden(lang: Lang, why: &str) -> Response {
    warn!(why, "refused (403)");
    (StatusCode::FORBIDDEN, t(lang, "error.csrf")).into_response()
}

fn security_headers(resp: &mut Response, lang_cookie: Option<(Lang, bool)>) {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some((lang, secure)) = lang_cookie {
        let mut c = format!(
            "{LANG_COOKIE}={}; SameSite=Strict; Path=/; Max-Age=31536000",
            lang.code()
        );
        if secure {
            c.push_str("; Secure");
        }
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
}

/// The session guard: every route needs a valid session except `/assets/*`, `/login` and
/// `/setup` (which check their own double-submit token); mutations and WebSocket upgrades
/// need the session's CSRF token and a matching `Origin`. Puts [`Authed`] in the request.
pub async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let secure = st.settings.secure_cookies;
    let path = parts.uri.path().to_string();
    let set_lang = query_param(&parts, "lang").map(|l| (Lang::from_code(&l), secure));
    if path.starts_with("/assets/") || path == "/favicon.ico" {
        let mut r = next.run(Request::from_parts(parts, body)).await;
        security_headers(&mut r, None);
        return r;
    }
    let lang_asked = requested_lang(&parts);
    if path == "/login" || path == "/setup" {
        parts.extensions.insert(lang_asked.unwrap_or_default());
        let mut r = next.run(Request::from_parts(parts, body)).await;
        security_headers(&mut r, set_lang);
        return r;
    }
    let now = st.clock.now_secs();
    let idle = st.settings.idle_timeout.as_secs() as i64;
    let session = match cookie(&parts.headers, SESSION_COOKIE) {
        Some(token) => match st.govern.session(&token, now, idle) {
            Ok(s) => s,
            Err(e) => {
                error!("session lookup: {e}");
                return (StatusCode::INTERNAL_SERVER_ERROR, "database error").into_response();
            }
        },
        None => None,
    };
    let Some(session) = session else {
        let has_users = st.govern.has_users().unwrap_or(true);
        return unauthenticated(&parts, has_users, secure);
    };
    let lang = lang_asked.unwrap_or_else(|| Lang::from_code(&session.user.lang));
    let ws = is_websocket(&parts);
    let mut body = body;
    if is_mutation(&parts.method) || ws {
        let fetch_site = parts
            .headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok());
        if fetch_site == Some("cross-site") || !origin_ok(&parts, ws) {
            return forbidden(lang, "cross-origin request");
        }
        let mut given = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if given.is_none() && ws {
            given = query_param(&parts, "csrf");
        }
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if given.is_none() && is_form {
            let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
                Ok(b) => b,
                Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
            };
            given = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()
                .and_then(|v| v.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
            body = Body::from(bytes);
        }
        if !given.is_some_and(|g| csrf_ok(&session.csrf, &g)) {
            return forbidden(lang, "missing or wrong CSRF token");
        }
    }
    parts.extensions.insert(lang);
    // The approver's inbox badge, for pages only (not APIs, assets or WebSockets).
    let page = parts.method == axum::http::Method::GET
        && !ws
        && !parts.uri.path().starts_with("/api/")
        && !parts.uri.path().starts_with("/assets/");
    let inbox = if page && govern::authorize(&session.user, &govern::Action::RequestInbox) {
        st.govern
            .pending_for(session.user.id)
            .map_err(|e| warn!("counting the inbox: {e}"))
            .ok()
    } else {
        None
    };
    parts.extensions.insert(Authed {
        user: session.user,
        csrf: session.csrf,
        lang,
        inbox,
    });
    let mut r = next.run(Request::from_parts(parts, body)).await;
    security_headers(&mut r, set_lang);
    r
}

/// Routes of this module: `/`, `/login`, `/setup`, `/logout`, `/assets/app.css`, `/api/i18n`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/live") }))
        .route("/login", get(login_page).post(login_submit))
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/logout", post(logout))
        .route("/assets/app.css", get(app_css))
        // No icon: answer at once instead of redirecting the browser's automatic fetch.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/api/i18n", get(i18n_bundle))
        .route("/api/me", get(me))
}

async fn app_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../assets/app.css"),
    )
        .into_response()
}

/// Every string of the table in the request's language, for the ES modules.
async fn i18n_bundle(a: Authed) -> Json<serde_json::Value> {
    Json(crate::i18n::bundle(a.lang))
}

async fn me(a: Authed) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "user": a.user, "csrf": a.csrf, "lang": a.lang.code() }))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    /// Set-up only: the password typed again.
    #[serde(default)]
    password_confirm: String,
    /// Set-up only.
    #[serde(default)]
    display_name: String,
}

/// Renders the login or set-up form with a fresh double-submit token.
fn credentials_page(
    headers: &HeaderMap,
    lang: Lang,
    secure: bool,
    setup: bool,
    status: StatusCode,
    err: Option<String>,
    username: &str,
) -> Response {
    // Reuse the browser's token while it is valid: a page's form must keep matching the
    // cookie even when another request (a second tab, the browser's /favicon.ico fetch
    // answered by this page) renders the page again.
    let token = cookie(headers, PRE_CSRF_COOKIE)
        .filter(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()));
    let ctx = PageCtx {
        lang,
        user: None,
        csrf: None,
        inbox: None,
    };
    let (title, action) = if setup {
        (t(lang, "setup.title"), "/setup")
    } else {
        (t(lang, "login.title"), "/login")
    };
    let other = match lang {
        Lang::Vi => ("?lang=en", "English"),
        Lang::En => ("?lang=vi", "Tiếng Việt"),
    };
    let body = html! {
        section.login-box {
            h1 { (t(lang, "app.name")) }
            h2 { (title) }
            @if setup { p.hint { (t(lang, "setup.hint")) } }
            @if let Some(e) = &err { p.error role="alert" { (e) } }
            form #login method="post" action=(action) autocomplete="off" {
                input type="hidden" name="csrf" value=(token);
                label { (t(lang, "login.username"))
                    input type="text" name="username" value=(username) required autofocus autocomplete="username"; }
                @if setup {
                    label { (t(lang, "setup.display_name"))
                        input type="text" name="display_name"; }
                }
                label { (t(lang, "login.password"))
                    input type="password" name="password" required autocomplete=(if setup { "new-password" } else { "current-password" }); }
                @if setup {
                    label { (t(lang, "setup.password_confirm"))
                        input type="password" name="password_confirm" autocomplete="new-password"; }
                    p.hint { (t(lang, "setup.password_rules")) }
                }
                button type="submit" { (if setup { t(lang, "setup.submit") } else { t(lang, "login.submit") }) }
            }
            p.lang-switch { a href=(format!("{action}{}", other.0)) { (other.1) } }
        }
    };
    let mut resp = (status, layout(&ctx, title, body)).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(PRE_CSRF_COOKIE, &token, secure, Some(3600)),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn req_lang(parts_lang: Option<axum::Extension<Lang>>) -> Lang {
    parts_lang.map(|l| l.0).unwrap_or_default()
}

async fn has_users(st: &AppState) -> Result<bool, Response> {
    let g = st.govern.clone();
    match tokio::task::spawn_blocking(move || g.has_users()).await {
        Ok(Ok(b)) => Ok(b),
        other => {
            error!("counting users: {other:?}");
            Err((StatusCode::INTERNAL_SERVER_ERROR, "database error").into_response())
        }
    }
}

async fn login_page(
    State(st): State<AppState>,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
) -> Response {
    let lang = req_lang(lang);
    match has_users(&st).await {
        Ok(false) => Redirect::to("/setup").into_response(),
        Ok(true) => credentials_page(
            &headers,
            lang,
            st.settings.secure_cookies,
            false,
            StatusCode::OK,
            None,
            "",
        ),
        Err(r) => r,
    }
}

async fn setup_page(
    State(st): State<AppState>,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
) -> Response {
    let lang = req_lang(lang);
    match has_users(&st).await {
        Ok(true) => Redirect::to("/login").into_response(),
        Ok(false) => credentials_page(
            &headers,
            lang,
            st.settings.secure_cookies,
            true,
            StatusCode::OK,
            None,
            "",
        ),
        Err(r) => r,
    }
}

/// Checks the double-submit token of the login and set-up forms.
fn pre_csrf_ok(headers: &HeaderMap, form: &LoginForm) -> bool {
    cookie(headers, PRE_CSRF_COOKIE).is_some_and(|c| csrf_ok(&c, &form.csrf))
}

fn format_local(secs: i64, offset_min: i32) -> String {
    let local = secs + i64::from(offset_min) * 60;
    let day = local.rem_euclid(86_400);
    format!("{:02}:{:02}", day / 3600, (day % 3600) / 60)
}

/// Logs in: a session cookie and a redirect to the live wall.
fn signed_in(st: &AppState, s: govern::NewSession) -> Response {
    let secure = st.settings.secure_cookies;
    let mut resp = Redirect::to("/live").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &s.token, secure, None),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(PRE_CSRF_COOKIE, "", secure, Some(0)),
    );
    resp
}

async fn login_submit(
    State(st): State<AppState>,
    lang: Option<axum::Extension<Lang>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = req_lang(lang);
    let secure = st.settings.secure_cookies;
    if !pre_csrf_ok(&headers, &form) || !origin_ok_headers(&headers) {
        return credentials_page(
            &headers,
            lang,
            secure,
            false,
            StatusCode::FORBIDDEN,
            Some(t(lang, "error.csrf").into()),
            &form.username,
        );
    }
    let g = st.govern.clone();
    let now = st.clock.now_secs();
    let (user, pass, client) = (form.username.clone(), form.password.clone(), addr.clone());
    let res = tokio::task::spawn_blocking(move || g.login(&user, &pass, &addr, now)).await;
    crate::audit_page::login(&st, &form.username, &client, &res);
    let off = st.settings.utc_offset_minutes;
    let (status, msg) = match res {
        Ok(Ok(s)) => return signed_in(&st, s),
        Ok(Err(govern::LoginError::Invalid)) => (
            StatusCode::UNAUTHORIZED,
            t(lang, "login.invalid").to_string(),
        ),
        Ok(Err(govern::LoginError::AccountLocked { until })) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} {}",
                t(lang, "login.account_locked"),
                format_local(until, off)
            ),
        ),
        Ok(Err(govern::LoginError::AddressLocked { until })) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} {}",
                t(lang, "login.address_locked"),
                format_local(until, off)
            ),
        ),
        Ok(Err(govern::LoginError::Govern(e))) => {
            error!("login: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                t(lang, "error.internal").to_string(),
            )
        }
        Err(e) => {
            error!("login task: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                t(lang, "error.internal").to_string(),
            )
        }
    };
    credentials_page(
        &headers,
        lang,
        secure,
        false,
        status,
        Some(msg),
        &form.username,
    )
}

/// `Origin` (when sent) must name this server (login/set-up have no session to check).
fn origin_ok_headers(headers: &HeaderMap) -> bool {
    let (mut parts, _) = Request::new(()).into_parts();
    parts.headers = headers.clone();
    origin_ok(&parts, false)
}

/// Serializes set-up so that two browsers cannot both create "the first" administrator.
static SETUP_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

async fn setup_submit(
    State(st): State<AppState>,
    lang: Option<axum::Extension<Lang>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = req_lang(lang);
    let secure = st.settings.secure_cookies;
    if !pre_csrf_ok(&headers, &form) || !origin_ok_headers(&headers) {
        return credentials_page(
            &headers,
            lang,
            secure,
            true,
            StatusCode::FORBIDDEN,
            Some(t(lang, "error.csrf").into()),
            &form.username,
        );
    }
    if !form.password_confirm.is_empty() && form.password_confirm != form.password {
        return credentials_page(
            &headers,
            lang,
            secure,
            true,
            StatusCode::BAD_REQUEST,
            Some(t(lang, "setup.mismatch").into()),
            &form.username,
        );
    }
    let g = st.govern.clone();
    let now = st.clock.now_secs();
    let f = LoginForm { ..form };
    let client = addr.clone();
    let res = tokio::task::spawn_blocking(move || {
        let _one = SETUP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if g.has_users()? {
            return Ok(None);
        }
        g.create_user(
            &f.username,
            &f.display_name,
            govern::Role::Administrator,
            &f.password,
            now,
        )?;
        match g.login(&f.username, &f.password, &addr, now) {
            Ok(s) => Ok(Some(s)),
            Err(govern::LoginError::Govern(e)) => Err(e),
            Err(e) => Err(govern::GovernError::Hash(e.to_string())),
        }
    })
    .await;
    match res {
        Ok(Ok(Some(s))) => {
            crate::audit_page::setup(&st, &s, &client);
            signed_in(&st, s)
        }
        Ok(Ok(None)) => (StatusCode::FORBIDDEN, t(lang, "setup.done_already")).into_response(),
        Ok(Err(govern::GovernError::WeakPassword(w))) => {
            let key = match w {
                govern::WeakPassword::TooShort => "setup.too_short",
                govern::WeakPassword::Common => "setup.common",
            };
            credentials_page(
                &headers,
                lang,
                secure,
                true,
                StatusCode::BAD_REQUEST,
                Some(t(lang, key).into()),
                "",
            )
        }
        Ok(Err(govern::GovernError::BadUsername(_))) => credentials_page(
            &headers,
            lang,
            secure,
            true,
            StatusCode::BAD_REQUEST,
            Some(t(lang, "setup.bad_username").into()),
            "",
        ),
        other => {
            error!("set-up: {:?}", other.map(|r| r.map(|_| ())));
            credentials_page(
                &headers,
                lang,
                secure,
                true,
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(t(lang, "error.internal").into()),
                "",
            )
        }
    }
}

async fn logout(
    State(st): State<AppState>,
    who: Option<axum::Extension<Authed>>,
    headers: HeaderMap,
) -> Response {
    crate::audit_page::logout(&st, who.as_deref());
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = st.govern.logout(&token) {
            error!("logout: {e}");
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", st.settings.secure_cookies, Some(0)),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vigil_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, "vigil_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let c = set_cookie("vigil_session", "x", true, None);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        let c = set_cookie("vigil_session", "x", false, Some(0));
        assert!(!c.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn csrf_compare() {
        assert!(csrf_ok("abc", "abc"));
        assert!(!csrf_ok("abc", "abd"));
        assert!(!csrf_ok("abc", ""));
        assert!(!csrf_ok("", ""));
    }

    #[test]
    fn origin_matching() {
        let req = |origin: Option<&str>, host: &str| {
            let mut b = axum::http::Request::builder()
                .uri("/x")
                .header("host", host);
            if let Some(o) = origin {
                b = b.header("origin", o);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert!(origin_ok(
            &req(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            true
        ));
        assert!(origin_ok(
            &req(Some("https://vigil.school"), "vigil.school"),
            true
        ));
        assert!(origin_ok(
            &req(Some("https://vigil.school"), "vigil.school:443"),
            true
        ));
        assert!(!origin_ok(
            &req(Some("http://evil.example"), "127.0.0.1:8080"),
            false
        ));
        assert!(!origin_ok(
            &req(Some("http://127.0.0.1:9999"), "127.0.0.1:8080"),
            false
        ));
        assert!(!origin_ok(&req(None, "127.0.0.1:8080"), true));
        assert!(origin_ok(&req(None, "127.0.0.1:8080"), false));
    }

    #[test]
    fn local_time_format() {
        assert_eq!(format_local(0, 420), "07:00");
        assert_eq!(format_local(3600 + 120, 0), "01:02");
    }
}
