//! `3ox export <file.yaml> --format conductor [-o file.json] [--strict]`: a 3ox workflow as
//! Conductor JSON. 3ox-only fields are mapped onto Conductor's (the inline `retry:` into
//! `taskDefinition`, duration texts into seconds) or, where Conductor has no equivalent
//! (`agent`, HUMAN's approval rules), left out and reported on stderr with the task and the
//! field, and so is what Conductor JSON says the same way but a cluster runs differently;
//! each with its location. `--strict` makes any such report (and any validation error) fail
//! the command.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::definition::Severity;
use crate::definition::conductor;
use crate::mailbox::atomic::{self, Durability};

/// The formats 3ox exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Conductor's workflow definition JSON (POST /api/metadata/workflow).
    Conductor,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The 3ox workflow (YAML or JSON).
    pub file: PathBuf,
    /// The target format.
    #[arg(long, value_enum, default_value = "conductor")]
    pub format: Format,
    /// Write the JSON here instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail (exit 2, nothing written, every reason listed with its location) when the
    /// definition would mean something else on a Conductor cluster or does not validate.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let Format::Conductor = args.format;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let exported = match conductor::export(&text, &args.file.display().to_string()) {
        Ok(exported) => exported,
        Err(refused) => {
            eprintln!("{refused}");
            return Ok(super::EXIT_USAGE);
        }
    };
    super::import::report_validation(&exported.diagnostics);
    for note in &exported.notes {
        eprintln!("{}: {note}", if args.strict { "error" } else { "warning" });
        if let Some((line, column)) = note.at {
            eprintln!(" --> {}:{line}:{column}", args.file.display());
        }
    }
    let invalid = exported
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error);
    if args.strict && (invalid || !exported.notes.is_empty()) {
        eprintln!(
            "not exported: --strict, and {} cannot be said in Conductor JSON as it is",
            args.file.display()
        );
        return Ok(super::EXIT_USAGE);
    }
    match &args.output {
        Some(path) => {
            atomic::write(path, exported.json.as_bytes(), Durability::Durable)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            if let Err(e) = std::io::stdout().lock().write_all(exported.json.as_bytes())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
        }
    }
    Ok(super::EXIT_OK)
}
