//! Full reads for a sync: account, users, teams, workspaces and boards, fully paged.
//!
//! Paging strategy (requests and complexity both count against Monday's limits):
//! - top-level lists read page 1, then `page_window` pages at a time while the budget has room
//!   for them (pages past the end are charged too), and stop at the first short page;
//! - nested lists come inline with small first pages, and only those that came
//!   back full are read again, from page 1, at `nested_follow_up` for `id_batch` parents per
//!   request; parents still full after that page are asked for the next one;
//! - team members are read the same way, `id_batch` teams per request.
//!
//! A response with any GraphQL error fails the read: access data with holes would look like
//! revocations.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use futures::{StreamExt, TryStreamExt, stream};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::client::{
    Client, OP_ACCOUNT, OP_BOARD_TEAM_OWNERS, OP_BOARD_TEAM_SUBSCRIBERS, OP_BOARDS,
    OP_TEAM_MEMBERS, OP_TEAMS, OP_USERS, OP_WORKSPACES, OP_WS_OWNERS, OP_WS_TEAM_OWNERS,
    OP_WS_TEAMS, OP_WS_USERS, Op,
};
use super::error::MondayError;
use super::types::{AccountInfo, Board, Id, StateFilter, Team, User, UserStatus, Workspace};

/// Takes `data[field]` as a typed value; a missing or mistyped field is a protocol error.
pub(crate) fn field<T: DeserializeOwned>(
    data: &mut Value,
    field: &str,
    operation: &'static str,
) -> Result<T, MondayError> {
    let value = data.get_mut(field).map(Value::take).unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| MondayError::Protocol {
        operation,
        detail: format!(
            "field `{field}` has an unexpected shape ({})",
            e.classify_kind()
        ),
    })
}

/// serde_json error category without the (data-bearing) message.
trait ClassifyKind {
    fn classify_kind(&self) -> &'static str;
}

impl ClassifyKind for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "wrong type or missing field",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// A top-level list that must be present (null only with an error, which is already handled).
fn list<T: DeserializeOwned>(
    data: &mut Value,
    name: &str,
    operation: &'static str,
) -> Result<Vec<T>, MondayError> {
    let items: Option<Vec<Option<T>>> = field(data, name, operation)?;
    match items {
        Some(v) => Ok(v.into_iter().flatten().collect()),
        None => Err(MondayError::Protocol {
            operation,
            detail: format!("`{name}` is null without an error"),
        }),
    }
}

fn dedup_by_key<T, K: Eq + Hash + Clone>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|i| seen.insert(key(i))).collect()
}

/// Which nested list a follow-up reads.
#[derive(Clone, Copy)]
struct Nested {
    op: Op,
    root: &'static str,
    field: &'static str,
}

impl Client {
    /// The account and the token's owner (`me`).
    pub async fn account(&self) -> Result<AccountInfo, MondayError> {
        let mut data = self.execute(&OP_ACCOUNT, json!({})).await?;
        let me = field::<Option<_>>(&mut data, "me", OP_ACCOUNT.name)?;
        let account = field::<Option<_>>(&mut data, "account", OP_ACCOUNT.name)?;
        match (me, account) {
            (Some(me), Some(account)) => Ok(AccountInfo { account, me }),
            _ => Err(MondayError::Protocol {
                operation: OP_ACCOUNT.name,
                detail: "`me` or `account` is null without an error".into(),
            }),
        }
    }

    /// Reads a top-level list page by page (`page_window` pages in flight) until a short page.
    async fn paged<T, F>(
        &self,
        op: &Op,
        root: &str,
        limit: u32,
        vars: F,
    ) -> Result<Vec<T>, MondayError>
    where
        T: DeserializeOwned,
        F: Fn(u32) -> Value,
    {
        let window = self.config().pages.page_window.max(1);
        let mut out = Vec::new();
        let mut first = 1u32;
        // Page 1 alone (most lists fit in one page), then `window` pages at a time.
        let mut ahead = 1u32;
        loop {
            // Pages past the end are charged in full, so look ahead only when the budget has
            // room for all of them; when it is the bottleneck, one page at a time wastes nothing.
            if ahead > 1 && !self.can_afford(op, &vars(first), ahead) {
                ahead = 1;
            }
            let pages: Vec<Vec<T>> = stream::iter(first..first + ahead)
                .map(|page| {
                    let v = vars(page);
                    async move {
                        let mut data = self.execute(op, v).await?;
                        list::<T>(&mut data, root, op.name)
                    }
                })
                .buffered(ahead as usize)
                .try_collect()
                .await?;
            for page in pages {
                let short = page.len() < limit as usize;
                out.extend(page);
                if short {
                    return Ok(out);
                }
            }
            first += ahead;
            ahead = window;
        }
    }

