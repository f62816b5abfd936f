//! Node mode: a one-node cluster for the tests of one test binary, so the chart runs as real pods.
//!
//! Beside etcd and kube-apiserver ([`super::control_plane`]) it starts kube-controller-manager and
//! kube-scheduler (host side, like the apiserver), and a node: containerd with runc, the kubelet
//! and kube-proxy, all built or installed by `make tools` / `.ci/run`. The node lives in its own
//! mount, network and PID namespaces (`unshare`, PID 1 is `hack/node/init.sh`), so:
//!
//! - its state never collides with the host's or another run's: containerd, kubelet and CNI state
//!   live under a per-run folder, `/run`, `/var/log`, `/var/lib/cni` and `/var/lib/kubelet` are
//!   private mounts, the pods' cgroups sit under `/monday-node-<pid>` in every hierarchy;
//! - when the test binary exits (also on a panic or SIGKILL) the supervisor's `PR_SET_PDEATHSIG`
//!   kills `unshare`, whose `--kill-child` kills the namespace's PID 1, and the kernel then kills
//!   every process of the node and drops its mounts, interfaces and iptables rules;
//!   `hack/node/janitor.sh` (started detached, waiting for end-of-file on a pipe only this process
//!   holds) removes the leftover cgroups and bulky files afterwards.
//!
//! Networking: a veth pair joins the node to the host (`10.123.x.y/30`, chosen per run). The
//! apiserver listens on the host end, so the kubelet, kube-proxy and pods reach it; the bridge CNI
//! plugin gives pods `10.124.<n>.0/24` (routed from the host through the veth) and masquerades
//! their traffic to the host; kube-proxy (iptables mode, inside the node's network namespace)
//! maps the `kubernetes` Service (`10.96.0.1:443`) to the apiserver. An emulator the pods call
//! must listen on [`Node::host_ip`] ([`Node::emulator_config`]).
//!
//! cgroup v1 (this VM has hybrid v1 mounts): kubelet 1.36 refuses v1 unless `failCgroupV1: false`;
//! it runs with the `cgroupfs` driver (no systemd here) and containerd 1.6 (Debian) answers its
//! `RuntimeConfig` call with "unimplemented", which kubelet 1.36 accepts (it falls back to its own
//! `cgroupDriver`; 1.37 will require containerd 2).
//!
//! This VM's root lacks CAP_SYS_RESOURCE: no process can lower its `oom_score_adj`, so containerd
//! runs with `restrict_oom_score_adj` (pod scores are clamped to containerd's own, 0; without it
//! runc fails every sandbox with "can't get final child's PID from pipe") and the kubelet logs
//! that it cannot raise its file limit or set its own score (harmless).
//!
//! Call [`node`] before anything else in a test binary: the control plane it starts is the shared
//! one ([`super::control_plane()`] then returns it).

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::control_plane::{self, ControlPlane, ControlPlaneOptions, spawn_supervised, tool};
use super::image::{self, Image};

/// Name of the one node.
pub const NODE_NAME: &str = "monday-node";
/// Service addresses; the first is the `kubernetes` Service.
pub const SERVICE_CIDR: &str = "10.96.0.0/24";
/// ClusterIP of the `kubernetes` Service in `default`.
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
/// Where the CNI plugins of Debian's containernetworking-plugins live.
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";
/// Image name of the pod sandbox (built from `hack/node/pause.c`).
pub const PAUSE_IMAGE: &str = "monday-operator.test/pause:1";

/// The running node of this test binary.
pub struct Node {
    /// The control plane it is registered with (also [`super::control_plane()`]).
    pub cp: &'static ControlPlane,
    /// Per-run folder: configuration, containerd and kubelet state, logs.
    pub dir: PathBuf,
    /// Logs of every node process (`containerd.log`, `kubelet.log`, …).
    pub logs: PathBuf,
    /// Host end of the veth pair: the apiserver listens here, and so should the emulator.
    pub host_ip: Ipv4Addr,
    /// The node's address (its `InternalIP`).
    pub node_ip: Ipv4Addr,
    /// Pod addresses (`10.124.<n>.0/24`, per run). The host routes them to the node, so the
    /// apiserver's pod proxy (`/api/v1/namespaces/<ns>/pods/<pod>:8080/proxy/metrics`) works.
    pub pod_cidr: String,
    /// Name of the host end of the veth pair.
    pub host_link: String,
    /// containerd's socket (`ctr --address`).
    pub containerd_socket: PathBuf,
    /// The kubelet's `--root-dir`; pod volumes are under `pods/<uid>/volumes`.
    pub kubelet_root: PathBuf,
    /// Name of the node's cgroup in every hierarchy (`/sys/fs/cgroup/<controller>/<name>`).
    pub cgroup: String,
    /// Host pid of `unshare`, which holds the node's namespaces.
    pub holder_pid: u32,
    /// Inodes of the node's PID, mount and network namespaces.
    pub namespaces: Namespaces,
    /// The operator image imported into containerd.
    pub operator_image: &'static Image,
    /// Time from the first call until the node was Ready (images included).
    pub started_in: Duration,
    /// When each start-up phase ended, from the first call (for the start-up figures).
    pub phases: Vec<(&'static str, Duration)>,
    holder: Mutex<Child>,
    // Held until the process exits: the janitor starts cleaning at end-of-file.
    _janitor: Mutex<ChildStdin>,
}

/// Namespace inodes, as in `readlink /proc/<pid>/ns/*` (`pid:[<inode>]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespaces {
    pub pid: u64,
    pub mnt: u64,
    pub net: u64,
}

