//! `MondayAccessPolicy`: what may be requested in a namespace, for how long, with what
//! justification and whose approval.
//!
//! The operator decides each MondayAccessGrant against the policies of its namespace with the
//! pure function [`crate::controller::policy::decide`]; the apiserver checks who approves (verb
//! `approve` on this resource, by name) when a MondayAccessApproval is created.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::identity::Subjects;

/// The custom RBAC verb an approver needs on `mondayaccesspolicies/<name>` to create a
/// MondayAccessApproval that names the policy.
pub const APPROVE_VERB: &str = "approve";

/// The default of `approvalTimeout`.
pub const DEFAULT_APPROVAL_TIMEOUT: &str = "24h";
/// The default of `notifications.reminderBefore`.
pub const DEFAULT_REMINDER_BEFORE: &str = "15m";
/// The Secret key that holds the webhook URL unless `notifications.webhook.secretRef.key` says
/// otherwise.
pub const DEFAULT_WEBHOOK_KEY: &str = "url";

/// The CEL shape of an entitlement pattern: `*`, or a resource type followed by one or two
/// `:`-separated parts, each made of id characters and `*`.
const PATTERN_RULE: &str =
    "self == '*' || self.matches('^(role|team|workspace|board|account)(:[-a-zA-Z0-9_*]+){1,2}$')";

/// Rules for the MondayAccessGrants of this namespace.
///
/// A grant is governed by the first rule (policies by name, rules in order) that allows it; when
/// none does it is Denied with a message naming the closest rule. A namespace without any policy
/// keeps the behaviour from before policies (granted on creation, with a warning condition); a
/// policy with no rules denies every request.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "iga.monday-operator.dev",
    version = "v1alpha1",
    kind = "MondayAccessPolicy",
    namespaced,
    shortname = "mpolicy",
    category = "monday",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MondayAccessPolicySpec {
    /// Rules, tried in order; the first that allows a request governs it. Names are unique.
    #[serde(default)]
    #[schemars(length(max = 64))]
    #[x_kube(validation = kube::core::Rule::new("self.all(r, self.exists_one(s, s.name == r.name))").message("rule names must be unique within a policy"))]
    pub rules: Vec<AccessRule>,

    /// Where to announce requests, decisions, grants, upcoming expiry and expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Notifications>,
}

/// One kind of access, who may ask for it and on what terms.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.breakGlass) || !self.breakGlass.enabled || !has(self.maxDuration) || duration(self.breakGlass.maxDuration) <= duration(self.maxDuration)").message("breakGlass.maxDuration must not exceed maxDuration"))]
pub struct AccessRule {
    /// Name of the rule (a DNS label), unique in the policy; grant status, Events and messages
    /// name it.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("rule name must be a DNS label (lowercase letters, digits, '-')"))]
    pub name: String,

    /// The entitlements this rule covers; a request matches when any entry does.
    #[schemars(length(min = 1, max = 64))]
    pub entitlements: Vec<EntitlementMatch>,

    /// Who may request under this rule (user names, groups). Unset: anyone allowed by RBAC to
    /// create MondayAccessGrants in the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requesters: Option<Subjects>,

    /// The longest the access may last, counted from the moment it is granted (Go duration,
    /// e.g. `8h`). Caps every expiry: a longer `duration`/`expiresAt` is shortened to it (the
    /// status says so), and extensions cannot go past it. Unset: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('1m')").message("maxDuration must be a duration such as 8h, at least 1m"))]
    #[schemars(length(max = 32))]
    pub max_duration: Option<String>,

    /// Whether a request without `duration` or `expiresAt` (access until deleted) is allowed.
    /// Default false: such a request is Denied.
    #[serde(default)]
    pub allow_permanent: bool,

    /// How many distinct approvers must approve (MondayAccessApproval with `decision: Approve`)
    /// before access is granted. 0: granted without approval, within this rule's limits.
    #[serde(default = "default_required_approvals")]
    #[x_kube(validation = kube::core::Rule::new("self >= 0 && self <= 10").message("requiredApprovals must be between 0 and 10"))]
    pub required_approvals: i32,

