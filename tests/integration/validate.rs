//! `3ox validate`: every problem reported with file:line:col, the offending line and a hint.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{TestEnv, stdout};

const VALID: &str = "\
name: inventory
inputParameters: [folders]
tasks:
  - name: list_folders
    taskReferenceName: list
    inputParameters:
      root: ${workflow.input.folders}
  - name: validate_folder
    taskReferenceName: check
    retry: {count: 3, logic: EXPONENTIAL_BACKOFF, delay: 2s}
    inputParameters:
      folders: ${list.output.folders}
outputParameters:
  problems: ${check.output.problems}
";

/// Five mistakes, one of each kind; the comments give the expected line:col.
const BROKEN: &str = "\
name: inventory
tasks:
  - name: check
    taskRefName: check
    taskReferenceName: check
  - name: scan
    taskReferenceName: scan
    type: SIMPEL
    inputParameters:
      problems: ${chek.output.problems}
  - name: again
    taskReferenceName: check
  - name: loop
    taskReferenceName: loop
    type: DO_WHILST
";

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exit code")
}

#[test]
fn a_valid_file_is_ok() {
    let env = TestEnv::new();
    env.write("flows/inventory.yaml", VALID);
    let out = env.run(&["validate", "flows/inventory.yaml"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        "ok  flows/inventory.yaml\n1 file, 0 invalid, 0 errors\n"
    );
}

#[test]
fn every_error_is_reported_with_its_location_line_and_hint() {
    let env = TestEnv::new();
    env.write("flows/broken.yaml", BROKEN);
    let out = env.run(&["validate", "flows/broken.yaml"]);
    assert_eq!(code(&out), 2);
    let text = stdout(&out);
    let expected = [
        "error: unknown field `taskRefName` in task `check`\n \
         --> flows/broken.yaml:4:5\n  |\n4 |     taskRefName: check\n  |     ^^^^^^^^^^^\n  \
         = hint: did you mean `taskReferenceName`?\n",
        "error: unknown task type `SIMPEL` in task `scan`\n \
         --> flows/broken.yaml:8:11\n  |\n8 |     type: SIMPEL\n  |           ^^^^^^\n  \
         = hint: did you mean `SIMPLE`?\n",
        "error: `${chek.output.problems}` refers to task `chek`, which is not defined\n  \
         --> flows/broken.yaml:10:17\n   |\n10 |       problems: ${chek.output.problems}\n   \
         |                 ^^^^^^^^^^^^^^^^^^^^^^^\n   \
         = hint: did you mean `check`? known tasks: check, scan, loop\n",
        "error: task reference name `check` is already used by the task at line 5, column 24\n  \
         --> flows/broken.yaml:12:24\n   |\n12 |     taskReferenceName: check\n   \
         |                        ^^^^^\n   = hint: give each task its own taskReferenceName\n",
        "error: unknown task type `DO_WHILST` in task `loop`\n  --> flows/broken.yaml:15:11\n   |\n15 |     type: DO_WHILST\n",
    ];
    let mut from = 0;
    for block in expected {
        let at = text[from..].find(block).map(|i| from + i);
        assert!(
            at.is_some(),
            "missing, or out of order:\n{block}\nin:\n{text}"
        );
        from = at.unwrap() + block.len();
    }
    assert!(text.ends_with("1 file, 1 invalid, 5 errors\n"), "{text}");
}

#[test]
fn a_yaml_syntax_error_reports_its_line() {
    let env = TestEnv::new();
    env.write("flows/syntax.yaml", "name: x\ntasks:\n  - name: a: b\n");
    let out = env.run(&["validate", "flows/syntax.yaml"]);
    assert_eq!(code(&out), 2);
    let text = stdout(&out);
    assert!(
        text.starts_with("error: not valid YAML: mapping values are not allowed"),
        "{text}"
    );
    assert!(text.contains(" --> flows/syntax.yaml:3:12\n"), "{text}");
    assert!(text.contains("3 |   - name: a: b\n"), "{text}");
}

#[test]
fn json_files_are_checked_with_locations() {
    let env = TestEnv::new();
    let json = "{\n  \"name\": \"j\",\n  \"tasks\": [\n    {\"name\": \"a\", \"taskReferenceName\": \"a\", \"type\": \"WAYT\"},\n    {\"name\": \"b\", \"taskReferenceName\": \"b\", \"inputParameters\": {\"x\": \"${a.output.y}\"}}\n  ]\n}\n";
    env.write("flows/j.json", json);
    let out = env.run(&["validate", "flows/j.json"]);
    assert_eq!(code(&out), 2);
    let text = stdout(&out);
    assert!(
        text.contains("error: unknown task type `WAYT` in task `a`"),
        "{text}"
    );
    assert!(text.contains(" --> flows/j.json:4:53\n"), "{text}");
    assert!(text.ends_with("1 file, 1 invalid, 1 error\n"), "{text}");
}

#[test]
fn a_folder_is_walked_for_workflow_files() {
    let env = TestEnv::new();
    env.write("flows/good.yaml", VALID);
    env.write(
        "flows/sub/also.json",
        r#"{"name": "j", "tasks": [{"name": "a", "taskReferenceName": "a"}]}"#,
    );
    env.write(
        "flows/bad.yml",
        "name: x\ntasks:\n  - name: a\n    taskReferenceName: a\n    type: HTTPS\n",
    );
    env.write("flows/notes.txt", "not a workflow");
    env.write("flows/.drafts/half.yaml", "name: [");
    env.write("flows/agents/checker/agent.yaml", "capabilities: [check]\n");
    env.write("flows/agent.yaml", "capabilities: [check]\n");
    let out = env.run(&["validate", "flows"]);
    assert_eq!(code(&out), 2);
    let text = stdout(&out);
    assert!(
        text.starts_with("error: unknown task type `HTTPS` in task `a`"),
        "{text}"
    );
    assert!(text.contains(" --> flows/bad.yml:5:11\n"), "{text}");
    assert!(
        text.contains("\nok  flows/good.yaml\nok  flows/sub/also.json\n"),
        "{text}"
    );
    assert!(text.ends_with("\n3 files, 1 invalid, 1 error\n"), "{text}");
}

#[test]
fn a_file_named_explicitly_is_checked_even_if_it_is_an_agent_file() {
    let env = TestEnv::new();
    env.write("flows/agent.yaml", "capabilities: [check]\n");
    let out = env.run(&["validate", "flows/agent.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stdout(&out).contains("unknown field `capabilities` in the workflow"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_missing_path_is_an_error() {
    let env = TestEnv::new();
    env.write("flows/good.yaml", VALID);
    let out = env.run(&["validate", "flows/good.yaml", "flows/nope.yaml"]);
    assert_eq!(code(&out), 2);
    let text = stdout(&out);
    assert!(
        text.contains("error: no such file or folder\n --> flows/nope.yaml:1:1\n"),
        "{text}"
    );
    assert!(text.ends_with("2 files, 1 invalid, 1 error\n"), "{text}");
}

#[test]
fn json_output_has_one_entry_per_file() {
    let env = TestEnv::new();
    env.write("flows/a.yaml", VALID);
    env.write("flows/b.yaml", BROKEN);
    let out = env.run(&["validate", "--json", "flows"]);
    assert_eq!(code(&out), 2);
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let files = doc["files"].as_array().expect("files list");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["path"], "flows/a.yaml");
    assert_eq!(files[0]["valid"], true);
    assert_eq!(files[0]["diagnostics"], Value::Array(vec![]));
    assert_eq!(files[1]["path"], "flows/b.yaml");
    assert_eq!(files[1]["valid"], false);
    let diagnostics = files[1]["diagnostics"].as_array().unwrap();
    let places: Vec<(u64, u64)> = diagnostics
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    assert_eq!(places, vec![(4, 5), (8, 11), (10, 17), (12, 24), (15, 11)]);
    let first = &diagnostics[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "flows/b.yaml");
    assert_eq!(
        first["message"],
        "unknown field `taskRefName` in task `check`"
    );
    assert_eq!(first["hint"], "did you mean `taskReferenceName`?");
    assert_eq!(first["source_line"], "    taskRefName: check");
}

/// Conductor's own definitions that use only the types 3ox runs load as they are.
const CORPUS_SUPPORTED: &[&str] = &[
    "concurrency_limited_task_workflow_integration_test.json",
    "conditional_switch_task_workflow_integration_test.json",
    "dynamic_fork_join_integration_test.json",
    "fork_join_integration_test.json",
    "fork_join_permissive_integration_test.json",
    "fork_join_sync_mode_integration_test.json",
    "rate_limited_simple_task_workflow_integration_test.json",
    "simple_switch_task_integration_test.json",
    "simple_workflow_1_input_template_integration_test.json",
    "simple_workflow_1_integration_test.json",
    "simple_workflow_with_optional_task_integration_test.json",
    "simple_workflow_with_permissive_task_integration_test.json",
    "simple_workflow_with_resp_time_out_integration_test.json",
    "sub_flow_1.json",
    "switch_with_no_default_case_integration_test.json",
    "wf2.json",
];

#[test]
fn conductor_corpus_files_with_supported_types_are_valid() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/conductor");
    if !corpus.is_dir() {
        eprintln!(
            "note: {} is absent; skipping the Conductor corpus check",
            corpus.display()
        );
        return;
    }
    let env = TestEnv::new();
    let paths: Vec<String> = CORPUS_SUPPORTED
        .iter()
        .map(|f| corpus.join(f).display().to_string())
        .collect();
    let mut args = vec!["validate", "--json"];
    args.extend(paths.iter().map(String::as_str));
    let out = env.run(&args);
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let invalid: Vec<&Value> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["valid"] != true)
        .collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
    assert_eq!(code(&out), 0);
}

#[test]
fn the_examples_in_the_language_guide_are_valid() {
    let guide = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/workflow-language.md");
    let text = std::fs::read_to_string(&guide).expect("docs/workflow-language.md");
    let env = TestEnv::new();
    let mut files = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```yaml workflow" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let rel = format!("docs/example_{}.yaml", files.len() + 1);
        env.write(&rel, &(block.join("\n") + "\n"));
        files.push(rel);
    }
    assert!(
        files.len() >= 5,
        "expected the guide's full workflow examples, found {}",
        files.len()
    );
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = env.run(&args);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}
