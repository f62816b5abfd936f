//! Table tests of the state machine under MondayAccessPolicies: each transition the policy
//! decision drives, with what it writes, announces (Events, notices) and when it looks again.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::decision::{Effects, PolicyFacts, effects};
use super::*;
use crate::api::conditions::ConditionStatus;
use crate::api::{MondayAccessApproval, MondayAccessPolicy};
use crate::controller::events::Kind;
use crate::controller::policy::{BoardWorkspace, WithoutPolicy};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).expect("time")
}

/// alice asks (the apiserver stamped her) for a board for an hour, with a ticket.
fn request(extra: Value) -> MondayAccessGrant {
    let mut spec = json!({"connectorRef": {"name": "acme"}, "principal": {"email": "jane@b.c"},
        "entitlement": "board:42:subscriber", "duration": "1h", "reason": "INC-7 outage",
        "requester": {"username": "alice", "groups": ["developers"]}});
    for (k, v) in extra.as_object().expect("object") {
        if v.is_null() {
            spec.as_object_mut().expect("spec").remove(k);
        } else {
            spec[k] = v.clone();
        }
    }
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
        "metadata": {"name": "g", "namespace": "n", "generation": 1, "uid": "u-1",
            "creationTimestamp": t(0).to_string()},
        "spec": spec
    }))
    .expect("grant")
}

/// Policy `default` with one rule `boards` (one approval by bob or the approvers group, 8h at
/// most, 4h to approve), changed by `extra`.
fn policy(extra: Value) -> MondayAccessPolicy {
    let mut rule = json!({"name": "boards", "entitlements": [{"pattern": "board:*:subscriber"}],
        "maxDuration": "8h", "requiredApprovals": 1,
        "approvers": {"users": ["bob"], "groups": ["approvers"]}, "approvalTimeout": "4h"});
    let mut spec = json!({});
    for (k, v) in extra.as_object().expect("object") {
        if k == "notifications" {
            spec[k] = v.clone();
        } else {
            rule[k] = v.clone();
        }
    }
    spec["rules"] = json!([rule]);
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessPolicy",
        "metadata": {"name": "default", "namespace": "n"}, "spec": spec
    }))
    .expect("policy")
}

/// `by` decides the grant's current version at `at`.
fn approval(g: &MondayAccessGrant, by: &str, decision: &str, at: i64) -> MondayAccessApproval {
    let groups = if by == "dave" {
        vec!["approvers"]
    } else {
        vec![]
    };
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessApproval",
        "metadata": {"name": format!("{by}-{}-{at}", g.metadata.generation.unwrap_or(0)),
            "namespace": "n", "creationTimestamp": t(at).to_string()},
        "spec": {"grantRef": {"name": "g", "uid": "u-1", "generation": g.metadata.generation},
            "policyRef": {"name": "default"}, "decision": decision,
            "approver": {"username": by, "groups": groups}}
    }))
    .expect("approval")
}

/// The namespace's policies and approvals.
#[derive(Default)]
struct World {
    policies: Vec<MondayAccessPolicy>,
    approvals: Vec<MondayAccessApproval>,
    unreadable: Vec<String>,
    without_policy: WithoutPolicy,
    board: BoardWorkspace,
}

impl World {
    fn with(policy: MondayAccessPolicy) -> World {
        World {
            policies: vec![policy],
            ..Default::default()
        }
    }

    fn observe<'a>(&self, g: &'a MondayAccessGrant, mode: Mode, now: i64) -> Observed<'a> {
        let facts = PolicyFacts {
            policies: &self.policies,
            approvals: &self.approvals,
            unreadable: &self.unreadable,
            board_workspace: self.board.clone(),
            without_policy: self.without_policy,
        };
        Observed::new(g, mode, Ok(Gate::Spec(true)), 0, t(now), &facts)
    }
}

/// What one reconcile did: the steps it took towards Monday, how it settled, what it announced.
struct Run {
    grant: MondayAccessGrant,
    monday: Vec<&'static str>,
    settle: Settle,
    effects: Effects,
}

