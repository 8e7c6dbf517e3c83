//! The server's configuration file (TOML). Cameras are not here: they live in the database
//! and are managed with `vigil camera …` (and later the web UI).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// `vigil.toml`. Every field has a default, so an empty file (or none) is a valid config.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database (`vigil.db`) and the segment files (`streams/`) live.
    pub data_dir: PathBuf,
    /// Target segment length in seconds (cut at the first key frame after it).
    pub segment_seconds: u32,
    /// Seconds without a frame after which a camera session is dropped and reconnected.
    pub stall_timeout_seconds: u32,
    /// Local time zone as minutes east of UTC, for recording schedules (Vietnam: 420).
    pub utc_offset_minutes: i32,
    /// How often retention runs, in seconds.
    pub retention_interval_seconds: u32,
    /// Longest fragment in milliseconds. Fragments normally follow the writer's batches
    /// (`write_interval_ms`) and end at key frames; this caps them when frames queue up
    /// (and for B-frame streams, which are written per GOP).
    pub fragment_ms: u32,
    /// fdatasync the open segment at most this often (milliseconds of video), bounding
    /// what a power cut can take; 0 after every fragment; negative only at segment close.
    /// Each sync costs CPU and rewrites the file's last partial page (BENCHMARKS.md):
    /// 10 s keeps both small. A `kill -9` is not a power cut: the page cache survives it.
    pub sync_interval_ms: i64,
    /// Threads that write segments (each serves a share of the streams).
    pub writer_threads: u32,
    /// How often the writer threads hand queued frames to the files, in milliseconds: a
    /// crash of the recorder loses at most this much video plus one frame.
    pub write_interval_ms: u32,
    /// Total bytes of footage Vigil may keep (0: what it has plus the disk's free space,
    /// less a reserve of 2 % of the filesystem, at least 1 GiB). Enforced with the
    /// per-stream plans at every retention run, oldest footage of any stream first.
    pub storage_bytes: u64,
    /// Where the web UI listens, e.g. `127.0.0.1:8443` or `0.0.0.0:443`; empty: no web UI.
    pub web_listen: String,
    /// `self-signed` (a certificate generated on first run in `DATA/tls/`), `files`
    /// (`web_cert` + `web_key`, PEM) or `off` (plain HTTP: only on 127.0.0.1 or behind a
    /// TLS proxy).
    pub web_tls: WebTls,
    /// PEM certificate chain for `web_tls = "files"`.
    pub web_cert: Option<PathBuf>,
    /// PEM private key for `web_tls = "files"`.
    pub web_key: Option<PathBuf>,
    /// Minutes without activity after which a web session ends.
    pub idle_timeout_minutes: u32,
    /// Where evidence packages are written: an absolute path, or a path relative to
    /// `data_dir`; unset: `DATA/exports`. A directory on another device than the recordings
    /// (a USB drive, an export volume) keeps the export's writes off the disk its footage is
    /// read from, which otherwise both share (BENCHMARKS.md has what that is worth on the
    /// test VM, and why). `vigil serve` creates it if missing and logs an
    /// error saying what to do when it cannot write there (recording goes on; exports fail
    /// with that reason until it is fixed); a drive meant to be mounted there must be mounted
    /// before the recorder starts (an unmounted mount point is just a directory of the
    /// system disk).
    pub export_dir: Option<PathBuf>,
}

/// How the web UI speaks TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebTls {
    #[default]
    SelfSigned,
    Files,
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("vigil-data"),
            segment_seconds: 60,
            stall_timeout_seconds: 10,
            utc_offset_minutes: 7 * 60,
            retention_interval_seconds: 60,
            fragment_ms: 4000,
            sync_interval_ms: 10_000,
            writer_threads: 2,
            write_interval_ms: 250,
            storage_bytes: 0,
            web_listen: "127.0.0.1:8443".into(),
            web_tls: WebTls::SelfSigned,
            web_cert: None,
            web_key: None,
            idle_timeout_minutes: 30,
            export_dir: None,
        }
    }
}

