//! Table tests of the policy decision: every rule of the module docs, one case each.

use super::*;
use crate::api::access_approval::{GrantVersionRef, MondayAccessApprovalSpec, PolicyRef};
use crate::api::access_grant::{ConductorOneOrigin, GrantPrincipal};
use crate::api::access_policy::{BreakGlass, EntitlementMatch, MondayAccessPolicySpec};
use crate::api::identity::Subjects;
use kube::api::ObjectMeta;

const UID: &str = "uid-1";

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// 10:00 is when every test grant is created.
const CREATED: &str = "2026-03-01T10:00:00Z";
const NOW: &str = "2026-03-01T10:05:00Z";

fn who(name: &str, groups: &[&str]) -> UserIdentity {
    UserIdentity {
        username: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn spec(entitlement: &str) -> MondayAccessGrantSpec {
    MondayAccessGrantSpec {
        connector_ref: crate::api::access_grant::ConnectorRef {
            name: "acme".into(),
        },
        principal: GrantPrincipal {
            email: Some("alice@example.com".into()),
            ..Default::default()
        },
        entitlement: entitlement.into(),
        duration: Some("2h".into()),
        expires_at: None,
        create_account: false,
        reason: Some("INC-42 outage".into()),
        requester: Some(who("alice", &["developers", "system:authenticated"])),
        conductor_one: None,
    }
}

fn rule(name: &str, pattern: &str) -> AccessRule {
    AccessRule {
        name: name.into(),
        entitlements: vec![EntitlementMatch {
            pattern: pattern.into(),
            workspace_ids: vec![],
        }],
        requesters: None,
        max_duration: Some("8h".into()),
        allow_permanent: false,
        required_approvals: 1,
        approvers: None,
        reason_pattern: None,
        break_glass: None,
        approval_timeout: "1h".into(),
    }
}

fn policy(name: &str, rules: Vec<AccessRule>) -> MondayAccessPolicy {
    let mut p = MondayAccessPolicy::new(
        name,
        MondayAccessPolicySpec {
            rules,
            notifications: None,
        },
    );
    p.metadata.namespace = Some("iga".into());
    p
}

fn approval(
    name: &str,
    approver: &str,
    generation: i64,
    decision: ApprovalDecision,
    created: &str,
) -> MondayAccessApproval {
    MondayAccessApproval {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("iga".into()),
            creation_timestamp: Some(Time(t(created))),
            ..Default::default()
        },
        spec: MondayAccessApprovalSpec {
            grant_ref: GrantVersionRef {
                name: "req".into(),
                uid: UID.into(),
                generation,
            },
            policy_ref: PolicyRef {
                name: "default".into(),
            },
            decision,
            comment: None,
            approver: Some(who(approver, &["approvers", "system:authenticated"])),
        },
    }
}

fn approve(name: &str, approver: &str) -> MondayAccessApproval {
    approval(
        name,
        approver,
        1,
        ApprovalDecision::Approve,
        "2026-03-01T10:01:00Z",
    )
}

/// A test case: the grant, the namespace's objects, now.
struct Case {
    spec: MondayAccessGrantSpec,
    generation: i64,
    granted_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    record: Option<GrantApproval>,
    policies: Vec<MondayAccessPolicy>,
    approvals: Vec<MondayAccessApproval>,
    board: BoardWorkspace,
    without: WithoutPolicy,
    now: Timestamp,
}

impl Case {
    fn new(policies: Vec<MondayAccessPolicy>) -> Self {
        Self {
            spec: spec("board:42:subscriber"),
            generation: 1,
            granted_at: None,
            expires_at: None,
            record: None,
            policies,
            approvals: vec![],
            board: BoardWorkspace::Unknown,
            without: WithoutPolicy::Allow,
            now: t(NOW),
        }
    }

    fn decide(&self) -> Decision {
        decide(&Inputs {
            grant: GrantView {
                name: "req",
                uid: UID,
                generation: self.generation,
                created: t(CREATED),
                spec: &self.spec,
                granted_at: self.granted_at,
                expires_at: self.expires_at,
                record: self.record.as_ref(),
            },
            policies: &self.policies,
            approvals: &self.approvals,
            board_workspace: self.board.clone(),
            without_policy: self.without,
            now: self.now,
        })
    }

    /// Decides, then feeds the record back as the controller would after writing it (and, when
    /// allowed, after granting and storing the expiry), and checks that nothing changes: steady
    /// state writes nothing.
    fn decide_stable(&mut self) -> Decision {
        let first = self.decide();
        let mut again = Case {
            record: Some(first.record.clone()),
            ..self.clone_case()
        };
        if let Outcome::Allow { expires_at, .. } = &first.outcome {
            again.granted_at.get_or_insert(self.now);
            again.expires_at = *expires_at;
        }
        let second = again.decide();
        assert_eq!(second.record, first.record, "the record is stable");
        assert_eq!(second.outcome, first.outcome, "the outcome is stable");
        first
    }

    fn clone_case(&self) -> Case {
        Case {
            spec: self.spec.clone(),
            generation: self.generation,
            granted_at: self.granted_at,
            expires_at: self.expires_at,
            record: self.record.clone(),
            policies: self.policies.clone(),
            approvals: self.approvals.clone(),
            board: self.board.clone(),
            without: self.without,
            now: self.now,
        }
    }
}

fn default_policy() -> Vec<MondayAccessPolicy> {
    vec![policy("default", vec![rule("boards", "board:*")])]
}

fn expect_allow(d: &Decision) -> (Option<Timestamp>, ApprovalBasis, Option<Extension>) {
    match &d.outcome {
        Outcome::Allow {
            expires_at,
            basis,
            extension,
            ..
        } => (*expires_at, *basis, extension.clone()),
        other => panic!("expected Allow, got {other:?}"),
    }
}

fn expect_deny(d: &Decision) -> (Reason, String) {
    match &d.outcome {
        Outcome::Deny { reason, message } => (*reason, message.clone()),
        other => panic!("expected Deny, got {other:?}"),
    }
}

fn ignored_reasons(d: &Decision) -> Vec<(String, Reason)> {
    d.ignored
        .iter()
        .map(|i| (i.approval.clone(), i.reason))
        .collect()
}

#[test]
fn without_policy_the_default_grants_as_requested_with_a_warning() {
    let mut c = Case::new(vec![]);
    let d = c.decide_stable();
    let (expires, basis, _) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::NoPolicy);
    assert_eq!(expires, Some(t("2026-03-01T12:05:00Z")), "2h from now");
    assert!(d.warnings.iter().any(|w| w.reason == Reason::NoPolicy));
    assert_eq!(d.record.approved_by.as_deref(), Some("no policy"));
    assert_eq!(d.condition(1).status, "True");
}

