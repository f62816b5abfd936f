//! The generated CRDs on a real kube-apiserver: they install and become Established, objects and
//! their status round-trip through server-side apply, and schema/CEL violations are rejected.

use crate::support;

use kube::api::{Api, Patch, PatchParams, PostParams};
use monday_operator::api::{self, MondayConnector};
use serde_json::json;

use support::install_crds;

fn connector(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayConnector",
        "metadata": {"name": name},
        "spec": {"secretRef": {"name": "baton-monday-secrets"}}
    })
}

#[tokio::test]
async fn crds_become_established_and_objects_round_trip() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::namespace(&client, "crd").await;
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), &ns);

    let obj: MondayConnector = serde_json::from_value(connector("acme")).expect("object");
    let created = api
        .create(&PostParams::default(), &obj)
        .await
        .expect("create");
    // Defaults come from the schema, filled by the apiserver.
    assert_eq!(created.spec.sync_interval, "1h");
    assert_eq!(created.spec.secret_ref.key, "BATON_MONDAY_API_KEY");
    assert_eq!(created.spec.api_url, "https://api.monday.com/v2");
    assert!(!created.spec.suspend);

    // Status through the status subresource with server-side apply.
    let status = json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayConnector",
        "status": {
            "observedGeneration": created.metadata.generation,
            "conditions": [{
                "type": "Ready", "status": "True", "reason": "SyncSucceeded",
                "message": "synced 3 users", "lastTransitionTime": "2026-11-29T10:00:00Z",
                "observedGeneration": created.metadata.generation
            }],
            "counts": {"users": 3, "roles": 4, "teams": 1, "workspaces": 1, "boards": 2,
                       "entitlements": 12, "grants": 9}
        }
    });
    api.patch_status(
        "acme",
        &PatchParams::apply(api::FIELD_MANAGER).force(),
        &Patch::Apply(&status),
    )
    .await
    .expect("patch status");
    let read = api.get("acme").await.expect("get");
    let st = read.status.expect("status present");
    assert_eq!(st.counts.expect("counts").grants, 9);
    assert_eq!(st.conditions[0].reason, "SyncSucceeded");
    assert_eq!(st.observed_generation, created.metadata.generation);

    // A status write must not bump the generation (status subresource is on).
    assert_eq!(read.metadata.generation, created.metadata.generation);

    // The printer columns are served: kubectl shows them.
    let out = support::kubectl(&["get", "mcon", "-n", &ns, "-o", "wide"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for col in [
        "READY",
        "SYNCED",
        "USERS",
        "GRANTS",
        "LAST SYNC",
        "AGE",
        "REASON",
        "MESSAGE",
        "INTERVAL",
    ] {
        assert!(table.contains(col), "column {col} missing in:\n{table}");
    }
    assert!(table.contains("SyncSucceeded"), "{table}");
    // The category lists it too.
    let out = support::kubectl(&["get", "monday", "-n", &ns]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme"));
}

#[tokio::test]
async fn schema_violations_are_rejected_by_the_apiserver() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::namespace(&client, "crd-bad").await;
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &kube::api::ApiResource::erase::<MondayConnector>(&()),
    );

    let cases = [
        (
            "interval-too-short",
            json!({"secretRef": {"name": "s"}, "syncInterval": "30s"}),
            "at least 1m",
        ),
        (
            "interval-garbage",
            json!({"secretRef": {"name": "s"}, "syncInterval": "soon"}),
            "syncInterval must be a duration",
        ),
        (
            "no-secret-ref",
            json!({"syncInterval": "1h"}),
            "secretRef: Required value",
        ),
        (
            "bad-type",
            json!({"secretRef": {"name": "s"}, "resourceTypes": ["items"]}),
            "Unsupported value: \"items\"",
        ),
        (
            "bad-url",
            json!({"secretRef": {"name": "s"}, "apiUrl": "ftp://x"}),
            "apiUrl must be an http(s) URL",
        ),
        (
            "empty-secret",
            json!({"secretRef": {"name": ""}}),
            "secretRef.name must be a Secret name",
        ),
    ];
    for (name, spec, expected) in cases {
        let obj = json!({
            "apiVersion": "iga.monday-operator.dev/v1alpha1",
            "kind": "MondayConnector",
            "metadata": {"name": name},
            "spec": spec,
        });
        let obj: kube::api::DynamicObject = serde_json::from_value(obj).expect("dynamic object");
        let err = api
            .create(&PostParams::default(), &obj)
            .await
            .expect_err(&format!("{name} must be rejected"));
        let msg = err.to_string();
        assert!(
            msg.contains(expected),
            "{name}: expected {expected:?} in {msg}"
        );
    }
}

#[tokio::test]
async fn rbac_is_enforced_for_the_non_admin_identity() {
    let admin = support::client().await;
    install_crds(&admin).await;
    let ns = support::namespace(&admin, "rbac").await;
    let alice: Api<MondayConnector> = Api::namespaced(support::user_client().await, &ns);
    let err = alice
        .list(&Default::default())
        .await
        .expect_err("alice has no RBAC bindings");
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status.message.contains(support::USER_NAME),
                "{}",
                status.message
            );
        }
        other => panic!("expected 403, got {other}"),
    }
}
