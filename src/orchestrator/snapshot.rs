//! `.3ox/state/<run_id>.state.yaml`: a readable snapshot of each of the station's runs.
//!
//! The snapshot is derived data: every journal holds the truth and the snapshot can be
//! rebuilt from them at any time ([`rebuild`]). Each run has its own entry file, written
//! atomically by the run's one driver, so a write costs what the run holds, not what the
//! station holds: with one file for the whole station (version 1), every submit and every
//! refresh read and rewrote every run's entry, and 10,000 queued runs took hours to submit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{Failure, RunState, RunStatus, TaskStatus};
use crate::journal::{self, Journal};
use crate::mailbox::atomic::{self, Durability};
use crate::station::Station;

/// The version of an entry file (1 was one file for the whole station,
/// `.3ox/workflow.state.yaml`, rewritten whole on every change).
pub const SNAPSHOT_VERSION: u32 = 2;

/// The station's entries, as read by [`read_all`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub runs: BTreeMap<String, RunSummary>,
    /// Runs whose entry file exists but cannot be read or is of another version.
    pub unreadable: Vec<String>,
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

/// The file of run `run_id`'s entry: `.3ox/state/<run_id>.state.yaml`.
pub fn entry_path(station: &Station, run_id: &str) -> PathBuf {
    station
        .snapshot_dir()
        .join(format!("{run_id}{ENTRY_SUFFIX}"))
}

/// The name every entry file ends with.
pub const ENTRY_SUFFIX: &str = ".state.yaml";

/// One run's entry as it is written: the summary with the format's version, the run id and
/// when it was written.
#[derive(Debug, Serialize, Deserialize)]
struct EntryFile {
    version: u32,
    run_id: String,
    updated_at: DateTime<Utc>,
    #[serde(flatten)]
    summary: RunSummary,
}

/// Writes the entries of `runs`, one file each. A run has one driver at a time, so its entry
/// has one writer; the write is atomic (dot name, rename), so a reader sees the old entry or
/// the new one. The cost is that of the runs given, whatever the number of runs the station
/// holds.
pub fn update(station: &Station, runs: Vec<(String, RunSummary)>) -> std::io::Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(station.snapshot_dir())?;
    let updated_at = Utc::now();
    let mut first_error = None;
    for (run_id, summary) in runs {
        let path = entry_path(station, &run_id);
        let entry = EntryFile {
            version: SNAPSHOT_VERSION,
            run_id,
            updated_at,
            summary,
        };
        if let Err(error) = write(&path, &entry) {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Removes the entries of `run_ids` (runs that `3ox gc` collected or whose journal is gone).
pub fn remove(station: &Station, run_ids: &[String]) -> std::io::Result<()> {
    for run_id in run_ids {
        match std::fs::remove_file(entry_path(station, run_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Run `run_id`'s entry, or `None` when it is missing or unreadable (it can be rebuilt).
pub fn read_run(station: &Station, run_id: &str) -> Option<RunSummary> {
    read_entry(&entry_path(station, run_id)).ok()
}

/// Every entry of the station, or `None` when the snapshot folder does not exist. Entries
/// that cannot be read or parsed are named in [`Snapshot::unreadable`].
pub fn read_all(station: &Station) -> Option<Snapshot> {
    let entries = std::fs::read_dir(station.snapshot_dir()).ok()?;
    let mut snapshot = Snapshot::default();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(run_id) = name.to_str().and_then(|n| n.strip_suffix(ENTRY_SUFFIX)) else {
            continue;
        };
        if run_id.starts_with('.') {
            continue;
        }
        match read_entry(&entry.path()) {
            Ok(summary) => {
                snapshot.runs.insert(run_id.to_string(), summary);
            }
            Err(()) => snapshot.unreadable.push(run_id.to_string()),
        }
    }
    snapshot.unreadable.sort();
    Some(snapshot)
}

fn read_entry(path: &Path) -> Result<RunSummary, ()> {
    let text = std::fs::read_to_string(path).map_err(|_| ())?;
    let entry: EntryFile = serde_yaml::from_str(&text).map_err(|_| ())?;
    if entry.version != SNAPSHOT_VERSION {
        return Err(());
    }
    Ok(entry.summary)
}

fn write(path: &Path, entry: &EntryFile) -> std::io::Result<()> {
    let mut text = String::from(
        "# Snapshot of one run, rebuilt from .3ox/runs/<run_id>.journal.yaml; do not edit.\n",
    );
    text.push_str(&crate::mailbox::yaml::to_string(entry).map_err(std::io::Error::other)?);
    atomic::write(path, text.as_bytes(), Durability::Relaxed)
}

/// Rebuilds every run's entry from the station's journals.
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
    update(station, runs.clone().into_iter().collect()).map_err(|source| {
        journal::JournalError::Io {
            path: station.snapshot_dir().display().to_string(),
            source,
        }
    })?;
    Ok(Snapshot {
        runs,
        unreadable: Vec::new(),
    })
}
