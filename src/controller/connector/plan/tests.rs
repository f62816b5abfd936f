//! Table tests of the connector plan: every condition and reason transition, restarts, the
//! sync-now and same-second cases.

use std::time::Duration;

use jiff::Timestamp;
use secrecy::SecretString;
use serde_json::json;

use super::*;
use crate::controller::secret::{C1Keys, SecretInput};
use crate::controller::service_mode;
use crate::controller::tasks::SyncFailure;
use crate::engine::{SyncCounts, SyncReport};
use crate::settings::InvalidBool;

const HOUR: Duration = Duration::from_secs(3600);

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("time")
}

fn connector(spec: serde_json::Value) -> MondayConnector {
    let mut base = json!({"secretRef": {"name": "tok"}, "apiUrl": "http://emu"});
    if let (Some(b), Some(s)) = (base.as_object_mut(), spec.as_object()) {
        for (k, v) in s {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayConnector",
        "metadata": {"name": "acme", "namespace": "iga", "uid": "uid-1", "generation": 1},
        "spec": base,
    }))
    .expect("connector")
}

fn with_status(mut c: MondayConnector, st: MondayConnectorStatus) -> MondayConnector {
    c.status = Some(st);
    c
}

fn secret(rv: &str) -> SecretInput {
    SecretInput {
        token: SecretString::from("tok".to_string()),
        resource_version: rv.into(),
        provisioning: Ok(None),
        conductor_one: C1Keys {
            secret: "tok".into(),
            resource_version: rv.into(),
            ..Default::default()
        },
    }
}

fn report(sync_id: &str, grants: u64, changes: Option<(u64, u64)>) -> SyncReport {
    SyncReport {
        account_id: "1".into(),
        account_name: "Acme".into(),
        account_tier: None,
        sync_id: sync_id.into(),
        path: "/data/iga/acme/sync.c1z".into(),
        sha256: "ab".into(),
        bytes: 10,
        counts: SyncCounts {
            users: 3,
            grants,
            ..Default::default()
        },
        grants_added: changes.map(|c| c.0),
        grants_removed: changes.map(|c| c.1),
        duration: Duration::from_millis(50),
        read_duration: Duration::from_millis(40),
        requests: 3,
        complexity_used: 100,
        rate_limit_wait: Duration::ZERO,
        dangling_relations: 0,
    }
}

fn ok(seq: u64, at: Timestamp, rev: &str, r: SyncReport) -> Outcome {
    Outcome {
        seq,
        finished: at,
        duration: Duration::from_millis(50),
        result: Ok(r),
        revision: rev.into(),
        request: None,
    }
}

fn failed(
    seq: u64,
    at: Timestamp,
    rev: &str,
    reason: Reason,
    retry_after: Option<Duration>,
) -> Outcome {
    Outcome {
        seq,
        finished: at,
        duration: Duration::from_millis(50),
        result: Err(SyncFailure {
            reason,
            message: format!("{reason} happened"),
            retry_after,
        }),
        revision: rev.into(),
        request: None,
    }
}

fn run(
    c: &MondayConnector,
    secret: Result<&SecretInput, &SecretProblem>,
    task: TaskView,
    now: Timestamp,
) -> Plan {
    plan(&Observed {
        connector: c,
        secret,
        c1_secret: None,
        task,
        service: &ServiceView::default(),
        now,
    })
}

fn cond(p: &Plan, ty: ConditionType) -> (ConditionStatus, Reason) {
    let c = conditions::get(&p.status.conditions, ty).expect("condition");
    (c.status, c.reason)
}

fn running() -> TaskView {
    TaskView {
        running: true,
        outcome: None,
    }
}

fn done(o: Outcome) -> TaskView {
    TaskView {
        running: false,
        outcome: Some(o),
    }
}

/// The revision a sync of `c` with Secret version `rv` runs with.
fn rev(c: &MondayConnector, rv: &str) -> String {
    spec_revision(c, rv)
}

/// Plans `c`, then plans the object holding that status again: the second plan must not change
/// anything (no write at steady state).
fn settled(
    c: &MondayConnector,
    s: &SecretInput,
    task: TaskView,
    now: Timestamp,
) -> MondayConnector {
    let p = run(c, Ok(s), task.clone(), now);
    let c2 = with_status(c.clone(), p.status.clone());
    let p2 = run(&c2, Ok(s), task, now + Duration::from_secs(1));
    assert_eq!(p2.status, p.status, "a second reconcile writes nothing");
    c2
}

