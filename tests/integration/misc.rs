//! NOOP, SET_VARIABLE, TERMINATE, EXCLUSIVE_JOIN, DYNAMIC and the mapping rules
//! (`inputTemplate`, `${workflow.variables.x}`, `${CPEWF_TASK_ID}`, `$${...}`, the default run
//! output, `inputExpression`), through the real binary with agents played by test code.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, events, files_in, journal_records, output_within, stderr};

/// Completes every task with `{ref, input}`.
fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"ref": message["task_ref"], "input": message["input"]}))
}

fn corpus(name: &str) -> String {
    let path = crate::support::conductor_corpus().join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn refs(agent: &FakeAgent) -> Vec<String> {
    agent
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn noop_and_set_variable_feed_later_tasks_and_the_variables_survive_a_kill() {
    let env = TestEnv::new();
    let release = Arc::new(AtomicBool::new(false));
    let gate = release.clone();
    let worker = FakeAgent::start(&env, "worker", &["work", "last"], 2, move |message| {
        if message["task"] == "last" && !gate.load(Ordering::SeqCst) {
            Answer::NotYet
        } else {
            Answer::Completed(json!({"n": 41, "input": message["input"]}))
        }
    });
    env.write(
        "vars.yaml",
        r#"
name: vars
variables: {stage: initial, keep: 1}
tasks:
  - {name: nothing, taskReferenceName: nothing, type: NOOP}
  - {name: work, taskReferenceName: count}
  - name: remember
    taskReferenceName: remember
    type: SET_VARIABLE
    inputParameters: {stage: counted, total: "${count.output.n}"}
  - {name: last, taskReferenceName: last, inputParameters: {vars: "${workflow.variables}", noop: "${nothing.output}"}}
  - {name: bump, taskReferenceName: bump, type: SET_VARIABLE, inputParameters: {total: 42}}
outputParameters:
  stage: "${workflow.variables.stage}"
  total: "${workflow.variables.total}"
  keep: "${workflow.variables.keep}"
"#,
    );
    let out = env.run(&["start", "vars.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first: Child = env
        .cmd(&["resume", &run_id, "--no-agents"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !refs(&worker).contains(&"last".to_string()) {
        assert!(Instant::now() < deadline, "`last` was never delivered");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killed after SET_VARIABLE: the variables live only in the journal now.
    first.kill().unwrap();
    first.wait().unwrap();
    release.store(true, Ordering::SeqCst);
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result["output"],
        json!({"stage": "counted", "total": 42, "keep": 1})
    );
    let last = worker
        .messages()
        .into_iter()
        .find(|m| m["task_ref"] == "last")
        .unwrap();
    assert_eq!(
        last["input"],
        json!({"vars": {"stage": "counted", "keep": 1, "total": 41}, "noop": {}})
    );
    assert_eq!(
        refs(&worker),
        ["count", "last"],
        "NOOP and SET_VARIABLE need no agent"
    );
    let kinds = events(&journal_records(&env));
    assert_eq!(kinds.iter().filter(|k| *k == "variables_set").count(), 2);
}

const TERMINATE_FLOW: &str = r#"
name: stopper
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: slow, taskReferenceName: slow}]
      - - {name: work, taskReferenceName: first}
        - name: stop
          taskReferenceName: stop
          type: TERMINATE
          inputParameters:
            terminationStatus: "${workflow.input.status}"
            terminationReason: "stopped after ${first.output.ref}"
            workflowOutput: {from: "${first.output.ref}"}
        - {name: work, taskReferenceName: never}
  - {name: join, taskReferenceName: join, type: JOIN}
"#;

#[test]
fn terminate_ends_the_run_with_its_status_reason_and_output_and_withdraws_work_in_flight() {
    for (status, code) in [("COMPLETED", 0), ("FAILED", 1), ("TERMINATED", 1)] {
        let env = TestEnv::new();
        let slow = FakeAgent::start(&env, "slowpoke", &["slow"], 1, |_| Answer::NotYet);
        let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
        env.write("stop.yaml", TERMINATE_FLOW);
        // The slow task is delivered before `first` completes.
        let inbox = "agents/slowpoke/1N.3OX";
        let (got, result, out) = env.run_flow("stop.yaml", &["-i", &format!("status={status}")]);
        assert_eq!(got, code, "{status}: {result}\n{}", stderr(&out));
        assert_eq!(result["status"], status);
        assert_eq!(result["output"], json!({"from": "first"}));
        if status == "COMPLETED" {
            assert_eq!(result["reason"], Value::Null);
        } else {
            assert_eq!(result["reason"], "stopped after first");
        }
        if status == "FAILED" {
            assert_eq!(result["failed_task"], "stop");
        }
        assert_eq!(refs(&worker), ["first"], "nothing after TERMINATE runs");
        assert_eq!(slow.messages().len(), 1);
        assert!(
            files_in(&env, inbox).is_empty(),
            "the slow task's message was withdrawn"
        );
        assert_eq!(files_in(&env, &format!("{inbox}/done")).len(), 1);
        let records = journal_records(&env);
        let kinds = events(&records);
        let end = match status {
            "COMPLETED" => "run_completed",
            "FAILED" => "run_failed",
            _ => "run_terminated",
        };
        assert_eq!(
            &kinds[kinds.len() - 3..],
            ["run_ended_by_task", "task_canceled", end]
        );
    }
}

#[test]
fn conductors_switch_and_terminate_workflow_runs_both_ways() {
    for (case, status, output) in [
        ("one", "COMPLETED", json!({"o2": "op-t3"})),
        ("two", "FAILED", json!({"output": "op-t1"})),
    ] {
        let env = TestEnv::new();
        let worker = FakeAgent::start(
            &env,
            "worker",
            &[
                "integration_task_1",
                "integration_task_2",
                "integration_task_3",
            ],
            1,
            |m| Answer::Completed(json!({"op": format!("op-{}", m["task_ref"].as_str().unwrap())})),
        );
        env.write(
            "flow.json",
            &corpus("switch_and_terminate_integration_test"),
        );
        let (_, result, _) = env.run_flow(
            "flow.json",
            &[
                "-i",
                "param1=p1",
                "-i",
                "param2=p2",
                "-i",
                &format!("case={case}"),
            ],
        );
        assert_eq!(result["status"], status, "{result}");
        assert_eq!(result["output"], output);
        let expected: &[&str] = if case == "one" {
            &["t1", "t2", "t3"]
        } else {
            &["t1"]
        };
        assert_eq!(refs(&worker), expected);
    }
}

const EXCLUSIVE_FLOW: &str = r#"
name: exclusive
tasks:
  - {name: step, taskReferenceName: task1}
  - name: decide
    taskReferenceName: decision1
    type: SWITCH
    expression: d1
    inputParameters: {d1: "${workflow.input.d1}"}
    decisionCases:
      "yes":
        - {name: step, taskReferenceName: task2}
        - name: decide
          taskReferenceName: decision2
          type: SWITCH
          expression: d2
          inputParameters: {d2: "${workflow.input.d2}"}
          decisionCases:
            "yes": [{name: step, taskReferenceName: task3}]
      "no":
        - {name: step, taskReferenceName: task4}
        - name: decide
          taskReferenceName: decision3
          type: SWITCH
          expression: d3
          inputParameters: {d3: "${workflow.input.d3}"}
          decisionCases:
            "yes": [{name: step, taskReferenceName: task5}]
  - name: exclusive_join
    taskReferenceName: exclusiveJoin
    type: EXCLUSIVE_JOIN
    joinOn: [task3, task5]
    defaultExclusiveJoinTask: [task2, task4, task1]
  - {name: step, taskReferenceName: after, inputParameters: {joined: "${exclusiveJoin.output.ref}"}}
"#;

#[test]
fn exclusive_join_takes_the_branch_that_ran_or_the_default() {
    for (d1, d2, d3, ran, joined) in [
        ("yes", "yes", "-", &["task1", "task2", "task3"][..], "task3"),
        ("yes", "no", "-", &["task1", "task2"][..], "task2"),
        ("no", "-", "yes", &["task1", "task4", "task5"][..], "task5"),
        ("no", "-", "no", &["task1", "task4"][..], "task4"),
        ("maybe", "-", "-", &["task1"][..], "task1"),
    ] {
        let env = TestEnv::new();
        let worker = FakeAgent::start(&env, "worker", &["step"], 1, echo);
        env.write("x.yaml", EXCLUSIVE_FLOW);
        let (code, result, _) = env.run_flow(
            "x.yaml",
            &[
                "-i",
                &format!("d1={d1}"),
                "-i",
                &format!("d2={d2}"),
                "-i",
                &format!("d3={d3}"),
            ],
        );
        assert_eq!(code, 0, "{result}");
        let mut expected: Vec<&str> = ran.to_vec();
        expected.push("after");
        assert_eq!(refs(&worker), expected);
        assert_eq!(result["output"]["input"], json!({"joined": joined}));
    }
}

#[test]
fn an_exclusive_join_that_names_no_task_of_its_switch_is_refused_with_line_and_column() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "worker", &["step"], 1);
    env.write(
        "x.yaml",
        &EXCLUSIVE_FLOW.replace("joinOn: [task3, task5]", "joinOn: [task3, tsk5]"),
    );
    let out = env.run(&["validate", "x.yaml"]);
    assert_eq!(out.status.code(), Some(2), "invalid: exit 2");
    let text = format!("{}{}", crate::support::stdout(&out), stderr(&out));
    assert!(
        text.contains("EXCLUSIVE_JOIN task `exclusiveJoin` waits on `tsk5`, which is not in the cases of task `decision1`"),
        "{text}"
    );
    assert!(text.contains("x.yaml:32:21"), "{text}");
    assert!(text.contains("did you mean `task5`?"), "{text}");
}

const DYNAMIC_FLOW: &str = r#"
name: dyn
tasks:
  - name: dynamic
    taskReferenceName: pick
    type: DYNAMIC
    dynamicTaskNameParam: taskToExecute
    inputParameters: {taskToExecute: "${workflow.input.which}", size: 3}
  - {name: report, taskReferenceName: report, inputParameters: {by: "${pick.output.ref}", seen: "${pick.output.input.size}"}}
"#;

#[test]
fn dynamic_runs_the_task_the_input_names_on_the_agent_that_serves_it() {
    let env = TestEnv::new();
    let images = FakeAgent::start(&env, "images", &["resize"], 1, echo);
    let other = FakeAgent::start(&env, "other", &["crop", "report"], 1, echo);
    env.write("dyn.yaml", DYNAMIC_FLOW);
    let (code, result, _) = env.run_flow("dyn.yaml", &["-i", "which=resize"]);
    assert_eq!(code, 0, "{result}");
    let message = &images.messages()[0];
    assert_eq!(message["task"], "resize");
    assert_eq!(message["task_ref"], "pick");
    assert_eq!(
        message["input"],
        json!({"taskToExecute": "resize", "size": 3})
    );
    assert_eq!(refs(&other), ["report"]);
    assert_eq!(result["output"]["input"], json!({"by": "pick", "seen": 3}));
    let records = journal_records(&env);
    let chosen = records
        .iter()
        .find(|r| r["event"] == "dynamic_task_chosen")
        .unwrap();
    assert_eq!(chosen["task_name"], "resize");
}

#[test]
fn dynamic_refuses_a_type_the_engine_runs_and_a_name_no_agent_serves() {
    for (which, reason) in [
        (
            "SWITCH",
            "chose `SWITCH`, a task type the engine runs itself",
        ),
        ("paint", "no agent of this station serves task `paint`"),
    ] {
        let env = TestEnv::new();
        let _agent = FakeAgent::start(&env, "other", &["report"], 1, echo);
        env.write("dyn.yaml", DYNAMIC_FLOW);
        let (code, result, _) = env.run_flow("dyn.yaml", &["-i", &format!("which={which}")]);
        assert_eq!(code, 1);
        assert_eq!(result["failed_task"], "pick");
        assert!(
            result["reason"].as_str().unwrap().contains(reason),
            "{result}"
        );
    }
}

#[test]
fn conductors_input_template_workflow_fills_defaults_and_the_task_id() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["integration_task_1"], 1, |m| {
        Answer::Completed(json!({"op": m["task_id"]}))
    });
    env.write(
        "flow.json",
        &corpus("simple_workflow_1_input_template_integration_test"),
    );
    let out = env.run(&["validate", "flow.json"]);
    let text = format!("{}{}", crate::support::stdout(&out), stderr(&out));
    assert!(
        !text.contains("CPEWF_TASK_ID"),
        "no warning any more: {text}"
    );
    let (code, result, _) = env.run_flow("flow.json", &["-i", "param2=given"]);
    assert_eq!(code, 0, "{result}");
    let message = &worker.messages()[0];
    let task_id = message["task_id"].as_str().unwrap();
    assert_eq!(
        message["input"],
        json!({
            "p1": {"nested_object": {"nested_key": "nested_value"}},
            "p2": "given",
            "p3": task_id,
            "someNullKey": null,
        })
    );
    assert_eq!(
        result["output"],
        json!({
            "output": task_id,
            "param1": {"nested_object": {"nested_key": "nested_value"}},
            "param2": "given",
            "param3": "string",
        })
    );
}

