//! The mocks file of `3ox test`: what each task "returns" in a simulated run.
//!
//! ```yaml
//! version: 1
//! input: {folders: [a, b]}          # the workflow input (default: {})
//! clock: 2026-01-01T00:00:00Z        # when the simulated run starts (default: this time)
//! tasks:                             # per task reference: outcomes of successive attempts
//!   check:
//!     - {status: FAILED, reason: flaky}
//!     - {output: {problems: []}}     # status COMPLETED when absent
//!   gate: [{decision: approve, by: ops, comment: fine}]
//!   slow: {output: {}, after: 5m}    # one outcome is a list of one; `after`: time it takes
//!   fetch:                           # HTTP: the response (statusCode 200 when absent)
//!     - {status: FAILED, reason: connection refused}
//!     - {output: {response: {statusCode: 200, body: {ok: true}}}}
//!   child: {output: {total: 3}}      # SUB_WORKFLOW: the child run's end (output or status)
//!   hold: {output: {by: ops}}        # WAIT with no duration: completed as `3ox complete` does
//!   lost: {claimed: false}           # nobody claims the message (its pollTimeout falls due)
//! default: {output: {}}              # for tasks not listed (without it they are an error)
//! children: run                      # run child workflows (SUB_WORKFLOW not listed, START_WORKFLOW,
//!                                    # failureWorkflow) in the simulation (default: mock)
//! expect:                            # optional: makes the file a test (see `expect.rs`)
//!   status: COMPLETED
//!   output: {problems: []}
//! ```
//!
//! A task is looked up by its reference, then by its reference without a loop suffix
//! (`check__2` -> `check`), then by its `name` (every child of a dynamic fork shares its
//! task's name). Each list is used in order across everything that looks it up (retries and
//! loop iterations alike); when it is used up its last outcome repeats.
//!
//! Every mistake is a [`Diagnostic`] with line, column and hint, like `3ox validate`.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::expect::Expect;
use crate::definition::source::{Source, push_pointer};
use crate::definition::{Diagnostic, DurationSpec};
use crate::mailbox::approval::Decision;

/// The version of the mocks format.
pub const MOCKS_VERSION: u64 = 1;

const TOP_KEYS: &[&str] = &[
    "version", "input", "clock", "children", "tasks", "default", "expect",
];

/// A parsed mocks file.
#[derive(Debug, Clone)]
pub struct MockFile {
    /// The file's name as given (for messages).
    pub file: String,
    pub input: Value,
    /// The simulated time the run starts at.
    pub clock: DateTime<Utc>,
    /// Outcomes per task reference (or name), in file order.
    pub tasks: IndexMap<String, Vec<Outcome>>,
    /// The outcome of every task not listed; `None`: such a task is an error.
    pub default: Option<Outcome>,
    /// What a SUB_WORKFLOW's child run is: its task's mock (default), or the child's own
    /// definition run in the same simulation.
    pub children: ChildMode,
    pub expect: Expect,
}

/// `children:` in a mocks file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildMode {
    /// The child's end is the SUB_WORKFLOW task's mocked outcome.
    #[default]
    Mock,
    /// The child's definition runs in the same simulation with the same mocks, unless the
    /// SUB_WORKFLOW task is listed under `tasks:` (then its mock is the child's end);
    /// START_WORKFLOW children and the failureWorkflow run too.
    Run,
}

impl Default for MockFile {
    fn default() -> Self {
        MockFile {
            file: String::new(),
            input: Value::Object(Default::default()),
            clock: default_clock(),
            tasks: IndexMap::new(),
            default: None,
            children: ChildMode::Mock,
            expect: Expect::default(),
        }
    }
}

