use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use prost::Message;
use sha2::{Digest, Sha256};

use super::write::estimate;
use super::*;
use crate::baton::model::*;
use crate::baton::pb::{self, entitlement::Purpose, resource_type::Trait};

/// Users 1..=3, team 7 (with a member grant per user in `members`), role admin.
fn fixture(members: &[u32]) -> Snapshot {
    let mut s = Snapshot::new();
    s.add_resource_type(resource_type("user", "User", &[Trait::User]))
        .unwrap();
    s.add_resource_type(resource_type("team", "Team", &[Trait::Group]))
        .unwrap();
    s.add_resource_type(resource_type("role", "Role", &[Trait::Role]))
        .unwrap();
    let mut users = Vec::new();
    for i in 1..=3u32 {
        let email = format!("u{i}@example.com");
        users.push(
            s.add_resource(
                ResourceBuilder::new("user", i.to_string(), format!("User {i}"))
                    .user_trait(UserTraitBuilder::new().email(&email, true).login(&email))
                    .build(),
            )
            .unwrap(),
        );
    }
    let team = s
        .add_resource(
            ResourceBuilder::new("team", "7", "Ops")
                .group_trait()
                .build(),
        )
        .unwrap();
    s.add_resource(
        ResourceBuilder::new("role", "admin", "Admin")
            .role_trait()
            .build(),
    )
    .unwrap();
    let member = s
        .add_entitlement(EntitlementBuilder::new(
            "team",
            "7",
            "member",
            Purpose::Assignment,
        ))
        .unwrap();
    let admin = s
        .add_entitlement(EntitlementBuilder::new(
            "role",
            "admin",
            "assigned",
            Purpose::Assignment,
        ))
        .unwrap();
    for m in members {
        s.add_grant(member, users[*m as usize - 1]).unwrap();
    }
    s.add_grant(admin, users[0]).unwrap();
    s.add_expandable_grant(admin, team, vec!["team:7:member".into()])
        .unwrap();
    s
}

fn sha(path: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(path).unwrap()))
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let snap = fixture(&[1, 2]);
    let sum = write_c1z(&path, &snap, &WriteOptions::default()).unwrap();

    let raw = fs::read(&path).unwrap();
    assert_eq!(&raw[..5], b"C1ZF\0");
    assert_eq!(sum.bytes, raw.len() as u64);
    assert_eq!(sum.sha256, sha(&path));
    assert_eq!(sum.sync_id.len(), 27);
    assert!(ksuid::timestamp(&sum.sync_id).is_some());
    assert_eq!(sum.previous_sync_id, None);
    assert_eq!(sum.diff, None);
    assert_eq!(
        (
            sum.resource_types,
            sum.resources,
            sum.entitlements,
            sum.grants
        ),
        (3, 5, 2, 4)
    );
    assert_eq!(sum.resources_by_type["user"], 3);
    assert_eq!(dir_names(dir.path()), ["sync.c1z"]);

    let r = C1zReader::open(&path).unwrap();
    let runs = r.sync_runs().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.sync_id, sum.sync_id);
    assert_eq!(run.sync_type, "full");
    assert_eq!(run.sync_token, "");
    assert!(run.ended_at.is_some());
    assert_eq!(run.started_at.len(), 29);

    let types = r.resource_types(&run.sync_id).unwrap();
    assert_eq!(types, snap.resource_types());
    let resources = r.resources(&run.sync_id).unwrap();
    assert_eq!(resources.len(), 5);
    let h = snap.resource_handle("user", "2").unwrap();
    assert_eq!(resources[1], snap.resource(h).unwrap());
    let ents = r.entitlements(&run.sync_id).unwrap();
    assert_eq!(ents[0].id, "team:7:member");
    assert_eq!(ents[0].resource.as_ref().unwrap().display_name, "Ops");
    let grants = r.grants(&run.sync_id).unwrap();
    let ids: Vec<_> = grants.iter().map(|g| g.id.clone()).collect();
    assert_eq!(
        ids,
        [
            "team:7:member:user:1",
            "team:7:member:user:2",
            "role:admin:assigned:user:1",
            "role:admin:assigned:team:7",
        ]
    );
    assert_eq!(ids, r.grant_ids(&run.sync_id).unwrap());
    assert_eq!(ids, snap.grant_ids().collect::<Vec<_>>());
    // A grant names its principal by id, as grant.NewGrant does; the user itself, with its
    // trait, is the resource row that id resolves to (as the baton CLI resolves it).
    let principal = grants[0].principal.as_ref().unwrap();
    assert!(principal.annotations.is_empty() && principal.display_name.is_empty());
    let pid = principal.id.clone().unwrap();
    let user = resources
        .iter()
        .find(|r| r.id.as_ref() == Some(&pid))
        .unwrap();
    let ut: pb::UserTrait = pb::find_annotation(&user.annotations).unwrap().unwrap();
    assert_eq!(ut.emails[0].address, "u1@example.com");
    let ent = grants[0].entitlement.as_ref().unwrap();
    assert_eq!(ent.id, "team:7:member");
    assert_eq!(ent.resource.as_ref().unwrap().display_name, "Ops");
    let ge: pb::GrantExpandable = pb::find_annotation(&grants[3].annotations)
        .unwrap()
        .unwrap();
    assert_eq!(ge.entitlement_ids, ["team:7:member"]);

    // Columns describe the entitlement's resource and the principal; layout A for expansion.
    let row: (String, String, String, String, String, Option<Vec<u8>>, i64) = r
        .connection()
        .query_row(
            "select resource_type_id, resource_id, entitlement_id, principal_resource_type_id, \
             principal_resource_id, expansion, needs_expansion from v1_grants where external_id = ?1",
            ["role:admin:assigned:team:7"],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "role".into(),
            "admin".into(),
            "role:admin:assigned".into(),
            "team".into(),
            "7".into(),
            None,
            0
        )
    );
    assert!(r.resources("nope").is_err());
}

