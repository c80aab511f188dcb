//! Grants beyond outbound HTTP, and the scraper's whole flow: a cron
//! schedule fires the scraper, its new records are aligned and validated, and
//! later runs submit nothing; the key-value script's every branch; an LLM
//! model not granted is refused before any call. Real Redis, the real binary
//! and real components.

use crate::common;

use std::time::Duration;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

use crate::grants::{Site, result_of, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_schedule_runs_the_scraper_and_later_runs_submit_nothing() {
    let site = serve(Site::default()).await;
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["scraper", "hsds_alignment", "hsds_validation"]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("deckhand.toml");
    let here = |path: &str| format!("http://127.0.0.1:{}{path}", site.port);
    let text = format!(
        r#"[[schedules]]
name = "locator"
cron = "*/2 * * * * *"
job_type = "scrape"
payload = {{ source = "locator", api_url = "{}", page_url = "{}" }}

[plugins.scraper.http]
allowed_hosts = ["http://127.0.0.1:{}"]
allowed_addresses = ["127.0.0.1"]

[plugins.scraper.key_value]
"#,
        here("/api"),
        here("/page"),
        site.port
    );
    std::fs::write(&file, text).unwrap();
    let host = Host::start(
        "cron-scraper",
        &redis.url(),
        plugins.path(),
        &["--config", file.to_str().unwrap()],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let mut runs = Vec::new();
    for _ in 0..300 {
        let (_, page) = api
            .get("/v1/jobs?status=completed&type=scrape&limit=100")
            .await;
        runs = page["jobs"].as_array().cloned().unwrap_or_default();
        if runs.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(runs.len() >= 3, "three ticks ran: {runs:?}\n{}", host.log());
    let mut submitted = Vec::new();
    for run in &runs {
        let id = run["id"].as_str().unwrap();
        assert!(id.starts_with("cron:locator:"), "{id}");
        let (_, job) = api.get(&format!("/v1/jobs/{id}")).await;
        let result = result_of(&job);
        assert_eq!(result["fetched"], 3, "{result}");
        submitted.extend(
            result["submitted"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string()),
        );
    }
    assert_eq!(
        submitted.len(),
        3,
        "the first run submitted the three records, later ones none: {submitted:?}"
    );
    assert!(site.hits("/api") >= 3);
    let validations: Vec<String> = submitted
        .iter()
        .map(|a| a.replace(".align", ".validate"))
        .collect();
    let ids: Vec<&str> = submitted
        .iter()
        .chain(&validations)
        .map(String::as_str)
        .collect();
    for job in api.wait(&ids).await {
        assert_eq!(job["status"], "completed", "aligned and validated: {job}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_model_not_granted_is_refused_before_any_call() {
    let fake = common::fake_llm::FakeLlm::start().await;
    fake.always(common::fake_llm::Answer::content("hello"));
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["llm"]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("deckhand.toml");
    // The host serves both models; the plugin is granted one.
    let text = format!(
        "[llm]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"default-model\"\nallowed_models = [\"small-local\", \"big-hosted\"]\n\n[plugins.llm.llm]\nmodels = [\"small-local\"]\n",
        fake.url()
    );
    std::fs::write(&file, &text).unwrap();
    let host = Host::start(
        "llm-grants",
        &redis.url(),
        plugins.path(),
        &["--config", file.to_str().unwrap()],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let ask = |id: &str, model: Option<&str>| {
        let mut payload = json!({"prompt": "hi"});
        if let Some(m) = model {
            payload["model"] = json!(m);
        }
        json!({"job_type": "llm", "id": id, "payload": payload, "max_retries": 0})
    };
    for (id, model) in [
        ("big", Some("big-hosted")),
        ("granted", Some("small-local")),
        ("default", None),
    ] {
        let (status, body) = api.post("/v1/jobs", ask(id, model)).await;
        assert_eq!(status, 201, "{body}");
    }
    let jobs = api.wait(&["big", "granted", "default"]).await;
    assert_eq!(jobs[0]["status"], "dead", "{}", jobs[0]);
    assert!(
        jobs[0]["errors"]
            .to_string()
            .contains("model \\\"big-hosted\\\" is not granted to plugin \\\"llm\\\""),
        "{}",
        jobs[0]
    );
    assert_eq!(jobs[1]["status"], "completed", "{}", jobs[1]);
    assert_eq!(jobs[2]["status"], "completed", "{}", jobs[2]);
    let models: Vec<Value> = fake
        .seen()
        .iter()
        .map(|s| s.body["model"].clone())
        .collect();
    assert_eq!(
        models.len(),
        2,
        "the refused call never reached the provider: {models:?}"
    );
    assert!(!models.contains(&json!("big-hosted")));

    // Tokens per minute: the two calls spent 36 this minute; a grant of 30
    // holds the next call back (retried later; here it has no retries).
    let before = host.log().matches("plugin grants changed").count();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let spend = text.replace(
        "[plugins.llm.llm]\n",
        "[plugins.llm.llm]\ntokens_per_minute = 30\n",
    );
    std::fs::write(&file, spend).unwrap();
    for _ in 0..200 {
        if host.log().matches("plugin grants changed").count() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        host.log().matches("plugin grants changed").count() > before,
        "{}",
        host.log()
    );
    // A new prompt: the content store would answer a repeated one.
    let mut fresh = ask("spent", None);
    fresh["payload"]["prompt"] = json!("something new");
    let (status, body) = api.post("/v1/jobs", fresh).await;
    assert_eq!(status, 201, "{body}");
    let spent = api.wait(&["spent"]).await.remove(0);
    assert_eq!(spent["status"], "dead", "{spent}");
    let says = "spent its 30 tokens this minute";
    assert!(spent["errors"].to_string().contains(says), "{spent}");
    assert_eq!(
        fake.calls(),
        2,
        "the held-back call never reached the provider"
    );
}

/// The key-value store's script, every branch: a write within the quota,
/// one past it (nothing written), an overwrite counted once, expired
/// entries giving their bytes back, a delete of a key there and not there,
/// and two plugins that cannot see each other's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_stores_keep_their_quota_and_their_own_keys() {
    use deckhand::queue::{KvEntry, Queue, QueueConfig};
    let redis = TestRedis::start();
    let queue = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let entry = |plugin: &'static str, key: &'static str, value: &'static str, ttl_ms| KvEntry {
        plugin,
        key,
        value,
        ttl_ms,
        quota_bytes: 20,
    };
    // "seen:a" + "12345" = 11 bytes.
    assert_eq!(
        queue
            .kv_set(&entry("a", "seen:a", "12345", None))
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(
        queue.kv_get("a", "seen:a").await.unwrap().as_deref(),
        Some("12345")
    );
    // 11 + 12 = 23 > 20: refused, nothing written.
    assert_eq!(
        queue
            .kv_set(&entry("a", "seen:b", "123456", None))
            .await
            .unwrap(),
        Err(23)
    );
    assert_eq!(queue.kv_get("a", "seen:b").await.unwrap(), None);
    // An overwrite replaces its own bytes: 6 + 14 = 20, at the quota.
    assert_eq!(
        queue
            .kv_set(&entry("a", "seen:a", "12345678901234", None))
            .await
            .unwrap(),
        Ok(())
    );
    // Another plugin: its own quota, and it cannot see a's key.
    assert_eq!(queue.kv_get("b", "seen:a").await.unwrap(), None);
    assert_eq!(
        queue
            .kv_set(&entry("b", "seen:a", "x", None))
            .await
            .unwrap(),
        Ok(())
    );
    assert_eq!(
        queue.kv_get("a", "seen:a").await.unwrap().as_deref(),
        Some("12345678901234")
    );
    // A name that looks like another's namespace stays its own.
    assert_eq!(queue.kv_get("a:v", "seen:a").await.unwrap(), None);
    // Deleted: its bytes come back.
    assert!(queue.kv_delete("a", "seen:a").await.unwrap());
    assert!(
        !queue.kv_delete("a", "seen:a").await.unwrap(),
        "not there any more"
    );
    assert_eq!(
        queue
            .kv_set(&entry("a", "seen:c", "123456789012", Some(50)))
            .await
            .unwrap(),
        Ok(())
    );
    // Expired: its bytes come back on the next write.
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(queue.kv_get("a", "seen:c").await.unwrap(), None);
    assert_eq!(
        queue
            .kv_set(&entry("a", "seen:d", "123456789012", None))
            .await
            .unwrap(),
        Ok(())
    );
}

/// A plugin that tries to leak its secret (log, stderr, result, error): it
/// reaches none of the host's log (at debug), records, traces, `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_never_reaches_logs_records_traces_or_metrics() {
    const SECRET: &str = "pa55-w0rd-9c1e77";
    let collected: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let kept = collected.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["chaos"]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("deckhand.toml");
    let text = "[plugins.chaos.variables]\nsecret = { env = \"CHAOS_SECRET\", secret = true }\n";
    std::fs::write(&file, text).unwrap();
    let env = [
        ("CHAOS_SECRET", SECRET),
        ("RUST_LOG", "debug"),
        ("DECKHAND_OTEL_ENDPOINT", collector.as_str()),
    ];
    let mut host = Host::start_with_env(
        "leak",
        &redis.url(),
        plugins.path(),
        &["--config", file.to_str().unwrap()],
        &env,
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    for (id, fail) in [("leak-ok", false), ("leak-fail", true)] {
        let body = json!({"job_type": "chaos.leak", "id": id, "payload": {"fail": fail}, "max_retries": 0});
        assert_eq!(api.post("/v1/jobs", body).await.0, 201);
    }
    let jobs = api.wait(&["leak-ok", "leak-fail"]).await;
    assert_eq!(jobs[0]["status"], "completed", "{}", jobs[0]);
    assert_eq!(result_of(&jobs[0]), json!({"secret": "[secret]"}));
    assert_eq!(jobs[1]["status"], "dead", "{}", jobs[1]);
    assert!(
        jobs[1]["errors"]
            .to_string()
            .contains("failing with [secret]"),
        "{}",
        jobs[1]
    );
    assert!(
        host.log().contains("the secret is [secret]"),
        "the plugin's log line, blanked:\n{}",
        host.log()
    );
    let metrics = api.text("/metrics").await;
    // The exporter sends its last batch on shutdown.
    assert_eq!(host.terminate(), Some(0));
    let traces = collected.lock().unwrap().join("\n");
    assert!(
        traces.contains("chaos.leak"),
        "the job's spans were exported: {traces}"
    );
    for (place, text) in [
        ("jobs", format!("{jobs:?}")),
        ("metrics", metrics),
        ("traces", traces),
        ("log", host.log()),
    ] {
        assert!(!text.contains(SECRET), "the secret reached the {place}");
    }
}

/// Methods other than the granted ones are refused before anything is
/// sent; a request body past `max_request_bytes` fails with its own error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_and_request_bodies_are_held_to_the_grant() {
    let site = serve(Site::default()).await;
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["chaos"]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("deckhand.toml");
    let text = format!(
        "[plugins.chaos.http]\nallowed_hosts = [\"http://127.0.0.1:{}\"]\nallowed_addresses = [\"127.0.0.1\"]\nallowed_methods = [\"POST\"]\nmax_request_bytes = 1000\n",
        site.port
    );
    std::fs::write(&file, text).unwrap();
    let host = Host::start(
        "methods",
        &redis.url(),
        plugins.path(),
        &["--config", file.to_str().unwrap()],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let url = format!("http://127.0.0.1:{}/submit", site.port);
    let fetch = |id: &str, method: &str, bytes: u64| {
        let payload = json!({"method": method, "url": url, "body_bytes": bytes});
        json!({"job_type": "chaos.fetch", "id": id, "payload": payload, "max_retries": 0})
    };
    let run = |body: Value| {
        let api = &api;
        async move {
            let id = body["id"].as_str().unwrap().to_string();
            assert_eq!(api.post("/v1/jobs", body).await.0, 201);
            api.wait(&[id.as_str()]).await.remove(0)
        }
    };
    let small = run(fetch("small", "POST", 500)).await;
    assert_eq!(small["status"], "completed", "{small}");
    assert_eq!(
        result_of(&small)["status"],
        404,
        "the site answered: {small}"
    );
    let big = run(fetch("big", "POST", 5000)).await;
    assert_eq!(big["status"], "dead", "{big}");
    assert!(
        big["errors"]
            .to_string()
            .contains("request larger than granted"),
        "{big}"
    );
    let before = site.hits("/submit");
    let get = run(fetch("get", "GET", 0)).await;
    assert!(
        get["errors"]
            .to_string()
            .contains("host or method not granted"),
        "{get}"
    );
    assert_eq!(
        site.hits("/submit"),
        before,
        "a refused method sends nothing"
    );
    assert!(
        host.log()
            .contains("method GET is not in [plugins.chaos.http] allowed_methods")
    );
}

/// Two plugins' key-value stores through the host: the same key names two
/// values, one plugin's quota refuses a write (nothing written), and a
/// plugin with no grant is told which grant it lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_value_stores_are_apart_and_held_to_their_quota_through_the_host() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["chaos"]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("deckhand.toml");
    std::fs::write(&file, "[plugins.chaos.key_value]\nquota_bytes = 40\n").unwrap();
    let host = Host::start(
        "kv",
        &redis.url(),
        plugins.path(),
        &["--config", file.to_str().unwrap()],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let run = |id: &'static str, payload: Value| {
        let api = &api;
        async move {
            let body =
                json!({"job_type": "chaos.kv", "id": id, "payload": payload, "max_retries": 0});
            assert_eq!(api.post("/v1/jobs", body).await.0, 201);
            api.wait(&[id]).await.remove(0)
        }
    };
    let set = run("set", json!({"set": "cursor", "value": "page-7"})).await;
    assert_eq!(set["status"], "completed", "{set}");
    // Another plugin's store holds its own value under the same key.
    let queue =
        deckhand::queue::Queue::connect(&redis.url(), deckhand::queue::QueueConfig::default())
            .await
            .unwrap();
    assert_eq!(queue.kv_get("scraper", "cursor").await.unwrap(), None);
    let other = deckhand::queue::KvEntry {
        plugin: "scraper",
        key: "cursor",
        value: "theirs",
        ttl_ms: None,
        quota_bytes: 100,
    };
    assert_eq!(queue.kv_set(&other).await.unwrap(), Ok(()));
    let got = run("get", json!({"get": "cursor"})).await;
    assert_eq!(result_of(&got), json!({"value": "page-7"}), "{got}");
    let big = run("big", json!({"set": "seen", "value": "x".repeat(60)})).await;
    assert_eq!(big["status"], "dead", "{big}");
    assert!(big["errors"].to_string().contains("QuotaExceeded"), "{big}");
    let missing = run("missing", json!({"get": "seen"})).await;
    assert_eq!(
        result_of(&missing),
        json!({"value": null}),
        "nothing written: {missing}"
    );
    // Without a grant: the error names it.
    std::fs::write(&file, "").unwrap();
    for _ in 0..100 {
        if host.log().contains("plugin grants changed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let denied = run("denied", json!({"get": "cursor"})).await;
    assert!(
        denied["errors"]
            .to_string()
            .contains("grant one with [plugins.chaos.key_value]"),
        "{denied}"
    );
}
