//! Faults: what can go wrong with a simulated camera, the schedule syntax, and the
//! per-camera state the feeds and sessions consult.
//!
//! A fault applies to every stream (main and sub) of its camera, like a real camera's
//! trouble would.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Error;

/// One kind of camera trouble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Close the TCP connection of current clients; for the fault's duration the camera
    /// answers `503 Service Unavailable` to new requests (it is "offline").
    Disconnect,
    /// Keep TCP open but send no RTP or RTCP for the duration (RTSP keep-alives are still
    /// answered, as a hung encoder would do). Sending resumes at a key frame.
    Stall,
    /// Live only: the same picture repeatedly.
    Freeze,
    /// Live only: a black picture (covered lens).
    Black,
    /// Live only: box-blurred picture (dirty or defocused lens).
    Blur,
    /// Live only: the view moved (scene translated by a large offset).
    Shift,
    /// Add `secs` seconds to the RTP timestamps from now on (the duration is ignored).
    TimestampJump { secs: i64 },
    /// Live only: restart the encoder at another resolution for the duration (new
    /// SPS/PPS in-band before the IDR), then back.
    ParamChange,
}

/// Number of fault kinds that have a duration window.
pub(crate) const WINDOWED: usize = 7;

impl FaultKind {
    /// Whether this fault changes the picture (and so needs a live source).
    pub fn is_picture_fault(self) -> bool {
        matches!(
            self,
            FaultKind::Freeze
                | FaultKind::Black
                | FaultKind::Blur
                | FaultKind::Shift
                | FaultKind::ParamChange
        )
    }

    fn window_index(self) -> Option<usize> {
        Some(match self {
            FaultKind::Disconnect => 0,
            FaultKind::Stall => 1,
            FaultKind::Freeze => 2,
            FaultKind::Black => 3,
            FaultKind::Blur => 4,
            FaultKind::Shift => 5,
            FaultKind::ParamChange => 6,
            FaultKind::TimestampJump { .. } => return None,
        })
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Disconnect => f.write_str("disconnect"),
            FaultKind::Stall => f.write_str("stall"),
            FaultKind::Freeze => f.write_str("freeze"),
            FaultKind::Black => f.write_str("black"),
            FaultKind::Blur => f.write_str("blur"),
            FaultKind::Shift => f.write_str("shift"),
            FaultKind::TimestampJump { secs } => write!(f, "tsjump={secs}"),
            FaultKind::ParamChange => f.write_str("paramchange"),
        }
    }
}

impl FromStr for FaultKind {
    type Err = Error;

    /// Parses `disconnect`, `stall`, `freeze`, `black`, `blur`, `shift`, `paramchange`
    /// and `tsjump[=SECS]` (default 3600 s; SECS may be negative).
    fn from_str(s: &str) -> Result<Self, Error> {
        let err = |detail: &str| Error::FaultSpec {
            spec: s.to_owned(),
            detail: detail.to_owned(),
        };
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let kind = match name.trim().to_ascii_lowercase().as_str() {
            "disconnect" => FaultKind::Disconnect,
            "stall" => FaultKind::Stall,
            "freeze" | "frozen" => FaultKind::Freeze,
            "black" => FaultKind::Black,
            "blur" => FaultKind::Blur,
            "shift" => FaultKind::Shift,
            "paramchange" | "param_change" => FaultKind::ParamChange,
            "tsjump" | "timestamp_jump" => {
                let secs = match arg {
                    Some(a) => a
                        .trim()
                        .parse()
                        .map_err(|_| err("tsjump takes whole seconds, e.g. tsjump=3600"))?,
                    None => 3600,
                };
                return Ok(FaultKind::TimestampJump { secs });
            }
            _ => return Err(err(
                "unknown fault kind; known: disconnect stall freeze black blur shift paramchange tsjump[=SECS]",
            )),
        };
        if arg.is_some() {
            return Err(err("only tsjump takes an argument"));
        }
        Ok(kind)
    }
}

/// A fault to inject at `at` after the simulator starts, lasting `duration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledFault {
    pub camera: String,
    pub kind: FaultKind,
    pub at: Duration,
    pub duration: Duration,
}

/// Parses a duration like `30s`, `500ms`, `2m`, `1h`, `1m30s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    let err = |detail: &str| Error::FaultSpec {
        spec: s.to_owned(),
        detail: detail.to_owned(),
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(err("empty duration"));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| err("bad number of seconds"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    // Each round consumes one `<number><unit>` group; bounded by the string's length.
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| err("number without unit"))?;
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let n: f64 = num.parse().map_err(|_| err("bad number"))?;
        let mult = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(err("unknown unit (use ms, s, m or h)")),
        };
        total += Duration::try_from_secs_f64(n * mult).map_err(|_| err("bad duration"))?;
        rest = tail;
    }
    Ok(total)
}

