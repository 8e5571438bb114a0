//! Whether a worker serves an agent right now.
//!
//! `3ox agent run NAME` (also when 3ox starts it for an agent with a `command`) holds a shared
//! lock (flock) on `agents/NAME/.worker.lock` for as long as it runs; several workers of one
//! agent share it. The kernel drops the lock when the process ends, however it ends, so a lock
//! that can be taken exclusively means nobody serves the agent through `3ox agent run`. The
//! file is empty; its name starts with `.` so that it is never taken for an agent's file. An
//! agent served by a process of its own (any program that reads the inbox) holds no lock:
//! the orchestrator only warns, never acts, on what this says.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use super::Station;

/// The lock file's name in an agent's folder.
pub const WORKER_LOCK: &str = ".worker.lock";

fn lock_path(station: &Station, agent: &str) -> PathBuf {
    station.agent_dir(agent).join(WORKER_LOCK)
}

/// A worker's mark: held while the value lives.
#[derive(Debug)]
pub struct WorkerMark {
    _file: File,
}

impl WorkerMark {
    /// Marks `agent` of `station` as served by this process.
    pub fn hold(station: &Station, agent: &str) -> std::io::Result<WorkerMark> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(station, agent))?;
        file.lock_shared()?;
        Ok(WorkerMark { _file: file })
    }
}

/// False when no `3ox agent run` worker serves `agent` now; true when one does, or when it
/// cannot be told (a lock file that cannot be opened for another reason than being missing).
pub fn has_live_worker(station: &Station, agent: &str) -> bool {
    let file = match File::open(lock_path(station, agent)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_mark_means_a_live_worker_and_dropping_it_ends_that() {
        let dir = tempfile::tempdir().unwrap();
        let station = Station::at(dir.path()).unwrap();
        std::fs::create_dir_all(station.agent_dir("a")).unwrap();
        assert!(!has_live_worker(&station, "a"), "no lock file yet");
        let mark = WorkerMark::hold(&station, "a").unwrap();
        let second = WorkerMark::hold(&station, "a").unwrap();
        // flock is per open file: another open (as another process would) sees it held.
        assert!(has_live_worker(&station, "a"));
        drop(mark);
        assert!(
            has_live_worker(&station, "a"),
            "the second worker still serves"
        );
        drop(second);
        assert!(!has_live_worker(&station, "a"));
    }
}
