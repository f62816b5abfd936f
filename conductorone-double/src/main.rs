//! `conductorone-double`: the ConductorOne test double as a process, for trying
//! `monday-operator service` by hand.
//!
//! It prints the environment to give the operator (`BATON_C1_API_HOST`, `SSL_CERT_FILE`,
//! `BATON_CLIENT_ID`) and writes the generated client secret to a 0600 file (never to the
//! terminal); queues a `sync_full` task every `--sync-every` seconds and writes each upload
//! to `--out`.

use std::io::Write as _;
use std::time::Duration;

use clap::Parser;
use conductorone_double::pb::baton::task::SyncFullTask;
use conductorone_double::{Config, Double, TaskBuilder};

#[derive(Parser)]
#[command(about = "A local ConductorOne service-mode test double (token endpoint + BatonService)")]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Queue a sync_full task (storage_engine sqlite) every this many seconds (0 = never).
    #[arg(long, default_value_t = 60)]
    sync_every: u64,
    /// Folder for the uploaded files and the client secret.
    #[arg(long, default_value = "conductorone-double-out")]
    out: std::path::PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let double = Double::start(Config {
        port: args.port,
        ..Config::default()
    })?;
    let secret_path = args.out.join("client-secret");
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&secret_path)?;
        f.write_all(double.credentials().client_secret.as_bytes())?;
    }
    let ca = args.out.join("ca.pem");
    std::fs::copy(double.ca_file(), &ca)?;
    println!("BATON_C1_API_HOST={}", double.host_override());
    println!("SSL_CERT_FILE={}", ca.display());
    println!("BATON_CLIENT_ID={}", double.credentials().client_id);
    println!(
        "BATON_CLIENT_SECRET: in {} (export BATON_CLIENT_SECRET=\"$(cat {})\")",
        secret_path.display(),
        secret_path.display()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut written = 0;
        let mut last_sync = std::time::Instant::now() - Duration::from_secs(args.sync_every);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            if args.sync_every > 0 && last_sync.elapsed() >= Duration::from_secs(args.sync_every) {
                last_sync = std::time::Instant::now();
                let id = double.push_task(TaskBuilder::sync_full(SyncFullTask {
                    storage_engine: "sqlite".into(),
                    ..Default::default()
                }));
                println!("queued sync_full {id}");
            }
            let uploads = double.uploads();
            for u in &uploads[written..] {
                let path = args.out.join(format!("{}.c1z", u.task_id));
                std::fs::write(&path, &u.data)?;
                println!(
                    "upload {} ({} bytes) -> {}",
                    u.task_id,
                    u.data.len(),
                    path.display()
                );
            }
            written = uploads.len();
            for p in double.problems() {
                eprintln!("problem: {p}");
            }
        }
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_file(&secret_path);
    Ok(())
}
