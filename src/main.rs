//! The `monday-operator` command line: wiring only, the logic lives in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "monday-operator",
    version,
    about = "Monday.com identity-governance connectors on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator (controllers, metrics and health endpoints).
    Run(RunArgs),
    /// Sync one Monday.com account into a .c1z file and exit. The token comes from
    /// BATON_MONDAY_API_KEY or --token-file, never from a flag value.
    Sync(SyncArgs),
    /// Run ConductorOne service mode without Kubernetes, configured from the environment as the
    /// set-up guide's Deployment is: BATON_CLIENT_ID, BATON_CLIENT_SECRET, BATON_MONDAY_API_KEY,
    /// BATON_PROVISIONING, BATON_C1_API_HOST, BATON_HOST_ID. Exits 0 on SIGTERM.
    Service(monday_operator::cli::service::ServiceArgs),
    /// Print every CustomResourceDefinition as YAML.
    Crd,
    #[command(flatten)]
    Provision(monday_operator::cli::provision::ProvisionCommand),
}

#[derive(clap::Args)]
struct SyncArgs {
    /// Monday.com GraphQL endpoint.
    #[arg(long, default_value = monday_operator::monday::DEFAULT_API_URL)]
    api_url: String,
    /// The .c1z file to write (the previous sync in it is kept for `baton diff`).
    #[arg(long, default_value = "sync.c1z")]
    file: std::path::PathBuf,
    /// Read the token from this file instead of BATON_MONDAY_API_KEY.
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
    /// Sync only these resource types, comma-separated (`user` is always synced).
    #[arg(long, value_delimiter = ',', value_enum)]
    resource_types: Option<Vec<monday_operator::engine::ResourceType>>,
    /// Log format on stderr (levels come from RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = monday_operator::telemetry::LogFormat::Text)]
    log_format: monday_operator::telemetry::LogFormat,
    #[command(flatten)]
    disk: DiskArgs,
}

/// Where snapshots are built and how much room they may take (README: "Disk needed").
#[derive(clap::Args)]
struct DiskArgs {
    /// Folder for the uncompressed database while a snapshot is written (about 1.35 kB per
    /// grant, 15x the .c1z with spills; may be another volume than the snapshots'). Default: the OS temp
    /// folder. `run` treats it as its own and removes its leftover temporary files at start.
    #[arg(long, env = "MONDAY_SCRATCH_DIR")]
    scratch_dir: Option<std::path::PathBuf>,
    /// Most bytes syncs may use in the scratch folder, e.g. its emptyDir's sizeLimit (2Gi,
    /// 500M, bytes). A sync that would need more fails with reason DiskFull.
    #[arg(long, value_parser = monday_operator::cli::parse_size)]
    scratch_size_limit: Option<u64>,
    /// Most bytes the snapshot folder may hold, kept and temporary files together (the data
    /// volume's size).
    #[arg(long, value_parser = monday_operator::cli::parse_size)]
    data_size_limit: Option<u64>,
}

impl DiskArgs {
    /// The engine's options, with `data_root` the folder the data limit applies to; also points
    /// SQLite's sort spills at the scratch folder. `own_scratch`: the folder is this process's
    /// alone (the operator's volume), so a killed predecessor's leftovers are removed.
    fn apply(self, data_root: &std::path::Path, own_scratch: bool) -> anyhow::Result<()> {
        if let Some(dir) = &self.scratch_dir {
            monday_operator::baton::set_sqlite_temp_dir(dir)
                .with_context(|| format!("using {} as the scratch folder", dir.display()))?;
            if own_scratch {
                let freed = monday_operator::baton::remove_scratch_leftovers(dir);
                if freed > 0 {
                    tracing::info!(dir = %dir.display(), bytes = freed, "removed scratch files of an earlier run");
                }
            }
        }
        monday_operator::engine::set_default_disk_options(monday_operator::engine::DiskOptions {
            scratch_dir: self.scratch_dir,
            scratch_limit: self.scratch_size_limit,
            data_limit: self
                .data_size_limit
                .map(|bytes| monday_operator::baton::SpaceLimit {
                    root: data_root.to_path_buf(),
                    bytes,
                }),
        });
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    // A file size limit (ulimit -f) then fails the write with EFBIG, reported like a full disk,
    // instead of killing the process with SIGXFSZ half-way through a snapshot.
    // SAFETY: setting a signal to SIG_IGN before any thread exists has no other effect.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!(
                "{}",
                monday_operator::api::crds_yaml().context("rendering CRDs")?
            );
            Ok(())
        }
        Command::Sync(args) => {
            monday_operator::telemetry::init(args.log_format).context("setting up logging")?;
            let token = monday_operator::cli::read_token(args.token_file.as_deref())?;
            let conn = monday_operator::engine::Connection {
                api_url: args.api_url,
                token,
            };
            let opts = monday_operator::engine::SyncOptions {
                resource_types: args.resource_types.map(|v| v.into_iter().collect()),
                ..Default::default()
            };
            let folder = match args.file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => std::path::PathBuf::from("."),
            };
            args.disk.apply(&folder, false)?;
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let report = runtime
                .block_on(monday_operator::engine::sync_to_file(
                    &conn, &args.file, &opts,
                ))
                .map_err(|e| {
                    let context = format!(
                        "sync failed (reason {}); {} was left unchanged",
                        e.reason(),
                        args.file.display()
                    );
                    anyhow::Error::new(e).context(context)
                })?;
            print!("{}", monday_operator::cli::sync_summary(&report));
            Ok(())
        }
        Command::Run(args) => run_operator(args),
        Command::Service(args) => std::process::exit(monday_operator::cli::service::run(args)),
        Command::Provision(cmd) => std::process::exit(monday_operator::cli::provision::run(cmd)),
    }
}

