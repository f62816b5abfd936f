//! Webhook notifications about access requests: pure message building, and a sender that never
//! blocks a grant or a revoke.
//!
//! - [`payload`] turns one [`Message`] into Slack-compatible JSON: `{"text": ...}` for a Slack (or
//!   Mattermost, Teams workflow, …) incoming webhook, plus the same facts as structured fields
//!   under `mondayOperator` for anything that parses them.
//! - [`Notifier::notify`] only puts the message in a bounded queue (`try_send`): a full queue
//!   drops the message (counted and logged), it never waits. A background task delivers with a
//!   few concurrent requests, retrying transport errors, 429 and 5xx with exponential backoff; a
//!   4xx other than 408/429 is final.
//! - The webhook URL is a credential (Slack's carries its token in the path): it lives in a
//!   [`WebhookUrl`], whose `Debug` prints nothing of it, is read from a Secret with
//!   [`webhook_url_from_secret`], and no log line or error carries it — reqwest errors are reduced
//!   to their kind, never displayed.
//!
//! Nothing here depends on the reconcile code: the caller says what happened ([`Notice`]) to which
//! grant ([`GrantFacts`]) and where ([`WebhookUrl`], from the governing policy).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

/// Which notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeKind {
    Requested,
    Approved,
    Denied,
    Granted,
    ExpiringSoon,
    Expired,
    Revoked,
}

impl NoticeKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [NoticeKind] = &[
        NoticeKind::Requested,
        NoticeKind::Approved,
        NoticeKind::Denied,
        NoticeKind::Granted,
        NoticeKind::ExpiringSoon,
        NoticeKind::Expired,
        NoticeKind::Revoked,
    ];

    /// The `mondayOperator.event` value and metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Requested => "requested",
            NoticeKind::Approved => "approved",
            NoticeKind::Denied => "denied",
            NoticeKind::Granted => "granted",
            NoticeKind::ExpiringSoon => "expiring",
            NoticeKind::Expired => "expired",
            NoticeKind::Revoked => "revoked",
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A new request (or extension) waits for approval: sent to the approvers' channel.
    Requested {
        /// Approvals still needed.
        missing: u32,
        /// When it times out.
        deadline: Timestamp,
        /// Who may approve, as the policy says (e.g. "users bob; groups sre-leads").
        approvers: String,
        /// An extension of approved access rather than a first request.
        extension: bool,
    },
    /// Approved (possibly by break-glass).
    Approved { by: Vec<String>, break_glass: bool },
    /// Denied: by an approver, a rule, or the timeout.
    Denied { reason: String, message: String },
    /// The access is in Monday now.
    Granted,
    /// The access ends soon (the policy's `reminderBefore`).
    ExpiringSoon,
    /// The access ended at its expiry.
    Expired,
    /// The request was deleted and the access removed before expiry.
    Revoked,
}

impl Notice {
    pub fn kind(&self) -> NoticeKind {
        match self {
            Notice::Requested { .. } => NoticeKind::Requested,
            Notice::Approved { .. } => NoticeKind::Approved,
            Notice::Denied { .. } => NoticeKind::Denied,
            Notice::Granted => NoticeKind::Granted,
            Notice::ExpiringSoon => NoticeKind::ExpiringSoon,
            Notice::Expired => NoticeKind::Expired,
            Notice::Revoked => NoticeKind::Revoked,
        }
    }
}

/// The facts about one grant every notification carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantFacts {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    /// Baton entitlement id, e.g. `board:42:subscriber`.
    pub entitlement: String,
    /// The principal as shown by `kubectl get` (email, `user:<id>`, `team:<id>`).
    pub principal: String,
    /// `spec.requester.username`.
    pub requester: Option<String>,
    /// `spec.reason`.
    pub reason: Option<String>,
    /// The governing policy and rule.
    pub policy: Option<String>,
    pub rule: Option<String>,
    /// When the access ends (`None`: until deleted, or not granted yet).
    pub expires_at: Option<Timestamp>,
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub grant: GrantFacts,
    pub notice: Notice,
}

