//! Just-in-time access under a MondayAccessPolicy, end to end on a real kube-apiserver with the
//! chart's admission policies, the in-process operator and the Monday emulator: alice requests,
//! bob approves, the access appears in Monday and goes at its expiry; self-approval, missing
//! permissions, forged identities, edited approvals, too-long or permanent requests, a bad
//! justification, break-glass, extensions, the approval timeout, deletion, access from before
//! policies, and the webhook notifications (a local receiver).

use crate::support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use monday_emulator::{Config, EmulatorHandle};
use monday_operator::api::access_grant::Phase;
use monday_operator::api::{MondayAccessApproval, MondayAccessGrant, MondayAccessPolicy};
use serde_json::{Value, json};
use support::ControlPlane;
use support::access::*;
use support::operator::{Operator, Setup, events_for, metrics_text, put_secret};

/// The Baton grant every request here asks for: a member of the edge tenant on a board.
const GRANT: &str = "board:413:subscriber:user:102";

/// A control plane of these tests' own (admission policies are cluster-scoped), with the chart's
/// admission installed once.
async fn cluster() -> &'static ControlPlane {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let cp = support::own_control_plane("access-approvals");
    INSTALLED
        .get_or_init(|| async { install(cp, &admission_docs(&[]), true).await })
        .await;
    cp
}

/// A namespace with a connector on an emulator, alice as requester and bob as approver (plus
/// `approvers`), the policy `default` with one rule `boards` changed by `rule`, and an operator.
struct Team {
    cp: &'static ControlPlane,
    setup: Setup,
    op: Operator,
    metrics_port: u16,
}

impl Team {
    async fn new(prefix: &str, rule: Value, approvers: &[&str]) -> Team {
        Self::with_policy(prefix, Some(policy(rule, None)), approvers).await
    }

    async fn with_policy(prefix: &str, policy: Option<Value>, approvers: &[&str]) -> Team {
        let cp = cluster().await;
        let admin = support::client_for(&cp.kubeconfig).await;
        let emu = Config::edge();
        let setup =
            Setup::in_namespace(admin, prefix, emu, &[("BATON_PROVISIONING", "true")]).await;
        let ns = setup.ns.clone();
        setup.connector("acme", json!({"suspend": true})).await;
        bind(cp, &ns, "monday-operator-access-requester", "alice");
        for who in ["bob"].iter().chain(approvers) {
            bind(cp, &ns, "monday-operator-access-approver", who);
            wait_for_permission(cp, &ns, who, "approve", "mondayaccesspolicies");
        }
        wait_for_permission(cp, &ns, "alice", "create", "mondayaccessgrants");
        let team = Team::start(cp, setup).await;
        if let Some(p) = policy {
            team.apply_policy(p).await;
        }
        team
    }

    async fn start(cp: &'static ControlPlane, setup: Setup) -> Team {
        let metrics_port = support::free_port();
        let op = Operator::start_on(setup.client.clone(), &setup.ns, |c| {
            c.metrics_addr = Some(SocketAddr::from(([127, 0, 0, 1], metrics_port)));
        })
        .await;
        Team {
            cp,
            setup,
            op,
            metrics_port,
        }
    }

    fn ns(&self) -> &str {
        &self.setup.ns
    }

    fn emu(&self) -> &EmulatorHandle {
        &self.setup.emu
    }

    async fn apply_policy(&self, p: Value) {
        let api: Api<MondayAccessPolicy> = Api::namespaced(self.setup.client.clone(), self.ns());
        let p: MondayAccessPolicy = serde_json::from_value(p).expect("policy");
        api.patch(
            "default",
            &PatchParams::apply("tests").force(),
            &Patch::Apply(&p),
        )
        .await
        .expect("apply policy");
    }

    async fn grants_as(&self, who: &str) -> Api<MondayAccessGrant> {
        Api::namespaced(support::identity_client(self.cp, who).await, self.ns())
    }

    async fn approvals_as(&self, who: &str) -> Api<MondayAccessApproval> {
        Api::namespaced(support::identity_client(self.cp, who).await, self.ns())
    }

