//! Just-in-time access on a real kube-apiserver against the Monday emulator: grants of every kind
//! (users and teams) expire on time even across an operator restart (the lag between
//! `status.expiresAt` and Monday no longer having the access is printed and must be ≤ 1 s),
//! deletion revokes, pre-existing access survives, provisioning off leaves Monday untouched,
//! per-user errors become conditions, and the next snapshot contains the grant.

use crate::support;

use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use monday_emulator::{Config, Emulator, EmulatorHandle};
use monday_operator::api::access_grant::Phase;
use monday_operator::api::connector::SYNC_REQUESTED_ANNOTATION;
use monday_operator::api::{MondayAccessGrant, MondayConnector};
use serde_json::{Value, json};
use support::operator::{Operator, create_connector, put_secret};

use support::install_crds;

/// A namespace with the seed-style Secret and a connector pointing at the emulator.
async fn setup(
    client: &kube::Client,
    emu: &EmulatorHandle,
    prefix: &str,
    provisioning: Option<bool>,
) -> String {
    install_crds(client).await;
    let ns = support::namespace(client, prefix).await;
    put_secret(
        client,
        &ns,
        "baton-monday-secrets",
        &[
            ("BATON_MONDAY_API_KEY", emu.admin_token()),
            ("BATON_PROVISIONING", "true"),
        ],
    )
    .await;
    let mut spec = json!({"secretRef": {"name": "baton-monday-secrets"}, "apiUrl": emu.url(), "suspend": true});
    if let Some(p) = provisioning {
        spec["provisioning"] = json!(p);
    }
    create_connector(client, &ns, "acme", spec).await;
    ns
}

fn grant_obj(name: &str, principal: Value, entitlement: &str, extra: Value) -> MondayAccessGrant {
    let mut spec = json!({"connectorRef": {"name": "acme"}, "principal": principal,
                          "entitlement": entitlement, "reason": "INC-42"});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
        "metadata": {"name": name}, "spec": spec
    }))
    .expect("grant")
}

async fn wait_for(
    api: &Api<MondayAccessGrant>,
    name: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&MondayAccessGrant) -> bool,
) -> MondayAccessGrant {
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
                "{name}: timed out waiting for {what}; status {:?}",
                now.and_then(|g| g.status)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn phase(g: &MondayAccessGrant) -> Option<Phase> {
    g.status.as_ref().and_then(|s| s.phase)
}

fn ready_reason(g: &MondayAccessGrant) -> Option<String> {
    g.status.as_ref().and_then(|s| {
        s.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.reason.to_string())
    })
}

