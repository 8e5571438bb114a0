//! Workflow text parsed into a value tree, plus where every node of that tree stands.
//!
//! The value comes from `serde_yaml` (JSON is YAML, so `.json` files take the same road). The
//! positions come from a second pass over the same text with `saphyr-parser`'s event stream:
//! each node is filed under its JSON pointer (RFC 6901, `/tasks/2/type`), and each mapping key
//! is filed separately so that "unknown field" can point at the key rather than its value.
//!
//! The event pass also measures how large the document becomes once aliases are expanded,
//! and refuses "billion laughs" documents before anything expands them.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScanError, Span};
use serde_json::Value;

use super::diagnostic::Diagnostic;

/// How many nodes a document may hold once every alias is expanded. A workflow file has a
/// few thousand at most; the limit stops a small file from expanding into billions.
const MAX_EXPANDED_NODES: u64 = 100_000;

/// A parsed workflow file: its text, its value tree and the position of every node.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: String,
    pub text: String,
    pub value: Value,
    /// Pointer -> position of the node (a scalar, or the start of a mapping or list).
    nodes: HashMap<String, Position>,
    /// Pointer of a mapping entry -> position of its key.
    keys: HashMap<String, Position>,
}

/// Where a node starts (1-based line and column, in characters) and how many characters it
/// spans on that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub width: usize,
}

impl Position {
    pub const START: Position = Position {
        line: 1,
        column: 1,
        width: 1,
    };

    fn from_span(span: &Span) -> Position {
        let (start, end) = (span.start, span.end);
        let width = if end.line() == start.line() && end.col() > start.col() {
            end.col() - start.col()
        } else {
            1
        };
        Position {
            line: start.line().max(1),
            column: start.col() + 1,
            width,
        }
    }
}

impl Source {
    /// Parses `text` (YAML or JSON); `file` names it in diagnostics. A syntax error, or a
    /// document that would expand into something huge, is one diagnostic.
    #[allow(
        clippy::result_large_err,
        reason = "parsed once per file; callers keep the diagnostic as it is"
    )]
    pub fn parse(text: &str, file: &str) -> Result<Source, Diagnostic> {
        let index = match index_positions(text) {
            Err(e @ IndexError::TooLarge) => return Err(e.diagnostic(file, text)),
            other => other,
        };
        // serde_yaml gives the message the user sees for a syntax error.
        let value: Value = serde_yaml::from_str(text).map_err(|e| {
            let position = e.location().map_or(Position::START, |l| Position {
                line: l.line().max(1),
                column: l.column().max(1),
                width: 1,
            });
            Diagnostic::at(
                file,
                text,
                position,
                format!("not valid YAML: {e}"),
                Some(yaml_hint(text)),
            )
        })?;
        // serde_yaml took what the event parser refused: report the parser's complaint, since
        // locations could not be worked out.
        let Index { nodes, keys } = index.map_err(|e| e.diagnostic(file, text))?;
        Ok(Source {
            file: file.to_string(),
            text: text.to_string(),
            value,
            nodes,
            keys,
        })
    }

    /// 1-based line and column of the node at `pointer`, or of the nearest parent known.
    pub fn location(&self, pointer: &str) -> (usize, usize) {
        let p = self.position(pointer);
        (p.line, p.column)
    }

    /// Where the node at `pointer` is, or its nearest known parent.
    pub fn position(&self, pointer: &str) -> Position {
        let mut pointer = pointer;
        loop {
            if let Some(p) = self.nodes.get(pointer) {
                return *p;
            }
            match pointer.rfind('/') {
                Some(i) => pointer = &pointer[..i],
                None => return Position::START,
            }
        }
    }

    /// Where the key of the mapping entry at `pointer` is; the entry's position when the key
    /// is not known (for example inside an alias).
    pub fn key_position(&self, pointer: &str) -> Position {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.position(pointer))
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        line_of(&self.text, line)
    }
}

pub(crate) fn line_of(text: &str, line: usize) -> &str {
    text.lines().nth(line.saturating_sub(1)).unwrap_or("")
}

/// Tabs are the most common reason a hand-written YAML file does not parse.
fn yaml_hint(text: &str) -> String {
    if text
        .lines()
        .any(|l| l.trim_start_matches(' ').starts_with('\t'))
    {
        "YAML indents with spaces, not tabs".to_string()
    } else {
        "check the indentation and the `:` after each key near this line".to_string()
    }
}

