//! Reading the connector's Secret: the token (as a [`SecretString`] from the first byte) and the
//! old set-up's `BATON_PROVISIONING` flag.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::SecretString;

use crate::reason::Reason;
use crate::settings::{self, InvalidBool};

/// Keys of the hosted-connector Secret that this operator does not need.
pub const IGNORED_KEYS: &[&str] = &[settings::CLIENT_ID, settings::CLIENT_SECRET];

/// What a usable Secret gave us.
pub struct SecretInput {
    pub token: SecretString,
    /// Changes on every edit of the Secret; a new value triggers a sync (rotation).
    pub resource_version: String,
    /// `BATON_PROVISIONING`: absent, a boolean, or a value that is not a boolean.
    pub provisioning: Result<Option<bool>, InvalidBool>,
    /// Keys present that we ignore (see [`IGNORED_KEYS`]).
    pub ignored_keys: Vec<&'static str>,
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
    let ignored_keys = IGNORED_KEYS
        .iter()
        .copied()
        .filter(|k| data.contains_key(*k))
        .collect();
    Ok(SecretInput {
        token,
        resource_version: secret.metadata.resource_version.unwrap_or_default(),
        provisioning,
        ignored_keys,
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
        assert_eq!(
            got.ignored_keys,
            vec!["BATON_CLIENT_ID", "BATON_CLIENT_SECRET"]
        );
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
