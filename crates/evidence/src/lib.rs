//! # evidence — packages that prove themselves
//!
//! What this crate is for: turning an approved export request into an evidence package
//! (REQUIREMENTS R5) that anyone can check offline, and checking one.
//!
//! [`export`] writes `out_dir/<package>/`:
//! - one progressive MP4 per camera: the recorded stream remuxed from the index
//!   (`store.progressive`; the bytes [`store::Store::write_mp4`] would write), never
//!   re-encoded, written and hashed by a pipeline that bypasses the page cache where it
//!   can (`mp4out`);
//! - `manifest.json`: cameras, the exact time range, every source segment with its SHA-256,
//!   holes, the request (id, purpose, reason, requester, approver), the operator, the export
//!   time, the audit chain's head, each MP4's size and SHA-256, and how to check it all;
//! - `manifest.sig`: the recorder key's Ed25519 signature over the exact bytes of
//!   `manifest.json`, and `recorder-ed25519.pub.pem` (SPKI) to check it;
//! - `SHA256SUMS` (for `sha256sum -c`), `README.txt` (the offline check, in Vietnamese and
//!   English), and `custody.log`, an append-only log of what happened to the package
//!   (created, each download: [`append_custody`]).
//!
//! [`verify`] checks a package offline and says AUTHENTIC or exactly what is wrong. The same
//! checks need only two standard tools:
//! `sha256sum -c SHA256SUMS` and
//! `openssl pkeyutl -verify -pubin -inkey recorder-ed25519.pub.pem -rawin -in manifest.json -sigfile manifest.sig`.
//!
//! What it is not for: deciding who may export (that is `govern`), HTTP (`web`).

mod mp4out;
mod package;
mod verify;

pub use package::{
    append_custody, export, CameraFile, ExportSpec, Package, CUSTODY_FILE, MANIFEST_FILE,
    OPENSSL_COMMAND, PUBLIC_KEY_FILE, README_FILE, SHA256SUMS_COMMAND, SHA256SUMS_FILE,
    SIGNATURE_FILE,
};
pub use verify::{verify, verify_with_key, VerifyReport};

use std::path::PathBuf;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("camera {camera} ({name}): {source}")]
    Store {
        camera: i64,
        name: String,
        #[source]
        source: store::Error,
    },
    #[error("nothing was recorded by any of the cameras between {start} and {end}")]
    NoFootage { start: String, end: String },
    #[error("the export's time range is empty or reversed ({start} to {end})")]
    BadRange { start: String, end: String },
    #[error("the export names no camera")]
    NoCameras,
    /// A package takes closed, hashed segments only: the recorder is still writing the end
    /// of the range (`since`: where the open segment began, 90 kHz ticks). Retry once it
    /// closes (within a segment's length).
    #[error(
        "camera {camera} ({name}) is still recording the end of the range (the open segment \
         began at {}): try again once it closes, within a segment's length",
        media::time::format_ticks(*since)
    )]
    StillRecording {
        camera: i64,
        name: String,
        since: media::Ticks,
    },
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("the manifest cannot be written: {0}")]
    Json(#[from] serde_json::Error),
}

pub(crate) fn io_err(what: &str, path: &std::path::Path, e: std::io::Error) -> EvidenceError {
    EvidenceError::Io {
        what: what.to_string(),
        path: path.to_owned(),
        source: e,
    }
}
