//! `3ox template new NAME --from TEMPLATE [--force]`: copies a template into
//! `templates/NAME.workflow.yaml` with its `name:` changed to NAME (comments and layout
//! kept), and checks that the copy loads.

use std::path::Path;

use anyhow::Context as _;

use crate::mailbox::atomic::{self, Durability};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The new workflow's name (also its file name: templates/NAME.workflow.yaml).
    pub name: String,
    /// The template to start from (its workflow or file name).
    #[arg(long, value_name = "TEMPLATE")]
    pub from: String,
    /// Replace templates/NAME.workflow.yaml if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    if let Some(problem) = crate::mailbox::name_problem(&args.name) {
        eprintln!(
            "error: `{}` is not usable as a workflow name: {problem}",
            args.name.escape_debug()
        );
        return Ok(crate::cli::EXIT_USAGE);
    }
    let template = match super::find_or_explain(&station, &args.from) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let target = station
        .root
        .join(crate::templates::FOLDER)
        .join(format!("{}.workflow.yaml", args.name));
    if let Some(existing) = crate::templates::find(&station, &args.name)
        && existing.path != target
    {
        eprintln!(
            "error: the station already has a workflow `{}` ({}); choose another name",
            args.name,
            station.relative(&existing.path)
        );
        return Ok(crate::cli::EXIT_USAGE);
    }
    if target.exists() && !args.force {
        eprintln!(
            "error: {} exists; nothing was written\n  = hint: give --force to replace it",
            station.relative(&target)
        );
        return Ok(crate::cli::EXIT_USAGE);
    }
    let text = std::fs::read_to_string(&template.path)
        .with_context(|| format!("cannot read {}", template.path.display()))?;
    let Some(text) = crate::templates::renamed(&text, &args.name) else {
        eprintln!(
            "error: {} has no top-level `name:` line to change (is it JSON?); copy it by hand",
            station.relative(&template.path)
        );
        return Ok(crate::cli::EXIT_USAGE);
    };
    if let Err(e) = crate::definition::parse_str(&text, &target) {
        eprintln!(
            "error: the copy would not be a valid workflow: {}",
            crate::orchestrator::children::problems(&e)
        );
        return Ok(crate::cli::EXIT_USAGE);
    }
    atomic::write(&target, text.as_bytes(), Durability::Durable)
        .with_context(|| format!("cannot write {}", target.display()))?;
    eprintln!(
        "wrote {} from {} ({}); run it with `3ox run {}`",
        station.relative(&target),
        template.name(),
        station.relative(&template.path),
        args.name
    );
    Ok(crate::cli::EXIT_OK)
}
