//! The engine: Monday.com → Baton mapping (`sync`) and provisioning (`provision`).
//!
//! The one-shot CLI and the controllers call the same functions here: there is one sync and one
//! way to grant. Nothing in this module knows about Kubernetes.

pub mod mapping;
pub mod provision;
pub mod sync;

pub use provision::{
    BaseRole, Entitlement, GrantOptions, GrantOutcome, Principal, ProvisionError, RevokeOutcome,
};
pub use sync::{
    Connection, DiskOptions, SyncCounts, SyncError, SyncOptions, SyncReport,
    set_default_disk_options, sync_to_file, sync_to_file_observed, sync_to_file_with,
};
