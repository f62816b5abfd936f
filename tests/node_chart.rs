//! The Helm chart (and the kustomize base) running as real pods on the test node
//! (`tests/support/node.rs`): the image built from the Dockerfile's recipe, the hardened
//! securityContext, the probes, the snapshot volume, leader election between two pods, the
//! kubelet's SIGTERM, upgrades and uninstalls, and a just-in-time grant, all against the emulator.
//!
//! The tests run one at a time ([`serial`]): a chart with default values watches every namespace,
//! and two operators on the same objects would disturb each other (see the README's "one operator
//! per scope").

mod packaging_support;
mod support;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use monday_emulator::{Config, Emulator, EmulatorHandle, Size};
use packaging_support::{chart_dir, helm_cluster, show};
use serde_json::{Value, json};
use sha2::Digest as _;
use support::node::{self, Node, eventually, kubectl_json, pod_ready, pods};

const DATA_DIR: &str = "/var/lib/monday-operator";

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn kubectl_ok(args: &[&str]) -> String {
    let out = support::kubectl(args);
    assert!(out.status.success(), "kubectl {args:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fresh_namespace(prefix: &str) -> String {
    let name = format!("{prefix}-{}", support::random_suffix());
    kubectl_ok(&["create", "namespace", &name]);
    node::wait_for_default_service_account(&name);
    name
}

/// A Helm release of the chart; uninstalled (and its pods waited out) when dropped, so a failed
/// test leaves no operator behind to disturb the next one.
struct Release {
    name: String,
    namespace: String,
    installed: bool,
}

/// The chart renders the CRDs as templates kept on uninstall (`helm.sh/resource-policy: keep`),
/// so they still carry the ownership of the release that first installed them, and Helm refuses
/// to install them again under another release name or namespace. Hand them over the way the
/// README tells users to.
fn adopt_crds(release: &str, namespace: &str) {
    for crd in packaging_support::generated_crds() {
        let name = crd["metadata"]["name"].as_str().expect("crd name");
        if !support::kubectl(&["get", "crd", name]).status.success() {
            continue;
        }
        kubectl_ok(&[
            "annotate",
            "crd",
            name,
            "--overwrite",
            &format!("meta.helm.sh/release-name={release}"),
            &format!("meta.helm.sh/release-namespace={namespace}"),
        ]);
        kubectl_ok(&[
            "label",
            "crd",
            name,
            "--overwrite",
            "app.kubernetes.io/managed-by=Helm",
        ]);
    }
}

impl Release {
    fn install(name: &str, namespace: &str, sets: &[&str]) -> Release {
        adopt_crds(name, namespace);
        let chart = chart_dir().display().to_string();
        let mut args = vec![
            "install",
            name,
            chart.as_str(),
            "--namespace",
            namespace,
            "--wait",
            "--timeout",
            "180s",
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let started = Instant::now();
        let out = helm_cluster(&args);
        assert!(out.status.success(), "helm install: {}", show(&out));
        eprintln!(
            "helm install {name} --wait: {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Release {
            name: name.into(),
            namespace: namespace.into(),
            installed: true,
        }
    }

    fn selector(&self) -> String {
        format!("app.kubernetes.io/instance={}", self.name)
    }

    fn upgrade(&self, sets: &[&str]) {
        let chart = chart_dir().display().to_string();
        let mut args = vec![
            "upgrade",
            self.name.as_str(),
            chart.as_str(),
            "--namespace",
            self.namespace.as_str(),
            "--reuse-values",
            "--wait",
            "--timeout",
            "180s",
        ];
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = helm_cluster(&args);
        assert!(out.status.success(), "helm upgrade: {}", show(&out));
    }

    fn uninstall(&mut self) {
        let out = helm_cluster(&[
            "uninstall",
            &self.name,
            "--namespace",
            &self.namespace,
            "--wait",
            "--timeout",
            "120s",
        ]);
        assert!(out.status.success(), "helm uninstall: {}", show(&out));
        self.installed = false;
        wait_no_pods(&self.namespace, &self.selector());
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if self.installed {
            let _ = helm_cluster(&[
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--wait",
                "--timeout",
                "120s",
            ]);
        }
    }
}

fn wait_no_pods(namespace: &str, selector: &str) {
    eventually(Duration::from_secs(120), "the operator pods to go", || {
        pods(namespace, selector).is_empty().then_some(())
    });
}

/// The ready pods of a release, once there are `n` of them.
fn ready_pods(namespace: &str, selector: &str, n: usize) -> Vec<Value> {
    eventually(
        Duration::from_secs(180),
        &format!("{n} ready pod(s) {selector}"),
        || {
            let ready: Vec<Value> = pods(namespace, selector)
                .into_iter()
                .filter(pod_ready)
                .collect();
            (ready.len() == n).then_some(ready)
        },
    )
}

/// A team namespace with the token Secret and a connector against the emulator.
fn connector(emu: &EmulatorHandle, provisioning: bool) -> (String, String) {
    let ns = fresh_namespace("team");
    let mut data = json!({"BATON_MONDAY_API_KEY": emu.admin_token()});
    if provisioning {
        data["BATON_PROVISIONING"] = json!("true");
    }
    node::apply_json(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "baton-monday-secrets", "namespace": ns},
        "stringData": data,
    }));
    node::apply_json(&json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayConnector",
        "metadata": {"name": "acme", "namespace": ns},
        "spec": {"secretRef": {"name": "baton-monday-secrets"}, "apiUrl": emu.url(), "syncInterval": "1h"},
    }));
    (ns, "acme".into())
}