fn has(emu: &EmulatorHandle, grant: &str) -> bool {
    emu.ground_truth().grants.iter().any(|g| g == grant)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_expire_on_time_across_a_restart() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let client = support::client().await;
    let ns = setup(&client, &emu, "jit-exp", None).await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let op = Operator::start(&ns).await;

    // (object name, principal, entitlement, Baton grant that must come and go)
    let cases = [
        (
            "board-user",
            json!({"userId": "102"}),
            "board:413:subscriber",
            "board:413:subscriber:user:102",
        ),
        (
            "board-team",
            json!({"teamId": "202"}),
            "board:413:owner",
            "board:413:owner:team:202",
        ),
        (
            "ws-user",
            json!({"email": "max.member@edge.example"}),
            "workspace:302:owner",
            "workspace:302:owner:user:102",
        ),
        (
            "ws-team",
            json!({"teamId": "204"}),
            "workspace:302:subscriber",
            "workspace:302:subscriber:team:204",
        ),
        (
            "team-member",
            json!({"userId": "107"}),
            "team:202:member",
            "team:202:member:user:107",
        ),
        (
            "team-owner",
            json!({"userId": "110"}),
            "team:202:owner",
            "team:202:owner:user:110",
        ),
        (
            "role",
            json!({"userId": "107"}),
            "role:member:assigned",
            "role:member:assigned:user:107",
        ),
    ];
    for (name, p, e, g) in &cases {
        assert!(!has(&emu, g), "{g} exists before the test");
        api.create(
            &PostParams::default(),
            &grant_obj(name, p.clone(), e, json!({"duration": "8s"})),
        )
        .await
        .expect("create");
    }
    let mut expiries = Vec::new();
    for (name, _, _, g) in &cases {
        let obj = wait_for(&api, name, "Granted", Duration::from_secs(20), |o| {
            phase(o) == Some(Phase::Granted)
        })
        .await;
        assert!(has(&emu, g), "{g} missing after Granted");
        let st = obj.status.expect("status");
        assert_eq!(st.pre_existing, Some(false));
        assert_eq!(st.grant_id.as_deref(), Some(*g));
        expiries.push(st.expires_at.expect("expiresAt").0);
    }
    let role = api.get("role").await.expect("role grant");
    assert_eq!(
        role.status.and_then(|s| s.previous_role).as_deref(),
        Some("viewer")
    );
    // The grant asked the connector for a sync.
    let conn = Api::<MondayConnector>::namespaced(client.clone(), &ns)
        .get("acme")
        .await
        .expect("connector");
    assert!(conn.annotations().contains_key(SYNC_REQUESTED_ANNOTATION));

    // Restart between grant and expiry: the new process only has the stored status.
    op.stop().await.expect("clean stop");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let op = Operator::start(&ns).await;

    // Measure: poll Monday until each grant is gone.
    let mut pending: Vec<usize> = (0..cases.len()).collect();
    let mut worst = jiff::SignedDuration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending.is_empty() {
        let truth = emu.ground_truth();
        let now = jiff::Timestamp::now();
        pending.retain(|&i| {
            let present = truth.grants.iter().any(|g| g == cases[i].3);
            if !present {
                let lag = now.duration_since(expiries[i]);
                println!(
                    "JIT expiry lag {}: {:.3}s (expiresAt {})",
                    cases[i].3,
                    lag.as_secs_f64(),
                    expiries[i]
                );
                assert!(
                    now >= expiries[i],
                    "{} revoked before expiresAt",
                    cases[i].3
                );
                worst = worst.max(lag);
            }
            present
        });
        assert!(
            Instant::now() < deadline,
            "not revoked in time: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("JIT expiry worst lag: {:.3}s", worst.as_secs_f64());
    assert!(
        worst <= jiff::SignedDuration::from_secs(1),
        "worst lag {worst:?} > 1s"
    );
    for (name, ..) in &cases {
        let obj = wait_for(&api, name, "Expired", Duration::from_secs(10), |o| {
            phase(o) == Some(Phase::Expired)
        })
        .await;
        assert!(obj.status.and_then(|s| s.revoked_at).is_some());
    }
    // The role went back to viewer.
    assert!(has(&emu, "role:viewer:assigned:user:107"));
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_revokes_and_pre_existing_access_survives() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let client = support::client().await;
    let ns = setup(&client, &emu, "jit-del", None).await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let op = Operator::start(&ns).await;
    let pp = PostParams::default();

    // Deleting before expiry revokes through the finalizer.
    api.create(
        &pp,
        &grant_obj(
            "del",
            json!({"userId": "102"}),
            "board:413:owner",
            json!({"duration": "1h"}),
        ),
    )
    .await
    .expect("create");
    wait_for(&api, "del", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    assert!(has(&emu, "board:413:owner:user:102"));
    api.delete("del", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.get_opt("del").await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "object not finalized");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !has(&emu, "board:413:owner:user:102"),
        "deletion must revoke"
    );

    // Pre-existing: 101 subscribes to board 401 already; neither expiry nor deletion removes it.
    api.create(
        &pp,
        &grant_obj(
            "pre-exp",
            json!({"userId": "101"}),
            "board:401:subscriber",
            json!({"duration": "2s"}),
        ),
    )
    .await
    .expect("create");
    api.create(
        &pp,
        &grant_obj(
            "pre-del",
            json!({"teamId": "201"}),
            "board:401:subscriber",
            json!({}),
        ),
    )
    .await
    .expect("create");
    let g = wait_for(&api, "pre-del", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    assert_eq!(g.status.and_then(|s| s.pre_existing), Some(true));
    let g = wait_for(&api, "pre-exp", "Expired", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Expired)
    })
    .await;
    assert_eq!(g.status.as_ref().and_then(|s| s.pre_existing), Some(true));
    assert_eq!(ready_reason(&g).as_deref(), Some("ExpiredPreExisting"));
    api.delete("pre-del", &DeleteParams::default())
        .await
        .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.get_opt("pre-del").await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "object not finalized");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(has(&emu, "board:401:subscriber:user:101"));
    assert!(has(&emu, "board:401:subscriber:team:201"));
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_disabled_leaves_monday_untouched() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let client = support::client().await;
    // The Secret says BATON_PROVISIONING=true; the connector's spec overrides it.
    let ns = setup(&client, &emu, "jit-off", Some(false)).await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let op = Operator::start(&ns).await;
    emu.reset_stats();
    api.create(
        &PostParams::default(),
        &grant_obj(
            "off",
            json!({"userId": "102"}),
            "board:413:owner",
            json!({"duration": "1h"}),
        ),
    )
    .await
    .expect("create");
    let g = wait_for(
        &api,
        "off",
        "ProvisioningDisabled",
        Duration::from_secs(20),
        |o| ready_reason(o).as_deref() == Some("ProvisioningDisabled"),
    )
    .await;
    assert_eq!(phase(&g), Some(Phase::Pending));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(emu.stats().executed, 0, "Monday must not be called");
    assert!(!has(&emu, "board:413:owner:user:102"));

    // Switching provisioning on grants.
    Api::<MondayConnector>::namespaced(client.clone(), &ns)
        .patch(
            "acme",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"provisioning": true}})),
        )
        .await
        .expect("enable");
    wait_for(&api, "off", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    assert!(has(&emu, "board:413:owner:user:102"));
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_user_errors_become_conditions() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let client = support::client().await;
    let ns = setup(&client, &emu, "jit-err", None).await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let op = Operator::start(&ns).await;
    let pp = PostParams::default();
    let me = emu.admin_user_id().to_string();
    for (name, p, e, reason) in [
        (
            "self",
            json!({"userId": me}),
            "role:member:assigned",
            "CannotUpdateSelf",
        ),
        (
            "self-deactivate",
            json!({"userId": me}),
            "account:deactivated",
            "CannotUpdateSelf",
        ),
        (
            "nobody",
            json!({"userId": "999999"}),
            "board:413:owner",
            "UserNotFound",
        ),
        (
            "pending",
            json!({"userId": "103"}),
            "account:deactivated",
            "PendingInvitation",
        ),
        (
            "no-board",
            json!({"userId": "102"}),
            "board:999:owner",
            "ResourceNotFound",
        ),
    ] {
        api.create(&pp, &grant_obj(name, p, e, json!({"duration": "1h"})))
            .await
            .expect("create");
        let g = wait_for(&api, name, reason, Duration::from_secs(20), |o| {
            ready_reason(o).as_deref() == Some(reason)
        })
        .await;
        let c = g.status.expect("status").conditions;
        let ready = c.iter().find(|c| c.type_ == "Ready").expect("Ready");
        assert_eq!(ready.status, "False");
        assert!(!ready.message.is_empty());
        assert!(!ready.message.contains(emu.admin_token()));
    }
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_and_account_lifecycle_through_grants() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let client = support::client().await;
    let ns = setup(&client, &emu, "jit-acct", None).await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let op = Operator::start(&ns).await;
    let pp = PostParams::default();
    api.create(
        &pp,
        &grant_obj(
            "hire",
            json!({"email": "new.hire@edge.example"}),
            "board:413:subscriber",
            json!({"duration": "1h", "createAccount": true}),
        ),
    )
    .await
    .expect("create");
    let g = wait_for(&api, "hire", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    let st = g.status.expect("status");
    assert_eq!(st.account_invited, Some(true));
    let id = st.user_id.expect("user id");
    assert!(has(&emu, &format!("board:413:subscriber:user:{id}")));

    // Suspend 102 for a moment: deactivated, then active again at expiry.
    let status = |id: i64| emu.with_tenant(|t| format!("{:?}", t.user(id).expect("user").status));
    api.create(
        &pp,
        &grant_obj(
            "suspend",
            json!({"userId": "102"}),
            "account:deactivated",
            json!({"duration": "3s"}),
        ),
    )
    .await
    .expect("create");
    wait_for(&api, "suspend", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    assert_eq!(status(102), "Inactive");
    wait_for(&api, "suspend", "Expired", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Expired)
    })
    .await;
    assert_eq!(status(102), "Active");
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_snapshot_contains_the_grant() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let client = support::client().await;
    let ns = setup(&client, &emu, "jit-snap", None).await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let op = Operator::start(&ns).await;
    api.create(
        &PostParams::default(),
        &grant_obj(
            "snap",
            json!({"userId": "105"}),
            "board:403:owner",
            json!({"duration": "1h"}),
        ),
    )
    .await
    .expect("create");
    let g = wait_for(&api, "snap", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    let grant_id = g.status.and_then(|s| s.grant_id).expect("grant id");
    // What an administrator sees.
    let out = support::kubectl(&["get", "mgrant", "-n", &ns]);
    let table = String::from_utf8_lossy(&out.stdout);
    println!("{table}");
    for want in [
        "PHASE",
        "PRINCIPAL",
        "ENTITLEMENT",
        "EXPIRES",
        "Granted",
        "user:105",
        "board:403:owner",
    ] {
        assert!(table.contains(want), "{want} missing in:\n{table}");
    }
    let conn = Api::<MondayConnector>::namespaced(client.clone(), &ns)
        .get("acme")
        .await
        .expect("connector");
    assert!(
        conn.annotations().contains_key(SYNC_REQUESTED_ANNOTATION),
        "sync requested"
    );
    // The sync the connector controller runs on that request, run here directly.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sync.c1z");
    let conn = monday_operator::engine::Connection {
        api_url: emu.url(),
        token: secrecy::SecretString::from(emu.admin_token().to_string()),
    };
    monday_operator::engine::sync_to_file(&conn, &path, &Default::default())
        .await
        .expect("sync");
    let reader = monday_operator::baton::C1zReader::open(&path).expect("open");
    let run = reader
        .latest_finished_sync()
        .expect("runs")
        .expect("a sync");
    let grants = reader.grant_ids(&run.sync_id).expect("grants");
    assert!(grants.contains(&grant_id), "{grant_id} not in the snapshot");
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_revocation_retries_visibly_and_extension_moves_the_deadline() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let client = support::client().await;
    let ns = setup(&client, &emu, "jit-retry", None).await;
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &ns);
    let op = Operator::start(&ns).await;
    let pp = PostParams::default();

    // Extension: 3s, then 6s while granted; the stored deadline moves and is kept.
    api.create(
        &pp,
        &grant_obj(
            "ext",
            json!({"userId": "102"}),
            "workspace:302:subscriber",
            json!({"duration": "3s"}),
        ),
    )
    .await
    .expect("create");
    let g = wait_for(&api, "ext", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    let st = g.status.expect("status");
    let granted_at = st.granted_at.expect("grantedAt").0;
    api.patch(
        "ext",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"duration": "6s"}})),
    )
    .await
    .expect("extend");
    let g = wait_for(&api, "ext", "extended", Duration::from_secs(5), |o| {
        o.status
            .as_ref()
            .and_then(|s| s.expires_at.as_ref())
            .map(|t| t.0)
            >= Some(granted_at + jiff::SignedDuration::from_secs(6))
    })
    .await;
    let extended = g.status.and_then(|s| s.expires_at).expect("expiresAt").0;
    let grant = "workspace:302:subscriber:user:102";
    while has(&emu, grant) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = jiff::Timestamp::now();
    println!(
        "extended expiry lag: {:.3}s",
        now.duration_since(extended).as_secs_f64()
    );
    assert!(now >= extended, "revoked before the extended deadline");
    assert!(now.duration_since(extended) <= jiff::SignedDuration::from_secs(1));

    // Revocation failure: the token stops working at expiry; the grant stays Granted, says why
    // in its condition and an Event, and completes once the token works again.
    api.create(
        &pp,
        &grant_obj(
            "retry",
            json!({"userId": "102"}),
            "board:413:subscriber",
            json!({"duration": "2s"}),
        ),
    )
    .await
    .expect("create");
    wait_for(&api, "retry", "Granted", Duration::from_secs(20), |o| {
        phase(o) == Some(Phase::Granted)
    })
    .await;
    emu.revoke_token(emu.admin_token());
    let g = wait_for(
        &api,
        "retry",
        "InvalidToken",
        Duration::from_secs(20),
        |o| ready_reason(o).as_deref() == Some("InvalidToken"),
    )
    .await;
    assert_eq!(
        phase(&g),
        Some(Phase::Granted),
        "never reported revoked while Monday has it"
    );
    assert!(has(&emu, "board:413:subscriber:user:102"));
    // The Event is published right after the status write; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let evs = support::operator::events_for(&client, &ns, "retry").await;
        if evs
            .iter()
            .any(|(r, n, _)| r == "RevokeFailed" && n.contains("HTTP 401"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no RevokeFailed Event: {evs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    emu.add_token(emu.admin_token(), emu.admin_user_id(), None);
    wait_for(&api, "retry", "Expired", Duration::from_secs(90), |o| {
        phase(o) == Some(Phase::Expired)
    })
    .await;
    assert!(!has(&emu, "board:413:subscriber:user:102"));
    op.stop().await.expect("clean stop");
}
