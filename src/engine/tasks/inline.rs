//! INLINE (and Conductor's older LAMBDA): evaluate a small script over the task's input.
//!
//! INLINE takes `evaluatorType` and `expression` from its `inputParameters`, as Conductor has
//! them (3ox also accepts them on the task itself); `$` is the whole resolved
//! `inputParameters`. LAMBDA runs `scriptExpression` (in `inputParameters` or on the task) as
//! the body of a JavaScript function, as Conductor does. The output is `{result: value}`.
//!
//! The script runs once, on the walk that first reaches the task, and its value is journaled
//! in the task's completion: replay reads it back and never runs the script again. A script
//! that throws, or that its budget stops, fails the task (with `error` in its output, as
//! Conductor); such failures are terminal, as the same script would fail again.

use serde_json::{Value, json};

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker, failure_of};
use crate::engine::{Change, retry};
use crate::expr::script;

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    if w.state.tasks.contains_key(&task.task_reference_name) {
        return w
            .settled(&task.task_reference_name)
            .unwrap_or(Progress::Pending);
    }
    let input = w.resolve_input(task);
    let outcome = match Script::of(task, &input) {
        Ok(s) => script::evaluate(&s.evaluator, &s.source, &input),
        Err(reason) => Err(reason),
    };
    finish(
        w,
        task,
        input,
        outcome.map(|result| json!({ "result": result })),
    )
}

/// What an INLINE or LAMBDA task runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub evaluator: String,
    pub source: String,
}

impl Script {
    /// The script of `task`, reading `evaluatorType` / `expression` (INLINE) or
    /// `scriptExpression` (LAMBDA) from the resolved `input` first, then from the task.
    pub fn of(task: &TaskDef, input: &Value) -> Result<Script, String> {
        let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_owned);
        if task.type_name == "LAMBDA" {
            let body = text("scriptExpression")
                .or_else(|| task.script_expression.clone())
                .ok_or("LAMBDA has no `scriptExpression`")?;
            return Ok(Script {
                evaluator: "javascript".into(),
                source: script::lambda_source(&body),
            });
        }
        let source = text("expression")
            .or_else(|| task.expression.clone())
            .ok_or("INLINE has no `expression` in its inputParameters")?;
        let evaluator = text("evaluatorType")
            .or_else(|| task.evaluator_type.clone())
            .unwrap_or_else(|| "javascript".into());
        Ok(Script { evaluator, source })
    }
}

/// Records a system task's outcome: completed with `output`, or failed with the reason
/// (also in the output's `error`, as Conductor has it).
pub fn finish(
    w: &mut Walker<'_, '_, '_>,
    task: &TaskDef,
    input: Value,
    outcome: Result<Value, String>,
) -> Progress {
    let task_ref = &task.task_reference_name;
    match outcome {
        Ok(output) => {
            w.emit(Change::TaskCompleted {
                task_ref: task_ref.clone(),
                task_id: None,
                input: Some(input),
                output,
            });
            Progress::Done
        }
        Err(reason) => {
            let change = retry::failure(
                Some(task),
                task_ref,
                None,
                reason.clone(),
                true,
                0,
                json!({ "error": reason }),
                w.ctx,
            );
            let optional =
                matches!(&change, Change::TaskFailed { outcome, .. } if outcome.is_done());
            w.emit(change);
            if optional {
                Progress::Done
            } else {
                Progress::Failed(failure_of(task_ref, Some(&reason)))
            }
        }
    }
}
