//! ConductorOne service mode in the operator, on the real apiserver with the Monday emulator and
//! the ConductorOne double: the set-up guide's Secret, applied unchanged (BATON_PROVISIONING
//! quoted), connects a MondayConnector to ConductorOne; a ConductorOne sync is uploaded and is
//! also the connector's latest snapshot; grant and revoke tasks change Monday by exactly their
//! grant and show in status and Events; a time-bound grant without a revoke task is revoked by
//! the operator itself, also across an operator restart; refused credentials give a reason
//! without a hot loop, and a rotated Secret reconnects.

use std::time::{Duration, Instant};

use conductorone_double::{Double, DoubleHandle, TaskBuilder};
use kube::api::{Api, Patch, PatchParams};
use monday_emulator::Config;
use monday_operator::api::access_grant::Phase;
use monday_operator::api::{MondayAccessGrant, MondayConnector};
use monday_operator::controller::service_mode::Reach;
use serde_json::json;

use crate::support;
use support::operator::*;
use support::service::{assert_success, finished, read_upload};

fn reach(double: &DoubleHandle) -> Reach {
    Reach {
        extra_roots: Some(double.ca_file().to_path_buf()),
        host_id: "operator-test".into(),
    }
}

/// The guide's Secret for `double`'s client.
async fn guide_secret(s: &Setup, double: &DoubleHandle, name: &str) {
    let creds = double.credentials();
    put_secret(
        &s.client,
        &s.ns,
        name,
        &[
            ("BATON_CLIENT_ID", &creds.client_id),
            ("BATON_CLIENT_SECRET", &creds.client_secret),
            ("BATON_MONDAY_API_KEY", s.emu.admin_token()),
            ("BATON_PROVISIONING", "true"),
        ],
    )
    .await;
}

fn has(emu: &monday_emulator::EmulatorHandle, grant: &str) -> bool {
    emu.ground_truth().grants.iter().any(|g| g == grant)
}

