//! The MondayAccessGrant controller: grants through `engine::provision`, revokes at expiry and on
//! deletion.
//!
//! - The deadline lives in `status.expiresAt`, written right after the grant, and every reconcile
//!   requeues exactly at it; a restarted or newly elected operator reads it back, so no in-memory
//!   timer is ever the only record of when access ends.
//! - Before changing Monday it records what it found (`preExisting`, `previousRole`) in status,
//!   so a retry after a crash between the mutation and the status write cannot mistake its own
//!   grant for pre-existing access (which is never revoked).
//! - Revocation is confirmed by a read; failures keep the phase `Granted`, show the reason in the
//!   Ready condition and a Warning Event, and retry with backoff (1 s doubling to 60 s).
//! - The provisioning gate (`spec.provisioning` of the connector, else the Secret's
//!   `BATON_PROVISIONING`) blocks new grants only: revoking access this object created is always
//!   allowed, so turning provisioning off never strands time-bound access.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::secret;
use crate::api::access_grant::{FINALIZER, MondayAccessGrantStatus, Phase};
use crate::api::conditions::{self, READY};
use crate::api::connector::SYNC_REQUESTED_ANNOTATION;
use crate::api::{MondayAccessGrant, MondayConnector};
use crate::engine::provision::{
    self, Current, Entitlement, GrantOptions, Holder, Principal, ProvisionError,
};
use crate::monday::{Client, ClientConfig, Id, UserStatus, UserSummary};

/// Settings of the access-grant controller.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Watch this namespace only; `None` = all namespaces.
    pub namespace: Option<String>,
    /// Reporting instance for Events.
    pub identity: String,
}

/// Errors of one reconcile that are not status (Kubernetes API failures).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("the object has no namespace")]
    MissingNamespace,
    #[error("revocation is not done yet ({0}); the finalizer stays")]
    RevokePending(String),
    #[error(transparent)]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
}

struct Ctx {
    client: kube::Client,
    recorder: Recorder,
    failures: Mutex<HashMap<(String, String), u32>>,
}

impl Ctx {
    fn backoff(&self, obj: &impl Resource) -> Duration {
        let mut m = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(key(obj)).or_default();
        *n = n.saturating_add(1);
        Duration::from_secs(1u64 << (*n - 1).min(6)).min(Duration::from_secs(60))
    }
    fn succeeded(&self, obj: &MondayAccessGrant) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key(obj));
    }
}

fn key(obj: &impl Resource) -> (String, String) {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    // Guarded: one unreadable grant must not stop the expiry of all the others.
    let grants: Api<DeserializeGuard<MondayAccessGrant>> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let connectors: Api<PartialObjectMeta<MondayConnector>> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "monday-operator-access-grants".into(),
                instance: Some(config.identity.clone()),
            },
        ),
        failures: Mutex::default(),
    });
    let (watch, store) = super::lean_watch(grants);
    let controller = Controller::for_stream(watch, store.clone())
        .with_config(ControllerConfig::default().concurrency(16));
    controller
        // A connector change (provisioning switched on, Secret fixed) re-checks its grants.
        // Metadata-only: that is all the mapping needs, and it reads any connector, even one
        // whose spec this version cannot parse.
        .watches(
            connectors,
            watcher::Config::default(),
            move |c: PartialObjectMeta<MondayConnector>| {
                let name = c.name_any();
                super::referrers(&store, c.namespace(), |g| {
                    g.0.as_ref()
                        .is_ok_and(|g| g.spec.connector_ref.name == name)
                })
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "access grant controller event");
            }
        })
        .await;
}

