//! What the controllers record is true, on the real apiserver: each sync's Event shows its own
//! changes, status fields set to `None` are removed (server-side apply for every kind), a
//! transient first failure retries on the backoff after an operator restart, the daily limit
//! holds the next sync until Monday resets it, one invalid `BATON_PROVISIONING` reads the same on
//! every kind, and every kind has reconcile metrics.

use crate::support;

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams, PostParams};
use monday_emulator::{Config, Faults, RateLimitCode, RateLimitFault, Size};
use monday_operator::api::access_grant::MondayAccessGrantStatus;
use monday_operator::api::connector::{RetryStatus, SYNC_REQUESTED_ANNOTATION};
use monday_operator::api::{MondayAccessGrant, MondayConnector, MondayConnectorStatus};
use monday_operator::controller::kit::{self, ObjectKey};
use monday_operator::engine::provision::{GrantOptions, Principal, RevokeMode};
use monday_operator::engine::{Connection, Session};
use monday_operator::monday::Id;
use serde_json::json;
use support::operator::*;

async fn sync_now(client: &kube::Client, ns: &str, name: &str, value: &str) {
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), ns);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {SYNC_REQUESTED_ANNOTATION: value}}})),
    )
    .await
    .expect("annotate");
    wait_for(client, ns, name, Duration::from_secs(30), value, |c| {
        c.status
            .as_ref()
            .and_then(|s| s.last_sync_request.as_deref())
            == Some(value)
    })
    .await;
}

