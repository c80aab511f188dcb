//! Helpers shared by the end-to-end tests: the real `deckhand` binary, the
//! real compiled plugins, and scratch plugin directories.
#![allow(dead_code)] // each test binary uses a different subset

pub mod api;
pub mod cluster;
pub mod fake_batch;
pub mod fake_llm;
pub mod host;
pub mod redis;
pub mod tls;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Sends a signal by name (`STOP`, `CONT`) to a child process.
pub fn signal(child: &std::process::Child, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status();
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Builds the guest crates once per test binary (a no-op when they are up to
/// date; `cargo xtask test` has built them already) and returns the path of
/// one compiled component.
pub fn plugin_wasm(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root().join("plugins"))
            .args(["build", "--release", "--quiet"])
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building the plugins failed; is the wasm32-wasip2 target installed? \
             (`rustup target add wasm32-wasip2`, or run `cargo xtask test`)"
        );
    });
    let path = root().join(format!("plugins/target/wasm32-wasip2/release/{name}.wasm"));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

pub fn deckhand() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A temporary plugin directory holding copies of the named plugins.
pub fn plugin_dir(plugins: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in plugins {
        std::fs::copy(plugin_wasm(name), dir.path().join(format!("{name}.wasm")))
            .expect("copy plugin");
    }
    dir
}

/// The same component with a custom section appended: behaves identically,
/// hashes differently. Stands for "a new build of the same plugin".
pub fn with_custom_section(component: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    let mut out = component.to_vec();
    out.push(0); // custom section id
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

/// Writes `bytes` to `path` atomically (write aside, then rename), as an
/// operator deploying a plugin should.
pub fn install(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).expect("write plugin");
    std::fs::rename(&tmp, path).expect("rename plugin");
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A queue on `redis_url` with `job_types` registered by host `host`
/// (plugin "test", version "v1", no content store), so that submissions
/// of them are accepted without a running host.
pub async fn queue_with_types(
    redis_url: &str,
    config: deckhand::queue::QueueConfig,
    host: &str,
    job_types: &[&str],
) -> deckhand::queue::Queue {
    let queue = deckhand::queue::Queue::connect(redis_url, config)
        .await
        .unwrap();
    let types: Vec<deckhand::queue::RegisteredType> = job_types
        .iter()
        .map(|t| deckhand::queue::RegisteredType {
            job_type: t.to_string(),
            plugin: "test".into(),
            version_id: "v1".into(),
            cache: false,
        })
        .collect();
    queue.register_job_types(host, &types).await.unwrap();
    queue
}

/// How long [`registered`] waits for a host to register its job types.
pub const REGISTRATION_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Waits until some host has registered each of `job_types`, at `version`
/// (its version id) when given; panics naming what is missing after
/// [`REGISTRATION_WAIT`]. A readiness wait, not a speed goal: each test host
/// has its own data directory, so it compiles its components cold, and the
/// Python and JavaScript ones (12-18 MB) took over 60 s to compile with the
/// whole e2e suite running on 2 cores.
pub async fn registered(queue: &deckhand::queue::Queue, job_types: &[&str], version: Option<&str>) {
    let deadline = std::time::Instant::now() + REGISTRATION_WAIT;
    loop {
        let known = queue.job_types().await.unwrap();
        let missing: Vec<&str> = job_types
            .iter()
            .copied()
            .filter(|t| {
                let Some(info) = known.get(*t) else {
                    return true;
                };
                let info: serde_json::Value = serde_json::from_str(info).unwrap();
                version.is_some_and(|v| info["version_id"] != v)
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no host registered {missing:?} (version {version:?}) within {REGISTRATION_WAIT:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
