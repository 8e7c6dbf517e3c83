//! The browser tests' harness: `vigil demo` as a child process (its machine-readable
//! stdout lines parsed), chromedriver in its own process group (so the Chromium it starts
//! dies with it), a WebDriver session in headless Debian Chromium, and small helpers that
//! poll the page with a bound on every wait. Diagnostics (the demo's log, the browser's
//! console) are printed when a test panics.

// Shared by several test binaries, each using a part.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::{free_port, require, vigil, Proc};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "chromedriver";
/// The control-room screen the screenshots are taken at.
pub const SCREEN: (u32, u32) = (1920, 1080);
/// The longest any single WebDriver command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the helpers poll the page.
pub const POLL: Duration = Duration::from_millis(500);

/// Fails (never skips) when Chromium or chromedriver is missing.
pub fn require_browser() {
    require(CHROMIUM, "--version");
    require(CHROMEDRIVER, "--version");
}

/// Bounds one WebDriver command (or any future) and turns its error into a panic message.
pub async fn bounded<T, E: std::fmt::Debug>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(COMMAND_TIMEOUT, f).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: {e:?}"),
        Err(_) => panic!("{what}: no answer within {COMMAND_TIMEOUT:?}"),
    }
}

/// The last `n` lines of a text file (best effort; for diagnostics).
fn tail(path: &Path, n: usize, filter: impl Fn(&str) -> bool) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let lines: Vec<&str> = s.lines().filter(|l| filter(l)).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A running `vigil demo`: the web UI's base URL, the simulator's control URL and the
/// logins it printed, by role.
pub struct Demo {
    proc: Option<Proc>,
    data: PathBuf,
    pub web: String,
    pub sim_control: String,
    logins: HashMap<String, (String, String)>,
    log: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Demo {
    /// Starts `vigil demo --cameras N --source SOURCE` on free ports in a fresh data
    /// directory and waits (bounded) for its WEB, SIMCONTROL and four LOGIN lines.
    pub fn start(cameras: usize, source: &str) -> Demo {
        Demo::start_with(cameras, source, &[])
    }

    /// [`Demo::start`] with more `vigil demo` arguments.
    pub fn start_with(cameras: usize, source: &str, extra: &[&str]) -> Demo {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let log = dir.path().join("demo.log");
        let mut child = vigil()
            .args(["demo", "--data-dir"])
            .arg(&data)
            .args(["--web-port", "0", "--port", "0"])
            .args(["--cameras", &cameras.to_string(), "--source", source])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("demo log file"))
            .spawn()
            .expect("starting vigil demo");
        let out = child.stdout.take().expect("demo stdout");
        let (tx, rx) = mpsc::channel::<String>();
        // Reads until EOF (the process's end), so the pipe never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    // Nobody listens any more: keep draining.
                }
            }
        });
        let mut demo = Demo {
            proc: Some(Proc {
                child,
                name: "vigil demo",
            }),
            data,
            web: String::new(),
            sim_control: String::new(),
            logins: HashMap::new(),
            log,
            dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        while demo.web.is_empty() || demo.sim_control.is_empty() || demo.logins.len() < 4 {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(e) => panic!(
                    "vigil demo did not print its WEB, SIMCONTROL and 4 LOGIN lines ({e}); \
                     stdout so far:\n{}",
                    seen.join("\n")
                ),
            };
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some("WEB"), Some(url), None, None) => {
                    demo.web = url.trim_end_matches('/').to_string()
                }
                (Some("SIMCONTROL"), Some(url), None, None) => {
                    demo.sim_control = url.trim_end_matches('/').to_string()
                }
                (Some("LOGIN"), Some(role), Some(user), Some(pass)) => {
                    demo.logins
                        .insert(role.to_string(), (user.to_string(), pass.to_string()));
                }
                _ => {}
            }
            seen.push(line);
        }
        for role in ["administrator", "leadership", "guard", "viewer"] {
            assert!(
                demo.logins.contains_key(role),
                "vigil demo printed no LOGIN line for the role {role}: {:?}",
                demo.logins.keys()
            );
        }
        demo
    }

    /// (username, password) of the demo's account with this role.
    pub fn login(&self, role: &str) -> (String, String) {
        self.logins
            .get(role)
            .cloned()
            .unwrap_or_else(|| panic!("no demo login for {role}"))
    }

    /// The name the UI (and the video watermark) shows for `username`, from
    /// `vigil user list --json` on the demo's database.
    pub fn display_name(&self, username: &str) -> String {
        self.user_field(username, "display_name")
            .as_str()
            .unwrap_or_else(|| panic!("no display name for {username}"))
            .to_string()
    }

    /// One field of `username`'s entry in `vigil user list --json`.
    fn user_field(&self, username: &str, field: &str) -> Value {
        let out = vigil()
            .args(["user", "list", "--json", "-d"])
            .arg(&self.data)
            .stdin(Stdio::null())
            .output()
            .expect("vigil user list");
        assert!(
            out.status.success(),
            "vigil user list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let users: Value = serde_json::from_slice(&out.stdout).expect("vigil user list --json");
        users
            .as_array()
            .into_iter()
            .flatten()
            .find(|u| u["username"] == username)
            .map(|u| u[field].clone())
            .unwrap_or_else(|| panic!("no user {username} in {users}"))
    }

    /// The demo's data directory (its `vigil.db`, packages, keys).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The id of the demo's user `username`, from `vigil user list --json`.
    pub fn user_id(&self, username: &str) -> i64 {
        self.user_field(username, "id")
            .as_i64()
            .unwrap_or_else(|| panic!("no numeric id for {username}"))
    }

    /// `POST {SIMCONTROL}/fault/<camera>/<kind>?secs=N` (the simulator's fault control).
    pub fn fault(&self, camera: &str, kind: &str, secs: u32) {
        let path = format!("/fault/{camera}/{kind}?secs={secs}");
        let (status, body) = http_post(&self.sim_control, &path);
        assert_eq!(status, 200, "POST {path} to the simulator: {status} {body}");
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- vigil demo's log (last lines) ----\n{}\n----",
                tail(&self.log, 60, |_| true)
            );
        }
        // The process goes before its data directory.
        if let Some(p) = self.proc.take() {
            p.stop(Duration::from_secs(5));
        }
        self.dir.take();
    }
}

