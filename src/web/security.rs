//! The dashboard's guard: every request passes [`guard`] before any page sees it.
//!
//! The dashboard can approve HUMAN tasks and terminate runs, so a page elsewhere on the web
//! (or on the same machine) must not be able to drive it:
//!
//! 1. **Host.** The `Host` header must be one of the names the server was bound as
//!    (`127.0.0.1:PORT`, `localhost:PORT`, ...), else 403: a DNS-rebinding page reaches the
//!    port under its own name, and is refused.
//! 2. **Origin.** A request that changes something (any method but GET and HEAD) whose
//!    `Origin` is not ours, or that the browser marks `Sec-Fetch-Site: cross-site`, is
//!    refused (403).
//! 3. **Token and cookie.** `3ox serve` prints a URL with a random token. A request carrying
//!    `?token=` with that token gets the session cookie (`HttpOnly`, `SameSite=Strict`) and a
//!    redirect to the same address without the token (so it leaves the address bar and the
//!    history). Every other request needs the cookie (401 without). Only the stylesheet and
//!    the script are served without it.
//! 4. **CSRF.** A POST's form must carry the CSRF token (a second random value, written into
//!    every form the pages render) besides the cookie; compared in constant time.
//! 5. **Headers.** Every response says `Content-Security-Policy: default-src 'self'` (and
//!    no framing, no referrer to other sites, no MIME sniffing, no caching). The referrer
//!    policy is `same-origin`, not `no-referrer`: under `no-referrer` Chromium sends
//!    `Origin: null` with the dashboard's own forms, which the Origin rule must refuse.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::App;

/// The session cookie's name.
pub const COOKIE: &str = "threeox_session";

/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The largest form body read (a comment, a reason).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What every response carries.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The dashboard's secrets, made at start.
pub struct Secrets {
    token: String,
    session: String,
    csrf: String,
    allowed_hosts: Vec<String>,
}

/// A random value of 32 bytes, as URL-safe text.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl Secrets {
    pub fn new(token: String, allowed_hosts: Vec<String>) -> Secrets {
        Secrets {
            token,
            session: random_token(),
            csrf: random_token(),
            allowed_hosts: allowed_hosts
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        }
    }

    /// The CSRF token the pages write into their forms.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.allowed_hosts.contains(&host)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        origin
            .strip_prefix("http://")
            .is_some_and(|host| self.host_allowed(host))
    }

    fn has_session(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && same(value, &self.session))
    }
}

/// A refusal: plain text, so it shows the same to a browser and to `curl`.
fn refuse(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

/// The token in a query string, and the query string without it.
fn split_token(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("token=") {
            Some(value) => {
                token = Some(value.to_string());
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    (token, rest.join("&"))
}

/// The guard (see the module doc); adds the security headers to every response.
pub async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut response = check(&app, request, next).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn check(app: &App, request: Request, next: Next) -> Response {
    let secrets = &app.security;
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !secrets.host_allowed(host) {
        tracing::warn!(host, "refused a request for another host name");
        return refuse(
            StatusCode::FORBIDDEN,
            "this dashboard answers only to the address 3ox serve printed (wrong Host)",
        );
    }
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        let cross_site = request
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"cross-site");
        if cross_site || origin.is_some_and(|o| !secrets.origin_allowed(o)) {
            tracing::warn!(?origin, "refused a request from another origin");
            return refuse(
                StatusCode::FORBIDDEN,
                "refused: the request comes from another site (wrong Origin)",
            );
        }
    }
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    if let (Some(token), rest) = split_token(&query) {
        if !same(&token, &secrets.token) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "that token is not this dashboard's; open the address 3ox serve printed",
            );
        }
        let location = if rest.is_empty() {
            path
        } else {
            format!("{path}?{rest}")
        };
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            secrets.session
        );
        return Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, location)
            .header(header::SET_COOKIE, cookie)
            .body(Body::empty())
            .expect("a redirect is a valid response");
    }
    if path.starts_with("/static/") && !changes {
        return next.run(request).await;
    }
    if !secrets.has_session(request.headers()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "not signed in: open the address with ?token=... that 3ox serve printed",
        );
    }
    if !changes {
        return next.run(request).await;
    }
    // A change: its form must carry the CSRF token. The body is read here and handed on.
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large");
    };
    let csrf_ok = form_field(&bytes, CSRF_FIELD).is_some_and(|t| same(&t, secrets.csrf()));
    if !csrf_ok {
        tracing::warn!(path = %parts.uri.path(), "refused a form without the CSRF token");
        return refuse(
            StatusCode::FORBIDDEN,
            "refused: the form does not carry this dashboard's CSRF token; reload the page and try again",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    fields.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_leaves_the_query_and_the_rest_stays() {
        assert_eq!(
            split_token("token=abc&page=2"),
            (Some("abc".to_string()), "page=2".to_string())
        );
        assert_eq!(split_token("page=2"), (None, "page=2".to_string()));
        assert_eq!(
            split_token("token=x"),
            (Some("x".to_string()), String::new())
        );
    }

    #[test]
    fn hosts_and_origins_must_be_ours_exactly() {
        let s = Secrets::new(
            "t".into(),
            vec!["127.0.0.1:7300".into(), "localhost:7300".into()],
        );
        assert!(s.host_allowed("127.0.0.1:7300"));
        assert!(s.host_allowed("LOCALHOST:7300"));
        assert!(!s.host_allowed("127.0.0.1:7301"));
        assert!(!s.host_allowed("evil.example:7300"));
        assert!(!s.host_allowed(""));
        assert!(s.origin_allowed("http://127.0.0.1:7300"));
        assert!(!s.origin_allowed("https://127.0.0.1:7300"));
        assert!(!s.origin_allowed("http://evil.example"));
        assert!(!s.origin_allowed("null"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let s = Secrets::new("t".into(), vec![]);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE}={}", s.session)).unwrap(),
        );
        assert!(s.has_session(&headers));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE}=wrong")).unwrap(),
        );
        assert!(!s.has_session(&headers));
    }
}