#[test]
fn without_policy_the_deny_mode_denies_with_an_actionable_message() {
    let mut c = Case::new(vec![]);
    c.without = WithoutPolicy::Deny;
    let d = c.decide_stable();
    let (reason, message) = expect_deny(&d);
    assert_eq!(reason, Reason::PolicyRequired);
    assert!(message.contains("add a policy"), "{message}");
    assert_eq!(d.condition(1).status, "False");
}

#[test]
fn a_matching_rule_waits_for_approval_until_the_timeout() {
    let mut c = Case::new(default_policy());
    let d = c.decide_stable();
    match &d.outcome {
        Outcome::AwaitingApproval {
            missing,
            deadline,
            message,
        } => {
            assert_eq!(*missing, 1);
            assert_eq!(
                *deadline,
                t("2026-03-01T11:00:00Z"),
                "created + approvalTimeout"
            );
            assert!(message.contains("policy default rule boards"), "{message}");
            assert!(message.contains("alice"), "names the requester: {message}");
            assert!(message.contains("generation 1"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.requeue_at, Some(t("2026-03-01T11:00:00Z")));
    assert_eq!(
        d.rule,
        Some(RuleRef {
            policy: "default".into(),
            rule: "boards".into()
        })
    );
    assert_eq!(d.record.pending_generation, Some(1));
    assert_eq!(d.record.policy.as_deref(), Some("default"));
    assert_eq!(d.condition(1).status, "Unknown");
}

#[test]
fn one_approval_by_another_user_approves_and_names_the_approver() {
    let mut c = Case::new(default_policy());
    c.approvals = vec![approve("bob-ok", "bob")];
    let d = c.decide_stable();
    let (expires, basis, ext) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::Approvals);
    assert_eq!(ext, None);
    assert_eq!(expires, Some(t("2026-03-01T12:05:00Z")));
    assert_eq!(d.record.approved_by.as_deref(), Some("bob"));
    assert_eq!(d.record.approvers, vec!["bob".to_string()]);
    assert_eq!(d.record.approved_generation, Some(1));
    assert_eq!(d.record.approved_at, Some(Time(t("2026-03-01T10:01:00Z"))));
    assert_eq!(d.record.max_duration.as_deref(), Some("8h"));
    let message = d.outcome.message();
    assert!(
        message.contains("approved by bob")
            && message.contains("rule boards")
            && message.contains("alice"),
        "{message}"
    );
}

#[test]
fn two_required_approvals_need_two_distinct_approvers() {
    let mut r = rule("admin", "role:admin:assigned");
    r.required_approvals = 2;
    let mut c = Case::new(vec![policy("default", vec![r])]);
    c.spec = spec("role:admin:assigned");
    c.approvals = vec![approve("bob-1", "bob"), approve("bob-2", "bob")];
    let d = c.decide_stable();
    match &d.outcome {
        Outcome::AwaitingApproval { missing, .. } => assert_eq!(*missing, 1),
        other => panic!("one approver is not enough: {other:?}"),
    }
    assert_eq!(
        ignored_reasons(&d),
        vec![("bob-2".into(), Reason::DuplicateApprover)]
    );
    assert_eq!(d.record.approved_by.as_deref(), Some("bob (1 of 2)"));

    c.approvals.push(approval(
        "dave-1",
        "dave",
        1,
        ApprovalDecision::Approve,
        "2026-03-01T10:03:00Z",
    ));
    let d = c.decide_stable();
    let (_, basis, _) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::Approvals);
    assert_eq!(d.record.approved_by.as_deref(), Some("bob, dave"));
    assert_eq!(
        d.record.approved_at,
        Some(Time(t("2026-03-01T10:03:00Z"))),
        "approved when the second approval came"
    );
}

#[test]
fn self_approval_is_ignored_and_reported_without_break_glass() {
    let mut c = Case::new(default_policy());
    c.approvals = vec![approve("alice-self", "alice")];
    let d = c.decide_stable();
    assert!(
        matches!(d.outcome, Outcome::AwaitingApproval { .. }),
        "{:?}",
        d.outcome
    );
    assert_eq!(
        ignored_reasons(&d),
        vec![("alice-self".into(), Reason::SelfApproval)]
    );
    assert!(d.ignored[0].message.contains("alice requested this access"));
    assert_eq!(d.record.ignored.len(), 1, "visible in status");
    assert_eq!(d.record.ignored[0].reason, "SelfApproval");
}

#[test]
fn break_glass_self_approval_approves_alone_with_the_shorter_cap() {
    let mut r = rule("boards", "board:*");
    r.required_approvals = 2;
    r.break_glass = Some(BreakGlass {
        enabled: true,
        max_duration: "1h".into(),
    });
    let mut c = Case::new(vec![policy("default", vec![r])]);
    c.approvals = vec![approve("alice-self", "alice")];
    let d = c.decide_stable();
    let (expires, basis, _) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::BreakGlass);
    assert!(d.is_break_glass());
    assert_eq!(
        expires,
        Some(t("2026-03-01T11:05:00Z")),
        "2h asked, 1h break-glass cap"
    );
    assert!(d.warnings.iter().any(|w| w.reason == Reason::ExpiryCapped));
    assert_eq!(d.record.approved_by.as_deref(), Some("alice (break-glass)"));
    assert_eq!(d.record.max_duration.as_deref(), Some("1h"));
    assert!(d.outcome.message().starts_with("BREAK-GLASS"));
    assert_eq!(d.outcome.reason(), Reason::BreakGlass);
}

