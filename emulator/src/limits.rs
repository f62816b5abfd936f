//! Monday's rate limits: per-minute complexity budget, per-minute requests, concurrency, daily calls
//! and the per-IP limit, with the 429 codes the client must handle.
//!
//! Windows are fixed windows that start at the first call and reset `window_ms` later (Monday
//! documents "resets 60 s after first call"). Budgets are kept per token (per source IP for the IP
//! limit). Every value is configurable so tests can make them tiny.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Account plan tiers with their documented limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Standard,
    Pro,
    #[default]
    Enterprise,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Standard => "standard",
            Tier::Pro => "pro",
            Tier::Enterprise => "enterprise",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "free" => Ok(Tier::Free),
            "standard" | "basic" => Ok(Tier::Standard),
            "pro" => Ok(Tier::Pro),
            "enterprise" => Ok(Tier::Enterprise),
            _ => Err(format!(
                "unknown tier {s:?} (enterprise, pro, standard, free)"
            )),
        }
    }
}

/// Limit values. `u64::MAX` disables a limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Complexity points per window per token (personal token: reads and writes combined).
    pub complexity_per_minute: u64,
    /// Largest complexity a single query may have.
    pub max_query_complexity: u64,
    /// Requests per window per token.
    pub requests_per_minute: u64,
    /// Requests in flight at once per token.
    pub max_concurrency: u64,
    /// Calls per UTC day per token (a throttled or complexity-only request counts 0.1).
    pub daily_calls: u64,
    /// Requests per IP window per source address.
    pub ip_requests: u64,
    pub ip_window_ms: u64,
    /// Length of the "minute" windows; tests shrink it.
    pub window_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::for_tier(Tier::Enterprise)
    }
}

impl Limits {
    /// Documented limits of a tier (personal token).
    pub fn for_tier(tier: Tier) -> Self {
        let (complexity, rpm, conc, daily) = match tier {
            Tier::Enterprise => (10_000_000, 5_000, 250, 25_000),
            Tier::Pro => (10_000_000, 2_500, 100, 10_000),
            Tier::Standard => (10_000_000, 1_000, 40, 1_000),
            Tier::Free => (1_000_000, 1_000, 40, 1_000),
        };
        Limits {
            complexity_per_minute: complexity,
            max_query_complexity: 5_000_000,
            requests_per_minute: rpm,
            max_concurrency: conc,
            daily_calls: daily,
            ip_requests: 5_000,
            ip_window_ms: 10_000,
            window_ms: 60_000,
        }
    }

    /// No limit at all (the single-query cap stays).
    pub fn unlimited() -> Self {
        Limits {
            complexity_per_minute: u64::MAX,
            max_query_complexity: 5_000_000,
            requests_per_minute: u64::MAX,
            max_concurrency: u64::MAX,
            daily_calls: u64::MAX,
            ip_requests: u64::MAX,
            ip_window_ms: 10_000,
            window_ms: 60_000,
        }
    }
}

/// The throttling error codes Monday sends with HTTP 429.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RateLimitCode {
    #[serde(rename = "COMPLEXITY_BUDGET_EXHAUSTED")]
    ComplexityBudgetExhausted,
    #[serde(rename = "MINUTE_RATE_LIMIT_EXCEEDED")]
    MinuteRateLimitExceeded,
    #[serde(rename = "MAX_CONCURRENCY_EXCEEDED")]
    MaxConcurrencyExceeded,
    #[serde(rename = "IP_RATE_LIMIT_EXCEEDED")]
    IpRateLimitExceeded,
    #[serde(rename = "DAILY_LIMIT_EXCEEDED")]
    DailyLimitExceeded,
}

impl RateLimitCode {
    pub fn code(self) -> &'static str {
        match self {
            RateLimitCode::ComplexityBudgetExhausted => "COMPLEXITY_BUDGET_EXHAUSTED",
            RateLimitCode::MinuteRateLimitExceeded => "MINUTE_RATE_LIMIT_EXCEEDED",
            RateLimitCode::MaxConcurrencyExceeded => "MAX_CONCURRENCY_EXCEEDED",
            RateLimitCode::IpRateLimitExceeded => "IP_RATE_LIMIT_EXCEEDED",
            RateLimitCode::DailyLimitExceeded => "DAILY_LIMIT_EXCEEDED",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            RateLimitCode::ComplexityBudgetExhausted => "Complexity budget exhausted",
            RateLimitCode::MinuteRateLimitExceeded => "Minute rate limit exceeded",
            RateLimitCode::MaxConcurrencyExceeded => "Too many concurrent requests",
            RateLimitCode::IpRateLimitExceeded => "IP rate limit exceeded",
            RateLimitCode::DailyLimitExceeded => "Daily limit exceeded",
        }
    }
}

/// A fixed window counter.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    used: u64,
}

impl Window {
    fn roll(w: &mut Option<Window>, now: Instant, len: Duration) -> &mut Window {
        match w {
            Some(win) if now.duration_since(win.start) < len => {}
            _ => {
                *w = Some(Window {
                    start: now,
                    used: 0,
                })
            }
        }
        w.as_mut().expect("just set")
    }

