//! DNS rebinding: without a token, the API answers only requests addressed
//! to it by a loopback name.
//!
//! A page on `attacker.example` whose name is rebound to 127.0.0.1 reaches
//! a loopback API from the victim's browser as a same-origin request: its
//! `Origin` and `Host` both say `attacker.example`, so comparing them holds
//! nothing back. What the browser cannot forge is `Host`: it names the
//! attacker's domain. With no API token every request must be addressed to
//! `localhost` (or a `*.localhost` name), a loopback address, or a name the
//! operator lists in `api.allowed_hosts`; any other `Host` is answered 403
//! before routing, the dashboard and `/health` included. With a token, the
//! token is the guard and any `Host` is served (behind a proxy, say).

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};
use std::sync::Arc;

/// Refuses a request whose `Host` is not allowed (see the module's doc).
pub(super) async fn guard(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    if state.sessions.open() {
        let host = request
            .headers()
            .get(header::HOST)
            .map(|h| h.to_str().unwrap_or("\u{fffd}"));
        if let Some(host) = host
            && !allowed(host, &state.allowed_hosts)
        {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "host_not_allowed",
                format!(
                    "Host {:?} is not a loopback name: without an API token this API answers only localhost, loopback addresses and api.allowed_hosts",
                    host.chars().take(200).collect::<String>()
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether a `Host` value (a name or address, maybe with a port) is a
/// loopback name, a loopback address, or listed in `listed`.
pub fn allowed(host: &str, listed: &[String]) -> bool {
    let name = name_of(host).trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return false;
    }
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || listed.iter().any(|l| l.eq_ignore_ascii_case(&name))
}

/// The name or address of a `Host` value, without its port and brackets.
fn name_of(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || is_port(port) => ip,
            _ => "",
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        _ => host,
    }
}

fn is_port(text: &str) -> bool {
    text.strip_prefix(':')
        .unwrap_or(text)
        .parse::<u16>()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_listed_names_only() {
        let listed = vec!["deckhand.internal".to_string()];
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.:8080",
            "app.localhost:1",
            "127.0.0.1:8080",
            "127.1.2.3",
            "[::1]:8080",
            "[::1]",
            "deckhand.internal:8080",
            "Deckhand.Internal",
        ] {
            assert!(allowed(ok, &listed), "{ok} refused");
        }
        for bad in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:8080",
            "[::2]:80",
            "[::1]x",
            "",
            ":8080",
            "deckhand.internal.evil",
        ] {
            assert!(!allowed(bad, &listed), "{bad} allowed");
        }
    }
}
