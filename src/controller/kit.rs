//! The controller toolkit every reconciler uses: the shared [`Context`], object keys, one
//! [`Backoff`] policy type, status written by server-side apply, reporting objects this version
//! cannot read, watch helpers, and the reconcile error type with its metrics.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::{DeserializeGuard, NamespaceResourceScope};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::events::{Events, Note};
use super::tasks::Tasks;
use crate::api::FIELD_MANAGER;
use crate::api::conditions::{self, Condition, ConditionType};
use crate::metrics::Metrics;
use crate::reason::Reason;

/// Everything a reconcile of any kind may use.
pub struct Context {
    pub client: kube::Client,
    pub events: Events,
    pub metrics: Arc<Metrics>,
    /// Background syncs of connectors.
    pub tasks: Arc<Tasks>,
    /// ConductorOne service-mode loops of connectors.
    pub services: Arc<super::service_mode::ServiceModes>,
    /// Snapshots go to `<data_dir>/<namespace>/<name>/sync.c1z`.
    pub data_dir: PathBuf,
    failures: Failures,
}

impl Context {
    pub fn new(
        client: kube::Client,
        events: Events,
        metrics: Arc<Metrics>,
        tasks: Arc<Tasks>,
        services: Arc<super::service_mode::ServiceModes>,
        data_dir: PathBuf,
    ) -> Self {
        Context {
            client,
            events,
            metrics,
            tasks,
            services,
            data_dir,
            failures: Failures::default(),
        }
    }

    /// Consecutive failures of something about `key` (a reconcile, a revocation), counted up by
    /// one; the caller turns it into a delay with its [`Backoff`].
    pub fn failed(&self, what: &'static str, key: &ObjectKey) -> u32 {
        self.failures.bump(what, key)
    }

    /// Consecutive failures of `what` for `key` so far.
    pub fn failed_count(&self, what: &'static str, key: &ObjectKey) -> u32 {
        self.failures.get(what, key)
    }

    /// Forgets the failures of `what` for `key` (after a success).
    pub fn succeeded(&self, what: &'static str, key: &ObjectKey) {
        self.failures.clear(what, key)
    }

    /// An API for a namespaced kind in `ns`.
    pub fn api<K>(&self, ns: &str) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), ns)
    }
}

