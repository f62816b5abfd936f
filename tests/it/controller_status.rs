//! The MondayConnector controller on the real apiserver against the Monday emulator: conditions,
//! counts, Events, finalizer, and no status writes at steady state.

use crate::support;

use std::time::Duration;

use kube::api::{Api, DeleteParams};
use monday_emulator::{Config, Emulator, Size};
use monday_operator::api::MondayConnector;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::operator::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_reaches_ready_with_ground_truth_counts() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::namespace(&client, "ctl-happy").await;
    let emu = Emulator::start(Config::generated(Size::S, 7)).expect("emulator");
    // The hosted-connector Secret, unchanged (BATON_PROVISIONING quoted, see README).
    put_secret(
        &client,
        &ns,
        "baton-monday-secrets",
        &[
            ("BATON_CLIENT_ID", "c1-client-id"),
            ("BATON_CLIENT_SECRET", "c1-client-secret"),
            ("BATON_MONDAY_API_KEY", emu.admin_token()),
            ("BATON_PROVISIONING", "true"),
        ],
    )
    .await;
    let op = Operator::start(&ns).await;
    let started = std::time::Instant::now();
    create_connector(
        &client,
        &ns,
        "acme",
        // The ConductorOne keys are placeholders here: service mode is switched off (and says
        // so); tests/it/service_mode.rs runs it against the ConductorOne double.
        json!({"secretRef": {"name": "baton-monday-secrets"}, "apiUrl": emu.url(), "conductorOne": {"enabled": false}}),
    )
    .await;

    let c = wait_for(
        &client,
        &ns,
        "acme",
        Duration::from_secs(60),
        "Ready=True",
        |c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"),
    )
    .await;
    eprintln!(
        "happy path: Ready after {:.2}s",
        started.elapsed().as_secs_f64()
    );
    let st = c.status.clone().expect("status");
    assert_eq!(st.counts.clone().expect("counts"), truth_counts(&emu));
    assert_eq!(
        condition(&c, "Connected"),
        Some(("True".into(), "Connected".into()))
    );
    assert_eq!(
        condition(&c, "Synced"),
        Some(("True".into(), "SyncSucceeded".into()))
    );
    assert_eq!(
        condition(&c, "Provisioning"),
        Some(("True".into(), "Enabled".into()))
    );
    assert_eq!(st.observed_generation, c.metadata.generation);
    assert!(
        st.last_sync_time.is_some()
            && st.last_successful_sync_time.is_some()
            && st.next_sync_time.is_some()
    );
    assert!(st.last_error.is_none());
    let account = st.account.clone().expect("account");
    assert!(!account.id.is_empty());
    // The snapshot is where status says, with the checksum status says.
    let snap = st.snapshot.clone().expect("snapshot");
    let expected_path = op.data_dir.path().join(&ns).join("acme").join("sync.c1z");
    assert_eq!(std::path::Path::new(&snap.path), expected_path);
    let bytes = std::fs::read(&expected_path).expect("snapshot file");
    assert_eq!(bytes.len() as i64, snap.bytes);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), snap.sha256);
    assert!(
        c.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "iga.monday-operator.dev/snapshots"))
    );

    // Steady state: nothing to write.
    let writes = writes_during(&client, &ns, "acme", Duration::from_secs(5)).await;
    eprintln!("happy path: {writes} writes in a 5 s steady-state window");
    assert_eq!(writes, 0, "no status write at steady state");

    let events = events_for(&client, &ns, "acme").await;
    eprintln!("events: {events:?}");
    for reason in ["Connected", "SyncSucceeded"] {
        assert!(
            events.iter().any(|(r, _, _)| r == reason),
            "{reason} event missing: {events:?}"
        );
    }
    assert_eq!(
        condition(&c, "ConductorOne"),
        Some(("False".into(), "ServiceModeOff".into())),
        "service mode switched off by the spec"
    );

    // The token is nowhere in status or Events.
    let status_json = serde_json::to_string(&st).expect("json");
    assert!(!status_json.contains(emu.admin_token()));
    assert!(!format!("{events:?}").contains(emu.admin_token()));

    // Deleting the connector removes its snapshot folder through the finalizer.
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), &ns);
    api.delete("acme", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while api.get_opt("acme").await.expect("get").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "connector not deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !expected_path.parent().expect("dir").exists(),
        "snapshot folder removed"
    );
    op.stop().await.expect("clean stop");
}