/// Flags of `monday-operator run`.
#[derive(clap::Args)]
struct RunArgs {
    /// Folder for snapshots: `<data-dir>/<namespace>/<name>/sync.c1z`.
    #[arg(
        long,
        env = "MONDAY_DATA_DIR",
        default_value = "/var/lib/monday-operator"
    )]
    data_dir: std::path::PathBuf,
    /// Address of `/metrics`, `/livez` and `/readyz`.
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_addr: std::net::SocketAddr,
    /// Elect a leader through a Lease so only one replica reconciles.
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader Lease.
    #[arg(long, default_value = "monday-operator-leader")]
    lease_name: String,
    /// Namespace of the leader Lease (default: the pod's namespace, else `default`).
    #[arg(long, env = "POD_NAMESPACE")]
    lease_namespace: Option<String>,
    /// How long the Lease stays valid without renewal (Go duration).
    #[arg(long, default_value = "15s", value_parser = go_duration)]
    lease_duration: std::time::Duration,
    /// How often the leader renews (and a standby retries).
    #[arg(long, default_value = "5s", value_parser = go_duration)]
    lease_renew: std::time::Duration,
    /// Syncs allowed to run at once across all connectors.
    #[arg(long, default_value_t = 4)]
    max_concurrent_syncs: usize,
    /// A sync running longer than this fails with reason SyncTimeout.
    #[arg(long, default_value = "30m", value_parser = go_duration)]
    sync_timeout: std::time::Duration,
    /// On SIGTERM, how long to wait for running syncs.
    #[arg(long, default_value = "25s", value_parser = go_duration)]
    shutdown_timeout: std::time::Duration,
    /// Watch only this namespace (then a namespaced Role is enough); default: all namespaces.
    #[arg(long, env = "WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Log format (levels come from RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = monday_operator::telemetry::LogFormat::Text)]
    log_format: monday_operator::telemetry::LogFormat,
    #[command(flatten)]
    disk: DiskArgs,
}

fn go_duration(s: &str) -> Result<std::time::Duration, String> {
    monday_operator::time::parse_go_duration(s).map_err(|e| e.to_string())
}

fn run_operator(args: RunArgs) -> anyhow::Result<()> {
    use monday_operator::controller;
    monday_operator::telemetry::init(args.log_format).context("setting up logging")?;
    args.disk.apply(&args.data_dir, true)?;
    let identity = controller::lease::default_identity();
    let leader_election = args
        .leader_election
        .then(|| controller::lease::LeaseConfig {
            name: args.lease_name.clone(),
            namespace: args
                .lease_namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            identity: identity.clone(),
            duration: args.lease_duration,
            renew: args.lease_renew,
        });
    let config = controller::Config {
        data_dir: args.data_dir,
        metrics_addr: Some(args.metrics_addr),
        leader_election,
        max_concurrent_syncs: args.max_concurrent_syncs,
        sync_timeout: args.sync_timeout,
        shutdown_timeout: args.shutdown_timeout,
        identity: identity.clone(),
        namespace: args.namespace,
        conductor_one: controller::service_mode::Reach {
            extra_roots: std::env::var_os("SSL_CERT_FILE")
                .map(std::path::PathBuf::from)
                .filter(|p| !p.as_os_str().is_empty()),
            host_id: std::env::var(monday_operator::settings::HOST_ID)
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or(identity),
        },
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let client = kube::Client::try_default()
            .await
            .context("building the Kubernetes client (in-cluster or KUBECONFIG)")?;
        controller::run(client, config, controller::shutdown_signal()).await?;
        Ok(())
    })
}
