//! Evaluating Conductor's `evaluatorType` expressions (SWITCH, DO_WHILE's `loopCondition`,
//! INLINE): `value-param`, 3ox's safe `expression`, and JavaScript (`javascript`, `graaljs`)
//! in an embedded sandbox (see [`super::javascript`]).

use serde_json::Value;

use super::{condition, javascript};

/// Every `evaluatorType` 3ox runs.
pub const EVALUATORS: &[&str] = &["value-param", "expression", "javascript", "graaljs"];

/// Whether `evaluator` runs JavaScript.
pub fn is_javascript(evaluator: &str) -> bool {
    matches!(evaluator, "javascript" | "graaljs")
}

/// Evaluates `expression` with `evaluator` over the task's resolved `input` (in JavaScript
/// the input is `$`). Returns the value, or why it could not be computed.
///
/// JavaScript may run for up to [`javascript::Budget::DEFAULT`]'s time: callers run it once
/// and journal the result, never on replay.
pub fn evaluate(evaluator: &str, expression: &str, input: &Value) -> Result<Value, String> {
    match evaluator {
        "value-param" => Ok(input.get(expression).cloned().unwrap_or(Value::Null)),
        "expression" => condition::evaluate(expression, input),
        "javascript" | "graaljs" => {
            javascript::evaluate(expression, input).map_err(|e| e.to_string())
        }
        other => Err(format!("evaluatorType `{other}` is not supported")),
    }
}

/// Why an expression does not compile, with its position inside the expression when the
/// evaluator knows it (line and column from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub message: String,
    pub position: Option<(usize, usize)>,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, column)) => write!(f, "{} (line {line}, column {column})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Checks, without running anything, that `expression` compiles for `evaluator`
/// (`value-param` always does). Validation uses it for SWITCH, DECISION, INLINE and
/// DO_WHILE's `loopCondition`.
pub fn check(evaluator: &str, expression: &str) -> Result<(), CheckError> {
    match evaluator {
        "value-param" => Ok(()),
        "expression" => condition::check(expression).map_err(|message| CheckError {
            message,
            position: None,
        }),
        "javascript" | "graaljs" => match javascript::check(expression) {
            Ok(()) => Ok(()),
            Err(javascript::ScriptError::Syntax {
                message,
                line,
                column,
            }) => Err(CheckError {
                message,
                position: Some((line, column)),
            }),
            Err(other) => Err(CheckError {
                message: other.to_string(),
                position: None,
            }),
        },
        other => Err(CheckError {
            message: format!("evaluatorType `{other}` is not supported"),
            position: None,
        }),
    }
}

/// What Conductor's LAMBDA runs for a `scriptExpression`: the expression is the body of a
/// function (it `return`s its value), called at once. The wrapper adds no line, so line
/// numbers in errors are the expression's own.
pub fn lambda_source(script_expression: &str) -> String {
    format!("{LAMBDA_PREFIX}{script_expression}{LAMBDA_SUFFIX}")
}

/// The text [`lambda_source`] puts before the expression (on its first line).
pub const LAMBDA_PREFIX: &str = "function scriptFun(){";
const LAMBDA_SUFFIX: &str = "\n} scriptFun();";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_evaluator_reads_the_input() {
        let input = json!({"kind": "b", "n": 3});
        assert_eq!(evaluate("value-param", "kind", &input), Ok(json!("b")));
        assert_eq!(evaluate("expression", "n > 2", &input), Ok(json!(true)));
        assert_eq!(evaluate("javascript", "$.n * 2", &input), Ok(json!(6)));
        assert_eq!(
            evaluate("graaljs", "$.kind + $.kind", &input),
            Ok(json!("bb"))
        );
        assert!(evaluate("python", "1", &input).is_err());
    }

    #[test]
    fn lambda_bodies_return_their_value() {
        let source = lambda_source("if ($.a == 1) { return {t: true} } else { return {t: false} }");
        assert_eq!(
            evaluate("javascript", &source, &json!({"a": 1})),
            Ok(json!({"t": true}))
        );
        // A trailing line comment does not swallow the wrapper's end.
        let source = lambda_source("return 5 // five");
        assert_eq!(evaluate("javascript", &source, &json!({})), Ok(json!(5)));
    }

    #[test]
    fn check_reports_where_javascript_breaks() {
        assert_eq!(check("javascript", "$.a > 1"), Ok(()));
        assert_eq!(check("value-param", "anything at all"), Ok(()));
        let e = check("graaljs", "$.a >").unwrap_err();
        assert_eq!(e.position, Some((1, 6)));
        assert!(check("expression", "a ==").is_err());
        assert!(check("cobol", "x").is_err());
    }
}
