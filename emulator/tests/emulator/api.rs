//! Transport, defaults and paging.

use monday_emulator::{Config, Emulator, Size};
use serde_json::json;

use crate::common::{Api, ids};

#[tokio::test]
async fn unauthenticated_requests_get_401() {
    let emu = Emulator::start(Config::edge()).unwrap();
    for token in [None, Some("wrong-token")] {
        let r = Api::with_token(&emu, token)
            .post("{ me { id } }", json!({}))
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.code(), Some("Unauthorized"));
        assert_eq!(r.body["errors"][0]["message"], "Not Authenticated");
        assert!(r.body["extensions"]["request_id"].is_string());
    }
    // `Bearer <token>` is accepted too.
    let api = Api::with_token(&emu, Some(&format!("Bearer {}", emu.admin_token())));
    let d = api.data("{ me { id } }", json!({})).await;
    assert_eq!(d["me"]["id"], "101");
}

#[tokio::test]
async fn api_version_is_echoed_and_validated() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let mut api = Api::admin(&emu);
    let r = api.post("{ version { kind value } }", json!({})).await;
    assert_eq!(r.header("api-version"), Some("2026-10"));
    assert_eq!(r.body["data"]["version"]["value"], "2026-10");
    assert_eq!(r.body["data"]["version"]["kind"], "current");
    assert!(r.body["extensions"]["request_id"].is_string());

    api.version = Some("2026-07".into());
    let r = api.post("{ version { value } }", json!({})).await;
    assert_eq!(r.header("api-version"), Some("2026-07"));
    assert_eq!(r.body["data"]["version"]["value"], "2026-07");

    api.version = None;
    let r = api.post("{ version { value } }", json!({})).await;
    assert_eq!(
        r.header("api-version"),
        Some(monday_emulator::CURRENT_API_VERSION)
    );

    api.version = Some("2023".into());
    let r = api.post("{ me { id } }", json!({})).await;
    assert_eq!(r.code(), Some("InvalidVersionException"), "{}", r.text);
}

