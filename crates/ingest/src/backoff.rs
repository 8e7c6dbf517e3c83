//! Exponential reconnect backoff with jitter.

use std::time::Duration;

use crate::BackoffConfig;

/// The reconnect delay schedule of one stream (see [`BackoffConfig`]).
#[derive(Debug)]
pub(crate) struct Backoff {
    cfg: BackoffConfig,
    /// Failures since the last reset.
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(cfg: BackoffConfig) -> Backoff {
        Backoff { cfg, attempt: 0 }
    }

    /// Called after each session with how long it delivered frames: a session that streamed
    /// for `reset_after` or more starts the schedule over.
    pub(crate) fn session_ended(&mut self, streamed: Duration) {
        if streamed >= self.cfg.reset_after {
            self.attempt = 0;
        }
    }

    /// The next delay, drawing the jitter from the thread's random generator.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let j = self.cfg.jitter.clamp(0.0, 1.0);
        let factor = if j > 0.0 {
            rand::random_range(1.0 - j..=1.0 + j)
        } else {
            1.0
        };
        self.next_delay_with(factor)
    }

    /// The next delay scaled by `factor` (the jitter draw).
    pub(crate) fn next_delay_with(&mut self, factor: f64) -> Duration {
        let exp = self.attempt.min(31);
        self.attempt = self.attempt.saturating_add(1);
        let nominal = self
            .cfg
            .base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.cfg.max)
            .min(self.cfg.max);
        nominal.mul_f64(factor.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[Duration]) -> Vec<f64> {
        v.iter().map(Duration::as_secs_f64).collect()
    }

    #[test]
    fn doubles_up_to_the_cap_and_resets_after_a_long_session() {
        let mut b = Backoff::new(BackoffConfig::default());
        let d: Vec<_> = (0..8).map(|_| b.next_delay_with(1.0)).collect();
        assert_eq!(secs(&d), [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        b.session_ended(Duration::from_secs(29));
        assert_eq!(b.next_delay_with(1.0), Duration::from_secs(30));
        b.session_ended(Duration::from_secs(30));
        assert_eq!(b.next_delay_with(1.0), Duration::from_secs(1));
        assert_eq!(b.next_delay_with(0.8), Duration::from_millis(1600));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut b = Backoff::new(BackoffConfig::default());
        for _ in 0..200 {
            b.attempt = 0;
            let d = b.next_delay().as_secs_f64();
            assert!((0.8..=1.2).contains(&d), "{d}");
        }
        for _ in 0..100 {
            let d = b.next_delay().as_secs_f64();
            assert!(d <= 36.0, "{d}");
        }
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(BackoffConfig::default());
        b.attempt = u32::MAX - 1;
        assert_eq!(b.next_delay_with(1.0), Duration::from_secs(30));
        assert_eq!(b.next_delay_with(1.0), Duration::from_secs(30));
    }
}
