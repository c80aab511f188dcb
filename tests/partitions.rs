//! A queue split into partitions, against a real Redis: routing, claims
//! across partitions, remote dependencies through the relay, controls,
//! figures and listings over every partition, the content store shared
//! between partitions, and the partition count fixed for a queue's life.
//! (The same on a real 3-master cluster, through a failover: cluster.rs.)

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::redis::TestRedis;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{
    Ack, ClaimedJob, Completion, JobFilter, JobStatus, Queue, QueueConfig, RateLimit,
    RegisteredType,
};
use redis::Commands;

const HOST: &str = "test-host";
const LEASE: Duration = Duration::from_secs(30);
const PARTS: u32 = 3;

fn config(prefix: &str, partitions: u32) -> QueueConfig {
    QueueConfig {
        prefix: prefix.into(),
        partitions,
        ..QueueConfig::default()
    }
}

async fn queue(redis: &TestRedis, prefix: &str) -> Queue {
    common::queue_with_types(
        &redis.url(),
        config(prefix, PARTS),
        HOST,
        &["a", "b", "echo"],
    )
    .await
}

fn job(id: &str) -> NewJob {
    NewJob {
        id: Some(id.into()),
        ..NewJob::new(
            "echo",
            Payload::parse(format!("{{\"id\":\"{id}\"}}")).unwrap(),
        )
    }
}

fn after(id: &str, deps: &[&str]) -> NewJob {
    NewJob {
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        ..job(id)
    }
}

async fn place(q: &Queue, id: &str) -> u32 {
    q.partition_of(id).await.unwrap().expect("the job exists")
}

async fn status(q: &Queue, id: &str) -> JobStatus {
    q.get(id).await.unwrap().expect("the job exists").status
}

/// Root jobs submitted until one sits in each partition: (id, partition).
async fn one_per_partition(q: &Queue, stem: &str) -> Vec<String> {
    let mut found: BTreeMap<u32, String> = BTreeMap::new();
    for i in 0..200 {
        let id = format!("{stem}{i}");
        q.submit(job(&id)).await.unwrap();
        found.entry(place(q, &id).await).or_insert(id);
        if found.len() == PARTS as usize {
            return found.into_values().collect();
        }
    }
    panic!("200 ids did not cover {PARTS} partitions: {found:?}");
}

/// Claims until `id` is claimed (other jobs claimed on the way go back).
async fn claim(q: &Queue, id: &str) -> ClaimedJob {
    for _ in 0..50 {
        let jobs = q.claim(HOST, &["echo"], 100, LEASE).await.unwrap();
        let mut wanted = None;
        for j in jobs {
            if j.id == id {
                wanted = Some(j);
            } else {
                q.release(&j).await.unwrap();
            }
        }
        if let Some(j) = wanted {
            return j;
        }
    }
    panic!("{id} was never claimed");
}

async fn run(q: &Queue, id: &str) {
    let j = claim(q, id).await;
    assert_eq!(
        q.complete(&j, "{}", "v1").await.unwrap(),
        Ack::Recorded(JobStatus::Completed)
    );
}

fn count(redis: &TestRedis, key: &str) -> u64 {
    redis.conn().zcard(key).unwrap()
}

