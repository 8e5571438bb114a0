//! Station upkeep: checking a station ([`doctor`], `3ox doctor`) and bounding what it keeps
//! ([`gc`], `3ox gc`).
//!
//! Both work from the journals, the truth of every run: doctor verifies each journal, rebuilds
//! the state snapshot from them and looks for mail that outlived its run; gc reads from each
//! journal whether and when its run ended, and archives or deletes finished runs and old
//! handled mail. Neither trusts file times for runs, nor the snapshot for anything.
//!
//! Both respect the locks of the processes that may be working beside them: journals are read
//! under a shared lock (appends take it exclusively, so no half-written record is mistaken
//! for a torn one), and a run whose ownership lock `.3ox/runs/<run_id>.lock` is held by a
//! live orchestrator is never repaired, rewritten or collected. See `docs/maintenance.md`.

pub mod doctor;
pub mod gc;

use std::fs::{File, TryLockError};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::journal::{self, Contents, JournalError};
use crate::station::Station;

/// File name ending of a journal in `.3ox/runs/`.
const JOURNAL_SUFFIX: &str = ".journal.yaml";

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> MaintenanceError + 'a {
    move |source| MaintenanceError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// The journals of the station, sorted (run ids are ulids: in order of start). A station
/// without a runs folder has none.
fn journal_paths(station: &Station) -> Result<Vec<PathBuf>, MaintenanceError> {
    let dir = station.runs_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", &dir)(e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", &dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with('.')
            && name.ends_with(JOURNAL_SUFFIX)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            paths.push(entry.path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// The run id a journal file is named after.
fn run_id_of(journal: &Path) -> String {
    let name = journal
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.strip_suffix(JOURNAL_SUFFIX)
        .unwrap_or(name)
        .to_string()
}

/// Reads a journal without changing it, under a shared lock so that an append in progress
/// (which holds the exclusive lock) finishes first.
fn read_journal(path: &Path) -> Result<Contents, JournalError> {
    let io = |source| JournalError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    file.lock_shared().map_err(io)?;
    let mut bytes = Vec::new();
    let read = file.read_to_end(&mut bytes);
    file.unlock().map_err(io)?;
    read.map_err(io)?;
    journal::decode(&bytes, path)
}

/// Whether a run may be worked on, judged by its ownership lock `.3ox/runs/<run_id>.lock`.
enum Ownership {
    /// Nobody holds the run. `Some` holds its lock (until dropped); `None`: it has no lock file.
    Free(Option<File>),
    /// A live process drives the run.
    Held,
}

fn ownership_lock_path(runs_dir: &Path, run_id: &str) -> PathBuf {
    runs_dir.join(format!("{run_id}.lock"))
}

/// Takes the ownership lock of `run_id` if its lock file exists and nobody holds it. The
/// lock file is never created here.
fn take_ownership(runs_dir: &Path, run_id: &str) -> std::io::Result<Ownership> {
    let path = ownership_lock_path(runs_dir, run_id);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ownership::Free(None)),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => Ok(Ownership::Free(Some(file))),
        Err(TryLockError::WouldBlock) => Ok(Ownership::Held),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The folders directly inside `agents/` (every agent, registered correctly or not), sorted.
fn agent_names(station: &Station) -> Result<Vec<String>, MaintenanceError> {
    let dir = station.agents_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", &dir)(e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}
