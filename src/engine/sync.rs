//! One full sync of a Monday.com account into a v1 `.c1z` snapshot.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use secrecy::SecretString;

use super::mapping::{self, Include, MondayData, build_snapshot};
use crate::baton;
use crate::monday::{Client, ClientConfig, ClientObserver, MondayError};

/// Where and as whom to reach Monday.com.
#[derive(Clone)]
pub struct Connection {
    /// GraphQL endpoint, e.g. `https://api.monday.com/v2`.
    pub api_url: String,
    /// The API token; never printed.
    pub token: SecretString,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// What to sync.
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// Resource type ids to sync (`role`, `team`, `workspace`, `board`); `None` = all.
    /// `user` is always synced because every grant points at a user.
    pub resource_types: Option<BTreeSet<String>>,
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

/// The process-wide [`DiskOptions`] of [`sync_to_file`] and [`sync_to_file_observed`], set once
/// by `main` from the flags (the controllers call those functions without disk options).
static DEFAULT_DISK: RwLock<Option<DiskOptions>> = RwLock::new(None);

/// Sets the [`DiskOptions`] every later [`sync_to_file`] and [`sync_to_file_observed`] uses.
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
    /// CamelCase reason for Kubernetes conditions (`InvalidToken`, `RateLimited`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            SyncError::Monday(e) => e.reason(),
            SyncError::DiskFull { .. } => "DiskFull",
            SyncError::Snapshot(_) => "SnapshotWriteFailed",
        }
    }

    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Monday(e) => e.is_transient(),
            // Room can come back (other snapshots removed, a volume resized): retry with backoff.
            SyncError::DiskFull { .. } | SyncError::Snapshot(_) => true,
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
    sync_to_file_observed(conn, path, opts, None).await
}

/// [`sync_to_file`], reporting every request and wait to `observer` as it happens (the operator's
/// metrics count requests by outcome this way, failed syncs included).
pub async fn sync_to_file_observed(
    conn: &Connection,
    path: &Path,
    opts: &SyncOptions,
    observer: Option<Arc<dyn ClientObserver>>,
) -> Result<SyncReport, SyncError> {
    sync_to_file_with(conn, path, opts, &default_disk_options(), observer).await
}

/// [`sync_to_file_observed`] with explicit [`DiskOptions`] instead of the process-wide ones.
pub async fn sync_to_file_with(
    conn: &Connection,
    path: &Path,
    opts: &SyncOptions,
    disk: &DiskOptions,
    observer: Option<Arc<dyn ClientObserver>>,
) -> Result<SyncReport, SyncError> {
    let started = std::time::Instant::now();
    let started_at = jiff::Timestamp::now();
    let config = ClientConfig {
        api_url: conn.api_url.clone(),
        ..ClientConfig::default()
    };
    let client = match observer {
        Some(o) => Client::with_observer(config, conn.token.clone(), o)?,
        None => Client::new(config, conn.token.clone())?,
    };
    let include = Include::from_names(opts.resource_types.as_ref());
    let data = fetch(&client, &include).await?;
    let read_duration = started.elapsed();
    let peak_after_read = peak_rss_mib();
    let account = data.account.as_ref().map(|a| a.account.clone());

    // Mapping and writing are CPU and disk work: keep them off the async runtime's threads.
    let path_owned = path.to_path_buf();
    let write_opts = baton::WriteOptions {
        scratch_dir: disk.scratch_dir.clone(),
        scratch_limit: disk.scratch_limit,
        data_limit: disk.data_limit.clone(),
        ..baton::WriteOptions::default()
    };
    let (summary, stats) = tokio::task::spawn_blocking(move || {
        let t = std::time::Instant::now();
        let (snapshot, stats) = build_snapshot(data, &include, started_at)
            .map_err(|e| SyncError::Snapshot(e.to_string()))?;
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
