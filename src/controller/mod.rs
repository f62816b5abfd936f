//! Controllers: the MondayConnector reconciler, its sync tasks, Secret watching and leader election.
//!
//! Data flow: watch events (connectors, Secret metadata, finished syncs) → [`connector::reconcile`]
//! → background sync in [`tasks`] → result back to reconcile → status and Events. Only reconcile
//! writes status, so there is one writer and one place that decides whether a write is needed.
//!
//! Referenced Secrets are watched **metadata-only** (no Secret data is cached in the operator);
//! a change maps through the connector store to the connectors that name that Secret, and the
//! reconciler then GETs just that Secret.

pub mod access_grant;
pub mod connector;
pub mod lease;
pub mod memory;
pub mod notify;
pub mod policy;
pub mod schedule;
pub mod secret;
pub mod tasks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Resource;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::api::MondayConnector;
use crate::metrics::Metrics;
use crate::server::AdminState;

/// How `run` behaves; the `run` subcommand fills it from flags.
#[derive(Clone, Debug)]
pub struct Config {
    /// Snapshots go to `<data_dir>/<namespace>/<name>/sync.c1z`.
    pub data_dir: PathBuf,
    /// Admin server address (`/metrics`, `/livez`, `/readyz`); `None` = no server.
    pub metrics_addr: Option<SocketAddr>,
    /// Leader election settings; `None` = this process always reconciles.
    pub leader_election: Option<lease::LeaseConfig>,
    /// Global bound on syncs running at once.
    pub max_concurrent_syncs: usize,
    /// A sync running longer than this fails with `SyncTimeout`.
    pub sync_timeout: Duration,
    /// How long shutdown waits for running syncs.
    pub shutdown_timeout: Duration,
    /// Reporting instance for Events (pod name or hostname-pid).
    pub identity: String,
    /// Watch connectors and Secrets in this namespace only (a namespaced Role suffices);
    /// `None` = every namespace (needs a ClusterRole).
    pub namespace: Option<String>,
}

/// Errors of one reconcile (Kubernetes API and local disk); Monday errors never get here, they
/// become status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("the object has no namespace")]
    MissingNamespace,
    #[error("snapshot folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// Low-cardinality label for the reconcile error metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(_)) => "ApiError",
            Error::Kube(_) => "ClientError",
            Error::MissingNamespace => "MissingNamespace",
            Error::DataDir { .. } => "DataDirError",
            Error::Finalizer(e) => match &**e {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.reason(),
                _ => "FinalizerError",
            },
        }
    }
}

/// Errors that stop the operator (reported by `main`).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "the MondayConnector CRD is not installed ({0}): apply crds/crds.yaml (or install the chart) first"
    )]
    CrdMissing(kube::Error),
    #[error("admin server on {addr}: {source}")]
    Server {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("lost the leader Lease; exiting so a fresh process can stand by")]
    LeadershipLost,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub tasks: Arc<tasks::Tasks>,
    pub data_dir: PathBuf,
    reconcile_failures: Mutex<HashMap<tasks::Key, u32>>,
}

impl Context {
    /// Path of a connector's snapshot file.
    pub fn snapshot_path(&self, ns: &str, name: &str) -> PathBuf {
        snapshot_path(&self.data_dir, ns, name)
    }

    fn reconcile_failure(&self, key: &tasks::Key) -> u32 {
        let mut m = self
            .reconcile_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let n = m.entry(key.clone()).or_default();
        *n = n.saturating_add(1);
        *n
    }

