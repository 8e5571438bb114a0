//! `3ox rerun RUN --from TASK`: run an ended run again from TASK: it and every started task
//! after it in the walk order run again (a new attempt each); the tasks before it are kept.
//!
//! Journaled with who asked (see [`crate::orchestrator::control`]). Exit 0 applied, 2 refused
//! (a run still running, a task that never ran), 1 queued (see [`super::control`]).

use std::path::Path;

use super::control::{self, ControlArgs};
use crate::engine::control::Action;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id or a unique prefix of it.
    pub run: String,
    /// The first task to run again (its taskReferenceName).
    #[arg(long, value_name = "TASK")]
    pub from: String,
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
        Action::RerunFrom,
        Some(args.from),
        args.reason,
        &args.control,
    )?;
    Ok(control::code(done))
}
