//! One full sync of a Monday.com account into a v1 `.c1z` snapshot.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::SecretString;

use super::mapping::{self, Include, MondayData, ResourceType, build_snapshot};
use crate::baton;
use crate::monday::{Client, ClientConfig, ClientObserver, MondayError};
use crate::reason::Reason;

/// Where and as whom to reach Monday.com.
#[derive(Clone)]
pub struct Connection {
    /// GraphQL endpoint, e.g. `https://api.monday.com/v2`.
    pub api_url: String,
    /// The API token; never printed.
    pub token: SecretString,
}

impl Connection {
    /// A Monday client for this connection; every engine operation opens its own.
    pub(crate) fn client(
        &self,
        observer: Option<Arc<dyn ClientObserver>>,
    ) -> Result<Client, MondayError> {
        let config = ClientConfig {
            api_url: self.api_url.clone(),
            ..ClientConfig::default()
        };
        match observer {
            Some(o) => Client::with_observer(config, self.token.clone(), o),
            None => Client::new(config, self.token.clone()),
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// What to sync, and who hears about each request.
#[derive(Clone, Default)]
pub struct SyncOptions {
    /// Resource types to sync; `None` = all. `user` is always synced because every grant
    /// points at a user.
    pub resource_types: Option<BTreeSet<ResourceType>>,
    /// What to leave out of the snapshot (ConductorOne's sync task options).
    pub omit: Omit,
    /// Told of every request and wait as it happens (the operator's metrics count requests by
    /// outcome this way, failed syncs included).
    pub observer: Option<Arc<dyn ClientObserver>>,
    /// Where to build the snapshot and how much room it may take; `None`: the process-wide
    /// options `main` set from the flags.
    pub disk: Option<DiskOptions>,
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("resource_types", &self.resource_types)
            .field("omit", &self.omit)
            .field("observer", &self.observer.is_some())
            .field("disk", &self.disk)
            .finish()
    }
}

/// What to leave out of a snapshot (ConductorOne's sync task options); the default omits
/// nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Omit {
    /// Write resources and entitlements but no grants (`skip_grants`).
    pub grants: bool,
    /// Write resources only (`skip_entitlements_and_grants`).
    pub entitlements_and_grants: bool,
}

/// Where a sync builds its snapshot and how much room it may take: the flags `--scratch-dir`,
/// `--scratch-size-limit` and `--data-size-limit`.
///
/// Writing a snapshot builds an uncompressed database of the two kept syncs (about 1.35 kB per
/// grant) in the scratch folder, then compresses it beside the kept file. The limits matter
/// where the filesystem cannot enforce them: a Kubernetes emptyDir's `sizeLimit` is enforced by
/// evicting the pod, so the operator is told it and stays below it with a typed
/// [`SyncError::DiskFull`] instead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskOptions {
    /// Folder for the uncompressed database; `None`: the OS temp folder (`TMPDIR`, else `/tmp`).
    pub scratch_dir: Option<PathBuf>,
    /// Most bytes all syncs together may use in the scratch folder.
    pub scratch_limit: Option<u64>,
    /// Most bytes the tree holding the snapshots may take (kept files and temporary ones).
    pub data_limit: Option<baton::SpaceLimit>,
}

impl DiskOptions {
    /// The writer's options for these folders and limits.
    fn write_options(&self) -> baton::WriteOptions {
        baton::WriteOptions {
            scratch_dir: self.scratch_dir.clone(),
            scratch_limit: self.scratch_limit,
            data_limit: self.data_limit.clone(),
            ..baton::WriteOptions::default()
        }
    }
}

/// The process-wide [`DiskOptions`] of [`sync_to_file`] when [`SyncOptions::disk`] is `None`, set
/// once by `main` from the flags (controllers and service-mode tasks build their options
/// without knowing the flags).
static DEFAULT_DISK: RwLock<Option<DiskOptions>> = RwLock::new(None);

/// Sets the [`DiskOptions`] every later [`sync_to_file`] without its own uses.
pub fn set_default_disk_options(disk: DiskOptions) {
    let mut guard = DEFAULT_DISK
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *guard = Some(disk);
}

fn default_disk_options() -> DiskOptions {
    DEFAULT_DISK
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Object counts of one snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub users: u64,
    pub roles: u64,
    pub teams: u64,
    pub workspaces: u64,
    pub boards: u64,
    pub entitlements: u64,
    pub grants: u64,
}

