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
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    let mut expanded: u64 = 0;
    for item in Parser::new_from_str(text) {
        let (event, _) = item.map_err(|e| format!("not valid YAML: {e}"))?;
        let (size, anchor) = match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 1));
                expanded += 1;
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
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

#[cfg(test)]
mod tests {
    use super::*;

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
