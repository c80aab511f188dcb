//! `cargo xtask dist [--smoke]`: Deckhand as a user downloads it, built into
//! `target/artifacts/`:
//!
//! - `deckhand-<version>-x86_64-linux.tar.gz` (and its `.sha256`): a static
//!   `deckhand` (`x86_64-unknown-linux-musl`: no libc or other library needed
//!   at run time), the built plugins, the annotated `deckhand.toml`, the
//!   systemd unit, the compose file and a short README, under one folder.
//! - `deckhand-<version>-oci.tar`: the same binary and plugins as an OCI
//!   image (an `oci-archive`, written by `oci.rs`: no daemon, no other tool),
//!   non-root, `/plugins` and `/data` as volumes, `deckhand serve` as the
//!   entry point, configured by `DECKHAND_*`.
//!
//! `--smoke` then runs the `dist` suite of `tests/e2e.rs` on them: the tarball
//! unpacked in an empty folder serves jobs with no Rust toolchain on the
//! PATH, and the image under podman where this machine can run containers.

mod archive;
mod oci;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::{build_plugins, cargo, root, run};
use archive::{Entry, gzip, sha256_hex, tar};

pub const TARGET: &str = "x86_64-unknown-linux-musl";
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The image's user and group: not root, and no name clash with the base
/// system's users on a host that maps ids.
const UID: u64 = 10001;
/// The C compiler for `ring`'s C and assembly on the musl target (Debian's
/// `musl-tools`).
const MUSL_CC: &str = "musl-gcc";
/// Debian's CA bundle, copied into the image so `rediss://` and HTTPS to
/// an LLM provider verify in a root file system with no distribution.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub fn dist(args: &[String]) -> Result<(), String> {
    let smoke = args.iter().any(|a| a == "--smoke");
    prerequisites()?;
    let dir = build()?;
    if smoke {
        run(&mut smoke_suite(&root(), &dir))?;
    }
    Ok(())
}

/// The musl target and its C compiler: checked before any long build.
pub fn prerequisites() -> Result<(), String> {
    if Command::new("rustup").arg("--version").output().is_ok() {
        run(Command::new("rustup").args(["target", "add", TARGET]))?;
    }
    let cc = musl_cc();
    match Command::new(&cc).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(format!(
            "the static build needs a C compiler for {TARGET} ({cc}): \
             install Debian's musl-tools (`apt-get install musl-tools`), \
             or set CC_x86_64_unknown_linux_musl"
        )),
    }
}

/// The musl C compiler: `CC_x86_64_unknown_linux_musl`, or [`MUSL_CC`].
fn musl_cc() -> String {
    std::env::var("CC_x86_64_unknown_linux_musl").unwrap_or_else(|_| MUSL_CC.into())
}

/// The `dist` suite of the end-to-end tests, on the artifacts in `dir`.
pub fn smoke_suite(root: &Path, dir: &Path) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args([
            "test",
            "--release",
            "--workspace",
            "--test",
            "e2e",
            "--",
            "dist::",
        ])
        .env("DECKHAND_DIST", dir);
    cmd
}

/// Builds the static binary and the plugins, then packs both artifacts;
/// returns the folder that holds them.
pub fn build() -> Result<PathBuf, String> {
    let root = root();
    run(cargo()
        .current_dir(&root)
        .env("CC_x86_64_unknown_linux_musl", musl_cc())
        .args([
            "build",
            "--profile",
            "dist",
            "--target",
            TARGET,
            "-p",
            "deckhand",
            "--bin",
            "deckhand",
        ]))?;
    let plugins = read_plugins(&build_plugins()?)?;
    let binary = read(&root.join(format!("target/{TARGET}/dist/deckhand")))?;
    let mtime = commit_time(&root);
    // Not `target/dist/`: cargo keeps the `dist` profile's build scripts there.
    let dir = root.join("target/artifacts");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;

    let tarball = dir.join(format!("deckhand-{VERSION}-x86_64-linux.tar.gz"));
    let packed = gzip(&tar(tarball_entries(&root, &binary, &plugins)?, mtime)?)?;
    write(&tarball, &packed)?;
    let name = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let sum = format!("{}  {name}\n", sha256_hex(&packed));
    write(&dir.join(format!("{name}.sha256")), sum.as_bytes())?;

    let image = dir.join(format!("deckhand-{VERSION}-oci.tar"));
    write(
        &image,
        &oci::archive(oci::Image {
            reference: format!("deckhand:{VERSION}"),
            rootfs: image_rootfs(&binary, &plugins)?,
            config: image_config(),
            mtime,
        })?,
    )?;
    for path in [&tarball, &image] {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        eprintln!(
            "xtask: wrote {} ({:.1} MB)",
            path.display(),
            size as f64 / 1e6
        );
    }
    Ok(dir)
}

