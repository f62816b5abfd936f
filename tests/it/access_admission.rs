//! The apiserver itself records and checks who requests and who approves just-in-time access:
//! the chart's MutatingAdmissionPolicies and ValidatingAdmissionPolicies (rendered by `helm
//! template`, exactly what users install) on a real kube-apiserver, with several identities from
//! the static token file (alice requests, bob approves, carol and dave are checked against).

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kube::api::{Api, Patch, PatchParams, PostParams};
use monday_operator::api::{MondayAccessApproval, MondayAccessGrant};
use serde_json::json;
use support::ControlPlane;
use support::access::*;
use support::packaging::*;

/// A control plane of these tests' own (the admission policies are cluster-scoped), with the
/// chart's admission installed once.
async fn cluster() -> &'static ControlPlane {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let cp = support::own_control_plane("access-admission");
    INSTALLED
        .get_or_init(|| async {
            install(cp, &admission_docs(&[]), true).await;
        })
        .await;
    cp
}

/// A namespace where alice may request and bob may approve.
async fn team(cp: &ControlPlane, prefix: &str) -> String {
    let admin = support::client_for(&cp.kubeconfig).await;
    let ns = support::namespace(&admin, prefix).await;
    bind(cp, &ns, "monday-operator-access-requester", "alice");
    bind(cp, &ns, "monday-operator-access-approver", "bob");
    wait_for_permission(cp, &ns, "alice", "create", "mondayaccessgrants");
    wait_for_permission(cp, &ns, "bob", "approve", "mondayaccesspolicies");
    ns
}

fn groups(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_request_is_stamped_with_the_requesters_name_and_groups() {
    let cp = cluster().await;
    let ns = team(cp, "stamp").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let created = alice
        .create(&PostParams::default(), &grant("alice-roadmap", None))
        .await
        .expect("alice may request");
    let r = created.spec.requester.expect("stamped by the apiserver");
    assert_eq!(r.username, "alice");
    let mut g = r.groups.clone();
    g.sort();
    assert_eq!(g, groups(&["developers", "system:authenticated"]));

    // `kubectl get mgrant` shows it.
    let out = kubectl_with(&cp.kubeconfig, &["get", "mgrant", "-n", &ns]);
    let table = String::from_utf8_lossy(&out.stdout);
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.contains("REQUESTER") && header.contains("APPROVED BY"),
        "{table}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("alice-roadmap") && l.contains(" alice ")),
        "{table}"
    );
}

#[tokio::test]
async fn a_forged_requester_is_rejected_even_for_an_admin() {
    let cp = cluster().await;
    let ns = team(cp, "forged").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let (code, message) = rejected(
        alice
            .create(
                &PostParams::default(),
                &grant(
                    "as-bob",
                    Some(json!({"username": "bob", "groups": ["approvers"]})),
                ),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains("spec.requester must be the user creating the request (alice"),
        "{message}"
    );
    // Her own name with someone else's groups is forged too.
    let (code, _) = rejected(
        alice
            .create(
                &PostParams::default(),
                &grant(
                    "more-groups",
                    Some(json!({"username": "alice", "groups": ["system:authenticated", "developers", "approvers"]})),
                ),
            )
            .await,
    );
    assert_eq!(code, 403);
    // Her true identity typed by hand is accepted (groups in any order).
    alice
        .create(
            &PostParams::default(),
            &grant(
                "typed",
                Some(
                    json!({"username": "alice", "groups": ["system:authenticated", "developers"]}),
                ),
            ),
        )
        .await
        .expect("the truth is accepted");

    let admin: Api<MondayAccessGrant> =
        Api::namespaced(support::client_for(&cp.kubeconfig).await, &ns);
    let (code, message) = rejected(
        admin
            .create(
                &PostParams::default(),
                &grant(
                    "admin-as-alice",
                    Some(json!({"username": "alice", "groups": ["developers"]})),
                ),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(message.contains("(admin with groups"), "{message}");
}

#[tokio::test]
async fn the_requester_cannot_be_changed_or_removed_but_the_request_can_be_extended() {
    let cp = cluster().await;
    let ns = team(cp, "immutable").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    alice
        .create(&PostParams::default(), &grant("req", None))
        .await
        .unwrap();
    let admin: Api<MondayAccessGrant> =
        Api::namespaced(support::client_for(&cp.kubeconfig).await, &ns);
    let (code, message) = rejected(
        admin
            .patch(
                "req",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"requester": {"username": "mallory"}}})),
            )
            .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("requester is immutable"), "{message}");
    let (code, message) = rejected(
        admin
            .patch(
                "req",
                &PatchParams::default(),
                &Patch::<()>::Json(
                    serde_json::from_value(json!([{"op": "remove", "path": "/spec/requester"}]))
                        .unwrap(),
                ),
            )
            .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains("cannot be added or removed"), "{message}");

    // Extending is allowed (and moves the generation: a new version needs a new approval).
    let extended = alice
        .patch(
            "req",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"duration": "4h"}})),
        )
        .await
        .expect("alice may extend");
    assert_eq!(extended.metadata.generation, Some(2));
    assert_eq!(
        extended.spec.requester.map(|r| r.username).as_deref(),
        Some("alice")
    );
}

