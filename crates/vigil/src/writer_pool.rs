//! The writer pool: a few threads that hand every recorded stream's frames to its
//! `store::Writer`, in batches.
//!
//! Why batches: waking a thread for each frame (15–30 per second per camera) costs more
//! CPU than writing the frame. Each pool thread instead sleeps for `interval`, then drains
//! every stream's channel with `try_recv` (which registers no waker, so the network task's
//! send never wakes anyone), writes what arrived as one fragment per stream (one `writev`),
//! and sleeps again. A crash of the recorder therefore loses at most `interval` plus one
//! frame. Each thread serves its own streams; ENOSPC or a failing file is handled inside
//! that stream's writer and never stops the loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{error, info};

use crate::recorder::WriterStatus;

/// One recorded stream, as the pool sees it.
pub struct Slot {
    pub name: String,
    pub rx: mpsc::Receiver<ingest::Event>,
    /// `None` for a stream that is only watched live (not recorded): its events are
    /// drained and dropped.
    pub writer: Option<store::Writer>,
    pub schedule: store::schedule::Schedule,
    pub utc_offset_secs: i64,
    pub status: Arc<Mutex<WriterStatus>>,
    /// Set by the owner to stop: the pool drains what is queued, closes the writer and
    /// sends on `done`.
    pub closing: Arc<AtomicBool>,
    pub done: std::sync::mpsc::Sender<()>,
}

struct Active {
    slot: Slot,
    mode: store::schedule::Mode,
    /// The schedule's answer holds until this local second.
    mode_until: i64,
    last_logged_error: i64,
}

struct Shared {
    incoming: Mutex<Vec<Slot>>,
    stop: AtomicBool,
}

pub struct WriterPool {
    threads: Vec<(Arc<Shared>, std::thread::JoinHandle<()>)>,
    next: usize,
}

impl WriterPool {
    pub fn new(threads: usize, interval: Duration) -> std::io::Result<WriterPool> {
        let mut v = Vec::new();
        for i in 0..threads.max(1) {
            let shared = Arc::new(Shared {
                incoming: Mutex::new(Vec::new()),
                stop: AtomicBool::new(false),
            });
            let s2 = shared.clone();
            let h = std::thread::Builder::new()
                .name(format!("writer-{i}"))
                .spawn(move || run(s2, interval))?;
            v.push((shared, h));
        }
        Ok(WriterPool {
            threads: v,
            next: 0,
        })
    }

    /// Hands a stream to one of the threads (round robin).
    pub fn add(&mut self, slot: Slot) {
        let (shared, h) = &self.threads[self.next % self.threads.len()];
        self.next += 1;
        shared.incoming.lock().unwrap().push(slot);
        h.thread().unpark();
    }

    /// Drains and closes every stream, then ends the threads.
    pub fn shutdown(self) {
        for (s, h) in &self.threads {
            s.stop.store(true, Ordering::SeqCst);
            h.thread().unpark();
        }
        for (_, h) in self.threads {
            let _ = h.join();
        }
    }
}

fn run(shared: Arc<Shared>, interval: Duration) {
    let mut active: Vec<Active> = Vec::new();
    loop {
        let tick = Instant::now();
        active.extend(
            shared
                .incoming
                .lock()
                .unwrap()
                .drain(..)
                .map(|slot| Active {
                    slot,
                    mode: store::schedule::Mode::Continuous,
                    mode_until: i64::MIN,
                    last_logged_error: i64::MIN,
                }),
        );
        let stopping = shared.stop.load(Ordering::SeqCst);
        let mut i = 0;
        while i < active.len() {
            let open = active[i].drain();
            if open && !stopping && !active[i].slot.closing.load(Ordering::SeqCst) {
                i += 1;
                continue;
            }
            let mut a = active.swap_remove(i);
            // Whatever arrived since the drain is written too.
            a.drain();
            a.close();
        }
        if stopping {
            return;
        }
        // Sleep out the rest of the interval; unparked early when a stream is added or on stop.
        if let Some(rest) = interval.checked_sub(tick.elapsed()) {
            std::thread::park_timeout(rest);
        }
    }
}

