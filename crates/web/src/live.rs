//! The live wall: the `/live` page and the WebSocket feed `GET /ws/live/{camera}/{kind}`.
//!
//! # The feed
//!
//! Frames come from the camera stream's live bus (`ingest::StreamMonitor`, found in the
//! [`crate::LiveRegistry`]). One [`Hub`] per watched stream turns each frame, once, into an
//! fMP4 fragment (`moof` + `mdat` holding that one frame) and fans the fragment out to the
//! stream's viewers as a shared `Bytes` (no copy per viewer). The hub also keeps the
//! fragments since the latest key frame (the current GOP), so a viewer who opens a tile of
//! a stream somebody already watches (or watched in the last few minutes) starts at once
//! from that key frame; the first viewer of a stream waits for the next key frame.
//!
//! A viewer's WebSocket receives, in order:
//!
//! 1. a text message `{"type":"init","codec":"avc1.…","width":…,"height":…,"base":MS}` —
//!    the RFC 6381 codec string for `MediaSource.addSourceBuffer('video/mp4; codecs="…"')`
//!    and the wall time (ms since the epoch) of decode time 0;
//! 2. a binary message: the init segment (`ftyp` + `moov`);
//! 3. binary messages, one fMP4 fragment per frame, starting at a key frame.
//!
//! When the camera's parameters change, or its clock steps back, 1 and 2 come again (with
//! a new `base`) and fragments restart at a key frame. An H.265 stream, which Chromium's
//! Media Source Extensions do not play, gets `{"type":"unsupported","codec":"hvc1.…"}`
//! and the socket closes; `{"type":"waiting"}` means the camera has sent nothing yet.
//!
//! A slow viewer never builds delay: when the fragments queued for it span more than
//! [`FeedOptions::max_backlog`] of video (or its bus receiver lags), the queue is dropped
//! and the viewer resumes at the next key frame.
//!
//! A fragment's sample duration is not known until the next frame arrives; it is sent at
//! once with the previous frame interval as its duration (exact for cameras with a steady
//! frame rate; the next fragment's decode time is exact in any case).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use maud::{html, PreEscaped};
use media::time::TICKS_PER_SEC;
use media::{Codec, Frame, Sample, Ticks, VideoParams};
use store::StreamKind;
use tokio::sync::{broadcast, Notify};

use crate::i18n::{t, Lang};
use crate::{ui, AppState, Authed};

/// Most fragments a hub keeps for the current GOP (beyond this, a camera's GOP is too long
/// to cache and new viewers wait for the next key frame).
const MAX_GOP_FRAMES: usize = 600;
/// Capacity of a hub's fan-out bus, in messages.
const HUB_BUS_CAPACITY: usize = 256;
/// A hub with no viewer for this long stops (and drops its cached GOP).
const HUB_IDLE: Duration = Duration::from_secs(300);
/// Sample duration assumed before two frames have been seen (15 fps).
const DEFAULT_FRAME_TICKS: u32 = (TICKS_PER_SEC / 15) as u32;

/// What a hub sends its viewers.
#[derive(Clone, Debug)]
pub enum HubMsg {
    /// New stream parameters or a new time base: the JSON text message and the init segment.
    Init(Arc<InitMsg>),
    /// One frame as an fMP4 fragment.
    Fragment(Fragment),
    /// Frames were lost between the previous message and the next (the hub lagged):
    /// resume at a key frame.
    Gap,
}

/// The init announcement of a stream.
#[derive(Debug)]
pub struct InitMsg {
    /// `{"type":"init",…}` (see the module docs).
    pub json: Utf8Bytes,
    /// `ftyp` + `moov`.
    pub segment: Bytes,
    pub params: Arc<VideoParams>,
    /// Wall time (90 kHz ticks) of decode time 0.
    pub base: Ticks,
}

/// One frame, wrapped as `moof` + `mdat`.
#[derive(Clone, Debug)]
pub struct Fragment {
    /// Wall time of the frame.
    pub time: Ticks,
    pub is_key: bool,
    pub bytes: Bytes,
    /// When the hub received the frame from the camera's bus.
    pub received: Instant,
}

#[derive(Default)]
struct HubState {
    init: Option<Arc<InitMsg>>,
    /// Fragments since the latest key frame (empty until one is seen).
    gop: Vec<Fragment>,
    /// Whether the hub's task has ended (no more messages).
    ended: bool,
}