use ConditionStatus::{False, True, Unknown};
use ConditionType::{ConductorOne, Connected, Provisioning, Ready, Synced};

#[test]
fn first_visit_starts_the_first_sync() {
    let c = connector(json!({}));
    let s = secret("1");
    let p = run(&c, Ok(&s), TaskView::default(), t(0));
    assert_eq!(
        p.start,
        Some(StartSync {
            revision: rev(&c, "1"),
            request: None
        })
    );
    assert_eq!(cond(&p, Connected), (Unknown, Reason::Connecting));
    assert_eq!(cond(&p, Synced), (Unknown, Reason::SyncInProgress));
    assert_eq!(cond(&p, Ready), (Unknown, Reason::SyncInProgress));
    assert_eq!(cond(&p, Provisioning), (False, Reason::Disabled));
    assert_eq!(p.requeue, Requeue::OnChange);
    assert_eq!(p.status.observed_generation, Some(1));
    // While it runs, nothing changes and no second sync starts.
    let c = with_status(c, p.status);
    let p = run(&c, Ok(&s), running(), t(1));
    assert_eq!(p.start, None);
    assert_eq!(Some(&p.status), c.status.as_ref());
}

#[test]
fn secret_and_spec_problems_are_permanent_connected_reasons() {
    let c = connector(json!({}));
    let table = [
        (
            SecretProblem::NotFound { name: "tok".into() },
            Reason::SecretNotFound,
        ),
        (
            SecretProblem::KeyMissing {
                name: "tok".into(),
                key: "K".into(),
            },
            Reason::SecretKeyMissing,
        ),
        (
            SecretProblem::Empty {
                name: "tok".into(),
                key: "K".into(),
            },
            Reason::EmptyToken,
        ),
        (
            SecretProblem::NotText {
                name: "tok".into(),
                key: "K".into(),
            },
            Reason::MalformedToken,
        ),
    ];
    for (problem, reason) in table {
        let p = run(&c, Err(&problem), TaskView::default(), t(0));
        assert_eq!(cond(&p, Connected), (False, reason));
        assert_eq!(cond(&p, Ready), (False, reason));
        assert_eq!(cond(&p, Provisioning), (Unknown, Reason::SecretUnavailable));
        assert_eq!(p.start, None);
        assert_eq!(p.requeue, Requeue::OnChange, "no retry loop");
        assert_eq!(p.status.next_sync_time, None);
    }
    // Fixing the Secret: Connecting again, and a sync starts.
    let problem = SecretProblem::NotFound { name: "tok".into() };
    let broken = with_status(
        c.clone(),
        run(&c, Err(&problem), TaskView::default(), t(0)).status,
    );
    let p = run(&broken, Ok(&secret("2")), TaskView::default(), t(5));
    assert_eq!(cond(&p, Connected), (Unknown, Reason::Connecting));
    assert!(p.start.is_some());

    let bad = connector(json!({"syncInterval": "10s"}));
    let p = run(&bad, Ok(&secret("1")), TaskView::default(), t(0));
    assert_eq!(cond(&p, Connected), (False, Reason::InvalidSpec));
    assert_eq!(cond(&p, Ready), (False, Reason::InvalidSpec));
    assert_eq!((p.start.clone(), p.requeue), (None, Requeue::OnChange));
}

#[test]
fn a_successful_sync_makes_it_ready_and_schedules_the_next() {
    let c = connector(json!({}));
    let s = secret("1");
    let c = settled(&c, &s, running(), t(0));
    let out = ok(0, t(10), &rev(&c, "1"), report("S1", 40, None));
    let p = run(&c, Ok(&s), done(out.clone()), t(10));
    assert_eq!(cond(&p, Connected), (True, Reason::Connected));
    assert_eq!(cond(&p, Synced), (True, Reason::SyncSucceeded));
    assert_eq!(cond(&p, Ready), (True, Reason::SyncSucceeded));
    assert_eq!(p.status.counts.as_ref().map(|c| c.grants), Some(40));
    assert_eq!(p.status.retry, None);
    let next = p.status.next_sync_time.as_ref().expect("next").0;
    assert!(next >= t(10) + HOUR && next <= t(10) + HOUR + Duration::from_secs(300));
    assert_eq!(p.start, None);
    assert!(matches!(p.requeue, Requeue::After(d) if d >= HOUR));
    let reasons: Vec<Reason> = p.events[0].notes.iter().map(|n| n.reason).collect();
    assert_eq!(p.events[0].marker, "0");
    assert_eq!(reasons, vec![Reason::Connected, Reason::SyncSucceeded]);
    // The object now shows it: the outcome is consumed, nothing else happens.
    let c = with_status(c, p.status.clone());
    let p2 = run(&c, Ok(&s), done(out), t(11));
    assert_eq!(p2.consume, Some(0));
    assert!(p2.events.is_empty());
    assert_eq!(p2.status, p.status);
    // Due: the next scheduled sync starts.
    let p3 = run(&c, Ok(&s), TaskView::default(), next);
    assert!(p3.start.is_some());
}

