//! One handler per task type, each calling the same `engine` functions as the CLI and the
//! controllers, and each deciding its `FinishTask` exactly as the SDK's handler for that type
//! does (reference §5.6):
//!
//! | task | success answer | errors |
//! |---|---|---|
//! | `sync_full` | nothing, after the upload | retryable |
//! | `grant` / `revoke` | `GrantManagerServiceGrantResponse` / `…RevokeResponse` (+ `GrantAlreadyExists` / `GrantAlreadyRevoked`) | non-retryable |
//! | `create_account` | `CreateAccountResponse` (success or already exists) | non-retryable |
//! | `create_resource` / `delete_resource` (teams) | `CreateResourceResponse` / `DeleteResourceResponse` | non-retryable |
//! | `action_*` | `ListActionSchemasResponse`, `GetActionSchemaResponse`, `InvokeActionResponse`, `GetActionStatusResponse` | retryable |
//! | `hello` | a `Hello` with the task id, no `FinishTask` | — |
//! | anything else | — | `UNKNOWN` "unsupported task type", retryable |
//!
//! Provisioning tasks (and `action_invoke`, which changes accounts too) while provisioning is
//! off: `FAILED_PRECONDITION` "provisioning is not enabled", non-retryable, Monday untouched.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use prost_types::value::Kind;
use prost_types::{Any, Struct, Value};

use super::metadata::{self, ACCOUNT_EMAIL, ACCOUNT_ROLE, DISABLE_USER, ENABLE_USER, USER_ARG};
use crate::conductorone::pb::{self, create_account_response as car};
use crate::conductorone::task::{
    CreateAccountTask, CredentialChoice, GrantTask, RevokeTask, StorageEngine, SyncFull,
};
use crate::conductorone::{Finish, TaskTypeName};
use crate::engine::mapping::{self, TEAM, USER};
use crate::engine::provision::{self, BaseRole, Entitlement, GrantOptions, Principal, RevokeMode};
use crate::engine::{Omit, ProvisionError, ResourceType, SyncError, SyncOptions};
use crate::monday::{Id, MondayError};
use crate::reason::Reason;

use super::events::{GrantRef, TaskDetail};

/// The SDK's `ErrTaskNonRetryable` text, appended to non-retryable messages as `errors.Join`
/// does.
const NON_RETRYABLE: &str = "task failed and is non-retryable";

/// A handler's verdict before `FinishTask`.
pub struct Handled {
    pub finish: Finish,
    pub reason: Reason,
    pub detail: TaskDetail,
}

impl Handled {
    fn ok(response: Option<Any>, annotations: Vec<Any>, detail: TaskDetail) -> Self {
        Handled {
            finish: Finish::Success {
                response,
                annotations,
            },
            reason: Reason::Succeeded,
            detail,
        }
    }

    /// An error as the SDK reports it: `rpc error: code = <Code> desc = <message>` for status
    /// errors, plus the non-retryable marker line.
    pub fn error(
        code: tonic::Code,
        reason: Reason,
        message: impl Into<String>,
        non_retryable: bool,
        detail: TaskDetail,
    ) -> Self {
        let message = message.into();
        let mut text = if code == tonic::Code::Unknown {
            message
        } else {
            format!("rpc error: code = {code:?} desc = {message}")
        };
        if non_retryable {
            text.push('\n');
            text.push_str(NON_RETRYABLE);
        }
        Handled {
            finish: Finish::Error {
                code,
                message: text,
                non_retryable,
            },
            reason,
            detail,
        }
    }

    pub fn provisioning_disabled() -> Self {
        Self::error(
            tonic::Code::FailedPrecondition,
            Reason::ProvisioningDisabled,
            "provisioning is not enabled",
            true,
            TaskDetail::None,
        )
    }

    pub fn unsupported() -> Self {
        Self::error(
            tonic::Code::Unknown,
            Reason::UnsupportedTaskType,
            "unsupported task type",
            false,
            TaskDetail::None,
        )
    }
}

