//! Node mode leaves nothing behind when its test binary dies, by a panic or by SIGKILL: no
//! process, mount, network namespace, interface, route, iptables rule or cgroup of the node
//! survives, and its bulky state is removed (`tests/it/support/node.rs`, `hack/node/janitor.sh`).

#[path = "it/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const RECORD_ENV: &str = "MONDAY_NODE_CLEANUP_RECORD";
const HOW_ENV: &str = "MONDAY_NODE_CLEANUP_HOW";

/// Runs only as the child of the test below: a node with a running pod, recorded, then dies.
#[test]
#[ignore = "run by node_mode_leaves_nothing_behind_when_its_test_binary_dies"]
fn dying_child_with_a_node() {
    let Ok(record) = std::env::var(RECORD_ENV) else {
        return;
    };
    let node = support::node::node();
    let ns = format!("cleanup-{}", support::random_suffix());
    assert!(
        support::kubectl(&["create", "namespace", &ns])
            .status
            .success()
    );
    support::node::wait_for_default_service_account(&ns);
    support::node::apply_json(&json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "sleeper", "namespace": ns},
        "spec": {"containers": [{
            "name": "pause", "image": support::node::PAUSE_IMAGE, "imagePullPolicy": "Never"
        }]},
    }));
    support::node::eventually(Duration::from_secs(60), "the pod running", || {
        let pods = support::node::pods(&ns, "");
        pods.iter().any(support::node::pod_ready).then_some(())
    });
    let processes = node.processes();
    assert!(
        processes.len() >= 5,
        "containerd, shims, pause processes, kubelet, kube-proxy: {processes:?}"
    );
    let mut pids: Vec<u32> = processes;
    pids.extend(node.cp.pids.iter().copied());
    let rec = json!({
        "pids": pids,
        "namespaces": [node.namespaces.pid, node.namespaces.mnt, node.namespaces.net],
        "dir": node.dir,
        "cgroup": node.cgroup,
        "host_link": node.host_link,
        "pod_cidr": node.pod_cidr,
    });
    std::fs::write(&record, rec.to_string()).expect("write record");
    if std::env::var(HOW_ENV).as_deref() == Ok("sigkill") {
        // SAFETY: raise only sends a signal to this process.
        unsafe { libc::raise(libc::SIGKILL) };
    }
    panic!("deliberate panic with a running node");
}

fn host_iptables() -> String {
    let out = Command::new("iptables-save")
        .output()
        .expect("iptables-save");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            // Chain policies carry packet counters; compare the rules, not the traffic.
            l.split(" [").next().unwrap_or(l).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn alive(pid: u64) -> bool {
    let stat = Path::new("/proc").join(pid.to_string()).join("stat");
    match std::fs::read_to_string(stat) {
        Ok(s) => !s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')),
        Err(_) => false,
    }
}

fn in_namespaces(inodes: &[u64]) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        for ns in ["pid", "mnt", "net"] {
            if let Ok(l) = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")) {
                let l = l.to_string_lossy().to_string();
                if inodes.iter().any(|i| l.ends_with(&format!("[{i}]"))) {
                    found.push(format!("{pid} {l}"));
                }
            }
        }
    }
    found
}

/// Mount entries of every mount namespace on the machine that mention `dir`.
fn mounts_under(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(m) = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) {
            found.extend(m.lines().filter(|l| l.contains(dir)).map(String::from));
        }
    }
    found
}

fn leftovers(rec: &Value) -> Vec<String> {
    let mut left = Vec::new();
    for p in rec["pids"].as_array().unwrap() {
        if alive(p.as_u64().unwrap()) {
            left.push(format!("process {p}"));
        }
    }
    let inodes: Vec<u64> = rec["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    left.extend(
        in_namespaces(&inodes)
            .into_iter()
            .map(|p| format!("in a node namespace: {p}")),
    );
    let dir = rec["dir"].as_str().unwrap();
    left.extend(mounts_under(dir).into_iter().map(|m| format!("mount {m}")));
    let cgroup = rec["cgroup"].as_str().unwrap();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        if h.path().join(cgroup).exists() {
            left.push(format!("cgroup {}", h.path().join(cgroup).display()));
        }
    }
    if Path::new("/sys/fs/cgroup").join(cgroup).exists() {
        left.push(format!("cgroup /sys/fs/cgroup/{cgroup}"));
    }
    let link = rec["host_link"].as_str().unwrap();
    if Command::new("ip")
        .args(["link", "show", link])
        .output()
        .unwrap()
        .status
        .success()
    {
        left.push(format!("interface {link}"));
    }
    let routes = Command::new("ip").args(["-4", "route"]).output().unwrap();
    let cidr = rec["pod_cidr"].as_str().unwrap();
    if String::from_utf8_lossy(&routes.stdout).contains(cidr) {
        left.push(format!("route {cidr}"));
    }
    // The node's fixed paths were private mounts: the host's stay empty or absent.
    for shared in ["/var/lib/kubelet", "/var/lib/cni"] {
        if std::fs::read_dir(shared).is_ok_and(|mut d| d.next().is_some()) {
            left.push(format!("files in the host's {shared}"));
        }
    }
    for absent in [
        "/run/containerd",
        "/run/netns",
        "/var/log/pods",
        "/var/log/containers",
    ] {
        if Path::new(absent).exists() {
            left.push(format!("the host's {absent}"));
        }
    }
    for bulky in ["containerd", "kubelet", "var-lib-cni", "var-lib-kubelet"] {
        if Path::new(dir).join(bulky).exists() {
            left.push(format!("{dir}/{bulky}"));
        }
    }
    left
}

fn die_and_check(how: &str) {
    let iptables_before = host_iptables();
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("record.json");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "dying_child_with_a_node",
            "--nocapture",
        ])
        .env(RECORD_ENV, &record)
        .env(HOW_ENV, how)
        .output()
        .expect("run child test binary");
    assert!(!out.status.success(), "the child must die ({how})");
    let rec: Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap_or_else(|e| {
        panic!(
            "the child wrote no record ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }))
    .expect("record");
    let started = Instant::now();
    loop {
        let left = leftovers(&rec);
        if left.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "left behind after the child's {how}: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "{how}: everything gone {:.1}s after the child exited",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(host_iptables(), iptables_before, "host iptables unchanged");
    let logs = Path::new(rec["dir"].as_str().unwrap()).join("logs/kubelet.log");
    assert!(logs.exists(), "the logs stay for a post-mortem");
}

#[test]
fn node_mode_leaves_nothing_behind_when_its_test_binary_dies() {
    die_and_check("panic");
    die_and_check("sigkill");
}
