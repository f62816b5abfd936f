//! Ground truth: hand-checked facts of the edge tenant, and agreement with what a complete crawl of
//! the API shows (so the operator can trust both).

use std::collections::BTreeSet;
use std::time::Instant;

use monday_emulator::{Config, Emulator, EmulatorHandle, Size, generate, ground_truth};
use serde_json::{Value, json};

use crate::common::{Api, ids};

#[test]
fn edge_tenant_ground_truth() {
    let truth = ground_truth(&generate::edge());
    let g: BTreeSet<&str> = truth.grants.iter().map(String::as_str).collect();
    let r: BTreeSet<String> = truth
        .resources
        .iter()
        .map(|r| match &r.parent {
            Some(p) => format!("{} < {p}", r.id),
            None => r.id.clone(),
        })
        .collect();
    let sorted = |v: &Vec<String>| v.windows(2).all(|w| w[0] < w[1]);
    assert!(sorted(&truth.grants) && sorted(&truth.entitlements));

    // Roles: every user, any status, by base role.
    for grant in [
        "role:admin:assigned:user:101",
        "role:member:assigned:user:103",
        "role:member:assigned:user:104",
        "role:guest:assigned:user:106",
        "role:viewer:assigned:user:107",
        "role:admin:assigned:user:109",
    ] {
        assert!(g.contains(grant), "{grant}");
    }
    for role in ["admin", "member", "viewer", "guest"] {
        assert!(r.contains(&format!("role:{role}")));
    }
    // Owner who is also a subscriber: both grants; owner only: one.
    assert!(g.contains("board:401:owner:user:110") && g.contains("board:401:subscriber:user:110"));
    assert!(g.contains("board:406:owner:user:108") && !g.contains("board:406:subscriber:user:108"));
    assert!(
        g.contains("workspace:306:owner:user:102")
            && !g.contains("workspace:306:subscriber:user:102")
    );
    // Guests (also pending) on a share board; a guest team.
    assert!(
        g.contains("board:403:subscriber:user:105") && g.contains("board:403:subscriber:user:106")
    );
    assert!(g.contains("board:403:subscriber:team:203"));
    // Viewer subscribed to a Main-workspace board, which has no parent.
    assert!(g.contains("board:402:subscriber:user:107"));
    assert!(r.contains("board:402") && r.contains("board:401 < workspace:301"));
    // Everyone team: a principal on board 404, and a resource whose members are the active
    // non-guest users.
    assert!(g.contains("board:404:subscriber:team:-1"));
    assert!(r.contains("team:-1"));
    assert!(g.contains("team:-1:member:user:107") && g.contains("team:-1:member:user:108"));
    assert!(!g.contains("team:-1:member:user:105") && !g.contains("team:-1:member:user:103"));
    assert!(!g.contains("team:-1:member:user:104"));
    // Team owners on boards; more than 25 teams on board 405.
    assert!(g.contains("board:414:owner:team:204") && !g.contains("board:414:subscriber:team:204"));
    assert_eq!(
        g.iter()
            .filter(|x| x.starts_with("board:405:subscriber:team:"))
            .count(),
        31
    );
    // Deactivated users: no memberships.
    assert!(
        !g.contains("team:204:member:user:104") && !g.contains("board:414:subscriber:user:104")
    );
    assert!(g.contains("team:204:member:user:103"));
    // Excluded: document and sub-item boards, archived/deleted boards, archived workspace and its
    // board.
    for gone in [
        "board:407",
        "board:408",
        "board:409",
        "board:410",
        "board:412",
        "workspace:304",
    ] {
        assert!(
            !r.iter()
                .any(|x| x.starts_with(&format!("{gone} ")) || x == gone),
            "{gone}"
        );
        assert!(
            !g.iter().any(|x| x.starts_with(&format!("{gone}:"))),
            "{gone}"
        );
    }
    // Included: multi-level board; empty team/workspace/board as resources.
    for kept in [
        "board:411 < workspace:301",
        "team:202",
        "workspace:302",
        "board:413 < workspace:305",
    ] {
        assert!(r.contains(kept), "{kept}");
    }
    assert!(truth.entitlements.contains(&"team:202:member".to_string()));
    // Workspace with > 25 users.
    assert_eq!(
        g.iter()
            .filter(|x| x.starts_with("workspace:301:subscriber:user:"))
            .count(),
        33
    );
}

