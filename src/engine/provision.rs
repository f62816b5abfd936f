//! Provisioning: grant, revoke, invite, deactivate and reactivate, shared by the one-shot CLI and
//! the MondayAccessGrant controller (one way to grant).
//!
//! Every operation reads the current state first, so it is idempotent and can say whether the
//! access already existed (`pre_existing`: such access is never taken away by a revoke) and what
//! it replaced (`previous`: the base role for role grants, `member` / `subscriber` when an owner
//! grant upgraded an existing membership, so a revoke puts it back). A revoke confirms with a
//! read that Monday no longer has the access before it reports success.
//!
//! Besides Baton's entitlement IDs two account-lifecycle pseudo-entitlements exist, for user
//! principals only: `account:active` (grant = reactivate or invite, revoke = deactivate) and
//! `account:deactivated` (grant = deactivate, revoke = reactivate).

use std::fmt;
use std::str::FromStr;

use crate::monday::{
    Client, Id, MondayError, Role, SubscriberKind, UserError, UserStatus, UserSummary,
    WorkspaceList,
};
use crate::reason::Reason;

/// A Monday base role, as Baton names it (`role:<slug>:assigned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseRole {
    Admin,
    Member,
    Viewer,
    Guest,
}

impl BaseRole {
    pub const ALL: [BaseRole; 4] = [Self::Admin, Self::Member, Self::Viewer, Self::Guest];

    /// Baton's role resource id.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
            Self::Guest => "guest",
        }
    }

    /// Monday's `User.kind` for this role.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Viewer => "view_only",
            other => other.slug(),
        }
    }

    /// The role of a Monday `User.kind`, if it is one of the four base roles.
    pub fn from_kind(kind: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.kind().eq_ignore_ascii_case(kind))
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.slug() == slug)
    }

    fn monday(self) -> Role {
        match self {
            Self::Admin => Role::Admin,
            Self::Member => Role::Member,
            Self::Viewer => Role::ViewOnly,
            Self::Guest => Role::Guest,
        }
    }
}

/// Owner or subscriber of a board or workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Owner,
    Subscriber,
}

impl Access {
    fn slug(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Subscriber => "subscriber",
        }
    }
    fn kind(self) -> SubscriberKind {
        match self {
            Self::Owner => SubscriberKind::Owner,
            Self::Subscriber => SubscriberKind::Subscriber,
        }
    }
}

/// Member or owner of a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TeamRole {
    Member,
    Owner,
}

/// A provisionable entitlement: a Baton entitlement ID or an account-lifecycle pseudo-entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entitlement {
    /// `role:<admin|member|viewer|guest>:assigned`: the user's single base role.
    Role(BaseRole),
    /// `team:<id>:member|owner`.
    Team { team: Id, role: TeamRole },
    /// `workspace:<id>:owner|subscriber`.
    Workspace { workspace: Id, access: Access },
    /// `board:<id>:owner|subscriber`.
    Board { board: Id, access: Access },
    /// `account:active`: the account exists and is active (reactivated or invited); revoke
    /// deactivates it.
    AccountActive,
    /// `account:deactivated`: the account is deactivated; revoke reactivates it.
    AccountDeactivated,
}

/// The shape of the id part of an entitlement form.
#[derive(Debug, Clone, Copy)]
enum IdShape {
    /// One of these names (base roles).
    OneOf(&'static [&'static str]),
    /// A Monday id: 1–20 digits (team `-1`, "everyone", is synthetic: it cannot be joined or
    /// owned, so it is not a provisionable id).
    Numeric,
    /// No id (`account:<slug>` names the principal's own account).
    None,
}

/// One form of provisionable entitlement: `<kind>[:<id>]:<slug>`.
struct Form {
    kind: &'static str,
    id: IdShape,
    slugs: &'static [&'static str],
}

/// The entitlement grammar: the parser walks this table and the CRD's validation rule is
/// generated from it ([`entitlement_pattern`]), so the two cannot drift apart.
const GRAMMAR: &[Form] = &[
    Form {
        kind: "role",
        id: IdShape::OneOf(&["admin", "member", "viewer", "guest"]),
        slugs: &["assigned"],
    },
    Form {
        kind: "team",
        id: IdShape::Numeric,
        slugs: &["member", "owner"],
    },
    Form {
        kind: "workspace",
        id: IdShape::Numeric,
        slugs: &["owner", "subscriber"],
    },
    Form {
        kind: "board",
        id: IdShape::Numeric,
        slugs: &["owner", "subscriber"],
    },
    Form {
        kind: "account",
        id: IdShape::None,
        slugs: &["active", "deactivated"],
    },
];

fn alternatives(items: &[&str]) -> String {
    match items {
        [one] => (*one).to_string(),
        many => format!("({})", many.join("|")),
    }
}

/// A regular expression (RE2, as CEL's `matches` takes it) of every provisionable entitlement id.
pub fn entitlement_pattern() -> String {
    let forms: Vec<String> = GRAMMAR
        .iter()
        .map(|f| {
            let id = match f.id {
                IdShape::OneOf(names) => format!(":{}", alternatives(names)),
                IdShape::Numeric => ":[0-9]{1,20}".to_string(),
                IdShape::None => String::new(),
            };
            format!("{}{id}:{}", f.kind, alternatives(f.slugs))
        })
        .collect();
    format!("^({})$", forms.join("|"))
}

