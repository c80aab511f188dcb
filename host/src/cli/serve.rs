//! `deckhand serve`: the long-running host.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use deckhand::api::{ApiState, router};
use deckhand::config::Config;
use deckhand::content::ContentDir;
use deckhand::llm::{LlmClient, Provider};
use deckhand::queue::{Queue, QueueConfig};
use deckhand::redact;
use deckhand::redis_server::{self, Embedded};
use deckhand::registry::Registry;
use deckhand::runtime::Runtime;
use deckhand::worker::{Worker, WorkerServices};

use super::EXIT_OK;

/// Flags override the config file and the environment.
#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// Config file (default: ./deckhand.toml if it exists).
    #[arg(long, env = "DECKHAND_CONFIG")]
    pub config: Option<PathBuf>,
    /// Redis URL. Without one, Deckhand uses redis://127.0.0.1:<embedded-redis-port>,
    /// and starts its own redis-server there if nothing answers.
    #[arg(long)]
    redis_url: Option<String>,
    /// Port of the default (and, if needed, embedded) Redis.
    #[arg(long, default_value_t = 6379)]
    embedded_redis_port: u16,
    /// Where an embedded Redis keeps its AOF (and the default content directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    prefix: Option<String>,
    /// Directory of `*.wasm` job-type plugins (watched for changes).
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Concurrent claim loops (worker_count).
    #[arg(long)]
    workers: Option<usize>,
    /// Jobs each loop keeps running.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Threads that run jobs, claims and the API (0: one per core).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long)]
    lease_ms: Option<u64>,
    #[arg(long)]
    shutdown_timeout_ms: Option<u64>,
    #[arg(long)]
    reap_interval_ms: Option<u64>,
    #[arg(long)]
    reload_interval_ms: Option<u64>,
    /// Re-register job types and beat this often (default: health_check_interval).
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// Name of this host in leases and error histories (default: hostname-pid).
    #[arg(long)]
    host_id: Option<String>,
    #[arg(long)]
    max_retries: Option<u32>,
    /// Retry delay = backoff_factor · 2^attempt seconds (× jitter).
    #[arg(long)]
    backoff_factor: Option<f64>,
    /// Turn off the random factor in retry delays.
    #[arg(long)]
    no_jitter: bool,
    #[arg(long)]
    result_ttl_secs: Option<u64>,
    #[arg(long)]
    max_memory_mb: Option<u64>,
    /// The content store's durable copy (default: <data-dir>/content).
    #[arg(long)]
    content_dir: Option<PathBuf>,
    /// LLM provider: openai, openrouter, vllm, llamacpp, ollama, openai-compatible.
    #[arg(long)]
    llm_provider: Option<Provider>,
    /// Default: the provider's usual address.
    #[arg(long)]
    llm_base_url: Option<String>,
    #[arg(long)]
    llm_model: Option<String>,
    /// Environment variable holding the API key.
    #[arg(long)]
    llm_api_key_env: Option<String>,
    #[arg(long)]
    llm_timeout_secs: Option<f64>,
    #[arg(long)]
    llm_max_tokens: Option<u32>,
    /// Requests in flight at once to the provider across all hosts (0: no
    /// limit; default 1 for llamacpp and ollama, else no limit).
    #[arg(long)]
    llm_max_in_flight: Option<u32>,
    #[arg(long)]
    llm_temperature: Option<f32>,
    /// One job type's limits, replacing what its plugin declares:
    /// `NAME:timeout_ms=N,memory_mb=M,max_running=K,max_payload_bytes=B` (repeatable; also DECKHAND_JOB_TYPES,
    /// several separated by `;`).
    #[arg(long = "job-type-limits")]
    job_type_limits: Vec<String>,
    /// HTTP API address (host:port); "" turns the API off.
    #[arg(long)]
    listen: Option<String>,
    /// One JSON object a log line.
    #[arg(long)]
    pub log_json: bool,
}