/// A complete, paged crawl of the API, mapped to grants the way ground truth documents.
async fn crawl(emu: &EmulatorHandle) -> (BTreeSet<String>, BTreeSet<String>) {
    let api = Api::admin(emu);
    let mut res = BTreeSet::new();
    let mut grants = BTreeSet::new();
    let mut everyone = Vec::new();
    for role in ["admin", "member", "viewer", "guest"] {
        res.insert(format!("role:{role}"));
    }
    for status in ["[ACTIVE, PENDING]", "[INACTIVE]"] {
        for page in 1.. {
            let q = format!(
                "{{ users(status: {status}, limit: 1000, page: {page}) {{ id kind status }} }}"
            );
            let d = api.data(&q, json!({})).await;
            let users = d["users"].as_array().unwrap();
            for u in users {
                let id = u["id"].as_str().unwrap();
                let role = match u["kind"].as_str().unwrap() {
                    "view_only" => "viewer",
                    k => k,
                };
                res.insert(format!("user:{id}"));
                grants.insert(format!("role:{role}:assigned:user:{id}"));
                if u["status"] == "ACTIVE" && role != "guest" {
                    everyone.push(id.to_string());
                }
            }
            if users.len() < 1000 {
                break;
            }
        }
    }
    let d = api
        .data("{ teams { id owners { id } users { id } } }", json!({}))
        .await;
    for t in d["teams"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        res.insert(format!("team:{id}"));
        for u in ids(&t["users"]) {
            grants.insert(format!("team:{id}:member:user:{u}"));
        }
        for u in ids(&t["owners"]) {
            grants.insert(format!("team:{id}:owner:user:{u}"));
        }
    }
    // Workspaces with every nested list paged at the default 25.
    for page in 1.. {
        let d = api
            .data(
                &format!("{{ workspaces(limit: 100, page: {page}) {{ id }} }}"),
                json!({}),
            )
            .await;
        let ws = ids(&d["workspaces"]);
        for id in &ws {
            res.insert(format!("workspace:{id}"));
            for (field, slug, kind) in [
                ("owners_subscribers", "owner", "user"),
                ("users_subscribers", "subscriber", "user"),
                ("team_owners_subscribers", "owner", "team"),
                ("teams_subscribers", "subscriber", "team"),
            ] {
                for p in 1.. {
                    let q =
                        format!("{{ workspaces(ids: [{id}]) {{ {field}(page: {p}) {{ id }} }} }}");
                    let d = api.data(&q, json!({})).await;
                    let got = ids(&d["workspaces"][0][field]);
                    for m in &got {
                        grants.insert(format!("workspace:{id}:{slug}:{kind}:{m}"));
                    }
                    if got.len() < 25 {
                        break;
                    }
                }
            }
        }
        if ws.len() < 100 {
            break;
        }
    }
    // Boards of both hierarchies; team lists paged.
    for page in 1.. {
        let q = format!(
            "{{ boards(hierarchy_types: [classic, multi_level], limit: 100, page: {page}) {{ id type workspace_id owners {{ id }} subscribers {{ id }} team_owners(limit: 100) {{ id }} team_subscribers {{ id }} }} }}"
        );
        let d = api.data(&q, json!({})).await;
        let boards = d["boards"].as_array().unwrap();
        for b in boards {
            if b["type"] == "document" || b["type"] == "sub_items_board" {
                continue;
            }
            let id = b["id"].as_str().unwrap();
            res.insert(match b["workspace_id"].as_str() {
                Some(w) => format!("board:{id} < workspace:{w}"),
                None => format!("board:{id}"),
            });
            for u in ids(&b["owners"]) {
                grants.insert(format!("board:{id}:owner:user:{u}"));
            }
            for u in ids(&b["subscribers"]) {
                grants.insert(format!("board:{id}:subscriber:user:{u}"));
            }
            for t in ids(&b["team_owners"]) {
                grants.insert(format!("board:{id}:owner:team:{t}"));
            }
            let mut teams = ids(&b["team_subscribers"]);
            let mut p = 1;
            while teams.len() == 25 * p {
                p += 1;
                let q =
                    format!("{{ boards(ids: [{id}]) {{ team_subscribers(page: {p}) {{ id }} }} }}");
                let d: Value = api.data(&q, json!({})).await;
                teams.extend(ids(&d["boards"][0]["team_subscribers"]));
            }
            for t in teams {
                grants.insert(format!("board:{id}:subscriber:team:{t}"));
            }
        }
        if boards.len() < 100 {
            break;
        }
    }
    // Team -1 named anywhere: "everyone" is a resource whose members are the active non-guests.
    if grants.iter().any(|g| g.ends_with(":team:-1")) {
        res.insert("team:-1".into());
        for u in everyone {
            grants.insert(format!("team:-1:member:user:{u}"));
        }
    }
    (res, grants)
}

