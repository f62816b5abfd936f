//! The connector's decisions, as one pure function: what was observed (the object, its Secret, its
//! background sync) and the time → the status to write, the sync to start, the Events to publish
//! and when to look again. No I/O here, so every condition and reason transition is table-tested.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use sha2::{Digest, Sha256};

use super::super::events::Note;
use super::super::provisioning;
use super::super::schedule;
use super::super::secret::{C1Keys, SecretInput, SecretProblem};
use super::super::service_mode::{self, plan::ServicePlan, plan::ServiceView};
use super::super::tasks::{Outcome, SyncFailure, TaskView};
use crate::api::conditions::{self, Condition, ConditionStatus, ConditionType};
use crate::api::connector::{
    AccountStatus, Changes, Counts, RetryStatus, SYNC_REQUESTED_ANNOTATION, SnapshotStatus,
};
use crate::api::{MondayConnector, MondayConnectorStatus};
use crate::engine::SyncReport;
use crate::reason::Reason;
use crate::time;

/// Shortest `syncInterval` the operator acts on (the CRD enforces it too).
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// What a reconcile observed.
pub struct Observed<'a> {
    pub connector: &'a MondayConnector,
    /// The Secret's contents, or why it cannot be used. The plan never reads the token.
    pub secret: Result<&'a SecretInput, &'a SecretProblem>,
    /// The ConductorOne credentials when `spec.conductorOne.secretName` names another Secret
    /// (`None`: the connector's Secret holds them).
    pub c1_secret: Option<Result<&'a C1Keys, &'a SecretProblem>>,
    pub task: TaskView,
    /// What service mode's task loop reported.
    pub service: &'a ServiceView,
    pub now: Timestamp,
}

/// A sync the plan asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartSync {
    /// The inputs it runs with (becomes `status.syncedRevision`).
    pub revision: String,
    /// The sync-now request it answers.
    pub request: Option<String>,
}

/// Events published at most once per `marker` of a `channel` (see `Events::publish_once`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventGroup {
    pub channel: &'static str,
    pub marker: String,
    pub notes: Vec<Note>,
}

/// When to reconcile again (besides watch events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// A watch event (spec or Secret change) or the running sync's end wakes us.
    OnChange,
    After(Duration),
}

/// What the reconcile does.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The status to have; written only when it differs from the object's.
    pub status: MondayConnectorStatus,
    /// The finished sync the object's status already shows: forget it.
    pub consume: Option<u64>,
    pub start: Option<StartSync>,
    /// Published after the status is written.
    pub events: Vec<EventGroup>,
    /// Service mode: the loop to run, the reports to forget, the Events of its tasks.
    pub service: ServicePlan,
    pub requeue: Requeue,
}

/// Decides everything about one connector.
pub fn plan(o: &Observed<'_>) -> Plan {
    let connector = o.connector;
    let generation = connector.metadata.generation;
    let before = connector.status.clone().unwrap_or_default();
    let mut st = before.clone();
    st.observed_generation = generation;
    let mut desired = vec![
        provisioning::gate(connector, o.secret.ok().map(|i| &i.provisioning)).condition(generation),
    ];

    // A finished sync that status does not show yet; once the object shows it, forget it.
    let (outcome, consume) = match &o.task.outcome {
        Some(out) if status_shows(&st, out) => (None, Some(out.seq)),
        other => (other.as_ref(), None),
    };
    if let Some(out) = outcome {
        apply_outcome(&mut st, out, generation, &mut desired);
    }
    let schedule = schedule(o, &st, outcome.is_some());
    desired.extend(schedule.conditions);
    let running = o.task.running || schedule.start.is_some();
    if let Some(first) = first_sync_condition(&st, running, outcome.is_some(), generation) {
        desired.push(first);
    }
    let suspended = connector.spec.suspend;
    st.next_sync_time = if suspended || o.secret.is_err() {
        None
    } else {
        schedule.next.map(Time)
    };
    let service = service_plan(o, &st);
    st.conductor_one = service.status.clone();
    desired.push(service.condition.clone());
    conditions::merge(&mut st.conditions, desired, o.now);
    let ready = ready_condition(&st, suspended, service.blocks_ready, generation);
    conditions::merge(&mut st.conditions, vec![ready], o.now);

    let mut events = schedule.events;
    if let Some(out) = outcome {
        events.push(EventGroup {
            channel: "sync",
            marker: out.seq.to_string(),
            notes: outcome_notes(&before, &st, out),
        });
    }
    let requeue = match (schedule.next, schedule.settled) {
        // Permanent problems: the Secret watch or a spec edit wakes us up.
        (_, false) => Requeue::OnChange,
        // The task wakes us when it finishes.
        _ if running || suspended => Requeue::OnChange,
        (Some(n), true) => Requeue::After(time::until(n, o.now).max(Duration::from_secs(1))),
        (None, true) => Requeue::After(Duration::from_secs(5)),
    };
    Plan {
        status: st,
        consume,
        start: schedule.start,
        events,
        service,
        requeue,
    }
}

