//! The LLM bill through the real host: every ask (the first answer and each
//! re-ask) recorded on its job with its tokens, cost and problem; a run's
//! total the sum of its calls at the configured prices; spend by provider,
//! model, job type, group and run in the ledger, `/metrics` and `deckhand
//! stats`; budgets that send calls to the fallback model or fail them.
//! Real Redis, real components; a scripted fake OpenAI-compatible server
//! stands in for the paid provider.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use deckhand::job::NewJob;
use deckhand::queue::{JobRecord, JobStatus, LlmUsage, Queue, QueueConfig};
use serde_json::{Value, json};

async fn queue(redis: &TestRedis) -> Queue {
    Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap()
}

/// A host serving the `llm` job type, one job at a time, with `bill` (TOML
/// under `[llm]`) added to its configuration.
async fn host(redis: &TestRedis, fake: &FakeLlm, bill: &str) -> (Host, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("deckhand.toml");
    let text = format!(
        "[llm]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"big\"\napi_key_env = \"\"\nmax_tokens = 10\ntimeout_secs = 5.0\n{bill}",
        fake.url()
    );
    std::fs::write(&config, text).unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(common::plugin_wasm("llm"), plugins.join("llm.wasm")).unwrap();
    let host = Host::start(
        "bill",
        &redis.url(),
        &plugins,
        &["--config", config.to_str().unwrap(), "--workers", "1"],
    );
    common::api::Api::new(&host).ready(&host).await;
    (host, dir)
}

fn job(prompt: &str, run: Option<&str>, group: Option<&str>, schema: bool) -> NewJob {
    let mut payload = json!({ "prompt": prompt });
    if schema {
        payload["schema"] = json!({
            "type": "object",
            "properties": { "name": { "type": "string" } },
            "required": ["name"],
        });
    }
    NewJob {
        max_retries: Some(0),
        group: group.map(String::from),
        metadata: run
            .map(|r| BTreeMap::from([("run".to_string(), r.to_string())]))
            .unwrap_or_default(),
        ..NewJob::new("llm", payload.into())
    }
}

