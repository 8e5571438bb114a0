//! `3ox template search WORD --catalogue <folder | git-url[@ref]> [--json]`: the templates of
//! a catalogue's index.yaml whose name, description or tags hold WORD.

use std::path::Path;

use serde_json::json;

use crate::cli::out::outln;
use crate::templates::catalogue;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to look for (case-insensitive) in names, descriptions and tags.
    pub word: String,
    /// The catalogue: a folder or a git repository (`url` or `url@ref`) with an index.yaml.
    #[arg(long, env = "THREEOX_CATALOGUE", value_name = "CATALOGUE")]
    pub catalogue: String,
    /// Print `{catalogue, templates: [...]}` with every field of the index.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let (index, location) = match catalogue::read(&args.catalogue, &station.root.join(".3ox")) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(crate::cli::EXIT_USAGE);
        }
    };
    let found: Vec<&catalogue::Listed> = index
        .templates
        .iter()
        .filter(|t| t.matches(&args.word))
        .collect();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({"catalogue": location, "templates": found}))?
        )?;
        return Ok(crate::cli::EXIT_OK);
    }
    if found.is_empty() {
        eprintln!("no template of {location} matches `{}`", args.word);
        return Ok(crate::cli::EXIT_FAILED);
    }
    for t in found {
        let version = t.version.map(|v| format!(" v{v}")).unwrap_or_default();
        outln!(
            "{}{version}  {}",
            t.name,
            t.description.as_deref().unwrap_or("(no description)")
        )?;
        if let Some(source) = &t.source {
            outln!("    source: {source}")?;
        }
        if !t.tags.is_empty() {
            outln!("    tags: {}", t.tags.join(", "))?;
        }
    }
    Ok(crate::cli::EXIT_OK)
}
