//! Message building (table), the Secret reader, and the sender against a local HTTP receiver.

use super::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use k8s_openapi::ByteString;

fn facts() -> GrantFacts {
    GrantFacts {
        namespace: "iga".into(),
        name: "alice-roadmap".into(),
        uid: "0b8c-uid".into(),
        generation: 1,
        entitlement: "board:42:owner".into(),
        principal: "alice@example.com".into(),
        requester: Some("alice".into()),
        reason: Some("INC-1234 <hotfix> & review".into()),
        policy: Some("default".into()),
        rule: Some("boards".into()),
        expires_at: Some("2026-03-01T18:00:00Z".parse().unwrap()),
    }
}

fn msg(notice: Notice) -> Message {
    Message {
        grant: facts(),
        notice,
    }
}

#[test]
fn every_notice_renders_slack_text_and_structured_fields() {
    let deadline: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
    let cases: Vec<(Notice, &str, &[&str])> = vec![
        (
            Notice::Requested {
                missing: 2,
                deadline,
                approvers: "users bob; groups sre-leads".into(),
                extension: false,
            },
            "requested",
            &[
                "*Access request:* alice asks for `board:42:owner` for alice@example.com (iga/alice-roadmap)",
                "Needs 2 more approval(s) under policy default rule boards (users bob; groups sre-leads) by 2026-03-02T10:00:00Z",
                "uid 0b8c-uid generation 1",
            ],
        ),
        (
            Notice::Requested {
                missing: 1,
                deadline,
                approvers: "anyone".into(),
                extension: true,
            },
            "requested",
            &["*Extension request:*"],
        ),
        (
            Notice::Approved {
                by: vec!["bob".into(), "dave".into()],
                break_glass: false,
            },
            "approved",
            &[
                "*Approved:* `board:42:owner`",
                "for alice by bob, dave",
                "until 2026-03-01T18:00:00Z",
            ],
        ),
        (
            Notice::Approved {
                by: vec!["alice".into()],
                break_glass: true,
            },
            "approved",
            &["*BREAK-GLASS:* alice approved their own request"],
        ),
        (
            Notice::Denied {
                reason: "ApprovalTimedOut".into(),
                message: "not approved within 24h".into(),
            },
            "denied",
            &[
                "*Denied* (ApprovalTimedOut)",
                "requested by alice. not approved within 24h",
            ],
        ),
        (
            Notice::Granted,
            "granted",
            &["*Granted:*", "until 2026-03-01T18:00:00Z"],
        ),
        (Notice::ExpiringSoon, "expiring", &["*Expires soon:*"]),
        (
            Notice::Expired,
            "expired",
            &["*Expired:*", "access was removed"],
        ),
        (
            Notice::Revoked,
            "revoked",
            &["*Revoked:*", "request was deleted"],
        ),
    ];
    for (notice, event, texts) in cases {
        let kind = notice.kind();
        let body = payload(&msg(notice));
        let text = body["text"].as_str().expect("text");
        for want in texts {
            assert!(text.contains(want), "{event}: {want:?} not in {text:?}");
        }
        let f = &body["mondayOperator"];
        assert_eq!(f["event"], event);
        assert_eq!(kind.as_str(), event);
        assert_eq!(f["namespace"], "iga");
        assert_eq!(f["grant"], "alice-roadmap");
        assert_eq!(f["entitlement"], "board:42:owner");
        assert_eq!(f["requester"], "alice");
        assert_eq!(f["policy"], "default");
        assert_eq!(f["expiresAt"], "2026-03-01T18:00:00Z");
    }
}

#[test]
fn structured_fields_carry_the_notice_details() {
    let body = payload(&msg(Notice::Approved {
        by: vec!["bob".into()],
        break_glass: true,
    }));
    assert_eq!(body["mondayOperator"]["approvedBy"], json!(["bob"]));
    assert_eq!(body["mondayOperator"]["breakGlass"], true);
    let body = payload(&msg(Notice::Requested {
        missing: 1,
        deadline: "2026-03-02T10:00:00Z".parse().unwrap(),
        approvers: "users bob".into(),
        extension: false,
    }));
    assert_eq!(body["mondayOperator"]["missingApprovals"], 1);
    assert_eq!(body["mondayOperator"]["deadline"], "2026-03-02T10:00:00Z");
    let body = payload(&msg(Notice::Denied {
        reason: "DeniedByApprover".into(),
        message: "dave denied generation 1".into(),
    }));
    assert_eq!(body["mondayOperator"]["deniedReason"], "DeniedByApprover");
}

