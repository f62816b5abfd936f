//! The integration tests: one binary (linking the crate once instead of once per file), one real
//! control plane and emulators shared by every test, each test in namespaces of its own.
//!
//! Tests that need a control plane to themselves live beside this folder: `controller_invalid`
//! (installs loosened CRDs), `chart_rbac` (runs cluster-wide operators, which would act on every
//! other test's objects), `controller_bench` (1,000 connectors, `--ignored`).

mod support;

mod access_admission;
mod access_approvals;
mod access_packaging;
mod c1z_baton_cli;
mod chart_disk;
mod chart_install;
mod chart_render;
mod cli_sync;
mod controller_facts;
mod controller_process;
mod controller_status;
mod crd_apiserver;
mod crd_drift;
mod disk_full;
mod engine_faults;
mod engine_sync;
mod harness_cleanup;
mod jit_expiry;
mod jit_operator;
mod jit_validation;
mod monday_schema;
mod packaging_manifests;
mod provision_cli;
mod provision_emulator;
mod provision_exact_revoke;
mod provision_queries;
mod service_cli;
mod service_faults;
mod service_mode;
mod service_tasks;
