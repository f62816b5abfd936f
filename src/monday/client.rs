//! Transport: one `POST` per GraphQL document, paced, bounded, retried, and classified.
//!
//! TLS: the client is built from an explicit rustls `ClientConfig` using the `ring` provider and
//! the platform certificate verifier, handed to reqwest with `tls_backend_preconfigured`. Nothing is
//! installed process-wide, so this module does not depend on (or change) what other TLS users in the
//! process (kube) chose.
//!
//! The token lives in a [`SecretString`] and is exposed only to build the `Authorization` header of
//! each request, which is marked sensitive. `Debug` of the client redacts it; errors never carry
//! request bodies or headers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::envelope::{Verdict, classify, parse_retry_after};
use super::error::MondayError;
use super::pacing::Pacer;
use super::queries;

/// The API version this client is written against (and the schema tests check).
pub const API_VERSION: &str = "2026-10";
/// Monday's production endpoint.
pub const DEFAULT_API_URL: &str = "https://api.monday.com/v2";

/// Retry budget for one logical request.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts for 5xx, timeouts, resets and malformed bodies (first try included).
    pub max_attempts: u32,
    /// First backoff step; doubles per attempt, jittered.
    pub base_delay: Duration,
    /// Cap of one backoff step.
    pub max_delay: Duration,
    /// Total time spent waiting on throttling (429s) before giving up with `RateLimited`.
    pub max_throttle_wait: Duration,
    /// Wait after a 429 that carried neither `retry_in_seconds` nor `Retry-After`.
    pub default_throttle_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_throttle_wait: Duration::from_secs(15 * 60),
            default_throttle_wait: Duration::from_secs(10),
        }
    }
}

/// Page sizes. Complexity is charged on estimates (a list costs its `limit` × its element, whether
/// or not it is full), so inline first pages are kept small where lists are usually short and the
/// few full ones are re-read in batches; top-level pages are large to save round trips.
#[derive(Debug, Clone)]
pub struct PageSizes {
    /// `users(limit:)`, at most 1000.
    pub users: u32,
    /// `boards(limit:)`.
    pub boards: u32,
    /// `workspaces(limit:)`.
    pub workspaces: u32,
    /// First page of the four workspace membership lists, fetched inline (Monday's default 25).
    pub nested_first: u32,
    /// First page of board `team_owners`, fetched inline. Boards rarely have team owners and the
    /// estimate charges every board for the whole page, so it is small; fuller lists are re-read.
    pub board_team_owners_first: u32,
    /// First page of board `team_subscribers`, fetched inline (most boards have 0–3 teams).
    pub board_team_subscribers_first: u32,
    /// Limit for re-reading a nested list that came back full (read again from page 1).
    pub nested_follow_up: u32,
    /// `teams { users(limit:) }` page size for member reads.
    pub team_members: u32,
    /// How many teams/workspaces/boards one follow-up request asks about.
    pub id_batch: usize,
    /// Top-level pages requested at once after page 1 (1 = strictly sequential).
    pub page_window: u32,
}

impl Default for PageSizes {
    fn default() -> Self {
        PageSizes {
            users: 1000,
            boards: 250,
            workspaces: 100,
            nested_first: 25,
            board_team_owners_first: 2,
            board_team_subscribers_first: 4,
            nested_follow_up: 200,
            team_members: 100,
            id_batch: 50,
            page_window: 2,
        }
    }
}

/// Everything but the token.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub api_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Requests in flight at once (Monday allows 40/100/250 by plan; stay well below).
    pub max_concurrency: usize,
    pub retry: RetryPolicy,
    pub pages: PageSizes,
    /// Cost assumed for a document shape never seen before (until its first response).
    pub initial_cost_estimate: i64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api_url: DEFAULT_API_URL.to_string(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_concurrency: 8,
            retry: RetryPolicy::default(),
            pages: PageSizes::default(),
            initial_cost_estimate: 1_000,
        }
    }
}

