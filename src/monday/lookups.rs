//! Targeted reads for provisioning: one user, or one principal's place on one board, team or
//! workspace.
//!
//! A grant must know the current state before it changes anything (to tell pre-existing access
//! from access it creates, and to remember the role it replaces), and a revoke must confirm that
//! Monday no longer has the access before anyone is told so. The sync's full reads would cost a
//! whole-account crawl for that; these ask about one object.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Client, OP_WS_OWNERS, OP_WS_TEAM_OWNERS, OP_WS_TEAMS, OP_WS_USERS, Op};
use super::error::MondayError;
use super::reads::field;
use super::types::{Id, UserStatus, id_list, lenient_list};

macro_rules! complexity {
    () => {
        " complexity { before after query reset_in_x_seconds }"
    };
}

/// Users of any status by email (matched case-insensitively by Monday).
pub const USERS_BY_EMAIL: &str = concat!(
    "query UsersByEmail($emails: [String!]!, $status: [UserStatus!]!, $limit: Int!) { ",
    "users(emails: $emails, status: $status, limit: $limit) { id name email kind status }",
    complexity!(),
    " }"
);

/// Users of any status by id.
pub const USERS_BY_ID: &str = concat!(
    "query UsersById($ids: [ID!]!, $status: [UserStatus!]!, $limit: Int!) { ",
    "users(ids: $ids, status: $status, limit: $limit) { id name email kind status }",
    complexity!(),
    " }"
);

/// One board's workspace (access policies may allow only the boards of some workspaces), owners
/// and subscribers (unpaged, at most 400 users) and team lists (at most 100 teams, so one page of
/// 100 is complete). `state: all` so archived boards can still be revoked.
pub const BOARD_ACCESS: &str = concat!(
    "query BoardAccess($ids: [ID!]!) { boards(ids: $ids, state: all, limit: 1) { id workspace_id owners { id } subscribers { id } ",
    "team_owners(limit: 100, page: 1) { id } team_subscribers(limit: 100, page: 1) { id } }",
    complexity!(),
    " }"
);

/// Whether users are members / owners of one team (`ids` filters both lists, so the answer is
/// small however large the team is). Deactivated members are not listed, as everywhere.
pub const TEAM_ACCESS: &str = concat!(
    "query TeamAccess($team: [ID!]!, $users: [ID!]!) { teams(ids: $team) { id is_guest ",
    "owners(ids: $users) { id } users(ids: $users) { id } }",
    complexity!(),
    " }"
);

/// Every document of this module, for the schema contract test.
pub const DOCUMENTS: &[(&str, &str)] = &[
    ("UsersByEmail", USERS_BY_EMAIL),
    ("UsersById", USERS_BY_ID),
    ("BoardAccess", BOARD_ACCESS),
    ("TeamAccess", TEAM_ACCESS),
];

const OP_USERS_BY_EMAIL: Op = Op {
    name: "UsersByEmail",
    document: USERS_BY_EMAIL,
    scope: "users:read",
    resend_safe: true,
};
const OP_USERS_BY_ID: Op = Op {
    name: "UsersById",
    document: USERS_BY_ID,
    scope: "users:read",
    resend_safe: true,
};
const OP_BOARD_ACCESS: Op = Op {
    name: "BoardAccess",
    document: BOARD_ACCESS,
    scope: "boards:read",
    resend_safe: true,
};
const OP_TEAM_ACCESS: Op = Op {
    name: "TeamAccess",
    document: TEAM_ACCESS,
    scope: "teams:read",
    resend_safe: true,
};

/// The user fields provisioning decides on.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserSummary {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    /// Base role as Monday spells it: `admin`, `member`, `guest`, `view_only`, or other kinds.
    #[serde(default)]
    pub kind: String,
    pub status: UserStatus,
}

/// One board's access lists.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BoardAccess {
    pub id: Id,
    /// `None`: the main workspace (Monday's `workspace_id: null`).
    #[serde(default)]
    pub workspace_id: Option<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub owners: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub subscribers: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub team_owners: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub team_subscribers: Vec<Id>,
}

/// Whether the asked users are members / owners of one team.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TeamAccess {
    pub id: Id,
    #[serde(default)]
    pub is_guest: Option<bool>,
    #[serde(default, deserialize_with = "id_list")]
    pub owners: Vec<Id>,
    #[serde(default, deserialize_with = "id_list", rename = "users")]
    pub members: Vec<Id>,
}

/// One of a workspace's four membership lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceList {
    /// `owners_subscribers`: users owning the workspace.
    UserOwners,
    /// `users_subscribers`: users subscribed (owners included).
    UserSubscribers,
    /// `team_owners_subscribers`.
    TeamOwners,
    /// `teams_subscribers`.
    TeamSubscribers,
}

