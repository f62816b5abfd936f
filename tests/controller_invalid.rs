//! A MondayConnector the operator cannot read (as if written for a newer schema) must not stall
//! the others: it gets `Ready=False`/`InvalidObject` and one Warning Event, syncs nothing, can be
//! fixed in place, and its deletion completes. Runs with its own control plane because it installs
//! a CRD whose `spec` schema is loosened so the apiserver accepts such an object.

#[path = "it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use monday_emulator::{Config, Size};
use monday_operator::api::access_grant::FINALIZER as GRANT_FINALIZER;
use monday_operator::api::{MondayAccessGrant, MondayConnector};
use serde_json::json;
use support::operator::*;

/// The operator's CRDs, with the `spec` of both kinds accepting anything.
async fn install_loose_crds(client: &kube::Client) {
    let mut crds = monday_operator::api::crds();
    for crd in &mut crds {
        for v in &mut crd.spec.versions {
            let props = v
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
                .and_then(|s| s.properties.as_mut())
                .expect("schema properties");
            props.insert(
                "spec".into(),
                JSONSchemaProps {
                    type_: Some("object".into()),
                    x_kubernetes_preserve_unknown_fields: Some(true),
                    ..Default::default()
                },
            );
        }
    }
    support::apply_crds(client, crds).await;
}

fn raw_api(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    raw_api_of::<MondayConnector>(client, ns)
}

fn raw_api_of<K: kube::Resource<DynamicType = ()>>(
    client: &kube::Client,
    ns: &str,
) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &ApiResource::erase::<K>(&()))
}

/// Creates a connector whose `secretRef` is a string: the apiserver (loose schema) takes it, the
/// operator's types cannot read it.
async fn create_unreadable(client: &kube::Client, ns: &str, name: &str, finalizers: &[&str]) {
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayConnector",
        "metadata": {"name": name, "finalizers": finalizers},
        "spec": {"secretRef": "tok"},
    }))
    .expect("object");
    raw_api(client, ns)
        .create(&PostParams::default(), &obj)
        .await
        .expect("create unreadable connector");
}

/// The Ready condition of a connector read as plain JSON: (status, reason).
async fn raw_ready(client: &kube::Client, ns: &str, name: &str) -> Option<(String, String)> {
    raw_ready_in(&raw_api(client, ns), name).await
}

async fn raw_ready_in(api: &Api<DynamicObject>, name: &str) -> Option<(String, String)> {
    let o = api.get_opt(name).await.expect("get")?;
    let conds = o.data.pointer("/status/conditions")?.as_array()?.clone();
    conds.iter().find(|c| c["type"] == "Ready").map(|c| {
        (
            c["status"].as_str().unwrap_or_default().to_string(),
            c["reason"].as_str().unwrap_or_default().to_string(),
        )
    })
}

