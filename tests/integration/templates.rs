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
    // `3ox test` checks the mocks file's input the same way.
    env.write(
        "flow.mocks.yaml",
        "version: 1\ninput: {strict: true}\ndefault: {output: {}}\n",
    );
    let out = env.run(&["test", "flow.yaml", "--mock", "flow.mocks.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("input `folders` is required"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&[
        "test",
        "flow.yaml",
        "--mock",
        "flow.mocks.yaml",
        "--input",
        "folders=[a]",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
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
    assert_eq!(doc["agents"][0]["served_by"], json!(["llm"]));
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

const NIGHTLY_V1: &str = "# A small template for the catalogue round trip.\nname: nightly_check\ndescription: Check the station at night\nversion: 1\ninputs:\n  folder: {type: string, default: stations/sample}\ntasks:\n  - {name: check_station, taskReferenceName: check, inputParameters: {folder: \"${workflow.input.folder}\"}}\noutputParameters:\n  ok: ${check.output.ok}\n";

const NIGHTLY_MOCKS: &str = "version: 1\ntasks:\n  check: {output: {ok: true}}\nexpect:\n  status: COMPLETED\n  output: {ok: true}\n  tasks:\n    check: {input: {folder: stations/sample}}\n";

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A catalogue repository made by the test: index.yaml, templates/nightly-check.workflow.yaml
/// and its mocks, tagged v1; then v2 with a second task.
fn catalogue_repo(dir: &std::path::Path) -> String {
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    git(dir, &["init", "--quiet", "."]);
    write(
        "index.yaml",
        "version: 1\ntemplates:\n  - {name: nightly_check, version: 1, description: Check the station at night, tags: [inventory, nightly]}\n  - {name: deploy_canary, version: 3, description: Deploy to a canary first, tags: [deploy]}\n",
    );
    write("templates/nightly-check.workflow.yaml", NIGHTLY_V1);
    write("templates/tests/nightly-check.mocks.yaml", NIGHTLY_MOCKS);
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", "v1"]);
    git(dir, &["tag", "v1"]);
    write(
        "templates/nightly-check.workflow.yaml",
        &NIGHTLY_V1.replace("version: 1\ninputs", "version: 2\ninputs"),
    );
    git(dir, &["commit", "--quiet", "-am", "v2"]);
    git(dir, &["tag", "v2"]);
    format!("file://{}", dir.display())
}

#[test]
fn catalogue_round_trip_add_verify_tamper_update_and_search() {
    let env = TestEnv::new();
    let repo = tempfile::tempdir().unwrap();
    let url = catalogue_repo(repo.path());

    let out = env.run(&["template", "search", "night", "--catalogue", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("nightly_check v1  Check the station at night"),
        "{text}"
    );
    assert!(!text.contains("deploy_canary"), "{text}");
    let out = env.run(&[
        "template",
        "search",
        "deploy",
        "--catalogue",
        &format!("{url}@v1"),
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["templates"][0]["name"], "deploy_canary", "{doc}");

    let out = env.run(&["template", "add", &format!("{url}@v1")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("added nightly_check"),
        "{}",
        stdout(&out)
    );
    let lock: Value = serde_yaml::from_str(&env.read("templates.lock")).unwrap();
    let entry = &lock["templates"]["nightly_check"];
    assert_eq!(entry["source"], format!("{url}@v1"));
    assert_eq!(entry["kind"], "git");
    let v1_commit = entry["commit"].as_str().unwrap().to_string();
    assert_eq!(v1_commit.len(), 40, "{entry}");
    assert_eq!(entry["files"].as_object().unwrap().len(), 2, "{entry}");
    assert_eq!(
        env.read("templates/nightly-check.workflow.yaml"),
        NIGHTLY_V1
    );
    let out = env.run(&["template", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Tampering is found; update without --ref puts the recorded commit's file back.
    env.write(
        "templates/nightly-check.workflow.yaml",
        &NIGHTLY_V1.replace("at night", "by day"),
    );
    let out = env.run(&["template", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(
            "nightly_check: templates/nightly-check.workflow.yaml changed since it was added"
        ),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["template", "update", "nightly_check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        env.read("templates/nightly-check.workflow.yaml"),
        NIGHTLY_V1
    );
    let lock: Value = serde_yaml::from_str(&env.read("templates.lock")).unwrap();
    assert_eq!(
        lock["templates"]["nightly_check"]["commit"],
        v1_commit.as_str()
    );
    assert_eq!(env.run(&["template", "verify"]).status.code(), Some(0));

    // Moving to v2 only when asked.
    let out = env.run(&["template", "update", "nightly_check", "--ref", "v2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        env.read("templates/nightly-check.workflow.yaml")
            .contains("version: 2")
    );
    let lock: Value = serde_yaml::from_str(&env.read("templates.lock")).unwrap();
    assert_ne!(
        lock["templates"]["nightly_check"]["commit"],
        v1_commit.as_str()
    );
    assert_eq!(
        lock["templates"]["nightly_check"]["source"],
        format!("{url}@v2")
    );
    assert_eq!(env.run(&["template", "verify"]).status.code(), Some(0));

    // The installed template is a template like the others.
    let out = env.run(&["template", "show", "nightly_check"]);
    assert!(
        stdout(&out).contains("nightly_check (version 2"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn add_refuses_with_reasons_and_installs_nothing() {
    let env = TestEnv::new();
    let src = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = src.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    // One good template, one whose mocks do not pass, one without mocks, one invalid.
    write("nightly-check.workflow.yaml", NIGHTLY_V1);
    write("tests/nightly-check.mocks.yaml", NIGHTLY_MOCKS);
    write(
        "failing.workflow.yaml",
        &NIGHTLY_V1.replace("nightly_check", "failing"),
    );
    write(
        "tests/failing.mocks.yaml",
        &NIGHTLY_MOCKS.replace(
            "output: {ok: true}\n  tasks",
            "output: {ok: false}\n  tasks",
        ),
    );
    write(
        "untested.workflow.yaml",
        &NIGHTLY_V1.replace("nightly_check", "untested"),
    );
    write(
        "broken.workflow.yaml",
        "name: broken\ntasks:\n  - {name: a, type: SWITCH}\n",
    );
    let out = env.run(&["template", "add", src.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("nothing was installed"), "{err}");
    assert!(
        err.contains("failing: tests/failing.mocks.yaml: the dry run failed: output.ok"),
        "{err}"
    );
    assert!(
        err.contains("untested: untested has no mocks to dry-run"),
        "{err}"
    );
    assert!(
        err.contains("broken.workflow.yaml is not a valid workflow"),
        "{err}"
    );
    assert!(
        !env.root()
            .join("templates/nightly-check.workflow.yaml")
            .exists()
    );
    assert!(!env.root().join("templates.lock").exists());

    // The good one alone, from a folder and from a .tar.gz, is added.
    let out = env.run(&[
        "template",
        "add",
        src.path().to_str().unwrap(),
        "--template",
        "nightly_check",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tarball = src.path().join("bundle.tar.gz");
    pack(
        &tarball,
        src.path(),
        &["failing.workflow.yaml", "tests/failing.mocks.yaml"],
    );
    std::fs::write(src.path().join("tests/failing.mocks.yaml"), NIGHTLY_MOCKS).unwrap();
    let out = env.run(&["template", "add", tarball.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the archive still holds the failing mocks"
    );
    assert!(
        stderr(&out).contains("the dry run failed"),
        "{}",
        stderr(&out)
    );
    pack(
        &tarball,
        src.path(),
        &["failing.workflow.yaml", "tests/failing.mocks.yaml"],
    );
    let out = env.run(&["template", "add", tarball.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lock: Value = serde_yaml::from_str(&env.read("templates.lock")).unwrap();
    assert_eq!(lock["templates"]["failing"]["kind"], "tarball", "{lock}");
    assert_eq!(
        lock["templates"]["nightly_check"]["kind"], "folder",
        "{lock}"
    );
    assert!(lock["templates"]["failing"].get("commit").is_none());
}

#[test]
fn batch_validation_forks_a_child_run_of_inventory_validation_per_station_for_real() {
    let env = example_station();
    let out = crate::support::output_within(
        env.cmd(&[
            "run",
            "batch_validation",
            "--input",
            "stations=[stations/sample, stations/sample]",
            "--input",
            "folders=[inventory-clean, inventory-broken]",
            "--json",
        ]),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let output = &result["output"];
    assert_eq!(output["stations_checked"], 2, "{result}");
    let per_station = output["by_station"][0]["problem_count"].as_u64().unwrap();
    assert!(per_station > 0, "inventory-broken has problems: {result}");
    assert_eq!(output["by_station"][1]["problem_count"], per_station);
    assert_eq!(output["problem_count"], 2 * per_station);
    let out = env.run(&["list", "--workflow", "inventory_validation", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let children = list["runs"].as_array().unwrap();
    assert_eq!(children.len(), 2, "{list}");
    assert!(
        children.iter().all(|r| r["status"] == "COMPLETED"),
        "{list}"
    );
}

/// `tar -czf ARCHIVE -C DIR FILES...`: a template archive as a user would make one.
fn pack(archive: &std::path::Path, dir: &std::path::Path, files: &[&str]) {
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(archive)
        .arg("-C")
        .arg(dir)
        .args(files)
        .status()
        .unwrap();
    assert!(status.success(), "tar failed");
}
