//! Transport, retry, pacing and paging tests against a narrow local HTTP stub.
//!
//! The stub answers from a closure over (request number, JSON body), so each test scripts exactly
//! the responses it needs. Full behaviour is proven against the emulator elsewhere.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::*;

const TOKEN: &str = "tok-SECRET-4242";

type Handler = dyn Fn(usize, &Value) -> (u16, Vec<(&'static str, String)>, String) + Send + Sync;

#[derive(Clone)]
struct Stub {
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    handler: Arc<Handler>,
}

async fn serve(stub: Stub) -> String {
    let app = axum::Router::new().route(
        "/v2",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let stub = stub.clone();
            async move {
                let n = stub.calls.fetch_add(1, Ordering::SeqCst);
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                stub.seen.lock().unwrap().push((headers, json.clone()));
                let (status, headers, body) = (stub.handler)(n, &json);
                if json["variables"]["sleep_ms"].as_u64().is_some() {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                }
                let mut resp: Response =
                    (StatusCode::from_u16(status).unwrap(), body).into_response();
                for (k, v) in headers {
                    resp.headers_mut().insert(k, v.parse().unwrap());
                }
                resp
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/v2")
}

fn complexity(after: i64, query: i64, reset: i64) -> Value {
    json!({"before": after + query, "after": after, "query": query, "reset_in_x_seconds": reset})
}

fn ok(data: Value) -> (u16, Vec<(&'static str, String)>, String) {
    let mut data = data;
    data["complexity"] = complexity(9_000_000, 100, 60);
    (
        200,
        vec![],
        json!({"data": data, "extensions": {"request_id": "r"}}).to_string(),
    )
}

fn quick_config(url: String) -> ClientConfig {
    ClientConfig {
        api_url: url,
        request_timeout: Duration::from_millis(250),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            max_throttle_wait: Duration::from_secs(5),
            default_throttle_wait: Duration::from_millis(200),
        },
        ..ClientConfig::default()
    }
}

async fn client_with(
    config: impl FnOnce(ClientConfig) -> ClientConfig,
    handler: impl Fn(usize, &Value) -> (u16, Vec<(&'static str, String)>, String)
    + Send
    + Sync
    + 'static,
) -> (Client, Stub) {
    let stub = Stub {
        calls: Arc::new(AtomicUsize::new(0)),
        seen: Arc::new(Mutex::new(Vec::new())),
        handler: Arc::new(handler),
    };
    let url = serve(stub.clone()).await;
    let client = Client::new(
        config(quick_config(url)),
        SecretString::from(format!("  {TOKEN}\n")),
    )
    .unwrap();
    (client, stub)
}

fn account_data() -> Value {
    json!({"me": {"id": 1, "name": "A", "email": "a@x", "kind": "admin", "status": "ACTIVE"},
           "account": {"id": "9", "name": "Acme", "slug": "acme", "tier": "enterprise", "plan": {"tier": "enterprise"}}})
}

fn assert_no_token(text: &str) {
    assert!(!text.contains(TOKEN), "token leaked: {text}");
    assert!(!text.contains("SECRET"), "token leaked: {text}");
}

#[tokio::test]
async fn sends_the_documented_headers_and_body() {
    let (client, stub) = client_with(|c| c, |_, _| ok(account_data())).await;
    let info = client.account().await.unwrap();
    assert_eq!(info.account.slug, "acme");
    assert_eq!(info.me.id, Id::from("1"));
    let seen = stub.seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(
        headers["authorization"], TOKEN,
        "raw token, trimmed, no Bearer"
    );
    assert_eq!(headers["api-version"], API_VERSION);
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        headers
            .get("accept-encoding")
            .is_some_and(|v| v.to_str().unwrap().contains("gzip"))
    );
    assert!(body["variables"].is_object(), "variables must be an object");
    assert_eq!(body["query"], queries::ACCOUNT);
    let stats = client.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.requests_by_outcome.get("ok"), Some(&1));
    assert_eq!(stats.complexity_used, 100);
    assert_eq!(stats.budget_remaining, Some(9_000_000));
}

#[tokio::test]
async fn server_errors_and_malformed_bodies_are_retried() {
    let (client, _stub) = client_with(
        |c| c,
        |n, _| match n {
            0 => (503, vec![], "<html>unavailable</html>".into()),
            1 => (200, vec![], "{\"data\": {\"me\"".into()),
            _ => ok(account_data()),
        },
    )
    .await;
    client.account().await.unwrap();
    let stats = client.stats();
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.requests_by_outcome.get("http_503"), Some(&1));
    assert_eq!(stats.requests_by_outcome.get("malformed"), Some(&1));
}

#[tokio::test]
async fn retry_budget_runs_out_with_a_typed_error() {
    let (client, stub) = client_with(|c| c, |_, _| (500, vec![], "{}".into())).await;
    let err = client.account().await.unwrap_err();
    assert!(
        matches!(
            err,
            MondayError::Server {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reason(), "ServerError");
    assert!(err.is_transient());
    assert_eq!(stub.calls.load(Ordering::SeqCst), 3);
    assert_no_token(&err.to_string());
}

#[tokio::test]
async fn throttling_waits_for_retry_in_seconds_then_succeeds() {
    let (client, _stub) = client_with(
        |c| c,
        |n, _| match n {
            0 => (
                429,
                vec![("retry-after", "5".to_string())],
                json!({"errors": [{"message": "Complexity budget exhausted",
                    "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": 1}}]})
                .to_string(),
            ),
            1 => (
                429,
                vec![("retry-after", "0.3".to_string())],
                json!({"errors": [{"message": "Too many concurrent requests", "extensions": {"code": "MAX_CONCURRENCY_EXCEEDED"}}]})
                    .to_string(),
            ),
            _ => ok(account_data()),
        },
    )
    .await;
    let start = Instant::now();
    client.account().await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(1300),
        "{:?}",
        start.elapsed()
    );
    let stats = client.stats();
    assert_eq!(stats.http_429, 2);
    assert!(stats.throttle_wait_seconds >= 1.3);
    assert!(stats.rate_limit_wait_seconds >= 1.0);
    assert_eq!(
        stats.requests_by_outcome.get("COMPLEXITY_BUDGET_EXHAUSTED"),
        Some(&1)
    );
    assert_eq!(
        stats.requests_by_outcome.get("MAX_CONCURRENCY_EXCEEDED"),
        Some(&1)
    );
}

#[tokio::test]
async fn throttling_past_the_budget_surfaces_rate_limited() {
    let (client, _stub) = client_with(
        |c| ClientConfig {
            retry: RetryPolicy {
                max_throttle_wait: Duration::from_millis(500),
                ..c.retry.clone()
            },
            ..c
        },
        |_, _| {
            (
                429,
                vec![],
                json!({"errors": [{"message": "Minute rate limit exceeded",
                    "extensions": {"code": "MINUTE_RATE_LIMIT_EXCEEDED", "retry_in_seconds": 0.3}}]})
                .to_string(),
            )
        },
    )
    .await;
    let err = client.account().await.unwrap_err();
    match &err {
        MondayError::RateLimited { code, .. } => assert_eq!(code, "MINUTE_RATE_LIMIT_EXCEEDED"),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.reason(), "RateLimited");
}

#[tokio::test]
async fn daily_limit_stops_without_retrying() {
    let (client, stub) = client_with(
        |c| c,
        |_, _| {
            (
                429,
                vec![],
                json!({"errors": [{"message": "Daily limit exceeded",
                    "extensions": {"code": "DAILY_LIMIT_EXCEEDED", "retry_in_seconds": 3600}}]})
                .to_string(),
            )
        },
    )
    .await;
    let err = client.account().await.unwrap_err();
    assert!(
        matches!(err, MondayError::DailyLimitExceeded { .. }),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalid_token_is_not_retried_and_never_echoed() {
    let (client, stub) = client_with(
        |c| c,
        |_, _| (401, vec![], "{\"errors\":[\"Not Authenticated\"]}".into()),
    )
    .await;
    let err = client.account().await.unwrap_err();
    assert!(matches!(err, MondayError::InvalidToken { .. }));
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
    assert_no_token(&err.to_string());
    assert_no_token(&format!("{err:?}"));
}

#[tokio::test]
async fn debug_and_every_error_display_omit_the_token() {
    let (client, _stub) = client_with(
        |c| c,
        |n, _| {
            let body = |code: &str| json!({"data": null, "errors": [{"message": "m", "extensions": {"code": code, "error_data": {"board_id": 5}}}]}).to_string();
            match n {
                0 => (401, vec![], String::new()),
                1 => (200, vec![], body("USER_UNAUTHORIZED")),
                2 => (200, vec![], body("missingRequiredPermissions")),
                3 => (200, vec![], body("USER_ACCESS_DENIED")),
                4 => (200, vec![], body("InvalidBoardIdException")),
                5 => (200, vec![], body("InvalidArgumentException")),
                6 => (422, vec![], body("RecordInvalidException")),
                7 => (429, vec![], body("DAILY_LIMIT_EXCEEDED")),
                8 => (200, vec![], body("undefinedField")),
                9 => (400, vec![], "nope".into()),
                _ => (500, vec![], String::new()),
            }
        },
    )
    .await;
    assert_no_token(&format!("{client:?}"));
    assert_no_token(&format!("{:?}", client.config()));
    let mut reasons = Vec::new();
    for _ in 0..11 {
        let err = client.account().await.unwrap_err();
        assert_no_token(&err.to_string());
        assert_no_token(&format!("{err:?}"));
        reasons.push(err.reason());
    }
    assert_eq!(
        reasons,
        [
            "InvalidToken",
            "InsufficientPermissions",
            "MissingScope",
            "AccessDenied",
            "NotFound",
            "InvalidArgument",
            "RecordInvalid",
            "DailyLimitExceeded",
            "ApiError",
            "ProtocolError",
            "ServerError"
        ]
    );
    // Connection-level failures too.
    let dead = Client::new(
        ClientConfig {
            api_url: "http://127.0.0.1:9/v2".into(),
            ..quick_config(String::new())
        },
        SecretString::from(TOKEN.to_string()),
    )
    .unwrap();
    let err = dead.account().await.unwrap_err();
    assert!(
        matches!(
            err,
            MondayError::Unreachable {
                cause: "connect",
                ..
            }
        ),
        "{err:?}"
    );
    assert_no_token(&err.to_string());
}

#[tokio::test]
async fn timeouts_are_retried_then_reported_unreachable() {
    let (client, stub) = client_with(|c| c, |_, _| ok(json!({"activated_users": []}))).await;
    // The stub sleeps past the 250 ms timeout when it sees `sleep_ms`; smuggle it in through a
    // raw call with the Users document (unknown variables are ignored by the stub).
    let err = client
        .execute(
            &client::OP_USERS,
            json!({"limit": 1, "page": 1, "status": ["ACTIVE"], "sleep_ms": 1}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MondayError::Unreachable {
                cause: "timeout",
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(stub.calls.load(Ordering::SeqCst), 3);
    assert_eq!(client.stats().requests_by_outcome.get("timeout"), Some(&3));
}

#[tokio::test]
async fn pacing_waits_for_the_window_instead_of_overrunning_it() {
    let (client, _stub) = client_with(
        |c| c,
        |n, _| {
            // First answer: only 50 points left for 1 s; the same document costs 100.
            let c = if n == 0 {
                complexity(50, 100, 1)
            } else {
                complexity(9_000, 100, 60)
            };
            let mut data = account_data();
            data["complexity"] = c;
            (200, vec![], json!({"data": data}).to_string())
        },
    )
    .await;
    client.account().await.unwrap();
    let start = Instant::now();
    client.account().await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    let stats = client.stats();
    assert!(stats.rate_limit_wait_seconds >= 0.9);
    assert_eq!(stats.http_429, 0);
}

fn user(id: u64, status: &str) -> Value {
    json!({"id": id.to_string(), "name": format!("u{id}"), "email": format!("u{id}@x"), "kind": "member",
           "status": status, "title": "", "url": "", "created_at": "2026-01-01T00:00:00Z",
           "became_active_at": null, "last_activity": null, "is_email_confirmed": true, "is_deleted": false})
}

#[tokio::test]
async fn all_users_reads_both_passes_until_a_short_page() {
    let (client, stub) = client_with(
        |c| ClientConfig {
            pages: PageSizes {
                users: 2,
                ..c.pages.clone()
            },
            ..c
        },
        |_, body| {
            let v = &body["variables"];
            let page = v["page"].as_u64().unwrap();
            let inactive = v["status"][0] == "INACTIVE";
            let users: Vec<Value> = if inactive {
                if page == 1 {
                    vec![user(100, "INACTIVE")]
                } else {
                    vec![]
                }
            } else {
                // 5 live users: pages of 2, 2, 1.
                (1..=5u64)
                    .filter(|i| (i - 1) / 2 + 1 == page)
                    .map(|i| user(i, if i == 5 { "PENDING" } else { "ACTIVE" }))
                    .collect()
            };
            assert_eq!(v["limit"], 2);
            ok(json!({ "users": users }))
        },
    )
    .await;
    let users = client.all_users().await.unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "100"]);
    assert_eq!(users[5].status, UserStatus::Inactive);
    // Window of 2: live pages 1–4 (3 is short), inactive pages 1–2.
    assert!(stub.calls.load(Ordering::SeqCst) <= 6);
}

#[tokio::test]
async fn all_teams_pages_members_in_batches() {
    let members = |team: &str| -> Vec<u64> {
        match team {
            "1" => (1..=5).collect(),
            "2" => vec![7],
            _ => vec![],
        }
    };
    let (client, _stub) = client_with(
        |c| ClientConfig {
            pages: PageSizes {
                team_members: 2,
                id_batch: 2,
                ..c.pages.clone()
            },
            ..c
        },
        move |_, body| {
            let v = &body["variables"];
            if body["query"].as_str().unwrap().starts_with("query Teams ") {
                return ok(json!({"teams": [
                    {"id": "1", "name": "T1", "is_guest": false, "owners": [{"id": "1"}]},
                    {"id": 2, "name": "T2", "is_guest": true, "owners": []},
                    {"id": "3", "name": "T3", "is_guest": null, "owners": null}]}));
            }
            let page = v["page"].as_u64().unwrap() as usize;
            let teams: Vec<Value> = v["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| {
                    let id = id.as_str().unwrap();
                    let users: Vec<Value> = members(id)
                        .into_iter()
                        .skip((page - 1) * 2)
                        .take(2)
                        .map(|u| json!({"id": u.to_string()}))
                        .collect();
                    json!({"id": id, "users": users})
                })
                .collect();
            ok(json!({ "teams": teams }))
        },
    )
    .await;
    let teams = client.all_teams().await.unwrap();
    let t1 = teams.iter().find(|t| t.id.as_str() == "1").unwrap();
    assert_eq!(t1.members.len(), 5);
    assert_eq!(t1.owners, vec![Id::from("1")]);
    let t2 = teams.iter().find(|t| t.id.as_str() == "2").unwrap();
    assert_eq!(t2.members, vec![Id::from("7")]);
    assert!(
        teams
            .iter()
            .find(|t| t.id.as_str() == "3")
            .unwrap()
            .members
            .is_empty()
    );
}

#[tokio::test]
async fn all_boards_skips_documents_and_completes_team_lists() {
    let (client, stub) = client_with(
        |c| ClientConfig {
            pages: PageSizes {
                boards: 10,
                board_team_subscribers_first: 2,
                nested_follow_up: 3,
                ..c.pages.clone()
            },
            ..c
        },
        |_, body| {
            let q = body["query"].as_str().unwrap();
            let v = &body["variables"];
            if q.starts_with("query Boards(") {
                assert_eq!(v["team_subscribers"], 2);
                assert_eq!(v["team_owners"], 2);
                return ok(json!({"boards": [
                    {"id": "10", "name": "main", "board_kind": "share", "state": "active", "type": "board",
                     "workspace_id": null, "permissions": "everyone", "owners": [{"id": "1"}], "subscribers": [{"id": "1"}, {"id": "2"}],
                     "team_owners": [], "team_subscribers": [{"id": "-1"}, {"id": "4"}]},
                    {"id": "11", "name": "doc", "board_kind": "public", "state": "active", "type": "document",
                     "workspace_id": "5", "permissions": "everyone", "owners": [], "subscribers": [], "team_owners": [], "team_subscribers": []},
                    {"id": "12", "name": "sub", "board_kind": "public", "state": "active", "type": "sub_items_board",
                     "workspace_id": "5", "permissions": "everyone", "owners": [], "subscribers": [], "team_owners": [], "team_subscribers": []}]}));
            }
            assert!(q.starts_with("query BoardTeamSubscribersPage("), "{q}");
            assert_eq!(v["ids"], json!(["10"]));
            assert_eq!(v["count"], 1);
            let all = ["-1", "4", "5", "6"];
            let page = v["page"].as_u64().unwrap() as usize;
            let teams: Vec<Value> = all.iter().skip((page - 1) * 3).take(3).map(|t| json!({"id": t})).collect();
            ok(json!({"boards": [{"id": "10", "team_subscribers": teams}]}))
        },
    )
    .await;
    let boards = client.all_boards().await.unwrap();
    assert_eq!(boards.len(), 1);
    assert_eq!(boards[0].workspace_id, None);
    let teams: Vec<&str> = boards[0].team_subscribers.iter().map(Id::as_str).collect();
    assert_eq!(teams, ["-1", "4", "5", "6"]);
    // 1 board page + 2 follow-up pages (3 full, then 1).
    assert_eq!(stub.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn all_workspaces_follows_full_lists_only() {
    let (client, stub) = client_with(
        |c| ClientConfig {
            pages: PageSizes {
                nested_first: 2,
                nested_follow_up: 10,
                ..c.pages.clone()
            },
            ..c
        },
        |_, body| {
            let q = body["query"].as_str().unwrap();
            if q.starts_with("query Workspaces(") {
                return ok(json!({"workspaces": [
                    {"id": "5", "name": "W", "kind": "open", "state": "active", "description": null, "is_default_workspace": false,
                     "owners_subscribers": [{"id": "1"}], "users_subscribers": [{"id": "1"}, {"id": "2"}],
                     "team_owners_subscribers": null, "teams_subscribers": []}]}));
            }
            assert!(q.starts_with("query WorkspaceUsersPage("), "{q}");
            ok(json!({"workspaces": [{"id": "5", "users_subscribers": [{"id": "1"}, {"id": "2"}, {"id": "3"}]}]}))
        },
    )
    .await;
    let ws = client.all_workspaces().await.unwrap();
    assert_eq!(ws[0].users_subscribers.len(), 3);
    assert_eq!(ws[0].owners_subscribers, vec![Id::from("1")]);
    assert_eq!(stub.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn partial_data_with_errors_fails_the_read() {
    let (client, _stub) = client_with(
        |c| c,
        |_, _| {
            (
                200,
                vec![],
                json!({"data": {"teams": [{"id": "1", "name": "T", "owners": null}], "complexity": complexity(100, 1, 60)},
                       "errors": [{"message": "m", "path": ["teams", 0, "owners"], "extensions": {"code": "missingRequiredPermissions"}}]})
                .to_string(),
            )
        },
    )
    .await;
    match client.all_teams().await.unwrap_err() {
        MondayError::MissingScope { scope, operation } => {
            assert_eq!(operation, "Teams");
            assert_eq!(scope, "teams:read");
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn bulk_mutations_return_per_user_errors_and_split_at_200() {
    let (client, stub) = client_with(
        |c| c,
        |_, body| {
            let ids = body["variables"]["user_ids"].as_array().unwrap().clone();
            assert!(ids.len() <= 200);
            let ok_ids: Vec<Value> = ids.iter().filter(|i| *i != "1").map(|i| json!({"id": i})).collect();
            let errors: Vec<Value> = ids
                .iter()
                .filter(|i| *i == "1")
                .map(|_| json!({"code": "CANNOT_UPDATE_SELF", "message": "cannot deactivate yourself", "user_id": 1}))
                .collect();
            ok(json!({"deactivate_users": {"deactivated_users": ok_ids, "errors": errors}}))
        },
    )
    .await;
    let ids: Vec<Id> = (1..=250i64).map(Id::from).collect();
    let r = client.deactivate_users(&ids).await.unwrap();
    assert_eq!(stub.calls.load(Ordering::SeqCst), 2);
    assert_eq!(r.users.len(), 249);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].code, "CANNOT_UPDATE_SELF");
    assert_eq!(r.errors[0].user_id.as_deref(), Some("1"));
    let err = r.into_result("DeactivateUsers").unwrap_err();
    assert_eq!(err.reason(), "UserError");
}

#[tokio::test]
async fn membership_mutations_send_typed_variables() {
    let (client, stub) = client_with(
        |c| c,
        |_, body| {
            let q = body["query"].as_str().unwrap();
            if q.starts_with("mutation AddUsersToBoard(") {
                ok(json!({"add_users_to_board": [{"id": "1"}, {"id": 2}]}))
            } else if q.starts_with("mutation InviteUsers(") {
                ok(json!({"invite_users": {"invited_users": [user(9, "PENDING")],
                    "errors": [{"code": "ERROR", "message": "already a member", "email": "b@x"}]}}))
            } else {
                ok(json!({"add_users_to_team": {"successful_users": [{"id": "1"}], "failed_users": [{"id": "2"}]}}))
            }
        },
    )
    .await;
    let added = client
        .add_users_to_board(
            &Id::from("10"),
            &[Id::from("1"), Id::from("2")],
            SubscriberKind::Owner,
        )
        .await
        .unwrap();
    assert_eq!(added, vec![Id::from("1"), Id::from("2")]);
    let invited = client
        .invite_users(
            &["a@x".to_string(), "b@x".to_string()],
            Some(Role::Guest),
            None,
        )
        .await
        .unwrap();
    assert_eq!(invited.invited[0].status, UserStatus::Pending);
    assert_eq!(invited.errors[0].email.as_deref(), Some("b@x"));
    let team = client
        .add_users_to_team(&Id::from("3"), &[Id::from("1"), Id::from("2")])
        .await
        .unwrap();
    assert_eq!(team.failed, vec![Id::from("2")]);
    let seen = stub.seen.lock().unwrap();
    assert_eq!(
        seen[0].1["variables"],
        json!({"board_id": "10", "user_ids": ["1", "2"], "kind": "owner"})
    );
    assert_eq!(seen[1].1["variables"]["user_role"], "GUEST");
    assert_eq!(seen[1].1["variables"]["product"], Value::Null);
}

#[tokio::test]
async fn invite_is_not_resent_after_a_server_error() {
    let (client, stub) = client_with(|c| c, |_, _| (502, vec![], String::new())).await;
    let err = client
        .invite_users(&["a@x".to_string()], None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, MondayError::Server { status: 502, .. }));
    assert_eq!(stub.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn bad_configuration_is_rejected_without_echoing_the_token() {
    for (url, token) in [
        ("not a url", TOKEN),
        ("ftp://x/v2", TOKEN),
        ("http://x/v2", "  "),
        ("http://x/v2", "a\nb"),
    ] {
        let err = Client::new(
            ClientConfig {
                api_url: url.into(),
                ..ClientConfig::default()
            },
            SecretString::from(token.to_string()),
        )
        .unwrap_err();
        assert_eq!(err.reason(), "InvalidConfiguration");
        assert_no_token(&err.to_string());
    }
}
