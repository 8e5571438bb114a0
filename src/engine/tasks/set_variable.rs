//! SET_VARIABLE: set run variables, read as `${workflow.variables.x}`.

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    w.fail_system_task(
        task,
        format!("task type {} is not implemented yet", task.type_name),
    )
}
