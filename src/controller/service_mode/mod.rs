//! ConductorOne service mode in the operator: one task loop ([`crate::service`]) per connector
//! whose Secret holds the set-up guide's `BATON_CLIENT_ID` / `BATON_CLIENT_SECRET`, run only by
//! the leader (the controllers run only there).
//!
//! The connector reconciler decides ([`plan`], pure) and starts, restarts (rotated credentials or
//! token) or stops the loop through [`ServiceModes`]; the loop's events land in a per-connector
//! [`plan::ServiceView`] and wake the connector, whose next reconcile writes them into status —
//! the reconciler stays the only writer. A ConductorOne full sync runs through the connector's
//! own sync tracker into its snapshot file, so it is also the connector's latest snapshot.
//! Grant tasks that name a duration are recorded as MondayAccessGrants ([`records`]) so that the
//! operator revokes them itself when ConductorOne sends no revoke task in time.

pub mod plan;
pub mod records;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::kit::ObjectKey;
use super::tasks::{SyncJob, Tasks};
use crate::api::MondayConnector;
use crate::conductorone;
use crate::engine::{Connection, SyncError, SyncOptions, SyncReport};
use crate::metrics::Metrics;
use crate::reason::Reason;
use crate::service::{
    Provisioning, Service, ServiceConfig, ServiceEvent, ServiceObserver, SyncSink, TaskDetail,
    TaskOutcome, TaskReport,
};
use plan::{Link, Report, ServiceView};

/// Everything one loop needs (secret material included: it goes straight into the clients).
pub struct Start {
    pub revision: String,
    pub client_id: conductorone::ClientId,
    pub client_secret: conductorone::ClientSecret,
    /// `spec.conductorOne.apiHost` (the SDK's `BATON_C1_API_HOST`).
    pub host_override: Option<String>,
    pub connection: Connection,
    pub task_concurrency: usize,
    pub provisioning: bool,
    /// For full syncs into the connector's snapshot: its file and the spec revision of its syncs.
    pub snapshot: PathBuf,
    pub sync_revision: String,
    pub sync_options: SyncOptions,
}

struct Entry {
    revision: String,
    stop: CancellationToken,
    provisioning: Provisioning,
    view: Arc<Mutex<ServiceView>>,
}

/// The loops of every connector.
pub struct ServiceModes {
    entries: Mutex<HashMap<ObjectKey, Entry>>,
    tracker: TaskTracker,
    trigger: UnboundedSender<ObjectRef<DeserializeGuard<MondayConnector>>>,
    metrics: Arc<Metrics>,
    tasks: Arc<Tasks>,
    data_dir: PathBuf,
    /// Told of every finished grant task, to record time-bound grants.
    records: Option<records::Recorder>,
    /// Trusted CA certificates for ConductorOne besides the platform's (`SSL_CERT_FILE`).
    extra_roots: Option<PathBuf>,
    /// `host_id` sent to ConductorOne (the pod's name, as the SDK sends its hostname).
    host_id: String,
}

/// How service mode reaches ConductorOne, for every connector.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    pub extra_roots: Option<PathBuf>,
    pub host_id: String,
}

