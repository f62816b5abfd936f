//! `MondayAccessGrant`: one entitlement for one principal, for a bounded time (or until deleted).
//!
//! The spec is validated by the apiserver (CEL), so a malformed entitlement or an ambiguous
//! principal never reaches the operator, and the spec cannot be changed after creation except to
//! extend the expiry: what was reviewed is what runs.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;
use super::identity::UserIdentity;

/// Finalizer that revokes the access before the object goes away.
pub const FINALIZER: &str = "iga.monday-operator.dev/revoke";

/// Access to grant in Monday.com, on request and for a bounded time.
///
/// The spec is immutable once created, except that `duration` or `expiresAt` may be extended.
///
/// EXPIRES is printed as an absolute RFC 3339 time: kubectl renders a future `date` column as
/// `<invalid>` (it only knows ages).
// kube-derive repeats `type_`/`priority` per printcolumn, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "iga.monday-operator.dev",
    version = "v1alpha1",
    kind = "MondayAccessGrant",
    namespaced,
    shortname = "mgrant",
    category = "monday",
    status = "MondayAccessGrantStatus",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Principal", type_ = "string", json_path = ".status.principal"),
    printcolumn(
        name = "Entitlement",
        type_ = "string",
        json_path = ".spec.entitlement"
    ),
    printcolumn(
        name = "Expires",
        type_ = "string",
        format = "date-time",
        json_path = ".status.expiresAt"
    ),
    printcolumn(
        name = "Requester",
        type_ = "string",
        json_path = ".spec.requester.username"
    ),
    printcolumn(
        name = "Approved By",
        type_ = "string",
        json_path = ".status.approval.approvedBy"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Policy",
        type_ = "string",
        priority = 1,
        json_path = ".status.approval.policy"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type=="Ready")].reason"#
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    )
)]
#[x_kube(validation = kube::core::Rule::new("!(has(self.duration) && has(self.expiresAt))").message("set duration or expiresAt, not both (neither = until deleted)"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.principal.teamId) || self.entitlement.startsWith('board:') || self.entitlement.startsWith('workspace:')").message("a team can only hold board and workspace entitlements; name a user (email or userId)"))]
#[x_kube(validation = kube::core::Rule::new("has(self.duration) == has(oldSelf.duration) && has(self.expiresAt) == has(oldSelf.expiresAt)").message("the kind of expiry cannot change after creation"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.duration) || duration(self.duration) >= duration(oldSelf.duration)").message("duration can only be extended"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.expiresAt) || timestamp(self.expiresAt) >= timestamp(oldSelf.expiresAt)").message("expiresAt can only be moved later"))]
#[x_kube(validation = kube::core::Rule::new("has(self.requester) == has(oldSelf.requester)").message("requester is set by the apiserver at creation and cannot be added or removed later"))]
#[x_kube(validation = kube::core::Rule::new("has(self.conductorOne) == has(oldSelf.conductorOne)").message("conductorOne is set at creation only (by the operator) and cannot be added or removed later"))]
#[serde(rename_all = "camelCase")]
pub struct MondayAccessGrantSpec {
    /// The MondayConnector (same namespace) whose account and token are used. It must allow
    /// provisioning (`spec.provisioning`, else the Secret's `BATON_PROVISIONING`).
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("connectorRef is immutable"))]
    pub connector_ref: ConnectorRef,

    /// Who receives the access: exactly one of `email`, `userId`, `teamId`.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("principal is immutable"))]
    pub principal: GrantPrincipal,

    /// A Baton entitlement ID: `role:<admin|member|viewer|guest>:assigned` (the user's single base
    /// role; expiry restores the previous one), `team:<id>:member|owner`,
    /// `workspace:<id>:owner|subscriber`, `board:<id>:owner|subscriber`; or an account-lifecycle
    /// entitlement (users only): `account:active` (reactivate, or invite with `createAccount`;
    /// expiry or deletion deactivates) or `account:deactivated` (deactivate; expiry or deletion
    /// reactivates). Pending invitations can be neither deactivated nor activated.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("entitlement is immutable"))]
    #[x_kube(validation = kube::core::Rule::new(format!("self.matches('{}')", crate::engine::provision::entitlement_pattern())).message(format!("entitlement must be one of {}", crate::engine::provision::entitlement_forms()).as_str()))]
    #[schemars(length(max = 64))]
    pub entitlement: String,

    /// How long the access lasts from the moment it is granted (Go duration: `30m`, `8h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new(format!("self.matches('{}') && duration(self) >= duration('1s')", crate::time::GO_DURATION_PATTERN)).message("duration must be a Go duration such as 30m or 8h, at least 1s"))]
    #[schemars(length(max = 32))]
    pub duration: Option<String>,

    /// When the access ends (RFC 3339). Mutually exclusive with `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$')").message("expiresAt must be an RFC 3339 time such as 2026-12-01T18:00:00Z"))]
    #[schemars(length(max = 40))]
    pub expires_at: Option<String>,

    /// Invite `principal.email` (pending until accepted) when no account has it. Role grants
    /// invite with that role; others as member.
    #[serde(default)]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("createAccount is immutable"))]
    pub create_account: bool,

    /// Why the access is needed (ticket, incident); kept for audit. A MondayAccessPolicy rule may
    /// require it to match a pattern (`reasonPattern`, e.g. a ticket id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("reason is immutable"))]
    #[schemars(length(max = 1024))]
    pub reason: Option<String>,

    /// Who created this request, written by the apiserver at creation from `request.userInfo`
    /// (the chart's MutatingAdmissionPolicy), never by the requester: a value that is not the
    /// creating user is rejected, and it cannot change afterwards. Absent on grants created before
    /// the admission policies were installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("requester is immutable"))]
    pub requester: Option<UserIdentity>,

    /// Marks a grant that ConductorOne approved and sent as a grant task: only the operator's own
    /// ServiceAccount may set it (a ValidatingAdmissionPolicy rejects anyone else), and in-cluster
    /// MondayAccessPolicies do not apply to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("conductorOne is immutable"))]
    pub conductor_one: Option<ConductorOneOrigin>,
}

