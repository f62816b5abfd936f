//! Hand-derived protobuf messages of ConductorOne's `c1.connectorapi.baton.v1.BatonService` and
//! the `c1.connector.v2` / `c1.config.v1` messages its tasks carry and its answers pack into
//! `Any`, with the field numbers of the protocol specification
//! (`../shared/reference/baton-proto`). Resources, entitlements and grants are the ones the
//! snapshot writer already uses (`crate::baton::pb`).
//!
//! Derived by hand like `crate::baton::pb` (no `protoc`, no `build.rs`): only the fields the
//! operator reads or writes are declared; prost skips the others on decode. Every task type of
//! the `Task.task_type` oneof is declared, the unhandled ones as [`Opaque`], so an unsupported
//! task is still recognised as a task (and answered "unsupported task type") rather than
//! mistaken for no task. The test double generates its code from the spec files instead, so a
//! wrong number here fails the end-to-end tests.

use std::collections::BTreeMap;

use prost_types::{Any, Duration, Struct};

pub use crate::baton::pb::{Entitlement, Grant, Resource, ResourceId, ResourceType};

/// Fully qualified gRPC service name.
pub const SERVICE: &str = "c1.connectorapi.baton.v1.BatonService";

/// A message whose content the operator does not read (the unhandled task types).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Opaque {}

// ---- c1.connectorapi.baton.v1 ------------------------------------------------------------------

/// A unit of work handed out by `GetTask`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Task {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(enumeration = "task::Status", tag = "2")]
    pub status: i32,
    #[prost(bool, tag = "3")]
    pub debug: bool,
    #[prost(
        oneof = "task::TaskType",
        tags = "100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123"
    )]
    pub task_type: Option<task::TaskType>,
}

/// Nested types of [`Task`].
pub mod task {
    use super::*;

