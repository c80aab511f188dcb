//! Durable waits, through the real binary: a job suspended on a token holds
//! no slot (a cap of 1 lets another run), survives a host kill -9 and a
//! Redis restart from its AOF, is resumed once by the API or the CLI (a
//! second resume is refused), and a wait that runs out ends as its policy
//! says.

use crate::common;

use std::time::{Duration, Instant};

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

/// Polls job `id` until its status is `status`; its record then.
async fn until_status(api: &Api, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, job) = api.get(&format!("/v1/jobs/{id}")).await;
        if code == 200 && job["status"] == status {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never became {status}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn wait_job(id: &str, wait: Value) -> Value {
    json!({ "job_type": "chaos.wait", "id": id, "payload": wait, "max_retries": 0 })
}

fn start_host(name: &str, redis: &TestRedis, dir: &std::path::Path) -> Host {
    // The test host ends waits that ran out every 200 ms (its reap interval).
    Host::start(name, &redis.url(), dir, &[])
}

/// Resumes suspended job `id` with `deckhand resume TOKEN --value FILE`,
/// then checks a second resume is refused.
async fn resume_by_cli(api: &Api, redis: &TestRedis, id: &str) {
    let suspended = until_status(api, id, "suspended").await;
    let token = suspended["wait"]["token"].as_str().unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), r#"{"day": "Tuesday"}"#).unwrap();
    let resume = || {
        deckhand()
            .args(["resume", token, "--value"])
            .arg(file.path())
            .args(["--redis-url", &redis.url()])
            .output()
            .unwrap()
    };
    let out = resume();
    assert!(out.status.success(), "{}", stderr(&out));
    let done = until_status(api, id, "completed").await;
    assert!(
        done["result"].as_str().unwrap().contains("Tuesday"),
        "{done}"
    );
    let out = resume();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already ended"), "{}", stderr(&out));
}

