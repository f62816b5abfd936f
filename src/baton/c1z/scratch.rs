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

/// Whether `name` is one of our temporary files (`.<stem>.<16 hex>.<kind>.tmp`, or a side file).
fn is_ours(name: &str) -> bool {
    let name = ["-journal", "-wal", "-shm"]
        .iter()
        .find_map(|side| name.strip_suffix(side))
        .unwrap_or(name);
    let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(SUFFIX)) else {
        return false;
    };
    // <stem>.<hex>.<kind>: the random part is the second-to-last or third-to-last segment.
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len() >= 3
        && parts
            .iter()
            .rev()
            .skip(1)
            .take(2)
            .any(|p| p.len() == 16 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Removes every temporary file of ours in `dir`, whatever its age: for a scratch folder that
/// belongs to this process alone, at its start (a killed predecessor's database would otherwise
/// count against the folder's limit for an hour). Returns how many bytes it freed.
pub(crate) fn remove_all(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut freed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(is_ours) {
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if fs::remove_file(entry.path()).is_ok() {
                freed += len;
            }
        }
    }
    freed
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_recognised_by_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let ours = [
            ".sync.c1z.0123456789abcdef.db.tmp",
            ".sync.c1z.0123456789abcdef.db.tmp-journal",
            ".sync.c1z.fedcba9876543210.c1z.tmp",
            ".x.c1z.00112233445566ff.read.db.tmp",
        ];
        let others = [
            "sync.c1z",
            ".sync.c1z.notrandom.db.tmp",
            "keep.tmp",
            ".hidden",
        ];
        for n in ours.iter().chain(&others) {
            fs::write(dir.path().join(n), b"x").unwrap();
        }
        assert_eq!(remove_all(dir.path()), ours.len() as u64);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = others.map(String::from).to_vec();
        expected.sort();
        assert_eq!(left, expected);
    }
}
