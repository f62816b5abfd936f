//! Time as the operator reads and writes it: Go-style durations (how Baton tools, Kubernetes users
//! and our flags spell them) and whole-second timestamps (how status stores them).
//!
//! Status times have second precision on the wire, so every time the operator keeps is rounded
//! here once: a finer value would differ from what it reads back and cause a write on every
//! reconcile; deadlines round up so revoking from a stored value is never earlier than asked.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Why a Go-style duration did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a duration such as 30m, 1h or 1h30m")]
pub struct DurationError(pub String);

/// The CEL/regex shape of what [`parse_go_duration`] accepts (besides `"0"`), used by the CRD
/// validation rules.
pub const GO_DURATION_PATTERN: &str = "^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

/// Parses a Go `time.ParseDuration` string (`300ms`, `1.5h`, `1h30m`); negative values are refused.
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(s.to_string());
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(err());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

/// `t` without its fraction of a second (when something happened).
pub fn floor_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// `t` rounded up to a whole second (a deadline: never earlier than asked).
pub fn ceil_second(t: Timestamp) -> Timestamp {
    let s = t.as_second();
    let s = if t.subsec_nanosecond() > 0 { s + 1 } else { s };
    Timestamp::from_second(s).unwrap_or(t)
}

/// `t + d`, rounded down to a whole second; saturates at the end of time.
pub fn add_floor(t: Timestamp, d: Duration) -> Timestamp {
    floor_second(add(t, d))
}

/// `t + d`, saturating at the end of time.
pub fn add(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// How long from `now` until `t` (zero when it has passed).
pub fn until(t: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("2m3s"), Ok(Duration::from_secs(123)));
        for bad in ["", "h", "10", "1d", "-1h", "1h-", "soon"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rounding_to_whole_seconds() {
        let t: Timestamp = "2026-01-01T00:00:00.2Z".parse().expect("ts");
        assert_eq!(ceil_second(t).to_string(), "2026-01-01T00:00:01Z");
        assert_eq!(floor_second(t).to_string(), "2026-01-01T00:00:00Z");
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
        assert_eq!(ceil_second(t), t);
        assert_eq!(floor_second(t), t);
        assert_eq!(
            add_floor(t, Duration::from_millis(1500)).to_string(),
            "2026-01-01T00:00:01Z"
        );
        assert_eq!(add(t, Duration::MAX), Timestamp::MAX);
        assert_eq!(until(t, add(t, Duration::from_secs(5))), Duration::ZERO);
    }
}
