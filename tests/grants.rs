//! Capability grants through the real host: the `scraper` plugin fetches
//! from test servers on loopback only as its grant allows (each refusal its
//! own error, the refused server never reached), remembers what it saw in
//! its key-value store, reads a secret that never reaches the host's log,
//! the job's record or `/metrics`; grants change while the host runs; what
//! the plugin asked for is shown beside what it was granted. Real Redis,
//! the real binary and real components.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

const SECRET: &str = "s3cr3t-token-4f9a1c";

/// A loopback server counting requests by path, remembering the
/// authorization headers it saw.
#[derive(Clone, Default)]
pub(crate) struct Site {
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
    auth: Arc<Mutex<Vec<String>>>,
    pub(crate) port: u16,
    other: u16,
}

impl Site {
    pub(crate) fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

pub(crate) async fn serve(site: Site) -> Site {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = Site {
        port: listener.local_addr().unwrap().port(),
        ..site
    };
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(site.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    site
}

async fn answer(State(site): State<Site>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    *site.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    if let Some(a) = request.headers().get("authorization") {
        site.auth
            .lock()
            .unwrap()
            .push(a.to_str().unwrap_or("").into());
    }
    let json = [("content-type", "application/json")];
    match path.as_str() {
        "/api" => (json, r#"{"locations":[{"name":"North Pantry","phone":"555-0101"},{"name":"South Pantry","phone":"555-0102"}]}"#).into_response(),
        "/page" => ([("content-type", "text/html")], r#"<html><script type="application/ld+json">{"name":"Page Pantry","address":"1 Main St"}</script></html>"#).into_response(),
        "/redirect" => (axum::http::StatusCode::FOUND, [("location", format!("http://127.0.0.1:{}/api", site.other))]).into_response(),
        "/big" => (json, format!("[{}]", "1,".repeat(15000) + "1")).into_response(),
        "/stream" => {
            let chunks = futures::stream::iter((0..50).map(|_| Ok::<_, std::io::Error>("x".repeat(1000))));
            axum::body::Body::from_stream(chunks).into_response()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            (json, "[]").into_response()
        }
        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// The host's configuration: the scraper's grant, written whole.
fn write_grants(file: &std::path::Path, http: &str) {
    let text = format!(
        r#"[plugins.scraper.http]
{http}
max_response_bytes = 20000
timeout_ms = 1000

[plugins.scraper.key_value]
quota_bytes = 100000

[plugins.scraper.variables]
api_token = {{ env = "SCRAPER_TOKEN", secret = true }}
"#
    );
    std::fs::write(file, text).unwrap();
}

/// Rewrites the grant and waits for the host to take it.
async fn regrant(host: &Host, file: &std::path::Path, http: &str) {
    let before = host.log().matches("plugin grants changed").count();
    // A new modification time even on a coarse clock.
    tokio::time::sleep(Duration::from_millis(20)).await;
    write_grants(file, http);
    for _ in 0..200 {
        if host.log().matches("plugin grants changed").count() > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the host never took the new grant:\n{}", host.log());
}

async fn scrape(api: &Api, id: &str, payload: Value) -> Value {
    let (status, body) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "scrape", "id": id, "payload": payload, "max_retries": 0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    api.wait(&[id]).await.remove(0)
}

/// A job's result, which the API gives as JSON text.
pub(crate) fn result_of(job: &Value) -> Value {
    serde_json::from_str(job["result"].as_str().unwrap_or("null")).unwrap()
}

fn granted_here(site: &Site) -> String {
    format!(
        "allowed_hosts = [\"http://127.0.0.1:{}\"]\nallowed_addresses = [\"127.0.0.1\"]",
        site.port
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scraper_reaches_only_what_it_is_granted_and_remembers_what_it_saw() {
    let other = serve(Site::default()).await;
    let site = serve(Site {
        other: other.port,
        ..Site::default()
    })
    .await;
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["scraper", "hsds_alignment", "hsds_validation"]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("deckhand.toml");
    write_grants(&file, &granted_here(&site));
    let config_arg = file.to_str().unwrap();
    let host = Host::start_with_env(
        "grants",
        &redis.url(),
        plugins.path(),
        &["--config", config_arg],
        &[("SCRAPER_TOKEN", SECRET)],
    );
    let api = Api::new(&host);
    api.ready(&host).await;

    let here = |path: &str| format!("http://127.0.0.1:{}{path}", site.port);
    let run = json!({"source": "t", "api_url": here("/api"), "page_url": here("/page")});
    let first = scrape(&api, "scrape-1", run.clone()).await;
    assert_eq!(first["status"], "completed", "{first}");
    let result = &result_of(&first);
    assert_eq!(
        (result["fetched"].as_u64(), result["new"].as_u64()),
        (Some(3), Some(3)),
        "{result}"
    );
    assert_eq!(
        *site.auth.lock().unwrap(),
        vec![format!("Bearer {SECRET}"); 2],
        "the secret went to the granted host"
    );
    assert_eq!(
        first["http_requests"], 2,
        "both fetches on the job's record: {first}"
    );
    assert!(first["http_bytes"].as_u64().unwrap() > 100, "{first}");
    for align in result["submitted"].as_array().unwrap() {
        let (status, job) = api
            .get(&format!("/v1/jobs/{}", align.as_str().unwrap()))
            .await;
        assert_eq!(status, 200, "the alignment was submitted: {job}");
    }
    let second = scrape(&api, "scrape-2", run).await;
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(
        result_of(&second)["new"],
        0,
        "nothing new on a second run: {second}"
    );
    assert_eq!(result_of(&second)["already_seen"], 3);

    refusals(&api, &host, &file, &site, &other).await;

    // The secret went out to the granted host only: never in the host's
    // log, a job's record or /metrics.
    let (_, job) = api.get("/v1/jobs/scrape-1").await;
    assert!(!job.to_string().contains(SECRET));
    let metrics = api.text("/metrics").await;
    assert!(!metrics.contains(SECRET));
    for outcome in [
        "sent",
        "denied",
        "address_prohibited",
        "response_too_large",
        "timeout",
    ] {
        let line = format!(
            "deckhand_plugin_http_requests_total{{plugin=\"scraper\",outcome=\"{outcome}\"}} "
        );
        assert!(metrics.contains(&line), "{line} missing:\n{metrics}");
    }
    assert!(
        !host.log().contains(SECRET),
        "the host's log holds the secret"
    );
}

/// Each refusal fails the job with its own error, and the server it would
/// have reached counts no request.
async fn refusals(api: &Api, host: &Host, file: &std::path::Path, site: &Site, other: &Site) {
    let here = |path: &str| format!("http://127.0.0.1:{}{path}", site.port);
    let dead = |job: &Value, says: &str| {
        assert_eq!(job["status"], "dead", "{job}");
        let error = job["errors"].to_string();
        assert!(error.contains(says), "{says:?} not in {error}");
    };
    let other_url = format!("http://127.0.0.1:{}/api", other.port);
    dead(
        &scrape(api, "no-host", json!({"api_url": other_url})).await,
        "host or method not granted",
    );
    dead(
        &scrape(api, "redirect", json!({"api_url": here("/redirect")})).await,
        "which is not granted",
    );
    assert_eq!(other.total(), 0, "the ungranted server was never reached");
    assert_eq!(site.hits("/redirect"), 1);
    dead(
        &scrape(api, "big", json!({"api_url": here("/big")})).await,
        "response larger than granted",
    );
    dead(
        &scrape(api, "stream", json!({"api_url": here("/stream")})).await,
        "response larger than granted",
    );
    dead(
        &scrape(api, "slow", json!({"api_url": here("/slow")})).await,
        "no answer in time",
    );
    assert!(
        host.log()
            .contains("not in [plugins.scraper.http] allowed_hosts"),
        "the log names the grant"
    );

    // A name resolving to loopback, and the metadata address, without a
    // grant by address: refused before connecting.
    let before = site.total();
    regrant(
        host,
        file,
        &format!(
            "allowed_hosts = [\"http://localhost:{}\", \"http://169.254.169.254\"]",
            site.port
        ),
    )
    .await;
    let localhost = format!("http://localhost:{}/api", site.port);
    dead(
        &scrape(api, "loopback", json!({"api_url": localhost})).await,
        "address not granted",
    );
    dead(
        &scrape(
            api,
            "metadata",
            json!({"api_url": "http://169.254.169.254/latest"}),
        )
        .await,
        "address not granted",
    );
    assert_eq!(site.total(), before, "nothing reached the server");
    assert!(
        host.log()
            .contains("(loopback), not in [plugins.scraper.http] allowed_addresses")
    );

    // Past the requests per minute: refused, the server not reached.
    regrant(
        host,
        file,
        &(granted_here(site) + "\nrequests_per_minute = 1"),
    )
    .await;
    // The window holds this test's earlier requests: the first may or may
    // not pass, the second cannot.
    scrape(
        api,
        "rate-1",
        json!({"source": "r", "api_url": here("/api")}),
    )
    .await;
    let api_hits = site.hits("/api");
    dead(
        &scrape(
            api,
            "rate-2",
            json!({"source": "r", "api_url": here("/api")}),
        )
        .await,
        "past the granted requests per minute",
    );
    assert_eq!(site.hits("/api"), api_hits);

    // Granted by address: the same name goes through.
    regrant(host, file, &format!("allowed_hosts = [\"http://localhost:{}\"]\nallowed_addresses = [\"127.0.0.0/8\", \"::1\"]", site.port)).await;
    let job = scrape(
        api,
        "loopback-granted",
        json!({"source": "l", "api_url": localhost}),
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_and_granted_are_shown_by_the_api_and_the_cli() {
    let redis = TestRedis::start();
    let plugins = plugin_dir(&["scraper", "echo"]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("deckhand.toml");
    write_grants(&file, "allowed_hosts = [\"https://food.example.org\"]");
    let host = Host::start(
        "asked",
        &redis.url(),
        plugins.path(),
        &["--config", file.to_str().unwrap()],
    );
    let api = Api::new(&host);
    api.ready(&host).await;
    let (_, body) = api.get("/v1/plugins").await;
    let plugin = |name: &str| {
        body["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    let scraper = plugin("scraper");
    let grants = &scraper["grants"];
    assert_eq!(grants["asked"]["key_value"], true, "{grants}");
    assert_eq!(grants["asked"]["variables"], json!(["api_token"]));
    assert_eq!(
        grants["granted"]["outbound_hosts"],
        json!(["https://food.example.org"])
    );
    assert_eq!(
        grants["granted"]["variables"],
        json!([{"name": "api_token", "source": "env", "secret": true}])
    );
    assert_eq!(grants["granted"]["key_value"]["quota_bytes"], 100000);
    let echo = plugin("echo");
    assert_eq!(
        echo["grants"]["asked"]["key_value"], false,
        "asks nothing: {echo}"
    );
    assert_eq!(echo["grants"]["granted"]["outbound_hosts"], json!([]));

    let out = deckhand()
        .args(["plugins", "list", "--dir"])
        .arg(plugins.path())
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("asks:    hosts https://*:*, http://*:*; key-value yes; variables api_token"),
        "{text}"
    );
    assert!(
        text.contains("granted: hosts https://food.example.org; methods GET, HEAD"),
        "{text}"
    );
    assert!(text.contains("variables api_token (secret)"), "{text}");
}
