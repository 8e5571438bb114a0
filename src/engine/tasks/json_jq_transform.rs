//! JSON_JQ_TRANSFORM: transform the task's input with a jq program.
//!
//! `inputParameters.queryExpression` runs over the whole resolved `inputParameters`; the
//! output is `result` (the first value the program gives, null when none) and `resultList`
//! (all of them), as in Conductor. The program runs once, in a sandbox child process with a
//! time and memory budget (see [`crate::expr::jq`]), and its values are journaled in the
//! task's completion. A jq error fails the task with `error` in its output.

use serde_json::{Value, json};

use super::inline::finish;
use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker};
use crate::expr::jq;

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    if w.state.tasks.contains_key(&task.task_reference_name) {
        return w
            .settled(&task.task_reference_name)
            .unwrap_or(Progress::Pending);
    }
    let input = w.resolve_input(task);
    let outcome = match input.get("queryExpression") {
        Some(Value::String(program)) => jq::run(program, &input).map(|values| {
            json!({
                "result": values.first().cloned().unwrap_or(Value::Null),
                "resultList": values,
            })
        }),
        _ => Err("JSON_JQ_TRANSFORM has no `queryExpression` text in its inputParameters".into()),
    };
    finish(w, task, input, outcome)
}