/// Service mode's part, from the same observations.
fn service_plan(o: &Observed<'_>, st: &MondayConnectorStatus) -> ServicePlan {
    let keys = match (o.c1_secret, o.secret) {
        (Some(k), _) => k,
        (None, Ok(input)) => Ok(&input.conductor_one),
        (None, Err(problem)) => Err(problem),
    };
    let version = o
        .secret
        .ok()
        .map(|input| spec_revision(o.connector, &input.resource_version));
    service_mode::plan::plan(&service_mode::plan::Observed {
        spec: o.connector.spec.conductor_one.as_ref(),
        keys,
        token_version: version.as_deref(),
        api_url: &o.connector.spec.api_url,
        view: o.service,
        status: st.conductor_one.as_ref(),
        generation: o.connector.metadata.generation,
        now: o.now,
    })
}

/// What the inputs (Secret, spec) and the schedule say.
struct Schedule {
    conditions: Vec<Condition>,
    start: Option<StartSync>,
    next: Option<Timestamp>,
    events: Vec<EventGroup>,
    /// The inputs are usable, so the schedule runs (else only a change of them helps).
    settled: bool,
}

fn schedule(o: &Observed<'_>, st: &MondayConnectorStatus, has_outcome: bool) -> Schedule {
    let connector = o.connector;
    let generation = connector.metadata.generation;
    let (input, interval) = match usable_inputs(o) {
        Ok(x) => x,
        Err(c) => {
            return Schedule {
                conditions: vec![c],
                start: None,
                next: None,
                events: vec![],
                settled: false,
            };
        }
    };
    let revision = spec_revision(connector, &input.resource_version);
    let requested = connector
        .annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .filter(|v| !v.is_empty())
        .cloned();
    let new_request = requested.is_some() && requested != st.last_sync_request;
    let next = next_sync(connector, st, interval);
    let due = st.last_sync_time.is_none()
        || st.synced_revision.as_deref() != Some(revision.as_str())
        || new_request
        || next.is_some_and(|n| n <= o.now);
    // A sync-now request also works while suspended: it is an explicit ask.
    let start =
        (due && (!connector.spec.suspend || new_request) && !o.task.running).then_some(StartSync {
            revision,
            request: requested,
        });
    // A Connected condition set from the inputs (a Secret problem, a bad spec) is stale now that
    // they are fine; the sync about to run decides the new one.
    let from_inputs = conditions::get(&st.conditions, ConditionType::Connected)
        .is_none_or(|c| c.reason == Reason::InvalidSpec || is_secret_problem(c.reason));
    let conditions = if !has_outcome && from_inputs {
        vec![Condition::new(
            ConditionType::Connected,
            ConditionStatus::Unknown,
            Reason::Connecting,
            "the token is checked by the next sync",
            generation,
        )]
    } else {
        vec![]
    };
    Schedule {
        conditions,
        start,
        next,
        events: vec![],
        settled: true,
    }
}

/// The token's Secret and the sync interval, or the `Connected` condition saying which is unusable.
fn usable_inputs<'a>(o: &Observed<'a>) -> Result<(&'a SecretInput, Duration), Condition> {
    let connector = o.connector;
    let generation = connector.metadata.generation;
    let input = match o.secret {
        Ok(input) => input,
        Err(problem) => {
            return Err(Condition::new(
                ConditionType::Connected,
                false,
                problem.reason(),
                problem.to_string(),
                generation,
            ));
        }
    };
    let interval = time::parse_go_duration(&connector.spec.sync_interval)
        .ok()
        .filter(|d| *d >= MIN_INTERVAL)
        .ok_or_else(|| {
            Condition::new(
                ConditionType::Connected,
                false,
                Reason::InvalidSpec,
                format!(
                    "spec.syncInterval {:?} must be a duration of at least 1m",
                    connector.spec.sync_interval
                ),
                generation,
            )
        })?;
    Ok((input, interval))
}

/// `Synced` before the first sync has ended: in progress, or pending.
fn first_sync_condition(
    st: &MondayConnectorStatus,
    running: bool,
    has_outcome: bool,
    generation: Option<i64>,
) -> Option<Condition> {
    let synced = conditions::get(&st.conditions, ConditionType::Synced);
    if st.last_sync_time.is_some() || synced.is_some_and(Condition::is_true) || has_outcome {
        return None;
    }
    let (reason, message) = if running {
        (Reason::SyncInProgress, "the first sync is running")
    } else {
        (Reason::SyncPending, "no sync has run yet")
    };
    Some(Condition::new(
        ConditionType::Synced,
        ConditionStatus::Unknown,
        reason,
        message,
        generation,
    ))
}

