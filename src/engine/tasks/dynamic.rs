//! DYNAMIC: a task whose name is chosen at run time from an input.
//!
//! `dynamicTaskNameParam` names one of the task's inputs; its resolved value is the name of
//! the task to run. The first walk journals the choice (`dynamic_task_chosen`), and from then
//! on the task is that task: a SIMPLE task of that name, served by an agent that lists the
//! name among its capabilities (or the one named by `agent:`), with the DYNAMIC task's input,
//! retries and reference. A replay reads the choice from the journal, so it never changes.
//!
//! A name that is one of the types the engine runs itself (SWITCH, HTTP, TERMINATE, ...) is
//! refused: the task fails with a reason saying so (a dynamic choice of control flow is not
//! something 3ox runs). Conductor's agent-served system types (LLM_CHAT_COMPLETE, ...) are
//! fine: an agent that lists the type serves it, like any SIMPLE task.

use serde_json::Value;

use crate::definition::{SUPPORTED_TYPES, TaskDef};
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    let chosen = match w.state.dynamic_choices.get(task_ref) {
        Some(name) => name.clone(),
        None => {
            if let Some(progress) = w.settled(task_ref) {
                // Failed when choosing (or skipped before it chose).
                return progress;
            }
            let input = w.resolve_input(task);
            match choose(task, &input) {
                Ok(name) => {
                    w.emit(Change::DynamicTaskChosen {
                        task_ref: task_ref.clone(),
                        task_name: name.clone(),
                    });
                    name
                }
                Err(reason) => return w.fail_system_task(task, reason),
            }
        }
    };
    let mut simple = task.clone();
    simple.name = chosen;
    simple.type_name = "SIMPLE".to_string();
    super::simple::walk(w, &simple, None)
}

/// The task name the resolved `input` chooses.
pub fn choose(task: &TaskDef, input: &Value) -> Result<String, String> {
    let Some(param) = task.dynamic_task_name_param.as_deref() else {
        return Err(
            "a DYNAMIC task needs `dynamicTaskNameParam`, the input naming the task to run".into(),
        );
    };
    let name = match input.get(param) {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        None | Some(Value::Null) => {
            return Err(format!(
                "input `{param}` (dynamicTaskNameParam) is missing; it must name the task to run"
            ));
        }
        Some(other) => {
            return Err(format!(
                "input `{param}` (dynamicTaskNameParam) must be a task name, not {other}"
            ));
        }
    };
    if SUPPORTED_TYPES.contains(&name.as_str()) && name != "SIMPLE" {
        return Err(format!(
            "input `{param}` chose `{name}`, a task type the engine runs itself; a DYNAMIC task runs a task served by an agent (a SIMPLE task name or an agent-served type)"
        ));
    }
    if let Some(problem) = crate::mailbox::name_problem(&name) {
        return Err(format!(
            "input `{param}` chose `{name}`, which is not usable as a task name: {problem}"
        ));
    }
    Ok(name)
}
