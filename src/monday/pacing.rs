//! Pacing under Monday's per-minute complexity budget.
//!
//! Every response reports `complexity { before after query reset_in_x_seconds }`. The pacer keeps
//! the latest view of the window (remaining budget and when it resets), learns what each document
//! costs (`query`, keyed by operation and page shape), and reserves a request's estimated cost before
//! it is sent. When the estimate does not fit in what remains minus what is already in flight, the
//! request waits for the window to reset instead of being sent into a 429. Until the first response
//! reveals the budget only one request is in flight. A 429 pauses every caller for Monday's hint.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::types::Complexity;

/// Two responses whose reset times differ by less than this belong to the same window
/// (`reset_in_x_seconds` is rounded to whole seconds and requests overlap).
const SAME_WINDOW: Duration = Duration::from_secs(2);
/// Waiting a little past the announced reset avoids racing Monday's clock.
const RESET_MARGIN: Duration = Duration::from_millis(500);
/// Upper bound on one sleep, so a missed wake-up costs little.
const MAX_NAP: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct State {
    /// Budget left in the current window as last reported (None until the first response).
    remaining: Option<i64>,
    /// When the current window resets.
    window_end: Option<Instant>,
    /// The largest `before` seen: our best knowledge of a full window's budget.
    budget: Option<i64>,
    /// Estimated cost of requests sent and not yet answered.
    reserved: i64,
    /// Learned cost per document shape (largest seen: estimates are charged up front).
    costs: HashMap<String, i64>,
    max_cost: i64,
    probe_in_flight: bool,
    /// Set by a 429: nobody sends before this instant.
    paused_until: Option<Instant>,
    /// Requests left in the per-minute request window (`RateLimit: "minuteRate";r=N`).
    requests_left: Option<i64>,
    /// Requests sent and not yet answered.
    in_flight: i64,
}

/// A reservation held while a request is in flight.
#[derive(Debug)]
pub(crate) struct Ticket {
    key: String,
    estimate: i64,
    probe: bool,
}

#[derive(Debug)]
pub(crate) struct Pacer {
    state: Mutex<State>,
    notify: Notify,
    default_estimate: i64,
}

/// What the pacer knows right now (for stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PaceView {
    pub remaining: Option<i64>,
    pub budget: Option<i64>,
}

