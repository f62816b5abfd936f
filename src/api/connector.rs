//! `MondayConnector`: one Monday.com account synced into the Baton access model on a schedule.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conditions::Condition;
use crate::engine::ResourceType;

/// Annotation whose new value asks for one sync right away.
pub const SYNC_REQUESTED_ANNOTATION: &str = "iga.monday-operator.dev/sync-requested-at";

/// Desired state of a connector.
// kube-derive repeats `type_`/`priority` per printcolumn, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "iga.monday-operator.dev",
    version = "v1alpha1",
    kind = "MondayConnector",
    namespaced,
    shortname = "mcon",
    category = "monday",
    status = "MondayConnectorStatus",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Synced",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Synced")].status"#
    ),
    printcolumn(name = "Users", type_ = "integer", json_path = ".status.counts.users"),
    printcolumn(
        name = "Grants",
        type_ = "integer",
        json_path = ".status.counts.grants"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
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
    ),
    printcolumn(
        name = "Interval",
        type_ = "string",
        priority = 1,
        json_path = ".spec.syncInterval"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct MondayConnectorSpec {
    /// The Secret (in this namespace) that holds the Monday.com API token.
    pub secret_ref: SecretKeyRef,

    /// How often to sync, as a Go-style duration (`30m`, `1h`, `1h30m`). At least `1m`.
    #[serde(default = "default_sync_interval")]
    #[x_kube(validation = kube::core::Rule::new(format!("self.matches('{}') && duration(self) >= duration('1m')", crate::time::GO_DURATION_PATTERN)).message("syncInterval must be a duration such as 30m or 1h, and at least 1m"))]
    pub sync_interval: String,

    /// Stops scheduled syncs while true; the last snapshot and status are kept.
    #[serde(default)]
    pub suspend: bool,

    /// Allows provisioning (grant/revoke through MondayAccessGrant). When unset, the Secret's
    /// `BATON_PROVISIONING` key decides; when that is absent too, provisioning is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning: Option<bool>,

    /// Monday.com GraphQL endpoint; change it only for a proxy or a test emulator.
    #[serde(default = "default_api_url")]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('https://') || self.startsWith('http://')").message("apiUrl must be an http(s) URL"))]
    pub api_url: String,

    /// Sync only these resource types (all when unset). `user` is always synced: every grant needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_types: Option<Vec<ResourceType>>,

    /// ConductorOne service mode: connect to ConductorOne with the client id and secret of the
    /// set-up guide's Secret, upload syncs and carry out its provisioning tasks. On by default
    /// when the Secret holds `BATON_CLIENT_ID` and `BATON_CLIENT_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conductor_one: Option<ConductorOneSpec>,
}

/// How the connector connects to ConductorOne.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConductorOneSpec {
    /// `false` never connects, even when the Secret holds credentials; `true` requires them
    /// (a condition says when they are missing). Unset: on when they are present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The Secret (in this namespace) holding the credentials; default: `spec.secretRef.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.size() > 0 && self.size() <= 253").message("conductorOne.secretName must be a Secret name"))]
    pub secret_name: Option<String>,
    /// `host[:port]` that replaces the host of the client id for the token request and gRPC
    /// (as the SDK's `BATON_C1_API_HOST`); the JWT audience stays the client id's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[A-Za-z0-9.-]+(:[0-9]{1,5})?$')").message("conductorOne.apiHost must be host or host:port"))]
    pub api_host: Option<String>,
    /// Tasks run at once (the SDK's `--task-concurrency`, default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self >= 1 && self <= 100").message("conductorOne.taskConcurrency must be 1 to 100"))]
    pub task_concurrency: Option<i32>,
    /// A grant task that names a duration is revoked by the operator itself when no revoke task
    /// has come this long after the duration ends (Go duration; default `15m`; `0` = never: wait
    /// for ConductorOne as the SDK does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new(format!("self == '0' || self.matches('{}')", crate::time::GO_DURATION_PATTERN)).message("conductorOne.revokeGracePeriod must be a Go duration such as 15m, or 0"))]
    pub revoke_grace_period: Option<String>,
}

/// A key in a Secret of the connector's namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[x_kube(validation = kube::core::Rule::new("self.size() > 0 && self.size() <= 253").message("secretRef.name must be a Secret name"))]
    pub name: String,
    /// Key holding the token.
    #[serde(default = "default_token_key")]
    pub key: String,
}

