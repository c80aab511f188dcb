//! What is spread over partitions and added up: batches, controls, caps and rates, the content
//! store, the relay; the partition count fixed, and a lost partition noticed.

use super::*;

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
