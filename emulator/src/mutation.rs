//! Mutations that change the tenant: board/workspace/team membership and user lifecycle.
//!
//! Choices where Monday's behaviour is not documented (also listed in the README):
//! * adding a user or team as `owner` also makes it a subscriber (owners are subscribers in Monday's
//!   UI); deleting removes both; adding an existing member again is a no-op (idempotent);
//! * board, workspace and team membership may be changed by admins and by owners of that board,
//!   workspace or team; the user-admin mutations (`invite_users`, `activate_users`,
//!   `deactivate_users`, `update_users_role`, `assign/remove_team_owners`) are admin-only;
//! * scopes: `boards:write`, `workspaces:write`, `teams:write`; the user-admin mutations need
//!   `users:write`;
//! * unknown user IDs in board/workspace/team membership mutations fail the whole call with
//!   `InvalidUserIdException` (nothing changes); in the bulk user mutations they are per-user
//!   `USER_NOT_FOUND` errors;
//! * pending users cannot be deactivated nor activated: per-user `FAILED`.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Value};

use crate::model::{
    self, EVERYONE_TEAM, Tenant, UserKind, UserStatus, sorted_contains, sorted_insert,
    sorted_remove,
};
use crate::schema::{
    ComplexityObj, GBaseRoleName, GBoardSubscriberKind, GProduct, GUserRole,
    GWorkspaceSubscriberKind, TeamObj, UserObj, api_error, api_error_data, caller, complexity_of,
    invalid_argument, need, parse_id, parse_ids, shared, unauthorized,
};
use crate::state::write;

/// Bulk user mutations accept at most this many IDs.
pub const BATCH_LIMIT: usize = 200;
/// A board holds at most this many user subscribers…
pub const BOARD_MAX_USERS: usize = 400;
/// …and this many team subscribers.
pub const BOARD_MAX_TEAMS: usize = 100;

// Per-user error payloads ----------------------------------------------------------------------

macro_rules! user_error_types {
    ($($obj:ident, $code:ident, $name:literal, $code_name:literal, [$($variant:ident),*];)*) => {$(
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        #[graphql(name = $code_name)]
        pub enum $code { $($variant),* }

        #[derive(SimpleObject)]
        #[graphql(name = $name, rename_fields = "snake_case")]
        pub struct $obj {
            pub message: Option<String>,
            pub code: Option<$code>,
            pub user_id: Option<ID>,
        }
    )*};
}

user_error_types! {
    AssignTeamOwnersError, AssignTeamOwnersErrorCode, "AssignTeamOwnersError", "AssignTeamOwnersErrorCode",
        [ViewersOrGuests, UserNotMemberOfTeam, ExceedsBatchLimit, InvalidInput, UserNotFound, CannotUpdateSelf, Failed];
    RemoveTeamOwnersError, RemoveTeamOwnersErrorCode, "RemoveTeamOwnersError", "RemoveTeamOwnersErrorCode",
        [ViewersOrGuests, UserNotMemberOfTeam, ExceedsBatchLimit, InvalidInput, UserNotFound, CannotUpdateSelf, Failed];
    ActivateUsersError, ActivateUsersErrorCode, "ActivateUsersError", "ActivateUsersErrorCode",
        [ExceedsBatchLimit, InvalidInput, UserNotFound, CannotUpdateSelf, Failed];
    DeactivateUsersError, DeactivateUsersErrorCode, "DeactivateUsersError", "DeactivateUsersErrorCode",
        [ExceedsBatchLimit, InvalidInput, UserNotFound, CannotUpdateSelf, Failed];
    UpdateUsersRoleError, UpdateUsersRoleErrorCode, "UpdateUsersRoleError", "UpdateUsersRoleErrorCode",
        [ExceedsBatchLimit, InvalidInput, UserNotFound, CannotUpdateSelf, Failed];
}

/// The error codes all bulk user mutations share, mapped onto each payload's own enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    ExceedsBatchLimit,
    InvalidInput,
    UserNotFound,
    CannotUpdateSelf,
    Failed,
    ViewersOrGuests,
    UserNotMemberOfTeam,
}

/// One per-user failure before it is shaped into a payload type.
struct Failure {
    code: Code,
    user_id: Option<i64>,
    message: String,
}

macro_rules! into_error {
    ($f:expr, $obj:ident, $code:ident) => {{
        let f: Failure = $f;
        $obj {
            message: Some(f.message),
            code: Some(match f.code {
                Code::ExceedsBatchLimit => $code::ExceedsBatchLimit,
                Code::InvalidInput => $code::InvalidInput,
                Code::UserNotFound => $code::UserNotFound,
                Code::CannotUpdateSelf => $code::CannotUpdateSelf,
                _ => $code::Failed,
            }),
            user_id: f.user_id.map(|i| ID(i.to_string())),
        }
    }};
}