#[test]
fn access_changes_are_their_own_events() {
    let c = connector(json!({}));
    let s = secret("1");
    let c = settled(&c, &s, running(), t(0));
    let p = run(
        &c,
        Ok(&s),
        done(ok(1, t(5), &rev(&c, "1"), report("S2", 41, Some((1, 0))))),
        t(5),
    );
    let c = with_status(c, p.status.clone());
    let p2 = run(
        &c,
        Ok(&s),
        done(ok(2, t(9), &rev(&c, "1"), report("S3", 40, Some((0, 1))))),
        t(9),
    );
    let text = |p: &Plan| {
        p.events[0]
            .notes
            .iter()
            .find(|n| n.reason == Reason::AccessChanged)
            .map(|n| n.text.clone())
            .expect("AccessChanged")
    };
    assert!(text(&p).starts_with("1 grants added, 0 grants removed"));
    assert!(text(&p2).starts_with("0 grants added, 1 grants removed"));
    assert_ne!(p.events[0].marker, p2.events[0].marker);
    assert_eq!(
        p2.status.changes,
        Some(Changes {
            grants_added: 0,
            grants_removed: 1
        })
    );
}

#[test]
fn transient_failures_back_off_and_the_backoff_survives_a_restart() {
    // The first sync times out (not a connection problem, but transient).
    let c = connector(json!({}));
    let s = secret("1");
    let c = settled(&c, &s, running(), t(0));
    let out = failed(0, t(3), &rev(&c, "1"), Reason::SyncTimeout, None);
    let p = run(&c, Ok(&s), done(out), t(3));
    assert_eq!(cond(&p, Connected), (Unknown, Reason::Connecting));
    assert_eq!(cond(&p, Synced), (False, Reason::SyncFailed));
    assert_eq!(cond(&p, Ready), (False, Reason::SyncFailed));
    assert_eq!(p.status.retry.as_ref().map(|r| r.failures), Some(1));
    let next = p.status.next_sync_time.as_ref().expect("next").0;
    assert!(
        next >= t(33) && next <= t(36),
        "30 s backoff, not the interval: {next}"
    );
    assert_eq!(p.events[0].notes[0].reason, Reason::SyncFailed);

    // After an operator restart the task tracker knows nothing; status still says when.
    let restarted = with_status(c.clone(), p.status.clone());
    let p2 = run(&restarted, Ok(&s), TaskView::default(), t(10));
    assert_eq!(p2.status.next_sync_time.as_ref().map(|t| t.0), Some(next));
    assert_eq!(p2.start, None);
    let p3 = run(&restarted, Ok(&s), TaskView::default(), next);
    assert!(p3.start.is_some(), "retried after the backoff");

    // A second transient failure doubles it; a success resets it.
    let out2 = failed(1, t(40), &rev(&c, "1"), Reason::SnapshotWriteFailed, None);
    let p4 = run(&restarted, Ok(&s), done(out2), t(40));
    assert_eq!(p4.status.retry.as_ref().map(|r| r.failures), Some(2));
    let next = p4.status.next_sync_time.as_ref().expect("next").0;
    assert!(next >= t(100) && next <= t(106), "{next}");
    let c4 = with_status(c.clone(), p4.status);
    let p5 = run(
        &c4,
        Ok(&s),
        done(ok(2, t(110), &rev(&c, "1"), report("S", 1, None))),
        t(110),
    );
    assert_eq!(p5.status.retry, None);
}

