//! `3ox schedule pause NAME` and `3ox schedule resume NAME`: set the file's `paused`.
//!
//! The file is edited in place (only its `paused:` line; comments stay) and written
//! atomically; `3ox up` sees the change through its watcher on `schedules/`. Resume first
//! marks the slots passed while paused as passed over in the schedule's state, so none of
//! them is caught up.

use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;

use crate::mailbox::atomic::{self, Durability};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The schedule (its file name without `.yaml`).
    pub name: String,
}

pub fn run(station_flag: Option<&Path>, args: Args, paused: bool) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let path = match super::path_or_explain(&station, &args.name) {
        Ok(path) => path,
        Err(code) => return Ok(code),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let edited = crate::schedule::file::with_paused(&text, paused);
    // The edit must leave a schedule file that reads; a file that was bad stays bad.
    if let Err(e) = serde_yaml::from_str::<crate::schedule::ScheduleFile>(&edited) {
        eprintln!(
            "error: {} does not read as a schedule ({e}); fix it first (`3ox validate schedules/`)",
            station.relative(&path)
        );
        return Ok(crate::cli::EXIT_USAGE);
    }
    if !paused {
        crate::schedule::fire::pass_over_until(&station, &args.name, Utc::now())
            .context("cannot write the schedule's state")?;
    }
    if edited != text {
        atomic::write(&path, edited.as_bytes(), Durability::Durable)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "schedule `{}` is {}",
        args.name,
        if paused { "paused" } else { "active" }
    );
    Ok(crate::cli::EXIT_OK)
}
