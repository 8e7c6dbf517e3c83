//! # govern — who may do what
//!
//! What this crate is for: the people who use Vigil and what each may do. Users and their
//! roles (administrator/IT, leadership, guard, viewer — the regulation's roles; the full
//! rights model with scopes arrives with the governance issue), password hashing
//! (argon2id), login security (lockout per account and per client address), sessions (only
//! a hash of each token is stored), and the one place where a right is checked:
//! [`authorize`]. It owns its tables in the shared database file (`vigil.db`) and opens its
//! own connection to it.
//!
//! What it is not for: HTTP (that is `web`), footage (that is `store`).

use serde::{Deserialize, Serialize};

/// A role from the school's regulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// IT staff (Nhân viên CNTT): cameras, storage, system, users.
    Administrator,
    /// School leadership (Ban giám hiệu): live, playback, reports.
    Leadership,
    /// Guards (Tổ bảo vệ): live wall around the clock, recent playback.
    Guard,
    /// Read-only viewer: live view.
    Viewer,
}

/// Something a user wants to do. Grows with the governance issue (scopes, grants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Watch a camera live.
    LiveView { camera: i64 },
    /// Play recorded video of a camera from `start` (90 kHz wall ticks); `now` is the
    /// current time, for "recent window" rules.
    Playback { camera: i64, start: i64, now: i64 },
    /// See the health page (camera states, alarms).
    ViewHealth,
    /// Acknowledge an alarm.
    AcknowledgeAlarm,
    /// Add, edit, disable cameras; test connections.
    ConfigureCameras,
    /// Storage page and retention settings.
    ConfigureStorage,
    /// Add and edit users.
    ManageUsers,
}

/// A signed-in user, as request handlers see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Preferred UI language code ("vi" or "en").
    pub lang: String,
}

/// How far back a guard may play recordings without a grant (the regulation's recent window).
pub const GUARD_PLAYBACK_WINDOW_TICKS: i64 = 30 * 60 * 90_000;

/// The one place where rights are checked.
pub fn authorize(user: &User, action: &Action) -> bool {
    use Action::*;
    match (user.role, action) {
        (Role::Administrator, _) => true,
        (Role::Leadership, ConfigureCameras | ConfigureStorage | ManageUsers) => false,
        (Role::Leadership, _) => true,
        (Role::Guard, LiveView { .. } | ViewHealth | AcknowledgeAlarm) => true,
        (Role::Guard, Playback { start, now, .. }) => *now - *start <= GUARD_PLAYBACK_WINDOW_TICKS,
        (Role::Guard, _) => false,
        (Role::Viewer, LiveView { .. }) => true,
        (Role::Viewer, _) => false,
    }
}
