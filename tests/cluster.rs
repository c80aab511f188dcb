//! Past one Redis: hosts on a real 3-master Redis Cluster (a queue of 3
//! partitions, one on each master) and on a real Sentinel group (one
//! partition), draining 5,000 jobs (dependencies within and across
//! partitions, fan-out) while the master that holds partition 0 is killed
//! with SIGKILL and its replica takes over. With `min_replica_acks = 1`
//! nothing acknowledged may be lost; with 0 the test measures what was
//! (printed as `LOSS ...`). `cluster/resharding.rs` moves the queue's slot
//! to another master while it runs; `cluster/acks.rs` shows what
//! `min_replica_acks` buys with a frozen replica; `cluster/tls.rs` runs a
//! host on a cluster that speaks TLS only, `cluster/sentinel_tls.rs` on a
//! Sentinel group that does, through a failover.

use crate::common;
#[path = "cluster/acks.rs"]
mod acks;
#[path = "cluster/resharding.rs"]
mod resharding;
#[path = "cluster/sentinel_tls.rs"]
mod sentinel_tls;
#[path = "cluster/tls.rs"]
mod tls;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::api::Api;
use common::cluster::{TestCluster, TestSentinel, wait_for, wait_or_explain};
use common::host::Host;
use common::plugin_dir;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobStatus, Queue, QueueConfig};
use serde_json::{Value, json};

mod masters;

/// 200 rounds of 20 echo jobs (every 10th waits on the two before it,
/// which may live in different partitions) and one `chaos.fanout` of 4
/// children: 5,000 jobs in all.
const ROUNDS: usize = 200;
const ECHOES: usize = 20;
const CHILDREN: usize = 4;
/// The master is killed once this many batches are acknowledged.
const KILL_AFTER: usize = 60;

/// What a failover test does to the Redis behind the queue.
trait Failover: Send {
    fn url(&self) -> String;
    /// SIGKILLs the master that holds the queue; returns which node it was.
    fn kill_master(&mut self) -> usize;
    /// Whether another node serves the queue now.
    fn promoted(&self, killed: usize) -> bool;
    /// Starts the killed node again, as a replica of the new master.
    fn bring_back(&mut self, killed: usize);
}

impl Failover for TestCluster {
    fn url(&self) -> String {
        TestCluster::url(self)
    }
    fn kill_master(&mut self) -> usize {
        let owner = self.owner(slot()).expect("the queue's slot has a master");
        self.kill(owner);
        owner
    }
    fn promoted(&self, killed: usize) -> bool {
        self.owner(slot()).is_some_and(|o| o != killed)
    }
    fn bring_back(&mut self, killed: usize) {
        self.restart(killed);
        self.wait_healthy();
    }
}

impl Failover for TestSentinel {
    fn url(&self) -> String {
        TestSentinel::url(self)
    }
    fn kill_master(&mut self) -> usize {
        let master = self.master().expect("the sentinels name a master");
        self.data[master].kill();
        master
    }
    fn promoted(&self, killed: usize) -> bool {
        self.master().is_some_and(|m| m != killed)
            && self.data[1 - killed]
                .query("ROLE")
                .is_some_and(|r| r.contains("\"master\""))
    }
    fn bring_back(&mut self, killed: usize) {
        self.restart_as_replica(killed, 1 - killed);
        let master = &self.data[1 - killed];
        wait_or_explain(
            Duration::from_secs(60),
            || {
                master
                    .query("INFO replication")
                    .is_some_and(|i| i.contains("connected_slaves:1") && i.contains("state=online"))
            },
            || {
                let nodes = self.data.iter().chain(&self.sentinels);
                nodes.map(|n| n.report(30)).collect::<Vec<_>>().join("\n\n")
            },
        );
    }
}

/// The queue's hash-tag slot (`{deckhand}`).
fn slot() -> u16 {
    deckhand::queue::net::slot("deckhand")
}

