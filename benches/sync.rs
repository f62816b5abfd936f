//! Sync benchmark: full syncs of a generated tenant against the emulator at Monday-like latency
//! with Enterprise limits. Prints figures; asserts nothing about time or bytes.
//!
//! `cargo bench --bench sync [-- M L] [--syncs N] [--fast]` (default: M and L, 3 syncs each into
//! the same file: the first into an empty folder, the second beside one kept sync, the third in
//! the steady state where the file already holds two). Each sync runs as the real
//! `monday-operator sync` binary in a child process so its peak RSS is measured alone (the
//! emulator and its tenant live in this process; `MONDAY_BENCH_BIN` runs another build of it).
//! `--fast` drops latency and limits: for disk figures only, the time figures then mean nothing.
//!
//! **Disk**: while a sync runs, a thread samples every 10 ms the bytes allocated (`st_blocks`,
//! what `du` and the kubelet's emptyDir accounting count) in the data directory (where the
//! `.c1z` is kept) and in the scratch directory, and the files the sync holds open after
//! unlinking them (SQLite's sort spill files, which `du` never sees but a disk must hold). It
//! prints the peak of each, what was on disk at the total's peak, and a timeline.
//!
//! Lower bound the limits impose on the work the sync did (N requests, X complexity points),
//! with B points and R requests per 60 s window, C concurrent requests and latency ℓ:
//!
//!   LB = max( 2ℓ,  N·ℓ / C,  60 s · (⌈X/B⌉ − 1) + ℓ,  60 s · (⌈N/R⌉ − 1) + ℓ )
//!
//! 2ℓ: at least the account call and one dependent page; N·ℓ/C: every request's latency spread over
//! all allowed concurrent slots; the last two: Monday's window opens with the first call and
//! refills 60 s later, so the first budget's worth is free and each further one starts a minute
//! later, and its last request still takes ℓ. Mapping and writing the snapshot are not in the
//! bound; the printed read time shows them apart.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use monday_emulator::{Config, Emulator, Limits, Size, Tier};

struct Args {
    sizes: Vec<Size>,
    syncs: usize,
    fast: bool,
}

fn parse_args() -> Args {
    let mut sizes = Vec::new();
    let mut syncs = 3;
    let mut fast = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fast" => fast = true,
            "--syncs" => {
                syncs = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage("--syncs needs a positive number"))
            }
            // `cargo bench` passes --bench; ignore it and any other flag of the harness protocol.
            s if s.starts_with('-') => {}
            s => sizes.push(
                s.parse()
                    .unwrap_or_else(|e| usage(&format!("unknown size {s}: {e}"))),
            ),
        }
    }
    if sizes.is_empty() {
        sizes = vec![Size::M, Size::L];
    }
    Args { sizes, syncs, fast }
}

fn usage(msg: &str) -> ! {
    eprintln!("{msg}\nusage: cargo bench --bench sync -- [S|M|L ...] [--syncs N] [--fast]");
    std::process::exit(2);
}

fn main() {
    let args = parse_args();
    for size in &args.sizes {
        run(*size, &args);
    }
}

