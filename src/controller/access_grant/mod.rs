//! The MondayAccessGrant reconciler: **observe** (a fresh read of the grant, its connector and
//! Secret, the namespace's MondayAccessPolicies and MondayAccessApprovals, the board's workspace
//! when a rule needs it: [`observe`]) → [`plan`] (the policy decision and the lifecycle state
//! machine, pure) → **act** (carry out the step through
//! [`engine::Session`](crate::engine::Session), persist status before every Monday write, publish
//! Events, notify the policy's webhook ([`notices`]), ask the connector for a sync, requeue).
//!
//! - A policy change re-decides every grant of its namespace; an approval re-decides the grant it
//!   names, so access follows an approval within one reconcile.
//! - Grants that ConductorOne approved are recorded by service mode
//!   ([`records`](crate::controller::service_mode::records)) after it carried out the grant
//!   task: created by the operator's own ServiceAccount with `spec.conductorOne.taskId` (the
//!   apiserver lets nobody else set it, see [`conductor_one_grant`]), then given their `Granted`
//!   status. The plan leaves such a record alone until that status is there, and the decision
//!   approves it as ConductorOne did (basis `ConductorOne`, no in-cluster approvals); from then
//!   on it expires and is revoked like any grant.
//! - The deadline lives in `status.expiresAt`, written right after the grant, and every reconcile
//!   requeues exactly at it; a restarted or newly elected operator reads it back, so no in-memory
//!   timer is ever the only record of when access ends.
//! - Revocation is confirmed by a read; failures keep the phase `Granted`, show the reason in the
//!   Ready condition and a Warning Event, and retry with backoff (1 s doubling to 60 s).
//! - The provisioning gate blocks new grants only: revoking access this object created is always
//!   allowed, so turning provisioning off never strands time-bound access.

pub mod notices;
pub mod observe;
pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::kit::{self, Backoff, Context, Error, ObjectKey};
use super::policy::WithoutPolicy;
use super::provisioning::{self, Gate};
use super::secret;
use crate::api::access_grant::{
    ConductorOneOrigin, FINALIZER, MondayAccessGrantSpec, MondayAccessGrantStatus,
};
use crate::api::connector::SYNC_REQUESTED_ANNOTATION;
use crate::api::{MondayAccessApproval, MondayAccessGrant, MondayAccessPolicy, MondayConnector};
use crate::engine::provision::{GrantOptions, RevokeMode};
use crate::engine::{Connection, Session};
use crate::reason::Reason;
use plan::decision::Effects;
use plan::{Mode, Observed, Refusal, Requeue, Settle, Step, Tally};

/// Kind label of this controller's metrics.
const KIND: &str = "MondayAccessGrant";
/// Retries of failed reconciles (Kubernetes API): 1 s doubling, at most 60 s.
const RECONCILE_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// Failure counter of grants and revocations (see `Context::failed`).
const PROVISION: &str = "provision";

/// What every grant reconcile shares: the toolkit and the webhook sender.
pub struct Shared {
    pub ctx: Arc<Context>,
    notices: notices::Notices,
    /// What a namespace without any MondayAccessPolicy gets (today's behaviour: allowed).
    without_policy: WithoutPolicy,
}

impl Shared {
    /// Starts the webhook sender too.
    pub fn new(ctx: Arc<Context>) -> Self {
        Shared {
            notices: notices::Notices::start(ctx.metrics.clone()),
            without_policy: WithoutPolicy::default(),
            ctx,
        }
    }
}