/// Counters for telemetry; a snapshot, cheap to take.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientStats {
    /// HTTP exchanges sent (including retried ones).
    pub requests: u64,
    /// Exchanges by outcome: `ok`, an API error code, `http_<status>`, `timeout`, `connect`, …
    pub requests_by_outcome: BTreeMap<String, u64>,
    /// Sum of `complexity.query` over all answered requests.
    pub complexity_used: u64,
    /// Time spent waiting for budget or a 429 pause (pacing + throttling).
    pub rate_limit_wait_seconds: f64,
    /// Of which: spent waiting after Monday said 429 (or a field limiter).
    pub throttle_wait_seconds: f64,
    /// Responses with HTTP status 429.
    pub http_429: u64,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Budget left in the current window, as last reported.
    pub budget_remaining: Option<i64>,
    /// Largest budget seen (`complexity.before`).
    pub budget_limit: Option<i64>,
}

/// Pushed notifications for the metrics module (optional; [`Client::stats`] is the pull side).
pub trait ClientObserver: Send + Sync {
    /// One HTTP exchange finished.
    fn on_request(
        &self,
        _operation: &'static str,
        _outcome: &str,
        _elapsed: Duration,
        _complexity: Option<i64>,
    ) {
    }
    /// A request waited before being sent (budget or 429 pause).
    fn on_wait(&self, _operation: &'static str, _waited: Duration) {}
}

/// A document plus what the transport needs to know about it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    pub name: &'static str,
    pub document: &'static str,
    /// The OAuth scope it needs (named in `MissingScope` when Monday does not say).
    pub scope: &'static str,
    /// Safe to send again after a failure where it may have run (reads, idempotent membership
    /// changes). `invite_users` is not: it is only retried when it certainly did not run.
    pub resend_safe: bool,
}

macro_rules! op {
    ($c:ident, $name:literal, $doc:ident, $scope:literal, $safe:literal) => {
        pub(crate) const $c: Op = Op {
            name: $name,
            document: queries::$doc,
            scope: $scope,
            resend_safe: $safe,
        };
    };
}

