//! A full disk while writing a snapshot, on real small filesystems (a tmpfs per test, see
//! `support::tmpfs`): through the one-shot `monday-operator sync` and through the engine, a full
//! snapshot folder, a full scratch folder, a folder that fills up in the middle of the write, a
//! configured limit and a file size limit each end in one typed error (reason `DiskFull`) that
//! names the folder, while the previous snapshot stays byte for byte and no temporary file is
//! left behind. Then, with room again, the next sync works and keeps the history.

use crate::support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use monday_emulator::{Config, Emulator, EmulatorHandle, Size};
use monday_operator::baton::C1zReader;
use monday_operator::engine::{self, DiskOptions, SyncError, SyncOptions};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use support::tmpfs::Tmpfs;

const MIB: u64 = 1 << 20;

/// Tenant M (5,000 users, ~100k grants): a database of tens of MB, so the write takes long
/// enough for a folder to fill up in the middle of it.
fn emulator() -> EmulatorHandle {
    Emulator::start(Config::generated(Size::M, 7)).expect("emulator")
}

fn sync_cmd(emu: &EmulatorHandle, file: &Path, scratch: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_monday-operator"));
    cmd.args(["sync", "--api-url", &emu.url(), "--file"])
        .arg(file)
        .arg("--scratch-dir")
        .arg(scratch)
        .args(extra)
        .env("BATON_MONDAY_API_KEY", emu.admin_token())
        .env("RUST_LOG", "warn");
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run monday-operator sync")
}

fn sha(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read snapshot")))
}

/// Names in `dir` other than the ballast.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "ballast")
        .collect();
    v.sort();
    v
}

/// The one line a failed sync prints last, checked for what a user needs to read.
fn disk_full_line(out: &Output, folder: &Path, volume: &str, hint: &str) -> String {
    assert_eq!(out.status.code(), Some(1), "exit code: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        last.starts_with("error: sync failed (reason DiskFull)") && last.contains("left unchanged"),
        "{stderr}"
    );
    assert!(
        last.contains(&format!(
            "not enough space in the {volume} {}",
            folder.display()
        )),
        "names the folder: {last}"
    );
    assert!(last.contains("the last good snapshot was kept"), "{last}");
    assert!(last.contains(hint), "says what to raise ({hint}): {last}");
    eprintln!("{last}");
    assert!(
        !stderr.contains(out_token()),
        "the token leaked into the output"
    );
    last
}

fn out_token() -> &'static str {
    monday_emulator::DEFAULT_ADMIN_TOKEN
}

/// Starts a thread that, as soon as a file whose name ends with `suffix` and of at least
/// `min_len` bytes is in `dir`, fills the filesystem completely: the disk runs full in the middle
/// of the write.
fn fill_when_file_grows(
    dir: &Path,
    suffix: &'static str,
    min_len: u64,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<bool>) {
    let dir = dir.to_path_buf();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            let seen = std::fs::read_dir(&dir).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    e.file_name().to_string_lossy().ends_with(suffix)
                        && e.metadata().is_ok_and(|m| m.len() >= min_len)
                })
            });
            if seen {
                support::tmpfs::fill_leaving(&dir, 0);
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    });
    (stop, handle)
}

fn first_sync(emu: &EmulatorHandle, file: &Path, scratch: &Path) -> String {
    let out = run(sync_cmd(emu, file, scratch, &[]));
    assert!(out.status.success(), "first sync: {out:?}");
    sha(file)
}

#[test]
fn cli_sync_into_a_full_snapshot_folder_fails_with_disk_full_and_keeps_the_file() {
    let emu = emulator();
    let data = Tmpfs::mount(64 * MIB);
    let scratch = tempfile::tempdir().expect("scratch");
    let file = data.path().join("sync.c1z");
    let before = first_sync(&emu, &file, scratch.path());

    // Less room than the new file needs (it holds both syncs, so about twice the first).
    let kept = std::fs::metadata(&file).expect("stat").len();
    data.fill_leaving(kept / 2);
    let out = run(sync_cmd(&emu, &file, scratch.path(), &[]));
    let line = disk_full_line(&out, data.path(), "snapshot folder", "persistence.size");
    assert!(
        line.contains("needs about") && line.contains("available"),
        "{line}"
    );
    assert_eq!(sha(&file), before, "the previous snapshot changed");
    assert_eq!(names(data.path()), ["sync.c1z"], "temporary files left");
    assert!(names(scratch.path()).is_empty(), "scratch files left");
}

