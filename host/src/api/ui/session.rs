//! Who may call the API: a bearer token, or a dashboard session.
//!
//! A session is a signed cookie, `v1.<expires ms>.<nonce>.<mac>`, HttpOnly
//! and SameSite=Strict, made by logging in with the API token (or, with no
//! token configured, given to any page load on loopback). The MAC is
//! HMAC-SHA256 under a key derived from the token, so every host sharing
//! the token accepts it and changing the token ends every session; with no
//! token the key is random per process. Nothing is stored.
//!
//! CSRF: a request that changes anything (any method but GET and HEAD)
//! made with the cookie must carry `X-CSRF-Token`, derived from the
//! session (`GET /ui/session` tells the page); and a request whose
//! `Origin` (or `Sec-Fetch-Site`) says another site sent it is refused
//! whatever it carries.

use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::ApiError;

/// The cookie's name.
pub const COOKIE: &str = "deckhand_session";
/// The header a changing request made with the cookie carries.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Why a cookie does not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not made here (or under another token): forged, or from before a
    /// token change.
    Invalid,
    Expired,
}

/// A checked session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub expires_ms: u64,
    nonce: String,
}

/// Makes and checks sessions; see the module's documentation.
pub struct Sessions {
    key: Vec<u8>,
    token: String,
}

type HmacSha256 = Hmac<Sha256>;

impl Sessions {
    /// Sessions for an API token (empty: no authentication).
    pub fn new(token: &str) -> Sessions {
        let key = if token.is_empty() {
            let random = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
            random.iter().flat_map(|u| *u.as_bytes()).collect()
        } else {
            mac(token.as_bytes(), b"deckhand dashboard sessions").to_vec()
        };
        Sessions {
            key,
            token: token.to_string(),
        }
    }

    /// Whether no token is configured (the dashboard opens without login).
    pub fn open(&self) -> bool {
        self.token.is_empty()
    }

    /// Whether `given` is the API token (compared in constant time).
    pub fn token_matches(&self, given: &str) -> bool {
        !self.token.is_empty() && constant_time_eq(given.as_bytes(), self.token.as_bytes())
    }

    /// A new session's cookie value, valid from `now_ms` for [`SESSION_TTL`].
    pub fn issue(&self, now_ms: u64) -> String {
        let expires = now_ms + SESSION_TTL.as_millis() as u64;
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let body = format!("v1.{expires}.{nonce}");
        format!("{body}.{}", hex::encode(mac(&self.key, body.as_bytes())))
    }

    /// The session a cookie value opens at `now_ms`.
    pub fn check(&self, value: &str, now_ms: u64) -> Result<Session, Refused> {
        let (body, given) = value.rsplit_once('.').ok_or(Refused::Invalid)?;
        let given = hex::decode(given).map_err(|_| Refused::Invalid)?;
        let mut m = HmacSha256::new_from_slice(&self.key).map_err(|_| Refused::Invalid)?;
        m.update(body.as_bytes());
        m.verify_slice(&given).map_err(|_| Refused::Invalid)?;
        let mut parts = body.split('.');
        let (Some("v1"), Some(expires), Some(nonce), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Refused::Invalid);
        };
        let expires_ms: u64 = expires.parse().map_err(|_| Refused::Invalid)?;
        if expires_ms <= now_ms {
            return Err(Refused::Expired);
        }
        Ok(Session {
            expires_ms,
            nonce: nonce.to_string(),
        })
    }

    /// The session's nonce: what a logout records as ended.
    pub fn nonce(session: &Session) -> &str {
        &session.nonce
    }

    /// The CSRF token of a session.
    pub fn csrf(&self, session: &Session) -> String {
        let m = mac(&self.key, format!("csrf.{}", session.nonce).as_bytes());
        hex::encode(&m[..16])
    }

    /// Whether a request may go on: see the module's documentation.
    pub fn admit(&self, headers: &HeaderMap, method: &Method, now_ms: u64) -> Result<(), ApiError> {
        let changes = !matches!(*method, Method::GET | Method::HEAD);
        if changes {
            refuse_cross_site(headers)?;
        }
        if let Some(given) =
            header_str(headers, header::AUTHORIZATION.as_str()).and_then(bearer_token)
        {
            if self.open() || self.token_matches(given) {
                return Ok(());
            }
            return Err(unauthorized());
        }
        match cookie(headers, COOKIE).map(|c| self.check(c, now_ms)) {
            Some(Ok(session)) => {
                let csrf = header_str(headers, CSRF_HEADER);
                if changes
                    && !csrf.is_some_and(|c| {
                        constant_time_eq(c.as_bytes(), self.csrf(&session).as_bytes())
                    })
                {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        "missing or wrong X-CSRF-Token: reload the dashboard",
                    ));
                }
                Ok(())
            }
            Some(Err(Refused::Expired)) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "the dashboard session has expired: log in again",
            )),
            _ if self.open() => Ok(()),
            _ => Err(unauthorized()),
        }
    }
}

fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong bearer token (Authorization: Bearer <token>)",
    )
}

/// Refuses a request a browser says another site sent.
pub fn refuse_cross_site(headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = |why: String| {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            format!("cross-site request refused: {why}"),
        ))
    };
    if header_str(headers, "sec-fetch-site") == Some("cross-site") {
        return refused("Sec-Fetch-Site is cross-site".into());
    }
    if let Some(origin) = header_str(headers, header::ORIGIN.as_str()) {
        let host = header_str(headers, header::HOST.as_str()).unwrap_or("");
        let origin_host = origin
            .split_once("://")
            .map_or("", |(_, rest)| rest.trim_end_matches('/'));
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return refused(format!("Origin {origin:?} is not this host ({host:?})"));
        }
    }
    Ok(())
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// matched without regard to case (RFC 9110, 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length, so this cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(message);
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_checked_signed_and_timed() {
        let s = Sessions::new("secret");
        let cookie = s.issue(1_000);
        let session = s.check(&cookie, 2_000).expect("valid");
        assert_eq!(session.expires_ms, 1_000 + SESSION_TTL.as_millis() as u64);
        assert_eq!(s.check(&cookie, session.expires_ms), Err(Refused::Expired));
        // Another token's sessions, and any edit, are refused.
        assert_eq!(
            Sessions::new("other").check(&cookie, 2_000),
            Err(Refused::Invalid)
        );
        let later = cookie.replacen(&session.expires_ms.to_string(), "99999999999999", 1);
        assert_eq!(s.check(&later, 2_000), Err(Refused::Invalid));
        assert_eq!(s.check("v1.1.2", 0), Err(Refused::Invalid));
        assert_eq!(s.check("", 0), Err(Refused::Invalid));
        // The CSRF token is the session's own.
        let other = s.check(&s.issue(1_000), 2_000).expect("valid");
        assert_ne!(s.csrf(&session), s.csrf(&other));
    }

    #[test]
    fn changing_requests_need_the_csrf_token_and_this_origin() {
        let s = Sessions::new("secret");
        let value = s.issue(0);
        let session = s.check(&value, 0).expect("valid");
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        h.insert(
            header::COOKIE,
            format!("a=b; {COOKIE}={value}").parse().unwrap(),
        );
        assert!(s.admit(&h, &Method::GET, 1).is_ok());
        let err = s.admit(&h, &Method::POST, 1).unwrap_err();
        assert_eq!(err.code, "csrf");
        h.insert(CSRF_HEADER, s.csrf(&session).parse().unwrap());
        assert!(s.admit(&h, &Method::POST, 1).is_ok());
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert_eq!(
            s.admit(&h, &Method::POST, 1).unwrap_err().code,
            "cross_origin"
        );
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(s.admit(&h, &Method::POST, 1).is_ok());
        // Without the cookie and a token configured: the bearer token or nothing.
        let mut bare = HeaderMap::new();
        assert_eq!(
            s.admit(&bare, &Method::GET, 1).unwrap_err().code,
            "unauthorized"
        );
        bare.insert(header::AUTHORIZATION, "bearer secret".parse().unwrap());
        assert!(s.admit(&bare, &Method::POST, 1).is_ok());
        // With no token, calls without a cookie pass (loopback only).
        assert!(
            Sessions::new("")
                .admit(&HeaderMap::new(), &Method::POST, 1)
                .is_ok()
        );
    }
}