/// One reconcile at `now`, every Monday call succeeding (the principal never held the access).
fn run(g: &MondayAccessGrant, w: &World, mode: Mode, now: i64) -> Run {
    let o = w.observe(g, mode, now);
    let fx = effects(&o);
    let mut monday = vec![];
    let mut step = plan(&o);
    let settle = loop {
        step = match step {
            Step::Settle(s) => break s,
            Step::Leave => panic!("approval scenarios carry no ConductorOne record"),
            Step::Check {
                status,
                entitlement,
                ..
            } => {
                monday.push("check");
                checked(&o, status, entitlement, Ok(user(false)))
            }
            Step::Grant {
                status,
                entitlement,
                ..
            } => {
                monday.push("grant");
                Step::Settle(granted(&o, status, &entitlement, Ok(outcome())))
            }
            Step::Revoke {
                status,
                entitlement,
                ending,
                ..
            } => {
                monday.push("revoke");
                let gone = RevokeOutcome {
                    already_absent: false,
                    restored: None,
                    also_removed: Vec::new(),
                };
                Step::Settle(revoked(&o, status, &entitlement, ending, Ok(gone)))
            }
        };
    };
    let mut grant = g.clone();
    grant.status = Some(settle.status.clone());
    Run {
        grant,
        monday,
        settle,
        effects: fx,
    }
}

fn user(pre_existing: bool) -> Current {
    Current {
        holder: Holder::User(UserSummary {
            id: Id::from("7"),
            name: "Jane".into(),
            email: "jane@b.c".into(),
            kind: "member".into(),
            status: UserStatus::Active,
        }),
        pre_existing,
        previous: None,
        invited: false,
    }
}

fn outcome() -> GrantOutcome {
    GrantOutcome {
        holder: user(false).holder,
        grant_id: "board:42:subscriber:user:7".into(),
        pre_existing: false,
        previous: None,
        invited: false,
    }
}

impl Run {
    fn phase(&self) -> Option<Phase> {
        self.settle.status.phase
    }
    fn condition(&self, type_: ConditionType) -> (ConditionStatus, Reason) {
        let c = conditions::get(&self.settle.status.conditions, type_).expect("condition");
        (c.status, c.reason)
    }
    fn expires(&self) -> Option<Timestamp> {
        self.settle.status.expires_at.as_ref().map(|t| t.0)
    }
    fn approval(&self) -> crate::api::access_grant::GrantApproval {
        self.settle
            .status
            .approval
            .clone()
            .expect("status.approval")
    }
    /// (kind, reason, text) of the decision's Events.
    fn events(&self) -> Vec<(Kind, Reason, String)> {
        let n = &self.effects.notes;
        n.iter()
            .map(|n| (n.kind, n.reason, n.text.clone()))
            .collect()
    }
    fn reasons(&self) -> Vec<Reason> {
        self.effects.notes.iter().map(|n| n.reason).collect()
    }
    /// Every notice: the decision's, then the lifecycle's.
    fn notices(&self) -> Vec<Notice> {
        let mut v = self.effects.notices.clone();
        v.extend(self.settle.notices.iter().cloned());
        v
    }
}

/// Extends `g` to `duration`: the apiserver moves the generation.
fn extended(g: &MondayAccessGrant, duration: &str) -> MondayAccessGrant {
    let mut e = g.clone();
    e.spec.duration = Some(duration.into());
    e.metadata.generation = Some(e.metadata.generation.unwrap_or(1) + 1);
    e
}

