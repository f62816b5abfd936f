//! Monday.com objects → the Baton access model.
//!
//! | Monday | Baton resource | entitlements (slug) | principals |
//! |---|---|---|---|
//! | account user (any status) | `user:<id>` (USER trait) | — | — |
//! | base role (`kind`) | `role:admin\|member\|viewer\|guest` (ROLE) | `assigned` | users |
//! | team | `team:<id>` (GROUP) | `member`, `owner` | users |
//! | workspace | `workspace:<id>` | `owner`, `subscriber` | users, teams |
//! | board | `board:<id>`, child of `workspace:<id>` | `owner`, `subscriber` | users, teams |
//!
//! - A team principal on a workspace or board is a grant to `team:<id>` carrying `GrantExpandable`
//!   on `team:<id>:member`, so Baton expands it to the team's members.
//! - Team `-1` is Monday's "everyone at the account". It becomes a synthetic GROUP resource
//!   `team:-1` ("Everyone at <account>") whose `member` entitlement is granted to every active
//!   non-guest user, so expansion shows who "everyone" really is at sync time.
//! - Boards of the Main workspace (`workspace_id: null`) are top-level resources without parent.
//!   Document and sub-item boards hold no access of their own and are skipped.
//! - Monday allows one base role per user, but the `assigned` entitlements carry no
//!   `EntitlementExclusionGroup`: the baton CLI v0.4.3 cannot resolve that annotation and fails
//!   every JSON listing that contains it.
//! - A user's status maps as: active → ENABLED, pending invite → DISABLED ("pending invitation"),
//!   deactivated → DISABLED ("deactivated").
//! - A relation naming a user or team the sync did not see (deleted meanwhile, or a type filtered
//!   out) is dropped and counted in [`MappingStats::dangling`] rather than failing the sync.

use std::collections::BTreeSet;

use crate::baton::pb;
use crate::baton::{
    self, EntitlementBuilder, EntitlementHandle, ModelError, Purpose, ResourceBuilder,
    ResourceHandle, Snapshot, StatusValue, Trait, UserTraitBuilder,
};
use crate::monday::types::{AccountInfo, Board, Id, Team, User, UserStatus, Workspace};

// One enum from the CRD's `resourceTypes` and the CLI's `--resource-types` down to the mapping.
/// A Baton resource type this connector can sync.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    /// Accounts (always synced).
    User,
    /// Base roles: admin, member, viewer, guest.
    Role,
    /// Teams and their members and owners.
    Team,
    /// Workspaces and their owners and subscribers.
    Workspace,
    /// Boards and their owners and subscribers.
    Board,
}

impl ResourceType {
    /// Baton's resource type id.
    pub const fn id(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Role => "role",
            Self::Team => "team",
            Self::Workspace => "workspace",
            Self::Board => "board",
        }
    }

    /// The type with this Baton id.
    pub fn from_id(id: &str) -> Option<Self> {
        [
            Self::User,
            Self::Role,
            Self::Team,
            Self::Workspace,
            Self::Board,
        ]
        .into_iter()
        .find(|t| t.id() == id)
    }
}

/// Resource type ids, as Baton sees them.
pub const USER: &str = ResourceType::User.id();
pub const ROLE: &str = ResourceType::Role.id();
pub const TEAM: &str = ResourceType::Team.id();
pub const WORKSPACE: &str = ResourceType::Workspace.id();
pub const BOARD: &str = ResourceType::Board.id();

/// Id of Monday's "everyone at the account" team.
pub const EVERYONE_TEAM: &str = "-1";

/// The base roles, as (role resource id, display name, Monday `kind`).
pub const ROLES: [(&str, &str, &str); 4] = [
    ("admin", "Admin", "admin"),
    ("member", "Member", "member"),
    ("viewer", "Viewer", "view_only"),
    ("guest", "Guest", "guest"),
];

/// Everything one sync read from Monday.com.
#[derive(Debug, Default)]
pub struct MondayData {
    pub account: Option<AccountInfo>,
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    pub workspaces: Vec<Workspace>,
    pub boards: Vec<Board>,
}

/// Which optional resource types to include (`user` is always included).
#[derive(Clone, Debug)]
pub struct Include {
    pub roles: bool,
    pub teams: bool,
    pub workspaces: bool,
    pub boards: bool,
}

