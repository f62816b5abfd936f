//! Baton access model, protobuf messages and v1 `.c1z` files (no Monday, no Kubernetes).
//!
//! The engine fills a [`Snapshot`] with builders from here and hands it to [`write_c1z`]; the
//! controller reads [`WriteSummary`] (and [`diff_latest`]) for status. Keeping Baton's wire and
//! file formats in this one module means the rest of the operator never builds protobuf by hand.

pub mod c1z;
pub mod model;
pub mod pb;

/// Writing and reading v1 c1z files: the artefact each sync produces, readable by `baton`.
pub use c1z::{
    C1zError, C1zReader, GrantDiff, SpaceLimit, SyncRun, Volume, WriteOptions, WriteSummary,
    diff_latest, remove_scratch_leftovers, set_sqlite_temp_dir, write_c1z, write_latest_sync,
};
/// Building the model: Baton's byte-exact ID formats and builders that mirror the SDK's.
pub use model::{
    EntitlementBuilder, EntitlementHandle, ModelError, ResourceBuilder, ResourceHandle, Snapshot,
    UserTraitBuilder, entitlement_id, grant_id, profile, resource_external_id, resource_type,
};
/// Enums the builders take, re-exported so callers need not reach into `pb`.
pub use pb::{StatusValue, entitlement::Purpose, resource_type::Trait, user_trait::AccountType};
