//! Benchmark (prints figures, asserts nothing about speed): 1,000 connectors on the real apiserver,
//! one tenant-S emulator, the built operator binary. Run with `make bench-controller`.

#[path = "it/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use monday_emulator::{Config, Emulator, Size};
use monday_operator::api::MondayConnector;
use monday_operator::api::connector::SYNC_REQUESTED_ANNOTATION;
use serde_json::json;
use support::operator::*;

/// The sync-now value the second round asks for.
const RESYNC: &str = "bench-resync";

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    // USER_HZ is 100 on every Linux this runs on.
    f.iter().sum::<u64>() as f64 / 100.0
}

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
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env("BENCH_CONNECTORS", 1000);
    let syncs = env("BENCH_MAX_CONCURRENT_SYNCS", 16);
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
            &syncs.to_string(),
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

    // Count every write to connectors (resourceVersion changes) and track Ready through one watch;
    // polling full lists of 1,000 objects would cost the apiserver more than the operator does.
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), &ns);
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ready = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let resynced = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let (w, r, r2) = (writes.clone(), ready.clone(), resynced.clone());
    let watch = tokio::spawn(
        watcher(api.clone(), watcher::Config::default())
            .applied_objects()
            .try_for_each(move |c: MondayConnector| {
                w.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if condition(&c, "Ready").is_some_and(|(s, _)| s == "True") {
                    r.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(c.metadata.name.clone().unwrap_or_default());
                }
                if c.status
                    .as_ref()
                    .and_then(|s| s.last_sync_request.as_deref())
                    == Some(RESYNC)
                {
                    r2.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(c.metadata.name.clone().unwrap_or_default());
                }
                async { Ok(()) }
            }),
    );
    let cp = support::control_plane();
    let cpu = |pids: &[u32]| pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let (op_cpu0, cp_cpu0, me_cpu0) = (cpu(&[pid]), cpu(&cp.pids), cpu(&[std::process::id()]));

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
        let n_ready = ready.lock().unwrap_or_else(|p| p.into_inner()).len();
        peak = peak.max(rss_kb(pid, "VmRSS:"));
        if n_ready == n {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(900),
            "only {n_ready}/{n} Ready after 15 min"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_ready = t0.elapsed();
    let (op_cpu, cp_cpu, me_cpu) = (
        cpu(&[pid]) - op_cpu0,
        cpu(&cp.pids) - cp_cpu0,
        cpu(&[std::process::id()]) - me_cpu0,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes_to_ready = writes.load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let idle_writes = writes.load(std::sync::atomic::Ordering::Relaxed) - writes_to_ready;
    let idle = rss_kb(pid, "VmRSS:");

    // A later sync of every connector, asked for through the sync-now annotation (one write each).
    let before_resync = writes.load(std::sync::atomic::Ordering::Relaxed);
    let t1 = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(16, |i| {
            let api = api.clone();
            async move {
                let patch =
                    json!({"metadata": {"annotations": {SYNC_REQUESTED_ANNOTATION: RESYNC}}});
                api.patch(
                    &format!("c{i:04}"),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .expect("request a sync");
            }
        })
        .await;
    while resynced.lock().unwrap_or_else(|p| p.into_inner()).len() < n {
        peak = peak.max(rss_kb(pid, "VmRSS:"));
        assert!(
            t1.elapsed() < Duration::from_secs(900),
            "second syncs did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resync_time = t1.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let resync_writes = writes.load(std::sync::atomic::Ordering::Relaxed) - before_resync - n;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_after = rss_kb(pid, "VmRSS:");
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let events = events
        .list(&Default::default())
        .await
        .expect("events")
        .items;
    let event_writes: i32 = events
        .iter()
        .map(|e| e.series.as_ref().map(|s| s.count).unwrap_or(1))
        .sum();
    let hwm = rss_kb(pid, "VmHWM:").max(peak);
    watch.abort();
    println!(
        "BENCH controller: {n} connectors (tenant S, one emulator), max-concurrent-syncs {syncs}"
    );
    println!(
        "  created all in {:.1}s; all Ready after {:.1}s",
        created.as_secs_f64(),
        all_ready.as_secs_f64()
    );
    println!(
        "  CPU until all Ready: operator {op_cpu:.1}s, apiserver+etcd {cp_cpu:.1}s, bench+emulator {me_cpu:.1}s"
    );
    println!(
        "  operator RSS: start {:.1} MB, peak {:.1} MB, idle {:.1} MB (20 s after all Ready), {:.1} MB (after the second sync)",
        rss_start as f64 / 1024.0,
        hwm as f64 / 1024.0,
        idle as f64 / 1024.0,
        idle_after as f64 / 1024.0
    );
    println!(
        "  connector writes (watch events incl. create) until Ready: {writes_to_ready} = {:.2} per connector for the first sync; {idle_writes} in a 20 s idle window",
        writes_to_ready as f64 / n as f64
    );
    println!(
        "  a second sync of all (sync-now annotation): done in {:.1}s, {resync_writes} status writes = {:.2} per connector per sync",
        resync_time.as_secs_f64(),
        resync_writes as f64 / n as f64
    );
    println!(
        "  Events: {} objects, {event_writes} occurrences over both syncs = {:.2} per connector per sync",
        events.len(),
        event_writes as f64 / (2 * n) as f64
    );
    drop(child);
}
