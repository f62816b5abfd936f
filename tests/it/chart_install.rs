//! `helm install` into the real apiserver. No kubelet runs here, so pods never start and `--wait`
//! would hang: the tests install without waiting and check what the apiserver stored (and that
//! the CRDs become Established), which is everything helm itself is responsible for.

use crate::support;

use serde_json::Value;
use support::packaging::*;

fn get_json(args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend(["-o", "json"]);
    let out = support::kubectl(&all);
    assert!(out.status.success(), "kubectl get {args:?}: {}", show(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn exists(args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    support::kubectl(&all).status.success()
}

fn fresh_namespace(prefix: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { support::namespace(&support::client().await, prefix).await })
}

/// The YAML blocks NOTES.txt tells the user to pipe into `kubectl apply` (between `<<'YAML'` and
/// `YAML`), de-indented.
fn notes_manifests(notes: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in notes.lines() {
        match &mut current {
            None if line.trim_end().ends_with("<<'YAML'") => {
                current = Some((usize::MAX, String::new()))
            }
            None => {}
            Some((_, text)) if line.trim() == "YAML" => {
                out.push(std::mem::take(text));
                current = None;
            }
            Some((indent, text)) => {
                if *indent == usize::MAX {
                    *indent = line.len() - line.trim_start().len();
                }
                text.push_str(line.get(*indent..).unwrap_or(""));
                text.push('\n');
            }
        }
    }
    out
}

#[test]
fn install_with_defaults_then_uninstall_keeps_the_crds() {
    let ns = fresh_namespace("helm");
    let chart = chart_dir().display().to_string();
    let out = helm_cluster(&["install", "monday-operator", &chart, "--namespace", &ns]);
    assert!(out.status.success(), "helm install: {}", show(&out));
    let notes = String::from_utf8_lossy(&out.stdout).to_string();

    for crd in generated_crds() {
        let name = crd["metadata"]["name"].as_str().unwrap();
        let out = support::kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            &format!("crd/{name}"),
        ]);
        assert!(out.status.success(), "{name} Established: {}", show(&out));
        let stored = get_json(&["crd", name]);
        assert_eq!(
            stored["metadata"]["annotations"]["helm.sh/resource-policy"],
            "keep"
        );
        assert_eq!(
            stored["metadata"]["annotations"]["meta.helm.sh/release-name"],
            "monday-operator"
        );
    }
    let deploy = get_json(&["deployment", "monday-operator", "-n", &ns]);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "monday-operator");
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    assert!(exists(&["serviceaccount", "monday-operator", "-n", &ns]));
    assert!(exists(&["service", "monday-operator-metrics", "-n", &ns]));
    assert!(exists(&["clusterrole", "monday-operator"]));
    let crb = get_json(&["clusterrolebinding", "monday-operator"]);
    assert_eq!(crb["subjects"][0]["namespace"], ns.as_str());

    // NOTES.txt: the Secret (BATON_PROVISIONING quoted) and the first connector it shows are
    // accepted by the apiserver as written.
    assert!(notes.contains("BATON_PROVISIONING: \"true\""), "{notes}");
    let manifests = notes_manifests(&notes);
    assert_eq!(
        manifests.len(),
        2,
        "a Secret and a MondayConnector in NOTES: {notes}"
    );
    let user_ns = fresh_namespace("notes");
    for m in &manifests {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yaml");
        std::fs::write(&path, m).unwrap();
        let out = support::kubectl(&["apply", "-n", &user_ns, "-f", &path.display().to_string()]);
        assert!(
            out.status.success(),
            "NOTES manifest rejected:\n{m}\n{}",
            show(&out)
        );
    }
    assert!(exists(&["secret", "baton-monday-secrets", "-n", &user_ns]));
    assert!(exists(&["mondayconnector", "monday", "-n", &user_ns]));

    let out = helm_cluster(&["uninstall", "monday-operator", "--namespace", &ns]);
    assert!(out.status.success(), "helm uninstall: {}", show(&out));
    assert!(!exists(&["deployment", "monday-operator", "-n", &ns]));
    assert!(!exists(&["clusterrole", "monday-operator"]));
    for crd in generated_crds() {
        let name = crd["metadata"]["name"].as_str().unwrap();
        assert!(
            exists(&["crd", name]),
            "{name} kept by helm.sh/resource-policy: keep"
        );
    }
    assert!(
        exists(&["mondayconnector", "monday", "-n", &user_ns]),
        "users' connectors survive an uninstall"
    );
}

/// Every optional object the apiserver knows (PDB, NetworkPolicy, PVC, namespaced Role, Lease
/// Role) is accepted as rendered. The ServiceMonitor needs the Prometheus Operator's CRD, which
/// this control plane does not have; its shape is checked in tests/chart_render.rs.
#[test]
fn install_with_non_default_values() {
    let ns = fresh_namespace("helm-opts");
    let watched = fresh_namespace("watched");
    let chart = chart_dir().display().to_string();
    let set = format!(
        "replicaCount=2,watchNamespace={watched},podDisruptionBudget.enabled=true,networkPolicy.enabled=true,persistence.enabled=true,persistence.accessModes={{ReadWriteMany}},crds.install=false"
    );
    let out = helm_cluster(&["install", "opts", &chart, "--namespace", &ns, "--set", &set]);
    assert!(out.status.success(), "helm install: {}", show(&out));
    let deploy = get_json(&["deployment", "opts-monday-operator", "-n", &ns]);
    assert_eq!(deploy["spec"]["replicas"], 2);
    let args: Vec<String> = deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(args.contains(&"--leader-election=true".into()), "{args:?}");
    assert!(args.contains(&format!("--namespace={watched}")), "{args:?}");
    assert!(exists(&[
        "poddisruptionbudget",
        "opts-monday-operator",
        "-n",
        &ns
    ]));
    assert!(exists(&[
        "networkpolicy",
        "opts-monday-operator",
        "-n",
        &ns
    ]));
    assert!(exists(&[
        "persistentvolumeclaim",
        "opts-monday-operator-data",
        "-n",
        &ns
    ]));
    assert!(exists(&["role", "opts-monday-operator", "-n", &watched]));
    assert!(exists(&[
        "rolebinding",
        "opts-monday-operator",
        "-n",
        &watched
    ]));
    assert!(exists(&[
        "role",
        "opts-monday-operator-leader-election",
        "-n",
        &ns
    ]));
    assert!(
        !exists(&["clusterrole", "opts-monday-operator"]),
        "no cluster-wide permission"
    );

    // The bound identity can do in the watched namespace exactly what the operator needs, and
    // nothing in other namespaces.
    let sa = format!("system:serviceaccount:{ns}:opts-monday-operator");
    let can = |verb: &str, what: &str, where_: &str| {
        let out = support::kubectl(&["auth", "can-i", verb, what, "-n", where_, "--as", &sa]);
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    assert!(can(
        "watch",
        "mondayconnectors.iga.monday-operator.dev",
        &watched
    ));
    assert!(can("get", "secrets", &watched));
    assert!(
        !can("get", "secrets", &ns),
        "no Secret access outside the watched namespace"
    );
    assert!(!can("get", "secrets", "default"));
    assert!(!can(
        "delete",
        "mondayconnectors.iga.monday-operator.dev",
        &watched
    ));
    assert!(can("create", "leases.coordination.k8s.io", &ns));
    assert!(!can("create", "leases.coordination.k8s.io", &watched));
}
