//! The one-shot provisioning commands (`grant`, `revoke`, `create-account`, `deactivate`,
//! `reactivate`) for scripting and break-glass use. They call `engine::provision`, the same
//! functions as the MondayAccessGrant controller.
//!
//! Exit codes: [`EXIT_OK`] (done, or already so), [`EXIT_FAILED`] (Monday refused or could not be
//! reached; the message says why), [`EXIT_USAGE`] (bad arguments or no token; clap uses it too).

use std::path::PathBuf;

use secrecy::SecretString;

use crate::engine::provision::{self, BaseRole, Entitlement, GrantOptions, Principal, RevokeMode};
use crate::engine::{Connection, Session};
use crate::reason::Reason;

/// Done, or nothing to do because Monday was already in the asked state.
pub const EXIT_OK: i32 = 0;
/// The operation failed; nothing is reported as done that Monday does not confirm.
pub const EXIT_FAILED: i32 = 1;
/// Invalid arguments (also clap's code for unknown flags) or no token.
pub const EXIT_USAGE: i32 = 2;

/// Where to reach Monday and as whom.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// Monday.com GraphQL endpoint.
    #[arg(long, default_value = crate::monday::DEFAULT_API_URL)]
    pub api_url: String,
    /// Read the token from this file instead of BATON_MONDAY_API_KEY.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

/// Exactly one principal.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct PrincipalArgs {
    /// The user's email.
    #[arg(long)]
    pub user_email: Option<String>,
    /// The user's Monday id.
    #[arg(long)]
    pub user_id: Option<String>,
    /// A team id (boards and workspaces only; -1 = everyone).
    #[arg(long, allow_hyphen_values = true)]
    pub team_id: Option<String>,
}

/// A user, by email or id.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct UserArgs {
    /// The user's email.
    #[arg(long)]
    pub user_email: Option<String>,
    /// The user's Monday id.
    #[arg(long)]
    pub user_id: Option<String>,
}

/// The provisioning subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ProvisionCommand {
    /// Grant an entitlement (idempotent). The token comes from BATON_MONDAY_API_KEY or
    /// --token-file. Exit 0 done or already granted, 1 failed, 2 usage.
    Grant {
        /// Baton entitlement ID, e.g. board:42:subscriber, role:viewer:assigned, account:active.
        #[arg(long)]
        entitlement: String,
        #[command(flatten)]
        principal: PrincipalArgs,
        /// Invite the email when no account has it.
        #[arg(long)]
        create_account: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke exactly one Baton grant (absent = success): an owner grant keeps the
    /// membership/subscription, a membership/subscription of an owner also ends the ownership
    /// (printed), a base role falls back to viewer. With --previous-role, undo an earlier grant
    /// instead: put back what `grant` printed as previous (`none` = nothing).
    Revoke {
        /// Baton entitlement ID.
        #[arg(long)]
        entitlement: String,
        #[command(flatten)]
        principal: PrincipalArgs,
        /// Undo a grant: restore the base role for role grants, member/subscriber for owner grants
        /// that upgraded a membership (as printed by `grant`), or `none` when there was nothing.
        #[arg(long)]
        previous_role: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Invite an email (pending until accepted); nothing happens when the account exists.
    CreateAccount {
        /// The email to invite.
        #[arg(long)]
        email: String,
        /// Base role of the new account.
        #[arg(long, default_value = "member", value_parser = ["admin", "member", "viewer", "guest"])]
        role: String,
        #[command(flatten)]
        target: Target,
    },
    /// Deactivate an account (pending invitations cannot be deactivated).
    Deactivate {
        #[command(flatten)]
        user: UserArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Reactivate a deactivated account.
    Reactivate {
        #[command(flatten)]
        user: UserArgs,
        #[command(flatten)]
        target: Target,
    },
}

/// A failure with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Usage(String),
    #[error("{message} (reason {reason})")]
    Failed { reason: Reason, message: String },
}

impl CommandError {
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Failed { .. } => EXIT_FAILED,
        }
    }
}

impl From<provision::ProvisionError> for CommandError {
    fn from(e: provision::ProvisionError) -> Self {
        CommandError::Failed {
            reason: e.reason(),
            message: e.to_string(),
        }
    }
}

fn session(target: &Target) -> Result<Session, CommandError> {
    let token: SecretString = super::read_token(target.token_file.as_deref())
        .map_err(|e| CommandError::Usage(e.to_string()))?;
    Ok(Session::open(&Connection {
        api_url: target.api_url.clone(),
        token,
    })?)
}

