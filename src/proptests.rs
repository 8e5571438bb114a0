//! Property tests: every parser of outside text takes any input without panicking, and the
//! formats 3ox writes read back to what was written.
//!
//! Most inputs are *mutations* of valid documents (the inventory template, a task message, a
//! reply, a journal, an agent.yaml): bytes flipped, cut, deleted or duplicated, and YAML's
//! significant characters (`:`, `- `, `[`, `&a`, `*a`, `!!`, tabs, NUL, invalid UTF-8 where
//! the API takes bytes) inserted. Purely random text comes second: it rarely gets past the
//! first line of a parser.
//!
//! Each property runs 256 cases (`PROPTEST_CASES=20000 cargo test --lib proptests` for a
//! longer hunt). A failing case is saved in `proptest-regressions/proptests.txt`, which is
//! committed so that the case is tried first on every later run. The coverage-guided fuzz
//! targets under `fuzz/` take the same parsers further.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value, json};

use crate::definition::{self, LoadError};
use crate::engine::{Change, TaskStatus};
use crate::expr::{self, Scope, condition, mapping};
use crate::journal::{self, Record};
use crate::mailbox::message::TaskMessage;
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::station::AgentConfig;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Mutation of valid documents
// ---------------------------------------------------------------------------------------

/// Pieces that mean something to YAML, JSON, 3ox's journal frame or `${...}` mapping.
const SIGNIFICANT: &[&[u8]] = &[
    b":",
    b": ",
    b"- ",
    b"-",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b"&a ",
    b"*a",
    b"*a\n",
    b"<<: *a\n",
    b"!!",
    b"!!str ",
    b"!!binary ",
    b"!!int ",
    b"!tag ",
    b"? ",
    b"|",
    b">-\n",
    b"#",
    b"'",
    b"\"",
    b"\\",
    b"\t",
    b"\0",
    b"\n",
    b"\n  ",
    b"\r",
    b"\r\n",
    b" ",
    b"    ",
    b"---\n",
    b"...\n",
    b"%YAML 1.2\n",
    b"~",
    b"null",
    b"true",
    b".nan",
    b"1e999",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"${",
    b"$${",
    b"${workflow.input.x}",
    b"--- # 3ox journal record\n",
    b"# end seq=1 crc32=00000000\n",
    "\u{feff}".as_bytes(),
    "\u{85}".as_bytes(),
    "\u{2028}".as_bytes(),
    // Invalid UTF-8: a lone continuation byte, a cut two-byte sequence, a surrogate.
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Keep only the bytes before a point.
    Truncate(Index),
    Insert(Index, &'static [u8]),
    Delete(Index, usize),
    /// Copy a run of bytes to another place.
    Duplicate(Index, usize, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => (any::<Index>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        5 => (any::<Index>(), prop::sample::select(SIGNIFICANT)).prop_map(|(at, piece)| Mutation::Insert(at, piece)),
        1 => (any::<Index>(), 1..64usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        1 => (any::<Index>(), 1..256usize, any::<Index>()).prop_map(|(from, len, to)| Mutation::Duplicate(from, len, to)),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for mutation in mutations {
        // Positions are taken over `len + 1` so that an empty text can still grow.
        let at = |index: &Index, len: usize| index.index(len + 1);
        match mutation {
            Mutation::Flip(index, mask) => {
                if !bytes.is_empty() {
                    let i = index.index(bytes.len());
                    bytes[i] ^= mask;
                }
            }
            Mutation::Truncate(index) => bytes.truncate(at(index, bytes.len())),
            Mutation::Insert(index, piece) => {
                let i = at(index, bytes.len());
                bytes.splice(i..i, piece.iter().copied());
            }
            Mutation::Delete(index, len) => {
                let i = at(index, bytes.len());
                let end = (i + len).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Duplicate(from, len, to) => {
                let i = at(from, bytes.len());
                let end = (i + len).min(bytes.len());
                let run = bytes[i..end].to_vec();
                let j = at(to, bytes.len());
                bytes.splice(j..j, run);
            }
        }
    }
    bytes
}

/// One of `seeds`, with one to eight mutations applied.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(seeds),
        prop::collection::vec(mutation(), 1..8),
    )
        .prop_map(|(seed, mutations)| apply(&seed, &mutations))
}

/// As [`mutated`], as text (invalid UTF-8 becomes U+FFFD) for the APIs that take `&str`.
fn mutated_text(seeds: Vec<String>) -> impl Strategy<Value = String> {
    mutated(seeds.into_iter().map(String::into_bytes).collect())
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Random text made of YAML's significant characters, letters and line breaks.
fn yaml_soup() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-:{}\\[\\],&*!|>'\"#?%@` \t\r\na-z0-9.${}~]{0,200}",
        any::<String>(),
    ]
}

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------
// Valid documents to start from
// ---------------------------------------------------------------------------------------

const TEMPLATE: &str = "templates/inventory-validation.workflow.yaml";

/// A small workflow with the task types the template does not use.
const SMALL_WORKFLOW: &str = r#"
name: small
tasks:
  - name: prepare
    taskReferenceName: prepare
    retry: &retry {count: 2, logic: FIXED, delay: 1s}
    inputParameters: {folder: "${workflow.input.folder}", first: "${workflow.input.items[0]}"}
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - - {name: left, taskReferenceName: left, optional: true, retry: *retry}
      - - {name: right, taskReferenceName: right, agent: checker}
  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [left, right]}
  - name: route
    taskReferenceName: route
    type: SWITCH
    evaluatorType: value-param
    expression: kind
    inputParameters: {kind: "${prepare.output.kind}"}
    decisionCases:
      a: [{name: on_a, taskReferenceName: on_a}]
outputParameters: {left: "${left.output}", note: "$${not a reference}"}
"#;

fn workflow_seeds() -> Vec<String> {
    let template = repo_file(TEMPLATE);
    let as_json = definition::parse_str(&template, Path::new(TEMPLATE))
        .map(|def| serde_json::to_string_pretty(&def).expect("a definition serialises as JSON"))
        .expect("the template is valid");
    vec![template, SMALL_WORKFLOW.to_string(), as_json]
}

fn sample_message() -> TaskMessage {
    let task_id = "01JD0000000000000000000000";
    let run_id = "01JD0000000000000000000001";
    let token = "tk-0123456789abcdef";
    TaskMessage {
        version: crate::mailbox::message::MESSAGE_VERSION,
        task_id: task_id.into(),
        run_id: run_id.into(),
        workflow: "inventory_validation".into(),
        task: "validate_folder".into(),
        task_ref: "validate_folders_0".into(),
        attempt: 2,
        token: token.into(),
        agent: "inventory-checker".into(),
        created_at: DateTime::from_timestamp(1_790_000_000, 123_456_000).expect("a valid time"),
        input: json!({"station_root": "stations/sample", "folder": "inventory-broken", "n": [1, 2.5, null, true]}),
        task_type: None,
        reply: TaskMessage::reply_instructions(
            task_id,
            run_id,
            token,
            "agents/inventory-checker/0UT.3OX",
        ),
    }
}

fn message_seeds() -> Vec<String> {
    let message = sample_message();
    vec![
        message.to_yaml(),
        serde_json::to_string_pretty(&message).expect("a message serialises as JSON"),
    ]
}

fn reply_seeds() -> Vec<String> {
    vec![
        "version: 1\ntask_id: T1\nrun_id: R1\ntoken: tk-1\nstatus: COMPLETED\noutput: {problems: [], n: 2}\nreason: ''\n"
            .to_string(),
        "task_id: T2\nstatus: FAILED_WITH_TERMINAL_ERROR\nreason: |\n  the folder is gone\n  for good\nlogs:\n  - one\n  - two\n"
            .to_string(),
        r#"{"version": 1, "task_id": "T3", "status": "IN_PROGRESS", "reason": "halfway", "output": null}"#.to_string(),
    ]
}

fn change_samples() -> Vec<Change> {
    let workflow = definition::parse_str(SMALL_WORKFLOW, Path::new("small.yaml"))
        .expect("the small workflow is valid");
    vec![
        Change::RunStarted {
            run_id: "R".into(),
            source: "small.yaml".into(),
            workflow: Box::new(workflow),
            input: json!({"folder": "a", "items": ["x"]}),
        },
        Change::TaskScheduled {
            task_ref: "prepare".into(),
            task_id: "T1".into(),
            attempt: 1,
            agent: "checker".into(),
            token: "tk-1".into(),
            input: json!({"folder": "a"}),
        },
        Change::TaskHeartbeat {
            task_ref: "prepare".into(),
            task_id: "T1".into(),
            note: Some("half".into()),
        },
        Change::TaskFailed {
            task_ref: "prepare".into(),
            task_id: Some("T1".into()),
            reason: "disk: full\n--- # 3ox journal record".into(),
            retry_at: DateTime::from_timestamp(1_790_000_001, 0),
            outcome: TaskStatus::RetryWait,
            output: Value::Null,
        },
        Change::TaskCompleted {
            task_ref: "prepare".into(),
            task_id: Some("T2".into()),
            input: None,
            output: json!({"kind": "a"}),
        },
        Change::RunCompleted {
            output: json!({"left": null}),
        },
        Change::RunPaused {
            by: "alice".into(),
            uid: Some(1000),
            reason: Some("look: first\n--- # 3ox journal record".into()),
        },
        Change::RunResumed {
            by: "bob".into(),
            uid: None,
            reason: None,
        },
        Change::TaskSkipped {
            task_ref: "prepare".into(),
            by: "carol".into(),
            uid: Some(0),
            reason: None,
        },
        Change::RunRetried {
            by: "dave".into(),
            uid: None,
            reason: Some("again".into()),
            tasks: vec!["prepare".into()],
        },
        Change::RunRerunFrom {
            task_ref: "prepare".into(),
            by: "erin".into(),
            uid: None,
            reason: None,
            tasks: vec![],
        },
        Change::RunRestarted {
            new_run_id: "R2".into(),
            by: "fay".into(),
            uid: Some(1),
            reason: None,
        },
        Change::RunTerminated {
            by: "gil".into(),
            uid: Some(1000),
            reason: "wrong input".into(),
        },
    ]
}

fn journal_bytes(changes: Vec<Change>) -> Vec<u8> {
    let at = DateTime::from_timestamp(1_790_000_000, 5).expect("a valid time");
    let mut bytes = Vec::new();
    for (i, change) in changes.into_iter().enumerate() {
        let record = Record {
            version: journal::RECORD_VERSION,
            seq: i as u64 + 1,
            at,
            run: "R".into(),
            change,
        };
        journal::encode(&record, &mut bytes);
    }
    bytes
}

fn journal_seeds() -> Vec<Vec<u8>> {
    let changes = change_samples();
    vec![journal_bytes(changes[..2].to_vec()), journal_bytes(changes)]
}

fn agent_seeds() -> Vec<String> {
    vec![
        repo_file("agents/inventory-checker/agent.yaml"),
        "version: 1\ncapabilities: [a, b]\nconcurrency: 2\ncommand: ./run.sh --fast\n".to_string(),
        "description: >\n  folded\n  text\ncommand:\n  - python3\n  - -u\n".to_string(),
    ]
}

/// The roots a task's input may refer to, with values of every shape.
struct Fixed(Value);

impl Scope for Fixed {
    fn root(&self, name: &str) -> Option<Value> {
        self.0.get(name).cloned()
    }
}

fn scope() -> Fixed {
    Fixed(json!({
        "workflow": {"input": {"n": 3, "folders": ["a", "b"], "station-root": "/s", "deep": {"x": [{"y": [1, 2]}]}}, "workflowId": "R"},
        "check": {"input": {}, "output": {"problems": [{"file": "x"}, {"file": "y"}], "count": 2, "": 0}, "status": "COMPLETED"},
    }))
}

const EXPRESSIONS: &[&str] = &[
    "workflow.input.n",
    "workflow.input.folders[0]",
    "workflow.input.folders[-1]",
    "workflow.input.folders[*]",
    "workflow.input['station-root']",
    "workflow.input.station-root",
    "workflow.input.deep.x[0].y[1:]",
    "check.output.problems[*].file",
    "check.output.problems[?@.file == 'x']",
    "check.output..file",
    "check.output.",
    "workflow",
];

fn mapping_seeds() -> Vec<String> {
    let mut seeds: Vec<String> = EXPRESSIONS.iter().map(|e| format!("${{{e}}}")).collect();
    seeds.push("found ${check.output.count} in ${workflow.input.folders} ($${literal})".into());
    seeds
}

const CONDITIONS: &[&str] = &[
    "problem_count > 0",
    "kind in ['a', 'b'] and not done",
    "(items | length) >= 2 or name ~ '-x' == 'a-x'",
    "items[0].file if items else 'none'",
    "name | upper | replace('A', 'b')",
    "range(3) | map('string') | join(',')",
];

fn condition_vars() -> Value {
    json!({"problem_count": 2, "kind": "a", "done": false, "items": [{"file": "x"}], "name": "a"})
}

// ---------------------------------------------------------------------------------------
// Values for the round trips
// ---------------------------------------------------------------------------------------

/// Text pieces that a careless encoder would get wrong.
const TRICKY: &[&str] = &[
    "--- # 3ox journal record",
    "# end seq=1 crc32=00000000",
    "\n",
    "\r\n",
    "\r",
    " ",
    "  ",
    ":",
    ": ",
    "- ",
    "#",
    "'",
    "\"",
    "\\",
    "${workflow.input.x}",
    "\t",
    "\0",
    "\u{7f}",
    "\u{85}",
    "\u{feff}",
    "é",
    "null",
    "~",
    "true",
    "y",
    "1",
    "0x1F",
    "0o17",
    "1e3",
    ".inf",
    "!!str",
    "&a",
    "*a",
    "? ",
    "|",
    ">",
    "{",
    "[",
    "%",
    "@",
    "`",
];

/// Text for the round trips, including U+0085, U+2028 and U+2029 followed by newlines: the
/// YAML emitter once wrote those as block scalars it could not read back, which is why every
/// file 3ox writes goes through `mailbox::yaml::to_string`.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,12}",
        any::<String>(),
        prop::collection::vec(prop::sample::select(TRICKY), 0..8)
            .prop_map(|pieces| pieces.concat()),
        Just("\u{2028}\n".to_string()),
        Just("a\u{85}\nb\u{2029}".to_string()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| f.is_finite().then(|| Value::from(f))),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((text(), json_value()), 0..6)
        .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>()))
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // From 1970 to 2100, to the nanosecond.
    (0i64..4_102_444_800, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).expect("in range"))
}

