//! Table tests of the access-grant state machine: `(phase, facts) → step`, and what each
//! Monday result settles on.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use super::*;
use crate::api::conditions::ConditionStatus;
use crate::monday::{MondayError, UserError};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("time")
}

fn grant(extra: serde_json::Value) -> MondayAccessGrant {
    let mut spec = json!({"connectorRef": {"name": "acme"}, "principal": {"email": "a@b.c"},
        "entitlement": "board:42:owner", "duration": "1h"});
    if let (Some(b), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(k);
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
        "metadata": {"name": "g", "namespace": "n", "generation": 1}, "spec": spec
    }))
    .expect("grant")
}

fn with(mut g: MondayAccessGrant, st: MondayAccessGrantStatus) -> MondayAccessGrant {
    g.status = Some(st);
    g
}

fn obs(
    g: &MondayAccessGrant,
    mode: Mode,
    connector: Result<Gate, Refusal>,
    now: Timestamp,
) -> Observed<'_> {
    Observed {
        grant: g,
        mode,
        connector,
        failures: 0,
        now,
    }
}

const ON: Result<Gate, Refusal> = Ok(Gate::Spec(true));

fn current(pre_existing: bool, previous: Option<&str>) -> Current {
    Current {
        holder: Holder::User(UserSummary {
            id: Id::from("7"),
            name: "A".into(),
            email: "a@b.c".into(),
            kind: "member".into(),
            status: UserStatus::Active,
        }),
        pre_existing,
        previous: previous.map(str::to_string),
        invited: false,
    }
}

fn outcome(pre_existing: bool) -> GrantOutcome {
    GrantOutcome {
        holder: current(pre_existing, None).holder,
        grant_id: "board:42:owner:user:7".into(),
        pre_existing,
        previous: None,
        invited: false,
    }
}

fn ready(st: &MondayAccessGrantStatus) -> (ConditionStatus, Reason) {
    let c = conditions::get(&st.conditions, ConditionType::Ready).expect("Ready");
    (c.status, c.reason)
}

fn settled(step: Step) -> Settle {
    match step {
        Step::Settle(s) => s,
        other => panic!("expected Settle, got {other:?}"),
    }
}

fn rejected(code: &str) -> ProvisionError {
    ProvisionError::Monday(MondayError::User {
        operation: "x",
        error: UserError {
            code: code.into(),
            user_id: None,
            email: None,
            message: String::new(),
        },
    })
}

/// Runs a grant from Pending through check and grant at `now`; returns the granted object.
fn granted_at(g: &MondayAccessGrant, now: Timestamp, pre_existing: bool) -> MondayAccessGrant {
    let o = obs(g, Mode::Apply, ON, now);
    let Step::Check {
        status,
        entitlement,
        ..
    } = plan(&o)
    else {
        panic!("check first")
    };
    let Step::Grant {
        status, current: c, ..
    } = checked(
        &o,
        status,
        entitlement.clone(),
        Ok(current(pre_existing, None)),
    )
    else {
        panic!("then grant")
    };
    assert_eq!(status.phase, Some(Phase::Granting));
    assert_eq!(status.pre_existing, Some(pre_existing));
    assert_eq!(ready(&status), (ConditionStatus::False, Reason::Granting));
    let s = granted(&o, status, &entitlement, Ok(outcome(c.pre_existing)));
    with(g.clone(), s.status)
}

#[test]
fn pending_checks_then_grants_and_schedules_the_expiry() {
    let g = grant(json!({}));
    let o = obs(&g, Mode::Apply, ON, t(0));
    let Step::Check {
        status,
        entitlement,
        principal,
    } = plan(&o)
    else {
        panic!("check")
    };
    assert_eq!(principal, Principal::Email("a@b.c".into()));
    assert_eq!(status.principal.as_deref(), Some("a@b.c"));
    let Step::Grant {
        status, current: c, ..
    } = checked(&o, status, entitlement.clone(), Ok(current(false, None)))
    else {
        panic!("grant")
    };
    let s = granted(&o, status, &entitlement, Ok(outcome(c.pre_existing)));
    assert_eq!(s.status.phase, Some(Phase::Granted));
    assert_eq!(s.status.grant_id.as_deref(), Some("board:42:owner:user:7"));
    assert_eq!(s.status.expires_at.as_ref().map(|t| t.0), Some(t(3600)));
    assert_eq!(ready(&s.status), (ConditionStatus::True, Reason::Granted));
    assert_eq!(s.requeue, Requeue::After(Duration::from_secs(3600)));
    assert!(s.request_sync);
    assert_eq!(s.tally, Tally::Reset);
    assert_eq!(s.notes[0].reason, Reason::Granted);
}