fn run(size: Size, args: &Args) {
    let latency = if args.fast {
        Duration::ZERO
    } else {
        Duration::from_millis(100)
    };
    let gen_start = Instant::now();
    let mut config = Config::generated(size, 42)
        .tier(Tier::Enterprise)
        .latency(latency);
    if args.fast {
        config = config.limits(Limits::unlimited());
    }
    let emu = Emulator::start(config).expect("start emulator");
    let truth = emu.ground_truth();
    let generated_in = gen_start.elapsed();
    println!(
        "== tenant {size:?}: {} resources, {} grants (generated in {:.1}s){}",
        truth.resources.len(),
        truth.grants.len(),
        generated_in.as_secs_f64(),
        if args.fast {
            "; --fast: no latency, no limits"
        } else {
            ""
        }
    );
    let root = tempfile::tempdir().expect("tempdir");
    let dirs = Dirs {
        data: root.path().join("data"),
        scratch: root.path().join("scratch"),
    };
    std::fs::create_dir_all(&dirs.data).expect("data dir");
    std::fs::create_dir_all(&dirs.scratch).expect("scratch dir");
    let file = dirs.data.join("sync.c1z");
    // Older builds (the "before" figures) have no --scratch-dir and keep scratch beside the file.
    let has_scratch_flag = Command::new(sync_binary())
        .args(["sync", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--scratch-dir"));

    for n in 1..=args.syncs {
        // Each sync starts with a fresh complexity window, as a scheduled sync an hour later would.
        emu.reset_usage();
        emu.reset_stats();
        let kept_before = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let started = Instant::now();
        let mut cmd = Command::new(sync_binary());
        cmd.args(["sync", "--api-url", &emu.url(), "--file"])
            .arg(&file);
        if has_scratch_flag {
            cmd.arg("--scratch-dir").arg(&dirs.scratch);
        }
        let mut child = cmd
            .env("BATON_MONDAY_API_KEY", emu.admin_token())
            .env("RUST_LOG", "info")
            // Anything SQLite spills lands in the scratch folder too.
            .env("TMPDIR", &dirs.scratch)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sync");
        let sampler = Sampler::start(child.id(), dirs.clone(), started);
        let mut summary = String::new();
        if let Some(mut out) = child.stdout.take() {
            use std::io::Read;
            let _ = out.read_to_string(&mut summary);
        }
        let (status, peak_rss_kib) = wait_with_rusage(&mut child);
        let wall = started.elapsed();
        let disk = sampler.stop();
        assert!(status.success(), "sync exited with {status}: {summary}");

        let stats = emu.stats();
        let limits = emu.limits();
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        println!(
            "-- sync {n}/{} ({})",
            args.syncs,
            match n {
                1 => "first: empty folder".to_string(),
                _ => format!("kept file {}", mb(kept_before)),
            }
        );
        println!("   wall time           {:.2} s", wall.as_secs_f64());
        println!(
            "   requests            {}   (429 answers: {})",
            stats.requests, stats.throttled_total
        );
        println!("   complexity used     {}", stats.complexity_used);
        if !args.fast {
            let (bound_name, lb) = lower_bound(&stats, &limits, latency);
            println!(
                "   lower bound         {lb:.2} s   (binding: {bound_name}; B={} pts/min, R={} req/min, C={}, ℓ={} ms)",
                limits.complexity_per_minute,
                limits.requests_per_minute,
                limits.max_concurrency,
                latency.as_millis()
            );
            println!(
                "   ratio to bound      {:.2}×",
                wall.as_secs_f64() / lb.max(f64::EPSILON)
            );
        }
        println!(
            "   peak RSS (sync)     {:.1} MB",
            peak_rss_kib as f64 / 1024.0
        );
        println!("   c1z size            {}", mb(bytes));
        println!("   max in flight       {}", stats.max_in_flight);
        disk.print();
        println!("   summary:\n{summary}");
    }
}

/// The binary that syncs: this build's, or `MONDAY_BENCH_BIN` (to measure another build, e.g.
/// the one before a change, against the same emulator).
fn sync_binary() -> PathBuf {
    std::env::var_os("MONDAY_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_monday-operator")))
}

/// The lower bound on wall time (see the module docs) and which term binds.
fn lower_bound(
    stats: &monday_emulator::Stats,
    limits: &Limits,
    latency: Duration,
) -> (&'static str, f64) {
    let n = stats.requests as f64;
    let x = stats.complexity_used as f64;
    let window = 60.0_f64;
    let l = latency.as_secs_f64();
    let parts = [
        ("2ℓ", 2.0 * l),
        ("N·ℓ/C", n * l / limits.max_concurrency as f64),
        (
            "complexity",
            window * ((x / limits.complexity_per_minute as f64).ceil() - 1.0).max(0.0) + l,
        ),
        (
            "requests",
            window * ((n / limits.requests_per_minute as f64).ceil() - 1.0).max(0.0) + l,
        ),
    ];
    parts
        .iter()
        .copied()
        .fold(("", 0.0_f64), |acc, p| if p.1 > acc.1 { p } else { acc })
}

/// Waits for the child and returns its exit status and its own peak RSS (KiB).
fn wait_with_rusage(child: &mut std::process::Child) -> (std::process::ExitStatus, i64) {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data that wait4 fills; pid is our unwaited child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert!(
        r == pid,
        "wait4 failed: {}",
        std::io::Error::last_os_error()
    );
    (std::process::ExitStatus::from_raw(status), usage.ru_maxrss)
}

#[derive(Clone)]
struct Dirs {
    data: PathBuf,
    scratch: PathBuf,
}

