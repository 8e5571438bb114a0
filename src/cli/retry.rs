//! `3ox retry RUN`: Retry an ended run (FAILED, TIMED_OUT, or with canceled tasks such as a TERMINATED one): its failed and canceled tasks run again as a new attempt (new task ids); completed work is kept.
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
        Action::Retry,
        None,
        args.reason,
        &args.control,
    )?;
    Ok(control::code(done))
}
