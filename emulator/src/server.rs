//! HTTP layer: `POST /v2` with Monday's transport behaviour (auth, API-Version, limits, faults,
//! error envelope), the `/_emulator/*` control endpoints, and an accept loop that can reset a
//! connection on purpose.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value as Json_, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::faults::{Faults, take};
use crate::limits::RateLimitCode;
use crate::model::{UserKind, UserStatus};
use crate::schema::{Caller, CostOutcome, MondaySchema};
use crate::state::{InFlight, Shared, lock, read, write};

#[derive(Clone)]
pub(crate) struct App {
    pub shared: Arc<Shared>,
    pub schema: MondaySchema,
}

/// Per-connection data handed to handlers: the peer and a way to reset the connection.
#[derive(Clone)]
struct Conn {
    peer: SocketAddr,
    kill: Arc<Notify>,
}

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/v2", post(v2))
        .route("/_emulator/ground-truth", get(ground_truth))
        .route("/_emulator/stats", get(stats).delete(reset_stats))
        .route(
            "/_emulator/faults",
            get(get_faults).post(set_faults).delete(clear_faults),
        )
        .route("/_emulator/tenant", get(tenant))
        .route("/_emulator/health", get(|| async { "ok" }))
        .with_state(app)
}

/// Accepts connections until `shutdown` flips; each connection can be reset by its handler.
pub(crate) async fn serve(listener: TcpListener, router: Router, shutdown: watch::Receiver<bool>) {
    let mut stop = shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => return,
            acc = listener.accept() => match acc {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            // A duplicate of the socket lets us set SO_LINGER 0 (→ RST) after hyper owns it.
            let twin = stream
                .into_std()
                .and_then(|s| Ok((s.try_clone()?, s)))
                .and_then(|(twin, s)| Ok((twin, tokio::net::TcpStream::from_std(s)?)));
            let Ok((twin, stream)) = twin else { return };
            let kill = Arc::new(Notify::new());
            let conn = Conn {
                peer,
                kill: kill.clone(),
            };
            let svc =
                tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(conn.clone());
                    let r = router.clone();
                    async move { tower::ServiceExt::oneshot(r, req).await }
                });
            let svc = hyper_util::service::TowerToHyperService::new(svc);
            let io = hyper_util::rt::TokioIo::new(stream);
            let http = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(io, svc);
            tokio::select! {
                _ = http => {}
                _ = kill.notified() => {
                    let _ = socket2::SockRef::from(&twin).set_linger(Some(Duration::ZERO));
                }
                _ = stop.changed() => {}
            }
            drop(twin);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// /v2

/// A finished answer before headers are added.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

fn envelope(request_id: &str, errors: Json_) -> Vec<u8> {
    serde_json::to_vec(&json!({ "errors": errors, "extensions": { "request_id": request_id } }))
        .expect("json")
}

fn error_answer(
    status: StatusCode,
    request_id: &str,
    message: &str,
    code: &str,
    extra: Json_,
) -> Answer {
    let mut ext = json!({ "code": code, "status_code": status.as_u16() });
    if let (Some(e), Json_::Object(x)) = (ext.as_object_mut(), extra) {
        e.extend(x);
    }
    Answer {
        status,
        body: envelope(
            request_id,
            json!([{ "message": message, "extensions": ext }]),
        ),
        retry_after: None,
    }
}

fn throttled(shared: &Shared, request_id: &str, code: RateLimitCode, retry: u64) -> Answer {
    {
        let mut s = lock(&shared.stats);
        *s.throttled.entry(code.code().to_string()).or_default() += 1;
        s.throttled_total += 1;
    }
    let mut a = error_answer(
        StatusCode::TOO_MANY_REQUESTS,
        request_id,
        code.message(),
        code.code(),
        json!({ "retry_in_seconds": retry }),
    );
    a.retry_after = Some(retry);
    a
}

/// The token from `Authorization: <token>` or `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let v = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .unwrap_or(v)
        .trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// Resolves the `API-Version` header: `Ok(effective version)` or `Err(())` when malformed.
