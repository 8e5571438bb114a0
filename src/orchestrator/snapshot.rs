//! `.3ox/workflow.state.yaml`: a readable snapshot of the station's runs.
//!
//! The snapshot is derived data: every journal holds the truth and the snapshot can be
//! rebuilt from them at any time ([`rebuild`]). Writers take `.3ox/state.lock`, read the
//! current file, replace their run's entry and write it back atomically, so several
//! orchestrators can share one station.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{Failure, RunState, RunStatus, TaskStatus};
use crate::journal::{self, Journal};
use crate::mailbox::atomic::{self, Durability};
use crate::station::Station;

pub const SNAPSHOT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub updated_at: DateTime<Utc>,
    pub runs: BTreeMap<String, RunSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub workflow: String,
    pub status: RunStatus,
    pub source: String,
    pub journal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub tasks: BTreeMap<String, TaskSummary>,
    /// The `seq` of the journal's last record when this summary was taken (0: not known, in
    /// snapshots written before 3ox kept it). A journal that ends below it lost its tail.
    #[serde(default)]
    pub last_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub status: TaskStatus,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl RunSummary {
    pub fn of(state: &RunState, station: &Station) -> RunSummary {
        RunSummary {
            workflow: state.workflow.name.clone(),
            status: state.status,
            source: state.source.clone(),
            journal: station.relative(&Journal::path_for(&station.runs_dir(), &state.run_id)),
            started_at: state.started_at,
            ended_at: state.ended_at,
            output: state.output.clone(),
            failure: state.failure.clone(),
            tasks: state
                .tasks
                .values()
                .map(|t| {
                    let summary = TaskSummary {
                        status: t.status,
                        attempt: t.attempt,
                        agent: t.agent.clone(),
                        reason: t.reason.clone(),
                        updated_at: t.updated_at,
                    };
                    (t.task_ref.clone(), summary)
                })
                .collect(),
            last_seq: 0,
        }
    }

    /// The summary taken when the journal's last record was `last_seq`.
    pub fn at_seq(mut self, last_seq: u64) -> RunSummary {
        self.last_seq = last_seq;
        self
    }
}

/// Replaces the entries of `runs` in the station's snapshot.
pub fn update(station: &Station, runs: Vec<(String, RunSummary)>) -> std::io::Result<()> {
    let lock_path = station.runtime_dir().join("state.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    lock.lock()?;
    let path = station.snapshot_path();
    let mut snapshot = read(&path).unwrap_or_else(|| Snapshot {
        version: SNAPSHOT_VERSION,
        updated_at: Utc::now(),
        runs: BTreeMap::new(),
    });
    snapshot.runs.extend(runs);
    snapshot.updated_at = Utc::now();
    let result = write(&path, &snapshot);
    lock.unlock()?;
    result
}

/// Removes the entries of `run_ids` from the station's snapshot (runs that `3ox gc` collected
/// or whose journal is gone), under the same lock as [`update`].
pub fn remove(station: &Station, run_ids: &[String]) -> std::io::Result<()> {
    if run_ids.is_empty() {
        return Ok(());
    }
    let lock_path = station.runtime_dir().join("state.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    lock.lock()?;
    let path = station.snapshot_path();
    let result = match read(&path) {
        Some(mut snapshot) if run_ids.iter().any(|id| snapshot.runs.contains_key(id)) => {
            snapshot.runs.retain(|id, _| !run_ids.contains(id));
            snapshot.updated_at = Utc::now();
            write(&path, &snapshot)
        }
        _ => Ok(()),
    };
    lock.unlock()?;
    result
}

/// Reads the snapshot, or `None` when it is missing or unreadable (it can be rebuilt).
pub fn read(path: &Path) -> Option<Snapshot> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_yaml::from_str(&text).ok()
}

fn write(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let mut text = String::from(
        "# Snapshot of this station's runs, rebuilt from .3ox/runs/*.journal.yaml; do not edit.\n",
    );
    text.push_str(&crate::mailbox::yaml::to_string(snapshot).map_err(std::io::Error::other)?);
    atomic::write(path, text.as_bytes(), Durability::Relaxed)
}

/// Rebuilds the snapshot from every journal of the station.
pub fn rebuild(station: &Station) -> Result<Snapshot, journal::JournalError> {
    let mut runs = BTreeMap::new();
    let dir = station.runs_dir();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".journal.yaml"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    for path in paths {
        let contents = journal::read(&path)?;
        let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
        if !state.run_id.is_empty() {
            let last_seq = contents.records.last().map_or(0, |r| r.seq);
            runs.insert(
                state.run_id.clone(),
                RunSummary::of(&state, station).at_seq(last_seq),
            );
        }
    }
    let snapshot = Snapshot {
        version: SNAPSHOT_VERSION,
        updated_at: Utc::now(),
        runs,
    };
    write(&station.snapshot_path(), &snapshot).map_err(|source| journal::JournalError::Io {
        path: station.snapshot_path().display().to_string(),
        source,
    })?;
    Ok(snapshot)
}
