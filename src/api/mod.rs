//! Kubernetes API types: the custom resources this operator serves and their condition helpers.
//!
//! This module never talks to the network; everything here is plain data plus schema.

pub mod access_approval;
pub mod access_grant;
pub mod access_policy;
pub mod conditions;
pub mod connector;
pub mod identity;

pub use access_approval::{MondayAccessApproval, MondayAccessApprovalSpec};
pub use access_grant::{MondayAccessGrant, MondayAccessGrantSpec, MondayAccessGrantStatus};
pub use access_policy::{MondayAccessPolicy, MondayAccessPolicySpec};
pub use connector::{MondayConnector, MondayConnectorSpec, MondayConnectorStatus};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// API group of every kind this operator serves.
pub const GROUP: &str = "iga.monday-operator.dev";
/// The only served version.
pub const VERSION: &str = "v1alpha1";
/// Field manager name used for every server-side apply this operator makes.
pub const FIELD_MANAGER: &str = "monday-operator";

/// Every CRD this operator installs, in a stable order (used by `monday-operator crd` and `crds/`).
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        MondayConnector::crd(),
        MondayAccessGrant::crd(),
        MondayAccessPolicy::crd(),
        MondayAccessApproval::crd(),
    ]
}

/// Renders all CRDs as one multi-document YAML stream, exactly as written to `crds/`.
pub fn crds_yaml() -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}
