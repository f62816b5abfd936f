//! Proves our v1 `.c1z` files are what Baton expects.
//!
//! `baton_cli_reads_our_files` runs the real `baton` CLI (from `MONDAY_BATON_BIN`, else
//! `target/tools/bin/baton`) and skips loudly when it is absent; `file_is_valid_without_cli`
//! always runs and checks the same files with our reader and raw SQLite.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support;

use support::baton::{baton_bin, json, parse_stats, run, strings};

use monday_operator::baton::pb;
use monday_operator::baton::{
    AccountType, C1zReader, EntitlementBuilder, Purpose, ResourceBuilder, Snapshot, StatusValue,
    Trait, UserTraitBuilder, WriteOptions, WriteSummary, profile, resource_type, write_c1z,
};
use prost::Message;

/// Users 101 Ann, 102 Bob, 103 Cy; roles admin/member; team 7; workspace 5 with board 9.
/// The second sync disables Bob, moves team membership from Bob to Cy.
fn realistic(second: bool) -> Snapshot {
    let mut s = Snapshot::new();
    s.add_resource_type(resource_type("user", "User", &[Trait::User]))
        .unwrap();
    s.add_resource_type(resource_type("role", "Role", &[Trait::Role]))
        .unwrap();
    s.add_resource_type(resource_type("team", "Team", &[Trait::Group]))
        .unwrap();
    s.add_resource_type(resource_type("workspace", "Workspace", &[]))
        .unwrap();
    s.add_resource_type(resource_type("board", "Board", &[]))
        .unwrap();

    let users = [
        ("101", "Ann Admin", "ann@example.com", StatusValue::Enabled),
        (
            "102",
            "Bob Builder",
            "bob@example.com",
            if second {
                StatusValue::Disabled
            } else {
                StatusValue::Enabled
            },
        ),
        ("103", "Cy Pending", "cy@example.com", StatusValue::Disabled),
    ];
    for (id, name, email, status) in users {
        s.add_resource(
            ResourceBuilder::new("user", id, name)
                .status(status)
                .profile(profile([("email", email), ("title", "Engineer")]))
                .user_trait(
                    UserTraitBuilder::new()
                        .email(email, true)
                        .login(email)
                        .account_type(AccountType::Human),
                )
                .build(),
        )
        .unwrap();
    }
    for (id, name) in [("admin", "Admin"), ("member", "Member")] {
        s.add_resource(ResourceBuilder::new("role", id, name).role_trait().build())
            .unwrap();
        s.add_entitlement(
            EntitlementBuilder::new("role", id, "assigned", Purpose::Assignment)
                .display_name(format!("{name} role"))
                // No exclusion group: CLI <= v0.4.3 cannot render that annotation as JSON.
                .grantable_to("user"),
        )
        .unwrap();
    }
    s.add_resource(
        ResourceBuilder::new("team", "7", "Platform")
            .description("platform team")
            .group_trait()
            .build(),
    )
    .unwrap();
    s.add_resource(
        ResourceBuilder::new("workspace", "5", "Engineering")
            .child_resource_type("board")
            .build(),
    )
    .unwrap();
    s.add_resource(
        ResourceBuilder::new("board", "9", "Roadmap")
            .parent("workspace", "5")
            .build(),
    )
    .unwrap();
    let ent = |s: &mut Snapshot, t: &str, id: &str, slug: &str, p: Purpose| {
        s.add_entitlement(EntitlementBuilder::new(t, id, slug, p))
            .unwrap()
    };
    let team_member = ent(&mut s, "team", "7", "member", Purpose::Assignment);
    let team_owner = ent(&mut s, "team", "7", "owner", Purpose::Ownership);
    let ws_member = ent(&mut s, "workspace", "5", "member", Purpose::Assignment);
    let board_owner = ent(&mut s, "board", "9", "owner", Purpose::Ownership);
    let board_sub = ent(&mut s, "board", "9", "subscriber", Purpose::Permission);

    let h = |s: &Snapshot, t: &str, id: &str| s.resource_handle(t, id).unwrap();
    let admin = s.entitlement_handle("role:admin:assigned").unwrap();
    let member = s.entitlement_handle("role:member:assigned").unwrap();
    let (ann, bob, cy, team) = (
        h(&s, "user", "101"),
        h(&s, "user", "102"),
        h(&s, "user", "103"),
        h(&s, "team", "7"),
    );
    s.add_grant(admin, ann).unwrap();
    s.add_grant(member, bob).unwrap();
    s.add_grant(member, cy).unwrap();
    s.add_grant(team_member, ann).unwrap();
    s.add_grant(team_member, if second { cy } else { bob })
        .unwrap();
    s.add_grant(team_owner, ann).unwrap();
    s.add_grant(ws_member, ann).unwrap();
    s.add_grant(board_owner, ann).unwrap();
    s.add_expandable_grant(board_sub, team, vec!["team:7:member".into()])
        .unwrap();
    s
}