impl Include {
    /// All types, or the given subset.
    pub fn from_types(types: Option<&BTreeSet<ResourceType>>) -> Self {
        let has = |t: ResourceType| types.is_none_or(|n| n.contains(&t));
        Self {
            roles: has(ResourceType::Role),
            teams: has(ResourceType::Team),
            workspaces: has(ResourceType::Workspace),
            boards: has(ResourceType::Board),
        }
    }
}

/// Side facts of a mapping, for logs and the CLI summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappingStats {
    /// Relations that named a user or team not present in the snapshot.
    pub dangling: u64,
    /// Users whose `kind` is not one of the four base roles (no role grant).
    pub users_without_base_role: u64,
    /// Boards skipped because they are documents or sub-item boards.
    pub skipped_boards: u64,
}

/// Builds the Baton snapshot of one sync.
///
/// Takes the data by value and frees each part once it is mapped, so the sync's peak memory is
/// about the larger of the two (the Monday data or the snapshot) rather than their sum.
pub fn build_snapshot(
    data: MondayData,
    include: &Include,
    started_at: jiff::Timestamp,
) -> Result<(Snapshot, MappingStats), ModelError> {
    let mut m = Mapper {
        snap: Snapshot::started_at(started_at),
        stats: MappingStats::default(),
    };
    let everyone = include.teams && references_everyone(&data, include);
    let MondayData {
        account,
        users,
        teams,
        workspaces,
        boards,
    } = data;
    m.resource_types(include)?;
    m.users(&users)?;
    if include.roles {
        m.roles(&users)?;
    }
    if include.teams {
        m.teams(&teams)?;
        drop(teams);
        if everyone {
            let name = account
                .as_ref()
                .map(|a| a.account.name.as_str())
                .unwrap_or("the account");
            m.everyone_team(name, &users)?;
        }
    }
    drop(users);
    if include.workspaces {
        m.workspaces(&workspaces, include.boards)?;
    }
    drop(workspaces);
    if include.boards {
        m.boards(boards, include.workspaces)?;
    }
    Ok((m.snap, m.stats))
}

fn references_everyone(data: &MondayData, include: &Include) -> bool {
    let ws = include.workspaces
        && data.workspaces.iter().any(|w| {
            w.teams_subscribers
                .iter()
                .chain(&w.team_owners_subscribers)
                .any(|t| t.as_str() == EVERYONE_TEAM)
        });
    let boards = include.boards
        && data.boards.iter().filter(|b| b.is_synced_kind()).any(|b| {
            b.team_subscribers
                .iter()
                .chain(&b.team_owners)
                .any(|t| t.as_str() == EVERYONE_TEAM)
        });
    ws || boards
}

/// The resource types a sync with `include` declares (`user` always).
pub fn resource_types(include: &Include) -> Vec<pb::ResourceType> {
    let mut types = vec![baton::resource_type(USER, "User", &[Trait::User])];
    if include.roles {
        types.push(baton::resource_type(ROLE, "Role", &[Trait::Role]));
    }
    if include.teams {
        types.push(baton::resource_type(TEAM, "Team", &[Trait::Group]));
    }
    if include.workspaces {
        types.push(baton::resource_type(WORKSPACE, "Workspace", &[]));
    }
    if include.boards {
        types.push(baton::resource_type(BOARD, "Board", &[]));
    }
    types
}

/// Every resource type a full sync declares.
pub fn all_resource_types() -> Vec<pb::ResourceType> {
    resource_types(&Include::from_types(None))
}

/// The `user:<id>` resource of an account, exactly as a sync writes it (status, USER trait,
/// profile), so answers to ConductorOne name users the way the snapshot does.
pub fn user_resource(
    id: &Id,
    name: &str,
    email: &str,
    kind: &str,
    status: &UserStatus,
    title: Option<&str>,
) -> pb::Resource {
    let (value, details) = match status {
        UserStatus::Active => (StatusValue::Enabled, ""),
        UserStatus::Pending => (StatusValue::Disabled, "pending invitation"),
        UserStatus::Inactive => (StatusValue::Disabled, "deactivated"),
        UserStatus::Other(_) => (StatusValue::Unspecified, "unknown status"),
    };
    let mut trait_ = UserTraitBuilder::new()
        .login(email.to_string())
        .account_type(account_type(kind));
    if !email.is_empty() {
        trait_ = trait_.email(email.to_string(), true);
    }
    let mut profile = vec![
        ("email", prost_types::Value::from(email.to_string())),
        ("kind", kind.to_string().into()),
        ("status", status.as_str().to_string().into()),
    ];
    if let Some(title) = title.filter(|t| !t.is_empty()) {
        profile.push(("title", title.to_string().into()));
    }
    let display = if name.is_empty() { email } else { name };
    ResourceBuilder::new(USER, id.as_str(), display.to_string())
        .status_with_details(value, details)
        .profile(baton::profile(profile))
        .user_trait(trait_)
        .build()
}

