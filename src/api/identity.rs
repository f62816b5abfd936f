//! Who asked and who approved: a Kubernetes user as the apiserver authenticated it.
//!
//! These fields are written by the apiserver at admission (a MutatingAdmissionPolicy copies
//! `request.userInfo`, a ValidatingAdmissionPolicy rejects any other value), never typed by the
//! person they describe; see the README's "Policy and approvals" section.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A Kubernetes user as authenticated by the apiserver when the object was created.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// The user name (`request.userInfo.username`), e.g. `alice` or
    /// `system:serviceaccount:<namespace>:<name>`.
    #[schemars(length(min = 1, max = 512))]
    pub username: String,
    /// The user's groups at that moment (`request.userInfo.groups`), e.g. `system:authenticated`.
    #[serde(default)]
    #[schemars(length(max = 256), inner(length(max = 512)))]
    pub groups: Vec<String>,
}

impl UserIdentity {
    /// Whether this user is named in `users` or belongs to one of `groups`.
    pub fn is_among(&self, users: &[String], groups: &[String]) -> bool {
        users.iter().any(|u| u == &self.username) || self.groups.iter().any(|g| groups.contains(g))
    }
}

/// A set of users and groups (who may request, who may approve).
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Subjects {
    /// User names, exactly as the apiserver authenticates them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 512)))]
    pub users: Vec<String>,
    /// Group names; a user in any of them is included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 512)))]
    pub groups: Vec<String>,
}

impl Subjects {
    /// No users and no groups.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Whether `who` is one of these users or in one of these groups.
    pub fn includes(&self, who: &UserIdentity) -> bool {
        who.is_among(&self.users, &self.groups)
    }
}
