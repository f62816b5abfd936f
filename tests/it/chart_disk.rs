//! The chart's volumes are sized for what a sync writes, and the operator is told the sizes: the
//! scratch emptyDir at /tmp is `--scratch-dir` with `--scratch-size-limit` equal to its
//! `sizeLimit`, and the snapshot volume's size is `--data-size-limit`. (The kubelet enforces an
//! emptyDir's sizeLimit by evicting the pod; the operator keeps below it and fails a sync that
//! would not fit with reason DiskFull instead.) Figures behind the defaults: README, "Disk
//! needed per account size".

use crate::support;

use serde_json::Value;
use support::packaging::*;

const NS: &str = "ops";
const REL: &str = "monday-operator";

fn arg<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let prefix = format!("{flag}=");
    args.iter().find_map(|a| a.strip_prefix(prefix.as_str()))
}

fn volume<'a>(deploy: &'a Value, name: &str) -> &'a Value {
    deploy["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("volume {name}"))
}

fn mount_path<'a>(deploy: &'a Value, name: &str) -> &'a str {
    container(deploy)["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["mountPath"].as_str())
        .unwrap_or_else(|| panic!("mount of {name}"))
}

#[test]
fn defaults_give_scratch_its_own_sized_volume_and_tell_the_operator_both_limits() {
    let docs = render(REL, NS, &[]);
    let deploy = find(&docs, "Deployment", REL);
    let a = args(deploy);

    assert_eq!(
        arg(&a, "--scratch-dir"),
        Some(mount_path(deploy, "scratch"))
    );
    let scratch = &volume(deploy, "scratch")["emptyDir"]["sizeLimit"];
    assert_eq!(scratch, "2Gi", "measured: tenant L needs 1.4 GB of scratch");
    assert_eq!(arg(&a, "--scratch-size-limit"), scratch.as_str());

    assert_eq!(arg(&a, "--data-dir"), Some(mount_path(deploy, "data")));
    let data = &volume(deploy, "data")["emptyDir"]["sizeLimit"];
    assert_eq!(
        data, "1Gi",
        "measured: tenant L needs 190 MB of snapshot folder"
    );
    assert_eq!(arg(&a, "--data-size-limit"), data.as_str());

    // The operator parses what the chart writes.
    let parse = |flag: &str| monday_operator::cli::parse_size(arg(&a, flag).expect(flag));
    assert_eq!(parse("--scratch-size-limit"), Ok(2 << 30));
    assert_eq!(parse("--data-size-limit"), Ok(1 << 30));
}

#[test]
fn sizes_follow_the_values() {
    let docs = render(
        REL,
        NS,
        &[
            "scratch.sizeLimit=8Gi",
            "persistence.emptyDirSizeLimit=3500Mi",
        ],
    );
    let deploy = find(&docs, "Deployment", REL);
    let a = args(deploy);
    assert_eq!(volume(deploy, "scratch")["emptyDir"]["sizeLimit"], "8Gi");
    assert_eq!(arg(&a, "--scratch-size-limit"), Some("8Gi"));
    assert_eq!(volume(deploy, "data")["emptyDir"]["sizeLimit"], "3500Mi");
    assert_eq!(arg(&a, "--data-size-limit"), Some("3500Mi"));

    // A claim: its requested size is the limit (the filesystem enforces it too).
    let docs = render(
        REL,
        NS,
        &["persistence.enabled=true", "persistence.size=20Gi"],
    );
    let deploy = find(&docs, "Deployment", REL);
    assert_eq!(arg(&args(deploy), "--data-size-limit"), Some("20Gi"));
    let pvc = find(&docs, "PersistentVolumeClaim", "monday-operator-data");
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "20Gi");

    // An existing claim of unknown size: only its filesystem's free space counts.
    let docs = render(
        REL,
        NS,
        &["persistence.enabled=true", "persistence.existingClaim=mine"],
    );
    let deploy = find(&docs, "Deployment", REL);
    assert_eq!(arg(&args(deploy), "--data-size-limit"), None);
    assert_eq!(arg(&args(deploy), "--scratch-size-limit"), Some("2Gi"));
}

#[test]
fn a_scratch_size_that_is_not_a_quantity_is_rejected_by_the_schema() {
    let out = render_raw(REL, NS, &["scratch.sizeLimit=lots"]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("sizeLimit"), "{}", show(&out));
}