impl ServeArgs {
    /// The configuration: file, then environment, then these flags.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref(), std::env::vars())?;
        macro_rules! set {
            ($flag:expr => $($field:tt)+) => {
                if let Some(v) = $flag.clone() {
                    c.$($field)+ = v;
                }
            };
        }
        if let Some(url) = &self.redis_url {
            c.redis_url = Some(url.clone());
        }
        set!(self.data_dir => data_dir);
        set!(self.prefix => prefix);
        set!(self.plugin_dir => plugin_dir);
        set!(self.workers => worker_count);
        set!(self.batch_size => batch_size);
        set!(self.threads => threads);
        set!(self.lease_ms => queue.lease_ms);
        set!(self.reap_interval_ms => queue.reap_interval_ms);
        set!(self.reload_interval_ms => queue.reload_interval_ms);
        set!(self.host_id => host_id);
        set!(self.max_retries => max_retries);
        set!(self.backoff_factor => retry.backoff_factor);
        set!(self.result_ttl_secs => queue.result_ttl);
        set!(self.max_memory_mb => max_memory_mb);
        set!(self.listen => api.listen);
        if let Some(ms) = self.shutdown_timeout_ms {
            c.shutdown_timeout = ms as f64 / 1000.0;
        }
        if self.no_jitter {
            c.retry.jitter = false;
        }
        if self.log_json {
            c.log.format = "json".into();
        }
        if let Some(dir) = &self.content_dir {
            c.content.dir = Some(dir.clone());
        }
        for spec in &self.job_type_limits {
            let (name, limits) = deckhand::config::parse_job_type_limits(spec)?;
            c.job_types.insert(name, limits);
        }
        self.apply_llm_flags(&mut c)?;
        c.check()?;
        Ok(c)
    }

    /// The `--llm-*` flags over the configuration's `[llm]` section; a
    /// tuning flag with no LLM configured at all is refused.
    fn apply_llm_flags(&self, c: &mut Config) -> anyhow::Result<()> {
        let names_llm =
            self.llm_provider.is_some() || self.llm_base_url.is_some() || self.llm_model.is_some();
        let tunes_llm: Vec<&str> = [
            ("--llm-api-key-env", self.llm_api_key_env.is_some()),
            ("--llm-timeout-secs", self.llm_timeout_secs.is_some()),
            ("--llm-max-tokens", self.llm_max_tokens.is_some()),
            ("--llm-max-in-flight", self.llm_max_in_flight.is_some()),
            ("--llm-temperature", self.llm_temperature.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if c.llm.is_none() && !names_llm && !tunes_llm.is_empty() {
            anyhow::bail!(
                "{} set(s) an LLM setting, but no LLM is configured: add an [llm] section to the config, or give --llm-provider, --llm-base-url or --llm-model",
                tunes_llm.join(", ")
            );
        }
        if names_llm || !tunes_llm.is_empty() {
            let mut llm = c.llm.take().unwrap_or_default();
            if let Some(p) = self.llm_provider {
                llm.provider = p;
                llm.base_url = p.default_base_url().to_string();
            }
            set_opt(&mut llm.base_url, &self.llm_base_url);
            set_opt(&mut llm.model, &self.llm_model);
            set_opt(&mut llm.api_key_env, &self.llm_api_key_env);
            set_opt(&mut llm.timeout_secs, &self.llm_timeout_secs);
            if self.llm_max_tokens.is_some() {
                llm.max_tokens = self.llm_max_tokens;
            }
            if self.llm_temperature.is_some() {
                llm.temperature = self.llm_temperature;
            }
            if self.llm_max_in_flight.is_some() {
                llm.max_in_flight = self.llm_max_in_flight;
            }
            c.llm = Some(llm);
        }
        Ok(())
    }
}

fn set_opt<T: Clone>(slot: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *slot = v.clone();
    }
}

pub async fn serve(args: ServeArgs, config: Config) -> anyhow::Result<u8> {
    let shutdown = CancellationToken::new();
    let grace = Duration::from_secs_f64(config.shutdown_timeout.min(86_400.0));
    tokio::spawn(signal_on_shutdown(shutdown.clone(), grace));
    // Refuse an open API before touching anything else.
    let (listener, token) = bind_api(&config).await?;
    let registry = open_plugins(&config).await?;
    super::grants::install(&config, args.config.clone(), registry.runtime());
    let redis_stop = CancellationToken::new();
    let (url, embedded) = redis_url(&args, &config, &redis_stop).await?;
    let Some(queue) = connect_with_retry(&url, config.queue_config(), &shutdown).await? else {
        return Ok(EXIT_OK);
    };
    prepare_queue(&queue, &config).await;
    let services = worker_services(&config, &queue)?;
    let mut worker_config = config.worker_config();
    if let Some(ms) = args.heartbeat_ms {
        worker_config.heartbeat_ms = ms;
    }
    let worker = Worker::new(queue, registry, worker_config, services);
    let failure = embedded.as_ref().map(|e| e.last_failure.clone());
    let api = listener.map(|l| spawn_api(l, &worker, (token, failure), &config, &shutdown));
    tracing::info!(host = %worker.host_id(), url = %redact::url(&url), prefix = %config.prefix, "serving");
    let stop = shutdown.clone();
    worker.run(async move { stop.cancelled().await }).await;
    if let Some(api) = api {
        let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    }
    if let Some(embedded) = embedded {
        redis_stop.cancel();
        embedded.wait().await;
    }
    Ok(EXIT_OK)
}

