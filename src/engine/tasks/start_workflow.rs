//! START_WORKFLOW: start another workflow as a run of its own and go on.
//!
//! Conductor's shape: `inputParameters.startWorkflow: {name, version, input, correlationId}`
//! (3ox also takes an inline `workflowDefinition` there). The task decides the child run
//! ([`Change::ChildRunStarted`] with kind `start_workflow`, its id chosen then) and completes
//! in the same step with `{workflowId: <child run id>}`; the orchestrator creates the child
//! right after. The parent never waits for it.

use serde_json::{Value, json};

use super::sub_workflow::{ChildKind, Target, decide_child};
use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};
use crate::expr;

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    if let Some(progress) = w.settled(&task.task_reference_name) {
        return progress;
    }
    if w.state.tasks.contains_key(&task.task_reference_name) {
        return Progress::Pending;
    }
    // Everything but an inline definition is mapped: its `${...}` belong to the child.
    let mut params = task.input_parameters.clone();
    let inline = params
        .get_mut("startWorkflow")
        .and_then(Value::as_object_mut)
        .and_then(|s| s.remove("workflowDefinition"));
    let params = Value::Object(params.into_iter().collect());
    let mut input = expr::resolve(&params, &*w.state);
    let Some(request) = input
        .get_mut("startWorkflow")
        .and_then(Value::as_object_mut)
    else {
        let got = input.get("startWorkflow").cloned().unwrap_or(Value::Null);
        return w.fail_system_task(
            task,
            format!(
                "START_WORKFLOW needs `inputParameters.startWorkflow`, a mapping with `name` (and `version`, `input`, `correlationId`); got `{got}`"
            ),
        );
    };
    if let Some(def) = inline {
        request.insert("workflowDefinition".into(), def);
    }
    let request = Value::Object(request.clone());
    let target = match Target::from_param(&request, &*w.state, "startWorkflow") {
        Ok(target) => target,
        Err(reason) => return w.fail_system_task(task, reason),
    };
    // `correlationId` is kept in the task's input; 3ox has no correlation index.
    let child_input = match request.get("input") {
        None | Some(Value::Null) => json!({}),
        Some(given @ Value::Object(_)) => given.clone(),
        Some(other) => {
            return w.fail_system_task(
                task,
                format!("`startWorkflow.input` must be a mapping, not `{other}`"),
            );
        }
    };
    match decide_child(
        w.state,
        w.ctx,
        w.out,
        ChildKind::StartWorkflow,
        Some(task),
        target,
        child_input,
    ) {
        Ok(child_run_id) => {
            if let Some(fields) = input.as_object_mut()
                && let Some(Value::Object(request)) = fields.get_mut("startWorkflow")
            {
                request.remove("workflowDefinition");
            }
            w.emit(Change::TaskCompleted {
                task_ref: task.task_reference_name.clone(),
                task_id: None,
                input: Some(input),
                output: json!({ "workflowId": child_run_id }),
            });
            Progress::Done
        }
        Err(reason) => w.fail_system_task(task, reason),
    }
}