/// Fans one camera stream out to its live viewers (see the module docs).
pub struct Hub {
    state: Mutex<HubState>,
    tx: broadcast::Sender<HubMsg>,
}

impl Hub {
    fn state(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, msg: HubMsg) {
        let mut s = self.state();
        match &msg {
            HubMsg::Init(i) => {
                s.init = Some(i.clone());
                s.gop.clear();
            }
            HubMsg::Fragment(f) => {
                if f.is_key {
                    s.gop.clear();
                }
                if (f.is_key || !s.gop.is_empty()) && s.gop.len() < MAX_GOP_FRAMES {
                    s.gop.push(f.clone());
                } else {
                    s.gop.clear();
                }
            }
            HubMsg::Gap => s.gop.clear(),
        }
        // Sent under the lock, so a joining viewer sees each message exactly once: either
        // in its snapshot or on its receiver.
        let _ = self.tx.send(msg);
    }
}

/// A viewer's start: what to send first, then the live messages.
pub struct Join {
    pub init: Option<Arc<InitMsg>>,
    /// The current GOP from its key frame (may be empty).
    pub gop: Vec<Fragment>,
    pub rx: broadcast::Receiver<HubMsg>,
}

/// The hubs of the streams being watched, by (camera id, stream kind). Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveHubs {
    inner: Arc<Mutex<HubMap>>,
    /// Set once [`LiveHubs::keep_warm`] runs: hubs then never stop for lack of viewers.
    warm: Arc<std::sync::atomic::AtomicBool>,
}

/// How often [`LiveHubs::keep_warm`] looks for new streams.
const WARM_INTERVAL: Duration = Duration::from_secs(5);

type HubMap = HashMap<(i64, StreamKind), Arc<Hub>>;

impl LiveHubs {
    fn map(&self) -> MutexGuard<'_, HubMap> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the hub of `(camera, kind)`, starting it (subscribed to `monitor`) if needed.
    /// Must be called inside a tokio runtime.
    pub fn join(&self, camera: i64, kind: StreamKind, monitor: &ingest::StreamMonitor) -> Join {
        let hub = self.hub(camera, kind, monitor);
        let s = hub.state();
        Join {
            init: s.init.clone(),
            gop: s.gop.clone(),
            rx: hub.tx.subscribe(),
        }
    }

    /// Starts the hub of `(camera, kind)` if it is not running, so that later viewers
    /// start at once from its cached GOP.
    pub fn warm(&self, camera: i64, kind: StreamKind, monitor: &ingest::StreamMonitor) {
        self.hub(camera, kind, monitor);
    }

    /// Keeps a hub (with its cached GOP) running for every stream in `live`, now and as
    /// streams come and go, so that any tile opens at once instead of waiting up to a GOP
    /// for a key frame. Costs one task and one GOP of memory per stream (about 1 MB for a
    /// 4 Mbit/s main stream with 2 s GOPs). Starts once; later calls do nothing. The
    /// background task ends when every clone of these hubs is dropped.
    pub fn keep_warm(&self, live: &crate::LiveRegistry) {
        if self.warm.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let warm = self.warm.clone();
        let live = live.clone();
        tokio::spawn(async move {
            // Bounded by the hubs' life: stops once they are dropped.
            while let Some(inner) = weak.upgrade() {
                let hubs = LiveHubs {
                    inner,
                    warm: warm.clone(),
                };
                for ((camera, kind), _) in live.stats() {
                    if let Some(m) = live.get(camera, kind) {
                        hubs.warm(camera, kind, &m);
                    }
                }
                drop(hubs);
                tokio::time::sleep(WARM_INTERVAL).await;
            }
        });
    }

