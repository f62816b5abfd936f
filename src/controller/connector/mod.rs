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

use secrecy::SecretString;

use super::kit::{self, Backoff, Context, Error, ObjectKey};
use super::secret;
use super::service_mode::{self, plan::Desired};
use super::tasks::SyncJob;
use crate::api::MondayConnector;
use crate::conductorone;
use crate::engine::{Connection, SyncOptions};
use crate::reason::Reason;
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
                    c.0.as_ref().is_ok_and(|c| {
                        c.spec.secret_ref.name == name
                            || c.spec
                                .conductor_one
                                .as_ref()
                                .and_then(|s| s.secret_name.as_deref())
                                == Some(name.as_str())
                    })
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
    let c1_secret = match connector
        .spec
        .conductor_one
        .as_ref()
        .and_then(|c| c.secret_name.as_deref())
        .filter(|n| *n != sref.name)
    {
        Some(name) => Some(secret::read_c1_keys(&secrets, name).await?),
        None => None,
    };
    let service = ctx.services.view(&key);
    let observed = Observed {
        connector,
        secret: input.as_ref(),
        c1_secret: c1_secret.as_ref().map(Result::as_ref),
        task: ctx.tasks.view(&key),
        service: &service,
        now: jiff::Timestamp::now(),
    };
    // Plan.
    let plan = plan::plan(&observed);
    // Act.
    let keys = match c1_secret {
        Some(k) => k.ok(),
        None => input.as_ref().ok().map(|i| i.conductor_one.clone()),
    };
    act(connector, &key, input.ok(), keys, plan, ctx).await
}

async fn act(
    connector: &MondayConnector,
    key: &ObjectKey,
    input: Option<secret::SecretInput>,
    keys: Option<secret::C1Keys>,
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
    if let Some(seq) = plan.service.consume {
        ctx.services.consume(key, seq);
    }
    let provisioning = input
        .as_ref()
        .is_some_and(|i| super::provisioning::gate(connector, Some(&i.provisioning)).allows());
    let sync_revision = input
        .as_ref()
        .map(|i| plan::spec_revision(connector, &i.resource_version));
    let token = input.map(|i| i.token);
    match (&plan.service.desired, &token, keys) {
        (Desired::On { revision }, Some(token), Some(keys)) => {
            let inputs = ServiceInputs {
                revision,
                sync_revision: sync_revision.unwrap_or_default(),
                token,
                keys,
                provisioning,
            };
            start_service(connector, key, inputs, ctx);
        }
        _ => ctx.services.stop(key),
    }
    if let (Some(start), Some(token)) = (plan.start, token) {
        ctx.tasks.start(SyncJob {
            key: key.clone(),
            connection: connection(connector, token),
            path: super::snapshot_path(&ctx.data_dir, &key.namespace, &key.name),
            options: sync_options(connector, ctx),
            revision: start.revision,
            request: start.request,
            done: None,
        });
    }
    let regarding = connector.object_ref(&());
    for group in &plan.events {
        ctx.events
            .publish_once(&regarding, group.channel, &group.marker, &group.notes)
            .await;
    }
    for note in &plan.service.notes {
        ctx.events.publish(&regarding, note).await;
    }
    Ok(match plan.requeue {
        Requeue::OnChange => Action::await_change(),
        Requeue::After(d) => Action::requeue(d),
    })
}

fn connection(connector: &MondayConnector, token: SecretString) -> Connection {
    Connection {
        api_url: connector.spec.api_url.clone(),
        token,
    }
}

/// How this connector's syncs run (its resource types; requests counted in the metrics).
fn sync_options(connector: &MondayConnector, ctx: &Context) -> SyncOptions {
    SyncOptions {
        resource_types: connector
            .spec
            .resource_types
            .as_ref()
            .map(|v| v.iter().copied().collect::<BTreeSet<_>>()),
        omit: Default::default(),
        observer: Some(Arc::new(crate::metrics::RequestObserver(
            ctx.metrics.clone(),
        ))),
        disk: None,
    }
}

/// Keeps the connector's service-mode loop running with these inputs; credentials that do not
/// parse end it with their reason (shown by the next reconcile).
/// What a service-mode loop is started with.
struct ServiceInputs<'a> {
    revision: &'a str,
    /// What the connector's own syncs run with (`status.syncedRevision`).
    sync_revision: String,
    token: &'a SecretString,
    keys: secret::C1Keys,
    provisioning: bool,
}

fn start_service(
    connector: &MondayConnector,
    key: &ObjectKey,
    inputs: ServiceInputs<'_>,
    ctx: &Context,
) {
    let ServiceInputs {
        revision,
        sync_revision,
        token,
        keys,
        provisioning,
    } = inputs;
    let spec = connector.spec.conductor_one.clone().unwrap_or_default();
    let parsed = keys
        .client_id
        .as_deref()
        .unwrap_or_default()
        .parse::<conductorone::ClientId>()
        .map_err(|e| (Reason::InvalidClientId, e.to_string()))
        .and_then(|id| {
            let secret = keys.client_secret.clone().unwrap_or_default();
            conductorone::ClientSecret::parse(&secret)
                .map(|s| (id, s))
                .map_err(|e| (Reason::InvalidClientSecret, e.to_string()))
        });
    let (client_id, client_secret) = match parsed {
        Ok(p) => p,
        Err((reason, message)) => {
            ctx.services.refuse(key, revision, reason, message);
            return;
        }
    };
    ctx.services.ensure(
        key,
        service_mode::Start {
            revision: revision.to_string(),
            client_id,
            client_secret,
            host_override: spec.api_host.clone(),
            connection: connection(connector, token.clone()),
            task_concurrency: spec
                .task_concurrency
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(crate::service::DEFAULT_TASK_CONCURRENCY),
            provisioning,
            snapshot: super::snapshot_path(&ctx.data_dir, &key.namespace, &key.name),
            sync_revision,
            sync_options: sync_options(connector, ctx),
        },
    );
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
    ctx.services.stop(key);
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