/// The API's listener (none when `api.listen` is empty) and its token; an
/// address off loopback without a token is refused.
async fn bind_api(config: &Config) -> anyhow::Result<(Option<tokio::net::TcpListener>, String)> {
    let listen = config.api.listen.trim().to_string();
    let token = std::env::var("DECKHAND_API_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| config.api.token.clone());
    let listener = if listen.is_empty() {
        None
    } else {
        let addr: std::net::SocketAddr = tokio::net::lookup_host(&listen)
            .await
            .with_context(|| format!("api.listen {listen:?} is not an address"))?
            .next()
            .with_context(|| format!("api.listen {listen:?} resolves to nothing"))?;
        if !addr.ip().is_loopback() && token.is_empty() {
            anyhow::bail!(
                "api.listen {listen} is not a loopback address: set an API token (DECKHAND_API_TOKEN or api.token)"
            );
        }
        Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        )
    };
    Ok((listener, token))
}

/// The plugin directory, loaded (each plugin's job types logged).
async fn open_plugins(config: &Config) -> anyhow::Result<Arc<Registry>> {
    let runtime = Arc::new(Runtime::new(config.runtime_config())?);
    if !config.plugin_dir.is_dir() {
        anyhow::bail!(
            "plugin directory {} does not exist (set plugin_dir, DECKHAND_PLUGIN_DIR or --plugin-dir)",
            config.plugin_dir.display()
        );
    }
    let registry = Arc::new(Registry::open(runtime, &config.plugin_dir).await?);
    let snapshot = registry.snapshot();
    for p in snapshot.plugins() {
        tracing::info!(
            plugin = %p.info.name,
            version_id = %p.short_version(),
            job_types = ?p.info.job_types.iter().map(|t| &t.name).collect::<Vec<_>>(),
            "plugin ready"
        );
    }
    for e in snapshot.errors() {
        tracing::warn!("plugin skipped: {e}");
    }
    Ok(registry)
}

/// The Redis to work: the configured one; else one answering at the
/// default address; else an embedded `redis-server` started here.
async fn redis_url(
    args: &ServeArgs,
    config: &Config,
    redis_stop: &CancellationToken,
) -> anyhow::Result<(String, Option<Embedded>)> {
    Ok(match config.redis_url.clone() {
        Some(url) => (url, None),
        None => {
            let url = format!("redis://127.0.0.1:{}", args.embedded_redis_port);
            if redis_server::answers(&url).await {
                tracing::info!(url = %redact::url(&url), "using the Redis that answers at the default address");
                (url, None)
            } else {
                let dir = config.data_dir.join("redis");
                let embedded =
                    Embedded::start(args.embedded_redis_port, &dir, redis_stop.clone()).await?;
                (embedded.url.clone(), Some(embedded))
            }
        }
    })
}

