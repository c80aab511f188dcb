//! `deckhand bulk`: submit a file of records, follow them to the end, and
//! write every outcome in input order.
//!
//! Built to survive what a long run meets:
//! - ids are derived from the input (`bulk-<hash of type and lines>-<line>`),
//!   so a re-run of the same file attaches to the same jobs instead of
//!   submitting them again (`--force` starts afresh);
//! - Redis may restart: the client reconnects, re-reads what it missed, and
//!   resubmits jobs that Redis lost (same ids, so nothing runs twice that
//!   still exists);
//! - results are streamed to `--out` as the input-order prefix finishes, and
//!   on any exit (timeout, Ctrl-C, an error) what is known is written: every
//!   record gets a line, unfinished ones with their last status.

mod follow;
mod input;
mod output;

use std::io::Write;
use std::time::Duration;

use deckhand::job::{NewJob, Payload};
use deckhand::llm::price::money;
use deckhand::queue::{JobStatus, Outcome, Queue, QueueError, Topic};

use super::jobs::MAX_WAIT_SECS;
use super::{EXIT_ERROR, EXIT_JOB_FAILED, EXIT_OK, QueueArgs};
use input::{job_ids, read_records, wait_for_type};

/// Jobs per batch submission: within the default `queue.max_batch_jobs`,
/// so no script call holds Redis for long.
const SUBMIT_CHUNK: usize = 100;
/// Batches submitted at once.
const SUBMIT_IN_FLIGHT: usize = 4;
/// Finished records read (and written) per round trip.
const WRITE_CHUNK: usize = 1000;
/// How long finished records wait to be read back and written when fewer
/// than `WRITE_CHUNK` are ready: one read per message would cost Redis a
/// round trip per completion batch while the hosts drain.
const WRITE_EVERY: Duration = Duration::from_millis(100);
/// How often the open jobs are re-read even when messages arrive: the
/// notifier's `Missed` covers a dropped connection, this anything else.
const RECHECK: Duration = Duration::from_secs(15);
/// How often a progress line is printed when stderr is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub struct BulkArgs {
    job_type: String,
    /// One JSON payload a line (JSONL); `-` for stdin.
    records: String,
    /// Where to write one JSON object a line, in input order.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Give up waiting after this many seconds (1 to 2592000, 30 days).
    #[arg(long, default_value_t = 24 * 3600, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS))]
    timeout: u64,
    /// How long to wait for a host when no host has ever offered the job
    /// type on this queue (seconds).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=MAX_WAIT_SECS))]
    host_wait: u64,
    /// Retries for each job (default: the queue's).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=i64::from(deckhand::queue::MAX_RETRIES)))]
    max_retries: Option<u32>,
    /// Send the records' LLM calls through the provider's batch API (half
    /// the price, answers within 24 h; the jobs wait holding nothing).
    #[arg(long)]
    llm_batch: bool,
    /// The records' fairness group (e.g. their source), so this run takes
    /// turns with other groups' jobs instead of queueing ahead of them.
    #[arg(long)]
    group: Option<String>,
    /// Run every record again: new jobs, and past the content store.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    queue: QueueArgs,
}

/// How a bulk run ended before every job finished.
enum Stop {
    Timeout,
    Interrupted,
}

