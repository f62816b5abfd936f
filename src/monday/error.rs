//! Typed errors a user can act on.
//!
//! Messages are built from operation names, error codes, ids and the server's own error text
//! (truncated); never from request bodies or headers, so the token cannot leak through them.
//! Classification keys on `extensions.code` (or the legacy `error_code`), not on HTTP status alone.

use std::time::Duration;

use crate::reason::Reason;

/// One failure reported inside a mutation payload (`errors[]`), not as a GraphQL error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// The payload's error code, e.g. `CANNOT_UPDATE_SELF`, `USER_NOT_FOUND`, `ERROR`.
    pub code: String,
    /// The user the failure is about (bulk user mutations and team-owner mutations).
    pub user_id: Option<String>,
    /// The invitee the failure is about (`invite_users`).
    pub email: Option<String>,
    /// The server's explanation, if any.
    pub message: String,
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(id) = &self.user_id {
            write!(f, " for user {id}")?;
        }
        if let Some(email) = &self.email {
            write!(f, " for {email}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Everything the Monday client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MondayError {
    /// HTTP 401: the token is missing, malformed, revoked or regenerated.
    #[error("Monday rejected the API token (HTTP 401) during {operation}: check the token Secret")]
    InvalidToken { operation: &'static str },

    /// The token's user lacks the account permission (`USER_UNAUTHORIZED`, 403); admin-only
    /// mutations need an admin token.
    #[error(
        "the token's user is not allowed to run {operation} ({code}); an admin token may be required"
    )]
    InsufficientPermissions {
        operation: &'static str,
        code: String,
    },

    /// An OAuth token without the scope this operation needs.
    #[error("the OAuth token lacks scope {scope}, needed by {operation}")]
    MissingScope {
        operation: &'static str,
        scope: String,
    },

    /// `USER_ACCESS_DENIED`: viewers, deactivated users and unconfirmed emails cannot use the API.
    #[error(
        "Monday denied API access to the token's user during {operation} (USER_ACCESS_DENIED): the user may be a viewer, deactivated or unconfirmed"
    )]
    AccessDenied { operation: &'static str },

    /// An id that does not exist (or is not visible to the token).
    #[error("{operation}: not found ({code}{})", id.as_ref().map(|i| format!(", id {i}")).unwrap_or_default())]
    NotFound {
        operation: &'static str,
        code: String,
        id: Option<String>,
    },

    /// A rejected argument: usually a bug on our side or an id of the wrong kind.
    #[error("{operation}: invalid argument ({code}): {message}")]
    InvalidArgument {
        operation: &'static str,
        code: String,
        message: String,
    },

    /// HTTP 422 / `RecordInvalidException`, e.g. a board past 400 users or 100 teams.
    #[error("{operation}: record invalid ({code}): {message}")]
    RecordInvalid {
        operation: &'static str,
        code: String,
        message: String,
    },

    /// Throttled and the retry budget ran out before the limit lifted.
    #[error("{operation}: rate limited by Monday ({code}), retry budget exhausted{}", retry_after.map(|d| format!("; retry in {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        operation: &'static str,
        code: String,
        retry_after: Option<Duration>,
    },

    /// The account's daily call limit is spent; retrying before it resets only adds load.
    #[error("{operation}: Monday's daily API call limit is exhausted (DAILY_LIMIT_EXCEEDED){}", retry_after.map(|d| format!("; resets in {}s", d.as_secs())).unwrap_or_default())]
    DailyLimitExceeded {
        operation: &'static str,
        retry_after: Option<Duration>,
    },

    /// Network failures and timeouts that outlasted the retry budget.
    #[error("{operation}: Monday API unreachable ({cause}) after {attempts} attempts")]
    Unreachable {
        operation: &'static str,
        cause: &'static str,
        attempts: u32,
    },

    /// 5xx (or 423 locked) responses that outlasted the retry budget.
    #[error("{operation}: Monday API server error (HTTP {status}) after {attempts} attempts")]
    Server {
        operation: &'static str,
        status: u16,
        attempts: u32,
    },

    /// A response that is not the JSON shape we expect.
    #[error("{operation}: unexpected response from Monday: {detail}")]
    Protocol {
        operation: &'static str,
        detail: String,
    },

    /// Any other GraphQL error code (e.g. `undefinedField`, `InvalidVersionException`).
    #[error("{operation}: Monday API error {code}: {message}")]
    Api {
        operation: &'static str,
        code: String,
        message: String,
    },

    /// A per-user failure from a mutation payload, for callers that turn them into errors.
    #[error("{operation}: {error}")]
    User {
        operation: &'static str,
        error: UserError,
    },

    /// The client could not be built (bad URL, TLS set-up, token with illegal header bytes).
    #[error("invalid Monday client configuration: {0}")]
    Config(String),
}

impl MondayError {
    /// The reason for conditions, Events and metric labels (its class says whether a retry
    /// may help).
    pub fn reason(&self) -> Reason {
        match self {
            Self::InvalidToken { .. } => Reason::InvalidToken,
            Self::InsufficientPermissions { .. } => Reason::InsufficientPermissions,
            Self::MissingScope { .. } => Reason::MissingScope,
            Self::AccessDenied { .. } => Reason::AccessDenied,
            Self::NotFound { .. } => Reason::NotFound,
            Self::InvalidArgument { .. } => Reason::InvalidArgument,
            Self::RecordInvalid { .. } => Reason::RecordInvalid,
            Self::RateLimited { .. } => Reason::RateLimited,
            Self::DailyLimitExceeded { .. } => Reason::DailyLimitExceeded,
            Self::Unreachable { .. } => Reason::Unreachable,
            Self::Server { .. } => Reason::ServerError,
            Self::Protocol { .. } => Reason::ProtocolError,
            Self::Api { .. } => Reason::ApiError,
            Self::User { .. } => Reason::UserError,
            Self::Config(_) => Reason::InvalidConfiguration,
        }
    }

    /// Whether trying again later (next reconcile) may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        self.reason().is_transient()
    }

    /// How long Monday asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. }
            | Self::DailyLimitExceeded { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Keeps server-provided text short and on one line in conditions and logs.
pub(crate) fn clip(message: &str) -> String {
    const MAX: usize = 200;
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX {
        one_line
    } else {
        let mut s: String = one_line.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_camel_case_and_transience_matches() {
        let e = MondayError::RateLimited {
            operation: "Users",
            code: "COMPLEXITY_BUDGET_EXHAUSTED".into(),
            retry_after: Some(Duration::from_secs(22)),
        };
        assert_eq!(e.reason(), "RateLimited");
        assert!(e.is_transient());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(22)));
        assert!(e.to_string().contains("retry in 22s"));
        let e = MondayError::InvalidToken { operation: "Users" };
        assert_eq!(e.reason(), "InvalidToken");
        assert!(!e.is_transient());
    }

    #[test]
    fn clip_bounds_length_and_strips_newlines() {
        let long = "x\n".repeat(300);
        let c = clip(&long);
        assert!(!c.contains('\n'));
        assert!(c.chars().count() <= 201);
    }
}
