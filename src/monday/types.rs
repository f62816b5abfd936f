//! Typed views of the API objects the sync reads and the mutations return.
//!
//! Deserialisation is lenient where the API is known to vary (ids as strings or numbers, nullable
//! lists, null list entries, fields missing in older shapes) and strict where a missing value would
//! make the access data wrong (ids).

use compact_str::{CompactString, ToCompactString};
use serde::{Deserialize, Deserializer, Serialize};

use super::error::UserError;

/// A Monday id. JSON carries it as a string (`"4012689"`), but numbers are accepted too.
///
/// Stored inline (no heap allocation up to 24 bytes, and Monday ids are at most 20 digits): a large
/// account's sync holds about a million of them at once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Id(pub CompactString);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id(s.into())
    }
}

impl From<String> for Id {
    fn from(s: String) -> Self {
        Id(s.into())
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Id(n.to_compact_string())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an id as a string or an integer")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id, E> {
                Ok(Id(v.into()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Id, E> {
                Ok(Id(v.into()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v.to_compact_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_compact_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Id, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Id((v as i64).to_compact_string()))
                } else {
                    Err(E::custom("id is not an integer"))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `{ id }` objects inside membership lists.
#[derive(Deserialize)]
struct IdOnly {
    id: Id,
}

/// A nullable list of nullable `{ id }` objects, flattened to ids.
pub(crate) fn id_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Id>, D::Error> {
    let items: Option<Vec<Option<IdOnly>>> = Option::deserialize(d)?;
    Ok(items
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|i| i.id)
        .collect())
}

/// A nullable list with nullable entries, flattened.
pub(crate) fn lenient_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let items: Option<Vec<Option<T>>> = Option::deserialize(d)?;
    Ok(items.unwrap_or_default().into_iter().flatten().collect())
}

/// `UserStatus`; unknown future values are kept rather than failing the sync.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Active,
    Pending,
    Inactive,
    #[serde(untagged)]
    Other(String),
}

impl UserStatus {
    /// The GraphQL enum literal.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "ACTIVE",
            Self::Pending => "PENDING",
            Self::Inactive => "INACTIVE",
            Self::Other(s) => s,
        }
    }
}

/// A user as read by the sync (2026-10 fields: `kind` is `admin`, `member`, `guest`, `view_only`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub kind: String,
    pub status: UserStatus,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub became_active_at: Option<String>,
    #[serde(default)]
    pub last_activity: Option<String>,
    #[serde(default)]
    pub is_email_confirmed: Option<bool>,
    #[serde(default)]
    pub is_deleted: Option<bool>,
}

/// The token owner as returned by `me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub kind: String,
    pub status: UserStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    #[serde(default)]
    pub tier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub plan: Option<Plan>,
}

/// `account()`: the account and who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub account: Account,
    pub me: Me,
}

/// A team with all its owners and members (members fully paged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_guest: Option<bool>,
    #[serde(default, deserialize_with = "id_list")]
    pub owners: Vec<Id>,
    /// Filled by follow-up `TeamMembers` pages, absent from the `Teams` document.
    #[serde(default, deserialize_with = "id_list", rename = "users")]
    pub members: Vec<Id>,
}

/// A workspace with all four membership lists fully paged.
///
/// `id` is `None` only for a pre-migration Main workspace; its lists cannot be paged further than
/// the first page because follow-ups select by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: Option<Id>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_default_workspace: Option<bool>,
    #[serde(default, deserialize_with = "id_list")]
    pub owners_subscribers: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub users_subscribers: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub team_owners_subscribers: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub teams_subscribers: Vec<Id>,
}

/// A board with owners, subscribers and both team lists fully paged.
///
/// `workspace_id` is `None` for boards in the Main workspace. Team id `-1` in a team list means
/// "everyone at the account".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    pub id: Id,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub board_kind: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// `board`, `custom_object`, `document` or `sub_items_board`; the last two are skipped.
    #[serde(default, rename = "type")]
    pub board_type: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<Id>,
    #[serde(default)]
    pub permissions: Option<String>,
    #[serde(default, deserialize_with = "id_list")]
    pub owners: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub subscribers: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub team_owners: Vec<Id>,
    #[serde(default, deserialize_with = "id_list")]
    pub team_subscribers: Vec<Id>,
}