impl Config {
    /// Loads `path`; a missing file gives the defaults (so `vigil serve` works out of the box).
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                anyhow::bail!(
                    "config file {} does not exist: create it (an empty file means all defaults) \
                     or leave out --config",
                    path.display()
                )
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let cfg: Config = toml::from_str(&text).with_context(|| {
            format!(
                "config file {} is not valid: fix the line named above (see README for the fields)",
                path.display()
            )
        })?;
        cfg.validate()
            .with_context(|| format!("config file {}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            (5..=600).contains(&self.segment_seconds),
            "segment_seconds = {} is out of range: use 5..=600 (60 recommended)",
            self.segment_seconds
        );
        anyhow::ensure!(
            (2..=300).contains(&self.stall_timeout_seconds),
            "stall_timeout_seconds = {} is out of range: use 2..=300",
            self.stall_timeout_seconds
        );
        anyhow::ensure!(
            (-14 * 60..=14 * 60).contains(&self.utc_offset_minutes),
            "utc_offset_minutes = {} is not a time zone: use e.g. 420 for Vietnam (UTC+7)",
            self.utc_offset_minutes
        );
        anyhow::ensure!(
            (1..=64).contains(&self.writer_threads),
            "writer_threads = {} is out of range: use 1..=64 (2 is plenty for 100 cameras)",
            self.writer_threads
        );
        anyhow::ensure!(
            (10..=5_000).contains(&self.write_interval_ms),
            "write_interval_ms = {} is out of range: use 10..=5000",
            self.write_interval_ms
        );
        anyhow::ensure!(
            self.retention_interval_seconds >= 1,
            "retention_interval_seconds must be at least 1"
        );
        if !self.web_listen.is_empty() {
            self.web_listen
                .parse::<std::net::SocketAddr>()
                .map_err(|_| {
                    anyhow::anyhow!(
                        "web_listen = {:?} is not an address: use IP:PORT, e.g. \"127.0.0.1:8443\" \
                         (or \"\" for no web UI)",
                        self.web_listen
                    )
                })?;
        }
        anyhow::ensure!(
            self.web_tls != WebTls::Files || (self.web_cert.is_some() && self.web_key.is_some()),
            "web_tls = \"files\" needs web_cert and web_key (PEM files)"
        );
        anyhow::ensure!(
            (1..=720).contains(&self.idle_timeout_minutes),
            "idle_timeout_minutes = {} is out of range: use 1..=720 (30 recommended)",
            self.idle_timeout_minutes
        );
        anyhow::ensure!(
            self.export_dir
                .as_ref()
                .is_none_or(|d| !d.as_os_str().is_empty()),
            "export_dir = \"\" names no directory: leave it out (packages go to DATA/exports) \
             or give a directory, e.g. \"/mnt/export\""
        );
        Ok(())
    }

    /// The directory evidence packages are written into: `export_dir` (relative paths
    /// under `data_dir`), or `DATA/exports`.
    pub fn export_dir(&self) -> PathBuf {
        match &self.export_dir {
            Some(d) => self.data_dir.join(d), // an absolute `d` replaces `data_dir`
            None => self.data_dir.join("exports"),
        }
    }

    /// Creates the export directory if missing and checks that a file can be written
    /// there (`vigil serve` logs the error at start, so IT sees it before the first export;
    /// recording goes on); returns it. Logs when it shares a filesystem with the recordings.
    pub fn prepare_export_dir(&self) -> Result<PathBuf> {
        let dir = self.export_dir();
        std::fs::create_dir_all(&dir).with_context(|| {
            format!(
                "export_dir {} cannot be created: create it (or mount the export drive there) \
                 and let the user running vigil write to it, or set export_dir in the config \
                 file to a writable directory (leave it out for DATA/exports)",
                dir.display()
            )
        })?;
        let probe = dir.join(format!(".vigil-write-check-{}", std::process::id()));
        let written = std::fs::write(&probe, b"vigil");
        let _ = std::fs::remove_file(&probe);
        written.with_context(|| {
            format!(
                "export_dir {} is not writable: let the user running vigil write to it (e.g. \
                 chown), mount the export drive read-write, or set export_dir in the config \
                 file to a writable directory (leave it out for DATA/exports)",
                dir.display()
            )
        })?;
        {
            use std::os::unix::fs::MetadataExt;
            let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
            let same = dev(&dir).is_some() && dev(&dir) == dev(&self.data_dir);
            if same {
                tracing::info!(
                    export_dir = %dir.display(),
                    "evidence exports go to the disk that holds the recordings: an export's \
                     reads and writes share its bandwidth (export_dir can name another drive)"
                );
            } else {
                tracing::info!(export_dir = %dir.display(), "evidence exports go to another filesystem");
            }
        }
        Ok(dir)
    }

