//! `3ox conductor register`: what a station puts on a Conductor server.
//!
//! Every workflow file directly in the station's `templates/` and `workflows/` folders is
//! exported as `3ox export --format conductor` would ([`crate::definition::conductor::export`])
//! and the exported JSON is sent as is with `PUT /api/metadata/workflow` (a list; it creates
//! or updates). Each SIMPLE task name the workflows use becomes one TaskDef, sent with
//! `POST /api/metadata/taskdefs` (a list) before the workflows, carrying the retry and timeout
//! fields the export put in the task's `taskDefinition` (and a task's own `retryCount`).
//!
//! A workflow that does not validate is refused; what Conductor JSON cannot say (the export's
//! notes) is a warning that says what was dropped, or with `strict` a refusal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::client::{CallError, Client};
use crate::definition::Severity;
use crate::definition::conductor;
use crate::station::Station;

/// The TaskDef fields 3ox fills from a workflow task's `taskDefinition` (Conductor's names).
pub const TASK_DEF_FIELDS: &[&str] = &[
    "retryCount",
    "retryLogic",
    "retryDelaySeconds",
    "backoffScaleFactor",
    "maxRetryDelaySeconds",
    "timeoutSeconds",
    "timeoutPolicy",
    "responseTimeoutSeconds",
    "pollTimeoutSeconds",
    "rateLimitPerFrequency",
    "rateLimitFrequencyInSeconds",
    "concurrentExecLimit",
];

/// What would be sent, and what was said about it.
#[derive(Debug, Default)]
pub struct Plan {
    /// The workflow files, with their exported JSON.
    pub workflows: Vec<(PathBuf, Value)>,
    /// One TaskDef per SIMPLE task name, by name.
    pub task_defs: BTreeMap<String, Value>,
    /// What was left out or differs (with `strict`: errors).
    pub warnings: Vec<String>,
    /// What stops the registration.
    pub errors: Vec<String>,
}

impl Plan {
    /// The bodies as sent: `{"taskDefs": [...], "workflows": [...]}` (what `--dry-run` prints).
    pub fn to_json(&self) -> Value {
        json!({
            "taskDefs": self.task_defs.values().collect::<Vec<_>>(),
            "workflows": self.workflows.iter().map(|(_, w)| w).collect::<Vec<_>>(),
        })
    }
}

/// The workflow files of the station, sorted.
pub fn workflow_files(station: &Station) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in crate::orchestrator::children::WORKFLOW_FOLDERS {
        let Ok(entries) = std::fs::read_dir(station.root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if crate::mailbox::is_mail_name(&name) && path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Exports the station's workflows and gathers their task definitions.
pub fn plan(station: &Station, strict: bool, owner_email: Option<&str>) -> Plan {
    let mut plan = Plan::default();
    for path in workflow_files(station) {
        let shown = station.relative(&path);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                plan.errors.push(format!("{shown}: cannot read it: {e}"));
                continue;
            }
        };
        let exported = match conductor::export(&text, &shown) {
            Ok(exported) => exported,
            Err(refused) => {
                if refused
                    .diagnostics
                    .iter()
                    .any(|d| d.message.contains("not a workflow definition"))
                {
                    continue;
                }
                plan.errors.push(refused.to_string());
                continue;
            }
        };
        let invalid: Vec<_> = exported
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if !invalid.is_empty() {
            for d in invalid {
                plan.errors.push(d.render());
            }
            continue;
        }
        for note in &exported.notes {
            let at = note
                .at
                .map(|(l, c)| format!(":{l}:{c}"))
                .unwrap_or_default();
            let line = format!("{shown}{at}: {note}");
            if strict {
                plan.errors.push(line);
            } else {
                plan.warnings.push(line);
            }
        }
        let mut workflow: Value = match serde_json::from_str(&exported.json) {
            Ok(value) => value,
            Err(e) => {
                plan.errors
                    .push(format!("{shown}: the export is not JSON: {e}"));
                continue;
            }
        };
        if let (Some(email), Some(map)) = (owner_email, workflow.as_object_mut()) {
            map.entry("ownerEmail").or_insert_with(|| json!(email));
        }
        let mut defs = Vec::new();
        if let Some(tasks) = workflow.get("tasks").and_then(Value::as_array) {
            simple_tasks(tasks, &mut defs);
        }
        for def in defs {
            add_task_def(&mut plan, &shown, def, owner_email);
        }
        plan.workflows.push((path, workflow));
    }
    plan
}

