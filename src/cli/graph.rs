//! `3ox graph FILE [--format mermaid|dot|svg] [-o FILE]`: a workflow definition as a diagram,
//! drawn in Rust (no browser, no Graphviz). See `crate::graph`.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::definition::source::Source;
use crate::definition::{Severity, WorkflowDef};
use crate::graph;
use crate::mailbox::atomic::{self, Durability};

/// The diagram formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Mermaid `flowchart TD` (renders on GitHub and in many editors).
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// A standalone SVG image, laid out by 3ox.
    Svg,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow (3ox YAML or Conductor JSON).
    pub file: PathBuf,
    /// The output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Write the diagram here instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let origin = args.file.display().to_string();
    let src = match Source::parse(&text, &origin) {
        Ok(src) => src,
        Err(d) => {
            eprintln!("{d}");
            return Ok(super::EXIT_USAGE);
        }
    };
    // A diagram of a workflow with problems still helps to see them; only the shape has to
    // read as a workflow. The problems are reported as warnings.
    for d in crate::definition::validate::check(&src) {
        if d.severity == Severity::Error {
            eprintln!("warning: {}", d.to_string().trim_start_matches("error: "));
        }
    }
    let def: WorkflowDef = match serde_json::from_value(src.value.clone()) {
        Ok(def) => def,
        Err(e) => {
            eprintln!(
                "error: {origin}: not a workflow definition: {e}\nhint: a workflow has `name` and `tasks`, each task `name` and `taskReferenceName` (see docs/workflow-language.md)"
            );
            return Ok(super::EXIT_USAGE);
        }
    };
    let laid = graph::layout(graph::build(&def));
    let out = match args.format {
        Format::Mermaid => graph::mermaid::render(&laid),
        Format::Dot => graph::dot::render(&laid),
        Format::Svg => graph::svg::render(&laid),
    };
    match &args.output {
        Some(path) => {
            // A bare file name is in the current folder (the atomic writer needs its folder).
            let path = &if path.parent().is_some_and(|p| p.as_os_str().is_empty()) {
                std::path::Path::new(".").join(path)
            } else {
                path.clone()
            };
            atomic::write(path, out.as_bytes(), Durability::Durable)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            if let Err(e) = std::io::stdout().lock().write_all(out.as_bytes())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e.into());
            }
        }
    }
    Ok(super::EXIT_OK)
}
