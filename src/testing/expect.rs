//! The `expect:` block of a mocks file: what a simulated run must come to.
//!
//! ```yaml
//! expect:
//!   status: COMPLETED              # the run's status
//!   reason: aggregate              # a text the run's failure reason must contain
//!   output: {problem_count: 0}     # the run's output must contain these values
//!   ran: [aggregate, write_clean_report]      # tasks that must have started
//!   not_ran: [write_problem_report]           # tasks that must not have started
//!   tasks:
//!     validate_folders_1: {status: COMPLETED, attempts: 2, output: {problems: []}}
//!     aggregate: {input: {results: {validate_folders_0: {problems: []}}}}
//! ```
//!
//! Values compare as "contains": a mapping matches when each key given matches (other keys
//! are ignored), recursively; lists and scalars must be equal.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::{RunState, RunStatus, TaskStatus};

/// What a run must come to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub status: Option<RunStatus>,
    /// A text the run's failure reason contains.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub output: Option<Value>,
    #[serde(default)]
    pub ran: Vec<String>,
    #[serde(default)]
    pub not_ran: Vec<String>,
    #[serde(default)]
    pub tasks: IndexMap<String, TaskExpect>,
}

/// What one task must come to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskExpect {
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// The number of its last attempt (HUMAN: of approval requests).
    #[serde(default)]
    pub attempts: Option<u32>,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub output: Option<Value>,
}

impl Expect {
    /// Reads the block; the error is a JSON pointer below `expect` and a message.
    pub fn from_value(value: &Value) -> Result<Expect, (String, String)> {
        if let Some(map) = value.as_object() {
            // Point at the field at fault when serde names it.
            for (key, field) in map {
                let probe = Value::Object([(key.clone(), field.clone())].into_iter().collect());
                if let Err(e) = serde_json::from_value::<Expect>(probe) {
                    return Err((format!("/{key}"), format!("bad `expect`: {e}")));
                }
            }
        }
        serde_json::from_value(value.clone())
            .map_err(|e| (String::new(), format!("bad `expect`: {e}")))
    }

    /// Whether the block asks anything.
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }

    /// How many things the block checks.
    pub fn count(&self) -> usize {
        let task_checks: usize = self
            .tasks
            .values()
            .map(|t| {
                usize::from(t.status.is_some())
                    + usize::from(t.attempts.is_some())
                    + usize::from(t.input.is_some())
                    + usize::from(t.output.is_some())
            })
            .sum();
        usize::from(self.status.is_some())
            + usize::from(self.reason.is_some())
            + usize::from(self.output.is_some())
            + self.ran.len()
            + self.not_ran.len()
            + task_checks
    }

    /// Every way `state` differs from what is expected, one sentence each.
    pub fn check(&self, state: &RunState) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(status) = self.status
            && state.status != status
        {
            let why = state
                .failure
                .as_ref()
                .map(|f| format!(" ({})", f.reason))
                .unwrap_or_default();
            out.push(format!(
                "status: expected {status}, got {}{why}",
                state.status
            ));
        }
        if let Some(text) = &self.reason {
            match &state.failure {
                Some(f) if f.reason.contains(text.as_str()) => {}
                Some(f) => out.push(format!(
                    "reason: expected it to contain `{text}`, got `{}`",
                    f.reason
                )),
                None => out.push(format!(
                    "reason: expected a failure containing `{text}`, but the run has no failure"
                )),
            }
        }
        if let Some(expected) = &self.output {
            let actual = state.output.clone().unwrap_or(Value::Null);
            contains(expected, &actual, "output", &mut out);
        }
        for task_ref in &self.ran {
            if !state.tasks.contains_key(task_ref) {
                out.push(format!("ran: task `{task_ref}` did not run"));
            }
        }
        for task_ref in &self.not_ran {
            if let Some(task) = state.tasks.get(task_ref) {
                out.push(format!("not_ran: task `{task_ref}` ran ({})", task.status));
            }
        }
        for (task_ref, expect) in &self.tasks {
            let Some(task) = state.tasks.get(task_ref) else {
                out.push(format!("tasks.{task_ref}: the task did not run"));
                continue;
            };
            if let Some(status) = expect.status
                && task.status != status
            {
                out.push(format!(
                    "tasks.{task_ref}.status: expected {status}, got {}",
                    task.status
                ));
            }
            if let Some(attempts) = expect.attempts
                && task.attempt != attempts
            {
                out.push(format!(
                    "tasks.{task_ref}.attempts: expected {attempts}, got {}",
                    task.attempt
                ));
            }
            if let Some(input) = &expect.input {
                contains(
                    input,
                    &task.input,
                    &format!("tasks.{task_ref}.input"),
                    &mut out,
                );
            }
            if let Some(output) = &expect.output {
                contains(
                    output,
                    &task.output,
                    &format!("tasks.{task_ref}.output"),
                    &mut out,
                );
            }
        }
        out
    }
}

/// Records where `actual` does not contain `expected` (see the module doc).
pub fn contains(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let at = format!("{path}.{key}");
                match have.get(key) {
                    Some(found) => contains(value, found, &at, out),
                    None => out.push(format!("{at}: expected {value}, but it is missing")),
                }
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mappings_match_by_the_keys_given() {
        let mut out = Vec::new();
        contains(
            &json!({"a": 1, "b": {"c": [1, 2]}}),
            &json!({"a": 1, "b": {"c": [1, 2], "d": 0}, "e": 3}),
            "output",
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        contains(
            &json!({"a": 2, "z": 0}),
            &json!({"a": 1}),
            "output",
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "output.a: expected 2, got 1".to_string(),
                "output.z: expected 0, but it is missing".to_string()
            ]
        );
        out.clear();
        contains(&json!([1]), &json!([1, 2]), "output.l", &mut out);
        assert_eq!(out.len(), 1, "lists must be equal");
    }

    #[test]
    fn a_bad_field_is_pointed_at() {
        let err = Expect::from_value(&json!({"status": "COMPLETED", "ran": "x"})).unwrap_err();
        assert_eq!(err.0, "/ran");
        let err = Expect::from_value(&json!({"outptu": {}})).unwrap_err();
        assert_eq!(err.0, "/outptu");
        assert!(err.1.contains("unknown field"), "{}", err.1);
        let ok = Expect::from_value(&json!({"status": "FAILED", "tasks": {"a": {"attempts": 2}}}))
            .unwrap();
        assert_eq!(ok.count(), 2);
    }
}
