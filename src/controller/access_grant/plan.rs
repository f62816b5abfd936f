//! The access-grant lifecycle as an explicit state machine: `(phase, facts) → step`, pure.
//!
//! ```text
//!            check            grant                  expiry / deletion
//! Pending ─────────▶ Granting ──────▶ Granted ──────────────────────────▶ Expired / Revoked
//!    │  ▲ wait (connector,  │ │ permanent error                revoke fails: stays Granted,
//!    │  │ provisioning off) │ ▼                                 Ready=False, retried
//!    └──┘                   Failed (retried slowly)
//! ```
//!
//! [`plan`] picks the next [`Step`]; a step that touches Monday (check, grant, revoke) is carried
//! out by the reconciler, whose result goes back through [`checked`], [`granted`] or
//! [`revoked`] — also pure — to the status, Events and requeue to settle on. Before every Monday
//! write the reconciler persists the step's status, so a crash between the write and the status
//! never mistakes this object's own grant for pre-existing access.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::super::events::Note;
use super::super::kit::Backoff;
use super::super::provisioning::Gate;
use crate::api::MondayAccessGrant;
use crate::api::access_grant::{MondayAccessGrantStatus, Phase};
use crate::api::conditions::{self, Condition, ConditionType};
use crate::engine::provision::{
    self, Current, Entitlement, GrantOutcome, Holder, Principal, ProvisionError, RevokeOutcome,
};
use crate::monday::{Id, UserStatus, UserSummary};
use crate::reason::Reason;
use crate::time;

/// Retries of failed grants and revocations: 1 s doubling, at most 60 s.
pub const PROVISION_BACKOFF: Backoff =
    Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// A grant that waits for someone to fix its connector or Secret looks again this often.
pub const WAIT: Duration = Duration::from_secs(60);
/// Failed grants are retried no sooner than this (someone may fix the account in Monday).
const MIN_RETRY: Duration = Duration::from_secs(5);

/// Whether the object lives on or is being deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Cleanup,
}

/// Why the connector cannot be used right now (missing, its Secret, its token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
}

/// What a reconcile observed.
pub struct Observed<'a> {
    pub grant: &'a MondayAccessGrant,
    pub mode: Mode,
    /// The connector's provisioning gate, or why the connector cannot be used.
    pub connector: Result<Gate, Refusal>,
    /// Consecutive failed grants/revocations of this object so far.
    pub failures: u32,
    pub now: Timestamp,
}

/// When to reconcile again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requeue {
    OnChange,
    After(Duration),
    /// The deletion must wait (revocation not confirmed): keep the finalizer and retry.
    KeepFinalizer(String),
}

/// What happens to the failure count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tally {
    Keep,
    Bump,
    Reset,
}

/// The end of a reconcile: status to write (when changed), Events, whether the connector should
/// sync to show the change, and when to look again.
#[derive(Clone, Debug, PartialEq)]
pub struct Settle {
    pub status: MondayAccessGrantStatus,
    pub notes: Vec<Note>,
    pub request_sync: bool,
    pub tally: Tally,
    pub requeue: Requeue,
}

/// How access ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The expiry (stored in status) passed.
    Expired(Timestamp),
    /// The object is being deleted.
    Deleted,
}

/// The next step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Not this controller's to touch yet: write nothing, wait for a change.
    Leave,
    Settle(Settle),
    /// Read what the principal holds (may invite with `createAccount`).
    Check {
        status: MondayAccessGrantStatus,
        entitlement: Entitlement,
        principal: Principal,
    },
    /// Make Monday hold the access (the recorded check says what was there before).
    Grant {
        status: MondayAccessGrantStatus,
        entitlement: Entitlement,
        current: Current,
    },
    /// Take the access away.
    Revoke {
        status: MondayAccessGrantStatus,
        entitlement: Entitlement,
        target: Principal,
        previous: Option<String>,
        ending: Ending,
    },
}

