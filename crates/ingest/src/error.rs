//! Why a camera session failed or ended.

use std::sync::Arc;
use std::time::Duration;

/// Why a camera session failed or ended. Carried by [`crate::Event::Disconnected`] and shown
/// (as text) in [`crate::StreamStats::last_error`].
///
/// Every variant names the camera and the URL *without* credentials, and says what to check.
/// Cloning is cheap (the strings are shared).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configured URL cannot be used.
    #[error("camera {camera}: unusable stream URL {url}: {detail}; fix the camera's URL in the configuration")]
    BadUrl {
        camera: Arc<str>,
        url: Arc<str>,
        detail: String,
    },

    /// The camera answered `401 Unauthorized` (no, or wrong, credentials).
    #[error("camera {camera}: authentication failed for {url} (RTSP 401 Unauthorized: {detail}); check the user name and password configured for this camera")]
    Auth {
        camera: Arc<str>,
        url: Arc<str>,
        detail: String,
    },

    /// Connecting, an RTSP request, or reading the stream failed.
    #[error("camera {camera}: {phase} failed for {url}: {detail}; check that the camera is on the network and its RTSP service answers")]
    Rtsp {
        camera: Arc<str>,
        url: Arc<str>,
        phase: &'static str,
        detail: String,
    },

    /// An RTSP request got no answer in time.
    #[error("camera {camera}: {phase} of {url} got no answer within {timeout:?}; check that the camera is reachable and not overloaded")]
    Timeout {
        camera: Arc<str>,
        url: Arc<str>,
        phase: &'static str,
        timeout: Duration,
    },

    /// The presentation has no video stream Vigil can record.
    #[error("camera {camera}: {url} offers no H.264 or H.265 video stream (streams: {found}); set the camera's encoder to H.264 or H.265")]
    NoVideo {
        camera: Arc<str>,
        url: Arc<str>,
        found: String,
    },

    /// The camera's stream parameters could not be turned into an MP4 sample entry.
    #[error("camera {camera}: unusable video parameters from {url}: {detail}; try another encoder profile on the camera")]
    Params {
        camera: Arc<str>,
        url: Arc<str>,
        detail: String,
    },

    /// No frame arrived for the stall timeout: the session is dropped and reconnected.
    #[error("camera {camera}: no video frame from {url} for {timeout:?} (stall); reconnecting")]
    Stall {
        camera: Arc<str>,
        url: Arc<str>,
        timeout: Duration,
    },

    /// The camera ended the stream.
    #[error("camera {camera}: {url} ended the stream; reconnecting")]
    EndOfStream { camera: Arc<str>, url: Arc<str> },

    /// The stream was stopped through its handle.
    #[error("camera {camera}: stream stopped")]
    Stopped { camera: Arc<str> },
}

impl Error {
    /// True when the camera rejected the credentials (retrying with the same ones won't help
    /// until someone fixes the configuration, but cameras sometimes reject transiently, so
    /// the supervisor keeps retrying with backoff).
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth { .. })
    }

    /// True for [`Error::Stall`].
    pub fn is_stall(&self) -> bool {
        matches!(self, Error::Stall { .. })
    }
}

/// Turns a retina error into ours, recognising authentication failures.
pub(crate) fn from_retina(
    camera: &Arc<str>,
    url: &Arc<str>,
    phase: &'static str,
    e: &retina::Error,
) -> Error {
    // retina's messages carry connection context on following lines; one line reads better
    // in logs and on the status page.
    let detail = one_line(&e.to_string());
    if e.status_code() == Some(401) {
        Error::Auth {
            camera: camera.clone(),
            url: url.clone(),
            detail,
        }
    } else {
        Error::Rtsp {
            camera: camera.clone(),
            url: url.clone(),
            phase,
            detail,
        }
    }
}

fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for part in s.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_context() {
        assert_eq!(
            one_line("a: b\n\nconn: x\nmsg: y\n"),
            "a: b; conn: x; msg: y"
        );
    }

    #[test]
    fn messages_name_camera_and_action() {
        let e = Error::Auth {
            camera: "gate".into(),
            url: "rtsp://10.0.0.5/main".into(),
            detail: "Received Unauthorized".into(),
        };
        let s = e.to_string();
        assert!(
            s.contains("gate") && s.contains("401") && s.contains("password"),
            "{s}"
        );
        assert!(e.is_auth());
    }
}
