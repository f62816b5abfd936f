//! Every GraphQL document the client sends, as plain strings with variables.
//!
//! Each document selects `complexity { … }` so the pacer learns the remaining budget and the real cost
//! of every request. `tests/monday_schema.rs` validates every entry of [`ALL`] against our trimmed
//! schema and against monday.com's official `2026-10` schema, so a typo fails CI, not a sync.
//!
//! Board documents ask for `hierarchy_types: [classic, multi_level]` because omitting it returns
//! classic boards only. Documents (`type: document`) and sub-item boards (`type: sub_items_board`)
//! are still returned by `boards` and are dropped by the client: they carry no access of their own.

/// The `complexity` selection appended to every document.
macro_rules! complexity {
    () => {
        " complexity { before after query reset_in_x_seconds }"
    };
}

/// User fields read during a sync (2026-10 names: `kind`/`status` replace the removed booleans).
macro_rules! user_fields {
    () => {
        "id name email kind status title url created_at became_active_at last_activity is_email_confirmed is_deleted"
    };
}

/// The token owner and the account: `me:read` + `account:read`.
pub const ACCOUNT: &str = concat!(
    "query Account { me { id name email kind status } account { id name slug tier plan { tier } }",
    complexity!(),
    " }"
);

/// One page of users filtered by status (`[ACTIVE, PENDING]` or `[INACTIVE]`); `limit` ≤ 1000.
pub const USERS: &str = concat!(
    "query Users($limit: Int!, $page: Int!, $status: [UserStatus!]!) { users(limit: $limit, page: $page, status: $status) { ",
    user_fields!(),
    " }",
    complexity!(),
    " }"
);

/// All teams with their owners (owners are not paged by the API).
pub const TEAMS: &str = concat!(
    "query Teams { teams { id name is_guest owners { id } }",
    complexity!(),
    " }"
);

/// One page of members for a batch of teams; teams whose page came back full are asked again.
pub const TEAM_MEMBERS: &str = concat!(
    "query TeamMembers($ids: [ID!]!, $limit: Int!, $page: Int!) { teams(ids: $ids) { id users(limit: $limit, page: $page) { id } }",
    complexity!(),
    " }"
);

/// One page of workspaces with the first page of each of the four membership lists.
pub const WORKSPACES: &str = concat!(
    "query Workspaces($limit: Int!, $page: Int!, $state: State!, $members: Int!) { ",
    "workspaces(limit: $limit, page: $page, state: $state) { id name kind state description is_default_workspace ",
    "owners_subscribers(limit: $members, page: 1) { id } users_subscribers(limit: $members, page: 1) { id } ",
    "team_owners_subscribers(limit: $members, page: 1) { id } teams_subscribers(limit: $members, page: 1) { id } }",
    complexity!(),
    " }"
);

/// Follow-up page of `owners_subscribers` for a batch of workspaces (`$count` = number of ids).
pub const WORKSPACE_OWNERS_PAGE: &str = concat!(
    "query WorkspaceOwnersPage($ids: [ID!]!, $count: Int!, $state: State!, $limit: Int!, $page: Int!) { ",
    "workspaces(ids: $ids, limit: $count, page: 1, state: $state) { id owners_subscribers(limit: $limit, page: $page) { id } }",
    complexity!(),
    " }"
);

/// Follow-up page of `users_subscribers` for a batch of workspaces.
pub const WORKSPACE_USERS_PAGE: &str = concat!(
    "query WorkspaceUsersPage($ids: [ID!]!, $count: Int!, $state: State!, $limit: Int!, $page: Int!) { ",
    "workspaces(ids: $ids, limit: $count, page: 1, state: $state) { id users_subscribers(limit: $limit, page: $page) { id } }",
    complexity!(),
    " }"
);

/// Follow-up page of `team_owners_subscribers` for a batch of workspaces.
pub const WORKSPACE_TEAM_OWNERS_PAGE: &str = concat!(
    "query WorkspaceTeamOwnersPage($ids: [ID!]!, $count: Int!, $state: State!, $limit: Int!, $page: Int!) { ",
    "workspaces(ids: $ids, limit: $count, page: 1, state: $state) { id team_owners_subscribers(limit: $limit, page: $page) { id } }",
    complexity!(),
    " }"
);