    /// alice asks for [`GRANT`]; `extra` changes the spec.
    async fn request(&self, name: &str, extra: Value) -> MondayAccessGrant {
        self.grants_as("alice")
            .await
            .create(&PostParams::default(), &request(name, extra))
            .await
            .expect("alice may request")
    }

    /// `who` decides the grant's current version.
    async fn decide(&self, who: &str, grant: &MondayAccessGrant, decision: &str) {
        let mut a = approval(
            &format!(
                "{}-{who}-{}",
                grant.metadata.name.as_deref().unwrap_or_default(),
                grant.metadata.generation.unwrap_or_default()
            ),
            grant,
            "default",
            None,
        );
        a.spec.decision = serde_json::from_value(json!(decision)).expect("decision");
        self.approvals_as(who)
            .await
            .create(&PostParams::default(), &a)
            .await
            .expect("approval accepted by the apiserver");
    }

    async fn wait(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&MondayAccessGrant) -> bool,
    ) -> MondayAccessGrant {
        let api: Api<MondayAccessGrant> = Api::namespaced(self.setup.client.clone(), self.ns());
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(g)) = api.get_opt(name).await
                && pred(&g)
            {
                return g;
            }
            if Instant::now() > deadline {
                let now = api.get_opt(name).await.ok().flatten();
                panic!(
                    "{name}: timed out waiting for {what}; status {}",
                    serde_json::to_string_pretty(&now.and_then(|g| g.status)).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_phase(&self, name: &str, phase: Phase) -> MondayAccessGrant {
        self.wait(name, &format!("{phase:?}"), Duration::from_secs(30), |g| {
            g.status.as_ref().and_then(|s| s.phase) == Some(phase)
        })
        .await
    }

    /// Waits until an Event about `name` has `reason` and a note containing `text`.
    async fn wait_event(&self, name: &str, reason: &str, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let evs = events_for(&self.setup.client, self.ns(), name).await;
            if let Some((_, note, _)) = evs.iter().find(|(r, n, _)| r == reason && n.contains(text))
            {
                return note.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {reason} Event with {text:?}: {evs:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn has_access(&self) -> bool {
        self.emu().ground_truth().grants.iter().any(|g| g == GRANT)
    }
}

/// Policy `default`: one rule `boards` (board subscriptions, 8h at most, a ticket in the reason,
/// one approval by the group `approvers`), changed by `rule`; `notifications` when given.
fn policy(rule: Value, notifications: Option<Value>) -> Value {
    let mut r = json!({"name": "boards", "entitlements": [{"pattern": "board:*:subscriber"}],
        "maxDuration": "8h", "requiredApprovals": 1, "approvers": {"groups": ["approvers"]},
        "reasonPattern": "^INC-[0-9]+", "approvalTimeout": "4h"});
    for (k, v) in rule.as_object().expect("object") {
        r[k] = v.clone();
    }
    let mut spec = json!({"rules": [r]});
    if let Some(n) = notifications {
        spec["notifications"] = n;
    }
    json!({"apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessPolicy",
        "metadata": {"name": "default"}, "spec": spec})
}

fn request(name: &str, extra: Value) -> MondayAccessGrant {
    let mut spec = json!({"connectorRef": {"name": "acme"}, "principal": {"userId": "102"},
        "entitlement": "board:413:subscriber", "duration": "1h", "reason": "INC-1234 review"});
    for (k, v) in extra.as_object().expect("object") {
        if v.is_null() {
            spec.as_object_mut().expect("spec").remove(k);
        } else {
            spec[k] = v.clone();
        }
    }
    serde_json::from_value(json!({"apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayAccessGrant", "metadata": {"name": name}, "spec": spec}))
    .expect("grant")
}

/// Waits until the operator's `/metrics` has the line `line` (counted just after the status write).
async fn wait_metric(port: u16, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = metrics_text(port);
        if m.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < deadline, "no {line:?} in {m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn phase(g: &MondayAccessGrant) -> Option<Phase> {
    g.status.as_ref().and_then(|s| s.phase)
}

/// (status, reason, message) of a condition.
fn condition(g: &MondayAccessGrant, type_: &str) -> (String, String, String) {
    g.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .map(|c| {
            (
                c.status.to_string(),
                c.reason.to_string(),
                c.message.clone(),
            )
        })
        .unwrap_or_default()
}

fn approved_by(g: &MondayAccessGrant) -> Option<String> {
    g.status.as_ref()?.approval.as_ref()?.approved_by.clone()
}

fn expiry(g: &MondayAccessGrant) -> Option<jiff::Timestamp> {
    g.status.as_ref()?.expires_at.as_ref().map(|t| t.0)
}

fn granted_at(g: &MondayAccessGrant) -> Option<jiff::Timestamp> {
    g.status.as_ref()?.granted_at.as_ref().map(|t| t.0)
}

/// A webhook that records what it receives.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let got = r.got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let got = got.clone();
                async move {
                    got.lock().expect("lock").push(body);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (r, url)
    }

    fn events(&self) -> Vec<String> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|b| {
                b["mondayOperator"]["event"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            })
            .collect()
    }

    async fn wait_for(&self, events: &[&str], timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.events();
            if events.iter().all(|e| got.iter().any(|g| g == e)) {
                return self.got.lock().expect("lock").clone();
            }
            assert!(
                Instant::now() < deadline,
                "webhook got {got:?}, expected {events:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_requests_bob_approves_and_the_access_appears_and_expires_with_notifications() {
    let cp = cluster().await;
    let (hook, url) = Receiver::start().await;
    let team = Team::with_policy("approve", None, &[]).await;
    put_secret(&team.setup.client, team.ns(), "hook", &[("url", &url)]).await;
    let notifications = json!({"webhook": {"secretRef": {"name": "hook"}}, "reminderBefore": "4s"});
    team.apply_policy(policy(json!({}), Some(notifications)))
        .await;

    let req = team.request("jane", json!({"duration": "8s"})).await;
    let waiting = team.wait_phase("jane", Phase::AwaitingApproval).await;
    assert_eq!(condition(&waiting, "Approved").1, "AwaitingApproval");
    assert_eq!(
        waiting
            .status
            .as_ref()
            .and_then(|s| s.approval.as_ref())
            .and_then(|a| a.policy.clone()),
        Some("default".into())
    );
    team.wait_event(
        "jane",
        "AwaitingApproval",
        "for alice waits for 1 more approval(s) under policy default rule boards",
    )
    .await;
    hook.wait_for(&["requested"], Duration::from_secs(10)).await;
    assert!(!team.has_access(), "nothing in Monday before the approval");

    // carol has no approve permission: the apiserver refuses her.
    let (code, message) = rejected(
        team.approvals_as("carol")
            .await
            .create(
                &PostParams::default(),
                &approval("carol", &req, "default", None),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");

    // bob approves; Monday has the access within a second.
    team.decide("bob", &req, "Approve").await;
    let approved = Instant::now();
    while !team.has_access() {
        assert!(
            approved.elapsed() < Duration::from_secs(10),
            "no access 10 s after the approval"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let lag = approved.elapsed();
    println!("approval -> access in Monday: {:.3}s", lag.as_secs_f64());
    assert!(
        lag <= Duration::from_secs(1),
        "approval -> access took {lag:?}"
    );
    let g = team.wait_phase("jane", Phase::Granted).await;
    assert_eq!(approved_by(&g).as_deref(), Some("bob"));
    assert_eq!(condition(&g, "Approved").0, "True");
    let note = team
        .wait_event(
            "jane",
            "Approved",
            "approved by bob under policy default rule boards",
        )
        .await;
    assert!(note.contains("for alice"), "{note}");

    // kubectl shows who asked and who approved.
    let out = kubectl_with(&cp.kubeconfig, &["get", "mgrant", "-n", team.ns()]);
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("jane"))
        .unwrap_or_default();
    assert!(
        row.contains(" Granted ") && row.contains(" alice ") && row.contains(" bob "),
        "{table}"
    );

    // The access ends at its expiry; the webhook saw every step.
    team.wait_phase("jane", Phase::Expired).await;
    assert!(!team.has_access());
    let got = hook
        .wait_for(
            &["requested", "approved", "granted", "expiring", "expired"],
            Duration::from_secs(20),
        )
        .await;
    let approved = got
        .iter()
        .find(|b| b["mondayOperator"]["event"] == "approved")
        .expect("approved");
    assert_eq!(approved["mondayOperator"]["approvedBy"], json!(["bob"]));
    assert_eq!(approved["mondayOperator"]["requester"], "alice");
    assert!(
        approved["text"]
            .as_str()
            .unwrap_or_default()
            .contains("by bob under policy default rule boards")
    );
    wait_metric(
        team.metrics_port,
        r#"monday_operator_notifications_total{event="granted",outcome="delivered"} 1"#,
    )
    .await;
    // The webhook URL is a credential: in no status, Event or metric.
    let g = team.wait_phase("jane", Phase::Expired).await;
    let status = serde_json::to_string(&g.status).expect("status");
    let events = format!(
        "{:?}",
        events_for(&team.setup.client, team.ns(), "jane").await
    );
    let metrics = metrics_text(team.metrics_port);
    for text in [status, events, metrics] {
        assert!(!text.contains(&url) && !text.contains("/hook"), "{text}");
    }
    team.op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_cannot_approve_her_own_request_nor_forge_or_edit_and_deletion_revokes() {
    let team = Team::new(
        "self",
        json!({"approvers": {"users": ["alice", "bob"]}}),
        &["alice"],
    )
    .await;
    // A forged requester is rejected.
    let (code, message) = rejected(
        team.grants_as("alice")
            .await
            .create(
                &PostParams::default(),
                &request("forged", json!({"requester": {"username": "bob"}})),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");

    let req = team.request("mine", json!({})).await;
    team.wait_phase("mine", Phase::AwaitingApproval).await;
    // A forged approver is rejected.
    let (code, message) = rejected(
        team.approvals_as("alice")
            .await
            .create(
                &PostParams::default(),
                &approval(
                    "as-bob",
                    &req,
                    "default",
                    Some(json!({"username": "bob", "groups": ["approvers"]})),
                ),
            )
            .await,
    );
    assert_eq!(code, 403, "{message}");
    // Her own approval is accepted by the apiserver (she may approve others'), ignored and
    // reported by the operator.
    team.decide("alice", &req, "Approve").await;
    let g = team
        .wait(
            "mine",
            "the self-approval reported",
            Duration::from_secs(20),
            |g| {
                g.status
                    .as_ref()
                    .and_then(|s| s.approval.as_ref())
                    .is_some_and(|a| !a.ignored.is_empty())
            },
        )
        .await;
    let ignored = &g
        .status
        .as_ref()
        .and_then(|s| s.approval.clone())
        .expect("approval")
        .ignored;
    assert_eq!(
        (ignored[0].approver.as_deref(), ignored[0].reason.as_str()),
        (Some("alice"), "SelfApproval")
    );
    assert_eq!(phase(&g), Some(Phase::AwaitingApproval));
    team.wait_event(
        "mine",
        "SelfApproval",
        "alice requested this access and cannot approve it",
    )
    .await;
    assert!(!team.has_access());

    // An approval cannot be edited, not even by an admin.
    let name = "mine-alice-1";
    let (code, message) = rejected(
        team.approvals_as("admin")
            .await
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"comment": "ok now"}})),
            )
            .await,
    );
    assert_eq!(code, 422, "{message}");
    assert!(
        message.contains("an approval cannot be changed"),
        "{message}"
    );

    team.decide("bob", &req, "Approve").await;
    team.wait_phase("mine", Phase::Granted).await;
    assert!(team.has_access());
    // Deleting the granted request revokes it through the finalizer.
    let grants: Api<MondayAccessGrant> = Api::namespaced(team.setup.client.clone(), team.ns());
    grants
        .delete("mine", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(20);
    while grants.get_opt("mine").await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "the request was not removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!team.has_access(), "revoked before the object went");
    team.op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_required_approvals_one_is_not_enough() {
    let team = Team::new("two", json!({"requiredApprovals": 2}), &["dave"]).await;
    let req = team.request("pair", json!({})).await;
    team.wait_phase("pair", Phase::AwaitingApproval).await;
    team.decide("bob", &req, "Approve").await;
    let g = team
        .wait(
            "pair",
            "one approval counted",
            Duration::from_secs(20),
            |g| approved_by(g).as_deref() == Some("bob (1 of 2)"),
        )
        .await;
    assert_eq!(phase(&g), Some(Phase::AwaitingApproval));
    assert!(!team.has_access());
    team.decide("dave", &req, "Approve").await;
    let g = team.wait_phase("pair", Phase::Granted).await;
    assert_eq!(approved_by(&g).as_deref(), Some("bob, dave"));
    assert!(team.has_access());
    team.op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_duration_caps_the_expiry_and_permanent_or_unjustified_requests_are_denied() {
    let team = Team::new(
        "limits",
        json!({"requiredApprovals": 0, "maxDuration": "1m"}),
        &[],
    )
    .await;
    // The policy names a webhook Secret that does not exist: reported on the policy and
    // counted, and the grant goes on.
    let missing = json!({"webhook": {"secretRef": {"name": "no-such-secret"}}});
    team.apply_policy(policy(
        json!({"requiredApprovals": 0, "maxDuration": "1m"}),
        Some(missing),
    ))
    .await;
    team.request("long", json!({"duration": "2h"})).await;
    let g = team.wait_phase("long", Phase::Granted).await;
    team.wait_event(
        "default",
        "WebhookUnavailable",
        "Secret no-such-secret not found",
    )
    .await;
    wait_metric(
        team.metrics_port,
        r#"monday_operator_notifications_total{event="granted",outcome="unavailable"} 1"#,
    )
    .await;
    let (at, until) = (
        granted_at(&g).expect("grantedAt"),
        expiry(&g).expect("expiresAt"),
    );
    let lasts = until.duration_since(at).as_secs();
    assert!((60..=61).contains(&lasts), "capped at 1m, lasts {lasts}s");
    assert!(
        condition(&g, "Ready").2.contains("shortened to"),
        "{:?}",
        condition(&g, "Ready")
    );
    team.wait_event("long", "ExpiryCapped", "shortened to")
        .await;

    team.request("forever", json!({"duration": null})).await;
    let g = team.wait_phase("forever", Phase::Denied).await;
    let (_, reason, message) = condition(&g, "Approved");
    assert_eq!(reason, "NoRuleAllows");
    assert!(
        message.contains("a request without expiry is not allowed"),
        "{message}"
    );

    team.request("why", json!({"reason": "because"})).await;
    let g = team.wait_phase("why", Phase::Denied).await;
    let message = condition(&g, "Ready").2;
    assert!(
        message.contains(r#"reason "because" does not match "^INC-[0-9]+""#),
        "{message}"
    );
    team.wait_event("why", "NoRuleAllows", "closest: policy default rule boards")
        .await;
    team.op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_grants_at_once_for_the_shorter_maximum_with_a_warning_and_a_metric() {
    let rule = json!({"requiredApprovals": 2, "approvers": {"users": ["alice", "bob"]},
        "breakGlass": {"enabled": true, "maxDuration": "1m"}});
    let team = Team::new("glass", rule, &["alice"]).await;
    let req = team.request("incident", json!({"duration": "2h"})).await;
    team.wait_phase("incident", Phase::AwaitingApproval).await;
    team.decide("alice", &req, "Approve").await;
    let g = team.wait_phase("incident", Phase::Granted).await;
    assert!(team.has_access());
    assert_eq!(approved_by(&g).as_deref(), Some("alice (break-glass)"));
    assert_eq!(condition(&g, "Approved").1, "BreakGlass");
    let lasts = expiry(&g)
        .expect("expiry")
        .duration_since(granted_at(&g).expect("at"))
        .as_secs();
    assert!(lasts <= 61, "break-glass capped at 1m, lasts {lasts}s");
    team.wait_event(
        "incident",
        "BreakGlass",
        "BREAK-GLASS: alice approved their own request",
    )
    .await;
    let evs = events_for(&team.setup.client, team.ns(), "incident").await;
    assert!(evs.iter().any(|(r, ..)| r == "BreakGlass"), "{evs:?}");
    wait_metric(team.metrics_port, "monday_operator_break_glass_total 1").await;
    team.op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_needs_a_new_approval_before_the_expiry_moves() {
    let team = Team::new("extend", json!({}), &[]).await;
    let req = team.request("ext", json!({"duration": "1h"})).await;
    team.wait_phase("ext", Phase::AwaitingApproval).await;
    team.decide("bob", &req, "Approve").await;
    let g = team.wait_phase("ext", Phase::Granted).await;
    let first = expiry(&g).expect("expiry");

    let longer = team
        .grants_as("alice")
        .await
        .patch(
            "ext",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"duration": "2h"}})),
        )
        .await
        .expect("alice may extend");
    assert_eq!(longer.metadata.generation, Some(2));
    let g = team
        .wait(
            "ext",
            "the extension waiting",
            Duration::from_secs(20),
            |g| condition(g, "Approved").1 == "ExtensionAwaitingApproval",
        )
        .await;
    assert_eq!(expiry(&g), Some(first), "the approved expiry stays");
    assert_eq!(phase(&g), Some(Phase::Granted));
    team.wait_event("ext", "ExtensionAwaitingApproval", "extension requested")
        .await;

    team.decide("bob", &longer, "Approve").await;
    let g = team
        .wait(
            "ext",
            "the extension approved",
            Duration::from_secs(20),
            |g| expiry(g) != Some(first),
        )
        .await;
    // 1h more, counted from the grant (whose time is stored to the second).
    let more = expiry(&g).expect("expiry").duration_since(first).as_secs();
    assert!((3599..=3600).contains(&more), "extended by {more}s");
    assert_eq!(condition(&g, "Ready").1, "Extended");
    team.op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_nobody_approves_in_time_is_denied() {
    let team = Team::new("timeout", json!({"approvalTimeout": "1m"}), &[]).await;
    let req = team.request("late", json!({})).await;
    team.wait_phase("late", Phase::AwaitingApproval).await;
    let created = req.metadata.creation_timestamp.clone().expect("created").0;
    let g = team
        .wait("late", "Denied", Duration::from_secs(90), |g| {
            phase(g) == Some(Phase::Denied)
        })
        .await;
    let (_, reason, message) = condition(&g, "Ready");
    assert_eq!(reason, "ApprovalTimedOut");
    assert!(message.contains("not approved within 1m"), "{message}");
    let late = jiff::Timestamp::now().duration_since(created).as_secs_f64();
    println!("approval timeout 1m: denied {late:.1}s after creation");
    // An approval after the deadline changes nothing.
    team.decide("bob", &req, "Approve").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let g = team.wait_phase("late", Phase::Denied).await;
    assert!(!team.has_access());
    assert_eq!(condition(&g, "Ready").1, "ApprovalTimedOut");
    team.op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_granted_before_policies_keeps_working_until_its_expiry() {
    // Granted by an operator without policies, then recorded the way versions before policies
    // left it: no status.approval, no Approved condition.
    let team = Team::with_policy("migrate", None, &[]).await;
    team.request("old", json!({"duration": "15s"})).await;
    let g = team.wait_phase("old", Phase::Granted).await;
    assert_eq!(approved_by(&g).as_deref(), Some("no policy"));
    let stored = expiry(&g).expect("expiry");
    let Team { cp, setup, op, .. } = team;
    op.stop().await.expect("clean stop");
    let grants: Api<MondayAccessGrant> = Api::namespaced(setup.client.clone(), &setup.ns);
    let ready: Vec<Value> = g
        .status
        .as_ref()
        .expect("status")
        .conditions
        .iter()
        .filter(|c| c.type_ == "Ready")
        .map(|c| serde_json::to_value(c).expect("condition"))
        .collect();
    grants
        .patch_status(
            "old",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"approval": null, "conditions": ready}})),
        )
        .await
        .expect("status as an older version wrote it");

    let team = Team::start(cp, setup).await;
    team.apply_policy(policy(json!({}), None)).await;
    let g = team
        .wait(
            "old",
            "decided as from before policies",
            Duration::from_secs(20),
            |g| approved_by(g).as_deref() == Some("before policy"),
        )
        .await;
    assert_eq!(phase(&g), Some(Phase::Granted));
    assert_eq!(condition(&g, "Approved").1, "GrantedBeforePolicy");
    assert_eq!(expiry(&g), Some(stored));
    assert!(team.has_access(), "kept");
    team.wait_phase("old", Phase::Expired).await;
    assert!(!team.has_access(), "and still revoked at its expiry");
    team.op.stop().await.expect("clean stop");
}
