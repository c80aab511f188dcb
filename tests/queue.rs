//! The queue's semantics against a real Redis (one private server per test).

use crate::common;

use std::time::Duration;

use common::redis::TestRedis;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{
    Ack, Cancel, ClaimedJob, Completion, JobStatus, MAX_COMPLETE_BATCH, Queue, QueueConfig,
    QueueError, RetryStrategy,
};
use deckhand::runtime::JobFailure;

const HOST: &str = "test-host";
const LEASE: Duration = Duration::from_secs(30);

async fn queue_with(redis: &TestRedis, config: QueueConfig) -> Queue {
    common::queue_with_types(&redis.url(), config, HOST, &["a", "b", "echo"]).await
}

async fn queue(redis: &TestRedis) -> Queue {
    queue_with(redis, QueueConfig::default()).await
}

fn job(job_type: &str, payload: &str) -> NewJob {
    NewJob::new(job_type, Payload::parse(payload).unwrap())
}

async fn submit(q: &Queue, req: NewJob) -> String {
    q.submit(req).await.unwrap().id
}

async fn claim_one(q: &Queue, types: &[&str]) -> Option<ClaimedJob> {
    q.claim(HOST, types, 1, LEASE)
        .await
        .unwrap()
        .into_iter()
        .next()
}

async fn status(q: &Queue, id: &str) -> JobStatus {
    q.get(id).await.unwrap().unwrap().status
}

fn retry(message: &str) -> JobFailure {
    JobFailure::Retry {
        message: message.into(),
    }
}

#[tokio::test]
async fn higher_priority_first_then_first_in_first_out() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut ids = Vec::new();
    for (i, priority) in [0, 5, 0, 5, -1, 10].into_iter().enumerate() {
        let mut req = job("a", &format!("{{\"i\":{i}}}"));
        req.priority = priority;
        ids.push(submit(&q, req).await);
    }
    let claimed = q.claim(HOST, &["a"], 10, LEASE).await.unwrap();
    let order: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    let expect = [&ids[5], &ids[1], &ids[3], &ids[0], &ids[2], &ids[4]];
    assert_eq!(order, expect.map(|s| s.as_str()));
    assert!(claimed.iter().all(|j| j.attempt == 1));
}

/// The queue's functions are one library in Redis, loaded by the first call
/// that finds it missing: on a new server, and again after the server lost
/// it (restarted empty, a new master, `FUNCTION FLUSH`), by a write and by
/// a claim alike; never twice.
#[tokio::test]
async fn a_server_without_the_library_gets_it_from_the_next_call() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let libraries = || -> Vec<String> {
        let list: Vec<::redis::Value> = ::redis::cmd("FUNCTION")
            .arg("LIST")
            .query(&mut redis.conn())
            .unwrap();
        list.iter().map(|l| format!("{l:?}")).collect()
    };
    let flush = || {
        let _: () = ::redis::cmd("FUNCTION")
            .arg("FLUSH")
            .query(&mut redis.conn())
            .unwrap();
    };
    let first = submit(&q, job("a", "{}")).await;
    let loaded = libraries();
    assert_eq!(loaded.len(), 1, "{loaded:?}");
    assert!(loaded[0].contains("deckhand_"), "{loaded:?}");

    flush();
    let second = submit(&q, job("a", "{}")).await;
    assert_eq!(libraries(), loaded, "loaded again, the same library");
    flush();
    let claimed = q.claim(HOST, &["a"], 2, LEASE).await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert_eq!(libraries(), loaded);
}

#[tokio::test]
async fn priority_holds_across_job_types_and_claims_only_named_types() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let low_a = submit(&q, job("a", "1")).await;
    let mut high = job("b", "2");
    high.priority = 7;
    let high_b = submit(&q, high).await;
    let echo = submit(&q, job("echo", "3")).await;

    let claimed = q.claim(HOST, &["a", "b"], 5, LEASE).await.unwrap();
    let order: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(order, [high_b.as_str(), low_a.as_str()]);
    assert_eq!(status(&q, &echo).await, JobStatus::Pending);

    // Only one of the named types has jobs ready: taken from its head in
    // order, the rest left for the next claim.
    let mut later = Vec::new();
    for n in 0..3 {
        later.push(submit(&q, job("a", &n.to_string())).await);
    }
    let first = q.claim(HOST, &["a", "b"], 2, LEASE).await.unwrap();
    let first: Vec<&str> = first.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(first, [later[0].as_str(), later[1].as_str()]);
    let rest = q.claim(HOST, &["b", "a"], 5, LEASE).await.unwrap();
    let rest: Vec<&str> = rest.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(rest, [later[2].as_str()]);
}

