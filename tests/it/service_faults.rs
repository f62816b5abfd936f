//! Service mode under faults, against the ConductorOne double (and the Monday emulator): bad and
//! revoked credentials end start-up with a typed reason and no retry loop; Hello and GetTask
//! failures back off as the SDK does; rejected tokens are replaced; uploads survive a dropped
//! stream and a server restart (or fail retryably — never reported done with a partial file);
//! cancelled heartbeats behave as the SDK's; a stop mid-sync ends within 10 s, unfinished and
//! with no file.

use std::time::{Duration, Instant};

use crate::support::service::*;
use conductorone_double::pb::baton::task::SyncFullTask;
use conductorone_double::{Config as DoubleConfig, Double, Method, TaskBuilder, UploadFault};
use monday_emulator::{Config, Emulator, Size};
use monday_operator::conductorone::{self, C1Error, ClientId, ClientSecret, TokenError};
use monday_operator::service::{Service, ServiceConfig, ServiceError, ServiceEvent, TaskOutcome};
use secrecy::SecretString;

const LIMIT: Duration = Duration::from_secs(90);

fn sqlite_sync() -> conductorone_double::pb::baton::Task {
    TaskBuilder::sync_full(SyncFullTask {
        storage_engine: "sqlite".into(),
        ..Default::default()
    })
}

/// Gaps between consecutive calls of `method`, in seconds.
fn gaps(double: &conductorone_double::DoubleHandle, method: Method) -> Vec<f64> {
    let at: Vec<Instant> = double.rpcs(method).iter().map(|r| r.at).collect();
    at.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect()
}

#[test]
fn malformed_client_ids_and_secrets_are_typed_errors() {
    for (id, want) in [
        ("no-at-sign", "InvalidClientId"),
        ("name@host-without-slash", "InvalidClientId"),
    ] {
        let e = C1Error::from(id.parse::<ClientId>().expect_err(id));
        assert_eq!(e.reason(), want, "{e}");
        assert!(!e.hello_retryable());
    }
    let good = conductorone_double::Credentials::generate("x", "acme.invalid");
    let cases = [
        "not-a-secret".to_string(),
        "secret-token:conductorone.com:v2:abc".to_string(),
        "secret-token:conductorone.com:v1:!!!".to_string(),
        good.client_secret.replace(":v1:", ":v1:AAAA"),
    ];
    for s in cases {
        let e = C1Error::from(
            ClientSecret::parse(&SecretString::from(s.clone())).expect_err("malformed secret"),
        );
        assert_eq!(e.reason(), "InvalidClientSecret", "{e}");
        assert!(!e.to_string().contains(&good.private_d));
    }
}

async fn start_up_error(
    double: &conductorone_double::DoubleHandle,
    cfg: conductorone::Config,
) -> ServiceError {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let c1 = conductorone::Client::new(cfg).expect("client");
    let service = Service::new(
        c1,
        monday(&emu),
        ServiceConfig::new(dir.path().into(), true),
        std::sync::Arc::new(()),
    )
    .expect("service");
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), service.run(std::future::pending()))
        .await
        .expect("start-up ends at once")
        .expect_err("start-up fails");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no retry loop: {:?}",
        started.elapsed()
    );
    let _ = double;
    err
}

