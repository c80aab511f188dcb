//! Partitions over a cluster's masters, health naming the partition whose master is down, and
//! bad cluster and Sentinel URLs refused by name.

use super::*;

/// Three partitions on a 3-master cluster: one on each master (their
/// tags' slots fall in the three masters' ranges), each holding its share
/// of the jobs, and every read seeing all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_queue_spreads_over_the_cluster_masters() {
    let cluster = TestCluster::start(3);
    let config = QueueConfig {
        partitions: 3,
        ..QueueConfig::default()
    };
    let queue = common::queue_with_types(&cluster.url(), config, "h", &["echo"]).await;
    let tags = ["deckhand", "deckhand~1", "deckhand~2"];
    let owners: HashSet<usize> = tags
        .iter()
        .map(|t| {
            let slot = deckhand::queue::net::slot(t);
            cluster.owner(slot).expect("a master owns the slot")
        })
        .collect();
    assert_eq!(owners.len(), 3, "one partition on each master");
    let jobs: Vec<NewJob> = (0..300)
        .map(|i| NewJob {
            id: Some(format!("j{i}")),
            ..NewJob::new("echo", Payload::parse("{}").unwrap())
        })
        .collect();
    for batch in jobs.chunks(100) {
        queue.submit_batch(batch.to_vec()).await.unwrap();
    }
    for owner in owners {
        let keys: u64 = cluster.nodes[owner]
            .query("DBSIZE")
            .unwrap()
            .parse()
            .unwrap();
        assert!(keys >= 50, "master {owner} holds {keys} keys");
    }
    assert_eq!(queue.figures().await.unwrap().ready, 300);
    let mut claimed = 0;
    while claimed < 300 {
        let got = queue
            .claim("h", &["echo"], 100, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(!got.is_empty());
        for job in &got {
            queue.complete(job, "{}", "v1").await.unwrap();
        }
        claimed += got.len();
    }
    assert_eq!(queue.stats().await.unwrap()["completed"], 300);
    queue.migrate().await.unwrap();
}

/// /health asks every partition: with the master of partition 1 and its
/// replica stopped (no failover can happen), the host is degraded and names
/// that partition, while the others answer; healthy again once they resume.
/// Meanwhile the results of jobs in the other partitions are written: each
/// partition has its own result writer, so a batch does not wait on the
/// stopped master (whose calls time out only after 10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_partition_whose_master_is_down() {
    let cluster = TestCluster::start(3);
    // The other masters keep serving their slots while one is down.
    for node in &cluster.nodes {
        node.query("CONFIG SET cluster-require-full-coverage no");
    }
    let master = cluster
        .owner(deckhand::queue::net::slot("deckhand~1"))
        .expect("a master owns partition 1");
    let port = cluster.nodes[master].port.to_string();
    let replica = (0..cluster.nodes.len())
        .find(|&i| {
            i != master
                && cluster.nodes[i]
                    .query("ROLE")
                    .is_some_and(|r| r.contains("slave") && r.contains(&port))
        })
        .expect("the master's replica");
    let dir = plugin_dir(&["echo", "chaos"]);
    let host = Host::start_with_env(
        "hp",
        &cluster.url(),
        dir.path(),
        &["--batch-size", "64"],
        &[("DECKHAND_QUEUE_PARTITIONS", "3")],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let (status, health) = api.get("/health").await;
    assert_eq!(
        (status, &health["status"]),
        (200, &json!("healthy")),
        "{health}"
    );
    assert!(
        health["redis"].get("unreachable_partitions").is_none(),
        "{health}"
    );

    // Jobs in every partition, running when the master stops.
    let ids: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
    for id in &ids {
        let (status, body) = api
            .post(
                "/v1/jobs",
                json!({"job_type": "chaos.sleep", "payload": {"ms": 1500}, "id": id}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    // Where each job lives: partition `p`'s keys carry its hash tag.
    let tags = ["{deckhand}", "{deckhand~1}", "{deckhand~2}"];
    let owners: Vec<usize> = tags
        .iter()
        .map(|t| {
            let slot = deckhand::queue::net::slot(t.trim_matches(['{', '}']));
            let owner = cluster.owner(slot);
            owner.unwrap_or_else(|| {
                panic!(
                    "no owner of {t}: {:?}",
                    cluster.nodes[0].query("CLUSTER NODES")
                )
            })
        })
        .collect();
    let status_of = |id: &str, p: usize| {
        cluster.nodes[owners[p]].query(&format!("HGET {}:job:{id} status", tags[p]))
    };
    let home: Vec<usize> = ids
        .iter()
        .map(|id| {
            (0..3)
                .find(|&p| status_of(id, p).is_some_and(|s| s != "nil"))
                .expect("the job is in a partition")
        })
        .collect();
    assert!(
        home.contains(&1) && home.iter().any(|&p| p != 1),
        "{home:?}"
    );
    wait_for(Duration::from_secs(10), || {
        ids.iter()
            .zip(&home)
            .all(|(id, &p)| status_of(id, p).as_deref() == Some("running"))
    });

    cluster.nodes[replica].signal("STOP");
    cluster.nodes[master].signal("STOP");
    // Well within the 10 s a call to the stopped master waits.
    wait_for(Duration::from_secs(6), || {
        ids.iter()
            .zip(&home)
            .filter(|(_, p)| **p != 1)
            .all(|(id, &p)| status_of(id, p).as_deref() == Some("completed"))
    });
    let degraded = until_health(&api, |h| h["status"] == "degraded").await;
    assert_eq!(degraded["redis"]["reachable"], true, "{degraded}");
    let down = degraded["redis"]["unreachable_partitions"]
        .as_array()
        .expect("unreachable_partitions");
    assert_eq!(down.len(), 1, "{degraded}");
    assert_eq!(down[0]["partition"], 1, "{degraded}");
    assert!(
        down[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{degraded}"
    );

    cluster.nodes[master].signal("CONT");
    cluster.nodes[replica].signal("CONT");
    until_health(&api, |h| h["status"] == "healthy").await;
}

#[tokio::test]
async fn bad_cluster_and_sentinel_urls_are_refused_by_name() {
    for url in [
        "redis+cluster://:hunter22@127.0.0.1:1,,127.0.0.1:2",
        "redis+sentinel://:hunter22@127.0.0.1:1",
    ] {
        let out = common::deckhand()
            .args(["status", "x", "--redis-url", url])
            .output()
            .unwrap();
        let err = common::stderr(&out);
        assert!(!out.status.success());
        assert!(err.contains("redis_url"), "{err}");
        assert!(!err.contains("hunter22"), "{err}");
    }
    let bad = [
        ("DECKHAND_QUEUE_MIN_REPLICA_ACKS", "17"),
        ("DECKHAND_QUEUE_REPLICA_ACK_TIMEOUT_MS", "0"),
        ("DECKHAND_QUEUE_PARTITIONS", "0"),
        ("DECKHAND_QUEUE_PARTITIONS", "257"),
    ];
    for (var, value) in bad {
        let out = common::deckhand()
            .args(["status", "x", "--redis-url", "redis://127.0.0.1:1"])
            .env(var, value)
            .output()
            .unwrap();
        let err = common::stderr(&out);
        assert!(!out.status.success());
        let key = var
            .trim_start_matches("DECKHAND_QUEUE_")
            .to_ascii_lowercase();
        assert!(err.contains(&key), "{var}={value}: {err}");
    }
}
