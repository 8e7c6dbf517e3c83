// Vigil playback: a day's timeline (recorded ranges and holes) and up to four cameras
// played in sync through Media Source Extensions.
//
// Each player streams `/api/cameras/{id}/fmp4?start=MS` (init segment + fragments from the
// key frame at or before MS; decode time 0 = the `X-Vigil-Base` wall time). The first
// camera is the master clock; the others follow it within 100 ms. Speeds 1/2/4/8× use
// playbackRate; "step" pauses and advances one frame. Times are shown in the school's
// local time (UTC+7). Strings come from the server-rendered bundle (#playback-strings).
// What the user may not play (outside their recent window and grants, the timeline's
// `allowed` spans) is greyed out; a click there goes to the next allowed span or is refused.

const S = JSON.parse(document.getElementById('playback-strings').textContent);
const C = JSON.parse(document.getElementById('playback-config').textContent);
const userName = document.getElementById('pb-user').dataset.userName;
const timelineEl = document.getElementById('timeline');
const cursorEl = timelineEl.querySelector('.cursor');
const clockEl = document.querySelector('.pb-clock');
const statusEl = document.querySelector('.pb-status');
const playBtn = document.querySelector('button.play');
const downloadEl = document.querySelector('a.download');

const AHEAD_S = 30; // buffer this much ahead, then wait
const KEEP_S = 30; // keep this much behind
const SYNC_S = 0.1; // followers stay within this of the master
const TICK_MS = 200;
const OFFSET_MS = (C.utcOffsetMinutes ?? 420) * 60000;

function pad(n) { return String(n).padStart(2, '0'); }
function formatLocal(ms, withDate = true) {
  const d = new Date(ms + OFFSET_MS);
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return withDate
    ? `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${time}` : time;
}
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
function status(key) { statusEl.textContent = key ? (S[key] || key) : ''; }

let speed = 1;
let playing = true;
let fps = 15;
let timeline = null;

class Player {
  constructor(video) {
    this.video = video;
    this.camera = Number(video.dataset.camera);
    this.tile = video.closest('.tile');
    this.base = null; // ms of decode time 0
    this.from = null; // ms the current load started at (key frame)
    this.error = null;
    this.gen = 0; // load generation (a seek starts a new one)
    this.abort = null;
    this.ms = null;
    this.sb = null;
    this.done = false; // the server sent everything
    video.addEventListener('error', () => {
      const e = video.error;
      this.setError(e ? `video ${e.code}: ${e.message || ''}` : 'video error');
    });
  }

  setError(msg, key = 'playback.error') {
    this.error = msg;
    this.tile.querySelector('.tile-status').textContent = S[key] || key;
  }

  wallMs() {
    return this.base === null ? null : this.base + this.video.currentTime * 1000;
  }

  // Whether wall time `ms` is buffered in this player.
  has(ms) {
    if (this.base === null) return false;
    const t = (ms - this.base) / 1000;
    const b = this.video.buffered;
    for (let i = 0; i < b.length; i++) if (t >= b.start(i) && t < b.end(i) - 0.05) return true;
    return false;
  }

