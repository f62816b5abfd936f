//! The MondayConnector reconciler: reads the Secret, decides whether a sync is due, starts it in
//! the background, and writes status (only when it changed) and Events.
//!
//! Level-based: every run recomputes the desired status from the object, the Secret and the last
//! finished sync, whatever woke it up.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::secret;
use super::tasks::{Key, Outcome, SyncJob};
use super::{Context, Error, schedule};
use crate::api::connector::{
    AccountStatus, Changes, Counts, ResourceTypeName, SYNC_REQUESTED_ANNOTATION, SnapshotStatus,
};
use crate::api::{FIELD_MANAGER, MondayConnector, MondayConnectorStatus, conditions};
use crate::engine::{Connection, SyncOptions};

/// Finalizer that removes the connector's snapshot folder.
pub const FINALIZER: &str = "iga.monday-operator.dev/snapshots";
/// Condition: the token reaches Monday.com and is accepted.
pub const CONNECTED: &str = "Connected";
/// Condition: the last sync succeeded.
pub const SYNCED: &str = "Synced";
/// Condition: whether provisioning is enabled (and whether its setting is valid).
pub const PROVISIONING: &str = "Provisioning";

/// Entry point called by the controller.
pub async fn reconcile(
    obj: Arc<DeserializeGuard<MondayConnector>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    ctx.metrics.reconciles.inc();
    match &obj.0 {
        Ok(c) => reconcile_connector(Arc::new(c.clone()), ctx).await,
        Err(invalid) => unreadable(&obj, invalid, &ctx).await,
    }
}