#[test]
fn connection_failures_set_connected_and_permanent_ones_wait_the_interval() {
    let c = connector(json!({}));
    let s = secret("1");
    let c = settled(&c, &s, running(), t(0));
    for (reason, transient) in [
        (Reason::InvalidToken, false),
        (Reason::InsufficientPermissions, false),
        (Reason::MissingScope, false),
        (Reason::AccessDenied, false),
        (Reason::InvalidConfiguration, false),
        (Reason::RateLimited, true),
        (Reason::Unreachable, true),
        (Reason::ServerError, true),
    ] {
        let p = run(
            &c,
            Ok(&s),
            done(failed(0, t(3), &rev(&c, "1"), reason, None)),
            t(3),
        );
        assert_eq!(cond(&p, Connected), (False, reason));
        assert_eq!(cond(&p, Ready), (False, reason));
        assert_eq!(p.status.retry.is_some(), transient, "{reason}");
        let next = p.status.next_sync_time.as_ref().expect("next").0;
        if transient {
            assert!(next <= t(3) + Duration::from_secs(33), "{reason}");
        } else {
            assert!(next >= t(3) + HOUR, "{reason}: no retry loop");
        }
    }
    // A non-connection failure keeps an earlier Connected=True.
    let good = with_status(
        c.clone(),
        run(
            &c,
            Ok(&s),
            done(ok(0, t(1), &rev(&c, "1"), report("S", 1, None))),
            t(1),
        )
        .status,
    );
    let p = run(
        &good,
        Ok(&s),
        done(failed(1, t(5), &rev(&c, "1"), Reason::ProtocolError, None)),
        t(5),
    );
    assert_eq!(cond(&p, Connected), (True, Reason::Connected));
    assert_eq!(cond(&p, Ready), (False, Reason::SyncFailed));
}

#[test]
fn after_the_daily_limit_the_next_attempt_waits_for_its_reset() {
    let c = connector(json!({}));
    let s = secret("1");
    let c = settled(&c, &s, running(), t(0));
    let reset = Duration::from_secs(3 * 3600);
    let p = run(
        &c,
        Ok(&s),
        done(failed(
            0,
            t(3),
            &rev(&c, "1"),
            Reason::DailyLimitExceeded,
            Some(reset),
        )),
        t(3),
    );
    assert_eq!(cond(&p, Connected), (False, Reason::DailyLimitExceeded));
    let at = t(3) + reset;
    assert_eq!(p.status.next_sync_time.as_ref().map(|t| t.0), Some(at));
    assert_eq!(
        p.status
            .retry
            .as_ref()
            .and_then(|r| r.not_before.as_ref())
            .map(|t| t.0),
        Some(at)
    );
    let synced = conditions::get(&p.status.conditions, Synced).expect("synced");
    assert!(
        synced.message.contains(&at.to_string()),
        "{}",
        synced.message
    );
    let c = with_status(c, p.status);
    assert_eq!(
        run(&c, Ok(&s), TaskView::default(), t(3) + HOUR).start,
        None
    );
    assert!(run(&c, Ok(&s), TaskView::default(), at).start.is_some());
}

#[test]
fn sync_now_runs_exactly_once_also_while_suspended() {
    let c = connector(json!({"suspend": true}));
    let s = secret("1");
    // Suspended before any sync: no scheduled sync, Ready says why.
    let p = run(&c, Ok(&s), TaskView::default(), t(0));
    assert_eq!(p.start, None);
    assert_eq!(cond(&p, Ready), (False, Reason::Suspended));
    assert_eq!(p.status.next_sync_time, None);
    let mut c = with_status(c, p.status);
    c.metadata.annotations =
        Some([(SYNC_REQUESTED_ANNOTATION.to_string(), "req-1".to_string())].into());
    let p = run(&c, Ok(&s), TaskView::default(), t(1));
    assert_eq!(
        p.start.as_ref().and_then(|s| s.request.clone()),
        Some("req-1".into())
    );
    // Answered in the same second as an earlier sync: still recorded, so it is not re-run.
    let mut out = ok(4, t(1), &rev(&c, "1"), report("S9", 2, None));
    out.request = Some("req-1".into());
    let p = run(&c, Ok(&s), done(out), t(1));
    assert_eq!(p.status.last_sync_request.as_deref(), Some("req-1"));
    let c = with_status(c, p.status);
    let p = run(&c, Ok(&s), TaskView::default(), t(2));
    assert_eq!(p.start, None, "one request, one sync");
}

