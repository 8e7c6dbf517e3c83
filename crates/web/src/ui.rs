//! The page layout shared by every server-rendered page.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::i18n::{t, Lang};

/// What every page needs to know about the request.
pub struct PageCtx<'a> {
    pub lang: Lang,
    pub user: Option<&'a govern::User>,
    /// The session's CSRF token, for forms and `fetch` calls (a `<meta name="csrf">`).
    pub csrf: Option<&'a str>,
    /// Requests waiting for the user's decision (approvers), shown as a badge.
    pub inbox: Option<usize>,
}

/// A whole page: head, navigation for the signed-in user, and `body`.
pub fn layout(ctx: &PageCtx<'_>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(ctx.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(c) = ctx.csrf { meta name="csrf" content=(c); }
                title { (title) " · " (t(ctx.lang, "app.name")) }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/assets/app.css";
                // The string bundle for the ES modules (same table as the server's).
                script #i18n type="application/json" { (PreEscaped(i18n_json(ctx.lang))) }
            }
            body {
                @if let Some(u) = ctx.user {
                    nav.top {
                        a href="/live" { (t(ctx.lang, "nav.live")) }
                        a href="/playback" { (t(ctx.lang, "nav.playback")) }
                        a href="/health" { (t(ctx.lang, "nav.health")) }
                        @if govern::authorize(u, &govern::Action::ConfigureCameras) {
                            a href="/cameras" { (t(ctx.lang, "nav.cameras")) }
                        }
                        @if govern::authorize(u, &govern::Action::ConfigureStorage) {
                            a href="/storage" { (t(ctx.lang, "nav.storage")) }
                        }
                        @if govern::authorize(u, &govern::Action::OpenRequests) {
                            a href="/requests" { (t(ctx.lang, "nav.requests")) }
                        }
                        @if let Some(n) = ctx.inbox.filter(|&n| n > 0) {
                            a.inbox href="/requests/inbox" title=(t(ctx.lang, "req.inbox")) {
                                (t(ctx.lang, "req.inbox")) " " span.badge { (n) }
                            }
                        }
                        @if govern::authorize(u, &govern::Action::ManageUsers) {
                            a href="/admin/users" { (t(ctx.lang, "nav.admin")) }
                        }
                        @if govern::authorize(u, &govern::Action::ReadAudit) {
                            a href="/audit" { (t(ctx.lang, "nav.audit")) }
                        }
                        span.user { (u.display_name) }
                        a.lang href=(match ctx.lang { Lang::Vi => "?lang=en", Lang::En => "?lang=vi" }) {
                            (match ctx.lang { Lang::Vi => "English", Lang::En => "Tiếng Việt" })
                        }
                        form.logout method="post" action="/logout" {
                            @if let Some(c) = ctx.csrf { input type="hidden" name="csrf" value=(c); }
                            button type="submit" { (t(ctx.lang, "nav.logout")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The Content-Security-Policy of server-rendered pages: only this origin's scripts,
/// styles and forms; images, video from blobs (snapshots, MSE).
pub const PAGE_CSP: &str =
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'";

/// A signed-in user's page: [`layout`], never cached (it shows what this user may see),
/// under [`PAGE_CSP`].
pub fn page(a: &crate::Authed, title: &str, body: Markup) -> Response {
    let mut r = layout(&a.ctx(), title, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    r
}

/// The translation bundle as JSON safe to embed in a `<script>` element (`<` escaped).
fn i18n_json(lang: Lang) -> String {
    crate::i18n::bundle(lang)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
