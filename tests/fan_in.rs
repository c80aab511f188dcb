//! A waiting job made to wait on more jobs (`Queue::wait_also`, the WIT
//! `jobs.wait-also`): the fan-in over work that fans out in stages. Every
//! branch of `wait_also.lua` against a real Redis.

use crate::common;

use std::time::Duration;

use common::redis::TestRedis;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{ClaimedJob, JobStatus, Queue, QueueConfig, QueueError};
use deckhand::runtime::JobFailure;

const HOST: &str = "test-host";
const LEASE: Duration = Duration::from_secs(30);

async fn queue(redis: &TestRedis) -> Queue {
    common::queue_with_types(
        &redis.url(),
        QueueConfig::default(),
        HOST,
        &["work", "report"],
    )
    .await
}

fn job(id: &str, job_type: &str, depends_on: &[&str]) -> NewJob {
    NewJob {
        id: Some(id.into()),
        depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
        ..NewJob::new(job_type, Payload::parse("{}").unwrap())
    }
}

async fn claim(q: &Queue, id: &str) -> ClaimedJob {
    let claimed = q.claim(HOST, &["work"], 1, LEASE).await.unwrap();
    let job = claimed.into_iter().next().expect("a job to claim");
    assert_eq!(job.id, id, "claimed in submission order");
    job
}

async fn status(q: &Queue, id: &str) -> JobStatus {
    q.get(id).await.unwrap().unwrap().status
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The report waits on the fan-out job; the fan-out job makes it wait on
/// what it submitted (a pending job and a completed one; a repeat is left
/// alone); the report runs only once the last of them completes.
#[tokio::test]
async fn a_report_made_to_wait_on_more_runs_after_all_of_them() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    q.submit(job("done", "work", &[])).await.unwrap();
    let done = claim(&q, "done").await;
    q.complete(&done, "{}", "v1").await.unwrap();
    q.submit(job("fan", "work", &[])).await.unwrap();
    let fan = claim(&q, "fan").await;
    q.submit(job("report", "report", &["fan"])).await.unwrap();
    q.submit(job("x", "work", &[])).await.unwrap();

    let added = q
        .wait_also(
            "fan",
            &fan.token,
            "report",
            &ids(&["x", "done", "x", "fan"]),
        )
        .await
        .unwrap();
    assert_eq!(added, 2, "x and done; the repeat and fan itself are known");
    let again = q
        .wait_also("fan", &fan.token, "report", &ids(&["x"]))
        .await
        .unwrap();
    assert_eq!(again, 0);
    let record = q.get("report").await.unwrap().unwrap();
    assert_eq!(record.depends_on, ids(&["fan", "x", "done"]));

    q.complete(&fan, "{}", "v1").await.unwrap();
    assert_eq!(status(&q, "report").await, JobStatus::Waiting, "x is open");
    let x = claim(&q, "x").await;
    q.complete(&x, "{}", "v1").await.unwrap();
    assert_eq!(status(&q, "report").await, JobStatus::Pending);
}

/// A child of the job the report waits on may extend it too (the parts of
/// a split run each add their own report).
#[tokio::test]
async fn a_child_of_the_awaited_job_may_extend_the_report() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    q.submit(job("run", "work", &[])).await.unwrap();
    let _run = claim(&q, "run").await;
    q.submit(job("report", "report", &["run"])).await.unwrap();
    let mut part = job("part", "work", &[]);
    part.parent = Some("run".into());
    q.submit(part).await.unwrap();
    let part = claim(&q, "part").await;
    q.submit(job("part-report", "work", &[])).await.unwrap();
    let added = q
        .wait_also("part", &part.token, "report", &ids(&["part-report"]))
        .await
        .unwrap();
    assert_eq!(added, 1);
    // A job unrelated to the report may not.
    q.submit(job("stranger", "work", &[])).await.unwrap();
    let stranger = q.claim(HOST, &["work"], 10, LEASE).await.unwrap();
    let stranger = stranger.iter().find(|j| j.id == "stranger").unwrap();
    let refused = q
        .wait_also("stranger", &stranger.token, "report", &ids(&["part"]))
        .await;
    assert!(
        matches!(refused, Err(QueueError::CannotExtend { .. })),
        "{refused:?}"
    );
}

