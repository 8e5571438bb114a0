//! `3ox status [RUN] [--json]`: one run (default: the newest), read from its journal: status,
//! times, who drives it, each task, and the output or the failure. The view is
//! [`crate::query::status`]; this file prints it. Also the helpers the other read-only
//! commands (`list`, `log`, `history`) print with.
//!
//! Exit 0; an unknown or ambiguous run, or a journal that cannot be read: exit 2.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::engine::RunStatus;
use crate::query::{self, QueryError, StatusView};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id or a unique prefix of it (default: the newest run).
    pub run: Option<String>,
    /// Print the run as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Watch the run live: print its status again each time it changes, until it ends (on a
    /// terminal the screen is redrawn; otherwise each status follows a `--- HH:MM:SS` line).
    #[arg(long, short = 'w', conflicts_with = "json")]
    pub watch: bool,
    /// Print only this task: each attempt with its input, output, reason, heartbeats and
    /// backoff (a HUMAN task's requests and decision, a dynamic fork's forked tasks).
    #[arg(long, value_name = "REF", conflicts_with = "watch")]
    pub task: Option<String>,
    /// List every task (or with --task every forked task), not only the first ones: the
    /// first 20 tasks of each dynamic fork and 500 in all; and the whole output, not only
    /// its first 40 lines.
    #[arg(long)]
    pub all: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    if let Some(task) = &args.task {
        let run = match query::resolve(&station, args.run.as_deref()) {
            Ok(run) => run,
            Err(e) => return Ok(refuse(&e)),
        };
        return super::log::print_task_of(&station, &run, task, args.json, args.all);
    }
    let view = match query::status(&station, args.run.as_deref(), Utc::now()) {
        Ok(view) => view,
        Err(e) => return Ok(refuse(&e)),
    };
    if args.watch {
        return watch(&station, view);
    }
    if args.json {
        print_json(&view)?;
    } else {
        print_status(&view, args.all)?;
    }
    Ok(super::EXIT_OK)
}

/// `--watch`: the status now, then again at each change of the run's journal.
fn watch(station: &crate::station::Station, first: StatusView) -> anyhow::Result<u8> {
    use std::io::IsTerminal as _;
    let run_id = first.run_id.clone();
    let terminal = std::io::stdout().is_terminal();
    let mut first = Some(first);
    super::follow::follow(station, &run_id, || {
        let view = match first.take() {
            Some(view) => view,
            None => match query::status(station, Some(&run_id), Utc::now()) {
                Ok(view) => view,
                Err(e) => return Ok(super::follow::Rendered::Done(refuse(&e))),
            },
        };
        {
            let mut out = std::io::stdout().lock();
            if terminal {
                write!(out, "\x1b[2J\x1b[H")?;
            } else {
                writeln!(out, "--- {}", Utc::now().format("%H:%M:%S"))?;
            }
        }
        print_status(&view, false)?;
        std::io::stdout().lock().flush()?;
        Ok(if view.status == RunStatus::Running {
            super::follow::Rendered::Running
        } else {
            super::follow::Rendered::Done(super::EXIT_OK)
        })
    })
}

/// How many tasks of each dynamic fork the text views list (`--all`: every one).
pub(crate) const FORKED_SHOWN: usize = 20;
/// How many tasks the text views list at most (`--all`: every one).
pub(crate) const TASKS_SHOWN: usize = 500;

/// How many lines of a run's output (as YAML) `status` prints (`--all`: every one).
const OUTPUT_LINES_SHOWN: usize = 40;

/// A line of a paged task list: a task (its index), or a line standing for hidden ones.
pub(crate) enum Paged {
    Task(usize),
    Hidden(String),
}

