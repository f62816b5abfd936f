//! The reader: decompresses a c1z into a scratch SQLite file and decodes its rows.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use prost::Message;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::scratch::ScratchFile;
use super::space::{CappedWriter, Volume};
use super::{C1zError, MAGIC, MAX_DECODED_BYTES, MAX_WINDOW_LOG, schema};
use crate::baton::pb;

/// One row of `v1_sync_runs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    pub sync_id: String,
    pub started_at: String,
    /// `None` while a sync is unfinished.
    pub ended_at: Option<String>,
    pub sync_type: String,
    pub sync_token: String,
}

/// Grant changes between two syncs, for the connector status.
///
/// Counts are exact; the ID lists are capped (sorted, first `sample_limit`) so a sync that
/// changes a million grants does not cost the controller hundreds of megabytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantDiff {
    pub previous_sync_id: String,
    pub latest_sync_id: String,
    pub grants_added: u64,
    pub grants_removed: u64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// An opened c1z. The decompressed database lives in a scratch file removed on drop.
#[derive(Debug)]
pub struct C1zReader {
    conn: Connection,
    /// Held for its drop, which removes the decompressed database.
    _db: ScratchFile,
    has_sync_type: bool,
}

impl C1zReader {
    /// Opens `path`, decompressing into the system temp directory.
    pub fn open(path: &Path) -> Result<Self, C1zError> {
        Self::open_in(path, &std::env::temp_dir())
    }

    /// Opens `path`, decompressing into `scratch_dir` (the database is about 13x the file).
    pub fn open_in(path: &Path, scratch_dir: &Path) -> Result<Self, C1zError> {
        let stem = path.file_name().and_then(|n| n.to_str()).unwrap_or("c1z");
        let (db, out) = ScratchFile::create(scratch_dir, stem, "read.db").map_err(
            C1zError::io_in("create scratch database in", scratch_dir, Volume::Scratch),
        )?;
        decompress(path, out, MAX_DECODED_BYTES).map_err(|e| e.into_error(path, scratch_dir))?;

        let conn = Connection::open_with_flags(
            db.path(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Fails here (not later) if the payload is not a SQLite database.
        let tables: i64 = conn.query_row(
            "select count(*) from sqlite_master where type = 'table' and name = 'v1_sync_runs'",
            [],
            |r| r.get(0),
        )?;
        if tables == 0 {
            return Err(C1zError::MissingTable {
                path: path.to_path_buf(),
                table: "v1_sync_runs",
            });
        }
        let has_sync_type = schema::columns(&conn, "main", "v1_sync_runs")?
            .iter()
            .any(|c| c == "sync_type");
        Ok(Self {
            conn,
            _db: db,
            has_sync_type,
        })
    }

    /// The decompressed SQLite database, for ad-hoc inspection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// All sync runs, oldest row first.
    pub fn sync_runs(&self) -> Result<Vec<SyncRun>, C1zError> {
        sync_runs_of(&self.conn, self.has_sync_type)
    }

    /// Finished full syncs, newest first (the order Baton uses to pick "latest" and "previous").
    pub fn finished_full_syncs(&self) -> Result<Vec<SyncRun>, C1zError> {
        Ok(finished_full(self.sync_runs()?))
    }

    /// The sync Baton shows by default.
    pub fn latest_finished_sync(&self) -> Result<Option<SyncRun>, C1zError> {
        Ok(self.finished_full_syncs()?.into_iter().next())
    }

    fn check_sync(&self, sync_id: &str) -> Result<(), C1zError> {
        self.conn
            .query_row(
                "select 1 from v1_sync_runs where sync_id = ?1",
                [sync_id],
                |_| Ok(()),
            )
            .optional()?
            .ok_or_else(|| C1zError::UnknownSync(sync_id.to_owned()))
    }

    fn load<M: Message + Default>(
        &self,
        table: &'static str,
        sync_id: &str,
    ) -> Result<Vec<M>, C1zError> {
        self.check_sync(sync_id)?;
        let mut stmt = self.conn.prepare(&format!(
            "select external_id, data from {table} where sync_id = ?1 order by id"
        ))?;
        let mut rows = stmt.query([sync_id])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let data: Vec<u8> = row.get(1)?;
            let msg = M::decode(data.as_slice()).map_err(|source| C1zError::Decode {
                table,
                external_id: row.get(0).unwrap_or_default(),
                source,
            })?;
            out.push(msg);
        }
        Ok(out)
    }

    /// Resource types of a sync, in insertion order.
    pub fn resource_types(&self, sync_id: &str) -> Result<Vec<pb::ResourceType>, C1zError> {
        self.load("v1_resource_types", sync_id)
    }

    /// Resources of a sync, in insertion order.
    pub fn resources(&self, sync_id: &str) -> Result<Vec<pb::Resource>, C1zError> {
        self.load("v1_resources", sync_id)
    }

    /// Entitlements of a sync, in insertion order.
    pub fn entitlements(&self, sync_id: &str) -> Result<Vec<pb::Entitlement>, C1zError> {
        self.load("v1_entitlements", sync_id)
    }

    /// Grants of a sync, decoded. A `GrantExpandable` stored in the `expansion` column (the
    /// layout newer Baton writers use) is put back among the annotations, so callers see one
    /// shape whichever tool wrote the file. Loads everything: meant for tests and small files.
    pub fn grants(&self, sync_id: &str) -> Result<Vec<pb::Grant>, C1zError> {
        self.check_sync(sync_id)?;
        let has_expansion = schema::columns(&self.conn, "main", "v1_grants")?
            .iter()
            .any(|c| c == "expansion");
        let expansion = if has_expansion { "expansion" } else { "null" };
        let mut stmt = self.conn.prepare(&format!(
            "select external_id, data, {expansion} from v1_grants where sync_id = ?1 order by id"
        ))?;
        let mut rows = stmt.query([sync_id])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let data: Vec<u8> = row.get(1)?;
            let mut grant =
                pb::Grant::decode(data.as_slice()).map_err(|source| C1zError::Decode {
                    table: "v1_grants",
                    external_id: row.get(0).unwrap_or_default(),
                    source,
                })?;
            let expansion: Option<Vec<u8>> = row.get(2)?;
            if let Some(bytes) = expansion.filter(|b| !b.is_empty())
                && !grant
                    .annotations
                    .iter()
                    .any(|a| a.type_url == pb::GRANT_EXPANDABLE_TYPE_URL)
            {
                grant.annotations.push(prost_types::Any {
                    type_url: pb::GRANT_EXPANDABLE_TYPE_URL.to_owned(),
                    value: bytes,
                });
            }
            out.push(grant);
        }
        Ok(out)
    }

