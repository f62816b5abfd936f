//! Fault injection and stats.

use std::time::{Duration, Instant};

use monday_emulator::{Config, Emulator, Faults, RevokeToken};
use serde_json::json;

use crate::common::Api;

#[tokio::test]
async fn latency_5xx_resets_and_malformed_json() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);

    emu.set_faults(Faults {
        latency_ms: 200,
        ..Default::default()
    });
    let t0 = Instant::now();
    api.data("{ me { id } }", json!({})).await;
    assert!(t0.elapsed() >= Duration::from_millis(200));
    emu.clear_faults();

    emu.update_faults(|f| {
        f.server_errors = 2;
        f.server_error_status = Some(503);
    });
    for _ in 0..2 {
        assert_eq!(api.post("{ me { id } }", json!({})).await.status, 503);
    }
    api.data("{ me { id } }", json!({})).await;

    emu.update_faults(|f| f.connection_resets = 1);
    let err = api.send(json!({ "query": "{ me { id } }" })).await;
    assert!(err.is_err(), "connection should have been reset");
    api.data("{ me { id } }", json!({})).await;

    emu.update_faults(|f| f.malformed_json = 1);
    let r = api.post("{ me { id } }", json!({})).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&r.text).is_err());
    api.data("{ me { id } }", json!({})).await;

    let s = emu.stats();
    assert_eq!(s.faults["server_error"], 2);
    assert_eq!(s.faults["reset"], 1);
    assert_eq!(s.faults["malformed_json"], 1);
    assert_eq!(s.status[&503], 2);
}

#[tokio::test]
async fn partial_errors_null_one_field() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    emu.update_faults(|f| f.partial_errors = 1);
    let r = api
        .post("{ me { id } users(limit: 2) { id } }", json!({}))
        .await;
    assert_eq!(r.status, 200);
    let data = &r.body["data"];
    let nulls = ["me", "users"]
        .iter()
        .filter(|k| data[**k].is_null())
        .count();
    assert_eq!(nulls, 1, "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["extensions"]["code"],
        "INTERNAL_SERVER_ERROR"
    );
    assert_eq!(r.body["errors"][0]["path"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn token_revoked_mid_sync() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    emu.set_faults(Faults {
        revoke_token: Some(RevokeToken {
            token: None,
            after_requests: 2,
        }),
        ..Default::default()
    });
    api.data("{ me { id } }", json!({})).await;
    api.data("{ me { id } }", json!({})).await;
    assert_eq!(api.post("{ me { id } }", json!({})).await.status, 401);
    // Other tokens still work.
    Api::member(&emu).data("{ me { id } }", json!({})).await;
}

#[tokio::test]
async fn control_endpoints_over_http() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let http = crate::common::http_client();
    let base = emu.base_url();
    let r = http
        .post(format!("{base}/_emulator/faults"))
        .body(r#"{"rate_limit": {"code": "MINUTE_RATE_LIMIT_EXCEEDED", "count": 1}, "server_errors": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let api = Api::admin(&emu);
    assert_eq!(api.post("{ me { id } }", json!({})).await.status, 500);
    let r = api.post("{ me { id } }", json!({})).await;
    assert_eq!(r.code(), Some("MINUTE_RATE_LIMIT_EXCEEDED"));
    assert_eq!(r.header("retry-after"), Some("1"));
    api.data("{ me { id } }", json!({})).await;

    let bad = http
        .post(format!("{base}/_emulator/faults"))
        .body(r#"{"nonsense": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let stats: serde_json::Value = http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["by_field"]["me"], 1);
    assert_eq!(stats["throttled"]["MINUTE_RATE_LIMIT_EXCEEDED"], 1);

    let truth: monday_emulator::GroundTruth = http
        .get(format!("{base}/_emulator/ground-truth"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(truth, emu.ground_truth());
    let del = http
        .delete(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    assert_eq!(emu.stats().requests, 0);
}