/// Task ids as the mailbox accepts them (no `:`, `/`, control characters or leading `.`),
/// some of which YAML would read as something else if they were not quoted.
fn task_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-][A-Za-z0-9_. -]{0,30}[A-Za-z0-9_-]",
        prop::sample::select(vec![
            "1", "null", "true", "~", "0x1F", "1e3", "- x", "'q'", "\"q\"", "a #b", "[x]", "{x}",
            "&a", "*a", "é", "!!str",
        ])
        .prop_map(String::from),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    let status = prop::sample::select(vec![
        ReplyStatus::Completed,
        ReplyStatus::Failed,
        ReplyStatus::FailedWithTerminalError,
        ReplyStatus::InProgress,
    ]);
    let output = prop_oneof![json_object(), Just(Value::Null)];
    (
        task_id(),
        status,
        output,
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::collection::vec(text(), 0..4),
    )
        .prop_map(
            |(task_id, status, output, reason, run_id, token, logs)| Reply {
                version: crate::mailbox::reply::REPLY_VERSION,
                task_id,
                status,
                output,
                reason,
                run_id,
                token,
                logs,
            },
        )
}

fn task_message() -> impl Strategy<Value = TaskMessage> {
    (
        (text(), text(), text(), text(), text()),
        (1u32..100, text(), text(), time(), json_value()),
    )
        .prop_map(
            |(
                (task_id, run_id, workflow, task, task_ref),
                (attempt, token, agent, created_at, input),
            )| {
                let reply = TaskMessage::reply_instructions(
                    &task_id,
                    &run_id,
                    &token,
                    &format!("agents/{agent}/0UT.3OX"),
                );
                TaskMessage {
                    version: crate::mailbox::message::MESSAGE_VERSION,
                    task_id,
                    run_id,
                    workflow,
                    task,
                    task_ref,
                    attempt,
                    token,
                    agent,
                    created_at,
                    input,
                    task_type: None,
                    reply,
                }
            },
        )
}

