//! Act, for notifications: a reconcile's notices go to the governing policy's webhook through the
//! [`Notifier`], whose bounded queue never makes a grant or a revoke wait. The URL is read from
//! the policy's Secret only when there is something to send; a Secret that gives no usable URL is
//! reported on the policy (Warning `WebhookUnavailable`) and counted, and its value is never
//! logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};

use super::kit::Context;
use super::plan;
use crate::api::access_grant::MondayAccessGrantStatus;
use crate::api::{MondayAccessGrant, MondayAccessPolicy};
use crate::controller::events::Note;
use crate::controller::notify::{
    Config, GrantFacts, Message, Notice, NoticeKind, Notifier, Observer, WebhookUrl,
    webhook_url_from_secret,
};
use crate::metrics::Metrics;
use crate::reason::Reason;

/// The metric outcome of a notice that could not be queued for lack of a usable webhook.
const UNAVAILABLE: &str = "unavailable";

/// The notification side of the grant controller.
pub struct Notices {
    notifier: Option<Notifier>,
    metrics: Arc<Metrics>,
    /// The expiry each grant (by uid) was reminded of: the reminder is due during a window of
    /// reconciles and goes out once per expiry (once more after a restart).
    reminded: Mutex<HashMap<String, Timestamp>>,
}

impl Notices {
    /// Starts the webhook sender (its deliveries feed `notifications_total`). Without one (no
    /// TLS trust roots) notifications are off, and everything else works.
    pub fn start(metrics: Arc<Metrics>) -> Self {
        let counts = metrics.clone();
        let observer: Observer = Arc::new(move |kind: NoticeKind, outcome| {
            counts.count_notification(kind.as_str(), outcome.as_str())
        });
        let notifier = match Notifier::start(Config::default(), Some(observer)) {
            Ok((notifier, _task)) => Some(notifier),
            Err(e) => {
                tracing::error!(error = %e, "webhook notifications are off");
                None
            }
        };
        Notices {
            notifier,
            metrics,
            reminded: Mutex::default(),
        }
    }

    /// Queues `notices` about `grant` (as `status` now says) for the governing policy's webhook.
    pub async fn send(
        &self,
        ctx: &Context,
        grant: &MondayAccessGrant,
        status: &MondayAccessGrantStatus,
        notices: Vec<Notice>,
    ) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let notices = self.once(grant, status, notices);
        if notices.is_empty() {
            return;
        }
        let Some(url) = self.webhook(ctx, grant, status, &notices).await else {
            return;
        };
        let facts = facts(grant, status);
        for notice in notices {
            let message = Message {
                grant: facts.clone(),
                notice,
            };
            notifier.notify(url.clone(), message);
        }
    }

    /// Drops a reminder already sent for this expiry; forgets a grant whose access ended.
    fn once(
        &self,
        grant: &MondayAccessGrant,
        status: &MondayAccessGrantStatus,
        notices: Vec<Notice>,
    ) -> Vec<Notice> {
        let uid = grant.uid().unwrap_or_default();
        let expires = status.expires_at.as_ref().map(|t| t.0);
        let mut reminded = self.reminded.lock().unwrap_or_else(|p| p.into_inner());
        notices
            .into_iter()
            .filter(|n| match n {
                Notice::ExpiringSoon => {
                    let Some(at) = expires else { return false };
                    reminded.insert(uid.clone(), at) != Some(at)
                }
                Notice::Expired | Notice::Revoked | Notice::Denied { .. } => {
                    reminded.remove(&uid);
                    true
                }
                _ => true,
            })
            .collect()
    }

    /// The webhook of the governing policy: `None` when it has none, or it is unusable (then
    /// reported and counted).
    async fn webhook(
        &self,
        ctx: &Context,
        grant: &MondayAccessGrant,
        status: &MondayAccessGrantStatus,
        notices: &[Notice],
    ) -> Option<WebhookUrl> {
        let ns = grant.namespace()?;
        let name = status.approval.as_ref()?.policy.clone()?;
        // The operator may list and watch policies, not get them: a list of the one name.
        let policies: Api<MondayAccessPolicy> = ctx.api(&ns);
        let one = ListParams::default().fields(&format!("metadata.name={name}"));
        let policy = match policies.list(&one).await {
            Ok(list) => list.items.into_iter().next()?,
            Err(e) => {
                tracing::warn!(policy = %name, namespace = %ns, error = %e, "cannot read the policy for its webhook");
                return None;
            }
        };
        let secret_ref = &policy.spec.notifications.as_ref()?.webhook.secret_ref;
        let secrets: Api<Secret> = ctx.api(&ns);
        let problem = match secrets.get_opt(&secret_ref.name).await {
            Ok(Some(secret)) => match webhook_url_from_secret(&secret, &secret_ref.key) {
                Ok(url) => return Some(url),
                Err(e) => e.to_string(),
            },
            Ok(None) => format!("Secret {} not found", secret_ref.name),
            Err(e) => {
                tracing::warn!(secret = %secret_ref.name, namespace = %ns, error = %e, "cannot read the webhook Secret");
                return None;
            }
        };
        for n in notices {
            self.metrics
                .count_notification(n.kind().as_str(), UNAVAILABLE);
        }
        let text = format!(
            "notifications.webhook: {problem}; notifications about this policy's grants are not sent until it is fixed"
        );
        ctx.events
            .publish(
                &policy.object_ref(&()),
                &Note::warning(Reason::WebhookUnavailable, "Notify", text),
            )
            .await;
        None
    }
}

/// The facts every notification about `grant` carries.
fn facts(grant: &MondayAccessGrant, status: &MondayAccessGrantStatus) -> GrantFacts {
    let approval = status.approval.as_ref();
    GrantFacts {
        namespace: grant.namespace().unwrap_or_default(),
        name: grant.name_any(),
        uid: grant.uid().unwrap_or_default(),
        generation: grant.metadata.generation.unwrap_or_default(),
        entitlement: grant.spec.entitlement.clone(),
        principal: status
            .principal
            .clone()
            .unwrap_or_else(|| plan::principal_display(grant)),
        requester: grant.spec.requester.as_ref().map(|r| r.username.clone()),
        reason: grant.spec.reason.clone(),
        policy: approval.and_then(|a| a.policy.clone()),
        rule: approval.and_then(|a| a.rule.clone()),
        expires_at: status.expires_at.as_ref().map(|t| t.0),
    }
}