fn access_changed(events: &[(String, String, i32)]) -> Vec<(String, i32)> {
    events
        .iter()
        .filter(|(r, _, _)| r == "AccessChanged")
        .map(|(_, n, c)| (n.clone(), *c))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sync_event_shows_its_own_changes() {
    let s = Setup::new("facts-ev", Config::edge(), &[]).await;
    let (client, ns, emu) = (&s.client, &s.ns, &s.emu);
    let op = Operator::start(ns).await;
    s.connector("acme", json!({})).await;
    s.wait_ready("acme").await;

    let session = Session::open(&Connection {
        api_url: emu.url(),
        token: emu.admin_token().to_string().into(),
    })
    .expect("session");
    let board = "board:413:subscriber".parse().expect("entitlement");
    let who = Principal::UserId(Id::from("102"));
    session
        .grant(&board, &who, GrantOptions::default())
        .await
        .expect("grant");
    sync_now(client, ns, "acme", "one-added").await;
    session
        .revoke(&board, &who, RevokeMode::ExactGrant)
        .await
        .expect("revoke");
    sync_now(client, ns, "acme", "one-removed").await;

    let c: MondayConnector = Api::namespaced(client.clone(), ns)
        .get("acme")
        .await
        .expect("get");
    let changes = c.status.and_then(|s| s.changes).expect("changes");
    assert_eq!((changes.grants_added, changes.grants_removed), (0, 1));
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = access_changed(&events_for(client, ns, "acme").await);
        if seen.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("AccessChanged Events: {seen:?}");
    assert_eq!(
        seen.len(),
        2,
        "one Event per change, not one series: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(n, c)| n.starts_with("1 grants added, 0 grants removed") && *c == 1)
    );
    assert!(
        seen.iter()
            .any(|(n, c)| n.starts_with("0 grants added, 1 grants removed") && *c == 1)
    );
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_fields_set_to_none_are_removed_for_every_kind() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::namespace(&client, "facts-ssa").await;
    put_secret(&client, &ns, "tok", &[("BATON_MONDAY_API_KEY", "x")]).await;
    create_connector(&client, &ns, "acme", json!({"secretRef": {"name": "tok"}})).await;
    let grants: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let grant: MondayAccessGrant = serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
        "metadata": {"name": "g"},
        "spec": {"connectorRef": {"name": "acme"}, "principal": {"userId": "1"}, "entitlement": "board:1:owner"}
    }))
    .expect("grant");
    grants
        .create(&PostParams::default(), &grant)
        .await
        .expect("create grant");
    let key = ObjectKey::new(&ns, "acme");

    let mut st = MondayConnectorStatus {
        last_error: Some("boom".into()),
        retry: Some(RetryStatus {
            failures: 2,
            not_before: None,
        }),
        ..Default::default()
    };
    kit::apply_status::<MondayConnector>(&client, &key, &st)
        .await
        .expect("apply");
    let get = || async {
        let c: MondayConnector = Api::namespaced(client.clone(), &ns)
            .get("acme")
            .await
            .expect("get");
        // A status whose every field was removed reads as none at all.
        c.status.unwrap_or_default()
    };
    assert_eq!(get().await.retry.map(|r| r.failures), Some(2));
    st.last_error = None;
    st.retry = None;
    kit::apply_status::<MondayConnector>(&client, &key, &st)
        .await
        .expect("apply");
    let back = get().await;
    assert_eq!(
        (back.last_error, back.retry),
        (None, None),
        "cleared fields are gone"
    );

    let gkey = ObjectKey::new(&ns, "g");
    let mut gs = MondayAccessGrantStatus {
        previous_role: Some("member".into()),
        user_id: Some("1".into()),
        ..Default::default()
    };
    kit::apply_status::<MondayAccessGrant>(&client, &gkey, &gs)
        .await
        .expect("apply");
    gs.previous_role = None;
    kit::apply_status::<MondayAccessGrant>(&client, &gkey, &gs)
        .await
        .expect("apply");
    let back = grants.get("g").await.expect("get").status.expect("status");
    assert_eq!(
        back.previous_role, None,
        "a grant field set to None is removed"
    );
    assert_eq!(back.user_id.as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_first_failure_retries_on_the_backoff_after_a_restart() {
    let s = Setup::new("facts-restart", Config::edge(), &[]).await;
    let (client, ns, emu) = (&s.client, &s.ns, &s.emu);
    emu.set_latency(Duration::from_secs(2));
    let op = Operator::start_with(ns, |c| c.sync_timeout = Duration::from_millis(500)).await;
    s.connector("acme", json!({})).await;
    let failed = s
        .wait("acme", "SyncTimeout", Duration::from_secs(30), |c| {
            condition(c, "Synced").is_some_and(|(s, _)| s == "False")
        })
        .await;
    op.stop().await.expect("clean stop");
    let st = failed.status.expect("status");
    assert!(
        st.last_error
            .as_deref()
            .is_some_and(|e| e.contains("did not finish")),
        "{st:?}"
    );
    let last = st.last_sync_time.expect("last").0;

    emu.set_latency(Duration::ZERO);
    let op = Operator::start(ns).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c: MondayConnector = Api::namespaced(client.clone(), ns)
        .get("acme")
        .await
        .expect("get");
    let next = c.status.and_then(|s| s.next_sync_time).expect("next").0;
    let wait = next.duration_since(last).as_secs();
    eprintln!("after a restart the retry is due {wait}s after the failed sync");
    assert!(
        wait <= 60,
        "the 30 s backoff, not the 1 h interval: {wait}s"
    );
    s.wait_ready("acme").await;
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_limit_holds_the_next_sync_until_monday_resets_it() {
    let s = Setup::new("facts-daily", Config::edge(), &[]).await;
    let (ns, emu) = (&s.ns, &s.emu);
    emu.set_faults(Faults {
        rate_limit: Some(RateLimitFault {
            code: RateLimitCode::DailyLimitExceeded,
            count: 1000,
            retry_in_seconds: 7200,
        }),
        ..Default::default()
    });
    let op = Operator::start(ns).await;
    s.connector("acme", json!({})).await;
    let c = s
        .wait("acme", "DailyLimitExceeded", Duration::from_secs(30), |c| {
            condition(c, "Connected") == Some(("False".into(), "DailyLimitExceeded".into()))
        })
        .await;
    let st = c.status.expect("status");
    let last = st.last_sync_time.expect("last").0;
    let next = st.next_sync_time.expect("next").0;
    let wait = next.duration_since(last).as_secs();
    eprintln!("daily limit: next attempt {wait}s after the failed sync");
    assert!(
        (7195..=7205).contains(&wait),
        "waits for the reset: {wait}s"
    );
    assert_eq!(st.retry.and_then(|r| r.not_before).map(|t| t.0), Some(next));
    let requests = emu.stats().requests;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(emu.stats().requests, requests, "no call before the reset");
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_provisioning_value_reads_the_same_on_every_kind_and_both_kinds_have_metrics() {
    let s = Setup::new(
        "facts-prov",
        Config::generated(Size::S, 3),
        &[("BATON_PROVISIONING", "yes")],
    )
    .await;
    let (client, ns) = (&s.client, &s.ns);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let op = Operator::start_with(ns, |c| {
        c.metrics_addr = Some(([127, 0, 0, 1], port).into());
    })
    .await;
    s.connector("acme", json!({"suspend": true})).await;
    let grants: Api<MondayAccessGrant> = Api::namespaced(client.clone(), ns);
    let grant: MondayAccessGrant = serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
        "metadata": {"name": "g"},
        "spec": {"connectorRef": {"name": "acme"}, "principal": {"userId": "1"}, "entitlement": "board:1:owner", "duration": "1h"}
    }))
    .expect("grant");
    grants
        .create(&PostParams::default(), &grant)
        .await
        .expect("create grant");
    let c = s
        .wait("acme", "Provisioning", Duration::from_secs(30), |c| {
            condition(c, "Provisioning").is_some_and(|(_, r)| r == "InvalidProvisioningValue")
        })
        .await;
    let connector_message = c
        .status
        .as_ref()
        .and_then(|s| monday_operator::api::conditions::get(&s.conditions, "Provisioning"))
        .map(|c| c.message.clone())
        .expect("message");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let g = grants.get("g").await.expect("get");
        let ready = g
            .status
            .as_ref()
            .and_then(|s| monday_operator::api::conditions::get(&s.conditions, "Ready").cloned());
        if let Some(r) = ready.filter(|r| r.reason != "Unrecognized" && r.reason.as_str() != "") {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "grant never reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready.reason, "InvalidProvisioningValue");
    assert_eq!(ready.message, connector_message, "one message per cause");

    let metrics = metrics_text(port);
    for kind in ["MondayConnector", "MondayAccessGrant"] {
        let line = format!("monday_operator_reconciles_total{{kind=\"{kind}\"}}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    op.stop().await.expect("clean stop");
}
