//! The in-memory Monday account the emulator serves.
//!
//! The same structs are the tenant file format (YAML or JSON): a test writes a file with exactly the
//! account it needs, and generated tenants can be dumped in that format. Membership lists hold plain
//! IDs and are kept sorted and deduplicated, so look-ups are binary searches and the L tenant (about a
//! million memberships) stays a few tens of megabytes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Team ID Monday uses for "everyone at the account" in board team lists.
pub const EVERYONE_TEAM: i64 = -1;

/// A user's base role (`User.kind` in the API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    #[serde(alias = "ADMIN")]
    Admin,
    #[serde(alias = "MEMBER")]
    Member,
    #[serde(alias = "GUEST")]
    Guest,
    #[serde(alias = "VIEW_ONLY", alias = "viewer")]
    ViewOnly,
}

impl UserKind {
    /// The string Monday returns in `User.kind`.
    pub fn as_api(self) -> &'static str {
        match self {
            UserKind::Admin => "admin",
            UserKind::Member => "member",
            UserKind::Guest => "guest",
            UserKind::ViewOnly => "view_only",
        }
    }

    /// The Baton role this base role maps to (`role:<r>`).
    pub fn baton_role(self) -> &'static str {
        match self {
            UserKind::Admin => "admin",
            UserKind::Member => "member",
            UserKind::Guest => "guest",
            UserKind::ViewOnly => "viewer",
        }
    }
}

/// A user's account status (`User.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    #[serde(alias = "ACTIVE")]
    Active,
    /// Invited, has not accepted yet.
    #[serde(alias = "PENDING")]
    Pending,
    /// Deactivated.
    #[serde(alias = "INACTIVE", alias = "deactivated")]
    Inactive,
}

