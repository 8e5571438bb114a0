//! SWITCH: choose one case and run its tasks.
//!
//! `evaluatorType: value-param` takes the case from the input parameter named by
//! `expression`; `evaluatorType: expression` evaluates a safe condition over the resolved
//! inputs (see [`crate::expr::condition`]). The decision is journaled as the SWITCH task's
//! completion, output `{evaluationResult: [case], selectedCase: case}`; a case with no
//! match runs `defaultCase`. The SWITCH is done when the chosen case's tasks are.

use serde_json::{Value, json};

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker};
use crate::engine::{Change, TaskStatus};
use crate::expr::condition;

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    let case = match w.state.tasks.get(task_ref) {
        // An optional SWITCH that could not decide runs none of its cases.
        Some(skipped) if skipped.status == TaskStatus::CompletedWithErrors => {
            return Progress::Done;
        }
        Some(done) if done.status.is_done() => done
            .output
            .get("selectedCase")
            .and_then(Value::as_str)
            .map(str::to_owned),
        Some(_) => return w.settled(task_ref).unwrap_or(Progress::Pending),
        None => {
            let input = w.resolve_input(task);
            match decide(task, &input) {
                Ok(case) => {
                    let output = json!({"evaluationResult": [case], "selectedCase": case});
                    w.emit(Change::TaskCompleted {
                        task_ref: task_ref.clone(),
                        task_id: None,
                        input: Some(input),
                        output,
                    });
                    Some(case)
                }
                Err(reason) => return w.fail_system_task(task, reason),
            }
        }
    };
    let block = case
        .as_ref()
        .and_then(|c| task.decision_cases.get(c))
        .unwrap_or(&task.default_case);
    w.block(block)
}

/// The case key selected for the resolved `input`.
pub fn decide(task: &TaskDef, input: &Value) -> Result<String, String> {
    let expression = task.expression.as_deref().unwrap_or_default();
    match task.evaluator_type.as_deref().unwrap_or("value-param") {
        "value-param" => Ok(condition::case_key(
            input.get(expression).unwrap_or(&Value::Null),
        )),
        "expression" => condition::evaluate(expression, input)
            .map(|v| condition::case_key(&v))
            .map_err(|e| format!("the SWITCH expression `{expression}` failed: {e}")),
        other => Err(format!("evaluatorType `{other}` is not supported yet")),
    }
}
