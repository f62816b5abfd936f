//! Helpers of the one-shot commands (`sync`, and the provisioning commands): token intake and
//! the printed summary. The commands call the same `engine` functions as the controllers.

pub mod provision;
pub mod service;

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::engine::SyncReport;
use crate::settings::{self, MONDAY_API_KEY as TOKEN_ENV};

/// Why a token could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no token: set {TOKEN_ENV} or pass --token-file")]
    Missing,
    #[error("the token is empty (from {0})")]
    Empty(String),
    #[error("cannot read the token file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads the token from `--token-file` when given, else from `BATON_MONDAY_API_KEY`. Never from a
/// flag value: flags end up in shell history and process listings.
pub fn read_token(token_file: Option<&Path>) -> Result<SecretString, TokenError> {
    let (raw, from) = match token_file {
        Some(path) => {
            let raw = std::fs::read_to_string(path).map_err(|source| TokenError::File {
                path: path.to_path_buf(),
                source,
            })?;
            (SecretString::from(raw), path.display().to_string())
        }
        None => match std::env::var(TOKEN_ENV) {
            Ok(v) => (SecretString::from(v), TOKEN_ENV.to_string()),
            Err(_) => return Err(TokenError::Missing),
        },
    };
    settings::token_from_text(&raw).ok_or(TokenError::Empty(from))
}

/// Parses a byte size as Kubernetes writes quantities: `2Gi`, `1.5G`, `500Mi`, `300M`, `64k`,
/// or plain bytes. Binary suffixes are powers of 1024, decimal ones of 1000.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let factor: u64 = match suffix {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {suffix:?} (use bytes, k, M, G, T, Ki, Mi, Gi or Ti)"
            ));
        }
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 2Gi, 500M, 1048576)"))?;
    let bytes = value * factor as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?}: the size must be at least one byte"));
    }
    Ok(bytes as u64)
}

/// The one-screen summary printed after `monday-operator sync`.
pub fn sync_summary(r: &SyncReport) -> String {
    let c = &r.counts;
    let changes = match (r.grants_added, r.grants_removed) {
        (Some(a), Some(d)) => format!("+{a} / -{d} grants since the previous sync"),
        _ => "first sync in this file".to_string(),
    };
    format!(
        "Synced Monday.com account {name} ({id}{tier}) in {secs:.1}s (reading {read:.1}s)\n\
         \x20 users {users}, roles {roles}, teams {teams}, workspaces {ws}, boards {boards}\n\
         \x20 entitlements {ents}, grants {grants} ({changes})\n\
         \x20 requests {req}, complexity used {cx}, waited {wait:.1}s on rate limits\n\
         \x20 snapshot {path} ({bytes} bytes, sync {sync}, sha256 {sha})\n",
        name = r.account_name,
        id = r.account_id,
        tier = r
            .account_tier
            .as_deref()
            .map(|t| format!(", {t}"))
            .unwrap_or_default(),
        secs = r.duration.as_secs_f64(),
        read = r.read_duration.as_secs_f64(),
        users = c.users,
        roles = c.roles,
        teams = c.teams,
        ws = c.workspaces,
        boards = c.boards,
        ents = c.entitlements,
        grants = c.grants,
        req = r.requests,
        cx = r.complexity_used,
        wait = r.rate_limit_wait.as_secs_f64(),
        path = r.path.display(),
        bytes = r.bytes,
        sync = r.sync_id,
        sha = r.sha256,
    )
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_like_kubernetes_quantities() {
        assert_eq!(parse_size("2Gi"), Ok(2 << 30));
        assert_eq!(parse_size("1.5G"), Ok(1_500_000_000));
        assert_eq!(parse_size("500Mi"), Ok(500 << 20));
        assert_eq!(parse_size("64k"), Ok(64_000));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert!(parse_size("2GB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("Gi").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("-1Gi").is_err());
    }
}