async fn until(what: &str, limit: Duration, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn c1_condition(c: &MondayConnector) -> Option<(String, String)> {
    condition(c, "ConductorOne")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_secret_connects_a_connector_to_conductorone() {
    let s = Setup::new("svc", Config::edge(), &[]).await;
    let double = Double::start(Default::default()).expect("double");
    guide_secret(&s, &double, "baton-monday-secrets").await;
    let op = Operator::start_with(&s.ns, |c| c.conductor_one = reach(&double)).await;
    let spec = json!({"secretRef": {"name": "baton-monday-secrets"}, "apiUrl": s.emu.url(),
        "conductorOne": {"apiHost": double.host_override(), "revokeGracePeriod": "1s"}});
    create_connector(&s.client, &s.ns, "acme", spec).await;
    let c = s
        .wait(
            "acme",
            "ConductorOne connected",
            Duration::from_secs(60),
            |c| c1_condition(c).is_some_and(|(st, _)| st == "True"),
        )
        .await;
    let st = c.status.clone().expect("status");
    assert_eq!(
        st.conductor_one
            .as_ref()
            .and_then(|c| c.client_id.as_deref()),
        Some(double.credentials().client_id.as_str())
    );
    assert_eq!(
        st.conductor_one.as_ref().and_then(|c| c.host_id.as_deref()),
        Some("operator-test")
    );
    s.wait_ready("acme").await;

    // A ConductorOne sync: uploaded, equal to the ground truth, and the connector's snapshot.
    let task = double.push_task(TaskBuilder::sync_full(Default::default()));
    let f = finished(&double, &task, Duration::from_secs(60)).await;
    assert_success(&f);
    let up = double
        .uploads()
        .into_iter()
        .find(|u| u.task_id == task)
        .expect("the upload");
    let dir = tempfile::tempdir().expect("tempdir");
    let (grants, resources, entitlements) = read_upload(&up.data, dir.path());
    let truth = s.emu.ground_truth();
    support::service::assert_same("grants", &grants, &truth.grants.iter().cloned().collect());
    assert!(!resources.is_empty() && !entitlements.is_empty());
    let c = s
        .wait(
            "acme",
            "the upload in status",
            Duration::from_secs(30),
            |c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.conductor_one.as_ref())
                    .and_then(|c| c.last_upload.as_ref())
                    .is_some()
            },
        )
        .await;
    let st = c.status.expect("status");
    let upload = st
        .conductor_one
        .as_ref()
        .and_then(|c| c.last_upload.clone())
        .expect("upload");
    assert_eq!(
        st.snapshot.as_ref().map(|s| s.sync_id.as_str()),
        Some(upload.sync_id.as_str()),
        "the ConductorOne sync is the connector's latest snapshot"
    );

    // Grant and revoke tasks change Monday by exactly their grant.
    let grant = "board:413:subscriber:user:102";
    assert!(!has(&s.emu, grant));
    let before = s.emu.ground_truth().grants.len();
    let task = double.push_task(TaskBuilder::grant("board:413:subscriber", "user:102", None));
    assert_success(&finished(&double, &task, Duration::from_secs(30)).await);
    assert!(has(&s.emu, grant));
    assert_eq!(s.emu.ground_truth().grants.len(), before + 1);
    let task = double.push_task(TaskBuilder::revoke(grant));
    assert_success(&finished(&double, &task, Duration::from_secs(30)).await);
    assert!(!has(&s.emu, grant));
    assert_eq!(s.emu.ground_truth().grants.len(), before);
    until("task Events", Duration::from_secs(20), async || {
        let evs = events_for(&s.client, &s.ns, "acme").await;
        evs.iter().filter(|(_, n, _)| n.contains(grant)).count() >= 2
    })
    .await;

    // A time-bound grant ConductorOne never revokes: the operator revokes it, across a restart.
    let timed = "board:413:owner:user:102";
    let task = double.push_task(TaskBuilder::grant("board:413:owner", "user:102", Some(2)));
    assert_success(&finished(&double, &task, Duration::from_secs(30)).await);
    assert!(has(&s.emu, timed));
    let grants: Api<MondayAccessGrant> = Api::namespaced(s.client.clone(), &s.ns);
    let record = format!("c1-{}", task.to_ascii_lowercase());
    until("the record", Duration::from_secs(20), async || {
        grants
            .get_opt(&record)
            .await
            .ok()
            .flatten()
            .and_then(|g| g.status)
            .is_some_and(|st| st.phase == Some(Phase::Granted))
    })
    .await;
    op.stop().await.expect("clean stop");
    let op = Operator::start_with(&s.ns, |c| c.conductor_one = reach(&double)).await;
    until(
        "the operator's revoke",
        Duration::from_secs(30),
        async || !has(&s.emu, timed),
    )
    .await;
    until("the record Expired", Duration::from_secs(20), async || {
        grants
            .get_opt(&record)
            .await
            .ok()
            .flatten()
            .and_then(|g| g.status)
            .is_some_and(|st| st.phase == Some(Phase::Expired))
    })
    .await;
    assert!(
        !has(&s.emu, "board:413:subscriber:user:102"),
        "nothing else left"
    );

    // Counts, and no secret anywhere the user can read.
    let c: MondayConnector = Api::namespaced(s.client.clone(), &s.ns)
        .get("acme")
        .await
        .expect("get");
    let st = c.status.expect("status");
    let c1 = st.conductor_one.clone().expect("conductorOne");
    assert!(c1.tasks_succeeded >= 4, "{c1:?}");
    let text = format!(
        "{}{:?}",
        serde_json::to_string(&st).expect("json"),
        events_for(&s.client, &s.ns, "acme").await
    );
    assert!(!text.contains(&double.credentials().client_secret));
    assert!(!text.contains(&double.credentials().private_d));
    assert!(!text.contains(s.emu.admin_token()));
    op.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_give_a_reason_without_a_hot_loop_and_rotation_reconnects() {
    let s = Setup::new("svc-bad", Config::edge(), &[]).await;
    let double = Double::start(Default::default()).expect("double");
    let good = double.credentials().clone();
    let wrong = good.with_other_key();
    put_secret(
        &s.client,
        &s.ns,
        "c1",
        &[
            ("BATON_CLIENT_ID", &wrong.client_id),
            ("BATON_CLIENT_SECRET", &wrong.client_secret),
        ],
    )
    .await;
    let op = Operator::start_with(&s.ns, |c| c.conductor_one = reach(&double)).await;
    s.connector(
        "acme",
        json!({"conductorOne": {"secretName": "c1", "apiHost": double.host_override()}}),
    )
    .await;
    let c = s
        .wait("acme", "InvalidCredentials", Duration::from_secs(60), |c| {
            c1_condition(c) == Some(("False".into(), "InvalidCredentials".into()))
        })
        .await;
    assert_eq!(
        condition(&c, "Ready").map(|r| r.1),
        Some("InvalidCredentials".into())
    );
    let requests = double.token_requests().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(double.token_requests().len(), requests, "no retry loop");
    // Not a client id at all: its own reason.
    put_secret(
        &s.client,
        &s.ns,
        "c1",
        &[
            ("BATON_CLIENT_ID", "not-a-client-id"),
            ("BATON_CLIENT_SECRET", &good.client_secret),
        ],
    )
    .await;
    s.wait("acme", "InvalidClientId", Duration::from_secs(30), |c| {
        c1_condition(c).is_some_and(|(_, r)| r == "InvalidClientId")
    })
    .await;
    // The right credentials: reconnected within seconds.
    let started = Instant::now();
    put_secret(
        &s.client,
        &s.ns,
        "c1",
        &[
            ("BATON_CLIENT_ID", &good.client_id),
            ("BATON_CLIENT_SECRET", &good.client_secret),
        ],
    )
    .await;
    s.wait("acme", "reconnected", Duration::from_secs(30), |c| {
        c1_condition(c).is_some_and(|(st, _)| st == "True")
    })
    .await;
    eprintln!(
        "rotation: connected {:.1}s after the Secret changed",
        started.elapsed().as_secs_f64()
    );
    // Switched off by the spec: the loop stops.
    let api: Api<MondayConnector> = Api::namespaced(s.client.clone(), &s.ns);
    api.patch(
        "acme",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"conductorOne": {"enabled": false}}})),
    )
    .await
    .expect("patch");
    s.wait("acme", "ServiceModeOff", Duration::from_secs(30), |c| {
        c1_condition(c).is_some_and(|(_, r)| r == "ServiceModeOff")
    })
    .await;
    op.stop().await.expect("clean stop");
}
