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

mod scripts;
mod sessions;

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