static NODE: OnceLock<Result<Node, String>> = OnceLock::new();

/// Starts node mode on first use and returns it. When it cannot start, every call panics with the
/// same one line naming what is missing; node tests fail, they never skip.
pub fn node() -> &'static Node {
    match try_node() {
        Ok(node) => node,
        Err(e) => panic!("node mode did not start: {e}"),
    }
}

/// [`node`] without the panic: the one line naming what is missing (for `make demo`).
pub fn try_node() -> Result<&'static Node, &'static str> {
    NODE.get_or_init(|| start().map_err(|e| format!("{e:#}").replace('\n', " ")))
        .as_ref()
        .map_err(String::as_str)
}

fn start() -> Result<Node> {
    let started = Instant::now();
    let mut phases = Vec::new();
    let mut phase = |name: &'static str| phases.push((name, started.elapsed()));
    preflight()?;
    // The image needs a release build that may take minutes when sources changed: overlap it with
    // the node's start.
    let images = std::thread::spawn(|| -> Result<(&'static Image, Image)> {
        Ok((image::operator_image()?, image::pause_image()?))
    });

    let pid = std::process::id();
    let dir = run_dir(pid).context("creating the node's run folder")?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    remove_stale_cgroups();
    let cgroup = format!("monday-node-{pid}");
    create_cgroup_root(&cgroup)?;
    let (host_ip, node_ip) = link_addresses(pid).context("choosing the veth addresses")?;
    let pod_cidr = pod_cidr(pid).context("choosing the pod addresses")?;
    let host_link = format!("mon{pid}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));

    // 1. The namespaces, with PID 1 waiting for its configuration.
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--net",
        "--pid",
        "--fork",
        "--kill-child=SIGKILL",
        "--mount-proc",
        "--propagation",
        "private",
        "bash",
    ])
    .arg(root.join("hack/node/init.sh"))
    .env("NODE_DIR", &dir)
    .env("NODE_LOGS", &logs)
    .env("NODE_IP", node_ip.to_string())
    .env("HOST_IP", host_ip.to_string())
    .env("LINK_PREFIX", "30")
    .env("NODE_NAME", NODE_NAME)
    .env("NODE_BIN", tool_dir())
    .env("PATH", node_path());
    let init_log = logs.join("init.log");
    let file = std::fs::File::create(&init_log)?;
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    let mut holder = spawn_supervised(cmd).context("starting unshare")?;
    let holder_pid = holder.id();
    let own_net = ns_inode(std::process::id(), "net")?;
    wait_until(
        Duration::from_secs(10),
        "the node's network namespace",
        || {
            check_alive(&mut holder, &init_log)?;
            Ok(ns_inode(holder_pid, "net").is_ok_and(|n| n != own_net))
        },
    )?;
    let namespaces = Namespaces {
        pid: ns_inode(holder_pid, "pid_for_children")?,
        mnt: ns_inode(holder_pid, "mnt")?,
        net: ns_inode(holder_pid, "net")?,
    };
    check_alive(&mut holder, &init_log)?;
    let janitor = start_janitor(root, &dir, &cgroup, namespaces, &host_link)?;

    // 2. The veth pair; the host end gets host_ip.
    run(Command::new("ip").args([
        "link",
        "add",
        &host_link,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &holder_pid.to_string(),
    ]))
    .context("cannot create a veth pair into the node's network namespace")?;
    run(Command::new("ip").args(["addr", "add", &format!("{host_ip}/30"), "dev", &host_link]))?;
    run(Command::new("ip").args(["link", "set", &host_link, "up"]))?;
    run(Command::new("ip").args([
        "route",
        "add",
        &pod_cidr,
        "via",
        &node_ip.to_string(),
        "dev",
        &host_link,
    ]))?;
    wait_until(Duration::from_secs(20), "the node's network", || {
        check_alive(&mut holder, &init_log)?;
        Ok(dir.join("network-ready").exists())
    })?;
    phase("namespaces and network");

    // 3. The control plane, reachable on host_ip, with identities for the node's components.
    let pki = Pki::generate(&dir)?;
    let tokens = Tokens::generate();
    let cp = control_plane::control_plane_with(|| ControlPlaneOptions {
        address: Some(host_ip),
        extra_sans: vec![
            KUBERNETES_SERVICE_IP.into(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            "kubernetes.default.svc.cluster.local".into(),
        ],
        extra_tokens: tokens.lines(),
        apiserver_args: vec![
            "--authorization-mode=Node,RBAC".into(),
            "--enable-admission-plugins=NodeRestriction".into(),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            format!(
                "--kubelet-client-certificate={}",
                pki.apiserver_client_cert.display()
            ),
            format!(
                "--kubelet-client-key={}",
                pki.apiserver_client_key.display()
            ),
            "--kubelet-preferred-address-types=InternalIP".into(),
        ],
        name: "node".into(),
    });
    if cp.options.address != Some(host_ip) {
        bail!(
            "the plain control plane already runs in this test binary: call support::node::node() before anything else"
        );
    }
    phase("etcd and kube-apiserver");

    // 4. kube-controller-manager and kube-scheduler, host side.
    let kcm_kubeconfig = dir.join("controller-manager.kubeconfig");
    write(
        &kcm_kubeconfig,
        &kubeconfig(
            &cp.server,
            &cp.ca_pem,
            "system:kube-controller-manager",
            &tokens.controller_manager,
        ),
    )?;
    let mut kcm = Command::new(require(&tool("kube-controller-manager"))?);
    kcm.arg(format!("--kubeconfig={}", kcm_kubeconfig.display()))
        .arg(format!(
            "--authentication-kubeconfig={}",
            kcm_kubeconfig.display()
        ))
        .arg(format!(
            "--authorization-kubeconfig={}",
            kcm_kubeconfig.display()
        ))
        .arg("--use-service-account-credentials=true")
        .arg(format!(
            "--service-account-private-key-file={}",
            cp.sa_key_path.display()
        ))
        .arg(format!(
            "--root-ca-file={}",
            cp.dir.join("ca.crt").display()
        ))
        .arg(format!("--service-cluster-ip-range={SERVICE_CIDR}"))
        .arg("--leader-elect=false")
        .arg("--secure-port=0")
        .arg("--controllers=*")
        .arg("--v=1");
    spawn_logged(kcm, &logs.join("kube-controller-manager.log"))?;
    let sched_kubeconfig = dir.join("scheduler.kubeconfig");
    write(
        &sched_kubeconfig,
        &kubeconfig(
            &cp.server,
            &cp.ca_pem,
            "system:kube-scheduler",
            &tokens.scheduler,
        ),
    )?;
    let mut sched = Command::new(require(&tool("kube-scheduler"))?);
    sched
        .arg(format!("--kubeconfig={}", sched_kubeconfig.display()))
        .arg(format!(
            "--authentication-kubeconfig={}",
            sched_kubeconfig.display()
        ))
        .arg(format!(
            "--authorization-kubeconfig={}",
            sched_kubeconfig.display()
        ))
        .arg("--leader-elect=false")
        .arg("--secure-port=0")
        .arg("--v=1");
    spawn_logged(sched, &logs.join("kube-scheduler.log"))?;

    // 5. The node's configuration; then PID 1 starts containerd, the kubelet and kube-proxy.
    let containerd_socket = dir.join("containerd.sock");
    let kubelet_root = dir.join("kubelet");
    write_node_config(&dir, cp, &pki, &tokens, &cgroup, node_ip, &pod_cidr)?;
    write(&dir.join("go"), "")?;
    wait_until(Duration::from_secs(30), "containerd", || {
        check_alive(&mut holder, &init_log)?;
        Ok(dir.join("containerd-ready").exists())
    })?;
    phase("containerd");

    // 6. The images (no registry is reachable: both are imported from archives).
    let (operator_image, pause) = images
        .join()
        .map_err(|_| anyhow::anyhow!("the image build panicked"))??;
    phase("operator image built");
    import_image(&containerd_socket, &pause)?;
    import_image(&containerd_socket, operator_image)?;
    phase("images imported");

    // 7. Ready: the node reports Ready and kube-proxy has programmed the kubernetes Service.
    let kubectl = |args: &[&str]| {
        Command::new(tool("kubectl"))
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(args)
            .output()
    };
    wait_until(Duration::from_secs(90), "node Ready", || {
        check_alive(&mut holder, &init_log)?;
        let out = kubectl(&[
            "get",
            "node",
            NODE_NAME,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim() == "True")
    })
    .map_err(|e| {
        anyhow::anyhow!(
            "{e}; last kubelet error: {}",
            last_error(&logs.join("kubelet.log"))
        )
    })?;
    phase("node Ready");
    wait_until(
        Duration::from_secs(30),
        "kube-proxy's rule for the kubernetes Service",
        || {
            check_alive(&mut holder, &init_log)?;
            let out = Command::new("nsenter")
                .arg(format!("--net=/proc/{holder_pid}/ns/net"))
                .args(["iptables-save", "-t", "nat"])
                .env("PATH", node_path())
                .output()?;
            Ok(String::from_utf8_lossy(&out.stdout).contains("default/kubernetes:https"))
        },
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{e}; last kube-proxy error: {}",
            last_error(&logs.join("kube-proxy.log"))
        )
    })?;
    phase("kubernetes Service programmed");

    let node = Node {
        cp,
        dir,
        logs,
        host_ip,
        node_ip,
        pod_cidr,
        host_link,
        containerd_socket,
        kubelet_root,
        cgroup,
        holder_pid,
        namespaces,
        operator_image,
        started_in: started.elapsed(),
        phases,
        holder: Mutex::new(holder),
        _janitor: Mutex::new(janitor),
    };
    let phases: Vec<String> = node
        .phases
        .iter()
        .map(|(n, t)| format!("{n} {:.1}s", t.as_secs_f64()))
        .collect();
    eprintln!(
        "test node: {NODE_NAME} ({node_ip}, apiserver {}) Ready in {:.1}s ({}), files in {}",
        node.cp.server,
        node.started_in.as_secs_f64(),
        phases.join(", "),
        node.dir.display()
    );
    Ok(node)
}

