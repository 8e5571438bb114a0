//! `3ox agent run` and `3ox agent list`: a real worker serves a temporary station while the
//! test plays the orchestrator, dropping task messages into the inbox and reading replies.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use threeox::mailbox::atomic::{self, Durability};
use threeox::mailbox::message::TaskMessage;
use threeox::mailbox::reply::{Reply, ReplyStatus};

use crate::support::{ChildGuard, TestEnv, stderr, stdout, wait_for};

const WAIT: Duration = Duration::from_secs(10);

/// A station with one agent `echoer` whose agent.yaml is `yaml`.
fn station(yaml: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write("agents/echoer/agent.yaml", yaml);
    env
}

/// Starts `3ox agent run echoer <args>`; its stderr goes to `echoer.log` in the station.
fn start_worker(env: &TestEnv, args: &[&str]) -> ChildGuard {
    start_agent(env, "echoer", args)
}

/// Starts `3ox agent run <agent> <args>`; its stderr goes to `<agent>.log` in the station.
fn start_agent(env: &TestEnv, agent: &str, args: &[&str]) -> ChildGuard {
    let log = std::fs::File::create(env.root().join(format!("{agent}.log"))).unwrap();
    let mut all = vec!["agent", "run", agent];
    all.extend_from_slice(args);
    let child = env
        .cmd(&all)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start 3ox agent run");
    ChildGuard(child)
}