    /// Number of running hubs.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hub(&self, camera: i64, kind: StreamKind, monitor: &ingest::StreamMonitor) -> Arc<Hub> {
        let mut map = self.map();
        if let Some(h) = map.get(&(camera, kind)) {
            if !h.state().ended {
                return h.clone();
            }
        }
        let (tx, _) = broadcast::channel(HUB_BUS_CAPACITY);
        let hub = Arc::new(Hub {
            state: Mutex::new(HubState::default()),
            tx,
        });
        map.insert((camera, kind), hub.clone());
        // Subscribe first, then take ingest's cached GOP: nothing falls between the two.
        let rx = monitor.subscribe();
        let seed = monitor.gop();
        let hubs = self.clone();
        let h = hub.clone();
        tokio::spawn(async move {
            run_hub(&h, rx, seed, &hubs.warm).await;
            h.state().ended = true;
            let mut map = hubs.map();
            if map.get(&(camera, kind)).is_some_and(|x| Arc::ptr_eq(x, &h)) {
                map.remove(&(camera, kind));
            }
            tracing::debug!(camera, kind = %kind, "live hub stopped");
        });
        hub
    }
}

/// Builds one-frame fragments with a per-stream time base.
struct Packager {
    init: Option<Arc<InitMsg>>,
    last_time: Option<Ticks>,
    last_delta: u32,
    sequence: u32,
    need_key: bool,
}

impl Packager {
    fn new() -> Self {
        Packager {
            init: None,
            last_time: None,
            last_delta: DEFAULT_FRAME_TICKS,
            sequence: 0,
            need_key: true,
        }
    }

    /// The messages for one frame (an init first when the parameters or time base change).
    fn push(&mut self, frame: &Frame, received: Instant, out: &mut Vec<HubMsg>) {
        let reinit = match (&self.init, self.last_time) {
            (None, _) => true,
            (Some(i), last) => {
                (!Arc::ptr_eq(&i.params, &frame.params) && *i.params != *frame.params)
                    || last.is_some_and(|l| frame.time <= l)
                    || frame.time < i.base
            }
        };
        if reinit {
            if !frame.is_key {
                // Start (and restart) only at a key frame.
                self.need_key = true;
                return;
            }
            let init = Arc::new(init_msg(&frame.params, frame.time));
            out.push(HubMsg::Init(init.clone()));
            self.init = Some(init);
            self.last_time = None;
            self.last_delta = DEFAULT_FRAME_TICKS;
        }
        if self.need_key && !frame.is_key {
            return;
        }
        self.need_key = false;
        if let Some(l) = self.last_time {
            let d = frame.time - l;
            if d > 0 && d <= TICKS_PER_SEC {
                self.last_delta = d as u32;
            }
        }
        self.last_time = Some(frame.time);
        let base = self.init.as_ref().map_or(frame.time, |i| i.base);
        self.sequence = self.sequence.wrapping_add(1);
        out.push(HubMsg::Fragment(Fragment {
            time: frame.time,
            is_key: frame.is_key,
            bytes: fragment_bytes(
                self.sequence,
                (frame.time - base) as u64,
                self.last_delta,
                frame,
            ),
            received,
        }));
    }

    fn gap(&mut self) {
        self.need_key = true;
    }
}

/// The JSON announcement and init segment of a stream whose decode time 0 is `base`.
pub fn init_msg(params: &Arc<VideoParams>, base: Ticks) -> InitMsg {
    let json = serde_json::json!({
        "type": "init",
        "codec": params.rfc6381,
        "width": params.width,
        "height": params.height,
        "base": base.div_euclid(90),
    })
    .to_string();
    InitMsg {
        json: json.into(),
        segment: Bytes::from(media::fmp4::init_segment(params)),
        params: params.clone(),
        base,
    }
}

/// One frame as `moof` + `mdat` with decode time `tfdt` and duration `duration`.
pub fn fragment_bytes(sequence: u32, tfdt: u64, duration: u32, frame: &Frame) -> Bytes {
    let sample = Sample {
        duration,
        size: frame.data.len() as u32,
        is_key: frame.is_key,
        composition_offset: 0,
    };
    let mut b = Vec::with_capacity(128 + frame.data.len());
    media::fmp4::fragment_header_into(&mut b, sequence, tfdt, std::slice::from_ref(&sample));
    b.extend_from_slice(&frame.data);
    Bytes::from(b)
}

