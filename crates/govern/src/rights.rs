//! The rights model: fine-grained rights, each assigned with a scope (all cameras, a zone,
//! the user's own zone, one camera); roles are named sets of such assignments kept in the
//! `role`/`role_right` tables; users hold any number of roles (`user_role`). The preset
//! roles of the regulation ([`PRESETS`]) are inserted when the tables are created and can be
//! edited like any other role.
//!
//! Rules enforced here (not only in the UI):
//! - nobody changes their own roles, nor the rights of a role they hold (nobody grants
//!   themselves a right);
//! - the last enabled user holding [`Right::Users`] cannot lose it (demoted, disabled, or a
//!   role edited under them);
//! - [`Right::PlaybackAny`] is never part of a role: it comes only from a grant (an approved
//!   request), for exactly the cameras and times approved, until the grant expires;
//! - no right deletes footage.
//!
//! A signed-in [`User`] carries their [`Access`] (assignments with zones resolved, active
//! grants), loaded with the session, so [`crate::authorize`] stays a pure function.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use tracing::info;

use crate::account::Ctx;
use crate::{Govern, GovernError, Role, User};

/// Default look-back of [`Right::PlaybackRecent`]: 30 minutes.
pub const DEFAULT_RECENT_WINDOW_SECS: i64 = 30 * 60;

/// A right. Stable names (`as_str`) are stored in `role_right.right_name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Watch cameras live.
    LiveView,
    /// Play back the recent past (a window, default 30 minutes).
    PlaybackRecent,
    /// Play back any time: only through a grant, never in a role.
    PlaybackAny,
    /// File a request for footage.
    ExportRequest,
    /// Approve or reject requests (never one's own).
    ExportApprove,
    /// Produce evidence packages of approved requests (when named in the approval).
    ExportPerform,
    /// Place and release holds on footage.
    Hold,
    /// Add and edit cameras.
    CameraConfigure,
    /// Storage, retention and system settings.
    SystemConfigure,
    /// Users and roles.
    Users,
    /// Read the audit trail.
    AuditRead,
    /// The health page: camera states and alarms, acknowledging them.
    Alarms,
    /// Operations area: duty roster (declared for a later issue).
    Roster,
    /// Operations area: incidents.
    Incidents,
    /// Operations area: maintenance.
    Maintenance,
    /// Operations area: budget.
    Budget,
    /// Operations area: complaints.
    Complaints,
}