/// Where a ConductorOne grant came from.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConductorOneOrigin {
    /// The ConductorOne task id of the grant task.
    #[schemars(length(min = 1, max = 64))]
    pub task_id: String,
}

/// Reference to a MondayConnector in the same namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorRef {
    /// Name of the MondayConnector.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Exactly one of the three.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("(has(self.email) ? 1 : 0) + (has(self.userId) ? 1 : 0) + (has(self.teamId) ? 1 : 0) == 1").message("principal needs exactly one of email, userId, teamId"))]
pub struct GrantPrincipal {
    /// A user's email (case-insensitive); with `createAccount` it may be new to the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[^@\\\\s]+@[^@\\\\s]+$')").message("email must look like name@domain"))]
    #[schemars(length(max = 254))]
    pub email: Option<String>,
    /// A Monday user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9]{1,20}$')").message("userId must be a numeric Monday user id"))]
    #[schemars(length(max = 20))]
    pub user_id: Option<String>,
    /// A Monday team id (`-1` = everyone at the account); boards and workspaces only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^(-1|[0-9]{1,20})$')").message("teamId must be a numeric Monday team id or -1"))]
    #[schemars(length(max = 20))]
    pub team_id: Option<String>,
}

/// Lifecycle of an access grant.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    /// Not granted yet (waiting for the connector, provisioning, or a retry).
    #[default]
    Pending,
    /// What the principal held is recorded and the grant is under way: Monday may already have
    /// the access, so deleting the object revokes it.
    Granting,
    /// Monday has the access.
    Granted,
    /// The expiry passed and the access was revoked (or was pre-existing and left alone).
    Expired,
    /// Revoked before expiry (deleting the object).
    Revoked,
    /// The grant cannot succeed without someone changing something (see the Ready condition).
    Failed,
    /// The governing MondayAccessPolicy rule needs more approvals (MondayAccessApprovals) first.
    AwaitingApproval,
    /// No rule allows the request, an approver denied it, or the approval timed out; any access
    /// it held is revoked. Terminal: create a new request.
    Denied,
}