#[test]
fn a_request_waits_for_approval_and_is_granted_once_approved() {
    let mut w = World::with(policy(json!({})));
    let g = request(json!({}));
    let r = run(&g, &w, Mode::Apply, 10);
    assert!(
        r.monday.is_empty(),
        "nothing happens in Monday before approval"
    );
    assert_eq!(r.phase(), Some(Phase::AwaitingApproval));
    assert_eq!(
        r.condition(ConditionType::Ready),
        (ConditionStatus::False, Reason::AwaitingApproval)
    );
    assert_eq!(
        r.condition(ConditionType::Approved),
        (ConditionStatus::Unknown, Reason::AwaitingApproval)
    );
    let a = r.approval();
    assert_eq!(
        (a.policy.as_deref(), a.rule.as_deref()),
        (Some("default"), Some("boards"))
    );
    assert_eq!(a.pending_generation, Some(1));
    // The deadline is 4h after creation.
    assert_eq!(
        r.settle.requeue,
        Requeue::After(Duration::from_secs(4 * 3600 - 10))
    );
    let events = r.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].0, events[0].1),
        (Kind::Normal, Reason::AwaitingApproval)
    );
    assert!(events[0].2.contains("alice") && events[0].2.contains("policy default rule boards"));
    match &r.notices()[..] {
        [
            Notice::Requested {
                missing: 1,
                extension: false,
                approvers,
                ..
            },
        ] => assert_eq!(approvers, "approvers: users bob; groups approvers"),
        other => panic!("{other:?}"),
    }
    // Deciding the same again changes nothing and announces nothing.
    let again = run(&r.grant, &w, Mode::Apply, 20);
    assert_eq!(Some(&again.settle.status), r.grant.status.as_ref());
    assert!(again.effects.notes.is_empty() && again.notices().is_empty());

    // bob approves: granted in this reconcile, the expiry counted from now.
    w.approvals.push(approval(&g, "bob", "Approve", 30));
    let r = run(&again.grant, &w, Mode::Apply, 31);
    assert_eq!(r.monday, ["check", "grant"]);
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(r.expires(), Some(t(31 + 3600)));
    assert_eq!(
        r.condition(ConditionType::Approved),
        (ConditionStatus::True, Reason::Approved)
    );
    assert_eq!(r.approval().approved_by.as_deref(), Some("bob"));
    assert_eq!(r.approval().pending_generation, None);
    let events = r.events();
    assert_eq!(events[0].1, Reason::Approved);
    assert!(
        events[0]
            .2
            .contains("for alice approved by bob under policy default rule boards"),
        "{events:?}"
    );
    assert_eq!(
        r.notices(),
        [
            Notice::Approved {
                by: vec!["bob".into()],
                break_glass: false
            },
            Notice::Granted
        ]
    );
    assert_eq!(r.settle.requeue, Requeue::After(Duration::from_secs(3600)));
    // Steady state: nothing to write or announce.
    let again = run(&r.grant, &w, Mode::Apply, 100);
    assert_eq!(Some(&again.settle.status), r.grant.status.as_ref());
    assert!(again.monday.is_empty() && again.effects.notes.is_empty());
}

#[test]
fn the_requesters_own_approval_is_ignored_and_reported_without_break_glass() {
    let mut w = World::with(policy(json!({"approvers": {"users": ["alice", "bob"]}})));
    let g = request(json!({}));
    let waiting = run(&g, &w, Mode::Apply, 1).grant;
    w.approvals.push(approval(&g, "alice", "Approve", 5));
    let r = run(&waiting, &w, Mode::Apply, 6);
    assert_eq!(r.phase(), Some(Phase::AwaitingApproval));
    assert!(r.monday.is_empty());
    let ignored = r.approval().ignored;
    assert_eq!(ignored.len(), 1);
    assert_eq!(
        (ignored[0].approver.as_deref(), ignored[0].reason.as_str()),
        (Some("alice"), "SelfApproval")
    );
    let events = r.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].0, events[0].1),
        (Kind::Warning, Reason::SelfApproval)
    );
    assert!(
        events[0]
            .2
            .contains("alice requested this access and cannot approve it")
    );
    // Reported once.
    assert!(run(&r.grant, &w, Mode::Apply, 7).effects.notes.is_empty());
}