#[tokio::test]
async fn carol_without_the_approve_permission_cannot_approve() {
    let cp = cluster().await;
    let ns = team(cp, "carol").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let req = alice
        .create(&PostParams::default(), &grant("req", None))
        .await
        .unwrap();
    let carol: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "carol").await, &ns);

    // No RBAC at all: the apiserver's authorizer says no.
    let (code, message) = rejected(
        carol
            .create(
                &PostParams::default(),
                &approval("carol-1", &req, "default", None),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");

    // Allowed to create approval objects, but without verb approve on the policy: the
    // ValidatingAdmissionPolicy's authorizer check says no.
    let out = kubectl_with(
        &cp.kubeconfig,
        &[
            "create",
            "role",
            "approval-writer",
            "-n",
            &ns,
            "--verb=create",
            "--resource=mondayaccessapprovals.iga.monday-operator.dev",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let out = kubectl_with(
        &cp.kubeconfig,
        &[
            "create",
            "rolebinding",
            "carol-writer",
            "-n",
            &ns,
            "--role=approval-writer",
            "--user=carol",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    wait_for_permission(cp, &ns, "carol", "create", "mondayaccessapprovals");
    let (code, message) = rejected(
        carol
            .create(
                &PostParams::default(),
                &approval("carol-2", &req, "default", None),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains("carol may not approve under MondayAccessPolicy default")
            && message.contains("verb approve on mondayaccesspolicies"),
        "{message}"
    );
}

#[tokio::test]
async fn bob_with_the_approver_role_approves_and_is_stamped() {
    let cp = cluster().await;
    let ns = team(cp, "bob").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let req = alice
        .create(&PostParams::default(), &grant("req", None))
        .await
        .unwrap();
    let bob: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "bob").await, &ns);
    let a = bob
        .create(
            &PostParams::default(),
            &approval("bob-ok", &req, "default", None),
        )
        .await
        .expect("bob may approve");
    let who = a.spec.approver.expect("stamped");
    assert_eq!(who.username, "bob");
    let mut g = who.groups.clone();
    g.sort();
    assert_eq!(g, groups(&["approvers", "sre", "system:authenticated"]));
    assert_eq!(Some(&a.spec.grant_ref.uid), req.metadata.uid.as_ref());
    assert_eq!(a.spec.grant_ref.generation, 1);

    // A forged approver is rejected.
    let (code, message) = rejected(
        bob.create(
            &PostParams::default(),
            &approval(
                "as-dave",
                &req,
                "default",
                Some(json!({"username": "dave", "groups": ["approvers"]})),
            ),
        )
        .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains("spec.approver must be the user creating the approval (bob"),
        "{message}"
    );

    let out = kubectl_with(&cp.kubeconfig, &["get", "mapproval", "-n", &ns]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("APPROVER") && table.contains(" bob "),
        "{table}"
    );
}

#[tokio::test]
async fn an_approval_cannot_be_edited_even_by_an_admin() {
    let cp = cluster().await;
    let ns = team(cp, "edit").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let req = alice
        .create(&PostParams::default(), &grant("req", None))
        .await
        .unwrap();
    let bob: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "bob").await, &ns);
    bob.create(
        &PostParams::default(),
        &approval("bob-ok", &req, "default", None),
    )
    .await
    .unwrap();
    let admin: Api<MondayAccessApproval> =
        Api::namespaced(support::client_for(&cp.kubeconfig).await, &ns);
    for change in [
        json!({"spec": {"decision": "Deny"}}),
        json!({"spec": {"grantRef": {"generation": 2}}}),
        json!({"spec": {"approver": {"username": "dave"}}}),
        json!({"spec": {"comment": "reworded"}}),
    ] {
        let (code, message) = rejected(
            admin
                .patch("bob-ok", &PatchParams::default(), &Patch::Merge(&change))
                .await,
        );
        assert_eq!(code, 422, "{change}: {message}");
        assert!(
            message.contains("an approval cannot be changed"),
            "{message}"
        );
    }
    // Metadata (labels) may still change; the decision does not.
    admin
        .patch(
            "bob-ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"ticket": "inc-1234"}}})),
        )
        .await
        .expect("labels are not the decision");
}

#[tokio::test]
async fn the_approve_permission_can_be_confined_to_one_policy_by_name() {
    let cp = cluster().await;
    let ns = team(cp, "scoped").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let req = alice
        .create(&PostParams::default(), &grant("req", None))
        .await
        .unwrap();
    for args in [
        vec![
            "create",
            "role",
            "approve-admins",
            "--verb=approve",
            "--resource=mondayaccesspolicies.iga.monday-operator.dev",
            "--resource-name=admins",
        ],
        vec![
            "create",
            "role",
            "write-approvals",
            "--verb=create",
            "--resource=mondayaccessapprovals.iga.monday-operator.dev",
        ],
        vec![
            "create",
            "rolebinding",
            "dave-admins",
            "--role=approve-admins",
            "--user=dave",
        ],
        vec![
            "create",
            "rolebinding",
            "dave-writes",
            "--role=write-approvals",
            "--user=dave",
        ],
    ] {
        let mut a = args.clone();
        a.extend(["-n", &ns]);
        let out = kubectl_with(&cp.kubeconfig, &a);
        assert!(out.status.success(), "{}", show(&out));
    }
    wait_for_permission(cp, &ns, "dave", "approve", "mondayaccesspolicies/admins");
    let dave: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "dave").await, &ns);
    let (code, message) = rejected(
        dave.create(
            &PostParams::default(),
            &approval("d-1", &req, "default", None),
        )
        .await,
    );
    assert_eq!(code, 403, "{message}");
    dave.create(
        &PostParams::default(),
        &approval("d-2", &req, "admins", None),
    )
    .await
    .expect("dave may approve under policy admins");
}

