//! What this connector tells ConductorOne about itself in `Hello`: name, description,
//! capabilities per resource type (exactly what the task handlers support), the account-creation
//! schema, and the action schemas.
//!
//! Capabilities are computed the SDK's way (`connectorbuilder.GetCapabilities`): every type can
//! SYNC; PROVISION where grant/revoke work; ACCOUNT_PROVISIONING where accounts are created;
//! RESOURCE_DELETE + RESOURCE_CREATE where resources are managed; connector-level capabilities are
//! their union plus ACTIONS, sorted. We announce no TARGETED_SYNC (our sync is always full). The
//! provisioning switch does not change what is announced (as in the SDK).

use std::collections::BTreeMap;

use crate::conductorone::pb::{
    self, ActionType, BatonActionSchema, Capability, ConfigField, ConnectorAccountCreationSchema,
    ConnectorCapabilities, ConnectorMetadata, CredentialDetails,
    CredentialDetailsAccountProvisioning, CredentialOption, ResourceTypeCapability,
    account_creation_schema as acs, config_field,
};
use crate::engine::mapping::{self, BOARD, ROLE, TEAM, USER, WORKSPACE};

/// Name shown in ConductorOne.
pub const DISPLAY_NAME: &str = "Monday.com";

/// Action that reactivates a deactivated account.
pub const ENABLE_USER: &str = "enable_user";
/// Action that deactivates an account.
pub const DISABLE_USER: &str = "disable_user";
/// The actions' one argument: the user, as a Baton resource id.
pub const USER_ARG: &str = "user_id";

/// The account-creation schema's fields (also read back by `create_account`).
pub const ACCOUNT_EMAIL: &str = "email";
pub const ACCOUNT_ROLE: &str = "role";

/// Capabilities per resource type, in the SDK's order within a type.
fn capabilities(resource_type: &str) -> Vec<Capability> {
    match resource_type {
        USER => vec![Capability::Sync, Capability::AccountProvisioning],
        TEAM => vec![
            Capability::Sync,
            Capability::Provision,
            Capability::ResourceDelete,
            Capability::ResourceCreate,
        ],
        ROLE | WORKSPACE | BOARD => vec![Capability::Sync, Capability::Provision],
        _ => vec![Capability::Sync],
    }
}

/// `ConnectorMetadata` for `Hello`.
pub fn connector_metadata() -> ConnectorMetadata {
    let mut types = mapping::all_resource_types();
    types.sort_by(|a, b| a.id.cmp(&b.id));
    let mut connector_caps: Vec<i32> = Vec::new();
    let resource_type_capabilities = types
        .into_iter()
        .map(|rt| {
            let caps: Vec<i32> = capabilities(&rt.id).into_iter().map(|c| c as i32).collect();
            connector_caps.extend(&caps);
            ResourceTypeCapability {
                resource_type: Some(rt),
                capabilities: caps,
                opt_in_required: false,
                skip_sync_anomaly_detection: false,
                deprecated: false,
            }
        })
        .collect();
    connector_caps.push(Capability::Actions as i32);
    connector_caps.sort_unstable();
    connector_caps.dedup();
    ConnectorMetadata {
        display_name: DISPLAY_NAME.into(),
        help_url: String::new(),
        profile: None,
        annotations: Vec::new(),
        description: "Monday.com accounts, base roles, teams, workspaces and boards with their \
                      owners, subscribers and members, run by monday-operator"
            .into(),
        capabilities: Some(ConnectorCapabilities {
            resource_type_capabilities,
            connector_capabilities: connector_caps,
            credential_details: Some(CredentialDetails {
                capability_account_provisioning: Some(CredentialDetailsAccountProvisioning {
                    supported_credential_options: vec![CredentialOption::NoPassword as i32],
                    preferred_credential_option: CredentialOption::NoPassword as i32,
                }),
            }),
        }),
        account_creation_schema: Some(account_creation_schema()),
    }
}

/// Monday creates accounts by invitation: an email and the base role to invite with.
pub fn account_creation_schema() -> ConnectorAccountCreationSchema {
    let mut field_map = BTreeMap::new();
    field_map.insert(
        ACCOUNT_EMAIL.to_string(),
        acs::Field {
            display_name: "Email".into(),
            required: true,
            description: "Address the Monday.com invitation is sent to".into(),
            placeholder: "alice@example.com".into(),
            order: 1,
            deprecated: false,
            field: Some(acs::FieldKind::StringField(acs::StringField {
                default_value: None,
            })),
        },
    );
    field_map.insert(
        ACCOUNT_ROLE.to_string(),
        acs::Field {
            display_name: "Base role".into(),
            required: false,
            description: "The account's Monday.com base role: admin, member, viewer or guest"
                .into(),
            placeholder: "member".into(),
            order: 2,
            deprecated: false,
            field: Some(acs::FieldKind::StringField(acs::StringField {
                default_value: Some("member".into()),
            })),
        },
    );
    ConnectorAccountCreationSchema { field_map }
}

fn user_argument() -> ConfigField {
    ConfigField {
        name: USER_ARG.into(),
        display_name: "User".into(),
        description: "The Monday.com user (resource user:<id>)".into(),
        placeholder: String::new(),
        is_required: true,
        field: Some(config_field::Kind::ResourceIdField(pb::Opaque {})),
    }
}

fn success_return() -> ConfigField {
    ConfigField {
        name: "success".into(),
        display_name: "Success".into(),
        description: String::new(),
        placeholder: String::new(),
        is_required: false,
        field: Some(config_field::Kind::BoolField(pb::Opaque {})),
    }
}

/// The two account actions (global: `resource_type_id` empty).
pub fn action_schemas() -> Vec<BatonActionSchema> {
    vec![
        BatonActionSchema {
            name: ENABLE_USER.into(),
            arguments: vec![user_argument()],
            return_types: vec![success_return()],
            display_name: "Enable user".into(),
            description: "Reactivates a deactivated Monday.com account".into(),
            action_type: vec![ActionType::AccountEnable as i32],
            resource_type_id: String::new(),
        },
        BatonActionSchema {
            name: DISABLE_USER.into(),
            arguments: vec![user_argument()],
            return_types: vec![success_return()],
            display_name: "Disable user".into(),
            description: "Deactivates a Monday.com account (it keeps its data)".into(),
            action_type: vec![ActionType::AccountDisable as i32],
            resource_type_id: String::new(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_what_we_support_sorted_like_the_sdk() {
        let md = connector_metadata();
        let caps = md.capabilities.expect("capabilities");
        let ids: Vec<&str> = caps
            .resource_type_capabilities
            .iter()
            .map(|c| c.resource_type.as_ref().expect("type").id.as_str())
            .collect();
        assert_eq!(ids, ["board", "role", "team", "user", "workspace"]);
        let team = &caps.resource_type_capabilities[2];
        assert_eq!(
            team.capabilities,
            [
                Capability::Sync as i32,
                Capability::Provision as i32,
                Capability::ResourceDelete as i32,
                Capability::ResourceCreate as i32
            ]
        );
        assert_eq!(
            caps.connector_capabilities,
            [1, 2, 5, 7, 8, 10],
            "PROVISION, SYNC, ACCOUNT_PROVISIONING, RESOURCE_CREATE, RESOURCE_DELETE, ACTIONS"
        );
        assert!(!md.display_name.is_empty() && md.description.len() <= 4096);
    }
}
