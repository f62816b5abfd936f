//! The Helm chart without a cluster: `helm lint`, and `helm template` with default and
//! non-default values, asserting on the rendered objects (not on text).

use crate::support;

use serde_json::{Value, json};
use support::packaging::*;

const NS: &str = "ops";
const REL: &str = "monday-operator";

#[test]
fn lint_is_clean_with_default_and_non_default_values() {
    let chart = chart_dir().display().to_string();
    let out = helm(&["lint", "--strict", &chart]);
    assert!(out.status.success(), "helm lint: {}", show(&out));
    let out = helm(&[
        "lint",
        "--strict",
        &chart,
        "--set",
        "replicaCount=3,watchNamespace=team-a,podDisruptionBudget.enabled=true,networkPolicy.enabled=true,serviceMonitor.enabled=true,persistence.enabled=true,persistence.accessModes={ReadWriteMany}",
    ]);
    assert!(
        out.status.success(),
        "helm lint (non-default): {}",
        show(&out)
    );
}

#[test]
fn defaults_render_a_hardened_single_replica_operator() {
    let docs = render(REL, NS, &[]);
    // Exactly these objects, plus one CustomResourceDefinition per CRD in crds/crds.yaml.
    let mut expected: Vec<String> = [
        "ClusterRole/monday-operator",
        "ClusterRole/monday-operator-access-approver",
        "ClusterRole/monday-operator-access-policy-admin",
        "ClusterRole/monday-operator-access-requester",
        "ClusterRole/monday-operator-access-viewer",
        "ClusterRoleBinding/monday-operator",
        "Deployment/monday-operator",
        "MutatingAdmissionPolicy/monday-operator-stamp-approver",
        "MutatingAdmissionPolicy/monday-operator-stamp-requester",
        "MutatingAdmissionPolicyBinding/monday-operator-stamp-approver",
        "MutatingAdmissionPolicyBinding/monday-operator-stamp-requester",
        "Service/monday-operator-metrics",
        "ServiceAccount/monday-operator",
        "ValidatingAdmissionPolicy/monday-operator-access-approvals",
        "ValidatingAdmissionPolicy/monday-operator-access-grants",
        "ValidatingAdmissionPolicyBinding/monday-operator-access-approvals",
        "ValidatingAdmissionPolicyBinding/monday-operator-access-grants",
    ]
    .map(String::from)
    .to_vec();
    expected.extend(generated_crds().iter().map(|c| {
        format!(
            "CustomResourceDefinition/{}",
            c["metadata"]["name"].as_str().unwrap()
        )
    }));
    expected.sort();
    assert_eq!(kinds(&docs), expected, "default objects");

    let deploy = find(&docs, "Deployment", REL);
    assert_eq!(deploy["metadata"]["namespace"], NS);
    assert_eq!(deploy["spec"]["replicas"], 1);
    assert_eq!(
        deploy["spec"]["strategy"]["type"], "Recreate",
        "no overlap without leader election"
    );
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], REL);
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert_eq!(psc["runAsUser"], 65532);
    assert_eq!(psc["runAsGroup"], 65532);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    let c = container(deploy);
    let csc = &c["securityContext"];
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["runAsNonRoot"], true);
    assert_eq!(csc["runAsUser"], 65532);
    assert_eq!(csc["privileged"], false);
    assert_eq!(csc["capabilities"]["drop"], json!(["ALL"]));
    assert!(csc["capabilities"].get("add").is_none());
    assert_eq!(csc["seccompProfile"]["type"], "RuntimeDefault");
    for k in ["requests", "limits"] {
        assert!(c["resources"][k]["cpu"].is_string(), "resources.{k}.cpu");
        assert!(
            c["resources"][k]["memory"].is_string(),
            "resources.{k}.memory"
        );
    }

    let a = args(deploy);
    assert!(a.contains(&"--leader-election=false".into()), "{a:?}");
    assert!(a.contains(&"--metrics-addr=0.0.0.0:8080".into()), "{a:?}");
    assert!(
        !a.iter().any(|x| x.starts_with("--namespace")),
        "all namespaces by default: {a:?}"
    );
    assert!(
        !a.iter().any(|x| x == "run"),
        "the image's ENTRYPOINT already says `run`: {a:?}"
    );
    assert_eq!(
        c["ports"][0],
        json!({"name": "metrics", "containerPort": 8080, "protocol": "TCP"})
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"],
        json!({"path": "/livez", "port": "metrics"})
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "metrics"})
    );
    let env = c["env"].as_array().expect("env");
    let pod_ns = env
        .iter()
        .find(|e| e["name"] == "POD_NAMESPACE")
        .expect("POD_NAMESPACE");
    assert_eq!(
        pod_ns["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );

    // --data-dir sits on a writable volume (the root filesystem is read-only), as does /tmp.
    let data_dir = a
        .iter()
        .find_map(|x| x.strip_prefix("--data-dir="))
        .expect("--data-dir");
    let mounts = c["volumeMounts"].as_array().expect("mounts");
    let data = mounts
        .iter()
        .find(|m| m["mountPath"] == data_dir)
        .expect("data dir mounted");
    assert!(mounts.iter().any(|m| m["mountPath"] == "/tmp"));
    let vol = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == data["name"])
        .expect("data volume");
    assert!(vol.get("emptyDir").is_some(), "emptyDir by default: {vol}");

    let svc = find(&docs, "Service", "monday-operator-metrics");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "metrics");
    assert_eq!(
        svc["spec"]["selector"],
        deploy["spec"]["selector"]["matchLabels"]
    );

    let crb = find(&docs, "ClusterRoleBinding", REL);
    assert_eq!(
        crb["subjects"],
        json!([{"kind": "ServiceAccount", "name": REL, "namespace": NS}])
    );
    assert_eq!(crb["roleRef"]["name"], REL);
    assert!(
        all_of(&docs, "Role").is_empty(),
        "no Lease permission with one replica"
    );
}