fn task_status() -> impl Strategy<Value = TaskStatus> {
    prop::sample::select(vec![
        TaskStatus::Scheduled,
        TaskStatus::InProgress,
        TaskStatus::RetryWait,
        TaskStatus::Completed,
        TaskStatus::CompletedWithErrors,
        TaskStatus::Failed,
        TaskStatus::FailedWithTerminalError,
        TaskStatus::TimedOut,
        TaskStatus::Skipped,
    ])
}

/// Changes as the engine makes them. An `Option<Value>` is never `Some(null)`: the engine
/// records an input only when there is one (and `null` would read back as `None`).
fn change() -> impl Strategy<Value = Change> {
    let some_input = prop::option::of(json_object());
    prop_oneof![
        (text(), text(), 1u32..50, text(), text(), json_value()).prop_map(
            |(task_ref, task_id, attempt, agent, token, input)| {
                Change::TaskScheduled {
                    task_ref,
                    task_id,
                    attempt,
                    agent,
                    token,
                    input,
                }
            }
        ),
        (text(), text(), prop::option::of(text())).prop_map(|(task_ref, task_id, note)| {
            Change::TaskHeartbeat {
                task_ref,
                task_id,
                note,
            }
        }),
        (text(), prop::option::of(text()), some_input, json_value()).prop_map(
            |(task_ref, task_id, input, output)| Change::TaskCompleted {
                task_ref,
                task_id,
                input,
                output
            }
        ),
        (
            text(),
            prop::option::of(text()),
            text(),
            prop::option::of(time()),
            task_status(),
            json_value()
        )
            .prop_map(|(task_ref, task_id, reason, retry_at, outcome, output)| {
                Change::TaskFailed {
                    task_ref,
                    task_id,
                    reason,
                    retry_at,
                    outcome,
                    output,
                }
            }),
        (text(), text(), prop::option::of(text()), text()).prop_map(
            |(file, agent, task_id, reason)| Change::ReplyRejected {
                file,
                agent,
                task_id,
                reason
            }
        ),
        json_value().prop_map(|output| Change::RunCompleted { output }),
        (text(), prop::option::of(text())).prop_map(|(reason, task_ref)| Change::RunFailed {
            reason,
            task_ref,
            output: None,
        }),
        prop::sample::select(change_samples()),
    ]
}

