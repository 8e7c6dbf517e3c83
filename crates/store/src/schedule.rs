//! Recording schedules ("theo lịch trình"): per camera, weekly time windows with a mode.
//!
//! A [`Schedule`] is a list of [`Window`]s — days of the week, a time range of the local
//! day, a [`Mode`] — and a default mode for the times no window covers. Later windows
//! override earlier ones where they overlap. The recorder asks [`Schedule::mode_at`] what to
//! do now and sleeps [`Schedule::next_change`] seconds before asking again. The store keeps
//! a schedule as JSON (serde); the CLI reads and prints the compact syntax of
//! [`Schedule::parse`] and [`Display`](std::fmt::Display).
//!
//! Times are *local*: the caller adds its UTC offset to Unix seconds before asking (Vietnam
//! is UTC+7 all year, no daylight saving time; where there is DST, the caller's offset for
//! that instant is what counts).
//!
//! What it is not for: recording itself, time zones, or motion detection — [`Mode::Motion`]
//! is reserved for when analysis exists and is recorded as [`Mode::Continuous`] until then.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const MINUTES_PER_DAY: u16 = 1440;
const SECS_PER_DAY: i64 = 86_400;
/// `next_change` looks this far ahead at most: a weekly schedule repeats after 7 days.
const SEARCH_DAYS: i64 = 8;

/// Day names in bit order (Mon = bit 0 … Sun = bit 6).
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// All seven days.
pub const EVERY_DAY: u8 = 0x7f;

/// What the recorder does during a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Record everything.
    #[default]
    Continuous,
    /// Record nothing.
    Off,
    /// Record when there is motion. Reserved: motion analysis comes later; until then a
    /// Motion window is recorded continuously ([`Mode::records`] is `true`), so choosing it
    /// never loses footage.
    Motion,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Continuous => "continuous",
            Mode::Off => "off",
            Mode::Motion => "motion",
        }
    }

    /// Whether the recorder writes footage in this mode (Motion: yes, until analysis exists).
    pub fn records(self) -> bool {
        self != Mode::Off
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A weekly time window.
///
/// The window starts on each day in `days` at `start_min` and ends at `end_min` of the same
/// day, or — when `end_min < start_min` — of the next day (it crosses midnight: "fri
/// 22:00-06:00" covers Friday 22:00 to Saturday 06:00). `end_min` may be 1440 (24:00).
/// A window with `start_min == end_min` is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// Bit mask of the days the window starts on: Mon = bit 0 … Sun = bit 6.
    pub days: u8,
    /// Minute of the local day the window starts, 0..1440.
    pub start_min: u16,
    /// Minute of the local day the window ends (exclusive), 0..=1440.
    pub end_min: u16,
    pub mode: Mode,
}

impl Window {
    /// Whether the window covers minute `minute` (0..1440) of weekday `day` (Mon = 0).
    fn covers(&self, day: u32, minute: u16) -> bool {
        let on = |d: u32| self.days & (1 << d) != 0;
        if self.start_min < self.end_min {
            on(day) && (self.start_min..self.end_min).contains(&minute)
        } else if self.start_min > self.end_min {
            (on(day) && minute >= self.start_min) || (on((day + 6) % 7) && minute < self.end_min)
        } else {
            false
        }
    }

    fn is_whole_day(&self) -> bool {
        self.start_min == 0 && self.end_min == MINUTES_PER_DAY
    }
}

/// A camera's recording schedule: windows (later ones override earlier ones) and the mode
/// of the times no window covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(default)]
    pub windows: Vec<Window>,
    #[serde(default)]
    pub default_mode: Mode,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::always()
    }
}

/// A schedule that cannot be parsed or is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The compact syntax could not be read.
    #[error("{problem} in '{clause}': {hint}")]
    Syntax {
        problem: String,
        clause: String,
        hint: &'static str,
    },
    /// A window (e.g. from stored JSON) has values out of range.
    #[error("schedule window #{index} is invalid: {problem}")]
    Window { index: usize, problem: &'static str },
}

/// Weekday (Mon = 0) and minute of the day of local Unix seconds.
fn day_and_minute(local_unix_secs: i64) -> (u32, u16) {
    let day = local_unix_secs.div_euclid(SECS_PER_DAY);
    let secs = local_unix_secs.rem_euclid(SECS_PER_DAY);
    // 1970-01-01 was a Thursday (Mon = 0 → Thu = 3).
    ((day + 3).rem_euclid(7) as u32, (secs / 60) as u16)
}