/// What a file is, from the names the writer gives its files.
fn kind_of(name: &str) -> &'static str {
    if name.ends_with("-journal") || name.ends_with("-wal") || name.ends_with("-shm") {
        "sqlite journal"
    } else if name.ends_with(".read.db.tmp") {
        "previous file, decompressed"
    } else if name.ends_with(".db.tmp") {
        "scratch database"
    } else if name.ends_with(".c1z.tmp") {
        "new c1z (temporary)"
    } else if name.ends_with(".c1z") {
        "kept c1z"
    } else {
        "other"
    }
}

/// One sample: bytes per (place, kind).
type Sample = BTreeMap<(&'static str, &'static str), u64>;

struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Vec<(Duration, Sample)>>,
}

impl Sampler {
    fn start(pid: u32, dirs: Dirs, t0: Instant) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push((t0.elapsed(), sample(pid, &dirs)));
                std::thread::sleep(Duration::from_millis(10));
            }
            samples
        });
        Self { stop, handle }
    }

    fn stop(self) -> DiskReport {
        self.stop.store(true, Ordering::Relaxed);
        DiskReport {
            samples: self.handle.join().expect("sampler thread"),
        }
    }
}

fn sample(pid: u32, dirs: &Dirs) -> Sample {
    let mut s = Sample::new();
    for (place, dir) in [("data", &dirs.data), ("scratch", &dirs.scratch)] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(m) = e.metadata() {
                let name = e.file_name();
                let kind = kind_of(&name.to_string_lossy());
                *s.entry((place, kind)).or_default() += m.blocks() * 512;
            }
        }
    }
    // Files the sync holds open after unlinking them: stat through /proc follows to the inode.
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            let deleted = std::fs::read_link(fd.path())
                .is_ok_and(|t| t.to_string_lossy().ends_with(" (deleted)"));
            if deleted && let Ok(m) = std::fs::metadata(fd.path()) {
                *s.entry(("unlinked", "sqlite spill (unlinked)"))
                    .or_default() += m.blocks() * 512;
            }
        }
    }
    s
}

struct DiskReport {
    samples: Vec<(Duration, Sample)>,
}

fn mb(b: u64) -> String {
    if b < 1_000_000 {
        format!("{:.0} kB", b as f64 / 1e3)
    } else {
        format!("{:.1} MB", b as f64 / 1e6)
    }
}

fn place_total(s: &Sample, place: &str) -> u64 {
    s.iter()
        .filter(|((p, _), _)| *p == place)
        .map(|(_, b)| b)
        .sum()
}

impl DiskReport {
    fn print(&self) {
        let total = |s: &Sample| s.values().sum::<u64>();
        let Some((t_peak, at_peak)) = self.samples.iter().max_by_key(|(_, s)| total(s)) else {
            println!("   disk                no samples");
            return;
        };
        let peak_of = |place: &str| {
            self.samples
                .iter()
                .map(|(_, s)| place_total(s, place))
                .max()
                .unwrap_or(0)
        };
        println!(
            "   disk peak           total {} at {:.1} s; data dir {}, scratch dir {}, unlinked spill {} (each its own peak; {} samples)",
            mb(total(at_peak)),
            t_peak.as_secs_f64(),
            mb(peak_of("data")),
            mb(peak_of("scratch")),
            mb(peak_of("unlinked")),
            self.samples.len()
        );
        let parts: Vec<String> = at_peak
            .iter()
            .filter(|(_, b)| **b > 0)
            .map(|((p, k), b)| format!("{p}/{k} {}", mb(*b)))
            .collect();
        println!("   at the peak         {}", parts.join(", "));
        // Timeline: a line whenever the total moved by 5 % of the peak (and the last sample).
        let step = (total(at_peak) / 20).max(1);
        let mut last_printed: Option<u64> = None;
        println!("   timeline            t (s): data / scratch / unlinked");
        for (i, (t, s)) in self.samples.iter().enumerate() {
            let now = total(s);
            let moved = last_printed.is_none_or(|l| now.abs_diff(l) >= step);
            if moved || i + 1 == self.samples.len() {
                println!(
                    "     {:7.2}  {:>10} / {:>10} / {:>10}",
                    t.as_secs_f64(),
                    mb(place_total(s, "data")),
                    mb(place_total(s, "scratch")),
                    mb(place_total(s, "unlinked"))
                );
                last_printed = Some(now);
            }
        }
    }
}
