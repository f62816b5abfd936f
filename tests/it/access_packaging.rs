//! How the chart and the kustomize config ship just-in-time access: admission policies, the
//! ClusterRoles for people, and the sample policy (rendered without a cluster; the admission
//! behaviour itself is proven on a real apiserver in tests/access_admission.rs).

use crate::support;

use monday_operator::api::{MondayAccessGrant, MondayAccessPolicy};
use monday_operator::controller::policy::{self, BoardWorkspace, GrantView, Inputs, Outcome};
use serde_json::{Value, json};
use support::packaging::*;

const NS: &str = "ops";
const REL: &str = "monday-operator";

fn names(docs: &[Value], kind: &str) -> Vec<String> {
    let mut v: Vec<String> = all_of(docs, kind)
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn admission_policies_and_access_roles_follow_their_values() {
    let docs = render(REL, NS, &[]);
    assert_eq!(
        names(&docs, "MutatingAdmissionPolicy"),
        [
            "monday-operator-stamp-approver",
            "monday-operator-stamp-requester"
        ]
    );
    assert_eq!(
        names(&docs, "ValidatingAdmissionPolicy"),
        [
            "monday-operator-access-approvals",
            "monday-operator-access-grants"
        ]
    );
    for kind in ["MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"] {
        for p in all_of(&docs, kind) {
            assert_eq!(p["spec"]["failurePolicy"], "Fail", "{p}");
        }
    }
    for b in all_of(&docs, "ValidatingAdmissionPolicyBinding") {
        assert_eq!(b["spec"]["validationActions"], json!(["Deny"]));
        assert!(
            b["spec"].get("matchResources").is_none(),
            "cluster-wide by default"
        );
    }

    let docs = render(REL, NS, &["admission.mutatingAdmissionPolicy=false"]);
    assert!(names(&docs, "MutatingAdmissionPolicy").is_empty());
    assert!(names(&docs, "MutatingAdmissionPolicyBinding").is_empty());
    assert_eq!(names(&docs, "ValidatingAdmissionPolicy").len(), 2);

    let docs = render(REL, NS, &["admission.enabled=false"]);
    for kind in [
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        assert!(names(&docs, kind).is_empty(), "{kind}");
    }

    let docs = render(REL, NS, &["accessRoles.create=false"]);
    assert_eq!(names(&docs, "ClusterRole"), ["monday-operator"]);
}

#[test]
fn the_access_roles_grant_what_each_person_needs_and_approving_never_aggregates() {
    let docs = render(REL, NS, &[]);
    let rules =
        |role: &str| find(&docs, "ClusterRole", &format!("{REL}-access-{role}"))["rules"].clone();
    assert_eq!(
        rules("approver")[0],
        json!({"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayaccesspolicies"], "verbs": ["approve"]})
    );
    assert_eq!(
        rules("approver")[1],
        json!({"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayaccessapprovals"], "verbs": ["create"]}),
        "approvers create approvals; nobody but an admin updates or deletes them"
    );
    assert_eq!(
        rules("requester")[0],
        json!({"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayaccessgrants"], "verbs": ["create", "update", "patch", "delete"]})
    );
    for role in ["viewer", "requester"] {
        let text = rules(role).to_string();
        assert!(
            !text.contains("approve\""),
            "{role} must not approve: {text}"
        );
        assert!(
            !text.contains("/status"),
            "{role} must not write status: {text}"
        );
    }
    for role in ["viewer", "requester", "approver", "policy-admin"] {
        let labels =
            &find(&docs, "ClusterRole", &format!("{REL}-access-{role}"))["metadata"]["labels"];
        assert!(
            labels
                .as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("rbac.authorization.k8s.io/aggregate-to")),
            "{role}: no aggregation by default"
        );
    }

    let docs = render(REL, NS, &["accessRoles.aggregateToDefaultRoles=true"]);
    let labels = |role: &str| {
        find(&docs, "ClusterRole", &format!("{REL}-access-{role}"))["metadata"]["labels"].clone()
    };
    assert_eq!(
        labels("viewer")["rbac.authorization.k8s.io/aggregate-to-view"],
        "true"
    );
    assert_eq!(
        labels("requester")["rbac.authorization.k8s.io/aggregate-to-edit"],
        "true"
    );
    assert!(
        labels("requester")
            .get("rbac.authorization.k8s.io/aggregate-to-view")
            .is_none()
    );
    assert_eq!(
        labels("policy-admin")["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
    assert!(
        labels("approver")
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("rbac.authorization.k8s.io/aggregate-to")),
        "approving is granted on purpose, never through admin/edit"
    );
}

