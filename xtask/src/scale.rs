//! `cargo xtask bench --scale [--jobs N] [--runs R] [--follow]`: the drain at equal
//! concurrency, Deckhand against BullMQ, at 64 and at 200 jobs in flight,
//! each against a fresh `redis-server`; at 200, Deckhand also against a
//! fresh 3-master Redis Cluster on loopback (`redis+cluster://`) with the
//! queue in 1 and in 3 partitions. Each Deckhand drain runs twice: with the
//! host's runtime threads at one per core (the default) and at one
//! (`DECKHAND_THREADS`), as BullMQ's one Node thread. Reports jobs/s, the
//! ratio to BullMQ (a cluster's: to one Redis), and Redis' script time per
//! job (`INFO commandstats`, FCALL usec over the drain; BullMQ's EVALSHA),
//! and writes `target/bench/scale.md`, with what this machine's Redis
//! charges for a script call and each command in it (`yardstick.rs`).
//! Then the follow scenario, a client following every job (`follow.rs`);
//! `--follow` runs that one only.
//!
//! Figures on a shared 2-core machine swing by ±15% from one drain to the
//! next; `--runs R` (1 to 9, default 1) repeats every setting R times in
//! rounds and reports medians with their ranges.

use std::process::Command;

use serde_json::Value;

use crate::bench::{FreshRedis, node_tools};
use crate::cluster::Cluster;
use crate::yardstick::commandstat;
use crate::{build_plugins, root};

const CONCURRENCY: [u32; 2] = [64, 200];

/// The host's runtime threads in each Deckhand run: one per core (the
/// default), and one, as BullMQ's worker has (one Node thread), which
/// leaves the second core to Redis.
const THREADS: [Threads; 2] = [Threads::PerCore, Threads::One];

#[derive(Clone, Copy)]
enum Threads {
    PerCore,
    One,
}

impl Threads {
    /// `DECKHAND_THREADS` for the host.
    fn setting(self) -> &'static str {
        match self {
            Threads::PerCore => "0",
            Threads::One => "1",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Threads::PerCore => "one per core",
            Threads::One => "1",
        }
    }
}

/// Most rounds `--runs` may ask for.
const MAX_RUNS: usize = 9;
/// Most jobs `--jobs` may ask for a drain.
const MAX_JOBS: usize = 10_000_000;