#[test]
fn rbac_rules_are_minimal() {
    let docs = render(REL, NS, &[]);
    let rules = &find(&docs, "ClusterRole", REL)["rules"];
    assert_eq!(
        rules,
        &json!([
            {"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayconnectors", "mondayaccessgrants"], "verbs": ["list", "watch", "patch"]},
            {"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayconnectors", "mondayaccessgrants"], "verbs": ["get"]},
            {"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayaccessgrants"], "verbs": ["create", "delete"]},
            {"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayaccesspolicies", "mondayaccessapprovals"], "verbs": ["list", "watch"]},
            {"apiGroups": ["iga.monday-operator.dev"], "resources": ["mondayconnectors/status", "mondayaccessgrants/status"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
        ]),
        "a change of the operator's permissions must be deliberate (and proven by tests/chart_rbac.rs)"
    );
    for rule in rules.as_array().unwrap() {
        for verb in rule["verbs"].as_array().unwrap() {
            assert!(
                ![
                    "*",
                    "create",
                    "update",
                    "delete",
                    "deletecollection",
                    "escalate",
                    "bind",
                    "impersonate"
                ]
                .contains(&verb.as_str().unwrap())
                    || rule["resources"] == json!(["events"])
                    // Service mode's records of time-bound ConductorOne grants.
                    || (rule["resources"] == json!(["mondayaccessgrants"])
                        && ["create", "delete"].contains(&verb.as_str().unwrap())),
                "unexpected verb {verb} in {rule}"
            );
        }
    }
}

#[test]
fn every_rbac_rule_is_commented() {
    let text = std::fs::read_to_string(chart_dir().join("templates/rbac.yaml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut rules = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("- apiGroups:") {
            rules += 1;
            assert!(
                i > 0 && lines[i - 1].trim_start().starts_with('#'),
                "rule at templates/rbac.yaml:{} has no comment saying what it is for",
                i + 1
            );
        }
    }
    assert!(rules >= 6, "found {rules} rules");
}