/// Slack's three control characters in `text` (everything else passes unchanged).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The webhook body for `msg`: `{"text": ..., "mondayOperator": {...}}`.
pub fn payload(msg: &Message) -> Value {
    json!({ "text": text(msg), "mondayOperator": fields(msg) })
}

/// The Slack-compatible line a person reads.
fn text(msg: &Message) -> String {
    let g = &msg.grant;
    let who = g.requester.as_deref().unwrap_or("an unknown requester");
    let what = format!(
        "`{}` for {} ({}/{})",
        escape(&g.entitlement),
        escape(&g.principal),
        escape(&g.namespace),
        escape(&g.name)
    );
    let until = match g.expires_at {
        Some(t) => format!("until {t}"),
        None => "without expiry".to_string(),
    };
    let under = match (&g.policy, &g.rule) {
        (Some(p), Some(r)) => format!(" under policy {} rule {}", escape(p), escape(r)),
        _ => String::new(),
    };
    let reason = g
        .reason
        .as_deref()
        .map(|r| format!(" Reason: {}.", escape(r)))
        .unwrap_or_default();
    match &msg.notice {
        Notice::Requested {
            missing,
            deadline,
            approvers,
            extension,
        } => format!(
            ":key: *{}* {} asks for {what}.{reason} Needs {missing} more approval(s){under} ({}) by {deadline}; approve with a MondayAccessApproval naming uid {} generation {}.",
            if *extension {
                "Extension request:"
            } else {
                "Access request:"
            },
            escape(who),
            escape(approvers),
            escape(&g.uid),
            g.generation
        ),
        Notice::Approved { by, break_glass } => {
            if *break_glass {
                format!(
                    ":rotating_light: *BREAK-GLASS:* {} approved their own request for {what}{under}, {until}.{reason}",
                    escape(who)
                )
            } else {
                format!(
                    ":white_check_mark: *Approved:* {what} for {} by {}{under}, {until}.",
                    escape(who),
                    escape(&by.join(", "))
                )
            }
        }
        Notice::Denied { reason: r, message } => format!(
            ":no_entry: *Denied* ({}): {what} requested by {}. {}",
            escape(r),
            escape(who),
            escape(message)
        ),
        Notice::Granted => format!(":unlock: *Granted:* {what}, {until}."),
        Notice::ExpiringSoon => format!(":hourglass: *Expires soon:* {what}, {until}."),
        Notice::Expired => format!(":lock: *Expired:* {what}; the access was removed."),
        Notice::Revoked => {
            format!(":lock: *Revoked:* {what}; the request was deleted and the access removed.")
        }
    }
}

/// The same facts for machines, under `mondayOperator`.
fn fields(msg: &Message) -> Value {
    let g = &msg.grant;
    let mut fields = json!({
        "event": msg.notice.kind().as_str(),
        "namespace": g.namespace,
        "grant": g.name,
        "uid": g.uid,
        "generation": g.generation,
        "entitlement": g.entitlement,
        "principal": g.principal,
        "requester": g.requester,
        "reason": g.reason,
        "policy": g.policy,
        "rule": g.rule,
        "expiresAt": g.expires_at.map(|t| t.to_string()),
    });
    match &msg.notice {
        Notice::Requested {
            missing,
            deadline,
            approvers,
            extension,
        } => {
            fields["missingApprovals"] = json!(missing);
            fields["deadline"] = json!(deadline.to_string());
            fields["approvers"] = json!(approvers);
            fields["extension"] = json!(extension);
        }
        Notice::Approved { by, break_glass } => {
            fields["approvedBy"] = json!(by);
            fields["breakGlass"] = json!(break_glass);
        }
        Notice::Denied { reason, message } => {
            fields["deniedReason"] = json!(reason);
            fields["message"] = json!(message);
        }
        _ => {}
    }
    fields
}

/// When to send the reminder for access ending at `expires_at` (`None`: no reminder — no
/// expiry, or `reminder_before` is zero).
pub fn reminder_at(expires_at: Option<Timestamp>, reminder_before: Duration) -> Option<Timestamp> {
    let at = expires_at?;
    if reminder_before.is_zero() {
        return None;
    }
    let before = SignedDuration::try_from(reminder_before).ok()?;
    at.checked_sub(before).ok()
}

