//! The one engine revoke, in both modes, against the Monday emulator's ground truth:
//! `ExactGrant` (ConductorOne, the CLI) changes the truth by exactly the named grant — plus, where
//! Monday cannot keep one without the other, exactly the grants it reports in `also_removed` or
//! `restored`; `RestorePrevious` (MondayAccessGrant expiry) puts back the recorded pre-grant
//! state, so a grant made from nothing leaves nothing behind.

use std::collections::BTreeSet;

use monday_emulator::{Config, Emulator, EmulatorHandle};
use monday_operator::engine::provision::{
    self, Entitlement, GrantOptions, Principal, RevokeMode, RevokeOutcome,
};
use monday_operator::monday::{Client, ClientConfig, Id};
use secrecy::SecretString;

fn client(emu: &EmulatorHandle) -> Client {
    Client::new(
        ClientConfig {
            api_url: emu.url(),
            ..Default::default()
        },
        SecretString::from(emu.admin_token().to_string()),
    )
    .expect("client")
}

fn truth(emu: &EmulatorHandle) -> BTreeSet<String> {
    emu.ground_truth().grants.into_iter().collect()
}

fn ent(s: &str) -> Entitlement {
    s.parse().expect("valid entitlement")
}

fn user(id: &str) -> Principal {
    Principal::UserId(Id::from(id))
}

fn team(id: &str) -> Principal {
    Principal::Team(Id::from(id))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Revokes and checks the ground truth lost exactly `removed` and gained exactly `added`.
async fn revoke_changes(
    emu: &EmulatorHandle,
    c: &Client,
    entitlement: &str,
    principal: Principal,
    mode: RevokeMode<'_>,
    removed: &[&str],
    added: &[&str],
) -> RevokeOutcome {
    let before = truth(emu);
    let out = provision::revoke(c, &ent(entitlement), &principal, mode)
        .await
        .unwrap_or_else(|e| panic!("revoke {entitlement} for {principal}: {e}"));
    let after = truth(emu);
    let gone: BTreeSet<String> = before.difference(&after).cloned().collect();
    let new: BTreeSet<String> = after.difference(&before).cloned().collect();
    assert_eq!(gone, set(removed), "{entitlement} for {principal}: removed");
    assert_eq!(new, set(added), "{entitlement} for {principal}: added");
    out
}

#[tokio::test]
async fn exact_revoke_of_an_owner_grant_keeps_the_subscription_or_membership() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    // Board 401: 110 owns and subscribes.
    let out = revoke_changes(
        &emu,
        &c,
        "board:401:owner",
        user("110"),
        RevokeMode::ExactGrant,
        &["board:401:owner:user:110"],
        &[],
    )
    .await;
    assert_eq!(out.restored.as_deref(), Some("subscriber"));
    assert!(out.also_removed.is_empty());
    // Workspace 301: 110 owns and subscribes.
    revoke_changes(
        &emu,
        &c,
        "workspace:301:owner",
        user("110"),
        RevokeMode::ExactGrant,
        &["workspace:301:owner:user:110"],
        &[],
    )
    .await;
    // Team 204: 102 owns and is a member.
    let out = revoke_changes(
        &emu,
        &c,
        "team:204:owner",
        user("102"),
        RevokeMode::ExactGrant,
        &["team:204:owner:user:102"],
        &[],
    )
    .await;
    assert_eq!(out.restored.as_deref(), Some("member"));
    // A team that owns and subscribes to board 405.
    revoke_changes(
        &emu,
        &c,
        "board:405:owner",
        team("205"),
        RevokeMode::ExactGrant,
        &["board:405:owner:team:205"],
        &[],
    )
    .await;
    // Owners that are not subscribers: only the owner grant exists, only it goes.
    let out = revoke_changes(
        &emu,
        &c,
        "board:406:owner",
        user("108"),
        RevokeMode::ExactGrant,
        &["board:406:owner:user:108"],
        &[],
    )
    .await;
    assert_eq!(out.restored, None);
    revoke_changes(
        &emu,
        &c,
        "workspace:306:owner",
        user("102"),
        RevokeMode::ExactGrant,
        &["workspace:306:owner:user:102"],
        &[],
    )
    .await;
    revoke_changes(
        &emu,
        &c,
        "board:414:owner",
        team("204"),
        RevokeMode::ExactGrant,
        &["board:414:owner:team:204"],
        &[],
    )
    .await;
}

