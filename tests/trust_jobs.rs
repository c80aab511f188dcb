//! The third round of attacks, as a job, a plugin and a provider make
//! them: a job's schema reaches no file or network; a provider's numbers
//! cannot panic the host, its bodies are bounded and never echo the key, and
//! the payload does not pick the model; a submitter cannot name another
//! payload's stored result; no text from outside forges a log line. Real
//! Redis, the real binary and real components; a fake provider.

use crate::common;

use std::time::Duration;

use common::api::Api;
use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

/// A host with the `llm` and `chaos` plugins against `fake`, configured by
/// `toml` (an `[llm]` section at least) and `env`.
fn llm_host(
    id: &str,
    redis: &TestRedis,
    dir: &tempfile::TempDir,
    toml: &str,
    env: &[(&str, &str)],
) -> Host {
    let config = dir.path().join(format!("{id}.toml"));
    std::fs::write(&config, toml).unwrap();
    let config = config.display().to_string();
    Host::start_with_env(id, &redis.url(), dir.path(), &["--config", &config], env)
}

fn llm_toml(fake: &FakeLlm) -> String {
    format!(
        "[llm]\nprovider = \"openai-compatible\"\nbase_url = \"{}\"\nmodel = \"m\"\nmax_http_attempts = 1\nmax_schema_attempts = 1\n",
        fake.url()
    )
}

