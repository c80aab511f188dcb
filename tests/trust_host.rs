//! The third round of attacks on the host's own life: a stop is bounded
//! while Redis is down, and an embedded Redis that cannot start says why
//! (its log's last lines) instead of "did not answer". Real Redis and the
//! real binary.

use crate::common;
use deckhand::job::{NewJob, Payload};

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

/// `deckhand serve` with no Redis URL: its own Redis on `port`, its data
/// in `data`, its API on `listen` (empty: none).
fn embedded_serve(
    plugins: &std::path::Path,
    data: &std::path::Path,
    port: u16,
    listen: &str,
) -> std::process::Command {
    let mut serve = deckhand();
    serve
        .args(["serve", "--embedded-redis-port", &port.to_string()])
        .arg("--plugin-dir")
        .arg(plugins)
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", listen])
        .env_remove("DECKHAND_REDIS_URL");
    serve
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
    let out = embedded_serve(dir.path(), data.path(), port, "")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("its log ends"), "{err}");
    assert!(err.contains("append-only dir"), "Redis' own reason: {err}");
}

/// An embedded Redis that stops and cannot start again is named on
/// `/health` with the end of its log, not only as unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_why_the_embedded_redis_is_down() {
    let dir = plugin_dir(&["echo"]);
    let data = tempfile::tempdir().unwrap();
    let port = common::redis::free_port();
    let listen = format!("127.0.0.1:{}", common::redis::free_port());
    let mut child = embedded_serve(dir.path(), data.path(), port, &listen)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let health = format!("http://{listen}/health");
    let read = async || -> Option<serde_json::Value> {
        reqwest::get(&health).await.ok()?.json().await.ok()
    };
    let mut up = false;
    for _ in 0..200 {
        if read().await.is_some() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the host never answered");
    // Its AOF directory becomes a file, then Redis stops: it cannot start again.
    let redis_dir = data.path().join("redis");
    std::fs::rename(redis_dir.join("appendonlydir"), redis_dir.join("moved")).unwrap();
    std::fs::write(redis_dir.join("appendonlydir"), "").unwrap();
    let client = ::redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let _: Result<(), _> = ::redis::cmd("SHUTDOWN")
        .arg("NOSAVE")
        .query(&mut client.get_connection().unwrap());
    let mut named = None;
    for _ in 0..150 {
        let failure = read().await.map(|h| h["redis"]["embedded_failure"].clone());
        if let Some(f) = failure.filter(|f| f.to_string().contains("append-only dir")) {
            named = Some(f);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(named.is_some(), "/health never named the cause");
}

/// A lease that expires on an attempt that never started (its host never
/// renewed it and pulsed after it ran out: the claim's reply was lost, as
/// when Redis is paused mid-claim) spends no attempt; until the host pulses
/// again the job waits; one whose host never pulsed or stopped pulsing, or
/// that was renewed, counts; and no job is given back more than three
/// times (reap.lua's branches).
#[tokio::test]
async fn an_attempt_that_never_started_spends_none() {
    use deckhand::queue::{JobStatus, QueueConfig};
    let redis = TestRedis::start();
    let q = common::queue_with_types(&redis.url(), QueueConfig::default(), "alive", &["a"]).await;
    let every = Duration::from_secs(60);
    q.pulse("alive", every).await.unwrap();
    let lease = Duration::from_millis(50);
    let id = q
        .submit(NewJob {
            max_retries: Some(10),
            ..NewJob::new("a", Payload::parse("{}").unwrap())
        })
        .await
        .unwrap()
        .id;
    // Claim as `host`, renew it or not, let the lease run out, reap (once
    // more after a pulse of `alive`, when the job waited for one): the
    // job's attempts and its error entries afterwards.
    let lost_claim = async |host: &str, renew: bool, waits: bool| {
        let claimed = q.claim(host, &["a"], 1, lease).await.unwrap();
        assert_eq!(claimed.len(), 1, "claimed by {host}");
        if renew {
            let pair = (claimed[0].id.clone(), claimed[0].token.clone());
            q.renew(&[pair], lease).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
        let mut reaped = q.reap().await.unwrap();
        if waits {
            assert!(reaped.is_empty(), "waits for a pulse after the lease");
            q.pulse("alive", every).await.unwrap();
            reaped = q.reap().await.unwrap();
        }
        assert_eq!(reaped, vec![(id.clone(), JobStatus::Pending)]);
        let job = q.get(&id).await.unwrap().unwrap();
        (job.attempts, job.errors.len())
    };
    // Never started on a live host: nothing spent, nothing recorded.
    assert_eq!(lost_claim("alive", false, true).await, (0, 0));
    // A host that never pulsed: the attempt counts, as a lease_expired error.
    assert_eq!(lost_claim("gone", false, false).await, (1, 1));
    // A host whose pulses stopped (the newest pulse is two of its
    // intervals past its own): it counts.
    q.pulse("dying", Duration::from_millis(10)).await.unwrap();
    assert_eq!(lost_claim("dying", false, true).await, (2, 2));
    // Renewed, so it started: it counts.
    assert_eq!(lost_claim("alive", true, true).await, (3, 3));
    // Given back at most three times in all: the fourth lost claim counts.
    assert_eq!(lost_claim("alive", false, true).await, (3, 3));
    assert_eq!(lost_claim("alive", false, true).await, (3, 3));
    assert_eq!(lost_claim("alive", false, true).await, (4, 4));
    let stats = q.stats().await.unwrap();
    assert_eq!(stats.get("refunded").copied(), Some(3), "{stats:?}");
    // A pulse over an hour old (a host gone for good) goes with the next
    // pulse of any host (pulse.lua); a recent one stays.
    let mut conn = redis.conn();
    let _: () = ::redis::cmd("HSET")
        .arg("{deckhand}:pulse")
        .arg("long-gone")
        .arg("1:1000")
        .query(&mut conn)
        .unwrap();
    q.pulse("alive", every).await.unwrap();
    let pulses = q.pulses().await.unwrap();
    assert!(!pulses.contains_key("long-gone"), "{pulses:?}");
    assert!(pulses.contains_key("alive") && pulses.contains_key("dying"));
}
