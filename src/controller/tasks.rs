//! Sync tasks: at most one per connector, a global bound on how many run at once, and the
//! results handed back to the reconciler (which alone writes status).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedSender;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Semaphore;

use crate::api::MondayConnector;
use crate::engine::{self, Connection, SyncOptions, SyncReport};

/// Identifies a connector: namespace and name.
pub type Key = (String, String);

/// A finished sync, waiting to be written into status.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub finished: jiff::Timestamp,
    /// Identifies this outcome: `finished` has whole seconds only, and two syncs (a sync-now
    /// right after a scheduled one) can end within the same second.
    pub seq: u64,
    pub duration: Duration,
    pub result: Result<SyncReport, SyncFailure>,
    /// The inputs it ran with (see `MondayConnectorStatus::synced_revision`).
    pub revision: String,
    /// The sync-now annotation value it answered.
    pub request: Option<String>,
    /// Whether its Events went out.
    pub published: bool,
}

/// A failed sync, reduced to what status may show (no secret material: engine errors are built
/// from codes and ids).
#[derive(Clone, Debug)]
pub struct SyncFailure {
    pub reason: &'static str,
    pub message: String,
    pub transient: bool,
}

#[derive(Default)]
struct Entry {
    running: bool,
    abort: Option<tokio::task::AbortHandle>,
    outcome: Option<Outcome>,
    /// Consecutive transient failures; reset on success.
    failures: u32,
    /// The (generation, Secret version) we last emitted the ignored-keys Event for.
    warned: Option<String>,
}

/// Everything a sync needs besides the shared tracker.
pub struct SyncJob {
    pub key: Key,
    pub connection: Connection,
    pub path: PathBuf,
    pub options: SyncOptions,
    pub revision: String,
    pub request: Option<String>,
}