async fn reconcile(
    obj: Arc<DeserializeGuard<MondayAccessGrant>>,
    ctx: Arc<Ctx>,
) -> Result<Action, Error> {
    let ns = obj.namespace().ok_or(Error::MissingNamespace)?;
    // Act on the latest object, not the watch cache: right after a status write the cache can
    // still hold an older version, and acting on a stale phase could grant again after an expiry.
    let guarded: Api<DeserializeGuard<MondayAccessGrant>> =
        Api::namespaced(ctx.client.clone(), &ns);
    let Some(fresh) = guarded.get_opt(&obj.name_any()).await? else {
        return Ok(Action::await_change());
    };
    let obj = match fresh.0 {
        Ok(g) => Arc::new(g),
        Err(ref invalid) => {
            // Unreadable: nothing can be granted or revoked, and the finalizer stays so that
            // deleting the object cannot silently skip a revocation.
            let meta = fresh.meta();
            let deleting = meta.deletion_timestamp.is_some()
                && meta.finalizers.iter().flatten().any(|f| f == FINALIZER);
            let message = if deleting {
                format!(
                    "the operator cannot read this MondayAccessGrant ({}), so it cannot revoke what it granted: fix the object, or revoke in Monday.com and remove the finalizer {FINALIZER} by hand",
                    invalid.error
                )
            } else {
                format!(
                    "the operator cannot read this MondayAccessGrant ({}); nothing is granted, revoked or expired until the object is fixed",
                    invalid.error
                )
            };
            super::report_unreadable(&ctx.client, &ctx.recorder, &fresh, &invalid.error, message)
                .await?;
            return Ok(Action::await_change());
        }
    };
    let api: Api<MondayAccessGrant> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(o) => apply(o, &ctx).await,
            Finalizer::Cleanup(o) => cleanup(o, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

fn error_policy(
    obj: Arc<DeserializeGuard<MondayAccessGrant>>,
    err: &Error,
    ctx: Arc<Ctx>,
) -> Action {
    let delay = ctx.backoff(&*obj);
    tracing::warn!(namespace = obj.namespace().unwrap_or_default(), name = %obj.name_any(), error = %err, retry_in = ?delay, "access grant reconcile failed");
    Action::requeue(delay)
}

/// A Monday client for the referenced connector, or why there is none. The boolean is whether
/// provisioning is enabled.
async fn connect(
    obj: &MondayAccessGrant,
    ctx: &Ctx,
) -> Result<Result<(Client, MondayConnector, bool), (String, String)>, Error> {
    let ns = obj.namespace().ok_or(Error::MissingNamespace)?;
    let name = &obj.spec.connector_ref.name;
    let connectors: Api<MondayConnector> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(connector) = connectors.get_opt(name).await? else {
        return Ok(Err((
            "ConnectorNotFound".into(),
            format!(
                "MondayConnector {name} not found in this namespace: create it or fix spec.connectorRef.name"
            ),
        )));
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let sref = &connector.spec.secret_ref;
    let input = match secret::read(&secrets, &sref.name, &sref.key).await? {
        Ok(i) => i,
        Err(p) => return Ok(Err((p.reason().into(), p.to_string()))),
    };
    let enabled = match (connector.spec.provisioning, &input.provisioning) {
        (Some(b), _) => b,
        (None, Ok(v)) => v.unwrap_or(false),
        (None, Err(_)) => {
            return Ok(Err((
                "InvalidProvisioningFlag".into(),
                format!(
                    "{} in Secret {} is not a boolean (use true or false, quoted in YAML), and MondayConnector {name} does not set spec.provisioning",
                    secret::PROVISIONING_KEY,
                    sref.name
                ),
            )));
        }
    };
    let client = match Client::new(
        ClientConfig {
            api_url: connector.spec.api_url.clone(),
            ..Default::default()
        },
        input.token,
    ) {
        Ok(c) => c,
        Err(e) => return Ok(Err((e.reason().into(), e.to_string()))),
    };
    Ok(Ok((client, connector, enabled)))
}

fn principal_of(obj: &MondayAccessGrant) -> Result<Principal, &'static str> {
    let p = &obj.spec.principal;
    provision::principal_from(
        p.email.as_deref(),
        p.user_id.as_deref(),
        p.team_id.as_deref(),
    )
}

fn principal_display(obj: &MondayAccessGrant) -> String {
    let p = &obj.spec.principal;
    if let Some(e) = &p.email {
        e.clone()
    } else if let Some(u) = &p.user_id {
        format!("user:{u}")
    } else if let Some(t) = &p.team_id {
        format!("team:{t}")
    } else {
        String::new()
    }
}

/// Rounds up to a whole second: status times have second precision, and revoking from the
/// stored value must never be earlier than what the spec asked.
fn ceil_second(t: Timestamp) -> Timestamp {
    let s = t.as_second();
    let s = if t.subsec_nanosecond() > 0 { s + 1 } else { s };
    Timestamp::from_second(s).unwrap_or(t)
}

/// The expiry the spec asks for, given when the access was granted. `Err` = unparseable spec.
fn desired_expiry(
    obj: &MondayAccessGrant,
    granted_at: Timestamp,
) -> Result<Option<Timestamp>, String> {
    if let Some(at) = &obj.spec.expires_at {
        return at
            .parse::<Timestamp>()
            .map(|t| Some(ceil_second(t)))
            .map_err(|e| format!("expiresAt {at:?} is not an RFC 3339 time: {e}"));
    }
    if let Some(d) = &obj.spec.duration {
        let d =
            super::schedule::parse_go_duration(d).map_err(|e| format!("duration {d:?}: {e}"))?;
        let d = SignedDuration::try_from(d).map_err(|e| format!("duration: {e}"))?;
        return granted_at
            .checked_add(d)
            .map(|t| Some(ceil_second(t)))
            .map_err(|e| format!("duration: {e}"));
    }
    Ok(None)
}

fn until(t: Timestamp) -> Duration {
    let d = t.duration_since(Timestamp::now());
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

async fn write_status(
    ctx: &Ctx,
    obj: &MondayAccessGrant,
    st: &MondayAccessGrantStatus,
) -> Result<(), Error> {
    let ns = obj.namespace().ok_or(Error::MissingNamespace)?;
    let api: Api<MondayAccessGrant> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": st })),
    )
    .await?;
    Ok(())
}

async fn publish(ctx: &Ctx, obj: &MondayAccessGrant, type_: EventType, reason: &str, note: String) {
    let ev = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Provision".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "could not publish Event");
    }
}

/// Asks the connector controller for a sync (it syncs on every new value of the annotation).
async fn request_sync(ctx: &Ctx, connector: &MondayConnector) {
    let (Some(ns), name) = (connector.namespace(), connector.name_any()) else {
        return;
    };
    let api: Api<MondayConnector> = Api::namespaced(ctx.client.clone(), &ns);
    let now = Timestamp::now().to_string();
    let patch = json!({ "metadata": { "annotations": { SYNC_REQUESTED_ANNOTATION: now } } });
    if let Err(e) = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        tracing::warn!(error = %e, connector = %name, "could not request a sync");
    }
}

