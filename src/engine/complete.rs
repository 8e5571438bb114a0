//! Completing a task from outside (`3ox complete RUN TASK`): the operation that ends a WAIT
//! task with neither `duration` nor `until` (Conductor's "complete task" API), and that may
//! also settle any WAIT still waiting, a SIMPLE task in flight (its late reply is then
//! refused as a duplicate), or a HUMAN task waiting for a decision with the output given
//! (how Conductor's HUMAN tasks end; its approval request is withdrawn).
//!
//! Like the other operations it is a [`Command`] ([`Action::Complete`]) checked by [`check`]
//! and journaled as `task_updated_by` (who, with which status) followed by the usual
//! `task_completed` or `task_failed` (a failure goes through the task's retry policy).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::control::{Action, Command, ControlError};
use super::state::{RunState, RunStatus};
use super::{Change, Ctx, emit, retry};

/// The outcome a person gives a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompletionStatus {
    #[default]
    Completed,
    Failed,
    FailedWithTerminalError,
}

impl std::fmt::Display for CompletionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CompletionStatus::Completed => "COMPLETED",
            CompletionStatus::Failed => "FAILED",
            CompletionStatus::FailedWithTerminalError => "FAILED_WITH_TERMINAL_ERROR",
        })
    }
}

/// What `3ox complete` carries: the status and the task's output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    #[serde(default)]
    pub status: CompletionStatus,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub output: Value,
}

/// Whether `command` (a complete) applies: the run is RUNNING and the task waits (a WAIT, or
/// an attempt of an agent-served task in flight).
pub fn check(state: &RunState, command: &Command, task: String) -> Result<(), ControlError> {
    if state.status != RunStatus::Running {
        return Err(ControlError::Ended {
            run_id: state.run_id.clone(),
            status: state.status,
            action: Action::Complete,
        });
    }
    if let Some(completion) = &command.completion
        && !(completion.output.is_null() || completion.output.is_object())
    {
        let mut found = completion.output.to_string();
        found.truncate(80);
        return Err(ControlError::BadOutput { found });
    }
    match state.tasks.get(&task) {
        Some(t) if t.status.is_in_flight() && (t.agent.is_some() || t.type_name == "WAIT") => {
            Ok(())
        }
        // A HUMAN task waiting for a decision: Conductor completes it with any output.
        Some(t) if t.status.is_in_flight() && state.open_approval(&task).is_some() => Ok(()),
        Some(t) => Err(ControlError::NotCompletable {
            task,
            status: Some(t.status),
        }),
        None => Err(ControlError::NotCompletable { task, status: None }),
    }
}

/// Applies an accepted complete: who did it, then the completion or failure.
pub fn on_complete(state: &mut RunState, out: &mut Vec<Change>, ctx: &mut Ctx<'_>, cmd: Command) {
    let task_ref = cmd.task.unwrap_or_default();
    let completion = cmd.completion.unwrap_or_default();
    let Some(task) = state.tasks.get(&task_ref) else {
        return;
    };
    let task_id = task.task_id.clone();
    let attempt = task.attempt;
    let record = Change::TaskUpdatedBy {
        task_ref: task_ref.clone(),
        task_id: task_id.clone(),
        status: completion.status,
        by: cmd.by.clone(),
        uid: cmd.uid,
        reason: cmd.reason.clone(),
    };
    emit(state, out, record, ctx.now);
    let output = match completion.output {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    let change = match completion.status {
        CompletionStatus::Completed => Change::TaskCompleted {
            task_ref,
            task_id,
            input: None,
            output,
        },
        status => {
            let reason = cmd
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| format!("failed by {}", cmd.by));
            let def = state.def(&task_ref);
            retry::failure(
                def.as_deref(),
                &task_ref,
                task_id,
                reason,
                status == CompletionStatus::FailedWithTerminalError,
                attempt.max(1),
                output,
                ctx,
            )
        }
    };
    emit(state, out, change, ctx.now);
}
