//! SUB_WORKFLOW, START_WORKFLOW and `failureWorkflow` through the real binary: child runs
//! with their own journals, linked to their parents.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, register};
use crate::support::{
    TestEnv, journal_records, output_within, output_within_child, stderr, wait_for,
};

const CHILD: &str = r#"
name: child
version: 2
tasks:
  - {name: double, taskReferenceName: d, inputParameters: {x: "${workflow.input.x}"}}
outputParameters:
  result: "${d.output.y}"
"#;

/// Doubles `x`.
fn doubler(message: &Value) -> Answer {
    let x = message["input"]["x"].as_i64().unwrap_or(0);
    Answer::Completed(json!({"y": x * 2}))
}

/// The records of run `run_id`'s journal (in `.3ox/runs/`, or archived by `3ox gc`).
fn records_of(env: &TestEnv, run_id: &str) -> Vec<Value> {
    let mut path = env.root().join(format!(".3ox/runs/{run_id}.journal.yaml"));
    if !path.exists()
        && let Ok(months) = std::fs::read_dir(env.root().join(".3ox/archive"))
    {
        for month in months.flatten() {
            let archived = month.path().join(format!("{run_id}.journal.yaml"));
            if archived.exists() {
                path = archived;
            }
        }
    }
    threeox::journal::read(&path)
        .unwrap_or_else(|e| panic!("{e}"))
        .records
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

fn journals(env: &TestEnv) -> usize {
    std::fs::read_dir(env.root().join(".3ox/runs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".journal.yaml"))
        .count()
}

fn child_starts(env: &TestEnv) -> Vec<Value> {
    journal_records(env)
        .into_iter()
        .filter(|r| r["event"] == "child_run_started")
        .collect()
}

#[test]
fn a_sub_workflow_by_name_is_a_child_run_whose_output_completes_the_task() {
    let env = TestEnv::new();
    env.write("templates/child.yaml", CHILD);
    env.write(
        "parent.yaml",
        r#"
name: parent
tasks:
  - name: sub
    taskReferenceName: sub
    type: SUB_WORKFLOW
    subWorkflowParam: {name: child, version: 2}
    inputParameters: {x: "${workflow.input.x}"}
  - {name: double, taskReferenceName: again, inputParameters: {x: "${sub.output.result}"}}
"#,
    );
    let _agent = FakeAgent::start(&env, "worker", &["double"], 2, doubler);
    let (code, result, out) = env.run_flow("parent.yaml", &["-i", "x=5"]);
    assert_eq!(code, 0, "{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["output"]["y"], 20, "{result}");
    let parent = result["run_id"].as_str().unwrap();
    // The child: a run of its own, linked to its parent, with the definition it ran.
    let starts = child_starts(&env);
    assert_eq!(starts.len(), 1);
    let child = starts[0]["child_run_id"].as_str().unwrap();
    assert_eq!(
        starts[0]["workflow"]["name"], "child",
        "the definition is fixed in the parent's journal"
    );
    let child_records = records_of(&env, child);
    assert_eq!(child_records[0]["event"], "run_started");
    assert_eq!(child_records[0]["workflow"]["version"], 2);
    assert_eq!(child_records[1]["event"], "child_of");
    assert_eq!(child_records[1]["parent_run_id"], parent);
    assert_eq!(child_records[1]["parent_task_ref"], "sub");
    assert_eq!(child_records.last().unwrap()["event"], "run_completed");
    // The parent's task output: Conductor's subWorkflowId, plus the child's output.
    let done = records_of(&env, parent)
        .into_iter()
        .find(|r| r["event"] == "task_completed" && r["task_ref"] == "sub")
        .unwrap();
    assert_eq!(
        done["output"],
        json!({"subWorkflowId": child, "result": 10})
    );
    // Both are runs of the station, and each status shows the link.
    let list = env.run(&["list", "--json"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains(parent) && text.contains(child), "{text}");
    let status = env.run(&["status", parent]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(&format!("{child} COMPLETED `child` (SUB_WORKFLOW by sub)")),
        "{text}"
    );
    let status = env.run(&["status", child]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(&format!(
            "started by: run {parent} (SUB_WORKFLOW, task sub)"
        )),
        "{text}"
    );
}

#[test]
fn an_inline_sub_workflow_definition_runs_without_any_file() {
    let env = TestEnv::new();
    env.write(
        "parent.yaml",
        r#"
name: parent
tasks:
  - name: sub
    taskReferenceName: sub
    type: SUB_WORKFLOW
    inputParameters: {x: 3}
    subWorkflowParam:
      name: inline_child
      workflowDefinition:
        name: inline_child
        tasks:
          - {name: double, taskReferenceName: d, inputParameters: {x: "${workflow.input.x}"}}
"#,
    );
    let agent = FakeAgent::start(&env, "worker", &["double"], 1, doubler);
    let (code, result, out) = env.run_flow("parent.yaml", &[]);
    assert_eq!(code, 0, "{}", stderr(&out));
    assert_eq!(result["output"]["y"], 6, "{result}");
    assert!(result["output"]["subWorkflowId"].is_string());
    // The child's `${workflow.input.x}` was the child's, not mapped by the parent.
    assert_eq!(agent.messages()[0]["input"]["x"], 3);
}

#[test]
fn a_failed_child_fails_the_parent_and_retrying_the_parent_resumes_that_child() {
    let env = TestEnv::new();
    env.write(
        "workflows/two_steps.yaml",
        "name: two_steps\ntasks:\n  - {name: one, taskReferenceName: one}\n  - {name: two, taskReferenceName: two}\n",
    );
    env.write(
        "parent.yaml",
        "name: parent\ntasks:\n  - {name: sub, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: two_steps}}\n",
    );
    let twos = Arc::new(AtomicUsize::new(0));
    let seen = twos.clone();
    let agent = FakeAgent::start(&env, "worker", &["one", "two"], 1, move |m| {
        if m["task"] == "two" && seen.fetch_add(1, Ordering::SeqCst) == 0 {
            Answer::Failed("disk full".into())
        } else {
            Answer::Completed(json!({"did": m["task"]}))
        }
    });
    let (code, result, out) = env.run_flow("parent.yaml", &[]);
    assert_ne!(code, 0);
    assert_eq!(result["status"], "FAILED", "{}", stderr(&out));
    let reason = result["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("disk full"), "{reason}");
    let parent = result["run_id"].as_str().unwrap().to_string();
    let child = child_starts(&env)[0]["child_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        records_of(&env, &child).last().unwrap()["event"],
        "run_failed"
    );

    let retry = env.run(&["retry", &parent]);
    assert_eq!(retry.status.code(), Some(0), "{}", stderr(&retry));
    let resumed = output_within(
        env.cmd(&["resume", &parent, "--no-agents", "--json"]),
        Duration::from_secs(60),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let parent_records = records_of(&env, &parent);
    assert_eq!(parent_records.last().unwrap()["event"], "run_completed");
    // The same child, retried: no second child, `one` not done again.
    assert_eq!(journals(&env), 2, "no new child run");
    assert_eq!(child_starts(&env).len(), 1);
    assert!(
        parent_records
            .iter()
            .any(|r| r["event"] == "child_run_resumed"
                && r["child_run_id"] == child.as_str()
                && r["retry"] == true)
    );
    let child_records = records_of(&env, &child);
    assert!(child_records.iter().any(|r| r["event"] == "run_retried"));
    assert_eq!(child_records.last().unwrap()["event"], "run_completed");
    let tasks: Vec<Value> = agent.messages().iter().map(|m| m["task"].clone()).collect();
    assert_eq!(tasks, vec![json!("one"), json!("two"), json!("two")]);
}

#[test]
fn start_workflow_returns_the_new_run_id_at_once_and_the_child_runs() {
    let env = TestEnv::new();
    env.write("templates/child.yaml", CHILD);
    env.write(
        "parent.yaml",
        r#"
name: parent
tasks:
  - name: start_workflow
    taskReferenceName: st
    type: START_WORKFLOW
    inputParameters:
      startWorkflow: {name: child, input: {x: "${workflow.input.x}"}, correlationId: order-7}
outputParameters:
  started: "${st.output.workflowId}"
"#,
    );
    let _agent = FakeAgent::start(&env, "worker", &["double"], 1, doubler);
    let (code, result, out) = env.run_flow("parent.yaml", &["-i", "x=21"]);
    assert_eq!(code, 0, "{}", stderr(&out));
    let child = result["output"]["started"].as_str().unwrap();
    assert_eq!(child_starts(&env)[0]["kind"], "start_workflow");
    // `3ox run` waited for the whole tree: the child ran to its end too.
    let child_records = records_of(&env, child);
    assert_eq!(child_records[1]["event"], "child_of");
    let end = child_records.last().unwrap();
    assert_eq!(end["event"], "run_completed");
    assert_eq!(end["output"]["result"], 42);
}

const ORDER: &str = r#"
name: order
failureWorkflow: undo_order
tasks:
  - {name: charge, taskReferenceName: charge}
  - {name: ship, taskReferenceName: ship}
"#;

const UNDO: &str = r#"
name: undo_order
tasks:
  - name: refund
    taskReferenceName: refund
    inputParameters:
      order: "${workflow.input.orderId}"
      failed: "${workflow.input.workflowId}"
      reason: "${workflow.input.reason}"
      status: "${workflow.input.failureStatus}"
      names: "${workflow.input.failedTaskNames}"
      tasks: "${workflow.input.failedWorkflow.tasks}"
"#;

#[test]
fn a_saga_whose_last_step_fails_runs_its_compensation_once_with_what_to_undo() {
    let env = TestEnv::new();
    env.write("templates/undo_order.yaml", UNDO);
    env.write("order.yaml", ORDER);
    let agent =
        FakeAgent::start(
            &env,
            "worker",
            &["charge", "ship", "refund"],
            1,
            |m| match m["task"].as_str() {
                Some("ship") => Answer::Terminal("no courier".into()),
                Some("charge") => Answer::Completed(json!({"chargeId": "ch-9"})),
                _ => Answer::Completed(
                    json!({"refunded": m["input"]["tasks"][0]["outputData"]["chargeId"]}),
                ),
            },
        );
    let (code, result, out) = env.run_flow("order.yaml", &["-i", "orderId=A-1"]);
    assert_ne!(code, 0);
    assert_eq!(result["status"], "FAILED", "{}", stderr(&out));
    let order = result["run_id"].as_str().unwrap().to_string();
    // `3ox run` waited for the failure workflow too.
    let refund = agent
        .messages()
        .into_iter()
        .find(|m| m["task"] == "refund")
        .expect("the failure workflow ran");
    let input = &refund["input"];
    assert_eq!(input["order"], "A-1", "the original input is passed on");
    assert_eq!(input["failed"], order.as_str());
    assert_eq!(input["status"], "FAILED");
    assert!(
        input["reason"].as_str().unwrap().contains("no courier"),
        "{input}"
    );
    assert_eq!(input["names"], json!(["ship"]));
    let statuses: Vec<(Value, Value)> = input["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["referenceTaskName"].clone(), t["status"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (json!("charge"), json!("COMPLETED")),
            (json!("ship"), json!("FAILED_WITH_TERMINAL_ERROR"))
        ]
    );
    // What the compensation undoes: the charge that completed, by its id.
    assert_eq!(input["tasks"][0]["outputData"]["chargeId"], "ch-9");
    let starts = child_starts(&env);
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["kind"], "failure_workflow");
    let undo = starts[0]["child_run_id"].as_str().unwrap().to_string();
    // The failed run's journal records how its compensation ended.
    assert!(
        records_of(&env, &order)
            .iter()
            .any(|r| r["event"] == "child_run_ended"
                && r["child_run_id"] == undo.as_str()
                && r["status"] == "COMPLETED")
    );
    let undone = records_of(&env, &undo).last().cloned().unwrap();
    assert_eq!(undone["event"], "run_completed");
    assert_eq!(undone["output"]["refunded"], "ch-9");
    // Taking the ended run over again starts nothing more.
    let again = output_within(
        env.cmd(&["resume", &order, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert!(
        again.status.success() || again.status.code() == Some(1),
        "{}",
        stderr(&again)
    );
    assert_eq!(child_starts(&env).len(), 1);
    assert_eq!(journals(&env), 2);
}

#[test]
fn a_definition_that_starts_itself_through_another_is_refused_before_it_runs() {
    let env = TestEnv::new();
    register(&env, "worker", &["step"], 1);
    env.write(
        "workflows/ping.yaml",
        "name: ping\ntasks:\n  - {name: pong, taskReferenceName: pong, type: SUB_WORKFLOW, subWorkflowParam: {name: pong}}\n",
    );
    env.write(
        "workflows/pong.yaml",
        "name: pong\ntasks:\n  - {name: step, taskReferenceName: s}\n  - {name: ping, taskReferenceName: back, type: START_WORKFLOW, inputParameters: {startWorkflow: {name: ping}}}\n",
    );
    let out = env.run(&["validate", "workflows/ping.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ping -> pong -> ping"), "{text}");
    assert!(text.contains("ping.yaml:3:5"), "{text}");
    let run = env.run(&["run", "workflows/ping.yaml", "--no-agents"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("starts itself"), "{}", stderr(&run));
    assert_eq!(journals(&env), 0, "no run was started");
    // A name the station does not have: refused with where to put it.
    env.write(
        "lost.yaml",
        "name: lost\ntasks:\n  - {name: x, taskReferenceName: x, type: SUB_WORKFLOW, subWorkflowParam: {name: nowhere}}\n",
    );
    let run = env.run(&["run", "lost.yaml", "--no-agents"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        stderr(&run).contains("templates/nowhere.yaml"),
        "{}",
        stderr(&run)
    );
}

/// kill -9 of the parent's driver while its child waits; then the two states a crash can
/// leave: the child decided in the parent's journal but never created (its journal and
/// message removed, exactly what a kill between the two writes leaves), and a child that ended
/// while nobody drove the parent.
#[test]
fn after_kill_9_a_decided_child_is_created_once_and_an_ended_one_is_noticed() {
    let env = TestEnv::new();
    env.write("templates/child.yaml", CHILD);
    env.write(
        "parent.yaml",
        "name: parent\ntasks:\n  - {name: sub, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: child}, inputParameters: {x: 1}}\n",
    );
    let hold = Arc::new(AtomicUsize::new(1));
    let gate = hold.clone();
    let agent = FakeAgent::start(&env, "worker", &["double"], 1, move |m| {
        if gate.load(Ordering::SeqCst) == 1 {
            Answer::NotYet
        } else {
            doubler(m)
        }
    });
    for case in ["never created", "ended meanwhile"] {
        let mut run = env
            .cmd(&["run", "parent.yaml", "--no-agents", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let message = wait_for(Duration::from_secs(30), || {
            agent
                .messages()
                .into_iter()
                .find(|m| m["task"] == "double" && !agent_done(&env, m["run_id"].as_str().unwrap()))
        })
        .expect("the child's task reached the agent");
        run.kill().unwrap();
        let _ = run.wait();
        let child = message["run_id"].as_str().unwrap().to_string();
        let parent = child_starts(&env)
            .into_iter()
            .find(|r| r["child_run_id"] == child.as_str())
            .map(|_| parent_of(&env, &child))
            .unwrap();
        if case == "never created" {
            std::fs::remove_file(env.root().join(format!(".3ox/runs/{child}.journal.yaml")))
                .unwrap();
            let inbox = env.root().join("agents/worker/1N.3OX");
            for entry in std::fs::read_dir(&inbox).unwrap().flatten() {
                if entry.path().is_file() {
                    std::fs::remove_file(entry.path()).unwrap();
                }
            }
            hold.store(0, Ordering::SeqCst);
        } else {
            hold.store(0, Ordering::SeqCst);
            let alone = output_within(
                env.cmd(&["resume", &child, "--no-agents", "--json"]),
                Duration::from_secs(30),
            );
            assert!(alone.status.success(), "{}", stderr(&alone));
            assert_eq!(
                records_of(&env, &child).last().unwrap()["event"],
                "run_completed"
            );
            // And even collected by gc before the parent looks: found in the archive.
            let gc = env.run(&["gc", "--older-than", "0s"]);
            assert!(gc.status.success(), "{}", stderr(&gc));
            assert!(
                !env.root()
                    .join(format!(".3ox/runs/{child}.journal.yaml"))
                    .exists(),
                "the child was archived"
            );
        }
        let mut resume = env
            .cmd(&["resume", &parent, "--no-agents", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = output_within_child(&mut resume, Duration::from_secs(60));
        assert!(out.status.success(), "{case}: {}", stderr(&out));
        let parent_records = records_of(&env, &parent);
        let end = parent_records.last().unwrap();
        assert_eq!(end["event"], "run_completed", "{case}");
        assert_eq!(end["output"]["result"], 2, "{case}");
        // One decision, one child, under the id chosen before the crash.
        let decided: Vec<&Value> = parent_records
            .iter()
            .filter(|r| r["event"] == "child_run_started")
            .collect();
        assert_eq!(decided.len(), 1, "{case}");
        assert_eq!(decided[0]["child_run_id"], child.as_str(), "{case}");
        let child_records = records_of(&env, &child);
        assert_eq!(
            child_records
                .iter()
                .filter(|r| r["event"] == "run_started")
                .count(),
            1,
            "{case}"
        );
        if case == "ended meanwhile" {
            // Not created again from the archive's absence in .3ox/runs/, not run twice.
            assert!(
                !env.root()
                    .join(format!(".3ox/runs/{child}.journal.yaml"))
                    .exists(),
                "the collected child was created again"
            );
            let runs_of_child = agent
                .messages()
                .iter()
                .filter(|m| m["run_id"] == child.as_str())
                .count();
            assert_eq!(runs_of_child, 1);
        }
        hold.store(1, Ordering::SeqCst);
    }
}

/// Whether the run's journal says it ended.
fn agent_done(env: &TestEnv, run_id: &str) -> bool {
    let path = env.root().join(format!(".3ox/runs/{run_id}.journal.yaml"));
    threeox::journal::read(&path).is_ok_and(|c| {
        c.records.last().is_some_and(|r| {
            let v = serde_json::to_value(r).unwrap();
            v["event"] == "run_completed" || v["event"] == "run_failed"
        })
    })
}

/// The parent of child run `child`, from the parents' journals.
fn parent_of(env: &TestEnv, child: &str) -> String {
    let dir = env.root().join(".3ox/runs");
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run) = name.strip_suffix(".journal.yaml") else {
            continue;
        };
        if records_of(env, run)
            .iter()
            .any(|r| r["event"] == "child_run_started" && r["child_run_id"] == child)
        {
            return run.to_string();
        }
    }
    panic!("no parent for {child}")
}

#[test]
fn terminating_the_parent_terminates_its_running_child() {
    let env = TestEnv::new();
    env.write("templates/child.yaml", CHILD);
    env.write(
        "parent.yaml",
        "name: parent\ntasks:\n  - {name: sub, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: child}, inputParameters: {x: 1}}\n",
    );
    let agent = FakeAgent::start(&env, "worker", &["double"], 1, |_| Answer::NotYet);
    let mut run = env
        .cmd(&["run", "parent.yaml", "--no-agents", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let message = wait_for(Duration::from_secs(30), || {
        agent.messages().into_iter().next()
    })
    .expect("the child's task reached the agent");
    let child = message["run_id"].as_str().unwrap().to_string();
    let parent = parent_of(&env, &child);
    let term = env.run(&["terminate", &parent, "--reason", "stop it"]);
    assert_eq!(term.status.code(), Some(0), "{}", stderr(&term));
    let out = output_within_child(&mut run, Duration::from_secs(30));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "TERMINATED");
    let end = records_of(&env, &child).last().cloned().unwrap();
    assert_eq!(end["event"], "run_terminated", "{end}");
    assert_eq!(end["by"], format!("run {parent}"));
}

#[test]
fn malformed_child_references_are_refused_at_their_line() {
    let env = TestEnv::new();
    env.write(
        "bad.yaml",
        r#"name: bad
failureWorkflow: [undo]
tasks:
  - {name: a, taskReferenceName: a, type: SUB_WORKFLOW}
  - {name: b, taskReferenceName: b, type: SUB_WORKFLOW, subWorkflowParam: {name: 7}}
  - {name: c, taskReferenceName: c, type: SUB_WORKFLOW, subWorkflowParam: {name: x, version: two}}
  - {name: d, taskReferenceName: d, type: START_WORKFLOW, inputParameters: {startWorkflow: 5}}
  - {name: e, taskReferenceName: e, type: START_WORKFLOW, inputParameters: {startWorkflow: {name: x, input: [1]}}}
  - {name: f, taskReferenceName: f, type: SUB_WORKFLOW, subWorkflowParam: {workflowDefinition: {name: inner}}}
  - {name: g, taskReferenceName: g, type: SUB_WORKFLOW, subWorkflowParam: {name: ../../etc/passwd}}
"#,
    );
    let out = env.run(&["validate", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    for (expected, at) in [
        (
            "`failureWorkflow` must be the name of a workflow (plain text), not a list",
            "bad.yaml:2:18",
        ),
        (
            "task `a` is a SUB_WORKFLOW without `subWorkflowParam`",
            "bad.yaml:4:5",
        ),
        (
            "`subWorkflowParam.name` of task `b` must be a workflow's name, not the number `7`",
            "bad.yaml:5:82",
        ),
        (
            "`subWorkflowParam.version` of task `c` must be a whole number",
            "bad.yaml:6:",
        ),
        (
            "`startWorkflow` of task `d` must be a mapping",
            "bad.yaml:7:",
        ),
        (
            "`startWorkflow.input` of task `e` must be a mapping",
            "bad.yaml:8:",
        ),
        (
            "the inline `workflowDefinition` of task `f`: the workflow has no `tasks`",
            "bad.yaml:9:",
        ),
        (
            "`subWorkflowParam.name` of task `g`: `../../etc/passwd` is not usable as a workflow name",
            "bad.yaml:10:",
        ),
    ] {
        let found = text
            .split("error: ")
            .find(|d| d.contains(expected))
            .unwrap_or_else(|| panic!("no `{expected}` in:\n{text}"));
        assert!(found.contains(at), "{expected} not at {at}:\n{found}");
    }
}

#[test]
fn up_drives_a_submitted_parent_and_all_its_children() {
    let env = TestEnv::new();
    env.write("templates/child.yaml", CHILD);
    env.write(
        "parent.yaml",
        r#"
name: parent
tasks:
  - {name: sub, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: child}, inputParameters: {x: 1}}
  - name: start
    taskReferenceName: st
    type: START_WORKFLOW
    inputParameters: {startWorkflow: {name: child, input: {x: "${sub.output.result}"}}}
"#,
    );
    let agent = FakeAgent::start(&env, "worker", &["double"], 2, doubler);
    let submitted = env.run(&["start", "parent.yaml"]);
    assert!(submitted.status.success(), "{}", stderr(&submitted));
    let up = output_within(
        env.cmd(&["up", "--until-idle", "--no-agents"]),
        Duration::from_secs(60),
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let ends: Vec<Value> = journal_records(&env)
        .into_iter()
        .filter(|r| r["event"] == "run_completed")
        .collect();
    assert_eq!(ends.len(), 3, "parent and both children completed");
    assert_eq!(journals(&env), 3);
    let inputs: Vec<Value> = agent
        .messages()
        .iter()
        .map(|m| m["input"]["x"].clone())
        .collect();
    assert_eq!(inputs, vec![json!(1), json!(2)]);
}

/// `3ox run` waits for a started child after its parent ended; Ctrl-C stops the waiting (the
/// child stays RUNNING) and `3ox resume` finishes it.
#[test]
fn ctrl_c_while_run_waits_for_a_started_child_leaves_it_for_resume() {
    let env = TestEnv::new();
    env.write("templates/child.yaml", CHILD);
    env.write(
        "parent.yaml",
        "name: parent\ntasks:\n  - {name: st, taskReferenceName: st, type: START_WORKFLOW, inputParameters: {startWorkflow: {name: child, input: {x: 4}}}}\n",
    );
    let hold = Arc::new(AtomicUsize::new(1));
    let gate = hold.clone();
    let agent = FakeAgent::start(&env, "worker", &["double"], 1, move |m| {
        if gate.load(Ordering::SeqCst) == 1 {
            Answer::NotYet
        } else {
            doubler(m)
        }
    });
    let mut run = env
        .cmd(&["run", "parent.yaml", "--no-agents", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let message = wait_for(Duration::from_secs(30), || {
        agent.messages().into_iter().next()
    })
    .expect("the child's task reached the agent");
    let child = message["run_id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        run.try_wait().unwrap().is_none(),
        "`3ox run` waits for the child"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = output_within_child(&mut run, Duration::from_secs(20));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED", "the parent itself had ended");
    assert_eq!(
        records_of(&env, &child).last().unwrap()["event"],
        "task_scheduled"
    );
    hold.store(0, Ordering::SeqCst);
    let resumed = output_within(
        env.cmd(&["resume", &child, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let end = records_of(&env, &child).last().cloned().unwrap();
    assert_eq!(end["event"], "run_completed");
    assert_eq!(end["output"]["result"], 8);
}

/// Conductor's own `workflow_that_starts_another_workflow.json` (from the corpus, unchanged):
/// the whole start request comes from the run's input.
const CONDUCTOR_STARTER: &str = r#"{
  "name": "workflow_that_starts_another_workflow",
  "description": "A workflow that uses START_WORKFLOW task to start another workflow",
  "version": 1,
  "tasks": [
    {
      "name": "start_workflow",
      "taskReferenceName": "st",
      "inputParameters": {
        "startWorkflow": "${workflow.input.startWorkflow}"
      },
      "type": "START_WORKFLOW"
    }
  ],
  "inputParameters": ["start_workflow"],
  "outputParameters": {},
  "schemaVersion": 2,
  "restartable": true,
  "workflowStatusListenerEnabled": false,
  "timeoutPolicy": "ALERT_ONLY",
  "timeoutSeconds": 0,
  "ownerEmail": "test@harness.com"
}"#;

#[test]
fn conductors_start_workflow_definition_runs_with_the_request_in_its_input() {
    let env = TestEnv::new();
    env.write(
        "workflows/child.json",
        &serde_json::to_string(&serde_yaml::from_str::<Value>(CHILD).unwrap()).unwrap(),
    );
    env.write("starter.json", CONDUCTOR_STARTER);
    let _agent = FakeAgent::start(&env, "worker", &["double"], 1, doubler);
    let (code, result, out) = env.run_flow(
        "starter.json",
        &[
            "-i",
            "startWorkflow={name: child, version: 2, input: {x: 8}}",
        ],
    );
    assert_eq!(code, 0, "{}", stderr(&out));
    let child = child_starts(&env)[0]["child_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = records_of(&env, result["run_id"].as_str().unwrap())
        .into_iter()
        .find(|r| r["event"] == "task_completed")
        .unwrap();
    assert_eq!(done["output"], json!({"workflowId": child}));
    let child_records = records_of(&env, &child);
    assert_eq!(
        child_records[0]["workflow"]["name"], "child",
        "looked up when the child started"
    );
    assert_eq!(child_records.last().unwrap()["output"]["result"], 16);
    // A request naming a workflow the station does not have: the run goes on, the child fails
    // to start and the parent records why.
    let (code, result, _) = env.run_flow("starter.json", &["-i", "startWorkflow={name: nowhere}"]);
    assert_eq!(code, 0);
    let parent = result["run_id"].as_str().unwrap().to_string();
    let ended = records_of(&env, &parent)
        .into_iter()
        .find(|r| r["event"] == "child_run_ended")
        .expect("the failed start is recorded");
    assert_eq!(ended["status"], "FAILED");
    assert!(
        ended["reason"]
            .as_str()
            .unwrap()
            .contains("templates/nowhere.yaml"),
        "{ended}"
    );
}

/// kill -9 at random moments while a parent drives five children (four SUB_WORKFLOW in a
/// fork, one START_WORKFLOW): every decided child is created exactly once under the id the
/// parent chose, each runs its task once, and the tree completes.
#[test]
fn a_tree_of_runs_survives_kill_9_at_random_moments_and_starts_each_child_once() {
    let env = TestEnv::new();
    env.write("templates/child.yaml", CHILD);
    let sub = |i: usize| {
        format!(
            "      - [{{name: sub, taskReferenceName: s{i}, type: SUB_WORKFLOW, subWorkflowParam: {{name: child}}, inputParameters: {{x: {i}}}}}]\n"
        )
    };
    env.write(
        "parent.yaml",
        &format!(
            "name: parent\ntasks:\n  - name: fan\n    taskReferenceName: fan\n    type: FORK_JOIN\n    forkTasks:\n{}  - {{name: join, taskReferenceName: join, type: JOIN}}\n  - {{name: st, taskReferenceName: st, type: START_WORKFLOW, inputParameters: {{startWorkflow: {{name: child, input: {{x: 10}}}}}}}}\n",
            (0..4).map(sub).collect::<String>()
        ),
    );
    let agent = FakeAgent::start(&env, "worker", &["double"], 8, |m| {
        std::thread::sleep(Duration::from_millis(150));
        doubler(m)
    });
    let submitted = env.run(&["start", "parent.yaml"]);
    assert!(submitted.status.success(), "{}", stderr(&submitted));
    let parent = String::from_utf8_lossy(&submitted.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("subflow crash test seed {seed}");
    let mut kills = 0;
    for _ in 0..20 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let pause = Duration::from_millis(5 + (seed >> 33) % 60);
        let mut driver = env
            .cmd(&["resume", &parent, "--no-agents", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(pause);
        if driver.try_wait().unwrap().is_some() {
            break;
        }
        driver.kill().unwrap();
        let _ = driver.wait();
        kills += 1;
    }
    let last = output_within(
        env.cmd(&["resume", &parent, "--no-agents", "--json"]),
        Duration::from_secs(60),
    );
    assert!(last.status.success(), "{}", stderr(&last));
    // Runs a START_WORKFLOW child may still be finishing in: drive whatever is left.
    let rest = output_within(env.cmd(&["resume", "--no-agents"]), Duration::from_secs(60));
    assert!(rest.status.success(), "{}", stderr(&rest));
    eprintln!("subflow crash test: {kills} kills");

    let parent_records = records_of(&env, &parent);
    assert!(
        parent_records.iter().any(|r| r["event"] == "run_completed"),
        "the parent completed (seed {seed})"
    );
    let decided: Vec<String> = parent_records
        .iter()
        .filter(|r| r["event"] == "child_run_started")
        .map(|r| r["child_run_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        decided.len(),
        5,
        "one decision per child task (seed {seed})"
    );
    assert_eq!(
        journals(&env),
        6,
        "no child created twice or orphaned (seed {seed})"
    );
    for child in &decided {
        let records = records_of(&env, child);
        assert_eq!(
            records
                .iter()
                .filter(|r| r["event"] == "run_started")
                .count(),
            1
        );
        // (A late duplicate reply to a redelivered message may be refused after the end.)
        assert!(
            records.iter().any(|r| r["event"] == "run_completed"),
            "{child} completed (seed {seed})"
        );
        let attempts: std::collections::HashSet<String> = records
            .iter()
            .filter(|r| r["event"] == "task_scheduled")
            .map(|r| r["task_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            attempts.len(),
            1,
            "{child}'s task dispatched once (seed {seed})"
        );
    }
    let answered: std::collections::HashSet<String> = agent
        .messages()
        .iter()
        .map(|m| m["run_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(answered.len(), 5);
}
