//! Time-bound grants from ConductorOne, enforced in the cluster.
//!
//! ConductorOne's grant task carries a `duration`, which the SDK ignores: it waits for a revoke
//! task. For every successful grant task with a duration the operator records a
//! MondayAccessGrant marked `spec.conductorOne.taskId` (only the operator's identity may set it;
//! the admission policies say so), already `Granted`, expiring `duration + revokeGracePeriod`
//! after the grant. If ConductorOne's revoke task comes first, the record is deleted (its
//! finalizer finds the access gone); otherwise the MondayAccessGrant controller revokes it at the
//! stored expiry, across restarts and failovers like any grant, and says so in its Events — and
//! the next sync uploaded to ConductorOne shows the grant gone.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::super::kit::{self, ObjectKey};
use crate::api::access_grant::{
    ConnectorRef, GrantPrincipal, MondayAccessGrantSpec, MondayAccessGrantStatus, Phase,
};
use crate::api::conditions::{Condition, ConditionType};
use crate::api::{MondayAccessGrant, MondayConnector};
use crate::engine::Principal;
use crate::reason::Reason;
use crate::service::{TaskDetail, TaskOutcome, TaskReport};

/// Label naming the Baton grant a record is about (a hash: grant ids are not label values).
pub const GRANT_LABEL: &str = "iga.monday-operator.dev/conductorone-grant";
/// Default of `spec.conductorOne.revokeGracePeriod`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);

/// What the recorder is told.
enum Job {
    Granted(Granted),
    Revoked {
        connector: ObjectKey,
        grant_id: String,
    },
}

/// A successful time-bound grant task, as the record needs it.
struct Granted {
    connector: ObjectKey,
    task_id: String,
    grant_id: String,
    entitlement: String,
    principal: Principal,
    duration: Duration,
    previous: Option<String>,
    user_id: Option<String>,
}

/// Records time-bound grants in the background (the task loop only hands jobs over).
#[derive(Clone)]
pub struct Recorder {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Recorder {
    /// Starts the recorder; it ends when every sender is gone.
    pub fn start(client: kube::Client) -> Recorder {
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                if let Err(e) = handle(&client, job).await {
                    tracing::warn!(error = %e, "could not record a ConductorOne grant");
                }
            }
        });
        Recorder { jobs }
    }

    /// Looks at a finished task: a successful grant with a duration is recorded, a successful
    /// revoke ends its records.
    pub fn task_finished(&self, connector: &ObjectKey, r: &TaskReport) {
        let (Some(g), TaskOutcome::Succeeded) = (&r.info.grant, &r.outcome) else {
            return;
        };
        let job = match &r.detail {
            TaskDetail::Grant(out) if !out.pre_existing => match g.duration {
                Some(duration) => Job::Granted(Granted {
                    connector: connector.clone(),
                    task_id: r.info.id.clone(),
                    grant_id: g.grant_id.clone(),
                    entitlement: g.entitlement.to_string(),
                    principal: g.principal.clone(),
                    duration,
                    previous: out.previous.clone(),
                    user_id: out.holder.user_id().map(|i| i.to_string()),
                }),
                None => return,
            },
            TaskDetail::Revoke(_) => Job::Revoked {
                connector: connector.clone(),
                grant_id: g.grant_id.clone(),
            },
            _ => return,
        };
        let _ = self.jobs.send(job);
    }
}

/// The label value for a grant id.
pub fn grant_label(grant_id: &str) -> String {
    hex::encode(&Sha256::digest(grant_id.as_bytes())[..16])
}

/// The record's name: `c1-` and the task id (task ids are 27 alphanumerics).
fn record_name(task_id: &str) -> String {
    format!("c1-{}", task_id.to_ascii_lowercase())
}

async fn handle(client: &kube::Client, job: Job) -> Result<(), kube::Error> {
    match job {
        Job::Revoked {
            connector,
            grant_id,
        } => end_records(client, &connector, &grant_id).await,
        Job::Granted(g) => record(client, g).await,
    }
}

/// ConductorOne revoked the grant: its records end (their finalizer finds the access gone).
async fn end_records(
    client: &kube::Client,
    connector: &ObjectKey,
    grant_id: &str,
) -> Result<(), kube::Error> {
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &connector.namespace);
    let lp = ListParams::default().labels(&format!("{GRANT_LABEL}={}", grant_label(grant_id)));
    for g in api.list(&lp).await?.items {
        if let Some(name) = g.metadata.name.as_deref() {
            tracing::info!(connector = %connector, grant = %grant_id, record = name, "ConductorOne revoked the grant; ending its record");
            api.delete(name, &DeleteParams::default()).await?;
        }
    }
    Ok(())
}

/// Creates the record of a time-bound grant (unless the connector turned the safety net off),
/// then writes its `Granted` status.
async fn record(client: &kube::Client, g: Granted) -> Result<(), kube::Error> {
    let connectors: Api<MondayConnector> = Api::namespaced(client.clone(), &g.connector.namespace);
    let Some(grace) = connectors
        .get_opt(&g.connector.name)
        .await?
        .and_then(|c| grace(&c))
    else {
        return Ok(());
    };
    let now = crate::time::floor_second(jiff::Timestamp::now());
    let expires = crate::time::ceil_second(crate::time::add(now, g.duration + grace));
    let (record, status) = record_of(&g, grace, now, expires);
    let name = record_name(&g.task_id);
    let api: Api<MondayAccessGrant> = Api::namespaced(client.clone(), &g.connector.namespace);
    match api.create(&PostParams::default(), &record).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e),
    }
    kit::apply_status::<MondayAccessGrant>(
        client,
        &ObjectKey::new(&g.connector.namespace, &name),
        &status,
    )
    .await?;
    tracing::info!(connector = %g.connector, grant = %g.grant_id, record = %name, %expires, "recorded a time-bound ConductorOne grant");
    Ok(())
}

