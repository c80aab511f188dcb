//! The dashboard's counters in the scripts: a minute's first count trims the hour, recent ids
//! are capped, and children lists expire with their parent.

use std::time::Duration;

use super::common;
use super::common::redis::TestRedis;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{ClaimedJob, Completion, Queue, QueueConfig};

const LEASE: Duration = Duration::from_secs(30);

async fn conn(redis: &TestRedis) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Redis' current Unix minute, waiting out a minute's last 10 s so two
/// steps of a test fall in the same minute.
async fn minute(c: &mut ::redis::aio::MultiplexedConnection) -> u64 {
    loop {
        let (s, _): (u64, u64) = ::redis::cmd("TIME").query_async(c).await.unwrap();
        if s % 60 < 50 {
            return s / 60;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn run(q: &Queue, jobs: &[NewJob]) -> Vec<ClaimedJob> {
    q.submit_batch(jobs.to_vec()).await.unwrap();
    // A claim takes at most 1,000.
    let mut claimed = Vec::new();
    while claimed.len() < jobs.len() {
        let more = q
            .claim("h", &["a"], jobs.len() - claimed.len(), LEASE)
            .await
            .unwrap();
        assert!(!more.is_empty());
        claimed.extend(more);
    }
    let done: Vec<Completion> = claimed
        .iter()
        .map(|job| Completion {
            job,
            result: "{}",
            plugin_version: "v",
            cache_hit: false,
        })
        .collect();
    for chunk in done.chunks(1000) {
        q.complete_many(chunk).await.unwrap();
    }
    claimed
}

/// A queue of job type `a` taking batches of up to 2,000.
async fn queue(redis: &TestRedis) -> Queue {
    let config = QueueConfig {
        max_batch_jobs: 2000,
        ..QueueConfig::default()
    };
    common::queue_with_types(&redis.url(), config, "h", &["a"]).await
}

fn job(id: String) -> NewJob {
    NewJob {
        id: Some(id),
        ..NewJob::new("a", Payload::parse("{}").unwrap())
    }
}

/// A minute's first count drops the minutes older than an hour; later
/// counts in the same minute leave the hash alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minutes_first_count_trims_the_hour_and_later_counts_do_not() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut c = conn(&redis).await;
    let now = minute(&mut c).await;
    let key = "{deckhand}:minutes";
    let (old, kept) = (format!("c{}", now - 61), format!("c{}", now - 30));
    let _: () = ::redis::cmd("HSET")
        .arg(key)
        .arg(&old)
        .arg(5)
        .arg(format!("d{}", now - 90))
        .arg(1)
        .arg(&kept)
        .arg(7)
        .query_async(&mut c)
        .await
        .unwrap();
    run(&q, &[job("m1".into())]).await;
    let fields: std::collections::BTreeMap<String, u64> = ::redis::cmd("HGETALL")
        .arg(key)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(fields.get(&old), None, "{fields:?}");
    assert_eq!(fields.get(&format!("d{}", now - 90)), None, "{fields:?}");
    assert_eq!(fields.get(&kept), Some(&7));
    assert_eq!(fields.get(&format!("c{now}")), Some(&1));
    // A second count this minute: an old field put back stays.
    let _: () = ::redis::cmd("HSET")
        .arg(key)
        .arg(&old)
        .arg(5)
        .query_async(&mut c)
        .await
        .unwrap();
    run(&q, &[job("m2".into()), job("m3".into())]).await;
    let fields: std::collections::BTreeMap<String, u64> = ::redis::cmd("HGETALL")
        .arg(key)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(fields.get(&old), Some(&5));
    assert_eq!(fields.get(&format!("c{now}")), Some(&3));
    let done: u64 = ::redis::cmd("HGET")
        .arg("{deckhand}:done")
        .arg("a")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(done, 3);
}

/// The latest ended ids are capped, newest first; a job's list of
/// children expires with it, and a job without children makes none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_ids_are_capped_and_children_lists_expire_with_their_parent() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut c = conn(&redis).await;
    let jobs: Vec<NewJob> = (0..1005).map(|i| job(format!("r{i}"))).collect();
    let claimed = run(&q, &jobs).await;
    let recent: Vec<String> = ::redis::cmd("LRANGE")
        .arg("{deckhand}:recent")
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(recent.len(), 1000);
    assert_eq!(recent[0], claimed[1004].id, "newest first");

    // A parent running, with two children submitted by it.
    q.submit(job("parent".into())).await.unwrap();
    let parent = q.claim("h", &["a"], 1, LEASE).await.unwrap().remove(0);
    for i in 0..2 {
        q.submit(NewJob {
            parent: Some("parent".into()),
            ..job(format!("kid{i}"))
        })
        .await
        .unwrap();
    }
    let (_, kids) = q.children("parent", 0, 10).await.unwrap();
    let ids: Vec<&str> = kids.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["kid0", "kid1"]);
    let ttl = |k: &'static str| {
        let mut c = c.clone();
        async move {
            let t: i64 = ::redis::cmd("TTL")
                .arg(k)
                .query_async(&mut c)
                .await
                .unwrap();
            t
        }
    };
    assert_eq!(
        ttl("{deckhand}:children:parent").await,
        -1,
        "no expiry while it runs"
    );
    q.complete_many(&[Completion {
        job: &parent,
        result: "{}",
        plugin_version: "v",
        cache_hit: false,
    }])
    .await
    .unwrap();
    assert!(ttl("{deckhand}:children:parent").await > 0);
    let exists: u64 = ::redis::cmd("EXISTS")
        .arg("{deckhand}:children:r0")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(exists, 0);
}
