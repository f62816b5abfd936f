//! A real etcd + kube-apiserver for the tests of one test binary.
//!
//! The binaries are built from their published Go modules by `hack/build-tools.sh` (`make tools`)
//! and found under `target/tools/bin` (or `$MONDAY_TOOLS_BIN`). A missing binary fails the test
//! with a hint: tests never skip because the control plane is missing.
//!
//! Every child process is spawned from one supervisor thread that lives as long as the test
//! process, with `PR_SET_PDEATHSIG = SIGKILL`: when the test binary exits (normally or on a panic),
//! the kernel kills etcd, the apiserver and anything else started through [`spawn_supervised`].

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Token of the `admin` identity (group `system:masters`).
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// Token of the `alice` identity: authenticated, no RBAC bindings at all.
pub const USER_TOKEN: &str = "test-user-token";
/// User name behind [`USER_TOKEN`].
pub const USER_NAME: &str = "alice";

/// More identities in the static token file, for tests with several people (requesters,
/// approvers): `(name, token, groups)`. None has any RBAC binding until a test creates one. The
/// apiserver adds `system:authenticated` to each.
pub const IDENTITIES: &[(&str, &str, &[&str])] = &[
    ("bob", "test-bob-token", &["approvers", "sre"]),
    ("carol", "test-carol-token", &["developers"]),
    ("dave", "test-dave-token", &["approvers"]),
];

/// How a control plane is set up beyond the defaults. Node mode (`node.rs`) needs the apiserver
/// reachable from pods and kubelets: a non-loopback address, the `kubernetes` Service names in
/// the certificate, identities for the node's components, the Node authorizer.
#[derive(Clone, Debug, Default)]
pub struct ControlPlaneOptions {
    /// More kube-apiserver flags as `--name=value` (e.g. `--runtime-config=...`); one that names
    /// a default flag replaces it.
    pub apiserver_args: Vec<String>,
    /// Suffix of the data folder, so two control planes of one process do not share it.
    pub name: String,
    /// Bind and advertise address instead of 127.0.0.1 (it must exist on this host).
    pub address: Option<std::net::Ipv4Addr>,
    /// More subject alternative names of the serving certificate (IP addresses or DNS names).
    pub extra_sans: Vec<String>,
    /// More lines of the static token file (`token,user,uid,"group1,group2"`).
    pub extra_tokens: Vec<String>,
}

/// The running control plane of this test binary.
pub struct ControlPlane {
    /// `https://127.0.0.1:<port>`.
    pub server: String,
    /// Folder with certificates, kubeconfigs, etcd data and process logs.
    pub dir: PathBuf,
    /// Kubeconfig of the admin identity (for kubectl and helm).
    pub kubeconfig: PathBuf,
    /// Kubeconfig of the non-admin identity.
    pub user_kubeconfig: PathBuf,
    /// PEM of the CA that signed the serving certificate.
    pub ca_pem: String,
    /// The service-account signing key, so tests can check TokenRequest tokens.
    pub sa_key_path: PathBuf,
    /// Process ids of etcd and kube-apiserver (the cleanup test checks they die with us).
    pub pids: Vec<u32>,
    /// What it was started with.
    pub options: ControlPlaneOptions,
}

static CONTROL_PLANE: OnceLock<ControlPlane> = OnceLock::new();

/// Starts the control plane on first use and returns it; later calls share it.
pub fn control_plane() -> &'static ControlPlane {
    control_plane_with(ControlPlaneOptions::default)
}

/// Like [`control_plane`], but with `options` if this call starts it. The first call of the test
/// binary decides; callers that need particular options check [`ControlPlane::options`].
pub fn control_plane_with(options: impl FnOnce() -> ControlPlaneOptions) -> &'static ControlPlane {
    CONTROL_PLANE.get_or_init(|| match start_control_plane(&options()) {
        Ok(cp) => cp,
        Err(e) => panic!("could not start the test control plane: {e:#}"),
    })
}

/// Path of a test tool (`kube-apiserver`, `etcd`, `kubectl`, `helm`, `baton`).
pub fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("MONDAY_TOOLS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin"));
    dir.join(name)
}