/// A kubeconfig for a ServiceAccount, with a TokenRequest token.
fn service_account_kubeconfig(cp: &ControlPlane, ns: &str, sa: &str, dir: &Path) -> PathBuf {
    let out = kubectl_with(
        &cp.kubeconfig,
        &["create", "token", sa, "-n", ns, "--duration=1h"],
    );
    assert!(out.status.success(), "TokenRequest: {}", show(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(&cp.ca_pem);
    let path = dir.join(format!("{sa}.kubeconfig"));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: {sa}\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {sa}\ncurrent-context: test\n",
            cp.server
        ),
    )
    .unwrap();
    path
}

fn from_conductor_one(name: &str) -> MondayAccessGrant {
    let mut g = grant(name, None);
    g.spec.conductor_one =
        serde_json::from_value(json!({"taskId": "2qYpQ5Z9rJc8Xb1nLk3mVt7wHs0"})).unwrap();
    g
}

#[tokio::test]
async fn only_the_operator_service_account_may_mark_a_grant_as_coming_from_conductor_one() {
    let cp = cluster().await;
    let ns = team(cp, "c1").await;
    let admin_client = support::client_for(&cp.kubeconfig).await;

    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let (code, message) = rejected(
        alice
            .create(&PostParams::default(), &from_conductor_one("by-alice"))
            .await,
    );
    assert_eq!(code, 403, "{message}");
    assert!(
        message.contains(
            "only the operator (system:serviceaccount:monday-operator:monday-operator) may create a grant marked spec.conductorOne; alice may not"
        ),
        "{message}"
    );
    let admin: Api<MondayAccessGrant> = Api::namespaced(admin_client.clone(), &ns);
    let (code, _) = rejected(
        admin
            .create(&PostParams::default(), &from_conductor_one("by-admin"))
            .await,
    );
    assert_eq!(code, 403, "not even a cluster admin");

    // The operator's ServiceAccount (the chart's, in the release namespace) may.
    let out = kubectl_with(&cp.kubeconfig, &["create", "namespace", "monday-operator"]);
    let exists = String::from_utf8_lossy(&out.stderr).contains("AlreadyExists");
    assert!(out.status.success() || exists, "{}", show(&out));
    let out = kubectl_with(
        &cp.kubeconfig,
        &[
            "create",
            "serviceaccount",
            "monday-operator",
            "-n",
            "monday-operator",
        ],
    );
    let exists = String::from_utf8_lossy(&out.stderr).contains("AlreadyExists");
    assert!(out.status.success() || exists, "{}", show(&out));
    let out = kubectl_with(
        &cp.kubeconfig,
        &[
            "create",
            "rolebinding",
            "operator-records",
            "-n",
            &ns,
            "--clusterrole=monday-operator-access-requester",
            "--serviceaccount=monday-operator:monday-operator",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    wait_for_permission(
        cp,
        &ns,
        "system:serviceaccount:monday-operator:monday-operator",
        "create",
        "mondayaccessgrants",
    );
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig =
        service_account_kubeconfig(cp, "monday-operator", "monday-operator", dir.path());
    let operator: Api<MondayAccessGrant> =
        Api::namespaced(support::client_for(&kubeconfig).await, &ns);
    let created = operator
        .create(&PostParams::default(), &from_conductor_one("from-c1"))
        .await
        .expect("the operator may record a ConductorOne grant");
    assert_eq!(
        created.spec.requester.map(|r| r.username).as_deref(),
        Some("system:serviceaccount:monday-operator:monday-operator")
    );
    assert!(created.spec.conductor_one.is_some());

    // Nobody can add or remove the marker afterwards.
    let (code, message) = rejected(
        admin
            .patch(
                "from-c1",
                &PatchParams::default(),
                &Patch::<()>::Json(
                    serde_json::from_value(json!([{"op": "remove", "path": "/spec/conductorOne"}]))
                        .unwrap(),
                ),
            )
            .await,
    );
    assert_eq!(code, 422, "{message}");
    let plain = alice
        .create(&PostParams::default(), &grant("plain", None))
        .await
        .unwrap();
    assert!(plain.spec.conductor_one.is_none());
    let (code, message) = rejected(
        admin
            .patch(
                "plain",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"conductorOne": {"taskId": "x"}}})),
            )
            .await,
    );
    assert_eq!(code, 422, "{message}");
}