/// Runs the MondayAccessGrant controller until `stop` resolves. Grants are guarded (one
/// unreadable grant must not stop the expiry of all the others); a connector change
/// (provisioning switched on, Secret fixed) re-checks its grants, mapped from metadata only; a
/// policy change re-decides the grants of its namespace; an approval the grant it names.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (watch, store) = kit::lean_watch(kit::scoped::<DeserializeGuard<MondayAccessGrant>>(
        &ctx.client,
        namespace,
    ));
    let (by_connector, by_policy) = (store.clone(), store.clone());
    Controller::for_stream(watch, store)
        .with_config(ControllerConfig::default().concurrency(16))
        .watches(
            kit::scoped::<PartialObjectMeta<MondayConnector>>(&ctx.client, namespace),
            watcher::Config::default(),
            move |c: PartialObjectMeta<MondayConnector>| {
                let name = c.name_any();
                kit::referrers(&by_connector, c.namespace(), |g| {
                    g.0.as_ref()
                        .is_ok_and(|g| g.spec.connector_ref.name == name)
                })
            },
        )
        .watches(
            kit::scoped::<PartialObjectMeta<MondayAccessPolicy>>(&ctx.client, namespace),
            watcher::Config::default(),
            move |p: PartialObjectMeta<MondayAccessPolicy>| {
                kit::referrers(&by_policy, p.namespace(), |_| true)
            },
        )
        .watches(
            kit::scoped::<DeserializeGuard<MondayAccessApproval>>(&ctx.client, namespace),
            watcher::Config::default(),
            approved_grant,
        )
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, Arc::new(Shared::new(ctx)))
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "access grant controller event");
            }
        })
        .await;
}

/// The grant an approval names.
fn approved_grant(
    a: DeserializeGuard<MondayAccessApproval>,
) -> Option<ObjectRef<DeserializeGuard<MondayAccessGrant>>> {
    let ns = a.namespace()?;
    let name = &a.0.as_ref().ok()?.spec.grant_ref.name;
    Some(ObjectRef::new(name).within(&ns))
}

/// The record of a ConductorOne grant task (service mode), to be created by the operator's own
/// ServiceAccount (the apiserver rejects `spec.conductorOne` from anyone else): `spec` says what
/// was granted to whom and until when; the task id marks it as approved in ConductorOne, so the
/// namespace's policies do not apply.
pub fn conductor_one_grant(
    name: &str,
    mut spec: MondayAccessGrantSpec,
    task_id: &str,
) -> MondayAccessGrant {
    spec.conductor_one = Some(ConductorOneOrigin {
        task_id: task_id.to_string(),
    });
    // The apiserver stamps the creating identity.
    spec.requester = None;
    MondayAccessGrant::new(name, spec)
}

