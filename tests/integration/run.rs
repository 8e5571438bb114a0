//! `3ox run`: workflows driven through real mailboxes, with agents played by test code.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, reply};
use crate::support::{TestEnv, events, files_in, journal_records, stderr, stdout};

/// An agent that completes every task with its input and its task reference.
fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"echo": message["input"], "ref": message["task_ref"]}))
}

#[test]
fn a_sequential_workflow_passes_outputs_along_and_leaves_a_journal() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["step"], 1, echo);
    env.write(
        "flow.yaml",
        r#"
name: sequence
inputParameters: [n, label]
tasks:
  - {name: step, taskReferenceName: a, inputParameters: {n: "${workflow.input.n}", list: [1, "${workflow.input.n}"]}}
  - {name: step, taskReferenceName: b, inputParameters: {from_a: "${a.output.echo.n}", text: "a gave ${a.output.echo.n} for ${workflow.input.label}"}}
  - {name: step, taskReferenceName: c, inputParameters: {whole: "${b.output.echo}"}}
outputParameters:
  final: "${c.output.echo.whole.from_a}"
  greeting: "${b.output.echo.text}"
"#,
    );
    let (code, result, _) = env.run_flow("flow.yaml", &["--input", "n=7", "--input", "label=demo"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(
        result["output"],
        json!({"final": 7, "greeting": "a gave 7 for demo"})
    );

    let messages = worker.messages();
    let refs: Vec<_> = messages
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["a", "b", "c"]);
    assert_eq!(
        messages[0]["input"],
        json!({"n": 7, "list": [1, 7]}),
        "a whole expression keeps its type"
    );
    assert_eq!(messages[0]["version"], 1);
    assert_eq!(messages[0]["reply"]["folder"], "agents/worker/0UT.3OX");

    let records = journal_records(&env);
    let kinds = events(&records);
    assert_eq!(kinds.first().map(String::as_str), Some("run_started"));
    assert_eq!(kinds.last().map(String::as_str), Some("run_completed"));
    let order: Vec<String> = records
        .iter()
        .filter(|r| r["event"] == "task_scheduled" || r["event"] == "task_completed")
        .map(|r| {
            format!(
                "{} {}",
                r["event"].as_str().unwrap(),
                r["task_ref"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            "task_scheduled a",
            "task_completed a",
            "task_scheduled b",
            "task_completed b",
            "task_scheduled c",
            "task_completed c"
        ]
    );
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // Handled files left the mailboxes; the snapshot shows the run.
    assert!(files_in(&env, "agents/worker/1N.3OX").is_empty());
    assert!(files_in(&env, "agents/worker/0UT.3OX").is_empty());
    assert_eq!(files_in(&env, "agents/worker/1N.3OX/done").len(), 3);
    assert_eq!(files_in(&env, "agents/worker/0UT.3OX/done").len(), 3);
    let run_id = result["run_id"].as_str().unwrap();
    let snapshot: Value =
        serde_yaml::from_str(&env.read(&format!(".3ox/state/{run_id}.state.yaml"))).unwrap();
    assert_eq!(snapshot["version"], 2);
    assert_eq!(snapshot["run_id"], run_id);
    assert_eq!(snapshot["status"], "COMPLETED");
    assert_eq!(snapshot["tasks"]["c"]["status"], "COMPLETED");
}

#[test]
fn the_branches_of_a_static_fork_are_in_flight_at_the_same_time() {
    let env = TestEnv::new();
    // This agent answers nothing until all three branch tasks are in its inbox at once, so the
    // run can only finish if the branches were delivered together.
    let inbox = env.root().join("agents/worker/1N.3OX");
    let all_three_seen = std::sync::atomic::AtomicBool::new(false);
    let _worker = FakeAgent::start(&env, "worker", &["branch", "after"], 8, move |message| {
        let waiting = std::fs::read_dir(&inbox)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file() && !e.file_name().to_string_lossy().starts_with('.'))
            .count();
        if waiting >= 3 {
            all_three_seen.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if message["task"] == "branch" && !all_three_seen.load(std::sync::atomic::Ordering::Relaxed)
        {
            Answer::NotYet
        } else {
            echo(message)
        }
    });
    env.write(
        "fork.yaml",
        r#"
name: fork
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: branch, taskReferenceName: left, inputParameters: {side: left}}]
      - [{name: branch, taskReferenceName: middle, inputParameters: {side: middle}}]
      - [{name: branch, taskReferenceName: right, inputParameters: {side: right}}, {name: after, taskReferenceName: right_after}]
  - {name: join, taskReferenceName: gather, type: JOIN, joinOn: [left, middle, right_after]}
"#,
    );
    let (code, result, _) = env.run_flow("fork.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    let output = &result["output"];
    assert_eq!(output["left"]["echo"]["side"], "left");
    assert_eq!(output["middle"]["echo"]["side"], "middle");
    assert_eq!(output["right_after"]["ref"], "right_after");

    let records = journal_records(&env);
    let position = |event: &str, task: &str| {
        records
            .iter()
            .position(|r| r["event"] == event && r["task_ref"] == task)
            .unwrap()
    };
    let first_done = ["left", "middle", "right"]
        .iter()
        .map(|t| position("task_completed", t))
        .min()
        .unwrap();
    for branch in ["left", "middle", "right"] {
        assert!(
            position("task_scheduled", branch) < first_done,
            "{branch} was not in flight with the others"
        );
    }
}

#[test]
fn a_dynamic_fork_over_ten_items_runs_each_and_joins_them() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["square"], 10, |message| {
        let n = message["input"]["item"].as_i64().unwrap();
        Answer::Completed(json!({"square": n * n, "unit": message["input"]["unit"]}))
    });
    env.write(
        "dyn.yaml",
        r#"
name: dynamic
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters:
      forkTaskName: square
      forkTaskInputs: "${workflow.input.numbers}"
      unit: "${workflow.input.unit}"
  - {name: join, taskReferenceName: gather, type: JOIN}
"#,
    );
    let (code, result, _) = env.run_flow(
        "dyn.yaml",
        &[
            "-i",
            "numbers=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
            "-i",
            "unit=m2",
        ],
    );
    assert_eq!(code, 0, "{result}");
    let output = result["output"].as_object().unwrap();
    assert_eq!(output.len(), 10);
    for i in 0..10 {
        assert_eq!(
            output[&format!("_square_{i}")],
            json!({"square": i * i, "unit": "m2"})
        );
    }
    assert_eq!(worker.messages().len(), 10);
    let records = journal_records(&env);
    let expanded = records
        .iter()
        .find(|r| r["event"] == "fork_expanded")
        .unwrap();
    assert_eq!(expanded["tasks"].as_array().unwrap().len(), 10);
}