#[test]
fn break_glass_is_not_used_when_other_approvals_suffice() {
    let mut r = rule("boards", "board:*");
    r.break_glass = Some(BreakGlass {
        enabled: true,
        max_duration: "1h".into(),
    });
    let mut c = Case::new(vec![policy("default", vec![r])]);
    c.approvals = vec![approve("alice-self", "alice"), approve("bob-ok", "bob")];
    let d = c.decide_stable();
    let (expires, basis, _) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::Approvals);
    assert_eq!(expires, Some(t("2026-03-01T12:05:00Z")), "the normal cap");
}

#[test]
fn approvals_for_another_version_grant_or_policy_and_non_approvers_are_ignored() {
    let mut r = rule("boards", "board:*");
    r.approvers = Some(Subjects {
        users: vec!["bob".into()],
        groups: vec!["leads".into()],
    });
    let mut c = Case::new(vec![policy("default", vec![r])]);
    let mut other_uid = approve("a-uid", "bob");
    other_uid.spec.grant_ref.uid = "uid-0".into();
    let other_gen = approval(
        "b-gen",
        "bob",
        2,
        ApprovalDecision::Approve,
        "2026-03-01T10:01:00Z",
    );
    let mut other_policy = approve("c-policy", "bob");
    other_policy.spec.policy_ref.name = "lax".into();
    let not_approver = approve("d-carol", "carol");
    let mut unstamped = approve("e-unknown", "bob");
    unstamped.spec.approver = None;
    let mut other_grant = approve("f-elsewhere", "bob");
    other_grant.spec.grant_ref.name = "another".into();
    let mut lead = approve("g-lead", "erin");
    lead.spec.approver = Some(who("erin", &["leads"]));
    c.approvals = vec![
        other_uid,
        other_gen,
        other_policy,
        not_approver,
        unstamped,
        other_grant,
    ];
    let d = c.decide_stable();
    assert!(
        matches!(d.outcome, Outcome::AwaitingApproval { .. }),
        "{:?}",
        d.outcome
    );
    assert_eq!(
        ignored_reasons(&d),
        vec![
            ("a-uid".into(), Reason::OtherGrant),
            ("b-gen".into(), Reason::OtherVersion),
            ("c-policy".into(), Reason::OtherPolicy),
            ("d-carol".into(), Reason::NotAnApprover),
            ("e-unknown".into(), Reason::ApproverUnknown),
        ],
        "approvals of other grants are not mentioned at all"
    );
    // A member of an approver group counts.
    c.approvals.push(lead);
    let (_, basis, _) = expect_allow(&c.decide_stable());
    assert_eq!(basis, ApprovalBasis::Approvals);
}

