//! SWITCH (and Conductor's older DECISION): choose one case and run its tasks.
//!
//! `evaluatorType: value-param` takes the case from the input parameter named by
//! `expression`; `evaluatorType: expression` evaluates a safe condition over the resolved
//! inputs (see [`crate::expr::condition`]); `javascript` / `graaljs` run the expression in
//! the JavaScript sandbox with `$` = the inputs (see [`crate::expr::javascript`]). DECISION
//! takes the case from the input named by `caseValueParam`, or from the JavaScript
//! `caseExpression`. The value becomes a case key as Conductor's `String.valueOf` would
//! (`true`, `3`, text as it is). The decision is journaled as the task's completion, output
//! `{evaluationResult: [case], selectedCase: case}` (DECISION adds Conductor's
//! `caseOutput: [case]`), so replay never evaluates again; a case with no match runs
//! `defaultCase`. The SWITCH is done when the chosen case's tasks are.

use serde_json::{Value, json};

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker};
use crate::engine::{Change, TaskStatus};
use crate::expr::{condition, script};

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
                    let mut output = json!({"evaluationResult": [case], "selectedCase": case});
                    if task.type_name == "DECISION" {
                        output["caseOutput"] = json!([case]);
                    }
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
    let (evaluator, expression) = evaluator_of(task);
    let what = if task.type_name == "DECISION" {
        "the DECISION's caseExpression"
    } else {
        "the SWITCH expression"
    };
    script::evaluate(evaluator, expression, input)
        .map(|v| condition::case_key(&v))
        .map_err(|e| format!("{what} `{expression}` failed: {e}"))
}

/// The evaluator and expression a SWITCH or DECISION decides with.
pub fn evaluator_of(task: &TaskDef) -> (&str, &str) {
    if task.type_name == "DECISION" {
        if let Some(param) = &task.case_value_param {
            return ("value-param", param);
        }
        if let Some(expression) = &task.case_expression {
            return ("javascript", expression);
        }
    }
    (
        task.evaluator_type.as_deref().unwrap_or("value-param"),
        task.expression.as_deref().unwrap_or_default(),
    )
}
