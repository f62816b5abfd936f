//! monday-operator: runs Monday.com identity-governance connectors from Kubernetes.
//!
//! Data flows one way: `monday` (GraphQL client) → `engine` (sync and provisioning) → `baton`
//! (access model and .c1z files) → `controller` (status, Events) — see README.md.

pub mod api;
pub mod baton;
pub mod cli;
pub mod conductorone;
pub mod controller;
pub mod engine;
pub mod metrics;
pub mod monday;
pub mod reason;
pub mod server;
pub mod service;
pub mod settings;
pub mod telemetry;
pub mod time;
