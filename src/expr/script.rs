//! Evaluating Conductor's `evaluatorType` expressions (SWITCH, DO_WHILE's `loopCondition`,
//! INLINE): `value-param`, 3ox's safe `expression`, and JavaScript (`javascript`, `graaljs`)
//! in an embedded sandbox.

use serde_json::Value;

use super::{condition, javascript};

/// Evaluates `expression` with `evaluator` over the task's resolved `input` (in JavaScript
/// the input is `$`). Returns the value, or why it could not be computed.
pub fn evaluate(evaluator: &str, expression: &str, input: &Value) -> Result<Value, String> {
    match evaluator {
        "value-param" => Ok(input.get(expression).cloned().unwrap_or(Value::Null)),
        "expression" => condition::evaluate(expression, input),
        "javascript" | "graaljs" => javascript::evaluate(expression, input).map_err(|e| e.to_string()),
        other => Err(format!("evaluatorType `{other}` is not supported")),
    }
}
