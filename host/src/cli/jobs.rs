//! Commands that talk to the queue: submit, status, cancel, dlq, stats.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;

use deckhand::job::{NewJob, Payload, parse_rfc3339_ms};
use deckhand::queue::{Cancel, JobRecord, JobStatus, Queue, QueueError};

use super::local::read_payload;
use super::{EXIT_ERROR, EXIT_JOB_FAILED, EXIT_OK, QueueArgs};

/// Longest a client command waits for jobs: 30 days.
pub(super) const MAX_WAIT_SECS: u64 = 30 * 24 * 3600;

#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    job_type: String,
    /// The payload: a JSON file, or `-` for stdin.
    payload: String,
    /// Higher runs first (-1000000..=1000000).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    priority: i32,
    /// Run only after this job completes (repeatable).
    #[arg(long = "depends-on")]
    depends_on: Vec<String>,
    /// Your own id for the job; submitting the same id again returns the existing job.
    #[arg(long)]
    id: Option<String>,
    #[arg(long)]
    max_retries: Option<u32>,
    /// Metadata as key=value (repeatable).
    #[arg(long = "meta", value_parser = parse_key_value)]
    metadata: Vec<(String, String)>,
    /// Run even if the content store already has a result for this content.
    #[arg(long)]
    force: bool,
    /// Run once the --depends-on jobs finish, even if some of them died.
    #[arg(long)]
    run_after_failure: bool,
    /// Run no earlier than this RFC 3339 time (e.g. 2026-12-01T08:30:00Z).
    #[arg(long, conflicts_with = "delay")]
    at: Option<String>,
    /// Run no earlier than this long from now: a number with s, m, h or d
    /// (e.g. 90s, 15m, 2h); at most 10 years.
    #[arg(long = "in", value_parser = parse_delay)]
    delay: Option<u64>,
    /// Its fairness group (a source, a customer): claims take turns between
    /// the groups of a job type that have ready jobs.
    #[arg(long)]
    group: Option<String>,
    /// The W3C traceparent of a trace the job joins
    /// (00-<32 hex>-<16 hex>-<2 hex>).
    #[arg(long)]
    traceparent: Option<String>,
    /// Wait for the job to finish and print its result.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this many seconds (1 to 2592000, 30 days).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS))]
    timeout: u64,
    #[command(flatten)]
    queue: QueueArgs,
}

/// `90s`, `15m`, `2h`, `1d` (or plain seconds) as milliseconds.
fn parse_delay(s: &str) -> Result<u64, String> {
    let (number, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.trim().len()),
    );
    let scale: u64 = match unit {
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?}: use a number with s, m, h or d (e.g. 15m)")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?}: use a number with s, m, h or d (e.g. 15m)"))?;
    let ms = n.saturating_mul(scale);
    if ms > deckhand::job::MAX_SCHEDULE_AHEAD_MS {
        return Err(format!("{s:?} is more than 10 years"));
    }
    Ok(ms)
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not key=value")),
    }
}

pub async fn submit(args: SubmitArgs) -> anyhow::Result<u8> {
    let payload = match Payload::parse(read_payload(&args.payload)?) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("deckhand: submission refused: invalid payload: {e}");
            return Ok(EXIT_ERROR);
        }
    };
    let run_at = match args.at.as_deref().map(parse_rfc3339_ms).transpose() {
        Ok(at) => at,
        Err(e) => {
            eprintln!("deckhand: --at: {e}");
            return Ok(EXIT_ERROR);
        }
    };
    let queue = args.queue.connect().await?;
    let job_type = args.job_type.clone();
    let request = NewJob {
        priority: args.priority,
        depends_on: args.depends_on,
        id: args.id,
        max_retries: args.max_retries,
        metadata: args.metadata.into_iter().collect::<BTreeMap<_, _>>(),
        force: args.force,
        run_after_failure: args.run_after_failure,
        run_at,
        delay_ms: args.delay,
        group: args.group,
        trace: args.traceparent,
        ..NewJob::new(args.job_type, payload)
    };
    let submitted = match queue.submit(request).await {
        Ok(s) => s,
        Err(e @ QueueError::Redis(_)) => return Err(e.into()),
        Err(e) => {
            eprintln!("deckhand: submission refused: {e}");
            return Ok(EXIT_ERROR);
        }
    };
    if !submitted.status.is_finished() && !queue.type_is_live(&job_type).await.unwrap_or(true) {
        eprintln!("deckhand: warning: {}", Queue::no_live_host(&job_type));
    }
    if submitted.cache_hit {
        eprintln!("job {}: result taken from the content store", submitted.id);
    } else if !submitted.created {
        eprintln!(
            "job {} already exists for this id or content ({}); not submitted again",
            submitted.id, submitted.status
        );
    }
    if !args.wait {
        println!("{}", submitted.id);
        return Ok(EXIT_OK);
    }
    let ids = [submitted.id.clone()];
    let records = queue
        .wait_for_jobs(&ids, Duration::from_secs(args.timeout))
        .await?;
    let Some(job) = records.into_iter().next() else {
        bail!("job {} vanished while waiting", submitted.id);
    };
    Ok(print_outcome(&job))
}

