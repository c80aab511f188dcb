//! The HTTP API, /health and /metrics over real HTTP against real hosts.

use crate::common;

use std::time::Duration;

use common::api::{Api, session_cookie};
use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

mod ops;

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_works_and_bad_input_writes_nothing() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo", "chaos"]);
    let host = Host::start(
        "api-host",
        &redis.url(),
        dir.path(),
        &["--max-retries", "0"],
    );
    let api = Api::new(&host);
    api.ready(&host).await;

    // Submit, get, wait.
    let (status, sub) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "echo", "payload": {"n": 1}, "id": "e1", "metadata": {"src": "t"}}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    assert_eq!(sub["id"], "e1");
    let done = api.wait(&["e1"]).await;
    assert_eq!(done[0]["status"], "completed");
    assert_eq!(done[0]["result"], r#"{"n":1}"#);
    let (status, job) = api.get("/v1/jobs/e1").await;
    assert_eq!(status, 200);
    assert_eq!(job["metadata"]["src"], "t");
    assert_eq!(job["worker"], "api-host");
    // The same id again: 200, the existing job.
    let (status, again) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "echo", "payload": {"n": 2}, "id": "e1"}),
        )
        .await;
    assert_eq!((status, again["created"].as_bool()), (200, Some(false)));
    let (status, missing) = api.get("/v1/jobs/nope").await;
    assert_eq!((status, code(&missing)), (404, "not_found"));

    // Batch: a job may depend on an earlier one in the batch.
    let (status, batch) = api
        .post(
            "/v1/jobs/batch",
            json!({"jobs": [
                {"job_type": "echo", "payload": 1, "id": "b1"},
                {"job_type": "echo", "payload": 2, "id": "b2", "depends_on": ["b1"]},
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{batch}");
    let done = api.wait(&["b1", "b2"]).await;
    assert!(done.iter().all(|j| j["status"] == "completed"));

    // Bad input: 4xx with a stable code, and Redis unchanged.
    let before = redis.digest();
    let big = "x".repeat(2 * 1024 * 1024);
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"job_type": "nope", "payload": {}}),
            422,
            "unknown_job_type",
        ),
        (json!({"job_type": "echo"}), 400, "invalid_json"),
        (
            json!({"job_type": "echo", "payload": {}, "colour": "red"}),
            400,
            "invalid_json",
        ),
        (
            json!({"job_type": "echo", "payload": big}),
            400,
            "invalid_request",
        ),
        (
            json!({"job_type": "echo", "payload": {}, "priority": 5_000_000}),
            400,
            "invalid_request",
        ),
        (
            json!({"job_type": "echo", "payload": {}, "depends_on": ["ghost"]}),
            422,
            "unknown_dependency",
        ),
        (
            json!({"job_type": "echo", "payload": {}, "id": "me", "depends_on": ["me"]}),
            422,
            "self_dependency",
        ),
        (
            json!({"job_type": "bad type", "payload": {}}),
            400,
            "invalid_request",
        ),
        (
            json!({"job_type": "echo", "payload": {}, "id": "has space"}),
            400,
            "invalid_request",
        ),
    ];
    for (body, want_status, want_code) in cases {
        let (status, reply) = api.post("/v1/jobs", body.clone()).await;
        assert_eq!(
            (status, code(&reply)),
            (want_status, want_code),
            "{body} → {reply}"
        );
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(redis.digest(), before, "{body} changed Redis");
    }
    let (status, reply) = api.raw("/v1/jobs", b"{not json".to_vec()).await;
    assert_eq!((status, code(&reply)), (400, "invalid_json"));
    let (status, reply) = api.oversized("/v1/jobs", 17 * 1024 * 1024).await;
    assert_eq!((status, code(&reply)), (413, "body_too_large"));
    // A batch with one bad job writes none of them.
    let (status, reply) = api
        .post(
            "/v1/jobs/batch",
            json!({"jobs": [
                {"job_type": "echo", "payload": 1, "id": "ok-1"},
                {"job_type": "echo", "payload": 2, "id": "ok-2"},
                {"job_type": "echo", "payload": 3, "depends_on": ["ghost"]},
            ]}),
        )
        .await;
    assert_eq!(
        (status, code(&reply)),
        (422, "unknown_dependency"),
        "{reply}"
    );
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("job 2 of the batch")
    );
    assert_eq!(redis.digest(), before, "a refused batch changed Redis");

    // Cancel.
    let (_, slow) = api
        .post("/v1/jobs", json!({"job_type": "chaos.sleep", "payload": {"ms": 2000}, "id": "slow", "priority": -1}))
        .await;
    assert_eq!(slow["id"], "slow");
    let (status, _) = api.post("/v1/jobs/slow/cancel", json!({})).await;
    assert_eq!(status, 200);
    let (status, reply) = api.post("/v1/jobs/slow/cancel", json!({})).await;
    assert_eq!((status, code(&reply)), (409, "already_finished"));

    // The dead-letter queue: list, show, replay, purge.
    let (_, dead) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "chaos.fail", "payload": {"error": "fail"}, "id": "d1"}),
        )
        .await;
    assert_eq!(dead["id"], "d1");
    assert_eq!(api.wait(&["d1"]).await[0]["status"], "dead");
    let (status, list) = api.get("/v1/dlq?limit=10").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["jobs"][0]["id"], "d1");
    let (status, shown) = api.get("/v1/dlq/d1").await;
    assert_eq!(
        (status, shown["errors"][0]["kind"].as_str()),
        (200, Some("fail"))
    );
    let (status, reply) = api.post("/v1/dlq/replay", json!({})).await;
    assert_eq!((status, code(&reply)), (400, "invalid_request"));
    let (status, replayed) = api
        .post("/v1/dlq/replay", json!({"ids": ["d1", "x"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(replayed["replayed"], json!(["d1"]));
    assert_eq!(replayed["not_in_dlq"], json!(["x"]));
    assert_eq!(api.wait(&["d1"]).await[0]["status"], "dead");
    let (status, purged) = api.post("/v1/dlq/purge", json!({"all": true})).await;
    assert_eq!((status, purged["purged"].as_u64()), (200, Some(1)));

    // Plugins and hosts.
    let (_, plugins) = api.get("/v1/plugins").await;
    let names: Vec<&str> = plugins["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"echo") && names.contains(&"chaos"));
    let echo = std::fs::read(plugin_wasm("echo")).unwrap();
    assert!(
        plugins["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["version_id"] == sha256_hex(&echo))
    );
    let (_, hosts) = api.get("/v1/hosts").await;
    assert_eq!(hosts["api-host"]["host"], "api-host");
    let (status, _) = api.get("/v1/no-such-route").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_v1_but_not_health_or_metrics() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start_with_env(
        "auth",
        &redis.url(),
        dir.path(),
        &[],
        &[("DECKHAND_API_TOKEN", "s3cret")],
    );
    let mut api = Api::new(&host);
    api.token = Some("s3cret".into());
    api.ready(&host).await;

    let anonymous = Api::new(&host);
    let (status, reply) = anonymous
        .post("/v1/jobs", json!({"job_type": "echo", "payload": 1}))
        .await;
    assert_eq!((status, code(&reply)), (401, "unauthorized"));
    let mut wrong = Api::new(&host);
    wrong.token = Some("guess".into());
    assert_eq!(wrong.get("/v1/plugins").await.0, 401);
    let (status, _) = api
        .post("/v1/jobs", json!({"job_type": "echo", "payload": 1}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(anonymous.get("/health").await.0, 200);
    assert!(
        anonymous
            .text("/metrics")
            .await
            .contains("worker_queue_size")
    );
}

/// Wrong tokens hold up their address: after `MAX_WRONG` wrong bearer
/// tokens, that address's next tries (the right token too, and the
/// dashboard's login) are answered 429 with Retry-After; another address,
/// and a session opened before, go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_tokens_hold_up_their_address_for_a_window() {
    use deckhand::api::guesses::{MAX_WRONG, WINDOW_MS};
    const TOKEN: &str = "s3cret-enough";
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start_with_env(
        "guesses",
        &redis.url(),
        dir.path(),
        &[],
        &[("DECKHAND_API_TOKEN", TOKEN)],
    );
    let mut api = Api::new(&host);
    api.token = Some(TOKEN.into());
    api.ready(&host).await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let (here, there) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let base = host.api.clone();
    let plugins = format!("{base}/v1/plugins");
    let login = format!("{base}/ui/login");
    // A session opened before the guessing.
    let r = here
        .post(&login)
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r).expect("a session cookie");

    for _ in 0..MAX_WRONG {
        let r = here
            .get(&plugins)
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = here.get(&plugins).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=WINDOW_MS / 1000).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "too_many_wrong_tokens");
    let r = here
        .post(&login)
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("wrong tokens from this address")
    );
    // The session is not a guess: it goes on.
    let r = here
        .get(&plugins)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Another address is counted on its own.
    let r = there
        .get(&plugins)
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = there.get(&plugins).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = there
        .post(&login)
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

#[test]
fn an_open_listener_without_a_token_is_refused() {
    let dir = plugin_dir(&["echo"]);
    let port = common::redis::free_port();
    let out = deckhand()
        .args([
            "serve",
            "--listen",
            &format!("0.0.0.0:{port}"),
            "--redis-url",
            "redis://127.0.0.1:1",
        ])
        .arg("--plugin-dir")
        .arg(dir.path())
        .env_remove("DECKHAND_API_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("set an API token"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_config_file_stops_the_start_naming_the_key() {
    let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(file.path(), "worker_count = 0\n").unwrap();
    let out = deckhand()
        .args(["serve", "--config"])
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("worker_count = 0 is out of bounds: must be ≥ 1"),
        "{}",
        stderr(&out)
    );

    std::fs::write(
        file.path(),
        "[api]\nlisten = \"127.0.0.1:1\"\nlisten_twice = true\n",
    )
    .unwrap();
    let out = deckhand()
        .args(["serve", "--config"])
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("listen_twice"), "{}", stderr(&out));
}
