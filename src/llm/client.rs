//! The HTTP client: `POST {base_url}/chat/completions` with retries.
//!
//! One call is made with `ureq` (the client the HTTP task uses) on a blocking thread, bounded
//! by the agent's `timeout`. Between tries the client waits on the tokio clock, so stopping
//! the worker does not wait for a backoff to end. What happens to each answer:
//!
//! | the server | the client |
//! |---|---|
//! | 2xx with JSON | returns it |
//! | 429 or 5xx | tries again, up to `max_retries` more times, after `Retry-After` (seconds or an HTTP date, at most [`MAX_RETRY_AFTER`]) or else the backoff (`retry_backoff`, doubled each try, at most 30 s); then gives up, retryable |
//! | another 4xx | gives up at once, terminal, with the server's message |
//! | no answer in `timeout` | gives up at once, retryable (the task's retry policy decides) |
//! | cannot connect | tries again like a 429, then gives up, retryable |

use std::time::Duration;

use serde_json::Value;

use super::config::{LlmConfig, MAX_BACKOFF};
use super::request::quote;

/// The longest `Retry-After` the client waits for; a server asking for more fails the attempt
/// (retryable), leaving the wait to the task's retry policy.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The largest answer read from the server.
const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

/// Why a call gave up.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Another attempt may succeed (timeout, overload, server error).
    Retryable(String),
    /// The same request would fail again (a 4xx other than 429).
    Terminal(String),
}

/// The result of one HTTP try.
#[derive(Debug)]
enum Try {
    Answer(Value),
    /// 429, 5xx or a connection error: worth another try, after `wait` if the server said.
    Again {
        why: String,
        wait: Option<Duration>,
    },
    GiveUp(Failure),
}

/// A client for one agent's endpoint.
#[derive(Clone)]
pub struct Client {
    config: LlmConfig,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(config: LlmConfig) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("3ox/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { config, agent }
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// Sends `body`, trying again as the table above says; `log` gets one line per retry.
    pub async fn complete(&self, body: &Value, log: &mut Vec<String>) -> Result<Value, Failure> {
        let tries = self.config.max_retries.saturating_add(1);
        let mut last = String::new();
        for n in 1..=tries {
            let (agent, config, body) = (self.agent.clone(), self.config.clone(), body.clone());
            let outcome = tokio::task::spawn_blocking(move || send(&agent, &config, &body))
                .await
                .unwrap_or_else(|e| {
                    Try::GiveUp(Failure::Retryable(format!("the call panicked: {e}")))
                });
            let (why, wait) = match outcome {
                Try::Answer(answer) => return Ok(answer),
                Try::GiveUp(failure) => return Err(failure),
                Try::Again { why, wait } => (why, wait),
            };
            if n == tries {
                last = why;
                break;
            }
            let wait = match wait {
                Some(wait) if wait > MAX_RETRY_AFTER => {
                    return Err(Failure::Retryable(format!(
                        "{why}; the server asks to wait {}s (Retry-After), more than the {}s the agent waits within one attempt",
                        wait.as_secs(),
                        MAX_RETRY_AFTER.as_secs()
                    )));
                }
                Some(wait) => wait,
                None => backoff(self.config.retry_backoff, n),
            };
            let line = format!(
                "try {n} of {tries}: {why}; trying again in {}",
                humantime::format_duration(Duration::from_millis(wait.as_millis() as u64))
            );
            tracing::info!("{line}");
            log.push(line);
            tokio::time::sleep(wait).await;
        }
        Err(Failure::Retryable(format!(
            "{last} (gave up after {tries} tries)"
        )))
    }
}

/// The wait before try `n + 1`: `first`, doubled each try, at most [`MAX_BACKOFF`].
pub fn backoff(first: Duration, n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1));
    first.saturating_mul(factor).min(MAX_BACKOFF)
}

/// One try.
fn send(agent: &ureq::Agent, config: &LlmConfig, body: &Value) -> Try {
    let url = config.endpoint();
    let mut request = agent
        .post(&url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json");
    if let Some(key) = &config.api_key {
        request = request.header("Authorization", &format!("Bearer {key}"));
    }
    let bytes = serde_json::to_vec(body).expect("a JSON value always serialises");
    let mut response = match request.send(&bytes[..]) {
        Ok(response) => response,
        Err(ureq::Error::Timeout(_)) => {
            return Try::GiveUp(Failure::Retryable(format!(
                "{url} did not answer within the timeout of {}",
                humantime::format_duration(config.timeout)
            )));
        }
        Err(e) => {
            return Try::Again {
                why: format!("cannot reach {url}: {e}"),
                wait: None,
            };
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after);
    let text = match response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_string()
    {
        Ok(text) => text,
        Err(ureq::Error::Timeout(_)) => {
            return Try::GiveUp(Failure::Retryable(format!(
                "{url} did not finish its answer within the timeout of {}",
                humantime::format_duration(config.timeout)
            )));
        }
        Err(e) => {
            return Try::Again {
                why: format!("cannot read the answer of {url}: {e}"),
                wait: None,
            };
        }
    };
    let code = status.as_u16();
    let said = || {
        format!(
            "HTTP {code} {} from {url}: {}",
            status.canonical_reason().unwrap_or_default(),
            server_message(&text)
        )
    };
    match code {
        200..=299 => match serde_json::from_str::<Value>(&text) {
            Ok(answer) => Try::Answer(answer),
            Err(e) => Try::GiveUp(Failure::Retryable(format!(
                "the answer of {url} is not JSON ({e}): {}",
                quote(&text)
            ))),
        },
        429 | 500..=599 => Try::Again {
            why: said(),
            wait: retry_after,
        },
        _ => Try::GiveUp(Failure::Terminal(said())),
    }
}

/// What the server said in an error body: OpenAI's `{"error": {"message"}}`, llama.cpp's and
/// Ollama's `{"error": "..."}`, or the text itself.
fn server_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"))
            .and_then(Value::as_str)
    });
    match message {
        Some(message) => quote(message),
        None if text.trim().is_empty() => "(no message)".to_string(),
        None => quote(text.trim()),
    }
}

/// A `Retry-After` value: a number of seconds or an HTTP date.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let first = Duration::from_secs(1);
        let waits: Vec<u64> = (1..=7).map(|n| backoff(first, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = retry_after(&later).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        assert_eq!(retry_after("soon"), None);
        assert_eq!(retry_after("-1"), None);
    }

    #[test]
    fn server_messages_are_found_in_the_usual_shapes() {
        assert_eq!(
            server_message(r#"{"error": {"message": "model not found", "type": "x"}}"#),
            "model not found"
        );
        assert_eq!(server_message(r#"{"error": "bad grammar"}"#), "bad grammar");
        assert_eq!(server_message("plain words\n"), "plain words");
        assert_eq!(server_message(""), "(no message)");
    }
}
