//! `3ox run` (in progress)
#[derive(Debug, clap::Args)]
pub struct Args {}
pub fn run(_s: Option<&std::path::Path>, _a: Args) -> anyhow::Result<u8> { Ok(0) }
