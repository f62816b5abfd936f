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
mod write;

use std::io;
use std::path::PathBuf;

pub use read::{C1zReader, GrantDiff, SyncRun, diff_latest};
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