/// The tracker shared by the reconciler and the tasks.
pub struct Tasks {
    entries: Mutex<HashMap<Key, Entry>>,
    limit: Arc<Semaphore>,
    in_flight: AtomicUsize,
    next_seq: AtomicU64,
    stopping: AtomicBool,
    timeout: Duration,
    trigger: UnboundedSender<ObjectRef<DeserializeGuard<MondayConnector>>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Tasks {
    pub fn new(
        max_concurrent: usize,
        timeout: Duration,
        trigger: UnboundedSender<ObjectRef<DeserializeGuard<MondayConnector>>>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Tasks {
            entries: Mutex::default(),
            limit: Arc::new(Semaphore::new(max_concurrent.max(1))),
            in_flight: AtomicUsize::new(0),
            next_seq: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            timeout,
            trigger,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding this lock leaves plain data behind; keep going.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_running(&self, key: &Key) -> bool {
        self.lock().get(key).is_some_and(|e| e.running)
    }

    /// The finished sync not yet written to status, if any.
    pub fn outcome(&self, key: &Key) -> Option<Outcome> {
        self.lock().get(key).and_then(|e| e.outcome.clone())
    }

    /// Forgets the outcome once the status the reconciler reads holds it (only if no newer one
    /// replaced it meanwhile). Until then a reconcile on a stale cached object re-applies it,
    /// instead of writing a status that lacks the sync.
    pub fn consume(&self, key: &Key, seq: u64) {
        if let Some(e) = self.lock().get_mut(key)
            && e.outcome.as_ref().is_some_and(|o| o.seq == seq)
        {
            e.outcome = None;
        }
    }

    /// Marks the outcome's Events as published, so a re-applied outcome does not repeat them.
    /// Returns false when they were already published.
    pub fn mark_published(&self, key: &Key, seq: u64) -> bool {
        let mut map = self.lock();
        let Some(o) = map
            .get_mut(key)
            .and_then(|e| e.outcome.as_mut())
            .filter(|o| o.seq == seq)
        else {
            return false;
        };
        !std::mem::replace(&mut o.published, true)
    }

    pub fn failures(&self, key: &Key) -> u32 {
        self.lock().get(key).map(|e| e.failures).unwrap_or(0)
    }

    /// True the first time it is called for `marker` (per connector), false afterwards.
    pub fn first_warning(&self, key: &Key, marker: &str) -> bool {
        let mut map = self.lock();
        let e = map.entry(key.clone()).or_default();
        if e.warned.as_deref() == Some(marker) {
            return false;
        }
        e.warned = Some(marker.to_string());
        true
    }

    /// Undoes [`Self::first_warning`] when the Event could not be published.
    pub fn forget_warning(&self, key: &Key) {
        if let Some(e) = self.lock().get_mut(key) {
            e.warned = None;
        }
    }

    /// Starts a sync unless one runs for this connector or the operator is stopping.
    pub fn start(self: &Arc<Self>, job: SyncJob) -> bool {
        if self.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let mut map = self.lock();
        let entry = map.entry(job.key.clone()).or_default();
        if entry.running {
            return false;
        }
        entry.running = true;
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let this = self.clone();
        let handle = tokio::spawn(async move { this.run(job).await });
        entry.abort = Some(handle.abort_handle());
        true
    }

    async fn run(self: Arc<Self>, job: SyncJob) {
        // Released on every path, also when the task is aborted (connector deleted).
        struct Done<'a>(&'a Tasks);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                    super::memory::trim_soon();
                }
            }
        }
        let _done = Done(&self);
        let Ok(_permit) = self.limit.clone().acquire_owned().await else {
            return;
        };
        if self.stopping.load(Ordering::SeqCst) {
            self.finish(&job, None);
            return;
        }
        self.metrics.syncs_in_flight.inc();
        let (ns, name) = &job.key;
        tracing::info!(namespace = %ns, name = %name, "sync started");
        let started = Instant::now();
        let result = match tokio::fs::create_dir_all(job.path.parent().unwrap_or(&job.path)).await {
            Err(e) => Err(SyncFailure {
                reason: "SnapshotWriteFailed",
                message: format!("cannot create the snapshot folder: {e}"),
                transient: true,
            }),
            Ok(()) => match tokio::time::timeout(
                self.timeout,
                engine::sync_to_file_observed(
                    &job.connection,
                    &job.path,
                    &job.options,
                    Some(Arc::new(crate::metrics::RequestObserver(
                        self.metrics.clone(),
                    ))),
                ),
            )
            .await
            {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(e)) => Err(SyncFailure {
                    reason: e.reason(),
                    message: e.to_string(),
                    transient: e.is_transient(),
                }),
                Err(_) => Err(SyncFailure {
                    reason: "SyncTimeout",
                    message: format!("the sync did not finish within {}s", self.timeout.as_secs()),
                    transient: true,
                }),
            },
        };
        let duration = started.elapsed();
        self.metrics.syncs_in_flight.dec();
        self.record_metrics(&job.key, &result, duration);
        match &result {
            Ok(r) => {
                tracing::info!(namespace = %ns, name = %name, users = r.counts.users, grants = r.counts.grants, seconds = duration.as_secs_f64(), "sync succeeded")
            }
            Err(f) => {
                tracing::warn!(namespace = %ns, name = %name, reason = f.reason, error = %f.message, "sync failed")
            }
        }
        // Whole seconds: status timestamps are stored at second precision, and comparing against
        // what the apiserver returns must not see a difference that is only rounding.
        let finished = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let outcome = Outcome {
            finished,
            seq: self.next_seq.fetch_add(1, Ordering::SeqCst),
            published: false,
            duration,
            result,
            revision: job.revision.clone(),
            request: job.request.clone(),
        };
        self.finish(&job, Some(outcome));
    }

    fn finish(&self, job: &SyncJob, outcome: Option<Outcome>) {
        {
            let mut map = self.lock();
            let e = map.entry(job.key.clone()).or_default();
            e.running = false;
            e.abort = None;
            if let Some(o) = outcome {
                match &o.result {
                    Ok(_) => e.failures = 0,
                    Err(f) if f.transient => e.failures = e.failures.saturating_add(1),
                    Err(_) => e.failures = 0,
                }
                e.outcome = Some(o);
            }
        }
        let (ns, name) = &job.key;
        let _ = self.trigger.unbounded_send(ObjectRef::new(name).within(ns));
    }

    fn record_metrics(
        &self,
        key: &Key,
        result: &Result<SyncReport, SyncFailure>,
        duration: Duration,
    ) {
        use crate::metrics::{ConnectorLabels, SyncLabels};
        let m = &self.metrics;
        let labels = match result {
            Ok(r) => {
                m.grants
                    .get_or_create(&ConnectorLabels {
                        namespace: key.0.clone(),
                        name: key.1.clone(),
                    })
                    .set(i64::try_from(r.counts.grants).unwrap_or(i64::MAX));
                SyncLabels {
                    result: "success".into(),
                    reason: "SyncSucceeded".into(),
                }
            }
            Err(f) => SyncLabels {
                result: "failure".into(),
                reason: f.reason.into(),
            },
        };
        m.syncs.get_or_create(&labels).inc();
        m.sync_duration
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    /// Stops a connector's sync (deleted connector) and forgets it.
    pub fn remove(&self, key: &Key) {
        if let Some(e) = self.lock().remove(key)
            && let Some(a) = e.abort
        {
            a.abort();
        }
        self.metrics
            .grants
            .remove(&crate::metrics::ConnectorLabels {
                namespace: key.0.clone(),
                name: key.1.clone(),
            });
    }

    /// Refuses new syncs and waits up to `timeout` for running ones; true when none is left.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }
}
