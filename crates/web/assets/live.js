// Vigil live wall: WebSocket → fMP4 → Media Source Extensions, one player per visible tile.
//
// The server sends, per tile: a JSON text message {"type":"init","codec":…,"base":…}, the
// init segment (binary), then one fMP4 fragment per frame starting at a key frame (see
// crates/web/src/live.rs). This module keeps each video near the live edge (jumps when
// more than 1.5 s behind, trims old buffer), reconnects with backoff, shows the tile's
// status, and draws the viewer's name and the current time over every picture (R13).
// All user-visible strings come from the JSON bundle the server renders (#live-strings).

const S = JSON.parse(document.getElementById('live-strings').textContent);
const wall = document.getElementById('wall');
const LAYOUTS = [1, 4, 9, 16, 25, 36];
const MAX_BEHIND_S = 1.5; // jump to the live edge when further behind
const KEEP_S = 10; // buffer kept behind the play position
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const MAX_QUEUE = 300; // fragments waiting for the SourceBuffer (about 20 s at 15 fps)

const userId = wall.dataset.userId;
const userName = wall.dataset.userName;
const layoutKey = `vigil.layout.${userId}`;

function csrf() {
  const m = document.querySelector('meta[name="csrf"]');
  return m ? m.content : '';
}

// Local time of the school (Asia/Ho_Chi_Minh: UTC+7, no daylight saving).
const UTC_OFFSET_MS = 7 * 3600 * 1000;
function pad(n) { return String(n).padStart(2, '0'); }
export function formatLocal(ms) {
  const d = new Date(ms + UTC_OFFSET_MS);
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function setStatus(tile, key, detail) {
  const el = tile.querySelector('.tile-status');
  el.dataset.key = key;
  el.textContent = (S[key] || key) + (detail ? ` (${detail})` : '');
  tile.dataset.state = key.replace('live.status.', '');
}

class Player {
  constructor(tile) {
    this.tile = tile;
    this.camera = tile.dataset.camera;
    this.video = tile.querySelector('video');
    this.kind = null;
    this.ws = null;
    this.ms = null;
    this.sb = null;
    this.queue = [];
    this.error = null;
    this.retryMs = BACKOFF_MIN_MS;
    this.retryTimer = null;
    this.playingSince = 0;
    this.wanted = false;
    this.unsupported = false;
    this.video.addEventListener('error', () => {
      const e = this.video.error;
      this.fail(e ? `video ${e.code}: ${e.message || ''}` : 'video error');
    });
    this.video.addEventListener('playing', () => {
      setStatus(this.tile, 'live.status.playing');
      this.playingSince = performance.now();
    });
  }

  start(kind) {
    if (this.wanted && this.kind === kind) return;
    this.stop();
    this.wanted = true;
    this.kind = kind;
    this.connect();
  }

  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.closeSocket();
    this.teardown();
  }

  closeSocket() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = null;
      try { ws.close(); } catch (_) { /* already closed */ }
    }
  }

  teardown() {
    this.queue = [];
    this.sb = null;
    if (this.ms) {
      const ms = this.ms;
      this.ms = null;
      try { if (ms.readyState === 'open') ms.endOfStream(); } catch (_) { /* closing */ }
    }
    if (this.video.src) {
      URL.revokeObjectURL(this.video.src);
      this.video.removeAttribute('src');
      this.video.load();
    }
  }

  connect() {
    if (!('MediaSource' in window)) {
      setStatus(this.tile, 'live.status.mse');
      this.error = 'no MediaSource';
      return;
    }
    this.error = null;
    this.unsupported = false;
    setStatus(this.tile, 'live.status.connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/ws/live/${this.camera}/${this.kind}` +
      `?csrf=${encodeURIComponent(csrf())}`;
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (ev) => this.onMessage(ev);
    ws.onclose = () => this.onClose();
    ws.onerror = () => { /* onclose follows */ };
  }

  onMessage(ev) {
    if (typeof ev.data === 'string') {
      let m;
      try { m = JSON.parse(ev.data); } catch (_) { return; }
      if (m.type === 'init') this.init(m);
      else if (m.type === 'waiting') setStatus(this.tile, 'live.status.waiting');
      else if (m.type === 'unsupported') {
        this.unsupported = true;
        this.error = `unsupported codec ${m.codec}`;
        setStatus(this.tile, 'live.status.h265');
      }
      return;
    }
    if (!this.ms) return;
    if (this.queue.length >= MAX_QUEUE) {
      // The decoder cannot keep up: start over from the next init (reconnect).
      this.fail('append queue overflow');
      return;
    }
    this.queue.push(ev.data);
    this.pump();
  }

  init(m) {
    this.teardown();
    const type = `video/mp4; codecs="${m.codec}"`;
    if (!MediaSource.isTypeSupported(type)) {
      this.unsupported = true;
      this.error = `unsupported type ${type}`;
      setStatus(this.tile, m.codec.startsWith('hvc') || m.codec.startsWith('hev')
        ? 'live.status.h265' : 'live.status.mse');
      this.closeSocket();
      return;
    }
    setStatus(this.tile, 'live.status.waiting');
    const ms = new MediaSource();
    this.ms = ms;
    this.video.src = URL.createObjectURL(ms);
    ms.addEventListener('sourceopen', () => {
      if (this.ms !== ms) return;
      try {
        this.sb = ms.addSourceBuffer(type);
        this.sb.mode = 'segments';
        this.sb.addEventListener('updateend', () => this.onUpdateEnd());
        this.sb.addEventListener('error', () => this.fail('SourceBuffer error'));
        this.pump();
      } catch (e) {
        this.fail(String(e));
      }
    }, { once: true });
  }

  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || this.queue.length === 0) return;
    try {
      sb.appendBuffer(this.queue.shift());
    } catch (e) {
      if (e.name === 'QuotaExceededError') {
        this.trim(true);
      } else {
        this.fail(String(e));
      }
    }
  }

  onUpdateEnd() {
    this.follow();
    if (!this.trim(false)) this.pump();
  }

  // Keeps the play position near the live edge.
  follow() {
    const v = this.video;
    const b = v.buffered;
    if (b.length === 0) return;
    const end = b.end(b.length - 1);
    const start = b.start(b.length - 1);
    const t = v.currentTime;
    let inside = false;
    for (let i = 0; i < b.length; i++) if (t >= b.start(i) && t <= b.end(i)) inside = true;
    if (!inside || end - t > MAX_BEHIND_S) {
      v.currentTime = Math.max(start, end - 0.2);
    }
    if (v.paused) {
      v.play().catch(() => { /* autoplay of a muted video is allowed; retried next frame */ });
    }
  }

  // Removes buffer older than KEEP_S; true when a removal is running.
  trim(force) {
    const sb = this.sb;
    const b = this.video.buffered;
    if (!sb || sb.updating || b.length === 0) return false;
    const t = this.video.currentTime;
    const from = b.start(0);
    if (t - from > KEEP_S * 2 || (force && t - from > 1)) {
      try {
        sb.remove(from, Math.max(from + 0.1, t - KEEP_S / (force ? 5 : 1)));
        return true;
      } catch (_) {
        return false;
      }
    }
    return false;
  }

  fail(msg) {
    if (!this.wanted) return;
    this.error = msg;
    setStatus(this.tile, 'live.status.error', msg);
    this.closeSocket();
    this.teardown();
    this.scheduleReconnect();
  }

  onClose() {
    this.ws = null;
    if (!this.wanted) return;
    if (this.unsupported) return; // nothing to retry: the codec will not play here
    this.teardown();
    if (!this.error) setStatus(this.tile, 'live.status.reconnecting');
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    clearTimeout(this.retryTimer);
    if (this.playingSince && performance.now() - this.playingSince > 10000) {
      this.retryMs = BACKOFF_MIN_MS; // it played for a while: start the backoff over
    }
    this.playingSince = 0;
    const wait = this.retryMs * (0.8 + Math.random() * 0.4);
    this.retryMs = Math.min(this.retryMs * 2, BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted) this.connect();
    }, wait);
  }
}

