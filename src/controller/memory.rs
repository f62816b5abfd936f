//! Giving memory back after a wave of syncs.
//!
//! A sync's buffers (GraphQL pages, the snapshot, SQLite pages, zstd contexts) are freed when it
//! ends, but glibc's allocator keeps freed memory in per-thread arenas, and every blocking thread
//! that wrote a `.c1z` gets its own: after 16 parallel syncs an idle operator held ~30 MB it no
//! longer used. So the operator caps the arenas and trims them when the last running sync ends.
//! musl (the container image) has no per-thread arenas and unmaps freed memory itself: no-ops there.

/// Caps glibc's malloc arenas at two (the usual advice for containers).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; M_ARENA_MAX accepts any positive value.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free heap memory to the OS, off the async threads (it walks every arena).
pub fn trim_soon() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn_blocking(|| {
            // SAFETY: malloc_trim only releases free pages; it is safe to call at any time.
            unsafe {
                libc::malloc_trim(0);
            }
        });
    }
}
