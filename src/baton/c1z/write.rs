//! The writer: builds the SQLite database in a scratch file, keeps the previous sync, compresses
//! into a temporary file next to the target, then renames it into place.
//!
//! Disk: the scratch database starts as the decompressed previous file, whose older sync is
//! deleted in place (its pages zeroed and reused by the new sync), so the scratch folder holds
//! one database of the two kept syncs at most, never a second copy. Before any work, and again
//! before compressing, the writer checks the room it needs against what the folders have free
//! (and their [`SpaceLimit`]s), and it stops at that room while writing, so a folder that is
//! too small fails with [`C1zError::DiskFull`] instead of filling up.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use super::read::{self, DecodeError, GrantDiff, SyncRun, grant_diff};
use super::scratch::{self, ScratchFile};
use super::space::{self, CappedWriter, NoRoom, Reservation, SpaceLimit, Volume};
use super::{C1zError, MAGIC, format_timestamp, ksuid, schema};
use crate::baton::model::Snapshot;

/// Compressed/uncompressed size assumed for a first file when no earlier one tells the ratio;
/// on the low side, so the early check does not refuse a write that would fit (the write itself
/// stops at the real limit).
const FIRST_RATIO: f64 = 0.05;

/// Where a test makes the writer fail, to prove the previous file survives.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailPoint {
    /// After the database is complete, before compression starts.
    AfterDatabase,
    /// Halfway through writing the compressed temporary file.
    DuringCompression,
    /// After the temporary file is synced, just before the rename.
    BeforeRename,
}

/// Tuning for [`write_c1z`]; `Default` suits the operator.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Where the uncompressed SQLite database is built (about 13x the c1z, for the moments of the
    /// write). Default: the OS temp folder (`TMPDIR`, else `/tmp`). It can be another volume
    /// than the target's; only the compressed temporary file goes beside the target.
    pub scratch_dir: Option<PathBuf>,
    /// Most bytes the scratch folder may hold (e.g. its emptyDir's `sizeLimit`), shared by the
    /// writers of this process; `None`: only the filesystem's free space counts.
    pub scratch_limit: Option<u64>,
    /// Most bytes the tree holding the target may hold (e.g. the data volume's size).
    pub data_limit: Option<SpaceLimit>,
    /// zstd level; 3 (zstd's default) is fast and shrinks protobuf rows well.
    pub compression_level: i32,
    /// How many added/removed grant IDs [`WriteSummary::diff`] lists (counts are always exact).
    pub diff_sample_limit: usize,
    #[cfg(test)]
    pub(crate) fail_at: Option<FailPoint>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            scratch_dir: None,
            scratch_limit: None,
            data_limit: None,
            compression_level: 3,
            diff_sample_limit: 20,
            #[cfg(test)]
            fail_at: None,
        }
    }
}

/// What [`write_c1z`] wrote, for logs, status and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSummary {
    pub path: PathBuf,
    /// KSUID of the sync just written.
    pub sync_id: String,
    /// The earlier sync kept in the file for `baton diff`, if there was one.
    pub previous_sync_id: Option<String>,
    /// Why an existing file at the path could not be read (it was replaced without history).
    pub previous_unreadable: Option<String>,
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
    pub resource_types: u64,
    /// Resources per resource type (every declared type, zero included).
    pub resources_by_type: BTreeMap<String, u64>,
    pub resources: u64,
    pub entitlements: u64,
    pub grants: u64,
    /// Grant changes since the previous sync, when there was one.
    pub diff: Option<GrantDiff>,
    /// The most the scratch database grew to (bytes), for sizing volumes.
    pub scratch_bytes: u64,
}