/// The default start of the simulated clock: fixed, so that runs repeat exactly.
pub fn default_clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// What one attempt of a task does (or, for a HUMAN task, what the approver decides).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// COMPLETED (default), FAILED or FAILED_WITH_TERMINAL_ERROR.
    #[serde(default)]
    pub status: Option<MockStatus>,
    /// The task's output (default `{}`); an object.
    #[serde(default)]
    pub output: Option<Value>,
    /// Why it failed (or, for a rejection, why it was rejected).
    #[serde(default)]
    pub reason: Option<String>,
    /// How long the agent (or the approver) takes, in simulated time (default 0).
    #[serde(default)]
    pub after: Option<DurationSpec>,
    /// HUMAN tasks: `approve` or `reject` (`approved`, `rejected` also read).
    #[serde(default)]
    pub decision: Option<MockDecision>,
    /// HUMAN tasks: who decided (default: the approver).
    #[serde(default)]
    pub by: Option<String>,
    /// HUMAN tasks: the approver's comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Agent-served tasks: `false` leaves the task's message unclaimed (no worker picks it
    /// up, so no answer comes; its poll timeout, if any, falls due). Default: claimed at once.
    #[serde(default)]
    pub claimed: Option<bool>,
}

/// A mocked task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MockStatus {
    Completed,
    Failed,
    FailedWithTerminalError,
}

/// A mocked approver's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MockDecision {
    #[serde(alias = "approved")]
    Approve,
    #[serde(alias = "rejected")]
    Reject,
}

impl From<MockDecision> for Decision {
    fn from(d: MockDecision) -> Decision {
        match d {
            MockDecision::Approve => Decision::Approve,
            MockDecision::Reject => Decision::Reject,
        }
    }
}

/// Why a mocks file could not be used: every problem found, each with its place.
#[derive(Debug, thiserror::Error)]
pub enum MocksError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{} in {path}", match .diagnostics.len() { 1 => "1 error".to_string(), n => format!("{n} errors") })]
    Invalid {
        path: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl MockFile {
    /// Reads and checks a mocks file.
    pub fn load(path: &std::path::Path) -> Result<MockFile, MocksError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MocksError::Io {
            path: shown.clone(),
            source,
        })?;
        MockFile::parse(&text, &shown)
    }

    /// Parses mocks text; `file` names it in diagnostics.
    pub fn parse(text: &str, file: &str) -> Result<MockFile, MocksError> {
        let invalid = |diagnostics| MocksError::Invalid {
            path: file.to_string(),
            diagnostics,
        };
        let src = Source::parse(text, file).map_err(|d| invalid(vec![d]))?;
        let mut reader = Reader {
            src: &src,
            problems: Vec::new(),
        };
        let mocks = reader.file();
        if reader.problems.is_empty() {
            Ok(mocks)
        } else {
            Err(invalid(reader.problems))
        }
    }

    /// The references and names listed under `tasks:`.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }
}

/// Whether `path` is named as a mocks file: `<name>.mocks.yaml` (or `.yml`, `.json`).
pub fn is_mocks_file(path: &std::path::Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        [".mocks.yaml", ".mocks.yml", ".mocks.json"]
            .iter()
            .any(|s| n.ends_with(s))
    })
}

/// Every problem of mocks text (for `3ox validate`); empty when it is a valid mocks file.
pub fn check_text(text: &str, file: &str) -> Vec<Diagnostic> {
    match MockFile::parse(text, file) {
        Ok(_) | Err(MocksError::Io { .. }) => Vec::new(),
        Err(MocksError::Invalid { diagnostics, .. }) => diagnostics,
    }
}

