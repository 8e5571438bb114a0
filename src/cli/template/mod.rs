//! `3ox template ...`: the station's template library (see `crate::templates`), one file per
//! subcommand.

pub mod add;
pub mod list;
pub mod new;
pub mod search;
pub mod show;
pub mod update;
pub mod verify;

use std::path::Path;

#[derive(Debug, clap::Subcommand)]
pub enum TemplateCommand {
    /// List the station's templates: name, description and inputs.
    List(list::Args),
    /// Show one template: its inputs, the agents it needs, its mocks and a Mermaid diagram.
    Show(show::Args),
    /// Make a new workflow from a template: templates/NAME.workflow.yaml with the name changed.
    New(new::Args),
    /// Add templates from a folder, a .tar.gz or a git repository at a ref: checked and
    /// dry-run with their mocks first, recorded in templates.lock.
    Add(add::Args),
    /// Check that every file recorded in templates.lock still has its sha256.
    Verify(verify::Args),
    /// Fetch a locked template again: at its recorded commit, or at a new `--ref`.
    Update(update::Args),
    /// Search a catalogue's index.yaml for templates.
    Search(search::Args),
}

pub fn run(station_flag: Option<&Path>, command: TemplateCommand) -> anyhow::Result<u8> {
    match command {
        TemplateCommand::List(args) => list::run(station_flag, args),
        TemplateCommand::Show(args) => show::run(station_flag, args),
        TemplateCommand::New(args) => new::run(station_flag, args),
        TemplateCommand::Add(args) => add::run(station_flag, args),
        TemplateCommand::Verify(args) => verify::run(station_flag, args),
        TemplateCommand::Update(args) => update::run(station_flag, args),
        TemplateCommand::Search(args) => search::run(station_flag, args),
    }
}

/// The template `name` of the station, or the exit code after saying there is none (with the
/// closest names).
pub(super) fn find_or_explain(
    station: &crate::station::Station,
    name: &str,
) -> Result<crate::templates::Template, u8> {
    if let Some(template) = crate::templates::find(station, name) {
        return Ok(template);
    }
    let close = crate::templates::closest(station, name);
    let hint = if close.is_empty() {
        "`3ox template list` shows the station's templates".to_string()
    } else {
        format!(
            "did you mean {}?",
            close
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    eprintln!("error: no template `{name}` in this station's templates/\n  = hint: {hint}");
    Err(super::EXIT_USAGE)
}