/// Writes `snapshot` as a new finished full sync into the c1z at `path`, atomically.
///
/// If `path` already holds a readable c1z, its latest finished full sync is kept beside the new
/// one (and older ones dropped), so the file always holds at most the two syncs `baton diff`
/// compares. On any error the file at `path` is untouched and no temporary file remains.
///
/// Blocking (SQLite, zstd, fsync): call it from `spawn_blocking` in async code. Writes to one
/// path must be serialized by the caller (one sync per connector at a time).
pub fn write_c1z(
    path: &Path,
    snapshot: &Snapshot,
    opts: &WriteOptions,
) -> Result<WriteSummary, C1zError> {
    let stem = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| C1zError::BadPath(path.to_path_buf()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let scratch_dir = opts.scratch_dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch_limit = opts.scratch_limit.map(|bytes| SpaceLimit {
        root: scratch_dir.clone(),
        bytes,
    });
    scratch::remove_stale(dir, stem);
    if scratch_dir != dir {
        scratch::remove_stale(&scratch_dir, stem);
    }
    if !dir.is_dir() {
        return Err(C1zError::io("write into", dir)(io::Error::from(
            io::ErrorKind::NotFound,
        )));
    }

    // Room in the scratch folder: the previous file decompressed, or both kept syncs, whichever
    // is larger, plus what SQLite may spill while sorting the indexes.
    let est = estimate(snapshot);
    let prev_c1z = fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let prev_decoded = prev_c1z.and_then(|_| read::decoded_size(path));
    let syncs = if prev_c1z.is_some() { 2 } else { 1 };
    let scratch_needed = prev_decoded
        .unwrap_or(0)
        .max(est.database * syncs)
        .saturating_add(est.spill * syncs);
    let (_scratch, scratch_room) =
        Reservation::acquire(&scratch_dir, scratch_limit.as_ref(), scratch_needed).map_err(
            |room| C1zError::DiskFull {
                volume: Volume::Scratch,
                dir: scratch_dir.clone(),
                cause: NoRoom::Limit,
                needed: Some(scratch_needed),
                available: Some(room),
            },
        )?;

    let built = build_database(
        path,
        snapshot,
        opts,
        &scratch_dir,
        stem,
        Room {
            needed: scratch_needed,
            available: scratch_room,
        },
    )?;
    #[cfg(test)]
    fail(opts, FailPoint::AfterDatabase)?;

    // Room beside the target for the compressed file, while the previous one still exists.
    let db_len = fs::metadata(built.db.path())
        .map_err(C1zError::io("stat", built.db.path()))?
        .len();
    // The previous file's ratio predicts this one's within a few percent; 5 % off, so the check
    // does not refuse a write that just fits (the write itself stops at the real room).
    let ratio = match (prev_c1z, prev_decoded) {
        (Some(c), Some(d)) if d > 0 && built.previous_sync_id.is_some() => {
            0.95 * c as f64 / d as f64
        }
        _ => FIRST_RATIO,
    };
    let data_needed = (db_len as f64 * ratio) as u64;
    let (_data, data_room) = Reservation::acquire(dir, opts.data_limit.as_ref(), data_needed)
        .map_err(|room| C1zError::DiskFull {
            volume: Volume::Data,
            dir: dir.to_path_buf(),
            cause: NoRoom::Limit,
            needed: Some(data_needed),
            available: Some(room),
        })?;

    let (out_file, handle) = ScratchFile::create(dir, stem, "c1z").map_err(C1zError::io_in(
        "create temporary file in",
        dir,
        Volume::Data,
    ))?;
    let (sha256, bytes) = compress(built.db.path(), handle, out_file.path(), opts, data_room)
        .map_err(|e| e.into_error(dir, data_needed, data_room))?;
    drop(built.db);
    #[cfg(test)]
    fail(opts, FailPoint::BeforeRename)?;

    fs::rename(out_file.path(), path).map_err(C1zError::io("rename into", path))?;
    out_file.keep();
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(C1zError::io("sync directory", dir))?;

    Ok(WriteSummary {
        path: path.to_path_buf(),
        sync_id: built.sync_id,
        previous_sync_id: built.previous_sync_id,
        previous_unreadable: built.previous_unreadable,
        sha256,
        bytes,
        resource_types: snapshot.resource_types().len() as u64,
        resources_by_type: snapshot.resource_counts(),
        resources: snapshot.resource_count() as u64,
        entitlements: snapshot.entitlement_count() as u64,
        grants: snapshot.grant_count() as u64,
        diff: built.diff,
        scratch_bytes: db_len,
    })
}

/// A file holding only the latest finished full sync of `src` (ConductorOne ingests one sync per
/// upload, as the SDK sends it): written to `dst` atomically, like [`write_c1z`]. Returns the
/// sync id, the SHA-256 (hex) and the size of `dst`.
///
/// The decompressed `src` and a new database holding that one sync are in the scratch folder
/// together for the moment of the copy; the upload file goes beside `dst`. Both folders'
/// limits apply as they do to [`write_c1z`].
pub fn write_latest_sync(
    src: &Path,
    dst: &Path,
    opts: &WriteOptions,
) -> Result<(String, String, u64), C1zError> {
    let stem = dst
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| C1zError::BadPath(dst.to_path_buf()))?;
    let dir = match dst.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let scratch_dir = opts.scratch_dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch_limit = opts.scratch_limit.map(|bytes| SpaceLimit {
        root: scratch_dir.clone(),
        bytes,
    });
    scratch::remove_stale(dir, stem);
    if scratch_dir != dir {
        scratch::remove_stale(&scratch_dir, stem);
    }
    let src_c1z = fs::metadata(src).map_err(C1zError::io("read", src))?.len();
    let decoded = read::decoded_size(src).unwrap_or(src_c1z.saturating_mul(20));
    // The decompressed source, and the copy of its latest sync (at most as large again).
    let needed = decoded.saturating_mul(2);
    let (_scratch, scratch_room) =
        Reservation::acquire(&scratch_dir, scratch_limit.as_ref(), needed).map_err(|room| {
            C1zError::DiskFull {
                volume: Volume::Scratch,
                dir: scratch_dir.clone(),
                cause: NoRoom::Limit,
                needed: Some(needed),
                available: Some(room),
            }
        })?;
    let room = Room {
        needed,
        available: scratch_room,
    };
    let create = || {
        ScratchFile::create(&scratch_dir, stem, "db").map_err(C1zError::io_in(
            "create scratch database in",
            &scratch_dir,
            Volume::Scratch,
        ))
    };
    let (whole, out) = create()?;
    let used = match read::decompress(src, out, scratch_room) {
        Ok(n) => n,
        Err(DecodeError::Write(e)) if space::is_full(&e) => {
            let cause = space::no_room(&e).unwrap_or(NoRoom::Limit);
            return Err(no_room(
                Volume::Scratch,
                &scratch_dir,
                cause,
                Some(needed),
                scratch_room,
            ));
        }
        Err(e) => return Err(e.into_error(src, &scratch_dir)),
    };
    let kept = {
        let conn = Connection::open(whole.path())?;
        inspect_previous(&conn)?.0
    };
    let run = kept.ok_or_else(|| C1zError::UnknownSync("a finished full sync".into()))?;
    let (one, _) = create()?;
    let conn = Connection::open(one.path())?;
    let sql = |conn: &Connection, e: rusqlite::Error| sqlite_error(conn, e, &scratch_dir, room);
    new_schema(&conn, scratch_room.saturating_sub(used)).map_err(|e| sql(&conn, e))?;
    copy_sync(&conn, whole.path(), &run.sync_id).map_err(|e| sql(&conn, e))?;
    drop(whole);
    schema::create_indexes(&conn).map_err(|e| sql(&conn, e))?;
    conn.close().map_err(|(c, e)| sql(&c, e))?;

    let db_len = fs::metadata(one.path())
        .map_err(C1zError::io("stat", one.path()))?
        .len();
    let data_needed = (db_len as f64 * 0.95 * src_c1z as f64 / decoded.max(1) as f64) as u64;
    let (_data, data_room) = Reservation::acquire(dir, opts.data_limit.as_ref(), data_needed)
        .map_err(|room| C1zError::DiskFull {
            volume: Volume::Data,
            dir: dir.to_path_buf(),
            cause: NoRoom::Limit,
            needed: Some(data_needed),
            available: Some(room),
        })?;
    let (out_file, handle) = ScratchFile::create(dir, stem, "c1z").map_err(C1zError::io_in(
        "create temporary file in",
        dir,
        Volume::Data,
    ))?;
    let (sha256, bytes) = compress(one.path(), handle, out_file.path(), opts, data_room)
        .map_err(|e| e.into_error(dir, data_needed, data_room))?;
    drop(one);
    fs::rename(out_file.path(), dst).map_err(C1zError::io("rename into", dst))?;
    out_file.keep();
    Ok((run.sync_id, sha256, bytes))
}

