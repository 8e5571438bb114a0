//! `3ox man`: the manual page (roff) generated from the command-line definition, on stdout:
//! `3ox man | man -l -`. `--dir DIR` writes one page per subcommand instead (`3ox.1`,
//! `3ox-run.1`, ...) for packagers. The committed `docs/man/3ox.1` is checked for drift by a
//! test; regenerate it with `scripts/regenerate-cli-docs`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::out::out;
use crate::mailbox::atomic::{self, Durability};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `3ox.1` and a page per subcommand into DIR instead of printing `3ox.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let command = super::Cli::command();
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .context("cannot render the manual page")?;
            out!("{}", String::from_utf8_lossy(&page))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot make {}", dir.display()))?;
            write_pages(&command, "3ox", dir)?;
        }
    }
    Ok(super::EXIT_OK)
}

/// Writes the page of `command` as `<name>.1` in `dir`, then those of its visible subcommands.
fn write_pages(command: &clap::Command, name: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(name.to_string())
        .render(&mut page)
        .context("cannot render the manual page")?;
    let path = dir.join(format!("{name}.1"));
    atomic::write(&path, &page, Durability::Durable)
        .with_context(|| format!("cannot write {}", path.display()))?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
