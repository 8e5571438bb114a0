//! What a person watching runs reads: `3ox up`'s progress lines name the run they belong to;
//! `3ox status` shows who a HUMAN task waits for, until when, and who decided it.

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
    let mut run = env
        .cmd(&["run", "gate.yaml", "--json", "--no-agents"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run_id = wait_for(Duration::from_secs(60), || {
        let records = journal_records(&env);
        events(&records)
            .iter()
            .any(|e| e == "approval_requested")
            .then(|| records[0]["run_id"].as_str().map(str::to_string))
            .flatten()
    })
    .expect("the HUMAN task asks for approval");
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