#[cfg(test)]
fn fail(opts: &WriteOptions, here: FailPoint) -> Result<(), C1zError> {
    match opts.fail_at {
        Some(p) if p == here => Err(C1zError::Injected(p)),
        _ => Ok(()),
    }
}

/// Bytes one sync of `s` adds to the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Estimate {
    /// Rows and index entries, without page overhead (so on the low side).
    pub(crate) database: u64,
    /// The largest index, which SQLite's sorter spills to temporary files while building it.
    pub(crate) spill: u64,
}

/// Estimates, from lengths alone, what a sync of `s` takes in the database.
pub(crate) fn estimate(s: &Snapshot) -> Estimate {
    // sync_id (27) + discovered_at (29) + record header, rowid and cell overhead (~12).
    const PER_ROW: u64 = 27 + 29 + 12;
    // An index entry's own overhead: record header, rowid, cell pointer.
    const PER_ENTRY: u64 = 10;
    let mut rows = 0u64;
    let mut indexes = 0u64;
    let mut external_index = 0u64;
    for r in s.stored_resources() {
        let ext = (r.resource_type.len() + 1 + r.id.len()) as u64;
        let parent = r
            .parent
            .as_ref()
            .map_or(0, |(t, i)| (t.len() + i.len()) as u64);
        rows += PER_ROW + r.bytes.len() as u64 + r.resource_type.len() as u64 + ext + parent;
        indexes += 3 * PER_ENTRY + r.resource_type.len() as u64 + parent + ext + 27;
    }
    for e in s.stored_entitlements() {
        let r = s.stored_resource(e.resource);
        let rid = (r.resource_type.len() + r.id.len()) as u64;
        rows += PER_ROW + r.bytes.len() as u64 + 2 * e.id.len() as u64 + rid + 16;
        indexes += 2 * PER_ENTRY + rid + e.id.len() as u64 + 27;
    }
    for g in s.stored_grants() {
        let e = s.stored_entitlement(g.entitlement);
        let r = s.stored_resource(e.resource);
        let p = s.stored_resource(g.principal);
        let rid = (r.resource_type.len() + r.id.len()) as u64;
        let pid = (p.resource_type.len() + p.id.len()) as u64;
        let gid = e.id.len() as u64 + 2 + pid;
        // data: the entitlement (resource + id), the principal's id, the grant id, framing.
        let data = r.bytes.len() as u64 + e.id.len() as u64 + pid + gid + 16;
        rows += PER_ROW + data + rid + e.id.len() as u64 + pid + gid;
        let ext = PER_ENTRY + gid + 27;
        indexes += 3 * PER_ENTRY + rid + pid + e.id.len() as u64 + pid + ext;
        external_index += ext;
    }
    Estimate {
        database: rows + indexes,
        spill: external_index,
    }
}

