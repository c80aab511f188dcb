//! The LLM batch lane through the real host: deferrable calls gathered into
//! one provider batch while their jobs wait holding no slot, answers back
//! to the right jobs by `custom_id` at the batch price, a host killed and a
//! Redis restarted mid-batch losing and doubling nothing, and an expired
//! batch, failed items and an answer that breaks the schema falling back to
//! live calls. Real Redis, real components; a fake OpenAI-compatible server
//! with the Batch API stands in for the paid provider.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use common::fake_batch::{FakeBatch, Lane};
use common::host::Host;
use common::redis::TestRedis;
use deckhand::job::NewJob;
use deckhand::queue::{JobRecord, JobStatus, Queue, QueueConfig};
use serde_json::{Value, json};

/// The prompt a request carries.
fn prompt_of(body: &Value) -> String {
    body["messages"][0]["content"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Answers `{"name": <prompt>}`; a batch answer to a prompt saying
/// `bad-batch` breaks the schema (a name must be a string).
async fn fake() -> FakeBatch {
    FakeBatch::start(|body, lane| {
        let prompt = prompt_of(body);
        if lane == Lane::Batch && prompt.contains("bad-batch") {
            return json!({ "name": 5 }).to_string();
        }
        json!({ "name": prompt }).to_string()
    })
    .await
}

fn start_host(redis: &TestRedis, fake: &FakeBatch, dir: &tempfile::TempDir, id: &str) -> Host {
    let config = dir.path().join("deckhand.toml");
    let text = format!(
        "[llm]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"big\"\napi_key_env = \"\"\n\
         max_tokens = 10\ntimeout_secs = 5.0\n\
         [llm.prices.big]\ninput = 2.0\noutput = 8.0\n\
         [llm.batch]\ngather_ms = 1500\npoll_ms = 100\n",
        fake.url()
    );
    std::fs::write(&config, text).unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(common::plugin_wasm("llm"), plugins.join("llm.wasm")).unwrap();
    Host::start(
        id,
        &redis.url(),
        &plugins,
        &[
            "--config",
            config.to_str().unwrap(),
            "--job-type-limits",
            "llm:max_running=1",
        ],
    )
}

fn job(prompt: &str, batch: bool) -> NewJob {
    let mut metadata = BTreeMap::from([("run".to_string(), "b1".to_string())]);
    if batch {
        metadata.insert("llm".into(), "batch".into());
    }
    let schema = json!({ "type": "object", "properties": { "name": { "type": "string" } },
                         "required": ["name"] });
    NewJob {
        max_retries: Some(0),
        metadata,
        ..NewJob::new("llm", json!({ "prompt": prompt, "schema": schema }).into())
    }
}

async fn submit(q: &Queue, jobs: Vec<NewJob>) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in jobs.chunks(100) {
        let done = q.submit_batch(chunk.to_vec()).await.unwrap();
        ids.extend(done.into_iter().map(|s| s.id));
    }
    ids
}

async fn until(what: &str, host: &Host, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each job completed with the answer to its own prompt.
fn answered_right(jobs: &[JobRecord], prompts: &[String], host: &Host) {
    for (j, p) in jobs.iter().zip(prompts) {
        assert_eq!(j.status, JobStatus::Completed, "{j:?}\n{}", host.log());
        let result: Value = serde_json::from_str(j.result.as_deref().unwrap_or("")).unwrap();
        assert_eq!(result["content"]["name"], *p, "{j:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_deferrable_calls_become_one_batch_and_their_jobs_hold_no_slot() {
    let redis = TestRedis::start();
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let fake = fake().await;
    fake.hold(true);
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(&redis, &fake, &dir, "lane");
    common::api::Api::new(&host).ready(&host).await;
    let prompts: Vec<String> = (0..1000).map(|i| format!("record {i}")).collect();
    let ids = submit(&q, prompts.iter().map(|p| job(p, true)).collect()).await;
    // One at a time (a cap of 1), each defers and waits holding nothing.
    until("the thousand jobs wait on the batch", &host, async || {
        q.figures().await.unwrap().suspended == 1000
    })
    .await;
    until("one batch of all of them", &host, async || {
        fake.batches().len() == 1
    })
    .await;
    // The cap of 1 is free: other work of the type runs while they wait.
    let live = submit(&q, vec![job("now", false)]).await;
    let now = q
        .wait_for_jobs(&live, Duration::from_secs(60))
        .await
        .unwrap();
    answered_right(&now, &["now".to_string()], &host);
    assert_eq!(fake.live().len(), 1, "only the live job asked live");
    fake.hold(false);
    let jobs = q
        .wait_for_jobs(&ids, Duration::from_secs(120))
        .await
        .unwrap();
    answered_right(&jobs, &prompts, &host);
    let batches = fake.batches();
    assert_eq!(batches.len(), 1);
    let sent: HashSet<&String> = batches[0].iter().collect();
    assert_eq!(
        (batches[0].len(), sent.len()),
        (1000, 1000),
        "each call once"
    );
    assert_eq!(fake.live().len(), 1, "no call went live");
    // At the batch price: (11 * 2 + 7 * 8) / 2 = 39 a call, on its job.
    for j in &jobs {
        assert_eq!(
            (j.llm_cost, j.llm_route.as_deref()),
            (39, Some("big (batch)")),
            "{j:?}"
        );
        assert_eq!(j.llm_asks[0]["lane"], "batch");
    }
    let run = q.ledger(Some("b1")).await.unwrap();
    assert_eq!(run.get("total"), Some(&(1000 * 39 + 78)), "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_and_redis_restarted_mid_batch_lose_and_double_nothing() {
    let mut redis = TestRedis::start();
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let fake = fake().await;
    fake.hold(true);
    let dir = tempfile::tempdir().unwrap();
    let mut host = start_host(&redis, &fake, &dir, "first");
    common::api::Api::new(&host).ready(&host).await;
    let prompts: Vec<String> = (0..20).map(|i| format!("kept {i}")).collect();
    let ids = submit(&q, prompts.iter().map(|p| job(p, true)).collect()).await;
    until("a batch at the provider", &host, async || {
        fake.batches().len() == 1
    })
    .await;
    // Recorded in Redis too (the host polls it), then the host dies.
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.kill9();
    // As if it had died between making the batch and writing its id down:
    // the next host must find it by its local id, not make a second.
    let mut conn = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let batches: Vec<String> = redis::cmd("SMEMBERS")
        .arg("{deckhand}:llmb:batches")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(batches.len(), 1);
    let _: i64 = redis::cmd("HDEL")
        .arg(format!("{{deckhand}}:llmb:batch:{}", batches[0]))
        .arg("provider_id")
        .query_async(&mut conn)
        .await
        .unwrap();
    redis.restart();
    let host = start_host(&redis, &fake, &dir, "second");
    fake.hold(false);
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let jobs = q
        .wait_for_jobs(&ids, Duration::from_secs(120))
        .await
        .unwrap();
    answered_right(&jobs, &prompts, &host);
    assert_eq!(
        (fake.batches().len(), fake.uploads()),
        (1, 1),
        "{}",
        host.log()
    );
    assert_eq!(fake.batches()[0].len(), 20);
    assert!(fake.live().is_empty(), "no call went live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_batch_failed_items_and_a_broken_answer_go_live() {
    let redis = TestRedis::start();
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let fake = fake().await;
    fake.expire();
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(&redis, &fake, &dir, "expiry");
    common::api::Api::new(&host).ready(&host).await;
    // The batch answers the first half of its lines; of those, one is
    // refused (`fail-me`) and one breaks the schema (`bad-batch`).
    let mut prompts: Vec<String> = (0..8).map(|i| format!("plain {i}")).collect();
    prompts[0] = "fail-me 0".into();
    prompts[1] = "bad-batch 1".into();
    let ids = submit(&q, prompts.iter().map(|p| job(p, true)).collect()).await;
    let jobs = q
        .wait_for_jobs(&ids, Duration::from_secs(120))
        .await
        .unwrap();
    answered_right(&jobs, &prompts, &host);
    assert_eq!(fake.batches().len(), 1);
    // The batch answered the first half of its lines, in its own order.
    let order: Vec<String> = fake.batch_prompts(0);
    let answered: HashSet<&String> = order[..order.len() / 2].iter().collect();
    let live: HashSet<String> = fake.live().iter().map(prompt_of).collect();
    for (j, p) in jobs.iter().zip(&prompts) {
        let route = j.llm_route.as_deref().unwrap_or("");
        let why = match (answered.contains(p), p.split(' ').next()) {
            (false, _) => "the batch ended expired without it",
            (true, Some("fail-me")) => "the batch failed the call: fail-me was refused",
            (true, Some("bad-batch")) => "the batch's answer broke the schema",
            (true, _) => {
                assert_eq!(route, "big (batch)", "{p}");
                assert!(!live.contains(p), "{p} was asked twice");
                continue;
            }
        };
        assert!(
            route.starts_with(&format!("big (live: {why}")),
            "{p}: {route}"
        );
        assert!(live.contains(p), "{p} went live");
    }
}
