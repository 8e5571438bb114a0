//! Operations that change runs (`pause`, `resume RUN`, `terminate`, `retry`, `restart`,
//! `rerun --from`, `skip`): on a run a live `3ox resume --no-agents` drives (the request goes
//! through `.3ox/control/<run>/`), and on a run nobody drives (applied directly).

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::*;

const CHAIN: &str = r#"
name: chain
tasks:
  - {name: work, taskReferenceName: a}
  - {name: work, taskReferenceName: b}
  - {name: work, taskReferenceName: c}
"#;

fn start(env: &TestEnv, extra: &[&str]) -> String {
    env.write("chain.yaml", CHAIN);
    let mut args = vec!["start", "chain.yaml", "--json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["run_id"].as_str().unwrap().to_string()
}

/// A live driver of `run_id`.
fn drive(env: &TestEnv, run_id: &str) -> Child {
    env.cmd(&["resume", run_id, "--no-agents", "--json", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// An agent `w` serving `work` that answers COMPLETED (with its task reference) only while
/// `gate` is open, and never for the references in `hold`.
fn gated_agent(env: &TestEnv, gate: &Arc<AtomicBool>, hold: &'static [&'static str]) -> FakeAgent {
    let gate = gate.clone();
    FakeAgent::start(env, "w", &["work"], 1, move |m| {
        let task_ref = m["task_ref"].as_str().unwrap_or_default();
        if gate.load(Ordering::SeqCst) && !hold.contains(&task_ref) {
            Answer::Completed(json!({"ref": task_ref}))
        } else {
            Answer::NotYet
        }
    })
}

fn refs(agent: &FakeAgent) -> Vec<String> {
    agent
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap().to_string())
        .collect()
}

fn wait_seen(agent: &FakeAgent, count: usize) {
    wait_for(Duration::from_secs(3), || {
        (agent.messages().len() >= count).then_some(())
    })
    .unwrap_or_else(|| panic!("the agent saw {:?}, not {count} messages", refs(agent)));
}

fn record<'a>(records: &'a [Value], event: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["event"] == event)
        .unwrap_or_else(|| panic!("no {event} in {:?}", events(records)))
}

fn ok(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(out), stderr(out));
    stderr(out)
}

fn refused(out: &std::process::Output, needle: &str) {
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(out), stderr(out));
    assert!(stderr(out).contains(needle), "{}", stderr(out));
    assert!(stderr(out).contains("hint:"), "{}", stderr(out));
}

