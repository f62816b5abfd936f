//! Runtime fault injection: what the next requests to `/v2` should suffer.
//!
//! Counts are "next N requests" and are consumed as requests arrive, in this order: connection reset,
//! 5xx, injected 429; malformed JSON and partial errors are applied to the response after the request
//! was executed (so a mutation did happen: the client must cope with not knowing).

use serde::{Deserialize, Serialize};

use crate::limits::RateLimitCode;

/// The fault plan; `POST /_emulator/faults` replaces it, `DELETE` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Extra latency for every `/v2` request, on top of the configured base latency.
    pub latency_ms: u64,
    /// The next N requests get HTTP `server_error_status` (default 500) without being executed.
    pub server_errors: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_error_status: Option<u16>,
    /// The next N requests have their TCP connection reset without an answer.
    pub connection_resets: u32,
    /// The next N responses are cut in half (invalid JSON) after execution.
    pub malformed_json: u32,
    /// The next N responses with data have one root field set to null and an error added.
    pub partial_errors: u32,
    /// Revoke a token after some more requests made with it (then 401).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_token: Option<RevokeToken>,
    /// Answer the next `count` requests with HTTP 429 and this code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitFault>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeToken {
    /// Token to revoke; the admin token when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Requests with this token still served before it becomes invalid.
    pub after_requests: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFault {
    pub code: RateLimitCode,
    pub count: u32,
    /// `retry_in_seconds` and `Retry-After` of the injected answers (default 1).
    #[serde(default = "one")]
    pub retry_in_seconds: u64,
}

fn one() -> u64 {
    1
}

/// Decrements a "next N" counter; true when this request is hit.
pub(crate) fn take(n: &mut u32) -> bool {
    if *n > 0 {
        *n -= 1;
        true
    } else {
        false
    }
}
