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

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

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
        Value::String(s) => {
            for piece in split(s) {
                if let Piece::Expr(text) = piece {
                    found.push(Reference {
                        root: root_of(text).to_string(),
                        text: text.to_string(),
                    });
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect(v, found)),
        _ => {}
    }
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
        let Some(len) = rest[start + 2..].find('}') else {
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
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Expr(expr) => match lookup(expr, scope) {
                Some(Value::String(v)) => out.push_str(&v),
                Some(Value::Null) | None => {}
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    Value::String(out)
}

/// Looks up one expression such as `workflow.input.x` or `check.output.items[0]`.
pub fn lookup(expr: &str, scope: &dyn Scope) -> Option<Value> {
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

/// Rewrites `.some-name` segments that JSONPath's shorthand does not allow into `['some-name']`.
fn quote_segments(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let mut chars = path.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '.' {
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
            json!("ab")
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
    fn finds_references() {
        let refs = references(
            &json!({"a": "${check.output.x} and ${workflow.input.y}", "b": ["${other[0]}"]}),
        );
        let roots: Vec<_> = refs.iter().map(|r| r.root.as_str()).collect();
        assert_eq!(roots, ["check", "workflow", "other"]);
    }
}