/// Starts another `3ox agent run echoer <args>`, logging to `<log>.log`.
fn start_agent_logged(env: &TestEnv, log: &str, args: &[&str]) -> ChildGuard {
    let file = std::fs::File::create(env.root().join(format!("{log}.log"))).unwrap();
    let mut all = vec!["agent", "run", "echoer"];
    all.extend_from_slice(args);
    ChildGuard(
        env.cmd(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start 3ox agent run"),
    )
}

fn message(task_id: &str, input: Value, attempt: u32) -> TaskMessage {
    message_to("echoer", "echo", "echo_ref", task_id, input, attempt)
}

fn message_to(
    agent: &str,
    task: &str,
    task_ref: &str,
    task_id: &str,
    input: Value,
    attempt: u32,
) -> TaskMessage {
    TaskMessage {
        version: 1,
        task_id: task_id.to_string(),
        run_id: "run-1".to_string(),
        workflow: "test_flow".to_string(),
        task: task.to_string(),
        task_ref: task_ref.to_string(),
        attempt,
        token: format!("token-of-{task_id}"),
        agent: agent.to_string(),
        created_at: chrono::Utc::now(),
        input,
        task_type: None,
        reply: TaskMessage::reply_instructions(
            task_id,
            "run-1",
            &format!("token-of-{task_id}"),
            &format!("agents/{agent}/0UT.3OX"),
        ),
    }
}

/// Delivers a message the way the orchestrator does: atomically into the inbox of its agent
/// (or a folder below it).
fn deliver_into(env: &TestEnv, folder: &str, msg: &TaskMessage) -> PathBuf {
    let dir = env
        .root()
        .join("agents")
        .join(&msg.agent)
        .join("1N.3OX")
        .join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(TaskMessage::file_name(&msg.task_id));
    atomic::write(&path, msg.to_yaml().as_bytes(), Durability::Durable).unwrap();
    path
}

fn deliver(env: &TestEnv, task_id: &str, input: Value) -> PathBuf {
    deliver_into(env, "", &message(task_id, input, 1))
}

fn reply_path(env: &TestEnv, name: &str) -> PathBuf {
    env.root().join("agents/echoer/0UT.3OX").join(name)
}

/// Waits for echoer's final reply to `task_id`.
fn wait_reply(env: &TestEnv, task_id: &str) -> Reply {
    wait_reply_from(env, "echoer", task_id)
}

/// Waits for `agent`'s final reply to `task_id`.
fn wait_reply_from(env: &TestEnv, agent: &str, task_id: &str) -> Reply {
    let path = env
        .root()
        .join("agents")
        .join(agent)
        .join("0UT.3OX")
        .join(format!("{task_id}.reply.yaml"));
    wait_for(WAIT, || {
        path.exists()
            .then(|| Reply::read(&path).expect("the worker writes valid replies"))
    })
    .unwrap_or_else(|| {
        panic!(
            "no reply for {task_id} within {WAIT:?}; worker log:\n{}",
            agent_log(env, agent)
        )
    })
}

/// Sends SIGTERM (so the worker kills its running command) and waits for the worker to end.
fn stop_gracefully(worker: &mut ChildGuard) {
    #[cfg(unix)]
    {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status();
        let _ = wait_for(WAIT, || worker.0.try_wait().ok().flatten());
    }
}

fn worker_log(env: &TestEnv) -> String {
    agent_log(env, "echoer")
}

fn agent_log(env: &TestEnv, agent: &str) -> String {
    std::fs::read_to_string(env.root().join(format!("{agent}.log"))).unwrap_or_default()
}

#[test]
fn a_task_completes_with_what_the_command_printed() {
    let env = station("version: 1\ncapabilities: [echo]\n");
    let script = r#"read x; test -f "$THREEOX_MESSAGE" && m=yes; printf '{"got": %s, "attempt": "%s", "task": "%s", "ref": "%s", "run": "%s", "id": "%s", "agent": "%s", "message_exists": "%s", "cwd": "%s", "station": "%s", "reply_dir": "%s"}' "$x" "$THREEOX_ATTEMPT" "$THREEOX_TASK" "$THREEOX_TASK_REF" "$THREEOX_RUN_ID" "$THREEOX_TASK_ID" "$THREEOX_AGENT" "$m" "$(pwd)" "$THREEOX_STATION" "$THREEOX_REPLY_DIR""#;
    let _worker = start_worker(&env, &["--", "sh", "-c", script]);
    deliver_into(&env, "", &message("T1", json!({"n": 7, "name": "a b"}), 2));

    let reply = wait_reply(&env, "T1");
    let root = env.root().canonicalize().unwrap().display().to_string();
    assert_eq!(reply.status, ReplyStatus::Completed, "{:?}", reply.reason);
    assert_eq!(reply.task_id, "T1");
    assert_eq!(reply.run_id.as_deref(), Some("run-1"));
    assert_eq!(
        reply.output,
        json!({
            "got": {"n": 7, "name": "a b"}, "attempt": "2", "task": "echo", "ref": "echo_ref", "run": "run-1", "id": "T1",
            "agent": "echoer", "message_exists": "yes", "cwd": root, "station": root,
            "reply_dir": format!("{root}/agents/echoer/0UT.3OX"),
        })
    );
    // Claimed and left there for the orchestrator to archive.
    assert!(
        env.root()
            .join("agents/echoer/1N.3OX/claimed/T1.task.yaml")
            .is_file()
    );
    assert!(
        !env.root()
            .join("agents/echoer/1N.3OX/T1.task.yaml")
            .exists()
    );
}

#[test]
fn yaml_and_empty_output_are_objects_too() {
    let env = station("version: 1\ncommand: [sh, scripts/answer.sh]\n");
    env.write(
        "scripts/answer.sh",
        "read x\ncase \"$x\" in *yaml*) printf 'a: 1\\nb: [x, y]\\n';; esac\n",
    );
    let _worker = start_worker(&env, &[]);
    deliver(&env, "Y1", json!({"want": "yaml"}));
    deliver(&env, "Y2", json!({"want": "nothing"}));
    let yaml = wait_reply(&env, "Y1");
    assert_eq!(
        (yaml.status, yaml.output),
        (ReplyStatus::Completed, json!({"a": 1, "b": ["x", "y"]})),
        "{:?}",
        yaml.reason
    );
    let empty = wait_reply(&env, "Y2");
    assert_eq!(
        (empty.status, empty.output),
        (ReplyStatus::Completed, json!({}))
    );
}

#[test]
fn failures_become_failed_replies_that_say_why() {
    let env = station("version: 1\nconcurrency: 3\n");
    let script = r#"read x; case "$x" in
        *crash*) echo "checking" >&2; echo "disk on fire" >&2; exit 3;;
        *list*) echo '[1, 2, 3]';;
        *signal*) kill -9 $$;;
    esac"#;
    let _worker = start_worker(&env, &["--", "sh", "-c", script]);
    deliver(&env, "F1", json!({"do": "crash"}));
    deliver(&env, "F2", json!({"do": "list"}));
    deliver(&env, "F3", json!({"do": "signal"}));

    let crash = wait_reply(&env, "F1");
    assert_eq!(crash.status, ReplyStatus::Failed);
    assert_eq!(
        crash.reason.as_deref(),
        Some("exit code 3: checking\ndisk on fire")
    );
    let list = wait_reply(&env, "F2");
    assert_eq!(list.status, ReplyStatus::Failed);
    assert_eq!(
        list.reason.as_deref(),
        Some(
            "the command succeeded but its standard output is not a JSON or YAML object: [1, 2, 3]"
        )
    );
    let signal = wait_reply(&env, "F3");
    assert_eq!(signal.status, ReplyStatus::Failed);
    assert!(
        signal
            .reason
            .as_deref()
            .unwrap()
            .starts_with("killed by signal 9 (SIGKILL)"),
        "{:?}",
        signal.reason
    );
}