fn team_owner_error_code(c: Code) -> Option<AssignTeamOwnersErrorCode> {
    Some(match c {
        Code::ExceedsBatchLimit => AssignTeamOwnersErrorCode::ExceedsBatchLimit,
        Code::InvalidInput => AssignTeamOwnersErrorCode::InvalidInput,
        Code::UserNotFound => AssignTeamOwnersErrorCode::UserNotFound,
        Code::CannotUpdateSelf => AssignTeamOwnersErrorCode::CannotUpdateSelf,
        Code::Failed => AssignTeamOwnersErrorCode::Failed,
        Code::ViewersOrGuests => AssignTeamOwnersErrorCode::ViewersOrGuests,
        Code::UserNotMemberOfTeam => AssignTeamOwnersErrorCode::UserNotMemberOfTeam,
    })
}

fn remove_owner_error_code(c: Code) -> Option<RemoveTeamOwnersErrorCode> {
    Some(match c {
        Code::ExceedsBatchLimit => RemoveTeamOwnersErrorCode::ExceedsBatchLimit,
        Code::InvalidInput => RemoveTeamOwnersErrorCode::InvalidInput,
        Code::UserNotFound => RemoveTeamOwnersErrorCode::UserNotFound,
        Code::CannotUpdateSelf => RemoveTeamOwnersErrorCode::CannotUpdateSelf,
        Code::Failed => RemoveTeamOwnersErrorCode::Failed,
        Code::ViewersOrGuests => RemoveTeamOwnersErrorCode::ViewersOrGuests,
        Code::UserNotMemberOfTeam => RemoveTeamOwnersErrorCode::UserNotMemberOfTeam,
    })
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "InviteUsersErrorCode")]
pub enum InviteUsersErrorCode {
    Error,
}

#[derive(SimpleObject)]
#[graphql(name = "InviteUsersError", rename_fields = "snake_case")]
pub struct InviteUsersError {
    pub message: Option<String>,
    pub code: Option<InviteUsersErrorCode>,
    pub email: Option<ID>,
}

#[derive(SimpleObject)]
#[graphql(name = "ChangeTeamMembershipsResult", rename_fields = "snake_case")]
pub struct ChangeTeamMembershipsResult {
    pub failed_users: Option<Vec<UserObj>>,
    pub successful_users: Option<Vec<UserObj>>,
}

#[derive(SimpleObject)]
#[graphql(name = "AssignTeamOwnersResult", rename_fields = "snake_case")]
pub struct AssignTeamOwnersResult {
    pub team: Option<TeamObj>,
    pub errors: Option<Vec<AssignTeamOwnersError>>,
}

#[derive(SimpleObject)]
#[graphql(name = "RemoveTeamOwnersResult", rename_fields = "snake_case")]
pub struct RemoveTeamOwnersResult {
    pub team: Option<TeamObj>,
    pub errors: Option<Vec<RemoveTeamOwnersError>>,
}

#[derive(SimpleObject)]
#[graphql(name = "InviteUsersResult", rename_fields = "snake_case")]
pub struct InviteUsersResult {
    pub invited_users: Option<Vec<UserObj>>,
    pub errors: Option<Vec<InviteUsersError>>,
}

#[derive(SimpleObject)]
#[graphql(name = "ActivateUsersResult", rename_fields = "snake_case")]
pub struct ActivateUsersResult {
    pub activated_users: Option<Vec<UserObj>>,
    pub errors: Option<Vec<ActivateUsersError>>,
}

#[derive(SimpleObject)]
#[graphql(name = "DeactivateUsersResult", rename_fields = "snake_case")]
pub struct DeactivateUsersResult {
    pub deactivated_users: Option<Vec<UserObj>>,
    pub errors: Option<Vec<DeactivateUsersError>>,
}

#[derive(SimpleObject)]
#[graphql(name = "UpdateUsersRoleResult", rename_fields = "snake_case")]
pub struct UpdateUsersRoleResult {
    pub updated_users: Option<Vec<UserObj>>,
    pub errors: Option<Vec<UpdateUsersRoleError>>,
}

// Helpers ---------------------------------------------------------------------------------------

fn is_admin(t: &Tenant, user_id: i64) -> bool {
    t.user(user_id).is_some_and(|u| u.kind == UserKind::Admin)
}

fn board_not_found(id: i64) -> async_graphql::Error {
    let mut data = async_graphql::indexmap::IndexMap::new();
    data.insert(async_graphql::Name::new("board_id"), Value::from(id));
    api_error_data(
        "InvalidBoardIdException",
        400,
        format!("Board not found: {id}"),
        Value::Object(data),
    )
}