/// gRPC code for a Monday failure (what a connector's gRPC status would carry).
fn monday_code(e: &MondayError) -> tonic::Code {
    match e.reason() {
        Reason::InvalidToken => tonic::Code::Unauthenticated,
        Reason::InsufficientPermissions | Reason::MissingScope | Reason::AccessDenied => {
            tonic::Code::PermissionDenied
        }
        Reason::RateLimited | Reason::DailyLimitExceeded => tonic::Code::ResourceExhausted,
        Reason::Unreachable => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    }
}

fn provision_code(e: &ProvisionError) -> tonic::Code {
    match e {
        ProvisionError::Monday(m) => monday_code(m),
        ProvisionError::NoSuchUser { .. } | ProvisionError::ResourceNotFound { .. } => {
            tonic::Code::NotFound
        }
        ProvisionError::InvalidEntitlement(_)
        | ProvisionError::TeamPrincipalNotAllowed { .. }
        | ProvisionError::UnsupportedUserKind { .. } => tonic::Code::InvalidArgument,
        ProvisionError::NotApplied { .. } => tonic::Code::Aborted,
        _ => tonic::Code::FailedPrecondition,
    }
}

fn provision_failed(e: &ProvisionError, non_retryable: bool, detail: TaskDetail) -> Handled {
    let code = provision_code(e);
    Handled::error(
        code,
        e.reason(),
        format!("{e} (reason {})", e.reason()),
        non_retryable,
        detail,
    )
}

fn invalid(why: impl Into<String>) -> Handled {
    Handled::error(
        tonic::Code::InvalidArgument,
        Reason::InvalidTask,
        why,
        true,
        TaskDetail::None,
    )
}

// ---- sync ---------------------------------------------------------------------------------------

/// Where a sync task writes its file: a fresh path per task, so the upload holds exactly this
/// sync (as the SDK's uploads do).
pub fn sync_path(work_dir: &Path, task_id: &str) -> PathBuf {
    work_dir.join(format!("sync-{task_id}.c1z"))
}

/// The last successfully uploaded file, kept for inspection.
pub fn last_upload_path(work_dir: &Path) -> PathBuf {
    work_dir.join("last-upload.c1z")
}

/// What the engine is asked for, and log lines for the options we interpret.
pub fn sync_request(task_id: &str, s: &SyncFull) -> SyncOptions {
    let resource_types = if s.resource_type_ids.is_empty() {
        None
    } else {
        let (ok, unknown): (Vec<_>, Vec<_>) = s
            .resource_type_ids
            .iter()
            .map(|t| (t, ResourceType::from_id(t)))
            .partition(|(_, t)| t.is_some());
        if !unknown.is_empty() {
            let unknown: Vec<&String> = unknown.into_iter().map(|(t, _)| t).collect();
            tracing::warn!(
                task_id,
                ?unknown,
                "sync_resource_type_ids names types this connector does not have; ignored"
            );
        }
        Some(ok.into_iter().filter_map(|(_, t)| t).collect())
    };
    if !s.targeted.is_empty() {
        tracing::info!(
            task_id,
            resources = s.targeted.len(),
            "targeted sync requested; running a full sync (this connector announces no TARGETED_SYNC, and a full sync is a superset of the targeted resources)"
        );
    }
    if s.skip_expand_grants {
        tracing::debug!(
            task_id,
            "skip_expand_grants: our syncs never expand grants (GrantExpandable is left for ConductorOne)"
        );
    }
    match &s.storage_engine {
        StorageEngine::Pebble => tracing::info!(
            task_id,
            "storage_engine pebble requested; uploading a v1 (SQLite) c1z, which Baton's readers open as well"
        ),
        StorageEngine::Other(e) => tracing::warn!(
            task_id,
            engine = %e,
            "unknown storage_engine requested; uploading a v1 (SQLite) c1z"
        ),
        StorageEngine::Default | StorageEngine::Sqlite => {}
    }
    SyncOptions {
        resource_types,
        omit: Omit {
            grants: s.skip_grants,
            entitlements_and_grants: s.skip_entitlements_and_grants,
        },
        observer: None,
        disk: None,
    }
}

