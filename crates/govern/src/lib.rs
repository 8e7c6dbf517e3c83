//! # govern — who may do what
//!
//! What this crate is for: the people who use Vigil and what each may do. Users and their
//! roles ([`rights`]: fine-grained rights scoped to all cameras, zones or single cameras;
//! roles are named sets of them in tables, with the regulation's presets), requests for
//! footage, their approval and the grants it creates ([`requests`]), password hashing
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
pub mod requests;
pub mod rights;

pub use account::*;
pub use requests::*;
pub use rights::*;

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

/// Something a user wants to do. Times: `start`/`end` in 90 kHz wall ticks; `now` in the
/// same unit for playback (the store's clock), Unix seconds elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Watch a camera live.
    LiveView { camera: i64 },
    /// Play recorded video of a camera from `start` (90 kHz wall ticks); `now` is the
    /// current time in ticks, for the recent window and grant expiry.
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
    /// Edit roles and their rights.
    ManageRoles,
    /// Change another user's roles, zone or state (never one's own).
    ChangeUser { target: i64 },
    /// Read the audit trail (audit page, CSV export).
    ReadAudit,
    /// Open the requests pages at all (filing, inbox, own requests, grants).
    OpenRequests,
    /// File a request that covers `camera`.
    CreateRequest { camera: i64 },
    /// See a request (its details and scanned document) filed by `requester`.
    ViewRequest { requester: i64 },
    /// See the approvers' inbox.
    RequestInbox,
    /// Approve or reject a request by `requester` that covers `camera` (checked per camera).
    DecideRequest { requester: i64, camera: i64 },
    /// Make the evidence package of approved request `request` (`now`: Unix seconds).
    ExportPerform { request: i64, now: i64 },
    /// Download a package of request `request` (`now`: Unix seconds).
    ExportDownload { request: i64, now: i64 },
    /// Place or release a hold on `camera`'s footage.
    Hold { camera: i64 },
    /// An operations area (roster, incidents, maintenance, budget, complaints).
    Operations(Right),
    /// Delete footage: refused for everyone, always (only retention deletes).
    DeleteFootage,
}

/// A signed-in user, as request handlers see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// The former single role, kept in step with the roles (for display and older tools);
    /// rights come from [`User::access`].
    pub role: Role,
    /// Preferred UI language code ("vi" or "en").
    pub lang: String,
    /// The user's zone (department): the scope "own zone" of their rights.
    pub zone: Option<String>,
    /// Names of the roles held.
    pub roles: Vec<String>,
    /// Rights and grants, loaded with the session.
    #[serde(skip)]
    pub access: Access,
}

/// How far back a guard may play recordings without a grant (the regulation's recent
/// window; the default of [`Right::PlaybackRecent`]).
pub const GUARD_PLAYBACK_WINDOW_TICKS: i64 = DEFAULT_RECENT_WINDOW_SECS * 90_000;

/// The one place where rights are checked: the user's role assignments (scoped to cameras)
/// and grants from approved requests. Pure: everything it needs is in `user.access`.
pub fn authorize(user: &User, action: &Action) -> bool {
    use Action::*;
    let a = &user.access;
    match *action {
        LiveView { camera } => a.has(Right::LiveView, Some(camera)),
        Playback { camera, start, now } => {
            let recent = a
                .recent_window(camera)
                .is_some_and(|w| now - start <= w * 90_000);
            recent
                || a.active_grants(now.div_euclid(90_000)).any(|g| {
                    g.can_view && g.camera_id == camera && g.start <= start && start < g.end
                })
        }
        ViewHealth | AcknowledgeAlarm => a.has(Right::Alarms, None),
        ConfigureCameras => a.has(Right::CameraConfigure, None),
        ConfigureStorage => a.has(Right::SystemConfigure, None),
        ManageUsers | ManageRoles => a.has(Right::Users, None),
        ChangeUser { target } => a.has(Right::Users, None) && target != user.id,
        ReadAudit => a.has(Right::AuditRead, None),
        OpenRequests => {
            a.has_any(Right::ExportRequest)
                || a.has_any(Right::ExportApprove)
                || a.has_any(Right::ExportPerform)
                || a.has_any(Right::Hold)
                || !a.grants.is_empty()
        }
        CreateRequest { camera } => a.has(Right::ExportRequest, Some(camera)),
        ViewRequest { requester } => {
            requester == user.id
                || a.has_any(Right::ExportApprove)
                || a.has_any(Right::ExportPerform)
                || a.has_any(Right::Hold)
        }
        RequestInbox => a.has_any(Right::ExportApprove),
        DecideRequest { requester, camera } => {
            requester != user.id && a.has(Right::ExportApprove, Some(camera))
        }
        ExportPerform { request, now } => {
            let mut grants = a
                .active_grants(now)
                .filter(|g| g.request_id == request && g.can_export)
                .peekable();
            grants.peek().is_some()
                && grants.all(|g| a.has(Right::ExportPerform, Some(g.camera_id)))
        }
        ExportDownload { request, now } => a
            .active_grants(now)
            .any(|g| g.request_id == request && g.can_export),
        Hold { camera } => a.has(Right::Hold, Some(camera)),
        Operations(area) => {
            matches!(
                area,
                Right::Roster
                    | Right::Incidents
                    | Right::Maintenance
                    | Right::Budget
                    | Right::Complaints
            ) && a.has(area, None)
        }
        DeleteFootage => false,
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