fn set_ready(
    st: &mut MondayAccessGrantStatus,
    obj: &MondayAccessGrant,
    ok: bool,
    reason: &str,
    message: impl Into<String>,
) {
    let generation = obj.meta().generation;
    conditions::merge(
        &mut st.conditions,
        vec![conditions::new(READY, ok, reason, message, generation)],
        Timestamp::now(),
    );
    st.observed_generation = generation;
}

async fn apply(obj: Arc<MondayAccessGrant>, ctx: &Ctx) -> Result<Action, Error> {
    let mut st = obj.status.clone().unwrap_or_default();
    let before = st.clone();
    let phase = st.phase.unwrap_or_default();
    if st.principal.is_none() {
        st.principal = Some(principal_display(&obj));
    }
    if matches!(phase, Phase::Expired | Phase::Revoked) {
        if st != before {
            write_status(ctx, &obj, &st).await?;
        }
        return Ok(Action::await_change());
    }
    let entitlement: Entitlement = match obj.spec.entitlement.parse() {
        Ok(e) => e,
        Err(e) => return fail(ctx, &obj, st, "InvalidEntitlement", e.to_string()).await,
    };
    let principal = match principal_of(&obj) {
        Ok(p) => p,
        Err(why) => return fail(ctx, &obj, st, "InvalidPrincipal", why.to_string()).await,
    };

    if phase == Phase::Granted {
        return granted(obj, ctx, st, &entitlement, &principal).await;
    }

    // Not granted yet. An absolute expiry already past: nothing to do, ever.
    let now = Timestamp::now();
    match desired_expiry(&obj, now) {
        Err(msg) => return fail(ctx, &obj, st, "InvalidExpiry", msg).await,
        Ok(Some(at)) if obj.spec.expires_at.is_some() && at <= now => {
            st.phase = Some(Phase::Expired);
            st.expires_at = Some(Time(at));
            set_ready(
                &mut st,
                &obj,
                false,
                "ExpiredBeforeGrant",
                "expiresAt passed before the access could be granted; nothing was changed in Monday",
            );
            write_status(ctx, &obj, &st).await?;
            return Ok(Action::await_change());
        }
        Ok(_) => {}
    }

    let (client, connector, enabled) = match connect(&obj, ctx).await? {
        Ok(c) => c,
        Err((reason, msg)) => return wait(ctx, &obj, st, &reason, msg).await,
    };
    if !enabled {
        return wait(
            ctx,
            &obj,
            st,
            "ProvisioningDisabled",
            format!(
                "MondayConnector {} does not allow provisioning: set spec.provisioning: true on it (or BATON_PROVISIONING: \"true\" in its Secret); nothing was changed in Monday",
                connector.name_any()
            ),
        )
        .await;
    }

    // Phase 1: record what Monday has now, before changing it.
    let current = match recorded(&st, &principal) {
        Some(c) => c,
        None => {
            let opts = GrantOptions {
                create_account: obj.spec.create_account,
            };
            match provision::check(&client, &entitlement, &principal, opts).await {
                Ok(c) => {
                    st.pre_existing = Some(c.pre_existing);
                    st.previous_role = c.previous.clone();
                    st.account_invited = Some(c.invited);
                    st.user_id = c.holder.user_id().map(|i| i.to_string());
                    st.phase = Some(Phase::Pending);
                    set_ready(
                        &mut st,
                        &obj,
                        false,
                        "Granting",
                        "current access recorded; granting",
                    );
                    write_status(ctx, &obj, &st).await?;
                    c
                }
                Err(e) => return provision_failed(ctx, &obj, st, e, "grant").await,
            }
        }
    };

    // Phase 2: change Monday.
    match provision::apply(&client, &entitlement, &current).await {
        Ok(out) => {
            let now = Timestamp::now();
            let granted_at = Timestamp::from_second(now.as_second()).unwrap_or(now);
            let expires = match desired_expiry(&obj, now) {
                Ok(e) => e,
                Err(msg) => return fail(ctx, &obj, st, "InvalidExpiry", msg).await,
            };
            st.phase = Some(Phase::Granted);
            st.grant_id = Some(out.grant_id.clone());
            st.granted_at = Some(Time(granted_at));
            st.expires_at = expires.map(Time);
            let msg = match (out.pre_existing, expires) {
                (true, _) => format!(
                    "{} already had {}; it will not be revoked by this object",
                    principal_display(&obj),
                    entitlement
                ),
                (false, Some(at)) => format!("granted {entitlement} until {at}"),
                (false, None) => format!("granted {entitlement} until this object is deleted"),
            };
            set_ready(
                &mut st,
                &obj,
                true,
                if out.pre_existing {
                    "PreExisting"
                } else {
                    "Granted"
                },
                msg.clone(),
            );
            write_status(ctx, &obj, &st).await?;
            ctx.succeeded(&obj);
            publish(ctx, &obj, EventType::Normal, "Granted", msg).await;
            if !out.pre_existing {
                request_sync(ctx, &connector).await;
            }
            Ok(match expires {
                Some(at) => Action::requeue(until(at)),
                None => Action::await_change(),
            })
        }
        Err(e) => provision_failed(ctx, &obj, st, e, "grant").await,
    }
}