#[test]
fn slack_control_characters_are_escaped_in_text_only() {
    let body = payload(&msg(Notice::Granted));
    let text = body["text"].as_str().unwrap();
    assert!(!text.contains("<hotfix>"), "{text}");
    let body = payload(&msg(Notice::Requested {
        missing: 1,
        deadline: "2026-03-02T10:00:00Z".parse().unwrap(),
        approvers: "users bob".into(),
        extension: false,
    }));
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("INC-1234 &lt;hotfix&gt; &amp; review"),
        "{text}"
    );
    assert_eq!(
        body["mondayOperator"]["reason"], "INC-1234 <hotfix> & review",
        "structured fields stay raw"
    );
}

#[test]
fn a_grant_without_expiry_or_requester_still_reads_well() {
    let mut m = msg(Notice::Granted);
    m.grant.expires_at = None;
    m.grant.requester = None;
    m.grant.policy = None;
    m.grant.rule = None;
    let body = payload(&m);
    assert!(body["text"].as_str().unwrap().contains("without expiry"));
    assert!(body["mondayOperator"]["requester"].is_null());
    let m = Message {
        notice: Notice::Denied {
            reason: "NoRuleAllows".into(),
            message: "x".into(),
        },
        ..m
    };
    assert!(
        payload(&m)["text"]
            .as_str()
            .unwrap()
            .contains("requested by an unknown requester")
    );
}

#[test]
fn reminders_come_before_expiry_unless_off() {
    let at: Timestamp = "2026-03-01T18:00:00Z".parse().unwrap();
    assert_eq!(
        reminder_at(Some(at), Duration::from_secs(15 * 60)),
        Some("2026-03-01T17:45:00Z".parse().unwrap())
    );
    assert_eq!(reminder_at(Some(at), Duration::ZERO), None);
    assert_eq!(reminder_at(None, Duration::from_secs(60)), None);
}

fn secret(data: &[(&str, &[u8])]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("slack".into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

#[test]
fn the_webhook_url_comes_from_a_secret_and_errors_never_show_it() {
    const URL: &str = "https://hooks.slack.com/services/T0/B0/SuperSecretToken";
    assert!(webhook_url_from_secret(&secret(&[("url", URL.as_bytes())]), "url").is_ok());
    let debug = format!(
        "{:?}",
        webhook_url_from_secret(&secret(&[("url", URL.as_bytes())]), "url").unwrap()
    );
    assert!(!debug.contains("SuperSecret"), "{debug}");

    let cases: Vec<(Secret, &str, &str)> = vec![
        (secret(&[]), "url", "WebhookSecretKeyMissing"),
        (secret(&[("url", b"  ")]), "url", "WebhookUrlEmpty"),
        (
            secret(&[("url", &[0xff, 0xfe])]),
            "url",
            "WebhookUrlInvalid",
        ),
        (
            secret(&[("url", b"ftp://SuperSecretToken@example.com")]),
            "url",
            "WebhookUrlInvalid",
        ),
        (
            secret(&[("url", b"not a url SuperSecretToken")]),
            "url",
            "WebhookUrlInvalid",
        ),
    ];
    for (s, key, reason) in cases {
        let err = webhook_url_from_secret(&s, key).unwrap_err();
        assert_eq!(err.reason(), reason, "{err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SuperSecret"), "{text}");
        assert!(text.contains("slack"), "names the Secret: {text}");
    }
}

/// A local webhook receiver: records bodies; answers the first `fail_first` requests with
/// `fail_status`, and sleeps `delay` before answering.
#[derive(Clone, Default)]
struct Receiver {
    bodies: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicU64>,
    fail_first: u64,
    fail_status: u16,
    delay: Duration,
}

async fn receive(State(r): State<Receiver>, body: axum::Json<Value>) -> StatusCode {
    let n = r.hits.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(r.delay).await;
    if n < r.fail_first {
        return StatusCode::from_u16(r.fail_status).unwrap();
    }
    r.bodies.lock().unwrap().push(body.0);
    StatusCode::OK
}

async fn serve(r: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/services/{a}/{b}/{token}", post(receive))
        .with_state(r);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/services/T0/B0/SuperSecretToken")
}

fn fast() -> Config {
    Config {
        queue: 8,
        concurrency: 2,
        attempts: 4,
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
    }
}

type Outcomes = Arc<Mutex<Vec<(NoticeKind, DeliveryOutcome)>>>;

fn recording() -> (Observer, Outcomes) {
    let seen: Outcomes = Arc::default();
    let s = seen.clone();
    (Arc::new(move |k, o| s.lock().unwrap().push((k, o))), seen)
}

async fn wait_for(outcomes: &Outcomes, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while outcomes.lock().unwrap().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {n} outcomes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Captures log lines of every level (transport crates' trace aside, as in production).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::prelude::*;
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                    !(*m.level() == tracing::Level::TRACE
                        && ["hyper", "h2", "reqwest", "rustls", "tower", "http_body"]
                            .iter()
                            .any(|c| m.target().starts_with(c)))
                })),
        );
    let guard = tracing::subscriber::set_default(subscriber);
    (logs, guard)
}

