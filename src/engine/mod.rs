//! The engine: Monday.com → Baton mapping (`sync`) and provisioning (`provision`).
//!
//! The one-shot CLI and the controllers call the same functions here: there is one sync and one
//! way to grant. Nothing in this module knows about Kubernetes.

pub mod mapping;
pub mod provision;
pub mod session;
pub mod sync;

pub use mapping::ResourceType;
pub use provision::{
    BaseRole, Entitlement, GrantOptions, GrantOutcome, Principal, ProvisionError, RevokeMode,
    RevokeOutcome,
};
pub use session::Session;
pub use sync::{
    Connection, DiskOptions, Omit, SyncCounts, SyncError, SyncOptions, SyncReport,
    latest_sync_only, set_default_disk_options, sync_to_file,
};
