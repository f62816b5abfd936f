//! Helpers for the service-mode tests: the Monday emulator, the ConductorOne double, an
//! in-process task loop wired to both, events collected, uploads read back.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use conductorone_double::{DoubleHandle, Finished, Outcome};
use monday_emulator::EmulatorHandle;
use monday_operator::baton::C1zReader;
use monday_operator::conductorone::{self, ClientSecret};
use monday_operator::engine::Connection;
use monday_operator::service::{Service, ServiceConfig, ServiceEvent};
use secrecy::SecretString;
use tokio::sync::mpsc;

/// The client configuration for `double`: its registered credentials, its address as
/// `BATON_C1_API_HOST`, its CA as the extra root (what `SSL_CERT_FILE` gives the binary). Our
/// clients bring their own ring-based rustls config, so no process-wide provider is installed.
pub fn conductorone_config(double: &DoubleHandle) -> conductorone::Config {
    let creds = double.credentials();
    conductorone::Config {
        client_id: creds.client_id.parse().expect("client id"),
        client_secret: ClientSecret::parse(&SecretString::from(creds.client_secret.clone()))
            .expect("client secret"),
        host_override: Some(double.host_override()),
        host_id: "service-test-host".into(),
        extra_roots: Some(double.ca_file().to_path_buf()),
    }
}

pub fn monday(emu: &EmulatorHandle) -> Connection {
    Connection {
        api_url: emu.url(),
        token: SecretString::from(emu.admin_token().to_string()),
    }
}

/// A task loop running in the background; stop it with [`Running::stop`].
pub struct Running {
    pub events: mpsc::UnboundedReceiver<ServiceEvent>,
    pub seen: Vec<ServiceEvent>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub handle: tokio::task::JoinHandle<Result<(), monday_operator::service::ServiceError>>,
    pub work_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    /// Asks the loop to stop and waits for it (at most `limit`).
    pub async fn stop(
        mut self,
        limit: Duration,
    ) -> Result<(), monday_operator::service::ServiceError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(limit, &mut self.handle)
            .await
            .expect("the service stopped in time")
            .expect("the service task did not panic")
    }

    /// The `TaskFinished` report of `task_id` (it is emitted just after `FinishTask` returns).
    pub async fn report(
        &mut self,
        task_id: &str,
        limit: Duration,
    ) -> monday_operator::service::TaskReport {
        let find = |seen: &[ServiceEvent]| {
            seen.iter().find_map(|e| match e {
                ServiceEvent::TaskFinished(r) if r.info.id == task_id => Some((**r).clone()),
                _ => None,
            })
        };
        if let Some(r) = find(&self.seen) {
            return r;
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e);
                    if let Some(r) = find(&self.seen) {
                        return r;
                    }
                }
                _ => panic!("no TaskFinished event for {task_id} within {limit:?}"),
            }
        }
    }

    /// Drains events received so far into `seen`.
    pub fn drain(&mut self) -> &[ServiceEvent] {
        while let Ok(e) = self.events.try_recv() {
            self.seen.push(e);
        }
        &self.seen
    }
}

/// Starts a task loop against `double` and `emu` with `tweak` applied to the config.
pub fn start(
    double: &DoubleHandle,
    emu: &EmulatorHandle,
    provisioning: bool,
    tweak: impl FnOnce(&mut ServiceConfig),
) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let work_dir = dir.path().join("work");
    let mut cfg = ServiceConfig::new(work_dir.clone(), provisioning);
    tweak(&mut cfg);
    let c1 = conductorone::Client::new(conductorone_config(double)).expect("client");
    let (tx, rx) = mpsc::unbounded_channel();
    let service = Service::new(c1, monday(emu), cfg, Arc::new(tx)).expect("service");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(service.run(async move {
        let _ = stop_rx.await;
    }));
    Running {
        events: rx,
        seen: Vec::new(),
        stop: Some(stop_tx),
        handle,
        work_dir,
        _dir: dir,
    }
}

/// Waits for the task's `FinishTask`; panics with what the double saw when it does not come.
pub async fn finished(double: &DoubleHandle, task_id: &str, limit: Duration) -> Finished {
    match double.wait_finished(task_id, limit).await {
        Some(f) => f,
        None => panic!(
            "no FinishTask for {task_id} within {limit:?}; problems: {:?}",
            double.problems()
        ),
    }
}

pub fn assert_success(f: &Finished) -> (Option<prost_types::Any>, Vec<prost_types::Any>) {
    match &f.outcome {
        Outcome::Success {
            response,
            annotations,
        } => (response.clone(), annotations.clone()),
        other => panic!("task {} did not succeed: {other:?}", f.task_id),
    }
}

pub fn assert_error(f: &Finished) -> (i32, String, bool) {
    match &f.outcome {
        Outcome::Error {
            code,
            message,
            non_retryable,
        } => (*code, message.clone(), *non_retryable),
        other => panic!("task {} did not fail: {other:?}", f.task_id),
    }
}

/// Grant ids, resource ids and entitlement ids of the (only) sync in a c1z.
pub fn read_back(path: &Path) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let reader = C1zReader::open(path).expect("open c1z");
    let runs = reader.finished_full_syncs().expect("sync runs");
    assert_eq!(runs.len(), 1, "an upload holds exactly one sync");
    let id = &runs[0].sync_id;
    let grants = reader.grant_ids(id).expect("grants").into_iter().collect();
    let resources = reader
        .resources(id)
        .expect("resources")
        .into_iter()
        .map(|r| {
            let id = r.id.expect("resource id");
            format!("{}:{}", id.resource_type, id.resource)
        })
        .collect();
    let entitlements = reader
        .entitlements(id)
        .expect("entitlements")
        .into_iter()
        .map(|e| e.id)
        .collect();
    (grants, resources, entitlements)
}

/// Writes an uploaded file to `dir` and reads it back.
pub fn read_upload(
    bytes: &[u8],
    dir: &Path,
) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let path = dir.join(format!("upload-{}.c1z", conductorone_double::task_id()));
    std::fs::write(&path, bytes).expect("write upload");
    read_back(&path)
}

pub fn assert_same(what: &str, got: &BTreeSet<String>, want: &BTreeSet<String>) {
    let missing: Vec<_> = want.difference(got).take(20).collect();
    let extra: Vec<_> = got.difference(want).take(20).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} expected, {} uploaded; missing {missing:?}; unexpected {extra:?}",
        want.len(),
        got.len()
    );
}

/// The emulator's grants now.
pub fn truth_grants(emu: &EmulatorHandle) -> BTreeSet<String> {
    emu.ground_truth().grants.into_iter().collect()
}

/// What changed between two grant sets: (added, removed).
pub fn diff(
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    (
        after.difference(before).cloned().collect(),
        before.difference(after).cloned().collect(),
    )
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A double with a fast poll (tests should not wait a second per task).
pub fn quick_double() -> DoubleHandle {
    conductorone_double::Double::start(conductorone_double::Config {
        next_poll: Duration::from_millis(50),
        next_heartbeat: Duration::from_secs(1),
        ..Default::default()
    })
    .expect("double")
}