#[test]
fn a_deny_decides_even_with_enough_approvals() {
    let mut c = Case::new(default_policy());
    c.approvals = vec![
        approve("bob-ok", "bob"),
        approval(
            "dave-no",
            "dave",
            1,
            ApprovalDecision::Deny,
            "2026-03-01T10:02:00Z",
        ),
    ];
    let d = c.decide_stable();
    let (reason, message) = expect_deny(&d);
    assert_eq!(reason, Reason::DeniedByApprover);
    assert!(message.contains("dave denied"), "{message}");
    assert_eq!(d.record.denied.as_ref().map(|x| x.generation), Some(1));
}

#[test]
fn a_denied_request_stays_denied_when_approvals_arrive_later() {
    let mut c = Case::new(default_policy());
    c.approvals = vec![approval(
        "dave-no",
        "dave",
        1,
        ApprovalDecision::Deny,
        "2026-03-01T10:02:00Z",
    )];
    let first = c.decide();
    c.record = Some(first.record.clone());
    c.approvals = vec![approve("bob-ok", "bob")];
    let d = c.decide();
    assert_eq!(expect_deny(&d).0, Reason::DeniedByApprover);
    assert_eq!(d.record, first.record);
}

#[test]
fn a_deny_of_the_approved_version_revokes_it() {
    let mut c = Case::new(default_policy());
    c.approvals = vec![approve("bob-ok", "bob")];
    let granted = c.decide();
    c.record = Some(granted.record);
    c.granted_at = Some(t(NOW));
    c.expires_at = Some(t("2026-03-01T12:05:00Z"));
    c.approvals.push(approval(
        "dave-no",
        "dave",
        1,
        ApprovalDecision::Deny,
        "2026-03-01T10:30:00Z",
    ));
    c.now = t("2026-03-01T10:31:00Z");
    let (reason, message) = expect_deny(&c.decide());
    assert_eq!(reason, Reason::DeniedByApprover);
    assert!(message.contains("access is revoked"), "{message}");
}

#[test]
fn an_unapproved_request_is_denied_at_the_timeout_but_earlier_approvals_still_count() {
    let mut c = Case::new(default_policy());
    c.now = t("2026-03-01T11:00:00Z");
    let d = c.decide_stable();
    let (reason, message) = expect_deny(&d);
    assert_eq!(reason, Reason::ApprovalTimedOut);
    assert!(message.contains("not approved within 1h"), "{message}");

    // Decided late, but the approval was there before the deadline.
    c.approvals = vec![approve("bob-ok", "bob")];
    c.now = t("2026-03-01T11:30:00Z");
    assert_eq!(expect_allow(&c.decide()).1, ApprovalBasis::Approvals);

    // An approval after the deadline is too late.
    c.approvals = vec![approval(
        "bob-late",
        "bob",
        1,
        ApprovalDecision::Approve,
        "2026-03-01T11:10:00Z",
    )];
    let d = c.decide();
    assert_eq!(expect_deny(&d).0, Reason::ApprovalTimedOut);
    assert_eq!(
        ignored_reasons(&d),
        vec![("bob-late".into(), Reason::AfterDeadline)]
    );
}

