//! Requests for footage (R4) → decisions → grants, and the exports made from them.
//!
//! A request names its purpose, cameras, a time window (90 kHz wall ticks), a reason and the
//! scanned written request (the file is stored by the caller; its name, type, size and
//! SHA-256 are kept here). A different person holding [`Right::ExportApprove`] over every
//! camera decides it — never the requester. An approval creates [`Grant`]s: named people may
//! view and/or export exactly those cameras and times until an expiry; [`crate::authorize`]
//! reads them. The rules are checked here with [`crate::authorize`], not only in the UI.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use tracing::info;

use crate::account::Ctx;
use crate::rights::{grant_from_row, Grant, Right};
use crate::{authorize, Action, Govern, GovernError, User};

/// Why footage is requested (the regulation allows these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Crime prevention.
    CrimePrevention,
    /// Handling a violation.
    Violation,
    /// A complaint by a recorded person.
    Complaint,
    /// A police request.
    Police,
    /// Something else, described in words.
    Other,
}

impl Purpose {
    pub const ALL: [Purpose; 5] = [
        Purpose::CrimePrevention,
        Purpose::Violation,
        Purpose::Complaint,
        Purpose::Police,
        Purpose::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::CrimePrevention => "crime_prevention",
            Purpose::Violation => "violation",
            Purpose::Complaint => "complaint",
            Purpose::Police => "police",
            Purpose::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}

/// The state of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }
    fn parse(s: &str) -> Status {
        match s {
            "approved" => Status::Approved,
            "rejected" => Status::Rejected,
            _ => Status::Pending,
        }
    }
}

/// The scanned written request, as stored by the caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Document {
    /// File name under `DATA/requests/<id>/`.
    pub file: String,
    pub mime: String,
    pub size: i64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// A new request.
#[derive(Clone, Debug)]
pub struct NewRequest {
    pub purpose: Purpose,
    /// The purpose in words when `purpose` is [`Purpose::Other`].
    pub purpose_other: String,
    pub reason: String,
    pub cameras: Vec<i64>,
    /// Window, 90 kHz wall ticks.
    pub start: i64,
    pub end: i64,
    pub want_export: bool,
    pub want_hold: bool,
    pub document: Document,
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    pub id: i64,
    pub requester_id: i64,
    pub requester: String,
    pub purpose: Purpose,
    pub purpose_other: String,
    pub reason: String,
    pub cameras: Vec<i64>,
    pub start: i64,
    pub end: i64,
    pub want_export: bool,
    pub want_hold: bool,
    pub document: Document,
    pub status: Status,
    pub created_at: i64,
    pub decided_by: Option<i64>,
    pub decider: Option<String>,
    pub decided_at: Option<i64>,
    pub comment: Option<String>,
    pub grant_expires_at: Option<i64>,
    /// Holds placed in the store for this request (ids), if any.
    pub hold_ids: Vec<i64>,
    pub hold_released_at: Option<i64>,
}

/// Who an approval lets do what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grantee {
    pub user_id: i64,
    pub can_view: bool,
    pub can_export: bool,
}

/// An approval or a rejection.
#[derive(Clone, Debug)]
pub struct Decision {
    pub approve: bool,
    pub comment: String,
    /// Approvals: the people granted, and until when (Unix seconds).
    pub grantees: Vec<Grantee>,
    pub expires_at: i64,
}

/// An evidence package made from a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportRecord {
    pub id: i64,
    pub request_id: i64,
    pub operator_id: i64,
    pub operator: String,
    pub created_at: i64,
    pub dir: String,
}

const REQUEST_COLS: &str = "q.id, q.requester_id, ru.display_name, q.purpose, q.purpose_other, \
     q.reason, q.start, q.\"end\", q.want_export, q.want_hold, q.doc_file, q.doc_mime, \
     q.doc_size, q.doc_sha256, q.status, q.created_at, q.decided_by, du.display_name, \
     q.decided_at, q.decision_comment, q.grant_expires_at, q.hold_ids, q.hold_released_at \
     FROM request q JOIN user ru ON ru.id = q.requester_id \
     LEFT JOIN user du ON du.id = q.decided_by";

