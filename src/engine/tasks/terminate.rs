//! TERMINATE: end the run now, with a status, a reason and an output.
//!
//! Inputs, as in Conductor: `terminationStatus` (COMPLETED, FAILED or TERMINATED),
//! `terminationReason` (optional text) and `workflowOutput` (optional). The task completes
//! with `workflowOutput` as its output (a mapping as it is; any other value as
//! `{output: value}`), then the run ends:
//!
//! - `run_ended_by_task` records the status, reason and output and withdraws what is in flight
//!   (open approval requests are closed; the orchestrator takes undelivered and unanswered
//!   messages out of the inboxes, as `3ox terminate` does);
//! - then the end change: `run_completed` with the output (COMPLETED), `run_failed` with the
//!   reason and the TERMINATE task's reference (FAILED; so a `failureWorkflow` starts, as in
//!   Conductor), or `run_terminated` by `TERMINATE task <ref>` (TERMINATED).
//!
//! Tasks in other fork branches are not scheduled after it: the walk stops once the run has
//! ended. A run opened again (`3ox retry`, `3ox skip` of another task) that reaches the
//! completed TERMINATE task ends the same way again; skipping the TERMINATE task itself lets
//! the run go on past it.

use serde_json::{Map, Value};

use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::state::{RunStatus, TaskStatus};
use crate::engine::walk::{Progress, Walker};

/// The values of `terminationStatus`.
pub const STATUSES: &[&str] = &["COMPLETED", "FAILED", "TERMINATED"];

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    let input = match w.state.tasks.get(task_ref) {
        Some(done) if done.status == TaskStatus::Completed => done.input.clone(),
        Some(_) => return w.settled(task_ref).unwrap_or(Progress::Pending),
        None => {
            let input = w.resolve_input(task);
            if let Err(reason) = status_of(&input) {
                return w.fail_system_task(task, reason);
            }
            w.emit(Change::TaskCompleted {
                task_ref: task_ref.clone(),
                task_id: None,
                input: Some(input.clone()),
                output: output_of(&input),
            });
            input
        }
    };
    let Ok(status) = status_of(&input) else {
        return Progress::Pending;
    };
    let output = output_of(&input);
    let reason = input
        .get("terminationReason")
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
        .map(str::to_owned);
    w.emit(Change::RunEndedByTask {
        task_ref: task_ref.clone(),
        status,
        reason: reason.clone(),
        output: output.clone(),
    });
    let why = reason.unwrap_or_else(|| format!("ended by TERMINATE task `{task_ref}`"));
    w.emit(match status {
        RunStatus::Completed => Change::RunCompleted { output },
        RunStatus::Failed => Change::RunFailed {
            reason: why,
            task_ref: Some(task_ref.clone()),
            output: Some(output),
        },
        _ => Change::RunTerminated {
            by: format!("TERMINATE task `{task_ref}`"),
            uid: None,
            reason: why,
        },
    });
    Progress::Pending
}

/// The run's end status named by the resolved input.
pub fn status_of(input: &Value) -> Result<RunStatus, String> {
    match input.get("terminationStatus") {
        Some(Value::String(s)) => match s.as_str() {
            "COMPLETED" => Ok(RunStatus::Completed),
            "FAILED" => Ok(RunStatus::Failed),
            "TERMINATED" => Ok(RunStatus::Terminated),
            other => Err(format!(
                "terminationStatus `{other}` is not one of {}",
                STATUSES.join(", ")
            )),
        },
        None | Some(Value::Null) => Err(format!(
            "TERMINATE needs the input `terminationStatus` ({})",
            STATUSES.join(", ")
        )),
        Some(other) => Err(format!(
            "terminationStatus must be one of {}, not {other}",
            STATUSES.join(", ")
        )),
    }
}

/// The task's (and the run's) output: `workflowOutput` as a mapping.
pub fn output_of(input: &Value) -> Value {
    match input.get("workflowOutput") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(other) => {
            let mut map = Map::new();
            map.insert("output".to_string(), other.clone());
            Value::Object(map)
        }
    }
}
