//! Disk on the real node: the chart's default volumes hold tenant L (50,000 users, 1.06M grants)
//! in the operator pod, for the first sync and for the second (the one that keeps the previous
//! sync beside the new one), without the kubelet evicting the pod; and a scratch volume too small
//! for it ends the sync with reason DiskFull, the pod still running and the last good snapshot
//! kept byte for byte. Figures (wall time, volume peaks) are printed, not asserted on.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use monday_emulator::{Config, Emulator, Limits, Size};
use serde_json::{Value, json};

use super::chart::{
    DATA_DIR, Release, condition, connector, fresh_namespace, get_connector, kubectl_ok, pod_uid,
    ready_pods, request_sync, serial, sha256_file,
};
use crate::support;
use support::node::{self, Node, dir_size, eventually};

const MB: f64 = 1e6;

/// Samples the bytes allocated in two folders every 100 ms until stopped; keeps the peaks.
struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<[AtomicU64; 2]>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    fn start(data: PathBuf, scratch: PathBuf) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let (s, p) = (stop.clone(), peaks.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p[0].fetch_max(dir_size(&data), Ordering::Relaxed);
                p[1].fetch_max(dir_size(&scratch), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler {
            stop,
            peaks,
            thread: Some(thread),
        }
    }

    /// Stops sampling; returns the peaks (data, scratch) in bytes.
    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (
            self.peaks[0].load(Ordering::Relaxed),
            self.peaks[1].load(Ordering::Relaxed),
        )
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A hostPath PersistentVolume owned by the operator's user (fsGroup does not apply to hostPath).
fn persistent_volume(node: &Node, prefix: &str, size: &str) -> (String, PathBuf) {
    let pv = format!("{prefix}-{}", support::random_suffix());
    let dir = node.dir.join("volumes").join(&pv);
    std::fs::create_dir_all(&dir).expect("volume folder");
    std::os::unix::fs::chown(&dir, Some(65532), Some(65532)).expect("chown volume");
    node::apply_json(&json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": dir, "type": "Directory"},
        },
    }));
    (pv, dir)
}

fn container_status(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}

