//! Typed errors of the ConductorOne client. Each has a CamelCase [`reason`](C1Error::reason)
//! for status conditions and metrics, and the gRPC code the SDK would see
//! ([`code`](C1Error::code)), which decides retries exactly as the SDK's do. No error carries a
//! token, the client secret or a request body.

use super::credentials::{ClientIdError, ClientSecretError};
use crate::reason::Reason;

/// Why the token endpoint gave no token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The request did not get an answer (DNS, connect, TLS, timeout).
    #[error("cannot reach the ConductorOne token endpoint: {0}")]
    Unreachable(String),
    /// The endpoint answered with a non-200 status (SDK: `Unauthenticated "failed to get token"`).
    #[error("the ConductorOne token endpoint refused the client credentials: HTTP {status}{}", .error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Rejected { status: u16, error: Option<String> },
    /// A 200 whose body is not a usable token.
    #[error("the ConductorOne token endpoint answered without a usable token: {0}")]
    Malformed(&'static str),
}

/// Everything the ConductorOne client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum C1Error {
    #[error("invalid ConductorOne client id: {0}")]
    ClientId(#[from] ClientIdError),
    #[error("invalid ConductorOne client secret: {0}")]
    ClientSecret(#[from] ClientSecretError),
    /// A setting that cannot work (bad host override, unreadable `SSL_CERT_FILE`, …).
    #[error("ConductorOne client configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Token(#[from] TokenError),
    /// ConductorOne answered the RPC with a gRPC error status.
    #[error("ConductorOne {method} failed: {code:?}: {message}")]
    Rpc {
        method: &'static str,
        code: tonic::Code,
        message: String,
    },
    /// A local file (the upload) could not be read.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl C1Error {
    /// The gRPC code the SDK would report for this failure: token problems surface as
    /// `Unauthenticated` (non-200 or empty token) or `Unavailable` (no answer), as grpc-go turns a
    /// failed per-RPC credential into.
    pub fn code(&self) -> tonic::Code {
        match self {
            C1Error::ClientId(_) | C1Error::ClientSecret(_) | C1Error::Config(_) => {
                tonic::Code::InvalidArgument
            }
            C1Error::Token(TokenError::Rejected { .. }) => tonic::Code::Unauthenticated,
            C1Error::Token(TokenError::Malformed("empty access token")) => {
                tonic::Code::Unauthenticated
            }
            C1Error::Token(_) => tonic::Code::Unavailable,
            C1Error::Rpc { code, .. } => *code,
            C1Error::Io { .. } => tonic::Code::Unknown,
        }
    }

    /// CamelCase reason for conditions, Events and metrics.
    pub fn reason(&self) -> Reason {
        match self {
            C1Error::ClientId(_) => Reason::InvalidClientId,
            C1Error::ClientSecret(_) => Reason::InvalidClientSecret,
            C1Error::Config(_) => Reason::InvalidConfiguration,
            C1Error::Token(TokenError::Rejected { status, .. }) if *status >= 500 => {
                Reason::TokenEndpointError
            }
            C1Error::Token(TokenError::Rejected { .. }) => Reason::InvalidCredentials,
            C1Error::Token(TokenError::Unreachable(_)) => Reason::Unreachable,
            C1Error::Token(TokenError::Malformed(_)) => Reason::TokenEndpointError,
            C1Error::Rpc { code, .. } => match code {
                tonic::Code::Unauthenticated => Reason::Unauthenticated,
                tonic::Code::PermissionDenied => Reason::PermissionDenied,
                tonic::Code::Unavailable => Reason::Unreachable,
                tonic::Code::DeadlineExceeded => Reason::Timeout,
                tonic::Code::InvalidArgument => Reason::Rejected,
                tonic::Code::NotFound => Reason::NotFound,
                tonic::Code::FailedPrecondition => Reason::FailedPrecondition,
                tonic::Code::Unimplemented => Reason::Unimplemented,
                tonic::Code::ResourceExhausted => Reason::RateLimited,
                _ => Reason::ServerError,
            },
            C1Error::Io { .. } => Reason::FileError,
        }
    }

    /// Whether a start-up `Hello` failing with this may be retried (the SDK's
    /// `isRetryableHelloError`): everything except credentials, permission, malformed,
    /// unimplemented, precondition and not-found answers.
    pub fn hello_retryable(&self) -> bool {
        !matches!(
            self.code(),
            tonic::Code::Unauthenticated
                | tonic::Code::PermissionDenied
                | tonic::Code::InvalidArgument
                | tonic::Code::Unimplemented
                | tonic::Code::FailedPrecondition
                | tonic::Code::NotFound
        )
    }

    pub(crate) fn rpc(method: &'static str, status: &tonic::Status) -> Self {
        C1Error::Rpc {
            method,
            code: status.code(),
            message: bounded(status.message(), 300),
        }
    }
}

/// A transport error as text, without URLs (ours carry no secret, but stay short).
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    match causes.last() {
        Some(root) => format!("{kind}: {}", bounded(root, 200)),
        None => kind.to_string(),
    }
}

/// At most `max` characters of `s`.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}