pub fn sync_failed(e: &SyncError, report: TaskDetail) -> Handled {
    let code = match e {
        SyncError::Monday(m) => monday_code(m),
        // The SDK's own disk errors reach ConductorOne as Unknown too; the message says which
        // folder and how much it needs.
        SyncError::DiskFull { .. } | SyncError::Snapshot(_) => tonic::Code::Unknown,
    };
    // The SDK marks only ingest-invariant violations non-retryable; ours has none.
    Handled::error(code, e.reason(), e.to_string(), false, report)
}

// ---- grant / revoke ----------------------------------------------------------------------------

/// The entitlement and principal a grant or revoke task names, parsed as our Baton ids.
pub fn grant_target(
    entitlement: Option<&pb::Entitlement>,
    principal: Option<&pb::Resource>,
    grant_id: &str,
) -> Result<(Entitlement, Principal), String> {
    let ent_id = entitlement
        .map(|e| {
            if !e.id.is_empty() {
                e.id.clone()
            } else {
                let rid = e.resource.as_ref().and_then(|r| r.id.as_ref());
                rid.map(|r| format!("{}:{}:{}", r.resource_type, r.resource, e.slug))
                    .unwrap_or_default()
            }
        })
        .filter(|id| !id.is_empty());
    let principal_id = principal
        .and_then(|p| p.id.as_ref())
        .map(|id| (id.resource_type.clone(), id.resource.clone()));
    // Fall back to the grant id `<entitlement>:<principal type>:<principal id>`.
    let (ent_id, principal_id) = match (ent_id, principal_id) {
        (Some(e), Some(p)) => (e, p),
        _ => {
            let parts: Vec<&str> = grant_id.split(':').collect();
            if parts.len() < 5 {
                return Err("the task names no entitlement and principal".into());
            }
            let n = parts.len();
            (
                parts[..n - 2].join(":"),
                (parts[n - 2].to_string(), parts[n - 1].to_string()),
            )
        }
    };
    if ent_id.starts_with("account:") {
        return Err(format!("{ent_id} is not a Baton entitlement"));
    }
    let entitlement: Entitlement = ent_id
        .parse()
        .map_err(|e: provision::EntitlementParseError| e.to_string())?;
    let principal = match principal_id.0.as_str() {
        USER if !principal_id.1.is_empty()
            && principal_id.1.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Principal::UserId(Id::from(principal_id.1.as_str()))
        }
        TEAM if principal_id.1 == "-1"
            || (!principal_id.1.is_empty()
                && principal_id.1.bytes().all(|b| b.is_ascii_digit())) =>
        {
            Principal::Team(Id::from(principal_id.1.as_str()))
        }
        t => {
            return Err(format!(
                "principal {t}:{} is not a Monday.com user or team",
                principal_id.1
            ));
        }
    };
    Ok((entitlement, principal))
}

pub fn grant_ref(
    entitlement: &Entitlement,
    principal: &Principal,
    duration: Option<Duration>,
) -> GrantRef {
    let principal_id = match principal {
        Principal::UserId(id) => format!("user:{id}"),
        Principal::Team(id) => format!("team:{id}"),
        Principal::Email(e) => e.clone(),
    };
    GrantRef {
        grant_id: format!("{entitlement}:{principal_id}"),
        entitlement: entitlement.clone(),
        principal: principal.clone(),
        duration,
    }
}

