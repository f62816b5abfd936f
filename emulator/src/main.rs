//! `monday-emulator`: serve a Monday.com test double on a local port.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use monday_emulator::{Config, Emulator, Tier};

/// A local emulator of Monday.com's GraphQL API (`POST /v2`) for monday-operator's tests.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Tenant: S, M, L (generated), edge (built-in edge cases) or a YAML/JSON tenant file.
    #[arg(long, default_value = "S")]
    tenant: String,
    /// Seed of generated tenants.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Latency added to every /v2 request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Token of the admin user (default: the documented `emulator-admin-token`).
    #[arg(long)]
    token: Option<String>,
    /// Token of the first active member (non-admin).
    #[arg(long)]
    member_token: Option<String>,
    /// Plan tier whose limits apply: enterprise, pro, standard or free.
    #[arg(long, default_value = "enterprise")]
    tier: Tier,
    /// Disable every rate limit (the single-query complexity cap stays).
    #[arg(long)]
    unlimited: bool,
    /// Print the served GraphQL SDL and exit.
    #[arg(long)]
    print_schema: bool,
    /// Print the tenant as JSON (the tenant file format) and exit.
    #[arg(long)]
    dump_tenant: bool,
    /// Print the ground truth as JSON and exit.
    #[arg(long)]
    ground_truth: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.print_schema {
        print!("{}", monday_emulator::sdl());
        return Ok(());
    }
    let mut config = Config {
        tenant: args.tenant.parse().map_err(anyhow::Error::msg)?,
        seed: args.seed,
        tier: args.tier,
        latency: Duration::from_millis(args.latency_ms),
        listen: args.listen,
        ..Config::default()
    };
    if let Some(t) = args.token {
        config.admin_token = t;
    }
    if let Some(t) = args.member_token {
        config.member_token = t;
    }
    if args.unlimited {
        config.limits = Some(monday_emulator::Limits::unlimited());
    }
    if args.dump_tenant || args.ground_truth {
        let tenant = config.build_tenant()?;
        if args.dump_tenant {
            println!("{}", tenant.to_json());
        } else {
            println!(
                "{}",
                serde_json::to_string_pretty(&monday_emulator::ground_truth(&tenant))?
            );
        }
        return Ok(());
    }
    let started = std::time::Instant::now();
    let emu = Emulator::start(config)?;
    // One line for scripts; tokens are never printed (the defaults are documented).
    println!(
        "monday-emulator url={} admin_user_id={} tier={} tenant=\"{}\" ready_in_ms={}",
        emu.url(),
        emu.admin_user_id(),
        emu.tier().as_str(),
        emu.with_tenant(|t| t.summary()),
        started.elapsed().as_millis()
    );
    wait_for_signal();
    drop(emu);
    Ok(())
}

fn wait_for_signal() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    });
}
