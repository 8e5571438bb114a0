//! SWITCH and DECISION: the evaluator, its expression or `caseValueParam`, and the cases.

use serde_json::Value;

use super::{EVALUATORS, Site, Validator, nearest, suggest, unknown_evaluator};
use crate::definition::source::push_pointer;
use crate::expr::{condition, script};

impl Validator<'_> {
    pub(super) fn switch(&mut self, site: &Site<'_>) {
        if site.type_name() == Some("DECISION") {
            self.decision(site);
        } else {
            self.switch_evaluator(site);
        }
        self.switch_cases(site);
    }

    fn switch_evaluator(&mut self, site: &Site<'_>) {
        let evaluator_hint = "use `evaluatorType: value-param` (the expression names an input), `evaluatorType: expression` (a condition such as `count > 0`) or `evaluatorType: javascript` (`$.count > 0`)";
        // Conductor's default, and the engine's.
        let evaluator = self.evaluator_type(site, "value-param", evaluator_hint);
        let expression = match site.task.get("expression") {
            None | Some(Value::Null) => {
                self.error(&site.pointer, format!("SWITCH {} has no `expression`", site.label()), Some(
                    "add `expression:` naming an input (value-param) or a condition (expression)".into(),
                ));
                None
            }
            Some(Value::String(e)) => Some(e.as_str()),
            Some(other) => {
                self.field_must_be(site, "expression", "text", other, None);
                None
            }
        };
        let pointer = site.field_pointer("evaluatorType");
        match evaluator {
            Some("value-param") => {
                if let Some(name) = expression {
                    self.value_param(site, name);
                }
            }
            Some("expression") => {
                if let Some(expr) = expression
                    && let Err(e) = condition::check(expr)
                {
                    self.error(&site.field_pointer("expression"), format!("the condition of {} does not compile: {e}", site.label()), Some(
                        "write a minijinja expression over the task's inputParameters, e.g. `problem_count > 0`".into(),
                    ));
                }
            }
            Some(e) if script::is_javascript(e) => {
                if let Some(source) = expression {
                    self.javascript(
                        site,
                        &site.field_pointer("expression"),
                        source,
                        source,
                        "the expression",
                        0,
                    );
                }
            }
            Some(e) => {
                let all = EVALUATORS.iter().copied();
                let hint = suggest(e, all, evaluator_hint.to_string());
                self.error(&pointer, unknown_evaluator(e, &site.label()), Some(hint));
            }
            None => {}
        }
    }

    /// `value-param`: the expression names one of the task's inputs.
    fn value_param(&mut self, site: &Site<'_>, name: &str) {
        self.names_an_input(site, "expression", name);
    }

    /// `field` (SWITCH's `expression`, DECISION's `caseValueParam`) names one of the task's
    /// inputs.
    fn names_an_input(&mut self, site: &Site<'_>, field: &str, name: &str) {
        let inputs: Vec<&str> = site
            .input_parameters()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if inputs.contains(&name) {
            return;
        }
        let hint = match nearest(name, inputs.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if inputs.is_empty() => {
                format!("add `{name}: ${{...}}` to the task's inputParameters")
            }
            None => format!(
                "add `{name}` to inputParameters, or name one of: {}",
                inputs.join(", ")
            ),
        };
        self.error(
            &site.field_pointer(field),
            format!(
                "{} {} switches on input `{name}`, which is not in its inputParameters",
                site.type_name().unwrap_or("SWITCH"),
                site.label()
            ),
            Some(hint),
        );
    }

    fn switch_cases(&mut self, site: &Site<'_>) {
        let hint = "write `decisionCases:` as a mapping from each case value to a list of tasks";
        match site.task.get("decisionCases") {
            None | Some(Value::Null) => {}
            Some(Value::Object(cases)) => {
                for (case, tasks) in cases {
                    if !tasks.is_array() {
                        let pointer = push_pointer(&site.field_pointer("decisionCases"), case);
                        self.must_be(
                            &pointer,
                            &format!("case `{case}` of {}", site.label()),
                            "a list of tasks",
                            tasks,
                            Some(hint.into()),
                        );
                    }
                }
            }
            Some(other) => {
                self.field_must_be(site, "decisionCases", "a mapping", other, Some(hint.into()))
            }
        }
        if let Some(default) = site.task.get("defaultCase")
            && !matches!(default, Value::Array(_) | Value::Null)
        {
            self.field_must_be(site, "defaultCase", "a list of tasks", default, None);
        }
    }

    /// DECISION (legacy SWITCH): `caseValueParam` names an input, or `caseExpression` is
    /// JavaScript that parses.
    fn decision(&mut self, site: &Site<'_>) {
        if let Some((_, name)) = self.script_text(site, "caseValueParam", false) {
            self.names_an_input(site, "caseValueParam", name);
        } else if let Some((pointer, source)) = self.script_text(site, "caseExpression", false) {
            self.javascript(site, &pointer, source, source, "the caseExpression", 0);
        } else if !site.task.contains_key("caseValueParam")
            && !site.task.contains_key("caseExpression")
        {
            self.error(
                &site.pointer,
                format!("DECISION {} has neither `caseValueParam` nor `caseExpression`", site.label()),
                Some("add `caseValueParam:` naming an input, or `caseExpression:` with JavaScript over `$` (or use SWITCH)".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, one, task_yaml};
    fn switch(evaluator: &str, expression: &str) -> String {
        format!(
            "name: x\ntasks:\n  - name: s\n    taskReferenceName: s\n    type: SWITCH\n    evaluatorType: {evaluator}\n    expression: {expression}\n    inputParameters:\n      kind: ${{workflow.input.kind}}\n    decisionCases:\n      a: []\n"
        )
    }

    #[test]
    fn switch_value_param_must_name_an_input() {
        assert_eq!(found(&switch("value-param", "kind")), vec![]);
        let d = one(&switch("value-param", "knd"));
        assert_eq!((d.line, d.column), (7, 17));
        assert_eq!(d.hint.as_deref(), Some("did you mean `kind`?"));
    }

    #[test]
    fn switch_expression_must_compile() {
        assert_eq!(found(&switch("expression", "\"kind == 'a'\"")), vec![]);
        let d = one(&switch("expression", "\"kind ==\""));
        assert!(d.message.contains("does not compile"), "{}", d.message);
    }

    #[test]
    fn javascript_switches_must_parse() {
        assert_eq!(found(&switch("javascript", "\"$.kind\"")), vec![]);
        assert_eq!(
            found(&switch("graaljs", "\"$.kind == 'a' ? 'a' : 'b'\"")),
            vec![]
        );
        let d = one(&switch("javascript", "\"$.kind ==\""));
        assert!(
            d.message.contains("is not valid JavaScript"),
            "{}",
            d.message
        );
        // Line 7 is `    expression: "$.kind =="`; the script ends at column 27.
        assert_eq!((d.line, d.column), (7, 27));
        assert!(
            one(&switch("value-parm", "kind"))
                .hint
                .unwrap()
                .contains("value-param")
        );
    }

    #[test]
    fn switch_needs_an_expression_and_case_lists() {
        let text = "name: x\ntasks:\n  - name: s\n    taskReferenceName: s\n    type: SWITCH\n    decisionCases:\n      a: {}\n";
        let all = found(text);
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all.iter().any(|d| d.2.contains("no `expression`")));
        assert!(
            all.iter()
                .any(|d| d.0 == 7 && d.2.contains("must be a list of tasks"))
        );
    }

    #[test]
    fn decision_needs_a_case_value_param_or_expression() {
        let cases = "    decisionCases:\n      a: []\n";
        let by_param = task_yaml(&format!(
            "    type: DECISION\n    caseValueParam: kind\n    inputParameters: {{kind: a}}\n{cases}"
        ));
        assert_eq!(found(&by_param), vec![]);
        let typo = one(&task_yaml(&format!(
            "    type: DECISION\n    caseValueParam: knd\n    inputParameters: {{kind: a}}\n{cases}"
        )));
        assert_eq!(typo.hint.as_deref(), Some("did you mean `kind`?"));
        assert_eq!(typo.line, 6);
        let by_script = task_yaml(&format!(
            "    type: DECISION\n    caseExpression: \"$.kind == 'a' ? 'a' : 'b'\"\n{cases}"
        ));
        assert_eq!(found(&by_script), vec![]);
        let broken = one(&task_yaml(&format!(
            "    type: DECISION\n    caseExpression: \"if ($.kind) {{\"\n{cases}"
        )));
        assert!(
            broken.message.contains("caseExpression"),
            "{}",
            broken.message
        );
        let neither = one(&task_yaml(&format!("    type: DECISION\n{cases}")));
        assert!(
            neither
                .message
                .contains("neither `caseValueParam` nor `caseExpression`")
        );
    }
}