/// Prints a finished job's result (stdout) or last error (stderr).
fn print_outcome(job: &JobRecord) -> u8 {
    match job.status {
        JobStatus::Completed => {
            println!("{}", job.result.as_deref().unwrap_or("null"));
            EXIT_OK
        }
        status => {
            let last = job
                .errors
                .last()
                .map(|e| format!("[{}] {}", e.kind, e.message))
                .unwrap_or_default();
            eprintln!("job {} is {status}: {last}", job.id);
            EXIT_JOB_FAILED
        }
    }
}

pub async fn status(queue: &QueueArgs, id: &str, json: bool) -> anyhow::Result<u8> {
    let queue = queue.connect().await?;
    let Some(job) = queue.get(id).await? else {
        eprintln!("deckhand: no job {id:?}");
        return Ok(EXIT_ERROR);
    };
    if json {
        println!("{}", serde_json::to_string(&job)?);
    } else {
        print_job(&job);
    }
    Ok(EXIT_OK)
}

fn print_job(job: &JobRecord) {
    println!("id:        {}", job.id);
    println!("type:      {}", job.job_type);
    println!("status:    {}", job.status);
    println!("priority:  {}", job.priority);
    println!(
        "attempts:  {} (max retries {})",
        job.attempts, job.max_retries
    );
    if !job.depends_on.is_empty() {
        println!(
            "depends:   {}{}",
            job.depends_on.join(", "),
            if job.run_after_failure {
                " (runs even if they die)"
            } else {
                ""
            }
        );
    }
    if job.children.total > 0 {
        println!(
            "children:  {}/{} finished, {} died or cancelled",
            job.children.finished, job.children.total, job.children.failed
        );
    }
    if let Some(worker) = &job.worker {
        println!("host:      {worker}");
    }
    if let Some(v) = &job.plugin_version {
        println!("plugin:    {}", &v[..12.min(v.len())]);
    }
    if let Some(result) = &job.result {
        println!("result:    {result}");
    }
    for e in &job.errors {
        println!(
            "error:     attempt {} [{}] {}{}",
            e.attempt,
            e.kind,
            e.message,
            e.host
                .as_deref()
                .map(|h| format!(" (on {h})"))
                .unwrap_or_default()
        );
    }
}

