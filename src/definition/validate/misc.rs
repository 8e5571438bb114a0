//! SET_VARIABLE, TERMINATE and DYNAMIC.

use serde_json::Value;

use super::{Site, Validator, describe, nearest, suggest};
use crate::definition::Diagnostic;
use crate::definition::source::push_pointer;

impl Validator<'_> {
    /// TERMINATE: `terminationStatus` is given, and when written as it is, one of the three.
    pub(super) fn terminate(&mut self, site: &Site<'_>) {
        let statuses = crate::engine::tasks::terminate::STATUSES;
        let hint = format!(
            "add `terminationStatus: FAILED` (one of {}) to its inputParameters",
            statuses.join(", ")
        );
        let Some(status) = site
            .input_parameters()
            .and_then(|m| m.get("terminationStatus"))
        else {
            if site.task.get("inputExpression").is_none() {
                self.error(
                    &site.pointer,
                    format!(
                        "TERMINATE {} has no `terminationStatus` input",
                        site.label()
                    ),
                    Some(hint),
                );
            }
            return;
        };
        let pointer = push_pointer(&site.field_pointer("inputParameters"), "terminationStatus");
        match status {
            Value::String(s) if s.contains("${") => {}
            Value::String(s) if statuses.contains(&s.as_str()) => {}
            other => {
                let suggestion = other
                    .as_str()
                    .and_then(|s| nearest(&s.to_uppercase(), statuses.iter().copied()))
                    .map_or(hint, |best| format!("did you mean `{best}`?"));
                self.error(
                    &pointer,
                    format!(
                        "`terminationStatus` of {} must be one of {}, not {}",
                        site.label(),
                        statuses.join(", "),
                        describe(other)
                    ),
                    Some(suggestion),
                );
            }
        }
        for field in ["terminationReason"] {
            if let Some(value) = site.input_parameters().and_then(|m| m.get(field))
                && !matches!(value, Value::String(_) | Value::Null)
            {
                self.must_be(
                    &push_pointer(&site.field_pointer("inputParameters"), field),
                    &format!("`{field}` of {}", site.label()),
                    "text",
                    value,
                    None,
                );
            }
        }
    }

    /// SET_VARIABLE: its inputParameters are the variables; without any it sets nothing.
    pub(super) fn set_variable(&mut self, site: &Site<'_>) {
        let has_input = site.input_parameters().is_some_and(|m| !m.is_empty())
            || site.task.get("inputExpression").is_some();
        // Conductor accepts it (its Python SDK writes SET_VARIABLE tasks without
        // inputParameters): a warning, and the task sets nothing.
        if !has_input {
            self.out.push(Diagnostic::warning(
                self.src,
                &site.pointer,
                format!(
                    "SET_VARIABLE {} sets nothing: it has no inputParameters",
                    site.label()
                ),
                Some("add `inputParameters:` with the variables to set, e.g. `count: ${step.output.count}`".into()),
            ));
        }
    }

    /// DYNAMIC: `dynamicTaskNameParam` names one of its inputs.
    pub(super) fn dynamic(&mut self, site: &Site<'_>) {
        let hint = "add `dynamicTaskNameParam: taskToRun` and `taskToRun: ${workflow.input.task}` in inputParameters";
        match site.task.get("dynamicTaskNameParam") {
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("DYNAMIC {} has no `dynamicTaskNameParam`", site.label()),
                Some(hint.into()),
            ),
            Some(Value::String(name)) if !name.trim().is_empty() => {
                let inputs: Vec<&str> = site
                    .input_parameters()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                if !inputs.contains(&name.as_str()) && site.task.get("inputExpression").is_none() {
                    let hint = suggest(
                        name,
                        inputs.iter().copied(),
                        format!("add `{name}: ${{...}}` to the task's inputParameters"),
                    );
                    self.error(
                        &site.field_pointer("dynamicTaskNameParam"),
                        format!(
                            "DYNAMIC {} takes its task name from input `{name}`, which is not in its inputParameters",
                            site.label()
                        ),
                        Some(hint),
                    );
                }
            }
            Some(other) => self.field_must_be(
                site,
                "dynamicTaskNameParam",
                "the name of an input",
                other,
                Some(hint.into()),
            ),
        }
    }
}
