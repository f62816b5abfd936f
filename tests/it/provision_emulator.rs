//! engine::provision against the Monday emulator: every entitlement kind granted and revoked for
//! users and (where Monday allows them) teams, checked against the emulator's own ground truth;
//! pre-existing access, restored roles and memberships, invites, deactivate/reactivate, and the
//! per-user errors surfacing as typed reasons.

use monday_emulator::{Config, Emulator, EmulatorHandle};
use monday_operator::engine::provision::{
    self, Entitlement, GrantOptions, Principal, ProvisionError, RevokeMode,
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

fn has(emu: &EmulatorHandle, grant: &str) -> bool {
    emu.ground_truth().grants.iter().any(|g| g == grant)
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

const NONE: GrantOptions = GrantOptions {
    create_account: false,
};

/// Grants, checks Monday has it, grants again (idempotent), revokes, checks it is gone.
async fn round_trip(c: &Client, emu: &EmulatorHandle, e: &str, p: Principal, principal_id: &str) {
    let grant = format!("{e}:{principal_id}");
    assert!(!has(emu, &grant), "{grant} must not exist before the test");
    let out = provision::grant(c, &ent(e), &p, NONE)
        .await
        .unwrap_or_else(|err| panic!("grant {grant}: {err}"));
    assert_eq!(out.grant_id, grant);
    assert!(!out.pre_existing);
    assert!(has(emu, &grant), "{grant} missing after grant");
    let again = provision::grant(c, &ent(e), &p, NONE)
        .await
        .expect("regrant");
    assert!(
        again.pre_existing,
        "second grant of {grant} is pre-existing"
    );
    let r = provision::revoke(
        c,
        &ent(e),
        &p,
        RevokeMode::RestorePrevious(out.previous.as_deref()),
    )
    .await
    .unwrap_or_else(|err| panic!("revoke {grant}: {err}"));
    assert!(!r.already_absent);
    assert!(!has(emu, &grant), "{grant} still present after revoke");
    let r = provision::revoke(
        c,
        &ent(e),
        &p,
        RevokeMode::RestorePrevious(out.previous.as_deref()),
    )
    .await
    .expect("second revoke");
    assert!(r.already_absent, "revoking twice is a no-op");
}

#[tokio::test]
async fn every_entitlement_kind_for_users_and_teams() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    // Users (102 is an active member with access to few things).
    round_trip(&c, &emu, "board:413:subscriber", user("102"), "user:102").await;
    round_trip(&c, &emu, "board:413:owner", user("102"), "user:102").await;
    round_trip(
        &c,
        &emu,
        "workspace:302:subscriber",
        user("102"),
        "user:102",
    )
    .await;
    round_trip(&c, &emu, "workspace:302:owner", user("102"), "user:102").await;
    round_trip(&c, &emu, "team:202:member", user("102"), "user:102").await;
    round_trip(&c, &emu, "team:202:owner", user("102"), "user:102").await;
    round_trip(&c, &emu, "role:admin:assigned", user("102"), "user:102").await;
    // Teams, on boards and workspaces.
    round_trip(&c, &emu, "board:413:subscriber", team("202"), "team:202").await;
    round_trip(&c, &emu, "board:413:owner", team("202"), "team:202").await;
    round_trip(
        &c,
        &emu,
        "workspace:302:subscriber",
        team("202"),
        "team:202",
    )
    .await;
    round_trip(&c, &emu, "workspace:302:owner", team("202"), "team:202").await;
    // By email too.
    let email = emu.with_tenant(|t| t.user(107).expect("107").email.clone());
    round_trip(
        &c,
        &emu,
        "board:413:subscriber",
        Principal::Email(email.to_uppercase()),
        "user:107",
    )
    .await;

    // Teams cannot hold roles or team memberships.
    for e in ["team:201:member", "role:guest:assigned"] {
        let err = provision::grant(&c, &ent(e), &team("202"), NONE)
            .await
            .expect_err("team principal refused");
        assert_eq!(err.reason(), "TeamPrincipalNotAllowed");
    }
}

#[tokio::test]
async fn previous_role_and_membership_are_restored() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    // Role: 102 is a member; admin for a while, then member again.
    let out = provision::grant(&c, &ent("role:guest:assigned"), &user("102"), NONE)
        .await
        .expect("grant");
    assert_eq!(out.previous.as_deref(), Some("member"));
    assert!(has(&emu, "role:guest:assigned:user:102"));
    assert!(!has(&emu, "role:member:assigned:user:102"));
    let r = provision::revoke(
        &c,
        &ent("role:guest:assigned"),
        &user("102"),
        RevokeMode::RestorePrevious(out.previous.as_deref()),
    )
    .await
    .expect("revoke");
    assert_eq!(r.restored.as_deref(), Some("member"));
    assert!(has(&emu, "role:member:assigned:user:102"));

    // Owner over an existing subscription: 102 subscribes to board 401; revoke keeps it.
    let out = provision::grant(&c, &ent("board:401:owner"), &user("102"), NONE)
        .await
        .expect("grant");
    assert_eq!(out.previous.as_deref(), Some("subscriber"));
    provision::revoke(
        &c,
        &ent("board:401:owner"),
        &user("102"),
        RevokeMode::RestorePrevious(out.previous.as_deref()),
    )
    .await
    .expect("revoke");
    assert!(!has(&emu, "board:401:owner:user:102"));
    assert!(has(&emu, "board:401:subscriber:user:102"));

    // Team owner over membership: 110 is a member of 201.
    let out = provision::grant(&c, &ent("team:201:owner"), &user("110"), NONE)
        .await
        .expect("grant");
    assert_eq!(out.previous.as_deref(), Some("member"));
    provision::revoke(
        &c,
        &ent("team:201:owner"),
        &user("110"),
        RevokeMode::RestorePrevious(out.previous.as_deref()),
    )
    .await
    .expect("revoke");
    assert!(!has(&emu, "team:201:owner:user:110"));
    assert!(has(&emu, "team:201:member:user:110"));

    // Pre-existing access is reported as such.
    let out = provision::grant(&c, &ent("board:401:subscriber"), &user("101"), NONE)
        .await
        .expect("grant");
    assert!(out.pre_existing);
    let out = provision::grant(&c, &ent("role:admin:assigned"), &user("108"), NONE)
        .await
        .expect("grant");
    assert!(out.pre_existing);
    assert_eq!(out.previous.as_deref(), Some("admin"));
}

