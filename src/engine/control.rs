//! Operations on a run by a person: pause, resume, terminate, retry, rerun from a task, skip a
//! task, restart.
//!
//! [`check`] decides whether a [`Command`] applies to the run as it stands and refuses it
//! with a typed [`ControlError`] (and a hint) when not; [`on_command`] turns an accepted
//! command into its changes. Both are pure, like the rest of the engine: the orchestrator
//! journals the changes, and replaying them rebuilds the same state. The walk that follows a
//! command (in [`super::step`]) schedules what the command made due: nothing while the run is
//! paused, the next attempt of a retried task, the task after a skipped one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::{ApprovalStatus, RunState, RunStatus, TaskStatus};
use super::{Change, Ctx, emit};
use crate::definition::TaskDef;

/// What a person asks of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Pause,
    Resume,
    Terminate,
    Retry,
    Restart,
    RerunFrom,
    Skip,
    /// Complete (or fail) a waiting task from outside (`3ox complete`, see [`super::complete`]).
    Complete,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Terminate => "terminate",
            Action::Retry => "retry",
            Action::Restart => "restart",
            Action::RerunFrom => "rerun",
            Action::Skip => "skip",
            Action::Complete => "complete",
        })
    }
}

/// One operation on a run, with who asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub action: Action,
    /// Who asked (a user name).
    pub by: String,
    /// The asker's uid, where there is one.
    pub uid: Option<u32>,
    pub reason: Option<String>,
    /// The task of `skip` and `rerun`.
    pub task: Option<String>,
    /// The id of the run `restart` starts: this run's own (the default, as Conductor
    /// restarts the same workflow id), or a new run the caller creates.
    pub new_run_id: Option<String>,
    /// The status and output of `complete`.
    pub completion: Option<super::complete::Completion>,
}

/// Why a command does not apply. Each has a hint ([`ControlError::hint`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("run {run_id} has ended ({status}); there is nothing to {action}")]
    Ended {
        run_id: String,
        status: RunStatus,
        action: Action,
    },
    #[error("run {run_id} is still running; {action} applies to a run that has ended")]
    StillRunning { run_id: String, action: Action },
    #[error("run {run_id} is already paused")]
    AlreadyPaused { run_id: String },
    #[error("run {run_id} is not paused")]
    NotPaused { run_id: String },
    #[error(
        "run {run_id} is {status}; only a FAILED or TIMED_OUT run, or one with failed or canceled tasks, can be retried"
    )]
    NotFailed { run_id: String, status: RunStatus },
    #[error("run {run_id} completed and its workflow says `restartable: false`")]
    NotRestartable { run_id: String },
    #[error("run {run_id} has no task `{task}`")]
    UnknownTask {
        run_id: String,
        task: String,
        known: Vec<String>,
    },
    #[error("task `{task}` is {status}; only a task that is pending or failed can be skipped")]
    NotSkippable { task: String, status: TaskStatus },
    #[error("task `{task}` has not run yet; there is nothing to rerun")]
    NotStarted { task: String },
    #[error("{action} needs a task")]
    NoTask { action: Action },
    #[error("task `{task}` is {}; only a WAIT task that is waiting, or a task whose attempt is in flight, can be completed", .status.map_or_else(|| "not started yet".to_string(), |s| s.to_string()))]
    NotCompletable {
        task: String,
        status: Option<TaskStatus>,
    },
    #[error("the output given to complete must be a mapping (a JSON object), not {found}")]
    BadOutput { found: String },
}

