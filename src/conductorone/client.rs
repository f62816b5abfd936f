//! The `BatonService` client: one lazily connected HTTP/2 channel over our own TLS connector,
//! a bearer token on every call, and the RPCs the service loop needs.
//!
//! Differences from the SDK, on purpose: one persistent channel instead of a new TLS connection
//! per RPC (tonic reconnects by itself when the server goes away), and an `Unauthenticated`
//! answer drops the cached token so the next call fetches a fresh one (the SDK keeps using a
//! rejected token until its own clock says it expired; callers still back off, so this is no
//! hot loop).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt as _;
use http::Uri;
use hyper_util::rt::TokioIo;
use prost_types::Any;
use rustls::pki_types::ServerName;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tonic::metadata::MetadataValue;

use super::credentials::{ClientId, ClientSecret, strip_port};
use super::error::C1Error;
use super::pb::{self, finish_task_request, upload_asset_request};
use super::tls::{ALPN_GRPC, ALPN_HTTPS, Trust};
use super::token::TokenSource;

/// Upload chunk size: the SDK's 512 KiB (the proto allows up to 1 MiB).
pub const UPLOAD_CHUNK: usize = 512 * 1024;
/// Upload attempts (the SDK's `maxAttempts`), waiting `i` seconds before attempt `i`.
pub const UPLOAD_ATTEMPTS: u32 = 3;
/// Timeout of unary RPCs (the SDK's dial timeout; FinishTask's own 30 s budget).
const UNARY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and as whom to reach ConductorOne.
#[derive(Debug)]
pub struct Config {
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    /// `BATON_C1_API_HOST`: `host[:port]` replacing the client id's host for the token URL and
    /// gRPC (not for the JWT audience).
    pub host_override: Option<String>,
    /// `host_id` of every request (`BATON_HOST_ID`, else the hostname).
    pub host_id: String,
    /// Extra trusted CA certificates (PEM), normally `SSL_CERT_FILE`.
    pub extra_roots: Option<PathBuf>,
}

/// How a task ended, for `FinishTask`.
#[derive(Debug, Clone)]
pub enum Finish {
    Success {
        response: Option<Any>,
        annotations: Vec<Any>,
    },
    Error {
        code: tonic::Code,
        message: String,
        non_retryable: bool,
    },
}

/// What an upload sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReport {
    pub bytes: u64,
    pub chunks: u64,
    /// Lowercase hex SHA-256 sent at `eof`.
    pub sha256: String,
    /// Attempts used (1..=3).
    pub attempts: u32,
}

/// A ConductorOne `BatonService` client. Cloning shares the channel and the token cache.
#[derive(Clone)]
pub struct Client {
    channel: tonic::transport::Channel,
    tokens: TokenSource,
    host_id: Arc<str>,
    target: Arc<str>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target)
            .field("host_id", &self.host_id)
            .finish_non_exhaustive()
    }
}

/// `host[:port]` → `host:port`, 443 when absent (the SDK's `HostPort(host, "443")`).
pub fn with_default_port(host: &str) -> String {
    if strip_port(host) != host {
        host.to_string()
    } else if host.contains(':') {
        format!("[{host}]:443")
    } else {
        format!("{host}:443")
    }
}

/// `BATON_HOST_ID`, else the hostname, else `baton-sdk` (the SDK's `getHostID`).
pub fn host_id_from_env() -> String {
    if let Ok(id) = std::env::var(crate::settings::HOST_ID)
        && !id.is_empty()
    {
        return id;
    }
    let host = super::hello::hostname();
    if host.is_empty() {
        "baton-sdk".into()
    } else {
        host
    }
}

