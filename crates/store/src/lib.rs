//! # store — where Vigil's footage lives
//!
//! What this crate is for: everything that touches recorded footage on disk and its index:
//!
//! - the SQLite database (WAL) with cameras, streams, segments, holds, retention cuts and
//!   settings — all of their SQL lives here ([`db`], `migrations/`);
//! - the [`Writer`], one per recorded stream, that turns [`media::Frame`]s into fragmented
//!   MP4 segment files of about a minute, following the consistency protocol
//!   *write → fsync file and directory → index* ([`writer`]);
//! - crash recovery when the store opens ([`recovery`]): an open segment is truncated to its
//!   last complete fragment, hashed, chained and indexed;
//! - retention ([`retention`]): byte quotas, minimum and maximum days, evidence holds,
//!   deletion only through the garbage protocol and recorded in the per-stream hash chain,
//!   and the forecast of how many days each stream keeps;
//! - integrity verification ([`verify`]): re-hash every file, check the chain, find missing,
//!   altered or unindexed files;
//! - reading ([`read`]): segments with their fragment index, and progressive MP4 exports of
//!   any time range built from the index without copying.
//!
//! What it is not for: talking to cameras (that is `ingest`), container byte layout (that is
//! `media`), deciding who may see or export footage (that is `govern`), HTTP (`web`).
//! There is deliberately no API that deletes footage: footage leaves only by retention.
//!
//! Layout on disk under the store's root: `vigil.db` (+ WAL files), `store.lock`, and
//! `streams/<stream id>/<YYYYMMDD-HHMMSS>-<seq>.mp4` (UTC start time of the segment).

pub mod camera;
pub mod db;
pub mod error;
pub mod plan;
pub mod read;
pub mod recovery;
pub mod retention;
pub mod schedule;
pub mod verify;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use media::Ticks;
use rusqlite::Connection;

pub use camera::{Camera, CameraId, CameraUpdate, NewCamera, StreamInfo, StreamKind};
pub use error::{Error, WriteError};
pub use read::{Export, SegmentInfo};
pub use recovery::{RecoveredSegment, RecoveryOutcome, RecoveryReport};
pub use retention::{Alarm, Hold, HoldSpec, RetentionReport, StreamUsage};
pub use verify::{Problem, ProblemKind, VerifyReport};
pub use writer::{EndReason, Writer, WriterStats};

/// A stream's id (`stream.id`).
pub type StreamId = i64;

/// Tunables of the store and its writers.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Target duration of a segment; segments are cut at the first key frame after it.
    pub segment_duration: Ticks,
    /// A fragment is flushed before the next key frame once it is this long…
    pub fragment_max_duration: Ticks,
    /// …or holds this many bytes.
    pub fragment_max_bytes: usize,
    /// fdatasync after a fragment once this much stream time has passed since the last
    /// sync, bounding what power loss can take to about this much (plus the fragment being
    /// written). `Some(0)`: after every fragment. `None`: only when a segment closes.
    /// (A `kill -9` loses nothing written: the page cache survives the process.)
    pub sync_interval: Option<Ticks>,
    /// A frame more than this later than the previous one starts a new segment (a hole).
    pub max_frame_gap: Ticks,
    /// How far a frame's time may go back relative to the latest one (B-frame reordering)
    /// before it counts as a discontinuity.
    pub max_reorder: Ticks,
    /// After a write error, the writer waits at least this long (and for a key frame)
    /// before it tries again; doubled on each consecutive failure up to 16×.
    pub retry_backoff: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            segment_duration: 60 * media::time::TICKS_PER_SEC,
            fragment_max_duration: 4 * media::time::TICKS_PER_SEC,
            fragment_max_bytes: 16 << 20,
            sync_interval: Some(media::time::TICKS_PER_SEC),
            max_frame_gap: 5 * media::time::TICKS_PER_SEC,
            max_reorder: media::time::TICKS_PER_SEC / 2,
            retry_backoff: Duration::from_secs(2),
        }
    }
}

/// The store: a handle to the database and the segment directory. Cheap to clone; share it
/// between threads. Writers for different streams run independently on their own threads
/// and take the database lock only briefly, when a segment opens or closes.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    conn: Mutex<Connection>,
    options: StoreOptions,
    /// Streams with an open [`Writer`].
    writers: Mutex<HashSet<StreamId>>,
    /// The latest write error of each stream whose writer is failing.
    failing: Mutex<HashMap<StreamId, (String, bool)>>,
    /// Held for the store's lifetime: an exclusive `flock` on `store.lock`.
    /// The recorder's exclusive lock; `None` for a client ([`Store::open_client`]).
    lock: Option<File>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "vigil.db";

impl Store {
    /// Opens the store in `root` as a *client*: for the CLI's camera commands, status,
    /// verification and reads while a recorder may be running. A client takes no lock,
    /// runs no recovery, and may not write footage or delete it: [`Store::writer`] and
    /// [`Store::run_retention`] refuse. SQLite (WAL) arbitrates concurrent access.
    pub fn open_client(root: &Path) -> Result<Store, Error> {
        let db = root.join(DB_FILE);
        if !db.exists() {
            return Err(Error::NoDatabase { path: db });
        }
        let conn = db::open(&db)?;
        Ok(Store {
            inner: Arc::new(Inner {
                root: root.to_owned(),
                conn: Mutex::new(conn),
                options: StoreOptions::default(),
                writers: Mutex::new(HashSet::new()),
                failing: Mutex::new(HashMap::new()),
                lock: None,
            }),
        })
    }

    /// Whether this handle owns the data directory (the recorder) rather than being a client.
    pub fn is_owner(&self) -> bool {
        self.inner.lock.is_some()
    }

    /// Opens (creating if needed) the store in `root`, migrates its database, takes an
    /// exclusive lock on it (one recorder process per directory) and runs crash recovery,
    /// whose report it returns.
    pub fn open(root: &Path, options: StoreOptions) -> Result<(Store, RecoveryReport), Error> {
        use error::IoContext;
        std::fs::create_dir_all(root.join("streams")).io_ctx("create directory", root)?;
        let lock_path = root.join("store.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .io_ctx("open lock file", &lock_path)?;
        // SAFETY: flock on a valid, owned file descriptor.
        let rc = unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        };
        if rc != 0 {
            return Err(Error::Locked { path: lock_path });
        }
        let conn = db::open(&root.join(DB_FILE))?;
        let store = Store {
            inner: Arc::new(Inner {
                root: root.to_owned(),
                conn: Mutex::new(conn),
                options,
                writers: Mutex::new(HashSet::new()),
                failing: Mutex::new(HashMap::new()),
                lock: Some(lock),
            }),
        };
        let report = recovery::recover(&store)?;
        Ok((store, report))
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions
        // roll back on drop), so a poisoned lock is still usable.
        self.inner.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_failing(&self, stream: StreamId, error: Option<&Error>) {
        let mut f = self.inner.failing.lock().unwrap_or_else(|p| p.into_inner());
        match error {
            Some(e) => {
                f.insert(stream, (e.to_string(), e.is_disk_full()));
            }
            None => {
                f.remove(&stream);
            }
        }
    }

    pub(crate) fn failing(&self, stream: StreamId) -> Option<(String, bool)> {
        self.inner
            .failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&stream)
            .cloned()
    }

    /// Reads a server setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, Error> {
        use error::DbContext;
        use rusqlite::OptionalExtension;
        self.conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ctx(|| format!("reading setting {key}"))
    }

    /// Writes a server setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), Error> {
        use error::DbContext;
        self.conn()
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .ctx(|| format!("writing setting {key}"))?;
        Ok(())
    }
}