pub fn scale(args: &[String]) -> Result<(), String> {
    let number = |flag: &str, default: usize| match args.iter().position(|a| a == flag) {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or(format!("{flag} takes a number")),
        None => Ok(default),
    };
    let jobs = number("--jobs", 50_000)?;
    if !(1..=MAX_JOBS).contains(&jobs) {
        return Err(format!("--jobs {jobs}: between 1 and {MAX_JOBS}"));
    }
    let runs = number("--runs", 1)?;
    if !(1..=MAX_RUNS).contains(&runs) {
        return Err(format!("--runs {runs}: between 1 and {MAX_RUNS}"));
    }
    let root = root();
    build_plugins()?;
    // Before the drains, on a Redis of its own: what this machine's Redis
    // charges for a script call and for each command inside one.
    let yardstick = crate::yardstick::redis_yardstick();
    let node_dir = node_tools(&root.join("target/bench-tools"))?;
    for driver in ["bullmq_bench.mjs", "bullmq_follow.mjs"] {
        std::fs::copy(root.join("tests/bench").join(driver), node_dir.join(driver))
            .map_err(|e| format!("cannot copy the BullMQ driver {driver}: {e}"))?;
    }
    // `--follow`: the follow scenario only.
    let follow_only = args.iter().any(|a| a == "--follow");
    let mut rows = Vec::new();
    let mut follow = Vec::new();
    for c in CONCURRENCY {
        if !follow_only {
            rows.extend(rounds(&node_dir, jobs, c, runs)?);
        }
        follow.extend(crate::follow::rows(&node_dir, jobs, c, runs)?);
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spread = if runs > 1 {
        format!(
            "{runs} rounds; each figure is the median of the rounds, with the lowest and highest \
             in brackets; the ratio is the median of each round's run over that round's \
             BullMQ run (a cluster: over that round's run of the same setting on one Redis). "
        )
    } else {
        String::new()
    };
    let table = format!(
        "| Redis | in flight | host threads | Deckhand jobs/s | BullMQ jobs/s | ratio | Deckhand script µs/job | BullMQ script µs/job | Deckhand commands/job | Redis CPU µs/job | host CPU µs/job |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{}\n\n\
         {spread}{jobs} no-op jobs queued then drained (plus a tenth more queued one by one); \
         Deckhand: 1 host, `--batch-size` = in flight, `--threads` as given (one per core: {cores} here), \
         echo.wasm, content store off; \
         BullMQ 6.7.0: 1 Node process, Worker concurrency = in flight. \
         Script µs/job: FCALL (and EVALSHA) usec in `INFO commandstats` over the drain, per job \
         (BullMQ's: over the whole run, adds included). CPU µs/job: Deckhand's drain, \
         every Redis node's `used_cpu_user + used_cpu_sys`, and the host process's \
         (start-up included): the inputs of the N-master model in the README. {}. {yardstick}",
        rows.join("\n"),
        crate::bench::machine()
    );
    let table = format!(
        "{table}\n\n{}",
        crate::follow::table(&follow, jobs, &spread)
    );
    println!("{table}");
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    std::fs::write(out.join("scale.md"), &table)
        .map_err(|e| format!("cannot write scale.md: {e}"))?;
    Ok(())
}

/// The rows for `c` in flight: every setting, `runs` rounds each, beside
/// BullMQ (or, for a cluster, the same setting on one Redis).
fn rounds(
    node_dir: &std::path::Path,
    jobs: usize,
    c: u32,
    runs: usize,
) -> Result<Vec<String>, String> {
    let mut rows = Vec::new();
    // The clusters only at 200 in flight.
    let setups: &[Setup] = if c == 200 {
        &[Setup::One, Setup::Cluster(1), Setup::Cluster(3)]
    } else {
        &[Setup::One]
    };
    // Rounds, each every setting then BullMQ, one after the other: a
    // ratio compares runs minutes apart, not one setting's first run
    // with another's last.
    let mut deckhand = vec![vec![Vec::new(); THREADS.len()]; setups.len()];
    let mut bullmq: Vec<Value> = Vec::new();
    for _ in 0..runs {
        for (s, setup) in setups.iter().enumerate() {
            for (i, threads) in THREADS.into_iter().enumerate() {
                deckhand[s][i].push(setup.drain(jobs, c, threads)?);
            }
            if let Setup::One = setup {
                bullmq.push(bullmq_on(node_dir, jobs, c)?);
            }
        }
    }
    for (setup, runs) in setups.iter().zip(&deckhand) {
        for (i, threads) in THREADS.into_iter().enumerate() {
            let peer = match setup {
                Setup::One => Peer::BullMq(&bullmq),
                Setup::Cluster(_) => Peer::OneRedis(&deckhand[0][i]),
            };
            rows.push(row(&setup.name(), c, threads, &runs[i], peer));
        }
    }
    Ok(rows)
}

/// What a row's ratio compares with: BullMQ's runs of the same rounds, or
/// (for a cluster) the same setting's runs on one Redis.
enum Peer<'a> {
    BullMq(&'a [Value]),
    OneRedis(&'a [Value]),
}

/// Where the Deckhand host drains.
enum Setup {
    One,
    /// A fresh 3-master cluster, the queue in this many partitions.
    Cluster(u32),
}

impl Setup {
    fn name(&self) -> String {
        match self {
            Setup::One => "one Redis".into(),
            Setup::Cluster(p) => format!("3-master cluster, {p} partition(s)"),
        }
    }

    /// One drain on a fresh Redis (or cluster).
    fn drain(&self, jobs: usize, c: u32, threads: Threads) -> Result<Value, String> {
        match self {
            Setup::One => {
                let redis = FreshRedis::start()?;
                deckhand_on(&redis.url, None, jobs, c, 1, threads)
            }
            Setup::Cluster(p) => {
                let cluster = Cluster::start(3)?;
                let stats = cluster.stats_urls();
                deckhand_on(&cluster.url(), Some(&stats), jobs, c, *p, threads)
            }
        }
    }
}

/// One BullMQ run on a fresh Redis, with its script time per job.
fn bullmq_on(node_dir: &std::path::Path, jobs: usize, c: u32) -> Result<Value, String> {
    let redis = FreshRedis::start()?;
    let mut node = Command::new("node");
    node.current_dir(node_dir)
        .arg("bullmq_bench.mjs")
        .arg(&redis.url)
        .arg(jobs.to_string())
        .env("BENCH_CONCURRENCY", c.to_string());
    let mut run = figures("bullmq", &mut node)?;
    run["script_us_per_job"] = script_us(&[redis.port], jobs + jobs / 10).into();
    Ok(run)
}

/// One row of the table: a setting's runs and what its ratio compares
/// with, run in the same rounds (in round order).
fn row(redis: &str, c: u32, threads: Threads, runs: &[Value], peer: Peer<'_>) -> String {
    const DRAIN: &str = "drain_per_s";
    let ratio = |peers: &[Value]| {
        let ratios: Vec<f64> = runs
            .iter()
            .zip(peers)
            .map(|(d, p)| number(d, DRAIN) / number(p, DRAIN).max(1.0))
            .collect();
        median(&ratios)
    };
    let (bullmq, ratio, bullmq_us) = match peer {
        Peer::BullMq(peers) => (
            spread(peers, DRAIN, 0),
            format!("{:.2}x BullMQ", ratio(peers)),
            spread(peers, "script_us_per_job", 1),
        ),
        Peer::OneRedis(peers) => (
            String::new(),
            format!("{:.2}x one Redis", ratio(peers)),
            String::new(),
        ),
    };
    format!(
        "| {redis} | {c} | {} | {} | {bullmq} | {ratio} | {} | {bullmq_us} | {} | {} | {} |",
        threads.label(),
        spread(runs, DRAIN, 0),
        spread(runs, "script_us_per_job", 1),
        spread(runs, "redis_commands_per_job", 2),
        spread(runs, "redis_cpu_us_per_job", 1),
        spread(runs, "host_cpu_us_per_job", 1),
    )
}

pub(crate) fn number(run: &Value, key: &str) -> f64 {
    run[key].as_f64().unwrap_or(0.0)
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// A figure over the runs: the median, and with several runs the lowest
/// and highest, to `decimals` places.
pub(crate) fn spread(runs: &[Value], key: &str, decimals: usize) -> String {
    let values: Vec<f64> = runs.iter().map(|r| number(r, key)).collect();
    let mid = median(&values);
    if values.len() < 2 {
        return format!("{mid:.decimals$}");
    }
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{mid:.decimals$} ({low:.decimals$}–{high:.decimals$})")
}

/// The Deckhand driver in drain-only mode, on a queue of `partitions`
/// partitions (its host reads the same variables, threads among them).
fn deckhand_on(
    url: &str,
    stats: Option<&str>,
    jobs: usize,
    c: u32,
    partitions: u32,
    threads: Threads,
) -> Result<Value, String> {
    let mut cmd = crate::bench::deckhand_driver();
    cmd.arg(url)
        .arg(jobs.to_string())
        .env("BENCH_DRAIN_ONLY", "1")
        .env("BENCH_CONCURRENCY", c.to_string())
        .env("DECKHAND_QUEUE_PARTITIONS", partitions.to_string())
        .env("DECKHAND_THREADS", threads.setting());
    if let Some(stats) = stats {
        cmd.env("BENCH_STATS_URL", stats);
    }
    figures("deckhand", &mut cmd)
}

fn figures(name: &str, cmd: &mut Command) -> Result<Value, String> {
    eprintln!("xtask: bench --scale: {name}");
    crate::bench::figures(name, cmd)
}

/// Script (FCALL, EVALSHA) microseconds per job on these Redis ports, from `INFO commandstats`.
fn script_us(ports: &[u16], jobs: usize) -> f64 {
    let mut usec = 0.0;
    for port in ports {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "INFO", "commandstats"])
            .output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let text = text.unwrap_or_default();
        usec += ["evalsha", "fcall"]
            .iter()
            .filter_map(|command| commandstat(&text, command, "usec"))
            .sum::<f64>();
    }
    usec / jobs.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn medians_and_ranges_over_the_runs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let runs = [json!({"x": 30.0}), json!({"x": 10.0}), json!({"x": 25.0})];
        assert_eq!(spread(&runs, "x", 0), "25 (10–30)");
        assert_eq!(spread(&runs[..1], "x", 1), "30.0");
    }

    #[test]
    fn a_ratio_pairs_each_round_with_its_own_peer_run() {
        let deckhand = [json!({"drain_per_s": 200.0}), json!({"drain_per_s": 90.0})];
        let bullmq = [json!({"drain_per_s": 100.0}), json!({"drain_per_s": 30.0})];
        // Rounds: 2.00x and 3.00x; the medians' ratio would be 145/65 = 2.23x.
        let line = row(
            "one Redis",
            64,
            Threads::One,
            &deckhand,
            Peer::BullMq(&bullmq),
        );
        assert!(line.contains("| 2.50x BullMQ |"), "{line}");
    }
}
