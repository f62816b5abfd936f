//! Shared test support: the real control plane, node mode (a one-node cluster, `node`) and the
//! operator image it runs (`image`).
#![allow(dead_code, unused_imports)]

pub mod access;
pub mod baton;
pub mod control_plane;
pub mod image;
pub mod node;
pub mod operator;
pub mod packaging;
pub mod schema;
pub mod service;
pub mod tmpfs;

pub use control_plane::*;
