//! `3ox init [DIR]`: make a station.

use std::path::PathBuf;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to make the station (default: the current folder).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let station = crate::station::Station::init(&args.dir)
        .with_context(|| format!("cannot make a station at {}", args.dir.display()))?;
    println!("station ready at {}", station.root.display());
    println!(
        "next: add an agent as agents/<name>/agent.yaml, a workflow under templates/, then `3ox run <workflow>`"
    );
    Ok(super::EXIT_OK)
}
