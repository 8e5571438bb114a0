//! Workflow inputs (`inputs:` checked before a run starts), the template library under
//! `templates/` run for real with its demo agents, and `3ox template`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{
    TestEnv, events, files_in, journal_records, output_within_child, stderr, stdout, wait_for,
};

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

/// A station with the repository's example (templates, demo agents) written into it.
fn example_station() -> TestEnv {
    let env = TestEnv::new();
    let out = env.run(&["init", "--example", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    env
}

/// Starts `3ox run <args> --json` (managed agents on) and waits until its HUMAN task asks
/// for approval; returns the driver and the run id.
fn run_until_approval(env: &TestEnv, args: &[&str]) -> (std::process::Child, String) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.push("--json");
    let run = env
        .cmd(&all)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run_id = wait_for(Duration::from_secs(60), || {
        let records = journal_records(env);
        events(&records)
            .iter()
            .any(|e| e == "approval_requested")
            .then(|| records[0]["run_id"].as_str().map(str::to_string))
            .flatten()
    })
    .expect("the HUMAN task asks for approval");
    (run, run_id)
}

fn approve(env: &TestEnv, run_id: &str, task: &str) {
    let out = env.run(&["approve", run_id, task, "--comment", "go"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn approval_gate_runs_for_real_with_the_change_agent() {
    let env = example_station();
    let (mut run, run_id) =
        run_until_approval(&env, &["approval_gate", "--input", "change=rotate-keys"]);
    approve(&env, &run_id, "gate");
    let out = output_within_child(&mut run, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["output"]["decision"], "approved", "{result}");
    let record = env.read(&format!(".3ox/changes/{run_id}.md"));
    assert!(record.contains("# Change rotate-keys"), "{record}");
    assert!(record.contains("applied, approved by"), "{record}");
}

#[test]
fn deploy_saga_rolls_back_an_unhealthy_release_for_real() {
    let env = example_station();
    // 1.3.2 is live; 1.4.0 is deployed after approval and fails its health check.
    env.write(
        ".3ox/deployments/staging/web.json",
        r#"{"current": "1.3.2", "previous": null, "history": []}"#,
    );
    let (mut run, run_id) = run_until_approval(
        &env,
        &[
            "deploy_with_rollback",
            "--input",
            "service=web",
            "--input",
            "version=\"1.4.0\"",
            "--input",
            "simulate_unhealthy=true",
        ],
    );
    approve(&env, &run_id, "gate");
    let out = output_within_child(&mut run, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "FAILED");
    assert_eq!(result["failed_task"], "health", "{result}");
    assert_eq!(result["output"]["previous"], "1.3.2", "{result}");

    // The compensation rollback_deploy runs as the failed run's child and puts 1.3.2 back.
    let rollback = wait_for(Duration::from_secs(60), || {
        let out = env.run(&["list", "--workflow", "rollback_deploy", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).ok()?;
        let run = list["runs"].as_array()?.first()?.clone();
        matches!(run["status"].as_str(), Some("COMPLETED" | "FAILED")).then_some(run)
    })
    .expect("the rollback run ends");
    assert_eq!(rollback["status"], "COMPLETED", "{rollback}");
    let state: Value =
        serde_json::from_str(&env.read(".3ox/deployments/staging/web.json")).unwrap();
    assert_eq!(state["current"], "1.3.2", "{state}");
    assert_eq!(
        state["history"],
        json!([{"deployed": "1.4.0"}, {"rolled_back_to": "1.3.2"}])
    );
    assert!(
        !files_in(&env, ".3ox/events/alerts").is_empty(),
        "the rollback published its alert"
    );
}

#[test]
fn template_list_show_and_new_work_on_the_station_library() {
    let env = example_station();
    let out = env.run(&["template", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("inventory_validation  Validate inventory folders in parallel"),
        "{text}"
    );
    assert!(
        text.contains("inputs: station_root: string = \".\", folders: list (required)"),
        "{text}"
    );
    let out = env.run(&["template", "list", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let templates = doc["templates"].as_array().unwrap();
    assert!(templates.len() >= 12, "{doc}");
    assert!(
        templates
            .iter()
            .all(|t| t["problem"].is_null() && !t["mocks"].as_array().unwrap().is_empty()),
        "{doc}"
    );

    let out = env.run(&["template", "show", "deploy-with-rollback"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "  service (string), required: the service to deploy",
        "  `health_check` for health: served by deployer",
        "  approver `commander` for gate: served by commander",
        "  on failure it starts `rollback_deploy`",
        "  templates/tests/deploy-with-rollback.rejected.mocks.yaml",
        "flowchart TD",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let out = env.run(&["template", "show", "research_fanout", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["agents"][0]["needs"], "LLM_CHAT_COMPLETE", "{doc}");
    assert_eq!(doc["agents"][0]["served_by"], json!(["llm-demo"]));
    let out = env.run(&["template", "show", "inventory_valdation"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean `inventory_validation`?"),
        "{}",
        stderr(&out)
    );

    let out = env.run(&[
        "template",
        "new",
        "night_check",
        "--from",
        "inventory-validation",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let copy = env.read("templates/night_check.workflow.yaml");
    assert!(
        copy.starts_with("# Inventory validation"),
        "comments are kept"
    );
    assert!(copy.contains("\nname: night_check\n"), "{copy}");
    assert!(!copy.contains("name: inventory_validation"));
    let out = env.run(&[
        "template",
        "new",
        "night_check",
        "--from",
        "inventory-validation",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an existing file is not replaced"
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    // The copy is a template like the others: `3ox run` finds it by name and checks inputs.
    let out = env.run(&["run", "night_check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("input `folders` is required"),
        "{}",
        stderr(&out)
    );
}
