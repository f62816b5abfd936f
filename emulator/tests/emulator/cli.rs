//! The `monday-emulator` binary: one ready line with the URL and admin user, no token printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;

#[tokio::test]
async fn binary_prints_one_ready_line_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_monday-emulator"))
        .args([
            "--tenant",
            "edge",
            "--listen",
            "127.0.0.1:0",
            "--token",
            "cli-secret-token",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("url="))
        .expect("url= in the ready line")
        .to_string();
    assert!(line.contains("admin_user_id=101"), "{line}");
    assert!(!line.contains("cli-secret-token"));
    let r = crate::common::http_client()
        .post(&url)
        .header("Authorization", "cli-secret-token")
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], "101");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn binary_dumps_schema_and_ground_truth() {
    let out = Command::new(env!("CARGO_BIN_EXE_monday-emulator"))
        .arg("--print-schema")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("type Board {"));
    let out = Command::new(env!("CARGO_BIN_EXE_monday-emulator"))
        .args(["--tenant", "edge", "--ground-truth"])
        .output()
        .unwrap();
    let truth: monday_emulator::GroundTruth = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        truth,
        monday_emulator::ground_truth(&monday_emulator::generate::edge())
    );
}