/// The finished scratch database and what building it found out.
struct Built {
    db: ScratchFile,
    sync_id: String,
    previous_sync_id: Option<String>,
    previous_unreadable: Option<String>,
    diff: Option<GrantDiff>,
}

/// What a write expects to need in a folder, and the room it may use there.
#[derive(Clone, Copy, Debug)]
struct Room {
    needed: u64,
    available: u64,
}

/// The [`C1zError::DiskFull`] of a write into `dir` that did not fit for `cause`.
fn no_room(volume: Volume, dir: &Path, cause: NoRoom, needed: Option<u64>, room: u64) -> C1zError {
    C1zError::DiskFull {
        volume,
        dir: dir.to_path_buf(),
        cause,
        needed,
        // Our limit: the room the write had; otherwise what the filesystem has free now.
        available: match cause {
            NoRoom::Limit => Some(room),
            _ => space::free_bytes(dir),
        },
    }
}

/// Builds the database of the new file in `scratch_dir`, using at most `room.available` bytes.
fn build_database(
    path: &Path,
    snapshot: &Snapshot,
    opts: &WriteOptions,
    scratch_dir: &Path,
    stem: &str,
    room: Room,
) -> Result<Built, C1zError> {
    let sql = |conn: &Connection, e: rusqlite::Error| sqlite_error(conn, e, scratch_dir, room);
    let create = || {
        ScratchFile::create(scratch_dir, stem, "db").map_err(C1zError::io_in(
            "create scratch database in",
            scratch_dir,
            Volume::Scratch,
        ))
    };
    let (mut db, out) = create()?;
    let mut previous_unreadable = None;
    let mut decoded = None;
    if path.is_file() {
        match read::decompress(path, out, room.available) {
            Ok(n) => decoded = Some(n),
            Err(DecodeError::Write(e)) if space::is_full(&e) => {
                let cause = space::no_room(&e).unwrap_or(NoRoom::Limit);
                let (needed, available) = (Some(room.needed), room.available);
                return Err(no_room(
                    Volume::Scratch,
                    scratch_dir,
                    cause,
                    needed,
                    available,
                ));
            }
            Err(e @ DecodeError::Write(_)) => return Err(e.into_error(path, scratch_dir)),
            Err(e) => {
                previous_unreadable = Some(e.into_error(path, scratch_dir).to_string());
                // Start over with an empty file (the partial output is useless).
                drop(db);
                db = create()?.0;
            }
        }
    } else {
        drop(out);
    }

    let mut previous: Option<SyncRun> = None;
    let mut conn = Connection::open(db.path())?;
    if decoded.is_some() {
        match inspect_previous(&conn) {
            Ok((kept, true)) => {
                // Our own layout: keep the database, drop everything but the kept sync.
                set_build_pragmas(&conn, room.available).map_err(|e| sql(&conn, e))?;
                prune(&conn, kept.as_ref().map(|k| k.sync_id.as_str()))
                    .map_err(|e| sql(&conn, e))?;
                previous = kept;
            }
            Ok((kept, false)) => {
                // Another writer's layout: copy the kept sync's common columns into a new
                // database of ours (the previous one is read from the decompressed file).
                drop(conn);
                let (fresh_db, _) = create()?;
                conn = Connection::open(fresh_db.path())?;
                let used = decoded.unwrap_or(0);
                new_schema(&conn, room.available.saturating_sub(used))
                    .map_err(|e| sql(&conn, e))?;
                if let Some(k) = &kept {
                    copy_sync(&conn, db.path(), &k.sync_id).map_err(|e| sql(&conn, e))?;
                }
                db = fresh_db;
                previous = kept;
            }
            Err(e) => {
                previous_unreadable = Some(e.to_string());
                drop(conn);
                drop(db);
                db = create()?.0;
                conn = Connection::open(db.path())?;
                new_schema(&conn, room.available).map_err(|e| sql(&conn, e))?;
            }
        }
    } else {
        new_schema(&conn, room.available).map_err(|e| sql(&conn, e))?;
    }

    let built = (|| {
        let sync_id = insert_snapshot(&mut conn, snapshot)?;
        schema::create_indexes(&conn)?;
        let diff = match &previous {
            Some(prev) => Some(grant_diff(
                &conn,
                "main",
                &prev.sync_id,
                &sync_id,
                opts.diff_sample_limit,
            )?),
            None => None,
        };
        Ok::<_, C1zError>((sync_id, diff))
    })();
    let (sync_id, diff) = built.map_err(|e| match e {
        C1zError::Sqlite(e) => sql(&conn, e),
        other => other,
    })?;
    conn.close().map_err(|(c, e)| sql(&c, e))?;
    Ok(Built {
        db,
        sync_id,
        previous_sync_id: previous.map(|p| p.sync_id),
        previous_unreadable,
        diff,
    })
}