fn get_connector(ns: &str, name: &str) -> Value {
    kubectl_json(&["mondayconnector", name, "-n", ns])
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Waits until the connector is Ready=True with a snapshot whose syncId `accept`s.
fn wait_synced(ns: &str, name: &str, timeout: Duration, accept: impl Fn(&str) -> bool) -> Value {
    eventually(
        timeout,
        &format!("{ns}/{name} Ready with a new snapshot"),
        || {
            let c = get_connector(ns, name);
            let ready = condition(&c, "Ready").is_some_and(|r| r["status"] == "True");
            let sync_id = c["status"]["snapshot"]["syncId"].as_str().unwrap_or("");
            (ready && accept(sync_id)).then_some(c)
        },
    )
}

fn emulator(node: &Node) -> EmulatorHandle {
    Emulator::start(node.emulator_config(Config::generated(Size::S, 1))).expect("emulator")
}

fn pod_uid(pod: &Value) -> String {
    pod["metadata"]["uid"].as_str().expect("uid").to_string()
}

/// Host path of a snapshot the operator in `pod` reports at `status_path` (inside the pod).
fn snapshot_on_host(node: &Node, pod: &Value, status_path: &str) -> PathBuf {
    let rel = status_path
        .strip_prefix(DATA_DIR)
        .unwrap_or_else(|| panic!("{status_path} is not under {DATA_DIR}"))
        .trim_start_matches('/');
    node.empty_dir(&pod_uid(pod), "data").join(rel)
}

fn sha256_file(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(
        std::fs::read(path).expect("read snapshot"),
    ))
}

#[test]
fn helm_install_with_defaults_runs_a_ready_pod_that_syncs_into_its_volume_and_logs_json_without_the_token()
 {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let system = fresh_namespace("mo");
    let _release = Release::install("monday-operator", &system, &[]);
    let pod = ready_pods(&system, "app.kubernetes.io/instance=monday-operator", 1).remove(0);
    let status = &pod["status"]["containerStatuses"][0];
    assert_eq!(
        status["ready"], true,
        "the readiness probe passed: {status}"
    );
    assert_eq!(status["restartCount"], 0, "the liveness probe never failed");
    assert_eq!(pod["spec"]["nodeName"], node::NODE_NAME);
    assert_eq!(
        status["imageID"]
            .as_str()
            .unwrap_or_default()
            .rsplit('@')
            .next(),
        Some(node.operator_image.config_digest.as_str()),
        "the pod runs the image built from the Dockerfile's recipe"
    );

    let (ns, name) = connector(&emu, false);
    let c = wait_synced(&ns, &name, Duration::from_secs(120), |id| !id.is_empty());
    let snapshot = &c["status"]["snapshot"];
    let file = snapshot_on_host(node, &pod, snapshot["path"].as_str().expect("path"));
    assert_eq!(
        sha256_file(&file),
        snapshot["sha256"].as_str().expect("sha256"),
        "the snapshot in the pod's volume is the one status reports"
    );
    let reader = monday_operator::baton::C1zReader::open(&file).expect("a readable .c1z");
    let run = reader
        .latest_finished_sync()
        .expect("read")
        .expect("a finished sync");
    assert_eq!(run.sync_id, snapshot["syncId"].as_str().unwrap());
    assert_eq!(
        c["status"]["counts"]["grants"].as_i64(),
        Some(emu.ground_truth().grants.len() as i64)
    );

    let pod_name = pod["metadata"]["name"].as_str().unwrap();
    let logs = kubectl_ok(&["logs", "-n", &system, pod_name]);
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 3, "the operator logged: {logs}");
    for l in &lines {
        let v: Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
        assert!(v["level"].is_string() || v["fields"].is_object(), "{l}");
    }
    assert!(
        logs.contains(&ns),
        "the sync of {ns}/{name} is in the log: {logs}"
    );
    assert!(
        !logs.contains(emu.admin_token()),
        "the token never reaches the log"
    );
}