impl Node {
    /// Fails with the node's last words if its PID 1 has exited (the node is then gone).
    pub fn check_alive(&self) -> Result<()> {
        let mut holder = self.holder.lock().expect("holder lock");
        check_alive(&mut holder, &self.logs.join("init.log"))
    }

    /// `config` listening on [`Node::host_ip`] (a free port), so pods can reach the emulator.
    pub fn emulator_config(&self, mut config: monday_emulator::Config) -> monday_emulator::Config {
        config.listen = std::net::SocketAddr::from((self.host_ip, 0));
        config
    }

    /// Host folder of a pod's emptyDir volume (readable while the pod exists).
    pub fn empty_dir(&self, pod_uid: &str, volume: &str) -> PathBuf {
        self.kubelet_root
            .join("pods")
            .join(pod_uid)
            .join("volumes/kubernetes.io~empty-dir")
            .join(volume)
    }

    /// Host pids of every process in the node's PID namespace (containerd, shims, kubelet, pods).
    pub fn processes(&self) -> Vec<u32> {
        processes_in(|pid| ns_inode(pid, "pid").ok() == Some(self.namespaces.pid))
    }

    /// Host pid of the (first) process of a running container, found by its cgroup, which ends
    /// in the container id. `container_id` is the pod status' `containerID` with or without the
    /// `containerd://` prefix.
    pub fn container_pid(&self, container_id: &str) -> Option<u32> {
        let id = container_id.trim_start_matches("containerd://");
        let mut pids = processes_in(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|c| {
                c.lines()
                    .any(|l| l.contains(&self.cgroup) && l.ends_with(&format!("/{id}")))
            })
        });
        pids.sort_unstable();
        pids.first().copied()
    }

    /// Runs `ctr` against the node's containerd in the `k8s.io` namespace (the kubelet's).
    pub fn ctr(&self, args: &[&str]) -> std::process::Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.containerd_socket)
            .args(["--namespace", "k8s.io"])
            .args(args)
            .output()
            .expect("run ctr")
    }

    /// Runs a command inside the node's network namespace (e.g. `iptables-save`).
    pub fn in_netns(&self, program: &str, args: &[&str]) -> std::process::Output {
        Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", self.holder_pid))
            .arg(program)
            .args(args)
            .env("PATH", node_path())
            .output()
            .expect("run nsenter")
    }
}

