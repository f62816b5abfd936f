//! Shared test support: the real control plane (and, in later tests, the emulator and operator).
#![allow(dead_code, unused_imports)]

pub mod access;
pub mod baton;
pub mod control_plane;
pub mod operator;
pub mod packaging;
pub mod schema;
pub mod service;
pub mod tmpfs;

pub use control_plane::*;