#[tokio::test]
async fn invites_unknown_emails_only_when_asked() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    let who = Principal::Email("new.hire@edge.example".into());
    let err = provision::grant(&c, &ent("board:413:subscriber"), &who, NONE)
        .await
        .expect_err("no account");
    assert_eq!(err.reason(), "UserNotFound");
    assert!(err.to_string().contains("createAccount"), "{err}");

    let out = provision::grant(
        &c,
        &ent("board:413:subscriber"),
        &who,
        GrantOptions {
            create_account: true,
        },
    )
    .await
    .expect("grant with invite");
    assert!(out.invited);
    let id = out.holder.user_id().expect("user").clone();
    let status = emu.with_tenant(|t| {
        let u = t
            .user(id.as_str().parse().expect("numeric"))
            .expect("invited user");
        format!("{:?}", u.status)
    });
    assert_eq!(status, "Pending");
    assert!(has(&emu, &format!("board:413:subscriber:user:{id}")));

    // Invite alone, and again (already existing: nothing sent).
    let inv = provision::invite(&c, "other.hire@edge.example", provision::BaseRole::Guest)
        .await
        .expect("invite");
    assert!(!inv.already_existed);
    assert_eq!(inv.user.kind, "guest");
    let inv = provision::invite(&c, "other.hire@edge.example", provision::BaseRole::Guest)
        .await
        .expect("invite again");
    assert!(inv.already_existed);

    // account:active for a new email invites it; ending it cannot deactivate a pending invite.
    let hire = Principal::Email("lifecycle.hire@edge.example".into());
    let out = provision::grant(
        &c,
        &ent("account:active"),
        &hire,
        GrantOptions {
            create_account: true,
        },
    )
    .await
    .expect("account:active invites");
    assert!(out.invited && !out.pre_existing);
    let err = provision::revoke(
        &c,
        &ent("account:active"),
        &hire,
        RevokeMode::RestorePrevious(None),
    )
    .await
    .expect_err("pending");
    assert_eq!(err.reason(), "PendingInvitation");

    // A pending invitation cannot be deactivated.
    let err = provision::deactivate(&c, &Principal::Email("other.hire@edge.example".into()))
        .await
        .expect_err("pending");
    assert_eq!(err.reason(), "PendingInvitation");
}