impl Right {
    /// Every right, in display order.
    pub const ALL: [Right; 17] = [
        Right::LiveView,
        Right::PlaybackRecent,
        Right::PlaybackAny,
        Right::ExportRequest,
        Right::ExportApprove,
        Right::ExportPerform,
        Right::Hold,
        Right::CameraConfigure,
        Right::SystemConfigure,
        Right::Users,
        Right::AuditRead,
        Right::Alarms,
        Right::Roster,
        Right::Incidents,
        Right::Maintenance,
        Right::Budget,
        Right::Complaints,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Right::LiveView => "live_view",
            Right::PlaybackRecent => "playback_recent",
            Right::PlaybackAny => "playback_any",
            Right::ExportRequest => "export_request",
            Right::ExportApprove => "export_approve",
            Right::ExportPerform => "export_perform",
            Right::Hold => "hold",
            Right::CameraConfigure => "camera_configure",
            Right::SystemConfigure => "system_configure",
            Right::Users => "users",
            Right::AuditRead => "audit_read",
            Right::Alarms => "alarms",
            Right::Roster => "roster",
            Right::Incidents => "incidents",
            Right::Maintenance => "maintenance",
            Right::Budget => "budget",
            Right::Complaints => "complaints",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Right> {
        Right::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// Whether a role may contain this right ([`Right::PlaybackAny`] comes only from grants).
    pub fn assignable(self) -> bool {
        self != Right::PlaybackAny
    }

    /// Whether the right concerns cameras (so a zone or camera scope means something).
    pub fn camera_scoped(self) -> bool {
        matches!(
            self,
            Right::LiveView
                | Right::PlaybackRecent
                | Right::ExportRequest
                | Right::ExportApprove
                | Right::ExportPerform
                | Right::Hold
                | Right::CameraConfigure
        )
    }
}

/// Where an assignment applies.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Scope {
    /// Every camera.
    All,
    /// Cameras whose zone is the user's own zone (`user.zone`).
    OwnZone,
    /// Cameras of one zone.
    Zone(String),
    /// One camera.
    Camera(i64),
}

impl Scope {
    /// The stored form: `all`, `own_zone`, `zone:<name>`, `camera:<id>`.
    pub fn to_db(&self) -> String {
        match self {
            Scope::All => "all".into(),
            Scope::OwnZone => "own_zone".into(),
            Scope::Zone(z) => format!("zone:{z}"),
            Scope::Camera(c) => format!("camera:{c}"),
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Scope> {
        let s = s.trim();
        match s {
            "all" | "" => Some(Scope::All),
            "own_zone" => Some(Scope::OwnZone),
            _ => {
                if let Some(z) = s.strip_prefix("zone:") {
                    let z = z.trim();
                    (!z.is_empty()).then(|| Scope::Zone(z.to_string()))
                } else if let Some(c) = s.strip_prefix("camera:") {
                    c.trim().parse().ok().map(Scope::Camera)
                } else {
                    None
                }
            }
        }
    }
}

/// One right with its scope, in a role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Assignment {
    pub right: Right,
    pub scope: Scope,
    /// [`Right::PlaybackRecent`] only: how far back, seconds (default 30 minutes).
    pub window_secs: Option<i64>,
}

impl Assignment {
    pub fn new(right: Right, scope: Scope) -> Assignment {
        Assignment {
            right,
            scope,
            window_secs: None,
        }
    }
}

/// A role as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleDef {
    pub id: i64,
    pub name: String,
    /// The preset it came from, if any.
    pub preset: Option<String>,
    pub description: String,
    pub rights: Vec<Assignment>,
    /// How many users hold it.
    pub members: i64,
}

/// A preset role of the regulation.
pub struct Preset {
    /// Stable key and initial role name.
    pub key: &'static str,
    /// English description (the UI shows the translated one from its table).
    pub description: &'static str,
    pub rights: &'static [(Right, PresetScope)],
}

/// Scopes a preset can name.
#[derive(Clone, Copy, Debug)]
pub enum PresetScope {
    All,
    OwnZone,
}

/// The preset roles (regulation: Ban giám hiệu, Tổ bảo vệ, CNTT, Kế toán, trưởng bộ phận,
/// kiểm tra), plus `viewer` (live only) for accounts of the former "viewer" role.
pub const PRESETS: &[Preset] = &[
    Preset {
        key: "leadership",
        description: "School leadership (Ban giám hiệu): live, recent playback, approve requests, holds, audit, reports",
        rights: &[
            (Right::LiveView, PresetScope::All),
            (Right::PlaybackRecent, PresetScope::All),
            (Right::ExportApprove, PresetScope::All),
            (Right::Hold, PresetScope::All),
            (Right::AuditRead, PresetScope::All),
            (Right::Alarms, PresetScope::All),
            (Right::Roster, PresetScope::All),
            (Right::Incidents, PresetScope::All),
            (Right::Maintenance, PresetScope::All),
            (Right::Complaints, PresetScope::All),
        ],
    },
    Preset {
        key: "guard",
        description: "Guards (Tổ bảo vệ): live, the last 30 minutes of playback, raise requests",
        rights: &[
            (Right::LiveView, PresetScope::All),
            (Right::PlaybackRecent, PresetScope::All),
            (Right::ExportRequest, PresetScope::All),
            (Right::Alarms, PresetScope::All),
            (Right::Incidents, PresetScope::All),
        ],
    },
    Preset {
        key: "it",
        description: "IT staff (CNTT): cameras, system, users, perform approved exports; no approval",
        rights: &[
            (Right::LiveView, PresetScope::All),
            (Right::CameraConfigure, PresetScope::All),
            (Right::SystemConfigure, PresetScope::All),
            (Right::Users, PresetScope::All),
            (Right::ExportPerform, PresetScope::All),
            (Right::Alarms, PresetScope::All),
            (Right::Maintenance, PresetScope::All),
        ],
    },
    Preset {
        key: "accountant",
        description: "Accountant (Kế toán): budget area only, no video",
        rights: &[(Right::Budget, PresetScope::All)],
    },
    Preset {
        key: "department_head",
        description: "Department head (trưởng bộ phận): live view of their own zone",
        rights: &[(Right::LiveView, PresetScope::OwnZone)],
    },
    Preset {
        key: "auditor",
        description: "Auditor: read the audit trail only",
        rights: &[(Right::AuditRead, PresetScope::All)],
    },
    Preset {
        key: "viewer",
        description: "Viewer: live view only",
        rights: &[(Right::LiveView, PresetScope::All)],
    },
];

impl Role {
    /// The preset role an account of this (former, single) role gets.
    pub fn preset(self) -> &'static str {
        match self {
            Role::Administrator => "it",
            Role::Leadership => "leadership",
            Role::Guard => "guard",
            Role::Viewer => "viewer",
        }
    }
}