/// The previous database's latest finished full sync, and whether its schema is exactly ours
/// (then it is reused in place). An error here means the file is not a c1z we can read.
fn inspect_previous(conn: &Connection) -> Result<(Option<SyncRun>, bool), C1zError> {
    let tables: i64 = conn.query_row(
        "select count(*) from sqlite_master where type = 'table' and name = 'v1_sync_runs'",
        [],
        |r| r.get(0),
    )?;
    if tables == 0 {
        return Err(C1zError::MissingTable {
            path: conn.path().map(PathBuf::from).unwrap_or_default(),
            table: "v1_sync_runs",
        });
    }
    let kept = read::finished_full_syncs_of(conn)?.into_iter().next();
    Ok((kept, schema::matches_ours(conn)?))
}

/// Pragmas of a database being built: no journal or fsync (a crash just discards the scratch
/// file), and at most `room` bytes on disk: past it SQLite answers SQLITE_FULL, which becomes
/// [`C1zError::DiskFull`]. SQLite's default page size and cache stay: a larger page saved only
/// 2 % here, and a larger cache costs resident memory the sync's budget does not have.
///
/// `secure_delete` zeroes what is deleted and what page splits move away: the database is
/// reused from the previous file, and a sync it drops must not linger in free space (this one's
/// inserts would otherwise leave stale copies of cells next write's deletes cannot reach).
fn set_build_pragmas(conn: &Connection, room: u64) -> rusqlite::Result<()> {
    conn.execute_batch(
        "pragma journal_mode = off; pragma synchronous = off; pragma secure_delete = on;",
    )?;
    let page_size: i64 = conn.query_row("pragma page_size", [], |r| r.get(0))?;
    let pages = room / page_size.max(512) as u64;
    let max = i64::try_from(pages).unwrap_or(i64::MAX).max(1);
    conn.query_row(&format!("pragma max_page_count = {max}"), [], |_| Ok(()))?;
    Ok(())
}