#[tokio::test]
async fn wrong_key_revoked_client_and_token_401_end_start_up_with_a_reason_and_no_retry() {
    let double = quick_double();
    // The right client id with another key: the signature does not verify.
    let mut cfg = conductorone_config(&double);
    let other = double.credentials().with_other_key();
    cfg.client_secret =
        ClientSecret::parse(&SecretString::from(other.client_secret.clone())).expect("parse");
    let err = start_up_error(&double, cfg).await;
    assert_eq!(err.reason(), "InvalidCredentials", "{err}");
    assert!(
        matches!(&err, ServiceError::Hello(C1Error::Token(TokenError::Rejected { status: 401, error: Some(e) })) if e == "invalid_client"),
        "{err:?}"
    );
    assert_eq!(double.token_requests().len(), 1, "one attempt, no hot loop");
    assert!(
        double.rpcs(Method::Hello).is_empty(),
        "no RPC without a token"
    );

    // A revoked client.
    double.revoke_client(&double.credentials().client_id);
    let err = start_up_error(&double, conductorone_config(&double)).await;
    assert_eq!(err.reason(), "InvalidCredentials");
    assert_eq!(double.token_requests().len(), 2);
    double.register(&double.credentials().clone());

    // An injected 401 at start-up: the SDK exits at once, so do we.
    double.fail_token(1);
    let err = start_up_error(&double, conductorone_config(&double)).await;
    assert_eq!(err.reason(), "InvalidCredentials");
    assert_eq!(double.token_requests().len(), 3);
    // The assertions were what the SDK sends, and the secret never left.
    for t in double.token_requests() {
        let names: Vec<&str> = t.form.iter().map(|(k, _)| k.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            [
                "client_assertion",
                "client_assertion_type",
                "client_id",
                "grant_type"
            ]
        );
        let claims = t.claims.expect("claims");
        assert_eq!(
            claims["aud"], "acme.conductor.one.invalid",
            "audience is the client id's host, not the override"
        );
        assert_eq!(claims["iss"], claims["sub"]);
        let h = t.header.expect("header");
        assert_eq!(h["alg"], "EdDSA");
        assert_eq!(h["nonce"].as_str().expect("nonce").len(), 32);
        assert!(h.get("kid").is_none() && h.get("typ").is_none());
    }
    let raw = double.raw_received();
    for secret in [
        &double.credentials().client_secret,
        &double.credentials().private_d,
        &other.client_secret,
        &other.private_d,
    ] {
        assert!(
            !contains(&raw, secret.as_bytes()),
            "a secret reached the server"
        );
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn hello_and_get_task_failures_back_off_like_the_sdk() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    double.fail_next(Method::Hello, tonic::Code::Unavailable, 3);
    let mut running = start(&double, &emu, true, |_| {});
    let ok = double
        .wait_for(Duration::from_secs(20), |d| {
            (d.hellos_accepted() == 1).then_some(())
        })
        .await;
    assert!(ok.is_some(), "connected after the retries");
    let g = gaps(&double, Method::Hello);
    assert_eq!(g.len(), 3, "{g:?}");
    for (got, want) in g.iter().zip([1.0, 2.0, 4.0]) {
        assert!(
            (got - want).abs() < 0.6,
            "Hello retries after 1, 2, 4 s: {g:?}"
        );
    }
    // GetTask: errCount² seconds.
    double
        .wait_for(Duration::from_secs(5), |d| {
            (!d.rpcs(Method::GetTask).is_empty()).then_some(())
        })
        .await;
    double.fail_next(Method::GetTask, tonic::Code::Unavailable, 2);
    let n0 = double.rpcs(Method::GetTask).len();
    double
        .wait_for(Duration::from_secs(15), |d| {
            (d.rpcs(Method::GetTask).len() >= n0 + 3).then_some(())
        })
        .await;
    let g = gaps(&double, Method::GetTask);
    let g = &g[n0 - 1..n0 + 2];
    assert!(
        (g[1] - 1.0).abs() < 0.6 && (g[2] - 4.0).abs() < 0.6,
        "GetTask backoff 1 s, 4 s: {g:?}"
    );
    // Events follow the answers they report.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = running.drain().to_vec();
    assert!(events.iter().any(|e| matches!(e, ServiceEvent::PollFailed { consecutive: 2, retry_in, .. } if *retry_in == Duration::from_secs(4))));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ServiceEvent::PollRecovered))
    );
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn a_rejected_token_is_replaced_and_work_continues() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, true, |_| {});
    double
        .wait_for(Duration::from_secs(10), |d| {
            (d.hellos_accepted() == 1).then_some(())
        })
        .await;
    assert_eq!(
        double.token_requests().len(),
        1,
        "one token for everything so far"
    );
    double.invalidate_tokens();
    let id = double.push_task(TaskBuilder::grant("team:201:member", "user:107", None));
    assert_success(&finished(&double, &id, Duration::from_secs(20)).await);
    assert!(
        double.rpcs(Method::GetTask).iter().any(|r| !r.authorized),
        "the old token was refused"
    );
    assert_eq!(
        double.token_requests().len(),
        2,
        "a fresh token, fetched once"
    );
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn a_dropped_upload_is_retried_and_finished_once_with_the_whole_file() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, false, |_| {});
    double.upload_fault(UploadFault::DropAfterChunks(1));
    let id = double.push_task(sqlite_sync());
    assert_success(&finished(&double, &id, LIMIT).await);
    assert_eq!(double.rpcs(Method::UploadAsset).len(), 2, "two attempts");
    let uploads = double.uploads();
    assert_eq!(uploads.len(), 1, "one complete upload");
    let dir = tempfile::tempdir().expect("tempdir");
    let (grants, _, _) = read_upload(&uploads[0].data, dir.path());
    assert_same(
        "grants",
        &grants,
        &emu.ground_truth().grants.into_iter().collect(),
    );
    assert_eq!(double.finished().len(), 1);

    // Three failures: a retryable error and nothing taken as uploaded.
    for _ in 0..3 {
        double.upload_fault(UploadFault::DropAfterChunks(1));
    }
    let id = double.push_task(sqlite_sync());
    let (code, message, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
    assert_eq!(code, tonic::Code::Unavailable as i32, "{message}");
    assert!(!non_retryable, "upload failures are retryable");
    assert_eq!(double.uploads().len(), 1, "no partial upload was accepted");
    assert!(double.problems().is_empty(), "{:?}", double.problems());
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn a_server_restart_mid_upload_is_survived_without_a_partial_file() {
    // Tenant M: a ~10 MB file, 20 chunks; the restart comes after the third.
    let emu = Emulator::start(Config::generated(Size::M, 7)).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, false, |_| {});
    double.upload_fault(UploadFault::RestartAfterChunks(3));
    let id = double.push_task(sqlite_sync());
    assert_success(&finished(&double, &id, Duration::from_secs(240)).await);
    assert_eq!(double.restarts(), 1);
    let uploads = double.uploads();
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].chunk_sizes.len() > 3, "a multi-chunk file");
    assert!(
        uploads[0]
            .chunk_sizes
            .iter()
            .all(|&c| c == 512 * 1024 || c == *uploads[0].chunk_sizes.last().expect("chunks"))
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (grants, _, _) = read_upload(&uploads[0].data, dir.path());
    assert_same(
        "grants",
        &grants,
        &emu.ground_truth().grants.into_iter().collect(),
    );
    assert!(double.problems().is_empty(), "{:?}", double.problems());
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn a_cancelled_first_heartbeat_drops_the_task_unfinished() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let mut running = start(&double, &emu, false, |_| {});
    let task = sqlite_sync();
    double.cancel_heartbeat(&task.id, 1);
    let id = double.push_task(task);
    double
        .wait_for(Duration::from_secs(20), |d| {
            (d.heartbeats(&id) == 1).then_some(())
        })
        .await
        .expect("a heartbeat");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        double.finished().is_empty(),
        "the SDK never finishes such a task"
    );
    assert!(double.uploads().is_empty());
    assert_eq!(emu.stats().executed, 0, "the sync never started");
    let events = running.drain().to_vec();
    assert!(events.iter().any(|e| matches!(e, ServiceEvent::TaskFinished(r) if r.info.id == id && matches!(r.outcome, TaskOutcome::Dropped { .. }) && !r.finish_reported)));
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn a_later_cancelled_heartbeat_finishes_cancelled_and_retryable_with_no_upload() {
    let emu =
        Emulator::start(Config::edge().latency(Duration::from_millis(700))).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, false, |_| {});
    let task = sqlite_sync();
    double.cancel_heartbeat(&task.id, 2);
    let id = double.push_task(task);
    let (code, message, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
    assert_eq!(code, tonic::Code::Cancelled as i32, "{message}");
    assert!(message.contains("context canceled"), "{message}");
    assert!(!non_retryable);
    assert!(double.uploads().is_empty());
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn a_stop_mid_sync_ends_within_ten_seconds_unfinished_and_leaves_no_file() {
    let emu =
        Emulator::start(Config::edge().latency(Duration::from_millis(800))).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, false, |_| {});
    let id = double.push_task(sqlite_sync());
    double
        .wait_for(Duration::from_secs(20), |d| {
            (d.heartbeats(&id) >= 1).then_some(())
        })
        .await
        .expect("started");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let work_dir = running.work_dir.clone();
    let t = Instant::now();
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        double.finished().is_empty(),
        "abandoned like the SDK: no FinishTask"
    );
    assert!(double.uploads().is_empty());
    let files: Vec<_> = std::fs::read_dir(&work_dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "no half-written file: {files:?}");
}

