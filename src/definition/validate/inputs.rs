//! The workflow's typed `inputs:` declaration (3ox): a mapping of input names to
//! `{type, default, description, required}`, with a default of the declared type.

use serde_json::{Map, Value};

use super::{Validator, describe, suggest};
use crate::definition::inputs::{INPUT_FIELDS, INPUT_TYPES, InputType};
use crate::definition::source::push_pointer;

impl Validator<'_> {
    pub(super) fn declared_inputs(&mut self, root: &Map<String, Value>) {
        let Some(inputs) = root.get("inputs") else {
            return;
        };
        let Value::Object(inputs) = inputs else {
            self.must_be(
                "/inputs",
                "the workflow's `inputs`",
                "a mapping of input names to declarations",
                inputs,
                Some("write e.g. `inputs: {folder: {type: string, required: true}}`".into()),
            );
            return;
        };
        for (name, spec) in inputs {
            let pointer = push_pointer("/inputs", name);
            let Value::Object(spec) = spec else {
                self.must_be(
                    &pointer,
                    &format!("input `{name}`"),
                    "a mapping with type, default, description and required",
                    spec,
                    Some(format!(
                        "write `{name}: {{type: string, description: ...}}`"
                    )),
                );
                continue;
            };
            self.unknown_fields(
                spec,
                &pointer,
                INPUT_FIELDS,
                &format!("input `{name}`"),
                "workflow input",
            );
            let ty = match spec.get("type") {
                None => None,
                Some(Value::String(t)) => match InputType::parse(t) {
                    Some(ty) => Some(ty),
                    None => {
                        let hint = suggest(
                            t,
                            INPUT_TYPES.iter().copied(),
                            format!("the types are {}", INPUT_TYPES.join(", ")),
                        );
                        self.error(
                            &push_pointer(&pointer, "type"),
                            format!("unknown type `{t}` of input `{name}`"),
                            Some(hint),
                        );
                        None
                    }
                },
                Some(other) => {
                    self.must_be(
                        &push_pointer(&pointer, "type"),
                        &format!("the `type` of input `{name}`"),
                        "one of the type names",
                        other,
                        Some(format!("the types are {}", INPUT_TYPES.join(", "))),
                    );
                    None
                }
            };
            if let (Some(ty), Some(default)) = (ty, spec.get("default"))
                && !default.is_null()
                && !ty.accepts(default)
            {
                self.error(
                    &push_pointer(&pointer, "default"),
                    format!(
                        "the default of input `{name}` must be {}, as its type says, not {}",
                        ty.article(),
                        describe(default)
                    ),
                    Some("change the default, or the type".into()),
                );
            }
            if let Some(d) = spec.get("description")
                && !d.is_string()
            {
                self.must_be(
                    &push_pointer(&pointer, "description"),
                    &format!("the `description` of input `{name}`"),
                    "text",
                    d,
                    None,
                );
            }
            if let Some(r) = spec.get("required")
                && !r.is_boolean()
            {
                self.must_be(
                    &push_pointer(&pointer, "required"),
                    &format!("`required` of input `{name}`"),
                    "true or false",
                    r,
                    None,
                );
            }
            if spec.get("required") == Some(&Value::Bool(true))
                && spec.get("default").is_some_and(|d| !d.is_null())
            {
                self.out.push(crate::definition::Diagnostic::warning(
                    self.src,
                    &push_pointer(&pointer, "required"),
                    format!("input `{name}` is required and has a default: the default is always used when it is not given, so it is never missing"),
                    Some("drop `required: true`, or the default".into()),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::found;

    fn with_inputs(inputs: &str) -> Vec<(usize, usize, String)> {
        found(&format!(
            "name: x\ninputs:\n{inputs}tasks:\n  - name: a\n    taskReferenceName: a\n"
        ))
    }

    #[test]
    fn a_good_declaration_has_no_diagnostics() {
        assert_eq!(
            with_inputs(
                "  folders: {type: list, required: true, description: what to check}\n  n: {type: integer, default: 3}\n  any: {}\n"
            ),
            vec![]
        );
    }

    #[test]
    fn declaration_mistakes_are_reported_where_they_are() {
        let all = with_inputs(
            "  a: {type: strng}\n  b: {type: integer, default: two}\n  c: {typ: list}\n  d: 3\n",
        );
        let lines: Vec<usize> = all.iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{all:?}");
        assert!(all[0].2.contains("unknown type `strng`"), "{all:?}");
        assert!(
            all[1]
                .2
                .contains("default of input `b` must be a whole number")
        );
        assert!(all[2].2.contains("unknown field `typ`"));
    }
}
