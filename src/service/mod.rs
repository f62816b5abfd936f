//! Service mode: the ConductorOne task loop shared by `monday-operator service` and the
//! controller. No Kubernetes here.
//!
//! [`Service::run`] says `Hello` (retrying as the SDK does), then polls `GetTask` and runs each
//! task through `engine` — sync then upload, grant/revoke, invite, deactivate/reactivate, team
//! create/delete — with up to `task_concurrency` tasks at once (slots taken before polling, as
//! the SDK does), heartbeats during syncs, and `FinishTask` per the SDK's rules
//! ([`handlers`]). Every start and end of a task reaches the [`ServiceObserver`], which is all
//! an embedding program needs to keep status, Events, metrics and records.
//!
//! Timings: `next_poll` clamped to [0, 5 min] like the SDK, with a floor so a zero never spins —
//! 1 s after an empty poll, 100 ms after a task (the next task may be waiting); `GetTask`
//! failures wait errCount² s, at most 60 s; heartbeats every `next_heartbeat` clamped to
//! [1 s, 5 min] (30 s when unset); the heartbeat loop cancels the task when its failure counter
//! reaches 10 as the SDK's does (after 9 consecutive failures at one interval).
//!
//! Stopping: polling stops at once; a running sync is abandoned without `FinishTask` (as the SDK
//! abandons it when its process exits; ConductorOne re-queues a task whose heartbeats stop), and
//! its half-done snapshot never becomes a file (the engine writes atomically); provisioning tasks
//! get `stop_grace` to finish and report, then are abandoned too.

pub mod events;
pub mod handlers;
pub mod metadata;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use crate::conductorone::task::SyncFull;
use crate::conductorone::{self, C1Error, Finish, Task, TaskKind, pb};
use crate::engine::{self, Connection};
use crate::monday::{self, ClientObserver, MondayError};
use crate::reason::Reason;

pub use events::{
    GrantRef, ServiceEvent, ServiceObserver, TaskDetail, TaskInfo, TaskOutcome, TaskReport,
};
use handlers::{ActionLog, Handled};

/// Default task slots (the SDK's `TaskConcurrencySchemaDefault`).
pub const DEFAULT_TASK_CONCURRENCY: usize = 3;
/// How long provisioning tasks may run on after a stop (the whole stop stays under 10 s).
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(7);

const MAX_POLL: Duration = Duration::from_secs(300);
const IDLE_POLL_FLOOR: Duration = Duration::from_secs(1);
const BUSY_POLL_FLOOR: Duration = Duration::from_millis(100);
const MIN_HEARTBEAT: Duration = Duration::from_secs(1);
const MAX_HEARTBEAT: Duration = Duration::from_secs(300);
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
const HEARTBEAT_MAX_FAILURES: u32 = 10;
const HELLO_BACKOFF_START: Duration = Duration::from_secs(1);
const HELLO_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Whether provisioning tasks may change Monday. Shared, so the embedding program can switch it
/// while the loop runs.
#[derive(Clone, Debug)]
pub struct Provisioning(Arc<AtomicBool>);

impl Provisioning {
    pub fn new(enabled: bool) -> Self {
        Provisioning(Arc::new(AtomicBool::new(enabled)))
    }
    pub fn set(&self, enabled: bool) {
        self.0.store(enabled, Ordering::SeqCst);
    }
    pub fn enabled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Where a full sync goes when the embedding program keeps the connector's snapshot itself (the
/// operator: the connector's own `.c1z`, through its sync tracker, so one sync runs per connector
/// and the connector's status shows it). The report's `path` is the file uploaded.
pub trait SyncSink: Send + Sync {
    fn sync(
        &self,
        opts: engine::SyncOptions,
    ) -> futures::future::BoxFuture<'static, Result<engine::SyncReport, engine::SyncError>>;
}

/// How the loop runs.
#[derive(Clone)]
pub struct ServiceConfig {
    /// Folder for sync files before upload (one per task, removed after; the last uploaded one
    /// is kept as `last-upload.c1z`).
    pub work_dir: PathBuf,
    pub task_concurrency: usize,
    pub provisioning: Provisioning,
    pub stop_grace: Duration,
    /// Sees every Monday request (metrics), syncs and provisioning alike.
    pub monday_observer: Option<Arc<dyn ClientObserver>>,
    /// Takes the full syncs (every resource type, nothing omitted); `None` = a file of its own
    /// per task in `work_dir`.
    pub snapshots: Option<Arc<dyn SyncSink>>,
}

impl std::fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("work_dir", &self.work_dir)
            .field("task_concurrency", &self.task_concurrency)
            .field("provisioning", &self.provisioning.enabled())
            .field("stop_grace", &self.stop_grace)
            .finish_non_exhaustive()
    }
}

