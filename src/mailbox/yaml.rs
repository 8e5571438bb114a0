//! YAML written by others (replies, task messages, agent.yaml), checked before serde reads it.
//!
//! `serde_yaml` expands aliases (`*name`) while it builds a value, and its own guard (at most
//! 100 alias jumps per event of the document) still lets a small file expand quadratically:
//! an anchored list of ten thousand items aliased ten thousand times is 10^8 nodes. [`check`]
//! walks the document's event stream once with `saphyr-parser`, adds up its size with every
//! alias expanded, and refuses it past [`MAX_EXPANDED_NODES`] before anything is built.
//! Workflow files have their own, position-aware guard in `definition::source`.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// How many nodes (scalars, lists, mappings) a mailbox file may hold once every alias is
/// expanded. A 4 MiB file without aliases holds about 2 million at most; a real reply a few
/// thousand.
pub const MAX_EXPANDED_NODES: u64 = 1_000_000;

/// Refuses text that is not YAML, or that expands to more than [`MAX_EXPANDED_NODES`] nodes
/// through its aliases. The error is a reason meant for whoever wrote the file.
pub fn check(text: &str) -> Result<(), String> {
    // Subtree sizes of the lists and mappings still open, innermost last.
    let mut open: Vec<(usize, u64)> = Vec::new();
    // Per open collection: `Some` for a mapping (the keys seen, and whether a key comes next).
    let mut keys: Vec<Option<MappingKeys>> = Vec::new();
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    let mut expanded: u64 = 0;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| format!("not valid YAML: {e}"))?;
        if !matches!(event, Event::SequenceEnd | Event::MappingEnd)
            && let Some(Some(mapping)) = keys.last_mut()
        {
            mapping.next(&event, span.start.line())?;
        }
        let (size, anchor) = match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                keys.push(matches!(event, Event::MappingStart(..)).then(MappingKeys::default));
                open.push((anchor, 1));
                expanded += 1;
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                keys.pop();
                let (anchor, size) = open.pop().unwrap_or((0, 1));
                // The node itself was counted when it opened; only its size moves up.
                if let Some(parent) = open.last_mut() {
                    parent.1 = parent.1.saturating_add(size);
                }
                if anchor > 0 {
                    anchors.insert(anchor, size);
                }
                continue;
            }
            Event::Scalar(_, _, anchor, _) => (1, anchor),
            Event::Alias(id) => (anchors.get(&id).copied().unwrap_or(1), 0),
            _ => continue,
        };
        if anchor > 0 {
            anchors.insert(anchor, size);
        }
        if let Some(parent) = open.last_mut() {
            parent.1 = parent.1.saturating_add(size);
        }
        expanded = expanded.saturating_add(size);
        if expanded > MAX_EXPANDED_NODES {
            return Err(format!(
                "the document expands to more than {MAX_EXPANDED_NODES} values through its aliases (`*name`); write the repeated parts out, or put large data in a file and send its path"
            ));
        }
    }
    Ok(())
}

/// The keys of one open mapping, to refuse a key given twice (serde_yaml would keep the last
/// silently, so the sender would never learn that one of its values was dropped).
#[derive(Default)]
struct MappingKeys {
    seen: std::collections::HashSet<String>,
    /// Whether the next node is a value (else a key).
    at_value: bool,
}

