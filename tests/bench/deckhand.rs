//! Deckhand's side of the peer benchmark (`cargo xtask bench`): the real
//! `deckhand serve` binary with the `echo` component as the no-op job, against
//! the Redis at the URL given. Prints one JSON line of figures.
//!
//! Usage: `cargo test --release --workspace --bench deckhand -- <redis-url> <jobs>`
//! (`BENCH_DRAIN_ONLY=1`: the drain only; `BENCH_FOLLOW=1`: the follow
//! scenario only, `follow.rs`)
//! (which builds `target/release/deckhand` too; `target/plugins/echo.wasm`
//! must be built: xtask does both).

mod follow;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobStatus, Queue, QueueConfig};
use serde_json::json;

/// Jobs in flight (`--batch-size`; a claim takes as many as are free):
/// `BENCH_CONCURRENCY`, the BullMQ driver's setting too, default 64 like it.
fn batch() -> String {
    std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "64".into())
}

/// Where to read Redis' counters: `BENCH_STATS_URL` (comma-separated: in
/// a cluster, every master, summed), else the queue's URL.
fn stats_urls(url: &str) -> Vec<String> {
    std::env::var("BENCH_STATS_URL")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| vec![url.to_string()])
}

/// The queue's partitions: `DECKHAND_QUEUE_PARTITIONS`, which the hosts
/// this driver starts read too (default 1).
fn partitions() -> u32 {
    std::env::var("DECKHAND_QUEUE_PARTITIONS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(url), Some(jobs)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: deckhand-bench <redis-url> <jobs>");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    rt.block_on(run(url, jobs));
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .to_path_buf()
}

fn serve(url: &str, plugins: &std::path::Path, data: &std::path::Path, batch: &str) -> Child {
    serve_at(url, plugins, data, batch).0
}

/// `deckhand serve`, and the address its API listens on.
fn serve_at(
    url: &str,
    plugins: &std::path::Path,
    data: &std::path::Path,
    batch: &str,
) -> (Child, std::net::SocketAddr) {
    let listen = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let addr = listen.local_addr().expect("addr");
    drop(listen);
    let child = Command::new(root().join("target/release/deckhand"))
        .args([
            "serve",
            "--redis-url",
            url,
            "--batch-size",
            batch,
            "--listen",
        ])
        .arg(addr.to_string())
        .arg("--plugin-dir")
        .arg(plugins)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start target/release/deckhand serve");
    (child, addr)
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

fn job() -> NewJob {
    NewJob::new("echo", Payload::parse("{}").unwrap())
}

/// Redis' `total_commands_processed` (commands run inside functions
/// included), the number of function calls (the host's round trips on the
/// hot path: every state change is one function) and the microseconds Redis
/// spent in them.
/// Every node's commands, script calls, script µs and CPU seconds (user
/// and system), summed.
fn commands(url: &str) -> (i64, i64, i64, f64) {
    let mut sum = (0, 0, 0, 0.0);
    for url in stats_urls(url) {
        let (total, calls, usec, cpu) = node_commands(&url);
        sum = (sum.0 + total, sum.1 + calls, sum.2 + usec, sum.3 + cpu);
    }
    sum
}

/// CPU seconds a process has used (user and system), from /proc.
fn process_cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the
    // 12th, stime the 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf reads a constant of the system.
    let per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / per_s
}

fn node_commands(url: &str) -> (i64, i64, i64, f64) {
    let client = redis::Client::open(url).expect("redis url");
    let mut conn = client.get_connection().expect("redis");
    let info: String = redis::cmd("INFO")
        .arg("all")
        .query(&mut conn)
        .expect("INFO");
    let total = info
        .lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // Script calls: FCALL (the queue's functions) and EVALSHA (none now,
    // counted so a figure never drops by a call changing its name).
    let stat = |field: &str| -> i64 {
        ["cmdstat_fcall:", "cmdstat_evalsha:"]
            .iter()
            .filter_map(|name| info.lines().find_map(|l| l.strip_prefix(name)))
            .filter_map(|v| {
                v.split(',')
                    .find_map(|f| f.strip_prefix(field))?
                    .parse::<i64>()
                    .ok()
            })
            .sum()
    };
    let calls = stat("calls=");
    let usec = stat("usec=");
    let cpu = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        total,
        calls,
        usec,
        cpu("used_cpu_user:") + cpu("used_cpu_sys:"),
    )
}

async fn counter(q: &Queue, name: &str) -> i64 {
    q.stats()
        .await
        .ok()
        .and_then(|s| s.get(name).copied())
        .unwrap_or(0)
}

async fn completed(q: &Queue) -> i64 {
    counter(q, "completed").await
}