#[test]
fn max_duration_caps_every_expiry() {
    let cases = [
        // (duration, expiresAt, expected expiry, capped)
        (Some("2h"), None, "2026-03-01T12:05:00Z", false),
        (Some("8h"), None, "2026-03-01T18:05:00Z", false),
        (Some("24h"), None, "2026-03-01T18:05:00Z", true),
        (
            None,
            Some("2026-03-01T13:00:00Z"),
            "2026-03-01T13:00:00Z",
            false,
        ),
        (
            None,
            Some("2026-03-09T00:00:00Z"),
            "2026-03-01T18:05:00Z",
            true,
        ),
    ];
    for (duration, expires_at, want, capped) in cases {
        let mut c = Case::new(default_policy());
        c.spec.duration = duration.map(String::from);
        c.spec.expires_at = expires_at.map(String::from);
        c.approvals = vec![approve("bob-ok", "bob")];
        let d = c.decide_stable();
        assert_eq!(
            expect_allow(&d).0,
            Some(t(want)),
            "{duration:?} {expires_at:?}"
        );
        assert_eq!(
            d.warnings.iter().any(|w| w.reason == Reason::ExpiryCapped),
            capped,
            "{duration:?} {expires_at:?}: {:?}",
            d.warnings
        );
    }
}

#[test]
fn a_permanent_request_is_denied_unless_the_rule_allows_it() {
    let mut c = Case::new(default_policy());
    c.spec.duration = None;
    let d = c.decide_stable();
    let (reason, message) = expect_deny(&d);
    assert_eq!(reason, Reason::NoRuleAllows);
    assert!(
        message.contains("closest: policy default rule boards")
            && message.contains("without expiry is not allowed")
            && message.contains("at most 8h"),
        "{message}"
    );

    let mut r = rule("boards", "board:*");
    r.allow_permanent = true;
    let mut c = Case::new(vec![policy("default", vec![r])]);
    c.spec.duration = None;
    c.approvals = vec![approve("bob-ok", "bob")];
    assert_eq!(expect_allow(&c.decide_stable()).0, None, "until deleted");
}

#[test]
fn the_justification_pattern_is_enforced() {
    let mut r = rule("boards", "board:*");
    r.reason_pattern = Some("^(INC|CHG)-[0-9]+".into());
    let cases = [
        (Some("INC-42 outage"), None),
        (Some("CHG-7"), None),
        (Some("because"), Some("does not match")),
        (None, Some("a reason matching")),
        (Some(""), Some("a reason matching")),
    ];
    for (reason, denied) in cases {
        let mut c = Case::new(vec![policy("default", vec![r.clone()])]);
        c.spec.reason = reason.map(String::from);
        let d = c.decide_stable();
        match denied {
            None => assert!(
                matches!(d.outcome, Outcome::AwaitingApproval { .. }),
                "{reason:?}: {:?}",
                d.outcome
            ),
            Some(text) => {
                let (why, message) = expect_deny(&d);
                assert_eq!(why, Reason::NoRuleAllows);
                assert!(message.contains(text), "{reason:?}: {message}");
            }
        }
    }
}