/// Every requirement, checked up front so a missing piece is named in one line.
fn preflight() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "node mode needs root (it creates namespaces, mounts, cgroups and a veth pair): run the tests as root"
        );
    }
    for t in [
        "kubelet",
        "kube-proxy",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-apiserver",
        "etcd",
        "kubectl",
    ] {
        require(&tool(t))?;
    }
    for (bin, package) in [
        ("containerd", "containerd"),
        ("containerd-shim-runc-v2", "containerd"),
        ("ctr", "containerd"),
        ("runc", "runc"),
        ("iptables", "iptables"),
        ("iptables-save", "iptables"),
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("nsenter", "util-linux"),
    ] {
        if find_in_path(bin).is_none() {
            bail!(
                "{bin} not found on PATH ({}): install Debian's {package} package (.ci/run does)",
                node_path()
            );
        }
    }
    for plugin in ["bridge", "host-local", "loopback", "portmap"] {
        if !Path::new(CNI_BIN_DIR).join(plugin).exists() {
            bail!(
                "CNI plugin {plugin} not found in {CNI_BIN_DIR}: install Debian's containernetworking-plugins package (.ci/run does)"
            );
        }
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems.contains("\toverlay") {
        bail!("the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it)");
    }
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // cgroup v1 (or hybrid): the kubelet and runc need these controllers mounted.
        for c in [
            "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer",
        ] {
            if !Path::new("/sys/fs/cgroup").join(c).join("tasks").exists() {
                bail!("cgroup v1 controller {c} is not mounted at /sys/fs/cgroup/{c}");
            }
        }
    }
    if !Path::new("/proc/sys/net/bridge").exists() {
        bail!("the kernel has no bridge netfilter (net.bridge.*): kube-proxy needs br_netfilter");
    }
    let tmp = std::env::temp_dir();
    let free = free_bytes(&tmp)?;
    if free < MIN_FREE_DISK {
        bail!(
            "only {} MiB free on the filesystem of {}: the kubelet would evict every pod (DiskPressure below {} MiB); free some space",
            free >> 20,
            tmp.display(),
            MIN_FREE_DISK >> 20
        );
    }
    Ok(())
}

/// Free space node mode insists on: the kubelet evicts pods below 512 MiB (`evictionHard`), and
/// images, containers and pod volumes need some room above that.
const MIN_FREE_DISK: u64 = 1 << 30;

