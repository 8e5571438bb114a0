//! Which tasks of a workflow this station cannot serve, for the HTTP / EVENT / agent-served
//! types: a Conductor system type no agent declares as a capability, an `agent:` or an EVENT
//! `sink: agent:<name>` that names no agent of the station. `3ox run` and `3ox start` refuse
//! such a workflow before anything is created ([`super::preflight`]); `3ox validate` inside a
//! station reports the same problems at the task's line.

use serde_json::Value;

use crate::definition::source::{Source, push_pointer};
use crate::definition::{Diagnostic, TaskDef, TaskKind, WorkflowDef};
use crate::engine::tasks::event::{EventTarget, parse_sink};
use crate::station::AgentDirectory;

/// One task the station cannot serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Unserved {
    pub task_ref: String,
    /// The field the problem is about (`type`, `agent` or `sink`).
    pub field: &'static str,
    pub message: String,
    pub hint: String,
}

/// Every task of `workflow` (nested ones too) that `agents` cannot serve.
pub fn unserved(workflow: &WorkflowDef, agents: &AgentDirectory) -> Vec<Unserved> {
    let mut out = Vec::new();
    walk(&workflow.tasks, &workflow.name, agents, &mut out);
    out
}

fn walk(tasks: &[TaskDef], workflow: &str, agents: &AgentDirectory, out: &mut Vec<Unserved>) {
    let known = || {
        let names: Vec<&str> = agents.agents.keys().map(String::as_str).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    for task in tasks {
        let task_ref = &task.task_reference_name;
        match task.kind() {
            TaskKind::AgentServed(type_name) => match &task.agent {
                Some(name) if agents.get(name).is_none() => out.push(Unserved {
                    task_ref: task_ref.clone(),
                    field: "agent",
                    message: format!(
                        "task `{task_ref}` ({type_name}) names agent `{name}`, which this station does not have (agents: {})",
                        known()
                    ),
                    hint: format!("add agents/{name}/agent.yaml, or name an agent of the station"),
                }),
                Some(_) => {}
                None if agents.serving(type_name).next().is_none() => out.push(Unserved {
                    task_ref: task_ref.clone(),
                    field: "type",
                    message: format!(
                        "task `{task_ref}` has type {type_name}, which 3ox does not run itself and no agent of this station serves"
                    ),
                    hint: format!(
                        "add `{type_name}` to the capabilities of an agent in agents/<name>/agent.yaml (it then receives these tasks like SIMPLE ones), or name one with `agent:`{}",
                        if matches!(type_name, "LLM_CHAT_COMPLETE" | "LLM_TEXT_COMPLETE") {
                            "; 3ox's own LLM agent serves this type: an agent.yaml with an `llm:` section (`3ox init --example` writes agents/llm; see docs/llm-agent.md)"
                        } else {
                            ""
                        }
                    ),
                }),
                None => {}
            },
            TaskKind::Event => {
                let sink = task.sink.as_deref().unwrap_or_default();
                if let Ok(parsed) = parse_sink(sink, workflow, task_ref)
                    && let EventTarget::Agent { name } = &parsed.target
                    && agents.get(name).is_none()
                {
                    out.push(Unserved {
                        task_ref: task_ref.clone(),
                        field: "sink",
                        message: format!(
                            "EVENT task `{task_ref}` publishes to agent `{name}` (`sink: {sink}`), which this station does not have (agents: {})",
                            known()
                        ),
                        hint: format!(
                            "add agents/{name}/agent.yaml (`version: 1` is enough), or publish to a station event folder with `sink: 3ox:<topic>`"
                        ),
                    });
                }
            }
            _ => {}
        }
        let children: Vec<TaskDef> = task.children().cloned().collect();
        walk(&children, workflow, agents, out);
    }
}

/// The problems of [`unserved`] as diagnostics at the task's field in `src`.
pub fn diagnostics(
    src: &Source,
    workflow: &WorkflowDef,
    agents: &AgentDirectory,
) -> Vec<Diagnostic> {
    unserved(workflow, agents)
        .into_iter()
        .map(|problem| {
            let pointer = task_pointer(&src.value, "", &problem.task_ref)
                .map(|task| push_pointer(&task, problem.field))
                .unwrap_or_default();
            Diagnostic::error(src, &pointer, problem.message, Some(problem.hint))
        })
        .collect()
}

/// The pointer of the task whose `taskReferenceName` is `task_ref`, searched everywhere.
fn task_pointer(value: &Value, pointer: &str, task_ref: &str) -> Option<String> {
    match value {
        Value::Object(map) => {
            if map.get("taskReferenceName").and_then(Value::as_str) == Some(task_ref) {
                return Some(pointer.to_string());
            }
            map.iter()
                .find_map(|(key, child)| task_pointer(child, &push_pointer(pointer, key), task_ref))
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, child)| {
            task_pointer(child, &push_pointer(pointer, &i.to_string()), task_ref)
        }),
        _ => None,
    }
}
