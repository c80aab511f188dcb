//! Outbound HTTP for plugins granted it: `wasi:http/outgoing-handler`, with
//! every request checked against the plugin's grant before anything leaves
//! the host. The checks, in order, each failing with its own `wasi:http`
//! error code (the host's log names the grant that is missing):
//!
//! - no `[plugins.NAME.http]`, a host or method not granted: `HTTP-request-denied`;
//! - past `requests_per_minute` on this host: `connection-limit-reached`;
//! - a name that resolves to a loopback, private, link-local, metadata or
//!   unroutable address not granted by address: `destination-IP-prohibited`
//!   (the host then connects to the address it checked, never resolving
//!   again, so a name cannot change its answer in between);
//! - a request body past `max_request_bytes`: `HTTP-request-body-size`; a
//!   response past `max_response_bytes`: `HTTP-response-body-size` (at
//!   once when its length says so, else when the body gets there);
//! - no answer within `timeout_ms` (never past the job's deadline):
//!   `connection-timeout`, `HTTP-response-timeout`, `connection-read-timeout`.
//!
//! Redirects are not followed here: a 3xx reaches the plugin, and the
//! request it makes next is checked as any other.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tracing::Instrument;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::meter::{Meter, Outcome};
use crate::grants::{AddressClass, HttpGrant, PluginGrant, classify_address};

/// What one job's requests are checked against.
pub(crate) struct Outbound {
    pub(crate) plugin: String,
    /// The plugin's grant as the job started (its `http` is what counts).
    pub(crate) grant: Arc<PluginGrant>,
    pub(crate) deadline: Instant,
    pub(crate) meter: Arc<Meter>,
    pub(crate) tally: Arc<Tally>,
}

/// What one job's requests sent and received, for its record.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Tally {
    /// Requests sent and body bytes both ways, so far.
    pub(crate) fn read(&self) -> (u64, u64) {
        (
            self.requests.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// A request that passed the grant's checks of host, method and rate.
struct Admitted {
    scheme_https: bool,
    host: String,
    port: u16,
    grant: HttpGrant,
    timeout: Duration,
    between_bytes: Duration,
}

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let admitted = self.admit(&request, options);
        let meter = self.meter.clone();
        let tally = self.tally.clone();
        let plugin = self.plugin.clone();
        let span = tracing::info_span!(
            "http_fetch",
            plugin = %plugin,
            method = %request.method(),
            host = request.uri().host().unwrap_or(""),
            status = tracing::field::Empty,
        );
        Box::new(
            async move {
                let outcome = match admitted {
                    Ok(admitted) => {
                        let counters = Counters {
                            meter: meter.clone(),
                            tally: tally.clone(),
                            plugin: plugin.clone(),
                        };
                        fetch(request, admitted, &counters).await
                    }
                    Err(e) => Err(e),
                };
                match &outcome {
                    Ok((response, _)) => {
                        tracing::Span::current().record("status", response.status().as_u16());
                        meter.count(&plugin, Outcome::Sent);
                        tally.requests.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => meter.count(&plugin, Outcome::Refused(refusal(e))),
                }
                outcome
            }
            .instrument(span),
        )
    }
}

/// A short name for a failure, for `/metrics`.
fn refusal(e: &Error) -> &'static str {
    match e {
        Error::HttpRequestDenied => "denied",
        Error::ConnectionLimitReached => "rate_limited",
        Error::DestinationIpProhibited => "address_prohibited",
        Error::HttpRequestBodySize(_) => "request_too_large",
        Error::HttpResponseBodySize(_) => "response_too_large",
        Error::ConnectionTimeout | Error::HttpResponseTimeout | Error::ConnectionReadTimeout => {
            "timeout"
        }
        _ => "failed",
    }
}