impl ServiceModes {
    pub fn new(
        trigger: UnboundedSender<ObjectRef<DeserializeGuard<MondayConnector>>>,
        metrics: Arc<Metrics>,
        tasks: Arc<Tasks>,
        data_dir: PathBuf,
        records: Option<records::Recorder>,
        reach: Reach,
    ) -> Self {
        ServiceModes {
            entries: Mutex::default(),
            tracker: TaskTracker::new(),
            trigger,
            metrics,
            tasks,
            data_dir,
            records,
            extra_roots: reach.extra_roots,
            host_id: reach.host_id,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the loop of `key` reported (empty when none runs).
    pub fn view(&self, key: &ObjectKey) -> ServiceView {
        self.lock()
            .get(key)
            .map(|e| e.view.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }

    /// Forgets the reports up to `seq` (the connector's status shows them).
    pub fn consume(&self, key: &ObjectKey, seq: u64) {
        if let Some(e) = self.lock().get(key) {
            e.view
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reports
                .retain(|r| r.seq > seq);
        }
    }

    /// Keeps the loop of `key` running with `start`'s inputs: nothing when it runs with them
    /// (only the provisioning switch follows), else the old one stops and a new one starts.
    pub fn ensure(self: &Arc<Self>, key: &ObjectKey, start: Start) {
        let mut map = self.lock();
        if let Some(e) = map.get(key)
            && e.revision == start.revision
        {
            e.provisioning.set(start.provisioning);
            return;
        }
        if let Some(old) = map.remove(key) {
            old.stop.cancel();
        }
        if self.tracker.is_closed() {
            return;
        }
        let view = Arc::new(Mutex::new(ServiceView {
            revision: Some(start.revision.clone()),
            link: Link::Starting,
            reports: Vec::new(),
        }));
        let stop = CancellationToken::new();
        let provisioning = Provisioning::new(start.provisioning);
        map.insert(
            key.clone(),
            Entry {
                revision: start.revision.clone(),
                stop: stop.clone(),
                provisioning: provisioning.clone(),
                view: view.clone(),
            },
        );
        drop(map);
        let this = self.clone();
        let key = key.clone();
        self.tracker.spawn(async move {
            this.run_loop(key, start, provisioning, view, stop).await;
        });
    }

    /// Records that the loop of `key` cannot start with these inputs (credentials that do not
    /// parse): no loop runs until the inputs change, and the connector shows why.
    pub fn refuse(&self, key: &ObjectKey, revision: &str, reason: Reason, message: String) {
        let mut map = self.lock();
        if map.get(key).is_some_and(|e| e.revision == revision) {
            return;
        }
        if let Some(old) = map.remove(key) {
            old.stop.cancel();
        }
        map.insert(
            key.clone(),
            Entry {
                revision: revision.to_string(),
                stop: CancellationToken::new(),
                provisioning: Provisioning::new(false),
                view: Arc::new(Mutex::new(ServiceView {
                    revision: Some(revision.to_string()),
                    link: Link::Ended { reason, message },
                    reports: Vec::new(),
                })),
            },
        );
        drop(map);
        self.wake(key);
    }

    /// Stops the loop of `key` (service mode switched off, connector deleted).
    pub fn stop(&self, key: &ObjectKey) {
        if let Some(e) = self.lock().remove(key) {
            e.stop.cancel();
        }
    }

    /// Stops every loop and waits for them (a loop gives running provisioning tasks a few
    /// seconds and abandons a running sync, as the SDK does).
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.tracker.close();
        for e in self.lock().values() {
            e.stop.cancel();
        }
        tokio::time::timeout(timeout, self.tracker.wait())
            .await
            .is_ok()
    }

    async fn run_loop(
        self: Arc<Self>,
        key: ObjectKey,
        start: Start,
        provisioning: Provisioning,
        view: Arc<Mutex<ServiceView>>,
        stop: CancellationToken,
    ) {
        let observer = Arc::new(Observer {
            key: key.clone(),
            view: view.clone(),
            modes: Arc::downgrade(&self),
            client_id: start.client_id.as_str().to_string(),
        });
        let ended = match self.build(&key, start, provisioning, observer) {
            Ok(service) => match service.run(stop.cancelled_owned()).await {
                Ok(()) => None,
                Err(e) => Some((e.reason(), e.to_string())),
            },
            Err((reason, message)) => Some((reason, message)),
        };
        if let Some((reason, message)) = ended {
            tracing::warn!(connector = %key, %reason, error = %message, "ConductorOne service mode ended");
            view.lock().unwrap_or_else(|p| p.into_inner()).link = Link::Ended { reason, message };
        } else {
            view.lock().unwrap_or_else(|p| p.into_inner()).link = Link::Idle;
        }
        self.wake(&key);
    }

    fn build(
        &self,
        key: &ObjectKey,
        start: Start,
        provisioning: Provisioning,
        observer: Arc<Observer>,
    ) -> Result<Service, (Reason, String)> {
        let c1 = conductorone::Client::new(conductorone::Config {
            client_id: start.client_id,
            client_secret: start.client_secret,
            host_override: start.host_override,
            host_id: self.host_id.clone(),
            extra_roots: self.extra_roots.clone(),
        })
        .map_err(|e| (e.reason(), e.to_string()))?;
        let work_dir = self
            .data_dir
            .join(&key.namespace)
            .join(&key.name)
            .join("conductorone");
        let mut cfg = ServiceConfig::new(work_dir.clone(), start.provisioning);
        cfg.provisioning = provisioning;
        cfg.task_concurrency = start.task_concurrency.max(1);
        cfg.monday_observer = Some(Arc::new(crate::metrics::RequestObserver(
            self.metrics.clone(),
        )));
        cfg.snapshots = Some(Arc::new(ConnectorSnapshots {
            tasks: self.tasks.clone(),
            key: key.clone(),
            connection: start.connection.clone(),
            path: start.snapshot,
            upload: work_dir.join("upload.c1z"),
            revision: start.sync_revision,
            options: start.sync_options,
        }));
        Service::new(c1, start.connection, cfg, observer).map_err(|e| (e.reason(), e.to_string()))
    }

    fn wake(&self, key: &ObjectKey) {
        let _ = self
            .trigger
            .unbounded_send(ObjectRef::new(&key.name).within(&key.namespace));
    }
}

/// Full syncs of ConductorOne tasks go through the connector's sync tracker into its snapshot.
struct ConnectorSnapshots {
    tasks: Arc<Tasks>,
    key: ObjectKey,
    connection: Connection,
    /// The connector's snapshot (the latest two syncs).
    path: PathBuf,
    /// The latest sync alone, for the upload.
    upload: PathBuf,
    revision: String,
    options: SyncOptions,
}

impl SyncSink for ConnectorSnapshots {
    fn sync(
        &self,
        opts: SyncOptions,
    ) -> futures::future::BoxFuture<'static, Result<SyncReport, SyncError>> {
        let tasks = self.tasks.clone();
        let job = SyncJob {
            key: self.key.clone(),
            connection: self.connection.clone(),
            path: self.path.clone(),
            options: SyncOptions {
                observer: opts.observer,
                ..self.options.clone()
            },
            revision: self.revision.clone(),
            request: None,
            done: None,
        };
        let (snapshot, upload) = (self.path.clone(), self.upload.clone());
        Box::pin(async move {
            let report = match tasks.run_now(job).await {
                Some(Ok(report)) => report,
                Some(Err(f)) => {
                    return Err(SyncError::Snapshot(format!("{}: {}", f.reason, f.message)));
                }
                None => return Err(SyncError::Snapshot("the operator is stopping".into())),
            };
            if let Some(dir) = upload.parent() {
                let _ = tokio::fs::create_dir_all(dir).await;
            }
            crate::engine::latest_sync_only(report, &snapshot, &upload).await
        })
    }
}

/// Receives the loop's events: updates the view, counts metrics, records time-bound grants and
/// wakes the connector.
struct Observer {
    key: ObjectKey,
    view: Arc<Mutex<ServiceView>>,
    modes: std::sync::Weak<ServiceModes>,
    client_id: String,
}

impl ServiceObserver for Observer {
    fn event(&self, event: &ServiceEvent) {
        let Some(modes) = self.modes.upgrade() else {
            return;
        };
        let changed = {
            let mut view = self.view.lock().unwrap_or_else(|p| p.into_inner());
            apply(&mut view, event)
        };
        if let ServiceEvent::TaskFinished(r) = event {
            modes
                .metrics
                .count_c1_task(r.info.task_type.as_str(), outcome_name(&r.outcome));
            if let Some(rec) = &modes.records {
                rec.task_finished(&self.key, r);
            }
        }
        if changed {
            tracing::debug!(connector = %self.key, client_id = %self.client_id, "service mode changed");
            modes.wake(&self.key);
        }
    }
}

/// Folds one event into the view; true when the connector should look at it.
fn apply(view: &mut ServiceView, event: &ServiceEvent) -> bool {
    match event {
        ServiceEvent::Connected { host_id } => {
            let since = match &view.link {
                Link::Connected { since, host_id: h } if h == host_id => *since,
                _ => crate::time::floor_second(jiff::Timestamp::now()),
            };
            let link = Link::Connected {
                host_id: host_id.clone(),
                since,
            };
            std::mem::replace(&mut view.link, link.clone()) != link
        }
        ServiceEvent::HelloFailed {
            reason,
            message,
            retry_in: Some(d),
        }
        | ServiceEvent::PollFailed {
            reason,
            message,
            retry_in: d,
            ..
        } => {
            view.link = Link::Retrying {
                reason: *reason,
                message: message.clone(),
                retry_in_secs: d.as_secs(),
            };
            true
        }
        ServiceEvent::HelloFailed {
            reason, message, ..
        } => {
            view.link = Link::Ended {
                reason: *reason,
                message: message.clone(),
            };
            true
        }
        ServiceEvent::TaskFinished(r) => {
            let seq = view.reports.last().map_or(0, |r| r.seq + 1);
            view.reports.push(report(seq, r));
            true
        }
        ServiceEvent::PollRecovered
        | ServiceEvent::TaskStarted(_)
        | ServiceEvent::Stopping { .. } => false,
    }
}

fn outcome_name(o: &TaskOutcome) -> &'static str {
    match o {
        TaskOutcome::Succeeded => "Succeeded",
        TaskOutcome::Failed { .. } => "Failed",
        TaskOutcome::Cancelled { .. } => "Cancelled",
        TaskOutcome::Dropped { .. } => "Dropped",
    }
}

