//! A faithful local test double of ConductorOne's service-mode API, for monday-operator's tests.
//!
//! One TLS port (test CA generated at start, written to [`DoubleHandle::ca_file`] for
//! `SSL_CERT_FILE`) serves, by ALPN, both:
//! * `POST /auth/v1/token`: OAuth2 client credentials with an EdDSA JWT assertion, verified as a
//!   real server plausibly does (signature with the registered public key, `iss` = `sub` =
//!   client id, `aud` = the client id's host without port, `exp` at most 5 min ahead, ±60 s skew,
//!   nonce never reused); `401 {"error":"invalid_client"}` otherwise;
//! * gRPC `c1.connectorapi.baton.v1.BatonService`, generated from the protocol's `.proto` files
//!   (build.rs), checking the bearer token and the protos' validation rules (27-character task
//!   ids, host ids, chunk sizes, a 32-byte checksum equal to the reassembled upload's SHA-256,
//!   required oneofs and metadata).
//!
//! Tests script a task queue, read reassembled uploads back, inspect every request received
//! (also as raw bytes, for secret-leak checks) and inject faults. The choices for behaviour the
//! public client code cannot tell us are those of the reference document's §8 and are listed in
//! the README beside this crate's entry.
//!
//! This crate is never linked into the operator.

mod certs;
mod creds;
mod server;
mod service;
mod state;
mod tasks;
mod token;
mod validate;

/// Messages and the `BatonService` server, generated from the protocol specification (build.rs).
#[allow(clippy::all, missing_docs)]
pub mod pb {
    pub mod c1 {
        pub mod connector {
            pub mod v2 {
                include!(concat!(env!("OUT_DIR"), "/c1.connector.v2.rs"));
            }
        }
        pub mod config {
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/c1.config.v1.rs"));
            }
        }
        pub mod connectorapi {
            pub mod baton {
                pub mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/c1.connectorapi.baton.v1.rs"));
                }
            }
        }
    }
    pub mod google {
        pub mod rpc {
            include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
        }
    }
    pub use c1::connector::v2 as connector;
    pub use c1::connectorapi::baton::v1 as baton;
}

pub use creds::Credentials;
pub use server::{Config, Double, DoubleHandle};
pub use state::{
    Fault, Finished, Method, Outcome, Recorded, RecordedRpc, RpcMessage, TokenRequest, Upload,
    UploadFault,
};
pub use tasks::{TaskBuilder, task_id};
