//! Faults found when the host was attacked, each kept fixed: numbers from
//! outside are range-checked, secrets stay out of output, the dead-letter
//! queue agrees with itself, fan-out is idempotent and capped, a newcomer
//! plugin cannot take a job type, settings take effect wherever given.
//! Real Redis, the real binary and real components throughout.

use crate::common;

use std::time::Duration;

use ::redis::Commands;
use common::api::Api;
use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::queue::{JobStatus, Queue, QueueConfig};
use serde_json::{Value, json};

mod host;

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

async fn queue(redis: &TestRedis) -> Queue {
    Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap()
}

async fn wait_until<F: AsyncFn() -> bool>(what: &str, f: F) {
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_from_outside_are_refused_not_panicked_on() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("nums", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;

    // The wait that panicked in the handler, and its neighbours.
    for t in [json!(1e20), json!(1e300), json!(-1), json!(0), json!(3601)] {
        let (status, body) = api
            .post("/v1/jobs/wait", json!({ "ids": ["x"], "timeout_secs": t }))
            .await;
        assert_eq!(status, 400, "timeout_secs {t}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("timeout_secs"),
            "{body}"
        );
    }
    for query in ["offset=18446744073709551615", "limit=0", "limit=1001"] {
        let (status, body) = api.get(&format!("/v1/dlq?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "echo", "payload": {}, "max_retries": 4_000_000_000u64 }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("max_retries"), "{body}");

    // The CLI's twins: refused before anything is submitted, exit 2.
    let payload = dir.path().join("p.json");
    std::fs::write(&payload, "{}").unwrap();
    for args in [
        vec![
            "submit",
            "echo",
            "PAYLOAD",
            "--wait",
            "--timeout",
            "18446744073709551615",
        ],
        vec!["submit", "echo", "PAYLOAD", "--timeout", "0"],
        vec![
            "bulk",
            "echo",
            "PAYLOAD",
            "--out",
            "OUT",
            "--timeout",
            "18446744073709551615",
        ],
        vec!["dlq", "list", "--limit", "18446744073709551615"],
        vec!["submit", "echo", "PAYLOAD", "--priority", "99999999999"],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "PAYLOAD" => payload.display().to_string(),
                "OUT" => dir.path().join("out.jsonl").display().to_string(),
                a => a.to_string(),
            })
            .collect();
        let out = deckhand()
            .args(&args)
            .args(["--redis-url", &redis.url()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let stats = queue(&redis).await.stats().await.unwrap();
    assert_eq!(
        stats.get("submitted"),
        None,
        "nothing was submitted: {stats:?}"
    );
    let (status, _) = api.get("/health").await;
    assert_eq!(status, 200, "the host is still up:\n{}", host.log());
    assert!(!host.log().contains("panicked"), "{}", host.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_protocol_points() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start_with_env(
        "small",
        &redis.url(),
        dir.path(),
        &[],
        &[("DECKHAND_API_TOKEN", "tok3n")],
    );
    let mut api = Api::new(&host);
    api.token = Some("tok3n".into());
    api.ready(&host).await;

    // A path that is not UTF-8 is answered in the API's JSON shape.
    let (status, body) = api.get("/v1/jobs/%FF").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "invalid_request", "{body}");

    // The Bearer scheme is matched without regard to case.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let resp = api
            .http
            .get(format!("{}/v1/plugins", api.base))
            .header("authorization", format!("{scheme} tok3n"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{scheme}");
    }
    let resp = api
        .http
        .get(format!("{}/v1/plugins", api.base))
        .header("authorization", "Basic tok3n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // A bulk line nested too deep names the payload, not the metadata.
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let input = dir.path().join("deep.jsonl");
    std::fs::write(&input, format!("{{\"a\":1}}\n{deep}\n")).unwrap();
    let out = deckhand()
        .args(["bulk", "echo"])
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("o.jsonl"))
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("line 2") && err.contains("payload"), "{err}");
    assert!(!err.contains("metadata"), "{err}");

    // `deckhand stats` on an empty queue names its counters.
    let fresh = TestRedis::start();
    let out = deckhand()
        .args(["stats", "--redis-url", &fresh.url()])
        .output()
        .unwrap();
    let stats: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(stats["submitted"], 0, "{stats}");
    assert_eq!(stats["dead"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_logs_errors_or_health() {
    const SECRET: &str = "hunter2pass";
    let redis = TestRedis::start_with(&["--appendonly", "no"], Some(SECRET));
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("pw", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    host.wait_for_log("serving");

    let health = api.text("/health").await;
    let hosts = deckhand()
        .args(["hosts", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    let wrong = format!("redis://:wrongpass@127.0.0.1:{}", redis.port);
    let refused = deckhand()
        .args(["status", "x", "--redis-url", &wrong])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("cannot reach the queue at redis://***@"),
        "{}",
        stderr(&refused)
    );
    for (what, text) in [
        ("host log", host.log()),
        ("/health", health),
        ("deckhand hosts", stdout(&hosts) + &stderr(&hosts)),
        ("CLI error", stderr(&refused)),
    ] {
        assert!(!text.contains(SECRET), "{what} shows the password:\n{text}");
        assert!(
            !text.contains("wrongpass"),
            "{what} shows the password:\n{text}"
        );
    }
    assert!(
        host.log().contains("redis://***@127.0.0.1"),
        "{}",
        host.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dead_letter_queue_agrees_with_itself() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    // Dead jobs live 5 s (the four deaths below take well under that); the
    // queue holds at most 3.
    let host = Host::start_with_env(
        "dlq",
        &redis.url(),
        dir.path(),
        &[],
        &[
            ("DECKHAND_QUEUE_DEAD_TTL", "5"),
            ("DECKHAND_QUEUE_DEAD_MAX", "3"),
        ],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let q = queue(&redis).await;
    let fail = |i: usize| json!({ "job_type": "chaos.fail", "payload": { "error": "fail", "n": i }, "max_retries": 0 });
    let mut ids = Vec::new();
    for i in 0..4 {
        let (status, body) = api.post("/v1/jobs", fail(i)).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
        // Deaths in order, so "the oldest" is well defined.
        api.wait(&[ids[i].as_str()]).await;
    }
    // The cap: the oldest went, record and entry together.
    let (_, list) = api.get("/v1/dlq").await;
    assert_eq!(list["total"], 3, "{list}");
    assert_eq!(list["jobs"].as_array().unwrap().len(), 3, "{list}");
    assert!(
        q.get(&ids[0]).await.unwrap().is_none(),
        "the oldest record is gone too"
    );

    // After the dead ttl: list, total, metric and retry all say empty.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let (_, list) = api.get("/v1/dlq").await;
    assert_eq!(list, json!({ "total": 0, "jobs": [] }));
    let metrics = api.text("/metrics").await;
    assert!(
        metrics.contains("deckhand_queue_jobs{status=\"dead\"} 0"),
        "{metrics}"
    );
    let out = deckhand()
        .args(["dlq", "list", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("0 dead job(s) in total"),
        "{}",
        stderr(&out)
    );

    // An entry whose record is gone (deleted by hand, or an older host's
    // expiry) is dropped by a retry instead of lingering (replay.lua's
    // EXISTS branch: 0 is true in Lua).
    let mut conn = redis.conn();
    let _: () = conn.zadd("{deckhand}:dead", "ghost", 1).unwrap();
    let replayed = q.dlq_replay(&["ghost".to_string()]).await.unwrap();
    assert!(replayed.is_empty());
    let left: u64 = conn.zcard("{deckhand}:dead").unwrap();
    assert_eq!(left, 0, "the stale entry was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_is_idempotent_across_attempts_and_capped() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos", "echo"]);
    let host = Host::start_with_env(
        "fan",
        &redis.url(),
        dir.path(),
        &["--backoff-factor", "0"],
        &[("DECKHAND_QUEUE_MAX_CHILDREN", "8")],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let q = queue(&redis).await;

    // Five children, then a retry, twice: still five children.
    let (_, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.fanout", "payload": { "children": 5, "fail_until": 3 }, "max_retries": 5 }),
        )
        .await;
    let parent = body["id"].as_str().unwrap().to_string();
    let done = api.wait(&[parent.as_str()]).await;
    assert_eq!(done[0]["status"], "completed", "{}", done[0]);
    assert_eq!(done[0]["attempts"], 3, "{}", done[0]);
    let job = q.get(&parent).await.unwrap().unwrap();
    assert_eq!(job.children.total, 5, "{:?}", job.children);
    let stats = q.stats().await.unwrap();
    assert_eq!(
        stats["submitted"], 6,
        "one parent and five children: {stats:?}"
    );
    let first = q.get(&format!("{parent}.child.0")).await.unwrap();
    assert!(first.is_some(), "children are named after their parent");

    // Past max_children, jobs.submit fails with a message naming the cap.
    let (_, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.fanout", "payload": { "children": 12 }, "max_retries": 0 }),
        )
        .await;
    let big = body["id"].as_str().unwrap().to_string();
    let done = api.wait(&[big.as_str()]).await;
    assert_eq!(done[0]["status"], "dead", "{}", done[0]);
    assert!(done[0].to_string().contains("max_children"), "{}", done[0]);
    let job = q.get(&big).await.unwrap().unwrap();
    assert_eq!(job.children.total, 8, "{:?}", job.children);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_cannot_take_a_loaded_job_type() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("reload", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    // Sorts before echo.wasm, declares echo, hashes differently.
    let bytes = std::fs::read(plugin_wasm("echo")).unwrap();
    install(
        &dir.path().join("a-echo-copy.wasm"),
        &with_custom_section(&bytes, "copy", b"1"),
    );
    wait_until("the newcomer is refused", async || {
        let (_, p) = api.get("/v1/plugins").await;
        p["errors"].to_string().contains("a-echo-copy.wasm")
    })
    .await;
    let (_, p) = api.get("/v1/plugins").await;
    let owners: Vec<&str> = p["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 1, "{p}");
    assert!(owners[0].ends_with("/echo.wasm"), "{p}");
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "echo", "payload": { "k": 1 } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let done = api.wait(&[body["id"].as_str().unwrap()]).await;
    assert_eq!(done[0]["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_capped_and_nothing_is_written_past_the_cap() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start_with_env(
        "batch",
        &redis.url(),
        dir.path(),
        &[],
        &[("DECKHAND_QUEUE_MAX_BATCH_JOBS", "50")],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let jobs: Vec<Value> = (0..51)
        .map(|i| json!({ "job_type": "echo", "payload": { "i": i } }))
        .collect();
    let (status, body) = api.post("/v1/jobs/batch", json!({ "jobs": jobs })).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("max_batch_jobs") && message.contains("50"),
        "{message}"
    );
    let stats = queue(&redis).await.stats().await.unwrap();
    assert_eq!(stats.get("submitted"), None, "{stats:?}");
    let (status, _) = api
        .post("/v1/jobs/batch", json!({ "jobs": jobs[..50] }))
        .await;
    assert_eq!(status, 201);
}

fn deckhand_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