impl ControlError {
    pub fn hint(&self) -> String {
        match self {
            ControlError::Ended { .. } => {
                "`3ox retry RUN` retries a FAILED run, `3ox rerun RUN --from TASK` or `3ox restart RUN` runs it again".into()
            }
            ControlError::StillRunning { .. } => {
                "terminate it first (`3ox terminate RUN --reason ...`), or wait for it to end".into()
            }
            ControlError::AlreadyPaused { .. } => "`3ox resume RUN` unpauses it".into(),
            ControlError::NotPaused { .. } => {
                "`3ox pause RUN` pauses it; `3ox resume` drives runs nobody drives".into()
            }
            ControlError::NotFailed { .. } => {
                "`3ox rerun RUN --from TASK` or `3ox restart RUN` runs a finished run again".into()
            }
            ControlError::NotRestartable { .. } => {
                "as on Conductor, only a run that did not complete can be restarted; `3ox start` a new run of the workflow".into()
            }
            ControlError::UnknownTask { known, .. } => format!(
                "name a task by its taskReferenceName: {}",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
            ControlError::NotSkippable { .. } => {
                "`3ox status RUN` shows where each task stands".into()
            }
            ControlError::NotStarted { .. } => {
                "rerun from a task that has run (`3ox status RUN` lists them)".into()
            }
            ControlError::NoTask { .. } => "name the task".into(),
            ControlError::NotCompletable { .. } => {
                "`3ox status RUN` shows where each task stands".into()
            }
            ControlError::BadOutput { .. } => {
                "give `--output '{\"key\": ...}'` or `--set key=value`".into()
            }
        }
    }
}

/// Whether `command` applies to the run in `state`.
pub fn check(state: &RunState, command: &Command) -> Result<(), ControlError> {
    let run_id = state.run_id.clone();
    let running = state.status == RunStatus::Running;
    let ended = || ControlError::Ended {
        run_id: run_id.clone(),
        status: state.status,
        action: command.action.clone(),
    };
    match command.action {
        Action::Pause if !running => Err(ended()),
        Action::Pause if state.paused => Err(ControlError::AlreadyPaused { run_id }),
        Action::Resume if !running => Err(ended()),
        Action::Resume if !state.paused => Err(ControlError::NotPaused { run_id }),
        Action::Terminate if !running => Err(ended()),
        // As Conductor's retry: a FAILED or TIMED_OUT run, or any other ended run with a task
        // to run again (a TERMINATED run's canceled tasks).
        Action::Retry
            if !matches!(state.status, RunStatus::Failed | RunStatus::TimedOut)
                && (running
                    || !state
                        .tasks
                        .values()
                        .any(|t| t.status.is_failed() || t.status == TaskStatus::Canceled)) =>
        {
            Err(ControlError::NotFailed {
                run_id,
                status: state.status,
            })
        }
        Action::Restart | Action::RerunFrom if running => Err(ControlError::StillRunning {
            run_id,
            action: command.action.clone(),
        }),
        // As Conductor's restart: `restartable: false` keeps a COMPLETED run from restarting.
        Action::Restart
            if state.status == RunStatus::Completed
                && state.workflow.extra.get("restartable")
                    == Some(&serde_json::Value::Bool(false)) =>
        {
            Err(ControlError::NotRestartable { run_id })
        }
        Action::Skip => {
            if !matches!(state.status, RunStatus::Running | RunStatus::Failed) {
                return Err(ended());
            }
            let task = known_task(state, command)?;
            match state.tasks.get(&task) {
                Some(t) if t.status.is_done() => Err(ControlError::NotSkippable {
                    task,
                    status: t.status,
                }),
                _ => Ok(()),
            }
        }
        Action::Complete => {
            let task = known_task(state, command)?;
            super::complete::check(state, command, task)
        }
        Action::RerunFrom => {
            let task = known_task(state, command)?;
            if state.tasks.contains_key(&task) {
                Ok(())
            } else {
                Err(ControlError::NotStarted { task })
            }
        }
        _ => Ok(()),
    }
}

fn known_task(state: &RunState, command: &Command) -> Result<String, ControlError> {
    let Some(task) = command.task.clone() else {
        return Err(ControlError::NoTask {
            action: command.action.clone(),
        });
    };
    // A task inside a DO_WHILE runs as `<ref>__<n>`: name an iteration.
    if let Some(iterations) = super::tasks::do_while::iterations_of(state, &task) {
        return Err(ControlError::UnknownTask {
            run_id: state.run_id.clone(),
            task,
            known: iterations,
        });
    }
    if state.defs.contains_key(&task) {
        return Ok(task);
    }
    let mut known: Vec<String> = walk_order(state);
    known.truncate(20);
    Err(ControlError::UnknownTask {
        run_id: state.run_id.clone(),
        task,
        known,
    })
}

/// Applies an accepted command: emits its changes. A command that does not apply emits
/// nothing (the caller checks first, see [`super::control`]).
pub fn on_command(state: &mut RunState, out: &mut Vec<Change>, ctx: &mut Ctx<'_>, cmd: Command) {
    if check(state, &cmd).is_err() {
        return;
    }
    if cmd.action == Action::Complete {
        return super::complete::on_complete(state, out, ctx, cmd);
    }
    let (by, uid, reason) = (cmd.by, cmd.uid, cmd.reason);
    let change = match cmd.action {
        Action::Pause => Change::RunPaused { by, uid, reason },
        Action::Resume => Change::RunResumed { by, uid, reason },
        Action::Terminate => Change::RunTerminated {
            by,
            uid,
            reason: reason.unwrap_or_else(|| "terminated".to_string()),
        },
        Action::Skip => Change::TaskSkipped {
            task_ref: cmd.task.unwrap_or_default(),
            by,
            uid,
            reason,
        },
        Action::Retry => {
            let tasks = state
                .tasks
                .values()
                .filter(|t| {
                    t.status.is_failed()
                        || t.status.is_in_flight()
                        || t.status == TaskStatus::Canceled
                })
                .map(|t| t.task_ref.clone())
                .collect();
            Change::RunRetried {
                by,
                uid,
                reason,
                tasks,
            }
        }
        Action::RerunFrom => {
            let from = cmd.task.unwrap_or_default();
            let order = walk_order(state);
            let start = order.iter().position(|t| *t == from).unwrap_or(0);
            // And, wherever they are, the tasks canceled when the run ended: none may stay
            // CANCELED in a run that goes on.
            let canceled = |t: &String| {
                state
                    .tasks
                    .get(t)
                    .is_some_and(|t| t.status == TaskStatus::Canceled)
            };
            let tasks = order
                .iter()
                .enumerate()
                .filter(|(i, t)| (*i >= start && state.tasks.contains_key(*t)) || canceled(t))
                .map(|(_, t)| t.clone())
                .collect();
            Change::RunRerunFrom {
                task_ref: from,
                by,
                uid,
                reason,
                tasks,
            }
        }
        Action::Restart => Change::RunRestarted {
            new_run_id: cmd.new_run_id.unwrap_or_else(|| state.run_id.clone()),
            by,
            uid,
            reason,
        },
        Action::Complete => return,
    };
    emit(state, out, change, ctx.now);
}

/// Every task reference of the run in walk order: depth first through the definition, a
/// dynamic fork's tasks right after the fork.
pub fn walk_order(state: &RunState) -> Vec<String> {
    fn visit(state: &RunState, tasks: &[TaskDef], out: &mut Vec<String>) {
        for task in tasks {
            out.push(task.task_reference_name.clone());
            let children: Vec<TaskDef> = task.children().cloned().collect();
            visit(state, &children, out);
            if let Some(forked) = state.forks.get(&task.task_reference_name) {
                visit(state, forked, out);
            }
            let iterations =
                super::tasks::do_while::kept_iterations(state, &task.task_reference_name);
            visit(state, &iterations, out);
        }
    }
    let mut out = Vec::new();
    visit(state, &state.workflow.tasks, &mut out);
    out
}

/// Makes the tasks `refs` due again (for retry and rerun): a SIMPLE task waits for its next
/// attempt (a new task id), any other is forgotten so the walk decides it afresh.
pub(super) fn reset(state: &mut RunState, refs: &[String], at: DateTime<Utc>) {
    for task_ref in refs {
        withdraw(state, Some(task_ref), at);
        // Frees the agent slot of an attempt in flight, whatever its type (an agent-served
        // task's too).
        state.settle(task_ref);
        if super::tasks::do_while::reopen(state, task_ref, at) {
            continue;
        }
        let simple = state
            .tasks
            .get(task_ref)
            // Agent-served tasks (a DYNAMIC task runs as SIMPLE) go on with their next attempt.
            .is_some_and(|t| matches!(t.type_name.as_str(), "SIMPLE" | "DYNAMIC"));
        if simple {
            if let Some(task) = state.tasks.get_mut(task_ref) {
                task.status = TaskStatus::RetryWait;
                task.retry_at = None;
            }
        } else {
            state.tasks.shift_remove(task_ref);
        }
        if state.last_completed.as_ref() == Some(task_ref) {
            state.last_completed = None;
        }
    }
}

/// Closes the open approval requests of `task_ref` (of every task with `None`): no decision
/// or deadline may act on a task a person skipped or reset.
pub(super) fn withdraw(state: &mut RunState, task_ref: Option<&String>, at: DateTime<Utc>) {
    for request in state.approvals.values_mut() {
        if request.status == ApprovalStatus::Open && task_ref.is_none_or(|t| *t == request.task_ref)
        {
            request.status = ApprovalStatus::Withdrawn;
            request.closed_at = Some(at);
        }
    }
}

/// Opens an ended run again (retry, rerun, skip of a failed task).
pub(super) fn reopen(state: &mut RunState) {
    state.status = RunStatus::Running;
    state.failure = None;
    state.output = None;
    state.ended_at = None;
}
