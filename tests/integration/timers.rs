//! Timers through the real binary: WAIT for a duration, WAIT completed by `3ox complete`
//! (driven and undriven), a response timeout retried with the late reply refused as stale,
//! permissive tasks, the workflow's timeout (TIMED_OUT), and a WAIT's timer surviving kill -9
//! and `3ox resume`. Durations are 1-2 s; nothing sleeps longer than it must.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};

use crate::fake_agent::{self, Answer, FakeAgent};
use crate::support::*;

fn start(env: &TestEnv, flow: &str) -> String {
    let out = env.run(&["start", flow, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["run_id"].as_str().unwrap().to_string()
}

fn drive(env: &TestEnv, run_id: &str) -> Child {
    env.cmd(&["resume", run_id, "--no-agents", "--json", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn time(record: &Value, field: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(record[field].as_str().unwrap_or_else(|| panic!("{record}")))
        .unwrap()
}

fn find(records: &[Value], pred: impl Fn(&Value) -> bool) -> &Value {
    records
        .iter()
        .find(|r| pred(r))
        .unwrap_or_else(|| panic!("no such record in {records:#?}"))
}

/// Waits until the journal holds a record with `event`.
fn wait_event(env: &TestEnv, event: &str) {
    let seen = wait_for(Duration::from_secs(20), || {
        journal_records(env)
            .iter()
            .any(|r| r["event"] == event)
            .then_some(())
    });
    assert!(seen.is_some(), "no `{event}` within 20 s");
}

#[test]
fn a_wait_for_a_duration_ends_at_its_journaled_time() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: nap\ntasks:\n  - {name: nap, taskReferenceName: nap, type: WAIT, inputParameters: {duration: 1s}}\n",
    );
    let began = Instant::now();
    let (code, doc, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{}", stderr(&out));
    assert_eq!(doc["status"], "COMPLETED");
    assert!(began.elapsed() >= Duration::from_secs(1));
    let records = journal_records(&env);
    let started = find(&records, |r| r["event"] == "wait_started");
    let until = time(started, "until");
    assert_eq!((until - time(started, "at")).num_milliseconds(), 1000);
    let done = find(&records, |r| r["event"] == "task_completed");
    let at = time(done, "at");
    assert!(at >= until, "completed at {at}, before {until}");
    assert!(
        (at - until).num_milliseconds() < 3000,
        "completed {} ms late",
        (at - until).num_milliseconds()
    );
}

const APPROVAL: &str = r#"
name: approval
tasks:
  - {name: wait_for_approval, taskReferenceName: approval, type: WAIT}
outputParameters:
  approval: "${approval.output}"
"#;

#[test]
fn a_wait_is_completed_by_3ox_complete_while_driven_and_the_journal_says_who() {
    let env = TestEnv::new();
    env.write("flow.yaml", APPROVAL);
    let run_id = start(&env, "flow.yaml");
    let mut driver = drive(&env, &run_id);
    wait_event(&env, "wait_started");
    let refused = env.run(&["complete", &run_id, "nosuch"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("no task `nosuch`"),
        "{}",
        stderr(&refused)
    );
    let out = env.run(&[
        "complete",
        &run_id,
        "approval",
        "--output",
        r#"{"note": "fine"}"#,
        "--set",
        "approved=true",
        "--by",
        "ann",
        "--reason",
        "looked at it",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = output_within_child(&mut driver, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "COMPLETED");
    assert_eq!(
        doc["output"],
        json!({"approval": {"note": "fine", "approved": true}})
    );
    let records = journal_records(&env);
    let who = find(&records, |r| r["event"] == "task_updated_by");
    assert_eq!(who["by"], "ann");
    assert_eq!(who["status"], "COMPLETED");
    assert_eq!(who["reason"], "looked at it");
    let again = env.run(&["complete", &run_id, "approval"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a finished run refuses: {}",
        stderr(&again)
    );
}

#[test]
fn a_wait_nobody_drives_is_completed_directly_and_failed_runs_fail() {
    let env = TestEnv::new();
    env.write("flow.yaml", APPROVAL);
    let run_id = start(&env, "flow.yaml");
    // Drive it until it waits, then stop driving (Ctrl-C leaves it RUNNING).
    let mut driver = drive(&env, &run_id);
    wait_event(&env, "wait_started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(driver.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    output_within_child(&mut driver, Duration::from_secs(20));
    let out = env.run(&[
        "complete",
        &run_id,
        "approval",
        "--failed",
        "--reason",
        "no budget",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["via"], "direct");
    assert_eq!(doc["status"], "FAILED");
    let status = env.run(&["status", &run_id, "--json"]);
    assert!(stdout(&status).contains("no budget"), "{}", stdout(&status));
}

#[test]
fn a_response_timeout_retries_and_the_late_reply_of_the_old_attempt_is_refused_as_stale() {
    let env = TestEnv::new();
    let gate = Arc::new(AtomicBool::new(false));
    let open = gate.clone();
    let agent = FakeAgent::start(&env, "w", &["slow"], 2, move |message| {
        if message["attempt"] == 1 || !open.load(Ordering::SeqCst) {
            Answer::NotYet
        } else {
            Answer::Completed(json!({"attempt": message["attempt"]}))
        }
    });
    env.write(
        "flow.yaml",
        "name: rto\ntasks:\n  - {name: slow, taskReferenceName: slow, responseTimeoutSeconds: 1, retryCount: 3}\n",
    );
    let run_id = start(&env, "flow.yaml");
    let mut driver = drive(&env, &run_id);
    let second = wait_for(Duration::from_secs(20), || {
        agent.messages().into_iter().find(|m| m["attempt"] == 2)
    })
    .expect("attempt 2 was never delivered");
    let first = agent
        .messages()
        .into_iter()
        .find(|m| m["attempt"] == 1)
        .unwrap();
    assert_ne!(first["task_id"], second["task_id"]);
    // The first attempt's worker answers at last: too late.
    let outbox = env.root().join("agents/w/0UT.3OX");
    fake_agent::put(
        &outbox,
        "late.reply.yaml",
        &fake_agent::reply(&first, "COMPLETED", json!({"late": true}), ""),
    );
    let refused = wait_for(Duration::from_secs(20), || {
        journal_records(&env)
            .into_iter()
            .find(|r| r["event"] == "reply_rejected" && r["task_id"] == first["task_id"])
    })
    .expect("the late reply was not refused");
    assert!(
        refused["reason"].as_str().unwrap().contains("stale"),
        "{refused}"
    );
    gate.store(true, Ordering::SeqCst);
    let out = output_within_child(&mut driver, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "COMPLETED");
    assert_ne!(doc["output"]["attempt"], 1);
    let records = journal_records(&env);
    let timed_out = find(&records, |r| r["event"] == "task_timed_out");
    assert_eq!(timed_out["kind"], "response");
    assert_eq!(timed_out["task_id"], first["task_id"]);
    let scheduled = find(&records, |r| r["event"] == "task_scheduled");
    let waited = time(timed_out, "at") - time(scheduled, "at");
    assert!(
        waited.num_milliseconds() >= 1000,
        "timed out after {waited}"
    );
    assert!(
        files_in(&env, "agents/w/0UT.3OX/rejected")
            .iter()
            .any(|f| f.starts_with("late"))
    );
}

#[test]
fn a_permissive_failure_lets_the_run_finish_its_tasks_and_end_failed() {
    let env = TestEnv::new();
    let _agent = FakeAgent::start(&env, "w", &["t1", "t2"], 2, |message| {
        if message["task"] == "t1" {
            Answer::Failed("t1 broke".into())
        } else {
            Answer::Completed(json!({"done": true}))
        }
    });
    env.write(
        "flow.yaml",
        "name: perm\ntasks:\n  - {name: t1, taskReferenceName: t1, permissive: true}\n  - {name: t2, taskReferenceName: t2}\n",
    );
    let (code, doc, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{}", stderr(&out));
    assert_eq!(doc["status"], "FAILED");
    assert!(
        doc["reason"].as_str().unwrap().contains("t1 broke"),
        "{doc}"
    );
    let records = journal_records(&env);
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "task_completed" && r["task_ref"] == "t2"),
        "t2 ran after the permissive failure"
    );
}

#[test]
fn the_workflow_timeout_ends_the_run_timed_out() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: slow\ntimeoutSeconds: 1\ntasks:\n  - {name: forever, taskReferenceName: forever, type: WAIT}\n",
    );
    let (code, doc, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{}", stderr(&out));
    assert_eq!(doc["status"], "TIMED_OUT");
    let list = env.run(&["list", "--status", "TIMED_OUT", "--json"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(stdout(&list).contains("TIMED_OUT"), "{}", stdout(&list));
}

#[test]
fn a_wait_timer_survives_kill_9_and_fires_at_its_journaled_time_after_resume() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: nap\ntasks:\n  - {name: nap, taskReferenceName: nap, type: WAIT, inputParameters: {duration: 2s}}\n",
    );
    let run_id = start(&env, "flow.yaml");
    let mut first = drive(&env, &run_id);
    wait_event(&env, "wait_started");
    let status = env.run(&["status", &run_id, "--json"]);
    let view: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(view["tasks"][0]["waits_until"].is_string(), "{view}");
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = journal_records(&env);
    let started: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "wait_started")
        .collect();
    assert_eq!(
        started.len(),
        1,
        "the resumed run did not start the wait again"
    );
    let until = time(started[0], "until");
    assert_eq!(
        DateTime::parse_from_rfc3339(view["tasks"][0]["waits_until"].as_str().unwrap()).unwrap(),
        until
    );
    let done = find(&records, |r| r["event"] == "task_completed");
    let at = time(done, "at");
    assert!(
        at >= until,
        "completed at {at}, before its journaled time {until}"
    );
    assert!((at - until).num_milliseconds() < 5000);
}

#[test]
fn a_poll_timeout_takes_back_an_unclaimed_message_but_not_a_claimed_one() {
    let env = TestEnv::new();
    fake_agent::register(&env, "w", &["job"], 2);
    env.write(
        "flow.yaml",
        "name: poll\ntasks:\n  - {name: job, taskReferenceName: job, pollTimeoutSeconds: 3, timeoutPolicy: RETRY, retryCount: 1}\n",
    );
    let run_id = start(&env, "flow.yaml");
    let inbox = env.root().join("agents/w/1N.3OX");
    let outbox = env.root().join("agents/w/0UT.3OX");
    let mut driver = drive(&env, &run_id);
    // Attempt 1 is left unclaimed; attempt 2 is claimed at once and answered after its
    // poll deadline has passed.
    let message = wait_for(Duration::from_secs(20), || {
        // Only delivered messages: a `.…tmp` file is a delivery still being written and
        // is renamed away under us.
        fake_agent::visible_yaml(&inbox)
            .into_iter()
            .find_map(|path| {
                let text = std::fs::read_to_string(&path).ok()?;
                let message: Value = serde_yaml::from_str(&text).ok()?;
                (message["attempt"] == 2).then_some((path, message))
            })
    })
    .expect("attempt 2 was never delivered");
    let (path, message) = message;
    std::fs::create_dir_all(inbox.join("claimed")).unwrap();
    std::fs::rename(&path, inbox.join("claimed").join(path.file_name().unwrap())).unwrap();
    std::thread::sleep(Duration::from_millis(3300));
    fake_agent::put(
        &outbox,
        "answer.reply.yaml",
        &fake_agent::reply(&message, "COMPLETED", json!({"ok": true}), ""),
    );
    let out = output_within_child(&mut driver, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = journal_records(&env);
    let timed_out: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "task_timed_out")
        .collect();
    assert_eq!(timed_out.len(), 1, "{records:#?}");
    assert_eq!(timed_out[0]["kind"], "poll");
    let claimed = find(&records, |r| r["event"] == "task_claimed");
    assert_eq!(claimed["task_id"], message["task_id"]);
    assert!(
        files_in(&env, "agents/w/1N.3OX/done")
            .iter()
            .any(|f| f.contains(
                records
                    .iter()
                    .find(|r| r["event"] == "task_scheduled")
                    .unwrap()["task_id"]
                    .as_str()
                    .unwrap()
            )),
        "the unclaimed message was taken back into done/"
    );
}

#[test]
fn an_alert_only_workflow_timeout_is_journaled_shown_by_log_and_the_run_goes_on() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: late\ntimeoutSeconds: 1\ntimeoutPolicy: ALERT_ONLY\ntasks:\n  - {name: nap, taskReferenceName: nap, type: WAIT, inputParameters: {duration: 2s}}\n",
    );
    let (code, doc, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{}", stderr(&out));
    assert_eq!(doc["status"], "COMPLETED");
    let records = journal_records(&env);
    let alert = find(&records, |r| r["event"] == "timeout_alert");
    assert_eq!(alert["kind"], "workflow");
    let log = env.run(&["log", doc["run_id"].as_str().unwrap()]);
    assert!(stdout(&log).contains("timeout alert"), "{}", stdout(&log));
}
