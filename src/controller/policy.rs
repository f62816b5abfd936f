//! The policy decision for one MondayAccessGrant: pure (no I/O, no clock), table-tested.
//!
//! Inputs: the grant (its spec with the apiserver-stamped requester, uid, generation, creation
//! time, and what its status recorded), the MondayAccessPolicies and MondayAccessApprovals of its
//! namespace, the workspace of the board it names (looked up by the caller, only when a rule asks
//! for it: see [`board_needing_workspace`]), what to do without any policy, and now. Output: a
//! [`Decision`] — allow until an expiry, await approval, deny, or undecided — plus the
//! `status.approval` record to write, the approvals that were not counted and why, and warnings.
//!
//! The rules, in the order they apply:
//! 1. A denied request stays denied (`status.approval.denied`).
//! 2. A ConductorOne grant (`spec.conductorOne`) was approved there: no in-cluster policy applies.
//! 3. Migration: a grant already granted before this logic recorded anything (`status.grantedAt`
//!    set, no `status.approval`) keeps its access and expiry; only later changes (extensions)
//!    are decided under the policies.
//! 4. No policy in the namespace: [`WithoutPolicy`] decides (allowed as requested with a
//!    `NoPolicy` warning, or denied).
//! 5. Otherwise the first rule (policies by name, rules in order) that allows the request governs
//!    it; none: denied, naming the closest rule and what it lacks.
//! 6. The version in force (`status.approval.approvedGeneration`) stays approved when policies or
//!    approvals change later — except that a deny of that version by an approver revokes it.
//! 7. A new version (the first request, or an extension) needs `requiredApprovals` distinct
//!    approvers of the rule, approving exactly that version (grant uid + generation) under that
//!    policy and created before the deadline; the requester's own approval is ignored unless the
//!    rule allows break-glass, in which case it approves alone with the shorter cap. A deny
//!    decides. Unapproved at the deadline (`approvalTimeout`): a first request is denied, an
//!    extension is given up (the access ends at its approved expiry).
//! 8. `maxDuration` caps every expiry, counted from the moment access was granted (so an
//!    extension cannot go past it either); a request without expiry needs `allowPermanent`.

use std::collections::BTreeSet;
use std::fmt;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::access_approval::ApprovalDecision;
use crate::api::access_grant::{
    ApprovalBasis, GrantApproval, GrantDenial, IgnoredApproval, MondayAccessGrantSpec,
};
use crate::api::access_policy::AccessRule;
use crate::api::conditions::{Condition, ConditionStatus, ConditionType};
use crate::api::identity::UserIdentity;
use crate::api::{MondayAccessApproval, MondayAccessGrant, MondayAccessPolicy};
use crate::reason::Reason;

use crate::time::parse_go_duration;

/// At most this many ignored approvals are kept in `status.approval.ignored`.
pub const MAX_IGNORED_IN_STATUS: usize = 16;

/// Largest compiled size of a `reasonPattern` (regex crate units); bigger patterns are invalid.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What to do with a request in a namespace without any MondayAccessPolicy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WithoutPolicy {
    /// As before policies existed: granted as requested, with a `NoPolicy` warning.
    #[default]
    Allow,
    /// Denied (`PolicyRequired`).
    Deny,
}

/// The Monday workspace of the board a grant names, as the caller found it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum BoardWorkspace {
    /// Not looked up, or the lookup failed: rules that need it cannot decide yet.
    #[default]
    Unknown,
    /// Monday has no such board.
    NoSuchBoard,
    /// The board is in the main workspace (Monday's `workspace_id: null`).
    MainWorkspace,
    /// The board is in this workspace.
    Workspace(String),
}

