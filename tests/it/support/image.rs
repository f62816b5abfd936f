//! The operator's container image, assembled offline: no registry is reachable (base images
//! cannot be pulled) and no Docker engine runs here.
//!
//! The image is built from
//! - the static musl binary the Dockerfile's builder stage builds: its `cargo build --release
//!   --locked --target x86_64-unknown-linux-musl` with that stage's `ENV` (`musl-gcc` from
//!   Debian's musl-tools compiles the bundled C code), into
//!   `target/x86_64-unknown-linux-musl/release/monday-operator`;
//! - a base layer with what `gcr.io/distroless/static-debian12:nonroot` provides and the operator
//!   relies on (facts from the distroless sources): `/etc/passwd` and `/etc/group` with `nonroot`
//!   65532, `/etc/nsswitch.conf`, `/etc/os-release`, Debian's CA bundle (the host's
//!   ca-certificates, the package distroless takes it from) at `SSL_CERT_FILE`, `/tmp` (1777),
//!   `/home/nonroot` (the working directory); user `65532`. Not carried: tzdata and netbase, which
//!   the operator never reads;
//! - the Dockerfile's runtime stage, applied instruction by instruction (`LABEL`, `COPY
//!   --from=builder`, `USER`, `EXPOSE`, `ENTRYPOINT`). Any other instruction fails the build, so
//!   the image under test cannot silently drift from the one users build (`tests/node/image.rs`
//!   checks that the archive and the Dockerfile agree).
//!
//! The result is an OCI image layout archive (uncompressed layers) for `ctr images import`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The musl target the Dockerfile builds for.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
/// The runtime base the Dockerfile names, which this module stands in for.
pub const DISTROLESS_BASE: &str = "gcr.io/distroless/static-debian12:nonroot";
/// The chart's and kustomize's default image (`monday-operator:<appVersion>`), fully qualified
/// the way containerd stores it.
pub const OPERATOR_IMAGE: &str = "docker.io/library/monday-operator:0.1.0";

/// What the Dockerfile's builder stage installs into `/out`, which its runtime stage copies from.
/// The builder checks the Dockerfile still installs exactly these.
const BUILDER_OUTPUTS: &[(&str, &str)] = &[
    (
        "/out/monday-operator",
        "install -D -m 0755 target/x86_64-unknown-linux-musl/release/monday-operator /out/monday-operator",
    ),
    (
        "/out/var/lib/monday-operator",
        "install -d -o 65532 -g 65532 /out/var/lib/monday-operator",
    ),
];

