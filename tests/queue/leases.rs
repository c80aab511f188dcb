//! Retries and leases: the backoff, the dead-letter queue with its history, feedback to the next
//! attempt, stale and reused fencing tokens, reaping, renewing and handing back.

use super::*;

#[tokio::test]
async fn retries_follow_the_backoff_formula() {
    let redis = TestRedis::start();
    let config = QueueConfig {
        retry: RetryStrategy {
            max_retries: 3,
            backoff_factor_secs: 0.25,
            jitter: false,
            ..RetryStrategy::default()
        },
        ..QueueConfig::default()
    };
    let q = queue_with(&redis, config).await;
    let id = submit(&q, job("a", "{}")).await;
    let first = claim_one(&q, &["a"]).await.unwrap();
    assert_eq!(first.attempt, 1);
    assert_eq!(
        q.fail(&first, &retry("flaky"), HOST, "v1").await.unwrap(),
        Ack::Recorded(JobStatus::Scheduled)
    );
    let rec = q.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.status, JobStatus::Scheduled);
    // run_at and updated_at come from the same Redis clock reading.
    assert_eq!(rec.run_at.unwrap() - rec.updated_at, 500, "0.25 s · 2^1");
    assert_eq!(rec.attempts, 1);
    // Not claimable before its time.
    assert!(claim_one(&q, &["a"]).await.is_none());

    let second = claim_eventually(&q, "a").await;
    assert_eq!(second.attempt, 2);
    q.fail(&second, &retry("flaky"), HOST, "v1").await.unwrap();
    let rec = q.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.run_at.unwrap() - rec.updated_at, 1000, "0.25 s · 2^2");
    assert_eq!(rec.errors.len(), 2);
}

#[tokio::test]
async fn jittered_delays_stay_within_half_and_one_and_a_half() {
    let redis = TestRedis::start();
    let config = QueueConfig {
        retry: RetryStrategy {
            max_retries: 1,
            backoff_factor_secs: 10.0,
            jitter: true,
            ..RetryStrategy::default()
        },
        ..QueueConfig::default()
    };
    let q = queue_with(&redis, config).await;
    let mut delays = std::collections::HashSet::new();
    for i in 0..20 {
        let id = submit(&q, job("a", &i.to_string())).await;
        let j = claim_one(&q, &["a"]).await.unwrap();
        q.fail(&j, &retry("x"), HOST, "v1").await.unwrap();
        let rec = q.get(&id).await.unwrap().unwrap();
        let delay = rec.run_at.unwrap() - rec.updated_at;
        assert!(
            (10_000..30_000).contains(&delay),
            "{delay} ms for base 20 s"
        );
        delays.insert(delay);
    }
    assert!(delays.len() > 10, "jitter varies the delays: {delays:?}");
}

