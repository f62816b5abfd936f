//! Provisioning mutations, their effect on ground truth, and per-user errors.

use monday_emulator::{Config, Emulator};
use serde_json::{Value, json};

use crate::common::{Api, ids};

fn has(emu: &monday_emulator::EmulatorHandle, grant: &str) -> bool {
    emu.ground_truth()
        .grants
        .binary_search(&grant.to_string())
        .is_ok()
}

#[tokio::test]
async fn board_users_and_teams_add_and_delete() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    assert!(!has(&emu, "board:402:owner:user:110"));
    let d = api
        .data("mutation { add_users_to_board(board_id: \"402\", user_ids: [110], kind: owner) { id } }", json!({}))
        .await;
    assert_eq!(ids(&d["add_users_to_board"]), ["110"]);
    assert!(has(&emu, "board:402:owner:user:110"));
    assert!(has(&emu, "board:402:subscriber:user:110"));
    // Default kind is subscriber; adding twice is a no-op.
    for _ in 0..2 {
        api.data(
            "mutation { add_users_to_board(board_id: 402, user_ids: [103]) { id } }",
            json!({}),
        )
        .await;
    }
    assert!(has(&emu, "board:402:subscriber:user:103"));
    assert!(!has(&emu, "board:402:owner:user:103"));
    api.data(
        "mutation { delete_subscribers_from_board(board_id: 402, user_ids: [110, 103]) { id } }",
        json!({}),
    )
    .await;
    assert!(!has(&emu, "board:402:owner:user:110"));
    assert!(!has(&emu, "board:402:subscriber:user:103"));

    api.data(
        "mutation { add_teams_to_board(board_id: 402, team_ids: [-1, 202], kind: owner) { id } }",
        json!({}),
    )
    .await;
    assert!(has(&emu, "board:402:subscriber:team:-1"));
    assert!(has(&emu, "board:402:owner:team:202"));
    let d = api
        .data(
            "mutation { delete_teams_from_board(board_id: 402, team_ids: [202]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["delete_teams_from_board"]), ["202"]);
    assert!(!has(&emu, "board:402:owner:team:202"));
}

#[tokio::test]
async fn unknown_ids_and_board_caps() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let r = api
        .post(
            "mutation { add_users_to_board(board_id: 999, user_ids: [102]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("InvalidBoardIdException"), "{}", r.text);
    assert!(r.body["data"]["add_users_to_board"].is_null());
    let r = api
        .post(
            "mutation { add_users_to_workspace(workspace_id: 999, user_ids: [102]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("ResourceNotFoundException"));
    let r = api
        .post(
            "mutation { add_users_to_board(board_id: 402, user_ids: [99999]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("InvalidUserIdException"));

    // 400 user subscribers at most.
    emu.with_tenant_mut(|t| {
        for i in 0..399 {
            let id = 10_000 + i;
            t.users.push(monday_emulator::model::User {
                id,
                name: format!("Bulk {i}"),
                email: format!("bulk{i}@edge.example"),
                title: String::new(),
                kind: monday_emulator::model::UserKind::Member,
                status: monday_emulator::model::UserStatus::Active,
                created_at: None,
            });
            t.board_mut(413).unwrap().subscribers.push(id);
        }
    });
    api.data(
        "mutation { add_users_to_board(board_id: 413, user_ids: [101]) { id } }",
        json!({}),
    )
    .await;
    let r = api
        .post(
            "mutation { add_users_to_board(board_id: 413, user_ids: [102]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("RecordInvalidException"), "{}", r.text);
    assert_eq!(r.body["errors"][0]["extensions"]["status_code"], 422);
    assert!(!has(&emu, "board:413:subscriber:user:102"));

    // 100 team subscribers at most.
    emu.with_tenant_mut(|t| {
        for i in 0..100 {
            t.teams.push(monday_emulator::model::Team {
                id: 5_000 + i,
                name: format!("T{i}"),
                ..Default::default()
            });
        }
    });
    let many: Vec<i64> = (5_000..5_069).collect(); // 31 + 69 = 100
    api.data(
        "mutation ($t: [ID!]!) { add_teams_to_board(board_id: 405, team_ids: $t) { id } }",
        json!({ "t": many }),
    )
    .await;
    let r = api
        .post(
            "mutation { add_teams_to_board(board_id: 405, team_ids: [5099]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("RecordInvalidException"));
}

#[tokio::test]
async fn workspace_membership() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    api.data("mutation { add_users_to_workspace(workspace_id: 302, user_ids: [102], kind: owner) { id } }", json!({}))
        .await;
    api.data(
        "mutation { add_teams_to_workspace(workspace_id: 302, team_ids: [201]) { id } }",
        json!({}),
    )
    .await;
    assert!(has(&emu, "workspace:302:owner:user:102"));
    assert!(has(&emu, "workspace:302:subscriber:user:102"));
    assert!(has(&emu, "workspace:302:subscriber:team:201"));
    api.data(
        "mutation { delete_users_from_workspace(workspace_id: 302, user_ids: [102]) { id } }",
        json!({}),
    )
    .await;
    api.data(
        "mutation { delete_teams_from_workspace(workspace_id: 302, team_ids: [201]) { id } }",
        json!({}),
    )
    .await;
    assert!(!has(&emu, "workspace:302:owner:user:102"));
    assert!(!has(&emu, "workspace:302:subscriber:team:201"));
}

#[tokio::test]
async fn team_members_and_owners() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let d = api
        .data("mutation { add_users_to_team(team_id: 202, user_ids: [102, 105, 104]) { successful_users { id } failed_users { id } } }", json!({}))
        .await;
    // 105 is a guest (regular team), 104 is deactivated.
    assert_eq!(ids(&d["add_users_to_team"]["successful_users"]), ["102"]);
    assert_eq!(ids(&d["add_users_to_team"]["failed_users"]), ["105", "104"]);
    assert!(has(&emu, "team:202:member:user:102"));

    let d = api
        .data("mutation { assign_team_owners(team_id: 202, user_ids: [102, 107, 110, 101, 424242]) { team { id owners { id } } errors { code user_id message } } }", json!({}))
        .await;
    let res = &d["assign_team_owners"];
    assert_eq!(ids(&res["team"]["owners"]), ["102"]);
    let codes: Vec<(String, String)> = res["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().into(),
                e["user_id"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("VIEWERS_OR_GUESTS".to_string(), "107".to_string()),
            ("USER_NOT_MEMBER_OF_TEAM".to_string(), "110".to_string()),
            ("CANNOT_UPDATE_SELF".to_string(), "101".to_string()),
            ("USER_NOT_FOUND".to_string(), "424242".to_string()),
        ]
    );
    assert!(has(&emu, "team:202:owner:user:102"));
    let d = api
        .data("mutation { remove_team_owners(team_id: 202, user_ids: [102]) { team { owners { id } } errors { code } } }", json!({}))
        .await;
    assert_eq!(d["remove_team_owners"]["team"]["owners"], json!([]));
    api.data("mutation { remove_users_from_team(team_id: 202, user_ids: [102]) { successful_users { id } } }", json!({}))
        .await;
    assert!(!has(&emu, "team:202:member:user:102"));
}

async fn bulk(
    api: &Api,
    mutation: &str,
    list: &str,
    ids: Value,
) -> (Vec<String>, Vec<(String, Value)>) {
    let q = format!(
        "mutation ($ids: [ID!]!) {{ {mutation}(user_ids: $ids{}) {{ {list} {{ id status kind }} errors {{ code user_id message }} }} }}",
        if mutation == "update_users_role" {
            ", new_role: ADMIN"
        } else {
            ""
        }
    );
    let d = api.data(&q, json!({ "ids": ids })).await;
    let r = &d[mutation];
    let done = crate::common::ids(&r[list]);
    let errors = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["user_id"].clone(),
            )
        })
        .collect();
    (done, errors)
}