fn require_tool(name: &str) -> Result<PathBuf> {
    let path = tool(name);
    if !path.exists() {
        bail!(
            "{} not found: run `make tools` (hack/build-tools.sh) to build it from its Go module",
            path.display()
        );
    }
    Ok(path)
}

/// Admin client for the shared control plane. Each call builds a new client, because a client's
/// connection pool belongs to the tokio runtime of the test that made it.
pub async fn client() -> kube::Client {
    client_for(&control_plane().kubeconfig).await
}

/// Client of the non-admin identity `alice`.
pub async fn user_client() -> kube::Client {
    client_for(&control_plane().user_kubeconfig).await
}

/// Kubeconfig of one of `admin`, `alice` or the [`IDENTITIES`] on `cp`.
pub fn identity_kubeconfig(cp: &ControlPlane, name: &str) -> PathBuf {
    match name {
        "admin" => cp.kubeconfig.clone(),
        USER_NAME => cp.user_kubeconfig.clone(),
        _ => {
            assert!(
                IDENTITIES.iter().any(|(n, ..)| *n == name),
                "no identity {name} in the token file"
            );
            cp.dir.join(format!("{name}.kubeconfig"))
        }
    }
}

/// Client of one identity (see [`identity_kubeconfig`]) on `cp`.
pub async fn identity_client(cp: &ControlPlane, name: &str) -> kube::Client {
    client_for(&identity_kubeconfig(cp, name)).await
}

/// Client for any kubeconfig (e.g. a ServiceAccount's).
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("readable kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("valid kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

/// Creates a fresh namespace with a unique name and returns the name.
pub async fn namespace(client: &kube::Client, prefix: &str) -> String {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, PostParams};
    let name = format!("{prefix}-{}", random_suffix());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name}
    }))
    .expect("namespace object");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    name
}

/// Applies every CRD of the operator (server-side apply, idempotent) and waits until each is
/// Established; every test binary that creates custom objects starts with it.
pub async fn install_crds(client: &kube::Client) {
    apply_crds(client, monday_operator::api::crds()).await;
}

/// Applies `crds` (server-side) and waits until each is Established.
pub async fn apply_crds(
    client: &kube::Client,
    crds: Vec<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    >,
) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Api, Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds {
        let name = crd.metadata.name.clone().expect("crd name");
        api.patch(
            &name,
            &PatchParams::apply("monday-operator-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("apply crd");
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(api.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .expect("crd established in time")
        .expect("watch crd");
    }
}

/// A short random lowercase suffix for object names.
pub fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..6)
        .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
        .collect()
}

/// Runs `kubectl` with the admin kubeconfig and returns its output.
pub fn kubectl(args: &[&str]) -> std::process::Output {
    kubectl_with(&control_plane().kubeconfig, args)
}

