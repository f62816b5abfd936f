//! The listener: one TLS port, HTTP/1.1 and HTTP/2, routing `/auth/v1/token` to the token
//! endpoint and everything else to the gRPC service. Runs on its own thread and runtime (like the
//! Monday emulator), so it serves whatever the test does; can be restarted in place (every
//! connection killed, the port re-bound) to play a server restart.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::task::AbortHandle;

use crate::creds::Credentials;
use crate::pb::baton;
use crate::state::{
    Fault, Finished, Method, Recorded, RecordedRpc, State, TokenRequest, Upload, UploadFault,
};
use crate::{certs, service, token};

/// How to start a double.
#[derive(Clone, Debug)]
pub struct Config {
    /// The tenant host in client ids (the JWT audience), e.g. `acme.conductor.one.invalid`.
    pub tenant_host: String,
    /// `next_poll` answered by `GetTask` (reference §8: 1 s).
    pub next_poll: Duration,
    /// `next_heartbeat` answered by `GetTask` and `Heartbeat` (reference §8: 2 s).
    pub next_heartbeat: Duration,
    /// `expires_in` of issued tokens (reference §8: 3600 s).
    pub token_lifetime: Duration,
    /// Port to listen on (0 = any).
    pub port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenant_host: "acme.conductor.one.invalid".into(),
            next_poll: Duration::from_secs(1),
            next_heartbeat: Duration::from_secs(2),
            token_lifetime: token::DEFAULT_LIFETIME,
            port: 0,
        }
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    pub changed: tokio::sync::Notify,
    addr: SocketAddr,
    tls: tokio_rustls::TlsAcceptor,
    router: std::sync::OnceLock<axum::Router>,
    conns: Mutex<Vec<AbortHandle>>,
    accept: Mutex<Option<AbortHandle>>,
    runtime: tokio::runtime::Handle,
    pub restarts: std::sync::atomic::AtomicUsize,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A server restart: stop accepting, kill every connection, listen again on the same port.
    pub async fn restart(self: Arc<Self>) {
        if let Some(a) = self.accept.lock().unwrap_or_else(|p| p.into_inner()).take() {
            a.abort();
        }
        for c in self
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            c.abort();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for _ in 0..50 {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => {
                    self.restarts
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    self.clone().spawn_accept(l);
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn spawn_accept(self: Arc<Self>, listener: tokio::net::TcpListener) {
        let me = self.clone();
        let task = self.runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let tls = me.tls.clone();
                let Some(router) = me.router.get().cloned() else {
                    continue;
                };
                let conn = tokio::spawn(async move {
                    let Ok(stream) = tls.accept(tcp).await else {
                        return;
                    };
                    let svc = TowerToHyperService::new(router);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .await;
                });
                let mut conns = me.conns.lock().unwrap_or_else(|p| p.into_inner());
                conns.retain(|c| !c.is_finished());
                conns.push(conn.abort_handle());
            }
        });
        *self.accept.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
    }
}

/// Entry point.
pub struct Double;

impl Double {
    /// Starts a double on its own thread and runtime, with one registered client
    /// ([`DoubleHandle::credentials`]). Stops when the handle is dropped.
    pub fn start(config: Config) -> anyhow::Result<DoubleHandle> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("conductorone-double".into())
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
                    match bind(config).await {
                        Ok(h) => {
                            let _ = tx.send(Ok(h));
                            let _ = stop_rx.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let mut handle = rx
            .recv()
            .map_err(|_| anyhow::anyhow!("double thread died while starting"))??;
        handle.stop = Some(stop_tx);
        handle.thread = Some(thread);
        Ok(handle)
    }
}

async fn bind(config: Config) -> anyhow::Result<DoubleHandle> {
    let certs = certs::generate(std::slice::from_ref(&config.tenant_host))?;
    let dir = std::env::temp_dir().join(format!(
        "conductorone-double-{}-{}",
        std::process::id(),
        crate::tasks::task_id()
    ));
    std::fs::create_dir_all(&dir)?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &certs.ca_pem)?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let creds = Credentials::generate("c1double-01", &config.tenant_host);
    let mut state = State {
        next_poll: config.next_poll,
        next_heartbeat: config.next_heartbeat,
        token_lifetime: config.token_lifetime,
        ..State::default()
    };
    state
        .clients
        .insert(creds.client_id.clone(), creds.public_key);

    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        changed: tokio::sync::Notify::new(),
        addr,
        tls: tokio_rustls::TlsAcceptor::from(certs.server.clone()),
        router: std::sync::OnceLock::new(),
        conns: Mutex::new(Vec::new()),
        accept: Mutex::new(None),
        runtime: tokio::runtime::Handle::current(),
        restarts: Default::default(),
    });
    // The routes hold the state weakly, so dropping the handle frees everything.
    let weak = Arc::downgrade(&shared);
    let grpc = tonic::service::Routes::new(baton::baton_service_server::BatonServiceServer::new(
        service::Service {
            shared: weak.clone(),
        },
    ))
    .into_axum_router();
    let token_route = axum::Router::new()
        .route("/auth/v1/token", axum::routing::post(token::handler))
        .with_state(weak);
    let _ = shared.router.set(token_route.merge(grpc));
    shared.clone().spawn_accept(listener);
    Ok(DoubleHandle {
        shared,
        creds,
        ca_file,
        dir,
        stop: None,
        thread: None,
    })
}