/// Submits `job_type` with `payload` (no retries) and waits for its end.
async fn run_once(api: &Api, job_type: &str, payload: Value) -> Value {
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": job_type, "payload": payload, "max_retries": 0 }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    api.wait(&[id.as_str()]).await.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_reaches_no_file_and_blocks_no_thread() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("{\"key\": \"x\"}"));
    let dir = plugin_dir(&["llm"]);
    let secret = dir.path().join("secret.json");
    std::fs::write(&secret, r#"{"key": {"const": "the-secret-value"}}"#).unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let host = llm_host("refs", &redis, &dir, &llm_toml(&fake), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;

    for target in [
        format!("file://{}#/key", secret.display()),
        format!("file://{}", fifo.display()),
        "file:///dev/zero".to_string(),
        "http://127.0.0.1:9/schema.json".to_string(),
    ] {
        let job = tokio::time::timeout(
            Duration::from_secs(30),
            run_once(
                &api,
                "llm",
                json!({ "prompt": "x", "schema": { "$ref": target } }),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("{target}: the job did not end:\n{}", host.log()));
        assert_eq!(job["status"], "dead", "{target}: {job}");
        let error = job["errors"].to_string();
        assert!(error.contains("external references"), "{target}: {error}");
        assert!(!error.contains("the-secret-value"), "{error}");
        let (status, _) = api.get("/health").await;
        assert_eq!(status, 200, "{target}: the host still answers");
    }
    assert_eq!(fake.calls(), 0, "no schema that fails to compile is sent");
    assert!(!host.log().contains("the-secret-value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_numbers_and_bodies_cannot_hurt_the_host() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    let key = "sk-test-0123456789abcdefSECRET";
    let dir = plugin_dir(&["llm", "chaos"]);
    let toml = format!("{}allowed_models = [\"m-small\"]\n", llm_toml(&fake));
    let host = llm_host(
        "provider",
        &redis,
        &dir,
        &toml,
        &[("DECKHAND_LLM_API_KEY", key)],
    );
    let api = Api::new(&host);
    api.ready(&host).await;

    // Numbers no Duration holds, on a success and on a failure: clamped.
    fake.script([
        Answer::content("hi")
            .header("x-ratelimit-reset-requests", "1e20")
            .header("x-ratelimit-reset-tokens", "1e300s"),
        Answer::status(500, "{}").header("retry-after", "1e20"),
    ]);
    let ok = run_once(&api, "chaos.llm", json!({ "prompt": "a" })).await;
    assert_eq!(ok["status"], "completed", "{ok}\n{}", host.log());
    let failed = run_once(&api, "chaos.llm", json!({ "prompt": "b" })).await;
    assert_eq!(failed["status"], "dead", "{failed}");

    // A provider echoing the key, whole or in part: never repeated.
    fake.script([
        Answer::status(401, &format!("{{\"error\": \"bad key {key}\"}}")),
        Answer::status(
            400,
            &format!("{{\"error\": \"key {} is odd\"}}", &key[..12]),
        ),
    ]);
    for prompt in ["c", "d"] {
        let job = run_once(&api, "chaos.llm", json!({ "prompt": prompt })).await;
        assert_eq!(job["status"], "dead", "{job}");
        assert!(!job.to_string().contains(&key[..12]), "{job}");
    }

    // An answer past the body bound is refused, not held.
    fake.script([Answer::status(200, &" ".repeat(17 * 1024 * 1024))]);
    let big = run_once(&api, "chaos.llm", json!({ "prompt": "e" })).await;
    assert_eq!(big["status"], "dead", "{big}");
    assert!(big["errors"].to_string().contains("longer than"), "{big}");

    // The payload names a model the operator did not allow: never sent.
    let calls = fake.calls();
    let job = run_once(&api, "llm", json!({ "prompt": "x", "model": "gpt-pricey" })).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert!(job["errors"].to_string().contains("not allowed"), "{job}");
    assert_eq!(fake.calls(), calls, "no request for a model not allowed");
    fake.script([Answer::content("small")]);
    let job = run_once(&api, "llm", json!({ "prompt": "x", "model": "m-small" })).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(fake.seen().last().unwrap().body["model"], "m-small");

    let log = host.log();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains(&key[..12]), "the key reached the log");
    let (_, health) = api.get("/health").await;
    assert_eq!(
        health["running_jobs"], 0,
        "nothing stranded in flight: {health}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitter_cannot_name_another_payloads_result() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    // Each answer names the prompt it was asked.
    fake.respond_with(|body| {
        let asked = body["messages"].to_string();
        let who = if asked.contains("victim") {
            "victim"
        } else {
            "attacker"
        };
        Answer::content(&format!("answer to {who}"))
    });
    let dir = plugin_dir(&["llm"]);
    let host = llm_host("poison", &redis, &dir, &llm_toml(&fake), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;

    let victim = json!({ "prompt": "victim" });
    // The hash the host once took the submitter's word for.
    let victims_hash = deckhand::content::content_hash(&victim.to_string(), None).unwrap();
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "llm", "payload": { "prompt": "attacker" },
                    "metadata": { "content_hash": victims_hash } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let attacker = body["id"].as_str().unwrap().to_string();
    api.wait(&[attacker.as_str()]).await;

    let job = run_once(&api, "llm", victim).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_ne!(job["cache_hit"], true, "{job}");
    assert!(
        job["result"].to_string().contains("answer to victim"),
        "the victim got its own answer: {job}"
    );
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_from_outside_forges_no_log_line() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let host = Host::start("forge", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let forged = "\n2099-01-01T00:00:00.000000Z ERROR deckhand: forged by a plugin\r\n";
    let job = run_once(
        &api,
        "chaos.fail",
        json!({ "error": "fail", "say": forged }),
    )
    .await;
    assert_eq!(job["status"], "dead", "{job}");
    host.wait_for_log("forged by a plugin");
    let log = host.log();
    assert!(
        !log.lines().any(|l| l.starts_with("2099-01-01")),
        "a plugin's text began a line of its own:\n{log}"
    );
    assert!(log.contains("\\n2099-01-01"), "{log}");
}

/// A plugin reads its own family's jobs by id, never another submitter's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reads_only_its_own_familys_jobs() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos", "echo"]);
    let host = Host::start("family", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "echo", "payload": { "secret": "someone else's" } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let stranger = body["id"].as_str().unwrap().to_string();
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.lookup", "id": "looker",
                    "payload": { "ids": [stranger, "looker"] } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let job = api.wait(&["looker"]).await.remove(0);
    assert_eq!(job["status"], "completed", "{job}");
    let result: Value = serde_json::from_str(job["result"].as_str().unwrap()).unwrap();
    assert_eq!(result["found"], json!([null, "looker"]), "{result}");
}

/// Jobs of a run that are still to finish, by the queue's counters.
async fn unfinished(q: &deckhand::queue::Queue) -> i64 {
    let s = q.stats().await.unwrap();
    let n = |k: &str| s.get(k).copied().unwrap_or(0);
    n("submitted") - n("completed") - n("dead") - n("cancelled")
}

/// A fan-out of fan-outs is bounded as a whole: past `queue.max_run_jobs`
/// jobs below a top-level job, every submission of its run is refused with
/// an error naming the setting; a run whose top-level record is gone adds
/// to no count and leaves no stray key behind (submit_job.lua's EXISTS
/// branch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_makes_at_most_max_run_jobs() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos", "echo"]);
    let host = Host::start_with_env(
        "run",
        &redis.url(),
        dir.path(),
        &["--backoff-factor", "0"],
        &[("DECKHAND_QUEUE_MAX_RUN_JOBS", "10")],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let q = deckhand::queue::Queue::connect(&redis.url(), Default::default())
        .await
        .unwrap();
    // 4 fan-outs of 4 fan-outs of 4 echoes would be 84 jobs below the top.
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.fanout", "id": "top",
                    "payload": { "children": 4, "depth": 2 }, "max_retries": 0 }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    api.wait(&["top"]).await;
    for _ in 0..600 {
        if unfinished(&q).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = q.stats().await.unwrap();
    assert_eq!(
        stats["submitted"], 11,
        "the top and ten below it: {stats:?}"
    );
    let dead = q.dlq_list(0, 100).await.unwrap();
    assert!(!dead.is_empty(), "a fan-out past the bound fails");
    let why: Vec<&str> = dead[0].errors.iter().map(|e| e.message.as_str()).collect();
    assert!(why.iter().any(|m| m.contains("max_run_jobs")), "{why:?}");

    // The top's record gone before its run goes on: nothing is counted on
    // it, and no key of it comes back.
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "chaos.fanout", "id": "gone",
                    "payload": { "children": 2, "depth": 1, "later_ms": 1500 } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    api.wait(&["gone"]).await;
    let mut conn = redis.conn();
    let _: () = ::redis::cmd("DEL")
        .arg("{deckhand}:job:gone")
        .query(&mut conn)
        .unwrap();
    for _ in 0..600 {
        if unfinished(&q).await == 0 && q.stats().await.unwrap()["submitted"] == 18 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        q.stats().await.unwrap()["submitted"],
        18,
        "2 fan-outs and their 4 echoes"
    );
    let back: i64 = ::redis::cmd("EXISTS")
        .arg("{deckhand}:job:gone")
        .query(&mut conn)
        .unwrap();
    assert_eq!(back, 0, "no stray record of the top");
}
