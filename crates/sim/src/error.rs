//! The simulator's error type: what failed, for which camera or file, and what to do.

use std::path::PathBuf;

/// Errors of starting, configuring or commanding the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listening socket could not be opened.
    #[error("cannot listen for {what} on {addr}: {source} (is the port already in use? use port 0 to pick a free one)")]
    Bind {
        what: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The named camera is not simulated.
    #[error(
        "no simulated camera named {0:?} (see `GET /cameras` or the configuration for the names)"
    )]
    UnknownCamera(String),
    /// The fault cannot be applied to this kind of source.
    #[error("camera {camera:?}: fault {fault} is not supported for {source_kind} sources (picture faults need a live source)")]
    UnsupportedFault {
        camera: String,
        fault: String,
        source_kind: &'static str,
    },
    /// A fault schedule or fault name could not be parsed.
    #[error("cannot parse fault spec {spec:?}: {detail} (expected e.g. `cam2:stall@30s+10s,cam1:black@60s+20s`)")]
    FaultSpec { spec: String, detail: String },
    /// The H.264 encoder failed.
    #[error("camera {camera:?}: openh264 encoder failed: {detail}")]
    Encoder { camera: String, detail: String },
    /// A source file could not be read or holds no usable video.
    #[error("cannot use video file {path}: {detail}")]
    File { path: PathBuf, detail: String },
    /// The loop cache could not be read or written.
    #[error("loop cache {path}: {source} (check that the cache directory is writable, or pass another one)")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}
