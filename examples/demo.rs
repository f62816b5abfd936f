//! `make demo`: the whole product on one machine, on an embedded default.
//!
//! Starts a one-node cluster (the same harness the tests use: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, containerd, the kubelet and kube-proxy), builds the
//! operator image from the Dockerfile's recipe, starts the Monday.com emulator with a seeded
//! tenant and installs the Helm chart, so the operator runs as a pod. Then it applies the samples
//! (the old set-up's Secret, a MondayConnector, a just-in-time MondayAccessGrant), waits until the
//! connector is Ready and the grant Granted, prints what a user sees, and keeps running until
//! Ctrl-C (which stops every process it started; the node's janitor removes the rest).
//!
//! Where the node cannot run (not root, no containerd, …) it says why in one line and runs the
//! operator as a local process with the chart's ServiceAccount identity instead.

#[path = "../tests/it/support/control_plane.rs"]
#[allow(dead_code)]
mod control_plane;
#[path = "../tests/it/support/image.rs"]
#[allow(dead_code)]
mod image;
#[path = "../tests/it/support/node.rs"]
#[allow(dead_code)]
mod node;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use control_plane::{ControlPlane, control_plane, free_port, spawn_supervised, tool};
use monday_emulator::{Config, Emulator, EmulatorHandle, Size};

const NAMESPACE: &str = "monday-demo";
const SYSTEM_NAMESPACE: &str = "monday-system";

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    step(
        "Starting a one-node cluster (etcd, kube-apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy v1.36.3) and building the operator image from the Dockerfile's recipe (the first build takes minutes)",
    );
    let started = Instant::now();
    match node::try_node() {
        Ok(node) => {
            println!(
                "   node {} Ready in {:.0}s; logs in {}",
                node::NODE_NAME,
                started.elapsed().as_secs_f64(),
                node.logs.display()
            );
            as_pod(root, node)
        }
        Err(why) => {
            println!("   node mode unavailable: {why}");
            println!("   running the operator as a local process instead");
            step("Starting a local control plane (etcd + kube-apiserver v1.36.3)");
            as_process(root)
        }
    }
}

/// The operator as a pod on the node, installed by the chart with its defaults.
fn as_pod(root: &Path, node: &'static node::Node) -> Result<()> {
    let cp = node.cp;
    step("Starting the Monday.com emulator (tenant S, seed 1)");
    let emu = Emulator::start(node.emulator_config(Config::generated(Size::S, 1)))
        .context("starting the emulator")?;
    println!("   {}", emu.url());

    step("Installing the chart: helm install monday-operator charts/monday-operator --wait");
    let chart = root.join("charts/monday-operator");
    run(Command::new(tool("helm"))
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args(["install", "monday-operator"])
        .arg(&chart)
        .args([
            "--namespace",
            SYSTEM_NAMESPACE,
            "--create-namespace",
            "--wait",
            "--timeout",
            "180s",
        ])
        .env("HELM_CACHE_HOME", cp.dir.join("helm/cache"))
        .env("HELM_CONFIG_HOME", cp.dir.join("helm/config"))
        .env("HELM_DATA_HOME", cp.dir.join("helm/data")))?;
    let pod = operator_pod(&cp.kubeconfig)?;
    println!("   pod {} is Ready", pod.0);

    apply_samples(root, cp, &emu)?;
    let data_dir = node.empty_dir(&pod.1, "data");
    let board = wait_for_grant(cp, &emu, &data_dir)?;

    step("What you see");
    show(cp, &["get", "pods", "-n", SYSTEM_NAMESPACE, "-o", "wide"])?;
    show(cp, &["get", "mcon,mgrant", "-n", NAMESPACE, "-o", "wide"])?;
    access_summary(&data_dir, &format!("board:{board}:subscriber"))?;
    println!(
        "\nEverything is running. Try:\n  export KUBECONFIG={}\n  kubectl get pods -A\n  kubectl logs -n {SYSTEM_NAMESPACE} deploy/monday-operator\n  kubectl get monday -A\n  kubectl describe mcon -n {NAMESPACE}\nPress Ctrl-C to stop; every process started here stops with it.",
        cp.kubeconfig.display()
    );
    wait_forever()
}

