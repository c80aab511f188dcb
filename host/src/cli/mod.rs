//! Sub-commands. Exit codes: 0 success, 1 the job failed (the typed error is
//! printed), 2 Deckhand could not do what was asked (bad arguments, unreadable
//! input, a plugin that does not load, Redis refused).

mod bulk;
mod controls;
mod grants;
mod jobs;
mod local;
mod schedules;
mod serve;
mod stats;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use deckhand::config::Config;
use deckhand::queue::Queue;
use deckhand::redact;

pub const EXIT_OK: u8 = 0;
pub const EXIT_JOB_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "deckhand",
    version,
    about = "A job host for sandboxed WebAssembly job types"
)]
pub struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    command: Command,
}

/// Where the queue is and how it is set up: the same `deckhand.toml`,
/// `DECKHAND_*` environment and flags as `serve` reads, so a client agrees
/// with the hosts on the prefix, default retries, payload limit and the rest.
#[derive(Args, Debug, Clone)]
pub struct QueueArgs {
    /// Config file (default: ./deckhand.toml if it exists).
    #[arg(long, env = "DECKHAND_CONFIG")]
    config: Option<PathBuf>,
    /// Redis URL (default: the config's `redis_url`, else redis://127.0.0.1:6379).
    #[arg(long)]
    redis_url: Option<String>,
    /// Key prefix; hosts and clients of one queue must agree on it
    /// (default: the config's `prefix`).
    #[arg(long)]
    prefix: Option<String>,
}

/// Where clients look for Redis when nothing names it.
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

