//! An LLM provider's limits kept by every host together: a per-minute
//! token budget, the provider's own rate-limit headers, a request that
//! timed out keeping its slot, and a job's wait for a slot not counted in
//! its timeout. Real Redis; a scripted fake OpenAI-compatible server stands
//! in for the provider.

use crate::common;

use std::time::Duration;

use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use deckhand::job::NewJob;
use deckhand::llm::{LlmClient, LlmConfig, Provider};
use deckhand::queue::{JobStatus, Queue, QueueConfig};
use deckhand::runtime::{LlmMessage, LlmRequest};
use serde_json::json;

fn config(fake: &FakeLlm, provider: Provider) -> LlmConfig {
    LlmConfig {
        provider,
        base_url: fake.url(),
        model: "test-model".into(),
        api_key_env: String::new(),
        timeout_secs: 5.0,
        ..LlmConfig::default()
    }
}

fn request() -> LlmRequest {
    LlmRequest {
        messages: vec![LlmMessage {
            role: "user".into(),
            content: "Extract the pantry.".into(),
        }],
        model: None,
        temperature: Some(0.0),
        max_tokens: Some(20),
        response_schema: None,
    }
}

/// An answer that reports `tokens` used.
fn costing(tokens: u64) -> Answer {
    Answer::json(json!({
        "model": "fake-model",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "ok" },
                      "finish_reason": "stop" }],
        "usage": { "prompt_tokens": tokens - 100, "completion_tokens": 100, "total_tokens": tokens },
    }))
}

async fn queue(redis: &TestRedis) -> Queue {
    Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_holds_across_hosts_against_the_usage_the_provider_reports() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let fake = FakeLlm::start().await;
    fake.always(costing(1000));
    // 30,000 tokens a minute: 500 a second, and a full bucket of 30 calls.
    let limited = LlmConfig {
        tokens_per_minute: Some(30_000),
        ..config(&fake, Provider::Openai)
    };
    let host_a = LlmClient::new(limited.clone(), Some(q.clone())).unwrap();
    let host_b = LlmClient::new(limited, Some(q.clone())).unwrap();
    let req = request();
    let run = |client: LlmClient| {
        let req = req.clone();
        async move {
            for _ in 0..17 {
                client.generate(&req).await.unwrap();
            }
        }
    };
    tokio::join!(run(host_a), run(host_b));
    let mut arrivals: Vec<_> = fake.seen().iter().map(|s| s.at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 34);
    // Before the first answers teach the average, each host's first call
    // takes only its estimate: two calls' worth of slack.
    for (k, at) in arrivals.iter().enumerate() {
        let spent_before = 1000.0 * k as f64;
        let allowed = 30_000.0 + 500.0 * (*at - arrivals[0]).as_secs_f64() + 2000.0;
        assert!(
            spent_before <= allowed,
            "call {k} at +{:?} after {spent_before} tokens (allowed {allowed})",
            *at - arrivals[0]
        );
    }
    assert!(
        arrivals[33] - arrivals[0] >= Duration::from_millis(1900),
        "the budget made the last calls wait: {:?}",
        arrivals[33] - arrivals[0]
    );
    // The bucket is spent: the next call waits about 2 s for 1,000 tokens,
    // and that wait is clocked as the job's time waited (which its timeout
    // does not count), not as its own.
    let host_c = LlmClient::new(
        LlmConfig {
            tokens_per_minute: Some(30_000),
            ..config(&fake, Provider::Openai)
        },
        Some(q.clone()),
    )
    .unwrap();
    let usage = deckhand::llm::Usage::default();
    let started = std::time::Instant::now();
    host_c.generate_metered(&req, &usage).await.unwrap();
    let waited = usage.waited.total();
    assert!(
        waited >= Duration::from_millis(500) && waited <= started.elapsed(),
        "waited {waited:?} of {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_reports_its_limit_spent_holds_every_host_until_it_resets() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let fake = FakeLlm::start().await;
    fake.script([costing(500)
        .header("x-ratelimit-remaining-tokens", "0")
        .header("x-ratelimit-reset-tokens", "1.5s")]);
    fake.always(costing(500));
    let host_a = LlmClient::new(config(&fake, Provider::Openai), Some(q.clone())).unwrap();
    let host_b = LlmClient::new(config(&fake, Provider::Openai), Some(q.clone())).unwrap();
    host_a.generate(&request()).await.unwrap();
    host_b.generate(&request()).await.unwrap();
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "no 429 and no retry");
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(1450),
        "the other host waited for the reset: {:?}",
        seen[1].at - seen[0].at
    );
}