#[tokio::test]
async fn out_of_retries_the_job_moves_to_the_dlq_with_its_history_and_can_be_replayed() {
    let redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(2)).await;
    let id = submit(&q, job("a", r#"{"x":1}"#)).await;
    for attempt in 1..=3 {
        let j = claim_one(&q, &["a"]).await.unwrap();
        assert_eq!(j.attempt, attempt);
        let expected = if attempt < 3 {
            JobStatus::Pending
        } else {
            JobStatus::Dead
        };
        let failure = JobFailure::Timeout { limit_ms: 1000 };
        assert_eq!(
            q.fail(&j, &failure, HOST, "v1").await.unwrap(),
            Ack::Recorded(expected)
        );
    }
    assert!(claim_one(&q, &["a"]).await.is_none());
    let dead = q.dlq_list(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let rec = &dead[0];
    assert_eq!(rec.id, id);
    assert_eq!(rec.status, JobStatus::Dead);
    assert_eq!(rec.attempts, 3);
    let history: Vec<(u32, &str, Option<&str>)> = rec
        .errors
        .iter()
        .map(|e| (e.attempt, e.kind.as_str(), e.host.as_deref()))
        .collect();
    assert_eq!(
        history,
        [
            (1, "timeout", Some(HOST)),
            (2, "timeout", Some(HOST)),
            (3, "timeout", Some(HOST))
        ]
    );
    assert!(
        rec.errors
            .iter()
            .all(|e| e.at > 0 && e.message.contains("1000 ms"))
    );

    // Replay: back in the queue with a fresh budget, history kept.
    assert_eq!(
        q.dlq_replay(std::slice::from_ref(&id)).await.unwrap(),
        std::slice::from_ref(&id)
    );
    assert_eq!(q.dlq_len().await.unwrap(), 0);
    let j = claim_one(&q, &["a"]).await.unwrap();
    assert_eq!(j.attempt, 1);
    assert_eq!(q.get(&id).await.unwrap().unwrap().errors.len(), 3);
    q.complete(&j, r#"{"ok":true}"#, "v2").await.unwrap();
    let done = q.get(&id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.result.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(done.plugin_version.as_deref(), Some("v2"));
}

#[tokio::test]
async fn a_permanent_failure_skips_the_retries_and_purge_deletes() {
    let redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(5)).await;
    let id = submit(&q, job("a", "{}")).await;
    let other = submit(&q, job("a", "{}")).await;
    for _ in 0..2 {
        let j = claim_one(&q, &["a"]).await.unwrap();
        let fail = JobFailure::Fail {
            message: "schema says no".into(),
        };
        assert_eq!(
            q.fail(&j, &fail, HOST, "v1").await.unwrap(),
            Ack::Recorded(JobStatus::Dead)
        );
    }
    assert_eq!(q.dlq_len().await.unwrap(), 2);
    assert_eq!(q.dlq_purge(std::slice::from_ref(&id)).await.unwrap(), 1);
    assert!(q.get(&id).await.unwrap().is_none());
    assert_eq!(q.dlq_len().await.unwrap(), 1);
    // Replay all, then purge all.
    assert_eq!(
        q.dlq_replay(&[]).await.unwrap(),
        std::slice::from_ref(&other)
    );
    let j = claim_one(&q, &["a"]).await.unwrap();
    q.fail(
        &j,
        &JobFailure::Fail {
            message: "again".into(),
        },
        HOST,
        "v1",
    )
    .await
    .unwrap();
    assert_eq!(q.dlq_purge(&[]).await.unwrap(), 1);
    assert_eq!(q.dlq_len().await.unwrap(), 0);
}

#[tokio::test]
async fn feedback_is_stored_and_handed_to_the_next_attempt() {
    let redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(3)).await;
    submit(&q, job("a", "{}")).await;
    let j = claim_one(&q, &["a"]).await.unwrap();
    assert_eq!(j.feedback, None);
    let failure = JobFailure::RetryWithFeedback {
        message: "invalid".into(),
        feedback: "field `email` is empty".into(),
    };
    q.fail(&j, &failure, HOST, "v1").await.unwrap();
    let next = claim_one(&q, &["a"]).await.unwrap();
    assert_eq!(next.attempt, 2);
    assert_eq!(next.feedback.as_deref(), Some("field `email` is empty"));
}

#[tokio::test]
async fn stale_tokens_are_rejected_and_expired_leases_are_reaped_as_attempts() {
    let redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(1)).await;
    let id = submit(&q, job("a", "{}")).await;
    let short = Duration::from_millis(100);

    let first = q.claim(HOST, &["a"], 1, short).await.unwrap().remove(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reaped = q.reap().await.unwrap();
    assert_eq!(reaped, [(id.clone(), JobStatus::Pending)]);

    let second = q
        .claim("other-host", &["a"], 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.attempt, 2, "the lost attempt counts");
    assert_ne!(second.token, first.token);

    // The first holder wakes up: everything it says is refused.
    assert_eq!(
        q.complete(&first, r#""late""#, "v1").await.unwrap(),
        Ack::Stale
    );
    assert_eq!(
        q.fail(&first, &retry("late"), HOST, "v1").await.unwrap(),
        Ack::Stale
    );
    let lost = q
        .renew(&[(id.clone(), first.token.clone())], LEASE)
        .await
        .unwrap();
    assert_eq!(lost, std::slice::from_ref(&id));
    assert_eq!(q.release(&first).await.unwrap(), Ack::Stale);

    assert_eq!(
        q.complete(&second, r#""on time""#, "v1").await.unwrap(),
        Ack::Recorded(JobStatus::Completed)
    );
    // The holder's completion sent again (its reply was lost, or too few
    // replicas acknowledged it): the same answer, nothing recorded twice;
    // the first holder is still refused.
    assert_eq!(
        q.complete(&second, r#""again""#, "v1").await.unwrap(),
        Ack::Recorded(JobStatus::Completed)
    );
    assert_eq!(
        q.complete(&first, r#""late""#, "v1").await.unwrap(),
        Ack::Stale
    );
    let rec = q.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.result.as_deref(), Some(r#""on time""#));
    assert_eq!(rec.worker.as_deref(), Some("other-host"));
    assert_eq!(rec.errors.len(), 1);
    assert_eq!(rec.errors[0].kind, "lease_expired");
    let stats = q.stats().await.unwrap();
    assert_eq!(stats["stale_rejected"], 3);
    assert_eq!(stats["completed"], 1);
}

/// A failover can lose the token counter's last increments, so the
/// promoted replica hands out the same numbers again (here: the counter set
/// back by hand). A job claimed again after such a rollback still gets a
/// token of its own: the earlier holder is refused.
#[tokio::test]
async fn fencing_tokens_stay_unique_when_the_counter_goes_back() {
    let redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(3)).await;
    let id = submit(&q, job("a", "{}")).await;
    let before: i64 = ::redis::cmd("GET")
        .arg("{deckhand}:token")
        .query(&mut redis.conn())
        .unwrap_or(0);
    let first = q
        .claim(HOST, &["a"], 1, Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    q.reap().await.unwrap();
    let _: () = ::redis::cmd("SET")
        .arg("{deckhand}:token")
        .arg(before)
        .query(&mut redis.conn())
        .unwrap();
    let second = q
        .claim("other-host", &["a"], 1, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(second.id, id);
    assert_ne!(second.token, first.token, "a token of its own");
    assert_eq!(
        q.complete(&first, r#""late""#, "v1").await.unwrap(),
        Ack::Stale
    );
    assert_eq!(
        q.complete(&second, r#""on time""#, "v1").await.unwrap(),
        Ack::Recorded(JobStatus::Completed)
    );
}

#[tokio::test]
async fn a_job_that_keeps_losing_its_host_reaches_the_dlq() {
    let redis = TestRedis::start();
    let q = queue_with(&redis, no_backoff(2)).await;
    let id = submit(&q, job("a", "{}")).await;
    for _ in 0..3 {
        q.claim(HOST, &["a"], 1, Duration::from_millis(50))
            .await
            .unwrap()
            .remove(0);
        tokio::time::sleep(Duration::from_millis(150)).await;
        q.reap().await.unwrap();
    }
    let rec = q.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.status, JobStatus::Dead);
    assert_eq!(rec.errors.len(), 3);
    assert!(rec.errors.iter().all(|e| e.kind == "lease_expired"));
}

#[tokio::test]
async fn renewing_keeps_a_lease_and_release_hands_a_job_back_without_an_attempt() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let id = submit(&q, job("a", "{}")).await;
    let j = q
        .claim(HOST, &["a"], 1, Duration::from_millis(200))
        .await
        .unwrap()
        .remove(0);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let lost = q
            .renew(
                &[(j.id.clone(), j.token.clone())],
                Duration::from_millis(200),
            )
            .await
            .unwrap();
        assert!(lost.is_empty());
        assert!(q.reap().await.unwrap().is_empty());
    }
    assert_eq!(
        q.release(&j).await.unwrap(),
        Ack::Recorded(JobStatus::Pending)
    );
    let rec = q.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.status, JobStatus::Pending);
    assert_eq!(rec.attempts, 0);
    assert_eq!(claim_one(&q, &["a"]).await.unwrap().attempt, 1);
}
