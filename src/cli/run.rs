//! `3ox run <workflow> [--input key=value ...] [--input-file f.yaml]`: start a run in this
//! station and drive it to the end in the foreground.

use super::out::{out, outln};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value};

use crate::definition::{self, LoadError};
use crate::engine::RunStatus;
use crate::mailbox::atomic::Durability;
use crate::orchestrator::{self, Control, OrchestratorError, RunOptions, RunOutcome, progress};

/// The workflow to start and its input (shared by `run` and `start`).
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The workflow file (YAML or JSON).
    pub workflow: PathBuf,
    /// An input value; VALUE is read as YAML, so `n=3`, `folders=[a, b]` and `on=true` keep
    /// their types. Repeatable; later values win.
    #[arg(long = "input", short = 'i', value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// A YAML or JSON file with a mapping of inputs (applied before --input values).
    #[arg(long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,
}

/// How a foreground drive shows itself (shared by `run`, `resume` and `up`).
#[derive(Debug, clap::Args)]
pub struct DriveArgs {
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show no progress, only the result.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not start the station's managed agents (their `command`); someone else runs them.
    #[arg(long)]
    pub no_agents: bool,
    /// Skip fsync of the journal and of task messages: faster, but a power cut may lose the
    /// last changes. Process crashes lose nothing either way.
    #[arg(long)]
    pub relaxed: bool,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub start: StartArgs,
    #[command(flatten)]
    pub drive: DriveArgs,
}

/// A loaded workflow with its input and where it came from.
pub struct Prepared {
    pub workflow: crate::definition::WorkflowDef,
    pub input: Value,
    pub source: String,
}

impl StartArgs {
    /// Loads and validates the workflow and collects the input; `Err(code)` when the workflow
    /// is invalid (the diagnostics are already printed).
    pub fn prepare(
        &self,
        station: &crate::station::Station,
    ) -> anyhow::Result<Result<Prepared, u8>> {
        let Some(path) = resolve_workflow(&self.workflow, station) else {
            return Ok(Err(super::EXIT_USAGE));
        };
        let workflow = match definition::load_file(&path) {
            Ok(workflow) => workflow,
            Err(LoadError::Invalid { path, diagnostics }) => {
                for diagnostic in &diagnostics {
                    eprintln!("{}", diagnostic.render());
                }
                eprintln!("error: {path} is not a valid workflow; nothing was started");
                return Ok(Err(super::EXIT_USAGE));
            }
            Err(LoadError::Io { path, source }) => {
                // Once, not also as the error's cause (`{err:#}` would print it twice).
                eprintln!("error: cannot read {path}: {source}; nothing was started");
                return Ok(Err(super::EXIT_USAGE));
            }
        };
        let mut input = collect_input(self)?;
        if !definition::inputs::report_run_input(&workflow, &mut input) {
            return Ok(Err(super::EXIT_USAGE));
        }
        if let Some(problem) = crate::mailbox::limits::input_problem("the workflow input", &input) {
            eprintln!("error: {problem}; nothing was started");
            return Ok(Err(super::EXIT_USAGE));
        }
        let source = station.relative(&std::path::absolute(&path).unwrap_or_else(|_| path.clone()));
        Ok(Ok(Prepared {
            workflow,
            input,
            source,
        }))
    }
}

