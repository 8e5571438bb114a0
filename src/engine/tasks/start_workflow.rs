//! START_WORKFLOW: start another workflow as a run of its own and go on.

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    w.fail_system_task(
        task,
        format!("task type {} is not implemented yet", task.type_name),
    )
}
