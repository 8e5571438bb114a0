//! `3ox skip RUN TASK`: a task that is pending or failed becomes SKIPPED with an empty output,
//! and the run goes on (a FAILED run whose failed task is skipped runs again).
//!
//! Journaled with who asked; works while a driver drives the run (see
//! [`crate::orchestrator::control`]). Exit 0 applied, 2 refused, 1 queued (see [`super::control`]).

use std::path::Path;

use super::control::{self, ControlArgs};
use crate::engine::control::Action;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id or a unique prefix of it.
    pub run: String,
    /// The task to skip (its taskReferenceName).
    pub task: String,
    /// Why (recorded in the journal).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub control: ControlArgs,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let done = control::send(
        station_flag,
        &args.run,
        Action::Skip,
        Some(args.task),
        args.reason,
        &args.control,
    )?;
    Ok(control::code(done))
}