impl Client {
    /// Builds the client; nothing is sent until the first call.
    pub fn new(config: Config) -> Result<Self, C1Error> {
        if config.host_id.is_empty() || config.host_id.chars().count() > 256 {
            return Err(C1Error::Config(
                "host_id must be 1 to 256 characters".into(),
            ));
        }
        let target_host = config
            .host_override
            .clone()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| config.client_id.host().to_string());
        if target_host.contains(['/', '@', ' ']) {
            return Err(C1Error::Config(format!(
                "the ConductorOne host {target_host:?} must be host[:port] (BATON_C1_API_HOST)"
            )));
        }
        let trust = Trust::shared(config.extra_roots.as_deref())?;
        let user_agent = format!(
            "{} monday-operator/{}",
            config.client_id.name(),
            env!("CARGO_PKG_VERSION")
        );
        let tokens = TokenSource::new(
            config.client_id,
            config.client_secret,
            &target_host,
            trust.client_config(ALPN_HTTPS)?,
        )?;
        let addr = with_default_port(&target_host);
        let sni_host = strip_port(&addr).trim_matches(['[', ']']).to_string();
        let server_name = ServerName::try_from(sni_host.clone())
            .map_err(|_| C1Error::Config(format!("{sni_host:?} is not a valid TLS server name")))?;
        let connector = tls_connector(Arc::new(trust.client_config(ALPN_GRPC)?), server_name);
        let endpoint = tonic::transport::Endpoint::from_shared(format!("https://{addr}"))
            .map_err(|_| C1Error::Config(format!("{addr:?} is not a valid address")))?
            .connect_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .user_agent(user_agent)
            .map_err(|_| {
                C1Error::Config("the client id's name is not a valid user agent".into())
            })?;
        Ok(Client {
            channel: endpoint.connect_with_connector_lazy(connector),
            tokens,
            host_id: config.host_id.into(),
            target: addr.into(),
        })
    }

    /// `host_id` sent in every request.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    async fn request<T>(
        &self,
        msg: T,
        timeout: Option<Duration>,
    ) -> Result<tonic::Request<T>, C1Error> {
        let auth = self.tokens.authorization().await?;
        let mut req = tonic::Request::new(msg);
        let mut value: MetadataValue<_> = auth
            .expose_secret()
            .parse()
            .map_err(|_| C1Error::Config("the access token is not a valid header value".into()))?;
        value.set_sensitive(true);
        req.metadata_mut().insert("authorization", value);
        if let Some(t) = timeout {
            req.set_timeout(t);
        }
        Ok(req)
    }

    async fn failed(&self, method: &'static str, status: tonic::Status) -> C1Error {
        if status.code() == tonic::Code::Unauthenticated {
            self.tokens.invalidate().await;
        }
        C1Error::rpc(method, &status)
    }

    async fn unary<Req, Resp>(&self, method: &'static str, msg: Req) -> Result<Resp, C1Error>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let req = self.request(msg, Some(UNARY_TIMEOUT)).await?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Err(e) = grpc.ready().await {
            return Err(C1Error::Rpc {
                method,
                code: tonic::Code::Unavailable,
                message: super::error::bounded(&e.to_string(), 200),
            });
        }
        let path = http::uri::PathAndQuery::from_static(method_path(method));
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        match grpc.unary(req, path, codec).await {
            Ok(resp) => Ok(resp.into_inner()),
            Err(status) => Err(self.failed(method, status).await),
        }
    }

    /// `Hello`: registers this connector (task id empty at start-up, or the `hello` task's id).
    pub async fn hello(&self, mut req: pb::HelloRequest) -> Result<pb::HelloResponse, C1Error> {
        req.host_id = self.host_id.to_string();
        self.unary("Hello", req).await
    }

    /// `GetTask`: the next task, if any, and the poll/heartbeat intervals.
    pub async fn get_task(&self) -> Result<pb::GetTaskResponse, C1Error> {
        self.unary(
            "GetTask",
            pb::GetTaskRequest {
                host_id: self.host_id.to_string(),
            },
        )
        .await
    }

    /// `Heartbeat` for one task (no annotations, no batch ids, as the SDK sends it).
    pub async fn heartbeat(&self, task_id: &str) -> Result<pb::HeartbeatResponse, C1Error> {
        self.unary(
            "Heartbeat",
            pb::HeartbeatRequest {
                host_id: self.host_id.to_string(),
                task_id: task_id.to_string(),
                ..Default::default()
            },
        )
        .await
    }

    /// `FinishTask`: success (no status) or error (status + `non_retryable`).
    pub async fn finish_task(&self, task_id: &str, finish: Finish) -> Result<(), C1Error> {
        let (status, final_state) = match finish {
            Finish::Success {
                response,
                annotations,
            } => (
                None,
                finish_task_request::FinalState::Success(finish_task_request::Success {
                    annotations,
                    response,
                }),
            ),
            Finish::Error {
                code,
                message,
                non_retryable,
            } => (
                Some(pb::RpcStatus {
                    code: code as i32,
                    message,
                    details: Vec::new(),
                }),
                finish_task_request::FinalState::Error(finish_task_request::Error {
                    non_retryable,
                    annotations: Vec::new(),
                    response: None,
                }),
            ),
        };
        self.unary::<_, pb::FinishTaskResponse>(
            "FinishTask",
            pb::FinishTaskRequest {
                host_id: self.host_id.to_string(),
                task_id: task_id.to_string(),
                status,
                final_state: Some(final_state),
            },
        )
        .await
        .map(drop)
    }

    /// Uploads the file at `path` as the task's asset: up to [`UPLOAD_ATTEMPTS`] attempts, each a
    /// new stream of `metadata`, [`UPLOAD_CHUNK`]-sized `data` read from disk as they are sent,
    /// and `eof` with the SHA-256 computed on the way. Memory stays at a few chunks whatever the
    /// file size.
    pub async fn upload(&self, task_id: &str, path: &Path) -> Result<UploadReport, C1Error> {
        let mut last = None;
        for attempt in 0..UPLOAD_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
            match self.upload_once(task_id, path).await {
                Ok(mut report) => {
                    report.attempts = attempt + 1;
                    return Ok(report);
                }
                Err(e) => {
                    tracing::warn!(task_id, attempt = attempt + 1, error = %e, "upload attempt failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| C1Error::Config("no upload attempt was made".into())))
    }

    async fn upload_once(&self, task_id: &str, path: &Path) -> Result<UploadReport, C1Error> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| C1Error::Io {
                op: "open the upload",
                path: path.to_path_buf(),
                source,
            })?;
        let shared = Arc::new(Mutex::new(StreamState::default()));
        let stream = upload_stream(
            file,
            self.host_id.to_string(),
            task_id.to_string(),
            shared.clone(),
        );
        let req = self.request(stream, None).await?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Err(e) = grpc.ready().await {
            return Err(C1Error::Rpc {
                method: "UploadAsset",
                code: tonic::Code::Unavailable,
                message: super::error::bounded(&e.to_string(), 200),
            });
        }
        let path_q = http::uri::PathAndQuery::from_static(method_path("UploadAsset"));
        let codec =
            tonic_prost::ProstCodec::<pb::UploadAssetRequest, pb::UploadAssetResponse>::default();
        let result = grpc.client_streaming(req, path_q, codec).await;
        let state = std::mem::take(&mut *shared.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(source) = state.read_error {
            return Err(C1Error::Io {
                op: "read the upload",
                path: path.to_path_buf(),
                source,
            });
        }
        match result {
            Ok(_) if state.eof_sent => Ok(UploadReport {
                bytes: state.bytes,
                chunks: state.chunks,
                sha256: state.sha256,
                attempts: 1,
            }),
            Ok(_) => Err(C1Error::Rpc {
                method: "UploadAsset",
                code: tonic::Code::Aborted,
                message: "the server closed the upload before it was complete".into(),
            }),
            Err(status) => Err(self.failed("UploadAsset", status).await),
        }
    }
}

#[derive(Default)]
struct StreamState {
    bytes: u64,
    chunks: u64,
    sha256: String,
    eof_sent: bool,
    read_error: Option<std::io::Error>,
}

enum Step {
    Metadata,
    Data,
    Done,
}

/// The request stream of one upload attempt: reads the next chunk only when tonic asks for the
/// next message, so at most a few chunks are in memory.
fn upload_stream(
    file: tokio::fs::File,
    host_id: String,
    task_id: String,
    shared: Arc<Mutex<StreamState>>,
) -> impl futures::Stream<Item = pb::UploadAssetRequest> + Send + 'static {
    let hasher = Sha256::new();
    futures::stream::unfold(
        (file, hasher, Step::Metadata, shared, host_id, task_id),
        |(mut file, mut hasher, step, shared, host_id, task_id)| async move {
            match step {
                Step::Metadata => {
                    let msg =
                        upload_asset_request::Msg::Metadata(upload_asset_request::UploadMetadata {
                            host_id: host_id.clone(),
                            task_id: task_id.clone(),
                            annotations: Vec::new(),
                        });
                    Some((
                        pb::UploadAssetRequest { msg: Some(msg) },
                        (file, hasher, Step::Data, shared, host_id, task_id),
                    ))
                }
                Step::Data => {
                    let mut buf = vec![0u8; UPLOAD_CHUNK];
                    let mut filled = 0;
                    while filled < buf.len() {
                        match file.read(&mut buf[filled..]).await {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) => {
                                // End the stream without eof: the server must not take it whole.
                                shared.lock().unwrap_or_else(|p| p.into_inner()).read_error =
                                    Some(e);
                                return None;
                            }
                        }
                    }
                    if filled == 0 {
                        let digest = hasher.finalize();
                        {
                            let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
                            st.sha256 = hex::encode(digest);
                            st.eof_sent = true;
                        }
                        let msg = upload_asset_request::Msg::Eof(upload_asset_request::UploadEof {
                            sha256_checksum: digest.to_vec(),
                            annotations: Vec::new(),
                        });
                        return Some((
                            pb::UploadAssetRequest { msg: Some(msg) },
                            (file, Sha256::new(), Step::Done, shared, host_id, task_id),
                        ));
                    }
                    buf.truncate(filled);
                    hasher.update(&buf);
                    {
                        let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
                        st.bytes += filled as u64;
                        st.chunks += 1;
                    }
                    let msg = upload_asset_request::Msg::Data(upload_asset_request::UploadData {
                        data: buf,
                    });
                    Some((
                        pb::UploadAssetRequest { msg: Some(msg) },
                        (file, hasher, Step::Data, shared, host_id, task_id),
                    ))
                }
                Step::Done => None,
            }
        },
    )
    .fuse()
}