#[test]
fn a_recorded_check_is_reused_so_a_retry_never_turns_own_grants_into_pre_existing() {
    let g = grant(json!({}));
    let o = obs(&g, Mode::Apply, ON, t(0));
    let Step::Check {
        status,
        entitlement,
        ..
    } = plan(&o)
    else {
        panic!()
    };
    let Step::Grant { status, .. } = checked(
        &o,
        status,
        entitlement,
        Ok(current(false, Some("subscriber"))),
    ) else {
        panic!()
    };
    // Crash after the status write, before the grant: the next reconcile grants with it.
    let g = with(g, status);
    match plan(&obs(&g, Mode::Apply, ON, t(1))) {
        Step::Grant { current: c, .. } => {
            assert!(!c.pre_existing);
            assert_eq!(c.holder.user_id(), Some(&Id::from("7")));
            assert_eq!(c.previous.as_deref(), Some("subscriber"));
        }
        other => panic!("{other:?}"),
    }
    // Deleting it now revokes (Monday may have it).
    assert!(matches!(
        plan(&obs(&g, Mode::Cleanup, ON, t(1))),
        Step::Revoke {
            ending: Ending::Deleted,
            ..
        }
    ));
}

#[test]
fn waits_for_connector_secret_and_provisioning_without_touching_monday() {
    let g = grant(json!({}));
    let refusal = |reason, message: &str| {
        Err(Refusal {
            reason,
            message: message.into(),
        })
    };
    for (connector, reason) in [
        (
            refusal(Reason::ConnectorNotFound, "no connector"),
            Reason::ConnectorNotFound,
        ),
        (
            refusal(Reason::SecretNotFound, "no secret"),
            Reason::SecretNotFound,
        ),
        (Ok(Gate::Spec(false)), Reason::ProvisioningDisabled),
        (Ok(Gate::Unset), Reason::ProvisioningDisabled),
        (Ok(Gate::InvalidValue), Reason::InvalidProvisioningValue),
    ] {
        let s = settled(plan(&obs(&g, Mode::Apply, connector.clone(), t(0))));
        assert_eq!(s.status.phase, Some(Phase::Pending));
        assert_eq!(ready(&s.status), (ConditionStatus::False, reason));
        assert_eq!(s.requeue, Requeue::After(WAIT));
        assert_eq!(s.notes.len(), 1, "a Warning when the reason appears");
        // Still waiting for the same reason: no second Warning.
        let again = with(g.clone(), s.status);
        let s = settled(plan(&obs(&again, Mode::Apply, connector, t(5))));
        assert!(s.notes.is_empty());
    }
}

#[test]
fn malformed_specs_fail_and_absolute_expiries_in_the_past_end_before_granting() {
    let s = settled(plan(&obs(
        &grant(json!({"entitlement": "board:x:owner"})),
        Mode::Apply,
        ON,
        t(0),
    )));
    assert_eq!(
        (s.status.phase, ready(&s.status).1),
        (Some(Phase::Failed), Reason::InvalidEntitlement)
    );
    assert_eq!(s.requeue, Requeue::OnChange);
    let s = settled(plan(&obs(
        &grant(json!({"principal": {"email": "nope"}})),
        Mode::Apply,
        ON,
        t(0),
    )));
    assert_eq!(ready(&s.status).1, Reason::InvalidPrincipal);
    let s = settled(plan(&obs(
        &grant(json!({"duration": "soon"})),
        Mode::Apply,
        ON,
        t(0),
    )));
    assert_eq!(ready(&s.status).1, Reason::InvalidExpiry);
    let past = grant(json!({"duration": null, "expiresAt": "2020-01-01T00:00:00Z"}));
    let s = settled(plan(&obs(&past, Mode::Apply, ON, t(0))));
    assert_eq!(s.status.phase, Some(Phase::Expired));
    assert_eq!(
        ready(&s.status),
        (ConditionStatus::False, Reason::ExpiredBeforeGrant)
    );
}

