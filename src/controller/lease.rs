//! Leader election on a `coordination.k8s.io/v1` Lease, so two replicas never both reconcile.
//!
//! Expiry is judged like client-go does: by how long *this* process has seen the Lease unchanged
//! (monotonic clock), not by comparing the holder's `renewTime` with our wall clock, so clock skew
//! between nodes cannot hand the Lease to two holders. Writes use `replace` with the read
//! `resourceVersion`, so two candidates racing for an expired Lease cannot both win.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;

/// Settings of one election.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    /// Holder identity written into the Lease (pod name, or hostname and pid).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub duration: Duration,
    /// How often the holder renews and a candidate retries.
    pub renew: Duration,
}

/// One candidate (this process).
pub struct Elector {
    api: Api<Lease>,
    cfg: LeaseConfig,
    /// resourceVersion of the other holder's Lease as we last saw it, and when it first appeared.
    observed: Option<(String, Instant)>,
}

impl Elector {
    pub fn new(client: kube::Client, cfg: LeaseConfig) -> Self {
        Elector {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            observed: None,
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.cfg
    }

    fn spec(&self, transitions: i32, acquired: Option<MicroTime>) -> LeaseSpec {
        let now = MicroTime(jiff::Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(self.cfg.duration.as_secs().max(1) as i32),
            acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// Takes or renews the Lease once. `Ok(true)` while this process holds it.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.cfg.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    ..Default::default()
                },
                spec: Some(self.spec(0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let new_spec = if holder == self.cfg.identity {
            self.spec(transitions, spec.acquire_time.clone())
        } else {
            let ttl = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
            let seen_at = match &self.observed {
                Some((seen_rv, at)) if *seen_rv == rv => *at,
                _ => {
                    let now = Instant::now();
                    self.observed = Some((rv.clone(), now));
                    now
                }
            };
            if !holder.is_empty() && seen_at.elapsed() < ttl {
                return Ok(false);
            }
            self.spec(transitions + 1, None)
        };
        lease.spec = Some(new_spec);
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (on shutdown) so a standby takes over at its next retry, not after expiry.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.cfg.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        if let Err(e) = self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(error = %e, "could not release the leader Lease; the standby takes over after it expires");
        }
    }

    /// Waits until this process holds the Lease (retrying every renew period).
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::debug!(lease = %self.cfg.name, "another replica is leader; standing by")
                }
                Err(e) => tracing::warn!(error = %e, "leader Lease unavailable; retrying"),
            }
            tokio::time::sleep(self.cfg.renew).await;
        }
    }

    /// Renews until the Lease is lost (another holder, or no successful renewal for longer than
    /// the lease duration minus one renew period); then returns.
    pub async fn hold(&mut self) {
        let deadline = self
            .cfg
            .duration
            .saturating_sub(self.cfg.renew)
            .max(self.cfg.renew);
        let mut last_ok = Instant::now();
        loop {
            tokio::time::sleep(self.cfg.renew).await;
            // A renewal that hangs (a half-open connection) must not outlast the deadline: the
            // standby takes the Lease after the lease duration, so this process stops first.
            let left = deadline
                .saturating_sub(last_ok.elapsed())
                .max(Duration::from_millis(100));
            let attempt = tokio::time::timeout(left, self.try_acquire_or_renew()).await;
            match attempt {
                Ok(Ok(true)) => last_ok = Instant::now(),
                Ok(Ok(false)) => {
                    tracing::error!(lease = %self.cfg.name, "leader Lease taken by another replica");
                    return;
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "renewing the leader Lease failed"),
                Err(_) => tracing::warn!("renewing the leader Lease timed out"),
            }
            if last_ok.elapsed() >= deadline {
                tracing::error!(lease = %self.cfg.name, "leader Lease not renewed in time");
                return;
            }
        }
    }
}

/// How holding the Lease ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// Given up on request (shutdown).
    Released,
    /// Taken by another replica, or not renewed in time.
    Lost,
}

/// This process holds the Lease.
pub struct Leader(Elector);

/// Waits until this process holds the Lease; `None` when `shutdown` comes first.
pub async fn lead(
    client: kube::Client,
    cfg: LeaseConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Option<Leader> {
    let mut e = Elector::new(client, cfg);
    tracing::info!(lease = %e.config().name, identity = %e.config().identity, "waiting for the leader Lease");
    tokio::select! {
        _ = e.acquire() => {
            tracing::info!("became leader");
            Some(Leader(e))
        }
        _ = shutdown => None,
    }
}

impl Leader {
    /// Renews the Lease until `release` is cancelled (then gives it up) or it is lost (then
    /// cancels `stop`, so the controllers end).
    pub async fn hold(
        mut self,
        stop: tokio_util::sync::CancellationToken,
        release: tokio_util::sync::CancellationToken,
    ) -> Held {
        let held = tokio::select! {
            _ = self.0.hold() => Held::Lost,
            _ = release.cancelled() => Held::Released,
        };
        match held {
            Held::Lost => stop.cancel(),
            Held::Released => self.0.release().await,
        }
        held
    }
}

/// Pod name when running in a pod (`POD_NAME` from the downward API), else hostname and pid.
pub fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}-{}", std::process::id())
}