#[tokio::test]
async fn jobs_spread_over_the_partitions_and_every_read_sees_them_all() {
    let redis = TestRedis::start();
    let q = queue(&redis, "spread").await;
    let ids: Vec<String> = (0..90).map(|i| format!("j{i}")).collect();
    let reqs: Vec<NewJob> = ids.iter().map(|id| job(id)).collect();
    q.submit_batch(reqs).await.unwrap();
    let mut per_partition = BTreeMap::new();
    for id in &ids {
        *per_partition.entry(place(&q, id).await).or_insert(0) += 1;
    }
    assert_eq!(per_partition.len(), PARTS as usize, "{per_partition:?}");
    assert!(
        per_partition.values().all(|&n| n >= 15),
        "{per_partition:?}"
    );
    for p in 0..PARTS {
        let tag = if p == 0 {
            "spread".into()
        } else {
            format!("spread~{p}")
        };
        assert_eq!(
            count(&redis, &format!("{{{tag}}}:ready:echo")),
            per_partition[&p]
        );
    }
    assert_eq!(q.ready_counts(&["echo"]).await.unwrap(), vec![90]);
    assert_eq!(q.figures().await.unwrap().ready, 90);

    // A page of 20 at a time walks every partition once.
    let filter = JobFilter {
        status: JobStatus::Pending,
        job_type: Some("echo".into()),
        group: None,
    };
    let (mut listed, mut offset) = (BTreeSet::new(), Some(0));
    while let Some(at) = offset {
        let page = q.list_jobs(&filter, at, 20).await.unwrap();
        assert_eq!(page.total, 90);
        for j in page.jobs {
            assert!(listed.insert(j.id.clone()), "{} listed twice", j.id);
        }
        offset = page.next_offset;
    }
    assert_eq!(listed.len(), 90);

    // Claims take from every partition; one call completes them all.
    let mut claimed: Vec<ClaimedJob> = Vec::new();
    while claimed.len() < 90 {
        let got = q.claim(HOST, &["echo"], 40, LEASE).await.unwrap();
        assert!(!got.is_empty(), "claims stopped at {}", claimed.len());
        assert!(got.len() <= 40);
        claimed.extend(got);
    }
    let distinct: BTreeSet<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(distinct.len(), 90);
    let completions: Vec<Completion<'_>> = claimed
        .iter()
        .map(|job| Completion {
            job,
            result: &job.payload,
            plugin_version: "v1",
            cache_hit: false,
        })
        .collect();
    let acks = q.complete_many(&completions).await.unwrap();
    assert!(
        acks.iter()
            .all(|a| *a == Ack::Recorded(JobStatus::Completed))
    );
    // A completion sent again is refused by nobody and counted once.
    assert!(
        q.complete_many(&completions[..5])
            .await
            .unwrap()
            .iter()
            .all(|a| *a != Ack::Stale)
    );
    assert_eq!(q.stats().await.unwrap()["completed"], 90);
    let records = q.get_many(&ids).await.unwrap();
    for (id, r) in ids.iter().zip(records) {
        let r = r.expect("kept");
        assert_eq!(r.status, JobStatus::Completed);
        assert_eq!(
            r.result.as_deref(),
            Some(format!("{{\"id\":\"{id}\"}}").as_str())
        );
    }
    let overview = q.overview().await.unwrap();
    let echo = overview
        .job_types
        .iter()
        .find(|t| t.job_type == "echo")
        .unwrap();
    assert_eq!((echo.completed, echo.ready, echo.running), (90, 0, 0));
    let done: u64 = overview.throughput.iter().map(|m| m.completed).sum();
    assert_eq!(done, 90);
    let waited = q.wait_for_jobs(&ids, Duration::from_secs(5)).await.unwrap();
    assert_eq!(waited.len(), 90);
}

#[tokio::test]
async fn children_follow_their_parent_and_dependents_their_first_dependency() {
    let redis = TestRedis::start();
    let q = queue(&redis, "follow").await;
    let roots = one_per_partition(&q, "r").await;
    for (n, root) in roots.iter().enumerate() {
        let child = NewJob {
            parent: Some(root.clone()),
            ..job(&format!("{root}.child"))
        };
        q.submit(child).await.unwrap();
        assert_eq!(
            place(&q, &format!("{root}.child")).await,
            place(&q, root).await
        );
        let dependent = format!("d{n}");
        q.submit(after(&dependent, &[root])).await.unwrap();
        assert_eq!(place(&q, &dependent).await, place(&q, root).await);
        let (total, children) = q.children(root, 0, 10).await.unwrap();
        assert_eq!(total, 1);
        assert_eq!(children[0].id, format!("{root}.child"));
        assert_eq!(q.get(root).await.unwrap().unwrap().children.total, 1);
    }
    // Cancel and read by id wherever the job lives.
    let last = roots.last().unwrap();
    q.cancel(last).await.unwrap();
    assert_eq!(status(&q, last).await, JobStatus::Cancelled);
    assert!(q.partition_of("no-such-job").await.unwrap().is_none());
    assert!(q.get("no-such-job").await.unwrap().is_none());
}

