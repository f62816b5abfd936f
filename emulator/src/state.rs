//! State shared by the HTTP layer, the GraphQL resolvers and the in-process handle.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::faults::Faults;
use crate::limits::{Limits, Meter, Tier};
use crate::model::Tenant;
use crate::stats::Stats;

/// What a token stands for.
#[derive(Clone, Debug)]
pub(crate) struct TokenEntry {
    pub user_id: i64,
    /// `None`: personal token with every scope.
    pub scopes: Option<Arc<HashSet<String>>>,
}

pub(crate) struct Shared {
    pub tenant: RwLock<Tenant>,
    pub tokens: RwLock<HashMap<String, TokenEntry>>,
    pub limits: RwLock<Limits>,
    pub tier: Tier,
    pub meter: Mutex<Meter>,
    pub faults: Mutex<Faults>,
    pub stats: Mutex<Stats>,
    /// In-flight `/v2` requests per token (key "" for requests without a token).
    pub inflight: Mutex<HashMap<String, u64>>,
    pub inflight_total: AtomicU64,
    pub base_latency_ms: AtomicU64,
    pub seq: AtomicU64,
    /// Makes request IDs differ between emulator instances.
    pub salt: u64,
    pub admin_token: String,
    pub member_token: String,
}

/// Poisoning only follows a panic in a test; keep serving rather than cascade.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn next_request_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let h = crate::generate::mix(n ^ self.salt);
        let l = crate::generate::mix(h);
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            h >> 32,
            (h >> 16) & 0xffff,
            h & 0xfff,
            (l >> 48) & 0xfff,
            l & 0xffff_ffff_ffff
        )
    }

    pub fn token(&self, token: &str) -> Option<TokenEntry> {
        read(&self.tokens).get(token).cloned()
    }
}

/// Counts a request as in flight for its lifetime.
pub(crate) struct InFlight {
    shared: Arc<Shared>,
    key: String,
}

impl InFlight {
    /// Enters; returns the guard and the in-flight count for this token including this request.
    pub fn enter(shared: &Arc<Shared>, key: &str) -> (Self, u64) {
        let n = {
            let mut m = lock(&shared.inflight);
            let n = m.entry(key.to_string()).or_default();
            *n += 1;
            *n
        };
        let total = shared.inflight_total.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut s = lock(&shared.stats);
            s.max_in_flight = s.max_in_flight.max(total);
        }
        (
            InFlight {
                shared: shared.clone(),
                key: key.to_string(),
            },
            n,
        )
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.inflight_total.fetch_sub(1, Ordering::SeqCst);
        let mut m = lock(&self.shared.inflight);
        if let Some(n) = m.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}