impl Active {
    /// Handles every queued event; false when the network side has gone (channel closed).
    fn drain(&mut self) -> bool {
        let mut any = false;
        let open = loop {
            match self.slot.rx.try_recv() {
                Ok(ev) => {
                    any = true;
                    self.handle(ev);
                }
                Err(mpsc::error::TryRecvError::Empty) => break true,
                Err(mpsc::error::TryRecvError::Disconnected) => break false,
            }
        };
        if any {
            if let Some(Err(e)) = self.slot.writer.as_mut().map(|w| w.flush()) {
                self.write_error(e, None);
            }
            self.publish_status();
        }
        open
    }

    /// Publishes the writer's state for `status.json`, once per batch (not per frame).
    fn publish_status(&self) {
        let Some(writer) = self.slot.writer.as_ref() else {
            return;
        };
        let mut s = self.slot.status.lock().unwrap();
        s.schedule_off = self.mode == store::schedule::Mode::Off;
        s.recording = writer.is_recording();
        s.segments_closed = writer.stats().segments_closed;
    }

    fn handle(&mut self, ev: ingest::Event) {
        use store::schedule::Mode;
        let Some(writer) = self.slot.writer.as_mut() else {
            return;
        };
        match ev {
            ingest::Event::Frame(f) => {
                let local =
                    f.time.div_euclid(media::time::TICKS_PER_SEC) + self.slot.utc_offset_secs;
                // Re-evaluate at the schedule's next change (or if time went back a lot).
                if local >= self.mode_until || local < self.mode_until - 8 * 86_400 {
                    self.mode = self.slot.schedule.mode_at(local);
                    self.mode_until = self
                        .slot
                        .schedule
                        .next_change(local)
                        .map(|d| local + d.max(1))
                        .unwrap_or(local + 60);
                }
                if self.mode == Mode::Off {
                    if writer.is_recording() {
                        let r = writer.end_segment("recording schedule: off");
                        self.log_end(r);
                    }
                    return;
                }
                if let Err(e) = writer.push(&f) {
                    self.write_error(e, Some(f.time));
                }
            }
            ingest::Event::Disconnected { reason } => {
                let r = writer.end_segment(format!("camera disconnected: {reason}"));
                self.log_end(r);
            }
            ingest::Event::Discontinuity { reason } => {
                let r = writer.end_segment(reason);
                self.log_end(r);
            }
            ingest::Event::Connected { .. } => {}
        }
    }

    fn write_error(&mut self, e: store::WriteError, at: Option<media::Ticks>) {
        let mut s = self.slot.status.lock().unwrap();
        s.write_errors += 1;
        s.last_error = Some(e.to_string());
        drop(s);
        // One log line per 30 s per stream: a full disk must not flood the log.
        let secs = at
            .map(|t| t / media::time::TICKS_PER_SEC)
            .unwrap_or(self.last_logged_error + 30);
        if secs >= self.last_logged_error + 30 {
            self.last_logged_error = secs;
            error!(stream = %self.slot.name, "recording: {e}");
        }
    }

    fn log_end(&self, r: Result<(), store::WriteError>) {
        if let Err(e) = r {
            error!(stream = %self.slot.name, "closing a segment: {e}");
        }
    }

    fn close(self) {
        let Active { mut slot, .. } = self;
        match slot.writer.take().map(|w| w.close()) {
            Some(Ok(stats)) => info!(stream = %slot.name, ?stats, "writer closed"),
            Some(Err(e)) => error!(stream = %slot.name, "closing the last segment: {e}"),
            None => {}
        }
        slot.status.lock().unwrap().recording = false;
        let _ = slot.done.send(());
    }
}
