//! When the next sync is due: pure functions, so they are unit-tested without a cluster.
//!
//! Jitter is derived from the connector's UID and the last sync time, not drawn at random: the
//! same inputs give the same `nextSyncTime`, so reconciling twice never changes the status (and
//! never causes a write), while connectors created together still spread out.

use std::time::Duration;

use sha2::{Digest, Sha256};

/// First retry delay after a transient failure; doubles per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Longest retry delay after transient failures (never longer than the interval).
pub const BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);
/// Largest jitter added to a scheduled sync.
pub const JITTER_CAP: Duration = Duration::from_secs(5 * 60);

/// Why a Go-style duration did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a duration such as 30m, 1h or 1h30m")]
pub struct DurationError(pub String);

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

/// A number in `[0, 1)` fixed by `parts`.
fn unit_hash(parts: &[&str]) -> f64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Delay after `failures` consecutive transient failures (1 = the first failure).
pub fn backoff(failures: u32, interval: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let d = BACKOFF_BASE.saturating_mul(1u32 << exp);
    d.min(BACKOFF_CAP).min(interval)
}

/// Delay from the last sync to the next: the interval (or the backoff after transient
/// failures) plus a deterministic jitter of up to 10 % (capped at [`JITTER_CAP`]).
pub fn delay(interval: Duration, transient_failures: u32, seed: &[&str]) -> Duration {
    let base = if transient_failures > 0 {
        backoff(transient_failures, interval)
    } else {
        interval
    };
    let span = (base / 10).min(JITTER_CAP);
    base + span.mul_f64(unit_hash(seed))
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
    fn backoff_doubles_and_caps() {
        let hour = Duration::from_secs(3600);
        assert_eq!(backoff(1, hour), Duration::from_secs(30));
        assert_eq!(backoff(2, hour), Duration::from_secs(60));
        assert_eq!(backoff(3, hour), Duration::from_secs(120));
        assert_eq!(backoff(30, hour), BACKOFF_CAP);
        assert_eq!(
            backoff(30, Duration::from_secs(60)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn jitter_is_stable_and_bounded() {
        let i = Duration::from_secs(3600);
        let a = delay(i, 0, &["uid-1", "t1"]);
        assert_eq!(a, delay(i, 0, &["uid-1", "t1"]));
        assert!(a >= i && a <= i + Duration::from_secs(300));
        let spread: std::collections::BTreeSet<_> = (0..20)
            .map(|n| delay(i, 0, &[&format!("uid-{n}"), "t1"]))
            .collect();
        assert!(spread.len() > 15, "connectors spread out");
    }
}