#[tokio::test]
async fn exact_revoke_of_an_owners_membership_removes_both_and_says_so() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    let out = revoke_changes(
        &emu,
        &c,
        "board:401:subscriber",
        user("110"),
        RevokeMode::ExactGrant,
        &["board:401:subscriber:user:110", "board:401:owner:user:110"],
        &[],
    )
    .await;
    assert_eq!(
        out.also_removed,
        vec!["board:401:owner:user:110".to_string()]
    );
    let out = revoke_changes(
        &emu,
        &c,
        "team:204:member",
        user("102"),
        RevokeMode::ExactGrant,
        &["team:204:member:user:102", "team:204:owner:user:102"],
        &[],
    )
    .await;
    assert_eq!(
        out.also_removed,
        vec!["team:204:owner:user:102".to_string()]
    );
    // Plain memberships/subscriptions: exactly that grant.
    let out = revoke_changes(
        &emu,
        &c,
        "team:201:member",
        user("102"),
        RevokeMode::ExactGrant,
        &["team:201:member:user:102"],
        &[],
    )
    .await;
    assert!(out.also_removed.is_empty());
    revoke_changes(
        &emu,
        &c,
        "workspace:306:subscriber",
        user("110"),
        RevokeMode::ExactGrant,
        &["workspace:306:subscriber:user:110"],
        &[],
    )
    .await;
    // An owner-only holder has no subscriber grant: nothing to revoke, ownership untouched.
    let out = revoke_changes(
        &emu,
        &c,
        "board:406:subscriber",
        user("108"),
        RevokeMode::ExactGrant,
        &[],
        &[],
    )
    .await;
    assert!(out.already_absent);
}

#[tokio::test]
async fn exact_revoke_of_a_base_role_falls_back_to_viewer_and_refuses_the_last_role() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    let out = revoke_changes(
        &emu,
        &c,
        "role:admin:assigned",
        user("108"),
        RevokeMode::ExactGrant,
        &["role:admin:assigned:user:108"],
        &["role:viewer:assigned:user:108"],
    )
    .await;
    assert_eq!(out.restored.as_deref(), Some("viewer"));
    let before = truth(&emu);
    let err = provision::revoke(
        &c,
        &ent("role:viewer:assigned"),
        &user("107"),
        RevokeMode::ExactGrant,
    )
    .await
    .expect_err("a user's only base role cannot be removed");
    assert_eq!(err.reason(), "BaseRoleRequired");
    assert_eq!(truth(&emu), before, "Monday untouched");
}

#[tokio::test]
async fn restore_previous_puts_back_exactly_the_pre_grant_state() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    // From nothing: the owner grant brings the subscription with it; expiry removes both.
    let start = truth(&emu);
    let g = provision::grant(
        &c,
        &ent("board:413:owner"),
        &user("102"),
        GrantOptions::default(),
    )
    .await
    .expect("grant");
    assert_eq!(g.previous, None);
    revoke_changes(
        &emu,
        &c,
        "board:413:owner",
        user("102"),
        RevokeMode::RestorePrevious(g.previous.as_deref()),
        &["board:413:owner:user:102", "board:413:subscriber:user:102"],
        &[],
    )
    .await;
    assert_eq!(truth(&emu), start);
    // The same grant revoked the Baton way keeps the subscription the snapshot also lists.
    provision::grant(
        &c,
        &ent("board:413:owner"),
        &user("102"),
        GrantOptions::default(),
    )
    .await
    .expect("grant");
    revoke_changes(
        &emu,
        &c,
        "board:413:owner",
        user("102"),
        RevokeMode::ExactGrant,
        &["board:413:owner:user:102"],
        &[],
    )
    .await;
    // Over an existing subscription (402: 102 subscribes): the subscription stays.
    let g = provision::grant(
        &c,
        &ent("board:402:owner"),
        &user("102"),
        GrantOptions::default(),
    )
    .await
    .expect("grant");
    assert_eq!(g.previous.as_deref(), Some("subscriber"));
    revoke_changes(
        &emu,
        &c,
        "board:402:owner",
        user("102"),
        RevokeMode::RestorePrevious(g.previous.as_deref()),
        &["board:402:owner:user:102"],
        &[],
    )
    .await;
    // A team owner grant from nothing (202 is empty) is fully removed at expiry.
    let g = provision::grant(
        &c,
        &ent("team:202:owner"),
        &user("110"),
        GrantOptions::default(),
    )
    .await
    .expect("grant");
    revoke_changes(
        &emu,
        &c,
        "team:202:owner",
        user("110"),
        RevokeMode::RestorePrevious(g.previous.as_deref()),
        &["team:202:owner:user:110", "team:202:member:user:110"],
        &[],
    )
    .await;
    // A role grant restores the recorded role.
    let g = provision::grant(
        &c,
        &ent("role:admin:assigned"),
        &user("107"),
        GrantOptions::default(),
    )
    .await
    .expect("grant");
    assert_eq!(g.previous.as_deref(), Some("viewer"));
    revoke_changes(
        &emu,
        &c,
        "role:admin:assigned",
        user("107"),
        RevokeMode::RestorePrevious(g.previous.as_deref()),
        &["role:admin:assigned:user:107"],
        &["role:viewer:assigned:user:107"],
    )
    .await;
}
