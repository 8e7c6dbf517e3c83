//! Helpers shared by the binary's end-to-end tests: child processes that are always
//! cleaned up, free ports, external tools.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn vigil() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil"));
    c.env("VIGIL_LOG", "info");
    c
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A child process killed (SIGKILL) when dropped, unless already waited for.
pub struct Proc {
    pub child: Child,
    pub name: &'static str,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }
    /// SIGTERM, then wait up to `grace` before SIGKILL. Returns whether it exited in time.
    pub fn stop(mut self, grace: Duration) -> bool {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Fails the test (never skips) when a tool is missing.
pub fn require(tool: &str, arg: &str) {
    let ok = Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "{tool} is missing: run ./scripts/install-deps.sh");
}

/// Starts GStreamer's RTSP server (scripts/gst-rtsp-server.py) and waits for READY.
pub fn start_gst(port: u16, user: &str, pass: &str) -> Proc {
    require("/usr/bin/python3", "--version");
    let mut child = Command::new("/usr/bin/python3")
        .arg(repo_root().join("scripts/gst-rtsp-server.py"))
        .args([
            "--port",
            &port.to_string(),
            "--user",
            user,
            "--password",
            pass,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting scripts/gst-rtsp-server.py");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let first = lines.next();
    assert!(
        matches!(&first, Some(Ok(l)) if l.starts_with("READY")),
        "GStreamer RTSP server did not start ({first:?}): run ./scripts/install-deps.sh"
    );
    Proc {
        child,
        name: "gst-rtsp-server",
    }
}

/// `ffmpeg -v error -i FILE -f null -`: returns its error lines (empty = decodes cleanly).
pub fn ffmpeg_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg missing: run ./scripts/install-deps.sh");
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        s.push_str(&format!("\n(exit status {})", out.status));
    }
    s
}

/// ffprobe's `format=duration` in seconds.
pub fn ffprobe_duration(file: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .expect("ffprobe missing");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe gave no duration for {}", file.display()))
}

/// Runs `vigil ARGS`, asserting success; returns stdout.
pub fn vigil_ok(args: &[&str]) -> String {
    let out = vigil().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "vigil {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
