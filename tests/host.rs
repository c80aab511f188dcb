//! Whole hosts (`deckhand serve` processes) against a private Redis: crashes,
//! freezes, Redis restarts, poison jobs, graceful shutdown, hot reload.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobRecord, JobStatus, Queue, QueueConfig};
use serde_json::{Value, json};

mod commands;

async fn connect(redis: &TestRedis) -> Queue {
    Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap()
}

async fn submit_many(q: &Queue, job_type: &str, payload: Value, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut payload = payload.clone();
        payload["i"] = json!(i);
        let s = q
            .submit(NewJob::new(
                job_type,
                Payload::parse(payload.to_string()).unwrap(),
            ))
            .await
            .unwrap();
        ids.push(s.id);
    }
    ids
}

async fn wait_all(q: &Queue, ids: &[String], hosts: &[&Host]) -> Vec<JobRecord> {
    match q.wait_for_jobs(ids, Duration::from_secs(120)).await {
        Ok(records) => records,
        Err(e) => {
            let logs: Vec<String> = hosts
                .iter()
                .map(|h| format!("--- {} ---\n{}", h.id, h.log()))
                .collect();
            panic!("jobs did not finish: {e}\n{}", logs.join("\n"));
        }
    }
}

/// Polls until `count` jobs among `ids` are `status`.
async fn wait_count(q: &Queue, ids: &[String], status: JobStatus, count: usize) {
    for _ in 0..600 {
        let mut n = 0;
        for id in ids {
            if q.get(id).await.unwrap().is_some_and(|j| j.status == status) {
                n += 1;
            }
        }
        if n >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} jobs reached {status} within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_over_the_cli_and_wait_for_the_result() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo", "chaos"]);
    let host = Host::start("h1", &redis.url(), dir.path(), &[]);
    let q = connect(&redis).await;
    common::registered(&q, &["echo"], None).await;

    let payload = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(payload.path(), r#"{"pantry":"Food Bank"}"#).unwrap();
    let out = deckhand()
        .args(["submit", "echo"])
        .arg(payload.path())
        .args(["--wait", "--id", "job-1", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stderr(&out), host.log());
    assert_eq!(
        serde_json::from_str::<Value>(stdout(&out).trim()).unwrap(),
        json!({"pantry": "Food Bank"})
    );

    let out = deckhand()
        .args(["status", "job-1", "--json", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    let status: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["worker"], "h1");
    let echo = std::fs::read(plugin_wasm("echo")).unwrap();
    assert_eq!(status["plugin_version"], sha256_hex(&echo));

    // Bad submissions: a clear message, exit code 2.
    let out = deckhand()
        .args(["submit", "no.such.type"])
        .arg(payload.path())
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown job type"),
        "{}",
        stderr(&out)
    );
    let out = deckhand()
        .args(["submit", "echo"])
        .arg(payload.path())
        .args(["--depends-on", "ghost", "--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown dependency \"ghost\""));

    // Fan-out: a job submits child jobs through the host.
    let out = deckhand()
        .args([
            "submit",
            "chaos.fanout",
            "-",
            "--wait",
            "--redis-url",
            &redis.url(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(br#"{"children":3}"#)?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", host.log());
    let result: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let children = common::api::children_in(&result);
    assert_eq!(children.len(), 3);
    let done = wait_all(&q, &children, &[&host]).await;
    for child in done {
        assert_eq!(child.status, JobStatus::Completed);
        assert_eq!(child.job_type, "echo");
        assert!(child.parent.is_some());
    }
}

/// kill -9 a host in the middle of a run of slow jobs: after a second host
/// drains the queue, every job is completed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_loses_nothing_and_completes_each_job_once() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let lease = ["--lease-ms", "1500", "--workers", "2", "--batch-size", "4"];
    let mut a = Host::start("a", &redis.url(), dir.path(), &lease);
    let q = connect(&redis).await;
    common::registered(&q, &["chaos.sleep"], None).await;
    let ids = submit_many(&q, "chaos.sleep", json!({"ms": 300}), 40).await;

    wait_count(&q, &ids, JobStatus::Completed, 4).await;
    a.kill9();
    let b = Host::start("b", &redis.url(), dir.path(), &lease);
    let done = wait_all(&q, &ids, &[&b]).await;

    assert!(done.iter().all(|j| j.status == JobStatus::Completed));
    let results: HashSet<&str> = done.iter().filter_map(|j| j.result.as_deref()).collect();
    assert_eq!(results.len(), 40, "one distinct result per job");
    let stats = q.stats().await.unwrap();
    assert_eq!(stats["completed"], 40, "each job completed exactly once");
    assert!(
        stats["reaped"] >= 1,
        "host a died holding leases: {stats:?}"
    );
    assert!(done.iter().any(|j| j.worker.as_deref() == Some("b")));
}

/// SIGSTOP a host past its lease, let another take its jobs, SIGCONT it: its
/// late outcomes are refused and each job keeps one result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_host_cannot_overwrite_results_when_it_wakes() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let flags = ["--lease-ms", "1000", "--workers", "1", "--batch-size", "6"];
    let a = Host::start("a", &redis.url(), dir.path(), &flags);
    let q = connect(&redis).await;
    common::registered(&q, &["chaos.sleep"], None).await;
    let ids = submit_many(&q, "chaos.sleep", json!({"ms": 2000}), 6).await;
    wait_count(&q, &ids, JobStatus::Running, 6).await;
    a.stop();

    let b = Host::start("b", &redis.url(), dir.path(), &flags);
    let done = wait_all(&q, &ids, &[&a, &b]).await;
    for job in &done {
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.worker.as_deref(), Some("b"));
        assert_eq!(job.errors[0].kind, "lease_expired");
        assert_eq!(job.errors[0].host.as_deref(), Some("a"));
    }
    let results: Vec<Option<String>> = done.iter().map(|j| j.result.clone()).collect();

    a.cont();
    // Host a finds out, job by job, that it lost each lease.
    for id in &ids {
        let lost = format!("job_id={id}");
        for _ in 0..600 {
            let log = a.log();
            if log.lines().any(|l| {
                l.contains(&lost)
                    && (l.contains("lease lost")
                        || l.contains("outcome rejected")
                        || l.contains("no longer holds"))
            }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let after: Vec<JobRecord> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(q.get(id).await.unwrap().unwrap());
        }
        v
    };
    for (job, before) in after.iter().zip(&results) {
        assert_eq!(&job.result, before, "the woken host must not overwrite");
        assert_eq!(job.worker.as_deref(), Some("b"));
    }
    assert_eq!(q.stats().await.unwrap()["completed"], 6);
    let log = a.log();
    let noticed = ids
        .iter()
        .filter(|id| log.contains(&format!("job_id={id}")))
        .count();
    assert_eq!(noticed, 6, "host a logged each lost job:\n{log}");
}

/// Redis killed and restarted (AOF on) mid-run: hosts reconnect by
/// themselves and every acknowledged submission completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_ride_out_a_redis_restart() {
    let mut redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let flags = ["--lease-ms", "5000"];
    let a = Host::start("a", &redis.url(), dir.path(), &flags);
    let b = Host::start("b", &redis.url(), dir.path(), &flags);
    let q = connect(&redis).await;
    common::registered(&q, &["chaos.sleep"], None).await;
    let mut ids = submit_many(&q, "chaos.sleep", json!({"ms": 100}), 40).await;
    wait_count(&q, &ids, JobStatus::Completed, 5).await;

    redis.restart();
    // The test's own client reconnects too; these submissions are acknowledged
    // after the restart.
    let mut more = Vec::new();
    for _ in 0..100 {
        match q
            .submit(NewJob::new(
                "chaos.sleep",
                Payload::parse(r#"{"ms":50}"#).unwrap(),
            ))
            .await
        {
            Ok(s) => more.push(s.id),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        if more.len() == 10 {
            break;
        }
    }
    assert_eq!(more.len(), 10, "submissions resume after the restart");
    ids.extend(more);

    let done = wait_all(&q, &ids, &[&a, &b]).await;
    assert!(
        done.iter().all(|j| j.status == JobStatus::Completed),
        "{:?}",
        done.iter()
            .filter(|j| j.status != JobStatus::Completed)
            .collect::<Vec<_>>()
    );
    assert_eq!(q.stats().await.unwrap()["completed"], 50);
}

/// A job that traps on every attempt ends in the DLQ after max_retries, and
/// the CLI lists, shows, replays and purges it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_job_ends_in_the_dead_letter_queue() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let host = Host::start(
        "h",
        &redis.url(),
        dir.path(),
        &["--max-retries", "2", "--backoff-factor", "0.05"],
    );
    let q = connect(&redis).await;
    common::registered(&q, &["chaos.abort"], None).await;
    let ids = vec![
        q.submit(NewJob {
            max_retries: Some(2),
            ..NewJob::new("chaos.abort", Payload::parse("{}").unwrap())
        })
        .await
        .unwrap()
        .id,
    ];
    let done = wait_all(&q, &ids, &[&host]).await;
    let job = &done[0];
    assert_eq!(job.status, JobStatus::Dead);
    assert_eq!(job.attempts, 3);
    let kinds: Vec<&str> = job.errors.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["trap", "trap", "trap"]);

    let url = redis.url();
    let out = deckhand()
        .args(["dlq", "list", "--json", "--redis-url", &url])
        .output()
        .unwrap();
    let dead: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(dead.as_array().unwrap().len(), 1);
    assert_eq!(dead[0]["id"], ids[0].as_str());
    assert_eq!(dead[0]["errors"].as_array().unwrap().len(), 3);

    let out = deckhand()
        .args(["dlq", "show", &ids[0], "--redis-url", &url])
        .output()
        .unwrap();
    let shown = stdout(&out);
    assert!(
        shown.contains("status:    dead") && shown.contains("[trap]"),
        "{shown}"
    );

    let out = deckhand()
        .args(["dlq", "retry", &ids[0], "--redis-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again = wait_all(&q, &ids, &[&host]).await;
    assert_eq!(again[0].status, JobStatus::Dead);
    assert_eq!(again[0].errors.len(), 6, "history survives a replay");

    let out = deckhand()
        .args(["dlq", "purge", "--all", "--redis-url", &url])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("purged 1 job(s)"));
    assert!(q.get(&ids[0]).await.unwrap().is_none());
}

/// SIGTERM during a batch: the host stops claiming, waits its grace period,
/// then hands unfinished jobs back at once (not after lease expiry), and they
/// run elsewhere without losing an attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_hands_unfinished_jobs_back_at_once() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    // A lease far longer than the test: only a hand-back can free these jobs.
    let flags = [
        "--lease-ms",
        "600000",
        "--shutdown-timeout-ms",
        "300",
        "--workers",
        "1",
        "--batch-size",
        "4",
    ];
    let mut a = Host::start("a", &redis.url(), dir.path(), &flags);
    let q = connect(&redis).await;
    common::registered(&q, &["chaos.sleep"], None).await;
    let ids = submit_many(&q, "chaos.sleep", json!({"ms": 2500}), 4).await;
    wait_count(&q, &ids, JobStatus::Running, 4).await;

    assert_eq!(a.terminate(), Some(0), "{}", a.log());
    for id in &ids {
        let job = q.get(id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Pending, "{id} handed back");
        assert_eq!(job.attempts, 0, "the interrupted attempt does not count");
    }
    assert_eq!(q.stats().await.unwrap()["released"], 4);

    let b = Host::start("b", &redis.url(), dir.path(), &flags);
    let done = wait_all(&q, &ids, &[&b]).await;
    for job in done {
        assert_eq!(job.status, JobStatus::Completed);
        assert_eq!(job.worker.as_deref(), Some("b"));
        assert_eq!(job.attempts, 1);
        assert!(job.errors.is_empty());
    }
}

/// Replace a plugin while the host runs: a job started before finishes on the
/// old version, new jobs record the new version id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_in_a_running_host_records_the_version_on_each_result() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&[]);
    let path = dir.path().join("chaos.wasm");
    let v1 = std::fs::read(plugin_wasm("chaos")).unwrap();
    let v2 = with_custom_section(&v1, "build", b"v2");
    install(&path, &v1);
    let host = Host::start("h", &redis.url(), dir.path(), &[]);
    let q = connect(&redis).await;
    common::registered(&q, &["chaos.sleep"], Some(&sha256_hex(&v1))).await;

    let old = submit_many(&q, "chaos.sleep", json!({"ms": 1500}), 1).await;
    wait_count(&q, &old, JobStatus::Running, 1).await;
    install(&path, &v2);
    common::registered(&q, &["chaos.sleep"], Some(&sha256_hex(&v2))).await;
    let new = submit_many(&q, "chaos.counter", json!({}), 1).await;

    let done = wait_all(&q, &[old[0].clone(), new[0].clone()], &[&host]).await;
    assert_eq!(done[0].status, JobStatus::Completed);
    assert_eq!(
        done[0].plugin_version.as_deref(),
        Some(sha256_hex(&v1).as_str())
    );
    assert_eq!(done[1].status, JobStatus::Completed);
    assert_eq!(
        done[1].plugin_version.as_deref(),
        Some(sha256_hex(&v2).as_str())
    );
}
