//! Camera and stream configuration: the inventory the recorder reads to know what to
//! record, and each stream's retention plan.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::db::now_secs;
use crate::error::{DbContext, Error};
use crate::schedule::Schedule;
use crate::{Store, StreamId};

/// A camera's id (`camera.id`).
pub type CameraId = i64;

/// Default retention of a new stream.
pub const DEFAULT_MIN_DAYS: u32 = 20;
pub const DEFAULT_MAX_DAYS: u32 = 30;

/// A new camera, as an operator configures it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewCamera {
    /// Unique among cameras that are not removed, e.g. "Cổng chính".
    pub name: String,
    /// RTSP URL of the main (recorded) stream, without credentials.
    pub main_url: String,
    /// RTSP URL of the sub-stream (live wall, analysis), if the camera has one.
    pub sub_url: Option<String>,
    pub username: Option<String>,
    /// Stored as given (the camera needs it); never printed by `Debug` or serialized.
    pub password: Option<String>,
    /// Default: true.
    pub enabled: bool,
    pub zone: Option<String>,
    pub department: Option<String>,
}

impl Default for NewCamera {
    fn default() -> Self {
        NewCamera {
            name: String::new(),
            main_url: String::new(),
            sub_url: None,
            username: None,
            password: None,
            enabled: true,
            zone: None,
            department: None,
        }
    }
}

impl std::fmt::Debug for NewCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCamera")
            .field("name", &self.name)
            .field("main_url", &self.main_url)
            .field("sub_url", &self.sub_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("zone", &self.zone)
            .field("department", &self.department)
            .finish()
    }
}

/// Changes to a camera: `None` leaves a field as it is; for optional fields `Some(None)`
/// clears it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CameraUpdate {
    pub name: Option<String>,
    pub main_url: Option<String>,
    pub sub_url: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub password: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub zone: Option<Option<String>>,
    pub department: Option<Option<String>>,
}

impl std::fmt::Debug for CameraUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraUpdate")
            .field("name", &self.name)
            .field("main_url", &self.main_url)
            .field("sub_url", &self.sub_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("zone", &self.zone)
            .field("department", &self.department)
            .finish()
    }
}

/// A configured camera.
#[derive(Clone, Serialize)]
pub struct Camera {
    pub id: CameraId,
    pub name: String,
    pub main_url: String,
    pub sub_url: Option<String>,
    pub username: Option<String>,
    #[serde(skip)]
    pub password: Option<String>,
    pub enabled: bool,
    pub zone: Option<String>,
    pub department: Option<String>,
    /// When to record (continuous by default).
    pub schedule: Schedule,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("main_url", &self.main_url)
            .field("sub_url", &self.sub_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("zone", &self.zone)
            .field("department", &self.department)
            .field("schedule", &self.schedule)
            .finish()
    }
}

/// Which of a camera's streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    Main,
    Sub,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Main => "main",
            StreamKind::Sub => "sub",
        }
    }
    fn parse(s: &str) -> StreamKind {
        if s == "sub" {
            StreamKind::Sub
        } else {
            StreamKind::Main
        }
    }
}

impl std::fmt::Display for StreamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stream, where it comes from, and its retention plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub id: StreamId,
    pub camera_id: CameraId,
    pub kind: StreamKind,
    /// The camera's URL for this stream (main or sub URL); empty if the camera has none.
    pub url: String,
    /// Whether the recorder records this stream.
    pub record: bool,
    /// Byte quota; 0 = no byte quota (only `max_days` applies).
    pub quota_bytes: u64,
    pub min_days: u32,
    pub max_days: u32,
}

const CAMERA_COLS: &str = "id, name, main_url, sub_url, username, password, enabled, zone, \
                           department, schedule_json, created_at, updated_at";