fn not_found(kind: &str, id: i64) -> async_graphql::Error {
    api_error(
        "ResourceNotFoundException",
        404,
        format!("{kind} with id {id} not found"),
    )
}

fn record_invalid(message: String) -> async_graphql::Error {
    api_error("RecordInvalidException", 422, message)
}

/// All IDs must be existing users, or the whole call fails (membership mutations).
fn existing_users(t: &Tenant, ids: &[i64]) -> Result<()> {
    match ids.iter().find(|id| t.user(**id).is_none()) {
        Some(id) => Err(api_error(
            "InvalidUserIdException",
            400,
            format!("User with id {id} not found"),
        )),
        None => Ok(()),
    }
}

/// Team IDs must exist (or be -1 when `everyone_ok`).
fn existing_teams(t: &Tenant, ids: &[i64], everyone_ok: bool) -> Result<()> {
    match ids
        .iter()
        .find(|id| t.team(**id).is_none() && !(everyone_ok && **id == EVERYONE_TEAM))
    {
        Some(id) => Err(not_found("Team", *id)),
        None => Ok(()),
    }
}

fn users_out(t: &Tenant, ids: &[i64]) -> Vec<UserObj> {
    ids.iter()
        .filter_map(|id| t.user(*id))
        .map(|u| UserObj(u.clone()))
        .collect()
}

fn teams_out(t: &Tenant, ids: &[i64]) -> Vec<Option<TeamObj>> {
    ids.iter().map(|id| TeamObj::lookup(t, *id)).collect()
}

/// The common checks of bulk user mutations; returns the IDs to act on, per-ID failures recorded.
fn bulk_precheck(t: &Tenant, me: i64, ids: &[i64], failures: &mut Vec<Failure>) -> Vec<i64> {
    if ids.len() > BATCH_LIMIT {
        failures.push(Failure {
            code: Code::ExceedsBatchLimit,
            user_id: None,
            message: format!(
                "Too many user ids: {} (at most {BATCH_LIMIT} per call)",
                ids.len()
            ),
        });
        return Vec::new();
    }
    let mut ok = Vec::new();
    for &id in ids {
        if id == me {
            failures.push(Failure {
                code: Code::CannotUpdateSelf,
                user_id: Some(id),
                message: "You cannot perform this action on yourself".into(),
            });
        } else if t.user(id).is_none() {
            failures.push(Failure {
                code: Code::UserNotFound,
                user_id: Some(id),
                message: format!("User with id {id} not found"),
            });
        } else if !ok.contains(&id) {
            ok.push(id);
        }
    }
    ok
}

/// Reports failures in the order of the requested IDs (call-level failures first).
fn in_input_order(mut failures: Vec<Failure>, ids: &[i64]) -> Vec<Failure> {
    failures.sort_by_key(|f| f.user_id.and_then(|u| ids.iter().position(|i| *i == u)));
    failures
}

/// Admin-only gate for user-administration mutations.
/// The shape every bulk user mutation shares (Monday's admin-only `…_users` and team-owner
/// mutations): parse the ids, the per-user prechecks (the caller's own id, unknown users, the
/// batch limit), then `each` on every remaining user — `Ok` when done, `Err` its failure. Returns
/// the tenant (for result objects), the ids done, and every failure in input order.
#[allow(clippy::type_complexity)]
fn bulk_users<'c>(
    ctx: &'c Context<'_>,
    user_ids: &[ID],
    mut failures: Vec<Failure>,
    mut each: impl FnMut(&mut Tenant, i64) -> std::result::Result<(), Failure>,
) -> Result<(
    std::sync::RwLockWriteGuard<'c, Tenant>,
    Vec<i64>,
    Vec<Failure>,
)> {
    let ids = parse_ids(user_ids)?;
    let me = caller(ctx)?.user_id;
    let mut t = write(&shared(ctx)?.tenant);
    let mut done = Vec::new();
    if failures.is_empty() {
        for id in bulk_precheck(&t, me, &ids, &mut failures) {
            match each(&mut t, id) {
                Ok(()) => done.push(id),
                Err(f) => failures.push(f),
            }
        }
    }
    let failures = in_input_order(failures, &ids);
    Ok((t, done, failures))
}

/// Activates or deactivates a user; a pending invitation cannot be either (per-user `FAILED`).
fn set_status(
    t: &mut Tenant,
    id: i64,
    to: UserStatus,
    pending_message: &str,
) -> std::result::Result<(), Failure> {
    let u = t.user_mut(id).expect("checked");
    if u.status == UserStatus::Pending {
        return Err(Failure {
            code: Code::Failed,
            user_id: Some(id),
            message: pending_message.into(),
        });
    }
    u.status = to;
    Ok(())
}