fn batches() -> Vec<Vec<Value>> {
    (0..ROUNDS)
        .map(|round| {
            let mut batch: Vec<Value> = (0..ECHOES)
                .map(|k| {
                    let i = round * ECHOES + k;
                    let mut job = json!({"id": format!("e{i}"), "job_type": "echo", "payload": {"i": i}});
                    if k % 10 == 9 {
                        job["depends_on"] = json!([format!("e{}", i - 1), format!("e{}", i - 2)]);
                    }
                    job
                })
                .collect();
            batch.push(json!({"id": format!("f{round}"), "job_type": "chaos.fanout", "payload": {"children": CHILDREN}}));
            batch
        })
        .collect()
}

/// What a drain through a failover left behind.
struct Report {
    acknowledged: usize,
    /// Acknowledged submissions with no job at the end.
    lost_submissions: usize,
    /// Children a fan-out was told were submitted (its result lists them)
    /// with no job at the end: a child submission acknowledged and lost.
    lost_children: usize,
    /// Completions hosts were told were recorded, past one per job: each is
    /// a completion acknowledged and then lost (the job ran again). A
    /// completion sent again by the same lease is acknowledged once.
    lost_completions: i64,
    failover: Duration,
}

/// Two hosts drain the batches while the master is killed after
/// [`KILL_AFTER`] batches; the killed node comes back as a replica once its
/// replica has taken over. Checks that every job that exists completed
/// once with the right result, in dependency order, with its children.
async fn drain_through_failover(
    redis: impl Failover + 'static,
    acks: u32,
    partitions: u32,
) -> Report {
    let url = redis.url();
    let dir = plugin_dir(&["echo", "chaos"]);
    let (acks_env, partitions_env) = (acks.to_string(), partitions.to_string());
    let env = [
        ("DECKHAND_QUEUE_MIN_REPLICA_ACKS", acks_env.as_str()),
        ("DECKHAND_QUEUE_REPLICA_ACK_TIMEOUT_MS", "500"),
        ("DECKHAND_QUEUE_PARTITIONS", partitions_env.as_str()),
    ];
    let hosts: Vec<Host> = (0..2)
        .map(|i| {
            Host::start_with_env(
                &format!("h{i}"),
                &url,
                dir.path(),
                &["--lease-ms", "3000"],
                &env,
            )
        })
        .collect();
    let apis: Vec<Api> = hosts.iter().map(Api::new).collect();
    for (api, host) in apis.iter().zip(&hosts) {
        api.ready(host).await;
    }

    let acked = Arc::new(AtomicUsize::new(0));
    let redis = Arc::new(std::sync::Mutex::new(redis));
    let killer = {
        let (acked, redis) = (acked.clone(), redis.clone());
        std::thread::spawn(move || {
            wait_for(Duration::from_secs(120), || {
                acked.load(Ordering::SeqCst) >= KILL_AFTER
            });
            let killed = redis.lock().unwrap().kill_master();
            let start = Instant::now();
            wait_for(Duration::from_secs(60), || {
                redis.lock().unwrap().promoted(killed)
            });
            let failover = start.elapsed();
            redis.lock().unwrap().bring_back(killed);
            failover
        })
    };

    let mut acknowledged = Vec::new();
    for (n, batch) in batches().into_iter().enumerate() {
        let api = &apis[n % 2];
        api.post_through_outage(
            "/v1/jobs/batch",
            &json!({ "jobs": batch }),
            Duration::from_secs(90),
        )
        .await;
        acknowledged.extend(batch.iter().map(|j| j["id"].as_str().unwrap().to_string()));
        acked.fetch_add(1, Ordering::SeqCst);
    }
    let failover = tokio::task::spawn_blocking(move || killer.join().unwrap())
        .await
        .unwrap();

    let config = QueueConfig {
        partitions,
        ..QueueConfig::default()
    };
    let queue = Queue::connect(&url, config).await.unwrap();
    let mut expected: Vec<String> = acknowledged.clone();
    for round in 0..ROUNDS {
        expected.extend((0..CHILDREN).map(|c| format!("f{round}.child.{c}")));
    }
    let jobs = wait_all_finished(&queue, &expected, &hosts).await;

    let lost_submissions = acknowledged
        .iter()
        .filter(|id| !jobs.contains_key(*id))
        .count();
    let mut lost_children = 0;
    for (id, job) in &jobs {
        assert_eq!(job.status, JobStatus::Completed, "{id}: {job:?}");
        let result: Value = serde_json::from_str(job.result.as_deref().unwrap()).unwrap();
        if let Some(i) = id.strip_prefix('e') {
            let i: usize = i.parse().unwrap();
            assert_eq!(result, json!({"i": i}), "{id}");
            for dep in [i - 1, i - 2].into_iter().filter(|_| i % 10 == 9) {
                if let Some(dep) = jobs.get(&format!("e{dep}")) {
                    assert!(
                        job.started_at >= dep.finished_at,
                        "{id} started before its dependency finished:\n{job:?}\n{dep:?}"
                    );
                }
            }
        } else if let Some(round) = id.strip_prefix('f').filter(|r| !r.contains('.')) {
            let children = common::api::children_in(&result);
            let want: Vec<String> = (0..CHILDREN)
                .map(|c| format!("f{round}.child.{c}"))
                .collect();
            assert_eq!(children, want, "{id}: each child once");
            // A child whose submission was lost in the failover is not
            // on the parent either: the parent counts exactly the
            // children that exist, each once, all finished.
            let lost: Vec<&String> = children.iter().filter(|c| !jobs.contains_key(*c)).collect();
            for child in &lost {
                println!("LOST CHILD {child} of {id}");
            }
            lost_children += lost.len();
            let present = CHILDREN - lost.len();
            assert_eq!(
                job.children.total, present as u64,
                "{id}: the children that exist, counted once"
            );
            assert_eq!(job.children.finished, present as u64, "{id}");
        }
    }

    // Jobs that ran more than once, with why: the first place to look when
    // completions were lost.
    for (id, job) in jobs.iter().filter(|(_, j)| j.attempts > 1) {
        println!(
            "RERUN {id}: attempts {} errors {:?}",
            job.attempts, job.errors
        );
    }
    // A host counts a completion once Redis has answered it; one whose
    // answer was lost in the failover is counted when its retry (up to 2 s
    // of backoff) is answered, which may be after the job shows completed.
    let deadline = Instant::now() + Duration::from_secs(15);
    let recorded = loop {
        let mut recorded: i64 = 0;
        for api in &apis {
            let metrics = api.text("/metrics").await;
            recorded += metrics
                .lines()
                .find_map(|l| l.strip_prefix("worker_jobs_processed_total{status=\"completed\"} "))
                .and_then(|n| n.trim().parse::<i64>().ok())
                .unwrap_or(0);
        }
        if recorded >= jobs.len() as i64 || Instant::now() > deadline {
            break recorded;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Where the jobs lived: every partition held some, and dependencies
    // crossed partitions.
    let mut per_partition = BTreeMap::new();
    let mut crossed = 0;
    for i in (9..ROUNDS * ECHOES).step_by(10) {
        let here = queue.partition_of(&format!("e{i}")).await.unwrap();
        let other = queue.partition_of(&format!("e{}", i - 2)).await.unwrap();
        *per_partition.entry(here).or_insert(0) += 1;
        crossed += usize::from(here.is_some() && other.is_some() && here != other);
    }
    println!(
        "PARTITIONS {partitions}: dependents by partition {per_partition:?}; {crossed} depend across partitions"
    );
    if partitions > 1 {
        assert_eq!(
            per_partition.len(),
            partitions as usize,
            "{per_partition:?}"
        );
        assert!(crossed > 0, "no dependency crossed partitions");
    }
    let report = Report {
        acknowledged: acknowledged.len(),
        lost_submissions,
        lost_children,
        lost_completions: recorded - jobs.len() as i64,
        failover,
    };
    println!(
        "LOSS min_replica_acks={acks}: {} of {} acknowledged submissions lost, and {} of {} children; {} completions recorded past one per job ({} jobs); failover took {:?}",
        report.lost_submissions,
        report.acknowledged,
        report.lost_children,
        ROUNDS * CHILDREN,
        report.lost_completions,
        jobs.len(),
        report.failover
    );
    report
}

/// Waits until every job of `ids` that exists has finished (120 s at most).
async fn wait_all_finished(
    queue: &Queue,
    ids: &[String],
    hosts: &[Host],
) -> BTreeMap<String, deckhand::queue::JobRecord> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut jobs = BTreeMap::new();
        for chunk in ids.chunks(500) {
            let records = queue.get_many(chunk).await.unwrap();
            jobs.extend(
                chunk
                    .iter()
                    .cloned()
                    .zip(records)
                    .filter_map(|(id, r)| Some((id, r?))),
            );
        }
        let unfinished: HashSet<&String> = jobs
            .iter()
            .filter(|(_, j)| !j.status.is_finished())
            .map(|(id, _)| id)
            .collect();
        if unfinished.is_empty() {
            return jobs;
        }
        assert!(
            Instant::now() < deadline,
            "{} jobs unfinished after 120 s, e.g. {:?}\n{}",
            unfinished.len(),
            unfinished.iter().take(3).collect::<Vec<_>>(),
            hosts[0].log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_master_killed_mid_drain_loses_nothing_acknowledged_with_one_replica_ack() {
    let report = drain_through_failover(TestCluster::start(3), 1, 3).await;
    assert_eq!(report.lost_submissions, 0);
    assert_eq!(report.lost_children, 0);
    assert_eq!(
        report.lost_completions, 0,
        "completions lost or counted twice"
    );
    assert_eq!(report.acknowledged, ROUNDS * (ECHOES + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_master_killed_mid_drain_without_replica_acks_is_measured() {
    // Asynchronous replication: what is lost is measured, not asserted;
    // every job that survived must still be whole and run in order.
    let report = drain_through_failover(TestCluster::start(3), 0, 3).await;
    assert_eq!(report.acknowledged, ROUNDS * (ECHOES + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sentinel_master_killed_mid_drain_loses_nothing_acknowledged_with_one_replica_ack() {
    let report = drain_through_failover(TestSentinel::start(), 1, 1).await;
    assert_eq!(report.lost_submissions, 0);
    assert_eq!(report.lost_children, 0);
    assert_eq!(
        report.lost_completions, 0,
        "completions lost or counted twice"
    );
}

/// The queue's keys all live in the slot `connection::slot` computes, on
/// one master; keyless commands (TIME, SCAN, CONFIG) go to that master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_queue_keeps_its_keys_in_one_slot_and_scans_its_own_node() {
    let cluster = TestCluster::start(3);
    let node = &cluster.nodes[0];
    let reply = node.query("CLUSTER KEYSLOT {deckhand}:seq").unwrap();
    assert_eq!(reply, slot().to_string());
    let queue =
        common::queue_with_types(&cluster.url(), QueueConfig::default(), "h", &["echo"]).await;
    for i in 0..20 {
        queue
            .submit(NewJob {
                id: Some(format!("j{i}")),
                ..NewJob::new("echo", Payload::parse("{}").unwrap())
            })
            .await
            .unwrap();
    }
    let owner = cluster.owner(slot()).unwrap();
    let keys = cluster.nodes[owner].query("DBSIZE").unwrap();
    assert!(keys.parse::<u64>().unwrap() >= 20, "{keys}");
    for (i, n) in cluster.nodes.iter().enumerate() {
        if i != owner && cluster.masters().contains(&i) {
            assert_eq!(
                n.query("DBSIZE").unwrap(),
                "0",
                "node {i} holds none of the queue"
            );
        }
    }
    // `migrate` scans the keyspace: on the node that owns the slot.
    queue.migrate().await.unwrap();
    assert!(queue.durability().await.appendonly.is_some());
    queue.ping().await.unwrap();
    let got = queue.get("j3").await.unwrap().unwrap();
    assert_eq!(got.status, JobStatus::Pending);
}

/// /health once `wanted` holds (asked every 200 ms, for up to 30 s).
async fn until_health(api: &Api, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, health) = api.get("/health").await;
        if wanted(&health) {
            return health;
        }
        assert!(Instant::now() < deadline, "/health stayed {health}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
