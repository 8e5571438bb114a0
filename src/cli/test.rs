//! `3ox test <workflow> --mock <mocks.yaml>`: run a workflow with mocked task outcomes, in
//! memory and on a simulated clock, and print the path it took.
//!
//! No station, no agents, no journal: nothing is read but the two files and nothing is
//! written. Exit code 0 when the run came to what was expected (by default: COMPLETED), 1
//! when it did not (FAILED, stuck, or an `expect:` mismatch), 2 for bad usage, an invalid
//! workflow or a bad mocks file (with line and column), or a mock that does not fit the run.
//! The library side is [`crate::testing`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::definition::{self, LoadError};
use crate::engine::tasks::sub_workflow::ChildKind;
use crate::engine::{Change, RunStatus};
use crate::testing::{self, ChildMode, MockFile, MocksError, TestRun};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow file (YAML or JSON).
    pub workflow: PathBuf,
    /// The mocks file: task outcomes, the workflow input, approvals, `expect:`. Without it
    /// only tasks the engine runs itself can run.
    #[arg(long, short = 'm', value_name = "MOCKS")]
    pub mock: Option<PathBuf>,
    /// An input value over the mocks file's `input` (VALUE is read as YAML, like `3ox run
    /// --input`). Repeatable; later values win.
    #[arg(long = "input", short = 'i', value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// The status the run must end with (default: the mocks file's `expect.status`, else
    /// COMPLETED).
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub expect_status: Option<RunStatus>,
    /// Print one JSON document (the path, the result, the expectations) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Show each task's input too.
    #[arg(long, short)]
    pub verbose: bool,
}

fn parse_status(text: &str) -> Result<RunStatus, String> {
    match text.to_ascii_uppercase().as_str() {
        "COMPLETED" => Ok(RunStatus::Completed),
        "FAILED" => Ok(RunStatus::Failed),
        "TERMINATED" => Ok(RunStatus::Terminated),
        _ => Err("expected COMPLETED, FAILED or TERMINATED".to_string()),
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let workflow = match definition::load_file(&args.workflow) {
        Ok(workflow) => workflow,
        Err(LoadError::Invalid { path, diagnostics }) => {
            for diagnostic in &diagnostics {
                eprintln!("{}", diagnostic.render());
            }
            eprintln!("error: {path} is not a valid workflow; nothing was run");
            return Ok(super::EXIT_USAGE);
        }
        Err(e @ LoadError::Io { .. }) => return Err(e.into()),
    };
    let mut mocks = match &args.mock {
        None => MockFile::default(),
        Some(path) => match MockFile::load(path) {
            Ok(mocks) => mocks,
            Err(MocksError::Invalid { path, diagnostics }) => {
                for diagnostic in &diagnostics {
                    eprintln!("{}", diagnostic.render());
                }
                eprintln!("error: {path} is not a valid mocks file; nothing was run");
                return Ok(super::EXIT_USAGE);
            }
            Err(e @ MocksError::Io { .. }) => return Err(e.into()),
        },
    };
    for pair in &args.inputs {
        let Some((key, value)) = pair.split_once('=') else {
            anyhow::bail!("--input `{pair}` is not KEY=VALUE");
        };
        let value = serde_yaml::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_string()));
        if let Value::Object(input) = &mut mocks.input {
            input.insert(key.trim().to_string(), value);
        }
    }
    if !definition::inputs::report_run_input(&workflow, &mut mocks.input) {
        return Ok(super::EXIT_USAGE);
    }
    if let Some(status) = args.expect_status {
        mocks.expect.status = Some(status);
    }
    mocks.expect.status.get_or_insert(RunStatus::Completed);
    // With `children: run`, children named (not inline) are looked up as `3ox run` does, in
    // the station the workflow file is in.
    let station = (mocks.children == ChildMode::Run)
        .then(|| {
            let dir = args
                .workflow
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            crate::station::Station::discover(dir).ok()
        })
        .flatten();
    let source = args.workflow.display().to_string();
    let run = testing::Simulation::new(&mocks)
        .station(station)
        .run(Arc::new(workflow), &source);
    if let Some(error) = &run.error {
        // The path up to the task without a fitting mock, then what is missing.
        let text = if args.json {
            serde_json::to_string_pretty(&report(&args, &mocks, &run, &[]))? + "\n"
        } else {
            render_path(&args, &run)
        };
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        eprintln!("error: {error}");
        return Ok(super::EXIT_USAGE);
    }
    let mut mismatches = Vec::new();
    if let Some(stuck) = &run.stuck {
        mismatches.push(format!("the run did not end: {stuck}"));
    }
    mismatches.extend(mocks.expect.check(&run.state));
    let passed = mismatches.is_empty();
    let text = if args.json {
        serde_json::to_string_pretty(&report(&args, &mocks, &run, &mismatches))? + "\n"
    } else {
        render(&args, &mocks, &run, &mismatches)
    };
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e.into());
    }
    Ok(if passed {
        super::EXIT_OK
    } else {
        super::EXIT_FAILED
    })
}