/// Every way a user can get the token wrong gives the right reason, and the operator does not
/// spin on it: after the condition is written there are no further writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_problems_give_reasons_without_hot_loops_and_rotation_recovers() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::namespace(&client, "ctl-bad").await;
    let emu = Emulator::start(Config::generated(Size::S, 3)).expect("emulator");
    emu.add_token(
        "scoped-token-without-users-read",
        emu.admin_user_id(),
        Some(vec!["me:read".into()]),
    );
    let url = emu.url();
    put_secret(&client, &ns, "key-missing", &[("OTHER", "x")]).await;
    put_secret(&client, &ns, "empty", &[("BATON_MONDAY_API_KEY", "  \n")]).await;
    put_secret(
        &client,
        &ns,
        "invalid",
        &[("BATON_MONDAY_API_KEY", "not-a-real-token")],
    )
    .await;
    put_secret(
        &client,
        &ns,
        "scoped",
        &[("BATON_MONDAY_API_KEY", "scoped-token-without-users-read")],
    )
    .await;
    put_secret(
        &client,
        &ns,
        "bad-bool",
        &[
            ("BATON_MONDAY_API_KEY", emu.admin_token()),
            ("BATON_PROVISIONING", "yes"),
        ],
    )
    .await;
    let op = Operator::start(&ns).await;
    let cases = [
        ("missing", "does-not-exist", "SecretNotFound"),
        ("keymissing", "key-missing", "SecretKeyMissing"),
        ("empty", "empty", "EmptyToken"),
        ("invalid", "invalid", "InvalidToken"),
        ("scoped", "scoped", "MissingScope"),
    ];
    for (name, secret, _) in cases {
        create_connector(
            &client,
            &ns,
            name,
            json!({"secretRef": {"name": secret}, "apiUrl": url}),
        )
        .await;
    }
    create_connector(
        &client,
        &ns,
        "badbool",
        json!({"secretRef": {"name": "bad-bool"}, "apiUrl": url}),
    )
    .await;
    for (name, _, reason) in cases {
        let c = wait_for(&client, &ns, name, Duration::from_secs(30), reason, |c| {
            condition(c, "Connected").is_some_and(|(_, r)| r == reason)
        })
        .await;
        assert_eq!(
            condition(&c, "Connected").map(|c| c.0),
            Some("False".into()),
            "{name}"
        );
        assert_eq!(
            condition(&c, "Ready"),
            Some(("False".into(), reason.into())),
            "{name}"
        );
        let msg = c
            .status
            .as_ref()
            .and_then(|s| monday_operator::api::conditions::get(&s.conditions, "Ready"))
            .map(|c| c.message.clone())
            .unwrap_or_default();
        assert!(!msg.is_empty(), "{name}: actionable message");
        assert!(
            !msg.contains("not-a-real-token") && !msg.contains(emu.admin_token()),
            "{name}: no token in message"
        );
    }
    // Invalid BATON_PROVISIONING is a condition, not a silent false; syncing still works.
    let c = wait_for(
        &client,
        &ns,
        "badbool",
        Duration::from_secs(30),
        "Ready",
        |c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"),
    )
    .await;
    assert_eq!(
        condition(&c, "Provisioning"),
        Some(("False".into(), "InvalidProvisioningValue".into()))
    );

    // No hot loop: nothing is written while nothing changes.
    let window = Duration::from_secs(4);
    let mut total = 0;
    for (name, _, _) in cases {
        total += writes_during(&client, &ns, name, window / 5).await;
    }
    eprintln!(
        "token problems: {total} writes across 5 failing connectors in a {:?} window",
        window
    );
    assert_eq!(total, 0, "failing connectors settle");

    // Rotation: fix the Secret of the invalid one; it recovers within seconds, not at the interval.
    let t0 = std::time::Instant::now();
    put_secret(
        &client,
        &ns,
        "invalid",
        &[("BATON_MONDAY_API_KEY", emu.admin_token())],
    )
    .await;
    wait_for(
        &client,
        &ns,
        "invalid",
        Duration::from_secs(20),
        "Ready after rotation",
        |c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"),
    )
    .await;
    eprintln!(
        "rotation: Ready {:.2}s after the Secret was fixed",
        t0.elapsed().as_secs_f64()
    );
    // Creating the missing Secret also recovers.
    put_secret(
        &client,
        &ns,
        "does-not-exist",
        &[("BATON_MONDAY_API_KEY", emu.admin_token())],
    )
    .await;
    wait_for(
        &client,
        &ns,
        "missing",
        Duration::from_secs(20),
        "Ready after Secret created",
        |c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"),
    )
    .await;
    // Deleting the Secret is noticed promptly too.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .delete("does-not-exist", &DeleteParams::default())
        .await
        .expect("delete secret");
    wait_for(
        &client,
        &ns,
        "missing",
        Duration::from_secs(20),
        "SecretNotFound after deletion",
        |c| condition(c, "Connected").is_some_and(|(_, r)| r == "SecretNotFound"),
    )
    .await;
    op.stop().await.expect("clean stop");
}