fn is_secret_problem(r: Reason) -> bool {
    matches!(
        r,
        Reason::SecretNotFound
            | Reason::SecretKeyMissing
            | Reason::EmptyToken
            | Reason::MalformedToken
    )
}

/// When the next sync is due: the interval after the last one (or the backoff after transient
/// failures, counted in status so a restart continues it), plus jitter, and never before Monday's
/// daily limit resets.
fn next_sync(
    connector: &MondayConnector,
    st: &MondayConnectorStatus,
    interval: Duration,
) -> Option<Timestamp> {
    let last = st.last_sync_time.as_ref()?.0;
    let failures = st
        .retry
        .as_ref()
        .map(|r| u32::try_from(r.failures).unwrap_or(u32::MAX))
        .unwrap_or(0);
    let seed = [connector.uid().unwrap_or_default(), last.to_string()];
    let scheduled = time::add_floor(
        last,
        schedule::delay(interval, failures, &[&seed[0], &seed[1]]),
    );
    let not_before = st
        .retry
        .as_ref()
        .and_then(|r| r.not_before.as_ref())
        .map(|t| t.0);
    Some(not_before.map_or(scheduled, |nb| scheduled.max(nb)))
}

/// Hash of the spec fields a sync depends on (not interval or suspend: changing those must not
/// start a sync by itself).
pub fn spec_revision(connector: &MondayConnector, secret_rv: &str) -> String {
    let mut h = Sha256::new();
    h.update(connector.spec.api_url.as_bytes());
    h.update([0]);
    h.update(connector.spec.secret_ref.key.as_bytes());
    if let Some(types) = &connector.spec.resource_types {
        for t in types {
            h.update(t.id().as_bytes());
            h.update([1]);
        }
    }
    format!("{secret_rv}/{}", &hex::encode(h.finalize())[..12])
}

/// Whether `st` already holds what `o` writes. Not by time alone: times have whole seconds, and a
/// sync-now that ends in the same second as the sync before it must still be recorded (else its
/// request looks unanswered and starts another sync).
pub fn status_shows(st: &MondayConnectorStatus, o: &Outcome) -> bool {
    let time = st
        .last_sync_time
        .as_ref()
        .is_some_and(|t| t.0 >= o.finished);
    let request = o.request.is_none() || st.last_sync_request == o.request;
    let result = match &o.result {
        Ok(r) => st.snapshot.as_ref().is_some_and(|s| s.sync_id == r.sync_id),
        Err(f) => st.last_error.as_deref() == Some(f.message.as_str()),
    };
    time && request && result
}

fn apply_outcome(
    st: &mut MondayConnectorStatus,
    o: &Outcome,
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
        Ok(r) => apply_success(st, o, r, generation, desired),
        Err(f) => apply_failure(st, o, f, generation, desired),
    }
}

fn count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn apply_success(
    st: &mut MondayConnectorStatus,
    o: &Outcome,
    r: &SyncReport,
    generation: Option<i64>,
    desired: &mut Vec<Condition>,
) {
    st.last_successful_sync_time = Some(Time(o.finished));
    st.last_error = None;
    st.retry = None;
    st.account = Some(AccountStatus {
        id: r.account_id.clone(),
        name: r.account_name.clone(),
        tier: r.account_tier.clone(),
    });
    let c = &r.counts;
    st.counts = Some(Counts {
        users: count(c.users),
        roles: count(c.roles),
        teams: count(c.teams),
        workspaces: count(c.workspaces),
        boards: count(c.boards),
        entitlements: count(c.entitlements),
        grants: count(c.grants),
    });
    st.snapshot = Some(SnapshotStatus {
        sync_id: r.sync_id.clone(),
        path: r.path.display().to_string(),
        sha256: r.sha256.clone(),
        bytes: count(r.bytes),
    });
    st.changes = match (r.grants_added, r.grants_removed) {
        (Some(a), Some(d)) => Some(Changes {
            grants_added: count(a),
            grants_removed: count(d),
        }),
        _ => None,
    };
    desired.push(Condition::new(
        ConditionType::Connected,
        true,
        Reason::Connected,
        format!(
            "token accepted for account {} ({})",
            r.account_name, r.account_id
        ),
        generation,
    ));
    desired.push(Condition::new(
        ConditionType::Synced,
        true,
        Reason::SyncSucceeded,
        format!("synced {} users, {} grants", c.users, c.grants),
        generation,
    ));
}