impl Board {
    /// Documents and sub-item boards hold no access of their own and are not synced.
    pub fn is_synced_kind(&self) -> bool {
        !matches!(
            self.board_type.as_deref(),
            Some("document") | Some("sub_items_board")
        )
    }
}

/// The `complexity` selection of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Complexity {
    pub before: i64,
    pub after: i64,
    pub query: i64,
    pub reset_in_x_seconds: i64,
}

/// `State` filter for workspaces and boards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    #[default]
    Active,
    All,
    Archived,
    Deleted,
}

impl StateFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::All => "all",
            Self::Archived => "archived",
            Self::Deleted => "deleted",
        }
    }
}

/// `BoardSubscriberKind` / `WorkspaceSubscriberKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberKind {
    Subscriber,
    Owner,
}

impl SubscriberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscriber => "subscriber",
            Self::Owner => "owner",
        }
    }
}

/// `UserRole` (invite) and `BaseRoleName` (role change) share these literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
    ViewOnly,
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Member => "MEMBER",
            Self::ViewOnly => "VIEW_ONLY",
            Self::Guest => "GUEST",
        }
    }
}

/// Result of `add_users_to_team` / `remove_users_from_team`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamMembershipResult {
    pub successful: Vec<Id>,
    pub failed: Vec<Id>,
}

/// Result of the bulk user mutations and team-owner mutations: who changed, and who did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkResult {
    /// Users changed (for team-owner mutations: the team's owners afterwards).
    pub users: Vec<Id>,
    pub errors: Vec<UserError>,
}

/// Result of `invite_users`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InviteResult {
    pub invited: Vec<User>,
    pub errors: Vec<UserError>,
}

/// The `errors[]` entries of mutation payloads.
#[derive(Debug, Deserialize)]
pub(crate) struct PayloadError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub user_id: Option<Id>,
    #[serde(default)]
    pub email: Option<Id>,
}

impl From<PayloadError> for UserError {
    fn from(p: PayloadError) -> Self {
        UserError {
            code: p.code.unwrap_or_else(|| "UNKNOWN".to_string()),
            user_id: p.user_id.map(|i| i.0.into()),
            email: p.email.map(|i| i.0.into()),
            message: super::error::clip(p.message.as_deref().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_accept_strings_and_numbers() {
        let ids: Vec<Id> = serde_json::from_value(json!(["4012689", 4012690, -1, 12.0])).unwrap();
        assert_eq!(
            ids,
            vec![
                Id::from("4012689"),
                Id::from("4012690"),
                Id::from("-1"),
                Id::from("12")
            ]
        );
        assert!(serde_json::from_value::<Id>(json!(1.5)).is_err());
        assert!(serde_json::from_value::<Id>(json!(null)).is_err());
        assert!(serde_json::from_value::<Id>(json!({"id": 1})).is_err());
    }

    #[test]
    fn board_lists_tolerate_nulls_and_main_workspace() {
        let b: Board = serde_json::from_value(json!({
            "id": 7, "name": "B", "board_kind": "share", "state": "active", "type": "board",
            "workspace_id": null, "permissions": "everyone",
            "owners": [{"id": "1"}], "subscribers": [{"id": 1}, null, {"id": "2"}],
            "team_owners": null, "team_subscribers": [{"id": "-1"}]
        }))
        .unwrap();
        assert_eq!(b.workspace_id, None);
        assert_eq!(b.subscribers, vec![Id::from("1"), Id::from("2")]);
        assert!(b.team_owners.is_empty());
        assert_eq!(b.team_subscribers, vec![Id::from("-1")]);
        assert!(b.is_synced_kind());
        let doc: Board = serde_json::from_value(
            json!({"id": "8", "type": "document", "owners": [], "subscribers": []}),
        )
        .unwrap();
        assert!(!doc.is_synced_kind());
    }

    #[test]
    fn user_status_keeps_unknown_values() {
        let u: User = serde_json::from_value(json!({
            "id": "1", "name": "A", "email": "a@x", "kind": "admin", "status": "SUSPENDED",
            "title": null, "created_at": "2026-01-01T00:00:00Z", "is_email_confirmed": true
        }))
        .unwrap();
        assert_eq!(u.status, UserStatus::Other("SUSPENDED".into()));
        let u: User = serde_json::from_value(json!({"id": 2, "status": "PENDING"})).unwrap();
        assert_eq!(u.status, UserStatus::Pending);
        assert_eq!(u.id, Id::from("2"));
    }
}
