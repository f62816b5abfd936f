//! The writer: builds the SQLite database in a scratch file, keeps the previous sync, compresses
//! into a temporary file next to the target, then renames it into place.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use super::read::{C1zReader, GrantDiff, grant_diff};
use super::scratch::{self, ScratchFile};
use super::{C1zError, MAGIC, format_timestamp, ksuid, schema};
use crate::baton::model::Snapshot;

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
    /// Where the uncompressed SQLite scratch files go (they can be ~10x the c1z). Default: the
    /// target's directory, because `/tmp` in a container is often small or memory-backed.
    pub scratch_dir: Option<PathBuf>,
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
    let scratch_dir = opts.scratch_dir.as_deref().unwrap_or(dir);
    scratch::remove_stale(dir, stem);
    if scratch_dir != dir {
        scratch::remove_stale(scratch_dir, stem);
    }

    let (db_file, db_handle) = ScratchFile::create(scratch_dir, stem, "db")
        .map_err(C1zError::io("create scratch database in", scratch_dir))?;
    drop(db_handle);
    let mut conn = Connection::open(db_file.path())?;
    // Scratch database: no journal needed, and a crash simply discards it.
    conn.execute_batch("pragma journal_mode = off; pragma synchronous = off;")?;
    schema::create_tables(&conn)?;

    let mut previous_sync_id = None;
    let mut previous_unreadable = None;
    if path.exists() {
        match C1zReader::open_in(path, scratch_dir) {
            Ok(prev) => previous_sync_id = copy_latest_sync(&conn, &prev)?,
            Err(e) => previous_unreadable = Some(e.to_string()),
        }
    }

    let sync_id = insert_snapshot(&mut conn, snapshot)?;
    schema::create_indexes(&conn)?;
    let diff = match &previous_sync_id {
        Some(prev) => Some(grant_diff(
            &conn,
            "main",
            prev,
            &sync_id,
            opts.diff_sample_limit,
        )?),
        None => None,
    };
    conn.close().map_err(|(_, e)| e)?;
    #[cfg(test)]
    fail(opts, FailPoint::AfterDatabase)?;

    let (out_file, handle) = ScratchFile::create(dir, stem, "c1z")
        .map_err(C1zError::io("create temporary file in", dir))?;
    let (sha256, bytes) = compress(db_file.path(), handle, out_file.path(), opts)?;
    drop(db_file);
    #[cfg(test)]
    fail(opts, FailPoint::BeforeRename)?;

    fs::rename(out_file.path(), path).map_err(C1zError::io("rename into", path))?;
    out_file.keep();
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(C1zError::io("sync directory", dir))?;

    Ok(WriteSummary {
        path: path.to_path_buf(),
        sync_id,
        previous_sync_id,
        previous_unreadable,
        sha256,
        bytes,
        resource_types: snapshot.resource_types().len() as u64,
        resources_by_type: snapshot.resource_counts(),
        resources: snapshot.resource_count() as u64,
        entitlements: snapshot.entitlement_count() as u64,
        grants: snapshot.grant_count() as u64,
        diff,
    })
}

/// A file holding only the latest finished full sync of `src` (ConductorOne ingests one sync per
/// upload, as the SDK sends it): written to `dst` atomically, like [`write_c1z`]. Returns the
/// sync id, the SHA-256 (hex) and the size of `dst`.
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
    let scratch_dir = opts.scratch_dir.as_deref().unwrap_or(dir);
    scratch::remove_stale(dir, stem);
    let (db_file, db_handle) = ScratchFile::create(scratch_dir, stem, "db")
        .map_err(C1zError::io("create scratch database in", scratch_dir))?;
    drop(db_handle);
    let conn = Connection::open(db_file.path())?;
    conn.execute_batch("pragma journal_mode = off; pragma synchronous = off;")?;
    schema::create_tables(&conn)?;
    let prev = C1zReader::open_in(src, scratch_dir)?;
    let sync_id = copy_latest_sync(&conn, &prev)?
        .ok_or_else(|| C1zError::UnknownSync("a finished full sync".into()))?;
    drop(prev);
    schema::create_indexes(&conn)?;
    conn.close().map_err(|(_, e)| e)?;
    let (out_file, handle) = ScratchFile::create(dir, stem, "c1z")
        .map_err(C1zError::io("create temporary file in", dir))?;
    let (sha256, bytes) = compress(db_file.path(), handle, out_file.path(), opts)?;
    drop(db_file);
    fs::rename(out_file.path(), dst).map_err(C1zError::io("rename into", dst))?;
    out_file.keep();
    Ok((sync_id, sha256, bytes))
}

#[cfg(test)]
fn fail(opts: &WriteOptions, here: FailPoint) -> Result<(), C1zError> {
    match opts.fail_at {
        Some(p) if p == here => Err(C1zError::Injected(p)),
        _ => Ok(()),
    }
}

/// Copies the rows of the previous file's latest finished full sync; returns its id.
///
/// Only columns present in both schemas are copied, so files written by other Baton versions
/// (with more or fewer columns) still carry over.
fn copy_latest_sync(conn: &Connection, prev: &C1zReader) -> Result<Option<String>, C1zError> {
    let Some(run) = prev.latest_finished_sync()? else {
        return Ok(None);
    };
    let db = prev.db_path().to_str().ok_or_else(|| C1zError::Io {
        op: "attach",
        path: prev.db_path().to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"),
    })?;
    conn.execute("attach database ?1 as prev", [db])?;
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
                [&run.sync_id],
            )?;
        }
        Ok::<_, rusqlite::Error>(())
    })();
    conn.execute("detach database prev", [])?;
    copied?;
    Ok(Some(run.sync_id))
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
                s.encode_entitlement(g.entitlement, &mut bytes);
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

/// Writes magic + zstd(database) to `out`, fsyncs it, and returns (sha256 hex, size).
fn compress(
    db_path: &Path,
    out: File,
    out_path: &Path,
    opts: &WriteOptions,
) -> Result<(String, u64), C1zError> {
    let io_err = C1zError::io("write", out_path);
    let mut db = File::open(db_path).map_err(C1zError::io("open", db_path))?;
    let db_len = db.metadata().map_err(C1zError::io("stat", db_path))?.len();
    let result = (|| {
        let mut w = HashingWriter {
            inner: BufWriter::new(out),
            hasher: Sha256::new(),
            bytes: 0,
        };
        w.write_all(MAGIC)?;
        let mut enc = zstd::stream::Encoder::new(w, opts.compression_level)?;
        enc.include_contentsize(true)?;
        enc.set_pledged_src_size(Some(db_len))?;
        #[cfg(test)]
        if opts.fail_at == Some(FailPoint::DuringCompression) {
            io::copy(&mut io::Read::take(&mut db, db_len / 2), &mut enc)?;
            enc.flush()?;
            return Err(io::Error::other("injected failure during compression"));
        }
        io::copy(&mut db, &mut enc)?;
        let HashingWriter {
            inner,
            hasher,
            bytes,
        } = enc.finish()?;
        let file = inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((hex::encode(hasher.finalize()), bytes))
    })();
    result.map_err(io_err)
}
