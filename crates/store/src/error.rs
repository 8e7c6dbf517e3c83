//! Errors of the store. Each says what failed, for which stream/camera/file, and where it
//! helps, what to do next.

use std::path::PathBuf;

use media::Ticks;

use crate::StreamId;

/// An error of a [`crate::Store`] operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error while {what}: {source}{hint}", hint = db_hint(source))]
    Db {
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot {what} {path}: {source}{hint}", hint = io_hint(source))]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the storage directory {path} is in use by another Vigil process; stop that process first"
    )]
    Locked { path: PathBuf },
    #[error(
        "no Vigil database at {path}: give the right data directory (--data-dir or the \
         config's data_dir), or add a camera first with `vigil camera add`"
    )]
    NoDatabase { path: PathBuf },
    #[error("only the recorder that owns the data directory may {what}; this is a client handle")]
    NotOwner { what: &'static str },
    #[error("the database {path} has schema version {found}, newer than this Vigil understands ({supported}); run a newer Vigil")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("camera {0} not found (it may have been removed)")]
    CameraNotFound(String),
    #[error("stream {0} not found")]
    StreamNotFound(StreamId),
    #[error("invalid camera settings: {0}")]
    InvalidCamera(String),
    #[error("invalid retention for stream {stream}: {reason}")]
    InvalidRetention { stream: StreamId, reason: String },
    #[error("invalid hold: {0}")]
    InvalidHold(String),
    #[error("hold {0} not found or already released")]
    HoldNotFound(i64),
    #[error("a writer for stream {0} is already open; close it before opening another")]
    WriterBusy(StreamId),
    #[error("segment {seq} of stream {stream} ({path}) has a corrupt index: {detail}; run `vigil verify` and restore the database from backup")]
    CorruptIndex {
        stream: StreamId,
        seq: i64,
        path: PathBuf,
        detail: String,
    },
    #[error("no recorded footage of stream {stream} between {start} and {end} (90 kHz ticks since the epoch)")]
    NoFootage {
        stream: StreamId,
        start: Ticks,
        end: Ticks,
    },
    #[error("stream {stream}: the camera's video parameters change at {at} (segment {seq}: {from} -> {to}); export the time before and after that instant separately")]
    ParamsChanged {
        stream: StreamId,
        at: Ticks,
        seq: i64,
        from: String,
        to: String,
    },
    #[error("building the MP4 for stream {stream}: {source}")]
    Media {
        stream: StreamId,
        #[source]
        source: media::Error,
    },
    #[error("source file {path} is shorter than the index says (needs {needed} bytes, has {has}); run `vigil verify`")]
    ShortSource {
        path: PathBuf,
        needed: u64,
        has: u64,
    },
}

fn db_hint(e: &rusqlite::Error) -> &'static str {
    if is_db_full(e) {
        " (the disk holding the database is full: free space or lower the storage quota)"
    } else {
        ""
    }
}

fn io_hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => " (the disk is full: lower the storage quota or free space)",
        Some(libc::EIO) => " (the disk reported an I/O error: check the disk's health)",
        Some(libc::EROFS) => " (the file system is read-only: check the disk and its mount)",
        Some(libc::EACCES) | Some(libc::EPERM) => {
            " (permission denied: check the storage directory's owner)"
        }
        _ => "",
    }
}

/// True when SQLite reports "database or disk is full".
pub(crate) fn is_db_full(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull)
}

impl Error {
    /// True when the error means the disk is full (file or database).
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Db { source, .. } => is_db_full(source),
            Error::Io { source, .. } => source.raw_os_error() == Some(libc::ENOSPC),
            _ => false,
        }
    }
}

/// Adds context to database results.
pub(crate) trait DbContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> DbContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|source| Error::Db {
            what: what(),
            source,
        })
    }
}

/// Adds context to I/O results.
pub(crate) trait IoContext<T> {
    fn io_ctx(self, what: &str, path: &std::path::Path) -> Result<T, Error>;
}

impl<T> IoContext<T> for Result<T, std::io::Error> {
    fn io_ctx(self, what: &str, path: &std::path::Path) -> Result<T, Error> {
        self.map_err(|source| Error::Io {
            what: what.to_owned(),
            path: path.to_owned(),
            source,
        })
    }
}

/// An error of [`crate::Writer::push`] and friends: the recorder logs it and goes on
/// pushing frames; the writer has already closed what it could and will retry by itself.
#[derive(Debug, thiserror::Error)]
#[error("recording stream {stream}: {source}")]
pub struct WriteError {
    pub stream: StreamId,
    #[source]
    pub source: Error,
}

impl WriteError {
    pub fn is_disk_full(&self) -> bool {
        self.source.is_disk_full()
    }
}
