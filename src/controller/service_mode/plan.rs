//! Service mode's decisions for one connector, pure: the credentials and spec, what the running
//! task loop reported, and the time → whether the loop should run (and with which inputs), the
//! `ConductorOne` condition, `status.conductorOne`, and the Events of the tasks it carried out.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sha2::{Digest, Sha256};

use super::super::events::Note;
use super::super::secret::{C1Keys, SecretProblem};
use crate::api::conditions::{Condition, ConditionStatus, ConditionType};
use crate::api::connector::{
    ConductorOneSpec, ConductorOneStatus, ConductorOneTask, ConductorOneUpload,
};
use crate::reason::Reason;
use crate::settings;

/// How the loop is doing, as the runtime saw it last.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Link {
    /// Not started (or stopped on request).
    #[default]
    Idle,
    /// Saying `Hello`.
    Starting,
    /// ConductorOne accepted `Hello`; polling.
    Connected { host_id: String, since: Timestamp },
    /// A call failed; the loop retries on its own.
    Retrying {
        reason: Reason,
        message: String,
        retry_in_secs: u64,
    },
    /// The loop ended: ConductorOne refused the connector (credentials, permission). It is not
    /// restarted until its inputs change.
    Ended { reason: Reason, message: String },
}

/// One finished task, reduced to what status and Events show (no secret material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Order of arrival.
    pub seq: u64,
    pub id: String,
    pub task_type: &'static str,
    pub succeeded: bool,
    /// `Succeeded`, `Failed`, `Cancelled` or `Dropped`.
    pub outcome: &'static str,
    /// Why it did not succeed.
    pub reason: Reason,
    /// What it was about (a grant id, a user, a team).
    pub subject: Option<String>,
    /// What it did, or why it failed.
    pub message: Option<String>,
    pub finished: Timestamp,
    pub upload: Option<ConductorOneUpload>,
    /// A task that changes access (its Event is published).
    pub provisioning: bool,
}

/// What the runtime knows of a connector's loop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceView {
    /// The inputs the loop runs with (see [`revision`]); `None` when none runs.
    pub revision: Option<String>,
    pub link: Link,
    /// Finished tasks not yet known to be in the connector's status, oldest first.
    pub reports: Vec<Report>,
}

/// What the reconcile observed for service mode.
pub struct Observed<'a> {
    pub spec: Option<&'a ConductorOneSpec>,
    /// The credentials (from the connector's Secret, or `spec.conductorOne.secretName`).
    pub keys: Result<&'a C1Keys, &'a SecretProblem>,
    /// The Monday token's Secret version, when the token is usable (service mode needs it).
    pub token_version: Option<&'a str>,
    pub api_url: &'a str,
    pub view: &'a ServiceView,
    pub status: Option<&'a ConductorOneStatus>,
    pub generation: Option<i64>,
    pub now: Timestamp,
}

/// Whether the loop should run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Desired {
    Off,
    /// Run with these inputs; a different revision restarts it (rotated credentials or token).
    On {
        revision: String,
    },
}

/// Service mode's part of the connector's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicePlan {
    pub desired: Desired,
    pub condition: Condition,
    /// Service mode is wanted (configured) but not working: `Ready` says so.
    pub blocks_ready: bool,
    pub status: Option<ConductorOneStatus>,
    /// The reports up to this sequence number are in the status read: forget them.
    pub consume: Option<u64>,
    /// Events of the tasks newly written into status.
    pub notes: Vec<Note>,
}

/// The inputs a loop runs with: a change of any restarts it.
pub fn revision(o: &Observed<'_>, keys: &C1Keys, token_version: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        keys.secret.as_str(),
        keys.resource_version.as_str(),
        token_version,
        o.api_url,
        o.spec.and_then(|s| s.api_host.as_deref()).unwrap_or(""),
        &o.spec
            .and_then(|s| s.task_concurrency)
            .unwrap_or_default()
            .to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..8])
}

/// Decides service mode for one connector.
pub fn plan(o: &Observed<'_>) -> ServicePlan {
    let (desired, condition, wanted) = decide(o);
    let blocks_ready = wanted && condition.status == ConditionStatus::False;
    let (status, consume, notes) = record(o);
    ServicePlan {
        desired,
        condition,
        blocks_ready,
        status,
        consume,
        notes,
    }
}

fn cond(o: &Observed<'_>, status: ConditionStatus, reason: Reason, message: String) -> Condition {
    Condition::new(
        ConditionType::ConductorOne,
        status,
        reason,
        message,
        o.generation,
    )
}

/// The loop's desired state and the condition; the bool says whether service mode is wanted.
fn decide(o: &Observed<'_>) -> (Desired, Condition, bool) {
    let keys = match usable_keys(o) {
        Ok(k) => k,
        Err((c, wanted)) => return (Desired::Off, c, wanted),
    };
    let Some(token_version) = o.token_version else {
        let c = cond(
            o,
            ConditionStatus::Unknown,
            Reason::Connecting,
            "waiting for a usable Monday.com token (see Connected)".into(),
        );
        return (Desired::Off, c, true);
    };
    let revision = revision(o, keys, token_version);
    let link = match &o.view.revision {
        Some(r) if *r == revision => &o.view.link,
        _ => &Link::Starting,
    };
    (
        Desired::On { revision },
        link_condition(o, keys, link),
        true,
    )
}

