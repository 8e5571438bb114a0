//! `3ox init [DIR]`: make a station.

use std::path::PathBuf;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to make the station (default: the current folder).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Also write the runnable demo: the inventory-validation workflow, its agents (Python),
    /// the `commander` approver, sample folders and the approval-gate template. Files that
    /// exist are kept.
    #[arg(long)]
    pub example: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let station = crate::station::Station::init(&args.dir)
        .with_context(|| format!("cannot make a station at {}", args.dir.display()))?;
    println!("station ready at {}", station.root.display());
    if args.example {
        let written = crate::station::example::write(&station.root)
            .with_context(|| format!("cannot write the example into {}", station.root.display()))?;
        println!(
            "example: {} files written (agents/, templates/, stations/sample/)",
            written.len()
        );
        println!(
            "next: `cd {}` and `{}` (needs python3)",
            station.root.display(),
            crate::station::example::RUN_HINT
        );
        return Ok(super::EXIT_OK);
    }
    println!(
        "next: add an agent as agents/<name>/agent.yaml, a workflow under templates/, then `3ox run <workflow>`; or `3ox init --example` for a demo that runs"
    );
    Ok(super::EXIT_OK)
}