/// The `Current` recorded by phase 1 of an earlier attempt, if any.
fn recorded(st: &MondayAccessGrantStatus, principal: &Principal) -> Option<Current> {
    let pre_existing = st.pre_existing?;
    let holder = match principal {
        Principal::Team(t) => Holder::Team(t.clone()),
        _ => Holder::User(UserSummary {
            id: Id::from(st.user_id.clone()?),
            name: String::new(),
            email: String::new(),
            kind: String::new(),
            // Re-read by `apply` before use.
            status: UserStatus::Active,
        }),
    };
    Some(Current {
        holder,
        pre_existing,
        previous: st.previous_role.clone(),
        invited: st.account_invited.unwrap_or(false),
    })
}

/// Granted: keep the stored expiry (extended if the spec grew), revoke when it is reached.
async fn granted(
    obj: Arc<MondayAccessGrant>,
    ctx: &Ctx,
    mut st: MondayAccessGrantStatus,
    entitlement: &Entitlement,
    principal: &Principal,
) -> Result<Action, Error> {
    let granted_at = st
        .granted_at
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_else(Timestamp::now);
    let stored = st.expires_at.as_ref().map(|t| t.0);
    let wanted = desired_expiry(&obj, granted_at).ok().flatten();
    let expires = match (stored, wanted) {
        (Some(s), Some(w)) if w > s => {
            st.expires_at = Some(Time(w));
            set_ready(
                &mut st,
                &obj,
                true,
                "Extended",
                format!("access extended until {w}"),
            );
            write_status(ctx, &obj, &st).await?;
            publish(
                ctx,
                &obj,
                EventType::Normal,
                "Extended",
                format!("{entitlement} extended until {w}"),
            )
            .await;
            Some(w)
        }
        (Some(s), _) => Some(s),
        (None, w) => w,
    };
    let Some(at) = expires else {
        return Ok(Action::await_change());
    };
    if Timestamp::now() < at {
        return Ok(Action::requeue(until(at)));
    }
    if st.pre_existing == Some(true) {
        st.phase = Some(Phase::Expired);
        st.revoked_at = None;
        set_ready(
            &mut st,
            &obj,
            true,
            "ExpiredPreExisting",
            "expired; the access existed before this request and was left in place",
        );
        write_status(ctx, &obj, &st).await?;
        publish(
            ctx,
            &obj,
            EventType::Normal,
            "Expired",
            "expired; pre-existing access left in place".into(),
        )
        .await;
        return Ok(Action::await_change());
    }
    match revoke(&obj, ctx, &mut st, entitlement, principal).await? {
        Ok(()) => {
            st.phase = Some(Phase::Expired);
            let msg = format!("expired at {at}; revoked {entitlement}");
            set_ready(&mut st, &obj, true, "Expired", msg.clone());
            write_status(ctx, &obj, &st).await?;
            publish(ctx, &obj, EventType::Normal, "Expired", msg).await;
            Ok(Action::await_change())
        }
        Err(delay) => Ok(Action::requeue(delay)),
    }
}

