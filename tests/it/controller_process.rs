//! The built `monday-operator run` binary: leader failover between two replicas, graceful
//! shutdown, and the token never showing up in trace-level logs or metrics.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use monday_emulator::{Config, Size};
use serde_json::json;
use support::operator::*;

struct Replica {
    child: std::process::Child,
    log: std::path::PathBuf,
    metrics_port: u16,
    identity: String,
}

fn replica(
    ns: &str,
    lease: &str,
    identity: &str,
    data_dir: &std::path::Path,
    log_dir: &std::path::Path,
) -> Replica {
    let metrics_port = support::free_port();
    let log = log_dir.join(format!("{identity}.log"));
    let file = std::fs::File::create(&log).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_monday-operator"));
    cmd.args(["run", "--data-dir"])
        .arg(data_dir)
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .args([
            "--leader-election",
            "--lease-name",
            lease,
            "--lease-namespace",
            ns,
        ])
        .args([
            "--lease-duration",
            "4s",
            "--lease-renew",
            "1s",
            "--namespace",
            ns,
            "--log-format",
            "json",
        ])
        .env("KUBECONFIG", &support::control_plane().kubeconfig)
        .env("POD_NAME", identity)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file);
    let child = support::spawn_supervised(cmd).expect("spawn operator");
    Replica {
        child,
        log,
        metrics_port,
        identity: identity.into(),
    }
}

async fn holder(client: &kube::Client, ns: &str, lease: &str) -> Option<String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    api.get_opt(lease)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_and_no_token_in_trace_logs_or_metrics() {
    let s = Setup::new(
        "ctl-lease",
        Config::generated(Size::S, 11),
        &[("BATON_CLIENT_SECRET", "c1-secret")],
    )
    .await;
    let (client, ns, emu) = (&s.client, &s.ns, &s.emu);
    let token = emu.admin_token().to_string();
    let dirs = tempfile::tempdir().expect("tempdir");
    let data = dirs.path().join("data");
    let lease = "monday-operator-test";

    let mut a = replica(ns, lease, "replica-a", &data, dirs.path());
    // Let A win the Lease first.
    let deadline = Instant::now() + Duration::from_secs(30);
    while holder(client, ns, lease).await.as_deref() != Some("replica-a") {
        assert!(
            Instant::now() < deadline,
            "replica-a never became leader; log:\n{}",
            std::fs::read_to_string(&a.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut b = replica(ns, lease, "replica-b", &data, dirs.path());
    s.connector("one", json!({})).await;
    wait_for(client, ns, "one", Duration::from_secs(60), "Ready", |c| {
        condition(c, "Ready").is_some_and(|(s, _)| s == "True")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        holder(client, ns, lease).await.as_deref(),
        Some("replica-a"),
        "A stays leader while alive"
    );
    let b_log = std::fs::read_to_string(&b.log).unwrap_or_default();
    assert!(
        !b_log.contains("sync started"),
        "the standby does not reconcile"
    );
    let a_metrics = metrics_text(a.metrics_port);
    assert!(
        a_metrics.contains("monday_operator_syncs_total"),
        "{a_metrics}"
    );
    assert!(!a_metrics.contains(&token), "token in metrics");
    // Every request the emulator answered is counted once, by its outcome.
    let ok_line = format!(
        "monday_operator_monday_requests_total{{outcome=\"ok\"}} {}",
        emu.stats().requests
    );
    assert!(
        a_metrics.lines().any(|l| l == ok_line),
        "want {ok_line:?} in\n{a_metrics}"
    );

    // Kill the leader hard (no Lease release): B takes over within the lease duration (+ retry).
    a.child.kill().expect("kill A");
    let _ = a.child.wait();
    let killed = Instant::now();
    while holder(client, ns, lease).await.as_deref() != Some("replica-b") {
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "B did not take over; log:\n{}",
            std::fs::read_to_string(&b.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = killed.elapsed();
    eprintln!(
        "failover: replica-b leader {:.2}s after replica-a was killed (lease 4s, renew 1s)",
        took.as_secs_f64()
    );
    assert!(
        took <= Duration::from_secs(4 + 2 + 1),
        "takeover within lease duration + retry period"
    );

    // The new leader serves the connector: a sync-now request is handled.
    let api: Api<monday_operator::api::MondayConnector> = Api::namespaced(client.clone(), ns);
    api.patch(
        "one",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"annotations": {"iga.monday-operator.dev/sync-requested-at": "after-failover"}}})),
    )
    .await
    .expect("annotate");
    wait_for(
        client,
        ns,
        "one",
        Duration::from_secs(30),
        "sync by the new leader",
        |c| {
            c.status
                .as_ref()
                .and_then(|s| s.last_sync_request.as_deref())
                == Some("after-failover")
        },
    )
    .await;
    assert!(!metrics_text(b.metrics_port).contains(&token));

    // Graceful shutdown: SIGTERM, exit 0, Lease released.
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(b.child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = b.child.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "B did not exit on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert_eq!(
        holder(client, ns, lease).await,
        None,
        "Lease released on shutdown"
    );

    // Trace-level logs of both replicas never contain the token (nor its base64 form).
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    for r in [&a, &b] {
        let log = std::fs::read_to_string(&r.log).expect("log");
        assert!(log.len() > 1000, "{} logged at trace level", r.identity);
        assert!(!log.contains(&token), "token in {} log", r.identity);
        assert!(!log.contains(&b64), "base64 token in {} log", r.identity);
        assert!(
            !log.contains("c1-secret"),
            "Secret data in {} log",
            r.identity
        );
    }
}
