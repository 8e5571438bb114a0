//! Bad input, refused: one test per row of `docs/bad-input.md`.
//!
//! Each reply test runs the real binary on a one-task workflow whose agent first plants the
//! bad file(s) in its outbox, waits until 3ox has refused them (a `.why.yaml` note appeared),
//! and only then answers properly: the run must still complete, each bad file must lie in
//! `0UT.3OX/rejected/` beside a note that names the problem, and the journal must hold the
//! matching `reply_rejected` record.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, put, register, reply};
use crate::support::{TestEnv, journal_records, output_within, stderr, stdout};

const ONE_TASK: &str = "name: guarded\ntasks:\n  - {name: step, taskReferenceName: only}\n";

/// Runs `flow` with agent `worker` (serving `step`). On its first message the agent calls
/// `plant(message, outbox)`; it answers each message with `good` once `expected` notes exist.
fn run_planted(
    env: &TestEnv,
    flow: &str,
    expected: usize,
    plant: impl Fn(&Value, &Path) + Send + 'static,
    good: impl Fn(&Value) -> Answer + Send + 'static,
) -> Value {
    let root = env.root().to_path_buf();
    let outbox = root.join("agents/worker/0UT.3OX");
    let planted = AtomicBool::new(false);
    let _worker = FakeAgent::start(env, "worker", &["step"], 1, move |message| {
        if !planted.swap(true, Ordering::Relaxed) {
            plant(message, &outbox);
        }
        if notes_at(&root) < expected {
            Answer::NotYet
        } else {
            good(message)
        }
    });
    env.write("flow.yaml", flow);
    let started = Instant::now();
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the run took {:?}",
        started.elapsed()
    );
    result
}

/// Notes in the `rejected/` folders of every agent's outbox.
fn notes_at(station: &Path) -> usize {
    let Ok(agents) = std::fs::read_dir(station.join("agents")) else {
        return 0;
    };
    agents
        .flatten()
        .filter_map(|a| std::fs::read_dir(a.path().join("0UT.3OX/rejected")).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".why.yaml"))
        .count()
}

/// A good final reply.
fn fine(message: &Value) -> Answer {
    Answer::Completed(json!({"fine": true, "attempt": message["attempt"]}))
}

