//! What a long run meets: Redis restarting (empty, or from its AOF) and
//! hosts dying, while `deckhand bulk` waits for its results. Real Redis,
//! the real binary, real components.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::api::Api;
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use serde_json::{Value, json};

fn write_records(path: &std::path::Path, n: usize) {
    let lines: Vec<String> = (0..n).map(|i| json!({ "n": i }).to_string()).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// `n` records for `chaos.sleep`, each sleeping `ms`, one a line.
fn write_sleep_records(path: &std::path::Path, n: usize, ms: u64) {
    let lines: Vec<String> = (0..n)
        .map(|i| json!({ "ms": ms, "n": i }).to_string())
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// `deckhand bulk chaos.sleep` over `input` into `output`, with `env`.
fn spawn_bulk(
    input: &std::path::Path,
    output: &std::path::Path,
    url: &str,
    env: &[(&str, &str)],
) -> std::process::Child {
    deckhand()
        .args(["bulk", "chaos.sleep"])
        .arg(input)
        .arg("--out")
        .arg(output)
        .args(["--redis-url", url, "--timeout", "600"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (30 s at most) until `q` counts `n` jobs completed.
async fn until_completed(q: &deckhand::queue::Queue, n: i64) {
    for _ in 0..600 {
        let stats = q.stats().await.ok();
        if stats.and_then(|s| s.get("completed").copied()).unwrap_or(0) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Partitions for a fault run: `DECKHAND_CHAOS_PARTITIONS` (`cargo xtask
/// chaos` runs each on 1 and on 3), else `default`.
fn partitions(default: u32) -> u32 {
    std::env::var("DECKHAND_CHAOS_PARTITIONS")
        .ok()
        .and_then(|p| p.parse().ok())
        .filter(|p| (1..=16).contains(p))
        .unwrap_or(default)
}

/// A client of a queue of `n` partitions, and the setting hosts and
/// `deckhand bulk` take for it.
async fn partitioned(url: &str, n: u32) -> (deckhand::queue::Queue, String) {
    let config = deckhand::queue::QueueConfig {
        partitions: n,
        ..Default::default()
    };
    let q = deckhand::queue::Queue::connect(url, config).await.unwrap();
    (q, n.to_string())
}

/// The queue's own ledger after a fault run whose Redis kept its data:
/// every record completed and recorded once, none dead, and every attempt
/// past the first has its error entry (none spent on a job that never
/// started). Prints what the run cost.
async fn ledger_holds(url: &str, partitions: &str, results: &[Value], what: &str) {
    // A new client: the test's own lost its connection to a killed Redis.
    let (q, _) = partitioned(url, partitions.parse().unwrap()).await;
    let stats = q.stats().await.unwrap();
    let n = results.len() as i64;
    assert_eq!(stats.get("dead").copied().unwrap_or(0), 0, "{stats:?}");
    assert_eq!(stats["completed"], n, "each recorded once: {stats:?}");
    let ids: Vec<String> = results
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    let jobs = q.get_many(&ids).await.unwrap();
    let spent: usize = jobs.iter().flatten().map(|j| j.attempts as usize - 1).sum();
    let entries: usize = jobs.iter().flatten().map(|j| j.errors.len()).sum();
    let expired: usize = jobs
        .iter()
        .flatten()
        .map(|j| {
            j.errors
                .iter()
                .filter(|e| e.kind == "lease_expired")
                .count()
        })
        .sum();
    eprintln!(
        "{what}: {} refunded, {expired} lease_expired entries, {spent} extra attempts",
        stats.get("refunded").copied().unwrap_or(0)
    );
    assert_eq!(spent, entries, "every extra attempt has its error entry");
}

/// The drain every fault run makes: `N` `chaos.sleep` records of `ms`
/// each through `deckhand bulk`, two hosts named `names` holding leases of
/// `lease_ms`, on `partitions(default)` partitions; returns once `after`
/// jobs have completed, so the fault strikes mid-drain.
struct Drain {
    /// The number of partitions, as hosts and `deckhand bulk` are told it.
    n: String,
    hosts: [Host; 2],
    bulk: std::process::Child,
    output: std::path::PathBuf,
    _work: tempfile::TempDir,
    _plugins: tempfile::TempDir,
}

const N: usize = 5000;

async fn drain(
    redis: &TestRedis,
    names: [&str; 2],
    ms: u64,
    lease_ms: &str,
    default: u32,
    after: i64,
) -> Drain {
    let dir = plugin_dir(&["chaos"]);
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("records.jsonl");
    let output = work.path().join("results.jsonl");
    write_sleep_records(&input, N, ms);
    let (q, n) = partitioned(&redis.url(), partitions(default)).await;
    let env = [("DECKHAND_QUEUE_PARTITIONS", n.as_str())];
    let args = ["--batch-size", "16", "--lease-ms", lease_ms];
    let hosts = names.map(|name| Host::start_with_env(name, &redis.url(), dir.path(), &args, &env));
    let bulk = spawn_bulk(&input, &output, &redis.url(), &env);
    until_completed(&q, after).await;
    Drain {
        n,
        hosts,
        bulk,
        output,
        _work: work,
        _plugins: dir,
    }
}

/// What a drain left: `deckhand bulk`'s output, its results, the number
/// of partitions, and the hosts (still running on their plugins).
struct Ended {
    out: std::process::Output,
    results: Vec<Value>,
    n: String,
    hosts: [Host; 2],
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Drain {
    /// Waits for `deckhand bulk` to end.
    async fn finish(self) -> Ended {
        let bulk = self.bulk;
        let out = tokio::task::spawn_blocking(move || bulk.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        Ended {
            out,
            results: read_results(&self.output),
            n: self.n,
            hosts: self.hosts,
            _dirs: (self._work, self._plugins),
        }
    }
}

fn read_results(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_queue_is_detected_reported_and_mended() {
    let mut redis = TestRedis::start_volatile();
    let dir = plugin_dir(&["echo"]);
    let host = Host::start("lost", &redis.url(), dir.path(), &[]);
    let api = Api::new(&host);
    api.ready(&host).await;
    // A second host, started after the first claimed the identity marker,
    // notices the loss too.
    let second = Host::start("lost-too", &redis.url(), dir.path(), &[]);
    Api::new(&second).ready(&second).await;
    let (_, health) = api.get("/health").await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["redis"]["appendonly"], "no", "{health}");
    assert!(
        health["redis"]["risks"].to_string().contains("appendonly"),
        "{health}"
    );
    assert!(
        host.log()
            .contains("Redis may lose jobs: appendonly is off"),
        "{}",
        host.log()
    );

    // Redis restarts with nothing.
    redis.restart();
    host.wait_for_log("the queue's data is gone");
    second.wait_for_log("the queue's data is gone");
    // Job types come back at once, not at the next heartbeat (a minute).
    let mut accepted = false;
    for _ in 0..50 {
        let (status, _) = api
            .post("/v1/jobs", json!({ "job_type": "echo", "payload": {} }))
            .await;
        if status == 201 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        accepted,
        "submissions refused after the restart:\n{}",
        host.log()
    );
    let (_, health) = api.get("/health").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["queue_data_lost"]["count"], 1, "{health}");
    let metrics = api.text("/metrics").await;
    assert!(
        metrics.contains("deckhand_queue_data_lost_total 1"),
        "{metrics}"
    );
}

/// The chaos drain: 5,000 jobs through `deckhand bulk` while Redis (AOF
/// everysec) is killed with SIGKILL and restarted, and one of two hosts is
/// killed with SIGKILL. The client finishes; its results file lists every
/// job completed, and the queue's ledger holds. One partition (or
/// `DECKHAND_CHAOS_PARTITIONS`, as for every fault run here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_survives_redis_and_host_kills() {
    let mut redis =
        TestRedis::start_with(&["--appendonly", "yes", "--appendfsync", "everysec"], None);
    // Each job sleeps a little, so the drain lasts through the kills.
    let mut run = drain(&redis, ["doomed", "survivor"], 5, "2000", 1, 1000).await;
    run.hosts[0].kill9();
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    // Everything kept to the end of the test: the hosts, their plugins.
    let end = run.finish().await;
    let (out, results, n, survivor) = (&end.out, &end.results, &end.n, &end.hosts[1]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "bulk: {}\n{}\nsurvivor:\n{}",
        stdout(out),
        stderr(out),
        survivor.log()
    );
    assert_eq!(results.len(), N, "a line per record");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["status"], "completed", "record {i}: {r}");
    }
    let what = format!("Redis and a host killed, {n} partition(s)");
    ledger_holds(&redis.url(), n, results, &what).await;
}

/// 5,000 jobs through `deckhand bulk` on 3 partitions while Redis (no
/// persistence) is killed with SIGKILL and comes back empty: results marked
/// finished but not yet written are lost with it. The client runs them
/// again and ends with every record completed, or says (by its exit status)
/// that it did not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_on_partitions_survives_an_empty_restart() {
    let mut redis = TestRedis::start_volatile();
    let run = drain(&redis, ["part-a", "part-b"], 2, "2000", 3, 2000).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    let end = run.finish().await;
    let (out, results, a) = (&end.out, &end.results, &end.hosts[0]);
    assert_eq!(results.len(), N, "a line per record");
    let missing: Vec<&Value> = results
        .iter()
        .filter(|r| r["status"] != "completed")
        .collect();
    assert!(
        missing.is_empty(),
        "{} records not completed (exit {:?}), e.g. {:?}\n{}\nhost:\n{}",
        missing.len(),
        out.status.code(),
        missing.first(),
        stderr(out),
        a.log()
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

/// 5,000 jobs through `deckhand bulk` on 3 partitions while Redis is
/// paused (SIGSTOP) for 20 s mid-drain: claims that ran as Redis came back
/// but whose replies the hosts had given up on are given back without
/// spending an attempt. Every record completes once, none dies, and no job
/// shows an attempt that its host never started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_on_partitions_survives_a_redis_pause() {
    let redis = TestRedis::start();
    let run = drain(&redis, ["pause-a", "pause-b"], 2, "3000", 3, 1500).await;
    redis.signal("STOP");
    tokio::time::sleep(Duration::from_secs(20)).await;
    redis.signal("CONT");
    let end = run.finish().await;
    let (out, results, n, a) = (&end.out, &end.results, &end.n, &end.hosts[0]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(out), a.log());
    assert_eq!(results.len(), N, "a line per record");
    assert!(results.iter().all(|r| r["status"] == "completed"));
    let what = format!("a 20 s pause, {n} partition(s)");
    ledger_holds(&redis.url(), n, results, &what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_keeps_what_it_knows_and_a_rerun_attaches() {
    let redis = TestRedis::start();
    let dir = plugin_dir(&["echo"]);
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("records.jsonl");
    let output = work.path().join("results.jsonl");
    write_records(&input, 30);

    // No host has ever offered the type: said plainly, nothing submitted.
    let out = deckhand()
        .args(["bulk", "hsds.align"])
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .args(["--redis-url", &redis.url(), "--host-wait", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no host has ever offered job type \"hsds.align\""),
        "{}",
        stderr(&out)
    );

    // A host that cannot run anything yet (the guard holds its claims):
    // bulk times out, and still writes a line per record.
    let stuck = Host::start("stuck", &redis.url(), dir.path(), &["--max-memory-mb", "1"]);
    Api::new(&stuck).ready(&stuck).await;
    let out = deckhand()
        .args(["bulk", "echo"])
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .args([
            "--redis-url",
            &redis.url(),
            "--timeout",
            "2",
            "--max-retries",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let results = read_results(&output);
    assert_eq!(results.len(), 30);
    assert!(
        results.iter().all(|r| r["status"] == "pending"),
        "{results:?}"
    );
    // Not a terminal: progress comes as lines.
    assert!(stderr(&out).contains("0/30 finished"), "{}", stderr(&out));
    let first_ids: Vec<Value> = results.iter().map(|r| r["id"].clone()).collect();
    let q = deckhand::queue::Queue::connect(&redis.url(), Default::default())
        .await
        .unwrap();
    let job = q
        .get(first_ids[0].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.max_retries, 1, "--max-retries reaches the jobs");
    drop(stuck);

    // A host that runs them: the same command attaches to the same jobs.
    let host = Host::start("runs", &redis.url(), dir.path(), &[]);
    Api::new(&host).ready(&host).await;
    let out = deckhand()
        .args(["bulk", "echo"])
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .args(["--redis-url", &redis.url()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let results = read_results(&output);
    let ids: Vec<Value> = results.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, first_ids, "the same jobs");
    assert!(results.iter().all(|r| r["status"] == "completed"));
    assert_eq!(results[7]["result"]["n"], 7, "{}", results[7]);
    let stats = q.stats().await.unwrap();
    assert_eq!(stats["submitted"], 30, "submitted once: {stats:?}");
}

/// The README's operator examples name job types that exist.
#[test]
fn the_readme_examples_name_real_job_types() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut known: Vec<String> = vec![
        "hello.python".into(),
        "hello.rust".into(),
        "hello.js".into(),
    ];
    for plugin in [
        "echo",
        "chaos",
        "llm",
        "hsds_alignment",
        "hsds_validation",
        "bulk",
    ] {
        let out = deckhand()
            .args(["plugins", "check", "--json"])
            .arg(plugin_wasm(plugin))
            .output()
            .unwrap();
        let info: Value = serde_json::from_str(&stdout(&out)).unwrap();
        for t in info["info"]["job_types"].as_array().unwrap() {
            known.push(t["name"].as_str().unwrap_or_default().to_string());
        }
    }
    let mut named = 0;
    for line in readme.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(3) {
            if w[0] == "deckhand" && (w[1] == "submit" || w[1] == "bulk") && !w[2].starts_with('-')
            {
                named += 1;
                assert!(
                    known.iter().any(|k| k == w[2]),
                    "README names job type {:?}, which no plugin offers: {line}",
                    w[2]
                );
            }
        }
    }
    assert!(named >= 3, "found {named} examples");
}
