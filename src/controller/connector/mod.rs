//! The MondayConnector reconciler: **observe** (the object, its Secret, its background sync) →
//! [`plan`] (pure) → **act** (write status if it changed, consume the shown sync, start the next
//! one, publish Events, requeue).
//!
//! Level-based: every run recomputes the desired status from what it observed, whatever woke it.

pub mod plan;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::kit::{self, Backoff, Context, Error, ObjectKey};
use super::secret;
use super::tasks::SyncJob;
use crate::api::MondayConnector;
use crate::engine::{Connection, SyncOptions};
use plan::{Observed, Plan, Requeue};

/// Finalizer that removes the connector's snapshot folder.
pub const FINALIZER: &str = "iga.monday-operator.dev/snapshots";
/// Kind label of this controller's metrics.
const KIND: &str = "MondayConnector";
/// Retries of failed reconciles (Kubernetes API, disk): 2 s doubling, at most 5 min.
const RECONCILE_BACKOFF: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(300));

/// Runs the MondayConnector controller until `stop` resolves: connectors (guarded, so one
/// unreadable object does not stall the watch), the Secrets they name (metadata only: Secret data
/// never enters a cache), and finished syncs (`woken`) trigger reconciles.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    woken: impl futures::Stream<Item = ObjectRef<DeserializeGuard<MondayConnector>>> + Send + 'static,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (watch, store) = kit::lean_watch(kit::scoped::<DeserializeGuard<MondayConnector>>(
        &ctx.client,
        namespace,
    ));
    Controller::for_stream(watch, store.clone())
        .with_config(ControllerConfig::default().concurrency(32))
        .watches(
            kit::scoped::<PartialObjectMeta<Secret>>(&ctx.client, namespace),
            watcher::Config::default(),
            move |secret: PartialObjectMeta<Secret>| {
                let name = secret.name_any();
                kit::referrers(&store, secret.namespace(), |c| {
                    c.0.as_ref().is_ok_and(|c| c.spec.secret_ref.name == name)
                })
            },
        )
        .reconcile_on(woken)
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connector controller event");
            }
        })
        .await;
}

/// Entry point called by the controller runtime.
pub async fn reconcile(
    obj: Arc<DeserializeGuard<MondayConnector>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    kit::count_reconcile(&ctx, KIND);
    let connector = match &obj.0 {
        Ok(c) => Arc::new(c.clone()),
        Err(invalid) => return unreadable(&obj, invalid, &ctx).await,
    };
    let ns = connector.namespace().ok_or(Error::MissingNamespace)?;
    let api: Api<MondayConnector> = ctx.api(&ns);
    finalizer(&api, FINALIZER, connector, |event| async {
        match event {
            Finalizer::Apply(c) => apply(&c, &ctx).await,
            Finalizer::Cleanup(c) => {
                remove_snapshots(&ObjectKey::of(&*c), &ctx).await?;
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Requeue policy for failed reconciles.
pub fn error_policy(
    obj: Arc<DeserializeGuard<MondayConnector>>,
    err: &Error,
    ctx: Arc<Context>,
) -> Action {
    kit::requeue_after_error(&ctx, KIND, &*obj, err, RECONCILE_BACKOFF)
}

/// Observe → plan → act for a readable connector.
async fn apply(connector: &MondayConnector, ctx: &Context) -> Result<Action, Error> {
    let key = ObjectKey::of(connector);
    // Observe.
    let secrets: Api<Secret> = ctx.api(&key.namespace);
    let sref = &connector.spec.secret_ref;
    let input = secret::read(&secrets, &sref.name, &sref.key).await?;
    let observed = Observed {
        connector,
        secret: input.as_ref(),
        task: ctx.tasks.view(&key),
        now: jiff::Timestamp::now(),
    };
    // Plan.
    let plan = plan::plan(&observed);
    // Act.
    act(connector, &key, input.ok(), plan, ctx).await
}

async fn act(
    connector: &MondayConnector,
    key: &ObjectKey,
    input: Option<secret::SecretInput>,
    plan: Plan,
    ctx: &Context,
) -> Result<Action, Error> {
    if connector.status.as_ref() != Some(&plan.status) {
        kit::apply_status::<MondayConnector>(&ctx.client, key, &plan.status).await?;
        tracing::debug!(connector = %key, "status updated");
    }
    ctx.succeeded("reconcile", key);
    if let Some(seq) = plan.consume {
        ctx.tasks.consume(key, seq);
    }
    if let (Some(start), Some(input)) = (plan.start, input) {
        ctx.tasks.start(SyncJob {
            key: key.clone(),
            connection: Connection {
                api_url: connector.spec.api_url.clone(),
                token: input.token,
            },
            path: super::snapshot_path(&ctx.data_dir, &key.namespace, &key.name),
            options: SyncOptions {
                resource_types: connector
                    .spec
                    .resource_types
                    .as_ref()
                    .map(|v| v.iter().copied().collect::<BTreeSet<_>>()),
                observer: Some(Arc::new(crate::metrics::RequestObserver(
                    ctx.metrics.clone(),
                ))),
            },
            revision: start.revision,
            request: start.request,
        });
    }
    let regarding = connector.object_ref(&());
    for group in &plan.events {
        ctx.events
            .publish_once(&regarding, group.channel, &group.marker, &group.notes)
            .await;
    }
    Ok(match plan.requeue {
        Requeue::OnChange => Action::await_change(),
        Requeue::After(d) => Action::requeue(d),
    })
}

/// A connector these types cannot read (say, written for a newer schema): it gets a Warning Event
/// and `Ready=False`/`InvalidObject` (its other status is kept), syncs nothing, and its deletion
/// still removes the snapshots and the finalizer.
async fn unreadable(
    obj: &DeserializeGuard<MondayConnector>,
    invalid: &InvalidObject,
    ctx: &Context,
) -> Result<Action, Error> {
    let key = ObjectKey::of(obj);
    let meta = obj.meta();
    if meta.deletion_timestamp.is_some() {
        let finalizers = meta.finalizers.clone().unwrap_or_default();
        if finalizers.iter().any(|f| f == FINALIZER) {
            remove_snapshots(&key, ctx).await?;
            let rest: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
            // resourceVersion makes the merge patch conditional: no other finalizer is lost.
            let patch = serde_json::json!({"metadata": {
                "resourceVersion": meta.resource_version,
                "finalizers": rest,
            }});
            let api: Api<PartialObjectMeta<MondayConnector>> = ctx.api(&key.namespace);
            api.patch_metadata(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        return Ok(Action::await_change());
    }
    ctx.tasks.remove(&key);
    let message = format!(
        "the operator cannot read this MondayConnector ({}); nothing is synced until the object is fixed",
        invalid.error
    );
    kit::report_unreadable(ctx, obj, &invalid.error, message).await?;
    Ok(Action::await_change())
}

async fn remove_snapshots(key: &ObjectKey, ctx: &Context) -> Result<(), Error> {
    ctx.tasks.remove(key);
    ctx.events.forget(&key.namespace, &key.name);
    let dir = ctx.data_dir.join(&key.namespace).join(&key.name);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => tracing::info!(connector = %key, "snapshot folder removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Error::DataDir {
                path: dir,
                source: e,
            });
        }
    }
    Ok(())
}