fn apply_failure(
    st: &mut MondayConnectorStatus,
    o: &Outcome,
    f: &SyncFailure,
    generation: Option<i64>,
    desired: &mut Vec<Condition>,
) {
    st.last_error = Some(f.message.clone());
    st.retry = f.reason.is_transient().then(|| RetryStatus {
        failures: st
            .retry
            .as_ref()
            .map_or(0, |r| r.failures)
            .saturating_add(1),
        not_before: f
            .retry_after
            .map(|d| Time(time::ceil_second(time::add(o.finished, d)))),
    });
    if f.reason.is_connection() {
        desired.push(Condition::new(
            ConditionType::Connected,
            false,
            f.reason,
            f.message.clone(),
            generation,
        ));
    } else if !conditions::get(&st.conditions, ConditionType::Connected)
        .is_some_and(Condition::is_true)
    {
        desired.push(Condition::new(
            ConditionType::Connected,
            ConditionStatus::Unknown,
            Reason::Connecting,
            "the last sync failed before the token was checked",
            generation,
        ));
    }
    let wait = match st.retry.as_ref().and_then(|r| r.not_before.as_ref()) {
        Some(t) => format!("; the next attempt waits until {}", t.0),
        None => String::new(),
    };
    desired.push(Condition::new(
        ConditionType::Synced,
        false,
        Reason::SyncFailed,
        format!("{}: {}{wait}", f.reason, f.message),
        generation,
    ));
}

/// Ready summarises Connected, then suspension, then Synced.
fn ready_condition(
    st: &MondayConnectorStatus,
    suspended: bool,
    service_broken: bool,
    generation: Option<i64>,
) -> Condition {
    let connected = conditions::get(&st.conditions, ConditionType::Connected);
    let synced = conditions::get(&st.conditions, ConditionType::Synced);
    let ready = |status: ConditionStatus, reason, message: &str| {
        Condition::new(ConditionType::Ready, status, reason, message, generation)
    };
    if let Some(c) = connected.filter(|c| c.is_false()) {
        return ready(ConditionStatus::False, c.reason, &c.message);
    }
    let c1 = conditions::get(&st.conditions, ConditionType::ConductorOne);
    if let Some(c) = c1.filter(|c| service_broken && c.is_false()) {
        return ready(ConditionStatus::False, c.reason, &c.message);
    }
    if suspended {
        return ready(
            ConditionStatus::False,
            Reason::Suspended,
            "scheduled syncs are suspended (spec.suspend)",
        );
    }
    if let Some(c) = synced.filter(|c| c.is_false()) {
        return ready(ConditionStatus::False, c.reason, &c.message);
    }
    match (connected, synced) {
        (Some(c), Some(s)) if c.is_true() && s.is_true() => {
            ready(ConditionStatus::True, Reason::SyncSucceeded, &s.message)
        }
        (_, Some(s)) => ready(ConditionStatus::Unknown, s.reason, &s.message),
        (_, None) => ready(
            ConditionStatus::Unknown,
            Reason::SyncPending,
            "no sync has run yet",
        ),
    }
}

/// The Events of one finished sync: `Connected` when the connection came up, then the result.
/// Each note carries its own facts (counts, snapshot id), so it is an Event of its own.
fn outcome_notes(
    before: &MondayConnectorStatus,
    after: &MondayConnectorStatus,
    o: &Outcome,
) -> Vec<Note> {
    let mut notes = Vec::new();
    let was_connected = conditions::get(&before.conditions, ConditionType::Connected)
        .is_some_and(Condition::is_true);
    if !was_connected
        && let Some(c) =
            conditions::get(&after.conditions, ConditionType::Connected).filter(|c| c.is_true())
    {
        notes.push(Note::normal(Reason::Connected, "Sync", c.message.clone()));
    }
    match &o.result {
        Ok(r) => {
            notes.push(Note::normal(
                Reason::SyncSucceeded,
                "Sync",
                format!(
                    "synced {} users, {} grants in {:.1}s (snapshot {})",
                    r.counts.users,
                    r.counts.grants,
                    o.duration.as_secs_f64(),
                    r.sync_id
                ),
            ));
            if let (Some(a), Some(d)) = (r.grants_added, r.grants_removed)
                && a + d > 0
            {
                notes.push(Note::normal(
                    Reason::AccessChanged,
                    "Sync",
                    format!(
                        "{a} grants added, {d} grants removed since the previous sync (snapshot {})",
                        r.sync_id
                    ),
                ));
            }
        }
        Err(f) => notes.push(Note::warning(
            Reason::SyncFailed,
            "Sync",
            format!("{}: {}", f.reason, f.message),
        )),
    }
    notes
}

#[cfg(test)]
mod tests;
