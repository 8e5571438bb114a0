//! Workflow inputs (`inputs:` checked before a run starts), the template library under
//! `templates/` run for real with its demo agents, and `3ox template`.

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, files_in, stderr, stdout};

const TYPED: &str = r#"
name: typed
inputParameters: [folders, strict, label]
inputs:
  folders: {type: list, required: true, description: the folders to check}
  strict: {type: boolean, default: false}
  label: {type: string, default: nightly}
tasks:
  - {name: step, taskReferenceName: a, inputParameters: {folders: "${workflow.input.folders}", strict: "${workflow.input.strict}", label: "${workflow.input.label}"}}
"#;

#[test]
fn run_and_start_refuse_a_missing_or_mistyped_input_before_anything_starts() {
    let env = TestEnv::new();
    env.write("flow.yaml", TYPED);
    for command in ["run", "start"] {
        let out = env.run(&[command, "flow.yaml", "--input", "strict=maybe"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("input `folders` is required (a list: the folders to check)"),
            "{err}"
        );
        assert!(
            err.contains("input `strict` must be true or false (a boolean), not the text `maybe`"),
            "{err}"
        );
        assert!(err.contains("--input 'folders=[a, b]'"), "{err}");
        assert!(err.contains("nothing was started"), "{err}");
    }
    assert_eq!(files_in(&env, ".3ox/runs"), Vec::<String>::new());
}

#[test]
fn declared_defaults_reach_the_tasks() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["step"], 1, |m: &Value| {
        Answer::Completed(json!({"echo": m["input"]}))
    });
    env.write("flow.yaml", TYPED);
    let (code, result, _) = env.run_flow("flow.yaml", &["--input", "folders=[a]"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(
        result["output"]["echo"],
        json!({"folders": ["a"], "strict": false, "label": "nightly"})
    );
    drop(worker);
}

#[test]
fn validate_checks_the_declaration_and_export_keeps_it_where_conductor_ignores_it() {
    let env = TestEnv::new();
    env.write(
        "bad.yaml",
        "name: bad\ninputs:\n  n: {type: integer, default: two}\n  m: {type: strng}\ntasks:\n  - {name: a, taskReferenceName: a}\n",
    );
    let out = env.run(&["validate", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.contains("bad.yaml:3:"), "{text}");
    assert!(
        text.contains("the default of input `n` must be a whole number"),
        "{text}"
    );
    assert!(text.contains("unknown type `strng`"), "{text}");
    assert!(text.contains("did you mean `string`?"), "{text}");

    env.write("flow.yaml", TYPED);
    let out = env.run(&["export", "flow.yaml", "--format", "conductor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["inputParameters"],
        json!(["folders", "strict", "label"])
    );
    assert_eq!(
        json["inputTemplate"],
        json!({"strict": false, "label": "nightly"})
    );
    assert_eq!(json["metadata"]["threeoxInputs"]["folders"]["type"], "list");
    assert!(stderr(&out).contains("`inputs`"), "{}", stderr(&out));
}
