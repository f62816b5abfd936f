//! `monday-operator service`: ConductorOne service mode without Kubernetes, configured from the
//! environment exactly like the set-up guide's Deployment (`envFrom: secretRef`), so the image
//! replaces the baton connector there unchanged.
//!
//! Exit codes: 0 after a stop (SIGTERM/SIGINT, within 10 s), 1 when ConductorOne refuses the
//! connector at start-up (bad or revoked credentials; the SDK exits 1 too), 2 for a
//! configuration error (a variable missing or malformed; nothing is sent).

use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;

use crate::conductorone::{self, ClientId, ClientSecret};
use crate::service::{ServiceConfig, ServiceEvent, ServiceObserver, TaskOutcome};

use crate::settings::{
    C1_API_HOST as API_HOST_ENV, CLIENT_ID as CLIENT_ID_ENV, CLIENT_SECRET as CLIENT_SECRET_ENV,
    PROVISIONING as PROVISIONING_ENV,
};

/// Flags of `monday-operator service`.
#[derive(clap::Args, Debug)]
pub struct ServiceArgs {
    /// Monday.com GraphQL endpoint.
    #[arg(long, default_value = crate::monday::DEFAULT_API_URL)]
    pub api_url: String,
    /// Folder for sync files before upload (the last uploaded one is kept as last-upload.c1z).
    #[arg(
        long,
        env = "MONDAY_DATA_DIR",
        default_value = "/var/lib/monday-operator"
    )]
    pub data_dir: PathBuf,
    /// Read the Monday token from this file instead of BATON_MONDAY_API_KEY.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Tasks run at once (the SDK's --task-concurrency).
    #[arg(long, env = "BATON_TASK_CONCURRENCY", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub task_concurrency: u16,
    /// Log format (levels come from RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = crate::telemetry::LogFormat::Text)]
    pub log_format: crate::telemetry::LogFormat,
}

/// What is wrong with the environment.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: service mode needs the ConductorOne client id and secret")]
    Missing(&'static str),
    #[error(transparent)]
    ClientId(#[from] conductorone::ClientIdError),
    #[error("{CLIENT_SECRET_ENV}: {0}")]
    ClientSecret(#[from] conductorone::ClientSecretError),
    #[error("{PROVISIONING_ENV} is {0:?}: expected one of {spellings}", spellings = crate::settings::GO_BOOL_SPELLINGS)]
    Provisioning(String),
    #[error(transparent)]
    Token(#[from] super::TokenError),
    #[error(transparent)]
    Client(#[from] conductorone::C1Error),
}

/// Everything service mode reads from the environment, checked.
pub struct Settings {
    pub client: conductorone::Config,
    pub token: SecretString,
    pub provisioning: bool,
}

/// Reads and checks the environment (no network).
pub fn settings(args: &ServiceArgs) -> Result<Settings, ConfigError> {
    let id = std::env::var(CLIENT_ID_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(CLIENT_ID_ENV))?;
    let client_id: ClientId = id.parse()?;
    let secret = std::env::var(CLIENT_SECRET_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::from)
        .ok_or(ConfigError::Missing(CLIENT_SECRET_ENV))?;
    let client_secret = ClientSecret::parse(&secret)?;
    let provisioning = match std::env::var(PROVISIONING_ENV) {
        Err(_) => false,
        Ok(v) if v.trim().is_empty() => false,
        Ok(v) => crate::settings::parse_go_bool(v.trim())
            .map_err(|_| ConfigError::Provisioning(v.chars().take(16).collect()))?,
    };
    let token = super::read_token(args.token_file.as_deref())?;
    Ok(Settings {
        client: conductorone::Config {
            client_id,
            client_secret,
            host_override: std::env::var(API_HOST_ENV)
                .ok()
                .filter(|h| !h.trim().is_empty()),
            host_id: conductorone::host_id_from_env(),
            extra_roots: std::env::var_os("SSL_CERT_FILE")
                .map(PathBuf::from)
                .filter(|p| !p.as_os_str().is_empty()),
        },
        token,
        provisioning,
    })
}

/// Logs what the loop reports (the service already logs each step; this adds the summary lines
/// an operator looks for).
struct LogEvents;

impl ServiceObserver for LogEvents {
    fn event(&self, e: &ServiceEvent) {
        if let ServiceEvent::TaskFinished(r) = e
            && let Some(g) = &r.info.grant
        {
            let outcome = match &r.outcome {
                TaskOutcome::Succeeded => "done".to_string(),
                TaskOutcome::Failed { reason, .. } => format!("failed ({reason})"),
                TaskOutcome::Cancelled { .. } => "cancelled".into(),
                TaskOutcome::Dropped { why } => format!("dropped ({why})"),
            };
            tracing::info!(
                task_id = %r.info.id,
                task_type = %r.info.task_type,
                grant = %g.grant_id,
                requested_duration_s = g.duration.map(|d| d.as_secs()),
                outcome = %outcome,
                ms = r.duration.as_millis() as u64,
                "provisioning task"
            );
        }
    }
}

async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received, stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received, stopping"),
    }
}

/// Entry point for `main`: returns the exit code.
pub fn run(args: ServiceArgs) -> i32 {
    if let Err(e) = crate::telemetry::init(args.log_format) {
        eprintln!("error: setting up logging: {e}");
        return 1;
    }
    let s = match settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(async move {
        let c1 = match conductorone::Client::new(s.client) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        let mut cfg = ServiceConfig::new(args.data_dir.clone(), s.provisioning);
        cfg.task_concurrency = usize::from(args.task_concurrency);
        tracing::info!(
            provisioning = s.provisioning,
            data_dir = %args.data_dir.display(),
            api_url = %args.api_url,
            "starting ConductorOne service mode"
        );
        let conn = crate::engine::Connection {
            api_url: args.api_url.clone(),
            token: s.token,
        };
        let service = match crate::service::Service::new(c1, conn, cfg, Arc::new(LogEvents)) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e} (reason {})", e.reason());
                return 2;
            }
        };
        match service.run(stop_signal()).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e} (reason {})", e.reason());
                1
            }
        }
    });
    // Abandoned blocking work (a sync being written) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    code
}