/// The `team:<id>` resource of a team, as a sync writes it (GROUP trait).
pub fn team_resource(id: &str, name: &str) -> pb::Resource {
    ResourceBuilder::new(TEAM, id, name).group_trait().build()
}

struct Mapper {
    snap: Snapshot,
    stats: MappingStats,
}

impl Mapper {
    fn resource_types(&mut self, include: &Include) -> Result<(), ModelError> {
        for rt in resource_types(include) {
            self.snap.add_resource_type(rt)?;
        }
        Ok(())
    }

    fn users(&mut self, users: &[User]) -> Result<(), ModelError> {
        for u in users {
            let r = user_resource(
                &u.id,
                &u.name,
                &u.email,
                &u.kind,
                &u.status,
                u.title.as_deref(),
            );
            match self.snap.add_resource(r) {
                Ok(_) | Err(ModelError::DuplicateResource(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn roles(&mut self, users: &[User]) -> Result<(), ModelError> {
        let mut handles = Vec::with_capacity(ROLES.len());
        for (id, name, _) in ROLES.iter() {
            let r = ResourceBuilder::new(ROLE, *id, *name)
                .description(format!("Monday.com base role {name}"))
                .role_trait()
                .build();
            self.snap.add_resource(r)?;
            let e = EntitlementBuilder::new(ROLE, *id, "assigned", Purpose::Assignment)
                .display_name(format!("{name} role"))
                .description(format!("Has the {name} base role"))
                .grantable_to(USER);
            handles.push(self.snap.add_entitlement(e)?);
        }
        for u in users {
            let Some(idx) = ROLES.iter().position(|(_, _, kind)| *kind == u.kind) else {
                self.stats.users_without_base_role += 1;
                continue;
            };
            if let Some(p) = self.snap.resource_handle(USER, u.id.as_str()) {
                self.snap.add_grant(handles[idx], p)?;
            }
        }
        Ok(())
    }

    fn teams(&mut self, teams: &[Team]) -> Result<(), ModelError> {
        for t in teams {
            if t.id.as_str() == EVERYONE_TEAM {
                continue;
            }
            let (member, owner) = self.team_resource(t.id.as_str(), &t.name)?;
            self.user_grants(member, &t.members)?;
            self.user_grants(owner, &t.owners)?;
        }
        Ok(())
    }

    fn everyone_team(&mut self, account_name: &str, users: &[User]) -> Result<(), ModelError> {
        let (member, _) =
            self.team_resource(EVERYONE_TEAM, &format!("Everyone at {account_name}"))?;
        let everyone: Vec<Id> = users
            .iter()
            .filter(|u| u.status == UserStatus::Active && u.kind != "guest")
            .map(|u| u.id.clone())
            .collect();
        self.user_grants(member, &everyone)
    }

    fn team_resource(
        &mut self,
        id: &str,
        name: &str,
    ) -> Result<(EntitlementHandle, EntitlementHandle), ModelError> {
        self.snap.add_resource(team_resource(id, name))?;
        let member = EntitlementBuilder::new(TEAM, id, "member", Purpose::Assignment)
            .display_name(format!("{name} member"))
            .description(format!("Member of the team {name}"))
            .grantable_to(USER);
        let owner = EntitlementBuilder::new(TEAM, id, "owner", Purpose::Ownership)
            .display_name(format!("{name} owner"))
            .description(format!("Owner of the team {name}"))
            .grantable_to(USER);
        Ok((
            self.snap.add_entitlement(member)?,
            self.snap.add_entitlement(owner)?,
        ))
    }

    fn workspaces(
        &mut self,
        workspaces: &[Workspace],
        boards_included: bool,
    ) -> Result<(), ModelError> {
        for w in workspaces {
            let Some(id) = w.id.as_ref() else { continue };
            let mut r = ResourceBuilder::new(WORKSPACE, id.as_str(), &w.name);
            if let Some(d) = w.description.as_deref().filter(|d| !d.is_empty()) {
                r = r.description(d);
            }
            if boards_included {
                r = r.child_resource_type(BOARD);
            }
            self.snap.add_resource(r.build())?;
            let (owner, subscriber) =
                self.owner_subscriber(WORKSPACE, id.as_str(), &w.name, "workspace")?;
            self.user_grants(owner, &w.owners_subscribers)?;
            self.user_grants(subscriber, &w.users_subscribers)?;
            self.team_grants(owner, &w.team_owners_subscribers)?;
            self.team_grants(subscriber, &w.teams_subscribers)?;
        }
        Ok(())
    }

    fn boards(&mut self, boards: Vec<Board>, workspaces_included: bool) -> Result<(), ModelError> {
        // By value: each board's member lists are freed as soon as they are mapped.
        for b in boards {
            if !b.is_synced_kind() {
                self.stats.skipped_boards += 1;
                continue;
            }
            let mut r = ResourceBuilder::new(BOARD, b.id.as_str(), &b.name);
            if let Some(ws) = b.workspace_id.as_ref()
                && workspaces_included
                && self.snap.resource_handle(WORKSPACE, ws.as_str()).is_some()
            {
                r = r.parent(WORKSPACE, ws.as_str());
            }
            if let Some(kind) = b.board_kind.as_deref() {
                r = r.profile(baton::profile([("board_kind", kind.to_string())]));
            }
            self.snap.add_resource(r.build())?;
            let (owner, subscriber) =
                self.owner_subscriber(BOARD, b.id.as_str(), &b.name, "board")?;
            self.user_grants(owner, &b.owners)?;
            self.user_grants(subscriber, &b.subscribers)?;
            self.team_grants(owner, &b.team_owners)?;
            self.team_grants(subscriber, &b.team_subscribers)?;
        }
        Ok(())
    }

    fn owner_subscriber(
        &mut self,
        rtype: &str,
        id: &str,
        name: &str,
        noun: &str,
    ) -> Result<(EntitlementHandle, EntitlementHandle), ModelError> {
        let owner = EntitlementBuilder::new(rtype, id, "owner", Purpose::Ownership)
            .display_name(format!("{name} owner"))
            .description(format!("Owner of the {noun} {name}"))
            .grantable_to(USER)
            .grantable_to_if(TEAM, self.has_type(TEAM));
        let subscriber = EntitlementBuilder::new(rtype, id, "subscriber", Purpose::Assignment)
            .display_name(format!("{name} subscriber"))
            .description(format!("Subscriber of the {noun} {name}"))
            .grantable_to(USER)
            .grantable_to_if(TEAM, self.has_type(TEAM));
        Ok((
            self.snap.add_entitlement(owner)?,
            self.snap.add_entitlement(subscriber)?,
        ))
    }

    fn has_type(&self, id: &str) -> bool {
        self.snap.resource_types().iter().any(|t| t.id == id)
    }

    fn user_grants(&mut self, ent: EntitlementHandle, users: &[Id]) -> Result<(), ModelError> {
        for u in users {
            match self.snap.resource_handle(USER, u.as_str()) {
                Some(p) => {
                    self.snap.add_grant(ent, p)?;
                }
                None => self.stats.dangling += 1,
            }
        }
        Ok(())
    }

    fn team_grants(&mut self, ent: EntitlementHandle, teams: &[Id]) -> Result<(), ModelError> {
        for t in teams {
            let Some(p): Option<ResourceHandle> = self.snap.resource_handle(TEAM, t.as_str())
            else {
                self.stats.dangling += 1;
                continue;
            };
            let expand = vec![baton::entitlement_id(TEAM, t.as_str(), "member")];
            self.snap.add_expandable_grant(ent, p, expand)?;
        }
        Ok(())
    }
}

/// Monday user kinds that are not people (agents, API users) are service accounts in Baton.
fn account_type(kind: &str) -> baton::AccountType {
    match kind {
        "admin" | "member" | "guest" | "view_only" | "" => baton::AccountType::Human,
        _ => baton::AccountType::Service,
    }
}

trait GrantableIf {
    fn grantable_to_if(self, t: &str, cond: bool) -> Self;
}

impl GrantableIf for EntitlementBuilder {
    fn grantable_to_if(self, t: &str, cond: bool) -> Self {
        if cond { self.grantable_to(t) } else { self }
    }
}
