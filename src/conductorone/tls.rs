//! TLS to ConductorOne: rustls with the `ring` provider (the one the rest of the operator uses),
//! TLS 1.2 and 1.3, the platform verifier, and the certificates of `SSL_CERT_FILE` as extra roots.
//! Nothing is installed process-wide.
//!
//! What `SSL_CERT_FILE` does, checked in the crates' sources: `rustls-platform-verifier` 0.7 on
//! Linux takes its roots from `rustls-native-certs` 0.8, which reads **only** `SSL_CERT_FILE`
//! (and `SSL_CERT_DIR`) when set, instead of the system bundle — the same override Go's
//! `crypto/x509` (and so the SDK) applies on Linux. On macOS and Windows the verifier asks the
//! OS store and ignores the variable. We pass the file's certificates as extra roots as well, so
//! it is trusted on every platform, in addition to whatever the platform verifier trusts.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::error::C1Error;

/// ALPN for gRPC: HTTP/2 only.
pub const ALPN_GRPC: &[&[u8]] = &[b"h2"];
/// ALPN for the token endpoint: what Go's HTTP client offers with `ForceAttemptHTTP2`.
pub const ALPN_HTTPS: &[&[u8]] = &[b"h2", b"http/1.1"];

/// The verifier, built once per client (loading the platform roots parses every CA on the host).
#[derive(Clone)]
pub struct Trust {
    verifier: Arc<rustls_platform_verifier::Verifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl Trust {
    /// [`Trust::new`], built once per process for each `extra_roots` (one per connector would
    /// parse every CA on the host again, which dominates a small client's memory). A changed
    /// file is read again only by a new process, as the Monday client's roots are.
    pub fn shared(extra_roots: Option<&Path>) -> Result<Self, C1Error> {
        use std::collections::HashMap;
        use std::path::PathBuf;
        use std::sync::{Mutex, OnceLock};
        static CACHE: OnceLock<Mutex<HashMap<Option<PathBuf>, Trust>>> = OnceLock::new();
        let key = extra_roots.map(Path::to_path_buf);
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(t) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(t.clone());
        }
        let built = Trust::new(extra_roots)?;
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, built.clone());
        Ok(built)
    }

    /// Platform roots plus the PEM certificates in `extra_roots` (normally `SSL_CERT_FILE`).
    pub fn new(extra_roots: Option<&Path>) -> Result<Self, C1Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let extra: Vec<CertificateDer<'static>> = match extra_roots {
            None => Vec::new(),
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    C1Error::Config(format!(
                        "cannot read the CA certificates in {} (SSL_CERT_FILE): {e}",
                        path.display()
                    ))
                })?,
        };
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| C1Error::Config(format!("cannot load the TLS trust roots: {e}")))?;
        Ok(Trust {
            verifier: Arc::new(verifier),
            provider,
        })
    }

    /// A client config offering `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, C1Error> {
        let mut config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|_| C1Error::Config("no usable TLS protocol versions".into()))?
            .dangerous()
            .with_custom_certificate_verifier(self.verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}
