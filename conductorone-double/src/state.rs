//! What the double knows and remembers: registered clients, issued tokens, the task queue,
//! tasks handed out, uploads, finishes, every request received, faults to inject, and protocol
//! problems it noticed (a faithful server would have rejected or flagged them).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use crate::pb::baton;

/// An RPC of `BatonService`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Hello,
    GetTask,
    GetTasks,
    Heartbeat,
    FinishTask,
    UploadAsset,
    StartDebugging,
}

/// A fault to inject into the next calls of one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this gRPC code (e.g. `Unavailable`, `Unauthenticated`) instead of serving.
    Status(tonic::Code),
}

/// What to do to an upload in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFault {
    /// Fail the stream with `UNAVAILABLE` after this many data chunks.
    DropAfterChunks(usize),
    /// Kill every connection and re-listen (a server restart) after this many data chunks.
    RestartAfterChunks(usize),
}

/// One token request as received.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub at: Instant,
    /// Every form field, in order.
    pub form: Vec<(String, String)>,
    /// The assertion's decoded header and claims (when it parsed).
    pub header: Option<serde_json::Value>,
    pub claims: Option<serde_json::Value>,
    pub user_agent: Option<String>,
    /// Whether a token was issued; otherwise the `error` code sent with the 401.
    pub outcome: Result<(), String>,
}

/// One gRPC call as received.
#[derive(Debug, Clone)]
pub struct RecordedRpc {
    pub at: Instant,
    pub method: Method,
    pub user_agent: Option<String>,
    pub authorized: bool,
    /// The decoded request (for `UploadAsset`, the metadata message; chunks are in [`Upload`]).
    pub message: RpcMessage,
}

/// The decoded body of a recorded call.
#[derive(Debug, Clone)]
pub enum RpcMessage {
    Hello(Box<baton::BatonServiceHelloRequest>),
    GetTask(baton::BatonServiceGetTaskRequest),
    GetTasks(baton::BatonServiceGetTasksRequest),
    Heartbeat(baton::BatonServiceHeartbeatRequest),
    FinishTask(Box<baton::BatonServiceFinishTaskRequest>),
    UploadAsset(Option<baton::baton_service_upload_asset_request::UploadMetadata>),
    StartDebugging,
}

/// Anything received, in order.
#[derive(Debug, Clone)]
pub enum Recorded {
    Token(TokenRequest),
    Rpc(RecordedRpc),
}

/// A completed upload (eof received, checksum verified).
#[derive(Debug, Clone)]
pub struct Upload {
    pub task_id: String,
    pub host_id: String,
    pub data: Vec<u8>,
    pub chunk_sizes: Vec<usize>,
    pub at: Instant,
}

/// How a task was finished.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success {
        response: Option<prost_types::Any>,
        annotations: Vec<prost_types::Any>,
    },
    Error {
        code: i32,
        message: String,
        non_retryable: bool,
    },
}

/// A `FinishTask` received.
#[derive(Debug, Clone)]
pub struct Finished {
    pub task_id: String,
    pub outcome: Outcome,
    pub at: Instant,
}

pub(crate) struct Issued {
    pub client_id: String,
    pub expires: SystemTime,
}

pub(crate) struct HandedOut {
    pub at: Instant,
    pub heartbeats: usize,
}

#[derive(Default)]
pub(crate) struct State {
    /// client id → public key.
    pub clients: HashMap<String, [u8; 32]>,
    pub nonces: HashSet<String>,
    pub tokens: HashMap<String, Issued>,
    pub queue: VecDeque<baton::Task>,
    pub handed_out: HashMap<String, HandedOut>,
    pub finished: Vec<Finished>,
    pub uploads: Vec<Upload>,
    pub recorded: Vec<Recorded>,
    /// Raw bytes of everything received (form bodies, encoded messages, header values).
    pub raw: Vec<u8>,
    pub problems: Vec<String>,
    pub faults: HashMap<Method, VecDeque<Fault>>,
    pub token_failures: usize,
    pub upload_faults: VecDeque<UploadFault>,
    /// task id → heartbeat numbers (1 = first) answered `cancelled`.
    pub cancel_heartbeats: HashMap<String, usize>,
    pub idle_toggle: bool,
    pub next_poll: Duration,
    pub next_heartbeat: Duration,
    pub token_lifetime: Duration,
    pub accepted_hello: usize,
}

impl State {
    pub fn problem(&mut self, p: impl Into<String>) {
        self.problems.push(p.into());
    }

    pub fn take_fault(&mut self, m: Method) -> Option<Fault> {
        self.faults.get_mut(&m).and_then(|q| q.pop_front())
    }
}