pub async fn bulk(args: BulkArgs) -> anyhow::Result<u8> {
    let payloads = match read_records(&args.records)? {
        Ok(p) => p,
        Err(message) => {
            eprintln!("deckhand: {message}; nothing submitted");
            return Ok(EXIT_ERROR);
        }
    };
    let ids = job_ids(&args.job_type, &payloads, args.force);
    let queue = args.queue.connect().await?;
    if !wait_for_type(&queue, &args).await? {
        return Ok(EXIT_ERROR);
    }
    let mut run = Run {
        queue,
        args: &args,
        payloads: &payloads,
        ids: &ids,
        metadata: run_metadata(&ids, args.llm_batch),
        followed: ids.clone(),
        attached: std::collections::HashMap::new(),
        done: vec![false; ids.len()],
        finished: 0,
        written: 0,
        front: 0,
        suspended: 0,
        counts: Counts::default(),
    };
    // Listening before the first submission, this client hears of every
    // job that ends from now on: no need to read them all back.
    let listening = run.queue.listen(Topic::Finished).await.ok();
    if let Err(e) = run.submit(0..ids.len()).await {
        eprintln!("deckhand: submission refused: {e}");
        return Ok(EXIT_ERROR);
    }
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.out)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.out.display()))?,
    );
    let stop = run.follow(&mut out, listening).await;
    // Whatever happened, every record gets its line.
    run.write_rest(&mut out).await?;
    out.flush()?;
    let c = &run.counts;
    let waiting = match c.waiting {
        0 => String::new(),
        n => format!(" ({n} waiting for an answer)"),
    };
    println!(
        "{} records: {} completed ({} from the content store), {} dead or cancelled, {} unfinished{waiting}; results in {}",
        ids.len(),
        c.completed,
        c.cache_hits,
        c.failed,
        c.unfinished,
        args.out.display()
    );
    print_spend(&run.queue, &run_name(&ids)).await;
    Ok(exit_status(stop, c, args.timeout))
}

/// The run's name, as its jobs carry it in their `run` metadata: the ids'
/// common part (`bulk-<hash>`).
fn run_name(ids: &[String]) -> String {
    ids.first()
        .and_then(|id| id.rsplit_once('-'))
        .map_or_else(String::new, |(run, _)| run.to_string())
}

/// Every job's metadata: the run, and the batch lane when asked for.
fn run_metadata(ids: &[String], llm_batch: bool) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::from([(
        deckhand::job::RUN_METADATA.to_string(),
        run_name(ids),
    )]);
    if llm_batch {
        let (key, value) = deckhand::job::LLM_LANE_METADATA;
        m.insert(key.into(), value.into());
    }
    m
}

/// What the run's LLM calls cost, by model, when they cost anything.
async fn print_spend(queue: &Queue, run: &str) {
    let Ok(ledger) = queue.ledger(Some(run)).await else {
        return;
    };
    let Some(&total) = ledger.get("total").filter(|t| **t > 0) else {
        return;
    };
    let models: Vec<String> = ledger
        .iter()
        .filter_map(|(f, n)| Some(format!("{} {}", f.strip_prefix("model:")?, money(*n))))
        .collect();
    println!(
        "LLM spend of run {run}: {} ({})",
        money(total),
        models.join(", ")
    );
}

/// The exit status of a run, and why it is not 0 on stderr.
fn exit_status(stop: Option<Stop>, c: &Counts, timeout: u64) -> u8 {
    match stop {
        Some(Stop::Timeout) => {
            eprintln!(
                "deckhand: {} jobs still unfinished after {timeout} s; run the same command again to keep waiting for them",
                c.unfinished
            );
            EXIT_ERROR
        }
        Some(Stop::Interrupted) => {
            eprintln!(
                "deckhand: interrupted; the jobs go on. Run the same command again to collect them"
            );
            EXIT_ERROR
        }
        // Every job finished, yet a result could not be read back (Redis
        // lost it after the last check): the output is not complete.
        None if c.unfinished > 0 => {
            eprintln!(
                "deckhand: {} results could not be read back; run the same command again to collect them",
                c.unfinished
            );
            EXIT_ERROR
        }
        None if c.failed > 0 => EXIT_JOB_FAILED,
        None => EXIT_OK,
    }
}

#[derive(Default)]
struct Counts {
    completed: usize,
    cache_hits: usize,
    failed: usize,
    unfinished: usize,
    /// Of the unfinished, those suspended on a durable wait (a review).
    waiting: usize,
}