impl ServiceConfig {
    pub fn new(work_dir: PathBuf, provisioning: bool) -> Self {
        ServiceConfig {
            work_dir,
            task_concurrency: DEFAULT_TASK_CONCURRENCY,
            provisioning: Provisioning::new(provisioning),
            stop_grace: DEFAULT_STOP_GRACE,
            monday_observer: None,
            snapshots: None,
        }
    }
}

/// Why the loop could not run or ended.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The start-up `Hello` failed with an error the SDK does not retry (bad or revoked
    /// credentials, permission, …).
    #[error("ConductorOne refused the connector at start-up: {0}")]
    Hello(#[source] C1Error),
    #[error(transparent)]
    Monday(#[from] MondayError),
    #[error("the work folder {path}: {source}")]
    WorkDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ServiceError {
    /// The reason for conditions (`InvalidCredentials`, `Unauthenticated`, …).
    pub fn reason(&self) -> Reason {
        match self {
            ServiceError::Hello(e) => e.reason(),
            ServiceError::Monday(e) => e.reason(),
            ServiceError::WorkDir { .. } => Reason::WorkDirUnusable,
        }
    }
}

/// The task loop of one connector.
pub struct Service {
    c1: conductorone::Client,
    monday: monday::Client,
    conn: Connection,
    cfg: ServiceConfig,
    observer: Arc<dyn ServiceObserver>,
    actions: ActionLog,
    in_flight: Mutex<HashMap<String, (TaskInfo, Instant)>>,
}

/// `next_poll` → the wait before the next `GetTask`.
pub fn poll_interval(next_poll: Option<prost_types::Duration>, got_task: bool) -> Duration {
    let d = to_duration(next_poll).min(MAX_POLL);
    d.max(if got_task {
        BUSY_POLL_FLOOR
    } else {
        IDLE_POLL_FLOOR
    })
}

/// `next_heartbeat` → the wait before the next heartbeat (the SDK's `getHeartbeatInterval`).
pub fn heartbeat_interval(next: Option<prost_types::Duration>) -> Duration {
    let d = to_duration(next);
    if d.is_zero() {
        DEFAULT_HEARTBEAT
    } else {
        d.clamp(MIN_HEARTBEAT, MAX_HEARTBEAT)
    }
}

/// The wait after `n` consecutive `GetTask` failures (the runner's `backoff`).
pub fn poll_backoff(n: u32) -> Duration {
    Duration::from_secs(u64::from(n).saturating_mul(u64::from(n)).min(60))
}

fn to_duration(d: Option<prost_types::Duration>) -> Duration {
    match d {
        Some(d) if d.seconds > 0 || (d.seconds == 0 && d.nanos > 0) => {
            Duration::new(d.seconds as u64, d.nanos.max(0) as u32)
        }
        _ => Duration::ZERO,
    }
}

enum SyncEnd {
    Finish(Handled),
    Drop(String),
}

impl Service {
    /// Builds the loop; nothing is sent until [`run`](Self::run).
    pub fn new(
        c1: conductorone::Client,
        conn: Connection,
        cfg: ServiceConfig,
        observer: Arc<dyn ServiceObserver>,
    ) -> Result<Self, ServiceError> {
        let config = monday::ClientConfig {
            api_url: conn.api_url.clone(),
            ..Default::default()
        };
        let monday = match &cfg.monday_observer {
            Some(o) => monday::Client::with_observer(config, conn.token.clone(), o.clone())?,
            None => monday::Client::new(config, conn.token.clone())?,
        };
        Ok(Service {
            c1,
            monday,
            conn,
            cfg,
            observer,
            actions: ActionLog::default(),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    fn emit(&self, e: ServiceEvent) {
        self.observer.event(&e);
    }

    /// Runs until `shutdown` resolves (then stops as the module docs say) or the start-up
    /// `Hello` fails for good.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServiceError> {
        let work_dir = self.cfg.work_dir.clone();
        std::fs::create_dir_all(&work_dir).map_err(|source| ServiceError::WorkDir {
            path: work_dir.clone(),
            source,
        })?;
        remove_stale_syncs(&work_dir, &[]);
        let me = Arc::new(self);
        tokio::pin!(shutdown);
        if !me.bootstrap(&mut shutdown).await? {
            return Ok(());
        }
        let slots = Arc::new(Semaphore::new(me.cfg.task_concurrency.clamp(1, 100)));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut running = tokio::task::JoinSet::new();
        let mut wait = Duration::ZERO;
        let mut failures = 0u32;
        loop {
            while running.try_join_next().is_some() {}
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let polled = tokio::select! {
                _ = &mut shutdown => break,
                r = me.c1.get_task() => r,
            };
            let resp = match polled {
                Ok(r) => r,
                Err(e) => {
                    failures += 1;
                    wait = poll_backoff(failures);
                    tracing::warn!(error = %e, consecutive = failures, retry_in_s = wait.as_secs(), "GetTask failed");
                    me.emit(ServiceEvent::PollFailed {
                        reason: e.reason(),
                        message: e.to_string(),
                        consecutive: failures,
                        retry_in: wait,
                    });
                    continue;
                }
            };
            if failures > 0 {
                failures = 0;
                me.emit(ServiceEvent::PollRecovered);
            }
            let task = Task::from_pb(resp.task);
            wait = poll_interval(resp.next_poll, task.is_some());
            let Some(task) = task else {
                tracing::trace!(next_poll_ms = wait.as_millis() as u64, "no task");
                continue;
            };
            let me2 = me.clone();
            let stop = stop_rx.clone();
            running.spawn(async move {
                let _slot = permit;
                me2.process(task, stop).await;
            });
        }
        // Stop: no more polling; syncs drop at once, provisioning tasks get the grace period.
        let in_flight = running.len();
        tracing::info!(in_flight, "stopping the ConductorOne task loop");
        me.emit(ServiceEvent::Stopping { in_flight });
        let _ = stop_tx.send(true);
        let deadline = tokio::time::Instant::now() + me.cfg.stop_grace;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, running.join_next()).await {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if !running.is_empty() {
            running.abort_all();
            while running.join_next().await.is_some() {}
        }
        let abandoned: Vec<(TaskInfo, Instant)> = me
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, v)| v)
            .collect();
        for (info, started) in abandoned {
            tracing::warn!(task_id = %info.id, task_type = %info.task_type, "task abandoned: the service stopped");
            me.emit(ServiceEvent::TaskFinished(Box::new(TaskReport {
                info,
                outcome: TaskOutcome::Dropped {
                    why: "abandoned: the service stopped".into(),
                },
                duration: started.elapsed(),
                finish_reported: false,
                detail: TaskDetail::None,
            })));
        }
        Ok(())
    }

    fn hello_request(&self, task_id: &str) -> pb::HelloRequest {
        pb::HelloRequest {
            host_id: String::new(),
            task_id: task_id.to_string(),
            build_info: Some(conductorone::hello::build_info()),
            os_info: Some(conductorone::hello::os_info()),
            connector_metadata: Some(metadata::connector_metadata()),
            annotations: Vec::new(),
        }
    }

    /// The start-up `Hello` with the SDK's backoff; `false` when stopped meanwhile.
    async fn bootstrap(
        &self,
        shutdown: &mut std::pin::Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Result<bool, ServiceError> {
        let mut backoff = HELLO_BACKOFF_START;
        loop {
            let sent = tokio::select! {
                _ = shutdown.as_mut() => return Ok(false),
                r = self.c1.hello(self.hello_request("")) => r,
            };
            match sent {
                Ok(_) => {
                    tracing::info!(host_id = self.c1.host_id(), "connected to ConductorOne");
                    self.emit(ServiceEvent::Connected {
                        host_id: self.c1.host_id().to_string(),
                    });
                    return Ok(true);
                }
                Err(e) if !e.hello_retryable() => {
                    tracing::error!(error = %e, reason = %e.reason(), "start-up Hello failed; not retrying");
                    self.emit(ServiceEvent::HelloFailed {
                        reason: e.reason(),
                        message: e.to_string(),
                        retry_in: None,
                    });
                    return Err(ServiceError::Hello(e));
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_s = backoff.as_secs(), "start-up Hello failed; retrying");
                    self.emit(ServiceEvent::HelloFailed {
                        reason: e.reason(),
                        message: e.to_string(),
                        retry_in: Some(backoff),
                    });
                    tokio::select! {
                        _ = shutdown.as_mut() => return Ok(false),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(HELLO_BACKOFF_MAX);
                }
            }
        }
    }

    /// One task from start to `FinishTask`, reported to the observer.
    async fn process(&self, task: Task, mut stop: watch::Receiver<bool>) {
        let started = Instant::now();
        let task_type = task.kind.type_name();
        let grant = match &task.kind {
            TaskKind::Grant(g) => {
                handlers::grant_target(Some(&g.entitlement), Some(&g.principal), "")
                    .ok()
                    .map(|(e, p)| handlers::grant_ref(&e, &p, g.duration))
            }
            TaskKind::Revoke(r) => handlers::grant_target(
                r.grant.entitlement.as_ref(),
                r.grant.principal.as_ref(),
                &r.grant.id,
            )
            .ok()
            .map(|(e, p)| handlers::grant_ref(&e, &p, None)),
            _ => None,
        };
        let info = TaskInfo {
            id: task.id.clone(),
            task_type,
            grant,
        };
        tracing::info!(task_id = %task.id, task_type = %task_type, grant = info.grant.as_ref().map(|g| g.grant_id.as_str()), "task started");
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task.id.clone(), (info.clone(), started));
        self.emit(ServiceEvent::TaskStarted(info.clone()));

        let handled = match &task.kind {
            TaskKind::Hello => {
                let outcome = match self.c1.hello(self.hello_request(&task.id)).await {
                    Ok(_) => {
                        self.emit(ServiceEvent::Connected {
                            host_id: self.c1.host_id().to_string(),
                        });
                        TaskOutcome::Succeeded
                    }
                    Err(e) => TaskOutcome::Failed {
                        code: e.code(),
                        reason: e.reason(),
                        message: e.to_string(),
                        non_retryable: false,
                    },
                };
                self.done(info, started, outcome, false, TaskDetail::None);
                return;
            }
            TaskKind::SyncFull(s) => match self.sync(&task, s, &mut stop).await {
                SyncEnd::Finish(h) => h,
                SyncEnd::Drop(why) => {
                    tracing::warn!(task_id = %task.id, why = %why, "sync task dropped without FinishTask");
                    self.done(
                        info,
                        started,
                        TaskOutcome::Dropped { why },
                        false,
                        TaskDetail::None,
                    );
                    return;
                }
            },
            TaskKind::Unsupported(t) => {
                tracing::warn!(task_id = %task.id, task_type = %t, "unsupported task type");
                Handled::unsupported()
            }
            TaskKind::Malformed { task_type, why } => handlers::malformed(*task_type, why),
            _ if task_type.is_provisioning() && !self.cfg.provisioning.enabled() => {
                tracing::warn!(task_id = %task.id, task_type = %task_type, "provisioning task refused: provisioning is not enabled");
                Handled::provisioning_disabled()
            }
            TaskKind::Grant(g) => handlers::grant(&self.monday, g).await,
            TaskKind::Revoke(r) => handlers::revoke(&self.monday, r).await,
            TaskKind::CreateAccount(c) => handlers::create_account(&self.monday, c).await,
            TaskKind::CreateResource { resource } => {
                handlers::create_resource(&self.monday, resource).await
            }
            TaskKind::DeleteResource { resource_id, .. } => {
                handlers::delete_resource(&self.monday, resource_id).await
            }
            TaskKind::ActionListSchemas { resource_type_id } => {
                handlers::list_schemas(resource_type_id.as_deref())
            }
            TaskKind::ActionGetSchema { name } => handlers::get_schema(name),
            TaskKind::ActionInvoke { name, args, .. } => {
                handlers::invoke(&self.monday, &self.actions, name, args).await
            }
            TaskKind::ActionStatus { id, .. } => handlers::status(&self.actions, id),
        };
        let outcome = match &handled.finish {
            Finish::Success { .. } => TaskOutcome::Succeeded,
            Finish::Error {
                code,
                message,
                non_retryable,
            } if *code == tonic::Code::Cancelled => {
                let _ = (message, non_retryable);
                TaskOutcome::Cancelled {
                    heartbeat_failed: handled.reason == Reason::HeartbeatFailed,
                }
            }
            Finish::Error {
                code,
                message,
                non_retryable,
            } => TaskOutcome::Failed {
                code: *code,
                reason: handled.reason,
                message: message.clone(),
                non_retryable: *non_retryable,
            },
        };
        let reported = match self.c1.finish_task(&task.id, handled.finish).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "FinishTask failed");
                false
            }
        };
        if let TaskKind::SyncFull(_) = task.kind {
            let path = handlers::sync_path(&self.cfg.work_dir, &task.id);
            if reported && outcome == TaskOutcome::Succeeded {
                let _ = std::fs::rename(&path, handlers::last_upload_path(&self.cfg.work_dir));
            }
            let _ = std::fs::remove_file(&path);
        }
        self.done(info, started, outcome, reported, handled.detail);
    }

    fn done(
        &self,
        info: TaskInfo,
        started: Instant,
        outcome: TaskOutcome,
        finish_reported: bool,
        detail: TaskDetail,
    ) {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&info.id);
        let duration = started.elapsed();
        match &outcome {
            TaskOutcome::Succeeded => {
                tracing::info!(task_id = %info.id, task_type = %info.task_type, ms = duration.as_millis() as u64, "task finished")
            }
            TaskOutcome::Failed {
                reason,
                message,
                non_retryable,
                ..
            } => {
                tracing::warn!(task_id = %info.id, task_type = %info.task_type, reason = %reason, non_retryable, error = %message, "task failed")
            }
            TaskOutcome::Cancelled { heartbeat_failed } => {
                tracing::warn!(task_id = %info.id, heartbeat_failed, "task cancelled")
            }
            TaskOutcome::Dropped { why } => {
                tracing::warn!(task_id = %info.id, why = %why, "task dropped")
            }
        }
        self.emit(ServiceEvent::TaskFinished(Box::new(TaskReport {
            info,
            outcome,
            duration,
            finish_reported,
            detail,
        })));
    }

    /// A full sync under heartbeats, then the upload.
    async fn sync(
        &self,
        task: &Task,
        opts: &SyncFull,
        stop: &mut watch::Receiver<bool>,
    ) -> SyncEnd {
        let path = handlers::sync_path(&self.cfg.work_dir, &task.id);
        let _ = std::fs::remove_file(&path);
        let first = tokio::select! {
            _ = stop.changed() => return SyncEnd::Drop("the service is stopping".into()),
            r = self.c1.heartbeat(&task.id) => r,
        };
        let mut interval = match first {
            Err(e) => return SyncEnd::Drop(format!("the first heartbeat failed: {e}")),
            Ok(r) if r.cancelled => {
                return SyncEnd::Drop("ConductorOne cancelled the task before it started".into());
            }
            Ok(r) => heartbeat_interval(r.next_heartbeat),
        };
        let mut sync_opts = handlers::sync_request(&task.id, opts);
        sync_opts.observer = self.cfg.monday_observer.clone();
        let full = sync_opts.resource_types.is_none() && sync_opts.omit == engine::Omit::default();
        let work = async {
            let result = match (&self.cfg.snapshots, full) {
                (Some(sink), true) => sink.sync(sync_opts.clone()).await,
                _ => engine::sync_to_file(&self.conn, &path, &sync_opts).await,
            };
            let report = match result {
                Ok(r) => r,
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    return handlers::sync_failed(&e, TaskDetail::None);
                }
            };
            tracing::info!(task_id = %task.id, grants = report.counts.grants, bytes = report.bytes, "sync written; uploading");
            match self.c1.upload(&task.id, &report.path).await {
                Ok(up) => Handled {
                    finish: Finish::Success {
                        response: None,
                        annotations: Vec::new(),
                    },
                    reason: Reason::Succeeded,
                    detail: TaskDetail::Sync {
                        report: Some(Box::new(report)),
                        upload: Some(up),
                    },
                },
                Err(e) => Handled::error(
                    e.code(),
                    e.reason(),
                    format!(
                        "uploading the sync failed after {} attempts: {e}",
                        conductorone::client::UPLOAD_ATTEMPTS
                    ),
                    false,
                    TaskDetail::Sync {
                        report: Some(Box::new(report)),
                        upload: None,
                    },
                ),
            }
        };
        tokio::pin!(work);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            if attempts >= HEARTBEAT_MAX_FAILURES {
                return SyncEnd::Finish(cancelled(true));
            }
            tokio::select! {
                h = &mut work => return SyncEnd::Finish(h),
                _ = stop.changed() => return SyncEnd::Drop("the service is stopping".into()),
                _ = tokio::time::sleep(interval) => {}
            }
            let beat = tokio::select! {
                h = &mut work => return SyncEnd::Finish(h),
                _ = stop.changed() => return SyncEnd::Drop("the service is stopping".into()),
                r = self.c1.heartbeat(&task.id) => r,
            };
            match beat {
                Err(e) => {
                    tracing::warn!(task_id = %task.id, error = %e, attempts, "heartbeat failed");
                }
                Ok(r) => {
                    interval = heartbeat_interval(r.next_heartbeat);
                    if r.cancelled {
                        tracing::info!(task_id = %task.id, "ConductorOne cancelled the task");
                        return SyncEnd::Finish(cancelled(false));
                    }
                    attempts = 0;
                }
            }
        }
    }
}

