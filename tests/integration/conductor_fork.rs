//! Issue 12 through the real binary: the places where 3ox now runs a Conductor definition the
//! way Conductor runs it (each test is named after the issue's row).

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, stderr, stdout};

/// An agent answering each task with its reference and input.
fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"ref": message["task_ref"], "got": message["input"]}))
}

fn input_of(agent: &FakeAgent, task_ref: &str) -> Value {
    agent
        .messages()
        .into_iter()
        .find(|m| m["task_ref"] == task_ref)
        .unwrap_or_else(|| panic!("no message for {task_ref}"))["input"]
        .clone()
}

#[test]
fn row_11_input_template_default_is_used_for_a_key_whose_mapped_value_is_null() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write(
        "flow.yaml",
        r#"
name: defaults
tasks:
  - name: work
    taskReferenceName: a
    taskDefinition: {inputTemplate: {region: eu}}
    inputParameters: {region: "${workflow.input.region}", size: "${workflow.input.size}"}
"#,
    );
    let (code, result, out) = env.run_flow("flow.yaml", &["-i", "size=3"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(input_of(&worker, "a"), json!({"region": "eu", "size": 3}));
}

#[test]
fn row_12_task_fields_conductor_maps_are_mapped() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write(
        "flow.yaml",
        r#"
name: fields
tasks:
  - {name: work, taskReferenceName: a}
  - name: work
    taskReferenceName: b
    inputParameters:
      ref: "${a.referenceTaskName}"
      retryCount: "${a.retryCount}"
      type: "${a.taskType}"
      status: "${a.status}"
      taskId: "${a.taskId}"
      run: "${a.workflowInstanceId}"
      defName: "${a.taskDefName}"
      worker: "${a.workerId}"
      start: "${a.startTime}"
      end: "${a.endTime}"
      iteration: "${a.iteration}"
"#,
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let a = worker
        .messages()
        .into_iter()
        .find(|m| m["task_ref"] == "a")
        .unwrap();
    let got = input_of(&worker, "b");
    assert_eq!(got["ref"], "a");
    assert_eq!(got["retryCount"], 0);
    assert_eq!(got["type"], "SIMPLE");
    assert_eq!(got["status"], "COMPLETED");
    assert_eq!(got["taskId"], a["task_id"]);
    assert_eq!(got["run"], result["run_id"]);
    assert_eq!(got["defName"], "work");
    assert_eq!(got["worker"], "worker");
    assert_eq!(got["iteration"], 0);
    let (start, end) = (got["start"].as_i64().unwrap(), got["end"].as_i64().unwrap());
    assert!(start > 1_600_000_000_000 && end >= start, "{got}");
}

#[test]
fn row_13_do_while_iterates_inputparameters_underscore_items_like_items() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write(
        "flow.yaml",
        r#"
name: each
tasks:
  - name: each
    taskReferenceName: each
    type: DO_WHILE
    loopCondition: "true"
    inputParameters: {_items: "${workflow.input.files}"}
    loopOver:
      - {name: work, taskReferenceName: file, inputParameters: {item: "${each.output.loopItem}"}}
"#,
    );
    env.write("input.json", r#"{"files": ["x", "y"]}"#);
    let (code, result, out) = env.run_flow("flow.yaml", &["--input-file", "input.json"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(input_of(&worker, "file__1"), json!({"item": "x"}));
    assert_eq!(input_of(&worker, "file__2"), json!({"item": "y"}));
    assert_eq!(worker.messages().len(), 2);
}

#[test]
fn row_13_validate_warns_about_an_always_true_loop_with_no_items() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"
name: endless
tasks:
  - name: spin
    taskReferenceName: spin
    type: DO_WHILE
    loopCondition: "true"
    loopOver:
      - {name: work, taskReferenceName: step}
"#,
    );
    let out = env.run(&["validate", "flow.yaml"]);
    let text = stdout(&out);
    assert!(text.contains("warning: the loopCondition"), "{text}");
    assert!(text.contains("always true"), "{text}");
    assert!(text.contains("flow.yaml:7:"), "{text}");
}

#[test]
fn row_4_dynamic_forks_are_named_underscore_name_index_and_get_index_input() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 2, echo);
    env.write(
        "flow.yaml",
        r#"
name: fan
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters: {forkTaskName: work, forkTaskInputs: [{n: a}, {n: b}]}
  - {name: join, taskReferenceName: join, type: JOIN}
outputParameters:
  second: "${_work_1.output.got}"
"#,
    );
    let out = env.run(&["validate", "flow.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(
        input_of(&worker, "_work_0"),
        json!({"n": "a", "__index": 0})
    );
    assert_eq!(
        input_of(&worker, "_work_1"),
        json!({"n": "b", "__index": 1})
    );
    assert_eq!(result["output"]["second"], json!({"n": "b", "__index": 1}));
}

