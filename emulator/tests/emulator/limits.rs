//! Complexity accounting and every 429 code.

use std::time::Duration;

use monday_emulator::{Config, Emulator, Faults, Limits, RateLimitCode, RateLimitFault};
use serde_json::json;

use crate::common::Api;

fn tiny(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::unlimited();
    f(&mut l);
    l
}

#[tokio::test]
async fn complexity_field_reflects_the_budget() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let q = "{ complexity { before after query reset_in_x_seconds } users(limit: 10) { id name } }";
    let d1 = api.data(q, json!({})).await;
    let c1 = &d1["complexity"];
    // Cost model: 1 + 10 × (10 + id + name) = 121; `complexity` itself is free.
    assert_eq!(c1["query"], 121);
    assert_eq!(c1["before"], 10_000_000);
    assert_eq!(c1["after"], 10_000_000 - 121);
    assert!(c1["reset_in_x_seconds"].as_i64().unwrap() <= 60);
    let d2 = api.data(q, json!({})).await;
    assert_eq!(d2["complexity"]["before"], c1["after"]);

    // Nested lists multiply by their page size.
    let d = api
        .data("{ complexity { query } boards(limit: 4) { id team_subscribers(limit: 10) { id } owners { id } } }", json!({}))
        .await;
    // 1 + 4 × (10 + id 1 + team_subscribers (1 + 10×(10+1)) + owners (1 + 50×(10+1)))
    //   = 1 + 4 × 673 = 2693
    assert_eq!(d["complexity"]["query"], 2693);
    // Mutations: 10 + ids × selection.
    let d = api
        .data("mutation { complexity { query } add_users_to_board(board_id: 402, user_ids: [103, 105]) { id } }", json!({}))
        .await;
    assert_eq!(d["complexity"]["query"], 12);
    assert_eq!(emu.stats().complexity_used, 121 + 121 + 2693 + 12);
}

#[tokio::test]
async fn budget_exhaustion_is_a_429_and_resets_with_the_window() {
    let limits = tiny(|l| {
        l.complexity_per_minute = 300;
        l.window_ms = 1_000;
    });
    let emu = Emulator::start(Config::edge().limits(limits)).unwrap();
    let api = Api::admin(&emu);
    let q = "{ users(limit: 10) { id name } }";
    api.data(q, json!({})).await;
    api.data(q, json!({})).await;
    let r = api.post(q, json!({})).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.code(), Some("COMPLEXITY_BUDGET_EXHAUSTED"));
    let retry = r.body["errors"][0]["extensions"]["retry_in_seconds"]
        .as_u64()
        .unwrap();
    assert_eq!(retry, 1);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.body["extensions"]["request_id"].is_string());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    api.data(q, json!({})).await;
    let s = emu.stats();
    assert_eq!(s.throttled["COMPLEXITY_BUDGET_EXHAUSTED"], 1);
    assert_eq!(s.complexity_used, 363);
}

#[tokio::test]
async fn a_single_query_above_the_cap_is_refused() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    // 1 + 1000 × (10 + 1 + 1000 × 12) ≈ 12M: far above the 5M cap.
    let q = "{ a: users(limit: 1000) { teams { users(limit: 1000) { id name } } } b: users(limit: 1000) { teams { users(limit: 1000) { id name } } } c: users(limit: 1000) { teams { users(limit: 1000) { id name } } } }";
    let r = api.post(q, json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.code(), Some("maxComplexityExceeded"), "{}", r.text);
    assert!(r.body["data"].is_null());
    assert_eq!(emu.stats().complexity_used, 0);
}

#[tokio::test]
async fn minute_daily_and_ip_limits() {
    for (limits, code) in [
        (
            tiny(|l| l.requests_per_minute = 2),
            "MINUTE_RATE_LIMIT_EXCEEDED",
        ),
        (tiny(|l| l.daily_calls = 2), "DAILY_LIMIT_EXCEEDED"),
        (tiny(|l| l.ip_requests = 2), "IP_RATE_LIMIT_EXCEEDED"),
    ] {
        let emu = Emulator::start(Config::edge().limits(limits)).unwrap();
        let api = Api::admin(&emu);
        api.data("{ me { id } }", json!({})).await;
        api.data("{ me { id } }", json!({})).await;
        let r = api.post("{ me { id } }", json!({})).await;
        assert_eq!(r.status, 429, "{code}: {}", r.text);
        assert_eq!(r.code(), Some(code));
        let retry = r.body["errors"][0]["extensions"]["retry_in_seconds"]
            .as_u64()
            .unwrap();
        assert!((1..=86_400).contains(&retry), "{code}: {retry}");
        assert_eq!(r.header("retry-after"), Some(retry.to_string().as_str()));
        assert_eq!(emu.stats().throttled[code], 1);
    }
}

#[tokio::test]
async fn concurrency_limit() {
    let limits = tiny(|l| l.max_concurrency = 2);
    let emu = Emulator::start(
        Config::edge()
            .limits(limits)
            .latency(Duration::from_millis(300)),
    )
    .unwrap();
    let api = Api::admin(&emu);
    let replies = futures_join(&api, 5).await;
    let throttled: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(!throttled.is_empty());
    assert!(
        throttled
            .iter()
            .all(|r| r.code() == Some("MAX_CONCURRENCY_EXCEEDED"))
    );
    assert!(replies.iter().filter(|r| r.status == 200).count() >= 2);
    assert!(emu.stats().max_in_flight >= 3);
}

async fn futures_join(api: &Api, n: usize) -> Vec<crate::common::Reply> {
    join_all(
        (0..n)
            .map(|_| api.post("{ me { id } }", json!({})))
            .collect(),
    )
    .await
}

/// Minimal join_all (no extra dependency).
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("ready")).collect()
}

#[tokio::test]
async fn injected_429s_for_each_code() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let codes = [
        RateLimitCode::ComplexityBudgetExhausted,
        RateLimitCode::MinuteRateLimitExceeded,
        RateLimitCode::MaxConcurrencyExceeded,
        RateLimitCode::IpRateLimitExceeded,
        RateLimitCode::DailyLimitExceeded,
    ];
    for code in codes {
        emu.set_faults(Faults {
            rate_limit: Some(RateLimitFault {
                code,
                count: 2,
                retry_in_seconds: 7,
            }),
            ..Default::default()
        });
        for _ in 0..2 {
            let r = api.post("{ me { id } }", json!({})).await;
            assert_eq!(r.status, 429);
            assert_eq!(r.code(), Some(code.code()));
            assert_eq!(r.body["errors"][0]["extensions"]["retry_in_seconds"], 7);
            assert_eq!(r.header("retry-after"), Some("7"));
        }
        api.data("{ me { id } }", json!({})).await;
    }
    let s = emu.stats();
    assert_eq!(s.throttled_total, 10);
    assert_eq!(s.faults["rate_limit"], 10);
}

#[tokio::test]
async fn ratelimit_headers_are_sent() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let r = Api::admin(&emu).post("{ me { id } }", json!({})).await;
    assert!(
        r.header("ratelimit-policy")
            .unwrap()
            .contains("\"minuteRate\";q=5000")
    );
    assert!(
        r.header("ratelimit")
            .unwrap()
            .contains("\"minuteRate\";r=4999")
    );
}
