//! `make demo`, the README's first command, runs to its "Everything is running" line with the
//! operator as a pod on the local node, prints what a user should see, and stops cleanly on
//! Ctrl-C (SIGINT), taking every process it started with it.

#[path = "it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The newest of the demo's sources (files, or every file under a folder): (mtime, path).
fn newest_source(paths: &[&str]) -> Option<(std::time::SystemTime, std::path::PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    let mut stack: Vec<std::path::PathBuf> = paths.iter().map(|d| root().join(d)).collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(
                std::fs::read_dir(&p)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if let Ok(t) = std::fs::metadata(&p).and_then(|m| m.modified())
            && newest.as_ref().is_none_or(|(n, _)| t > *n)
        {
            newest = Some((t, p));
        }
    }
    newest
}

#[test]
fn make_demo_runs_the_operator_as_a_pod_to_everything_is_running_and_stops_on_ctrl_c() {
    // What `make demo` (hack/demo.sh) builds; `cargo test` (make test) builds it too. Building it
    // from here would fight the outer cargo over the same artifacts, so it must be there, fresh.
    let demo_bin = root().join("target/debug/examples/demo");
    let built = std::fs::metadata(&demo_bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run `cargo build --example demo --bin monday-operator` (make test builds it)",
                demo_bin.display()
            )
        });
    if let Some(newer) = newest_source(&[
        "examples/demo.rs",
        "tests/it/support/control_plane.rs",
        "tests/it/support/image.rs",
        "tests/it/support/node.rs",
        "src",
    ])
    .filter(|(t, _)| *t > built)
    .map(|(_, p)| p)
    {
        panic!(
            "{} is older than {}: run `cargo build --example demo --bin monday-operator` (make test builds it)",
            demo_bin.display(),
            newer.display()
        );
    }
    let started = Instant::now();
    let mut cmd = Command::new(&demo_bin);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut demo = support::spawn_supervised(cmd).expect("start the demo");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = demo.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                let done = line.starts_with("Everything is running");
                printed.push(line);
                if done {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = demo.wait();
                let mut err = String::new();
                use std::io::Read as _;
                let _ = demo.stderr.take().map(|mut e| e.read_to_string(&mut err));
                panic!(
                    "the demo exited early:\n{}\n--- stderr\n{err}",
                    printed.join("\n")
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "no 'Everything is running' within 10 minutes:\n{}",
            printed.join("\n")
        );
    }
    // The rest of the "Try:" block.
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        let end = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if end {
            break;
        }
    }
    let text = printed.join("\n");
    eprintln!(
        "demo ready in {:.1}s:\n{text}",
        started.elapsed().as_secs_f64()
    );

    assert!(
        !text.contains("node mode unavailable"),
        "the demo ran on the node: {text}"
    );
    let pods_line = printed
        .iter()
        .skip_while(|l| !l.starts_with("$ kubectl get pods"))
        .find(|l| l.starts_with("monday-operator-"))
        .unwrap_or_else(|| panic!("kubectl get pods shows the operator pod:\n{text}"));
    let cols: Vec<&str> = pods_line.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["1/1", "Running"], "{pods_line}");
    assert!(pods_line.contains(support::node::NODE_NAME), "{pods_line}");
    let mcon = printed
        .iter()
        .find(|l| l.starts_with("mondayconnector.iga.monday-operator.dev/"))
        .unwrap_or_else(|| panic!("the connector in kubectl get mcon:\n{text}"));
    assert!(mcon.contains(" True "), "Ready: {mcon}");
    let mgrant = printed
        .iter()
        .find(|l| l.starts_with("mondayaccessgrant.iga.monday-operator.dev/"))
        .unwrap_or_else(|| panic!("the grant in kubectl get mgrant:\n{text}"));
    assert!(mgrant.contains("Granted"), "{mgrant}");
    assert!(text.contains("Access summary of"), "{text}");
    assert!(text.contains("principals (the JIT grant is revoked when it expires)"));
    let kubeconfig = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("export KUBECONFIG="))
        .expect("the KUBECONFIG to try");
    assert!(std::path::Path::new(kubeconfig).exists(), "{kubeconfig}");
    assert!(!text.contains("emulator-admin-token"), "no token printed");

    // Ctrl-C: the demo and everything it started stop.
    // SAFETY: kill only sends a signal to the child we started.
    unsafe { libc::kill(demo.id() as i32, libc::SIGINT) };
    let stopping = Instant::now();
    loop {
        if demo.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "the demo did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let node_dir = std::path::Path::new(kubeconfig)
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("cp-"))
        .map(|pid| format!("monday-node-{pid}"))
        .expect("the demo's run folder");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::path::Path::new("/sys/fs/cgroup/memory")
        .join(&node_dir)
        .exists()
        || std::path::Path::new("/sys/fs/cgroup")
            .join(&node_dir)
            .exists()
    {
        assert!(
            Instant::now() < deadline,
            "the demo's node cgroup {node_dir} outlived it"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
