//! Operator controls: jobs scheduled for later (API `run_at` / `delay_ms`,
//! CLI `--at` / `--in`), and pausing a job type on every host at once.
//! Real Redis, the real binary and real components.

use crate::common;

use std::time::Duration;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::job::{NewJob, Payload};
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

/// The most jobs whose [started_at, finished_at) spans overlap at once.
fn max_overlap(jobs: &[serde_json::Value]) -> usize {
    let spans: Vec<(u64, u64)> = jobs
        .iter()
        .map(|j| {
            (
                j["started_at"].as_u64().unwrap(),
                j["finished_at"].as_u64().unwrap(),
            )
        })
        .collect();
    spans
        .iter()
        .map(|&(s, _)| spans.iter().filter(|&&(a, b)| a <= s && s < b).count())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_holds_across_hosts_and_a_killed_host_frees_its_slot() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo", "chaos"]);
    let lease = ["--lease-ms", "1000", "--batch-size", "50"];
    let mut hosts = [
        Host::start("cap-a", &redis.url(), plugins.path(), &lease),
        Host::start("cap-b", &redis.url(), plugins.path(), &lease),
    ];
    let api = Api::new(&hosts[0]);
    api.ready(&hosts[0]).await;
    Api::new(&hosts[1]).ready(&hosts[1]).await;
    let q = queue(&redis).await;

    let out = deckhand()
        .args(["cap", "chaos.sleep", "--max-running", "2"])
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let submit_sleeps = async |n: usize, ms: u64| {
        let mut ids = Vec::new();
        for i in 0..n {
            let (status, body) = api
                .post(
                    "/v1/jobs",
                    json!({ "job_type": "chaos.sleep", "payload": { "ms": ms, "i": i } }),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            ids.push(body["id"].as_str().unwrap().to_string());
        }
        ids
    };
    // Two hosts with 50 slots each: without the cap, all would run at once.
    let jobs: Vec<serde_json::Value> = (0..200)
        .map(|i| json!({ "job_type": "chaos.sleep", "payload": { "ms": 15, "i": i } }))
        .collect();
    let mut ids = Vec::new();
    for chunk in jobs.chunks(100) {
        let (status, body) = api.post("/v1/jobs/batch", json!({ "jobs": chunk })).await;
        assert_eq!(status, 201, "{body}");
        for job in body["jobs"].as_array().unwrap() {
            ids.push(job["id"].as_str().unwrap().to_string());
        }
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = api.wait(&refs).await;
    assert_eq!(done.len(), 200);
    assert!(done.iter().all(|j| j["status"] == "completed"));
    assert_eq!(
        max_overlap(&done),
        2,
        "at most two at once, and the cap was used"
    );
    let (_, types) = api.get("/v1/job-types").await;
    let sleep = types["job_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["job_type"] == "chaos.sleep")
        .unwrap()
        .clone();
    assert_eq!(sleep["max_running"], 2, "{sleep}");
    assert_eq!(sleep["running"], 0, "{sleep}");

    // Cap 1: a host killed mid-job holds the only slot until its lease is
    // reaped; then the next job runs.
    let (status, body) = api
        .post("/v1/job-types/chaos.sleep/cap", json!({ "max_running": 1 }))
        .await;
    assert_eq!(status, 200, "{body}");
    let long = submit_sleeps(1, 2500).await.remove(0);
    let worker = loop {
        let job = q.get(&long).await.unwrap().unwrap();
        if job.status == JobStatus::Running {
            break job.worker.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let next = submit_sleeps(1, 10).await.remove(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        q.get(&next).await.unwrap().unwrap().status,
        JobStatus::Pending,
        "the slot is taken"
    );
    let victim = hosts.iter().position(|h| h.id == worker).unwrap();
    hosts[victim].kill9();
    let survivor = &hosts[1 - victim];
    let api = Api::new(survivor);
    let done = api.wait(&[next.as_str(), long.as_str()]).await;
    assert!(
        done.iter().all(|j| j["status"] == "completed"),
        "{done:?}\n{}",
        survivor.log()
    );
    assert_eq!(max_overlap(&done), 1);
    let metrics = api.text("/metrics").await;
    assert!(
        metrics.contains("deckhand_job_type_running{job_type=\"chaos.sleep\"} 0"),
        "{metrics}"
    );

    // A cap given in the host's configuration (flag, env or file) is set
    // when the host starts; one out of bounds stops the start, named.
    let third = Host::start(
        "cap-c",
        &redis.url(),
        plugins.path(),
        &["--job-type-limits", "echo:max_running=3"],
    );
    let mut caps = q.caps().await.unwrap();
    for _ in 0..200 {
        if caps.contains_key("echo") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        caps = q.caps().await.unwrap();
    }
    assert_eq!(caps.get("echo"), Some(&3), "{}", third.log());
    let out = deckhand()
        .args(["serve", "--listen", "", "--redis-url", &redis.url()])
        .args(["--job-type-limits", "echo:max_running=0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("max_running"), "{}", stderr(&out));
    drop(third);
    q.set_cap("echo", None).await.unwrap();

    // Out of bounds is refused; lifting the cap works.
    let (status, _) = api
        .post("/v1/job-types/chaos.sleep/cap", json!({ "max_running": 0 }))
        .await;
    assert_eq!(status, 400);
    let out = deckhand()
        .args(["cap", "chaos.sleep", "--max-running", "0"])
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = deckhand()
        .args(["cap", "chaos.sleep", "--none", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(q.caps().await.unwrap().is_empty());
}

#[tokio::test]
async fn leases_from_before_the_running_counts_are_counted_once() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut conn = redis.conn();
    let _: () = ::redis::cmd("HSET")
        .arg("{deckhand}:types")
        .arg("x")
        .arg("{}")
        .query(&mut conn)
        .unwrap();
    let req = NewJob::new("x", Payload::parse("{}").unwrap());
    q.submit(req.clone()).await.unwrap();
    q.submit(req).await.unwrap();
    let claimed = q
        .claim("old-host", &["x"], 2, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(q.running_by_type().await.unwrap()["x"], 2);
    // What a queue from before the counts looks like: leases, no counts.
    let _: () = ::redis::cmd("DEL")
        .arg("{deckhand}:running")
        .query(&mut conn)
        .unwrap();
    let _: () = ::redis::cmd("SET")
        .arg("{deckhand}:layout")
        .arg(1)
        .query(&mut conn)
        .unwrap();
    q.migrate().await.unwrap();
    assert_eq!(q.running_by_type().await.unwrap()["x"], 2);
    q.migrate().await.unwrap();
    assert_eq!(q.running_by_type().await.unwrap()["x"], 2, "once");
    q.complete(&claimed[0], "{}", "v").await.unwrap();
    q.cancel(&claimed[1].id).await.unwrap();
    assert_eq!(q.running_by_type().await.unwrap()["x"], 0);
    // With the cap at 1 and one running, a claim takes nothing; at 0 room
    // left (0 is true in Lua) the type is skipped, not fetched.
    q.set_cap("x", Some(1)).await.unwrap();
    let req = NewJob::new("x", Payload::parse("{\"n\": 2}").unwrap());
    q.submit(req.clone()).await.unwrap();
    q.submit(NewJob {
        payload: Payload::parse("{\"n\": 3}").unwrap(),
        ..req
    })
    .await
    .unwrap();
    let first = q
        .claim("h", &["x"], 5, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(first.len(), 1, "the cap leaves room for one");
    let second = q
        .claim("h", &["x"], 5, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(second.is_empty(), "no room while it runs");
    let failure = deckhand::runtime::JobFailure::Retry {
        message: "again".into(),
    };
    q.fail(&first[0], &failure, "h", "v").await.unwrap();
    let third = q
        .claim("h", &["x"], 5, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(third.len(), 1, "a failed attempt frees its slot");
}
