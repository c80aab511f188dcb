//! What plugins spend of their grants on this host: requests and tokens per
//! minute (a fixed one-minute window each), and the counters `/metrics`
//! shows per plugin (requests sent and refused by reason, bytes each way).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// How one outbound request ended.
pub(crate) enum Outcome {
    Sent,
    Refused(&'static str),
}

/// One plugin's counters since the host started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginUsage {
    pub requests_sent: u64,
    /// Refused requests by reason (`denied`, `address_prohibited`, ...).
    pub requests_refused: BTreeMap<&'static str, u64>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub llm_refused: u64,
}

#[derive(Default)]
struct Window {
    started: Option<Instant>,
    requests: u64,
    tokens: u64,
}

impl Window {
    fn roll(&mut self, now: Instant) {
        if self.started.is_none_or(|s| now.duration_since(s) >= WINDOW) {
            *self = Window {
                started: Some(now),
                ..Window::default()
            };
        }
    }
}

#[derive(Default)]
struct PluginMeter {
    window: Window,
    usage: PluginUsage,
}

/// Every plugin's meter; shared by every job of a runtime.
#[derive(Default)]
pub struct Meter {
    plugins: Mutex<BTreeMap<String, PluginMeter>>,
}

impl Meter {
    fn with<R>(&self, plugin: &str, f: impl FnOnce(&mut PluginMeter) -> R) -> R {
        let mut plugins = match self.plugins.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(plugins.entry(plugin.to_string()).or_default())
    }

    /// Takes one request of `per_minute` (0: no cap); false when spent.
    pub(crate) fn take_request(&self, plugin: &str, per_minute: u32) -> bool {
        self.with(plugin, |m| {
            m.window.roll(Instant::now());
            if per_minute > 0 && m.window.requests >= u64::from(per_minute) {
                return false;
            }
            m.window.requests += 1;
            true
        })
    }

    /// Whether `per_minute` tokens (0: no cap) have room for more now.
    pub(crate) fn tokens_left(&self, plugin: &str, per_minute: u64) -> bool {
        self.with(plugin, |m| {
            m.window.roll(Instant::now());
            per_minute == 0 || m.window.tokens < per_minute
        })
    }

    pub(crate) fn add_tokens(&self, plugin: &str, tokens: u64) {
        self.with(plugin, |m| {
            m.window.roll(Instant::now());
            m.window.tokens = m.window.tokens.saturating_add(tokens);
        });
    }

    pub(crate) fn count(&self, plugin: &str, outcome: Outcome) {
        self.with(plugin, |m| match outcome {
            Outcome::Sent => m.usage.requests_sent += 1,
            Outcome::Refused(why) => *m.usage.requests_refused.entry(why).or_default() += 1,
        });
    }

    pub(crate) fn count_llm_refused(&self, plugin: &str) {
        self.with(plugin, |m| m.usage.llm_refused += 1);
    }

    pub(crate) fn add_bytes(&self, plugin: &str, received: bool, n: u64) {
        self.with(plugin, |m| {
            let total = if received {
                &mut m.usage.bytes_received
            } else {
                &mut m.usage.bytes_sent
            };
            *total = total.saturating_add(n);
        });
    }

    /// Every plugin's counters, by name.
    pub fn usage(&self) -> BTreeMap<String, PluginUsage> {
        let plugins = match self.plugins.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        plugins
            .iter()
            .map(|(name, m)| (name.clone(), m.usage.clone()))
            .collect()
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Meter {
    /// The counters in Prometheus' text format, for `/metrics`.
    pub fn prometheus(&self) -> String {
        use std::fmt::Write;
        let usage = self.usage();
        let mut out = String::from(
            "# HELP deckhand_plugin_http_requests_total Outbound HTTP requests by plugin: sent, or refused and why.\n\
             # TYPE deckhand_plugin_http_requests_total counter\n",
        );
        for (plugin, u) in &usage {
            let p = label(plugin);
            let _ = writeln!(
                out,
                "deckhand_plugin_http_requests_total{{plugin=\"{p}\",outcome=\"sent\"}} {}",
                u.requests_sent
            );
            for (why, n) in &u.requests_refused {
                let _ = writeln!(
                    out,
                    "deckhand_plugin_http_requests_total{{plugin=\"{p}\",outcome=\"{why}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP deckhand_plugin_http_bytes_total Outbound HTTP body bytes by plugin and direction.\n\
             # TYPE deckhand_plugin_http_bytes_total counter\n",
        );
        for (plugin, u) in &usage {
            let p = label(plugin);
            let _ = writeln!(
                out,
                "deckhand_plugin_http_bytes_total{{plugin=\"{p}\",direction=\"sent\"}} {}",
                u.bytes_sent
            );
            let _ = writeln!(
                out,
                "deckhand_plugin_http_bytes_total{{plugin=\"{p}\",direction=\"received\"}} {}",
                u.bytes_received
            );
        }
        out.push_str(
            "# HELP deckhand_plugin_llm_refused_total LLM calls refused by a plugin's grant.\n\
             # TYPE deckhand_plugin_llm_refused_total counter\n",
        );
        for (plugin, u) in &usage {
            let _ = writeln!(
                out,
                "deckhand_plugin_llm_refused_total{{plugin=\"{}\"}} {}",
                label(plugin),
                u.llm_refused
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_per_minute_are_counted_per_plugin() {
        let meter = Meter::default();
        assert!(meter.take_request("a", 2));
        assert!(meter.take_request("a", 2));
        assert!(!meter.take_request("a", 2), "third in the minute");
        assert!(meter.take_request("b", 2), "another plugin's own window");
        assert!(meter.take_request("a", 0), "0: no cap");
    }

    #[test]
    fn tokens_per_minute_run_out() {
        let meter = Meter::default();
        assert!(meter.tokens_left("a", 100));
        meter.add_tokens("a", 100);
        assert!(!meter.tokens_left("a", 100));
        assert!(meter.tokens_left("a", 0));
    }

    #[test]
    fn counters_render_per_plugin_with_escaped_labels() {
        let meter = Meter::default();
        meter.count("sc\"raper", Outcome::Sent);
        meter.count("sc\"raper", Outcome::Refused("denied"));
        meter.add_bytes("sc\"raper", true, 42);
        let text = meter.prometheus();
        assert!(
            text.contains(
                "deckhand_plugin_http_requests_total{plugin=\"sc\\\"raper\",outcome=\"denied\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("direction=\"received\"} 42"), "{text}");
    }
}