    fn reset_in(&self, now: Instant, len: Duration) -> Duration {
        (self.start + len).saturating_duration_since(now)
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

#[derive(Default)]
struct TokenMeter {
    requests: Option<Window>,
    complexity: Option<Window>,
    day: u64,
    day_tenths: u64,
}

/// Result of a complexity charge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Charge {
    pub before: u64,
    pub after: u64,
    pub cost: u64,
    pub reset_in_seconds: u64,
}

/// Remaining values for the `RateLimit` response header.
#[derive(Clone, Copy, Debug, Default)]
pub struct Remaining {
    pub requests: u64,
    pub complexity: u64,
    pub reset_in_seconds: u64,
}

/// All limiter state; one mutex around it is plenty at test rates.
#[derive(Default)]
pub struct Meter {
    tokens: HashMap<String, TokenMeter>,
    ips: HashMap<IpAddr, Option<Window>>,
}

fn utc_day_and_secs_left() -> (u64, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (now / 86_400, 86_400 - now % 86_400)
}

impl Meter {
    /// Counts one request from `ip`; `Err(retry_in_seconds)` when over the IP limit.
    pub fn ip_request(&mut self, ip: IpAddr, l: &Limits, now: Instant) -> Result<(), u64> {
        let len = Duration::from_millis(l.ip_window_ms);
        let w = Window::roll(self.ips.entry(ip).or_default(), now, len);
        w.used += 1;
        if w.used > l.ip_requests {
            return Err(ceil_secs(w.reset_in(now, len)));
        }
        Ok(())
    }

    /// Whether the daily limit is already used up; `Err(seconds to midnight UTC)`.
    pub fn daily_check(&mut self, token: &str, l: &Limits) -> Result<(), u64> {
        let (day, left) = utc_day_and_secs_left();
        let m = self.tokens.entry(token.to_string()).or_default();
        if m.day != day {
            m.day = day;
            m.day_tenths = 0;
        }
        if l.daily_calls != u64::MAX && m.day_tenths + 10 > l.daily_calls.saturating_mul(10) {
            return Err(left);
        }
        Ok(())
    }

    /// Adds tenths of a call to today's count.
    pub fn daily_add(&mut self, token: &str, tenths: u64) {
        let (day, _) = utc_day_and_secs_left();
        let m = self.tokens.entry(token.to_string()).or_default();
        if m.day != day {
            m.day = day;
            m.day_tenths = 0;
        }
        m.day_tenths += tenths;
    }

    pub fn daily_used_tenths(&self, token: &str) -> u64 {
        self.tokens.get(token).map_or(0, |m| m.day_tenths)
    }

    /// Counts one request; `Err(retry_in_seconds)` when over the per-minute request limit.
    pub fn minute_request(&mut self, token: &str, l: &Limits, now: Instant) -> Result<(), u64> {
        let len = Duration::from_millis(l.window_ms);
        let m = self.tokens.entry(token.to_string()).or_default();
        let w = Window::roll(&mut m.requests, now, len);
        w.used += 1;
        if w.used > l.requests_per_minute {
            return Err(ceil_secs(w.reset_in(now, len)));
        }
        Ok(())
    }

    /// Charges `cost` to the complexity budget; `Err(retry_in_seconds)` when it does not fit (then
    /// nothing is charged).
    pub fn charge(
        &mut self,
        token: &str,
        cost: u64,
        l: &Limits,
        now: Instant,
    ) -> Result<Charge, u64> {
        let len = Duration::from_millis(l.window_ms);
        let m = self.tokens.entry(token.to_string()).or_default();
        let w = Window::roll(&mut m.complexity, now, len);
        let before = l.complexity_per_minute.saturating_sub(w.used);
        let reset = ceil_secs(w.reset_in(now, len));
        if cost > before {
            return Err(reset);
        }
        w.used += cost;
        Ok(Charge {
            before,
            after: before - cost,
            cost,
            reset_in_seconds: reset,
        })
    }

    /// Remaining quota without counting anything.
    pub fn remaining(&mut self, token: &str, l: &Limits, now: Instant) -> Remaining {
        let len = Duration::from_millis(l.window_ms);
        let m = self.tokens.entry(token.to_string()).or_default();
        let rw = *Window::roll(&mut m.requests, now, len);
        let cw = *Window::roll(&mut m.complexity, now, len);
        Remaining {
            requests: l.requests_per_minute.saturating_sub(rw.used),
            complexity: l.complexity_per_minute.saturating_sub(cw.used),
            reset_in_seconds: ceil_secs(cw.reset_in(now, len)),
        }
    }

    /// Forgets all usage (tests).
    pub fn reset(&mut self) {
        self.tokens.clear();
        self.ips.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complexity_window_resets() {
        let l = Limits {
            complexity_per_minute: 100,
            window_ms: 1_000,
            ..Limits::default()
        };
        let mut m = Meter::default();
        let t0 = Instant::now();
        let c = m.charge("t", 60, &l, t0).unwrap();
        assert_eq!((c.before, c.after, c.cost), (100, 40, 60));
        assert!(m.charge("t", 60, &l, t0).is_err());
        let c = m
            .charge("t", 60, &l, t0 + Duration::from_millis(1_001))
            .unwrap();
        assert_eq!(c.before, 100);
    }
}
