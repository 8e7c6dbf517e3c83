//! Mapping the camera's RTP clock to wall time, and watching it drift.
//!
//! At session start the first frame's RTP time is *anchored* to its receive time:
//! `wall(frame) = anchor_wall + (rtp − anchor_rtp)` (in 90 kHz ticks). From then on each
//! frame's *drift* — receive time minus mapped time — is measured. Network delay only ever
//! makes a frame late, so the minimum drift over a sliding window (~30 s) is the clock
//! difference with the jitter cut out. When that smoothed drift exceeds `max_drift`, or the
//! RTP time jumps (a step that disagrees with the receive clock by more than `max_jump`, or
//! goes backwards by more than `max_jump`), the clock re-anchors on the frame's receive time
//! and says so, so that the recorder can start a new segment.
//!
//! Between re-anchors, frame times are strictly increasing: a frame whose RTP time does not
//! advance (retina's timestamps going backwards, or two frames with one timestamp) gets the
//! previous time plus one tick. Streams with B-frames (presentation order ≠ decode order) are
//! not supported by this rule; IP cameras do not normally send them.

use std::time::SystemTime;

use media::time::TICKS_PER_SEC;
use media::Ticks;

/// Number of one-second buckets in the drift window.
const WINDOW_SECS: usize = 30;

/// Converts a system time to 90 kHz ticks since the Unix epoch.
pub fn wall_ticks(t: SystemTime) -> Ticks {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64 * TICKS_PER_SEC + i64::from(d.subsec_nanos()) * 9 / 100_000,
        Err(e) => {
            let d = e.duration();
            -(d.as_secs() as i64 * TICKS_PER_SEC + i64::from(d.subsec_nanos()) * 9 / 100_000)
        }
    }
}

/// What the clock did while mapping a frame, besides mapping it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClockStep {
    /// The RTP time stepped by `jump` ticks more than the receive clock: re-anchored.
    Jump { jump: Ticks },
    /// The smoothed drift exceeded the limit: re-anchored.
    Drift { drift: Ticks },
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Second (of the receive clock, since the anchor) this bucket holds; -1 when empty.
    sec: i64,
    min: Ticks,
}

const EMPTY: Bucket = Bucket { sec: -1, min: 0 };

/// RTP → wall clock mapping of one session. All times in 90 kHz ticks.
#[derive(Debug)]
pub(crate) struct Clock {
    clock_rate: i64,
    max_drift: Ticks,
    max_jump: Ticks,
    anchored: bool,
    anchor_rtp: i64,
    anchor_wall: Ticks,
    last_rtp: i64,
    last_recv: Ticks,
    last_time: Ticks,
    buckets: [Bucket; WINDOW_SECS],
    /// Minimum over all buckets except the current one (recomputed when a bucket opens).
    others_min: Option<Ticks>,
    cur: usize,
    smoothed: Ticks,
    /// (receive time, smoothed drift) reference for the drift rate.
    rate_ref: Option<(Ticks, Ticks)>,
}

impl Clock {
    pub(crate) fn new(clock_rate: u32, max_drift: Ticks, max_jump: Ticks) -> Clock {
        Clock {
            clock_rate: i64::from(clock_rate.max(1)),
            max_drift,
            max_jump,
            anchored: false,
            anchor_rtp: 0,
            anchor_wall: 0,
            last_rtp: 0,
            last_recv: 0,
            last_time: 0,
            buckets: [EMPTY; WINDOW_SECS],
            others_min: None,
            cur: 0,
            smoothed: 0,
            rate_ref: None,
        }
    }

    fn rtp_to_ticks(&self, rtp: i64) -> Ticks {
        if self.clock_rate == TICKS_PER_SEC {
            rtp
        } else {
            (i128::from(rtp) * i128::from(TICKS_PER_SEC) / i128::from(self.clock_rate)) as Ticks
        }
    }

    fn anchor(&mut self, rtp: i64, recv: Ticks) {
        self.anchored = true;
        self.anchor_rtp = rtp;
        self.anchor_wall = recv;
        self.buckets = [EMPTY; WINDOW_SECS];
        self.others_min = None;
        self.smoothed = 0;
        self.rate_ref = None;
        // The anchor frame itself has zero drift by definition.
        self.observe(recv, 0);
    }

