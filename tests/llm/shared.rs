//! A provider that takes one request at a time gets one at a time from every host together.

use super::*;

/// A local server answers one request at a time: every host together sends
/// it one at a time (llamacpp's default), so no request waits inside the
/// server and times out while the server computes an abandoned one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_at_a_time_provider_gets_one_request_at_a_time_from_all_hosts() {
    let redis = TestRedis::start();
    let queue = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let fake = FakeLlm::start().await;
    let slow = Duration::from_millis(300);
    fake.always(Answer::content("one at a time").after(slow));
    let host_a = LlmClient::new(config(&fake, Provider::Llamacpp), Some(queue.clone())).unwrap();
    let host_b = LlmClient::new(config(&fake, Provider::Llamacpp), Some(queue.clone())).unwrap();
    assert_eq!(host_a.max_in_flight(), 1);
    let req = request(false);
    let (a1, b1, a2, b2) = tokio::join!(
        host_a.generate(&req),
        host_b.generate(&req),
        host_a.generate(&req),
        host_b.generate(&req)
    );
    for r in [a1, b1, a2, b2] {
        assert_eq!(r.unwrap().content, "one at a time");
    }
    let mut arrivals: Vec<_> = fake.seen().iter().map(|s| s.at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 4);
    for pair in arrivals.windows(2) {
        assert!(
            pair[1] - pair[0] >= slow - Duration::from_millis(20),
            "a request arrived while another was being answered: {:?} apart",
            pair[1] - pair[0]
        );
    }
    let mut conn = redis.conn();
    let held: i64 = ::redis::cmd("ZCARD")
        .arg("{deckhand}:inflight:llamacpp")
        .query(&mut conn)
        .unwrap();
    assert_eq!(held, 0, "every slot given back");

    // A hosted provider has no limit by default: all four at once.
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("at once").after(slow));
    let hosted = LlmClient::new(config(&fake, Provider::Openai), Some(queue.clone())).unwrap();
    assert_eq!(hosted.max_in_flight(), 0);
    let (r1, r2, r3, r4) = tokio::join!(
        hosted.generate(&req),
        hosted.generate(&req),
        hosted.generate(&req),
        hosted.generate(&req)
    );
    for r in [r1, r2, r3, r4] {
        r.unwrap();
    }
    let mut arrivals: Vec<_> = fake.seen().iter().map(|s| s.at).collect();
    arrivals.sort();
    assert!(arrivals[3] - arrivals[0] < slow, "no limit: sent together");

    // A slot held by a host that died frees itself when its hold ends.
    let taken = queue
        .take_slot("llamacpp", 1, "dead-host", Duration::from_millis(400))
        .await
        .unwrap();
    assert_eq!(taken, None, "taken");
    let wait = queue
        .take_slot("llamacpp", 1, "other", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        wait.is_some_and(|w| w <= Duration::from_millis(400)),
        "{wait:?}"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let taken = queue
        .take_slot("llamacpp", 1, "other", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(taken, None, "the dead host's slot expired");
}