async fn run_hub(
    hub: &Hub,
    mut rx: broadcast::Receiver<Frame>,
    seed: Vec<Frame>,
    warm: &std::sync::atomic::AtomicBool,
) {
    let mut pk = Packager::new();
    let mut out = Vec::with_capacity(2);
    // Start from the camera's current GOP (kept by ingest), so the first viewer of a stream
    // starts at once instead of waiting up to a GOP for the next key frame.
    let mut seeded_until: Option<Ticks> = None;
    for f in &seed {
        pk.push(f, Instant::now(), &mut out);
        for m in out.drain(..) {
            hub.publish(m);
        }
        seeded_until = Some(f.time);
    }
    let mut idle_since: Option<Instant> = None;
    // Bounded by the stream's life: ends when the camera's bus closes or nobody watches.
    loop {
        let r = tokio::time::timeout(HUB_IDLE, rx.recv()).await;
        if hub.tx.receiver_count() == 0 && !warm.load(std::sync::atomic::Ordering::Relaxed) {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= HUB_IDLE {
                break;
            }
        } else {
            idle_since = None;
        }
        match r {
            Ok(Ok(frame)) => {
                // Bus frames already in the seed (subscribed just before taking it).
                if let Some(t) = seeded_until {
                    if frame.time <= t {
                        continue;
                    }
                    seeded_until = None;
                }
                pk.push(&frame, Instant::now(), &mut out);
                for m in out.drain(..) {
                    hub.publish(m);
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                tracing::debug!(frames = n, "live hub lagged behind the camera bus");
                pk.gap();
                hub.publish(HubMsg::Gap);
            }
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
            Err(_) => {} // no frame for a while: check idleness again
        }
    }
}

/// Tunables of a viewer's feed.
#[derive(Clone, Debug)]
pub struct FeedOptions {
    /// A queue spanning more video than this is dropped; the viewer resumes at the next
    /// key frame.
    pub max_backlog: Ticks,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            max_backlog: TICKS_PER_SEC,
        }
    }
}

/// Counters of one viewer's feed, returned when it ends.
#[derive(Clone, Debug, Default)]
pub struct FeedStats {
    pub fragments_sent: u64,
    /// Times the viewer was skipped ahead to the next key frame (slow client or lag).
    pub skips: u64,
}

/// Something a feed sends: text or binary, plus the frame's time for the backlog.
enum Out {
    Text(Utf8Bytes),
    Binary(Bytes),
    Frame { time: Ticks, bytes: Bytes },
    Close,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Out>,
    closed: bool,
}

/// Whether a stream can play in the browser's Media Source Extensions (Chromium: H.264).
pub fn playable(params: &VideoParams) -> bool {
    params.codec == Codec::H264
}

/// The `{"type":"unsupported",…}` message for a codec the browser cannot play.
fn unsupported_json(params: &VideoParams) -> String {
    serde_json::json!({ "type": "unsupported", "codec": params.rfc6381 }).to_string()
}