/// An image archive on disk.
#[derive(Clone, Debug)]
pub struct Image {
    /// Reference it is imported as.
    pub name: String,
    /// The OCI layout archive.
    pub archive: PathBuf,
    /// `sha256:…` of the manifest.
    pub manifest_digest: String,
    /// `sha256:…` of the config: the image ID containerd reports (pod status `imageID`).
    pub config_digest: String,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn out_dir() -> Result<PathBuf> {
    let dir = root().join("target/image");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The operator image, built once per process (the cargo build is incremental).
pub fn operator_image() -> Result<&'static Image> {
    static IMAGE: OnceLock<Result<Image, String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| build_operator_image().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn build_operator_image() -> Result<Image> {
    let binary = musl_binary()?;
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).context("Dockerfile")?;
    let stage = runtime_stage(&dockerfile)?;
    check_builder_outputs(&dockerfile)?;
    let mut image = ImageBuilder::new();
    if stage.from != DISTROLESS_BASE {
        bail!(
            "the Dockerfile's runtime stage is FROM {}, this builder only stands in for {DISTROLESS_BASE}: teach tests/it/support/image.rs",
            stage.from
        );
    }
    distroless_static_nonroot(&mut image)?;
    for ins in &stage.instructions {
        match ins {
            Instruction::Label(pairs) => {
                for (k, v) in pairs {
                    image.config["Labels"][k] = json!(v);
                }
            }
            Instruction::User(u) => image.config["User"] = json!(u),
            Instruction::Expose(ports) => {
                for p in ports {
                    let key = if p.contains('/') {
                        p.clone()
                    } else {
                        format!("{p}/tcp")
                    };
                    image.config["ExposedPorts"][key] = json!({});
                }
            }
            Instruction::Entrypoint(e) => {
                image.config["Entrypoint"] = json!(e);
                // As in Docker: a new ENTRYPOINT clears an inherited CMD.
                if let Some(c) = image.config.as_object_mut() {
                    c.remove("Cmd");
                }
            }
            Instruction::Copy {
                from,
                chown,
                src,
                dst,
                line,
            } => {
                if from.as_deref() != Some("builder") {
                    bail!(
                        "`{line}`: only COPY --from=builder is understood by tests/it/support/image.rs"
                    );
                }
                let (uid, gid) = parse_chown(chown.as_deref())?;
                let mut layer = Layer::default();
                for s in src {
                    match s.as_str() {
                        "/out/monday-operator" => {
                            let data = std::fs::read(&binary)?;
                            let path = if dst.ends_with('/') {
                                format!("{dst}monday-operator")
                            } else {
                                dst.clone()
                            };
                            layer.parents(&path);
                            layer.file(&path, &data, 0o755, uid, gid);
                        }
                        "/out/var/lib/monday-operator" => {
                            // A directory source copies its (empty) contents into dst, created
                            // with the --chown owner and the source's mode.
                            layer.parents(dst);
                            layer.dir(dst, 0o755, uid, gid);
                        }
                        other => bail!(
                            "`{line}`: {other} is not a known builder output: teach tests/it/support/image.rs"
                        ),
                    }
                }
                image.add_layer(layer, line)?;
            }
        }
    }
    image.write(OPERATOR_IMAGE, "monday-operator")
}

/// The pause image of the node's pod sandboxes: `hack/node/pause.c`, static, as `/pause`.
pub fn pause_image() -> Result<Image> {
    let out = out_dir()?;
    let bin = out.join("pause");
    let src = root().join("hack/node/pause.c");
    if find_in_path("musl-gcc").is_none() {
        bail!("musl-gcc not found: install Debian's musl-tools package (.ci/run does)");
    }
    let status = Command::new("musl-gcc")
        .args(["-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .context("running musl-gcc")?;
    if !status.success() {
        bail!("musl-gcc could not build {}", src.display());
    }
    let mut image = ImageBuilder::new();
    image.config = json!({"User": "65535:65535", "Entrypoint": ["/pause"]});
    let mut layer = Layer::default();
    layer.file("/pause", &std::fs::read(&bin)?, 0o755, 0, 0);
    image.add_layer(layer, "COPY pause /pause")?;
    image.write(super::node::PAUSE_IMAGE, "pause")
}

/// The `cargo build` the Dockerfile's builder stage runs.
pub const BUILDER_CARGO: &str =
    "cargo build --release --locked --target x86_64-unknown-linux-musl --bin monday-operator";

/// Builds the static musl binary as the Dockerfile's builder stage does (its `cargo build`
/// command, with the `ENV` of that stage), and checks that it is static (no program interpreter).
pub fn musl_binary() -> Result<PathBuf> {
    if find_in_path("musl-gcc").is_none() {
        bail!(
            "musl-gcc not found: install Debian's musl-tools package (.ci/run does); it compiles the bundled C code (SQLite, zstd, ring) for the musl target"
        );
    }
    let sysroot = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc --print sysroot")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if !sysroot.join("lib/rustlib").join(MUSL_TARGET).exists() {
        bail!(
            "the Rust target {MUSL_TARGET} is not installed: run `rustup target add {MUSL_TARGET}` (.ci/run does)"
        );
    }
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).context("Dockerfile")?;
    let env = builder_env(&dockerfile)?;
    let log = out_dir()?.join("musl-build.log");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(BUILDER_CARGO.split_whitespace().skip(1))
        .envs(env);
    // The outer cargo's own settings for the host build must not leak into this one.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET"] {
        cmd.env_remove(var);
    }
    let out = cmd
        .output()
        .context("running cargo build for the musl target")?;
    std::fs::write(&log, &out.stderr)?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        bail!(
            "the musl release build failed (full log {}):\n{}",
            log.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let bin = root()
        .join("target")
        .join(MUSL_TARGET)
        .join("release/monday-operator");
    if has_interpreter(&std::fs::read(&bin)?)? {
        bail!(
            "{} is dynamically linked (it names a program interpreter), so it cannot start on distroless/static",
            bin.display()
        );
    }
    Ok(bin)
}

/// The `ENV` pairs of the Dockerfile's builder stage (the first), and a check that the stage
/// runs [`BUILDER_CARGO`].
pub fn builder_env(dockerfile: &str) -> Result<Vec<(String, String)>> {
    let lines = logical_lines(dockerfile);
    let froms: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("FROM "))
        .map(|(i, _)| i)
        .collect();
    let (start, end) = match froms.as_slice() {
        [a, b, ..] => (*a, *b),
        _ => bail!("the Dockerfile has no builder stage before its runtime stage"),
    };
    let stage = &lines[start..end];
    if !stage
        .iter()
        .any(|l| l.starts_with("RUN ") && l.contains(BUILDER_CARGO))
    {
        bail!(
            "the Dockerfile's builder stage no longer runs `{BUILDER_CARGO}`: teach tests/it/support/image.rs"
        );
    }
    let mut env = Vec::new();
    for l in stage.iter().filter_map(|l| l.strip_prefix("ENV ")) {
        for pair in l.split_whitespace() {
            let (k, v) = pair
                .split_once('=')
                .with_context(|| format!("ENV {l}: only key=value pairs are understood"))?;
            env.push((k.to_string(), v.trim_matches('"').to_string()));
        }
    }
    Ok(env)
}

