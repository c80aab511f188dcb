//! Submissions refused, waiting for results, one claim and one call for many results, and
//! finished jobs expiring under one hash tag.

use super::*;

#[tokio::test]
async fn bad_submissions_are_refused_and_change_nothing() {
    let redis = TestRedis::start();
    let config = QueueConfig {
        max_payload_bytes: 1000,
        ..QueueConfig::default()
    };
    let q = queue_with(&redis, config).await;
    let existing = submit(&q, job("a", "{}")).await;
    let before = redis.digest();
    // Text that is not JSON never becomes a job: refused where it enters.
    let not_json = Payload::parse("{not json").expect_err("not JSON");
    assert!(not_json.contains("not valid JSON"), "{not_json}");

    let cases: Vec<(NewJob, &str)> = vec![
        (job("nobody-runs-this", "{}"), "unknown job type"),
        (
            job("a", &format!("\"{}\"", "x".repeat(2000))),
            "over the limit",
        ),
        (job("bad type!", "{}"), "job type name"),
        (
            NewJob {
                depends_on: vec![existing.clone(), "no-such-job".into()],
                ..job("a", "{}")
            },
            "unknown dependency \"no-such-job\"",
        ),
        (
            NewJob {
                id: Some("me".into()),
                depends_on: vec!["me".into()],
                ..job("a", "{}")
            },
            "cannot depend on itself",
        ),
        (
            NewJob {
                priority: 2_000_000,
                ..job("a", "{}")
            },
            "priority",
        ),
        (
            NewJob {
                id: Some("has space".into()),
                ..job("a", "{}")
            },
            "job id",
        ),
    ];
    for (req, expected) in cases {
        let err = q.submit(req.clone()).await.expect_err(expected);
        assert!(!matches!(err, QueueError::Redis(_)), "{err}");
        assert!(
            err.to_string().contains(expected),
            "{err} should say {expected}"
        );
        assert_eq!(redis.digest(), before, "{expected}: Redis changed");
    }
}

#[tokio::test]
async fn wait_for_jobs_returns_when_they_finish() {
    let redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(0)).await;
    let a = submit(&q, job("a", "1")).await;
    let b = submit(&q, job("a", "2")).await;
    let worker = {
        let q = q.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let j = claim_one(&q, &["a"]).await.unwrap();
            q.complete(&j, "\"done\"", "v1").await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            let j = claim_one(&q, &["a"]).await.unwrap();
            q.fail(
                &j,
                &JobFailure::Fail {
                    message: "no".into(),
                },
                HOST,
                "v1",
            )
            .await
            .unwrap();
        })
    };
    let done = q
        .wait_for_jobs(&[a.clone(), b.clone()], Duration::from_secs(30))
        .await
        .unwrap();
    worker.await.unwrap();
    assert_eq!(done[0].status, JobStatus::Completed);
    assert_eq!(done[0].result.as_deref(), Some("\"done\""));
    assert_eq!(done[1].status, JobStatus::Dead);

    let c = submit(&q, job("a", "3")).await;
    match q.wait_for_jobs(&[c], Duration::from_millis(200)).await {
        Err(QueueError::WaitTimeout(_)) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(matches!(
        q.wait_for_jobs(&["nope".into()], Duration::from_secs(1))
            .await,
        Err(QueueError::NotFound(_))
    ));
}

