//! FORK_JOIN: run several branches at the same time.
//!
//! The fork completes at once (journaled with its input); its branches are then walked side
//! by side, so the first task of every branch is scheduled in the same step. The fork counts
//! as done when every branch is done, which is what lets the JOIN that follows complete.

use serde_json::json;

use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if !w.state.tasks.contains_key(task_ref) {
        let input = w.resolve_input(task);
        w.emit(Change::TaskCompleted {
            task_ref: task_ref.clone(),
            task_id: None,
            input: Some(input),
            output: json!({}),
        });
    }
    w.branches(task.fork_tasks.iter().map(Vec::as_slice))
}
