//! The REST calls 3ox makes to a Conductor server, blocking, with `ureq`.
//!
//! Every call goes through [`Client::call`]: it adds the `X-Authorization` token (fetching one
//! at `/api/token` first for a key and secret, and once more when the server answers 401), and
//! tries again with doubling waits while the server cannot be reached or answers 5xx, saying
//! so on stderr each time. A 4xx answer is not tried again: it comes back as
//! [`CallError::Refused`] with the message the server gave (Conductor's error body is
//! `{"status", "message", ...}`).

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::auth::Auth;

/// The longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The server answered 4xx: the request itself is wrong or not allowed.
    #[error("{method} {url}: the server refused it ({status}): {message}")]
    Refused {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    /// The server could not be reached or kept failing, and the tries ran out.
    #[error("{method} {url}: {why} (gave up after {tries} tries)")]
    GaveUp {
        method: &'static str,
        url: String,
        why: String,
        tries: u32,
    },
}

/// How often and how patiently a call is tried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The first wait; it doubles each try up to [`MAX_BACKOFF`].
    pub first: Duration,
    /// `None`: try until it works (the worker, which must lose nothing).
    pub max_tries: Option<u32>,
}

/// A Conductor server.
pub struct Client {
    base: String,
    auth: Auth,
    token: Mutex<Option<String>>,
    agent: ureq::Agent,
    retry: Retry,
}

/// One try's outcome.
enum Try {
    Answer(u16, String),
    Again(String),
}

