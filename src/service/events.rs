//! What the embedding program learns from the task loop: one typed event per thing that happened,
//! delivered to a [`ServiceObserver`]. The controller turns these into status, Events, metrics
//! and MondayAccessGrant records; the `service` command only logs them. Events never carry a
//! token, the client secret or its key.

use std::sync::Arc;
use std::time::Duration;

use crate::conductorone::{TaskTypeName, UploadReport};
use crate::engine::provision::{GrantOutcome, InviteOutcome, RevokeOutcome};
use crate::engine::{Entitlement, Principal, SyncReport};
use crate::reason::Reason;

/// Something the task loop did or saw.
#[derive(Debug, Clone)]
pub enum ServiceEvent {
    /// ConductorOne accepted `Hello` (at start-up, or for a `hello` task).
    Connected {
        host_id: String,
    },
    /// The start-up `Hello` failed. `retry_in: None` means it will not be retried (credentials,
    /// permission, malformed…): the run ends with this error.
    HelloFailed {
        reason: Reason,
        message: String,
        retry_in: Option<Duration>,
    },
    /// `GetTask` failed; polling resumes after `retry_in` (the SDK's errCount² s, at most 60 s).
    PollFailed {
        reason: Reason,
        message: String,
        consecutive: u32,
        retry_in: Duration,
    },
    /// `GetTask` works again after failures.
    PollRecovered,
    TaskStarted(TaskInfo),
    TaskFinished(Box<TaskReport>),
    /// A stop was asked for: no more polling; in-flight tasks finish or are abandoned.
    Stopping {
        in_flight: usize,
    },
}

/// A task as it starts.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    pub id: String,
    pub task_type: TaskTypeName,
    /// For grant and revoke tasks: what is granted or revoked.
    pub grant: Option<GrantRef>,
}

/// The grant a grant/revoke task is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRef {
    /// Baton grant id `<entitlement>:<principal type>:<principal id>`.
    pub grant_id: String,
    pub entitlement: Entitlement,
    pub principal: Principal,
    /// `GrantTask.duration`: how long ConductorOne means a grant to last (the SDK ignores it).
    pub duration: Option<Duration>,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    Succeeded,
    /// Finished with an error (`FinishTask` error with this status).
    Failed {
        code: tonic::Code,
        reason: Reason,
        message: String,
        non_retryable: bool,
    },
    /// Cancelled by ConductorOne (heartbeat `cancelled`) or after 10 failed heartbeats; reported
    /// as a retryable `CANCELLED` error.
    Cancelled {
        heartbeat_failed: bool,
    },
    /// Dropped without `FinishTask`, as the SDK drops it: the first heartbeat failed or said
    /// `cancelled`, or the service stopped while it ran.
    Dropped {
        why: String,
    },
}

/// What a finished task did.
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub info: TaskInfo,
    pub outcome: TaskOutcome,
    /// From `GetTask` to the end of `FinishTask` (or to the drop).
    pub duration: Duration,
    /// Whether the `FinishTask` reached ConductorOne (false for dropped tasks, `hello`, or when
    /// `FinishTask` itself failed).
    pub finish_reported: bool,
    pub detail: TaskDetail,
}

/// Task-type specific results.
#[derive(Debug, Clone, Default)]
pub enum TaskDetail {
    #[default]
    None,
    Sync {
        report: Option<Box<SyncReport>>,
        upload: Option<UploadReport>,
    },
    Grant(Box<GrantOutcome>),
    Revoke(RevokeOutcome),
    Account(Box<InviteOutcome>),
    /// `enable_user` / `disable_user`.
    Lifecycle {
        action: String,
        user_id: String,
        already: bool,
    },
    TeamCreated {
        team_id: String,
        name: String,
    },
    TeamDeleted {
        team_id: String,
        already_absent: bool,
    },
}

/// Receives every [`ServiceEvent`]. Called on the task loop's threads; keep it quick (push to a
/// channel, bump a metric).
pub trait ServiceObserver: Send + Sync {
    fn event(&self, event: &ServiceEvent);
}

/// Logs only.
impl ServiceObserver for () {
    fn event(&self, _: &ServiceEvent) {}
}

/// Forwards events to a channel (dropped silently once the receiver is gone).
impl ServiceObserver for tokio::sync::mpsc::UnboundedSender<ServiceEvent> {
    fn event(&self, event: &ServiceEvent) {
        let _ = self.send(event.clone());
    }
}

impl<T: ServiceObserver + ?Sized> ServiceObserver for Arc<T> {
    fn event(&self, event: &ServiceEvent) {
        (**self).event(event)
    }
}
