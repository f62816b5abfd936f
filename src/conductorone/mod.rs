//! The ConductorOne service-mode client: credentials, the token exchange, TLS, the
//! `BatonService` RPCs, typed tasks and streamed uploads. It knows neither Kubernetes nor
//! Monday.com; `crate::service` runs the task loop on top of it.
//!
//! Behaviour follows the reference client (baton-sdk v0.25) as described in
//! `../shared/reference/conductorone-service-mode.md`; where we differ on purpose, the item's
//! docs say so.

pub mod client;
pub mod credentials;
pub mod error;
pub mod hello;
pub mod pb;
pub mod task;
pub mod tls;
pub mod token;

pub use client::{Client, Config, Finish, UploadReport, host_id_from_env, with_default_port};
pub use credentials::{ClientId, ClientIdError, ClientSecret, ClientSecretError};
pub use error::{C1Error, TokenError};
pub use task::{Task, TaskKind, TaskTypeName};