/// A grant: a named person may view and/or export `camera` between `start` and `end`
/// (90 kHz wall ticks) until `expires_at` (Unix seconds), from request `request_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: i64,
    pub request_id: i64,
    pub user_id: i64,
    pub camera_id: i64,
    pub start: i64,
    pub end: i64,
    pub can_view: bool,
    pub can_export: bool,
    pub expires_at: i64,
}

/// What a signed-in user may do: their assignments (zones resolved to cameras) and their
/// grants not yet expired when loaded. Filled by the session lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// Assignments of all the user's roles.
    pub assignments: Vec<Assignment>,
    /// Cameras of each zone named by a zone-scoped assignment (resolved at load).
    pub zone_cameras: BTreeMap<String, BTreeSet<i64>>,
    /// The user's own zone.
    pub own_zone: Option<String>,
    /// Grants (checked against the action's `now` again).
    pub grants: Vec<Grant>,
}

impl Access {
    fn covers(&self, scope: &Scope, camera: Option<i64>) -> bool {
        match (scope, camera) {
            (Scope::All, _) => true,
            (_, None) => false,
            (Scope::Camera(c), Some(cam)) => *c == cam,
            (Scope::Zone(z), Some(cam)) => {
                self.zone_cameras.get(z).is_some_and(|s| s.contains(&cam))
            }
            (Scope::OwnZone, Some(cam)) => self
                .own_zone
                .as_ref()
                .and_then(|z| self.zone_cameras.get(z))
                .is_some_and(|s| s.contains(&cam)),
        }
    }

    /// Whether `right` applies to `camera` (`None`: to the whole system, which needs the
    /// scope "all").
    pub fn has(&self, right: Right, camera: Option<i64>) -> bool {
        self.assignments
            .iter()
            .any(|a| a.right == right && self.covers(&a.scope, camera))
    }

    /// Whether `right` is held with any scope.
    pub fn has_any(&self, right: Right) -> bool {
        self.assignments.iter().any(|a| a.right == right)
    }

    /// The longest recent-playback window (seconds) that applies to `camera`, if any.
    pub fn recent_window(&self, camera: i64) -> Option<i64> {
        self.assignments
            .iter()
            .filter(|a| a.right == Right::PlaybackRecent && self.covers(&a.scope, Some(camera)))
            .map(|a| a.window_secs.unwrap_or(DEFAULT_RECENT_WINDOW_SECS))
            .max()
    }

    /// The spans `[start, end)` of `camera`'s footage (90 kHz wall ticks) that playback may
    /// start in at `now` (ticks): the recent window (up to `now`) and every viewing grant's
    /// window. For timelines that must show grantees their granted span.
    pub fn playback_spans(&self, camera: i64, now: i64) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = self
            .active_grants(now.div_euclid(90_000))
            .filter(|g| g.can_view && g.camera_id == camera)
            .map(|g| (g.start, g.end))
            .collect();
        if let Some(w) = self.recent_window(camera) {
            out.push((now - w * 90_000, now + 1));
        }
        out.sort_unstable();
        out
    }

    /// Grants valid at `now_secs`.
    pub fn active_grants(&self, now_secs: i64) -> impl Iterator<Item = &Grant> {
        self.grants.iter().filter(move |g| now_secs < g.expires_at)
    }
}