impl Client {
    /// A client of the server at `base` (`http://host:8080`; a trailing `/` or `/api` is
    /// dropped). `timeout` bounds each request, long polls included.
    pub fn new(base: &str, auth: Auth, timeout: Duration, retry: Retry) -> Client {
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/api").unwrap_or(base).to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("3ox/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let token = match &auth {
            Auth::Token(token) => Some(token.clone()),
            _ => None,
        };
        Client {
            base,
            auth,
            token: Mutex::new(token),
            agent,
            retry,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path` (with its query); the answer's JSON (`null` for an empty body).
    pub fn get(&self, path: &str) -> Result<Value, CallError> {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        self.call("POST", path, Some(body))
    }

    pub fn put(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        self.call("PUT", path, Some(body))
    }

    /// Makes the call, trying again as the module says.
    pub fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let url = format!("{}{path}", self.base);
        let mut tries = 0u32;
        let mut renewed = false;
        loop {
            tries += 1;
            let outcome = match self.token(method, &url) {
                Ok(token) => self.send(method, &url, body, token.as_deref()),
                Err(TokenError::Refused(e)) => return Err(e),
                Err(TokenError::Again(why)) => Try::Again(why),
            };
            let why = match outcome {
                Try::Answer(code, text) if (200..300).contains(&code) => {
                    return Ok(if text.trim().is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    });
                }
                Try::Answer(401, _) if matches!(self.auth, Auth::KeySecret { .. }) && !renewed => {
                    // The token may have expired: get a new one, once.
                    renewed = true;
                    *self.token.lock().expect("token lock") = None;
                    tries -= 1;
                    continue;
                }
                Try::Answer(code, text) if code < 500 => {
                    return Err(CallError::Refused {
                        method,
                        url,
                        status: code,
                        message: server_message(&text),
                    });
                }
                Try::Answer(code, text) => {
                    format!("the server answered {code}: {}", server_message(&text))
                }
                Try::Again(why) => why,
            };
            if self.retry.max_tries.is_some_and(|max| tries >= max) {
                return Err(CallError::GaveUp {
                    method,
                    url,
                    why,
                    tries,
                });
            }
            let wait = backoff(self.retry.first, tries);
            eprintln!(
                "conductor: {method} {url}: {why}; trying again in {}",
                humantime::format_duration(Duration::from_millis(wait.as_millis() as u64))
            );
            std::thread::sleep(wait);
        }
    }

    /// For a key and secret: gets a token now, trying again while the server cannot be
    /// reached (as [`Client::call`]), so that a refused key is said at once.
    pub fn authenticate(&self) -> Result<(), CallError> {
        let url = format!("{}/api/token", self.base);
        let mut tries = 0u32;
        loop {
            tries += 1;
            let why = match self.token("POST", &url) {
                Ok(_) => return Ok(()),
                Err(TokenError::Refused(e)) => return Err(e),
                Err(TokenError::Again(why)) => why,
            };
            if self.retry.max_tries.is_some_and(|max| tries >= max) {
                return Err(CallError::GaveUp {
                    method: "POST",
                    url,
                    why,
                    tries,
                });
            }
            let wait = backoff(self.retry.first, tries);
            eprintln!(
                "conductor: POST {url}: {why}; trying again in {}",
                humantime::format_duration(Duration::from_millis(wait.as_millis() as u64))
            );
            std::thread::sleep(wait);
        }
    }

    /// The token to send, fetching one for a key and secret when there is none yet.
    fn token(&self, method: &'static str, url: &str) -> Result<Option<String>, TokenError> {
        let Some(request) = self.auth.token_request() else {
            return Ok(self.token.lock().expect("token lock").clone());
        };
        if let Some(token) = self.token.lock().expect("token lock").clone() {
            return Ok(Some(token));
        }
        let token_url = format!("{}/api/token", self.base);
        match self.send("POST", &token_url, Some(&request), None) {
            Try::Answer(code, text) if (200..300).contains(&code) => {
                let token = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("token")?.as_str().map(str::to_string));
                match token {
                    Some(token) => {
                        *self.token.lock().expect("token lock") = Some(token.clone());
                        Ok(Some(token))
                    }
                    None => Err(TokenError::Refused(CallError::Refused {
                        method,
                        url: url.to_string(),
                        status: code,
                        message: format!("{token_url} answered without a `token`"),
                    })),
                }
            }
            Try::Answer(code, text) if code < 500 => Err(TokenError::Refused(CallError::Refused {
                method,
                url: url.to_string(),
                status: code,
                message: format!(
                    "the key and secret were not accepted at {token_url}: {}",
                    server_message(&text)
                ),
            })),
            Try::Answer(code, text) => Err(TokenError::Again(format!(
                "{token_url} answered {code}: {}",
                server_message(&text)
            ))),
            Try::Again(why) => Err(TokenError::Again(why)),
        }
    }

    fn send(&self, method: &str, url: &str, body: Option<&Value>, token: Option<&str>) -> Try {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json");
        let request = match token {
            Some(token) => request.header("X-Authorization", token),
            None => request,
        };
        let bytes = body
            .map(|b| serde_json::to_vec(b).expect("a JSON value always serialises"))
            .unwrap_or_default();
        let request = match request.body(bytes) {
            Ok(request) => request,
            Err(e) => return Try::Again(format!("cannot make the request: {e}")),
        };
        let mut response = match self.agent.run(request) {
            Ok(response) => response,
            Err(e) => return Try::Again(format!("cannot reach the server: {e}")),
        };
        let code = response.status().as_u16();
        match response
            .body_mut()
            .with_config()
            .limit(crate::mailbox::MAX_FILE_BYTES * 4)
            .read_to_string()
        {
            Ok(text) => Try::Answer(code, text),
            Err(e) => Try::Again(format!("cannot read the answer: {e}")),
        }
    }
}

enum TokenError {
    Refused(CallError),
    Again(String),
}

/// The wait before try `n + 1`: `first`, doubled each try, at most [`MAX_BACKOFF`].
pub fn backoff(first: Duration, n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
    first.saturating_mul(factor).min(MAX_BACKOFF)
}

/// The `message` of Conductor's error body, else the body itself (cut short).
fn server_message(text: &str) -> String {
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| text.trim().to_string());
    let mut message: String = message.chars().take(500).collect();
    if message.is_empty() {
        message = "(no message)".into();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let first = Duration::from_millis(100);
        assert_eq!(backoff(first, 1), first);
        assert_eq!(backoff(first, 3), Duration::from_millis(400));
        assert_eq!(backoff(first, 40), MAX_BACKOFF);
    }

    #[test]
    fn the_server_message_is_read_from_conductor_error_bodies() {
        assert_eq!(
            server_message(r#"{"status":401,"message":"Invalid token"}"#),
            "Invalid token"
        );
        assert_eq!(server_message("oops"), "oops");
        assert_eq!(server_message(""), "(no message)");
    }
}