/// Decides the next step for a grant.
pub fn plan(o: &Observed<'_>) -> Step {
    let g = o.grant;
    let mut st = g.status.clone().unwrap_or_default();
    if st.principal.is_none() {
        st.principal = Some(principal_display(g));
    }
    let phase = st.phase.unwrap_or_default();
    let parsed = parse(g);
    // A record of a ConductorOne grant (service mode creates it, then writes its status): the
    // access exists already; never check or grant it here.
    if g.spec.conductor_one.is_some() && g.status.is_none() {
        return Step::Leave;
    }
    if o.mode == Mode::Cleanup {
        return cleanup(o, st, phase, parsed);
    }
    if matches!(phase, Phase::Expired | Phase::Revoked) {
        return settle(st, vec![], Requeue::OnChange);
    }
    let (entitlement, principal) = match parsed {
        Ok(p) => p,
        Err((reason, message)) => return fail(o, st, reason, message),
    };
    if phase == Phase::Granted {
        return granted_phase(o, st, entitlement, principal);
    }

    // Not granted yet. An absolute expiry already past: nothing to do, ever.
    match desired_expiry(g, o.now) {
        Err(message) => return fail(o, st, Reason::InvalidExpiry, message),
        Ok(Some(at)) if g.spec.expires_at.is_some() && at <= o.now => {
            st.phase = Some(Phase::Expired);
            st.expires_at = Some(Time(at));
            set_ready(
                &mut st,
                g,
                false,
                Reason::ExpiredBeforeGrant,
                "expiresAt passed before the access could be granted; nothing was changed in Monday",
                o.now,
            );
            return settle(st, vec![], Requeue::OnChange);
        }
        Ok(_) => {}
    }
    let gate = match &o.connector {
        Ok(gate) => *gate,
        Err(r) => return wait(o, st, r.reason, r.message.clone()),
    };
    if let Some((reason, message)) = gate.refusal(&g.spec.connector_ref.name) {
        return wait(o, st, reason, message);
    }
    match recorded(&st, &principal) {
        Some(current) => Step::Grant {
            status: st,
            entitlement,
            current,
        },
        None => Step::Check {
            status: st,
            entitlement,
            principal,
        },
    }
}

/// The result of [`Step::Check`]: record it (phase `Granting`), then grant; or the failure.
pub fn checked(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    entitlement: Entitlement,
    result: Result<Current, ProvisionError>,
) -> Step {
    match result {
        Ok(c) => {
            st.pre_existing = Some(c.pre_existing);
            st.previous_role = c.previous.clone();
            st.account_invited = Some(c.invited);
            st.user_id = c.holder.user_id().map(|i| i.to_string());
            st.phase = Some(Phase::Granting);
            set_ready(
                &mut st,
                o.grant,
                false,
                Reason::Granting,
                "current access recorded; granting",
                o.now,
            );
            Step::Grant {
                status: st,
                entitlement,
                current: c,
            }
        }
        Err(e) => Step::Settle(provision_failed(o, st, e, "grant")),
    }
}

/// The result of [`Step::Grant`].
pub fn granted(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    entitlement: &Entitlement,
    result: Result<GrantOutcome, ProvisionError>,
) -> Settle {
    let out = match result {
        Ok(out) => out,
        Err(e) => return provision_failed(o, st, e, "grant"),
    };
    let g = o.grant;
    // Validated by `plan` before the grant started.
    let expires = desired_expiry(g, o.now).ok().flatten();
    st.phase = Some(Phase::Granted);
    st.grant_id = Some(out.grant_id.clone());
    st.granted_at = Some(Time(time::floor_second(o.now)));
    st.expires_at = expires.map(Time);
    let (reason, message) = match (out.pre_existing, expires) {
        (true, _) => (
            Reason::PreExisting,
            format!(
                "{} already had {entitlement}; it will not be revoked by this object",
                principal_display(g)
            ),
        ),
        (false, Some(at)) => (Reason::Granted, format!("granted {entitlement} until {at}")),
        (false, None) => (
            Reason::Granted,
            format!("granted {entitlement} until this object is deleted"),
        ),
    };
    set_ready(&mut st, g, true, reason, message.clone(), o.now);
    Settle {
        status: st,
        notes: vec![Note::normal(Reason::Granted, "Provision", message)],
        request_sync: !out.pre_existing,
        tally: Tally::Reset,
        requeue: match expires {
            Some(at) => Requeue::After(time::until(at, o.now)),
            None => Requeue::OnChange,
        },
    }
}

/// The result of [`Step::Revoke`].
pub fn revoked(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    entitlement: &Entitlement,
    ending: Ending,
    result: Result<RevokeOutcome, ProvisionError>,
) -> Settle {
    if let Err(e) = result {
        return revoke_failed(o, st, e.reason(), format!("revocation failed: {e}"), ending);
    }
    st.revoked_at = Some(Time(time::floor_second(o.now)));
    let (phase, reason, message) = match ending {
        Ending::Expired(at) => (
            Phase::Expired,
            Reason::Expired,
            format!("expired at {at}; revoked {entitlement}"),
        ),
        Ending::Deleted => (
            Phase::Revoked,
            Reason::Revoked,
            format!("revoked {entitlement} on deletion"),
        ),
    };
    st.phase = Some(phase);
    set_ready(&mut st, o.grant, true, reason, message.clone(), o.now);
    Settle {
        status: st,
        notes: vec![Note::normal(reason, "Provision", message)],
        request_sync: true,
        tally: Tally::Reset,
        requeue: Requeue::OnChange,
    }
}