/// The forms for people: `role:<admin|member|viewer|guest>:assigned, team:<id>:member|owner, …`.
pub fn entitlement_forms() -> String {
    GRAMMAR
        .iter()
        .map(|f| {
            let id = match f.id {
                IdShape::OneOf(names) => format!(":<{}>", names.join("|")),
                IdShape::Numeric => ":<id>".to_string(),
                IdShape::None => String::new(),
            };
            format!("{}{id}:{}", f.kind, f.slugs.join("|"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why an entitlement ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid entitlement {id:?}: {why}; expected {}", entitlement_forms())]
pub struct EntitlementParseError {
    pub id: String,
    pub why: String,
}

fn numeric_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

impl FromStr for Entitlement {
    type Err = EntitlementParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: String| EntitlementParseError {
            id: s.to_string(),
            why,
        };
        let parts: Vec<&str> = s.split(':').collect();
        let form = GRAMMAR
            .iter()
            .find(|f| parts.first() == Some(&f.kind))
            .ok_or_else(|| err("unknown resource type".into()))?;
        let (id, slug) = match (form.id, parts.as_slice()) {
            (IdShape::None, [_, slug]) => ("", *slug),
            (IdShape::OneOf(_) | IdShape::Numeric, [_, id, slug]) => (*id, *slug),
            _ => {
                return Err(err(format!(
                    "wrong number of parts for a {} entitlement",
                    form.kind
                )));
            }
        };
        match form.id {
            IdShape::OneOf(names) if !names.contains(&id) => {
                return Err(err(format!(
                    "{} must be one of {}",
                    form.kind,
                    names.join(", ")
                )));
            }
            IdShape::Numeric if !numeric_id(id) => {
                return Err(err("the resource id must be a positive number".into()));
            }
            _ => {}
        }
        if !form.slugs.contains(&slug) {
            return Err(err(format!(
                "{} entitlements are {}",
                form.kind,
                form.slugs.join(" or ")
            )));
        }
        let access = |slug: &str| {
            if slug == "owner" {
                Access::Owner
            } else {
                Access::Subscriber
            }
        };
        Ok(match (form.kind, slug) {
            ("role", _) => Entitlement::Role(
                BaseRole::from_slug(id).ok_or_else(|| err("unknown base role".into()))?,
            ),
            ("account", "active") => Entitlement::AccountActive,
            ("account", _) => Entitlement::AccountDeactivated,
            ("team", slug) => Entitlement::Team {
                team: Id::from(id),
                role: if slug == "owner" {
                    TeamRole::Owner
                } else {
                    TeamRole::Member
                },
            },
            ("board", slug) => Entitlement::Board {
                board: Id::from(id),
                access: access(slug),
            },
            (_, slug) => Entitlement::Workspace {
                workspace: Id::from(id),
                access: access(slug),
            },
        })
    }
}

impl fmt::Display for Entitlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Role(r) => write!(f, "role:{}:assigned", r.slug()),
            Self::Team { team, role } => write!(
                f,
                "team:{team}:{}",
                match role {
                    TeamRole::Member => "member",
                    TeamRole::Owner => "owner",
                }
            ),
            Self::Workspace { workspace, access } => {
                write!(f, "workspace:{workspace}:{}", access.slug())
            }
            Self::Board { board, access } => write!(f, "board:{board}:{}", access.slug()),
            Self::AccountActive => f.write_str("account:active"),
            Self::AccountDeactivated => f.write_str("account:deactivated"),
        }
    }
}

impl Entitlement {
    /// Whether Monday accepts a team as the holder (boards and workspaces only).
    pub fn allows_team(&self) -> bool {
        matches!(self, Self::Board { .. } | Self::Workspace { .. })
    }

    /// Whether this is an account-lifecycle pseudo-entitlement (not a Baton entitlement).
    pub fn is_lifecycle(&self) -> bool {
        matches!(self, Self::AccountActive | Self::AccountDeactivated)
    }
}

/// Who receives the access, as asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    UserId(Id),
    Email(String),
    Team(Id),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserId(id) => write!(f, "user {id}"),
            Self::Email(e) => write!(f, "{e}"),
            Self::Team(id) => write!(f, "team {id}"),
        }
    }
}

/// A board or a workspace: Monday lets users and teams into both as owners or subscribers, through
/// parallel mutations per place and holder kind; this picks the right one.
#[derive(Clone, Copy)]
enum Place<'a> {
    Board(&'a Id),
    Workspace(&'a Id),
}

impl Place<'_> {
    async fn add(
        self,
        client: &Client,
        holder: &Holder,
        kind: SubscriberKind,
    ) -> Result<(), MondayError> {
        match (self, holder) {
            (Place::Board(b), Holder::User(u)) => {
                client
                    .add_users_to_board(b, std::slice::from_ref(&u.id), kind)
                    .await
            }
            (Place::Board(b), Holder::Team(t)) => {
                client
                    .add_teams_to_board(b, std::slice::from_ref(t), kind)
                    .await
            }
            (Place::Workspace(w), Holder::User(u)) => {
                client
                    .add_users_to_workspace(w, std::slice::from_ref(&u.id), kind)
                    .await
            }
            (Place::Workspace(w), Holder::Team(t)) => {
                client
                    .add_teams_to_workspace(w, std::slice::from_ref(t), kind)
                    .await
            }
        }
        .map(drop)
    }

    async fn remove(self, client: &Client, holder: &Holder) -> Result<(), MondayError> {
        match (self, holder) {
            (Place::Board(b), Holder::User(u)) => {
                client
                    .delete_subscribers_from_board(b, std::slice::from_ref(&u.id))
                    .await
            }
            (Place::Board(b), Holder::Team(t)) => {
                client
                    .delete_teams_from_board(b, std::slice::from_ref(t))
                    .await
            }
            (Place::Workspace(w), Holder::User(u)) => {
                client
                    .delete_users_from_workspace(w, std::slice::from_ref(&u.id))
                    .await
            }
            (Place::Workspace(w), Holder::Team(t)) => {
                client
                    .delete_teams_from_workspace(w, std::slice::from_ref(t))
                    .await
            }
        }
        .map(drop)
    }

    /// Revokes `access`. Removal drops ownership and subscription together, so an owner grant
    /// over a subscription the holder had before puts the subscription back; returns what was
    /// restored.
    async fn revoke(
        self,
        client: &Client,
        holder: &Holder,
        access: Access,
        previous: Option<&str>,
    ) -> Result<Option<String>, MondayError> {
        self.remove(client, holder).await?;
        if access == Access::Owner && previous == Some("subscriber") {
            self.add(client, holder, SubscriberKind::Subscriber).await?;
            return Ok(Some("subscriber".into()));
        }
        Ok(None)
    }
}

/// The principal after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    User(UserSummary),
    Team(Id),
}

impl Holder {
    /// Baton principal, `user:<id>` or `team:<id>`.
    pub fn baton_id(&self) -> String {
        match self {
            Self::User(u) => format!("user:{}", u.id),
            Self::Team(t) => format!("team:{t}"),
        }
    }
    pub fn user_id(&self) -> Option<&Id> {
        match self {
            Self::User(u) => Some(&u.id),
            Self::Team(_) => None,
        }
    }
}