/// Sends the plan: task definitions first (the workflows name them), then the workflows.
pub fn send(client: &Client, plan: &Plan) -> Result<(), CallError> {
    let body = plan.to_json();
    if !plan.task_defs.is_empty() {
        client.post("/api/metadata/taskdefs", &body["taskDefs"])?;
    }
    if !plan.workflows.is_empty() {
        client.put("/api/metadata/workflow", &body["workflows"])?;
    }
    Ok(())
}

/// The TaskDef of every SIMPLE task in `tasks`, nested ones included, in order.
fn simple_tasks(tasks: &[Value], out: &mut Vec<Value>) {
    for task in tasks {
        let kind = task.get("type").and_then(Value::as_str).unwrap_or("SIMPLE");
        if kind == "SIMPLE"
            && let Some(name) = task.get("name").and_then(Value::as_str)
        {
            let mut def = Map::new();
            def.insert("name".into(), json!(name));
            let given = task.get("taskDefinition").and_then(Value::as_object);
            for field in TASK_DEF_FIELDS {
                if let Some(value) = given.and_then(|g| g.get(*field)) {
                    def.insert((*field).into(), value.clone());
                }
            }
            if let Some(count) = task.get("retryCount") {
                def.insert("retryCount".into(), count.clone());
            }
            out.push(Value::Object(def));
        }
        for nested in ["forkTasks", "decisionCases", "defaultCase", "loopOver"] {
            match task.get(nested) {
                Some(Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::Array(branch) => simple_tasks(branch, out),
                            other => simple_tasks(std::slice::from_ref(other), out),
                        }
                    }
                }
                Some(Value::Object(cases)) => {
                    for branch in cases.values() {
                        if let Value::Array(branch) = branch {
                            simple_tasks(branch, out);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Adds `def` to the plan; a name already there with other fields keeps the first and warns.
fn add_task_def(plan: &mut Plan, shown: &str, mut def: Value, owner_email: Option<&str>) {
    let name = def["name"].as_str().unwrap_or_default().to_string();
    if let (Some(email), Some(map)) = (owner_email, def.as_object_mut()) {
        map.insert("ownerEmail".into(), json!(email));
    }
    match plan.task_defs.get(&name) {
        None => {
            plan.task_defs.insert(name, def);
        }
        Some(first) if *first == def => {}
        Some(_) => plan.warnings.push(format!(
            "{shown}: task `{name}` has other retry or timeout fields than where it was first seen; the task definition keeps the first (a workflow task's own `taskDefinition` still applies to it)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_tasks_are_found_in_forks_switches_and_loops() {
        let tasks = json!([
            {"name": "a", "type": "SIMPLE", "taskDefinition": {"retryCount": 2, "timeoutSeconds": 60, "ownerApp": "x"}},
            {"name": "f", "type": "FORK_JOIN", "forkTasks": [[{"name": "b", "type": "SIMPLE"}], [{"name": "c"}]]},
            {"name": "s", "type": "SWITCH", "decisionCases": {"x": [{"name": "d", "type": "SIMPLE"}]}, "defaultCase": [{"name": "e", "type": "SIMPLE", "retryCount": 0}]},
            {"name": "l", "type": "DO_WHILE", "loopOver": [{"name": "g", "type": "SIMPLE"}]},
            {"name": "h", "type": "HTTP"}
        ]);
        let mut out = Vec::new();
        simple_tasks(tasks.as_array().unwrap(), &mut out);
        let names: Vec<_> = out.iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e", "g"]);
        assert_eq!(
            out[0],
            json!({"name": "a", "retryCount": 2, "timeoutSeconds": 60})
        );
        assert_eq!(out[4], json!({"name": "e", "retryCount": 0}));
    }
}
