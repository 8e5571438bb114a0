//! `3ox top [--read-only]`: the terminal dashboard (see [`crate::tui`]): the runs, the
//! selected run's task tree and latest events, pending approvals and live agents, live; keys
//! approve or reject HUMAN tasks and retry, pause, resume or terminate runs.
//!
//! Exit 0 when quit; 2 when stdout is not a terminal or the station cannot be found.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use crate::tui::{self, actions::Identity};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Look only: approve, reject, retry, pause/resume and terminate are disabled.
    #[arg(long)]
    pub read_only: bool,
    /// Who decides and asks, as recorded (default: the approver's name for a decision, the
    /// user name from $USER for an operation).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Sign approvals with this private key file (from `3ox keygen`).
    #[arg(long, env = "THREEOX_SIGNING_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    if !std::io::stdout().is_terminal() {
        eprintln!(
            "error: 3ox top needs a terminal; for scripts use `3ox list`, `3ox status --watch` or `3ox approvals`"
        );
        return Ok(super::EXIT_USAGE);
    }
    tui::run(
        station,
        tui::Options {
            read_only: args.read_only,
            who: Identity {
                by: args.by,
                key: args.key,
            },
        },
    )?;
    Ok(super::EXIT_OK)
}
