//! 90 kHz time: the one time unit in Vigil's code.

/// Ticks of a 90 kHz clock. Wall times are ticks since the Unix epoch (UTC).
pub type Ticks = i64;

/// Ticks per second.
pub const TIMESCALE: u32 = 90_000;

/// Ticks per second as `i64`, for arithmetic.
pub const TICKS_PER_SEC: i64 = TIMESCALE as i64;

use crate::Error;

const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats a wall time (ticks since the Unix epoch) as RFC 3339 UTC with milliseconds,
/// e.g. `2024-05-01T07:30:00.123Z`. Sub-millisecond ticks are truncated (towards the past).
pub fn format_ticks(t: Ticks) -> String {
    let secs = t.div_euclid(TICKS_PER_SEC);
    let ms = t.rem_euclid(TICKS_PER_SEC) / 90;
    let (y, mo, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let sod = secs.rem_euclid(SECS_PER_DAY);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses an RFC 3339 date-time (`2024-05-01T14:30:00.5+07:00`; `T`, `t` or a space as
/// separator; `Z`, `z` or a numeric offset) into ticks since the Unix epoch. Fractions
/// finer than a tick are truncated towards the past. A leap second (`:60`) counts as the
/// first second of the next minute.
pub fn parse_rfc3339(s: &str) -> Result<Ticks, Error> {
    let b = s.as_bytes();
    let bad = |offset: usize, detail: &str| Error::Malformed {
        what: "RFC 3339 time",
        offset: offset as u64,
        detail: format!("{detail} in {s:?} (expected e.g. 2024-05-01T14:30:00.000Z)"),
    };
    let num = |at: usize, n: usize| -> Result<u32, Error> {
        let d = b.get(at..at + n).ok_or_else(|| bad(at, "too short"))?;
        d.iter().try_fold(0u32, |v, &c| {
            if c.is_ascii_digit() {
                Ok(v * 10 + u32::from(c - b'0'))
            } else {
                Err(bad(at, "expected a digit"))
            }
        })
    };
    let sep = |at: usize, allowed: &[u8]| -> Result<(), Error> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(bad(at, &format!("expected {:?}", allowed[0] as char))),
        }
    };
    let year = i64::from(num(0, 4)?);
    sep(4, b"-")?;
    let month = num(5, 2)?;
    sep(7, b"-")?;
    let day = num(8, 2)?;
    sep(10, b"Tt ")?;
    let hour = num(11, 2)?;
    sep(13, b":")?;
    let minute = num(14, 2)?;
    sep(16, b":")?;
    let second = num(17, 2)?;
    if !(1..=12).contains(&month) {
        return Err(bad(5, "month out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(bad(8, "day out of range"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad(11, "time of day out of range"));
    }
    let mut pos = 19;
    let mut nanos: i64 = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        let mut scale = 100_000_000;
        while let Some(c) = b.get(pos).filter(|c| c.is_ascii_digit()) {
            nanos += i64::from(c - b'0') * scale;
            scale /= 10;
            pos += 1;
        }
        if pos == start {
            return Err(bad(pos, "expected fraction digits after '.'"));
        }
    }
    let offset_secs: i64 = match b.get(pos) {
        Some(b'Z' | b'z') => {
            pos += 1;
            0
        }
        Some(&c @ (b'+' | b'-')) => {
            let h = num(pos + 1, 2)?;
            sep(pos + 3, b":")?;
            let m = num(pos + 4, 2)?;
            if h > 23 || m > 59 {
                return Err(bad(pos, "UTC offset out of range"));
            }
            pos += 6;
            let o = i64::from(h * 3600 + m * 60);
            if c == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad(pos, "expected 'Z' or a UTC offset like +07:00")),
    };
    if pos != b.len() {
        return Err(bad(pos, "unexpected characters after the time"));
    }
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_secs;
    Ok(secs * TICKS_PER_SEC + (nanos * 9).div_euclid(100_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn format_and_parse() {
        assert_eq!(format_ticks(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ticks(-90), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_ticks(-1), "1969-12-31T23:59:59.999Z");
        // 2024-02-29T13:14:15.678Z
        let t = (1_709_212_455 * TICKS_PER_SEC) + 678 * 90;
        assert_eq!(format_ticks(t), "2024-02-29T13:14:15.678Z");
        assert_eq!(parse_rfc3339("2024-02-29T13:14:15.678Z").unwrap(), t);
        assert_eq!(parse_rfc3339("2024-02-29t20:14:15.678+07:00").unwrap(), t);
        assert_eq!(parse_rfc3339("2024-02-29 12:44:15.678-00:30").unwrap(), t);
        assert_eq!(
            parse_rfc3339("2024-02-29T13:14:15.678123456Z").unwrap(),
            t + 11
        );
        assert_eq!(parse_rfc3339("2024-02-29T13:14:15Z").unwrap(), t - 678 * 90);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z").unwrap(), -90);
        for t in (-10_000_000_000_000i64..10_000_000_000_000).step_by(123_456_789_000 + 90) {
            let t = t - t.rem_euclid(90);
            assert_eq!(parse_rfc3339(&format_ticks(t)).unwrap(), t);
        }
    }

    #[test]
    fn parse_rejects() {
        for s in [
            "",
            "2024",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01T00:00:00+7:00",
            "2024-01-01X00:00:00Z",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s:?}");
        }
    }
}
