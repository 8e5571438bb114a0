//! INLINE, LAMBDA and JSON_JQ_TRANSFORM: the script or jq program, which must parse, with
//! errors placed at the line and column inside the script.

use serde_json::Value;

use super::{EVALUATORS, Site, Validator, has_script_field, suggest, unknown_evaluator};
use crate::definition::diagnostic::Diagnostic;
use crate::definition::source::{Position, push_pointer};
use crate::expr::{jq, script};

impl Validator<'_> {
    /// INLINE: an `expression` (in inputParameters, as Conductor has it, or on the task)
    /// that compiles for its `evaluatorType`; LAMBDA: a `scriptExpression` that parses.
    pub(super) fn inline(&mut self, site: &Site<'_>) {
        if site.type_name() == Some("LAMBDA") {
            match self.script_text(site, "scriptExpression", true) {
                Some((pointer, source)) if !source.contains("${") => {
                    let wrapped = script::lambda_source(source);
                    self.javascript(
                        site,
                        &pointer,
                        &wrapped,
                        source,
                        "the scriptExpression",
                        script::LAMBDA_PREFIX.len(),
                    );
                }
                Some(_) => {}
                None if !has_script_field(site, "scriptExpression") => self.error(
                    &site.pointer,
                    format!("LAMBDA {} has no `scriptExpression`", site.label()),
                    Some("add `scriptExpression:` to inputParameters: the body of a JavaScript function over `$`, e.g. `return {doubled: $.n * 2}`".into()),
                ),
                None => {}
            }
            return;
        }
        let evaluator = match self.script_text(site, "evaluatorType", true) {
            Some((pointer, e)) if !EVALUATORS.contains(&e) && !e.contains("${") => {
                let hint = suggest(e, EVALUATORS.iter().copied(), "use `evaluatorType: javascript` (or graaljs), or `expression` for 3ox's condition language".into());
                self.error(&pointer, unknown_evaluator(e, &site.label()), Some(hint));
                return;
            }
            Some((_, e)) => e,
            None if has_script_field(site, "evaluatorType") => return,
            None => "javascript",
        };
        match self.script_text(site, "expression", true) {
            Some((pointer, source)) if !source.contains("${") => {
                if script::is_javascript(evaluator) {
                    self.javascript(site, &pointer, source, source, "the expression", 0);
                } else if let Err(e) = script::check(evaluator, source) {
                    self.error(
                        &pointer,
                        format!("the expression of {} does not compile: {e}", site.label()),
                        Some("write a minijinja expression over the task's inputParameters, e.g. `count * 2`".into()),
                    );
                }
            }
            Some(_) => {}
            None if has_script_field(site, "expression") => {}
            None => self.error(
                &site.pointer,
                format!("INLINE {} has no `expression`", site.label()),
                Some("add `evaluatorType: javascript` and `expression:` to its inputParameters, e.g. `expression: \"$.n * 2\"`".into()),
            ),
        }
    }

    /// JSON_JQ_TRANSFORM: `inputParameters.queryExpression` is a jq program that compiles.
    pub(super) fn jq_transform(&mut self, site: &Site<'_>) {
        let Some(params) = site.input_parameters() else {
            self.error(
                &site.pointer,
                format!(
                    "JSON_JQ_TRANSFORM {} has no `queryExpression` in its inputParameters",
                    site.label()
                ),
                Some(
                    "add `inputParameters: {queryExpression: \".a + .b\", a: ..., b: ...}`".into(),
                ),
            );
            return;
        };
        let pointer = push_pointer(&site.field_pointer("inputParameters"), "queryExpression");
        match params.get("queryExpression") {
            Some(Value::String(program)) => {
                if program.contains("${") {
                    return;
                }
                if let Err(e) = jq::check(program) {
                    let position = self.position_in_text(&pointer, program, e.position);
                    self.out.push(Diagnostic::at(
                        &self.src.file,
                        &self.src.text,
                        position,
                        format!("the jq program of {} does not compile: {e}", site.label()),
                        Some("write a jq program over the task's inputParameters, e.g. `.items | map(.name)`".into()),
                    ));
                }
            }
            None | Some(Value::Null) => self.error(
                &site.pointer,
                format!("JSON_JQ_TRANSFORM {} has no `queryExpression` in its inputParameters", site.label()),
                Some("add `queryExpression:` (a jq program over the inputParameters) to inputParameters".into()),
            ),
            Some(other) => self.must_be(&pointer, &format!("`queryExpression` of {}", site.label()), "text", other, None),
        }
    }

    /// The text of `field`, from inputParameters (when `in_inputs`) or else the task, with
    /// its pointer; a value that is not text is reported and gives `None`.
    pub(super) fn script_text<'t>(
        &mut self,
        site: &'t Site<'t>,
        field: &str,
        in_inputs: bool,
    ) -> Option<(String, &'t str)> {
        let from_inputs = in_inputs
            .then(|| site.input_parameters().and_then(|m| m.get(field)))
            .flatten()
            .map(|v| {
                (
                    push_pointer(&site.field_pointer("inputParameters"), field),
                    v,
                )
            });
        let (pointer, value) =
            from_inputs.or_else(|| site.task.get(field).map(|v| (site.field_pointer(field), v)))?;
        match value {
            Value::String(text) => Some((pointer, text.as_str())),
            Value::Null => None,
            other => {
                self.must_be(
                    &pointer,
                    &format!("`{field}` of {}", site.label()),
                    "text",
                    other,
                    None,
                );
                None
            }
        }
    }

    /// Reports JavaScript `source` (at `pointer`, `written` as such in the file) that does
    /// not parse, at the offending place when the script stands as written in the file.
    /// `prefix` characters were put before the script's first line (LAMBDA's wrapper).
    pub(super) fn javascript(
        &mut self,
        site: &Site<'_>,
        pointer: &str,
        source: &str,
        written: &str,
        what: &str,
        prefix: usize,
    ) {
        let Err(mut e) = script::check("javascript", source) else {
            return;
        };
        if let Some((1, column)) = e.position {
            e.position = Some((1, column.saturating_sub(prefix).max(1)));
        }
        // Past the script's end (the wrapper's closing line): the end of the script.
        let lines = written.lines().count().max(1);
        if e.position.is_some_and(|(line, _)| line > lines) {
            let last = written.lines().last().unwrap_or("");
            e.position = Some((lines, last.chars().count() + 1));
        }
        let position = self.position_in_text(pointer, written, e.position);
        self.out.push(Diagnostic::at(
            &self.src.file,
            &self.src.text,
            position,
            format!("{what} of {} is not valid JavaScript: {e}", site.label()),
            Some("write JavaScript as Conductor runs it: `$` is the task's inputParameters, e.g. `$.count > 1 ? 'many' : 'few'`".into()),
        ));
    }

    /// Where `at` (line and column inside `text`, the scalar at `pointer`) is in the file:
    /// exact for a one-line plain or quoted scalar and for a block scalar (`|`), else the
    /// scalar's own position.
    fn position_in_text(&self, pointer: &str, text: &str, at: Option<(usize, usize)>) -> Position {
        let node = self.src.position(pointer);
        let Some((line, column)) = at else {
            return node;
        };
        let Some(script_line) = text.lines().nth(line.saturating_sub(1)) else {
            return node;
        };
        let written: String = self
            .src
            .line_text(node.line)
            .chars()
            .skip(node.column.saturating_sub(1))
            .collect();
        if line == 1 && !text.contains('\n') {
            let offset = if written.starts_with(script_line) {
                Some(0)
            } else if written.starts_with(['"', '\'']) && written[1..].starts_with(script_line) {
                Some(1)
            } else {
                None
            };
            if let Some(offset) = offset {
                return Position {
                    line: node.line,
                    column: node.column + offset + column - 1,
                    width: 1,
                };
            }
        }
        // A block scalar (`|`): its node starts at the indicator or at the first line.
        let first_line = if written.starts_with(['|', '>']) {
            Some(node.line + 1)
        } else if text
            .lines()
            .next()
            .is_some_and(|l| !l.trim().is_empty() && written.trim() == l.trim())
        {
            Some(node.line)
        } else {
            None
        };
        if let Some(first_line) = first_line {
            let file_line = self.src.line_text(first_line + line - 1);
            let indent = file_line.len() - file_line.trim_start().len();
            if file_line.trim() == script_line.trim() && !script_line.trim().is_empty() {
                let script_indent = script_line.len() - script_line.trim_start().len();
                return Position {
                    line: first_line + line - 1,
                    column: indent + column.saturating_sub(script_indent),
                    width: 1,
                };
            }
        }
        node
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one, task_yaml};
    #[test]
    fn inline_needs_an_expression_that_parses() {
        let ok = task_yaml(
            "    type: INLINE\n    inputParameters:\n      evaluatorType: graaljs\n      expression: \"function e() { return $.n } e();\"\n      n: 1\n",
        );
        assert_eq!(found(&ok), vec![]);
        let safe = task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: expression, expression: n * 2, n: 1}\n",
        );
        assert_eq!(found(&safe), vec![]);
        let missing = one(&task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: javascript}\n",
        ));
        assert_eq!(missing.message, "INLINE task `t` has no `expression`");
        let broken = one(&task_yaml(
            "    type: INLINE\n    inputParameters:\n      evaluatorType: javascript\n      expression: |\n        var a = 1;\n        a +* 2;\n",
        ));
        assert!(
            broken.message.contains("is not valid JavaScript"),
            "{}",
            broken.message
        );
        assert!(broken.message.contains("line 2"), "{}", broken.message);
        assert_eq!(broken.line, 10, "the script's second line, in the file");
        let python = one(&task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: python, expression: '1'}\n",
        ));
        assert!(
            python
                .message
                .contains("`python` of task `t` is not supported"),
            "{}",
            python.message
        );
        let unknown = one(&task_yaml(
            "    type: INLINE\n    inputParameters: {evaluatorType: javascrpt, expression: '1'}\n",
        ));
        assert_eq!(unknown.hint.as_deref(), Some("did you mean `javascript`?"));
    }

    #[test]
    fn lambda_needs_a_script_expression_that_parses() {
        let ok = task_yaml(
            "    type: LAMBDA\n    inputParameters:\n      scriptExpression: \"if ($.a == 1) { return 1 } else { return 2 }\"\n",
        );
        assert_eq!(found(&ok), vec![]);
        let on_task = task_yaml("    type: LAMBDA\n    scriptExpression: return 1\n");
        assert_eq!(found(&on_task), vec![]);
        let missing = one(&task_yaml(
            "    type: LAMBDA\n    inputParameters: {a: 1}\n",
        ));
        assert_eq!(missing.message, "LAMBDA task `t` has no `scriptExpression`");
        let broken = one(&task_yaml(
            "    type: LAMBDA\n    scriptExpression: return 1 +\n",
        ));
        assert!(
            broken.message.contains("(line 1, column 11)"),
            "{}",
            broken.message
        );
        assert_eq!((broken.line, broken.column), (6, 33));
    }

    #[test]
    fn jq_programs_must_compile() {
        let ok = task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters:\n      queryExpression: \".a + .b | map(.x)\"\n",
        );
        assert_eq!(found(&ok), vec![]);
        let undefined = one(&task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters:\n      queryExpression: .a | frobnicate\n",
        ));
        assert!(
            undefined.message.contains("undefined filter `frobnicate`"),
            "{}",
            undefined.message
        );
        assert_eq!((undefined.line, undefined.column), (7, 29));
        let missing = one(&task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters: {a: 1}\n",
        ));
        assert!(missing.message.contains("no `queryExpression`"));
        let not_text = one(&task_yaml(
            "    type: JSON_JQ_TRANSFORM\n    inputParameters: {queryExpression: 3}\n",
        ));
        assert!(not_text.message.contains("must be text"));
    }
}
