//! Reading a Monday response: every error envelope version, throttling signals and partial data.
//!
//! Pure functions over (HTTP status, `Retry-After`, body) so every shape in the reference can be
//! unit-tested without a server. The transport decides what to do with the [`Verdict`].

use std::time::Duration;

use serde_json::Value;

use super::error::{MondayError, clip};
use super::types::Complexity;

/// What one HTTP exchange means for the caller.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// `data` with no errors. `complexity` is absent only if the document did not ask for it.
    Ok {
        data: Value,
        complexity: Option<Complexity>,
    },
    /// Throttled: wait (Monday's hint if any) and send again; the request was not executed.
    Throttled {
        code: String,
        wait: Option<Duration>,
        complexity_exhausted: bool,
        complexity: Option<Complexity>,
    },
    /// The daily call budget is spent: stop.
    DailyLimit { wait: Option<Duration> },
    /// 5xx/423/malformed body: back off and retry (the request may have been executed).
    Transient {
        outcome: String,
        status: u16,
        malformed: bool,
        complexity: Option<Complexity>,
    },
    /// Not worth retrying.
    Fatal {
        error: MondayError,
        outcome: String,
        complexity: Option<Complexity>,
    },
}

impl Verdict {
    /// Short code for the `requests by outcome` counter.
    pub(crate) fn outcome(&self) -> String {
        match self {
            Verdict::Ok { .. } => "ok".to_string(),
            Verdict::Throttled { code, .. } => code.clone(),
            Verdict::DailyLimit { .. } => "DAILY_LIMIT_EXCEEDED".to_string(),
            Verdict::Transient { outcome, .. } | Verdict::Fatal { outcome, .. } => outcome.clone(),
        }
    }
}

/// One GraphQL (or legacy top-level) error, normalised.
#[derive(Debug, Default, Clone)]
pub(crate) struct GqlError {
    pub code: Option<String>,
    pub message: String,
    pub status_code: Option<u16>,
    pub retry_in: Option<Duration>,
    pub path: Vec<String>,
    pub error_data: Value,
}

/// Seconds as sent by Monday: integer, float or numeric string.
fn seconds(v: &Value) -> Option<Duration> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// `Retry-After` in delta-seconds (the HTTP-date form is not used by Monday).
pub(crate) fn parse_retry_after(header: Option<&str>) -> Option<Duration> {
    header.and_then(|h| seconds(&Value::String(h.to_string())))
}

/// The legacy complexity message ends with "… reset in S seconds".
fn legacy_reset_hint(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let idx = lower.find("reset in ")?;
    let rest = &lower[idx + "reset in ".len()..];
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    seconds(&Value::String(num))
}

