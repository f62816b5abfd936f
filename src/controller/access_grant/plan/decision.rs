//! The policy decision inside the state machine: deciding from what observe gathered (pure, by
//! [`policy::decide`]), writing it into the status (`status.approval` and the `Approved`
//! condition), and what a change of decision announces — Events naming the requester, approvers
//! and rule, webhook notices, and the break-glass metric.
//!
//! Announcements are derived from the difference between the recorded decision
//! (`status.approval`, the `Approved` condition) and the new one, so a reconcile that decides the
//! same again announces nothing, and one that fails before its status is written announces it
//! on the next try.

use std::time::Duration;

use jiff::Timestamp;

use super::Observed;
use crate::api::access_grant::{ApprovalBasis, GrantApproval, MondayAccessGrantStatus};
use crate::api::conditions::{self, ConditionType};
use crate::api::{MondayAccessApproval, MondayAccessGrant, MondayAccessPolicy};
use crate::controller::events::Note;
use crate::controller::notify::Notice;
use crate::controller::policy::{
    self, BoardWorkspace, Decision, Extension, GrantView, Inputs, Outcome, RuleRef, WithoutPolicy,
};
use crate::reason::Reason;
use crate::time::parse_go_duration;

/// The Event action of every decision Event.
const ACTION: &str = "Approval";

/// What observe gathered for the decision.
#[derive(Clone, Debug, Default)]
pub struct PolicyFacts<'a> {
    /// The MondayAccessPolicies of the grant's namespace.
    pub policies: &'a [MondayAccessPolicy],
    /// The MondayAccessApprovals of the grant's namespace.
    pub approvals: &'a [MondayAccessApproval],
    /// Policies of the namespace this version cannot read (by name). Nothing new is decided while
    /// there is one: it might deny what the others allow.
    pub unreadable: &'a [String],
    /// The board's workspace, when a rule needs it (see [`policy::board_needing_workspace`]).
    pub board_workspace: BoardWorkspace,
    pub without_policy: WithoutPolicy,
}

/// What the plan needs of the governing policy besides the decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Governing {
    /// `notifications.reminderBefore` of a policy that notifies, unless zero.
    pub reminder_before: Option<Duration>,
    /// Who may approve under the governing rule, for the request notification.
    pub approvers: String,
}

/// Decides the grant (pure). A grant the decision cannot view, or a namespace with an unreadable
/// policy, is undecided: nothing new is granted, held access stays until its expiry.
pub fn decide(grant: &MondayAccessGrant, facts: &PolicyFacts<'_>, now: Timestamp) -> Decision {
    let prior = recorded(grant);
    let view = match GrantView::of(grant) {
        Ok(v) => v,
        Err(e) => return undecided(Reason::InvalidObject, e.to_string(), prior),
    };
    if !facts.unreadable.is_empty() && grant.spec.conductor_one.is_none() {
        let message = format!(
            "MondayAccessPolicy {} cannot be read by this operator version; nothing new is decided in this namespace until it is fixed or deleted",
            facts.unreadable.join(", ")
        );
        return undecided(Reason::InvalidPolicy, message, prior);
    }
    policy::decide(&Inputs {
        grant: view,
        policies: facts.policies,
        approvals: facts.approvals,
        board_workspace: facts.board_workspace.clone(),
        without_policy: facts.without_policy,
        now,
    })
}

fn undecided(reason: Reason, message: String, prior: GrantApproval) -> Decision {
    Decision {
        outcome: Outcome::Undecided { reason, message },
        rule: rule_of(&prior),
        record: prior,
        ignored: vec![],
        warnings: vec![],
        requeue_at: None,
    }
}

fn rule_of(record: &GrantApproval) -> Option<RuleRef> {
    Some(RuleRef {
        policy: record.policy.clone()?,
        rule: record.rule.clone()?,
    })
}

/// The recorded decision (`status.approval`), empty when there is none.
fn recorded(grant: &MondayAccessGrant) -> GrantApproval {
    grant
        .status
        .as_ref()
        .and_then(|s| s.approval.clone())
        .unwrap_or_default()
}

/// The governing policy's notification lead time and the rule's approvers.
pub fn governing(facts: &PolicyFacts<'_>, decision: &Decision) -> Governing {
    let policy = decision.record.policy.as_deref().and_then(|name| {
        facts
            .policies
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
    });
    let reminder_before = policy
        .and_then(|p| p.spec.notifications.as_ref())
        .and_then(|n| parse_go_duration(&n.reminder_before).ok())
        .filter(|d| !d.is_zero());
    let approvers = decision
        .rule
        .as_ref()
        .and_then(|r| policy::approvers_of(facts.policies, r))
        .unwrap_or_default();
    Governing {
        reminder_before,
        approvers,
    }
}

/// Writes the decision into `st`: `status.approval` (unless nothing was ever decided, so a
/// grant held from before policies still reads as such) and the `Approved` condition. Ready
/// stays the first condition.
pub fn record(o: &Observed<'_>, st: &mut MondayAccessGrantStatus) {
    let record = &o.decision.record;
    if st.approval.is_some() || *record != GrantApproval::default() {
        st.approval = Some(record.clone());
    }
    let generation = o.grant.metadata.generation.unwrap_or_default();
    conditions::merge(
        &mut st.conditions,
        vec![o.decision.condition(generation)],
        o.now,
    );
    st.conditions.sort_by_key(|c| c.type_);
}

