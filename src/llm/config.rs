//! The `llm:` section of an agent.yaml, and what it resolves to when the agent starts.
//!
//! ```yaml
//! llm:
//!   base_url: http://127.0.0.1:8080/v1     # an OpenAI-compatible API root
//!   base_url_env: THREEOX_LLM_BASE_URL     # optional: a variable that overrides base_url
//!   model: llama3.2                        # optional default model
//!   model_env: THREEOX_LLM_MODEL           # optional: a variable that overrides model
//!   api_key_env: THREEOX_LLM_API_KEY       # optional: sent as `Authorization: Bearer <key>`
//!   timeout: 120s                          # per HTTP call
//!   max_retries: 3                         # extra tries on 429, 5xx and connection errors
//!   retry_backoff: 1s                      # first wait between tries; doubles, at most 30 s
//!   use_task_model: false                  # true: a task's `model` input wins over the above
//!   prompts: agents/llm/prompts            # where `promptName` templates are looked up
//! ```
//!
//! [`LlmSettings`] is the section as written (checked when the agent.yaml is read);
//! [`LlmConfig`] is the same with the environment read and durations parsed, made once when
//! `3ox agent run` starts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The default API root: llama.cpp's `llama-server` on its default port.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080/v1";
/// The default timeout of one HTTP call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The default number of extra tries after a 429, a 5xx or a connection error.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The default first wait between tries.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// The `llm:` section of an agent.yaml, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSettings {
    /// The API root; `{base_url}/chat/completions` is called.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A variable that, when set and not empty, replaces `base_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url_env: Option<String>,
    /// The model asked for, unless `model_env` names a variable that is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A variable that, when set and not empty, replaces `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_env: Option<String>,
    /// A variable holding the API key; no `Authorization` header when absent or unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// How long one HTTP call may take (`120s`, `2m`, or a number of seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// Extra tries after a 429, a 5xx or a connection error, within one attempt.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// The first wait between tries (doubled each time, at most [`MAX_BACKOFF`]); a
    /// `Retry-After` header from the server wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff: Option<DurationText>,
    /// When true, a task's `model` input is used instead of the agent's model. Off by default:
    /// Conductor workflows name hosted models (`gpt-4o-mini`) that a local server lacks.
    #[serde(default)]
    pub use_task_model: bool,
    /// The folder of prompt templates for `promptName`, relative to the station root
    /// (default `agents/<agent>/prompts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<String>,
}

/// The longest wait between tries that the backoff reaches.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A duration as written in YAML: `500ms`, `2m`, or a number of seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DurationText {
    Seconds(f64),
    Text(String),
}

impl DurationText {
    pub fn parse(&self) -> Result<Duration, String> {
        match self {
            DurationText::Seconds(s) if s.is_finite() && *s >= 0.0 => {
                Ok(Duration::from_secs_f64(*s))
            }
            DurationText::Seconds(s) => Err(format!("{s} is not a duration")),
            DurationText::Text(text) => humantime::parse_duration(text.trim())
                .map_err(|e| format!("`{text}` is not a duration ({e}); write 30s, 2m or 500ms")),
        }
    }
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_string()
}

fn default_max_retries() -> u32 {
    DEFAULT_MAX_RETRIES
}