/// Serves one viewer on `socket` from `join` until either side ends (see the module docs).
pub async fn serve_feed(socket: WebSocket, join: Join, opts: FeedOptions) -> FeedStats {
    let (mut sink, mut incoming) = socket.split();
    let queue = Arc::new(Mutex::new(Queue::default()));
    let notify = Arc::new(Notify::new());
    let q = queue.clone();
    let n = notify.clone();
    let sender = tokio::spawn(async move {
        let mut sent = 0u64;
        loop {
            let next = {
                let mut q = q.lock().unwrap_or_else(PoisonError::into_inner);
                match q.items.pop_front() {
                    Some(x) => Some(x),
                    None if q.closed => break,
                    None => None,
                }
            };
            let msg = match next {
                None => {
                    n.notified().await;
                    continue;
                }
                Some(Out::Text(t)) => Message::Text(t),
                Some(Out::Binary(b)) => Message::Binary(b),
                Some(Out::Frame { bytes, .. }) => {
                    sent += 1;
                    Message::Binary(bytes)
                }
                Some(Out::Close) => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        q.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        sent
    });

    let mut stats = FeedStats::default();
    let Join { init, gop, mut rx } = join;
    let mut feeder = Feeder {
        queue: &queue,
        notify: &notify,
        opts: &opts,
        need_key: true,
        params: None,
        skips: 0,
    };
    match &init {
        Some(i) => {
            if feeder.init(i) {
                for f in &gop {
                    feeder.fragment(f);
                }
            }
        }
        None => feeder.push(Out::Text(r#"{"type":"waiting"}"#.into())),
    }
    if !feeder.is_closed() {
        // Bounded by the stream's and the socket's lives.
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(HubMsg::Init(i)) => if !feeder.init(&i) { break },
                    Ok(HubMsg::Fragment(f)) => feeder.fragment(&f),
                    Ok(HubMsg::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => feeder.skip(),
                    Err(broadcast::error::RecvError::Closed) => {
                        feeder.push(Out::Close);
                        break;
                    }
                },
                m = incoming.next() => match m {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
            if feeder.is_closed() {
                break;
            }
        }
    }
    stats.skips = feeder.skips;
    {
        let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.closed = true;
    }
    notify.notify_one();
    stats.fragments_sent = sender.await.unwrap_or(0);
    stats
}

struct Feeder<'a> {
    queue: &'a Mutex<Queue>,
    notify: &'a Notify,
    opts: &'a FeedOptions,
    need_key: bool,
    params: Option<Arc<VideoParams>>,
    skips: u64,
}

impl Feeder<'_> {
    fn q(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_closed(&self) -> bool {
        self.q().closed
    }

    fn push(&self, o: Out) {
        self.q().items.push_back(o);
        self.notify.notify_one();
    }

    /// Queues an init; false (and a close) if the codec cannot play in the browser.
    fn init(&mut self, i: &InitMsg) -> bool {
        if !playable(&i.params) {
            self.push(Out::Text(unsupported_json(&i.params).into()));
            self.push(Out::Close);
            return false;
        }
        {
            let mut q = self.q();
            // Frames of the old parameters that are still queued are of no use now.
            q.items.retain(|o| !matches!(o, Out::Frame { .. }));
            q.items.push_back(Out::Text(i.json.clone()));
            q.items.push_back(Out::Binary(i.segment.clone()));
        }
        self.notify.notify_one();
        self.params = Some(i.params.clone());
        self.need_key = true;
        true
    }

    fn fragment(&mut self, f: &Fragment) {
        if self.params.is_none() || (self.need_key && !f.is_key) {
            return;
        }
        self.need_key = false;
        let queue = self.queue;
        let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
        let oldest = q.items.iter().find_map(|o| match o {
            Out::Frame { time, .. } => Some(*time),
            _ => None,
        });
        if oldest.is_some_and(|t| f.time - t > self.opts.max_backlog) {
            // The viewer is more than the backlog behind: drop its queue, resume at a key
            // frame (this one, if it is one).
            q.items.retain(|o| !matches!(o, Out::Frame { .. }));
            self.skips += 1;
            if !f.is_key {
                self.need_key = true;
                return;
            }
        }
        q.items.push_back(Out::Frame {
            time: f.time,
            bytes: f.bytes.clone(),
        });
        drop(q);
        self.notify.notify_one();
    }

    fn skip(&mut self) {
        self.skips += 1;
        self.need_key = true;
    }
}

// ---------------------------------------------------------------------------------------
// HTTP: the page and the WebSocket route.

/// The live routes, merged by [`crate::router`]: `GET /live`, `GET /ws/live/{camera}/{kind}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/live", get(live_page))
        .route("/ws/live/{camera}/{kind}", get(live_ws))
        .route("/assets/live.js", get(live_js))
        .route("/assets/wall.css", get(wall_css))
        .layer(Extension(LiveHubs::default()))
}

/// The live wall's ES module.
pub const LIVE_JS: &str = include_str!("../assets/live.js");
/// The stylesheet of the live wall and playback pages.
pub const WALL_CSS: &str = include_str!("../assets/wall.css");

async fn live_js() -> Response {
    asset("text/javascript; charset=utf-8", LIVE_JS)
}

async fn wall_css() -> Response {
    asset("text/css; charset=utf-8", WALL_CSS)
}

/// An embedded asset with its content type (cached for an hour).
pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The layouts of the wall (tiles per screen).
pub const LAYOUTS: [u32; 6] = [1, 4, 9, 16, 25, 36];

/// One tile of the wall.
#[derive(Clone, Debug, PartialEq)]
pub struct Tile {
    pub camera: i64,
    pub name: String,
    /// The stream the grid shows (the sub-stream when the camera has one).
    pub grid_kind: StreamKind,
    /// Status key in the i18n table (`live.status.*`).
    pub status: &'static str,
}

/// The tiles `user` may watch, in camera order: enabled cameras with a live stream.
pub fn tiles(
    store: &store::Store,
    live: &crate::LiveRegistry,
    user: &govern::User,
) -> Result<Vec<Tile>, store::Error> {
    let mut out = Vec::new();
    for c in store.cameras()? {
        if !c.enabled || !govern::authorize(user, &govern::Action::LiveView { camera: c.id }) {
            continue;
        }
        let sub = live.get(c.id, StreamKind::Sub);
        let main = live.get(c.id, StreamKind::Main);
        let (grid_kind, m) = match (sub, main) {
            (Some(s), _) => (StreamKind::Sub, Some(s)),
            (None, m) => (StreamKind::Main, m),
        };
        out.push(Tile {
            camera: c.id,
            name: c.name,
            grid_kind,
            status: status_key(m.as_ref()),
        });
    }
    Ok(out)
}

/// The i18n key of a stream's state, for a tile.
pub fn status_key(m: Option<&ingest::StreamMonitor>) -> &'static str {
    let Some(m) = m else {
        return "live.status.offline";
    };
    let st = m.stats();
    if st.codec == Some(Codec::H265) {
        return "live.status.h265";
    }
    match st.state {
        ingest::StreamState::Streaming => "live.status.online",
        ingest::StreamState::Connecting => "live.status.connecting",
        ingest::StreamState::Backoff { .. } | ingest::StreamState::Stopped => "live.status.offline",
    }
}

/// The i18n keys the live module's JavaScript uses.
const LIVE_JS_KEYS: &[&str] = &[
    "live.status.connecting",
    "live.status.waiting",
    "live.status.playing",
    "live.status.online",
    "live.status.offline",
    "live.status.reconnecting",
    "live.status.h265",
    "live.status.mse",
    "live.status.error",
    "live.focus",
    "live.unfocus",
];

/// `{"key": "text", …}` of `keys` in `lang`, for a page's JavaScript.
pub fn strings_json(lang: Lang, keys: &[&str]) -> String {
    let m: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| ((*k).to_owned(), serde_json::Value::from(t(lang, k))))
        .collect();
    // `</` cannot end the <script> element that carries it.
    serde_json::Value::Object(m)
        .to_string()
        .replace("</", "<\\/")
}