/// Follow-up page of `teams_subscribers` for a batch of workspaces.
pub const WORKSPACE_TEAMS_PAGE: &str = concat!(
    "query WorkspaceTeamsPage($ids: [ID!]!, $count: Int!, $state: State!, $limit: Int!, $page: Int!) { ",
    "workspaces(ids: $ids, limit: $count, page: 1, state: $state) { id teams_subscribers(limit: $limit, page: $page) { id } }",
    complexity!(),
    " }"
);

/// One page of boards (classic and multi-level) with owners, subscribers and the first page of
/// each team list. Main-workspace boards come back with `workspace_id: null`.
pub const BOARDS: &str = concat!(
    "query Boards($limit: Int!, $page: Int!, $state: State!, $team_owners: Int!, $team_subscribers: Int!) { ",
    "boards(limit: $limit, page: $page, state: $state, hierarchy_types: [classic, multi_level]) { ",
    "id name board_kind state type workspace_id permissions owners { id } subscribers { id } ",
    "team_owners(limit: $team_owners, page: 1) { id } team_subscribers(limit: $team_subscribers, page: 1) { id } }",
    complexity!(),
    " }"
);

/// Follow-up page of `team_owners` for a batch of boards (`$count` = number of ids).
pub const BOARD_TEAM_OWNERS_PAGE: &str = concat!(
    "query BoardTeamOwnersPage($ids: [ID!]!, $count: Int!, $state: State!, $limit: Int!, $page: Int!) { ",
    "boards(ids: $ids, limit: $count, page: 1, state: $state, hierarchy_types: [classic, multi_level]) { id team_owners(limit: $limit, page: $page) { id } }",
    complexity!(),
    " }"
);

/// Follow-up page of `team_subscribers` for a batch of boards.
pub const BOARD_TEAM_SUBSCRIBERS_PAGE: &str = concat!(
    "query BoardTeamSubscribersPage($ids: [ID!]!, $count: Int!, $state: State!, $limit: Int!, $page: Int!) { ",
    "boards(ids: $ids, limit: $count, page: 1, state: $state, hierarchy_types: [classic, multi_level]) { id team_subscribers(limit: $limit, page: $page) { id } }",
    complexity!(),
    " }"
);

/// Subscribe users to a board as `subscriber` or `owner` (boards:write).
pub const ADD_USERS_TO_BOARD: &str = concat!(
    "mutation AddUsersToBoard($board_id: ID!, $user_ids: [ID!]!, $kind: BoardSubscriberKind!) { ",
    "add_users_to_board(board_id: $board_id, user_ids: $user_ids, kind: $kind) { id }",
    complexity!(),
    " }"
);

/// Remove users from a board (boards:write).
pub const DELETE_SUBSCRIBERS_FROM_BOARD: &str = concat!(
    "mutation DeleteSubscribersFromBoard($board_id: ID!, $user_ids: [ID!]!) { ",
    "delete_subscribers_from_board(board_id: $board_id, user_ids: $user_ids) { id }",
    complexity!(),
    " }"
);

/// Subscribe teams to a board (`-1` = everyone at the account).
pub const ADD_TEAMS_TO_BOARD: &str = concat!(
    "mutation AddTeamsToBoard($board_id: ID!, $team_ids: [ID!]!, $kind: BoardSubscriberKind!) { ",
    "add_teams_to_board(board_id: $board_id, team_ids: $team_ids, kind: $kind) { id }",
    complexity!(),
    " }"
);

/// Remove teams from a board.
pub const DELETE_TEAMS_FROM_BOARD: &str = concat!(
    "mutation DeleteTeamsFromBoard($board_id: ID!, $team_ids: [ID!]!) { ",
    "delete_teams_from_board(board_id: $board_id, team_ids: $team_ids) { id }",
    complexity!(),
    " }"
);

