//! Monday.com GraphQL client: transport, pacing, retries, typed errors (no Kubernetes, no Baton).

pub mod queries;
