//! Durability: runs submitted and driven by other processes, crash recovery under SIGKILL, and
//! two orchestrators on one station.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{
    TestEnv, files_in, journal_records, output_within, output_within_child, stderr, stdout,
    wait_for,
};

/// 1 + 40 forked + 9 in a static fork + 1 = 51 agent tasks, with retries.
const BIG_FLOW: &str = r#"
name: big
tasks:
  - {name: prep, taskReferenceName: prep}
  - name: cells
    taskReferenceName: cells
    type: FORK_JOIN_DYNAMIC
    inputParameters: {forkTaskName: cell, forkTaskInputs: "${workflow.input.items}"}
    retry: {count: 2, delay: 20ms}
  - {name: join, taskReferenceName: cells_join, type: JOIN}
  - name: lanes
    taskReferenceName: lanes
    type: FORK_JOIN
    forkTasks:
      - [{name: lane, taskReferenceName: a1}, {name: lane, taskReferenceName: a2}, {name: lane, taskReferenceName: a3}]
      - [{name: lane, taskReferenceName: b1}, {name: lane, taskReferenceName: b2}, {name: lane, taskReferenceName: b3}]
      - [{name: lane, taskReferenceName: c1}, {name: lane, taskReferenceName: c2, retry: {count: 1, delay: 10ms}}, {name: lane, taskReferenceName: c3}]
  - {name: join, taskReferenceName: lanes_join, type: JOIN, joinOn: [a3, b3, c3]}
  - {name: finish, taskReferenceName: finish, inputParameters: {cells: "${cells_join.output}"}}
"#;

fn items(n: usize) -> String {
    format!(
        "items=[{}]",
        (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    )
}

/// Answers every task, taking `work` for each; every fifth cell and `c2` fail on their first
/// attempt.
fn agent_taking(work: Duration) -> impl Fn(&Value) -> Answer + Send + 'static {
    move |message| {
        std::thread::sleep(work);
        big_agent(message)
    }
}

fn big_agent(message: &Value) -> Answer {
    let first = message["attempt"] == 1;
    let flaky = (message["task"] == "cell"
        && message["input"]["item"]
            .as_u64()
            .is_some_and(|i| i % 5 == 0))
        || message["task_ref"] == "c2";
    if first && flaky {
        Answer::Failed("transient".into())
    } else if message["task"] == "finish" {
        Answer::Completed(
            json!({"cells": message["input"]["cells"].as_object().map_or(0, |m| m.len())}),
        )
    } else {
        Answer::Completed(json!({"ref": message["task_ref"]}))
    }
}

