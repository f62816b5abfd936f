//! The image the node tests run is the image the Dockerfile builds: the archive assembled by
//! `tests/it/support/image.rs` is read back and compared with the Dockerfile's runtime stage, parsed
//! here on its own (user, entrypoint, exposed port, labels, every copied file), and with what the
//! chart expects of it.

use crate::support;

use std::collections::BTreeMap;

use support::image::{self, Contents};
use support::packaging::{render, root};

/// The runtime stage's instructions by keyword, continuation lines joined.
fn runtime_stage(dockerfile: &str) -> Vec<(String, String)> {
    let text = dockerfile.replace("\\\n", " ");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("FROM");
    lines[from..]
        .iter()
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("instruction with arguments");
            (
                k.to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

fn contents() -> (Contents, Vec<u8>) {
    let img = image::operator_image().expect("the operator image");
    let binary = std::fs::read(image::musl_binary().expect("musl binary")).expect("binary");
    (
        image::read_archive(&img.archive).expect("readable OCI archive"),
        binary,
    )
}

#[test]
fn the_assembled_image_matches_the_dockerfile_runtime_stage_and_the_chart() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let stage = runtime_stage(&dockerfile);
    let (img, binary) = contents();
    let config = &img.config["config"];
    let one = |k: &str| -> Vec<&String> {
        stage
            .iter()
            .filter(|(w, _)| w == k)
            .map(|(_, v)| v)
            .collect()
    };

    assert_eq!(
        one("FROM"),
        [&image::DISTROLESS_BASE.to_string()],
        "the base this builder stands in for"
    );
    assert_eq!(config["User"], one("USER")[0].as_str(), "USER");
    let entrypoint: serde_json::Value = serde_json::from_str(one("ENTRYPOINT")[0]).unwrap();
    assert_eq!(config["Entrypoint"], entrypoint, "ENTRYPOINT");
    assert!(config.get("Cmd").is_none(), "no CMD: {config}");
    let exposed: Vec<String> = one("EXPOSE")
        .iter()
        .flat_map(|v| v.split_whitespace().map(|p| format!("{p}/tcp")))
        .collect();
    let ports: Vec<&String> = config["ExposedPorts"]
        .as_object()
        .expect("ExposedPorts")
        .keys()
        .collect();
    assert_eq!(ports, exposed.iter().collect::<Vec<_>>(), "EXPOSE");
    let mut labels = BTreeMap::new();
    for v in one("LABEL") {
        for part in v.split("\" ") {
            let (k, val) = part.split_once('=').expect("key=value");
            labels.insert(k.trim().to_string(), val.trim_matches('"').to_string());
        }
    }
    let image_labels: BTreeMap<String, String> = config["Labels"]
        .as_object()
        .expect("Labels")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(image_labels, labels, "LABEL");

    // Every COPY, as Docker would lay it out: one layer each, on top of the base layer.
    let copies = one("COPY");
    assert_eq!(img.layers, 1 + copies.len(), "one layer per COPY");
    for c in &copies {
        let words: Vec<&str> = c.split_whitespace().collect();
        let dst = *words.last().unwrap();
        let chown = words
            .iter()
            .find_map(|w| w.strip_prefix("--chown="))
            .map(|c| c.split_once(':').unwrap());
        let entry = img
            .files
            .get(dst)
            .unwrap_or_else(|| panic!("COPY … {dst}: missing from the image"));
        let (uid, gid) = chown
            .map(|(u, g)| (u.parse().unwrap(), g.parse().unwrap()))
            .unwrap_or((0, 0));
        assert_eq!((entry.uid, entry.gid), (uid, gid), "owner of {dst}");
        match dst {
            "/monday-operator" => {
                assert!(!entry.dir);
                assert_eq!(entry.mode & 0o7777, 0o755, "install -m 0755");
                assert!(entry.data == binary, "the musl release binary");
                assert!(
                    !image::has_interpreter(&entry.data).unwrap(),
                    "static: no program interpreter (distroless/static has no loader)"
                );
            }
            "/var/lib/monday-operator" => assert!(entry.dir, "the data directory"),
            other => panic!("COPY to {other}: extend this test"),
        }
    }
    assert!(
        image::has_interpreter(&std::fs::read("/bin/sh").unwrap()).unwrap(),
        "the interpreter check recognises a dynamic binary"
    );

    // What the base gives (distroless static-debian12:nonroot).
    let text = |p: &str| String::from_utf8(img.files[p].data.clone()).unwrap();
    assert!(
        text("/etc/passwd")
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "/etc/passwd names 65532"
    );
    assert!(text("/etc/group").lines().any(|l| l == "nonroot:x:65532:"));
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let bundle = env
        .iter()
        .find_map(|e| e.strip_prefix("SSL_CERT_FILE="))
        .expect("SSL_CERT_FILE");
    assert!(
        text(bundle).matches("BEGIN CERTIFICATE").count() > 50,
        "a CA bundle at {bundle}"
    );
    assert_eq!(img.files["/tmp"].mode & 0o7777, 0o1777, "/tmp");
    assert_eq!(config["WorkingDir"], "/home/nonroot");
    assert_eq!(img.files["/home/nonroot"].uid, 65532);

    // What the chart expects of the image.
    let docs = render("monday-operator", "monday-operator", &[]);
    let deploy = support::packaging::find(&docs, "Deployment", "monday-operator");
    let pod = &deploy["spec"]["template"]["spec"];
    let user: Vec<&str> = config["User"].as_str().unwrap().split(':').collect();
    assert_eq!(pod["securityContext"]["runAsUser"].to_string(), user[0]);
    assert_eq!(
        support::packaging::container(deploy)["ports"][0]["containerPort"].to_string(),
        exposed[0].trim_end_matches("/tcp")
    );
    let data = img
        .files
        .get("/var/lib/monday-operator")
        .expect("the default --data-dir");
    assert_eq!(data.uid, 65532, "the data directory belongs to the user");
    let tag = image::OPERATOR_IMAGE.rsplit(':').next().unwrap();
    assert_eq!(
        support::packaging::container(deploy)["image"],
        format!("monday-operator:{tag}"),
        "the archive is named as the chart's default image"
    );
}

#[test]
fn a_dockerfile_change_the_builder_does_not_model_fails_the_image_build() {
    let err = image::runtime_stage("FROM scratch\nENV A=b\n").unwrap_err();
    assert!(err.to_string().contains("uses ENV"), "{err}");
    let err = image::runtime_stage("FROM scratch\nCOPY --link a /a\n").unwrap_err();
    assert!(err.to_string().contains("--link"), "{err}");
    let err =
        image::builder_env("FROM rust AS builder\nRUN cargo build\nFROM scratch\n").unwrap_err();
    assert!(err.to_string().contains("no longer runs"), "{err}");
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let env = image::builder_env(&dockerfile).expect("the builder stage");
    assert!(
        env.iter()
            .any(|(k, v)| k == "CC_x86_64_unknown_linux_musl" && v == "musl-gcc"),
        "{env:?}"
    );
    assert!(
        !env.iter().any(|(k, _)| k.ends_with("_LINKER")),
        "musl-gcc as the linker makes a binary that needs /lib/ld-musl-x86_64.so.1: {env:?}"
    );
}
