//! GraphQL types mirroring `schema/monday-2026-10.graphql` (names, nullability, arguments and
//! defaults are checked by `tests/sdl.rs`) and the query resolvers.
//!
//! Objects are small snapshots of model records; list fields look the tenant up when resolved, so a
//! page of boards never copies the whole account.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{
    Context, EmptySubscription, Enum, Error, ErrorExtensions, ID, InputValueError,
    InputValueResult, Object, Result, Scalar, ScalarType, Schema, ServerError, SimpleObject,
    ValidationResult, Value,
};

use crate::limits::Charge;
use crate::model::{self, EVERYONE_TEAM, Tenant, UserKind, UserStatus};
use crate::state::{Shared, lock, read};

pub(crate) type MondaySchema = Schema<QueryRoot, crate::mutation::MutationRoot, EmptySubscription>;

/// The schema bound to an emulator's state.
pub(crate) fn build(shared: Arc<Shared>) -> MondaySchema {
    Schema::build(QueryRoot, crate::mutation::MutationRoot, EmptySubscription)
        .data(shared)
        .extension(CostCharger)
        .finish()
}

/// The SDL the emulator serves (for the schema-conformance test and `--print-schema`).
pub fn sdl() -> String {
    Schema::build(QueryRoot, crate::mutation::MutationRoot, EmptySubscription)
        .finish()
        .sdl()
}

// ---------------------------------------------------------------------------------------------
// Per-request context

/// Who is calling, set by the HTTP layer for each request.
pub(crate) struct Caller {
    pub user_id: i64,
    pub token: String,
    pub scopes: Option<Arc<HashSet<String>>>,
    pub version: String,
    pub cost: Arc<Mutex<CostOutcome>>,
}

/// Written by [`CostCharger`], read by the `complexity` field and the HTTP layer.
#[derive(Debug, Default)]
pub(crate) struct CostOutcome {
    pub charge: Option<Charge>,
    /// Budget exhausted: retry in this many seconds (the HTTP layer answers 429).
    pub throttled: Option<u64>,
}

/// Charges each validated query to the caller's complexity budget before it executes.
struct CostCharger;

impl ExtensionFactory for CostCharger {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CostCharger)
    }
}

#[async_trait::async_trait]
impl Extension for CostCharger {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let res = next.run(ctx).await?;
        let (Some(shared), Some(caller)) =
            (ctx.data_opt::<Arc<Shared>>(), ctx.data_opt::<Caller>())
        else {
            return Ok(res);
        };
        let cost = res.complexity as u64;
        let limits = read(&shared.limits).clone();
        if cost > limits.max_query_complexity {
            let mut e = ServerError::new(
                format!(
                    "Query has complexity of {cost}, which exceeds max complexity of {}",
                    limits.max_query_complexity
                ),
                None,
            );
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "maxComplexityExceeded");
            ext.set("status_code", 400);
            ext.set("complexity", cost);
            ext.set("max_complexity", limits.max_query_complexity);
            e.extensions = Some(ext);
            return Err(vec![e]);
        }
        let charged = lock(&shared.meter).charge(&caller.token, cost, &limits, Instant::now());
        match charged {
            Ok(ch) => {
                lock(&shared.stats).complexity_used += cost;
                lock(&caller.cost).charge = Some(ch);
                Ok(res)
            }
            Err(retry) => {
                lock(&caller.cost).throttled = Some(retry);
                Err(vec![ServerError::new("Complexity budget exhausted", None)])
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An application error in Monday's 2025-01+ shape (`extensions.code`, `status_code`, `error_data`).
pub(crate) fn api_error(code: &str, status: u16, message: impl Into<String>) -> Error {
    api_error_data(code, status, message, Value::Object(Default::default()))
}

pub(crate) fn api_error_data(
    code: &str,
    status: u16,
    message: impl Into<String>,
    data: Value,
) -> Error {
    Error::new(message).extend_with(|_, e| {
        e.set("code", code);
        e.set("status_code", status);
        e.set("error_data", data);
    })
}

pub(crate) fn unauthorized() -> Error {
    api_error(
        "USER_UNAUTHORIZED",
        403,
        "User unauthorized to perform action",
    )
}

pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
    api_error("InvalidArgumentException", 400, message)
}

fn missing_scope(scope: &str) -> Error {
    let mut data = async_graphql::indexmap::IndexMap::new();
    data.insert(
        async_graphql::Name::new("required_scopes"),
        Value::List(vec![Value::String(scope.to_string())]),
    );
    api_error_data(
        "missingRequiredPermissions",
        403,
        format!("Permission Denied! Your token doesn't grant access to {scope}"),
        Value::Object(data),
    )
}

pub(crate) fn caller<'a>(ctx: &Context<'a>) -> Result<&'a Caller> {
    ctx.data::<Caller>()
}