  async load(ms) {
    const gen = ++this.gen;
    if (this.abort) this.abort.abort();
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.error = null;
    this.done = false;
    this.tile.querySelector('.tile-status').textContent = S['playback.loading'];
    const end = Math.min(C.dayEnd, (timeline && timeline.now) || C.dayEnd);
    let resp;
    try {
      resp = await fetch(`/api/cameras/${this.camera}/fmp4?start=${Math.floor(ms)}&end=${end}`,
        { signal, credentials: 'same-origin' });
    } catch (e) {
      if (gen === this.gen) this.setError(String(e));
      return;
    }
    if (gen !== this.gen) return;
    if (!resp.ok) {
      const key = resp.status === 403 ? 'playback.forbidden'
        : resp.status === 404 ? 'playback.no_footage' : 'playback.error';
      this.base = null;
      this.setError(`HTTP ${resp.status}`, key);
      return;
    }
    const codec = resp.headers.get('x-vigil-codec') || 'avc1.42e01e';
    const type = `video/mp4; codecs="${codec}"`;
    if (!MediaSource.isTypeSupported(type)) {
      this.setError(`unsupported ${codec}`, 'playback.h265');
      return;
    }
    this.base = Number(resp.headers.get('x-vigil-base'));
    this.from = this.base;
    const msrc = new MediaSource();
    this.ms = msrc;
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    this.video.src = URL.createObjectURL(msrc);
    await new Promise((r) => msrc.addEventListener('sourceopen', r, { once: true }));
    if (gen !== this.gen) return;
    const sb = msrc.addSourceBuffer(type);
    this.sb = sb;
    const reader = resp.body.getReader();
    let first = true;
    // Bounded by the response: the server ends it at `end`.
    for (;;) {
      let r;
      try { r = await reader.read(); } catch (e) {
        if (gen === this.gen && e.name !== 'AbortError') this.setError(String(e));
        return;
      }
      if (gen !== this.gen) return;
      if (r.done) break;
      await this.append(r.value, gen);
      if (gen !== this.gen) return;
      if (first && this.video.buffered.length) {
        first = false;
        this.video.currentTime = Math.max(0, (ms - this.base) / 1000);
        this.video.playbackRate = speed;
        this.tile.querySelector('.tile-status').textContent = '';
        if (playing) this.video.play().catch(() => {});
      }
      // Back-pressure: do not read further than AHEAD_S ahead of the play position.
      while (gen === this.gen && this.bufferedAhead() > AHEAD_S * Math.max(1, speed / 2)) {
        this.trim();
        await sleep(250);
      }
    }
    this.done = true;
    try { if (msrc.readyState === 'open' && !sb.updating) msrc.endOfStream(); } catch (_) { /* closed */ }
  }

  bufferedAhead() {
    const b = this.video.buffered;
    if (!b.length) return 0;
    return b.end(b.length - 1) - this.video.currentTime;
  }

  async append(chunk, gen) {
    const sb = this.sb;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        sb.appendBuffer(chunk);
        await new Promise((r) => sb.addEventListener('updateend', r, { once: true }));
        return;
      } catch (e) {
        if (gen !== this.gen) return;
        if (e.name !== 'QuotaExceededError') { this.setError(String(e)); throw e; }
        this.trim(true);
        await sleep(200);
      }
    }
  }

  trim(force = false) {
    const sb = this.sb;
    const b = this.video.buffered;
    if (!sb || sb.updating || !b.length) return;
    const t = this.video.currentTime;
    const keep = force ? 2 : KEEP_S;
    if (t - b.start(0) > keep + 5) {
      try { sb.remove(b.start(0), t - keep); } catch (_) { /* updating */ }
    }
  }

  // Jumps over a hole (a gap between buffered ranges) at the play position.
  skipGap() {
    const v = this.video;
    const b = v.buffered;
    for (let i = 0; i < b.length - 1; i++) {
      if (v.currentTime >= b.end(i) - 0.15 && v.currentTime < b.start(i + 1)) {
        v.currentTime = b.start(i + 1);
        return;
      }
    }
  }
}

const players = [...document.querySelectorAll('video.player')].map((v) => new Player(v));
const master = () => players.find((p) => p.base !== null) || players[0];

function currentMs() {
  const m = master();
  return m ? m.wallMs() : null;
}

// The spans of the day the user may play (their recent window, their grants); `null` when
// the whole day may be played. Older servers only sent `limited_from`.
function allowedSpans(tl) {
  if (!tl) return null;
  if (Array.isArray(tl.allowed) && tl.allowed.length) return tl.allowed;
  if (tl.limited_from !== null && tl.limited_from !== undefined) {
    return [{ start: tl.limited_from, end: C.dayEnd }];
  }
  return null;
}