#[test]
fn no_rule_allowing_names_the_closest_rule() {
    let mut strict = rule("tickets", "board:*");
    strict.reason_pattern = Some("^JIRA-".into());
    let admin = rule("admins", "role:admin:assigned");
    let mut c = Case::new(vec![
        policy("a-roles", vec![admin]),
        policy("b-boards", vec![strict]),
    ]);
    let d = c.decide_stable();
    let (reason, message) = expect_deny(&d);
    assert_eq!(reason, Reason::NoRuleAllows);
    assert!(
        message.starts_with("no rule of MondayAccessPolicy a-roles, b-boards allows board:42:subscriber; closest: policy b-boards rule tickets: reason \"INC-42 outage\" does not match \"^JIRA-\""),
        "{message}"
    );
    assert_eq!(d.record.policy.as_deref(), Some("b-boards"));

    // Only an entitlement mismatch: the message lists the patterns.
    let mut c = Case::new(vec![policy(
        "a-roles",
        vec![rule("admins", "role:admin:assigned")],
    )]);
    let (_, message) = expect_deny(&c.decide_stable());
    assert!(
        message.contains("board:42:subscriber matches none of role:admin:assigned"),
        "{message}"
    );

    // A policy without rules denies everything.
    let mut c = Case::new(vec![policy("lockdown", vec![])]);
    let (_, message) = expect_deny(&c.decide_stable());
    assert!(message.contains("lockdown has no rules"), "{message}");
}

#[test]
fn requesters_restrict_who_may_ask() {
    let mut r = rule("boards", "board:*");
    r.requesters = Some(Subjects {
        users: vec![],
        groups: vec!["sre".into()],
    });
    let mut c = Case::new(vec![policy("default", vec![r])]);
    let (_, message) = expect_deny(&c.decide_stable());
    assert!(
        message.contains("requester alice is not among its requesters (groups sre)"),
        "{message}"
    );
    c.spec.requester = Some(who("alice", &["sre"]));
    assert!(matches!(
        c.decide_stable().outcome,
        Outcome::AwaitingApproval { .. }
    ));
}

#[test]
fn boards_of_a_workspace_are_matched_through_the_looked_up_workspace() {
    let mut r = rule("ws7", "board:*");
    r.entitlements[0].workspace_ids = vec!["7".into()];
    let policies = vec![policy("default", vec![r])];
    assert_eq!(
        board_needing_workspace("board:42:subscriber", &policies),
        Some("42")
    );
    assert_eq!(
        board_needing_workspace("workspace:7:owner", &policies),
        None
    );
    assert_eq!(
        board_needing_workspace("board:42:subscriber", &default_policy()),
        None,
        "no lookup when no rule needs it"
    );

    let mut c = Case::new(policies);
    c.board = BoardWorkspace::Workspace("7".into());
    assert!(matches!(
        c.decide_stable().outcome,
        Outcome::AwaitingApproval { .. }
    ));

    c.board = BoardWorkspace::Workspace("8".into());
    let (_, message) = expect_deny(&c.decide_stable());
    assert!(
        message.contains("the board must be in workspace 7, it is in workspace 8"),
        "{message}"
    );

    c.board = BoardWorkspace::MainWorkspace;
    let (_, message) = expect_deny(&c.decide_stable());
    assert!(message.contains("main workspace"), "{message}");

    c.board = BoardWorkspace::Unknown;
    let d = c.decide_stable();
    match &d.outcome {
        Outcome::Undecided { reason, .. } => {
            assert_eq!(*reason, Reason::BoardWorkspaceUnknown)
        }
        other => panic!("unknown workspace must not deny for good: {other:?}"),
    }
    assert!(d.record.denied.is_none());
}

#[test]
fn the_first_allowing_rule_governs_and_overlaps_are_reported() {
    let mut auto = rule("auto", "board:*:subscriber");
    auto.required_approvals = 0;
    auto.max_duration = Some("1h".into());
    let mut c = Case::new(vec![
        policy("a", vec![auto]),
        policy("b", vec![rule("boards", "board:*")]),
    ]);
    let d = c.decide_stable();
    let (expires, basis, _) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::Policy);
    assert_eq!(expires, Some(t("2026-03-01T11:05:00Z")));
    assert_eq!(d.record.approved_by.as_deref(), Some("policy a"));
    assert!(
        d.warnings
            .iter()
            .any(|w| w.reason == Reason::OverlappingRules
                && w.message.contains("policy b rule boards also allows")),
        "{:?}",
        d.warnings
    );
}

/// Approved and granted at 10:05 until 12:05; the requester then extends to 6h (generation 2).
fn extended_case() -> Case {
    let mut c = Case::new(default_policy());
    c.approvals = vec![approve("bob-ok", "bob")];
    let d = c.decide();
    c.record = Some(d.record);
    c.granted_at = Some(t(NOW));
    c.expires_at = Some(t("2026-03-01T12:05:00Z"));
    c.generation = 2;
    c.spec.duration = Some("12h".into());
    c.now = t("2026-03-01T11:00:00Z");
    c
}