/// Inserts the preset roles (and their rights) that do not exist yet, and gives every user
/// without a role the preset of their former single role. Runs inside the migration.
pub(crate) fn seed_presets(conn: &Connection) -> Result<(), GovernError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    for p in PRESETS {
        let exists: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM role WHERE name = ?1)",
                [p.key],
                |r| r.get(0),
            )
            .ctx("finding a preset role")?;
        if exists {
            continue;
        }
        conn.execute(
            "INSERT INTO role (name, preset, description, created_at, updated_at) \
             VALUES (?1, ?1, ?2, ?3, ?3)",
            params![p.key, p.description, now],
        )
        .ctx("adding a preset role")?;
        let id = conn.last_insert_rowid();
        for (right, scope) in p.rights {
            let scope = match scope {
                PresetScope::All => Scope::All,
                PresetScope::OwnZone => Scope::OwnZone,
            };
            let window = (*right == Right::PlaybackRecent).then_some(DEFAULT_RECENT_WINDOW_SECS);
            conn.execute(
                "INSERT INTO role_right (role_id, right_name, scope, window_secs) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, right.as_str(), scope.to_db(), window],
            )
            .ctx("adding a preset right")?;
        }
    }
    // Former single roles → presets.
    for role in Role::ALL {
        conn.execute(
            "INSERT OR IGNORE INTO user_role (user_id, role_id) \
             SELECT u.id, r.id FROM user u, role r WHERE u.role = ?1 AND r.name = ?2 \
             AND NOT EXISTS (SELECT 1 FROM user_role x WHERE x.user_id = u.id)",
            params![role.as_str(), role.preset()],
        )
        .ctx("mapping former roles to presets")?;
    }
    Ok(())
}

/// Gives user `user_id` the role named `preset` (no error when it does not exist any more).
pub(crate) fn assign_preset(
    conn: &Connection,
    user_id: i64,
    preset: &str,
) -> Result<(), GovernError> {
    conn.execute(
        "INSERT OR IGNORE INTO user_role (user_id, role_id) SELECT ?1, id FROM role WHERE name = ?2",
        params![user_id, preset],
    )
    .ctx("giving a role")?;
    Ok(())
}

fn assignments_of_user(conn: &Connection, user_id: i64) -> Result<Vec<Assignment>, GovernError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT rr.right_name, rr.scope, rr.window_secs FROM role_right rr \
             JOIN user_role ur ON ur.role_id = rr.role_id WHERE ur.user_id = ?1",
        )
        .ctx("reading rights")?;
    let rows = stmt
        .query_map([user_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .ctx("reading rights")?;
    let mut out = Vec::new();
    for row in rows {
        let (right, scope, window) = row.ctx("reading rights")?;
        // Unknown names (a newer program's rights) grant nothing.
        if let (Some(right), Some(scope)) = (Right::parse(&right), Scope::parse(&scope)) {
            if right.assignable() {
                out.push(Assignment {
                    right,
                    scope,
                    window_secs: window,
                });
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Cameras of `zone`, read from the store's `camera` table in the same database (empty when
/// the table does not exist, as in govern's own tests).
fn cameras_of_zone(conn: &Connection, zone: &str) -> Result<BTreeSet<i64>, GovernError> {
    let mut stmt = match conn.prepare_cached("SELECT id FROM camera WHERE zone = ?1") {
        Ok(s) => s,
        Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
            return Ok(BTreeSet::new())
        }
        Err(e) => return Err(e).ctx("reading camera zones"),
    };
    let rows = stmt
        .query_map([zone], |r| r.get(0))
        .ctx("reading camera zones")?;
    rows.collect::<Result<_, _>>().ctx("reading camera zones")
}

pub(crate) fn grants_of_user(
    conn: &Connection,
    user_id: i64,
    now: i64,
) -> Result<Vec<Grant>, GovernError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, request_id, user_id, camera_id, start, \"end\", can_view, can_export, \
             expires_at FROM access_grant WHERE user_id = ?1 AND expires_at > ?2 ORDER BY id",
        )
        .ctx("reading grants")?;
    let rows = stmt
        .query_map(params![user_id, now], grant_from_row)
        .ctx("reading grants")?;
    rows.collect::<Result<_, _>>().ctx("reading grants")
}

pub(crate) fn grant_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: r.get(0)?,
        request_id: r.get(1)?,
        user_id: r.get(2)?,
        camera_id: r.get(3)?,
        start: r.get(4)?,
        end: r.get(5)?,
        can_view: r.get(6)?,
        can_export: r.get(7)?,
        expires_at: r.get(8)?,
    })
}

