//! SUB_WORKFLOW and START_WORKFLOW: the workflow they start; the workflow's `failureWorkflow`.

use serde_json::{Map, Value};

use super::{Site, Validator, check};
use crate::definition::diagnostic::Severity;
use crate::definition::source::{Source, push_pointer};

impl Validator<'_> {
    /// `failureWorkflow`: the name of a workflow of the station.
    pub(super) fn failure_workflow_field(&mut self, root: &Map<String, Value>) {
        match root.get("failureWorkflow") {
            None | Some(Value::Null) => {}
            // Conductor writes `""` for none.
            Some(Value::String(name)) if name.trim().is_empty() => {}
            // Chosen by the run's input: Conductor's `$workflow.input.<key>`, or `${...}`.
            Some(Value::String(name))
                if name.starts_with("$workflow.input.") || name.starts_with("${") => {}
            Some(Value::String(name))
                if !name.contains('$') && crate::mailbox::name_problem(name).is_none() => {}
            Some(other) => self.must_be("/failureWorkflow", "`failureWorkflow`", "the name of a workflow (plain text)", other, Some("name a workflow of the station's templates/ or workflows/, e.g. `failureWorkflow: undo_order`, or let the input choose it: `failureWorkflow: $workflow.input.onFailure`".into())),
        }
    }

    /// SUB_WORKFLOW: `subWorkflowParam` with `name` (and `version`) or `workflowDefinition`.
    pub(super) fn sub_workflow(&mut self, site: &Site<'_>) {
        let pointer = site.field_pointer("subWorkflowParam");
        match site.task.get("subWorkflowParam") {
            Some(Value::Object(param)) => self.workflow_param(site, &pointer, param, "subWorkflowParam"),
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("{} is a SUB_WORKFLOW without `subWorkflowParam`", site.label()),
                Some("add `subWorkflowParam: {name: other_workflow, version: 1}` (or an inline `workflowDefinition`)".into()),
            ),
            Some(other) => self.must_be(&pointer, &format!("`subWorkflowParam` of {}", site.label()), "a mapping", other, Some("write `subWorkflowParam: {name: other_workflow, version: 1}`".into())),
        }
    }

    /// START_WORKFLOW: `inputParameters.startWorkflow` with `name` (or `workflowDefinition`),
    /// `version`, `input`, `correlationId`; or a `${...}` that gives all of it at run time.
    pub(super) fn start_workflow(&mut self, site: &Site<'_>) {
        let pointer = push_pointer(&site.field_pointer("inputParameters"), "startWorkflow");
        let request = site.input_parameters().and_then(|p| p.get("startWorkflow"));
        match request {
            Some(Value::Object(request)) => {
                self.workflow_param(site, &pointer, request, "startWorkflow");
                match request.get("input") {
                    None | Some(Value::Null | Value::Object(_)) => {}
                    Some(Value::String(s)) if s.contains("${") => {}
                    Some(other) => self.must_be(
                        &push_pointer(&pointer, "input"),
                        &format!("`startWorkflow.input` of {}", site.label()),
                        "a mapping (the new run's input)",
                        other,
                        None,
                    ),
                }
            }
            Some(Value::String(s)) if s.contains("${") => {}
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!(
                    "{} is a START_WORKFLOW without `inputParameters.startWorkflow`",
                    site.label()
                ),
                Some(
                    "add `inputParameters: {startWorkflow: {name: other_workflow, input: {...}}}`"
                        .into(),
                ),
            ),
            Some(other) => self.must_be(
                &pointer,
                &format!("`startWorkflow` of {}", site.label()),
                "a mapping with `name`, `version`, `input`, `correlationId`",
                other,
                None,
            ),
        }
    }

    /// The `{name, version, workflowDefinition}` shared by both.
    fn workflow_param(
        &mut self,
        site: &Site<'_>,
        pointer: &str,
        param: &Map<String, Value>,
        field: &str,
    ) {
        let inline = param.get("workflowDefinition");
        match inline {
            None | Some(Value::Null) => {}
            Some(def @ Value::Object(_)) => {
                // A whole workflow: checked as a file of its own (children of children too).
                let text = serde_json::to_string_pretty(def).unwrap_or_default();
                let inner = match Source::parse(&text, "workflowDefinition") {
                    Ok(src) => check(&src),
                    Err(diagnostic) => vec![diagnostic],
                };
                for problem in inner.into_iter().filter(|d| d.severity == Severity::Error) {
                    self.error(
                        &push_pointer(pointer, "workflowDefinition"),
                        format!(
                            "the inline `workflowDefinition` of {}: {}",
                            site.label(),
                            problem.message
                        ),
                        problem.hint,
                    );
                }
            }
            Some(other) => self.must_be(
                &push_pointer(pointer, "workflowDefinition"),
                &format!("`{field}.workflowDefinition` of {}", site.label()),
                "a workflow definition (a mapping)",
                other,
                None,
            ),
        }
        match param.get("name") {
            Some(Value::String(name)) if !name.contains("${") => {
                if let Some(problem) = crate::mailbox::name_problem(name) {
                    self.error(
                        &push_pointer(pointer, "name"),
                        format!(
                            "`{field}.name` of {}: `{}` is not usable as a workflow name: {problem}",
                            site.label(),
                            name.escape_debug()
                        ),
                        Some("name a workflow of the station's templates/ or workflows/ by its `name:`".into()),
                    );
                }
            }
            Some(Value::String(_)) => {}
            None | Some(Value::Null) if matches!(inline, Some(Value::Object(_))) => {}
            None | Some(Value::Null) => self.error(
                pointer,
                format!("`{field}` of {} names no workflow", site.label()),
                Some("add `name: other_workflow` (a workflow of the station's templates/ or workflows/), or an inline `workflowDefinition`".into()),
            ),
            Some(other) => self.must_be(&push_pointer(pointer, "name"), &format!("`{field}.name` of {}", site.label()), "a workflow's name", other, None),
        }
        match param.get("version") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v <= u64::from(u32::MAX)) => {}
            Some(Value::String(s)) if s.contains("${") || s.trim().parse::<u32>().is_ok() => {}
            Some(other) => self.must_be(
                &push_pointer(pointer, "version"),
                &format!("`{field}.version` of {}", site.label()),
                "a whole number",
                other,
                Some("write `version: 1`, or leave it out for the highest version".into()),
            ),
        }
    }
}
