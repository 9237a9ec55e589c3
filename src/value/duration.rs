//! Go's `time.ParseDuration`, exactly, and the limits Docker puts on a health check's
//! durations on top of it. A string in, nanoseconds or the reason Go (or Docker) refuses
//! it out; [`Duration`] is a health check duration parsed once, at decode.

use std::fmt;

/// A health check duration; [`fmt::Display`] gives back the spec's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    text: String,
    pub nanos: i128,
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Duration {
    /// Parses `s` with Go's grammar and Docker's limits ([`check_duration`]).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(Duration {
            text: s.to_string(),
            nanos: health_check_nanos(s)?,
        })
    }
}

/// The units Go accepts and their length in nanoseconds (`µs` in both spellings).
const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const LIMIT: u64 = 1 << 63;

/// The shortest non-zero health check duration Docker accepts (`container.MinimumDuration`).
const MINIMUM: i128 = 1_000_000;

/// Parses `s` as Go's `time.ParseDuration` does: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or
/// `0`, within ±2^63 nanoseconds. The reason mirrors Go's error.
pub fn parse_go_duration(s: &str) -> Result<i128, String> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (nanos, after) = component(rest)?;
        total = total
            .checked_add(nanos)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(too_long)?;
        rest = after;
    }
    if !negative && total > LIMIT - 1 {
        return Err(too_long());
    }
    Ok(if negative {
        -(total as i128)
    } else {
        total as i128
    })
}

fn too_long() -> String {
    "longer than Go's durations reach (about 292 years)".into()
}

/// One `number unit` part: its nanoseconds and the text after it.
fn component(s: &str) -> Result<(u64, &str), String> {
    if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
        return Err("expected a number before each unit".into());
    }
    let (whole, rest) = leading_int(s)?;
    let pre = rest.len() != s.len();
    let (fraction, scale, rest, post) = match rest.strip_prefix('.') {
        Some(after) => {
            let (f, scale, rem) = leading_fraction(after);
            (f, scale, rem, rem.len() != after.len())
        }
        None => (0, 1.0, rest, false),
    };
    if !pre && !post {
        return Err("expected digits around the `.`".into());
    }
    let unit_len = rest
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    if unit_len == 0 && rest.starts_with('.') {
        return Err("a number has at most one `.`".into());
    }
    if unit_len == 0 {
        return Err("each number needs a unit: h, m, s, ms, us or ns".into());
    }
    let (unit, rest) = rest.split_at(unit_len);
    let Some(&(_, nanos)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(format!("unknown unit `{unit}` (h, m, s, ms, us or ns)"));
    };
    if whole > LIMIT / nanos {
        return Err(too_long());
    }
    let mut value = whole * nanos;
    if fraction > 0 {
        // As Go does: a float64 keeps fractions of an hour exact to the nanosecond.
        value += (fraction as f64 * (nanos as f64 / scale)) as u64;
        if value > LIMIT {
            return Err(too_long());
        }
    }
    Ok((value, rest))
}

/// Go's `leadingInt`: the leading digits as an integer, refusing overflow.
fn leading_int(s: &str) -> Result<(u64, &str), String> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut x: u64 = 0;
    for b in s[..end].bytes() {
        if x > LIMIT / 10 {
            return Err(too_long());
        }
        x = x * 10 + u64::from(b - b'0');
        if x > LIMIT {
            return Err(too_long());
        }
    }
    Ok((x, &s[end..]))
}

/// Go's `leadingFraction`: the digits after a `.` and their scale; digits beyond what
/// fits are read but ignored.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (mut x, mut scale, mut overflow) = (0u64, 1.0f64, false);
    for b in s[..end].bytes() {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[end..])
}

/// A health check duration (`--interval`, `--timeout`, `--start-period`, compose's
/// `healthcheck`): Go's grammar, not negative, and zero or at least 1ms, as Docker requires.
pub fn check_duration(s: &str) -> Result<(), String> {
    health_check_nanos(s).map(|_| ())
}

fn health_check_nanos(s: &str) -> Result<i128, String> {
    let nanos = parse_go_duration(s)?;
    if nanos < 0 {
        return Err("Docker refuses a negative duration".into());
    }
    if nanos > 0 && nanos < MINIMUM {
        return Err("Docker refuses a duration shorter than 1ms".into());
    }
    Ok(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_accepts() {
        for (s, nanos) in [
            ("0", 0),
            ("-0", 0),
            ("+5s", 5_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
            (".5s", 500_000_000),
            ("5.s", 5_000_000_000),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("3\u{b5}s", 3_000),
            ("3\u{3bc}s", 3_000),
            ("0s", 0),
            ("9223372036854775807ns", 9_223_372_036_854_775_807),
            ("-9223372036854775808ns", -9_223_372_036_854_775_808),
        ] {
            assert_eq!(parse_go_duration(s), Ok(nanos), "{s}");
        }
    }

    #[test]
    fn go_refuses() {
        for s in [
            "",
            "-",
            "1.2.3s",
            "30",
            "s",
            ".s",
            "-.s",
            "1d",
            "30 s",
            "1s ",
            "1S",
            "9223372036854775808ns",
            "3000000h",
            "1e3s",
        ] {
            assert!(parse_go_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn docker_limits() {
        assert!(check_duration("30s").is_ok());
        assert!(check_duration("0s").is_ok());
        assert!(check_duration("1ms").is_ok());
        assert!(check_duration("-1s").is_err());
        assert!(check_duration("999us").is_err());
        assert!(check_duration("1.2.3s").is_err());
    }
}
