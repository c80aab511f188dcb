//! `cargo xtask bench --scale [--jobs N]`: the drain at equal concurrency
//! against BullMQ, and on a 3-master cluster (`scale.rs`).
//!
//! `cargo xtask bench --overview [--jobs N]`: the dashboard's overview with
//! N jobs in Redis (default 1,000,000; `tests/bench/overview.rs`).
//!
//! `cargo xtask bench [--jobs N] [--smoke]`: Deckhand against its peers on
//! this machine, each against a fresh `redis-server` on a free port, in one
//! run. The peers install from their registries into `target/bench-tools`:
//! BullMQ (npm), RQ and Celery (PyPI), and apalis (crates.io, built from the
//! small program in `tests/bench/apalis/` with its own lock file). Each
//! system's driver (`tests/bench/`) prints one JSON line of figures; this
//! collects them into a Markdown table of absolute figures and of Deckhand's
//! ratio to each peer, prints it, and writes it to `target/bench/results.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{build_plugins, cargo, root, run};

const PY_PEERS: [&str; 2] = ["rq==2.6.1", "celery[redis]==5.5.3"];
const BULLMQ: [&str; 2] = ["bullmq@6.7.0", "ioredis@6.0.0"];

pub fn bench(args: &[String]) -> Result<(), String> {
    let smoke = args.iter().any(|a| a == "--smoke");
    let jobs: usize = match args.iter().position(|a| a == "--jobs") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .ok_or("--jobs takes a number")?,
        None if smoke => 200,
        None => 50_000,
    };
    if args.iter().any(|a| a == "--overview") {
        return overview(args);
    }
    let root = root();
    build_plugins()?;
    let tools = root.join("target/bench-tools");
    let python = python_tools(&tools)?;
    let node_dir = node_tools(&tools)?;
    let apalis = apalis_tool(&root, &tools)?;
    for driver in ["bullmq_bench.mjs", "bullmq_follow.mjs"] {
        std::fs::copy(root.join("tests/bench").join(driver), node_dir.join(driver))
            .map_err(|e| format!("cannot copy the BullMQ driver {driver}: {e}"))?;
    }

    let n = jobs.to_string();
    let mut results: Vec<Value> = Vec::new();
    let mut drivers: Vec<(&str, Command)> = Vec::new();
    drivers.push(("deckhand", deckhand_driver()));
    let mut bullmq = Command::new("node");
    bullmq.current_dir(&node_dir).arg("bullmq_bench.mjs");
    drivers.push(("bullmq", bullmq));
    drivers.push(("apalis", Command::new(&apalis)));
    let mut rq = Command::new(&python);
    rq.arg(root.join("tests/bench/rq_bench.py"));
    drivers.push(("rq", rq));
    let mut celery = Command::new(&python);
    celery.arg(root.join("tests/bench/celery_bench.py"));
    drivers.push(("celery", celery));
    for (name, mut cmd) in drivers {
        let redis = FreshRedis::start()?;
        eprintln!("xtask: bench {name}: {jobs} jobs against {}", redis.url);
        results.push(figures(name, cmd.arg(&redis.url).arg(&n))?);
    }
    bullmq_follow(&node_dir, jobs, &mut results)?;
    let limit = redis_benchmark(smoke)?;
    let table = table(&results, &limit, jobs);
    println!("{table}");
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    std::fs::write(out.join("results.md"), &table)
        .map_err(|e| format!("cannot write results.md: {e}"))?;
    Ok(())
}

/// BullMQ's follow figures (`bullmq_follow.mjs`: a client following every
/// job through `QueueEvents`, the worker in its own process) added to its row.
fn bullmq_follow(node_dir: &Path, jobs: usize, results: &mut [Value]) -> Result<(), String> {
    let redis = FreshRedis::start()?;
    eprintln!(
        "xtask: bench bullmq follow: {jobs} jobs against {}",
        redis.url
    );
    let mut node = Command::new("node");
    node.current_dir(node_dir)
        .arg("bullmq_follow.mjs")
        .arg(&redis.url)
        .arg(jobs.to_string());
    let follow = figures("bullmq", &mut node)?;
    if let Some(row) = results.iter_mut().find(|r| r["system"] == "bullmq") {
        row["follow_per_s"] = follow["follow_per_s"].clone();
        row["follow_jobs"] = jobs.into();
        row["follow_mode"] =
            "addBulk 100 a call, 4 in flight, each job followed through QueueEvents; worker in its own process, concurrency 64".into();
    }
    Ok(())
}