/// Whether an ELF64 file names a program interpreter (`PT_INTERP`), i.e. is dynamically linked.
pub fn has_interpreter(elf: &[u8]) -> Result<bool> {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 {
        bail!("not an ELF64 file");
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into()?) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    for i in 0..count {
        let at = phoff + i * size;
        let kind = elf
            .get(at..at + 4)
            .context("truncated program header")?
            .try_into()
            .map(u32::from_le_bytes)?;
        if kind == 3 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One instruction of the Dockerfile's runtime stage.
#[derive(Clone, Debug, PartialEq)]
pub enum Instruction {
    Label(Vec<(String, String)>),
    Copy {
        from: Option<String>,
        chown: Option<String>,
        src: Vec<String>,
        dst: String,
        line: String,
    },
    User(String),
    Expose(Vec<String>),
    Entrypoint(Vec<String>),
}

/// The last stage of a Dockerfile.
#[derive(Clone, Debug)]
pub struct Stage {
    pub from: String,
    pub instructions: Vec<Instruction>,
}

/// Logical lines of a Dockerfile: comments dropped, `\` continuations joined.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for raw in text.lines() {
        let t = raw.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body.trim_end());
            cur.push(' ');
        } else {
            cur.push_str(t);
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Parses the runtime (last) stage. Instructions other than the five the image uses are errors.
pub fn runtime_stage(dockerfile: &str) -> Result<Stage> {
    let lines = logical_lines(dockerfile);
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .context("the Dockerfile has no FROM")?;
    let from = lines[start]["FROM ".len()..]
        .split_whitespace()
        .next()
        .context("FROM without an image")?
        .to_string();
    let mut instructions = Vec::new();
    for line in &lines[start + 1..] {
        let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let rest = rest.trim();
        instructions.push(match word {
            "LABEL" => Instruction::Label(parse_labels(rest)?),
            "USER" => Instruction::User(rest.to_string()),
            "EXPOSE" => Instruction::Expose(rest.split_whitespace().map(String::from).collect()),
            "ENTRYPOINT" => Instruction::Entrypoint(
                serde_json::from_str(rest)
                    .with_context(|| format!("`{line}`: only the JSON (exec) form is supported"))?,
            ),
            "COPY" => {
                let mut from = None;
                let mut chown = None;
                let mut paths = Vec::new();
                for w in rest.split_whitespace() {
                    if let Some(v) = w.strip_prefix("--from=") {
                        from = Some(v.to_string());
                    } else if let Some(v) = w.strip_prefix("--chown=") {
                        chown = Some(v.to_string());
                    } else if w.starts_with("--") {
                        bail!("`{line}`: COPY flag {w} is not understood by tests/it/support/image.rs");
                    } else {
                        paths.push(w.to_string());
                    }
                }
                let dst = paths.pop().context("COPY without a destination")?;
                if paths.is_empty() {
                    bail!("`{line}`: COPY without a source");
                }
                Instruction::Copy {
                    from,
                    chown,
                    src: paths,
                    dst,
                    line: line.clone(),
                }
            }
            other => bail!(
                "the Dockerfile's runtime stage uses {other}, which tests/it/support/image.rs does not apply: teach it, so the tested image stays the built one"
            ),
        });
    }
    Ok(Stage { from, instructions })
}

fn parse_labels(rest: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| !c.is_whitespace()).collect();
        }
        if key.is_empty() {
            bail!("malformed LABEL: {rest}");
        }
        out.push((key.trim().to_string(), value));
    }
    Ok(out)
}

fn parse_chown(chown: Option<&str>) -> Result<(u64, u64)> {
    let Some(c) = chown else { return Ok((0, 0)) };
    let (u, g) = c.split_once(':').unwrap_or((c, c));
    Ok((
        u.parse()
            .with_context(|| format!("--chown={c}: numeric ids only"))?,
        g.parse()
            .with_context(|| format!("--chown={c}: numeric ids only"))?,
    ))
}