/// Fills `user.roles` and `user.access` at `now` (Unix seconds).
pub(crate) fn load_access(conn: &Connection, user: &mut User, now: i64) -> Result<(), GovernError> {
    let assignments = assignments_of_user(conn, user.id)?;
    let mut zones: BTreeSet<String> = BTreeSet::new();
    for a in &assignments {
        match &a.scope {
            Scope::Zone(z) => {
                zones.insert(z.clone());
            }
            Scope::OwnZone => {
                if let Some(z) = &user.zone {
                    zones.insert(z.clone());
                }
            }
            _ => {}
        }
    }
    let mut zone_cameras = BTreeMap::new();
    for z in zones {
        let cams = cameras_of_zone(conn, &z)?;
        zone_cameras.insert(z, cams);
    }
    user.roles = role_names_of(conn, user.id)?;
    user.access = Access {
        assignments,
        zone_cameras,
        own_zone: user.zone.clone(),
        grants: grants_of_user(conn, user.id, now)?,
    };
    Ok(())
}

fn role_names_of(conn: &Connection, user_id: i64) -> Result<Vec<String>, GovernError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.name FROM role r JOIN user_role ur ON ur.role_id = r.id \
             WHERE ur.user_id = ?1 ORDER BY r.name",
        )
        .ctx("reading roles")?;
    let rows = stmt
        .query_map([user_id], |r| r.get(0))
        .ctx("reading roles")?;
    rows.collect::<Result<_, _>>().ctx("reading roles")
}

fn role_ids_of(conn: &Connection, user_id: i64) -> Result<BTreeSet<i64>, GovernError> {
    let mut stmt = conn
        .prepare_cached("SELECT role_id FROM user_role WHERE user_id = ?1")
        .ctx("reading roles")?;
    let rows = stmt
        .query_map([user_id], |r| r.get(0))
        .ctx("reading roles")?;
    rows.collect::<Result<_, _>>().ctx("reading roles")
}

/// Enabled users holding [`Right::Users`] (scope all) — after a change, at least one must.
fn user_admins(conn: &Connection) -> Result<BTreeSet<i64>, GovernError> {
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT u.id FROM user u JOIN user_role ur ON ur.user_id = u.id \
             JOIN role_right rr ON rr.role_id = ur.role_id \
             WHERE u.disabled = 0 AND rr.right_name = 'users' AND rr.scope = 'all'",
        )
        .ctx("finding user administrators")?;
    let rows = stmt
        .query_map([], |r| r.get(0))
        .ctx("finding user administrators")?;
    rows.collect::<Result<_, _>>()
        .ctx("finding user administrators")
}

/// Best former single role for a set of rights (the `user.role` column, kept for display and
/// older tools).
fn legacy_role(a: &[Assignment]) -> Role {
    let has = |r: Right| a.iter().any(|x| x.right == r);
    if has(Right::Users) || has(Right::CameraConfigure) || has(Right::SystemConfigure) {
        Role::Administrator
    } else if has(Right::ExportApprove) {
        Role::Leadership
    } else if has(Right::PlaybackRecent) || has(Right::ExportRequest) {
        Role::Guard
    } else {
        Role::Viewer
    }
}

/// A user as the administration pages list them.
#[derive(Clone, Debug, Serialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub zone: Option<String>,
    pub disabled: bool,
    pub role_ids: Vec<i64>,
}