// Where playback may go for a request at `ms`: `ms` itself inside an allowed span, else the
// start of the next allowed span, else null (nothing allowed from there on).
function allowedAt(ms) {
  const spans = allowedSpans(timeline);
  if (!spans) return ms;
  for (const s of spans) {
    if (ms < s.start) return s.start;
    if (ms < s.end) return ms;
  }
  return null;
}

function seek(ms) {
  ms = Math.max(C.dayStart, Math.min(C.dayEnd, Number(ms)));
  const to = allowedAt(ms);
  if (to === null) {
    // Outside everything the user may play: refused, the cursor stays where playback is.
    status('playback.limited');
    drawCursor(currentMs());
    return;
  }
  if (to !== ms) {
    status('playback.limited');
    ms = to;
  } else {
    status('');
  }
  for (const p of players) {
    if (p.has(ms)) {
      p.video.currentTime = (ms - p.base) / 1000;
    } else {
      p.load(ms);
    }
  }
  drawCursor(ms);
}

function setSpeed(s) {
  speed = s;
  for (const p of players) p.video.playbackRate = s;
  for (const b of document.querySelectorAll('button[data-speed]')) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.speed) === s));
  }
}

function setPlaying(on) {
  playing = on;
  for (const p of players) {
    if (on) p.video.play().catch(() => {}); else p.video.pause();
  }
  playBtn.textContent = on ? S['playback.pause'] : S['playback.play'];
}

function step() {
  setPlaying(false);
  const m = master();
  if (!m || m.base === null) return;
  m.video.currentTime += 1 / (fps || 15);
  follow(true);
}

// Followers track the master's wall time.
function follow(exact = false) {
  const m = master();
  const wall = m && m.wallMs();
  if (wall === null || wall === undefined) return;
  for (const p of players) {
    if (p === m || p.base === null) continue;
    const target = (wall - p.base) / 1000;
    if (Math.abs(p.video.currentTime - target) > (exact ? 0.001 : SYNC_S)) {
      if (p.has(wall)) p.video.currentTime = target;
      else if (p.done || target < 0) { /* nothing recorded there for this camera */ }
    }
    if (p.video.playbackRate !== speed) p.video.playbackRate = speed;
    if (playing && p.video.paused && p.has(wall)) p.video.play().catch(() => {});
  }
}

function pct(ms) {
  return ((ms - C.dayStart) / (C.dayEnd - C.dayStart)) * 100;
}

function drawCursor(ms) {
  if (ms === null || ms === undefined) return;
  cursorEl.style.left = `${Math.max(0, Math.min(100, pct(ms)))}%`;
  clockEl.textContent = formatLocal(ms);
  if (downloadEl) {
    const a = Math.floor(ms);
    downloadEl.href = `/api/cameras/${master().camera}/video.mp4?start=${a}&end=${a + 5 * 60000}`;
  }
}

function drawTimeline(tl) {
  for (const el of timelineEl.querySelectorAll('.range,.hole,.hour,.limit')) el.remove();
  const add = (cls, span, title) => {
    const d = document.createElement('div');
    d.className = cls;
    d.dataset.start = String(span.start);
    d.dataset.end = String(span.end);
    d.style.left = `${pct(span.start)}%`;
    d.style.width = `${Math.max(0.05, pct(span.end) - pct(span.start))}%`;
    d.title = `${title}: ${formatLocal(span.start, false)} – ${formatLocal(span.end, false)}`;
    timelineEl.insertBefore(d, cursorEl);
  };
  for (const r of tl.ranges) add('range', r, S['playback.recorded']);
  for (const h of tl.holes) add('hole', h, S['playback.hole']);
  // Grey out what the user may not play: the gaps between their allowed spans, up to now.
  const spans = allowedSpans(tl);
  if (spans) {
    const stop = Math.min(C.dayEnd, tl.now ?? C.dayEnd);
    let pos = C.dayStart;
    const grey = (a, b) => {
      if (b <= a) return;
      const d = document.createElement('div');
      d.className = 'limit';
      d.dataset.start = String(a);
      d.dataset.end = String(b);
      d.style.left = `${pct(a)}%`;
      d.style.width = `${Math.min(100, pct(b) - pct(a))}%`;
      d.title = S['playback.limited'];
      timelineEl.insertBefore(d, cursorEl);
    };
    for (const s of spans) {
      grey(pos, Math.min(s.start, stop));
      pos = Math.max(pos, s.end);
    }
    grey(pos, stop);
  }
  for (let h = 0; h <= 24; h += 2) {
    const d = document.createElement('div');
    d.className = 'hour';
    d.style.left = `${(h / 24) * 100}%`;
    d.textContent = `${pad(h)}h`;
    timelineEl.appendChild(d);
  }
}