async fn wait_raw(
    client: &kube::Client,
    ns: &str,
    name: &str,
    what: &str,
    pred: impl Fn(Option<(String, String)>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = raw_ready(client, ns, name).await;
        if pred(r.clone()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; Ready = {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_connector_is_reported_and_does_not_stall_the_others() {
    let client = support::client().await;
    install_loose_crds(&client).await;
    let s = Setup::in_namespace(client, "ctl-invalid", Config::generated(Size::S, 3), &[]).await;
    let (client, ns, emu) = (&s.client, &s.ns, &s.emu);
    // Already there when the operator lists connectors; one carries the snapshot finalizer, as if
    // it had been readable before.
    create_unreadable(client, ns, "bad", &[]).await;
    create_unreadable(
        client,
        ns,
        "was-good",
        &["iga.monday-operator.dev/snapshots"],
    )
    .await;
    let _op = Operator::start(ns).await;
    s.connector("good", json!({})).await;
    wait_for(client, ns, "good", Duration::from_secs(60), "Ready", |c| {
        condition(c, "Ready").is_some_and(|(s, _)| s == "True")
    })
    .await;

    let invalid = |r: Option<(String, String)>| r == Some(("False".into(), "InvalidObject".into()));
    wait_raw(client, ns, "bad", "InvalidObject", invalid).await;
    let rv = |o: DynamicObject| o.metadata.resource_version.unwrap_or_default();
    let before = rv(raw_api(client, ns).get("bad").await.expect("get"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rv(raw_api(client, ns).get("bad").await.expect("get"));
    assert_eq!(
        before, after,
        "no further writes to an unreadable connector"
    );
    let events = events_for(client, ns, "bad").await;
    let warnings: Vec<_> = events.iter().filter(|e| e.0 == "InvalidObject").collect();
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert_eq!(warnings[0].2, 1, "one occurrence: {events:?}");
    assert!(
        warnings[0].1.contains("cannot read this MondayConnector"),
        "{events:?}"
    );

    // Fixed in place: it becomes an ordinary connector.
    raw_api(client, ns)
        .patch(
            "bad",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"secretRef": {"name": "tok"}, "apiUrl": emu.url()}})),
        )
        .await
        .expect("fix");
    wait_for(
        client,
        ns,
        "bad",
        Duration::from_secs(60),
        "Ready after the fix",
        |c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"),
    )
    .await;

    // Deleting an unreadable connector that holds the finalizer completes.
    wait_raw(client, ns, "was-good", "InvalidObject", invalid).await;
    raw_api(client, ns)
        .delete("was-good", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(30);
    while raw_api(client, ns)
        .get_opt("was-good")
        .await
        .expect("get")
        .is_some()
    {
        assert!(Instant::now() < deadline, "deletion did not complete");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An unreadable MondayAccessGrant: reported, it keeps its finalizer when deleted (so no
/// revocation is skipped silently), and the other grants still expire on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_grant_is_reported_and_others_still_expire() {
    let client = support::client().await;
    install_loose_crds(&client).await;
    let s = Setup::in_namespace(
        client,
        "grant-invalid",
        Config::edge(),
        &[("BATON_PROVISIONING", "true")],
    )
    .await;
    let (client, ns, emu) = (&s.client, &s.ns, &s.emu);
    s.connector("acme", json!({})).await;
    let grants = raw_api_of::<MondayAccessGrant>(client, ns);
    let grant = |name: &str, spec: serde_json::Value, finalizers: &[&str]| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
            "metadata": {"name": name, "finalizers": finalizers},
            "spec": spec,
        }))
        .expect("grant")
    };
    let unreadable = json!({"connectorRef": "acme", "principal": 102});
    for (name, fin) in [("broken", vec![]), ("broken-held", vec![GRANT_FINALIZER])] {
        grants
            .create(
                &PostParams::default(),
                &grant(name, unreadable.clone(), &fin),
            )
            .await
            .expect("create unreadable grant");
    }
    let _op = Operator::start(ns).await;
    let wanted = "board:413:subscriber:user:102";
    let has = || emu.ground_truth().grants.iter().any(|g| g == wanted);
    assert!(!has());
    grants
        .create(
            &PostParams::default(),
            &grant(
                "jit",
                json!({"connectorRef": {"name": "acme"}, "principal": {"userId": "102"},
                       "entitlement": "board:413:subscriber", "duration": "8s", "reason": "test"}),
                &[],
            ),
        )
        .await
        .expect("create grant");
    let phase = |name: &'static str| {
        let grants = grants.clone();
        async move {
            grants.get(name).await.expect("get").data["status"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while phase("jit").await != "Granted" {
        assert!(Instant::now() < deadline, "jit never Granted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(has(), "granted in Monday");
    while phase("jit").await != "Expired" {
        assert!(Instant::now() < deadline, "jit never Expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!has(), "revoked at expiry");

    for name in ["broken", "broken-held"] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while raw_ready_in(&grants, name).await != Some(("False".into(), "InvalidObject".into())) {
            assert!(Instant::now() < deadline, "{name} not reported");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Deleting an unreadable grant that may hold access: the finalizer stays, and status says why.
    grants
        .delete("broken-held", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = grants.get("broken-held").await.expect("still there");
        let message = o.data["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["message"].as_str())
            .unwrap_or_default()
            .to_string();
        if message.contains("cannot revoke") {
            break;
        }
        assert!(Instant::now() < deadline, "no revoke warning: {message}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Removing the finalizer by hand (as the message says) lets it go.
    grants
        .patch(
            "broken-held",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("remove finalizer");
}
