//! The task message: one YAML file per attempt, written by 3ox into an agent's inbox.
//!
//! The file is named `<task_id>.task.yaml`; task ids are ulids, so a sorted listing of an
//! inbox is in order of delivery. The message carries everything the agent needs, including
//! how to reply, so an agent needs no SDK. See `docs/protocol.md`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the task message format written by this 3ox.
pub const MESSAGE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    /// Format version; always 1 today.
    pub version: u32,
    /// Unique id of this attempt; the reply must carry it.
    pub task_id: String,
    /// The run the task belongs to.
    pub run_id: String,
    /// The workflow's name.
    pub workflow: String,
    /// The task's `name` (what the agent is asked to do; agents declare names as capabilities).
    pub task: String,
    /// The task's `taskReferenceName` inside the workflow.
    pub task_ref: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// A secret of this attempt: the reply must echo it (it is in `reply.form`).
    pub token: String,
    /// The agent the message was delivered to.
    pub agent: String,
    pub created_at: DateTime<Utc>,
    /// The task's input, after `${...}` mapping.
    pub input: Value,
    /// The task's Conductor type, for a system type an agent serves (`LLM_CHAT_COMPLETE`,
    /// ...); absent for SIMPLE tasks.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// How to reply.
    pub reply: ReplyInstructions,
}

/// The short section that tells an agent where and how to reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyInstructions {
    /// The outbox to reply into, relative to the station root.
    pub folder: String,
    /// A good name for the final reply file (any unique visible `.yaml` name works).
    pub file: String,
    /// The steps, in words.
    pub how: String,
    /// A reply of the expected form, to fill in.
    pub form: Value,
}

impl TaskMessage {
    /// The file name a message is delivered under.
    pub fn file_name(task_id: &str) -> String {
        format!("{task_id}.task.yaml")
    }

    /// Builds the reply section for a task of run `run_id` with its attempt `token`, to be
    /// answered in `outbox_rel`.
    pub fn reply_instructions(
        task_id: &str,
        run_id: &str,
        token: &str,
        outbox_rel: &str,
    ) -> ReplyInstructions {
        ReplyInstructions {
            folder: outbox_rel.to_string(),
            file: format!("{task_id}.reply.yaml"),
            how: "Write a YAML file of this form under a name starting with '.', then rename it to the \
                  name in `file` (or any unique name ending in .yaml) in `folder`. status is COMPLETED, \
                  FAILED (will be retried if the task allows), FAILED_WITH_TERMINAL_ERROR (never retried) \
                  or IN_PROGRESS (a heartbeat while working; send the final reply later under another name)."
                .to_string(),
            form: serde_json::json!({
                "version": super::reply::REPLY_VERSION,
                "task_id": task_id,
                "run_id": run_id,
                "token": token,
                "status": "COMPLETED",
                "output": {},
                "reason": "",
            }),
        }
    }

    /// Reads a message file.
    pub fn read(path: &Path) -> Result<TaskMessage, String> {
        TaskMessage::parse(&super::reply::read_limited(path)?)
    }

    /// Parses message text; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<TaskMessage, String> {
        super::yaml::check(text)?;
        let message: TaskMessage =
            serde_yaml::from_str(text).map_err(|e| format!("not a task message: {e}"))?;
        if message.version != MESSAGE_VERSION {
            return Err(format!(
                "task message version {} is not supported (this 3ox writes {MESSAGE_VERSION})",
                message.version
            ));
        }
        Ok(message)
    }

    pub fn to_yaml(&self) -> String {
        super::yaml::to_string(self).expect("a task message always serialises")
    }
}

/// Who a message that cannot be read whole is for: its `task_id`, `run_id` and `token`, read
/// from the top-level fields before `input:` (3ox writes them first) in the file's first
/// [`HEADER_BYTES`]. A worker that refuses a message answers with a FAILED reply carrying
/// these, so that the attempt fails (and is retried by its policy) instead of waiting forever.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageHeader {
    pub task_id: String,
    pub run_id: Option<String>,
    pub token: String,
}

/// How much of a refused message [`MessageHeader::read`] looks at.
pub const HEADER_BYTES: u64 = 64 * 1024;

impl MessageHeader {
    /// The header of the plain file at `path`, or `None` when it has no task id and token.
    pub fn read(path: &Path) -> Option<MessageHeader> {
        use std::io::Read as _;
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .ok()?
            .take(HEADER_BYTES)
            .read_to_end(&mut bytes)
            .ok()?;
        MessageHeader::parse(&String::from_utf8_lossy(&bytes))
    }

    /// The header of message text (possibly cut short).
    pub fn parse(text: &str) -> Option<MessageHeader> {
        let mut head = String::new();
        for line in text.lines() {
            if line.starts_with("input:") || line.starts_with("reply:") {
                break;
            }
            // Only top-level `key: value` lines: a cut or odd file may hold anything else.
            if line.starts_with(|c: char| c.is_ascii_alphabetic()) && line.contains(": ") {
                head.push_str(line);
                head.push('\n');
            }
        }
        let value: Value = serde_yaml::from_str(&head).ok()?;
        let field = |name: &str| value.get(name)?.as_str().map(str::to_string);
        let task_id = field("task_id")?;
        super::name_problem(&task_id).is_none().then_some(())?;
        Some(MessageHeader {
            task_id,
            run_id: field("run_id"),
            token: field("token")?,
        })
    }
}
