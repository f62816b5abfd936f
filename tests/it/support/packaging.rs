//! Helpers for the packaging tests (chart, kustomize bases, Dockerfile): running helm and kubectl,
//! and reading their YAML output as JSON values so assertions look at structure, not text.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The chart folder.
pub fn chart_dir() -> PathBuf {
    root().join("charts/monday-operator")
}

/// Output as text, with both streams, for failure messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs helm without a cluster (lint, template). The repository's own helm, never a system one.
pub fn helm(args: &[&str]) -> Output {
    let helm = support::tool("helm");
    assert!(
        helm.exists(),
        "{} not found: run `make tools` (hack/build-tools.sh) to build it",
        helm.display()
    );
    // Keep helm's caches and config out of $HOME so tests neither read nor change the user's.
    let home = std::env::temp_dir().join("monday-operator-tests/helm-home");
    Command::new(helm)
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("run helm")
}

/// Runs helm against the test control plane as its admin.
pub fn helm_cluster(args: &[&str]) -> Output {
    let kubeconfig = support::control_plane().kubeconfig.display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
    all.extend_from_slice(args);
    helm(&all)
}

/// Runs kubectl without a cluster (kustomize).
pub fn kubectl_offline(args: &[&str]) -> Output {
    Command::new(support::tool("kubectl"))
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Kubernetes version the charts are rendered for: the one the test control plane runs. helm built
/// from source without release ldflags would otherwise assume v1.20.
pub const KUBE_VERSION: &str = "v1.36.3";

/// `helm template` of the chart with `--set`-style values; panics with helm's output on failure.
pub fn render(release: &str, namespace: &str, sets: &[&str]) -> Vec<Value> {
    let out = render_raw(release, namespace, sets);
    assert!(out.status.success(), "helm template failed: {}", show(&out));
    parse_docs(&String::from_utf8_lossy(&out.stdout))
}

/// `helm template` returning the raw output (for failure tests).
pub fn render_raw(release: &str, namespace: &str, sets: &[&str]) -> Output {
    let chart = chart_dir().display().to_string();
    let mut args = vec![
        "template",
        release,
        chart.as_str(),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    helm(&args)
}

/// Every non-empty document of a YAML stream.
pub fn parse_docs(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap_or_else(|e| panic!("YAML does not parse: {e}\n{yaml}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// The one object of this kind and name.
pub fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", kinds(docs)))
}

/// All objects of a kind.
pub fn all_of<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// `Kind/name` of every object, sorted.
pub fn kinds(docs: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    v.sort();
    v
}

/// The operator container of a rendered Deployment.
pub fn container(deploy: &Value) -> &Value {
    &deploy["spec"]["template"]["spec"]["containers"][0]
}

/// The container's args as strings.
pub fn args(deploy: &Value) -> Vec<String> {
    container(deploy)["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect()
}

/// The CRDs of crds/crds.yaml (the generated source of truth).
pub fn generated_crds() -> Vec<Value> {
    let text = std::fs::read_to_string(root().join("crds/crds.yaml")).expect("crds/crds.yaml");
    parse_docs(&text)
}

/// Writes YAML documents to a file, for `kubectl apply -f`.
pub fn write_docs(path: &Path, docs: &[&Value]) {
    let mut text = String::new();
    for d in docs {
        text.push_str("---\n");
        // JSON is YAML; it avoids any question about how a serializer quotes strings.
        text.push_str(&serde_json::to_string(d).expect("json"));
        text.push('\n');
    }
    std::fs::write(path, text).expect("write manifest");
}

/// Waits (kubectl, up to 60 s) until every generated CRD is Established.
pub fn wait_crds_established() {
    wait_crds_established_with(&support::control_plane().kubeconfig);
}

/// [`wait_crds_established`] on the control plane of `kubeconfig`.
pub fn wait_crds_established_with(kubeconfig: &Path) {
    for crd in generated_crds() {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let out = crate::support::access::kubectl_with(
            kubeconfig,
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                &format!("crd/{name}"),
            ],
        );
        assert!(out.status.success(), "{name} Established: {}", show(&out));
    }
}