#[test]
fn two_required_approvals_need_two_distinct_approvers() {
    let mut w = World::with(policy(json!({"requiredApprovals": 2})));
    let g = request(json!({}));
    let mut cur = run(&g, &w, Mode::Apply, 1).grant;
    w.approvals.push(approval(&g, "bob", "Approve", 5));
    w.approvals.push(approval(&g, "bob", "Approve", 6));
    let r = run(&cur, &w, Mode::Apply, 7);
    assert_eq!(r.phase(), Some(Phase::AwaitingApproval));
    assert_eq!(r.approval().approved_by.as_deref(), Some("bob (1 of 2)"));
    assert_eq!(r.reasons(), [Reason::DuplicateApprover]);
    cur = r.grant;
    w.approvals.push(approval(&g, "dave", "Approve", 8));
    let r = run(&cur, &w, Mode::Apply, 9);
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(r.approval().approvers, ["bob", "dave"]);
    assert_eq!(r.approval().approved_by.as_deref(), Some("bob, dave"));
}

#[test]
fn denied_when_no_rule_allows_it_an_approver_denies_or_the_approval_times_out() {
    let w = World::with(policy(json!({})));
    // No rule: the closest one is named.
    let admin = request(json!({"entitlement": "role:admin:assigned"}));
    let r = run(&admin, &w, Mode::Apply, 1);
    assert!(r.monday.is_empty());
    assert_eq!(r.phase(), Some(Phase::Denied));
    assert_eq!(
        r.condition(ConditionType::Ready),
        (ConditionStatus::False, Reason::NoRuleAllows)
    );
    assert_eq!(
        r.condition(ConditionType::Approved),
        (ConditionStatus::False, Reason::NoRuleAllows)
    );
    let events = r.events();
    assert_eq!(
        (events[0].0, events[0].1),
        (Kind::Warning, Reason::NoRuleAllows)
    );
    assert!(
        events[0].2.contains("closest: policy default rule boards"),
        "{events:?}"
    );
    assert!(
        matches!(&r.notices()[..], [Notice::Denied { reason, .. }] if reason == "NoRuleAllows")
    );
    assert_eq!(r.settle.requeue, Requeue::OnChange);

    // An approver's deny.
    let g = request(json!({}));
    let mut w2 = World::with(policy(json!({})));
    let waiting = run(&g, &w2, Mode::Apply, 1).grant;
    w2.approvals.push(approval(&g, "bob", "Deny", 5));
    let r = run(&waiting, &w2, Mode::Apply, 6);
    assert_eq!(r.phase(), Some(Phase::Denied));
    assert_eq!(
        r.condition(ConditionType::Ready).1,
        Reason::DeniedByApprover
    );
    // Final: a later approval changes nothing.
    w2.approvals.push(approval(&g, "dave", "Approve", 7));
    let later = run(&r.grant, &w2, Mode::Apply, 8);
    assert_eq!(later.phase(), Some(Phase::Denied));
    assert!(later.monday.is_empty() && later.effects.notes.is_empty());

    // Nobody approved within approvalTimeout (4h from creation).
    let r = run(&waiting, &w, Mode::Apply, 4 * 3600);
    assert_eq!(r.phase(), Some(Phase::Denied));
    assert_eq!(
        r.condition(ConditionType::Ready).1,
        Reason::ApprovalTimedOut
    );
    assert_eq!(r.reasons(), [Reason::ApprovalTimedOut]);
}

#[test]
fn break_glass_approves_alone_for_the_shorter_maximum_and_is_loud() {
    let w = World {
        approvals: vec![approval(&request(json!({})), "alice", "Approve", 2)],
        ..World::with(policy(json!({"requiredApprovals": 2,
            "approvers": {"users": ["alice", "bob"]},
            "breakGlass": {"enabled": true, "maxDuration": "30m"}})))
    };
    let r = run(&request(json!({})), &w, Mode::Apply, 3);
    assert_eq!(r.monday, ["check", "grant"]);
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(
        r.expires(),
        Some(t(3 + 1800)),
        "capped at breakGlass.maxDuration"
    );
    assert_eq!(
        r.condition(ConditionType::Approved),
        (ConditionStatus::True, Reason::BreakGlass)
    );
    assert_eq!(
        r.approval().approved_by.as_deref(),
        Some("alice (break-glass)")
    );
    assert!(r.effects.break_glass);
    let events = r.events();
    assert!(
        events.iter().any(|(k, r, text)| *k == Kind::Warning
            && *r == Reason::BreakGlass
            && text.contains("BREAK-GLASS: alice")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(k, r, _)| *k == Kind::Warning && *r == Reason::ExpiryCapped)
    );
    assert!(r.notices().contains(&Notice::Approved {
        by: vec!["alice".into()],
        break_glass: true
    }));
    // Counted once.
    assert!(!run(&r.grant, &w, Mode::Apply, 60).effects.break_glass);
}