/// An apiserver that serves no MutatingAdmissionPolicy API (like clusters before 1.36), with the
/// chart rendered for it (`admission.mutatingAdmissionPolicy=false`).
fn legacy_cluster() -> &'static ControlPlane {
    static CP: OnceLock<ControlPlane> = OnceLock::new();
    CP.get_or_init(|| {
        support::start_control_plane(&support::ControlPlaneOptions {
            apiserver_args: vec![
                "--feature-gates=MutatingAdmissionPolicy=false".into(),
                "--runtime-config=admissionregistration.k8s.io/v1/mutatingadmissionpolicies=false,admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings=false".into(),
            ],
            name: "no-map".into(),
            ..Default::default()
        })
        .expect("control plane without MutatingAdmissionPolicy")
    })
}

#[tokio::test]
async fn without_mutating_admission_policy_the_creator_must_state_their_own_identity() {
    let cp = legacy_cluster();
    // The API really is absent.
    let out = kubectl_with(
        &cp.kubeconfig,
        &[
            "api-resources",
            "--api-group=admissionregistration.k8s.io",
            "-o",
            "name",
        ],
    );
    let served = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", show(&out));
    assert!(served.contains("validatingadmissionpolicies"), "{served}");
    assert!(!served.contains("mutatingadmissionpolicies"), "{served}");
    // The chart's default (with MutatingAdmissionPolicies) cannot be applied there: loud, not
    // silent.
    let docs = admission_docs(&[]);
    assert!(docs.iter().any(|d| d["kind"] == "MutatingAdmissionPolicy"));
    let docs = admission_docs(&["admission.mutatingAdmissionPolicy=false"]);
    assert!(
        docs.iter()
            .all(|d| !d["kind"].as_str().unwrap().starts_with("Mutating")),
        "{:?}",
        kinds(&docs)
    );
    install(cp, &docs, false).await;

    let ns = team(cp, "legacy").await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    // Nothing stamps it: a request without requester is rejected, and the message says exactly
    // what to write.
    let (code, message) = rejected(
        alice
            .create(&PostParams::default(), &grant("plain", None))
            .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains(r#"set it to your own identity: {username: "alice", groups: ["#)
            && message.contains(r#""developers""#)
            && message.contains(r#""system:authenticated""#),
        "{message}"
    );
    // A forged one is rejected as with the mutating policy.
    let (code, _) = rejected(
        alice
            .create(
                &PostParams::default(),
                &grant(
                    "forged",
                    Some(json!({"username": "bob", "groups": ["approvers"]})),
                ),
            )
            .await,
    );
    assert_eq!(code, 403);
    // The truth, typed by the requester, is accepted.
    let req = alice
        .create(
            &PostParams::default(),
            &grant(
                "typed",
                Some(
                    json!({"username": "alice", "groups": ["developers", "system:authenticated"]}),
                ),
            ),
        )
        .await
        .expect("accepted");

    // Approvals the same way; the approve permission is checked as before.
    let bob: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "bob").await, &ns);
    let (code, message) = rejected(
        bob.create(
            &PostParams::default(),
            &approval("bob-plain", &req, "default", None),
        )
        .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(message.contains(r#"{username: "bob""#), "{message}");
    bob.create(
        &PostParams::default(),
        &approval(
            "bob-typed",
            &req,
            "default",
            Some(
                json!({"username": "bob", "groups": ["system:authenticated", "sre", "approvers"]}),
            ),
        ),
    )
    .await
    .expect("bob's own identity is accepted");
    let carol: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "carol").await, &ns);
    let (code, _) = rejected(
        carol
            .create(
                &PostParams::default(),
                &approval(
                    "carol-typed",
                    &req,
                    "default",
                    Some(json!({"username": "carol", "groups": ["developers", "system:authenticated"]})),
                ),
            )
            .await,
    );
    assert_eq!(code, 403, "carol has no RBAC here at all");
}