/// Add users to a workspace as `subscriber` or `owner` (workspaces:write).
pub const ADD_USERS_TO_WORKSPACE: &str = concat!(
    "mutation AddUsersToWorkspace($workspace_id: ID!, $user_ids: [ID!]!, $kind: WorkspaceSubscriberKind!) { ",
    "add_users_to_workspace(workspace_id: $workspace_id, user_ids: $user_ids, kind: $kind) { id }",
    complexity!(),
    " }"
);

/// Remove users from a workspace.
pub const DELETE_USERS_FROM_WORKSPACE: &str = concat!(
    "mutation DeleteUsersFromWorkspace($workspace_id: ID!, $user_ids: [ID!]!) { ",
    "delete_users_from_workspace(workspace_id: $workspace_id, user_ids: $user_ids) { id }",
    complexity!(),
    " }"
);

/// Add teams to a workspace as `subscriber` or `owner`.
pub const ADD_TEAMS_TO_WORKSPACE: &str = concat!(
    "mutation AddTeamsToWorkspace($workspace_id: ID!, $team_ids: [ID!]!, $kind: WorkspaceSubscriberKind!) { ",
    "add_teams_to_workspace(workspace_id: $workspace_id, team_ids: $team_ids, kind: $kind) { id }",
    complexity!(),
    " }"
);

/// Remove teams from a workspace.
pub const DELETE_TEAMS_FROM_WORKSPACE: &str = concat!(
    "mutation DeleteTeamsFromWorkspace($workspace_id: ID!, $team_ids: [ID!]!) { ",
    "delete_teams_from_workspace(workspace_id: $workspace_id, team_ids: $team_ids) { id }",
    complexity!(),
    " }"
);

/// Add users to a team (teams:write); failures come back in `failed_users`.
pub const ADD_USERS_TO_TEAM: &str = concat!(
    "mutation AddUsersToTeam($team_id: ID!, $user_ids: [ID!]!) { ",
    "add_users_to_team(team_id: $team_id, user_ids: $user_ids) { successful_users { id } failed_users { id } }",
    complexity!(),
    " }"
);

/// Remove users from a team.
pub const REMOVE_USERS_FROM_TEAM: &str = concat!(
    "mutation RemoveUsersFromTeam($team_id: ID!, $user_ids: [ID!]!) { ",
    "remove_users_from_team(team_id: $team_id, user_ids: $user_ids) { successful_users { id } failed_users { id } }",
    complexity!(),
    " }"
);

/// Make users owners of a team (≤ 200 ids per call).
pub const ASSIGN_TEAM_OWNERS: &str = concat!(
    "mutation AssignTeamOwners($team_id: ID!, $user_ids: [ID!]!) { ",
    "assign_team_owners(team_id: $team_id, user_ids: $user_ids) { team { id owners { id } } errors { code message user_id } }",
    complexity!(),
    " }"
);

/// Remove team ownership from users (≤ 200 ids per call).
pub const REMOVE_TEAM_OWNERS: &str = concat!(
    "mutation RemoveTeamOwners($team_id: ID!, $user_ids: [ID!]!) { ",
    "remove_team_owners(team_id: $team_id, user_ids: $user_ids) { team { id owners { id } } errors { code message user_id } }",
    complexity!(),
    " }"
);

/// Create a team (ConductorOne `create_resource`); empty teams are allowed.
pub const CREATE_TEAM: &str = concat!(
    "mutation CreateTeam($input: CreateTeamAttributesInput!, $options: CreateTeamOptionsInput) { ",
    "create_team(input: $input, options: $options) { id name }",
    complexity!(),
    " }"
);

/// Delete a team (ConductorOne `delete_resource`).
pub const DELETE_TEAM: &str = concat!(
    "mutation DeleteTeam($team_id: ID!) { ",
    "delete_team(team_id: $team_id) { id }",
    complexity!(),
    " }"
);

/// Invite users by email; they stay `PENDING` until they accept. Errors are keyed by email.
pub const INVITE_USERS: &str = concat!(
    "mutation InviteUsers($emails: [String!]!, $user_role: UserRole, $product: Product) { ",
    "invite_users(emails: $emails, user_role: $user_role, product: $product) { invited_users { ",
    user_fields!(),
    " } errors { code message email } }",
    complexity!(),
    " }"
);

