//! The queue's notifier: one pub/sub connection per process whatever
//! listens, a topic subscribed while someone listens to it, and a cue to
//! read the state again when the connection was made anew.

use crate::common;

use std::time::Duration;

use common::redis::TestRedis;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{Listener, Notice, Queue, QueueConfig, Topic};

const HOST: &str = "notifier-host";

async fn queue(redis: &TestRedis) -> Queue {
    common::queue_with_types(&redis.url(), QueueConfig::default(), HOST, &["a"]).await
}

/// The pub/sub connections Redis has, and how many channels each listens to.
fn pubsub_clients(redis: &TestRedis) -> Vec<u64> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut redis.conn())
        .unwrap();
    list.lines()
        .filter_map(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("sub="))
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

/// Drops every pub/sub connection; how many there were.
fn kill_pubsub(conn: &mut redis::Connection) -> i64 {
    redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(conn)
        .unwrap()
}

fn subscribers(redis: &TestRedis, channel: &str) -> i64 {
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query(&mut redis.conn())
        .unwrap();
    n
}

fn publish(redis: &TestRedis, channel: &str, message: &str) {
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(message)
        .query(&mut redis.conn())
        .unwrap();
}

async fn next(listener: &mut Listener) -> Notice {
    tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notice within 10 s")
}

async fn next_message(listener: &mut Listener) -> String {
    loop {
        if let Notice::Message(m) = next(listener).await {
            return m.as_str().to_owned();
        }
    }
}

#[tokio::test]
async fn every_listener_of_a_process_shares_one_connection() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut finished = Vec::new();
    for _ in 0..50 {
        finished.push(q.listen(Topic::Finished).await.unwrap());
    }
    // A clone of the handle (as the API, the worker and the CLI hold) shares it too.
    let mut wake = q.clone().listen(Topic::Wake).await.unwrap();
    let mut cancelled = q.listen(Topic::Cancelled).await.unwrap();
    assert_eq!(
        pubsub_clients(&redis),
        [3],
        "one connection, three channels"
    );

    publish(&redis, &q.finished_channel(), "j1 j2");
    publish(&redis, &q.wake_channel(), "a");
    publish(&redis, &q.cancelled_channel(), "j3");
    for listener in &mut finished {
        match next(listener).await {
            Notice::Message(m) => assert_eq!(m.ids().collect::<Vec<_>>(), ["j1", "j2"]),
            Notice::Missed => panic!("nothing was missed"),
        }
    }
    assert_eq!(
        next_message(&mut wake).await,
        "a",
        "each topic hears its own"
    );
    assert_eq!(next_message(&mut cancelled).await, "j3");
}

#[tokio::test]
async fn a_topic_is_unsubscribed_once_no_one_listens_and_subscribed_again_on_demand() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let channel = q.finished_channel();
    let mut wake = q.listen(Topic::Wake).await.unwrap();
    let first = q.listen(Topic::Finished).await.unwrap();
    assert_eq!(subscribers(&redis, &channel), 1);
    drop(first);
    // The next message finds no listener: the channel is dropped.
    publish(&redis, &channel, "j1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while subscribers(&redis, &channel) != 0 {
        assert!(tokio::time::Instant::now() < deadline, "still subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        pubsub_clients(&redis),
        [1],
        "the wake-ups still listened to"
    );

    let mut again = q.listen(Topic::Finished).await.unwrap();
    assert_eq!(
        subscribers(&redis, &channel),
        1,
        "confirmed before listen returns"
    );
    publish(&redis, &channel, "j2");
    assert_eq!(next_message(&mut again).await, "j2");
    publish(&redis, &q.wake_channel(), "a");
    assert_eq!(next_message(&mut wake).await, "a");
}

#[tokio::test]
async fn a_dropped_connection_is_made_again_and_listeners_are_told_to_read_again() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let mut finished = q.listen(Topic::Finished).await.unwrap();
    let mut wake = q.listen(Topic::Wake).await.unwrap();
    let killed = kill_pubsub(&mut redis.conn());
    assert_eq!(killed, 1);
    // Told at the drop, and again once listening anew.
    assert!(matches!(next(&mut finished).await, Notice::Missed));
    assert!(matches!(next(&mut wake).await, Notice::Missed));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pubsub_clients(&redis) != [2] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not listening again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publish(&redis, &q.finished_channel(), "j9");
    assert_eq!(next_message(&mut finished).await, "j9");
}

/// A job that ends while the notifier's connection is down is still
/// answered: the wait reads the states again when told it missed messages.
#[tokio::test]
async fn a_wait_survives_its_connection_dropping_while_the_job_ends() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let id = q
        .submit(NewJob::new("a", Payload::parse("1").unwrap()))
        .await
        .unwrap()
        .id;
    let waiting = {
        let q = q.clone();
        let id = id.clone();
        tokio::spawn(async move { q.wait_for_jobs(&[id], Duration::from_secs(30)).await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while subscribers(&redis, &q.finished_channel()) != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the wait never listened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // No new connection for now (the clients connected stay), then the
    // pub/sub connection cut: the job's end below is published to no one.
    let mut admin = redis.conn();
    let info: String = redis::cmd("INFO").arg("clients").query(&mut admin).unwrap();
    let connected: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    let set_max = |admin: &mut redis::Connection, n: u64| {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxclients")
            .arg(n)
            .query(admin)
            .unwrap();
    };
    set_max(&mut admin, connected - 1);
    kill_pubsub(&mut admin);
    let job = q
        .claim(HOST, &["a"], 1, Duration::from_secs(30))
        .await
        .unwrap()
        .pop()
        .unwrap();
    q.complete(&job, "\"done\"", "v1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let subscribed: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(q.finished_channel())
        .query(&mut admin)
        .unwrap();
    assert_eq!(subscribed.1, 0, "the end was published to no one");
    set_max(&mut admin, 10_000);
    let done = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the wait answers once it has read the states again")
        .unwrap()
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].result.as_deref(), Some("\"done\""));
}

/// A listener for given jobs hears only the finished messages that name
/// one of them (once each), keeps the channel subscribed on its own, is
/// told when messages may have been missed, and lets the channel go once
/// dropped.
#[tokio::test]
async fn a_listener_for_jobs_hears_only_the_messages_that_name_them() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let channel = q.finished_channel();
    let ids = ["a1".to_string(), "a2".to_string()];
    let mut mine = q.listen_for(&ids).await.unwrap();
    let mut other = q.listen_for(&["b1".to_string()]).await.unwrap();
    assert_eq!(
        subscribers(&redis, &channel),
        1,
        "subscribed for the job listeners alone"
    );
    publish(&redis, &channel, "x1 b1 x2");
    publish(&redis, &channel, "x3 a2 a1");
    assert_eq!(
        next_message(&mut mine).await,
        "x3 a2 a1",
        "the first named none of mine"
    );
    assert_eq!(next_message(&mut other).await, "x1 b1 x2");
    // Both of mine in one message: told once.
    publish(&redis, &channel, "a1");
    assert_eq!(next_message(&mut mine).await, "a1");

    let killed = kill_pubsub(&mut redis.conn());
    assert_eq!(killed, 1);
    assert!(matches!(next(&mut mine).await, Notice::Missed));
    assert!(matches!(next(&mut other).await, Notice::Missed));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while subscribers(&redis, &channel) != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not listening again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    drop(mine);
    drop(other);
    publish(&redis, &channel, "a1 b1");
    while subscribers(&redis, &channel) != 0 {
        assert!(tokio::time::Instant::now() < deadline, "still subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