/// Entry point called by the controller runtime.
pub async fn reconcile(
    obj: Arc<DeserializeGuard<MondayAccessGrant>>,
    shared: Arc<Shared>,
) -> Result<Action, Error> {
    let ctx = &shared.ctx;
    kit::count_reconcile(ctx, KIND);
    let key = ObjectKey::of(&*obj);
    if key.namespace.is_empty() {
        return Err(Error::MissingNamespace);
    }
    // Act on the latest object, not the watch cache: right after a status write the cache can
    // still hold an older version, and acting on a stale phase could grant again after an expiry.
    let guarded: Api<DeserializeGuard<MondayAccessGrant>> = ctx.api(&key.namespace);
    let Some(fresh) = guarded.get_opt(&key.name).await? else {
        return Ok(Action::await_change());
    };
    let grant = match fresh.0 {
        Ok(ref g) => Arc::new(g.clone()),
        Err(ref invalid) => {
            unreadable(&fresh, &invalid.error, ctx).await?;
            return Ok(Action::await_change());
        }
    };
    let api: Api<MondayAccessGrant> = ctx.api(&key.namespace);
    finalizer(&api, FINALIZER, grant, |event| async {
        match event {
            Finalizer::Apply(g) => step(&g, Mode::Apply, &shared).await,
            Finalizer::Cleanup(g) => step(&g, Mode::Cleanup, &shared).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Requeue policy for failed reconciles.
pub fn error_policy(
    obj: Arc<DeserializeGuard<MondayAccessGrant>>,
    err: &Error,
    shared: Arc<Shared>,
) -> Action {
    kit::requeue_after_error(&shared.ctx, KIND, &*obj, err, RECONCILE_BACKOFF)
}

/// An unreadable grant: nothing can be granted or revoked, and the finalizer stays so that
/// deleting the object cannot silently skip a revocation.
async fn unreadable(
    fresh: &DeserializeGuard<MondayAccessGrant>,
    error: &str,
    ctx: &Context,
) -> Result<(), Error> {
    let meta = fresh.meta();
    let deleting = meta.deletion_timestamp.is_some()
        && meta.finalizers.iter().flatten().any(|f| f == FINALIZER);
    let message = if deleting {
        format!(
            "the operator cannot read this MondayAccessGrant ({error}), so it cannot revoke what it granted: fix the object, or revoke in Monday.com and remove the finalizer {FINALIZER} by hand"
        )
    } else {
        format!(
            "the operator cannot read this MondayAccessGrant ({error}); nothing is granted, revoked or expired until the object is fixed"
        )
    };
    kit::report_unreadable(ctx, fresh, error, message).await?;
    Ok(())
}

/// The connector a grant names, ready for provisioning: its gate and an open session.
struct Target {
    connector: MondayConnector,
    gate: Gate,
    session: Session,
}

/// Observe: the connector, its Secret and a provisioning session, or why there is none.
async fn observe_connector(
    grant: &MondayAccessGrant,
    ctx: &Context,
) -> Result<Result<Target, Refusal>, Error> {
    let ns = grant.namespace().ok_or(Error::MissingNamespace)?;
    let name = &grant.spec.connector_ref.name;
    let connectors: Api<MondayConnector> = ctx.api(&ns);
    let Some(connector) = connectors.get_opt(name).await? else {
        return Ok(Err(Refusal {
            reason: Reason::ConnectorNotFound,
            message: format!(
                "MondayConnector {name} not found in this namespace: create it or fix spec.connectorRef.name"
            ),
        }));
    };
    let secrets: Api<Secret> = ctx.api(&ns);
    let sref = &connector.spec.secret_ref;
    let input = match secret::read(&secrets, &sref.name, &sref.key).await? {
        Ok(i) => i,
        Err(p) => {
            return Ok(Err(Refusal {
                reason: p.reason(),
                message: p.to_string(),
            }));
        }
    };
    let gate = provisioning::gate(&connector, Some(&input.provisioning));
    let session = match Session::open(&Connection {
        api_url: connector.spec.api_url.clone(),
        token: input.token,
    }) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(Refusal {
                reason: e.reason(),
                message: e.to_string(),
            }));
        }
    };
    Ok(Ok(Target {
        connector,
        gate,
        session,
    }))
}

/// Observe → plan → act until the grant settles.
async fn step(grant: &MondayAccessGrant, mode: Mode, shared: &Shared) -> Result<Action, Error> {
    let ctx = &*shared.ctx;
    let key = ObjectKey::of(grant);
    let target = observe_connector(grant, ctx).await?;
    let session = target.as_ref().ok().map(|t| &t.session);
    let gathered = observe::gather(grant, mode, session, ctx).await?;
    let observed = Observed::new(
        grant,
        mode,
        target.as_ref().map(|t| t.gate).map_err(Clone::clone),
        ctx.failed_count(PROVISION, &key),
        jiff::Timestamp::now(),
        &gathered.facts(shared.without_policy),
    );
    let effects = plan::decision::effects(&observed);
    let mut written = grant.status.clone();
    let mut step = plan::plan(&observed);
    loop {
        match step {
            Step::Leave => return Ok(Action::await_change()),
            Step::Settle(s) => {
                let done = Done {
                    effects,
                    target: target.ok(),
                };
                return settle(grant, &key, &written, s, done, shared).await;
            }
            _ => {}
        }
        let Some(t) = usable(&target, &key) else {
            return Ok(Action::requeue(plan::WAIT));
        };
        step = carry_out(step, &t.session, &observed, &key, &mut written, ctx).await?;
    }
}

/// Carries out a step that touches Monday (persisting its status before any write) and returns
/// the step its result leads to.
async fn carry_out(
    step: Step,
    session: &Session,
    o: &Observed<'_>,
    key: &ObjectKey,
    written: &mut Option<MondayAccessGrantStatus>,
    ctx: &Context,
) -> Result<Step, Error> {
    Ok(match step {
        Step::Leave | Step::Settle(_) => step,
        Step::Check {
            status,
            entitlement,
            principal,
        } => {
            let opts = GrantOptions {
                create_account: o.grant.spec.create_account,
            };
            let result = session.check(&entitlement, &principal, opts).await;
            plan::checked(o, status, entitlement, result)
        }
        Step::Grant {
            status,
            entitlement,
            current,
        } => {
            persist(key, written, &status, ctx).await?;
            let result = session.apply(&entitlement, &current).await;
            Step::Settle(plan::granted(o, status, &entitlement, result))
        }
        Step::Revoke {
            status,
            entitlement,
            target,
            previous,
            ending,
        } => {
            persist(key, written, &status, ctx).await?;
            // Put back exactly what the grant found (absent = nothing): expiry undoes the grant.
            let mode = RevokeMode::RestorePrevious(previous.as_deref());
            let result = session.revoke(&entitlement, &target, mode).await;
            Step::Settle(plan::revoked(o, status, &entitlement, ending, result))
        }
    })
}

/// The connector for a step that needs Monday. The plan asks for such steps only when the
/// connector was usable, so `None` is a bug: logged, and the grant is looked at again later.
fn usable<'a>(target: &'a Result<Target, Refusal>, key: &ObjectKey) -> Option<&'a Target> {
    let t = target.as_ref().ok();
    if t.is_none() {
        tracing::error!(grant = %key, "planned Monday work without a usable connector; retrying");
    }
    t
}