    /// `Task.Status`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Status {
        Unspecified = 0,
        Pending = 1,
        Scheduled = 2,
        Running = 3,
        Finished = 4,
    }

    /// `Task.task_type`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum TaskType {
        #[prost(message, tag = "100")]
        None(NoneTask),
        #[prost(message, tag = "101")]
        Hello(HelloTask),
        #[prost(message, tag = "102")]
        SyncFull(SyncFullTask),
        #[prost(message, tag = "103")]
        Grant(GrantTask),
        #[prost(message, tag = "104")]
        Revoke(RevokeTask),
        #[prost(message, tag = "105")]
        CreateAccount(CreateAccountTask),
        #[prost(message, tag = "106")]
        CreateResource(CreateResourceTask),
        #[prost(message, tag = "107")]
        DeleteResource(DeleteResourceTask),
        #[prost(message, tag = "108")]
        RotateCredentials(Opaque),
        #[prost(message, tag = "109")]
        EventFeed(Opaque),
        #[prost(message, tag = "110")]
        CreateTicketTask(Opaque),
        #[prost(message, tag = "111")]
        ListTicketSchemas(Opaque),
        #[prost(message, tag = "112")]
        GetTicket(Opaque),
        #[prost(message, tag = "113")]
        BulkCreateTickets(Opaque),
        #[prost(message, tag = "114")]
        BulkGetTickets(Opaque),
        #[prost(message, tag = "115")]
        ActionListSchemas(ActionListSchemasTask),
        #[prost(message, tag = "116")]
        ActionGetSchema(ActionGetSchemaTask),
        #[prost(message, tag = "117")]
        ActionInvoke(ActionInvokeTask),
        #[prost(message, tag = "118")]
        ActionStatus(ActionStatusTask),
        #[prost(message, tag = "119")]
        CreateSyncDiff(Opaque),
        #[prost(message, tag = "120")]
        CompactSyncs(Opaque),
        #[prost(message, tag = "121")]
        ListEventFeeds(Opaque),
        #[prost(message, tag = "122")]
        ListEvents(Opaque),
        #[prost(message, tag = "123")]
        IssueCredential(Opaque),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NoneTask {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloTask {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SyncFullTask {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
    #[prost(bool, tag = "2")]
    pub skip_expand_grants: bool,
    #[prost(bool, tag = "3")]
    pub skip_entitlements_and_grants: bool,
    #[prost(message, repeated, tag = "4")]
    pub targeted_sync_resources: Vec<Resource>,
    #[prost(string, repeated, tag = "5")]
    pub sync_resource_type_ids: Vec<String>,
    #[prost(bool, tag = "6")]
    pub skip_grants: bool,
    #[prost(string, tag = "7")]
    pub storage_engine: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantTask {
    #[prost(message, optional, tag = "1")]
    pub entitlement: Option<Entitlement>,
    #[prost(message, optional, tag = "2")]
    pub principal: Option<Resource>,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    #[prost(message, optional, tag = "4")]
    pub duration: Option<Duration>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RevokeTask {
    #[prost(message, optional, tag = "1")]
    pub grant: Option<Grant>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateAccountTask {
    #[prost(message, optional, tag = "1")]
    pub account_info: Option<AccountInfo>,
    #[prost(message, optional, tag = "2")]
    pub credential_options: Option<CredentialOptions>,
    #[prost(message, repeated, tag = "3")]
    pub encryption_configs: Vec<Opaque>,
    #[prost(string, tag = "4")]
    pub resource_type_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateResourceTask {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteResourceTask {
    #[prost(message, optional, tag = "1")]
    pub resource_id: Option<ResourceId>,
    #[prost(message, optional, tag = "2")]
    pub parent_resource_id: Option<ResourceId>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionListSchemasTask {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "2")]
    pub resource_type_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionGetSchemaTask {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionInvokeTask {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub args: Option<Struct>,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "4")]
    pub resource_type_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActionStatusTask {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(message, optional, tag = "3")]
    pub build_info: Option<BuildInfo>,
    #[prost(message, optional, tag = "4")]
    pub os_info: Option<OsInfo>,
    #[prost(message, optional, tag = "5")]
    pub connector_metadata: Option<ConnectorMetadata>,
    #[prost(message, repeated, tag = "6")]
    pub annotations: Vec<Any>,
}

/// `BatonServiceHelloRequest.BuildInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BuildInfo {
    #[prost(string, tag = "1")]
    pub lang_version: String,
    #[prost(string, tag = "2")]
    pub package: String,
    #[prost(string, tag = "3")]
    pub package_version: String,
}

/// `BatonServiceHelloRequest.OSInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OsInfo {
    #[prost(string, tag = "1")]
    pub hostname: String,
    #[prost(string, tag = "2")]
    pub os: String,
    #[prost(string, tag = "3")]
    pub platform: String,
    #[prost(string, tag = "4")]
    pub platform_version: String,
    #[prost(string, tag = "5")]
    pub platform_family: String,
    #[prost(string, tag = "6")]
    pub kernel_version: String,
    #[prost(string, tag = "7")]
    pub kernel_arch: String,
    #[prost(string, tag = "8")]
    pub virtualization_system: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HelloResponse {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetTaskRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetTaskResponse {
    #[prost(message, optional, tag = "1")]
    pub task: Option<Task>,
    #[prost(message, optional, tag = "2")]
    pub next_poll: Option<Duration>,
    #[prost(message, optional, tag = "3")]
    pub next_heartbeat: Option<Duration>,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeartbeatRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    #[prost(string, repeated, tag = "4")]
    pub task_ids: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HeartbeatResponse {
    #[prost(message, optional, tag = "1")]
    pub next_heartbeat: Option<Duration>,
    #[prost(bool, tag = "2")]
    pub cancelled: bool,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    #[prost(string, repeated, tag = "4")]
    pub cancelled_task_ids: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadAssetRequest {
    #[prost(oneof = "upload_asset_request::Msg", tags = "100, 101, 102")]
    pub msg: Option<upload_asset_request::Msg>,
}

/// Nested types of [`UploadAssetRequest`].
pub mod upload_asset_request {
    use super::*;

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Msg {
        #[prost(message, tag = "100")]
        Metadata(UploadMetadata),
        #[prost(message, tag = "101")]
        Data(UploadData),
        #[prost(message, tag = "102")]
        Eof(UploadEof),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UploadMetadata {
        #[prost(string, tag = "1")]
        pub host_id: String,
        #[prost(string, tag = "2")]
        pub task_id: String,
        #[prost(message, repeated, tag = "4")]
        pub annotations: Vec<Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UploadData {
        #[prost(bytes = "vec", tag = "1")]
        pub data: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UploadEof {
        #[prost(bytes = "vec", tag = "1")]
        pub sha256_checksum: Vec<u8>,
        #[prost(message, repeated, tag = "2")]
        pub annotations: Vec<Any>,
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UploadAssetResponse {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FinishTaskRequest {
    #[prost(string, tag = "1")]
    pub host_id: String,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(message, optional, tag = "3")]
    pub status: Option<RpcStatus>,
    #[prost(oneof = "finish_task_request::FinalState", tags = "100, 101")]
    pub final_state: Option<finish_task_request::FinalState>,
}

/// Nested types of [`FinishTaskRequest`].
pub mod finish_task_request {
    use super::*;

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum FinalState {
        #[prost(message, tag = "100")]
        Error(Error),
        #[prost(message, tag = "101")]
        Success(Success),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Error {
        #[prost(bool, tag = "1")]
        pub non_retryable: bool,
        #[prost(message, repeated, tag = "2")]
        pub annotations: Vec<Any>,
        #[prost(message, optional, tag = "3")]
        pub response: Option<Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Success {
        #[prost(message, repeated, tag = "1")]
        pub annotations: Vec<Any>,
        #[prost(message, optional, tag = "2")]
        pub response: Option<Any>,
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct FinishTaskResponse {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

// ---- c1.connector.v2 ---------------------------------------------------------------------------

/// What the connector is and can do, sent in `Hello`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectorMetadata {
    #[prost(string, tag = "1")]
    pub display_name: String,
    #[prost(string, tag = "2")]
    pub help_url: String,
    #[prost(message, optional, tag = "5")]
    pub profile: Option<Struct>,
    #[prost(message, repeated, tag = "6")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "7")]
    pub description: String,
    #[prost(message, optional, tag = "8")]
    pub capabilities: Option<ConnectorCapabilities>,
    #[prost(message, optional, tag = "9")]
    pub account_creation_schema: Option<ConnectorAccountCreationSchema>,
}

/// `c1.connector.v2.Capability`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Capability {
    Unspecified = 0,
    Provision = 1,
    Sync = 2,
    EventFeed = 3,
    Ticketing = 4,
    AccountProvisioning = 5,
    CredentialRotation = 6,
    ResourceCreate = 7,
    ResourceDelete = 8,
    SyncSecrets = 9,
    Actions = 10,
    TargetedSync = 11,
    EventFeedV2 = 12,
    ServiceModeTargetedSync = 13,
    CredentialIssue = 14,
}

/// `c1.connector.v2.CapabilityDetailCredentialOption`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CredentialOption {
    Unspecified = 0,
    NoPassword = 1,
    RandomPassword = 2,
    Sso = 3,
    EncryptedPassword = 4,
    ApiKey = 5,
    Keypair = 6,
    Token = 7,
    ClientSecret = 8,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectorCapabilities {
    #[prost(message, repeated, tag = "1")]
    pub resource_type_capabilities: Vec<ResourceTypeCapability>,
    #[prost(enumeration = "Capability", repeated, tag = "2")]
    pub connector_capabilities: Vec<i32>,
    #[prost(message, optional, tag = "3")]
    pub credential_details: Option<CredentialDetails>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceTypeCapability {
    #[prost(message, optional, tag = "1")]
    pub resource_type: Option<ResourceType>,
    #[prost(enumeration = "Capability", repeated, tag = "2")]
    pub capabilities: Vec<i32>,
    #[prost(bool, tag = "4")]
    pub opt_in_required: bool,
    #[prost(bool, tag = "5")]
    pub skip_sync_anomaly_detection: bool,
    #[prost(bool, tag = "7")]
    pub deprecated: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CredentialDetails {
    #[prost(message, optional, tag = "1")]
    pub capability_account_provisioning: Option<CredentialDetailsAccountProvisioning>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CredentialDetailsAccountProvisioning {
    #[prost(enumeration = "CredentialOption", repeated, tag = "1")]
    pub supported_credential_options: Vec<i32>,
    #[prost(enumeration = "CredentialOption", tag = "2")]
    pub preferred_credential_option: i32,
}

/// The fields ConductorOne asks for when it creates an account through us.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConnectorAccountCreationSchema {
    #[prost(btree_map = "string, message", tag = "1")]
    pub field_map: BTreeMap<String, account_creation_schema::Field>,
}

/// Nested types of [`ConnectorAccountCreationSchema`].
pub mod account_creation_schema {

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Field {
        #[prost(string, tag = "1")]
        pub display_name: String,
        #[prost(bool, tag = "2")]
        pub required: bool,
        #[prost(string, tag = "3")]
        pub description: String,
        #[prost(string, tag = "4")]
        pub placeholder: String,
        #[prost(int32, tag = "5")]
        pub order: i32,
        #[prost(bool, tag = "6")]
        pub deprecated: bool,
        #[prost(oneof = "FieldKind", tags = "100, 101")]
        pub field: Option<FieldKind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum FieldKind {
        #[prost(message, tag = "100")]
        StringField(StringField),
        #[prost(message, tag = "101")]
        BoolField(BoolField),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StringField {
        #[prost(string, optional, tag = "1")]
        pub default_value: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BoolField {
        #[prost(bool, optional, tag = "1")]
        pub default_value: Option<bool>,
    }
}

/// Who to create, as ConductorOne describes the account.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AccountInfo {
    #[prost(message, repeated, tag = "1")]
    pub emails: Vec<account_info::Email>,
    #[prost(string, tag = "2")]
    pub login: String,
    #[prost(string, repeated, tag = "3")]
    pub login_aliases: Vec<String>,
    #[prost(message, optional, tag = "4")]
    pub profile: Option<Struct>,
}

/// Nested types of [`AccountInfo`].
pub mod account_info {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Email {
        #[prost(string, tag = "1")]
        pub address: String,
        #[prost(bool, tag = "2")]
        pub is_primary: bool,
    }
}

/// How the new account gets its credential.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CredentialOptions {
    #[prost(bool, tag = "1")]
    pub force_change_at_next_login: bool,
    #[prost(oneof = "credential_options::Options", tags = "100, 101, 102, 103")]
    pub options: Option<credential_options::Options>,
}

/// Nested types of [`CredentialOptions`].
pub mod credential_options {
    use super::Opaque;

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Options {
        #[prost(message, tag = "100")]
        RandomPassword(Opaque),
        #[prost(message, tag = "101")]
        NoPassword(Opaque),
        #[prost(message, tag = "102")]
        Sso(Opaque),
        #[prost(message, tag = "103")]
        EncryptedPassword(Opaque),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateAccountResponse {
    #[prost(oneof = "create_account_response::Result", tags = "100, 101, 102, 103")]
    pub result: Option<create_account_response::Result>,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
}

/// Nested types of [`CreateAccountResponse`].
pub mod create_account_response {
    use super::*;

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Result {
        #[prost(message, tag = "100")]
        Success(SuccessResult),
        #[prost(message, tag = "101")]
        ActionRequired(ActionRequiredResult),
        #[prost(message, tag = "102")]
        AlreadyExists(AlreadyExistsResult),
        #[prost(message, tag = "103")]
        InProgress(AlreadyExistsResult),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SuccessResult {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(bool, tag = "2")]
        pub is_create_account_result: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ActionRequiredResult {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(string, tag = "2")]
        pub message: String,
        #[prost(bool, tag = "3")]
        pub is_create_account_result: bool,
    }

    /// Also the shape of `InProgressResult` (same fields, same numbers).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AlreadyExistsResult {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(bool, tag = "2")]
        pub is_create_account_result: bool,
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CreateResourceResponse {
    #[prost(message, optional, tag = "1")]
    pub created: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteResourceResponse {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantManagerServiceGrantResponse {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
    #[prost(message, repeated, tag = "2")]
    pub grants: Vec<Grant>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantManagerServiceRevokeResponse {
    #[prost(message, repeated, tag = "1")]
    pub annotations: Vec<Any>,
}

/// Annotation: the grant existed before the grant task (idempotent success).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantAlreadyExists {}

/// Annotation: the grant was already gone before the revoke task.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GrantAlreadyRevoked {}

/// `c1.connector.v2.ActionType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ActionType {
    Unspecified = 0,
    Dynamic = 1,
    Account = 2,
    AccountUpdateProfile = 3,
    AccountDisable = 4,
    AccountEnable = 5,
    ResourceCreate = 6,
    ResourceDelete = 7,
    ResourceEnable = 8,
    ResourceDisable = 9,
}

/// `c1.connector.v2.BatonActionStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ActionStatus {
    Unspecified = 0,
    Unknown = 1,
    Pending = 2,
    Running = 3,
    Complete = 4,
    Failed = 5,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct BatonActionSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub arguments: Vec<ConfigField>,
    #[prost(message, repeated, tag = "4")]
    pub return_types: Vec<ConfigField>,
    #[prost(string, tag = "5")]
    pub display_name: String,
    #[prost(string, tag = "6")]
    pub description: String,
    #[prost(enumeration = "ActionType", repeated, tag = "7")]
    pub action_type: Vec<i32>,
    #[prost(string, tag = "8")]
    pub resource_type_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListActionSchemasResponse {
    #[prost(message, repeated, tag = "1")]
    pub schemas: Vec<BatonActionSchema>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetActionSchemaResponse {
    #[prost(message, optional, tag = "1")]
    pub schema: Option<BatonActionSchema>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InvokeActionResponse {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(enumeration = "ActionStatus", tag = "2")]
    pub status: i32,
    #[prost(message, repeated, tag = "3")]
    pub annotations: Vec<Any>,
    #[prost(message, optional, tag = "4")]
    pub response: Option<Struct>,
    #[prost(string, tag = "5")]
    pub name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetActionStatusResponse {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(enumeration = "ActionStatus", tag = "3")]
    pub status: i32,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
    #[prost(message, optional, tag = "5")]
    pub response: Option<Struct>,
}

// ---- c1.config.v1 ------------------------------------------------------------------------------

/// `c1.config.v1.Field`: one argument or return value of an action.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigField {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub display_name: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub placeholder: String,
    #[prost(bool, tag = "5")]
    pub is_required: bool,
    #[prost(oneof = "config_field::Kind", tags = "100, 102, 105")]
    pub field: Option<config_field::Kind>,
}

/// Nested types of [`ConfigField`].
pub mod config_field {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "100")]
        StringField(super::Opaque),
        #[prost(message, tag = "102")]
        BoolField(super::Opaque),
        #[prost(message, tag = "105")]
        ResourceIdField(super::Opaque),
    }
}

macro_rules! named {
    ($package:literal: $($ty:ident $(= $name:literal)?),* $(,)?) => {
        $(impl prost::Name for $ty {
            const NAME: &'static str = named!(@name $ty $($name)?);
            const PACKAGE: &'static str = $package;
            fn type_url() -> String {
                format!("type.googleapis.com/{}.{}", $package, Self::NAME)
            }
        })*
    };
    (@name $ty:ident) => { stringify!($ty) };
    (@name $ty:ident $name:literal) => { $name };
}

named!("c1.connector.v2":
    GrantManagerServiceGrantResponse,
    GrantManagerServiceRevokeResponse,
    GrantAlreadyExists,
    GrantAlreadyRevoked,
    CreateAccountResponse,
    CreateResourceResponse,
    DeleteResourceResponse,
    ListActionSchemasResponse,
    GetActionSchemaResponse,
    InvokeActionResponse,
    GetActionStatusResponse,
);

/// Packs `msg` into an `Any` with Baton's `type_url`.
pub fn to_any<M: prost::Name>(msg: &M) -> Any {
    crate::baton::pb::to_any(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::{Message, Name};

    #[test]
    fn oneof_numbers_on_the_wire() {
        // Task{id:"x", sync_full{skip_grants:true}}: field 1 (0x0a), field 102 (key 0xb2 0x06).
        let t = Task {
            id: "x".into(),
            task_type: Some(task::TaskType::SyncFull(SyncFullTask {
                skip_grants: true,
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(t.encode_to_vec(), b"\x0a\x01x\xb2\x06\x02\x30\x01");
        // An unhandled type is still a task type.
        let t = Task::decode(&b"\x0a\x01x\xba\x07\x00"[..]).expect("decodes");
        assert_eq!(t.task_type, Some(task::TaskType::CreateSyncDiff(Opaque {})));
        // FinishTask success is field 101 (0xaa 0x06), error 100 (0xa2 0x06).
        let f = FinishTaskRequest {
            final_state: Some(finish_task_request::FinalState::Error(
                finish_task_request::Error {
                    non_retryable: true,
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        assert_eq!(f.encode_to_vec(), b"\xa2\x06\x02\x08\x01");
        // Upload eof is field 102 with the checksum at 1.
        let u = UploadAssetRequest {
            msg: Some(upload_asset_request::Msg::Eof(
                upload_asset_request::UploadEof {
                    sha256_checksum: vec![7],
                    annotations: vec![],
                },
            )),
        };
        assert_eq!(u.encode_to_vec(), b"\xb2\x06\x03\x0a\x01\x07");
    }

    #[test]
    fn response_type_urls_are_batons() {
        assert_eq!(
            GrantManagerServiceGrantResponse::type_url(),
            "type.googleapis.com/c1.connector.v2.GrantManagerServiceGrantResponse"
        );
        assert_eq!(
            GrantAlreadyRevoked::full_name(),
            "c1.connector.v2.GrantAlreadyRevoked"
        );
    }
}
