//! Conductor interop through the real binary: the corpus walk (`3ox validate` on every file of
//! `../shared/corpus/conductor/`, checked against `tests/corpus-verdicts.yaml`), `3ox import`,
//! `3ox export --format conductor`, the import -> export -> import round trip on the whole
//! corpus, and `3ox schema` (drift of the committed copy, templates valid against it).
//!
//! The corpus lives beside the repository (`../shared/corpus/conductor` from the repository
//! root; `../../shared/...` from a worktree under `wt/`), or where
//! `THREEOX_CONDUCTOR_CORPUS` points. When it is nowhere, the corpus tests fail and say so.
//!
//! `UPDATE_CORPUS_VERDICTS=1 cargo test --test integration interop::corpus` rewrites the
//! verdict table from what `3ox validate` says now (review the diff before committing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fake_agent::register;
use crate::support::{TestEnv, stderr, stdout};

const VERDICTS: &str = "tests/corpus-verdicts.yaml";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_dir() -> PathBuf {
    crate::support::conductor_corpus()
}

/// Every `.json` file of the corpus, by file name.
fn corpus_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("read the corpus")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// One file's expected verdict.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Valid,
    /// Refused, with exactly these error messages (in file order).
    Refused(Vec<String>),
    /// Recognised as another kind of Conductor record.
    NotAWorkflow(String),
}

fn read_verdicts() -> BTreeMap<String, Verdict> {
    let text = std::fs::read_to_string(manifest_dir().join(VERDICTS)).expect("read the verdicts");
    let doc: Value = serde_yaml::from_str(&text).expect("the verdicts are YAML");
    assert_eq!(doc["version"], 1, "{VERDICTS}: version");
    let mut out = BTreeMap::new();
    for (file, verdict) in doc["files"].as_object().expect("files: a mapping") {
        let verdict = match verdict {
            Value::String(s) if s == "valid" => Verdict::Valid,
            Value::Object(m) if m.contains_key("refused") => Verdict::Refused(
                m["refused"]
                    .as_array()
                    .expect("refused: a list of reasons")
                    .iter()
                    .map(|r| r.as_str().expect("a reason is text").to_string())
                    .collect(),
            ),
            Value::Object(m) if m.contains_key("not a workflow") => {
                Verdict::NotAWorkflow(m["not a workflow"].as_str().expect("a kind").to_string())
            }
            other => panic!("{VERDICTS}: `{file}` has an unreadable verdict {other}"),
        };
        out.insert(file.clone(), verdict);
    }
    out
}

fn write_verdicts(verdicts: &BTreeMap<String, Verdict>) {
    let mut text = String::from(
        "# The expected verdict of `3ox validate` for every file of the Conductor corpus\n\
         # (../shared/corpus/conductor): `valid`, `refused:` with the exact error messages, or\n\
         # `not a workflow:` with the kind of Conductor record the file is. Checked by\n\
         # tests/integration/interop.rs; a corpus file without a verdict fails the test.\n\
         # Regenerate after a deliberate change: UPDATE_CORPUS_VERDICTS=1 cargo test --test integration interop::corpus\n\
         version: 1\nfiles:\n",
    );
    for (file, verdict) in verdicts {
        match verdict {
            Verdict::Valid => text.push_str(&format!("  {file}: valid\n")),
            Verdict::Refused(reasons) => {
                text.push_str(&format!("  {file}:\n    refused:\n"));
                for reason in reasons {
                    text.push_str(&format!(
                        "      - {}\n",
                        serde_json::to_string(reason).unwrap()
                    ));
                }
            }
            Verdict::NotAWorkflow(kind) => {
                text.push_str(&format!("  {file}:\n    not a workflow: {kind}\n"));
            }
        }
    }
    std::fs::write(manifest_dir().join(VERDICTS), text).expect("write the verdicts");
}

/// The Conductor system types the corpus uses that agents serve (an LLM agent, an MCP
/// bridge, a poller): the station the corpus is checked in has an agent for them, as a
/// station that runs those workflows would.
const SERVED_BY_AGENTS: &[&str] = &[
    "LLM_CHAT_COMPLETE",
    "CALL_MCP_TOOL",
    "LIST_MCP_TOOLS",
    "HTTP_POLL",
    "PULL_WORKFLOW_MESSAGES",
];