/// The lines a text view lists for `tasks` (reference and status, in order): every task with
/// `all`; otherwise the first [`FORKED_SHOWN`] of each dynamic fork (`forked`: a forked task's
/// fork and place in it), and at most [`TASKS_SHOWN`] in all, a line for each hidden group.
pub(crate) fn page(
    tasks: &[(&str, String)],
    forked: &std::collections::HashMap<String, (String, usize)>,
    all: bool,
) -> Vec<Paged> {
    if all {
        return (0..tasks.len()).map(Paged::Task).collect();
    }
    // Per fork: how many of its tasks are hidden, by status.
    let mut hidden: indexmap::IndexMap<&str, Vec<(&str, usize)>> = indexmap::IndexMap::new();
    for (task_ref, status) in tasks {
        if let Some((fork, place)) = forked.get(*task_ref)
            && *place >= FORKED_SHOWN
        {
            let counts = hidden.entry(fork.as_str()).or_default();
            match counts.iter_mut().find(|(s, _)| s == status) {
                Some((_, n)) => *n += 1,
                None => counts.push((status.as_str(), 1)),
            }
        }
    }
    let mut lines = Vec::new();
    let mut shown = 0;
    for (i, (task_ref, _)) in tasks.iter().enumerate() {
        match forked.get(*task_ref) {
            Some((fork, place)) if *place >= FORKED_SHOWN => {
                if let Some(counts) = hidden.swap_remove(fork.as_str()) {
                    let total: usize = counts.iter().map(|(_, n)| n).sum();
                    let by: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
                    lines.push(Paged::Hidden(format!(
                        "+{total} more tasks forked by {fork} ({}); --all lists them",
                        by.join(", ")
                    )));
                }
            }
            _ if shown >= TASKS_SHOWN => {
                let rest = tasks.len() - i;
                lines.push(Paged::Hidden(format!(
                    "+{rest} more tasks; --all lists them"
                )));
                break;
            }
            _ => {
                shown += 1;
                lines.push(Paged::Task(i));
            }
        }
    }
    lines
}

/// Reports a query error on stderr with its hint; returns the exit code (2).
pub(crate) fn refuse(error: &QueryError) -> u8 {
    eprintln!("error: {error}\nhint: {}", error.hint());
    super::EXIT_USAGE
}

/// Prints `value` as pretty JSON on stdout (a broken pipe comes back as an io error).
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

/// `1.234s`.
pub(crate) fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    format!("{sign}{}.{:03}s", ms / 1000, ms % 1000)
}

/// `2026-11-24T04:15:05.123Z`.
pub(crate) fn when(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `value` as one line of JSON, cut to `max` characters.
pub(crate) fn brief(value: &serde_json::Value, max: usize) -> String {
    let text = value.to_string();
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max.saturating_sub(3)).collect();
        format!("{cut}...")
    }
}

/// Lines of `rows` with each column padded to its widest cell (see [`super::table`]).
pub(crate) fn table(rows: &[Vec<String>]) -> Vec<String> {
    super::table::lines(rows)
}

