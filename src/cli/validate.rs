//! `3ox validate <file|dir>...`: checks workflow files and reports every problem.
//!
//! A folder is searched for `*.yaml`, `*.yml` and `*.json`, skipping hidden folders, the
//! `agents/` folders and `agent.yaml` files (agent configuration, not workflows). A file named
//! on the command line is always checked. Exit code 0 when every file is valid, 2 otherwise.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use walkdir::WalkDir;

use crate::definition::source::{Position, Source};
use crate::definition::validate;
use crate::definition::{Diagnostic, LoadError, Severity};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Workflow files, or folders searched for *.yaml, *.yml and *.json.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON document `{files: [{path, valid, diagnostics}]}` instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The result for one file.
#[derive(Debug, Serialize)]
struct FileReport {
    path: String,
    valid: bool,
    diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
struct Report {
    files: Vec<FileReport>,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let agents = station_agents(station_flag)?;
    let mut files = Vec::new();
    for path in &args.paths {
        for file in expand(path) {
            files.push(match file {
                Ok(file) => check_file(&file, agents.as_ref()),
                Err(report) => report,
            });
        }
    }
    let report = Report { files };
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render(&report)
    };
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    Ok(if report.files.iter().all(|f| f.valid) {
        super::EXIT_OK
    } else {
        super::EXIT_USAGE
    })
}

/// The files to check for one command-line path: the file itself, or the workflow files
/// found in a folder. A path that does not exist becomes a failed report.
fn expand(path: &Path) -> Vec<Result<PathBuf, FileReport>> {
    if path.is_file() {
        return vec![Ok(path.to_path_buf())];
    }
    if !path.is_dir() {
        return vec![Err(failed(
            path,
            "no such file or folder",
            "check the path; give workflow files or folders holding them",
        ))];
    }
    let walker = WalkDir::new(path)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0
                || !e.file_type().is_dir()
                || !(name.starts_with('.') || name == "agents")
        });
    let mut found = Vec::new();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() && is_workflow_file(entry.path()) => {
                found.push(Ok(entry.into_path()))
            }
            Ok(_) => {}
            Err(e) => {
                let at = e
                    .path()
                    .map_or_else(|| path.to_path_buf(), Path::to_path_buf);
                found.push(Err(failed(
                    &at,
                    &format!("cannot read: {e}"),
                    "check the permissions of this folder",
                )));
            }
        }
    }
    found
}

fn is_workflow_file(path: &Path) -> bool {
    let workflow_ext = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
    workflow_ext && path.file_name().is_some_and(|n| n != "agent.yaml")
}

/// The agents of the station `3ox validate` runs in (`--station`, or found from the current
/// folder); `None` outside any station. Inside one, a workflow is also checked against them:
/// a Conductor system type no agent serves, or an EVENT sink naming a missing agent, is an
/// error, as `3ox run` would refuse it.
fn station_agents(flag: Option<&Path>) -> anyhow::Result<Option<crate::station::AgentDirectory>> {
    let station = match flag {
        Some(_) => super::station(flag)?,
        None => match std::env::current_dir()
            .ok()
            .and_then(|dir| crate::station::Station::discover(&dir).ok())
        {
            Some(station) => station,
            None => return Ok(None),
        },
    };
    Ok(Some(station.agents().map_err(|e| anyhow::anyhow!(e))?))
}

/// Checks one file: every diagnostic of the validator (warnings too), and, when there is no
/// error, the same load the engine does, so "ok" means `3ox run` will accept it (in a
/// station: with the station's agents).
fn check_file(path: &Path, agents: Option<&crate::station::AgentDirectory>) -> FileReport {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return failed(
                path,
                &format!("cannot read {shown}: {e}"),
                "check that the file is readable text (UTF-8)",
            );
        }
    };
    // A file in a station's `schedules/` folder is a schedule (docs/schedules.md).
    if crate::schedule::file::is_schedule_file(path) {
        return check_schedule(path, &shown);
    }
    // A `*.mocks.yaml` file is a `3ox test` mocks file (templates/tests/): checked as one.
    if crate::testing::mocks::is_mocks_file(path) {
        let diagnostics = crate::testing::mocks::check_text(&text, &shown);
        return FileReport {
            path: shown,
            valid: diagnostics.is_empty(),
            diagnostics,
        };
    }
    let diagnostics = check_text(path, &shown, &text, agents);
    FileReport {
        path: shown,
        valid: !diagnostics.iter().any(|d| d.severity == Severity::Error),
        diagnostics,
    }
}