#[test]
fn keeps_latest_two_syncs_and_reports_diff() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let opts = WriteOptions::default();
    let s1 = write_c1z(&path, &fixture(&[1, 2]), &opts).unwrap();
    let s2 = write_c1z(&path, &fixture(&[2, 3]), &opts).unwrap();
    assert_eq!(s2.previous_sync_id.as_deref(), Some(s1.sync_id.as_str()));
    let d = s2.diff.clone().unwrap();
    assert_eq!((d.grants_added, d.grants_removed), (1, 1));
    assert_eq!(d.added, ["team:7:member:user:3"]);
    assert_eq!(d.removed, ["team:7:member:user:1"]);

    let s3 = write_c1z(&path, &fixture(&[2, 3]), &opts).unwrap();
    assert_eq!(s3.previous_sync_id.as_deref(), Some(s2.sync_id.as_str()));
    assert_eq!(s3.diff.as_ref().unwrap().grants_added, 0);

    let r = C1zReader::open(&path).unwrap();
    let ids: Vec<_> = r
        .sync_runs()
        .unwrap()
        .into_iter()
        .map(|s| s.sync_id)
        .collect();
    assert_eq!(ids, [s2.sync_id.clone(), s3.sync_id.clone()]);
    assert_eq!(
        r.latest_finished_sync().unwrap().unwrap().sync_id,
        s3.sync_id
    );
    for table in schema::SYNC_TABLES {
        let stale: i64 = r
            .connection()
            .query_row(
                &format!("select count(*) from {table} where sync_id = ?1"),
                [&s1.sync_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stale, 0, "{table} still has rows of the oldest sync");
    }
    // The kept sync is a faithful copy.
    assert_eq!(
        r.grant_ids(&s2.sync_id).unwrap(),
        fixture(&[2, 3]).grant_ids().collect::<Vec<_>>()
    );
    assert_eq!(r.resources(&s2.sync_id).unwrap().len(), 5);

    let d = diff_latest(&path, 10).unwrap().unwrap();
    assert_eq!(
        (d.previous_sync_id, d.latest_sync_id),
        (s2.sync_id, s3.sync_id)
    );
    assert_eq!((d.grants_added, d.grants_removed), (0, 0));
}

