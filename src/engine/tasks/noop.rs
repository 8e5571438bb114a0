//! NOOP: does nothing. The walk completes it at once (journaled with its input), output `{}`.

use serde_json::json;

use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(progress) = w.settled(task_ref) {
        return progress;
    }
    let input = w.resolve_input(task);
    w.emit(Change::TaskCompleted {
        task_ref: task_ref.clone(),
        task_id: None,
        input: Some(input),
        output: json!({}),
    });
    Progress::Done
}