pub async fn grant(client: &crate::monday::Client, task: &GrantTask) -> Handled {
    let (entitlement, principal) =
        match grant_target(Some(&task.entitlement), Some(&task.principal), "") {
            Ok(t) => t,
            Err(why) => return invalid(why),
        };
    match provision::grant(client, &entitlement, &principal, GrantOptions::default()).await {
        Ok(out) => {
            let mut grant = pb::Grant {
                entitlement: Some(task.entitlement.clone()),
                principal: Some(task.principal.clone()),
                id: out.grant_id.clone(),
                ..Default::default()
            };
            if let Some(e) = grant.entitlement.as_mut()
                && e.id.is_empty()
            {
                e.id = entitlement.to_string();
            }
            let annotations = if out.pre_existing {
                vec![pb::to_any(&pb::GrantAlreadyExists {})]
            } else {
                Vec::new()
            };
            let resp = pb::GrantManagerServiceGrantResponse {
                annotations: annotations.clone(),
                grants: vec![grant],
            };
            Handled::ok(
                Some(pb::to_any(&resp)),
                annotations,
                TaskDetail::Grant(Box::new(out)),
            )
        }
        Err(e) => provision_failed(&e, true, TaskDetail::None),
    }
}

pub async fn revoke(client: &crate::monday::Client, task: &RevokeTask) -> Handled {
    let (entitlement, principal) = match grant_target(
        task.grant.entitlement.as_ref(),
        task.grant.principal.as_ref(),
        &task.grant.id,
    ) {
        Ok(t) => t,
        Err(why) => return invalid(why),
    };
    match provision::revoke(client, &entitlement, &principal, RevokeMode::ExactGrant).await {
        Ok(out) => {
            let annotations = if out.already_absent {
                vec![pb::to_any(&pb::GrantAlreadyRevoked {})]
            } else {
                Vec::new()
            };
            if !out.also_removed.is_empty() {
                tracing::info!(grant = %task.grant.id, also_removed = ?out.also_removed, "revoke also removed grants Monday cannot keep without it");
            }
            let resp = pb::GrantManagerServiceRevokeResponse {
                annotations: annotations.clone(),
            };
            Handled::ok(
                Some(pb::to_any(&resp)),
                annotations,
                TaskDetail::Revoke(out),
            )
        }
        Err(e) => provision_failed(&e, true, TaskDetail::None),
    }
}

// ---- accounts ----------------------------------------------------------------------------------