/// The chart's CRDs are crds/crds.yaml (generated from the Rust types), plus only the labels and
/// the keep annotation the chart adds.
#[test]
fn chart_crds_are_the_generated_crds() {
    let link = chart_dir().join("files/crds.yaml");
    let chart_copy = std::fs::read_to_string(&link).expect("chart's files/crds.yaml");
    let generated = std::fs::read_to_string(root().join("crds/crds.yaml")).unwrap();
    assert!(
        chart_copy == generated,
        "{} differs from crds/crds.yaml: it should be a symlink to it (ln -sf ../../../crds/crds.yaml)",
        link.display()
    );

    let docs = render(REL, NS, &[]);
    let rendered: Vec<&Value> = all_of(&docs, "CustomResourceDefinition");
    let expected = generated_crds();
    assert_eq!(
        rendered.len(),
        expected.len(),
        "one rendered CRD per generated CRD"
    );
    for want in &expected {
        let name = want["metadata"]["name"].as_str().unwrap();
        let mut got = find(&docs, "CustomResourceDefinition", name).clone();
        assert_eq!(
            got["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
            "{name}: keep by default so uninstalling never deletes users' objects"
        );
        assert_eq!(
            got["metadata"]["labels"]["app.kubernetes.io/part-of"],
            "monday-operator"
        );
        let meta = got["metadata"].as_object_mut().unwrap();
        meta.remove("labels");
        meta.remove("annotations");
        let mut want = want.clone();
        let wmeta = want["metadata"].as_object_mut().unwrap();
        assert!(
            wmeta.get("labels").is_none() && wmeta.get("annotations").is_none(),
            "generated CRDs carry no labels/annotations"
        );
        assert!(
            got == want,
            "{name}: the chart renders a different CRD than crds/crds.yaml"
        );
    }

    let docs = render(REL, NS, &["crds.keep=false"]);
    for crd in all_of(&docs, "CustomResourceDefinition") {
        assert!(crd["metadata"].get("annotations").is_none(), "{crd}");
    }
    let docs = render(REL, NS, &["crds.install=false"]);
    assert!(all_of(&docs, "CustomResourceDefinition").is_empty());
}

#[test]
fn more_than_one_replica_turns_leader_election_on_with_a_lease_role() {
    let docs = render(REL, NS, &["replicaCount=2"]);
    let deploy = find(&docs, "Deployment", REL);
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
    let a = args(deploy);
    assert!(a.contains(&"--leader-election=true".into()), "{a:?}");
    assert!(
        a.contains(&"--lease-name=monday-operator-leader".into()),
        "{a:?}"
    );
    let role = find(&docs, "Role", "monday-operator-leader-election");
    assert_eq!(
        role["metadata"]["namespace"], NS,
        "the Lease lives in the pod's namespace (POD_NAMESPACE)"
    );
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["monday-operator-leader"], "verbs": ["get", "update"]},
        ])
    );
    let rb = find(&docs, "RoleBinding", "monday-operator-leader-election");
    assert_eq!(rb["roleRef"]["name"], "monday-operator-leader-election");
    assert_eq!(rb["subjects"][0]["name"], REL);

    let docs = render(REL, NS, &["replicaCount=2", "operator.leaseName=my-lease"]);
    assert!(args(find(&docs, "Deployment", REL)).contains(&"--lease-name=my-lease".into()));
    assert_eq!(
        find(&docs, "Role", "monday-operator-leader-election")["rules"][1]["resourceNames"],
        json!(["my-lease"])
    );
}