#[test]
fn diff_counts_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.c1z");
    let opts = WriteOptions {
        diff_sample_limit: 1,
        ..Default::default()
    };
    write_c1z(&path, &fixture(&[]), &opts).unwrap();
    assert_eq!(diff_latest(&path, 10).unwrap(), None);
    let s = write_c1z(&path, &fixture(&[1, 2, 3]), &opts).unwrap();
    let d = s.diff.unwrap();
    assert_eq!((d.grants_added, d.grants_removed), (3, 0));
    assert_eq!(d.added, ["team:7:member:user:1"]);
    let d2 = diff_latest(&path, 10).unwrap().unwrap();
    assert_eq!(d2.added.len(), 3);
}

#[test]
fn failed_write_keeps_previous_file_and_leaves_no_temp_files() {
    for fail in [
        FailPoint::AfterDatabase,
        FailPoint::DuringCompression,
        FailPoint::BeforeRename,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.c1z");
        let first = write_c1z(&path, &fixture(&[1]), &WriteOptions::default()).unwrap();
        let before = sha(&path);
        let opts = WriteOptions {
            fail_at: Some(fail),
            scratch_dir: Some(scratch.path().to_path_buf()),
            ..Default::default()
        };
        let err = write_c1z(&path, &fixture(&[1, 2, 3]), &opts).unwrap_err();
        match fail {
            FailPoint::DuringCompression => assert!(matches!(err, C1zError::Io { .. })),
            _ => assert!(matches!(err, C1zError::Injected(p) if p == fail)),
        }
        assert_eq!(sha(&path), before, "{fail:?} changed the file");
        assert_eq!(dir_names(dir.path()), ["sync.c1z"], "{fail:?} left files");
        assert!(
            dir_names(scratch.path()).is_empty(),
            "{fail:?} left scratch"
        );
        let r = C1zReader::open(&path).unwrap();
        assert_eq!(r.sync_runs().unwrap().len(), 1);
        assert_eq!(r.sync_runs().unwrap()[0].sync_id, first.sync_id);
    }
}

#[test]
fn missing_directory_is_an_error_without_debris() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent").join("sync.c1z");
    let err = write_c1z(&path, &fixture(&[1]), &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, C1zError::Io { .. }), "{err}");
    assert!(dir_names(dir.path()).is_empty());
}

#[test]
fn stale_temp_files_of_a_killed_writer_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let stale = dir.path().join(".sync.c1z.0123456789abcdef.c1z.tmp");
    let fresh = dir.path().join(".sync.c1z.fedcba9876543210.db.tmp");
    fs::write(&stale, b"x").unwrap();
    fs::write(&fresh, b"x").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    write_c1z(&path, &fixture(&[1]), &WriteOptions::default()).unwrap();
    // Only old leftovers go: a fresh one may belong to a concurrent writer.
    assert_eq!(
        dir_names(dir.path()),
        [".sync.c1z.fedcba9876543210.db.tmp", "sync.c1z"]
    );
}

#[test]
fn unreadable_previous_file_is_replaced_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    fs::write(&path, b"not a c1z").unwrap();
    let s = write_c1z(&path, &fixture(&[1]), &WriteOptions::default()).unwrap();
    assert_eq!(s.previous_sync_id, None);
    assert!(s.previous_unreadable.unwrap().contains("not a v1 c1z"));
    assert_eq!(
        C1zReader::open(&path).unwrap().sync_runs().unwrap().len(),
        1
    );
}

#[test]
fn rejects_bad_magic_and_bad_payload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.c1z");
    fs::write(&path, b"C1Z3\0rest").unwrap();
    assert!(matches!(
        C1zReader::open(&path),
        Err(C1zError::BadMagic { .. })
    ));
    let mut bytes = MAGIC.to_vec();
    bytes.extend(zstd::encode_all(&b"definitely not sqlite, just text"[..], 3).unwrap());
    fs::write(&path, bytes).unwrap();
    assert!(C1zReader::open(&path).is_err());
    // Nothing left in the temp dir by the failed open of this file.
    let leftovers = fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".x.c1z."))
        .count();
    assert_eq!(leftovers, 0);
}