#[test]
fn provisioning_errors_retry_with_backoff_transient_ones_keep_trying() {
    let g = grant(json!({}));
    let o = obs(&g, Mode::Apply, ON, t(0));
    let Step::Check {
        status,
        entitlement,
        ..
    } = plan(&o)
    else {
        panic!()
    };
    // A permanent error in the check: Failed, still retried slowly.
    let s = settled(checked(
        &o,
        status.clone(),
        entitlement.clone(),
        Err(rejected("CANNOT_UPDATE_SELF")),
    ));
    assert_eq!(s.status.phase, Some(Phase::Failed));
    assert_eq!(ready(&s.status).1, Reason::UserError);
    assert_eq!(s.requeue, Requeue::After(Duration::from_secs(5)));
    assert_eq!(s.tally, Tally::Bump);
    // A transient error after the check was recorded: still Granting (Monday may have it).
    let Step::Grant { status, .. } =
        checked(&o, status, entitlement.clone(), Ok(current(false, None)))
    else {
        panic!()
    };
    let err = ProvisionError::NotApplied {
        operation: "grant",
        what: "x".into(),
    };
    let mut o = obs(&g, Mode::Apply, ON, t(0));
    o.failures = 6;
    let s = granted(&o, status, &entitlement, Err(err));
    assert_eq!(s.status.phase, Some(Phase::Granting));
    assert_eq!(ready(&s.status).1, Reason::NotApplied);
    assert_eq!(s.requeue, Requeue::After(Duration::from_secs(60)));
}

#[test]
fn granted_access_expires_on_time_and_is_revoked() {
    let g = granted_at(&grant(json!({})), t(0), false);
    let s = settled(plan(&obs(&g, Mode::Apply, ON, t(100))));
    assert_eq!(s.requeue, Requeue::After(Duration::from_secs(3500)));
    assert_eq!(
        Some(&s.status),
        g.status.as_ref(),
        "nothing to write before expiry"
    );
    // Provisioning switched off meanwhile: the revoke still happens.
    let off = Ok(Gate::Spec(false));
    let Step::Revoke {
        target,
        previous,
        ending,
        status,
        entitlement,
    } = plan(&obs(&g, Mode::Apply, off.clone(), t(3600)))
    else {
        panic!("revoke at expiry")
    };
    assert_eq!(
        target,
        Principal::UserId(Id::from("7")),
        "the user it resolved"
    );
    assert_eq!(previous, None);
    assert_eq!(ending, Ending::Expired(t(3600)));
    let s = revoked(
        &obs(&g, Mode::Apply, off, t(3600)),
        status,
        &entitlement,
        ending,
        Ok(RevokeOutcome {
            already_absent: false,
            restored: None,
            also_removed: vec![],
        }),
    );
    assert_eq!(s.status.phase, Some(Phase::Expired));
    assert_eq!(ready(&s.status), (ConditionStatus::True, Reason::Expired));
    assert!(s.status.revoked_at.is_some());
    assert!(s.request_sync);
    assert_eq!(s.notes[0].reason, Reason::Expired);
    // Expired is final.
    let done = with(g, s.status);
    assert_eq!(
        settled(plan(&obs(&done, Mode::Apply, ON, t(9999)))).requeue,
        Requeue::OnChange
    );
}

#[test]
fn a_failed_revocation_stays_granted_and_retries_visibly() {
    let g = granted_at(&grant(json!({})), t(0), false);
    let Step::Revoke {
        status,
        entitlement,
        ending,
        ..
    } = plan(&obs(&g, Mode::Apply, ON, t(3600)))
    else {
        panic!()
    };
    let err = ProvisionError::Monday(MondayError::InvalidToken { operation: "x" });
    let s = revoked(
        &obs(&g, Mode::Apply, ON, t(3600)),
        status,
        &entitlement,
        ending,
        Err(err),
    );
    assert_eq!(s.status.phase, Some(Phase::Granted));
    assert_eq!(
        ready(&s.status),
        (ConditionStatus::False, Reason::InvalidToken)
    );
    assert_eq!(s.notes[0].reason, Reason::RevokeFailed);
    assert_eq!(s.requeue, Requeue::After(Duration::from_secs(1)));
    // The connector vanished: blocked, same treatment; on deletion the finalizer stays.
    let gone = Err(Refusal {
        reason: Reason::ConnectorNotFound,
        message: "gone".into(),
    });
    let s = settled(plan(&obs(&g, Mode::Apply, gone.clone(), t(3600))));
    assert_eq!(ready(&s.status).1, Reason::ConnectorNotFound);
    assert!(
        s.status.conditions[0]
            .message
            .starts_with("revocation blocked: gone; retrying in 1s")
    );
    let s = settled(plan(&obs(&g, Mode::Cleanup, gone, t(10))));
    assert!(matches!(s.requeue, Requeue::KeepFinalizer(_)));
}

