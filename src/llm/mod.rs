//! The LLM agent that ships with 3ox: serves Conductor's `LLM_CHAT_COMPLETE` and
//! `LLM_TEXT_COMPLETE` by calling an OpenAI-compatible chat completions endpoint (OpenAI,
//! llama.cpp's `llama-server`, Ollama, vLLM, ...).
//!
//! An agent whose agent.yaml has an `llm:` section ([`config`]) is served by
//! `3ox agent run <name>` in-process, instead of by a command: the [`crate::worker`] claims
//! each task message as for any agent and hands it to [`LlmAgent`], which maps the task's
//! Conductor input to a request ([`request`]), sends it with retries ([`client`]) and turns
//! the answer into Conductor's output (`result`, `finishReason`, token counts). How the call
//! ended becomes the reply's status:
//!
//! | what happened | reply |
//! |---|---|
//! | an answer | `COMPLETED` with Conductor's output |
//! | a mistake in the task input (no messages, a bad field, no model) | `FAILED_WITH_TERMINAL_ERROR` |
//! | a 4xx other than 429 (bad request, unknown model, bad key) | `FAILED_WITH_TERMINAL_ERROR` with the server's message |
//! | 429 / 5xx / connection errors after the agent's own retries, a timeout, an answer that is not what `jsonOutput` asked for | `FAILED` (the task's retry policy decides) |
//!
//! Retries the agent makes within one attempt, and their waits, are in the reply's `logs`.

pub mod client;
pub mod config;
pub mod request;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::mailbox::message::TaskMessage;
use crate::mailbox::reply::ReplyStatus;
use crate::worker::{Served, TaskHandler};

pub use config::{LlmConfig, LlmSettings};

/// Serves LLM task messages with one endpoint.
pub struct LlmAgent {
    client: client::Client,
}

impl LlmAgent {
    pub fn new(config: LlmConfig) -> LlmAgent {
        LlmAgent {
            client: client::Client::new(config),
        }
    }

    pub fn config(&self) -> &LlmConfig {
        self.client.config()
    }

    /// Serves one task message.
    pub async fn serve_message(&self, message: &TaskMessage) -> Served {
        let terminal = |reason: String| Served {
            status: ReplyStatus::FailedWithTerminalError,
            output: Value::Object(Default::default()),
            reason: Some(reason),
            logs: vec![],
        };
        let kind = match request::TaskKind::of(message.task_type.as_deref()) {
            Ok(kind) => kind,
            Err(reason) => return terminal(reason),
        };
        let prepared = match request::prepare(kind, &message.input, self.config()) {
            Ok(prepared) => prepared,
            Err(reason) => return terminal(reason),
        };
        let mut logs = Vec::new();
        let answer = self.client.complete(&prepared.body, &mut logs).await;
        let (status, output, reason) = match answer {
            Ok(answer) => match request::output(&answer, prepared.json_output) {
                Ok(output) => (ReplyStatus::Completed, output, None),
                Err(reason) => (
                    ReplyStatus::Failed,
                    Value::Object(Default::default()),
                    Some(reason),
                ),
            },
            Err(client::Failure::Retryable(reason)) => (
                ReplyStatus::Failed,
                Value::Object(Default::default()),
                Some(reason),
            ),
            Err(client::Failure::Terminal(reason)) => (
                ReplyStatus::FailedWithTerminalError,
                Value::Object(Default::default()),
                Some(reason),
            ),
        };
        Served {
            status,
            output,
            reason,
            logs,
        }
    }
}

impl TaskHandler for LlmAgent {
    fn describe(&self) -> String {
        let model = self.config().model.as_deref().unwrap_or("no model set");
        format!("the LLM endpoint {} ({model})", self.config().endpoint())
    }

    fn serve<'a>(
        &'a self,
        message: &'a TaskMessage,
    ) -> Pin<Box<dyn Future<Output = Served> + Send + 'a>> {
        Box::pin(self.serve_message(message))
    }
}