#[tokio::test]
async fn ids_are_strings_and_variables_may_be_a_string() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let q = "query ($ids: [ID!]) { users(ids: $ids) { id } }";
    // Numbers are accepted as IDs; IDs come back as strings.
    let d = api.data(q, json!({ "ids": [102, "103"] })).await;
    assert_eq!(ids(&d["users"]), ["102", "103"]);
    // Deprecated: variables as a JSON string.
    let r = api
        .send(json!({ "query": q, "variables": "{\"ids\": [\"105\"]}" }))
        .await
        .unwrap();
    assert_eq!(ids(&r.body["data"]["users"]), ["105"], "{}", r.text);
    // No query → 400.
    let r = api.send(json!({ "variables": {} })).await.unwrap();
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn users_defaults_status_filters_and_limits() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let d = api.data("{ users { id status kind } }", json!({})).await;
    let users = d["users"].as_array().unwrap();
    // Default: active + pending; deactivated 104 and 109 hidden.
    assert_eq!(users.len(), 38);
    assert!(users.iter().all(|u| u["status"] != "INACTIVE"));
    assert!(users.iter().any(|u| u["status"] == "PENDING"));
    for q in [
        "{ users(non_active: true) { id } }",
        "{ users(status: [INACTIVE]) { id } }",
    ] {
        let d = api.data(q, json!({})).await;
        assert_eq!(ids(&d["users"]), ["104", "109"], "{q}");
    }
    let d = api.data("{ users(kind: guests) { id } }", json!({})).await;
    assert_eq!(ids(&d["users"]), ["105", "106"]);
    let d = api
        .data(
            "{ users(kind: non_pending, limit: 1000) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(d["users"].as_array().unwrap().len(), 36);

    let r = api.post("{ users(limit: 1001) { id } }", json!({})).await;
    assert_eq!(
        r.body["errors"][0]["message"],
        "Limit exceeds the maximum allowed value of 1000."
    );
    assert!(r.body["data"]["users"].is_null());

    // Paging: pages start at 1; page 0 is treated as 1; a short page ends the list.
    let p1 = api
        .data("{ users(limit: 10, page: 1) { id } }", json!({}))
        .await;
    let p0 = api
        .data("{ users(limit: 10, page: 0) { id } }", json!({}))
        .await;
    assert_eq!(p0, p1);
    assert_eq!(ids(&p1["users"])[0], "101");
    let p4 = api
        .data("{ users(limit: 10, page: 4) { id } }", json!({}))
        .await;
    assert_eq!(p4["users"].as_array().unwrap().len(), 8);
    let p5 = api
        .data("{ users(limit: 10, page: 5) { id } }", json!({}))
        .await;
    assert!(p5["users"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn users_default_page_is_200() {
    let emu = Emulator::start(Config::generated(Size::S, 3)).unwrap();
    emu.with_tenant_mut(|t| {
        // Grow the tenant past one default page.
        let base = t.users.last().unwrap().id;
        for i in 1..=300 {
            t.users.push(monday_emulator::model::User {
                id: base + i,
                name: format!("Extra {i}"),
                email: format!("extra{i}@example.com"),
                title: String::new(),
                kind: monday_emulator::model::UserKind::Member,
                status: monday_emulator::model::UserStatus::Active,
                created_at: None,
            });
        }
    });
    let api = Api::admin(&emu);
    let d = api.data("{ users { id } }", json!({})).await;
    assert_eq!(d["users"].as_array().unwrap().len(), 200);
}

#[tokio::test]
async fn boards_defaults_main_workspace_and_team_paging() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    // Default: active, classic only (411 is multi_level), 25 per page, by ID.
    let d = api.data("{ boards { id } }", json!({})).await;
    assert_eq!(
        ids(&d["boards"]),
        [
            "401", "402", "403", "404", "405", "406", "407", "408", "413", "414", "415"
        ]
    );
    let d = api
        .data(
            "{ boards(hierarchy_types: [classic, multi_level], state: all) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(d["boards"].as_array().unwrap().len(), 15);
    // With ids, every hierarchy is returned.
    let d = api
        .data("{ boards(ids: [411]) { id hierarchy_type } }", json!({}))
        .await;
    assert_eq!(d["boards"][0]["hierarchy_type"], "multi_level");
    let d = api
        .data("{ boards(limit: 2, page: 2) { id } }", json!({}))
        .await;
    assert_eq!(ids(&d["boards"]), ["403", "404"]);

    // Main-workspace boards: workspace_id and workspace are null; workspace_ids: [null] selects them.
    let d = api
        .data(
            "{ boards(workspace_ids: [null]) { id workspace_id workspace { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["boards"]), ["402", "404"]);
    assert!(d["boards"][0]["workspace_id"].is_null());
    assert!(d["boards"][0]["workspace"].is_null());

    // Team -1 ("everyone") appears in team_subscribers.
    let d = api
        .data(
            "{ boards(ids: [404]) { team_subscribers { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["boards"][0]["team_subscribers"]), ["-1", "201"]);

    // 31 team subscribers: 25 on the default page, 6 on page 2.
    let q = "query ($p: Int) { boards(ids: [405]) { team_subscribers(page: $p) { id } } }";
    let p1 = api.data(q, json!({ "p": 1 })).await;
    let p2 = api.data(q, json!({ "p": 2 })).await;
    assert_eq!(
        p1["boards"][0]["team_subscribers"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    assert_eq!(
        p2["boards"][0]["team_subscribers"]
            .as_array()
            .unwrap()
            .len(),
        6
    );

    // Owners are also listed as subscribers where the tenant says so; deactivated users hidden.
    let d = api
        .data(
            "{ boards(ids: [414]) { owners { id } subscribers { id } team_owners { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["boards"][0]["subscribers"]), ["102"]);
    assert_eq!(ids(&d["boards"][0]["team_owners"]), ["204"]);

    // Document boards are returned (clients filter them by type).
    let d = api.data("{ boards(ids: [407]) { type } }", json!({})).await;
    assert_eq!(d["boards"][0]["type"], "document");
}

#[tokio::test]
async fn workspaces_defaults_and_nested_paging() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let d = api.data("{ workspaces { id } }", json!({})).await;
    assert_eq!(ids(&d["workspaces"]), ["301", "302", "303", "305", "306"]);
    let d = api
        .data("{ workspaces(state: archived) { id } }", json!({}))
        .await;
    assert_eq!(ids(&d["workspaces"]), ["304"]);

    // 33 user subscribers: default page of 25, then 8.
    let q = "query ($p: Int) { workspaces(ids: [301]) { users_subscribers(page: $p) { id } owners_subscribers { id } teams_subscribers { id } team_owners_subscribers { id } } }";
    let p1 = api.data(q, json!({ "p": 1 })).await;
    let p2 = api.data(q, json!({ "p": 2 })).await;
    let w = &p1["workspaces"][0];
    assert_eq!(w["users_subscribers"].as_array().unwrap().len(), 25);
    assert_eq!(
        p2["workspaces"][0]["users_subscribers"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(ids(&w["owners_subscribers"]), ["101", "110"]);
    assert_eq!(ids(&w["teams_subscribers"]), ["201", "204"]);
    assert_eq!(ids(&w["team_owners_subscribers"]), ["201"]);

    // Empty workspace: empty lists, not nulls.
    let d = api
        .data(
            "{ workspaces(ids: [302]) { users_subscribers { id } teams_subscribers { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["workspaces"][0]["users_subscribers"], json!([]));
}

#[tokio::test]
async fn teams_members_owners_and_user_teams() {
    let emu = Emulator::start(Config::edge()).unwrap();
    let api = Api::admin(&emu);
    let d = api
        .data(
            "{ teams(ids: [202, 204]) { id users { id } owners { id } is_guest } }",
            json!({}),
        )
        .await;
    assert_eq!(d["teams"][0]["users"], json!([]));
    // 104 is deactivated: hidden by default, listed with non_active.
    assert_eq!(ids(&d["teams"][1]["users"]), ["102", "103", "107"]);
    assert_eq!(ids(&d["teams"][1]["owners"]), ["102"]);
    let d = api
        .data(
            "{ teams(ids: [204]) { users(non_active: true) { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["teams"][0]["users"]), ["104"]);
    let d = api
        .data("{ users(ids: [102]) { teams { id } } }", json!({}))
        .await;
    assert_eq!(ids(&d["users"][0]["teams"]), ["201", "204"]);
    let d = api.data("{ teams { id } }", json!({})).await;
    assert_eq!(d["teams"].as_array().unwrap().len(), 34);
}

#[tokio::test]
async fn permissions_access_denied_and_scopes() {
    let emu = Emulator::start(Config::edge()).unwrap();
    // Viewers and deactivated users cannot use the API.
    for token in ["edge-viewer-token", "edge-deactivated-token"] {
        let r = Api::with_token(&emu, Some(token))
            .post("{ me { id } }", json!({}))
            .await;
        assert_eq!(r.code(), Some("USER_ACCESS_DENIED"), "{token}: {}", r.text);
        assert_eq!(r.body["errors"][0]["extensions"]["status_code"], 403);
    }
    // Scope-limited token: the field without its scope fails, the rest is served.
    let api = Api::with_token(&emu, Some("edge-scoped-token"));
    let r = api.post("{ me { id } users { id } }", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["me"]["id"], "102");
    assert!(r.body["data"]["users"].is_null());
    assert_eq!(r.code(), Some("missingRequiredPermissions"));
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("users:read")
    );
    assert_eq!(r.body["errors"][0]["path"], json!(["users"]));

    // A member cannot run admin mutations.
    let r = Api::member(&emu)
        .post(
            "mutation { deactivate_users(user_ids: [110]) { deactivated_users { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("USER_UNAUTHORIZED"), "{}", r.text);
    assert_eq!(r.body["errors"][0]["extensions"]["status_code"], 403);
    assert!(r.body["data"]["deactivate_users"].is_null());
    // …nor change a board it does not own, but can change its own board (403).
    let r = Api::member(&emu)
        .post(
            "mutation { add_users_to_board(board_id: 401, user_ids: [108]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), Some("USER_UNAUTHORIZED"));
    let d = Api::member(&emu)
        .data(
            "mutation { add_users_to_board(board_id: 403, user_ids: [108]) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(ids(&d["add_users_to_board"]), ["108"]);
}