fn free_bytes(path: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: statvfs writes into the struct we pass; c is a valid NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        bail!(
            "statvfs {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

fn require(path: &Path) -> Result<PathBuf> {
    if !path.exists() {
        bail!(
            "{} not found: run `make tools` (hack/build-tools.sh) to build it from its Go module",
            path.display()
        );
    }
    Ok(path.to_path_buf())
}

fn tool_dir() -> PathBuf {
    tool("kubelet")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// PATH for the node's processes: sbin folders included (ip, iptables), whatever the caller's is.
fn node_path() -> String {
    let mut path = std::env::var("PATH").unwrap_or_default();
    for p in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !path.split(':').any(|x| x == p) {
            path.push(':');
            path.push_str(p);
        }
    }
    path
}

fn find_in_path(bin: &str) -> Option<PathBuf> {
    node_path()
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.exists())
}

/// The run folder `<tmp>/monday-operator-tests/node-<pid>`; folders of runs that are gone go.
fn run_dir(pid: u32) -> Result<PathBuf> {
    let base = std::env::temp_dir().join("monday-operator-tests");
    std::fs::create_dir_all(&base)?;
    for entry in std::fs::read_dir(&base)?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(p) = name
            .strip_prefix("node-")
            .and_then(|p| p.parse::<i32>().ok())
            && !pid_alive(p)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = base.join(format!("node-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn pid_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Empty cgroups of earlier runs whose janitor could not finish (a crashed machine, say).
fn remove_stale_cgroups() {
    let Ok(roots) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for root in roots.flatten() {
        let Ok(entries) = std::fs::read_dir(root.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(p) = name
                .strip_prefix("monday-node-")
                .and_then(|p| p.parse::<i32>().ok())
                && !pid_alive(p)
            {
                remove_cgroup_tree(&e.path());
            }
        }
    }
}

/// The kubelet's `cgroupRoot` must exist in every controller it checks; on cgroup v1 a new cpuset
/// cgroup starts with no CPUs and memory nodes, so those are copied from the parent.
fn create_cgroup_root(name: &str) -> Result<()> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        let dir = base.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the cgroup {}", dir.display()))?;
        return Ok(());
    }
    for entry in std::fs::read_dir(base)?.flatten() {
        let root = entry.path();
        if !root.join("cgroup.procs").exists() || root.join("cgroup.controllers").exists() {
            continue; // not a v1 hierarchy (the unified one of a hybrid set-up is left to runc)
        }
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the cgroup {}", dir.display()))?;
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(v) = std::fs::read_to_string(root.join(f)) {
                std::fs::write(dir.join(f), v.trim())
                    .with_context(|| format!("cannot set {}", dir.join(f).display()))?;
            }
        }
    }
    Ok(())
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// A /30 in 10.123.0.0/16 for the veth pair, derived from the pid and not in use on this host.
fn link_addresses(pid: u32) -> Result<(Ipv4Addr, Ipv4Addr)> {
    let out = Command::new("ip").args(["-4", "-o", "addr"]).output()?;
    let used = String::from_utf8_lossy(&out.stdout).to_string();
    for i in 0..256u32 {
        let block = (pid + i) % 16384;
        let (x, y) = ((block / 64) as u8, ((block % 64) * 4) as u8);
        let host = Ipv4Addr::new(10, 123, x, y + 1);
        if !used.contains(&format!("inet {host}/")) {
            return Ok((host, Ipv4Addr::new(10, 123, x, y + 2)));
        }
    }
    bail!("no free /30 in 10.123.0.0/16 for the node's veth pair")
}

/// A /24 in 10.124.0.0/16 for the pods, not routed on this host yet (another node's).
fn pod_cidr(pid: u32) -> Result<String> {
    let out = Command::new("ip").args(["-4", "route"]).output()?;
    let used = String::from_utf8_lossy(&out.stdout).to_string();
    for i in 0..256u32 {
        let cidr = format!("10.124.{}.0/24", (pid + i) % 256);
        if !used.lines().any(|l| l.starts_with(&cidr)) {
            return Ok(cidr);
        }
    }
    bail!("no free /24 in 10.124.0.0/16 for the node's pods")
}

fn ns_inode(pid: u32, ns: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/ns/{ns}");
    let link = std::fs::read_link(&path).with_context(|| format!("reading {path}"))?;
    let text = link.to_string_lossy();
    text.rsplit('[')
        .next()
        .and_then(|s| s.trim_end_matches(']').parse().ok())
        .with_context(|| format!("unexpected namespace link {text}"))
}

fn processes_in(pred: impl Fn(u32) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&p| pred(p))
                .collect()
        })
        .unwrap_or_default()
}

/// The janitor: detached (own process group, no PDEATHSIG), so it outlives us and cleans up.
fn start_janitor(
    root: &Path,
    dir: &Path,
    cgroup: &str,
    ns: Namespaces,
    host_link: &str,
) -> Result<ChildStdin> {
    let log = std::fs::File::create(dir.join("logs/janitor.log"))?;
    let mut child = Command::new("bash")
        .arg(root.join("hack/node/janitor.sh"))
        .arg(dir)
        .arg(cgroup)
        .arg(ns.pid.to_string())
        .arg(ns.mnt.to_string())
        .arg(ns.net.to_string())
        .arg(host_link)
        .env("PATH", node_path())
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting hack/node/janitor.sh")?;
    child.stdin.take().context("janitor stdin")
}

