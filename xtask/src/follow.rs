//! The follow scenario of `cargo xtask bench --scale`: a client that
//! follows every job to its result, as a user of `deckhand bulk` (or the
//! API's wait) runs Deckhand. At 64 and 200 in flight, each on a fresh
//! `redis-server`:
//! - Deckhand: the same `bulk`-submitted jobs drained by one host with no
//!   one following and with `bulk` following (the follower's cost), and
//!   `bulk` end to end with the host running (`tests/bench/follow.rs`);
//! - BullMQ: a client that adds the jobs and follows them through
//!   `QueueEvents`, a worker in its own Node process
//!   (`tests/bench/bullmq_follow.mjs`).
//!
//! Redis CPU per job is over the whole end-to-end run: submit, claim,
//! complete and what the follower reads.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::bench::FreshRedis;
use crate::scale::{median, number, spread};

/// The table's header.
pub const HEADER: &str = "| in flight | host threads | drain, no follower | drain, `bulk` following | followed / alone | follower CPU µs/job | drain, 1,000 API waits open | waits / alone | `bulk` end to end jobs/s | BullMQ + QueueEvents jobs/s | ratio | Deckhand Redis CPU µs/job | BullMQ Redis CPU µs/job | Deckhand script µs/job | BullMQ script µs/job | Deckhand commands/job |\n\
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

/// The rows for `c` in flight, `runs` rounds of every setting then BullMQ.
pub fn rows(node_dir: &Path, jobs: usize, c: u32, runs: usize) -> Result<Vec<String>, String> {
    let threads = [("0", "one per core"), ("1", "1")];
    let mut deckhand: Vec<Vec<Value>> = vec![Vec::new(); threads.len()];
    let mut bullmq = Vec::new();
    for _ in 0..runs {
        for (i, (setting, _)) in threads.iter().enumerate() {
            deckhand[i].push(deckhand_follow(jobs, c, setting)?);
        }
        bullmq.push(bullmq_follow(node_dir, jobs, c)?);
    }
    Ok(threads
        .iter()
        .zip(&deckhand)
        .map(|((_, label), runs)| row(c, label, runs, &bullmq))
        .collect())
}

fn row(c: u32, threads: &str, runs: &[Value], bullmq: &[Value]) -> String {
    let ratios = |a: &str, b: &[Value], k: &str| -> f64 {
        let r: Vec<f64> = runs
            .iter()
            .zip(b)
            .map(|(d, p)| number(d, a) / number(p, k).max(1.0))
            .collect();
        median(&r)
    };
    let kept = ratios("drain_followed_per_s", runs, "drain_alone_per_s");
    let waited = ratios("drain_with_waits_per_s", runs, "drain_alone_per_s");
    let ratio = ratios("follow_per_s", bullmq, "follow_per_s");
    format!(
        "| {c} | {threads} | {} | {} | {kept:.2} | {} | {} | {waited:.2} | {} | {} | {ratio:.2}x | {} | {} | {} | {} | {} |",
        spread(runs, "drain_alone_per_s", 0),
        spread(runs, "drain_followed_per_s", 0),
        spread(runs, "follower_cpu_us_per_job", 1),
        spread(runs, "drain_with_waits_per_s", 0),
        spread(runs, "follow_per_s", 0),
        spread(bullmq, "follow_per_s", 0),
        spread(runs, "follow_redis_cpu_us_per_job", 1),
        spread(bullmq, "follow_redis_cpu_us_per_job", 1),
        spread(runs, "follow_script_us_per_job", 1),
        spread(bullmq, "follow_script_us_per_job", 1),
        spread(runs, "follow_commands_per_job", 2),
    )
}

/// The scenario's table with its settings; `spread` says how rounds are
/// summed up (empty for one round).
pub fn table(rows: &[String], jobs: usize, spread: &str) -> String {
    format!(
        "**With a client following every job** (what a user of `deckhand bulk`, the API's wait or \
         `submit --wait` meets). {spread}{jobs} no-op jobs per run, each run on a fresh `redis-server`. \
         Drains: the same jobs submitted by `deckhand bulk` with no host running, then drained by 1 host \
         (`--batch-size` = in flight) with the `bulk` client killed after submitting (no follower) or \
         following; follower CPU: the `bulk` process's over that drain. Waits: the same drain while a \
         second host, serving the API only, holds 1,000 open `POST /v1/jobs/wait`s on jobs delayed by an \
         hour. End to end: `deckhand bulk` over \
         the records with the host running (submit, follow, write every result) against a BullMQ 6.7.0 \
         client adding the jobs (addBulk, 100 a call, 4 in flight, as `bulk` submits) and following them \
         through `QueueEvents`, its worker in another Node process (concurrency = in flight, returns the \
         job's data); Redis CPU, script µs and commands per job over that whole run.\n\n{}\n{}\n",
        HEADER,
        rows.join("\n")
    )
}

/// One Deckhand follow scenario on a fresh Redis.
fn deckhand_follow(jobs: usize, c: u32, threads: &str) -> Result<Value, String> {
    let redis = FreshRedis::start()?;
    let mut cmd = crate::bench::deckhand_driver();
    cmd.arg(&redis.url)
        .arg(jobs.to_string())
        .env("BENCH_FOLLOW", "1")
        .env("BENCH_CONCURRENCY", c.to_string())
        .env("DECKHAND_THREADS", threads);
    eprintln!("xtask: bench --scale: deckhand follow, {c} in flight, threads {threads}");
    crate::bench::figures("deckhand", &mut cmd)
}

/// One BullMQ follow run on a fresh Redis.
fn bullmq_follow(node_dir: &Path, jobs: usize, c: u32) -> Result<Value, String> {
    let redis = FreshRedis::start()?;
    let mut node = Command::new("node");
    node.current_dir(node_dir)
        .arg("bullmq_follow.mjs")
        .arg(&redis.url)
        .arg(jobs.to_string())
        .env("BENCH_CONCURRENCY", c.to_string());
    eprintln!("xtask: bench --scale: bullmq follow, {c} in flight");
    crate::bench::figures("bullmq", &mut node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_row_pairs_each_round_with_its_own_runs() {
        let deckhand = [
            json!({"drain_alone_per_s": 100.0, "drain_followed_per_s": 90.0, "drain_with_waits_per_s": 95.0, "follow_per_s": 60.0}),
            json!({"drain_alone_per_s": 50.0, "drain_followed_per_s": 40.0, "drain_with_waits_per_s": 45.0, "follow_per_s": 20.0}),
        ];
        let bullmq = [json!({"follow_per_s": 20.0}), json!({"follow_per_s": 10.0})];
        let line = row(64, "1", &deckhand, &bullmq);
        // Kept: 0.90 and 0.80, median 0.85; against BullMQ: 3x and 2x, 2.5x.
        assert!(
            line.starts_with("| 64 | 1 | 75 (50–100) | 65 (40–90) | 0.85 |"),
            "{line}"
        );
        assert!(line.contains("| 70 (45–95) | 0.93 |"), "{line}");
        assert!(line.contains("| 2.50x |"), "{line}");
        assert_eq!(
            line.matches('|').count(),
            HEADER.lines().next().unwrap().matches('|').count()
        );
    }
}
