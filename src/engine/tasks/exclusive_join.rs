//! EXCLUSIVE_JOIN: join the one branch of a SWITCH (or DECISION) that ran.
//!
//! It stands right after the SWITCH. The walk reaches it only once the SWITCH is done (the
//! chosen case's tasks finished), so it never waits on its own. As in Conductor it looks at
//! `joinOn` in order and takes the output of the first task there that ran; when none of them
//! ran, the first of `defaultExclusiveJoinTask` that ran. Its output is that task's output
//! (`{}` when no listed task ran, for instance when the chosen case was empty). An optional
//! task that failed (COMPLETED_WITH_ERRORS) counts as ran; a skipped one (`3ox skip`) does
//! not, as in Conductor.

use serde_json::{Map, Value};

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker};
use crate::engine::{Change, TaskStatus};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef, _previous: Option<&TaskDef>) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(progress) = w.settled(task_ref) {
        return progress;
    }
    let output = joined(w, task)
        .map(|(_, output)| output)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let input = w.resolve_input(task);
    w.emit(Change::TaskCompleted {
        task_ref: task_ref.clone(),
        task_id: None,
        input: Some(input),
        output,
    });
    Progress::Done
}

/// The task joined on (its reference and output): the first of `joinOn` that ran, else the
/// first of `defaultExclusiveJoinTask` that ran.
fn joined(w: &Walker<'_, '_, '_>, task: &TaskDef) -> Option<(String, Value)> {
    let ran = |r: &String| {
        w.state
            .tasks
            .get(r)
            // As in Conductor, a skipped task counts as not run.
            .filter(|t| t.status.is_done() && t.status != TaskStatus::Skipped)
            .map(|t| (r.clone(), t.output.clone()))
    };
    task.join_on
        .iter()
        .find_map(ran)
        .or_else(|| task.default_exclusive_join_task.iter().find_map(ran))
}
