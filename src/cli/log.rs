//! `3ox log RUN [--json]`: a run's journal as a readable timeline: the start with its input,
//! one block per task (in order of first start) with each attempt or the engine's decision,
//! the replies the run refused, and the end. The view is [`crate::query::log`].
//!
//! `--task REF` prints one task instead ([`crate::query::task`]): each attempt with its
//! input, output, reason, heartbeats and backoff; a HUMAN task's requests and decision; a
//! dynamic fork's forked tasks. `3ox status --task` prints the same.
//!
//! Exit 0; an unknown or ambiguous run, an unknown task, or a journal that cannot be read:
//! exit 2.

use std::io::Write as _;
use std::path::Path;

use super::status::{brief, print_json, refuse, seconds, when};
use crate::engine::{ApprovalStatus, TaskStatus};
use crate::query::task::{TaskError, TaskView};
use crate::query::{self, AttemptLog, Decided, RunLog, Stamp};

use super::status::FORKED_SHOWN;
/// Longest input or output printed on one line by `--task` (JSON has them whole).
const VALUE_CHARS: usize = 300;

/// `--task REF` of `3ox log` and `3ox status`: prints one task, as text or JSON.
pub(crate) fn print_task_of(
    station: &crate::station::Station,
    run: &str,
    task: &str,
    json: bool,
    all: bool,
) -> anyhow::Result<u8> {
    let view = match query::task::task(station, run, task) {
        Ok(view) => view,
        Err(TaskError::Query(e)) => return Ok(refuse(&e)),
        Err(e) => {
            eprintln!("error: {e}\nhint: {}", e.hint());
            return Ok(super::EXIT_USAGE);
        }
    };
    if json {
        print_json(&view)?;
    } else {
        write_task(&mut std::io::stdout().lock(), &view, all)?;
    }
    Ok(super::EXIT_OK)
}