/// Files written by newer Baton keep GrantExpandable in the `expansion` column; our reader
/// must present it the same way as our own layout.
#[test]
fn reader_accepts_expansion_column_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    write_c1z(&path, &fixture(&[1]), &WriteOptions::default()).unwrap();

    let db = dir.path().join("plain.db");
    let raw = fs::read(&path).unwrap();
    fs::write(&db, zstd::decode_all(&raw[5..]).unwrap()).unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let (id, data): (i64, Vec<u8>) = conn
            .query_row(
                "select id, data from v1_grants where external_id = 'role:admin:assigned:team:7'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let mut g = pb::Grant::decode(data.as_slice()).unwrap();
        let ann = g.annotations.remove(0);
        assert_eq!(ann.type_url, pb::GRANT_EXPANDABLE_TYPE_URL);
        conn.execute(
            "update v1_grants set data = ?1, expansion = ?2, needs_expansion = 1 where id = ?3",
            rusqlite::params![g.encode_to_vec(), ann.value, id],
        )
        .unwrap();
    }
    let mut out = MAGIC.to_vec();
    out.extend(zstd::encode_all(fs::read(&db).unwrap().as_slice(), 3).unwrap());
    fs::write(&path, out).unwrap();

    let r = C1zReader::open(&path).unwrap();
    let sync = r.latest_finished_sync().unwrap().unwrap();
    let grants = r.grants(&sync.sync_id).unwrap();
    let ge: pb::GrantExpandable = pb::find_annotation(&grants.last().unwrap().annotations)
        .unwrap()
        .unwrap();
    assert_eq!(ge.entitlement_ids, ["team:7:member"]);
}

#[test]
fn timestamp_layout() {
    let ts: jiff::Timestamp = "2026-01-02T03:04:05.000000007Z".parse().unwrap();
    let s = format_timestamp(ts);
    assert_eq!(s.len(), "2026-01-02 03:04:05.000000007".len());
    assert!(s.ends_with(".000000007"), "{s}");
    assert_eq!(&s[4..5], "-");
    assert_eq!(&s[10..11], " ");
}

/// Scale check for the memory budget (run by hand: `cargo test --lib scale -- --ignored
/// --nocapture`): 50k users, 20k boards, 1M grants.
#[test]
#[ignore]
fn scale_one_million_grants() {
    fn peak_rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
    let start = std::time::Instant::now();
    let mut s = Snapshot::new();
    s.add_resource_type(resource_type("user", "User", &[Trait::User]))
        .unwrap();
    s.add_resource_type(resource_type("board", "Board", &[]))
        .unwrap();
    let mut users = Vec::new();
    for i in 0..50_000u32 {
        let email = format!("user{i}@example.com");
        users.push(
            s.add_resource(
                ResourceBuilder::new("user", i.to_string(), format!("User Number {i}"))
                    .profile(profile([("email", email.as_str()), ("title", "Engineer")]))
                    .user_trait(UserTraitBuilder::new().email(&email, true).login(&email))
                    .build(),
            )
            .unwrap(),
        );
    }
    for b in 0..20_000u32 {
        s.add_resource(ResourceBuilder::new("board", b.to_string(), format!("Board {b}")).build())
            .unwrap();
        let e = s
            .add_entitlement(EntitlementBuilder::new(
                "board",
                b.to_string(),
                "subscriber",
                Purpose::Permission,
            ))
            .unwrap();
        for k in 0..50u32 {
            s.add_grant(e, users[((b * 37 + k * 1009) % 50_000) as usize])
                .unwrap();
        }
    }
    let built = peak_rss_kib();
    let dir = tempfile::tempdir().unwrap();
    let sum = write_c1z(&dir.path().join("big.c1z"), &s, &WriteOptions::default()).unwrap();
    eprintln!(
        "grants={} file={} MiB peak_rss: after build {} MiB, after write {} MiB, {:?}",
        sum.grants,
        sum.bytes >> 20,
        built >> 10,
        peak_rss_kib() >> 10,
        start.elapsed()
    );
    assert!(peak_rss_kib() < 200 * 1024);
}

