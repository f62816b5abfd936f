//! The client id and client secret ConductorOne issues for a connector, parsed as the SDK does
//! (`pkg/ugrpc` `parseClientID`, `pkg/crypto` `ParseClientSecret`), with a typed error per way
//! they can be wrong.
//!
//! The secret is an Ed25519 private key. It lives in a [`ed25519_dalek::SigningKey`], which
//! zeroizes itself on drop, and [`ClientSecret`] has no `Display` and a `Debug` that prints
//! nothing of it: it can only be used to sign.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// `name@host/suffix`: who we are (`iss`, `sub`) and where ConductorOne is (`host`, maybe with a
/// port).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientId {
    full: String,
    name: String,
    host: String,
}

/// Why a client id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdError {
    #[error(
        "the client id has no '@': expected <name>@<tenant host>/<suffix> as ConductorOne shows it"
    )]
    NoAt,
    #[error(
        "the client id has no '/' after the host: expected <name>@<tenant host>/<suffix> as ConductorOne shows it"
    )]
    NoSlash,
    #[error("the client id names no host between '@' and '/'")]
    EmptyHost,
    #[error("the client id contains whitespace or control characters")]
    BadCharacters,
}

impl FromStr for ClientId {
    type Err = ClientIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ClientIdError::BadCharacters);
        }
        let (name, rest) = s.split_once('@').ok_or(ClientIdError::NoAt)?;
        let (host, _) = rest.split_once('/').ok_or(ClientIdError::NoSlash)?;
        if host.is_empty() {
            return Err(ClientIdError::EmptyHost);
        }
        Ok(ClientId {
            full: s.to_string(),
            name: name.to_string(),
            host: host.to_string(),
        })
    }
}

impl ClientId {
    /// The whole id, as sent in `iss`, `sub` and the `client_id` form field.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The part before `@`: the first word of the gRPC user agent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tenant host from the id, with its port if it has one (`acme.conductor.one`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The JWT audience: the id's host without any port (even when `BATON_C1_API_HOST` sends
    /// the request elsewhere, as in the SDK).
    pub fn audience(&self) -> &str {
        strip_port(&self.host)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({:?})", self.full)
    }
}

/// `host:port` → `host` as Go's `net.SplitHostPort` would (`[::1]:443` → `::1`); anything it
/// cannot split is returned whole.
pub fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[')
        && let Some((inner, port)) = rest.split_once("]:")
        && !port.is_empty()
    {
        return inner;
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && !port.is_empty() => h,
        _ => host,
    }
}

/// The client secret: an Ed25519 key that signs the token request's assertion.
pub struct ClientSecret {
    key: SigningKey,
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// Why a client secret was refused. No variant carries any part of the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientSecretError {
    #[error(
        "the client secret is not of the form secret-token:conductorone.com:v1:<key> (it has {parts} ':'-separated parts, 4 expected)"
    )]
    Shape { parts: usize },
    #[error("the client secret has version {0:?}; only v1 secrets are supported")]
    Version(String),
    #[error("the client secret's key is not unpadded base64url")]
    Base64,
    #[error("the client secret's key is not a JSON Web Key")]
    Json,
    #[error("the client secret's key is a public key; the secret must hold the private key (d)")]
    NotPrivate,
    #[error(
        "the client secret's key is {kty}/{crv}; ConductorOne client secrets are Ed25519 (OKP) keys"
    )]
    NotEd25519 { kty: String, crv: String },
    #[error("the client secret's key is malformed: {0}")]
    BadKey(&'static str),
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    crv: String,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    d: Option<SecretString>,
}