/// The outcome of a successful sync.
#[derive(Clone, Debug)]
pub struct SyncReport {
    /// Account id, name and plan tier of the token's account.
    pub account_id: String,
    pub account_name: String,
    pub account_tier: Option<String>,
    /// Baton sync id (KSUID) of the new sync.
    pub sync_id: String,
    /// The .c1z file written.
    pub path: PathBuf,
    /// SHA-256 (hex) and size of the file.
    pub sha256: String,
    pub bytes: u64,
    pub counts: SyncCounts,
    /// Grants added/removed against the previous sync in the same file (`None` on the first).
    pub grants_added: Option<u64>,
    pub grants_removed: Option<u64>,
    /// Wall time, GraphQL requests sent, complexity points used, time spent waiting on limits.
    pub duration: Duration,
    /// Of the wall time: reading Monday.com (the rest maps and writes the snapshot).
    pub read_duration: Duration,
    pub requests: u64,
    pub complexity_used: u64,
    pub rate_limit_wait: Duration,
    /// Relations naming a user or team the sync did not see (dropped, not fatal).
    pub dangling_relations: u64,
}

/// Why a sync failed. The previous snapshot file is always left untouched.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Monday.com refused or failed the request (token, permissions, limits, network).
    #[error(transparent)]
    Monday(#[from] MondayError),
    /// A folder had no room for the snapshot: the filesystem is full (or a quota or file size
    /// limit was hit), or the write would have passed the folder's configured limit.
    /// (The message includes the writer's error, so it is not also a `source`: chained error
    /// printing would say it twice.)
    #[error(
        "{error}; the last good snapshot was kept. Free space there or give the {volume} more \
         room ({hint})",
        volume = volume_name(error),
        hint = size_hint(error)
    )]
    DiskFull { error: baton::C1zError },
    /// The snapshot could not be built or written.
    #[error("writing the snapshot failed: {0}")]
    Snapshot(String),
}

fn volume_name(e: &baton::C1zError) -> &'static str {
    match e {
        baton::C1zError::DiskFull {
            volume: baton::Volume::Scratch,
            ..
        } => "scratch folder",
        _ => "snapshot folder",
    }
}

/// Which setting sizes the folder, by flag and by Helm value.
fn size_hint(e: &baton::C1zError) -> &'static str {
    match e {
        baton::C1zError::DiskFull {
            volume: baton::Volume::Scratch,
            ..
        } => "--scratch-dir / --scratch-size-limit; Helm: scratch.sizeLimit",
        _ => {
            "--data-size-limit; Helm: persistence.size, or persistence.emptyDirSizeLimit without persistence"
        }
    }
}

impl From<baton::C1zError> for SyncError {
    fn from(e: baton::C1zError) -> Self {
        if e.is_disk_full() {
            SyncError::DiskFull { error: e }
        } else {
            SyncError::Snapshot(e.to_string())
        }
    }
}

impl SyncError {
    /// The reason for conditions (`InvalidToken`, `RateLimited`, …); its class says whether a
    /// retry may help.
    pub fn reason(&self) -> Reason {
        match self {
            SyncError::Monday(e) => e.reason(),
            SyncError::DiskFull { .. } => Reason::DiskFull,
            SyncError::Snapshot(_) => Reason::SnapshotWriteFailed,
        }
    }

    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        self.reason().is_transient()
    }

    /// How long Monday asked us to wait before the next attempt (the daily limit's reset).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Monday(e) => e.retry_after(),
            SyncError::DiskFull { .. } | SyncError::Snapshot(_) => None,
        }
    }
}