fn check_builder_outputs(dockerfile: &str) -> Result<()> {
    let joined = logical_lines(dockerfile).join("\n");
    for (path, command) in BUILDER_OUTPUTS {
        if !joined.contains(command) {
            bail!(
                "the Dockerfile's builder stage no longer runs `{command}` (for {path}): teach tests/it/support/image.rs what it installs now"
            );
        }
    }
    Ok(())
}

/// The part of distroless static-debian12:nonroot the operator relies on.
fn distroless_static_nonroot(image: &mut ImageBuilder) -> Result<()> {
    let ca = Path::new("/etc/ssl/certs/ca-certificates.crt");
    let bundle = std::fs::read(ca).with_context(|| {
        format!(
            "{} missing: install Debian's ca-certificates package (the CA bundle distroless ships)",
            ca.display()
        )
    })?;
    let mut l = Layer::default();
    for (dir, mode, id) in [
        ("/etc", 0o755, 0),
        ("/etc/ssl", 0o755, 0),
        ("/etc/ssl/certs", 0o755, 0),
        ("/home", 0o755, 0),
        ("/home/nonroot", 0o700, 65532),
        ("/root", 0o700, 0),
        ("/tmp", 0o1777, 0),
        ("/var", 0o755, 0),
        ("/var/lib", 0o755, 0),
    ] {
        l.dir(dir, mode, id, id);
    }
    l.file(
        "/etc/passwd",
        b"root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
        0o644,
        0,
        0,
    );
    l.file(
        "/etc/group",
        b"root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n",
        0o644,
        0,
        0,
    );
    l.file("/etc/nsswitch.conf", b"hosts: files dns\n", 0o644, 0, 0);
    l.file(
        "/etc/os-release",
        b"PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\n",
        0o644,
        0,
        0,
    );
    l.file("/etc/ssl/certs/ca-certificates.crt", &bundle, 0o644, 0, 0);
    image.config = json!({
        "User": "65532",
        "WorkingDir": "/home/nonroot",
        "Env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
        ],
    });
    image.add_layer(
        l,
        &format!("{DISTROLESS_BASE} (stand-in, tests/it/support/image.rs)"),
    )
}

/// One layer: an uncompressed tar with fixed timestamps (the same input gives the same digest).
#[derive(Default)]
struct Layer {
    entries: BTreeMap<String, (tar::EntryType, u32, u64, u64, Vec<u8>)>,
}

impl Layer {
    fn dir(&mut self, path: &str, mode: u32, uid: u64, gid: u64) {
        let p = format!("{}/", path.trim_matches('/'));
        self.entries
            .insert(p, (tar::EntryType::Directory, mode, uid, gid, Vec::new()));
    }

    fn file(&mut self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) {
        self.entries.insert(
            path.trim_start_matches('/').to_string(),
            (tar::EntryType::Regular, mode, uid, gid, data.to_vec()),
        );
    }

    /// Parent folders of `path` (root-owned 0755, as Docker creates them), unless present.
    fn parents(&mut self, path: &str) {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        for i in 1..parts.len() {
            let p = format!("{}/", parts[..i].join("/"));
            self.entries
                .entry(p)
                .or_insert((tar::EntryType::Directory, 0o755, 0, 0, Vec::new()));
        }
    }

    fn tar(&self) -> Result<Vec<u8>> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, (kind, mode, uid, gid, data)) in &self.entries {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_uid(*uid);
            h.set_gid(*gid);
            h.set_mtime(0);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, data.as_slice())?;
        }
        Ok(b.into_inner()?)
    }
}

struct ImageBuilder {
    config: Value,
    layers: Vec<(Vec<u8>, String)>,
}

impl ImageBuilder {
    fn new() -> Self {
        ImageBuilder {
            config: json!({}),
            layers: Vec::new(),
        }
    }

    fn add_layer(&mut self, layer: Layer, created_by: &str) -> Result<()> {
        self.layers.push((layer.tar()?, created_by.to_string()));
        Ok(())
    }