/// The grant as the decision sees it.
#[derive(Clone, Debug)]
pub struct GrantView<'a> {
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.uid`.
    pub uid: &'a str,
    /// `metadata.generation`: the version of the request.
    pub generation: i64,
    /// `metadata.creationTimestamp`.
    pub created: Timestamp,
    /// The spec, with the stamped requester.
    pub spec: &'a MondayAccessGrantSpec,
    /// `status.grantedAt`.
    pub granted_at: Option<Timestamp>,
    /// `status.expiresAt` (the deadline in force).
    pub expires_at: Option<Timestamp>,
    /// `status.approval`.
    pub record: Option<&'a GrantApproval>,
}

/// Why a grant object cannot be decided at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ViewError {
    #[error("the grant has no {0} yet (not created by the apiserver?)")]
    MissingMetadata(&'static str),
}

impl<'a> GrantView<'a> {
    /// The view of a grant read from the apiserver.
    pub fn of(grant: &'a MondayAccessGrant) -> Result<Self, ViewError> {
        let meta = &grant.metadata;
        let status = grant.status.as_ref();
        Ok(Self {
            name: meta
                .name
                .as_deref()
                .ok_or(ViewError::MissingMetadata("name"))?,
            uid: meta
                .uid
                .as_deref()
                .ok_or(ViewError::MissingMetadata("uid"))?,
            generation: meta
                .generation
                .ok_or(ViewError::MissingMetadata("generation"))?,
            created: meta
                .creation_timestamp
                .as_ref()
                .map(|t| t.0)
                .ok_or(ViewError::MissingMetadata("creationTimestamp"))?,
            spec: &grant.spec,
            granted_at: status.and_then(|s| s.granted_at.as_ref()).map(|t| t.0),
            expires_at: status.and_then(|s| s.expires_at.as_ref()).map(|t| t.0),
            record: status.and_then(|s| s.approval.as_ref()),
        })
    }
}

/// Everything [`decide`] looks at.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub grant: GrantView<'a>,
    /// The MondayAccessPolicies of the grant's namespace (any order).
    pub policies: &'a [MondayAccessPolicy],
    /// The MondayAccessApprovals of the grant's namespace (any order; others are skipped).
    pub approvals: &'a [MondayAccessApproval],
    /// The board's workspace, when the entitlement is a board's and a rule needs it.
    pub board_workspace: BoardWorkspace,
    pub without_policy: WithoutPolicy,
    pub now: Timestamp,
}

/// A rule, by policy and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub policy: String,
    pub rule: String,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {} rule {}", self.policy, self.rule)
    }
}

/// The state of an extension (a newer version than the one in force).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extension {
    /// Waiting for `missing` more approvals until `deadline`.
    Pending { missing: u32, deadline: Timestamp },
    /// Denied or not allowed (see `reason` and `message`); the approved expiry stays.
    Refused { reason: Reason, message: String },
}

/// What the controller should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Hold the access (grant it now when it is not granted yet) until `expires_at`
    /// (`None` = until deleted). `extension` is set when a newer version is not (yet) approved.
    Allow {
        expires_at: Option<Timestamp>,
        basis: ApprovalBasis,
        reason: Reason,
        message: String,
        extension: Option<Extension>,
    },
    /// Not granted yet: `missing` more approvals are needed before `deadline`.
    AwaitingApproval {
        missing: u32,
        deadline: Timestamp,
        message: String,
    },
    /// Denied for good: revoke whatever access this grant holds; phase `Denied`.
    Deny { reason: Reason, message: String },
    /// Cannot be decided yet (nothing is granted, held access stays); decide again on change.
    Undecided { reason: Reason, message: String },
}

impl Outcome {
    /// The condition reason.
    pub fn reason(&self) -> Reason {
        match self {
            Outcome::Allow {
                reason, extension, ..
            } => match extension {
                Some(Extension::Pending { .. }) => Reason::ExtensionAwaitingApproval,
                Some(Extension::Refused { reason, .. }) => *reason,
                None => *reason,
            },
            Outcome::AwaitingApproval { .. } => Reason::AwaitingApproval,
            Outcome::Deny { reason, .. } | Outcome::Undecided { reason, .. } => *reason,
        }
    }

    /// The condition message.
    pub fn message(&self) -> String {
        match self {
            Outcome::Allow {
                message, extension, ..
            } => match extension {
                None => message.clone(),
                Some(Extension::Pending { missing, deadline }) => format!(
                    "{message}; an extension waits for {missing} more approval(s) until {deadline}"
                ),
                Some(Extension::Refused { message: m, .. }) => format!("{message}; {m}"),
            },
            Outcome::AwaitingApproval { message, .. }
            | Outcome::Deny { message, .. }
            | Outcome::Undecided { message, .. } => message.clone(),
        }
    }
}

/// An approval that was not counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    /// Name of the MondayAccessApproval.
    pub approval: String,
    pub approver: Option<String>,
    pub reason: Reason,
    pub message: String,
}

/// Something the controller should surface (condition message, Warning Event) without changing
/// the outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub reason: Reason,
    pub message: String,
}

/// The decision for one grant.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The governing rule, when a policy applies.
    pub rule: Option<RuleRef>,
    /// `status.approval` to write (write it when it differs from the current one; it is stable
    /// for unchanged inputs, so steady state causes no writes).
    pub record: GrantApproval,
    /// Approvals naming this grant that were not counted.
    pub ignored: Vec<Ignored>,
    pub warnings: Vec<Warning>,
    /// Decide again at this time at the latest (an approval deadline).
    pub requeue_at: Option<Timestamp>,
}

impl Decision {
    /// The `Approved` condition for this decision (`True` while the version in force is allowed,
    /// `Unknown` while waiting or undecided, `False` when denied).
    pub fn condition(&self, generation: i64) -> Condition {
        let status = match &self.outcome {
            Outcome::Allow { .. } => ConditionStatus::True,
            Outcome::Deny { .. } => ConditionStatus::False,
            Outcome::AwaitingApproval { .. } | Outcome::Undecided { .. } => {
                ConditionStatus::Unknown
            }
        };
        Condition::new(
            ConditionType::Approved,
            status,
            self.outcome.reason(),
            self.outcome.message(),
            Some(generation),
        )
    }

    /// Whether the outcome is a break-glass approval (the caller raises a Warning Event and the
    /// break-glass metric once, when it first records it).
    pub fn is_break_glass(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Allow {
                basis: ApprovalBasis::BreakGlass,
                ..
            }
        )
    }
}

/// The board id of `spec.entitlement` when a rule of `policies` asks for its workspace
/// (`workspaceIds`); the caller then looks the board up and passes [`BoardWorkspace`].
pub fn board_needing_workspace<'a>(
    entitlement: &'a str,
    policies: &[MondayAccessPolicy],
) -> Option<&'a str> {
    let board = board_id(entitlement)?;
    policies
        .iter()
        .flat_map(|p| &p.spec.rules)
        .flat_map(|r| &r.entitlements)
        .any(|m| !m.workspace_ids.is_empty() && glob_match(&m.pattern, entitlement))
        .then_some(board)
}

fn board_id(entitlement: &str) -> Option<&str> {
    let rest = entitlement.strip_prefix("board:")?;
    rest.split(':').next().filter(|id| !id.is_empty())
}

/// `*` matches any run of characters (also `:`); everything else matches itself. Anchored.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Decides one grant. See the module docs for the rules.
pub fn decide(inp: &Inputs) -> Decision {
    let g = &inp.grant;
    let prior = g.record.cloned().unwrap_or_default();
    if let Some(d) = outside_policy(g, &prior, inp.now) {
        return d;
    }
    let mut warnings: Vec<Warning> = g.spec.requester.is_none().then(|| Warning {
        reason: Reason::RequesterUnknown,
        message: "the grant has no spec.requester (created before the admission policies were installed?): self-approval cannot be detected and break-glass does not apply".into(),
    }).into_iter().collect();
    let in_force = prior.approved_generation.filter(|&a| a <= g.generation);
    let sticky = in_force == Some(g.generation);

    // 4. No policy at all. Approved under a policy that has since been deleted: it stands.
    if inp.policies.is_empty() {
        let d = if sticky && prior.basis != Some(ApprovalBasis::NoPolicy) {
            keep_in_force(g, &prior, vec![], inp.now)
        } else {
            no_policy(g, &prior, in_force, inp)
        };
        return with_warnings(d, warnings);
    }

    // 5. The governing rule.
    let mut policies: Vec<&MondayAccessPolicy> = inp.policies.iter().collect();
    policies.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let found = governing_rule(
        &policies,
        g.spec,
        g.spec.requester.as_ref(),
        &inp.board_workspace,
    );
    warnings.extend(found.overlaps.iter().cloned());

    // 6. The version in force stays, unless an approver denies it.
    if sticky {
        let d = version_in_force(inp, &policies, &found, &prior, in_force);
        return with_warnings(d, warnings);
    }
    // 7. A new version: the first request, or an extension of the version in force.
    match found.governing {
        Some(governing) => Candidate::decide_new(inp, prior, in_force, governing, warnings),
        None => {
            let (reason, message, rule) = match found.undecidable {
                Some((reason, message, rref)) => (reason, message, Some(rref)),
                None => (Reason::NoRuleAllows, found.no_rule_message, found.closest),
            };
            let d = no_rule(
                g,
                prior,
                in_force.is_some(),
                (reason, message, rule),
                inp.now,
            );
            with_warnings(d, warnings)
        }
    }
}

/// Decisions the namespace's policies do not take part in: a denial stays, ConductorOne's
/// approval, access granted before any decision was recorded.
fn outside_policy(g: &GrantView, prior: &GrantApproval, now: Timestamp) -> Option<Decision> {
    // 1. Denied stays denied.
    if let Some(d) = &prior.denied {
        return Some(Decision {
            outcome: Outcome::Deny {
                reason: Reason::known(&d.reason).unwrap_or(Reason::NoRuleAllows),
                message: d.message.clone(),
            },
            rule: rule_of(prior),
            record: prior.clone(),
            ignored: vec![],
            warnings: vec![],
            requeue_at: None,
        });
    }
    // 2. ConductorOne approved it.
    if g.spec.conductor_one.is_some() {
        return Some(match held_or_requested(g, prior, now) {
            Err(m) => undecided(Reason::InvalidExpiry, m, prior.clone()),
            Ok(expires_at) => {
                let record = GrantApproval {
                    basis: Some(ApprovalBasis::ConductorOne),
                    approved_generation: Some(g.generation),
                    approved_by: Some("ConductorOne".into()),
                    approved_at: Some(Time(g.created)),
                    ..Default::default()
                };
                allow(g, expires_at, record)
            }
        });
    }
    // 3. Granted before any decision was recorded: keep it as it is.
    if g.record.is_none()
        && let Some(granted_at) = g.granted_at
    {
        let record = GrantApproval {
            basis: Some(ApprovalBasis::GrantedBeforePolicy),
            approved_generation: Some(g.generation),
            approved_by: Some("before policy".into()),
            approved_at: Some(Time(granted_at)),
            ..Default::default()
        };
        return Some(allow(g, g.expires_at, record));
    }
    None
}

/// The approved version is the current one: it stays, unless an approver denies it under the
/// rule it was approved by (or, when that rule is gone, the governing one).
fn version_in_force(
    inp: &Inputs,
    policies: &[&MondayAccessPolicy],
    found: &Found<'_>,
    prior: &GrantApproval,
    in_force: Option<i64>,
) -> Decision {
    let g = &inp.grant;
    let recorded = rule_of(prior).and_then(|r| find_rule(policies, &r).map(|x| (r, x)));
    let deciding = recorded.or_else(|| found.governing.as_ref().map(|(r, _, x)| (r.clone(), *x)));
    let Some((rref, rule)) = deciding else {
        return keep_in_force(g, prior, vec![], inp.now);
    };
    let t = tally(inp, &rref, rule, g.spec.requester.as_ref(), in_force, prior);
    match t.deny_current.or(t.deny_in_force) {
        Some(denier) => {
            let message = format!(
                "{denier} denied the approved version (generation {}) under {rref}; access is revoked",
                g.generation
            );
            let d = deny(
                g,
                Reason::DeniedByApprover,
                message,
                prior.clone(),
                Some(rref),
            );
            with_ignored(d, sorted(t.ignored))
        }
        None => keep_in_force(g, prior, sorted(t.ignored), inp.now),
    }
}

/// No rule allows the new version, or one cannot decide yet: a first request is denied (or left
/// undecided), an extension is refused while the version in force stays.
fn no_rule(
    g: &GrantView,
    prior: GrantApproval,
    extension: bool,
    (reason, message, rule): (Reason, String, Option<RuleRef>),
    now: Timestamp,
) -> Decision {
    if extension {
        let refused = if reason == Reason::NoRuleAllows {
            Extension::Refused {
                reason: Reason::ExtensionDenied,
                message: format!("extension denied: {message}"),
            }
        } else {
            Extension::Refused {
                reason,
                message: format!("extension undecided: {message}"),
            }
        };
        return keep_in_force(g, &prior, vec![], now).with_extension(refused);
    }
    if reason == Reason::NoRuleAllows {
        return deny(g, reason, message, prior, rule);
    }
    undecided(reason, message, prior)
}

/// A new version (the first request, or an extension of the version in force) under the rule
/// that governs it.
struct Candidate<'a, 'p> {
    inp: &'a Inputs<'a>,
    prior: GrantApproval,
    in_force: Option<i64>,
    rref: RuleRef,
    limits: Limits,
    rule: &'p AccessRule,
    /// The approvals the tally set aside, sorted.
    ignored: Vec<Ignored>,
    warnings: Vec<Warning>,
}

impl<'a, 'p> Candidate<'a, 'p> {
    /// Counts the approvals of the new version under its governing rule and decides it.
    fn decide_new(
        inp: &'a Inputs<'a>,
        prior: GrantApproval,
        in_force: Option<i64>,
        (rref, limits, rule): (RuleRef, Limits, &'p AccessRule),
        warnings: Vec<Warning>,
    ) -> Decision {
        let requester = inp.grant.spec.requester.as_ref();
        let t = tally(inp, &rref, rule, requester, in_force, &prior);
        let c = Candidate {
            inp,
            prior,
            in_force,
            rref,
            limits,
            rule,
            ignored: sorted(t.ignored.clone()),
            warnings,
        };
        c.decide(&t)
    }

    fn decide(self, t: &Tally) -> Decision {
        let g = &self.inp.grant;
        let extension = self.in_force.is_some();
        if let Some(denier) = &t.deny_in_force {
            let message = format!(
                "{denier} denied the approved version (generation {}) under {}; access is revoked",
                self.in_force.unwrap_or(g.generation),
                self.rref
            );
            return self.denied(Reason::DeniedByApprover, message);
        }
        if let Some(denier) = &t.deny_current {
            let message = format!(
                "{denier} denied generation {} under {}",
                g.generation, self.rref
            );
            if extension {
                let refused = Extension::Refused {
                    reason: Reason::ExtensionDenied,
                    message: format!("extension {message}"),
                };
                let mut d = keep_in_force(g, &self.prior, self.ignored, self.inp.now)
                    .with_extension(refused);
                d.rule = Some(self.rref);
                return with_warnings(d, self.warnings);
            }
            return self.denied(Reason::DeniedByApprover, message);
        }
        // The schema bounds it to 0..=10; a negative value (not admitted) would mean none.
        let required = u32::try_from(self.rule.required_approvals).unwrap_or(0);
        let approved = if required == 0 {
            Some((ApprovalBasis::Policy, vec![], g.created))
        } else if t.approvers.len() >= required as usize {
            let chosen = &t.approvers[..required as usize];
            let at = chosen.iter().map(|(_, at)| *at).max().unwrap_or(g.created);
            let names = chosen.iter().map(|(n, _)| n.clone()).collect();
            Some((ApprovalBasis::Approvals, names, at))
        } else {
            t.break_glass
                .as_ref()
                .map(|(n, at)| (ApprovalBasis::BreakGlass, vec![n.clone()], *at))
        };
        match approved {
            Some((basis, approvers, at)) => self.approved(basis, approvers, at),
            None => self.waiting(required, t),
        }
    }

    /// Denied under the governing rule, with the approvals set aside.
    fn denied(self, reason: Reason, message: String) -> Decision {
        let d = deny(
            &self.inp.grant,
            reason,
            message,
            self.prior,
            Some(self.rref),
        );
        with_ignored(with_warnings(d, self.warnings), self.ignored)
    }

    /// Approved: allowed until the requested expiry, capped by the rule's maximum.
    fn approved(mut self, basis: ApprovalBasis, approvers: Vec<String>, at: Timestamp) -> Decision {
        let g = &self.inp.grant;
        let cap = match basis {
            ApprovalBasis::BreakGlass => self
                .limits
                .break_glass_max
                .clone()
                .or(self.limits.max_duration.clone()),
            _ => self.limits.max_duration.clone(),
        };
        let base = g.granted_at.unwrap_or(self.inp.now);
        let requested = match requested_expiry(g.spec, base) {
            Ok(e) => e,
            Err(m) => return undecided(Reason::InvalidExpiry, m, self.prior),
        };
        let (expires_at, capped) = apply_cap(requested, base, cap.as_ref().map(|(d, _)| *d));
        let rref = self.rref;
        if let Some(cap_at) = capped {
            self.warnings.push(Warning {
                reason: Reason::ExpiryCapped,
                message: format!(
                    "requested {} shortened to {cap_at} by {rref} (at most {} from the grant)",
                    requested.map_or("no expiry".to_string(), |r| r.to_string()),
                    cap.as_ref().map(|(_, s)| s.as_str()).unwrap_or_default()
                ),
            });
        }
        let who = match basis {
            ApprovalBasis::BreakGlass => format!("{} (break-glass)", approvers.join(", ")),
            ApprovalBasis::Policy => format!("policy {}", rref.policy),
            _ => approvers.join(", "),
        };
        let record = GrantApproval {
            policy: Some(rref.policy.clone()),
            rule: Some(rref.rule.clone()),
            basis: Some(basis),
            approved_generation: Some(g.generation),
            approved_by: Some(who),
            approvers,
            approved_at: Some(Time(at)),
            max_duration: cap.map(|(_, s)| s),
            ignored: truncate(&self.ignored),
            ..Default::default()
        };
        let mut d = allow(g, expires_at, record);
        d.rule = Some(rref);
        d.ignored = self.ignored;
        with_warnings(d, self.warnings)
    }

    /// What the request waits for, and how an approver answers it.
    fn awaiting_message(&self, missing: u32, deadline: Timestamp, counted: &[String]) -> String {
        let g = &self.inp.grant;
        let rref = &self.rref;
        format!(
            "{} for {} waits for {missing} more approval(s) under {rref} ({}; approvals name policy {} and generation {}) until {deadline}{}",
            g.spec.entitlement,
            g.spec
                .requester
                .as_ref()
                .map_or("an unknown requester", |r| r.username.as_str()),
            describe_approvers(self.rule),
            rref.policy,
            g.generation,
            if counted.is_empty() {
                String::new()
            } else {
                format!("; approved so far by {}", counted.join(", "))
            }
        )
    }

    /// Not approved yet: waiting until the approval timeout, then denied (an extension is
    /// refused and the version in force stays).
    fn waiting(self, required: u32, t: &Tally) -> Decision {
        let (g, now) = (&self.inp.grant, self.inp.now);
        let extension = self.in_force.is_some();
        let since = pending_since(g, &self.prior, extension, now);
        let deadline = add(since, self.limits.approval_timeout.0);
        let missing = required.saturating_sub(t.approvers.len() as u32);
        let counted: Vec<String> = t.approvers.iter().map(|(n, _)| n.clone()).collect();
        let rref = &self.rref;
        let pending = |mut d: Decision, rref: RuleRef| {
            d.record.pending_generation = Some(g.generation);
            d.record.pending_since = Some(Time(since));
            d.record.deadline = Some(Time(deadline));
            d.rule = Some(rref);
            d
        };
        if now >= deadline {
            let message = format!(
                "not approved within {} ({} of {required} approval(s) under {rref})",
                self.limits.approval_timeout.1,
                counted.len()
            );
            if !extension {
                return self.denied(Reason::ApprovalTimedOut, message);
            }
            let refused = Extension::Refused {
                reason: Reason::ExtensionTimedOut,
                message: format!("extension {message}"),
            };
            let d = keep_in_force(g, &self.prior, self.ignored, now).with_extension(refused);
            return with_warnings(pending(d, self.rref), self.warnings);
        }
        if extension {
            let d = keep_in_force(g, &self.prior, self.ignored, now)
                .with_extension(Extension::Pending { missing, deadline });
            let mut d = pending(d, self.rref);
            d.requeue_at = Some(deadline);
            return with_warnings(d, self.warnings);
        }
        let message = self.awaiting_message(missing, deadline, &counted);
        let record = GrantApproval {
            policy: Some(rref.policy.clone()),
            rule: Some(rref.rule.clone()),
            approved_by: (!counted.is_empty())
                .then(|| format!("{} ({} of {required})", counted.join(", "), counted.len())),
            pending_generation: Some(g.generation),
            pending_since: Some(Time(since)),
            deadline: Some(Time(deadline)),
            ignored: truncate(&self.ignored),
            ..Default::default()
        };
        Decision {
            outcome: Outcome::AwaitingApproval {
                missing,
                deadline,
                message,
            },
            rule: Some(self.rref),
            record,
            ignored: self.ignored,
            warnings: self.warnings,
            requeue_at: Some(deadline),
        }
    }
}

/// When the waiting version started waiting: a first request (however often edited) at its
/// creation, an extension when this logic first saw it.
fn pending_since(
    g: &GrantView,
    prior: &GrantApproval,
    extension: bool,
    now: Timestamp,
) -> Timestamp {
    if !extension {
        g.created
    } else if prior.pending_generation == Some(g.generation) {
        prior.pending_since.as_ref().map_or(now, |t| t.0)
    } else {
        now
    }
}

fn no_policy(
    g: &GrantView,
    prior: &GrantApproval,
    in_force: Option<i64>,
    inp: &Inputs,
) -> Decision {
    match inp.without_policy {
        WithoutPolicy::Allow => match held_or_requested(g, prior, inp.now) {
            Err(m) => undecided(Reason::InvalidExpiry, m, prior.clone()),
            Ok(expires_at) => {
                let record = GrantApproval {
                    basis: Some(ApprovalBasis::NoPolicy),
                    approved_generation: Some(g.generation),
                    approved_by: Some("no policy".into()),
                    approved_at: Some(Time(prior_approved_at(prior, g, g.created))),
                    ..Default::default()
                };
                let mut d = allow(g, expires_at, record);
                d.warnings.push(Warning {
                        reason: Reason::NoPolicy,
                        message: "no MondayAccessPolicy in this namespace: anyone allowed to create MondayAccessGrants here gets what they ask for; add a policy (see config/samples)".into(),
                    });
                d
            }
        },
        WithoutPolicy::Deny => {
            let message = "no MondayAccessPolicy in this namespace and the operator requires one: ask an administrator to add a policy, then create the request again".to_string();
            if in_force.is_some() {
                return keep_in_force(g, prior, vec![], inp.now).with_extension(
                    Extension::Refused {
                        reason: Reason::ExtensionDenied,
                        message: format!("extension denied: {message}"),
                    },
                );
            }
            deny(g, Reason::PolicyRequired, message, prior.clone(), None)
        }
    }
}

struct Found<'p> {
    governing: Option<(RuleRef, Limits, &'p AccessRule)>,
    /// The first rule before any allowing one that cannot decide yet.
    undecidable: Option<(Reason, String, RuleRef)>,
    closest: Option<RuleRef>,
    no_rule_message: String,
    overlaps: Vec<Warning>,
}

fn governing_rule<'p>(
    policies: &[&'p MondayAccessPolicy],
    spec: &MondayAccessGrantSpec,
    requester: Option<&UserIdentity>,
    board: &BoardWorkspace,
) -> Found<'p> {
    let mut found = Found {
        governing: None,
        undecidable: None,
        closest: None,
        no_rule_message: String::new(),
        overlaps: vec![],
    };
    let mut closest: Option<(Miss, RuleRef, &AccessRule)> = None;
    for policy in policies {
        let pname = policy.metadata.name.clone().unwrap_or_default();
        for rule in &policy.spec.rules {
            let rref = RuleRef {
                policy: pname.clone(),
                rule: rule.name.clone(),
            };
            match evaluate(rule, spec, requester, board) {
                Ok(limits) => match &found.governing {
                    Some((first, ..)) => found.overlaps.push(Warning {
                        reason: Reason::OverlappingRules,
                        message: format!(
                            "{rref} also allows this request; {first} governs it (the first by policy name and rule order)"
                        ),
                    }),
                    None if found.undecidable.is_none() => {
                        found.governing = Some((rref, limits, rule));
                    }
                    None => {}
                },
                Err(miss) => {
                    if found.governing.is_none() && found.undecidable.is_none() && miss.undecidable() {
                        found.undecidable =
                            Some((miss.reason(), format!("{rref}: {}", miss.describe(rule, spec)), rref.clone()));
                    }
                    if closest.as_ref().is_none_or(|(c, ..)| miss.rank() > c.rank()) {
                        closest = Some((miss, rref, rule));
                    }
                }
            }
        }
    }
    let names: Vec<String> = policies
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    found.no_rule_message = match &closest {
        Some((miss, r, rule)) => format!(
            "no rule of MondayAccessPolicy {} allows {}; closest: {r}: {}",
            names.join(", "),
            spec.entitlement,
            miss.describe(rule, spec)
        ),
        None => format!(
            "MondayAccessPolicy {} has no rules: every request is denied",
            names.join(", ")
        ),
    };
    found.closest = closest.map(|(_, r, _)| r);
    found
}

fn sorted(mut ignored: Vec<Ignored>) -> Vec<Ignored> {
    ignored.sort_by(|a, b| a.approval.cmp(&b.approval));
    ignored
}

/// The parsed limits of a rule that allows the request.
#[derive(Clone, Debug)]
struct Limits {
    max_duration: Option<(SignedDuration, String)>,
    break_glass_max: Option<(SignedDuration, String)>,
    approval_timeout: (SignedDuration, String),
}

/// Why a rule does not allow a request; later variants are "closer" to allowing it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Miss {
    Entitlement,
    Workspace(BoardWorkspace),
    WorkspaceUnknown,
    Requester,
    RequesterUnknown,
    Permanent,
    ReasonMissing,
    ReasonMismatch,
    Invalid(String),
}

impl Miss {
    fn rank(&self) -> u8 {
        match self {
            Miss::Entitlement => 0,
            Miss::Workspace(_) | Miss::WorkspaceUnknown => 1,
            Miss::Requester | Miss::RequesterUnknown => 2,
            Miss::Permanent => 3,
            Miss::ReasonMissing | Miss::ReasonMismatch => 4,
            Miss::Invalid(_) => 5,
        }
    }

    /// The rule might allow the request once something outside the request is known or fixed.
    fn undecidable(&self) -> bool {
        matches!(self, Miss::WorkspaceUnknown | Miss::Invalid(_))
    }

    fn reason(&self) -> Reason {
        match self {
            Miss::WorkspaceUnknown => Reason::BoardWorkspaceUnknown,
            Miss::Invalid(_) => Reason::InvalidPolicy,
            _ => Reason::NoRuleAllows,
        }
    }

    fn describe(&self, rule: &AccessRule, spec: &MondayAccessGrantSpec) -> String {
        let patterns: Vec<&str> = rule
            .entitlements
            .iter()
            .map(|m| m.pattern.as_str())
            .collect();
        match self {
            Miss::Entitlement => format!(
                "{} matches none of {}",
                spec.entitlement,
                patterns.join(", ")
            ),
            Miss::Workspace(found) => {
                let ids: BTreeSet<&str> = rule
                    .entitlements
                    .iter()
                    .filter(|m| glob_match(&m.pattern, &spec.entitlement))
                    .flat_map(|m| m.workspace_ids.iter().map(String::as_str))
                    .collect();
                let found = match found {
                    BoardWorkspace::Workspace(w) => format!("workspace {w}"),
                    BoardWorkspace::MainWorkspace => "the main workspace".into(),
                    BoardWorkspace::NoSuchBoard => "no workspace (Monday has no such board)".into(),
                    BoardWorkspace::Unknown => "an unknown workspace".into(),
                };
                format!(
                    "the board must be in workspace {}, it is in {found}",
                    ids.into_iter().collect::<Vec<_>>().join(" or ")
                )
            }
            Miss::WorkspaceUnknown => {
                "the board's workspace is not known yet (looked up in Monday when deciding)".into()
            }
            Miss::Requester | Miss::RequesterUnknown => {
                let who = rule
                    .requesters
                    .as_ref()
                    .map(describe_subjects)
                    .unwrap_or_default();
                match (self, &spec.requester) {
                    (Miss::Requester, Some(r)) => format!(
                        "requester {} is not among its requesters ({who})",
                        r.username
                    ),
                    _ => format!("the requester is unknown and it allows only {who}"),
                }
            }
            Miss::Permanent => {
                let max = rule
                    .max_duration
                    .as_deref()
                    .map_or(String::new(), |m| format!(" (at most {m})"));
                format!("a request without expiry is not allowed: set duration or expiresAt{max}")
            }
            Miss::ReasonMissing => format!(
                "a reason matching {:?} is required",
                rule.reason_pattern.as_deref().unwrap_or_default()
            ),
            Miss::ReasonMismatch => format!(
                "reason {:?} does not match {:?}",
                spec.reason.as_deref().unwrap_or_default(),
                rule.reason_pattern.as_deref().unwrap_or_default()
            ),
            Miss::Invalid(m) => format!("the rule is invalid: {m}"),
        }
    }
}

fn evaluate(
    rule: &AccessRule,
    spec: &MondayAccessGrantSpec,
    requester: Option<&UserIdentity>,
    board: &BoardWorkspace,
) -> Result<Limits, Miss> {
    let matches: Vec<_> = rule
        .entitlements
        .iter()
        .filter(|m| glob_match(&m.pattern, &spec.entitlement))
        .collect();
    if matches.is_empty() {
        return Err(Miss::Entitlement);
    }
    // Any matching entry without a workspace filter matches outright.
    if !matches.iter().any(|m| m.workspace_ids.is_empty()) {
        match board {
            BoardWorkspace::Unknown => return Err(Miss::WorkspaceUnknown),
            BoardWorkspace::Workspace(w) if matches.iter().any(|m| m.workspace_ids.contains(w)) => {
            }
            other => return Err(Miss::Workspace(other.clone())),
        }
    }
    if let Some(allowed) = rule.requesters.as_ref().filter(|s| !s.is_empty()) {
        match requester {
            None => return Err(Miss::RequesterUnknown),
            Some(r) if !allowed.includes(r) => return Err(Miss::Requester),
            Some(_) => {}
        }
    }
    let duration = |what: &str, s: &str| {
        parse_go_duration(s)
            .ok()
            .and_then(|d| SignedDuration::try_from(d).ok())
            .map(|d| (d, s.to_string()))
            .ok_or_else(|| Miss::Invalid(format!("{what} {s:?} is not a duration")))
    };
    let limits = Limits {
        max_duration: rule
            .max_duration
            .as_deref()
            .map(|s| duration("maxDuration", s))
            .transpose()?,
        break_glass_max: rule
            .break_glass
            .as_ref()
            .filter(|b| b.enabled)
            .map(|b| duration("breakGlass.maxDuration", &b.max_duration))
            .transpose()?,
        approval_timeout: duration("approvalTimeout", &rule.approval_timeout)?,
    };
    if spec.duration.is_none() && spec.expires_at.is_none() && !rule.allow_permanent {
        return Err(Miss::Permanent);
    }
    if let Some(pattern) = &rule.reason_pattern {
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|_| {
                Miss::Invalid(format!(
                    "reasonPattern {pattern:?} is not a valid regular expression"
                ))
            })?;
        match spec.reason.as_deref() {
            None | Some("") => return Err(Miss::ReasonMissing),
            Some(r) if !re.is_match(r) => return Err(Miss::ReasonMismatch),
            Some(_) => {}
        }
    }
    Ok(limits)
}

#[derive(Default)]
struct Tally {
    /// Distinct approvers of the current version, earliest first, with their approval's time.
    approvers: Vec<(String, Timestamp)>,
    /// The requester's own approval, when break-glass allows it.
    break_glass: Option<(String, Timestamp)>,
    deny_current: Option<String>,
    deny_in_force: Option<String>,
    ignored: Vec<Ignored>,
}

fn tally(
    inp: &Inputs,
    rref: &RuleRef,
    rule: &AccessRule,
    requester: Option<&UserIdentity>,
    in_force: Option<i64>,
    prior: &GrantApproval,
) -> Tally {
    let g = &inp.grant;
    let mut t = Tally::default();
    let mut mine: Vec<&MondayAccessApproval> = inp
        .approvals
        .iter()
        .filter(|a| a.spec.grant_ref.name == g.name)
        .collect();
    mine.sort_by_key(|a| (created_of(a), a.metadata.name.clone()));
    let break_glass = rule.break_glass.as_ref().is_some_and(|b| b.enabled);
    let mut seen = BTreeSet::new();
    for a in mine {
        let ignore = |reason: Reason, message: String| Ignored {
            approval: a.metadata.name.clone().unwrap_or_default(),
            approver: a.spec.approver.as_ref().map(|p| p.username.clone()),
            reason,
            message,
        };
        let (who, for_current) = match screen(a, g, in_force, rref, rule) {
            Screened::Counts { who, for_current } => (who, for_current),
            Screened::History => continue,
            Screened::Ignored(reason, message) => {
                t.ignored.push(ignore(reason, message));
                continue;
            }
        };
        match a.spec.decision {
            ApprovalDecision::Deny => {
                let slot = if for_current {
                    &mut t.deny_current
                } else {
                    &mut t.deny_in_force
                };
                slot.get_or_insert_with(|| who.username.clone());
            }
            // The version in force was counted when it was approved.
            ApprovalDecision::Approve if !for_current => {}
            ApprovalDecision::Approve => {
                let at = created_of(a).unwrap_or(g.created);
                let generation = a.spec.grant_ref.generation;
                // Approvals count only when created before the deadline of their version.
                let refused = if approval_deadline(inp, rule, in_force, prior, generation)
                    .is_some_and(|d| at > d)
                {
                    Some((
                        Reason::AfterDeadline,
                        "it was created after the approval deadline".to_string(),
                    ))
                } else {
                    let is_self = requester.is_some_and(|r| r.username == who.username);
                    t.approve(&mut seen, who, at, is_self, break_glass, rref)
                };
                if let Some((reason, message)) = refused {
                    t.ignored.push(ignore(reason, message));
                }
            }
        }
    }
    t
}

impl Tally {
    /// Counts an approval of the current version by `who`, or says why it does not count.
    fn approve(
        &mut self,
        seen: &mut BTreeSet<String>,
        who: &UserIdentity,
        at: Timestamp,
        is_self: bool,
        break_glass: bool,
        rref: &RuleRef,
    ) -> Option<(Reason, String)> {
        if is_self && break_glass {
            self.break_glass.get_or_insert((who.username.clone(), at));
            None
        } else if is_self {
            Some((
                Reason::SelfApproval,
                format!(
                    "{} requested this access and cannot approve it ({rref} allows no break-glass)",
                    who.username
                ),
            ))
        } else if !seen.insert(who.username.clone()) {
            Some((
                Reason::DuplicateApprover,
                format!("{} already approved this version", who.username),
            ))
        } else {
            self.approvers.push((who.username.clone(), at));
            None
        }
    }
}

/// The approval deadline of version `generation`: the timeout from when it was requested (the
/// grant's creation, or when an extension became pending).
fn approval_deadline(
    inp: &Inputs,
    rule: &AccessRule,
    in_force: Option<i64>,
    prior: &GrantApproval,
    generation: i64,
) -> Option<Timestamp> {
    let timeout = parse_go_duration(&rule.approval_timeout)
        .ok()
        .and_then(|d| SignedDuration::try_from(d).ok())?;
    let since = if in_force.is_none() {
        inp.grant.created
    } else if prior.pending_generation == Some(generation) {
        prior.pending_since.as_ref().map_or(inp.now, |t| t.0)
    } else {
        inp.now
    };
    Some(add(since, timeout))
}

/// What an approval of this grant's name is, before its decision is looked at.
enum Screened<'a> {
    /// It counts, by `who`, for the current version or (else) the version in force.
    Counts {
        who: &'a UserIdentity,
        for_current: bool,
    },
    /// An approval of a version before the one in force: history, not a mistake.
    History,
    /// Set aside, and why.
    Ignored(Reason, String),
}

/// Whether an approval names this grant (uid), a version that matters, the governing policy, and
/// an approver the rule accepts.
fn screen<'a>(
    a: &'a MondayAccessApproval,
    g: &GrantView,
    in_force: Option<i64>,
    rref: &RuleRef,
    rule: &AccessRule,
) -> Screened<'a> {
    if a.spec.grant_ref.uid != g.uid {
        return Screened::Ignored(
            Reason::OtherGrant,
            "it names an earlier grant of the same name (another uid)".into(),
        );
    }
    let generation = a.spec.grant_ref.generation;
    let for_current = generation == g.generation;
    if !for_current && Some(generation) != in_force {
        if in_force.is_some_and(|f| generation < f) {
            return Screened::History;
        }
        return Screened::Ignored(
            Reason::OtherVersion,
            format!(
                "it names generation {generation}, the request is at generation {}",
                g.generation
            ),
        );
    }
    if a.spec.policy_ref.name != rref.policy {
        return Screened::Ignored(
            Reason::OtherPolicy,
            format!(
                "it names policy {}, the grant is governed by {rref}",
                a.spec.policy_ref.name
            ),
        );
    }
    let Some(who) = a.spec.approver.as_ref() else {
        return Screened::Ignored(
            Reason::ApproverUnknown,
            "it carries no spec.approver (the admission policies stamp it)".into(),
        );
    };
    let approvers = rule.approvers.as_ref().filter(|s| !s.is_empty());
    if approvers.is_some_and(|s| !s.includes(who)) {
        return Screened::Ignored(
            Reason::NotAnApprover,
            format!("{} is not among the approvers of {rref}", who.username),
        );
    }
    Screened::Counts { who, for_current }
}

fn created_of(a: &MondayAccessApproval) -> Option<Timestamp> {
    a.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// The expiry the spec asks for when access starts at `base` (`None` = until deleted).
pub fn requested_expiry(
    spec: &MondayAccessGrantSpec,
    base: Timestamp,
) -> Result<Option<Timestamp>, String> {
    if let Some(at) = &spec.expires_at {
        return at
            .parse::<Timestamp>()
            .map(|t| Some(ceil_second(t)))
            .map_err(|e| format!("expiresAt {at:?} is not an RFC 3339 time: {e}"));
    }
    if let Some(d) = &spec.duration {
        let d = parse_go_duration(d)
            .ok()
            .and_then(|d| SignedDuration::try_from(d).ok())
            .ok_or_else(|| format!("duration {d:?} is not a duration"))?;
        return base
            .checked_add(d)
            .map(|t| Some(ceil_second(t)))
            .map_err(|e| format!("duration: {e}"));
    }
    Ok(None)
}

/// The expiry of a version allowed as requested (no policy, ConductorOne): the stored one once
/// that version is granted (so deciding again says the same), else what the spec asks for from
/// the grant (or from `now` when it is not granted yet).
fn held_or_requested(
    g: &GrantView,
    prior: &GrantApproval,
    now: Timestamp,
) -> Result<Option<Timestamp>, String> {
    match g.granted_at {
        Some(_) if prior.approved_generation == Some(g.generation) => Ok(g.expires_at),
        granted_at => requested_expiry(g.spec, granted_at.unwrap_or(now)),
    }
}

/// `requested` shortened to `base + cap`; the second value is the cap when it applied.
fn apply_cap(
    requested: Option<Timestamp>,
    base: Timestamp,
    cap: Option<SignedDuration>,
) -> (Option<Timestamp>, Option<Timestamp>) {
    let Some(cap) = cap else {
        return (requested, None);
    };
    let limit = ceil_second(add(base, cap));
    match requested {
        Some(r) if r <= limit => (Some(r), None),
        // Without expiry only where allowPermanent (checked before); the cap then does not apply.
        None => (None, None),
        Some(_) => (Some(limit), Some(limit)),
    }
}

fn add(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

fn ceil_second(t: Timestamp) -> Timestamp {
    let s = t.as_second();
    let s = if t.subsec_nanosecond() > 0 { s + 1 } else { s };
    Timestamp::from_second(s).unwrap_or(t)
}

fn until(expires_at: Option<Timestamp>) -> String {
    expires_at.map_or(" without expiry".into(), |t| format!(" until {t}"))
}

fn describe_subjects(s: &crate::api::identity::Subjects) -> String {
    let mut parts = Vec::new();
    if !s.users.is_empty() {
        parts.push(format!("users {}", s.users.join(", ")));
    }
    if !s.groups.is_empty() {
        parts.push(format!("groups {}", s.groups.join(", ")));
    }
    parts.join("; ")
}

/// Who may approve under `rule` of `policies`, as messages and notifications say it.
pub fn approvers_of(policies: &[MondayAccessPolicy], rule: &RuleRef) -> Option<String> {
    let policies: Vec<&MondayAccessPolicy> = policies.iter().collect();
    find_rule(&policies, rule).map(describe_approvers)
}

fn describe_approvers(rule: &AccessRule) -> String {
    match rule.approvers.as_ref().filter(|s| !s.is_empty()) {
        Some(s) => format!("approvers: {}", describe_subjects(s)),
        None => "approvers: anyone with verb approve on the policy".into(),
    }
}

fn find_rule<'a>(policies: &[&'a MondayAccessPolicy], r: &RuleRef) -> Option<&'a AccessRule> {
    policies
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(r.policy.as_str()))
        .and_then(|p| p.spec.rules.iter().find(|x| x.name == r.rule))
}

fn rule_of(record: &GrantApproval) -> Option<RuleRef> {
    Some(RuleRef {
        policy: record.policy.clone()?,
        rule: record.rule.clone()?,
    })
}

fn prior_approved_at(prior: &GrantApproval, g: &GrantView, default: Timestamp) -> Timestamp {
    match (&prior.approved_at, prior.approved_generation) {
        (Some(t), Some(generation)) if generation == g.generation => t.0,
        _ => default,
    }
}

fn truncate(ignored: &[Ignored]) -> Vec<IgnoredApproval> {
    ignored
        .iter()
        .take(MAX_IGNORED_IN_STATUS)
        .map(|i| IgnoredApproval {
            name: i.approval.clone(),
            approver: i.approver.clone(),
            reason: i.reason.as_str().to_string(),
        })
        .collect()
}

/// The reason and message of an allowed version, from its record alone, so that deciding again
/// later says exactly the same.
fn allowed(
    g: &GrantView,
    record: &GrantApproval,
    expires_at: Option<Timestamp>,
) -> (Reason, String) {
    let ent = &g.spec.entitlement;
    let req = g
        .spec
        .requester
        .as_ref()
        .map_or("an unknown requester", |r| r.username.as_str());
    let rule = rule_of(record).map_or_else(|| "policy".to_string(), |r| r.to_string());
    let by = record.approved_by.as_deref().unwrap_or_default();
    let until = until(expires_at);
    match record.basis.unwrap_or(ApprovalBasis::Approvals) {
        ApprovalBasis::Approvals => (
            Reason::Approved,
            format!("{ent} for {req} approved by {by} under {rule}{until}"),
        ),
        ApprovalBasis::BreakGlass => (
            Reason::BreakGlass,
            format!("BREAK-GLASS: {req} approved their own request for {ent} under {rule}{until}"),
        ),
        ApprovalBasis::Policy => (
            Reason::ApprovalNotRequired,
            format!("{ent} for {req} allowed by {rule} without approval{until}"),
        ),
        ApprovalBasis::NoPolicy => (
            Reason::NoPolicy,
            format!(
                "no MondayAccessPolicy in this namespace: {ent} for {req} granted as requested, without approval{until}"
            ),
        ),
        ApprovalBasis::ConductorOne => (
            Reason::ConductorOneGrant,
            format!(
                "{ent} approved in ConductorOne (task {}); in-cluster policy does not apply{until}",
                g.spec
                    .conductor_one
                    .as_ref()
                    .map_or("?", |c| c.task_id.as_str())
            ),
        ),
        ApprovalBasis::GrantedBeforePolicy => (
            Reason::GrantedBeforePolicy,
            format!(
                "{ent} was granted before access policies were enforced; kept{until}; extensions need approval"
            ),
        ),
    }
}

fn allow(g: &GrantView, expires_at: Option<Timestamp>, record: GrantApproval) -> Decision {
    let basis = record.basis.unwrap_or(ApprovalBasis::Approvals);
    let (reason, message) = allowed(g, &record, expires_at);
    Decision {
        outcome: Outcome::Allow {
            expires_at,
            basis,
            reason,
            message,
            extension: None,
        },
        rule: rule_of(&record),
        record,
        ignored: vec![],
        warnings: vec![],
        requeue_at: None,
    }
}

/// The version in force stays as approved; its expiry is the stored one once granted.
fn keep_in_force(
    g: &GrantView,
    prior: &GrantApproval,
    ignored: Vec<Ignored>,
    now: Timestamp,
) -> Decision {
    let basis = prior.basis.unwrap_or(ApprovalBasis::Approvals);
    let rule = rule_of(prior);
    let expires_at = if g.granted_at.is_some() {
        g.expires_at
    } else {
        // Approved but not granted yet (a retry): the grant happens now, at the approved terms.
        let cap = prior
            .max_duration
            .as_deref()
            .and_then(|s| parse_go_duration(s).ok())
            .and_then(|d| SignedDuration::try_from(d).ok());
        let requested = requested_expiry(g.spec, now).ok().flatten();
        apply_cap(requested, now, cap).0
    };
    let (reason, message) = allowed(g, prior, expires_at);
    let mut record = prior.clone();
    record.pending_generation = None;
    record.pending_since = None;
    record.deadline = None;
    record.ignored = truncate(&ignored);
    Decision {
        outcome: Outcome::Allow {
            expires_at,
            basis,
            reason,
            message,
            extension: None,
        },
        rule,
        record,
        ignored,
        warnings: vec![],
        requeue_at: None,
    }
}

impl Decision {
    fn with_extension(mut self, ext: Extension) -> Self {
        if let Outcome::Allow { extension, .. } = &mut self.outcome {
            *extension = Some(ext);
        }
        self
    }
}

fn deny(
    g: &GrantView,
    reason: Reason,
    message: String,
    prior: GrantApproval,
    rule: Option<RuleRef>,
) -> Decision {
    let mut record = prior;
    if let Some(r) = &rule {
        record.policy = Some(r.policy.clone());
        record.rule = Some(r.rule.clone());
    }
    record.pending_generation = None;
    record.pending_since = None;
    record.deadline = None;
    record.denied = Some(GrantDenial {
        generation: g.generation,
        reason: reason.as_str().to_string(),
        message: message.clone(),
    });
    Decision {
        outcome: Outcome::Deny { reason, message },
        rule,
        record,
        ignored: vec![],
        warnings: vec![],
        requeue_at: None,
    }
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

fn with_warnings(mut d: Decision, mut warnings: Vec<Warning>) -> Decision {
    warnings.append(&mut d.warnings);
    d.warnings = warnings;
    d
}

fn with_ignored(mut d: Decision, ignored: Vec<Ignored>) -> Decision {
    d.ignored = ignored;
    d
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