/// (Re)activate users (admin only, ≤ 200 ids per call).
pub const ACTIVATE_USERS: &str = concat!(
    "mutation ActivateUsers($user_ids: [ID!]!) { ",
    "activate_users(user_ids: $user_ids) { activated_users { id } errors { code message user_id } }",
    complexity!(),
    " }"
);

/// Deactivate users (admin only, not self, ≤ 200 ids per call).
pub const DEACTIVATE_USERS: &str = concat!(
    "mutation DeactivateUsers($user_ids: [ID!]!) { ",
    "deactivate_users(user_ids: $user_ids) { deactivated_users { id } errors { code message user_id } }",
    complexity!(),
    " }"
);

/// Change users' base role or assign a custom role (admin only, ≤ 200 ids per call).
pub const UPDATE_USERS_ROLE: &str = concat!(
    "mutation UpdateUsersRole($user_ids: [ID!]!, $new_role: BaseRoleName, $role_id: ID) { ",
    "update_users_role(user_ids: $user_ids, new_role: $new_role, role_id: $role_id) { updated_users { id } errors { code message user_id } }",
    complexity!(),
    " }"
);

/// Every document, by operation name, for the schema tests.
pub const ALL: &[(&str, &str)] = &[
    ("Account", ACCOUNT),
    ("Users", USERS),
    ("Teams", TEAMS),
    ("TeamMembers", TEAM_MEMBERS),
    ("Workspaces", WORKSPACES),
    ("WorkspaceOwnersPage", WORKSPACE_OWNERS_PAGE),
    ("WorkspaceUsersPage", WORKSPACE_USERS_PAGE),
    ("WorkspaceTeamOwnersPage", WORKSPACE_TEAM_OWNERS_PAGE),
    ("WorkspaceTeamsPage", WORKSPACE_TEAMS_PAGE),
    ("Boards", BOARDS),
    ("BoardTeamOwnersPage", BOARD_TEAM_OWNERS_PAGE),
    ("BoardTeamSubscribersPage", BOARD_TEAM_SUBSCRIBERS_PAGE),
    ("AddUsersToBoard", ADD_USERS_TO_BOARD),
    ("DeleteSubscribersFromBoard", DELETE_SUBSCRIBERS_FROM_BOARD),
    ("AddTeamsToBoard", ADD_TEAMS_TO_BOARD),
    ("DeleteTeamsFromBoard", DELETE_TEAMS_FROM_BOARD),
    ("AddUsersToWorkspace", ADD_USERS_TO_WORKSPACE),
    ("DeleteUsersFromWorkspace", DELETE_USERS_FROM_WORKSPACE),
    ("AddTeamsToWorkspace", ADD_TEAMS_TO_WORKSPACE),
    ("DeleteTeamsFromWorkspace", DELETE_TEAMS_FROM_WORKSPACE),
    ("AddUsersToTeam", ADD_USERS_TO_TEAM),
    ("RemoveUsersFromTeam", REMOVE_USERS_FROM_TEAM),
    ("AssignTeamOwners", ASSIGN_TEAM_OWNERS),
    ("RemoveTeamOwners", REMOVE_TEAM_OWNERS),
    ("CreateTeam", CREATE_TEAM),
    ("DeleteTeam", DELETE_TEAM),
    ("InviteUsers", INVITE_USERS),
    ("ActivateUsers", ACTIVATE_USERS),
    ("DeactivateUsers", DEACTIVATE_USERS),
    ("UpdateUsersRole", UPDATE_USERS_ROLE),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_names_its_operation_and_asks_for_complexity() {
        for (name, doc) in ALL {
            assert!(
                doc.starts_with(&format!("query {name}"))
                    || doc.starts_with(&format!("mutation {name}")),
                "{name}: operation name mismatch"
            );
            assert!(
                doc.contains("complexity { before after query reset_in_x_seconds }"),
                "{name}: no complexity selection"
            );
        }
        let mut names: Vec<_> = ALL.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "duplicate operation names");
    }
}
