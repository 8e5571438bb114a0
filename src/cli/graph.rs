//! `3ox graph FILE|RUN [--format mermaid|dot|svg] [-o FILE] [--max-dynamic N]`: a workflow
//! definition as a diagram, drawn in Rust (no browser, no Graphviz); or a run drawn on its
//! workflow (`crate::graph::overlay`): tasks coloured by state, the path taken bold, dynamic
//! forks expanded from the journal. See `crate::graph`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::definition::source::Source;
use crate::definition::{Severity, WorkflowDef};
use crate::graph;
use crate::mailbox::atomic::{self, Durability};
use crate::query;

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
    /// The workflow (3ox YAML or Conductor JSON), or a run: its id or a unique prefix of it
    /// (a path that exists is a file).
    #[arg(value_name = "FILE|RUN")]
    pub target: String,
    /// The output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: Format,
    /// Write the diagram here instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// For a run: how many tasks of each dynamic fork to draw; the rest are one "+N more" node.
    #[arg(long, value_name = "N", default_value_t = graph::overlay::DEFAULT_MAX_DYNAMIC)]
    pub max_dynamic: usize,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let file = Path::new(&args.target);
    let laid = if file.exists() || query::run_id_problem(&args.target).is_some() {
        match definition(file)? {
            Ok(def) => graph::layout(graph::build(&def)),
            Err(code) => return Ok(code),
        }
    } else {
        let station = super::station(station_flag)?;
        let state = match query::run_state(&station, &args.target) {
            Ok(state) => state,
            Err(e) => return Ok(super::status::refuse(&e)),
        };
        graph::layout(graph::overlay(&state.workflow, &state, args.max_dynamic))
    };
    let out = match args.format {
        Format::Mermaid => graph::mermaid::render(&laid),
        Format::Dot => graph::dot::render(&laid),
        Format::Svg => graph::svg::render(&laid),
    };
    write(&args.output, &out)
}

/// Reads a workflow file; a file that is not a workflow is reported, giving the exit code.
fn definition(file: &Path) -> anyhow::Result<Result<WorkflowDef, u8>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let origin = file.display().to_string();
    let src = match Source::parse(&text, &origin) {
        Ok(src) => src,
        Err(d) => {
            eprintln!("{d}");
            return Ok(Err(super::EXIT_USAGE));
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
            return Ok(Err(super::EXIT_USAGE));
        }
    };
    Ok(Ok(def))
}

fn write(output: &Option<PathBuf>, out: &str) -> anyhow::Result<u8> {
    match output {
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
