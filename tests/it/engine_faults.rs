//! Every fault class the emulator can inject, against a full sync: the sync either survives with
//! data identical to ground truth, or fails with a typed, actionable error and the previous
//! snapshot left byte for byte as it was.

use std::path::Path;
use std::time::Duration;

use monday_emulator::{
    Config, Emulator, EmulatorHandle, Faults, RateLimitCode, RateLimitFault, RevokeToken,
};
use monday_operator::baton::C1zReader;
use monday_operator::engine::{Connection, SyncError, SyncOptions, sync_to_file};
use secrecy::SecretString;

fn conn(emu: &EmulatorHandle, token: &str) -> Connection {
    Connection {
        api_url: emu.url(),
        token: SecretString::from(token.to_string()),
    }
}

fn grants_of(path: &Path) -> Vec<String> {
    let reader = C1zReader::open(path).expect("open c1z");
    let run = reader
        .latest_finished_sync()
        .expect("runs")
        .expect("finished sync");
    let mut g = reader.grant_ids(&run.sync_id).expect("grants");
    g.sort();
    g
}

/// A good first snapshot, then the fault, then a second sync: returns its result and checks
/// the file is either the truth or untouched.
async fn with_fault(faults: Faults) -> Result<(), SyncError> {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sync.c1z");
    let c = conn(&emu, emu.admin_token());
    sync_to_file(&c, &path, &SyncOptions::default())
        .await
        .expect("first sync");
    let before = std::fs::read(&path).expect("read");

    emu.set_faults(faults);
    let result = sync_to_file(&c, &path, &SyncOptions::default()).await;
    match &result {
        Ok(_) => assert_eq!(
            grants_of(&path),
            emu.ground_truth().grants,
            "survived with correct data"
        ),
        Err(_) => assert_eq!(
            std::fs::read(&path).expect("read"),
            before,
            "previous snapshot intact"
        ),
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "sync.c1z")
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
    result.map(|_| ())
}

#[tokio::test]
async fn transient_server_errors_are_retried() {
    with_fault(Faults {
        server_errors: 3,
        ..Default::default()
    })
    .await
    .expect("survives 5xx");
}

#[tokio::test]
async fn connection_resets_are_retried() {
    with_fault(Faults {
        connection_resets: 2,
        ..Default::default()
    })
    .await
    .expect("survives resets");
}

#[tokio::test]
async fn malformed_json_is_retried() {
    with_fault(Faults {
        malformed_json: 2,
        ..Default::default()
    })
    .await
    .expect("survives bad JSON");
}

#[tokio::test]
async fn partial_graphql_errors_never_yield_partial_data() {
    // Either the client retries the errored request, or the sync fails; never silent half data.
    let _ = with_fault(Faults {
        partial_errors: 1,
        ..Default::default()
    })
    .await;
}

#[tokio::test]
async fn added_latency_is_survived() {
    with_fault(Faults {
        latency_ms: 50,
        ..Default::default()
    })
    .await
    .expect("survives latency");
}

#[tokio::test]
async fn each_retryable_429_is_honoured() {
    for code in [
        RateLimitCode::ComplexityBudgetExhausted,
        RateLimitCode::MinuteRateLimitExceeded,
        RateLimitCode::MaxConcurrencyExceeded,
        RateLimitCode::IpRateLimitExceeded,
    ] {
        let started = std::time::Instant::now();
        with_fault(Faults {
            rate_limit: Some(RateLimitFault {
                code,
                count: 2,
                retry_in_seconds: 1,
            }),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{code:?} must be waited out, got {e}"));
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{code:?}: retry_in_seconds was not honoured"
        );
    }
}

#[tokio::test]
async fn daily_limit_ends_the_sync_cleanly() {
    let err = with_fault(Faults {
        rate_limit: Some(RateLimitFault {
            code: RateLimitCode::DailyLimitExceeded,
            count: 100,
            retry_in_seconds: 3600,
        }),
        ..Default::default()
    })
    .await
    .expect_err("daily limit is not retried");
    assert_eq!(err.reason(), "DailyLimitExceeded", "{err}");
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn token_revoked_mid_sync_fails_with_invalid_token() {
    let err = with_fault(Faults {
        revoke_token: Some(RevokeToken {
            token: None,
            after_requests: 3,
        }),
        ..Default::default()
    })
    .await
    .expect_err("revoked token fails");
    assert_eq!(err.reason(), "InvalidToken", "{err}");
}

#[tokio::test]
async fn bad_token_and_non_admin_are_typed_errors() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sync.c1z");
    let err = sync_to_file(&conn(&emu, "not-a-token"), &path, &SyncOptions::default())
        .await
        .expect_err("bad token");
    assert_eq!(err.reason(), "InvalidToken", "{err}");
    assert!(!path.exists(), "no file is created by a failed first sync");

    // A token limited to some OAuth scopes names the missing one.
    emu.add_token(
        "scoped-token",
        emu.admin_user_id(),
        Some(vec!["me:read".into(), "account:read".into()]),
    );
    let err = sync_to_file(&conn(&emu, "scoped-token"), &path, &SyncOptions::default())
        .await
        .expect_err("missing scopes");
    assert_eq!(err.reason(), "MissingScope", "{err}");
    assert!(
        err.to_string().contains(":read"),
        "the message names the scope: {err}"
    );
}