#[test]
fn an_extension_needs_a_new_approval_and_is_capped_from_the_grant_time() {
    let mut c = extended_case();
    let d = c.decide_stable();
    let (expires, _, ext) = expect_allow(&d);
    assert_eq!(
        expires,
        Some(t("2026-03-01T12:05:00Z")),
        "the approved expiry stays"
    );
    assert_eq!(
        ext,
        Some(Extension::Pending {
            missing: 1,
            deadline: t("2026-03-01T12:00:00Z")
        })
    );
    assert_eq!(d.outcome.reason(), Reason::ExtensionAwaitingApproval);
    assert_eq!(d.record.pending_generation, Some(2));
    assert_eq!(d.record.approved_generation, Some(1));
    assert_eq!(
        ignored_reasons(&d),
        vec![],
        "the approval of the version in force is not reported"
    );

    c.record = Some(d.record);
    c.approvals.push(approval(
        "bob-ext",
        "bob",
        2,
        ApprovalDecision::Approve,
        "2026-03-01T11:10:00Z",
    ));
    c.now = t("2026-03-01T11:11:00Z");
    let d = c.decide_stable();
    let (expires, basis, ext) = expect_allow(&d);
    assert_eq!((basis, ext), (ApprovalBasis::Approvals, None));
    assert_eq!(
        expires,
        Some(t("2026-03-01T18:05:00Z")),
        "12h asked, 8h from the grant at 10:05"
    );
    assert_eq!(d.record.approved_generation, Some(2));
    assert_eq!(d.record.pending_generation, None);
}

#[test]
fn an_extension_denied_or_timed_out_keeps_the_approved_expiry() {
    let mut c = extended_case();
    c.approvals.push(approval(
        "dave-no",
        "dave",
        2,
        ApprovalDecision::Deny,
        "2026-03-01T11:10:00Z",
    ));
    let d = c.decide_stable();
    let (expires, _, ext) = expect_allow(&d);
    assert_eq!(expires, Some(t("2026-03-01T12:05:00Z")));
    assert!(
        matches!(
            &ext,
            Some(Extension::Refused {
                reason: Reason::ExtensionDenied,
                ..
            })
        ),
        "{ext:?}"
    );
    assert!(d.record.denied.is_none(), "not terminal");

    let mut c = extended_case();
    let waiting = c.decide();
    c.record = Some(waiting.record);
    c.now = t("2026-03-01T12:01:00Z");
    let d = c.decide_stable();
    let (expires, _, ext) = expect_allow(&d);
    assert_eq!(expires, Some(t("2026-03-01T12:05:00Z")));
    assert!(
        matches!(
            &ext,
            Some(Extension::Refused {
                reason: Reason::ExtensionTimedOut,
                ..
            })
        ),
        "{ext:?}"
    );
}

#[test]
fn the_approved_version_stays_approved_when_the_policy_changes_or_approvals_go() {
    let mut c = Case::new(default_policy());
    c.approvals = vec![approve("bob-ok", "bob")];
    let d = c.decide();
    c.record = Some(d.record.clone());
    c.granted_at = Some(t(NOW));
    c.expires_at = Some(t("2026-03-01T12:05:00Z"));
    c.approvals.clear();
    c.policies[0].spec.rules[0].required_approvals = 3;
    c.policies[0].spec.rules[0].max_duration = Some("1h".into());
    let d2 = c.decide_stable();
    let (expires, basis, _) = expect_allow(&d2);
    assert_eq!(expires, Some(t("2026-03-01T12:05:00Z")));
    assert_eq!(basis, ApprovalBasis::Approvals);
    assert_eq!(d2.record.approved_by, d.record.approved_by);

    // Even when every policy is deleted.
    c.policies.clear();
    assert_eq!(expect_allow(&c.decide_stable()).1, ApprovalBasis::Approvals);
}

#[test]
fn an_approved_grant_retried_before_it_landed_keeps_the_approved_cap() {
    let mut c = Case::new(default_policy());
    c.spec.duration = Some("24h".into());
    c.approvals = vec![approve("bob-ok", "bob")];
    let d = c.decide();
    c.record = Some(d.record);
    c.now = t("2026-03-01T10:30:00Z");
    let (expires, ..) = expect_allow(&c.decide());
    assert_eq!(
        expires,
        Some(t("2026-03-01T18:30:00Z")),
        "8h from the actual grant"
    );
}