fn check_alive(holder: &mut Child, init_log: &Path) -> Result<()> {
    if let Ok(Some(status)) = holder.try_wait() {
        let text = std::fs::read_to_string(init_log).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| l.starts_with("node: "))
            .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("no output");
        bail!("the node exited ({status}): {last}");
    }
    Ok(())
}

/// The last error-level line of a klog file (`E1201 ...`), for one-line failure messages.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .find(|l| l.starts_with('E') || l.contains("level=error") || l.contains("level=fatal"))
        .or_else(|| text.lines().last())
        .unwrap_or("(empty log)")
        .to_string()
}

/// Certificates of the apiserver -> kubelet link: a CA the kubelet trusts for client
/// certificates, and the apiserver's client certificate (group `system:masters`, so the kubelet's
/// webhook authorizer lets `kubectl logs` and `exec` through).
struct Pki {
    kubelet_client_ca: PathBuf,
    apiserver_client_cert: PathBuf,
    apiserver_client_key: PathBuf,
}

impl Pki {
    fn generate(dir: &Path) -> Result<Pki> {
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "monday-operator test kubelet client CA",
        );
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kube-apiserver-kubelet-client");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "system:masters");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &ca)?;
        let pki = Pki {
            kubelet_client_ca: dir.join("kubelet-client-ca.crt"),
            apiserver_client_cert: dir.join("apiserver-kubelet-client.crt"),
            apiserver_client_key: dir.join("apiserver-kubelet-client.key"),
        };
        write(&pki.kubelet_client_ca, &ca.pem())?;
        write(&pki.apiserver_client_cert, &cert.pem())?;
        write(&pki.apiserver_client_key, &key.serialize_pem())?;
        Ok(pki)
    }
}

/// Static tokens of the node's components, with the identities the bootstrap RBAC roles expect.
struct Tokens {
    kubelet: String,
    proxy: String,
    controller_manager: String,
    scheduler: String,
}

impl Tokens {
    fn generate() -> Tokens {
        let t = |who: &str| format!("{who}-{}", control_plane::random_suffix());
        Tokens {
            kubelet: t("kubelet"),
            proxy: t("proxy"),
            controller_manager: t("kcm"),
            scheduler: t("scheduler"),
        }
    }

    fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "{},system:node:{NODE_NAME},node-uid,\"system:nodes\"",
                self.kubelet
            ),
            format!("{},system:kube-proxy,kube-proxy-uid,\"\"", self.proxy),
            format!(
                "{},system:kube-controller-manager,kcm-uid,\"\"",
                self.controller_manager
            ),
            format!(
                "{},system:kube-scheduler,scheduler-uid,\"\"",
                self.scheduler
            ),
        ]
    }
}

fn write_node_config(
    dir: &Path,
    cp: &ControlPlane,
    pki: &Pki,
    tokens: &Tokens,
    cgroup: &str,
    node_ip: Ipv4Addr,
    pod_cidr: &str,
) -> Result<()> {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("net.d"))?;
    // containerd 1.6 (Debian bookworm): CRI on a per-run socket, runc with cgroupfs, our pause.
    write(
        &dir.join("containerd.toml"),
        &format!(
            r#"version = 2
root = "{d}/containerd/root"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # This VM withholds CAP_SYS_RESOURCE, so nothing may lower an oom_score_adj below its own (0):
  # runc would fail every pod sandbox (the kubelet asks for -998). Clamp to containerd's own score.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{d}/net.d"
"#
        ),
    )?;
    write(
        &dir.join("net.d/10-monday.conflist"),
        &serde_json::to_string_pretty(&serde_json::json!({
            "cniVersion": "1.0.0",
            "name": "monday-node",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": true,
                    "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": "/run/cni-ipam"
                    }
                },
                {"type": "portmap", "capabilities": {"portMappings": true}}
            ]
        }))?,
    )?;
    write(
        &dir.join("kubelet.kubeconfig"),
        &kubeconfig(
            &cp.server,
            &cp.ca_pem,
            &format!("system:node:{NODE_NAME}"),
            &tokens.kubelet,
        ),
    )?;
    // cgroup v1 needs failCgroupV1: false; no systemd here, so cgroupfs. Eviction thresholds are
    // absolute and small: the node shares its disk with everything else on this machine, and a
    // percentage of a large shared disk would put it under DiskPressure for others' files.
    write(
        &dir.join("kubelet.yaml"),
        &format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
containerRuntimeEndpoint: unix://{d}/containerd.sock
address: {node_ip}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
podLogsDir: /var/log/pods
resolvConf: /etc/resolv.conf
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 512Mi
  imagefs.available: 512Mi
  nodefs.inodesFree: 5%
volumeStatsAggPeriod: 5s
maxPods: 30
"#,
            ca = pki.kubelet_client_ca.display()
        ),
    )?;
    write(
        &dir.join("kube-proxy.kubeconfig"),
        &kubeconfig(&cp.server, &cp.ca_pem, "system:kube-proxy", &tokens.proxy),
    )?;
    // Conntrack sysctls are not writable (or not ours) in a network namespace: leave them alone.
    write(
        &dir.join("kube-proxy.yaml"),
        &format!(
            r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {d}/kube-proxy.kubeconfig
hostnameOverride: {NODE_NAME}
mode: iptables
clusterCIDR: {pod_cidr}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
"#
        ),
    )?;
    Ok(())
}

