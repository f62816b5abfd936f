//! Table tests of service mode's plan: when the loop runs, the condition for every link state,
//! and how finished tasks reach status exactly once.

use jiff::Timestamp;
use secrecy::SecretString;

use super::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("time")
}

fn keys(id: Option<&str>, secret: Option<&str>) -> C1Keys {
    C1Keys {
        client_id: id.map(str::to_string),
        client_secret: secret.map(|s| SecretString::from(s.to_string())),
        secret: "baton-monday-secrets".into(),
        resource_version: "7".into(),
    }
}

fn observed<'a>(
    spec: Option<&'a ConductorOneSpec>,
    keys: Result<&'a C1Keys, &'a SecretProblem>,
    view: &'a ServiceView,
    status: Option<&'a ConductorOneStatus>,
) -> Observed<'a> {
    Observed {
        spec,
        keys,
        token_version: Some("7/abc"),
        api_url: "http://emu",
        view,
        status,
        generation: Some(1),
        now: t(0),
    }
}

fn report(seq: u64, id: &str, succeeded: bool, provisioning: bool) -> Report {
    Report {
        seq,
        id: id.into(),
        task_type: if provisioning { "grant" } else { "sync_full" },
        succeeded,
        outcome: if succeeded { "Succeeded" } else { "Failed" },
        reason: if succeeded {
            Reason::Succeeded
        } else {
            Reason::UserNotFound
        },
        subject: provisioning.then(|| "board:1:owner:user:7".to_string()),
        message: None,
        finished: t(seq as i64),
        upload: None,
        provisioning,
    }
}

const ID: &str = "c1@tenant.example/abc";

#[test]
fn whether_the_loop_runs() {
    let both = keys(Some(ID), Some("secret-token:conductorone.com:v1:x"));
    let none = keys(None, None);
    let half = keys(Some(ID), None);
    let secret_only = keys(None, Some("secret-token:x"));
    let off = ConductorOneSpec {
        enabled: Some(false),
        ..Default::default()
    };
    let on = ConductorOneSpec {
        enabled: Some(true),
        ..Default::default()
    };
    let missing = SecretProblem::NotFound { name: "c1".into() };
    let view = ServiceView::default();
    type Case<'a> = (
        Option<&'a ConductorOneSpec>,
        Result<&'a C1Keys, &'a SecretProblem>,
        bool,
        Reason,
        bool,
    );
    let table: [Case<'_>; 8] = [
        (None, Ok(&none), false, Reason::ServiceModeOff, false),
        (None, Ok(&secret_only), false, Reason::ServiceModeOff, false),
        (None, Ok(&half), false, Reason::SecretKeyMissing, true),
        (None, Ok(&both), true, Reason::Connecting, false),
        (Some(&off), Ok(&both), false, Reason::ServiceModeOff, false),
        (Some(&on), Ok(&none), false, Reason::SecretKeyMissing, true),
        (Some(&on), Ok(&both), true, Reason::Connecting, false),
        (None, Err(&missing), false, Reason::SecretNotFound, true),
    ];
    for (spec, k, runs, reason, blocks) in table {
        let p = plan(&observed(spec, k, &view, None));
        assert_eq!(matches!(p.desired, Desired::On { .. }), runs, "{reason}");
        assert_eq!(p.condition.reason, reason);
        assert_eq!(p.blocks_ready, blocks, "{reason}");
    }
    // No usable Monday token: wanted but waiting.
    let mut o = observed(None, Ok(&both), &view, None);
    o.token_version = None;
    let p = plan(&o);
    assert_eq!(
        (p.desired, p.condition.status),
        (Desired::Off, ConditionStatus::Unknown)
    );
}

#[test]
fn a_rotation_restarts_the_loop_and_the_condition_follows_the_link() {
    let k = keys(Some(ID), Some("s"));
    let view = ServiceView::default();
    let Desired::On { revision } = plan(&observed(None, Ok(&k), &view, None)).desired else {
        panic!("on")
    };
    let mut rotated = k.clone();
    rotated.resource_version = "8".into();
    let Desired::On { revision: r2 } = plan(&observed(None, Ok(&rotated), &view, None)).desired
    else {
        panic!("on")
    };
    assert_ne!(revision, r2, "a rotated Secret restarts the loop");
    let links = [
        (
            Link::Starting,
            ConditionStatus::Unknown,
            Reason::Connecting,
            false,
        ),
        (
            Link::Connected {
                host_id: "pod-1".into(),
                since: t(0),
            },
            ConditionStatus::True,
            Reason::Connected,
            false,
        ),
        (
            Link::Retrying {
                reason: Reason::Unreachable,
                message: "down".into(),
                retry_in_secs: 4,
            },
            ConditionStatus::False,
            Reason::Unreachable,
            true,
        ),
        (
            Link::Ended {
                reason: Reason::InvalidCredentials,
                message: "refused".into(),
            },
            ConditionStatus::False,
            Reason::InvalidCredentials,
            true,
        ),
    ];
    for (link, status, reason, blocks) in links {
        let view = ServiceView {
            revision: Some(revision.clone()),
            link,
            reports: vec![],
        };
        let p = plan(&observed(None, Ok(&k), &view, None));
        assert_eq!((p.condition.status, p.condition.reason), (status, reason));
        assert_eq!(p.blocks_ready, blocks);
        assert!(
            !p.condition.message.contains("s\""),
            "no secret in messages"
        );
    }
    // A link of an older revision does not speak for the new inputs.
    let stale = ServiceView {
        revision: Some("old".into()),
        link: Link::Ended {
            reason: Reason::InvalidCredentials,
            message: "refused".into(),
        },
        reports: vec![],
    };
    assert_eq!(
        plan(&observed(None, Ok(&k), &stale, None)).condition.reason,
        Reason::Connecting
    );
}

#[test]
fn finished_tasks_reach_status_once_and_provisioning_ones_are_events() {
    let k = keys(Some(ID), Some("s"));
    let view = ServiceView {
        revision: Some("r".into()),
        link: Link::Connected {
            host_id: "pod-1".into(),
            since: t(0),
        },
        reports: vec![
            report(0, "T0", true, false),
            report(1, "T1", true, true),
            report(2, "T2", false, true),
        ],
    };
    let p = plan(&observed(None, Ok(&k), &view, None));
    let st = p.status.clone().expect("status");
    assert_eq!((st.tasks_succeeded, st.tasks_failed), (2, 1));
    assert_eq!(st.last_task.as_ref().map(|t| t.id.as_str()), Some("T2"));
    assert_eq!(st.host_id.as_deref(), Some("pod-1"));
    assert_eq!(st.client_id.as_deref(), Some(ID));
    assert_eq!(p.consume, None);
    assert_eq!(p.notes.len(), 2, "one Event per provisioning task");
    assert_eq!(p.notes[1].reason, Reason::UserNotFound);
    assert!(p.notes[0].text.contains("board:1:owner:user:7"));
    // The object now shows them: they are forgotten, counted once.
    let p2 = plan(&observed(None, Ok(&k), &view, Some(&st)));
    assert_eq!(p2.consume, Some(2));
    assert_eq!(p2.status.as_ref(), Some(&st));
    assert!(p2.notes.is_empty());
    // A newer task after the shown ones adds to the counts.
    let mut more = view.clone();
    more.reports.push(report(3, "T3", true, false));
    let p3 = plan(&observed(None, Ok(&k), &more, Some(&st)));
    assert_eq!(p3.consume, Some(2));
    assert_eq!(p3.status.map(|s| s.tasks_succeeded), Some(3));
}