#[tokio::test]
async fn three_tasks_run_at_once_and_no_more() {
    let emu =
        Emulator::start(Config::edge().latency(Duration::from_millis(300))).expect("emulator");
    let double = Double::start(DoubleConfig {
        next_poll: Duration::from_millis(10),
        ..Default::default()
    })
    .expect("double");
    let mut running = start(&double, &emu, true, |_| {});
    double
        .wait_for(Duration::from_secs(10), |d| {
            (d.hellos_accepted() == 1).then_some(())
        })
        .await;
    let ids: Vec<String> = ["107", "105", "110", "102", "108", "111"]
        .iter()
        .map(|u| {
            double.push_task(TaskBuilder::grant(
                "workspace:302:subscriber",
                &format!("user:{u}"),
                None,
            ))
        })
        .collect();
    for id in &ids {
        finished(&double, id, LIMIT).await;
    }
    let mut in_flight = 0i32;
    let mut peak = 0;
    for e in running.drain() {
        match e {
            ServiceEvent::TaskStarted(_) => {
                in_flight += 1;
                peak = peak.max(in_flight);
            }
            ServiceEvent::TaskFinished(_) => in_flight -= 1,
            _ => {}
        }
    }
    assert_eq!(peak, 3, "the SDK's default of 3 slots, all used");
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}

#[tokio::test]
async fn failing_heartbeats_cancel_the_sync_when_the_counter_reaches_ten() {
    // Slow Monday: the sync outlasts ten 1 s heartbeat intervals.
    let emu = Emulator::start(Config::edge().latency(Duration::from_secs(4))).expect("emulator");
    let double = quick_double();
    let running = start(&double, &emu, false, |_| {});
    let id = double.push_task(sqlite_sync());
    double
        .wait_for(Duration::from_secs(20), |d| {
            (d.heartbeats(&id) == 1).then_some(())
        })
        .await
        .expect("first heartbeat");
    double.fail_next(Method::Heartbeat, tonic::Code::Unavailable, 100);
    let (code, message, non_retryable) = assert_error(&finished(&double, &id, LIMIT).await);
    assert_eq!(code, tonic::Code::Cancelled as i32, "{message}");
    assert!(message.contains("heartbeat"), "{message}");
    assert!(!non_retryable);
    // The SDK's counter: one good heartbeat, then 9 failures, then the cancel.
    assert_eq!(double.rpcs(Method::Heartbeat).len(), 10);
    assert!(double.uploads().is_empty());
    running
        .stop(Duration::from_secs(10))
        .await
        .expect("clean stop");
}