/// Parses a schedule like `cam2:stall@30s+10s,cam1:black@60s+20s,cam3:tsjump=60@5s`:
/// comma-separated `camera:kind@start[+duration]` (duration defaults to 0).
pub fn parse_schedule(spec: &str) -> Result<Vec<ScheduledFault>, Error> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let err = |detail: &str| Error::FaultSpec {
            spec: item.to_owned(),
            detail: detail.to_owned(),
        };
        let (camera, rest) = item
            .split_once(':')
            .ok_or_else(|| err("missing `camera:` prefix"))?;
        if camera.is_empty() {
            return Err(err("empty camera name"));
        }
        let (kind, when) = rest
            .split_once('@')
            .ok_or_else(|| err("missing `@start`"))?;
        let (at, duration) = match when.split_once('+') {
            Some((a, d)) => (parse_duration(a)?, parse_duration(d)?),
            None => (parse_duration(when)?, Duration::ZERO),
        };
        out.push(ScheduledFault {
            camera: camera.to_owned(),
            kind: kind.parse()?,
            at,
            duration,
        });
    }
    Ok(out)
}

/// What the feeds and sessions of one camera consult each frame: fault windows and the
/// accumulated timestamp jump.
#[derive(Default)]
pub(crate) struct FaultState {
    inner: Mutex<FaultInner>,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct FaultInner {
    until: [Option<Instant>; WINDOWED],
    /// Sum of timestamp jumps, in 90 kHz ticks.
    pub(crate) ts_offset: i64,
}

/// A snapshot of the faults active at one instant.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Active {
    pub offline: bool,
    pub stall: bool,
    pub freeze: bool,
    pub black: bool,
    pub blur: bool,
    pub shift: bool,
    pub param_change: bool,
    pub ts_offset: i64,
}

impl FaultState {
    pub(crate) fn apply(&self, kind: FaultKind, dur: Duration, now: Instant) {
        let mut g = self.inner.lock().expect("fault state poisoned");
        match kind.window_index() {
            Some(i) => {
                let until = now + dur;
                g.until[i] = Some(g.until[i].map_or(until, |u| u.max(until)));
            }
            None => {
                if let FaultKind::TimestampJump { secs } = kind {
                    g.ts_offset = g
                        .ts_offset
                        .wrapping_add(secs.saturating_mul(media::TIMESCALE as i64));
                }
            }
        }
    }

    pub(crate) fn active(&self, now: Instant) -> Active {
        let g = *self.inner.lock().expect("fault state poisoned");
        let on = |i: usize| g.until[i].is_some_and(|u| now < u);
        Active {
            offline: on(0),
            stall: on(1),
            freeze: on(2),
            black: on(3),
            blur: on(4),
            shift: on(5),
            param_change: on(6),
            ts_offset: g.ts_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_parses() {
        let s =
            parse_schedule("cam2:stall@30s+10s, cam1:black@1m+500ms,cam3:tsjump=-5@2s").unwrap();
        assert_eq!(
            s,
            vec![
                ScheduledFault {
                    camera: "cam2".into(),
                    kind: FaultKind::Stall,
                    at: Duration::from_secs(30),
                    duration: Duration::from_secs(10)
                },
                ScheduledFault {
                    camera: "cam1".into(),
                    kind: FaultKind::Black,
                    at: Duration::from_secs(60),
                    duration: Duration::from_millis(500)
                },
                ScheduledFault {
                    camera: "cam3".into(),
                    kind: FaultKind::TimestampJump { secs: -5 },
                    at: Duration::from_secs(2),
                    duration: Duration::ZERO
                },
            ]
        );
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
    }

    #[test]
    fn schedule_rejects_garbage() {
        for bad in [
            "cam1",
            "cam1:stall",
            ":stall@1s",
            "cam1:melt@1s",
            "cam1:stall@1x",
            "cam1:blur=3@1s",
        ] {
            assert!(parse_schedule(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn windows_expire_and_jumps_add_up() {
        let st = FaultState::default();
        let t0 = Instant::now();
        st.apply(FaultKind::Stall, Duration::from_secs(2), t0);
        st.apply(FaultKind::TimestampJump { secs: 10 }, Duration::ZERO, t0);
        st.apply(FaultKind::TimestampJump { secs: 1 }, Duration::ZERO, t0);
        let a = st.active(t0 + Duration::from_secs(1));
        assert!(a.stall && !a.black);
        assert_eq!(a.ts_offset, 11 * 90_000);
        assert!(!st.active(t0 + Duration::from_secs(3)).stall);
    }
}