/// The release's one pod, which must not have been restarted or evicted.
fn the_pod(namespace: &str, release: &Release) -> Value {
    let pods = node::pods(namespace, &release.selector());
    assert_eq!(pods.len(), 1, "one operator pod: {pods:#?}");
    let pod = pods.into_iter().next().expect("pod");
    assert_eq!(
        pod["status"]["phase"], "Running",
        "not evicted: {}",
        pod["status"]
    );
    assert_eq!(
        container_status(&pod)["restartCount"],
        0,
        "never restarted (no OOM kill, no eviction): {}",
        pod["status"]
    );
    pod
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn tenant_l_syncs_in_the_pod_with_the_chart_defaults_and_a_too_small_scratch_volume_fails_with_disk_full()
 {
    let node = node::node();
    let _serial = serial();
    let started = Instant::now();
    // The limits are Monday's to pace, not the disk's: off, so the test measures the disk work.
    let emu = Emulator::start(
        node.emulator_config(Config::generated(Size::L, 1).limits(Limits::unlimited())),
    )
    .expect("emulator");
    let grants = emu.ground_truth().grants.len() as i64;
    eprintln!(
        "tenant L: {grants} grants, emulator up in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let system = fresh_namespace("mo-disk");
    let (pv, volume) = persistent_volume(node, "disk", "1Gi");
    // The defaults (persistence.size 1Gi passed as --data-size-limit, scratch.sizeLimit 2Gi,
    // memory limit 512Mi), with the snapshots on a volume that outlives the pod.
    let mut release = Release::install("disk", &system, &["persistence.enabled=true"]);
    let pod = ready_pods(&system, &release.selector(), 1).remove(0);
    let scratch = node.empty_dir(&pod_uid(&pod), "scratch");
    let (ns, name) = connector(&emu, false);

    let mut good = Value::Null;
    for round in ["first", "second"] {
        let sampler = Sampler::start(volume.clone(), scratch.clone());
        let t = Instant::now();
        let c = if round == "first" {
            super::chart::wait_synced(&ns, &name, Duration::from_secs(900), |id| !id.is_empty())
        } else {
            let request = request_sync(&ns, &name);
            eventually(
                Duration::from_secs(900),
                "the second sync of tenant L",
                || {
                    let c = get_connector(&ns, &name);
                    let ready = condition(&c, "Ready").is_some_and(|r| r["status"] == "True");
                    (ready && c["status"]["lastSyncRequest"] == request.as_str()).then_some(c)
                },
            )
        };
        let (data_peak, scratch_peak) = sampler.finish();
        eprintln!(
            "tenant L, {round} sync in the pod: {:.1}s, data volume peak {:.0} MB (limit 1Gi), scratch peak {:.0} MB (limit 2Gi), c1z {:.0} MB",
            t.elapsed().as_secs_f64(),
            data_peak as f64 / MB,
            scratch_peak as f64 / MB,
            c["status"]["snapshot"]["bytes"].as_f64().unwrap_or(0.0) / MB,
        );
        assert_eq!(c["status"]["counts"]["grants"].as_i64(), Some(grants));
        assert!(data_peak < 1 << 30 && scratch_peak < 2 << 30);
        the_pod(&system, &release);
        good = c;
    }
    let snapshot = good["status"]["snapshot"].clone();
    let rel = snapshot["path"]
        .as_str()
        .expect("path")
        .strip_prefix(DATA_DIR)
        .expect("under the data dir")
        .trim_start_matches('/')
        .to_string();
    let file = volume.join(&rel);
    let good_sha = snapshot["sha256"].as_str().expect("sha256").to_string();
    assert_eq!(sha256_file(&file), good_sha);

    // A scratch volume too small for tenant L: the sync fails with DiskFull and keeps the last
    // good snapshot; the pod is not evicted.
    release.upgrade(&["scratch.sizeLimit=256Mi"]);
    let pod = ready_pods(&system, &release.selector(), 1).remove(0);
    let scratch = node.empty_dir(&pod_uid(&pod), "scratch");
    let sampler = Sampler::start(volume.clone(), scratch.clone());
    let t = Instant::now();
    request_sync(&ns, &name);
    let failed = eventually(
        Duration::from_secs(900),
        "the sync to fail with DiskFull",
        || {
            let c = get_connector(&ns, &name);
            let synced = condition(&c, "Synced")?;
            // Synced names a failed sync SyncFailed, its message starts with the cause's reason.
            let message = synced["message"].as_str().unwrap_or_default();
            (synced["status"] == "False"
                && synced["reason"] == "SyncFailed"
                && message.starts_with("DiskFull: "))
            .then_some(c)
        },
    );
    let (data_peak, scratch_peak) = sampler.finish();
    let message = condition(&failed, "Synced").expect("Synced")["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    eprintln!(
        "scratch.sizeLimit=256Mi: DiskFull after {:.1}s (data peak {:.0} MB, scratch peak {:.0} MB): {message}",
        t.elapsed().as_secs_f64(),
        data_peak as f64 / MB,
        scratch_peak as f64 / MB,
    );
    assert!(message.contains("scratch folder"), "{message}");
    assert!(message.contains("scratch.sizeLimit"), "{message}");
    assert!(scratch_peak <= 256 << 20, "stayed below the limit");
    assert_eq!(
        failed["status"]["snapshot"], snapshot,
        "status still names the last good snapshot"
    );
    assert_eq!(sha256_file(&file), good_sha, "the last good snapshot kept");
    assert_eq!(
        files_in(file.parent().expect("folder")),
        vec![file.file_name().unwrap().to_string_lossy().into_owned()],
        "no temporary file left beside it"
    );
    the_pod(&system, &release);
    let leftovers = files_in(&scratch);
    assert!(leftovers.is_empty(), "scratch left empty: {leftovers:?}");
    let pods = kubectl_ok(&["get", "pods", "-n", &system]);
    assert!(!pods.contains("Evicted"), "{pods}");

    release.uninstall();
    kubectl_ok(&["delete", "pvc", "disk-monday-operator-data", "-n", &system]);
    kubectl_ok(&["delete", "pv", &pv]);
    eprintln!("disk test: {:.0}s", started.elapsed().as_secs_f64());
}