#[test]
fn an_extension_needs_its_own_approval_and_then_moves_the_expiry() {
    let mut w = World::with(policy(json!({})));
    let g = request(json!({}));
    w.approvals.push(approval(&g, "bob", "Approve", 0));
    let first = run(&g, &w, Mode::Apply, 1);
    assert_eq!(first.expires(), Some(t(3601)));

    // alice extends to 3h: the approved hour stays in force while the extension waits.
    let ext = extended(&first.grant, "3h");
    let r = run(&ext, &w, Mode::Apply, 100);
    assert!(r.monday.is_empty());
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(r.expires(), Some(t(3601)));
    assert_eq!(
        r.condition(ConditionType::Approved),
        (ConditionStatus::True, Reason::ExtensionAwaitingApproval)
    );
    assert!(matches!(
        &r.notices()[..],
        [Notice::Requested {
            extension: true,
            missing: 1,
            ..
        }]
    ));
    assert_eq!(r.settle.requeue, Requeue::After(Duration::from_secs(3501)));

    // bob approves generation 2: the expiry moves to 3h from the grant.
    w.approvals.push(approval(&ext, "bob", "Approve", 200));
    let r = run(&r.grant, &w, Mode::Apply, 201);
    assert_eq!(r.expires(), Some(t(1 + 3 * 3600)));
    assert_eq!(r.condition(ConditionType::Ready).1, Reason::Extended);
    assert_eq!(r.condition(ConditionType::Approved).1, Reason::Approved);
    assert_eq!(r.approval().approved_generation, Some(2));
    assert!(r.reasons().contains(&Reason::Approved));
}

#[test]
fn an_extension_past_max_duration_is_capped_from_the_grant() {
    let mut w = World::with(policy(json!({"requiredApprovals": 0})));
    let first = run(&request(json!({})), &w, Mode::Apply, 0);
    let ext = extended(&first.grant, "24h");
    w.approvals.clear();
    let r = run(&ext, &w, Mode::Apply, 10);
    assert_eq!(
        r.expires(),
        Some(t(8 * 3600)),
        "8h from the grant, not from now"
    );
    assert!(r.reasons().contains(&Reason::ExpiryCapped));
}

#[test]
fn max_duration_caps_the_expiry_and_a_permanent_request_is_denied_where_not_allowed() {
    let w = World::with(policy(json!({"requiredApprovals": 0})));
    let r = run(&request(json!({"duration": "12h"})), &w, Mode::Apply, 5);
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(r.expires(), Some(t(5 + 8 * 3600)));
    assert_eq!(
        r.condition(ConditionType::Approved).1,
        Reason::ApprovalNotRequired
    );
    let ready = conditions::get(&r.settle.status.conditions, ConditionType::Ready).expect("Ready");
    assert!(ready.message.contains("shortened to"), "{}", ready.message);
    assert_eq!(
        r.reasons(),
        [Reason::ApprovalNotRequired, Reason::ExpiryCapped]
    );

    let r = run(&request(json!({"duration": null})), &w, Mode::Apply, 5);
    assert_eq!(r.phase(), Some(Phase::Denied));
    assert!(r.monday.is_empty());
    let ready = conditions::get(&r.settle.status.conditions, ConditionType::Ready).expect("Ready");
    assert!(
        ready.message.contains("without expiry is not allowed"),
        "{}",
        ready.message
    );
    // allowPermanent lets it through, uncapped.
    let w = World::with(policy(
        json!({"requiredApprovals": 0, "allowPermanent": true}),
    ));
    let r = run(&request(json!({"duration": null})), &w, Mode::Apply, 5);
    assert_eq!((r.phase(), r.expires()), (Some(Phase::Granted), None));
}