/// Records numbered from 1, as a journal holds them.
fn records() -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec((time(), text(), change()), 0..6).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (at, run, change))| Record {
                version: journal::RECORD_VERSION,
                seq: i as u64 + 1,
                at,
                run,
                change,
            })
            .collect()
    })
}

fn agent_config() -> impl Strategy<Value = AgentConfig> {
    use crate::station::agent::Command;
    let command = prop::option::of(prop_oneof![
        prop::collection::vec(text(), 1..4).prop_map(Command::Argv),
        text().prop_map(Command::Shell),
    ]);
    (
        prop::option::of(text()),
        prop::collection::vec(text(), 0..4),
        1usize..64,
        command,
        prop_oneof![
            Just(crate::station::AgentMode::PerTask),
            Just(crate::station::AgentMode::Persistent)
        ],
    )
        .prop_map(
            |(description, capabilities, concurrency, command, mode)| AgentConfig {
                version: 1,
                description,
                capabilities,
                concurrency,
                command,
                mode,
                llm: None,
            },
        )
}

// ---------------------------------------------------------------------------------------
// What every parser must do with what it is given
// ---------------------------------------------------------------------------------------

/// Loads workflow text the way `3ox validate` does, rendering every diagnostic. A definition
/// that loads must load again, unchanged, from its own serialisation.
fn check_workflow(text: &str) -> Result<(), TestCaseError> {
    match definition::parse_str(text, Path::new("fuzzed.yaml")) {
        Ok(def) => {
            let again = serde_yaml::to_string(&def).expect("a definition serialises");
            let reloaded = definition::parse_str(&again, Path::new("again.yaml"));
            prop_assert!(
                reloaded.is_ok(),
                "an accepted definition does not load again:\n{again}\n{reloaded:?}"
            );
            prop_assert_eq!(reloaded.ok(), Some(def));
        }
        Err(err) => {
            let shown = err.to_string();
            prop_assert!(!shown.is_empty());
            if let LoadError::Invalid { diagnostics, .. } = &err {
                prop_assert!(!diagnostics.is_empty(), "refused without a reason");
                for diagnostic in diagnostics {
                    prop_assert!(
                        diagnostic.line >= 1 && diagnostic.column >= 1,
                        "{diagnostic:?}"
                    );
                    let rendered = diagnostic.render();
                    prop_assert!(rendered.contains(&diagnostic.message));
                }
            }
        }
    }
    Ok(())
}