    /// Every user: active and pending, then deactivated, `limit` ≤ 1000 per page.
    pub async fn all_users(&self) -> Result<Vec<User>, MondayError> {
        let limit = self.config().pages.users.clamp(1, 1000);
        let pass = |status: Value| {
            self.paged::<User, _>(
                &OP_USERS,
                "users",
                limit,
                move |page| json!({ "limit": limit, "page": page, "status": status }),
            )
        };
        let (live, inactive) = futures::try_join!(
            pass(json!([
                UserStatus::Active.as_str(),
                UserStatus::Pending.as_str()
            ])),
            pass(json!([UserStatus::Inactive.as_str()]))
        )?;
        let mut all = live;
        all.extend(inactive);
        Ok(dedup_by_key(all, |u| u.id.clone()))
    }

    /// Every team with owners and all members.
    pub async fn all_teams(&self) -> Result<Vec<Team>, MondayError> {
        let mut data = self.execute(&OP_TEAMS, json!({})).await?;
        let mut teams: Vec<Team> =
            dedup_by_key(list(&mut data, "teams", OP_TEAMS.name)?, |t| t.id.clone());
        let ids: Vec<Id> = teams.iter().map(|t| t.id.clone()).collect();
        let limit = self.config().pages.team_members.max(1);
        let members = self
            .follow_up(
                Nested {
                    op: OP_TEAM_MEMBERS,
                    root: "teams",
                    field: "users",
                },
                ids,
                limit,
                |ids, page| json!({ "ids": ids, "limit": limit, "page": page }),
            )
            .await?;
        for team in &mut teams {
            team.members = members.get(&team.id).cloned().unwrap_or_default();
        }
        Ok(teams)
    }

    /// Reads `nested.field` of every parent in `ids` completely, `id_batch` parents per request,
    /// starting at page 1 with `limit`; parents whose page was full are asked for the next page.
    async fn follow_up<F>(
        &self,
        nested: Nested,
        ids: Vec<Id>,
        limit: u32,
        vars: F,
    ) -> Result<HashMap<Id, Vec<Id>>, MondayError>
    where
        F: Fn(&[Id], u32) -> Value,
    {
        #[derive(serde::Deserialize)]
        struct Parent {
            id: Id,
            #[serde(flatten)]
            rest: serde_json::Map<String, Value>,
        }
        let batch = self.config().pages.id_batch.max(1);
        let concurrency = self.config().max_concurrency.max(1);
        let mut result: HashMap<Id, Vec<Id>> =
            ids.iter().map(|i| (i.clone(), Vec::new())).collect();
        let mut pending = ids;
        let mut page = 1u32;
        while !pending.is_empty() {
            let requests: Vec<Value> = pending.chunks(batch).map(|c| vars(c, page)).collect();
            let responses: Vec<Vec<Parent>> = stream::iter(requests)
                .map(|v| async move {
                    let mut data = self.execute(&nested.op, v).await?;
                    list::<Parent>(&mut data, nested.root, nested.op.name)
                })
                .buffer_unordered(concurrency)
                .try_collect()
                .await?;
            let mut next = Vec::new();
            for mut parent in responses.into_iter().flatten() {
                let mut value = Value::Object(std::mem::take(&mut parent.rest));
                let members: Vec<Id> = {
                    let v = value
                        .get_mut(nested.field)
                        .map(Value::take)
                        .unwrap_or(Value::Null);
                    super::types::id_list(v).map_err(|_| MondayError::Protocol {
                        operation: nested.op.name,
                        detail: format!("`{}` has an unexpected shape", nested.field),
                    })?
                };
                let full = members.len() >= limit as usize;
                if let Some(slot) = result.get_mut(&parent.id) {
                    slot.extend(members);
                    if full {
                        next.push(parent.id);
                    }
                }
            }
            next.sort();
            next.dedup();
            pending = next;
            page += 1;
        }
        for v in result.values_mut() {
            let taken = std::mem::take(v);
            *v = dedup_by_key(taken, Id::clone);
        }
        Ok(result)
    }

    /// Active workspaces with all four membership lists.
    pub async fn all_workspaces(&self) -> Result<Vec<Workspace>, MondayError> {
        self.all_workspaces_in(StateFilter::Active).await
    }

