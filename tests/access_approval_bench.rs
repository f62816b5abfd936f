//! Benchmark (prints figures, asserts nothing about speed): approval → access in Monday. alice
//! requests a board under a policy needing one approval, bob approves, and the clock runs from
//! the moment the apiserver accepted bob's MondayAccessApproval until the emulator (100 ms per
//! request, as Monday.com over a long link) holds the grant. Target: ≤ 1 s.
//!
//! `cargo test --release --test access_approval_bench -- --ignored --nocapture`

#[path = "it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use monday_emulator::{Config, Limits};
use monday_operator::api::access_grant::Phase;
use monday_operator::api::{MondayAccessApproval, MondayAccessGrant, MondayAccessPolicy};
use serde_json::json;
use support::access::*;
use support::operator::{Operator, Setup};

const RUNS: usize = 20;
const MONDAY_LATENCY: Duration = Duration::from_millis(100);
const GRANT: &str = "board:413:subscriber:user:102";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo test --release --test access_approval_bench -- --ignored --nocapture"]
async fn approval_to_access_in_monday() {
    let cp = support::own_control_plane("approval-bench");
    install(cp, &admission_docs(&[]), true).await;
    let admin = support::client_for(&cp.kubeconfig).await;
    // Limits off: the figure is the latency of the path, not of Monday's per-minute budget.
    let emu = Config::edge()
        .latency(MONDAY_LATENCY)
        .limits(Limits::unlimited());
    let s = Setup::in_namespace(
        admin.clone(),
        "bench",
        emu,
        &[("BATON_PROVISIONING", "true")],
    )
    .await;
    s.connector("acme", json!({"suspend": true})).await;
    bind(cp, &s.ns, "monday-operator-access-requester", "alice");
    bind(cp, &s.ns, "monday-operator-access-approver", "bob");
    wait_for_permission(cp, &s.ns, "alice", "create", "mondayaccessgrants");
    wait_for_permission(cp, &s.ns, "bob", "approve", "mondayaccesspolicies");
    let policy: MondayAccessPolicy = serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessPolicy",
        "metadata": {"name": "default"},
        "spec": {"rules": [{"name": "boards", "entitlements": [{"pattern": "board:*:subscriber"}],
            "maxDuration": "8h", "requiredApprovals": 1, "approvers": {"users": ["bob"]}}]}
    }))
    .expect("policy");
    Api::<MondayAccessPolicy>::namespaced(admin.clone(), &s.ns)
        .patch(
            "default",
            &PatchParams::apply("bench").force(),
            &Patch::Apply(&policy),
        )
        .await
        .expect("policy");
    let op = Operator::start_on(admin.clone(), &s.ns, |_| {}).await;
    let alice: Api<MondayAccessGrant> =
        Api::namespaced(support::identity_client(cp, "alice").await, &s.ns);
    let bob: Api<MondayAccessApproval> =
        Api::namespaced(support::identity_client(cp, "bob").await, &s.ns);
    let grants: Api<MondayAccessGrant> = Api::namespaced(admin.clone(), &s.ns);
    let has = || s.emu.ground_truth().grants.iter().any(|g| g == GRANT);

    let mut lags = Vec::new();
    for i in 0..RUNS {
        let name = format!("req-{i}");
        let mut g = grant(&name, None);
        g.spec.principal.email = None;
        g.spec.principal.user_id = Some("102".into());
        g.spec.entitlement = "board:413:subscriber".into();
        let req = alice
            .create(&PostParams::default(), &g)
            .await
            .expect("request");
        wait_until(&grants, &name, |g| {
            phase(g) == Some(Phase::AwaitingApproval)
        })
        .await;
        bob.create(
            &PostParams::default(),
            &approval(&format!("ok-{i}"), &req, "default", None),
        )
        .await
        .expect("approval");
        let approved = Instant::now();
        while !has() {
            if approved.elapsed() > Duration::from_secs(30) {
                let g = grants.get(&name).await.expect("get");
                panic!(
                    "run {i}: no access 30 s after approval; status {}",
                    serde_json::to_string_pretty(&g.status).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lags.push(approved.elapsed());
        // Revoke (through the finalizer) before the next request.
        grants
            .delete(&name, &DeleteParams::default())
            .await
            .expect("delete");
        while has() || grants.get_opt(&name).await.expect("get").is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    op.stop().await.expect("clean stop");
    lags.sort();
    let at = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
    println!(
        "approval -> access in Monday ({RUNS} runs, Monday latency {} per request): p50 {}, p90 {}, max {} (target <= 1 s)",
        ms(MONDAY_LATENCY),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(*lags.last().expect("runs"))
    );
}

fn phase(g: &MondayAccessGrant) -> Option<Phase> {
    g.status.as_ref().and_then(|s| s.phase)
}

async fn wait_until(
    api: &Api<MondayAccessGrant>,
    name: &str,
    pred: impl Fn(&MondayAccessGrant) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(g)) = api.get_opt(name).await
            && pred(&g)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never got there");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