/// Deckhand's driver (`tests/bench/deckhand.rs`), its arguments still to
/// add. Built as `cargo test --release --workspace` builds (which also
/// builds `target/release/deckhand` for it), so that after the tests nothing
/// is compiled again: `cargo bench` or `cargo build -p deckhand` would unify
/// features differently and compile wasmtime twice more.
pub(crate) fn deckhand_driver() -> Command {
    let mut cmd = cargo();
    cmd.current_dir(root()).args([
        "test",
        "--release",
        "--workspace",
        "--bench",
        "deckhand",
        "--",
    ]);
    cmd
}

/// Runs a peer driver and reads its one JSON line of figures (the last
/// line of its output that starts with `{`).
pub(crate) fn figures(name: &str, cmd: &mut Command) -> Result<Value, String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run the {name} driver: {e}"))?;
    if !out.status.success() {
        return Err(format!("the {name} driver failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or(format!("the {name} driver printed no figures"))?;
    serde_json::from_str(line).map_err(|e| format!("{name} figures: {e}"))
}

fn python_tools(tools: &Path) -> Result<PathBuf, String> {
    let venv = tools.join("py");
    let python = venv.join("bin/python");
    if !venv.join("bin/rq").is_file() || !venv.join("bin/celery").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .args(PY_PEERS))?;
    }
    Ok(python)
}

pub(crate) fn node_tools(tools: &Path) -> Result<PathBuf, String> {
    let dir = tools.join("js");
    if !dir.join("node_modules/bullmq").is_dir() || !dir.join("node_modules/ioredis").is_dir() {
        std::fs::create_dir_all(&dir)
            .and_then(|()| {
                std::fs::write(
                    dir.join("package.json"),
                    "{\"private\": true, \"type\": \"module\"}\n",
                )
            })
            .map_err(|e| format!("cannot prepare {}: {e}", dir.display()))?;
        run(Command::new("npm")
            .current_dir(&dir)
            .args(["install", "--silent", "--no-audit", "--no-fund"])
            .args(BULLMQ))?;
    }
    Ok(dir)
}

/// Builds the apalis driver (release, from its lock file) into
/// `target/bench-tools/apalis`; returns the binary.
fn apalis_tool(root: &Path, tools: &Path) -> Result<PathBuf, String> {
    let target = tools.join("apalis");
    run(cargo()
        .current_dir(root.join("tests/bench/apalis"))
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--release", "--locked"]))?;
    Ok(target.join("release/apalis-bench"))
}

/// The overview bench: one fresh Redis, N jobs (1,000,000 by default).
fn overview(args: &[String]) -> Result<(), String> {
    let jobs = match args.iter().position(|a| a == "--jobs") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or("--jobs takes a number")?,
        None => 1_000_000,
    };
    let redis = FreshRedis::start()?;
    run(cargo().current_dir(root()).args([
        "test",
        "--release",
        "--workspace",
        "--bench",
        "overview",
        "--",
        &redis.url,
        &jobs.to_string(),
    ]))
}

/// A `redis-server` of its own on a free port, without persistence (every
/// system gets the same), stopped on drop.
pub(crate) struct FreshRedis {
    pub(crate) url: String,
    pub(crate) port: u16,
    child: std::process::Child,
}

impl FreshRedis {
    pub(crate) fn start() -> Result<FreshRedis, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(FreshRedis {
                    url: format!("redis://127.0.0.1:{port}"),
                    port,
                    child,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        Err("redis-server did not start".into())
    }
}

impl Drop for FreshRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Redis-side ceiling on this machine: single commands (SET, GET,
/// LPUSH, LPOP) from 50 connections, no pipelining.
fn redis_benchmark(smoke: bool) -> Result<String, String> {
    let redis = FreshRedis::start()?;
    let n = if smoke { "2000" } else { "200000" };
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &redis.port.to_string(),
            "-q",
            "-n",
            n,
            "-c",
            "50",
            "-t",
            "set,get,lpush,lpop",
        ])
        .output();
    let out = match out {
        Ok(out) => out,
        // Part of Redis' own tools; without it the table says so.
        Err(e) => return Ok(format!("not measured (cannot run redis-benchmark: {e})")),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .map(|l| l.trim().to_string())
        .collect::<Vec<_>>()
        .join("; "))
}