/// `n` users with hard-to-compress names, each a member of team 7 and holder of role admin.
fn wide_fixture(n: u32, marker: &str) -> Snapshot {
    let mut s = Snapshot::new();
    s.add_resource_type(resource_type("user", "User", &[Trait::User]))
        .unwrap();
    s.add_resource_type(resource_type("team", "Team", &[Trait::Group]))
        .unwrap();
    s.add_resource(
        ResourceBuilder::new("team", "7", format!("Ops {marker}"))
            .group_trait()
            .build(),
    )
    .unwrap();
    let member = s
        .add_entitlement(EntitlementBuilder::new(
            "team",
            "7",
            "member",
            Purpose::Assignment,
        ))
        .unwrap();
    for i in 0..n {
        let noise = hex::encode(Sha256::digest(format!("{marker}{i}")));
        let email = format!("{}@example.com", &noise[..24]);
        let u = s
            .add_resource(
                ResourceBuilder::new("user", i.to_string(), format!("{marker} {noise}"))
                    .user_trait(UserTraitBuilder::new().email(&email, true).login(&email))
                    .build(),
            )
            .unwrap();
        s.add_grant(member, u).unwrap();
    }
    s
}

fn decompressed(path: &Path) -> Vec<u8> {
    zstd::decode_all(&fs::read(path).unwrap()[5..]).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The database is reused in place from the previous file; the sync it drops must not survive
/// in its free pages (the file would keep data of accounts removed two syncs ago).
#[test]
fn a_dropped_sync_leaves_no_bytes_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let opts = WriteOptions::default();
    let first = write_c1z(&path, &wide_fixture(300, "OLDEST-MARKER"), &opts).unwrap();
    write_c1z(&path, &wide_fixture(100, "MIDDLE-MARKER"), &opts).unwrap();
    assert!(contains(&decompressed(&path), b"OLDEST-MARKER"));
    let third = write_c1z(&path, &wide_fixture(100, "NEWEST-MARKER"), &opts).unwrap();
    let db = decompressed(&path);
    assert!(
        !contains(&db, b"OLDEST-MARKER"),
        "the dropped sync's rows remain"
    );
    assert!(!contains(&db, first.sync_id.as_bytes()));
    assert!(contains(&db, b"MIDDLE-MARKER") && contains(&db, b"NEWEST-MARKER"));
    let r = C1zReader::open(&path).unwrap();
    assert_eq!(r.sync_runs().unwrap().len(), 2);
    assert_eq!(r.grant_ids(&third.sync_id).unwrap().len(), 100);
}

/// A previous file in another writer's layout (here: one more column, as newer Baton adds) is
/// not reused in place: its kept sync is copied column by column into a database of ours.
#[test]
fn a_previous_file_of_another_layout_is_copied_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    let first = write_c1z(&path, &fixture(&[1, 2]), &WriteOptions::default()).unwrap();
    let db = dir.path().join("plain.db");
    fs::write(&db, decompressed(&path)).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("alter table v1_grants add column future text not null default 'x';")
        .unwrap();
    let mut out = MAGIC.to_vec();
    out.extend(zstd::encode_all(fs::read(&db).unwrap().as_slice(), 3).unwrap());
    fs::write(&path, out).unwrap();
    fs::remove_file(&db).unwrap();

    let second = write_c1z(&path, &fixture(&[2, 3]), &WriteOptions::default()).unwrap();
    assert_eq!(
        second.previous_sync_id.as_deref(),
        Some(first.sync_id.as_str())
    );
    let d = second.diff.unwrap();
    assert_eq!((d.grants_added, d.grants_removed), (1, 1));
    let r = C1zReader::open(&path).unwrap();
    let cols = schema::columns(r.connection(), "main", "v1_grants").unwrap();
    assert!(!cols.iter().any(|c| c == "future"), "our layout: {cols:?}");
    assert_eq!(r.grant_ids(&first.sync_id).unwrap().len(), 4);
}

fn scratch_and_file() -> (tempfile::TempDir, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.c1z");
    (dir, scratch, path)
}

fn assert_untouched(path: &Path, sha_before: &str, dir: &Path, scratch: &Path) {
    assert_eq!(sha(path), sha_before, "the previous file changed");
    assert_eq!(dir_names(dir), ["sync.c1z"], "temporary files left");
    assert!(dir_names(scratch).is_empty(), "scratch files left");
}

