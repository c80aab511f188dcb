//! Operator controls: jobs scheduled for later (API `run_at` / `delay_ms`,
//! CLI `--at` / `--in`), and pausing a job type on every host at once.
//! Real Redis, the real binary and real components.

mod common;

use std::time::Duration;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::queue::{JobStatus, Queue, QueueConfig};
use serde_json::json;

async fn queue(redis: &TestRedis) -> Queue {
    Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_wait_for_their_time_then_run_promptly() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo"]);
    let host = Host::start("sched", &redis.url(), plugins.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let q = queue(&redis).await;

    // Staggered delays: an idle host that only looked once a second (its
    // idle poll) would start most of them hundreds of ms late.
    let delays = [700u64, 900, 1100, 1300, 1500];
    let mut ids = Vec::new();
    for (i, delay) in delays.iter().enumerate() {
        let (status, body) = api
            .post(
                "/v1/jobs",
                json!({ "job_type": "echo", "payload": { "i": i }, "delay_ms": delay }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "scheduled", "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for id in &ids {
        let job = q.get(id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Scheduled, "not before its time");
        assert!(job.run_at.is_some());
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = api.wait(&refs).await;
    for (job, delay) in done.iter().zip(delays) {
        assert_eq!(job["status"], "completed", "{job}");
        let created = job["created_at"].as_u64().unwrap();
        let started = job["started_at"].as_u64().unwrap();
        let due = created + delay;
        assert!(started >= due, "started {} ms early", due - started);
        assert!(
            started - due < 300,
            "started {} ms after its time (delay {delay} ms)",
            started - due
        );
    }

    // A time already past runs at once; RFC 3339 with an offset is read.
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "echo", "payload": {}, "run_at": "2020-01-01T01:00:00+01:00" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "pending", "{body}");

    // Bad schedules are refused, naming the problem, and nothing is written.
    let before = q.stats().await.unwrap().get("submitted").copied();
    for (bad, names) in [
        (json!({ "run_at": "tomorrow" }), "run_at"),
        (json!({ "run_at": "2026-02-30T00:00:00Z" }), "run_at"),
        (
            json!({ "run_at": "2030-01-01T00:00:00Z", "delay_ms": 5 }),
            "not both",
        ),
        (json!({ "delay_ms": 400_000_000_000u64 }), "10 years"),
        (
            json!({ "delay_ms": 1000, "depends_on": [ids[0]] }),
            "depends_on",
        ),
    ] {
        let mut body = json!({ "job_type": "echo", "payload": {} });
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, reply) = api.post("/v1/jobs", body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(
            reply["error"]["message"].as_str().unwrap().contains(names),
            "{body}: {reply}"
        );
    }
    assert_eq!(q.stats().await.unwrap().get("submitted").copied(), before);

    // The CLI: --in and --at.
    let payload = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(payload.path(), "{}").unwrap();
    let out = deckhand()
        .args(["submit", "echo"])
        .arg(payload.path())
        .args(["--in", "1h", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let later = q.get(stdout(&out).trim()).await.unwrap().unwrap();
    assert_eq!(later.status, JobStatus::Scheduled);
    let run_at = later.run_at.unwrap();
    assert!(run_at >= later.created_at + 3_599_000 && run_at <= later.created_at + 3_601_000);
    let out = deckhand()
        .args(["submit", "echo"])
        .arg(payload.path())
        .args(["--at", "next tuesday", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--at"), "{}", stderr(&out));
    let out = deckhand()
        .args(["submit", "echo"])
        .arg(payload.path())
        .args(["--in", "5 weeks", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A scheduled job can be cancelled before its time.
    let (status, _) = api
        .post(&format!("/v1/jobs/{}/cancel", later.id), json!({}))
        .await;
    assert_eq!(status, 200);
    let cancelled = q.get(&later.id).await.unwrap().unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_a_job_type_stops_every_host_until_it_is_resumed() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo", "chaos"]);
    let a = Host::start("pause-a", &redis.url(), plugins.path(), &[]);
    let b = Host::start("pause-b", &redis.url(), plugins.path(), &[]);
    let api = Api::new(&a);
    api.ready(&a).await;
    Api::new(&b).ready(&b).await;
    let q = queue(&redis).await;

    // A job already running when the pause comes finishes.
    let (_, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.sleep", "payload": { "ms": 1500 } }),
        )
        .await;
    let slow = body["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if q.get(&slow).await.unwrap().unwrap().status == JobStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = deckhand()
        .args(["pause", "chaos.sleep", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("paused"), "{}", stdout(&out));
    let (status, body) = api.post("/v1/job-types/echo/pause", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changed"], true);

    // Submissions still queue; no host claims them.
    let mut ids = Vec::new();
    for i in 0..6 {
        let (status, body) = api
            .post(
                "/v1/jobs",
                json!({ "job_type": "echo", "payload": { "i": i } }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let (_, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.sleep", "payload": { "ms": 1 } }),
        )
        .await;
    let queued_sleep = body["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for id in &ids {
        assert_eq!(
            q.get(id).await.unwrap().unwrap().status,
            JobStatus::Pending,
            "paused: not claimed"
        );
    }
    assert_eq!(
        q.get(&queued_sleep).await.unwrap().unwrap().status,
        JobStatus::Pending
    );
    assert_eq!(
        q.get(&slow).await.unwrap().unwrap().status,
        JobStatus::Completed,
        "the running job finished"
    );
    let (_, types) = api.get("/v1/job-types").await;
    let echo = types["job_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["job_type"] == "echo")
        .unwrap()
        .clone();
    assert_eq!(echo["paused"], true, "{types}");
    let metrics = api.text("/metrics").await;
    assert!(
        metrics.contains("deckhand_job_type_paused{job_type=\"echo\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("deckhand_job_type_paused{job_type=\"chaos.fail\"} 0"));

    // Resumed over the API and the CLI: the queued jobs run.
    let (status, body) = api.post("/v1/job-types/echo/resume", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let out = deckhand()
        .args(["resume", "chaos.sleep", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut all: Vec<&str> = ids.iter().map(String::as_str).collect();
    all.push(&queued_sleep);
    for job in api.wait(&all).await {
        assert_eq!(job["status"], "completed", "{job}");
    }
    let metrics = api.text("/metrics").await;
    assert!(metrics.contains("deckhand_job_type_paused{job_type=\"echo\"} 0"));

    // A name that cannot be a job type is refused.
    let (status, body) = api.post("/v1/job-types/bad%20name/pause", json!({})).await;
    assert_eq!(status, 400, "{body}");
    let out = deckhand()
        .args(["pause", "{bad}", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(q.paused().await.unwrap().is_empty());
}
