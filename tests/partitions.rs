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

mod spread;

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
