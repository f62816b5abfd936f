//! `BatonService` as the double serves it.
//!
//! Choices where ConductorOne's server behaviour is not public (reference §8): idle `GetTask`
//! alternates between an unset task and a `none` task; heartbeat/upload/finish for an unknown
//! task id is `NOT_FOUND`; a rule violation is `INVALID_ARGUMENT` and recorded as a problem; a
//! second `FinishTask` for one task is accepted and recorded as a problem; an expired or
//! invalidated token is `UNAUTHENTICATED` (the client must fetch a new one itself).

use std::sync::{Arc, Weak};
use std::time::Instant;

use prost::Message as _;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use crate::pb::baton::{self, baton_service_server::BatonService};
use crate::server::Shared;
use crate::state::{
    Fault, Finished, Method, Outcome, Recorded, RecordedRpc, RpcMessage, Upload, UploadFault,
};
use crate::{token, validate};

pub struct Service {
    pub shared: Weak<Shared>,
}

fn duration(d: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

impl Service {
    fn shared(&self) -> Result<Arc<Shared>, Status> {
        self.shared
            .upgrade()
            .ok_or_else(|| Status::unavailable("the double is shutting down"))
    }

    /// Records the call, then applies an injected fault, then checks the bearer token.
    fn admit<T>(
        shared: &Shared,
        method: Method,
        req: &Request<T>,
        message: RpcMessage,
        raw: &[u8],
    ) -> Result<(), Status> {
        let md = req.metadata();
        let auth = md.get("authorization").and_then(|v| v.to_str().ok());
        let verdict = token::check_bearer(shared, auth);
        let user_agent = md
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut st = shared.lock();
        st.raw.extend_from_slice(raw);
        for kv in md.iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(_, v) = kv {
                st.raw.extend_from_slice(v.as_encoded_bytes());
            }
        }
        st.recorded.push(Recorded::Rpc(RecordedRpc {
            at: Instant::now(),
            method,
            user_agent,
            authorized: verdict.is_ok(),
            message,
        }));
        shared.changed.notify_waiters();
        if let Some(Fault::Status(code)) = st.take_fault(method) {
            return Err(Status::new(code, "injected fault"));
        }
        verdict.map(drop).map_err(Status::unauthenticated)
    }

    fn invalid(shared: &Shared, what: String) -> Status {
        shared.lock().problem(what.clone());
        Status::invalid_argument(what)
    }
}

#[tonic::async_trait]
impl BatonService for Service {
    async fn hello(
        &self,
        request: Request<baton::BatonServiceHelloRequest>,
    ) -> Result<Response<baton::BatonServiceHelloResponse>, Status> {
        let shared = self.shared()?;
        let msg = request.get_ref().clone();
        Self::admit(
            &shared,
            Method::Hello,
            &request,
            RpcMessage::Hello(Box::new(msg.clone())),
            &msg.encode_to_vec(),
        )?;
        validate::hello(&msg).map_err(|e| Self::invalid(&shared, format!("Hello: {e}")))?;
        shared.lock().accepted_hello += 1;
        shared.changed.notify_waiters();
        Ok(Response::new(baton::BatonServiceHelloResponse::default()))
    }

    async fn get_task(
        &self,
        request: Request<baton::BatonServiceGetTaskRequest>,
    ) -> Result<Response<baton::BatonServiceGetTaskResponse>, Status> {
        let shared = self.shared()?;
        let msg = request.get_ref().clone();
        Self::admit(
            &shared,
            Method::GetTask,
            &request,
            RpcMessage::GetTask(msg.clone()),
            &msg.encode_to_vec(),
        )?;
        validate::host_id(&msg.host_id)
            .map_err(|e| Self::invalid(&shared, format!("GetTask: {e}")))?;
        let mut st = shared.lock();
        let task = match st.queue.pop_front() {
            Some(t) => {
                st.handed_out.insert(
                    t.id.clone(),
                    crate::state::HandedOut {
                        at: Instant::now(),
                        heartbeats: 0,
                    },
                );
                Some(t)
            }
            None => {
                st.idle_toggle = !st.idle_toggle;
                st.idle_toggle.then(|| baton::Task {
                    task_type: Some(baton::task::TaskType::None(baton::task::NoneTask::default())),
                    ..Default::default()
                })
            }
        };
        let resp = baton::BatonServiceGetTaskResponse {
            task,
            next_poll: Some(duration(st.next_poll)),
            next_heartbeat: Some(duration(st.next_heartbeat)),
            annotations: vec![],
        };
        drop(st);
        shared.changed.notify_waiters();
        Ok(Response::new(resp))
    }

