//! apalis' side of the peer benchmark (`cargo xtask bench`); prints one JSON
//! line of figures, like the other drivers in `tests/bench/`.
//!
//! Usage: `apalis-bench <redis-url> <jobs>`
//!
//! One process is producer and worker (as in the BullMQ driver): one apalis
//! worker on `apalis-redis`'s `RedisStorage` with its defaults for
//! reliability: tasks are leased to the worker (`lock_tasks`) and each result
//! is written back (`persist_results`) before a task counts as done. A job is
//! "done" when it is in the storage's done set, so drain time runs until the
//! last result is recorded in Redis.
//!
//! Four things about apalis-redis 1.0.0 shape this driver and its figures:
//! - Every push lands in the storage's scheduled set (its `run_at` defaults to
//!   "now" in whole seconds), and the next fetch promotes every due task with
//!   one Lua `unpack`, which fails above about 8,000 ("too many results to
//!   unpack") and stops the worker. So after the enqueue figures, and before
//!   the drain clock starts, the driver moves the backlog to the active list
//!   in chunks of 1,000 (what the promotion would do), untimed: this favours
//!   apalis.
//! - Its pub/sub "available" event is published only for unscheduled pushes,
//!   so it never fires; the idle worker polls every `IDLE_POLL` instead.
//! - Its lease script `LREM`s every leased task from the whole active list,
//!   so each task costs time in proportion to the backlog: the drain of
//!   50,000 is several times slower per job than the drain of 2,000.
//! - With a compiler running beside it, the idle worker has missed its poll
//!   wake-ups and taken the latency jobs only at its next heartbeat (every
//!   30 s). A latency p99 in seconds means that happened again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apalis::prelude::*;
use apalis_redis::{Config, RedisStorage};
use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManagerConfig, MultiplexedConnection};

/// Tasks taken per fetch (`Config::batch_size`; apalis' default is 10, and
/// 1000 drained about 5% faster than 100 here);
/// `BENCH_FETCH` overrides it.
const FETCH: usize = 1000;
/// Concurrent tasks per worker, as the BullMQ driver's concurrency;
/// `BENCH_CONCURRENCY` overrides it.
const CONCURRENCY: usize = 64;
/// The bulk-submit chunk, as for the other systems.
const CHUNK: usize = 1000;
/// The Redis clients' response timeout. With the default 500 ms, calls fail
/// ("timed out") on a 50,000-job backlog: apalis-redis' lease script runs
/// `LREM` on the whole queue for every task it leases, so one call grows
/// with the backlog, and every other command waits behind it.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an idle worker fetches.
const IDLE_POLL: Duration = Duration::from_millis(5);