fn string_field(s: Option<&Struct>, key: &str) -> Option<String> {
    match s?.fields.get(key)?.kind.as_ref()? {
        Kind::StringValue(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => None,
    }
}

/// The email and base role a create-account task asks for.
pub fn account_request(task: &CreateAccountTask) -> Result<(String, BaseRole), String> {
    if let Some(t) = &task.resource_type_id
        && t != USER
    {
        return Err(format!("accounts are resource type user, not {t}"));
    }
    match task.credential {
        CredentialChoice::Unset | CredentialChoice::NoPassword => {}
        other => {
            return Err(format!(
                "Monday.com accounts join by email invitation; credential option {other:?} is not supported (use no_password)"
            ));
        }
    }
    let profile = task.account.profile.as_ref();
    let email = string_field(profile, ACCOUNT_EMAIL)
        .or_else(|| {
            let emails = &task.account.emails;
            emails
                .iter()
                .find(|e| e.is_primary)
                .or(emails.first())
                .map(|e| e.address.trim().to_string())
        })
        .or_else(|| Some(task.account.login.trim().to_string()))
        .filter(|e| e.contains('@'))
        .ok_or("the account has no email address")?;
    let role = match string_field(profile, ACCOUNT_ROLE) {
        None => BaseRole::Member,
        Some(r) => BaseRole::from_slug(&r.to_ascii_lowercase())
            .or_else(|| BaseRole::from_kind(&r))
            .ok_or_else(|| {
                format!("unknown base role {r:?}: expected admin, member, viewer or guest")
            })?,
    };
    Ok((email, role))
}

pub async fn create_account(client: &crate::monday::Client, task: &CreateAccountTask) -> Handled {
    let (email, role) = match account_request(task) {
        Ok(r) => r,
        Err(why) => return invalid(why),
    };
    match provision::invite(client, &email, role).await {
        Ok(out) => {
            let u = &out.user;
            let resource =
                mapping::user_resource(&u.id, &u.name, &u.email, &u.kind, &u.status, None);
            let result = if out.already_existed {
                car::Result::AlreadyExists(car::AlreadyExistsResult {
                    resource: Some(resource),
                    is_create_account_result: true,
                })
            } else {
                car::Result::Success(car::SuccessResult {
                    resource: Some(resource),
                    is_create_account_result: true,
                })
            };
            let resp = pb::CreateAccountResponse {
                result: Some(result),
                annotations: Vec::new(),
            };
            Handled::ok(
                Some(pb::to_any(&resp)),
                Vec::new(),
                TaskDetail::Account(Box::new(out)),
            )
        }
        Err(e) => provision_failed(&e, true, TaskDetail::None),
    }
}

// ---- teams -------------------------------------------------------------------------------------

fn no_manager(resource_type: &str, what: &str) -> Handled {
    Handled::error(
        tonic::Code::Unimplemented,
        Reason::Unimplemented,
        format!("resource type {resource_type} does not have {what} configured"),
        true,
        TaskDetail::None,
    )
}

pub async fn create_resource(client: &crate::monday::Client, resource: &pb::Resource) -> Handled {
    let rt = resource
        .id
        .as_ref()
        .map(|i| i.resource_type.as_str())
        .unwrap_or_default();
    if rt != TEAM {
        return no_manager(rt, "resource manager");
    }
    let name = resource.display_name.trim();
    if name.is_empty() {
        return invalid("a team needs a display_name");
    }
    match client.create_team(name).await {
        Ok(team) => {
            let created = mapping::team_resource(team.id.as_str(), &team.name);
            let resp = pb::CreateResourceResponse {
                created: Some(created),
                annotations: Vec::new(),
            };
            Handled::ok(
                Some(pb::to_any(&resp)),
                Vec::new(),
                TaskDetail::TeamCreated {
                    team_id: team.id.to_string(),
                    name: team.name,
                },
            )
        }
        Err(e) => provision_failed(&ProvisionError::Monday(e), true, TaskDetail::None),
    }
}

pub async fn delete_resource(client: &crate::monday::Client, id: &pb::ResourceId) -> Handled {
    if id.resource_type != TEAM {
        return no_manager(&id.resource_type, "resource deleter");
    }
    if !id.resource.bytes().all(|b| b.is_ascii_digit()) {
        return invalid(format!(
            "team:{} is not a team Monday.com can delete",
            id.resource
        ));
    }
    match client.delete_team(&Id::from(id.resource.as_str())).await {
        Ok(existed) => Handled::ok(
            Some(pb::to_any(&pb::DeleteResourceResponse::default())),
            Vec::new(),
            TaskDetail::TeamDeleted {
                team_id: id.resource.clone(),
                already_absent: !existed,
            },
        ),
        Err(e) => provision_failed(&ProvisionError::Monday(e), true, TaskDetail::None),
    }
}

// ---- actions -----------------------------------------------------------------------------------

/// Results of recent `action_invoke`s, for `action_status` (ours complete synchronously).
#[derive(Default)]
pub struct ActionLog {
    done: Mutex<VecDeque<pb::InvokeActionResponse>>,
}

impl ActionLog {
    const KEEP: usize = 256;

    fn remember(&self, r: &pb::InvokeActionResponse) {
        let mut d = self.done.lock().unwrap_or_else(|p| p.into_inner());
        if d.len() >= Self::KEEP {
            d.pop_front();
        }
        d.push_back(r.clone());
    }

    fn find(&self, id: &str) -> Option<pb::InvokeActionResponse> {
        let d = self.done.lock().unwrap_or_else(|p| p.into_inner());
        d.iter().find(|r| r.id == id).cloned()
    }
}

pub fn list_schemas(resource_type_id: Option<&str>) -> Handled {
    let schemas = match resource_type_id {
        None => metadata::action_schemas(),
        Some(t) => metadata::action_schemas()
            .into_iter()
            .filter(|s| s.resource_type_id == t)
            .collect(),
    };
    let resp = pb::ListActionSchemasResponse {
        schemas,
        annotations: Vec::new(),
    };
    Handled::ok(Some(pb::to_any(&resp)), Vec::new(), TaskDetail::None)
}

pub fn get_schema(name: &str) -> Handled {
    match metadata::action_schemas()
        .into_iter()
        .find(|s| s.name == name)
    {
        Some(schema) => Handled::ok(
            Some(pb::to_any(&pb::GetActionSchemaResponse {
                schema: Some(schema),
                annotations: Vec::new(),
            })),
            Vec::new(),
            TaskDetail::None,
        ),
        None => Handled::error(
            tonic::Code::NotFound,
            Reason::UnknownAction,
            format!("action {name:?} not found"),
            false,
            TaskDetail::None,
        ),
    }
}

/// The user an action names: `{"user_id": {"resource_type_id": "user", "resource_id": "42"}}`
/// (a resource-id field), or the id as a plain string.
pub fn action_user(args: &Struct) -> Result<Id, String> {
    let v = args
        .fields
        .get(USER_ARG)
        .and_then(|v| v.kind.as_ref())
        .ok_or_else(|| format!("argument {USER_ARG} is required"))?;
    let id = match v {
        Kind::StringValue(s) => s.strip_prefix("user:").unwrap_or(s).to_string(),
        Kind::StructValue(s) => {
            let t = string_field(Some(s), "resource_type_id").unwrap_or_else(|| USER.into());
            if t != USER {
                return Err(format!("{USER_ARG} must name a user, not a {t}"));
            }
            string_field(Some(s), "resource_id").ok_or("user_id.resource_id is required")?
        }
        _ => return Err(format!("{USER_ARG} must be a user resource id")),
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{id:?} is not a Monday.com user id"));
    }
    Ok(Id::from(id.as_str()))
}

pub async fn invoke(
    client: &crate::monday::Client,
    log: &ActionLog,
    name: &str,
    args: &Struct,
) -> Handled {
    let user = match action_user(args) {
        Ok(u) => u,
        Err(why) => {
            return Handled::error(
                tonic::Code::InvalidArgument,
                Reason::InvalidArguments,
                why,
                false,
                TaskDetail::None,
            );
        }
    };
    let principal = Principal::UserId(user.clone());
    let result = match name {
        ENABLE_USER => provision::reactivate(client, &principal).await,
        DISABLE_USER => provision::deactivate(client, &principal).await,
        other => {
            return Handled::error(
                tonic::Code::NotFound,
                Reason::UnknownAction,
                format!("action {other:?} not found"),
                false,
                TaskDetail::None,
            );
        }
    };
    match result {
        Ok(out) => {
            let resp = pb::InvokeActionResponse {
                id: crate::baton::c1z::new_ksuid(),
                status: pb::ActionStatus::Complete as i32,
                annotations: Vec::new(),
                response: Some(Struct {
                    fields: [(
                        "success".to_string(),
                        Value {
                            kind: Some(Kind::BoolValue(true)),
                        },
                    )]
                    .into_iter()
                    .collect(),
                }),
                name: name.to_string(),
            };
            log.remember(&resp);
            Handled::ok(
                Some(pb::to_any(&resp)),
                Vec::new(),
                TaskDetail::Lifecycle {
                    action: name.to_string(),
                    user_id: out.user_id.to_string(),
                    already: out.already,
                },
            )
        }
        // The SDK finishes a failed action as a retryable error.
        Err(e) => provision_failed(&e, false, TaskDetail::None),
    }
}

pub fn status(log: &ActionLog, id: &str) -> Handled {
    match log.find(id) {
        Some(r) => Handled::ok(
            Some(pb::to_any(&pb::GetActionStatusResponse {
                name: r.name,
                id: r.id,
                status: r.status,
                annotations: Vec::new(),
                response: r.response,
            })),
            Vec::new(),
            TaskDetail::None,
        ),
        None => Handled::error(
            tonic::Code::NotFound,
            Reason::UnknownAction,
            format!("no action {id:?} ran here recently"),
            false,
            TaskDetail::None,
        ),
    }
}

/// Malformed tasks of a handled type: non-retryable where the SDK's handler says so.
pub fn malformed(task_type: TaskTypeName, why: &str) -> Handled {
    let non_retryable = !matches!(
        task_type,
        TaskTypeName::ActionGetSchema | TaskTypeName::ActionInvoke | TaskTypeName::ActionStatus
    );
    Handled::error(
        tonic::Code::Unknown,
        Reason::MalformedTask,
        why.to_string(),
        non_retryable,
        TaskDetail::None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(t: &str, id: &str) -> pb::Resource {
        pb::Resource {
            id: Some(pb::ResourceId {
                resource_type: t.into(),
                resource: id.into(),
                baton_resource: false,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn grant_targets_come_from_ids_or_the_grant_id() {
        let e = pb::Entitlement {
            id: "board:42:owner".into(),
            ..Default::default()
        };
        let (ent, p) = grant_target(Some(&e), Some(&res("team", "-1")), "").expect("ok");
        assert_eq!(ent.to_string(), "board:42:owner");
        assert_eq!(p, Principal::Team(Id::from("-1")));
        let (ent, p) = grant_target(None, None, "team:7:member:user:102").expect("ok");
        assert_eq!(ent.to_string(), "team:7:member");
        assert_eq!(p, Principal::UserId(Id::from("102")));
        let e = pb::Entitlement {
            resource: Some(res("workspace", "3")),
            slug: "subscriber".into(),
            ..Default::default()
        };
        let (ent, _) = grant_target(Some(&e), Some(&res("user", "1")), "").expect("ok");
        assert_eq!(ent.to_string(), "workspace:3:subscriber");
        assert!(grant_target(Some(&e), Some(&res("role", "admin")), "").is_err());
        assert!(grant_target(None, None, "account:active:user:1").is_err());
    }

    #[test]
    fn errors_read_like_the_sdks() {
        let h = Handled::provisioning_disabled();
        let Finish::Error {
            code,
            message,
            non_retryable,
        } = h.finish
        else {
            panic!("error")
        };
        assert_eq!(code, tonic::Code::FailedPrecondition);
        assert_eq!(
            message,
            "rpc error: code = FailedPrecondition desc = provisioning is not enabled\ntask failed and is non-retryable"
        );
        assert!(non_retryable);
        let Finish::Error {
            code,
            message,
            non_retryable,
        } = Handled::unsupported().finish
        else {
            panic!("error")
        };
        assert_eq!(
            (code, message.as_str(), non_retryable),
            (tonic::Code::Unknown, "unsupported task type", false)
        );
    }

    #[test]
    fn account_requests_take_email_and_role() {
        let mut t = CreateAccountTask {
            account: pb::AccountInfo {
                emails: vec![pb::account_info::Email {
                    address: "a@b.c".into(),
                    is_primary: true,
                }],
                ..Default::default()
            },
            credential: CredentialChoice::NoPassword,
            resource_type_id: Some("user".into()),
        };
        assert_eq!(account_request(&t), Ok(("a@b.c".into(), BaseRole::Member)));
        t.account.profile = Some(Struct {
            fields: [(
                "role".to_string(),
                Value {
                    kind: Some(Kind::StringValue("Guest".into())),
                },
            )]
            .into_iter()
            .collect(),
        });
        assert_eq!(account_request(&t), Ok(("a@b.c".into(), BaseRole::Guest)));
        t.credential = CredentialChoice::RandomPassword;
        assert!(account_request(&t).is_err());
    }
}
