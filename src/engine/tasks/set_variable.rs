//! SET_VARIABLE: set workflow variables.
//!
//! The task's resolved input is journaled as `variables_set` and merged into the run's
//! variables (a later SET_VARIABLE overwrites a name, others are kept), which tasks read as
//! `${workflow.variables.<name>}`. The workflow's own `variables` mapping gives initial
//! values. The task then completes with an empty output, as in Conductor. A task whose input
//! is empty sets nothing (the validator warns about one without inputParameters, which
//! Conductor accepts).

use serde_json::{Value, json};

use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(progress) = w.settled(task_ref) {
        return progress;
    }
    let input = w.resolve_input(task);
    if !matches!(input, Value::Object(_)) {
        return w.fail_system_task(
            task,
            "SET_VARIABLE needs a mapping of names to values".into(),
        );
    }
    w.emit(Change::VariablesSet {
        task_ref: task_ref.clone(),
        variables: input.clone(),
    });
    w.emit(Change::TaskCompleted {
        task_ref: task_ref.clone(),
        task_id: None,
        input: Some(input),
        output: json!({}),
    });
    Progress::Done
}
