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

pub mod i18n;
pub mod ui;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The live streams the recorder runs, by (camera id, stream kind), for the live wall.
/// The recorder updates it as cameras come and go.
#[derive(Clone, Default)]
pub struct LiveRegistry {
    inner: Arc<RwLock<HashMap<(i64, store::StreamKind), ingest::StreamMonitor>>>,
}

impl LiveRegistry {
    pub fn insert(&self, camera: i64, kind: store::StreamKind, m: ingest::StreamMonitor) {
        self.inner.write().unwrap().insert((camera, kind), m);
    }
    pub fn remove(&self, camera: i64, kind: store::StreamKind) {
        self.inner.write().unwrap().remove(&(camera, kind));
    }
    pub fn get(&self, camera: i64, kind: store::StreamKind) -> Option<ingest::StreamMonitor> {
        self.inner.read().unwrap().get(&(camera, kind)).cloned()
    }
}