    /// Maps a frame with RTP timestamp `rtp` (in the stream's clock rate, as retina's
    /// `Timestamp::timestamp()`) received at wall time `recv` to its wall time.
    pub(crate) fn map(&mut self, rtp: i64, recv: Ticks) -> (Ticks, Option<ClockStep>) {
        if !self.anchored {
            self.anchor(rtp, recv);
            self.set_last(rtp, recv, recv);
            return (recv, None);
        }
        let rtp_delta = self.rtp_to_ticks(rtp - self.last_rtp);
        let recv_delta = recv - self.last_recv;
        let jump = rtp_delta - recv_delta;
        if rtp_delta < -self.max_jump || (rtp_delta > self.max_jump && jump > self.max_jump) {
            self.anchor(rtp, recv);
            self.set_last(rtp, recv, recv);
            return (recv, Some(ClockStep::Jump { jump }));
        }
        let mapped = self.anchor_wall + self.rtp_to_ticks(rtp - self.anchor_rtp);
        let drift = self.observe(recv, recv - mapped);
        if drift.abs() > self.max_drift {
            self.anchor(rtp, recv);
            self.set_last(rtp, recv, recv);
            return (recv, Some(ClockStep::Drift { drift }));
        }
        let time = mapped.max(self.last_time + 1);
        self.set_last(rtp, recv, time);
        (time, None)
    }

    fn set_last(&mut self, rtp: i64, recv: Ticks, time: Ticks) {
        self.last_rtp = rtp;
        self.last_recv = recv;
        self.last_time = time;
    }

    /// Adds a drift sample; returns the smoothed (windowed minimum) drift.
    fn observe(&mut self, recv: Ticks, drift: Ticks) -> Ticks {
        let sec = (recv - self.anchor_wall).div_euclid(TICKS_PER_SEC);
        let b = &mut self.buckets[self.cur];
        if b.sec == sec {
            b.min = b.min.min(drift);
        } else if sec > b.sec {
            // A new second: open its bucket, forget buckets that left the window.
            self.cur = sec.rem_euclid(WINDOW_SECS as i64) as usize;
            self.buckets[self.cur] = Bucket { sec, min: drift };
            let oldest = sec - WINDOW_SECS as i64;
            let mut m: Option<Ticks> = None;
            for (i, b) in self.buckets.iter_mut().enumerate() {
                if i == self.cur || b.sec < 0 {
                    continue;
                }
                if b.sec <= oldest {
                    *b = EMPTY;
                    continue;
                }
                m = Some(m.map_or(b.min, |m| m.min(b.min)));
            }
            self.others_min = m;
            if self.rate_ref.is_none() && sec >= WINDOW_SECS as i64 {
                let s = m.map_or(drift, |m| m.min(drift));
                self.rate_ref = Some((recv, s));
            }
        } else {
            // The receive clock went back (the host's clock was set): fold into the current
            // bucket rather than corrupt the window.
            b.min = b.min.min(drift);
        }
        let cur = self.buckets[self.cur].min;
        self.smoothed = self.others_min.map_or(cur, |m| m.min(cur));
        self.smoothed
    }

    /// Smoothed drift (receive − mapped) in ticks; positive: the camera clock runs behind.
    pub(crate) fn drift(&self) -> Ticks {
        self.smoothed
    }