/// Imports an OCI archive into containerd's `k8s.io` namespace (where the kubelet looks).
pub fn import_image(socket: &Path, image: &Image) -> Result<()> {
    run(Command::new("ctr")
        .arg("--address")
        .arg(socket)
        .args(["--namespace", "k8s.io", "images", "import"])
        .arg(&image.archive))
    .with_context(|| format!("importing {} into containerd", image.name))?;
    Ok(())
}

fn kubeconfig(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    use base64::Engine as _;
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {user}\ncurrent-context: test\n",
        ca = base64::engine::general_purpose::STANDARD.encode(ca_pem)
    )
}

fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    spawn_supervised(cmd).with_context(|| format!("spawning {:?}", log.file_stem()))
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} {:?} failed: {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write(path: &Path, content: &str) -> Result<()> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

fn wait_until(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("timed out after {timeout:?} waiting for {what}")
}

/// `kubectl get … -o json` as the admin, parsed; panics with kubectl's output on failure.
pub fn kubectl_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend(["-o", "json"]);
    let out = control_plane::kubectl(&all);
    assert!(
        out.status.success(),
        "kubectl {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kubectl json")
}

/// Polls `probe` every 250 ms until it yields a value; panics after `timeout` naming `what`
/// (and the node's last words if it died meanwhile).
pub fn eventually<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if let Some(Ok(node)) = NODE.get()
            && let Err(e) = node.check_alive()
        {
            panic!("waiting for {what}: {e}");
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Pods matching a label selector in a namespace (`items` of the list).
pub fn pods(namespace: &str, selector: &str) -> Vec<serde_json::Value> {
    kubectl_json(&["pods", "-n", namespace, "-l", selector])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether a pod is Running with condition Ready=True.
pub fn pod_ready(pod: &serde_json::Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// A one-shot `monday-operator sync` in a pod: the chart's pod (image, securityContext,
/// resources, volumes as `helm template` renders them with `values`) with the operator replaced
/// by the one-shot command, writing `/var/lib/monday-operator/sync.c1z` on the `data` volume.
///
/// For the disk work: `values` such as `persistence.emptyDirSizeLimit=512Mi` size the volume;
/// the outcome tells whether the sync completed, how the pod ended (evicted for exceeding the
/// volume's size limit, or the command's own exit code and last words) and the peak bytes the
/// data volume held (sampled every 200 ms from the host).
///
/// ```ignore
/// let node = support::node::node();
/// let emu = Emulator::start(node.emulator_config(Config::generated(Size::L, 1)))?;
/// let out = node.run_sync_pod(&SyncPod {
///     namespace: &ns,
///     api_url: &emu.url(),
///     token: emu.admin_token(),
///     values: &["persistence.emptyDirSizeLimit=1Gi"],
///     extra_args: &[],
///     timeout: Duration::from_secs(900),
/// });
/// assert!(out.succeeded(), "{out:?}");
/// ```
#[derive(Clone, Debug)]
pub struct SyncPod<'a> {
    /// Namespace to run in (it gets a Secret `sync-token` and a pod `sync-<random>`).
    pub namespace: &'a str,
    /// Monday.com GraphQL endpoint (an emulator bound with [`Node::emulator_config`]).
    pub api_url: &'a str,
    /// The API token (passed as `BATON_MONDAY_API_KEY` from the Secret).
    pub token: &'a str,
    /// `helm --set` values for the chart the pod is rendered from (empty: the chart defaults).
    pub values: &'a [&'a str],
    /// More arguments for `monday-operator sync`.
    pub extra_args: &'a [&'a str],
    /// How long to wait for the pod to finish.
    pub timeout: Duration,
}

/// How a [`SyncPod`] ended.
#[derive(Clone, Debug)]
pub struct SyncPodOutcome {
    /// Pod name.
    pub pod: String,
    /// `Succeeded` or `Failed`.
    pub phase: String,
    /// The pod's `status.reason` (e.g. `Evicted`) and message, when the kubelet ended it.
    pub reason: Option<String>,
    pub message: Option<String>,
    /// The container's exit code, when it terminated by itself.
    pub exit_code: Option<i64>,
    /// The container's log (stderr: the sync's summary or its one-line error).
    pub logs: String,
    /// Largest disk use (blocks) of the `data` volume seen while the pod ran.
    pub peak_volume_bytes: u64,
    /// Files in the `data` volume when the pod ended (name, bytes).
    pub volume_files: Vec<(String, u64)>,
    /// Wall time from creation to the end.
    pub elapsed: Duration,
}

impl SyncPodOutcome {
    /// The sync ran to completion (exit 0).
    pub fn succeeded(&self) -> bool {
        self.phase == "Succeeded" && self.exit_code == Some(0)
    }
}