/// What a principal held before a grant, found by [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub holder: Holder,
    /// The principal already has exactly this access.
    pub pre_existing: bool,
    /// What the grant replaces and a revoke restores: the base role (`admin`, `member`, `viewer`,
    /// `guest`) for role grants, `member` for a team-owner grant to a member, `subscriber` for an
    /// owner grant to a subscriber.
    pub previous: Option<String>,
    /// The account was invited by this call (only with `create_account`).
    pub invited: bool,
}

/// The result of a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantOutcome {
    pub holder: Holder,
    /// Baton grant id `<entitlement>:<principal type>:<principal id>`.
    pub grant_id: String,
    pub pre_existing: bool,
    pub previous: Option<String>,
    pub invited: bool,
}

/// The result of a revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeOutcome {
    /// Monday no longer had the access (or its resource) before this call.
    pub already_absent: bool,
    /// What the principal holds afterwards in place of the revoked access, if anything: the
    /// recorded `previous` put back, the subscription or membership kept beside a revoked owner
    /// grant, or the base role a revoked role grant fell back to.
    pub restored: Option<String>,
    /// Other Baton grants the principal lost because Monday cannot keep them without the revoked
    /// one (revoking the subscription of a board owner also ends the ownership).
    pub also_removed: Vec<String>,
}

/// What a revoke takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeMode<'a> {
    /// Baton semantics, for ConductorOne and the one-shot CLI: remove exactly the named grant
    /// and keep every other grant the snapshot lists. An owner grant is revoked while the
    /// membership/subscription stays (`remove_team_owners`; boards and workspaces re-add the
    /// subscriber); revoking the member/subscriber grant of an owner removes both (Monday has no
    /// owner who is not a member) and lists the owner grant in
    /// [`also_removed`](RevokeOutcome::also_removed). A base role cannot be removed, only
    /// replaced: admin and member fall back to viewer; viewer and guest are refused.
    ExactGrant,
    /// Undo a grant made earlier: put back exactly the state recorded when it was made
    /// (`previous` of [`GrantOutcome`], MondayAccessGrant `status.previousRole`). `None` means
    /// the principal had nothing, so an owner grant is removed with the subscription or
    /// membership it brought; a role grant falls back to viewer.
    RestorePrevious(Option<&'a str>),
}

/// How to grant.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantOptions {
    /// Invite the email when no account has it.
    pub create_account: bool,
}

/// Everything provisioning can fail with; each has a condition [`reason`](Self::reason).
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    InvalidEntitlement(#[from] EntitlementParseError),
    #[error(
        "{entitlement} cannot be held by a team: Monday allows team principals on boards and workspaces only; name a user (email or userId)"
    )]
    TeamPrincipalNotAllowed { entitlement: String },
    #[error(
        "no Monday.com account has {who}; set createAccount: true to invite it, or fix the principal"
    )]
    NoSuchUser { who: String },
    #[error(
        "user {user} is deactivated; reactivate the account (entitlement account:active) before granting it access"
    )]
    UserDeactivated { user: String },
    #[error(
        "user {user} has a pending invitation that has not been accepted: Monday cannot {action} it until the invitee accepts"
    )]
    PendingInvitation { user: String, action: &'static str },
    #[error(
        "user {user} has base role kind {kind:?}, which is not one of admin, member, viewer, guest; change it in Monday first"
    )]
    UnsupportedUserKind { user: String, kind: String },
    #[error("{entitlement}: the {resource} does not exist or is not visible to the token")]
    ResourceNotFound {
        entitlement: String,
        resource: &'static str,
    },
    #[error("{operation} refused {what}: {error}")]
    Rejected {
        operation: &'static str,
        what: String,
        error: Box<UserError>,
    },
    #[error(
        "{operation} reported success but Monday still shows a different state for {what}; it will be checked again"
    )]
    NotApplied {
        operation: &'static str,
        what: String,
    },
    #[error(
        "{entitlement} cannot be revoked: every Monday.com user holds exactly one base role; grant another role instead (role:admin|member:assigned fall back to viewer), or deactivate the account"
    )]
    BaseRoleRequired { entitlement: String },
    #[error(transparent)]
    Monday(#[from] MondayError),
}

impl ProvisionError {
    /// The reason for conditions, Events and metrics; its class says whether a retry may help.
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidEntitlement(_) => Reason::InvalidEntitlement,
            Self::TeamPrincipalNotAllowed { .. } => Reason::TeamPrincipalNotAllowed,
            Self::NoSuchUser { .. } => Reason::UserNotFound,
            Self::UserDeactivated { .. } => Reason::UserDeactivated,
            Self::PendingInvitation { .. } => Reason::PendingInvitation,
            Self::UnsupportedUserKind { .. } => Reason::UnsupportedUserKind,
            Self::ResourceNotFound { .. } => Reason::ResourceNotFound,
            Self::Rejected { error, .. } => match error.code.as_str() {
                "CANNOT_UPDATE_SELF" => Reason::CannotUpdateSelf,
                "USER_NOT_FOUND" => Reason::UserNotFound,
                "VIEWERS_OR_GUESTS" => Reason::ViewersOrGuests,
                "USER_NOT_MEMBER_OF_TEAM" => Reason::UserNotMemberOfTeam,
                "EXCEEDS_BATCH_LIMIT" => Reason::ExceedsBatchLimit,
                "INVALID_INPUT" => Reason::InvalidInput,
                "TEAM_MEMBERSHIP_REFUSED" => Reason::TeamMembershipRefused,
                "ERROR" => Reason::InviteFailed,
                // A failure on Monday's side for this user: worth another try.
                "FAILED" => Reason::MondayFailed,
                _ => Reason::MondayRefused,
            },
            Self::NotApplied { .. } => Reason::NotApplied,
            Self::BaseRoleRequired { .. } => Reason::BaseRoleRequired,
            Self::Monday(e) => e.reason(),
        }
    }

    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        self.reason().is_transient()
    }
}

type Result<T, E = ProvisionError> = std::result::Result<T, E>;

fn reject(operation: &'static str, what: impl Into<String>, error: UserError) -> ProvisionError {
    ProvisionError::Rejected {
        operation,
        what: what.into(),
        error: Box::new(error),
    }
}