impl Outbound {
    fn admit(
        &self,
        request: &http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Admitted, Error> {
        let plugin = &self.plugin;
        let Some(grant) = &self.grant.http else {
            tracing::warn!(%plugin, "outbound HTTP refused: not granted ([plugins.{plugin}.http])");
            return Err(Error::HttpRequestDenied);
        };
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https");
        let https = scheme == "https";
        let host = uri.host().unwrap_or("");
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        if !grant.allows_host(scheme, &host, port) {
            tracing::warn!(%plugin, "outbound HTTP refused: {scheme}://{host}:{port} is not in [plugins.{plugin}.http] allowed_hosts");
            return Err(Error::HttpRequestDenied);
        }
        let method = request.method().as_str();
        if !grant.allows_method(method) {
            tracing::warn!(%plugin, "outbound HTTP refused: method {method} is not in [plugins.{plugin}.http] allowed_methods");
            return Err(Error::HttpRequestDenied);
        }
        if !self.meter.take_request(plugin, grant.requests_per_minute) {
            tracing::warn!(%plugin, "outbound HTTP refused: past requests_per_minute = {}", grant.requests_per_minute);
            return Err(Error::ConnectionLimitReached);
        }
        let left = self.deadline.saturating_duration_since(Instant::now());
        let granted = Duration::from_millis(grant.timeout_ms);
        let asked = |t: Option<Duration>| t.unwrap_or(granted).min(granted).min(left);
        Ok(Admitted {
            scheme_https: https,
            host,
            port,
            grant: grant.clone(),
            timeout: asked(options.and_then(|o| o.connect_timeout.or(o.first_byte_timeout))),
            between_bytes: asked(options.and_then(|o| o.between_bytes_timeout)),
        })
    }
}

/// Where a body's bytes are counted: the plugin's meter and the job's tally.
#[derive(Clone)]
struct Counters {
    meter: Arc<Meter>,
    tally: Arc<Tally>,
    plugin: String,
}

impl Counters {
    fn add(&self, received: bool, n: u64) {
        self.meter.add_bytes(&self.plugin, received, n);
        self.tally.bytes.fetch_add(n, Ordering::Relaxed);
    }
}

async fn fetch(
    mut request: http::Request<WasiBody>,
    target: Admitted,
    counters: &Counters,
) -> SendResult {
    let plugin = counters.plugin.as_str();
    let max_request = target.grant.max_request_bytes;
    if content_length(request.headers()).is_some_and(|n| n > max_request) {
        return Err(Error::HttpRequestBodySize(Some(max_request)));
    }
    let address = resolve(&target, plugin).await?;
    let stream = tokio::time::timeout(target.timeout, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    let io: Box<dyn Io> = if target.scheme_https {
        Box::new(tls(stream, &target.host).await?)
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = tokio::time::timeout(
        target.timeout,
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let request = request.map(|body| {
        Capped::new(
            body,
            max_request,
            target.between_bytes,
            counters.clone(),
            false,
        )
        .boxed_unsync()
    });
    let conn = tokio::spawn(conn);
    let response = tokio::time::timeout(target.timeout, sender.send_request(request))
        .await
        .map_err(|_| Error::HttpResponseTimeout)?
        .map_err(|e| request_body_error(&e).unwrap_or(Error::from(e)))?;
    let max_response = target.grant.max_response_bytes;
    if content_length(response.headers()).is_some_and(|n| n > max_response) {
        conn.abort();
        return Err(Error::HttpResponseBodySize(Some(max_response)));
    }
    let response = response.map(|body| {
        let body = body.map_err(Error::from).boxed_unsync();
        Capped::new(
            body,
            max_response,
            target.between_bytes,
            counters.clone(),
            true,
        )
        .boxed_unsync()
    });
    let io = async move {
        match conn.await {
            Ok(Ok(())) | Err(_) => Ok(()),
            Ok(Err(e)) => Err(Error::from(e)),
        }
    };
    Ok((response, Box::new(io)))
}

/// The request body's own error when that is what stopped the exchange
/// (hyper reports it as a failed write, the cap's error as its cause).
fn request_body_error(e: &hyper::Error) -> Option<Error> {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(Error::HttpRequestBodySize(limit)) = cause.downcast_ref::<Error>() {
            return Some(Error::HttpRequestBodySize(*limit));
        }
        source = cause.source();
    }
    None
}

/// The address to connect to: the name resolved once and every answer
/// checked, so that a name answering a private address is refused even when
/// it also answers a public one.
async fn resolve(target: &Admitted, plugin: &str) -> Result<SocketAddr, Error> {
    let addresses: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::time::timeout(
            target.timeout,
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| Error::DnsTimeout)?
        .map_err(|e| Error::DnsError {
            rcode: Some(e.to_string()),
            info_code: None,
        })?
        .collect(),
    };
    for address in &addresses {
        let class = classify_address(address.ip());
        if class != AddressClass::Public && !target.grant.allows_address(address.ip()) {
            tracing::warn!(
                %plugin,
                "outbound HTTP refused: {} resolves to {} ({class}), not in [plugins.{plugin}.http] allowed_addresses",
                target.host,
                address.ip(),
            );
            return Err(Error::DestinationIpProhibited);
        }
    }
    addresses.first().copied().ok_or(Error::DestinationNotFound)
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Io for T {}

async fn tls(
    stream: tokio::net::TcpStream,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::InternalError(Some(e.to_string())))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(Error::InvalidDnsNameError)?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(Error::Tls)
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A body cut off past `max` bytes and failed when the next part takes
/// longer than `between` to come; its bytes counted for the plugin.
struct Capped {
    inner: WasiBody,
    seen: u64,
    max: u64,
    between: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    counters: Counters,
    response: bool,
}

impl Capped {
    fn new(
        inner: WasiBody,
        max: u64,
        between: Duration,
        counters: Counters,
        response: bool,
    ) -> Self {
        Capped {
            inner,
            seen: 0,
            max,
            between,
            timer: Box::pin(tokio::time::sleep(between)),
            counters,
            response,
        }
    }

    fn too_large(&self) -> Error {
        if self.response {
            Error::HttpResponseBodySize(Some(self.max))
        } else {
            Error::HttpRequestBodySize(Some(self.max))
        }
    }
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                this.seen = this.seen.saturating_add(n);
                this.counters.add(this.response, n);
                if this.seen > this.max {
                    return Poll::Ready(Some(Err(this.too_large())));
                }
                let next = tokio::time::Instant::now() + this.between;
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) if this.response => {
                    Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
                }
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionWriteTimeout))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}
