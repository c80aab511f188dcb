//! A partition's slot moved to another master while the queue runs: the
//! queue's direct connection to the old master answers MOVED, to single
//! commands and inside pipelines, and every call still lands (through the
//! routed connection, then directly on the new master).

use std::time::Duration;

use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobStatus, Queue, QueueConfig};

use super::common::{self, cluster::TestCluster};
use super::slot;

fn job(i: usize) -> NewJob {
    NewJob {
        id: Some(format!("m{i}")),
        ..NewJob::new("echo", Payload::parse("{}").unwrap())
    }
}

/// Submits `ids`, claims and completes them all.
async fn run(queue: &Queue, ids: std::ops::Range<usize>) {
    let n = ids.len();
    queue
        .submit_batch(ids.map(job).collect())
        .await
        .expect("submit");
    let mut done = 0;
    while done < n {
        let got = queue
            .claim("h", &["echo"], 10, Duration::from_secs(30))
            .await
            .expect("claim");
        assert!(!got.is_empty(), "{done} of {n} done and nothing to claim");
        for job in &got {
            queue.complete(job, "{}", "v1").await.expect("complete");
        }
        done += got.len();
    }
}

/// Moves `slot` with its keys from master `from` to master `to`, the way
/// `redis-cli --cluster reshard` does.
fn move_slot(cluster: &TestCluster, slot: u16, from: usize, to: usize) {
    let id = |i: usize| cluster.nodes[i].query("CLUSTER MYID").expect("node id");
    let (from_id, to_id) = (id(from), id(to));
    let conn = |i: usize| {
        redis::Client::open(cluster.nodes[i].url())
            .and_then(|c| c.get_connection())
            .expect("node connection")
    };
    let (mut source, mut target) = (conn(from), conn(to));
    let setslot = |state: &str, node: &str| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SETSLOT").arg(slot).arg(state).arg(node);
        cmd
    };
    let _: () = setslot("IMPORTING", &from_id)
        .query(&mut target)
        .expect("importing");
    let _: () = setslot("MIGRATING", &to_id)
        .query(&mut source)
        .expect("migrating");
    loop {
        let keys: Vec<String> = redis::cmd("CLUSTER")
            .arg("GETKEYSINSLOT")
            .arg(slot)
            .arg(500)
            .query(&mut source)
            .expect("keys in slot");
        if keys.is_empty() {
            break;
        }
        let _: () = redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(cluster.nodes[to].port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(&keys)
            .query(&mut source)
            .expect("migrate");
    }
    for m in cluster.masters() {
        let _: () = setslot("NODE", &to_id)
            .query(&mut conn(m))
            .expect("setslot node");
    }
    common::cluster::wait_for(Duration::from_secs(30), || cluster.owner(slot) == Some(to));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_follows_its_slot_to_another_master() {
    let cluster = TestCluster::start(3);
    // With a replica acknowledgement, submissions and completions go as a
    // pipeline (the function, then WAIT); claims as a single command.
    let config = QueueConfig {
        min_replica_acks: 1,
        ..QueueConfig::default()
    };
    let queue = common::queue_with_types(&cluster.url(), config, "h", &["echo"]).await;
    run(&queue, 0..20).await;
    // The direct connection to the slot's master is set up in the
    // background after the first calls; give it time to be in use.
    tokio::time::sleep(Duration::from_millis(200)).await;
    run(&queue, 20..40).await;

    let from = cluster.owner(slot()).expect("the slot's master");
    let to = cluster
        .masters()
        .into_iter()
        .find(|&m| m != from)
        .expect("another master");
    let fcalls = |i: usize| {
        let stats = cluster.nodes[i]
            .query("INFO commandstats")
            .unwrap_or_default();
        stats
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_fcall:calls="))
            .and_then(|rest| rest.split(',').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    move_slot(&cluster, slot(), from, to);
    let before = fcalls(to);

    // Straight after the move, and again once the slot's master has been
    // looked up anew.
    run(&queue, 40..60).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    run(&queue, 60..80).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    run(&queue, 80..100).await;

    assert!(fcalls(to) > before + 40, "the new master ran the calls");
    assert_eq!(queue.stats().await.expect("stats")["completed"], 100);
    for i in (0..100).step_by(7) {
        let record = queue.get(&format!("m{i}")).await.expect("get");
        assert_eq!(record.map(|r| r.status), Some(JobStatus::Completed), "m{i}");
    }
    assert_eq!(
        cluster.nodes[from].query("DBSIZE").as_deref(),
        Some("0"),
        "the old master keeps none of the queue"
    );
}