    /// Rate of drift in parts per million (positive: the camera clock is slow), once the
    /// window has been full for at least 20 s (both ends of the slope then lag equally).
    pub(crate) fn drift_ppm(&self) -> Option<f64> {
        let (t0, d0) = self.rate_ref?;
        let dt = self.last_recv - t0;
        if dt < 20 * TICKS_PER_SEC {
            return None;
        }
        Some((self.smoothed - d0) as f64 / dt as f64 * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Ticks = TICKS_PER_SEC;
    const T0: Ticks = 1_700_000_000 * S;
    const FRAME: Ticks = 3000; // 30 fps

    fn clock() -> Clock {
        Clock::new(90_000, S, 3 * S)
    }

    #[test]
    fn wall_ticks_of_known_times() {
        use std::time::Duration;
        let t = SystemTime::UNIX_EPOCH + Duration::new(10, 500_000_000);
        assert_eq!(wall_ticks(t), 10 * S + S / 2);
        let t = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(wall_ticks(t), -S);
    }

    #[test]
    fn maps_rtp_elapsed_and_ignores_jitter() {
        let mut c = clock();
        let rtp0 = 123_456_789i64;
        let mut last = 0;
        for i in 0..3000i64 {
            // Up to 200 ms of network delay, never early.
            let jitter = (i * 7919) % (S / 5);
            let (t, step) = c.map(rtp0 + i * FRAME, T0 + i * FRAME + jitter);
            assert_eq!(step, None);
            if i > 0 {
                assert_eq!(t, T0 + i * FRAME, "frame {i}");
                assert!(t > last);
            }
            last = t;
        }
        assert!(c.drift() >= 0 && c.drift() < S / 5, "{}", c.drift());
    }

    #[test]
    fn other_clock_rates_are_scaled() {
        let mut c = Clock::new(1000, S, 3 * S);
        c.map(0, T0);
        let (t, _) = c.map(500, T0 + S / 2);
        assert_eq!(t, T0 + S / 2);
    }

    #[test]
    fn strictly_increasing_when_rtp_repeats_or_steps_back() {
        let mut c = clock();
        let (a, _) = c.map(1000, T0);
        let (b, _) = c.map(1000, T0 + FRAME);
        let (d, _) = c.map(900, T0 + 2 * FRAME);
        assert!(a < b && b < d, "{a} {b} {d}");
    }

    #[test]
    fn forward_and_backward_jumps_reanchor() {
        let mut c = clock();
        for i in 0..10 {
            c.map(i * FRAME, T0 + i * FRAME);
        }
        let recv = T0 + 10 * FRAME;
        let (t, step) = c.map(10 * FRAME + 3600 * S, recv);
        assert_eq!(t, recv);
        assert!(matches!(step, Some(ClockStep::Jump { jump }) if jump > 3599 * S));
        let (t2, step) = c.map(11 * FRAME + 3600 * S, recv + FRAME);
        assert_eq!((t2, step), (recv + FRAME, None));
        let (t3, step) = c.map(0, recv + 2 * FRAME);
        assert!(matches!(step, Some(ClockStep::Jump { jump }) if jump < -3599 * S));
        assert_eq!(t3, recv + 2 * FRAME);
    }

    #[test]
    fn network_stall_is_not_a_jump() {
        let mut c = clock();
        c.map(0, T0);
        // 5 s without delivery, then the buffered frames arrive in a burst.
        let (t, step) = c.map(FRAME, T0 + 5 * S);
        assert_eq!((t, step), (T0 + FRAME, None));
        let (t, step) = c.map(2 * FRAME, T0 + 5 * S + 10);
        assert_eq!((t, step), (T0 + 2 * FRAME, None));
    }

    #[test]
    fn slow_camera_clock_reanchors_and_reports_rate() {
        // The camera's clock runs 1000 ppm slow: after 1000 s it is 1 s behind.
        let mut c = clock();
        let mut reanchored_at = None;
        let mut ppm = None;
        for i in 0..(1200 * 30) {
            let recv = T0 + i * FRAME;
            let rtp = i * FRAME * 999 / 1000;
            let (_, step) = c.map(rtp, recv);
            if i == 600 * 30 {
                ppm = c.drift_ppm();
            }
            if let Some(ClockStep::Drift { drift }) = step {
                assert!(drift > S);
                reanchored_at = Some(i / 30);
                break;
            }
        }
        let ppm = ppm.unwrap();
        assert!((ppm - 1000.0).abs() < 5.0, "{ppm}");
        let at = reanchored_at.expect("re-anchored");
        assert!((1000..1040).contains(&at), "{at}");
    }

    #[test]
    fn fast_camera_clock_reanchors_without_waiting_for_the_window() {
        let mut c = clock();
        c.map(0, T0);
        // Mapped time 1.5 s in the future is caught at once (min filter).
        let (t, step) = c.map(2 * S + S / 2, T0 + S);
        assert!(matches!(step, Some(ClockStep::Drift { drift }) if drift == -(S + S / 2)));
        assert_eq!(t, T0 + S);
    }
}