/// The first per-user error of a bulk result as a typed error.
fn first_error(operation: &'static str, what: &str, errors: Vec<UserError>) -> Result<()> {
    match errors.into_iter().next() {
        Some(e) => Err(reject(operation, what, e)),
        None => Ok(()),
    }
}

/// Parses a principal from its three optional spellings; exactly one must be set.
pub fn principal_from(
    email: Option<&str>,
    user_id: Option<&str>,
    team_id: Option<&str>,
) -> std::result::Result<Principal, &'static str> {
    match (email, user_id, team_id) {
        (Some(e), None, None) if e.contains('@') => Ok(Principal::Email(e.trim().to_string())),
        (Some(_), None, None) => Err("the email has no @"),
        (None, Some(u), None) if numeric_id(u) => Ok(Principal::UserId(Id::from(u))),
        (None, None, Some(t)) if numeric_id(t) || t == "-1" => Ok(Principal::Team(Id::from(t))),
        (None, Some(_), None) | (None, None, Some(_)) => Err("ids are positive numbers"),
        _ => Err("name exactly one of email, user id, team id"),
    }
}

async fn find_user(client: &Client, principal: &Principal) -> Result<Option<UserSummary>> {
    Ok(match principal {
        Principal::Email(e) => client.user_by_email(e).await?,
        Principal::UserId(id) => client.user_by_id(id).await?,
        Principal::Team(_) => None,
    })
}

/// Resolves a user principal; a missing account is [`ProvisionError::NoSuchUser`].
pub async fn resolve_user(client: &Client, principal: &Principal) -> Result<UserSummary> {
    find_user(client, principal)
        .await?
        .ok_or_else(|| ProvisionError::NoSuchUser {
            who: principal.to_string(),
        })
}

/// Whether `holder` has `entitlement` now, and what a revoke would restore.
/// `None` = the resource does not exist.
async fn probe(
    client: &Client,
    entitlement: &Entitlement,
    holder: &Holder,
) -> Result<Option<(bool, Option<String>)>> {
    Ok(match (entitlement, holder) {
        (Entitlement::Role(role), Holder::User(u)) => {
            let current = BaseRole::from_kind(&u.kind).ok_or_else(|| {
                ProvisionError::UnsupportedUserKind {
                    user: u.id.to_string(),
                    kind: u.kind.clone(),
                }
            })?;
            Some((current == *role, Some(current.slug().to_string())))
        }
        (Entitlement::AccountActive, Holder::User(u)) => {
            Some((u.status == UserStatus::Active, None))
        }
        (Entitlement::AccountDeactivated, Holder::User(u)) => {
            Some((u.status == UserStatus::Inactive, None))
        }
        (Entitlement::Team { team, role }, Holder::User(u)) => {
            let Some(t) = client
                .team_access(team, std::slice::from_ref(&u.id))
                .await?
            else {
                return Ok(None);
            };
            let member = t.members.contains(&u.id);
            let owner = t.owners.contains(&u.id);
            match role {
                TeamRole::Member => Some((member || owner, None)),
                TeamRole::Owner => Some((owner, member.then(|| "member".to_string()))),
            }
        }
        (Entitlement::Board { board, access }, holder) => {
            let Some(b) = client.board_access(board).await? else {
                return Ok(None);
            };
            let (owners, subscribers, id) = match holder {
                Holder::User(u) => (&b.owners, &b.subscribers, &u.id),
                Holder::Team(t) => (&b.team_owners, &b.team_subscribers, t),
            };
            let owner = owners.contains(id);
            let subscriber = subscribers.contains(id) || owner;
            match access {
                Access::Owner => Some((owner, subscriber.then(|| "subscriber".to_string()))),
                Access::Subscriber => Some((subscriber, None)),
            }
        }
        (Entitlement::Workspace { workspace, access }, holder) => {
            let (owners_list, subs_list, id) = match holder {
                Holder::User(u) => (
                    WorkspaceList::UserOwners,
                    WorkspaceList::UserSubscribers,
                    &u.id,
                ),
                Holder::Team(t) => (WorkspaceList::TeamOwners, WorkspaceList::TeamSubscribers, t),
            };
            // Both lists at once: one round trip instead of two.
            let (owners, subscribers) = tokio::try_join!(
                client.workspace_list(workspace, owners_list),
                client.workspace_list(workspace, subs_list)
            )?;
            let Some(owners) = owners else {
                return Ok(None);
            };
            let owner = owners.contains(id);
            let subscriber = owner || subscribers.unwrap_or_default().contains(id);
            match access {
                Access::Owner => Some((owner, subscriber.then(|| "subscriber".to_string()))),
                Access::Subscriber => Some((subscriber, None)),
            }
        }
        (e, Holder::Team(_)) => {
            return Err(ProvisionError::TeamPrincipalNotAllowed {
                entitlement: e.to_string(),
            });
        }
    })
}

fn resource_name(e: &Entitlement) -> &'static str {
    match e {
        Entitlement::Team { .. } => "team",
        Entitlement::Workspace { .. } => "workspace",
        Entitlement::Board { .. } => "board",
        _ => "account",
    }
}

/// Reads what the principal holds now, inviting the account first when it does not exist and
/// `create_account` allows it. Changes nothing else; [`apply`] does the change.
pub async fn check(
    client: &Client,
    entitlement: &Entitlement,
    principal: &Principal,
    opts: GrantOptions,
) -> Result<Current> {
    let mut invited = false;
    let holder = match principal {
        Principal::Team(t) => {
            if !entitlement.allows_team() {
                return Err(ProvisionError::TeamPrincipalNotAllowed {
                    entitlement: entitlement.to_string(),
                });
            }
            Holder::Team(t.clone())
        }
        _ => match find_user(client, principal).await? {
            Some(u) => Holder::User(u),
            None => match principal {
                Principal::Email(email) if opts.create_account => {
                    // A role grant invites with that role, so the account never has more.
                    let role = match entitlement {
                        Entitlement::Role(r) => *r,
                        _ => BaseRole::Member,
                    };
                    let out = invite(client, email, role).await?;
                    invited = !out.already_existed;
                    Holder::User(out.user)
                }
                _ => {
                    return Err(ProvisionError::NoSuchUser {
                        who: principal.to_string(),
                    });
                }
            },
        },
    };
    if let Holder::User(u) = &holder
        && u.status == UserStatus::Inactive
        && !entitlement.is_lifecycle()
    {
        return Err(ProvisionError::UserDeactivated {
            user: u.id.to_string(),
        });
    }
    let Some((has, previous)) = probe(client, entitlement, &holder).await? else {
        return Err(ProvisionError::ResourceNotFound {
            entitlement: entitlement.to_string(),
            resource: resource_name(entitlement),
        });
    };
    // An account invited by this call has nothing to restore: it did not exist before.
    let previous = if invited { None } else { previous };
    Ok(Current {
        holder,
        pre_existing: has && !invited,
        previous,
        invited,
    })
}