/// A running double. Dropping it stops the server and removes its temp folder.
pub struct DoubleHandle {
    shared: Arc<Shared>,
    creds: Credentials,
    ca_file: PathBuf,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DoubleHandle {
    /// `127.0.0.1:PORT`: the value for `BATON_C1_API_HOST`.
    pub fn host_override(&self) -> String {
        self.shared.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The test CA (PEM), for `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The client registered at start.
    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Registers another client (or re-registers a revoked one).
    pub fn register(&self, creds: &Credentials) {
        self.shared
            .lock()
            .clients
            .insert(creds.client_id.clone(), creds.public_key);
    }

    /// Revokes a client: its assertions and tokens are refused from now on.
    pub fn revoke_client(&self, client_id: &str) {
        self.shared.lock().clients.remove(client_id);
    }

    /// Every access token issued so far (for leak checks: they are secrets too).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.keys().cloned().collect()
    }

    /// Forgets every issued token (their holders get `UNAUTHENTICATED`).
    pub fn invalidate_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Queues a task; returns its id.
    pub fn push_task(&self, task: baton::Task) -> String {
        let id = task.id.clone();
        self.shared.lock().queue.push_back(task);
        id
    }

    pub fn set_next_poll(&self, d: Duration) {
        self.shared.lock().next_poll = d;
    }

    pub fn set_next_heartbeat(&self, d: Duration) {
        self.shared.lock().next_heartbeat = d;
    }

    pub fn set_token_lifetime(&self, d: Duration) {
        self.shared.lock().token_lifetime = d;
    }

    /// The next `times` calls of `method` fail with `code`.
    pub fn fail_next(&self, method: Method, code: tonic::Code, times: usize) {
        let mut st = self.shared.lock();
        let q = st.faults.entry(method).or_default();
        for _ in 0..times {
            q.push_back(Fault::Status(code));
        }
    }

    /// The next `times` token requests get 401 `invalid_client`.
    pub fn fail_token(&self, times: usize) {
        self.shared.lock().token_failures += times;
    }

    /// The next upload (one attempt) suffers `fault`; call again for later attempts.
    pub fn upload_fault(&self, fault: UploadFault) {
        self.shared.lock().upload_faults.push_back(fault);
    }

    /// The `nth` heartbeat (1 = the first) of `task_id` answers `cancelled: true`.
    pub fn cancel_heartbeat(&self, task_id: &str, nth: usize) {
        self.shared
            .lock()
            .cancel_heartbeats
            .insert(task_id.to_string(), nth);
    }

    /// Kills every connection and listens again on the same port.
    pub fn restart(&self) {
        let shared = self.shared.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.shared.runtime.spawn(async move {
            shared.restart().await;
            let _ = tx.send(());
        });
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }

    /// How many restarts happened (injected or asked for).
    pub fn restarts(&self) -> usize {
        self.shared
            .restarts
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.shared.lock().recorded.clone()
    }

    /// The calls of one method, in order.
    pub fn rpcs(&self, method: Method) -> Vec<RecordedRpc> {
        self.shared
            .lock()
            .recorded
            .iter()
            .filter_map(|r| match r {
                Recorded::Rpc(rpc) if rpc.method == method => Some(rpc.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared
            .lock()
            .recorded
            .iter()
            .filter_map(|r| match r {
                Recorded::Token(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every byte received: form bodies, encoded messages, header values.
    pub fn raw_received(&self) -> Vec<u8> {
        self.shared.lock().raw.clone()
    }

    /// Protocol violations the double noticed (empty for a well-behaved client).
    pub fn problems(&self) -> Vec<String> {
        self.shared.lock().problems.clone()
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.lock().uploads.clone()
    }

    pub fn finished(&self) -> Vec<Finished> {
        self.shared.lock().finished.clone()
    }

    /// `Hello` calls that passed validation.
    pub fn hellos_accepted(&self) -> usize {
        self.shared.lock().accepted_hello
    }

    /// Tasks still queued.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// When the task was handed out by `GetTask`.
    pub fn handed_out_at(&self, task_id: &str) -> Option<Instant> {
        self.shared.lock().handed_out.get(task_id).map(|h| h.at)
    }

    /// Heartbeats received for a task.
    pub fn heartbeats(&self, task_id: &str) -> usize {
        self.shared
            .lock()
            .handed_out
            .get(task_id)
            .map_or(0, |h| h.heartbeats)
    }

    /// Waits until `f` returns `Some`, polling every 10 ms; `None` after `timeout`.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&DoubleHandle) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f(self) {
                return Some(v);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The `FinishTask` of `task_id`, waiting up to `timeout`.
    pub async fn wait_finished(&self, task_id: &str, timeout: Duration) -> Option<Finished> {
        self.wait_for(timeout, |h| {
            h.finished().into_iter().find(|f| f.task_id == task_id)
        })
        .await
    }
}

impl Drop for DoubleHandle {
    fn drop(&mut self) {
        if let Some(a) = self
            .shared
            .accept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            a.abort();
        }
        for c in self
            .shared
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            c.abort();
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