/// Progress and token usage land on the running job's record in its own
/// partition, found from its lease token.
#[tokio::test]
async fn progress_and_usage_reach_the_partition_of_the_lease() {
    let redis = TestRedis::start();
    let q = queue(&redis, "usage").await;
    let roots = one_per_partition(&q, "u").await;
    for id in &roots[1..] {
        let held = claim(&q, id).await;
        q.set_progress(id, &held.token, 0.5, "half").await.unwrap();
        let usage = |calls, prompt_tokens, completion_tokens| deckhand::queue::LlmUsage {
            calls,
            prompt_tokens,
            completion_tokens,
            ..Default::default()
        };
        assert!(
            q.add_usage(id, &held.token, &usage(2, 30, 7))
                .await
                .unwrap()
        );
        assert!(
            q.add_usage(id, &held.token, &usage(1, 10, 3))
                .await
                .unwrap()
        );
        let record = q.get(id).await.unwrap().expect("the job exists");
        assert_eq!(record.progress, Some(0.5));
        assert_eq!(record.progress_message.as_deref(), Some("half"));
        assert_eq!((record.llm_calls, record.prompt_tokens), (3, 40));
    }
    // Nothing was written anywhere else: one record per id across the
    // partitions.
    for id in &roots {
        let records: Vec<String> = redis.conn().keys(format!("{{usage*}}:job:{id}")).unwrap();
        assert_eq!(records.len(), 1, "{id}: {records:?}");
    }
}

/// A wait-also naming a job in another partition is refused with both
/// partitions named; one naming no job anywhere stays an unknown
/// dependency; one in the caller's partition is added.
#[tokio::test]
async fn wait_also_names_the_partition_of_a_job_out_of_reach() {
    let redis = TestRedis::start();
    let q = queue(&redis, "reach").await;
    let roots = one_per_partition(&q, "w").await;
    let caller = &roots[0];
    q.submit(after("report", &[caller])).await.unwrap();
    let child = NewJob {
        parent: Some(caller.clone()),
        ..job("w.child")
    };
    q.submit(child).await.unwrap();
    let held = claim(&q, caller).await;
    let home = place(&q, caller).await;
    let far = &roots[1];
    let err = q
        .wait_also(caller, &held.token, "report", std::slice::from_ref(far))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, deckhand::queue::QueueError::CannotExtend { .. }),
        "{text}"
    );
    let there = format!(
        "is in partition {}, not in the caller's ({home})",
        place(&q, far).await
    );
    assert!(text.contains(&there), "{text}");
    let err = q
        .wait_also(caller, &held.token, "report", &["nowhere".to_string()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, deckhand::queue::QueueError::UnknownDependency(ref d) if d == "nowhere"),
        "{err}"
    );
    let added = q
        .wait_also(caller, &held.token, "report", &["w.child".to_string()])
        .await
        .unwrap();
    assert_eq!(added, 1);
}

#[tokio::test]
async fn a_dependency_in_another_partition_is_relayed_once() {
    let redis = TestRedis::start();
    let q = queue(&redis, "relay").await;
    let roots = one_per_partition(&q, "r").await;
    let (x, y, z) = (&roots[0], &roots[1], &roots[2]);
    // w lives with x, its first dependency; y and z are remote.
    q.submit(after("w", &[x, y, z])).await.unwrap();
    let home = place(&q, "w").await;
    assert_eq!(home, place(&q, x).await);
    let listing = if home == 0 {
        "{relay}:remote".to_string()
    } else {
        format!("{{relay~{home}}}:remote")
    };
    assert_eq!(count(&redis, &listing), 1);
    assert_eq!(status(&q, "w").await, JobStatus::Waiting);
    assert_eq!(q.relay().await.unwrap(), 0, "nothing finished yet");

    run(&q, y).await;
    assert_eq!(q.relay().await.unwrap(), 1);
    // y is seen completed again: applied once only, w still waits on x and z.
    assert_eq!(q.relay().await.unwrap(), 0);
    assert_eq!(status(&q, "w").await, JobStatus::Waiting);
    assert_eq!(count(&redis, &listing), 1, "z is still remote");

    run(&q, x).await;
    assert_eq!(status(&q, "w").await, JobStatus::Waiting, "z is left");
    run(&q, z).await;
    assert_eq!(q.relay().await.unwrap(), 1);
    assert_eq!(status(&q, "w").await, JobStatus::Pending);
    assert_eq!(count(&redis, &listing), 0, "nothing remote is left");
    run(&q, "w").await;
    let w = q.get("w").await.unwrap().unwrap();
    for dep in [x, y, z] {
        let dep = q.get(dep).await.unwrap().unwrap();
        assert!(w.started_at >= dep.finished_at);
    }
}

