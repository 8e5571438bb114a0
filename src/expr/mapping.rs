//! `${...}` references in input parameters.
//!
//! A reference names a root and a path: `workflow.input.x`, `workflow.workflowId`, or
//! `<taskReferenceName>.output.a.b[0]` (also `.input`). The path after the root is JSONPath
//! (RFC 9535, through `serde_json_path`), so `[0]`, `['key']` and `[*]` work as in Conductor.
//!
//! A string that is exactly one reference takes the referenced value with its type (number,
//! list, object). References inside a longer string are interpolated as text. A reference to
//! something that does not exist (yet) gives `null`, or empty text inside a longer string.
//! `$${` writes a literal `${`.
//!
//! What a task is given ([`task_input`]): its `inputExpression` (Orkes) when it has one, else
//! its `inputParameters` laid over its `inputTemplate` defaults; `${CPEWF_TASK_ID}` is the id
//! of the task being scheduled ([`TaskScope`]). A workflow's `inputTemplate` gives defaults for
//! the run's input ([`workflow_input`]).

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use crate::definition::{TaskDef, WorkflowDef};

/// Conductor's built-in reference to the id of the task being scheduled.
pub const CURRENT_TASK_ID: &str = "CPEWF_TASK_ID";

/// The expression language of `inputExpression` that 3ox evaluates.
pub const INPUT_EXPRESSION_TYPES: &[&str] = &["JSON_PATH"];

/// A run's scope plus `CPEWF_TASK_ID`: the id of the task whose input is being made (null for
/// the tasks the engine decides itself, which have no id).
pub struct TaskScope<'a> {
    pub run: &'a dyn Scope,
    pub task_id: Option<&'a str>,
}

impl Scope for TaskScope<'_> {
    fn root(&self, name: &str) -> Option<Value> {
        if name == CURRENT_TASK_ID {
            return Some(
                self.task_id
                    .map_or(Value::Null, |id| Value::String(id.to_string())),
            );
        }
        self.run.root(name)
    }
}

/// The input `task` is given, resolved against `scope` with `task_id` as `${CPEWF_TASK_ID}`:
/// - with `inputExpression: {type: JSON_PATH, expression: $.<root>...}`, the value that path
///   finds (`$.workflow.input`, `$.fetch.output`); a result that is not a mapping is given as
///   `{result: value}` so a task's input is always a mapping;
/// - else `inputParameters` laid over the defaults of Conductor's
///   `taskDefinition.inputTemplate` and then the task's own `inputTemplate` (a key written in
///   `inputParameters` wins; the merge is by top-level key, as in Conductor), every `${...}` in
///   the result resolved (defaults may hold references too).
pub fn task_input(task: &TaskDef, scope: &dyn Scope, task_id: Option<&str>) -> Value {
    let scope = TaskScope {
        run: scope,
        task_id,
    };
    if let Some(expression) = &task.input_expression {
        let found = expression
            .get("expression")
            .and_then(Value::as_str)
            .and_then(|path| json_path_input(path, &scope))
            .unwrap_or(Value::Null);
        return match found {
            Value::Object(_) => found,
            Value::Null => Value::Object(Map::new()),
            other => {
                let mut map = Map::new();
                map.insert("result".to_string(), other);
                Value::Object(map)
            }
        };
    }
    let mut defaults = Map::new();
    if let Some(Value::Object(given)) = task
        .extra
        .get("taskDefinition")
        .and_then(|d| d.get("inputTemplate"))
    {
        defaults.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    defaults.extend(
        task.input_template
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let mut params = defaults.clone();
    params.extend(
        task.input_parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let mut input = resolve(&Value::Object(params), &scope);
    // As Conductor's `ParametersUtils.getTaskInputV2`: a key whose mapped value is null takes
    // its `inputTemplate` default.
    if let Value::Object(resolved) = &mut input {
        for (key, value) in resolved.iter_mut() {
            if value.is_null()
                && let Some(default) = defaults.get(key)
            {
                *value = resolve(default, &scope);
            }
        }
    }
    input
}

/// Evaluates an `inputExpression` path such as `$.workflow.input` or `$.fetch.output.items`.
fn json_path_input(path: &str, scope: &dyn Scope) -> Option<Value> {
    if input_expression_problem(path).is_some() {
        return None;
    }
    lookup(path.trim().strip_prefix("$.")?, scope)
}

/// What is wrong with an `inputExpression` path, if anything: it must start with `$.` and a
/// root (`workflow` or a task reference).
pub fn input_expression_problem(path: &str) -> Option<String> {
    let Some(rest) = path.trim().strip_prefix("$.") else {
        return Some(format!(
            "`{path}` is not a JSON path from the run's root; write `$.workflow.input` or `$.<taskRef>.output`"
        ));
    };
    if root_of(rest).is_empty() {
        return Some(format!(
            "`{path}` names no root; write `$.workflow...` or `$.<taskRef>...`"
        ));
    }
    None
}

/// The root an `inputExpression` path reads (`workflow` or a task reference).
pub fn input_expression_root(path: &str) -> Option<&str> {
    path.trim().strip_prefix("$.").map(root_of)
}

/// The run's input: `input` laid over the workflow's `inputTemplate` defaults, themselves
/// laid over the defaults of its declared `inputs:` (by top-level key; a value given at
/// start wins). Default values are taken as written.
pub fn workflow_input(workflow: &WorkflowDef, input: Value) -> Value {
    let mut defaults = crate::definition::inputs::defaults(workflow);
    if let Some(Value::Object(template)) = workflow.extra.get("inputTemplate") {
        defaults.extend(template.clone());
    }
    if defaults.is_empty() {
        return input;
    }
    let defaults = &defaults;
    match input {
        Value::Object(given) => {
            let mut merged = defaults.clone();
            merged.extend(given);
            Value::Object(merged)
        }
        Value::Null => Value::Object(defaults.clone()),
        other => other,
    }
}

/// Where references are looked up.
pub trait Scope {
    /// The document a root name stands for: `workflow` gives `{input, workflowId, ...}`, a task
    /// reference gives `{input, output, status}`. `None` when the root is unknown.
    fn root(&self, name: &str) -> Option<Value>;
}

/// One `${...}` found in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The whole text between `${` and `}`.
    pub text: String,
    /// The first segment: `workflow` or a task reference name.
    pub root: String,
}

/// Resolves every reference in `value` against `scope`.
pub fn resolve(value: &Value, scope: &dyn Scope) -> Value {
    match value {
        Value::String(s) => resolve_string(s, scope),
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, scope)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), resolve(v, scope)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// All references in `value`, in the order they appear.
pub fn references(value: &Value) -> Vec<Reference> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found
}

fn collect(value: &Value, found: &mut Vec<Reference>) {
    match value {
        Value::String(s) => collect_text(s, found),
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect(v, found)),
        _ => {}
    }
}