fn request_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
    let purpose: String = r.get(3)?;
    let status: String = r.get(14)?;
    let holds: Option<String> = r.get(21)?;
    Ok(Request {
        id: r.get(0)?,
        requester_id: r.get(1)?,
        requester: r.get(2)?,
        purpose: Purpose::parse(&purpose).unwrap_or(Purpose::Other),
        purpose_other: r.get(4)?,
        reason: r.get(5)?,
        cameras: Vec::new(),
        start: r.get(6)?,
        end: r.get(7)?,
        want_export: r.get(8)?,
        want_hold: r.get(9)?,
        document: Document {
            file: r.get(10)?,
            mime: r.get(11)?,
            size: r.get(12)?,
            sha256: r.get(13)?,
        },
        status: Status::parse(&status),
        created_at: r.get(15)?,
        decided_by: r.get(16)?,
        decider: r.get(17)?,
        decided_at: r.get(18)?,
        comment: r.get(19)?,
        grant_expires_at: r.get(20)?,
        hold_ids: holds
            .unwrap_or_default()
            .split(',')
            .filter_map(|h| h.trim().parse().ok())
            .collect(),
        hold_released_at: r.get(22)?,
    })
}

fn cameras_of(conn: &Connection, id: i64) -> Result<Vec<i64>, GovernError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT camera_id FROM request_camera WHERE request_id = ?1 ORDER BY camera_id",
        )
        .ctx("reading request cameras")?;
    let rows = stmt
        .query_map([id], |r| r.get(0))
        .ctx("reading request cameras")?;
    rows.collect::<Result<_, _>>()
        .ctx("reading request cameras")
}

/// Which requests to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFilter {
    /// All requests.
    All,
    /// Pending ones (the approvers' inbox).
    Pending,
    /// Those filed by this user.
    By(i64),
    /// Those with a grant to this user.
    GrantedTo(i64),
}

