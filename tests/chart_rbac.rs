//! RBAC proof: the operator binary runs with the identity of the chart's ServiceAccount (a
//! TokenRequest token, exactly what the pod would mount) against the real apiserver and the Monday
//! emulator, through a full connector sync to Ready, Events, a JIT MondayAccessGrant to expiry (and
//! one revoked by deletion), the finalizers on delete, and (cluster mode, two replicas) leader
//! election. A permission the chart forgot shows up as a `forbidden` error in the operator's log,
//! or as a connector or grant that never gets where it should: both fail here.
//!
//! Scope of Secret access (README, "Security"): the operator watches Secret *metadata* to notice
//! rotation, and RBAC cannot separate a metadata-only list from a full one, so in cluster mode the
//! identity can read every Secret. With `watchNamespace` the chart grants a Role in that namespace
//! only, and the second test proves the identity cannot read a Secret anywhere else.

#[path = "it/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use monday_emulator::{Config, Emulator};
use serde_json::{Value, json};
use support::packaging::*;

/// The CRDs are cluster-wide and shared by the tests of this binary: install them once.
static CRDS: Mutex<bool> = Mutex::new(false);

fn install_crds() {
    let mut done = CRDS.lock().unwrap_or_else(|p| p.into_inner());
    if *done {
        return;
    }
    let out = support::kubectl(&[
        "apply",
        "--server-side",
        "-f",
        &root().join("crds/crds.yaml").display().to_string(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    wait_crds_established();
    *done = true;
}

fn apply(docs: &[&Value]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("objects.yaml");
    write_docs(&path, docs);
    let out = support::kubectl(&["apply", "-f", &path.display().to_string()]);
    assert!(out.status.success(), "{}", show(&out));
}

/// A kubeconfig for the ServiceAccount, with a token from the TokenRequest API.
fn service_account_kubeconfig(ns: &str, sa: &str, dir: &Path) -> PathBuf {
    let out = support::kubectl(&["create", "token", sa, "-n", ns, "--duration=1h"]);
    assert!(out.status.success(), "TokenRequest: {}", show(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let cp = support::control_plane();
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(&cp.ca_pem);
    let kubeconfig = dir.join("operator.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: {sa}\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {sa}\ncurrent-context: test\n",
            cp.server
        ),
    )
    .unwrap();
    // The operator really is the ServiceAccount, not the admin.
    let out = Command::new(support::tool("kubectl"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args([
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("system:serviceaccount:{ns}:{sa}"),
        "{}",
        show(&out)
    );
    kubeconfig
}

/// kubectl as the ServiceAccount.
fn kubectl_as(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new(support::tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap()
}

/// Waits until the apiserver's authorizer has caught up with the RBAC objects just applied, so a
/// `forbidden` in the operator's log means a missing rule, not a propagation delay.
fn wait_for_rbac(deploy: &Value, kubeconfig: &Path) {
    let watch_ns = args(deploy)
        .iter()
        .find_map(|a| a.strip_prefix("--namespace=").map(str::to_string));
    let scope: Vec<String> = match watch_ns {
        Some(n) => vec!["-n".into(), n],
        None => vec!["--all-namespaces".into()],
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    for what in [
        "mondayconnectors.iga.monday-operator.dev",
        "mondayaccessgrants.iga.monday-operator.dev",
        "secrets",
    ] {
        loop {
            let mut argv = vec!["auth", "can-i", "watch", what];
            argv.extend(scope.iter().map(String::as_str));
            let out = kubectl_as(kubeconfig, &argv);
            if String::from_utf8_lossy(&out.stdout).trim() == "yes" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "RBAC for watch {what} never took effect: {}",
                show(&out)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct Operator {
    child: std::process::Child,
    log: PathBuf,
}

impl Operator {
    /// Starts the binary with the rendered Deployment's args and env (only the data folder and the
    /// listen address are replaced by test-local ones), authenticated by `kubeconfig`.
    fn start(deploy: &Value, ns: &str, kubeconfig: &Path, data: &Path, log: PathBuf) -> Operator {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_monday-operator"));
        cmd.arg("run");
        for a in args(deploy) {
            if a.starts_with("--data-dir=") {
                cmd.arg(format!("--data-dir={}", data.display()));
            } else if a.starts_with("--metrics-addr=") {
                cmd.arg(format!("--metrics-addr=127.0.0.1:{}", support::free_port()));
            } else {
                cmd.arg(a);
            }
        }
        for e in container(deploy)["env"].as_array().unwrap() {
            let name = e["name"].as_str().unwrap();
            let value = match (
                e["value"].as_str(),
                e["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
            ) {
                (Some(v), _) => v.to_string(),
                (None, Some("metadata.namespace")) => ns.to_string(),
                (None, Some("metadata.name")) => "monday-operator-0".to_string(),
                other => panic!("env {name}: unsupported source {other:?}"),
            };
            cmd.env(name, value);
        }
        wait_for_rbac(deploy, kubeconfig);
        let file = std::fs::File::create(&log).unwrap();
        cmd.env("KUBECONFIG", kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = support::spawn_supervised(cmd).expect("spawn operator");
        Operator { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn assert_no_forbidden(&self) {
        let log = self.log();
        assert!(
            !log.to_lowercase().contains("forbidden"),
            "the operator hit a permission the chart does not grant:\n{log}"
        );
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get_json(args: &[&str]) -> Option<Value> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend(["-o", "json"]);
    let out = support::kubectl(&all);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn ready(connector: &Value) -> Option<(String, String)> {
    connector["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("").into(),
                c["reason"].as_str().unwrap_or("").into(),
            )
        })
}

/// Secret + connector in `ns`, then: Ready=True, a snapshot on disk, Events, the finalizer, and
/// a delete that the finalizer completes.
async fn full_connector_cycle(op: &Operator, ns: &str, data: &Path) {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    apply(&[&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "baton-monday-secrets", "namespace": ns},
        "type": "Opaque",
        "stringData": {
            "BATON_CLIENT_ID": "id", "BATON_CLIENT_SECRET": "secret",
            "BATON_MONDAY_API_KEY": emu.admin_token(), "BATON_PROVISIONING": "true",
        },
    })]);
    apply(&[&json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayConnector",
        "metadata": {"name": "monday", "namespace": ns},
        // Placeholder ConductorOne keys: service mode off (its RBAC is that of any grant record).
        "spec": {"secretRef": {"name": "baton-monday-secrets"}, "apiUrl": emu.url(), "conductorOne": {"enabled": false}},
    })]);

    let deadline = Instant::now() + Duration::from_secs(90);
    let connector = loop {
        let c = get_json(&["mondayconnector", "monday", "-n", ns]).expect("connector");
        if ready(&c).is_some_and(|(s, _)| s == "True") {
            break c;
        }
        if op.log().to_lowercase().contains("forbidden") || Instant::now() > deadline {
            panic!(
                "connector not Ready: {}\noperator log:\n{}",
                c["status"],
                op.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let truth = emu.ground_truth();
    assert_eq!(
        connector["status"]["counts"]["grants"],
        truth.grants.len() as u64,
        "a full sync"
    );
    assert!(
        connector["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "finalizer added (patch): {}",
        connector["metadata"]
    );
    let snapshot = data.join(ns).join("monday").join("sync.c1z");
    assert!(snapshot.exists(), "{} written", snapshot.display());

    // Events (events.k8s.io create) about the connector.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = get_json(&["events.events.k8s.io", "-n", ns]).unwrap();
        let reasons: Vec<&str> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["regarding"]["name"] == "monday")
            .filter_map(|e| e["reason"].as_str())
            .collect();
        if reasons.contains(&"SyncSucceeded") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no SyncSucceeded Event: {reasons:?}\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The binary runs the MondayAccessGrant controller too: its permissions are proven here.
    jit_grant_to_expiry(op, ns, &emu).await;

    // Delete: the operator's finalizer removes the snapshot, then lets the object go.
    let out = support::kubectl(&[
        "delete",
        "mondayconnector",
        "monday",
        "-n",
        ns,
        "--wait=false",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_json(&["mondayconnector", "monday", "-n", ns]).is_some() {
        assert!(
            Instant::now() < deadline,
            "finalizer never removed:\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!snapshot.exists(), "snapshot removed by the finalizer");
    op.assert_no_forbidden();
}

fn phase(grant: &Value) -> &str {
    grant["status"]["phase"].as_str().unwrap_or("")
}

/// A JIT grant through provisioning to expiry and revocation, then a second one revoked by
/// deleting it (the grant finalizer). Proves get on the connector, patch on it (the sync request),
/// the grant finalizer patch and the grant status patch.
async fn jit_grant_to_expiry(op: &Operator, ns: &str, emu: &monday_emulator::EmulatorHandle) {
    let has = |g: &str| emu.ground_truth().grants.iter().any(|x| x == g);
    let wanted = "board:413:subscriber:user:102";
    assert!(!has(wanted), "{wanted} exists before the grant");
    let grant = |name: &str, duration: &str| {
        json!({
            "apiVersion": "iga.monday-operator.dev/v1alpha1", "kind": "MondayAccessGrant",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"connectorRef": {"name": "monday"}, "principal": {"userId": "102"},
                     "entitlement": "board:413:subscriber", "duration": duration, "reason": "RBAC proof"},
        })
    };
    let wait_phase = |name: &'static str, want: &'static str, secs: u64| async move {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let g = get_json(&["mondayaccessgrant", name, "-n", ns]).expect("grant");
            if phase(&g) == want {
                return g;
            }
            if op.log().to_lowercase().contains("forbidden") || Instant::now() > deadline {
                panic!(
                    "grant {name} not {want}: {}\noperator log:\n{}",
                    g["status"],
                    op.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    apply(&[&grant("jit", "5s")]);
    wait_phase("jit", "Granted", 30).await;
    assert!(has(wanted), "Monday has the access while Granted");
    wait_phase("jit", "Expired", 30).await;
    assert!(!has(wanted), "Monday no longer has the access after expiry");

    apply(&[&grant("jit-deleted", "1h")]);
    wait_phase("jit-deleted", "Granted", 30).await;
    let out = support::kubectl(&[
        "delete",
        "mondayaccessgrant",
        "jit-deleted",
        "-n",
        ns,
        "--wait=false",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_json(&["mondayaccessgrant", "jit-deleted", "-n", ns]).is_some() {
        assert!(
            Instant::now() < deadline,
            "grant finalizer never finished:\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!has(wanted), "deleting the grant revoked the access");
    let _ = support::kubectl(&["delete", "mondayaccessgrant", "jit", "-n", ns]);
}

/// Default (cluster) scope with two replicas, so the leader-election Role is exercised too.
/// The two tests share one control plane, and the cluster-wide operator would also reconcile the
/// namespaced test's objects: two operators on one MondayAccessGrant race (the second sees the
/// first one's grant as pre-existing and leaves it in place at expiry). One operator at a time.
static ONE_OPERATOR_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_identity_runs_a_full_sync_cluster_wide_with_leader_election() {
    // Declared first so it is released last, after the operator processes are gone.
    let _serial = ONE_OPERATOR_AT_A_TIME.lock().await;
    install_crds();
    let client = support::client().await;
    let op_ns = support::namespace(&client, "rbac-op").await;
    let user_ns = support::namespace(&client, "rbac-user").await;
    let docs = render(
        "monday-operator",
        &op_ns,
        // The operator's identity only: no ClusterRoles for people.
        &[
            "replicaCount=2",
            "crds.install=false",
            "accessRoles.create=false",
        ],
    );
    let identity: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
            ]
            .contains(&d["kind"].as_str().unwrap())
        })
        .collect();
    assert_eq!(identity.len(), 5, "{:?}", kinds(&docs));
    apply(&identity);

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = service_account_kubeconfig(&op_ns, "monday-operator", dir.path());
    let deploy = find(&docs, "Deployment", "monday-operator");
    assert!(args(deploy).contains(&"--leader-election=true".to_string()));
    let data = dir.path().join("data");
    let mut op = Operator::start(
        deploy,
        &op_ns,
        &kubeconfig,
        &data,
        dir.path().join("operator.log"),
    );

    // It takes the Lease (create, then get + update on renewals) in its own namespace.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lease = get_json(&["lease", "monday-operator-leader", "-n", &op_ns]);
        if lease
            .as_ref()
            .is_some_and(|l| l["spec"]["holderIdentity"] == "monday-operator-0")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no Lease:\n{}", op.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    full_connector_cycle(&op, &user_ns, &data).await;
    let rv = |l: Option<Value>| l.map(|l| l["metadata"]["resourceVersion"].clone());
    let before = rv(get_json(&["lease", "monday-operator-leader", "-n", &op_ns]));
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_ne!(
        rv(get_json(&["lease", "monday-operator-leader", "-n", &op_ns])),
        before,
        "Lease renewed (update)"
    );
    op.assert_no_forbidden();
    assert!(
        op.child.try_wait().unwrap().is_none(),
        "operator still running:\n{}",
        op.log()
    );

    // Cluster scope is documented as able to read any Secret (the cost of the metadata watch).
    let out = kubectl_as(
        &kubeconfig,
        &["auth", "can-i", "get", "secrets", "-n", "kube-system"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "yes",
        "README says cluster mode reads all Secrets"
    );
    // But it can never change them, nor anything outside its own objects' status and finalizers.
    for (verb, what) in [
        ("update", "secrets"),
        ("create", "secrets"),
        ("delete", "mondayconnectors.iga.monday-operator.dev"),
        ("create", "pods"),
        ("list", "configmaps"),
    ] {
        let out = kubectl_as(&kubeconfig, &["auth", "can-i", verb, what, "-n", &user_ns]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "no",
            "{verb} {what}"
        );
    }
}

/// watchNamespace: a Role in one namespace. The same full cycle works, and the identity cannot
/// read a Secret in any other namespace (nor list Secrets cluster-wide).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_identity_in_namespaced_mode_cannot_read_secrets_elsewhere() {
    let _serial = ONE_OPERATOR_AT_A_TIME.lock().await;
    install_crds();
    let client = support::client().await;
    let op_ns = support::namespace(&client, "rbacns-op").await;
    let watched = support::namespace(&client, "rbacns-watched").await;
    let other = support::namespace(&client, "rbacns-other").await;
    let set = format!("watchNamespace={watched}");
    let docs = render(
        "monday-operator",
        &op_ns,
        &[&set, "crds.install=false", "accessRoles.create=false"],
    );
    let identity: Vec<&Value> = docs
        .iter()
        .filter(|d| {
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
            ]
            .contains(&d["kind"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        kinds(&identity.iter().map(|d| (*d).clone()).collect::<Vec<_>>()),
        vec![
            "Role/monday-operator",
            "RoleBinding/monday-operator",
            "ServiceAccount/monday-operator"
        ]
    );
    apply(&identity);
    // A Secret no connector references, in a namespace the operator does not watch.
    apply(&[
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "unrelated", "namespace": other}, "stringData": {"password": "hunter2"}}),
    ]);

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = service_account_kubeconfig(&op_ns, "monday-operator", dir.path());
    let deploy = find(&docs, "Deployment", "monday-operator");
    assert!(args(deploy).contains(&"--leader-election=false".to_string()));
    let data = dir.path().join("data");
    let op = Operator::start(
        deploy,
        &op_ns,
        &kubeconfig,
        &data,
        dir.path().join("operator.log"),
    );
    full_connector_cycle(&op, &watched, &data).await;

    for args in [
        vec!["get", "secret", "unrelated", "-n", other.as_str()],
        vec!["get", "secrets", "-n", other.as_str()],
        vec!["get", "secrets", "--all-namespaces"],
        vec!["get", "secrets", "-n", op_ns.as_str()],
    ] {
        let out = kubectl_as(&kubeconfig, &args);
        assert!(!out.status.success(), "{args:?} allowed: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("forbidden"),
            "{args:?}: {}",
            show(&out)
        );
    }
    op.assert_no_forbidden();
}