async fn run_all(q: &Queue, host: &Host, jobs: Vec<NewJob>) -> Vec<JobRecord> {
    let mut ids = Vec::new();
    for j in jobs {
        ids.push(q.submit(j).await.unwrap().id);
    }
    q.wait_for_jobs(&ids, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", host.log()))
}

/// An answer with `content`, 11 prompt tokens (4 of them cached) and 7
/// completion tokens.
fn answer(content: &str) -> Answer {
    Answer::json(json!({
        "model": "fake-model",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content },
                      "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
                   "prompt_tokens_details": { "cached_tokens": 4 } },
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_bill_is_the_sum_of_its_asks_at_the_configured_prices() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let fake = FakeLlm::start().await;
    // A record marked `bad` gets an answer outside the schema first: the
    // host asks again with the problem, and the second answer is taken.
    fake.respond_with(|body| {
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        let first = messages.first().map(|m| m["content"].to_string());
        if messages.len() == 1 && first.is_some_and(|c| c.contains("bad")) {
            answer(r#"{"name": 5}"#)
        } else {
            answer(r#"{"name": "Pantry"}"#)
        }
    });
    let prices = "[llm.prices.big]\ninput = 2.0\noutput = 8.0\ncached_input = 1.0\n";
    let (host, _dir) = host(&redis, &fake, prices).await;
    let prompts = ["a", "bad b", "c", "bad d", "e", "f"];
    let jobs = prompts
        .iter()
        .map(|p| job(&format!("record {p}"), Some("r1"), Some("g1"), true))
        .collect();
    let done = run_all(&q, &host, jobs).await;
    // Each ask: 7 fresh prompt tokens at 2, 4 cached at 1, 7 out at 8.
    let per_ask = 7 * 2 + 4 + 7 * 8;
    let mut total = 0;
    for (j, p) in done.iter().zip(prompts) {
        assert_eq!(j.status, JobStatus::Completed, "{j:?}\n{}", host.log());
        let asks = if p.starts_with("bad") { 2 } else { 1 };
        assert_eq!(j.llm_asks.len(), asks, "{:?}", j.llm_asks);
        assert_eq!(j.llm_asks_total, asks as u64);
        assert_eq!(j.llm_cost, per_ask * asks as u64, "{:?}", j.llm_asks);
        assert_eq!(j.llm_route.as_deref(), Some("big"));
        for (k, a) in j.llm_asks.iter().enumerate() {
            assert_eq!(a["ask"], k + 1);
            assert_eq!(
                (a["model"].as_str(), a["lane"].as_str()),
                (Some("big"), Some("live"))
            );
            assert_eq!(
                (a["prompt_tokens"].as_u64(), a["cached_tokens"].as_u64()),
                (Some(11), Some(4))
            );
            assert_eq!(a["cost_micros"], per_ask);
            assert_eq!(a["http_attempts"], 1);
        }
        if asks == 2 {
            let problem = j.llm_asks[0]["problem"].as_str().unwrap_or("");
            assert!(
                problem.contains("does not satisfy the JSON Schema"),
                "{problem}"
            );
            assert!(j.llm_asks[1].get("problem").is_none(), "{:?}", j.llm_asks);
        }
        total += j.llm_cost;
    }
    assert_eq!(total, 8 * per_ask);
    // The run's total is the sum of its calls; so is every scope's.
    let run = q.ledger(Some("r1")).await.unwrap();
    assert_eq!(run.get("total"), Some(&total), "{run:?}");
    let ever = q.ledger(None).await.unwrap();
    for scope in [
        "total",
        "provider:openai",
        "model:big",
        "type:llm",
        "group:g1",
        "run:r1",
    ] {
        assert_eq!(ever.get(scope), Some(&total), "{scope}: {ever:?}");
    }
    // /metrics: the spend, and the share of calls that needed a re-ask.
    let metrics = reqwest::get(format!("{}/metrics", host.api))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = "{job_type=\"llm\",model=\"big\"}";
    for line in [
        format!("deckhand_llm_spend_micros_total{{scope=\"total\",name=\"\"}} {total}"),
        format!("deckhand_llm_structured_calls_total{labels} 6"),
        format!("deckhand_llm_reasked_calls_total{labels} 2"),
        format!("deckhand_llm_reasks_total{labels} 2"),
        format!("deckhand_llm_reask_share{labels} {}", 2.0 / 6.0),
    ] {
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
    // `deckhand stats` shows the same bill.
    let out = common::deckhand()
        .args(["stats", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    let stats: Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    assert_eq!(stats["llm_spend_micros"]["ever"]["group:g1"], total);
    assert_eq!(stats["llm_spend_micros"]["today"]["total"], total);
    assert_eq!(stats["llm_spend_micros"]["asks"][0]["reasks"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_sends_the_rest_of_the_run_to_the_fallback_and_the_records_say_so() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("ok"));
    // 18 tokens a call at 1,000 a million each: 18,000 micro-units (0.018).
    // Before it is sent, a call holds the most it may cost: its 60-character
    // prompt (15 tokens) and 10 out, 25,000. Ten calls start at once against
    // the run's budget of 0.1: four or five fit (five when the first ones
    // end before the fifth asks), the rest go to `small`, which is free.
    let bill = "[llm.prices.big]\ninput = 1000.0\noutput = 1000.0\n\
        [[llm.budgets]]\njob_type = \"llm\"\namount = 0.1\nper = \"run\"\nthen = \"fallback\"\n\
        [[llm.budgets]]\ngroup = \"capped\"\namount = 0.0\nper = \"day\"\nthen = \"fail\"\n\
        [[llm.budgets]]\ngroup = \"patient\"\namount = 0.045\nper = \"day\"\nthen = \"wait\"\n\
        [llm.fallback]\nmodel = \"small\"\n";
    let (host, _dir) = host(&redis, &fake, bill).await;
    let prompt = |i: usize| format!("{:<60}", format!("record {i}"));
    let jobs = (0..10)
        .map(|i| job(&prompt(i), Some("r2"), None, false))
        .collect();
    let done = run_all(&q, &host, jobs).await;
    let routes: Vec<&str> = done.iter().filter_map(|j| j.llm_route.as_deref()).collect();
    assert_eq!(routes.len(), 10, "{done:?}");
    let run = q.ledger(Some("r2")).await.unwrap();
    let big = routes.iter().filter(|r| **r == "big").count();
    assert!((4..=5).contains(&big), "{routes:?} {run:?}\n{}", host.log());
    let fell_back: Vec<&&str> = routes.iter().filter(|r| r.starts_with("small")).collect();
    assert_eq!(fell_back.len(), 10 - big, "{routes:?}");
    assert_eq!(
        *fell_back[0],
        "small (fallback: budget type=\"llm\" of 0.100000 per run is spent)"
    );
    // The provider saw those calls ask for `small`.
    let small = fake
        .seen()
        .iter()
        .filter(|s| s.body["model"] == "small")
        .count();
    assert_eq!(small, 10 - big);
    // The run never passed its budget, and its records add up to its total.
    let total = 18_000 * big as u64;
    assert_eq!(run.get("total"), Some(&total), "{run:?}");
    assert!(total <= 100_000);
    assert_eq!(
        run.get("type:llm"),
        Some(&total),
        "no hold is left behind: {run:?}"
    );
    for j in &done {
        let big = j.llm_route.as_deref() == Some("big");
        assert_eq!(j.llm_cost, if big { 18_000 } else { 0 }, "{:?}", j.llm_asks);
    }

    // Outside a run, a per-run budget holds nothing: the call goes to `big`.
    let free = run_all(&q, &host, vec![job(&prompt(99), None, None, false)]).await;
    assert_eq!(free[0].llm_route.as_deref(), Some("big"), "{free:?}");
    // A spent budget that fails: the job fails, naming it, and nothing was sent.
    let before = fake.calls();
    let capped = run_all(&q, &host, vec![job("capped", None, Some("capped"), false)]).await;
    assert_eq!(capped[0].status, JobStatus::Dead, "{capped:?}");
    let error = &capped[0].errors.last().unwrap().message;
    assert!(
        error.contains("budget group=\"capped\" of 0.000000 per day is spent"),
        "{error}"
    );
    assert_eq!(fake.calls(), before);

    // A budget that waits: the second call would pass 0.045 while the
    // first (slow) one holds its 25,000; it is sent once the first has
    // settled at 18,000 (18,000 + 25,000 fits).
    fake.respond_with(|body| {
        let slow = body.to_string().contains("slow");
        Answer::content("ok").after(Duration::from_millis(if slow { 1500 } else { 0 }))
    });
    let patient = |word: &str| job(&format!("{word:<60}"), None, Some("patient"), false);
    let first = q.submit(patient("slow")).await.unwrap().id;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = q.submit(patient("quick")).await.unwrap().id;
    let both = q
        .wait_for_jobs(&[first, second], Duration::from_secs(60))
        .await
        .unwrap();
    for j in &both {
        assert_eq!(
            (j.status, j.llm_cost),
            (JobStatus::Completed, 18_000),
            "{j:?}"
        );
    }
    let seen = fake.seen();
    let at = |word: &str| {
        seen.iter()
            .find(|s| s.body.to_string().contains(word))
            .map(|s| s.at)
    };
    let (slow_at, quick_at) = (at("slow").unwrap(), at("quick").unwrap());
    assert!(
        quick_at >= slow_at + Duration::from_millis(1400),
        "the second call waited for the first to settle: {:?}",
        quick_at - slow_at
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_goes_only_on_a_job_that_is_there_and_keeps_its_last_fifty_asks() {
    let redis = TestRedis::start();
    let q = common::queue_with_types(&redis.url(), QueueConfig::default(), "h", &["t"]).await;
    let ask = |n: u64| json!({ "ask": n, "model": "m", "cost_micros": 3 });
    let usage = |asks: Vec<Value>| LlmUsage {
        calls: asks.len() as u32,
        prompt_tokens: 10,
        completion_tokens: 5,
        cost_micros: 3 * asks.len() as u64,
        route: Some("m".into()),
        asks,
    };
    // No such job: nothing written (the script's EXISTS branch).
    let gone = q
        .add_usage("gone", "token", &usage(vec![ask(1)]))
        .await
        .unwrap();
    assert!(!gone);
    assert!(q.get("gone").await.unwrap().is_none());
    // A job: the counters add up, and of 60 asks the last 50 stay.
    let id = q
        .submit(NewJob::new("t", json!({}).into()))
        .await
        .unwrap()
        .id;
    let first: Vec<Value> = (1..=40).map(ask).collect();
    let then: Vec<Value> = (41..=60).map(ask).collect();
    assert!(q.add_usage(&id, "token", &usage(first)).await.unwrap());
    assert!(q.add_usage(&id, "token", &usage(then)).await.unwrap());
    let j = q.get(&id).await.unwrap().unwrap();
    assert_eq!((j.llm_calls, j.prompt_tokens, j.llm_cost), (60, 20, 180));
    assert_eq!((j.llm_asks.len(), j.llm_asks_total), (50, 60));
    assert_eq!(
        (
            j.llm_asks[0]["ask"].as_u64(),
            j.llm_asks[49]["ask"].as_u64()
        ),
        (Some(11), Some(60))
    );
    // No asks: the counters only.
    assert!(q.add_usage(&id, "token", &usage(vec![])).await.unwrap());
    assert_eq!(q.get(&id).await.unwrap().unwrap().llm_asks_total, 60);
}

/// A call dropped mid-way (its job cancelled while the provider is still
/// answering) gives back what it held on the budgets: the next call is not
/// refused for money that was never spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_gives_its_budget_hold_back() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("too late").after(Duration::from_secs(60)));
    // A call holds 25,000 (15 tokens in, 10 out, at 1,000 a million each)
    // of the group's 30,000 a day: two at once do not fit.
    let bill = "[llm.prices.big]\ninput = 1000.0\noutput = 1000.0\n\
        [[llm.budgets]]\ngroup = \"g\"\namount = 0.03\nper = \"day\"\nthen = \"fail\"\n";
    let (host, _dir) = host(&redis, &fake, bill).await;
    let stuck = job(&format!("{:<60}", "stuck"), None, Some("g"), false);
    let id = q.submit(stuck).await.unwrap().id;
    let held = || async { q.ledger_today().await.unwrap().get("group:g").copied() };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while fake.calls() == 0 {
        assert!(std::time::Instant::now() < deadline, "{}", host.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(held().await, Some(25_000));

    q.cancel(&id).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while held().await != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the hold stayed: {:?}\n{}",
            held().await,
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The budget is whole again: the next call is sent and costs 18,000.
    fake.always(Answer::content("ok"));
    let done = run_all(
        &q,
        &host,
        vec![job(&format!("{:<60}", "next"), None, Some("g"), false)],
    )
    .await;
    assert_eq!(
        (done[0].status, done[0].llm_cost),
        (JobStatus::Completed, 18_000),
        "{done:?}"
    );
    assert_eq!(held().await, Some(18_000));
}