fn method_path(method: &'static str) -> &'static str {
    match method {
        "Hello" => "/c1.connectorapi.baton.v1.BatonService/Hello",
        "GetTask" => "/c1.connectorapi.baton.v1.BatonService/GetTask",
        "Heartbeat" => "/c1.connectorapi.baton.v1.BatonService/Heartbeat",
        "FinishTask" => "/c1.connectorapi.baton.v1.BatonService/FinishTask",
        "UploadAsset" => "/c1.connectorapi.baton.v1.BatonService/UploadAsset",
        _ => "/c1.connectorapi.baton.v1.BatonService/Unknown",
    }
}

type TlsIo = TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// TCP + TLS (ALPN `h2`) to the URI's host, verified as `server_name`.
#[derive(Clone)]
struct TlsConnect {
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
}

fn tls_connector(
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
) -> TlsConnect {
    TlsConnect {
        config,
        server_name,
    }
}

impl tower::Service<Uri> for TlsConnect {
    type Response = TlsIo;
    type Error = std::io::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = std::io::Result<TlsIo>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let config = self.config.clone();
        let server_name = self.server_name.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| std::io::Error::other("the ConductorOne address has no host"))?
                .trim_matches(['[', ']'])
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, tcp)
                .await?;
            if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(std::io::Error::other(
                    "the ConductorOne server did not agree to HTTP/2 (ALPN h2)",
                ));
            }
            Ok(TokioIo::new(tls))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_port_like_the_sdk() {
        assert_eq!(
            with_default_port("acme.conductor.one"),
            "acme.conductor.one:443"
        );
        assert_eq!(with_default_port("127.0.0.1:8443"), "127.0.0.1:8443");
        assert_eq!(with_default_port("::1"), "[::1]:443");
        assert_eq!(with_default_port("[::1]:9"), "[::1]:9");
    }
}
