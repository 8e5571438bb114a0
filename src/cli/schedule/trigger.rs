//! `3ox schedule trigger NAME`: submit a run of the schedule's workflow now.
//!
//! The run is submitted as `3ox start` submits (its journal holds `run_started`; `3ox up`
//! drives it) and recorded among the schedule's runs, so its overlap policy sees it. The
//! cron line, `paused` and the overlap policy do not stop a trigger.

use std::path::Path;

use crate::cli::out::outln;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The schedule (its file name without `.yaml`).
    pub name: String,
    /// Print `{"run_id": ..., "schedule": ...}` as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let schedule = match super::load_or_explain(&station, &args.name) {
        Ok(schedule) => schedule,
        Err(code) => return Ok(code),
    };
    match crate::schedule::fire::trigger(&station, &schedule) {
        Ok(run_id) => {
            if args.json {
                outln!(
                    "{}",
                    serde_json::json!({ "run_id": run_id, "schedule": schedule.name })
                )?;
            } else {
                outln!("{run_id}")?;
                eprintln!(
                    "submitted run {run_id} of schedule `{}`; `3ox up` drives it",
                    schedule.name
                );
            }
            Ok(crate::cli::EXIT_OK)
        }
        Err(why) => {
            eprintln!("error: the run was not started: {why}");
            Ok(crate::cli::EXIT_USAGE)
        }
    }
}
