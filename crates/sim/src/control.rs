//! The tiny HTTP control endpoint (127.0.0.1 only by default):
//!
//! - `GET /cameras` — JSON list of cameras, their streams, URLs, sources and clients;
//! - `GET /stats` — JSON counters ([`crate::SimStats`]);
//! - `POST /fault/<camera>/<kind>?secs=N` — inject a fault for N seconds (default 10;
//!   `kind` as in [`crate::FaultKind`]'s `FromStr`, e.g. `stall`, `tsjump=60`).
//!
//! One request per connection (`Connection: close`); not a general web server.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::{FaultKind, SimInner};

const MAX_HEAD: usize = 8 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn serve(listener: TcpListener, sim: Arc<SimInner>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => {
                    let sim = sim.clone();
                    conns.spawn(async move {
                        if let Err(e) = tokio::time::timeout(IO_TIMEOUT, handle(stream, &sim)).await {
                            debug!(error = %e, "control request timed out");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "control accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn handle(mut stream: TcpStream, sim: &SimInner) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    // Bounded by MAX_HEAD and the caller's timeout.
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > MAX_HEAD {
            return respond(&mut stream, 431, "{\"error\":\"request head too large\"}").await;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (code, body) = route(sim, method, &segs, query);
    respond(&mut stream, code, &body).await
}

fn route(sim: &SimInner, method: &str, segs: &[&str], query: &str) -> (u16, String) {
    let err = |code: u16, msg: String| (code, serde_json::json!({ "error": msg }).to_string());
    match (method, segs) {
        ("GET", ["cameras"]) => (200, sim.cameras_json().to_string()),
        ("GET", ["stats"]) => {
            let s = sim.stats();
            (
                200,
                serde_json::json!({
                    "clients": s.clients,
                    "sessions_total": s.sessions_total,
                    "bytes_sent": s.bytes_sent,
                    "frames_sent": s.frames_sent,
                })
                .to_string(),
            )
        }
        ("POST", ["fault", camera, kind]) => {
            let kind: FaultKind = match kind.parse() {
                Ok(k) => k,
                Err(e) => return err(400, e.to_string()),
            };
            let mut secs = 10.0;
            for kv in query.split('&').filter(|s| !s.is_empty()) {
                match kv.split_once('=') {
                    Some(("secs", v)) => match v.parse::<f64>() {
                        Ok(v) if (0.0..=86_400.0).contains(&v) => secs = v,
                        _ => return err(400, format!("secs must be 0..=86400 seconds, got {v:?}")),
                    },
                    _ => return err(400, format!("unknown query parameter {kv:?} (only secs=N)")),
                }
            }
            match sim.inject(camera, kind, Duration::from_secs_f64(secs)) {
                Ok(()) => (
                    200,
                    serde_json::json!({ "ok": true, "camera": camera, "fault": kind.to_string(), "secs": secs })
                        .to_string(),
                ),
                Err(e @ crate::Error::UnknownCamera(_)) => err(404, e.to_string()),
                Err(e) => err(400, e.to_string()),
            }
        }
        (_, ["cameras"] | ["stats"] | ["fault", ..]) => {
            err(405, format!("method {method} not allowed here"))
        }
        _ => err(
            404,
            "not found; try GET /cameras, GET /stats or POST /fault/<camera>/<kind>?secs=N".into(),
        ),
    }
}

async fn respond(stream: &mut TcpStream, code: u16, body: &str) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let r = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(r.as_bytes()).await?;
    stream.shutdown().await
}