impl MappingKeys {
    /// Takes the next node of the mapping (a key or a value, in turn).
    fn next(&mut self, event: &Event<'_>, line: usize) -> Result<(), String> {
        let at_key = !self.at_value;
        self.at_value = at_key;
        if at_key
            && let Event::Scalar(key, ..) = event
            && !self.seen.insert(key.to_string())
        {
            return Err(format!(
                "duplicate key `{key}` at line {line}: each key may be given once"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_key_is_refused_with_its_line_at_any_depth() {
        assert_eq!(
            check("task_id: a\nstatus: COMPLETED\ntask_id: b\n"),
            Err("duplicate key `task_id` at line 3: each key may be given once".into())
        );
        let nested = "output:\n  list:\n    - {x: 1, y: 2, x: 3}\n";
        assert!(
            check(nested)
                .unwrap_err()
                .contains("duplicate key `x` at line 3")
        );
        // The same key in sibling mappings, and values equal to keys, are fine.
        assert_eq!(check("a: {k: 1}\nb: {k: a}\nc: [k, k]\n"), Ok(()));
        assert_eq!(check("a: {b: 1}\nb: 2\n"), Ok(()));
    }

    /// The classic "billion laughs": nine levels, each aliasing the one below ten times.
    pub(crate) fn billion_laughs() -> String {
        let mut text = String::from("a0: &a0 [lol]\n");
        for level in 1..10 {
            let aliases = vec![format!("*a{}", level - 1); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
        }
        text
    }

    /// One anchored list of `n` items, aliased `n` times: quadratic, under serde_yaml's own
    /// alias-jump limit.
    fn quadratic(n: usize) -> String {
        format!(
            "big: &big [{}]\ncopies: [{}]\n",
            vec!["0"; n].join(","),
            vec!["*big"; n].join(",")
        )
    }

    #[test]
    fn a_plain_document_and_a_few_aliases_pass() {
        assert_eq!(
            check("task_id: a\nstatus: COMPLETED\noutput: {x: &x [1, 2], y: *x}\n"),
            Ok(())
        );
    }

    #[test]
    fn alias_bombs_are_refused_before_anything_expands() {
        let started = std::time::Instant::now();
        for text in [billion_laughs(), quadratic(3000)] {
            let err = check(&text).unwrap_err();
            assert!(err.contains("expands to more than"), "{err}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn serde_yaml_alone_stops_the_billion_laughs_but_not_a_quadratic_expansion() {
        // What this module is for: serde_yaml's own limit catches deep nesting of aliases...
        let err = serde_yaml::from_str::<serde_json::Value>(&billion_laughs()).unwrap_err();
        assert!(
            err.to_string().contains("repetition limit exceeded"),
            "{err}"
        );
        // ...but builds every node of a wide one (here 300 x 300 = 90,000 of them).
        let value: serde_json::Value = serde_yaml::from_str(&quadratic(300)).unwrap();
        assert_eq!(value["copies"].as_array().unwrap().len(), 300);
        assert!(
            check(&quadratic(300)).is_ok(),
            "90,000 nodes are under the limit"
        );
        assert!(check(&quadratic(1100)).is_err(), "1.2 million are over it");
    }

    #[test]
    fn text_that_is_not_yaml_says_so() {
        assert!(
            check("status: [COMPLETED\n  x: y")
                .unwrap_err()
                .starts_with("not valid YAML")
        );
    }
}

/// Characters YAML 1.1 readers take as line breaks inside text (NEL, LINE SEPARATOR,
/// PARAGRAPH SEPARATOR). `serde_yaml`'s emitter can write a block scalar holding one of them
/// followed by a newline that its own parser then cannot read back.
const UNSAFE_BREAKS: [char; 3] = ['\u{85}', '\u{2028}', '\u{2029}'];

/// Serialises `value` as YAML that reads back as the same value: the usual block YAML, or,
/// when the text holds characters the YAML emitter does not write back safely, the same data
/// as JSON (which is YAML too) with those characters escaped. Every file 3ox writes goes
/// through here, so none of them can become unreadable because of what an agent sent.
pub fn to_string<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, String> {
    let text = serde_yaml::to_string(value).map_err(|e| e.to_string())?;
    if !text.contains(UNSAFE_BREAKS) {
        return Ok(text);
    }
    let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
    // serde_json writes every character above ASCII raw; YAML forbids some of them in a
    // document (DEL, the C1 controls, U+FFFE, U+FFFF) and reads others as line breaks
    // (U+0085, U+2028, U+2029). Outside strings JSON is ASCII, so these are all inside
    // strings, where `\uXXXX` means the same to a YAML reader (and to a JSON one).
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if matches!(
            c,
            '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
        ) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod writer_tests {
    use serde_json::{Value, json};

    #[test]
    fn text_with_unicode_line_breaks_reads_back_equal() {
        let value = json!({"input": {"\u{2028}\n": null, "a": "x\u{85}\ny\u{2029}\u{7f}\u{9f}é😀"}, "plain": "text"});
        let text = super::to_string(&value).unwrap();
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, value);
        assert!(!text.contains(super::UNSAFE_BREAKS), "{text:?}");
        let plain = super::to_string(&json!({"a": [1, 2]})).unwrap();
        assert_eq!(plain, "a:\n- 1\n- 2\n", "ordinary values stay block YAML");
    }
}