/// A new, empty database with our tables.
fn new_schema(conn: &Connection, room: u64) -> rusqlite::Result<()> {
    set_build_pragmas(conn, room)?;
    schema::create_tables(conn)
}

/// Deletes every sync but `kept` (all of them when `None`) from a database in our layout, with
/// its indexes dropped first so the deletes and the new sync's bulk load do not maintain them.
fn prune(conn: &Connection, kept: Option<&str>) -> rusqlite::Result<()> {
    schema::drop_indexes(conn)?;
    let tx = conn.unchecked_transaction()?;
    for table in schema::SYNC_TABLES
        .iter()
        .copied()
        .chain(["v1_connector_sessions"])
    {
        match kept {
            Some(id) => tx.execute(&format!("delete from {table} where sync_id <> ?1"), [id])?,
            None => tx.execute(&format!("delete from {table}"), [])?,
        };
    }
    tx.commit()
}

/// Copies the rows of sync `sync_id` from the database file `from` into `conn`'s database.
///
/// Only columns present in both schemas are copied, so files written by other Baton versions
/// (with more or fewer columns) still carry over.
fn copy_sync(conn: &Connection, from: &Path, sync_id: &str) -> rusqlite::Result<()> {
    let db = from.to_string_lossy();
    conn.execute("attach database ?1 as prev", [db.as_ref()])?;
    let copied = (|| {
        for table in schema::SYNC_TABLES {
            let theirs = schema::columns(conn, "prev", table)?;
            let cols: Vec<String> = schema::columns(conn, "main", table)?
                .into_iter()
                .filter(|c| c != "id" && theirs.contains(c))
                .map(|c| format!("\"{c}\""))
                .collect();
            if cols.is_empty() || !theirs.iter().any(|c| c == "sync_id") {
                continue;
            }
            let cols = cols.join(", ");
            conn.execute(
                &format!(
                    "insert into main.{table} ({cols}) select {cols} from prev.{table} \
                     where sync_id = ?1 order by id"
                ),
                [sync_id],
            )?;
        }
        Ok::<_, rusqlite::Error>(())
    })();
    conn.execute("detach database prev", [])?;
    copied
}

/// Whether the database has as many pages as `max_page_count` allows (one to spare).
fn at_page_limit(conn: &Connection) -> bool {
    let pragma = |name: &str| conn.query_row(&format!("pragma {name}"), [], |r| r.get::<_, i64>(0));
    matches!((pragma("page_count"), pragma("max_page_count")), (Ok(n), Ok(max)) if n + 1 >= max)
}