/// Reads the value tree into a [`MockFile`], collecting every problem.
struct Reader<'s> {
    src: &'s Source,
    problems: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn error(&mut self, pointer: &str, message: String, hint: &str) {
        self.problems.push(Diagnostic::error(
            self.src,
            pointer,
            message,
            Some(hint.to_string()),
        ));
    }

    fn file(&mut self) -> MockFile {
        let mut mocks = MockFile {
            file: self.src.file.clone(),
            ..MockFile::default()
        };
        let Some(top) = self.src.value.as_object() else {
            self.error(
                "",
                "a mocks file is a mapping".to_string(),
                "start with `version: 1` and list outcomes under `tasks:`",
            );
            return mocks;
        };
        for key in top.keys() {
            if !TOP_KEYS.contains(&key.as_str()) {
                let pointer = push_pointer("", key);
                self.problems.push(Diagnostic::error_at_key(
                    self.src,
                    &pointer,
                    format!("unknown field `{key}` in a mocks file"),
                    Some(format!("the fields are {}", TOP_KEYS.join(", "))),
                ));
            }
        }
        match top.get("version") {
            Some(Value::Number(n)) if n.as_u64() == Some(MOCKS_VERSION) => {}
            Some(other) => self.error(
                "/version",
                format!("mocks version {other} is not supported"),
                "write `version: 1`",
            ),
            None => self.error(
                "",
                "the mocks file has no `version`".to_string(),
                "add `version: 1` at the top",
            ),
        }
        match top.get("input") {
            None | Some(Value::Null) => {}
            Some(input @ Value::Object(_)) => mocks.input = input.clone(),
            Some(_) => self.error(
                "/input",
                "`input` is the workflow's input: a mapping".to_string(),
                "write it as `input: {name: value}`",
            ),
        }
        if let Some(clock) = top.get("clock") {
            match clock
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            {
                Some(at) => mocks.clock = at.with_timezone(&Utc),
                None => self.error(
                    "/clock",
                    format!("`clock` {clock} is not a time"),
                    "write an RFC 3339 time such as `2026-01-01T09:00:00Z`",
                ),
            }
        }
        match top.get("children").map(|v| (v, v.as_str())) {
            None => {}
            Some((_, Some("mock"))) => mocks.children = ChildMode::Mock,
            Some((_, Some("run"))) => mocks.children = ChildMode::Run,
            Some((other, _)) => self.error(
                "/children",
                format!(
                    "`children: {}` is not a choice",
                    other.as_str().map_or_else(|| other.to_string(), str::to_owned)
                ),
                "write `children: mock` (a SUB_WORKFLOW's mock is its child's end) or `children: run` (run the child's definition too)",
            ),
        }
        match top.get("tasks") {
            None | Some(Value::Null) => {}
            Some(Value::Object(tasks)) => {
                for (key, value) in tasks {
                    let pointer = push_pointer("/tasks", key);
                    let outcomes = self.outcomes(&pointer, key, value);
                    mocks.tasks.insert(key.clone(), outcomes);
                }
            }
            Some(_) => self.error(
                "/tasks",
                "`tasks` maps task references to outcomes".to_string(),
                "write `tasks: {check: [{output: {ok: true}}]}`",
            ),
        }
        if let Some(value) = top.get("default") {
            mocks.default = self.outcome("/default", value);
        }
        if let Some(value) = top.get("expect") {
            match Expect::from_value(value) {
                Ok(expect) => mocks.expect = expect,
                Err((pointer, message)) => self.error(
                    &format!("/expect{pointer}"),
                    message,
                    "see `docs/cli.md` (3ox test) for the fields of `expect`",
                ),
            }
        }
        mocks
    }

    /// A task's outcomes: a list of outcomes, or one outcome.
    fn outcomes(&mut self, pointer: &str, key: &str, value: &Value) -> Vec<Outcome> {
        match value {
            Value::Array(items) if items.is_empty() => {
                self.error(
                    pointer,
                    format!("task `{key}` has an empty list of outcomes"),
                    "give at least one outcome, such as `{output: {}}`",
                );
                Vec::new()
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.outcome(&format!("{pointer}/{i}"), item))
                .collect(),
            other => self.outcome(pointer, other).into_iter().collect(),
        }
    }

    fn outcome(&mut self, pointer: &str, value: &Value) -> Option<Outcome> {
        if !value.is_object() {
            self.error(
                pointer,
                format!("an outcome is a mapping, not {value}"),
                "write `{output: {...}}`, `{status: FAILED, reason: ...}` or `{decision: approve}`",
            );
            return None;
        }
        let outcome: Outcome = match serde_json::from_value(value.clone()) {
            Ok(outcome) => outcome,
            Err(e) => {
                let text = e.to_string();
                let hint = if text.contains("unknown field") {
                    "an outcome has status, output, reason, after, claimed, and for HUMAN tasks decision, by, comment"
                } else if text.contains("unknown variant") {
                    "status is COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR; decision is approve or reject"
                } else {
                    "check the outcome's fields"
                };
                // Point at the field at fault: the first one that is refused on its own.
                let at = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .find(|(key, field)| {
                        let probe: serde_json::Map<String, Value> =
                            [((*key).clone(), (*field).clone())].into_iter().collect();
                        serde_json::from_value::<Outcome>(Value::Object(probe)).is_err()
                    })
                    .map_or_else(
                        || pointer.to_string(),
                        |(key, _)| push_pointer(pointer, key),
                    );
                self.error(&at, format!("bad outcome: {text}"), hint);
                return None;
            }
        };
        if let Some(output) = &outcome.output
            && !output.is_object()
        {
            self.error(
                &format!("{pointer}/output"),
                "a task's output is a mapping".to_string(),
                "write `output: {key: value}`",
            );
        }
        if outcome.decision.is_some() && outcome.status.is_some() {
            self.error(
                pointer,
                "an outcome gives either a `decision` (HUMAN tasks) or a `status`, not both"
                    .to_string(),
                "a rejection that fails the task comes from the task's `failOnReject`",
            );
        }
        if outcome.decision.is_some() && outcome.output.is_some() {
            self.error(
                &format!("{pointer}/output"),
                "a HUMAN task's output comes from its decision; it cannot be mocked".to_string(),
                "give `decision`, `by`, `comment` and `reason` instead",
            );
        }
        Some(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Diagnostic> {
        match MockFile::parse(text, "m.yaml") {
            Err(MocksError::Invalid { diagnostics, .. }) => diagnostics,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn reads_outcomes_lists_and_single_ones() {
        let mocks = MockFile::parse(
            "version: 1\ninput: {n: 2}\ntasks:\n  a: [{status: FAILED, reason: flaky}, {output: {x: 1}}]\n  b: {decision: approved, after: 5m}\ndefault: {output: {}}\n",
            "m.yaml",
        )
        .unwrap();
        assert_eq!(mocks.input, serde_json::json!({"n": 2}));
        assert_eq!(mocks.tasks["a"].len(), 2);
        assert_eq!(mocks.tasks["a"][0].status, Some(MockStatus::Failed));
        assert_eq!(mocks.tasks["b"][0].decision, Some(MockDecision::Approve));
        assert_eq!(
            mocks.tasks["b"][0].after.unwrap().0,
            std::time::Duration::from_secs(300)
        );
        assert!(mocks.default.is_some());
        assert_eq!(mocks.clock, default_clock());
    }

    #[test]
    fn mistakes_have_line_and_column() {
        let found = problems(
            "version: 1\ntasks:\n  a:\n    - {output: {}}\n    - {status: DONE}\nextra: 1\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        let bad_status = found
            .iter()
            .find(|d| d.message.contains("DONE"))
            .expect("the bad status");
        assert_eq!((bad_status.line, bad_status.column), (5, 16));
        let unknown = found
            .iter()
            .find(|d| d.message.contains("unknown field `extra`"))
            .expect("the unknown field");
        assert_eq!((unknown.line, unknown.column), (6, 1));
    }

    #[test]
    fn yaml_syntax_errors_and_missing_version_are_reported() {
        let found = problems("version: 1\ntasks:\n  a: [{output: {}}\n");
        assert!(found[0].message.contains("not valid YAML"), "{found:?}");
        assert!(found[0].line >= 3, "{found:?}");
        let found = problems("tasks: {}\n");
        assert!(found[0].message.contains("no `version`"));
    }

    #[test]
    fn a_decision_with_a_status_or_an_output_is_refused() {
        let found = problems("version: 1\ntasks:\n  g: [{decision: approve, status: FAILED}]\n");
        assert!(found[0].message.contains("not both"), "{found:?}");
        let found = problems("version: 1\ntasks:\n  g: {decision: reject, output: {}}\n");
        assert!(found[0].message.contains("cannot be mocked"), "{found:?}");
    }

    #[test]
    fn children_and_claimed_are_read_and_checked() {
        let mocks = MockFile::parse(
            "version: 1\nchildren: run\ntasks:\n  a: {claimed: false}\n",
            "m.yaml",
        )
        .unwrap();
        assert_eq!(mocks.children, ChildMode::Run);
        assert_eq!(mocks.tasks["a"][0].claimed, Some(false));
        assert_eq!(
            MockFile::parse("version: 1\n", "m.yaml").unwrap().children,
            ChildMode::Mock
        );
        let found = problems("version: 1\nchildren: all\n");
        assert!(found[0].message.contains("`children: all`"), "{found:?}");
        assert_eq!((found[0].line, found[0].column), (2, 11));
    }
}
