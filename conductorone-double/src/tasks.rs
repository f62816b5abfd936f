//! Building the tasks a test queues, shaped as ConductorOne sends them (task ids are 27
//! alphanumeric characters like the SDK's KSUIDs; entitlements, principals and grants are
//! synthesized from their Baton ids as the reference document's §8 suggests).

use rand::Rng;

use crate::pb::baton::{Task, task};
use crate::pb::connector as v2;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A fresh 27-character task id.
pub fn task_id() -> String {
    let mut rng = rand::rng();
    (0..27)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn resource(resource_type: &str, id: &str) -> v2::Resource {
    v2::Resource {
        id: Some(v2::ResourceId {
            resource_type: resource_type.into(),
            resource: id.into(),
            baton_resource: false,
        }),
        display_name: format!("{resource_type} {id}"),
        ..Default::default()
    }
}

/// `"board:42:owner"` → the entitlement object ConductorOne would send.
fn entitlement(id: &str) -> v2::Entitlement {
    let mut parts = id.splitn(3, ':');
    let (rt, rid, slug) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    v2::Entitlement {
        resource: Some(resource(rt, rid)),
        id: id.into(),
        display_name: id.into(),
        slug: slug.into(),
        purpose: if slug == "owner" {
            v2::entitlement::PurposeValue::Ownership as i32
        } else {
            v2::entitlement::PurposeValue::Assignment as i32
        },
        ..Default::default()
    }
}

/// Builders for every task type a test sends.
pub struct TaskBuilder;

impl TaskBuilder {
    fn wrap(t: task::TaskType) -> Task {
        Task {
            id: task_id(),
            status: task::Status::Pending as i32,
            task_type: Some(t),
            debug: false,
        }
    }

    pub fn hello() -> Task {
        Self::wrap(task::TaskType::Hello(task::HelloTask::default()))
    }

    pub fn sync_full(opts: task::SyncFullTask) -> Task {
        Self::wrap(task::TaskType::SyncFull(opts))
    }

    /// Grant `entitlement_id` to `principal` (`"user:102"`, `"team:202"`), optionally time-bound.
    pub fn grant(entitlement_id: &str, principal: &str, duration_secs: Option<i64>) -> Task {
        let (pt, pid) = principal.split_once(':').unwrap_or((principal, ""));
        Self::wrap(task::TaskType::Grant(task::GrantTask {
            entitlement: Some(entitlement(entitlement_id)),
            principal: Some(resource(pt, pid)),
            annotations: vec![],
            duration: duration_secs.map(|s| prost_types::Duration {
                seconds: s,
                nanos: 0,
            }),
        }))
    }

    /// Revoke the grant `<entitlement>:<principal type>:<principal id>`.
    pub fn revoke(grant_id: &str) -> Task {
        let parts: Vec<&str> = grant_id.split(':').collect();
        let (ent, pt, pid) = if parts.len() >= 5 {
            (
                parts[..parts.len() - 2].join(":"),
                parts[parts.len() - 2],
                parts[parts.len() - 1],
            )
        } else {
            (grant_id.to_string(), "", "")
        };
        Self::wrap(task::TaskType::Revoke(task::RevokeTask {
            grant: Some(v2::Grant {
                entitlement: Some(entitlement(&ent)),
                principal: Some(resource(pt, pid)),
                id: grant_id.into(),
                ..Default::default()
            }),
            annotations: vec![],
        }))
    }

    /// Create (invite) an account; `profile` carries the account-creation schema's fields.
    pub fn create_account(email: &str, profile: &[(&str, &str)]) -> Task {
        let profile = prost_types::Struct {
            fields: profile
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        prost_types::Value {
                            kind: Some(prost_types::value::Kind::StringValue(v.to_string())),
                        },
                    )
                })
                .collect(),
        };
        Self::wrap(task::TaskType::CreateAccount(task::CreateAccountTask {
            account_info: Some(v2::AccountInfo {
                emails: vec![v2::account_info::Email {
                    address: email.into(),
                    is_primary: true,
                }],
                login: email.into(),
                login_aliases: vec![],
                profile: Some(profile),
            }),
            credential_options: Some(v2::CredentialOptions {
                force_change_at_next_login: false,
                options: Some(v2::credential_options::Options::NoPassword(
                    v2::credential_options::NoPassword {},
                )),
            }),
            encryption_configs: vec![],
            resource_type_id: "user".into(),
        }))
    }

    pub fn create_resource(resource_type: &str, display_name: &str) -> Task {
        let mut r = resource(resource_type, "");
        r.display_name = display_name.into();
        Self::wrap(task::TaskType::CreateResource(task::CreateResourceTask {
            resource: Some(r),
        }))
    }

    pub fn delete_resource(resource_type: &str, id: &str) -> Task {
        Self::wrap(task::TaskType::DeleteResource(task::DeleteResourceTask {
            resource_id: Some(v2::ResourceId {
                resource_type: resource_type.into(),
                resource: id.into(),
                baton_resource: false,
            }),
            parent_resource_id: None,
        }))
    }

    pub fn action_list_schemas() -> Task {
        Self::wrap(task::TaskType::ActionListSchemas(
            task::ActionListSchemasTask::default(),
        ))
    }

    pub fn action_get_schema(name: &str) -> Task {
        Self::wrap(task::TaskType::ActionGetSchema(task::ActionGetSchemaTask {
            name: name.into(),
            annotations: vec![],
        }))
    }

    /// Invoke `name` with `args` `{"user_id": {"resource_type_id": "user", "resource_id": id}}`.
    pub fn action_invoke_on_user(name: &str, user_id: &str) -> Task {
        use prost_types::value::Kind;
        let s = |v: &str| prost_types::Value {
            kind: Some(Kind::StringValue(v.into())),
        };
        let rid = prost_types::Struct {
            fields: [
                ("resource_type_id".to_string(), s("user")),
                ("resource_id".to_string(), s(user_id)),
            ]
            .into_iter()
            .collect(),
        };
        let args = prost_types::Struct {
            fields: [(
                "user_id".to_string(),
                prost_types::Value {
                    kind: Some(Kind::StructValue(rid)),
                },
            )]
            .into_iter()
            .collect(),
        };
        Self::wrap(task::TaskType::ActionInvoke(task::ActionInvokeTask {
            name: name.into(),
            args: Some(args),
            annotations: vec![],
            resource_type_id: String::new(),
        }))
    }

    pub fn action_status(name: &str, id: &str) -> Task {
        Self::wrap(task::TaskType::ActionStatus(task::ActionStatusTask {
            name: name.into(),
            id: id.into(),
            annotations: vec![],
        }))
    }

    /// A task type the SDK has no handler for.
    pub fn create_sync_diff() -> Task {
        Self::wrap(task::TaskType::CreateSyncDiff(task::CreateSyncDiffTask {
            base_sync_id: "a".into(),
            new_sync_id: "b".into(),
            annotations: vec![],
        }))
    }
}
