//! Commands that talk to the queue: submit, status, cancel, dlq, stats.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;

use deckhand::queue::{Cancel, JobRecord, JobStatus, QueueError, SubmitRequest};

use super::local::read_payload;
use super::{EXIT_ERROR, EXIT_JOB_FAILED, EXIT_OK, QueueArgs};

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
    /// Wait for the job to finish and print its result.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[command(flatten)]
    queue: QueueArgs,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not key=value")),
    }
}

pub async fn submit(args: SubmitArgs) -> anyhow::Result<u8> {
    let payload = read_payload(&args.payload)?;
    let queue = args.queue.connect().await?;
    let request = SubmitRequest {
        job_type: args.job_type,
        payload,
        priority: args.priority,
        depends_on: args.depends_on,
        id: args.id,
        max_retries: args.max_retries,
        metadata: args.metadata.into_iter().collect::<BTreeMap<_, _>>(),
        parent: None,
        force: args.force,
        run_after_failure: args.run_after_failure,
    };
    let submitted = match queue.submit(request).await {
        Ok(s) => s,
        Err(e @ QueueError::Redis(_)) => return Err(e.into()),
        Err(e) => {
            eprintln!("deckhand: submission refused: {e}");
            return Ok(EXIT_ERROR);
        }
    };
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
        #[arg(long, default_value_t = 100)]
        limit: usize,
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
            let jobs = queue.dlq_list(0, limit).await?;
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

pub async fn stats(queue: &QueueArgs) -> anyhow::Result<u8> {
    let queue = queue.connect().await?;
    let stats = queue.stats().await?;
    println!("{}", serde_json::to_string_pretty(&stats)?);
    Ok(EXIT_OK)
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
    let hosts = queue.connect().await?.hosts().await?;
    if json {
        println!("{}", serde_json::to_string(&hosts)?);
        return Ok(EXIT_OK);
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

#[derive(clap::Args, Debug)]
pub struct BulkArgs {
    job_type: String,
    /// One JSON payload a line (JSONL); `-` for stdin.
    records: String,
    /// Where to write one JSON object a line, in input order.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    timeout: u64,
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    queue: QueueArgs,
}

/// Submits a file of records, shows progress while they run, writes the
/// outcomes in input order and prints a summary.
pub async fn bulk(args: BulkArgs) -> anyhow::Result<u8> {
    use std::io::{BufRead, Write};
    let reader: Box<dyn BufRead> = if args.records == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&args.records)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.records))?,
        ))
    };
    // Read and check everything before submitting anything.
    let mut payloads = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| anyhow::anyhow!("{}: line {}: {e}", args.records, n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&line) {
            eprintln!(
                "deckhand: {} line {}: not JSON ({e}); nothing submitted",
                args.records,
                n + 1
            );
            return Ok(EXIT_ERROR);
        }
        payloads.push(line);
    }
    let queue = args.queue.connect().await?;
    // Hosts may start later: wait for one that offers the job type.
    let mut told = false;
    while !queue.job_types().await?.contains_key(&args.job_type) {
        if !told {
            eprintln!("waiting for a host that runs {} ...", args.job_type);
            told = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut ids = Vec::with_capacity(payloads.len());
    let mut cache_hits = 0;
    for chunk in payloads.chunks(500) {
        let requests = chunk
            .iter()
            .map(|p| SubmitRequest {
                job_type: args.job_type.clone(),
                payload: p.clone(),
                force: args.force,
                ..SubmitRequest::default()
            })
            .collect();
        match queue.submit_batch(requests).await {
            Ok(submitted) => {
                cache_hits += submitted.iter().filter(|s| s.cache_hit).count();
                ids.extend(submitted.into_iter().map(|s| s.id));
            }
            Err(e) => {
                eprintln!(
                    "deckhand: submission refused: record {}: {}",
                    ids.len() + e.index + 1,
                    e.error
                );
                return Ok(EXIT_ERROR);
            }
        }
    }
    let bar = indicatif::ProgressBar::new(ids.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} finished  {elapsed}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let records = wait_with_progress(&queue, &ids, Duration::from_secs(args.timeout), &bar).await?;
    bar.finish_and_clear();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.out)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.out.display()))?,
    );
    let (mut completed, mut dead) = (0, 0);
    for job in &records {
        let line = match job.status {
            JobStatus::Completed => {
                completed += 1;
                let result: serde_json::Value = job
                    .result
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or(serde_json::Value::Null);
                serde_json::json!({ "id": job.id, "status": job.status, "result": result })
            }
            status => {
                dead += 1;
                let error = job
                    .errors
                    .last()
                    .map(|e| format!("[{}] {}", e.kind, e.message));
                serde_json::json!({ "id": job.id, "status": status, "error": error })
            }
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    println!(
        "{} records: {completed} completed ({cache_hits} from the content store), {dead} dead or cancelled; results in {}",
        records.len(),
        args.out.display()
    );
    Ok(if dead == 0 { EXIT_OK } else { EXIT_JOB_FAILED })
}

/// Waits for `ids` like `Queue::wait_for_jobs`, ticking `bar` as they end.
async fn wait_with_progress(
    queue: &deckhand::queue::Queue,
    ids: &[String],
    timeout: Duration,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<JobRecord>> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pubsub = queue.pubsub().await?;
    pubsub.subscribe(queue.finished_channel()).await?;
    let mut open: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for id in ids {
        match queue.get(id).await? {
            Some(job) if job.status.is_finished() => bar.inc(1),
            _ => {
                open.insert(id.as_str());
            }
        }
    }
    let mut messages = pubsub.on_message();
    while !open.is_empty() {
        match tokio::time::timeout_at(deadline, messages.next()).await {
            Err(_) => bail!("{} jobs still unfinished after {timeout:?}", open.len()),
            Ok(None) => bail!("lost the connection to Redis while waiting"),
            Ok(Some(msg)) => {
                if let Ok(ids) = msg.get_payload::<String>() {
                    for id in ids.split(' ') {
                        if open.remove(id) {
                            bar.inc(1);
                        }
                    }
                }
            }
        }
    }
    drop(messages);
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        records.push(
            queue
                .get(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("job {id} vanished (expired?)"))?,
        );
    }
    Ok(records)
}
