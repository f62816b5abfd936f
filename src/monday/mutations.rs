//! One method per membership / user-administration mutation, with typed results.
//!
//! Per-user failures come back inside the payload (`errors[]`, HTTP 200) and are returned as
//! [`UserError`]s next to the successes; only request-level failures are `Err`. Bulk user
//! mutations accept at most 200 ids per call, so longer lists are split.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{
    Client, OP_ACTIVATE_USERS, OP_ADD_TEAMS_TO_BOARD, OP_ADD_TEAMS_TO_WORKSPACE,
    OP_ADD_USERS_TO_BOARD, OP_ADD_USERS_TO_TEAM, OP_ADD_USERS_TO_WORKSPACE, OP_ASSIGN_TEAM_OWNERS,
    OP_CREATE_TEAM, OP_DEACTIVATE_USERS, OP_DELETE_SUBSCRIBERS_FROM_BOARD, OP_DELETE_TEAM,
    OP_DELETE_TEAMS_FROM_BOARD, OP_DELETE_TEAMS_FROM_WORKSPACE, OP_DELETE_USERS_FROM_WORKSPACE,
    OP_INVITE_USERS, OP_REMOVE_TEAM_OWNERS, OP_REMOVE_USERS_FROM_TEAM, OP_UPDATE_USERS_ROLE, Op,
};
use super::error::{MondayError, UserError};
use super::reads::field;
use super::types::{
    BulkResult, Id, InviteResult, PayloadError, Role, SubscriberKind, TeamMembershipResult, User,
    id_list, lenient_list,
};

/// A team made by [`Client::create_team`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedTeam {
    pub id: Id,
    #[serde(default)]
    pub name: String,
}

/// Monday rejects bulk user mutations with more ids than this (`EXCEEDS_BATCH_LIMIT`).
pub const MAX_BULK_IDS: usize = 200;

#[derive(Deserialize, Default)]
struct TeamMembershipPayload {
    #[serde(default, deserialize_with = "id_list")]
    successful_users: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    failed_users: Vec<Id>,
}

#[derive(Deserialize, Default)]
struct TeamRef {
    #[serde(default, deserialize_with = "id_list")]
    owners: Vec<Id>,
}

#[derive(Deserialize, Default)]
struct TeamOwnersPayload {
    #[serde(default)]
    team: Option<TeamRef>,
    #[serde(default, deserialize_with = "lenient_list")]
    errors: Vec<PayloadError>,
}

#[derive(Deserialize, Default)]
struct BulkPayload {
    #[serde(
        default,
        alias = "activated_users",
        alias = "deactivated_users",
        alias = "updated_users",
        deserialize_with = "id_list"
    )]
    users: Vec<Id>,
    #[serde(default, deserialize_with = "lenient_list")]
    errors: Vec<PayloadError>,
}

#[derive(Deserialize, Default)]
struct InvitePayload {
    #[serde(default, deserialize_with = "lenient_list")]
    invited_users: Vec<User>,
    #[serde(default, deserialize_with = "lenient_list")]
    errors: Vec<PayloadError>,
}

fn ids(list: &[Id]) -> Value {
    json!(list.iter().map(Id::as_str).collect::<Vec<_>>())
}

impl Client {
    /// Runs a mutation and takes its root field (`null` becomes the payload's default).
    async fn mutate<T: serde::de::DeserializeOwned + Default>(
        &self,
        op: &Op,
        root: &str,
        variables: Value,
    ) -> Result<T, MondayError> {
        let mut data = self.execute(op, variables).await?;
        Ok(field::<Option<T>>(&mut data, root, op.name)?.unwrap_or_default())
    }

    async fn mutate_ids(
        &self,
        op: &Op,
        root: &str,
        variables: Value,
    ) -> Result<Vec<Id>, MondayError> {
        let mut data = self.execute(op, variables).await?;
        let v = data.get_mut(root).map(Value::take).unwrap_or(Value::Null);
        id_list(v).map_err(|_| MondayError::Protocol {
            operation: op.name,
            detail: format!("`{root}` has an unexpected shape"),
        })
    }