fn entitlement(s: &str) -> Result<Entitlement, CommandError> {
    s.parse()
        .map_err(|e: provision::EntitlementParseError| CommandError::Usage(e.to_string()))
}

fn principal(p: &PrincipalArgs) -> Result<Principal, CommandError> {
    provision::principal_from(
        p.user_email.as_deref(),
        p.user_id.as_deref(),
        p.team_id.as_deref(),
    )
    .map_err(|why| CommandError::Usage(format!("invalid principal: {why}")))
}

fn user(u: &UserArgs) -> Result<Principal, CommandError> {
    provision::principal_from(u.user_email.as_deref(), u.user_id.as_deref(), None)
        .map_err(|why| CommandError::Usage(format!("invalid user: {why}")))
}

/// Runs one command and returns the line to print on success.
pub async fn execute(cmd: &ProvisionCommand) -> Result<String, CommandError> {
    match cmd {
        ProvisionCommand::Grant {
            entitlement: e,
            principal: p,
            create_account,
            target,
        } => {
            let (e, p) = (entitlement(e)?, principal(p)?);
            let out = session(target)?
                .grant(
                    &e,
                    &p,
                    GrantOptions {
                        create_account: *create_account,
                    },
                )
                .await?;
            let mut line = if out.pre_existing {
                format!("already granted: {}", out.grant_id)
            } else {
                format!("granted: {}", out.grant_id)
            };
            if out.invited {
                line.push_str(" (account invited; pending until accepted)");
            }
            if let Some(prev) = out.previous.filter(|_| !out.pre_existing) {
                line.push_str(&format!(
                    "\nprevious: {prev} (revoke with --previous-role {prev} to restore it)"
                ));
            }
            Ok(line)
        }
        ProvisionCommand::Revoke {
            entitlement: e,
            principal: p,
            previous_role,
            target,
        } => {
            let (e, p) = (entitlement(e)?, principal(p)?);
            // With --previous-role, undo a grant made earlier (as MondayAccessGrant expiry
            // does; `none` = the principal had nothing); without, Baton's exact revoke.
            let mode = match previous_role.as_deref() {
                Some("none") => RevokeMode::RestorePrevious(None),
                Some(prev) => RevokeMode::RestorePrevious(Some(prev)),
                None => RevokeMode::ExactGrant,
            };
            let out = session(target)?.revoke(&e, &p, mode).await?;
            let mut line = match (out.already_absent, &out.restored) {
                (true, _) => format!("already absent: {e} for {p}"),
                (false, Some(r)) if previous_role.is_some() => {
                    format!("revoked: {e} for {p}; restored {r}")
                }
                (false, Some(r)) => format!("revoked: {e} for {p}; kept {r}"),
                (false, None) => format!("revoked: {e} for {p}"),
            };
            if !out.also_removed.is_empty() {
                line.push_str(&format!(
                    "\nalso removed (Monday cannot keep them without it): {}",
                    out.also_removed.join(", ")
                ));
            }
            Ok(line)
        }
        ProvisionCommand::CreateAccount {
            email,
            role,
            target,
        } => {
            let role = BaseRole::from_slug(role)
                .ok_or_else(|| CommandError::Usage(format!("unknown role {role}")))?;
            let out = session(target)?.invite(email, role).await?;
            Ok(if out.already_existed {
                format!(
                    "account exists: user {} ({:?})",
                    out.user.id, out.user.status
                )
            } else {
                format!(
                    "invited: user {} as {} (pending until accepted)",
                    out.user.id,
                    role.slug()
                )
            })
        }
        ProvisionCommand::Deactivate { user: u, target } => {
            let who = user(u)?;
            let out = session(target)?.deactivate(&who).await?;
            Ok(if out.already {
                format!("already deactivated: user {}", out.user_id)
            } else {
                format!("deactivated: user {}", out.user_id)
            })
        }
        ProvisionCommand::Reactivate { user: u, target } => {
            let who = user(u)?;
            let out = session(target)?.reactivate(&who).await?;
            Ok(if out.already {
                format!("already active: user {}", out.user_id)
            } else {
                format!("reactivated: user {}", out.user_id)
            })
        }
    }
}

/// Entry point for `main`: runs the command on a fresh runtime, prints, returns the exit code.
pub fn run(cmd: ProvisionCommand) -> i32 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return EXIT_FAILED;
        }
    };
    match runtime.block_on(execute(&cmd)) {
        Ok(line) => {
            println!("{line}");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