async fn wait_completed(q: &Queue, target: i64) {
    while completed(q).await < target {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn run(url: &str, jobs: usize) {
    let plugins = tempfile::tempdir().expect("temp");
    let data = tempfile::tempdir().expect("temp");
    for plugin in ["echo", "llm"] {
        std::fs::copy(
            root().join(format!("target/plugins/{plugin}.wasm")),
            plugins.path().join(format!("{plugin}.wasm")),
        )
        .expect("target/plugins/*.wasm (cargo xtask plugins)");
    }
    let config = QueueConfig {
        // The benchmark measures the queue, not the content store.
        content_store: false,
        partitions: partitions(),
        ..QueueConfig::default()
    };
    let q = Queue::connect(url, config).await.expect("redis");

    // Register the job type, then stop: jobs are enqueued with no host running.
    let host = serve(url, plugins.path(), data.path(), &batch());
    while !q.job_types().await.expect("types").contains_key("llm") {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop(host);
    if std::env::var_os("BENCH_FOLLOW").is_some() {
        let figures = follow::follow_scenario(url, &q, plugins.path(), data.path(), jobs).await;
        println!("{figures}");
        return;
    }

    let single_n = (jobs / 10).max(1);
    let t = Instant::now();
    let mut first_id = None;
    for _ in 0..single_n {
        let id = q.submit(job()).await.expect("submit").id;
        first_id.get_or_insert(id);
    }
    let single = single_n as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let n = left.min(q.config().max_batch_jobs);
        q.submit_batch((0..n).map(|_| job()).collect())
            .await
            .expect("batch");
        left -= n;
    }
    let bulk = jobs as f64 / t.elapsed().as_secs_f64();

    // Drain: everything queued (single + bulk), then the host starts.
    let total = (single_n + jobs) as i64;
    let commands_before = commands(url);
    let t = Instant::now();
    let spawned_ms = epoch_ms();
    let host = serve(url, plugins.path(), data.path(), &batch());
    wait_completed(&q, total).await;
    let drain_s = t.elapsed().as_secs_f64();
    let drain = total as f64 / drain_s;
    // The drain includes starting the host (process, Redis connection,
    // plugin compilation): from the spawn to the first job's start (the
    // first submitted, so the first claimed; Redis' clock, this machine's).
    let first = q
        .get(first_id.as_deref().unwrap_or_default())
        .await
        .expect("get")
        .and_then(|r| r.started_at);
    let startup_ms = first.map_or(0, |s| s.saturating_sub(spawned_ms));
    let after_startup = total as f64 / (drain_s - startup_ms as f64 / 1000.0).max(1e-3);
    // Per job, while draining: every command Redis ran (inside scripts too),
    // and the scripts called (round trips). This driver's own polling of one
    // counter every 2 ms is in the first figure, not the second.
    let commands_after = commands(url);
    let per_job = (commands_after.0 - commands_before.0) as f64 / total as f64;
    let trips_per_job = (commands_after.1 - commands_before.1) as f64 / total as f64;
    let script_us_per_job = (commands_after.2 - commands_before.2) as f64 / total as f64;
    // CPU per job, the measured inputs of the N-master model: every Redis
    // node's, and the host process's (its start-up included).
    let redis_cpu_us_per_job = (commands_after.3 - commands_before.3) * 1e6 / total as f64;
    let host_cpu_us_per_job = process_cpu_s(host.id()) * 1e6 / total as f64;
    if std::env::var_os("BENCH_DRAIN_ONLY").is_some() {
        stop(host);
        println!(
            "{}",
            json!({
                "system": "deckhand",
                "settings": format!("1 host process, batch-size {} (jobs in flight), threads {} (0: one per core), {} partition(s), echo.wasm, content store off", batch(), std::env::var("DECKHAND_THREADS").unwrap_or_else(|_| "0".into()), partitions()),
                "jobs": total,
                "drain_per_s": drain.round(),
                "redis_commands_per_job": (per_job * 100.0).round() / 100.0,
                "scripts_per_job": (trips_per_job * 100.0).round() / 100.0,
                "script_us_per_job": (script_us_per_job * 10.0).round() / 10.0,
                "redis_cpu_us_per_job": (redis_cpu_us_per_job * 10.0).round() / 10.0,
                "host_cpu_us_per_job": (host_cpu_us_per_job * 10.0).round() / 10.0,
            })
        );
        return;
    }

    // Latency at a fixed 1,000 jobs/s for `latency_n` jobs.
    let latency_n = (jobs / 10).clamp(1, 5000);
    let mut ids = Vec::with_capacity(latency_n);
    let start = Instant::now();
    for i in 0..latency_n {
        let due = start + Duration::from_millis(i as u64);
        tokio::time::sleep_until(due.into()).await;
        ids.push(q.submit(job()).await.expect("submit").id);
    }
    let records = q
        .wait_for_jobs(&ids, Duration::from_secs(300))
        .await
        .expect("wait");
    let mut lat: Vec<u64> = records
        .iter()
        .filter(|r| r.status == JobStatus::Completed)
        .filter_map(|r| r.started_at.map(|s| s.saturating_sub(r.created_at)))
        .collect();
    lat.sort_unstable();
    let pct = |p: f64| percentile(&lat, p);
    let rss = peak_rss_mb(host.id());
    stop(host);

    let cache_hit = cache_hits(url, latency_n).await;

    // Throughput with 1, 2 and 4 jobs in flight (a tenth of the jobs each).
    let mut by_tasks = serde_json::Map::new();
    let mut done = completed(&q).await;
    for tasks in ["1", "2", "4"] {
        let n = (jobs / 10).max(1);
        let cap = q.config().max_batch_jobs;
        for start in (0..n).step_by(cap) {
            let size = cap.min(n - start);
            q.submit_batch((0..size).map(|_| job()).collect())
                .await
                .expect("batch");
        }
        let t = Instant::now();
        let host = serve(url, plugins.path(), data.path(), tasks);
        done += n as i64;
        wait_completed(&q, done).await;
        by_tasks.insert(
            tasks.into(),
            json!((n as f64 / t.elapsed().as_secs_f64()).round()),
        );
        stop(host);
    }
    let (bulk_s, bulk_drain_s, drain_waited_s) =
        follow::bulk_runs(url, &q, plugins.path(), data.path(), jobs).await;
    println!(
        "{}",
        json!({
            "system": "deckhand",
            "mode": "leases with fencing tokens; a result is recorded before the job counts as done",
            "settings": format!("1 host process, batch-size {} (jobs in flight), echo.wasm, a fresh instance per job in a pooled slot (the default), content store off", batch()),
            "jobs": total,
            "enqueue_single_per_s": single.round(),
            "enqueue_bulk_per_s": bulk.round(),
            "drain_per_s": drain.round(),
            "drain_startup_ms": startup_ms,
            "drain_per_s_after_startup": after_startup.round(),
            "latency_p50_ms": pct(0.50),
            "latency_p99_ms": pct(0.99),
            "peak_rss_mb": (rss * 10.0).round() / 10.0,
            "script_us_per_job": (script_us_per_job * 10.0).round() / 10.0,
            "redis_commands_per_job": (per_job * 100.0).round() / 100.0,
            "drain_per_s_by_tasks": by_tasks,
            "redis_round_trips_per_job": (trips_per_job * 1000.0).round() / 1000.0,
            "cache_hit_submit_us": cache_hit,
            "bulk_end_to_end_s": round2(bulk_s),
            "follow_per_s": (jobs as f64 / bulk_s.max(1e-3)).round(),
            "follow_jobs": jobs,
            "follow_mode": "`deckhand bulk` end to end (submit, follow through the finished channel, write every result), host running",
            "bulk_vs_drain": round2(bulk_s / (jobs as f64 / drain)),
            "bulk_drain_in_run_s": round2(bulk_drain_s),
            "bulk_vs_drain_in_run": round2(bulk_s / bulk_drain_s.max(1e-3)),
            "drain_per_s_while_bulk_waits": (jobs as f64 / drain_waited_s).round(),
        })
    );
}

/// A cache-hit job: the `llm` job type (it declares `needs-llm`, so its
/// results go to the content store) gets one result recorded by hand, then
/// the same payload is submitted `n` times; each submit comes back completed
/// from the store without running. Returns the submit's p50/p99 in µs.
async fn cache_hits(url: &str, n: usize) -> serde_json::Value {
    let q = Queue::connect(url, QueueConfig::default())
        .await
        .expect("redis");
    let llm_job = || {
        NewJob::new(
            "llm",
            json!({"prompt": "the benchmark's cached question"}).into(),
        )
    };
    q.submit(llm_job()).await.expect("submit");
    let claimed = q
        .claim("bench", &["llm"], 1, Duration::from_secs(60))
        .await
        .expect("claim");
    let first = claimed.first().expect("the llm job is ready");
    q.complete(first, r#"{"text": "cached"}"#, "bench")
        .await
        .expect("complete");
    let mut times: Vec<u64> = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let sub = q.submit(llm_job()).await.expect("submit");
        times.push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        assert!(sub.cache_hit, "the content store should answer: {sub:?}");
    }
    times.sort_unstable();
    json!({"p50": percentile(&times, 0.50), "p99": percentile(&times, 0.99)})
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The value at fraction `p` of sorted `values` (0 for none).
fn percentile(values: &[u64], p: f64) -> u64 {
    let i = ((values.len() as f64 * p) as usize).min(values.len().saturating_sub(1));
    values.get(i).copied().unwrap_or(0)
}
