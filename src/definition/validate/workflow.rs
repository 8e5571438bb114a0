//! The workflow's own fields: `name`, `tasks`, `version`, `description`, the input names,
//! `outputParameters` and the workflow-level defaults.

use serde_json::{Map, Value};

use super::{Validator, WORKFLOW_FIELDS};
use crate::definition::source::push_pointer;

impl Validator<'_> {
    pub(super) fn workflow_fields(&mut self, root: &Map<String, Value>) {
        self.unknown_fields(root, "", WORKFLOW_FIELDS, "the workflow", "workflow");
        match root.get("name") {
            None => self.error(
                "",
                "the workflow has no `name`",
                Some("add `name: my_workflow` at the top".into()),
            ),
            Some(Value::String(s)) if s.chars().count() > crate::mailbox::MAX_NAME_CHARS => {
                self.error(
                    "/name",
                    format!(
                        "the workflow's `name` has {} characters; the limit is {}",
                        s.chars().count(),
                        crate::mailbox::MAX_NAME_CHARS
                    ),
                    Some("use a short name; say more in `description`".into()),
                );
            }
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(other) => self.must_be(
                "/name",
                "the workflow's `name`",
                "non-empty text",
                other,
                None,
            ),
        }
        match root.get("tasks") {
            None => self.error(
                "",
                "the workflow has no `tasks`",
                Some("add a `tasks:` list with at least one task".into()),
            ),
            Some(Value::Array(tasks)) if tasks.is_empty() => {
                self.error(
                    "/tasks",
                    "the workflow's `tasks` list is empty",
                    Some("add at least one task".into()),
                );
            }
            Some(Value::Array(_)) => {}
            Some(other) => self.must_be(
                "/tasks",
                "the workflow's `tasks`",
                "a list of tasks",
                other,
                Some("write each task as a list item starting with `- name: ...`".into()),
            ),
        }
        if let Some(version) = root.get("version")
            && version
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .is_none()
        {
            self.must_be(
                "/version",
                "the workflow's `version`",
                "a whole number",
                version,
                Some("write `version: 1`".into()),
            );
        }
        if let Some(description) = root.get("description")
            && !matches!(description, Value::String(_) | Value::Null)
        {
            self.must_be(
                "/description",
                "the workflow's `description`",
                "text",
                description,
                None,
            );
        }
        self.input_parameter_names(root);
        if let Some(output) = root.get("outputParameters")
            && !output.is_object()
        {
            self.must_be(
                "/outputParameters",
                "the workflow's `outputParameters`",
                "a mapping",
                output,
                Some(
                    "write one `key: value` per output, e.g. `report: ${report.output.text}`"
                        .into(),
                ),
            );
        }
    }

    /// The workflow's `inputParameters` is a list of input names (documentation, as in Conductor).
    fn input_parameter_names(&mut self, root: &Map<String, Value>) {
        let Some(inputs) = root.get("inputParameters") else {
            return;
        };
        let hint = Some(
            "list the names of the workflow's inputs, e.g. `inputParameters: [folder, strict]`"
                .to_string(),
        );
        match inputs {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        let pointer = format!("/inputParameters/{i}");
                        self.must_be(
                            &pointer,
                            "a workflow input name",
                            "text",
                            item,
                            hint.clone(),
                        );
                    }
                }
            }
            other => self.must_be(
                "/inputParameters",
                "the workflow's `inputParameters`",
                "a list of input names",
                other,
                hint,
            ),
        }
    }

    /// The workflow's `variables` (initial values) and `inputTemplate` (input defaults) are
    /// mappings.
    pub(super) fn workflow_defaults(&mut self, root: &Map<String, Value>) {
        for (field, what) in [
            (
                "variables",
                "initial values of `${workflow.variables.<name>}`",
            ),
            ("inputTemplate", "default values of the workflow's input"),
        ] {
            if let Some(value) = root.get(field)
                && !matches!(value, Value::Object(_) | Value::Null)
            {
                self.must_be(
                    &push_pointer("", field),
                    &format!("the workflow's `{field}`"),
                    &format!("a mapping ({what})"),
                    value,
                    Some(format!("write `{field}:` with one `name: value` per line")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one};
    #[test]
    fn name_and_tasks_are_required() {
        let all = found("description: x\n");
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].2.contains("no `name`"));
        assert!(all[1].2.contains("no `tasks`"));
        assert!(
            one("name: x\ntasks: []\n")
                .message
                .contains("`tasks` list is empty")
        );
    }

    #[test]
    fn workflow_field_types_are_checked() {
        let all = found(
            "name: x\nversion: one\ninputParameters: {a: 1}\noutputParameters: [a]\ntasks:\n  - name: a\n    taskReferenceName: a\n",
        );
        let lines: Vec<usize> = all.iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![2, 3, 4], "{all:?}");
    }

    #[test]
    fn unknown_workflow_field_points_at_the_key_and_suggests() {
        let d =
            one("name: x\noutputParamters: {}\ntasks:\n  - name: a\n    taskReferenceName: a\n");
        assert_eq!((d.line, d.column, d.width), (2, 1, "outputParamters".len()));
        assert_eq!(d.hint.as_deref(), Some("did you mean `outputParameters`?"));
    }
}