fn camera_row(r: &Row<'_>) -> rusqlite::Result<Camera> {
    Ok(Camera {
        id: r.get(0)?,
        name: r.get(1)?,
        main_url: r.get(2)?,
        sub_url: r.get(3)?,
        username: r.get(4)?,
        password: r.get(5)?,
        enabled: r.get(6)?,
        zone: r.get(7)?,
        department: r.get(8)?,
        schedule: parse_schedule(r.get(0)?, r.get(9)?),
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

fn parse_schedule(camera: CameraId, json: Option<String>) -> Schedule {
    let Some(json) = json else {
        return Schedule::always();
    };
    match serde_json::from_str::<Schedule>(&json) {
        Ok(s) => s,
        Err(e) => {
            // Recording is the safe default: a schedule we cannot read must not stop it.
            tracing::error!(camera, error = %e, "stored schedule unreadable; recording continuously");
            Schedule::always()
        }
    }
}

const STREAM_SELECT: &str = "SELECT s.id, s.camera_id, s.kind, s.record, s.quota_bytes, \
     s.min_days, s.max_days, CASE s.kind WHEN 'main' THEN c.main_url ELSE c.sub_url END \
     FROM stream s JOIN camera c ON c.id = s.camera_id";

fn stream_row(r: &Row<'_>) -> rusqlite::Result<StreamInfo> {
    let kind: String = r.get(2)?;
    Ok(StreamInfo {
        id: r.get(0)?,
        camera_id: r.get(1)?,
        kind: StreamKind::parse(&kind),
        url: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        record: r.get(3)?,
        quota_bytes: r.get::<_, i64>(4)?.max(0) as u64,
        min_days: r.get(5)?,
        max_days: r.get(6)?,
    })
}

fn validate(c: &NewCamera) -> Result<(), Error> {
    if c.name.trim().is_empty() {
        return Err(Error::InvalidCamera("the camera needs a name".into()));
    }
    for (what, url) in [("main", Some(&c.main_url)), ("sub", c.sub_url.as_ref())] {
        if let Some(url) = url {
            if !url.starts_with("rtsp://") && !url.starts_with("rtsps://") {
                return Err(Error::InvalidCamera(format!(
                    "camera {:?}: the {what} stream URL must start with rtsp:// or rtsps://",
                    c.name
                )));
            }
        }
    }
    Ok(())
}

fn unique_name_error(e: rusqlite::Error, name: &str) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            return Error::InvalidCamera(format!(
                "a camera named {name:?} already exists; choose another name"
            ));
        }
    }
    Error::Db {
        what: format!("saving camera {name:?}"),
        source: e,
    }
}