#[test]
fn the_conductor_one_check_names_the_releases_own_service_account() {
    let variable = |docs: &[Value]| {
        find(
            docs,
            "ValidatingAdmissionPolicy",
            &format!("{REL}-access-grants"),
        )["spec"]["variables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "operator")
            .unwrap()["expression"]
            .clone()
    };
    assert_eq!(
        variable(&render(REL, NS, &[])),
        json!("\"system:serviceaccount:ops:monday-operator\"")
    );
    assert_eq!(
        variable(&render(
            REL,
            NS,
            &["serviceAccount.create=false", "serviceAccount.name=iga-bot"]
        )),
        json!("\"system:serviceaccount:ops:iga-bot\"")
    );
}

#[test]
fn with_watch_namespace_the_admission_bindings_cover_that_namespace_only() {
    let docs = render(REL, NS, &["watchNamespace=team-a"]);
    for kind in [
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicyBinding",
    ] {
        let bindings = all_of(&docs, kind);
        assert_eq!(bindings.len(), 2, "{kind}");
        for b in bindings {
            assert_eq!(
                b["spec"]["matchResources"],
                json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}}),
                "{b}"
            );
        }
    }
}

#[test]
fn the_charts_samples_are_the_config_samples() {
    for (chart, config) in [
        (
            "samples/access-policy.yaml",
            "config/samples/access_policy.yaml",
        ),
        (
            "samples/access-grant.yaml",
            "config/samples/access_grant.yaml",
        ),
    ] {
        let a = std::fs::read_to_string(chart_dir().join(chart)).unwrap();
        let b = std::fs::read_to_string(root().join(config)).unwrap();
        assert!(a == b, "{chart} differs from {config}: copy it");
    }
    let approval =
        std::fs::read_to_string(chart_dir().join("samples/access-approval.yaml")).unwrap();
    let docs = parse_docs(&approval);
    assert_eq!(docs[0]["kind"], "MondayAccessApproval");
    assert_eq!(docs[0]["spec"]["grantRef"]["name"], "jane-board-42");
}

/// The sample grant, as its requester would create it, under the sample policy: it waits for one
/// approval under rule "boards" (the decision the operator will make).
#[test]
fn the_sample_grant_waits_for_one_approval_under_the_sample_policy() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap();
    let mut policy: MondayAccessPolicy =
        serde_saphyr::from_str(&read("config/samples/access_policy.yaml")).expect("policy");
    policy.metadata.namespace = Some("iga".into());
    let mut grant: MondayAccessGrant =
        serde_saphyr::from_str(&read("config/samples/access_grant.yaml")).expect("grant");
    grant.spec.requester =
        serde_json::from_value(json!({"username": "jane", "groups": ["system:authenticated"]}))
            .unwrap();
    grant.metadata.uid = Some("uid".into());
    grant.metadata.generation = Some(1);
    let now: jiff::Timestamp = "2026-03-01T10:00:00Z".parse().unwrap();
    grant.metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
    let d = policy::decide(&Inputs {
        grant: GrantView::of(&grant).unwrap(),
        policies: std::slice::from_ref(&policy),
        approvals: &[],
        board_workspace: BoardWorkspace::Unknown,
        without_policy: Default::default(),
        now,
    });
    match &d.outcome {
        Outcome::AwaitingApproval { missing, .. } => assert_eq!(*missing, 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.rule.map(|r| r.rule).as_deref(), Some("boards"));
}

fn kustomize(dir: &str) -> Vec<Value> {
    let out = kubectl_offline(&["kustomize", &root().join(dir).display().to_string()]);
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        show(&out)
    );
    parse_docs(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn kustomize_without_mutating_policy_is_the_default_minus_the_mutating_policies() {
    let full = kinds(&kustomize("config/default"));
    let legacy = kinds(&kustomize("config/default-without-mutating-policy"));
    let expected: Vec<String> = full
        .iter()
        .filter(|k| !k.starts_with("MutatingAdmissionPolicy"))
        .cloned()
        .collect();
    assert_eq!(legacy, expected);
    assert!(
        full.iter()
            .any(|k| k.starts_with("MutatingAdmissionPolicy/"))
    );
    // Same objects as the chart rendered with admission.mutatingAdmissionPolicy=false.
    let mut chart = kinds(&render(
        REL,
        REL,
        &["admission.mutatingAdmissionPolicy=false"],
    ));
    chart.push("Namespace/monday-operator".into());
    chart.sort();
    assert_eq!(legacy, chart);
}
