//! Benchmark (prints figures, asserts nothing about speed): what the admission policies of
//! just-in-time access add to a create. 1,000 MondayAccessGrants (alice) and 1,000
//! MondayAccessApprovals (bob) created one after another on the real apiserver, first without
//! the policies, then with the chart's MutatingAdmissionPolicies and ValidatingAdmissionPolicies
//! (the approvals' policy makes a SubjectAccessReview-style authorizer call).
//!
//! `cargo test --release --test access_admission_bench -- --ignored --nocapture`

#[path = "it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kube::api::{Api, PostParams};
use monday_operator::api::{MondayAccessApproval, MondayAccessGrant};
use support::access::*;

const N: usize = 1_000;
const WARM_UP: usize = 50;

struct Figures {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    mean: Duration,
}

fn figures(mut v: Vec<Duration>) -> Figures {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    Figures {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        mean,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `b - a`, signed (p99 differences are often noise in either direction).
fn delta(a: Duration, b: Duration) -> String {
    format!("{:+.2} ms", (b.as_secs_f64() - a.as_secs_f64()) * 1e3)
}

/// Creates `WARM_UP` then `N` grants as alice and as many approvals as bob in a fresh namespace;
/// returns the timed latencies.
async fn run(cp: &support::ControlPlane, label: &str) -> (Vec<Duration>, Vec<Duration>) {
    let admin = support::client_for(&cp.kubeconfig).await;
    let ns = support::namespace(&admin, label).await;
    bind(cp, &ns, "monday-operator-access-requester", "alice");
    bind(cp, &ns, "monday-operator-access-approver", "bob");
    wait_for_permission(cp, &ns, "alice", "create", "mondayaccessgrants");
    wait_for_permission(cp, &ns, "bob", "approve", "mondayaccesspolicies");
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &ns);
    let bob: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "bob").await, &ns);
    let pp = PostParams::default();
    let mut grants = Vec::with_capacity(N);
    let mut created = Vec::with_capacity(N);
    for i in 0..WARM_UP + N {
        let g = grant(&format!("g-{i}"), None);
        let t = Instant::now();
        let out = alice.create(&pp, &g).await.expect("create grant");
        if i >= WARM_UP {
            grants.push(t.elapsed());
            created.push(out);
        }
    }
    let mut approvals = Vec::with_capacity(N);
    for (i, g) in created.iter().enumerate() {
        let a = approval(&format!("a-{i}"), g, "default", None);
        let t = Instant::now();
        bob.create(&pp, &a).await.expect("create approval");
        approvals.push(t.elapsed());
    }
    (grants, approvals)
}

#[tokio::test]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn admission_overhead_of_the_access_policies_on_create() {
    let cp = support::control_plane();
    let admin = support::client_for(&cp.kubeconfig).await;
    support::apply_crds(&admin, monday_operator::api::crds()).await;
    // The access ClusterRoles only (no admission policies yet), so RBAC is the same in both runs.
    let roles: Vec<_> = admission_docs(&[])
        .into_iter()
        .filter(|d| d["kind"] == "ClusterRole")
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roles.yaml");
    support::packaging::write_docs(&path, &roles.iter().collect::<Vec<_>>());
    let out = kubectl_with(
        &cp.kubeconfig,
        &["apply", "--server-side", "-f", &path.display().to_string()],
    );
    assert!(out.status.success(), "{}", support::packaging::show(&out));

    let (g0, a0) = run(cp, "without").await;
    install(cp, &admission_docs(&[]), true).await;
    let (g1, a1) = run(cp, "with").await;

    println!();
    println!(
        "admission overhead on create, {N} sequential creates each ({WARM_UP} warm-up), one apiserver + etcd on this machine"
    );
    println!("| create | policies | p50 | p90 | p99 | mean |");
    println!("|---|---|---|---|---|---|");
    for (what, without, with) in [
        ("MondayAccessGrant (alice)", g0, g1),
        ("MondayAccessApproval (bob)", a0, a1),
    ] {
        let (a, b) = (figures(without), figures(with));
        println!(
            "| {what} | without | {} | {} | {} | {} |",
            ms(a.p50),
            ms(a.p90),
            ms(a.p99),
            ms(a.mean)
        );
        println!(
            "| {what} | with | {} | {} | {} | {} |",
            ms(b.p50),
            ms(b.p90),
            ms(b.p99),
            ms(b.mean)
        );
        println!(
            "| {what} | difference | {} | {} | {} | {} |",
            delta(a.p50, b.p50),
            delta(a.p90, b.p90),
            delta(a.p99, b.p99),
            delta(a.mean, b.mean)
        );
    }
}
