//! The third round of attacks on the API: a rebound page cannot steer a
//! loopback API; guesses are bounded in all without locking out a right
//! token; bodies, methods, times and controls are answered clearly;
//! metadata is bounded; a wait reads each job once and waits share one
//! subscription; the dead-letter queue is handled in chunks; connections
//! are capped and late heads cut off; a logout ends a session everywhere.
//! Real Redis, the real binary and real components.

use crate::common;

use std::time::Duration;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

/// The queue's counters say nothing was submitted.
async fn nothing_submitted(redis: &TestRedis) {
    let queue = deckhand::queue::Queue::connect(&redis.url(), Default::default())
        .await
        .unwrap();
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.get("submitted"), None, "nothing was submitted");
}

/// The API token the tests that need one use.
const TOKEN: &str = "s3cret-enough";

/// A host with `echo` and the API token, and an API client that sends it.
async fn token_host(id: &str, redis: &TestRedis, dir: &tempfile::TempDir) -> (Host, Api) {
    let env = [("DECKHAND_API_TOKEN", TOKEN)];
    let host = Host::start_with_env(id, &redis.url(), dir.path(), &[], &env);
    let mut api = Api::new(&host);
    api.token = Some(TOKEN.into());
    api.ready(&host).await;
    (host, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebound_page_cannot_reach_the_api_without_a_token() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let config = dir.path().join("api.toml");
    std::fs::write(&config, "[api]\nallowed_hosts = [\"deckhand.lan\"]\n").unwrap();
    let config = config.display().to_string();
    let host = Host::start("rebind", &redis.url(), dir.path(), &["--config", &config]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let port = host.api.rsplit(':').next().unwrap().to_string();
    let http = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, host_header: String| {
        http.request(method, format!("{}{path}", host.api))
            .header("host", host_header)
            .header("origin", "http://attacker.example")
            .json(&json!({ "job_type": "echo", "payload": {} }))
            .send()
    };
    for (method, path) in [
        (reqwest::Method::POST, "/v1/jobs"),
        (reqwest::Method::POST, "/v1/job-types/echo/pause"),
        (reqwest::Method::POST, "/v1/dlq/purge"),
        (reqwest::Method::GET, "/ui/"),
        (reqwest::Method::GET, "/health"),
    ] {
        let resp = send(method.clone(), path, format!("attacker.example:{port}"))
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        assert!(
            resp.headers().get("set-cookie").is_none(),
            "{path}: no session for a rebound page"
        );
        let body: Value = resp.json().await.unwrap();
        assert_eq!(code(&body), "host_not_allowed", "{body}");
    }
    // Loopback names and the listed name are served.
    for name in [format!("localhost:{port}"), format!("deckhand.lan:{port}")] {
        let resp = http
            .get(format!("{}/health", host.api))
            .header("host", &name)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
    }
    nothing_submitted(&redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_bounded_and_a_wait_reads_each_job_once() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("bounds", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;

    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let large = json!({ "k": "x".repeat(70 * 1024) });
    for metadata in [Value::Object(many), large] {
        let (status, body) = api
            .post(
                "/v1/jobs",
                json!({ "job_type": "echo", "payload": {}, "metadata": metadata }),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains("metadata"), "{body}");
    }

    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "echo", "payload": { "blob": "y".repeat(1000 * 1000) } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let ids = vec![id.as_str(); 1000];
    let jobs = api.wait(&ids).await;
    assert_eq!(jobs.len(), 1, "an id named 1,000 times is answered once");
    assert_eq!(jobs[0]["id"], id.as_str());
}

/// Guesses from many addresses (127.0.x.y) are bounded in all; an address
/// that presented the right token keeps working through the flood, and
/// addresses past the table of counted ones are not held for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_guesses_is_bounded_and_locks_out_no_right_token() {
    use deckhand::api::guesses::MAX_WRONG_ALL;
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let (host, _api) = token_host("flood", &redis, &dir).await;
    let from = |n: u32| {
        let ip = std::net::Ipv4Addr::from(0x7f00_0000 + 0x0100 + n);
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let plugins = format!("{}/v1/plugins", host.api);
    let regular = from(0);
    let r = regular
        .get(&plugins)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for n in 1..=MAX_WRONG_ALL {
        let r = from(n)
            .get(&plugins)
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "guess {n}");
    }
    // A new address is held until the window ends...
    let r = from(MAX_WRONG_ALL + 1)
        .get(&plugins)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert!(body.to_string().contains("all addresses"), "{body}");
    // ...the client that had used the right token is not.
    let r = regular
        .get(&plugins)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a right token is never locked out");
}

/// The smaller points: bodies that are not JSON, methods a route does not
/// serve, times before 1970, controls given nothing, schedules of a type
/// no host offers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_points_answer_clearly_and_change_nothing() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("small", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let http = reqwest::Client::new();
    let job = r#"{"job_type": "echo", "payload": {}}"#;
    for media in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let r = http
            .post(format!("{}/v1/jobs", host.api))
            .header("content-type", media)
            .body(job)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{media}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "unsupported_media_type", "{body}");
    }
    let r = http
        .delete(format!("{}/v1/jobs", host.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "method_not_allowed", "{body}");

    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "echo", "payload": {}, "run_at": "1969-12-31T23:59:59Z" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("before 1970"), "{body}");

    for (route, field) in [("cap", "max_running"), ("rate", "rate_limit")] {
        let (status, body) = api
            .post(&format!("/v1/job-types/echo/{route}"), json!({}))
            .await;
        assert_eq!(status, 400, "{route} {{}}: {body}");
        assert!(body.to_string().contains(field), "{body}");
    }

    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            "/v1/schedules/ghost",
            Some(json!({ "cron": "* * * * *", "job_type": "no.such.type" })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(code(&body), "unknown_job_type", "{body}");
    let out = deckhand()
        .args(["schedule", "add", "ghost", "--cron", "* * * * *"])
        .args(["--job-type", "no.such.type", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no.such.type"), "{}", stderr(&out));
    let (_, list) = api.get("/v1/schedules").await;
    assert_eq!(list["schedules"], json!([]), "{list}");
    nothing_submitted(&redis).await;
}

/// Replaying or purging the whole dead-letter queue is many bounded script
/// calls, not one that holds Redis for all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_dead_letter_queue_is_handled_in_chunks() {
    use deckhand::queue::DLQ_CHUNK;
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let host = Host::start("dlq", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let n = DLQ_CHUNK * 2 + 100;
    let mut ids: Vec<String> = Vec::new();
    for batch in (0..n).collect::<Vec<_>>().chunks(100) {
        let jobs: Vec<Value> = batch
            .iter()
            .map(|i| json!({ "job_type": "chaos.fail", "payload": { "error": "fail", "i": i }, "max_retries": 0 }))
            .collect();
        let (status, body) = api.post("/v1/jobs/batch", json!({ "jobs": jobs })).await;
        assert_eq!(status, 201, "{body}");
        let submitted = body["jobs"].as_array().unwrap().iter();
        ids.extend(submitted.map(|v| v["id"].as_str().unwrap().to_string()));
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    api.wait(&refs).await;
    // Paused, so what is replayed stays ready to count.
    let (status, _) = api.post("/v1/job-types/chaos.fail/pause", json!({})).await;
    assert_eq!(status, 200);
    let before = redis.calls("fcall");
    let (status, body) = api.post("/v1/dlq/replay", json!({ "all": true })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replayed"].as_array().unwrap().len(), n);
    let calls = redis.calls("fcall") - before;
    assert!(calls >= 3, "{n} dead jobs replayed in {calls} script calls");
    let (_, dlq) = api.get("/v1/dlq?limit=1").await;
    assert_eq!(dlq["total"], 0, "{dlq}");
}

/// Many API waits share one subscription: 300 waits do not take 300 Redis
/// connections, and every one of them is answered when its job ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_waits_share_one_redis_subscription() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("waits", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let (status, _) = api.post("/v1/job-types/echo/pause", json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = api
        .post("/v1/jobs", json!({ "job_type": "echo", "payload": {} }))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let clients = || -> u64 {
        let info: String = ::redis::cmd("INFO")
            .arg("clients")
            .query(&mut redis.conn())
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap()
    };
    let before = clients();
    let waits: Vec<_> = (0..300)
        .map(|_| {
            let (http, url, id) = (reqwest::Client::new(), host.api.clone(), id.clone());
            tokio::spawn(async move {
                let r = http
                    .post(format!("{url}/v1/jobs/wait"))
                    .json(&json!({ "ids": [id], "timeout_secs": 60 }))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = clients();
    assert!(
        during <= before + 5,
        "300 waits took {} Redis connections",
        during - before
    );
    let (status, _) = api.post("/v1/job-types/echo/resume", json!({})).await;
    assert_eq!(status, 200);
    for wait in waits {
        let (status, body) = wait.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["jobs"][0]["status"], "completed", "{body}");
    }
}

/// Half-sent requests are cut off once their head is late, and past
/// `api.max_connections` new connections wait rather than exhaust the
/// process' descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_heads_are_cut_off_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let config = dir.path().join("api.toml");
    std::fs::write(
        &config,
        "[api]\nmax_connections = 8\nheader_timeout_secs = 2\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let host = Host::start("conns", &redis.url(), dir.path(), &["--config", &config]);
    let api = Api::new(&host);
    api.ready(&host).await;
    let addr = host.api.trim_start_matches("http://").to_string();
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    // Every slot is held: a new request is not served yet.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let health = format!("{}/health", host.api);
    assert!(
        quick.get(&health).send().await.is_err(),
        "served past the cap"
    );
    // Once their heads are late, the held connections are closed...
    for mut s in held {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        assert!(
            read.is_ok(),
            "a half-sent request was held past its deadline"
        );
    }
    // ...and the waiting clients are served.
    let r = reqwest::get(&health).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// A logout ends the session for every host, also after a restart: its
/// cookie no longer opens the API or the dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_ends_the_session_everywhere() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let (mut host, _api) = token_host("logout", &redis, &dir).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{}/ui/login", host.api))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = common::api::session_cookie(&r).expect("a session cookie");
    let with_cookie = |base: &str, path: &str| {
        http.get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
    };
    let r = with_cookie(&host.api, "/v1/plugins").await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{}/ui/logout", host.api))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = with_cookie(&host.api, "/v1/plugins").await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "session_ended", "{body}");
    // Another host (or this one restarted) refuses it too.
    host.kill9();
    let (other, _api) = token_host("after", &redis, &dir).await;
    let r = with_cookie(&other.api, "/v1/plugins").await.unwrap();
    assert_eq!(r.status(), 401);
    let r = with_cookie(&other.api, "/ui/").await.unwrap();
    assert_eq!(r.status(), 303, "the dashboard sends it to the login page");
}