/// Granted: keep the stored expiry (extended if the spec grew); revoke once it is reached.
fn granted_phase(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    entitlement: Entitlement,
    principal: Principal,
) -> Step {
    let g = o.grant;
    let granted_at = st.granted_at.as_ref().map_or(o.now, |t| t.0);
    let stored = st.expires_at.as_ref().map(|t| t.0);
    let wanted = desired_expiry(g, granted_at).ok().flatten();
    let mut notes = vec![];
    let expires = match (stored, wanted) {
        (Some(s), Some(w)) if w > s => {
            st.expires_at = Some(Time(w));
            set_ready(
                &mut st,
                g,
                true,
                Reason::Extended,
                format!("access extended until {w}"),
                o.now,
            );
            notes.push(Note::normal(
                Reason::Extended,
                "Provision",
                format!("{entitlement} extended until {w}"),
            ));
            Some(w)
        }
        (Some(s), _) => Some(s),
        (None, w) => w,
    };
    let Some(at) = expires else {
        return settle(st, notes, Requeue::OnChange);
    };
    if o.now < at {
        return settle(st, notes, Requeue::After(time::until(at, o.now)));
    }
    if st.pre_existing == Some(true) {
        st.phase = Some(Phase::Expired);
        st.revoked_at = None;
        set_ready(
            &mut st,
            g,
            true,
            Reason::ExpiredPreExisting,
            "expired; the access existed before this request and was left in place",
            o.now,
        );
        notes.push(Note::normal(
            Reason::Expired,
            "Provision",
            "expired; pre-existing access left in place",
        ));
        return settle(st, notes, Requeue::OnChange);
    }
    revoke_step(o, st, entitlement, &principal, Ending::Expired(at))
}

/// Deletion: revoke unless the access was pre-existing or never granted; the finalizer stays
/// until Monday confirms.
fn cleanup(
    o: &Observed<'_>,
    st: MondayAccessGrantStatus,
    phase: Phase,
    parsed: Result<(Entitlement, Principal), (Reason, String)>,
) -> Step {
    // `Pending` with a recorded check was written by versions before `Granting` existed.
    let maybe_granted = matches!(phase, Phase::Granted | Phase::Granting)
        || (phase == Phase::Pending && st.pre_existing == Some(false));
    let Ok((entitlement, principal)) = parsed else {
        return settle(st, vec![], Requeue::OnChange);
    };
    if !maybe_granted || st.pre_existing == Some(true) {
        return settle(st, vec![], Requeue::OnChange);
    }
    revoke_step(o, st, entitlement, &principal, Ending::Deleted)
}

fn revoke_step(
    o: &Observed<'_>,
    st: MondayAccessGrantStatus,
    entitlement: Entitlement,
    principal: &Principal,
    ending: Ending,
) -> Step {
    // Revoking never needs the provisioning gate (switching it off must not strand access),
    // only a usable connector.
    if let Err(r) = &o.connector {
        return Step::Settle(revoke_failed(
            o,
            st,
            r.reason,
            format!("revocation blocked: {}", r.message),
            ending,
        ));
    }
    // Revoke what this object granted: the user it resolved, not whoever has the email now.
    let target = match (principal, &st.user_id) {
        (Principal::Team(_), _) => principal.clone(),
        (_, Some(id)) => Principal::UserId(Id::from(id.clone())),
        (p, None) => p.clone(),
    };
    Step::Revoke {
        previous: st.previous_role.clone(),
        status: st,
        entitlement,
        target,
        ending,
    }
}

/// A failed or blocked revocation: phase unchanged (Monday may still have the access), Ready
/// False with the reason, a Warning, a retry with backoff.
fn revoke_failed(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    reason: Reason,
    what: String,
    ending: Ending,
) -> Settle {
    let delay = PROVISION_BACKOFF.delay(o.failures.saturating_add(1));
    let message = format!("{what}; retrying in {}s", delay.as_secs());
    set_ready(&mut st, o.grant, false, reason, message.clone(), o.now);
    Settle {
        status: st,
        notes: vec![Note::warning(
            Reason::RevokeFailed,
            "Provision",
            message.clone(),
        )],
        request_sync: false,
        tally: Tally::Bump,
        requeue: match ending {
            Ending::Expired(_) => Requeue::After(delay),
            Ending::Deleted => Requeue::KeepFinalizer(message),
        },
    }
}