/// Every diagnostic of `3ox validate` for workflow `text` (warnings too): the validator, and,
/// when it finds no error, the same load the engine does, the station's agents (when given)
/// and child-run cycles. `path` is where the text is (or will be): children named by a
/// SUB_WORKFLOW are looked up in the station around it; `shown` names it in diagnostics.
/// Valid means no diagnostic is an error. `3ox new` and the web editor check with this too.
pub fn check_text(
    path: &Path,
    shown: &str,
    text: &str,
    agents: Option<&crate::station::AgentDirectory>,
) -> Vec<Diagnostic> {
    let diagnostics = match Source::parse(text, shown) {
        Ok(src) => validate::check(&src),
        Err(d) => vec![d],
    };
    let has_errors = |ds: &[Diagnostic]| ds.iter().any(|d| d.severity == Severity::Error);
    if has_errors(&diagnostics) {
        return diagnostics;
    }
    match crate::definition::parse_str(text, Path::new(shown)) {
        Ok(workflow) => {
            let mut diagnostics = diagnostics;
            if let (Some(agents), Ok(src)) = (agents, Source::parse(text, shown)) {
                diagnostics.extend(crate::orchestrator::served::diagnostics(
                    &src, &workflow, agents,
                ));
            }
            diagnostics.extend(cycle_diagnostic(path, shown, text, &workflow));
            diagnostics
        }
        Err(LoadError::Invalid { diagnostics, .. }) => diagnostics,
        Err(e @ LoadError::Io { .. }) => vec![Diagnostic::at(
            shown,
            "",
            Position::START,
            e.to_string(),
            Some("check that the file is readable".to_string()),
        )],
    }
}

/// A definition that starts itself (SUB_WORKFLOW, START_WORKFLOW, failureWorkflow), following
/// names through the station the file is in, when it is in one.
fn cycle_diagnostic(
    path: &Path,
    shown: &str,
    text: &str,
    def: &crate::definition::WorkflowDef,
) -> Option<Diagnostic> {
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let station = crate::station::Station::discover(folder).ok();
    let (task_ref, message) = crate::orchestrator::children::find_cycle(station.as_ref(), def)?;
    let src = Source::parse(text, shown).ok()?;
    let pointer = if task_ref == "failureWorkflow" {
        "/failureWorkflow".to_string()
    } else {
        pointer_of(&src.value, "", &task_ref).unwrap_or_default()
    };
    Some(Diagnostic::error(
        &src,
        &pointer,
        message,
        Some(
            "a child run cannot run its own parent: start another workflow, or loop with DO_WHILE"
                .into(),
        ),
    ))
}

/// The JSON pointer of the task with reference `task_ref` in `value`.
fn pointer_of(value: &serde_json::Value, at: &str, task_ref: &str) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("taskReferenceName").and_then(|v| v.as_str()) == Some(task_ref) {
                return Some(at.to_string());
            }
            map.iter().find_map(|(k, v)| {
                pointer_of(v, &crate::definition::source::push_pointer(at, k), task_ref)
            })
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| pointer_of(v, &format!("{at}/{i}"), task_ref)),
        _ => None,
    }
}

/// A report for a path that could not be checked at all.
fn failed(path: &Path, message: &str, hint: &str) -> FileReport {
    let shown = path.display().to_string();
    let diagnostic = Diagnostic::at(&shown, "", Position::START, message, Some(hint.to_string()));
    FileReport {
        path: shown,
        valid: false,
        diagnostics: vec![diagnostic],
    }
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    for file in &report.files {
        if file.valid {
            out.push_str(&format!("ok  {}\n", file.path));
        }
        for diagnostic in &file.diagnostics {
            out.push_str(&diagnostic.render());
            out.push('\n');
        }
    }
    let invalid = report.files.iter().filter(|f| !f.valid).count();
    let count = |severity: Severity| -> usize {
        report
            .files
            .iter()
            .map(|f| {
                f.diagnostics
                    .iter()
                    .filter(|d| d.severity == severity)
                    .count()
            })
            .sum()
    };
    let warnings = match count(Severity::Warning) {
        0 => String::new(),
        n => format!(", {}", plural(n, "warning")),
    };
    out.push_str(&format!(
        "{}, {invalid} invalid, {}{warnings}\n",
        plural(report.files.len(), "file"),
        plural(count(Severity::Error), "error")
    ));
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Checks a schedule file against the station it sits in (the folder above `schedules/`):
/// its cron line, zone, durations, and that the workflow it names is there.
fn check_schedule(path: &Path, shown: &str) -> FileReport {
    let root = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().and_then(Path::parent).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let station = match crate::station::Station::at(&root) {
        Ok(station) => station,
        Err(e) => return failed(path, &e.to_string(), "check the path"),
    };
    match crate::schedule::file::load(&station, path) {
        Ok(_) => FileReport {
            path: shown.to_string(),
            valid: true,
            diagnostics: Vec::new(),
        },
        Err(e) => failed(path, &e.message, &e.hint),
    }
}