/// Revokes and records `revokedAt`; on failure updates the condition, emits a Warning and
/// returns the retry delay. The phase stays `Granted` until Monday confirms.
async fn revoke(
    obj: &MondayAccessGrant,
    ctx: &Ctx,
    st: &mut MondayAccessGrantStatus,
    entitlement: &Entitlement,
    principal: &Principal,
) -> Result<Result<(), Duration>, Error> {
    let (client, connector, _) = match connect(obj, ctx).await? {
        Ok(c) => c,
        Err((reason, msg)) => {
            let delay = ctx.backoff(obj);
            let msg = format!(
                "revocation blocked: {msg}; retrying in {}s",
                delay.as_secs()
            );
            set_ready(st, obj, false, &reason, msg.clone());
            write_status(ctx, obj, st).await?;
            publish(ctx, obj, EventType::Warning, "RevokeFailed", msg).await;
            return Ok(Err(delay));
        }
    };
    // Revoke what this object granted: the user it resolved, not whoever has the email now.
    let target = match (principal, &st.user_id) {
        (Principal::Team(_), _) => principal.clone(),
        (_, Some(id)) => Principal::UserId(Id::from(id.clone())),
        (p, None) => p.clone(),
    };
    match provision::revoke(
        &client,
        entitlement,
        &target,
        provision::RevokeMode::RestorePrevious(st.previous_role.as_deref()),
    )
    .await
    {
        Ok(_) => {
            st.revoked_at = Some(Time(Timestamp::now()));
            ctx.succeeded(obj);
            request_sync(ctx, &connector).await;
            Ok(Ok(()))
        }
        Err(e) => {
            let delay = ctx.backoff(obj);
            let msg = format!("revocation failed: {e}; retrying in {}s", delay.as_secs());
            set_ready(st, obj, false, e.reason(), msg.clone());
            write_status(ctx, obj, st).await?;
            publish(ctx, obj, EventType::Warning, "RevokeFailed", msg).await;
            Ok(Err(delay))
        }
    }
}