op!(OP_ACCOUNT, "Account", ACCOUNT, "account:read", true);
op!(OP_USERS, "Users", USERS, "users:read", true);
op!(OP_TEAMS, "Teams", TEAMS, "teams:read", true);
op!(
    OP_TEAM_MEMBERS,
    "TeamMembers",
    TEAM_MEMBERS,
    "teams:read",
    true
);
op!(
    OP_WORKSPACES,
    "Workspaces",
    WORKSPACES,
    "workspaces:read",
    true
);
op!(
    OP_WS_OWNERS,
    "WorkspaceOwnersPage",
    WORKSPACE_OWNERS_PAGE,
    "users:read",
    true
);
op!(
    OP_WS_USERS,
    "WorkspaceUsersPage",
    WORKSPACE_USERS_PAGE,
    "users:read",
    true
);
op!(
    OP_WS_TEAM_OWNERS,
    "WorkspaceTeamOwnersPage",
    WORKSPACE_TEAM_OWNERS_PAGE,
    "teams:read",
    true
);
op!(
    OP_WS_TEAMS,
    "WorkspaceTeamsPage",
    WORKSPACE_TEAMS_PAGE,
    "teams:read",
    true
);
op!(OP_BOARDS, "Boards", BOARDS, "boards:read", true);
op!(
    OP_BOARD_TEAM_OWNERS,
    "BoardTeamOwnersPage",
    BOARD_TEAM_OWNERS_PAGE,
    "boards:read",
    true
);
op!(
    OP_BOARD_TEAM_SUBSCRIBERS,
    "BoardTeamSubscribersPage",
    BOARD_TEAM_SUBSCRIBERS_PAGE,
    "boards:read",
    true
);
op!(
    OP_ADD_USERS_TO_BOARD,
    "AddUsersToBoard",
    ADD_USERS_TO_BOARD,
    "boards:write",
    true
);
op!(
    OP_DELETE_SUBSCRIBERS_FROM_BOARD,
    "DeleteSubscribersFromBoard",
    DELETE_SUBSCRIBERS_FROM_BOARD,
    "boards:write",
    true
);
op!(
    OP_ADD_TEAMS_TO_BOARD,
    "AddTeamsToBoard",
    ADD_TEAMS_TO_BOARD,
    "boards:write",
    true
);
op!(
    OP_DELETE_TEAMS_FROM_BOARD,
    "DeleteTeamsFromBoard",
    DELETE_TEAMS_FROM_BOARD,
    "boards:write",
    true
);
op!(
    OP_ADD_USERS_TO_WORKSPACE,
    "AddUsersToWorkspace",
    ADD_USERS_TO_WORKSPACE,
    "workspaces:write",
    true
);
op!(
    OP_DELETE_USERS_FROM_WORKSPACE,
    "DeleteUsersFromWorkspace",
    DELETE_USERS_FROM_WORKSPACE,
    "workspaces:write",
    true
);
op!(
    OP_ADD_TEAMS_TO_WORKSPACE,
    "AddTeamsToWorkspace",
    ADD_TEAMS_TO_WORKSPACE,
    "workspaces:write",
    true
);
op!(
    OP_DELETE_TEAMS_FROM_WORKSPACE,
    "DeleteTeamsFromWorkspace",
    DELETE_TEAMS_FROM_WORKSPACE,
    "workspaces:write",
    true
);
op!(
    OP_ADD_USERS_TO_TEAM,
    "AddUsersToTeam",
    ADD_USERS_TO_TEAM,
    "teams:write",
    true
);
op!(
    OP_REMOVE_USERS_FROM_TEAM,
    "RemoveUsersFromTeam",
    REMOVE_USERS_FROM_TEAM,
    "teams:write",
    true
);
op!(
    OP_ASSIGN_TEAM_OWNERS,
    "AssignTeamOwners",
    ASSIGN_TEAM_OWNERS,
    "teams:write",
    true
);
op!(
    OP_REMOVE_TEAM_OWNERS,
    "RemoveTeamOwners",
    REMOVE_TEAM_OWNERS,
    "teams:write",
    true
);
// Not resent: a second create would make a second team.
op!(
    OP_CREATE_TEAM,
    "CreateTeam",
    CREATE_TEAM,
    "teams:write",
    false
);
op!(
    OP_DELETE_TEAM,
    "DeleteTeam",
    DELETE_TEAM,
    "teams:write",
    true
);
op!(
    OP_INVITE_USERS,
    "InviteUsers",
    INVITE_USERS,
    "users:write",
    false
);
op!(
    OP_ACTIVATE_USERS,
    "ActivateUsers",
    ACTIVATE_USERS,
    "users:write",
    true
);
op!(
    OP_DEACTIVATE_USERS,
    "DeactivateUsers",
    DEACTIVATE_USERS,
    "users:write",
    true
);
op!(
    OP_UPDATE_USERS_ROLE,
    "UpdateUsersRole",
    UPDATE_USERS_ROLE,
    "users:write",
    true
);

#[derive(Debug, Default)]
struct Counters {
    requests: u64,
    by_outcome: BTreeMap<String, u64>,
    complexity_used: u64,
    wait: Duration,
    throttle_wait: Duration,
    http_429: u64,
    retries: u64,
}

struct Inner {
    http: reqwest::Client,
    url: reqwest::Url,
    token: SecretString,
    config: ClientConfig,
    permits: Semaphore,
    pacer: Pacer,
    counters: Mutex<Counters>,
    observer: Option<Arc<dyn ClientObserver>>,
}

/// The Monday GraphQL client. Cheap to clone; clones share pacing, concurrency and counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.inner.url.as_str())
            .field("api_version", &API_VERSION)
            .field("token", &"[redacted]")
            .field("max_concurrency", &self.inner.config.max_concurrency)
            .finish()
    }
}