/// Sync-now, suspend, and the schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_suspend_and_interval() {
    let s = Setup::new("ctl-sched", Config::generated(Size::S, 5), &[]).await;
    let (client, ns, _emu) = (&s.client, &s.ns, &s.emu);
    let op = Operator::start(ns).await;
    s.connector("sched", json!({"syncInterval": "1m"})).await;
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), ns);
    let last_sync = |c: &MondayConnector| {
        c.status
            .as_ref()
            .and_then(|s| s.last_sync_time.clone())
            .map(|t| t.0)
    };
    let c = wait_for(
        client,
        ns,
        "sched",
        Duration::from_secs(60),
        "first sync",
        |c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"),
    )
    .await;
    let first = last_sync(&c).expect("lastSyncTime");
    let first_id = c
        .status
        .as_ref()
        .and_then(|s| s.snapshot.as_ref())
        .map(|s| s.sync_id.clone());
    let next = c
        .status
        .as_ref()
        .and_then(|s| s.next_sync_time.clone())
        .expect("nextSyncTime")
        .0;
    let gap = next.duration_since(first).as_secs_f64();
    assert!(
        (60.0..=66.5).contains(&gap),
        "next sync = last + 1m + jitter ≤ 10 %, got {gap}s"
    );

    // Sync now: a new annotation value triggers exactly one sync.
    let annotate = |v: &str| json!({"metadata": {"annotations": {"iga.monday-operator.dev/sync-requested-at": v}}});
    api.patch(
        "sched",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(annotate("req-1")),
    )
    .await
    .expect("annotate");
    let c = wait_for(
        client,
        ns,
        "sched",
        Duration::from_secs(45),
        "sync-now handled",
        |c| {
            c.status
                .as_ref()
                .and_then(|s| s.last_sync_request.as_deref())
                == Some("req-1")
        },
    )
    .await;
    let second = last_sync(&c).expect("lastSyncTime");
    let sync_id = |c: &MondayConnector| {
        c.status
            .as_ref()
            .and_then(|s| s.snapshot.as_ref())
            .map(|s| s.sync_id.clone())
    };
    assert!(second >= first, "sync-now ran a sync");
    let second_id = sync_id(&c);
    assert_ne!(second_id, first_id, "sync-now wrote a new snapshot");
    let writes = writes_during(client, ns, "sched", Duration::from_secs(3)).await;
    assert_eq!(writes, 0, "the same request value is not handled twice");

    // Suspend: no scheduled sync while suspended.
    api.patch(
        "sched",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"suspend": true}})),
    )
    .await
    .expect("suspend");
    let c = wait_for(
        client,
        ns,
        "sched",
        Duration::from_secs(30),
        "Suspended",
        |c| condition(c, "Ready").is_some_and(|(_, r)| r == "Suspended"),
    )
    .await;
    assert!(
        c.status
            .as_ref()
            .and_then(|s| s.next_sync_time.as_ref())
            .is_none()
    );
    let suspended_sync = last_sync(&c);
    api.patch(
        "sched",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .expect("resume");
    let c = wait_for(
        client,
        ns,
        "sched",
        Duration::from_secs(30),
        "resumed",
        |c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"),
    )
    .await;
    assert_eq!(
        last_sync(&c),
        suspended_sync,
        "resuming does not sync before it is due"
    );

    // Interval: the next scheduled sync comes at nextSyncTime (1m + jitter after the last one).
    let due = c
        .status
        .as_ref()
        .and_then(|s| s.next_sync_time.clone())
        .expect("nextSyncTime")
        .0;
    let c = wait_for(
        client,
        ns,
        "sched",
        Duration::from_secs(90),
        "scheduled sync",
        |c| last_sync(c) > Some(second),
    )
    .await;
    let ran = last_sync(&c).expect("lastSyncTime");
    let late = ran.duration_since(due).as_secs_f64();
    eprintln!("interval: scheduled sync ended {late:.2}s after nextSyncTime");
    assert!(
        (0.0..10.0).contains(&late),
        "scheduled sync on time (ended {late}s after due)"
    );
    op.stop().await.expect("clean stop");
}
