//! `3ox completions <shell>`: a completion script for bash, zsh, fish, elvish or PowerShell,
//! generated from the command-line definition itself (so every subcommand is in it), on
//! stdout. The committed copies in `docs/completions/` are checked for drift by a test;
//! regenerate them with `scripts/regenerate-cli-docs` (or `UPDATE_SNAPSHOTS=1 cargo test
//! --test integration completions`).

use clap::CommandFactory as _;

use super::out::out;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut command = visible(&super::Cli::command());
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "3ox", &mut script);
    out!("{}", String::from_utf8_lossy(&script))?;
    Ok(super::EXIT_OK)
}

/// `command` without its hidden subcommands (`jq-sandbox` is internal), which the bash
/// generator would otherwise offer.
fn visible(command: &clap::Command) -> clap::Command {
    let mut bare = clap::Command::new(command.get_name().to_string())
        .args(command.get_arguments().cloned())
        .subcommands(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .cloned(),
        );
    if let Some(about) = command.get_about() {
        bare = bare.about(about.clone());
    }
    if let Some(version) = command.get_version() {
        bare = bare.version(version.to_string());
    }
    bare
}