/// The references in one string, each followed by the references nested in its path
/// (`${a.output.list[${workflow.input.i}]}` gives `a...` and then `workflow.input.i`).
fn collect_text(s: &str, found: &mut Vec<Reference>) {
    for piece in split(s) {
        if let Piece::Expr(text) = piece {
            found.push(Reference {
                root: root_of(text).to_string(),
                text: text.to_string(),
            });
            if text.contains("${") {
                collect_text(text, found);
            }
        }
    }
}

/// Where a `${` that is never closed starts in `s` (an unclosed reference is left as text at
/// run time, as Conductor leaves it).
pub fn unclosed_reference(s: &str) -> Option<&str> {
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        if start > 0 && rest[..start].ends_with('$') {
            rest = &rest[start + 2..];
            continue;
        }
        match closing(&rest[start + 2..]) {
            Some(len) => rest = &rest[start + 2 + len + 1..],
            None => return Some(&rest[start..]),
        }
    }
    None
}

/// The length of an expression's text up to the `}` that closes it: braces inside it are
/// balanced, so a nested `${...}` is part of it (as Conductor's ParametersUtils matches).
fn closing(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Expr(&'a str),
}

/// Splits a string into literal text and `${...}` expressions; `$${` is a literal `${`.
fn split(s: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        if start > 0 && rest[..start].ends_with('$') {
            // `$${` escape: keep text up to and including the first `$`, skip the second.
            pieces.push(Piece::Text(&rest[..start - 1]));
            pieces.push(Piece::Text("${"));
            rest = &rest[start + 2..];
            continue;
        }
        let Some(len) = closing(&rest[start + 2..]) else {
            break;
        };
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        pieces.push(Piece::Expr(rest[start + 2..start + 2 + len].trim()));
        rest = &rest[start + 2 + len + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

fn root_of(expr: &str) -> &str {
    let end = expr.find(['.', '[']).unwrap_or(expr.len());
    &expr[..end]
}

fn resolve_string(s: &str, scope: &dyn Scope) -> Value {
    if !s.contains("${") {
        return Value::String(s.to_string());
    }
    let pieces = split(s);
    if let [Piece::Expr(expr)] = pieces.as_slice() {
        return lookup(expr, scope).unwrap_or(Value::Null);
    }
    Value::String(interpolate(&pieces, scope))
}

/// The pieces as one text, each expression replaced by its value's text.
fn interpolate(pieces: &[Piece<'_>], scope: &dyn Scope) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Expr(expr) => match lookup(expr, scope) {
                Some(Value::String(v)) => out.push_str(&v),
                // Conductor writes a missing value as `null` (`Objects.toString`).
                Some(Value::Null) | None => out.push_str("null"),
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    out
}

/// Looks up one expression such as `workflow.input.x` or `check.output.items[0]`. A trailing
/// function of Conductor's JSONPath (Jayway) applies to what the path finds:
/// `${fetch.output.response.body.length()}`, and `keys()`, `first()`, `last()`, `sum()`,
/// `min()`, `max()`, `avg()`.
///
/// A path with a `${...}` inside, `${workflow.input.list[${workflow.input.i}]}`, has the
/// inner expressions resolved first and written into it as text, as Conductor's
/// ParametersUtils does.
pub fn lookup(expr: &str, scope: &dyn Scope) -> Option<Value> {
    if expr.contains("${") {
        // Each inner expression is shorter than this one, so this ends.
        let path = interpolate(&split(expr), scope);
        return lookup_path(&path, scope);
    }
    lookup_path(expr, scope)
}

/// [`lookup`] of a path with nothing nested left in it (a `${` in it is read as it stands).
fn lookup_path(expr: &str, scope: &dyn Scope) -> Option<Value> {
    if let Some((path, function)) = trailing_function(expr) {
        return apply_function(function, &lookup_path(path, scope)?);
    }
    let root = root_of(expr);
    let doc = scope.root(root)?;
    let rest = &expr[root.len()..];
    if rest.is_empty() {
        return Some(doc);
    }
    let path = JsonPath::parse(&format!("${}", quote_segments(rest))).ok()?;
    let nodes = path.query(&doc).all();
    match nodes.as_slice() {
        [] => None,
        [one] => Some((*one).clone()),
        many => Some(Value::Array(many.iter().map(|v| (*v).clone()).collect())),
    }
}

/// `("a.b", "length")` for `a.b.length()`.
fn trailing_function(expr: &str) -> Option<(&str, &str)> {
    let head = expr.strip_suffix("()")?;
    let (path, function) = head.rsplit_once('.')?;
    matches!(
        function,
        "length" | "keys" | "first" | "last" | "sum" | "min" | "max" | "avg"
    )
    .then_some((path, function))
}

/// Jayway's path functions over the value found.
fn apply_function(function: &str, value: &Value) -> Option<Value> {
    let numbers = || -> Option<Vec<f64>> { value.as_array()?.iter().map(Value::as_f64).collect() };
    let number = |n: f64| serde_json::Number::from_f64(n).map(Value::Number);
    match function {
        "length" => match value {
            Value::Array(items) => Some(items.len().into()),
            Value::Object(map) => Some(map.len().into()),
            Value::String(text) => Some(text.chars().count().into()),
            _ => None,
        },
        "keys" => Some(Value::Array(
            value
                .as_object()?
                .keys()
                .cloned()
                .map(Value::String)
                .collect(),
        )),
        "first" => value.as_array()?.first().cloned(),
        "last" => value.as_array()?.last().cloned(),
        "sum" => number(numbers()?.iter().sum()),
        "min" => number(numbers()?.into_iter().reduce(f64::min)?),
        "max" => number(numbers()?.into_iter().reduce(f64::max)?),
        "avg" => {
            let all = numbers()?;
            (!all.is_empty())
                .then(|| all.iter().sum::<f64>() / all.len() as f64)
                .and_then(number)
        }
        _ => None,
    }
}

/// Rewrites `.some-name` segments that JSONPath's shorthand does not allow into `['some-name']`.
fn quote_segments(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let mut chars = path.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '.' && path[i + 1..].starts_with('.') {
            // `..name`: JSONPath's descendant segment, every `name` at any depth.
            out.push('.');
            if path[i + 2..].starts_with('[') {
                out.push('.');
                chars.next();
            }
        } else if c == '.' {
            let end = path[i + 1..]
                .find(['.', '['])
                .map_or(path.len(), |e| i + 1 + e);
            let name = &path[i + 1..end];
            let plain = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if plain || name == "*" {
                out.push('.');
                out.push_str(name);
            } else {
                if out.ends_with('.') {
                    // After a descendant `.`: `..['some-name']`.
                    out.push('.');
                }
                out.push_str("['");
                out.push_str(&name.replace('\\', "\\\\").replace('\'', "\\'"));
                out.push_str("']");
            }
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
        } else if c == '[' {
            let end = path[i..].find(']').map_or(path.len(), |e| i + e + 1);
            out.push_str(&path[i..end]);
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed(Value);
    impl Scope for Fixed {
        fn root(&self, name: &str) -> Option<Value> {
            self.0.get(name).cloned()
        }
    }

    fn scope() -> Fixed {
        Fixed(json!({
            "workflow": {"input": {"n": 3, "folders": ["a", "b"], "station-root": "/s"}},
            "check": {"output": {"problems": [{"file": "x"}], "count": 1}},
        }))
    }

    #[test]
    fn descendant_segments_find_a_key_at_any_depth() {
        let s = Fixed(json!({"es": {"output": {"response": {"body": {"hits": [
            {"_source": {"status": "COMPLETED", "workflow-id": "w1"}},
            {"_source": {"status": "FAILED", "workflow-id": "w2"}},
        ]}}}}}));
        let r = |e: &str| resolve(&json!(e), &s);
        assert_eq!(r("${es.output..status}"), json!(["COMPLETED", "FAILED"]));
        assert_eq!(r("${es.output..workflow-id}"), json!(["w1", "w2"]));
        assert_eq!(r("${es.output..hits[1]._source.status}"), json!("FAILED"));
        assert_eq!(r("${es.output..nothing}"), Value::Null);
    }

    #[test]
    fn jayway_path_functions_apply_to_what_the_path_finds() {
        let s = scope();
        let r = |e: &str| resolve(&json!(e), &s);
        assert_eq!(r("${workflow.input.folders.length()}"), json!(2));
        assert_eq!(r("${check.output.length()}"), json!(2));
        assert_eq!(r("${workflow.input.folders.last()}"), json!("b"));
        assert_eq!(r("n=${workflow.input.folders.length()}"), json!("n=2"));
        assert_eq!(r("${workflow.input.missing.length()}"), Value::Null);
    }

    #[test]
    fn whole_reference_keeps_its_type() {
        assert_eq!(resolve(&json!("${workflow.input.n}"), &scope()), json!(3));
        assert_eq!(
            resolve(&json!("${workflow.input.folders}"), &scope()),
            json!(["a", "b"])
        );
        assert_eq!(
            resolve(&json!("${check.output.problems[0]}"), &scope()),
            json!({"file": "x"})
        );
        assert_eq!(
            resolve(&json!("${check.output.problems[0].file}"), &scope()),
            json!("x")
        );
    }

    #[test]
    fn references_inside_text_are_interpolated() {
        let v = resolve(
            &json!("found ${check.output.count} in ${workflow.input.folders}"),
            &scope(),
        );
        assert_eq!(v, json!("found 1 in [\"a\",\"b\"]"));
    }

    #[test]
    fn names_with_dashes_and_missing_values() {
        assert_eq!(
            resolve(&json!("${workflow.input.station-root}"), &scope()),
            json!("/s")
        );
        assert_eq!(
            resolve(&json!("${workflow.input.nope}"), &scope()),
            Value::Null
        );
        assert_eq!(resolve(&json!("${ghost.output.x}"), &scope()), Value::Null);
        assert_eq!(
            resolve(&json!("a${ghost.output.x}b"), &scope()),
            json!("anullb")
        );
    }

    /// Issue 12, row 9: a missing reference inside text is written `null`, as Conductor does.
    #[test]
    fn row_9_a_missing_reference_inside_text_is_null() {
        assert_eq!(
            resolve(&json!("x=${workflow.input.nope}!"), &scope()),
            json!("x=null!")
        );
    }

    #[test]
    fn escapes_and_nesting() {
        assert_eq!(
            resolve(&json!("$${workflow.input.n}"), &scope()),
            json!("${workflow.input.n}")
        );
        let v = resolve(
            &json!({"list": ["${workflow.input.n}", {"deep": "${check.output.count}"}]}),
            &scope(),
        );
        assert_eq!(v, json!({"list": [3, {"deep": 1}]}));
    }

    #[test]
    fn row_10_a_nested_expression_in_a_path_is_resolved_first() {
        let scope = Fixed(json!({
            "workflow": {"input": {"list": ["a", "b", "c"], "i": 1, "key": "n"}},
            "check": {"output": {"n": 7}},
        }));
        assert_eq!(
            resolve(
                &json!("${workflow.input.list[${workflow.input.i}]}"),
                &scope
            ),
            json!("b")
        );
        assert_eq!(
            resolve(&json!("got ${check.output.${workflow.input.key}}!"), &scope),
            json!("got 7!")
        );
        assert_eq!(
            resolve(
                &json!("${workflow.input.list[${workflow.input.nope}]}"),
                &scope
            ),
            Value::Null
        );
        let refs = references(&json!("${workflow.input.list[${check.output.n}]}"));
        let roots: Vec<_> = refs.iter().map(|r| r.root.as_str()).collect();
        assert_eq!(roots, ["workflow", "check"]);
        assert_eq!(unclosed_reference("x ${b.output.w"), Some("${b.output.w"));
        assert_eq!(unclosed_reference("${a.output} and $${b"), None);
    }

    #[test]
    fn finds_references() {
        let refs = references(
            &json!({"a": "${check.output.x} and ${workflow.input.y}", "b": ["${other[0]}"]}),
        );
        let roots: Vec<_> = refs.iter().map(|r| r.root.as_str()).collect();
        assert_eq!(roots, ["check", "workflow", "other"]);
    }
}