/// A local server keeps computing a request its client gave up on: the
/// slot stays taken for another timeout, so the retry does not queue
/// behind the abandoned request (and time out in turn).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_keeps_its_slot_while_the_server_may_still_work_on_it() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let fake = FakeLlm::start().await;
    fake.script([Answer::content("late").after(Duration::from_secs(3))]);
    fake.always(Answer::content("in time"));
    let client = LlmClient::new(
        LlmConfig {
            timeout_secs: 1.0,
            max_http_attempts: 2,
            ..config(&fake, Provider::Llamacpp)
        },
        Some(q),
    )
    .unwrap();
    assert_eq!(
        client.generate(&request()).await.unwrap().content,
        "in time"
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    // 1 s to time out, then the slot is held 1 s more (a retry's own
    // backoff alone is at most 0.75 s).
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(1950),
        "re-sent {:?} after the first",
        seen[1].at - seen[0].at
    );
}

/// `slot_hold.lua`'s branches: a held slot is kept longer; a slot already
/// gone is not brought back.
#[tokio::test]
async fn holding_a_slot_extends_it_and_never_revives_one_that_is_gone() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    assert_eq!(
        q.take_slot("p", 1, "mine", Duration::from_millis(300))
            .await
            .unwrap(),
        None
    );
    q.hold_slot("p", "mine", Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let wait = q
        .take_slot("p", 1, "other", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        wait.is_some_and(|w| w > Duration::from_secs(50)),
        "still held: {wait:?}"
    );
    q.give_slot("p", "mine").await.unwrap();
    q.hold_slot("p", "mine", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        q.take_slot("p", 1, "other", Duration::from_secs(5))
            .await
            .unwrap(),
        None,
        "a slot given back stays given back"
    );
}

/// A job waiting its turn at a server that answers one request at a time
/// is not timed out by the wait: its timeout counts its own time. Four jobs
/// start at once with a 2.5 s timeout; each answer takes 1 s, one at a
/// time, so the fourth waits about 3 s for the slot. Before, the wait
/// counted and it died of a timeout; now all four complete on their first
/// attempt. A job whose own answer takes longer than its timeout still
/// times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_waiting_its_turn_at_the_provider_is_not_timed_out_by_the_wait() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    let answer = Duration::from_millis(1000);
    fake.always(Answer::content("ok").after(answer));
    let dir = common::plugin_dir(&["llm"]);
    let url = fake.url();
    let host = Host::start(
        "h",
        &redis.url(),
        dir.path(),
        &[
            "--llm-provider",
            "llamacpp",
            "--llm-base-url",
            &url,
            "--llm-model",
            "fake",
            "--batch-size",
            "4",
            "--job-type-limits",
            "llm:timeout_ms=2500",
        ],
    );
    common::api::Api::new(&host).ready(&host).await;
    let q = queue(&redis).await;
    // Distinct prompts: the content store would answer a repeated one.
    let job = |prompt: String| NewJob {
        max_retries: Some(0),
        ..NewJob::new("llm", json!({ "prompt": prompt }).into())
    };
    let reqs = (0..4).map(|i| job(format!("pantry {i}"))).collect();
    let ids: Vec<String> = q
        .submit_batch(reqs)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let jobs = q
        .wait_for_jobs(&ids, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", host.log()));
    for j in &jobs {
        assert_eq!(j.status, JobStatus::Completed, "{j:?}\n{}", host.log());
        assert_eq!(j.attempts, 1, "{j:?}");
    }
    // They did queue: the server saw the four one at a time, the last
    // sent about 3 s after the first, past the timeout.
    let mut arrivals: Vec<_> = fake.seen().iter().map(|s| s.at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), 4);
    assert!(
        arrivals[3] - arrivals[0] >= Duration::from_millis(2500),
        "the last request was sent {:?} after the first",
        arrivals[3] - arrivals[0]
    );

    // The job's own time still counts: an answer slower than the timeout.
    fake.always(Answer::content("late").after(Duration::from_millis(4000)));
    let slow = q.submit(job("pantry slow".into())).await.unwrap().id;
    let slow = q
        .wait_for_jobs(&[slow], Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(slow.status, JobStatus::Dead, "{slow:?}");
    assert_eq!(slow.errors.last().map(|e| e.kind.as_str()), Some("timeout"));
    // The call the timeout cut short was sent, and counts on the job: it
    // is written in the background once the call is dropped.
    let id = slow.id.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let slow = loop {
        let slow = q.get(&id).await.unwrap().unwrap();
        if slow.llm_calls > 0 || std::time::Instant::now() > deadline {
            break slow;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(slow.llm_calls, 1, "{slow:?}");
}
