//! The dashboard's overview with a large queue (`cargo xtask bench
//! --overview`): fills the Redis at the URL given with N ready jobs (four
//! job types, every tenth job in one of 100 fairness groups), starts the
//! real `deckhand serve` on it (no plugins, so nothing is claimed), then
//! times `GET /v1/overview` over HTTP and the page itself in chromium
//! (`tests/ui/overview-bench.mjs`: from navigation to the figures shown).
//! Prints one JSON line of figures.
//!
//! Usage: `cargo test --release --workspace --bench overview -- <redis-url> <jobs>`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deckhand::job::NewJob;
use deckhand::queue::{Queue, QueueConfig, RegisteredType};
use serde_json::json;

const TYPES: [&str; 4] = ["scrape", "align", "validate", "report"];
const BATCH: usize = 10_000;
const SAMPLES: usize = 30;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (Some(url), Some(jobs)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: overview-bench <redis-url> <jobs>");
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

/// Milliseconds: min, median, 95th percentile, max.
fn spread(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    json!({ "min": at(0.0), "median": at(0.5), "p95": at(0.95), "max": at(1.0), "samples": ms.len() })
}

async fn fill(q: &Queue, jobs: usize) -> f64 {
    let started = Instant::now();
    let mut submitted = 0;
    while submitted < jobs {
        let n = BATCH.min(jobs - submitted);
        let batch: Vec<NewJob> = (submitted..submitted + n)
            .map(|i| NewJob {
                id: Some(format!("bench-{i}")),
                group: (i % 10 == 0).then(|| format!("source-{}", i % 1000 / 10)),
                ..NewJob::new(
                    TYPES[i % TYPES.len()],
                    json!({ "record": i, "source": "bench" }).into(),
                )
            })
            .collect();
        q.submit_batch(batch).await.expect("submit");
        submitted += n;
    }
    started.elapsed().as_secs_f64()
}

async fn run(url: &str, jobs: usize) {
    let config = QueueConfig {
        check_job_types: false,
        max_batch_jobs: BATCH,
        ..QueueConfig::default()
    };
    let q = Queue::connect(url, config).await.expect("redis");
    // As a host that runs these types would (none runs here: nothing is
    // claimed while the figures are read).
    let types: Vec<RegisteredType> = TYPES
        .iter()
        .map(|t| RegisteredType {
            job_type: t.to_string(),
            plugin: "bench".into(),
            version_id: "0".into(),
            cache: false,
        })
        .collect();
    q.register_job_types("bench-host", &types)
        .await
        .expect("register");
    let fill_secs = fill(&q, jobs).await;
    eprintln!("overview bench: {jobs} jobs in Redis after {fill_secs:.1} s");
    let mut queue_ms = Vec::new();
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let o = q.overview().await.expect("overview");
        queue_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let ready: u64 = o.job_types.iter().map(|t| t.ready).sum();
        assert_eq!(ready, jobs as u64, "the overview counts every job");
    }
    let plugins = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let listen = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let addr = listen.local_addr().expect("addr");
    drop(listen);
    let mut host = Command::new(root().join("target/release/deckhand"))
        .args(["serve", "--redis-url", url, "--listen", &addr.to_string()])
        .arg("--plugin-dir")
        .arg(plugins.path())
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("deckhand serve");
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut http_ms = Vec::new();
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let r = http
            .get(format!("{base}/v1/overview"))
            .send()
            .await
            .expect("GET");
        assert!(r.status().is_success());
        let _ = r.bytes().await.expect("body");
        http_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let page = Command::new("node")
        .arg(root().join("tests/ui/overview-bench.mjs"))
        .current_dir(root().join("tests/ui"))
        .env("DASH_BASE", &base)
        .stderr(Stdio::inherit())
        .output();
    let _ = host.kill();
    let _ = host.wait();
    let page_ms: Vec<f64> = match page {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect(),
        other => {
            eprintln!("overview bench: the page timing did not run: {other:?}");
            vec![]
        }
    };
    println!(
        "{}",
        json!({
            "system": "deckhand-overview",
            "jobs_in_redis": jobs,
            "fill_secs": fill_secs,
            "queue_overview_ms": spread(queue_ms),
            "http_overview_ms": spread(http_ms),
            "page_ready_ms": if page_ms.is_empty() { json!(null) } else { spread(page_ms) },
        })
    );
}
