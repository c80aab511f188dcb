//! `deckhand serve`: the long-running host.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use deckhand::content::ContentDir;
use deckhand::llm::{LlmClient, LlmConfig};
use deckhand::queue::{Queue, QueueConfig, RetryStrategy};
use deckhand::redis_server::{self, Embedded};
use deckhand::registry::Registry;
use deckhand::runtime::{Runtime, RuntimeConfig};
use deckhand::worker::{Worker, WorkerConfig, WorkerServices};

use super::EXIT_OK;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Redis URL. Without one, Deckhand uses redis://127.0.0.1:<embedded-redis-port>,
    /// and starts its own redis-server there if nothing answers.
    #[arg(long, env = "DECKHAND_REDIS_URL")]
    redis_url: Option<String>,
    /// Port of the default (and, if needed, embedded) Redis.
    #[arg(long, default_value_t = 6379)]
    embedded_redis_port: u16,
    /// Where an embedded Redis keeps its AOF.
    #[arg(long, env = "DECKHAND_DATA_DIR", default_value = ".deckhand")]
    data_dir: PathBuf,
    #[arg(long, env = "DECKHAND_PREFIX", default_value = "deckhand")]
    prefix: String,
    /// Directory of `*.wasm` job-type plugins (watched for changes).
    #[arg(long, env = "DECKHAND_PLUGIN_DIR", default_value = "plugins")]
    plugin_dir: PathBuf,
    /// Concurrent claim loops.
    #[arg(long, default_value_t = WorkerConfig::default().worker_count)]
    workers: usize,
    /// Jobs claimed (and run concurrently) per loop.
    #[arg(long, default_value_t = WorkerConfig::default().batch_size)]
    batch_size: usize,
    #[arg(long, default_value_t = WorkerConfig::default().lease_ms)]
    lease_ms: u64,
    #[arg(long, default_value_t = WorkerConfig::default().shutdown_timeout_ms)]
    shutdown_timeout_ms: u64,
    #[arg(long, default_value_t = WorkerConfig::default().reap_interval_ms)]
    reap_interval_ms: u64,
    #[arg(long, default_value_t = WorkerConfig::default().reload_interval_ms)]
    reload_interval_ms: u64,
    /// How often job types are re-registered in Redis when nothing changed.
    #[arg(long, default_value_t = WorkerConfig::default().heartbeat_ms)]
    heartbeat_ms: u64,
    /// Name of this host in leases and error histories (default: hostname-pid).
    #[arg(long, default_value = "")]
    host_id: String,
    /// Retries for jobs submitted without their own max_retries.
    #[arg(long, default_value_t = RetryStrategy::default().max_retries)]
    max_retries: u32,
    /// Retry delay = backoff_factor · 2^attempt seconds (× jitter).
    #[arg(long, default_value_t = RetryStrategy::default().backoff_factor_secs)]
    backoff_factor: f64,
    /// Turn off the random factor in retry delays.
    #[arg(long)]
    no_jitter: bool,
    /// How long finished jobs and results are kept.
    #[arg(long, default_value_t = QueueConfig::default().result_ttl_secs)]
    result_ttl_secs: u64,
    /// The content store's durable copy (default: <data-dir>/content).
    #[arg(long, env = "DECKHAND_CONTENT_DIR")]
    content_dir: Option<PathBuf>,
    /// LLM provider for the `llm` import: openai, openrouter, vllm, llamacpp,
    /// ollama, openai-compatible. None: plugins get "no LLM configured".
    #[arg(long, env = "DECKHAND_LLM_PROVIDER")]
    llm_provider: Option<deckhand::llm::Provider>,
    /// Default: the provider's usual address.
    #[arg(long, env = "DECKHAND_LLM_BASE_URL")]
    llm_base_url: Option<String>,
    #[arg(long, env = "DECKHAND_LLM_MODEL")]
    llm_model: Option<String>,
    /// Environment variable holding the API key.
    #[arg(long, default_value = "DECKHAND_LLM_API_KEY")]
    llm_api_key_env: String,
    #[arg(long, default_value_t = LlmConfig::default().timeout_secs)]
    llm_timeout_secs: f64,
    #[arg(long)]
    llm_max_tokens: Option<u32>,
    #[arg(long)]
    llm_temperature: Option<f32>,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_on_shutdown(shutdown.clone()));

    let runtime = Arc::new(Runtime::new(RuntimeConfig::default())?);
    if !args.plugin_dir.is_dir() {
        anyhow::bail!(
            "plugin directory {} does not exist (set --plugin-dir or DECKHAND_PLUGIN_DIR)",
            args.plugin_dir.display()
        );
    }
    let registry = Arc::new(Registry::open(runtime, &args.plugin_dir).await?);
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

    let redis_stop = CancellationToken::new();
    let (url, embedded) = match args.redis_url.clone() {
        Some(url) => (url, None),
        None => {
            let url = format!("redis://127.0.0.1:{}", args.embedded_redis_port);
            if redis_server::answers(&url).await {
                tracing::info!(%url, "using the Redis that answers at the default address");
                (url, None)
            } else {
                let dir = args.data_dir.join("redis");
                let embedded =
                    Embedded::start(args.embedded_redis_port, &dir, redis_stop.clone()).await?;
                (embedded.url.clone(), Some(embedded))
            }
        }
    };

    let queue_config = QueueConfig {
        prefix: args.prefix.clone(),
        result_ttl_secs: args.result_ttl_secs,
        retry: RetryStrategy {
            max_retries: args.max_retries,
            backoff_factor_secs: args.backoff_factor,
            jitter: !args.no_jitter,
            ..RetryStrategy::default()
        },
        ..QueueConfig::default()
    };
    let Some(queue) = connect_with_retry(&url, queue_config, &shutdown).await? else {
        return Ok(EXIT_OK);
    };

    let llm = match args.llm_provider {
        None => None,
        Some(provider) => {
            let defaults = LlmConfig::default();
            let config = LlmConfig {
                provider,
                base_url: args
                    .llm_base_url
                    .clone()
                    .unwrap_or_else(|| provider.default_base_url().to_string()),
                model: args.llm_model.clone().unwrap_or(defaults.model),
                api_key_env: args.llm_api_key_env.clone(),
                timeout_secs: args.llm_timeout_secs,
                max_tokens: args.llm_max_tokens,
                temperature: args.llm_temperature,
                ..LlmConfig::default()
            };
            tracing::info!(
                provider = provider.as_str(),
                base_url = %config.base_url,
                model = %config.model,
                "LLM configured"
            );
            Some(LlmClient::new(config, Some(queue.clone()))?)
        }
    };
    let content_dir = ContentDir::new(
        args.content_dir
            .clone()
            .unwrap_or_else(|| args.data_dir.join("content")),
    );
    let services = WorkerServices {
        llm,
        content_dir: Some(content_dir),
    };
    let worker = Worker::new(
        queue,
        registry,
        WorkerConfig {
            worker_count: args.workers,
            batch_size: args.batch_size,
            lease_ms: args.lease_ms,
            shutdown_timeout_ms: args.shutdown_timeout_ms,
            reap_interval_ms: args.reap_interval_ms,
            reload_interval_ms: args.reload_interval_ms,
            heartbeat_ms: args.heartbeat_ms,
            host_id: args.host_id.clone(),
            ..WorkerConfig::default()
        },
        services,
    );
    tracing::info!(host = %worker.host_id(), %url, prefix = %args.prefix, "serving");
    let stop = shutdown.clone();
    worker.run(async move { stop.cancelled().await }).await;

    if let Some(embedded) = embedded {
        redis_stop.cancel();
        embedded.wait().await;
    }
    Ok(EXIT_OK)
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
                tracing::warn!(%url, "cannot reach Redis ({e}); retrying in {delay:?}");
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
async fn signal_on_shutdown(token: CancellationToken) {
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
}
