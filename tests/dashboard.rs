//! The dashboard: the API calls behind its pages (overview, job lists,
//! children, bulk runs), its sessions (login, cookie, CSRF, expiry), and the
//! pages themselves in a real browser (Debian's chromium driven by
//! playwright-core, `tests/ui/dashboard.mjs`).

use crate::common;

use std::time::Duration;

use common::api::{Api, session_cookie};
use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::api::ui::session::Sessions;
use serde_json::{Value, json};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

/// Jobs of every kind: completed echo jobs, a fan-out with children, dead
/// chaos.fail jobs, and paused echo jobs waiting in two groups.
async fn populate(api: &Api) {
    for i in 0..3 {
        let (s, b) = api
            .post(
                "/v1/jobs",
                json!({"job_type": "echo", "payload": {"i": i}, "id": format!("done-{i}")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let (s, b) = api
        .post(
            "/v1/jobs",
            json!({"job_type": "chaos.fanout", "payload": {"children": 3}, "id": "fan"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    for i in 0..2 {
        let (s, b) = api
            .post(
                "/v1/jobs",
                json!({"job_type": "chaos.fail", "payload": {"error": "fail", "succeed_on": 2}, "id": format!("doomed-{i}"), "max_retries": 0}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let fan = api
        .wait(&["done-0", "done-1", "done-2", "fan", "doomed-0", "doomed-1"])
        .await;
    let children = common::api::children_of(&fan[3]);
    let ids: Vec<&str> = children.iter().map(String::as_str).collect();
    api.wait(&ids).await;
    let (s, _) = api.post("/v1/job-types/echo/pause", json!({})).await;
    assert_eq!(s, 200);
    for (i, group) in ["g1", "g1", "g1", "g2", "g2"].iter().enumerate() {
        let (s, b) = api
            .post("/v1/jobs", json!({"job_type": "echo", "payload": {}, "id": format!("held-{i}"), "group": group}))
            .await;
        assert_eq!(s, 201, "{b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_api_counts_lists_and_refuses_bad_input() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo", "chaos"]);
    let host = Host::start("dash-host", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    populate(&api).await;

    // The overview, from counters: no key is scanned to draw it.
    let (scans, keys) = (redis.calls("scan"), redis.calls("keys"));
    let (s, o) = api.get("/v1/overview").await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(redis.calls("scan"), scans);
    assert_eq!(redis.calls("keys"), keys);
    let by_type = |t: &str| {
        o["job_types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["job_type"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("no {t} in {o:#}"))
    };
    let echo = by_type("echo");
    assert_eq!(
        (echo["ready"].as_u64(), echo["completed"].as_u64()),
        (Some(5), Some(6)),
        "{o:#}"
    );
    assert_eq!(
        (echo["paused"].as_bool(), echo["live"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(by_type("chaos.fail")["dead"], 2);
    assert_eq!(by_type("chaos.fanout")["completed"], 1);
    assert_eq!(o["dead_letter"], 2);
    let minutes = o["throughput"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let ended = |k: &str| minutes.iter().map(|m| m[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((ended("completed"), ended("dead")), (7, 2), "{o:#}");
    assert_eq!(o["stats"]["completed"], 7);
    assert!(
        o["hosts"]["dash-host"]["current_memory_mb"]
            .as_u64()
            .is_some(),
        "{o:#}"
    );

    // Lists by state, type and group, a page at a time.
    let (s, p) = api.get("/v1/jobs?status=pending&type=echo").await;
    assert_eq!(s, 200, "{p}");
    let ids = |p: &Value| -> Vec<String> {
        p["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(p["total"], 5);
    assert_eq!(ids(&p).len(), 5);
    let (_, g1) = api.get("/v1/jobs?status=pending&type=echo&group=g1").await;
    assert_eq!(ids(&g1), ["held-0", "held-1", "held-2"], "{g1}");
    let (_, any_type) = api.get("/v1/jobs?status=pending&group=g2").await;
    assert_eq!(ids(&any_type), ["held-3", "held-4"], "{any_type}");
    let (_, first) = api.get("/v1/jobs?status=pending&type=echo&limit=2").await;
    assert_eq!(first["next_offset"], 2);
    let (_, second) = api
        .get("/v1/jobs?status=pending&type=echo&limit=2&offset=2")
        .await;
    assert!(ids(&first).iter().all(|id| !ids(&second).contains(id)));
    let (_, dead) = api.get("/v1/jobs?status=dead").await;
    let mut dead_ids = ids(&dead);
    dead_ids.sort();
    assert_eq!(dead_ids, ["doomed-0", "doomed-1"]);
    assert!(
        dead["jobs"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("failed on purpose")
    );
    let (_, done) = api.get("/v1/jobs?status=completed&type=chaos.fanout").await;
    assert_eq!(ids(&done), ["fan"]);
    let (_, done) = api.get("/v1/jobs?status=completed").await;
    assert_eq!(ids(&done).len(), 7, "{done}");

    // A job's children, in the order it submitted them.
    let (s, c) = api.get("/v1/jobs/fan/children").await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["total"], 3);
    let kids = c["jobs"].as_array().unwrap();
    assert!(
        kids.iter()
            .all(|k| k["status"] == "completed" && k["parent"] == "fan"),
        "{c}"
    );
    let (s, c) = api.get("/v1/jobs/fan/children?offset=1&limit=1").await;
    assert_eq!((s, c["jobs"].as_array().unwrap().len()), (200, 1));
    assert_eq!(c["jobs"][0]["id"], kids[1]["id"]);

    // Bad input: a clear 4xx naming the problem.
    for (path, status, word) in [
        ("/v1/jobs?status=bogus", 400, "unknown job status"),
        ("/v1/jobs?status=waiting", 400, "not listed by state"),
        (
            "/v1/jobs?status=dead&offset=999999999999",
            400,
            "offset must be",
        ),
        ("/v1/jobs?status=dead&limit=0", 400, "limit 1 to 500"),
        ("/v1/jobs?status=dead&limit=100000", 400, "limit 1 to 500"),
        (
            "/v1/jobs?status=dead&type=no%20such%20type",
            400,
            "job type",
        ),
        ("/v1/jobs?status=dead&group=%01", 400, "group"),
        ("/v1/jobs?status=dead&bogus=1", 400, "unknown field"),
        ("/v1/jobs?status=dead&offset=-1", 400, "offset"),
        ("/v1/jobs/nope/children", 404, "nope"),
        ("/v1/bulk/nope", 404, "nope"),
        ("/v1/bulk/fan", 422, "not a bulk run"),
        ("/v1/bulk/fan/results.jsonl", 422, "not a bulk run"),
    ] {
        let (s, b) = api.get(path).await;
        assert_eq!(s, status, "{path}: {b}");
        assert!(
            b["error"]["message"].as_str().unwrap_or("").contains(word),
            "{path}: {b}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_cookie_and_every_action_needs_the_csrf_token() {
    const TOKEN: &str = "dash-secret-token";
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let host = Host::start_with_env(
        "login-host",
        &redis.url(),
        dir.path(),
        &[],
        &[("DECKHAND_API_TOKEN", TOKEN)],
    );
    let mut api = Api::new(&host);
    api.token = Some(TOKEN.into());
    api.ready(&host).await;
    let (s, b) = api
        .post("/v1/jobs", json!({"job_type": "chaos.fail", "payload": {"error": "fail"}, "id": "d1", "max_retries": 0}))
        .await;
    assert_eq!(s, 201, "{b}");
    api.wait(&["d1"]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = host.api.clone();

    // No session: the page sends the browser to the login form; the API refuses.
    let r = http.get(format!("{base}/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/login");
    let r = http
        .get(format!("{base}/v1/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let login = http.get(format!("{base}/ui/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(
        login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(login.text().await.unwrap().contains("name=\"token\""));

    // A wrong token: 401 and the form again, no cookie.
    let r = http
        .post(format!("{base}/ui/login"))
        .form(&[("token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(session_cookie(&r).is_none());
    assert!(r.text().await.unwrap().contains("not the API token"));
    // A login form posted from another site is refused before it is read.
    let r = http
        .post(format!("{base}/ui/login"))
        .header("origin", "http://evil.example")
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none());

    // The right token: an HttpOnly, SameSite=Strict cookie and the page.
    let r = http
        .post(format!("{base}/ui/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = session_cookie(&r).unwrap();
    let r = http
        .get(format!("{base}/ui/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/ui/app.js"));
    let session: Value = http
        .get(format!("{base}/ui/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = session["csrf"].as_str().unwrap().to_string();
    assert_eq!(session["open"], false);
    let r = http
        .get(format!("{base}/v1/overview"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Actions with the cookie but without the CSRF token, a wrong one, a
    // form post, or from another origin: 403, and the dead job stays dead.
    let purge = format!("{base}/v1/dlq/purge");
    let attempts = [
        http.post(&purge)
            .header("cookie", &cookie)
            .json(&json!({"all": true})),
        http.post(&purge)
            .header("cookie", &cookie)
            .header("x-csrf-token", "0".repeat(32))
            .json(&json!({"all": true})),
        http.post(&purge)
            .header("cookie", &cookie)
            .form(&[("all", "true")]),
        http.post(&purge)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("origin", "http://evil.example")
            .json(&json!({"all": true})),
        http.post(&purge)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"all": true})),
    ];
    for (i, req) in attempts.into_iter().enumerate() {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "attempt {i}");
        let body: Value = r.json().await.unwrap();
        assert!(
            ["csrf", "cross_origin"].contains(&code(&body)),
            "attempt {i}: {body}"
        );
    }
    let (_, dlq) = api.get("/v1/dlq").await;
    assert_eq!(dlq["total"], 1, "nothing was purged: {dlq}");

    // An expired session (signed with the same token, issued 13 hours ago)
    // and a tampered one: 401; the page goes to the login form, saying so.
    let now = deckhand::queue::now_ms();
    let expired = format!(
        "deckhand_session={}",
        Sessions::new(TOKEN).issue(now - 13 * 3600 * 1000)
    );
    let r = http
        .get(format!("{base}/v1/overview"))
        .header("cookie", &expired)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(code(&r.json().await.unwrap()), "session_expired");
    let r = http
        .get(format!("{base}/ui/"))
        .header("cookie", &expired)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/ui/login?expired=1");
    let page = http
        .get(format!("{base}/ui/login?expired=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("session has expired"));
    let other = format!(
        "deckhand_session={}",
        Sessions::new("another-token").issue(now)
    );
    let r = http
        .get(format!("{base}/v1/overview"))
        .header("cookie", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // With the token: the action goes through.
    let r = http
        .post(&purge)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", &base)
        .json(&json!({"ids": ["d1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, dlq) = api.get("/v1/dlq").await;
    assert_eq!(dlq["total"], 0);

    // Logging out clears the cookie.
    let r = http
        .post(format!("{base}/ui/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

/// Starts the HSDS pipeline's job types (their LLM a fake answering `{}`)
/// and runs a bulk job over `n` sample records.
async fn bulk_run(
    redis: &TestRedis,
    fake: &FakeLlm,
    n: usize,
    extra_env: &[(&str, &str)],
) -> (Host, tempfile::TempDir) {
    let dir = plugin_dir(&[
        "echo",
        "chaos",
        "llm",
        "hsds_alignment",
        "hsds_validation",
        "bulk",
        "scraper",
    ]);
    // The mapper asks the LLM only small questions; an empty answer leaves
    // them unanswered, so records end in different states.
    fake.always(Answer::content("{}"));
    let url = fake.url();
    let host = Host::start_with_env(
        "bulk-host",
        &redis.url(),
        dir.path(),
        &[
            "--llm-provider",
            "openai",
            "--llm-base-url",
            &url,
            "--llm-model",
            "fake",
            "--batch-size",
            "4",
        ],
        extra_env,
    );
    let mut api = Api::new(&host);
    api.token = extra_env
        .iter()
        .find(|(k, _)| *k == "DECKHAND_API_TOKEN")
        .map(|(_, v)| v.to_string());
    api.ready(&host).await;
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/haarrrvest-sample.jsonl")).unwrap();
    let lines: Vec<String> = text
        .lines()
        .take(n)
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            json!({ "raw_input": v["raw_input"] }).to_string()
        })
        .collect();
    let (s, b) = api
        .post("/v1/jobs", json!({"job_type": "bulk", "id": "run-1", "payload": {"jsonl": lines.join("\n"), "max_retries": 0}}))
        .await;
    assert_eq!(s, 201, "{b}");
    let done = api.wait(&["run-1"]).await;
    let report =
        serde_json::from_str::<Value>(done[0]["result"].as_str().unwrap()).unwrap()["report"]
            .as_str()
            .unwrap()
            .to_string();
    let (s, w) = api
        .post(
            "/v1/jobs/wait",
            json!({"ids": [report], "timeout_secs": 120}),
        )
        .await;
    assert_eq!(s, 200, "{w}\n{}", host.log());
    (host, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_run_reads_as_rows_filters_by_state_and_downloads_as_jsonl() {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    let (host, _dir) = bulk_run(&redis, &fake, 5, &[]).await;
    let api = Api::new(&host);
    let (s, page) = api.get("/v1/bulk/run-1?limit=3").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["records"], 5);
    // The columns are what the run's result names (`rows.jobs`).
    assert_eq!(
        page["columns"],
        json!(["alignment", "validation"]),
        "{page}"
    );
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(page["next_offset"], 3);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["index"], i);
        assert_eq!(row["alignment"]["id"], format!("run-1.align.{i}"));
        assert_eq!(row["validation"]["id"], format!("run-1.validate.{i}"));
        assert!(row["state"].is_string(), "{row}");
        if ["verified", "needs_review", "rejected"].contains(&row["state"].as_str().unwrap()) {
            assert!(row["score"].is_number(), "{row}");
        }
    }
    // Each row's state matches its jobs as the API reports them.
    let (_, all) = api.get("/v1/bulk/run-1").await;
    for row in all["rows"].as_array().unwrap() {
        let (_, v) = api
            .get(&format!(
                "/v1/jobs/{}",
                row["validation"]["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(row["validation"]["status"], v["status"], "{row}");
        if v["status"] == "completed" {
            let r: Value = serde_json::from_str(v["result"].as_str().unwrap()).unwrap();
            assert_eq!(row["state"], r["status"]);
            assert_eq!(row["score"], r["score"]);
        }
    }
    // A state filter keeps exactly the rows in it.
    let state = all["rows"][0]["state"].as_str().unwrap().to_string();
    let expected = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == state.as_str())
        .count();
    let (_, only) = api.get(&format!("/v1/bulk/run-1?state={state}")).await;
    let kept = only["rows"].as_array().unwrap();
    assert_eq!(kept.len(), expected, "{only}");
    assert!(kept.iter().all(|r| r["state"] == state.as_str()));
    // The download: one JSON line per record, with the validation's result.
    let resp = api
        .http
        .get(format!("{}/v1/bulk/run-1/results.jsonl", host.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("run-1.jsonl")
    );
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["index"], i);
        if l["validation"]["status"] == "completed" {
            assert!(l["validation"]["result"]["status"].is_string(), "{l}");
        }
    }
    let (s, b) = api.get("/v1/bulk/run-1?offset=999999999999").await;
    assert_eq!((s, code(&b)), (400, "invalid_request"));
}

/// Where the browser test's screenshots go.
fn screenshot_dir() -> std::path::PathBuf {
    root().join("target/ui-screenshots")
}

/// A record whose hours code cannot settle, waiting for review (its notes
/// try to inject markup the page must show as text).
async fn review_me(api: &Api) {
    let unclear = json!({ "name": "Hope Pantry", "address": "12 Oak St, Camden, NJ 08102",
        "hours": "Hours: 10am - noon, office 1pm - 4pm | Days: Tuesday and Thursday when school is in session",
        "notes": "<b id=injected>bold</b>" });
    let (s, b) = api
        .post("/v1/jobs", json!({"job_type": "hsds_alignment", "id": "review-me", "payload": {"raw_data": unclear, "review": true}}))
        .await;
    assert_eq!(s, 201, "{b}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while api.get("/v1/jobs/review-me").await.1["status"] != "suspended" {
        assert!(
            std::time::Instant::now() < deadline,
            "review-me never suspended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_works_in_a_real_browser() {
    const TOKEN: &str = "browser-token";
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    let (host, dir) = bulk_run(&redis, &fake, 4, &[("DECKHAND_API_TOKEN", TOKEN)]).await;
    let mut api = Api::new(&host);
    api.token = Some(TOKEN.into());
    populate(&api).await;
    // A job dead because its dependency died: replayed from the browser,
    // it runs and completes.
    let (s, b) = api
        .post("/v1/jobs", json!({"job_type": "chaos.talk", "payload": {}, "id": "replay-me", "depends_on": ["doomed-0"]}))
        .await;
    assert_eq!(s, 201, "{b}");
    api.wait(&["replay-me"]).await;
    review_me(&api).await;
    // A file that is not a component, which the plugins page lists as a
    // load error.
    install(&dir.path().join("broken.wasm"), b"not a component");
    let (_, dlq) = api.get("/v1/dlq").await;
    let dead_before = dlq["total"].as_u64().unwrap();
    let expired = Sessions::new(TOKEN).issue(deckhand::queue::now_ms() - 13 * 3600 * 1000);
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let script = root().join("tests/ui/dashboard.mjs");
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new("node")
            .arg(&script)
            .env("DASH_BASE", &host.api)
            .env("DASH_TOKEN", TOKEN)
            .env("DASH_EXPIRED_COOKIE", expired)
            .env("DASH_SCREENSHOTS", &shots)
            .current_dir(root().join("tests/ui"))
            .output(),
    )
    .await
    .expect("the browser test finishes within 4 minutes")
    .expect("node runs (the README's test command installs it and chromium)");
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{log}");
    assert!(
        out.status.success(),
        "browser test failed:\n{log}\nhost log:\n{}",
        host.log()
    );
    // The replayed job completed, and the forged purge removed nothing.
    let (_, job) = api.get("/v1/jobs/replay-me").await;
    assert_eq!(job["status"], "completed", "{job}");
    let (_, job) = api.get("/v1/jobs/held-4").await;
    assert_eq!(job["status"], "cancelled", "{job}");
    // Answered in the browser by clicking a candidate.
    let (_, job) = api.get("/v1/jobs/review-me").await;
    let result: Value = serde_json::from_str(job["result"].as_str().unwrap_or("{}")).unwrap();
    assert_eq!(
        result["provenance"]["/location/0/schedules/0/byday"]["how"], "reviewed",
        "{job}"
    );
    let (_, dlq) = api.get("/v1/dlq").await;
    assert_eq!(dlq["total"].as_u64(), Some(dead_before - 1), "{dlq}");
    for page in [
        "overview",
        "job",
        "dlq",
        "bulk",
        "plugins",
        "review",
        "overview-phone-dark",
    ] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "no screenshot of {page}"
        );
    }
}

// ------------------------------------------------ the scripts' new branches

mod scripts {
    use std::time::Duration;

    use super::common;
    use super::common::redis::TestRedis;
    use deckhand::job::{NewJob, Payload};
    use deckhand::queue::{ClaimedJob, Completion, Queue, QueueConfig};

    const LEASE: Duration = Duration::from_secs(30);

    async fn conn(redis: &TestRedis) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Redis' current Unix minute, waiting out a minute's last 10 s so two
    /// steps of a test fall in the same minute.
    async fn minute(c: &mut ::redis::aio::MultiplexedConnection) -> u64 {
        loop {
            let (s, _): (u64, u64) = ::redis::cmd("TIME").query_async(c).await.unwrap();
            if s % 60 < 50 {
                return s / 60;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn run(q: &Queue, jobs: &[NewJob]) -> Vec<ClaimedJob> {
        q.submit_batch(jobs.to_vec()).await.unwrap();
        // A claim takes at most 1,000.
        let mut claimed = Vec::new();
        while claimed.len() < jobs.len() {
            let more = q
                .claim("h", &["a"], jobs.len() - claimed.len(), LEASE)
                .await
                .unwrap();
            assert!(!more.is_empty());
            claimed.extend(more);
        }
        let done: Vec<Completion> = claimed
            .iter()
            .map(|job| Completion {
                job,
                result: "{}",
                plugin_version: "v",
                cache_hit: false,
            })
            .collect();
        for chunk in done.chunks(1000) {
            q.complete_many(chunk).await.unwrap();
        }
        claimed
    }

    /// A queue of job type `a` taking batches of up to 2,000.
    async fn queue(redis: &TestRedis) -> Queue {
        let config = QueueConfig {
            max_batch_jobs: 2000,
            ..QueueConfig::default()
        };
        common::queue_with_types(&redis.url(), config, "h", &["a"]).await
    }

    fn job(id: String) -> NewJob {
        NewJob {
            id: Some(id),
            ..NewJob::new("a", Payload::parse("{}").unwrap())
        }
    }

    /// A minute's first count drops the minutes older than an hour; later
    /// counts in the same minute leave the hash alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_minutes_first_count_trims_the_hour_and_later_counts_do_not() {
        let redis = TestRedis::start();
        let q = queue(&redis).await;
        let mut c = conn(&redis).await;
        let now = minute(&mut c).await;
        let key = "{deckhand}:minutes";
        let (old, kept) = (format!("c{}", now - 61), format!("c{}", now - 30));
        let _: () = ::redis::cmd("HSET")
            .arg(key)
            .arg(&old)
            .arg(5)
            .arg(format!("d{}", now - 90))
            .arg(1)
            .arg(&kept)
            .arg(7)
            .query_async(&mut c)
            .await
            .unwrap();
        run(&q, &[job("m1".into())]).await;
        let fields: std::collections::BTreeMap<String, u64> = ::redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(fields.get(&old), None, "{fields:?}");
        assert_eq!(fields.get(&format!("d{}", now - 90)), None, "{fields:?}");
        assert_eq!(fields.get(&kept), Some(&7));
        assert_eq!(fields.get(&format!("c{now}")), Some(&1));
        // A second count this minute: an old field put back stays.
        let _: () = ::redis::cmd("HSET")
            .arg(key)
            .arg(&old)
            .arg(5)
            .query_async(&mut c)
            .await
            .unwrap();
        run(&q, &[job("m2".into()), job("m3".into())]).await;
        let fields: std::collections::BTreeMap<String, u64> = ::redis::cmd("HGETALL")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(fields.get(&old), Some(&5));
        assert_eq!(fields.get(&format!("c{now}")), Some(&3));
        let done: u64 = ::redis::cmd("HGET")
            .arg("{deckhand}:done")
            .arg("a")
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(done, 3);
    }

    /// The latest ended ids are capped, newest first; a job's list of
    /// children expires with it, and a job without children makes none.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recent_ids_are_capped_and_children_lists_expire_with_their_parent() {
        let redis = TestRedis::start();
        let q = queue(&redis).await;
        let mut c = conn(&redis).await;
        let jobs: Vec<NewJob> = (0..1005).map(|i| job(format!("r{i}"))).collect();
        let claimed = run(&q, &jobs).await;
        let recent: Vec<String> = ::redis::cmd("LRANGE")
            .arg("{deckhand}:recent")
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(recent.len(), 1000);
        assert_eq!(recent[0], claimed[1004].id, "newest first");

        // A parent running, with two children submitted by it.
        q.submit(job("parent".into())).await.unwrap();
        let parent = q.claim("h", &["a"], 1, LEASE).await.unwrap().remove(0);
        for i in 0..2 {
            q.submit(NewJob {
                parent: Some("parent".into()),
                ..job(format!("kid{i}"))
            })
            .await
            .unwrap();
        }
        let (_, kids) = q.children("parent", 0, 10).await.unwrap();
        let ids: Vec<&str> = kids.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["kid0", "kid1"]);
        let ttl = |k: &'static str| {
            let mut c = c.clone();
            async move {
                let t: i64 = ::redis::cmd("TTL")
                    .arg(k)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                t
            }
        };
        assert_eq!(
            ttl("{deckhand}:children:parent").await,
            -1,
            "no expiry while it runs"
        );
        q.complete_many(&[Completion {
            job: &parent,
            result: "{}",
            plugin_version: "v",
            cache_hit: false,
        }])
        .await
        .unwrap();
        assert!(ttl("{deckhand}:children:parent").await > 0);
        let exists: u64 = ::redis::cmd("EXISTS")
            .arg("{deckhand}:children:r0")
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(exists, 0);
    }
}