/// A webhook URL. A credential: `Debug` shows only that it is one.
#[derive(Clone)]
pub struct WebhookUrl(SecretString);

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

/// Why a webhook URL is unusable. Never carries the URL.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("Secret {secret} has no key {key}")]
    KeyMissing { secret: String, key: String },
    #[error("key {key} of Secret {secret} is empty")]
    Empty { secret: String, key: String },
    #[error("key {key} of Secret {secret} is not UTF-8 text")]
    NotText { secret: String, key: String },
    #[error("key {key} of Secret {secret} is not an http(s) URL")]
    NotAUrl { secret: String, key: String },
}

impl UrlError {
    /// A CamelCase reason for conditions and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            UrlError::KeyMissing { .. } => "WebhookSecretKeyMissing",
            UrlError::Empty { .. } => "WebhookUrlEmpty",
            UrlError::NotText { .. } | UrlError::NotAUrl { .. } => "WebhookUrlInvalid",
        }
    }
}

impl WebhookUrl {
    /// Checks `url` is an absolute http(s) URL; the error names `secret`/`key`, not the value.
    pub fn parse(url: &str, secret: &str, key: &str) -> Result<Self, UrlError> {
        let names = || (secret.to_string(), key.to_string());
        let url = url.trim();
        if url.is_empty() {
            let (secret, key) = names();
            return Err(UrlError::Empty { secret, key });
        }
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {
                Ok(Self(SecretString::from(url.to_string())))
            }
            _ => {
                let (secret, key) = names();
                Err(UrlError::NotAUrl { secret, key })
            }
        }
    }
}

/// The webhook URL under `key` of `secret` (`data`, or `stringData` of an object not yet stored).
pub fn webhook_url_from_secret(secret: &Secret, key: &str) -> Result<WebhookUrl, UrlError> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let text = if let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(key)) {
        String::from_utf8(bytes.0.clone()).map_err(|_| UrlError::NotText {
            secret: name.clone(),
            key: key.to_string(),
        })?
    } else if let Some(s) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
        s.clone()
    } else {
        return Err(UrlError::KeyMissing {
            secret: name,
            key: key.to_string(),
        });
    };
    WebhookUrl::parse(&text, &name, key)
}

/// How a delivery ended, for the caller's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Accepted (2xx) after `attempts` tries.
    Delivered { attempts: u32 },
    /// Given up after `attempts` tries; the last failure.
    Failed { attempts: u32, last: Failure },
    /// Not queued: the queue was full (or the sender has stopped).
    Dropped,
}

impl DeliveryOutcome {
    /// `delivered`, `failed` or `dropped`, for a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered { .. } => "delivered",
            DeliveryOutcome::Failed { .. } => "failed",
            DeliveryOutcome::Dropped => "dropped",
        }
    }
}

/// Why one attempt failed: a kind, never a message (reqwest's include the URL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// An HTTP status other than 2xx.
    Status(u16),
    Timeout,
    Connect,
    /// Any other transport error.
    Transport,
}

impl Failure {
    fn retryable(self) -> bool {
        match self {
            Failure::Status(s) => s == 408 || s == 429 || s >= 500,
            Failure::Timeout | Failure::Connect | Failure::Transport => true,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status(s) => write!(f, "HTTP {s}"),
            Failure::Timeout => f.write_str("timeout"),
            Failure::Connect => f.write_str("connection failed"),
            Failure::Transport => f.write_str("transport error"),
        }
    }
}

/// Called once per message with how it ended (for metrics); must not block.
pub type Observer = Arc<dyn Fn(NoticeKind, DeliveryOutcome) + Send + Sync>;

/// Sender settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Messages waiting at most; more are dropped.
    pub queue: usize,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Tries per message, the first included.
    pub attempts: u32,
    /// First retry delay; doubles per try up to `backoff_cap` (a 429's Retry-After wins, capped
    /// too).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Per request.
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            queue: 256,
            concurrency: 4,
            attempts: 5,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why the sender could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(&'static str),
}