    async fn get_tasks(
        &self,
        request: Request<baton::BatonServiceGetTasksRequest>,
    ) -> Result<Response<baton::BatonServiceGetTasksResponse>, Status> {
        let shared = self.shared()?;
        let msg = request.get_ref().clone();
        Self::admit(
            &shared,
            Method::GetTasks,
            &request,
            RpcMessage::GetTasks(msg.clone()),
            &msg.encode_to_vec(),
        )?;
        Err(Status::unimplemented("the double serves GetTask only"))
    }

    async fn heartbeat(
        &self,
        request: Request<baton::BatonServiceHeartbeatRequest>,
    ) -> Result<Response<baton::BatonServiceHeartbeatResponse>, Status> {
        let shared = self.shared()?;
        let msg = request.get_ref().clone();
        Self::admit(
            &shared,
            Method::Heartbeat,
            &request,
            RpcMessage::Heartbeat(msg.clone()),
            &msg.encode_to_vec(),
        )?;
        validate::heartbeat(&msg).map_err(|e| Self::invalid(&shared, format!("Heartbeat: {e}")))?;
        let mut st = shared.lock();
        let next = st.next_heartbeat;
        let Some(h) = st.handed_out.get_mut(&msg.task_id) else {
            return Err(Status::not_found("unknown task"));
        };
        h.heartbeats += 1;
        let n = h.heartbeats;
        let cancelled = st.cancel_heartbeats.get(&msg.task_id) == Some(&n);
        Ok(Response::new(baton::BatonServiceHeartbeatResponse {
            next_heartbeat: Some(duration(next)),
            cancelled,
            annotations: vec![],
            cancelled_task_ids: vec![],
        }))
    }

    async fn finish_task(
        &self,
        request: Request<baton::BatonServiceFinishTaskRequest>,
    ) -> Result<Response<baton::BatonServiceFinishTaskResponse>, Status> {
        let shared = self.shared()?;
        use baton::baton_service_finish_task_request::FinalState;
        let msg = request.get_ref().clone();
        Self::admit(
            &shared,
            Method::FinishTask,
            &request,
            RpcMessage::FinishTask(Box::new(msg.clone())),
            &msg.encode_to_vec(),
        )?;
        validate::finish(&msg).map_err(|e| Self::invalid(&shared, format!("FinishTask: {e}")))?;
        let mut st = shared.lock();
        if !st.handed_out.contains_key(&msg.task_id) {
            return Err(Status::not_found("unknown task"));
        }
        if st.finished.iter().any(|f| f.task_id == msg.task_id) {
            let p = format!("FinishTask twice for {}", msg.task_id);
            st.problem(p);
        }
        let outcome = match msg.final_state {
            Some(FinalState::Success(s)) => {
                if msg.status.is_some() {
                    st.problem(format!(
                        "FinishTask success with a status for {}",
                        msg.task_id
                    ));
                }
                Outcome::Success {
                    response: s.response,
                    annotations: s.annotations,
                }
            }
            Some(FinalState::Error(e)) => {
                let status = msg.status.unwrap_or_default();
                Outcome::Error {
                    code: status.code,
                    message: status.message,
                    non_retryable: e.non_retryable,
                }
            }
            None => unreachable!("validated"),
        };
        st.finished.push(Finished {
            task_id: msg.task_id,
            outcome,
            at: Instant::now(),
        });
        drop(st);
        shared.changed.notify_waiters();
        Ok(Response::new(
            baton::BatonServiceFinishTaskResponse::default(),
        ))
    }