fn table(results: &[Value], limit: &str, jobs: usize) -> String {
    let cols = [
        ("drain_per_s", "drain jobs/s"),
        ("enqueue_single_per_s", "enqueue jobs/s (single)"),
        ("enqueue_bulk_per_s", "enqueue jobs/s (bulk)"),
        ("latency_p50_ms", "submit→start p50 ms"),
        ("latency_p99_ms", "p99 ms"),
        ("peak_rss_mb", "worker peak RSS MB"),
        ("follow_per_s", "end to end with a follower jobs/s"),
    ];
    let mut s = format!(
        "Benchmark, {jobs} no-op jobs per system, each against a fresh redis-server (no persistence) on this machine ({}).\n\n",
        machine()
    );
    s.push_str("| system |");
    for (_, title) in cols {
        s.push_str(&format!(" {title} |"));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(cols.len()));
    s.push('\n');
    for r in results {
        s.push_str(&format!("| {} |", r["system"].as_str().unwrap_or("?")));
        for (key, _) in cols {
            match &r[key] {
                Value::Null => s.push_str(" n/a |"),
                v => s.push_str(&format!(" {v} |")),
            }
        }
        s.push('\n');
    }
    if let Some(d) = results.iter().find(|r| r["system"] == "deckhand") {
        s.push_str(&ratios(d, results));
        s.push_str(&deckhand_notes(d));
    }
    s.push_str("\nSettings and modes:\n\n");
    for r in results {
        s.push_str(&format!(
            "- **{}**: {}; {}\n",
            r["system"].as_str().unwrap_or("?"),
            r["settings"].as_str().unwrap_or(""),
            r["mode"].as_str().unwrap_or("")
        ));
    }
    s.push_str("\nEnd to end with a follower (a client submits and follows every job to its result, as a user of `deckhand bulk` does; jobs: how many, the workers running):\n\n");
    for r in results.iter().filter(|r| !r["follow_mode"].is_null()) {
        s.push_str(&format!(
            "- **{}**: {} jobs; {}\n",
            r["system"].as_str().unwrap_or("?"),
            r["follow_jobs"],
            r["follow_mode"].as_str().unwrap_or("")
        ));
    }
    s.push_str(&format!(
        "\nRedis ceiling (redis-benchmark, 50 clients, no pipelining): {limit}\n"
    ));
    s
}

/// Deckhand's ratio to each peer, and its round trips and commands a job.
fn ratios(d: &Value, results: &[Value]) -> String {
    let mut s = String::new();
    s.push_str("\nDeckhand's ratio to each peer (higher is better for Deckhand: throughput as Deckhand/peer, latency and memory as peer/Deckhand):\n\n| peer | drain | enqueue single | enqueue bulk | p99 latency | peak RSS | end to end with a follower |\n|---|---|---|---|---|---|---|\n");
    for r in results.iter().filter(|r| r["system"] != "deckhand") {
        let ratio = |k: &str, inverse: bool| {
            let (a, b) = (d[k].as_f64().unwrap_or(0.0), r[k].as_f64().unwrap_or(0.0));
            let (num, den) = if inverse { (b, a) } else { (a, b) };
            if den > 0.0 {
                format!("{:.2}×", num / den)
            } else {
                "n/a".into()
            }
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r["system"].as_str().unwrap_or("?"),
            ratio("drain_per_s", false),
            ratio("enqueue_single_per_s", false),
            ratio("enqueue_bulk_per_s", false),
            ratio("latency_p99_ms", true),
            ratio("peak_rss_mb", true),
            ratio("follow_per_s", false),
        ));
    }
    s.push_str(&format!(
        "\nDeckhand during the drain: {} Redis round trips per job (script calls: one claim per batch of free slots, one completion call per batch of finished jobs) and {} Redis commands per job counting those run inside the scripts.\n",
        d["redis_round_trips_per_job"], d["redis_commands_per_job"]
    ));
    s
}

/// What Deckhand's row does not say: start-up, drains by tasks in flight,
/// `deckhand bulk` end to end, a cache hit's submit.
fn deckhand_notes(d: &Value) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "\nDeckhand's drain time includes starting its host process (connecting, compiling the plugins): {} ms from the spawn to the first job's start; without it, {} jobs/s.\n",
        d["drain_startup_ms"], d["drain_per_s_after_startup"]
    ));
    s.push_str(&format!(
        "\nDeckhand drain with 1, 2 and 4 jobs in flight (`--batch-size`): {}\n",
        d["drain_per_s_by_tasks"]
    ));
    s.push_str(&format!(
        "\n`deckhand bulk` over as many no-op records, end to end (read the file, submit, follow, write every result; host running, batch-size 256): {} s, {}× the drain of as many jobs already queued, {}× the host's drain of the run's own jobs (first start to last end, {} s). The host's drain while a `bulk` client follows the jobs (submitted by that client with no host running): {} jobs/s.\n",
        d["bulk_end_to_end_s"],
        d["bulk_vs_drain"],
        d["bulk_vs_drain_in_run"],
        d["bulk_drain_in_run_s"],
        d["drain_per_s_while_bulk_waits"]
    ));
    s.push_str(&format!(
        "\nA cache-hit job (submitted content whose result the content store holds; completed by the submit, nothing runs), submit round trip in µs: {}\n",
        d["cache_hit_submit_us"]
    ));
    s
}

pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    format!("{cpus} cores, {model}")
}
