//! Conductor's status semantics through the real binary (issue 12): a timeout with no retry
//! left ends the task and the run TIMED_OUT (row 6).

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
