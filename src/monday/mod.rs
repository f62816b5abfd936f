//! Monday.com GraphQL client: transport, pacing, retries, typed errors (no Kubernetes, no Baton).
//!
//! The sync engine builds one [`Client`] per connector and calls the typed reads
//! ([`Client::account`], [`Client::all_users`], [`Client::all_teams`], [`Client::all_workspaces`],
//! [`Client::all_boards`]) and mutations; [`Client::stats`] feeds telemetry.

pub mod client;
mod envelope;
pub mod error;
pub mod lookups;
mod mutations;
mod pacing;
pub mod queries;
mod reads;
pub mod types;

pub use client::{
    API_VERSION, Client, ClientConfig, ClientObserver, ClientStats, DEFAULT_API_URL, PageSizes,
    RetryPolicy,
};
pub use error::{MondayError, UserError};
pub use lookups::{BoardAccess, TeamAccess, UserSummary, WorkspaceList};
pub use mutations::{CreatedTeam, MAX_BULK_IDS};
pub use types::{
    Account, AccountInfo, Board, BulkResult, Complexity, Id, InviteResult, Me, Plan, Role,
    StateFilter, SubscriberKind, Team, TeamMembershipResult, User, UserStatus, Workspace,
};

#[cfg(test)]
mod client_tests;