fn write_task(out: &mut impl std::io::Write, v: &TaskView, all: bool) -> anyhow::Result<()> {
    let name = if v.name != v.task_ref {
        format!(", name {}", v.name)
    } else {
        String::new()
    };
    writeln!(
        out,
        "task {} ({}{name}) of run {}: {}",
        v.task_ref, v.type_name, v.run_id, v.status
    )?;
    if !v.input.is_null() {
        writeln!(out, "input:  {}", brief(&v.input, VALUE_CHARS))?;
    }
    if !v.output.is_null() {
        writeln!(out, "output: {}", brief(&v.output, VALUE_CHARS))?;
    }
    if let Some(reason) = &v.reason {
        writeln!(out, "reason: {reason}")?;
    }
    if let Some(due) = &v.delayed_until {
        writeln!(out, "start delayed until {}", offset(due))?;
    }
    if let Some(wait) = &v.wait {
        writeln!(out, "{}  {}", offset(&wait.started), wait_line(wait))?;
    }
    if !v.attempts.is_empty() {
        let retries = match v.retries {
            0 => String::new(),
            1 => ", 1 retry".to_string(),
            n => format!(", {n} retries"),
        };
        writeln!(out, "attempts ({}{retries}):", v.attempts.len())?;
        for a in &v.attempts {
            let claimed = a
                .claimed
                .as_ref()
                .map(|c| format!(", claimed {}", offset(c)))
                .unwrap_or_default();
            let ended = match (&a.ended, a.took_ms) {
                (Some(end), Some(took)) => {
                    format!(", ended {} after {}", offset(end), seconds(took))
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "  attempt {}  {}  {} to {}{claimed}{ended}  (task id {})",
                a.attempt,
                a.status,
                offset(&a.scheduled),
                a.agent,
                a.task_id
            )?;
            writeln!(out, "    input:  {}", brief(&a.input, VALUE_CHARS))?;
            if let Some(output) = &a.output {
                writeln!(out, "    output: {}", brief(output, VALUE_CHARS))?;
            }
            if let Some(reason) = &a.reason {
                writeln!(out, "    reason: {reason}")?;
            }
            if let (Some(due), Some(backoff)) = (&a.retry_at, a.backoff_ms) {
                writeln!(
                    out,
                    "    retry due {} (backoff {})",
                    offset(due),
                    seconds(backoff)
                )?;
            }
            for beat in &a.heartbeats {
                let note = beat.note.as_deref().map(|n| format!(": {n}"));
                writeln!(
                    out,
                    "    {}  heartbeat{}",
                    offset(&beat.at),
                    note.unwrap_or_default()
                )?;
            }
        }
    }
    if let Some(d) = &v.decided {
        let why = d
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        writeln!(out, "decided {}  {}{why}", offset(&d.at), d.outcome)?;
    }
    for a in &v.approvals {
        write_approval(out, a, "")?;
    }
    if let Some(n) = v.iterations {
        writeln!(out, "iterations: {n}")?;
    }
    if !v.forked.is_empty() {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for f in &v.forked {
            match counts.iter_mut().find(|(s, _)| *s == f.status) {
                Some((_, c)) => *c += 1,
                None => counts.push((&f.status, 1)),
            }
        }
        let counts: Vec<String> = counts.iter().map(|(s, c)| format!("{c} {s}")).collect();
        writeln!(
            out,
            "forked {} tasks ({}):",
            v.forked.len(),
            counts.join(", ")
        )?;
        let shown = if all {
            v.forked.len()
        } else {
            v.forked.len().min(FORKED_SHOWN)
        };
        let rows: Vec<Vec<String>> = v.forked[..shown]
            .iter()
            .map(|f| {
                vec![
                    format!("  {}", f.task_ref),
                    f.status.clone(),
                    if f.attempt > 0 {
                        format!("attempt {}", f.attempt)
                    } else {
                        "-".to_string()
                    },
                ]
            })
            .collect();
        for line in super::status::table(&rows) {
            writeln!(out, "{line}")?;
        }
        if shown < v.forked.len() {
            writeln!(out, "  +{} more (--all lists them)", v.forked.len() - shown)?;
        }
    }
    if !v.children.is_empty() {
        writeln!(out, "child runs:")?;
        for c in &v.children {
            writeln!(out, "  {} {} `{}` ({})", c.run_id, c.status, c.name, c.kind)?;
        }
    }
    if !v.notes.is_empty() {
        writeln!(out, "notes:")?;
        for n in &v.notes {
            writeln!(out, "  {}  {}", offset(&n.at), n.what)?;
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id or a unique prefix of it.
    pub run: String,
    /// Print the timeline as JSON on stdout (with absolute times).
    #[arg(long)]
    pub json: bool,
    /// Follow the run live: print the timeline, then each line that is new or changed as the
    /// run goes on, until it ends.
    #[arg(long, short = 'f', conflicts_with = "json")]
    pub follow: bool,
    /// Print only this task: each attempt with its input, output, reason, heartbeats and
    /// backoff (a HUMAN task's requests and decision, a dynamic fork's forked tasks).
    #[arg(long, value_name = "REF", conflicts_with = "follow")]
    pub task: Option<String>,
    /// List every task (with --task: every forked task), not only the first ones: the first
    /// 20 tasks of each dynamic fork and 500 in all.
    #[arg(long)]
    pub all: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    if let Some(task) = &args.task {
        return print_task_of(&station, &args.run, task, args.json, args.all);
    }
    let log = match query::log(&station, &args.run) {
        Ok(log) => log,
        Err(e) => return Ok(refuse(&e)),
    };
    if args.follow {
        return follow(&station, log);
    }
    if args.json {
        print_json(&log)?;
    } else {
        print_log(&log, args.all)?;
    }
    Ok(super::EXIT_OK)
}

/// `--follow`: the whole timeline first, then the lines each change adds or changes.
fn follow(station: &crate::station::Station, first: RunLog) -> anyhow::Result<u8> {
    let run_id = first.run_id.clone();
    let mut first = Some(first);
    let mut shown: std::collections::HashSet<String> = std::collections::HashSet::new();
    super::follow::follow(station, &run_id, || {
        let log = match first.take() {
            Some(log) => log,
            None => match query::log(station, &run_id) {
                Ok(log) => log,
                Err(e) => return Ok(super::follow::Rendered::Done(refuse(&e))),
            },
        };
        let mut text = Vec::new();
        write_log(&mut text, &log, true)?;
        let text = String::from_utf8_lossy(&text).into_owned();
        let mut out = std::io::stdout().lock();
        for line in text.lines() {
            if shown.insert(line.to_string()) {
                writeln!(out, "{line}")?;
            }
        }
        out.flush()?;
        Ok(if log.status == crate::engine::RunStatus::Running {
            super::follow::Rendered::Running
        } else {
            super::follow::Rendered::Done(super::EXIT_OK)
        })
    })
}

/// `wait started, until 2026-...` of a WAIT.
fn wait_line(wait: &query::task::WaitView) -> String {
    let until = wait.until.map_or_else(
        || "until `3ox complete`".to_string(),
        |u| format!("until {}", when(u)),
    );
    format!("wait started, {until}")
}

/// A HUMAN task's approval request: to whom, what, by when; then who decided, or that it
/// waits.
fn write_approval(
    out: &mut impl std::io::Write,
    a: &query::task::ApprovalView,
    indent: &str,
) -> anyhow::Result<()> {
    let question = a
        .question
        .as_deref()
        .map(|q| format!(" {q:?}"))
        .unwrap_or_default();
    let deadline = a
        .deadline
        .map(|d| format!(", deadline {}", when(d)))
        .unwrap_or_default();
    let escalated = a
        .escalated_from
        .as_deref()
        .map(|e| format!(" (escalated from {e})"))
        .unwrap_or_default();
    writeln!(
        out,
        "{indent}{}  approval request {} to {}{escalated}{question}{deadline}",
        offset(&a.requested),
        a.request_id,
        a.approver,
    )?;
    match (&a.decision, &a.expired, a.status) {
        (Some(d), _, _) => {
            writeln!(
                out,
                "{indent}  {} by {} at {} ({})",
                d.decision.outcome(),
                d.by,
                when(d.at.at),
                offset(&d.at)
            )?;
            if let Some(comment) = &d.comment {
                writeln!(out, "{indent}  comment: {comment}")?;
            }
            if let Some(reason) = &d.reason {
                writeln!(out, "{indent}  reason: {reason}")?;
            }
        }
        (None, Some((at, policy)), _) => {
            writeln!(
                out,
                "{indent}  expired {} (onDeadline {policy:?})",
                offset(at)
            )?;
        }
        (None, None, ApprovalStatus::Open) => {
            writeln!(out, "{indent}  waiting for {}", a.approver)?;
        }
        (None, None, status) => writeln!(out, "{indent}  {status:?}")?,
    }
    Ok(())
}

/// `+0.412s`.
fn offset(stamp: &Stamp) -> String {
    if stamp.offset_ms < 0 {
        seconds(stamp.offset_ms)
    } else {
        format!("+{}", seconds(stamp.offset_ms))
    }
}

fn print_log(log: &RunLog, all: bool) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_log(&mut out, log, all)?;
    out.flush()?;
    Ok(())
}

fn write_log(out: &mut impl std::io::Write, log: &RunLog, all: bool) -> anyhow::Result<()> {
    writeln!(
        out,
        "run {} of {} v{} ({}): {}",
        log.run_id, log.workflow.name, log.workflow.version, log.workflow.source, log.status
    )?;
    writeln!(
        out,
        "{}  run started, input {}",
        offset(&log.started.at),
        brief(&log.started.input, 100)
    )?;
    let statuses: Vec<(&str, String)> = log
        .tasks
        .iter()
        .map(|t| (t.task_ref.as_str(), t.status.to_string()))
        .collect();
    for line in super::status::page(&statuses, &log.forked, all) {
        let task = match line {
            super::status::Paged::Task(i) => &log.tasks[i],
            super::status::Paged::Hidden(text) => {
                writeln!(out, "{text}")?;
                continue;
            }
        };
        write!(
            out,
            "task {} ({}): {}",
            task.task_ref, task.type_name, task.status
        )?;
        match &task.decided {
            Some(decided) => writeln!(out, "  {}", decision(decided))?,
            None => writeln!(out)?,
        }
        if let Some(wait) = &task.wait {
            writeln!(out, "  {}  {}", offset(&wait.started), wait_line(wait))?;
        }
        for a in &task.approvals {
            write_approval(out, a, "  ")?;
        }
        for attempt in &task.attempts {
            writeln!(out, "  {}", attempt_line(attempt))?;
            for beat in &attempt.heartbeats {
                let note = beat.note.as_deref().map(|n| format!(": {n}"));
                writeln!(
                    out,
                    "    {}  heartbeat{}",
                    offset(&beat.at),
                    note.unwrap_or_default()
                )?;
            }
        }
    }
    if !log.rejected.is_empty() {
        writeln!(out, "refused replies:")?;
        for reply in &log.rejected {
            let task = match (&reply.task_ref, reply.attempt) {
                (Some(task), Some(n)) => format!(", task {task} attempt {n}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "  {}  {} (agent {}{task}): {}",
                offset(&reply.at),
                reply.file,
                reply.agent,
                reply.reason
            )?;
        }
    }
    if !log.operations.is_empty() {
        writeln!(out, "operations:")?;
        for op in &log.operations {
            let what = op.event.trim_start_matches("run_").replace('_', " ");
            let task = op
                .task_ref
                .as_deref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default();
            let tasks = if op.tasks.is_empty() {
                String::new()
            } else {
                format!(" (again: {})", op.tasks.join(", "))
            };
            let new = op
                .new_run_id
                .as_deref()
                .filter(|id| *id != log.run_id)
                .map(|id| format!(" as run {id}"))
                .unwrap_or_default();
            let why = op
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}  {what}{task}{tasks}{new} by {}{why}",
                offset(&op.at),
                op.by
            )?;
        }
    }
    match &log.ended {
        Some(end) => {
            write!(out, "{}  run {}", offset(&end.at), end.status)?;
            if let Some(failure) = &end.failure {
                if let Some(task) = &failure.task_ref {
                    write!(out, " at {task}")?;
                }
                writeln!(out, ": {}", failure.reason)?;
            } else if let Some(output) = &end.output {
                writeln!(out, ", output {}", brief(output, 100))?;
            } else {
                writeln!(out)?;
            }
        }
        None => writeln!(out, "(the run has not ended)")?,
    }
    Ok(())
}

fn attempt_line(attempt: &AttemptLog) -> String {
    let took = attempt
        .took_ms
        .map(|ms| format!("  took {}", seconds(ms)))
        .unwrap_or_default();
    let reason = attempt.reason.as_deref().unwrap_or("no reason given");
    let outcome = match attempt.outcome {
        TaskStatus::Scheduled => "waiting for a reply".to_string(),
        TaskStatus::InProgress => "in progress".to_string(),
        TaskStatus::Completed => "completed".to_string(),
        TaskStatus::RetryWait => match &attempt.retry_at {
            Some(due) => format!("failed: {reason}; retry due at {}", offset(due)),
            None => format!("failed: {reason}; to be retried"),
        },
        TaskStatus::Failed => format!("failed: {reason}"),
        TaskStatus::FailedWithTerminalError => format!("failed (terminal): {reason}"),
        TaskStatus::TimedOut => format!("timed out: {reason}"),
        TaskStatus::CompletedWithErrors => {
            format!("failed (optional task, the run went on): {reason}")
        }
        TaskStatus::Skipped | TaskStatus::Canceled => reason.to_string(),
    };
    format!(
        "attempt {}  {}  to {}{took}  {outcome}",
        attempt.attempt,
        offset(&attempt.scheduled),
        attempt.agent
    )
}

fn decision(decided: &Decided) -> String {
    let mut text = offset(&decided.at);
    if let Some(case) = &decided.case {
        text.push_str(&format!("  case `{case}`"));
        if decided.default_case == Some(true) {
            text.push_str(" (no case matches: default case)");
        }
    }
    if let Some(branches) = &decided.branches {
        let shown: Vec<String> = branches
            .iter()
            .map(|b| format!("[{}]", b.join(", ")))
            .collect();
        text.push_str(&format!("  branches {}", shown.join(" ")));
    }
    if let Some(forked) = &decided.forked_tasks {
        let shown = forked.len().min(super::status::FORKED_SHOWN);
        text.push_str(&format!("  forked {}", forked[..shown].join(", ")));
        if shown < forked.len() {
            text.push_str(&format!(" and {} more", forked.len() - shown));
        }
    }
    if let Some(joined) = &decided.joined {
        text.push_str(&format!("  joined {}", joined.join(", ")));
    }
    if let Some(reason) = &decided.reason {
        text.push_str(&format!("  failed: {reason}"));
    }
    text
}