async fn live_page(
    State(st): State<AppState>,
    Extension(hubs): Extension<LiveHubs>,
    authed: Authed,
) -> Response {
    let user = authed.user.clone();
    let s = st.clone();
    let u = user.clone();
    let tiles = match tokio::task::spawn_blocking(move || tiles(&s.store, &s.live, &u)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            tracing::error!("live page: listing cameras: {e}");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // Start the hubs of the grid's streams now, so that tiles start from a cached GOP.
    for tile in &tiles {
        if let Some(m) = st.live.get(tile.camera, tile.grid_kind) {
            hubs.warm(tile.camera, tile.grid_kind, &m);
        }
    }
    // From now on keep every stream's GOP cached (a control room watches all day).
    hubs.keep_warm(&st.live);
    let lang = authed.lang;
    let ctx = authed.ctx();
    let body = html! {
        link rel="stylesheet" href="/assets/wall.css";
        div.wall-bar {
            span.layouts role="group" aria-label=(t(lang, "live.layout")) {
                @for n in LAYOUTS {
                    button type="button" data-layout=(n) title=(t(lang, "live.layout")) { (n) }
                }
            }
            button.unfocus type="button" hidden { (t(lang, "live.unfocus")) }
            @if tiles.is_empty() { p.empty { (t(lang, "live.no_cameras")) } }
        }
        div #wall data-layout="4" data-user-id=(user.id) data-user-name=(user.display_name) {
            @for tile in &tiles {
                div.tile data-camera=(tile.camera) data-grid-kind=(tile.grid_kind.as_str())
                    tabindex="0" {
                    video muted autoplay playsinline {}
                    div.tile-name { (tile.name) }
                    div.tile-status data-key=(tile.status) { (t(lang, tile.status)) }
                    div.watermark aria-hidden="true" {}
                    button.focus type="button" title=(t(lang, "live.focus")) { "⤢" }
                }
            }
        }
        script #live-strings type="application/json" { (PreEscaped(strings_json(lang, LIVE_JS_KEYS))) }
        script type="module" src="/assets/live.js" {}
    };
    ui::layout(&ctx, t(lang, "nav.live"), body).into_response()
}