/// One bulk run: its jobs, which have finished, how far the output is.
struct Run<'a> {
    queue: Queue,
    args: &'a BulkArgs,
    payloads: &'a [Payload],
    ids: &'a [String],
    /// Every job's metadata: the run it belongs to.
    metadata: std::collections::BTreeMap<String, String>,
    /// The job each record is followed through: its own, or the job it was
    /// attached to (the same content already queued or running).
    followed: Vec<String>,
    /// Records followed through another job than their own, by that job's
    /// id (a record following its own job is found by its id's index).
    attached: std::collections::HashMap<String, Vec<usize>>,
    done: Vec<bool>,
    finished: usize,
    /// Records before this index are in the output file.
    written: usize,
    /// Records before this index have finished (from `written` on).
    front: usize,
    /// Open jobs suspended on a durable wait (a person's review) at the
    /// last reading of their states.
    suspended: usize,
    counts: Counts,
}

impl Run<'_> {
    /// Submits the jobs at `range` (again, after a loss: the same ids make
    /// it idempotent), retrying through Redis outages.
    async fn submit(&mut self, range: std::ops::Range<usize>) -> Result<(), String> {
        self.submit_indices(&range.collect::<Vec<_>>()).await
    }

    async fn submit_indices(&mut self, indices: &[usize]) -> Result<(), String> {
        let chunks: Vec<&[usize]> = indices.chunks(SUBMIT_CHUNK).collect();
        // A few batches in flight, so the client's round trips overlap
        // Redis' work; each batch is all or nothing on its own.
        for group in chunks.chunks(SUBMIT_IN_FLIGHT) {
            let calls = group.iter().map(|chunk| {
                let requests: Vec<NewJob> = chunk
                    .iter()
                    .map(|&i| NewJob {
                        id: Some(self.ids[i].clone()),
                        max_retries: self.args.max_retries,
                        force: self.args.force,
                        group: self.args.group.clone(),
                        metadata: self.metadata.clone(),
                        ..NewJob::new(self.args.job_type.clone(), self.payloads[i].clone())
                    })
                    .collect();
                submit_chunk(&self.queue, requests, chunk)
            });
            for (chunk, submitted) in group.iter().zip(futures::future::join_all(calls).await) {
                for (s, &i) in submitted?.iter().zip(chunk.iter()) {
                    if s.cache_hit {
                        self.counts.cache_hits += 1;
                    }
                    // Attached to another job of the same content: follow that one.
                    if s.id != self.followed[i] {
                        self.follow_job(i, s.id.clone());
                    }
                    // Finished already (an earlier run's, or from the content store).
                    if s.status.is_finished() {
                        self.mark_record(i);
                    }
                }
            }
        }
        Ok(())
    }

    /// Follows record `i` through job `id` from now on.
    fn follow_job(&mut self, i: usize, id: String) {
        let old = std::mem::replace(&mut self.followed[i], id.clone());
        if let Some(list) = self.attached.get_mut(&old) {
            list.retain(|&x| x != i);
        }
        if id != self.ids[i] {
            self.attached.entry(id).or_default().push(i);
        }
    }

    /// The record whose own job is `id` (`bulk-<key>-<index>`), if it
    /// follows that job: found without a lookup, since a run's ids end in
    /// their record's index.
    fn own_record(&self, id: &str) -> Option<usize> {
        let i: usize = id.rsplit_once('-')?.1.parse().ok()?;
        (self.followed.get(i)? == id).then_some(i)
    }
}

fn clear(bar: &Option<indicatif::ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// Submits one batch, retrying through Redis outages (the ids make a
/// repeated batch harmless). `chunk` are the records' indices, for errors.
async fn submit_chunk(
    queue: &Queue,
    requests: Vec<NewJob>,
    chunk: &[usize],
) -> Result<Vec<deckhand::queue::Submitted>, String> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match queue.submit_batch(requests.clone()).await {
            Ok(submitted) => return Ok(submitted),
            Err(e) if matches!(e.error, QueueError::Redis(_)) => {
                eprintln!(
                    "deckhand: Redis unavailable ({}); retrying in {backoff:?}",
                    e.error
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                let record = chunk.get(e.index).or(chunk.last()).map_or(0, |i| i + 1);
                return Err(format!("record {record}: {}", e.error));
            }
        }
    }
}

/// A progress bar when stderr is a terminal.
fn progress_bar(len: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} finished{msg}  {elapsed}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}
