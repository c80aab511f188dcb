//! The dashboard at `/ui`: a page and its script and style, embedded in the
//! binary (no build step), that read and act through the `/v1` API like any
//! other client. Login with the API token sets the session cookie
//! (`session.rs`); with no token configured (loopback only) the page opens
//! at once.
//!
//! Routes: `GET /ui/` (the page), `GET /ui/<file>` (its modules and style),
//! `GET|POST /ui/login`, `POST /ui/logout`, `GET /ui/session` (the page's
//! CSRF token and when the session ends).

pub mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiState, guesses};
use crate::queue::now_ms;
use session::{COOKIE, Refused, SESSION_TTL, Session, cookie, refuse_cross_site};

const INDEX: &str = include_str!("index.html");
const LOGIN: &str = include_str!("login.html");
/// The page's script modules and style, by file name.
const ASSETS: &[(&str, &str)] = &[
    ("app.js", include_str!("app.js")),
    ("lib.js", include_str!("lib.js")),
    ("overview.js", include_str!("overview.js")),
    ("jobs.js", include_str!("jobs.js")),
    ("ops.js", include_str!("ops.js")),
    ("review.js", include_str!("review.js")),
    ("app.css", include_str!("app.css")),
];

/// Nothing but this origin's own files; no inline script; never framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/{file}", get(asset))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", axum::routing::post(logout))
        .route("/ui/session", get(session_info))
}

async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, body)) = ASSETS.iter().find(|(name, _)| *name == file) else {
        return page(StatusCode::NOT_FOUND, "<p>No such file.</p>".into());
    };
    let content_type = if file.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response()
}

/// An HTML page with the dashboard's security headers.
fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not no-referrer: with it a browser sends `Origin: null` on the
    // page's own form posts, which the cross-site check refuses.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The session the request's cookie opens, if any.
fn current(state: &ApiState, headers: &HeaderMap) -> Option<Result<Session, Refused>> {
    cookie(headers, COOKIE).map(|c| state.sessions.check(c, now_ms()))
}

/// The request's session, unless a logout ended it (`queue/sessions.rs`);
/// an ended one reads as none. Redis not answering ends nothing here: the
/// request goes on to whatever it needs of Redis, and fails there.
async fn live(state: &ApiState, headers: &HeaderMap) -> Option<Result<Session, Refused>> {
    match current(state, headers)? {
        Ok(s) if ended(state, &s).await => None,
        other => Some(other),
    }
}

async fn ended(state: &ApiState, session: &Session) -> bool {
    let queue = state.worker.queue();
    queue
        .session_ended(session::Sessions::nonce(session))
        .await
        .unwrap_or(false)
}

/// Refuses a request whose session cookie a logout ended (for the API's
/// authentication; a bearer token is not a session).
pub(super) async fn refuse_ended(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        return Ok(());
    }
    match current(state, headers) {
        Some(Ok(s)) if ended(state, &s).await => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session_ended",
            "this dashboard session was ended by a logout: log in again",
        )),
        _ => Ok(()),
    }
}

fn set_cookie(response: &mut Response, value: &str, max_age_secs: u64) {
    let cookie =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

async fn index(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    match live(&state, &headers).await {
        Some(Ok(_)) => page(StatusCode::OK, INDEX.to_string()),
        // No token: any page load gets a session (loopback only).
        _ if state.sessions.open() => {
            let mut response = page(StatusCode::OK, INDEX.to_string());
            set_cookie(
                &mut response,
                &state.sessions.issue(now_ms()),
                SESSION_TTL.as_secs(),
            );
            response
        }
        Some(Err(Refused::Expired)) => Redirect::to("/ui/login?expired=1").into_response(),
        _ => Redirect::to("/ui/login").into_response(),
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
}

fn login_form(status: StatusCode, message: &str) -> Response {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"message\" role=\"alert\">{}</p>",
            escape(message)
        )
    };
    page(status, LOGIN.replace("{{message}}", &message))
}

async fn login_page(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if state.sessions.open() {
        return Redirect::to("/ui/").into_response();
    }
    let expired = query.is_ok_and(|Query(q)| q.expired.is_some());
    let message = if expired {
        "Your session has expired. Log in again."
    } else {
        ""
    };
    login_form(StatusCode::OK, message)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    from: Option<guesses::Client>,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(e) = refuse_cross_site(&headers) {
        return e.into_response();
    }
    if state.sessions.open() {
        return Redirect::to("/ui/").into_response();
    }
    let addr = guesses::address(from);
    let now = now_ms();
    if let Err(held) = state.guesses.check(addr, now) {
        return held.answer(login_form(StatusCode::TOO_MANY_REQUESTS, &held.message()));
    }
    let Ok(Form(form)) = form else {
        return login_form(
            StatusCode::BAD_REQUEST,
            "Send the form with the token field.",
        );
    };
    if !state.sessions.token_matches(form.token.trim()) {
        state.guesses.wrong(addr, now);
        // A wrong guess costs the guesser a moment.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        return login_form(StatusCode::UNAUTHORIZED, "That is not the API token.");
    }
    state.guesses.right(addr, now);
    let mut response = Redirect::to("/ui/").into_response();
    set_cookie(
        &mut response,
        &state.sessions.issue(now_ms()),
        SESSION_TTL.as_secs(),
    );
    response
}

async fn logout(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    if let Err(e) = refuse_cross_site(&headers) {
        return e.into_response();
    }
    // The cookie is ended for every host, not only dropped by this browser.
    if let Some(Ok(s)) = current(&state, &headers) {
        let queue = state.worker.queue();
        let nonce = session::Sessions::nonce(&s);
        if let Err(e) = queue.end_session(nonce, s.expires_ms).await {
            tracing::warn!("logout: cannot record the session as ended ({e})");
            return ApiError::from(e).into_response();
        }
    }
    let mut response = Redirect::to("/ui/login").into_response();
    set_cookie(&mut response, "", 0);
    response
}

/// `GET /ui/session`: `{"csrf", "expires_ms", "open"}` for a valid session.
async fn session_info(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Response {
    match live(&state, &headers).await {
        Some(Ok(s)) => axum::Json(json!({
            "csrf": state.sessions.csrf(&s),
            "expires_ms": s.expires_ms,
            "open": state.sessions.open(),
        }))
        .into_response(),
        Some(Err(Refused::Expired)) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "the dashboard session has expired: log in again",
        )
        .into_response(),
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no dashboard session",
        )
        .into_response(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