/// The credentials when service mode is on and they are complete; otherwise the condition that
/// says why not, and whether service mode is wanted (then `Ready` shows the problem).
fn usable_keys<'a>(o: &Observed<'a>) -> Result<&'a C1Keys, (Condition, bool)> {
    let enabled = o.spec.and_then(|s| s.enabled);
    if enabled == Some(false) {
        let c = cond(
            o,
            ConditionStatus::False,
            Reason::ServiceModeOff,
            "switched off by spec.conductorOne.enabled".into(),
        );
        return Err((c, false));
    }
    let keys = o.keys.map_err(|problem| {
        (
            cond(
                o,
                ConditionStatus::False,
                problem.reason(),
                problem.to_string(),
            ),
            true,
        )
    })?;
    let missing: Vec<&str> = [
        (settings::CLIENT_ID, keys.client_id.is_some()),
        (settings::CLIENT_SECRET, keys.client_secret.is_some()),
    ]
    .into_iter()
    .filter(|(_, present)| !present)
    .map(|(k, _)| k)
    .collect();
    // As in the SDK, the client id turns service mode on; the secret is then required.
    match (keys.client_id.is_some(), missing.is_empty(), enabled) {
        (_, true, _) => Ok(keys),
        (false, _, None) => {
            let message = format!(
                "Secret {} holds no ConductorOne client id ({})",
                keys.secret,
                settings::CLIENT_ID
            );
            Err((
                cond(o, ConditionStatus::False, Reason::ServiceModeOff, message),
                false,
            ))
        }
        _ => {
            let message = format!(
                "Secret {} has no {}: add it (service mode needs {} and {}) or set spec.conductorOne.enabled: false",
                keys.secret,
                missing.join(" and "),
                settings::CLIENT_ID,
                settings::CLIENT_SECRET
            );
            Err((
                cond(o, ConditionStatus::False, Reason::SecretKeyMissing, message),
                true,
            ))
        }
    }
}

/// The `ConductorOne` condition of a running loop, from what it reported last.
fn link_condition(o: &Observed<'_>, keys: &C1Keys, link: &Link) -> Condition {
    use ConditionStatus::{False, True, Unknown};
    let client = keys.client_id.as_deref().unwrap_or_default();
    match link {
        Link::Idle | Link::Starting => cond(
            o,
            Unknown,
            Reason::Connecting,
            format!("connecting to ConductorOne as {client}"),
        ),
        Link::Connected { host_id, since } => cond(
            o,
            True,
            Reason::Connected,
            format!("connected to ConductorOne as {client} (host id {host_id}) since {since}"),
        ),
        Link::Retrying {
            reason,
            message,
            retry_in_secs,
        } => cond(
            o,
            False,
            *reason,
            format!("{message}; retrying in {retry_in_secs}s"),
        ),
        Link::Ended { reason, message } => cond(
            o,
            False,
            *reason,
            format!(
                "{message}; fix the credentials in Secret {} (the connector reconnects when it changes)",
                keys.secret
            ),
        ),
    }
}

/// `status.conductorOne` with the reports the status read does not show yet, which reports to
/// forget, and the Events of the newly written ones.
fn record(o: &Observed<'_>) -> (Option<ConductorOneStatus>, Option<u64>, Vec<Note>) {
    let mut st = o.status.cloned();
    // Reports up to the one status names as its last task are in the status already.
    let shown = st
        .as_ref()
        .and_then(|s| s.last_task.as_ref())
        .and_then(|t| o.view.reports.iter().position(|r| r.id == t.id));
    let consume = shown.map(|i| o.view.reports[i].seq);
    let fresh = &o.view.reports[shown.map_or(0, |i| i + 1)..];
    let mut notes = Vec::new();
    if let Link::Connected { host_id, since } = &o.view.link {
        let s = st.get_or_insert_with(ConductorOneStatus::default);
        s.host_id = Some(host_id.clone());
        s.connected_at = Some(Time(*since));
    }
    if let Ok(keys) = o.keys
        && keys.client_id.is_some()
        && o.view.revision.is_some()
    {
        st.get_or_insert_with(ConductorOneStatus::default).client_id = keys.client_id.clone();
    }
    for r in fresh {
        let s = st.get_or_insert_with(ConductorOneStatus::default);
        if r.succeeded {
            s.tasks_succeeded = s.tasks_succeeded.saturating_add(1);
        } else {
            s.tasks_failed = s.tasks_failed.saturating_add(1);
        }
        s.last_task = Some(ConductorOneTask {
            id: r.id.clone(),
            type_: r.task_type.to_string(),
            outcome: r.outcome.to_string(),
            subject: r.subject.clone(),
            message: r.message.clone(),
            finished_at: Time(r.finished),
        });
        if let Some(u) = &r.upload {
            s.last_upload = Some(u.clone());
        }
        if r.provisioning {
            notes.push(task_note(r));
        }
    }
    (st, consume, notes)
}

/// The Event of a provisioning task: who asked (ConductorOne), what, and the outcome.
fn task_note(r: &Report) -> Note {
    let what = r.subject.as_deref().unwrap_or("-");
    let text = format!(
        "ConductorOne {} task {}: {what}: {}{}",
        r.task_type,
        r.id,
        r.outcome.to_lowercase(),
        r.message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    );
    if r.succeeded {
        Note::normal(Reason::Succeeded, "ConductorOne", text)
    } else {
        Note::warning(r.reason, "ConductorOne", text)
    }
}

#[cfg(test)]
mod tests;
