//! Administration of people and roles: `/admin/users` (add users, give roles, zone,
//! disable/enable) and `/admin/roles` (create roles, edit their scoped rights, delete unused
//! ones). The rules — nobody changes their own roles or a role they hold, the last user
//! who can manage users stays, `playback_any` only through grants — are `govern`'s; this
//! module shows their refusals in the user's language. Every change is audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use tracing::error;

use crate::auth::{Authed, ClientAddr};
use crate::i18n::{t, Lang};
use crate::ui;
use crate::AppState;

/// Routes of this module.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users_page).post(user_add))
        .route("/admin/users/{id}", post(user_edit))
        .route("/admin/users/{id}/disable", post(user_disable))
        .route("/admin/users/{id}/enable", post(user_enable))
        .route("/admin/roles", get(roles_page).post(role_add))
        .route("/admin/roles/{id}", post(role_edit))
        .route("/admin/roles/{id}/delete", post(role_delete))
}

/// A refusal or failure as a page with a translated message.
pub struct Fail(StatusCode, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (
            self.0,
            html! { (maud::DOCTYPE) html { body { p.error { (self.1) } } } },
        )
            .into_response()
    }
}

fn fail(lang: Lang, e: govern::GovernError) -> Fail {
    use govern::GovernError as G;
    let key = match &e {
        G::NotAllowed => return Fail(StatusCode::FORBIDDEN, t(lang, "error.forbidden").into()),
        G::SelfChange => "admin.err.self",
        G::LastUserAdmin => "admin.err.last_admin",
        G::NotAssignable(_) => "admin.err.not_assignable",
        G::RoleInUse => "admin.err.role_in_use",
        G::RoleExists(_) | G::UserExists(_) => "admin.err.exists",
        G::BadUsername(_) => "setup.bad_username",
        G::WeakPassword(govern::WeakPassword::TooShort) => "setup.too_short",
        G::WeakPassword(govern::WeakPassword::Common) => "setup.common",
        G::NoSuchRole(_) | G::NoSuchUser(_) | G::NoSuchRoleName(_) => "error.not_found",
        G::Invalid(_) => "admin.err.invalid",
        _ => {
            error!("administration: {e}");
            return Fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                t(lang, "error.internal").into(),
            );
        }
    };
    let status = match e {
        G::NoSuchRole(_) | G::NoSuchUser(_) | G::NoSuchRoleName(_) => StatusCode::NOT_FOUND,
        G::SelfChange | G::LastUserAdmin => StatusCode::FORBIDDEN,
        G::RoleInUse | G::RoleExists(_) | G::UserExists(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    Fail(status, t(lang, key).into())
}

fn require(a: &Authed, action: govern::Action) -> Result<(), Fail> {
    if govern::authorize(&a.user, &action) {
        Ok(())
    } else {
        Err(Fail(
            StatusCode::FORBIDDEN,
            t(a.lang, "error.forbidden").into(),
        ))
    }
}

async fn blocking<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, govern::GovernError> + Send + 'static,
) -> Result<T, Fail> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| fail(lang, e)),
        Err(e) => {
            error!("administration task: {e}");
            Err(Fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                t(lang, "error.internal").into(),
            ))
        }
    }
}
/// A role's name for display: presets translated, custom roles as named.
pub fn role_label(lang: Lang, r: &govern::RoleDef) -> String {
    match &r.preset {
        Some(p) if *p == r.name => t(lang, &format!("role.{p}")).to_string(),
        _ => r.name.clone(),
    }
}

