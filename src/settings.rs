//! The hosted connector's settings as ConductorOne's set-up guide names them: the keys of its
//! Secret, which are also the environment variables of the one-shot commands and service mode.
//! One place for the names, the boolean spelling and how a token is read from text, so the Secret
//! reader and the command line cannot drift apart.

use secrecy::{ExposeSecret, SecretString};

/// The Monday.com API token.
pub const MONDAY_API_KEY: &str = "BATON_MONDAY_API_KEY";
/// Whether provisioning (grant, revoke, invite, deactivate) is allowed.
pub const PROVISIONING: &str = "BATON_PROVISIONING";
/// ConductorOne client id (service mode).
pub const CLIENT_ID: &str = "BATON_CLIENT_ID";
/// ConductorOne client secret (service mode).
pub const CLIENT_SECRET: &str = "BATON_CLIENT_SECRET";
/// `host[:port]` replacing the client id's host for the token URL and gRPC (service mode).
pub const C1_API_HOST: &str = "BATON_C1_API_HOST";
/// `host_id` sent to ConductorOne (service mode; default the hostname).
pub const HOST_ID: &str = "BATON_HOST_ID";

/// The spellings [`parse_go_bool`] accepts, for messages.
pub const GO_BOOL_SPELLINGS: &str = "1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False";

/// A value that is not one of Go's `strconv.ParseBool` spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a boolean: use one of {GO_BOOL_SPELLINGS} (quoted in YAML)")]
pub struct InvalidBool;

/// Parses a boolean the way Go's `strconv.ParseBool` (and so the Baton tools) does.
pub fn parse_go_bool(s: &str) -> Result<bool, InvalidBool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(InvalidBool),
    }
}

/// A token read from a Secret value, a file or the environment: surrounding whitespace (a
/// trailing newline from a file, most often) is dropped; Monday tokens never contain spaces.
/// `None` when nothing is left.
pub fn token_from_text(text: &SecretString) -> Option<SecretString> {
    let trimmed = text.expose_secret().trim();
    (!trimmed.is_empty()).then(|| SecretString::from(trimmed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn tokens_are_trimmed_and_never_empty() {
        let t = |s: &str| token_from_text(&SecretString::from(s.to_string()));
        assert_eq!(
            t("tok\n").map(|s| s.expose_secret().to_string()),
            Some("tok".into())
        );
        assert!(t(" \n\t").is_none());
    }
}
