//! The dry run of a generated workflow: the `3ox test` simulator ([`crate::testing`]) with
//! stub outcomes, once as the workflow decides by itself and once for every case (and the
//! default) of every SWITCH and DECISION, forced. Every agent task answers `COMPLETED` with
//! an empty output, every HUMAN task is approved, and the workflow input holds each declared
//! input's default (or an empty value of its type).
//!
//! A path is forced by rewriting the switch in the definition's JSON before it is typed: its
//! case is taken (`value-param`) from an input parameter holding the case key. What the dry
//! run finds is reported at the switch (or at the top of the file for the unforced run):
//! a mock that does not fit, a run that waits for something that never comes, a run that
//! FAILED in a task other than a TERMINATE. A run that is still going after
//! [`STEP_LIMIT`] changes (a loop whose end depends on real outputs) is only a warning.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::definition::source::{Source, push_pointer};
use crate::definition::{Diagnostic, WorkflowDef};
use crate::engine::RunStatus;
use crate::testing::mocks::{MockDecision, Outcome};
use crate::testing::{MockFile, Simulation};

/// A simulated path that has made this many changes without ending is stopped.
pub const STEP_LIMIT: usize = 20_000;
/// At most this many paths are simulated (the unforced run included).
pub const MAX_PATHS: usize = 64;
/// The input parameter a forced switch takes its case from.
const FORCED: &str = "__3ox_dry_run_case";

/// One switch of the definition: where it is and its case keys.
struct Switch {
    pointer: String,
    task_ref: String,
    cases: Vec<String>,
}

/// Dry-runs the (valid) workflow in `src` over every switch path; the problems found.
pub fn check(src: &Source) -> Vec<Diagnostic> {
    let mut switches = Vec::new();
    find_switches(&src.value, "", &mut switches);
    let mut paths: Vec<(Option<&Switch>, Option<&str>)> = vec![(None, None)];
    for switch in &switches {
        for case in &switch.cases {
            paths.push((Some(switch), Some(case.as_str())));
        }
        paths.push((Some(switch), None));
    }
    let mut diagnostics = Vec::new();
    let skipped = paths.len().saturating_sub(MAX_PATHS);
    for (switch, case) in paths.into_iter().take(MAX_PATHS) {
        let mut value = src.value.clone();
        let label = match switch {
            None => "as it decides with stub outcomes".to_string(),
            Some(switch) => {
                force(&mut value, &switch.pointer, case);
                match case {
                    Some(case) => format!("with `{}` taking case `{case}`", switch.task_ref),
                    None => format!("with `{}` taking its defaultCase", switch.task_ref),
                }
            }
        };
        let pointer = switch.map_or("", |s| s.pointer.as_str());
        let def: WorkflowDef = match serde_json::from_value(value) {
            Ok(def) => def,
            Err(e) => {
                diagnostics.push(Diagnostic::error(
                    src,
                    pointer,
                    format!("the dry run {label} cannot read the definition: {e}"),
                    None,
                ));
                continue;
            }
        };
        if let Some(problem) = simulate(def) {
            let (message, warning) = problem;
            let diagnostic = Diagnostic::error(
                src,
                pointer,
                format!("dry run {label}: {message}"),
                Some(
                    "every path must end: check the SWITCH cases, the references between tasks and what each task is given"
                        .to_string(),
                ),
            );
            diagnostics.push(if warning {
                diagnostic.as_warning()
            } else {
                diagnostic
            });
        }
    }
    if skipped > 0
        && let Some(first) = switches.first()
    {
        diagnostics.push(Diagnostic::warning(
            src,
            &first.pointer,
            format!("the dry run tried {MAX_PATHS} paths; {skipped} more were not tried"),
            None,
        ));
    }
    diagnostics
}