#[test]
fn the_reason_must_match_the_rules_justification_pattern() {
    let w = World::with(policy(json!({"reasonPattern": "^INC-[0-9]+"})));
    let r = run(&request(json!({"reason": "because"})), &w, Mode::Apply, 1);
    assert_eq!(r.phase(), Some(Phase::Denied));
    let ready = conditions::get(&r.settle.status.conditions, ConditionType::Ready).expect("Ready");
    assert!(
        ready.message.contains("does not match \"^INC-[0-9]+\""),
        "{}",
        ready.message
    );
    let r = run(&request(json!({})), &w, Mode::Apply, 1);
    assert_eq!(r.phase(), Some(Phase::AwaitingApproval));
}

#[test]
fn an_approver_denying_the_version_in_force_revokes_the_access() {
    let mut w = World::with(policy(json!({})));
    let g = request(json!({}));
    w.approvals.push(approval(&g, "bob", "Approve", 0));
    let granted = run(&g, &w, Mode::Apply, 1).grant;
    w.approvals.push(approval(&g, "dave", "Deny", 50));
    let r = run(&granted, &w, Mode::Apply, 51);
    assert_eq!(r.monday, ["revoke"]);
    assert_eq!(r.phase(), Some(Phase::Denied));
    assert_eq!(
        r.condition(ConditionType::Ready),
        (ConditionStatus::False, Reason::DeniedByApprover)
    );
    assert!(r.settle.status.revoked_at.is_some());
    assert!(r.settle.request_sync);
    assert!(
        matches!(&r.notices()[..], [Notice::Denied { .. }]),
        "announced once, as a denial"
    );
    assert_eq!(r.events()[0].0, Kind::Warning);
}

#[test]
fn access_granted_before_policies_keeps_working_until_its_expiry() {
    // Granted by an operator version before policies: no status.approval, no Approved condition.
    let none = World::default();
    let mut old = run(&request(json!({})), &none, Mode::Apply, 0).grant;
    if let Some(st) = old.status.as_mut() {
        st.approval = None;
        st.conditions.retain(|c| c.type_ != ConditionType::Approved);
    }
    let w = World::with(policy(json!({})));
    let r = run(&old, &w, Mode::Apply, 100);
    assert!(r.monday.is_empty());
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(r.expires(), Some(t(3600)));
    assert_eq!(r.approval().approved_by.as_deref(), Some("before policy"));
    assert_eq!(
        r.condition(ConditionType::Approved),
        (ConditionStatus::True, Reason::GrantedBeforePolicy)
    );
    assert_eq!(r.reasons(), [Reason::GrantedBeforePolicy]);
    let end = run(&r.grant, &w, Mode::Apply, 3600);
    assert_eq!(
        (end.phase(), end.monday),
        (Some(Phase::Expired), vec!["revoke"])
    );
}

#[test]
fn without_a_policy_requests_are_granted_as_before_with_a_warning_or_denied_in_deny_mode() {
    let r = run(&request(json!({})), &World::default(), Mode::Apply, 0);
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(
        r.condition(ConditionType::Approved),
        (ConditionStatus::True, Reason::NoPolicy)
    );
    assert_eq!(r.approval().approved_by.as_deref(), Some("no policy"));
    assert_eq!(
        r.events().iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(),
        [(Kind::Warning, Reason::NoPolicy)]
    );
    assert_eq!(r.notices(), [Notice::Granted]);

    let deny = World {
        without_policy: WithoutPolicy::Deny,
        ..Default::default()
    };
    let r = run(&request(json!({})), &deny, Mode::Apply, 0);
    assert_eq!(r.phase(), Some(Phase::Denied));
    assert_eq!(r.condition(ConditionType::Ready).1, Reason::PolicyRequired);
}

