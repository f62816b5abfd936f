//! A faithful local test double of Monday.com's GraphQL API (`POST /v2`) for monday-operator.
//!
//! Serves the trimmed schema (`schema/monday-2026-10.graphql`) over a generated, edge-case or
//! file-loaded tenant, with Monday's transport behaviour (tokens, `API-Version`, error envelope,
//! complexity budget and rate limits, 429 codes), permission errors, provisioning mutations, runtime
//! fault injection and a ground-truth dump of the expected Baton grants.
//!
//! ```no_run
//! let emu = monday_emulator::Emulator::start(monday_emulator::Config::edge()).unwrap();
//! println!("{} {}", emu.url(), emu.admin_user_id());
//! let truth = emu.ground_truth();
//! # drop(truth);
//! ```
//!
//! This crate must not depend on `monday-operator`: it is the operator's independent oracle.

pub mod cost;
pub mod faults;
pub mod generate;
pub mod limits;
pub mod model;
mod mutation;
mod schema;
mod server;
mod state;
pub mod stats;
pub mod truth;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use faults::{Faults, RateLimitFault, RevokeToken};
pub use generate::Size;
pub use limits::{Limits, RateLimitCode, Tier};
pub use model::Tenant;
pub use schema::sdl;
pub use stats::Stats;
pub use truth::{GroundTruth, TruthResource, ground_truth};

use state::{Shared, TokenEntry, lock, read, write};

/// The API version served when the request has no `API-Version` header.
pub const CURRENT_API_VERSION: &str = "2026-10";
/// Versions answered as themselves; older well-formed quarterly versions are routed to the first,
/// other well-formed ones to [`CURRENT_API_VERSION`].
pub const KNOWN_API_VERSIONS: &[&str] = &[
    "2025-04", "2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10", "2027-01",
];

/// Default token of the admin user (documented; tests should read [`EmulatorHandle::admin_token`]).
pub const DEFAULT_ADMIN_TOKEN: &str = "emulator-admin-token";
/// Default token of the first active member (non-admin).
pub const DEFAULT_MEMBER_TOKEN: &str = "emulator-member-token";

/// Where the tenant comes from.
#[derive(Clone, Debug)]
pub enum TenantSource {
    /// Generated from a size preset and [`Config::seed`].
    Generated(Size),
    /// The built-in edge-case tenant ([`generate::edge`]).
    Edge,
    /// A YAML or JSON tenant file.
    File(PathBuf),
    /// A tenant built by the caller.
    Given(Box<Tenant>),
}

impl std::str::FromStr for TenantSource {
    type Err = String;
    /// `S`, `M`, `L`, `edge`, or a file path.
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("edge") {
            return Ok(TenantSource::Edge);
        }
        match s.parse::<Size>() {
            Ok(size) => Ok(TenantSource::Generated(size)),
            Err(_) => Ok(TenantSource::File(PathBuf::from(s))),
        }
    }
}

