//! `3ox schedule ...`: the station's schedules (`schedules/*.yaml`, see `crate::schedule` and
//! docs/schedules.md), one file per subcommand.

pub mod convert;
pub mod list;
pub mod next;
pub mod pause;
pub mod trigger;

use std::path::Path;

use crate::schedule::{Schedule, file};
use crate::station::Station;

#[derive(Debug, clap::Subcommand)]
pub enum ScheduleCommand {
    /// List the schedules: workflow, cron line and zone, next fire time, last slot and run.
    List(list::Args),
    /// Pause a schedule: it fires nothing until resumed (its slots are passed over).
    Pause(pause::Args),
    /// Resume a paused schedule from now on (the slots passed while paused are not caught up).
    Resume(pause::Args),
    /// Start a run of a schedule's workflow now, whatever its cron line says.
    Trigger(trigger::Args),
    /// Print a schedule's next slot times in its time zone.
    Next(next::Args),
    /// Read a Conductor schedule (JSON) into schedules/<name>.yaml.
    Import(convert::ImportArgs),
    /// Print a schedule as Conductor schedule JSON.
    Export(convert::ExportArgs),
}

pub fn run(station_flag: Option<&Path>, command: ScheduleCommand) -> anyhow::Result<u8> {
    match command {
        ScheduleCommand::List(args) => list::run(station_flag, args),
        ScheduleCommand::Pause(args) => pause::run(station_flag, args, true),
        ScheduleCommand::Resume(args) => pause::run(station_flag, args, false),
        ScheduleCommand::Trigger(args) => trigger::run(station_flag, args),
        ScheduleCommand::Next(args) => next::run(station_flag, args),
        ScheduleCommand::Import(args) => convert::import(station_flag, args),
        ScheduleCommand::Export(args) => convert::export(station_flag, args),
    }
}

/// The schedule file called `name`, or the exit code after saying there is none.
pub(super) fn path_or_explain(station: &Station, name: &str) -> Result<std::path::PathBuf, u8> {
    if let Some(path) = file::find(station, name) {
        return Ok(path);
    }
    let names = file::names(station);
    let close: Vec<&String> = names
        .iter()
        .filter(|n| strsim::jaro_winkler(n, name) > 0.8 || n.contains(name))
        .collect();
    let hint = if names.is_empty() {
        "the station's schedules/ folder holds no schedules (docs/schedules.md)".to_string()
    } else if close.is_empty() {
        format!(
            "schedules: {}",
            names
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "did you mean {}?",
            close
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    eprintln!("error: no schedule `{name}` in schedules/\nhint: {hint}");
    Err(super::EXIT_USAGE)
}

/// The checked schedule called `name`, or the exit code after saying why not.
pub(super) fn load_or_explain(station: &Station, name: &str) -> Result<Schedule, u8> {
    let path = path_or_explain(station, name)?;
    file::load(station, &path).map_err(|e| {
        eprintln!("error: {e}");
        super::EXIT_USAGE
    })
}