function msAt(clientX) {
  const r = timelineEl.getBoundingClientRect();
  const f = Math.max(0, Math.min(1, (clientX - r.left) / r.width));
  return C.dayStart + f * (C.dayEnd - C.dayStart);
}

let scrubbing = false;
timelineEl.addEventListener('pointerdown', (e) => {
  scrubbing = true;
  timelineEl.setPointerCapture(e.pointerId);
  drawCursor(msAt(e.clientX));
});
timelineEl.addEventListener('pointermove', (e) => { if (scrubbing) drawCursor(msAt(e.clientX)); });
timelineEl.addEventListener('pointerup', (e) => {
  if (!scrubbing) return;
  scrubbing = false;
  seek(msAt(e.clientX));
});
timelineEl.addEventListener('keydown', (e) => {
  const cur = currentMs();
  if (cur === null) return;
  if (e.key === 'ArrowRight') seek(cur + 10000);
  else if (e.key === 'ArrowLeft') seek(cur - 10000);
});
for (const b of document.querySelectorAll('button[data-speed]')) {
  b.addEventListener('click', () => setSpeed(Number(b.dataset.speed)));
}
playBtn.addEventListener('click', () => setPlaying(!playing));
document.querySelector('button.step').addEventListener('click', step);

function stamp() {
  const text = `${userName} · ${formatLocal(Date.now())}`;
  for (const w of document.querySelectorAll('.players .watermark')) w.textContent = text;
}
stamp();
setInterval(stamp, 1000);

setInterval(() => {
  for (const p of players) {
    if (!p.video.paused) p.skipGap();
    p.trim();
  }
  follow();
  if (!scrubbing) drawCursor(currentMs());
}, TICK_MS);

window.vigilPlayback = {
  seek,
  currentMs,
  players() {
    return players.map((p) => ({
      camera: p.camera,
      currentTime: p.video.currentTime,
      error: p.error,
      wallMs: p.wallMs(),
    }));
  },
  setSpeed,
  step,
  play: () => setPlaying(true),
  pause: () => setPlaying(false),
};

async function start() {
  const first = C.cameras[0];
  const resp = await fetch(`/api/cameras/${first.id}/timeline?day=${C.day}`,
    { credentials: 'same-origin' });
  if (!resp.ok) {
    status(resp.status === 403 ? 'playback.forbidden' : 'playback.error');
    return;
  }
  timeline = await resp.json();
  fps = timeline.fps || 15;
  drawTimeline(timeline);
  let at = C.initial;
  if (at === null || at === undefined) {
    // The last minute of the newest footage the user may play.
    const spans = allowedSpans(timeline) || [{ start: C.dayStart, end: C.dayEnd }];
    at = null;
    for (const r of timeline.ranges) {
      for (const s of spans) {
        const a = Math.max(r.start, s.start);
        const b = Math.min(r.end, s.end);
        if (b > a) at = Math.max(a, b - 60000);
      }
    }
  }
  if (at !== null) seek(at);
  else status('playback.no_footage');
}
setPlaying(true);
start();
