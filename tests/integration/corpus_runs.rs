//! Conductor's bigger definitions run end to end, unchanged, through the real binary: fake
//! agents serve their SIMPLE tasks and a local server their HTTP calls.

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, stderr};

/// Copies corpus file `name` unchanged into the station; returns its file name.
fn corpus_file(env: &TestEnv, name: &str) -> String {
    let path = crate::support::conductor_corpus().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    env.write(name, &text);
    name.to_string()
}

/// Answers every task with its reference and input.
fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"ref": message["task_ref"], "got": message["input"]}))
}

fn refs(agent: &FakeAgent) -> Vec<String> {
    let mut seen: Vec<String> = agent
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen
}

fn status(env: &TestEnv, run_id: &str) -> Value {
    let out = env.run(&["status", run_id, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn wf2_forks_four_tasks_joins_and_outputs_its_input_fields() {
    let env = TestEnv::new();
    let caps = [
        "task_5", "task_28", "task_10", "task_11", "task_20", "task_21", "task_30",
    ];
    let worker = FakeAgent::start(&env, "worker", &caps, 4, echo);
    let flow = corpus_file(&env, "wf2.json");
    let (code, result, out) = env.run_flow(&flow, &["-i", "mod=3", "-i", "oddEven=1"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["output"], json!({"mod": 3, "oddEven": 1}));
    assert_eq!(
        refs(&worker),
        [
            "task_10", "task_11", "task_20", "task_21", "task_28", "task_30", "task_5"
        ]
    );
}

#[test]
fn nested_fork_join_runs_the_inner_decision_and_joins_both_levels() {
    let env = TestEnv::new();
    let caps: Vec<String> = (11..=20).map(|n| format!("integration_task_{n}")).collect();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let worker = FakeAgent::start(&env, "worker", &caps, 4, echo);
    let flow = corpus_file(&env, "nested_fork_join_integration_test.json");
    let (code, result, out) = env.run_flow(
        &flow,
        &["-i", "param1=p1", "-i", "param2=p2", "-i", "case=c"],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    // Decision d1 has cases a and b: "c" takes the default case, t18 then t20def; the
    // other cases' tasks never run.
    assert_eq!(
        refs(&worker),
        ["t11", "t12", "t13", "t14", "t15", "t18", "t20def"]
    );
    // outputParameters {} is Conductor's "no mapping": the last task's output.
    assert_eq!(result["output"]["ref"], "t15");
    let run = status(&env, result["run_id"].as_str().unwrap());
    let text = run.to_string();
    assert!(text.contains("join1") && text.contains("join2"), "{run}");
}

#[test]
fn fork_join_permissive_goes_past_a_failed_branch_and_ends_failed() {
    let env = TestEnv::new();
    let caps = [
        "integration_task_1",
        "integration_task_2",
        "integration_task_3",
    ];
    let worker = FakeAgent::start(&env, "worker", &caps, 4, |m: &Value| {
        if m["task_ref"] == "t1" {
            Answer::Failed("t1 broke".into())
        } else {
            echo(m)
        }
    });
    let flow = corpus_file(&env, "fork_join_permissive_integration_test.json");
    let (code, result, out) = env.run_flow(&flow, &["-i", "param1=p1", "-i", "param2=p2"]);
    assert_ne!(code, 0, "{result}");
    assert_eq!(result["status"], "FAILED", "{result}\n{}", stderr(&out));
    // t1 fails for good (no retries defined); t2 and t3 still run: permissive lets the run
    // go on, and it ends FAILED naming t1.
    let seen = refs(&worker);
    assert!(
        seen.contains(&"t2".to_string()) && seen.contains(&"t3".to_string()),
        "{seen:?}"
    );
    assert_eq!(result["failed_task"], "t1", "{result}");
}

#[test]
fn decision_inside_a_fork_branch_runs_its_case_and_the_join_waits_on_the_others() {
    let env = TestEnv::new();
    let caps = [
        "integration_task_1",
        "integration_task_2",
        "integration_task_5",
        "integration_task_10",
        "integration_task_20",
    ];
    let worker = FakeAgent::start(&env, "worker", &caps, 4, echo);
    let flow = corpus_file(&env, "decision_and_fork_join_integration_test.json");
    let (code, result, out) = env.run_flow(
        &flow,
        &["-i", "param1=p1", "-i", "param2=p2", "-i", "case=c"],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(
        result["output"],
        json!({
            "t20": {"ref": "t20", "got": {"p1": "p1", "p2": "p2"}},
            "t10": {"ref": "t10", "got": {"p1": "p1", "p2": "p2"}},
        })
    );
    assert!(refs(&worker).contains(&"t1".to_string()));
}

/// No agent needed: SWITCH, INLINE (graaljs), SET_VARIABLE inside a DO_WHILE whose graaljs
/// condition reads `${workflow.variables.status}`; 26 iterations, the last 3 kept.
#[test]
fn do_while_keep_last_n_switch_runs_26_iterations_and_keeps_three() {
    let env = TestEnv::new();
    let flow = corpus_file(&env, "do_while_keep_last_n_switch_test.json");
    let (code, result, out) = env.run_flow(&flow, &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    let output = result["output"].as_object().unwrap();
    assert_eq!(output["iteration"], 26);
    let mut kept: Vec<&String> = output.keys().filter(|k| *k != "iteration").collect();
    kept.sort();
    assert_eq!(kept, ["24", "25", "26"]);
    assert_eq!(output["26"]["max_loop_ctrl_ref"]["result"], "stop");
    assert_eq!(output["25"]["inline_ref"]["result"], 3);
}
