//! `3ox reject <RUN> <TASK> --reason ...`: reject a HUMAN task's open request (see
//! [`super::approve`], which writes the file).

use std::path::Path;

use crate::mailbox::approval::Decision;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (its id or a unique prefix of it).
    pub run: String,
    /// The HUMAN task's reference name.
    pub task: String,
    /// Why (required, for the record).
    #[arg(long)]
    pub reason: String,
    /// A comment for the record.
    #[arg(long)]
    pub comment: Option<String>,
    /// Who decides (for the record; default: the approver's name).
    #[arg(long)]
    pub by: Option<String>,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    if args.reason.trim().is_empty() {
        eprintln!("error: --reason must say why");
        return Ok(super::EXIT_USAGE);
    }
    super::approve::decide(
        station_flag,
        &args.run,
        &args.task,
        Decision::Reject,
        args.by,
        args.comment,
        Some(args.reason),
    )
}