/// Appends one reference token to a JSON pointer, escaped as RFC 6901 says.
pub fn push_pointer(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

struct Index {
    nodes: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

#[derive(Debug)]
enum IndexError {
    Scan(ScanError),
    TooLarge,
    /// A key given twice in one mapping; `first` is the line of its first use.
    DuplicateKey {
        key: String,
        at: Position,
        first: usize,
    },
}

impl IndexError {
    fn diagnostic(&self, file: &str, text: &str) -> Diagnostic {
        match self {
            IndexError::Scan(e) => {
                let marker = e.marker();
                let position = Position {
                    line: marker.line().max(1),
                    column: marker.col() + 1,
                    width: 1,
                };
                Diagnostic::at(
                    file,
                    text,
                    position,
                    format!("not valid YAML: {}", e.info()),
                    Some(yaml_hint(text)),
                )
            }
            IndexError::DuplicateKey { key, at, first } => Diagnostic::at(
                file,
                text,
                *at,
                format!("duplicate key `{key}` (first given at line {first})"),
                Some(
                    "give each key once: YAML and JSON readers keep only the last one, so the first value would be dropped silently"
                        .to_string(),
                ),
            ),
            IndexError::TooLarge => Diagnostic::at(
                file,
                text,
                Position::START,
                format!(
                    "the document expands to more than {MAX_EXPANDED_NODES} nodes through its aliases (`*name`)"
                ),
                Some("write the repeated parts out, or use fewer nested aliases".to_string()),
            ),
        }
    }
}

/// A mapping or list being walked. `pointer` is `None` for nodes that have no pointer (a
/// mapping used as a key); their children are not recorded.
struct Frame {
    pointer: Option<String>,
    kind: FrameKind,
    /// Anchor id given to this node, to size later aliases.
    anchor: usize,
    /// Nodes inside this one so far, aliases expanded.
    size: u64,
}

enum FrameKind {
    List {
        next: usize,
    },
    /// `key` is the pointer token of the entry whose value comes next; `None` while a key is
    /// expected. A complex key is kept as `Some(None)`: its value gets no pointer.
    Map {
        key: Option<Option<String>>,
    },
}

/// Walks the event stream once: records the position of every node and key, and sums the
/// size of the document with aliases expanded.
fn index_positions(text: &str) -> Result<Index, IndexError> {
    let mut index = Index {
        nodes: HashMap::new(),
        keys: HashMap::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, u64> = HashMap::new();
    let mut total: u64 = 0;
    let mut in_first_document = false;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(IndexError::Scan)?;
        match &event {
            Event::DocumentStart(_) => {
                in_first_document = index.nodes.is_empty();
                continue;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
            _ if !in_first_document => continue,
            _ => {}
        }
        // Close a finished mapping or list: size it and hand its size to the parent.
        if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
            let frame = stack.pop().expect("the parser balances starts and ends");
            if frame.anchor > 0 {
                anchors.insert(frame.anchor, frame.size);
            }
            total = add_to_parent(&mut stack, frame.size, total)?;
            continue;
        }
        // Mapping keys: record and wait for the value.
        if let Some(Frame {
            kind: FrameKind::Map { key: key @ None },
            pointer,
            ..
        }) = stack.last_mut()
        {
            let token = match &event {
                Event::Scalar(text, ..) => Some(text.to_string()),
                _ => None,
            };
            if let (Some(token), Some(pointer)) = (&token, pointer.as_deref()) {
                let entry = push_pointer(pointer, token);
                let at = Position::from_span(&span);
                if let Some(first) = index.keys.get(&entry) {
                    return Err(IndexError::DuplicateKey {
                        key: token.clone(),
                        at,
                        first: first.line,
                    });
                }
                index.keys.insert(entry, at);
            }
            *key = Some(token);
            if let Event::Scalar(..) | Event::Alias(_) = event {
                continue;
            }
            // A mapping or list as a key: walk it without pointers.
            stack.push(Frame {
                pointer: None,
                kind: start_kind(&event),
                anchor: anchor_of(&event),
                size: 1,
            });
            continue;
        }
        let pointer = child_pointer(&mut stack);
        if let Some(pointer) = &pointer {
            index
                .nodes
                .entry(pointer.clone())
                .or_insert_with(|| Position::from_span(&span));
        }
        match &event {
            Event::Scalar(_, _, anchor, _) => {
                if *anchor > 0 {
                    anchors.insert(*anchor, 1);
                }
                total = add_to_parent(&mut stack, 1, total)?;
            }
            Event::Alias(id) => {
                let size = anchors.get(id).copied().unwrap_or(1);
                total = add_to_parent(&mut stack, size, total)?;
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                stack.push(Frame {
                    pointer,
                    kind: start_kind(&event),
                    anchor: anchor_of(&event),
                    size: 1,
                });
            }
            _ => {}
        }
    }
    Ok(index)
}

fn start_kind(event: &Event<'_>) -> FrameKind {
    match event {
        Event::SequenceStart(..) => FrameKind::List { next: 0 },
        _ => FrameKind::Map { key: None },
    }
}

fn anchor_of(event: &Event<'_>) -> usize {
    match event {
        Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => *anchor,
        _ => 0,
    }
}

/// The pointer of the node that starts now, advancing the parent to its next child.
fn child_pointer(stack: &mut [Frame]) -> Option<String> {
    let Some(parent) = stack.last_mut() else {
        return Some(String::new());
    };
    match &mut parent.kind {
        FrameKind::List { next } => {
            let token = next.to_string();
            *next += 1;
            parent.pointer.as_deref().map(|p| push_pointer(p, &token))
        }
        FrameKind::Map { key } => {
            let token = key.take().flatten();
            match (parent.pointer.as_deref(), token) {
                (Some(p), Some(token)) => Some(push_pointer(p, &token)),
                _ => None,
            }
        }
    }
}

/// Adds a finished node's expanded size to its parent (or the document total).
fn add_to_parent(stack: &mut [Frame], size: u64, total: u64) -> Result<u64, IndexError> {
    let total = match stack.last_mut() {
        Some(parent) => {
            parent.size = parent.size.saturating_add(size);
            total
        }
        None => total.saturating_add(size),
    };
    let open: u64 = stack.iter().map(|f| f.size).max().unwrap_or(0);
    if total.max(open) > MAX_EXPANDED_NODES {
        Err(IndexError::TooLarge)
    } else {
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Source {
        Source::parse(text, "w.yaml").unwrap_or_else(|d| panic!("{}", d.render()))
    }

    #[test]
    fn finds_values_and_keys_in_block_yaml() {
        let src = parse(
            "name: demo\ntasks:\n  - name: a\n    taskReferenceName: a_ref\n    type: SIMPLE\n",
        );
        assert_eq!(src.location("/name"), (1, 7));
        assert_eq!(src.location("/tasks"), (3, 3));
        assert_eq!(src.location("/tasks/0"), (3, 5));
        assert_eq!(src.location("/tasks/0/type"), (5, 11));
        assert_eq!(
            src.key_position("/tasks/0/type"),
            Position {
                line: 5,
                column: 5,
                width: 4
            }
        );
        assert_eq!(
            src.key_position("/tasks/0/taskReferenceName").width,
            "taskReferenceName".len()
        );
    }

    #[test]
    fn finds_locations_in_json() {
        let src = parse(
            "{\n  \"name\": \"demo\",\n  \"tasks\": [\n    {\"name\": \"a\", \"type\": \"SIMPLE\"}\n  ]\n}\n",
        );
        assert_eq!(src.location("/name"), (2, 11));
        assert_eq!(src.key_position("/tasks/0/type").column, 19);
        assert_eq!(src.location("/tasks/0/type"), (4, 27));
    }

    #[test]
    fn unknown_pointers_fall_back_to_the_nearest_parent() {
        let src = parse("name: demo\ntasks:\n  - name: a\n");
        assert_eq!(src.location("/tasks/0/inputParameters/x"), (3, 5));
        assert_eq!(src.location("/nothing/here"), (1, 1));
    }

    #[test]
    fn escapes_pointer_tokens() {
        let src = parse("outputParameters:\n  a/b: 1\n  c~d: 2\n");
        assert_eq!(src.location("/outputParameters/a~1b"), (2, 8));
        assert_eq!(src.location("/outputParameters/c~0d"), (3, 8));
        assert_eq!(push_pointer("/x", "a/b~"), "/x/a~1b~0");
    }

    #[test]
    fn syntax_errors_carry_their_line() {
        let err =
            Source::parse("name: demo\ntasks:\n  - name: a\n   bad: [\n", "w.yaml").unwrap_err();
        assert!(err.message.starts_with("not valid YAML"), "{}", err.message);
        assert!(err.line >= 4, "line {}", err.line);
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = Source::parse(&text, "bomb.yaml").unwrap_err();
        assert!(
            err.message.contains("expands to more than"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_duplicate_key_is_refused_at_its_second_use() {
        let text = "name: a\ntasks:\n  - {name: t, taskReferenceName: t, type: NOOP, name: u}\n";
        let diagnostic = Source::parse(text, "w.yaml").unwrap_err();
        let shown = diagnostic.to_string();
        assert!(
            shown.contains("duplicate key `name` (first given at line 3)"),
            "{shown}"
        );
        assert_eq!(diagnostic.line, 3, "{shown}");
        let json = "{\"name\": \"a\", \"tasks\": [], \"name\": \"b\"}";
        assert!(
            Source::parse(json, "w.json")
                .unwrap_err()
                .to_string()
                .contains("duplicate key `name`")
        );
        // Equal keys in different mappings are fine.
        assert!(Source::parse("a: {k: 1}\nb: {k: 2}\n", "x.yaml").is_ok());
    }

    #[test]
    fn an_empty_file_is_a_null_value() {
        assert_eq!(parse("").value, Value::Null);
        assert_eq!(parse("# only a comment\n").location("/tasks"), (1, 1));
    }

    #[test]
    fn a_few_aliases_are_fine() {
        let src = parse("defaults: &d {agent: a}\ntasks:\n  - *d\n  - *d\n");
        assert_eq!(src.value["tasks"][1]["agent"], "a");
        assert_eq!(src.location("/tasks/1"), (4, 5));
    }
}