/// Writes `status` unless it is what was last written.
async fn persist(
    key: &ObjectKey,
    written: &mut Option<MondayAccessGrantStatus>,
    status: &MondayAccessGrantStatus,
    ctx: &Context,
) -> Result<(), Error> {
    if written.as_ref() != Some(status) {
        kit::apply_status::<MondayAccessGrant>(&ctx.client, key, status).await?;
        *written = Some(status.clone());
    }
    Ok(())
}

/// What settling needs besides the plan's result: the decision's announcements and the
/// connector (for the sync request).
struct Done {
    effects: Effects,
    target: Option<Target>,
}

/// Act on the settled plan: status, failure count, Events and notifications, a sync of the
/// connector, requeue.
async fn settle(
    grant: &MondayAccessGrant,
    key: &ObjectKey,
    written: &Option<MondayAccessGrantStatus>,
    s: Settle,
    done: Done,
    shared: &Shared,
) -> Result<Action, Error> {
    let ctx = &*shared.ctx;
    let deleting = grant.metadata.deletion_timestamp.is_some();
    if written.as_ref() != Some(&s.status) {
        let result = kit::apply_status::<MondayAccessGrant>(&ctx.client, key, &s.status).await;
        match result {
            Ok(()) => {}
            // The object may be gone once the finalizer is removed; a failed write is harmless.
            Err(e) if deleting => {
                tracing::debug!(grant = %key, error = %e, "final status not written")
            }
            Err(e) => return Err(e.into()),
        }
    }
    match s.tally {
        Tally::Keep => {}
        Tally::Bump => {
            ctx.failed(PROVISION, key);
        }
        Tally::Reset => ctx.succeeded(PROVISION, key),
    }
    report(grant, &s, done.effects, shared).await;
    if s.request_sync
        && let Some(t) = &done.target
    {
        request_sync(ctx, &t.connector).await;
    }
    Ok(match s.requeue {
        Requeue::OnChange => Action::await_change(),
        Requeue::After(d) => Action::requeue(d),
        Requeue::KeepFinalizer(message) => return Err(Error::RevokePending(message)),
    })
}

/// Publishes what a settled reconcile announces: Events (the decision's first), the break-glass
/// metric, notifications (queued, never awaited).
async fn report(grant: &MondayAccessGrant, s: &Settle, effects: Effects, shared: &Shared) {
    let ctx = &*shared.ctx;
    let regarding = grant.object_ref(&());
    for n in effects.notes.iter().chain(&s.notes) {
        ctx.events.publish(&regarding, n).await;
    }
    if effects.break_glass {
        ctx.metrics.break_glass.inc();
    }
    let notices = effects.notices.into_iter().chain(s.notices.iter().cloned());
    shared
        .notices
        .send(ctx, grant, &s.status, notices.collect())
        .await;
}

/// Asks the connector controller for a sync (it syncs on every new value of the annotation).
async fn request_sync(ctx: &Context, connector: &MondayConnector) {
    let key = ObjectKey::of(connector);
    let api: Api<MondayConnector> = ctx.api(&key.namespace);
    let now = jiff::Timestamp::now().to_string();
    let patch =
        serde_json::json!({ "metadata": { "annotations": { SYNC_REQUESTED_ANNOTATION: now } } });
    if let Err(e) = api
        .patch(&key.name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        tracing::warn!(error = %e, connector = %key, "could not request a sync");
    }
}
