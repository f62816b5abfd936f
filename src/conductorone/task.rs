//! Tasks as a typed enum: what `GetTask` handed out, with the payloads the service acts on.
//!
//! "No task" (the field unset, or a `none` task) is `None` from [`Task::from_pb`], as the SDK's
//! `Next` treats both. A task of a type the operator does not handle keeps its id and its
//! protocol name, so it can be answered "unsupported task type".

use std::fmt;
use std::time::Duration;

use prost_types::Struct;

use super::pb::{self, task::TaskType};

/// One task from ConductorOne.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// 27-character task id (KSUID-shaped).
    pub id: String,
    /// `Task.debug`: ConductorOne asks for debug logs (we upload none; see README).
    pub debug: bool,
    pub kind: TaskKind,
}

/// The protocol name of a task type (the `task_type` oneof field name), for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskTypeName {
    Hello,
    SyncFull,
    Grant,
    Revoke,
    CreateAccount,
    CreateResource,
    DeleteResource,
    ActionListSchemas,
    ActionGetSchema,
    ActionInvoke,
    ActionStatus,
    RotateCredentials,
    EventFeed,
    CreateTicketTask,
    ListTicketSchemas,
    GetTicket,
    BulkCreateTickets,
    BulkGetTickets,
    CreateSyncDiff,
    CompactSyncs,
    ListEventFeeds,
    ListEvents,
    IssueCredential,
    /// A `task_type` this build does not know (a newer protocol).
    Unknown,
}

impl TaskTypeName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::SyncFull => "sync_full",
            Self::Grant => "grant",
            Self::Revoke => "revoke",
            Self::CreateAccount => "create_account",
            Self::CreateResource => "create_resource",
            Self::DeleteResource => "delete_resource",
            Self::ActionListSchemas => "action_list_schemas",
            Self::ActionGetSchema => "action_get_schema",
            Self::ActionInvoke => "action_invoke",
            Self::ActionStatus => "action_status",
            Self::RotateCredentials => "rotate_credentials",
            Self::EventFeed => "event_feed",
            Self::CreateTicketTask => "create_ticket_task",
            Self::ListTicketSchemas => "list_ticket_schemas",
            Self::GetTicket => "get_ticket",
            Self::BulkCreateTickets => "bulk_create_tickets",
            Self::BulkGetTickets => "bulk_get_tickets",
            Self::CreateSyncDiff => "create_sync_diff",
            Self::CompactSyncs => "compact_syncs",
            Self::ListEventFeeds => "list_event_feeds",
            Self::ListEvents => "list_events",
            Self::IssueCredential => "issue_credential",
            Self::Unknown => "unknown",
        }
    }

    /// Tasks that change the connected system (Monday): refused while provisioning is off.
    pub fn is_provisioning(self) -> bool {
        matches!(
            self,
            Self::Grant
                | Self::Revoke
                | Self::CreateAccount
                | Self::CreateResource
                | Self::DeleteResource
                | Self::ActionInvoke
                | Self::RotateCredentials
                | Self::IssueCredential
        )
    }
}

impl fmt::Display for TaskTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind {
    /// Say `Hello` again with this task's id; never finished.
    Hello,
    SyncFull(SyncFull),
    Grant(GrantTask),
    Revoke(RevokeTask),
    CreateAccount(CreateAccountTask),
    CreateResource {
        resource: pb::Resource,
    },
    DeleteResource {
        resource_id: pb::ResourceId,
        parent: Option<pb::ResourceId>,
    },
    ActionListSchemas {
        resource_type_id: Option<String>,
    },
    ActionGetSchema {
        name: String,
    },
    ActionInvoke {
        name: String,
        args: Struct,
        resource_type_id: Option<String>,
    },
    ActionStatus {
        name: String,
        id: String,
    },
    /// A well-formed task of a type we do not handle.
    Unsupported(TaskTypeName),
    /// A task of a handled type missing what it needs (the SDK's "malformed … task").
    Malformed {
        task_type: TaskTypeName,
        why: &'static str,
    },
}

impl TaskKind {
    pub fn type_name(&self) -> TaskTypeName {
        match self {
            Self::Hello => TaskTypeName::Hello,
            Self::SyncFull(_) => TaskTypeName::SyncFull,
            Self::Grant(_) => TaskTypeName::Grant,
            Self::Revoke(_) => TaskTypeName::Revoke,
            Self::CreateAccount(_) => TaskTypeName::CreateAccount,
            Self::CreateResource { .. } => TaskTypeName::CreateResource,
            Self::DeleteResource { .. } => TaskTypeName::DeleteResource,
            Self::ActionListSchemas { .. } => TaskTypeName::ActionListSchemas,
            Self::ActionGetSchema { .. } => TaskTypeName::ActionGetSchema,
            Self::ActionInvoke { .. } => TaskTypeName::ActionInvoke,
            Self::ActionStatus { .. } => TaskTypeName::ActionStatus,
            Self::Unsupported(t) | Self::Malformed { task_type: t, .. } => *t,
        }
    }
}