/// How to start an emulator.
#[derive(Clone, Debug)]
pub struct Config {
    pub tenant: TenantSource,
    pub seed: u64,
    pub tier: Tier,
    /// `None`: the tier's documented limits.
    pub limits: Option<Limits>,
    /// Added to every `/v2` request.
    pub latency: Duration,
    pub admin_token: String,
    pub member_token: String,
    /// `127.0.0.1:0` by default (a free port).
    pub listen: SocketAddr,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenant: TenantSource::Generated(Size::S),
            seed: 1,
            tier: Tier::Enterprise,
            limits: None,
            latency: Duration::ZERO,
            admin_token: DEFAULT_ADMIN_TOKEN.into(),
            member_token: DEFAULT_MEMBER_TOKEN.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl Config {
    /// The edge-case tenant with default settings.
    pub fn edge() -> Self {
        Config {
            tenant: TenantSource::Edge,
            ..Default::default()
        }
    }

    /// A generated tenant of `size` from `seed`.
    pub fn generated(size: Size, seed: u64) -> Self {
        Config {
            tenant: TenantSource::Generated(size),
            seed,
            ..Default::default()
        }
    }

    /// A tenant built in the test.
    pub fn with_tenant(tenant: Tenant) -> Self {
        Config {
            tenant: TenantSource::Given(Box::new(tenant)),
            ..Default::default()
        }
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// Builds the tenant this configuration describes.
    pub fn build_tenant(&self) -> anyhow::Result<Tenant> {
        Ok(match &self.tenant {
            TenantSource::Generated(size) => generate::generate(*size, self.seed),
            TenantSource::Edge => generate::edge(),
            TenantSource::File(p) => Tenant::from_file(p)
                .map_err(|e| anyhow::anyhow!("tenant file {}: {e}", p.display()))?,
            TenantSource::Given(t) => (**t).clone(),
        })
    }
}

/// Entry point.
pub struct Emulator;

impl Emulator {
    /// Starts an emulator on its own thread and Tokio runtime, so it serves whatever the caller
    /// does (blocking tests, `current_thread` runtimes). Stops when the handle is dropped.
    pub fn start(config: Config) -> anyhow::Result<EmulatorHandle> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("monday-emulator".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    match Emulator::bind(config).await {
                        Ok((handle, fut)) => {
                            let _ = tx.send(Ok(handle));
                            fut.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let mut handle = rx
            .recv()
            .map_err(|_| anyhow::anyhow!("emulator thread died while starting"))??;
        handle.thread = Some(thread);
        Ok(handle)
    }

    /// Starts an emulator on the current Tokio runtime.
    pub async fn start_async(config: Config) -> anyhow::Result<EmulatorHandle> {
        let (handle, fut) = Emulator::bind(config).await?;
        tokio::spawn(fut);
        Ok(handle)
    }

    /// Binds and returns the handle plus the serving future.
    async fn bind(
        config: Config,
    ) -> anyhow::Result<(
        EmulatorHandle,
        impl std::future::Future<Output = ()> + Send + 'static,
    )> {
        let mut tenant = config.build_tenant()?;
        let admin = tenant
            .first_admin()
            .ok_or_else(|| anyhow::anyhow!("tenant has no active admin user"))?;
        let member = tenant.first_member();
        let mut tokens = HashMap::new();
        tokens.insert(
            config.admin_token.clone(),
            TokenEntry {
                user_id: admin,
                scopes: None,
            },
        );
        if let Some(m) = member {
            tokens.insert(
                config.member_token.clone(),
                TokenEntry {
                    user_id: m,
                    scopes: None,
                },
            );
        }
        for t in std::mem::take(&mut tenant.tokens) {
            tokens.insert(t.token, token_entry(t.user_id, t.scopes));
        }
        let shared = Arc::new(Shared {
            tenant: std::sync::RwLock::new(tenant),
            tokens: std::sync::RwLock::new(tokens),
            limits: std::sync::RwLock::new(
                config
                    .limits
                    .clone()
                    .unwrap_or(Limits::for_tier(config.tier)),
            ),
            tier: config.tier,
            meter: Mutex::default(),
            faults: Mutex::default(),
            stats: Mutex::default(),
            inflight: Mutex::default(),
            inflight_total: AtomicU64::new(0),
            base_latency_ms: AtomicU64::new(config.latency.as_millis() as u64),
            seq: AtomicU64::new(0),
            salt: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            admin_token: config.admin_token.clone(),
            member_token: config.member_token.clone(),
        });
        {
            let mut t = write(&shared.tenant);
            t.account.tier = config.tier.as_str().into();
        }
        let app = server::App {
            shared: shared.clone(),
            schema: schema::build(shared.clone()),
        };
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let fut = server::serve(listener, server::router(app), stop_rx);
        Ok((
            EmulatorHandle {
                addr,
                shared,
                admin_user_id: admin,
                member_user_id: member,
                stop: stop_tx,
                thread: None,
            },
            fut,
        ))
    }
}

fn token_entry(user_id: i64, scopes: Option<Vec<String>>) -> TokenEntry {
    TokenEntry {
        user_id,
        scopes: scopes.map(|s| Arc::new(s.into_iter().collect::<HashSet<_>>())),
    }
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    admin_user_id: i64,
    member_user_id: Option<i64>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT/v2`
    pub fn url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    /// `http://127.0.0.1:PORT` (control endpoints live under `/_emulator/`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Token of the first active admin.
    pub fn admin_token(&self) -> &str {
        &self.shared.admin_token
    }

    /// Token of the first active member (non-admin); valid when [`Self::member_user_id`] is `Some`.
    pub fn member_token(&self) -> &str {
        &self.shared.member_token
    }

    pub fn admin_user_id(&self) -> i64 {
        self.admin_user_id
    }

    pub fn member_user_id(&self) -> Option<i64> {
        self.member_user_id
    }

    /// Adds (or replaces) a token for `user_id`; `scopes: None` = personal token with every scope.
    pub fn add_token(&self, token: &str, user_id: i64, scopes: Option<Vec<String>>) {
        write(&self.shared.tokens).insert(token.to_string(), token_entry(user_id, scopes));
    }

    /// Makes a token invalid at once (401 from the next request).
    pub fn revoke_token(&self, token: &str) {
        write(&self.shared.tokens).remove(token);
    }

    /// The expected Baton view of the tenant as it is now.
    pub fn ground_truth(&self) -> GroundTruth {
        truth::ground_truth(&read(&self.shared.tenant))
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// The current fault plan (counts left).
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).clone()
    }

    /// Replaces the fault plan.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    /// Edits the fault plan in place.
    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut lock(&self.shared.faults));
    }

    pub fn clear_faults(&self) {
        self.set_faults(Faults::default());
    }

    /// Base latency of every `/v2` request.
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .base_latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn limits(&self) -> Limits {
        read(&self.shared.limits).clone()
    }

    /// Replaces the limits (usage so far is kept; see [`Self::reset_usage`]).
    pub fn set_limits(&self, limits: Limits) {
        *write(&self.shared.limits) = limits;
    }

    /// Forgets complexity, request and daily usage.
    pub fn reset_usage(&self) {
        lock(&self.shared.meter).reset();
    }

    pub fn tier(&self) -> Tier {
        self.shared.tier
    }

    /// Reads the tenant.
    pub fn with_tenant<R>(&self, f: impl FnOnce(&Tenant) -> R) -> R {
        f(&read(&self.shared.tenant))
    }

    /// Changes the tenant directly (set-up of a test case, out-of-band changes). Lists are
    /// re-sorted and references re-checked afterwards; panics if the change left the tenant
    /// inconsistent (a test bug).
    pub fn with_tenant_mut<R>(&self, f: impl FnOnce(&mut Tenant) -> R) -> R {
        let mut t = write(&self.shared.tenant);
        let r = f(&mut t);
        if let Err(e) = t.normalise() {
            panic!("with_tenant_mut left the tenant inconsistent: {e}");
        }
        r
    }

    /// A copy of the tenant.
    pub fn tenant(&self) -> Tenant {
        read(&self.shared.tenant).clone()
    }

    /// Stops the server and waits for it (also done on drop).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}