/// Makes Monday hold the access found missing by [`check`]; a no-op when it was pre-existing.
pub async fn apply(
    client: &Client,
    entitlement: &Entitlement,
    current: &Current,
) -> Result<GrantOutcome> {
    apply_inner(client, entitlement, current, false).await
}

/// [`apply`]; `just_checked`: `current` was read a moment ago (by [`grant`]), so the re-read
/// that guards against changes since an earlier [`check`] is skipped (three fewer requests).
async fn apply_inner(
    client: &Client,
    entitlement: &Entitlement,
    current: &Current,
    just_checked: bool,
) -> Result<GrantOutcome> {
    // Role and status may have changed since `check` read them (an invitation changes them for
    // sure: read again then too).
    let just_checked = just_checked && !current.invited;
    let refreshed;
    let holder = if just_checked {
        &current.holder
    } else {
        refreshed = refresh(client, &current.holder).await?;
        &refreshed
    };
    let what = format!("{entitlement} for {}", holder.baton_id());
    // An account invited for `account:active` is as active as Monday allows until accepted.
    let invited_pending = *entitlement == Entitlement::AccountActive
        && current.invited
        && matches!(holder, Holder::User(u) if u.status == UserStatus::Pending);
    let has_now = invited_pending
        || if just_checked {
            current.pre_existing
        } else {
            probe(client, entitlement, holder)
                .await?
                .map(|(h, _)| h)
                .unwrap_or(false)
        };
    if !has_now {
        match (entitlement, holder) {
            (Entitlement::Role(role), Holder::User(u)) => {
                let r = client
                    .update_users_role(std::slice::from_ref(&u.id), Some(role.monday()), None)
                    .await?;
                first_error("update_users_role", &what, r.errors)?;
            }
            (Entitlement::AccountActive, Holder::User(u)) => {
                reactivate_user(client, u).await?;
            }
            (Entitlement::AccountDeactivated, Holder::User(u)) => {
                deactivate_user(client, u).await?;
            }
            (Entitlement::Team { team, role }, Holder::User(u)) => {
                let ids = std::slice::from_ref(&u.id);
                let was_member = current.previous.is_some();
                if *role == TeamRole::Member || !was_member {
                    let r = client.add_users_to_team(team, ids).await?;
                    if r.failed.contains(&u.id) {
                        return Err(reject(
                            "add_users_to_team",
                            &what,
                            UserError {
                                code: "TEAM_MEMBERSHIP_REFUSED".into(),
                                user_id: Some(u.id.to_string()),
                                email: None,
                                message: "guests can only join guest teams and other users only regular teams".into(),
                            },
                        ));
                    }
                }
                if *role == TeamRole::Owner {
                    let r = client.assign_team_owners(team, ids).await?;
                    if let Err(e) = first_error("assign_team_owners", &what, r.errors) {
                        if !was_member {
                            // Undo the membership added only to make ownership possible.
                            let _ = client.remove_users_from_team(team, ids).await;
                        }
                        return Err(e);
                    }
                }
            }
            (Entitlement::Board { board, access }, h) => {
                Place::Board(board).add(client, h, access.kind()).await?;
            }
            (Entitlement::Workspace { workspace, access }, h) => {
                Place::Workspace(workspace)
                    .add(client, h, access.kind())
                    .await?;
            }
            (e, Holder::Team(_)) => {
                return Err(ProvisionError::TeamPrincipalNotAllowed {
                    entitlement: e.to_string(),
                });
            }
        }
        let confirmed = probe(client, entitlement, &refresh(client, holder).await?)
            .await?
            .map(|(h, _)| h)
            .unwrap_or(false);
        if !confirmed {
            return Err(ProvisionError::NotApplied {
                operation: "grant",
                what,
            });
        }
    }
    Ok(GrantOutcome {
        grant_id: grant_id(entitlement, holder),
        holder: holder.clone(),
        pre_existing: current.pre_existing,
        previous: current.previous.clone(),
        invited: current.invited,
    })
}

/// The Baton grant id of `entitlement` held by `holder` (account pseudo-entitlements name the
/// user resource).
pub fn grant_id(entitlement: &Entitlement, holder: &Holder) -> String {
    format!("{entitlement}:{}", holder.baton_id())
}

/// Re-reads a user (role and status change with mutations); teams are returned as they are.
async fn refresh(client: &Client, holder: &Holder) -> Result<Holder> {
    Ok(match holder {
        Holder::User(u) => Holder::User(client.user_by_id(&u.id).await?.ok_or_else(|| {
            ProvisionError::NoSuchUser {
                who: format!("user {}", u.id),
            }
        })?),
        Holder::Team(_) => holder.clone(),
    })
}

/// Grants `entitlement` to `principal`: [`check`] then [`apply`]. Idempotent.
pub async fn grant(
    client: &Client,
    entitlement: &Entitlement,
    principal: &Principal,
    opts: GrantOptions,
) -> Result<GrantOutcome> {
    let current = check(client, entitlement, principal, opts).await?;
    apply_inner(client, entitlement, &current, true).await
}