/// A minimal HTTP/1.1 POST with an empty body to `http://host:port` (127.0.0.1 only);
/// returns the status code and body. Bounded by socket timeouts.
pub fn http_post(base: &str, path: &str) -> (u16, String) {
    let host = base
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {base}"));
    let mut s = std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("{base}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = Vec::new();
    // Bounded: the server closes the connection; the read timeout caps a silent one.
    let _ = s.take(1 << 20).read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// chromedriver (own process group: killing the group also ends the Chromium it started)
/// with a WebDriver session in headless Chromium at 1920×1080.
pub struct Browser {
    client: Option<Client>,
    driver: Option<Child>,
    log: PathBuf,
    dir: Option<tempfile::TempDir>,
}

impl Browser {
    pub async fn open() -> Browser {
        Browser::open_with(None).await
    }

    /// Like [`Browser::open`]; with `downloads`, files the pages download are saved
    /// there without asking.
    pub async fn open_with(downloads: Option<&Path>) -> Browser {
        require_browser();
        let dir = tempfile::tempdir().expect("temp dir");
        let profile = dir.path().join("profile");
        std::fs::create_dir_all(&profile).unwrap();
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let log_file = File::create(&log).unwrap();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // Chromium's own output (console messages with --enable-logging) into the log.
            .arg("--enable-chrome-logs")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .expect("starting chromedriver");
        let mut b = Browser {
            client: None,
            driver: Some(driver),
            log,
            dir: Some(dir),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--window-size={},{}", SCREEN.0, SCREEN.1),
            "--lang=vi",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let mut options = json!({
            "binary": CHROMIUM,
            "args": args,
        });
        if let Some(d) = downloads {
            options["prefs"] = json!({
                "download.default_directory": d.to_string_lossy(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            });
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = bounded(
            "starting a Chromium session",
            ClientBuilder::new(conn)
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await;
        bounded("window size", client.set_window_size(SCREEN.0, SCREEN.1)).await;
        // Headless Chromium still counts a (hidden) toolbar in the window's size: grow the
        // window by it so the page itself — and every screenshot — is exactly the screen.
        let extra = bounded(
            "viewport size",
            client.execute(
                "return [outerWidth - innerWidth, outerHeight - innerHeight];",
                vec![],
            ),
        )
        .await;
        let dw = extra[0].as_u64().unwrap_or(0) as u32;
        let dh = extra[1].as_u64().unwrap_or(0) as u32;
        if dw > 0 || dh > 0 {
            bounded(
                "window size",
                client.set_window_size(SCREEN.0 + dw, SCREEN.1 + dh),
            )
            .await;
        }
        b.client = Some(client);
        b
    }

    pub fn c(&self) -> &Client {
        self.client.as_ref().expect("browser session")
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), c.close()).await;
        }
    }

    /// The browser's console lines so far (Chromium logs them to chromedriver's output).
    pub fn console(&self) -> String {
        tail(&self.log, 40, |l| {
            l.contains("CONSOLE") || l.contains(":ERROR:")
        })
    }

    // ---- page helpers ----

    pub async fn goto(&self, url: &str) {
        bounded(&format!("goto {url}"), self.c().goto(url)).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        bounded(&format!("script {script}"), self.c().execute(script, args)).await
    }

    /// Polls `script` every [`POLL`] until it returns something truthy (not null, false,
    /// 0, "" or []), or panics after `within` with `what` and the last value.
    pub async fn wait_js(&self, what: &str, within: Duration, script: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.js(script, vec![]).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(_) => true,
                Value::Bool(true) => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{what}: not so within {within:?} (last value {v}); page {}",
                    self.url().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (bounded) for an element matching `css`.
    pub async fn wait_css(&self, css: &str, within: Duration) {
        let script = format!("return !!document.querySelector({css:?});", css = css);
        self.wait_js(&format!("waiting for {css}"), within, &script)
            .await;
    }

    pub async fn count(&self, css: &str) -> usize {
        let script = format!("return document.querySelectorAll({css:?}).length;");
        self.js(&script, vec![]).await.as_u64().unwrap_or(0) as usize
    }

    pub async fn click(&self, css: &str) {
        let el = bounded(&format!("find {css}"), self.c().find(Locator::Css(css))).await;
        bounded(&format!("click {css}"), el.click()).await;
    }

    /// A real double click (WebDriver pointer actions) on the element matching `css`.
    pub async fn double_click(&self, css: &str) {
        let el = bounded(&format!("find {css}"), self.c().find(Locator::Css(css))).await;
        let mouse = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: el,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        bounded(
            &format!("double click {css}"),
            self.c().perform_actions(mouse),
        )
        .await;
        let _ = self.c().release_actions().await;
    }

    /// Presses and releases a key (e.g. `'\u{e00c}'`, Escape) on the focused element.
    pub async fn press(&self, key: char) {
        let kb = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        bounded("key press", self.c().perform_actions(kb)).await;
        let _ = self.c().release_actions().await;
    }

    pub async fn url(&self) -> String {
        match tokio::time::timeout(Duration::from_secs(5), self.c().current_url()).await {
            Ok(Ok(u)) => u.to_string(),
            _ => "(unknown)".into(),
        }
    }

    /// Logs in through `form#login` and waits until the browser has left the login page;
    /// a `.error` on the page fails the test with its text.
    pub async fn login(&self, web: &str, user: &str, pass: &str) {
        self.goto(&format!("{web}/login")).await;
        self.wait_css("form#login", Duration::from_secs(15)).await;
        let set = |name: &str, value: &str| {
            let name = name.to_string();
            let value = value.to_string();
            async move {
                let el = bounded(
                    &format!("find input[name={name}]"),
                    self.c()
                        .find(Locator::Css(&format!("form#login input[name={name}]"))),
                )
                .await;
                bounded("clear", el.clear()).await;
                bounded("type", el.send_keys(&value)).await;
            }
        };
        set("username", user).await;
        set("password", pass).await;
        self.click("form#login button[type=submit]").await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self
                .js(
                    "const e = document.querySelector('.error');\
                     return { path: location.pathname, login: !!document.querySelector('form#login'),\
                              error: e ? e.textContent.trim() : null };",
                    vec![],
                )
                .await;
            let path = v["path"].as_str().unwrap_or("");
            if let Some(e) = v["error"].as_str() {
                if !e.is_empty() {
                    panic!("logging in as {user} failed: {e}");
                }
            }
            if path != "/login" && path != "/setup" && !v["login"].as_bool().unwrap_or(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "logging in as {user}: still on {path} after 20 s"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A PNG of the viewport saved to `path`; checks it is a PNG of the screen's size.
    pub async fn screenshot(&self, path: &Path) {
        let png = bounded("screenshot", self.c().screenshot()).await;
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 24,
            "the screenshot is not a PNG"
        );
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!(
            (w, h),
            SCREEN,
            "the screenshot for {} is {w}×{h}, not the control-room screen",
            path.display()
        );
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- browser console / errors (last lines) ----\n{}\n----",
                self.console()
            );
        }
        // Dropping the client without close() leaves Chromium running: the process group
        // kill below ends chromedriver and every Chromium process it started.
        self.client.take();
        if let Some(mut d) = self.driver.take() {
            // SAFETY: kill(2) on the process group we created for our own child.
            unsafe {
                libc::kill(-(d.id() as i32), libc::SIGKILL);
            }
            let _ = d.kill();
            let _ = d.wait();
        }
        self.dir.take();
    }
}

/// A two-thread runtime for a browser test (the machine has two cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Where screenshots go: `target/screenshots`, or `docs/screenshots` (the committed
/// ones) when `VIGIL_UPDATE_SCREENSHOTS=1`, so that a test run leaves the tree clean.
pub fn screenshots_dir() -> PathBuf {
    let dir = if std::env::var_os("VIGIL_UPDATE_SCREENSHOTS").is_some() {
        crate::common::repo_root().join("docs/screenshots")
    } else {
        crate::common::repo_root().join("target/screenshots")
    };
    std::fs::create_dir_all(&dir).expect("creating the screenshots directory");
    dir
}

/// Today's date (YYYY-MM-DD) in the local time zone, as the playback page's `day` expects.
pub fn today_local() -> String {
    // SAFETY: time/localtime_r write into the locals we pass.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        format!(
            "{:04}-{:02}-{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday
        )
    }
}

/// A JSON value (number or string) as a plain string key.
pub fn key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An `error` field that says "no error": absent, null, false or empty.
pub fn no_error(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Polls `list_script` (returning `[{camera, currentTime, error, …}]`) until every camera
/// in `cameras` has advanced its `currentTime` by at least `advance` seconds since the
/// first sample, failing at once on an error and after `within` otherwise. Returns the
/// last sample.
pub async fn wait_playing(
    b: &Browser,
    what: &str,
    list_script: &str,
    cameras: &[String],
    advance: f64,
    within: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let mut first: HashMap<String, f64> = HashMap::new();
    loop {
        let v = b.js(list_script, vec![]).await;
        let list = v.as_array().cloned().unwrap_or_default();
        let mut now: HashMap<String, f64> = HashMap::new();
        for t in &list {
            let cam = key(&t["camera"]);
            if !no_error(&t["error"]) {
                panic!("{what}: camera {cam} reports an error: {}", t["error"]);
            }
            if let Some(ct) = t["currentTime"].as_f64() {
                now.insert(cam.clone(), ct);
                first.entry(cam).or_insert(ct);
            }
        }
        let lagging: Vec<String> = cameras
            .iter()
            .filter(|c| match (first.get(*c), now.get(*c)) {
                (Some(a), Some(b)) => b - a < advance,
                _ => true,
            })
            .map(|c| format!("{c}: {:?}→{:?}", first.get(c), now.get(c)))
            .collect();
        if lagging.is_empty() {
            return list;
        }
        if Instant::now() >= deadline {
            panic!(
                "{what}: within {within:?} these cameras' video did not advance {advance} s: {}\n\
                 last sample: {v}",
                lagging.join(", ")
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