/// Runs one path; `Some((problem, is_warning))` when it did not end well.
fn simulate(def: WorkflowDef) -> Option<(String, bool)> {
    let mut mocks = MockFile {
        file: "(dry run)".to_string(),
        input: Value::Object(stub_input(&def)),
        default: Some(Outcome {
            output: Some(json!({})),
            ..Outcome::default()
        }),
        ..MockFile::default()
    };
    let mut humans = Vec::new();
    for task in &def.tasks {
        human_refs(task, &mut humans);
    }
    for task_ref in humans {
        mocks.tasks.insert(
            task_ref,
            vec![Outcome {
                decision: Some(MockDecision::Approve),
                ..Outcome::default()
            }],
        );
    }
    let def = Arc::new(def);
    let run = Simulation::new(&mocks)
        .limit(STEP_LIMIT)
        .run(def.clone(), "(dry run)");
    if let Some(error) = run.error {
        return Some((error.to_string(), false));
    }
    if let Some(stuck) = run.stuck {
        let warning = run.events.len() >= STEP_LIMIT;
        return Some((format!("the run did not end: {stuck}"), warning));
    }
    match run.state.status {
        RunStatus::Failed => {
            let failure = run.state.failure.as_ref();
            let task = failure.and_then(|f| f.task_ref.as_deref());
            let terminated = task
                .and_then(|t| run.state.defs.get(t))
                .is_some_and(|d| d.type_name == "TERMINATE");
            (!terminated).then(|| {
                (
                    format!(
                        "the run FAILED{}: {}",
                        task.map(|t| format!(" in task `{t}`")).unwrap_or_default(),
                        failure.map_or("no reason given", |f| f.reason.as_str())
                    ),
                    false,
                )
            })
        }
        _ => None,
    }
}

/// Each declared input's default, or an empty value of its type.
fn stub_input(def: &WorkflowDef) -> Map<String, Value> {
    use crate::definition::inputs::InputType;
    def.inputs
        .iter()
        .map(|(name, spec)| {
            let value = spec.default.clone().unwrap_or(match spec.type_name {
                Some(InputType::String) => json!(""),
                Some(InputType::Number | InputType::Integer) => json!(0),
                Some(InputType::Boolean) => json!(false),
                Some(InputType::List) => json!([]),
                Some(InputType::Object) | None => json!({}),
            });
            (name.clone(), value)
        })
        .collect()
}

fn human_refs(task: &crate::definition::TaskDef, out: &mut Vec<String>) {
    if task.type_name == "HUMAN" {
        out.push(task.task_reference_name.clone());
    }
    for child in task.children() {
        human_refs(child, out);
    }
}

/// Every SWITCH and DECISION task under `value` (found by walking the JSON, so that a forced
/// copy can be made at the same pointer).
fn find_switches(value: &Value, at: &str, out: &mut Vec<Switch>) {
    match value {
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str);
            if matches!(kind, Some("SWITCH" | "DECISION"))
                && let Some(task_ref) = map.get("taskReferenceName").and_then(Value::as_str)
            {
                let cases = map
                    .get("decisionCases")
                    .and_then(Value::as_object)
                    .map(|cases| cases.keys().cloned().collect())
                    .unwrap_or_default();
                out.push(Switch {
                    pointer: at.to_string(),
                    task_ref: task_ref.to_string(),
                    cases,
                });
            }
            for (key, child) in map {
                // Inputs are data, not tasks (a task list passed to a dynamic fork, ...).
                if key != "inputParameters" {
                    find_switches(child, &push_pointer(at, key), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_switches(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Makes the switch at `pointer` take `case` (`None`: a key no case has, so its default).
fn force(value: &mut Value, pointer: &str, case: Option<&str>) {
    let Some(Value::Object(task)) = value.pointer_mut(pointer) else {
        return;
    };
    let key = case.map_or_else(|| "__3ox_no_such_case__".to_string(), str::to_string);
    task.remove("caseExpression");
    task.insert("evaluatorType".into(), json!("value-param"));
    if task.get("type").and_then(Value::as_str) == Some("DECISION") {
        task.insert("caseValueParam".into(), json!(FORCED));
    } else {
        task.insert("expression".into(), json!(FORCED));
    }
    let params = task.entry("inputParameters").or_insert_with(|| json!({}));
    if let Value::Object(params) = params {
        params.insert(FORCED.into(), json!(key));
    } else {
        *params = json!({ FORCED: key });
    }
}