#[tokio::test]
async fn the_same_id_twice_is_one_job() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut req = job("a", r#"{"n":1}"#);
    req.id = Some("pantry-42".into());
    let first = q.submit(req.clone()).await.unwrap();
    assert!(first.created);
    req.payload = Payload::parse(r#"{"n":2}"#).unwrap();
    let second = q.submit(req).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.id, "pantry-42");
    let claimed = q.claim(HOST, &["a"], 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        claimed[0].payload, r#"{"n":1}"#,
        "the first submission wins"
    );
    assert_eq!(q.stats().await.unwrap()["submitted"], 1);
}

#[tokio::test]
async fn a_job_waits_for_all_its_dependencies() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let a = submit(&q, job("a", "1")).await;
    let b = submit(&q, job("a", "2")).await;
    let mut req = job("b", "3");
    req.depends_on = vec![a.clone(), b.clone(), a.clone()];
    let child = q.submit(req).await.unwrap();
    assert_eq!(child.status, JobStatus::Waiting);
    assert!(claim_one(&q, &["b"]).await.is_none());

    let ja = claim_one(&q, &["a"]).await.unwrap();
    assert_eq!(
        q.complete(&ja, "{}", "v1").await.unwrap(),
        Ack::Recorded(JobStatus::Completed)
    );
    assert_eq!(status(&q, &child.id).await, JobStatus::Waiting);
    assert!(claim_one(&q, &["b"]).await.is_none());

    let jb = claim_one(&q, &["a"]).await.unwrap();
    q.complete(&jb, "{}", "v1").await.unwrap();
    assert_eq!(status(&q, &child.id).await, JobStatus::Pending);
    assert_eq!(claim_one(&q, &["b"]).await.unwrap().id, child.id);

    // Depending on a job that already completed: ready at once.
    let mut req = job("b", "4");
    req.depends_on = vec![a];
    assert_eq!(q.submit(req).await.unwrap().status, JobStatus::Pending);
}

/// A batch wakes idle hosts once per job type it made ready, not once per
/// job; a single submit wakes them for its job.
#[tokio::test]
async fn a_batch_publishes_one_wake_per_job_type() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut conn = redis.conn();
    let mut pubsub = conn.as_pubsub();
    pubsub.subscribe(q.wake_channel()).unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();

    let mut batch = vec![job("a", "1"), job("a", "2"), job("b", "3"), job("a", "4")];
    batch[3].id = Some("w".into());
    batch[3].depends_on = vec!["x".into()];
    batch[2].id = Some("x".into());
    q.submit_batch(batch).await.unwrap();
    submit(&q, job("b", "5")).await;

    let mut wakes = Vec::new();
    while let Ok(msg) = pubsub.get_message() {
        wakes.push(msg.get_payload::<String>().unwrap());
    }
    wakes[..2].sort();
    assert_eq!(wakes, ["a", "b", "b"]);
}

/// A host from before the `waited_on` flag left waiters in `P:waiting:<id>`
/// without flagging `<id>`; `migrate` (run by `serve` at start)
/// flags it, so completing it still releases them.
#[tokio::test]
async fn waiters_queued_by_an_older_host_are_released() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let dep = submit(&q, job("a", "1")).await;
    let mut req = job("b", "2");
    req.depends_on = vec![dep.clone()];
    let child = submit(&q, req).await;
    // What the older host left behind: the waiting set, no flag.
    let mut conn = redis.conn();
    let removed: i64 = redis::cmd("HDEL")
        .arg(format!("{{deckhand}}:job:{dep}"))
        .arg("waited_on")
        .query(&mut conn)
        .unwrap();
    assert_eq!(removed, 1);

    assert_eq!(q.migrate().await.unwrap(), 1);
    assert_eq!(q.migrate().await.unwrap(), 0, "idempotent");
    let j = claim_one(&q, &["a"]).await.unwrap();
    q.complete(&j, "{}", "v1").await.unwrap();
    assert_eq!(status(&q, &child).await, JobStatus::Pending);

    // A prefix with glob characters would make those scans match other
    // queues' keys; it is refused, naming the setting.
    let bad = QueueConfig {
        prefix: "pan*".into(),
        ..QueueConfig::default()
    };
    let err = Queue::connect(&redis.url(), bad).await.err().unwrap();
    assert!(err.to_string().contains("prefix"), "{err}");
}