    async fn upload_asset(
        &self,
        request: Request<tonic::Streaming<baton::BatonServiceUploadAssetRequest>>,
    ) -> Result<Response<baton::BatonServiceUploadAssetResponse>, Status> {
        let shared = self.shared()?;
        use baton::baton_service_upload_asset_request::Msg;
        let (metadata, _, mut stream) = request.into_parts();
        let first = stream.message().await?;
        let first_raw = first
            .as_ref()
            .map(|m| m.encode_to_vec())
            .unwrap_or_default();
        let meta = match first.and_then(|m| m.msg) {
            Some(Msg::Metadata(m)) => Some(m),
            _ => None,
        };
        let probe = Request::from_parts(metadata, Default::default(), ());
        Self::admit(
            &shared,
            Method::UploadAsset,
            &probe,
            RpcMessage::UploadAsset(meta.clone()),
            &first_raw,
        )?;
        let meta = meta.ok_or_else(|| {
            Self::invalid(
                &shared,
                "UploadAsset: the first message must be metadata".into(),
            )
        })?;
        validate::host_id(&meta.host_id)
            .map_err(|e| Self::invalid(&shared, format!("UploadAsset: {e}")))?;
        validate::task_id("metadata.task_id", &meta.task_id)
            .map_err(|e| Self::invalid(&shared, format!("UploadAsset: {e}")))?;
        if meta.annotations.len() > 16 {
            return Err(Self::invalid(
                &shared,
                "UploadAsset: more than 16 annotations".into(),
            ));
        }
        if !shared.lock().handed_out.contains_key(&meta.task_id) {
            return Err(Status::not_found("unknown task"));
        }
        let fault = shared.lock().upload_faults.pop_front();
        let mut data = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let Some(m) = stream.message().await? else {
                return Err(Self::invalid(
                    &shared,
                    format!(
                        "UploadAsset: the stream for {} ended without eof",
                        meta.task_id
                    ),
                ));
            };
            shared.lock().raw.extend_from_slice(&m.encode_to_vec());
            match m.msg {
                Some(Msg::Data(d)) => {
                    validate::chunk(&d.data)
                        .map_err(|e| Self::invalid(&shared, format!("UploadAsset: {e}")))?;
                    sizes.push(d.data.len());
                    data.extend_from_slice(&d.data);
                    match fault {
                        Some(UploadFault::DropAfterChunks(n)) if sizes.len() >= n => {
                            return Err(Status::unavailable("upload stream dropped (injected)"));
                        }
                        Some(UploadFault::RestartAfterChunks(n)) if sizes.len() >= n => {
                            let shared = shared.clone();
                            tokio::spawn(async move { shared.restart().await });
                            // The restart kills this connection; never answer.
                            std::future::pending::<()>().await;
                        }
                        _ => {}
                    }
                }
                Some(Msg::Eof(e)) => {
                    if e.sha256_checksum.len() != 32 {
                        return Err(Self::invalid(
                            &shared,
                            format!(
                                "UploadAsset: sha256_checksum has {} bytes, 32 required",
                                e.sha256_checksum.len()
                            ),
                        ));
                    }
                    if Sha256::digest(&data).as_slice() != e.sha256_checksum.as_slice() {
                        return Err(Self::invalid(
                            &shared,
                            format!(
                                "UploadAsset: checksum mismatch for {} ({} bytes received)",
                                meta.task_id,
                                data.len()
                            ),
                        ));
                    }
                    if e.annotations.len() > 16 {
                        return Err(Self::invalid(
                            &shared,
                            "UploadAsset: more than 16 eof annotations".into(),
                        ));
                    }
                    if stream.message().await?.is_some() {
                        return Err(Self::invalid(
                            &shared,
                            "UploadAsset: a message after eof".into(),
                        ));
                    }
                    let mut st = shared.lock();
                    st.uploads.push(Upload {
                        task_id: meta.task_id.clone(),
                        host_id: meta.host_id.clone(),
                        data,
                        chunk_sizes: sizes,
                        at: Instant::now(),
                    });
                    drop(st);
                    shared.changed.notify_waiters();
                    return Ok(Response::new(
                        baton::BatonServiceUploadAssetResponse::default(),
                    ));
                }
                Some(Msg::Metadata(_)) => {
                    return Err(Self::invalid(
                        &shared,
                        "UploadAsset: a second metadata message".into(),
                    ));
                }
                None => {
                    return Err(Self::invalid(
                        &shared,
                        "UploadAsset: a message with no msg set".into(),
                    ));
                }
            }
        }
    }

    async fn start_debugging(
        &self,
        request: Request<baton::StartDebuggingRequest>,
    ) -> Result<Response<baton::StartDebuggingResponse>, Status> {
        let shared = self.shared()?;
        Self::admit(
            &shared,
            Method::StartDebugging,
            &request,
            RpcMessage::StartDebugging,
            &[],
        )?;
        Ok(Response::new(baton::StartDebuggingResponse {
            status: false,
        }))
    }
}