impl Node {
    /// Runs [`SyncPod`] and waits for it to end; see there.
    pub fn run_sync_pod(&self, spec: &SyncPod) -> SyncPodOutcome {
        let ns = spec.namespace;
        let name = format!("sync-{}", control_plane::random_suffix());
        // The chart's pod, as users install it.
        let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/monday-operator");
        let mut args: Vec<String> = [
            "template",
            "sync",
            chart.to_str().expect("utf-8 path"),
            "--namespace",
            ns,
            "--kube-version",
            "v1.36.3",
            "--show-only",
            "templates/deployment.yaml",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for v in spec.values {
            args.push("--set".into());
            args.push(v.to_string());
        }
        let out = Command::new(tool("helm"))
            .args(&args)
            .output()
            .expect("run helm");
        assert!(
            out.status.success(),
            "helm template: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deploy: serde_json::Value =
            serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).expect("deployment");
        let mut pod_spec = deploy["spec"]["template"]["spec"].clone();
        pod_spec["restartPolicy"] = "Never".into();
        pod_spec["serviceAccountName"] = "default".into();
        pod_spec["automountServiceAccountToken"] = false.into();
        let c = &mut pod_spec["containers"][0];
        let mut command = vec![
            "/monday-operator".to_string(),
            "sync".into(),
            "--file".into(),
            "/var/lib/monday-operator/sync.c1z".into(),
            "--api-url".into(),
            spec.api_url.into(),
            "--log-format".into(),
            "json".into(),
        ];
        // The chart's disk flags, so the sync stays within its volumes as the operator would.
        let disk_flags = [
            "--data-size-limit=",
            "--scratch-dir=",
            "--scratch-size-limit=",
        ];
        command.extend(
            c["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .filter(|a| disk_flags.iter().any(|f| a.starts_with(f)))
                .map(String::from),
        );
        command.extend(spec.extra_args.iter().map(|s| s.to_string()));
        c["command"] = serde_json::json!(command);
        c["args"] = serde_json::json!([]);
        for probe in ["livenessProbe", "readinessProbe"] {
            if let Some(o) = c.as_object_mut() {
                o.remove(probe);
            }
        }
        c["env"] = serde_json::json!([{
            "name": "BATON_MONDAY_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "sync-token", "key": "token"}}
        }]);
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "sync-token", "namespace": ns},
            "stringData": {"token": spec.token},
        });
        let pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "monday-sync"}},
            "spec": pod_spec,
        });
        apply_json(&secret);
        wait_for_default_service_account(ns);
        apply_json(&pod);

        let started = Instant::now();
        let deadline = started + spec.timeout;
        let mut peak = 0u64;
        let mut uid = String::new();
        let mut files = Vec::new();
        let pod = loop {
            let p = kubectl_json(&["pod", &name, "-n", ns]);
            if uid.is_empty() {
                uid = p["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            let dir = self.empty_dir(&uid, "data");
            if dir.exists() {
                peak = peak.max(dir_size(&dir));
                files = list_files(&dir);
            }
            let phase = p["status"]["phase"].as_str().unwrap_or_default();
            if phase == "Succeeded" || phase == "Failed" {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "sync pod {ns}/{name} still {phase} after {:?}",
                spec.timeout
            );
            if let Err(e) = self.check_alive() {
                panic!("sync pod {ns}/{name}: {e}");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let terminated = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
        let logs = control_plane::kubectl(&["logs", "-n", ns, &name]);
        let text = |v: &serde_json::Value| v.as_str().map(String::from);
        SyncPodOutcome {
            pod: name,
            phase: pod["status"]["phase"].as_str().unwrap_or_default().into(),
            reason: text(&pod["status"]["reason"]),
            message: text(&pod["status"]["message"]),
            exit_code: terminated["exitCode"].as_i64(),
            logs: String::from_utf8_lossy(&logs.stdout).into_owned(),
            peak_volume_bytes: peak,
            volume_files: files,
            elapsed: started.elapsed(),
        }
    }
}

/// `kubectl apply` of one object. Right after the chart (re)creates the CRDs, the
/// MutatingAdmissionPolicies cannot patch a kind until the apiserver refreshed their schema
/// (every 5 s) and answer ServiceUnavailable; the README tells users to retry, and so does this.
pub fn apply_json(obj: &serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("obj.json");
    std::fs::write(&path, serde_json::to_vec(obj).expect("json")).expect("write");
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = control_plane::kubectl(&["apply", "-f", path.to_str().expect("utf-8")]);
        if out.status.success()
            || !String::from_utf8_lossy(&out.stderr).contains("ServiceUnavailable")
            || Instant::now() > deadline
        {
            break out;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        out.status.success(),
        "kubectl apply {obj}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pods need their ServiceAccount; kube-controller-manager creates `default` in a new namespace
/// a moment after the namespace.
pub fn wait_for_default_service_account(namespace: &str) {
    eventually(
        Duration::from_secs(30),
        "the default ServiceAccount",
        || {
            control_plane::kubectl(&["get", "serviceaccount", "default", "-n", namespace])
                .status
                .success()
                .then_some(())
        },
    );
}

/// Disk blocks in use under `dir` (what `du` and the kubelet's volume accounting count).
pub fn dir_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    total
}

fn list_files(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(m) = e.metadata() {
                out.push((e.file_name().to_string_lossy().into_owned(), m.len()));
            }
        }
    }
    out.sort();
    out
}