#[test]
fn migration_grants_granted_before_policies_keep_their_access_and_extensions_need_approval() {
    let mut c = Case::new(default_policy());
    c.spec.requester = None;
    c.granted_at = Some(t("2026-02-28T09:00:00Z"));
    c.expires_at = Some(t("2026-03-02T09:00:00Z"));
    c.spec.duration = Some("48h".into());
    let d = c.decide_stable();
    let (expires, basis, _) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::GrantedBeforePolicy);
    assert_eq!(
        expires,
        Some(t("2026-03-02T09:00:00Z")),
        "stored expiry, not capped"
    );
    assert_eq!(d.record.approved_by.as_deref(), Some("before policy"));

    // Extended after the upgrade: needs approval under the policy.
    c.record = Some(d.record);
    c.generation = 2;
    c.spec.duration = Some("72h".into());
    let d = c.decide_stable();
    let (expires, _, ext) = expect_allow(&d);
    assert_eq!(expires, Some(t("2026-03-02T09:00:00Z")));
    assert!(matches!(ext, Some(Extension::Pending { .. })), "{ext:?}");
    assert!(
        d.warnings
            .iter()
            .any(|w| w.reason == Reason::RequesterUnknown)
    );
}

#[test]
fn migration_a_request_without_requester_that_is_not_granted_is_decided_like_any_other() {
    let mut r = rule("boards", "board:*");
    r.break_glass = Some(BreakGlass {
        enabled: true,
        max_duration: "1h".into(),
    });
    let mut c = Case::new(vec![policy("default", vec![r])]);
    c.spec.requester = None;
    c.approvals = vec![approve("alice-self", "alice")];
    let d = c.decide_stable();
    // Without a requester nobody is "self": alice's approval counts as an ordinary one.
    assert_eq!(expect_allow(&d).1, ApprovalBasis::Approvals);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.reason == Reason::RequesterUnknown)
    );
    assert!(d.outcome.message().contains("an unknown requester"));
}

#[test]
fn conductor_one_grants_bypass_in_cluster_policy() {
    let mut c = Case::new(vec![policy("lockdown", vec![])]);
    c.spec.conductor_one = Some(ConductorOneOrigin {
        task_id: "2qYpQ5Z9rJc8Xb1nLk3mVt7wHs0".into(),
    });
    c.spec.duration = Some("72h".into());
    let d = c.decide_stable();
    let (expires, basis, _) = expect_allow(&d);
    assert_eq!(basis, ApprovalBasis::ConductorOne);
    assert_eq!(
        expires,
        Some(t("2026-03-04T10:05:00Z")),
        "not capped by any rule"
    );
    assert_eq!(d.record.approved_by.as_deref(), Some("ConductorOne"));
}

#[test]
fn an_invalid_rule_leaves_the_request_undecided() {
    let mut r = rule("boards", "board:*");
    r.reason_pattern = Some("(unclosed".into());
    let mut c = Case::new(vec![policy("default", vec![r])]);
    let d = c.decide_stable();
    match &d.outcome {
        Outcome::Undecided { reason, message } => {
            assert_eq!(*reason, Reason::InvalidPolicy);
            assert!(
                message.contains("not a valid regular expression"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn requeue_and_record_stay_stable_while_waiting() {
    let mut c = Case::new(default_policy());
    let first = c.decide();
    c.record = Some(first.record.clone());
    c.now = t("2026-03-01T10:30:00Z");
    let later = c.decide();
    assert_eq!(
        later.record, first.record,
        "no status write while nothing changes"
    );
    assert_eq!(later.requeue_at, first.requeue_at);
}

#[test]
fn glob_patterns() {
    let cases = [
        ("*", "board:42:owner", true),
        ("board:*", "board:42:owner", true),
        ("board:*:owner", "board:42:owner", true),
        ("board:*:owner", "board:42:subscriber", false),
        ("board:42:*", "board:420:owner", false),
        ("account:*", "account:active", true),
        ("role:admin:assigned", "role:admin:assigned", true),
        ("role:admin:assigned", "role:member:assigned", false),
        ("team:1*", "team:12:member", true),
        ("workspace:7:*", "workspace:7:owner", true),
        ("workspace:7:*", "workspace:77:owner", false),
        ("board:*", "workspace:1:owner", false),
    ];
    for (pattern, text, want) in cases {
        assert_eq!(glob_match(pattern, text), want, "{pattern} vs {text}");
    }
}
