//! What a schedule has fired: `.3ox/schedules/<name>.state.yaml`, and the lock that makes one
//! process at a time decide a schedule's slots (`.3ox/schedules/<name>.lock`).
//!
//! The state file (`version: 1`) holds the newest slot decided (`last_slot`: fired, buffered
//! or passed over), the slots waiting for earlier runs to end (`buffered`), and the newest
//! runs the schedule started (`runs`, slot and run id, at most [`KEPT_RUNS`]). It is written
//! atomically (temporary file, fsync, rename) while the lock is held. The lock is an flock on
//! a permanent file: it dies with its process, so a crash leaves no stale lock.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::mailbox::atomic::{self, Durability};
use crate::station::Station;

/// The version of the state file format.
pub const STATE_VERSION: u32 = 1;

/// How many of a schedule's newest runs the state file keeps.
pub const KEPT_RUNS: usize = 20;

/// A schedule's state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    pub version: u32,
    pub schedule: String,
    /// The newest slot decided: fired, buffered, or passed over (paused, skipped, dropped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_slot: Option<DateTime<Utc>>,
    /// Slots waiting for the schedule's running runs to end, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buffered: Vec<DateTime<Utc>>,
    /// The newest runs the schedule started, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<FiredRun>,
}

/// One run a schedule started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredRun {
    /// The slot it was started for (for `3ox schedule trigger`: the time it was triggered).
    pub slot: DateTime<Utc>,
    pub run_id: String,
    /// True when started by `3ox schedule trigger`, not by the clock.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub triggered: bool,
}

impl ScheduleState {
    /// Records a run it started, keeping the newest [`KEPT_RUNS`].
    pub fn started(&mut self, run: FiredRun) {
        self.runs.push(run);
        let extra = self.runs.len().saturating_sub(KEPT_RUNS);
        self.runs.drain(..extra);
    }
}

/// The folder of the state and lock files.
pub fn dir(station: &Station) -> PathBuf {
    station.runtime_dir().join("schedules")
}

pub fn path_for(station: &Station, name: &str) -> PathBuf {
    dir(station).join(format!("{name}.state.yaml"))
}

/// Reads a schedule's state; a missing file is a schedule that never fired.
pub fn read(station: &Station, name: &str) -> std::io::Result<ScheduleState> {
    let path = path_for(station, name);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_yaml::from_str(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a schedule state file: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ScheduleState {
            version: STATE_VERSION,
            schedule: name.to_string(),
            ..ScheduleState::default()
        }),
        Err(e) => Err(e),
    }
}

/// Writes a schedule's state atomically and durably.
pub fn write(station: &Station, state: &ScheduleState) -> std::io::Result<()> {
    let path = path_for(station, &state.schedule);
    let text = crate::mailbox::yaml::to_string(state).map_err(std::io::Error::other)?;
    atomic::write(&path, text.as_bytes(), Durability::Durable)
}

/// The exclusive lock on one schedule, held while its slots are decided and fired.
pub struct ScheduleLock {
    _file: File,
}

impl ScheduleLock {
    /// Waits for the lock of schedule `name`.
    pub fn acquire(station: &Station, name: &str) -> std::io::Result<ScheduleLock> {
        let dir = dir(station);
        std::fs::create_dir_all(&dir)?;
        let file = open(&dir.join(format!("{name}.lock")))?;
        file.lock()?;
        Ok(ScheduleLock { _file: file })
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}
