//! The event message: one YAML file per event an EVENT task publishes.
//!
//! 3ox writes `<message_id>.event.yaml` into an agent's inbox (`sink: agent:<name>`) or a
//! station event folder `.3ox/events/<topic...>/` (`sink: conductor[:...]`, `3ox:<topic>`).
//! The message id is a ulid chosen when the event is journaled, so the name is the same when
//! a resumed run writes a missing file again, and a sorted listing is in order of
//! publication. Readers take a file, act on it, and move it into `done/` beside it (never
//! delete it: 3ox looks there before writing a missing event again). See `docs/protocol.md`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the event message format written by this 3ox.
pub const EVENT_VERSION: u32 = 1;
/// The `kind` of an event message file.
pub const EVENT_KIND: &str = "event";
/// The end of every event message's file name.
pub const EVENT_SUFFIX: &str = ".event.yaml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMessage {
    /// Format version; always 1 today.
    pub version: u32,
    /// Always `event`.
    pub kind: String,
    /// Unique id of this event (a ulid); also the file's name.
    pub message_id: String,
    /// The event name: `agent:<name>`, `conductor:<workflow>:<queue>` or `3ox:<topic>`.
    pub event: String,
    /// The task's `sink`, as written.
    pub sink: String,
    pub run_id: String,
    pub workflow: String,
    pub workflow_version: u32,
    /// The EVENT task's `taskReferenceName` and `name`.
    pub task_ref: String,
    pub task: String,
    pub published_at: DateTime<Utc>,
    /// The task's input after `${...}` mapping, plus `workflowInstanceId`, `workflowType` and
    /// `workflowVersion` (as Conductor adds them).
    pub payload: Value,
}

impl EventMessage {
    /// The file name an event is written under.
    pub fn file_name(message_id: &str) -> String {
        format!("{message_id}{EVENT_SUFFIX}")
    }

    /// True for the name of an event message file.
    pub fn is_event_file(path: &Path) -> bool {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(EVENT_SUFFIX))
    }

    pub fn to_yaml(&self) -> String {
        super::yaml::to_string(self).expect("an event message always serialises")
    }

    /// Reads an event file.
    pub fn read(path: &Path) -> Result<EventMessage, String> {
        EventMessage::parse(&super::reply::read_limited(path)?)
    }

    /// Parses event text; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<EventMessage, String> {
        super::yaml::check(text)?;
        let message: EventMessage =
            serde_yaml::from_str(text).map_err(|e| format!("not an event message: {e}"))?;
        if message.version != EVENT_VERSION || message.kind != EVENT_KIND {
            return Err(format!(
                "event message version {} kind `{}` is not supported (this 3ox writes version {EVENT_VERSION}, kind {EVENT_KIND})",
                message.version, message.kind
            ));
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_back_as_written() {
        let message = EventMessage {
            version: EVENT_VERSION,
            kind: EVENT_KIND.into(),
            message_id: "01J0000000000000000000000".into(),
            event: "3ox:alerts".into(),
            sink: "3ox:alerts".into(),
            run_id: "R".into(),
            workflow: "flow".into(),
            workflow_version: 1,
            task_ref: "ev".into(),
            task: "notify".into(),
            published_at: Utc::now(),
            payload: serde_json::json!({"text": "line\u{2028}break", "n": 1}),
        };
        assert_eq!(EventMessage::parse(&message.to_yaml()).unwrap(), message);
        assert!(EventMessage::is_event_file(Path::new(
            "x/01J0000000000000000000000.event.yaml"
        )));
    }
}