pub(crate) fn shared<'a>(ctx: &Context<'a>) -> Result<&'a Arc<Shared>> {
    ctx.data::<Arc<Shared>>()
}

/// Fails with `missingRequiredPermissions` unless the caller's token has `scope`.
pub(crate) fn need(ctx: &Context<'_>, scope: &str) -> Result<()> {
    match &caller(ctx)?.scopes {
        Some(s) if !s.contains(scope) => Err(missing_scope(scope)),
        _ => Ok(()),
    }
}

pub(crate) fn parse_id(id: &ID) -> Result<i64> {
    id.as_str()
        .trim()
        .parse::<i64>()
        .map_err(|_| invalid_argument(format!("Invalid ID: {:?}", id.as_str())))
}

pub(crate) fn parse_ids(ids: &[ID]) -> Result<Vec<i64>> {
    ids.iter().map(parse_id).collect()
}

fn id_of(n: i64) -> ID {
    ID(n.to_string())
}

/// Page slicing shared by every paged list. Pages start at 1; a page below 1 is treated as 1.
fn paginate<T>(
    items: impl Iterator<Item = T>,
    limit: Option<i32>,
    page: Option<i32>,
    default_limit: usize,
) -> Result<Vec<T>> {
    let limit = match limit {
        Some(l) if l < 1 => return Err(invalid_argument("Limit must be a positive integer.")),
        Some(l) => l as usize,
        None => default_limit,
    };
    let page = page.unwrap_or(1).max(1) as usize;
    Ok(items
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Scalars and enums

/// `ISO8601DateTime`: an ISO-8601 timestamp string.
pub struct Iso8601DateTime(pub String);

#[Scalar(name = "ISO8601DateTime")]
impl ScalarType for Iso8601DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Self(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// `Date`: a date string.
pub struct Date(pub String);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Self(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "UserStatus")]
pub enum GUserStatus {
    Active,
    Inactive,
    Pending,
}

impl From<UserStatus> for GUserStatus {
    fn from(s: UserStatus) -> Self {
        match s {
            UserStatus::Active => GUserStatus::Active,
            UserStatus::Inactive => GUserStatus::Inactive,
            UserStatus::Pending => GUserStatus::Pending,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "UserKind", rename_items = "snake_case")]
pub enum GUserKind {
    All,
    Guests,
    NonGuests,
    NonPending,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "UserRole")]
pub enum GUserRole {
    Guest,
    ViewOnly,
    Member,
    Admin,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BaseRoleName")]
pub enum GBaseRoleName {
    Guest,
    ViewOnly,
    Member,
    Admin,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "State", rename_items = "lowercase")]
pub enum GState {
    Active,
    All,
    Archived,
    Deleted,
}

impl From<model::State> for GState {
    fn from(s: model::State) -> Self {
        match s {
            model::State::Active => GState::Active,
            model::State::Archived => GState::Archived,
            model::State::Deleted => GState::Deleted,
        }
    }
}

impl GState {
    fn matches(self, s: model::State) -> bool {
        self == GState::All || GState::from(s) == self
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "WorkspaceKind", rename_items = "lowercase")]
pub enum GWorkspaceKind {
    Closed,
    Open,
    Template,
}

impl From<model::WorkspaceKind> for GWorkspaceKind {
    fn from(k: model::WorkspaceKind) -> Self {
        match k {
            model::WorkspaceKind::Open => GWorkspaceKind::Open,
            model::WorkspaceKind::Closed => GWorkspaceKind::Closed,
            model::WorkspaceKind::Template => GWorkspaceKind::Template,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BoardKind", rename_items = "lowercase")]
pub enum GBoardKind {
    Private,
    Public,
    Share,
}

impl From<model::BoardKind> for GBoardKind {
    fn from(k: model::BoardKind) -> Self {
        match k {
            model::BoardKind::Public => GBoardKind::Public,
            model::BoardKind::Private => GBoardKind::Private,
            model::BoardKind::Share => GBoardKind::Share,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BoardHierarchy", rename_items = "snake_case")]
pub enum GBoardHierarchy {
    Classic,
    MultiLevel,
}

impl From<model::Hierarchy> for GBoardHierarchy {
    fn from(h: model::Hierarchy) -> Self {
        match h {
            model::Hierarchy::Classic => GBoardHierarchy::Classic,
            model::Hierarchy::MultiLevel => GBoardHierarchy::MultiLevel,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BoardObjectType", rename_items = "snake_case")]
pub enum GBoardObjectType {
    Board,
    CustomObject,
    Document,
    SubItemsBoard,
}

impl From<model::BoardType> for GBoardObjectType {
    fn from(t: model::BoardType) -> Self {
        match t {
            model::BoardType::Board => GBoardObjectType::Board,
            model::BoardType::CustomObject => GBoardObjectType::CustomObject,
            model::BoardType::Document => GBoardObjectType::Document,
            model::BoardType::SubItemsBoard => GBoardObjectType::SubItemsBoard,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "BoardSubscriberKind", rename_items = "lowercase")]
pub enum GBoardSubscriberKind {
    Owner,
    Subscriber,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "WorkspaceSubscriberKind", rename_items = "lowercase")]
pub enum GWorkspaceSubscriberKind {
    Owner,
    Subscriber,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Product", rename_items = "snake_case")]
pub enum GProduct {
    WorkManagement,
    Crm,
    Dev,
    Service,
    Whiteboard,
    Knowledge,
    Forms,
    Workflows,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "VersionKind", rename_items = "snake_case")]
pub enum GVersionKind {
    Current,
    Deprecated,
    Dev,
    Maintenance,
    #[graphql(name = "old__maintenance")]
    OldMaintenance,
    OldPreviousMaintenance,
    PreviousMaintenance,
    ReleaseCandidate,
}

// ---------------------------------------------------------------------------------------------
// Objects

#[derive(SimpleObject)]
#[graphql(name = "Complexity", rename_fields = "snake_case")]
pub struct ComplexityObj {
    pub after: i32,
    pub before: i32,
    pub query: i32,
    pub reset_in_x_seconds: i32,
}

fn clamp(n: u64) -> i32 {
    n.min(i32::MAX as u64) as i32
}

/// The `complexity` field of both roots.
pub(crate) fn complexity_of(ctx: &Context<'_>) -> Result<Option<ComplexityObj>> {
    let c = caller(ctx)?;
    let ch = lock(&c.cost).charge.unwrap_or_default();
    Ok(Some(ComplexityObj {
        after: clamp(ch.after),
        before: clamp(ch.before),
        query: clamp(ch.cost),
        reset_in_x_seconds: clamp(ch.reset_in_seconds),
    }))
}

#[derive(SimpleObject)]
#[graphql(name = "Version", rename_fields = "snake_case")]
pub struct VersionObj {
    pub display_name: String,
    pub kind: GVersionKind,
    pub value: String,
}

#[derive(SimpleObject)]
#[graphql(name = "Plan", rename_fields = "snake_case")]
pub struct PlanObj {
    pub max_users: i32,
    pub period: Option<String>,
    pub tier: Option<String>,
    pub version: i32,
}

pub struct AccountObj;

#[Object(
    name = "Account",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl AccountObj {
    async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        Ok(id_of(read(&shared(ctx)?.tenant).account.id))
    }
    async fn name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(read(&shared(ctx)?.tenant).account.name.clone())
    }
    async fn slug(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(read(&shared(ctx)?.tenant).account.slug.clone())
    }
    async fn tier(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(Some(read(&shared(ctx)?.tenant).account.tier.clone()))
    }
    async fn plan(&self, ctx: &Context<'_>) -> Result<Option<PlanObj>> {
        let t = read(&shared(ctx)?.tenant);
        Ok(Some(PlanObj {
            max_users: t.account.max_users,
            period: Some("yearly".into()),
            tier: Some(t.account.tier.clone()),
            version: 1,
        }))
    }
    /// Active users that are neither guests nor viewers.
    async fn active_members_count(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        let t = read(&shared(ctx)?.tenant);
        let n = t
            .users
            .iter()
            .filter(|u| {
                u.status == UserStatus::Active
                    && matches!(u.kind, UserKind::Admin | UserKind::Member)
            })
            .count();
        Ok(Some(n as i32))
    }
}

/// A user snapshot.
#[derive(Clone)]
pub struct UserObj(pub model::User);

#[Object(
    name = "User",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl UserObj {
    async fn id(&self) -> ID {
        id_of(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        let slug = read(&shared(ctx)?.tenant).account.slug.clone();
        Ok(format!("https://{slug}.monday.com/users/{}", self.0.id))
    }
    async fn kind(&self) -> &str {
        self.0.kind.as_api()
    }
    async fn status(&self) -> GUserStatus {
        self.0.status.into()
    }
    async fn created_at(&self) -> Iso8601DateTime {
        Iso8601DateTime(
            self.0
                .created_at
                .clone()
                .unwrap_or_else(|| model::iso8601(model::derived_created_secs(self.0.id))),
        )
    }
    /// Null while the invitation is pending.
    async fn became_active_at(&self) -> Option<Iso8601DateTime> {
        (self.0.status != UserStatus::Pending).then(|| {
            Iso8601DateTime(model::iso8601(
                model::derived_created_secs(self.0.id) + 3_600,
            ))
        })
    }
    async fn last_activity(&self) -> Option<Date> {
        (self.0.status != UserStatus::Pending).then(|| {
            let s = model::derived_created_secs(self.0.id) + 86_400 * 30;
            Date(model::iso8601(s)[..10].to_string())
        })
    }
    async fn is_email_confirmed(&self) -> bool {
        self.0.status != UserStatus::Pending
    }
    async fn is_deleted(&self) -> bool {
        false
    }
    #[graphql(complexity = "crate::cost::list(None, crate::cost::count(&ids), child_complexity)")]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> Result<Option<Vec<Option<TeamObj>>>> {
        need(ctx, "teams:read")?;
        let wanted = ids.as_deref().map(parse_ids).transpose()?;
        let t = read(&shared(ctx)?.tenant);
        Ok(Some(
            t.teams
                .iter()
                .filter(|tm| model::sorted_contains(&tm.members, self.0.id))
                .filter(|tm| wanted.as_ref().is_none_or(|w| w.contains(&tm.id)))
                .map(|tm| Some(TeamObj::of(tm)))
                .collect(),
        ))
    }
}

/// Which users a `users` list returns.
pub(crate) struct UserFilter {
    ids: Option<HashSet<i64>>,
    emails: Option<HashSet<String>>,
    statuses: Vec<UserStatus>,
    kind: Option<GUserKind>,
    name: Option<String>,
}

impl UserFilter {
    fn new(
        ids: Option<&[ID]>,
        emails: Option<Vec<String>>,
        status: Option<Vec<GUserStatus>>,
        kind: Option<GUserKind>,
        name: Option<String>,
        non_active: Option<bool>,
    ) -> Result<Self> {
        let statuses = match (status, non_active) {
            (Some(s), _) => s
                .into_iter()
                .map(|s| match s {
                    GUserStatus::Active => UserStatus::Active,
                    GUserStatus::Inactive => UserStatus::Inactive,
                    GUserStatus::Pending => UserStatus::Pending,
                })
                .collect(),
            (None, Some(true)) => vec![UserStatus::Inactive],
            (None, _) => vec![UserStatus::Active, UserStatus::Pending],
        };
        Ok(UserFilter {
            ids: ids
                .map(|ids| parse_ids(ids).map(|v| v.into_iter().collect()))
                .transpose()?,
            emails: emails.map(|e| e.into_iter().map(|e| e.to_lowercase()).collect()),
            statuses,
            kind,
            name: name.map(|n| n.to_lowercase()),
        })
    }

    fn matches(&self, u: &model::User) -> bool {
        self.statuses.contains(&u.status)
            && self.ids.as_ref().is_none_or(|s| s.contains(&u.id))
            && self
                .emails
                .as_ref()
                .is_none_or(|s| s.contains(&u.email.to_lowercase()))
            && match self.kind {
                None | Some(GUserKind::All) => true,
                Some(GUserKind::Guests) => u.kind == UserKind::Guest,
                Some(GUserKind::NonGuests) => u.kind != UserKind::Guest,
                Some(GUserKind::NonPending) => u.status != UserStatus::Pending,
            }
            && self
                .name
                .as_ref()
                .is_none_or(|n| u.name.to_lowercase().contains(n))
    }
}

/// Users of the sorted ID list `ids` that appear in lists (not deactivated), as objects.
fn listed_users(t: &Tenant, ids: &[i64]) -> impl Iterator<Item = UserObj> {
    ids.iter()
        .filter_map(|id| t.user(*id))
        .filter(|u| u.status != UserStatus::Inactive)
        .map(|u| UserObj(u.clone()))
}

/// A team snapshot (members are looked up when asked for). ID -1 is "everyone at the account".
#[derive(Clone)]
pub struct TeamObj {
    pub id: i64,
    pub name: String,
    pub is_guest: bool,
}

impl TeamObj {
    pub(crate) fn of(t: &model::Team) -> Self {
        TeamObj {
            id: t.id,
            name: t.name.clone(),
            is_guest: t.is_guest,
        }
    }

    /// Resolves a team ID of a membership list (including -1).
    pub(crate) fn lookup(t: &Tenant, id: i64) -> Option<Self> {
        if id == EVERYONE_TEAM {
            return Some(TeamObj {
                id,
                name: format!("Everyone at {}", t.account.name),
                is_guest: false,
            });
        }
        t.team(id).map(TeamObj::of)
    }
}

#[Object(
    name = "Team",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl TeamObj {
    async fn id(&self) -> ID {
        id_of(self.id)
    }
    async fn name(&self) -> &str {
        &self.name
    }
    async fn is_guest(&self) -> Option<bool> {
        Some(self.is_guest)
    }
    async fn picture_url(&self) -> Option<String> {
        None
    }
    #[graphql(complexity = "crate::cost::list(None, crate::cost::count(&ids), child_complexity)")]
    async fn owners(&self, ctx: &Context<'_>, ids: Option<Vec<ID>>) -> Result<Vec<UserObj>> {
        let wanted = ids.as_deref().map(parse_ids).transpose()?;
        let t = read(&shared(ctx)?.tenant);
        let Some(team) = t.team(self.id) else {
            return Ok(Vec::new());
        };
        Ok(listed_users(&t, &team.owners)
            .filter(|u| wanted.as_ref().is_none_or(|w| w.contains(&u.0.id)))
            .collect())
    }
    /// Legacy-style arguments (no default limit: all members when omitted).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(limit, crate::cost::count(&ids), child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        emails: Option<Vec<Option<String>>>,
        ids: Option<Vec<ID>>,
        kind: Option<GUserKind>,
        limit: Option<i32>,
        name: Option<String>,
        newest_first: Option<bool>,
        non_active: Option<bool>,
        page: Option<i32>,
    ) -> Result<Option<Vec<Option<UserObj>>>> {
        let filter = UserFilter::new(
            ids.as_deref(),
            emails.map(|e| e.into_iter().flatten().collect()),
            None,
            kind,
            name,
            non_active,
        )?;
        let t = read(&shared(ctx)?.tenant);
        let Some(team) = t.team(self.id) else {
            return Ok(Some(Vec::new()));
        };
        let members = team
            .members
            .iter()
            .filter_map(|id| t.user(*id))
            .filter(|u| filter.matches(u));
        let members: Vec<&model::User> = if newest_first == Some(true) {
            let mut v: Vec<_> = members.collect();
            v.reverse();
            v
        } else {
            members.collect()
        };
        let limit = limit.or(Some(i32::MAX));
        Ok(Some(
            paginate(members.into_iter(), limit, page, usize::MAX)?
                .into_iter()
                .map(|u| Some(UserObj(u.clone())))
                .collect(),
        ))
    }
}

/// A workspace snapshot.
#[derive(Clone)]
pub struct WorkspaceObj(pub model::Workspace);

#[Object(
    name = "Workspace",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl WorkspaceObj {
    async fn id(&self) -> Option<ID> {
        Some(id_of(self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> Option<GWorkspaceKind> {
        Some(self.0.kind.into())
    }
    async fn state(&self) -> Option<GState> {
        Some(self.0.state.into())
    }
    async fn description(&self) -> Option<String> {
        self.0.description.clone()
    }
    /// The Main workspace is not listed (pre-migration account), so never true here.
    async fn is_default_workspace(&self) -> Option<bool> {
        Some(false)
    }
    #[graphql(complexity = "crate::cost::list(limit, None, child_complexity)")]
    async fn owners_subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
    ) -> Result<Option<Vec<Option<UserObj>>>> {
        need(ctx, "users:read")?;
        let t = read(&shared(ctx)?.tenant);
        let v = paginate(listed_users(&t, &self.0.owners), limit, page, 25)?;
        Ok(Some(v.into_iter().map(Some).collect()))
    }
    #[graphql(complexity = "crate::cost::list(limit, None, child_complexity)")]
    async fn users_subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
    ) -> Result<Option<Vec<Option<UserObj>>>> {
        need(ctx, "users:read")?;
        let t = read(&shared(ctx)?.tenant);
        let v = paginate(listed_users(&t, &self.0.subscribers), limit, page, 25)?;
        Ok(Some(v.into_iter().map(Some).collect()))
    }
    #[graphql(complexity = "crate::cost::list(limit, None, child_complexity)")]
    async fn team_owners_subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
    ) -> Result<Option<Vec<TeamObj>>> {
        need(ctx, "teams:read")?;
        let t = read(&shared(ctx)?.tenant);
        let teams = self
            .0
            .team_owners
            .iter()
            .filter_map(|id| TeamObj::lookup(&t, *id));
        Ok(Some(paginate(teams, limit, page, 25)?))
    }
    #[graphql(complexity = "crate::cost::list(limit, None, child_complexity)")]
    async fn teams_subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
    ) -> Result<Option<Vec<Option<TeamObj>>>> {
        need(ctx, "teams:read")?;
        let t = read(&shared(ctx)?.tenant);
        let teams = self
            .0
            .team_subscribers
            .iter()
            .filter_map(|id| TeamObj::lookup(&t, *id));
        Ok(Some(
            paginate(teams, limit, page, 25)?
                .into_iter()
                .map(Some)
                .collect(),
        ))
    }
}

/// A board snapshot.
#[derive(Clone)]
pub struct BoardObj(pub model::Board);

#[Object(
    name = "Board",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl BoardObj {
    async fn id(&self) -> ID {
        id_of(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn board_kind(&self) -> GBoardKind {
        self.0.board_kind.into()
    }
    async fn state(&self) -> GState {
        self.0.state.into()
    }
    #[graphql(name = "type")]
    async fn board_type(&self) -> Option<GBoardObjectType> {
        Some(self.0.board_type.into())
    }
    async fn hierarchy_type(&self) -> Option<GBoardHierarchy> {
        Some(self.0.hierarchy.into())
    }
    async fn permissions(&self) -> &str {
        &self.0.permissions
    }
    /// Null for Main-workspace boards.
    async fn workspace_id(&self) -> Option<ID> {
        self.0.workspace_id.map(id_of)
    }
    /// Null for Main-workspace boards.
    async fn workspace(&self, ctx: &Context<'_>) -> Result<Option<WorkspaceObj>> {
        let Some(w) = self.0.workspace_id else {
            return Ok(None);
        };
        let t = read(&shared(ctx)?.tenant);
        Ok(t.workspace(w).map(|w| WorkspaceObj(w.clone())))
    }
    #[graphql(complexity = "crate::cost::list(None, None, child_complexity)")]
    async fn owners(&self, ctx: &Context<'_>) -> Result<Vec<Option<UserObj>>> {
        let t = read(&shared(ctx)?.tenant);
        Ok(listed_users(&t, &self.0.owners).map(Some).collect())
    }
    #[graphql(complexity = "crate::cost::list(None, None, child_complexity)")]
    async fn subscribers(&self, ctx: &Context<'_>) -> Result<Vec<Option<UserObj>>> {
        let t = read(&shared(ctx)?.tenant);
        Ok(listed_users(&t, &self.0.subscribers).map(Some).collect())
    }
    #[graphql(complexity = "crate::cost::list(limit, None, child_complexity)")]
    async fn team_owners(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
    ) -> Result<Option<Vec<TeamObj>>> {
        let t = read(&shared(ctx)?.tenant);
        let teams = self
            .0
            .team_owners
            .iter()
            .filter_map(|id| TeamObj::lookup(&t, *id));
        Ok(Some(paginate(teams, limit, page, 25)?))
    }
    #[graphql(complexity = "crate::cost::list(limit, None, child_complexity)")]
    async fn team_subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
    ) -> Result<Option<Vec<TeamObj>>> {
        let t = read(&shared(ctx)?.tenant);
        let teams = self
            .0
            .team_subscribers
            .iter()
            .filter_map(|id| TeamObj::lookup(&t, *id));
        Ok(Some(paginate(teams, limit, page, 25)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Query root

pub struct QueryRoot;

/// `API-Version` values and their lifecycle kind, as the emulator reports them.
pub(crate) fn version_kind(v: &str) -> GVersionKind {
    match v {
        "dev" => GVersionKind::Dev,
        crate::CURRENT_API_VERSION => GVersionKind::Current,
        "2027-01" => GVersionKind::ReleaseCandidate,
        "2026-07" => GVersionKind::Maintenance,
        "2026-04" => GVersionKind::PreviousMaintenance,
        _ => GVersionKind::OldPreviousMaintenance,
    }
}

#[Object(
    name = "Query",
    rename_fields = "snake_case",
    rename_args = "snake_case"
)]
impl QueryRoot {
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<UserObj>> {
        need(ctx, "me:read")?;
        let c = caller(ctx)?;
        let t = read(&shared(ctx)?.tenant);
        Ok(t.user(c.user_id).map(|u| UserObj(u.clone())))
    }

    async fn account(&self, ctx: &Context<'_>) -> Result<Option<AccountObj>> {
        need(ctx, "account:read")?;
        Ok(Some(AccountObj))
    }

    /// Budget before/after this query, its cost and the seconds until the budget resets.
    #[graphql(complexity = "0")]
    async fn complexity(&self, ctx: &Context<'_>) -> Result<Option<ComplexityObj>> {
        complexity_of(ctx)
    }

    async fn version(&self, ctx: &Context<'_>) -> Result<VersionObj> {
        let v = caller(ctx)?.version.clone();
        let kind = version_kind(&v);
        Ok(VersionObj {
            display_name: format!("{v} ({kind:?})"),
            kind,
            value: v,
        })
    }

    /// Defaults: active and pending users, 200 per page (max 1000), pages from 1, oldest first.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(limit, crate::cost::count(&ids), child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        emails: Option<Vec<String>>,
        status: Option<Vec<GUserStatus>>,
        #[graphql(default_with = "Some(200)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
        kind: Option<GUserKind>,
        non_active: Option<bool>,
        newest_first: Option<bool>,
    ) -> Result<Option<Vec<UserObj>>> {
        need(ctx, "users:read")?;
        if limit.is_some_and(|l| l > 1000) {
            return Err(invalid_argument(
                "Limit exceeds the maximum allowed value of 1000.",
            ));
        }
        let filter = UserFilter::new(ids.as_deref(), emails, status, kind, None, non_active)?;
        let t = read(&shared(ctx)?.tenant);
        let it = t.users.iter().filter(|u| filter.matches(u));
        let page_items = if newest_first == Some(true) {
            paginate(it.rev(), limit, page, 200)?
        } else {
            paginate(it, limit, page, 200)?
        };
        Ok(Some(
            page_items.into_iter().map(|u| UserObj(u.clone())).collect(),
        ))
    }

    /// All teams (no paging in the API).
    #[graphql(complexity = "crate::cost::list(None, crate::cost::count(&ids), child_complexity)")]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> Result<Option<Vec<Option<TeamObj>>>> {
        need(ctx, "teams:read")?;
        let wanted = ids.as_deref().map(parse_ids).transpose()?;
        let t = read(&shared(ctx)?.tenant);
        Ok(Some(
            t.teams
                .iter()
                .filter(|tm| wanted.as_ref().is_none_or(|w| w.contains(&tm.id)))
                .map(|tm| Some(TeamObj::of(tm)))
                .collect(),
        ))
    }

    /// Defaults: active workspaces, 25 per page. The Main workspace is not listed.
    #[graphql(complexity = "crate::cost::list(limit, crate::cost::count(&ids), child_complexity)")]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        kind: Option<GWorkspaceKind>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
        #[graphql(default_with = "Some(GState::Active)")] state: Option<GState>,
    ) -> Result<Option<Vec<Option<WorkspaceObj>>>> {
        need(ctx, "workspaces:read")?;
        let wanted: Option<HashSet<i64>> = ids
            .as_deref()
            .map(|i| parse_ids(i).map(|v| v.into_iter().collect()))
            .transpose()?;
        let state = state.unwrap_or(GState::Active);
        let t = read(&shared(ctx)?.tenant);
        let it = t.workspaces.iter().filter(|w| {
            wanted.as_ref().is_none_or(|s| s.contains(&w.id))
                && kind.is_none_or(|k| GWorkspaceKind::from(w.kind) == k)
                && state.matches(w.state)
        });
        Ok(Some(
            paginate(it, limit, page, 25)?
                .into_iter()
                .map(|w| Some(WorkspaceObj(w.clone())))
                .collect(),
        ))
    }

    /// Defaults: active boards, 25 per page, ordered by ID; without `hierarchy_types` only classic
    /// boards unless `ids` are given; `workspace_ids: [null]` selects Main-workspace boards.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::cost::list(limit, crate::cost::count(&ids), child_complexity)")]
    async fn boards(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
        board_kind: Option<GBoardKind>,
        hierarchy_types: Option<Vec<GBoardHierarchy>>,
        #[graphql(default_with = "Some(25)")] limit: Option<i32>,
        #[graphql(default_with = "Some(1)")] page: Option<i32>,
        #[graphql(default_with = "Some(GState::Active)")] state: Option<GState>,
        workspace_ids: Option<Vec<Option<ID>>>,
    ) -> Result<Option<Vec<Option<BoardObj>>>> {
        need(ctx, "boards:read")?;
        let wanted: Option<HashSet<i64>> = ids
            .as_deref()
            .map(|i| parse_ids(i).map(|v| v.into_iter().collect()))
            .transpose()?;
        let workspaces: Option<Vec<Option<i64>>> = workspace_ids
            .map(|ws| {
                ws.iter()
                    .map(|w| w.as_ref().map(parse_id).transpose())
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let hierarchies = match (&hierarchy_types, &wanted) {
            (Some(h), _) => Some(h.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(vec![GBoardHierarchy::Classic]),
        };
        let state = state.unwrap_or(GState::Active);
        let t = read(&shared(ctx)?.tenant);
        let it = t.boards.iter().filter(|b| {
            wanted.as_ref().is_none_or(|s| s.contains(&b.id))
                && board_kind.is_none_or(|k| GBoardKind::from(b.board_kind) == k)
                && state.matches(b.state)
                && hierarchies
                    .as_ref()
                    .is_none_or(|h| h.contains(&b.hierarchy.into()))
                && workspaces
                    .as_ref()
                    .is_none_or(|ws| ws.contains(&b.workspace_id))
        });
        Ok(Some(
            paginate(it, limit, page, 25)?
                .into_iter()
                .map(|b| Some(BoardObj(b.clone())))
                .collect(),
        ))
    }
}