#[test]
fn task_templates_escapes_input_expressions_and_the_default_output() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["make", "use"], 1, |m| {
        if m["task"] == "make" {
            Answer::Completed(json!({"payload": {"items": [1, 2], "owner": "ana"}}))
        } else {
            echo(m)
        }
    });
    env.write(
        "map.yaml",
        r#"
name: mapping
tasks:
  - name: make
    taskReferenceName: make
    taskDefinition: {inputTemplate: {mode: fast, level: 1}}
    inputTemplate: {level: 2, who: "${workflow.input.who}"}
    inputParameters: {mode: careful, literal: "cost $${price} for ${workflow.input.who}"}
  - name: use
    taskReferenceName: use
    inputExpression: {type: JSON_PATH, expression: "$.make.output.payload"}
"#,
    );
    let (code, result, _) = env.run_flow("map.yaml", &["-i", "who=bo"]);
    assert_eq!(code, 0, "{result}");
    let messages = worker.messages();
    assert_eq!(
        messages[0]["input"],
        json!({"mode": "careful", "level": 2, "who": "bo", "literal": "cost ${price} for bo"})
    );
    assert_eq!(
        messages[1]["input"],
        json!({"items": [1, 2], "owner": "ana"})
    );
    assert_eq!(
        result["output"],
        json!({"ref": "use", "input": {"items": [1, 2], "owner": "ana"}}),
        "without outputParameters the run's output is the last task's output"
    );
}