/// Takes `entitlement` away from `principal` as `mode` says (see [`RevokeMode`]): the one revoke
/// of the operator, used by ConductorOne revoke tasks, the one-shot CLI and MondayAccessGrant
/// expiry alike. A missing user, resource or access is success (`already_absent`). Confirms
/// with a read afterwards that the grant is gone.
pub async fn revoke(
    client: &Client,
    entitlement: &Entitlement,
    principal: &Principal,
    mode: RevokeMode<'_>,
) -> Result<RevokeOutcome> {
    let absent = RevokeOutcome {
        already_absent: true,
        restored: None,
        also_removed: Vec::new(),
    };
    let holder = match principal {
        Principal::Team(t) => {
            if !entitlement.allows_team() {
                return Err(ProvisionError::TeamPrincipalNotAllowed {
                    entitlement: entitlement.to_string(),
                });
            }
            Holder::Team(t.clone())
        }
        _ => match find_user(client, principal).await? {
            Some(u) => Holder::User(u),
            None => return Ok(absent),
        },
    };
    // A pending invitation is an account that becomes active on acceptance, and Monday cannot
    // deactivate it: ending `account:active` must wait for it, not report success.
    if let (Entitlement::AccountActive, Holder::User(u)) = (entitlement, &holder)
        && u.status == UserStatus::Pending
    {
        return Err(ProvisionError::PendingInvitation {
            user: u.id.to_string(),
            action: "deactivate",
        });
    }
    let what = format!("{entitlement} for {}", holder.baton_id());
    let out = match mode {
        RevokeMode::ExactGrant => revoke_exact(client, entitlement, &holder, &what).await?,
        RevokeMode::RestorePrevious(previous) => {
            revoke_restoring(client, entitlement, &holder, previous, &what).await?
        }
    };
    let Some(out) = out else {
        return Ok(absent);
    };
    // Confirm: the named grant is gone (for a membership/subscription, ownership too).
    let refreshed = refresh(client, &holder).await?;
    let still = match (
        entitlement,
        standing(client, entitlement, &refreshed).await?,
    ) {
        (Entitlement::Team { role, .. }, Some(s)) => match role {
            TeamRole::Owner => s.owner,
            TeamRole::Member => s.owner || s.listed,
        },
        (Entitlement::Board { access, .. } | Entitlement::Workspace { access, .. }, Some(s)) => {
            match access {
                Access::Owner => s.owner,
                Access::Subscriber => s.owner || s.listed,
            }
        }
        (_, None) => false,
        (e, Some(_)) => probe(client, e, &refreshed)
            .await?
            .map(|(h, _)| h)
            .unwrap_or(false),
    };
    if still {
        return Err(ProvisionError::NotApplied {
            operation: "revoke",
            what,
        });
    }
    Ok(out)
}

/// Where a principal stands on a team, board or workspace: owner, and listed as member /
/// subscriber (Monday lists owners as members of teams, and usually — not always — as
/// subscribers of boards and workspaces). `None` when the resource does not exist or the
/// entitlement is not a team/board/workspace one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Standing {
    owner: bool,
    listed: bool,
}

async fn standing(
    client: &Client,
    entitlement: &Entitlement,
    holder: &Holder,
) -> Result<Option<Standing>> {
    Ok(match (entitlement, holder) {
        (Entitlement::Team { team, .. }, Holder::User(u)) => client
            .team_access(team, std::slice::from_ref(&u.id))
            .await?
            .map(|t| Standing {
                owner: t.owners.contains(&u.id),
                listed: t.members.contains(&u.id),
            }),
        (Entitlement::Board { board, .. }, holder) => client.board_access(board).await?.map(|b| {
            let (owners, subscribers, id) = match holder {
                Holder::User(u) => (&b.owners, &b.subscribers, &u.id),
                Holder::Team(t) => (&b.team_owners, &b.team_subscribers, t),
            };
            Standing {
                owner: owners.contains(id),
                listed: subscribers.contains(id),
            }
        }),
        (Entitlement::Workspace { workspace, .. }, holder) => {
            let (owners_list, subs_list, id) = match holder {
                Holder::User(u) => (
                    WorkspaceList::UserOwners,
                    WorkspaceList::UserSubscribers,
                    &u.id,
                ),
                Holder::Team(t) => (WorkspaceList::TeamOwners, WorkspaceList::TeamSubscribers, t),
            };
            let (owners, subscribers) = tokio::try_join!(
                client.workspace_list(workspace, owners_list),
                client.workspace_list(workspace, subs_list)
            )?;
            owners.map(|owners| Standing {
                owner: owners.contains(id),
                listed: subscribers.unwrap_or_default().contains(id),
            })
        }
        _ => None,
    })
}

/// The Baton grant id of the owner entitlement beside a member/subscriber one.
fn owner_grant_id(entitlement: &Entitlement, holder: &Holder) -> Option<String> {
    let owner = match entitlement {
        Entitlement::Team { team, .. } => Entitlement::Team {
            team: team.clone(),
            role: TeamRole::Owner,
        },
        Entitlement::Board { board, .. } => Entitlement::Board {
            board: board.clone(),
            access: Access::Owner,
        },
        Entitlement::Workspace { workspace, .. } => Entitlement::Workspace {
            workspace: workspace.clone(),
            access: Access::Owner,
        },
        _ => return None,
    };
    Some(grant_id(&owner, holder))
}

