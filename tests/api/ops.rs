//! What operators read from the API: `/metrics` counting what happened, `/health` following Redis.

use super::*;

/// After a run with successes, a retry, a dead job and a cache hit, each
/// counter has the right value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("hi"));
    let dir = plugin_dir(&["echo", "chaos"]);
    let host = Host::start(
        "m",
        &redis.url(),
        dir.path(),
        &[
            "--llm-provider",
            "openai",
            "--llm-base-url",
            &fake.url(),
            "--backoff-factor",
            "0.01",
        ],
    );
    let api = Api::new(&host);
    api.ready(&host).await;

    for (id, job_type, payload) in [
        ("ok1", "echo", json!(1)),
        ("ok2", "echo", json!(2)),
        (
            "flaky",
            "chaos.fail",
            json!({"error": "retry", "succeed_on": 2}),
        ),
        ("doomed", "chaos.fail", json!({"error": "fail"})),
        ("llm1", "chaos.llm", json!({"prompt": "same"})),
    ] {
        let (status, r) = api
            .post(
                "/v1/jobs",
                json!({"job_type": job_type, "payload": payload, "id": id}),
            )
            .await;
        assert_eq!(status, 201, "{r}");
    }
    api.wait(&["ok1", "ok2", "flaky", "doomed", "llm1"]).await;
    let (status, hit) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "chaos.llm", "payload": {"prompt": "same"}, "id": "llm2"}),
        )
        .await;
    assert_eq!((status, hit["cache_hit"].as_bool()), (201, Some(true)));

    // The host counts an attempt just after Redis records it (and wakes the
    // waiter), so give the last count a moment to land.
    let mut text = String::new();
    for _ in 0..100 {
        text = api.text("/metrics").await;
        if text.contains("worker_jobs_processed_total{status=\"completed\"} 4") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let value = |line: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(line)
                    .map(|v| v.trim().parse::<f64>().unwrap())
            })
            .unwrap_or_else(|| panic!("no {line} in\n{text}"))
    };
    assert_eq!(
        value("worker_jobs_processed_total{status=\"completed\"}"),
        4.0,
        "{text}"
    );
    assert_eq!(
        value("worker_jobs_processed_total{status=\"retried\"}"),
        1.0
    );
    assert_eq!(value("worker_jobs_processed_total{status=\"dead\"}"), 1.0);
    assert_eq!(value("deckhand_jobs_submitted_total"), 6.0);
    assert_eq!(value("deckhand_jobs_completed_total"), 5.0);
    assert_eq!(value("deckhand_retries_total"), 1.0);
    assert_eq!(value("deckhand_dead_letters_total"), 1.0);
    assert_eq!(value("deckhand_cache_hits_total"), 1.0);
    assert_eq!(
        value("deckhand_llm_requests_total{provider=\"openai\"}"),
        1.0
    );
    assert_eq!(
        value("deckhand_llm_tokens_total{provider=\"openai\",kind=\"prompt\"}"),
        11.0
    );
    assert_eq!(
        value("deckhand_llm_tokens_total{provider=\"openai\",kind=\"completion\"}"),
        7.0
    );
    assert_eq!(value("deckhand_queue_jobs{status=\"dead\"}"), 1.0);
    assert_eq!(value("worker_queue_size"), 0.0);
    assert_eq!(
        value("deckhand_plugin_failures_total{job_type=\"chaos.fail\",kind=\"retry\"}"),
        1.0
    );
    assert_eq!(
        value("deckhand_plugin_failures_total{job_type=\"chaos.fail\",kind=\"fail\"}"),
        1.0
    );
    assert_eq!(
        value("worker_job_processing_seconds_count{job_type=\"echo\"}"),
        2.0
    );
    assert_eq!(value("deckhand_redis_up"), 1.0);
}

/// /health turns unhealthy while its Redis is down, healthy when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_redis() {
    let mut redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("hh", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let (status, health) = api.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["worker_id"], "hh");
    assert_eq!(health["redis"]["reachable"], true);
    for field in ["processed_jobs", "failed_jobs", "current_memory", "uptime"] {
        assert!(health[field].is_number(), "{field}: {health}");
    }
    assert_eq!(health["plugins"][0]["name"], "echo");

    redis.kill();
    let (status, health) = api.get("/health").await;
    assert_eq!(status, 503);
    assert_eq!(health["status"], "unhealthy");
    assert_eq!(health["redis"]["reachable"], false);
    assert!(api.text("/metrics").await.contains("deckhand_redis_up 0"));

    redis.restart();
    for _ in 0..200 {
        let (status, health) = api.get("/health").await;
        if status == 200 && health["status"] == "healthy" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/health did not recover after Redis came back");
}
