//! Steering the flow of work: fairness groups within a job type, and rate
//! limits per job type. Real Redis, the real binary and real components.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{ClaimedJob, Queue, QueueConfig, RateLimit};
use serde_json::json;

fn job(job_type: &str, id: String, group: Option<&str>, priority: i32) -> NewJob {
    NewJob {
        id: Some(id),
        group: group.map(str::to_string),
        priority,
        ..NewJob::new(job_type, Payload::parse("{}").unwrap())
    }
}

async fn submit_group(q: &Queue, job_type: &str, group: Option<&str>, n: usize) {
    let name = group.unwrap_or("none");
    let requests: Vec<NewJob> = (0..n)
        .map(|i| job(job_type, format!("{name}-{i}"), group, 0))
        .collect();
    for chunk in requests.chunks(100) {
        q.submit_batch(chunk.to_vec()).await.unwrap();
    }
}

async fn claim_one(q: &Queue, job_type: &str) -> Option<ClaimedJob> {
    q.claim("h", &[job_type], 1, Duration::from_secs(60))
        .await
        .unwrap()
        .pop()
}

#[tokio::test]
async fn groups_take_turns_and_priorities_still_order_inside_a_group() {
    let redis = TestRedis::start();
    let q = queue_with_types(&redis.url(), QueueConfig::default(), "h", &["t"]).await;
    submit_group(&q, "t", Some("a"), 1000).await;
    submit_group(&q, "t", Some("b"), 3).await;
    // Inside a group, a higher priority still goes first.
    q.submit(job("t", "b-urgent".into(), Some("b"), 5))
        .await
        .unwrap();
    assert_eq!(
        q.ready_groups("t").await.unwrap(),
        BTreeMap::from([("a".to_string(), 1000), ("b".to_string(), 4)])
    );
    let mut order = Vec::new();
    for _ in 0..10 {
        order.push(claim_one(&q, "t").await.unwrap().id);
    }
    assert_eq!(
        order,
        [
            "b-urgent", "a-0", "b-0", "a-1", "b-1", "a-2", "b-2", "a-3", "a-4", "a-5"
        ],
        "b's jobs alternate with a's backlog instead of waiting behind it"
    );
    let claimed = q
        .claim("h", &["t"], 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        claimed[0].group.as_deref(),
        Some("a"),
        "the claim says the group"
    );
    assert_eq!(
        q.ready_groups("t").await.unwrap(),
        BTreeMap::from([("a".to_string(), 993)]),
        "a group with nothing ready is forgotten"
    );

    // A group arriving later starts at the head, not at the back.
    submit_group(&q, "t", Some("c"), 2).await;
    let next: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(claim_one(&q, "t").await.unwrap().id);
        }
        v
    };
    assert_eq!(
        next,
        ["a-7", "c-0", "a-8", "c-1"],
        "c alternates with a from the head"
    );

    // Cancelling a ready grouped job counts it out of its group.
    q.submit(job("t", "d-0".into(), Some("d"), 0))
        .await
        .unwrap();
    assert_eq!(q.ready_groups("t").await.unwrap().get("d"), Some(&1));
    q.cancel("d-0").await.unwrap();
    assert_eq!(q.ready_groups("t").await.unwrap().get("d"), None);

    // Jobs without a group are one more group: a grouped newcomer is not
    // held back behind them either.
    let fresh = queue_with_types(&redis.url(), QueueConfig::default(), "h", &["u"]).await;
    submit_group(&fresh, "u", None, 100).await;
    submit_group(&fresh, "u", Some("late"), 2).await;
    let mut first = Vec::new();
    for _ in 0..6 {
        first.push(claim_one(&fresh, "u").await.unwrap().id);
    }
    assert!(first.contains(&"late-0".to_string()), "{first:?}");
    assert!(first.contains(&"late-1".to_string()), "{first:?}");

    // A job scheduled past the configured horizon is refused, naming it.
    let near = Queue::connect(
        &redis.url(),
        QueueConfig {
            max_schedule_ahead_ms: 24 * 3600 * 1000,
            ..QueueConfig::default()
        },
    )
    .await
    .unwrap();
    let far = NewJob {
        delay_ms: Some(2 * 24 * 3600 * 1000),
        ..job("t", "too-far".into(), None, 0)
    };
    let err = near.submit(far.clone()).await.unwrap_err().to_string();
    assert!(
        err.contains("queue.max_schedule_ahead_days") && err.contains("1 days"),
        "{err}"
    );
    assert!(q.get("too-far").await.unwrap().is_none());
    q.submit(far).await.unwrap();

    // A bad group name is refused, naming the field; nothing is written.
    for bad in ["", "has space", &"g".repeat(129)] {
        let err = q
            .submit(job("t", format!("bad-{}", bad.len()), Some(bad), 0))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("group"), "{err}");
        assert!(
            q.get(&format!("bad-{}", bad.len()))
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_group_starts_within_the_first_claims_across_two_hosts() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo"]);
    let hosts = [
        Host::start("fair-a", &redis.url(), plugins.path(), &[]),
        Host::start("fair-b", &redis.url(), plugins.path(), &[]),
    ];
    for host in &hosts {
        Api::new(host).ready(host).await;
    }
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    // Held while the backlog is written, so both groups are ready at once.
    q.pause("echo").await.unwrap();
    submit_group(&q, "echo", Some("big"), 10_000).await;
    submit_group(&q, "echo", Some("small"), 10).await;
    let (_, groups) = Api::new(&hosts[0]).get("/v1/job-types").await;
    let echo = groups["job_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["job_type"] == "echo")
        .unwrap()
        .clone();
    assert_eq!(echo["ready_groups"]["small"], 10, "{echo}");
    assert_eq!(echo["ready_groups"]["big"], 10_000, "{echo}");
    let out = deckhand()
        .args(["stats", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(stats["job_types"]["echo"]["paused"], true, "{stats}");
    assert_eq!(
        stats["job_types"]["echo"]["ready_groups"]["small"], 10,
        "{stats}"
    );
    let metrics = Api::new(&hosts[0]).text("/metrics").await;
    assert!(
        metrics.contains("deckhand_group_ready_jobs{job_type=\"echo\",group=\"small\"} 10"),
        "{metrics}"
    );
    q.resume("echo").await.unwrap();

    let small: Vec<String> = (0..10).map(|i| format!("small-{i}")).collect();
    let big: Vec<String> = (0..10_000).map(|i| format!("big-{i}")).collect();
    let started = |jobs: Vec<Option<deckhand::queue::JobRecord>>| -> Vec<u64> {
        jobs.into_iter()
            .map(|j| j.and_then(|j| j.started_at).unwrap_or(u64::MAX))
            .collect()
    };
    let mut small_started = Vec::new();
    for _ in 0..600 {
        small_started = started(q.get_many(&small).await.unwrap());
        if small_started.iter().all(|&t| t != u64::MAX) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last_small = *small_started.iter().max().unwrap();
    assert_ne!(last_small, u64::MAX, "every small job started");
    // Jobs of the big group that started before the last small one did.
    let before = started(q.get_many(&big).await.unwrap())
        .into_iter()
        .filter(|&t| t < last_small)
        .count();
    assert!(
        before + small.len() <= 50,
        "{before} big jobs started before the last small one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_hosts_without_spending_attempts() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo"]);
    let hosts = [
        Host::start("rate-a", &redis.url(), plugins.path(), &[]),
        Host::start("rate-b", &redis.url(), plugins.path(), &[]),
    ];
    for host in &hosts {
        Api::new(host).ready(host).await;
    }
    let api = Api::new(&hosts[0]);
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();

    // Out of range is refused everywhere, naming the setting; nothing set.
    let (status, body) = api
        .post("/v1/job-types/echo/rate", json!({ "rate_limit": "0/1s" }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("jobs 0"), "{body}");
    let out = deckhand()
        .args([
            "rate",
            "echo",
            "--limit",
            "5/2d",
            "--redis-url",
            &redis.url(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = deckhand()
        .args(["serve", "--listen", "", "--redis-url", &redis.url()])
        .args(["--job-type-limits", "echo:rate_limit=5/0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("rate_limit"), "{}", stderr(&out));
    assert!(q.rates().await.unwrap().is_empty());

    let (status, body) = api
        .post("/v1/job-types/echo/rate", json!({ "rate_limit": "4/1s" }))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids = Vec::new();
    for i in 0..14 {
        let (status, body) = api
            .post(
                "/v1/jobs",
                json!({ "job_type": "echo", "payload": { "i": i } }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = api.wait(&refs).await;
    assert!(done.iter().all(|j| j["status"] == "completed"), "{done:?}");
    assert!(
        done.iter().all(|j| j["attempts"] == 1),
        "no attempt spent waiting"
    );
    let mut starts: Vec<u64> = done
        .iter()
        .map(|j| j["started_at"].as_u64().unwrap())
        .collect();
    starts.sort_unstable();
    // Each interval begins with the first claim after the last one ended,
    // so the k-th start is at least k/4 whole intervals after the first.
    for (k, &t) in starts.iter().enumerate() {
        let earliest = starts[0] + (k as u64 / 4) * 1000;
        assert!(
            t >= earliest,
            "start {k} at +{} ms: {starts:?}",
            t - starts[0]
        );
    }
    let figures = q.figures().await.unwrap();
    assert!(
        figures.stats.get("throttled").copied().unwrap_or(0) > 0,
        "{figures:?}"
    );
    let (_, types) = api.get("/v1/job-types").await;
    assert!(
        types
            .to_string()
            .contains("\"rate_limit\":{\"interval_ms\":1000,\"jobs\":4}"),
        "{types}"
    );
    let metrics = api.text("/metrics").await;
    assert!(
        metrics.contains("deckhand_job_type_rate_limit{job_type=\"echo\"} 4"),
        "{metrics}"
    );
    let out = deckhand()
        .args(["stats", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(stats["throttled"].as_i64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["job_types"]["echo"]["rate_limit"]["jobs"], 4,
        "{stats}"
    );
    assert_eq!(stats["queue"]["ready"], 0, "{stats}");

    // Lifted from the CLI: the next jobs start at once.
    let out = deckhand()
        .args(["rate", "echo", "--none", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(q.rates().await.unwrap().is_empty());
    let limit = RateLimit::parse("3/1h").unwrap();
    q.set_rate("echo", Some(limit)).await.unwrap();
    assert_eq!(q.rates().await.unwrap().get("echo"), Some(&limit));
    q.set_rate("echo", None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_inherit_the_group_and_can_be_submitted_for_later() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["echo", "chaos"]);
    let hosts = [
        Host::start("later-a", &redis.url(), plugins.path(), &[]),
        Host::start("later-b", &redis.url(), plugins.path(), &[]),
    ];
    for host in &hosts {
        Api::new(host).ready(host).await;
    }
    let api = Api::new(&hosts[0]);
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.fanout", "group": "customer-7",
                    "payload": { "children": 3, "later_ms": 1500 } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let parent = api.wait(&[body["id"].as_str().unwrap()]).await.remove(0);
    assert_eq!(parent["status"], "completed", "{parent}");
    let children = common::api::children_of(&parent);
    assert_eq!(children.len(), 3);
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    for child in q.get_many(&children).await.unwrap() {
        let child = child.unwrap();
        assert_eq!(child.group.as_deref(), Some("customer-7"), "inherited");
        assert_eq!(
            child.status,
            deckhand::queue::JobStatus::Scheduled,
            "{child:?}"
        );
    }
    let refs: Vec<&str> = children.iter().map(String::as_str).collect();
    let done = api.wait(&refs).await;
    // Submitted after the parent started, so run no earlier than 1.5 s after that.
    let parent_started = parent["started_at"].as_u64().unwrap();
    for child in &done {
        assert_eq!(child["status"], "completed", "{child}");
        let started = child["started_at"].as_u64().unwrap();
        assert!(
            started >= parent_started + 1500,
            "started {} ms after the parent",
            started - parent_started
        );
    }
}

/// The claim script's rate branches: a type at its limit with jobs ready is
/// a throttled claim and says when its interval ends; at its limit with
/// nothing ready it is not.
#[tokio::test]
async fn a_type_at_its_rate_limit_is_throttled_only_with_jobs_ready() {
    let redis = TestRedis::start();
    let q = queue_with_types(&redis.url(), QueueConfig::default(), "h", &["r"]).await;
    q.set_rate("r", Some(RateLimit::parse("1/1h").unwrap()))
        .await
        .unwrap();
    let throttled = async || {
        q.stats()
            .await
            .unwrap()
            .get("throttled")
            .copied()
            .unwrap_or(0)
    };
    q.submit(job("r", "r-0".into(), None, 0)).await.unwrap();
    assert_eq!(claim_one(&q, "r").await.unwrap().id, "r-0");
    let idle = q
        .claim_next("h", &["r"], 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(idle.jobs.is_empty());
    assert_eq!(throttled().await, 0, "nothing ready: not throttled");
    assert_eq!(idle.next_due, None, "nothing to look again for");
    q.submit(job("r", "r-1".into(), None, 0)).await.unwrap();
    let held = q
        .claim_next("h", &["r"], 1, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(held.jobs.is_empty(), "the hour's one claim is spent");
    assert_eq!(throttled().await, 1);
    let next = held.next_due.unwrap();
    assert!(
        next > Duration::from_secs(3500) && next <= Duration::from_secs(3600),
        "look again when the interval ends: {next:?}"
    );
    assert_eq!(q.get("r-1").await.unwrap().unwrap().attempts, 0);
}