struct Delivery {
    url: WebhookUrl,
    message: Message,
}

/// The handle the controller keeps; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Delivery>,
    observer: Option<Observer>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Starts the background sender on the current tokio runtime. It stops when every
    /// [`Notifier`] clone is dropped and the queue is drained.
    pub fn start(
        config: Config,
        observer: Option<Observer>,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StartError> {
        let tls = tls_config()?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("monday-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| StartError::Client("reqwest refused the configuration"))?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(client, config, rx, observer.clone()));
        Ok((
            Self {
                tx,
                observer,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            task,
        ))
    }

    /// Queues `message` for `url` and returns at once; `false` when it was dropped (queue full).
    pub fn notify(&self, url: WebhookUrl, message: Message) -> bool {
        let kind = message.notice.kind();
        let (ns, name) = (message.grant.namespace.clone(), message.grant.name.clone());
        match self.tx.try_send(Delivery { url, message }) {
            Ok(()) => true,
            Err(_) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    namespace = %ns,
                    grant = %name,
                    event = kind.as_str(),
                    dropped_total = n,
                    "notification dropped: the webhook queue is full"
                );
                if let Some(o) = &self.observer {
                    o(kind, DeliveryOutcome::Dropped);
                }
                false
            }
        }
    }

    /// Messages dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn run(
    client: reqwest::Client,
    config: Config,
    mut rx: mpsc::Receiver<Delivery>,
    observer: Option<Observer>,
) {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(d) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let (client, config, observer) = (client.clone(), config.clone(), observer.clone());
        tasks.spawn(async move {
            let kind = d.message.notice.kind();
            let outcome = deliver(&client, &config, &d).await;
            match outcome {
                DeliveryOutcome::Delivered { attempts } => tracing::debug!(
                    namespace = %d.message.grant.namespace,
                    grant = %d.message.grant.name,
                    event = kind.as_str(),
                    attempts,
                    "notification delivered"
                ),
                DeliveryOutcome::Failed { attempts, last } => tracing::warn!(
                    namespace = %d.message.grant.namespace,
                    grant = %d.message.grant.name,
                    event = kind.as_str(),
                    attempts,
                    last = %last,
                    "notification not delivered; giving up"
                ),
                DeliveryOutcome::Dropped => {}
            }
            if let Some(o) = &observer {
                o(kind, outcome);
            }
            drop(permit);
        });
        // Reap finished deliveries so the set does not grow.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn deliver(client: &reqwest::Client, config: &Config, d: &Delivery) -> DeliveryOutcome {
    let body = payload(&d.message);
    let attempts = config.attempts.max(1);
    let mut delay = config.backoff_base;
    let mut last = Failure::Transport;
    for attempt in 1..=attempts {
        let sent = client
            .post(d.url.0.expose_secret())
            .json(&body)
            .send()
            .await;
        let retry_after = match sent {
            Ok(resp) if resp.status().is_success() => {
                return DeliveryOutcome::Delivered { attempts: attempt };
            }
            Ok(resp) => {
                last = Failure::Status(resp.status().as_u16());
                resp.headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
            }
            Err(e) => {
                // Never display `e`: it carries the URL.
                last = if e.is_timeout() {
                    Failure::Timeout
                } else if e.is_connect() {
                    Failure::Connect
                } else {
                    Failure::Transport
                };
                None
            }
        };
        if !last.retryable() || attempt == attempts {
            return DeliveryOutcome::Failed {
                attempts: attempt,
                last,
            };
        }
        tracing::debug!(
            namespace = %d.message.grant.namespace,
            grant = %d.message.grant.name,
            attempt,
            failure = %last,
            "notification attempt failed; retrying"
        );
        let wait = retry_after.unwrap_or(delay).min(config.backoff_cap);
        tokio::time::sleep(wait).await;
        delay = (delay * 2).min(config.backoff_cap);
    }
    DeliveryOutcome::Failed { attempts, last }
}

fn tls_config() -> Result<rustls::ClientConfig, StartError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|_| StartError::Client("cannot load the platform's TLS trust roots"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| StartError::Client("no usable TLS protocol versions"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
