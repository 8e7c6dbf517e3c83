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
//!
//! Times are Unix seconds passed in by the caller (`now`), so the rules are testable with
//! any clock. Password hashing costs real CPU (argon2id); call [`Govern::login`],
//! [`Govern::create_user`] and [`Govern::set_password`] off async threads.

mod account;

pub use account::*;

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

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [
        Role::Administrator,
        Role::Leadership,
        Role::Guard,
        Role::Viewer,
    ];

    /// The role's stable name (as stored and typed on the command line).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Leadership => "leadership",
            Role::Guard => "guard",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = GovernError;
    fn from_str(s: &str) -> Result<Role, GovernError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| GovernError::UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod role_tests {
    use super::*;

    fn user(role: Role) -> User {
        User {
            id: 1,
            username: "u".into(),
            display_name: "U".into(),
            role,
            lang: "vi".into(),
        }
    }

    #[test]
    fn roles_parse_and_print() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn configuration_is_for_administrators_only() {
        for r in Role::ALL {
            let u = user(r);
            let admin = r == Role::Administrator;
            assert_eq!(authorize(&u, &Action::ConfigureCameras), admin, "{r}");
            assert_eq!(authorize(&u, &Action::ConfigureStorage), admin, "{r}");
            assert_eq!(authorize(&u, &Action::ManageUsers), admin, "{r}");
            assert!(authorize(&u, &Action::LiveView { camera: 1 }), "{r}");
        }
        assert!(authorize(&user(Role::Guard), &Action::ViewHealth));
        assert!(!authorize(&user(Role::Viewer), &Action::ViewHealth));
    }
}
