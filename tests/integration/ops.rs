//! Read-only operations on runs: `3ox status`, `list`, `log` and `history`, on real runs made
//! with agents played by test code.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, register, reply};
use crate::support::{ChildGuard, TestEnv, stderr, stdout, wait_for};

/// Completes with a retry (`fetch`), a heartbeat and a refused reply (`scan`), a SWITCH, a
/// FORK_JOIN and a JOIN.
const NIGHTLY: &str = r#"
name: nightly
version: 2
inputParameters: [kind]
tasks:
  - {name: scan, taskReferenceName: scan}
  - {name: fetch, taskReferenceName: fetch, retry: {count: 2, delay: 50ms}}
  - name: route
    taskReferenceName: route
    type: SWITCH
    evaluatorType: value-param
    expression: kind
    inputParameters: {kind: "${workflow.input.kind}"}
    decisionCases:
      small: [{name: fix, taskReferenceName: small_fix}]
      large: [{name: fix, taskReferenceName: large_fix}]
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN
    forkTasks:
      - [{name: fix, taskReferenceName: left}]
      - [{name: fix, taskReferenceName: right}]
  - {name: join, taskReferenceName: gather, type: JOIN, joinOn: [left, right]}
outputParameters:
  fixed: "${small_fix.output.ok}"
"#;

/// Fails: `check` ends with a terminal error.
const CHECKER: &str = r#"
name: checker
tasks:
  - {name: fix, taskReferenceName: prepare}
  - {name: check, taskReferenceName: check}
"#;

/// One task for an agent that never answers.
const WAITING: &str = "name: waiting\ntasks:\n  - {name: slow, taskReferenceName: slow}\n";

/// A station with three runs, oldest first: `done` (nightly, COMPLETED), `failed` (checker,
/// FAILED) and `waiting` (submitted with `3ox start`, nobody drives it: RUNNING).
struct Runs {
    env: TestEnv,
    done: String,
    failed: String,
    waiting: String,
}

fn scanner(message: &Value) -> Answer {
    let heartbeat = reply(message, "IN_PROGRESS", json!({}), "half way");
    Answer::Many(vec![
        Answer::Raw(heartbeat),
        Answer::Raw("status: [not, a reply".into()),
        Answer::Completed(json!({"files": 3})),
    ])
}

fn worker(message: &Value) -> Answer {
    if message["task_ref"] == "fetch" && message["attempt"] == 1 {
        Answer::Failed("disk busy".into())
    } else {
        Answer::Completed(json!({"ok": true}))
    }
}

fn three_runs() -> Runs {
    let env = TestEnv::new();
    let _scanner = FakeAgent::start(&env, "scanner", &["scan"], 1, scanner);
    let _worker = FakeAgent::start(&env, "worker", &["fetch", "fix"], 2, worker);
    let _checker = FakeAgent::start(&env, "checker", &["check"], 1, |_| {
        Answer::Terminal("folder missing".into())
    });
    register(&env, "sleeper", &["slow"], 1);
    env.write("nightly.yaml", NIGHTLY);
    env.write("checker.yaml", CHECKER);
    env.write("waiting.yaml", WAITING);
    let (code, result, _) = env.run_flow("nightly.yaml", &["-i", "kind=small"]);
    assert_eq!(code, 0, "{result}");
    let done = result["run_id"].as_str().unwrap().to_string();
    let (code, result, _) = env.run_flow("checker.yaml", &[]);
    assert_eq!(code, 1, "{result}");
    let failed = result["run_id"].as_str().unwrap().to_string();
    let waiting = start(&env, "waiting.yaml");
    Runs {
        env,
        done,
        failed,
        waiting,
    }
}

