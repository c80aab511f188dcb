//! The release artifacts of `cargo xtask dist`, run as a user runs them: the
//! tarball unpacked in an empty folder serves an `echo` and an
//! `hsds_alignment` job through the API with no Rust toolchain on the PATH;
//! the OCI image's layout and config hold, and under podman (where this
//! machine has it) the image serves the same jobs.
//!
//! The artifacts are `DECKHAND_DIST`'s (the folder `cargo xtask dist`
//! wrote; `cargo xtask test` builds them and sets it). Without it these tests
//! say so and check nothing: run `cargo xtask dist --smoke`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::api::Api;
use super::common::redis::{TestRedis, free_port};
use super::common::sha256_hex;

mod image;

/// The folder of artifacts, or `None` (said on stderr) when not given.
fn artifacts() -> Option<PathBuf> {
    match std::env::var_os("DECKHAND_DIST") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!(
                "DECKHAND_DIST is not set: run `cargo xtask dist --smoke` to test the artifacts"
            );
            None
        }
    }
}

/// The one file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn artifact(dir: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    assert_eq!(found.len(), 1, "one {prefix}*{suffix} in {}", dir.display());
    found[0].clone()
}

/// Runs `program args`, panicking with its output when it fails; returns stdout.
pub(crate) fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether an ELF file asks for a dynamic loader (a `PT_INTERP` program
/// header): a static binary does not, so it runs without any library.
fn asks_for_a_loader(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    let word = |at: usize, len: usize| {
        elf[at..at + len]
            .iter()
            .rev()
            .fold(0usize, |n, b| (n << 8) | *b as usize)
    };
    let (offset, size, count) = (word(0x20, 8), word(0x36, 2), word(0x38, 2));
    (0..count).any(|i| word(offset + i * size, 4) == 3)
}

/// Waits until the API at `api` answers and lists the job types in `types`.
pub(crate) async fn ready(api: &Api, types: &[&str], log: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((200, body)) = api.try_get("/v1/job-types").await {
            let live = |t: &&str| {
                body["job_types"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|j| j["job_type"] == **t && j["live"] == true))
            };
            if types.iter().all(live) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the API at {} never listed {types:?}:\n{}", api.base, log());
}

/// A pantry record the mapper settles without an LLM.
pub(crate) fn pantry() -> Value {
    json!({
        "name": "Riverside Community Food Pantry",
        "address": "412 Elm Street, Springfield, IL 62704",
        "phone": "(217) 555-0143",
        "hours": "Tuesday and Thursday 9:00 AM - 12:00 PM",
    })
}

/// Submits an `echo` and an `hsds_alignment` job through `api`, waits for
/// both and checks their results.
pub(crate) async fn serve_two_jobs(api: &Api, log: &dyn Fn() -> String) {
    let mut ids = Vec::new();
    for body in [
        json!({"job_type": "echo", "payload": {"hello": "world"}}),
        json!({"job_type": "hsds_alignment", "payload": {"raw_data": pantry()}}),
    ] {
        let (status, answer) = api.post("/v1/jobs", body).await;
        assert_eq!(status, 201, "{answer}\n{}", log());
        ids.push(answer["id"].as_str().expect("an id").to_string());
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let jobs = api.wait(&refs).await;
    for job in &jobs {
        assert_eq!(job["status"], "completed", "{job:#}\n{}", log());
    }
    let result = |job: &Value| -> Value {
        serde_json::from_str(job["result"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
    };
    assert_eq!(result(&jobs[0]), json!({"hello": "world"}));
    let hsds = &result(&jobs[1])["hsds"];
    assert_eq!(
        hsds["organization"][0]["name"], "Riverside Community Food Pantry",
        "{hsds:#}"
    );
    let text = hsds.to_string();
    assert!(text.contains("62704") && text.contains("217"), "{hsds:#}");
    for hours in [
        r#""byday":"TU,TH""#,
        r#""opens_at":"09:00""#,
        r#""closes_at":"12:00""#,
    ] {
        assert!(text.contains(hours), "{hours} in {hsds:#}");
    }
}

struct Served {
    child: Child,
    log: PathBuf,
}

impl Served {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `deckhand serve` from the unpacked folder `dir`, as its README says, with
/// nothing from this machine's environment: no PATH to a toolchain, no HOME.
fn serve_unpacked(dir: &Path, redis: &TestRedis, listen: &str, scratch: &Path) -> Served {
    let log = scratch.join("host.log");
    let file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(dir.join("deckhand"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", scratch.join("empty-path"))
        .env("HOME", scratch)
        .env("DECKHAND_REDIS_URL", redis.url())
        .env("RUST_LOG", "info")
        .args(["serve", "--listen", listen, "--host-id", "unpacked"])
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start the unpacked deckhand");
    Served { child, log }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tarball_serves_jobs_from_an_empty_folder_without_a_toolchain() {
    let Some(dist) = artifacts() else { return };
    let tarball = artifact(&dist, "deckhand-", "-x86_64-linux.tar.gz");
    let name = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let bytes = std::fs::read(&tarball).expect("the tarball");
    let sums = std::fs::read_to_string(dist.join(format!("{name}.sha256"))).expect("its .sha256");
    assert_eq!(sums, format!("{}  {name}\n", sha256_hex(&bytes)));

    let empty = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let place = empty.path().to_str().expect("a UTF-8 temp path");
    output(
        "tar",
        &["-xzf", tarball.to_str().expect("UTF-8"), "-C", place],
    );
    let top = empty.path().join(name.trim_end_matches(".tar.gz"));
    for file in [
        "deckhand",
        "deckhand.toml",
        "deckhand.service",
        "compose.yaml",
        "README.md",
    ] {
        assert!(top.join(file).is_file(), "{file} is in the tarball");
    }
    for plugin in ["echo", "llm", "hsds_alignment", "hsds_validation", "bulk"] {
        assert!(
            top.join(format!("plugins/{plugin}.wasm")).is_file(),
            "{plugin}.wasm"
        );
    }
    let binary = std::fs::read(top.join("deckhand")).expect("the binary");
    assert!(!asks_for_a_loader(&binary), "deckhand is linked statically");

    let redis = TestRedis::start();
    let listen = format!("127.0.0.1:{}", free_port());
    let scratch = tempfile::tempdir().expect("temp dir");
    let host = serve_unpacked(&top, &redis, &listen, scratch.path());
    let api = Api::at(&format!("http://{listen}"), None);
    ready(&api, &["echo", "hsds_alignment"], &|| host.log()).await;
    serve_two_jobs(&api, &|| host.log()).await;
    eprintln!(
        "from the tarball to two served jobs: {:.1} s ({:.1} MB packed)",
        started.elapsed().as_secs_f64(),
        bytes.len() as f64 / 1e6
    );
    let version = output(
        top.join("deckhand").to_str().expect("UTF-8"),
        &["--version"],
    );
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
}