/// A SQLite error while building in `dir`: SQLITE_FULL (no space, or our page limit), or an I/O
/// error whose errno says quota or file size, becomes [`C1zError::DiskFull`].
fn sqlite_error(conn: &Connection, e: rusqlite::Error, dir: &Path, room: Room) -> C1zError {
    let cause = match &e {
        rusqlite::Error::SqliteFailure(f, _) => {
            // SAFETY: the handle is valid while `conn` lives; the call only reads its errno.
            let errno = unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) };
            let os = space::no_room(&io::Error::from_raw_os_error(errno));
            match f.code {
                // SQLite reports ENOSPC as SQLITE_FULL and keeps no errno, as it does for our page
                // limit: a database at its page limit means the limit. (Free space says nothing
                // by now: a failed index sort has already deleted its spill files.)
                rusqlite::ErrorCode::DiskFull => Some(if at_page_limit(conn) {
                    NoRoom::Limit
                } else {
                    os.unwrap_or(NoRoom::Filesystem)
                }),
                rusqlite::ErrorCode::SystemIoFailure => os,
                _ => None,
            }
        }
        _ => None,
    };
    match cause {
        Some(cause) => no_room(
            Volume::Scratch,
            dir,
            cause,
            Some(room.needed),
            room.available,
        ),
        None => C1zError::Sqlite(e),
    }
}

/// Inserts the snapshot's rows and its finished sync run in one transaction; returns the sync id.
fn insert_snapshot(conn: &mut Connection, s: &Snapshot) -> Result<String, C1zError> {
    let now = jiff::Timestamp::now();
    let sync_id = ksuid::new(now.as_second());
    let discovered_at = format_timestamp(now);
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "insert into v1_resource_types (external_id, data, sync_id, discovered_at) \
             values (?1, ?2, ?3, ?4)",
        )?;
        for rt in s.resource_types() {
            stmt.execute(params![
                rt.id,
                prost::Message::encode_to_vec(rt),
                sync_id,
                discovered_at
            ])?;
        }

        let mut stmt = tx.prepare(
            "insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, \
             parent_resource_id, data, sync_id, discovered_at) values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for r in s.stored_resources() {
            let external_id = crate::baton::model::resource_external_id(&r.resource_type, &r.id);
            let (ptype, pid) = match &r.parent {
                Some((t, i)) => (Some(&**t), Some(&**i)),
                None => (None, None),
            };
            stmt.execute(params![
                &*r.resource_type,
                external_id,
                ptype,
                pid,
                &*r.bytes,
                sync_id,
                discovered_at
            ])?;
        }

        let mut stmt = tx.prepare(
            "insert into v1_entitlements (resource_type_id, resource_id, external_id, data, \
             sync_id, discovered_at) values (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut buf = Vec::new();
        for (idx, e) in s.stored_entitlements().iter().enumerate() {
            let r = s.stored_resource(e.resource);
            buf.clear();
            s.encode_entitlement(idx as u32, &mut buf);
            stmt.execute(params![
                &*r.resource_type,
                &*r.id,
                &*e.id,
                buf,
                sync_id,
                discovered_at
            ])?;
        }

        let mut stmt = tx.prepare(
            "insert into v1_grants (resource_type_id, resource_id, entitlement_id, \
             principal_resource_type_id, principal_resource_id, external_id, expansion, \
             needs_expansion, data, sync_id, discovered_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, null, 0, ?7, ?8, ?9)",
        )?;
        // Grants usually arrive grouped by entitlement, so one cached encoding saves most work.
        let mut ent_cache: Option<(u32, Vec<u8>)> = None;
        for g in s.stored_grants() {
            if ent_cache.as_ref().is_none_or(|(i, _)| *i != g.entitlement) {
                let mut bytes = ent_cache.take().map(|(_, b)| b).unwrap_or_default();
                bytes.clear();
                s.encode_grant_entitlement(g.entitlement, &mut bytes);
                ent_cache = Some((g.entitlement, bytes));
            }
            let (_, ent_bytes) = ent_cache.as_ref().expect("filled above");
            let e = s.stored_entitlement(g.entitlement);
            let r = s.stored_resource(e.resource);
            let p = s.stored_resource(g.principal);
            buf.clear();
            s.encode_grant(g, ent_bytes, &mut buf);
            stmt.execute(params![
                &*r.resource_type,
                &*r.id,
                &*e.id,
                &*p.resource_type,
                &*p.id,
                s.grant_id_of(g),
                buf,
                sync_id,
                discovered_at
            ])?;
        }

        tx.execute(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, \
             parent_sync_id, linked_sync_id, supports_diff, grants_backfilled) \
             values (?1, ?2, ?3, '', 'full', '', '', 0, 0)",
            params![
                sync_id,
                format_timestamp(s.sync_started_at()),
                format_timestamp(jiff::Timestamp::now())
            ],
        )?;
    }
    tx.commit()?;
    Ok(sync_id)
}