/// What `3ox validate --json` says about every corpus file, as verdicts.
fn observed_verdicts() -> BTreeMap<String, (Verdict, Vec<Value>)> {
    let env = TestEnv::new();
    register(&env, "bridge", SERVED_BY_AGENTS, 4);
    let dir = corpus_dir();
    let out = env.run(&["validate", "--json", dir.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&stdout(&out)).expect("validate --json");
    let mut observed = BTreeMap::new();
    for file in report["files"].as_array().unwrap() {
        let name = Path::new(file["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let errors: Vec<Value> = file["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .cloned()
            .collect();
        let messages: Vec<String> = errors
            .iter()
            .map(|d| d["message"].as_str().unwrap().to_string())
            .collect();
        let verdict = if file["valid"] == true {
            Verdict::Valid
        } else if let [only] = messages.as_slice()
            && only.starts_with("this is a")
            && only.ends_with(", not a workflow definition")
        {
            let kind = only
                .trim_start_matches("this is a ")
                .trim_start_matches("list of ")
                .trim_start_matches("single ")
                .trim_start_matches("Conductor ")
                .trim_end_matches(", not a workflow definition");
            Verdict::NotAWorkflow(kind.to_string())
        } else {
            Verdict::Refused(messages)
        };
        observed.insert(name, (verdict, errors));
    }
    observed
}

#[test]
fn corpus_every_file_has_its_expected_verdict() {
    let files = corpus_files();
    let observed = observed_verdicts();
    assert_eq!(
        observed.keys().cloned().collect::<Vec<_>>(),
        files,
        "3ox validate checked every corpus file"
    );
    if std::env::var_os("UPDATE_CORPUS_VERDICTS").is_some() {
        write_verdicts(
            &observed
                .iter()
                .map(|(f, (v, _))| (f.clone(), v.clone()))
                .collect(),
        );
    }
    let expected = read_verdicts();
    let mut problems = Vec::new();
    for file in &files {
        let (got, errors) = &observed[file];
        match expected.get(file) {
            None => problems.push(format!(
                "{file}: no verdict in {VERDICTS} (3ox validate says {got:?}); add one"
            )),
            Some(want) if want != got => problems.push(format!(
                "{file}: expected {want:?}, but 3ox validate says {got:?}"
            )),
            Some(_) => {}
        }
        // Every refusal points somewhere and says what to do.
        for error in errors {
            assert!(error["line"].as_u64().unwrap() >= 1, "{file}: {error}");
            if matches!(got, Verdict::NotAWorkflow(_)) {
                assert!(
                    error["hint"].as_str().is_some_and(|h| !h.is_empty()),
                    "{file}: a non-workflow file gets a hint: {error}"
                );
            }
        }
    }
    for file in expected.keys() {
        if !files.contains(file) {
            problems.push(format!(
                "{file}: has a verdict in {VERDICTS} but is not in the corpus"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the corpus walk differs from {VERDICTS}:\n  {}\n(after a deliberate change: UPDATE_CORPUS_VERDICTS=1 cargo test --test integration interop::corpus, then review the diff)",
        problems.join("\n  ")
    );
}

#[test]
fn corpus_recognises_every_kind_of_non_workflow_file() {
    let expected = read_verdicts();
    let kinds: Vec<&str> = expected
        .values()
        .filter_map(|v| match v {
            Verdict::NotAWorkflow(kind) => Some(kind.as_str()),
            _ => None,
        })
        .collect();
    for kind in [
        "start-workflow request",
        "event handler",
        "schedule",
        "task definitions",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

fn json_of(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn yaml_of(path: &Path) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()))
}

#[test]
fn corpus_import_export_import_is_lossless() {
    let env = TestEnv::new();
    let dir = corpus_dir();
    let verdicts = read_verdicts();
    let mut checked = 0;
    for file in corpus_files() {
        if matches!(verdicts.get(&file), Some(Verdict::NotAWorkflow(_))) {
            continue;
        }
        let original = dir.join(&file);
        let stem = file.trim_end_matches(".json");
        let first = env.root().join(format!("{stem}.yaml"));
        let exported = env.root().join(format!("{stem}.export.json"));
        let second = env.root().join(format!("{stem}.again.yaml"));
        for (args, what) in [
            (
                vec![
                    "import",
                    original.to_str().unwrap(),
                    "-o",
                    first.to_str().unwrap(),
                ],
                "import",
            ),
            (
                vec![
                    "export",
                    first.to_str().unwrap(),
                    "--format",
                    "conductor",
                    "-o",
                    exported.to_str().unwrap(),
                ],
                "export",
            ),
            (
                vec![
                    "import",
                    exported.to_str().unwrap(),
                    "-o",
                    second.to_str().unwrap(),
                ],
                "import again",
            ),
        ] {
            let out = env.run(&args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{file}: {what}: {}",
                stderr(&out)
            );
        }
        // The YAML holds the same workflow, the export gives back the very JSON, and the
        // second import writes the same YAML.
        assert_eq!(yaml_of(&first), json_of(&original), "{file}: import");
        // Export writes `retryCount: 0` on each SIMPLE task the definition gave no count (3ox
        // makes one attempt; a cluster would retry it 3 times): the only addition.
        assert_eq!(
            without_zero_retry_counts(json_of(&exported)),
            without_zero_retry_counts(json_of(&original)),
            "{file}: export"
        );
        assert_eq!(
            without_zero_retry_counts(yaml_of(&second)),
            without_zero_retry_counts(yaml_of(&first)),
            "{file}: import again"
        );
        // And exporting that gives the very same JSON again.
        let out = env.run(&["export", second.to_str().unwrap(), "--format", "conductor"]);
        assert_eq!(out.status.code(), Some(0), "{file}: export again");
        let again: Value = serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
        assert_eq!(again, json_of(&exported), "{file}: export again");
        checked += 1;
    }
    assert!(checked >= 50, "round trip on {checked} workflow files");
}

/// `value` without the `retryCount: 0` of its SIMPLE tasks, at any depth.
fn without_zero_retry_counts(mut value: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                let simple = map.contains_key("taskReferenceName")
                    && map.get("type").is_none_or(|t| t == "SIMPLE");
                if simple && map.get("retryCount") == Some(&Value::from(0)) {
                    map.remove("retryCount");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

#[test]
fn export_writes_retry_count_zero_where_the_definition_gave_none() {
    let env = TestEnv::new();
    let file = env.write(
        "once.yaml",
        "name: once\ntasks:\n  - name: a\n    taskReferenceName: a\n  - name: b\n    taskReferenceName: b\n    retryCount: 2\n  - name: c\n    taskReferenceName: c\n    retry: {count: 1, delay: 1}\n  - name: w\n    taskReferenceName: w\n    type: WAIT\n    inputParameters: {duration: 1s}\n",
    );
    let out = env.run(&["export", file.to_str().unwrap(), "--format", "conductor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
    let tasks = &json["tasks"];
    assert_eq!(tasks[0]["retryCount"], 0, "one attempt, as in 3ox");
    assert_eq!(tasks[1]["retryCount"], 2, "the definition's own count");
    assert_eq!(
        tasks[2].get("retryCount"),
        None,
        "the policy is in taskDefinition"
    );
    assert_eq!(tasks[2]["taskDefinition"]["retryCount"], 1);
    assert_eq!(
        tasks[3].get("retryCount"),
        None,
        "only SIMPLE tasks get a default"
    );
    // 3ox reads it back as the same single attempt.
    let exported = env.write("once.json", &stdout(&out));
    let out = env.run(&["validate", exported.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn import_writes_readable_yaml_with_a_header() {
    let env = TestEnv::new();
    register(&env, "llm", &["LLM_CHAT_COMPLETE"], 1);
    let file = corpus_dir().join("hitl-approval.json");
    let out = env.run(&["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = stdout(&out);
    let lines: Vec<&str> = yaml.lines().collect();
    assert!(
        lines[0].starts_with(
            "# Workflow `hitl_approved_action`, imported from the Conductor definition"
        ) && lines[0].contains("hitl-approval.json"),
        "{}",
        lines[0]
    );
    // Block style, Conductor's field order, multi-line texts as literal blocks.
    assert_eq!(lines[2], "name: hitl_approved_action");
    assert!(yaml.contains("\ntasks:\n  - name: draft_customer_action\n    taskReferenceName: draft\n    inputParameters:\n"), "{yaml}");
    assert!(
        yaml.contains("          message: |-\n            Customer: ${workflow.input.customerId}\n            Conversation: ${workflow.input.conversation}\n"),
        "{yaml}"
    );
    assert!(!yaml.contains("{\"name\""), "no JSON flow mappings: {yaml}");
    // The YAML is a workflow 3ox accepts.
    let written = env.write("hitl.yaml", &yaml);
    let out = env.run(&["validate", written.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn import_can_start_the_file_with_a_schema_modeline() {
    let env = TestEnv::new();
    let file = corpus_dir().join("sub_flow_1.json");
    let target = env.root().join("templates/sub_flow_1.yaml");
    let out = env.run(&[
        "import",
        file.to_str().unwrap(),
        "-o",
        target.to_str().unwrap(),
        "--schema",
        "../docs/workflow.schema.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let yaml = std::fs::read_to_string(&target).unwrap();
    assert!(
        yaml.starts_with(
            "# yaml-language-server: $schema=../docs/workflow.schema.json\n# Workflow `sub_flow_1`"
        ),
        "{yaml}"
    );
    assert_eq!(yaml_of(&target), json_of(&file));
}

#[test]
fn import_refuses_a_file_that_is_not_a_workflow() {
    let env = TestEnv::new();
    for (file, reason) in [
        (
            "kitchenSink-ephemeralWorkflowWithStoredTasks.json",
            "this is a Conductor start-workflow request, not a workflow definition",
        ),
        (
            "tasks_data.json",
            "this is a list of Conductor task definitions, not a workflow definition",
        ),
        (
            "daily-report-schedule.json",
            "this is a Conductor schedule, not a workflow definition",
        ),
        (
            "complete-wait-handler.json",
            "this is a Conductor event handler, not a workflow definition",
        ),
    ] {
        let path = corpus_dir().join(file);
        let target = env.root().join("out.yaml");
        let out = env.run(&[
            "import",
            path.to_str().unwrap(),
            "-o",
            target.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = stderr(&out);
        assert!(err.contains(reason), "{file}: {err}");
        assert!(err.contains("hint: "), "{file}: {err}");
        assert!(!target.exists(), "{file}: nothing written");
    }
    let path = corpus_dir().join("kitchenSink-ephemeralWorkflowWithStoredTasks.json");
    let out = env.run(&["validate", path.to_str().unwrap()]);
    assert!(stdout(&out).contains("jq .workflowDef"), "{}", stdout(&out));
}

#[test]
fn import_reports_what_validate_would_refuse_but_still_converts() {
    let env = TestEnv::new();
    let file = corpus_dir().join("re_run_test_workflow.json");
    let out = env.run(&["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refers to task `get_data`, which is not defined"),
        "{err}"
    );
    assert!(
        err.contains("note: converted, but `3ox validate` refuses this workflow"),
        "{err}"
    );
    assert!(stdout(&out).contains("name: re_run_test_workflow"));
}

const THREEOX_WORKFLOW: &str = "\
name: inventory
description: |
  Lists folders,
  checks each.
version: 3
timeoutSeconds: 10m
tasks:
  - name: list_folders
    taskReferenceName: list
    agent: lister
    retry: {count: 3, logic: EXPONENTIAL_BACKOFF, delay: 2s, maxDelay: 1m, jitter: 250ms}
    startDelay: 1500ms
  - name: check
    taskReferenceName: check
    retryCount: 2
    retryLogic: LINEAR_BACKOFF
    retryDelaySeconds: 4
    taskDefinition: {timeoutSeconds: 2m, responseTimeoutSeconds: 30}
  - name: gate
    taskReferenceName: gate
    type: HUMAN
    approver: boss
    deadline: 30m
    onDeadline: FAIL
outputParameters:
  folders: ${list.output.folders}
";

#[test]
fn export_maps_threeox_fields_and_reports_the_rest() {
    let env = TestEnv::new();
    let file = env.write("inventory.yaml", THREEOX_WORKFLOW);
    let out = env.run(&["export", file.to_str().unwrap(), "--format", "conductor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("JSON on stdout");
    assert_eq!(json["timeoutSeconds"], 600);
    assert_eq!(json["description"], "Lists folders,\nchecks each.\n");
    let list = &json["tasks"][0];
    assert_eq!(list.get("agent"), None);
    assert_eq!(list.get("retry"), None);
    assert_eq!(list["startDelay"], 2, "1500ms rounds up to whole seconds");
    assert_eq!(
        list["taskDefinition"],
        serde_json::json!({
            "name": "list_folders",
            "retryCount": 3,
            "retryLogic": "EXPONENTIAL_BACKOFF",
            "retryDelaySeconds": 2,
            "maxRetryDelaySeconds": 60,
            "backoffJitterMs": 250
        })
    );
    let check = &json["tasks"][1];
    assert_eq!(check["retryCount"], 2);
    assert_eq!(check.get("retryLogic"), None, "moved into taskDefinition");
    assert_eq!(
        check["taskDefinition"],
        serde_json::json!({"name": "check", "timeoutSeconds": 120, "responseTimeoutSeconds": 30, "retryLogic": "LINEAR_BACKOFF", "retryDelaySeconds": 4})
    );
    let gate = &json["tasks"][2];
    assert_eq!(gate["type"], "HUMAN");
    for field in ["approver", "deadline", "onDeadline"] {
        assert_eq!(gate.get(field), None, "{field}");
    }
    let err = stderr(&out);
    for expected in [
        "warning: task `list`, `agent`: Conductor has no per-task agent",
        "warning: task `list`, `startDelay`: Conductor counts whole seconds: 1s 500ms is rounded up to 2",
        "warning: task `gate`, `approver`: Conductor's HUMAN task has no `approver`",
        "warning: task `gate`, `deadline`:",
        "warning: task `gate`, `onDeadline`:",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    assert!(
        !err.contains("`check`"),
        "nothing to report for check: {err}"
    );

    // What the export says is still a workflow 3ox accepts, with the same retry policy.
    let exported = env.write("inventory.json", &stdout(&out));
    let out = env.run(&["validate", exported.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn export_strict_fails_on_what_conductor_cannot_say() {
    let env = TestEnv::new();
    let file = env.write("inventory.yaml", THREEOX_WORKFLOW);
    let target = env.root().join("out.json");
    let out = env.run(&[
        "export",
        file.to_str().unwrap(),
        "--format",
        "conductor",
        "--strict",
        "-o",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("error: task `list`, `agent`"),
        "{}",
        stderr(&out)
    );
    assert!(!target.exists());

    let plain = env.write(
        "plain.yaml",
        "name: plain\ntasks:\n  - name: a\n    taskReferenceName: a\n    retryCount: 1\n",
    );
    let out = env.run(&[
        "export",
        plain.to_str().unwrap(),
        "--format",
        "conductor",
        "--strict",
        "-o",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        json_of(&target),
        serde_json::json!({"name": "plain", "tasks": [{"name": "a", "taskReferenceName": "a", "retryCount": 1}]})
    );
}

#[test]
fn schema_matches_the_committed_copy() {
    let env = TestEnv::new();
    let out = env.run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(manifest_dir().join("docs/workflow.schema.json"))
        .expect("docs/workflow.schema.json is committed");
    assert!(
        stdout(&out) == committed,
        "docs/workflow.schema.json differs from `3ox schema`; regenerate it with \
         `cargo run -q -- schema > docs/workflow.schema.json` and commit it"
    );
    let schema: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let types = schema["definitions"]["taskType"]["enum"]
        .as_array()
        .unwrap();
    for name in ["SIMPLE", "DO_WHILE", "HTTP", "LLM_CHAT_COMPLETE"] {
        assert!(types.iter().any(|t| t == name), "{name}");
    }
}

fn schema_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(manifest_dir().join("docs/workflow.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn schema_accepts_every_template_and_every_valid_corpus_workflow() {
    let validator = schema_validator();
    let mut checked = 0;
    for entry in std::fs::read_dir(manifest_dir().join("templates")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let errors = schema_errors(&validator, &yaml_of(&path));
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 2, "{checked} templates");
    for (file, verdict) in read_verdicts() {
        if verdict == Verdict::Valid {
            let errors = schema_errors(&validator, &json_of(&corpus_dir().join(&file)));
            assert!(errors.is_empty(), "{file}: {errors:#?}");
        }
    }
    let errors = schema_errors(
        &validator,
        &serde_yaml::from_str::<Value>(THREEOX_WORKFLOW).unwrap(),
    );
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn schema_marks_what_the_validator_refuses() {
    let validator = schema_validator();
    for (text, what) in [
        ("tasks: [{name: a, taskReferenceName: a}]\n", "no name"),
        (
            "name: x\ntasks: [{name: a, taskReferenceName: a, inputParameter: {}}]\n",
            "unknown task field",
        ),
        (
            "name: x\nowner: me\ntasks: [{name: a, taskReferenceName: a}]\n",
            "unknown workflow field",
        ),
        (
            "name: x\ntasks: [{name: a, taskReferenceName: a, type: SIMPEL}]\n",
            "unknown type",
        ),
        (
            "name: x\ntasks: [{name: a, taskReferenceName: a, retry: {logic: EXPONENTIAL}}]\n",
            "retry logic",
        ),
        (
            "name: x\ntasks: [{name: f, taskReferenceName: f, type: FORK_JOIN}]\n",
            "FORK_JOIN without forkTasks",
        ),
    ] {
        let value: Value = serde_yaml::from_str(text).unwrap();
        assert!(!schema_errors(&validator, &value).is_empty(), "{what}");
    }
}

#[test]
fn an_imported_conductor_workflow_runs_like_the_original() {
    use crate::fake_agent::{Answer, FakeAgent};
    let env = TestEnv::new();
    let original = corpus_dir().join("fork_join_integration_test.json");
    let imported = env.root().join("fan.yaml");
    let out = env.run(&[
        "import",
        original.to_str().unwrap(),
        "-o",
        imported.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let worker = FakeAgent::start(
        &env,
        "worker",
        &[
            "integration_task_1",
            "integration_task_2",
            "integration_task_3",
            "integration_task_4",
        ],
        4,
        |m| Answer::Completed(serde_json::json!({"ref": m["task_ref"]})),
    );
    let mut outputs = Vec::new();
    for flow in [original.to_str().unwrap(), imported.to_str().unwrap()] {
        let (code, result, out) =
            env.run_flow(flow, &["--input", "param1=a", "--input", "param2=b"]);
        assert_eq!(code, 0, "{flow}: {result}\n{}", stderr(&out));
        assert_eq!(result["status"], "COMPLETED", "{flow}");
        outputs.push(result["output"].clone());
    }
    assert_eq!(
        outputs[0], outputs[1],
        "the same run from JSON and from the imported YAML"
    );
    let mut refs: Vec<String> = worker
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap().to_string())
        .collect();
    refs.sort();
    assert_eq!(refs, ["t1", "t1", "t2", "t2", "t3", "t3", "t4", "t4"]);
}

#[test]
fn export_strict_fails_listing_every_reason_with_location() {
    let env = TestEnv::new();
    let file = env.write(
        "differs.yaml",
        r#"name: differs
tasks:
  - name: a
    taskReferenceName: a
    agent: lister
    inputParameters:
      started: ${workflow.createTime}
  - name: pick
    taskReferenceName: pick
    type: SWITCH
    evaluatorType: value-param
    expression: k
    inputParameters: {k: 1}
    defaultCase:
      - name: fan
        taskReferenceName: fan
        type: FORK_JOIN
        forkTasks:
          - [{name: b, taskReferenceName: b}]
          - [{name: c, taskReferenceName: c}]
      - {name: join, taskReferenceName: join, type: JOIN, joinOn: [b]}
"#,
    );
    let target = env.root().join("out.json");
    let args = |strict: bool| {
        let mut args = vec![
            "export",
            file.to_str().unwrap(),
            "-o",
            target.to_str().unwrap(),
        ];
        if strict {
            args.push("--strict");
        }
        args
    };
    let out = env.run(&args(true));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!target.exists());
    let err = stderr(&out);
    let file_name = file.display().to_string();
    for (reason, line, column) in [
        (
            "error: task `a`, `agent`: Conductor has no per-task agent",
            5,
            12,
        ),
        (
            "error: task `a`, `inputParameters`: `${workflow.createTime}` reads `createTime`",
            7,
            7,
        ),
        (
            "error: task `join`, `joinOn`: the JOIN does not wait for every branch of `fan`",
            21,
            67,
        ),
    ] {
        let start = err
            .find(reason)
            .unwrap_or_else(|| panic!("{reason} missing:\n{err}"));
        let location = err[start..].lines().nth(1).unwrap_or_default();
        assert_eq!(
            location,
            format!(" --> {file_name}:{line}:{column}"),
            "{reason}\n{err}"
        );
    }
    // Without --strict the same reasons are warnings and the file is written.
    let out = env.run(&args(false));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: task `join`, `joinOn`"));
    assert!(target.exists());
}