impl LlmSettings {
    /// Checks what can be checked without the environment: durations, the URL's scheme.
    pub fn check(&self) -> Result<(), String> {
        check_url(&self.base_url).map_err(|e| format!("llm.base_url: {e}"))?;
        if let Some(timeout) = &self.timeout {
            let timeout = timeout.parse().map_err(|e| format!("llm.timeout: {e}"))?;
            if timeout.is_zero() {
                return Err("llm.timeout must be more than 0".into());
            }
        }
        if let Some(backoff) = &self.retry_backoff {
            backoff
                .parse()
                .map_err(|e| format!("llm.retry_backoff: {e}"))?;
        }
        for (field, name) in [
            ("base_url_env", &self.base_url_env),
            ("model_env", &self.model_env),
            ("api_key_env", &self.api_key_env),
        ] {
            if name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(format!(
                    "llm.{field} is empty; name a variable or leave it out"
                ));
            }
        }
        Ok(())
    }

    /// The settings with the environment read (through `var`, so tests need not set any).
    pub fn resolve(
        &self,
        agent: &str,
        station_root: &Path,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<LlmConfig, String> {
        self.check()?;
        let from_env = |name: &Option<String>| {
            name.as_deref()
                .and_then(&var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let base_url = from_env(&self.base_url_env).unwrap_or_else(|| self.base_url.clone());
        check_url(&base_url).map_err(|e| {
            format!(
                "the base URL from {}: {e}",
                self.base_url_env.as_deref().unwrap_or("llm.base_url")
            )
        })?;
        let model = from_env(&self.model_env).or_else(|| {
            self.model
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(String::from)
        });
        let prompts = self
            .prompts
            .as_deref()
            .map_or_else(|| format!("agents/{agent}/prompts"), String::from);
        Ok(LlmConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            model,
            model_hint: match &self.model_env {
                Some(name) => format!("set {name} or `model:` in the agent's llm section"),
                None => "set `model:` (or `model_env:`) in the agent's llm section".into(),
            },
            api_key: from_env(&self.api_key_env),
            timeout: self
                .timeout
                .as_ref()
                .map_or(Ok(DEFAULT_TIMEOUT), DurationText::parse)?,
            max_retries: self.max_retries,
            retry_backoff: self
                .retry_backoff
                .as_ref()
                .map_or(Ok(DEFAULT_RETRY_BACKOFF), DurationText::parse)?,
            use_task_model: self.use_task_model,
            prompts_dir: station_root.join(prompts),
        })
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("`{url}` is not an http:// or https:// URL"))
    }
}

/// The LLM agent's settings, resolved. Its `Debug` form leaves the API key out.
#[derive(Clone, PartialEq)]
pub struct LlmConfig {
    /// The API root without a trailing `/`.
    pub base_url: String,
    /// The model; `None` when neither the variable nor `model:` gives one (tasks then fail,
    /// saying so, unless `use_task_model` lets them name one).
    pub model: Option<String>,
    /// How to give a model, for the message of a task that has none.
    pub model_hint: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub use_task_model: bool,
    /// Where `promptName` templates are read (absolute, or relative to the working folder).
    pub prompts_dir: PathBuf,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("use_task_model", &self.use_task_model)
            .field("prompts_dir", &self.prompts_dir)
            .finish_non_exhaustive()
    }
}

impl LlmConfig {
    /// The chat completions endpoint.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> LlmSettings {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn the_environment_overrides_the_written_values() {
        let s = settings(
            "base_url: http://a:1/v1/\nbase_url_env: B\nmodel: m1\nmodel_env: M\napi_key_env: K\ntimeout: 2s\nretry_backoff: 10\n",
        );
        let none = s.resolve("llm", Path::new("/st"), |_| None).unwrap();
        assert_eq!(none.base_url, "http://a:1/v1");
        assert_eq!(none.endpoint(), "http://a:1/v1/chat/completions");
        assert_eq!(none.model.as_deref(), Some("m1"));
        assert_eq!(none.api_key, None);
        assert_eq!(none.timeout, Duration::from_secs(2));
        assert_eq!(none.retry_backoff, Duration::from_secs(10));
        assert_eq!(none.prompts_dir, Path::new("/st/agents/llm/prompts"));
        let env = |name: &str| {
            Some(match name {
                "B" => "https://b/v1".to_string(),
                "M" => "m2".to_string(),
                "K" => "sk-1".to_string(),
                _ => return None,
            })
        };
        let set = s.resolve("llm", Path::new("/st"), env).unwrap();
        assert_eq!(
            (
                set.base_url.as_str(),
                set.model.as_deref(),
                set.api_key.as_deref()
            ),
            ("https://b/v1", Some("m2"), Some("sk-1"))
        );
    }

    #[test]
    fn defaults_and_mistakes() {
        let s = settings("{}");
        let c = s.resolve("x", Path::new("."), |_| None).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!((c.model, c.max_retries), (None, 3));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(
            settings("base_url: ftp://x")
                .check()
                .unwrap_err()
                .contains("base_url")
        );
        assert!(
            settings("timeout: soon")
                .check()
                .unwrap_err()
                .contains("llm.timeout")
        );
        assert!(settings("timeout: 0").check().is_err());
        assert!(serde_yaml::from_str::<LlmSettings>("modle: x").is_err());
    }
}