#[test]
fn conductors_cpewf_dynamic_fork_gives_each_forked_task_its_own_id() {
    // The corpus workflow makes its fork list with a graaljs INLINE task; here an agent plays
    // that step (same output shape, `result`), so the test is about `${CPEWF_TASK_ID}` in
    // the forked task's inputParameters.
    let mut flow: Value = serde_json::from_str(&corpus("cpewf_task_id_dyn_fork_wf")).unwrap();
    let expression = flow["tasks"][0]["inputParameters"]["expression"]
        .as_str()
        .unwrap()
        .replace("\"$\"+\"{CPEWF_TASK_ID}\"", "\"${CPEWF_TASK_ID}\"");
    let forked: Value = serde_json::from_str(&expression).unwrap();
    flow["tasks"][0]["type"] = json!("SIMPLE");
    flow["tasks"][0]["inputParameters"] = json!({});
    let env = TestEnv::new();
    let maker = FakeAgent::start(&env, "maker", &["inline"], 1, move |_| {
        Answer::Completed(json!({"result": forked.clone()}))
    });
    let worker = FakeAgent::start(&env, "worker", &["fail_on_purpose"], 1, |m| {
        Answer::Completed(json!({"got": m["input"]["task_id"]}))
    });
    env.write("flow.json", &flow.to_string());
    let (code, result, _) = env.run_flow("flow.json", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(maker.messages().len(), 1);
    let message = &worker.messages()[0];
    assert_eq!(message["task_ref"], "fail_on_purpose_ref");
    assert_eq!(message["input"]["task_id"], message["task_id"]);
    assert!(message["task_id"].as_str().is_some_and(|id| !id.is_empty()));
}

#[test]
fn conductors_set_variable_workflow_outputs_its_variables() {
    // The corpus workflow ends with a WAIT (timers area); without it the run completes.
    let mut flow: Value =
        serde_json::from_str(&corpus("set_variable_workflow_integration_test")).unwrap();
    flow["tasks"].as_array_mut().unwrap().pop();
    let env = TestEnv::new();
    let _worker = FakeAgent::start(&env, "worker", &["simple"], 1, echo);
    env.write("flow.json", &flow.to_string());
    let (code, result, _) = env.run_flow("flow.json", &["-i", "var=hello"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"], json!({"variables": {"var": "hello"}}));
}

#[test]
fn conductors_terminate_failed_workflow_fails_with_its_reason_and_output() {
    // The corpus workflow and its failure workflow, both as written: the LAMBDA computes the
    // output, TERMINATE fails the run, and `failure_workflow` (from the station's
    // workflows/) is started for it.
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["integration_task_2"], 1, |_| {
        Answer::Completed(json!({}))
    });
    env.write(
        "workflows/failure_workflow.json",
        &corpus("failure_workflow_for_terminate_task_workflow"),
    );
    env.write(
        "flow.json",
        &corpus("terminate_task_failed_workflow_integration"),
    );
    let (code, result, _) = env.run_flow("flow.json", &["-i", "a=1"]);
    assert_eq!(code, 1, "{result}");
    assert_eq!(result["status"], "FAILED");
    assert_eq!(result["reason"], "Early exit in terminate");
    assert_eq!(result["failed_task"], "terminate0");
    assert_eq!(result["output"], json!({"result": {"testvalue": true}}));
    assert!(refs(&worker).is_empty(), "t2 never runs");
    let list = env.run(&["list", "--json"]);
    let runs: Value = serde_json::from_slice(&list.stdout).unwrap();
    let text = runs.to_string();
    assert!(
        text.contains("failure_workflow"),
        "the failure workflow was started: {text}"
    );
}

#[test]
fn a_submitted_run_takes_the_workflow_input_template_too() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write(
        "t.yaml",
        "name: t\ninputTemplate: {region: eu, size: 1}\ntasks:\n  - {name: work, taskReferenceName: a, inputParameters: {all: \"${workflow.input}\"}}\n",
    );
    let out = env.run(&["start", "t.yaml", "--json", "-i", "size=3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = &journal_records(&env)[0];
    assert_eq!(started["input"], json!({"region": "eu", "size": 3}));
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        worker.messages()[0]["input"],
        json!({"all": {"region": "eu", "size": 3}})
    );
}