#[test]
fn row_4_validate_warns_when_two_dynamic_forks_would_name_their_forks_alike() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"
name: twice
tasks:
  - name: one
    taskReferenceName: one
    type: FORK_JOIN_DYNAMIC
    inputParameters: {forkTaskName: work, forkTaskInputs: [1]}
  - {name: join, taskReferenceName: j1, type: JOIN}
  - name: two
    taskReferenceName: two
    type: FORK_JOIN_DYNAMIC
    inputParameters: {forkTaskName: work, forkTaskInputs: [2]}
  - {name: join, taskReferenceName: j2, type: JOIN}
"#,
    );
    let out = env.run(&["validate", "flow.yaml"]);
    let text = stdout(&out);
    assert!(text.contains("warning:"), "{text}");
    assert!(text.contains("collide"), "{text}");
    assert!(text.contains("flow.yaml:12:"), "{text}");
}

#[test]
fn row_1_join_with_subset_join_on_moves_on_when_listed_tasks_are_done() {
    let env = TestEnv::new();
    // The slow branch answers only once the task after the JOIN is journaled as completed:
    // the JOIN must not wait for it. (Answering as soon as `after` was handed to its agent
    // let both replies race on a loaded machine.)
    let runs_dir = env.root().join(".3ox/runs");
    let after_completed = move || {
        std::fs::read_dir(&runs_dir).is_ok_and(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".journal.yaml"))
                .filter_map(|e| threeox::journal::read(&e.path()).ok())
                .flat_map(|contents| contents.records)
                .any(|r| {
                    matches!(&r.change, threeox::engine::Change::TaskCompleted { task_ref, .. } if task_ref == "after")
                })
        })
    };
    let _slow = FakeAgent::start(&env, "slowpoke", &["slow"], 1, move |m| {
        if after_completed() {
            echo(m)
        } else {
            Answer::NotYet
        }
    });
    let _quick = FakeAgent::start(&env, "quick", &["work"], 2, echo);
    env.write(
        "flow.yaml",
        r#"
name: subset
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: work, taskReferenceName: a}]
      - [{name: slow, taskReferenceName: s}]
  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [a]}
  - {name: work, taskReferenceName: after, inputParameters: {joined: "${join.output}"}}
"#,
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    let records = crate::support::journal_records(&env);
    let completed: Vec<&str> = records
        .iter()
        .filter(|r| r["event"] == "task_completed")
        .filter_map(|r| r["task_ref"].as_str())
        .collect();
    let at = |t: &str| completed.iter().position(|c| *c == t).unwrap();
    assert!(at("join") < at("s"), "{completed:?}");
    assert!(
        at("after") < at("s"),
        "the run ends only after s: {completed:?}"
    );
    let join = records
        .iter()
        .find(|r| r["event"] == "task_completed" && r["task_ref"] == "join")
        .unwrap();
    assert_eq!(
        join["output"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn row_10_a_nested_expression_in_a_path_is_resolved_first() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["work"], 1, echo);
    env.write(
        "flow.yaml",
        "name: nested\ntasks:\n  - {name: work, taskReferenceName: pick, inputParameters: {item: \"${workflow.input.list[${workflow.input.i}]}\", text: \"item ${workflow.input.list[${workflow.input.i}]}!\"}}\n",
    );
    let out = env.run(&["validate", "flow.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let (code, result, out) = env.run_flow("flow.yaml", &["-i", "list=[a, b, c]", "-i", "i=1"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(
        input_of(&worker, "pick"),
        json!({"item": "b", "text": "item b!"})
    );
    // An inner reference to a task that is not defined is refused with its place.
    env.write(
        "bad.yaml",
        "name: nested\ntasks:\n  - {name: work, taskReferenceName: pick, inputParameters: {item: \"${workflow.input.list[${pik.output.i}]}\"}}\n",
    );
    let out = env.run(&["validate", "bad.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("`${pik.output.i}` refers to task `pik`"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("did you mean `pick`?"),
        "{}",
        stdout(&out)
    );
}
