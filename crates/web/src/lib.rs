//! # web — the control room in a browser
//!
//! What this crate is for: everything that speaks HTTP. Server-rendered pages (maud,
//! compiled into the binary), small ES modules for the live wall and the playback timeline
//! (embedded), the WebSocket live feed (fMP4 → Media Source Extensions), playback from the
//! index (fragments for MSE; progressive MP4 with HTTP Range), the cameras, storage and
//! health pages, login security (sessions, CSRF, lockout — rules from `govern`), and TLS.
//!
//! What it is not for: business rules (who may do what is `govern::authorize`; footage
//! is `store`; camera sessions are `ingest`). Handlers translate HTTP to those calls.
//! Every user-visible string goes through [`i18n`] (Vietnamese first, English second).
//!
//! Layout: [`router`] assembles the routes of [`auth`] (login, set-up, logout), [`pages`]
//! (cameras, storage, health and their JSON twins), `live` and `playback`, behind the
//! session guard ([`auth::guard`]): no route answers without a session except `/login`,
//! `/setup` (while no user exists) and `/assets/*`. [`serve`] runs the router over HTTP or
//! HTTPS ([`tls`]).

pub mod admin;
pub mod audit_page;
pub mod auth;
pub mod i18n;
pub mod live;
pub mod pages;
pub mod playback;
pub mod requests;
pub mod server;
pub mod tar;
pub mod tls;
pub mod ui;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use auth::Authed;
pub use server::{serve, TlsMode, WebConfig, WebError};

/// The live streams the recorder runs, by (camera id, stream kind), for the live wall.
/// The recorder updates it as cameras come and go.
#[derive(Clone, Default)]
pub struct LiveRegistry {
    inner: Arc<RwLock<HashMap<(i64, store::StreamKind), ingest::StreamMonitor>>>,
}

impl LiveRegistry {
    pub fn insert(&self, camera: i64, kind: store::StreamKind, m: ingest::StreamMonitor) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((camera, kind), m);
    }
    pub fn remove(&self, camera: i64, kind: store::StreamKind) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(camera, kind));
    }
    pub fn get(&self, camera: i64, kind: store::StreamKind) -> Option<ingest::StreamMonitor> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(camera, kind))
            .cloned()
    }
    /// Statistics of every running stream.
    pub fn stats(&self) -> Vec<((i64, store::StreamKind), ingest::StreamStats)> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, m)| (*k, m.stats()))
            .collect()
    }
}

/// The time source of the web layer (Unix milliseconds). Tests inject a manual clock to
/// exercise idle timeouts and lockouts without waiting.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        }))
    }
    /// A clock that reads `ms` (Unix milliseconds); move it with the atomic.
    pub fn manual(ms: Arc<AtomicI64>) -> Clock {
        Clock(Arc::new(move || ms.load(Ordering::SeqCst)))
    }
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
    /// Now in 90 kHz wall ticks (the store's unit).
    pub fn now_ticks(&self) -> i64 {
        self.now_ms() * 90
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now_ms())
    }
}

/// Settings of the web layer.
#[derive(Clone, Debug)]
pub struct Settings {
    /// A session unused this long ends (default 30 minutes).
    pub idle_timeout: Duration,
    /// Mark cookies `Secure` (set when serving over TLS).
    pub secure_cookies: bool,
    /// The data directory (disk figures on the storage and health pages; `status.json`).
    pub data_dir: PathBuf,
    /// Local time zone as minutes east of UTC (display, day boundaries).
    pub utc_offset_minutes: i32,
    /// Where evidence packages are written; `None`: `DATA/exports` (see [`Settings::export_dir`]).
    /// On another device than the recordings (a USB drive, an export volume), an export's
    /// writes do not share the disk its segments are read from.
    pub export_dir: Option<PathBuf>,
}

impl Settings {
    pub fn new(data_dir: PathBuf) -> Settings {
        Settings {
            idle_timeout: Duration::from_secs(govern::DEFAULT_IDLE_TIMEOUT_SECS as u64),
            secure_cookies: false,
            data_dir,
            utc_offset_minutes: 7 * 60,
            export_dir: None,
        }
    }

    /// The directory evidence packages are written into: `export_dir`, or `DATA/exports`.
    pub fn export_dir(&self) -> PathBuf {
        self.export_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("exports"))
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: store::Store,
    pub govern: govern::Govern,
    /// The audit trail: handlers record logins, views, changes through it.
    pub audit: audit::Audit,
    pub live: LiveRegistry,
    pub settings: Arc<Settings>,
    pub clock: Clock,
}

impl AppState {
    pub fn new(
        store: store::Store,
        govern: govern::Govern,
        audit: audit::Audit,
        live: LiveRegistry,
        settings: Settings,
    ) -> AppState {
        AppState {
            store,
            govern,
            audit,
            live,
            settings: Arc::new(settings),
            clock: Clock::system(),
        }
    }

    /// The same state with another clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> AppState {
        self.clock = clock;
        self
    }
}

/// The whole application: every route behind the session guard.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .merge(auth::routes())
        .merge(pages::routes())
        .merge(live::routes())
        .merge(playback::routes())
        .merge(audit_page::routes())
        .merge(requests::routes())
        .merge(admin::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .with_state(state)
}
