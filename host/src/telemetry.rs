//! Logs, and traces out over OTLP.
//!
//! Logging is `tracing` with the fmt layer (text or JSON lines on stderr).
//! With `[otel] endpoint` set, the same spans also go to an OpenTelemetry
//! collector as OTLP/HTTP (JSON), batched on the SDK's own thread: a span
//! per job attempt (`job`), per plugin host call (`host_call`) and per LLM
//! request (`llm_request`), with their figures as attributes.
//!
//! Trace context is W3C `traceparent` text (`00-<trace id>-<span id>-<flags>`):
//! accepted on submit, stored with the job, made the parent of each attempt's
//! span, and handed to the jobs an attempt submits, so one bulk run is one
//! trace across hosts.

use std::time::Duration;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Where traces go and under what name: `[otel]` in `deckhand.toml`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtelSettings {
    /// The collector's OTLP/HTTP address (`http://host:4318`, or the full
    /// `.../v1/traces`); empty: no export.
    pub endpoint: String,
    /// `service.name` of the spans.
    pub service_name: String,
}

impl Default for OtelSettings {
    fn default() -> Self {
        OtelSettings {
            endpoint: String::new(),
            service_name: "deckhand".into(),
        }
    }
}

/// Keeps the exporter alive; [`Telemetry::shutdown`] sends what is queued.
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still queued (waits up to the SDK's export timeout).
    pub fn shutdown(&self) {
        if let Some(p) = &self.provider
            && let Err(e) = p.shutdown()
        {
            eprintln!("deckhand: sending the last traces: {e}");
        }
    }
}

/// Starts logging at `verbose` (0 info, 1 debug, 2+ trace; `RUST_LOG`
/// overrides), as JSON lines when `json`, and exporting traces when
/// `otel` names an endpoint. Must run inside the tokio runtime.
pub fn init(verbose: u8, json: bool, otel: Option<&OtelSettings>) -> Telemetry {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    use tracing_subscriber::Layer;
    type Boxed = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;
    let fmt = tracing_subscriber::fmt::layer();
    let fmt: Boxed = if json {
        fmt.with_writer(std::io::stderr).json().boxed()
    } else {
        let ansi = std::io::stderr().is_terminal();
        fmt.with_writer(move || OneLine {
            out: std::io::stderr(),
            ansi,
        })
        .with_ansi(ansi)
        .boxed()
    };
    let (provider, error) = match otel.filter(|o| !o.endpoint.is_empty()) {
        Some(o) => match exporter(o) {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let mut layers = vec![fmt];
    if let Some(p) = &provider {
        use opentelemetry::trace::TracerProvider;
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(p.tracer("deckhand"))
                .boxed(),
        );
    }
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
    if let Some(o) = otel.filter(|o| !o.endpoint.is_empty()) {
        match &error {
            None => {
                tracing::info!(endpoint = %crate::redact::url(&o.endpoint), "exporting traces over OTLP/HTTP")
            }
            Some(e) => {
                tracing::error!(endpoint = %crate::redact::url(&o.endpoint), error = %e, "traces are not exported")
            }
        }
    }
    Telemetry { provider }
}

fn exporter(o: &OtelSettings) -> Result<SdkTracerProvider, String> {
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    let endpoint = if o.endpoint.trim_end_matches('/').ends_with("/v1/traces") {
        o.endpoint.clone()
    } else {
        format!("{}/v1/traces", o.endpoint.trim_end_matches('/'))
    };
    let client = TokioHttp {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?,
        runtime: tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(endpoint)
        .with_http_client(client)
        .build()
        .map_err(|e| e.to_string())?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(o.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The exporter's HTTP client: the SDK's batch thread is not a tokio
/// thread, so each request runs on the host's runtime and is awaited there.
#[derive(Debug)]
struct TokioHttp {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for TokioHttp {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let client = self.client.clone();
        let (parts, body) = request.into_parts();
        let task = self.runtime.spawn(async move {
            let mut req = client
                .request(parts.method, parts.uri.to_string())
                .body(body);
            for (name, value) in &parts.headers {
                req = req.header(name, value);
            }
            let response = req.send().await?;
            let status = response.status();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        });
        let (status, bytes) = task.await.map_err(Box::new)?.map_err(Box::new)?;
        let mut response = opentelemetry_http::Response::new(bytes);
        *response.status_mut() = status;
        Ok(response)
    }
}

/// A `traceparent` value (checked by [`crate::job::valid_traceparent`]).
pub fn parse_traceparent(text: &str) -> Result<SpanContext, String> {
    crate::job::valid_traceparent(text)?;
    let bad = || format!("traceparent {text:?} is not 00-<32 hex>-<16 hex>-<2 hex>");
    let [_, trace, span, flags] = text.split('-').collect::<Vec<_>>()[..] else {
        return Err(bad());
    };
    let trace_id = TraceId::from_hex(trace).map_err(|_| bad())?;
    let span_id = SpanId::from_hex(span).map_err(|_| bad())?;
    let flags = u8::from_str_radix(flags, 16).map_err(|_| bad())?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return Err(bad());
    }
    Ok(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}

fn traceparent_of(sc: &SpanContext) -> Option<String> {
    sc.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// The current span's `traceparent`, when traces are exported.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    traceparent_of(&cx.span().span_context().clone())
}

/// Makes the job's stored `traceparent` (if any, and valid) the parent of
/// `span`.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(sc) = traceparent.and_then(|t| parse_traceparent(t).ok()) {
        let _ = span.set_parent(Context::new().with_remote_span_context(sc));
    }
}

/// The text log's writer: one event is one line. A newline or carriage
/// return inside an event (a plugin's message, a provider's body, a job's
/// error) is written as `\\n` / `\\r`, so no text from outside can forge a
/// line of its own; without colours, every other control character (an
/// escape sequence, say) is written as `\\x..` too.
struct OneLine {
    out: std::io::Stderr,
    ansi: bool,
}

impl std::io::Write for OneLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write_all(&one_line(buf, self.ansi))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// `event` with its control characters escaped, its last newline kept.
fn one_line(event: &[u8], ansi: bool) -> Vec<u8> {
    let (body, end) = match event.strip_suffix(b"\n") {
        Some(body) => (body, &b"\n"[..]),
        None => (event, &b""[..]),
    };
    let mut line = Vec::with_capacity(event.len() + 8);
    for &b in body {
        match b {
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\t' => line.push(b),
            0x1b if ansi => line.push(b),
            0..=0x1f | 0x7f => line.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            _ => line.push(b),
        }
    }
    line.extend_from_slice(end);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_line_whatever_it_holds() {
        let forged = b"INFO job: failed: x\n2026-01-01T00:00:00Z ERROR forged\r\x1b[31m\n";
        let line = one_line(forged, false);
        assert_eq!(
            line,
            b"INFO job: failed: x\\n2026-01-01T00:00:00Z ERROR forged\\r\\x1b[31m\n"
        );
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        // With colours on, the escape byte stays (the log's own colours).
        assert!(one_line(b"\x1b[1mx\n", true).starts_with(b"\x1b"));
    }

    #[test]
    fn traceparents_are_checked_and_written_back_alike() {
        let t = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let sc = parse_traceparent(t).expect("valid");
        assert_eq!(traceparent_of(&sc).as_deref(), Some(t));
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parse_traceparent(bad).is_err(), "{bad:?} accepted");
        }
    }
}