/// Name and UID of the operator's Ready pod.
fn operator_pod(kubeconfig: &Path) -> Result<(String, String)> {
    let out = run(Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "get",
            "pods",
            "-n",
            SYSTEM_NAMESPACE,
            "-l",
            "app.kubernetes.io/instance=monday-operator",
            "-o",
            "jsonpath={.items[0].metadata.name} {.items[0].metadata.uid}",
        ]))?;
    let (name, uid) = out
        .trim()
        .split_once(' ')
        .context("no operator pod after helm install --wait")?;
    Ok((name.to_string(), uid.to_string()))
}

/// The operator as a local process with the chart's ServiceAccount identity (no node here).
fn as_process(root: &Path) -> Result<()> {
    let operator = operator_binary()?;
    let cp = control_plane();

    step("Starting the Monday.com emulator (tenant S, seed 1)");
    let emu = Emulator::start(Config::generated(Size::S, 1)).context("starting the emulator")?;
    println!("   {}", emu.url());

    step("Installing the chart's CRDs and RBAC (helm template | kubectl apply)");
    kubectl(
        &cp.kubeconfig,
        &["create", "namespace", SYSTEM_NAMESPACE],
        None,
    )?;
    let rendered = run(Command::new(tool("helm")).args([
        "template",
        "monday-operator",
        root.join("charts/monday-operator")
            .to_str()
            .context("utf-8 path")?,
        "--namespace",
        SYSTEM_NAMESPACE,
        "--kube-version",
        "v1.36.3",
    ]))?;
    kubectl(&cp.kubeconfig, &["apply", "-f", "-"], Some(&rendered))?;
    wait_for(
        &cp.kubeconfig,
        &[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=60s",
        ],
    )?;

    step("Running the operator as the chart's ServiceAccount");
    let token = run(Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(&cp.kubeconfig)
        .args([
            "create",
            "token",
            "monday-operator",
            "-n",
            SYSTEM_NAMESPACE,
            "--duration=24h",
        ]))?;
    let sa_kubeconfig = cp.dir.join("operator.kubeconfig");
    std::fs::write(
        &sa_kubeconfig,
        kubeconfig(&cp.server, &cp.ca_pem, token.trim()),
    )?;
    let data_dir = cp.dir.join("snapshots");
    let metrics = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(cp.dir.join("operator.log"))?;
    let mut cmd = Command::new(&operator);
    cmd.args([
        "run",
        "--leader-election=false",
        "--metrics-addr",
        &metrics,
        "--data-dir",
    ])
    .arg(&data_dir)
    .env("KUBECONFIG", &sa_kubeconfig)
    .env("POD_NAMESPACE", SYSTEM_NAMESPACE)
    .stdout(Stdio::null())
    .stderr(log);
    let _operator = spawn_supervised(cmd).context("starting the operator")?;
    println!(
        "   logs: {}   metrics: http://{metrics}/metrics",
        cp.dir.join("operator.log").display()
    );

    apply_samples(root, cp, &emu)?;
    let board = wait_for_grant(cp, &emu, &data_dir)?;

    step("What you see");
    show(cp, &["get", "mcon,mgrant", "-n", NAMESPACE, "-o", "wide"])?;
    access_summary(&data_dir, &format!("board:{board}:subscriber"))?;

    println!(
        "\nEverything is running. Try:\n  export KUBECONFIG={}\n  kubectl get monday -A\n  kubectl describe mcon -n {NAMESPACE}\nPress Ctrl-C to stop; every process started here stops with it.",
        cp.kubeconfig.display()
    );
    wait_forever()
}