pub(crate) fn api_version(header: Option<&str>) -> Result<String, ()> {
    let Some(v) = header.map(str::trim) else {
        return Ok(crate::CURRENT_API_VERSION.into());
    };
    if v == "dev" {
        return Ok(v.into());
    }
    let b = v.as_bytes();
    let well_formed = b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[5..].iter().all(u8::is_ascii_digit);
    if !well_formed {
        return Err(());
    }
    let known = crate::KNOWN_API_VERSIONS.contains(&v);
    if known {
        Ok(v.into())
    } else if v < crate::KNOWN_API_VERSIONS[0] && ["01", "04", "07", "10"].contains(&&v[5..]) {
        // Deprecated versions are routed to the oldest supported one.
        Ok(crate::KNOWN_API_VERSIONS[0].into())
    } else {
        Ok(crate::CURRENT_API_VERSION.into())
    }
}

async fn v2(
    State(app): State<App>,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = app.shared.clone();
    let request_id = shared.next_request_id();
    lock(&shared.stats).requests += 1;
    let token = bearer(&headers);
    let key = token.clone().unwrap_or_default();
    let (_inflight, concurrent) = InFlight::enter(&shared, &key);

    let faults = lock(&shared.faults).latency_ms;
    let latency = shared
        .base_latency_ms
        .load(std::sync::atomic::Ordering::Relaxed)
        + faults;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }

    let version = api_version(headers.get("api-version").and_then(|v| v.to_str().ok()));
    let answer = handle(
        &app,
        &conn,
        token,
        &key,
        concurrent,
        &request_id,
        version.clone(),
        &body,
    )
    .await;
    let Some(answer) = answer else {
        // Connection reset: never answer.
        return std::future::pending::<Response>().await;
    };
    finish(&shared, &key, answer, &request_id, version.ok())
}

