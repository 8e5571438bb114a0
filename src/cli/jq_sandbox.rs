//! `3ox jq-sandbox` (hidden): the child process in which JSON_JQ_TRANSFORM programs run, so
//! that a program which recurses without end or allocates without bound cannot take the
//! orchestrator down. See [`crate::expr::jq`].

use clap::Args as ClapArgs;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Address-space limit of this process, in bytes.
    #[arg(long)]
    pub memory_bytes: u64,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::expr::jq::serve_sandbox(
        args.memory_bytes,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
    )?;
    Ok(super::EXIT_OK)
}
