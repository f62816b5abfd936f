//! The test control plane never outlives its test binary, even when a test panics: the children
//! are spawned with `PR_SET_PDEATHSIG`, so the kernel kills them when the binary exits.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PIDFILE_ENV: &str = "MONDAY_CLEANUP_PIDFILE";

/// Runs only as the child of the test below: starts the control plane, records its pids, panics.
#[test]
#[ignore = "run by children_die_with_a_panicking_test_binary"]
fn panicking_child() {
    let Ok(pidfile) = std::env::var(PIDFILE_ENV) else {
        return;
    };
    let cp = support::control_plane();
    let pids: Vec<String> = cp.pids.iter().map(u32::to_string).collect();
    std::fs::write(&pidfile, pids.join("\n")).expect("write pidfile");
    panic!("deliberate panic with a running control plane");
}

#[test]
fn children_die_with_a_panicking_test_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pids");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "harness_cleanup::panicking_child",
            "--nocapture",
        ])
        .env(PIDFILE_ENV, &pidfile)
        .output()
        .expect("run child test binary");
    assert!(!out.status.success(), "the child test must panic");
    let pids: Vec<u32> = std::fs::read_to_string(&pidfile)
        .expect("child wrote its pids")
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "etcd and kube-apiserver pids");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "processes {pids:?} outlived the panicking test binary"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A pid is alive while /proc has it and it is not a zombie waiting to be reaped.
fn alive(pid: u32) -> bool {
    let stat = Path::new("/proc").join(pid.to_string()).join("stat");
    match std::fs::read_to_string(stat) {
        Ok(s) => !s
            .split(") ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}