/// [`RevokeMode::ExactGrant`]; `None` = the grant was not there.
async fn revoke_exact(
    client: &Client,
    entitlement: &Entitlement,
    holder: &Holder,
    what: &str,
) -> Result<Option<RevokeOutcome>> {
    let mut out = RevokeOutcome {
        already_absent: false,
        restored: None,
        also_removed: Vec::new(),
    };
    match (entitlement, holder) {
        (Entitlement::Role(role), Holder::User(u)) => {
            let Some((true, _)) = probe(client, entitlement, holder).await? else {
                return Ok(None);
            };
            if matches!(role, BaseRole::Viewer | BaseRole::Guest) {
                return Err(ProvisionError::BaseRoleRequired {
                    entitlement: entitlement.to_string(),
                });
            }
            set_role(client, u, BaseRole::Viewer, what).await?;
            out.restored = Some(BaseRole::Viewer.slug().to_string());
        }
        (Entitlement::AccountActive | Entitlement::AccountDeactivated, _) => {
            return revoke_restoring(client, entitlement, holder, None, what).await;
        }
        (Entitlement::Team { team, role }, Holder::User(u)) => {
            let Some(s) = standing(client, entitlement, holder).await? else {
                return Ok(None);
            };
            let ids = std::slice::from_ref(&u.id);
            match role {
                TeamRole::Owner if !s.owner => return Ok(None),
                TeamRole::Owner if s.listed => {
                    remove_team_owner(client, team, ids, what).await?;
                    out.restored = Some("member".into());
                }
                TeamRole::Member if !s.listed && !s.owner => return Ok(None),
                _ => {
                    // Membership ends ownership too.
                    remove_from_team(client, team, u, what).await?;
                    if *role == TeamRole::Member && s.owner {
                        out.also_removed.extend(owner_grant_id(entitlement, holder));
                    }
                }
            }
        }
        (Entitlement::Board { access, .. } | Entitlement::Workspace { access, .. }, holder) => {
            let place = match entitlement {
                Entitlement::Board { board, .. } => Place::Board(board),
                Entitlement::Workspace { workspace, .. } => Place::Workspace(workspace),
                _ => unreachable!("matched above"),
            };
            let Some(s) = standing(client, entitlement, holder).await? else {
                return Ok(None);
            };
            match access {
                Access::Owner if !s.owner => return Ok(None),
                // Only a subscriber listing is a subscriber grant (an owner-only holder has none).
                Access::Subscriber if !s.listed => return Ok(None),
                _ => {}
            }
            // Monday removes ownership and subscription together.
            place.remove(client, holder).await?;
            match access {
                Access::Owner if s.listed => {
                    place
                        .add(client, holder, SubscriberKind::Subscriber)
                        .await?;
                    out.restored = Some("subscriber".into());
                }
                Access::Subscriber if s.owner => {
                    out.also_removed.extend(owner_grant_id(entitlement, holder));
                }
                _ => {}
            }
        }
        (e, Holder::Team(_)) => {
            return Err(ProvisionError::TeamPrincipalNotAllowed {
                entitlement: e.to_string(),
            });
        }
    }
    Ok(Some(out))
}

/// [`RevokeMode::RestorePrevious`]; `None` = the access was not there.
async fn revoke_restoring(
    client: &Client,
    entitlement: &Entitlement,
    holder: &Holder,
    previous: Option<&str>,
    what: &str,
) -> Result<Option<RevokeOutcome>> {
    let Some((true, _)) = probe(client, entitlement, holder).await? else {
        return Ok(None);
    };
    let mut restored = None;
    match (entitlement, holder) {
        (Entitlement::Role(_), Holder::User(u)) => {
            // Without a recorded previous role (the grant invited the account) the least
            // privileged base role is the safe fallback.
            let back = previous
                .and_then(BaseRole::from_slug)
                .unwrap_or(BaseRole::Viewer);
            set_role(client, u, back, what).await?;
            restored = Some(back.slug().to_string());
        }
        (Entitlement::AccountActive, Holder::User(u)) => deactivate_user(client, u).await?,
        (Entitlement::AccountDeactivated, Holder::User(u)) => reactivate_user(client, u).await?,
        (Entitlement::Team { team, role }, Holder::User(u)) => {
            if *role == TeamRole::Owner && previous == Some("member") {
                remove_team_owner(client, team, std::slice::from_ref(&u.id), what).await?;
                restored = Some("member".into());
            } else {
                remove_from_team(client, team, u, what).await?;
            }
        }
        (Entitlement::Board { board, access }, h) => {
            restored = Place::Board(board)
                .revoke(client, h, *access, previous)
                .await?;
        }
        (Entitlement::Workspace { workspace, access }, h) => {
            restored = Place::Workspace(workspace)
                .revoke(client, h, *access, previous)
                .await?;
        }
        (e, Holder::Team(_)) => {
            return Err(ProvisionError::TeamPrincipalNotAllowed {
                entitlement: e.to_string(),
            });
        }
    }
    Ok(Some(RevokeOutcome {
        already_absent: false,
        restored,
        also_removed: Vec::new(),
    }))
}

async fn set_role(client: &Client, u: &UserSummary, role: BaseRole, what: &str) -> Result<()> {
    let r = client
        .update_users_role(std::slice::from_ref(&u.id), Some(role.monday()), None)
        .await?;
    first_error("update_users_role", what, r.errors)
}

async fn remove_team_owner(client: &Client, team: &Id, ids: &[Id], what: &str) -> Result<()> {
    let r = client.remove_team_owners(team, ids).await?;
    let errors: Vec<_> = r
        .errors
        .into_iter()
        .filter(|e| e.code != "USER_NOT_MEMBER_OF_TEAM")
        .collect();
    first_error("remove_team_owners", what, errors)
}

/// Removes a user from a team (which also ends ownership).
async fn remove_from_team(client: &Client, team: &Id, u: &UserSummary, what: &str) -> Result<()> {
    let r = client
        .remove_users_from_team(team, std::slice::from_ref(&u.id))
        .await?;
    if r.failed.contains(&u.id) {
        return Err(ProvisionError::NotApplied {
            operation: "remove_users_from_team",
            what: what.to_string(),
        });
    }
    Ok(())
}

/// The result of an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteOutcome {
    /// The (pending, or existing) account.
    pub user: UserSummary,
    /// An account with this email existed already; nothing was sent.
    pub already_existed: bool,
}

/// Invites `email` with `role` unless an account has it already. Invitees stay pending until
/// they accept.
pub async fn invite(client: &Client, email: &str, role: BaseRole) -> Result<InviteOutcome> {
    if let Some(user) = client.user_by_email(email).await? {
        return Ok(InviteOutcome {
            user,
            already_existed: true,
        });
    }
    let r = client
        .invite_users(&[email.to_string()], Some(role.monday()), None)
        .await?;
    first_error("invite_users", email, r.errors)?;
    let user = match r
        .invited
        .into_iter()
        .find(|u| u.email.eq_ignore_ascii_case(email))
    {
        Some(u) => UserSummary {
            id: u.id,
            name: u.name,
            email: u.email,
            kind: u.kind,
            status: u.status,
        },
        None => client
            .user_by_email(email)
            .await?
            .ok_or_else(|| ProvisionError::NotApplied {
                operation: "invite_users",
                what: email.to_string(),
            })?,
    };
    Ok(InviteOutcome {
        user,
        already_existed: false,
    })
}

/// The result of a deactivation or reactivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleOutcome {
    pub user_id: Id,
    /// The account was already in the asked state.
    pub already: bool,
}