fn print_status(view: &StatusView, all: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let paused = if view.paused {
        " (PAUSED: nothing new is delivered until `3ox resume RUN`)"
    } else {
        ""
    };
    writeln!(out, "run {} {}{paused}", view.run_id, view.status)?;
    writeln!(
        out,
        "workflow: {} v{} ({})",
        view.workflow.name, view.workflow.version, view.workflow.source
    )?;
    if let Some(started) = view.started_at {
        writeln!(out, "started:  {}", when(started))?;
    }
    match view.ended_at {
        Some(ended) => writeln!(
            out,
            "ended:    {} after {}",
            when(ended),
            seconds(view.elapsed_ms.try_into().unwrap_or(i64::MAX))
        )?,
        None => writeln!(
            out,
            "running for {}",
            seconds(view.elapsed_ms.try_into().unwrap_or(i64::MAX))
        )?,
    }
    let driver = match (&view.driver.holder, view.driver.held) {
        (Some(holder), true) => format!("driven by {holder}"),
        (None, true) => "driven by another process".to_string(),
        (_, false) if view.status == RunStatus::Running => format!(
            "nobody drives it; `3ox up` or `3ox resume {}` takes it",
            view.run_id
        ),
        (_, false) => "nobody (the run has ended)".to_string(),
    };
    writeln!(out, "driver:   {driver}")?;
    let retries = match view.retries {
        0 => String::new(),
        1 => ", 1 retry".to_string(),
        n => format!(", {n} retries"),
    };
    writeln!(out, "tasks ({}{retries}):", view.tasks.len())?;
    let statuses: Vec<(&str, String)> = view
        .tasks
        .iter()
        .map(|t| (t.task_ref.as_str(), t.status.to_string()))
        .collect();
    let paged = page(&statuses, &view.forked, all);
    let rows: Vec<Vec<String>> = paged
        .iter()
        .filter_map(|line| match line {
            Paged::Task(i) => Some(&view.tasks[*i]),
            Paged::Hidden(_) => None,
        })
        .map(|t| {
            let attempt = if t.attempt > 0 {
                format!("attempt {}", t.attempt)
            } else {
                "-".to_string()
            };
            let mut note = t.reason.clone().unwrap_or_default();
            if let Some(retry_at) = t.retry_at {
                note = format!("{note}; retry at {}", when(retry_at));
            }
            if let Some(until) = t.waits_until {
                note = format!("waits until {}", when(until));
            }
            if let Some(a) = &t.approval {
                let deadline = a
                    .deadline
                    .map(|d| format!(" (deadline {})", when(d)))
                    .unwrap_or_default();
                note = match (&a.status, &a.decided_by, a.closed_at) {
                    (crate::engine::ApprovalStatus::Open, _, _) => {
                        format!("waits for approval by {}{deadline}", a.approver)
                    }
                    (crate::engine::ApprovalStatus::Decided(d), Some(by), Some(at)) => {
                        format!("{} by {by} at {}", d.outcome(), when(at))
                    }
                    _ => note,
                };
            }
            vec![
                format!("  {}", t.task_ref),
                t.type_name.clone(),
                t.status.to_string(),
                attempt,
                t.agent.clone().unwrap_or_default(),
                note,
            ]
        })
        .collect();
    let mut rows = table(&rows).into_iter();
    for line in &paged {
        match line {
            Paged::Task(_) => writeln!(out, "{}", rows.next().unwrap_or_default())?,
            Paged::Hidden(text) => writeln!(out, "  {text}")?,
        }
    }
    if let Some(failure) = &view.failure {
        if let Some(task) = &failure.task_ref {
            writeln!(out, "failed task: {task}")?;
        }
        writeln!(out, "reason: {}", failure.reason)?;
    }
    if let Some(output) = &view.output {
        let yaml = serde_yaml::to_string(output)?;
        writeln!(out, "output:")?;
        let lines: Vec<&str> = yaml.lines().collect();
        let shown = if all {
            lines.len()
        } else {
            lines.len().min(OUTPUT_LINES_SHOWN)
        };
        for line in &lines[..shown] {
            writeln!(out, "  {line}")?;
        }
        if shown < lines.len() {
            writeln!(
                out,
                "  ... +{} more lines; --all or --json shows the whole output",
                lines.len() - shown
            )?;
        }
    }
    if let Some(parent) = &view.parent {
        let task = parent
            .task_ref
            .as_deref()
            .map_or_else(String::new, |t| format!(", task {t}"));
        writeln!(
            out,
            "started by: run {} ({}{task})",
            parent.run_id, parent.kind
        )?;
    }
    if !view.children.is_empty() {
        writeln!(out, "child runs:")?;
        for child in &view.children {
            let task = child
                .task_ref
                .as_deref()
                .map_or_else(String::new, |t| format!(" by {t}"));
            writeln!(
                out,
                "  {} {} `{}` ({}{task})",
                child.run_id, child.status, child.name, child.kind
            )?;
        }
    }
    writeln!(out, "journal: {}", view.journal)?;
    Ok(())
}