/// Which storage engine a sync task asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StorageEngine {
    #[default]
    Default,
    Sqlite,
    Pebble,
    Other(String),
}

/// `SyncFullTask` options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncFull {
    pub skip_expand_grants: bool,
    pub skip_entitlements_and_grants: bool,
    pub skip_grants: bool,
    /// Resource types to sync (empty = all).
    pub resource_type_ids: Vec<String>,
    /// Resources of a targeted sync (empty = full).
    pub targeted: Vec<pb::ResourceId>,
    pub storage_engine: StorageEngine,
}

/// `GrantTask`: give `principal` the `entitlement`.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantTask {
    pub entitlement: pb::Entitlement,
    pub principal: pb::Resource,
    /// How long ConductorOne means the grant to last (the SDK ignores it; we report it).
    pub duration: Option<Duration>,
}

/// `RevokeTask`: take `grant` away.
#[derive(Debug, Clone, PartialEq)]
pub struct RevokeTask {
    pub grant: pb::Grant,
}

/// How the new account gets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialChoice {
    Unset,
    NoPassword,
    RandomPassword,
    Sso,
    EncryptedPassword,
}

/// `CreateAccountTask`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateAccountTask {
    pub account: pb::AccountInfo,
    pub credential: CredentialChoice,
    pub resource_type_id: Option<String>,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn duration(d: prost_types::Duration) -> Option<Duration> {
    if d.seconds < 0 || d.nanos < 0 {
        return None;
    }
    Some(Duration::new(d.seconds as u64, d.nanos as u32))
}