/// While set, the job records its submit→start latency.
static RECORD: AtomicBool = AtomicBool::new(false);
static LATENCIES_MS: Mutex<Vec<f64>> = Mutex::new(Vec::new());

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The no-op job; its argument is its submit time in µs since the epoch.
async fn noop(submitted_us: u64) -> Result<(), BoxDynError> {
    if RECORD.load(Ordering::Relaxed) {
        let ms = now_us().saturating_sub(submitted_us) as f64 / 1000.0;
        if let Ok(mut l) = LATENCIES_MS.lock() {
            l.push(ms);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(jobs)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: apalis-bench <redis-url> <jobs>");
        std::process::exit(2);
    };
    let client = redis::Client::open(url.as_str())?;
    // Some of apalis' scripts take longer than the client's default 500 ms
    // response timeout on a large backlog (see `RESPONSE_TIMEOUT`).
    let conn = client
        .get_connection_manager_with_config(
            ConnectionManagerConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT)),
        )
        .await?;
    let fetch = env_or("BENCH_FETCH", FETCH);
    let concurrency = env_or("BENCH_CONCURRENCY", CONCURRENCY);
    let config = Config::default().queue("bench").batch_size(fetch);
    let done_set = config.done_jobs_set();
    let scheduled = config.scheduled_jobs_set();
    let active = config.active_jobs_list();
    let mut storage: RedisStorage<u64> = RedisStorage::new(conn).with_config(config);
    let mut probe = client
        .get_multiplexed_async_connection_with_config(
            &AsyncConnectionConfig::new().set_response_timeout(Some(RESPONSE_TIMEOUT)),
        )
        .await?;

    let single_n = (jobs / 10).max(1);
    let t = Instant::now();
    for _ in 0..single_n {
        storage.push(now_us()).await?;
    }
    let single = single_n as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let n = left.min(CHUNK);
        storage.push_bulk(vec![now_us(); n]).await?;
        left -= n;
    }
    let bulk = jobs as f64 / t.elapsed().as_secs_f64();

    promote(&mut probe, &scheduled, &active).await?;
    let worker = WorkerBuilder::new("bench-worker")
        .backend(storage.clone().poll_with_interval(IDLE_POLL))
        .concurrency(concurrency)
        .build(noop);

    let total = single_n + jobs;
    let t = Instant::now();
    let mut running = tokio::spawn(worker.run());
    wait_done(&mut probe, &done_set, total, &mut running).await?;
    let drain = total as f64 / t.elapsed().as_secs_f64();

    let latency_n = (jobs / 10).clamp(1, 5000);
    RECORD.store(true, Ordering::Relaxed);
    let start = Instant::now();
    for i in 0..latency_n {
        tokio::time::sleep_until((start + Duration::from_millis(i as u64)).into()).await;
        storage.push(now_us()).await?;
    }
    wait_done(&mut probe, &done_set, total + latency_n, &mut running).await?;
    running.abort();

    let mut lat = LATENCIES_MS.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|v| (v * 10.0).round() / 10.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "system": "apalis",
            "mode": "apalis-redis RedisStorage with leases (lock_tasks) and results written back (persist_results), its defaults",
            "settings": format!("1 Rust process (producer and worker), apalis 1.0.0 + apalis-redis 1.0.0, concurrency {concurrency}, fetch batch {fetch}, idle poll every {} ms, push_bulk in chunks of {CHUNK}", IDLE_POLL.as_millis()),
            "jobs": total,
            "enqueue_single_per_s": single.round() as u64,
            "enqueue_bulk_per_s": bulk.round() as u64,
            "drain_per_s": drain.round() as u64,
            "latency_p50_ms": pct(0.5),
            "latency_p99_ms": pct(0.99),
            "peak_rss_mb": (peak_rss_mb() * 10.0).round() / 10.0,
        })
    );
    Ok(())
}

type Worker = tokio::task::JoinHandle<Result<(), WorkerError>>;

/// Waits until the storage's done set holds `n` jobs (five minutes at most),
/// or the worker stops.
async fn wait_done(
    conn: &mut MultiplexedConnection,
    done_set: &str,
    n: usize,
    worker: &mut Worker,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let count: usize = redis::cmd("SCARD").arg(done_set).query_async(conn).await?;
        if count >= n {
            return Ok(());
        }
        if worker.is_finished() {
            let why = match worker.await {
                Ok(Ok(())) => "without an error".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            return Err(format!("the worker stopped after {count} of {n} jobs: {why}").into());
        }
        if Instant::now() > deadline {
            return Err(format!("only {count} of {n} jobs done after 300 s").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Moves every task from the scheduled set to the active list, oldest first,
/// in chunks that apalis' own promotion could take.
async fn promote(
    conn: &mut MultiplexedConnection,
    scheduled: &str,
    active: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    loop {
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(scheduled)
            .arg(0)
            .arg(CHUNK - 1)
            .query_async(conn)
            .await?;
        if ids.is_empty() {
            return Ok(());
        }
        redis::pipe()
            .atomic()
            .cmd("RPUSH")
            .arg(active)
            .arg(&ids)
            .cmd("ZREM")
            .arg(scheduled)
            .arg(&ids)
            .exec_async(conn)
            .await?;
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
