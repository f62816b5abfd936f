//! Request counters, so tests can assert pacing and retries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every `POST /v2` request, answered or not.
    pub requests: u64,
    /// Requests that reached GraphQL execution.
    pub executed: u64,
    /// Executed requests by operation type (`query`, `mutation`).
    pub by_operation: BTreeMap<String, u64>,
    /// Executed requests by root field name (each field once per request).
    pub by_field: BTreeMap<String, u64>,
    /// Complexity points charged.
    pub complexity_used: u64,
    /// HTTP 429 answers by code (injected ones included).
    pub throttled: BTreeMap<String, u64>,
    /// All HTTP 429 answers.
    pub throttled_total: u64,
    /// Answers by HTTP status.
    pub status: BTreeMap<u16, u64>,
    /// Injected faults by kind (`reset`, `server_error`, `malformed_json`, `partial_error`,
    /// `rate_limit`, `revoked`).
    pub faults: BTreeMap<String, u64>,
    /// Highest number of `/v2` requests in flight at once (over all tokens).
    pub max_in_flight: u64,
}