/// Status, `Retry-After`, requests left this minute, body.
type Exchange = (u16, Option<Duration>, Option<i64>, bytes::Bytes);

/// Requests left from `RateLimit: "minuteRate";r=4999, "concurrency";r=249, …` (IETF draft
/// header Monday sends on every response).
fn minute_requests_left(header: &str) -> Option<i64> {
    header.split(',').find_map(|item| {
        let mut parts = item.trim().split(';');
        let name = parts.next()?.trim().trim_matches('"');
        if !name.eq_ignore_ascii_case("minuteRate") {
            return None;
        }
        parts.find_map(|p| p.trim().strip_prefix("r=")?.trim().parse().ok())
    })
}

/// A failed exchange that produced no HTTP response.
struct SendFailure {
    cause: &'static str,
    /// The request may have reached Monday (so a non-idempotent one must not be resent).
    maybe_sent: bool,
}

/// The TLS settings, built once per process: loading the platform's trust roots parses every CA
/// certificate on the host, which would otherwise dominate a small sync's CPU and allocations.
fn tls_config() -> Result<rustls::ClientConfig, MondayError> {
    static CACHED: std::sync::OnceLock<rustls::ClientConfig> = std::sync::OnceLock::new();
    if let Some(c) = CACHED.get() {
        return Ok(c.clone());
    }
    let built = build_tls_config()?;
    Ok(CACHED.get_or_init(|| built).clone())
}