#[tokio::test]
async fn user_lifecycle_and_per_user_errors() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);

    let (done, errors) = bulk(
        &api,
        "deactivate_users",
        "deactivated_users",
        json!([110, 103, 101, 777]),
    )
    .await;
    assert_eq!(done, ["110"]);
    assert_eq!(
        errors,
        [
            ("FAILED".to_string(), json!("103")),
            ("CANNOT_UPDATE_SELF".to_string(), json!("101")),
            ("USER_NOT_FOUND".to_string(), json!("777")),
        ]
    );
    // Deactivation hides memberships from ground truth but keeps the role grant.
    assert!(has(&emu, "role:member:assigned:user:110"));
    assert!(!has(&emu, "board:401:owner:user:110"));

    let (done, errors) = bulk(
        &api,
        "activate_users",
        "activated_users",
        json!([110, 104, 103]),
    )
    .await;
    assert_eq!(done, ["110", "104"]);
    assert_eq!(errors, [("FAILED".to_string(), json!("103"))]);
    assert!(has(&emu, "board:401:owner:user:110"));
    assert!(has(&emu, "team:204:member:user:104"));

    let (done, errors) = bulk(
        &api,
        "update_users_role",
        "updated_users",
        json!([102, 101]),
    )
    .await;
    assert_eq!(done, ["102"]);
    assert_eq!(errors, [("CANNOT_UPDATE_SELF".to_string(), json!("101"))]);
    assert!(has(&emu, "role:admin:assigned:user:102"));
    assert!(!has(&emu, "role:member:assigned:user:102"));

    let too_many: Vec<i64> = (1..=201).collect();
    let (done, errors) = bulk(
        &api,
        "deactivate_users",
        "deactivated_users",
        json!(too_many),
    )
    .await;
    assert!(done.is_empty());
    assert_eq!(errors, [("EXCEEDS_BATCH_LIMIT".to_string(), Value::Null)]);
}

#[tokio::test]
async fn invite_users_creates_pending_users() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let d = api
        .data(
            "mutation { invite_users(emails: [\"new.person@edge.example\", \"MAX.MEMBER@edge.example\", \"nope\"], user_role: GUEST, product: work_management) { invited_users { id email status kind } errors { code email message } } }",
            json!({}),
        )
        .await;
    let r = &d["invite_users"];
    assert_eq!(r["invited_users"][0]["status"], "PENDING");
    assert_eq!(r["invited_users"][0]["kind"], "guest");
    let id = r["invited_users"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(r["errors"][0]["code"], "ERROR");
    assert_eq!(r["errors"][0]["email"], "MAX.MEMBER@edge.example");
    assert_eq!(r["errors"][1]["email"], "nope");
    assert!(has(&emu, &format!("role:guest:assigned:user:{id}")));
    // Pending users are listed by default and cannot be deactivated.
    let d = api
        .data(
            "query ($e: [String!]) { users(emails: $e) { id status } }",
            json!({ "e": ["new.person@edge.example"] }),
        )
        .await;
    assert_eq!(ids(&d["users"]), std::slice::from_ref(&id));
    let (_, errors) = bulk(&api, "deactivate_users", "deactivated_users", json!([id])).await;
    assert_eq!(errors[0].0, "FAILED");
}