async fn crawl_matches_truth(config: Config) {
    let emu = Emulator::start(config).unwrap();
    let (res, grants) = crawl(&emu).await;
    let truth = emu.ground_truth();
    let want_res: BTreeSet<String> = truth
        .resources
        .iter()
        .map(|r| match &r.parent {
            Some(p) => format!("{} < {p}", r.id),
            None => r.id.clone(),
        })
        .collect();
    let want: BTreeSet<String> = truth.grants.into_iter().collect();
    assert_eq!(res, want_res);
    let missing: Vec<_> = want.difference(&grants).take(10).collect();
    let extra: Vec<_> = grants.difference(&want).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?} extra {extra:?}"
    );
}

#[tokio::test]
async fn crawl_of_edge_tenant_matches_ground_truth() {
    crawl_matches_truth(Config::edge()).await;
}

#[tokio::test]
async fn crawl_of_generated_s_tenant_matches_ground_truth() {
    crawl_matches_truth(Config::generated(Size::S, 42)).await;
}

#[tokio::test]
async fn crawl_of_generated_m_tenant_matches_ground_truth() {
    crawl_matches_truth(Config::generated(Size::M, 7)).await;
}

#[test]
fn generation_is_deterministic() {
    let a = generate::generate(Size::S, 5);
    let b = generate::generate(Size::S, 5);
    let c = generate::generate(Size::S, 6);
    assert_eq!(a.to_json(), b.to_json());
    assert_ne!(a.to_json(), c.to_json());
}

#[test]
fn l_tenant_generation_is_fast_and_has_the_right_size() {
    let t0 = Instant::now();
    let t = generate::generate(Size::L, 1);
    let gen_time = t0.elapsed();
    let t1 = Instant::now();
    let truth = ground_truth(&t);
    let truth_time = t1.elapsed();
    println!(
        "L tenant: {} generated in {gen_time:?}; ground truth ({} resources, {} grants) in {truth_time:?}",
        t.summary(),
        truth.resources.len(),
        truth.grants.len()
    );
    assert_eq!(
        (
            t.users.len(),
            t.boards.len(),
            t.teams.len(),
            t.workspaces.len()
        ),
        (50_000, 20_000, 500, 300)
    );
    assert!(
        (800_000..1_300_000).contains(&truth.grants.len()),
        "{}",
        truth.grants.len()
    );
    // Debug builds are slow; a release build generates L in well under a second.
    assert!(gen_time.as_secs() < 20, "generation took {gen_time:?}");
}

#[test]
fn tenant_file_round_trip_yaml_and_json() {
    let yaml = r#"
account: { id: 1, name: Tiny, slug: tiny }
users:
  - { id: 1, name: Root, email: root@tiny.example, kind: admin, status: active }
  - { id: 2, name: Gail, email: gail@tiny.example, kind: guest, status: PENDING }
teams:
  - { id: 10, name: Core, members: [1], owners: [1] }
workspaces:
  - { id: 20, name: Home, owners: [1], subscribers: [1, 2], team_subscribers: [10] }
boards:
  - { id: 30, name: Plan, board_kind: share, workspace_id: 20, owners: [1], subscribers: [1, 2] }
  - { id: 31, name: Notes, type: document, owners: [1] }
  - { id: 32, name: Everyone, team_subscribers: [-1] }
tokens:
  - { token: tiny-scoped, user_id: 1, scopes: ["boards:read"] }
"#;
    let t = monday_emulator::Tenant::from_text(yaml).unwrap();
    let again = monday_emulator::Tenant::from_text(&t.to_json()).unwrap();
    assert_eq!(t.to_json(), again.to_json());
    let truth = ground_truth(&t);
    assert_eq!(
        truth.grants,
        [
            "board:30:owner:user:1",
            "board:30:subscriber:user:1",
            "board:30:subscriber:user:2",
            "board:32:subscriber:team:-1",
            "role:admin:assigned:user:1",
            "role:guest:assigned:user:2",
            "team:-1:member:user:1",
            "team:10:member:user:1",
            "team:10:owner:user:1",
            "workspace:20:owner:user:1",
            "workspace:20:subscriber:team:10",
            "workspace:20:subscriber:user:1",
            "workspace:20:subscriber:user:2",
        ]
    );
    let bad =
        "account: { id: 1, name: X, slug: x }\nboards:\n  - { id: 1, name: B, owners: [9] }\n";
    assert!(monday_emulator::Tenant::from_text(bad).is_err());
}