/// Namespace and name of an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a namespaced object (an object without namespace gets an empty one, which no
    /// API call accepts: such objects are refused by [`Error::MissingNamespace`] first).
    pub fn of(obj: &impl Resource) -> Self {
        ObjectKey::new(obj.namespace().unwrap_or_default(), obj.name_any())
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Exponential backoff: `base` after the first failure, doubling, never more than `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap }
    }

    /// Delay after `failures` consecutive failures (1 = the first; 0 counts as 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.cap)
    }
}

#[derive(Default)]
struct Failures(Mutex<HashMap<(&'static str, ObjectKey), u32>>);

impl Failures {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(&'static str, ObjectKey), u32>> {
        // A panic while holding this lock leaves plain counters behind; keep going.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn bump(&self, what: &'static str, key: &ObjectKey) -> u32 {
        let mut m = self.lock();
        let n = m.entry((what, key.clone())).or_default();
        *n = n.saturating_add(1);
        *n
    }
    fn get(&self, what: &'static str, key: &ObjectKey) -> u32 {
        self.lock().get(&(what, key.clone())).copied().unwrap_or(0)
    }
    fn clear(&self, what: &'static str, key: &ObjectKey) {
        self.lock().remove(&(what, key.clone()));
    }
}

/// Errors of one reconcile that are not status: the Kubernetes API and the local disk. Everything
/// about Monday, Secrets and specs becomes a condition instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("the object has no namespace")]
    MissingNamespace,
    #[error("snapshot folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("revocation is not done yet ({0}); the finalizer stays")]
    RevokePending(String),
    #[error(transparent)]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// The reason label of the reconcile error metric.
    pub fn reason(&self) -> Reason {
        match self {
            Error::Kube(_) | Error::MissingNamespace => Reason::KubernetesError,
            Error::DataDir { .. } => Reason::DataDirError,
            Error::RevokePending(_) => Reason::RevokeFailed,
            Error::Finalizer(e) => match &**e {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.reason(),
                _ => Reason::KubernetesError,
            },
        }
    }
}

/// Counts a reconcile of `kind` (the metric every controller shares).
pub fn count_reconcile(ctx: &Context, kind: &'static str) {
    ctx.metrics.count_reconcile(kind);
}

/// The requeue after a failed reconcile of `obj`: counted in the error metric, logged, retried
/// with `backoff`.
pub fn requeue_after_error<K: Resource>(
    ctx: &Context,
    kind: &'static str,
    obj: &K,
    err: &Error,
    backoff: Backoff,
) -> kube::runtime::controller::Action {
    let key = ObjectKey::of(obj);
    let reason = err.reason();
    ctx.metrics.count_reconcile_error(kind, reason);
    let delay = backoff.delay(ctx.failed("reconcile", &key));
    tracing::warn!(kind, object = %key, %reason, error = %err, retry_in = ?delay, "reconcile failed");
    kube::runtime::controller::Action::requeue(delay)
}

/// Writes `status` by server-side apply under the operator's field manager: the whole status is
/// ours, so a field left out (set to `None`) is removed.
pub async fn apply_status<K>(
    client: &kube::Client,
    key: &ObjectKey,
    status: &impl Serialize,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), &key.namespace);
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &key.name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

/// Field manager of the `InvalidObject` report: it owns only the Ready condition it sets, so the
/// rest of the status (written by [`FIELD_MANAGER`]) is kept, and the next full status apply
/// takes the condition back.
const UNREADABLE_FIELD_MANAGER: &str = "monday-operator-unreadable";

/// Reports an object these types cannot read (say, written for a newer schema): `Ready=False`,
/// reason `InvalidObject`, and one Warning Event when that condition changes; nothing is written
/// when it already says so.
pub async fn report_unreadable<K>(
    ctx: &Context,
    obj: &DeserializeGuard<K>,
    error: &str,
    message: String,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()>,
{
    let key = ObjectKey::of(obj);
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.client.clone(), &key.namespace, &resource);
    let raw = api.get(&key.name).await?;
    let mut conds: Vec<Condition> = raw
        .data
        .pointer("/status/conditions")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let ready = Condition::new(
        ConditionType::Ready,
        false,
        Reason::InvalidObject,
        message.clone(),
        obj.meta().generation,
    );
    if !conditions::merge(&mut conds, vec![ready], jiff::Timestamp::now()) {
        return Ok(());
    }
    let ready = conditions::get(&conds, ConditionType::Ready).cloned();
    tracing::warn!(object = %key, kind = %K::kind(&()), error, "cannot read this object");
    let body = serde_json::json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "status": {"conditions": [ready]},
    });
    api.patch_status(
        &key.name,
        &PatchParams::apply(UNREADABLE_FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    ctx.events
        .publish(
            &obj.object_ref(&()),
            &Note::warning(Reason::InvalidObject, "Read", message),
        )
        .await;
    Ok(())
}

/// An API over every namespace, or over `ns` only.
pub fn scoped<K>(client: &kube::Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// A watch on `api` feeding a reflector whose objects carry no `managedFields`: reconcilers never
/// read them, and for status-heavy objects they are most of what the cache would hold (several KB
/// per connector). Same shape as `Controller::new` builds internally otherwise.
pub fn lean_watch<K>(
    api: Api<K>,
) -> (
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    Store<K>,
)
where
    K: Resource<DynamicType = ()> + Clone + fmt::Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .modify(|o| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects();
    (stream, reader)
}

/// What a watched object's change maps to: the cached objects in its namespace that name it.
pub fn referrers<K>(
    store: &Store<K>,
    ns: Option<String>,
    names_it: impl Fn(&K) -> bool,
) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    store
        .state()
        .into_iter()
        .filter(|o| o.meta().namespace == ns && names_it(o))
        .map(|o| ObjectRef::from_obj(&*o))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff::new(Duration::from_secs(30), Duration::from_secs(900));
        assert_eq!(b.delay(0), Duration::from_secs(30));
        assert_eq!(b.delay(1), Duration::from_secs(30));
        assert_eq!(b.delay(2), Duration::from_secs(60));
        assert_eq!(b.delay(3), Duration::from_secs(120));
        assert_eq!(b.delay(30), Duration::from_secs(900));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(900));
    }

    #[test]
    fn failures_count_per_object_and_reset() {
        let f = Failures::default();
        let a = ObjectKey::new("ns", "a");
        assert_eq!(f.bump("reconcile", &a), 1);
        assert_eq!(f.bump("reconcile", &a), 2);
        assert_eq!(f.bump("revoke", &a), 1);
        assert_eq!(f.bump("reconcile", &ObjectKey::new("ns", "b")), 1);
        f.clear("reconcile", &a);
        assert_eq!(f.bump("reconcile", &a), 1);
    }
}