#[tokio::test]
async fn the_sender_delivers_retries_server_errors_and_never_logs_the_url() {
    let (logs, _guard) = capture();
    let r = Receiver {
        fail_first: 2,
        fail_status: 503,
        ..Default::default()
    };
    let url = serve(r.clone()).await;
    let (observer, outcomes) = recording();
    let (notifier, _task) = Notifier::start(fast(), Some(observer)).unwrap();
    assert!(notifier.notify(
        WebhookUrl::parse(&url, "slack", "url").unwrap(),
        msg(Notice::Granted)
    ));
    wait_for(&outcomes, 1).await;
    assert_eq!(
        outcomes.lock().unwrap()[0],
        (
            NoticeKind::Granted,
            DeliveryOutcome::Delivered { attempts: 3 }
        )
    );
    let bodies = r.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["mondayOperator"]["event"], "granted");
    assert!(bodies[0]["text"].as_str().unwrap().contains("Granted"));

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("notification attempt failed"), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    assert!(
        !text.contains("SuperSecretToken"),
        "the URL leaked into logs:\n{text}"
    );
}

#[tokio::test]
async fn a_client_error_is_final_and_an_unreachable_hook_gives_up_without_the_url_in_logs() {
    let (logs, _guard) = capture();
    let r = Receiver {
        fail_first: u64::MAX,
        fail_status: 404,
        ..Default::default()
    };
    let url = serve(r.clone()).await;
    let (observer, outcomes) = recording();
    let (notifier, _task) = Notifier::start(fast(), Some(observer)).unwrap();
    notifier.notify(
        WebhookUrl::parse(&url, "slack", "url").unwrap(),
        msg(Notice::Expired),
    );
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    notifier.notify(
        WebhookUrl::parse(
            &format!("http://127.0.0.1:{closed}/services/T0/B0/SuperSecretToken"),
            "slack",
            "url",
        )
        .unwrap(),
        msg(Notice::Revoked),
    );
    wait_for(&outcomes, 2).await;
    let mut seen = outcomes.lock().unwrap().clone();
    seen.sort_by_key(|(k, _)| *k);
    assert_eq!(
        seen,
        vec![
            (
                NoticeKind::Expired,
                DeliveryOutcome::Failed {
                    attempts: 1,
                    last: Failure::Status(404)
                }
            ),
            (
                NoticeKind::Revoked,
                DeliveryOutcome::Failed {
                    attempts: 4,
                    last: Failure::Connect
                }
            ),
        ]
    );
    assert_eq!(r.hits.load(Ordering::SeqCst), 1, "a 404 is not retried");
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("giving up"), "{text}");
    assert!(
        !text.contains("SuperSecretToken"),
        "the URL leaked into logs:\n{text}"
    );
}

#[tokio::test]
async fn a_slow_hook_never_blocks_the_caller_and_a_full_queue_drops() {
    let r = Receiver {
        delay: Duration::from_millis(300),
        ..Default::default()
    };
    let url = serve(r.clone()).await;
    let (observer, outcomes) = recording();
    let config = Config {
        queue: 2,
        concurrency: 1,
        ..fast()
    };
    let (notifier, _task) = Notifier::start(config, Some(observer)).unwrap();
    let hook = WebhookUrl::parse(&url, "slack", "url").unwrap();
    // `notify` is not async: it cannot wait for the network. On this single-threaded runtime the
    // sender does not run during the loop, so exactly the queue's capacity is accepted.
    let accepted: Vec<bool> = (0..10)
        .map(|_| notifier.notify(hook.clone(), msg(Notice::Granted)))
        .collect();
    let queued = accepted.iter().filter(|a| **a).count();
    assert_eq!(queued, 2, "{accepted:?}");
    assert_eq!(notifier.dropped(), (10 - queued) as u64);
    let dropped = outcomes
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, o)| *o == DeliveryOutcome::Dropped)
        .count();
    assert_eq!(dropped, 10 - queued);
    // The queued ones are still delivered.
    wait_for(&outcomes, 10).await;
    assert_eq!(r.bodies.lock().unwrap().len(), 2);
}
