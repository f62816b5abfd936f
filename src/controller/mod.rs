//! Controllers: the MondayConnector and MondayAccessGrant reconcilers, their toolkit, background
//! syncs, Secret reading, and leader election.
//!
//! Every reconciler is **observe → plan → act**: it reads the object and what it refers to, a
//! pure `plan` function decides (status, Events, work to start, requeue — table-tested beside
//! it), and the reconciler carries that out. Only reconcilers write status, each for its own
//! kind, by server-side apply ([`kit`]).
//!
//! Referenced Secrets are watched **metadata-only** (no Secret data is cached in the operator);
//! a change maps through the connector store to the connectors that name that Secret, and the
//! reconciler then GETs just that Secret.

pub mod access_grant;
pub mod connector;
pub mod events;
pub mod kit;
pub mod lease;
pub mod memory;
pub mod notify;
pub mod policy;
pub mod provisioning;
pub mod schedule;
pub mod secret;
pub mod service_mode;
pub mod tasks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt;
use kube::api::ListParams;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;

pub use kit::Error;

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
    /// How ConductorOne service mode reaches ConductorOne (extra CA file, host id).
    pub conductor_one: service_mode::Reach,
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

/// `<data_dir>/<namespace>/<name>/sync.c1z`.
pub fn snapshot_path(data_dir: &Path, ns: &str, name: &str) -> PathBuf {
    data_dir.join(ns).join(name).join("sync.c1z")
}

/// Runs the operator until `shutdown` resolves (SIGTERM in `main`; a test's signal otherwise):
/// admin server, CRD check, leadership, both controllers; then drains running syncs and gives the
/// Lease up.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    memory::limit_arenas();
    let metrics = Arc::new(Metrics::new());
    let shutdown = shutdown.shared();
    let ready = admin_server(&config, &metrics, shutdown.clone()).await?;
    // Fail fast with a hint when the CRD is missing, instead of a watch that errors forever.
    kit::scoped::<PartialObjectMeta<MondayConnector>>(&client, config.namespace.as_deref())
        .list(&ListParams::default().limit(1))
        .await
        .map_err(RunError::CrdMissing)?;
    ready.store(true, Ordering::SeqCst);

    // `stop` ends the controllers (shutdown, or the Lease lost); `release` gives the Lease up
    // once the running syncs are drained.
    let (stop, release) = (CancellationToken::new(), CancellationToken::new());
    let leadership = match &config.leader_election {
        None => None,
        Some(cfg) => match lease::lead(client.clone(), cfg.clone(), shutdown.clone()).await {
            Some(leader) => Some(tokio::spawn(leader.hold(stop.clone(), release.clone()))),
            None => return Ok(()),
        },
    };
    tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::select! {
                _ = shutdown => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        }
    });
    metrics.leader.set(1);
    let (tasks, services) = controllers(client, &config, metrics.clone(), stop).await;
    tracing::info!(
        "controllers stopped; stopping ConductorOne service mode and waiting for running syncs"
    );
    if !services.drain(SERVICE_STOP).await {
        tracing::warn!("a ConductorOne task loop did not stop in time");
    }
    if !tasks.drain(config.shutdown_timeout).await {
        tracing::warn!(timeout = ?config.shutdown_timeout, "syncs still running at shutdown; their temporary files are discarded, the last snapshot is intact");
    }
    metrics.leader.set(0);
    release.cancel();
    let held = match leadership {
        Some(task) => task.await.ok(),
        None => None,
    };
    match held {
        Some(lease::Held::Lost) => Err(RunError::LeadershipLost),
        _ => Ok(()),
    }
}

/// Starts `/metrics`, `/livez`, `/readyz` when configured; returns the readiness flag.
async fn admin_server(
    config: &Config,
    metrics: &Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Arc<AtomicBool>, RunError> {
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(addr) = config.metrics_addr {
        let state = AdminState {
            metrics: metrics.clone(),
            ready: ready.clone(),
        };
        let server = crate::server::bind(addr, state, shutdown)
            .await
            .map_err(|source| RunError::Server { addr, source })?;
        tokio::spawn(server);
    }
    Ok(ready)
}

/// How long service mode gets to stop (the SDK's process exits at once; running provisioning
/// tasks get a few seconds to report).
const SERVICE_STOP: Duration = Duration::from_secs(10);

/// Runs both controllers until `stop` is cancelled; returns the sync tasks and service-mode
/// loops to drain.
async fn controllers(
    client: kube::Client,
    config: &Config,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> (Arc<tasks::Tasks>, Arc<service_mode::ServiceModes>) {
    let (trigger, woken) =
        futures::channel::mpsc::unbounded::<ObjectRef<DeserializeGuard<MondayConnector>>>();
    let tasks = Arc::new(tasks::Tasks::new(
        config.max_concurrent_syncs,
        config.sync_timeout,
        trigger.clone(),
        metrics.clone(),
    ));
    let services = Arc::new(service_mode::ServiceModes::new(
        trigger,
        metrics.clone(),
        tasks.clone(),
        config.data_dir.clone(),
        Some(service_mode::records::Recorder::start(client.clone())),
        config.conductor_one.clone(),
    ));
    let ctx = Arc::new(kit::Context::new(
        client.clone(),
        events::Events::new(client, "monday-operator", &config.identity),
        metrics,
        tasks.clone(),
        services.clone(),
        config.data_dir.clone(),
    ));
    let ns = config.namespace.as_deref();
    tokio::join!(
        connector::run(ctx.clone(), ns, woken, stop.clone().cancelled_owned()),
        access_grant::run(ctx, ns, stop.cancelled_owned()),
    );
    (tasks, services)
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
