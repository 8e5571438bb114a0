//! `3ox mcp --agent NAME`: serve one agent's mailbox to a model over MCP on stdio (see
//! `crate::mcp` and docs/mcp.md). Stdout carries the protocol; messages go to stderr.

use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The agent whose tasks the model serves (agents/NAME/agent.yaml).
    #[arg(long, value_name = "NAME")]
    pub agent: String,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(crate::mcp::serve_stdio(&station, &args.agent)) {
        Ok(()) => Ok(super::EXIT_OK),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(super::EXIT_USAGE)
        }
    }
}