fn check_journal(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(contents) = journal::decode(bytes, Path::new("fuzzed.journal.yaml")) {
        prop_assert!(contents.valid_len as usize <= bytes.len());
        for (i, record) in contents.records.iter().enumerate() {
            prop_assert_eq!(record.seq, i as u64 + 1);
        }
        if let Some((offset, _)) = &contents.torn_tail {
            prop_assert_eq!(*offset, contents.valid_len);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    // ---- workflow definitions ----

    #[test]
    fn mutated_workflows_never_panic(text in mutated_text(workflow_seeds())) {
        check_workflow(&text)?;
    }

    #[test]
    fn random_workflows_never_panic(text in yaml_soup()) {
        check_workflow(&text)?;
    }

    // ---- task messages ----

    #[test]
    fn mutated_messages_never_panic(text in mutated_text(message_seeds())) {
        if let Err(reason) = TaskMessage::parse(&text) {
            prop_assert!(!reason.is_empty());
        }
    }

    #[test]
    fn random_messages_never_panic(text in yaml_soup()) {
        let _ = TaskMessage::parse(&text);
    }

    #[test]
    fn messages_read_back_as_written(message in task_message()) {
        let yaml = message.to_yaml();
        prop_assert_eq!(TaskMessage::parse(&yaml), Ok(message), "{}", yaml);
    }

    // ---- replies ----

    #[test]
    fn mutated_replies_never_panic(text in mutated_text(reply_seeds())) {
        match Reply::parse(&text) {
            Ok(reply) => prop_assert!(reply.output.is_object() || reply.output.is_null()),
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn random_replies_never_panic(text in yaml_soup()) {
        let _ = Reply::parse(&text);
    }

    #[test]
    fn replies_read_back_as_written(reply in reply()) {
        let yaml = reply.to_yaml();
        prop_assert_eq!(Reply::parse(&yaml), Ok(reply), "{}", yaml);
    }

    // ---- journal records ----

    #[test]
    fn mutated_journals_never_panic(bytes in mutated(journal_seeds())) {
        check_journal(&bytes)?;
    }

    #[test]
    fn random_journals_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_journal(&bytes)?;
    }

    #[test]
    fn journals_read_back_as_written(records in records()) {
        let mut bytes = Vec::new();
        for record in &records {
            journal::encode(record, &mut bytes);
        }
        let contents = journal::decode(&bytes, Path::new("j"));
        prop_assert!(contents.is_ok(), "{:?}", contents.err());
        let contents = contents.expect("checked");
        prop_assert!(contents.torn_tail.is_none());
        prop_assert_eq!(contents.valid_len as usize, bytes.len());
        prop_assert_eq!(contents.records, records);
    }

    /// A crash can cut an append anywhere: what is before the cut reads back, the rest is a
    /// torn tail, and it is never an error.
    #[test]
    fn any_prefix_of_a_journal_is_its_whole_records_and_a_torn_tail(records in records(), cut in any::<Index>()) {
        let mut bytes = Vec::new();
        let mut ends = vec![0];
        for record in &records {
            journal::encode(record, &mut bytes);
            ends.push(bytes.len());
        }
        let cut = cut.index(bytes.len() + 1);
        let whole = ends.iter().rposition(|end| *end <= cut).expect("0 is an end");
        let contents = journal::decode(&bytes[..cut], Path::new("j"));
        prop_assert!(contents.is_ok(), "cut at {}: {:?}", cut, contents.err());
        let contents = contents.expect("checked");
        prop_assert_eq!(&contents.records[..], &records[..whole]);
        prop_assert_eq!(contents.valid_len as usize, ends[whole]);
        prop_assert_eq!(contents.torn_tail.map(|(offset, _)| offset as usize), (cut != ends[whole]).then_some(ends[whole]));
    }

    // ---- agent.yaml ----

    #[test]
    fn mutated_agent_configs_never_panic(text in mutated_text(agent_seeds())) {
        let _ = serde_yaml::from_str::<AgentConfig>(&text);
    }

    #[test]
    fn agent_configs_read_back_as_written(config in agent_config()) {
        let yaml = serde_yaml::to_string(&config).expect("an agent config serialises");
        prop_assert_eq!(serde_yaml::from_str::<AgentConfig>(&yaml).ok(), Some(config), "{}", yaml);
    }

    // ---- input mapping ----

    #[test]
    fn mutated_mappings_never_panic(text in mutated_text(mapping_seeds()), wrap in any::<bool>()) {
        let value = if wrap { json!({"list": [text.clone(), {"deep": text.clone()}]}) } else { Value::String(text.clone()) };
        let _ = expr::resolve(&value, &scope());
        for reference in expr::references(&value) {
            prop_assert!(reference.text.starts_with(&reference.root), "{reference:?}");
            let _ = mapping::lookup(&reference.text, &scope());
        }
    }

    #[test]
    fn mutated_lookups_never_panic(text in mutated_text(EXPRESSIONS.iter().map(|e| e.to_string()).collect())) {
        let _ = mapping::lookup(&text, &scope());
    }

    #[test]
    fn random_lookups_never_panic(text in "[a-z_.\\[\\]'\"*?@()=<>!&|$0-9:, -]{0,60}") {
        let _ = mapping::lookup(&text, &scope());
    }

    #[test]
    fn values_without_references_resolve_to_themselves(value in json_value().prop_filter("no ${", |v| !v.to_string().contains("${"))) {
        prop_assert_eq!(expr::resolve(&value, &scope()), value.clone());
        prop_assert!(expr::references(&value).is_empty());
    }

    #[test]
    fn text_without_references_is_returned_unchanged(text in any::<String>().prop_filter("no ${", |t| !t.contains("${"))) {
        prop_assert_eq!(expr::resolve(&Value::String(text.clone()), &scope()), Value::String(text));
    }

    // ---- SWITCH conditions ----

    #[test]
    fn mutated_conditions_never_panic(text in mutated_text(CONDITIONS.iter().map(|c| c.to_string()).collect())) {
        let _ = condition::check(&text);
        if let Ok(result) = condition::evaluate(&text, &condition_vars()) {
            let _ = condition::case_key(&result);
        }
    }

    #[test]
    fn random_conditions_never_panic(text in "[a-z_ .,()\\[\\]{}'\"|~+*/%<>=!-]{0,80}") {
        let _ = condition::check(&text);
        let _ = condition::evaluate(&text, &condition_vars());
    }
}

/// The seeds themselves are valid, so the mutations start from documents that load.
#[test]
fn the_seeds_are_valid() {
    for (i, text) in workflow_seeds().iter().enumerate() {
        if let Err(e) = definition::parse_str(text, &PathBuf::from(format!("seed-{i}.yaml"))) {
            panic!("workflow seed {i}: {e}");
        }
    }
    for text in message_seeds() {
        assert_eq!(TaskMessage::parse(&text), Ok(sample_message()));
    }
    for text in reply_seeds() {
        assert!(Reply::parse(&text).is_ok(), "{text}");
    }
    for bytes in journal_seeds() {
        let contents = journal::decode(&bytes, Path::new("seed")).expect("a valid journal");
        assert!(contents.torn_tail.is_none() && !contents.records.is_empty());
    }
    for text in agent_seeds() {
        assert!(serde_yaml::from_str::<AgentConfig>(&text).is_ok(), "{text}");
    }
    for text in mapping_seeds() {
        assert!(!expr::references(&Value::String(text)).is_empty());
    }
    for text in CONDITIONS {
        assert!(
            condition::evaluate(text, &condition_vars()).is_ok(),
            "{text}"
        );
    }
}

/// Found by `any_prefix_of_a_journal_is_its_whole_records_and_a_torn_tail`: a record cut
/// short whose own text holds the record marker was called corruption, so a crash in the
/// middle of such an append left a run that could not be opened.
#[test]
fn a_torn_record_holding_the_marker_text_is_a_torn_tail() {
    let change = Change::TaskCompleted {
        task_ref: "a".into(),
        task_id: None,
        input: Some(json!({"a": {"--- # 3ox journal record": null}})),
        output: Value::Null,
    };
    let bytes = journal_bytes(vec![change]);
    for cut in 1..bytes.len() {
        let contents = journal::decode(&bytes[..cut], Path::new("j"))
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert!(contents.records.is_empty());
        assert_eq!(contents.torn_tail.map(|t| t.0), Some(0), "cut at {cut}");
    }
}