pub async fn cancel(queue: &QueueArgs, id: &str) -> anyhow::Result<u8> {
    let queue = queue.connect().await?;
    match queue.cancel(id).await {
        Ok(Cancel::Cancelled) => {
            println!("cancelled {id}");
            Ok(EXIT_OK)
        }
        Ok(Cancel::AlreadyFinished(status)) => {
            eprintln!("deckhand: job {id} already finished ({status})");
            Ok(EXIT_ERROR)
        }
        Err(QueueError::NotFound(_)) => {
            eprintln!("deckhand: no job {id:?}");
            Ok(EXIT_ERROR)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum DlqCommand {
    /// List dead jobs, oldest first.
    List {
        /// Show at most this many (1 to 100000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        limit: u64,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Show one dead job with its error history.
    Show {
        id: String,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Send dead jobs back to the queue with a fresh retry budget.
    Retry {
        ids: Vec<String>,
        /// Every job in the dead-letter queue.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Delete dead jobs for good.
    Purge {
        ids: Vec<String>,
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
}

pub async fn dlq(command: DlqCommand) -> anyhow::Result<u8> {
    match command {
        DlqCommand::List { limit, json, queue } => {
            let queue = queue.connect().await?;
            let jobs = queue.dlq_list(0, limit as usize).await?;
            if json {
                println!("{}", serde_json::to_string(&jobs)?);
            } else {
                for job in &jobs {
                    let last = job
                        .errors
                        .last()
                        .map(|e| format!("[{}] {}", e.kind, e.message))
                        .unwrap_or_default();
                    println!(
                        "{}  {}  attempts {}  {last}",
                        job.id, job.job_type, job.attempts
                    );
                }
                eprintln!("{} dead job(s) in total", queue.dlq_len().await?);
            }
            Ok(EXIT_OK)
        }
        DlqCommand::Show { id, queue } => status(&queue, &id, false).await,
        DlqCommand::Retry { ids, all, queue } => {
            if ids.is_empty() && !all {
                bail!("name the jobs to retry, or pass --all");
            }
            let replayed = queue.connect().await?.dlq_replay(&ids).await?;
            for id in &ids {
                if !replayed.contains(id) {
                    eprintln!("deckhand: {id} is not in the dead-letter queue");
                }
            }
            println!("replayed {} job(s)", replayed.len());
            Ok(if replayed.len() < ids.len() {
                EXIT_ERROR
            } else {
                EXIT_OK
            })
        }
        DlqCommand::Purge { ids, all, queue } => {
            if ids.is_empty() && !all {
                bail!("name the jobs to purge, or pass --all");
            }
            let n = queue.connect().await?.dlq_purge(&ids).await?;
            println!("purged {n} job(s)");
            Ok(EXIT_OK)
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum ContentCommand {
    /// Write every result in the Redis index to a content directory.
    Export {
        dir: std::path::PathBuf,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Load every result in a content directory into the Redis index.
    Import {
        dir: std::path::PathBuf,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Count stored results per job type.
    Stats {
        #[command(flatten)]
        queue: QueueArgs,
    },
}

pub async fn content(command: ContentCommand) -> anyhow::Result<u8> {
    use deckhand::content::{ContentDir, export, import};
    match command {
        ContentCommand::Export { dir, queue } => {
            let n = export(&queue.connect().await?, &ContentDir::new(&dir)).await?;
            println!("exported {n} result(s) to {}", dir.display());
        }
        ContentCommand::Import { dir, queue } => {
            let n = import(&queue.connect().await?, &ContentDir::new(&dir)).await?;
            println!("imported {n} result(s) from {}", dir.display());
        }
        ContentCommand::Stats { queue } => {
            let results = queue.connect().await?.content_results().await?;
            let mut per_type: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for r in &results {
                let e = per_type.entry(&r.job_type).or_default();
                e.0 += 1;
                e.1 += r.result.len();
            }
            for (job_type, (n, bytes)) in &per_type {
                println!("{job_type}: {n} result(s), {bytes} bytes");
            }
            println!("total: {} result(s)", results.len());
        }
    }
    Ok(EXIT_OK)
}

/// Lists the hosts that sent a heartbeat, live ones first.
pub async fn hosts(queue: &QueueArgs, json: bool) -> anyhow::Result<u8> {
    let queue = queue.connect().await?;
    let hosts = queue.hosts().await?;
    let unserved: Vec<String> = queue
        .type_infos()
        .await?
        .into_iter()
        .filter(|t| !t.live)
        .map(|t| t.job_type)
        .collect();
    if json {
        println!(
            "{}",
            serde_json::json!({ "hosts": hosts, "job_types_without_live_host": unserved })
        );
        return Ok(EXIT_OK);
    }
    if !unserved.is_empty() {
        println!("job types with no live host: {}", unserved.join(", "));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    for (id, beat) in &hosts {
        let at = beat["at"].as_u64().unwrap_or(0);
        let interval = beat["interval_ms"].as_u64().unwrap_or(60_000).max(1000);
        let age = now.saturating_sub(at);
        let state = if age <= 3 * interval { "live" } else { "gone" };
        println!(
            "{id}  {state}  last seen {:.0} s ago  processed {}  failed {}  running {}  memory {} MiB  plugins {}",
            age as f64 / 1000.0,
            beat["processed_jobs"],
            beat["failed_jobs"],
            beat["running"],
            beat["current_memory_mb"],
            beat["plugins"]
        );
    }
    if hosts.is_empty() {
        println!("no host has sent a heartbeat");
    }
    Ok(EXIT_OK)
}
