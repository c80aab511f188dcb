//! What `min_replica_acks` buys, shown without timing luck: a master and
//! its replica (`TestPair`), the replica frozen (SIGSTOP) and its link cut,
//! so the master cannot pass anything on. Writes are refused rather than
//! acknowledged, and what only the master holds is not acted on.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::cluster::TestPair;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobStatus, Queue, QueueConfig};

/// What `min_replica_acks` buys, shown without timing luck: the replica is
/// frozen and its link cut, so the master cannot pass anything on. With 1, a submission is
/// refused (`NotReplicated`) rather than acknowledged; with 0 it is
/// acknowledged, and once the master dies and the replica is promoted, that
/// acknowledged job is gone, while what was acknowledged with 1 before the
/// freeze is there.
#[tokio::test]
async fn with_a_frozen_replica_one_ack_refuses_what_zero_acks_would_lose() {
    let mut pair = TestPair::start();
    let acked = |n: u32| QueueConfig {
        min_replica_acks: n,
        replica_ack_timeout_ms: 300,
        ..QueueConfig::default()
    };
    let job = |id: &str| NewJob {
        id: Some(id.into()),
        ..NewJob::new("echo", Payload::parse("{}").unwrap())
    };
    let url = pair.master.url();
    let safe = common::queue_with_types(&url, acked(1), "h", &["echo"]).await;
    let fast = Queue::connect(&url, acked(0)).await.unwrap();
    let kept = safe.submit(job("kept")).await.unwrap();
    assert!(kept.created);

    freeze_replica(&pair);
    let refused = safe.submit(job("refused")).await.unwrap_err();
    assert!(
        matches!(
            refused,
            deckhand::queue::QueueError::NotReplicated {
                acked: 0,
                wanted: 1,
                ..
            }
        ),
        "{refused}"
    );
    assert!(refused.is_transient());
    let lost = fast.submit(job("lost")).await.unwrap();
    assert!(lost.created, "acknowledged with 0 replica acks");

    pair.master.kill();
    pair.replica.signal("CONT");
    let promoted: String = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(
            &mut redis::Client::open(pair.replica.url())
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(promoted, "OK");
    let after = Queue::connect(&pair.replica.url(), QueueConfig::default())
        .await
        .unwrap();
    assert!(
        after.get("kept").await.unwrap().is_some(),
        "acknowledged with 1: kept"
    );
    assert!(
        after.get("lost").await.unwrap().is_none(),
        "acknowledged with 0: lost"
    );
}

/// Freezes the pair's replica (SIGSTOP) and cuts its link: what the master
/// writes from then on stays with it.
fn freeze_replica(pair: &TestPair) {
    pair.replica.signal("STOP");
    let cut: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(
            &mut redis::Client::open(pair.master.url())
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(cut, 1, "the replica's link closed");
}

/// A completion the master holds and its replica does not is not acted on
/// with `min_replica_acks = 1`: the relay does not release a dependent in
/// another partition on it, and `wait` does not answer with it. (Were the
/// master to die now, the dependency would run again on the promoted
/// replica, after its dependent had started.) Once the replica has it,
/// both go ahead.
#[tokio::test]
async fn with_one_ack_a_completion_only_the_master_holds_releases_nothing() {
    let pair = TestPair::start();
    let config = QueueConfig {
        partitions: 2,
        min_replica_acks: 1,
        replica_ack_timeout_ms: 300,
        ..QueueConfig::default()
    };
    let q = common::queue_with_types(&pair.master.url(), config, "h", &["echo"]).await;
    let job = |id: &str, deps: &[&str]| NewJob {
        id: Some(id.into()),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        ..NewJob::new("echo", Payload::parse("{}").unwrap())
    };
    // Two roots in different partitions; w lives with the first and
    // waits on the second through the relay.
    let mut roots: BTreeMap<u32, String> = BTreeMap::new();
    for i in 0..100 {
        let id = format!("r{i}");
        q.submit(job(&id, &[])).await.unwrap();
        let p = q.partition_of(&id).await.unwrap().unwrap();
        roots.entry(p).or_insert(id);
        if roots.len() == 2 {
            break;
        }
    }
    let (near, far) = (roots[&0].clone(), roots[&1].clone());
    q.submit(job("w", &[&near, &far])).await.unwrap();
    assert_eq!(q.partition_of("w").await.unwrap(), Some(0));
    let mut claimed = BTreeMap::new();
    while claimed.len() < 2 {
        for j in q
            .claim("h", &["echo"], 10, Duration::from_secs(60))
            .await
            .unwrap()
        {
            claimed.insert(j.id.clone(), j);
        }
    }
    q.complete(&claimed[&near], "{}", "v1").await.unwrap();
    // The far root is still running: nothing to pass on, so the relay
    // does not make its partition's replicas acknowledge anything.
    let marker = || pair.master.query("EXISTS {deckhand~1}:synced");
    assert_eq!(q.relay().await.unwrap(), 0);
    assert_eq!(marker().as_deref(), Some("0"));

    freeze_replica(&pair);
    let refused = q.complete(&claimed[&far], "{}", "v1").await.unwrap_err();
    assert!(
        matches!(refused, deckhand::queue::QueueError::NotReplicated { .. }),
        "{refused}"
    );
    let on_master = q.get(&far).await.unwrap().unwrap();
    assert_eq!(on_master.status, JobStatus::Completed, "the master has it");
    assert_eq!(q.relay().await.unwrap(), 0, "nothing relayed");
    assert_eq!(marker().as_deref(), Some("1"), "the replicas were asked");
    let w = q.get("w").await.unwrap().unwrap();
    assert_eq!(w.status, JobStatus::Waiting);
    let waited = q
        .wait_for_jobs(std::slice::from_ref(&far), Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        matches!(waited, deckhand::queue::QueueError::NotReplicated { .. }),
        "{waited}"
    );

    pair.replica.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(30);
    while q.relay().await.unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "not relayed once replicated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let w = q.get("w").await.unwrap().unwrap();
    assert_eq!(w.status, JobStatus::Pending, "released");
    let answered = q
        .wait_for_jobs(&[far], Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(answered[0].status, JobStatus::Completed);
}
