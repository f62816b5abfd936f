//! Shared test support: the real control plane (and, in later tests, the emulator and operator).
#![allow(dead_code, unused_imports)]

pub mod baton;
pub mod control_plane;
pub mod image;
pub mod node;

pub use control_plane::*;