/// Whether the request's `Origin` names the host it was sent to (WebSocket upgrades must
/// come from our own pages).
pub fn origin_matches_host(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    rest.eq_ignore_ascii_case(host)
}

async fn live_ws(
    State(st): State<AppState>,
    Extension(hubs): Extension<LiveHubs>,
    authed: Authed,
    client: crate::auth::ClientAddr,
    Path((camera, kind)): Path<(i64, String)>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !origin_matches_host(&headers) {
        tracing::warn!(user = %authed.user.username, camera, "live: WebSocket Origin does not match Host");
        return StatusCode::FORBIDDEN.into_response();
    }
    if !govern::authorize(&authed.user, &govern::Action::LiveView { camera }) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let kind = match kind.as_str() {
        "main" => StreamKind::Main,
        "sub" => StreamKind::Sub,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let Some(monitor) = st.live.get(camera, kind) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    tracing::info!(user = %authed.user.username, camera, kind = %kind, "live view opened");
    crate::audit_page::live_view(&st, &authed, &client.0, camera, &kind.to_string());
    let join = hubs.join(camera, kind, &monitor);
    let user = authed.user.username.clone();
    ws.on_upgrade(move |socket| async move {
        let from = std::time::SystemTime::now();
        let stats = serve_feed(socket, join, FeedOptions::default()).await;
        tracing::info!(user = %user, camera, kind = %kind, fragments = stats.fragments_sent,
            skips = stats.skips, "live view closed");
        crate::audit_page::live_view_end(&st, &user, &client.0, camera, &kind.to_string(), from);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(codec: Codec) -> Arc<VideoParams> {
        Arc::new(VideoParams {
            codec,
            width: 320,
            height: 240,
            rfc6381: "avc1.42c00c".into(),
            sample_entry: vec![0, 0, 0, 8, b'a', b'v', b'c', b'1'],
        })
    }

    fn frame(p: &Arc<VideoParams>, time: Ticks, is_key: bool) -> Frame {
        Frame {
            time,
            is_key,
            data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
            params: p.clone(),
            loss: 0,
        }
    }

    fn kinds(v: &[HubMsg]) -> String {
        v.iter()
            .map(|m| match m {
                HubMsg::Init(_) => 'I',
                HubMsg::Fragment(f) if f.is_key => 'K',
                HubMsg::Fragment(_) => 'P',
                HubMsg::Gap => 'G',
            })
            .collect()
    }

    #[test]
    fn packager_starts_at_key_frame_and_reinits_on_param_change_and_clock_step() {
        let p = params(Codec::H264);
        let mut pk = Packager::new();
        let mut out = Vec::new();
        let t0 = 1_700_000_000 * TICKS_PER_SEC;
        pk.push(&frame(&p, t0, false), Instant::now(), &mut out);
        assert_eq!(kinds(&out), "");
        pk.push(&frame(&p, t0 + 6000, true), Instant::now(), &mut out);
        pk.push(&frame(&p, t0 + 12000, false), Instant::now(), &mut out);
        assert_eq!(kinds(&out), "IKP");
        let HubMsg::Init(i) = &out[0] else { panic!() };
        assert_eq!(i.base, t0 + 6000);
        assert!(i.json.as_str().contains("\"codec\":\"avc1.42c00c\""));
        // Second fragment: tfdt 6000 and the duration learned from the frame interval.
        let HubMsg::Fragment(f) = &out[2] else {
            panic!()
        };
        let scan = media::fmp4::scan(&[i.segment.as_ref(), f.bytes.as_ref()].concat()).unwrap();
        assert_eq!(scan.fragments.len(), 1);
        assert_eq!(scan.fragments[0].base_decode_time, 6000);
        assert_eq!(scan.fragments[0].samples[0].duration, 6000);
        out.clear();
        // New parameters: restart at a key frame with a new init.
        let p2 = Arc::new(VideoParams {
            width: 640,
            ..(*p).clone()
        });
        pk.push(&frame(&p2, t0 + 18000, false), Instant::now(), &mut out);
        pk.push(&frame(&p2, t0 + 24000, true), Instant::now(), &mut out);
        assert_eq!(kinds(&out), "IK");
        out.clear();
        // Clock steps back: new base.
        pk.push(&frame(&p2, t0, true), Instant::now(), &mut out);
        assert_eq!(kinds(&out), "IK");
        out.clear();
        // A gap waits for a key frame.
        pk.gap();
        pk.push(&frame(&p2, t0 + 6000, false), Instant::now(), &mut out);
        pk.push(&frame(&p2, t0 + 12000, true), Instant::now(), &mut out);
        assert_eq!(kinds(&out), "K");
    }

    #[test]
    fn hub_caches_the_current_gop_only() {
        let (tx, _) = broadcast::channel(8);
        let hub = Hub {
            state: Mutex::new(HubState::default()),
            tx,
        };
        let p = params(Codec::H264);
        let mut pk = Packager::new();
        let mut out = Vec::new();
        for (i, key) in [true, false, false, true, false].into_iter().enumerate() {
            pk.push(
                &frame(&p, 1000 + i as i64 * 6000, key),
                Instant::now(),
                &mut out,
            );
        }
        for m in out {
            hub.publish(m);
        }
        let s = hub.state();
        assert!(s.init.is_some());
        assert_eq!(s.gop.len(), 2);
        assert!(s.gop[0].is_key);
    }

    #[test]
    fn h265_is_not_playable() {
        assert!(!playable(&params(Codec::H265)));
        assert!(playable(&params(Codec::H264)));
        assert!(unsupported_json(&params(Codec::H265)).contains("unsupported"));
    }
    fn frag(time: Ticks, is_key: bool) -> Fragment {
        Fragment {
            time,
            is_key,
            bytes: Bytes::from_static(b"frag"),
            received: Instant::now(),
        }
    }

    fn queued(q: &Mutex<Queue>) -> (usize, usize) {
        let q = q.lock().unwrap();
        let frames = q
            .items
            .iter()
            .filter(|o| matches!(o, Out::Frame { .. }))
            .count();
        (q.items.len(), frames)
    }

    #[test]
    fn a_slow_viewer_skips_to_the_next_key_frame_instead_of_building_delay() {
        let queue = Mutex::new(Queue::default());
        let notify = Notify::new();
        let opts = FeedOptions::default();
        let mut f = Feeder {
            queue: &queue,
            notify: &notify,
            opts: &opts,
            need_key: true,
            params: None,
            skips: 0,
        };
        let p = params(Codec::H264);
        assert!(f.init(&init_msg(&p, 0)));
        assert_eq!(queued(&queue), (2, 0)); // JSON + init segment
        f.fragment(&frag(0, false)); // no key frame yet: dropped
        assert_eq!(queued(&queue), (2, 0));
        // Nobody drains the queue: 1 s of frames at 15 fps queue up…
        for i in 0..=15 {
            f.fragment(&frag(i * 6000, i == 0));
        }
        assert_eq!(queued(&queue), (18, 16));
        assert_eq!(f.skips, 0);
        // …the next frame is more than 1 s after the oldest queued: the queue is dropped
        // and the viewer waits for a key frame.
        f.fragment(&frag(16 * 6000, false));
        assert_eq!(queued(&queue), (2, 0));
        assert_eq!(f.skips, 1);
        f.fragment(&frag(17 * 6000, false));
        assert_eq!(queued(&queue), (2, 0));
        f.fragment(&frag(18 * 6000, true));
        assert_eq!(queued(&queue), (3, 1));
        // A gap on the hub's bus also waits for a key frame.
        f.skip();
        f.fragment(&frag(19 * 6000, false));
        assert_eq!(queued(&queue), (3, 1));
    }

    #[test]
    fn an_h265_stream_is_announced_and_closed() {
        let queue = Mutex::new(Queue::default());
        let notify = Notify::new();
        let opts = FeedOptions::default();
        let mut f = Feeder {
            queue: &queue,
            notify: &notify,
            opts: &opts,
            need_key: true,
            params: None,
            skips: 0,
        };
        assert!(!f.init(&init_msg(&params(Codec::H265), 0)));
        let q = queue.lock().unwrap();
        assert!(matches!(&q.items[0], Out::Text(t) if t.as_str().contains("unsupported")));
        assert!(matches!(q.items[1], Out::Close));
    }
}