impl QueueArgs {
    /// The configuration: file, then environment, then these flags.
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref(), std::env::vars())
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        if let Some(url) = &self.redis_url {
            config.redis_url = Some(url.clone());
        }
        if let Some(prefix) = &self.prefix {
            config.prefix = prefix.clone();
        }
        config
            .check()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        Ok(config)
    }

    async fn connect(&self) -> anyhow::Result<Queue> {
        let config = self.config()?;
        let url = config
            .redis_url
            .clone()
            .unwrap_or_else(|| DEFAULT_REDIS_URL.to_string());
        Queue::connect(&url, config.queue_config())
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot reach the queue at {}: {}",
                    redact::url(&url),
                    redact::text(&e.to_string(), &url)
                )
            })
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one job locally, without Redis: the plugin author's loop.
    Exec(local::ExecArgs),
    /// Inspect plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Run the host: load plugins, work the queue.
    Serve(Box<serve::ServeArgs>),
    /// Submit a job; prints its id (or, with --wait, its result).
    Submit(jobs::SubmitArgs),
    /// Show a job: status, attempts, errors, result.
    Status {
        id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Cancel a job that has not finished.
    Cancel {
        id: String,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// The dead-letter queue.
    Dlq {
        #[command(subcommand)]
        command: jobs::DlqCommand,
    },
    /// Periodic jobs: list, add, remove, run now.
    Schedule {
        #[command(subcommand)]
        command: schedules::ScheduleCommand,
    },
    /// The content store: export, import, stats.
    Content {
        #[command(subcommand)]
        command: jobs::ContentCommand,
    },
    /// Submit a file of records (one JSON payload a line), show progress,
    /// write the outcomes in input order.
    Bulk(bulk::BulkArgs),
    /// The hosts working this queue, from their heartbeats.
    Hosts {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Stop every host from claiming a job type at once: running jobs
    /// finish, submissions still queue.
    Pause {
        job_type: String,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Let hosts claim a paused job type again; with `--value`, resume the
    /// suspended job waiting on a wait token instead.
    Resume {
        /// A job type, or with `--value` a wait token.
        target: String,
        /// A file holding the JSON value to hand the suspended job (`-`:
        /// standard input).
        #[arg(long)]
        value: Option<PathBuf>,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Cap how many jobs of a type run at once across all hosts.
    Cap {
        job_type: String,
        /// At most this many at once (1 to 1000000).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=deckhand::queue::MAX_RUNNING_CAP), conflicts_with = "none", required_unless_present = "none")]
        max_running: Option<u64>,
        /// Lift the cap.
        #[arg(long)]
        none: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Limit how many jobs of a type start per interval across all hosts.
    Rate {
        job_type: String,
        /// `<jobs>/<interval>`, like `100/1m` or `5/500ms` (units ms, s, m, h).
        #[arg(long, value_parser = deckhand::queue::RateLimit::parse, conflicts_with = "none", required_unless_present = "none")]
        limit: Option<deckhand::queue::RateLimit>,
        /// Lift the rate limit.
        #[arg(long)]
        none: bool,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// The queue's counters.
    Stats {
        #[command(flatten)]
        queue: QueueArgs,
    },
}

#[derive(Subcommand, Debug)]
enum PluginsCommand {
    /// List the plugins in a directory, their job types and version ids.
    List {
        #[arg(long, env = "DECKHAND_PLUGIN_DIR", default_value = "plugins")]
        dir: PathBuf,
        /// The configuration whose `[plugins]` grants are shown (default:
        /// `deckhand.toml` when there is one).
        #[arg(long, env = "DECKHAND_CONFIG")]
        config: Option<PathBuf>,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Compile and describe one `.wasm` file; exit 0 if it would load.
    Check {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// Runtime worker threads the command asks for: `serve` its configured
/// number (0: one per core; a configuration that does not load asks for
/// none here: `run` reports it); every other command none (`None`): a
/// client runs on the calling thread, where a `bulk` run following its jobs
/// pays no wake-up across threads for each message and leaves the cores to
/// the hosts and Redis.
pub fn threads(cli: &Cli) -> Option<usize> {
    match &cli.command {
        Command::Serve(args) => Some(args.config().map_or(0, |c| c.threads)),
        _ => None,
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Command::Serve(args) = cli.command {
        // The configuration decides the log format, so it is read first.
        let config = match args.config() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("deckhand: configuration: {e:#}");
                return Ok(EXIT_ERROR);
            }
        };
        let telemetry =
            deckhand::telemetry::init(cli.verbose, config.log.format == "json", Some(&config.otel));
        let code = serve::serve(*args, config).await;
        // The exporter's last batch goes out on the runtime this thread
        // is part of: block this worker only.
        tokio::task::block_in_place(|| telemetry.shutdown());
        return code;
    }
    let json_logs = std::env::var("DECKHAND_LOG_FORMAT").is_ok_and(|f| f == "json");
    let _telemetry = deckhand::telemetry::init(cli.verbose, json_logs, None);
    match cli.command {
        Command::Exec(args) => local::exec(args).await,
        Command::Plugins { command } => match command {
            PluginsCommand::List { dir, config, json } => {
                local::plugins_list(&dir, config.as_deref(), json).await
            }
            PluginsCommand::Check { file, json } => local::plugins_check(&file, json).await,
        },
        Command::Serve(_) => unreachable!("handled above"),
        Command::Submit(args) => jobs::submit(args).await,
        Command::Status { id, json, queue } => jobs::status(&queue, &id, json).await,
        Command::Cancel { id, queue } => jobs::cancel(&queue, &id).await,
        Command::Dlq { command } => jobs::dlq(command).await,
        Command::Content { command } => jobs::content(command).await,
        Command::Schedule { command } => schedules::schedule(command).await,
        Command::Stats { queue } => stats::stats(&queue).await,
        Command::Bulk(args) => bulk::bulk(args).await,
        Command::Hosts { json, queue } => jobs::hosts(&queue, json).await,
        Command::Cap {
            job_type,
            max_running,
            queue,
            ..
        } => controls::cap(&queue, &job_type, max_running).await,
        Command::Rate {
            job_type,
            limit,
            queue,
            ..
        } => controls::rate(&queue, &job_type, limit).await,
        Command::Pause { job_type, queue } => controls::pause(&queue, &job_type, true).await,
        Command::Resume {
            target,
            value: Some(file),
            queue,
        } => controls::resume_wait(&queue, &target, &file).await,
        Command::Resume {
            target,
            value: None,
            queue,
        } => controls::pause(&queue, &target, false).await,
    }
}