    /// Writes `target/image/<file>.oci.tar` (via a temporary file) and returns it.
    fn write(self, name: &str, file: &str) -> Result<Image> {
        let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
        let mut descriptor = |media: &str, data: Vec<u8>| {
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
            let d = json!({"mediaType": media, "digest": digest, "size": data.len()});
            blobs.push((digest, data));
            d
        };
        let diff_ids: Vec<String> = self
            .layers
            .iter()
            .map(|(t, _)| format!("sha256:{}", hex::encode(Sha256::digest(t))))
            .collect();
        let history: Vec<Value> = self
            .layers
            .iter()
            .map(|(_, by)| json!({"created": "1970-01-01T00:00:00Z", "created_by": by}))
            .collect();
        let config = json!({
            "created": "1970-01-01T00:00:00Z",
            "architecture": "amd64",
            "os": "linux",
            "config": self.config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        let config_desc = descriptor(
            "application/vnd.oci.image.config.v1+json",
            serde_json::to_vec(&config)?,
        );
        let config_digest = config_desc["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let layer_descs: Vec<Value> = self
            .layers
            .into_iter()
            .map(|(t, _)| descriptor("application/vnd.oci.image.layer.v1.tar", t))
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": layer_descs,
        });
        let mut manifest_desc = descriptor(
            "application/vnd.oci.image.manifest.v1+json",
            serde_json::to_vec(&manifest)?,
        );
        let manifest_digest = manifest_desc["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
        manifest_desc["annotations"] = json!({
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": tag,
        });
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [manifest_desc],
        });

        let dir = out_dir()?;
        let archive = dir.join(format!("{file}.oci.tar"));
        let tmp = dir.join(format!("{file}.oci.tar.{}", std::process::id()));
        {
            let f = std::fs::File::create(&tmp)?;
            let mut b = tar::Builder::new(std::io::BufWriter::new(f));
            let mut add = |path: &str, data: &[u8]| -> Result<()> {
                let mut h = tar::Header::new_ustar();
                h.set_mode(0o644);
                h.set_mtime(0);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data)?;
                Ok(())
            };
            add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
            add("index.json", &serde_json::to_vec(&index)?)?;
            for (digest, data) in &blobs {
                add(
                    &format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")),
                    data,
                )?;
            }
            b.into_inner()?;
        }
        std::fs::rename(&tmp, &archive)?;
        Ok(Image {
            name: name.to_string(),
            archive,
            manifest_digest,
            config_digest,
        })
    }
}

/// An entry of an image's flattened filesystem.
#[derive(Clone, Debug)]
pub struct FileEntry {
    pub dir: bool,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub data: Vec<u8>,
}

/// An OCI archive read back: the image config and the filesystem its layers add up to.
#[derive(Debug)]
pub struct Contents {
    /// The whole config blob (`config`, `rootfs`, `history`, …).
    pub config: Value,
    /// Absolute path -> entry, later layers winning.
    pub files: BTreeMap<String, FileEntry>,
    pub layers: usize,
}

/// Reads an OCI layout archive (one manifest) back, for tests.
pub fn read_archive(path: &Path) -> Result<Contents> {
    use std::io::Read as _;
    let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut a = tar::Archive::new(std::fs::File::open(path)?);
    for e in a.entries()? {
        let mut e = e?;
        let p = e.path()?.to_string_lossy().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data)?;
        blobs.insert(p, data);
    }
    let blob = |digest: &str| -> Result<&Vec<u8>> {
        blobs
            .get(&format!(
                "blobs/sha256/{}",
                digest.trim_start_matches("sha256:")
            ))
            .with_context(|| format!("blob {digest} missing"))
    };
    let index: Value = serde_json::from_slice(blobs.get("index.json").context("index.json")?)?;
    let mdigest = index["manifests"][0]["digest"]
        .as_str()
        .context("manifest digest")?;
    let manifest: Value = serde_json::from_slice(blob(mdigest)?)?;
    let config: Value = serde_json::from_slice(blob(
        manifest["config"]["digest"].as_str().context("config")?,
    )?)?;
    let mut files = BTreeMap::new();
    let layers = manifest["layers"].as_array().context("layers")?;
    for l in layers {
        let data = blob(l["digest"].as_str().context("layer digest")?)?;
        let mut a = tar::Archive::new(data.as_slice());
        for e in a.entries()? {
            let mut e = e?;
            let p = format!("/{}", e.path()?.to_string_lossy().trim_end_matches('/'));
            let h = e.header().clone();
            let mut content = Vec::new();
            e.read_to_end(&mut content)?;
            files.insert(
                p,
                FileEntry {
                    dir: h.entry_type() == tar::EntryType::Directory,
                    mode: h.mode()?,
                    uid: h.uid()?,
                    gid: h.gid()?,
                    data: content,
                },
            );
        }
    }
    Ok(Contents {
        config,
        files,
        layers: layers.len(),
    })
}

fn find_in_path(bin: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.exists())
}