fn default_sync_interval() -> String {
    "1h".to_string()
}

fn default_api_url() -> String {
    crate::monday::DEFAULT_API_URL.to_string()
}

fn default_token_key() -> String {
    crate::settings::MONDAY_API_KEY.to_string()
}

/// Observed state of a connector, written only by the operator.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MondayConnectorStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready (summary), Connected and Synced.
    #[serde(default)]
    #[schemars(schema_with = "crate::api::conditions::schema")]
    pub conditions: Vec<Condition>,
    /// When the last sync ended, successful or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// When the last successful sync ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_sync_time: Option<Time>,
    /// When the next scheduled sync is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sync_time: Option<Time>,
    /// How long the last sync took, as a duration string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_duration: Option<String>,
    /// The last error, without secret material; empty after a success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The Monday.com account the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountStatus>,
    /// Counts from the last successful snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// The last successful snapshot file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotStatus>,
    /// Grant changes between the last two successful snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// Inputs the last sync ran with (Secret resourceVersion and a hash of the sync-relevant spec);
    /// when they differ from the current ones (token rotated, spec edited) a sync starts at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_revision: Option<String>,
    /// The value of the `iga.monday-operator.dev/sync-requested-at` annotation handled last, so one
    /// request triggers exactly one sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_request: Option<String>,
    /// ConductorOne service mode: the connection and the tasks carried out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conductor_one: Option<ConductorOneStatus>,
    /// Why the next sync waits longer than the interval: transient failures in a row, and when
    /// Monday allows the next call. Kept in status so an operator restart continues the backoff.
    /// Absent after a success or a failure that retrying cannot fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStatus>,
}

/// What service mode did.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConductorOneStatus {
    /// The client id in use (`name@host/suffix`; not a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The host id sent to ConductorOne.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// When ConductorOne last accepted `Hello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Time>,
    /// Tasks finished with success, and with an error (cancelled and dropped tasks count as
    /// failed), since the connector was created.
    #[serde(default)]
    pub tasks_succeeded: i64,
    #[serde(default)]
    pub tasks_failed: i64,
    /// The last task that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_task: Option<ConductorOneTask>,
    /// The last sync uploaded to ConductorOne.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_upload: Option<ConductorOneUpload>,
}

/// A task ConductorOne handed out.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConductorOneTask {
    /// ConductorOne's task id.
    pub id: String,
    /// `sync_full`, `grant`, `revoke`, `create_account`, …
    #[serde(rename = "type")]
    pub type_: String,
    /// `Succeeded`, `Failed`, `Cancelled` or `Dropped`.
    pub outcome: String,
    /// What it was about (a grant id, a user), when it names something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Why it failed, when it did (no secret material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub finished_at: Time,
}

/// An uploaded sync.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConductorOneUpload {
    /// Baton sync id of the uploaded file.
    pub sync_id: String,
    pub bytes: i64,
    /// SHA-256 (hex) sent at the end of the upload.
    pub sha256: String,
    pub at: Time,
}

/// The retry state of a connector whose last syncs failed transiently.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RetryStatus {
    /// Transient failures in a row; the next attempt waits 30 s doubling per failure, at most
    /// 15 min (and never longer than the interval).
    pub failures: i64,
    /// Monday said not to call before this time (its daily call limit resets then); the next
    /// sync waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
}

/// The Monday.com account behind the token.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Plan tier as Monday reports it (for example `enterprise`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

/// Object counts of one snapshot.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Accounts of every status.
    pub users: i64,
    /// Base roles.
    pub roles: i64,
    /// Teams.
    pub teams: i64,
    /// Workspaces.
    pub workspaces: i64,
    /// Boards.
    pub boards: i64,
    /// Entitlements of all resources.
    pub entitlements: i64,
    /// Grants of all entitlements.
    pub grants: i64,
}

/// Where the last good snapshot is and how to check it.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotStatus {
    /// Baton sync id (KSUID) of the latest sync in the file.
    pub sync_id: String,
    /// Path of the .c1z file inside the operator's data directory.
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: i64,
}

/// Difference between the last two successful snapshots.
#[derive(JsonSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// Grants present now and not before.
    pub grants_added: i64,
    /// Grants present before and not now.
    pub grants_removed: i64,
}