/// Writes the two realistic syncs into `dir/sync.c1z`.
fn write_two(dir: &Path) -> (PathBuf, WriteSummary, WriteSummary) {
    let path = dir.join("sync.c1z");
    let first = write_c1z(&path, &realistic(false), &WriteOptions::default()).unwrap();
    std::fs::copy(&path, dir.join("first.c1z")).unwrap();
    let second = write_c1z(&path, &realistic(true), &WriteOptions::default()).unwrap();
    (path, first, second)
}

#[test]
fn baton_cli_reads_our_files() {
    let bin = match baton_bin() {
        Ok(b) => b,
        Err(why) => {
            support::baton::not_available(&why, "baton stats/resources/grants/access/diff checks");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, _first, second) = write_two(dir.path());
    let first_path = dir.path().join("first.c1z");
    let f = path.to_str().unwrap();

    // stats of the single-sync file: counts per type, entitlements, grants.
    let stats_out = run(&bin, &["stats", "-f", first_path.to_str().unwrap()]);
    let stats = parse_stats(&stats_out);
    let one = realistic(false);
    for (t, n) in one.resource_counts() {
        assert_eq!(stats.get(&t), Some(&n), "stats for {t}: {stats_out}");
    }
    assert_eq!(
        stats.get("entitlements"),
        Some(&(one.entitlement_count() as u64)),
        "{stats:?}"
    );
    assert_eq!(
        stats.get("grants"),
        Some(&(one.grant_count() as u64)),
        "{stats:?}"
    );
    assert_eq!(stats.get("resource_types"), Some(&5), "{stats:?}");

    // resources of the latest sync.
    let res = json(&bin, &["resources", "-f", f, "-o", "json"]);
    let ids: BTreeSet<String> = res["resources"]
        .as_array()
        .expect("resources array")
        .iter()
        .map(|r| {
            let id = &r["resource"]["id"];
            format!(
                "{}:{}",
                id["resourceType"].as_str().unwrap_or_default(),
                id["resource"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let expected: BTreeSet<String> = [
        "user:101",
        "user:102",
        "user:103",
        "role:admin",
        "role:member",
        "team:7",
        "workspace:5",
        "board:9",
    ]
    .map(String::from)
    .into();
    assert_eq!(ids, expected);
    let names = strings(&res, &["resources", "resource", "displayName"]);
    assert!(
        names.contains("Ann Admin") && names.contains("Roadmap"),
        "{names:?}"
    );

    // grants of one entitlement.
    let g = json(
        &bin,
        &["grants", "-f", f, "-e", "team:7:member", "-o", "json"],
    );
    assert_eq!(
        strings(&g, &["grants", "grant", "id"]),
        BTreeSet::from(["team:7:member:user:101", "team:7:member:user:103"])
    );
    let g = json(
        &bin,
        &["grants", "-f", f, "-e", "board:9:subscriber", "-o", "json"],
    );
    assert_eq!(
        strings(&g, &["grants", "grant", "id"]),
        BTreeSet::from(["board:9:subscriber:team:7"])
    );

    // effective access of Ann: one entry per resource, with the entitlements she holds.
    let acc = json(
        &bin,
        &["access", "-f", f, "-t", "user", "-r", "101", "-o", "json"],
    );
    assert_eq!(
        strings(&acc, &["access", "entitlements", "id"]),
        BTreeSet::from([
            "role:admin:assigned",
            "team:7:member",
            "team:7:owner",
            "workspace:5:member",
            "board:9:owner",
        ])
    );
    let console = run(&bin, &["access", "-f", f, "-t", "user", "-r", "101"]);
    assert!(console.contains("Platform"), "{console}");

    // diff of the two syncs kept in the file.
    let d = json(&bin, &["diff", "-f", f]);
    assert_eq!(
        strings(&d, &["grants", "created", "id"]),
        BTreeSet::from(["team:7:member:user:103"])
    );
    assert_eq!(
        strings(&d, &["grants", "deleted", "id"]),
        BTreeSet::from(["team:7:member:user:102"])
    );
    // Bob was disabled: his resource changed. His grants did not: they name him by id, as
    // grant.NewGrant does, so a change to a user is one modified resource, not one per grant.
    assert_eq!(
        strings(&d, &["resources", "modified", "id", "resource"]),
        BTreeSet::from(["102"])
    );
    assert_eq!(
        strings(&d, &["grants", "modified", "id"]),
        BTreeSet::<&str>::new()
    );
    let ours = second.diff.unwrap();
    assert_eq!((ours.grants_added, ours.grants_removed), (1, 1));
}

#[test]
fn file_is_valid_without_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (path, first, second) = write_two(dir.path());

    // Magic and a single zstd stream holding a SQLite database.
    let raw = std::fs::read(&path).unwrap();
    assert_eq!(&raw[..5], b"C1ZF\0");
    assert_eq!(second.bytes, raw.len() as u64);
    let db_bytes = zstd::decode_all(&raw[5..]).unwrap();
    assert_eq!(&db_bytes[..16], b"SQLite format 3\0");
    // Rollback-journal file (not WAL), so it is self-contained.
    assert_eq!((db_bytes[18], db_bytes[19]), (1, 1));
    let db_path = dir.path().join("plain.db");
    std::fs::write(&db_path, &db_bytes).unwrap();
    let conn = rusqlite::Connection::open(&db_path).unwrap();
    let ok: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");

    let columns = |table: &str| -> BTreeSet<String> {
        let mut st = conn
            .prepare(&format!("pragma table_info({table})"))
            .unwrap();
        st.query_map([], |r| r.get::<_, String>(1))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let expect = |cols: &[&str]| cols.iter().map(|c| c.to_string()).collect::<BTreeSet<_>>();
    let base = ["id", "data", "sync_id", "discovered_at", "external_id"];
    let with = |extra: &[&str]| expect(&[&base[..], extra].concat());
    assert_eq!(columns("v1_resource_types"), with(&[]));
    assert_eq!(
        columns("v1_resources"),
        with(&[
            "resource_type_id",
            "parent_resource_type_id",
            "parent_resource_id"
        ])
    );
    assert_eq!(
        columns("v1_entitlements"),
        with(&["resource_type_id", "resource_id"])
    );
    assert_eq!(
        columns("v1_grants"),
        with(&[
            "resource_type_id",
            "resource_id",
            "entitlement_id",
            "principal_resource_type_id",
            "principal_resource_id",
            "expansion",
            "needs_expansion",
        ])
    );
    assert_eq!(
        columns("v1_sync_runs"),
        expect(&[
            "id",
            "sync_id",
            "started_at",
            "ended_at",
            "sync_token",
            "sync_type",
            "parent_sync_id",
            "linked_sync_id",
            "supports_diff",
            "grants_backfilled",
            "stats",
            "ingest_invariant_generation",
            "ingest_invariant_coverage",
            "ingest_invariant_mode",
        ])
    );
    assert_eq!(columns("v1_assets"), with(&["content_type"]));
    assert_eq!(
        columns("v1_connector_sessions"),
        expect(&["id", "sync_id", "key", "value"])
    );
    let unique: i64 = conn
        .query_row(
            "select count(*) from sqlite_master where type = 'index' and sql like 'CREATE UNIQUE%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unique, 7, "one unique index per table");

    // Two finished full syncs, oldest first, with Baton's sync-run conventions.
    let runs: Vec<(String, String, Option<String>, String, String)> = conn
        .prepare("select sync_id, started_at, ended_at, sync_token, sync_type from v1_sync_runs order by id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].0, first.sync_id);
    assert_eq!(runs[1].0, second.sync_id);
    for (id, started, ended, token, kind) in &runs {
        assert_eq!(id.len(), 27);
        assert!(id.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(started.len(), 29, "{started}");
        assert!(ended.as_deref().is_some_and(|e| e >= started.as_str()));
        assert_eq!((token.as_str(), kind.as_str()), ("", "full"));
    }

    // Row counts per sync match the summaries.
    for s in [&first, &second] {
        let count = |table: &str| -> u64 {
            conn.query_row(
                &format!("select count(*) from {table} where sync_id = ?1"),
                [&s.sync_id],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as u64
        };
        assert_eq!(count("v1_resource_types"), s.resource_types);
        assert_eq!(count("v1_resources"), s.resources);
        assert_eq!(count("v1_entitlements"), s.entitlements);
        assert_eq!(count("v1_grants"), s.grants);
    }
    assert_eq!(second.resources_by_type["user"], 3);
    assert_eq!(
        (second.resources, second.entitlements, second.grants),
        (8, 7, 9)
    );

    // Every data blob decodes and matches its columns.
    let mut st = conn
        .prepare("select external_id, resource_type_id, parent_resource_id, data from v1_resources where sync_id = ?1")
        .unwrap();
    let mut rows = st.query([&second.sync_id]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        let ext: String = row.get(0).unwrap();
        let r = pb::Resource::decode(row.get::<_, Vec<u8>>(3).unwrap().as_slice()).unwrap();
        let id = r.id.unwrap();
        assert_eq!(ext, format!("{}:{}", id.resource_type, id.resource));
        assert_eq!(row.get::<_, String>(1).unwrap(), id.resource_type);
        let parent: Option<String> = row.get(2).unwrap();
        assert_eq!(parent, r.parent_resource_id.map(|p| p.resource));
        if id.resource_type == "user" {
            let t: pb::UserTrait = pb::find_annotation(&r.annotations).unwrap().unwrap();
            assert_eq!(t.status, r.status, "status on trait and resource");
        }
    }
    let mut st = conn
        .prepare("select external_id, entitlement_id, principal_resource_type_id, principal_resource_id, data, expansion, needs_expansion from v1_grants where sync_id = ?1")
        .unwrap();
    let mut rows = st.query([&second.sync_id]).unwrap();
    let mut expandable = 0;
    while let Some(row) = rows.next().unwrap() {
        let g = pb::Grant::decode(row.get::<_, Vec<u8>>(4).unwrap().as_slice()).unwrap();
        let e = g.entitlement.unwrap();
        let p = g.principal.unwrap().id.unwrap();
        assert_eq!(row.get::<_, String>(0).unwrap(), g.id);
        assert_eq!(row.get::<_, String>(1).unwrap(), e.id);
        assert_eq!(g.id, format!("{}:{}:{}", e.id, p.resource_type, p.resource));
        assert_eq!(row.get::<_, String>(2).unwrap(), p.resource_type);
        assert_eq!(row.get::<_, String>(3).unwrap(), p.resource);
        assert!(e.resource.is_some(), "full entitlement resource embedded");
        assert_eq!(row.get::<_, Option<Vec<u8>>>(5).unwrap(), None);
        assert_eq!(row.get::<_, i64>(6).unwrap(), 0);
        if let Some(ge) = pb::find_annotation::<pb::GrantExpandable>(&g.annotations).unwrap() {
            assert_eq!(ge.entitlement_ids, ["team:7:member"]);
            expandable += 1;
        }
    }
    assert_eq!(expandable, 1);

    // Our reader agrees, and the diff matches the change between the two syncs.
    let reader = C1zReader::open(&path).unwrap();
    let latest = reader.latest_finished_sync().unwrap().unwrap();
    assert_eq!(latest.sync_id, second.sync_id);
    let board = reader
        .resources(&latest.sync_id)
        .unwrap()
        .into_iter()
        .find(|r| r.display_name == "Roadmap")
        .unwrap();
    assert_eq!(board.parent_resource_id.unwrap().resource, "5");
    let d = reader.diff(&first.sync_id, &second.sync_id, 10).unwrap();
    assert_eq!(d.added, ["team:7:member:user:103"]);
    assert_eq!(d.removed, ["team:7:member:user:102"]);
    assert_eq!(second.diff.as_ref(), Some(&d));
}