impl Task {
    /// The typed task, or `None` when there is nothing to do.
    pub fn from_pb(task: Option<pb::Task>) -> Option<Task> {
        let task = task?;
        use TaskTypeName as N;
        let kind = match task.task_type {
            None if task.id.is_empty() => return None,
            None => TaskKind::Unsupported(N::Unknown),
            Some(TaskType::None(_)) => return None,
            Some(TaskType::Hello(_)) => TaskKind::Hello,
            Some(TaskType::SyncFull(s)) => TaskKind::SyncFull(SyncFull {
                skip_expand_grants: s.skip_expand_grants,
                skip_entitlements_and_grants: s.skip_entitlements_and_grants,
                skip_grants: s.skip_grants,
                resource_type_ids: s.sync_resource_type_ids,
                targeted: s
                    .targeted_sync_resources
                    .into_iter()
                    .filter_map(|r| r.id)
                    .collect(),
                storage_engine: match s.storage_engine.as_str() {
                    "" => StorageEngine::Default,
                    "sqlite" => StorageEngine::Sqlite,
                    "pebble" => StorageEngine::Pebble,
                    other => StorageEngine::Other(other.to_string()),
                },
            }),
            Some(TaskType::Grant(g)) => match (g.entitlement, g.principal) {
                (Some(entitlement), Some(principal)) => TaskKind::Grant(GrantTask {
                    entitlement,
                    principal,
                    duration: g.duration.and_then(duration),
                }),
                _ => TaskKind::Malformed {
                    task_type: N::Grant,
                    why: "malformed grant task",
                },
            },
            Some(TaskType::Revoke(r)) => match r.grant {
                Some(grant) => TaskKind::Revoke(RevokeTask { grant }),
                None => TaskKind::Malformed {
                    task_type: N::Revoke,
                    why: "invalid task type",
                },
            },
            Some(TaskType::CreateAccount(c)) => match c.account_info {
                Some(account) => TaskKind::CreateAccount(CreateAccountTask {
                    account,
                    credential: match c.credential_options.and_then(|o| o.options) {
                        None => CredentialChoice::Unset,
                        Some(pb::credential_options::Options::NoPassword(_)) => {
                            CredentialChoice::NoPassword
                        }
                        Some(pb::credential_options::Options::RandomPassword(_)) => {
                            CredentialChoice::RandomPassword
                        }
                        Some(pb::credential_options::Options::Sso(_)) => CredentialChoice::Sso,
                        Some(pb::credential_options::Options::EncryptedPassword(_)) => {
                            CredentialChoice::EncryptedPassword
                        }
                    },
                    resource_type_id: non_empty(c.resource_type_id),
                }),
                None => TaskKind::Malformed {
                    task_type: N::CreateAccount,
                    why: "malformed create account task",
                },
            },
            Some(TaskType::CreateResource(c)) => match c.resource {
                Some(resource) => TaskKind::CreateResource { resource },
                None => TaskKind::Malformed {
                    task_type: N::CreateResource,
                    why: "malformed create resource task",
                },
            },
            Some(TaskType::DeleteResource(d)) => match d.resource_id {
                Some(id) if !id.resource.is_empty() && !id.resource_type.is_empty() => {
                    TaskKind::DeleteResource {
                        resource_id: id,
                        parent: d.parent_resource_id,
                    }
                }
                _ => TaskKind::Malformed {
                    task_type: N::DeleteResource,
                    why: "malformed delete resource task",
                },
            },
            Some(TaskType::ActionListSchemas(a)) => TaskKind::ActionListSchemas {
                resource_type_id: non_empty(a.resource_type_id),
            },
            Some(TaskType::ActionGetSchema(a)) if !a.name.is_empty() => {
                TaskKind::ActionGetSchema { name: a.name }
            }
            Some(TaskType::ActionGetSchema(_)) => TaskKind::Malformed {
                task_type: N::ActionGetSchema,
                why: "action name required",
            },
            Some(TaskType::ActionInvoke(a)) if !a.name.is_empty() => TaskKind::ActionInvoke {
                name: a.name,
                args: a.args.unwrap_or_default(),
                resource_type_id: non_empty(a.resource_type_id),
            },
            Some(TaskType::ActionInvoke(_)) => TaskKind::Malformed {
                task_type: N::ActionInvoke,
                why: "action name required",
            },
            Some(TaskType::ActionStatus(a)) if !a.id.is_empty() => TaskKind::ActionStatus {
                name: a.name,
                id: a.id,
            },
            Some(TaskType::ActionStatus(_)) => TaskKind::Malformed {
                task_type: N::ActionStatus,
                why: "action id required",
            },
            Some(TaskType::RotateCredentials(_)) => TaskKind::Unsupported(N::RotateCredentials),
            Some(TaskType::EventFeed(_)) => TaskKind::Unsupported(N::EventFeed),
            Some(TaskType::CreateTicketTask(_)) => TaskKind::Unsupported(N::CreateTicketTask),
            Some(TaskType::ListTicketSchemas(_)) => TaskKind::Unsupported(N::ListTicketSchemas),
            Some(TaskType::GetTicket(_)) => TaskKind::Unsupported(N::GetTicket),
            Some(TaskType::BulkCreateTickets(_)) => TaskKind::Unsupported(N::BulkCreateTickets),
            Some(TaskType::BulkGetTickets(_)) => TaskKind::Unsupported(N::BulkGetTickets),
            Some(TaskType::CreateSyncDiff(_)) => TaskKind::Unsupported(N::CreateSyncDiff),
            Some(TaskType::CompactSyncs(_)) => TaskKind::Unsupported(N::CompactSyncs),
            Some(TaskType::ListEventFeeds(_)) => TaskKind::Unsupported(N::ListEventFeeds),
            Some(TaskType::ListEvents(_)) => TaskKind::Unsupported(N::ListEvents),
            Some(TaskType::IssueCredential(_)) => TaskKind::Unsupported(N::IssueCredential),
        };
        Some(Task {
            id: task.id,
            debug: task.debug,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(t: TaskType) -> Option<pb::Task> {
        Some(pb::Task {
            id: "2Xk3q8Ywq9Bv1tPbJzHc0aQm7Ls".into(),
            task_type: Some(t),
            ..Default::default()
        })
    }

    #[test]
    fn no_task_and_none_task_mean_nothing_to_do() {
        assert_eq!(Task::from_pb(None), None);
        assert_eq!(
            Task::from_pb(task(TaskType::None(pb::NoneTask::default()))),
            None
        );
        assert_eq!(Task::from_pb(Some(pb::Task::default())), None);
    }

    #[test]
    fn sync_options_and_grants_decode() {
        let t = Task::from_pb(task(TaskType::SyncFull(pb::SyncFullTask {
            skip_grants: true,
            sync_resource_type_ids: vec!["team".into()],
            storage_engine: "pebble".into(),
            ..Default::default()
        })))
        .expect("task");
        let TaskKind::SyncFull(s) = t.kind else {
            panic!("sync")
        };
        assert!(s.skip_grants && !s.skip_expand_grants);
        assert_eq!(s.storage_engine, StorageEngine::Pebble);
        assert_eq!(s.resource_type_ids, vec!["team".to_string()]);

        let t = Task::from_pb(task(TaskType::Grant(pb::GrantTask {
            entitlement: Some(pb::Entitlement::default()),
            principal: Some(pb::Resource::default()),
            duration: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
            ..Default::default()
        })))
        .expect("task");
        let TaskKind::Grant(g) = t.kind else {
            panic!("grant")
        };
        assert_eq!(g.duration, Some(Duration::from_secs(3600)));

        let t = Task::from_pb(task(TaskType::Grant(pb::GrantTask::default()))).expect("task");
        assert!(matches!(
            t.kind,
            TaskKind::Malformed {
                task_type: TaskTypeName::Grant,
                ..
            }
        ));
        let t = Task::from_pb(task(TaskType::CompactSyncs(pb::Opaque {}))).expect("task");
        assert_eq!(t.kind, TaskKind::Unsupported(TaskTypeName::CompactSyncs));
    }
}
