//! `3ox agent` (in progress)
#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand { List }
pub fn run(_s: Option<&std::path::Path>, _a: AgentCommand) -> anyhow::Result<u8> { Ok(0) }