/// A writer that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Why compressing failed, with the figures a "disk full" message needs.
struct CompressError {
    source: io::Error,
    path: PathBuf,
    /// Compressed bytes written and database bytes read when it failed.
    written: u64,
    consumed: u64,
    db_len: u64,
}

impl CompressError {
    /// The error to report; a full folder (`room` bytes were free for the file) becomes
    /// [`C1zError::DiskFull`], with the whole file's size projected from the ratio so far (or
    /// the `estimate` when nothing was compressed yet).
    fn into_error(self, dir: &Path, estimate: u64, room: u64) -> C1zError {
        if let Some(cause) = space::no_room(&self.source) {
            let projected = (self.consumed > 0)
                .then(|| (self.written as f64 * self.db_len as f64 / self.consumed as f64) as u64);
            let needed = projected.unwrap_or(estimate).max(estimate);
            no_room(Volume::Data, dir, cause, Some(needed), room)
        } else {
            C1zError::Io {
                op: "write",
                path: self.path,
                source: self.source,
            }
        }
    }
}

/// A reader that counts what it read.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Writes magic + zstd(database) to `out`, at most `room` bytes, fsyncs it, and returns
/// (sha256 hex, size).
fn compress(
    db_path: &Path,
    out: File,
    out_path: &Path,
    opts: &WriteOptions,
    room: u64,
) -> Result<(String, u64), CompressError> {
    let fail = |source: io::Error, written: u64, consumed: u64, db_len: u64| CompressError {
        source,
        path: out_path.to_path_buf(),
        written,
        consumed,
        db_len,
    };
    let db = File::open(db_path).map_err(|e| fail(e, 0, 0, 0))?;
    let db_len = db.metadata().map_err(|e| fail(e, 0, 0, 0))?.len();
    let mut db = CountingReader { inner: db, read: 0 };
    let w = HashingWriter {
        inner: BufWriter::new(CappedWriter {
            inner: out,
            written: 0,
            cap: room,
        }),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut enc = zstd::stream::Encoder::new(w, opts.compression_level)
        .and_then(|mut e| {
            e.include_contentsize(true)?;
            e.set_pledged_src_size(Some(db_len))?;
            e.get_mut().write_all(MAGIC)?;
            Ok(e)
        })
        .map_err(|e| fail(e, 0, 0, db_len))?;
    #[cfg(test)]
    if opts.fail_at == Some(FailPoint::DuringCompression) {
        let half = io::copy(&mut (&mut db).take(db_len / 2), &mut enc).and_then(|_| enc.flush());
        let source = half
            .err()
            .unwrap_or_else(|| io::Error::other("injected failure during compression"));
        return Err(fail(source, enc.get_ref().bytes, db.read, db_len));
    }
    if let Err(e) = io::copy(&mut db, &mut enc) {
        return Err(fail(e, enc.get_ref().bytes, db.read, db_len));
    }
    let consumed = db.read;
    let finished = enc.finish().and_then(|w| {
        let HashingWriter {
            inner,
            hasher,
            bytes,
        } = w;
        let file = inner.into_inner().map_err(|e| e.into_error())?.inner;
        file.sync_all()?;
        Ok((hex::encode(hasher.finalize()), bytes))
    });
    finished.map_err(|e| fail(e, room, consumed, db_len))
}
