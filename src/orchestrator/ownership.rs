//! Run ownership: exactly one process drives a run at a time.
//!
//! The driver holds an exclusive lock (std `File::try_lock`, an `flock`) on
//! `.3ox/runs/<run_id>.lock` for as long as it drives the run. The lock dies with its process,
//! so a crashed orchestrator leaves no stale lock: the next one simply takes it. The file is
//! permanent (never deleted while a run can be driven, so two processes never lock two
//! different files of the same name); its content (pid, host, since) is only informational.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::Utc;

/// Proof that this process drives a run. Dropping it releases the run.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

impl RunLock {
    /// The lock file of `run_id`.
    pub fn path_for(runs_dir: &Path, run_id: &str) -> PathBuf {
        runs_dir.join(format!("{run_id}.lock"))
    }

    /// Takes the run if nobody drives it: `Ok(None)` when another process holds it.
    pub fn try_acquire(runs_dir: &Path, run_id: &str) -> std::io::Result<Option<RunLock>> {
        let path = Self::path_for(runs_dir, run_id);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        let note = format!(
            "pid: {}\nhost: {host}\nsince: {}\n",
            std::process::id(),
            Utc::now().to_rfc3339()
        );
        file.set_len(0)?;
        file.write_all(note.as_bytes())?;
        Ok(Some(RunLock { _file: file, path }))
    }

    /// Who holds the run, as written in its lock file (informational).
    pub fn holder(runs_dir: &Path, run_id: &str) -> Option<String> {
        let text = std::fs::read_to_string(Self::path_for(runs_dir, run_id)).ok()?;
        let pid = text.lines().find_map(|l| l.strip_prefix("pid: "))?;
        Some(format!("process {pid}"))
    }
}