/// A wait whose Redis goes away ends with a connection failure, which
/// callers (and the API, as 503) treat as worth trying again, not as an
/// unexpected reply.
#[tokio::test]
async fn a_wait_cut_off_by_redis_going_away_is_a_transient_failure() {
    let mut redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(0)).await;
    let id = submit(&q, job("a", "1")).await;
    let waiting = {
        let q = q.clone();
        tokio::spawn(async move { q.wait_for_jobs(&[id], Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.kill();
    let ended = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the wait ends once its connection is gone")
        .unwrap();
    match ended {
        Err(e) => assert!(e.is_transient(), "{e:?}"),
        Ok(jobs) => panic!("nothing finished, yet the wait answered {jobs:?}"),
    }
}

#[tokio::test]
async fn one_claim_merges_types_by_priority_and_one_call_records_many_results() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let with_priority = |t: &str, p: i32| NewJob {
        priority: p,
        ..job(t, "{}")
    };
    let a_low = submit(&q, with_priority("a", 1)).await;
    let b_high = submit(&q, with_priority("b", 9)).await;
    let a_high = submit(&q, with_priority("a", 5)).await;
    let b_low = submit(&q, with_priority("b", 0)).await;
    let after = submit(
        &q,
        NewJob {
            depends_on: vec![b_high.clone()],
            ..job("a", "{}")
        },
    )
    .await;

    // Three of the four ready jobs, best first across both types.
    let claimed = q.claim(HOST, &["a", "b"], 3, LEASE).await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, [&b_high, &a_high, &a_low]);
    let tokens: std::collections::HashSet<&str> =
        claimed.iter().map(|j| j.token.as_str()).collect();
    assert_eq!(tokens.len(), 3, "each claim has its own fencing token");
    assert!(claimed.iter().all(|j| j.attempt == 1));

    // Someone waits for them; each message may carry several ids.
    let waiter = {
        let q = q.clone();
        let ids = vec![b_high.clone(), a_high.clone()];
        tokio::spawn(async move { q.wait_for_jobs(&ids, Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut lost = claimed[2].clone();
    lost.token = "not-the-token".into();
    let acks = q
        .complete_many(&[
            Completion {
                job: &claimed[0],
                result: "1",
                plugin_version: "v1",
                cache_hit: false,
            },
            Completion {
                job: &lost,
                result: "2",
                plugin_version: "v1",
                cache_hit: false,
            },
            Completion {
                job: &claimed[1],
                result: "3",
                plugin_version: "v1",
                cache_hit: true,
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        acks,
        [
            Ack::Recorded(JobStatus::Completed),
            Ack::Stale,
            Ack::Recorded(JobStatus::Completed)
        ]
    );
    let done = waiter.await.unwrap().unwrap();
    assert_eq!(done[0].result.as_deref(), Some("1"));
    assert_eq!(done[1].result.as_deref(), Some("3"));
    assert!(done[1].cache_hit && !done[0].cache_hit);
    assert_eq!(
        status(&q, &a_low).await,
        JobStatus::Running,
        "stale: untouched"
    );
    assert_eq!(
        status(&q, &after).await,
        JobStatus::Pending,
        "its dependency completed"
    );
    let stats = q.stats().await.unwrap();
    assert_eq!(
        (
            stats["completed"],
            stats["stale_rejected"],
            stats["cache_hits"]
        ),
        (2, 1, 1)
    );
    // What is left: the dependent (priority 0, earlier) then b_low.
    let rest = q.claim(HOST, &["a", "b"], 10, LEASE).await.unwrap();
    let ids: Vec<&str> = rest.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, [&b_low, &after]);

    // Too many at once is refused before anything is written.
    let many = vec![
        Completion {
            job: &claimed[2],
            result: "4",
            plugin_version: "v1",
            cache_hit: false,
        };
        MAX_COMPLETE_BATCH + 1
    ];
    assert!(matches!(
        q.complete_many(&many).await,
        Err(QueueError::Invalid { .. })
    ));
    assert_eq!(status(&q, &a_low).await, JobStatus::Running);
}

#[tokio::test]
async fn finished_jobs_expire_and_every_key_shares_one_hash_tag() {
    let redis = TestRedis::start();
    let config = QueueConfig {
        prefix: "pantry".into(),
        result_ttl_secs: 100,
        ..QueueConfig::default()
    };
    let q = queue_with(&redis, config).await;
    let id = submit(&q, job("a", "{}")).await;
    let j = claim_one(&q, &["a"]).await.unwrap();
    q.complete(&j, "{}", "v1").await.unwrap();
    let mut conn = redis.conn();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{{pantry}}:job:{id}"))
        .query(&mut conn)
        .unwrap();
    assert!((1..=100).contains(&ttl), "ttl {ttl}");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        assert!(key.starts_with("{pantry}:"), "{key}");
    }
}
