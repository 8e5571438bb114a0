//! 3ox's safe condition language for SWITCH (`evaluatorType: expression`).
//!
//! The expression is a minijinja expression evaluated over the task's resolved input
//! parameters, for example `problem_count > 0` or `status in ["ok", "warn"]`. It cannot reach
//! files, processes or the network, reading an unknown name is an error (strict undefined),
//! and a fuel budget bounds the work one evaluation may do.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

/// Fuel for one evaluation: plenty for a condition, far too little for a runaway loop.
const FUEL: u64 = 50_000;

/// Evaluates `expression` with `vars` (a JSON object) as its variables.
pub fn evaluate(expression: &str, vars: &Value) -> Result<Value, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    let compiled = env
        .compile_expression(expression)
        .map_err(|e| describe(&e))?;
    let result = compiled
        .eval(minijinja::Value::from(minijinja::value::Serde(vars)))
        .map_err(|e| describe(&e))?;
    serde_json::to_value(&result).map_err(|e| format!("the result cannot be used as a value: {e}"))
}

/// Checks that `expression` compiles, without evaluating it.
pub fn check(expression: &str) -> Result<(), String> {
    let env = Environment::new();
    env.compile_expression(expression)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// The SWITCH case a condition result selects: booleans as `true`/`false`, text as it is,
/// numbers in their usual form.
pub fn case_key(result: &Value) -> String {
    match result {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compares_and_selects_a_case() {
        let vars = json!({"problem_count": 2, "kind": "a"});
        assert_eq!(
            case_key(&evaluate("problem_count > 0", &vars).unwrap()),
            "true"
        );
        assert_eq!(case_key(&evaluate("kind ~ '-x'", &vars).unwrap()), "a-x");
    }

    #[test]
    fn unknown_names_are_errors_not_false() {
        assert!(evaluate("nope > 1", &json!({})).is_err());
    }

    #[test]
    fn text_after_a_stray_closing_brace_pair_is_a_syntax_error() {
        for text in ["}}_", "problem}}_count > 0", "a }} ", "x -}} y"] {
            let err = check(text).unwrap_err();
            assert!(err.contains("syntax error"), "{text}: {err}");
            assert!(evaluate(text, &json!({"a": 1})).is_err(), "{text}");
        }
        assert_eq!(
            evaluate("{'a': {'b': 1}}.a.b", &json!({})).unwrap(),
            json!(1)
        );
        assert_eq!(evaluate("'}}' ~ 'x'", &json!({})).unwrap(), json!("}}x"));
    }

    #[test]
    fn runaway_work_is_cut_off() {
        let err = evaluate("range(1000000000) | length", &json!({})).unwrap_err();
        assert!(err.contains("range"), "{err}");
    }
}

#[cfg(test)]
mod syntax_tests {
    /// minijinja 2 panicked on text after a stray `}}` (found by the property tests); the
    /// condition language must report a syntax error instead.
    #[test]
    fn text_after_a_stray_closing_brace_is_a_syntax_error() {
        for expression in ["}}_", "a }} b", "x > 1 }} y"] {
            assert!(super::check(expression).is_err(), "{expression}");
            assert!(
                super::evaluate(expression, &serde_json::json!({"a": 1, "x": 2})).is_err(),
                "{expression}"
            );
        }
    }
}
