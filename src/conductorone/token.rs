//! The access token: an OAuth2 client-credentials exchange with a signed JWT assertion, made
//! exactly as the SDK's `c1TokenSource.Token()` makes it, and cached like `oauth2.ReuseTokenSource`
//! (reused until 10 s before it expires).
//!
//! Assertion: compact JWS, header `{"alg":"EdDSA","nonce":<32 hex chars>}` (no `kid`, no `typ`),
//! claims `iss` = `sub` = client id, `aud` = the client id's host without port (a string),
//! `exp` = now + 2 min, `nbf` = now − 2 min, `iat` = now. Form POST to
//! `https://<host>/auth/v1/token` with `client_id`, `grant_type=client_credentials`,
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
//! `client_assertion`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::credentials::{ClientId, ClientSecret};
use super::error::{C1Error, TokenError};

/// `client_assertion_type` of a JWT bearer assertion (RFC 7523).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long before its expiry a token is replaced (`golang.org/x/oauth2` `defaultExpiryDelta`).
pub const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// Lifetime on each side of `iat` (SDK: `nbf` = now − 2 min, `exp` = now + 2 min).
const ASSERTION_SKEW: i64 = 120;

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    nonce: &'a str,
}

/// Field order as go-jose's `jwt.Claims` marshals it.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
}

/// Builds the signed assertion for `now` (Unix seconds) with `nonce`.
pub fn assertion(id: &ClientId, secret: &ClientSecret, now: i64, nonce: &str) -> String {
    let header = serde_json::to_vec(&Header {
        alg: "EdDSA",
        nonce,
    })
    .unwrap_or_default();
    let claims = serde_json::to_vec(&Claims {
        iss: id.as_str(),
        sub: id.as_str(),
        aud: id.audience(),
        exp: now + ASSERTION_SKEW,
        nbf: now - ASSERTION_SKEW,
        iat: now,
    })
    .unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = secret.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// 16 random bytes, hex-encoded (go-jose's `xjwt.RandomNonce{Size: 16}`).
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: SecretString,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: i64,
}

#[derive(Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: String,
}

/// A token and when to stop using it.
#[derive(Clone)]
struct Cached {
    header: SecretString,
    refresh_at: Instant,
}

/// Fetches and caches access tokens. Cloning shares the cache.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    id: ClientId,
    secret: ClientSecret,
    url: String,
    http: reqwest::Client,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl TokenSource {
    /// `target` is `host[:port]` of the token endpoint (the client id's host, or
    /// `BATON_C1_API_HOST`).
    pub fn new(
        id: ClientId,
        secret: ClientSecret,
        target: &str,
        tls: rustls::ClientConfig,
    ) -> Result<Self, C1Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!(
                "baton-c1-credential-provider monday-operator/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|_| C1Error::Config("cannot build the token endpoint's HTTP client".into()))?;
        Ok(TokenSource {
            inner: Arc::new(Inner {
                id,
                secret,
                url: format!("https://{target}/auth/v1/token"),
                http,
                cache: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// The `authorization` header value (`Bearer <token>`), fetching a token when the cached one
    /// is missing or within [`EXPIRY_DELTA`] of expiring. Concurrent callers share one fetch.
    pub async fn authorization(&self) -> Result<SecretString, C1Error> {
        let mut cache = self.inner.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.header.clone());
        }
        let fresh = self.fetch().await?;
        let header = fresh.header.clone();
        *cache = Some(fresh);
        Ok(header)
    }

    /// Forgets the cached token (the server called it invalid), so the next call fetches anew.
    pub async fn invalidate(&self) {
        *self.inner.cache.lock().await = None;
    }

    async fn fetch(&self) -> Result<Cached, C1Error> {
        let now = jiff::Timestamp::now().as_second();
        let jws = SecretString::from(assertion(&self.inner.id, &self.inner.secret, now, &nonce()));
        let form = [
            ("client_id", self.inner.id.as_str()),
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", jws.expose_secret()),
        ];
        let started = Instant::now();
        let resp = self
            .inner
            .http
            .post(&self.inner.url)
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Unreachable(super::error::describe_reqwest(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            // Only the OAuth error code is kept: short, server-chosen, never our secret.
            let code = resp
                .json::<OAuthError>()
                .await
                .ok()
                .map(|e| e.error)
                .filter(|e| {
                    !e.is_empty()
                        && e.len() <= 64
                        && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
            return Err(TokenError::Rejected {
                status: status.as_u16(),
                error: code,
            }
            .into());
        }
        let body: TokenResponse = resp
            .json()
            .await
            .map_err(|_| TokenError::Malformed("the response is not the expected JSON"))?;
        if body.access_token.expose_secret().is_empty() {
            return Err(TokenError::Malformed("empty access token").into());
        }
        let kind = match body.token_type.as_str() {
            "" => "Bearer".to_string(),
            t if t.eq_ignore_ascii_case("bearer") => "Bearer".to_string(),
            t => t.to_string(),
        };
        let header = SecretString::from(format!("{kind} {}", body.access_token.expose_secret()));
        let lifetime = Duration::from_secs(body.expires_in.max(0) as u64);
        tracing::debug!(
            expires_in = body.expires_in,
            took_ms = started.elapsed().as_millis() as u64,
            "ConductorOne access token obtained"
        );
        Ok(Cached {
            header,
            refresh_at: started + lifetime.saturating_sub(EXPIRY_DELTA),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, SigningKey, Verifier};

    fn secret(seed: [u8; 32]) -> ClientSecret {
        let key = SigningKey::from_bytes(&seed);
        let jwk = serde_json::json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
            "d": URL_SAFE_NO_PAD.encode(seed),
        });
        ClientSecret::parse(&SecretString::from(format!(
            "secret-token:conductorone.com:v1:{}",
            URL_SAFE_NO_PAD.encode(jwk.to_string())
        )))
        .expect("valid")
    }

    #[test]
    fn assertion_is_the_sdks_jws() {
        let id: ClientId = "bot@acme.conductor.one:8443/x".parse().expect("id");
        let s = secret([3; 32]);
        let jws = assertion(&id, &s, 1_000_000, "00112233445566778899aabbccddeeff");
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = URL_SAFE_NO_PAD.decode(parts[0]).expect("b64");
        assert_eq!(
            String::from_utf8(header).expect("utf8"),
            r#"{"alg":"EdDSA","nonce":"00112233445566778899aabbccddeeff"}"#
        );
        let claims = URL_SAFE_NO_PAD.decode(parts[1]).expect("b64");
        assert_eq!(
            String::from_utf8(claims).expect("utf8"),
            r#"{"iss":"bot@acme.conductor.one:8443/x","sub":"bot@acme.conductor.one:8443/x","aud":"acme.conductor.one","exp":1000120,"nbf":999880,"iat":1000000}"#
        );
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).expect("b64"))
            .expect("64 bytes");
        SigningKey::from_bytes(&[3; 32])
            .verifying_key()
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("signature verifies with the public key");
    }

    #[test]
    fn nonces_are_32_hex_chars_and_fresh() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