#[test]
fn a_command_that_cannot_start_fails_the_task_with_the_os_error() {
    let env = station("version: 1\ncommand: [./no-such-program, --flag]\n");
    let _worker = start_worker(&env, &[]);
    deliver(&env, "N1", json!({}));
    let reply = wait_reply(&env, "N1");
    assert_eq!(reply.status, ReplyStatus::Failed);
    let reason = reply.reason.unwrap();
    assert!(
        reason.starts_with("cannot start `./no-such-program`: No such file or directory"),
        "{reason}"
    );
}

#[test]
fn concurrency_is_respected() {
    let env = station("version: 1\nconcurrency: 2\n");
    let script = r#"s=$(date +%s.%N); sleep 0.5; e=$(date +%s.%N); printf '{"start": %s, "end": %s}' "$s" "$e""#;
    let _worker = start_worker(&env, &["--", "sh", "-c", script]);
    let ids = ["C1", "C2", "C3", "C4"];
    for id in ids {
        deliver(&env, id, json!({}));
    }
    let spans: Vec<(f64, f64)> = ids
        .iter()
        .map(|id| {
            let reply = wait_reply(&env, id);
            assert_eq!(reply.status, ReplyStatus::Completed, "{:?}", reply.reason);
            (
                reply.output["start"].as_f64().unwrap(),
                reply.output["end"].as_f64().unwrap(),
            )
        })
        .collect();
    let most = spans
        .iter()
        .map(|(start, _)| {
            spans
                .iter()
                .filter(|(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap();
    assert_eq!(most, 2, "at most 2 tasks run at once, and 2 did: {spans:?}");
}

#[test]
fn the_cli_concurrency_overrides_agent_yaml() {
    let env = station("version: 1\nconcurrency: 1\n");
    // Each task waits until the other has started: only two at once can finish.
    let script = r#"read x; touch "started-$x"; for i in $(seq 1 200); do [ "$(ls started-* | wc -l)" -ge 2 ] && break; sleep 0.02; done; [ "$(ls started-* | wc -l)" -ge 2 ] || exit 9; echo '{}'"#;
    let _worker = start_worker(&env, &["--concurrency", "2", "--", "sh", "-c", script]);
    deliver(&env, "O1", json!(1));
    deliver(&env, "O2", json!(2));
    assert_eq!(wait_reply(&env, "O1").status, ReplyStatus::Completed);
    assert_eq!(wait_reply(&env, "O2").status, ReplyStatus::Completed);
}

#[test]
fn a_malformed_message_is_rejected_with_a_note_and_work_goes_on() {
    let env = station("version: 1\n");
    env.write(
        "agents/echoer/1N.3OX/bad.task.yaml",
        "task_id: [not closed\n",
    );
    env.write("agents/echoer/1N.3OX/other.task.yaml", "hello: world\n");
    env.write("agents/echoer/1N.3OX/.in-progress.task.yaml", "half a fi");
    let _worker = start_worker(&env, &["--", "sh", "-c", "echo '{\"ok\": true}'"]);
    deliver(&env, "G1", json!({}));

    assert_eq!(wait_reply(&env, "G1").output, json!({"ok": true}));
    let rejected = env.root().join("agents/echoer/1N.3OX/rejected");
    for (name, why) in [
        ("bad.task.yaml", "not valid YAML"),
        ("other.task.yaml", "missing field"),
    ] {
        let note_path = rejected.join(format!("{name}.why.yaml"));
        let note = wait_for(WAIT, || std::fs::read_to_string(&note_path).ok())
            .unwrap_or_else(|| panic!("no note for {name}"));
        let note: Value = serde_yaml::from_str(&note).unwrap();
        assert_eq!(note["file"], name);
        assert_eq!(note["version"], 1);
        assert!(note["reason"].as_str().unwrap().contains(why), "{note:?}");
        assert!(rejected.join(name).is_file());
    }
    // Dot names are somebody's write in progress: left alone.
    assert!(
        env.root()
            .join("agents/echoer/1N.3OX/.in-progress.task.yaml")
            .is_file()
    );
}

#[test]
fn messages_left_in_claimed_run_again_at_start_unless_replied() {
    let env = station("version: 1\n");
    // Sorted first, so with concurrency 1 it would run before the other if it ran at all.
    deliver_into(&env, "claimed", &message("R0-replied", json!({}), 1));
    std::fs::create_dir_all(reply_path(&env, "")).unwrap();
    std::fs::write(
        reply_path(&env, "R0-replied.reply.yaml"),
        "version: 1\ntask_id: R0-replied\nstatus: COMPLETED\noutput: {by: earlier}\n",
    )
    .unwrap();
    deliver_into(
        &env,
        "claimed",
        &message("R1-lost", json!({"again": true}), 1),
    );

    let _worker = start_worker(
        &env,
        &["--", "sh", "-c", r#"read x; printf '{"rerun": %s}' "$x""#],
    );
    assert_eq!(
        wait_reply(&env, "R1-lost").output,
        json!({"rerun": {"again": true}})
    );
    assert_eq!(
        Reply::read(&reply_path(&env, "R0-replied.reply.yaml"))
            .unwrap()
            .output,
        json!({"by": "earlier"})
    );
}

#[test]
fn a_second_worker_leaves_messages_a_live_worker_runs_alone() {
    let env = station("version: 1\n");
    let mut first = start_agent_logged(
        &env,
        "first",
        &[
            "--",
            "sh",
            "-c",
            "echo started > first.txt; sleep 30; echo '{\"by\": \"first\"}'",
        ],
    );
    deliver(&env, "W1", json!({}));
    wait_for(WAIT, || env.root().join("first.txt").exists().then_some(()))
        .expect("the first worker runs W1");

    // With concurrency 1 the second worker would run W1 (found in claimed/ at start) before W2.
    let _second = start_agent_logged(
        &env,
        "second",
        &["--", "sh", "-c", "echo '{\"by\": \"second\"}'"],
    );
    deliver(&env, "W2", json!({}));
    assert_eq!(wait_reply(&env, "W2").output, json!({"by": "second"}));
    assert!(!reply_path(&env, "W1.reply.yaml").exists(), "W1 ran twice");
    stop_gracefully(&mut first);
}

#[test]
fn a_long_task_sends_heartbeats() {
    let env = station("version: 1\n");
    let _worker = start_worker(
        &env,
        &[
            "--heartbeat",
            "150ms",
            "--",
            "sh",
            "-c",
            "sleep 0.6; echo '{\"done\": true}'",
        ],
    );
    // An earlier run of the same task (before a crash) sent heartbeat 1: it is not overwritten.
    let earlier = "version: 1\ntask_id: H1\nstatus: IN_PROGRESS\nreason: earlier run\n";
    env.write("agents/echoer/0UT.3OX/done/H1.hb-1.yaml", earlier);
    deliver(&env, "H1", json!({}));
    let reply = wait_reply(&env, "H1");
    assert_eq!(reply.output, json!({"done": true}));
    assert_eq!(env.read("agents/echoer/0UT.3OX/done/H1.hb-1.yaml"), earlier);
    assert!(!reply_path(&env, "H1.hb-1.yaml").exists());
    for n in [2, 3] {
        let beat =
            Reply::read(&reply_path(&env, &format!("H1.hb-{n}.yaml"))).expect("a heartbeat reply");
        assert_eq!(
            (beat.status, beat.task_id.as_str()),
            (ReplyStatus::InProgress, "H1")
        );
        assert!(beat.reason.unwrap().contains("still running"));
    }
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_worker_and_its_commands() {
    let env = station("version: 1\n");
    let mut worker = start_worker(
        &env,
        &["--", "sh", "-c", "echo $$ > child.pid; exec sleep 30"],
    );
    deliver(&env, "S1", json!({}));
    let pid_file = env.root().join("child.pid");
    let child_pid = wait_for(WAIT, || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
    .unwrap_or_else(|| {
        panic!(
            "the command did not start; worker log:\n{}",
            worker_log(&env)
        )
    });
    let child_pid = child_pid.trim().to_string();

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status =
        wait_for(WAIT, || worker.0.try_wait().unwrap()).expect("the worker stops on SIGTERM");
    assert_eq!(status.code(), Some(0), "worker log:\n{}", worker_log(&env));
    let gone = wait_for(WAIT, || {
        let alive = std::process::Command::new("kill")
            .args(["-0", &child_pid])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        (!alive.success()).then_some(())
    });
    assert!(gone.is_some(), "the running command was killed");
    // No reply: the message stays claimed and runs again at the next start.
    assert!(!reply_path(&env, "S1.reply.yaml").exists());
    assert!(
        env.root()
            .join("agents/echoer/1N.3OX/claimed/S1.task.yaml")
            .is_file()
    );
}

#[test]
fn an_unknown_agent_or_a_missing_command_is_a_clear_error() {
    let env = station("version: 1\n");
    env.write("agents/other/agent.yaml", "version: 1\n");
    let out = env.run(&["agent", "run", "nobody", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no agent `nobody`")
            && stderr(&out).contains("its agents are: echoer, other"),
        "{}",
        stderr(&out)
    );

    let out = env.run(&["agent", "run", "echoer"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no command to run for agent `echoer`"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("hint:"), "{}", stderr(&out));
}

#[test]
fn agent_list_shows_agents_and_waiting_messages() {
    let env = station(
        "version: 1\ncapabilities: [echo, shout]\nconcurrency: 3\ncommand: [python3, echo.py]\n",
    );
    env.write("agents/idle/agent.yaml", "version: 1\n");
    deliver(&env, "L1", json!({}));
    deliver(&env, "L2", json!({}));

    let out = env.run(&["agent", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        list,
        json!([
            {"name": "echoer", "capabilities": ["echo", "shout"], "concurrency": 3, "command": ["python3", "echo.py"], "mode": "per-task", "waiting": 2, "claimed": 0},
            {"name": "idle", "capabilities": [], "concurrency": 1, "command": null, "mode": "per-task", "waiting": 0, "claimed": 0},
        ])
    );
    let out = env.run(&["agent", "list"]);
    let text = stdout(&out);
    assert!(text.lines().next().unwrap().starts_with("AGENT "), "{text}");
    assert!(
        text.contains("echo,shout") && text.contains("python3 echo.py"),
        "{text}"
    );
}

/// Copies `from` to `to`, leaving out mailbox folders (a demo run may have left mail there).
fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from)
        .into_iter()
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some("1N.3OX" | "0UT.3OX")))
    {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The README's demo, played by hand: the demo agents of this repository check the sample
/// station, the test doing what the orchestrator does (fork, retry, join, aggregate, report).
#[test]
fn the_demo_agents_check_the_sample_station() {
    let env = TestEnv::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in [
        "agents/inventory-checker",
        "agents/inventory-reporter",
        "stations/sample",
    ] {
        copy_tree(&repo.join(dir), &env.root().join(dir));
    }
    let _checker = start_agent(&env, "inventory-checker", &[]);
    let _reporter = start_agent(&env, "inventory-reporter", &[]);

    let folders = [
        "inventory-clean",
        "inventory-broken",
        "inventory-flaky",
        "no-such-folder",
    ];
    let check = |i: usize, attempt: u32| {
        let id = format!("V{i}-{attempt}");
        let input = json!({"station_root": "stations/sample", "item": folders[i]});
        deliver_into(
            &env,
            "",
            &message_to(
                "inventory-checker",
                "validate_folder",
                &format!("_validate_folder_{i}"),
                &id,
                input,
                attempt,
            ),
        );
        id
    };
    let ids: Vec<String> = (0..folders.len()).map(|i| check(i, 1)).collect();
    let mut results = serde_json::Map::new();
    for (i, id) in ids.iter().enumerate() {
        let mut reply = wait_reply_from(&env, "inventory-checker", id);
        if folders[i] == "inventory-flaky" {
            assert_eq!(reply.status, ReplyStatus::Failed);
            assert_eq!(
                reply.reason.as_deref(),
                Some("exit code 75: storage not ready (simulated transient failure on attempt 1)")
            );
            reply = wait_reply_from(&env, "inventory-checker", &check(i, 2));
        }
        assert_eq!(
            reply.status,
            ReplyStatus::Completed,
            "{}: {:?}",
            folders[i],
            reply.reason
        );
        results.insert(format!("_validate_folder_{i}"), reply.output);
    }
    let kinds = |i: usize| -> Vec<String> {
        let problems = results[&format!("_validate_folder_{i}")]["problems"]
            .as_array()
            .unwrap()
            .clone();
        problems
            .iter()
            .map(|p| p["check"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        results["_validate_folder_0"]["ok"], true,
        "{:?}",
        results["_validate_folder_0"]
    );
    assert_eq!(
        results["_validate_folder_2"]["ok"], true,
        "{:?}",
        results["_validate_folder_2"]
    );
    let broken = kinds(1);
    assert!(
        broken.contains(&"manifest_files".to_string()) && broken.contains(&"naming".to_string()),
        "{broken:?}"
    );
    // The YAML check needs PyYAML; without it the checker says so in `warnings`.
    let pyyaml = results["_validate_folder_1"]["warnings"]
        .as_array()
        .unwrap()
        .is_empty();
    assert_eq!(
        broken.contains(&"yaml".to_string()),
        pyyaml,
        "{:?}",
        results["_validate_folder_1"]
    );
    assert_eq!(kinds(3), ["folder"]);

    let agg_input = json!({"results": results});
    deliver_into(
        &env,
        "",
        &message_to(
            "inventory-reporter",
            "aggregate_problems",
            "aggregate",
            "AGG",
            agg_input,
            1,
        ),
    );
    let agg = wait_reply_from(&env, "inventory-reporter", "AGG");
    assert_eq!(agg.status, ReplyStatus::Completed, "{:?}", agg.reason);
    assert_eq!(agg.output["folders_checked"], json!(folders));
    assert_eq!(
        agg.output["clean_folders"],
        json!(["inventory-clean", "inventory-flaky"])
    );
    let problem_count = if pyyaml { 4 } else { 3 };
    assert_eq!(agg.output["problem_count"], problem_count);
    assert_eq!(agg.output["problems"][0]["folder"], "inventory-broken");

    let report_input = json!({
        "station_root": "stations/sample", "report": null, "verdict": "problems found",
        "problem_count": agg.output["problem_count"], "problems": agg.output["problems"],
        "folders_checked": agg.output["folders_checked"],
    });
    deliver_into(
        &env,
        "",
        &message_to(
            "inventory-reporter",
            "write_report",
            "write_problem_report",
            "REP",
            report_input,
            1,
        ),
    );
    let rep = wait_reply_from(&env, "inventory-reporter", "REP");
    assert_eq!(
        rep.output,
        json!({"report": ".3ox/reports/inventory-run-1.md", "verdict": "problems found"}),
        "{:?}",
        rep.reason
    );
    let report = env.read(".3ox/reports/inventory-run-1.md");
    assert!(
        report.contains("- verdict: **problems found**")
            && report.contains("| inventory-broken | naming | Audit Notes.txt |"),
        "{report}"
    );
    assert!(
        report.contains("- `inventory-clean`: clean")
            && report.contains("- `no-such-folder`: 1 problem\n"),
        "{report}"
    );
}

/// True while `pid` is a live process (a zombie waiting to be reaped counts as gone).
pub(crate) fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next())
        })
        .is_some_and(|state| state != Some('Z') && state.is_some())
}

#[test]
fn stopping_the_worker_also_stops_what_its_command_started() {
    let env = station("version: 1\n");
    let mut worker = start_worker(
        &env,
        &[
            "--",
            "sh",
            "-c",
            "sleep 30 & echo $! > grandchild.pid; wait",
        ],
    );
    deliver(&env, "G1", json!({}));
    let pid_file = env.root().join("grandchild.pid");
    let grandchild = wait_for(WAIT, || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .filter(|s| s.ends_with('\n'))
    })
    .unwrap_or_else(|| {
        panic!(
            "the command did not start; worker log:\n{}",
            worker_log(&env)
        )
    });
    let grandchild = grandchild.trim().to_string();
    assert!(alive(&grandchild), "the background sleep runs");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for(WAIT, || worker.0.try_wait().unwrap()).expect("the worker stops on SIGTERM");
    let gone = wait_for(WAIT, || (!alive(&grandchild)).then_some(()));
    assert!(
        gone.is_some(),
        "the command's own child outlived the worker"
    );
}