impl Govern {
    /// Files a request by `actor` (who needs [`Right::ExportRequest`] over every camera).
    pub fn create_request(
        &self,
        actor: &User,
        r: &NewRequest,
        now: i64,
    ) -> Result<i64, GovernError> {
        if r.cameras.is_empty() {
            return Err(GovernError::Invalid("choose at least one camera".into()));
        }
        if r.end <= r.start {
            return Err(GovernError::Invalid(
                "the window's end must be after its start".into(),
            ));
        }
        if r.reason.trim().is_empty() {
            return Err(GovernError::Invalid("give a reason".into()));
        }
        if r.purpose == Purpose::Other && r.purpose_other.trim().is_empty() {
            return Err(GovernError::Invalid("describe the purpose".into()));
        }
        if !r
            .cameras
            .iter()
            .all(|&camera| authorize(actor, &Action::CreateRequest { camera }))
        {
            return Err(GovernError::NotAllowed);
        }
        let mut conn = self.conn();
        let tx = conn.transaction().ctx("starting a request")?;
        tx.execute(
            "INSERT INTO request (requester_id, purpose, purpose_other, reason, start, \"end\", \
             want_export, want_hold, doc_file, doc_mime, doc_size, doc_sha256, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                actor.id,
                r.purpose.as_str(),
                r.purpose_other.trim(),
                r.reason.trim(),
                r.start,
                r.end,
                r.want_export,
                r.want_hold,
                r.document.file,
                r.document.mime,
                r.document.size,
                r.document.sha256,
                now
            ],
        )
        .ctx("adding a request")?;
        let id = tx.last_insert_rowid();
        for c in &r.cameras {
            tx.execute(
                "INSERT OR IGNORE INTO request_camera (request_id, camera_id) VALUES (?1, ?2)",
                params![id, c],
            )
            .ctx("adding a request")?;
        }
        tx.commit().ctx("committing a request")?;
        info!(by = %actor.username, request = id, "request filed");
        Ok(id)
    }

    /// Removes a pending request whose document could not be stored (the caller's clean-up
    /// right after [`Govern::create_request`]); decided requests are never removed.
    pub fn discard_pending_request(&self, id: i64) -> Result<(), GovernError> {
        let mut conn = self.conn();
        let tx = conn.transaction().ctx("discarding a request")?;
        tx.execute("DELETE FROM request_camera WHERE request_id = ?1", [id])
            .ctx("discarding a request")?;
        tx.execute(
            "DELETE FROM request WHERE id = ?1 AND status = 'pending'",
            [id],
        )
        .ctx("discarding a request")?;
        tx.commit().ctx("discarding a request")?;
        Ok(())
    }

    /// The request `id`.
    pub fn request(&self, id: i64) -> Result<Request, GovernError> {
        let conn = self.conn();
        let mut q = conn
            .query_row(
                &format!("SELECT {REQUEST_COLS} WHERE q.id = ?1"),
                [id],
                request_from_row,
            )
            .optional()
            .ctx("reading a request")?
            .ok_or(GovernError::NoSuchRequest(id))?;
        q.cameras = cameras_of(&conn, id)?;
        Ok(q)
    }

    /// Requests, newest first (at most `limit`).
    pub fn requests(
        &self,
        filter: RequestFilter,
        limit: usize,
    ) -> Result<Vec<Request>, GovernError> {
        let conn = self.conn();
        let (cond, arg) = match filter {
            RequestFilter::All => ("1 = 1 OR ?1 = 0", 0),
            RequestFilter::Pending => ("q.status = 'pending' OR ?1 = 1", 0),
            RequestFilter::By(u) => ("q.requester_id = ?1", u),
            RequestFilter::GrantedTo(u) => (
                "q.id IN (SELECT request_id FROM access_grant WHERE user_id = ?1)",
                u,
            ),
        };
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {REQUEST_COLS} WHERE ({cond}) ORDER BY q.id DESC LIMIT {}",
                limit.min(10_000)
            ))
            .ctx("listing requests")?;
        let rows = stmt
            .query_map([arg], request_from_row)
            .ctx("listing requests")?;
        let mut out: Vec<Request> = rows.collect::<Result<_, _>>().ctx("listing requests")?;
        for q in &mut out {
            q.cameras = cameras_of(&conn, q.id)?;
        }
        Ok(out)
    }

    /// How many requests wait for a decision that `user_id` may give (everyone's pending
    /// requests but their own): the approver's inbox badge.
    pub fn pending_for(&self, user_id: i64) -> Result<usize, GovernError> {
        self.conn()
            .prepare_cached(
                "SELECT COUNT(*) FROM request WHERE status = 'pending' AND requester_id != ?1",
            )
            .and_then(|mut st| st.query_row([user_id], |r| r.get::<_, i64>(0)))
            .map(|n| n as usize)
            .ctx("counting pending requests")
    }

    /// Decides request `id`: `actor` must not be the requester and must hold
    /// [`Right::ExportApprove`] over every camera. An approval creates grants for the
    /// named people on exactly the request's cameras and window until `expires_at`.
    pub fn decide_request(
        &self,
        actor: &User,
        id: i64,
        d: &Decision,
        now: i64,
    ) -> Result<Request, GovernError> {
        let q = self.request(id)?;
        if q.requester_id == actor.id {
            return Err(GovernError::SelfApproval);
        }
        if !q.cameras.iter().all(|&camera| {
            authorize(
                actor,
                &Action::DecideRequest {
                    requester: q.requester_id,
                    camera,
                },
            )
        }) {
            return Err(GovernError::NotAllowed);
        }
        if d.approve {
            if d.grantees.is_empty() {
                return Err(GovernError::Invalid("name at least one person".into()));
            }
            if d.expires_at <= now {
                return Err(GovernError::Invalid(
                    "the expiry must be in the future".into(),
                ));
            }
            if d.grantees.iter().any(|g| !g.can_view && !g.can_export) {
                return Err(GovernError::Invalid(
                    "each person must be allowed to view or export".into(),
                ));
            }
        }
        if d.comment.trim().is_empty() && !d.approve {
            return Err(GovernError::Invalid(
                "say why the request is rejected".into(),
            ));
        }
        let mut conn = self.conn();
        let tx = conn.transaction().ctx("starting a decision")?;
        let n = tx
            .execute(
                "UPDATE request SET status = ?2, decided_by = ?3, decided_at = ?4, \
                 decision_comment = ?5, grant_expires_at = ?6 WHERE id = ?1 AND status = 'pending'",
                params![
                    id,
                    if d.approve { "approved" } else { "rejected" },
                    actor.id,
                    now,
                    d.comment.trim(),
                    d.approve.then_some(d.expires_at)
                ],
            )
            .ctx("recording a decision")?;
        if n == 0 {
            return Err(GovernError::NotPending);
        }
        if d.approve {
            for g in &d.grantees {
                let exists: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM user WHERE id = ?1)",
                        [g.user_id],
                        |r| r.get(0),
                    )
                    .ctx("finding a grantee")?;
                if !exists {
                    return Err(GovernError::NoSuchUser(format!("#{}", g.user_id)));
                }
                for c in &q.cameras {
                    tx.execute(
                        "INSERT INTO access_grant (request_id, user_id, camera_id, start, \"end\", \
                         can_view, can_export, expires_at, created_at, created_by) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        params![
                            id,
                            g.user_id,
                            c,
                            q.start,
                            q.end,
                            g.can_view,
                            g.can_export,
                            d.expires_at,
                            now,
                            actor.id
                        ],
                    )
                    .ctx("creating a grant")?;
                }
            }
        }
        tx.commit().ctx("committing a decision")?;
        drop(conn);
        info!(by = %actor.username, request = id, approve = d.approve, "request decided");
        self.request(id)
    }

    /// Grants of request `id`.
    pub fn grants_of_request(&self, id: i64) -> Result<Vec<Grant>, GovernError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, request_id, user_id, camera_id, start, \"end\", can_view, can_export, \
                 expires_at FROM access_grant WHERE request_id = ?1 ORDER BY user_id, camera_id",
            )
            .ctx("reading grants")?;
        let rows = stmt.query_map([id], grant_from_row).ctx("reading grants")?;
        rows.collect::<Result<_, _>>().ctx("reading grants")
    }

    /// Records the store holds placed for approved request `id`.
    pub fn set_request_holds(&self, id: i64, hold_ids: &[i64]) -> Result<(), GovernError> {
        let list = hold_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.conn()
            .execute(
                "UPDATE request SET hold_ids = ?2, hold_released_at = NULL, hold_released_by = NULL \
                 WHERE id = ?1 AND status = 'approved'",
                params![id, list],
            )
            .ctx("recording holds")?;
        Ok(())
    }

    /// Records that the holds of request `id` were released by `actor` (who needs
    /// [`Right::Hold`] over every camera; the caller releases them in the store).
    pub fn release_request_holds(
        &self,
        actor: &User,
        id: i64,
        now: i64,
    ) -> Result<Vec<i64>, GovernError> {
        let q = self.request(id)?;
        if !q
            .cameras
            .iter()
            .all(|&camera| authorize(actor, &Action::Hold { camera }))
        {
            return Err(GovernError::NotAllowed);
        }
        if q.hold_ids.is_empty() || q.hold_released_at.is_some() {
            return Err(GovernError::Invalid(
                "no active hold on this request".into(),
            ));
        }
        self.conn()
            .execute(
                "UPDATE request SET hold_released_at = ?2, hold_released_by = ?3 WHERE id = ?1",
                params![id, now, actor.id],
            )
            .ctx("releasing holds")?;
        Ok(q.hold_ids)
    }

    /// Records an evidence package of request `request_id` made by `actor` into `dir`
    /// (who must be allowed [`Action::ExportPerform`]).
    pub fn record_export(
        &self,
        actor: &User,
        request_id: i64,
        dir: &str,
        now: i64,
    ) -> Result<i64, GovernError> {
        if !authorize(
            actor,
            &Action::ExportPerform {
                request: request_id,
                now,
            },
        ) {
            return Err(GovernError::NotAllowed);
        }
        let conn = self.conn();
        conn.execute(
            "INSERT INTO export (request_id, operator_id, created_at, dir) VALUES (?1, ?2, ?3, ?4)",
            params![request_id, actor.id, now, dir],
        )
        .ctx("recording an export")?;
        Ok(conn.last_insert_rowid())
    }

    /// Exports of request `request_id`, newest first.
    pub fn exports(&self, request_id: i64) -> Result<Vec<ExportRecord>, GovernError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT e.id, e.request_id, e.operator_id, u.display_name, e.created_at, e.dir \
                 FROM export e JOIN user u ON u.id = e.operator_id WHERE e.request_id = ?1 \
                 ORDER BY e.id DESC",
            )
            .ctx("listing exports")?;
        let rows = stmt
            .query_map([request_id], |r| {
                Ok(ExportRecord {
                    id: r.get(0)?,
                    request_id: r.get(1)?,
                    operator_id: r.get(2)?,
                    operator: r.get(3)?,
                    created_at: r.get(4)?,
                    dir: r.get(5)?,
                })
            })
            .ctx("listing exports")?;
        rows.collect::<Result<_, _>>().ctx("listing exports")
    }

    /// People who could be named in an approval: enabled users, (id, display name,
    /// whether they hold [`Right::ExportPerform`]).
    pub fn grantee_candidates(&self) -> Result<Vec<(i64, String, bool)>, GovernError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT u.id, u.display_name, EXISTS (SELECT 1 FROM user_role ur \
                 JOIN role_right rr ON rr.role_id = ur.role_id \
                 WHERE ur.user_id = u.id AND rr.right_name = ?1) \
                 FROM user u WHERE u.disabled = 0 ORDER BY u.display_name",
            )
            .ctx("listing users")?;
        let rows = stmt
            .query_map([Right::ExportPerform.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .ctx("listing users")?;
        rows.collect::<Result<_, _>>().ctx("listing users")
    }
}
