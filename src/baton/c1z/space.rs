//! Disk space: which I/O errors mean "full", what a folder has free, and byte limits for folders
//! whose real limit the filesystem does not show.
//!
//! A Kubernetes emptyDir's `sizeLimit` is not enforced with ENOSPC: the kubelet evicts the pod
//! once the folder grows past it, in the middle of the sync, and an evicted pod's emptyDir (with
//! the last good snapshot in it) is gone. So the writer can be given the limit and keeps every
//! folder under it itself, counting what this process's concurrent writers have set aside.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A byte limit on a folder tree (every writer of this process shares it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceLimit {
    /// The folder the limit applies to, with everything below it (a volume's mount point).
    pub root: PathBuf,
    pub bytes: u64,
}

/// Which of the two folders a write needed room in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Volume {
    /// Where the uncompressed database is built (`WriteOptions::scratch_dir`).
    Scratch,
    /// Where the `.c1z` is kept, and its temporary successor written.
    Data,
}

impl std::fmt::Display for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Volume::Scratch => "scratch folder",
            Volume::Data => "snapshot folder",
        })
    }
}

/// Why a write did not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRoom {
    /// The filesystem is full (ENOSPC).
    Filesystem,
    /// A disk quota is used up (EDQUOT).
    Quota,
    /// The process's file size limit was reached (EFBIG, `ulimit -f`).
    FileSize,
    /// Less room than the write needs: the folder's configured limit, or its free space.
    Limit,
}

/// Why an I/O error means the data did not fit, if it does.
pub(crate) fn no_room(e: &io::Error) -> Option<NoRoom> {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => Some(NoRoom::Filesystem),
        Some(libc::EDQUOT) => Some(NoRoom::Quota),
        Some(libc::EFBIG) => Some(NoRoom::FileSize),
        _ if e.get_ref().is_some_and(|inner| inner.is::<OverLimit>()) => Some(NoRoom::Limit),
        _ => None,
    }
}

/// Whether an I/O error means the data did not fit.
pub(crate) fn is_full(e: &io::Error) -> bool {
    no_room(e).is_some()
}

/// The error a capped writer returns once it would pass its limit.
#[derive(Debug)]
pub(crate) struct OverLimit;

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the size limit of the folder was reached")
    }
}

impl std::error::Error for OverLimit {}

/// Bytes an unprivileged process can still write on the filesystem holding `dir`.
pub(crate) fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain old data the call fills; `c` is a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Files this process is writing right now. Usage walks leave them out: their bytes are
/// counted through their writer's reservation instead, so they are not counted twice.
static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Bytes set aside by writers running in this process: (id, root, bytes).
static RESERVED: Mutex<Vec<(u64, PathBuf, u64)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn register_live(path: &Path) {
    lock(&LIVE).insert(path.to_path_buf());
}

pub(crate) fn unregister_live(path: &Path) {
    lock(&LIVE).remove(path);
}

/// Whether `path` is a live file or one of SQLite's side files of one.
fn is_live(live: &BTreeSet<PathBuf>, path: &Path) -> bool {
    if live.contains(path) {
        return true;
    }
    let s = path.as_os_str().to_string_lossy();
    ["-journal", "-wal", "-shm"].iter().any(|side| {
        s.strip_suffix(side)
            .is_some_and(|base| live.contains(Path::new(base)))
    })
}

/// Bytes allocated under `root` (what `du` and the kubelet count), live files left out.
pub(crate) fn used_bytes(root: &Path) -> u64 {
    let live = lock(&LIVE).clone();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if !is_live(&live, &e.path()) {
                total = total.saturating_add(m.blocks().saturating_mul(512));
            }
        }
    }
    total
}

/// Bytes a writer may still use in `dir`: the filesystem's free space and, with a limit, what the
/// limit leaves after the files already there and the room other writers have set aside.
#[cfg(test)]
pub(crate) fn available(dir: &Path, limit: Option<&SpaceLimit>) -> u64 {
    let reserved = lock(&RESERVED);
    room(&reserved, dir, limit).0
}

/// (room now, room once the other writers are done) in `dir`; `reserved` is the held lock.
fn room(reserved: &[(u64, PathBuf, u64)], dir: &Path, limit: Option<&SpaceLimit>) -> (u64, u64) {
    let free = free_bytes(dir).unwrap_or(u64::MAX);
    match limit {
        Some(l) => {
            let left = l.bytes.saturating_sub(used_bytes(&l.root));
            let others: u64 = reserved
                .iter()
                .filter(|(_, r, _)| *r == l.root)
                .map(|(_, _, b)| *b)
                .sum();
            (free.min(left.saturating_sub(others)), free.min(left))
        }
        None => (free, free),
    }
}

/// How often a writer waiting for room looks again.
const WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(500);

/// Room a running writer has set aside under a limited root; released on drop.
#[derive(Debug)]
pub(crate) struct Reservation {
    id: Option<u64>,
}