/// The SDK's cancelled-task finish: `CANCELLED`, retryable.
fn cancelled(heartbeat_failed: bool) -> Handled {
    let (reason, message) = if heartbeat_failed {
        (
            Reason::HeartbeatFailed,
            "task failed heartbeat: context canceled",
        )
    } else {
        (
            Reason::CancelledByServer,
            "task was cancelled: context canceled",
        )
    };
    Handled::error(
        tonic::Code::Cancelled,
        reason,
        message,
        false,
        TaskDetail::None,
    )
}

/// Removes sync files left by an earlier run (a process killed mid-task).
fn remove_stale_syncs(dir: &std::path::Path, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("sync-") && !keep.iter().any(|k| name.contains(k.as_str())) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: i64, n: i32) -> Option<prost_types::Duration> {
        Some(prost_types::Duration {
            seconds: s,
            nanos: n,
        })
    }

    #[test]
    fn poll_and_heartbeat_intervals_are_clamped_like_the_sdk() {
        assert_eq!(poll_interval(d(2, 0), false), Duration::from_secs(2));
        assert_eq!(poll_interval(d(999, 0), false), MAX_POLL);
        assert_eq!(
            poll_interval(d(0, 0), false),
            IDLE_POLL_FLOOR,
            "never spin on zero"
        );
        assert_eq!(poll_interval(None, true), BUSY_POLL_FLOOR);
        assert_eq!(poll_interval(d(-5, 0), false), IDLE_POLL_FLOOR);
        assert_eq!(heartbeat_interval(None), DEFAULT_HEARTBEAT);
        assert_eq!(heartbeat_interval(d(0, 0)), DEFAULT_HEARTBEAT);
        assert_eq!(heartbeat_interval(d(0, 5)), MIN_HEARTBEAT);
        assert_eq!(heartbeat_interval(d(2, 0)), Duration::from_secs(2));
        assert_eq!(heartbeat_interval(d(3600, 0)), MAX_HEARTBEAT);
        assert_eq!(
            [1, 2, 3, 7, 8, 100].map(poll_backoff),
            [1, 4, 9, 49, 60, 60].map(Duration::from_secs)
        );
    }
}