fn status_from(v: Option<&Value>) -> Option<u16> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn string_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn parse_spec_error(e: &Value) -> GqlError {
    match e {
        // `{"errors":["Not Authenticated"]}` and similar.
        Value::String(s) => GqlError {
            message: s.clone(),
            ..Default::default()
        },
        Value::Object(o) => {
            let ext = o.get("extensions");
            let ext_get = |k: &str| ext.and_then(|x| x.get(k));
            let error_data = ext_get("error_data")
                .or_else(|| o.get("error_data"))
                .cloned()
                .unwrap_or(Value::Null);
            let message = string_of(o.get("message")).unwrap_or_default();
            let retry_in = ext_get("retry_in_seconds")
                .and_then(seconds)
                .or_else(|| error_data.get("retry_in_seconds").and_then(seconds))
                .or_else(|| legacy_reset_hint(&message));
            GqlError {
                code: string_of(ext_get("code")).or_else(|| string_of(o.get("code"))),
                status_code: status_from(ext_get("status_code")),
                retry_in,
                path: o
                    .get("path")
                    .and_then(Value::as_array)
                    .map(|p| {
                        p.iter()
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                message,
                error_data,
            }
        }
        other => GqlError {
            message: other.to_string(),
            ..Default::default()
        },
    }
}

/// Collects errors from the spec `errors` array and the ≤ 2024-10 top-level envelope.
pub(crate) fn collect_errors(body: &Value) -> Vec<GqlError> {
    let mut out: Vec<GqlError> = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(parse_spec_error).collect())
        .unwrap_or_default();
    let legacy_code = string_of(body.get("error_code"));
    let legacy_message = string_of(body.get("error_message"));
    if legacy_code.is_some() || legacy_message.is_some() {
        let message = legacy_message.unwrap_or_default();
        let error_data = body.get("error_data").cloned().unwrap_or(Value::Null);
        let legacy = GqlError {
            retry_in: error_data
                .get("retry_in_seconds")
                .and_then(seconds)
                .or_else(|| legacy_reset_hint(&message)),
            code: legacy_code,
            status_code: status_from(body.get("status_code")),
            message,
            path: Vec::new(),
            error_data,
        };
        // 2024-10 sends both shapes for the same failure; keep the legacy one only if new.
        let duplicate = out
            .iter()
            .any(|e| e.code.is_some() && e.code == legacy.code);
        if !duplicate {
            out.push(legacy);
        }
    }
    out
}

/// Error classes in order of precedence (lowest rank wins when a response has several).
enum Class {
    Auth(MondayError),
    Daily(Option<Duration>),
    Throttle {
        code: String,
        wait: Option<Duration>,
        complexity: bool,
    },
    Transient {
        code: String,
        status: u16,
    },
    Other(MondayError),
}

impl Class {
    fn rank(&self) -> u8 {
        match self {
            Class::Auth(_) => 0,
            Class::Daily(_) => 1,
            Class::Throttle { .. } => 2,
            Class::Transient { .. } => 3,
            Class::Other(_) => 4,
        }
    }
}

fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Maps a field name on an error path to the OAuth scope that guards it.
fn scope_for_field(field: &str) -> Option<&'static str> {
    Some(match field {
        "me" => "me:read",
        "account" => "account:read",
        "users" | "users_subscribers" | "owners_subscribers" => "users:read",
        "teams" | "teams_subscribers" | "team_owners_subscribers" => "teams:read",
        "workspaces" => "workspaces:read",
        "boards" => "boards:read",
        _ => return None,
    })
}

/// The scope named in the message (`… boards:read …`), else the one guarding the error's path,
/// else the operation's own scope.
fn missing_scope(e: &GqlError, op_scope: &'static str) -> String {
    let from_message = e
        .message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '_'))
        .find(|w| {
            w.split_once(':')
                .is_some_and(|(a, b)| !a.is_empty() && (b == "read" || b == "write"))
        })
        .map(str::to_string);
    from_message
        .or_else(|| {
            e.path
                .iter()
                .rev()
                .find_map(|f| scope_for_field(f))
                .map(str::to_string)
        })
        .unwrap_or_else(|| op_scope.to_string())
}

