//! `.3ox/runs.index.json`: a cache of the one-line summary of every run, for `3ox list` and
//! `3ox history`.
//!
//! Reading every journal in full to print one line per run costs O(records) per run, every
//! time: a station with a long loop or thousands of finished runs made `list` take minutes.
//! The index keeps, per run, the summary those commands print together with the length and
//! modification time of the journal it was taken from. A journal whose length and time are
//! unchanged is not read again; any append (journals only grow), a cut torn tail or a
//! replaced file changes one of them, and the run is read and its line replaced. The file is
//! derived data: deleting it only costs one full read of every journal at the next `list`. It
//! is written atomically by whichever command found it out of date (last writer wins; every
//! version is a valid cache), and a station where it cannot be written still lists, slower.
//!
//! Format (JSON, version 1): `{"version": 1, "runs": {"<run_id>": {"journal_len": N,
//! "journal_modified_ns": N|null, "summary": {...}}}}`; the summary's fields are those of
//! [`RunSummary`]. Another version is ignored and rebuilt.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::UNIX_EPOCH;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::QueryError;
use crate::engine::{RunState, RunStatus};
use crate::journal::Journal;
use crate::mailbox::atomic::{self, Durability};
use crate::station::Station;

/// The version of `.3ox/runs.index.json`.
pub const INDEX_VERSION: u32 = 1;

/// The index file's name in `.3ox/`.
pub const INDEX_FILE: &str = "runs.index.json";

/// What `list` and `history` show of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub workflow: String,
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub tasks_done: usize,
    pub tasks_total: usize,
    pub retries: u32,
    pub output: Option<Value>,
    pub failed_task: Option<String>,
    pub reason: Option<String>,
}

impl RunSummary {
    pub fn of(state: &RunState) -> RunSummary {
        RunSummary {
            workflow: state.workflow.name.clone(),
            status: state.status,
            started_at: state.started_at,
            ended_at: state.ended_at,
            tasks_done: state.tasks.values().filter(|t| t.status.is_done()).count(),
            tasks_total: state.tasks.len(),
            retries: state.retries,
            output: state.output.clone(),
            failed_task: state.failure.as_ref().and_then(|f| f.task_ref.clone()),
            reason: state.failure.as_ref().map(|f| f.reason.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cached {
    journal_len: u64,
    journal_modified_ns: Option<u128>,
    summary: RunSummary,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    runs: BTreeMap<String, Cached>,
}

fn read_index(path: &Path) -> BTreeMap<String, Cached> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<IndexFile>(&bytes).ok())
        .filter(|index| index.version == INDEX_VERSION)
        .map(|index| index.runs)
        .unwrap_or_default()
}

/// A run and its summary, or why its journal cannot be read.
pub type Summarised = (String, Result<RunSummary, QueryError>);

/// Every run's summary (or why its journal cannot be read), newest first, reading only the
/// journals that changed since the index was written (`load` reads one).
pub fn summaries(
    station: &Station,
    load: impl Fn(&str) -> Result<RunState, QueryError>,
) -> Result<Vec<Summarised>, QueryError> {
    let ids = super::run_ids(station)?;
    let path = station.runtime_dir().join(INDEX_FILE);
    let old = read_index(&path);
    let mut new = BTreeMap::new();
    let mut changed = old.len() != ids.len();
    let runs_dir = station.runs_dir();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let meta = std::fs::metadata(Journal::path_for(&runs_dir, &id)).ok();
        let journal_len = meta.as_ref().map_or(0, |m| m.len());
        let journal_modified_ns = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        if let Some(cached) = old.get(&id).filter(|c| {
            c.journal_len == journal_len && c.journal_modified_ns == journal_modified_ns
        }) {
            new.insert(id.clone(), cached.clone());
            out.push((id, Ok(cached.summary.clone())));
            continue;
        }
        changed = true;
        match load(&id) {
            Ok(state) => {
                let summary = RunSummary::of(&state);
                new.insert(
                    id.clone(),
                    Cached {
                        journal_len,
                        journal_modified_ns,
                        summary: summary.clone(),
                    },
                );
                out.push((id, Ok(summary)));
            }
            // Not a run yet: its creator has not written `run_started`.
            Err(QueryError::Empty { .. }) => {}
            Err(e) => out.push((id, Err(e))),
        }
    }
    if changed {
        let index = IndexFile {
            version: INDEX_VERSION,
            runs: new,
        };
        let bytes = serde_json::to_vec(&index).expect("the index serializes");
        if let Err(error) = atomic::write(&path, &bytes, Durability::Relaxed) {
            tracing::debug!(%error, path = %path.display(), "cannot write the run index; listing without it");
        }
    }
    Ok(out)
}