/// Adds Monday's headers and counts the status.
fn finish(
    shared: &Shared,
    key: &str,
    a: Answer,
    request_id: &str,
    version: Option<String>,
) -> Response {
    *lock(&shared.stats)
        .status
        .entry(a.status.as_u16())
        .or_default() += 1;
    let limits = read(&shared.limits).clone();
    let rem = lock(&shared.meter).remaining(key, &limits, Instant::now());
    let mut resp = (a.status, a.body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let hv = |s: String| HeaderValue::from_str(&s).expect("ascii header");
    h.insert(
        "api-version",
        hv(version.unwrap_or_else(|| crate::CURRENT_API_VERSION.into())),
    );
    h.insert("x-request-id", hv(request_id.to_string()));
    h.insert(
        "ratelimit-policy",
        hv(format!(
            "\"minuteRate\";q={};w={}, \"concurrency\";q={};qu=\"concurrent-requests\", \"complexityMinute\";q={};w={}",
            limits.requests_per_minute,
            limits.window_ms / 1000,
            limits.max_concurrency,
            limits.complexity_per_minute,
            limits.window_ms / 1000
        )),
    );
    let inflight = lock(&shared.inflight).get(key).copied().unwrap_or(0);
    h.insert(
        "ratelimit",
        hv(format!(
            "\"minuteRate\";r={}, \"concurrency\";r={}, \"complexityMinute\";r={};t={}",
            rem.requests,
            limits.max_concurrency.saturating_sub(inflight),
            rem.complexity,
            rem.reset_in_seconds
        )),
    );
    if let Some(s) = a.retry_after {
        h.insert(header::RETRY_AFTER, hv(s.to_string()));
    }
    resp
}

/// Everything between "request arrived" and "answer ready"; `None` means reset the connection.
#[allow(clippy::too_many_arguments)]
async fn handle(
    app: &App,
    conn: &Conn,
    token: Option<String>,
    key: &str,
    concurrent: u64,
    request_id: &str,
    version: Result<String, ()>,
    body: &[u8],
) -> Option<Answer> {
    let shared = &app.shared;
    let now = Instant::now();
    let limits = read(&shared.limits).clone();
    let fault_count = |kind: &str| *lock(&shared.stats).faults.entry(kind.into()).or_default() += 1;

    // Transport faults first: they happen before Monday sees the request.
    let (reset, server_error, injected) = {
        let mut f = lock(&shared.faults);
        let reset = take(&mut f.connection_resets);
        let server_error = !reset && take(&mut f.server_errors);
        let status = f.server_error_status.unwrap_or(500);
        (reset, server_error.then_some(status), f.rate_limit.clone())
    };
    if reset {
        fault_count("reset");
        conn.kill.notify_one();
        return None;
    }
    if let Some(status) = server_error {
        fault_count("server_error");
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Some(error_answer(
            status,
            request_id,
            "Internal Server Error",
            "INTERNAL_SERVER_ERROR",
            json!({}),
        ));
    }

    if let Err(retry) = lock(&shared.meter).ip_request(conn.peer.ip(), &limits, now) {
        return Some(throttled(
            shared,
            request_id,
            RateLimitCode::IpRateLimitExceeded,
            retry,
        ));
    }

    // Authentication.
    let unauthenticated = || {
        error_answer(
            StatusCode::UNAUTHORIZED,
            request_id,
            "Not Authenticated",
            "Unauthorized",
            json!({}),
        )
    };
    let Some(token) = token else {
        return Some(unauthenticated());
    };
    {
        let mut f = lock(&shared.faults);
        if let Some(r) = &mut f.revoke_token
            && r.token.as_deref().unwrap_or(&shared.admin_token) == token
        {
            if r.after_requests == 0 {
                write(&shared.tokens).remove(&token);
                f.revoke_token = None;
                drop(f);
                fault_count("revoked");
            } else {
                r.after_requests -= 1;
            }
        }
    }
    let Some(entry) = shared.token(&token) else {
        return Some(unauthenticated());
    };
    let access_denied = {
        let t = read(&shared.tenant);
        match t.user(entry.user_id) {
            None => true,
            Some(u) => u.kind == UserKind::ViewOnly || u.status != UserStatus::Active,
        }
    };
    if access_denied {
        return Some(error_answer(
            StatusCode::FORBIDDEN,
            request_id,
            "User access denied: viewers, deactivated and unconfirmed users cannot use the API",
            "USER_ACCESS_DENIED",
            json!({}),
        ));
    }

    // Injected throttling, then the real limits.
    if let Some(rl) = injected {
        let hit = {
            let mut f = lock(&shared.faults);
            let hit = f.rate_limit.as_mut().is_some_and(|r| take(&mut r.count));
            if f.rate_limit.as_ref().is_some_and(|r| r.count == 0) {
                f.rate_limit = None;
            }
            hit
        };
        if hit {
            fault_count("rate_limit");
            lock(&shared.meter).daily_add(key, 1);
            return Some(throttled(shared, request_id, rl.code, rl.retry_in_seconds));
        }
    }
    {
        let mut m = lock(&shared.meter);
        if let Err(retry) = m.daily_check(key, &limits) {
            m.daily_add(key, 1);
            drop(m);
            return Some(throttled(
                shared,
                request_id,
                RateLimitCode::DailyLimitExceeded,
                retry,
            ));
        }
        if let Err(retry) = m.minute_request(key, &limits, now) {
            m.daily_add(key, 1);
            drop(m);
            return Some(throttled(
                shared,
                request_id,
                RateLimitCode::MinuteRateLimitExceeded,
                retry,
            ));
        }
        if concurrent > limits.max_concurrency {
            m.daily_add(key, 1);
            drop(m);
            return Some(throttled(
                shared,
                request_id,
                RateLimitCode::MaxConcurrencyExceeded,
                1,
            ));
        }
    }

    // The request itself.
    let Ok(version) = version else {
        lock(&shared.meter).daily_add(key, 10);
        return Some(error_answer(
            StatusCode::OK,
            request_id,
            "Invalid API version. Use the format YYYY-MM (e.g. 2026-10)",
            "InvalidVersionException",
            json!({ "status_code": 400 }),
        ));
    };
    let parsed: Result<Json_, _> = serde_json::from_slice(body);
    let Ok(Json_::Object(mut body)) = parsed else {
        lock(&shared.meter).daily_add(key, 10);
        return Some(error_answer(
            StatusCode::BAD_REQUEST,
            request_id,
            "Invalid JSON body",
            "JsonParseException",
            json!({}),
        ));
    };
    let Some(Json_::String(query)) = body.remove("query") else {
        lock(&shared.meter).daily_add(key, 10);
        return Some(error_answer(
            StatusCode::BAD_REQUEST,
            request_id,
            "Bad request: the body must contain a \"query\" string",
            "BadRequest",
            json!({}),
        ));
    };
    // Variables: an object (a JSON string is deprecated but still accepted).
    let variables = match body.remove("variables") {
        None | Some(Json_::Null) => Json_::Object(Default::default()),
        Some(Json_::String(s)) => match serde_json::from_str(&s) {
            Ok(v @ Json_::Object(_)) => v,
            _ => {
                return Some(error_answer(
                    StatusCode::BAD_REQUEST,
                    request_id,
                    "Invalid variables: expected a JSON object",
                    "JsonParseException",
                    json!({}),
                ));
            }
        },
        Some(v @ Json_::Object(_)) => v,
        Some(_) => {
            return Some(error_answer(
                StatusCode::BAD_REQUEST,
                request_id,
                "Invalid variables: expected a JSON object",
                "JsonParseException",
                json!({}),
            ));
        }
    };
    let cost = Arc::new(Mutex::new(CostOutcome::default()));
    let mut req = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(Caller {
            user_id: entry.user_id,
            token: token.clone(),
            scopes: entry.scopes.clone(),
            version: version.clone(),
            cost: cost.clone(),
        });
    if let Some(Json_::String(op)) = body.remove("operationName") {
        req = req.operation_name(op);
    }
    let fields = root_fields(&mut req);
    let mut resp = app.schema.execute(req).await;

    if let Some(retry) = lock(&cost).throttled {
        lock(&shared.meter).daily_add(key, 1);
        return Some(throttled(
            shared,
            request_id,
            RateLimitCode::ComplexityBudgetExhausted,
            retry,
        ));
    }
    {
        let mut s = lock(&shared.stats);
        if let Some((op, names)) = &fields {
            s.executed += 1;
            *s.by_operation.entry(op.clone()).or_default() += 1;
            for n in names {
                *s.by_field.entry(n.clone()).or_default() += 1;
            }
        }
    }
    // A query that only reads `complexity` costs 0.1 call.
    let complexity_only = fields
        .as_ref()
        .is_some_and(|(_, f)| !f.is_empty() && f.iter().all(|n| n == "complexity"));
    lock(&shared.meter).daily_add(key, if complexity_only { 1 } else { 10 });

    fill_error_nulls(&mut resp);
    resp.extensions.insert(
        "request_id".into(),
        async_graphql::Value::String(request_id.to_string()),
    );
    let mut body = serde_json::to_vec(&resp).expect("response serialises");

    let (partial, malformed) = {
        let mut f = lock(&shared.faults);
        (take(&mut f.partial_errors), take(&mut f.malformed_json))
    };
    if partial && let Some(b) = partialise(&body) {
        fault_count("partial_error");
        body = b;
    }
    if malformed {
        fault_count("malformed_json");
        body.truncate(body.len() / 2);
    }
    Some(Answer {
        status: StatusCode::OK,
        body,
        retry_after: None,
    })
}

/// Operation type and root field names of the request (for stats), `None` when unparsable.
fn root_fields(req: &mut async_graphql::Request) -> Option<(String, Vec<String>)> {
    use async_graphql::parser::types::{OperationType, Selection};
    let op_name = req.operation_name.clone();
    let doc = req.parsed_query().ok()?;
    let op = match (&doc.operations, op_name) {
        (async_graphql::parser::types::DocumentOperations::Single(op), _) => &op.node,
        (async_graphql::parser::types::DocumentOperations::Multiple(m), Some(n)) => {
            &m.get(n.as_str())?.node
        }
        (async_graphql::parser::types::DocumentOperations::Multiple(m), None) => {
            &m.values().next()?.node
        }
    };
    let kind = match op.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let mut names = Vec::new();
    let mut stack: Vec<&async_graphql::parser::types::SelectionSet> = vec![&op.selection_set.node];
    while let Some(set) = stack.pop() {
        for sel in &set.items {
            match &sel.node {
                Selection::Field(f) => {
                    let n = f.node.name.node.to_string();
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
                Selection::InlineFragment(fr) => stack.push(&fr.node.selection_set.node),
                Selection::FragmentSpread(sp) => {
                    if let Some(fr) = doc.fragments.get(&sp.node.fragment_name.node) {
                        stack.push(&fr.node.selection_set.node);
                    }
                }
            }
        }
    }
    Some((kind.into(), names))
}

/// Puts an explicit `null` where a field failed (async-graphql leaves the key out), as GraphQL and
/// Monday do: `{"data":{"me":null},"errors":[…]}`.
fn fill_error_nulls(resp: &mut async_graphql::Response) {
    use async_graphql::{PathSegment, Value};
    fn at<'a>(v: &'a mut Value, path: &[PathSegment]) -> Option<&'a mut Value> {
        let Some((seg, rest)) = path.split_first() else {
            return Some(v);
        };
        let next = match (seg, v) {
            (PathSegment::Field(k), Value::Object(m)) => m.get_mut(k.as_str()),
            (PathSegment::Index(i), Value::List(l)) => l.get_mut(*i),
            _ => None,
        };
        at(next?, rest)
    }
    for err in resp.errors.iter().filter(|e| !e.path.is_empty()) {
        if resp.data == Value::Null {
            resp.data = Value::Object(Default::default());
        }
        let (last, parents) = err.path.split_last().expect("non-empty");
        if let (PathSegment::Field(k), Some(Value::Object(m))) = (last, at(&mut resp.data, parents))
        {
            m.entry(async_graphql::Name::new(k)).or_insert(Value::Null);
        }
    }
}

