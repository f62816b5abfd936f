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