impl Govern {
    /// Every role with its rights and member count, by name.
    pub fn roles(&self) -> Result<Vec<RoleDef>, GovernError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT r.id, r.name, r.preset, r.description, \
                 (SELECT COUNT(*) FROM user_role ur WHERE ur.role_id = r.id) \
                 FROM role r ORDER BY r.id",
            )
            .ctx("listing roles")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RoleDef {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    preset: r.get(2)?,
                    description: r.get(3)?,
                    rights: Vec::new(),
                    members: r.get(4)?,
                })
            })
            .ctx("listing roles")?;
        let mut roles: Vec<RoleDef> = rows.collect::<Result<_, _>>().ctx("listing roles")?;
        let mut stmt = conn
            .prepare("SELECT right_name, scope, window_secs FROM role_right WHERE role_id = ?1")
            .ctx("listing role rights")?;
        for role in &mut roles {
            let rows = stmt
                .query_map([role.id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .ctx("listing role rights")?;
            for row in rows {
                let (right, scope, window_secs) = row.ctx("listing role rights")?;
                if let (Some(right), Some(scope)) = (Right::parse(&right), Scope::parse(&scope)) {
                    role.rights.push(Assignment {
                        right,
                        scope,
                        window_secs,
                    });
                }
            }
            role.rights.sort();
        }
        Ok(roles)
    }

    /// The role with this id.
    pub fn role(&self, id: i64) -> Result<RoleDef, GovernError> {
        self.roles()?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or(GovernError::NoSuchRole(id))
    }

    /// The id of the role named `name`.
    pub fn role_id(&self, name: &str) -> Result<i64, GovernError> {
        self.conn()
            .query_row("SELECT id FROM role WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .ctx("finding a role")?
            .ok_or_else(|| GovernError::NoSuchRoleName(name.to_string()))
    }

    /// Creates an empty role (then [`Govern::set_role_rights`]). Needs [`Right::Users`].
    pub fn create_role(
        &self,
        actor: &User,
        name: &str,
        description: &str,
        now: i64,
    ) -> Result<i64, GovernError> {
        require_users_right(actor)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(GovernError::Invalid("role name: 1–64 characters".into()));
        }
        let conn = self.conn();
        match conn.execute(
            "INSERT INTO role (name, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            params![name, description.trim(), now],
        ) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(GovernError::RoleExists(name.to_string()))
            }
            Err(e) => return Err(e).ctx("adding a role"),
        }
        let id = conn.last_insert_rowid();
        info!(by = %actor.username, role = name, "role created");
        Ok(id)
    }

    /// Replaces the rights of role `role_id`. Refused when `actor` holds that role (nobody
    /// grants themselves a right), when a right may not be in a role
    /// ([`Right::PlaybackAny`]), and when it would leave no enabled user with
    /// [`Right::Users`].
    pub fn set_role_rights(
        &self,
        actor: &User,
        role_id: i64,
        rights: &[Assignment],
        now: i64,
    ) -> Result<(), GovernError> {
        require_users_right(actor)?;
        if let Some(a) = rights.iter().find(|a| !a.right.assignable()) {
            return Err(GovernError::NotAssignable(a.right.as_str()));
        }
        if let Some(a) = rights
            .iter()
            .find(|a| a.window_secs.is_some_and(|w| w <= 0))
        {
            return Err(GovernError::Invalid(format!(
                "{}: the window must be positive",
                a.right.as_str()
            )));
        }
        let mut conn = self.conn();
        let tx = conn.transaction().ctx("starting a role change")?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM role WHERE id = ?1)",
                [role_id],
                |r| r.get(0),
            )
            .ctx("finding the role")?;
        if !exists {
            return Err(GovernError::NoSuchRole(role_id));
        }
        if role_ids_of(&tx, actor.id)?.contains(&role_id) {
            return Err(GovernError::SelfChange);
        }
        tx.execute("DELETE FROM role_right WHERE role_id = ?1", [role_id])
            .ctx("changing role rights")?;
        let mut seen = BTreeSet::new();
        for a in rights {
            if !seen.insert((a.right, a.scope.to_db())) {
                continue;
            }
            let window = match a.right {
                Right::PlaybackRecent => Some(a.window_secs.unwrap_or(DEFAULT_RECENT_WINDOW_SECS)),
                _ => None,
            };
            tx.execute(
                "INSERT INTO role_right (role_id, right_name, scope, window_secs) VALUES (?1, ?2, ?3, ?4)",
                params![role_id, a.right.as_str(), a.scope.to_db(), window],
            )
            .ctx("changing role rights")?;
        }
        tx.execute(
            "UPDATE role SET updated_at = ?2 WHERE id = ?1",
            params![role_id, now],
        )
        .ctx("changing role rights")?;
        if user_admins(&tx)?.is_empty() {
            return Err(GovernError::LastUserAdmin);
        }
        refresh_legacy_roles(&tx)?;
        tx.commit().ctx("committing a role change")?;
        info!(by = %actor.username, role = role_id, "role rights changed");
        Ok(())
    }

    /// Deletes a role nobody holds.
    pub fn delete_role(&self, actor: &User, role_id: i64) -> Result<(), GovernError> {
        require_users_right(actor)?;
        let conn = self.conn();
        let members: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM user_role WHERE role_id = ?1",
                [role_id],
                |r| r.get(0),
            )
            .ctx("counting role members")?;
        if members > 0 {
            return Err(GovernError::RoleInUse);
        }
        let n = conn
            .execute("DELETE FROM role WHERE id = ?1", [role_id])
            .ctx("deleting a role")?;
        if n == 0 {
            return Err(GovernError::NoSuchRole(role_id));
        }
        info!(by = %actor.username, role = role_id, "role deleted");
        Ok(())
    }

    /// Every user with their role ids, by user name.
    pub fn user_rows(&self) -> Result<Vec<UserRow>, GovernError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, username, display_name, zone, disabled FROM user ORDER BY username",
            )
            .ctx("listing users")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(UserRow {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    display_name: r.get(2)?,
                    zone: r.get(3)?,
                    disabled: r.get(4)?,
                    role_ids: Vec::new(),
                })
            })
            .ctx("listing users")?;
        let mut users: Vec<UserRow> = rows.collect::<Result<_, _>>().ctx("listing users")?;
        for u in &mut users {
            u.role_ids = role_ids_of(&conn, u.id)?.into_iter().collect();
        }
        Ok(users)
    }

    /// The user with this id, with roles and access loaded at `now`.
    pub fn user_by_id(&self, id: i64, now: i64) -> Result<User, GovernError> {
        let conn = self.conn();
        let mut user = conn
            .query_row(
                &format!(
                    "SELECT {} FROM user WHERE id = ?1",
                    crate::account::USER_COLS
                ),
                [id],
                crate::account::user_from_row,
            )
            .optional()
            .ctx("finding a user")?
            .ok_or_else(|| GovernError::NoSuchUser(format!("#{id}")))?;
        load_access(&conn, &mut user, now)?;
        Ok(user)
    }

    /// Sets the roles of user `target`. Refused for oneself, and when no enabled user
    /// would keep [`Right::Users`].
    pub fn set_user_roles(
        &self,
        actor: &User,
        target: i64,
        role_ids: &[i64],
        now: i64,
    ) -> Result<(), GovernError> {
        require_users_right(actor)?;
        if actor.id == target {
            return Err(GovernError::SelfChange);
        }
        let mut conn = self.conn();
        let tx = conn.transaction().ctx("starting a user change")?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM user WHERE id = ?1)",
                [target],
                |r| r.get(0),
            )
            .ctx("finding the user")?;
        if !exists {
            return Err(GovernError::NoSuchUser(format!("#{target}")));
        }
        tx.execute("DELETE FROM user_role WHERE user_id = ?1", [target])
            .ctx("changing user roles")?;
        for r in role_ids {
            let n = tx
                .execute(
                    "INSERT OR IGNORE INTO user_role (user_id, role_id) SELECT ?1, id FROM role WHERE id = ?2",
                    params![target, r],
                )
                .ctx("changing user roles")?;
            if n == 0 && !role_ids_of(&tx, target)?.contains(r) {
                return Err(GovernError::NoSuchRole(*r));
            }
        }
        if user_admins(&tx)?.is_empty() {
            return Err(GovernError::LastUserAdmin);
        }
        tx.execute(
            "UPDATE user SET updated_at = ?2 WHERE id = ?1",
            params![target, now],
        )
        .ctx("changing user roles")?;
        refresh_legacy_roles(&tx)?;
        // Their open sessions pick the new rights up on the next request (loaded per request).
        tx.commit().ctx("committing a user change")?;
        info!(by = %actor.username, user = target, roles = ?role_ids, "user roles changed");
        Ok(())
    }

    /// Sets the zone of user `target` (scope "own zone"). Refused for oneself.
    pub fn set_user_zone(
        &self,
        actor: &User,
        target: i64,
        zone: Option<&str>,
        now: i64,
    ) -> Result<(), GovernError> {
        require_users_right(actor)?;
        if actor.id == target {
            return Err(GovernError::SelfChange);
        }
        let zone = zone.map(str::trim).filter(|z| !z.is_empty());
        let n = self
            .conn()
            .execute(
                "UPDATE user SET zone = ?2, updated_at = ?3 WHERE id = ?1",
                params![target, zone, now],
            )
            .ctx("setting a user's zone")?;
        if n == 0 {
            return Err(GovernError::NoSuchUser(format!("#{target}")));
        }
        Ok(())
    }

    /// Disables or enables user `target` (disabling ends their sessions). Refused for
    /// oneself and for the last enabled user with [`Right::Users`].
    pub fn set_user_disabled(
        &self,
        actor: &User,
        target: i64,
        disabled: bool,
        now: i64,
    ) -> Result<(), GovernError> {
        require_users_right(actor)?;
        if actor.id == target {
            return Err(GovernError::SelfChange);
        }
        let mut conn = self.conn();
        let tx = conn.transaction().ctx("starting a user change")?;
        let n = tx
            .execute(
                "UPDATE user SET disabled = ?2, updated_at = ?3 WHERE id = ?1",
                params![target, disabled, now],
            )
            .ctx("disabling a user")?;
        if n == 0 {
            return Err(GovernError::NoSuchUser(format!("#{target}")));
        }
        if user_admins(&tx)?.is_empty() {
            return Err(GovernError::LastUserAdmin);
        }
        if disabled {
            tx.execute("DELETE FROM session WHERE user_id = ?1", [target])
                .ctx("ending the user's sessions")?;
        }
        tx.commit().ctx("committing a user change")?;
        info!(by = %actor.username, user = target, disabled, "user enabled/disabled");
        Ok(())
    }

    /// Creates a user holding `role_ids` (by an administrator with [`Right::Users`]).
    // The arguments are the add-user form's fields, one each.
    #[allow(clippy::too_many_arguments)]
    pub fn create_user_with_roles(
        &self,
        actor: &User,
        username: &str,
        display_name: &str,
        password: &str,
        role_ids: &[i64],
        zone: Option<&str>,
        now: i64,
    ) -> Result<User, GovernError> {
        require_users_right(actor)?;
        // Created as a viewer, then given exactly the chosen roles.
        let u = self.create_user(username, display_name, Role::Viewer, password, now)?;
        {
            let mut conn = self.conn();
            let tx = conn.transaction().ctx("starting a user change")?;
            tx.execute("DELETE FROM user_role WHERE user_id = ?1", [u.id])
                .ctx("giving roles")?;
            for r in role_ids {
                tx.execute(
                    "INSERT OR IGNORE INTO user_role (user_id, role_id) SELECT ?1, id FROM role WHERE id = ?2",
                    params![u.id, r],
                )
                .ctx("giving roles")?;
            }
            let zone = zone.map(str::trim).filter(|z| !z.is_empty());
            tx.execute(
                "UPDATE user SET zone = ?2 WHERE id = ?1",
                params![u.id, zone],
            )
            .ctx("setting the zone")?;
            refresh_legacy_roles(&tx)?;
            tx.commit().ctx("committing a new user")?;
        }
        self.user_by_id(u.id, now)
    }
}

fn require_users_right(actor: &User) -> Result<(), GovernError> {
    if actor.access.has(Right::Users, None) {
        Ok(())
    } else {
        Err(GovernError::NotAllowed)
    }
}

/// Keeps `user.role` (the former single role, shown by older tools) in step with the roles.
fn refresh_legacy_roles(conn: &Connection) -> Result<(), GovernError> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT id FROM user").ctx("listing users")?;
        let rows = stmt.query_map([], |r| r.get(0)).ctx("listing users")?;
        rows.collect::<Result<_, _>>().ctx("listing users")?
    };
    for id in ids {
        let role = legacy_role(&assignments_of_user(conn, id)?);
        conn.execute(
            "UPDATE user SET role = ?2 WHERE id = ?1 AND role <> ?2",
            params![id, role.as_str()],
        )
        .ctx("updating the former role")?;
    }
    Ok(())
}