/// The built plugins (`target/plugins/*.wasm`), by name, sorted.
fn read_plugins(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut plugins = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".wasm") && !name.starts_with('.') {
            plugins.push((name.to_string(), read(&path)?));
        }
    }
    plugins.sort();
    Ok(plugins)
}

/// The tarball's files, under `deckhand-<version>-x86_64-linux/`.
fn tarball_entries(
    root: &Path,
    binary: &[u8],
    plugins: &[(String, Vec<u8>)],
) -> Result<Vec<Entry>, String> {
    let top = format!("deckhand-{VERSION}-x86_64-linux");
    let mut entries = vec![
        Entry::dir(&top, 0o755, 0),
        Entry::dir(&format!("{top}/plugins"), 0o755, 0),
        Entry::file(&format!("{top}/deckhand"), 0o755, 0, binary.to_vec()),
    ];
    for (from, to) in [
        ("examples/deckhand.toml", "deckhand.toml"),
        ("examples/deckhand.service", "deckhand.service"),
        ("dist/compose.yaml", "compose.yaml"),
        ("dist/README.md", "README.md"),
    ] {
        let body = read(&root.join(from))?;
        entries.push(Entry::file(&format!("{top}/{to}"), 0o644, 0, body));
    }
    for (name, body) in plugins {
        let path = format!("{top}/plugins/{name}");
        entries.push(Entry::file(&path, 0o644, 0, body.clone()));
    }
    Ok(entries)
}

/// The image's root file system: the binary, the plugins, a user, the CA
/// bundle, `/data` owned by that user.
fn image_rootfs(binary: &[u8], plugins: &[(String, Vec<u8>)]) -> Result<Vec<Entry>, String> {
    let passwd = format!(
        "root:x:0:0:root:/root:/sbin/nologin\ndeckhand:x:{UID}:{UID}:deckhand:/data:/sbin/nologin\n"
    );
    let group = format!("root:x:0:\ndeckhand:x:{UID}:\n");
    let mut entries = vec![
        Entry::dir("etc", 0o755, 0),
        Entry::file("etc/passwd", 0o644, 0, passwd.into_bytes()),
        Entry::file("etc/group", 0o644, 0, group.into_bytes()),
        Entry::dir("tmp", 0o1777, 0),
        Entry::dir("usr", 0o755, 0),
        Entry::dir("usr/local", 0o755, 0),
        Entry::dir("usr/local/bin", 0o755, 0),
        Entry::file("usr/local/bin/deckhand", 0o755, 0, binary.to_vec()),
        Entry::dir("plugins", 0o755, 0),
        Entry::dir("data", 0o750, UID),
    ];
    match std::fs::read(CA_BUNDLE) {
        Ok(bundle) => entries.extend([
            Entry::dir("etc/ssl", 0o755, 0),
            Entry::dir("etc/ssl/certs", 0o755, 0),
            Entry::file(&CA_BUNDLE[1..], 0o644, 0, bundle),
        ]),
        Err(e) => eprintln!(
            "xtask: no CA bundle at {CA_BUNDLE} ({e}): the image verifies TLS peers only \
             against a CA given in the configuration (install Debian's ca-certificates)"
        ),
    }
    for (name, body) in plugins {
        let path = format!("plugins/{name}");
        entries.push(Entry::file(&path, 0o644, 0, body.clone()));
    }
    Ok(entries)
}

/// The image config: who runs what, where, configured how.
fn image_config() -> serde_json::Value {
    json!({
        "User": format!("{UID}:{UID}"),
        "Env": [
            "PATH=/usr/local/bin",
            "DECKHAND_PLUGIN_DIR=/plugins",
            "DECKHAND_DATA_DIR=/data",
            // Off loopback: the host then refuses to start without
            // DECKHAND_API_TOKEN, as on any other machine.
            "DECKHAND_API_LISTEN=0.0.0.0:8080",
            format!("SSL_CERT_FILE={CA_BUNDLE}"),
        ],
        "Entrypoint": ["/usr/local/bin/deckhand"],
        "Cmd": ["serve"],
        "WorkingDir": "/data",
        "ExposedPorts": { "8080/tcp": {} },
        "Volumes": { "/plugins": {}, "/data": {} },
        "StopSignal": "SIGTERM",
        "Labels": {
            "org.opencontainers.image.title": "deckhand",
            "org.opencontainers.image.version": VERSION,
        },
    })
}

/// The last commit's time, so the archives' dates (and so their digests)
/// follow the source; 0 outside a git checkout.
fn commit_time(root: &Path) -> u64 {
    Command::new("git")
        .current_dir(root)
        .args(["log", "-1", "--format=%ct"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes aside, then renames: a reader never sees half an artifact.
fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