#[test]
fn cli_sync_whose_snapshot_folder_fills_up_mid_write_fails_cleanly() {
    let emu = emulator();
    let data = Tmpfs::mount(64 * MIB);
    let scratch = tempfile::tempdir().expect("scratch");
    let file = data.path().join("sync.c1z");
    let before = first_sync(&emu, &file, scratch.path());

    // Room at the start; another writer takes it all once our temporary file exists.
    let (stop, filler) = fill_when_file_grows(data.path(), ".c1z.tmp", 0);
    let out = run(sync_cmd(&emu, &file, scratch.path(), &[]));
    stop.store(true, Ordering::Relaxed);
    assert!(
        filler.join().expect("filler"),
        "the temporary c1z never appeared"
    );
    let line = disk_full_line(&out, data.path(), "snapshot folder", "persistence.size");
    assert!(line.contains("the filesystem is full ("), "{line}");
    assert_eq!(sha(&file), before, "the previous snapshot changed");
    assert_eq!(names(data.path()), ["sync.c1z"], "temporary files left");
    assert!(names(scratch.path()).is_empty(), "scratch files left");
}

#[test]
fn cli_sync_with_a_too_small_scratch_folder_fails_before_writing() {
    let emu = emulator();
    let data = tempfile::tempdir().expect("data");
    let scratch = Tmpfs::mount(4 * MIB);
    let file = data.path().join("sync.c1z");
    let roomy = tempfile::tempdir().expect("roomy scratch");
    let before = first_sync(&emu, &file, roomy.path());

    let out = run(sync_cmd(&emu, &file, scratch.path(), &[]));
    let line = disk_full_line(&out, scratch.path(), "scratch folder", "scratch.sizeLimit");
    assert!(line.contains("needs about"), "{line}");
    assert_eq!(sha(&file), before);
    assert_eq!(names(data.path()), ["sync.c1z"]);
    assert!(names(scratch.path()).is_empty());
}

#[test]
fn cli_sync_whose_scratch_folder_fills_up_mid_write_fails_cleanly() {
    let emu = emulator();
    let data = tempfile::tempdir().expect("data");
    let scratch = Tmpfs::mount(512 * MIB);
    let file = data.path().join("sync.c1z");
    let mut before = first_sync(&emu, &file, scratch.path());
    let header = std::fs::read(&file).expect("read");
    let decoded = zstd::zstd_safe::get_frame_content_size(&header[5..])
        .expect("frame header")
        .expect("content size");

    // Full while the previous file is decompressed, then while SQLite inserts the new sync.
    for (stage, min_len) in [("decompressing", 0), ("inserting", decoded + MIB)] {
        let (stop, filler) = fill_when_file_grows(scratch.path(), ".db.tmp", min_len);
        let out = run(sync_cmd(&emu, &file, scratch.path(), &[]));
        stop.store(true, Ordering::Relaxed);
        assert!(
            filler.join().expect("filler"),
            "{stage}: the scratch database never grew"
        );
        let line = disk_full_line(&out, scratch.path(), "scratch folder", "scratch.sizeLimit");
        assert!(line.contains("the filesystem is full ("), "{stage}: {line}");
        assert!(line.contains("needs about"), "{stage}: {line}");
        assert_eq!(sha(&file), before, "{stage}");
        assert_eq!(names(data.path()), ["sync.c1z"], "{stage}");
        assert!(
            names(scratch.path()).is_empty(),
            "{stage}: scratch files left"
        );

        // Room again: the next sync works and keeps the earlier one for `baton diff`.
        std::fs::remove_file(scratch.path().join("ballast")).expect("remove ballast");
        let out = run(sync_cmd(&emu, &file, scratch.path(), &[]));
        assert!(
            out.status.success(),
            "{stage}: sync with room again: {out:?}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("+0 / -0 grants since the previous sync"),
            "{stdout}"
        );
        before = sha(&file);
    }
}