/// `/proc/<pid>/status` fields of the container's process.
fn proc_status(pid: u32) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("proc status")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// (mount point, per-mount options, filesystem type, super options) of each mount the process sees.
fn mounts(pid: u32) -> Vec<(String, String, String, String)> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .expect("mountinfo")
        .lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(" - ")?;
            let a: Vec<&str> = a.split(' ').collect();
            let b: Vec<&str> = b.split(' ').collect();
            Some((
                a.get(4)?.to_string(),
                a.get(5)?.to_string(),
                b.first()?.to_string(),
                b.get(2).unwrap_or(&"").to_string(),
            ))
        })
        .collect()
}

#[test]
fn the_operator_pod_runs_as_65532_without_capabilities_and_writes_only_to_its_volumes() {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let system = fresh_namespace("mo-sec");
    let _release = Release::install("hardened", &system, &[]);
    let pod = ready_pods(&system, "app.kubernetes.io/instance=hardened", 1).remove(0);
    let (ns, name) = connector(&emu, false);
    wait_synced(&ns, &name, Duration::from_secs(120), |id| !id.is_empty());

    let container_id = pod["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .expect("containerID");
    let pid = node
        .container_pid(container_id)
        .unwrap_or_else(|| panic!("no process for {container_id}"));
    let st = proc_status(pid);
    for k in ["Uid", "Gid"] {
        let ids: Vec<&str> = st[k].split_whitespace().collect();
        assert_eq!(ids, ["65532"; 4], "{k} (real, effective, saved, fs)");
    }
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(st[k], "0000000000000000", "{k}: all capabilities dropped");
    }
    assert_eq!(st["NoNewPrivs"], "1", "allowPrivilegeEscalation: false");
    assert_eq!(st["Seccomp"], "2", "seccomp RuntimeDefault (filter mode)");

    let mounts = mounts(pid);
    let root = mounts.iter().rfind(|m| m.0 == "/").expect("a root mount");
    assert!(
        root.1.split(',').any(|o| o == "ro"),
        "read-only root filesystem: {root:?}"
    );
    // Every writable mount the operator could write to is one of its volumes, a file the kubelet
    // manages (hosts, hostname, resolv.conf: root-owned 0644, so UID 65532 cannot write them; the
    // termination log, world-writable by design, stays empty) or a kernel filesystem.
    let volumes = [DATA_DIR, "/tmp"];
    let kubelet_files = [
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/dev/termination-log",
    ];
    for (point, opts, fstype, _) in &mounts {
        let rw = opts.split(',').any(|o| o == "rw");
        if !rw || volumes.contains(&point.as_str()) || kubelet_files.contains(&point.as_str()) {
            continue;
        }
        assert!(
            [
                "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"
            ]
            .contains(&fstype.as_str())
                && (point.starts_with("/proc")
                    || point.starts_with("/dev")
                    || point.starts_with("/sys")),
            "writable mount outside the volumes: {point} ({fstype}, {opts})"
        );
    }
    for v in volumes {
        let m = mounts
            .iter()
            .rfind(|m| m.0 == v)
            .unwrap_or_else(|| panic!("{v} mounted"));
        assert!(m.1.split(',').any(|o| o == "rw"), "{v} is writable: {m:?}");
    }
    let sa = mounts
        .iter()
        .find(|m| m.0 == "/var/run/secrets/kubernetes.io/serviceaccount")
        .expect("service account token mounted");
    assert!(sa.1.split(',').any(|o| o == "ro"), "{sa:?}");
    for f in kubelet_files {
        let path = format!("/proc/{pid}/root{f}");
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        use std::os::unix::fs::MetadataExt as _;
        if f == "/dev/termination-log" {
            assert_eq!(meta.len(), 0, "nothing written to {f}");
        } else {
            assert!(
                meta.uid() == 0 && meta.mode() & 0o022 == 0,
                "{f} is not writable by 65532: uid {} mode {:o}",
                meta.uid(),
                meta.mode()
            );
        }
    }
    // The root filesystem's upper layer holds only what the runtime made before it turned the
    // root read-only: empty mount points (and their folders) for the volumes, /proc, /dev, /sys
    // and the kubelet's files. Anything else would have been written by the operator.
    let points: Vec<&str> = mounts.iter().map(|m| m.0.as_str()).collect();
    if let Some(upper) = root.3.split(',').find_map(|o| o.strip_prefix("upperdir=")) {
        let mut stack = vec![PathBuf::from(upper)];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("read upperdir").flatten() {
                let path = e.path();
                let inside = format!("/{}", path.strip_prefix(upper).unwrap().display());
                let meta = e.metadata().expect("metadata");
                let is_point = points.contains(&inside.as_str());
                let holds_point = points.iter().any(|p| p.starts_with(&format!("{inside}/")));
                assert!(
                    (is_point || holds_point) && (meta.is_dir() || meta.len() == 0),
                    "written to the read-only root filesystem: {inside} ({} bytes)",
                    meta.len()
                );
                if meta.is_dir() {
                    stack.push(path);
                }
            }
        }
    }
}