fn wait_forever() -> Result<()> {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The samples: the old set-up's Secret, a MondayConnector against the emulator, then waits until
/// it is Ready.
fn apply_samples(root: &Path, cp: &ControlPlane, emu: &EmulatorHandle) -> Result<()> {
    step(
        "Applying the samples: the old set-up's Secret, a MondayConnector, a 2-minute MondayAccessGrant",
    );
    kubectl(&cp.kubeconfig, &["create", "namespace", NAMESPACE], None)?;
    let samples = std::fs::read_to_string(root.join("config/samples/secret.yaml"))
        .context("reading config/samples/secret.yaml")?
        .replace("<Monday.com API token>", emu.admin_token())
        // No ConductorOne here: the placeholders would start service mode and fail.
        .lines()
        .filter(|l| !l.contains("<ConductorOne client"))
        .collect::<Vec<_>>()
        .join("\n");
    kubectl(
        &cp.kubeconfig,
        &["apply", "-n", NAMESPACE, "-f", "-"],
        Some(&samples),
    )?;
    let connector = std::fs::read_to_string(root.join("config/samples/connector.yaml"))?
        .replace("https://api.monday.com/v2", &emu.url());
    let connector = if connector.contains("apiUrl") {
        connector
    } else {
        connector.replacen("spec:\n", &format!("spec:\n  apiUrl: {}\n", emu.url()), 1)
    };
    kubectl(
        &cp.kubeconfig,
        &["apply", "-n", NAMESPACE, "-f", "-"],
        Some(&connector),
    )?;
    wait_for(
        &cp.kubeconfig,
        &[
            "wait",
            "-n",
            NAMESPACE,
            "--for=condition=Ready",
            "mcon",
            "--all",
            "--timeout=120s",
        ],
    )
}

/// A 2-minute grant of a real board to a member of the tenant who is not on it yet; waits until
/// it is Granted and the snapshot the grant requested holds it. Returns the board id.
fn wait_for_grant(cp: &ControlPlane, emu: &EmulatorHandle, data_dir: &Path) -> Result<i64> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pick = emu.with_tenant(|t| {
        use monday_emulator::model::{BoardType, State, UserKind, UserStatus};
        let board = t
            .boards
            .iter()
            .find(|b| b.board_type == BoardType::Board && b.state == State::Active)?;
        let user = t.users.iter().find(|u| {
            u.status == UserStatus::Active
                && u.kind == UserKind::Member
                && !board.subscribers.contains(&u.id)
                && !board.owners.contains(&u.id)
        })?;
        Some((board.id, user.id, user.email.clone()))
    });
    let Some((board, user_id, email)) = pick else {
        bail!("the tenant has no board with a member missing from it")
    };
    let grant = std::fs::read_to_string(root.join("config/samples/access_grant.yaml"))?;
    let grant = replace_field(&grant, "entitlement", &format!("board:{board}:subscriber"));
    let grant = replace_field(&grant, "email", &email);
    let grant = replace_field(&grant, "duration", "2m");
    kubectl(
        &cp.kubeconfig,
        &["apply", "-n", NAMESPACE, "-f", "-"],
        Some(&grant),
    )?;
    wait_for(
        &cp.kubeconfig,
        &[
            "wait",
            "-n",
            NAMESPACE,
            "--for=jsonpath={.status.phase}=Granted",
            "mgrant",
            "--all",
            "--timeout=120s",
        ],
    )?;
    println!("   waiting for the sync the grant requested…");
    let grant_id = format!("board:{board}:subscriber:user:{user_id}");
    wait_for_snapshot_grant(data_dir, &grant_id, Duration::from_secs(60))?;
    Ok(board)
}

/// Prints a kubectl command and its output, as a user would see it.
fn show(cp: &ControlPlane, args: &[&str]) -> Result<()> {
    println!("$ kubectl {}", args.join(" "));
    print!(
        "{}",
        run(Command::new(tool("kubectl"))
            .arg("--kubeconfig")
            .arg(&cp.kubeconfig)
            .args(args))?
    );
    println!();
    Ok(())
}