/// The file `3ox run NAME` means: NAME itself when it exists or looks like a path, else the
/// station's `templates/NAME.yaml` (or `.yml`, `.json`). `None` when NAME is neither; the
/// reason, with the closest template names, is already printed.
fn resolve_workflow(given: &Path, station: &crate::station::Station) -> Option<PathBuf> {
    let bare = given.components().count() == 1
        && !given
            .as_os_str()
            .to_string_lossy()
            .contains(std::path::MAIN_SEPARATOR);
    if given.exists() || !bare {
        return Some(given.to_path_buf());
    }
    let folder = station.root.join("templates");
    let name = given.to_string_lossy();
    // By workflow name or file name (`inventory_validation`, `inventory-validation`).
    if let Some(template) = crate::templates::find(station, &name) {
        return Some(template.path);
    }
    let candidates = [
        name.to_string(),
        format!("{name}.yaml"),
        format!("{name}.yml"),
        format!("{name}.json"),
    ];
    if let Some(found) = candidates
        .iter()
        .map(|c| folder.join(c))
        .find(|p| p.is_file())
    {
        return Some(found);
    }
    let mut known: Vec<String> = std::fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name().to_string_lossy().into_owned();
            let stem = crate::templates::stem_of(&file)?;
            (!stem.starts_with('.')).then(|| stem.to_string())
        })
        .collect();
    known.sort();
    known.dedup();
    let stem = name
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml")
        .trim_end_matches(".json");
    let mut close: Vec<&String> = known
        .iter()
        .filter(|k| {
            strsim::jaro_winkler(k, stem) > 0.8 || k.contains(stem) || stem.contains(k.as_str())
        })
        .collect();
    close.sort_by(|a, b| strsim::jaro_winkler(b, stem).total_cmp(&strsim::jaro_winkler(a, stem)));
    close.truncate(5);
    let hint = if close.is_empty() && known.is_empty() {
        "the station's templates/ folder holds no workflows".to_string()
    } else if close.is_empty() {
        format!(
            "templates in this station: {}",
            known
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
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
    eprintln!(
        "error: no workflow file {name} and no template templates/{stem}.yaml in this station; nothing was started\n  = hint: {hint}"
    );
    None
}

impl DriveArgs {
    pub fn options(&self) -> RunOptions {
        let mode = if self.quiet || self.json {
            progress::Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            progress::Mode::Live
        } else {
            progress::Mode::Plain
        };
        RunOptions {
            durability: if self.relaxed {
                Durability::Relaxed
            } else {
                Durability::Durable
            },
            progress: mode,
            start_agents: !self.no_agents,
            ..RunOptions::default()
        }
    }
}

/// The runtime for driving runs, with a Ctrl-C watcher; the receiver gets `Control::Stop` on
/// Ctrl-C. One thread by default: each wake-up (a reply seen by the watcher) reaches the run's
/// actor with a single hand-over instead of bouncing between worker threads, which is what a
/// task costs on a busy machine, and one run's file work is short and synchronous anyway.
/// `many_runs` (`3ox up`): a thread per core, so that many runs' work goes on side by side
/// and one slow run (a slow disk, a long script) does not hold the others up.
pub fn runtime_with_stop(
    many_runs: bool,
) -> anyhow::Result<(
    tokio::runtime::Runtime,
    tokio::sync::mpsc::Receiver<Control>,
)> {
    let mut builder = if many_runs {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (stop, control) = tokio::sync::mpsc::channel(1);
    // The handler is installed here, before anything runs: the task below is first polled
    // only when the driver first yields, which may be after it has delivered messages.
    #[cfg(unix)]
    let mut interrupt = {
        let _inside = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .context("cannot listen for Ctrl-C")?
    };
    runtime.spawn(async move {
        #[cfg(unix)]
        let interrupted = interrupt.recv().await.is_some();
        #[cfg(not(unix))]
        let interrupted = tokio::signal::ctrl_c().await.is_ok();
        if interrupted {
            let _ = stop.send(Control::Stop).await;
        }
    });
    Ok((runtime, control))
}

/// The exit code for how a run ended.
pub fn exit_code(outcome: &RunOutcome) -> u8 {
    match outcome.status {
        RunStatus::Completed => super::EXIT_OK,
        RunStatus::Failed | RunStatus::Terminated | RunStatus::TimedOut => super::EXIT_FAILED,
        RunStatus::Running => super::EXIT_INTERRUPTED,
    }
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let Prepared {
        workflow,
        input,
        source,
    } = match args.start.prepare(&station)? {
        Ok(prepared) => prepared,
        Err(code) => return Ok(code),
    };
    let options = args.drive.options();
    let (runtime, control) = runtime_with_stop(false)?;
    let outcome = runtime.block_on(orchestrator::run_workflow(
        &station, workflow, source, input, options, control,
    ));
    // Everything the run needed is done and durable; do not wait for idle runtime threads.
    runtime.shutdown_background();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(OrchestratorError::Refused(reason)) => {
            eprintln!("error: the run was not started:\n{reason}");
            return Ok(super::EXIT_USAGE);
        }
        Err(e) => return Err(e).context("the run stopped"),
    };
    report(&outcome, args.drive.json)?;
    Ok(exit_code(&outcome))
}

/// The run's input: `--input-file`, then each `--input`.
fn collect_input(args: &StartArgs) -> anyhow::Result<Value> {
    let mut input = Map::new();
    if let Some(file) = &args.input_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        match serde_yaml::from_str::<Value>(&text)
            .with_context(|| format!("{} is not YAML", file.display()))?
        {
            Value::Object(map) => input.extend(map),
            Value::Null => {}
            _ => bail!(
                "{} must hold a mapping of input names to values",
                file.display()
            ),
        }
    }
    for pair in &args.inputs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--input `{pair}` is not KEY=VALUE");
        };
        let value = serde_yaml::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_string()));
        input.insert(key.trim().to_string(), value);
    }
    Ok(Value::Object(input))
}

/// A run's outcome as the JSON document `--json` prints.
pub fn outcome_json(outcome: &RunOutcome) -> Value {
    serde_json::json!({
        "run_id": outcome.run_id,
        "workflow": outcome.workflow,
        "status": outcome.status,
        "output": outcome.output,
        "failed_task": outcome.failure.as_ref().and_then(|f| f.task_ref.clone()),
        "failed_attempt": outcome.failed_attempt,
        "reason": outcome.failure.as_ref().map(|f| f.reason.clone()),
        "elapsed_ms": u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
        "tasks": outcome.tasks,
        "retries": outcome.retries,
        "journal": outcome.journal,
    })
}

/// Prints how a run ended: text, or JSON with `json`.
pub fn report(outcome: &RunOutcome, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&outcome_json(outcome))?)?;
        return Ok(());
    }
    let retries = match outcome.retries {
        0 => String::new(),
        1 => ", 1 retry".to_string(),
        n => format!(", {n} retries"),
    };
    outln!(
        "run {} {} in {:.2}s ({} tasks{retries})",
        outcome.run_id,
        outcome.status,
        outcome.elapsed.as_secs_f64(),
        outcome.tasks
    )?;
    if outcome.interrupted {
        outln!(
            "interrupted: the run is still RUNNING in the journal {}",
            outcome.journal.display()
        )?;
    }
    if let Some(failure) = &outcome.failure {
        if let Some(task) = &failure.task_ref {
            let attempt = outcome
                .failed_attempt
                .map(|a| format!(" (attempt {a})"))
                .unwrap_or_default();
            outln!("failed task: {task}{attempt}")?;
        }
        outln!("reason: {}", failure.reason)?;
    }
    if let Some(output) = &outcome.output {
        out!("output:\n{}", indent(&serde_yaml::to_string(output)?))?;
    }
    outln!("journal: {}", outcome.journal.display())?;
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