impl Pacer {
    pub(crate) fn new(default_estimate: i64) -> Self {
        Pacer {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            default_estimate: default_estimate.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent in a harmful way.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn view(&self) -> PaceView {
        let s = self.lock();
        PaceView {
            remaining: s.remaining,
            budget: s.budget,
        }
    }

    /// Whether `n` requests of shape `key` fit in what is left of the window right now.
    pub(crate) fn can_afford(&self, key: &str, n: i64) -> bool {
        let s = self.lock();
        let cost = s
            .costs
            .get(key)
            .copied()
            .unwrap_or_else(|| s.max_cost.max(self.default_estimate));
        match s.remaining {
            Some(rem) => rem - s.reserved >= cost.saturating_mul(n),
            None => false,
        }
    }

    /// Waits until a request of shape `key` fits in the budget, then reserves its estimated cost.
    /// Returns the ticket and how long it waited for budget or a 429 pause.
    pub(crate) async fn acquire(&self, key: &str) -> (Ticket, Duration) {
        let started = Instant::now();
        let mut slept = false;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = {
                let mut s = self.lock();
                let now = Instant::now();
                match self.try_reserve(&mut s, key, now) {
                    Ok(ticket) => {
                        let waited = if slept {
                            now.saturating_duration_since(started)
                        } else {
                            Duration::ZERO
                        };
                        return (ticket, waited);
                    }
                    Err(wake_at) => wake_at,
                }
            };
            let nap = wake_at
                .map(|t| t.min(Instant::now() + MAX_NAP))
                .unwrap_or_else(|| Instant::now() + MAX_NAP);
            tokio::select! {
                _ = tokio::time::sleep_until(nap) => {}
                _ = &mut notified => {}
            }
            slept = true;
        }
    }

    /// Reserves or says when to look again (None: when someone completes).
    fn try_reserve(
        &self,
        s: &mut State,
        key: &str,
        now: Instant,
    ) -> Result<Ticket, Option<Instant>> {
        if let Some(p) = s.paused_until {
            if p > now {
                return Err(Some(p));
            }
            s.paused_until = None;
        }
        if let Some(end) = s.window_end
            && now >= end + RESET_MARGIN
        {
            // New window: Monday refilled the budget; start from the full amount if we know it.
            s.window_end = None;
            s.remaining = s.budget;
            s.requests_left = None;
        }
        if let Some(left) = s.requests_left
            && left - s.in_flight <= 0
        {
            // The per-minute request quota is spent; it resets with the window we track.
            return Err(s.window_end.map(|e| e + RESET_MARGIN));
        }
        let mut estimate = s
            .costs
            .get(key)
            .copied()
            .unwrap_or_else(|| s.max_cost.max(self.default_estimate));
        if let Some(b) = s.budget {
            // A document dearer than a whole window can only be sent into a fresh one.
            estimate = estimate.min(b);
        }
        match s.remaining {
            None => {
                if s.probe_in_flight {
                    return Err(None);
                }
                s.probe_in_flight = true;
                s.reserved += estimate;
                s.in_flight += 1;
                Ok(Ticket {
                    key: key.to_string(),
                    estimate,
                    probe: true,
                })
            }
            Some(rem) => {
                // A shape never answered before has an unknown cost: send such probes one at a
                // time, so at most one guess is in flight against the budget.
                let unseen = !s.costs.contains_key(key);
                if unseen && s.probe_in_flight {
                    return Err(None);
                }
                if estimate <= rem - s.reserved {
                    s.probe_in_flight |= unseen;
                    s.reserved += estimate;
                    s.in_flight += 1;
                    Ok(Ticket {
                        key: key.to_string(),
                        estimate,
                        probe: unseen,
                    })
                } else {
                    Err(s.window_end.map(|e| e + RESET_MARGIN))
                }
            }
        }
    }

    /// Releases a reservation and learns from the response's `complexity` and the request quota
    /// left (`RateLimit` header), when present.
    pub(crate) fn complete(
        &self,
        ticket: Ticket,
        complexity: Option<Complexity>,
        requests_left: Option<i64>,
    ) {
        {
            let mut s = self.lock();
            s.reserved = (s.reserved - ticket.estimate).max(0);
            s.in_flight = (s.in_flight - 1).max(0);
            let mut new_window = false;
            if ticket.probe {
                s.probe_in_flight = false;
            }
            if let Some(c) = complexity {
                let now = Instant::now();
                let cost = c.query.max(0);
                let entry = s.costs.entry(ticket.key).or_insert(0);
                *entry = (*entry).max(cost);
                s.max_cost = s.max_cost.max(cost);
                s.budget = Some(s.budget.unwrap_or(0).max(c.before));
                let end = now + Duration::from_secs(c.reset_in_x_seconds.max(0) as u64);
                match (s.window_end, s.remaining) {
                    (Some(cur), Some(rem)) if end < cur + SAME_WINDOW => {
                        // Same window: answers arrive out of order; the budget only shrinks.
                        s.remaining = Some(rem.min(c.after));
                    }
                    _ => {
                        s.remaining = Some(c.after);
                        s.window_end = Some(end);
                        new_window = true;
                    }
                }
            }
            if let Some(r) = requests_left {
                s.requests_left = Some(match s.requests_left {
                    Some(cur) if !new_window => cur.min(r),
                    _ => r,
                });
            }
        }
        self.notify.notify_waiters();
    }

    /// Monday throttled us: nobody sends for `wait`; a complexity 429 also empties the window.
    pub(crate) fn throttled(&self, wait: Duration, complexity_exhausted: bool) {
        {
            let mut s = self.lock();
            let until = Instant::now() + wait;
            s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
            if complexity_exhausted {
                s.remaining = Some(0);
                s.window_end = Some(until);
            }
        }
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(before: i64, after: i64, query: i64, reset: i64) -> Option<Complexity> {
        Some(Complexity {
            before,
            after,
            query,
            reset_in_x_seconds: reset,
        })
    }

    #[tokio::test]
    async fn first_request_probes_alone() {
        let p = std::sync::Arc::new(Pacer::new(100));
        let (t1, _) = p.acquire("A").await;
        let p2 = p.clone();
        let second = tokio::spawn(async move { p2.acquire("A").await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            !second.is_finished(),
            "second request must wait for the probe"
        );
        p.complete(t1, c(1000, 900, 100, 60), None);
        let (t2, _) = second.await.unwrap();
        assert_eq!(t2.estimate, 100);
    }

    #[tokio::test]
    async fn waits_for_reset_when_budget_is_short() {
        let p = Pacer::new(100);
        let (t, _) = p.acquire("A").await;
        p.complete(t, c(1000, 250, 100, 1), None);
        // 250 left: two 100-cost requests fit, the third must wait for the reset.
        let (a, w1) = p.acquire("A").await;
        let (b, w2) = p.acquire("A").await;
        assert_eq!((w1, w2), (Duration::ZERO, Duration::ZERO));
        let start = Instant::now();
        p.complete(a, c(1000, 150, 100, 1), None);
        p.complete(b, c(1000, 50, 100, 1), None);
        let (_c, waited) = p.acquire("A").await;
        assert!(
            start.elapsed() >= Duration::from_millis(1400),
            "{:?}",
            start.elapsed()
        );
        assert!(waited >= Duration::from_millis(1400));
        assert_eq!(p.view().remaining, Some(1000));
    }

    #[tokio::test]
    async fn learns_costs_per_shape_and_ignores_stale_answers() {
        let p = Pacer::new(10);
        let (t, _) = p.acquire("Boards/100").await;
        p.complete(t, c(10_000, 9_000, 1_000, 50), None);
        let (t, _) = p.acquire("Users/1000").await;
        // Unknown shapes are estimated at the dearest cost seen so far.
        assert_eq!(t.estimate, 1_000);
        p.complete(t, c(9_000, 8_800, 200, 50), None);
        let (t, _) = p.acquire("Users/1000").await;
        assert_eq!(t.estimate, 200);
        // An older answer (higher `after`) in the same window does not raise the budget.
        p.complete(t, c(9_900, 9_700, 200, 50), None);
        assert_eq!(p.view().remaining, Some(8_800));
    }

    #[tokio::test]
    async fn throttle_pauses_everyone() {
        let p = Pacer::new(10);
        let (t, _) = p.acquire("A").await;
        p.complete(t, c(1000, 990, 10, 60), None);
        p.throttled(Duration::from_millis(1200), true);
        let start = Instant::now();
        let (_t, waited) = p.acquire("A").await;
        assert!(start.elapsed() >= Duration::from_millis(1200));
        assert!(waited >= Duration::from_millis(1200));
    }
}

#[cfg(test)]
mod request_quota_tests {
    use super::*;

    #[tokio::test]
    async fn request_quota_waits_for_the_window() {
        let p = Pacer::new(1);
        let (t, _) = p.acquire("A").await;
        let c = Complexity {
            before: 1000,
            after: 999,
            query: 1,
            reset_in_x_seconds: 1,
        };
        p.complete(t, Some(c), Some(1));
        let (t, w) = p.acquire("A").await;
        assert_eq!(w, Duration::ZERO);
        p.complete(t, Some(c), Some(0));
        let start = Instant::now();
        let (_t, w) = p.acquire("A").await;
        assert!(start.elapsed() >= Duration::from_millis(1400));
        assert!(w >= Duration::from_millis(1400));
    }
}
