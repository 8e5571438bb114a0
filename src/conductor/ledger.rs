//! The worker's durable record of the Conductor tasks it took and reported:
//! `.3ox/conductor/tasks/<task_id>.yaml`, one file per task, each written atomically and
//! durably ([`crate::mailbox::atomic`]). `task_id` is the local id the task message carries
//! (a ulid); the record maps it to Conductor's task id.
//!
//! ```yaml
//! version: 1
//! task_id: 01J...                 # the task message's id (its inbox file name)
//! conductor_task_id: 3b0e...      # Conductor's taskId
//! workflow_instance_id: 9f1c...
//! task_type: validate_folder
//! agent: inventory-checker
//! token: tk-...                   # the attempt's token, echoed by the reply
//! taken_at: 2026-12-03T12:00:00Z
//! state: taken                    # taken -> replied -> reported
//! result:                         # from `replied` on: what is (or was) sent
//!   status: COMPLETED
//!   outputData: {...}
//!   reasonForIncompletion: null
//!   logs: []
//! reported_at: 2026-12-03T12:00:05Z
//! ```
//!
//! The record of a task is written before its message is delivered, and its result before
//! the reply leaves the outbox, so a worker killed at any point finds on restart every task
//! it took: a `taken` one whose message is gone from the inbox is delivered again (same id
//! and token), a `replied` one is reported, a `reported` one is left alone.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mailbox::atomic::{self, Durability};
use crate::station::Station;

/// Version of the record format.
pub const LEDGER_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Taken from Conductor; its message is (or is about to be) in the agent's inbox.
    Taken,
    /// The agent's final reply was read; `result` is to be reported.
    Replied,
    /// Conductor accepted the result (or refused it for good: `note` says why).
    Reported,
}

/// What is reported to Conductor for a task (the fields of its TaskResult).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskOutcome {
    pub status: String,
    #[serde(default)]
    pub output_data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub task_id: String,
    pub conductor_task_id: String,
    pub workflow_instance_id: String,
    pub task_type: String,
    pub agent: String,
    pub token: String,
    pub taken_at: DateTime<Utc>,
    pub state: State,
    /// The task message as delivered, to deliver it again after a crash.
    pub message: crate::mailbox::message::TaskMessage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TaskOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<DateTime<Utc>>,
    /// Why Conductor would not take the result, when it refused it for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The folder of the records.
pub fn dir(station: &Station) -> PathBuf {
    station.runtime_dir().join("conductor").join("tasks")
}

impl Record {
    fn path(&self, station: &Station) -> PathBuf {
        dir(station).join(format!("{}.yaml", self.task_id))
    }

    /// Writes the record atomically and durably.
    pub fn save(&self, station: &Station) -> std::io::Result<()> {
        std::fs::create_dir_all(dir(station))?;
        let text = crate::mailbox::yaml::to_string(self).map_err(std::io::Error::other)?;
        atomic::write(&self.path(station), text.as_bytes(), Durability::Durable)
    }

    fn read(path: &Path) -> Result<Record, String> {
        let text = crate::mailbox::reply::read_limited(path)?;
        crate::mailbox::yaml::check(&text)?;
        let record: Record = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
        if record.version != LEDGER_VERSION {
            return Err(format!(
                "record version {} is not supported",
                record.version
            ));
        }
        Ok(record)
    }
}

/// Every record of the station; a file that does not read is reported on stderr and skipped.
pub fn load(station: &Station) -> Vec<Record> {
    let Ok(files) = crate::mailbox::list_mail(&dir(station)) else {
        return Vec::new();
    };
    files
        .iter()
        .filter_map(|path| match Record::read(path) {
            Ok(record) => Some(record),
            Err(e) => {
                eprintln!("conductor: skipping {}: {e}", path.display());
                None
            }
        })
        .collect()
}