fn start(env: &TestEnv, flow: &str) -> String {
    let out = env.run(&["start", flow, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["run_id"].as_str().unwrap().to_string()
}

impl Runs {
    /// `3ox <args>`: exit code, stdout, stderr.
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.env.run(args);
        (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
    }

    /// `3ox <args> --json`, which must exit 0; the document with times and ids normalised.
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let (code, out, err) = self.run(&args);
        assert_eq!(code, 0, "3ox {args:?}: {err}");
        let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        self.normalise(doc)
    }

    /// Replaces run ids by `<done>`, `<failed>`, `<waiting>`; times, durations and task ids
    /// (which differ on every run) by `<time>`, `<ms>`, `<id>`.
    fn normalise(&self, value: Value) -> Value {
        match value {
            Value::String(text) => Value::String(
                text.replace(&self.done, "<done>")
                    .replace(&self.failed, "<failed>")
                    .replace(&self.waiting, "<waiting>"),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.normalise(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(key, v)| {
                        let v = match key.as_str() {
                            _ if v.is_null() => v,
                            "at" | "started_at" | "ended_at" | "retry_at" if v.is_string() => {
                                json!("<time>")
                            }
                            "elapsed_ms" | "duration_ms" | "offset_ms" | "took_ms" => {
                                json!("<ms>")
                            }
                            "task_id" => json!("<id>"),
                            _ => self.normalise(v),
                        };
                        (key, v)
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

#[test]
fn status_shows_a_completed_run_with_its_retry_switch_and_fork() {
    let runs = three_runs();
    let status = runs.json(&["status", &runs.done]);
    assert_eq!(
        status,
        json!({
            "run_id": "<done>",
            "workflow": {"name": "nightly", "version": 2, "source": "nightly.yaml"},
            "status": "COMPLETED",
            "paused": false,
            "started_at": "<time>",
            "ended_at": "<time>",
            "elapsed_ms": "<ms>",
            "driver": {"held": false, "holder": null},
            "input": {"kind": "small"},
            "tasks": [
                {"task_ref": "scan", "type": "SIMPLE", "status": "COMPLETED", "attempt": 1, "agent": "scanner", "reason": null, "retry_at": null},
                {"task_ref": "fetch", "type": "SIMPLE", "status": "COMPLETED", "attempt": 2, "agent": "worker", "reason": null, "retry_at": null},
                {"task_ref": "route", "type": "SWITCH", "status": "COMPLETED", "attempt": 0, "agent": null, "reason": null, "retry_at": null},
                {"task_ref": "small_fix", "type": "SIMPLE", "status": "COMPLETED", "attempt": 1, "agent": "worker", "reason": null, "retry_at": null},
                {"task_ref": "fan", "type": "FORK_JOIN", "status": "COMPLETED", "attempt": 0, "agent": null, "reason": null, "retry_at": null},
                {"task_ref": "left", "type": "SIMPLE", "status": "COMPLETED", "attempt": 1, "agent": "worker", "reason": null, "retry_at": null},
                {"task_ref": "right", "type": "SIMPLE", "status": "COMPLETED", "attempt": 1, "agent": "worker", "reason": null, "retry_at": null},
                {"task_ref": "gather", "type": "JOIN", "status": "COMPLETED", "attempt": 0, "agent": null, "reason": null, "retry_at": null},
            ],
            "retries": 1,
            "output": {"fixed": true},
            "failure": null,
            "journal": ".3ox/runs/<done>.journal.yaml",
        })
    );
    let (code, text, _) = runs.run(&["status", &runs.done]);
    assert_eq!(code, 0);
    for line in [
        format!("run {} COMPLETED", runs.done),
        "workflow: nightly v2 (nightly.yaml)".to_string(),
        "driver:   nobody (the run has ended)".to_string(),
        "tasks (8, 1 retry):".to_string(),
        "output:".to_string(),
        "  fixed: true".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    let fetch = text.lines().find(|l| l.starts_with("  fetch ")).unwrap();
    let words: Vec<&str> = fetch.split_whitespace().collect();
    assert_eq!(
        words,
        ["fetch", "SIMPLE", "COMPLETED", "attempt", "2", "worker"]
    );
}

#[test]
fn status_shows_the_failure_and_defaults_to_the_newest_run() {
    let runs = three_runs();
    let failed = runs.json(&["status", &runs.failed]);
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(
        failed["tasks"],
        json!([
            {"task_ref": "prepare", "type": "SIMPLE", "status": "COMPLETED", "attempt": 1, "agent": "worker", "reason": null, "retry_at": null},
            {"task_ref": "check", "type": "SIMPLE", "status": "FAILED_WITH_TERMINAL_ERROR", "attempt": 1, "agent": "checker", "reason": "folder missing", "retry_at": null},
        ])
    );
    assert_eq!(failed["failure"]["task_ref"], "check");
    let reason = failed["failure"]["reason"].as_str().unwrap();
    assert!(reason.contains("folder missing"), "{reason}");
    assert_eq!(failed["output"], Value::Null);
    let (code, text, _) = runs.run(&["status", &runs.failed]);
    assert_eq!(code, 0);
    assert!(text.contains("\nfailed task: check\n"), "{text}");
    assert!(text.contains(&format!("\nreason: {reason}\n")), "{text}");

    // Without a run: the newest, which was submitted and is driven by nobody.
    let newest = runs.json(&["status"]);
    assert_eq!(newest["run_id"], "<waiting>");
    assert_eq!(newest["status"], "RUNNING");
    assert_eq!(newest["ended_at"], Value::Null);
    assert_eq!(newest["tasks"], json!([]));
    assert_eq!(newest["driver"], json!({"held": false, "holder": null}));
    let (_, text, _) = runs.run(&["status"]);
    assert!(
        text.contains(&format!(
            "driver:   nobody drives it; `3ox up` or `3ox resume {}` takes it",
            runs.waiting
        )),
        "{text}"
    );
}

/// The shortest prefix of `id` that no other of `others` starts with.
fn unique_prefix(id: &str, others: &[&str]) -> String {
    (1..=id.len())
        .map(|n| &id[..n])
        .find(|p| others.iter().all(|o| !o.starts_with(p)))
        .unwrap()
        .to_string()
}

#[test]
fn runs_are_found_by_unique_prefix_and_ambiguity_or_unknown_ids_exit_2() {
    let runs = three_runs();
    let ids = [&runs.done, &runs.failed, &runs.waiting];
    let prefix = unique_prefix(&runs.failed, &[&runs.done, &runs.waiting]);
    assert_eq!(runs.json(&["status", &prefix])["run_id"], "<failed>");
    let lower = prefix.to_lowercase();
    assert_eq!(runs.json(&["status", &lower])["run_id"], "<failed>");
    assert_eq!(runs.json(&["log", &prefix])["run_id"], "<failed>");

    // A prefix all three share (they were made within a second of each other).
    let shared: String = runs
        .done
        .chars()
        .zip(runs.failed.chars())
        .zip(runs.waiting.chars())
        .take_while(|((a, b), c)| a == b && b == c)
        .map(|((a, _), _)| a)
        .collect();
    assert!(!shared.is_empty());
    for command in ["status", "log"] {
        let (code, out, err) = runs.run(&[command, &shared, "--json"]);
        assert_eq!(code, 2, "{command}: {out}");
        assert!(out.is_empty(), "{out}");
        assert!(
            err.contains(&format!("`{shared}` is ambiguous: it starts 3 run ids")),
            "{err}"
        );
        assert!(ids.iter().all(|id| err.contains(id.as_str())), "{err}");
        assert!(err.contains("hint: give more characters"), "{err}");
    }

    let (code, out, err) = runs.run(&["status", "01NOSUCHRUN"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("no run matches `01NOSUCHRUN`"), "{err}");
    let newest = format!(
        "hint: the newest runs are: {}, {}, {}",
        runs.waiting, runs.failed, runs.done
    );
    assert!(err.contains(&newest), "{err}");
    let (code, _, err) = runs.run(&["log", "01NOSUCHRUN"]);
    assert_eq!(code, 2);
    assert!(err.contains("no run matches"), "{err}");
}

#[test]
fn list_shows_every_run_newest_first_with_filters_and_limit() {
    let runs = three_runs();
    let line = |id: &str, workflow: &str, status: &str, done: u64, total: u64, failed: Value| {
        json!({
            "run_id": id, "workflow": workflow, "status": status, "started_at": "<time>",
            "elapsed_ms": "<ms>", "tasks_done": done, "tasks_total": total, "failed_task": failed,
        })
    };
    let waiting = line("<waiting>", "waiting", "RUNNING", 0, 0, Value::Null);
    let failed = line("<failed>", "checker", "FAILED", 1, 2, json!("check"));
    let done = line("<done>", "nightly", "COMPLETED", 8, 8, Value::Null);
    assert_eq!(
        runs.json(&["list"]),
        json!({"runs": [waiting, failed, done]})
    );
    assert_eq!(
        runs.json(&["list", "--status", "FAILED"]),
        json!({"runs": [failed]})
    );
    assert_eq!(
        runs.json(&["list", "--status", "running"]),
        json!({"runs": [waiting]})
    );
    assert_eq!(
        runs.json(&["list", "--workflow", "nightly"]),
        json!({"runs": [done]})
    );
    assert_eq!(
        runs.json(&["list", "--limit", "2"]),
        json!({"runs": [waiting, failed]})
    );
    assert_eq!(
        runs.json(&["list", "--status", "COMPLETED", "--workflow", "checker"]),
        json!({"runs": []})
    );
    let (code, _, err) = runs.run(&["list", "--status", "DONE"]);
    assert_eq!(code, 2, "{err}");

    let (code, text, _) = runs.run(&["list"]);
    assert_eq!(code, 0);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().filter(|w| !w.contains(':')).collect())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[0],
        ["RUN", "WORKFLOW", "STATUS", "STARTED", "ELAPSED", "TASKS"]
    );
    let row = |i: usize| -> Vec<&str> {
        let mut cells = lines[i].clone();
        cells.remove(3); // elapsed
        cells
    };
    assert_eq!(row(1), [runs.waiting.as_str(), "waiting", "RUNNING", "0/0"]);
    assert_eq!(
        row(2),
        [
            runs.failed.as_str(),
            "checker",
            "FAILED",
            "1/2",
            "failed",
            "at",
            "check"
        ]
    );
    assert_eq!(row(3), [runs.done.as_str(), "nightly", "COMPLETED", "8/8"]);
}

#[test]
fn history_shows_finished_runs_only_with_retries_and_outcome() {
    let runs = three_runs();
    let failed = json!({
        "run_id": "<failed>", "workflow": "checker", "status": "FAILED", "started_at": "<time>",
        "ended_at": "<time>", "duration_ms": "<ms>", "tasks": 2, "retries": 0, "output": null,
        "failed_task": "check", "reason": runs.json(&["status", &runs.failed])["failure"]["reason"],
    });
    let done = json!({
        "run_id": "<done>", "workflow": "nightly", "status": "COMPLETED", "started_at": "<time>",
        "ended_at": "<time>", "duration_ms": "<ms>", "tasks": 8, "retries": 1,
        "output": {"fixed": true}, "failed_task": null, "reason": null,
    });
    assert_eq!(
        runs.json(&["history"]),
        json!({"runs": [failed.clone(), done.clone()]})
    );
    assert_eq!(
        runs.json(&["history", "--workflow", "nightly"]),
        json!({"runs": [done]})
    );
    assert_eq!(
        runs.json(&["history", "--limit", "1"]),
        json!({"runs": [failed]})
    );
    assert_eq!(
        runs.json(&["history", "--workflow", "waiting"]),
        json!({"runs": []})
    );

    let (code, text, _) = runs.run(&["history"]);
    assert_eq!(code, 0);
    assert!(!text.contains(&runs.waiting), "{text}");
    let row = |id: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(id)).unwrap();
        line.split_whitespace()
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 4) // ended, duration
            .map(|(_, w)| w.to_string())
            .collect()
    };
    assert_eq!(
        row(&runs.done),
        [
            &runs.done,
            "nightly",
            "COMPLETED",
            "8",
            "1",
            "output",
            "{\"fixed\":true}"
        ]
    );
    let failed_row = row(&runs.failed);
    assert_eq!(
        failed_row[..7],
        [&runs.failed, "checker", "FAILED", "2", "0", "failed", "at"]
    );
    assert!(text.contains("failed at check: "), "{text}");
}

#[test]
fn log_tells_each_attempt_decision_refusal_and_the_end() {
    let runs = three_runs();
    let (code, raw, err) = runs.run(&["log", &runs.done, "--json"]);
    assert_eq!(code, 0, "{err}");
    let raw: Value = serde_json::from_str(&raw).unwrap();
    let log = runs.normalise(raw.clone());
    let refused = &log["rejected"][0];
    let file = refused["file"].as_str().unwrap();
    assert!(file.ends_with(".2.reply.yaml"), "{file}");
    let stamp = json!({"at": "<time>", "offset_ms": "<ms>"});
    let attempt =
        |n: u32, agent: &str, outcome: &str, reason: Value, retry: Value, beats: Value| {
            json!({
                "attempt": n, "task_id": "<id>", "agent": agent, "scheduled": stamp,
                "ended": stamp, "took_ms": "<ms>", "outcome": outcome, "reason": reason,
                "retry_at": retry, "heartbeats": beats,
            })
        };
    let simple = |task: &str, name: &str, attempts: Vec<Value>| json!({"task_ref": task, "name": name, "type": "SIMPLE", "status": "COMPLETED", "attempts": attempts});
    let fixed = || {
        attempt(
            1,
            "worker",
            "COMPLETED",
            Value::Null,
            Value::Null,
            json!([]),
        )
    };
    let heartbeat = json!([{"at": "<time>", "offset_ms": "<ms>", "note": "half way"}]);
    assert_eq!(
        log,
        json!({
            "run_id": "<done>",
            "workflow": {"name": "nightly", "version": 2, "source": "nightly.yaml"},
            "status": "COMPLETED",
            "started": {"at": "<time>", "offset_ms": "<ms>", "input": {"kind": "small"}},
            "tasks": [
                simple("scan", "scan", vec![attempt(1, "scanner", "COMPLETED", Value::Null, Value::Null, heartbeat)]),
                simple("fetch", "fetch", vec![
                    attempt(1, "worker", "RETRY_WAIT", json!("disk busy"), stamp.clone(), json!([])),
                    attempt(2, "worker", "COMPLETED", Value::Null, Value::Null, json!([])),
                ]),
                {
                    "task_ref": "route", "name": "route", "type": "SWITCH", "status": "COMPLETED",
                    "decided": {"at": "<time>", "offset_ms": "<ms>", "outcome": "COMPLETED", "case": "small", "default_case": false},
                },
                simple("small_fix", "fix", vec![fixed()]),
                {
                    "task_ref": "fan", "name": "fan", "type": "FORK_JOIN", "status": "COMPLETED",
                    "decided": {"at": "<time>", "offset_ms": "<ms>", "outcome": "COMPLETED", "branches": [["left"], ["right"]]},
                },
                simple("left", "fix", vec![fixed()]),
                simple("right", "fix", vec![fixed()]),
                {
                    "task_ref": "gather", "name": "join", "type": "JOIN", "status": "COMPLETED",
                    "decided": {"at": "<time>", "offset_ms": "<ms>", "outcome": "COMPLETED", "joined": ["left", "right"]},
                },
            ],
            "rejected": [{
                "at": "<time>", "offset_ms": "<ms>", "file": file, "agent": "scanner",
                "task_id": null, "task_ref": null, "attempt": null,
                "reason": refused["reason"],
            }],
            "ended": {"at": "<time>", "offset_ms": "<ms>", "status": "COMPLETED", "output": {"fixed": true}, "failure": null},
        })
    );
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .starts_with("not valid YAML"),
        "{refused}"
    );

    // The times hold together: offsets from the start, durations, and the retry's due time.
    assert_eq!(raw["started"]["offset_ms"], 0);
    let fetch = &raw["tasks"][1]["attempts"];
    let ms = |v: &Value| v.as_i64().unwrap();
    let first_end = ms(&fetch[0]["ended"]["offset_ms"]);
    assert_eq!(
        ms(&fetch[0]["took_ms"]),
        first_end - ms(&fetch[0]["scheduled"]["offset_ms"])
    );
    let due = ms(&fetch[0]["retry_at"]["offset_ms"]);
    assert!(
        due >= first_end + 50,
        "retry due {due} ms, failed at {first_end} ms"
    );
    assert!(ms(&fetch[1]["scheduled"]["offset_ms"]) >= due);
    let started =
        chrono::DateTime::parse_from_rfc3339(raw["started"]["at"].as_str().unwrap()).unwrap();
    let ended = chrono::DateTime::parse_from_rfc3339(raw["ended"]["at"].as_str().unwrap()).unwrap();
    assert_eq!(
        (ended - started).num_milliseconds(),
        ms(&raw["ended"]["offset_ms"])
    );

    let (code, text, _) = runs.run(&["log", &runs.done]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("run {} of nightly v2 (nightly.yaml): COMPLETED", runs.done)
    );
    assert_eq!(lines[1], "+0.000s  run started, input {\"kind\":\"small\"}");
    let has = |prefix: &str, rest: &str| {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(prefix) && l.contains(rest)),
            "no line {prefix:?}...{rest:?} in:\n{text}"
        );
    };
    has("task fetch (SIMPLE): COMPLETED", "");
    has("  attempt 1  +", "to worker  took ");
    has("  attempt 1  +", "  failed: disk busy; retry due at +");
    has("    +", "  heartbeat: half way");
    has("task route (SWITCH): COMPLETED  +", "  case `small`");
    has(
        "task fan (FORK_JOIN): COMPLETED  +",
        "  branches [left] [right]",
    );
    has("task gather (JOIN): COMPLETED  +", "  joined left, right");
    has("refused replies:", "");
    has("  +", &format!("{file} (agent scanner): "));
    assert!(
        lines
            .last()
            .unwrap()
            .ends_with("run COMPLETED, output {\"fixed\":true}"),
        "{text}"
    );

    let (_, text, _) = runs.run(&["log", &runs.failed]);
    has_line(&text, "  attempt 1  +", "to checker  took ");
    has_line(&text, "  attempt 1  +", "failed (terminal): folder missing");
    let last = text.lines().last().unwrap();
    assert!(last.contains("  run FAILED at check: "), "{text}");
}

fn has_line(text: &str, prefix: &str, rest: &str) {
    assert!(
        text.lines()
            .any(|l| l.starts_with(prefix) && l.contains(rest)),
        "no line {prefix:?}...{rest:?} in:\n{text}"
    );
}

#[test]
fn status_shows_who_drives_a_running_run_until_the_driver_dies() {
    let env = TestEnv::new();
    let sleeper = FakeAgent::start(&env, "sleeper", &["slow"], 1, |_| Answer::NotYet);
    env.write("waiting.yaml", WAITING);
    let run_id = start(&env, "waiting.yaml");
    let driver = ChildGuard(
        env.cmd(&["resume", &run_id, "--no-agents", "--quiet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(Duration::from_secs(10), || {
        (!sleeper.messages().is_empty()).then_some(())
    })
    .expect("the task was never delivered");
    let status = |env: &TestEnv| -> Value {
        let out = env.run(&["status", &run_id, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let driven = status(&env);
    assert_eq!(driven["status"], "RUNNING");
    assert_eq!(
        driven["driver"],
        json!({"held": true, "holder": format!("process {}", driver.id())})
    );
    assert_eq!(driven["tasks"][0]["status"], "SCHEDULED");
    assert_eq!(driven["tasks"][0]["agent"], "sleeper");
    let text = stdout(&env.run(&["status", &run_id]));
    assert!(
        text.contains(&format!("driver:   driven by process {}\n", driver.id())),
        "{text}"
    );
    // Looking does not take the run: a second driver is still refused.
    let second = env.run(&["resume", &run_id, "--no-agents"]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));

    drop(driver);
    let orphaned = status(&env);
    assert_eq!(orphaned["status"], "RUNNING");
    assert_eq!(orphaned["driver"], json!({"held": false, "holder": null}));
    assert_eq!(orphaned["tasks"][0]["status"], "SCHEDULED");
}

#[test]
fn a_corrupt_journal_is_reported_for_its_run_and_the_others_still_show() {
    let runs = three_runs();
    let path = runs
        .env
        .root()
        .join(format!(".3ox/runs/{}.journal.yaml", runs.failed));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();

    let list = runs.json(&["list"]);
    let listed = list["runs"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1]["run_id"], "<failed>");
    assert_eq!(listed[1]["status"], Value::Null);
    let problem = listed[1]["problem"].as_str().unwrap();
    assert!(problem.contains("is corrupt at record 1"), "{problem}");
    assert_eq!(listed[2]["status"], "COMPLETED");
    assert_eq!(
        runs.json(&["list", "--status", "FAILED"]),
        json!({"runs": []})
    );
    let history = runs.json(&["history"]);
    assert_eq!(history["runs"][0]["problem"], json!(problem));
    assert_eq!(history["runs"][1]["run_id"], "<done>");

    let (code, out, err) = runs.run(&["status", &runs.failed]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains(&format!("run {} cannot be read: ", runs.failed))
            && err.contains("is corrupt at record 1"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
}