    /// Subscribes users to a board as subscribers or owners; returns the users Monday reported.
    pub async fn add_users_to_board(
        &self,
        board_id: &Id,
        user_ids: &[Id],
        kind: SubscriberKind,
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_ADD_USERS_TO_BOARD,
            "add_users_to_board",
            json!({ "board_id": board_id, "user_ids": ids(user_ids), "kind": kind.as_str() }),
        )
        .await
    }

    /// Removes users from a board.
    pub async fn delete_subscribers_from_board(
        &self,
        board_id: &Id,
        user_ids: &[Id],
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_DELETE_SUBSCRIBERS_FROM_BOARD,
            "delete_subscribers_from_board",
            json!({ "board_id": board_id, "user_ids": ids(user_ids) }),
        )
        .await
    }

    /// Subscribes teams to a board (`-1` = everyone).
    pub async fn add_teams_to_board(
        &self,
        board_id: &Id,
        team_ids: &[Id],
        kind: SubscriberKind,
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_ADD_TEAMS_TO_BOARD,
            "add_teams_to_board",
            json!({ "board_id": board_id, "team_ids": ids(team_ids), "kind": kind.as_str() }),
        )
        .await
    }

    /// Removes teams from a board.
    pub async fn delete_teams_from_board(
        &self,
        board_id: &Id,
        team_ids: &[Id],
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_DELETE_TEAMS_FROM_BOARD,
            "delete_teams_from_board",
            json!({ "board_id": board_id, "team_ids": ids(team_ids) }),
        )
        .await
    }

    /// Adds users to a workspace as subscribers or owners.
    pub async fn add_users_to_workspace(
        &self,
        workspace_id: &Id,
        user_ids: &[Id],
        kind: SubscriberKind,
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_ADD_USERS_TO_WORKSPACE,
            "add_users_to_workspace",
            json!({ "workspace_id": workspace_id, "user_ids": ids(user_ids), "kind": kind.as_str() }),
        )
        .await
    }

    /// Removes users from a workspace.
    pub async fn delete_users_from_workspace(
        &self,
        workspace_id: &Id,
        user_ids: &[Id],
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_DELETE_USERS_FROM_WORKSPACE,
            "delete_users_from_workspace",
            json!({ "workspace_id": workspace_id, "user_ids": ids(user_ids) }),
        )
        .await
    }

    /// Adds teams to a workspace as subscribers or owners.
    pub async fn add_teams_to_workspace(
        &self,
        workspace_id: &Id,
        team_ids: &[Id],
        kind: SubscriberKind,
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_ADD_TEAMS_TO_WORKSPACE,
            "add_teams_to_workspace",
            json!({ "workspace_id": workspace_id, "team_ids": ids(team_ids), "kind": kind.as_str() }),
        )
        .await
    }

    /// Removes teams from a workspace.
    pub async fn delete_teams_from_workspace(
        &self,
        workspace_id: &Id,
        team_ids: &[Id],
    ) -> Result<Vec<Id>, MondayError> {
        self.mutate_ids(
            &OP_DELETE_TEAMS_FROM_WORKSPACE,
            "delete_teams_from_workspace",
            json!({ "workspace_id": workspace_id, "team_ids": ids(team_ids) }),
        )
        .await
    }

    async fn team_membership(
        &self,
        op: &Op,
        root: &str,
        team_id: &Id,
        user_ids: &[Id],
    ) -> Result<TeamMembershipResult, MondayError> {
        let p: TeamMembershipPayload = self
            .mutate(
                op,
                root,
                json!({ "team_id": team_id, "user_ids": ids(user_ids) }),
            )
            .await?;
        Ok(TeamMembershipResult {
            successful: p.successful_users,
            failed: p.failed_users,
        })
    }

    /// Adds users to a team; users Monday refused are listed in `failed`.
    pub async fn add_users_to_team(
        &self,
        team_id: &Id,
        user_ids: &[Id],
    ) -> Result<TeamMembershipResult, MondayError> {
        self.team_membership(
            &OP_ADD_USERS_TO_TEAM,
            "add_users_to_team",
            team_id,
            user_ids,
        )
        .await
    }

    /// Removes users from a team.
    pub async fn remove_users_from_team(
        &self,
        team_id: &Id,
        user_ids: &[Id],
    ) -> Result<TeamMembershipResult, MondayError> {
        self.team_membership(
            &OP_REMOVE_USERS_FROM_TEAM,
            "remove_users_from_team",
            team_id,
            user_ids,
        )
        .await
    }

    async fn team_owners(
        &self,
        op: &Op,
        root: &str,
        team_id: &Id,
        user_ids: &[Id],
    ) -> Result<BulkResult, MondayError> {
        let mut out = BulkResult::default();
        for chunk in user_ids.chunks(MAX_BULK_IDS) {
            let p: TeamOwnersPayload = self
                .mutate(
                    op,
                    root,
                    json!({ "team_id": team_id, "user_ids": ids(chunk) }),
                )
                .await?;
            // The team's owners after this call; the last chunk's answer is the final state.
            out.users = p.team.unwrap_or_default().owners;
            out.errors.extend(p.errors.into_iter().map(UserError::from));
        }
        Ok(out)
    }

    /// Makes users owners of a team. `users` = the team's owners afterwards.
    pub async fn assign_team_owners(
        &self,
        team_id: &Id,
        user_ids: &[Id],
    ) -> Result<BulkResult, MondayError> {
        self.team_owners(
            &OP_ASSIGN_TEAM_OWNERS,
            "assign_team_owners",
            team_id,
            user_ids,
        )
        .await
    }

    /// Removes team ownership. `users` = the team's owners afterwards.
    pub async fn remove_team_owners(
        &self,
        team_id: &Id,
        user_ids: &[Id],
    ) -> Result<BulkResult, MondayError> {
        self.team_owners(
            &OP_REMOVE_TEAM_OWNERS,
            "remove_team_owners",
            team_id,
            user_ids,
        )
        .await
    }

    /// Creates an empty team named `name` (`allow_empty_team`: members are granted separately).
    /// Not resent after a failure where it may have run.
    pub async fn create_team(&self, name: &str) -> Result<CreatedTeam, MondayError> {
        let team: Option<CreatedTeam> = self
            .mutate::<Option<CreatedTeam>>(
                &OP_CREATE_TEAM,
                "create_team",
                json!({ "input": { "name": name }, "options": { "allow_empty_team": true } }),
            )
            .await?;
        team.ok_or(MondayError::Protocol {
            operation: OP_CREATE_TEAM.name,
            detail: "create_team returned no team".into(),
        })
    }

    /// Deletes a team. `Ok(false)` when it did not exist (already deleted).
    pub async fn delete_team(&self, team_id: &Id) -> Result<bool, MondayError> {
        match self
            .mutate::<Option<Value>>(
                &OP_DELETE_TEAM,
                "delete_team",
                json!({ "team_id": team_id }),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(MondayError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Invites users by email with an optional role and product. Invitees stay pending.
    ///
    /// Not resent after a failure where the request may have run (it is not idempotent).
    pub async fn invite_users(
        &self,
        emails: &[String],
        role: Option<Role>,
        product: Option<&str>,
    ) -> Result<InviteResult, MondayError> {
        let mut out = InviteResult::default();
        for chunk in emails.chunks(MAX_BULK_IDS) {
            let p: InvitePayload = self
                .mutate(
                    &OP_INVITE_USERS,
                    "invite_users",
                    json!({ "emails": chunk, "user_role": role.map(Role::as_str), "product": product }),
                )
                .await?;
            out.invited.extend(p.invited_users);
            out.errors.extend(p.errors.into_iter().map(UserError::from));
        }
        Ok(out)
    }

    async fn bulk(
        &self,
        op: &Op,
        root: &str,
        user_ids: &[Id],
        extra: &Value,
    ) -> Result<BulkResult, MondayError> {
        let mut out = BulkResult::default();
        for chunk in user_ids.chunks(MAX_BULK_IDS) {
            let mut vars = json!({ "user_ids": ids(chunk) });
            if let (Some(v), Some(e)) = (vars.as_object_mut(), extra.as_object()) {
                v.extend(e.clone());
            }
            let p: BulkPayload = self.mutate(op, root, vars).await?;
            out.users.extend(p.users);
            out.errors.extend(p.errors.into_iter().map(UserError::from));
        }
        Ok(out)
    }

    /// (Re)activates users; admin only.
    pub async fn activate_users(&self, user_ids: &[Id]) -> Result<BulkResult, MondayError> {
        self.bulk(&OP_ACTIVATE_USERS, "activate_users", user_ids, &json!({}))
            .await
    }

    /// Deactivates users; admin only, never the token's own user (`CANNOT_UPDATE_SELF`).
    pub async fn deactivate_users(&self, user_ids: &[Id]) -> Result<BulkResult, MondayError> {
        self.bulk(
            &OP_DEACTIVATE_USERS,
            "deactivate_users",
            user_ids,
            &json!({}),
        )
        .await
    }

    /// Changes users' base role, or assigns a custom role by id (enterprise).
    pub async fn update_users_role(
        &self,
        user_ids: &[Id],
        new_role: Option<Role>,
        role_id: Option<&Id>,
    ) -> Result<BulkResult, MondayError> {
        self.bulk(
            &OP_UPDATE_USERS_ROLE,
            "update_users_role",
            user_ids,
            &json!({ "new_role": new_role.map(Role::as_str), "role_id": role_id }),
        )
        .await
    }
}

impl BulkResult {
    /// Turns the first per-user failure into an error, for callers that want all-or-nothing.
    pub fn into_result(self, operation: &'static str) -> Result<Vec<Id>, MondayError> {
        match self.errors.into_iter().next() {
            Some(error) => Err(MondayError::User { operation, error }),
            None => Ok(self.users),
        }
    }
}
