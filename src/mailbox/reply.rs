//! The reply: one YAML (or JSON) file an agent writes into its outbox.
//!
//! Parsing is strict about what matters and says exactly what is wrong: a reply that is not
//! YAML, is too large, lacks `task_id` or `status`, has an unknown status or an unknown field
//! is refused with a reason. The orchestrator then moves it into `rejected/` with a
//! `<name>.why.yaml` note beside it (see [`write_rejection_note`]) and journals the refusal.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::atomic::{self, Durability};

/// Version of the reply format this 3ox reads.
pub const REPLY_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplyStatus {
    Completed,
    Failed,
    FailedWithTerminalError,
    /// A heartbeat: the agent is still working.
    InProgress,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Format version; 1 when absent.
    #[serde(default = "default_version")]
    pub version: u32,
    pub task_id: String,
    pub status: ReplyStatus,
    /// The task's output: an object.
    #[serde(default = "empty_object")]
    pub output: Value,
    /// Why the task failed, or what it is doing (for IN_PROGRESS).
    #[serde(default)]
    pub reason: Option<String>,
    /// Optional: the run id, echoed from the message.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The attempt's token, echoed from the message; required for the reply to be applied.
    #[serde(default)]
    pub token: Option<String>,
    /// Optional free-form log lines from the agent.
    #[serde(default)]
    pub logs: Vec<String>,
}

fn default_version() -> u32 {
    REPLY_VERSION
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl Reply {
    /// Parses reply text; the error is the reason given to the sender.
    pub fn parse(text: &str) -> Result<Reply, String> {
        let value: Value = serde_yaml::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        if !value.is_object() {
            return Err("a reply must be a YAML mapping with task_id, status, output and reason".to_string());
        }
        for field in ["task_id", "status"] {
            if value.get(field).is_none() {
                return Err(format!("the reply has no `{field}` field; copy the `reply.form` section of the task message"));
            }
        }
        let reply: Reply = serde_json::from_value(value).map_err(|e| {
            let text = e.to_string();
            if text.contains("unknown variant") {
                format!("{text}; status must be COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS")
            } else {
                text
            }
        })?;
        if reply.version != REPLY_VERSION {
            return Err(format!("reply version {} is not supported; write version: {REPLY_VERSION}", reply.version));
        }
        if !reply.output.is_object() && !reply.output.is_null() {
            return Err("`output` must be a mapping (key: value pairs)".to_string());
        }
        Ok(reply)
    }

    /// Reads and parses a reply file.
    pub fn read(path: &Path) -> Result<Reply, String> {
        Reply::parse(&read_limited(path)?)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("a reply always serialises")
    }
}

/// Reads a mailbox file as text, refusing anything that is not a plain file or is larger than
/// [`super::MAX_FILE_BYTES`].
pub fn read_limited(path: &Path) -> Result<String, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    if !meta.file_type().is_file() {
        return Err("not a plain file (symlinks, FIFOs and folders are not read)".to_string());
    }
    if meta.len() > super::MAX_FILE_BYTES {
        return Err(format!("the file has {} bytes; the limit is {}", meta.len(), super::MAX_FILE_BYTES));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(super::MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read the file as UTF-8 text: {e}"))?;
    Ok(text)
}

/// The note written beside a refused file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectionNote {
    pub version: u32,
    /// The refused file's name.
    pub file: String,
    pub rejected_at: DateTime<Utc>,
    pub reason: String,
}

/// Moves a refused reply into `rejected/` and writes `<name>.why.yaml` beside it.
pub fn reject(path: &Path, reason: &str, now: DateTime<Utc>) -> std::io::Result<std::path::PathBuf> {
    let moved = super::move_into(path, super::REJECTED)?;
    let name = moved.file_name().and_then(|n| n.to_str()).unwrap_or("reply").to_string();
    write_rejection_note(&moved.with_file_name(format!("{name}.why.yaml")), &name, reason, now)?;
    Ok(moved)
}

/// Writes a rejection note at `note_path`.
pub fn write_rejection_note(note_path: &Path, file: &str, reason: &str, now: DateTime<Utc>) -> std::io::Result<()> {
    let note = RejectionNote { version: 1, file: file.to_string(), rejected_at: now, reason: reason.to_string() };
    let text = serde_yaml::to_string(&note).expect("a note always serialises");
    atomic::write(note_path, text.as_bytes(), Durability::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_reply_parses() {
        let r = Reply::parse("version: 1\ntask_id: T1\nstatus: COMPLETED\noutput: {n: 2}\n").unwrap();
        assert_eq!(r.status, ReplyStatus::Completed);
        assert_eq!(r.output["n"], 2);
    }

    #[test]
    fn bad_replies_say_why() {
        assert!(Reply::parse("task_id: [").unwrap_err().contains("not valid YAML"));
        assert!(Reply::parse("status: COMPLETED").unwrap_err().contains("`task_id`"));
        assert!(Reply::parse("task_id: a\nstatus: DONE").unwrap_err().contains("status must be"));
        assert!(Reply::parse("task_id: a\nstatus: FAILED\nreasn: x").unwrap_err().contains("reasn"));
        assert!(Reply::parse("- a\n- b").unwrap_err().contains("mapping"));
        assert!(Reply::parse("task_id: a\nstatus: COMPLETED\noutput: 3").unwrap_err().contains("output"));
    }
}
