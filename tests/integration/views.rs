//! What a person watching runs reads: `3ox up`'s progress lines name the run they belong to;
//! `3ox status` shows who a HUMAN task waits for, until when, and who decided it;
//! `--task REF` on `3ox status` and `3ox log` shows one task's attempts.

use std::time::Duration;

use serde_json::Value;

use crate::support::{
    TestEnv, events, journal_records, output_within, output_within_child, stderr, stdout, wait_for,
};

const TWO_STEPS: &str = r#"
name: two_steps
tasks:
  - {name: first, taskReferenceName: first, type: NOOP}
  - {name: second, taskReferenceName: second, type: SET_VARIABLE, inputParameters: {done: true}}
"#;

/// Drives `flow` with `3ox run` (no managed agents) until its HUMAN task asks for approval;
/// returns the driver and the run id.
fn run_until_approval_requested(env: &TestEnv, flow: &str) -> (std::process::Child, String) {
    let run = env
        .cmd(&["run", flow, "--json", "--no-agents"])
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

fn start(env: &TestEnv, flow: &str) -> String {
    let out = env.run(&["start", flow, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["run_id"].as_str().unwrap().to_string()
}

#[test]
fn up_names_the_run_on_each_progress_line() {
    let env = TestEnv::new();
    env.write("two.yaml", TWO_STEPS);
    let a = start(&env, "two.yaml");
    let b = start(&env, "two.yaml");
    let out = output_within(
        env.cmd(&["up", "--until-idle", "--no-agents"]),
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for run in [&a, &b] {
        for task in ["first", "second"] {
            assert!(
                err.lines()
                    .any(|l| l.contains(&format!("run {run}: {task} (")) && l.contains("done")),
                "no line of run {run} says {task} is done:\n{err}"
            );
        }
    }
    // Every progress line (the timestamped ones) says which run it is about.
    let progress: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    assert!(!progress.is_empty(), "{err}");
    for line in progress {
        assert!(
            line.contains(&format!("run {a}: ")) || line.contains(&format!("run {b}: ")),
            "a progress line names no run: {line}\n{err}"
        );
    }
}

#[test]
fn status_shows_who_a_human_task_waits_for_and_who_decided() {
    let env = TestEnv::new();
    env.write("agents/commander/agent.yaml", "version: 1\n");
    env.write(
        "gate.yaml",
        "name: gate\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, deadline: 1h, inputParameters: {question: ship?}}\n",
    );
    let (mut run, run_id) = run_until_approval_requested(&env, "gate.yaml");
    let out = env.run(&["status", &run_id]);
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("gate "))
        .unwrap_or_default();
    assert!(
        line.contains("waits for approval by commander (deadline "),
        "{text}"
    );
    let out = env.run(&["approve", &run_id, "gate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done = output_within_child(&mut run, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let text = stdout(&env.run(&["status", &run_id]));
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("gate "))
        .unwrap_or_default();
    assert!(line.contains("approved by "), "{text}");
}

#[test]
fn approvals_lists_what_waits_for_whom_until_it_is_decided() {
    let env = TestEnv::new();
    env.write("agents/commander/agent.yaml", "version: 1\n");
    env.write(
        "gate.yaml",
        "name: gate\ntasks:\n  - {name: gate, taskReferenceName: ship_gate, type: HUMAN, deadline: 1h, inputParameters: {question: ship it?}}\n",
    );
    let out = env.run(&["approvals"]);
    assert_eq!(stdout(&out).trim(), "no approvals waiting");
    let (mut run, run_id) = run_until_approval_requested(&env, "gate.yaml");

    let out = env.run(&["approvals"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("commander "))
        .unwrap_or_else(|| panic!("no line for commander:\n{text}"));
    for part in [run_id.as_str(), "gate", "ship_gate", "ship it?"] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
    assert!(text.contains("3ox approve RUN TASK"), "{text}");

    let out = env.run(&["approvals", "--approver", "commander", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let waiting = doc["approvals"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{doc:#}");
    assert_eq!(waiting[0]["run_id"], run_id.as_str());
    assert_eq!(waiting[0]["task_ref"], "ship_gate");
    assert_eq!(waiting[0]["input"]["question"], "ship it?");
    assert!(waiting[0]["deadline"].is_string());
    let request = waiting[0]["request_file"].as_str().unwrap();
    assert!(
        env.root().join(request).is_file(),
        "{request} is where the request waits"
    );

    let out = env.run(&["approvals", "--approver", "someone_else", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["approvals"], serde_json::json!([]));

    let out = env.run(&["approve", &run_id, "ship_gate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done = output_within_child(&mut run, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let out = env.run(&["approvals"]);
    assert_eq!(
        stdout(&out).trim(),
        "no approvals waiting",
        "decided: no longer waiting"
    );
}

#[test]
fn task_shows_each_attempt_with_input_output_reason_and_backoff() {
    let env = TestEnv::new();
    let run_id = crate::graph::finished_inventory_run(&env);
    for command in ["log", "status"] {
        let out = env.run(&[command, &run_id, "--task", "_validate_folder_2"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        for part in [
            "task _validate_folder_2 (SIMPLE, name validate_folder) of run",
            ": COMPLETED",
            "attempts (2, 1 retry):",
            "attempt 1  RETRY_WAIT",
            "to validator",
            "reason: storage timeout",
            "(backoff ",
            "attempt 2  COMPLETED",
            "\"item\":\"c\"",
            "output: {\"checked\":\"_validate_folder_2\"}",
        ] {
            assert!(text.contains(part), "`{command}`: no `{part}` in:\n{text}");
        }
    }
    let out = env.run(&["log", &run_id, "--task", "_validate_folder_2", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let attempts = doc["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{doc:#}");
    assert_eq!(attempts[0]["status"], "RETRY_WAIT");
    assert_eq!(attempts[0]["reason"], "storage timeout");
    assert!(attempts[0]["backoff_ms"].as_i64().unwrap() > 0, "{doc:#}");
    assert_eq!(attempts[1]["input"]["item"], "c");
    assert_eq!(attempts[1]["output"]["checked"], "_validate_folder_2");
    assert_eq!(doc["retries"], 1);

    // A dynamic fork lists what it forked.
    let out = env.run(&["status", &run_id, "--task", "validate_folders", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let forked: Vec<&str> = doc["forked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["task_ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        forked,
        [
            "_validate_folder_0",
            "_validate_folder_1",
            "_validate_folder_2"
        ]
    );
    let text = stdout(&env.run(&["status", &run_id, "--task", "validate_folders"]));
    assert!(text.contains("forked 3 tasks (3 COMPLETED):"), "{text}");
}

#[test]
fn task_with_an_unknown_ref_is_a_usage_error_with_did_you_mean() {
    let env = TestEnv::new();
    env.write("two.yaml", TWO_STEPS);
    let (code, result, out) = env.run_flow("two.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let run_id = result["run_id"].as_str().unwrap();
    for command in ["status", "log"] {
        let out = env.run(&[command, run_id, "--task", "secnod"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("has no task `secnod`"), "{err}");
        assert!(err.contains("did you mean `second`?"), "{err}");
    }
}

#[test]
fn task_of_a_human_task_shows_the_request_and_the_decision() {
    let env = TestEnv::new();
    env.write("agents/commander/agent.yaml", "version: 1\n");
    env.write(
        "gate.yaml",
        "name: gate\ntasks:\n  - {name: gate, taskReferenceName: gate, type: HUMAN, deadline: 1h, inputParameters: {question: ship?}}\n",
    );
    let (mut run, run_id) = run_until_approval_requested(&env, "gate.yaml");
    let text = stdout(&env.run(&["status", &run_id, "--task", "gate"]));
    assert!(text.contains("to commander \"ship?\", deadline "), "{text}");
    assert!(text.contains("waiting for commander"), "{text}");
    // `3ox log` shows the waiting HUMAN task too, with whom it waits for.
    let text = stdout(&env.run(&["log", &run_id]));
    assert!(text.contains("task gate (HUMAN): SCHEDULED"), "{text}");
    assert!(text.contains("    waiting for commander"), "{text}");
    let out = env.run(&[
        "reject",
        &run_id,
        "gate",
        "--reason",
        "not today",
        "--comment",
        "try monday",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = output_within_child(&mut run, Duration::from_secs(60));
    let text = stdout(&env.run(&["log", &run_id, "--task", "gate"]));
    assert!(text.contains("  rejected by "), "{text}");
    assert!(text.contains("reason: not today"), "{text}");
    let text = stdout(&env.run(&["log", &run_id]));
    assert!(text.contains("    rejected by "), "{text}");
    assert!(text.contains("    comment: try monday"), "{text}");
    let out = env.run(&["log", &run_id, "--task", "gate", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let decision = &doc["approvals"][0]["decision"];
    assert_eq!(decision["decision"], "reject", "{doc:#}");
    assert_eq!(decision["reason"], "not today");
    assert_eq!(doc["approvals"][0]["question"], "ship?");
}

#[test]
fn status_and_log_list_the_first_tasks_of_a_big_fork_and_all_with_all() {
    let env = TestEnv::new();
    let _agent = crate::fake_agent::FakeAgent::start(&env, "worker", &["work"], 100, |_| {
        crate::fake_agent::Answer::Completed(serde_json::json!({"a": 1, "b": 2}))
    });
    env.write(
        "fan.yaml",
        "name: fan\ninputParameters: [items]\ntasks:\n  - name: fan\n    taskReferenceName: fan\n    type: FORK_JOIN_DYNAMIC\n    inputParameters: {forkTaskName: work, forkTaskInputs: '${workflow.input.items}'}\n  - {name: join, taskReferenceName: join, type: JOIN}\noutputParameters: {all: '${join.output}'}\n",
    );
    let items: Vec<String> = (0..25).map(|i| i.to_string()).collect();
    let (code, result, out) = env.run_flow(
        "fan.yaml",
        &["--input", &format!("items=[{}]", items.join(", "))],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let run_id = result["run_id"].as_str().unwrap();
    for command in ["status", "log"] {
        let text = stdout(&env.run(&[command, run_id]));
        assert!(text.contains("_work_19 "), "{text}");
        assert!(!text.contains("_work_20 "), "{text}");
        assert!(
            text.contains("+5 more tasks forked by fan (5 COMPLETED); --all lists them"),
            "{text}"
        );
        // What follows the fork is still listed.
        assert!(text.contains("join"), "{text}");
        let all = stdout(&env.run(&[command, run_id, "--all"]));
        assert!(all.contains("_work_24 "), "{all}");
        assert!(!all.contains("more tasks forked"), "{all}");
    }
    let out = env.run(&["status", run_id, "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["tasks"].as_array().unwrap().len(),
        27,
        "--json has every task"
    );
}