/// Waiting for someone to fix something outside Monday: Pending, Ready=False, look again later.
/// The Warning goes out when the reason changes.
fn wait(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    reason: Reason,
    message: String,
) -> Step {
    let changed = ready_reason(&st) != Some(reason);
    st.phase = Some(Phase::Pending);
    set_ready(&mut st, o.grant, false, reason, message.clone(), o.now);
    let notes = if changed {
        vec![Note::warning(reason, "Provision", message)]
    } else {
        vec![]
    };
    settle(st, notes, Requeue::After(WAIT))
}

/// A spec the operator cannot act on: Failed, nothing until the object changes.
fn fail(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    reason: Reason,
    message: String,
) -> Step {
    st.phase = Some(Phase::Failed);
    set_ready(&mut st, o.grant, false, reason, message.clone(), o.now);
    let notes = if o.grant.status.as_ref() != Some(&st) {
        vec![Note::warning(reason, "Provision", message)]
    } else {
        vec![]
    };
    settle(st, notes, Requeue::OnChange)
}

/// A provisioning error: transient ones keep trying (`Granting` once the check is recorded,
/// else `Pending`), others are `Failed`; both retry with backoff. The Warning goes out when the
/// message changes.
fn provision_failed(
    o: &Observed<'_>,
    mut st: MondayAccessGrantStatus,
    e: ProvisionError,
    what: &str,
) -> Settle {
    let delay = PROVISION_BACKOFF.delay(o.failures.saturating_add(1));
    st.phase = Some(match (e.is_transient(), st.pre_existing.is_some()) {
        (false, _) => Phase::Failed,
        (true, true) => Phase::Granting,
        (true, false) => Phase::Pending,
    });
    let message = format!("{what} failed: {e}");
    let changed = conditions::get(&st.conditions, ConditionType::Ready).map(|c| c.message.as_str())
        != Some(message.as_str());
    set_ready(&mut st, o.grant, false, e.reason(), message.clone(), o.now);
    Settle {
        status: st,
        notes: if changed {
            vec![Note::warning(e.reason(), "Provision", message)]
        } else {
            vec![]
        },
        request_sync: false,
        tally: Tally::Bump,
        requeue: Requeue::After(delay.max(MIN_RETRY)),
    }
}

fn settle(st: MondayAccessGrantStatus, notes: Vec<Note>, requeue: Requeue) -> Step {
    Step::Settle(Settle {
        status: st,
        notes,
        request_sync: false,
        tally: Tally::Keep,
        requeue,
    })
}

fn ready_reason(st: &MondayAccessGrantStatus) -> Option<Reason> {
    conditions::get(&st.conditions, ConditionType::Ready).map(|c| c.reason)
}

fn set_ready(
    st: &mut MondayAccessGrantStatus,
    g: &MondayAccessGrant,
    ok: bool,
    reason: Reason,
    message: impl Into<String>,
    now: Timestamp,
) {
    let generation = g.metadata.generation;
    conditions::merge(
        &mut st.conditions,
        vec![Condition::new(
            ConditionType::Ready,
            ok,
            reason,
            message,
            generation,
        )],
        now,
    );
    st.observed_generation = generation;
}

fn parse(g: &MondayAccessGrant) -> Result<(Entitlement, Principal), (Reason, String)> {
    let entitlement: Entitlement =
        g.spec
            .entitlement
            .parse()
            .map_err(|e: provision::EntitlementParseError| {
                (Reason::InvalidEntitlement, e.to_string())
            })?;
    let p = &g.spec.principal;
    let principal = provision::principal_from(
        p.email.as_deref(),
        p.user_id.as_deref(),
        p.team_id.as_deref(),
    )
    .map_err(|why| (Reason::InvalidPrincipal, why.to_string()))?;
    Ok((entitlement, principal))
}

/// The principal as `kubectl get` shows it.
pub fn principal_display(g: &MondayAccessGrant) -> String {
    let p = &g.spec.principal;
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

/// The expiry the spec asks for, given when the access was granted. `Err` = unparseable spec.
pub fn desired_expiry(
    g: &MondayAccessGrant,
    granted_at: Timestamp,
) -> Result<Option<Timestamp>, String> {
    if let Some(at) = &g.spec.expires_at {
        return at
            .parse::<Timestamp>()
            .map(|t| Some(time::ceil_second(t)))
            .map_err(|e| format!("expiresAt {at:?} is not an RFC 3339 time: {e}"));
    }
    if let Some(d) = &g.spec.duration {
        let d = time::parse_go_duration(d).map_err(|e| format!("duration {d:?}: {e}"))?;
        let d = SignedDuration::try_from(d).map_err(|e| format!("duration: {e}"))?;
        return granted_at
            .checked_add(d)
            .map(|t| Some(time::ceil_second(t)))
            .map_err(|e| format!("duration: {e}"));
    }
    Ok(None)
}

/// The `Current` recorded by an earlier check, if any.
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

#[cfg(test)]
mod tests;
