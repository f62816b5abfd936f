//! The expected Baton view of a tenant, computed straight from the model.
//!
//! This is the oracle of the operator's engine tests, so it is written independently of the operator
//! and from the model, not from API responses. **The engine's Monday → Baton mapping must match it:**
//!
//! * Resources: `user:<id>` for every user (any status); `role:admin|member|viewer|guest` (always all
//!   four); `team:<id>` for every team; every active workspace `workspace:<id>`; every active board
//!   whose type is neither `document` nor `sub_items_board` (sub-item boards inherit their parent
//!   board's access) `board:<id>`, with parent `workspace:<id>`, or no parent for Main-workspace
//!   boards. Boards of every hierarchy (`classic` and `multi_level`) are included.
//! * The pseudo-team `-1` ("everyone at the account"), when an active workspace or synced board
//!   names it, is the resource `team:-1` with entitlements `member`/`owner`, and every active
//!   non-guest user holds `team:-1:member`, so expanding a `team:-1` grant shows who "everyone" is.
//! * Entitlements: `role:<r>:assigned`, `team:<id>:member|owner`, `workspace:<id>:owner|subscriber`,
//!   `board:<id>:owner|subscriber`.
//! * Grants `<entitlement>:<principal type>:<principal id>`:
//!   - every user (any status) holds `role:<r>:assigned` of its base role (admin→admin,
//!     member→member, view_only→viewer, guest→guest);
//!   - team members and owners → `team:<id>:member:user:<u>` / `team:<id>:owner:user:<u>`;
//!   - workspace and board owners/subscribers, users and teams, → `…:owner|subscriber:user:<u>` /
//!     `…:owner|subscriber:team:<t>`; team `-1` appears as principal `team:-1`; an owner who is also a
//!     subscriber holds both grants.
//!   - Deactivated users' memberships are hidden by Monday's lists and so are not grants (their role
//!     grant remains).

use serde::{Deserialize, Serialize};

use crate::model::{BoardType, State, Tenant, UserKind, UserStatus};

/// Documents and sub-item boards hold no access of their own.
fn synced_board_type(t: BoardType) -> bool {
    !matches!(t, BoardType::Document | BoardType::SubItemsBoard)
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TruthResource {
    /// `<type>:<id>`, e.g. `board:401`.
    pub id: String,
    /// Parent resource ID (`workspace:<id>` for boards outside the Main workspace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// Sorted lists of resources, entitlements and grant IDs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub resources: Vec<TruthResource>,
    pub entitlements: Vec<String>,
    pub grants: Vec<String>,
}

pub const ROLES: [&str; 4] = ["admin", "member", "viewer", "guest"];

/// Computes the ground truth of `t`.
pub fn ground_truth(t: &Tenant) -> GroundTruth {
    let mut resources = Vec::new();
    let mut entitlements = Vec::new();
    let mut grants = Vec::new();
    let listed = |id: &i64| {
        t.user(*id)
            .is_some_and(|u| u.status != UserStatus::Inactive)
    };

    for r in ROLES {
        resources.push(TruthResource {
            id: format!("role:{r}"),
            parent: None,
        });
        entitlements.push(format!("role:{r}:assigned"));
    }
    for u in &t.users {
        resources.push(TruthResource {
            id: format!("user:{}", u.id),
            parent: None,
        });
        grants.push(format!(
            "role:{}:assigned:user:{}",
            u.kind.baton_role(),
            u.id
        ));
    }
    for team in &t.teams {
        resources.push(TruthResource {
            id: format!("team:{}", team.id),
            parent: None,
        });
        for slug in ["member", "owner"] {
            entitlements.push(format!("team:{}:{slug}", team.id));
        }
        for u in team.members.iter().filter(|u| listed(u)) {
            grants.push(format!("team:{}:member:user:{u}", team.id));
        }
        for u in team.owners.iter().filter(|u| listed(u)) {
            grants.push(format!("team:{}:owner:user:{u}", team.id));
        }
    }
    let mut membership = |prefix: String,
                          owners: &[i64],
                          subscribers: &[i64],
                          team_owners: &[i64],
                          team_subscribers: &[i64]| {
        for slug in ["owner", "subscriber"] {
            entitlements.push(format!("{prefix}:{slug}"));
        }
        for u in owners.iter().filter(|u| listed(u)) {
            grants.push(format!("{prefix}:owner:user:{u}"));
        }
        for u in subscribers.iter().filter(|u| listed(u)) {
            grants.push(format!("{prefix}:subscriber:user:{u}"));
        }
        for tm in team_owners {
            grants.push(format!("{prefix}:owner:team:{tm}"));
        }
        for tm in team_subscribers {
            grants.push(format!("{prefix}:subscriber:team:{tm}"));
        }
    };
    for w in t.workspaces.iter().filter(|w| w.state == State::Active) {
        resources.push(TruthResource {
            id: format!("workspace:{}", w.id),
            parent: None,
        });
        membership(
            format!("workspace:{}", w.id),
            &w.owners,
            &w.subscribers,
            &w.team_owners,
            &w.team_subscribers,
        );
    }
    for b in t
        .boards
        .iter()
        .filter(|b| b.state == State::Active && synced_board_type(b.board_type))
    {
        resources.push(TruthResource {
            id: format!("board:{}", b.id),
            parent: b.workspace_id.map(|w| format!("workspace:{w}")),
        });
        membership(
            format!("board:{}", b.id),
            &b.owners,
            &b.subscribers,
            &b.team_owners,
            &b.team_subscribers,
        );
    }
    let everyone_named = t
        .workspaces
        .iter()
        .filter(|w| w.state == State::Active)
        .any(|w| w.team_owners.contains(&-1) || w.team_subscribers.contains(&-1))
        || t.boards
            .iter()
            .filter(|b| b.state == State::Active && synced_board_type(b.board_type))
            .any(|b| b.team_owners.contains(&-1) || b.team_subscribers.contains(&-1));
    if everyone_named {
        resources.push(TruthResource {
            id: "team:-1".into(),
            parent: None,
        });
        entitlements.push("team:-1:member".into());
        entitlements.push("team:-1:owner".into());
        for u in t
            .users
            .iter()
            .filter(|u| u.status == UserStatus::Active && u.kind != UserKind::Guest)
        {
            grants.push(format!("team:-1:member:user:{}", u.id));
        }
    }
    resources.sort();
    entitlements.sort();
    grants.sort();
    GroundTruth {
        resources,
        entitlements,
        grants,
    }
}