impl Schedule {
    /// Record continuously, always: the default.
    pub fn always() -> Self {
        Schedule {
            windows: Vec::new(),
            default_mode: Mode::Continuous,
        }
    }

    /// The mode at local time `local_unix_secs` (Unix seconds already shifted by the UTC
    /// offset, e.g. + 7 × 3600 in Vietnam).
    pub fn mode_at(&self, local_unix_secs: i64) -> Mode {
        let (day, minute) = day_and_minute(local_unix_secs);
        self.windows
            .iter()
            .rev()
            .find(|w| w.covers(day, minute))
            .map_or(self.default_mode, |w| w.mode)
    }

    /// Seconds from `local_unix_secs` until the mode changes, or `None` when it never does
    /// (it does not change within the next 8 days, so it never does in a weekly schedule).
    ///
    /// A change from Continuous to Motion counts as a change, although both record today.
    pub fn next_change(&self, local_unix_secs: i64) -> Option<i64> {
        let now = self.mode_at(local_unix_secs);
        // Modes can only change at a window's start or end minute.
        let mut bounds: Vec<i64> = self
            .windows
            .iter()
            .flat_map(|w| [w.start_min, w.end_min])
            .map(|m| i64::from(m % MINUTES_PER_DAY) * 60)
            .collect();
        bounds.sort_unstable();
        bounds.dedup();
        let today = local_unix_secs.div_euclid(SECS_PER_DAY) * SECS_PER_DAY;
        let limit = local_unix_secs + SEARCH_DAYS * SECS_PER_DAY;
        for day in 0..=SEARCH_DAYS {
            for &b in &bounds {
                let t = today + day * SECS_PER_DAY + b;
                if t <= local_unix_secs {
                    continue;
                }
                if t > limit {
                    return None;
                }
                if self.mode_at(t) != now {
                    return Some(t - local_unix_secs);
                }
            }
        }
        None
    }

    /// Average hours per day that the schedule records (Continuous or Motion), over a week:
    /// the `recording_hours_per_day` of the storage plan (an upper bound once Motion records
    /// only on motion).
    pub fn recording_hours_per_day(&self) -> f64 {
        // Modes change only on whole minutes, so sampling each minute of a week is exact.
        let mut minutes = 0u32;
        for day in 0..7u32 {
            for minute in 0..MINUTES_PER_DAY {
                let mode = self
                    .windows
                    .iter()
                    .rev()
                    .find(|w| w.covers(day, minute))
                    .map_or(self.default_mode, |w| w.mode);
                if mode.records() {
                    minutes += 1;
                }
            }
        }
        f64::from(minutes) / 60.0 / 7.0
    }

    /// Checks that every window is in range (for schedules read from JSON; [`parse`]
    /// checks its own).
    ///
    /// [`parse`]: Schedule::parse
    pub fn validate(&self) -> Result<(), ScheduleError> {
        for (index, w) in self.windows.iter().enumerate() {
            let problem = if w.days == 0 {
                "it has no days"
            } else if w.days & !EVERY_DAY != 0 {
                "its day mask has bits above Sunday (bit 6)"
            } else if w.start_min >= MINUTES_PER_DAY {
                "it starts at or after 24:00"
            } else if w.end_min > MINUTES_PER_DAY {
                "it ends after 24:00"
            } else if w.start_min == w.end_min {
                "it is empty (starts where it ends)"
            } else {
                continue;
            };
            return Err(ScheduleError::Window { index, problem });
        }
        Ok(())
    }