fn start(env: &TestEnv, flow: &str, extra: &[&str]) -> String {
    let mut args = vec!["start", flow, "--json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["run_id"].as_str().unwrap().to_string()
}

fn spawn(env: &TestEnv, args: &[&str]) -> Child {
    env.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Checks the journals of finished runs: in each run, every attempt scheduled once, every task id settled
/// at most once, every agent task completed exactly once, every scheduled message delivered.
fn assert_exactly_once(env: &TestEnv, agents: &[&str], expected_tasks: usize) -> Vec<Value> {
    let records = journal_records(env);
    let mut scheduled = HashMap::new();
    let mut settled = HashSet::new();
    let mut completed = HashMap::<String, usize>::new();
    for record in &records {
        match record["event"].as_str().unwrap() {
            "task_scheduled" => {
                let key = format!(
                    "run {} {} attempt {}",
                    record["run"].as_str().unwrap(),
                    record["task_ref"].as_str().unwrap(),
                    record["attempt"]
                );
                assert!(
                    scheduled
                        .insert(key.clone(), record["task_id"].clone())
                        .is_none(),
                    "{key} was dispatched twice"
                );
            }
            "task_completed" | "task_failed" if record["task_id"].is_string() => {
                let id = record["task_id"].as_str().unwrap().to_string();
                assert!(
                    settled.insert(id.clone()),
                    "a reply for {id} was applied twice"
                );
                if record["event"] == "task_completed" {
                    *completed
                        .entry(format!(
                            "run {} {}",
                            record["run"].as_str().unwrap(),
                            record["task_ref"].as_str().unwrap()
                        ))
                        .or_default() += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(completed.len(), expected_tasks, "agent tasks completed");
    assert!(
        completed.values().all(|n| *n == 1),
        "a task completed more than once: {completed:?}"
    );
    let delivered: HashSet<String> = agents
        .iter()
        .flat_map(|a| files_in(env, &format!("agents/{a}/1N.3OX/done")))
        .collect();
    for id in scheduled.values() {
        let name = format!("{}.task.yaml", id.as_str().unwrap());
        if !delivered.contains(&name) {
            let places: Vec<String> = agents
                .iter()
                .flat_map(|a| ["1N.3OX", "1N.3OX/claimed"].map(|p| format!("agents/{a}/{p}")))
                .filter(|p| files_in(env, p).contains(&name))
                .collect();
            let history: Vec<&Value> = records.iter().filter(|r| r["task_id"] == *id).collect();
            panic!(
                "message {id} is not among the delivered and archived ones; it is in {places:?}; its records: {history:?}"
            );
        }
    }
    records
}

#[test]
fn start_submits_a_run_and_up_drives_it() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(
        &env,
        "worker",
        &["prep", "cell", "lane", "finish"],
        8,
        big_agent,
    );
    env.write("big.yaml", BIG_FLOW);
    let run_id = start(&env, "big.yaml", &["-i", &items(10)]);
    assert_eq!(
        journal_records(&env).len(),
        1,
        "start only submits: run_started and nothing else"
    );
    assert!(worker.messages().is_empty());
    let out = output_within(
        env.cmd(&["up", "--until-idle", "--no-agents"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("run {run_id} COMPLETED")),
        "{}",
        stderr(&out)
    );
    assert_exactly_once(&env, &["worker"], 21);
}

#[test]
fn many_runs_driven_by_one_up_survive_sigkill_at_random_moments_each_exactly_once() {
    let seed: u64 = std::env::var("THREEOX_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test (many runs): THREEOX_CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let env = TestEnv::new();
    let _workers: Vec<FakeAgent> = (0..3)
        .map(|i| {
            FakeAgent::start(
                &env,
                &format!("worker-{i}"),
                &["prep", "cell", "lane", "finish"],
                4,
                agent_taking(Duration::from_millis(20)),
            )
        })
        .collect();
    env.write("big.yaml", BIG_FLOW);
    // 16 runs of 21 agent tasks each, all in flight together in one `up`, whose appends and
    // deliveries interleave: a kill lands between the journal and the mailbox of some run.
    let runs: Vec<String> = (0..16)
        .map(|_| start(&env, "big.yaml", &["-i", &items(10)]))
        .collect();
    // Tasks completed so far, in every journal (a kill may have left a torn tail).
    let completed = || {
        std::fs::read_dir(env.root().join(".3ox/runs"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".journal.yaml"))
            .filter_map(|e| threeox::journal::read(&e.path()).ok())
            .flat_map(|contents| contents.records)
            .filter(|r| matches!(r.change, threeox::engine::Change::TaskCompleted { .. }))
            .count()
    };
    // Each life of `up` is killed at a random moment once it has completed a task or more.
    let mut killed = 0;
    loop {
        let before = completed();
        let mut child = spawn(&env, &["up", "--no-agents"]);
        let progressed = wait_for(Duration::from_secs(30), || {
            (completed() > before).then_some(())
        });
        assert!(
            progressed.is_some(),
            "`up` made no progress in 30 s (seed {seed})"
        );
        std::thread::sleep(Duration::from_millis(rng.u64(0..40)));
        child.kill().unwrap();
        child.wait().unwrap();
        killed += 1;
        if completed() >= 16 * 21 || killed == 12 {
            break;
        }
    }
    assert!(
        killed >= 6,
        "the runs ended after {killed} kills (seed {seed}); slow the agents down"
    );
    let out = output_within(
        env.cmd(&["up", "--no-agents", "--until-idle"]),
        Duration::from_secs(120),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "seed {seed}:\n{err}");
    for run in &runs {
        let status = env.run(&["status", run, "--json"]);
        let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(doc["status"], "COMPLETED", "run {run} (seed {seed}): {doc}");
        assert_eq!(
            doc["output"],
            json!({"cells": 10}),
            "run {run} (seed {seed})"
        );
    }
    assert_exactly_once(&env, &["worker-0", "worker-1", "worker-2"], 16 * 21);
}

#[test]
fn a_run_survives_sigkill_at_random_moments_and_completes_exactly_once() {
    let kills: usize = std::env::var("THREEOX_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("THREEOX_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test: {kills} kills, THREEOX_CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);

    let env = TestEnv::new();
    // Slow enough that the run spans many short lives of the orchestrator.
    let _worker = FakeAgent::start(
        &env,
        "worker",
        &["prep", "cell", "lane", "finish"],
        8,
        agent_taking(Duration::from_millis(10)),
    );
    env.write("big.yaml", BIG_FLOW);
    let run_id = start(&env, "big.yaml", &["-i", &items(40)]);

    let mut killed = 0;
    let mut ended_early = false;
    while killed < kills {
        let mut child = spawn(&env, &["resume", &run_id, "--no-agents", "--json"]);
        std::thread::sleep(Duration::from_millis(rng.u64(2..60)));
        if child.try_wait().unwrap().is_some() {
            let out = output_within_child(&mut child, Duration::from_secs(5));
            assert_eq!(
                out.status.code(),
                Some(0),
                "a resume ended badly (seed {seed}):\n{}\n{}",
                stdout(&out),
                stderr(&out)
            );
            ended_early = true;
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        killed += 1;
    }
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "seed {seed}:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED", "seed {seed}");
    assert_eq!(result["output"], json!({"cells": 40}), "seed {seed}");
    assert!(
        killed >= kills.min(20),
        "only {killed} kills landed before the run ended (seed {seed}); slow the agent down"
    );
    let _ = ended_early;
    let records = assert_exactly_once(&env, &["worker"], 51);
    // Retries happened, and the journal verifies from start to end (journal_records checks
    // checksums and sequence numbers and that no torn tail is left).
    assert!(
        records
            .iter()
            .filter(|r| r["event"] == "task_failed")
            .count()
            >= 9,
        "seed {seed}"
    );
    eprintln!("crash test: {killed} kills, {} records", records.len());
}

#[test]
fn two_orchestrators_started_at_the_same_moment_never_dispatch_a_task_twice() {
    for round in 0..8 {
        let env = TestEnv::new();
        let worker = FakeAgent::start(
            &env,
            "worker",
            &["prep", "cell", "lane", "finish"],
            16,
            big_agent,
        );
        env.write("big.yaml", BIG_FLOW);
        let run_id = start(&env, "big.yaml", &["-i", &items(10)]);
        let commands: [Vec<&str>; 2] = if round % 2 == 0 {
            [
                vec!["resume", &run_id, "--no-agents", "--json"],
                vec!["resume", &run_id, "--no-agents", "--json"],
            ]
        } else {
            [
                vec!["up", "--until-idle", "--no-agents"],
                vec!["up", "--until-idle", "--no-agents"],
            ]
        };
        let started = Instant::now();
        let mut children: Vec<Child> = commands.iter().map(|args| spawn(&env, args)).collect();
        let outs: Vec<_> = children
            .iter_mut()
            .map(|c| output_within_child(c, Duration::from_secs(60)))
            .collect();
        let codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap_or(-1)).collect();
        assert!(
            codes.contains(&0),
            "round {round}: {codes:?}\n{}",
            outs.iter().map(stderr).collect::<String>()
        );
        for (out, code) in outs.iter().zip(&codes) {
            if *code != 0 {
                assert_eq!(*code, 2, "round {round}");
                assert!(
                    stderr(out).contains("being driven by"),
                    "round {round}: {}",
                    stderr(out)
                );
            }
        }
        assert_exactly_once(&env, &["worker"], 21);
        let refs: Vec<String> = worker
            .messages()
            .iter()
            .map(|m| format!("{} {}", m["task_ref"], m["attempt"]))
            .collect();
        let unique: HashSet<&String> = refs.iter().collect();
        assert_eq!(
            unique.len(),
            refs.len(),
            "round {round}: the agent got a task twice"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}

#[test]
fn a_retry_timer_survives_a_restart_and_fires_at_its_journaled_time() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["flaky"], 1, |message| {
        if message["attempt"] == 1 {
            Answer::Failed("not yet".into())
        } else {
            Answer::Completed(json!({"ok": true}))
        }
    });
    env.write("flow.yaml", "name: timer\ntasks:\n  - {name: flaky, taskReferenceName: flaky, retry: {count: 1, delay: 1500ms}}\n");
    let run_id = start(&env, "flow.yaml", &[]);
    let mut first = spawn(&env, &["resume", &run_id, "--no-agents"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !journal_records(&env)
        .iter()
        .any(|r| r["event"] == "task_failed")
    {
        assert!(Instant::now() < deadline, "the first attempt never failed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killed while the retry waits: the timer lives only in the journal now.
    first.kill().unwrap();
    first.wait().unwrap();
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = journal_records(&env);
    let failed = records
        .iter()
        .find(|r| r["event"] == "task_failed")
        .unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(failed["retry_at"].as_str().unwrap()).unwrap();
    let retried = records
        .iter()
        .find(|r| r["event"] == "task_scheduled" && r["attempt"] == 2)
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(retried["at"].as_str().unwrap()).unwrap();
    assert!(
        at >= due,
        "the retry went out at {at}, before its time {due}"
    );
    assert!(
        (at - due).num_milliseconds() < 5000,
        "the retry went out {} ms late",
        (at - due).num_milliseconds()
    );
    assert_eq!(worker.messages().len(), 2);
}

#[test]
fn a_start_key_submits_one_run_however_often_and_however_concurrently_it_is_used() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "worker", &["prep", "cell", "lane", "finish"], 8);
    env.write("big.yaml", BIG_FLOW);
    let starts: Vec<Child> = (0..4)
        .map(|_| {
            spawn(
                &env,
                &[
                    "start",
                    "big.yaml",
                    "-i",
                    &items(3),
                    "--key",
                    "nightly-2026-11-24",
                    "--json",
                ],
            )
        })
        .collect();
    let mut ids = HashSet::new();
    let mut existing = 0;
    for mut child in starts {
        let out = output_within_child(&mut child, Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        ids.insert(doc["run_id"].as_str().unwrap().to_string());
        existing += usize::from(doc["existing"] == true);
    }
    assert_eq!(ids.len(), 1, "one run for one key: {ids:?}");
    assert_eq!(existing, 3);
    let journals = files_in(&env, ".3ox/runs")
        .into_iter()
        .filter(|f| f.ends_with(".journal.yaml"))
        .count();
    assert_eq!(journals, 1);
    let other = start(
        &env,
        "big.yaml",
        &["-i", &items(3), "--key", "nightly-2026-11-25"],
    );
    assert!(!ids.contains(&other), "another key starts another run");
    let bad = env.run(&["start", "big.yaml", "--key", "../escape"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("a start key may use only"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn deleting_dot_3ox_under_a_running_driver_stops_it_with_a_clear_error() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "w", &["job"], 1);
    env.write(
        "flow.yaml",
        "name: gone\ntasks:\n  - {name: job, taskReferenceName: job}\n  - {name: job, taskReferenceName: again}\n",
    );
    let out = env.run(&["start", "flow.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut driver = env
        .cmd(&["resume", &run_id, "--no-agents", "--json", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let inbox = env.root().join("agents/w/1N.3OX");
    let (path, message) = crate::support::wait_for(Duration::from_secs(20), || {
        crate::fake_agent::visible_yaml(&inbox)
            .into_iter()
            .find_map(|path| {
                let message: Value =
                    serde_yaml::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
                Some((path, message))
            })
    })
    .expect("the first task was never delivered");
    drop(path);
    // Someone tidies up the wrong folder while the run is driven.
    std::fs::remove_dir_all(env.root().join(".3ox")).unwrap();
    crate::fake_agent::put(
        &env.root().join("agents/w/0UT.3OX"),
        "answer.reply.yaml",
        &crate::fake_agent::reply(&message, "COMPLETED", json!({"ok": true}), ""),
    );
    let out = output_within_child(&mut driver, Duration::from_secs(30));
    assert_ne!(
        out.status.code(),
        Some(0),
        "the driver must not complete a run whose journal is gone: {}",
        stdout(&out)
    );
    // Whichever the driver notices first: its journal is not the file at the path any more,
    // or the run's control folder it watches is gone. Either way it names what vanished.
    let said = stderr(&out);
    assert!(
        said.contains("no longer the file this run writes to") || said.contains("/.3ox/control/"),
        "{said}"
    );
    let delivered: Vec<String> = crate::fake_agent::visible_yaml(&inbox)
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        delivered.iter().all(|m| !m.contains("again")),
        "nothing more was delivered: {delivered:?}"
    );
}
