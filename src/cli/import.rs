//! `3ox import <conductor.json> [-o file.yaml]`: a Conductor workflow definition as readable
//! 3ox YAML (block style, Conductor's field order, multi-line texts as literal blocks, a
//! header saying where it came from). Files that are not workflow definitions are refused
//! with what they are. What `3ox validate` would say about the workflow is printed on stderr;
//! it does not stop the conversion.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::definition::Severity;
use crate::definition::conductor;
use crate::mailbox::atomic::{self, Durability};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Conductor workflow definition (JSON).
    pub file: PathBuf,
    /// Write the YAML here instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Start the file with a `# yaml-language-server: $schema=SCHEMA` modeline (a path
    /// relative to the written file, or a URL), so editors complete and check it.
    #[arg(long, value_name = "SCHEMA")]
    pub schema: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let imported = match conductor::import(&text, &args.file.display().to_string()) {
        Ok(imported) => imported,
        Err(refused) => {
            eprintln!("{refused}");
            return Ok(super::EXIT_USAGE);
        }
    };
    report_validation(&imported.diagnostics);
    let mut yaml = imported.yaml;
    if let Some(schema) = &args.schema {
        let schema: String = schema.chars().filter(|c| !c.is_control()).collect();
        yaml = format!("# yaml-language-server: $schema={schema}\n{yaml}");
    }
    match &args.output {
        Some(path) => {
            atomic::write(path, yaml.as_bytes(), Durability::Durable)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            if let Err(e) = std::io::stdout().lock().write_all(yaml.as_bytes())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
        }
    }
    Ok(super::EXIT_OK)
}

/// Prints the validator's findings on stderr, errors as "note" (the file is converted anyway).
pub fn report_validation(diagnostics: &[crate::definition::Diagnostic]) {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    for d in diagnostics {
        eprintln!("{}", d.render());
    }
    if errors > 0 {
        eprintln!(
            "note: converted, but `3ox validate` refuses this workflow ({errors} error{}); 3ox will not run it as it is",
            if errors == 1 { "" } else { "s" }
        );
    }
}