async fn reconcile_connector(
    obj: Arc<MondayConnector>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let ns = obj.namespace().ok_or(Error::MissingNamespace)?;
    let api: Api<MondayConnector> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(o) => apply(o, &ctx).await,
            Finalizer::Cleanup(o) => cleanup(o, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Requeue policy for failed reconciles: per-connector exponential backoff (1 s .. 5 min).
pub fn error_policy(
    obj: Arc<DeserializeGuard<MondayConnector>>,
    err: &Error,
    ctx: Arc<Context>,
) -> Action {
    let reason = err.reason();
    ctx.metrics
        .reconcile_errors
        .get_or_create(&crate::metrics::ErrorLabels {
            reason: reason.into(),
        })
        .inc();
    let n = ctx.reconcile_failure(&key_of(&*obj));
    let delay = Duration::from_secs(1u64 << n.min(8)).min(Duration::from_secs(300));
    tracing::warn!(namespace = obj.namespace().unwrap_or_default(), name = %obj.name_any(), reason, error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn key_of(obj: &impl Resource) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

/// A connector these types cannot read (say, written for a newer schema): it gets a Warning Event
/// and `Ready=False`/`InvalidObject` (its other status is kept), syncs nothing, and its deletion
/// still removes the snapshots and the finalizer.
async fn unreadable(
    obj: &DeserializeGuard<MondayConnector>,
    invalid: &InvalidObject,
    ctx: &Context,
) -> Result<Action, Error> {
    let key = key_of(obj);
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
            let api: Api<PartialObjectMeta<MondayConnector>> =
                Api::namespaced(ctx.client.clone(), &key.0);
            api.patch_metadata(&key.1, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        return Ok(Action::await_change());
    }
    ctx.tasks.remove(&key);
    let message = format!(
        "the operator cannot read this MondayConnector ({}); nothing is synced until the object is fixed",
        invalid.error
    );
    super::report_unreadable(&ctx.client, &ctx.recorder, obj, &invalid.error, message).await?;
    Ok(Action::await_change())
}

async fn remove_snapshots(key: &Key, ctx: &Context) -> Result<(), Error> {
    ctx.tasks.remove(key);
    let dir = ctx.data_dir.join(&key.0).join(&key.1);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => tracing::info!(namespace = %key.0, name = %key.1, "snapshot folder removed"),
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

async fn cleanup(obj: Arc<MondayConnector>, ctx: &Context) -> Result<Action, Error> {
    remove_snapshots(&key_of(&*obj), ctx).await?;
    Ok(Action::await_change())
}

/// Hash of the spec fields a sync depends on (not interval or suspend: changing those must not
/// start a sync by itself).
fn spec_revision(obj: &MondayConnector, secret_rv: &str) -> String {
    let mut h = Sha256::new();
    h.update(obj.spec.api_url.as_bytes());
    h.update([0]);
    h.update(obj.spec.secret_ref.key.as_bytes());
    if let Some(types) = &obj.spec.resource_types {
        for t in types {
            h.update(type_id(*t).as_bytes());
            h.update([1]);
        }
    }
    format!("{secret_rv}/{}", &hex::encode(h.finalize())[..12])
}

fn type_id(t: ResourceTypeName) -> &'static str {
    match t {
        ResourceTypeName::User => "user",
        ResourceTypeName::Role => "role",
        ResourceTypeName::Team => "team",
        ResourceTypeName::Workspace => "workspace",
        ResourceTypeName::Board => "board",
    }
}

fn ts(t: &Time) -> jiff::Timestamp {
    t.0
}

/// `t + d`, in whole seconds: status timestamps are stored at second precision, so a finer value
/// would differ from what we read back and cause a write on every reconcile.
fn add(t: jiff::Timestamp, d: Duration) -> jiff::Timestamp {
    let sum = jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(jiff::Timestamp::MAX);
    jiff::Timestamp::from_second(sum.as_second()).unwrap_or(sum)
}

async fn apply(obj: Arc<MondayConnector>, ctx: &Context) -> Result<Action, Error> {
    let key = key_of(&*obj);
    let (ns, name) = (&key.0, &key.1);
    let generation = obj.metadata.generation;
    let now = jiff::Timestamp::now();
    let before = obj.status.clone().unwrap_or_default();
    let mut st = before.clone();
    st.observed_generation = generation;
    let mut desired: Vec<Condition> = Vec::new();

    // The interval is CEL-validated at admission; an object from before that rule still gets a
    // clear condition instead of a panic.
    let interval = match schedule::parse_go_duration(&obj.spec.sync_interval) {
        Ok(d) if d >= Duration::from_secs(60) => Some(d),
        _ => None,
    };

    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let input = secret::read(
        &secrets,
        &obj.spec.secret_ref.name,
        &obj.spec.secret_ref.key,
    )
    .await?;

    // Provisioning: the spec overrides the Secret's BATON_PROVISIONING.
    desired.push(provisioning_condition(
        &obj,
        input.as_ref().ok(),
        generation,
    ));

    // A finished sync that status does not show yet. Once the object we read shows it, forget it.
    let mut outcome = ctx.tasks.outcome(&key);
    if let Some(o) = &outcome
        && status_shows(&st, o)
    {
        ctx.tasks.consume(&key, o.seq);
        outcome = None;
    }
    if let Some(o) = &outcome {
        apply_outcome(&mut st, o, &obj, generation, &mut desired);
    }

    let suspended = obj.spec.suspend;
    let mut started = false;
    let mut next: Option<jiff::Timestamp> = None;
    match (&input, interval) {
        (Err(problem), _) => {
            desired.push(conditions::new(
                CONNECTED,
                false,
                problem.reason(),
                problem.to_string(),
                generation,
            ));
        }
        (Ok(_), None) => {
            desired.push(conditions::new(
                CONNECTED,
                false,
                "InvalidSpec",
                format!(
                    "spec.syncInterval {:?} must be a duration of at least 1m",
                    obj.spec.sync_interval
                ),
                generation,
            ));
        }
        (Ok(input), Some(interval)) => {
            warn_ignored_keys(&obj, input, ctx, &key, generation).await;
            let revision = spec_revision(&obj, &input.resource_version);
            let requested = obj
                .annotations()
                .get(SYNC_REQUESTED_ANNOTATION)
                .filter(|v| !v.is_empty())
                .cloned();
            let new_request = requested.is_some() && requested != st.last_sync_request;
            let failures = ctx.tasks.failures(&key);
            // After a restart the failure count is gone; a recorded error still means "retry soon".
            let failures = if failures == 0 && st.last_error.is_some() && transient_in_status(&st) {
                1
            } else {
                failures
            };
            next = st.last_sync_time.as_ref().map(|t| {
                let seed = [obj.uid().unwrap_or_default(), ts(t).to_string()];
                add(
                    ts(t),
                    schedule::delay(interval, failures, &[&seed[0], &seed[1]]),
                )
            });
            let due = st.last_sync_time.is_none()
                || st.synced_revision.as_deref() != Some(revision.as_str())
                || new_request
                || next.is_some_and(|n| n <= now);
            // A sync-now request also works while suspended: it is an explicit ask.
            if due && (!suspended || new_request) && !ctx.tasks.is_running(&key) {
                started = ctx.tasks.start(SyncJob {
                    key: key.clone(),
                    connection: Connection {
                        api_url: obj.spec.api_url.clone(),
                        token: input.token.clone(),
                    },
                    path: ctx.snapshot_path(ns, name),
                    options: SyncOptions {
                        resource_types: obj.spec.resource_types.as_ref().map(|v| {
                            v.iter()
                                .map(|t| type_id(*t).to_string())
                                .collect::<BTreeSet<_>>()
                        }),
                    },
                    revision,
                    request: requested,
                });
            }
            // A Connected condition left over from a Secret problem is stale now that the Secret
            // is fine; the sync about to run decides the new one.
            let stale = conditions::get(&st.conditions, CONNECTED).is_none_or(|c| {
                secret::REASONS.contains(&c.reason.as_str()) || c.reason == "InvalidSpec"
            });
            if outcome.is_none() && stale {
                desired.push(conditions::unknown(
                    CONNECTED,
                    "Connecting",
                    "the token is checked by the next sync",
                    generation,
                ));
            }
        }
    }
    let running = ctx.tasks.is_running(&key);
    if st.last_sync_time.is_none()
        && conditions::get(&st.conditions, SYNCED).is_none_or(|c| c.status != "True")
        && outcome.is_none()
    {
        desired.push(if running {
            conditions::unknown(
                SYNCED,
                "SyncInProgress",
                "the first sync is running",
                generation,
            )
        } else {
            conditions::unknown(SYNCED, "SyncPending", "no sync has run yet", generation)
        });
    }
    st.next_sync_time = if suspended || input.is_err() {
        None
    } else {
        next.map(Time)
    };

    conditions::merge(&mut st.conditions, desired, now);
    let ready = ready_condition(&st, suspended, generation);
    conditions::merge(&mut st.conditions, vec![ready], now);

    if st != before {
        patch_status(ctx, ns, name, &st).await?;
        tracing::debug!(namespace = %ns, name = %name, "status updated");
    }
    ctx.reconcile_succeeded(&key);
    if let Some(o) = &outcome
        && ctx.tasks.mark_published(&key, o.seq)
    {
        publish_outcome_events(&obj, &before, &st, o, ctx).await;
    }

    Ok(match (&input, interval) {
        // Permanent problems: the Secret watch or a spec edit wakes us up.
        (Err(_), _) | (_, None) => Action::await_change(),
        // The task triggers a reconcile when it finishes.
        _ if started || running => Action::await_change(),
        _ if suspended => Action::await_change(),
        _ => match next {
            Some(n) => Action::requeue(
                Duration::try_from(n.duration_since(now))
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(1)),
            ),
            None => Action::requeue(Duration::from_secs(5)),
        },
    })
}

/// Whether `st` already holds what `o` writes. Not by time alone: times have whole seconds, and a
/// sync-now that ends in the same second as the sync before it must still be recorded (else its
/// request looks unanswered and starts another sync).
fn status_shows(st: &MondayConnectorStatus, o: &Outcome) -> bool {
    let time = st
        .last_sync_time
        .as_ref()
        .is_some_and(|t| ts(t) >= o.finished);
    let request = o.request.is_none() || st.last_sync_request == o.request;
    let result = match &o.result {
        Ok(r) => st.snapshot.as_ref().is_some_and(|s| s.sync_id == r.sync_id),
        Err(f) => st.last_error.as_deref() == Some(f.message.as_str()),
    };
    time && request && result
}

/// Whether the error recorded in status is one that retries with backoff.
fn transient_in_status(st: &MondayConnectorStatus) -> bool {
    let reason = conditions::get(&st.conditions, CONNECTED).map(|c| c.reason.as_str());
    matches!(
        reason,
        Some("RateLimited" | "DailyLimitExceeded" | "Unreachable" | "ServerError")
    ) || conditions::get(&st.conditions, CONNECTED).is_some_and(|c| c.status == "True")
}

fn apply_outcome(
    st: &mut MondayConnectorStatus,
    o: &Outcome,
    obj: &MondayConnector,
    generation: Option<i64>,
    desired: &mut Vec<Condition>,
) {
    st.last_sync_time = Some(Time(o.finished));
    st.last_sync_duration = Some(format!("{:.3}s", o.duration.as_secs_f64()));
    st.synced_revision = Some(o.revision.clone());
    if o.request.is_some() {
        st.last_sync_request = o.request.clone();
    }
    match &o.result {
        Ok(r) => {
            st.last_successful_sync_time = Some(Time(o.finished));
            st.last_error = None;
            st.account = Some(AccountStatus {
                id: r.account_id.clone(),
                name: r.account_name.clone(),
                tier: r.account_tier.clone(),
            });
            let c = &r.counts;
            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            st.counts = Some(Counts {
                users: n(c.users),
                roles: n(c.roles),
                teams: n(c.teams),
                workspaces: n(c.workspaces),
                boards: n(c.boards),
                entitlements: n(c.entitlements),
                grants: n(c.grants),
            });
            st.snapshot = Some(SnapshotStatus {
                sync_id: r.sync_id.clone(),
                path: r.path.display().to_string(),
                sha256: r.sha256.clone(),
                bytes: n(r.bytes),
            });
            st.changes = match (r.grants_added, r.grants_removed) {
                (Some(a), Some(d)) => Some(Changes {
                    grants_added: n(a),
                    grants_removed: n(d),
                }),
                _ => None,
            };
            desired.push(conditions::new(
                CONNECTED,
                true,
                "Connected",
                format!(
                    "token accepted for account {} ({})",
                    r.account_name, r.account_id
                ),
                generation,
            ));
            desired.push(conditions::new(
                SYNCED,
                true,
                "SyncSucceeded",
                format!("synced {} users, {} grants", c.users, c.grants),
                generation,
            ));
        }
        Err(f) => {
            st.last_error = Some(f.message.clone());
            // Failures about the token, its permissions or reaching Monday are connection problems;
            // a failed snapshot write or an odd response is not.
            if matches!(
                f.reason,
                "InvalidToken"
                    | "InsufficientPermissions"
                    | "MissingScope"
                    | "AccessDenied"
                    | "RateLimited"
                    | "DailyLimitExceeded"
                    | "Unreachable"
                    | "ServerError"
                    | "InvalidConfiguration"
            ) {
                desired.push(conditions::new(
                    CONNECTED,
                    false,
                    f.reason,
                    f.message.clone(),
                    generation,
                ));
            } else if conditions::get(&st.conditions, CONNECTED).is_none_or(|c| c.status != "True")
            {
                desired.push(conditions::unknown(
                    CONNECTED,
                    "Connecting",
                    "the last sync failed before the token was checked",
                    generation,
                ));
            }
            desired.push(conditions::new(
                SYNCED,
                false,
                "SyncFailed",
                format!("{}: {}", f.reason, f.message),
                generation,
            ));
        }
    }
    let _ = obj;
}

fn provisioning_condition(
    obj: &MondayConnector,
    input: Option<&secret::SecretInput>,
    generation: Option<i64>,
) -> Condition {
    let on = |enabled: bool, msg: &str| {
        conditions::new(
            PROVISIONING,
            enabled,
            if enabled { "Enabled" } else { "Disabled" },
            msg,
            generation,
        )
    };
    match (obj.spec.provisioning, input.map(|i| &i.provisioning)) {
        (Some(v), _) => on(v, "set by spec.provisioning"),
        (None, Some(Ok(Some(v)))) => on(*v, "set by BATON_PROVISIONING in the Secret"),
        (None, Some(Ok(None))) => on(
            false,
            "neither spec.provisioning nor BATON_PROVISIONING is set",
        ),
        (None, Some(Err(_))) => conditions::new(
            PROVISIONING,
            false,
            "InvalidProvisioningValue",
            "BATON_PROVISIONING in the Secret must be one of 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False; provisioning stays off until it is fixed (or set spec.provisioning)",
            generation,
        ),
        (None, None) => conditions::unknown(
            PROVISIONING,
            "SecretUnavailable",
            "the Secret cannot be read",
            generation,
        ),
    }
}

fn ready_condition(
    st: &MondayConnectorStatus,
    suspended: bool,
    generation: Option<i64>,
) -> Condition {
    let connected = conditions::get(&st.conditions, CONNECTED);
    let synced = conditions::get(&st.conditions, SYNCED);
    let is = |c: Option<&Condition>, s: &str| c.is_some_and(|c| c.status == s);
    if let Some(c) = connected.filter(|c| c.status == "False") {
        return conditions::new(
            conditions::READY,
            false,
            &c.reason,
            c.message.clone(),
            generation,
        );
    }
    if suspended {
        return conditions::new(
            conditions::READY,
            false,
            "Suspended",
            "scheduled syncs are suspended (spec.suspend)",
            generation,
        );
    }
    if let Some(c) = synced.filter(|c| c.status == "False") {
        return conditions::new(
            conditions::READY,
            false,
            &c.reason,
            c.message.clone(),
            generation,
        );
    }
    if is(connected, "True") && is(synced, "True") {
        let msg = synced.map(|c| c.message.clone()).unwrap_or_default();
        return conditions::new(conditions::READY, true, "SyncSucceeded", msg, generation);
    }
    let (reason, msg) = synced
        .map(|c| (c.reason.clone(), c.message.clone()))
        .unwrap_or(("SyncPending".into(), "no sync has run yet".into()));
    conditions::unknown(conditions::READY, &reason, msg, generation)
}

async fn patch_status(
    ctx: &Context,
    ns: &str,
    name: &str,
    st: &MondayConnectorStatus,
) -> Result<(), Error> {
    let api: Api<MondayConnector> = Api::namespaced(ctx.client.clone(), ns);
    let body = serde_json::json!({
        "apiVersion": MondayConnector::api_version(&()),
        "kind": MondayConnector::kind(&()),
        "status": st,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

async fn publish(
    ctx: &Context,
    obj: &impl Resource<DynamicType = ()>,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) -> bool {
    let ev = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    };
    match ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, reason, "could not publish Event");
            false
        }
    }
}

async fn warn_ignored_keys(
    obj: &MondayConnector,
    input: &secret::SecretInput,
    ctx: &Context,
    key: &Key,
    generation: Option<i64>,
) {
    if input.ignored_keys.is_empty() {
        return;
    }
    let marker = format!("{}/{}", generation.unwrap_or(0), input.resource_version);
    if !ctx.tasks.first_warning(key, &marker) {
        return;
    }
    let note = format!(
        "{} in Secret {} ignored: the operator calls Monday.com directly with the API token and needs no ConductorOne credentials",
        input.ignored_keys.join(" and "),
        obj.spec.secret_ref.name
    );
    if !publish(
        ctx,
        obj,
        EventType::Normal,
        "CredentialsIgnored",
        "ReadSecret",
        note,
    )
    .await
    {
        ctx.tasks.forget_warning(key);
    }
}

async fn publish_outcome_events(
    obj: &MondayConnector,
    before: &MondayConnectorStatus,
    after: &MondayConnectorStatus,
    o: &Outcome,
    ctx: &Context,
) {
    let was_connected =
        conditions::get(&before.conditions, CONNECTED).is_some_and(|c| c.status == "True");
    let connected = conditions::get(&after.conditions, CONNECTED);
    if !was_connected && let Some(c) = connected.filter(|c| c.status == "True") {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Connected",
            "Sync",
            c.message.clone(),
        )
        .await;
    }
    match &o.result {
        Ok(r) => {
            let note = format!(
                "synced {} users, {} grants in {:.1}s (snapshot {})",
                r.counts.users,
                r.counts.grants,
                o.duration.as_secs_f64(),
                r.sync_id
            );
            publish(ctx, obj, EventType::Normal, "SyncSucceeded", "Sync", note).await;
            if let (Some(a), Some(d)) = (r.grants_added, r.grants_removed)
                && a + d > 0
            {
                publish(
                    ctx,
                    obj,
                    EventType::Normal,
                    "AccessChanged",
                    "Sync",
                    format!("{a} grants added, {d} grants removed since the previous sync"),
                )
                .await;
            }
        }
        Err(f) => {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "SyncFailed",
                "Sync",
                format!("{}: {}", f.reason, f.message),
            )
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with(conds: Vec<Condition>) -> MondayConnectorStatus {
        let mut st = MondayConnectorStatus::default();
        conditions::merge(&mut st.conditions, conds, jiff::Timestamp::UNIX_EPOCH);
        st
    }

    #[test]
    fn an_outcome_in_the_same_second_is_not_taken_as_shown() {
        let t = jiff::Timestamp::from_second(1_800_000_000).expect("time");
        let st = MondayConnectorStatus {
            last_sync_time: Some(Time(t)),
            last_error: Some("boom".into()),
            ..Default::default()
        };
        let outcome = |request: Option<&str>, message: &str| Outcome {
            finished: t,
            seq: 7,
            duration: Duration::from_millis(30),
            result: Err(super::super::tasks::SyncFailure {
                reason: "ServerError",
                message: message.into(),
                transient: true,
            }),
            revision: "1/abc".into(),
            request: request.map(str::to_string),
            published: false,
        };
        assert!(status_shows(&st, &outcome(None, "boom")));
        // A sync-now answered within the same second: its request is not in status yet.
        assert!(!status_shows(&st, &outcome(Some("req-1"), "boom")));
        assert!(!status_shows(&st, &outcome(None, "another error")));
    }

    #[test]
    fn ready_summarises_connected_then_synced() {
        let st = status_with(vec![
            conditions::new(CONNECTED, false, "InvalidToken", "bad", Some(1)),
            conditions::new(SYNCED, false, "SyncFailed", "x", Some(1)),
        ]);
        let r = ready_condition(&st, false, Some(1));
        assert_eq!(
            (r.status.as_str(), r.reason.as_str()),
            ("False", "InvalidToken")
        );

        let st = status_with(vec![
            conditions::new(CONNECTED, true, "Connected", "ok", Some(1)),
            conditions::new(SYNCED, true, "SyncSucceeded", "synced 3 users", Some(1)),
        ]);
        let r = ready_condition(&st, false, Some(1));
        assert_eq!(
            (r.status.as_str(), r.reason.as_str()),
            ("True", "SyncSucceeded")
        );
        let r = ready_condition(&st, true, Some(1));
        assert_eq!(r.reason, "Suspended");
    }
}