#[test]
fn an_outcome_in_the_same_second_is_not_taken_as_shown() {
    let st = MondayConnectorStatus {
        last_sync_time: Some(Time(t(0))),
        last_error: Some("boom".into()),
        ..Default::default()
    };
    let outcome = |request: Option<&str>, message: &str| Outcome {
        seq: 7,
        finished: t(0),
        duration: Duration::from_millis(30),
        result: Err(SyncFailure {
            reason: Reason::ServerError,
            message: message.into(),
            retry_after: None,
        }),
        revision: "1/abc".into(),
        request: request.map(str::to_string),
    };
    assert!(status_shows(&st, &outcome(None, "boom")));
    // A sync-now answered within the same second: its request is not in status yet.
    assert!(!status_shows(&st, &outcome(Some("req-1"), "boom")));
    assert!(!status_shows(&st, &outcome(None, "another error")));
}

#[test]
fn a_rotated_token_or_an_edited_spec_starts_a_sync_at_once() {
    let c = connector(json!({}));
    let s = secret("1");
    let c = settled(&c, &s, running(), t(0));
    let p = run(
        &c,
        Ok(&s),
        done(ok(0, t(1), &rev(&c, "1"), report("S", 1, None))),
        t(1),
    );
    let c = with_status(c, p.status);
    assert_eq!(run(&c, Ok(&s), TaskView::default(), t(2)).start, None);
    let p = run(&c, Ok(&secret("2")), TaskView::default(), t(2));
    assert_eq!(p.start.map(|s| s.revision), Some(rev(&c, "2")));
    let mut edited = c.clone();
    edited.spec.api_url = "http://other".into();
    assert!(
        run(&edited, Ok(&s), TaskView::default(), t(2))
            .start
            .is_some()
    );
    let mut interval = c.clone();
    interval.spec.sync_interval = "2h".into();
    assert_eq!(
        run(&interval, Ok(&s), TaskView::default(), t(2)).start,
        None
    );
}

#[test]
fn provisioning_follows_the_gate() {
    let c = connector(json!({}));
    let mut s = secret("1");
    s.provisioning = Err(InvalidBool);
    let p = run(&c, Ok(&s), TaskView::default(), t(0));
    assert_eq!(
        cond(&p, Provisioning),
        (False, Reason::InvalidProvisioningValue)
    );
    s.provisioning = Ok(Some(true));
    assert_eq!(
        cond(&run(&c, Ok(&s), TaskView::default(), t(0)), Provisioning),
        (True, Reason::Enabled)
    );
    let on = connector(json!({"provisioning": true}));
    s.provisioning = Ok(Some(false));
    assert_eq!(
        cond(&run(&on, Ok(&s), TaskView::default(), t(0)), Provisioning),
        (True, Reason::Enabled)
    );
}

#[test]
fn conductor_one_is_off_without_credentials_and_starts_with_them() {
    let c = connector(json!({}));
    let mut s = secret("1");
    let p = run(&c, Ok(&s), TaskView::default(), t(0));
    assert_eq!(cond(&p, ConductorOne), (False, Reason::ServiceModeOff));
    assert_eq!(p.service.desired, service_mode::plan::Desired::Off);
    assert_eq!(
        cond(&p, Ready).1,
        Reason::SyncInProgress,
        "not wanted: Ready unaffected"
    );
    s.conductor_one.client_id = Some("c1@tenant.example/x".into());
    let p = run(&c, Ok(&s), TaskView::default(), t(0));
    assert_eq!(cond(&p, ConductorOne), (False, Reason::SecretKeyMissing));
    assert_eq!(
        cond(&p, Ready),
        (False, Reason::SecretKeyMissing),
        "wanted but broken"
    );
    s.conductor_one.client_secret = Some(SecretString::from("secret-token:x".to_string()));
    let p = run(&c, Ok(&s), TaskView::default(), t(0));
    assert_eq!(cond(&p, ConductorOne), (Unknown, Reason::Connecting));
    assert!(matches!(
        p.service.desired,
        service_mode::plan::Desired::On { .. }
    ));
    let off = connector(json!({"conductorOne": {"enabled": false}}));
    let p = run(&off, Ok(&s), TaskView::default(), t(0));
    assert_eq!(p.service.desired, service_mode::plan::Desired::Off);
    assert_eq!(cond(&p, ConductorOne), (False, Reason::ServiceModeOff));
}