#[test]
fn a_scratch_limit_below_the_estimate_fails_before_any_work() {
    let (dir, scratch, path) = scratch_and_file();
    write_c1z(&path, &wide_fixture(200, "A"), &WriteOptions::default()).unwrap();
    let before = sha(&path);
    let opts = WriteOptions {
        scratch_dir: Some(scratch.path().to_path_buf()),
        scratch_limit: Some(1000),
        ..Default::default()
    };
    let err = write_c1z(&path, &wide_fixture(200, "B"), &opts).unwrap_err();
    match &err {
        C1zError::DiskFull {
            volume: Volume::Scratch,
            dir: d,
            cause: NoRoom::Limit,
            needed: Some(n),
            available: Some(a),
        } => {
            assert_eq!(d, scratch.path());
            assert!(*n > 1000 && *a <= 1000, "{err}");
        }
        other => panic!("expected DiskFull in scratch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("scratch folder") && msg.contains("available"),
        "{msg}"
    );
    assert_untouched(&path, &before, dir.path(), scratch.path());
}

#[test]
fn a_scratch_limit_reached_while_building_is_disk_full() {
    let (dir, scratch, path) = scratch_and_file();
    write_c1z(&path, &wide_fixture(200, "A"), &WriteOptions::default()).unwrap();
    let before = sha(&path);
    // Above the estimate of the rows, below the pages SQLite needs for them.
    let est = estimate(&wide_fixture(200, "B"));
    let decoded = decompressed(&path).len() as u64;
    let limit = decoded.max(est.database * 2) + est.spill * 2 + 1;
    let opts = WriteOptions {
        scratch_dir: Some(scratch.path().to_path_buf()),
        scratch_limit: Some(limit),
        ..Default::default()
    };
    let err = write_c1z(&path, &wide_fixture(2000, "B"), &opts).unwrap_err();
    assert!(
        matches!(
            err,
            C1zError::DiskFull {
                volume: Volume::Scratch,
                cause: NoRoom::Limit,
                ..
            }
        ),
        "{err:?}"
    );
    assert_untouched(&path, &before, dir.path(), scratch.path());
}

#[test]
fn a_data_limit_reached_while_compressing_is_disk_full_with_the_projected_size() {
    let (dir, scratch, path) = scratch_and_file();
    write_c1z(&path, &fixture(&[1]), &WriteOptions::default()).unwrap();
    let before = sha(&path);
    let kept = fs::metadata(&path).unwrap().blocks() * 512;
    // Room for the estimate (5 % of the database) but not for these incompressible rows.
    let opts = WriteOptions {
        scratch_dir: Some(scratch.path().to_path_buf()),
        data_limit: Some(SpaceLimit {
            root: dir.path().to_path_buf(),
            bytes: kept + 60_000,
        }),
        ..Default::default()
    };
    let err = write_c1z(&path, &wide_fixture(3000, "B"), &opts).unwrap_err();
    match &err {
        C1zError::DiskFull {
            volume: Volume::Data,
            cause: NoRoom::Limit,
            needed: Some(n),
            available: Some(a),
            ..
        } => assert!(*n > *a && *a <= 60_000, "{err}"),
        other => panic!("expected DiskFull in the data folder, got {other:?}"),
    }
    assert!(err.to_string().contains("needs about"), "{err}");
    assert_untouched(&path, &before, dir.path(), scratch.path());
    // The same write fits once the limit allows it.
    let roomy = WriteOptions {
        data_limit: Some(SpaceLimit {
            root: dir.path().to_path_buf(),
            bytes: 100_000_000,
        }),
        ..opts
    };
    write_c1z(&path, &wide_fixture(3000, "B"), &roomy).unwrap();
}

/// The early checks use the estimate; it must not be above what the database really takes
/// (that would refuse writes that fit), nor far below it.
#[test]
fn the_size_estimate_is_a_close_lower_bound() {
    let (_dir, scratch, path) = scratch_and_file();
    let snap = wide_fixture(20_000, "E");
    let est = estimate(&snap);
    let opts = WriteOptions {
        scratch_dir: Some(scratch.path().to_path_buf()),
        ..Default::default()
    };
    let sum = write_c1z(&path, &snap, &opts).unwrap();
    let ratio = sum.scratch_bytes as f64 / est.database as f64;
    assert!(
        (1.0..1.3).contains(&ratio),
        "database {} vs estimate {est:?}",
        sum.scratch_bytes
    );
}