#[tokio::test]
async fn a_failed_remote_dependency_kills_its_dependent_unless_it_runs_after_failures() {
    let redis = TestRedis::start();
    let q = queue(&redis, "fails").await;
    let roots = one_per_partition(&q, "r").await;
    let (x, y) = (&roots[0], &roots[1]);
    q.submit(after("strict", &[x, y])).await.unwrap();
    q.submit(NewJob {
        run_after_failure: true,
        ..after("tolerant", &[x, y])
    })
    .await
    .unwrap();
    q.submit(after("dropped", &[x, y])).await.unwrap();
    q.cancel("dropped").await.unwrap();
    q.cancel(y).await.unwrap();
    assert_eq!(q.relay().await.unwrap(), 2, "strict and tolerant");
    let strict = q.get("strict").await.unwrap().unwrap();
    assert_eq!(strict.status, JobStatus::Dead);
    let error = strict.errors.last().unwrap();
    assert_eq!(error.kind, "dependency_failed");
    assert!(error.message.contains(y.as_str()), "{error:?}");
    assert_eq!(
        status(&q, "tolerant").await,
        JobStatus::Waiting,
        "x is left"
    );
    run(&q, x).await;
    assert_eq!(status(&q, "tolerant").await, JobStatus::Pending);
    let home = place(&q, x).await;
    let listing = if home == 0 {
        "{fails}:remote".to_string()
    } else {
        format!("{{fails~{home}}}:remote")
    };
    assert_eq!(
        count(&redis, &listing),
        0,
        "the cancelled and the dead are off the list"
    );
    assert_eq!(q.dlq_len().await.unwrap(), 1);
    let dead = q.dlq_list(0, 10).await.unwrap();
    assert_eq!(dead[0].id, "strict");
    assert_eq!(
        q.dlq_replay(&["strict".to_string()]).await.unwrap(),
        vec!["strict".to_string()]
    );
}

#[tokio::test]
async fn a_batch_splits_by_partition_and_a_refusal_writes_nothing() {
    let redis = TestRedis::start();
    let q = queue(&redis, "batch").await;
    // Each of the 30 roots is a dependency of the next job, whose second
    // dependency is another root (often in another partition).
    let mut reqs: Vec<NewJob> = (0..30).map(|i| job(&format!("b{i}"))).collect();
    for i in 0..30 {
        let deps = [format!("b{i}"), format!("b{}", (i + 7) % 30)];
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        reqs.push(after(&format!("c{i}"), &deps));
    }
    let answers = q.submit_batch(reqs).await.unwrap();
    assert_eq!(answers.len(), 60);
    assert!(answers.iter().all(|a| a.created));
    let parts: BTreeSet<u32> = futures::future::join_all((0..30).map(|i| {
        let q = q.clone();
        async move { place(&q, &format!("b{i}")).await }
    }))
    .await
    .into_iter()
    .collect();
    assert_eq!(parts.len(), PARTS as usize);

    // Drain: claim, complete, relay, until everything ended.
    for _ in 0..100 {
        let jobs = q.claim(HOST, &["echo"], 100, LEASE).await.unwrap();
        for j in &jobs {
            q.complete(j, "{}", "v1").await.unwrap();
        }
        q.relay().await.unwrap();
        if q.stats().await.unwrap().get("completed") == Some(&60) {
            break;
        }
    }
    assert_eq!(q.stats().await.unwrap()["completed"], 60);

    // A type no host registered, in a batch that spans partitions: refused
    // by index, and no job of the batch written.
    let mut bad: Vec<NewJob> = (0..12).map(|i| job(&format!("n{i}"))).collect();
    bad[7].job_type = "unregistered".into();
    let refused = q.submit_batch(bad).await.unwrap_err();
    assert_eq!(refused.index, 7, "{refused}");
    for i in 0..12 {
        assert!(
            q.get(&format!("n{i}")).await.unwrap().is_none(),
            "n{i} written"
        );
    }
}

