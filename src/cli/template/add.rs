//! `3ox template add <folder | file.tar.gz | git-url@ref> [--template NAME] [--force]`:
//! fetch a source, check its templates (valid, dry-run with their mocks: nothing is run for
//! real), and only when every one passes copy them into templates/ and record them in
//! templates.lock. See `crate::templates::install`.

use std::path::Path;

use crate::cli::out::outln;
use crate::templates::{install, source};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the templates are: a folder, a .tar.gz file, or a git repository at a ref
    /// (`file:///srv/templates.git@v1`, `https://host/repo.git@main`).
    pub source: String,
    /// Only this template of the source (its workflow or file name).
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,
    /// Replace station files that exist with other content.
    #[arg(long)]
    pub force: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    add(&station, &args.source, args.template.as_deref(), args.force)
}

/// `add` and `update`: fetch, check, install; prints what happened.
pub(super) fn add(
    station: &crate::station::Station,
    from: &str,
    only: Option<&str>,
    force: bool,
) -> anyhow::Result<u8> {
    let parsed = match source::Source::parse(from) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    let fetched = match source::fetch(&parsed, &station.root.join(".3ox")) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}; nothing was installed");
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    let candidates = match install::candidates(station, &fetched, only) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}; nothing was installed");
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    match install::install(station, &parsed, &fetched, &candidates, force) {
        Ok(installed) => {
            for t in &installed {
                outln!("added {} ({})", t.name, t.files.join(", "))?;
            }
            if let Some(commit) = &fetched.commit {
                outln!("from {} at commit {commit}", parsed.describe())?;
            }
            eprintln!("recorded in templates.lock; `3ox template verify` checks the files");
            Ok(crate::cli::EXIT_OK)
        }
        Err(reasons) => {
            eprintln!(
                "error: refused {}; nothing was installed:",
                parsed.describe()
            );
            for r in reasons {
                eprintln!("  - {r}");
            }
            Ok(crate::cli::EXIT_USAGE)
        }
    }
}
