//! v1 `.c1z` files: `C1ZF\0` followed by one zstd stream of a self-contained SQLite database.
//!
//! We write v1 (not the Pebble-based v3) because every Baton reader, including the standalone
//! CLI, still opens it (reference §2.1).
//!
//! ## GrantExpandable layout
//! Grants keep their `GrantExpandable` annotation **inside `data`**, with `expansion` NULL,
//! `needs_expansion = 0`, and `supports_diff = grants_backfilled = 0` on the sync run. This is
//! the layout every reader understands: old readers read the annotation from `data`, and current
//! readers backfill (move it into `expansion`) when they open the file. Our own reader accepts
//! both layouts.

mod ksuid;
mod read;
mod schema;
mod scratch;
mod space;
mod write;

use std::io;
use std::path::PathBuf;

pub use read::{C1zReader, GrantDiff, SyncRun, diff_latest};
pub use space::{NoRoom, SpaceLimit, Volume};
#[cfg(test)]
pub use write::FailPoint;
pub use write::{WriteOptions, WriteSummary, write_c1z, write_latest_sync};

/// A new KSUID (27 base62 characters, time-ordered), as Baton uses for sync and action ids.
pub fn new_ksuid() -> String {
    ksuid::new(jiff::Timestamp::now().as_second())
}

/// First five bytes of a v1 c1z.
pub const MAGIC: &[u8; 5] = b"C1ZF\0";

/// Largest decompressed database we accept, as Baton's decoder (10 GiB).
pub const MAX_DECODED_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Largest zstd window we accept (2^27 = 128 MiB, Baton's default memory limit).
const MAX_WINDOW_LOG: u32 = 27;

/// Errors from writing or reading a c1z; none of them leaves a partial file at the target path.
#[derive(Debug, thiserror::Error)]
pub enum C1zError {
    /// A folder had no room: the filesystem is full (ENOSPC), a quota or file size limit was hit
    /// (EDQUOT, EFBIG), or the write needs more than the folder's free space or [`SpaceLimit`]
    /// leaves. `needed` is an estimate of what the whole write takes there, `available` what was
    /// free for it.
    #[error("not enough space in the {volume} {}: {}", dir.display(), space_detail(*cause, *needed, *available))]
    DiskFull {
        volume: Volume,
        dir: PathBuf,
        cause: NoRoom,
        needed: Option<u64>,
        available: Option<u64>,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{path} is not a v1 c1z file (first bytes {found:02x?})")]
    BadMagic { path: PathBuf, found: Vec<u8> },
    #[error("{path}: decompressed database exceeds {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot decode {table} row {external_id:?}: {source}")]
    Decode {
        table: &'static str,
        external_id: String,
        #[source]
        source: prost::DecodeError,
    },
    #[error("{path} has no {table} table")]
    MissingTable { path: PathBuf, table: &'static str },
    #[error("sync {0:?} is not in the file")]
    UnknownSync(String),
    #[error("target path {0} has no file name")]
    BadPath(PathBuf),
    #[cfg(test)]
    #[error("injected failure at {0:?}")]
    Injected(FailPoint),
}

impl C1zError {
    fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { op, path, source }
    }

    /// Like [`Self::io`] for a write into `dir`: an error meaning "it did not fit" becomes
    /// [`C1zError::DiskFull`].
    fn io_in(
        op: &'static str,
        dir: impl Into<PathBuf>,
        volume: Volume,
    ) -> impl FnOnce(io::Error) -> Self {
        let dir = dir.into();
        move |source| {
            if let Some(cause) = space::no_room(&source) {
                Self::DiskFull {
                    volume,
                    available: space::free_bytes(&dir),
                    dir,
                    cause,
                    needed: None,
                }
            } else {
                Self::Io {
                    op,
                    path: dir,
                    source,
                }
            }
        }
    }

    /// Whether this is [`C1zError::DiskFull`].
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::DiskFull { .. })
    }
}

/// "needs about 1.2 GB, 300.0 MB available", "the filesystem is full (0 B free)", ...
fn space_detail(cause: NoRoom, needed: Option<u64>, available: Option<u64>) -> String {
    let need = needed.map(|n| format!("needs about {}; ", space::human(n)));
    let need = need.as_deref().unwrap_or("");
    let free = available
        .map(|a| format!(" ({} free)", space::human(a)))
        .unwrap_or_default();
    match cause {
        NoRoom::Filesystem => format!("{need}the filesystem is full{free}"),
        NoRoom::Quota => format!("{need}the disk quota is used up{free}"),
        NoRoom::FileSize => {
            format!("{need}the process's file size limit (ulimit -f) was reached")
        }
        NoRoom::Limit => match (needed, available) {
            (Some(n), Some(a)) if n > a => {
                format!(
                    "needs about {}, {} available",
                    space::human(n),
                    space::human(a)
                )
            }
            (_, Some(a)) => format!("needs more than the {} available", space::human(a)),
            _ => format!("{need}the folder's size limit was reached"),
        },
    }
}

/// Removes every temporary file a writer or reader of ours left in `dir` (a killed process's
/// scratch database, say), whatever its age; returns the bytes freed. Only for a folder no other
/// running process writes snapshots through: the operator calls it on its scratch folder at start.
pub fn remove_scratch_leftovers(dir: &std::path::Path) -> u64 {
    scratch::remove_all(dir)
}

/// Points SQLite's temporary files (the sorter's spills while indexes are built, up to about a
/// sixth of the database) at `dir`, for the whole process. SQLite's own default is `TMPDIR` or
/// `/var/tmp`, `/usr/tmp`, `/tmp`; this keeps them on the scratch volume that is sized for them.
///
/// Call it once at startup, before any other SQLite use: the setting is process-wide and
/// SQLite documents changing it while connections are open as unsafe.
pub fn set_sqlite_temp_dir(dir: &std::path::Path) -> Result<(), C1zError> {
    let dir = dir.to_str().ok_or_else(|| C1zError::Io {
        op: "use as SQLite temp folder",
        path: dir.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8"),
    })?;
    let conn = rusqlite::Connection::open_in_memory()?;
    // A PRAGMA cannot take a bound parameter; quote the path as an SQL string literal.
    conn.execute_batch(&format!(
        "pragma temp_store_directory = '{}';",
        dir.replace('\'', "''")
    ))?;
    Ok(())
}

/// Formats a time the way Baton stores it: local wall clock, no zone, nanoseconds
/// (`YYYY-MM-DD HH:MM:SS.fffffffff`). Readers compare these as strings, so the width is fixed.
pub fn format_timestamp(ts: jiff::Timestamp) -> String {
    let dt = ts.to_zoned(jiff::tz::TimeZone::system()).datetime();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond()
    )
}

#[cfg(test)]
mod tests;
