//! `3ox log` (being written).

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_station: Option<&std::path::Path>, _args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("3ox log is not available in this build")
}
