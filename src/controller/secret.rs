//! Reading the connector's Secret: the token (as a [`SecretString`] from the first byte), the
//! set-up guide's `BATON_PROVISIONING` flag, and the ConductorOne client id and secret of service
//! mode (the secret, too, a [`SecretString`] from the first byte).

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::SecretString;

use crate::reason::Reason;
use crate::settings::{self, InvalidBool};

/// What a usable Secret gave us.
pub struct SecretInput {
    pub token: SecretString,
    /// Changes on every edit of the Secret; a new value triggers a sync (rotation).
    pub resource_version: String,
    /// `BATON_PROVISIONING`: absent, a boolean, or a value that is not a boolean.
    pub provisioning: Result<Option<bool>, InvalidBool>,
    /// `BATON_CLIENT_ID` / `BATON_CLIENT_SECRET`, as far as present.
    pub conductor_one: C1Keys,
}

/// The ConductorOne credentials of a Secret (either may be missing; service mode decides).
#[derive(Clone, Default)]
pub struct C1Keys {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// The Secret they came from, and its version (a rotation restarts service mode).
    pub secret: String,
    pub resource_version: String,
}

impl std::fmt::Debug for C1Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("C1Keys")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.is_some())
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// The ConductorOne keys of a Secret's data (text, trimmed; empty counts as missing).
fn c1_keys(
    data: &std::collections::BTreeMap<String, k8s_openapi::ByteString>,
    secret: &str,
    resource_version: &str,
) -> C1Keys {
    let text = |k: &str| {
        data.get(k)
            .and_then(|v| std::str::from_utf8(&v.0).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    C1Keys {
        client_id: text(settings::CLIENT_ID),
        client_secret: text(settings::CLIENT_SECRET).map(SecretString::from),
        secret: secret.to_string(),
        resource_version: resource_version.to_string(),
    }
}

/// The ConductorOne keys of Secret `name` (service mode's `spec.conductorOne.secretName`).
pub async fn read_c1_keys(
    api: &Api<Secret>,
    name: &str,
) -> Result<Result<C1Keys, SecretProblem>, kube::Error> {
    let Some(secret) = api.get_opt(name).await? else {
        return Ok(Err(SecretProblem::NotFound { name: name.into() }));
    };
    let rv = secret.metadata.resource_version.unwrap_or_default();
    Ok(Ok(c1_keys(&secret.data.unwrap_or_default(), name, &rv)))
}

/// Why a Secret cannot be used. Each variant is a `Connected` condition reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretProblem {
    #[error("Secret {name} not found in this namespace: create it or fix spec.secretRef.name")]
    NotFound { name: String },
    #[error("Secret {name} has no key {key}: add it or set spec.secretRef.key")]
    KeyMissing { name: String, key: String },
    #[error("key {key} of Secret {name} is empty: put a Monday.com API token in it")]
    Empty { name: String, key: String },
    #[error("key {key} of Secret {name} is not UTF-8 text: put a Monday.com API token in it")]
    NotText { name: String, key: String },
}

impl SecretProblem {
    /// The reason for the `Connected` condition.
    pub fn reason(&self) -> Reason {
        match self {
            SecretProblem::NotFound { .. } => Reason::SecretNotFound,
            SecretProblem::KeyMissing { .. } => Reason::SecretKeyMissing,
            SecretProblem::Empty { .. } => Reason::EmptyToken,
            SecretProblem::NotText { .. } => Reason::MalformedToken,
        }
    }
}

/// Turns a fetched Secret into [`SecretInput`]; pure so it is unit-tested.
pub fn interpret(
    secret: Option<Secret>,
    name: &str,
    key: &str,
) -> Result<SecretInput, SecretProblem> {
    let secret = secret.ok_or_else(|| SecretProblem::NotFound { name: name.into() })?;
    let data = secret.data.unwrap_or_default();
    let raw = data.get(key).ok_or_else(|| SecretProblem::KeyMissing {
        name: name.into(),
        key: key.into(),
    })?;
    let text = std::str::from_utf8(&raw.0).map_err(|_| SecretProblem::NotText {
        name: name.into(),
        key: key.into(),
    })?;
    let token =
        settings::token_from_text(&SecretString::from(text.to_string())).ok_or_else(|| {
            SecretProblem::Empty {
                name: name.into(),
                key: key.into(),
            }
        })?;
    let provisioning = match data.get(settings::PROVISIONING) {
        None => Ok(None),
        Some(v) => std::str::from_utf8(&v.0)
            .map_err(|_| InvalidBool)
            .and_then(|s| settings::parse_go_bool(s.trim()))
            .map(Some),
    };
    let resource_version = secret.metadata.resource_version.unwrap_or_default();
    Ok(SecretInput {
        token,
        conductor_one: c1_keys(&data, name, &resource_version),
        resource_version,
        provisioning,
    })
}

/// Reads the referenced Secret with one GET (no cache: Secret data never sits in operator memory
/// longer than a sync needs it).
pub async fn read(
    api: &Api<Secret>,
    name: &str,
    key: &str,
) -> Result<Result<SecretInput, SecretProblem>, kube::Error> {
    let secret = api.get_opt(name).await?;
    Ok(interpret(secret, name, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use secrecy::ExposeSecret;

    fn secret(pairs: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn seed_secret_works_unchanged() {
        let s = secret(&[
            ("BATON_CLIENT_ID", b"id"),
            ("BATON_CLIENT_SECRET", b"sec"),
            ("BATON_MONDAY_API_KEY", b"tok\n"),
            ("BATON_PROVISIONING", b"true"),
        ]);
        let got = interpret(Some(s), "s", "BATON_MONDAY_API_KEY").expect("usable");
        assert_eq!(got.token.expose_secret(), "tok");
        assert_eq!(got.provisioning, Ok(Some(true)));
        assert_eq!(got.conductor_one.client_id.as_deref(), Some("id"));
        assert_eq!(
            got.conductor_one
                .client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_string()),
            Some("sec".into())
        );
        assert!(!format!("{:?}", got.conductor_one).contains("sec\""));
    }

    #[test]
    fn problems_have_reasons() {
        let r = |s: Option<Secret>| interpret(s, "s", "K").err().map(|e| e.reason().as_str());
        assert_eq!(r(None), Some("SecretNotFound"));
        assert_eq!(r(Some(secret(&[("X", b"a")]))), Some("SecretKeyMissing"));
        assert_eq!(r(Some(secret(&[("K", b" \n")]))), Some("EmptyToken"));
        assert_eq!(
            r(Some(secret(&[("K", &[0xff, 0xfe])]))),
            Some("MalformedToken")
        );
        let bad = interpret(
            Some(secret(&[("K", b"tok"), ("BATON_PROVISIONING", b"yes")])),
            "s",
            "K",
        )
        .expect("usable");
        assert_eq!(bad.provisioning, Err(InvalidBool));
    }
}