/// `+0s`, `+1h 30m`: simulated time since the start.
fn offset(run: &TestRun, at: chrono::DateTime<chrono::Utc>) -> String {
    let elapsed = (at - run.started_at).to_std().unwrap_or_default();
    format!("+{}", humantime::format_duration(elapsed))
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The text report: one line per change, then the result and the expectations.
fn render(args: &Args, mocks: &MockFile, run: &TestRun, mismatches: &[String]) -> String {
    let mut out = render_path(args, run);
    out.push('\n');
    let state = &run.state;
    let tasks = state.tasks.len();
    out.push_str(&format!(
        "result: {} after {} of simulated time ({} task{}, {} retr{})\n",
        if run.stuck.is_some() {
            "STUCK".to_string()
        } else {
            state.status.to_string()
        },
        humantime::format_duration(run.elapsed().to_std().unwrap_or_default()),
        tasks,
        if tasks == 1 { "" } else { "s" },
        state.retries,
        if state.retries == 1 { "y" } else { "ies" },
    ));
    if let Some(output) = &state.output {
        out.push_str(&format!("output: {}\n", compact(output)));
    }
    if let Some(failure) = &state.failure {
        out.push_str(&format!("reason: {}\n", failure.reason));
    }
    for key in &run.unused_mocks {
        out.push_str(&format!(
            "note: the mock for `{key}` was not used (no task with that reference or name ran)\n"
        ));
    }
    let checks = mocks.expect.count();
    if mismatches.is_empty() {
        out.push_str(&format!(
            "PASS: {} expectation{} met\n",
            checks,
            if checks == 1 { "" } else { "s" }
        ));
    } else {
        out.push_str("FAIL:\n");
        for mismatch in mismatches {
            out.push_str(&format!("  - {mismatch}\n"));
        }
    }
    out
}

/// The head line and one line per change.
fn render_path(args: &Args, run: &TestRun) -> String {
    let mut out = format!(
        "test {} ({}){}\n",
        run.state.workflow.name,
        args.workflow.display(),
        args.mock
            .as_deref()
            .map(|m| format!(" with {}", m.display()))
            .unwrap_or_default()
    );
    let mut lines = Vec::new();
    path_lines(run, run, "", args.verbose, &mut lines);
    let when_width = lines.iter().map(|l| l.0.len()).max().unwrap_or(0);
    let who_width = lines
        .iter()
        .map(|l| l.1.chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    for (when, who, what) in &lines {
        out.push_str(&format!("{when:>when_width$}  {who:<who_width$}  {what}\n"));
    }
    out
}

/// The lines of `sub`'s path (`top` or one of its children, nested): (when, who, what),
/// times counted from `top`'s start, subjects prefixed with `prefix`. A child run in the
/// simulation (`children: run`) shows its own lines right after its start, under
/// `<task>/`.
fn path_lines(
    top: &TestRun,
    sub: &TestRun,
    prefix: &str,
    verbose: bool,
    lines: &mut Vec<(String, String, String)>,
) {
    for (change, at) in &sub.events {
        if let Some((who, what)) = describe(sub, top.started_at, change, verbose) {
            lines.push((offset(top, *at), format!("{prefix}{who}"), what));
        }
        if let Change::ChildRunStarted { child_run_id, .. } = change
            && let Some(child) = sub
                .children
                .iter()
                .find(|c| &c.child_run_id == child_run_id)
        {
            let prefix = format!("{prefix}{}/", child.task_ref);
            path_lines(top, &child.run, &prefix, verbose, lines);
        }
    }
}

/// The subject and text of a change's line; `None` for changes not worth a line.
fn describe(
    run: &TestRun,
    origin: chrono::DateTime<chrono::Utc>,
    change: &Change,
    verbose: bool,
) -> Option<(String, String)> {
    // Times in the text count from the tested run's start (`origin`), children's too.
    let offset = |_: &TestRun, at: chrono::DateTime<chrono::Utc>| {
        format!(
            "+{}",
            humantime::format_duration((at - origin).to_std().unwrap_or_default())
        )
    };
    let type_of = |task_ref: &str| {
        run.state
            .tasks
            .get(task_ref)
            .map_or_else(|| "SIMPLE".to_string(), |t| t.type_name.clone())
    };
    let line = match change {
        Change::RunStarted { input, .. } => (
            "run".to_string(),
            format!("started  input: {}", compact(input)),
        ),
        Change::TaskScheduled {
            task_ref,
            attempt,
            agent,
            input,
            ..
        } => {
            let mut text = format!("{} attempt {attempt} scheduled", type_of(task_ref));
            if agent != testing::driver::MOCK_AGENT {
                text.push_str(&format!(" to agent `{agent}`"));
            }
            if verbose {
                text.push_str(&format!("  input: {}", compact(input)));
            }
            (task_ref.clone(), text)
        }
        Change::TaskHeartbeat { task_ref, note, .. } => (
            task_ref.clone(),
            format!(
                "in progress{}",
                note.as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
        ),
        Change::TaskCompleted {
            task_ref,
            task_id,
            input,
            output,
        } => {
            let type_name = type_of(task_ref);
            let text = match output.get("selectedCase").and_then(Value::as_str) {
                Some(case) if type_name == "SWITCH" => format!("SWITCH chose case `{case}`"),
                _ => {
                    // A system task (decided by the engine) says its type.
                    let mut text = match task_id {
                        Some(_) => format!("COMPLETED  output: {}", compact(output)),
                        None => format!("{type_name} COMPLETED  output: {}", compact(output)),
                    };
                    if verbose && let Some(input) = input {
                        text.push_str(&format!("  input: {}", compact(input)));
                    }
                    text
                }
            };
            (task_ref.clone(), text)
        }
        Change::TaskFailed {
            task_ref,
            reason,
            retry_at,
            outcome,
            ..
        } => {
            let text = match retry_at {
                Some(at) => format!("FAILED: {reason}; retry at {}", offset(run, *at)),
                None => format!("{outcome}: {reason}"),
            };
            (task_ref.clone(), text)
        }
        Change::ForkExpanded { task_ref, tasks } => {
            let refs: Vec<&str> = tasks
                .iter()
                .map(|t| t.task_reference_name.as_str())
                .collect();
            (task_ref.clone(), format!("forks {}", refs.join(", ")))
        }
        Change::ApprovalRequested {
            task_ref,
            approver,
            deadline,
            on_deadline,
            ..
        } => {
            let until = deadline
                .map(|d| format!(" (deadline {}, then {on_deadline})", offset(run, d)))
                .unwrap_or_default();
            (
                task_ref.clone(),
                format!("HUMAN approval requested from `{approver}`{until}"),
            )
        }
        Change::ApprovalDecided {
            task_ref,
            decision,
            by,
            comment,
            reason,
            ..
        } => {
            let why = reason
                .as_deref()
                .or(comment.as_deref())
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            (
                task_ref.clone(),
                format!("{} by {by}{why}", decision.outcome()),
            )
        }
        Change::ApprovalExpired {
            task_ref, policy, ..
        } => (
            task_ref.clone(),
            format!("deadline passed with no decision (onDeadline: {policy})"),
        ),
        Change::ReplyRejected {
            task_id, reason, ..
        } => (
            task_id.clone().unwrap_or_else(|| "reply".to_string()),
            format!("mocked answer refused: {reason}"),
        ),
        Change::RunCompleted { output } => (
            "run".to_string(),
            format!("COMPLETED  output: {}", compact(output)),
        ),
        Change::RunFailed { reason, .. } => ("run".to_string(), format!("FAILED: {reason}")),
        Change::HttpCallStarted {
            task_ref,
            attempt,
            request,
            input,
            ..
        } => {
            let mut text = format!("HTTP attempt {attempt}: {} {}", request.method, request.uri);
            if verbose {
                text.push_str(&format!("  input: {}", compact(input)));
            }
            (task_ref.clone(), text)
        }
        Change::WaitStarted {
            task_ref, until, ..
        } => {
            let text = match until {
                Some(at) => format!("WAIT until {}", offset(run, *at)),
                None => "WAIT for completion from outside (`3ox complete`)".to_string(),
            };
            (task_ref.clone(), text)
        }
        Change::TaskUpdatedBy {
            task_ref,
            status,
            by,
            reason,
            ..
        } => (
            task_ref.clone(),
            format!(
                "{status} from outside by {by}{}",
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        Change::ChildRunStarted {
            kind,
            task_ref,
            name,
            input,
            ..
        } => {
            let mut shown = input.clone();
            if !verbose && let Some(fields) = shown.as_object_mut() {
                // The failed run as Conductor describes it: long, and the path shows it.
                fields.remove("failedWorkflow");
            }
            let what = match kind {
                ChildKind::SubWorkflow => "SUB_WORKFLOW starts child",
                ChildKind::StartWorkflow => "START_WORKFLOW starts (not waited for)",
                ChildKind::FailureWorkflow => "failureWorkflow starts",
            };
            (
                task_ref.clone().unwrap_or_else(|| "run".to_string()),
                format!("{what} `{name}`  input: {}", compact(&shown)),
            )
        }
        Change::ChildRunEnded {
            child_run_id,
            status,
            output,
            reason,
        } => {
            let who = run
                .state
                .children
                .get(child_run_id)
                .and_then(|c| c.task_ref.clone())
                .unwrap_or_else(|| "run".to_string());
            let text = match reason {
                Some(reason) => format!("child run ended {status}: {reason}"),
                None => format!("child run ended {status}  output: {}", compact(output)),
            };
            (who, text)
        }
        Change::LoopIterationStarted {
            task_ref,
            iteration,
            ..
        } => (task_ref.clone(), format!("DO_WHILE iteration {iteration}")),
        Change::EventPublished {
            task_ref,
            event_name,
            payload,
            ..
        } => (
            task_ref.clone(),
            format!(
                "EVENT published to {event_name}  payload: {}",
                compact(payload)
            ),
        ),
        Change::VariablesSet {
            task_ref,
            variables,
        } => (
            task_ref.clone(),
            format!("SET_VARIABLE {}", compact(variables)),
        ),
        Change::DynamicTaskChosen {
            task_ref,
            task_name,
        } => (task_ref.clone(), format!("DYNAMIC chose `{task_name}`")),
        Change::RunEndedByTask {
            task_ref,
            status,
            reason,
            output,
        } => (
            task_ref.clone(),
            format!(
                "TERMINATE ends the run {status}{}  output: {}",
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
                compact(output)
            ),
        ),
        Change::TaskClaimed { task_ref, .. } => (task_ref.clone(), "message claimed".to_string()),
        Change::TaskTimedOut {
            task_ref, reason, ..
        } => (task_ref.clone(), format!("timed out: {reason}")),
        Change::TaskCanceled {
            task_ref, reason, ..
        } => (
            task_ref.clone(),
            format!("CANCELED: {}", reason.trim_start_matches("canceled: ")),
        ),
        // Changes other areas add: their event name and fields.
        other => {
            let mut fields = event_fields(other);
            let event = fields
                .remove("event")
                .and_then(|e| e.as_str().map(str::to_owned))
                .unwrap_or_default();
            let who = fields
                .remove("task_ref")
                .and_then(|e| e.as_str().map(str::to_owned))
                .unwrap_or_else(|| "run".to_string());
            let rest = if fields.is_empty() {
                String::new()
            } else {
                format!("  {}", compact(&Value::Object(fields)))
            };
            (who, format!("{event}{rest}"))
        }
    };
    Some(line)
}

/// A change as JSON without what only matters to a real run (tokens, the whole definition).
fn event_fields(change: &Change) -> Map<String, Value> {
    let mut fields = match serde_json::to_value(change) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    fields.remove("token");
    fields.remove("workflow");
    fields
}

/// `sub`'s events as JSON, times counted from `top`'s start.
fn events_json(top: &TestRun, sub: &TestRun) -> Vec<Value> {
    sub.events
        .iter()
        .map(|(change, at)| {
            let mut fields = Map::new();
            fields.insert("at".into(), json!(offset(top, *at)));
            fields.insert(
                "at_seconds".into(),
                json!((*at - top.started_at).num_milliseconds() as f64 / 1000.0),
            );
            fields.extend(event_fields(change));
            Value::Object(fields)
        })
        .collect()
}

/// The child runs simulated under `sub` (`children: run`), each with its events and its own
/// children.
fn children_json(top: &TestRun, sub: &TestRun) -> Vec<Value> {
    sub.children
        .iter()
        .map(|child| {
            json!({
                "task_ref": child.task_ref,
                "run_id": child.child_run_id,
                "workflow": child.run.state.workflow.name,
                "status": child.run.state.status,
                "output": child.run.state.output,
                "stuck": child.run.stuck,
                "events": events_json(top, &child.run),
                "children": children_json(top, &child.run),
            })
        })
        .collect()
}

/// The `--json` document.
fn report(args: &Args, mocks: &MockFile, run: &TestRun, mismatches: &[String]) -> Value {
    let state = &run.state;
    let events = events_json(run, run);
    let tasks: Vec<Value> = state
        .tasks
        .values()
        .map(|t| {
            json!({
                "task_ref": t.task_ref,
                "type": t.type_name,
                "status": t.status,
                "attempts": t.attempt,
                "input": t.input,
                "output": t.output,
                "reason": t.reason,
            })
        })
        .collect();
    json!({
        "workflow": state.workflow.name,
        "file": args.workflow.display().to_string(),
        "mocks": args.mock.as_deref().map(Path::display).map(|d| d.to_string()),
        "status": if run.error.is_some() {
            "ERROR".to_string()
        } else if run.stuck.is_some() {
            "STUCK".to_string()
        } else {
            state.status.to_string()
        },
        "passed": run.error.is_none() && mismatches.is_empty(),
        "error": run.error.as_ref().map(ToString::to_string),
        "output": state.output,
        "failure": state.failure,
        "stuck": run.stuck,
        "elapsed_seconds": run.elapsed().num_milliseconds() as f64 / 1000.0,
        "retries": state.retries,
        "events": events,
        "children": children_json(run, run),
        "tasks": tasks,
        "unused_mocks": run.unused_mocks,
        "expect": {
            "checks": mocks.expect.count(),
            "mismatches": mismatches,
        },
    })
}
