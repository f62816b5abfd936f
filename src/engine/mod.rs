//! The engine: Monday.com → Baton mapping (`sync`) and provisioning (`provision`).
//!
//! The one-shot CLI and the controllers call the same functions here: there is one sync and one
//! way to grant. Nothing in this module knows about Kubernetes.

pub mod mapping;
pub mod provision;
pub mod sync;

pub use provision::{
    BaseRole, Entitlement, GrantOptions, GrantOutcome, Principal, ProvisionError, RevokeMode,
    RevokeOutcome,
};
pub use sync::{
    Connection, Omit, SyncCounts, SyncError, SyncOptions, SyncReport, sync_to_file,
    sync_to_file_observed, sync_to_file_omitting,
};
