//! `deckhand bulk` in the benchmark: a client that follows its jobs, as
//! users run a bulk HSDS run.
//!
//! - [`bulk_runs`]: the full bench's end-to-end figures.
//! - [`follow_scenario`] (`BENCH_FOLLOW=1`, `cargo xtask bench --scale`):
//!   the same jobs drained with no one following and with `bulk` following,
//!   and `bulk` end to end with the host running, with what Redis, the host
//!   and the follower spend per job.

use super::*;

/// A file of `jobs` no-op records named `name` in `dir` (the name makes
/// every run's records, and so its job ids, its own).
fn records(dir: &std::path::Path, name: &str, jobs: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    let lines: String = (0..jobs)
        .map(|i| format!("{{\"record\": {i}, \"run\": \"{name}\"}}\n"))
        .collect();
    std::fs::write(&path, lines).expect("write records");
    path
}

/// Starts `deckhand bulk echo <input> --out <input>.out`.
fn bulk(url: &str, input: &std::path::Path) -> Child {
    Command::new(root().join("target/release/deckhand"))
        .args(["bulk", "echo"])
        .arg(input)
        .arg("--out")
        .arg(input.with_extension("out"))
        .args(["--redis-url", url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start deckhand bulk")
}

/// Waits for `child` to succeed; returns the CPU seconds it used (read
/// before each check: an exited child keeps its figures until reaped).
fn finish(mut child: Child) -> f64 {
    loop {
        let cpu = process_cpu_s(child.id());
        if let Some(status) = child.try_wait().expect("bulk") {
            assert!(status.success(), "deckhand bulk failed: {status}");
            return cpu;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

async fn wait_live(q: &Queue) {
    while !q.type_is_live("echo").await.unwrap_or(false) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `deckhand bulk` over `jobs` no-op records, twice:
/// - end to end with a host running: from the command's start to its exit
///   (reading the file, submitting, following, writing every result), to
///   set beside the drain of as many jobs already queued, and beside the
///   host's drain of the run's own jobs (first start to last end);
/// - submitted by `bulk` with no host running, then drained by a host while
///   that `bulk` follows the jobs: the drain's seconds (the waiting client's
///   cost to the host shows against the plain drain).
pub async fn bulk_runs(
    url: &str,
    q: &Queue,
    plugins: &std::path::Path,
    data: &std::path::Path,
    jobs: usize,
) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().expect("temp");
    let host = serve(url, plugins, data, &batch());
    wait_live(q).await;
    let input = records(dir.path(), "end-to-end", jobs);
    let t = Instant::now();
    finish(bulk(url, &input));
    let end_to_end = t.elapsed().as_secs_f64();
    stop(host);
    let in_run = drain_of(q, &input.with_extension("out")).await;
    let drained = drain_by_host(
        url,
        q,
        plugins,
        data,
        &records(dir.path(), "waited", jobs),
        true,
    )
    .await
    .0;
    (end_to_end, in_run, drained)
}

/// `bulk` submits `input` with no host running; then a host drains it,
/// with that `bulk` following (`follow`) or killed once it has submitted.
/// Returns the drain's seconds and the follower's CPU seconds.
async fn drain_by_host(
    url: &str,
    q: &Queue,
    plugins: &std::path::Path,
    data: &std::path::Path,
    input: &std::path::Path,
    follow: bool,
) -> (f64, f64) {
    let lines = std::fs::read_to_string(input)
        .expect("records")
        .lines()
        .count();
    let target = counter(q, "submitted").await + lines as i64;
    let mut client = bulk(url, input);
    while counter(q, "submitted").await < target {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let follower = if follow {
        Some((process_cpu_s(client.id()), client))
    } else {
        let _ = client.kill();
        let _ = client.wait();
        None
    };
    let done = completed(q).await + lines as i64;
    let t = Instant::now();
    let host = serve(url, plugins, data, &batch());
    wait_completed(q, done).await;
    let drained = t.elapsed().as_secs_f64();
    let cpu = follower.map_or(0.0, |(before, client)| finish(client) - before);
    stop(host);
    (drained, cpu)
}

/// API waits held open in [`drain_with_waits`].
const WAITS: usize = 1000;

/// `drain_by_host` without a follower while a second host, serving the
/// API only (no plugins), holds `WAITS` open `POST /v1/jobs/wait`s on jobs
/// delayed by an hour: what many waiters cost a drain. The drain's seconds.
async fn drain_with_waits(
    url: &str,
    q: &Queue,
    plugins: &std::path::Path,
    data: &std::path::Path,
    input: &std::path::Path,
) -> f64 {
    let none = tempfile::tempdir().expect("temp");
    let (api_host, addr) = serve_at(url, none.path(), data, &batch());
    let client = reqwest::Client::new();
    while client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut ids = Vec::new();
    for start in (0..WAITS).step_by(q.config().max_batch_jobs) {
        let n = q.config().max_batch_jobs.min(WAITS - start);
        let delayed = (0..n)
            .map(|_| NewJob {
                delay_ms: Some(3_600_000),
                ..job()
            })
            .collect();
        ids.extend(q.submit_batch(delayed).await.expect("delayed jobs"));
    }
    let waits: Vec<_> = ids
        .into_iter()
        .map(|s| {
            let request = client
                .post(format!("http://{addr}/v1/jobs/wait"))
                .json(&json!({ "ids": [s.id], "timeout_secs": 600 }));
            tokio::spawn(request.send())
        })
        .collect();
    // Untimed: every wait reaches the host and listens.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (drained, _) = drain_by_host(url, q, plugins, data, input, false).await;
    for wait in &waits {
        assert!(!wait.is_finished(), "a wait ended before its job");
        wait.abort();
    }
    stop(api_host);
    drained
}

/// The follow scenario: one line of figures (see the module's doc).
pub async fn follow_scenario(
    url: &str,
    q: &Queue,
    plugins: &std::path::Path,
    data: &std::path::Path,
    jobs: usize,
) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp");
    let per_job = |x: f64| (x * 1e6 / jobs as f64 * 10.0).round() / 10.0;
    let rate = |s: f64| (jobs as f64 / s.max(1e-3)).round();

    let quiet = records(dir.path(), "quiet", jobs);
    let (alone_s, _) = drain_by_host(url, q, plugins, data, &quiet, false).await;
    let followed = records(dir.path(), "followed", jobs);
    let (followed_s, follower_cpu) = drain_by_host(url, q, plugins, data, &followed, true).await;
    let waited = records(dir.path(), "waited", jobs);
    let waited_s = drain_with_waits(url, q, plugins, data, &waited).await;

    let host = serve(url, plugins, data, &batch());
    wait_live(q).await;
    let input = records(dir.path(), "end-to-end", jobs);
    let before = commands(url);
    let host_before = process_cpu_s(host.id());
    let t = Instant::now();
    let bulk_cpu = finish(bulk(url, &input));
    let end_to_end = t.elapsed().as_secs_f64();
    let after = commands(url);
    let host_cpu = process_cpu_s(host.id()) - host_before;
    stop(host);
    json!({
        "system": "deckhand",
        "settings": format!("1 host process, batch-size {} (jobs in flight), threads {} (0: one per core), echo.wasm; `deckhand bulk` with its defaults", batch(), std::env::var("DECKHAND_THREADS").unwrap_or_else(|_| "0".into())),
        "jobs": jobs,
        "drain_alone_per_s": rate(alone_s),
        "drain_followed_per_s": rate(followed_s),
        "follower_cpu_us_per_job": per_job(follower_cpu),
        "drain_with_waits_per_s": rate(waited_s),
        "follow_per_s": rate(end_to_end),
        "follow_redis_cpu_us_per_job": per_job(after.3 - before.3),
        "follow_script_us_per_job": per_job((after.2 - before.2) as f64 / 1e6),
        "follow_commands_per_job": ((after.0 - before.0) as f64 / jobs as f64 * 100.0).round() / 100.0,
        "follow_host_cpu_us_per_job": per_job(host_cpu),
        "follow_bulk_cpu_us_per_job": per_job(bulk_cpu),
    })
}

/// The host's drain of the jobs a `bulk` run wrote to `out`: from the first
/// job's start to the last one's end (Redis' clock), in seconds.
async fn drain_of(q: &Queue, out: &std::path::Path) -> f64 {
    let text = std::fs::read_to_string(out).expect("bulk's results");
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    let (mut first, mut last) = (u64::MAX, 0);
    for chunk in ids.chunks(1000) {
        for job in q
            .get_many(chunk)
            .await
            .expect("records")
            .into_iter()
            .flatten()
        {
            first = first.min(job.started_at.unwrap_or(u64::MAX));
            last = last.max(job.finished_at.unwrap_or(0));
        }
    }
    last.saturating_sub(first) as f64 / 1000.0
}
