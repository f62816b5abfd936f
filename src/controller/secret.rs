//! Reading the connector's Secret: the token (as a [`SecretString`] from the first byte) and the
//! old set-up's `BATON_PROVISIONING` flag.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::SecretString;

/// Keys of the hosted-connector Secret that this operator does not need.
pub const IGNORED_KEYS: &[&str] = &["BATON_CLIENT_ID", "BATON_CLIENT_SECRET"];
/// Key of the provisioning flag in the hosted-connector Secret.
pub const PROVISIONING_KEY: &str = "BATON_PROVISIONING";

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

/// A `BATON_PROVISIONING` value that is not one of Go's `strconv.ParseBool` spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBool;

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
    /// CamelCase reason for the `Connected` condition.
    pub fn reason(&self) -> &'static str {
        match self {
            SecretProblem::NotFound { .. } => "SecretNotFound",
            SecretProblem::KeyMissing { .. } => "SecretKeyMissing",
            SecretProblem::Empty { .. } => "EmptyToken",
            SecretProblem::NotText { .. } => "MalformedToken",
        }
    }
}

/// Reasons this module produces (so callers can tell a Secret problem from a Monday one).
pub const REASONS: &[&str] = &[
    "SecretNotFound",
    "SecretKeyMissing",
    "EmptyToken",
    "MalformedToken",
];

/// Parses a boolean the way Go's `strconv.ParseBool` (and so the Baton tools) does.
pub fn parse_go_bool(s: &str) -> Result<bool, InvalidBool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(InvalidBool),
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
    // A token pasted from a file often ends with a newline; Monday tokens never contain spaces.
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(SecretProblem::Empty {
            name: name.into(),
            key: key.into(),
        });
    }
    let token = SecretString::from(trimmed.to_string());
    let provisioning = match data.get(PROVISIONING_KEY) {
        None => Ok(None),
        Some(v) => std::str::from_utf8(&v.0)
            .map_err(|_| InvalidBool)
            .and_then(|s| parse_go_bool(s.trim()))
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
    fn go_bool_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Ok(false));
        }
        for bad in ["yes", "tRUE", "", "on", "2"] {
            assert_eq!(parse_go_bool(bad), Err(InvalidBool));
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
        let r = |s: Option<Secret>| interpret(s, "s", "K").err().map(|e| e.reason());
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
