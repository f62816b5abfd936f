//! Prometheus metrics of the operator, served on `/metrics`.
//!
//! Labels stay low-cardinality: a result, a CamelCase reason, and namespace/name only on the
//! per-connector grants gauge (removed when the connector goes). Never an error message or a token.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Outcome of one sync: `result` is `success` or `failure`, `reason` a condition reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    pub result: String,
    pub reason: String,
}

/// Outcome code of one Monday.com request (`ok`, an API error code, `http_<status>`, `timeout`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

/// One connector.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    pub namespace: String,
    pub name: String,
}

/// A reconcile error category.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub reason: String,
}

/// Every metric the operator exports, plus the registry that renders them.
pub struct Metrics {
    registry: Registry,
    pub sync_duration: Family<SyncLabels, Histogram>,
    pub syncs: Family<SyncLabels, Counter>,
    pub monday_requests: Family<OutcomeLabels, Counter>,
    pub rate_limit_wait: Counter<f64, AtomicU64>,
    pub grants: Family<ConnectorLabels, Gauge>,
    pub reconciles: Counter,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub syncs_in_flight: Gauge,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric under the `monday_operator` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("monday_operator");
        let sync_duration = Family::<SyncLabels, Histogram>::new_with_constructor(|| {
            // 0.1 s .. ~30 min: small tenants take well under a second, L tenants minutes.
            Histogram::new(exponential_buckets(0.1, 2.5, 12))
        });
        let syncs = Family::<SyncLabels, Counter>::default();
        let monday_requests = Family::<OutcomeLabels, Counter>::default();
        let rate_limit_wait = Counter::<f64, AtomicU64>::default();
        let grants = Family::<ConnectorLabels, Gauge>::default();
        let reconciles = Counter::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let syncs_in_flight = Gauge::default();
        let leader = Gauge::default();
        registry.register(
            "sync_duration_seconds",
            "Wall time of connector syncs",
            sync_duration.clone(),
        );
        registry.register(
            "syncs",
            "Connector syncs by result and reason",
            syncs.clone(),
        );
        registry.register(
            "monday_requests",
            "Monday.com GraphQL requests by outcome code",
            monday_requests.clone(),
        );
        registry.register(
            "rate_limit_wait_seconds",
            "Time syncs spent waiting on Monday.com rate limits",
            rate_limit_wait.clone(),
        );
        registry.register(
            "grants",
            "Grants in the last successful snapshot of a connector",
            grants.clone(),
        );
        registry.register(
            "reconciles",
            "Reconciles of MondayConnectors",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "syncs_in_flight",
            "Syncs running right now",
            syncs_in_flight.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease",
            leader.clone(),
        );
        Metrics {
            registry,
            sync_duration,
            syncs,
            monday_requests,
            rate_limit_wait,
            grants,
            reconciles,
            reconcile_errors,
            syncs_in_flight,
            leader,
        }
    }

    /// Renders the OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Feeds the Monday.com client's per-request events into the metrics as they happen, so
/// `monday_requests` counts every request by its real outcome (`ok`, an API error code,
/// `http_<status>`, `timeout`, …), failed syncs included.
pub struct RequestObserver(pub Arc<Metrics>);

impl crate::monday::ClientObserver for RequestObserver {
    fn on_request(
        &self,
        _operation: &'static str,
        outcome: &str,
        _elapsed: std::time::Duration,
        _complexity: Option<i64>,
    ) {
        // The code comes from the endpoint's answer (and `apiUrl` is user-set): only short
        // code-shaped values become label values.
        let code_like = !outcome.is_empty()
            && outcome.len() <= 64
            && outcome
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b' '));
        self.0
            .monday_requests
            .get_or_create(&OutcomeLabels {
                outcome: if code_like { outcome } else { "other" }.to_string(),
            })
            .inc();
    }

    fn on_wait(&self, _operation: &'static str, waited: std::time::Duration) {
        self.0.rate_limit_wait.inc_by(waited.as_secs_f64());
    }
}