fn not_found_id(e: &GqlError) -> Option<String> {
    let data = e.error_data.as_object()?;
    [
        "board_id",
        "user_id",
        "team_id",
        "workspace_id",
        "id",
        "item_id",
    ]
    .iter()
    .find_map(|k| match data.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn classify_error(e: &GqlError, http: u16, operation: &'static str, scope: &'static str) -> Class {
    let code = e.code.clone().unwrap_or_default();
    let key = normalise(&code);
    let msg_key = normalise(&e.message);
    let label = if code.is_empty() {
        "UNKNOWN".to_string()
    } else {
        code.clone()
    };
    match key.as_str() {
        "complexitybudgetexhausted" | "complexityexception" => {
            return Class::Throttle {
                code: label,
                wait: e.retry_in,
                complexity: true,
            };
        }
        "minuteratelimitexceeded"
        | "ratelimitexceeded"
        | "maxconcurrencyexceeded"
        | "ipratelimitexceeded"
        | "toomanyrequests"
        | "fieldlimitexceeded" => {
            return Class::Throttle {
                code: label,
                wait: e.retry_in,
                complexity: false,
            };
        }
        "dailylimitexceeded" => return Class::Daily(e.retry_in),
        "unauthorized" | "notauthenticated" | "invalidtoken" => {
            return Class::Auth(MondayError::InvalidToken { operation });
        }
        "userunauthorized" | "userunauthorizedexception" => {
            return Class::Auth(MondayError::InsufficientPermissions {
                operation,
                code: label,
            });
        }
        "missingrequiredpermissions" => {
            return Class::Auth(MondayError::MissingScope {
                operation,
                scope: missing_scope(e, scope),
            });
        }
        "useraccessdenied" => return Class::Auth(MondayError::AccessDenied { operation }),
        "resourcenotfoundexception"
        | "invalidboardidexception"
        | "invaliduseridexception"
        | "invalidteamidexception"
        | "invalidworkspaceidexception"
        | "notfound" => {
            return Class::Other(MondayError::NotFound {
                operation,
                code: label,
                id: not_found_id(e),
            });
        }
        "invalidargumentexception" => {
            return Class::Other(MondayError::InvalidArgument {
                operation,
                code: label,
                message: clip(&e.message),
            });
        }
        "recordinvalidexception" => {
            return Class::Other(MondayError::RecordInvalid {
                operation,
                code: label,
                message: clip(&e.message),
            });
        }
        "internalservererror" | "internalserverexception" | "resourcelocked" => {
            return Class::Transient {
                code: label,
                status: e.status_code.unwrap_or(http),
            };
        }
        _ => {}
    }
    // No known code: fall back to the messages seen without codes, then to status codes.
    if code.is_empty() {
        if msg_key.contains("notauthenticated") {
            return Class::Auth(MondayError::InvalidToken { operation });
        }
        if msg_key.contains("complexitybudgetexhausted") {
            return Class::Throttle {
                code: "ComplexityException".into(),
                wait: e.retry_in,
                complexity: true,
            };
        }
    }
    let status = e
        .status_code
        .or((http != 200).then_some(http))
        .unwrap_or(200);
    match status {
        401 => Class::Auth(MondayError::InvalidToken { operation }),
        403 => Class::Auth(MondayError::InsufficientPermissions {
            operation,
            code: label,
        }),
        404 => Class::Other(MondayError::NotFound {
            operation,
            code: label,
            id: not_found_id(e),
        }),
        422 => Class::Other(MondayError::RecordInvalid {
            operation,
            code: label,
            message: clip(&e.message),
        }),
        429 => Class::Throttle {
            code: label,
            wait: e.retry_in,
            complexity: false,
        },
        423 | 500..=599 => Class::Transient {
            code: label,
            status,
        },
        _ => Class::Other(MondayError::Api {
            operation,
            code: label,
            message: clip(&e.message),
        }),
    }
}

fn complexity_of(body: &Value) -> Option<Complexity> {
    let c = body.get("data")?.get("complexity")?;
    serde_json::from_value(c.clone()).ok()
}

/// Classifies one HTTP exchange. `operation`/`scope` only label errors.
pub(crate) fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    operation: &'static str,
    scope: &'static str,
) -> Verdict {
    // A 401 means the token, whatever the body looks like (JSON, string array, HTML, empty).
    if status == 401 {
        return Verdict::Fatal {
            error: MondayError::InvalidToken { operation },
            outcome: "http_401".into(),
            complexity: None,
        };
    }
    let parsed: Option<Value> = serde_json::from_slice(body).ok().filter(Value::is_object);
    let Some(json) = parsed else {
        return match status {
            429 => Verdict::Throttled {
                code: "http_429".into(),
                wait: retry_after,
                complexity_exhausted: false,
                complexity: None,
            },
            423 | 500..=599 => Verdict::Transient {
                outcome: format!("http_{status}"),
                status,
                malformed: false,
                complexity: None,
            },
            200..=299 => Verdict::Transient {
                outcome: "malformed".into(),
                status,
                malformed: true,
                complexity: None,
            },
            _ => Verdict::Fatal {
                error: MondayError::Protocol {
                    operation,
                    detail: format!("HTTP {status} with a non-JSON body"),
                },
                outcome: format!("http_{status}"),
                complexity: None,
            },
        };
    };
    let complexity = complexity_of(&json);
    let errors = collect_errors(&json);
    if errors.is_empty() {
        return match status {
            200..=299 => match json.get("data") {
                Some(data) if data.is_object() => Verdict::Ok {
                    data: data.clone(),
                    complexity,
                },
                _ => Verdict::Transient {
                    outcome: "malformed".into(),
                    status,
                    malformed: true,
                    complexity,
                },
            },
            429 => Verdict::Throttled {
                code: "http_429".into(),
                wait: retry_after,
                complexity_exhausted: false,
                complexity,
            },
            423 | 500..=599 => Verdict::Transient {
                outcome: format!("http_{status}"),
                status,
                malformed: false,
                complexity,
            },
            422 => Verdict::Fatal {
                error: MondayError::RecordInvalid {
                    operation,
                    code: "http_422".into(),
                    message: String::new(),
                },
                outcome: "http_422".into(),
                complexity,
            },
            _ => Verdict::Fatal {
                error: MondayError::Protocol {
                    operation,
                    detail: format!("HTTP {status} without errors"),
                },
                outcome: format!("http_{status}"),
                complexity,
            },
        };
    }
    // Partial data (`data` plus `errors`) is an error too: a sync must not build access data from
    // a response with holes in it.
    let best = errors
        .iter()
        .map(|e| classify_error(e, status, operation, scope))
        .min_by_key(Class::rank);
    match best {
        Some(Class::Auth(error)) | Some(Class::Other(error)) => Verdict::Fatal {
            outcome: errors
                .iter()
                .find_map(|e| e.code.clone())
                .unwrap_or_else(|| error.reason().to_string()),
            error,
            complexity,
        },
        Some(Class::Daily(wait)) => Verdict::DailyLimit {
            wait: wait.or(retry_after),
        },
        Some(Class::Throttle {
            code,
            wait,
            complexity: exhausted,
        }) => Verdict::Throttled {
            code,
            wait: wait.or(retry_after),
            complexity_exhausted: exhausted,
            complexity,
        },
        Some(Class::Transient { code, status }) => Verdict::Transient {
            outcome: code,
            status,
            malformed: false,
            complexity,
        },
        None => Verdict::Fatal {
            error: MondayError::Protocol {
                operation,
                detail: "empty error list".into(),
            },
            outcome: "protocol".into(),
            complexity,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(status: u16, retry_after: Option<u64>, body: Value) -> Verdict {
        classify(
            status,
            retry_after.map(Duration::from_secs),
            body.to_string().as_bytes(),
            "Users",
            "users:read",
        )
    }

    fn fatal(v: Verdict) -> MondayError {
        match v {
            Verdict::Fatal { error, .. } => error,
            other => panic!("expected fatal, got {other:?}"),
        }
    }

    #[test]
    fn ok_with_complexity() {
        let v = run(
            200,
            None,
            json!({"data": {"users": [], "complexity": {"before": 100, "after": 90, "query": 10, "reset_in_x_seconds": 42}},
                   "extensions": {"request_id": "r"}}),
        );
        match v {
            Verdict::Ok { complexity, data } => {
                assert_eq!(complexity.map(|c| c.query), Some(10));
                assert!(data.get("users").is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unauthenticated_401_in_any_shape() {
        for body in [
            b"{\"errors\":[\"Not Authenticated\"]}".to_vec(),
            b"<html>401</html>".to_vec(),
            Vec::new(),
            b"{\"error_message\":\"Not Authenticated\",\"status_code\":401}".to_vec(),
        ] {
            let v = classify(401, None, &body, "Users", "users:read");
            assert!(matches!(fatal(v), MondayError::InvalidToken { .. }));
        }
        // Same string body but HTTP 200 (third-party report): still an invalid token.
        let v = run(200, None, json!({"errors": ["Not Authenticated"]}));
        assert!(matches!(fatal(v), MondayError::InvalidToken { .. }));
    }

    #[test]
    fn user_unauthorized_old_and_new_codes_with_partial_data() {
        for code in ["USER_UNAUTHORIZED", "UserUnauthorizedException"] {
            let v = run(
                200,
                None,
                json!({"data": {"me": null}, "errors": [{"message": "User unauthorized to perform action",
                  "locations": [{"line": 1, "column": 2}], "path": ["me"],
                  "extensions": {"code": code, "status_code": 403, "error_data": {}}}]}),
            );
            let e = fatal(v);
            assert!(
                matches!(e, MondayError::InsufficientPermissions { .. }),
                "{code}"
            );
            assert_eq!(e.reason(), "InsufficientPermissions");
        }
        // HTTP 403 with an unknown code keys on the status.
        let v = run(
            403,
            None,
            json!({"errors": [{"message": "no", "extensions": {"code": "Weird"}}]}),
        );
        assert!(matches!(
            fatal(v),
            MondayError::InsufficientPermissions { .. }
        ));
    }

    #[test]
    fn missing_scope_names_the_scope() {
        let v = run(
            200,
            None,
            json!({"data": {"workspaces": [{"id": "1", "teams_subscribers": null}]},
                   "errors": [{"message": "Missing required permissions", "path": ["workspaces", 0, "teams_subscribers"],
                   "extensions": {"code": "missingRequiredPermissions"}}]}),
        );
        match fatal(v) {
            MondayError::MissingScope { scope, .. } => assert_eq!(scope, "teams:read"),
            e => panic!("{e:?}"),
        }
        let v = run(
            200,
            None,
            json!({"errors": [{"message": "Required scope boards:write is missing", "extensions": {"code": "missingRequiredPermissions"}}]}),
        );
        match fatal(v) {
            MondayError::MissingScope { scope, .. } => assert_eq!(scope, "boards:write"),
            e => panic!("{e:?}"),
        }
        let v = run(
            200,
            None,
            json!({"errors": [{"message": "nope", "extensions": {"code": "missingRequiredPermissions"}}]}),
        );
        match fatal(v) {
            MondayError::MissingScope { scope, .. } => assert_eq!(scope, "users:read"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn access_denied_not_found_invalid_argument_record_invalid() {
        let v = run(
            200,
            None,
            json!({"errors": [{"message": "x", "extensions": {"code": "USER_ACCESS_DENIED", "status_code": 403}}]}),
        );
        assert_eq!(fatal(v).reason(), "AccessDenied");
        let v = run(
            200,
            None,
            json!({"errors": [{"message": "Board not found", "extensions": {"code": "InvalidBoardIdException", "error_data": {"board_id": 123}}}]}),
        );
        match fatal(v) {
            MondayError::NotFound { id, .. } => assert_eq!(id.as_deref(), Some("123")),
            e => panic!("{e:?}"),
        }
        for code in ["ResourceNotFoundException", "InvalidUserIdException"] {
            let v = run(
                200,
                None,
                json!({"errors": [{"message": "x", "extensions": {"code": code}}]}),
            );
            assert_eq!(fatal(v).reason(), "NotFound");
        }
        let v = run(
            200,
            None,
            json!({"errors": [{"message": "Limit exceeds the maximum allowed value of 1000.", "extensions": {"code": "InvalidArgumentException"}}]}),
        );
        let e = fatal(v);
        assert_eq!(e.reason(), "InvalidArgument");
        assert!(e.to_string().contains("1000"));
        let v = run(
            422,
            None,
            json!({"errors": [{"message": "too many subscribers", "extensions": {"code": "RecordInvalidException", "status_code": 422}}]}),
        );
        assert_eq!(fatal(v).reason(), "RecordInvalid");
        let v = run(
            422,
            None,
            json!({"error_message": "too many", "status_code": 422}),
        );
        assert_eq!(fatal(v).reason(), "RecordInvalid");
    }

    #[test]
    fn throttling_codes_2025_and_later() {
        for (code, complexity) in [
            ("COMPLEXITY_BUDGET_EXHAUSTED", true),
            ("MINUTE_RATE_LIMIT_EXCEEDED", false),
            ("MAX_CONCURRENCY_EXCEEDED", false),
            ("IP_RATE_LIMIT_EXCEEDED", false),
            ("maxConcurrencyExceeded", false),
        ] {
            let v = run(
                429,
                Some(30),
                json!({"errors": [{"message": "x", "extensions": {"code": code, "retry_in_seconds": 22}}],
                       "extensions": {"request_id": "r"}}),
            );
            match v {
                Verdict::Throttled {
                    wait,
                    complexity_exhausted,
                    ..
                } => {
                    assert_eq!(
                        wait,
                        Some(Duration::from_secs(22)),
                        "{code}: extensions win"
                    );
                    assert_eq!(complexity_exhausted, complexity, "{code}");
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        // Without retry_in_seconds, Retry-After is used.
        let v = run(
            429,
            Some(7),
            json!({"errors": [{"message": "x", "extensions": {"code": "MINUTE_RATE_LIMIT_EXCEEDED"}}]}),
        );
        assert!(
            matches!(v, Verdict::Throttled { wait: Some(w), .. } if w == Duration::from_secs(7))
        );
        // A bare 429 with a non-JSON body.
        let v = classify(
            429,
            Some(Duration::from_secs(3)),
            b"Too Many Requests",
            "Users",
            "users:read",
        );
        assert!(
            matches!(v, Verdict::Throttled { wait: Some(w), .. } if w == Duration::from_secs(3))
        );
    }

    #[test]
    fn legacy_complexity_envelopes() {
        // ≤ 2024-07: top-level only, hint in the message.
        let v = run(
            429,
            None,
            json!({"error_message": "Complexity budget exhausted, query cost 30001 budget remaining 2000 out of 1000000 reset in 17 seconds",
                   "error_code": "ComplexityException", "error_data": {}, "status_code": 429, "account_id": 1}),
        );
        assert!(
            matches!(v, Verdict::Throttled { complexity_exhausted: true, wait: Some(w), .. } if w == Duration::from_secs(17))
        );
        // 2024-10: both shapes at once.
        let v = run(
            429,
            None,
            json!({"error_message": "Complexity budget exhausted", "error_code": "ComplexityException", "status_code": 429,
                   "errors": [{"message": "Complexity budget exhausted", "extensions": {"code": "ComplexityException", "retry_in_seconds": 9}}]}),
        );
        assert!(
            matches!(v, Verdict::Throttled { complexity_exhausted: true, wait: Some(w), .. } if w == Duration::from_secs(9))
        );
        // 2025-01/04: extra fields in extensions are ignored.
        let v = run(
            429,
            None,
            json!({"errors": [{"message": "Complexity budget exhausted", "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED",
                   "complexity": 1000, "complexity_budget_left": 10, "complexity_budget_limit": 10000000, "status_code": 429, "retry_in_seconds": "5"}}]}),
        );
        assert!(
            matches!(v, Verdict::Throttled { wait: Some(w), .. } if w == Duration::from_secs(5))
        );
    }

    #[test]
    fn field_limiter_partial_data_is_retried() {
        let v = run(
            200,
            None,
            json!({"data": {"boards": null}, "errors": [{"message": "Too many requests", "path": ["boards"],
                   "extensions": {"code": "tooManyRequests", "status_code": 400}}]}),
        );
        assert!(matches!(
            v,
            Verdict::Throttled {
                complexity_exhausted: false,
                ..
            }
        ));
        let v = run(
            200,
            None,
            json!({"error_code": "FIELD_LIMIT_EXCEEDED", "error_message": "x", "error_data": {"retry_in_seconds": 12, "entity": "boards"}}),
        );
        assert!(
            matches!(v, Verdict::Throttled { wait: Some(w), .. } if w == Duration::from_secs(12))
        );
    }

    #[test]
    fn daily_limit_stops() {
        let v = run(
            429,
            Some(3600),
            json!({"errors": [{"message": "Daily limit exceeded", "extensions": {"code": "DAILY_LIMIT_EXCEEDED", "retry_in_seconds": 3600}}]}),
        );
        assert!(
            matches!(v, Verdict::DailyLimit { wait: Some(w) } if w == Duration::from_secs(3600))
        );
    }

    #[test]
    fn auth_outranks_throttling_when_mixed() {
        let v = run(
            200,
            None,
            json!({"errors": [
                {"message": "x", "extensions": {"code": "tooManyRequests"}},
                {"message": "y", "extensions": {"code": "USER_ACCESS_DENIED"}}]}),
        );
        assert_eq!(fatal(v).reason(), "AccessDenied");
    }

    #[test]
    fn server_errors_and_malformed_bodies_are_transient() {
        assert!(matches!(
            classify(
                502,
                None,
                b"<html>bad gateway</html>",
                "Users",
                "users:read"
            ),
            Verdict::Transient {
                status: 502,
                malformed: false,
                ..
            }
        ));
        assert!(matches!(
            classify(
                200,
                None,
                b"{\"data\": {\"users\": [",
                "Users",
                "users:read"
            ),
            Verdict::Transient {
                malformed: true,
                ..
            }
        ));
        assert!(matches!(
            run(200, None, json!({"extensions": {"request_id": "r"}})),
            Verdict::Transient {
                malformed: true,
                ..
            }
        ));
        assert!(matches!(
            run(
                500,
                None,
                json!({"errors": [{"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]})
            ),
            Verdict::Transient { .. }
        ));
        assert!(matches!(
            run(
                423,
                None,
                json!({"errors": [{"message": "Resource is currently locked"}]})
            ),
            Verdict::Transient { status: 423, .. }
        ));
        // A 400 with an unknown code is an API error, not retried.
        let v = run(
            400,
            None,
            json!({"errors": [{"message": "Bad request", "extensions": {"code": "JsonParseException"}}]}),
        );
        assert_eq!(fatal(v).reason(), "ApiError");
    }

    #[test]
    fn retry_after_header_parsing() {
        assert_eq!(parse_retry_after(Some("12")), Some(Duration::from_secs(12)));
        assert_eq!(
            parse_retry_after(Some(" 1.5 ")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(Some("-3")), None);
        assert_eq!(parse_retry_after(None), None);
    }
}
