//! `3ox start <workflow> [--input ...]`: submit a run and print its id at once.
//!
//! The run's journal is created with its `run_started` record and nothing else; `3ox up` (a
//! long-lived orchestrator) or `3ox resume <run>` drives it.

use std::path::Path;

use anyhow::Context as _;

use super::run::{Prepared, StartArgs};
use crate::mailbox::atomic::Durability;
use crate::orchestrator::{self, OrchestratorError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub start: StartArgs,
    /// Print `{"run_id": ...}` as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let Prepared {
        workflow,
        input,
        source,
    } = match args.start.prepare(&station)? {
        Ok(prepared) => prepared,
        Err(code) => return Ok(code),
    };
    let name = workflow.name.clone();
    let run_id = match orchestrator::submit(&station, workflow, source, input, Durability::Durable)
    {
        Ok(run_id) => run_id,
        Err(OrchestratorError::Refused(reason)) => {
            eprintln!("error: the run was not started:\n{reason}");
            return Ok(super::EXIT_USAGE);
        }
        Err(e) => return Err(e).context("cannot submit the run"),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "run_id": run_id, "workflow": name })
        );
    } else {
        println!("{run_id}");
        eprintln!(
            "submitted run {run_id} of {name}; `3ox up` drives it (or `3ox resume {run_id}`)"
        );
    }
    Ok(super::EXIT_OK)
}