/// The expiry the decision allows, when it allows the access (`Some(None)`: until deleted).
pub fn allowed_expiry(o: &Observed<'_>) -> Option<Option<Timestamp>> {
    match &o.decision.outcome {
        Outcome::Allow { expires_at, .. } => Some(*expires_at),
        _ => None,
    }
}

/// The reason and message of a denial.
pub fn denial(o: &Observed<'_>) -> Option<(Reason, String)> {
    match &o.decision.outcome {
        Outcome::Deny { reason, message } => Some((*reason, message.clone())),
        _ => None,
    }
}

/// What a change of decision announces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effects {
    pub notes: Vec<Note>,
    pub notices: Vec<Notice>,
    /// A break-glass approval was recorded just now (counted once).
    pub break_glass: bool,
}

/// The Events and notices of this reconcile's decision, compared with the recorded one; nothing
/// when the plan does not decide (deletion, final phases).
pub fn effects(o: &Observed<'_>) -> Effects {
    let mut fx = Effects::default();
    if !super::decides(o.grant, o.mode) {
        return fx;
    }
    let before = recorded(o.grant);
    requested(o, &before, &mut fx);
    approved(o, &before, &mut fx);
    refused(o, &before, &mut fx);
    let d = &o.decision;
    for i in &d.ignored {
        let known = before
            .ignored
            .iter()
            .any(|b| b.name == i.approval && b.reason == i.reason.as_str());
        if !known {
            let by = i.approver.as_deref().unwrap_or("an unknown approver");
            let text = format!(
                "MondayAccessApproval {} by {by} not counted: {}",
                i.approval, i.message
            );
            fx.notes.push(Note::warning(i.reason, ACTION, text));
        }
    }
    if d.record != before {
        for w in &d.warnings {
            fx.notes
                .push(Note::warning(w.reason, ACTION, w.message.clone()));
        }
    }
    fx
}

/// A version that starts waiting for approval: an Event and the request notice.
fn requested(o: &Observed<'_>, before: &GrantApproval, fx: &mut Effects) {
    let d = &o.decision;
    let waiting = d.record.pending_generation;
    if waiting.is_none() || waiting == before.pending_generation {
        return;
    }
    let (missing, deadline, extension) = match &d.outcome {
        Outcome::AwaitingApproval {
            missing, deadline, ..
        } => (*missing, *deadline, false),
        Outcome::Allow {
            extension: Some(Extension::Pending { missing, deadline }),
            ..
        } => (*missing, *deadline, true),
        _ => return,
    };
    let text = match &d.outcome {
        Outcome::AwaitingApproval { message, .. } => message.clone(),
        other => format!("extension requested: {}", other.message()),
    };
    fx.notes
        .push(Note::normal(d.outcome.reason(), ACTION, text));
    fx.notices.push(Notice::Requested {
        missing,
        deadline,
        approvers: o.governing.approvers.clone(),
        extension,
    });
}

/// A version newly approved: an Event naming who approved under which rule (a Warning and the
/// metric for break-glass) and the approval notice.
fn approved(o: &Observed<'_>, before: &GrantApproval, fx: &mut Effects) {
    let record = &o.decision.record;
    let fresh = record.approved_generation.is_some()
        && record.approved_generation != before.approved_generation
        && record.denied.is_none();
    let Outcome::Allow {
        basis,
        reason,
        message,
        ..
    } = &o.decision.outcome
    else {
        return;
    };
    if !fresh {
        return;
    }
    let by = if record.approvers.is_empty() {
        record.approved_by.iter().cloned().collect()
    } else {
        record.approvers.clone()
    };
    match basis {
        ApprovalBasis::BreakGlass => {
            fx.notes
                .push(Note::warning(*reason, ACTION, message.clone()));
            fx.notices.push(Notice::Approved {
                by,
                break_glass: true,
            });
            fx.break_glass = true;
        }
        ApprovalBasis::Approvals | ApprovalBasis::Policy => {
            fx.notes
                .push(Note::normal(*reason, ACTION, message.clone()));
            fx.notices.push(Notice::Approved {
                by,
                break_glass: false,
            });
        }
        ApprovalBasis::ConductorOne | ApprovalBasis::GrantedBeforePolicy => {
            fx.notes
                .push(Note::normal(*reason, ACTION, message.clone()));
        }
        // The NoPolicy warning says it.
        ApprovalBasis::NoPolicy => {}
    }
}

/// A request newly denied, or an extension newly refused: a Warning and the denial notice.
fn refused(o: &Observed<'_>, before: &GrantApproval, fx: &mut Effects) {
    let d = &o.decision;
    let (reason, message) = match &d.outcome {
        Outcome::Deny { reason, message }
            if d.record.denied.is_some() && before.denied.is_none() =>
        {
            (*reason, message.clone())
        }
        Outcome::Allow {
            extension: Some(Extension::Refused { reason, .. }),
            ..
        } => {
            let was = o
                .grant
                .status
                .as_ref()
                .and_then(|s| conditions::get(&s.conditions, ConditionType::Approved))
                .map(|c| c.reason);
            if was == Some(*reason) {
                return;
            }
            (*reason, d.outcome.message())
        }
        _ => return,
    };
    fx.notes
        .push(Note::warning(reason, ACTION, message.clone()));
    fx.notices.push(Notice::Denied {
        reason: reason.as_str().to_string(),
        message,
    });
}