#[test]
fn a_paused_run_delivers_nothing_new_until_resumed_while_its_driver_runs() {
    let env = TestEnv::new();
    let gate = Arc::new(AtomicBool::new(false));
    let agent = gated_agent(&env, &gate, &[]);
    let run_id = start(&env, &[]);
    let mut driver = ChildGuard(drive(&env, &run_id));
    wait_seen(&agent, 1);

    let out = env.run(&[
        "pause",
        &run_id[..8],
        "--by",
        "alice",
        "--reason",
        "look first",
    ]);
    assert!(ok(&out).contains("pause applied by alice"));
    refused(&env.run(&["pause", &run_id]), "already paused");
    // The reply to the task in flight still applies, but b is not delivered.
    gate.store(true, Ordering::SeqCst);
    let completed = wait_for(Duration::from_secs(3), || {
        let text =
            std::fs::read_to_string(env.root().join(format!(".3ox/runs/{run_id}.journal.yaml")))
                .ok()?;
        text.contains("task_completed").then_some(())
    });
    assert!(completed.is_some());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(refs(&agent), ["a"], "nothing new is delivered while paused");
    let status: Value =
        serde_json::from_slice(&env.run(&["status", &run_id, "--json"]).stdout).unwrap();
    assert_eq!(
        (status["status"].as_str(), status["paused"].as_bool()),
        (Some("RUNNING"), Some(true))
    );

    let out = env.run(&["resume", &run_id, "--by", "bob"]);
    assert!(ok(&out).contains("resume applied by bob"));
    let out = output_within_child(&mut driver.0, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(refs(&agent), ["a", "b", "c"]);
    let records = journal_records(&env);
    let paused = record(&records, "run_paused");
    assert_eq!(
        (paused["by"].as_str(), paused["reason"].as_str()),
        (Some("alice"), Some("look first"))
    );
    assert!(paused["uid"].is_u64(), "{paused}");
    assert_eq!(record(&records, "run_resumed")["by"], "bob");
    // Each request is filed with its result.
    let done = files_in(&env, &format!(".3ox/control/{run_id}/done"));
    assert_eq!(
        done.iter().filter(|f| f.ends_with(".result.yaml")).count(),
        3,
        "{done:?}"
    );
}

#[test]
fn terminate_ends_a_driven_run_with_the_reason_and_later_operations_are_refused() {
    let env = TestEnv::new();
    let gate = Arc::new(AtomicBool::new(false));
    let agent = gated_agent(&env, &gate, &[]);
    let run_id = start(&env, &[]);
    let mut driver = ChildGuard(drive(&env, &run_id));
    wait_seen(&agent, 1);

    let out = env.run(&[
        "terminate",
        &run_id,
        "--reason",
        "wrong input",
        "--by",
        "carol",
        "--json",
    ]);
    ok(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            doc["outcome"].as_str(),
            doc["via"].as_str(),
            doc["status"].as_str()
        ),
        (Some("applied"), Some("driver"), Some("TERMINATED"))
    );
    let out = output_within_child(&mut driver.0, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "TERMINATED");
    let records = journal_records(&env);
    let ended = record(&records, "run_terminated");
    assert_eq!(
        (ended["by"].as_str(), ended["reason"].as_str()),
        (Some("carol"), Some("wrong input"))
    );
    let log: Value = serde_json::from_slice(&env.run(&["log", &run_id, "--json"]).stdout).unwrap();
    let op = &log["operations"][0];
    assert_eq!(
        (op["event"].as_str(), op["by"].as_str()),
        (Some("run_terminated"), Some("carol"))
    );
    let text = stdout(&env.run(&["log", &run_id]));
    assert!(text.contains("terminated by carol: wrong input"), "{text}");
    // The message in flight left the inbox.
    assert!(
        files_in(&env, "agents/w/1N.3OX")
            .iter()
            .all(|f| !f.ends_with(".task.yaml"))
    );

    refused(&env.run(&["pause", &run_id]), "has ended (TERMINATED)");
    refused(&env.run(&["terminate", &run_id]), "has ended");
    // (A retry would run its canceled task again, as Conductor's: see the engine's tests.)
    refused(&env.run(&["skip", &run_id, "b"]), "has ended");
    let out = env.run(&["pause", "ZZZZ"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Collecting the run takes its control requests along.
    assert!(
        env.root()
            .join(format!(".3ox/control/{run_id}/done"))
            .is_dir()
    );
    ok(&env.run(&["gc", "--older-than", "0s", "--delete"]));
    assert!(!env.root().join(format!(".3ox/control/{run_id}")).exists());
}

#[test]
fn skip_lets_a_driven_run_complete_and_refuses_done_or_unknown_tasks() {
    let env = TestEnv::new();
    let gate = Arc::new(AtomicBool::new(true));
    let agent = gated_agent(&env, &gate, &["b"]);
    let run_id = start(&env, &[]);
    let mut driver = ChildGuard(drive(&env, &run_id));
    wait_seen(&agent, 2);

    refused(
        &env.run(&["skip", &run_id, "a"]),
        "only a task that is pending or failed",
    );
    refused(&env.run(&["skip", &run_id, "nope"]), "no task `nope`");
    ok(&env.run(&[
        "skip",
        &run_id,
        "b",
        "--by",
        "dave",
        "--reason",
        "not needed",
    ]));
    let out = output_within_child(&mut driver.0, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(refs(&agent), ["a", "b", "c"]);
    let records = journal_records(&env);
    let log = stdout(&env.run(&["log", &run_id]));
    assert!(log.contains("task b (SIMPLE): SKIPPED"), "{log}");
    assert!(log.contains("skipped by dave: not needed"), "{log}");
    let skipped = record(&records, "task_skipped");
    assert_eq!(
        (skipped["task_ref"].as_str(), skipped["by"].as_str()),
        (Some("b"), Some("dave"))
    );
    let status: Value =
        serde_json::from_slice(&env.run(&["status", &run_id, "--json"]).stdout).unwrap();
    assert_eq!(status["status"], "COMPLETED");
}

#[test]
fn retry_of_an_undriven_failed_run_makes_a_new_attempt_and_keeps_completed_work() {
    let env = TestEnv::new();
    let failed_once = Arc::new(AtomicBool::new(false));
    let flag = failed_once.clone();
    let agent = FakeAgent::start(&env, "w", &["work"], 1, move |m| {
        if m["task_ref"] == "b" && !flag.swap(true, Ordering::SeqCst) {
            Answer::Terminal("disk full".into())
        } else {
            Answer::Completed(json!({"ref": m["task_ref"]}))
        }
    });
    env.write("chain.yaml", CHAIN);
    let (code, result, _) = env.run_flow("chain.yaml", &[]);
    assert_eq!((code, result["status"].as_str()), (1, Some("FAILED")));
    let run_id = result["run_id"].as_str().unwrap().to_string();
    refused(
        &env.run(&["rerun", &run_id, "--from", "c"]),
        "has not run yet",
    );

    ok(&env.run(&["retry", &run_id, "--by", "erin"]));
    refused(
        &env.run(&["retry", &run_id]),
        "is RUNNING; only a FAILED or TIMED_OUT run",
    );
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json", "-q"]),
        Duration::from_secs(5),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(refs(&agent), ["a", "b", "b", "c"]);
    let messages = agent.messages();
    assert_ne!(
        messages[1]["task_id"], messages[2]["task_id"],
        "a new task id"
    );
    assert_eq!(messages[2]["attempt"], 2);
    let records = journal_records(&env);
    let retried = record(&records, "run_retried");
    assert_eq!(
        (retried["by"].as_str(), retried["tasks"].clone()),
        (Some("erin"), json!(["b"]))
    );
}

#[test]
fn rerun_from_a_task_runs_it_and_what_follows_and_restart_runs_the_same_run_again() {
    let env = TestEnv::new();
    let agent = FakeAgent::start(&env, "w", &["work"], 1, |m| {
        Answer::Completed(json!({"ref": m["task_ref"]}))
    });
    env.write("chain.yaml", CHAIN);
    let (code, result, _) = env.run_flow("chain.yaml", &["-i", "size=3"]);
    assert_eq!(code, 0);
    let run_id = result["run_id"].as_str().unwrap().to_string();

    refused(
        &env.run(&["rerun", &run_id, "--from", "nope"]),
        "no task `nope`",
    );
    ok(&env.run(&["rerun", &run_id, "--from", "b", "--by", "fay"]));
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json", "-q"]),
        Duration::from_secs(5),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(refs(&agent), ["a", "b", "c", "b", "c"], "a is kept");
    let records = journal_records(&env);
    let rerun = record(&records, "run_rerun_from");
    assert_eq!(
        (rerun["task_ref"].as_str(), rerun["by"].as_str()),
        (Some("b"), Some("fay"))
    );

    // Row 14: as Conductor, restart starts the same run id again from the top; the
    // journal keeps the earlier attempt and records the restart.
    let out = env.run(&["restart", &run_id, "--json"]);
    ok(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["new_run_id"], run_id.as_str());
    assert_eq!(doc["status"], "RUNNING");
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json", "-q"]),
        Duration::from_secs(5),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        refs(&agent),
        ["a", "b", "c", "b", "c", "a", "b", "c"],
        "all of it again"
    );
    let records = journal_records(&env);
    let started = records
        .iter()
        .filter(|r| r["event"] == "run_started")
        .count();
    assert_eq!(started, 1, "no new run");
    assert_eq!(
        record(&records, "run_restarted")["new_run_id"],
        run_id.as_str()
    );
    let runs = files_in(&env, ".3ox/runs");
    assert_eq!(
        runs.iter().filter(|f| f.ends_with(".journal.yaml")).count(),
        1,
        "{runs:?}"
    );
    let status = env.run(&["status", &run_id, "--json"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["status"], "COMPLETED", "{status}");
}

#[test]
fn a_request_waits_queued_for_a_busy_driver_and_a_malformed_one_is_refused_with_a_note() {
    let env = TestEnv::new();
    let gate = Arc::new(AtomicBool::new(false));
    let _agent = gated_agent(&env, &gate, &[]);
    let run_id = start(&env, &[]);
    // Someone holds the run but does not drive it: the request stays queued.
    let lock = std::fs::File::create(env.root().join(format!(".3ox/runs/{run_id}.lock"))).unwrap();
    lock.try_lock().unwrap();
    let out = env.run(&[
        "terminate",
        &run_id,
        "--wait",
        "200ms",
        "--reason",
        "queued",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the request is queued; the driver will apply it"));
    env.write(
        &format!(".3ox/control/{run_id}/0-bad.yaml"),
        "version: 1\naction: explode\n",
    );
    drop(lock);
    // The next driver takes both: refuses the bad one with a note, applies the terminate.
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json", "-q"]),
        Duration::from_secs(5),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let note = env.read(&format!(".3ox/control/{run_id}/done/0-bad.result.yaml"));
    assert!(
        note.contains("refused") && note.contains("malformed control request"),
        "{note}"
    );
    let records = journal_records(&env);
    assert_eq!(record(&records, "run_terminated")["reason"], "queued");
}

#[test]
fn resume_of_a_paused_run_nobody_drives_unpauses_it_and_drives_it_in_the_foreground() {
    let env = TestEnv::new();
    let agent = FakeAgent::start(&env, "w", &["work"], 1, |m| {
        Answer::Completed(json!({"ref": m["task_ref"]}))
    });
    let run_id = start(&env, &[]);
    let out = env.run(&["pause", &run_id, "--json", "--by", "gil"]);
    ok(&out);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["outcome"].as_str(), doc["via"].as_str()),
        (Some("applied"), Some("direct"))
    );
    let out = env.run(&["status", &run_id]);
    assert!(stdout(&out).contains("RUNNING (PAUSED"), "{}", stdout(&out));

    let out = output_within(
        env.cmd(&[
            "resume",
            &run_id[..10],
            "--no-agents",
            "--json",
            "-q",
            "--by",
            "hal",
        ]),
        Duration::from_secs(5),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(refs(&agent), ["a", "b", "c"]);
    let records = journal_records(&env);
    assert_eq!(record(&records, "run_paused")["by"], "gil");
    assert_eq!(record(&records, "run_resumed")["by"], "hal");
    // Resuming a run that is not paused (and has ended) reports it as it ended, as before.
    let out = env.run(&["resume", &run_id, "--no-agents", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