/// Deletion: revoke unless pre-existing or never granted; the finalizer stays until Monday
/// confirms.
async fn cleanup(obj: Arc<MondayAccessGrant>, ctx: &Ctx) -> Result<Action, Error> {
    let mut st = obj.status.clone().unwrap_or_default();
    let phase = st.phase.unwrap_or_default();
    // Phase 1 recorded a check but apply may have run: treat it as granted.
    let maybe_granted =
        phase == Phase::Granted || (phase == Phase::Pending && st.pre_existing == Some(false));
    if !maybe_granted || st.pre_existing == Some(true) {
        return Ok(Action::await_change());
    }
    let (Ok(entitlement), Ok(principal)) = (
        obj.spec.entitlement.parse::<Entitlement>(),
        principal_of(&obj),
    ) else {
        return Ok(Action::await_change());
    };
    match revoke(&obj, ctx, &mut st, &entitlement, &principal).await? {
        Ok(()) => {
            st.phase = Some(Phase::Revoked);
            set_ready(
                &mut st,
                &obj,
                true,
                "Revoked",
                format!("revoked {entitlement} on deletion"),
            );
            // The object may be gone once the finalizer is removed; a failed write is harmless.
            let _ = write_status(ctx, &obj, &st).await;
            publish(
                ctx,
                &obj,
                EventType::Normal,
                "Revoked",
                format!("revoked {entitlement} on deletion"),
            )
            .await;
            Ok(Action::await_change())
        }
        Err(_) => Err(Error::RevokePending(
            st.conditions
                .first()
                .map(|c| c.message.clone())
                .unwrap_or_default(),
        )),
    }
}

/// Waiting for someone to fix something outside Monday: Pending, Ready=False, retry later.
async fn wait(
    ctx: &Ctx,
    obj: &MondayAccessGrant,
    mut st: MondayAccessGrantStatus,
    reason: &str,
    message: String,
) -> Result<Action, Error> {
    st.phase = Some(Phase::Pending);
    let changed = conditions::get(&st.conditions, READY).map(|c| c.reason.as_str()) != Some(reason);
    set_ready(&mut st, obj, false, reason, message.clone());
    if obj.status.as_ref() != Some(&st) {
        write_status(ctx, obj, &st).await?;
    }
    if changed {
        publish(ctx, obj, EventType::Warning, reason, message).await;
    }
    Ok(Action::requeue(Duration::from_secs(60)))
}

