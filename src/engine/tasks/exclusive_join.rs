//! EXCLUSIVE_JOIN: join the one branch of a SWITCH that ran.

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef, _previous: Option<&TaskDef>) -> Progress {
    w.fail_system_task(
        task,
        format!("task type {} is not implemented yet", task.type_name),
    )
}
