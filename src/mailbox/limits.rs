//! How big and how deep a value 3ox passes through a mailbox or its journal may be.
//!
//! Every value 3ox journals must read back. The YAML reader refuses documents nested deeper
//! than 128 levels, and a journal record wraps a task's output or input in a few levels of
//! its own; so replies, workflow inputs and mapped task inputs may nest at most
//! [`MAX_NESTING_DEPTH`] levels, well below the reader's limit. A task message is read by
//! workers only up to [`super::MAX_FILE_BYTES`]; its input may take [`MAX_INPUT_BYTES`] of
//! that, the rest is left for the message's own fields.

use serde_json::Value;

/// Deepest nesting of lists and mappings 3ox accepts in a reply's output, a workflow input
/// or a task's mapped input (`{}` is 1 level, `{a: [1]}` is 2).
pub const MAX_NESTING_DEPTH: usize = 64;

/// Room a task message keeps for everything but its input (ids, token, reply form).
pub const MESSAGE_HEADROOM_BYTES: u64 = 64 * 1024;

/// Largest input, as YAML, a task message may carry.
pub const MAX_INPUT_BYTES: u64 = super::MAX_FILE_BYTES - MESSAGE_HEADROOM_BYTES;

/// How many levels of lists and mappings `value` nests (a scalar is 0). Iterative: a value
/// built by mapping may be deeper than a recursive walk should go.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((value, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(level);
        stack.extend(children.map(|child| (child, level + 1)));
    }
    deepest
}

/// Why `value` (named `what` in the reason) nests too deep, or `None`.
pub fn nesting_problem(what: &str, value: &Value) -> Option<String> {
    let levels = depth(value);
    (levels > MAX_NESTING_DEPTH).then(|| {
        format!(
            "{what} nests {levels} levels of lists and mappings, more than the limit of {MAX_NESTING_DEPTH}; flatten it, or put large data in a file and send its path"
        )
    })
}

/// Why `input` (a workflow input or a task's mapped input, named `what`) cannot go into a
/// task message: too deep, or larger than [`MAX_INPUT_BYTES`] as YAML. `None` when it fits.
pub fn input_problem(what: &str, input: &Value) -> Option<String> {
    if let Some(problem) = nesting_problem(what, input) {
        return Some(problem);
    }
    let bytes = super::yaml::to_string(&serde_json::json!({ "input": input }))
        .map_or(u64::MAX, |text| text.len() as u64);
    (bytes > MAX_INPUT_BYTES).then(|| {
        format!(
            "{what} is {} as YAML; a task message may hold at most {} of input (the mailbox size limit is {}); put large data in a file and send its path",
            size(bytes),
            size(MAX_INPUT_BYTES),
            size(super::MAX_FILE_BYTES)
        )
    })
}

fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// A value nested `levels` deep: `{d: {d: ... {}}}`.
#[cfg(test)]
pub fn nested(levels: usize) -> Value {
    let mut value = Value::Object(Default::default());
    for _ in 1..levels {
        value = serde_json::json!({ "d": value });
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_lists_and_mappings() {
        assert_eq!(depth(&serde_json::json!(1)), 0);
        assert_eq!(depth(&serde_json::json!({})), 1);
        assert_eq!(depth(&serde_json::json!({"a": [1], "b": 2})), 2);
        assert_eq!(depth(&nested(64)), 64);
    }

    #[test]
    fn too_deep_or_too_big_is_named() {
        assert_eq!(nesting_problem("output", &nested(64)), None);
        let deep = nesting_problem("output", &nested(65)).unwrap();
        assert!(
            deep.contains("65 levels") && deep.contains("limit of 64"),
            "{deep}"
        );
        let big = serde_json::json!({ "blob": "x".repeat(5 * 1024 * 1024) });
        let reason = input_problem("the input", &big).unwrap();
        assert!(reason.contains("mailbox size limit is 4.0 MiB"), "{reason}");
        assert_eq!(
            input_problem("the input", &serde_json::json!({"a": 1})),
            None
        );
    }
}
