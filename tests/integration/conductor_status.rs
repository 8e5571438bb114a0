//! Conductor's status semantics through the real binary (issue 12): a timeout with no retry
//! left ends the task and the run TIMED_OUT (row 6); tasks still in flight when a run ends are
//! CANCELED (row 7).

use serde_json::Value;

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::*;

#[test]
fn row_6_a_response_timeout_with_no_retry_left_ends_the_task_and_the_run_timed_out() {
    let env = TestEnv::new();
    // The worker takes the message and never answers.
    let _agent = FakeAgent::start(&env, "w", &["slow"], 1, |_| Answer::NotYet);
    env.write(
        "flow.yaml",
        "name: rto\ntasks:\n  - {name: slow, taskReferenceName: slow, responseTimeoutSeconds: 1, retryCount: 0}\n",
    );
    let (code, doc, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{}", stderr(&out));
    assert_eq!(doc["status"], "TIMED_OUT", "{doc}");
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    let records = journal_records(&env);
    assert!(
        records.iter().any(|r| r["event"] == "task_failed"
            && r["task_ref"] == "slow"
            && r["outcome"] == "TIMED_OUT"),
        "{records:#?}"
    );
    assert!(
        records.iter().any(|r| r["event"] == "run_timed_out"),
        "{records:#?}"
    );
    let status = env.run(&["status", &run_id, "--json"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["status"], "TIMED_OUT", "{status}");
    let task = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_ref"] == "slow")
        .unwrap_or_else(|| panic!("no task slow in {status}"));
    assert_eq!(task["status"], "TIMED_OUT", "{status}");
    let log = env.run(&["log", &run_id]);
    assert!(
        stdout(&log).contains("timed out:"),
        "the attempt shows as timed out:\n{}",
        stdout(&log)
    );
    let list = env.run(&["list", "--status", "TIMED_OUT", "--json"]);
    assert!(stdout(&list).contains(&run_id), "{}", stdout(&list));
}

#[test]
fn row_8_the_output_parameters_of_a_failed_run_are_still_evaluated() {
    let env = TestEnv::new();
    let _agent = FakeAgent::start(&env, "w", &["prep", "risky"], 1, |m| {
        if m["task"] == "prep" {
            Answer::Completed(serde_json::json!({"rows": 7}))
        } else {
            Answer::Raw(crate::fake_agent::reply(
                m,
                "FAILED_WITH_TERMINAL_ERROR",
                serde_json::json!({"code": 42}),
                "the disk is gone",
            ))
        }
    });
    env.write(
        "flow.yaml",
        "name: out\ntasks:\n  - {name: prep, taskReferenceName: prep}\n  - {name: risky, taskReferenceName: risky}\noutputParameters:\n  rows: ${prep.output.rows}\n  code: ${risky.output.code}\n  why: ${risky.reasonForIncompletion}\n",
    );
    let (code, doc, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{}", stderr(&out));
    assert_eq!(doc["status"], "FAILED", "{doc}");
    assert_eq!(doc["output"]["rows"], 7, "{doc}");
    assert_eq!(
        doc["output"]["code"], 42,
        "the failed task's output is included: {doc}"
    );
    let records = journal_records(&env);
    let failed = records
        .iter()
        .find(|r| r["event"] == "run_failed")
        .expect("run_failed");
    assert_eq!(
        failed["output"]["rows"], 7,
        "journaled with the end: {failed}"
    );
    let status = env.run(&["status", doc["run_id"].as_str().unwrap(), "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["output"]["code"], 42, "{status}");
}

#[test]
fn row_7_tasks_in_flight_when_the_run_fails_become_canceled_and_their_messages_are_withdrawn() {
    let env = TestEnv::new();
    let slow = FakeAgent::start(&env, "slowpoke", &["slow"], 1, |_| Answer::NotYet);
    let _bad = FakeAgent::start(&env, "w", &["bad"], 1, |_| Answer::Failed("broken".into()));
    env.write(
        "flow.yaml",
        r#"
name: cancel
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: slow, taskReferenceName: slow}]
      - [{name: hold, taskReferenceName: hold, type: WAIT}]
      - [{name: bad, taskReferenceName: bad, retryCount: 0}]
  - {name: join, taskReferenceName: join, type: JOIN, joinOn: [slow, hold, bad]}
"#,
    );
    let (code, doc, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{}", stderr(&out));
    assert_eq!(doc["status"], "FAILED", "{doc}");
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    let records = journal_records(&env);
    let canceled: Vec<&str> = records
        .iter()
        .filter(|r| r["event"] == "task_canceled")
        .filter_map(|r| r["task_ref"].as_str())
        .collect();
    assert_eq!(canceled, ["slow", "hold"], "{records:#?}");
    let kinds = events(&records);
    assert_eq!(kinds.last().map(String::as_str), Some("run_failed"));
    // The message of the canceled task left the inbox.
    let inbox = "agents/slowpoke/1N.3OX";
    assert!(
        files_in(&env, inbox).is_empty(),
        "{:?}",
        files_in(&env, inbox)
    );
    assert_eq!(files_in(&env, &format!("{inbox}/done")).len(), 1);
    assert_eq!(slow.messages().len(), 1);
    let status = env.run(&["status", &run_id, "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    for name in ["slow", "hold"] {
        let task = status["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task_ref"] == name)
            .unwrap_or_else(|| panic!("no task {name} in {status}"));
        assert_eq!(task["status"], "CANCELED", "{status}");
    }
    let log = stdout(&env.run(&["log", &run_id]));
    assert!(!log.contains("waiting for a reply"), "{log}");
    assert!(log.contains("canceled: the run ended FAILED"), "{log}");
}