/// Every refusal writes nothing: the report's dependencies stay as they were.
#[tokio::test]
async fn refusals_name_the_problem_and_change_nothing() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    q.submit(job("fan", "work", &[])).await.unwrap();
    let fan = claim(&q, "fan").await;
    q.submit(job("report", "report", &["fan"])).await.unwrap();
    q.submit(job("ready", "report", &[])).await.unwrap();
    q.submit(job("other", "report", &["ready"])).await.unwrap();
    q.submit(job("doomed", "work", &[])).await.unwrap();
    let doomed = claim(&q, "doomed").await;
    let permanent = JobFailure::Fail {
        message: "no".into(),
    };
    q.fail(&doomed, &permanent, HOST, "v1").await.unwrap();
    assert_eq!(status(&q, "doomed").await, JobStatus::Dead);

    let cases: Vec<(&str, &str, Vec<String>, &str)> = vec![
        ("a stale token", "report", ids(&["ready"]), "lease"),
        (
            "a target not waiting",
            "ready",
            ids(&["doomed"]),
            "not waiting",
        ),
        (
            "a target waiting on others",
            "other",
            ids(&["fan"]),
            "not waiting",
        ),
        ("no such target", "nobody", ids(&["ready"]), "not waiting"),
        (
            "an unknown dependency",
            "report",
            ids(&["ready", "ghost"]),
            "ghost",
        ),
        ("itself", "report", ids(&["report"]), "itself"),
        (
            "a dead dependency",
            "report",
            ids(&["doomed"]),
            "already failed",
        ),
    ];
    for (what, target, deps, says) in cases {
        let token = if what == "a stale token" {
            "not-the-token"
        } else {
            fan.token.as_str()
        };
        let err = q
            .wait_also("fan", token, target, &deps)
            .await
            .expect_err(what)
            .to_string();
        assert!(err.contains(says), "{what}: {err}");
    }
    let record = q.get("report").await.unwrap().unwrap();
    assert_eq!(record.depends_on, ids(&["fan"]), "nothing written");
    q.complete(&fan, "{}", "v1").await.unwrap();
    assert_eq!(status(&q, "report").await, JobStatus::Pending);

    // Over 1,000 dependencies in one call: refused before Redis.
    let many: Vec<String> = (0..1001).map(|i| format!("j{i}")).collect();
    let err = q.wait_also("fan", &fan.token, "report", &many).await;
    assert!(matches!(err, Err(QueueError::Invalid { .. })), "{err:?}");
}

/// A report that runs after failures may wait on a dead job (it counts as
/// finished); the cap of 1,000 dependencies holds across calls.
#[tokio::test]
async fn a_tolerant_report_takes_dead_jobs_and_the_cap_holds() {
    let redis = TestRedis::start();
    let q = queue(&redis).await;
    q.submit(job("doomed", "work", &[])).await.unwrap();
    let doomed = claim(&q, "doomed").await;
    let permanent = JobFailure::Fail {
        message: "no".into(),
    };
    q.fail(&doomed, &permanent, HOST, "v1").await.unwrap();
    q.submit(job("fan", "work", &[])).await.unwrap();
    let fan = claim(&q, "fan").await;
    let mut report = job("report", "report", &["fan"]);
    report.run_after_failure = true;
    q.submit(report).await.unwrap();
    let added = q
        .wait_also("fan", &fan.token, "report", &ids(&["doomed"]))
        .await
        .unwrap();
    assert_eq!(added, 1);

    // 998 more fill it to 1,000; one past that is refused whole.
    let fill: Vec<String> = (0..999).map(|i| format!("w{i}")).collect();
    for chunk in fill.chunks(100) {
        let batch = chunk.iter().map(|id| job(id, "work", &[])).collect();
        q.submit_batch(batch).await.unwrap();
    }
    let err = q
        .wait_also("fan", &fan.token, "report", &fill)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than 1000"), "{err}");
    assert_eq!(q.get("report").await.unwrap().unwrap().depends_on.len(), 2);
    let added = q
        .wait_also("fan", &fan.token, "report", &fill[..998])
        .await
        .unwrap();
    assert_eq!(added, 998);
    q.complete(&fan, "{}", "v1").await.unwrap();
    assert_eq!(status(&q, "report").await, JobStatus::Waiting);
}