fn not_a_member(user: i64, team: i64) -> Failure {
    Failure {
        code: Code::UserNotMemberOfTeam,
        user_id: Some(user),
        message: format!("User {user} is not a member of team {team}"),
    }
}

/// The team must exist (checked before any per-user work, as Monday does).
fn existing_team(ctx: &Context<'_>, team_id: i64) -> Result<()> {
    let t = crate::state::read(&shared(ctx)?.tenant);
    t.team(team_id).ok_or_else(|| not_found("Team", team_id))?;
    Ok(())
}

fn require_admin(ctx: &Context<'_>) -> Result<()> {
    need(ctx, "users:write")?;
    let me = caller(ctx)?.user_id;
    if !is_admin(&crate::state::read(&shared(ctx)?.tenant), me) {
        return Err(unauthorized());
    }
    Ok(())
}

fn new_kind(role: GBaseRoleName) -> UserKind {
    match role {
        GBaseRoleName::Admin => UserKind::Admin,
        GBaseRoleName::Member => UserKind::Member,
        GBaseRoleName::Guest => UserKind::Guest,
        GBaseRoleName::ViewOnly => UserKind::ViewOnly,
    }
}

/// `CreateTeamAttributesInput`.
#[derive(async_graphql::InputObject)]
#[graphql(name = "CreateTeamAttributesInput", rename_fields = "snake_case")]
pub struct CreateTeamAttributesInput {
    pub name: String,
    pub is_guest_team: Option<bool>,
    pub parent_team_id: Option<ID>,
    pub subscriber_ids: Option<Vec<ID>>,
}

/// `CreateTeamOptionsInput`.
#[derive(async_graphql::InputObject)]
#[graphql(name = "CreateTeamOptionsInput", rename_fields = "snake_case")]
pub struct CreateTeamOptionsInput {
    pub allow_empty_team: Option<bool>,
}

// Mutation root ---------------------------------------------------------------------------------

/// A board or a workspace: the eight membership mutations (users or teams, added or removed)
/// are one resolver shape over [`membership`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Board,
    Workspace,
}

/// Whose lists change.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holders {
    Users,
    Teams,
}

#[derive(Clone, Copy)]
enum Change {
    /// Subscribe (and, for owners, own as well).
    Add { owner: bool },
    /// Unsubscribe and disown.
    Remove,
}

/// The (owners, subscribers) lists of `holders` on a place.
fn lists_mut(
    t: &mut Tenant,
    place: Place,
    id: i64,
    holders: Holders,
) -> Option<(&mut Vec<i64>, &mut Vec<i64>)> {
    match (place, holders) {
        (Place::Board, Holders::Users) => {
            t.board_mut(id).map(|b| (&mut b.owners, &mut b.subscribers))
        }
        (Place::Board, Holders::Teams) => t
            .board_mut(id)
            .map(|b| (&mut b.team_owners, &mut b.team_subscribers)),
        (Place::Workspace, Holders::Users) => t
            .workspace_mut(id)
            .map(|w| (&mut w.owners, &mut w.subscribers)),
        (Place::Workspace, Holders::Teams) => t
            .workspace_mut(id)
            .map(|w| (&mut w.team_owners, &mut w.team_subscribers)),
    }
}

/// A membership mutation on a board or workspace, as Monday checks it: the scope, the place
/// exists (not deleted), the caller is an admin or owns it, every id exists (team -1 only on
/// boards), and a board's member limits hold. Returns the tenant (for the result objects) and
/// the ids.
fn membership<'c>(
    ctx: &'c Context<'_>,
    place: Place,
    place_id: &ID,
    holders: Holders,
    raw_ids: &[ID],
    change: Change,
) -> Result<(std::sync::RwLockWriteGuard<'c, Tenant>, Vec<i64>)> {
    need(
        ctx,
        match place {
            Place::Board => "boards:write",
            Place::Workspace => "workspaces:write",
        },
    )?;
    let (id, ids) = (parse_id(place_id)?, parse_ids(raw_ids)?);
    let me = caller(ctx)?.user_id;
    let mut t = write(&shared(ctx)?.tenant);
    let owners = match place {
        Place::Board => t
            .board(id)
            .filter(|b| b.state != model::State::Deleted)
            .map(|b| b.owners.clone())
            .ok_or_else(|| board_not_found(id))?,
        Place::Workspace => t
            .workspace(id)
            .filter(|w| w.state != model::State::Deleted)
            .map(|w| w.owners.clone())
            .ok_or_else(|| not_found("Workspace", id))?,
    };
    if !is_admin(&t, me) && !sorted_contains(&owners, me) {
        return Err(unauthorized());
    }
    match holders {
        Holders::Users => existing_users(&t, &ids)?,
        Holders::Teams => existing_teams(&t, &ids, place == Place::Board)?,
    }
    let (owners, subscribers) = lists_mut(&mut t, place, id, holders).expect("checked");
    match change {
        Change::Add { owner } => {
            let mut after = subscribers.clone();
            for &i in &ids {
                sorted_insert(&mut after, i);
            }
            let limit = match (place, holders) {
                (Place::Board, Holders::Users) => Some((BOARD_MAX_USERS, "subscribers")),
                (Place::Board, Holders::Teams) => Some((BOARD_MAX_TEAMS, "team subscribers")),
                _ => None,
            };
            if let Some((max, what)) = limit
                && after.len() > max
            {
                return Err(record_invalid(format!(
                    "Board {id} would have {} {what}; the maximum is {max}",
                    after.len()
                )));
            }
            *subscribers = after;
            if owner {
                for &i in &ids {
                    sorted_insert(owners, i);
                }
            }
        }
        Change::Remove => {
            for &i in &ids {
                sorted_remove(subscribers, i);
                sorted_remove(owners, i);
            }
        }
    }
    Ok((t, ids))
}