async fn deactivate_user(client: &Client, u: &UserSummary) -> Result<()> {
    match u.status {
        UserStatus::Inactive => return Ok(()),
        UserStatus::Pending => {
            return Err(ProvisionError::PendingInvitation {
                user: u.id.to_string(),
                action: "deactivate",
            });
        }
        _ => {}
    }
    let r = client.deactivate_users(std::slice::from_ref(&u.id)).await?;
    first_error("deactivate_users", &format!("user {}", u.id), r.errors)
}

async fn reactivate_user(client: &Client, u: &UserSummary) -> Result<()> {
    match u.status {
        UserStatus::Active => return Ok(()),
        UserStatus::Pending => {
            return Err(ProvisionError::PendingInvitation {
                user: u.id.to_string(),
                action: "activate",
            });
        }
        _ => {}
    }
    let r = client.activate_users(std::slice::from_ref(&u.id)).await?;
    first_error("activate_users", &format!("user {}", u.id), r.errors)
}

/// Deactivates the account (idempotent). Pending invitations cannot be deactivated.
pub async fn deactivate(client: &Client, principal: &Principal) -> Result<LifecycleOutcome> {
    let u = resolve_user(client, principal).await?;
    let already = u.status == UserStatus::Inactive;
    deactivate_user(client, &u).await?;
    Ok(LifecycleOutcome {
        user_id: u.id,
        already,
    })
}

/// Reactivates a deactivated account (idempotent).
pub async fn reactivate(client: &Client, principal: &Principal) -> Result<LifecycleOutcome> {
    let u = resolve_user(client, principal).await?;
    let already = u.status == UserStatus::Active;
    reactivate_user(client, &u).await?;
    Ok(LifecycleOutcome {
        user_id: u.id,
        already,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_and_round_trips() {
        for id in [
            "role:admin:assigned",
            "role:member:assigned",
            "role:viewer:assigned",
            "role:guest:assigned",
            "team:201:member",
            "team:201:owner",
            "workspace:301:owner",
            "workspace:301:subscriber",
            "board:42:owner",
            "board:42:subscriber",
            "account:active",
            "account:deactivated",
        ] {
            let e: Entitlement = id.parse().expect(id);
            assert_eq!(e.to_string(), id);
        }
        assert_eq!(
            "board:42:subscriber".parse::<Entitlement>(),
            Ok(Entitlement::Board {
                board: Id::from("42"),
                access: Access::Subscriber
            })
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "role:owner:assigned",
            "role:admin",
            "role:admin:member",
            "team:abc:member",
            "team:-1:member",
            "team:1:subscriber",
            "board:1:member",
            "board::owner",
            "board:1:owner:extra",
            "workspace:1",
            "user:1:active",
            "Board:1:owner",
            "account:enabled",
        ] {
            let err = bad.parse::<Entitlement>().expect_err(bad);
            assert!(err.to_string().contains("expected role:"), "{err}");
        }
    }

    #[test]
    fn the_generated_pattern_is_the_parsers_grammar() {
        assert_eq!(
            entitlement_pattern(),
            "^(role:(admin|member|viewer|guest):assigned|team:[0-9]{1,20}:(member|owner)|workspace:[0-9]{1,20}:(owner|subscriber)|board:[0-9]{1,20}:(owner|subscriber)|account:(active|deactivated))$"
        );
        assert_eq!(
            entitlement_forms(),
            "role:<admin|member|viewer|guest>:assigned, team:<id>:member|owner, workspace:<id>:owner|subscriber, board:<id>:owner|subscriber, account:active|deactivated"
        );
    }

    #[test]
    fn team_principals_only_on_boards_and_workspaces() {
        let ok = |s: &str| s.parse::<Entitlement>().expect(s).allows_team();
        assert!(ok("board:1:owner") && ok("workspace:1:subscriber"));
        assert!(!ok("team:1:member") && !ok("role:guest:assigned") && !ok("account:active"));
    }

    #[test]
    fn principals_need_exactly_one_field() {
        assert_eq!(
            principal_from(Some("a@b.c"), None, None),
            Ok(Principal::Email("a@b.c".into()))
        );
        assert_eq!(
            principal_from(None, Some("7"), None),
            Ok(Principal::UserId(Id::from("7")))
        );
        assert_eq!(
            principal_from(None, None, Some("-1")),
            Ok(Principal::Team(Id::from("-1")))
        );
        assert!(principal_from(Some("a@b.c"), Some("7"), None).is_err());
        assert!(principal_from(None, None, None).is_err());
        assert!(principal_from(Some("nope"), None, None).is_err());
        assert!(principal_from(None, Some("x1"), None).is_err());
    }

    #[test]
    fn base_roles_map_to_monday_kinds() {
        assert_eq!(BaseRole::from_kind("view_only"), Some(BaseRole::Viewer));
        assert_eq!(BaseRole::from_kind("portal"), None);
        assert_eq!(BaseRole::Viewer.kind(), "view_only");
    }

    #[test]
    fn per_user_errors_have_reasons() {
        let e = |code: &str| {
            reject(
                "deactivate_users",
                "user 1",
                UserError {
                    code: code.into(),
                    user_id: Some("1".into()),
                    email: None,
                    message: String::new(),
                },
            )
        };
        assert_eq!(e("CANNOT_UPDATE_SELF").reason(), "CannotUpdateSelf");
        assert_eq!(e("USER_NOT_FOUND").reason(), "UserNotFound");
        assert_eq!(e("FAILED").reason(), "MondayFailed");
        assert_eq!(e("SOMETHING_NEW").reason(), "MondayRefused");
        assert!(!e("SOMETHING_NEW").is_transient());
        assert!(e("FAILED").is_transient());
        assert!(!e("CANNOT_UPDATE_SELF").is_transient());
        assert!(
            e("CANNOT_UPDATE_SELF")
                .to_string()
                .contains("CANNOT_UPDATE_SELF")
        );
    }

    #[test]
    fn grant_ids_are_batons() {
        let h = Holder::Team(Id::from("7"));
        let e: Entitlement = "board:42:owner".parse().expect("valid");
        assert_eq!(grant_id(&e, &h), "board:42:owner:team:7");
    }
}
