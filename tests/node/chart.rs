//! The Helm chart (and the kustomize base) running as real pods on the test node
//! (`tests/it/support/node.rs`): the image built from the Dockerfile's recipe, the hardened
//! securityContext, the probes, the snapshot volume, leader election between two pods, the
//! kubelet's SIGTERM, upgrades and uninstalls, and a just-in-time grant, all against the emulator.
//!
//! The tests run one at a time ([`serial`]): a chart with default values watches every namespace,
//! and two operators on the same objects would disturb each other (see the README's "one operator
//! per scope").

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use monday_emulator::{Config, Emulator, EmulatorHandle, Size};
use serde_json::{Value, json};
use sha2::Digest as _;
use support::node::{self, Node, eventually, kubectl_json, pod_ready, pods};
use support::packaging::{chart_dir, helm_cluster, show};

pub(crate) const DATA_DIR: &str = "/var/lib/monday-operator";

pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn kubectl_ok(args: &[&str]) -> String {
    let out = support::kubectl(args);
    assert!(out.status.success(), "kubectl {args:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn fresh_namespace(prefix: &str) -> String {
    let name = format!("{prefix}-{}", support::random_suffix());
    kubectl_ok(&["create", "namespace", &name]);
    node::wait_for_default_service_account(&name);
    name
}

/// A Helm release of the chart; uninstalled (and its pods waited out) when dropped, so a failed
/// test leaves no operator behind to disturb the next one.
pub(crate) struct Release {
    name: String,
    namespace: String,
    installed: bool,
}

/// The chart renders the CRDs as templates kept on uninstall (`helm.sh/resource-policy: keep`),
/// so they still carry the ownership of the release that first installed them, and Helm refuses
/// to install them again under another release name or namespace. Hand them over the way the
/// README tells users to.
fn adopt_crds(release: &str, namespace: &str) {
    for crd in support::packaging::generated_crds() {
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
    pub(crate) fn install(name: &str, namespace: &str, sets: &[&str]) -> Release {
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

    pub(crate) fn selector(&self) -> String {
        format!("app.kubernetes.io/instance={}", self.name)
    }

    pub(crate) fn upgrade(&self, sets: &[&str]) {
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

    pub(crate) fn uninstall(&mut self) {
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
pub(crate) fn ready_pods(namespace: &str, selector: &str, n: usize) -> Vec<Value> {
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
pub(crate) fn connector(emu: &EmulatorHandle, provisioning: bool) -> (String, String) {
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

pub(crate) fn get_connector(ns: &str, name: &str) -> Value {
    kubectl_json(&["mondayconnector", name, "-n", ns])
}

pub(crate) fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Waits until the connector is Ready=True with a snapshot whose syncId `accept`s.
pub(crate) fn wait_synced(
    ns: &str,
    name: &str,
    timeout: Duration,
    accept: impl Fn(&str) -> bool,
) -> Value {
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

pub(crate) fn pod_uid(pod: &Value) -> String {
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

pub(crate) fn sha256_file(path: &Path) -> String {
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

pub(crate) fn pod_name(pod: &Value) -> String {
    pod["metadata"]["name"]
        .as_str()
        .expect("pod name")
        .to_string()
}

fn holder(namespace: &str, lease: &str) -> Option<String> {
    let out = support::kubectl(&[
        "get",
        "lease",
        lease,
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    let h = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !h.is_empty()).then_some(h)
}

/// A gauge of a pod's `/metrics` (`monday_operator_<name>`), read through the apiserver's pod
/// proxy (the host routes the node's pod addresses).
fn gauge(namespace: &str, pod: &str, name: &str) -> Option<i64> {
    let out = support::kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/{namespace}/pods/{pod}:8080/proxy/metrics"),
    ]);
    let prefix = format!("monday_operator_{name} ");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

fn leader_gauge(namespace: &str, pod: &str) -> Option<i64> {
    gauge(namespace, pod, "leader")
}

/// Asks for a sync (the documented annotation) and returns the value to expect in
/// `status.lastSyncRequest`.
pub(crate) fn request_sync(ns: &str, name: &str) -> String {
    let value = format!(
        "{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
        support::random_suffix()
    );
    kubectl_ok(&[
        "annotate",
        "mondayconnector",
        name,
        "-n",
        ns,
        "--overwrite",
        &format!("iga.monday-operator.dev/sync-requested-at={value}"),
    ]);
    value
}

fn wait_sync_answered(ns: &str, name: &str, request: &str, timeout: Duration) -> Value {
    eventually(
        timeout,
        &format!("{ns}/{name} to answer sync request {request}"),
        || {
            let c = get_connector(ns, name);
            let ready = condition(&c, "Ready").is_some_and(|r| r["status"] == "True");
            (ready && c["status"]["lastSyncRequest"] == request).then_some(c)
        },
    )
}

#[test]
fn with_two_replicas_one_pod_leads_and_the_other_takes_over_within_the_lease_duration_when_the_leader_pod_is_deleted()
 {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let system = fresh_namespace("mo-ha");
    let release = Release::install(
        "ha",
        &system,
        &["replicaCount=2", "podDisruptionBudget.enabled=true"],
    );
    let sel = release.selector();
    let names: Vec<String> = ready_pods(&system, &sel, 2).iter().map(pod_name).collect();
    let lease = "ha-monday-operator-leader";
    let leader = eventually(Duration::from_secs(60), "a leader", || {
        holder(&system, lease).filter(|h| names.contains(h))
    });
    let standby = names.iter().find(|n| **n != leader).unwrap().clone();
    let gauges = eventually(Duration::from_secs(30), "both pods' leader gauge", || {
        Some((
            leader_gauge(&system, &leader)?,
            leader_gauge(&system, &standby)?,
        ))
    });
    assert_eq!(
        gauges,
        (1, 0),
        "one leader ({leader}), one standby ({standby})"
    );
    let pdb = eventually(
        Duration::from_secs(60),
        "the PodDisruptionBudget status",
        || {
            let p = kubectl_json(&["pdb", "ha-monday-operator", "-n", &system]);
            (p["status"]["currentHealthy"] == 2).then_some(p)
        },
    );
    assert_eq!(
        pdb["status"]["disruptionsAllowed"], 1,
        "the budget covers both pods and allows one voluntary disruption: {pdb}"
    );

    let (ns, name) = connector(&emu, false);
    let first = wait_synced(&ns, &name, Duration::from_secs(120), |id| !id.is_empty());

    // Cordon the node so the pod the ReplicaSet starts in the leader's place stays Pending: the
    // standby, and only the standby, can take over.
    kubectl_ok(&["cordon", node::NODE_NAME]);
    struct Uncordon;
    impl Drop for Uncordon {
        fn drop(&mut self) {
            let _ = support::kubectl(&["uncordon", node::NODE_NAME]);
        }
    }
    let uncordon = Uncordon;
    let deleted = Instant::now();
    kubectl_ok(&["delete", "pod", &leader, "-n", &system, "--wait=false"]);
    let lease_duration = Duration::from_secs(15); // `run --lease-duration` default, not overridden by the chart
    eventually(
        lease_duration + Duration::from_secs(10),
        "the standby to lead",
        || (holder(&system, lease).as_deref() == Some(standby.as_str())).then_some(()),
    );
    let took_over = deleted.elapsed();
    eprintln!(
        "standby {standby} took the Lease {:.1}s after the leader pod {leader} was deleted (lease duration {lease_duration:?})",
        took_over.as_secs_f64()
    );
    assert!(
        took_over <= lease_duration,
        "took over in {took_over:?}, more than the lease duration"
    );
    let successor_pod = pods(&system, &sel)
        .into_iter()
        .find(|p| pod_name(p) == standby)
        .expect("the standby's pod");
    let request = request_sync(&ns, &name);
    let c = wait_sync_answered(&ns, &name, &request, Duration::from_secs(120));
    assert_ne!(
        c["status"]["snapshot"]["syncId"], first["status"]["snapshot"]["syncId"],
        "the new leader ran the next sync"
    );
    let file = snapshot_on_host(
        node,
        &successor_pod,
        c["status"]["snapshot"]["path"].as_str().unwrap(),
    );
    assert_eq!(
        sha256_file(&file),
        c["status"]["snapshot"]["sha256"].as_str().unwrap(),
        "the new leader wrote the snapshot into its own volume"
    );
    // Two pods again once the replacement can be scheduled: one leads, the other waits.
    drop(uncordon);
    let pods = ready_pods(&system, &sel, 2);
    let gauges: Vec<i64> = eventually(Duration::from_secs(30), "both gauges", || {
        pods.iter()
            .map(|p| leader_gauge(&system, &pod_name(p)))
            .collect::<Option<Vec<i64>>>()
    });
    let mut sorted = gauges.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [0, 1],
        "one leader and one standby again: {gauges:?}"
    );
}

#[test]
fn the_kubelets_sigterm_during_a_sync_keeps_the_last_good_snapshot_and_the_next_pod_syncs_again() {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let system = fresh_namespace("mo-term");
    // A hostPath PersistentVolume the test can read from the host, owned by the operator's user
    // (fsGroup does not apply to hostPath).
    let pv = format!("term-{}", support::random_suffix());
    let dir = node.dir.join("volumes").join(&pv);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65532), Some(65532)).unwrap();
    node::apply_json(&json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": dir, "type": "Directory"},
        },
    }));
    let mut release = Release::install(
        "term",
        &system,
        &["persistence.enabled=true", "operator.shutdownTimeout=2s"],
    );
    let pod = ready_pods(&system, &release.selector(), 1).remove(0);
    let (ns, name) = connector(&emu, false);
    let good = wait_synced(&ns, &name, Duration::from_secs(120), |id| !id.is_empty());
    let rel = good["status"]["snapshot"]["path"]
        .as_str()
        .unwrap()
        .strip_prefix(DATA_DIR)
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    let file = dir.join(&rel);
    let good_sha = good["status"]["snapshot"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        sha256_file(&file),
        good_sha,
        "the snapshot is on the volume"
    );

    // A slow sync (every Monday request takes 2 s), then the kubelet stops the pod in the middle.
    emu.set_latency(Duration::from_secs(2));
    let requests_before = emu.stats().requests;
    let request = request_sync(&ns, &name);
    eventually(Duration::from_secs(60), "the sync to be running", || {
        (gauge(&system, &pod_name(&pod), "syncs_in_flight")? == 1
            && emu.stats().requests > requests_before)
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let stopping = Instant::now();
    kubectl_ok(&[
        "delete",
        "pod",
        &pod_name(&pod),
        "-n",
        &system,
        "--wait=false",
    ]);
    let uid = pod_uid(&pod);
    eventually(Duration::from_secs(60), "the old pod to be gone", || {
        (!pods(&system, &release.selector())
            .iter()
            .any(|p| pod_uid(p) == uid))
        .then_some(())
    });
    let stopped = stopping.elapsed();
    eprintln!(
        "the pod stopped {:.1}s after the kubelet's SIGTERM",
        stopped.as_secs_f64()
    );
    assert!(
        stopped < Duration::from_secs(30),
        "the operator exited on SIGTERM within its shutdown timeout, before the grace period's SIGKILL"
    );
    assert_eq!(
        sha256_file(&file),
        good_sha,
        "the interrupted sync left the last good snapshot intact"
    );
    let reader = monday_operator::baton::C1zReader::open(&file).expect("still a readable .c1z");
    assert_eq!(
        reader.latest_finished_sync().unwrap().unwrap().sync_id,
        good["status"]["snapshot"]["syncId"].as_str().unwrap()
    );
    let c = get_connector(&ns, &name);
    assert_eq!(
        c["status"]["snapshot"], good["status"]["snapshot"],
        "status still names the good snapshot"
    );

    // The replacement pod (Recreate) runs the sync that was asked for.
    emu.set_latency(Duration::ZERO);
    let c = wait_sync_answered(&ns, &name, &request, Duration::from_secs(180));
    assert_ne!(
        c["status"]["snapshot"]["syncId"],
        good["status"]["snapshot"]["syncId"]
    );
    assert_eq!(
        sha256_file(&file),
        c["status"]["snapshot"]["sha256"].as_str().unwrap()
    );
    let leftovers: Vec<String> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "sync.c1z")
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );

    release.uninstall();
    kubectl_ok(&["delete", "pvc", "term-monday-operator-data", "-n", &system]);
    kubectl_ok(&["delete", "pv", &pv]);
}

fn exists(args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    support::kubectl(&all).status.success()
}

fn env_value(pod: &Value, name: &str) -> Option<String> {
    pod["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(String::from))
}

/// After a rollout: the connector kept its status (nothing reset it, Ready never flapped).
fn assert_status_preserved(before: &Value, ns: &str, name: &str) {
    let after = get_connector(ns, name);
    let (b, a) = (&before["status"], &after["status"]);
    for k in ["account", "counts"] {
        assert_eq!(a[k], b[k], "status.{k} preserved");
    }
    let ready = |s: &Value| condition(s, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready(&after)["status"], "True");
    assert_eq!(
        ready(&after)["lastTransitionTime"],
        ready(before)["lastTransitionTime"],
        "Ready did not flap during the rollout"
    );
    assert!(
        a["lastSuccessfulSyncTime"].as_str() >= b["lastSuccessfulSyncTime"].as_str(),
        "lastSuccessfulSyncTime kept (or moved on)"
    );
}

#[test]
fn helm_upgrade_with_a_changed_value_rolls_the_pod_keeping_status_and_uninstall_keeps_crds_and_objects()
 {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let system = fresh_namespace("mo-upg");
    let mut release = Release::install("upg", &system, &[]);
    let sel = release.selector();
    let old = ready_pods(&system, &sel, 1).remove(0);
    let (ns, name) = connector(&emu, false);
    let before = wait_synced(&ns, &name, Duration::from_secs(120), |id| !id.is_empty());

    release.upgrade(&["operator.logLevel=debug"]);
    let new = ready_pods(&system, &sel, 1).remove(0);
    assert_ne!(pod_uid(&new), pod_uid(&old), "the pod was replaced");
    assert_eq!(env_value(&new, "RUST_LOG").as_deref(), Some("debug"));
    assert!(
        !pods(&system, &sel)
            .iter()
            .any(|p| pod_uid(p) == pod_uid(&old)),
        "Recreate: the old pod is gone"
    );
    // Let the new operator reconcile before looking.
    eventually(
        Duration::from_secs(60),
        "the new operator's first reconcile",
        || {
            let logs = kubectl_ok(&["logs", "-n", &system, &pod_name(&new)]);
            logs.contains(&ns).then_some(())
        },
    );
    assert_status_preserved(&before, &ns, &name);

    release.uninstall();
    assert!(!exists(&["clusterrole", "upg-monday-operator"]));
    for crd in support::packaging::generated_crds() {
        let crd = crd["metadata"]["name"].as_str().unwrap().to_string();
        assert!(exists(&["crd", &crd]), "{crd} kept");
    }
    assert!(
        exists(&["mondayconnector", &name, "-n", &ns]),
        "the connector kept"
    );
    assert!(exists(&["secret", "baton-monday-secrets", "-n", &ns]));
    assert_status_preserved(&before, &ns, &name);
}

/// `kubectl kustomize` of an overlay in `dir` over `config/default` (outside the overlay's folder,
/// so the load restrictor is off), applied.
fn apply_overlay(dir: &Path, patch: &str) {
    // Kustomize takes only relative paths to a base.
    let depth = dir
        .strip_prefix(support::packaging::root())
        .expect("overlay inside the repository")
        .components()
        .count();
    let base = format!("{}config/default", "../".repeat(depth));
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {}\npatches:\n  - target: {{kind: Deployment, name: monday-operator}}\n    patch: |-\n{}\n",
            base,
            patch
                .lines()
                .map(|l| format!("      {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )
    .unwrap();
    let built = support::packaging::kubectl_offline(&[
        "kustomize",
        "--load-restrictor",
        "LoadRestrictionsNone",
        dir.to_str().unwrap(),
    ]);
    assert!(built.status.success(), "kustomize: {}", show(&built));
    let file = dir.join("built.yaml");
    std::fs::write(&file, &built.stdout).unwrap();
    kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
}

#[test]
fn kubectl_apply_k_config_default_runs_the_operator_rolls_on_a_change_and_delete_k_config_operator_keeps_crds_and_objects()
 {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let default = support::packaging::root().join("config/default");
    kubectl_ok(&["apply", "-k", default.to_str().unwrap()]);
    let system = "monday-operator";
    let sel = "app.kubernetes.io/instance=monday-operator";
    let removed = std::cell::Cell::new(false);
    struct Remove<'a>(&'a std::cell::Cell<bool>);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            if !self.0.get() {
                let dir = support::packaging::root().join("config/operator");
                let _ = support::kubectl(&["delete", "-k", dir.to_str().unwrap(), "--wait"]);
            }
        }
    }
    let _remove = Remove(&removed);
    let old = ready_pods(system, sel, 1).remove(0);
    let (ns, name) = connector(&emu, false);
    let before = wait_synced(&ns, &name, Duration::from_secs(120), |id| !id.is_empty());
    let file = snapshot_on_host(
        node,
        &old,
        before["status"]["snapshot"]["path"].as_str().unwrap(),
    );
    assert_eq!(
        sha256_file(&file),
        before["status"]["snapshot"]["sha256"].as_str().unwrap()
    );

    // A user's overlay changes the log level: the Deployment rolls its pod.
    let overlay = tempfile::tempdir_in(support::packaging::root().join("target")).unwrap();
    apply_overlay(
        overlay.path(),
        "- op: replace\n  path: /spec/template/spec/containers/0/env/2\n  value: {name: RUST_LOG, value: debug}",
    );
    let new = eventually(Duration::from_secs(120), "the rolled pod", || {
        ready_pods(system, sel, 1)
            .into_iter()
            .find(|p| pod_uid(p) != pod_uid(&old))
    });
    assert_eq!(env_value(&new, "RUST_LOG").as_deref(), Some("debug"));
    eventually(
        Duration::from_secs(60),
        "the new operator's first reconcile",
        || {
            let logs = kubectl_ok(&["logs", "-n", system, &pod_name(&new)]);
            logs.contains(&ns).then_some(())
        },
    );
    assert_status_preserved(&before, &ns, &name);

    let operator = support::packaging::root().join("config/operator");
    kubectl_ok(&["delete", "-k", operator.to_str().unwrap(), "--wait"]);
    removed.set(true);
    wait_no_pods(system, sel);
    assert!(!exists(&["clusterrole", "monday-operator"]));
    for crd in support::packaging::generated_crds() {
        let crd = crd["metadata"]["name"].as_str().unwrap().to_string();
        assert!(exists(&["crd", &crd]), "{crd} kept");
    }
    assert!(exists(&["mondayconnector", &name, "-n", &ns]));
    assert_status_preserved(&before, &ns, &name);
}

#[test]
fn a_jit_grant_is_granted_and_expires_on_time_while_the_operator_runs_as_a_pod() {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let system = fresh_namespace("mo-jit");
    let _release = Release::install("jit", &system, &[]);
    ready_pods(&system, "app.kubernetes.io/instance=jit", 1);
    let (ns, name) = connector(&emu, true);
    wait_synced(&ns, &name, Duration::from_secs(120), |id| !id.is_empty());
    let (board, user, email) = emu
        .with_tenant(|t| {
            use monday_emulator::model::{BoardType, State, UserKind, UserStatus};
            let b = t
                .boards
                .iter()
                .find(|b| b.board_type == BoardType::Board && b.state == State::Active)?;
            let u = t.users.iter().find(|u| {
                u.status == UserStatus::Active
                    && u.kind == UserKind::Member
                    && !b.subscribers.contains(&u.id)
                    && !b.owners.contains(&u.id)
            })?;
            Some((b.id, u.id, u.email.clone()))
        })
        .expect("a board with a member missing from it");
    let subscribed = || {
        emu.with_tenant(|t| {
            t.boards
                .iter()
                .find(|b| b.id == board)
                .is_some_and(|b| b.subscribers.contains(&user))
        })
    };
    node::apply_json(&json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
        "metadata": {"name": "short", "namespace": ns},
        "spec": {
            "connectorRef": {"name": name},
            "principal": {"email": email},
            "entitlement": format!("board:{board}:subscriber"),
            "duration": "20s",
            "reason": "node test",
        },
    }));
    let grant = || kubectl_json(&["mondayaccessgrant", "short", "-n", &ns]);
    let granted = eventually(Duration::from_secs(60), "the grant Granted", || {
        let g = grant();
        (g["status"]["phase"] == "Granted").then_some(g)
    });
    assert!(subscribed(), "Monday has the access while the grant runs");
    let expires = granted["status"]["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .to_string();
    let expired = eventually(Duration::from_secs(60), "the grant Expired", || {
        let g = grant();
        (g["status"]["phase"] == "Expired").then_some(g)
    });
    assert!(!subscribed(), "the access is revoked at expiry");
    let revoked = expired["status"]["revokedAt"].as_str().expect("revokedAt");
    let t = |s: &str| s.parse::<jiff::Timestamp>().expect("RFC 3339");
    let late = t(revoked).duration_since(t(&expires));
    eprintln!("revoked {late:?} after expiresAt");
    assert!(
        late.as_secs() <= 5,
        "revoked at {revoked}, expiry {expires}"
    );
}

#[test]
fn a_one_shot_sync_pod_with_the_chart_defaults_writes_its_snapshot_into_the_volume() {
    let node = node::node();
    let _serial = serial();
    let emu = emulator(node);
    let ns = fresh_namespace("sync-pod");
    let out = node.run_sync_pod(&node::SyncPod {
        namespace: &ns,
        api_url: &emu.url(),
        token: emu.admin_token(),
        values: &[],
        extra_args: &[],
        timeout: Duration::from_secs(120),
    });
    eprintln!("{out:?}");
    assert!(out.succeeded(), "{out:#?}");
    assert!(
        out.volume_files
            .iter()
            .any(|(f, n)| f == "sync.c1z" && *n > 0),
        "{out:#?}"
    );
    assert!(out.peak_volume_bytes > 0);
    assert!(!out.logs.contains(emu.admin_token()), "no token in the log");
}
