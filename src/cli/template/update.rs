//! `3ox template update NAME [--ref REF]`: fetch a template again from the source recorded
//! in templates.lock and check and install it as `add` does. Without `--ref` it goes back to
//! the recorded commit (a git source) or the same folder or archive, which also repairs
//! changed files; with `--ref` a git source moves to that ref: only when asked.

use std::path::Path;

use crate::templates::lock::Lock;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The template, as templates.lock names it.
    pub name: String,
    /// Move a git source to this tag, branch or commit.
    #[arg(long = "ref", value_name = "REF")]
    pub reference: Option<String>,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let lock = match Lock::read(&station) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    let Some(entry) = lock.templates.get(&args.name) else {
        eprintln!(
            "error: templates.lock has no template `{}` (add it with `3ox template add`)",
            args.name
        );
        return Ok(crate::cli::EXIT_USAGE);
    };
    let from = match (&entry.kind[..], &args.reference, &entry.commit) {
        ("git", reference, commit) => {
            let url = entry
                .source
                .rsplit_once('@')
                .map_or(entry.source.as_str(), |(u, _)| u);
            match (reference, commit) {
                (Some(r), _) => format!("{url}@{r}"),
                (None, Some(c)) => format!("{url}@{c}"),
                (None, None) => entry.source.clone(),
            }
        }
        (_, Some(_), _) => {
            eprintln!(
                "error: `{}` came from a {}, which has no refs",
                args.name, entry.kind
            );
            return Ok(crate::cli::EXIT_USAGE);
        }
        _ => entry.source.clone(),
    };
    // The files are the lock's to replace: force, but only this template.
    super::add::add(&station, &from, Some(&args.name), true)
}
