//! What one camera stream session needs to know: where, who, and how patient to be.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::Error;

/// User name and password for the camera's RTSP service (Basic or Digest; retina picks what
/// the camera asks for). `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Reconnect schedule: `base × 2ⁿ`, capped at `max`, each delay scaled by a random factor in
/// `1 ± jitter`; the exponent starts over after a session that delivered frames for at least
/// `reset_after`.
#[derive(Clone, Debug, PartialEq)]
pub struct BackoffConfig {
    pub base: Duration,
    pub max: Duration,
    /// Relative jitter, 0.2 = ±20 %.
    pub jitter: f64,
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
            jitter: 0.2,
            reset_after: Duration::from_secs(30),
        }
    }
}

/// Configuration of one camera stream (one RTSP URL).
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// A short name used in logs, errors and stats, e.g. `gate/main`.
    pub name: String,
    /// `rtsp://[user:pass@]host[:port]/path`. Credentials in the URL are taken out before
    /// connecting and never logged.
    pub url: Url,
    /// Credentials; when set they take precedence over any in the URL.
    pub credentials: Option<Credentials>,
    /// No frame for this long drops the session and reconnects (retina alone notices a dead
    /// TCP peer only much later). Default 10 s.
    pub stall_timeout: Duration,
    /// Each of DESCRIBE, SETUP and PLAY (including the TCP connect) must answer within this.
    /// Default 10 s.
    pub request_timeout: Duration,
    /// When the smoothed drift between the camera's RTP clock and our wall clock exceeds
    /// this, frame times are re-anchored to the receive time. Default 1 s.
    pub max_drift: Duration,
    /// An RTP timestamp step that disagrees with the receive clock by more than this (or goes
    /// backwards by more than this) is a camera clock jump: re-anchor. Default 3 s.
    pub max_jump: Duration,
    pub backoff: BackoffConfig,
    /// Capacity of the live frame bus ([`crate::StreamHandle::subscribe`]), in frames.
    /// Default 64 (about 2 s at 30 fps).
    pub bus_capacity: usize,
}

impl StreamConfig {
    /// A configuration with the defaults described on each field.
    pub fn new(name: impl Into<String>, url: Url) -> Self {
        StreamConfig {
            name: name.into(),
            url,
            credentials: None,
            stall_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            max_drift: Duration::from_secs(1),
            max_jump: Duration::from_secs(3),
            backoff: BackoffConfig::default(),
            bus_capacity: 64,
        }
    }
}

/// `url` with any user name and password removed: the only form of a camera URL that may be
/// logged, shown or stored in an error.
pub fn redact_url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut u = url.clone();
    // These only fail for URLs that cannot have credentials, which then have none.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// The connection target derived from a [`StreamConfig`]: URL without userinfo, the
/// credentials to hand retina, and the redacted URL for messages.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub camera: Arc<str>,
    pub url: Url,
    pub redacted: Arc<str>,
    pub creds: Option<retina::client::Credentials>,
}

impl Target {
    pub(crate) fn from_config(cfg: &StreamConfig) -> Result<Target, Error> {
        let camera: Arc<str> = cfg.name.as_str().into();
        let redacted: Arc<str> = redact_url(&cfg.url).into();
        let bad = |detail: String| Error::BadUrl {
            camera: camera.clone(),
            url: redacted.clone(),
            detail,
        };
        if cfg.url.scheme() != "rtsp" {
            return Err(bad(format!(
                "scheme is {:?}, expected \"rtsp\"",
                cfg.url.scheme()
            )));
        }
        if cfg.url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host".into()));
        }
        let from_url = if cfg.url.username().is_empty() {
            None
        } else {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| bad("user name or password is not valid UTF-8".into()))
            };
            Some(Credentials {
                username: decode(cfg.url.username())?,
                password: decode(cfg.url.password().unwrap_or(""))?,
            })
        };
        let creds = cfg
            .credentials
            .clone()
            .or(from_url)
            .map(|c| retina::client::Credentials {
                username: c.username,
                password: c.password,
            });
        let mut url = cfg.url.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(Target {
            camera,
            url,
            redacted,
            creds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> StreamConfig {
        StreamConfig::new("cam", Url::parse(url).unwrap())
    }

    #[test]
    fn userinfo_is_moved_to_credentials_and_redacted() {
        let t = Target::from_config(&cfg("rtsp://ad%40min:p%3Ass@10.0.0.5:554/main?x=1")).unwrap();
        assert_eq!(t.url.as_str(), "rtsp://10.0.0.5:554/main?x=1");
        assert_eq!(&*t.redacted, "rtsp://10.0.0.5:554/main?x=1");
        let c = t.creds.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("ad@min", "p:ss")
        );
    }

    #[test]
    fn explicit_credentials_win() {
        let mut c = cfg("rtsp://u:p@cam/main");
        c.credentials = Some(Credentials {
            username: "x".into(),
            password: "y".into(),
        });
        let t = Target::from_config(&c).unwrap();
        assert_eq!(t.creds.unwrap().username, "x");
        assert!(!format!("{:?}", c.credentials).contains('y'));
    }

    #[test]
    fn no_credentials_and_bad_scheme() {
        let t = Target::from_config(&cfg("rtsp://cam/main")).unwrap();
        assert!(t.creds.is_none());
        let e = Target::from_config(&cfg("http://u:secret@cam/main")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("scheme") && !s.contains("secret"), "{s}");
    }

    #[test]
    fn redact_keeps_everything_but_userinfo() {
        let u = Url::parse("rtsp://admin:hunter2@192.168.1.9/Streaming/101").unwrap();
        assert_eq!(redact_url(&u), "rtsp://192.168.1.9/Streaming/101");
    }
}