/// A limit (an emptyDir's sizeLimit, which the kubelet enforces by eviction, not ENOSPC) is kept
/// by the operator itself: no mount needed.
#[test]
fn cli_sync_over_its_scratch_size_limit_fails_with_the_figures() {
    let emu = emulator();
    let data = tempfile::tempdir().expect("data");
    let scratch = tempfile::tempdir().expect("scratch");
    let file = data.path().join("sync.c1z");
    let before = first_sync(&emu, &file, scratch.path());

    let out = run(sync_cmd(
        &emu,
        &file,
        scratch.path(),
        &["--scratch-size-limit", "8Mi"],
    ));
    let line = disk_full_line(
        &out,
        scratch.path(),
        "scratch folder",
        "--scratch-size-limit",
    );
    assert!(
        line.contains("needs about") && line.contains("8.4 MB available"),
        "{line}"
    );
    assert_eq!(sha(&file), before);
    assert!(names(scratch.path()).is_empty());

    let out = run(sync_cmd(
        &emu,
        &file,
        scratch.path(),
        &["--data-size-limit", "1Mi"],
    ));
    disk_full_line(&out, data.path(), "snapshot folder", "--data-size-limit");
    assert_eq!(sha(&file), before);
    assert_eq!(names(data.path()), ["sync.c1z"]);
}

/// EFBIG (a file size limit, `ulimit -f`) is a full disk too, not a SIGXFSZ kill.
#[test]
fn cli_sync_under_a_file_size_limit_fails_with_disk_full() {
    let emu = emulator();
    let data = tempfile::tempdir().expect("data");
    let scratch = tempfile::tempdir().expect("scratch");
    let file = data.path().join("sync.c1z");
    let before = first_sync(&emu, &file, scratch.path());

    let mut cmd = sync_cmd(&emu, &file, scratch.path(), &[]);
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 4 * MIB,
                rlim_max: 4 * MIB,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = run(cmd);
    let line = disk_full_line(&out, scratch.path(), "scratch folder", "scratch.sizeLimit");
    assert!(line.contains("file size limit (ulimit -f)"), "{line}");
    assert_eq!(sha(&file), before);
    assert!(names(scratch.path()).is_empty());
    assert_eq!(names(data.path()), ["sync.c1z"]);
}

#[test]
fn engine_sync_into_a_full_scratch_folder_is_a_typed_disk_full_and_keeps_the_snapshot() {
    // A current-thread runtime on this thread: its blocking threads share the tmpfs mount.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let emu = emulator();
    let data = tempfile::tempdir().expect("data");
    let scratch = Tmpfs::mount(512 * MIB);
    let file = data.path().join("sync.c1z");
    let conn = engine::Connection {
        api_url: emu.url(),
        token: SecretString::from(emu.admin_token().to_string()),
    };
    let disk = DiskOptions {
        scratch_dir: Some(scratch.path().to_path_buf()),
        ..DiskOptions::default()
    };
    let sync = || {
        let opts = SyncOptions {
            disk: Some(disk.clone()),
            ..SyncOptions::default()
        };
        rt.block_on(engine::sync_to_file(&conn, &file, &opts))
    };
    let first = sync().expect("first sync");
    let before = sha(&file);

    scratch.fill_leaving(MIB);
    let err = sync().expect_err("a full scratch folder");
    assert!(matches!(err, SyncError::DiskFull { .. }), "{err:?}");
    assert_eq!(err.reason(), "DiskFull");
    assert!(err.is_transient(), "retried once there is room");
    let msg = err.to_string();
    assert!(
        msg.contains(&scratch.path().display().to_string()) && msg.contains("scratch.sizeLimit"),
        "{msg}"
    );
    assert_eq!(sha(&file), before, "the previous snapshot changed");
    assert!(names(scratch.path()).is_empty(), "scratch files left");
    assert_eq!(names(data.path()), ["sync.c1z"]);

    std::fs::remove_file(scratch.path().join("ballast")).expect("remove ballast");
    let second = sync().expect("sync with room again");
    let reader = C1zReader::open_in(&file, scratch.path()).expect("open");
    let ids: Vec<String> = reader
        .finished_full_syncs()
        .expect("syncs")
        .into_iter()
        .map(|r| r.sync_id)
        .collect();
    assert_eq!(ids, [second.sync_id.clone(), first.sync_id.clone()]);
}