#[test]
fn conductor_one_records_are_approved_by_conductor_one_whatever_the_policy() {
    let w = World::with(policy(json!({"requiredApprovals": 3})));
    let mut g = request(json!({"conductorOne": {"taskId": "t-9"}, "requester": null}));
    // Service mode granted it in Monday already and creates the record before writing its
    // status: until that status lands the controller leaves the record alone.
    assert!(matches!(plan(&w.observe(&g, Mode::Apply, 1)), Step::Leave));
    g.status = Some(MondayAccessGrantStatus {
        phase: Some(Phase::Granted),
        granted_at: Some(Time(t(1))),
        expires_at: Some(Time(t(3601))),
        pre_existing: Some(false),
        ..Default::default()
    });
    let r = run(&g, &w, Mode::Apply, 2);
    assert_eq!(r.phase(), Some(Phase::Granted));
    assert_eq!(r.expires(), Some(t(3601)));
    assert!(r.monday.is_empty(), "{:?}", r.monday);
    assert_eq!(
        r.condition(ConditionType::Approved).1,
        Reason::ConductorOneGrant
    );
}

#[test]
fn the_expiry_reminder_is_scheduled_and_sent_when_due() {
    let w = World::with(policy(json!({"requiredApprovals": 0,
        "notifications": {"webhook": {"secretRef": {"name": "hook"}}, "reminderBefore": "15m"}})));
    let r = run(&request(json!({})), &w, Mode::Apply, 0);
    assert_eq!(
        r.notices(),
        [
            Notice::Approved {
                by: vec!["policy default".into()],
                break_glass: false
            },
            Notice::Granted
        ]
    );
    assert_eq!(r.settle.requeue, Requeue::After(Duration::from_secs(2700)));
    let due = run(&r.grant, &w, Mode::Apply, 2700);
    assert_eq!(due.notices(), [Notice::ExpiringSoon]);
    assert_eq!(due.settle.requeue, Requeue::After(Duration::from_secs(900)));
    let end = run(&due.grant, &w, Mode::Apply, 3600);
    assert_eq!(end.notices(), [Notice::Expired]);
    // Deleting earlier: revoked, announced as such.
    let gone = run(&r.grant, &w, Mode::Cleanup, 60);
    assert_eq!(
        (gone.notices(), gone.monday),
        (vec![Notice::Revoked], vec!["revoke"])
    );
}

#[test]
fn undecidable_requests_wait_without_touching_monday() {
    // A policy this version cannot read: nothing new is granted.
    let w = World {
        unreadable: vec!["broken".into()],
        ..Default::default()
    };
    let r = run(&request(json!({})), &w, Mode::Apply, 0);
    assert!(r.monday.is_empty());
    assert_eq!(r.phase(), Some(Phase::Pending));
    assert_eq!(r.condition(ConditionType::Ready).1, Reason::InvalidPolicy);
    assert_eq!(r.settle.requeue, Requeue::After(WAIT));
    assert!(
        r.settle.status.approval.is_none(),
        "nothing decided, nothing recorded"
    );

    // A rule that needs the board's workspace decides once it is known.
    let mut w = World::with(policy(json!({"entitlements":
        [{"pattern": "board:*:subscriber", "workspaceIds": ["7"]}]})));
    let r = run(&request(json!({})), &w, Mode::Apply, 0);
    assert_eq!(
        r.condition(ConditionType::Ready).1,
        Reason::BoardWorkspaceUnknown
    );
    w.board = BoardWorkspace::Workspace("7".into());
    assert_eq!(
        run(&r.grant, &w, Mode::Apply, 1).phase(),
        Some(Phase::AwaitingApproval)
    );
    w.board = BoardWorkspace::Workspace("8".into());
    assert_eq!(
        run(&r.grant, &w, Mode::Apply, 1).phase(),
        Some(Phase::Denied)
    );
}

#[test]
fn deleting_a_request_that_was_never_granted_touches_nothing() {
    let w = World::with(policy(json!({})));
    let waiting = run(&request(json!({})), &w, Mode::Apply, 0).grant;
    let r = run(&waiting, &w, Mode::Cleanup, 5);
    assert!(r.monday.is_empty());
    assert_eq!(r.settle.requeue, Requeue::OnChange);
    assert!(r.notices().is_empty());
}
