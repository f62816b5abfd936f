//! When the next sync is due: pure functions, so they are unit-tested without a cluster.
//!
//! Jitter is derived from the connector's UID and the last sync time, not drawn at random: the
//! same inputs give the same `nextSyncTime`, so reconciling twice never changes the status (and
//! never causes a write), while connectors created together still spread out.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::kit::Backoff;

/// Retries after transient sync failures: 30 s doubling per failure, at most 15 min (and never
/// longer than the interval).
pub const SYNC_BACKOFF: Backoff =
    Backoff::new(Duration::from_secs(30), Duration::from_secs(15 * 60));
/// Largest jitter added to a scheduled sync.
pub const JITTER_CAP: Duration = Duration::from_secs(5 * 60);

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

/// Delay from the last sync to the next: the interval (or the backoff after transient
/// failures) plus a deterministic jitter of up to 10 % (capped at [`JITTER_CAP`]).
pub fn delay(interval: Duration, transient_failures: u32, seed: &[&str]) -> Duration {
    let base = if transient_failures > 0 {
        SYNC_BACKOFF.delay(transient_failures).min(interval)
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
    fn transient_failures_back_off_within_the_interval() {
        let hour = Duration::from_secs(3600);
        let d = |n, i| delay(i, n, &["uid", "t"]);
        assert!(d(1, hour) >= Duration::from_secs(30) && d(1, hour) <= Duration::from_secs(33));
        assert!(d(2, hour) >= Duration::from_secs(60) && d(2, hour) <= Duration::from_secs(66));
        assert!(d(30, hour) >= Duration::from_secs(900));
        let minute = Duration::from_secs(60);
        assert!(d(30, minute) <= Duration::from_secs(66));
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
