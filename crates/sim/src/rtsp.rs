//! The RTSP server: one task per TCP connection, one session per connection, RTP and
//! RTCP interleaved on the same connection (RFC 2326 §10.12). UDP transport is refused
//! with `461 Unsupported Transport`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use bytes::{Buf, BytesMut};
use media::Codec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::auth::Auth;
use crate::fault::FaultState;
use crate::rtp::{self, RtpState};
use crate::source::{Feed, FeedKind, OutFrame};

/// Session timeout announced in the `Session` header, in seconds.
const SESSION_TIMEOUT_SECS: u64 = 60;
/// A playing client that sends nothing (no keep-alive, no RTCP) for this long is dropped.
const PLAYING_IDLE: Duration = Duration::from_secs(2 * SESSION_TIMEOUT_SECS);
/// A connection that never starts playing is dropped after this much silence.
const SETUP_IDLE: Duration = Duration::from_secs(SESSION_TIMEOUT_SECS);
/// A client that cannot take one access unit within this time is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest RTSP request head plus body we accept.
const MAX_REQUEST: usize = 64 * 1024;
/// Interval between RTCP sender reports.
const SR_INTERVAL: Duration = Duration::from_secs(5);

/// One simulated camera: its streams and its trouble.
pub(crate) struct Camera {
    pub name: String,
    pub main: Arc<Feed>,
    pub sub: Option<Arc<Feed>>,
    pub faults: Arc<FaultState>,
    /// Bumped to close every current client connection of this camera.
    pub disconnect: watch::Sender<u64>,
    pub clients: AtomicUsize,
}

