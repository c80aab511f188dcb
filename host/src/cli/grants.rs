//! Grants from the command line's side: re-read while a host runs, and
//! shown beside what each plugin asked for (`deckhand plugins list`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deckhand::config::Config;
use deckhand::grants::{AskedGranted, GrantBook};

/// Puts the configuration's grants in force for the jobs `runtime` runs,
/// and re-reads them from `path` while the host runs.
pub fn install(config: &Config, path: Option<PathBuf>, runtime: &deckhand::runtime::Runtime) {
    runtime.grants().replace(config.plugins.clone());
    let every = Duration::from_millis(config.queue.reload_interval_ms.max(100));
    tokio::spawn(watch(path, runtime.grants().clone(), every));
}

/// Re-reads the `[plugins]` grants when the configuration file changes, so
/// a changed grant applies to the next job; a file that no longer loads
/// keeps the grants in force and says why.
pub async fn watch(path: Option<PathBuf>, book: Arc<GrantBook>, every: Duration) {
    let file = path.unwrap_or_else(|| PathBuf::from("deckhand.toml"));
    let mut seen = modified(&file);
    loop {
        tokio::time::sleep(every).await;
        let now = modified(&file);
        if now == seen {
            continue;
        }
        seen = now;
        match Config::grants_from_file(Some(&file)) {
            Ok(grants) => {
                if book.replace(grants) {
                    tracing::info!(file = %file.display(), "plugin grants changed; the next jobs run with them");
                }
            }
            Err(e) => tracing::warn!("plugin grants kept as they were: {e}"),
        }
    }
}

fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

/// Two lines under a plugin: what it asks for, what it is granted.
pub fn print(grants: &AskedGranted) {
    let a = &grants.asked;
    let g = &grants.granted;
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join(", ")
        }
    };
    println!(
        "  asks:    hosts {}; key-value {}; variables {}; models {}",
        list(&a.outbound_hosts),
        if a.key_value { "yes" } else { "no" },
        list(&a.variables),
        list(&a.llm_models),
    );
    let variables: Vec<String> = g
        .variables
        .iter()
        .map(|v| format!("{}{}", v.name, if v.secret { " (secret)" } else { "" }))
        .collect();
    println!(
        "  granted: hosts {}; methods {}; addresses {}; key-value {}; variables {}; models {}",
        list(&g.outbound_hosts),
        list(&g.methods),
        list(&g.addresses),
        g.key_value
            .as_ref()
            .map_or("no".to_string(), |kv| format!("{} bytes", kv.quota_bytes)),
        list(&variables),
        list(&g.llm_models),
    );
}