/// Observed state, written only by the operator.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MondayAccessGrantStatus {
    /// Pending, AwaitingApproval, Granting, Granted, Expired, Revoked, Denied or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (the desired access is in place, or has ended as planned) with an actionable reason.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::conditions::schema")]
    pub conditions: Vec<Condition>,
    /// The principal as shown by `kubectl get`: the email, `user:<id>` or `team:<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Baton grant ID `<entitlement>:<user|team>:<id>`, as it appears in the connector's snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The resolved Monday user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When Monday got the access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<Time>,
    /// When the access ends; the operator revokes from this stored value, so restarts and
    /// leader changes keep the deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// When the access was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Time>,
    /// The principal had this access before the request; it is never revoked by this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_existing: Option<bool>,
    /// What the grant replaced and revocation restores: the base role for role grants, or
    /// `member` / `subscriber` when an owner grant upgraded an existing membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_role: Option<String>,
    /// The account was created (invited) for this grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_invited: Option<bool>,
    /// How the request was decided under the namespace's MondayAccessPolicies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<GrantApproval>,
}

/// The policy decision of a grant, written by the operator. The approved version stays approved
/// when policies change later; a newer version (an extension) needs its own approval.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GrantApproval {
    /// The MondayAccessPolicy whose rule governs this grant; approvals name it in
    /// `spec.policyRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The name of that rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// How the version in force was allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<ApprovalBasis>,
    /// The `metadata.generation` (version of the request) that is approved and in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_generation: Option<i64>,
    /// Who approved it, for `kubectl get`: user names, `<name> (break-glass)`, `ConductorOne`,
    /// `policy <name>` (no approval required), `no policy` or `before policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The user names whose MondayAccessApprovals were counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// When that version was approved (the counted approval that completed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<Time>,
    /// The longest access that version may have, counted from the grant (the rule's
    /// `maxDuration`, or break-glass's); unset: no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    /// A version waiting for approval (the first request, or an extension of approved access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_generation: Option<i64>,
    /// Since when that version waits; it times out at `deadline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_since: Option<Time>,
    /// When the waiting version is denied (or, for an extension, given up) unless approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Time>,
    /// Why the request was denied; a denied request stays denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied: Option<GrantDenial>,
    /// Approvals naming this grant that were not counted, and why (at most 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub ignored: Vec<IgnoredApproval>,
}

/// How a version of a request came to be allowed.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalBasis {
    /// Enough distinct approvers of the governing rule approved it.
    Approvals,
    /// The requester approved their own request under a rule that allows break-glass.
    BreakGlass,
    /// The governing rule requires no approval (`requiredApprovals: 0`).
    Policy,
    /// The namespace has no MondayAccessPolicy (the operator's default lets it through, with a
    /// warning).
    NoPolicy,
    /// ConductorOne approved it; in-cluster policy does not apply.
    ConductorOne,
    /// The access was granted before this operator version enforced policies.
    GrantedBeforePolicy,
}

/// A terminal denial.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GrantDenial {
    /// The generation that was denied.
    pub generation: i64,
    /// CamelCase reason, e.g. `NoRuleAllows`, `DeniedByApprover`, `ApprovalTimedOut`.
    pub reason: String,
    /// What happened, naming the rule, approver or limit.
    pub message: String,
}

/// A MondayAccessApproval that was not counted.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredApproval {
    /// Name of the MondayAccessApproval.
    pub name: String,
    /// Its approver, when stamped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// CamelCase reason, e.g. `SelfApproval`, `OtherVersion`, `NotAnApprover`.
    pub reason: String,
}