    /// Grant IDs of a sync, in insertion order.
    pub fn grant_ids(&self, sync_id: &str) -> Result<Vec<String>, C1zError> {
        self.check_sync(sync_id)?;
        let mut stmt = self
            .conn
            .prepare("select external_id from v1_grants where sync_id = ?1 order by id")?;
        let rows = stmt.query_map([sync_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Grants present in `latest` but not `previous` (added) and the reverse (removed), by
    /// grant ID. Runs in SQLite on the unique (external_id, sync_id) index, so memory stays flat.
    pub fn diff(
        &self,
        previous: &str,
        latest: &str,
        sample_limit: usize,
    ) -> Result<GrantDiff, C1zError> {
        self.check_sync(previous)?;
        self.check_sync(latest)?;
        Ok(grant_diff(
            &self.conn,
            "main",
            previous,
            latest,
            sample_limit,
        )?)
    }
}

/// All sync runs of the database behind `conn`, oldest row first.
fn sync_runs_of(conn: &Connection, has_sync_type: bool) -> Result<Vec<SyncRun>, C1zError> {
    let sync_type = if has_sync_type { "sync_type" } else { "'full'" };
    let sql = format!(
        "select sync_id, started_at, ended_at, {sync_type}, sync_token from v1_sync_runs order by id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(SyncRun {
            sync_id: r.get(0)?,
            started_at: r.get(1)?,
            ended_at: r.get(2)?,
            sync_type: r.get(3)?,
            sync_token: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The finished full syncs among `runs` (oldest row first), newest first.
fn finished_full(runs: Vec<SyncRun>) -> Vec<SyncRun> {
    let mut runs: Vec<SyncRun> = runs
        .into_iter()
        .filter(|r| r.ended_at.is_some() && (r.sync_type == "full" || r.sync_type.is_empty()))
        .collect();
    // Later rows first, then a stable sort: ties on ended_at keep the later row first.
    runs.reverse();
    runs.sort_by(|a, b| b.ended_at.cmp(&a.ended_at));
    runs
}

/// Finished full syncs of the database behind `conn`, newest first.
pub(crate) fn finished_full_syncs_of(conn: &Connection) -> Result<Vec<SyncRun>, C1zError> {
    let has_sync_type = schema::columns(conn, "main", "v1_sync_runs")?
        .iter()
        .any(|c| c == "sync_type");
    Ok(finished_full(sync_runs_of(conn, has_sync_type)?))
}

/// Why decompressing a c1z failed.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// The file is not a v1 c1z we can decode (bad magic, corrupt or oversized stream).
    Format(C1zError),
    /// Reading the file failed.
    Read(io::Error),
    /// Writing the database failed: the scratch folder is full, or another local problem.
    Write(io::Error),
}

impl DecodeError {
    /// The error to report when the decoded database was needed (`scratch_dir` held it).
    pub(crate) fn into_error(self, path: &Path, scratch_dir: &Path) -> C1zError {
        match self {
            DecodeError::Format(e) => e,
            DecodeError::Read(e) => C1zError::io("read", path)(e),
            DecodeError::Write(e) => {
                C1zError::io_in("decompress into", scratch_dir, Volume::Scratch)(e)
            }
        }
    }
}

/// Records whether an error came from the wrapped reader or writer (and not from the zstd
/// stream between them), so a full scratch folder is not mistaken for a corrupt file.
struct Tracked<T> {
    inner: T,
    failed: bool,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| self.failed = true)
    }
}

impl<W: Write> Write for Tracked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|_| self.failed = true)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|_| self.failed = true)
    }
}

