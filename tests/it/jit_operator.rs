//! The whole operator (`controller::run`: connector and access-grant controllers together) on a
//! real kube-apiserver against the emulator: a grant makes the connector sync, and its snapshot
//! holds the new grant; deleting the grant revokes it and the next snapshot drops it.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, PostParams};
use monday_emulator::Config;
use monday_operator::api::MondayAccessGrant;
use monday_operator::api::access_grant::Phase;
use serde_json::json;
use support::operator::*;

fn snapshot_has(path: &Path, grant: &str) -> bool {
    let Ok(reader) = monday_operator::baton::C1zReader::open(path) else {
        return false;
    };
    let Ok(Some(run)) = reader.latest_finished_sync() else {
        return false;
    };
    reader
        .grant_ids(&run.sync_id)
        .map(|g| g.iter().any(|x| x == grant))
        .unwrap_or(false)
}

async fn until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_and_revoke_show_up_in_the_next_snapshot() {
    let s = Setup::new("jit-op", Config::edge(), &[("BATON_PROVISIONING", "true")]).await;
    let (client, ns, emu) = (&s.client, &s.ns, &s.emu);
    s.connector("acme", json!({"syncInterval": "1h"})).await;
    let op = Operator::start(ns).await;
    let snapshot = op.data_dir.path().join(ns).join("acme").join("sync.c1z");
    wait_for(
        client,
        ns,
        "acme",
        Duration::from_secs(60),
        "first sync",
        |c| condition(c, "Synced").map(|(s, _)| s) == Some("True".into()),
    )
    .await;
    let grant = "board:413:subscriber:user:102";
    assert!(!snapshot_has(&snapshot, grant));

    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), ns);
    let obj: MondayAccessGrant = serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
        "metadata": {"name": "max-board"},
        "spec": {"connectorRef": {"name": "acme"}, "principal": {"userId": "102"},
                 "entitlement": "board:413:subscriber", "duration": "1h", "reason": "test"}
    }))
    .expect("grant");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create");
    until(
        "the snapshot to contain the grant",
        Duration::from_secs(60),
        || snapshot_has(&snapshot, grant),
    )
    .await;
    let g = api.get("max-board").await.expect("get");
    assert_eq!(g.status.and_then(|s| s.phase), Some(Phase::Granted));

    api.delete("max-board", &DeleteParams::default())
        .await
        .expect("delete");
    until(
        "the snapshot to drop the grant",
        Duration::from_secs(60),
        || !snapshot_has(&snapshot, grant),
    )
    .await;
    assert!(!emu.ground_truth().grants.iter().any(|g| g == grant));
    op.stop().await.expect("clean stop");
}
