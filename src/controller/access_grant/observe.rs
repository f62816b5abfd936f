//! Observe, for the policy decision: the MondayAccessPolicies and MondayAccessApprovals of the
//! grant's namespace, read fresh (a decision never rests on a lagging cache: a policy missing
//! from it would read as "no policy"), and, only while a rule needs it to decide, the workspace
//! of the board the grant names, asked of Monday.

use kube::api::{Api, ListParams};
use kube::core::DeserializeGuard;
use kube::{Resource, ResourceExt};

use super::kit::{Context, Error};
use super::plan::Mode;
use super::plan::decision::PolicyFacts;
use crate::api::{MondayAccessApproval, MondayAccessGrant, MondayAccessPolicy};
use crate::controller::policy::{self, BoardWorkspace, WithoutPolicy};
use crate::engine::Session;
use crate::monday::Id;

/// What the decision reads besides the grant.
#[derive(Debug, Default)]
pub struct Gathered {
    pub policies: Vec<MondayAccessPolicy>,
    pub approvals: Vec<MondayAccessApproval>,
    /// Policies this version cannot read, by name.
    pub unreadable: Vec<String>,
    pub board_workspace: BoardWorkspace,
}

impl Gathered {
    /// The facts for [`super::plan::Observed::new`].
    pub fn facts(&self, without_policy: WithoutPolicy) -> PolicyFacts<'_> {
        PolicyFacts {
            policies: &self.policies,
            approvals: &self.approvals,
            unreadable: &self.unreadable,
            board_workspace: self.board_workspace.clone(),
            without_policy,
        }
    }
}

/// Reads the policies and approvals of the grant's namespace (nothing when the plan does not
/// decide: deletion, final phases), and the board's workspace when a rule needs it.
pub async fn gather(
    grant: &MondayAccessGrant,
    mode: Mode,
    session: Option<&Session>,
    ctx: &Context,
) -> Result<Gathered, Error> {
    let mut out = Gathered::default();
    if !super::plan::decides(grant, mode) {
        return Ok(out);
    }
    let ns = grant.namespace().ok_or(Error::MissingNamespace)?;
    let policies: Api<DeserializeGuard<MondayAccessPolicy>> = ctx.api(&ns);
    for p in policies.list(&ListParams::default()).await? {
        match p.0 {
            Ok(p) => out.policies.push(p),
            Err(invalid) => out
                .unreadable
                .push(invalid.metadata.name.clone().unwrap_or_default()),
        }
    }
    let approvals: Api<DeserializeGuard<MondayAccessApproval>> = ctx.api(&ns);
    for a in approvals.list(&ListParams::default()).await? {
        match a.0 {
            Ok(a) => out.approvals.push(a),
            // Cannot name a grant we can read; it counts for nothing.
            Err(invalid) => tracing::debug!(
                namespace = %ns,
                approval = invalid.metadata.name.as_deref().unwrap_or_default(),
                error = %invalid.error,
                "skipping an unreadable MondayAccessApproval"
            ),
        }
    }
    out.board_workspace = board_workspace(grant, &out.policies, session).await;
    Ok(out)
}

/// The board's workspace, looked up only while the request waits for a decision that needs it.
/// A failed lookup is `Unknown`: the decision waits rather than denies.
async fn board_workspace(
    grant: &MondayAccessGrant,
    policies: &[MondayAccessPolicy],
    session: Option<&Session>,
) -> BoardWorkspace {
    let Some(board) = policy::board_needing_workspace(&grant.spec.entitlement, policies) else {
        return BoardWorkspace::Unknown;
    };
    let record = grant.status.as_ref().and_then(|s| s.approval.as_ref());
    let decided = record
        .is_some_and(|r| r.denied.is_some() || r.approved_generation == grant.meta().generation);
    let Some(session) = session.filter(|_| !decided) else {
        return BoardWorkspace::Unknown;
    };
    match session.board_workspace(&Id::from(board)).await {
        Ok(None) => BoardWorkspace::NoSuchBoard,
        Ok(Some(None)) => BoardWorkspace::MainWorkspace,
        Ok(Some(Some(w))) => BoardWorkspace::Workspace(w.to_string()),
        Err(e) => {
            tracing::warn!(
                grant = %grant.name_any(),
                board,
                reason = %e.reason(),
                error = %e,
                "cannot look up the board's workspace; the request waits"
            );
            BoardWorkspace::Unknown
        }
    }
}
