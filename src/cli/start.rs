//! `3ox start <workflow> [--input ...]`: submit a run and print its id at once.
//!
//! The run's journal is created with its `run_started` record and nothing else; `3ox up` (a
//! long-lived orchestrator) or `3ox resume <run>` drives it.

use super::out::outln;
use std::path::Path;

use anyhow::Context as _;

use super::run::{Prepared, StartArgs};
use crate::mailbox::atomic::Durability;
use crate::orchestrator::{self, OrchestratorError};
use crate::station::start_keys::{self, Started};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub start: StartArgs,
    /// Print `{"run_id": ..., "workflow": ..., "existing": ...}` as JSON.
    #[arg(long)]
    pub json: bool,
    /// Start at most one run per KEY: a second start with the same key prints the run the
    /// first one started and submits nothing.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
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
    let submit = || orchestrator::submit(&station, workflow, source, input, Durability::Durable);
    let started = match &args.key {
        Some(key) => start_keys::start_once(&station, key, submit),
        None => submit().map(Started::New),
    };
    let (run_id, existing) = match started {
        Ok(Started::New(run_id)) => (run_id, false),
        Ok(Started::Existing(run_id)) => (run_id, true),
        Err(OrchestratorError::Refused(reason)) => {
            eprintln!("error: the run was not started:\n{reason}");
            return Ok(super::EXIT_USAGE);
        }
        Err(e @ OrchestratorError::Station(_)) if args.key.is_some() => {
            eprintln!("error: {e}");
            return Ok(super::EXIT_USAGE);
        }
        Err(e) => return Err(e).context("cannot submit the run"),
    };
    if args.json {
        outln!(
            "{}",
            serde_json::json!({ "run_id": run_id, "workflow": name, "existing": existing })
        )?;
    } else if existing {
        outln!("{run_id}")?;
        eprintln!(
            "key {:?} already started run {run_id}; nothing new was submitted",
            args.key.as_deref().unwrap_or_default()
        );
    } else {
        outln!("{run_id}")?;
        eprintln!(
            "submitted run {run_id} of {name}; `3ox up` drives it (or `3ox resume {run_id}`)"
        );
    }
    Ok(super::EXIT_OK)
}