impl WorkspaceList {
    fn op(self) -> (Op, &'static str) {
        match self {
            Self::UserOwners => (OP_WS_OWNERS, "owners_subscribers"),
            Self::UserSubscribers => (OP_WS_USERS, "users_subscribers"),
            Self::TeamOwners => (OP_WS_TEAM_OWNERS, "team_owners_subscribers"),
            Self::TeamSubscribers => (OP_WS_TEAMS, "teams_subscribers"),
        }
    }
}

const ALL_STATUSES: [&str; 3] = ["ACTIVE", "PENDING", "INACTIVE"];

impl Client {
    async fn users_where(&self, op: &Op, vars: Value) -> Result<Vec<UserSummary>, MondayError> {
        let mut data = self.execute(op, vars).await?;
        let users: Option<Vec<Option<UserSummary>>> = field(&mut data, "users", op.name)?;
        Ok(users.unwrap_or_default().into_iter().flatten().collect())
    }

    /// The account with this email, whatever its status (active, pending or deactivated).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserSummary>, MondayError> {
        let users = self
            .users_where(
                &OP_USERS_BY_EMAIL,
                json!({ "emails": [email], "status": ALL_STATUSES, "limit": 10 }),
            )
            .await?;
        Ok(users
            .into_iter()
            .find(|u| u.email.eq_ignore_ascii_case(email)))
    }

    /// The account with this id, whatever its status.
    pub async fn user_by_id(&self, id: &Id) -> Result<Option<UserSummary>, MondayError> {
        let users = self
            .users_where(
                &OP_USERS_BY_ID,
                json!({ "ids": [id], "status": ALL_STATUSES, "limit": 10 }),
            )
            .await?;
        Ok(users.into_iter().find(|u| &u.id == id))
    }

    /// One board's access lists; `None` when the board does not exist (or is not visible).
    pub async fn board_access(&self, board_id: &Id) -> Result<Option<BoardAccess>, MondayError> {
        let mut data = self
            .execute(&OP_BOARD_ACCESS, json!({ "ids": [board_id] }))
            .await?;
        let boards: Option<Vec<Option<BoardAccess>>> =
            field(&mut data, "boards", OP_BOARD_ACCESS.name)?;
        Ok(boards
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .find(|b| &b.id == board_id))
    }

    /// Which of `user_ids` are (active or pending) members and owners of one team; `None` when the
    /// team does not exist.
    pub async fn team_access(
        &self,
        team_id: &Id,
        user_ids: &[Id],
    ) -> Result<Option<TeamAccess>, MondayError> {
        let mut data = self
            .execute(
                &OP_TEAM_ACCESS,
                json!({ "team": [team_id], "users": user_ids }),
            )
            .await?;
        #[derive(Deserialize)]
        struct Teams {
            #[serde(default, deserialize_with = "lenient_list")]
            teams: Vec<TeamAccess>,
        }
        let teams: Teams = serde_json::from_value(json!({ "teams": data
            .get_mut("teams")
            .map(Value::take)
            .unwrap_or(Value::Null) }))
        .map_err(|_| MondayError::Protocol {
            operation: OP_TEAM_ACCESS.name,
            detail: "`teams` has an unexpected shape".into(),
        })?;
        Ok(teams.teams.into_iter().find(|t| &t.id == team_id))
    }

    /// One complete membership list of one workspace (paged until a short page); `None` when the
    /// workspace does not exist in any state.
    pub async fn workspace_list(
        &self,
        workspace_id: &Id,
        list: WorkspaceList,
    ) -> Result<Option<Vec<Id>>, MondayError> {
        const LIMIT: u32 = 100;
        let (op, name) = list.op();
        let mut out = Vec::new();
        for page in 1.. {
            let vars = json!({ "ids": [workspace_id], "count": 1, "state": "all", "limit": LIMIT, "page": page });
            let mut data = self.execute(&op, vars).await?;
            let spaces: Option<Vec<Option<Value>>> = field(&mut data, "workspaces", op.name)?;
            let Some(mut ws) = spaces.unwrap_or_default().into_iter().flatten().next() else {
                return Ok(None);
            };
            let v = ws.get_mut(name).map(Value::take).unwrap_or(Value::Null);
            let ids = id_list(v).map_err(|_| MondayError::Protocol {
                operation: op.name,
                detail: format!("`{name}` has an unexpected shape"),
            })?;
            let short = ids.len() < LIMIT as usize;
            out.extend(ids);
            if short {
                break;
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_parse_with_unknown_status() {
        let u: UserSummary = serde_json::from_value(
            json!({"id": 5, "name": "A", "email": "a@x", "kind": "view_only", "status": "INACTIVE"}),
        )
        .expect("parses");
        assert_eq!(u.status, UserStatus::Inactive);
        let t: TeamAccess = serde_json::from_value(
            json!({"id": "7", "owners": [], "users": [{"id": "5"}], "is_guest": null}),
        )
        .expect("parses");
        assert_eq!(t.members, vec![Id::from("5")]);
    }
}