#[tokio::test]
async fn a_failed_dependency_kills_its_dependents_transitively() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let parent = submit(&q, job("a", "1")).await;
    let mut req = job("b", "2");
    req.depends_on = vec![parent.clone()];
    let child = submit(&q, req).await;
    let mut req = job("b", "3");
    req.depends_on = vec![child.clone()];
    let grandchild = submit(&q, req).await;

    let p = claim_one(&q, &["a"]).await.unwrap();
    let failure = JobFailure::Fail {
        message: "bad input".into(),
    };
    assert_eq!(
        q.fail(&p, &failure, HOST, "v1").await.unwrap(),
        Ack::Recorded(JobStatus::Dead)
    );

    let c = q.get(&child).await.unwrap().unwrap();
    assert_eq!(c.status, JobStatus::Dead);
    assert_eq!(c.errors.last().unwrap().kind, "dependency_failed");
    assert_eq!(
        c.errors.last().unwrap().message,
        format!("dependency {parent} failed")
    );
    let g = q.get(&grandchild).await.unwrap().unwrap();
    assert_eq!(g.status, JobStatus::Dead);
    assert_eq!(
        g.errors.last().unwrap().message,
        format!("dependency {child} failed")
    );
    let dead: Vec<String> = q
        .dlq_list(0, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(dead.len(), 3);

    // A job submitted after its dependency died is dead on arrival.
    let mut req = job("b", "5");
    req.depends_on = vec![parent.clone()];
    let late = q.submit(req).await.unwrap();
    assert_eq!(late.status, JobStatus::Dead);

    // Cancelling a parent also kills its dependents.
    let other = submit(&q, job("a", "6")).await;
    let mut req = job("b", "7");
    req.depends_on = vec![other.clone()];
    let dependent = submit(&q, req).await;
    assert_eq!(q.cancel(&other).await.unwrap(), Cancel::Cancelled);
    assert_eq!(
        q.cancel(&other).await.unwrap(),
        Cancel::AlreadyFinished(JobStatus::Cancelled)
    );
    assert_eq!(status(&q, &dependent).await, JobStatus::Dead);
}

/// A job submitted with `run_after_failure` runs once its dependencies have
/// all finished, dead or not; the parent of fanned-out jobs counts them.
#[tokio::test]
async fn an_aggregate_runs_after_its_dependencies_finish_however_they_end() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let parent = submit(&q, job("b", "0")).await;
    let child = |payload: &str| {
        let mut req = job("a", payload);
        req.parent = Some(parent.clone());
        req
    };
    let doomed = submit(&q, child("1")).await;
    let fine = submit(&q, child("2")).await;
    let mut req = child("3");
    req.job_type = "b".into();
    req.depends_on = vec![doomed.clone(), fine.clone()];
    req.run_after_failure = true;
    let report = submit(&q, req).await;
    let mut req = job("b", "4");
    req.depends_on = vec![doomed.clone()];
    let strict = submit(&q, req).await;

    let first = claim_one(&q, &["a"]).await.unwrap();
    assert_eq!(first.id, doomed);
    let failure = JobFailure::Fail {
        message: "bad".into(),
    };
    q.fail(&first, &failure, HOST, "v1").await.unwrap();
    assert_eq!(
        status(&q, &strict).await,
        JobStatus::Dead,
        "the default kills"
    );
    assert_eq!(
        status(&q, &report).await,
        JobStatus::Waiting,
        "one dependency left"
    );
    let second = claim_one(&q, &["a"]).await.unwrap();
    q.complete(&second, "{}", "v1").await.unwrap();
    assert_eq!(status(&q, &report).await, JobStatus::Pending);
    let record = q.get(&report).await.unwrap().unwrap();
    assert!(record.run_after_failure);

    // Dead on arrival does not apply either: a dead dependency is finished.
    let mut req = job("b", "5");
    req.depends_on = vec![doomed.clone()];
    req.run_after_failure = true;
    assert_eq!(q.submit(req).await.unwrap().status, JobStatus::Pending);

    let fan = q.get(&parent).await.unwrap().unwrap();
    assert_eq!(
        (
            fan.children.total,
            fan.children.finished,
            fan.children.failed
        ),
        (3, 2, 1),
        "{:?}",
        fan.children
    );
}

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

/// Claims a job of `job_type`, waiting for scheduled retries to come due.
async fn claim_eventually(q: &Queue, job_type: &str) -> ClaimedJob {
    for _ in 0..200 {
        if let Some(j) = claim_one(q, &[job_type]).await {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {job_type} job became ready within 10 s");
}

fn no_backoff(max_retries: u32) -> QueueConfig {
    QueueConfig {
        retry: RetryStrategy {
            max_retries,
            backoff_factor_secs: 0.0,
            jitter: false,
            ..RetryStrategy::default()
        },
        ..QueueConfig::default()
    }
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