impl Store {
    /// Adds a camera with its main stream (recorded) and, if it has a sub URL, its sub stream
    /// (watched live; recorded only once `set_stream_record` says so — the storage plan's
    /// budget is for the main streams), with the default retention (no byte quota, 20–30
    /// days).
    pub fn add_camera(&self, c: NewCamera) -> Result<CameraId, Error> {
        validate(&c)?;
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .ctx(|| format!("adding camera {:?}", c.name))?;
        let now = now_secs();
        tx.execute(
            "INSERT INTO camera (name, main_url, sub_url, username, password, enabled, zone, \
             department, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            params![
                c.name,
                c.main_url,
                c.sub_url,
                c.username,
                c.password,
                c.enabled,
                c.zone,
                c.department,
                now
            ],
        )
        .map_err(|e| unique_name_error(e, &c.name))?;
        let id = tx.last_insert_rowid();
        ensure_stream(&tx, id, StreamKind::Main, Some(true))?;
        if c.sub_url.is_some() {
            ensure_stream(&tx, id, StreamKind::Sub, Some(false))?;
        }
        tx.commit().ctx(|| format!("adding camera {:?}", c.name))?;
        tracing::info!(camera = id, name = %c.name, "camera added");
        Ok(id)
    }

    /// Changes a camera's configuration (fields left `None` stay). Adding a sub URL
    /// creates its sub stream; clearing it stops recording the sub stream (its footage stays
    /// until retention).
    pub fn update_camera(&self, id: CameraId, u: CameraUpdate) -> Result<(), Error> {
        let cur = self.camera(id)?;
        let c = NewCamera {
            name: u.name.unwrap_or(cur.name),
            main_url: u.main_url.unwrap_or(cur.main_url),
            sub_url: u.sub_url.unwrap_or_else(|| cur.sub_url.clone()),
            username: u.username.unwrap_or(cur.username),
            password: u.password.unwrap_or(cur.password),
            enabled: u.enabled.unwrap_or(cur.enabled),
            zone: u.zone.unwrap_or(cur.zone),
            department: u.department.unwrap_or(cur.department),
        };
        validate(&c)?;
        let mut conn = self.conn();
        let tx = conn.transaction().ctx(|| format!("updating camera {id}"))?;
        let n = tx
            .execute(
                "UPDATE camera SET name = ?2, main_url = ?3, sub_url = ?4, username = ?5, \
                 password = ?6, enabled = ?7, zone = ?8, department = ?9, updated_at = ?10 \
                 WHERE id = ?1 AND removed_at IS NULL",
                params![
                    id,
                    c.name,
                    c.main_url,
                    c.sub_url,
                    c.username,
                    c.password,
                    c.enabled,
                    c.zone,
                    c.department,
                    now_secs()
                ],
            )
            .map_err(|e| unique_name_error(e, &c.name))?;
        if n == 0 {
            return Err(Error::CameraNotFound(id.to_string()));
        }
        if c.sub_url != cur.sub_url {
            // A new sub URL: the stream exists (its record flag kept if it existed before);
            // no sub URL: it is no longer recorded (its footage stays until retention).
            let record = if c.sub_url.is_some() {
                None
            } else {
                Some(false)
            };
            ensure_stream(&tx, id, StreamKind::Sub, record)?;
        }
        tx.commit().ctx(|| format!("updating camera {id}"))?;
        Ok(())
    }

    /// Enables or disables a camera (a disabled camera is not connected to or recorded).
    pub fn set_enabled(&self, id: CameraId, enabled: bool) -> Result<(), Error> {
        let n = self
            .conn()
            .execute(
                "UPDATE camera SET enabled = ?2, updated_at = ?3 \
                 WHERE id = ?1 AND removed_at IS NULL",
                params![id, enabled, now_secs()],
            )
            .ctx(|| format!("enabling/disabling camera {id}"))?;
        if n == 0 {
            return Err(Error::CameraNotFound(id.to_string()));
        }
        Ok(())
    }

    /// Removes a camera from the configuration: it is disabled, hidden from [`Store::cameras`]
    /// and its streams stop recording. Its footage is *not* deleted: it stays (and stays
    /// readable and verifiable) until retention takes it.
    pub fn remove_camera(&self, id: CameraId) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().ctx(|| format!("removing camera {id}"))?;
        let now = now_secs();
        let n = tx
            .execute(
                "UPDATE camera SET enabled = 0, removed_at = ?2, updated_at = ?2 \
                 WHERE id = ?1 AND removed_at IS NULL",
                params![id, now],
            )
            .ctx(|| format!("removing camera {id}"))?;
        if n == 0 {
            return Err(Error::CameraNotFound(id.to_string()));
        }
        tx.execute("UPDATE stream SET record = 0 WHERE camera_id = ?1", [id])
            .ctx(|| format!("stopping the streams of camera {id}"))?;
        tx.commit().ctx(|| format!("removing camera {id}"))?;
        tracing::info!(
            camera = id,
            "camera removed from configuration (footage kept)"
        );
        Ok(())
    }

    /// The cameras that are not removed, by name.
    pub fn cameras(&self) -> Result<Vec<Camera>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {CAMERA_COLS} FROM camera WHERE removed_at IS NULL ORDER BY name"
            ))
            .ctx(|| "listing cameras".into())?;
        let rows = stmt
            .query_map([], camera_row)
            .ctx(|| "listing cameras".into())?;
        rows.collect::<Result<_, _>>()
            .ctx(|| "listing cameras".into())
    }

    /// A camera by id (also a removed one, whose footage may still exist).
    pub fn camera(&self, id: CameraId) -> Result<Camera, Error> {
        self.conn()
            .query_row(
                &format!("SELECT {CAMERA_COLS} FROM camera WHERE id = ?1"),
                [id],
                camera_row,
            )
            .optional()
            .ctx(|| format!("reading camera {id}"))?
            .ok_or_else(|| Error::CameraNotFound(id.to_string()))
    }

    /// The camera (not removed) with this name.
    pub fn camera_by_name(&self, name: &str) -> Result<Option<Camera>, Error> {
        self.conn()
            .query_row(
                &format!("SELECT {CAMERA_COLS} FROM camera WHERE name = ?1 AND removed_at IS NULL"),
                [name],
                camera_row,
            )
            .optional()
            .ctx(|| format!("looking up camera {name:?}"))
    }

    /// Every stream (also of removed cameras: their footage is still under retention).
    pub fn streams(&self) -> Result<Vec<StreamInfo>, Error> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("{STREAM_SELECT} ORDER BY s.id"))
            .ctx(|| "listing streams".into())?;
        let rows = stmt
            .query_map([], stream_row)
            .ctx(|| "listing streams".into())?;
        rows.collect::<Result<_, _>>()
            .ctx(|| "listing streams".into())
    }

    /// One stream.
    pub fn stream(&self, id: StreamId) -> Result<StreamInfo, Error> {
        self.conn()
            .query_row(
                &format!("{STREAM_SELECT} WHERE s.id = ?1"),
                [id],
                stream_row,
            )
            .optional()
            .ctx(|| format!("reading stream {id}"))?
            .ok_or(Error::StreamNotFound(id))
    }

    /// Sets a stream's retention plan. `min_days` ≥ 1 and `max_days` ≥ `min_days`;
    /// `quota_bytes` 0 means no byte quota. (Policy floors, such as the regulation's 20
    /// days, are enforced by the caller that knows who asks.)
    pub fn set_stream_retention(
        &self,
        stream: StreamId,
        quota_bytes: u64,
        min_days: u32,
        max_days: u32,
    ) -> Result<(), Error> {
        if min_days < 1 {
            return Err(Error::InvalidRetention {
                stream,
                reason: "the minimum must be at least 1 day".into(),
            });
        }
        if max_days < min_days {
            return Err(Error::InvalidRetention {
                stream,
                reason: format!(
                    "the maximum ({max_days} days) must not be below the minimum ({min_days} days)"
                ),
            });
        }
        let quota = i64::try_from(quota_bytes).map_err(|_| Error::InvalidRetention {
            stream,
            reason: "the byte quota is too large".into(),
        })?;
        let n = self
            .conn()
            .execute(
                "UPDATE stream SET quota_bytes = ?2, min_days = ?3, max_days = ?4 WHERE id = ?1",
                params![stream, quota, min_days, max_days],
            )
            .ctx(|| format!("setting retention of stream {stream}"))?;
        if n == 0 {
            return Err(Error::StreamNotFound(stream));
        }
        Ok(())
    }

    /// Sets whether a stream is recorded.
    pub fn set_stream_record(&self, stream: StreamId, record: bool) -> Result<(), Error> {
        let n = self
            .conn()
            .execute(
                "UPDATE stream SET record = ?2 WHERE id = ?1",
                params![stream, record],
            )
            .ctx(|| format!("setting recording of stream {stream}"))?;
        if n == 0 {
            return Err(Error::StreamNotFound(stream));
        }
        Ok(())
    }

    /// Sets a camera's recording schedule.
    pub fn set_schedule(&self, camera: CameraId, schedule: &Schedule) -> Result<(), Error> {
        schedule
            .validate()
            .map_err(|e| Error::InvalidCamera(format!("camera {camera}: {e}")))?;
        let json = serde_json::to_string(schedule)
            .map_err(|e| Error::InvalidCamera(format!("camera {camera}: schedule: {e}")))?;
        let n = self
            .conn()
            .execute(
                "UPDATE camera SET schedule_json = ?2, updated_at = ?3 \
                 WHERE id = ?1 AND removed_at IS NULL",
                params![camera, json, now_secs()],
            )
            .ctx(|| format!("setting the schedule of camera {camera}"))?;
        if n == 0 {
            return Err(Error::CameraNotFound(camera.to_string()));
        }
        Ok(())
    }
}

/// Creates the stream if missing; sets its `record` flag.
fn ensure_stream(
    tx: &rusqlite::Transaction<'_>,
    camera: CameraId,
    kind: StreamKind,
    record: Option<bool>,
) -> Result<(), Error> {
    // The row exists (created not recorded unless asked); then the flag, when given.
    tx.execute(
        "INSERT INTO stream (camera_id, kind, record, min_days, max_days) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (camera_id, kind) DO NOTHING",
        params![
            camera,
            kind.as_str(),
            record.unwrap_or(false),
            DEFAULT_MIN_DAYS,
            DEFAULT_MAX_DAYS
        ],
    )
    .ctx(|| format!("creating the {} stream of camera {camera}", kind.as_str()))?;
    if let Some(r) = record {
        tx.execute(
            "UPDATE stream SET record = ?3 WHERE camera_id = ?1 AND kind = ?2",
            params![camera, kind.as_str(), r],
        )
        .ctx(|| format!("updating the {} stream of camera {camera}", kind.as_str()))?;
    }
    Ok(())
}