/// Checks that `file` lies in `agent`'s `rejected/` beside a note whose reason contains
/// `why`, and that the journal holds a `reply_rejected` record with that reason.
fn assert_refused(env: &TestEnv, agent: &str, file: &str, why: &str) -> Value {
    let rejected = env.root().join(format!("agents/{agent}/0UT.3OX/rejected"));
    assert!(
        std::fs::symlink_metadata(rejected.join(file)).is_ok(),
        "{file} is not in rejected/: {:?}",
        list(&rejected)
    );
    let note_path = rejected.join(format!("{file}.why.yaml"));
    let note: Value = serde_yaml::from_str(
        &std::fs::read_to_string(&note_path)
            .unwrap_or_else(|e| panic!("no note {}: {e}", note_path.display())),
    )
    .unwrap();
    assert_eq!(note["version"], 1, "{note}");
    assert_eq!(note["file"], file, "{note}");
    chrono::DateTime::parse_from_rfc3339(note["rejected_at"].as_str().unwrap())
        .expect("rejected_at is RFC 3339");
    let reason = note["reason"].as_str().unwrap();
    assert!(
        reason.contains(why),
        "the reason for {file} does not say `{why}`: {reason}"
    );
    let records = journal_records(env);
    let record = records
        .iter()
        .find(|r| r["event"] == "reply_rejected" && r["agent"] == agent && r["reason"] == reason)
        .unwrap_or_else(|| panic!("no reply_rejected record for {file}: {records:#?}"));
    record.clone()
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|e| {
            e.flatten()
                .map(|e| format!("{:?}", e.file_name()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn task_id(message: &Value) -> String {
    message["task_id"].as_str().unwrap().to_string()
}

fn token(message: &Value) -> String {
    message["token"].as_str().unwrap().to_string()
}

// ---- rows ----

#[test]
fn row_01_a_reply_that_is_not_yaml() {
    let env = TestEnv::new();
    run_planted(
        &env,
        ONE_TASK,
        1,
        |_, outbox| {
            put(
                outbox,
                "garbage.yaml",
                "status: [COMPLETED\n  this is: not yaml",
            )
        },
        fine,
    );
    assert_refused(&env, "worker", "garbage.yaml", "not valid YAML");
}

#[test]
fn row_02_yaml_of_the_wrong_shape() {
    let env = TestEnv::new();
    let cases: Vec<(&str, &str)> = vec![
        ("list.yaml", "a reply must be a YAML mapping"),
        ("no-id.yaml", "no `task_id` field"),
        ("no-status.yaml", "no `status` field"),
        (
            "bad-status.yaml",
            "status must be COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS",
        ),
        ("typo.yaml", "unknown field `reasn`"),
        ("output.yaml", "`output` must be a mapping"),
        ("version.yaml", "reply version 2 is not supported"),
        (
            "id-number.yaml",
            "invalid type: integer `5`, expected a string",
        ),
    ];
    let n = cases.len();
    run_planted(
        &env,
        ONE_TASK,
        n,
        |m, outbox| {
            let (id, tk) = (task_id(m), token(m));
            put(outbox, "list.yaml", "- task_id\n- status\n");
            put(
                outbox,
                "no-id.yaml",
                &format!("token: {tk}\nstatus: COMPLETED\n"),
            );
            put(
                outbox,
                "no-status.yaml",
                &format!("task_id: {id}\ntoken: {tk}\n"),
            );
            put(
                outbox,
                "bad-status.yaml",
                &format!("task_id: {id}\ntoken: {tk}\nstatus: DONE\n"),
            );
            put(
                outbox,
                "typo.yaml",
                &format!("task_id: {id}\ntoken: {tk}\nstatus: FAILED\nreasn: disk full\n"),
            );
            put(
                outbox,
                "output.yaml",
                &format!("task_id: {id}\ntoken: {tk}\nstatus: COMPLETED\noutput: [1, 2]\n"),
            );
            put(
                outbox,
                "version.yaml",
                &format!("version: 2\ntask_id: {id}\ntoken: {tk}\nstatus: COMPLETED\n"),
            );
            put(
                outbox,
                "id-number.yaml",
                &format!("task_id: 5\ntoken: {tk}\nstatus: COMPLETED\n"),
            );
        },
        fine,
    );
    for (file, why) in cases {
        assert_refused(&env, "worker", file, why);
    }
}

#[test]
fn row_03_an_unknown_task_id_and_a_task_id_that_is_a_path() {
    let env = TestEnv::new();
    run_planted(
        &env,
        ONE_TASK,
        2,
        |m, outbox| {
            put(
                outbox,
                "unknown.yaml",
                &reply(
                    &json!({"task_id": "01NOSUCHTASK000000000000000", "token": m["token"]}),
                    "COMPLETED",
                    json!({}),
                    "",
                ),
            );
            put(
                outbox,
                "path.yaml",
                &reply(
                    &json!({"task_id": "../../../.3ox/runs/x", "token": m["token"]}),
                    "COMPLETED",
                    json!({}),
                    "",
                ),
            );
        },
        fine,
    );
    let record = assert_refused(
        &env,
        "worker",
        "unknown.yaml",
        "no task with id `01NOSUCHTASK000000000000000` in this run",
    );
    assert_eq!(record["task_id"], "01NOSUCHTASK000000000000000");
    assert_refused(
        &env,
        "worker",
        "path.yaml",
        "`task_id` is not a task id: it contains a path separator",
    );
}

#[test]
fn row_04_a_reply_to_an_attempt_that_has_since_been_retried() {
    let env = TestEnv::new();
    let first: Mutex<Option<Value>> = Mutex::new(None);
    let root = env.root().to_path_buf();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, move |m| {
        let outbox = root.join("agents/worker/0UT.3OX");
        if m["attempt"] == 1 {
            *first.lock().unwrap() = Some(m.clone());
            return Answer::Failed("flaky".into());
        }
        // Attempt 2 is out: answer attempt 1 again (its own id and token), then attempt 2.
        if let Some(old) = first.lock().unwrap().take() {
            put(
                &outbox,
                "late.yaml",
                &reply(&old, "COMPLETED", json!({"stale": true}), ""),
            );
        }
        if notes_at(&root) < 1 {
            Answer::NotYet
        } else {
            fine(m)
        }
    });
    env.write("flow.yaml", "name: retried\ntasks:\n  - {name: step, taskReferenceName: only, retry: {count: 1, delay: 10ms}}\n");
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"], json!({"fine": true, "attempt": 2}));
    assert_refused(
        &env,
        "worker",
        "late.yaml",
        "stale: this reply is for attempt 1 of task `only`, which is now at attempt 2",
    );
}

#[test]
fn row_05_a_wrong_or_missing_token() {
    let env = TestEnv::new();
    run_planted(
        &env,
        ONE_TASK,
        2,
        |m, outbox| {
            let id = task_id(m);
            put(
                outbox,
                "forged.yaml",
                &format!(
                    "task_id: {id}\ntoken: tk-guessed\nstatus: COMPLETED\noutput: {{forged: true}}\n"
                ),
            );
            put(
                outbox,
                "tokenless.yaml",
                &format!("task_id: {id}\nstatus: COMPLETED\noutput: {{forged: true}}\n"),
            );
        },
        fine,
    );
    assert_refused(
        &env,
        "worker",
        "forged.yaml",
        "wrong token for attempt 1 of task `only`",
    );
    assert_refused(&env, "worker", "tokenless.yaml", "the reply has no `token`");
}

#[test]
fn row_06_a_reply_in_another_agents_outbox() {
    let env = TestEnv::new();
    register(&env, "intruder", &["other"], 1);
    let intruder = env.root().join("agents/intruder/0UT.3OX");
    std::fs::create_dir_all(&intruder).unwrap();
    let result = run_planted(
        &env,
        ONE_TASK,
        1,
        move |m, _| {
            put(
                &intruder,
                "forged.yaml",
                &reply(m, "COMPLETED", json!({"forged": true}), ""),
            )
        },
        fine,
    );
    assert_eq!(result["output"]["fine"], true);
    assert_refused(
        &env,
        "intruder",
        "forged.yaml",
        "task `only` was sent to agent `worker`, but this reply is in the outbox of `intruder`",
    );
}

#[test]
fn row_07_the_same_reply_twice() {
    let env = TestEnv::new();
    let root = env.root().to_path_buf();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, move |m| {
        if m["task_ref"] == "a" {
            let text = reply(m, "COMPLETED", json!({"n": 1}), "");
            return Answer::Many(vec![Answer::Raw(text.clone()), Answer::Raw(text)]);
        }
        if notes_at(&root) < 1 {
            Answer::NotYet
        } else {
            fine(m)
        }
    });
    env.write("flow.yaml", "name: twice\ntasks:\n  - {name: step, taskReferenceName: a}\n  - {name: step, taskReferenceName: b}\n");
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    let rejected = env.root().join("agents/worker/0UT.3OX/rejected");
    let file = list(&rejected)
        .into_iter()
        .map(|n| n.trim_matches('"').to_string())
        .find(|n| !n.ends_with(".why.yaml"))
        .expect("one reply refused");
    assert_refused(
        &env,
        "worker",
        &file,
        "duplicate: attempt 1 of task `a` was already settled (COMPLETED)",
    );
    let completed = journal_records(&env)
        .iter()
        .filter(|r| r["event"] == "task_completed" && r["task_ref"] == "a")
        .count();
    assert_eq!(completed, 1, "applied once");
}

#[test]
fn row_08_a_file_above_the_size_limit_is_refused_unread() {
    assert_eq!(
        threeox::mailbox::MAX_FILE_BYTES,
        4 * 1024 * 1024,
        "docs/bad-input.md states the limit"
    );
    let env = TestEnv::new();
    run_planted(
        &env,
        ONE_TASK,
        1,
        |m, outbox| {
            // A valid reply padded past the limit with a comment: it would apply if it were read.
            let mut text = reply(m, "COMPLETED", json!({"huge": true}), "");
            text.push('#');
            text.push_str(&"x".repeat(5 * 1024 * 1024));
            put(outbox, "huge.yaml", &text);
        },
        fine,
    );
    assert_refused(&env, "worker", "huge.yaml", "the limit is 4194304");
}

#[cfg(unix)]
#[test]
fn row_09_a_symlink_and_a_fifo_are_refused_unread_and_a_folder_is_left_alone() {
    let env = TestEnv::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.yaml");
    let secret_for_agent = secret.clone();
    let result = run_planted(
        &env,
        ONE_TASK,
        2,
        move |m, outbox| {
            // Outside the station, a perfectly good reply: following the link would apply it.
            std::fs::write(
                &secret_for_agent,
                reply(m, "COMPLETED", json!({"stolen": true}), ""),
            )
            .unwrap();
            std::os::unix::fs::symlink(&secret_for_agent, outbox.join("link.yaml")).unwrap();
            let made = std::process::Command::new("mkfifo")
                .arg(outbox.join("pipe.yaml"))
                .status()
                .unwrap();
            assert!(made.success());
            std::fs::create_dir(outbox.join("folder.yaml")).unwrap();
        },
        fine,
    );
    assert_eq!(result["output"]["fine"], true, "the link was not followed");
    assert_refused(
        &env,
        "worker",
        "link.yaml",
        "a symlink: only plain files are read",
    );
    assert_refused(&env, "worker", "pipe.yaml", "a FIFO");
    let rejected = env.root().join("agents/worker/0UT.3OX/rejected");
    assert!(
        std::fs::symlink_metadata(rejected.join("link.yaml"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link itself moved"
    );
    assert!(
        std::fs::read_to_string(&secret).unwrap().contains("stolen"),
        "the target is untouched"
    );
    assert!(
        env.root()
            .join("agents/worker/0UT.3OX/folder.yaml")
            .is_dir(),
        "folders are not mail"
    );
}

#[cfg(unix)]
#[test]
fn row_10_names_with_control_characters_or_not_utf8_are_refused_under_a_sane_name() {
    use std::os::unix::ffi::OsStrExt as _;
    let env = TestEnv::new();
    run_planted(
        &env,
        ONE_TASK,
        3,
        |m, outbox| {
            let good = reply(m, "COMPLETED", json!({"odd_name": true}), "");
            put(outbox, "line\nbreak.yaml", &good);
            put(outbox, "\x1b[31mred.yaml", &good);
            let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.yaml");
            let tmp = outbox.join(".latin1.tmp");
            std::fs::write(&tmp, &good).unwrap();
            std::fs::rename(&tmp, outbox.join(latin1)).unwrap();
        },
        fine,
    );
    assert_refused(
        &env,
        "worker",
        "line_break.yaml",
        "the file name contains a control character",
    );
    assert_refused(
        &env,
        "worker",
        "_[31mred.yaml",
        "the file name contains a control character",
    );
    assert_refused(&env, "worker", "caf_.yaml", "the file name is not UTF-8");
    let rejected = env.root().join("agents/worker/0UT.3OX/rejected");
    for entry in std::fs::read_dir(&rejected).unwrap().flatten() {
        let name = entry.file_name();
        assert!(
            name.to_str()
                .is_some_and(|n| !n.chars().any(char::is_control)),
            "{name:?}"
        );
    }
    // The journal stays one record per line group: no raw escape or stray byte in it.
    let runs = env.root().join(".3ox/runs");
    for journal in std::fs::read_dir(runs).unwrap().flatten() {
        let bytes = std::fs::read(journal.path()).unwrap();
        assert!(
            !bytes.contains(&0x1b) && std::str::from_utf8(&bytes).is_ok(),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn row_10_dot_names_are_in_progress_and_never_read() {
    let env = TestEnv::new();
    let root = env.root().to_path_buf();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, move |m| {
        let outbox = root.join("agents/worker/0UT.3OX");
        let evil = reply(m, "COMPLETED", json!({"evil": true}), "");
        for name in ["..evil.yaml", ".evil.yaml"] {
            std::fs::write(outbox.join(name), &evil).unwrap();
        }
        // Time enough for the orchestrator to see (and wrongly apply) them, were they read.
        std::thread::sleep(Duration::from_millis(300));
        fine(m)
    });
    env.write("flow.yaml", ONE_TASK);
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"]["fine"], true);
    for name in ["..evil.yaml", ".evil.yaml"] {
        assert!(
            env.root()
                .join("agents/worker/0UT.3OX")
                .join(name)
                .is_file(),
            "{name} was touched"
        );
    }
    let records = journal_records(&env);
    assert!(
        !records.iter().any(|r| r.to_string().contains("evil")),
        "{records:#?}"
    );
}

#[test]
fn row_11_workflow_agent_and_reference_names_that_are_not_plain_names() {
    let env = TestEnv::new();
    register(&env, "worker", &["step"], 1);
    env.write(
        "escape.yaml",
        "name: escape\ntasks:\n  - {name: step, taskReferenceName: \"../x\", agent: \"../../etc\"}\n  - {name: step, taskReferenceName: \"a/b\", agent: /tmp/agent}\n  - {name: step, taskReferenceName: \"red\\e[31m\", agent: \"line\\nbreak\"}\n",
    );
    let out = env.run(&["validate", "escape.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.ends_with("1 file, 1 invalid, 6 errors\n"), "{text}");
    for expected in [
        "error: `taskReferenceName: ../x` is not usable as a name: it contains a path separator",
        " --> escape.yaml:3:",
        "error: `agent: /tmp/agent` is not usable as a name: it contains a path separator",
        "error: `taskReferenceName: red\\u{1b}[31m` is not usable as a name: it contains a control character",
        "error: `agent: line\\nbreak` is not usable as a name: it contains a control character",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert!(!text.contains('\x1b'), "no raw escape reaches the terminal");
    let run = env.run(&["run", "escape.yaml", "--no-agents"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(
        !env.root()
            .join(".3ox/runs")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "no run was started"
    );
}

#[cfg(unix)]
#[test]
fn row_11_an_agent_folder_whose_name_is_not_plain_is_refused_and_a_dot_folder_ignored() {
    let env = TestEnv::new();
    register(&env, "worker", &["step"], 1);
    register(&env, ".hidden", &["step"], 1);
    env.write("flow.yaml", ONE_TASK);
    let listed = env.run(&["agent", "list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        !stdout(&listed).contains("hidden"),
        "dot folders are not agents: {}",
        stdout(&listed)
    );
    register(&env, "bad\x1bname", &["step"], 1);
    let out = output_within(
        env.cmd(&["run", "flow.yaml", "--no-agents"]),
        Duration::from_secs(20),
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("bad_name: the folder name is not usable as an agent name: it contains a control character"), "{err}");
    assert!(!err.contains('\x1b'), "{err:?}");
}

#[test]
fn row_12_a_sub_workflow_that_runs_itself_is_refused_with_the_chain() {
    let env = TestEnv::new();
    register(&env, "worker", &["step"], 1);
    env.write(
        "loop.yaml",
        "name: loop\ntasks:\n  - {name: step, taskReferenceName: first}\n  - name: again\n    taskReferenceName: again\n    type: SUB_WORKFLOW\n    subWorkflowParam: {name: loop, version: 1}\n",
    );
    let out = env.run(&["validate", "loop.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        text.contains("error: workflow `loop` starts itself (SUB_WORKFLOW): loop -> loop"),
        "{text}"
    );
    assert!(text.contains(" --> loop.yaml:4:5"), "{text}");
    let run = env.run(&["run", "loop.yaml", "--no-agents"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("loop -> loop"), "{}", stderr(&run));
    assert!(
        !env.root()
            .join(".3ox/runs")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "no run was started"
    );
}

/// "Billion laughs": ten levels of ten aliases each.
fn alias_bomb(key: &str) -> String {
    let mut text =
        format!("{key}:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("  l{level}: &l{level} [{aliases}]\n"));
    }
    text
}

/// An anchored list of 2,000 items aliased 2,000 times: four million values from 20 KB, and
/// under serde_yaml's own alias-jump limit.
fn wide_bomb() -> String {
    format!(
        "big: &big [{}]\ncopies: [{}]\n",
        vec!["0"; 2000].join(","),
        vec!["*big"; 2000].join(",")
    )
}

#[test]
fn row_13_alias_bombs_in_replies() {
    let env = TestEnv::new();
    let started = Instant::now();
    run_planted(
        &env,
        ONE_TASK,
        2,
        |m, outbox| {
            let head = format!(
                "task_id: {}\ntoken: {}\nstatus: COMPLETED\n",
                task_id(m),
                token(m)
            );
            put(
                outbox,
                "laughs.yaml",
                &format!("{head}{}", alias_bomb("output")),
            );
            put(
                outbox,
                "wide.yaml",
                &format!(
                    "{head}output:\n{}",
                    wide_bomb()
                        .lines()
                        .map(|l| format!("  {l}\n"))
                        .collect::<String>()
                ),
            );
        },
        fine,
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_refused(
        &env,
        "worker",
        "laughs.yaml",
        "expands to more than 1000000 values through its aliases",
    );
    assert_refused(
        &env,
        "worker",
        "wide.yaml",
        "expands to more than 1000000 values through its aliases",
    );
}

#[test]
fn row_13_alias_bombs_in_a_task_message_an_agent_yaml_and_a_workflow() {
    let env = TestEnv::new();
    // A task message: the worker that `3ox run` starts refuses it and serves the real task.
    env.write(
        "agents/shell/agent.yaml",
        "version: 1\ncapabilities: [step]\ncommand: [sh, -c, 'echo {}']\n",
    );
    env.write(
        "agents/shell/1N.3OX/bomb.task.yaml",
        &format!("version: 1\ntask_id: bomb\n{}", alias_bomb("input")),
    );
    env.write("flow.yaml", ONE_TASK);
    let out = output_within(
        env.cmd(&["run", "flow.yaml", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let note: Value =
        serde_yaml::from_str(&env.read("agents/shell/1N.3OX/rejected/bomb.task.yaml.why.yaml"))
            .unwrap();
    assert!(
        note["reason"]
            .as_str()
            .unwrap()
            .contains("expands to more than"),
        "{note}"
    );

    // agent.yaml: refused with its path, quickly.
    env.write(
        "agents/bomber/agent.yaml",
        &format!(
            "version: 1\n{}",
            wide_bomb()
                .replace("big:", "description:")
                .replace("copies:", "capabilities:")
        ),
    );
    let started = Instant::now();
    let out = output_within(env.cmd(&["agent", "list"]), Duration::from_secs(20));
    assert_ne!(out.status.code(), Some(0));
    // Refused before anything is expanded: quick even for a debug build on a busy machine.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let err = stderr(&out);
    assert!(
        err.contains("agents/bomber/agent.yaml") && err.contains("expands to more than"),
        "{err}"
    );
    std::fs::remove_dir_all(env.root().join("agents/bomber")).unwrap();

    // A workflow: the validator's own guard.
    env.write(
        "bomb.yaml",
        &format!(
            "name: bomb\ntasks:\n  - {{name: step, taskReferenceName: only}}\n{}",
            alias_bomb("variables")
        ),
    );
    let out = output_within(env.cmd(&["validate", "bomb.yaml"]), Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("expands to more than 100000 nodes"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn row_14_an_empty_file_and_text_that_is_not_utf8() {
    let env = TestEnv::new();
    let result = run_planted(
        &env,
        ONE_TASK,
        3,
        |_, outbox| {
            put(outbox, "empty.yaml", "");
            let write = |name: &str, bytes: &[u8]| {
                let tmp = outbox.join(format!(".{name}"));
                std::fs::write(&tmp, bytes).unwrap();
                std::fs::rename(&tmp, outbox.join(name)).unwrap();
            };
            write("latin1.yaml", b"status: \xe9t\xe9\n");
            write("utf16.yaml", b"\xff\xfes\x00t\x00a\x00t\x00u\x00s\x00");
        },
        // A UTF-8 byte order mark (as some Windows editors write) is fine.
        |m| {
            Answer::Raw(format!(
                "\u{feff}{}",
                reply(m, "COMPLETED", json!({"bom": true}), "")
            ))
        },
    );
    assert_eq!(result["output"], json!({"bom": true}));
    assert_refused(&env, "worker", "empty.yaml", "the file is empty");
    assert_refused(&env, "worker", "latin1.yaml", "the file is not UTF-8 text");
    assert_refused(
        &env,
        "worker",
        "utf16.yaml",
        "the file is UTF-16 text; write UTF-8",
    );
}

#[test]
fn row_15_a_reply_for_a_run_that_has_ended() {
    let env = TestEnv::new();
    let seen: std::sync::Arc<Mutex<Vec<Value>>> = Default::default();
    let seen_by_agent = seen.clone();
    let root = env.root().to_path_buf();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, move |m| {
        let first = {
            let mut seen = seen_by_agent.lock().unwrap();
            if !seen.iter().any(|s| s["task_id"] == m["task_id"]) {
                seen.push(m.clone());
            }
            seen[0]["task_id"] == m["task_id"]
        };
        // The second run's task waits until the late reply to the first run has been refused.
        if first || notes_at(&root) >= 1 {
            fine(m)
        } else {
            Answer::NotYet
        }
    });
    env.write("flow.yaml", ONE_TASK);
    let (code, first, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{first}");
    // After the run ended, the agent answers its task again, echoing run_id too.
    let message = seen.lock().unwrap()[0].clone();
    let mut late: Value =
        serde_yaml::from_str(&reply(&message, "COMPLETED", json!({"late": true}), "")).unwrap();
    late["run_id"] = first["run_id"].clone();
    put(
        &env.root().join("agents/worker/0UT.3OX"),
        "late.yaml",
        &serde_yaml::to_string(&late).unwrap(),
    );
    let (code, second, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{second}");
    let reason = format!(
        "run {} has ended (COMPLETED); the reply came too late",
        first["run_id"].as_str().unwrap()
    );
    let note = env.read("agents/worker/0UT.3OX/rejected/late.yaml.why.yaml");
    assert!(note.contains(&reason), "{note}");
    // The run that found it refuses it, but does not journal another run's late reply.
    let records = journal_records(&env);
    assert!(
        !records
            .iter()
            .any(|r| r["event"] == "reply_rejected" && r["file"] == "late.yaml"),
        "a run writes no record for a reply that belongs to another run: {records:#?}"
    );
}

#[test]
fn a_refused_reply_with_a_255_byte_name_gets_its_note_and_the_name_can_be_used_again() {
    let env = TestEnv::new();
    let long = format!("{}.yaml", "r".repeat(250));
    let planted = long.clone();
    let result = run_planted(
        &env,
        ONE_TASK,
        1,
        move |_, outbox| put_short_tmp(outbox, &planted, "not: [valid"),
        // Then the good reply comes under the very same 255-byte name.
        {
            let (long, outbox) = (long.clone(), env.root().join("agents/worker/0UT.3OX"));
            let written = AtomicBool::new(false);
            move |m| {
                if !written.swap(true, Ordering::SeqCst) {
                    put_short_tmp(
                        &outbox,
                        &long,
                        &reply(m, "COMPLETED", json!({"ok": true}), ""),
                    );
                }
                Answer::NotYet
            }
        },
    );
    assert_eq!(result["output"], json!({"ok": true}));
    let rejected = env.root().join("agents/worker/0UT.3OX/rejected");
    let notes: Vec<String> = std::fs::read_dir(&rejected)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".why.yaml"))
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].len() < 200,
        "a name the filesystem takes: {}",
        notes[0]
    );
    let note: Value =
        serde_yaml::from_str(&std::fs::read_to_string(rejected.join(&notes[0])).unwrap()).unwrap();
    assert_eq!(note["file"], long.as_str(), "the note gives the whole name");
    assert!(
        note["reason"].as_str().unwrap().contains("not valid YAML"),
        "{note}"
    );
}

/// Like `put`, with a temporary name short enough that `name` may be 255 bytes.
fn put_short_tmp(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(".long.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}