/// Nulls the first non-null root field of `data` and adds an error for it.
fn partialise(body: &[u8]) -> Option<Vec<u8>> {
    let mut v: Json_ = serde_json::from_slice(body).ok()?;
    let data = v.get_mut("data")?.as_object_mut()?;
    let key = data
        .iter()
        .find(|(k, val)| !val.is_null() && k.as_str() != "complexity")
        .map(|(k, _)| k.clone())?;
    data.insert(key.clone(), Json_::Null);
    let err = json!({
        "message": "Internal server error while resolving this field",
        "locations": [],
        "path": [key],
        "extensions": { "code": "INTERNAL_SERVER_ERROR", "status_code": 500 }
    });
    match v.get_mut("errors").and_then(Json_::as_array_mut) {
        Some(errors) => errors.push(err),
        None => {
            v.as_object_mut()?.insert("errors".into(), json!([err]));
        }
    }
    serde_json::to_vec(&v).ok()
}

// ---------------------------------------------------------------------------------------------
// Control endpoints

async fn ground_truth(State(app): State<App>) -> impl IntoResponse {
    Json(crate::truth::ground_truth(&read(&app.shared.tenant)))
}

async fn stats(State(app): State<App>) -> impl IntoResponse {
    Json(lock(&app.shared.stats).clone())
}

async fn reset_stats(State(app): State<App>) -> impl IntoResponse {
    *lock(&app.shared.stats) = Default::default();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(app): State<App>) -> impl IntoResponse {
    Json(lock(&app.shared.faults).clone())
}

async fn set_faults(State(app): State<App>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => {
            *lock(&app.shared.faults) = f.clone();
            Json(f).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("invalid fault plan: {e}\n"),
        )
            .into_response(),
    }
}

async fn clear_faults(State(app): State<App>) -> impl IntoResponse {
    *lock(&app.shared.faults) = Faults::default();
    StatusCode::NO_CONTENT
}

async fn tenant(State(app): State<App>) -> Response {
    let body = read(&app.shared.tenant).to_json();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
