//! The tests on a real node (`support::node`): the chart and kustomize as pods, and the image
//! those pods run. One node per test binary, started by the first test that asks for it; the
//! tests that need the plain apiserver live in `tests/it`.

#[path = "../it/support/mod.rs"]
mod support;

mod chart;
mod disk;
mod image;