#[tokio::test]
async fn controls_reach_every_partition_and_caps_are_shared_out() {
    let redis = TestRedis::start();
    let q = queue(&redis, "controls").await;
    one_per_partition(&q, "r").await;
    let more: Vec<NewJob> = (0..60).map(|i| job(&format!("m{i}"))).collect();
    q.submit_batch(more).await.unwrap();

    q.pause("echo").await.unwrap();
    assert!(
        q.claim(HOST, &["echo"], 100, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(q.resume("echo").await.unwrap());

    // A cap below the partition count cannot be shared out whole: refused,
    // naming why, and nothing set.
    let refused = q.set_cap("echo", Some(2)).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("below the queue's 3 partitions"),
        "{refused}"
    );
    assert!(q.caps().await.unwrap().is_empty());
    let refused = q
        .set_rate("echo", Some(RateLimit::new(2, 60_000).unwrap()))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("rate_limit"), "{refused}");

    // A cap of 4 over 3 partitions: shares of 2, 1 and 1, exactly 4 in all
    // (rounding each share up would start 6).
    q.set_cap("echo", Some(4)).await.unwrap();
    assert_eq!(q.caps().await.unwrap()["echo"], 4);
    let claimed = q.claim(HOST, &["echo"], 100, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 4, "{claimed:?}");
    let mut per_part: BTreeMap<String, usize> = BTreeMap::new();
    for j in &claimed {
        let p = j.token.rsplit_once('.').map_or("0", |(_, p)| p);
        *per_part.entry(p.to_string()).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = [("0", 2), ("1", 1), ("2", 1)]
        .map(|(p, n)| (p.to_string(), n))
        .into();
    assert_eq!(per_part, want);
    assert_eq!(q.running_by_type().await.unwrap()["echo"], 4);
    assert!(
        q.claim(HOST, &["echo"], 100, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    q.set_cap("echo", None).await.unwrap();
    assert!(
        !q.claim(HOST, &["echo"], 100, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_rate_limit_is_shared_out_to_add_up_to_itself() {
    let redis = TestRedis::start();
    let q = queue(&redis, "rates").await;
    let many: Vec<NewJob> = (0..90).map(|i| job(&format!("j{i}"))).collect();
    q.submit_batch(many).await.unwrap();
    // 5 an hour over 3 partitions: 2, 2 and 1 (rounded up, 6).
    q.set_rate("echo", Some(RateLimit::new(5, 3_600_000).unwrap()))
        .await
        .unwrap();
    let mut claimed = 0;
    for _ in 0..4 {
        claimed += q.claim(HOST, &["echo"], 100, LEASE).await.unwrap().len();
    }
    assert_eq!(claimed, 5);
}

#[tokio::test]
async fn the_partition_count_is_fixed_for_the_life_of_a_queue() {
    let redis = TestRedis::start();
    let _q = queue(&redis, "fixed").await;
    let refused = Queue::connect(&redis.url(), config("fixed", 2))
        .await
        .err()
        .unwrap();
    let message = refused.to_string();
    assert!(
        message.contains("partitions") && message.contains('3') && message.contains('2'),
        "{message}"
    );
    for bad in [0, 257] {
        let refused = Queue::connect(&redis.url(), config("other", bad))
            .await
            .err()
            .unwrap();
        assert!(refused.to_string().contains("partitions"), "{refused}");
    }
    // A queue from before partitions is a one-partition queue.
    let old = common::queue_with_types(&redis.url(), config("old", 1), HOST, &["echo"]).await;
    old.submit(job("x")).await.unwrap();
    let keys: Vec<String> = redis.conn().keys("*old*").unwrap();
    assert!(keys.iter().all(|k| k.starts_with("{old}:")), "{keys:?}");
    assert!(
        Queue::connect(&redis.url(), config("old", 4))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_content_store_is_shared_between_partitions() {
    let redis = TestRedis::start();
    let q = queue(&redis, "content").await;
    let llm = RegisteredType {
        job_type: "llm".into(),
        plugin: "test".into(),
        version_id: "v1".into(),
        cache: true,
    };
    q.register_job_types(HOST, &[llm]).await.unwrap();
    let work = |id: &str, parent: Option<&String>| NewJob {
        id: Some(id.into()),
        parent: parent.cloned(),
        ..NewJob::new(
            "llm",
            Payload::parse(if parent.is_some() {
                "{\"text\":\"a record\"}"
            } else {
                "{\"text\":\"a root\"}"
            })
            .unwrap(),
        )
    };
    // Roots with the same content meet in one partition: the second
    // attaches to the first.
    let first = q.submit(work("same-1", None)).await.unwrap();
    let second = q.submit(work("same-2", None)).await.unwrap();
    assert!(first.created);
    assert_eq!((second.id.as_str(), second.created), ("same-1", false));

    // Children stay with their parents, in different partitions: the one
    // claimed after the other completed finds the shared result.
    let parents = one_per_partition(&q, "p").await;
    for (n, parent) in parents.iter().enumerate() {
        q.submit(work(&format!("child-{n}"), Some(parent)))
            .await
            .unwrap();
    }
    let mut done = None;
    let mut checked = 0;
    for _ in 0..20 {
        for j in q.claim(HOST, &["llm"], 10, LEASE).await.unwrap() {
            if !j.id.starts_with("child-") {
                q.complete(&j, "{\"other\":1}", "v1").await.unwrap();
                continue;
            }
            match &done {
                None => {
                    assert_eq!(q.shared_result(&j).await.unwrap(), None);
                    q.complete(&j, "{\"answer\":42}", "v1").await.unwrap();
                    done = Some(j.id.clone());
                }
                Some(_) => {
                    let shared = q.shared_result(&j).await.unwrap();
                    assert_eq!(
                        shared,
                        Some(("{\"answer\":42}".to_string(), "v1".to_string())),
                        "{} found no shared result",
                        j.id
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2, "both other children found the result");
    let exported = q.content_results().await.unwrap();
    assert!(exported.iter().any(|r| r.result == "{\"answer\":42}"));
}

#[tokio::test]
async fn losing_any_partition_is_noticed() {
    let redis = TestRedis::start();
    let q = queue(&redis, "marked").await;
    let marker = q.claim_identity().await.unwrap();
    assert_eq!(
        q.identity().await.unwrap().as_deref(),
        Some(marker.as_str())
    );
    for p in 0..PARTS {
        let tag = if p == 0 {
            "marked".to_string()
        } else {
            format!("marked~{p}")
        };
        let held: String = redis.conn().get(format!("{{{tag}}}:identity")).unwrap();
        assert_eq!(held, marker, "partition {p}");
    }
    // The master of partition 2 comes back empty: its marker is gone.
    let _: () = redis.conn().del("{marked~2}:identity").unwrap();
    assert_eq!(q.identity().await.unwrap(), None);
    // Another marker there (a host that started on the empty master alone).
    let _: () = redis.conn().set("{marked~2}:identity", "other").unwrap();
    assert_eq!(q.identity().await.unwrap().as_deref(), Some("other"));
}

#[tokio::test]
async fn the_relay_reaches_a_job_listed_behind_a_thousand_slow_ones() {
    let redis = TestRedis::start();
    let q = queue(&redis, "many").await;
    let roots = one_per_partition(&q, "r").await;
    let (here, slow, quick) = (&roots[0], &roots[1], &roots[2]);
    // 1,200 jobs wait on `slow` in another partition, listed first.
    for start in (0..1200).step_by(100) {
        let batch: Vec<NewJob> = (start..start + 100)
            .map(|i| after(&format!("w{i}"), &[here, slow]))
            .collect();
        q.submit_batch(batch).await.unwrap();
    }
    q.submit(after("last", &[here, quick])).await.unwrap();
    run(&q, here).await;
    run(&q, quick).await;
    let mut passes = 0;
    while status(&q, "last").await == JobStatus::Waiting {
        passes += 1;
        assert!(passes <= 200, "the relay never reached the last job listed");
        q.relay().await.unwrap();
    }
    assert_eq!(status(&q, "last").await, JobStatus::Pending);
    assert_eq!(status(&q, "w7").await, JobStatus::Waiting);
}
