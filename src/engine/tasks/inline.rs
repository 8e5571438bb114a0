//! INLINE (and Conductor's older LAMBDA): evaluate a small script over the task's input.
//!
//! INLINE takes `evaluatorType` and `expression` from its `inputParameters`, as Conductor has
//! them (3ox also accepts them on the task itself); `$` is the whole resolved
//! `inputParameters`. LAMBDA runs `scriptExpression` (in `inputParameters` or on the task) as
//! the body of a JavaScript function, as Conductor does. The output is `{result: value}`, and
//! `logs` (Conductor's `[Log] text` lines) when a script wrote with `console.log`.
//!
//! The script runs once, on the walk that first reaches the task, and its value is journaled
//! in the task's completion: replay reads it back and never runs the script again. A script
//! that throws, or that its budget stops, fails the task (with `error` in its output, as
//! Conductor); such failures are terminal, as the same script would fail again.

use serde_json::{Value, json};

use crate::definition::TaskDef;
use crate::engine::walk::{Progress, Walker, failure_of};
use crate::engine::{Change, retry};
use crate::expr::{javascript, script};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    if w.state.tasks.contains_key(&task.task_reference_name) {
        return w
            .settled(&task.task_reference_name)
            .unwrap_or(Progress::Pending);
    }
    let input = w.resolve_input(task);
    let outcome = Script::of(task, &input).and_then(|s| s.run(&input));
    finish(w, task, input, outcome)
}

/// What an INLINE or LAMBDA task runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub evaluator: String,
    pub source: String,
}

impl Script {
    /// Runs the script over `input`: the task's output, `{result}`, plus `logs` when a
    /// JavaScript script wrote with `console.log`.
    pub fn run(&self, input: &Value) -> Result<Value, String> {
        if !script::is_javascript(&self.evaluator) {
            return script::evaluate(&self.evaluator, &self.source, input)
                .map(|result| json!({ "result": result }));
        }
        let done = javascript::run(&self.source, input, javascript::Budget::DEFAULT)
            .map_err(|e| e.to_string())?;
        let mut output = json!({ "result": done.value });
        if !done.logs.is_empty() {
            output["logs"] = json!(done.logs);
        }
        Ok(output)
    }

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
    // Every value journaled must read back: a result nested too deep fails the task.
    let outcome = outcome.and_then(|output| {
        match crate::mailbox::limits::nesting_problem("the task's output", &output) {
            Some(problem) => Err(problem),
            None => Ok(output),
        }
    });
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use crate::engine::state::{RunState, RunStatus, TaskStatus};
    use crate::engine::{Change, Ctx, Input, apply, step};
    use crate::station::AgentDirectory;

    const FLOW: &str = r#"
name: pick
tasks:
  - name: pick
    taskReferenceName: pick
    type: INLINE
    inputParameters: {evaluatorType: javascript, expression: "Math.random()"}
  - name: wait
    taskReferenceName: wait
    type: INLINE
    inputParameters: {evaluatorType: javascript, expression: "$.p * 0", p: "${pick.output.result}"}
  - name: boom
    taskReferenceName: boom
    type: INLINE
    optional: true
    inputParameters: {evaluatorType: javascript, expression: "throw new RangeError('too far')"}
outputParameters:
  picked: ${pick.output.result}
"#;

    #[test]
    fn the_value_is_journaled_once_and_replay_does_not_run_the_script_again() {
        let agents = AgentDirectory::default();
        let mut counter = 0u64;
        let mut new_id = || {
            counter += 1;
            ulid::Ulid::from_parts(counter, 1)
        };
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut ctx = Ctx {
            now,
            agents: &agents,
            new_id: &mut new_id,
            load: &crate::engine::no_load,
        };
        let workflow = crate::definition::parse_str(FLOW, std::path::Path::new("t.yaml")).unwrap();
        let mut state = RunState::default();
        let changes = step(
            &mut state,
            Input::Start {
                run_id: "R".into(),
                source: "t.yaml".into(),
                workflow: Arc::new(workflow),
                input: json!({}),
            },
            &mut ctx,
        );
        assert_eq!(state.status, RunStatus::Completed);
        let picked = state.tasks["pick"].output["result"].clone();
        assert!(picked.is_f64(), "{picked}");
        assert_eq!(state.output, Some(json!({"picked": picked})));
        let boom = &state.tasks["boom"];
        assert_eq!(boom.status, TaskStatus::CompletedWithErrors);
        assert_eq!(
            boom.reason.as_deref(),
            Some("RangeError: too far (line 1, column 11)")
        );
        assert_eq!(
            boom.output,
            json!({"error": "RangeError: too far (line 1, column 11)"})
        );

        // Replay: the journaled changes alone rebuild the state, random value included, and
        // a walk over the rebuilt state has nothing left to compute.
        let mut replayed = RunState::default();
        for change in &changes {
            apply(&mut replayed, change, now);
        }
        assert_eq!(replayed, state);
        assert!(step(&mut replayed, Input::Tick, &mut ctx).is_empty());
        let completions = changes
            .iter()
            .filter(|c| matches!(c, Change::TaskCompleted { task_ref, .. } if task_ref == "pick"))
            .count();
        assert_eq!(completions, 1);
    }
}