    /// Who may approve (user names, groups). The apiserver also requires verb `approve` on this
    /// policy. Unset: anyone holding that permission. The requester's own approval never counts,
    /// except as break-glass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Subjects>,

    /// A regular expression (RE2 syntax, unanchored: use `^...$` for the whole text) that the
    /// grant's `reason` must match, e.g. `^(INC|CHG)-[0-9]+` for a ticket id. Unset: any reason,
    /// or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub reason_pattern: Option<String>,

    /// Emergency access: an approver of this rule may approve their own request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,

    /// How long a request may wait for its approvals (Go duration). A first request still
    /// waiting then is Denied (`ApprovalTimedOut`); a waiting extension is given up and the access
    /// ends at its approved expiry. Default `24h`.
    #[serde(default = "default_approval_timeout")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('1m')").message("approvalTimeout must be a duration such as 24h, at least 1m"))]
    #[schemars(length(max = 32))]
    pub approval_timeout: String,
}

/// Entitlements a rule covers.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.workspaceIds) || size(self.workspaceIds) == 0 || self.pattern.startsWith('board:')").message("workspaceIds applies to board patterns only (board:...); for a workspace's own entitlements use workspace:<id>:*"))]
pub struct EntitlementMatch {
    /// A pattern over the Baton entitlement id (see MondayAccessGrant `spec.entitlement`), where
    /// `*` matches any run of characters: `role:admin:assigned`, `board:*:subscriber`, `board:*`,
    /// `workspace:7:*`, `team:12:member`, `account:*`, or `*` for everything.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = kube::core::Rule::new(PATTERN_RULE).message("pattern must be '*' or start with role:, team:, workspace:, board: or account: followed by ids, slugs or '*' (e.g. board:*:subscriber)"))]
    pub pattern: String,

    /// Boards only: the board must be in one of these Monday workspaces (ids). A board's
    /// entitlement id does not name its workspace, so the operator looks it up in Monday when it
    /// decides; boards of the main workspace belong to none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(regex(pattern = r"^[0-9]{1,20}$")))]
    pub workspace_ids: Vec<String>,
}

/// Break-glass: loud, short, self-approved access for emergencies.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlass {
    /// Allow it. A break-glass approval (the requester approving their own request, as an
    /// approver of the rule) approves alone, caps the access at `maxDuration`, and raises a
    /// Warning Event and the `break_glass_total` metric.
    #[serde(default)]
    pub enabled: bool,

    /// Cap of break-glass access from the moment it is granted (Go duration, e.g. `1h`); must
    /// not exceed the rule's `maxDuration`.
    #[x_kube(validation = kube::core::Rule::new("self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('1m')").message("breakGlass.maxDuration must be a duration such as 1h, at least 1m"))]
    #[schemars(length(max = 32))]
    pub max_duration: String,
}

/// Notifications about the grants this policy governs.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Notifications {
    /// A Slack-compatible incoming webhook (JSON `{"text": ...}` plus structured fields).
    pub webhook: Webhook,

    /// How long before expiry a reminder is sent (Go duration). Default `15m`; `0s`: none.
    #[serde(default = "default_reminder_before")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^(0|([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$')").message("reminderBefore must be a duration such as 15m, or 0s for none"))]
    #[schemars(length(max = 32))]
    pub reminder_before: String,
}

/// Where the webhook URL is kept.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// The Secret (in the policy's namespace) holding the webhook URL. The URL is a credential:
    /// the operator never logs it or puts it in status or Events.
    pub secret_ref: WebhookSecretRef,
}

/// A key of a Secret in the policy's namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the URL. Default `url`.
    #[serde(default = "default_webhook_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_required_approvals() -> i32 {
    1
}

fn default_approval_timeout() -> String {
    DEFAULT_APPROVAL_TIMEOUT.to_string()
}

fn default_reminder_before() -> String {
    DEFAULT_REMINDER_BEFORE.to_string()
}

fn default_webhook_key() -> String {
    DEFAULT_WEBHOOK_KEY.to_string()
}
