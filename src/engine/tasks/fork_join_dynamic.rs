//! FORK_JOIN_DYNAMIC: fork over a list known only at run time.
//!
//! Two forms, as in Conductor:
//! - `dynamicForkTasksParam` names an input holding a list of task definitions and
//!   `dynamicForkTasksInputParamName` an input holding a map from task reference to input;
//! - the input `forkTaskName` (with optional `forkTaskType`, default SIMPLE; or
//!   `forkTaskType` alone, which also names the tasks) and a list `forkTaskInputs`: fork `i`
//!   runs that task with reference `_<forkTaskName>_<i>` (Conductor's naming; inside a
//!   DO_WHILE iteration `n`, `_<forkTaskName>_<i>__<n>`); its input is the fork's other inputs
//!   merged with the item (an object is merged in, any other value is given as `item`) and
//!   `__index: i`. Two such forks of the same task name in one run would take the same
//!   references: `validate` warns, and the second fork fails with the reason at run time.
//!
//! Forked tasks are SIMPLE, SUB_WORKFLOW (each fork a child run, its workflow looked up by
//! name when the fork starts it) or a type agents serve. Forked tasks take the fork task's
//! `agent` and `retry` unless they set their own. The
//! expansion is journaled (`fork_expanded`) before any forked task starts, so the set of
//! forks never changes, even across a restart. Each forked task is walked as its own branch.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::definition::{TaskDef, TaskKind};
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};

/// Inputs of the `forkTaskName` form that are not passed on to the forked tasks.
const FORM_KEYS: &[&str] = &["forkTaskName", "forkTaskType", "forkTaskInputs"];

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(failed @ Progress::Failed(_)) = w.settled(task_ref) {
        return failed;
    }
    if !w.state.tasks.contains_key(task_ref) {
        let input = w.resolve_input(task);
        match expand(task, &input).and_then(|tasks| check_new(w, tasks)) {
            Ok(tasks) => {
                let refs: Vec<&str> = tasks
                    .iter()
                    .map(|t| t.task_reference_name.as_str())
                    .collect();
                let output = json!({ "forkedTasks": refs });
                w.emit(Change::ForkExpanded {
                    task_ref: task_ref.clone(),
                    tasks,
                });
                w.emit(Change::TaskCompleted {
                    task_ref: task_ref.clone(),
                    task_id: None,
                    input: Some(input),
                    output,
                });
            }
            Err(reason) => return w.fail_system_task(task, reason),
        }
    }
    let forks = w.state.forks.get(task_ref).cloned().unwrap_or_default();
    w.branches(forks.iter().map(std::slice::from_ref))
}

/// The forked tasks for the fork's resolved `input`.
pub fn expand(fork: &TaskDef, input: &Value) -> Result<Vec<TaskDef>, String> {
    let mut tasks = if let Some(param) = &fork.dynamic_fork_tasks_param {
        classic(fork, param, input)?
    } else {
        by_name(fork, input)?
    };
    for task in &mut tasks {
        if task.agent.is_none() {
            task.agent.clone_from(&fork.agent);
        }
        if task.retry.is_none() {
            task.retry.clone_from(&fork.retry);
        }
    }
    Ok(tasks)
}

fn classic(fork: &TaskDef, param: &str, input: &Value) -> Result<Vec<TaskDef>, String> {
    let list = input.get(param).cloned().unwrap_or(Value::Null);
    let Value::Array(items) = list else {
        return Err(format!(
            "input `{param}` should be a list of task definitions, but it is {}",
            kind_of(&list)
        ));
    };
    let inputs = fork
        .dynamic_fork_tasks_input_param_name
        .as_ref()
        .and_then(|name| input.get(name))
        .cloned()
        .unwrap_or(Value::Null);
    let mut tasks = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let mut task: TaskDef = serde_json::from_value(item)
            .map_err(|e| format!("dynamic task {i} is not a task definition: {e}"))?;
        if let Some(Value::Object(given)) = inputs.get(&task.task_reference_name) {
            task.input_parameters = given.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        tasks.push(task);
    }
    Ok(tasks)
}

fn by_name(fork: &TaskDef, input: &Value) -> Result<Vec<TaskDef>, String> {
    let fork_type = input.get("forkTaskType").and_then(Value::as_str);
    // Forking by type alone (Conductor): each forked task is named after its type, and an
    // agent that serves the type receives it.
    let Some(name) = input
        .get("forkTaskName")
        .and_then(Value::as_str)
        .or(fork_type)
    else {
        return Err(
            "a dynamic fork needs `dynamicForkTasksParam`, or the input `forkTaskName` or `forkTaskType`"
                .to_string(),
        );
    };
    let type_name = fork_type.unwrap_or("SIMPLE").to_string();
    let items = match input
        .get("forkTaskInputs")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()))
    {
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "input `forkTaskInputs` should be a list, but it is {}",
                kind_of(&other)
            ));
        }
    };
    let shared: Map<String, Value> = input
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !FORM_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    // Inside a DO_WHILE the fork is `<ref>__<n>`; its forks carry the same `__<n>` so that
    // each iteration's forks have references of their own.
    let loop_suffix = fork
        .task_reference_name
        .rsplit_once("__")
        .filter(|(_, n)| n.parse::<u32>().is_ok())
        .map(|(_, n)| format!("__{n}"))
        .unwrap_or_default();
    let mut tasks = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let mut task_input: IndexMap<String, Value> =
            shared.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        match item {
            Value::Object(fields) => task_input.extend(fields),
            other => {
                task_input.insert("item".to_string(), other);
            }
        }
        // Conductor's ForkJoinDynamicTaskMapper: `__index` is the fork's 0-based index.
        task_input.insert("__index".to_string(), json!(i));
        let def = json!({
            "name": name,
            "taskReferenceName": format!("{}{}", forked_ref(name, i), loop_suffix),
            "type": type_name,
        });
        let mut task: TaskDef = serde_json::from_value(def).map_err(|e| e.to_string())?;
        task.input_parameters = task_input;
        tasks.push(task);
    }
    Ok(tasks)
}

/// The reference of fork `i` of the `forkTaskName` form, as Conductor names it:
/// `_<forkTaskName>_<i>`.
pub fn forked_ref(name: &str, i: usize) -> String {
    format!("_{name}_{i}")
}

/// Refuses forked tasks whose type 3ox cannot run here or whose reference is taken.
fn check_new(w: &Walker<'_, '_, '_>, tasks: Vec<TaskDef>) -> Result<Vec<TaskDef>, String> {
    let mut seen = std::collections::HashSet::new();
    for task in &tasks {
        let task_ref = &task.task_reference_name;
        if w.state.defs.contains_key(task_ref) || !seen.insert(task_ref.clone()) {
            return Err(format!(
                "dynamic task reference `{task_ref}` is used twice in this run"
            ));
        }
        if !matches!(
            task.kind(),
            TaskKind::Simple | TaskKind::AgentServed(_) | TaskKind::SubWorkflow
        ) {
            return Err(format!(
                "dynamic task `{task_ref}` has type {}; forked tasks must be SIMPLE, SUB_WORKFLOW or a type agents serve in this version",
                task.type_name
            ));
        }
    }
    Ok(tasks)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "missing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