/// The record's principal, and how status shows it.
fn principal_of(p: &Principal) -> (GrantPrincipal, String) {
    match p {
        Principal::UserId(id) => (
            GrantPrincipal {
                user_id: Some(id.to_string()),
                ..Default::default()
            },
            format!("user:{id}"),
        ),
        Principal::Team(id) => (
            GrantPrincipal {
                team_id: Some(id.to_string()),
                ..Default::default()
            },
            format!("team:{id}"),
        ),
        Principal::Email(e) => (
            GrantPrincipal {
                email: Some(e.clone()),
                ..Default::default()
            },
            e.clone(),
        ),
    }
}

/// The record and its status (pure): granted at `now`, expiring at `expires`.
fn record_of(
    g: &Granted,
    grace: Duration,
    now: jiff::Timestamp,
    expires: jiff::Timestamp,
) -> (MondayAccessGrant, MondayAccessGrantStatus) {
    let (principal, shown) = principal_of(&g.principal);
    let task_id = &g.task_id;
    let mut record = crate::controller::access_grant::conductor_one_grant(
        &record_name(task_id),
        MondayAccessGrantSpec {
            connector_ref: ConnectorRef {
                name: g.connector.name.clone(),
            },
            principal,
            entitlement: g.entitlement.clone(),
            duration: None,
            expires_at: Some(expires.to_string()),
            create_account: false,
            reason: Some(format!(
                "ConductorOne grant task {task_id} for {}s; revoked by the operator {}s after that unless ConductorOne revokes it first",
                g.duration.as_secs(),
                grace.as_secs()
            )),
            requester: None,
            conductor_one: None,
        },
        task_id,
    );
    record.metadata.labels = Some([(GRANT_LABEL.to_string(), grant_label(&g.grant_id))].into());
    let mut status = MondayAccessGrantStatus {
        phase: Some(Phase::Granted),
        principal: Some(shown),
        grant_id: Some(g.grant_id.clone()),
        user_id: g.user_id.clone(),
        granted_at: Some(Time(now)),
        expires_at: Some(Time(expires)),
        pre_existing: Some(false),
        previous_role: g.previous.clone(),
        account_invited: Some(false),
        ..Default::default()
    };
    crate::api::conditions::merge(
        &mut status.conditions,
        vec![Condition::new(
            ConditionType::Ready,
            true,
            Reason::Granted,
            format!(
                "granted {} by ConductorOne task {task_id}; the operator revokes it at {expires} unless ConductorOne does first",
                g.entitlement
            ),
            None,
        )],
        now,
    );
    (record, status)
}

/// The connector's grace period; `None` = the safety net is off.
fn grace(c: &MondayConnector) -> Option<Duration> {
    match c
        .spec
        .conductor_one
        .as_ref()
        .and_then(|s| s.revoke_grace_period.as_deref())
    {
        None => Some(DEFAULT_GRACE),
        Some("0") => None,
        Some(d) => crate::time::parse_go_duration(d)
            .ok()
            .or(Some(DEFAULT_GRACE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_marked_by_its_task_labelled_by_its_grant_and_granted_until_its_expiry() {
        let g = Granted {
            connector: ObjectKey::new("iga", "acme"),
            task_id: "2AbCdEfGhIjKlMnOpQrStUvWxYz".into(),
            grant_id: "board:42:subscriber:user:7".into(),
            entitlement: "board:42:subscriber".into(),
            principal: Principal::UserId(crate::monday::Id::from("7")),
            duration: Duration::from_secs(3600),
            previous: None,
            user_id: Some("7".into()),
        };
        let now = jiff::Timestamp::from_second(1_800_000_000).expect("time");
        let expires = jiff::Timestamp::from_second(1_800_004_500).expect("time");
        let (record, status) = record_of(&g, DEFAULT_GRACE, now, expires);
        assert_eq!(
            record.metadata.name.as_deref(),
            Some("c1-2abcdefghijklmnopqrstuvwxyz")
        );
        assert_eq!(
            record
                .spec
                .conductor_one
                .as_ref()
                .map(|c| c.task_id.as_str()),
            Some(g.task_id.as_str())
        );
        assert_eq!(record.spec.requester, None, "the apiserver stamps it");
        assert_eq!(
            record.spec.expires_at.as_deref(),
            Some("2027-01-15T09:15:00Z")
        );
        assert_eq!(
            record
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(GRANT_LABEL)),
            Some(&grant_label(&g.grant_id))
        );
        assert_eq!(record.spec.principal.user_id.as_deref(), Some("7"));
        assert_eq!(status.phase, Some(Phase::Granted));
        assert_eq!(status.expires_at, Some(Time(expires)));
        assert_eq!(status.pre_existing, Some(false));
        assert_eq!(status.principal.as_deref(), Some("user:7"));
    }
}