/// Brings the queue to this layout, and sets the configuration's schedules,
/// caps and rate limits in it (for every host; the last host to start with
/// one wins).
async fn prepare_queue(queue: &Queue, config: &Config) {
    // A queue written by older hosts is brought to this layout (jobs others
    // wait on flagged, running counts for caps) before this host completes any.
    match queue.migrate().await {
        Ok(0) => {}
        Ok(n) => tracing::info!("flagged {n} jobs that others wait on (queued by an older host)"),
        Err(e) => tracing::warn!("cannot check for jobs queued by an older host: {e}"),
    }

    // Schedules from the configuration: added, or replaced by name.
    for schedule in &config.schedules {
        match queue.put_schedule(schedule).await {
            Ok(()) => {
                tracing::info!(schedule = %schedule.name, cron = %schedule.cron, "schedule set from the configuration")
            }
            Err(e) => {
                tracing::warn!(schedule = %schedule.name, "cannot set the schedule from the configuration: {e}")
            }
        }
    }

    // Caps and rate limits from the configuration (`[job_types.X]
    // max_running`, `rate_limit`): set in Redis for every host; the last
    // host to start with one wins.
    for (job_type, limits) in &config.job_types {
        if let Some(rate) = limits
            .rate_limit
            .as_deref()
            .and_then(|r| deckhand::queue::RateLimit::parse(r).ok())
        {
            match queue.set_rate(job_type, Some(rate)).await {
                Ok(()) => tracing::info!(job_type, %rate, "rate limit set from the configuration"),
                Err(e) => {
                    tracing::warn!(
                        job_type,
                        "cannot set the rate limit from the configuration: {e}"
                    )
                }
            }
        }
        if let Some(n) = limits.max_running {
            match queue.set_cap(job_type, Some(n)).await {
                Ok(()) => {
                    tracing::info!(job_type, max_running = n, "cap set from the configuration")
                }
                Err(e) => {
                    tracing::warn!(job_type, "cannot set the cap from the configuration: {e}")
                }
            }
        }
    }
}

/// What a running job may use beside the queue: the LLM, the content
/// directory.
fn worker_services(config: &Config, queue: &Queue) -> anyhow::Result<WorkerServices> {
    let llm = match &config.llm {
        None => None,
        Some(llm) => {
            tracing::info!(
                provider = llm.provider.as_str(),
                base_url = %redact::url(&llm.base_url),
                model = %llm.model,
                "LLM configured"
            );
            Some(LlmClient::new(llm.clone(), Some(queue.clone()))?)
        }
    };
    Ok(WorkerServices {
        llm,
        content_dir: config
            .content
            .enabled
            .then(|| ContentDir::new(config.content_dir())),
    })
}

/// Serves the HTTP API until shutdown.
fn spawn_api(
    listener: tokio::net::TcpListener,
    worker: &Arc<Worker>,
    (token, embedded): (String, Option<deckhand::redis_server::LastFailure>),
    config: &Config,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(%addr, auth = !token.is_empty(), dashboard = %format!("http://{addr}/ui/"), "HTTP API listening");
    let app = router(
        Arc::new(ApiState {
            worker: worker.clone(),
            sessions: deckhand::api::ui::session::Sessions::new(&token),
            guesses: deckhand::api::guesses::Guesses::new(),
            allowed_hosts: config.api.allowed_hosts.clone(),
            embedded,
        }),
        config.api.max_body_bytes,
    );
    use deckhand::api::listener::{self as connections, Limits};
    let header_timeout = Duration::from_secs(config.api.header_timeout_secs);
    let (max_connections, stop) = (config.api.max_connections, shutdown.clone());
    let limits = Limits {
        max_connections,
        header_timeout,
    };
    tokio::spawn(connections::serve(listener, app, limits, stop))
}

/// Connects, retrying while Redis is not up yet. `None`: shut down while waiting.
async fn connect_with_retry(
    url: &str,
    config: QueueConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Queue>> {
    let mut delay = Duration::from_millis(200);
    loop {
        match Queue::connect(url, config.clone()).await {
            Ok(q) => return Ok(Some(q)),
            Err(deckhand::queue::QueueError::Redis(e)) => {
                tracing::warn!(
                    url = %redact::url(url),
                    "cannot reach Redis ({}); retrying in {delay:?}",
                    redact::text(&e.to_string(), url)
                );
            }
            Err(e) => return Err(e).context("invalid queue settings"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return Ok(None),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Cancels `token` on the first SIGTERM or SIGINT.
async fn signal_on_shutdown(token: CancellationToken, grace: Duration) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop this host with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    token.cancel();
    // The last resort of a bounded stop: a host whose hand-back cannot
    // finish (Redis down, say) still exits, and its leases expire instead.
    tokio::time::sleep(grace + STOP_BOUND).await;
    tracing::error!(
        "still stopping {:?} after the signal (shutdown_timeout + {STOP_BOUND:?}): exiting now; unfinished jobs run again when their leases expire",
        grace + STOP_BOUND
    );
    std::process::exit(1);
}

/// How long past `shutdown_timeout` a stopping host may take to hand its
/// jobs back and stop its loops before it exits regardless.
const STOP_BOUND: Duration = Duration::from_secs(20);