pub struct MutationRoot;

#[Object(
    name = "Mutation",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl MutationRoot {
    /// Budget before/after this request, its cost and the seconds until the budget resets.
    #[graphql(complexity = "0")]
    async fn complexity(&self, ctx: &Context<'_>) -> Result<Option<ComplexityObj>> {
        complexity_of(ctx)
    }

    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn add_users_to_board(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        #[graphql(default_with = "Some(GBoardSubscriberKind::Subscriber)")] kind: Option<
            GBoardSubscriberKind,
        >,
        user_ids: Vec<ID>,
    ) -> Result<Option<Vec<Option<UserObj>>>> {
        let owner = kind == Some(GBoardSubscriberKind::Owner);
        let (t, ids) = membership(
            ctx,
            Place::Board,
            &board_id,
            Holders::Users,
            &user_ids,
            Change::Add { owner },
        )?;
        Ok(Some(users_out(&t, &ids).into_iter().map(Some).collect()))
    }

    /// Removes users from the board's subscribers and owners.
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn delete_subscribers_from_board(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Option<Vec<Option<UserObj>>>> {
        let (t, ids) = membership(
            ctx,
            Place::Board,
            &board_id,
            Holders::Users,
            &user_ids,
            Change::Remove,
        )?;
        Ok(Some(users_out(&t, &ids).into_iter().map(Some).collect()))
    }

    /// `team_ids: [-1]` subscribes everyone at the account.
    #[graphql(complexity = "crate::cost::mutation(team_ids.len(), child_complexity)")]
    async fn add_teams_to_board(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        #[graphql(default_with = "Some(GBoardSubscriberKind::Subscriber)")] kind: Option<
            GBoardSubscriberKind,
        >,
        team_ids: Vec<ID>,
    ) -> Result<Option<Vec<Option<TeamObj>>>> {
        let owner = kind == Some(GBoardSubscriberKind::Owner);
        let (t, ids) = membership(
            ctx,
            Place::Board,
            &board_id,
            Holders::Teams,
            &team_ids,
            Change::Add { owner },
        )?;
        Ok(Some(teams_out(&t, &ids)))
    }

    #[graphql(complexity = "crate::cost::mutation(team_ids.len(), child_complexity)")]
    async fn delete_teams_from_board(
        &self,
        ctx: &Context<'_>,
        board_id: ID,
        team_ids: Vec<ID>,
    ) -> Result<Option<Vec<Option<TeamObj>>>> {
        let (t, ids) = membership(
            ctx,
            Place::Board,
            &board_id,
            Holders::Teams,
            &team_ids,
            Change::Remove,
        )?;
        Ok(Some(teams_out(&t, &ids)))
    }

    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn add_users_to_workspace(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(GWorkspaceSubscriberKind::Subscriber)")] kind: Option<
            GWorkspaceSubscriberKind,
        >,
        user_ids: Vec<ID>,
        workspace_id: ID,
    ) -> Result<Option<Vec<Option<UserObj>>>> {
        let owner = kind == Some(GWorkspaceSubscriberKind::Owner);
        let (t, ids) = membership(
            ctx,
            Place::Workspace,
            &workspace_id,
            Holders::Users,
            &user_ids,
            Change::Add { owner },
        )?;
        Ok(Some(users_out(&t, &ids).into_iter().map(Some).collect()))
    }

    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn delete_users_from_workspace(
        &self,
        ctx: &Context<'_>,
        user_ids: Vec<ID>,
        workspace_id: ID,
    ) -> Result<Option<Vec<Option<UserObj>>>> {
        let (t, ids) = membership(
            ctx,
            Place::Workspace,
            &workspace_id,
            Holders::Users,
            &user_ids,
            Change::Remove,
        )?;
        Ok(Some(users_out(&t, &ids).into_iter().map(Some).collect()))
    }

    #[graphql(complexity = "crate::cost::mutation(team_ids.len(), child_complexity)")]
    async fn add_teams_to_workspace(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(GWorkspaceSubscriberKind::Subscriber)")] kind: Option<
            GWorkspaceSubscriberKind,
        >,
        team_ids: Vec<ID>,
        workspace_id: ID,
    ) -> Result<Option<Vec<Option<TeamObj>>>> {
        let owner = kind == Some(GWorkspaceSubscriberKind::Owner);
        let (t, ids) = membership(
            ctx,
            Place::Workspace,
            &workspace_id,
            Holders::Teams,
            &team_ids,
            Change::Add { owner },
        )?;
        Ok(Some(teams_out(&t, &ids)))
    }

    #[graphql(complexity = "crate::cost::mutation(team_ids.len(), child_complexity)")]
    async fn delete_teams_from_workspace(
        &self,
        ctx: &Context<'_>,
        team_ids: Vec<ID>,
        workspace_id: ID,
    ) -> Result<Option<Vec<Option<TeamObj>>>> {
        let (t, ids) = membership(
            ctx,
            Place::Workspace,
            &workspace_id,
            Holders::Teams,
            &team_ids,
            Change::Remove,
        )?;
        Ok(Some(teams_out(&t, &ids)))
    }

    /// Deactivated users, guests into a regular team and non-guests into a guest team fail.
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn add_users_to_team(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Option<ChangeTeamMembershipsResult>> {
        need(ctx, "teams:write")?;
        let (team_id, ids) = (parse_id(&team_id)?, parse_ids(&user_ids)?);
        let me = caller(ctx)?.user_id;
        let mut t = write(&shared(ctx)?.tenant);
        let team = t.team(team_id).ok_or_else(|| not_found("Team", team_id))?;
        if !is_admin(&t, me) && !sorted_contains(&team.owners, me) {
            return Err(unauthorized());
        }
        existing_users(&t, &ids)?;
        let guest_team = team.is_guest;
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for &id in &ids {
            let u = t.user(id).expect("checked");
            if u.status == UserStatus::Inactive || (u.kind == UserKind::Guest) != guest_team {
                failed.push(id);
            } else {
                ok.push(id);
            }
        }
        let team = t.team_mut(team_id).expect("checked");
        for &id in &ok {
            sorted_insert(&mut team.members, id);
        }
        Ok(Some(ChangeTeamMembershipsResult {
            failed_users: Some(users_out(&t, &failed)),
            successful_users: Some(users_out(&t, &ok)),
        }))
    }

    /// Also removes team ownership.
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn remove_users_from_team(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Option<ChangeTeamMembershipsResult>> {
        need(ctx, "teams:write")?;
        let (team_id, ids) = (parse_id(&team_id)?, parse_ids(&user_ids)?);
        let me = caller(ctx)?.user_id;
        let mut t = write(&shared(ctx)?.tenant);
        let team = t.team(team_id).ok_or_else(|| not_found("Team", team_id))?;
        if !is_admin(&t, me) && !sorted_contains(&team.owners, me) {
            return Err(unauthorized());
        }
        existing_users(&t, &ids)?;
        let team = t.team_mut(team_id).expect("checked");
        for &id in &ids {
            sorted_remove(&mut team.members, id);
            sorted_remove(&mut team.owners, id);
        }
        Ok(Some(ChangeTeamMembershipsResult {
            failed_users: Some(Vec::new()),
            successful_users: Some(users_out(&t, &ids)),
        }))
    }

    /// Owners must be members of the team and neither guests nor viewers.
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn assign_team_owners(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Option<AssignTeamOwnersResult>> {
        require_admin(ctx)?;
        need(ctx, "teams:write")?;
        let team_id = parse_id(&team_id)?;
        existing_team(ctx, team_id)?;
        let (t, _, failures) = bulk_users(ctx, &user_ids, Vec::new(), |t, id| {
            let guest_or_viewer = t
                .user(id)
                .is_some_and(|u| matches!(u.kind, UserKind::Guest | UserKind::ViewOnly));
            let Some(team) = t.team_mut(team_id) else {
                return Err(not_a_member(id, team_id));
            };
            if guest_or_viewer {
                Err(Failure {
                    code: Code::ViewersOrGuests,
                    user_id: Some(id),
                    message: "Viewers and guests cannot be team owners".into(),
                })
            } else if !sorted_contains(&team.members, id) {
                Err(not_a_member(id, team_id))
            } else {
                sorted_insert(&mut team.owners, id);
                Ok(())
            }
        })?;
        Ok(Some(AssignTeamOwnersResult {
            team: TeamObj::lookup(&t, team_id),
            errors: Some(
                failures
                    .into_iter()
                    .map(|f| AssignTeamOwnersError {
                        code: team_owner_error_code(f.code),
                        message: Some(f.message),
                        user_id: f.user_id.map(|i| ID(i.to_string())),
                    })
                    .collect(),
            ),
        }))
    }

    /// Removing a member who is not an owner is a no-op.
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn remove_team_owners(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        user_ids: Vec<ID>,
    ) -> Result<Option<RemoveTeamOwnersResult>> {
        require_admin(ctx)?;
        need(ctx, "teams:write")?;
        let team_id = parse_id(&team_id)?;
        existing_team(ctx, team_id)?;
        let (t, _, failures) = bulk_users(ctx, &user_ids, Vec::new(), |t, id| {
            let Some(team) = t
                .team_mut(team_id)
                .filter(|t| sorted_contains(&t.members, id))
            else {
                return Err(not_a_member(id, team_id));
            };
            sorted_remove(&mut team.owners, id);
            Ok(())
        })?;
        Ok(Some(RemoveTeamOwnersResult {
            team: TeamObj::lookup(&t, team_id),
            errors: Some(
                failures
                    .into_iter()
                    .map(|f| RemoveTeamOwnersError {
                        code: remove_owner_error_code(f.code),
                        message: Some(f.message),
                        user_id: f.user_id.map(|i| ID(i.to_string())),
                    })
                    .collect(),
            ),
        }))
    }

    /// Creates a team; subscribers are required unless `options.allow_empty_team` (admin only,
    /// like the other team-administration mutations here). Guests only in guest teams.
    #[graphql(complexity = "crate::cost::mutation(1, child_complexity)")]
    async fn create_team(
        &self,
        ctx: &Context<'_>,
        input: CreateTeamAttributesInput,
        options: Option<CreateTeamOptionsInput>,
    ) -> Result<Option<TeamObj>> {
        require_admin(ctx)?;
        need(ctx, "teams:write")?;
        let name = input.name.trim().to_string();
        if name.is_empty() {
            return Err(invalid_argument("Team name must not be empty"));
        }
        if input.parent_team_id.is_some() {
            return Err(invalid_argument(
                "parent_team_id is not supported by this emulator",
            ));
        }
        let members = parse_ids(&input.subscriber_ids.unwrap_or_default())?;
        let allow_empty = options.and_then(|o| o.allow_empty_team).unwrap_or(false);
        if members.is_empty() && !allow_empty {
            return Err(invalid_argument(
                "A team must have subscribers unless allow_empty_team is set",
            ));
        }
        let guest_team = input.is_guest_team.unwrap_or(false);
        let mut t = write(&shared(ctx)?.tenant);
        existing_users(&t, &members)?;
        for &id in &members {
            if (t.user(id).expect("checked").kind == UserKind::Guest) != guest_team {
                return Err(invalid_argument(
                    "guests can only join guest teams and other users only regular teams",
                ));
            }
        }
        let mut members = members;
        model::sort_dedup(&mut members);
        let id = t.add_team(model::Team {
            id: 0,
            name,
            is_guest: guest_team,
            members,
            owners: Vec::new(),
        });
        Ok(TeamObj::lookup(&t, id))
    }

    /// Deletes a team (and its board/workspace memberships). An unknown team is
    /// `ResourceNotFoundException`.
    #[graphql(complexity = "crate::cost::mutation(1, child_complexity)")]
    async fn delete_team(&self, ctx: &Context<'_>, team_id: ID) -> Result<Option<TeamObj>> {
        require_admin(ctx)?;
        need(ctx, "teams:write")?;
        let team_id = parse_id(&team_id)?;
        let mut t = write(&shared(ctx)?.tenant);
        let team = TeamObj::lookup(&t, team_id)
            .filter(|_| team_id != EVERYONE_TEAM)
            .ok_or_else(|| not_found("Team", team_id))?;
        t.remove_team(team_id);
        Ok(Some(team))
    }

    /// Creates PENDING users (role default MEMBER); an email already in the account is an `ERROR`.
    #[graphql(complexity = "crate::cost::mutation(emails.len(), child_complexity)")]
    async fn invite_users(
        &self,
        ctx: &Context<'_>,
        emails: Vec<String>,
        user_role: Option<GUserRole>,
        product: Option<GProduct>,
    ) -> Result<Option<InviteUsersResult>> {
        let _ = product;
        require_admin(ctx)?;
        let kind = match user_role.unwrap_or(GUserRole::Member) {
            GUserRole::Admin => UserKind::Admin,
            GUserRole::Member => UserKind::Member,
            GUserRole::Guest => UserKind::Guest,
            GUserRole::ViewOnly => UserKind::ViewOnly,
        };
        let mut t = write(&shared(ctx)?.tenant);
        let (mut invited, mut errors) = (Vec::new(), Vec::new());
        if emails.len() > BATCH_LIMIT {
            return Err(invalid_argument(format!(
                "Too many emails: {} (at most {BATCH_LIMIT} per call)",
                emails.len()
            )));
        }
        for email in emails {
            let e = email.trim().to_string();
            let valid = e
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
            let message = if !valid {
                Some("Invalid email address")
            } else if t.user_by_email(&e).is_some() {
                Some("A user with this email already exists in the account")
            } else {
                None
            };
            if let Some(m) = message {
                errors.push(InviteUsersError {
                    message: Some(m.into()),
                    code: Some(InviteUsersErrorCode::Error),
                    email: Some(ID(email)),
                });
                continue;
            }
            let name = e
                .split('@')
                .next()
                .unwrap_or_default()
                .replace(['.', '_'], " ");
            let id = t.add_user(model::User {
                id: 0,
                name,
                email: e,
                title: String::new(),
                kind,
                status: UserStatus::Pending,
                created_at: None,
            });
            invited.push(id);
        }
        Ok(Some(InviteUsersResult {
            invited_users: Some(users_out(&t, &invited)),
            errors: Some(errors),
        }))
    }

    /// Reactivates deactivated users; active users are reported as activated (no-op).
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn activate_users(
        &self,
        ctx: &Context<'_>,
        user_ids: Vec<ID>,
    ) -> Result<Option<ActivateUsersResult>> {
        require_admin(ctx)?;
        let (t, done, failures) = bulk_users(ctx, &user_ids, Vec::new(), |t, id| {
            set_status(
                t,
                id,
                UserStatus::Active,
                "User has a pending invitation; it must be accepted before the user can be activated",
            )
        })?;
        Ok(Some(ActivateUsersResult {
            activated_users: Some(users_out(&t, &done)),
            errors: Some(
                failures
                    .into_iter()
                    .map(|f| into_error!(f, ActivateUsersError, ActivateUsersErrorCode))
                    .collect(),
            ),
        }))
    }

    /// Pending (invited) users cannot be deactivated: per-user `FAILED`.
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn deactivate_users(
        &self,
        ctx: &Context<'_>,
        user_ids: Vec<ID>,
    ) -> Result<Option<DeactivateUsersResult>> {
        require_admin(ctx)?;
        let (t, done, failures) = bulk_users(ctx, &user_ids, Vec::new(), |t, id| {
            set_status(
                t,
                id,
                UserStatus::Inactive,
                "Pending users cannot be deactivated: the invitation has not been accepted",
            )
        })?;
        Ok(Some(DeactivateUsersResult {
            deactivated_users: Some(users_out(&t, &done)),
            errors: Some(
                failures
                    .into_iter()
                    .map(|f| into_error!(f, DeactivateUsersError, DeactivateUsersErrorCode))
                    .collect(),
            ),
        }))
    }

    /// Sets the base role. Custom roles (`role_id`) are not emulated: `INVALID_INPUT`.
    #[graphql(complexity = "crate::cost::mutation(user_ids.len(), child_complexity)")]
    async fn update_users_role(
        &self,
        ctx: &Context<'_>,
        user_ids: Vec<ID>,
        new_role: Option<GBaseRoleName>,
        role_id: Option<ID>,
    ) -> Result<Option<UpdateUsersRoleResult>> {
        require_admin(ctx)?;
        let invalid = |message: &str| Failure {
            code: Code::InvalidInput,
            user_id: None,
            message: message.into(),
        };
        let (kind, refused) = match (new_role, role_id) {
            (Some(r), None) => (new_kind(r), vec![]),
            (_, Some(_)) => (
                UserKind::Member,
                vec![invalid(
                    "Custom roles (role_id) are not supported by the emulator",
                )],
            ),
            (None, None) => (
                UserKind::Member,
                vec![invalid("Either new_role or role_id is required")],
            ),
        };
        let (t, done, failures) = bulk_users(ctx, &user_ids, refused, |t, id| {
            t.user_mut(id).expect("checked").kind = kind;
            Ok(())
        })?;
        Ok(Some(UpdateUsersRoleResult {
            updated_users: Some(users_out(&t, &done)),
            errors: Some(
                failures
                    .into_iter()
                    .map(|f| into_error!(f, UpdateUsersRoleError, UpdateUsersRoleErrorCode))
                    .collect(),
            ),
        }))
    }
}
