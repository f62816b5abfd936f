//! Small filesystems for disk-full tests: a size-limited tmpfs, mounted in a private mount
//! namespace of the calling thread.
//!
//! The namespace is what makes clean-up certain: the mount is visible only to this thread, the
//! threads it starts and the processes it spawns, and the kernel removes it with the namespace
//! when they are gone — after a panic, and even when the test binary is killed. (The guard also
//! unmounts on drop, so the folder itself can be removed.) Needs root (CAP_SYS_ADMIN); without it
//! the test fails with a line saying so, it does not skip.

use std::cell::Cell;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

thread_local! {
    static UNSHARED: Cell<bool> = const { Cell::new(false) };
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

/// Gives the calling thread its own mount namespace, with nothing propagating back to the host.
fn private_mount_namespace() {
    if UNSHARED.with(Cell::get) {
        return;
    }
    // SAFETY: plain syscalls with valid, NUL-terminated arguments.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            panic!(
                "disk-full tests mount a tmpfs and need root (CAP_SYS_ADMIN): unshare(CLONE_NEWNS) \
                 failed: {}",
                std::io::Error::last_os_error()
            );
        }
        let root = cstr(Path::new("/"));
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            panic!(
                "making the test's mount namespace private failed: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    UNSHARED.with(|u| u.set(true));
}

/// A mounted tmpfs of a fixed size; unmounted (and its folder removed) on drop.
pub struct Tmpfs {
    path: PathBuf,
    // Dropped after the unmount in `Drop`, which removes the then empty folder.
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` on a fresh folder.
    pub fn mount(bytes: u64) -> Tmpfs {
        private_mount_namespace();
        let dir = tempfile::tempdir().expect("mount point");
        let path = dir.path().to_path_buf();
        let opts = CString::new(format!("size={bytes},mode=0755")).expect("options");
        let target = cstr(&path);
        let fstype = CString::new("tmpfs").expect("fstype");
        // SAFETY: valid NUL-terminated arguments; the data argument is tmpfs's option string.
        let rc = unsafe {
            libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                opts.as_ptr().cast(),
            )
        };
        if rc != 0 {
            panic!(
                "mounting a {bytes}-byte tmpfs on {} failed: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
        Tmpfs { path, _dir: dir }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes still free.
    pub fn free(&self) -> u64 {
        free_bytes(&self.path)
    }

    /// Writes a ballast file until at most `leave` bytes are free (0: the filesystem is full).
    pub fn fill_leaving(&self, leave: u64) {
        fill_leaving(&self.path, leave);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = cstr(&self.path);
        // SAFETY: a valid path; MNT_DETACH also succeeds while files are still open.
        unsafe {
            libc::umount2(target.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// Free bytes on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> u64 {
    let c = cstr(dir);
    // SAFETY: statvfs is plain old data the call fills.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0, "statvfs");
    st.f_bavail * st.f_frsize
}

/// Adds to `<dir>/ballast` until at most `leave` bytes are free on its filesystem.
pub fn fill_leaving(dir: &Path, leave: u64) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("ballast"))
        .expect("ballast file");
    let chunk = vec![0xA5u8; 64 * 1024];
    loop {
        let free = free_bytes(dir);
        if free <= leave {
            break;
        }
        let n = ((free - leave) as usize).min(chunk.len());
        if f.write_all(&chunk[..n])
            .and_then(|()| f.sync_data())
            .is_err()
        {
            break; // full
        }
    }
}
