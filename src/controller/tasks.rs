//! Background syncs of connectors: at most one per connector, a global bound on how many run at
//! once, and each result held until the connector's status shows it.
//!
//! The handshake with the reconciler (the only writer of status):
//! 1. the reconciler's plan asks for a sync → [`Tasks::start`] (refused while one runs);
//! 2. the sync ends → its [`Outcome`] is kept here under a fresh sequence number and the
//!    connector is woken ([`Tasks::new`]'s trigger);
//! 3. every reconcile reads [`Tasks::view`]; the plan writes the outcome into status;
//! 4. once a reconcile reads an object whose status already shows it, the plan says so and the
//!    reconciler calls [`Tasks::consume`]. Until then a reconcile on a stale cached object
//!    applies the outcome again instead of writing a status that lacks the sync.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedSender;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::kit::ObjectKey;
use crate::api::MondayConnector;
use crate::engine::{self, Connection, SyncError, SyncOptions, SyncReport};
use crate::reason::Reason;

/// A finished sync, waiting to be written into status.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Identifies this outcome: two syncs (a sync-now right after a scheduled one) can end
    /// within the same second, which is all status times can tell apart.
    pub seq: u64,
    /// When it ended, whole seconds.
    pub finished: jiff::Timestamp,
    pub duration: Duration,
    pub result: Result<SyncReport, SyncFailure>,
    /// The inputs it ran with (see `MondayConnectorStatus::synced_revision`).
    pub revision: String,
    /// The sync-now annotation value it answered.
    pub request: Option<String>,
}

/// A failed sync, reduced to what status may show (no secret material: engine errors are built
/// from codes and ids).
#[derive(Clone, Debug, PartialEq)]
pub struct SyncFailure {
    pub reason: Reason,
    pub message: String,
    /// How long Monday asked us to wait (its daily limit's reset).
    pub retry_after: Option<Duration>,
}

impl From<&SyncError> for SyncFailure {
    fn from(e: &SyncError) -> Self {
        SyncFailure {
            reason: e.reason(),
            message: e.to_string(),
            retry_after: e.retry_after(),
        }
    }
}

/// What the reconciler sees of a connector's sync.
#[derive(Clone, Debug, Default)]
pub struct TaskView {
    pub running: bool,
    /// The finished sync not yet consumed.
    pub outcome: Option<Outcome>,
}

#[derive(Default)]
struct Entry {
    running: bool,
    abort: Option<tokio::task::AbortHandle>,
    outcome: Option<Outcome>,
}

/// Everything one sync needs.
pub struct SyncJob {
    pub key: ObjectKey,
    pub connection: Connection,
    pub path: PathBuf,
    pub options: SyncOptions,
    pub revision: String,
    pub request: Option<String>,
    /// Told the result as well (a ConductorOne sync task waits for it to upload the file).
    pub done: Option<tokio::sync::oneshot::Sender<Result<SyncReport, SyncFailure>>>,
}