fn values(form: &[(String, String)], key: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

fn value(form: &[(String, String)], key: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn ids(form: &[(String, String)], key: &str) -> Vec<i64> {
    values(form, key)
        .iter()
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Users

async fn users_page(State(st): State<AppState>, a: Authed) -> Result<Response, Fail> {
    require(&a, govern::Action::ManageUsers)?;
    let lang = a.lang;
    let g = st.govern.clone();
    let (users, roles) = blocking(lang, move || Ok((g.user_rows()?, g.roles()?))).await?;
    Ok(ui::page(
        &a,
        t(lang, "admin.users"),
        html! {
            h1 { (t(lang, "admin.users")) }
            p { a href="/admin/roles" { (t(lang, "admin.roles")) } }
            table #users {
                thead { tr { th { (t(lang, "login.username")) } th { (t(lang, "setup.display_name")) } th { (t(lang, "admin.zone")) } th { (t(lang, "admin.roles")) } th {} } }
                tbody {
                    @for u in &users {
                        @let own = u.id == a.user.id;
                        tr data-user=(u.id) data-username=(u.username) .disabled[u.disabled] {
                            td { (u.username) }
                            td { (u.display_name) }
                            @if own {
                                td { (u.zone.clone().unwrap_or_default()) }
                                td { (roles.iter().filter(|r| u.role_ids.contains(&r.id)).map(|r| role_label(lang, r)).collect::<Vec<_>>().join(", "))
                                     p.muted { (t(lang, "admin.own_account")) } }
                                td {}
                            } @else {
                                td colspan="2" {
                                    form.user-roles method="post" action={ "/admin/users/" (u.id) } {
                                        input type="hidden" name="csrf" value=(a.csrf);
                                        input type="text" name="zone" value=(u.zone.clone().unwrap_or_default()) placeholder=(t(lang, "admin.zone"));
                                        @for r in &roles {
                                            label.check { input type="checkbox" name="role" value=(r.id) checked[u.role_ids.contains(&r.id)]; " " (role_label(lang, r)) }
                                        }
                                        button type="submit" { (t(lang, "admin.save")) }
                                    }
                                }
                                td {
                                    form method="post" action={ "/admin/users/" (u.id) (if u.disabled { "/enable" } else { "/disable" }) } {
                                        input type="hidden" name="csrf" value=(a.csrf);
                                        button type="submit" { (t(lang, if u.disabled { "admin.enable" } else { "admin.disable" })) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { (t(lang, "admin.add_user")) }
            form #user method="post" action="/admin/users" {
                input type="hidden" name="csrf" value=(a.csrf);
                label { (t(lang, "login.username")) input type="text" name="username" required maxlength="64"; }
                label { (t(lang, "setup.display_name")) input type="text" name="display_name" maxlength="200"; }
                label { (t(lang, "login.password")) input type="password" name="password" required autocomplete="new-password"; }
                label { (t(lang, "admin.zone")) input type="text" name="zone" maxlength="200"; }
                fieldset { legend { (t(lang, "admin.roles")) }
                    @for r in &roles {
                        label.check { input type="checkbox" name="role" value=(r.id); " " (role_label(lang, r)) }
                    }
                }
                p.muted { (t(lang, "setup.password_rules")) }
                button type="submit" { (t(lang, "admin.add_user")) }
            }
        },
    ))
}

async fn user_add(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Fail> {
    require(&a, govern::Action::ManageUsers)?;
    let lang = a.lang;
    let username = value(&form, "username").unwrap_or_default();
    let display = value(&form, "display_name").unwrap_or_default();
    let password = value(&form, "password").unwrap_or_default();
    let zone = value(&form, "zone");
    let roles = ids(&form, "role");
    let now = st.clock.now_secs();
    let g = st.govern.clone();
    let actor = a.user.clone();
    let r2 = roles.clone();
    let u = blocking(lang, move || {
        g.create_user_with_roles(
            &actor,
            &username,
            &display,
            &password,
            &r2,
            zone.as_deref(),
            now,
        )
    })
    .await?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "user.create",
        format!("user:{}", u.username),
        serde_json::json!({ "roles": u.roles, "zone": u.zone }),
    );
    Ok(Redirect::to("/admin/users").into_response())
}

async fn user_edit(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Fail> {
    require(&a, govern::Action::ChangeUser { target: id })?;
    let lang = a.lang;
    let roles = ids(&form, "role");
    let zone = value(&form, "zone");
    let now = st.clock.now_secs();
    let g = st.govern.clone();
    let actor = a.user.clone();
    let r2 = roles.clone();
    let z2 = zone.clone();
    let u = blocking(lang, move || {
        g.set_user_roles(&actor, id, &r2, now)?;
        g.set_user_zone(&actor, id, z2.as_deref(), now)?;
        g.user_by_id(id, now)
    })
    .await?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "user.change",
        format!("user:{}", u.username),
        serde_json::json!({ "roles": u.roles, "zone": u.zone }),
    );
    Ok(Redirect::to("/admin/users").into_response())
}

async fn set_disabled(
    st: AppState,
    a: Authed,
    client: ClientAddr,
    id: i64,
    disabled: bool,
) -> Result<Response, Fail> {
    require(&a, govern::Action::ChangeUser { target: id })?;
    let lang = a.lang;
    let now = st.clock.now_secs();
    let g = st.govern.clone();
    let actor = a.user.clone();
    let u = blocking(lang, move || {
        g.set_user_disabled(&actor, id, disabled, now)?;
        g.user_by_id(id, now)
    })
    .await?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "user.change",
        format!("user:{}", u.username),
        serde_json::json!({ "disabled": disabled }),
    );
    Ok(Redirect::to("/admin/users").into_response())
}

async fn user_disable(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    set_disabled(st, a, client, id, true).await
}

async fn user_enable(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    set_disabled(st, a, client, id, false).await
}

// ---------------------------------------------------------------------------------------
// Roles

fn scope_text(rights: &[govern::Assignment], right: govern::Right) -> (bool, String, Option<i64>) {
    let mine: Vec<_> = rights.iter().filter(|a| a.right == right).collect();
    let scopes = mine
        .iter()
        .map(|a| a.scope.to_db())
        .collect::<Vec<_>>()
        .join(", ");
    let window = mine.iter().filter_map(|a| a.window_secs).max();
    (!mine.is_empty(), scopes, window)
}

async fn roles_page(State(st): State<AppState>, a: Authed) -> Result<Response, Fail> {
    require(&a, govern::Action::ManageRoles)?;
    let lang = a.lang;
    let g = st.govern.clone();
    let roles = blocking(lang, move || g.roles()).await?;
    Ok(ui::page(
        &a,
        t(lang, "admin.roles"),
        html! {
            h1 { (t(lang, "admin.roles")) }
            p { a href="/admin/users" { (t(lang, "admin.users")) } }
            p.muted { (t(lang, "admin.scope_hint")) }
            @for r in &roles {
                @let held = a.user.roles.contains(&r.name);
                section.role data-role=(r.id) data-name=(r.name) {
                    h2 { (role_label(lang, r)) " · " (r.members) " " (t(lang, "admin.members")) }
                    @if let Some(p) = &r.preset { p.muted { (t(lang, &format!("role.{p}.desc"))) } }
                    @if held { p.muted { (t(lang, "admin.own_role")) } }
                    form.role-rights method="post" action={ "/admin/roles/" (r.id) } {
                        input type="hidden" name="csrf" value=(a.csrf);
                        table { tbody {
                            @for right in govern::Right::ALL {
                                @if right.assignable() {
                                    @let (on, scopes, window) = scope_text(&r.rights, right);
                                    tr data-right=(right.as_str()) {
                                        td { label.check { input type="checkbox" name="right" value=(right.as_str()) checked[on] disabled[held]; " " (t(lang, &format!("right.{}", right.as_str()))) } }
                                        td { @if right.camera_scoped() {
                                            input type="text" name={ "scope." (right.as_str()) } value=(if scopes.is_empty() { "all".to_string() } else { scopes }) disabled[held];
                                        } }
                                        td { @if right == govern::Right::PlaybackRecent {
                                            label { (t(lang, "admin.window_min")) " "
                                                input type="number" min="1" max="100000" name="window_min" value=(window.unwrap_or(govern::DEFAULT_RECENT_WINDOW_SECS) / 60) disabled[held]; }
                                        } }
                                    }
                                }
                            }
                        } }
                        @if !held { button type="submit" { (t(lang, "admin.save")) } }
                    }
                    @if r.members == 0 {
                        form method="post" action={ "/admin/roles/" (r.id) "/delete" } {
                            input type="hidden" name="csrf" value=(a.csrf);
                            button type="submit" { (t(lang, "admin.delete_role")) }
                        }
                    }
                }
            }
            h2 { (t(lang, "admin.add_role")) }
            form #role method="post" action="/admin/roles" {
                input type="hidden" name="csrf" value=(a.csrf);
                label { (t(lang, "admin.role_name")) input type="text" name="name" required maxlength="64"; }
                label { (t(lang, "admin.role_desc")) input type="text" name="description" maxlength="500"; }
                button type="submit" { (t(lang, "admin.add_role")) }
            }
        },
    ))
}

/// The assignments a role form describes: `right=<name>` checked, `scope.<name>` a comma
/// separated list of scopes (default all), `window_min` for recent playback.
pub fn parse_role_form(form: &[(String, String)]) -> Result<Vec<govern::Assignment>, String> {
    let window = match value(form, "window_min").map(|v| v.trim().to_string()) {
        Some(v) if !v.is_empty() => Some(
            v.parse::<i64>()
                .ok()
                .filter(|m| (1..=100_000).contains(m))
                .ok_or_else(|| format!("window {v:?}"))?
                * 60,
        ),
        _ => None,
    };
    let mut out = Vec::new();
    for name in values(form, "right") {
        let right = govern::Right::parse(&name).ok_or_else(|| format!("right {name:?}"))?;
        let scopes = if right.camera_scoped() {
            value(form, &format!("scope.{name}")).unwrap_or_default()
        } else {
            String::new()
        };
        let mut any = false;
        for s in scopes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let scope = govern::Scope::parse(s).ok_or_else(|| format!("scope {s:?}"))?;
            out.push(govern::Assignment {
                right,
                scope,
                window_secs: (right == govern::Right::PlaybackRecent)
                    .then_some(window)
                    .flatten(),
            });
            any = true;
        }
        if !any {
            out.push(govern::Assignment {
                right,
                scope: govern::Scope::All,
                window_secs: (right == govern::Right::PlaybackRecent)
                    .then_some(window)
                    .flatten(),
            });
        }
    }
    Ok(out)
}

async fn role_add(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Fail> {
    require(&a, govern::Action::ManageRoles)?;
    let lang = a.lang;
    let name = value(&form, "name").unwrap_or_default();
    let desc = value(&form, "description").unwrap_or_default();
    let now = st.clock.now_secs();
    let g = st.govern.clone();
    let actor = a.user.clone();
    let n2 = name.clone();
    let id = blocking(lang, move || g.create_role(&actor, &n2, &desc, now)).await?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "role.create",
        format!("role:{id}"),
        serde_json::json!({ "name": name }),
    );
    Ok(Redirect::to("/admin/roles").into_response())
}

async fn role_edit(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Fail> {
    require(&a, govern::Action::ManageRoles)?;
    let lang = a.lang;
    let rights = parse_role_form(&form).map_err(|e| {
        Fail(
            StatusCode::BAD_REQUEST,
            format!("{}: {e}", t(lang, "admin.err.invalid")),
        )
    })?;
    let now = st.clock.now_secs();
    let g = st.govern.clone();
    let actor = a.user.clone();
    let r2 = rights.clone();
    blocking(lang, move || g.set_role_rights(&actor, id, &r2, now)).await?;
    let list: Vec<String> = rights
        .iter()
        .map(|r| format!("{}@{}", r.right.as_str(), r.scope.to_db()))
        .collect();
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "role.change",
        format!("role:{id}"),
        serde_json::json!({ "rights": list }),
    );
    Ok(Redirect::to("/admin/roles").into_response())
}

async fn role_delete(
    State(st): State<AppState>,
    a: Authed,
    client: ClientAddr,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    require(&a, govern::Action::ManageRoles)?;
    let lang = a.lang;
    let g = st.govern.clone();
    let actor = a.user.clone();
    blocking(lang, move || g.delete_role(&actor, id)).await?;
    crate::audit_page::change(
        &st,
        &a,
        Some(&client.0),
        "role.delete",
        format!("role:{id}"),
        serde_json::json!({}),
    );
    Ok(Redirect::to("/admin/roles").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn role_forms_parse() {
        let r = parse_role_form(&f(&[
            ("right", "live_view"),
            ("scope.live_view", "zone:Cổng, camera:3"),
            ("right", "playback_recent"),
            ("scope.playback_recent", ""),
            ("window_min", "60"),
            ("right", "budget"),
        ]))
        .unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].scope, govern::Scope::Zone("Cổng".into()));
        assert_eq!(r[1].scope, govern::Scope::Camera(3));
        assert_eq!(r[2].window_secs, Some(3600));
        assert_eq!(r[3].scope, govern::Scope::All);
        assert!(parse_role_form(&f(&[("right", "root")])).is_err());
        assert!(
            parse_role_form(&f(&[("right", "live_view"), ("scope.live_view", "room:1")])).is_err()
        );
    }
}
