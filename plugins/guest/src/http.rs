//! Fetching from the hosts the operator granted, through
//! `wasi:http/outgoing-handler`: a `GET` that follows redirects (each hop
//! checked by the host again) and reads the body whole, with the host's
//! refusals as typed errors.

use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// One answer, its body read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a fetch failed; each of the host's refusals is its own case.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// The host or method is not in the plugin's grant.
    NotGranted(String),
    /// A redirect led to a host that is not granted.
    RedirectNotGranted {
        from: String,
        to: String,
    },
    /// The name resolves to an address the grant does not reach
    /// (loopback, private, link-local, cloud metadata).
    AddressProhibited(String),
    /// The answer is larger than the grant's `max_response_bytes`.
    TooLarge(String),
    /// The request body is larger than the grant's `max_request_bytes`.
    RequestTooLarge(String),
    /// The server did not answer within the grant's timeout.
    Timeout(String),
    /// Past the grant's requests per minute.
    RateLimited(String),
    TooManyRedirects(String),
    /// Anything else (DNS, connection, protocol), with the host's code.
    Failed(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::NotGranted(u) => write!(f, "{u}: host or method not granted"),
            HttpError::RedirectNotGranted { from, to } => {
                write!(f, "{from} redirects to {to}, which is not granted")
            }
            HttpError::AddressProhibited(u) => write!(f, "{u}: address not granted"),
            HttpError::TooLarge(u) => write!(f, "{u}: response larger than granted"),
            HttpError::RequestTooLarge(u) => write!(f, "{u}: request larger than granted"),
            HttpError::Timeout(u) => write!(f, "{u}: no answer in time"),
            HttpError::RateLimited(u) => write!(f, "{u}: past the granted requests per minute"),
            HttpError::TooManyRedirects(u) => write!(f, "{u}: more than {MAX_REDIRECTS} redirects"),
            HttpError::Failed(m) => f.write_str(m),
        }
    }
}

fn from_code(url: &str, code: ErrorCode) -> HttpError {
    let url = url.to_string();
    match code {
        ErrorCode::HttpRequestDenied => HttpError::NotGranted(url),
        ErrorCode::DestinationIpProhibited => HttpError::AddressProhibited(url),
        ErrorCode::HttpResponseBodySize(_) => HttpError::TooLarge(url),
        ErrorCode::HttpRequestBodySize(_) => HttpError::RequestTooLarge(url),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout => HttpError::Timeout(url),
        ErrorCode::ConnectionLimitReached => HttpError::RateLimited(url),
        other => HttpError::Failed(format!("{url}: {other:?}")),
    }
}

/// A failure while the body streams in, from its text: the host's wasi:http
/// hands a body's error to the guest as an I/O error without its code.
fn from_text(url: &str, text: &str) -> HttpError {
    let url = url.to_string();
    if text.contains("body size exceeds limit") {
        HttpError::TooLarge(url)
    } else if text.contains("timeout") || text.contains("timed out") {
        HttpError::Timeout(url)
    } else {
        HttpError::Failed(format!("{url}: {text}"))
    }
}

/// `GET url` with `headers`, following redirects.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let response = match send(&current, headers) {
            Err(HttpError::NotGranted(to)) if current != url => {
                return Err(HttpError::RedirectNotGranted {
                    from: url.to_string(),
                    to,
                });
            }
            other => other?,
        };
        match (response.status, response.header("location")) {
            (300..=399, Some(location)) => current = resolve(&current, location),
            _ => return Ok(response),
        }
    }
    Err(HttpError::TooManyRedirects(url.to_string()))
}

/// A `Location` against the URL it came from (absolute, or a path).
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let origin_end = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    format!(
        "{}/{}",
        &base[..origin_end],
        location.trim_start_matches('/')
    )
}

/// Scheme, authority and path of an `http(s)://` URL.
fn split(url: &str) -> Result<(Scheme, &str, &str), HttpError> {
    let bad = || HttpError::Failed(format!("{url}: not an http(s) URL"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        _ => return Err(bad()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((scheme, authority, path))
}

fn send(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
    request("GET", url, headers, &[])
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    }
}

/// One request, redirects not followed: `method` (upper case) to `url`
/// with `headers` and `body`.
pub fn request(
    method_name: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, HttpError> {
    let (scheme, authority, path) = split(url)?;
    let failed = |what: &str| HttpError::Failed(format!("{url}: {what}"));
    let entries: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&entries).map_err(|e| failed(&format!("header: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let set = request.set_method(&method(method_name)).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(failed("not a valid request"));
    }
    let outgoing = request.body().map_err(|()| failed("request body"))?;
    let pending = outgoing_handler::handle(request, None).map_err(|c| from_code(url, c))?;
    write_body(&outgoing, body);
    // A body the host refused shows in the response's error code.
    let _ = OutgoingBody::finish(outgoing, None);
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(from_code(url, code)),
        _ => return Err(failed("no response")),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| failed("response body"))?;
    let stream = incoming.stream().map_err(|()| failed("response body"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(match wasi::http::types::http_error_code(&e) {
                    Some(code) => from_code(url, code),
                    None => from_text(url, &e.to_debug_string()),
                });
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Writes `body` 4 KiB at a time; stops at the first write the host refuses
/// (the response then says why).
fn write_body(outgoing: &OutgoingBody, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    let Ok(stream) = outgoing.write() else { return };
    for chunk in body.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            break;
        }
    }
}
