//! DO_WHILE through the real binary: counted loops, `items`, `keepLastN`, failures, a kill in
//! the middle of a loop, and Conductor's own DO_WHILE definitions.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, journal_records, output_within, stderr, stdout};

/// An agent answering each task with its reference and input.
fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"ref": message["task_ref"], "got": message["input"]}))
}

fn refs(agent: &FakeAgent) -> Vec<String> {
    agent
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap().to_string())
        .collect()
}

fn status(env: &TestEnv, run_id: &str) -> Value {
    let out = env.run(&["status", run_id, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

const COUNTED: &str = r#"
name: counted
tasks:
  - name: count
    taskReferenceName: count
    type: DO_WHILE
    inputParameters: {times: "${workflow.input.times}"}
    evaluatorType: expression
    loopCondition: count.iteration < times
    loopOver:
      - {name: work, taskReferenceName: step, inputParameters: {n: "${count.output.iteration}", before: "${step.output.got.n}"}}
  - {name: work, taskReferenceName: after, inputParameters: {last: "${step.output.got.n}", loops: "${count.output.iteration}"}}
"#;

#[test]
fn a_counted_loop_runs_its_tasks_once_per_iteration_under_their_own_references() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write("flow.yaml", COUNTED);
    let (code, result, out) = env.run_flow("flow.yaml", &["-i", "times=3"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(refs(&worker), ["step__1", "step__2", "step__3", "after"]);
    let messages = worker.messages();
    let inputs: Vec<&Value> = messages.iter().map(|m| &m["input"]).collect();
    assert_eq!(*inputs[0], json!({"n": 1, "before": null}));
    assert_eq!(
        *inputs[2],
        json!({"n": 3, "before": 2}),
        "the latest iteration's output"
    );
    assert_eq!(*inputs[3], json!({"last": 3, "loops": 3}));

    let records = journal_records(&env);
    let iterations: Vec<u64> = records
        .iter()
        .filter(|r| r["event"] == "loop_iteration_started")
        .map(|r| r["iteration"].as_u64().unwrap())
        .collect();
    assert_eq!(iterations, [1, 2, 3]);
    let done = records
        .iter()
        .find(|r| r["event"] == "task_completed" && r["task_ref"] == "count")
        .expect("the loop completed");
    assert_eq!(done["output"]["iteration"], 3);
    assert_eq!(done["output"]["2"]["step"]["got"]["n"], 2);

    let run_id = result["run_id"].as_str().unwrap();
    let view = status(&env, run_id);
    let listed: Vec<&str> = view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_ref"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["count", "step__1", "step__2", "step__3", "after"]);
}

const ITEMS: &str = r#"
name: each_file
tasks:
  - name: each
    taskReferenceName: each
    type: DO_WHILE
    inputParameters: {items: "${workflow.input.files}"}
    loopOver:
      - {name: work, taskReferenceName: file, inputParameters: {name: "${each.output.loopItem}", index: "${each.output.loopIndex}"}}
outputParameters:
  loops: "${each.output.iteration}"
  second: "${each.output.2.file.got.name}"
"#;

#[test]
fn items_run_one_iteration_per_item_with_loop_item_and_loop_index() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write("flow.yaml", ITEMS);
    let (code, result, out) = env.run_flow("flow.yaml", &["-i", "files=[a.txt, b.txt, c.txt]"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"], json!({"loops": 3, "second": "b.txt"}));
    let inputs: Vec<Value> = worker
        .messages()
        .iter()
        .map(|m| m["input"].clone())
        .collect();
    assert_eq!(
        inputs,
        [
            json!({"name": "a.txt", "index": 0}),
            json!({"name": "b.txt", "index": 1}),
            json!({"name": "c.txt", "index": 2}),
        ]
    );
}

#[test]
fn an_empty_items_list_runs_no_iteration_and_completes_the_loop() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write("flow.yaml", ITEMS);
    let (code, result, out) = env.run_flow("flow.yaml", &["-i", "files=[]"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["output"]["loops"], 0);
    assert!(worker.messages().is_empty(), "no iteration ran");
    let records = journal_records(&env);
    assert!(
        !records
            .iter()
            .any(|r| r["event"] == "loop_iteration_started")
    );
}

#[test]
fn keep_last_n_bounds_the_state_and_the_output_of_a_long_loop() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    let flow = COUNTED.replace("    loopOver:", "    keepLastN: 3\n    loopOver:");
    env.write("flow.yaml", &flow);
    let (code, result, out) = env.run_flow("flow.yaml", &["-i", "times=40"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(worker.messages().len(), 41);
    let run_id = result["run_id"].as_str().unwrap();
    let view = status(&env, run_id);
    let listed: Vec<&str> = view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ["count", "step__38", "step__39", "step__40", "after"],
        "only the last 3 iterations are kept"
    );
    let records = journal_records(&env);
    let done = records
        .iter()
        .find(|r| r["event"] == "task_completed" && r["task_ref"] == "count")
        .unwrap();
    let mut keys: Vec<&str> = done["output"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["38", "39", "40", "iteration"]);
    assert_eq!(done["output"]["iteration"], 40);
    // The snapshot the orchestrator keeps is bounded too.
    let run_id = done["run"].as_str().unwrap();
    let snapshot = env.read(&format!(".3ox/state/{run_id}.state.yaml"));
    assert!(!snapshot.contains("step__37"), "{snapshot}");
}

#[test]
fn a_failing_iteration_fails_the_loop_and_the_run_and_retry_goes_on_with_that_iteration() {
    let env = TestEnv::new();
    let failed = Arc::new(AtomicBool::new(false));
    let flag = failed.clone();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, move |m| {
        if m["task_ref"] == "step__2" && !flag.swap(true, Ordering::SeqCst) {
            Answer::Terminal("disk full".into())
        } else {
            echo(m)
        }
    });
    env.write("flow.yaml", COUNTED);
    let (code, result, _) = env.run_flow("flow.yaml", &["-i", "times=3"]);
    assert_eq!(
        (code, result["status"].as_str()),
        (1, Some("FAILED")),
        "{result}"
    );
    let reason = result.to_string();
    assert!(
        reason.contains("iteration 2: task `step__2` failed: disk full"),
        "{result}"
    );
    assert_eq!(refs(&worker), ["step__1", "step__2"]);

    let run_id = result["run_id"].as_str().unwrap();
    let out = env.run(&["retry", run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = output_within(
        env.cmd(&["resume", run_id, "--no-agents", "--json", "-q"]),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        refs(&worker),
        ["step__1", "step__2", "step__2", "step__3", "after"],
        "iteration 1 is kept, iteration 2 is tried again"
    );
    assert_eq!(worker.messages()[2]["attempt"], 2);
}

#[test]
fn an_optional_loop_that_fails_lets_the_run_go_on() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, |m| {
        if m["task_ref"] == "step__1" {
            Answer::Failed("no".into())
        } else {
            echo(m)
        }
    });
    let flow = COUNTED.replace(
        "    type: DO_WHILE\n",
        "    type: DO_WHILE\n    optional: true\n",
    );
    env.write("flow.yaml", &flow);
    let (code, result, _) = env.run_flow("flow.yaml", &["-i", "times=3"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(refs(&worker), ["step__1", "after"]);
    let view = status(&env, result["run_id"].as_str().unwrap());
    let count = &view["tasks"][0];
    assert_eq!(
        (count["task_ref"].as_str(), count["status"].as_str()),
        (Some("count"), Some("COMPLETED_WITH_ERRORS"))
    );
}

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_loop_killed_in_the_middle_resumes_in_the_same_iteration_and_runs_each_once() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, |m| {
        std::thread::sleep(Duration::from_millis(30));
        echo(m)
    });
    env.write("flow.yaml", COUNTED);
    let out = env.run(&["start", "flow.yaml", "--json", "-i", "times=8"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut kills = 0;
    for at_iteration in [2u64, 4, 6] {
        let mut child = spawn(&env, &["resume", &run_id, "--no-agents", "-q"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !journal_records(&env).iter().any(|r| {
            r["event"] == "loop_iteration_started" && r["iteration"].as_u64() == Some(at_iteration)
        }) {
            assert!(
                Instant::now() < deadline,
                "iteration {at_iteration} never started"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    assert_eq!(kills, 3);
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json", "-q"]),
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED");

    let records = journal_records(&env);
    let mut started: HashMap<u64, usize> = HashMap::new();
    let mut scheduled: HashMap<String, usize> = HashMap::new();
    for r in &records {
        if r["event"] == "loop_iteration_started" {
            *started.entry(r["iteration"].as_u64().unwrap()).or_default() += 1;
        }
        if r["event"] == "task_scheduled" {
            *scheduled
                .entry(r["task_ref"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(started.len(), 8);
    assert!(
        started.values().all(|n| *n == 1),
        "each iteration started once: {started:?}"
    );
    assert_eq!(scheduled.len(), 9, "{scheduled:?}");
    assert!(
        scheduled.values().all(|n| *n == 1),
        "each task dispatched once: {scheduled:?}"
    );
    let mut seen = refs(&worker);
    seen.dedup();
    assert_eq!(seen.len(), 9, "every message answered once: {seen:?}");
    let done = records
        .iter()
        .find(|r| r["event"] == "task_completed" && r["task_ref"] == "count")
        .unwrap();
    for n in 1..=8 {
        assert_eq!(done["output"][n.to_string()]["step"]["got"]["n"], n);
    }
}

/// A Conductor corpus file, as a JSON value.
fn corpus(name: &str) -> Value {
    let path = crate::support::conductor_corpus().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Runs Conductor's `do_while_integration_test.json` (SIMPLE, FORK_JOIN and JOIN inside the
/// loop) with its loopCondition written in 3ox's expression form.
#[test]
fn conductors_do_while_integration_test_runs_with_an_expression_condition() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(
        &env,
        "worker",
        &[
            "integration_task_0",
            "integration_task_1",
            "integration_task_2",
        ],
        2,
        echo,
    );
    let mut def = corpus("do_while_integration_test.json");
    def["tasks"][0]["evaluatorType"] = json!("expression");
    def["tasks"][0]["loopCondition"] = json!("loopTask.iteration < value");
    env.write("flow.json", &def.to_string());
    let (code, result, out) = env.run_flow("flow.json", &["-i", "loop=2"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let mut seen = refs(&worker);
    seen.sort();
    assert_eq!(
        seen,
        [
            "integration_task_0__1",
            "integration_task_0__2",
            "integration_task_1__1",
            "integration_task_1__2",
            "integration_task_2__1",
            "integration_task_2__2",
        ]
    );
    let output = &result["output"];
    assert_eq!(output["iteration"], 2);
    assert_eq!(
        output["2"]["join"],
        json!({
            "integration_task_1__2": {"ref": "integration_task_1__2", "got": {}},
            "integration_task_2__2": {"ref": "integration_task_2__2", "got": {}},
        })
    );
}

/// Conductor's `do_while_multiple_integration_test.json` as it is: two loops one after the
/// other, their JavaScript loopConditions run by the embedded engine.
#[test]
fn conductors_two_loop_definition_runs_unchanged_with_its_javascript_conditions() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(
        &env,
        "worker",
        &[
            "integration_task_0",
            "integration_task_1",
            "integration_task_2",
            "integration_task_3",
        ],
        2,
        echo,
    );
    env.write(
        "flow.json",
        &corpus("do_while_multiple_integration_test.json").to_string(),
    );
    let (code, result, out) = env.run_flow("flow.json", &["-i", "loop=2", "-i", "loop2=3"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let seen = refs(&worker);
    assert_eq!(seen.len(), 2 * 3 + 3, "{seen:?}");
    let third: Vec<&String> = seen
        .iter()
        .filter(|r| r.starts_with("integration_task_3"))
        .collect();
    assert_eq!(
        third,
        [
            "integration_task_3__1",
            "integration_task_3__2",
            "integration_task_3__3"
        ]
    );
    assert_eq!(
        result["output"]["iteration"], 3,
        "the last task's output: loopTask2"
    );
    let view = status(&env, result["run_id"].as_str().unwrap());
    let loops: Vec<(&str, &str)> = view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "DO_WHILE")
        .map(|t| {
            (
                t["task_ref"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        loops,
        [("loopTask", "COMPLETED"), ("loopTask2", "COMPLETED")]
    );
}

/// A loop that never waits for an agent (and never ends) gives way between batches of
/// iterations: the driver still hears `3ox terminate`.
#[test]
fn an_endless_loop_of_system_tasks_still_obeys_terminate() {
    let env = TestEnv::new();
    env.write(
        "spin.yaml",
        r#"
name: spin
tasks:
  - name: spin
    taskReferenceName: spin
    type: DO_WHILE
    keepLastN: 2
    evaluatorType: expression
    loopCondition: "true"
    loopOver:
      - {name: pick, taskReferenceName: pick, type: SWITCH, expression: x, inputParameters: {x: a}, decisionCases: {}}
"#,
    );
    let out = env.run(&["start", "spin.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut driver = crate::support::ChildGuard(spawn(
        &env,
        &[
            "resume",
            &run_id,
            "--no-agents",
            "--json",
            "-q",
            "--relaxed",
        ],
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = status(&env, &run_id);
        let iteration = view["tasks"][0]["task_ref"]
            .as_str()
            .filter(|r| *r == "spin")
            .and_then(|_| {
                view["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|t| {
                        t["task_ref"]
                            .as_str()?
                            .strip_prefix("pick__")?
                            .parse::<u64>()
                            .ok()
                    })
                    .max()
            })
            .unwrap_or(0);
        if iteration > 3 * 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the loop got stuck at {iteration}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = env.run(&["terminate", &run_id, "--reason", "enough"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = crate::support::output_within_child(&mut driver.0, Duration::from_secs(10));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "TERMINATED", "{}", stderr(&out));
    let view = status(&env, &run_id);
    assert!(
        view["tasks"].as_array().unwrap().len() <= 3,
        "keepLastN bounds an endless loop: {}",
        view["tasks"]
    );
}

#[test]
fn validate_refuses_a_loop_inside_a_loop_with_line_column_and_hint() {
    let env = TestEnv::new();
    env.write(
        "nested.yaml",
        "name: nested\ntasks:\n  - name: outer\n    taskReferenceName: outer\n    type: DO_WHILE\n    loopCondition: \"$.outer['iteration'] < 2\"\n    loopOver:\n      - name: inner\n        taskReferenceName: inner\n        type: DO_WHILE\n        loopCondition: \"$.inner['iteration'] < 2\"\n        loopOver: [{name: work, taskReferenceName: a}]\n",
    );
    let out = env.run(&["validate", "nested.yaml"]);
    assert_ne!(out.status.code(), Some(0));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("nested.yaml:10:15"), "{text}");
    assert!(
        text.contains("a loop inside a loop is not supported"),
        "{text}"
    );
    assert!(text.contains("SUB_WORKFLOW"), "{text}");
}

/// Conductor's `do_while_with_decision_task.json` (INLINE and a JavaScript SWITCH inside a
/// loop over a list, Nashorn's `list.get`), without its WAIT task (a task completed from
/// outside, which is another part's work): every iteration picks its element and decides.
#[test]
fn conductors_loop_with_inline_and_javascript_switch_runs_without_agents() {
    let env = TestEnv::new();
    let mut def = corpus("do_while_with_decision_task.json");
    let cases = &mut def["tasks"][0]["loopOver"][1]["decisionCases"]["true"];
    let kept: Vec<Value> = cases
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] != "WAIT")
        .cloned()
        .collect();
    *cases = Value::Array(kept);
    env.write("flow.json", &def.to_string());
    let (code, result, out) = env.run_flow("flow.json", &["-i", "list=[4, -2, 7]"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let output = &result["output"];
    assert_eq!(output["iteration"], 3);
    let picked: Vec<&Value> = (1..=3)
        .map(|n| &output[n.to_string()]["GetNumberAtIndex"]["result"])
        .collect();
    assert_eq!(picked, [&json!(4), &json!(-2), &json!(7)]);
    let cases: Vec<&Value> = (1..=3)
        .map(|n| &output[n.to_string()]["SwitchTask"]["selectedCase"])
        .collect();
    assert_eq!(cases, [&json!("true"), &json!("false"), &json!("true")]);
    assert!(output["1"]["ComputeNumber"].is_object());
    assert!(output["2"].get("ComputeNumber").is_none(), "{output}");
    assert!(output["3"]["ComputeNumber"].is_object());
}