/// Lifecycle state of a workspace or board.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    #[default]
    Active,
    Archived,
    Deleted,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceKind {
    #[default]
    Open,
    Closed,
    Template,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardKind {
    #[default]
    Public,
    Private,
    /// Shareable: the only kind that can hold guests.
    Share,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoardType {
    #[default]
    Board,
    SubItemsBoard,
    Document,
    CustomObject,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hierarchy {
    #[default]
    Classic,
    MultiLevel,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub slug: String,
    /// Plan tier string as returned by `Account.tier` (e.g. `enterprise`).
    #[serde(default = "default_tier")]
    pub tier: String,
    #[serde(default = "default_max_users")]
    pub max_users: i32,
}

fn default_tier() -> String {
    "enterprise".into()
}

fn default_max_users() -> i32 {
    100_000
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub title: String,
    pub kind: UserKind,
    pub status: UserStatus,
    /// ISO-8601 timestamp; derived from the ID when absent (keeps generated tenants small).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub is_guest: bool,
    #[serde(default)]
    pub members: Vec<i64>,
    /// Team owners; owners are also members (enforced on load).
    #[serde(default)]
    pub owners: Vec<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub kind: WorkspaceKind,
    #[serde(default)]
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub owners: Vec<i64>,
    #[serde(default)]
    pub subscribers: Vec<i64>,
    #[serde(default)]
    pub team_owners: Vec<i64>,
    #[serde(default)]
    pub team_subscribers: Vec<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub board_kind: BoardKind,
    #[serde(default)]
    pub state: State,
    #[serde(default, rename = "type")]
    pub board_type: BoardType,
    #[serde(default)]
    pub hierarchy: Hierarchy,
    #[serde(default = "default_permissions")]
    pub permissions: String,
    /// `None` = the Main workspace (served as `workspace_id: null`, `workspace: null`).
    #[serde(default)]
    pub workspace_id: Option<i64>,
    #[serde(default)]
    pub owners: Vec<i64>,
    #[serde(default)]
    pub subscribers: Vec<i64>,
    #[serde(default)]
    pub team_owners: Vec<i64>,
    /// May contain [`EVERYONE_TEAM`].
    #[serde(default)]
    pub team_subscribers: Vec<i64>,
}

fn default_permissions() -> String {
    "everyone".into()
}

/// An API token of the tenant. Tokens without `scopes` are personal tokens (all scopes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    pub token: String,
    pub user_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// The whole account. Field order is the tenant file layout.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tenant {
    pub account: Account,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub workspaces: Vec<Workspace>,
    #[serde(default)]
    pub boards: Vec<Board>,
    /// Extra tokens (besides the configured admin and member tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenSpec>,
    #[serde(skip)]
    index: Index,
}

#[derive(Clone, Debug, Default)]
struct Index {
    users: HashMap<i64, u32>,
    emails: HashMap<String, i64>,
    teams: HashMap<i64, u32>,
    workspaces: HashMap<i64, u32>,
    boards: HashMap<i64, u32>,
}

/// Why a tenant file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("duplicate {kind} id {id}")]
    DuplicateId { kind: &'static str, id: i64 },
    #[error("duplicate user email {0}")]
    DuplicateEmail(String),
    #[error("{owner} refers to unknown {kind} {id}")]
    UnknownRef {
        owner: String,
        kind: &'static str,
        id: i64,
    },
    #[error("ids must be positive (team -1 is only allowed in board team lists): {kind} {id}")]
    BadId { kind: &'static str, id: i64 },
    #[error("cannot read tenant file: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot parse tenant file: {0}")]
    Parse(String),
}

pub(crate) fn sort_dedup(v: &mut Vec<i64>) {
    v.sort_unstable();
    v.dedup();
}

/// Inserts into a sorted list; returns whether it was new.
pub(crate) fn sorted_insert(v: &mut Vec<i64>, id: i64) -> bool {
    match v.binary_search(&id) {
        Ok(_) => false,
        Err(pos) => {
            v.insert(pos, id);
            true
        }
    }
}

/// Removes from a sorted list; returns whether it was present.
pub(crate) fn sorted_remove(v: &mut Vec<i64>, id: i64) -> bool {
    match v.binary_search(&id) {
        Ok(pos) => {
            v.remove(pos);
            true
        }
        Err(_) => false,
    }
}

pub(crate) fn sorted_contains(v: &[i64], id: i64) -> bool {
    v.binary_search(&id).is_ok()
}

impl Tenant {
    /// Builds a tenant, normalising lists and checking references.
    pub fn new(
        account: Account,
        users: Vec<User>,
        teams: Vec<Team>,
        workspaces: Vec<Workspace>,
        boards: Vec<Board>,
    ) -> Result<Self, TenantError> {
        let mut t = Tenant {
            account,
            users,
            teams,
            workspaces,
            boards,
            tokens: Vec::new(),
            index: Index::default(),
        };
        t.normalise()?;
        Ok(t)
    }

    /// Parses a tenant file; YAML when the text does not start with `{`.
    pub fn from_text(text: &str) -> Result<Self, TenantError> {
        let mut t: Tenant = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| TenantError::Parse(e.to_string()))?
        } else {
            serde_saphyr::from_str(text).map_err(|e| TenantError::Parse(e.to_string()))?
        };
        t.normalise()?;
        Ok(t)
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self, TenantError> {
        Self::from_text(&std::fs::read_to_string(path)?)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("tenant serialises")
    }

    /// Sorts lists, enforces "team owners are members", validates references and rebuilds indexes.
    pub fn normalise(&mut self) -> Result<(), TenantError> {
        self.users.sort_by_key(|u| u.id);
        self.teams.sort_by_key(|t| t.id);
        self.workspaces.sort_by_key(|w| w.id);
        self.boards.sort_by_key(|b| b.id);
        for t in &mut self.teams {
            t.members.extend(t.owners.iter().copied());
            sort_dedup(&mut t.members);
            sort_dedup(&mut t.owners);
        }
        for w in &mut self.workspaces {
            for l in [
                &mut w.owners,
                &mut w.subscribers,
                &mut w.team_owners,
                &mut w.team_subscribers,
            ] {
                sort_dedup(l);
            }
        }
        for b in &mut self.boards {
            for l in [
                &mut b.owners,
                &mut b.subscribers,
                &mut b.team_owners,
                &mut b.team_subscribers,
            ] {
                sort_dedup(l);
            }
        }
        self.reindex()?;
        self.check_refs()
    }

    fn reindex(&mut self) -> Result<(), TenantError> {
        let mut ix = Index::default();
        for (i, u) in self.users.iter().enumerate() {
            if u.id <= 0 {
                return Err(TenantError::BadId {
                    kind: "user",
                    id: u.id,
                });
            }
            if ix.users.insert(u.id, i as u32).is_some() {
                return Err(TenantError::DuplicateId {
                    kind: "user",
                    id: u.id,
                });
            }
            if ix.emails.insert(u.email.to_lowercase(), u.id).is_some() {
                return Err(TenantError::DuplicateEmail(u.email.clone()));
            }
        }
        fn build<T>(
            items: &[T],
            id: impl Fn(&T) -> i64,
            kind: &'static str,
        ) -> Result<HashMap<i64, u32>, TenantError> {
            let mut m = HashMap::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                let id = id(it);
                if id <= 0 {
                    return Err(TenantError::BadId { kind, id });
                }
                if m.insert(id, i as u32).is_some() {
                    return Err(TenantError::DuplicateId { kind, id });
                }
            }
            Ok(m)
        }
        ix.teams = build(&self.teams, |t| t.id, "team")?;
        ix.workspaces = build(&self.workspaces, |w| w.id, "workspace")?;
        ix.boards = build(&self.boards, |b| b.id, "board")?;
        self.index = ix;
        Ok(())
    }

    fn check_refs(&self) -> Result<(), TenantError> {
        let user = |owner: String, id: i64| {
            if self.index.users.contains_key(&id) {
                Ok(())
            } else {
                Err(TenantError::UnknownRef {
                    owner,
                    kind: "user",
                    id,
                })
            }
        };
        let team = |owner: String, id: i64, everyone_ok: bool| {
            if self.index.teams.contains_key(&id) || (everyone_ok && id == EVERYONE_TEAM) {
                Ok(())
            } else {
                Err(TenantError::UnknownRef {
                    owner,
                    kind: "team",
                    id,
                })
            }
        };
        for t in &self.teams {
            for &u in t.members.iter() {
                user(format!("team {}", t.id), u)?;
            }
        }
        for w in &self.workspaces {
            for &u in w.owners.iter().chain(&w.subscribers) {
                user(format!("workspace {}", w.id), u)?;
            }
            for &t in w.team_owners.iter().chain(&w.team_subscribers) {
                team(format!("workspace {}", w.id), t, false)?;
            }
        }
        for b in &self.boards {
            for &u in b.owners.iter().chain(&b.subscribers) {
                user(format!("board {}", b.id), u)?;
            }
            for &t in b.team_owners.iter().chain(&b.team_subscribers) {
                team(format!("board {}", b.id), t, true)?;
            }
            if let Some(w) = b.workspace_id
                && !self.index.workspaces.contains_key(&w)
            {
                return Err(TenantError::UnknownRef {
                    owner: format!("board {}", b.id),
                    kind: "workspace",
                    id: w,
                });
            }
        }
        for tok in &self.tokens {
            user("token".into(), tok.user_id)?;
        }
        Ok(())
    }

    pub fn user(&self, id: i64) -> Option<&User> {
        self.index.users.get(&id).map(|&i| &self.users[i as usize])
    }

    pub fn user_mut(&mut self, id: i64) -> Option<&mut User> {
        self.index
            .users
            .get(&id)
            .map(|&i| &mut self.users[i as usize])
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.index
            .emails
            .get(&email.to_lowercase())
            .and_then(|id| self.user(*id))
    }

    pub fn team(&self, id: i64) -> Option<&Team> {
        self.index.teams.get(&id).map(|&i| &self.teams[i as usize])
    }

    pub fn team_mut(&mut self, id: i64) -> Option<&mut Team> {
        self.index
            .teams
            .get(&id)
            .map(|&i| &mut self.teams[i as usize])
    }

    pub fn workspace(&self, id: i64) -> Option<&Workspace> {
        self.index
            .workspaces
            .get(&id)
            .map(|&i| &self.workspaces[i as usize])
    }

    pub fn workspace_mut(&mut self, id: i64) -> Option<&mut Workspace> {
        self.index
            .workspaces
            .get(&id)
            .map(|&i| &mut self.workspaces[i as usize])
    }

    pub fn board(&self, id: i64) -> Option<&Board> {
        self.index
            .boards
            .get(&id)
            .map(|&i| &self.boards[i as usize])
    }

    pub fn board_mut(&mut self, id: i64) -> Option<&mut Board> {
        self.index
            .boards
            .get(&id)
            .map(|&i| &mut self.boards[i as usize])
    }

    /// Adds a user (used by `invite_users`); IDs grow past the largest existing one.
    pub fn add_user(&mut self, mut user: User) -> i64 {
        let id = self.users.last().map_or(1, |u| u.id + 1);
        user.id = id;
        self.index.emails.insert(user.email.to_lowercase(), user.id);
        self.index.users.insert(id, self.users.len() as u32);
        self.users.push(user);
        id
    }

    /// Adds a team with the next free id; returns the id.
    pub fn add_team(&mut self, mut team: Team) -> i64 {
        let id = self.teams.last().map_or(1, |t| t.id + 1);
        team.id = id;
        self.index.teams.insert(id, self.teams.len() as u32);
        self.teams.push(team);
        id
    }

    /// Deletes a team and every board/workspace membership it held; `false` when unknown.
    pub fn remove_team(&mut self, id: i64) -> bool {
        let Some(&i) = self.index.teams.get(&id) else {
            return false;
        };
        self.teams.remove(i as usize);
        for w in &mut self.workspaces {
            sorted_remove(&mut w.team_owners, id);
            sorted_remove(&mut w.team_subscribers, id);
        }
        for b in &mut self.boards {
            sorted_remove(&mut b.team_owners, id);
            sorted_remove(&mut b.team_subscribers, id);
        }
        self.index.teams = self
            .teams
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id, i as u32))
            .collect();
        true
    }

    /// Whether the user shows up in membership lists: deactivated users keep their memberships in
    /// the model (so reactivation restores them) but Monday hides them from lists.
    pub fn is_listed(&self, user_id: i64) -> bool {
        self.user(user_id)
            .is_some_and(|u| u.status != UserStatus::Inactive)
    }

    /// The account's first active admin: the owner of the default admin token.
    pub fn first_admin(&self) -> Option<i64> {
        self.users
            .iter()
            .find(|u| u.kind == UserKind::Admin && u.status == UserStatus::Active)
            .map(|u| u.id)
    }

    /// The account's first active member: the owner of the default non-admin token.
    pub fn first_member(&self) -> Option<i64> {
        self.users
            .iter()
            .find(|u| u.kind == UserKind::Member && u.status == UserStatus::Active)
            .map(|u| u.id)
    }

    /// Counts for summaries and logs.
    pub fn summary(&self) -> String {
        format!(
            "{} users, {} teams, {} workspaces, {} boards",
            self.users.len(),
            self.teams.len(),
            self.workspaces.len(),
            self.boards.len()
        )
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn iso8601(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Deterministic creation time for users without one: spread over 2019–2024 by ID.
pub(crate) fn derived_created_secs(id: i64) -> i64 {
    const START: i64 = 1_546_300_800; // 2019-01-01
    let h = crate::generate::mix(id as u64);
    START + (h % (6 * 365 * 86_400)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_546_300_800), "2019-01-01T00:00:00Z");
        assert_eq!(iso8601(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