/// The tracker shared by the reconciler and the tasks.
pub struct Tasks {
    entries: Mutex<HashMap<ObjectKey, Entry>>,
    limit: Arc<Semaphore>,
    tracker: TaskTracker,
    next_seq: AtomicU64,
    timeout: Duration,
    trigger: UnboundedSender<ObjectRef<DeserializeGuard<MondayConnector>>>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Tasks {
    /// `trigger` wakes a connector's reconcile when its sync ends.
    pub fn new(
        max_concurrent: usize,
        timeout: Duration,
        trigger: UnboundedSender<ObjectRef<DeserializeGuard<MondayConnector>>>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Tasks {
            entries: Mutex::default(),
            limit: Arc::new(Semaphore::new(max_concurrent.max(1))),
            tracker: TaskTracker::new(),
            next_seq: AtomicU64::new(0),
            timeout,
            trigger,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, Entry>> {
        // A panic while holding this lock leaves plain data behind; keep going.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the reconciler needs to know of `key`'s sync.
    pub fn view(&self, key: &ObjectKey) -> TaskView {
        self.lock()
            .get(key)
            .map(|e| TaskView {
                running: e.running,
                outcome: e.outcome.clone(),
            })
            .unwrap_or_default()
    }

    /// Forgets outcome `seq` once the status the reconciler read shows it (unless a newer one
    /// replaced it meanwhile).
    pub fn consume(&self, key: &ObjectKey, seq: u64) {
        if let Some(e) = self.lock().get_mut(key)
            && e.outcome.as_ref().is_some_and(|o| o.seq == seq)
        {
            e.outcome = None;
        }
    }

    /// Starts a sync unless one runs for this connector or the operator is draining.
    pub fn start(self: &Arc<Self>, job: SyncJob) -> bool {
        self.try_start(job).is_ok()
    }

    /// Runs a sync as soon as the connector's running one (if any) has ended, and waits for it;
    /// its outcome reaches status like any other sync's. `None` when the operator is draining.
    pub async fn run_now(
        self: &Arc<Self>,
        mut job: SyncJob,
    ) -> Option<Result<SyncReport, SyncFailure>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        job.done = Some(tx);
        let mut job = Box::new(job);
        loop {
            match self.try_start(*job) {
                Ok(()) => return rx.await.ok(),
                Err(back) if !self.tracker.is_closed() => job = back,
                Err(_) => return None,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Starts `job`, or gives it back when a sync of its connector runs (or the operator drains).
    fn try_start(self: &Arc<Self>, job: SyncJob) -> Result<(), Box<SyncJob>> {
        if self.tracker.is_closed() {
            return Err(Box::new(job));
        }
        let mut map = self.lock();
        let entry = map.entry(job.key.clone()).or_default();
        if entry.running {
            return Err(Box::new(job));
        }
        entry.running = true;
        let this = self.clone();
        let handle = self.tracker.spawn(async move { this.run(job).await });
        entry.abort = Some(handle.abort_handle());
        Ok(())
    }

    async fn run(self: Arc<Self>, mut job: SyncJob) {
        // Gives memory back when the last running sync ends, also when this one is aborted.
        struct Done<'a>(&'a Tasks);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                // The tracker still counts this task while its future drops.
                if self.0.tracker.len() <= 1 {
                    super::memory::trim_soon();
                }
            }
        }
        let _done = Done(&self);
        let Ok(_permit) = self.limit.clone().acquire_owned().await else {
            return;
        };
        if self.tracker.is_closed() {
            self.finish(&job, None);
            return;
        }
        self.metrics.syncs_in_flight.inc();
        tracing::info!(connector = %job.key, "sync started");
        let started = Instant::now();
        let result = self.sync(&job).await;
        let duration = started.elapsed();
        self.metrics.syncs_in_flight.dec();
        self.metrics.record_sync(
            &job.key.namespace,
            &job.key.name,
            result
                .as_ref()
                .map(|r| r.counts.grants)
                .map_err(|f| f.reason),
            duration,
        );
        match &result {
            Ok(r) => {
                tracing::info!(connector = %job.key, users = r.counts.users, grants = r.counts.grants, seconds = duration.as_secs_f64(), "sync succeeded")
            }
            Err(f) => {
                tracing::warn!(connector = %job.key, reason = %f.reason, error = %f.message, "sync failed")
            }
        }
        if let Some(done) = job.done.take() {
            let _ = done.send(result.clone());
        }
        let outcome = Outcome {
            seq: self.next_seq.fetch_add(1, Ordering::SeqCst),
            finished: crate::time::floor_second(jiff::Timestamp::now()),
            duration,
            result,
            revision: job.revision.clone(),
            request: job.request.clone(),
        };
        self.finish(&job, Some(outcome));
    }

    async fn sync(&self, job: &SyncJob) -> Result<SyncReport, SyncFailure> {
        if let Err(e) = tokio::fs::create_dir_all(job.path.parent().unwrap_or(&job.path)).await {
            return Err(SyncFailure {
                reason: Reason::SnapshotWriteFailed,
                message: format!("cannot create the snapshot folder: {e}"),
                retry_after: None,
            });
        }
        match tokio::time::timeout(
            self.timeout,
            engine::sync_to_file(&job.connection, &job.path, &job.options),
        )
        .await
        {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(SyncFailure::from(&e)),
            Err(_) => Err(SyncFailure {
                reason: Reason::SyncTimeout,
                message: format!("the sync did not finish within {}s", self.timeout.as_secs()),
                retry_after: None,
            }),
        }
    }

    fn finish(&self, job: &SyncJob, outcome: Option<Outcome>) {
        {
            let mut map = self.lock();
            let e = map.entry(job.key.clone()).or_default();
            e.running = false;
            e.abort = None;
            if outcome.is_some() {
                e.outcome = outcome;
            }
        }
        let _ = self
            .trigger
            .unbounded_send(ObjectRef::new(&job.key.name).within(&job.key.namespace));
    }

    /// Stops a connector's sync (deleted connector) and forgets it.
    pub fn remove(&self, key: &ObjectKey) {
        if let Some(e) = self.lock().remove(key)
            && let Some(a) = e.abort
        {
            a.abort();
        }
        self.metrics.forget_connector(&key.namespace, &key.name);
    }

    /// Refuses new syncs and waits up to `timeout` for running ones; true when none is left.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(timeout, self.tracker.wait())
            .await
            .is_ok()
    }
}