/// A spec the operator cannot act on: Failed, no retry until the object changes.
async fn fail(
    ctx: &Ctx,
    obj: &MondayAccessGrant,
    mut st: MondayAccessGrantStatus,
    reason: &str,
    message: String,
) -> Result<Action, Error> {
    st.phase = Some(Phase::Failed);
    set_ready(&mut st, obj, false, reason, message.clone());
    if obj.status.as_ref() != Some(&st) {
        write_status(ctx, obj, &st).await?;
        publish(ctx, obj, EventType::Warning, reason, message).await;
    }
    Ok(Action::await_change())
}

/// A provisioning error: transient ones keep Pending, others Failed; both retry with backoff
/// (someone may fix the account in Monday).
async fn provision_failed(
    ctx: &Ctx,
    obj: &MondayAccessGrant,
    mut st: MondayAccessGrantStatus,
    e: ProvisionError,
    what: &str,
) -> Result<Action, Error> {
    let delay = ctx.backoff(obj);
    st.phase = Some(if e.is_transient() {
        Phase::Pending
    } else {
        Phase::Failed
    });
    let msg = format!("{what} failed: {e}");
    let changed =
        conditions::get(&st.conditions, READY).map(|c| c.message.as_str()) != Some(msg.as_str());
    set_ready(&mut st, obj, false, e.reason(), msg.clone());
    if obj.status.as_ref() != Some(&st) {
        write_status(ctx, obj, &st).await?;
    }
    if changed {
        publish(ctx, obj, EventType::Warning, e.reason(), msg).await;
    }
    Ok(Action::requeue(delay.max(Duration::from_secs(5))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(spec: serde_json::Value) -> MondayAccessGrant {
        serde_json::from_value(json!({
            "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
            "metadata": {"name": "g", "namespace": "n"}, "spec": spec
        }))
        .expect("grant")
    }

    #[test]
    fn expiry_comes_from_duration_or_expires_at() {
        let at: Timestamp = "2026-01-01T00:00:00.5Z".parse().expect("ts");
        let base = json!({"connectorRef": {"name": "c"}, "principal": {"userId": "1"}, "entitlement": "board:1:owner"});
        let mut d = base.clone();
        d["duration"] = json!("1h30m");
        assert_eq!(
            desired_expiry(&grant(d), at)
                .expect("ok")
                .map(|t| t.to_string()),
            Some("2026-01-01T01:30:01Z".into())
        );
        let mut e = base.clone();
        e["expiresAt"] = json!("2026-02-01T10:00:00+01:00");
        assert_eq!(
            desired_expiry(&grant(e), at)
                .expect("ok")
                .map(|t| t.to_string()),
            Some("2026-02-01T09:00:00Z".into())
        );
        assert_eq!(desired_expiry(&grant(base.clone()), at), Ok(None));
        let mut bad = base;
        bad["duration"] = json!("soon");
        assert!(desired_expiry(&grant(bad), at).is_err());
    }

    #[test]
    fn a_recorded_check_is_reused_so_a_retry_never_turns_own_grants_into_pre_existing() {
        let mut st = MondayAccessGrantStatus::default();
        assert!(recorded(&st, &Principal::UserId(Id::from("5"))).is_none());
        st.pre_existing = Some(false);
        st.user_id = Some("5".into());
        st.previous_role = Some("member".into());
        let c = recorded(&st, &Principal::Email("a@b.c".into())).expect("recorded");
        assert!(!c.pre_existing);
        assert_eq!(c.holder.user_id(), Some(&Id::from("5")));
        assert_eq!(c.previous.as_deref(), Some("member"));
        let c = recorded(&st, &Principal::Team(Id::from("9"))).expect("recorded");
        assert_eq!(c.holder, Holder::Team(Id::from("9")));
    }

    #[test]
    fn expiry_rounds_up_to_whole_seconds() {
        let t: Timestamp = "2026-01-01T00:00:00.2Z".parse().expect("ts");
        assert_eq!(ceil_second(t).to_string(), "2026-01-01T00:00:01Z");
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().expect("ts");
        assert_eq!(ceil_second(t), t);
    }
}