    fn reconcile_succeeded(&self, key: &tasks::Key) {
        self.reconcile_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// `<data_dir>/<namespace>/<name>/sync.c1z`.
pub fn snapshot_path(data_dir: &Path, ns: &str, name: &str) -> PathBuf {
    data_dir.join(ns).join(name).join("sync.c1z")
}

/// Runs the operator until `shutdown` resolves (SIGTERM in `main`; a test's signal otherwise):
/// admin server, leader election, the connector controller; then drains running syncs.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    memory::limit_arenas();
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let shutdown = shutdown.shared();

    if let Some(addr) = config.metrics_addr {
        let state = AdminState {
            metrics: metrics.clone(),
            ready: ready.clone(),
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| RunError::Server { addr, source })?;
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, crate::server::router(state))
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!(error = %e, "admin server failed");
            }
        });
        tracing::info!(%addr, "admin server listening");
    }

    // Fail fast with a hint when the CRD is missing, instead of a watch that errors forever.
    let connectors: Api<PartialObjectMeta<MondayConnector>> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    connectors
        .list(&ListParams::default().limit(1))
        .await
        .map_err(RunError::CrdMissing)?;
    ready.store(true, Ordering::SeqCst);

    let mut elector = config
        .leader_election
        .clone()
        .map(|cfg| lease::Elector::new(client.clone(), cfg));
    if let Some(e) = elector.as_mut() {
        tracing::info!(lease = %e.config().name, identity = %e.config().identity, "waiting for the leader Lease");
        tokio::select! {
            _ = e.acquire() => {}
            _ = shutdown.clone() => return Ok(()),
        }
        tracing::info!("became leader");
    }
    metrics.leader.set(1);

    let (trigger_tx, trigger_rx) =
        futures::channel::mpsc::unbounded::<ObjectRef<DeserializeGuard<MondayConnector>>>();
    let tasks = Arc::new(tasks::Tasks::new(
        config.max_concurrent_syncs,
        config.sync_timeout,
        trigger_tx,
        metrics.clone(),
    ));
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "monday-operator".into(),
                instance: Some(config.identity.clone()),
            },
        ),
        metrics: metrics.clone(),
        tasks: tasks.clone(),
        data_dir: config.data_dir.clone(),
        reconcile_failures: Mutex::default(),
    });

    // Stop reconciling on shutdown or when the Lease is lost.
    let lost = Arc::new(tokio::sync::Notify::new());
    let lost_flag = Arc::new(AtomicBool::new(false));
    let hold = elector.take().map(|mut e| {
        let (lost, lost_flag) = (lost.clone(), lost_flag.clone());
        tokio::spawn(async move {
            e.hold().await;
            lost_flag.store(true, Ordering::SeqCst);
            lost.notify_one();
        })
    });
    let stop = {
        let (shutdown, lost) = (shutdown.clone(), lost.clone());
        async move {
            tokio::select! {
                _ = shutdown => {}
                _ = lost.notified() => {}
            }
        }
    };

    // The MondayAccessGrant controller runs under the same leadership and stops with this one.
    let (grants_stop, grants_stopped) = tokio::sync::oneshot::channel::<()>();
    let grants = tokio::spawn(access_grant::run(
        client.clone(),
        access_grant::Config {
            namespace: config.namespace.clone(),
            identity: config.identity.clone(),
        },
        async move {
            let _ = grants_stopped.await;
        },
    ));

    // Guarded: an object these types cannot read (say, written for a newer schema) reaches
    // reconcile as an error to report, instead of failing the watch for every connector.
    let guarded: Api<DeserializeGuard<MondayConnector>> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (watch, store) = lean_watch(guarded);
    let controller = Controller::for_stream(watch, store.clone())
        .with_config(ControllerConfig::default().concurrency(32));
    // Metadata-only: Secret data never enters the watch cache; reconcile GETs the one it needs.
    let secrets: Api<PartialObjectMeta<Secret>> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    controller
        .watches(
            secrets,
            watcher::Config::default(),
            move |secret: PartialObjectMeta<Secret>| {
                let name = secret.name_any();
                referrers(&store, secret.namespace(), |c| {
                    c.0.as_ref().is_ok_and(|c| c.spec.secret_ref.name == name)
                })
            },
        )
        .reconcile_on(trigger_rx)
        .graceful_shutdown_on(stop)
        .run(connector::reconcile, connector::error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
    let _ = grants_stop.send(());
    let _ = grants.await;

    let lost_lease = lost_flag.load(Ordering::SeqCst);
    tracing::info!("controller stopped; waiting for running syncs");
    if !tasks.drain(config.shutdown_timeout).await {
        tracing::warn!(timeout = ?config.shutdown_timeout, "syncs still running at shutdown; their temporary files are discarded, the last snapshot is intact");
    }
    metrics.leader.set(0);
    if let Some(h) = hold {
        h.abort();
        let _ = h.await;
        if let Some(cfg) = config.leader_election.clone() {
            lease::Elector::new(client.clone(), cfg).release().await;
        }
    }
    if lost_lease {
        Err(RunError::LeadershipLost)
    } else {
        Ok(())
    }
}

/// A watch on `api` feeding a reflector whose objects carry no `managedFields`: reconcilers never
/// read them, and for status-heavy objects they are most of what the cache would hold (several KB
/// per connector). Same shape as `Controller::new` builds internally otherwise.
pub(crate) fn lean_watch<K>(
    api: Api<K>,
) -> (
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    Store<K>,
)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects();
    (stream, reader)
}

/// Status and Event reason for an object these types cannot read.
pub const INVALID_OBJECT: &str = "InvalidObject";

/// Reports an object these types cannot read (say, written for a newer schema): `Ready=False`,
/// reason `InvalidObject`, set in whatever status it has (the rest is kept), and one Warning Event
/// when that condition changes; nothing is written when it already says so.
pub(crate) async fn report_unreadable<K>(
    client: &kube::Client,
    recorder: &Recorder,
    obj: &DeserializeGuard<K>,
    error: &str,
    message: String,
) -> Result<(), kube::Error>
where
    K: kube::Resource<DynamicType = ()>,
{
    let meta = obj.meta();
    let (ns, name) = (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    );
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &ApiResource::erase::<K>(&()));
    let raw = api.get(&name).await?;
    let mut conds: Vec<Condition> = raw
        .data
        .pointer("/status/conditions")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let ready = crate::api::conditions::new(
        crate::api::conditions::READY,
        false,
        INVALID_OBJECT,
        message.clone(),
        meta.generation,
    );
    if !crate::api::conditions::merge(&mut conds, vec![ready], jiff::Timestamp::now()) {
        return Ok(());
    }
    tracing::warn!(namespace = %ns, name = %name, kind = %K::kind(&()), error, "cannot read this object");
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {"conditions": conds}})),
    )
    .await?;
    let ev = Event {
        type_: EventType::Warning,
        reason: INVALID_OBJECT.into(),
        note: Some(message),
        action: "Read".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, "could not publish Event");
    }
    Ok(())
}

/// What a watched object's change maps to: the cached objects in its namespace that name it.
pub(crate) fn referrers<K>(
    store: &Store<K>,
    ns: Option<String>,
    names_it: impl Fn(&K) -> bool,
) -> Vec<ObjectRef<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .into_iter()
        .filter(|o| o.meta().namespace == ns && names_it(o))
        .map(|o| ObjectRef::from_obj(&*o))
        .collect()
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received, shutting down"),
    }
}
