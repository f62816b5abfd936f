//! Benchmark (prints figures, asserts nothing about speed): 1,000 connectors on the real apiserver,
//! one tenant-S emulator, the built operator binary. Run with `make bench-controller`.

mod controller_support;
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use controller_support::*;
use futures::{StreamExt, TryStreamExt};
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use monday_emulator::{Config, Emulator, Size};
use monday_operator::api::MondayConnector;
use serde_json::json;

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with `make bench-controller`"]
async fn bench_1000_connectors() {
    let n: usize = std::env::var("BENCH_CONNECTORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::namespace(&client, "bench").await;
    // One emulator stands in for 1,000 accounts, so the per-account (per-token, per-IP) limits of a
    // single account are off; each real account would have its own budget.
    let emu =
        Emulator::start(Config::generated(Size::S, 1).limits(monday_emulator::Limits::unlimited()))
            .expect("emulator");
    put_secret(
        &client,
        &ns,
        "tok",
        &[("BATON_MONDAY_API_KEY", emu.admin_token())],
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = std::fs::File::create(dir.path().join("operator.log")).expect("log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_monday-operator"));
    cmd.args(["run", "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--metrics-addr",
            &format!("127.0.0.1:{}", support::free_port()),
        ])
        .args([
            "--leader-election=false",
            "--namespace",
            &ns,
            "--max-concurrent-syncs",
            "16",
        ])
        .env("KUBECONFIG", &support::control_plane().kubeconfig)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    let child = support::spawn_supervised(cmd).expect("operator");
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_start = rss_kb(pid, "VmRSS:");

    // Count every write to connectors (resourceVersion changes) through a watch.
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), &ns);
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let w = writes.clone();
    let watch = tokio::spawn(
        watcher(api.clone(), watcher::Config::default())
            .applied_objects()
            .try_for_each(move |_| {
                w.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async { Ok(()) }
            }),
    );

    let t0 = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(16, |i| {
            let (client, ns, url) = (client.clone(), ns.clone(), emu.url());
            async move {
                create_connector(
                    &client,
                    &ns,
                    &format!("c{i:04}"),
                    json!({"secretRef": {"name": "tok"}, "apiUrl": url}),
                )
                .await;
            }
        })
        .await;
    let created = t0.elapsed();
    let mut peak = 0;
    loop {
        let list = api.list(&Default::default()).await.expect("list");
        let ready = list
            .items
            .iter()
            .filter(|c| condition(c, "Ready").is_some_and(|(s, _)| s == "True"))
            .count();
        peak = peak.max(rss_kb(pid, "VmRSS:"));
        if ready == n {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(900),
            "only {ready}/{n} Ready after 15 min"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let all_ready = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes_to_ready = writes.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let idle_writes = writes.load(std::sync::atomic::Ordering::Relaxed) - writes_to_ready;
    let idle = rss_kb(pid, "VmRSS:");
    let hwm = rss_kb(pid, "VmHWM:").max(peak);
    watch.abort();
    println!("BENCH controller: {n} connectors (tenant S, one emulator), max-concurrent-syncs 32");
    println!(
        "  created all in {:.1}s; all Ready after {:.1}s",
        created.as_secs_f64(),
        all_ready.as_secs_f64()
    );
    println!(
        "  operator RSS: start {:.1} MB, peak {:.1} MB, idle {:.1} MB",
        rss_start as f64 / 1024.0,
        hwm as f64 / 1024.0,
        idle as f64 / 1024.0
    );
    println!(
        "  connector writes (watch events incl. create) until Ready: {writes_to_ready} = {:.2} per connector for the first sync; {idle_writes} in a 20 s idle window",
        writes_to_ready as f64 / n as f64
    );
    drop(child);
}