/// Resumes that are refused write nothing: a token that does not parse,
/// one that names the job with the wrong secret, a value that is not JSON.
async fn refusals_write_nothing(api: &Api, token: &str) {
    let (code, body) = api.post("/v1/tokens/not-a-token", json!(1)).await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (400, &json!("invalid_request")),
        "{body}"
    );
    let forged = format!("{}{}", "0".repeat(32), &token[32..]);
    let (code, body) = api.post(&format!("/v1/tokens/{forged}"), json!(1)).await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (404, &json!("unknown_token")),
        "{body}"
    );
    let (code, _) = api
        .raw(&format!("/v1/tokens/{token}"), b"{oops".to_vec())
        .await;
    assert_eq!(code, 400);
    until_status(api, "w1", "suspended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_job_holds_no_slot_survives_kill_and_restart_and_resumes_once() {
    let mut redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let mut host = start_host("wait-a", &redis, dir.path());
    let api = Api::new(&host);
    api.ready(&host).await;
    let (code, body) = api
        .post("/v1/job-types/chaos.wait/cap", json!({ "max_running": 1 }))
        .await;
    assert_eq!(code, 200, "{body}");
    let question = json!({ "prompt": "Which day?", "candidates": ["Monday", "Tuesday"] });
    let wait = json!({ "name": "review", "question": question, "timeout_ms": 600_000 });
    for id in ["w1", "w2"] {
        let (code, body) = api.post("/v1/jobs", wait_job(id, wait.clone())).await;
        assert_eq!(code, 201, "{body}");
    }
    // Both suspend: with a cap of 1, the second ran only because the
    // first, suspended, holds no slot.
    let w1 = until_status(&api, "w1", "suspended").await;
    until_status(&api, "w2", "suspended").await;
    assert_eq!(w1["wait"]["name"], "review", "{w1}");
    assert_eq!(w1["wait"]["on_timeout"], "fail", "{w1}");
    let asked: Value = serde_json::from_str(w1["wait"]["question"].as_str().unwrap()).unwrap();
    assert_eq!(asked, question);
    let (_, listed) = api.get("/v1/jobs?status=suspended").await;
    assert_eq!(listed["jobs"].as_array().map(Vec::len), Some(2), "{listed}");
    let (_, health) = api.get("/health").await;
    assert_eq!(health["running_jobs"], 0, "{health}");
    let metrics = api.text("/metrics").await;
    assert!(
        metrics.contains("deckhand_queue_jobs{status=\"suspended\"} 2"),
        "{metrics}"
    );

    // The host dies hard, Redis restarts from its AOF, a new host comes.
    host.kill9();
    redis.kill();
    redis.restart();
    let host = start_host("wait-b", &redis, dir.path());
    let api = Api::new(&host);
    api.ready(&host).await;
    let w1 = until_status(&api, "w1", "suspended").await;
    let token = w1["wait"]["token"].as_str().unwrap().to_string();

    refusals_write_nothing(&api, &token).await;
    // Resumed by the API: it runs again with the value, once.
    let (code, body) = api
        .post(&format!("/v1/tokens/{token}"), json!({ "day": "Monday" }))
        .await;
    assert_eq!(code, 200, "{body}");
    let done = until_status(&api, "w1", "completed").await;
    let result: Value = serde_json::from_str(done["result"].as_str().unwrap()).unwrap();
    assert_eq!(
        result["resumed"],
        json!({ "name": "review", "value": { "day": "Monday" } })
    );
    assert_eq!(result["attempt"], 2, "{result}");
    let (code, body) = api
        .post(&format!("/v1/tokens/{token}"), json!("again"))
        .await;
    assert_eq!(
        (code, &body["error"]["code"]),
        (409, &json!("wait_ended")),
        "{body}"
    );

    // Resumed by the CLI, from a file; a second time is refused.
    resume_by_cli(&api, &redis, "w2").await;
    let (_, stats) = api.get("/v1/overview").await;
    assert_eq!(stats["stats"]["resumed"], 2, "{stats}");
    assert_eq!(stats["suspended"], 0, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_runs_out_ends_as_its_policy_says() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let host = start_host("wait-t", &redis, dir.path());
    let api = Api::new(&host);
    api.ready(&host).await;
    let short = |policy: &str| json!({ "name": "late", "timeout_ms": 300, "on_timeout": policy });
    let jobs = [
        wait_job("as-is", short("complete")),
        wait_job("gone", short("dead-letter")),
        json!({ "job_type": "chaos.wait", "id": "again", "payload": short("fail"), "max_retries": 1 }),
        wait_job(
            "twice",
            json!({ "twice": true, "timeout_ms": 300, "on_timeout": "complete" }),
        ),
    ];
    for job in jobs {
        let (code, body) = api.post("/v1/jobs", job).await;
        assert_eq!(code, 201, "{body}");
    }
    let as_is = until_status(&api, "as-is", "completed").await;
    assert_eq!(
        as_is["result"],
        json!({ "as_is": 1, "second": null }).to_string()
    );
    let gone = until_status(&api, "gone", "dead").await;
    assert_eq!(gone["errors"][0]["kind"], "wait_timeout", "{gone}");
    // `fail`: a failed attempt, retried once (it suspends again), then dead.
    let again = until_status(&api, "again", "dead").await;
    let kinds: Vec<&Value> = again["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["kind"])
        .collect();
    assert_eq!(
        kinds,
        [&json!("wait_timeout"), &json!("wait_timeout")],
        "{again}"
    );
    assert_eq!(again["attempts"], 2, "{again}");
    // A second suspend in one attempt is refused, the first stands.
    let twice = until_status(&api, "twice", "completed").await;
    assert!(
        twice["result"].as_str().unwrap().contains("already asked"),
        "{twice}"
    );
    let (_, overview) = api.get("/v1/overview").await;
    assert_eq!(overview["stats"]["waits_timed_out"], 5, "{overview}");
}

/// Hours code cannot read, and a known field it did not place, put to a
/// person: the record's alignment waits (and so does its validation and the
/// run's report); the answers, picked from the candidates, land as a
/// schedule and a website with provenance `reviewed`, validation then runs
/// on the completed document, and the report counts the answered review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_run_with_review_waits_for_the_answer_and_ends_with_it() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["hsds_alignment", "hsds_validation", "bulk"]);
    let host = start_host("wait-r", &redis, dir.path());
    let api = Api::new(&host);
    api.ready(&host).await;
    let unclear = json!({ "raw_data": { "name": "Hope Pantry", "address": "12 Oak St, Camden, NJ 08102",
        "hours": "Hours: 10am - noon, office 1pm - 4pm | Days: Tuesday and Thursday when school is in session",
        "notes": "News at hopepantry.org/news" }, "known_fields": { "website": true } });
    let clear = json!({ "name": "Elm Pantry", "address": "3 Elm St, Camden, NJ 08102",
        "hours": "Mon 9:00-11:00" });
    let (code, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "bulk", "id": "rv",
            "payload": { "records": [unclear, clear], "review": true, "max_retries": 0 } }),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let waiting = until_status(&api, "rv.align.0", "suspended").await;
    until_status(&api, "rv.align.1", "completed").await;
    let question: Value =
        serde_json::from_str(waiting["wait"]["question"].as_str().unwrap()).unwrap();
    assert_eq!(waiting["wait"]["name"], "review");
    assert!(
        question["context"]
            .as_str()
            .unwrap()
            .contains("Hope Pantry"),
        "{question}"
    );
    let asked = &question["questions"][0];
    let pick = asked["candidates"][0].as_str().unwrap();
    assert_eq!(pick, "tuesday and thursday 10am - noon", "{asked}");
    let site = &question["questions"][1];
    assert_eq!(site["key"], "website:0:", "{question}");
    assert_eq!(site["candidates"], json!(["hopepantry.org/news"]), "{site}");
    // The run waits for the person: its report has not run.
    let (_, report) = api.get("/v1/jobs/rv.report").await;
    assert_eq!(report["status"], "waiting", "{report}");
    let (_, rows) = api.get("/v1/bulk/rv").await;
    assert_eq!(rows["states_seen"]["suspended"], 1, "{rows}");

    let token = waiting["wait"]["token"].as_str().unwrap();
    let key = asked["key"].as_str().unwrap();
    let (code, body) = api
        .post(
            &format!("/v1/tokens/{token}"),
            json!({ "answers": { key: pick, "website:0:": "hopepantry.org/news" } }),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let done = until_status(&api, "rv.align.0", "completed").await;
    let result: Value = serde_json::from_str(done["result"].as_str().unwrap()).unwrap();
    let schedule = &result["hsds"]["location"][0]["schedules"][0];
    assert_eq!(
        (schedule["byday"].as_str(), schedule["opens_at"].as_str()),
        (Some("TU,TH"), Some("10:00")),
        "{result}"
    );
    assert_eq!(
        result["provenance"]["/location/0/schedules/0/opens_at"]["how"], "reviewed",
        "{result}"
    );
    assert_eq!(result["unsettled"], json!([]), "{result}");
    assert_eq!(result["reviewed"][0]["settled"], true, "{result}");
    assert_eq!(
        result["hsds"]["organization"][0]["website"],
        "https://hopepantry.org/news"
    );
    assert_eq!(
        result["provenance"]["/organization/0/website"]["how"], "reviewed",
        "{result}"
    );
    let report = until_status(&api, "rv.report", "completed").await;
    let report: Value = serde_json::from_str(report["result"].as_str().unwrap()).unwrap();
    assert_eq!(report["alignment"]["completed"], 2, "{report}");
    assert_eq!(report["review"], json!({ "answered": 1 }), "{report}");
    assert_eq!(report["results"][0]["review"], "answered", "{report}");
    assert!(report["validation"].get("missing").is_none(), "{report}");
    assert_eq!(
        report["results"][0]["validation_status"]
            .as_str()
            .map(|s| s.starts_with("not_run")),
        Some(false),
        "{report}"
    );
}

/// Records waiting for a person are counted where a run is followed:
/// `deckhand bulk` says how many of its unfinished records wait for an
/// answer when it stops waiting; a `bulk` run whose review runs out ends
/// with the record as it stood, and its report counts it `timed_out`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_left_unanswered_are_counted_by_bulk_and_its_report() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["hsds_alignment", "hsds_validation", "bulk"]);
    let host = start_host("wait-c", &redis, dir.path());
    let api = Api::new(&host);
    api.ready(&host).await;
    let unclear = |review_timeout_ms: u64| {
        json!({ "raw_data": { "name": "Hope Pantry", "address": "12 Oak St, Camden, NJ 08102",
            "hours": "Pantry 10am - noon, office 1pm - 4pm | Days: Tuesday when school is in session" },
            "review": true, "review_timeout_ms": review_timeout_ms })
    };
    let clear = json!({ "raw_data": { "name": "Elm Pantry", "hours": "Mon 9:00-11:00" } });
    let work = tempfile::tempdir().unwrap();
    let (records, out) = (work.path().join("in.jsonl"), work.path().join("out.jsonl"));
    std::fs::write(&records, format!("{}\n{clear}\n", unclear(600_000))).unwrap();
    let run = deckhand()
        .args(["bulk", "hsds_alignment"])
        .arg(&records)
        .arg("--out")
        .arg(&out)
        .args(["--timeout", "8", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    // Still waiting when it stops waiting: the exit status says so (2).
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("1 completed (0 from the content store), 0 dead or cancelled, 1 unfinished (1 waiting for an answer)"),
        "{}",
        stdout(&run)
    );
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["status"], "suspended", "{first}");

    let mut short = unclear(300)["raw_data"].clone();
    short["name"] = json!("Late Pantry");
    let (code, body) = api
        .post(
            "/v1/jobs",
            json!({ "job_type": "bulk", "id": "rt",
            "payload": { "records": [short], "review": true, "review_timeout_ms": 300 } }),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let report = until_status(&api, "rt.report", "completed").await;
    let report: Value = serde_json::from_str(report["result"].as_str().unwrap()).unwrap();
    assert_eq!(report["review"], json!({ "timed_out": 1 }), "{report}");
    assert_eq!(report["alignment"]["completed"], 1, "{report}");
}

/// suspend.lua's branches, through the queue's API: a lost lease is
/// refused (nothing written), the same call again after a lost reply is
/// answered as before, and a cancel takes a suspended job off the waits.
mod scripts {
    use std::time::Duration;

    use crate::common::queue_with_types;
    use crate::common::redis::TestRedis;
    use deckhand::job::{JobFailure, NewJob, OnTimeout, Payload, Wait, WaitToken};
    use deckhand::queue::{Ack, JobStatus, QueueConfig, Resumed};

    #[tokio::test]
    async fn a_lost_lease_cannot_suspend_and_a_repeated_call_is_answered_the_same() {
        let redis = TestRedis::start();
        let q = queue_with_types(&redis.url(), QueueConfig::default(), "h", &["x"]).await;
        for id in ["a", "b"] {
            let req = NewJob {
                id: Some(id.into()),
                ..NewJob::new("x", Payload::parse("{}").unwrap())
            };
            q.submit(req).await.unwrap();
        }
        let claimed = q
            .claim("h", &["x"], 2, Duration::from_secs(60))
            .await
            .unwrap();
        let wait = Wait::new("w".into(), "{}".into(), 60_000, OnTimeout::Fail).unwrap();
        let (a, b) = (&claimed[0], &claimed[1]);
        let token = WaitToken::new(&a.id);
        let first = q.suspend(a, &wait, &token, "{}", "v").await.unwrap();
        assert_eq!(first, Ack::Recorded(JobStatus::Suspended));
        let again = q.suspend(a, &wait, &token, "{}", "v").await.unwrap();
        assert_eq!(
            again,
            Ack::Recorded(JobStatus::Suspended),
            "the same call again"
        );
        let other = WaitToken::new(&a.id);
        assert_eq!(
            q.suspend(a, &wait, &other, "{}", "v").await.unwrap(),
            Ack::Stale
        );
        // A lease taken over by another claim: refused, the job untouched.
        let mut lost = b.clone();
        lost.token = format!("{}-x", b.token);
        let token_b = WaitToken::new(&b.id);
        assert_eq!(
            q.suspend(&lost, &wait, &token_b, "{}", "v").await.unwrap(),
            Ack::Stale
        );
        assert_eq!(
            q.get(&b.id).await.unwrap().unwrap().status,
            JobStatus::Running
        );
        assert_eq!(
            q.running_by_type().await.unwrap()["x"],
            1,
            "a's slot is free"
        );
        // A cancelled suspended job leaves the waits: its token ends.
        q.cancel(&a.id).await.unwrap();
        assert_eq!(q.figures().await.unwrap().suspended, 0);
        let resumed = q.resume_wait(&token.to_string(), "1").await.unwrap();
        assert_eq!(resumed, Resumed::Ended);
        assert_eq!(
            q.resume_wait(&token_b.to_string(), "1").await.unwrap(),
            Resumed::Unknown
        );
    }

    /// A resumed attempt spends no retry: with one retry, the attempt a
    /// resume started fails and is retried (counted without the resume it
    /// would be the second attempt and out of retries).
    #[tokio::test]
    async fn a_resumed_attempt_spends_no_retry() {
        let redis = TestRedis::start();
        let q = queue_with_types(&redis.url(), QueueConfig::default(), "h", &["x"]).await;
        let req = NewJob {
            id: Some("c".into()),
            max_retries: Some(1),
            ..NewJob::new("x", Payload::parse("{}").unwrap())
        };
        q.submit(req).await.unwrap();
        let lease = Duration::from_secs(60);
        let first = q.claim("h", &["x"], 1, lease).await.unwrap().remove(0);
        let wait = Wait::new("w".into(), "{}".into(), 60_000, OnTimeout::Fail).unwrap();
        let token = WaitToken::new("c");
        q.suspend(&first, &wait, &token, "{}", "v").await.unwrap();
        let resumed = q.resume_wait(&token.to_string(), "\"go\"").await.unwrap();
        assert_eq!(resumed, Resumed::Resumed);
        let second = q.claim("h", &["x"], 1, lease).await.unwrap().remove(0);
        assert_eq!(second.attempt, 2);
        assert_eq!(
            second.feedback.as_deref(),
            Some(r#"{"resume":{"name":"w","value":"go"}}"#)
        );
        let failure = JobFailure::Retry {
            message: "once more".into(),
        };
        let after = q.fail(&second, &failure, "h", "v").await.unwrap();
        assert!(
            matches!(
                after,
                Ack::Recorded(JobStatus::Scheduled | JobStatus::Pending)
            ),
            "{after:?}"
        );
    }
}