#[test]
fn pre_existing_access_is_never_revoked() {
    let g = granted_at(&grant(json!({})), t(0), true);
    assert_eq!(
        ready(g.status.as_ref().expect("st")),
        (ConditionStatus::True, Reason::PreExisting)
    );
    let s = settled(plan(&obs(&g, Mode::Apply, ON, t(3600))));
    assert_eq!(s.status.phase, Some(Phase::Expired));
    assert_eq!(ready(&s.status).1, Reason::ExpiredPreExisting);
    let s = settled(plan(&obs(&g, Mode::Cleanup, ON, t(10))));
    assert_eq!(
        s.requeue,
        Requeue::OnChange,
        "deletion removes the finalizer at once"
    );
}

#[test]
fn extending_moves_the_stored_deadline() {
    let g = granted_at(&grant(json!({})), t(0), false);
    let mut longer = g.clone();
    longer.spec.duration = Some("2h".into());
    let s = settled(plan(&obs(&longer, Mode::Apply, ON, t(100))));
    assert_eq!(s.status.expires_at.as_ref().map(|t| t.0), Some(t(7200)));
    assert_eq!(ready(&s.status).1, Reason::Extended);
    assert_eq!(s.notes[0].reason, Reason::Extended);
    assert_eq!(s.requeue, Requeue::After(Duration::from_secs(7100)));
}

#[test]
fn deletion_revokes_what_was_granted_and_nothing_else() {
    let never = grant(json!({}));
    assert_eq!(
        settled(plan(&obs(&never, Mode::Cleanup, ON, t(0)))).requeue,
        Requeue::OnChange
    );
    let g = granted_at(&grant(json!({"duration": null})), t(0), false);
    assert_eq!(
        settled(plan(&obs(&g, Mode::Apply, ON, t(99999)))).requeue,
        Requeue::OnChange,
        "no expiry"
    );
    let Step::Revoke {
        status,
        entitlement,
        ending,
        ..
    } = plan(&obs(&g, Mode::Cleanup, ON, t(10)))
    else {
        panic!()
    };
    assert_eq!(ending, Ending::Deleted);
    let s = revoked(
        &obs(&g, Mode::Cleanup, ON, t(10)),
        status,
        &entitlement,
        ending,
        Ok(RevokeOutcome {
            already_absent: true,
            restored: None,
            also_removed: vec![],
        }),
    );
    assert_eq!(s.status.phase, Some(Phase::Revoked));
    assert_eq!(ready(&s.status).1, Reason::Revoked);
    // Written by an older version mid-grant (Pending with a recorded check): revoked too.
    let mut legacy = grant(json!({}));
    legacy.status = Some(MondayAccessGrantStatus {
        phase: Some(Phase::Pending),
        pre_existing: Some(false),
        user_id: Some("7".into()),
        ..Default::default()
    });
    assert!(matches!(
        plan(&obs(&legacy, Mode::Cleanup, ON, t(0))),
        Step::Revoke { .. }
    ));
}

#[test]
fn teams_are_revoked_as_teams_and_expiry_rounds_up() {
    let g = grant(json!({"principal": {"teamId": "9"}, "duration": "1h30m"}));
    let o = obs(&g, Mode::Apply, ON, t(0));
    let Step::Check { principal, .. } = plan(&o) else {
        panic!()
    };
    assert_eq!(principal, Principal::Team(Id::from("9")));
    let at: Timestamp = "2026-01-01T00:00:00.5Z".parse().expect("ts");
    assert_eq!(
        desired_expiry(&g, at).expect("ok").map(|t| t.to_string()),
        Some("2026-01-01T01:30:01Z".into())
    );
    let abs = grant(json!({"duration": null, "expiresAt": "2026-02-01T10:00:00+01:00"}));
    assert_eq!(
        desired_expiry(&abs, at).expect("ok").map(|t| t.to_string()),
        Some("2026-02-01T09:00:00Z".into())
    );
}