/// Waits until the connector's newest snapshot holds `grant_id`. The user had no such access
/// before the JIT grant, so its presence proves the requested sync ran (which may already have
/// happened by the time we look: a small tenant syncs in well under a second).
fn wait_for_snapshot_grant(data_dir: &Path, grant_id: &str, timeout: Duration) -> Result<()> {
    use monday_operator::baton::C1zReader;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(p) = find_snapshot(data_dir)
            && let Ok(r) = C1zReader::open(&p)
            && let Ok(Some(run)) = r.latest_finished_sync()
            && r.grant_ids(&run.sync_id)?.iter().any(|g| g == grant_id)
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bail!("the snapshot did not pick up {grant_id} within {timeout:?}")
}

/// Who has what, from the newest snapshot the operator wrote.
fn access_summary(data_dir: &Path, entitlement: &str) -> Result<()> {
    use monday_operator::baton::C1zReader;
    let snapshot = find_snapshot(data_dir).context("no snapshot written yet")?;
    let reader = C1zReader::open(&snapshot)?;
    let run = reader
        .latest_finished_sync()?
        .context("no finished sync in the snapshot")?;
    let resources = reader.resources(&run.sync_id)?;
    let grants = reader.grant_ids(&run.sync_id)?;
    let count = |t: &str| {
        resources
            .iter()
            .filter(|r| r.id.as_ref().is_some_and(|i| i.resource_type == t))
            .count()
    };
    println!(
        "Access summary of {} (sync {}):",
        snapshot.display(),
        run.sync_id
    );
    println!(
        "  {} users, {} teams, {} workspaces, {} boards; {} grants",
        count("user"),
        count("team"),
        count("workspace"),
        count("board"),
        grants.len()
    );
    for role in ["admin", "member", "viewer", "guest"] {
        let n = grants
            .iter()
            .filter(|g| g.starts_with(&format!("role:{role}:assigned:")))
            .count();
        println!("  role {role:<7} {n} users");
    }
    let jit: Vec<&String> = grants
        .iter()
        .filter(|g| g.starts_with(&format!("{entitlement}:")))
        .collect();
    println!(
        "  {entitlement}: {} principals (the JIT grant is revoked when it expires)",
        jit.len()
    );
    Ok(())
}

fn find_snapshot(dir: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "c1z") {
                return Some(p);
            }
        }
    }
    None
}

fn replace_field(yaml: &str, key: &str, value: &str) -> String {
    yaml.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with(&format!("{key}:")) {
                format!("{}{key}: \"{value}\"", &l[..l.len() - t.len()])
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn kubeconfig(server: &str, ca_pem: &str, token: &str) -> String {
    use base64::Engine as _;
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: demo\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: monday-operator\n  user:\n    token: {token}\ncontexts:\n- name: demo\n  context:\n    cluster: demo\n    user: monday-operator\ncurrent-context: demo\n",
        ca = base64::engine::general_purpose::STANDARD.encode(ca_pem)
    )
}

fn operator_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/examples/demo -> target/<profile>/monday-operator
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("monday-operator"))
        .context("locating target dir")?;
    if !bin.exists() {
        bail!(
            "{} missing: run `cargo build --bin monday-operator` first (make demo does)",
            bin.display()
        );
    }
    Ok(bin)
}

fn step(what: &str) {
    println!("\n==> {what}");
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs kubectl. Right after the CRDs are created the MutatingAdmissionPolicies cannot patch a
/// kind until the apiserver refreshed their schema (every 5 s) and answer ServiceUnavailable:
/// retried for up to a minute, as the README tells users to.
fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Result<()> {
    use std::io::Write;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut child = Command::new(tool("kubectl"))
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.contains("ServiceUnavailable") || Instant::now() > deadline {
            bail!("kubectl {} failed: {}", args.join(" "), err.trim());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn wait_for(kubeconfig: &Path, args: &[&str]) -> Result<()> {
    kubectl(kubeconfig, args, None)
}
