//! Prompt cancellation of a running job: the host that runs it is told
//! (pub/sub) and stops it at once, a job blocked in an LLM call included;
//! no late outcome is recorded, and the host goes on working.

use crate::common;

use std::time::{Duration, Instant};

use common::api::Api;
use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::queue::{JobStatus, Queue, QueueConfig};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_a_job_blocked_in_an_llm_call_at_once() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("too late").after(Duration::from_secs(60)));
    let dir = plugin_dir(&["llm"]);
    // A long lease: the renewal that used to carry a cancel to the host
    // comes only every 20 s.
    let host = Host::start(
        "cancel",
        &redis.url(),
        dir.path(),
        &[
            "--llm-provider",
            "openai",
            "--llm-base-url",
            &fake.url(),
            "--lease-ms",
            "60000",
        ],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();

    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "llm", "id": "stuck", "payload": { "prompt": "hi" } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.calls() == 0 {
        assert!(Instant::now() < deadline, "the job never called the LLM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        q.get("stuck").await.unwrap().unwrap().status,
        JobStatus::Running
    );

    let asked = Instant::now();
    let (status, body) = api.post("/v1/jobs/stuck/cancel", json!({})).await;
    assert_eq!(status, 200, "{body}");
    // The host stops it: its instance (and the LLM request it waits on)
    // dropped, its running count back to 0, long before any renewal.
    let deadline = asked + Duration::from_secs(5);
    loop {
        let (_, health) = api.get("/health").await;
        let log = host.log();
        if health["running_jobs"] == 0 && log.contains("cancelled while running") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still running 5 s after the cancel: {health}\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("stopped {:?} after the cancel", asked.elapsed());
    let job = q.get("stuck").await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert!(job.result.is_none(), "no late outcome");
    assert_eq!(job.errors.len(), 1, "{:?}", job.errors);
    assert_eq!(job.errors[0].kind, "cancelled");

    // The host goes on: the next job runs.
    fake.always(Answer::content("on time"));
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "llm", "id": "next", "payload": { "prompt": "again" } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let done = api.wait(&["next"]).await;
    assert_eq!(done[0]["status"], "completed", "{}", done[0]);
    assert_eq!(fake.calls(), 2);
}