impl Camera {
    pub(crate) fn feed(&self, stream: &str) -> Option<&Arc<Feed>> {
        match stream {
            "main" => Some(&self.main),
            "sub" => self.sub.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn feeds(&self) -> impl Iterator<Item = (&'static str, &Arc<Feed>)> {
        std::iter::once(("main", &self.main)).chain(self.sub.iter().map(|f| ("sub", f)))
    }

    pub(crate) fn all_live(&self) -> bool {
        self.feeds().all(|(_, f)| f.kind == FeedKind::Live)
    }
}

/// Counters over all connections.
#[derive(Default)]
pub(crate) struct Counters {
    pub clients: AtomicUsize,
    pub sessions_total: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub frames_sent: AtomicU64,
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub cameras: HashMap<String, Arc<Camera>>,
    pub auth: Option<Auth>,
    pub counters: Counters,
}

/// Accepts connections until the task is aborted (which also aborts every connection).
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    conns.spawn(async move {
                        debug!(%peer, "RTSP connection");
                        match Conn::new(shared, stream).run().await {
                            Ok(()) => debug!(%peer, "RTSP connection closed"),
                            Err(e) => debug!(%peer, error = %e, "RTSP connection ended"),
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "RTSP accept failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reap finished connection tasks so the set does not grow.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// A parsed RTSP request.
struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Parsed {
    Request(Request),
    /// Interleaved binary data from the client (RTCP receiver reports): skipped.
    Interleaved,
}

/// Takes one complete message off the front of `buf`, if there is one.
fn parse_one(buf: &mut BytesMut) -> Result<Option<Parsed>, String> {
    if buf.first() == Some(&b'$') {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        if buf.len() < 4 + len {
            return Ok(None);
        }
        buf.advance(4 + len);
        return Ok(Some(Parsed::Interleaved));
    }
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_REQUEST {
            return Err("request head too large".into());
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "request is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    let (Some(method), Some(url), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("bad request line {first:?}"));
    };
    if !version.starts_with("RTSP/1.") {
        return Err(format!("not RTSP/1.x: {first:?}"));
    }
    let mut headers = Vec::new();
    for l in lines {
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let req = Request {
        method: method.to_owned(),
        url: url.to_owned(),
        headers,
    };
    let body_len: usize = req
        .header("Content-Length")
        .map(|v| v.parse().map_err(|_| "bad Content-Length"))
        .transpose()?
        .unwrap_or(0);
    if body_len > MAX_REQUEST {
        return Err("request body too large".into());
    }
    if buf.len() < head_end + 4 + body_len {
        return Ok(None);
    }
    buf.advance(head_end + 4 + body_len);
    Ok(Some(Parsed::Request(req)))
}

/// `/cam1/main/trackID=0` of `rtsp://host:port/cam1/main/trackID=0?x`.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or("")
}

/// Camera and stream names from a request URL.
fn resolve(url: &str) -> Option<(String, String)> {
    let mut segs = url_path(url).split('/').filter(|s| !s.is_empty());
    let cam = segs.next()?;
    let stream = segs.next()?;
    Some((cam.to_owned(), stream.to_owned()))
}

struct Session {
    id: String,
    camera: Arc<Camera>,
    feed: Arc<Feed>,
    control_url: String,
    rtp: RtpState,
    /// Added to the feed timestamp to get this session's RTP timestamp.
    ts_base: u32,
    playing: Option<Playing>,
    disconnect: watch::Receiver<u64>,
}

struct Playing {
    rx: broadcast::Receiver<OutFrame>,
    waiting_key: bool,
    packets: u32,
    octets: u32,
    /// RTP timestamp and instant of the latest frame sent, for sender reports.
    last: Option<(u32, Instant)>,
    _guard: ClientGuard,
}

/// Counts a playing client for as long as it lives.
struct ClientGuard(Arc<Shared>, Arc<Camera>);

impl ClientGuard {
    fn new(shared: Arc<Shared>, camera: Arc<Camera>) -> ClientGuard {
        shared.counters.clients.fetch_add(1, Ordering::Relaxed);
        shared
            .counters
            .sessions_total
            .fetch_add(1, Ordering::Relaxed);
        camera.clients.fetch_add(1, Ordering::Relaxed);
        ClientGuard(shared, camera)
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.counters.clients.fetch_sub(1, Ordering::Relaxed);
        self.1.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Conn {
    shared: Arc<Shared>,
    rd: tokio::net::tcp::OwnedReadHalf,
    wr: OwnedWriteHalf,
    buf: BytesMut,
    nonce: String,
    session: Option<Session>,
    last_heard: Instant,
    close_after_reply: bool,
}

enum Step {
    Continue,
    Close,
}

impl Conn {
    fn new(shared: Arc<Shared>, stream: TcpStream) -> Conn {
        let (rd, wr) = stream.into_split();
        Conn {
            shared,
            rd,
            wr,
            buf: BytesMut::with_capacity(4096),
            nonce: hex::encode(rand::random::<[u8; 16]>()),
            session: None,
            last_heard: Instant::now(),
            close_after_reply: false,
        }
    }

    async fn run(mut self) -> std::io::Result<()> {
        let mut sr_timer = tokio::time::interval(SR_INTERVAL);
        sr_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Each round handles one event; the loop ends on EOF, error, TEARDOWN, a
        // disconnect fault, a slow or silent client, or task abort at shutdown.
        loop {
            loop {
                let parsed = match parse_one(&mut self.buf) {
                    Ok(p) => p,
                    Err(e) => {
                        self.reply_raw(400, "Bad Request", "0", "", "").await?;
                        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
                    }
                };
                match parsed {
                    None => break,
                    Some(Parsed::Interleaved) => {}
                    Some(Parsed::Request(req)) => {
                        self.handle(req).await?;
                        if self.close_after_reply {
                            return Ok(());
                        }
                    }
                }
            }
            let playing = self.session.as_ref().is_some_and(|s| s.playing.is_some());
            let idle_limit = if playing { PLAYING_IDLE } else { SETUP_IDLE };
            let deadline = self.last_heard + idle_limit;
            let has_session = self.session.is_some();
            let sess = self.session.as_mut();
            let (rx, disc) = match sess {
                Some(s) => (
                    s.playing.as_mut().map(|p| &mut p.rx),
                    Some(&mut s.disconnect),
                ),
                None => (None, None),
            };
            enum Ev {
                Read(std::io::Result<usize>),
                Frame(Result<OutFrame, broadcast::error::RecvError>),
                Disconnect,
                Sr,
                Idle,
            }
            let ev = tokio::select! {
                r = self.rd.read_buf(&mut self.buf) => Ev::Read(r),
                f = async { rx.expect("guarded").recv().await }, if playing => Ev::Frame(f),
                _ = async { disc.expect("guarded").changed().await }, if has_session => Ev::Disconnect,
                _ = sr_timer.tick(), if playing => Ev::Sr,
                _ = tokio::time::sleep_until(deadline.into()) => Ev::Idle,
            };
            match ev {
                Ev::Read(r) => {
                    if r? == 0 {
                        return Ok(());
                    }
                    self.last_heard = Instant::now();
                }
                Ev::Frame(Ok(f)) => {
                    if let Step::Close = self.send_frame(f).await? {
                        return Ok(());
                    }
                }
                Ev::Frame(Err(broadcast::error::RecvError::Lagged(n))) => {
                    let s = self.session.as_mut().expect("playing");
                    debug!(camera = %s.camera.name, skipped = n, "client too slow; skipping to the next key frame");
                    if let Some(p) = s.playing.as_mut() {
                        p.waiting_key = true;
                    }
                    // Live feeds then encode an IDR at once rather than at the GOP's end.
                    s.feed.want_key.store(true, Ordering::Relaxed);
                }
                Ev::Frame(Err(broadcast::error::RecvError::Closed)) => return Ok(()),
                Ev::Disconnect => {
                    let s = self.session.as_ref().expect("session");
                    info!(camera = %s.camera.name, "disconnect fault: closing client connection");
                    return Ok(());
                }
                Ev::Sr => self.send_sender_report().await?,
                Ev::Idle => {
                    debug!("client silent for too long; closing");
                    return Ok(());
                }
            }
        }
    }

    async fn send_frame(&mut self, f: OutFrame) -> std::io::Result<Step> {
        let s = self.session.as_mut().expect("playing");
        let p = s.playing.as_mut().expect("playing");
        if p.waiting_key {
            if !f.au.is_key {
                return Ok(Step::Continue);
            }
            p.waiting_key = false;
        }
        let ts = (f.pts as u32).wrapping_add(s.ts_base);
        let sent = tokio::time::timeout(
            WRITE_TIMEOUT,
            rtp::send_au(&mut self.wr, &mut s.rtp, &f.au, ts),
        )
        .await;
        let n = match sent {
            Ok(r) => r?,
            Err(_) => {
                warn!(camera = %s.camera.name, "client took over {WRITE_TIMEOUT:?} to take one frame; disconnecting it");
                return Ok(Step::Close);
            }
        };
        p.packets = p.packets.wrapping_add(f.au.packets.len() as u32);
        p.octets = p.octets.wrapping_add(f.au.bytes as u32);
        p.last = Some((ts, Instant::now()));
        let c = &self.shared.counters;
        c.bytes_sent.fetch_add(n, Ordering::Relaxed);
        c.frames_sent.fetch_add(1, Ordering::Relaxed);
        Ok(Step::Continue)
    }

    /// RTCP sender report on the RTP channel + 1: maps wall time (NTP) to RTP time.
    async fn send_sender_report(&mut self) -> std::io::Result<()> {
        let Some(s) = self.session.as_ref() else {
            return Ok(());
        };
        let Some(p) = s.playing.as_ref() else {
            return Ok(());
        };
        let Some((last_ts, at)) = p.last else {
            return Ok(());
        };
        if s.camera.faults.active(Instant::now()).stall {
            return Ok(());
        }
        let since = at.elapsed();
        let rtp_now = last_ts
            .wrapping_add((since.as_nanos() * u128::from(media::TIMESCALE) / 1_000_000_000) as u32);
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let ntp_secs = (wall.as_secs() + 2_208_988_800) as u32;
        let ntp_frac = ((u64::from(wall.subsec_nanos()) << 32) / 1_000_000_000) as u32;
        let mut pkt = [0u8; 4 + 28];
        pkt[0] = b'$';
        pkt[1] = s.rtp.channel + 1;
        pkt[2..4].copy_from_slice(&28u16.to_be_bytes());
        pkt[4] = 0x80;
        pkt[5] = 200;
        pkt[6..8].copy_from_slice(&6u16.to_be_bytes());
        pkt[8..12].copy_from_slice(&s.rtp.ssrc.to_be_bytes());
        pkt[12..16].copy_from_slice(&ntp_secs.to_be_bytes());
        pkt[16..20].copy_from_slice(&ntp_frac.to_be_bytes());
        pkt[20..24].copy_from_slice(&rtp_now.to_be_bytes());
        pkt[24..28].copy_from_slice(&p.packets.to_be_bytes());
        pkt[28..32].copy_from_slice(&p.octets.to_be_bytes());
        tokio::time::timeout(WRITE_TIMEOUT, self.wr.write_all(&pkt))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "RTCP write timed out")
            })?
    }

    async fn reply_raw(
        &mut self,
        code: u16,
        reason: &str,
        cseq: &str,
        extra: &str,
        body: &str,
    ) -> std::io::Result<()> {
        let mut r = format!("RTSP/1.0 {code} {reason}\r\nCSeq: {cseq}\r\nServer: vigil-sim\r\n");
        r.push_str(extra);
        if !body.is_empty() {
            r.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        r.push_str("\r\n");
        r.push_str(body);
        tokio::time::timeout(WRITE_TIMEOUT, self.wr.write_all(r.as_bytes()))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "reply write timed out")
            })?
    }

    async fn handle(&mut self, req: Request) -> std::io::Result<()> {
        let cseq = req.header("CSeq").unwrap_or("0").to_owned();
        debug!(method = %req.method, url = %req.url, "RTSP request");
        let session_hdr = self
            .session
            .as_ref()
            .map(|s| format!("Session: {};timeout={SESSION_TIMEOUT_SECS}\r\n", s.id))
            .unwrap_or_default();
        if req.method == "OPTIONS" {
            let extra = format!(
                "{session_hdr}Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER, TEARDOWN\r\n"
            );
            return self.reply_raw(200, "OK", &cseq, &extra, "").await;
        }
        if let Some(auth) = &self.shared.auth {
            if !auth.check(req.header("Authorization"), &req.method, &self.nonce) {
                let extra = format!("WWW-Authenticate: {}\r\n", auth.challenge(&self.nonce));
                return self.reply_raw(401, "Unauthorized", &cseq, &extra, "").await;
            }
        }
        match req.method.as_str() {
            "DESCRIBE" => self.describe(&req, &cseq).await,
            "SETUP" => self.setup(&req, &cseq).await,
            "PLAY" => self.play(&req, &cseq).await,
            "PAUSE" => {
                if let Some(s) = self.session.as_mut() {
                    s.playing = None;
                }
                self.reply_raw(200, "OK", &cseq, &session_hdr, "").await
            }
            "GET_PARAMETER" | "SET_PARAMETER" => {
                self.reply_raw(200, "OK", &cseq, &session_hdr, "").await
            }
            "TEARDOWN" => {
                self.close_after_reply = true;
                self.session = None;
                self.reply_raw(200, "OK", &cseq, "", "").await
            }
            _ => self.reply_raw(501, "Not Implemented", &cseq, "", "").await,
        }
    }

    /// Finds the camera and stream of a request, or replies with the error.
    async fn lookup(
        &mut self,
        req: &Request,
        cseq: &str,
    ) -> std::io::Result<Option<(Arc<Camera>, String, Arc<Feed>)>> {
        let found = resolve(&req.url).and_then(|(cam, stream)| {
            let c = self.shared.cameras.get(&cam)?.clone();
            let f = c.feed(&stream)?.clone();
            Some((c, stream, f))
        });
        let Some((cam, stream, feed)) = found else {
            self.reply_raw(404, "Not Found", cseq, "", "").await?;
            return Ok(None);
        };
        if cam.faults.active(Instant::now()).offline {
            self.reply_raw(503, "Service Unavailable", cseq, "", "")
                .await?;
            return Ok(None);
        }
        Ok(Some((cam, stream, feed)))
    }

    async fn describe(&mut self, req: &Request, cseq: &str) -> std::io::Result<()> {
        let Some((cam, stream, feed)) = self.lookup(req, cseq).await? else {
            return Ok(());
        };
        let sdp = sdp(&cam.name, &stream, &feed);
        let base = req.url.split(['?', '#']).next().unwrap_or(&req.url);
        let base = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        let extra = format!("Content-Base: {base}\r\nContent-Type: application/sdp\r\n");
        self.reply_raw(200, "OK", cseq, &extra, &sdp).await
    }

    async fn setup(&mut self, req: &Request, cseq: &str) -> std::io::Result<()> {
        let transport = req.header("Transport").unwrap_or("");
        // Only `RTP/AVP/TCP` with interleaved channels is offered.
        let tcp = transport
            .split(',')
            .find(|t| t.contains("RTP/AVP/TCP") || t.contains("interleaved="));
        let Some(tcp) = tcp else {
            return self
                .reply_raw(461, "Unsupported Transport", cseq, "", "")
                .await;
        };
        let Some((cam, stream, feed)) = self.lookup(req, cseq).await? else {
            return Ok(());
        };
        if let Some(s) = &self.session {
            if !Arc::ptr_eq(&s.feed, &feed) {
                return self
                    .reply_raw(459, "Aggregate Operation Not Allowed", cseq, "", "")
                    .await;
            }
        }
        let channel = tcp
            .split(';')
            .find_map(|p| p.trim().strip_prefix("interleaved="))
            .and_then(|v| v.split('-').next())
            .and_then(|v| v.trim().parse::<u8>().ok())
            .filter(|c| *c < 255)
            .unwrap_or(0);
        let url = req
            .url
            .split(['?', '#'])
            .next()
            .unwrap_or(&req.url)
            .to_owned();
        let sess = self.session.get_or_insert_with(|| Session {
            id: hex::encode(rand::random::<[u8; 8]>()),
            camera: cam.clone(),
            feed: feed.clone(),
            control_url: url,
            rtp: RtpState {
                ssrc: rand::random(),
                seq: rand::random(),
                channel,
            },
            ts_base: rand::random(),
            playing: None,
            disconnect: cam.disconnect.subscribe(),
        });
        sess.rtp.channel = channel;
        let extra = format!(
            "Transport: RTP/AVP/TCP;unicast;interleaved={}-{};ssrc={:08X};mode=\"PLAY\"\r\nSession: {};timeout={SESSION_TIMEOUT_SECS}\r\n",
            channel,
            channel + 1,
            sess.rtp.ssrc,
            sess.id
        );
        debug!(camera = %cam.name, %stream, "session set up");
        self.reply_raw(200, "OK", cseq, &extra, "").await
    }

    async fn play(&mut self, req: &Request, cseq: &str) -> std::io::Result<()> {
        let want = req
            .header("Session")
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned());
        let ok = matches!((&self.session, &want), (Some(s), Some(w)) if &s.id == w);
        if !ok {
            return self.reply_raw(454, "Session Not Found", cseq, "", "").await;
        }
        let shared = self.shared.clone();
        let s = self.session.as_mut().expect("checked");
        if s.camera.faults.active(Instant::now()).offline {
            return self
                .reply_raw(503, "Service Unavailable", cseq, "", "")
                .await;
        }
        if s.playing.is_none() {
            s.playing = Some(Playing {
                rx: s.feed.subscribe(),
                waiting_key: true,
                packets: 0,
                octets: 0,
                last: None,
                _guard: ClientGuard::new(shared, s.camera.clone()),
            });
            info!(camera = %s.camera.name, "client playing");
        }
        let rtptime = (s.feed.current_pts() as u32).wrapping_add(s.ts_base);
        let extra = format!(
            "Session: {};timeout={SESSION_TIMEOUT_SECS}\r\nRange: npt=0.000-\r\nRTP-Info: url={};seq={};rtptime={}\r\n",
            s.id, s.control_url, s.rtp.seq, rtptime
        );
        self.reply_raw(200, "OK", cseq, &extra, "").await
    }
}

/// The SDP describing one camera stream.
fn sdp(camera: &str, stream: &str, feed: &Feed) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let ps = feed.param_sets();
    let (rtpmap, fmtp) = match feed.codec {
        Codec::H264 => {
            let mut f = String::from("packetization-mode=1");
            if let Some(sps) = ps.sps.as_ref().filter(|s| s.len() >= 4) {
                f.push_str(&format!(
                    ";profile-level-id={}",
                    hex::encode_upper(&sps[1..4])
                ));
            }
            if let (Some(sps), Some(pps)) = (&ps.sps, &ps.pps) {
                f.push_str(&format!(";sprop-parameter-sets={},{}", b64(sps), b64(pps)));
            }
            ("H264/90000", f)
        }
        Codec::H265 => {
            let mut parts = Vec::new();
            for (name, v) in [
                ("sprop-vps", &ps.vps),
                ("sprop-sps", &ps.sps),
                ("sprop-pps", &ps.pps),
            ] {
                if let Some(v) = v {
                    parts.push(format!("{name}={}", b64(v)));
                }
            }
            ("H265/90000", parts.join(";"))
        }
    };
    let id: u32 = rand::random();
    format!(
        "v=0\r\no=- {id} 1 IN IP4 127.0.0.1\r\ns=vigil-sim {camera} {stream}\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\na=range:npt=0-\r\nm=video 0 RTP/AVP {pt}\r\na=rtpmap:{pt} {rtpmap}\r\na=fmtp:{pt} {fmtp}\r\na=framerate:{fps}\r\na=control:trackID=0\r\n",
        pt = rtp::PAYLOAD_TYPE,
        fps = feed.fps,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_requests_and_skips_interleaved_data() {
        let mut b = BytesMut::from(
            &b"$\x01\x00\x02ab\
               SET_PARAMETER rtsp://h/cam1/main RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 5\r\n\r\nhello\
               OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n"[..],
        );
        assert!(matches!(parse_one(&mut b), Ok(Some(Parsed::Interleaved))));
        let Ok(Some(Parsed::Request(r))) = parse_one(&mut b) else {
            panic!("no request")
        };
        assert_eq!(r.method, "SET_PARAMETER");
        assert_eq!(r.header("cseq"), Some("3"));
        // Incomplete head: wait for more.
        assert!(matches!(parse_one(&mut b), Ok(None)));
        b.extend_from_slice(b"\r\n");
        assert!(matches!(parse_one(&mut b), Ok(Some(Parsed::Request(_)))));
        assert!(b.is_empty());
        let mut bad = BytesMut::from(&b"HELLO\r\n\r\n"[..]);
        assert!(parse_one(&mut bad).is_err());
    }

    #[test]
    fn resolves_urls() {
        assert_eq!(
            resolve("rtsp://u:p@127.0.0.1:554/cam1/main/trackID=0?x=1"),
            Some(("cam1".into(), "main".into()))
        );
        assert_eq!(
            resolve("rtsp://127.0.0.1/cam2/sub/"),
            Some(("cam2".into(), "sub".into()))
        );
        assert_eq!(resolve("rtsp://127.0.0.1/cam2"), None);
    }
}