    /// Workspaces in `state` with all four membership lists.
    pub async fn all_workspaces_in(
        &self,
        state: StateFilter,
    ) -> Result<Vec<Workspace>, MondayError> {
        let pages = self.config().pages.clone();
        let limit = pages.workspaces.max(1);
        let first = pages.nested_first.max(1);
        let workspaces: Vec<Workspace> = self
            .paged(&OP_WORKSPACES, "workspaces", limit, |page| {
                json!({ "limit": limit, "page": page, "state": state.as_str(), "members": first })
            })
            .await?;
        let mut workspaces = dedup_by_key(workspaces, |w| w.id.clone());
        let full = |pick: fn(&Workspace) -> &Vec<Id>| -> Vec<Id> {
            workspaces
                .iter()
                .filter(|w| pick(w).len() >= first as usize)
                .filter_map(|w| {
                    if w.id.is_none() {
                        tracing::warn!(workspace = w.name.as_str(), "workspace without id has a full member page; later pages cannot be read");
                    }
                    w.id.clone()
                })
                .collect()
        };
        let follow = pages.nested_follow_up.max(1);
        let vars = |ids: &[Id], page: u32| json!({ "ids": ids, "count": ids.len(), "state": state.as_str(), "limit": follow, "page": page });
        let owners_ids = full(|w| &w.owners_subscribers);
        let users_ids = full(|w| &w.users_subscribers);
        let team_owner_ids = full(|w| &w.team_owners_subscribers);
        let teams_ids = full(|w| &w.teams_subscribers);
        let nested = |op, field| Nested {
            op,
            root: "workspaces",
            field,
        };
        let (owners, users, team_owners, teams) = futures::try_join!(
            self.follow_up(
                nested(OP_WS_OWNERS, "owners_subscribers"),
                owners_ids,
                follow,
                vars
            ),
            self.follow_up(
                nested(OP_WS_USERS, "users_subscribers"),
                users_ids,
                follow,
                vars
            ),
            self.follow_up(
                nested(OP_WS_TEAM_OWNERS, "team_owners_subscribers"),
                team_owner_ids,
                follow,
                vars
            ),
            self.follow_up(
                nested(OP_WS_TEAMS, "teams_subscribers"),
                teams_ids,
                follow,
                vars
            ),
        )?;
        for w in &mut workspaces {
            let Some(id) = w.id.clone() else { continue };
            if let Some(v) = owners.get(&id) {
                w.owners_subscribers = v.clone();
            }
            if let Some(v) = users.get(&id) {
                w.users_subscribers = v.clone();
            }
            if let Some(v) = team_owners.get(&id) {
                w.team_owners_subscribers = v.clone();
            }
            if let Some(v) = teams.get(&id) {
                w.teams_subscribers = v.clone();
            }
        }
        Ok(workspaces)
    }

    /// Active boards (classic and multi-level, documents and sub-item boards skipped) with
    /// owners, subscribers and both team lists complete.
    pub async fn all_boards(&self) -> Result<Vec<Board>, MondayError> {
        self.all_boards_in(StateFilter::Active).await
    }

    /// Boards in `state`; see [`Client::all_boards`].
    pub async fn all_boards_in(&self, state: StateFilter) -> Result<Vec<Board>, MondayError> {
        let pages = self.config().pages.clone();
        let limit = pages.boards.max(1);
        let owners_first = pages.board_team_owners_first.max(1);
        let subscribers_first = pages.board_team_subscribers_first.max(1);
        let boards: Vec<Board> = self
            .paged(&OP_BOARDS, "boards", limit, |page| {
                json!({ "limit": limit, "page": page, "state": state.as_str(),
                        "team_owners": owners_first, "team_subscribers": subscribers_first })
            })
            .await?;
        let mut boards: Vec<Board> = dedup_by_key(boards, |b| b.id.clone())
            .into_iter()
            .filter(Board::is_synced_kind)
            .collect();
        let full = |pick: fn(&Board) -> &Vec<Id>, first: u32| -> Vec<Id> {
            boards
                .iter()
                .filter(|b| pick(b).len() >= first as usize)
                .map(|b| b.id.clone())
                .collect()
        };
        let follow = pages.nested_follow_up.max(1);
        let vars = |ids: &[Id], page: u32| json!({ "ids": ids, "count": ids.len(), "state": state.as_str(), "limit": follow, "page": page });
        let owner_ids = full(|b| &b.team_owners, owners_first);
        let subscriber_ids = full(|b| &b.team_subscribers, subscribers_first);
        let (team_owners, team_subscribers) = futures::try_join!(
            self.follow_up(
                Nested {
                    op: OP_BOARD_TEAM_OWNERS,
                    root: "boards",
                    field: "team_owners",
                },
                owner_ids,
                follow,
                vars
            ),
            self.follow_up(
                Nested {
                    op: OP_BOARD_TEAM_SUBSCRIBERS,
                    root: "boards",
                    field: "team_subscribers",
                },
                subscriber_ids,
                follow,
                vars
            ),
        )?;
        for b in &mut boards {
            if let Some(v) = team_owners.get(&b.id) {
                b.team_owners = v.clone();
            }
            if let Some(v) = team_subscribers.get(&b.id) {
                b.team_subscribers = v.clone();
            }
        }
        Ok(boards)
    }
}