#[tokio::test]
async fn deactivate_and_reactivate() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    let status = |id: i64| emu.with_tenant(|t| format!("{:?}", t.user(id).expect("user").status));
    let out = provision::deactivate(&c, &user("102"))
        .await
        .expect("deactivate");
    assert!(!out.already);
    assert_eq!(status(102), "Inactive");
    assert!(
        provision::deactivate(&c, &user("102"))
            .await
            .expect("again")
            .already
    );
    // Deactivated users cannot be granted anything but their account back.
    let err = provision::grant(&c, &ent("board:413:subscriber"), &user("102"), NONE)
        .await
        .expect_err("deactivated");
    assert_eq!(err.reason(), "UserDeactivated");
    let out = provision::reactivate(&c, &user("102"))
        .await
        .expect("reactivate");
    assert!(!out.already);
    assert_eq!(status(102), "Active");

    // The lifecycle pseudo-entitlements do the same through grant/revoke.
    let g = provision::grant(&c, &ent("account:deactivated"), &user("107"), NONE)
        .await
        .expect("grant deactivated");
    assert!(!g.pre_existing);
    assert_eq!(status(107), "Inactive");
    provision::revoke(
        &c,
        &ent("account:deactivated"),
        &user("107"),
        RevokeMode::RestorePrevious(None),
    )
    .await
    .expect("revoke");
    assert_eq!(status(107), "Active");
    let g = provision::grant(&c, &ent("account:active"), &user("104"), NONE)
        .await
        .expect("grant active");
    assert!(!g.pre_existing);
    assert_eq!(status(104), "Active");
    provision::revoke(
        &c,
        &ent("account:active"),
        &user("104"),
        RevokeMode::RestorePrevious(None),
    )
    .await
    .expect("revoke");
    assert_eq!(status(104), "Inactive");
}

#[tokio::test]
async fn per_user_errors_are_typed() {
    let emu = Emulator::start(Config::edge()).expect("emulator");
    let c = client(&emu);
    let me = emu.admin_user_id().to_string();
    let err = provision::grant(&c, &ent("role:member:assigned"), &user(&me), NONE)
        .await
        .expect_err("self");
    assert_eq!(err.reason(), "CannotUpdateSelf");
    assert!(matches!(err, ProvisionError::Rejected { .. }));
    let err = provision::deactivate(&c, &user(&me))
        .await
        .expect_err("self");
    assert_eq!(err.reason(), "CannotUpdateSelf");
    let err = provision::grant(&c, &ent("board:413:owner"), &user("999999"), NONE)
        .await
        .expect_err("unknown");
    assert_eq!(err.reason(), "UserNotFound");
    let err = provision::grant(&c, &ent("board:999:owner"), &user("102"), NONE)
        .await
        .expect_err("unknown board");
    assert_eq!(err.reason(), "ResourceNotFound");
    // Guests cannot own teams (VIEWERS_OR_GUESTS) nor join a regular one.
    let err = provision::grant(&c, &ent("team:202:member"), &user("105"), NONE)
        .await
        .expect_err("guest in regular team");
    assert_eq!(err.reason(), "TeamMembershipRefused");
    let err = provision::grant(&c, &ent("team:203:owner"), &user("105"), NONE)
        .await
        .expect_err("guest owner");
    assert_eq!(err.reason(), "ViewersOrGuests");
    // Nothing was left behind by the failed owner grant.
    assert!(has(&emu, "team:203:member:user:105"));
    assert!(!has(&emu, "team:203:owner:user:105"));
}
