//! `MondayAccessApproval`: one approver's decision on one version of one MondayAccessGrant.
//!
//! The apiserver stamps the approver (like a grant's requester), rejects approvers without verb
//! `approve` on the named MondayAccessPolicy, and rejects any change after creation. The operator
//! counts it only for the grant version it names, under the policy rule that governs that grant.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::identity::UserIdentity;

/// An approver's decision on a MondayAccessGrant (same namespace). Immutable: to change your mind
/// delete it and create another (a deny decides at once).
// kube-derive repeats `type_`/`priority` per printcolumn, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "iga.monday-operator.dev",
    version = "v1alpha1",
    kind = "MondayAccessApproval",
    namespaced,
    shortname = "mapproval",
    category = "monday",
    printcolumn(name = "Grant", type_ = "string", json_path = ".spec.grantRef.name"),
    printcolumn(
        name = "Generation",
        type_ = "integer",
        json_path = ".spec.grantRef.generation"
    ),
    printcolumn(name = "Decision", type_ = "string", json_path = ".spec.decision"),
    printcolumn(
        name = "Approver",
        type_ = "string",
        json_path = ".spec.approver.username"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Comment",
        type_ = "string",
        priority = 1,
        json_path = ".spec.comment"
    )
)]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("an approval cannot be changed after creation; delete it and create a new one"))]
#[serde(rename_all = "camelCase")]
pub struct MondayAccessApprovalSpec {
    /// The grant and the exact version of its request being decided.
    pub grant_ref: GrantVersionRef,

    /// The MondayAccessPolicy under which you approve: the one in the grant's
    /// `status.approval.policy`. You need verb `approve` on it (`mondayaccesspolicies`, by name).
    pub policy_ref: PolicyRef,

    /// `Approve` or `Deny`. A deny by an approver of the governing rule decides: the request (or
    /// the extension it names) is denied, whatever other approvals say.
    pub decision: ApprovalDecision,

    /// Why, for the audit trail and the notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub comment: Option<String>,

    /// Who approves, written by the apiserver at creation from `request.userInfo`; a value that
    /// is not the creating user is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<UserIdentity>,
}

/// One version of one grant: a version is the grant's `metadata.uid` plus its
/// `metadata.generation`, which moves with every change of the spec (an extension), and not with
/// status or metadata changes. `kubectl get mgrant <name> -o
/// jsonpath='{.metadata.uid} {.metadata.generation}'` prints both.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GrantVersionRef {
    /// Name of the MondayAccessGrant in this namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Its `metadata.uid`: an approval never carries over to a new object of the same name.
    #[schemars(length(min = 1, max = 64))]
    pub uid: String,
    /// Its `metadata.generation` when you reviewed it: an approval never carries over to an
    /// extension made afterwards.
    #[x_kube(validation = kube::core::Rule::new("self >= 1").message("generation is the grant's metadata.generation, 1 or more"))]
    pub generation: i64,
}

/// A MondayAccessPolicy in this namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    /// Name of the MondayAccessPolicy.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// What the approver decided.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalDecision {
    /// Counts towards the rule's `requiredApprovals`.
    Approve,
    /// Denies the version named.
    Deny,
}