#[test]
fn watch_namespace_uses_a_role_in_that_namespace_only() {
    let cluster = render(REL, NS, &[]);
    let docs = render(REL, NS, &["watchNamespace=team-a"]);
    // The only ClusterRoles are those for people (access-*), which grant the operator nothing.
    assert!(
        all_of(&docs, "ClusterRole")
            .iter()
            .all(|r| r["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("monday-operator-access-")),
        "{:?}",
        kinds(&docs)
    );
    assert!(all_of(&docs, "ClusterRoleBinding").is_empty());
    let role = find(&docs, "Role", REL);
    assert_eq!(role["metadata"]["namespace"], "team-a");
    assert_eq!(
        role["rules"],
        find(&cluster, "ClusterRole", REL)["rules"],
        "same rules, narrower scope"
    );
    let rb = find(&docs, "RoleBinding", REL);
    assert_eq!(rb["metadata"]["namespace"], "team-a");
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": REL})
    );
    assert_eq!(
        rb["subjects"],
        json!([{"kind": "ServiceAccount", "name": REL, "namespace": NS}])
    );
    assert!(args(find(&docs, "Deployment", REL)).contains(&"--namespace=team-a".into()));
}

#[test]
fn optional_objects_follow_their_toggles() {
    let docs = render(REL, NS, &[]);
    for kind in [
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "PersistentVolumeClaim",
    ] {
        assert!(all_of(&docs, kind).is_empty(), "{kind} is off by default");
    }

    let docs = render(
        REL,
        NS,
        &[
            "replicaCount=2",
            "podDisruptionBudget.enabled=true",
            "networkPolicy.enabled=true",
            "serviceMonitor.enabled=true",
            "persistence.enabled=true",
            "persistence.accessModes={ReadWriteMany}",
            "persistence.storageClass=nfs",
        ],
    );
    let deploy = find(&docs, "Deployment", REL);
    let selector = &deploy["spec"]["selector"]["matchLabels"];

    let pdb = find(&docs, "PodDisruptionBudget", REL);
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], selector);

    let np = find(&docs, "NetworkPolicy", REL);
    assert_eq!(&np["spec"]["podSelector"]["matchLabels"], selector);
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(
        np["spec"]["ingress"][0]["ports"],
        json!([{"port": "metrics", "protocol": "TCP"}])
    );
    let egress_ports: Vec<&Value> = np["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ports"].as_array().unwrap())
        .map(|p| &p["port"])
        .collect();
    for p in [53, 443, 6443] {
        assert!(
            egress_ports.contains(&&json!(p)),
            "egress port {p}: {egress_ports:?}"
        );
    }

    let sm = find(&docs, "ServiceMonitor", REL);
    assert_eq!(sm["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(&sm["spec"]["selector"]["matchLabels"], selector);

    let pvc = find(&docs, "PersistentVolumeClaim", "monday-operator-data");
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteMany"]));
    assert_eq!(pvc["spec"]["storageClassName"], "nfs");
    assert_eq!(
        pvc["metadata"]["annotations"]["helm.sh/resource-policy"],
        "keep"
    );
    let vols = deploy["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let data = vols.iter().find(|v| v["name"] == "data").unwrap();
    assert_eq!(
        data["persistentVolumeClaim"]["claimName"],
        "monday-operator-data"
    );

    let docs = render(
        REL,
        NS,
        &["persistence.enabled=true", "persistence.existingClaim=mine"],
    );
    assert!(all_of(&docs, "PersistentVolumeClaim").is_empty());
    let vols = &find(&docs, "Deployment", REL)["spec"]["template"]["spec"]["volumes"];
    assert_eq!(vols[0]["persistentVolumeClaim"]["claimName"], "mine");
}

#[test]
fn a_read_write_once_volume_cannot_be_shared_by_replicas() {
    let out = render_raw(REL, NS, &["replicaCount=2", "persistence.enabled=true"]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ReadWriteOnce"),
        "{}",
        show(&out)
    );
}

#[test]
fn values_schema_rejects_bad_values() {
    for (bad, needle) in [
        ("replicaCount=two", "replicaCount"),
        ("operator.logFormat=xml", "logFormat"),
        ("watchNamespace=Not_A_Namespace", "watchNamespace"),
        ("replicaCont=2", "replicaCont"),
        ("crds.install=maybe", "install"),
    ] {
        let out = render_raw(REL, NS, &[bad]);
        assert!(!out.status.success(), "{bad} was accepted: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("schema") && err.contains(needle),
            "{bad}: {}",
            show(&out)
        );
    }
}

#[test]
fn helm_packages_the_chart_with_its_crds() {
    let dir = tempfile::tempdir().unwrap();
    let chart = chart_dir().display().to_string();
    let dest = dir.path().display().to_string();
    let out = helm(&["package", &chart, "--destination", &dest]);
    assert!(out.status.success(), "{}", show(&out));
    let tgz = dir.path().join("monday-operator-0.1.0.tgz");
    // The packaged chart (the files/crds.yaml symlink resolved into it) renders the same CRDs.
    let out = helm(&[
        "template",
        REL,
        &tgz.display().to_string(),
        "--kube-version",
        KUBE_VERSION,
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let docs = parse_docs(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        all_of(&docs, "CustomResourceDefinition").len(),
        generated_crds().len()
    );
}
