//! Temporary files that delete themselves unless kept, so no error path leaves debris behind.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Suffix of every temporary file we create; used to find leftovers of a killed process.
const SUFFIX: &str = ".tmp";

/// Leftovers older than this are from a dead writer (a live one finishes far sooner).
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A file removed on drop (with SQLite's possible side files) unless [`ScratchFile::keep`] is
/// called.
#[derive(Debug)]
pub(crate) struct ScratchFile {
    path: PathBuf,
    armed: bool,
}

impl ScratchFile {
    /// Creates `<dir>/.<stem>.<random>.<kind>.tmp`, failing rather than reusing an existing name.
    pub(crate) fn create(dir: &Path, stem: &str, kind: &str) -> io::Result<(Self, File)> {
        loop {
            let name = format!(".{stem}.{:016x}.{kind}{SUFFIX}", rand::random::<u64>());
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    super::space::register_live(&path);
                    return Ok((Self { path, armed: true }, file));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the automatic removal (the file was renamed into place).
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        super::space::unregister_live(&self.path);
        if self.armed {
            let _ = fs::remove_file(&self.path);
            for side in ["-journal", "-wal", "-shm"] {
                let mut p = self.path.clone().into_os_string();
                p.push(side);
                let _ = fs::remove_file(p);
            }
        }
    }
}

/// Removes stale temporary files of `stem` in `dir` left by a writer that was killed.
pub(crate) fn remove_stale(dir: &Path, stem: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{stem}.");
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(&prefix) || !name.contains(SUFFIX) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}