    /// Parses the compact syntax of the CLI.
    ///
    /// ```text
    /// schedule := clause ( ";" clause )*          (empty clauses are ignored)
    /// clause   := days [ time "-" time ] mode     a window; later windows override earlier
    ///           | "default" mode                  mode outside all windows (at most once;
    ///                                             continuous when absent)
    /// days     := item ( "," item )*
    /// item     := day | day "-" day               a range, may wrap: fri-mon
    ///           | "daily" | "weekdays" | "weekend"
    /// day      := mon | tue | wed | thu | fri | sat | sun     (or full English names, or
    ///             Vietnamese t2 … t7, cn)
    /// time     := HH:MM                           00:00 … 23:59, and 24:00 as an end
    /// mode     := continuous | off | motion
    /// ```
    ///
    /// Without times a window covers whole days. An end before the start crosses midnight:
    /// `mon-fri 18:00-06:00 off` covers each weekday evening until 06:00 the next morning.
    /// Case and spaces around `,` and `-` do not matter. Example:
    /// `mon-fri 06:00-18:00 continuous; sat,sun off; default continuous`.
    pub fn parse(s: &str) -> Result<Schedule, ScheduleError> {
        let mut windows = Vec::new();
        let mut default_mode = None;
        let mut any = false;
        for clause in s.split(';') {
            let clause = clause.trim();
            if clause.is_empty() {
                continue;
            }
            any = true;
            let syntax = |problem: String, hint: &'static str| ScheduleError::Syntax {
                problem,
                clause: clause.to_owned(),
                hint,
            };
            let lower = clause.to_ascii_lowercase();
            let tokens: Vec<&str> = lower.split_whitespace().collect();
            let (mode_token, rest) = tokens.split_last().expect("clause is not empty");
            let mode = parse_mode(mode_token).ok_or_else(|| {
                syntax(
                    format!("unknown mode '{mode_token}'"),
                    "end each clause with continuous, off or motion",
                )
            })?;
            if rest.is_empty() {
                return Err(syntax(
                    "missing days before the mode".to_owned(),
                    "write e.g. 'mon-fri 06:00-18:00 continuous' or 'default continuous'",
                ));
            }
            if rest == ["default"] {
                if default_mode.replace(mode).is_some() {
                    return Err(syntax(
                        "a second default".to_owned(),
                        "give 'default <mode>' at most once",
                    ));
                }
                continue;
            }
            // Days come before the first token with a ':' (the times), if any.
            let split = rest
                .iter()
                .position(|t| t.contains(':'))
                .unwrap_or(rest.len());
            let days_text: String = rest[..split].concat();
            let times_text: String = rest[split..].concat();
            if days_text.is_empty() {
                return Err(syntax(
                    "missing days before the times".to_owned(),
                    "start the clause with days, e.g. mon-fri or daily",
                ));
            }
            let days = parse_days(&days_text).map_err(|item| {
                syntax(
                    format!("unknown day '{item}'"),
                    "use mon,tue,…,sun or ranges like mon-fri",
                )
            })?;
            let (start_min, end_min) = if times_text.is_empty() {
                (0, MINUTES_PER_DAY)
            } else {
                let hint = "write the times as HH:MM-HH:MM, from 00:00 to 24:00";
                let (a, b) = times_text
                    .split_once('-')
                    .ok_or_else(|| syntax(format!("times '{times_text}' are not a range"), hint))?;
                let start = parse_time(a)
                    .filter(|&m| m < MINUTES_PER_DAY)
                    .ok_or_else(|| syntax(format!("invalid start time '{a}'"), hint))?;
                let end =
                    parse_time(b).ok_or_else(|| syntax(format!("invalid end time '{b}'"), hint))?;
                if start == end {
                    return Err(syntax(
                        format!("empty time range '{times_text}'"),
                        "for whole days leave the times out",
                    ));
                }
                (start, end)
            };
            windows.push(Window {
                days,
                start_min,
                end_min,
                mode,
            });
        }
        if !any {
            return Err(ScheduleError::Syntax {
                problem: "empty schedule".to_owned(),
                clause: s.to_owned(),
                hint: "write e.g. 'default continuous' to record always",
            });
        }
        Ok(Schedule {
            windows,
            default_mode: default_mode.unwrap_or_default(),
        })
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

fn parse_mode(s: &str) -> Option<Mode> {
    match s {
        "continuous" => Some(Mode::Continuous),
        "off" => Some(Mode::Off),
        "motion" => Some(Mode::Motion),
        _ => None,
    }
}

fn parse_day(s: &str) -> Option<u32> {
    let d = match s {
        "mon" | "monday" | "t2" => 0,
        "tue" | "tuesday" | "t3" => 1,
        "wed" | "wednesday" | "t4" => 2,
        "thu" | "thursday" | "t5" => 3,
        "fri" | "friday" | "t6" => 4,
        "sat" | "saturday" | "t7" => 5,
        "sun" | "sunday" | "cn" => 6,
        _ => return None,
    };
    Some(d)
}

/// Parses "mon-fri,sun" (lower case, no spaces) into a mask; on error, the bad item.
fn parse_days(s: &str) -> Result<u8, String> {
    let mut mask = 0u8;
    for item in s.split(',') {
        mask |= match item {
            "daily" | "everyday" => EVERY_DAY,
            "weekdays" => 0x1f,
            "weekend" => 0x60,
            _ => match item.split_once('-') {
                None => 1 << parse_day(item).ok_or_else(|| item.to_owned())?,
                Some((a, b)) => {
                    let (Some(a), Some(b)) = (parse_day(a), parse_day(b)) else {
                        return Err(item.to_owned());
                    };
                    // Inclusive, wrapping past Sunday: fri-mon = fri,sat,sun,mon.
                    let len = (b + 7 - a) % 7 + 1;
                    (0..len).fold(0u8, |m, i| m | 1 << ((a + i) % 7))
                }
            },
        };
    }
    Ok(mask)
}

/// "06:00" → 360; "24:00" → 1440.
fn parse_time(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// "mon-fri", "sat,sun", "mon,wed,fri", "daily": runs of three or more days as ranges.
fn fmt_days(mask: u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if mask & EVERY_DAY == EVERY_DAY {
        return f.write_str("daily");
    }
    let on = |d: usize| mask & (1 << d) != 0;
    let mut first = true;
    let mut d = 0;
    while d < 7 {
        if !on(d) {
            d += 1;
            continue;
        }
        let mut e = d;
        while e + 1 < 7 && on(e + 1) {
            e += 1;
        }
        let items: Vec<String> = if e - d >= 2 {
            vec![format!("{}-{}", DAY_NAMES[d], DAY_NAMES[e])]
        } else {
            (d..=e).map(|i| DAY_NAMES[i].to_owned()).collect()
        };
        for item in items {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(&item)?;
        }
        d = e + 1;
    }
    Ok(())
}

fn fmt_time(min: u16, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{:02}:{:02}", min / 60, min % 60)
}

/// The compact syntax of [`Schedule::parse`]; parsing it gives the same schedule back.
impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.windows {
            fmt_days(w.days, f)?;
            if !w.is_whole_day() {
                f.write_str(" ")?;
                fmt_time(w.start_min, f)?;
                f.write_str("-")?;
                fmt_time(w.end_min, f)?;
            }
            write!(f, " {}; ", w.mode)?;
        }
        write!(f, "default {}", self.default_mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Local Unix seconds of Monday 2024-01-01 00:00.
    const MON: i64 = 1_704_067_200;
    const H: i64 = 3600;
    const D: i64 = 86_400;

    fn at(day: i64, hh: i64, mm: i64) -> i64 {
        MON + day * D + hh * H + mm * 60
    }

    #[test]
    fn weekday_of_known_dates() {
        assert_eq!(day_and_minute(MON), (0, 0));
        assert_eq!(day_and_minute(0), (3, 0)); // 1970-01-01, a Thursday
        assert_eq!(day_and_minute(-1), (2, 1439)); // 1969-12-31 23:59:59, a Wednesday
        assert_eq!(day_and_minute(at(6, 23, 59) + 59), (6, 1439));
        // Vietnam: 2024-01-01 00:30 UTC+7 is 2023-12-31 17:30 UTC.
        assert_eq!(day_and_minute(MON - 6 * H - 30 * 60 + 7 * H), (0, 30));
    }

    #[test]
    fn always_records() {
        let s = Schedule::always();
        assert_eq!(s, Schedule::default());
        assert_eq!(s.mode_at(MON), Mode::Continuous);
        assert_eq!(s.next_change(MON), None);
        assert_eq!(s.recording_hours_per_day(), 24.0);
        assert_eq!(s.to_string(), "default continuous");
    }

    #[test]
    fn the_example_round_trips() {
        let text = "mon-fri 06:00-18:00 continuous; sat,sun off; default continuous";
        let s = Schedule::parse(text).unwrap();
        assert_eq!(
            s.windows,
            vec![
                Window {
                    days: 0x1f,
                    start_min: 360,
                    end_min: 1080,
                    mode: Mode::Continuous
                },
                Window {
                    days: 0x60,
                    start_min: 0,
                    end_min: 1440,
                    mode: Mode::Off
                },
            ]
        );
        assert_eq!(s.to_string(), text);
        assert_eq!(text.parse::<Schedule>().unwrap(), s);
        assert_eq!(s.mode_at(at(0, 12, 0)), Mode::Continuous);
        assert_eq!(s.mode_at(at(5, 12, 0)), Mode::Off);
        assert_eq!(s.mode_at(at(6, 23, 59)), Mode::Off);
        // Monday 00:00: the weekend window is over.
        assert_eq!(s.mode_at(at(7, 0, 0)), Mode::Continuous);
        // Friday 18:00 → Saturday 00:00 (default continuous, then off).
        assert_eq!(s.next_change(at(4, 18, 0)), Some(6 * H));
        // Saturday 10:00 → Monday 00:00.
        assert_eq!(s.next_change(at(5, 10, 0)), Some(38 * H));
    }

    #[test]
    fn round_trips() {
        for text in [
            "default off",
            "daily 22:00-06:00 motion; default continuous",
            "mon,wed,fri 00:00-12:30 off; tue,thu 07:15-24:00 motion; default continuous",
            "mon-wed,sat,sun off; fri 23:59-00:01 continuous; default off",
            "mon,tue,thu-sun 10:00-11:00 off; default motion",
        ] {
            let s = Schedule::parse(text).unwrap();
            assert_eq!(s.to_string(), text);
            s.validate().unwrap();
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
        }
        // Other spellings come back in the canonical form.
        let s = Schedule::parse(" Weekdays 6:00 - 18:00 Continuous ;SAT , sun OFF; ").unwrap();
        assert_eq!(
            s.to_string(),
            "mon-fri 06:00-18:00 continuous; sat,sun off; default continuous"
        );
        let s = Schedule::parse("fri-mon off; t2-t6 motion; cn continuous").unwrap();
        assert_eq!(
            s.to_string(),
            "mon,fri-sun off; mon-fri motion; sun continuous; default continuous"
        );
    }

    #[test]
    fn crossing_midnight() {
        let s = Schedule::parse("fri 22:00-06:00 off").unwrap();
        assert_eq!(s.mode_at(at(4, 21, 59)), Mode::Continuous);
        assert_eq!(s.mode_at(at(4, 22, 0)), Mode::Off);
        assert_eq!(s.mode_at(at(5, 5, 59)), Mode::Off);
        assert_eq!(s.mode_at(at(5, 6, 0)), Mode::Continuous);
        // Thursday night is not Friday night; Saturday night neither.
        assert_eq!(s.mode_at(at(4, 3, 0)), Mode::Continuous);
        assert_eq!(s.mode_at(at(6, 3, 0)), Mode::Continuous);
        assert_eq!(s.next_change(at(4, 21, 0)), Some(H));
        assert_eq!(s.next_change(at(4, 23, 0) + 17), Some(7 * H - 17));
        // Sunday night wraps to Monday morning.
        let s = Schedule::parse("sun 20:00-07:00 off").unwrap();
        assert_eq!(s.mode_at(at(0, 6, 0)), Mode::Off);
        assert_eq!(s.mode_at(at(7, 6, 0)), Mode::Off);
        assert_eq!(s.mode_at(at(6, 6, 0)), Mode::Continuous);
        assert_eq!(s.next_change(at(0, 6, 0)), Some(H));
        // Before the epoch too (negative seconds).
        assert_eq!(s.mode_at(at(-7, 6, 0)), Mode::Off);
        assert!((s.recording_hours_per_day() - (24.0 - 11.0 / 7.0)).abs() < 1e-9);
    }

    #[test]
    fn later_windows_override_earlier() {
        let s =
            Schedule::parse("daily off; mon-fri 07:00-17:00 continuous; wed 12:00-13:00 motion")
                .unwrap();
        assert_eq!(s.mode_at(at(2, 12, 30)), Mode::Motion);
        assert_eq!(s.mode_at(at(2, 13, 0)), Mode::Continuous);
        assert_eq!(s.mode_at(at(1, 12, 30)), Mode::Continuous);
        assert_eq!(s.mode_at(at(1, 6, 59)), Mode::Off);
        assert_eq!(s.mode_at(at(5, 12, 0)), Mode::Off);
        // The order matters: the whole-day window last hides the others.
        let s = Schedule::parse("mon-fri 07:00-17:00 continuous; daily off").unwrap();
        assert_eq!(s.mode_at(at(1, 12, 0)), Mode::Off);
        assert_eq!(s.next_change(at(1, 12, 0)), None);
        assert_eq!(s.recording_hours_per_day(), 0.0);
    }

    #[test]
    fn next_change_skips_boundaries_without_change() {
        // Overlapping windows with the same mode: 08:00 is a boundary but nothing changes.
        let s = Schedule::parse("daily 06:00-08:00 off; daily 08:00-10:00 off").unwrap();
        assert_eq!(s.next_change(at(3, 6, 30)), Some(3 * H + 30 * 60));
        assert_eq!(s.next_change(at(3, 10, 0)), Some(20 * H));
        // Once a week: the search crosses the week.
        let s = Schedule::parse("wed 12:00-13:00 off").unwrap();
        assert_eq!(s.next_change(at(2, 13, 0)), Some(7 * D - H));
        assert_eq!(s.next_change(at(2, 12, 59) + 59), Some(1));
        // Every day off: never changes.
        let s = Schedule::parse("mon-sun off").unwrap();
        assert_eq!(s.to_string(), "daily off; default continuous");
        assert_eq!(s.next_change(MON + 123), None);
        // The result is always a point where mode_at differs.
        let s = Schedule::parse(
            "mon-fri 06:00-18:00 continuous; sat,sun off; tue 23:00-01:30 motion; default off",
        )
        .unwrap();
        let mut t = at(0, 0, 0) + 7;
        for _ in 0..100 {
            let Some(dt) = s.next_change(t) else {
                panic!("no change after {t}")
            };
            assert!(dt > 0 && dt <= 8 * D);
            assert_ne!(s.mode_at(t + dt), s.mode_at(t));
            assert_eq!(s.mode_at(t + dt - 1), s.mode_at(t));
            t += dt;
        }
    }

    #[test]
    fn recording_hours() {
        let s = Schedule::parse("mon-fri 06:00-18:00 continuous; default off").unwrap();
        assert!((s.recording_hours_per_day() - 12.0 * 5.0 / 7.0).abs() < 1e-9);
        // Motion records until analysis exists.
        let s = Schedule::parse("daily 18:00-06:00 motion; default off").unwrap();
        assert_eq!(s.recording_hours_per_day(), 12.0);
        assert!(Mode::Motion.records() && Mode::Continuous.records() && !Mode::Off.records());
    }

    #[test]
    fn clear_errors() {
        let e = Schedule::parse("mon-fry 06:00-18:00 continuous").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown day 'mon-fry' in 'mon-fry 06:00-18:00 continuous': use mon,tue,…,sun or \
             ranges like mon-fri"
        );
        let e = Schedule::parse("mon-fri 06:00-18:00 always").unwrap_err();
        assert!(e.to_string().starts_with("unknown mode 'always'"), "{e}");
        let e = Schedule::parse("mon 25:00-18:00 off").unwrap_err();
        assert!(
            e.to_string().starts_with("invalid start time '25:00'"),
            "{e}"
        );
        let e = Schedule::parse("mon 06:00-24:30 off").unwrap_err();
        assert!(e.to_string().starts_with("invalid end time '24:30'"), "{e}");
        let e = Schedule::parse("mon 06:00 off").unwrap_err();
        assert!(e.to_string().contains("not a range"), "{e}");
        let e = Schedule::parse("mon 06:00-06:00 off").unwrap_err();
        assert!(e.to_string().contains("leave the times out"), "{e}");
        let e = Schedule::parse("06:00-18:00 off").unwrap_err();
        assert!(e.to_string().starts_with("missing days"), "{e}");
        let e = Schedule::parse("off").unwrap_err();
        assert!(e.to_string().starts_with("missing days"), "{e}");
        let e = Schedule::parse("default off; default continuous").unwrap_err();
        assert!(e.to_string().starts_with("a second default"), "{e}");
        let e = Schedule::parse(" ; ").unwrap_err();
        assert!(e.to_string().starts_with("empty schedule"), "{e}");
        assert!(Schedule::parse("mon,,tue off").is_err());
        assert!(Schedule::parse("mon 6:0-7:00 off").is_err());
    }

    #[test]
    fn validate_stored_windows() {
        let w = Window {
            days: 1,
            start_min: 0,
            end_min: 60,
            mode: Mode::Off,
        };
        let ok = Schedule {
            windows: vec![w],
            default_mode: Mode::Continuous,
        };
        ok.validate().unwrap();
        for bad in [
            Window { days: 0, ..w },
            Window { days: 0x80, ..w },
            Window {
                start_min: 1440,
                ..w
            },
            Window { end_min: 1441, ..w },
            Window { end_min: 0, ..w },
        ] {
            let s = Schedule {
                windows: vec![w, bad],
                default_mode: Mode::Off,
            };
            let e = s.validate().unwrap_err();
            assert!(matches!(e, ScheduleError::Window { index: 1, .. }), "{e}");
        }
        // JSON without a default means continuous.
        let s: Schedule = serde_json::from_str(
            r#"{"windows":[{"days":96,"start_min":0,"end_min":1440,"mode":"off"}]}"#,
        )
        .unwrap();
        assert_eq!(s.to_string(), "sat,sun off; default continuous");
    }
}
