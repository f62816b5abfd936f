//! `monday-operator service` as the set-up guide's Deployment runs it: configured only by the
//! guide's environment variables (plus `BATON_C1_API_HOST` / `SSL_CERT_FILE` to reach the
//! double), it connects, syncs, uploads and provisions; SIGTERM ends it cleanly within 10 s, also
//! mid-sync; a broken environment exits 2 with the reason, refused credentials exit 1. At trace
//! level, neither its logs, nor anything the double received, nor its files contain the client
//! secret, its private key or the Monday token.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::service::*;
use conductorone_double::pb::baton::task::SyncFullTask;
use conductorone_double::{DoubleHandle, TaskBuilder};
use monday_emulator::{Config, Emulator, EmulatorHandle};

struct Proc {
    child: Option<Child>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Proc {
    /// SIGTERM, then the exit status, stderr and how long the exit took.
    fn terminate(mut self) -> (std::process::ExitStatus, String, Duration) {
        let mut child = self.child.take().expect("running");
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let t = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if t.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                panic!("did not exit within 15 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = t.elapsed();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, err, took)
    }
}

/// The guide's environment, pointed at the double and the emulator.
fn service_cmd(double: &DoubleHandle, emu: &EmulatorHandle, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_monday-operator"));
    cmd.arg("service")
        .arg("--api-url")
        .arg(emu.url())
        .arg("--data-dir")
        .arg(data_dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BATON_CLIENT_ID", &double.credentials().client_id)
        .env("BATON_CLIENT_SECRET", &double.credentials().client_secret)
        .env("BATON_MONDAY_API_KEY", emu.admin_token())
        .env("BATON_PROVISIONING", "true")
        .env("BATON_C1_API_HOST", double.host_override())
        .env("BATON_HOST_ID", "guide-deployment")
        .env("SSL_CERT_FILE", double.ca_file())
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn spawn(mut cmd: Command) -> Proc {
    Proc {
        child: Some(cmd.spawn().expect("spawn monday-operator service")),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, c1z files decompressed.
fn file_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let raw = std::fs::read(&p).expect("read file");
            let bytes = match raw.strip_prefix(b"C1ZF\0") {
                Some(z) => zstd::decode_all(z).expect("zstd"),
                None => raw,
            };
            out.push((p, bytes));
        }
    }
    out
}

#[tokio::test]
async fn the_guide_environment_connects_syncs_provisions_and_stops_on_sigterm_without_leaking_secrets()
 {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let dir = tempfile::tempdir().expect("tempdir");
    let proc = spawn(service_cmd(&double, &emu, dir.path()));

    let sync = double.push_task(TaskBuilder::sync_full(SyncFullTask {
        storage_engine: "sqlite".into(),
        ..Default::default()
    }));
    assert_success(&finished(&double, &sync, Duration::from_secs(60)).await);
    let before = truth_grants(&emu);
    let grant = double.push_task(TaskBuilder::grant("team:201:member", "user:107", Some(600)));
    assert_success(&finished(&double, &grant, Duration::from_secs(30)).await);
    let (added, removed) = diff(&before, &truth_grants(&emu));
    assert_eq!(
        (added, removed),
        (set(&["team:201:member:user:107"]), set(&[]))
    );
    let hello = &double.rpcs(conductorone_double::Method::Hello)[0];
    let conductorone_double::RpcMessage::Hello(h) = &hello.message else {
        panic!("hello")
    };
    assert_eq!(h.host_id, "guide-deployment", "BATON_HOST_ID is used");

    let access_tokens = double.issued_tokens();
    assert!(!access_tokens.is_empty());
    let (status, stderr, took) = proc.terminate();
    for t in &access_tokens {
        assert!(
            !stderr.contains(t.as_str()),
            "a ConductorOne access token in the logs"
        );
    }
    assert!(
        status.success(),
        "exit 0 on SIGTERM, got {status:?}\n{stderr}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(stderr.contains("TRACE"), "trace logging was on");

    let creds = double.credentials();
    let secrets = [
        ("client secret", creds.client_secret.as_bytes().to_vec()),
        ("private key d", creds.private_d.as_bytes().to_vec()),
        ("Monday token", emu.admin_token().as_bytes().to_vec()),
    ];
    let raw = double.raw_received();
    let uploads: Vec<u8> = double
        .uploads()
        .into_iter()
        .flat_map(|u| {
            let z = u.data[5..].to_vec();
            zstd::decode_all(z.as_slice()).expect("zstd")
        })
        .collect();
    let files = file_bytes(dir.path());
    assert!(!files.is_empty(), "the last upload is kept");
    for (what, s) in &secrets {
        assert!(!contains(stderr.as_bytes(), s), "{what} in the logs");
        assert!(!contains(&raw, s), "{what} sent to ConductorOne");
        assert!(!contains(&uploads, s), "{what} in an upload");
        for (p, bytes) in &files {
            assert!(!contains(bytes, s), "{what} in {}", p.display());
        }
    }
}

#[tokio::test]
async fn sigterm_mid_sync_exits_cleanly_within_ten_seconds() {
    let emu =
        Emulator::start(Config::edge().latency(Duration::from_millis(800))).expect("emulator");
    let double = quick_double();
    let dir = tempfile::tempdir().expect("tempdir");
    let proc = spawn(service_cmd(&double, &emu, dir.path()));
    let id = double.push_task(TaskBuilder::sync_full(SyncFullTask::default()));
    double
        .wait_for(Duration::from_secs(30), |d| {
            (d.heartbeats(&id) >= 1).then_some(())
        })
        .await
        .expect("the sync started");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, stderr, took) = proc.terminate();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(double.finished().is_empty(), "abandoned, as the SDK does");
    let left: Vec<_> = file_bytes(dir.path()).into_iter().map(|(p, _)| p).collect();
    assert!(left.is_empty(), "no half-written snapshot: {left:?}");
}

#[tokio::test]
async fn a_broken_environment_exits_2_and_refused_credentials_exit_1() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let double = quick_double();
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut cmd = service_cmd(&double, &emu, dir.path());
    cmd.env_remove("BATON_CLIENT_ID");
    let (code, err) = run(&mut cmd);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("BATON_CLIENT_ID is not set"), "{err}");
    let mut cmd = service_cmd(&double, &emu, dir.path());
    cmd.env("BATON_PROVISIONING", "yes");
    let (code, err) = run(&mut cmd);
    assert_eq!(code, Some(2));
    assert!(err.contains("BATON_PROVISIONING is \"yes\""), "{err}");
    let mut cmd = service_cmd(&double, &emu, dir.path());
    cmd.env(
        "BATON_CLIENT_SECRET",
        "secret-token:conductorone.com:v1:not-base64!",
    );
    let (code, err) = run(&mut cmd);
    assert_eq!(code, Some(2));
    assert!(err.contains("BATON_CLIENT_SECRET"), "{err}");
    assert!(
        double.token_requests().is_empty(),
        "nothing sent for a broken environment"
    );

    let other = double.credentials().with_other_key();
    let mut cmd = service_cmd(&double, &emu, dir.path());
    cmd.env("BATON_CLIENT_SECRET", &other.client_secret);
    let t = Instant::now();
    let (code, err) = run(&mut cmd);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("reason InvalidCredentials"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "no retry loop");
    assert_eq!(double.token_requests().len(), 1);
    assert!(!err.contains(&other.client_secret) && !err.contains(&other.private_d));
}