/// Syncs the account behind `conn` into the .c1z at `path` (keeping the previous sync in it).
///
/// Reads everything first, builds the snapshot in memory, then writes the file atomically: a
/// failure at any step leaves the previous file as it was.
pub async fn sync_to_file(
    conn: &Connection,
    path: &Path,
    opts: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let disk = opts.disk.clone().unwrap_or_else(default_disk_options);
    let started = std::time::Instant::now();
    let started_at = jiff::Timestamp::now();
    let client = conn.client(opts.observer.clone())?;
    let include = Include::from_types(opts.resource_types.as_ref());
    let data = fetch(&client, &include).await?;
    let read_duration = started.elapsed();
    let peak_after_read = peak_rss_mib();
    let account = data.account.as_ref().map(|a| a.account.clone());

    // Mapping and writing are CPU and disk work: keep them off the async runtime's threads.
    let path_owned = path.to_path_buf();
    let write_opts = disk.write_options();
    let (skip_grants, skip_entitlements) = (opts.omit.grants, opts.omit.entitlements_and_grants);
    let (summary, stats) = tokio::task::spawn_blocking(move || {
        let t = std::time::Instant::now();
        let (mut snapshot, stats) = build_snapshot(data, &include, started_at)
            .map_err(|e| SyncError::Snapshot(e.to_string()))?;
        if skip_entitlements {
            snapshot.clear_entitlements();
        } else if skip_grants {
            snapshot.clear_grants();
        }
        let mapped = t.elapsed();
        let peak_after_map = peak_rss_mib();
        let summary = baton::write_c1z(&path_owned, &snapshot, &write_opts)?;
        tracing::info!(
            map_seconds = mapped.as_secs_f64(),
            write_seconds = (t.elapsed() - mapped).as_secs_f64(),
            grants = summary.grants,
            scratch_bytes = summary.scratch_bytes,
            c1z_bytes = summary.bytes,
            peak_rss_mib_after_read = peak_after_read,
            peak_rss_mib_after_map = peak_after_map,
            peak_rss_mib = peak_rss_mib(),
            "snapshot written"
        );
        Ok::<_, SyncError>((summary, stats))
    })
    .await
    .map_err(|e| SyncError::Snapshot(format!("writer task failed: {e}")))??;
    tracing::debug!(?stats, "mapped Monday.com data to the Baton model");

    let by_type = |t: &str| summary.resources_by_type.get(t).copied().unwrap_or(0);
    let client_stats = client.stats();
    Ok(SyncReport {
        account_id: account
            .as_ref()
            .map(|a| a.id.as_str().to_string())
            .unwrap_or_default(),
        account_name: account.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
        account_tier: account.as_ref().and_then(|a| {
            a.tier
                .clone()
                .or_else(|| a.plan.as_ref().and_then(|p| p.tier.clone()))
        }),
        sync_id: summary.sync_id.clone(),
        path: summary.path.clone(),
        sha256: summary.sha256.clone(),
        bytes: summary.bytes,
        counts: SyncCounts {
            users: by_type(mapping::USER),
            roles: by_type(mapping::ROLE),
            teams: by_type(mapping::TEAM),
            workspaces: by_type(mapping::WORKSPACE),
            boards: by_type(mapping::BOARD),
            entitlements: summary.entitlements,
            grants: summary.grants,
        },
        grants_added: summary.diff.as_ref().map(|d| d.grants_added),
        grants_removed: summary.diff.as_ref().map(|d| d.grants_removed),
        duration: started.elapsed(),
        read_duration,
        requests: client_stats.requests,
        complexity_used: client_stats.complexity_used,
        rate_limit_wait: Duration::from_secs_f64(client_stats.rate_limit_wait_seconds.max(0.0)),
        dangling_relations: stats.dangling,
    })
}

/// Reads every object the snapshot needs; independent lists are fetched concurrently (the
/// client paces them under one complexity budget).
async fn fetch(client: &Client, include: &Include) -> Result<MondayData, MondayError> {
    let account = client.account().await?;
    let users = client.all_users();
    let teams = async {
        if include.teams {
            client.all_teams().await
        } else {
            Ok(Vec::new())
        }
    };
    let workspaces = async {
        if include.workspaces {
            client.all_workspaces().await
        } else {
            Ok(Vec::new())
        }
    };
    let boards = async {
        if include.boards {
            client.all_boards().await
        } else {
            Ok(Vec::new())
        }
    };
    let (users, teams, workspaces, boards) = tokio::try_join!(users, teams, workspaces, boards)?;
    Ok(MondayData {
        account: Some(account),
        users,
        teams,
        workspaces,
        boards,
    })
}

/// This process's peak resident memory so far (Linux `VmHWM`), for the sync's timing log.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Copies the latest sync of the snapshot at `src` into a file of its own at `dst` (what a
/// ConductorOne upload carries: one sync, as the SDK sends it); returns the report with `path`,
/// `sha256` and `bytes` of the copy.
pub async fn latest_sync_only(
    report: SyncReport,
    src: &Path,
    dst: &Path,
) -> Result<SyncReport, SyncError> {
    let (src, dst_owned) = (src.to_path_buf(), dst.to_path_buf());
    let opts = default_disk_options().write_options();
    let (sync_id, sha256, bytes) =
        tokio::task::spawn_blocking(move || baton::write_latest_sync(&src, &dst_owned, &opts))
            .await
            .map_err(|e| SyncError::Snapshot(format!("copy task failed: {e}")))??;
    if sync_id != report.sync_id {
        return Err(SyncError::Snapshot(format!(
            "the snapshot's latest sync is {sync_id}, not the one just written ({})",
            report.sync_id
        )));
    }
    Ok(SyncReport {
        path: dst.to_path_buf(),
        sha256,
        bytes,
        ..report
    })
}