/// Reads and checks the magic of the c1z at `path`; the file is positioned after it.
fn open_checked(path: &Path) -> Result<BufReader<Tracked<File>>, DecodeError> {
    let file = File::open(path).map_err(DecodeError::Read)?;
    let mut input = BufReader::new(Tracked {
        inner: file,
        failed: false,
    });
    let mut magic = [0u8; 5];
    let mut got = 0;
    while got < magic.len() {
        match input.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DecodeError::Read(e)),
        }
    }
    if &magic[..got] != MAGIC {
        return Err(DecodeError::Format(C1zError::BadMagic {
            path: path.to_path_buf(),
            found: magic[..got].to_vec(),
        }));
    }
    Ok(input)
}

/// Decompresses the c1z at `path` into `out`, writing at most `cap` bytes (a full scratch folder
/// or its limit); more than [`MAX_DECODED_BYTES`] is [`C1zError::TooLarge`]. Returns the size.
pub(crate) fn decompress(path: &Path, out: File, cap: u64) -> Result<u64, DecodeError> {
    let input = open_checked(path)?;
    let mut dec = zstd::stream::Decoder::with_buffer(input)
        .and_then(|mut d| d.window_log_max(MAX_WINDOW_LOG).map(|()| d))
        .map_err(|e| DecodeError::Format(C1zError::io("decompress", path)(e)))?;
    let mut out = BufWriter::new(Tracked {
        inner: CappedWriter {
            inner: out,
            written: 0,
            cap,
        },
        failed: false,
    });
    let copied = io::copy(&mut (&mut dec).take(MAX_DECODED_BYTES + 1), &mut out)
        .and_then(|n| out.flush().map(|()| n));
    let wrote_failed = out.get_ref().failed;
    let read_failed = dec.get_ref().get_ref().failed;
    match copied {
        Ok(n) if n > MAX_DECODED_BYTES => Err(DecodeError::Format(C1zError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_DECODED_BYTES,
        })),
        Ok(n) => Ok(n),
        Err(e) if wrote_failed => Err(DecodeError::Write(e)),
        Err(e) if read_failed => Err(DecodeError::Read(e)),
        Err(e) => Err(DecodeError::Format(C1zError::io("decompress", path)(e))),
    }
}

/// The decompressed size the c1z at `path` declares in its zstd frame header (our writer and
/// Baton's both set it), or `None` when absent or unreadable.
pub(crate) fn decoded_size(path: &Path) -> Option<u64> {
    let mut input = open_checked(path).ok()?;
    let mut header = [0u8; 18];
    let mut got = 0;
    while got < header.len() {
        match input.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return None,
        }
    }
    zstd::zstd_safe::get_frame_content_size(&header[..got])
        .ok()
        .flatten()
}

/// Diffs the two newest finished full syncs of the c1z at `path`; `None` when it holds fewer
/// than two (e.g. after the first sync).
pub fn diff_latest(path: &Path, sample_limit: usize) -> Result<Option<GrantDiff>, C1zError> {
    let reader = C1zReader::open(path)?;
    let runs = reader.finished_full_syncs()?;
    match runs.as_slice() {
        [latest, previous, ..] => Ok(Some(reader.diff(
            &previous.sync_id,
            &latest.sync_id,
            sample_limit,
        )?)),
        _ => Ok(None),
    }
}

/// Diff of two syncs stored in database `schema` of `conn` (shared with the writer, which
/// reports the diff of the file it just wrote).
pub(crate) fn grant_diff(
    conn: &Connection,
    schema: &str,
    previous: &str,
    latest: &str,
    sample_limit: usize,
) -> rusqlite::Result<GrantDiff> {
    let only_in = |a: &str, b: &str| -> rusqlite::Result<(u64, Vec<String>)> {
        let from = format!(
            "from {schema}.v1_grants g where g.sync_id = ?1 and not exists \
             (select 1 from {schema}.v1_grants o where o.sync_id = ?2 \
             and o.external_id = g.external_id)"
        );
        let count: i64 =
            conn.query_row(&format!("select count(*) {from}"), [a, b], |r| r.get(0))?;
        let mut stmt = conn.prepare(&format!(
            "select g.external_id {from} order by g.external_id limit ?3"
        ))?;
        let limit = i64::try_from(sample_limit).unwrap_or(i64::MAX);
        let ids = stmt
            .query_map(rusqlite::params![a, b, limit], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok((u64::try_from(count).unwrap_or(0), ids))
    };
    let (grants_added, added) = only_in(latest, previous)?;
    let (grants_removed, removed) = only_in(previous, latest)?;
    Ok(GrantDiff {
        previous_sync_id: previous.to_owned(),
        latest_sync_id: latest.to_owned(),
        grants_added,
        grants_removed,
        added,
        removed,
    })
}
