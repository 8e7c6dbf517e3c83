//! 90 kHz time: the one time unit in Vigil's code.

/// Ticks of a 90 kHz clock. Wall times are ticks since the Unix epoch (UTC).
pub type Ticks = i64;

/// Ticks per second.
pub const TIMESCALE: u32 = 90_000;

/// Ticks per second as `i64`, for arithmetic.
pub const TICKS_PER_SEC: i64 = TIMESCALE as i64;