fn build_tls_config() -> Result<rustls::ClientConfig, MondayError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|_| MondayError::Config("cannot load the platform's TLS trust roots".into()))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| MondayError::Config("no usable TLS protocol versions".into()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Trims the surrounding whitespace token files usually carry and checks the header is legal,
/// so a bad token fails at construction, not on every request.
fn clean_token(token: SecretString) -> Result<SecretString, MondayError> {
    let trimmed = token.expose_secret().trim();
    if trimmed.is_empty() {
        return Err(MondayError::Config("the API token is empty".into()));
    }
    if HeaderValue::from_str(trimmed).is_err() {
        return Err(MondayError::Config(
            "the API token contains characters not allowed in an HTTP header".into(),
        ));
    }
    Ok(SecretString::from(trimmed.to_string()))
}

impl Client {
    /// Builds a client; nothing is sent until the first call.
    pub fn new(config: ClientConfig, token: SecretString) -> Result<Self, MondayError> {
        Self::build(config, token, None)
    }

    /// Same as [`Client::new`], pushing per-request events to `observer`.
    pub fn with_observer(
        config: ClientConfig,
        token: SecretString,
        observer: Arc<dyn ClientObserver>,
    ) -> Result<Self, MondayError> {
        Self::build(config, token, Some(observer))
    }

    fn build(
        config: ClientConfig,
        token: SecretString,
        observer: Option<Arc<dyn ClientObserver>>,
    ) -> Result<Self, MondayError> {
        let url = reqwest::Url::parse(&config.api_url)
            .map_err(|_| MondayError::Config("api_url is not a valid URL".into()))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(MondayError::Config("api_url must be http(s)".into()));
        }
        let token = clean_token(token)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .gzip(true)
            .user_agent(concat!("monday-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| MondayError::Config("cannot build the HTTP client".into()))?;
        let permits = Semaphore::new(config.max_concurrency.max(1));
        let pacer = Pacer::new(config.initial_cost_estimate);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                url,
                token,
                config,
                permits,
                pacer,
                counters: Mutex::new(Counters::default()),
                observer,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A snapshot of the counters since construction.
    pub fn stats(&self) -> ClientStats {
        let c = self.counters();
        let view = self.inner.pacer.view();
        ClientStats {
            requests: c.requests,
            requests_by_outcome: c.by_outcome.clone(),
            complexity_used: c.complexity_used,
            rate_limit_wait_seconds: c.wait.as_secs_f64(),
            throttle_wait_seconds: c.throttle_wait.as_secs_f64(),
            http_429: c.http_429,
            retries: c.retries,
            budget_remaining: view.remaining,
            budget_limit: view.budget,
        }
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.inner
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The pacing key: the same document with the same page shape costs about the same.
    fn cost_key(op: &Op, variables: &Value) -> String {
        let limit = variables.get("limit").and_then(Value::as_u64).unwrap_or(0);
        let inner = ["members", "team_subscribers"]
            .iter()
            .find_map(|k| variables.get(*k).and_then(Value::as_u64))
            .unwrap_or(0);
        let ids = ["ids", "user_ids", "team_ids", "emails"]
            .iter()
            .find_map(|k| variables.get(*k).and_then(Value::as_array).map(Vec::len))
            .unwrap_or(0);
        format!("{}/{limit}/{inner}/{ids}", op.name)
    }

    async fn send(&self, op: &Op, variables: &Value) -> Result<Exchange, SendFailure> {
        let mut auth =
            HeaderValue::from_str(self.inner.token.expose_secret()).map_err(|_| SendFailure {
                cause: "invalid token header",
                maybe_sent: false,
            })?;
        auth.set_sensitive(true);
        let body = json!({ "query": op.document, "variables": variables });
        let response = self
            .inner
            .http
            .post(self.inner.url.clone())
            .header(AUTHORIZATION, auth)
            .header("API-Version", API_VERSION)
            .header(CONTENT_TYPE, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| SendFailure {
                cause: if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "connection"
                },
                maybe_sent: !e.is_connect(),
            })?;
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
        );
        let requests_left = response
            .headers()
            .get("ratelimit")
            .and_then(|v| v.to_str().ok())
            .and_then(minute_requests_left);
        let bytes = response.bytes().await.map_err(|e| SendFailure {
            cause: if e.is_timeout() {
                "timeout"
            } else {
                "connection"
            },
            maybe_sent: true,
        })?;
        Ok((status, retry_after, requests_left, bytes))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let p = &self.inner.config.retry;
        let exp = p
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(p.max_delay);
        // Equal jitter: never zero, never in lock-step with other clients.
        let half = exp / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }

    fn record(
        &self,
        op: &Op,
        outcome: &str,
        status: Option<u16>,
        elapsed: Duration,
        cost: Option<i64>,
    ) {
        {
            let mut c = self.counters();
            c.requests += 1;
            *c.by_outcome.entry(outcome.to_string()).or_insert(0) += 1;
            if let Some(q) = cost {
                c.complexity_used += q.max(0) as u64;
            }
            if status == Some(429) {
                c.http_429 += 1;
            }
        }
        if let Some(o) = &self.inner.observer {
            o.on_request(op.name, outcome, elapsed, cost);
        }
    }

    /// Whether `n` more requests shaped like (`op`, `variables`) fit in the budget left now, so
    /// speculative pages are only sent when they cannot delay needed ones.
    pub(crate) fn can_afford(&self, op: &Op, variables: &Value, n: u32) -> bool {
        self.inner
            .pacer
            .can_afford(&Self::cost_key(op, variables), i64::from(n))
    }

    /// Sends `op` until it succeeds or the retry budget says stop. Returns the `data` object.
    pub(crate) async fn execute(&self, op: &Op, variables: Value) -> Result<Value, MondayError> {
        let policy = &self.inner.config.retry;
        let key = Self::cost_key(op, &variables);
        let mut attempt: u32 = 0;
        let mut failures: u32 = 0;
        let mut throttle_waited = Duration::ZERO;
        loop {
            attempt += 1;
            if attempt > 1 {
                self.counters().retries += 1;
            }
            let permit = self
                .inner
                .permits
                .acquire()
                .await
                .map_err(|_| MondayError::Config("client is shut down".into()))?;
            let (ticket, waited) = self.inner.pacer.acquire(&key).await;
            if !waited.is_zero() {
                self.counters().wait += waited;
                if let Some(o) = &self.inner.observer {
                    o.on_wait(op.name, waited);
                }
            }
            let started = Instant::now();
            let result = self.send(op, &variables).await;
            drop(permit);
            let elapsed = started.elapsed();

            let (status, retry_after, requests_left, body) = match result {
                Ok(r) => r,
                Err(f) => {
                    self.inner.pacer.complete(ticket, None, None);
                    self.record(op, f.cause, None, elapsed, None);
                    tracing::debug!(
                        operation = op.name,
                        attempt,
                        cause = f.cause,
                        "Monday request failed"
                    );
                    failures += 1;
                    if failures >= policy.max_attempts || (f.maybe_sent && !op.resend_safe) {
                        return Err(MondayError::Unreachable {
                            operation: op.name,
                            cause: f.cause,
                            attempts: attempt,
                        });
                    }
                    tokio::time::sleep(self.backoff(failures)).await;
                    continue;
                }
            };

            let verdict = classify(status, retry_after, &body, op.name, op.scope);
            let complexity = match &verdict {
                Verdict::Ok { complexity, .. }
                | Verdict::Throttled { complexity, .. }
                | Verdict::Transient { complexity, .. }
                | Verdict::Fatal { complexity, .. } => *complexity,
                Verdict::DailyLimit { .. } => None,
            };
            let outcome = verdict.outcome();
            self.record(
                op,
                &outcome,
                Some(status),
                elapsed,
                complexity.map(|c| c.query),
            );
            self.inner.pacer.complete(ticket, complexity, requests_left);
            tracing::debug!(
                operation = op.name,
                attempt,
                status,
                outcome = outcome.as_str(),
                cost = complexity.map(|c| c.query),
                remaining = complexity.map(|c| c.after),
                elapsed_ms = elapsed.as_millis() as u64,
                "Monday request"
            );

            match verdict {
                Verdict::Ok { data, .. } => return Ok(data),
                Verdict::Fatal { error, .. } => return Err(error),
                Verdict::DailyLimit { wait } => {
                    return Err(MondayError::DailyLimitExceeded {
                        operation: op.name,
                        retry_after: wait,
                    });
                }
                Verdict::Throttled {
                    code,
                    wait,
                    complexity_exhausted,
                    ..
                } => {
                    let wait = wait
                        .unwrap_or(policy.default_throttle_wait)
                        .max(Duration::from_millis(100));
                    if throttle_waited + wait > policy.max_throttle_wait {
                        return Err(MondayError::RateLimited {
                            operation: op.name,
                            code,
                            retry_after: Some(wait),
                        });
                    }
                    throttle_waited += wait;
                    self.counters().throttle_wait += wait;
                    tracing::info!(
                        operation = op.name,
                        code = code.as_str(),
                        wait_s = wait.as_secs_f64(),
                        "Monday throttled us; waiting"
                    );
                    // The pause applies to every caller; this one waits for it in `acquire`.
                    self.inner.pacer.throttled(wait, complexity_exhausted);
                }
                Verdict::Transient {
                    status, malformed, ..
                } => {
                    failures += 1;
                    if failures >= policy.max_attempts || !op.resend_safe {
                        return Err(if malformed {
                            MondayError::Protocol {
                                operation: op.name,
                                detail: format!(
                                    "malformed response body (HTTP {status}) after {attempt} attempts"
                                ),
                            }
                        } else {
                            MondayError::Server {
                                operation: op.name,
                                status,
                                attempts: attempt,
                            }
                        });
                    }
                    tokio::time::sleep(self.backoff(failures)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod header_tests {
    use super::minute_requests_left;

    #[test]
    fn parses_minute_rate_from_ratelimit_header() {
        let h = "\"minuteRate\";r=4999, \"concurrency\";r=249, \"complexityMinute\";r=4950000;t=45";
        assert_eq!(minute_requests_left(h), Some(4999));
        assert_eq!(minute_requests_left("\"concurrency\";r=3"), None);
        assert_eq!(minute_requests_left("garbage"), None);
    }
}
