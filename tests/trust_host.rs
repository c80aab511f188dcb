//! The third round of attacks on the host's own life: a stop is bounded
//! while Redis is down, and an embedded Redis that cannot start says why
//! (its log's last lines) instead of "did not answer". Real Redis and the
//! real binary.

use crate::common;

use std::time::Duration;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::json;

/// SIGTERM while Redis is down: the host stops within its bound instead of
/// retrying its hand-back forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_is_bounded_while_redis_is_down() {
    let mut redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let mut host = Host::start(
        "stop",
        &redis.url(),
        dir.path(),
        &["--shutdown-timeout-ms", "500"],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let (status, _) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.sleep", "payload": { "ms": 60000 } }),
        )
        .await;
    assert_eq!(status, 201);
    for _ in 0..100 {
        let (_, health) = api.get("/health").await;
        if health["running_jobs"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    redis.kill();
    let started = std::time::Instant::now();
    host.terminate();
    assert!(
        started.elapsed() < Duration::from_secs(28),
        "took {:?}",
        started.elapsed()
    );
}

/// An embedded Redis that exits at start (here its AOF directory is a
/// file; a full disk reads the same way) is named by its own log line.
#[test]
fn an_embedded_redis_that_cannot_start_says_why() {
    let dir = plugin_dir(&["echo"]);
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("redis")).unwrap();
    std::fs::write(data.path().join("redis").join("appendonlydir"), "").unwrap();
    let port = common::redis::free_port();
    let out = deckhand()
        .args(["serve", "--embedded-redis-port", &port.to_string()])
        .arg("--plugin-dir")
        .arg(dir.path())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--listen", ""])
        .env_remove("DECKHAND_REDIS_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("its log ends"), "{err}");
    assert!(err.contains("append-only dir"), "Redis' own reason: {err}");
}
