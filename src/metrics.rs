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

use crate::reason::Reason;

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

/// One ConductorOne task: its type and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub r#type: String,
    pub result: String,
}

/// The kind a reconcile was for.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

/// A failed reconcile: its kind and error category.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
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
    pub reconciles: Family<KindLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub syncs_in_flight: Gauge,
    pub c1_tasks: Family<TaskLabels, Counter>,
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
        let reconciles = Family::<KindLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let syncs_in_flight = Gauge::default();
        let c1_tasks = Family::<TaskLabels, Counter>::default();
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
        registry.register("reconciles", "Reconciles by kind", reconciles.clone());
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
            "conductorone_tasks",
            "ConductorOne service-mode tasks by type and result",
            c1_tasks.clone(),
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
            c1_tasks,
            leader,
        }
    }

    /// Counts one finished ConductorOne task.
    pub fn count_c1_task(&self, task_type: &str, result: &str) {
        self.c1_tasks
            .get_or_create(&TaskLabels {
                r#type: task_type.into(),
                result: result.into(),
            })
            .inc();
    }

    /// Counts one reconcile of `kind`.
    pub fn count_reconcile(&self, kind: &str) {
        self.reconciles
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    /// Counts one failed reconcile of `kind`.
    pub fn count_reconcile_error(&self, kind: &str, reason: Reason) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                kind: kind.into(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Records one finished sync of connector `namespace/name`: its grant count on success,
    /// else the failure's reason, and its duration.
    pub fn record_sync(
        &self,
        namespace: &str,
        name: &str,
        result: Result<u64, Reason>,
        duration: std::time::Duration,
    ) {
        let labels = match result {
            Ok(grants) => {
                self.grants
                    .get_or_create(&ConnectorLabels {
                        namespace: namespace.into(),
                        name: name.into(),
                    })
                    .set(i64::try_from(grants).unwrap_or(i64::MAX));
                SyncLabels {
                    result: "success".into(),
                    reason: Reason::SyncSucceeded.to_string(),
                }
            }
            Err(reason) => SyncLabels {
                result: "failure".into(),
                reason: reason.to_string(),
            },
        };
        self.syncs.get_or_create(&labels).inc();
        self.sync_duration
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    /// Drops the per-connector series of a deleted connector.
    pub fn forget_connector(&self, namespace: &str, name: &str) {
        self.grants.remove(&ConnectorLabels {
            namespace: namespace.into(),
            name: name.into(),
        });
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
