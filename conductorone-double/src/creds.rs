//! Client credentials as ConductorOne issues them, generated at runtime for a test.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use rand::RngCore;

/// A client id, its secret (`secret-token:conductorone.com:v1:<base64url JWK>`) and the public key
/// the double verifies assertions with.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    /// The full client secret. Test material only; still never print it: the leak tests look for it.
    pub client_secret: String,
    /// The JWK's `d` (base64url), for leak checks.
    pub private_d: String,
    pub public_key: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Fresh credentials `<name>@<tenant_host>/pcc` with a random Ed25519 key.
    pub fn generate(name: &str, tenant_host: &str) -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let public_key = key.verifying_key().to_bytes();
        let d = URL_SAFE_NO_PAD.encode(seed);
        let jwk = serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(public_key),
            "d": d,
        });
        Credentials {
            client_id: format!("{name}@{tenant_host}/pcc"),
            client_secret: format!(
                "secret-token:conductorone.com:v1:{}",
                URL_SAFE_NO_PAD.encode(jwk.to_string())
            ),
            private_d: d,
            public_key,
        }
    }

    /// The same client id with a different key: a secret that ConductorOne would not accept.
    pub fn with_other_key(&self) -> Self {
        let tenant = self
            .client_id
            .split_once('@')
            .and_then(|(_, r)| r.split_once('/'))
            .map(|(h, _)| h.to_string())
            .unwrap_or_default();
        let name = self.client_id.split('@').next().unwrap_or_default();
        let mut other = Credentials::generate(name, &tenant);
        other.client_id = self.client_id.clone();
        other
    }
}
