//! One configuration for every command: `serve` and the client commands
//! read the same `deckhand.toml`, `DECKHAND_*` environment and flags, and
//! each setting has one meaning wherever it is read. Real Redis, the real
//! binary and real components.

use crate::common;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::queue::{Queue, QueueConfig};

/// A directory holding `deckhand.toml` with `text`.
fn config_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deckhand.toml"), text).unwrap();
    dir
}

fn payload_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_commands_honour_the_config_file() {
    let redis = TestRedis::start();
    let url = redis.url();
    let dir = config_dir(&format!(
        "redis_url = \"{url}\"\nprefix = \"pantry\"\nmax_retries = 7\n\n[queue]\nmax_payload_bytes = 2000\n"
    ));
    let config = dir.path().join("deckhand.toml");
    let plugins = plugin_dir(&["echo"]);
    let _host = Host::start(
        "config-host",
        &url,
        plugins.path(),
        &["--config", config.to_str().unwrap()],
    );
    let pantry = Queue::connect(
        &url,
        QueueConfig {
            prefix: "pantry".into(),
            ..QueueConfig::default()
        },
    )
    .await
    .unwrap();
    // The host registered echo under the file's prefix.
    common::registered(&pantry, &["echo"], None).await;

    // Run where the file is, with no flags: its Redis, prefix and retries.
    let small = payload_file(r#"{"n": 1}"#);
    let out = deckhand()
        .current_dir(dir.path())
        .args(["submit", "echo"])
        .arg(small.path())
        .args(["--wait", "--timeout", "60"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"{"n": 1}"#);
    let out = deckhand()
        .current_dir(dir.path())
        .args(["submit", "echo"])
        .arg(small.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let job = pantry
        .get(&id)
        .await
        .unwrap()
        .expect("the job is in pantry");
    assert_eq!(job.max_retries, 7, "max_retries comes from the file");

    // The file's payload limit applies to CLI jobs as to API jobs.
    let big = payload_file(&format!(r#"{{"text": "{}"}}"#, "x".repeat(3000)));
    let out = deckhand()
        .current_dir(dir.path())
        .args(["submit", "echo"])
        .arg(big.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2000 bytes"),
        "the refusal names the limit: {}",
        stderr(&out)
    );

    // `--config` from elsewhere, and a flag over the file: another prefix,
    // where no host ever offered echo.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = deckhand()
        .current_dir(elsewhere.path())
        .args(["stats", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("submitted"),
        "stats of the pantry queue: {}",
        stdout(&out)
    );
    let out = deckhand()
        .current_dir(dir.path())
        .args(["submit", "echo", "--prefix", "other"])
        .arg(small.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown job type"),
        "{}",
        stderr(&out)
    );

    // The environment sits between the file and the flags.
    let out = deckhand()
        .current_dir(dir.path())
        .args(["submit", "echo"])
        .arg(small.path())
        .env("DECKHAND_MAX_RETRIES", "3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let job = pantry
        .get(stdout(&out).trim())
        .await
        .unwrap()
        .expect("the job is in pantry");
    assert_eq!(job.max_retries, 3, "DECKHAND_MAX_RETRIES over the file");

    // A file a client cannot use is refused with the key named, not ignored.
    let bad = config_dir("prefix = \"pantry\"\nmax_retries = \"many\"\n");
    let out = deckhand()
        .current_dir(bad.path())
        .args(["stats"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_retries"), "{}", stderr(&out));
}

#[test]
fn the_compile_cache_variable_is_a_switch_for_every_command() {
    let work = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let payload = payload_file(r#"{"n": 1}"#);
    let exec = |cache: &str| {
        deckhand()
            .current_dir(work.path())
            .arg("exec")
            .arg(plugin_wasm("echo"))
            .arg(payload.path())
            .env("DECKHAND_COMPILE_CACHE", cache)
            .env("DECKHAND_DATA_DIR", data.path())
            .output()
            .unwrap()
    };
    let out = exec("true");
    assert!(out.status.success(), "{}", stderr(&out));
    let compiled = data.path().join("compiled");
    let entries = std::fs::read_dir(&compiled)
        .map(|d| d.count())
        .unwrap_or_default();
    assert!(
        entries > 0,
        "exec cached into <data_dir>/compiled, as serve does"
    );
    assert!(
        std::fs::read_dir(work.path()).unwrap().next().is_none(),
        "nothing written where exec ran (no folder named `true`)"
    );

    // Off: nothing more is written.
    std::fs::remove_dir_all(&compiled).unwrap();
    let out = exec("false");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!compiled.exists(), "no cache when it is off");

    // A path is not a switch: both commands refuse it, naming the variable.
    let out = exec("/tmp/somewhere");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("DECKHAND_COMPILE_CACHE"),
        "{}",
        stderr(&out)
    );
    let out = deckhand()
        .current_dir(work.path())
        .args(["serve", "--listen", ""])
        .env("DECKHAND_COMPILE_CACHE", "/tmp/somewhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("DECKHAND_COMPILE_CACHE"),
        "{}",
        stderr(&out)
    );
}

/// `threads` sizes the host's runtime: from the flag over the environment,
/// and one per core when 0; out of bounds, the host does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_size_the_hosts_runtime() {
    let redis = TestRedis::start();
    let url = redis.url();
    let plugins = plugin_dir(&["echo"]);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (flag, env, want) in [(Some("1"), "3", 1), (None, "3", 3), (None, "0", cores)] {
        let extra: Vec<&str> = flag.map(|n| vec!["--threads", n]).unwrap_or_default();
        let host = Host::start_with_env(
            "threads-host",
            &url,
            plugins.path(),
            &extra,
            &[("DECKHAND_THREADS", env)],
        );
        let api = Api::new(&host);
        api.ready(&host).await;
        let metrics = api.text("/metrics").await;
        assert!(
            metrics.contains(&format!("\ndeckhand_runtime_threads {want}\n")),
            "flag {flag:?}, DECKHAND_THREADS={env}: want {want}: {metrics}\n{}",
            host.log()
        );
    }
    let out = deckhand()
        .args(["serve", "--redis-url", &url, "--threads", "1025"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("threads"), "{}", stderr(&out));
}
