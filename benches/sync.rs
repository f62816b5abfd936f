//! Sync benchmark: a full sync of a generated tenant against the emulator at Monday-like
//! latency with Enterprise limits. Prints figures; asserts nothing about time.
//!
//! `cargo bench --bench sync [-- M L]` (default: M and L). The sync runs as the real
//! `monday-operator sync` binary in a child process so its peak RSS is measured alone (the
//! emulator and its tenant live in this process).
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

use std::process::Command;
use std::time::{Duration, Instant};

use monday_emulator::{Config, Emulator, Size, Tier};

fn main() {
    let sizes: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let sizes = if sizes.is_empty() {
        vec!["M".to_string(), "L".to_string()]
    } else {
        sizes
    };
    let latency = Duration::from_millis(100);
    for size in sizes {
        let size: Size = match size.parse() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("unknown size {size}: {e}");
                std::process::exit(2);
            }
        };
        run(size, latency);
    }
}

fn run(size: Size, latency: Duration) {
    let gen_start = Instant::now();
    let emu = Emulator::start(
        Config::generated(size, 42)
            .tier(Tier::Enterprise)
            .latency(latency),
    )
    .expect("start emulator");
    let truth = emu.ground_truth();
    let generated_in = gen_start.elapsed();
    emu.reset_stats();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sync.c1z");

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_monday-operator"))
        .args(["sync", "--api-url", &emu.url(), "--file"])
        .arg(&file)
        .env("BATON_MONDAY_API_KEY", emu.admin_token())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sync");
    let mut summary = String::new();
    if let Some(mut out) = child.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut summary);
    }
    let status = child.wait().expect("wait for sync");
    let wall = started.elapsed();
    assert!(status.success(), "sync exited with {status}: {summary}");
    let peak_rss_kib = children_peak_rss_kib();

    let stats = emu.stats();
    let limits = emu.limits();
    let n = stats.requests as f64;
    let x = stats.complexity_used as f64;
    let window = 60.0_f64;
    let l = latency.as_secs_f64();
    let lb_parts = [
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
    let (bound_name, lb) = lb_parts
        .iter()
        .copied()
        .fold(("", 0.0_f64), |acc, p| if p.1 > acc.1 { p } else { acc });
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let peak_rss_mb = peak_rss_kib as f64 / 1024.0;
    println!(
        "== tenant {size:?}: {} resources, {} grants (generated in {:.1}s)",
        truth.resources.len(),
        truth.grants.len(),
        generated_in.as_secs_f64()
    );
    println!("   wall time           {:.2} s", wall.as_secs_f64());
    println!(
        "   requests            {}   (429 answers: {})",
        stats.requests, stats.throttled_total
    );
    println!("   complexity used     {}", stats.complexity_used);
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
    println!("   peak RSS (sync)     {peak_rss_mb:.1} MB");
    println!("   c1z size            {:.1} MB", bytes as f64 / 1e6);
    println!("   max in flight       {}", stats.max_in_flight);
    println!("   summary:\n{summary}");
}

/// Peak RSS (KiB) of the largest child this process has waited for: the sync, the only child.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: rusage is plain old data that getrusage fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert!(
        r == 0,
        "getrusage failed: {}",
        std::io::Error::last_os_error()
    );
    usage.ru_maxrss
}