const tiles = [...wall.querySelectorAll('.tile')];
const players = new Map(tiles.map((t) => [t.dataset.camera, new Player(t)]));
let focused = null;

function visibleTiles() {
  if (focused) return tiles.filter((t) => t.dataset.camera === focused);
  const n = Number(wall.dataset.layout);
  return tiles.slice(0, n);
}

function apply() {
  const visible = new Set(visibleTiles());
  for (const t of tiles) {
    const p = players.get(t.dataset.camera);
    t.hidden = !visible.has(t);
    if (visible.has(t)) {
      p.start(focused ? 'main' : t.dataset.gridKind);
    } else {
      p.stop();
    }
  }
  wall.classList.toggle('focused', !!focused);
  const unfocus = document.querySelector('button.unfocus');
  if (unfocus) unfocus.hidden = !focused;
  for (const b of document.querySelectorAll('button[data-layout]')) {
    b.setAttribute('aria-pressed', String(!focused && b.dataset.layout === wall.dataset.layout));
  }
}

function setLayout(n) {
  if (!LAYOUTS.includes(n)) return;
  wall.dataset.layout = String(n);
  try { localStorage.setItem(layoutKey, String(n)); } catch (_) { /* private mode */ }
  focused = null;
  apply();
}

function focus(camera) {
  focused = camera;
  apply();
}

function unfocus() {
  if (!focused) return;
  focused = null;
  apply();
}

for (const b of document.querySelectorAll('button[data-layout]')) {
  b.addEventListener('click', () => setLayout(Number(b.dataset.layout)));
}
for (const t of tiles) {
  t.addEventListener('dblclick', () => (focused ? unfocus() : focus(t.dataset.camera)));
  const fb = t.querySelector('button.focus');
  if (fb) {
    fb.title = S['live.focus'];
    fb.addEventListener('click', (e) => {
      e.stopPropagation();
      focused ? unfocus() : focus(t.dataset.camera);
    });
  }
}
const ub = document.querySelector('button.unfocus');
if (ub) ub.addEventListener('click', unfocus);
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') unfocus(); });

// The viewer's name and the current time over every picture, every second (R13).
function stamp() {
  const text = `${userName} · ${formatLocal(Date.now())}`;
  for (const w of wall.querySelectorAll('.watermark')) w.textContent = text;
}
stamp();
setInterval(stamp, 1000);

let saved = null;
try { saved = Number(localStorage.getItem(layoutKey)); } catch (_) { /* private mode */ }
if (!LAYOUTS.includes(saved)) {
  // First visit: the smallest layout that shows every camera.
  saved = LAYOUTS.find((n) => n >= tiles.length) || 36;
}
wall.dataset.layout = String(saved);
apply();

window.addEventListener('pagehide', () => { for (const p of players.values()) p.stop(); });

window.vigilLive = {
  tiles() {
    return visibleTiles().map((t) => {
      const p = players.get(t.dataset.camera);
      return {
        camera: Number(t.dataset.camera),
        currentTime: p.video.currentTime,
        error: p.error,
        stream: p.kind,
      };
    });
  },
  setLayout,
  focus: (camera) => focus(String(camera)),
  unfocus,
};
