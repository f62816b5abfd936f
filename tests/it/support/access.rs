//! Helpers for the just-in-time access tests on a real apiserver: the chart's admission objects,
//! requests and approvals as their creators write them, RBAC bindings and waiting for them.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use kube::api::{Api, PostParams};
use monday_operator::api::{MondayAccessApproval, MondayAccessGrant};
use serde_json::{Value, json};

use crate::support::packaging::{render, show, write_docs};
use crate::support::{self, ControlPlane};

/// The chart's admission policies and access roles for release `monday-operator` in namespace
/// `monday-operator` (so the operator is `system:serviceaccount:monday-operator:monday-operator`).
pub fn admission_docs(sets: &[&str]) -> Vec<Value> {
    render("monday-operator", "monday-operator", sets)
        .into_iter()
        .filter(|d| {
            let kind = d["kind"].as_str().unwrap_or_default();
            kind.contains("AdmissionPolicy")
                || (kind == "ClusterRole"
                    && d["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("monday-operator-access-")))
        })
        .collect()
}

pub use crate::support::kubectl_with;

/// Applies CRDs and `docs` to `cp` and waits until the policies act (admission policies are
/// loaded by informers, so the first requests after creating them may not see them yet).
pub async fn install(cp: &ControlPlane, docs: &[Value], mutating: bool) {
    let admin = support::client_for(&cp.kubeconfig).await;
    support::apply_crds(&admin, monday_operator::api::crds()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admission.yaml");
    let refs: Vec<&Value> = docs.iter().collect();
    write_docs(&path, &refs);
    let out = kubectl_with(
        &cp.kubeconfig,
        &["apply", "--server-side", "-f", &path.display().to_string()],
    );
    assert!(out.status.success(), "apply admission: {}", show(&out));
    // Probe until a forged requester is rejected and (with the mutating policy) a missing one is
    // stamped.
    let ns = support::namespace(&admin, "probe").await;
    let grants: Api<MondayAccessGrant> = Api::namespaced(admin.clone(), &ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    loop {
        n += 1;
        let forged = grants
            .create(
                &PostParams::default(),
                &grant(&format!("forged-{n}"), Some(json!({"username": "nobody"}))),
            )
            .await;
        let stamped = if mutating {
            grants
                .create(&PostParams::default(), &grant(&format!("plain-{n}"), None))
                .await
                .map(|g| g.spec.requester.is_some())
                .unwrap_or(false)
        } else {
            true
        };
        if forged.is_err() && stamped {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "admission policies not effective after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A grant request; `requester` is what the creator types (normally nothing).
pub fn grant(name: &str, requester: Option<Value>) -> MondayAccessGrant {
    let mut spec = json!({
        "connectorRef": {"name": "acme"},
        "principal": {"email": "alice@example.com"},
        "entitlement": "board:42:subscriber",
        "duration": "2h",
        "reason": "INC-1234 hotfix review",
    });
    if let Some(r) = requester {
        spec["requester"] = r;
    }
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayAccessGrant",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("grant")
}

/// An approval of `grant` at its current version under policy `policy`.
pub fn approval(
    name: &str,
    grant: &MondayAccessGrant,
    policy: &str,
    approver: Option<Value>,
) -> MondayAccessApproval {
    let mut spec = json!({
        "grantRef": {
            "name": grant.metadata.name,
            "uid": grant.metadata.uid,
            "generation": grant.metadata.generation,
        },
        "policyRef": {"name": policy},
        "decision": "Approve",
        "comment": "checked INC-1234",
    });
    if let Some(a) = approver {
        spec["approver"] = a;
    }
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayAccessApproval",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("approval")
}

/// Binds `role` (a ClusterRole) to `user` in `ns`.
pub fn bind(cp: &ControlPlane, ns: &str, role: &str, user: &str) {
    let out = kubectl_with(
        &cp.kubeconfig,
        &[
            "create",
            "rolebinding",
            &format!("{user}-{role}"),
            "-n",
            ns,
            &format!("--clusterrole={role}"),
            &format!("--user={user}"),
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
}

/// Waits until `user` may `verb` `resource` in `ns` (RBAC changes reach the authorizer through
/// an informer).
pub fn wait_for_permission(cp: &ControlPlane, ns: &str, user: &str, verb: &str, resource: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let out = kubectl_with(
            &cp.kubeconfig,
            &["auth", "can-i", verb, resource, "-n", ns, "--as", user],
        );
        if String::from_utf8_lossy(&out.stdout).trim() == "yes" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{user} still may not {verb} {resource}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The error of a rejected request: (HTTP code, message).
pub fn rejected<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> (u16, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.message),
        other => panic!("expected the apiserver to reject it, got {other:?}"),
    }
}