#[test]
fn an_empty_dynamic_fork_forks_nothing_and_the_run_completes() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["square"], 1, echo);
    env.write(
        "dyn.yaml",
        "name: empty\ntasks:\n  - {name: fan, taskReferenceName: fan, type: FORK_JOIN_DYNAMIC, inputParameters: {forkTaskName: square, forkTaskInputs: \"${workflow.input.numbers}\"}}\n  - {name: join, taskReferenceName: gather, type: JOIN}\n",
    );
    let (code, result, _) = env.run_flow("dyn.yaml", &["-i", "numbers=[]"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"], json!({}));
    assert!(worker.messages().is_empty());
}

const SWITCH_FLOW: &str = r#"
name: switching
tasks:
  - name: count
    taskReferenceName: count
    inputParameters: {n: "${workflow.input.n}"}
  - name: decide
    taskReferenceName: decide
    type: SWITCH
    evaluatorType: expression
    expression: "problems > 0"
    inputParameters: {problems: "${count.output.echo.n}"}
    decisionCases:
      "true":
        - {name: fix, taskReferenceName: fix_it}
    defaultCase:
      - {name: celebrate, taskReferenceName: party}
  - name: route
    taskReferenceName: route
    type: SWITCH
    evaluatorType: value-param
    expression: kind
    inputParameters: {kind: "${workflow.input.kind}"}
    decisionCases:
      small: [{name: fix, taskReferenceName: small_fix}]
      large: [{name: fix, taskReferenceName: large_fix}]
"#;

#[test]
fn a_switch_goes_either_way() {
    for (n, kind, expected) in [
        (3, "small", ["count", "fix_it", "small_fix"]),
        (0, "large", ["count", "party", "large_fix"]),
    ] {
        let env = TestEnv::new();
        let worker = FakeAgent::start(&env, "worker", &["count", "fix", "celebrate"], 1, echo);
        env.write("switch.yaml", SWITCH_FLOW);
        let (code, result, _) = env.run_flow(
            "switch.yaml",
            &["-i", &format!("n={n}"), "-i", &format!("kind={kind}")],
        );
        assert_eq!(code, 0, "{result}");
        let refs: Vec<String> = worker
            .messages()
            .iter()
            .map(|m| m["task_ref"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(refs, expected);
        let records = journal_records(&env);
        let decided = records
            .iter()
            .find(|r| r["event"] == "task_completed" && r["task_ref"] == "decide")
            .unwrap();
        assert_eq!(
            decided["output"]["evaluationResult"],
            json!([if n > 0 { "true" } else { "false" }])
        );
    }
}

#[test]
fn a_transient_failure_is_retried_with_the_configured_backoff() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["flaky"], 1, |message| {
        if message["attempt"].as_u64().unwrap() < 3 {
            Answer::Failed("disk busy".into())
        } else {
            Answer::Completed(json!({"ok": true}))
        }
    });
    env.write(
        "retry.yaml",
        "name: retrying\ntasks:\n  - name: flaky\n    taskReferenceName: flaky\n    retry: {count: 3, logic: EXPONENTIAL_BACKOFF, delay: 300ms}\n",
    );
    let (code, result, _) = env.run_flow("retry.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["retries"], 2);

    let seen = worker.seen.lock().unwrap().clone();
    let attempts: Vec<u64> = seen
        .iter()
        .map(|s| s.message["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    let ids: std::collections::HashSet<_> = seen
        .iter()
        .map(|s| s.message["task_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "each attempt has its own task id");
    // Exponential backoff: 300 ms before the first retry, 600 ms before the second.
    let gap1 = seen[1].at - seen[0].at;
    let gap2 = seen[2].at - seen[1].at;
    assert!(
        gap1 >= Duration::from_millis(300),
        "first retry after {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(600),
        "second retry after {gap2:?}"
    );
    assert!(
        gap2 < Duration::from_millis(10_000),
        "second retry far too late: {gap2:?}"
    );

    let records = journal_records(&env);
    let failures: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "task_failed")
        .collect();
    assert_eq!(failures.len(), 2);
    for (failure, expected_ms) in failures.iter().zip([300, 600]) {
        let at = chrono::DateTime::parse_from_rfc3339(failure["at"].as_str().unwrap()).unwrap();
        let due =
            chrono::DateTime::parse_from_rfc3339(failure["retry_at"].as_str().unwrap()).unwrap();
        assert_eq!((due - at).num_milliseconds(), expected_ms);
        assert_eq!(failure["outcome"], "RETRY_WAIT");
    }
}

#[test]
fn a_permanent_failure_ends_the_run_with_exit_1_and_the_reason() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["doomed", "never"], 1, |message| {
        if message["task"] == "doomed" {
            Answer::Failed(format!(
                "cannot open manifest (attempt {})",
                message["attempt"]
            ))
        } else {
            echo(message)
        }
    });
    env.write(
        "fail.yaml",
        "name: failing\ntasks:\n  - {name: doomed, taskReferenceName: doomed, retry: {count: 1, delay: 10ms}}\n  - {name: never, taskReferenceName: never}\n",
    );
    let out = crate::support::output_within(
        env.cmd(&["run", "fail.yaml", "--no-agents"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAILED"), "{text}");
    assert!(text.contains("failed task: doomed (attempt 2)"), "{text}");
    assert!(
        text.contains("reason: task `doomed` failed: cannot open manifest (attempt 2)"),
        "{text}"
    );
    assert_eq!(
        worker.messages().len(),
        2,
        "one retry, then no further task"
    );
    let kinds = events(&journal_records(&env));
    assert_eq!(kinds.last().map(String::as_str), Some("run_failed"));
}

#[test]
fn a_terminal_error_is_never_retried_and_an_optional_task_lets_the_run_go_on() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["nice_to_have", "must"], 1, |message| {
        if message["task"] == "nice_to_have" {
            Answer::Terminal("license expired".into())
        } else {
            echo(message)
        }
    });
    env.write(
        "optional.yaml",
        "name: optional\ntasks:\n  - {name: nice_to_have, taskReferenceName: extra, optional: true, retry: {count: 5, delay: 10ms}}\n  - {name: must, taskReferenceName: must, inputParameters: {extra_status: \"${extra.status}\"}}\n",
    );
    let (code, result, _) = env.run_flow("optional.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    let messages = worker.messages();
    assert_eq!(messages.len(), 2, "the terminal error was not retried");
    assert_eq!(
        messages[1]["input"]["extra_status"],
        "COMPLETED_WITH_ERRORS"
    );
}

#[test]
fn a_malformed_reply_is_moved_aside_with_a_note_and_the_run_goes_on() {
    let env = TestEnv::new();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, |message| {
        let task_id = message["task_id"].as_str().unwrap();
        Answer::Many(vec![
            Answer::Raw("status: [COMPLETED\n  this is: not yaml".into()),
            Answer::Raw(format!("task_id: {task_id}\nstatus: DONE\n")),
            Answer::Raw(reply(
                &json!({"task_id": "01NOSUCHTASK000000000000000", "token": message["token"]}),
                "COMPLETED",
                json!({}),
                "",
            )),
            Answer::Completed(json!({"fine": true})),
        ])
    });
    env.write(
        "flow.yaml",
        "name: tolerant\ntasks:\n  - {name: step, taskReferenceName: only}\n",
    );
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"], json!({"fine": true}));

    let rejected = files_in(&env, "agents/worker/0UT.3OX/rejected");
    assert_eq!(
        rejected.iter().filter(|n| n.ends_with(".why.yaml")).count(),
        3,
        "{rejected:?}"
    );
    let notes: Vec<Value> = rejected
        .iter()
        .filter(|n| n.ends_with(".why.yaml"))
        .map(|n| {
            serde_yaml::from_str(&env.read(&format!("agents/worker/0UT.3OX/rejected/{n}"))).unwrap()
        })
        .collect();
    let reasons: Vec<&str> = notes
        .iter()
        .map(|n| n["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("not valid YAML")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("status must be COMPLETED")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("no task with id `01NOSUCHTASK")),
        "{reasons:?}"
    );
    for note in &notes {
        assert_eq!(note["version"], 1);
        assert!(
            rejected.contains(&note["file"].as_str().unwrap().to_string()),
            "the refused file lies beside its note"
        );
    }
    let records = journal_records(&env);
    assert_eq!(
        records
            .iter()
            .filter(|r| r["event"] == "reply_rejected")
            .count(),
        3
    );
}

#[test]
fn a_reply_in_another_agents_outbox_is_refused() {
    let env = TestEnv::new();
    let intruder_outbox = env.root().join("agents/intruder/0UT.3OX");
    let forged = intruder_outbox.join("forged.yaml");
    let written = std::sync::atomic::AtomicBool::new(false);
    // The genuine agent answers only once the forged reply has been handled (moved away).
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, move |message| {
        if !written.swap(true, std::sync::atomic::Ordering::Relaxed) {
            crate::fake_agent::put(
                &intruder_outbox,
                "forged.yaml",
                &reply(message, "COMPLETED", json!({"forged": true}), ""),
            );
        }
        if forged.exists() {
            Answer::NotYet
        } else {
            Answer::Completed(json!({"genuine": true}))
        }
    });
    crate::fake_agent::register(&env, "intruder", &["other"], 1);
    env.write(
        "flow.yaml",
        "name: guarded\ntasks:\n  - {name: step, taskReferenceName: only}\n",
    );
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"], json!({"genuine": true}));
    let records = journal_records(&env);
    let refusal = records
        .iter()
        .find(|r| r["event"] == "reply_rejected")
        .expect("the forged reply was refused");
    assert_eq!(refusal["agent"], "intruder");
    assert!(
        refusal["reason"]
            .as_str()
            .unwrap()
            .contains("was sent to agent `worker`"),
        "{refusal}"
    );
    assert_eq!(
        files_in(&env, "agents/intruder/0UT.3OX/rejected"),
        ["forged.yaml", "forged.yaml.why.yaml"]
    );
}

#[test]
fn a_run_is_refused_before_it_starts_when_no_agent_serves_a_task() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "worker", &["step"], 1);
    env.write("flow.yaml", "name: orphan\ntasks:\n  - {name: step, taskReferenceName: a}\n  - {name: translate, taskReferenceName: b}\n");
    let out = env.run(&["run", "flow.yaml", "--no-agents"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no agent serves task `translate`"),
        "{}",
        stderr(&out)
    );
    assert!(
        !env.root()
            .join(".3ox/runs")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "no run was started"
    );
}

#[test]
fn an_invalid_workflow_is_not_started_and_its_errors_have_line_and_column() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "worker", &["step"], 1);
    env.write(
        "bad.yaml",
        "name: bad\ntasks:\n  - name: step\n    taskReferenceName: a\n    type: SIMPEL\n",
    );
    let out = env.run(&["run", "bad.yaml", "--no-agents"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.yaml:5:11"), "{err}");
    assert!(
        err.contains("SIMPLE"),
        "the hint names the nearest type: {err}"
    );
}

#[test]
fn managed_agents_are_started_from_their_command_and_serve_the_run() {
    let env = TestEnv::new();
    env.write(
        "agents/shell/agent.yaml",
        "version: 1\ncapabilities: [shout]\nconcurrency: 2\ncommand: [sh, -c, 'read input; printf \"{\\\"heard\\\": %s, \\\"attempt\\\": %s}\" \"$input\" \"$THREEOX_ATTEMPT\"']\n",
    );
    env.write("flow.yaml", "name: managed\ntasks:\n  - {name: shout, taskReferenceName: shout, inputParameters: {word: hello}}\n");
    let out = crate::support::output_within(
        env.cmd(&["run", "flow.yaml", "--json"]),
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
    assert_eq!(
        result["output"],
        json!({"heard": {"word": "hello"}, "attempt": 1})
    );
}

#[test]
fn work_is_spread_over_the_agents_that_serve_a_task_within_their_limits() {
    let env = TestEnv::new();
    let north = FakeAgent::start(&env, "north", &["cell"], 3, echo);
    let south = FakeAgent::start(&env, "south", &["cell"], 3, echo);
    env.write(
        "spread.yaml",
        "name: spread\ntasks:\n  - {name: fan, taskReferenceName: fan, type: FORK_JOIN_DYNAMIC, inputParameters: {forkTaskName: cell, forkTaskInputs: \"${workflow.input.cells}\"}}\n  - {name: join, taskReferenceName: join, type: JOIN}\n",
    );
    let (code, result, _) = env.run_flow("spread.yaml", &["-i", "cells=[a, b, c, d, e, f]"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(north.messages().len() + south.messages().len(), 6);
    assert!(
        !north.messages().is_empty() && !south.messages().is_empty(),
        "both agents got work"
    );
    // At no moment did an agent hold more than its concurrency of 3 messages.
    let records = journal_records(&env);
    let mut in_flight = std::collections::HashMap::<String, i64>::new();
    let mut agent_of = std::collections::HashMap::<String, String>::new();
    for record in &records {
        match record["event"].as_str().unwrap() {
            "task_scheduled" => {
                let agent = record["agent"].as_str().unwrap().to_string();
                agent_of.insert(
                    record["task_ref"].as_str().unwrap().to_string(),
                    agent.clone(),
                );
                let n = in_flight.entry(agent).or_default();
                *n += 1;
                assert!(*n <= 3, "more than 3 tasks in flight at one agent");
            }
            "task_completed" if record["task_id"].is_string() => {
                *in_flight
                    .get_mut(&agent_of[record["task_ref"].as_str().unwrap()])
                    .unwrap() -= 1;
            }
            _ => {}
        }
    }
}

#[test]
fn an_interrupted_run_exits_130_and_stays_running_in_the_journal() {
    let env = TestEnv::new();
    let _silent = FakeAgent::start(&env, "worker", &["wait"], 1, |_| Answer::NotYet);
    env.write(
        "flow.yaml",
        "name: patient\ntasks:\n  - {name: wait, taskReferenceName: wait}\n",
    );
    let mut child = env
        .cmd(&["run", "flow.yaml", "--no-agents"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while files_in(&env, "agents/worker/1N.3OX").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the task was never delivered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = crate::support::output_within_child(&mut child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("interrupted: the run is still RUNNING"),
        "{}",
        stdout(&out)
    );
    let kinds = events(&journal_records(&env));
    assert_eq!(kinds, ["run_started", "task_scheduled"]);
}

#[test]
fn two_runs_on_one_station_leave_each_others_replies_alone() {
    let env = TestEnv::new();
    // Replies carry no run_id here, so each orchestrator must find the owner from the message.
    let worker = FakeAgent::start(&env, "worker", &["step"], 16, |message| {
        let (task_id, token) = (
            message["task_id"].as_str().unwrap(),
            message["token"].as_str().unwrap(),
        );
        Answer::Raw(format!(
            "task_id: {task_id}\ntoken: {token}\nstatus: COMPLETED\noutput: {{ref: {}}}\n",
            message["task_ref"].as_str().unwrap()
        ))
    });
    env.write(
        "flow.yaml",
        "name: twin\ntasks:\n  - {name: fan, taskReferenceName: fan, type: FORK_JOIN_DYNAMIC, inputParameters: {forkTaskName: step, forkTaskInputs: \"${workflow.input.items}\"}}\n  - {name: join, taskReferenceName: join, type: JOIN}\n  - {name: step, taskReferenceName: last}\n",
    );
    let items = format!(
        "items=[{}]",
        (0..20)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let runs: Vec<_> = (0..2)
        .map(|_| {
            env.cmd(&["run", "flow.yaml", "--json", "--no-agents", "-i", &items])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in runs {
        let out = crate::support::output_within_child(&mut child, Duration::from_secs(60));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            stdout(&out),
            stderr(&out)
        );
        let result: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(result["output"], json!({"ref": "last"}));
    }
    assert_eq!(worker.messages().len(), 42);
    let records = journal_records(&env);
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "reply_rejected")
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn init_makes_a_station_and_a_json_workflow_runs_as_well_as_yaml() {
    let env = TestEnv::new();
    for dir in ["agents", "stations", "templates", ".3ox/runs", ".3ox/logs"] {
        assert!(env.root().join(dir).is_dir(), "3ox init made no {dir}/");
    }
    let again = env.run(&["init", "."]);
    assert!(
        again.status.success(),
        "init on an existing station keeps it"
    );
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, echo);
    env.write(
        "flow.json",
        r#"{"name": "from_json", "version": 2, "tasks": [
            {"name": "step", "taskReferenceName": "only", "type": "SIMPLE", "inputParameters": {"x": "${workflow.input.x}"}}
        ]}"#,
    );
    let (code, result, _) = env.run_flow("flow.json", &["-i", "x=[1, 2]"]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"]["echo"], json!({"x": [1, 2]}));
    assert_eq!(result["workflow"], "from_json");
}

#[test]
fn an_optional_switch_that_cannot_decide_runs_none_of_its_cases() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["fix", "after"], 1, echo);
    env.write(
        "flow.yaml",
        r#"
name: undecided
tasks:
  - name: decide
    taskReferenceName: decide
    type: SWITCH
    optional: true
    evaluatorType: expression
    expression: "missing_name > 0"
    decisionCases:
      "true": [{name: fix, taskReferenceName: yes_fix}]
    defaultCase: [{name: fix, taskReferenceName: default_fix}]
  - {name: after, taskReferenceName: after, inputParameters: {switch: "${decide.status}"}}
"#,
    );
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    let refs: Vec<String> = worker
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refs, ["after"]);
    assert_eq!(
        worker.messages()[0]["input"]["switch"],
        "COMPLETED_WITH_ERRORS"
    );
}