impl ClientSecret {
    /// Parses `secret-token:conductorone.com:v1:<base64url JWK>`.
    pub fn parse(secret: &SecretString) -> Result<Self, ClientSecretError> {
        let text = secret.expose_secret().trim();
        let parts: Vec<&str> = text.splitn(4, ':').collect();
        if parts.len() != 4 {
            return Err(ClientSecretError::Shape { parts: parts.len() });
        }
        if parts[2] != "v1" {
            // The version tag is not secret; cap it in case a key was pasted there by mistake.
            let shown: String = parts[2].chars().take(8).collect();
            return Err(ClientSecretError::Version(shown));
        }
        let json = secrecy::SecretBox::new(Box::new(
            URL_SAFE_NO_PAD
                .decode(parts[3])
                .map_err(|_| ClientSecretError::Base64)?,
        ));
        let jwk: Jwk =
            serde_json::from_slice(json.expose_secret()).map_err(|_| ClientSecretError::Json)?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(ClientSecretError::NotEd25519 {
                kty: jwk.kty.chars().take(16).collect(),
                crv: jwk.crv.chars().take(16).collect(),
            });
        }
        let d = jwk.d.ok_or(ClientSecretError::NotPrivate)?;
        let x = jwk
            .x
            .ok_or(ClientSecretError::BadKey("the public key (x) is missing"))?;
        let seed = secrecy::SecretBox::new(Box::new(
            URL_SAFE_NO_PAD
                .decode(d.expose_secret())
                .map_err(|_| ClientSecretError::BadKey("d is not unpadded base64url"))?,
        ));
        let seed: &[u8; 32] = seed
            .expose_secret()
            .as_slice()
            .try_into()
            .map_err(|_| ClientSecretError::BadKey("d is not 32 bytes"))?;
        let key = SigningKey::from_bytes(seed);
        let x = URL_SAFE_NO_PAD
            .decode(x)
            .map_err(|_| ClientSecretError::BadKey("x is not unpadded base64url"))?;
        if key.verifying_key().as_bytes().as_slice() != x.as_slice() {
            return Err(ClientSecretError::BadKey(
                "the public key (x) does not belong to the private key (d)",
            ));
        }
        Ok(ClientSecret { key })
    }

    /// Ed25519 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The public half (what ConductorOne verifies with); not secret.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret_for(seed: [u8; 32], tamper_x: bool) -> SecretString {
        let key = SigningKey::from_bytes(&seed);
        let mut x = key.verifying_key().to_bytes();
        if tamper_x {
            x[0] ^= 1;
        }
        let jwk = serde_json::json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(x), "d": URL_SAFE_NO_PAD.encode(seed),
        });
        SecretString::from(format!(
            "secret-token:conductorone.com:v1:{}",
            URL_SAFE_NO_PAD.encode(jwk.to_string())
        ))
    }

    #[test]
    fn client_ids_split_like_the_sdk() {
        let id: ClientId = "c1ref-03dccb81@acme.conductor.one/pcc"
            .parse()
            .expect("valid");
        assert_eq!(id.name(), "c1ref-03dccb81");
        assert_eq!(id.host(), "acme.conductor.one");
        assert_eq!(id.audience(), "acme.conductor.one");
        let id: ClientId = "n@h.example:8443/x/y".parse().expect("valid");
        assert_eq!(id.host(), "h.example:8443");
        assert_eq!(id.audience(), "h.example");
        assert_eq!("nohost".parse::<ClientId>(), Err(ClientIdError::NoAt));
        assert_eq!("a@b".parse::<ClientId>(), Err(ClientIdError::NoSlash));
        assert_eq!("a@/x".parse::<ClientId>(), Err(ClientIdError::EmptyHost));
        assert_eq!(
            "a b@h/x".parse::<ClientId>(),
            Err(ClientIdError::BadCharacters)
        );
    }

    #[test]
    fn ports_are_stripped_like_go() {
        assert_eq!(strip_port("h:1"), "h");
        assert_eq!(strip_port("h"), "h");
        assert_eq!(strip_port("[::1]:443"), "::1");
        assert_eq!(strip_port("::1"), "::1");
    }

    #[test]
    fn secrets_parse_and_never_print() {
        let s = secret_for([7; 32], false);
        let parsed = ClientSecret::parse(&s).expect("valid");
        assert_eq!(
            parsed.public_key(),
            SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes()
        );
        assert_eq!(format!("{parsed:?}"), "ClientSecret(<redacted>)");
    }

    #[test]
    fn every_malformed_secret_has_its_error() {
        let p = |s: &str| ClientSecret::parse(&SecretString::from(s.to_string())).map(drop);
        assert_eq!(p("abc"), Err(ClientSecretError::Shape { parts: 1 }));
        assert_eq!(
            p("secret-token:conductorone.com:v2:x"),
            Err(ClientSecretError::Version("v2".into()))
        );
        assert_eq!(
            p("secret-token:conductorone.com:v1:***"),
            Err(ClientSecretError::Base64)
        );
        let enc = |v: serde_json::Value| {
            format!(
                "secret-token:conductorone.com:v1:{}",
                URL_SAFE_NO_PAD.encode(v.to_string())
            )
        };
        assert_eq!(
            p(&format!(
                "secret-token:conductorone.com:v1:{}",
                URL_SAFE_NO_PAD.encode("nope")
            )),
            Err(ClientSecretError::Json)
        );
        assert_eq!(
            p(&enc(
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a", "d": "b"})
            )),
            Err(ClientSecretError::NotEd25519 {
                kty: "EC".into(),
                crv: "P-256".into()
            })
        );
        assert_eq!(
            p(&enc(
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"})
            )),
            Err(ClientSecretError::NotPrivate)
        );
        let err = ClientSecret::parse(&secret_for([9; 32], true)).expect_err("tampered");
        assert!(matches!(err, ClientSecretError::BadKey(_)), "{err}");
    }
}
