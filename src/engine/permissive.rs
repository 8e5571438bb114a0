//! `permissive: true`: a task whose failure does not stop the run where it stands. The walk
//! goes on past it (the tasks after it, the other fork branches, the JOIN), and when nothing is
//! left to do the run ends FAILED (not COMPLETED), naming the first permissive task that
//! failed. Compare `optional: true`, whose failure ends the task COMPLETED_WITH_ERRORS and
//! lets the run complete.

use serde_json::Value;

use super::state::{Failure, RunState};
use super::walk::Progress;
use crate::definition::TaskDef;

/// Whether `task` is permissive.
pub fn is_permissive(task: &TaskDef) -> bool {
    task.extra.get("permissive").and_then(Value::as_bool) == Some(true)
}

/// A permissive task's failure lets the walk go on.
pub fn pass(task: &TaskDef, progress: Progress) -> Progress {
    match progress {
        Progress::Failed(_) if is_permissive(task) => Progress::Done,
        other => other,
    }
}

/// Why a run whose walk is done must end FAILED: the first permissive task that failed.
pub fn failure(state: &RunState) -> Option<Failure> {
    state.tasks.values().find_map(|task| {
        let permissive = state.def(&task.task_ref).is_some_and(|d| is_permissive(&d));
        (permissive && task.status.is_failed()).then(|| Failure {
            task_ref: Some(task.task_ref.clone()),
            reason: format!(
                "{} (permissive: the run went on, and fails at its end)",
                task.reason.as_deref().unwrap_or("failed")
            ),
        })
    })
}