impl Reservation {
    /// Sets aside `needed` bytes in `dir` and returns the room the writer may use there, or
    /// `Err(room)` when `needed` does not fit.
    ///
    /// With a limit, the room other writers of this process set aside comes back when they end,
    /// so a write that would fit without them waits for them instead of failing (several large
    /// connectors syncing at once take turns on a scratch volume sized for one).
    pub(crate) fn acquire(
        dir: &Path,
        limit: Option<&SpaceLimit>,
        needed: u64,
    ) -> Result<(Self, u64), u64> {
        let mut logged = false;
        loop {
            let mut reserved = lock(&RESERVED);
            let (now, alone) = room(&reserved, dir, limit);
            if needed <= now {
                let id = limit.map(|l| {
                    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                    reserved.push((id, l.root.clone(), needed));
                    id
                });
                return Ok((Self { id }, now));
            }
            if needed > alone {
                return Err(now);
            }
            drop(reserved);
            if !logged {
                tracing::info!(
                    dir = %dir.display(),
                    needed,
                    available = now,
                    "waiting for other snapshot writes to free room"
                );
                logged = true;
            }
            std::thread::sleep(WAIT_STEP);
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            lock(&RESERVED).retain(|(i, _, _)| *i != id);
        }
    }
}

/// A writer that stops with [`OverLimit`] before it passes `cap` bytes, and counts them.
pub(crate) struct CappedWriter<W> {
    pub(crate) inner: W,
    pub(crate) written: u64,
    pub(crate) cap: u64,
}

impl<W: io::Write> io::Write for CappedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written.saturating_add(buf.len() as u64) > self.cap {
            return Err(io::Error::other(OverLimit));
        }
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `1.2 GB`-style figure for messages.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn full_errors_are_recognised() {
        for (code, cause) in [
            (libc::ENOSPC, NoRoom::Filesystem),
            (libc::EDQUOT, NoRoom::Quota),
            (libc::EFBIG, NoRoom::FileSize),
        ] {
            assert_eq!(no_room(&io::Error::from_raw_os_error(code)), Some(cause));
        }
        assert_eq!(no_room(&io::Error::other(OverLimit)), Some(NoRoom::Limit));
        assert!(!is_full(&io::Error::from_raw_os_error(libc::EIO)));
        assert!(is_full(&io::Error::other(OverLimit)));
        assert!(!is_full(&io::Error::other("something else")));
    }

    #[test]
    fn capped_writer_stops_before_the_cap() {
        let mut w = CappedWriter {
            inner: Vec::new(),
            written: 0,
            cap: 10,
        };
        w.write_all(b"123456").unwrap();
        let err = w.write_all(b"78901").unwrap_err();
        assert!(is_full(&err));
        assert_eq!(w.inner, b"123456");
    }

    #[test]
    fn limits_count_files_and_other_writers_but_not_live_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let limit = SpaceLimit {
            root: root.clone(),
            bytes: 10_000_000,
        };
        let before = available(&root, Some(&limit));
        assert!(before <= 10_000_000);
        std::fs::create_dir(root.join("ns")).unwrap();
        std::fs::write(root.join("ns/kept"), vec![1u8; 1_000_000]).unwrap();
        let after_file = available(&root, Some(&limit));
        assert!(before - after_file >= 1_000_000, "{before} {after_file}");

        let live = root.join("live.tmp");
        std::fs::write(&live, vec![1u8; 2_000_000]).unwrap();
        std::fs::write(root.join("live.tmp-journal"), vec![1u8; 500_000]).unwrap();
        register_live(&live);
        assert_eq!(available(&root, Some(&limit)), after_file);
        unregister_live(&live);
        assert!(available(&root, Some(&limit)) <= after_file - 2_500_000);
        std::fs::remove_file(&live).unwrap();
        std::fs::remove_file(root.join("live.tmp-journal")).unwrap();

        let (r, room) = Reservation::acquire(&root, Some(&limit), 3_000_000).unwrap();
        assert_eq!(room, after_file);
        assert_eq!(available(&root, Some(&limit)), after_file - 3_000_000);
        // More than the limit could ever give: refused at once.
        assert_eq!(
            Reservation::acquire(&root, Some(&limit), 20_000_000).unwrap_err(),
            after_file - 3_000_000
        );
        // Fits once the first writer is done: waits for it.
        let waiter = std::thread::spawn({
            let (root, limit) = (root.clone(), limit.clone());
            move || Reservation::acquire(&root, Some(&limit), after_file - 1_000_000).map(|r| r.1)
        });
        std::thread::sleep(WAIT_STEP * 2);
        assert!(!waiter.is_finished(), "it should wait for the first writer");
        drop(r);
        assert_eq!(waiter.join().unwrap(), Ok(after_file));
        assert_eq!(available(&root, Some(&limit)), after_file);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1_500_000), "1.5 MB");
        assert_eq!(human(2_790_000_000), "2.8 GB");
    }
}