/// kubectl against the control plane of `kubeconfig`.
pub fn kubectl_with(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .expect("run kubectl")
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` from the supervisor thread so it dies with the test process (PDEATHSIG is tied
/// to the spawning thread, and test threads come and go).
pub fn spawn_supervised(mut cmd: Command) -> std::io::Result<Child> {
    static SUPERVISOR: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let tx = SUPERVISOR.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("test-supervisor".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The channel lives in a static and never closes; park in case it ever does,
                // because this thread's exit would kill every child.
                loop {
                    std::thread::park();
                }
            })
            .expect("supervisor thread");
        Mutex::new(tx)
    });
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.lock()
        .expect("supervisor lock")
        .send((cmd, reply_tx))
        .expect("supervisor alive");
    reply_rx.recv().expect("supervisor reply")
}

/// A free TCP port on loopback (bound and released; a race with other processes is unlikely).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A control plane of its own for the tests that install cluster-scoped objects (admission
/// policies, the chart's or kustomize's ClusterRoles): started on first use of `name`, shared by
/// the tests that ask for the same name, and never the binary's shared [`control_plane`], so
/// those objects cannot collide with another test's.
pub fn own_control_plane(name: &'static str) -> &'static ControlPlane {
    static PLANES: Mutex<Vec<(&'static str, &'static ControlPlane)>> = Mutex::new(Vec::new());
    let mut planes = PLANES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, cp)) = planes.iter().find(|(n, _)| *n == name) {
        return cp;
    }
    let cp = match start_control_plane(&ControlPlaneOptions {
        name: name.to_string(),
        ..Default::default()
    }) {
        Ok(cp) => Box::leak(Box::new(cp)),
        Err(e) => panic!("could not start the control plane {name}: {e:#}"),
    };
    planes.push((name, cp));
    cp
}

/// Starts another control plane (own etcd, own apiserver, own folder) with `opts`, e.g. an
/// apiserver without some API; it lives until the test process exits. Prefer [`control_plane`].
pub fn start_control_plane(opts: &ControlPlaneOptions) -> Result<ControlPlane> {
    let started = Instant::now();
    let apiserver = require_tool("kube-apiserver")?;
    let etcd = require_tool("etcd")?;
    let dir = data_dir(&opts.name)?;

    // Certificates: a CA, a serving certificate for 127.0.0.1/localhost, a service-account key.
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "monday-operator test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
    let serving_key = rcgen::KeyPair::generate()?;
    let address = opts
        .address
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST)
        .to_string();
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    sans.extend(opts.extra_sans.iter().cloned());
    if !sans.contains(&address) {
        sans.push(address.clone());
    }
    let serving_params = rcgen::CertificateParams::new(sans)?;
    let serving = serving_params.signed_by(&serving_key, &ca)?;
    let sa_key = rcgen::KeyPair::generate()?;
    let ca_pem = ca.pem();
    write(&dir.join("ca.crt"), &ca_pem)?;
    write(&dir.join("serving.crt"), &serving.pem())?;
    write(&dir.join("serving.key"), &serving_key.serialize_pem())?;
    let sa_key_path = dir.join("sa.key");
    write(&sa_key_path, &sa_key.serialize_pem())?;
    write(&dir.join("sa.pub"), &sa_key.public_key_pem())?;
    let mut tokens = format!(
        "{ADMIN_TOKEN},admin,admin-uid,\"system:masters\"\n{USER_TOKEN},{USER_NAME},alice-uid,\"developers\"\n"
    );
    for (name, token, groups) in IDENTITIES {
        tokens.push_str(&format!(
            "{token},{name},{name}-uid,\"{}\"\n",
            groups.join(",")
        ));
    }
    for line in &opts.extra_tokens {
        tokens.push_str(line);
        tokens.push('\n');
    }
    write(&dir.join("tokens.csv"), &tokens)?;

    // etcd
    let (client_port, peer_port) = (free_port(), free_port());
    let etcd_url = format!("http://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut cmd = Command::new(etcd);
    cmd.arg("--name=default")
        .arg(format!("--data-dir={}", dir.join("etcd").display()))
        .arg(format!("--listen-client-urls={etcd_url}"))
        .arg(format!("--advertise-client-urls={etcd_url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster=default={peer_url}"))
        .arg("--unsafe-no-fsync")
        .arg("--log-level=warn");
    let mut etcd_child = spawn_logged(cmd, &dir.join("etcd.log"))?;
    wait_until(Duration::from_secs(30), "etcd health", || {
        if let Ok(Some(status)) = etcd_child.try_wait() {
            bail!(
                "etcd exited with {status}; log:\n{}",
                log_tail(&dir.join("etcd.log"))
            );
        }
        Ok(http_get_ok(client_port, "/health"))
    })?;

    // kube-apiserver
    let port = free_port();
    let server = format!("https://{address}:{port}");
    let mut cmd = Command::new(apiserver);
    cmd.arg(format!("--etcd-servers={etcd_url}"))
        .arg(format!("--secure-port={port}"))
        .arg(format!("--bind-address={address}"))
        .arg(format!("--advertise-address={address}"))
        .arg(format!(
            "--cert-dir={}",
            dir.join("apiserver-certs").display()
        ))
        .arg(format!(
            "--tls-cert-file={}",
            dir.join("serving.crt").display()
        ))
        .arg(format!(
            "--tls-private-key-file={}",
            dir.join("serving.key").display()
        ))
        .arg(format!(
            "--token-auth-file={}",
            dir.join("tokens.csv").display()
        ))
        .arg("--authorization-mode=RBAC")
        .arg("--service-account-issuer=https://kubernetes.default.svc")
        .arg(format!(
            "--service-account-key-file={}",
            dir.join("sa.pub").display()
        ))
        .arg(format!(
            "--service-account-signing-key-file={}",
            sa_key_path.display()
        ))
        .arg("--api-audiences=https://kubernetes.default.svc")
        .arg("--service-cluster-ip-range=10.96.0.0/24")
        .arg("--enable-priority-and-fairness=false")
        .arg("--profiling=false")
        .arg("--v=1");
    let cmd = with_overrides(cmd, &opts.apiserver_args);
    let mut apiserver_child = spawn_logged(cmd, &dir.join("kube-apiserver.log"))?;

    let kubeconfig = dir.join("admin.kubeconfig");
    let user_kubeconfig = dir.join("alice.kubeconfig");
    write(
        &kubeconfig,
        &kubeconfig_yaml(&server, &ca_pem, "admin", ADMIN_TOKEN),
    )?;
    write(
        &user_kubeconfig,
        &kubeconfig_yaml(&server, &ca_pem, USER_NAME, USER_TOKEN),
    )?;
    for (name, token, _) in IDENTITIES {
        write(
            &dir.join(format!("{name}.kubeconfig")),
            &kubeconfig_yaml(&server, &ca_pem, name, token),
        )?;
    }

    let readyz_log = dir.join("kube-apiserver.log");
    wait_until(Duration::from_secs(120), "kube-apiserver /readyz", || {
        if let Ok(Some(status)) = apiserver_child.try_wait() {
            bail!(
                "kube-apiserver exited with {status}; log:\n{}",
                log_tail(&readyz_log)
            );
        }
        Ok(readyz(&kubeconfig))
    })?;
    eprintln!(
        "test control plane: kube-apiserver {server} (etcd {etcd_url}) ready in {:.1}s, files in {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(ControlPlane {
        server,
        dir,
        kubeconfig,
        user_kubeconfig,
        ca_pem,
        sa_key_path,
        pids: vec![etcd_child.id(), apiserver_child.id()],
        options: opts.clone(),
    })
}

/// `cmd` with `extra` flags (`--name=value`) added; each replaces a flag of the same name, since
/// some apiserver flags are lists that would otherwise accumulate.
fn with_overrides(cmd: Command, extra: &[String]) -> Command {
    let flag = |a: &str| a.split_once('=').map(|(k, _)| k.to_string());
    let replaced: Vec<String> = extra.iter().filter_map(|e| flag(e)).collect();
    let mut out = Command::new(cmd.get_program());
    out.args(
        cmd.get_args()
            .filter(|a| {
                a.to_str()
                    .and_then(flag)
                    .is_none_or(|k| !replaced.contains(&k))
            })
            .map(|a| a.to_os_string()),
    );
    out.args(extra);
    out
}

/// Polls `/readyz` through kubectl, which already speaks TLS with the kubeconfig's CA.
fn readyz(kubeconfig: &Path) -> bool {
    Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "--raw", "/readyz"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn kubeconfig_yaml(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    use base64::Engine as _;
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {user}\n    namespace: default\ncurrent-context: test\n",
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
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("timed out after {timeout:?} waiting for {what}")
}

fn http_get_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.contains(" 200 ")
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn write(path: &Path, content: &str) -> Result<()> {
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

/// A fresh folder for this test process (and `name`, when not empty); folders of earlier
/// processes that are gone are removed.
fn data_dir(name: &str) -> Result<PathBuf> {
    let base = std::env::temp_dir().join("monday-operator-tests");
    std::fs::create_dir_all(&base)?;
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let pid = name
                .strip_prefix("cp-")
                .and_then(|p| p.split('-').next())
                .and_then(|p| p.parse::<i32>().ok());
            // SAFETY: kill with signal 0 only checks whether the process exists.
            if let Some(pid) = pid
                && unsafe { libc::kill(pid, 0) } != 0
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = if name.is_empty() {
        base.join(format!("cp-{}", std::process::id()))
    } else {
        base.join(format!("cp-{}-{name}", std::process::id()))
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
