//! The embedded default: when no Redis URL is given and nothing answers at
//! the default address, `deckhand serve` starts and supervises its own
//! `redis-server` (as Faktory does), with a data directory and AOF on.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "nothing answers at {url} and redis-server is not on PATH; install Redis or pass --redis-url"
    )]
    NoRedisServer { url: String },
    #[error("cannot create the Redis data directory {dir}: {source}")]
    DataDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start redis-server: {0}")]
    Spawn(std::io::Error),
    #[error("redis-server did not answer on port {port} within 10 s; its log ends:\n{log}")]
    NotReady { port: u16, log: String },
    #[error("redis-server exited at start ({status}); its log ends:\n{log}")]
    Exited { status: String, log: String },
}

/// Whether a Redis answers PING at `url` (within a second).
pub async fn answers(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let ping = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), ping).await,
        Ok(Ok(_))
    )
}

/// A `redis-server` this process started; restarted if it dies, stopped
/// when `stop` is cancelled.
pub struct Embedded {
    pub url: String,
    /// Why it last stopped, while it is not back (for `/health`).
    pub last_failure: LastFailure,
    supervisor: tokio::task::JoinHandle<()>,
}

/// The embedded Redis' last exit and the end of its log, from when it
/// stopped until it answers again; none while it runs. Cheap to clone.
#[derive(Clone, Default)]
pub struct LastFailure(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl LastFailure {
    pub fn get(&self) -> Option<String> {
        self.0.lock().map(|f| f.clone()).unwrap_or_default()
    }

    fn set(&self, failure: Option<String>) {
        if let Ok(mut f) = self.0.lock() {
            *f = failure;
        }
    }
}

impl Embedded {
    /// Starts `redis-server` on 127.0.0.1:`port` with its files in `dir`.
    pub async fn start(
        port: u16,
        dir: &Path,
        stop: CancellationToken,
    ) -> Result<Embedded, EmbeddedError> {
        let url = format!("redis://127.0.0.1:{port}");
        if which("redis-server").is_none() {
            return Err(EmbeddedError::NoRedisServer { url });
        }
        std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::DataDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let dir = dir
            .canonicalize()
            .map_err(|source| EmbeddedError::DataDir {
                dir: dir.to_path_buf(),
                source,
            })?;
        let mut child = spawn(port, &dir).map_err(EmbeddedError::Spawn)?;
        wait_ready(&url, port, &mut child, &dir).await?;
        tracing::info!(
            %url,
            dir = %dir.display(),
            "started an embedded redis-server (AOF on, fsync always); it stops with this host"
        );
        let last_failure = LastFailure::default();
        let watch = Watch {
            port,
            dir,
            url: url.clone(),
            failure: last_failure.clone(),
        };
        let supervisor = tokio::spawn(supervise(child, watch, stop));
        Ok(Embedded {
            url,
            last_failure,
            supervisor,
        })
    }

    /// Waits for the supervisor to stop Redis (after `stop` was cancelled).
    pub async fn wait(self) {
        let _ = self.supervisor.await;
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

fn spawn(port: u16, dir: &Path) -> std::io::Result<Child> {
    Command::new("redis-server")
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1", "--protected-mode", "yes"])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes", "--appendfsync", "always"])
        .args(["--save", ""])
        .args(["--logfile", "redis.log"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

/// Waits until the new `child` answers; if it exits or stays silent, the
/// error quotes the end of its log (a full disk, a bad AOF, a port taken).
async fn wait_ready(
    url: &str,
    port: u16,
    child: &mut Child,
    dir: &Path,
) -> Result<(), EmbeddedError> {
    for _ in 0..100 {
        if answers(url).await {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(EmbeddedError::Exited {
                status: status.to_string(),
                log: log_tail(dir),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(EmbeddedError::NotReady {
        port,
        log: log_tail(dir),
    })
}

/// The last lines of the embedded Redis' log, where it says why it stopped.
fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n");
    if tail.is_empty() {
        "(empty)".to_string()
    } else {
        tail
    }
}

/// Lines of the embedded Redis' log quoted when it fails.
const LOG_TAIL: usize = 5;
/// The longest wait between restarts of an embedded Redis that keeps
/// exiting (a full disk does not heal in a second).
const MAX_RESTART_WAIT: Duration = Duration::from_secs(60);

/// What the supervisor of an embedded Redis watches over.
struct Watch {
    port: u16,
    dir: PathBuf,
    url: String,
    failure: LastFailure,
}

async fn supervise(mut child: Child, watch: Watch, stop: CancellationToken) {
    let Watch {
        port,
        dir,
        url,
        failure,
    } = watch;
    let mut wait = Duration::from_secs(1);
    loop {
        tokio::select! {
            status = child.wait() => {
                let why = format!(
                    "exited ({}); its log ends:\n{}",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    log_tail(&dir)
                );
                tracing::error!("embedded redis-server {why}; restarting it in {wait:?}");
                failure.set(Some(why));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return,
                }
                match spawn(port, &dir) {
                    Ok(c) => {
                        child = c;
                        match wait_ready(&url, port, &mut child, &dir).await {
                            Ok(()) => {
                                tracing::info!(%url, "embedded redis-server is back");
                                failure.set(None);
                                wait = Duration::from_secs(1);
                            }
                            // Exits again at start: wait longer each time.
                            Err(e) => {
                                tracing::error!("{e}");
                                failure.set(Some(e.to_string()));
                                wait = (wait * 2).min(MAX_RESTART_WAIT);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!("cannot restart redis-server: {e}");
                        return;
                    }
                }
            }
            _ = stop.cancelled() => {
                if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                    // SIGTERM lets Redis flush its AOF before exiting.
                    // SAFETY: kill(2) on a pid we spawned and have not reaped.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                tracing::info!("embedded redis-server stopped");
                return;
            }
        }
    }
}
