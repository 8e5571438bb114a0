//! What a foreground run shows while it works: a live progress bar on a terminal (indicatif),
//! plain timestamped lines when piped, or nothing (`--quiet`). Everything goes to stderr, so
//! stdout carries only the result.

use std::io::Write as _;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::{Change, RunState, TaskStatus};
use crate::journal::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Progress bar (stderr is a terminal).
    Live,
    /// One line per event.
    Plain,
    Quiet,
}

pub struct Progress {
    mode: Mode,
    started: Instant,
    bar: Option<ProgressBar>,
    /// `run <id>: ` before every line, when several runs share one stderr (`3ox up`).
    prefix: String,
}

impl Progress {
    /// `name_run` puts the run id on every line (for `3ox up`, which drives many runs at
    /// once); the bar starts from the tasks `state` already has (a resumed run).
    pub fn for_run(mode: Mode, state: &RunState, name_run: bool) -> Progress {
        let mut progress = Progress::new(mode);
        if name_run {
            progress.prefix = format!("run {}: ", state.run_id);
            if let Some(bar) = &progress.bar {
                bar.set_prefix(progress.prefix.clone());
            }
        }
        progress.count(state);
        progress
    }

    pub fn new(mode: Mode) -> Progress {
        let bar = (mode == Mode::Live).then(|| {
            let bar = ProgressBar::new(0);
            let style = ProgressStyle::with_template(
                "{prefix}{spinner:.cyan} {elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} tasks  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Progress {
            mode,
            started: Instant::now(),
            bar,
            prefix: String::new(),
        }
    }

    /// Shows the records just journaled.
    pub fn show(&self, records: &[Record], state: &RunState) {
        if self.mode == Mode::Quiet {
            return;
        }
        for record in records {
            let Some((line, important)) = describe(&record.change, state) else {
                continue;
            };
            let line = format!("{}{line}", self.prefix);
            match &self.bar {
                Some(bar) => {
                    if important {
                        bar.println(line);
                    } else {
                        bar.set_message(line);
                    }
                }
                None => {
                    let elapsed = self.started.elapsed().as_secs_f64();
                    let _ = writeln!(std::io::stderr().lock(), "[{elapsed:>8.3}s] {line}");
                }
            }
        }
        self.count(state);
    }

    /// Sets the bar to the tasks done out of the tasks the run has so far.
    fn count(&self, state: &RunState) {
        if let Some(bar) = &self.bar {
            let (done, total) = task_counts(state);
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    /// Shows a line of its own (not tied to a journal record).
    pub fn note(&self, line: &str) {
        match (&self.bar, self.mode) {
            (_, Mode::Quiet) => {}
            (Some(bar), _) => bar.println(format!("{}{line}", self.prefix)),
            (None, _) => {
                let _ = writeln!(std::io::stderr().lock(), "{}{line}", self.prefix);
            }
        }
    }

    /// Like [`Progress::note`], but printed in quiet mode too (`--json`, `-q`): something the
    /// user must hear of, such as records a journal lost.
    pub fn warn(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("{}{line}", self.prefix)),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{}{line}", self.prefix);
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// (tasks done or failed, tasks known) of a run: the bar's position and length.
pub fn task_counts(state: &RunState) -> (u64, u64) {
    let total = state.tasks.len() as u64;
    let done = state
        .tasks
        .values()
        .filter(|t| t.status.is_done() || t.status.is_failed())
        .count() as u64;
    (done, total)
}

/// One line for a change, and whether it matters enough to stay on screen.
fn describe(change: &Change, state: &RunState) -> Option<(String, bool)> {
    Some(match change {
        Change::RunStarted {
            run_id, workflow, ..
        } => (
            format!(
                "run {run_id} started: {} v{}",
                workflow.name, workflow.version
            ),
            true,
        ),
        Change::TaskScheduled {
            task_ref,
            attempt,
            agent,
            ..
        } => {
            let retry = if *attempt > 1 {
                format!(" (attempt {attempt})")
            } else {
                String::new()
            };
            (format!("{task_ref} -> {agent}{retry}"), *attempt > 1)
        }
        Change::TaskHeartbeat { task_ref, note, .. } => (
            format!(
                "{task_ref} in progress{}",
                note.as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
            false,
        ),
        Change::TaskCompleted {
            task_ref,
            task_id: None,
            ..
        } => {
            let kind = state
                .tasks
                .get(task_ref)
                .map_or("task", |t| t.type_name.as_str());
            (format!("{task_ref} ({kind}) done"), false)
        }
        Change::TaskCompleted { task_ref, .. } => (format!("{task_ref} completed"), false),
        Change::TaskFailed {
            task_ref,
            reason,
            retry_at,
            outcome,
            ..
        } => {
            let reason = first_line(reason);
            match (retry_at, outcome) {
                (Some(at), _) => {
                    let wait = (*at - chrono::Utc::now()).num_milliseconds().max(0);
                    (
                        format!(
                            "{task_ref} failed: {reason}; retry in {:.1}s",
                            wait as f64 / 1000.0
                        ),
                        true,
                    )
                }
                (None, TaskStatus::CompletedWithErrors) => (
                    format!("{task_ref} failed (optional, run goes on): {reason}"),
                    true,
                ),
                (None, _) => (format!("{task_ref} FAILED: {reason}"), true),
            }
        }
        Change::RunPaused { by, .. } => (format!("paused by {by}"), true),
        Change::RunResumed { by, .. } => (format!("resumed by {by}"), true),
        Change::RunTerminated { by, reason, .. } => {
            (format!("TERMINATED by {by}: {}", first_line(reason)), true)
        }
        Change::TaskSkipped { task_ref, by, .. } => (format!("{task_ref} skipped by {by}"), true),
        Change::TaskCanceled { task_ref, .. } => (format!("{task_ref} CANCELED"), true),
        Change::RunRetried { by, tasks, .. } => {
            (format!("retried by {by}: {}", tasks.join(", ")), true)
        }
        Change::RunRerunFrom { task_ref, by, .. } => {
            (format!("rerun from {task_ref} by {by}"), true)
        }
        Change::RunRestarted { new_run_id, by, .. } if *new_run_id == state.run_id => {
            (format!("restarted by {by}: the run starts again"), true)
        }
        Change::RunRestarted { new_run_id, by, .. } => {
            (format!("restarted by {by} as run {new_run_id}"), true)
        }
        Change::ForkExpanded { task_ref, tasks } => {
            (format!("{task_ref} forks {} tasks", tasks.len()), false)
        }
        Change::ApprovalRequested {
            task_ref,
            approver,
            deadline,
            ..
        } => (
            format!(
                "{task_ref} waits for approval by {approver}{}",
                deadline
                    .map(|d| format!(" (deadline {})", d.to_rfc3339()))
                    .unwrap_or_default()
            ),
            true,
        ),
        Change::ApprovalDecided {
            task_ref,
            decision,
            by,
            ..
        } => (format!("{task_ref} {} by {by}", decision.outcome()), true),
        Change::ApprovalExpired {
            task_ref, policy, ..
        } => (
            format!("{task_ref}: the approval deadline passed (onDeadline: {policy})"),
            true,
        ),
        Change::ReplyRejected {
            file,
            agent,
            reason,
            ..
        } => (
            format!("reply {agent}/{file} refused: {}", first_line(reason)),
            true,
        ),
        Change::RunCompleted { .. } | Change::RunFailed { .. } => return None,
        Change::LoopIterationStarted {
            task_ref,
            iteration,
            ..
        } => (format!("{task_ref} iteration {iteration}"), false),
        Change::ChildRunStarted {
            child_run_id,
            kind,
            name,
            ..
        } => (
            format!("{kind} started run {child_run_id} of `{name}`"),
            true,
        ),
        Change::ChildRunResumed {
            task_ref,
            child_run_id,
            retry,
        } => (
            format!(
                "{task_ref} waits again for run {child_run_id}{}",
                if *retry { " (retried)" } else { "" }
            ),
            true,
        ),
        Change::ChildRunEnded {
            child_run_id,
            status,
            ..
        } => (format!("child run {child_run_id} ended {status}"), true),
        Change::ChildOf {
            parent_run_id,
            kind,
            ..
        } => (format!("started by run {parent_run_id} ({kind})"), false),
        Change::WaitStarted {
            task_ref, until, ..
        } => (
            match until {
                Some(at) => format!("{task_ref} waits until {}", at.to_rfc3339()),
                None => format!("{task_ref} waits to be completed (`3ox complete`)"),
            },
            true,
        ),
        Change::TaskDelayed { task_ref, due } => (
            format!("{task_ref} starts at {} (startDelay)", due.to_rfc3339()),
            false,
        ),
        Change::TaskClaimed { .. } | Change::TaskDelayEnded { .. } => return None,
        Change::TaskTimedOut {
            task_ref, reason, ..
        } => (
            format!("{task_ref} timed out: {}", first_line(reason)),
            true,
        ),
        Change::TimeoutAlert {
            task_ref, reason, ..
        } => (
            format!(
                "ALERT {}: {}",
                task_ref.as_deref().unwrap_or("workflow"),
                first_line(reason)
            ),
            true,
        ),
        Change::RunTimedOut { reason, .. } => (format!("TIMED_OUT: {}", first_line(reason)), true),
        Change::TaskUpdatedBy {
            task_ref,
            status,
            by,
            ..
        } => (format!("{task_ref} set {status} by {by}"), true),
        Change::HttpCallStarted {
            task_ref,
            attempt,
            request,
            ..
        } => {
            let retry = if *attempt > 1 {
                format!(" (attempt {attempt})")
            } else {
                String::new()
            };
            (
                format!("{task_ref} -> {} {}{retry}", request.method, request.uri),
                *attempt > 1,
            )
        }
        Change::EventPublished {
            task_ref,
            event_name,
            ..
        } => (format!("{task_ref} published {event_name}"), false),
        Change::VariablesSet {
            task_ref,
            variables,
        } => {
            let names: Vec<&str> = variables
                .as_object()
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            (format!("{task_ref} sets {}", names.join(", ")), false)
        }
        Change::DynamicTaskChosen {
            task_ref,
            task_name,
        } => (format!("{task_ref} runs `{task_name}`"), false),
        Change::RunEndedByTask {
            task_ref, status, ..
        } => (format!("{task_ref} ends the run: {status}"), true),
    })
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}
