//! `monday-operator sync` end to end: the binary against the emulator, its summary and exit
//! codes, the file it leaves, the token kept out of every byte it prints at trace level, and the
//! real `baton` CLI reading the result against the emulator's ground truth.

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use monday_emulator::{Config, Emulator, EmulatorHandle};

fn sync(emu: &EmulatorHandle, file: &Path, token: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_monday-operator"));
    cmd.args(["sync", "--api-url", &emu.url(), "--file"])
        .arg(file)
        .env("RUST_LOG", "trace");
    match token {
        Some(t) => cmd.env("BATON_MONDAY_API_KEY", t),
        None => cmd.env_remove("BATON_MONDAY_API_KEY"),
    };
    cmd.output().expect("run monday-operator sync")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sync_command_writes_a_snapshot_baton_reads_as_ground_truth() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sync.c1z");
    let token = emu.admin_token().to_string();

    let out = sync(&emu, &file, Some(&token));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "sync failed: {stderr}");
    let truth = emu.ground_truth();
    assert!(
        stdout.contains(&format!("grants {}", truth.grants.len())),
        "{stdout}"
    );
    assert!(stdout.contains("first sync in this file"), "{stdout}");
    assert!(
        stdout.contains("requests") && stdout.contains("complexity used"),
        "{stdout}"
    );
    assert!(
        !stderr.is_empty(),
        "trace logging is on, so stderr has log lines"
    );
    assert!(
        !stdout.contains(&token) && !stderr.contains(&token),
        "the token leaked into output"
    );

    // Change one relation in Monday, sync again: the summary and `baton diff` see it.
    let (board, user) = emu.with_tenant_mut(|t| {
        let b = t
            .boards
            .iter_mut()
            .find(|b| !b.subscribers.is_empty())
            .expect("a board with subscribers");
        let u = b.subscribers.remove(0);
        (b.id, u)
    });
    let removed = format!("board:{board}:subscriber:user:{user}");
    let out = sync(&emu, &file, Some(&token));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "second sync failed: {stderr}");
    assert!(stdout.contains("+0 / -1 grants"), "{stdout}");

    let bin = match support::baton::baton_bin() {
        Ok(b) => b,
        Err(why) => {
            support::baton::not_available(&why, "baton checks of the synced tenant");
            return;
        }
    };
    let f = file.to_str().expect("utf-8 path");
    let truth = emu.ground_truth();
    // Every grant, as baton lists them, equals ground truth.
    let grants = support::baton::json(&bin, &["grants", "-f", f, "-o", "json"]);
    let got: BTreeSet<&str> = support::baton::strings(&grants, &["grants", "grant", "id"]);
    let want: BTreeSet<&str> = truth.grants.iter().map(String::as_str).collect();
    assert_eq!(got, want, "baton grants differ from ground truth");
    // Resources.
    let resources = support::baton::json(&bin, &["resources", "-f", f, "-o", "json"]);
    let n = resources["resources"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(n, truth.resources.len(), "baton resources count");
    // One entitlement's grants.
    let ent = format!("board:{board}:subscriber");
    let one = support::baton::json(&bin, &["grants", "-f", f, "-e", &ent, "-o", "json"]);
    let got: BTreeSet<&str> = support::baton::strings(&one, &["grants", "grant", "id"]);
    let want: BTreeSet<&str> = truth
        .grants
        .iter()
        .filter(|g| g.starts_with(&format!("{ent}:")))
        .map(String::as_str)
        .collect();
    assert_eq!(got, want, "baton grants -e {ent}");
    // Access of the admin user lists their role.
    let admin = emu.admin_user_id().to_string();
    let access = support::baton::run(&bin, &["access", "-f", f, "-t", "user", "-r", &admin]);
    assert!(
        access.contains("role:admin:assigned") || access.to_lowercase().contains("admin"),
        "{access}"
    );
    // Stats and diff.
    let stats = support::baton::parse_stats(&support::baton::run(&bin, &["stats", "-f", f]));
    assert_eq!(
        stats.get("grants").copied(),
        Some(truth.grants.len() as u64),
        "{stats:?}"
    );
    let diff = support::baton::run(&bin, &["diff", "-f", f]);
    assert!(
        diff.contains(&removed),
        "baton diff must show {removed}: {diff}"
    );
}

#[test]
fn failures_exit_non_zero_with_one_line_and_leave_the_file() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sync.c1z");
    assert!(sync(&emu, &file, Some(emu.admin_token())).status.success());
    let before = std::fs::read(&file).expect("read");

    let out = sync(&emu, &file, Some("wrong-token-value"));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains("left unchanged"),
        "{last}"
    );
    assert!(
        last.to_lowercase().contains("token"),
        "the error says what to fix: {last}"
    );
    assert!(
        !stderr.contains("wrong-token-value"),
        "token leaked: {stderr}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), before);

    let out = sync(&emu, &file, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("BATON_MONDAY_API_KEY"),
        "says where the token comes from"
    );
    assert_eq!(std::fs::read(&file).expect("read"), before);
}

#[test]
fn an_unknown_resource_type_is_a_usage_error_that_lists_the_valid_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sync.c1z");
    let out = Command::new(env!("CARGO_BIN_EXE_monday-operator"))
        .args([
            "sync",
            "--api-url",
            "http://127.0.0.1:9",
            "--resource-types",
            "boards",
            "--file",
        ])
        .arg(&file)
        .env("BATON_MONDAY_API_KEY", "tok")
        .output()
        .expect("run");
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "usage error: {err}");
    assert!(err.contains("boards"), "{err}");
    assert!(
        err.contains("possible values: user, role, team, workspace, board"),
        "{err}"
    );
    assert!(!file.exists(), "nothing synced");
}