/// A finished task as status and Events show it.
fn report(seq: u64, r: &TaskReport) -> Report {
    let (reason, message) = match &r.outcome {
        TaskOutcome::Succeeded => (Reason::Succeeded, None),
        TaskOutcome::Failed {
            reason, message, ..
        } => (*reason, Some(message.clone())),
        TaskOutcome::Cancelled { heartbeat_failed } => (
            if *heartbeat_failed {
                Reason::HeartbeatFailed
            } else {
                Reason::CancelledByServer
            },
            None,
        ),
        TaskOutcome::Dropped { why } => (Reason::CancelledByServer, Some(why.clone())),
    };
    let subject =
        r.info
            .grant
            .as_ref()
            .map(|g| g.grant_id.clone())
            .or_else(|| match &r.detail {
                TaskDetail::Account(a) => Some(format!("user:{}", a.user.id)),
                TaskDetail::Lifecycle { user_id, .. } => Some(format!("user:{user_id}")),
                TaskDetail::TeamCreated { team_id, .. }
                | TaskDetail::TeamDeleted { team_id, .. } => Some(format!("team:{team_id}")),
                _ => None,
            });
    let upload = match &r.detail {
        TaskDetail::Sync {
            report: Some(s),
            upload: Some(u),
        } => Some(crate::api::connector::ConductorOneUpload {
            sync_id: s.sync_id.clone(),
            bytes: i64::try_from(u.bytes).unwrap_or(i64::MAX),
            sha256: u.sha256.clone(),
            at: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(crate::time::floor_second(
                jiff::Timestamp::now(),
            )),
        }),
        _ => None,
    };
    Report {
        seq,
        id: r.info.id.clone(),
        task_type: r.info.task_type.as_str(),
        succeeded: r.outcome == TaskOutcome::Succeeded,
        outcome: outcome_name(&r.outcome),
        reason,
        subject,
        message,
        finished: crate::time::floor_second(jiff::Timestamp::now()),
        upload,
        provisioning: r.info.task_type.is_provisioning(),
    }
}
