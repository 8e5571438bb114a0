//! `3ox reject <RUN> <TASK> --reason ...`: reject a HUMAN task's open request (see
//! [`super::approve`], which writes the file).

use std::path::{Path, PathBuf};

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
    /// Sign the rejection with this private key file (from `3ox keygen`).
    #[arg(long, env = "THREEOX_SIGNING_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
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
        super::approve::Choice {
            decision: Decision::Reject,
            by: args.by,
            comment: args.comment,
            reason: Some(args.reason),
            key: args.key,
        },
    )
}
