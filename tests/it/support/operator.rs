//! Helpers for the controller tests: CRDs, Secrets, connectors, an in-process operator scoped to
//! one namespace, and waiting on status.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use monday_operator::api::{self, MondayConnector};
use monday_operator::controller;
use serde_json::json;

use crate::support;

#[allow(unused_imports)] // not every test binary installs the stock CRDs
pub use crate::support::install_crds;

/// Creates or replaces a Secret with string data.
pub async fn put_secret(client: &kube::Client, ns: &str, name: &str, data: &[(&str, &str)]) {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let string_data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let obj = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque", "stringData": string_data});
    // Replace the whole data set: delete keys that are not in `data`.
    let _ = api.delete(name, &Default::default()).await;
    for _ in 0..50 {
        if api.get_opt(name).await.expect("get secret").is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secret: Secret = serde_json::from_value(obj).expect("secret");
    api.create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
}

/// Creates a connector.
pub async fn create_connector(
    client: &kube::Client,
    ns: &str,
    name: &str,
    spec: serde_json::Value,
) -> MondayConnector {
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), ns);
    let obj: MondayConnector = serde_json::from_value(json!({
        "apiVersion": "iga.monday-operator.dev/v1alpha1",
        "kind": "MondayConnector",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("connector");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create connector")
}

/// A running in-process operator watching one namespace; stops when dropped.
pub struct Operator {
    pub data_dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub handle: Option<tokio::task::JoinHandle<Result<(), controller::RunError>>>,
}

impl Operator {
    pub async fn start(ns: &str) -> Operator {
        Self::start_with(ns, |_| {}).await
    }

    pub async fn start_with(ns: &str, tweak: impl FnOnce(&mut controller::Config)) -> Operator {
        let _ = monday_operator::telemetry::init(monday_operator::telemetry::LogFormat::Text);
        let client = support::client().await;
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut config = controller::Config {
            data_dir: data_dir.path().to_path_buf(),
            metrics_addr: None,
            leader_election: None,
            max_concurrent_syncs: 4,
            sync_timeout: Duration::from_secs(120),
            shutdown_timeout: Duration::from_secs(10),
            identity: format!("test-{ns}"),
            namespace: Some(ns.to_string()),
            conductor_one: Default::default(),
        };
        tweak(&mut config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(controller::run(client, config, async move {
            let _ = rx.await;
        }));
        Operator {
            data_dir,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    /// Graceful stop; returns the run result.
    pub async fn stop(mut self) -> Result<(), controller::RunError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let h = self.handle.take().expect("handle");
        tokio::time::timeout(Duration::from_secs(30), h)
            .await
            .expect("operator stops in time")
            .expect("operator task")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Condition (status, reason) of a connector.
pub fn condition(c: &MondayConnector, type_: &str) -> Option<(String, String)> {
    c.status.as_ref().and_then(|s| {
        api::conditions::get(&s.conditions, type_)
            .map(|c| (c.status.to_string(), c.reason.to_string()))
    })
}

/// Polls the connector until `pred` holds or `timeout` passes (then panics with the last state).
pub async fn wait_for(
    client: &kube::Client,
    ns: &str,
    name: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&MondayConnector) -> bool,
) -> MondayConnector {
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + timeout;
    loop {
        let c = api.get(name).await.expect("get connector");
        if pred(&c) {
            return c;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what} on {ns}/{name}; status: {}",
                serde_json::to_string_pretty(&c.status).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Counts resourceVersion changes of a connector over `window` (each one is an apiserver write).
pub async fn writes_during(client: &kube::Client, ns: &str, name: &str, window: Duration) -> usize {
    let api: Api<MondayConnector> = Api::namespaced(client.clone(), ns);
    let mut last = api.get(name).await.expect("get").metadata.resource_version;
    let mut changes = 0;
    let deadline = Instant::now() + window;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rv = api.get(name).await.expect("get").metadata.resource_version;
        if rv != last {
            changes += 1;
            last = rv;
        }
    }
    changes
}

/// Events (events.k8s.io) about an object: (reason, note).
pub async fn events_for(client: &kube::Client, ns: &str, name: &str) -> Vec<(String, String, i32)> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns);
    api.list(&Default::default())
        .await
        .expect("list events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .map(|e| {
            let count = e.series.as_ref().map(|s| s.count).unwrap_or(1);
            (
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
                count,
            )
        })
        .collect()
}

/// The emulator's ground-truth counts in our status shape.
pub fn truth_counts(emu: &monday_emulator::EmulatorHandle) -> api::connector::Counts {
    let t = emu.ground_truth();
    let n = |p: &str| t.resources.iter().filter(|r| r.id.starts_with(p)).count() as i64;
    api::connector::Counts {
        users: n("user:"),
        roles: n("role:"),
        teams: n("team:"),
        workspaces: n("workspace:"),
        boards: n("board:"),
        entitlements: t.entitlements.len() as i64,
        grants: t.grants.len() as i64,
    }
}

/// Name of the token Secret [`Setup`] creates.
pub const TOKEN_SECRET: &str = "tok";

/// The preamble of a controller test: a fresh namespace on this binary's control plane, an
/// emulator, and a Secret [`TOKEN_SECRET`] holding the emulator's admin token (plus `extra` keys).
pub struct Setup {
    pub client: kube::Client,
    pub ns: String,
    pub emu: monday_emulator::EmulatorHandle,
}

impl Setup {
    /// With the stock CRDs installed.
    pub async fn new(prefix: &str, emu: monday_emulator::Config, extra: &[(&str, &str)]) -> Setup {
        let client = support::client().await;
        install_crds(&client).await;
        Setup::in_namespace(client, prefix, emu, extra).await
    }

    /// For a test that installed its own CRDs.
    pub async fn in_namespace(
        client: kube::Client,
        prefix: &str,
        emu: monday_emulator::Config,
        extra: &[(&str, &str)],
    ) -> Setup {
        let ns = support::namespace(&client, prefix).await;
        let emu = monday_emulator::Emulator::start(emu).expect("emulator");
        let mut data = vec![("BATON_MONDAY_API_KEY", emu.admin_token())];
        data.extend_from_slice(extra);
        put_secret(&client, &ns, TOKEN_SECRET, &data).await;
        Setup { client, ns, emu }
    }

    /// A connector against the emulator with the token Secret; `extra` adds or overrides spec
    /// fields.
    pub async fn connector(&self, name: &str, extra: serde_json::Value) -> MondayConnector {
        let mut spec = json!({"secretRef": {"name": TOKEN_SECRET}, "apiUrl": self.emu.url()});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        create_connector(&self.client, &self.ns, name, spec).await
    }

    /// Waits until `pred` holds for connector `name`.
    pub async fn wait(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&MondayConnector) -> bool,
    ) -> MondayConnector {
        wait_for(&self.client, &self.ns, name, timeout, what, pred).await
    }

    /// Waits (up to 60 s) until connector `name` is Ready.
    pub async fn wait_ready(&self, name: &str) -> MondayConnector {
        self.wait(name, "Ready=True", Duration::from_secs(60), |c| {
            condition(c, "Ready").is_some_and(|(s, _)| s == "True")
        })
        .await
    }
}

/// `GET /metrics` of an operator on `127.0.0.1:port` (plain TCP: the tests need no HTTP client).
pub fn metrics_text(port: u16) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
