//! Order and dependencies: priorities across types, one job per id, waiting for every dependency,
//! failures passed on to dependents, aggregates that run however their dependencies end.

use super::*;

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

/// A batch asks once whether any of its ids is taken: when one is, each
/// job is asked on its own and the first submission wins; ready jobs go in
/// one write per type and keep the order single submissions would give, a
/// grouped job's turn included.
#[tokio::test]
async fn a_batch_with_a_taken_id_and_its_order() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let named = |id: &str, payload: &str, priority: i32| {
        let mut j = job("a", payload);
        j.id = Some(id.into());
        j.priority = priority;
        j
    };
    submit(&q, named("taken", r#"{"n":0}"#, 0)).await;
    let replies = q
        .submit_batch(vec![
            named("fresh-1", "1", 0),
            named("taken", r#"{"n":9}"#, 0),
            named("fresh-2", "2", 5),
        ])
        .await
        .unwrap();
    let created: Vec<bool> = replies.iter().map(|r| r.created).collect();
    assert_eq!(created, [true, false, true]);
    // An id twice in one batch is refused before Redis (the script would
    // answer the second 'exists'): nothing is written.
    let refused = q
        .submit_batch(vec![
            named("twice", r#"{"n":1}"#, 0),
            named("twice", r#"{"n":2}"#, 0),
        ])
        .await
        .unwrap_err();
    assert_eq!(refused.index, 1);
    submit(&q, named("twice", r#"{"n":1}"#, 0)).await;
    let mut order = Vec::new();
    while let Some(j) = claim_one(&q, &["a"]).await {
        order.push((j.id, j.payload));
    }
    let want = [
        ("fresh-2", "2"),
        ("taken", r#"{"n":0}"#),
        ("fresh-1", "1"),
        ("twice", r#"{"n":1}"#),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(i, p)| (i.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        order, want,
        "priority, then first in first out; first submissions win"
    );
    assert_eq!(q.stats().await.unwrap()["submitted"], 4);

    // A grouped job after ungrouped ones of its type in one batch takes the
    // head's turn, as it would submitted after them one at a time.
    let mut batch: Vec<NewJob> = (0..3).map(|i| named(&format!("u-{i}"), "1", 0)).collect();
    let mut grouped = named("g-0", "1", 0);
    grouped.group = Some("x".into());
    batch.push(grouped);
    q.submit_batch(batch).await.unwrap();
    let mut order = Vec::new();
    while let Some(j) = claim_one(&q, &["a"]).await {
        order.push(j.id);
    }
    assert_eq!(order, ["g-0", "u-0", "u-1", "u-2"]);
}
