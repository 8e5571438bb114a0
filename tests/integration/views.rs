//! What a person watching runs reads: `3ox up`'s progress lines name the run they belong to.

use std::time::Duration;

use serde_json::Value;

use crate::support::{TestEnv, output_within, stderr};

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