    /// The web server's settings, or `None` when `web_listen` is empty.
    pub fn web_config(&self) -> Option<web::WebConfig> {
        let listen = self.web_listen.parse().ok()?;
        let tls = match self.web_tls {
            WebTls::Off => web::TlsMode::Off,
            WebTls::SelfSigned => web::TlsMode::SelfSigned,
            WebTls::Files => web::TlsMode::Files {
                cert: self.web_cert.clone()?,
                key: self.web_key.clone()?,
            },
        };
        Some(web::WebConfig {
            listen,
            tls,
            data_dir: self.data_dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_defaults() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.segment_seconds, 60);
        assert_eq!(c.utc_offset_minutes, 420);
    }

    #[test]
    fn unknown_field_is_an_error() {
        assert!(toml::from_str::<Config>("segment_secs = 5").is_err());
    }

    #[test]
    fn web_fields() {
        let c: Config = toml::from_str(
            "web_listen = \"0.0.0.0:443\"\nweb_tls = \"files\"\nweb_cert = \"c.pem\"\nweb_key = \"k.pem\"",
        )
        .unwrap();
        c.validate().unwrap();
        assert!(matches!(
            c.web_config().unwrap().tls,
            web::TlsMode::Files { .. }
        ));
        let c: Config = toml::from_str("web_tls = \"files\"").unwrap();
        assert!(c.validate().is_err());
        let c: Config = toml::from_str("web_listen = \"\"\nweb_tls = \"off\"").unwrap();
        c.validate().unwrap();
        assert!(c.web_config().is_none());
        let c: Config = toml::from_str("web_listen = \"localhost\"").unwrap();
        assert!(c.validate().is_err());
        assert_eq!(Config::default().web_tls, WebTls::SelfSigned);
    }

    #[test]
    fn out_of_range_is_explained() {
        let c = Config {
            segment_seconds: 1,
            ..Config::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("segment_seconds"), "{e}");
    }

    #[test]
    fn export_dir_defaults_resolves_and_is_checked_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let with = |toml_text: &str| {
            let mut c: Config = toml::from_str(toml_text).unwrap();
            c.data_dir = data.clone();
            c
        };
        // Unset: DATA/exports, as before the key existed.
        let c = with("");
        c.validate().unwrap();
        assert_eq!(c.export_dir(), data.join("exports"));
        // Relative: under data_dir; created (with its parents) and left empty.
        let c = with("export_dir = \"out/packages\"");
        c.validate().unwrap();
        assert_eq!(c.export_dir(), data.join("out/packages"));
        assert_eq!(c.prepare_export_dir().unwrap(), data.join("out/packages"));
        assert!(data.join("out/packages").is_dir());
        assert_eq!(
            std::fs::read_dir(data.join("out/packages"))
                .unwrap()
                .count(),
            0,
            "the write check leaves nothing behind"
        );
        // Absolute: used as it is (another device in real use).
        let usb = tmp.path().join("usb").join("vigil-exports");
        let c = with(&format!("export_dir = {:?}", usb.to_str().unwrap()));
        c.validate().unwrap();
        assert_eq!(c.export_dir(), usb);
        assert_eq!(c.prepare_export_dir().unwrap(), usb);
        assert!(usb.is_dir());
        // Empty: refused by validation, saying what to do.
        let e = with("export_dir = \"\"")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("export_dir") && e.contains("leave it out"),
            "{e}"
        );
        // Not creatable (a file is in the way; refused for root too): `vigil serve` would
        // log this message.
        std::fs::write(tmp.path().join("file"), b"x").unwrap();
        let c = with(&format!(
            "export_dir = {:?}",
            tmp.path().join("file/exports").to_str().unwrap()
        ));
        c.validate().unwrap();
        let e = format!("{:#}", c.prepare_export_dir().unwrap_err());
        assert!(
            e.contains("export_dir") && e.contains("file/exports") && e.contains("writable"),
            "{e}"
        );
        // Present but not writable (procfs refuses new files, to root too): the write
        // check catches it.
        let e = format!(
            "{:#}",
            with("export_dir = \"/proc\"")
                .prepare_export_dir()
                .unwrap_err()
        );
        assert!(e.contains("/proc is not writable"), "{e}");
    }
}
