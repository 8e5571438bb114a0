//! Inputs and replies that would not fit through a mailbox or back out of a journal (issue 9,
//! items 7, 8 and 22): refused with a reason where they enter, never left to stall a run.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, register};
use crate::support::{
    ChildGuard, TestEnv, events, journal_records, output_within, output_within_child, stderr,
    stdout, wait_for,
};

const ONE_TASK: &str = "name: guarded\ntasks:\n  - {name: step, taskReferenceName: only, retryCount: 1, retryDelaySeconds: 0}\n";

/// A value nested `levels` deep: `{d: {d: ... {}}}`.
fn nested(levels: usize) -> Value {
    let mut value = json!({});
    for _ in 1..levels {
        value = json!({ "d": value });
    }
    value
}

fn journal_files(env: &TestEnv) -> usize {
    std::fs::read_dir(env.root().join(".3ox/runs"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".journal.yaml"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn item_7_an_input_over_the_mailbox_limit_is_refused_at_start() {
    let env = TestEnv::new();
    register(&env, "worker", &["step"], 1);
    env.write("flow.yaml", ONE_TASK);
    let big = format!("blob: {}\n", "x".repeat(5 * 1024 * 1024));
    env.write("big.yaml", &big);
    for command in ["start", "run"] {
        let out = output_within(
            env.cmd(&[command, "flow.yaml", "--input-file", "big.yaml"]),
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("the mailbox size limit is 4.0 MiB")
                && err.contains("nothing was started"),
            "{command}: {err}"
        );
        assert_eq!(journal_files(&env), 0, "{command} created a run");
    }
    // Too deep is refused the same way.
    let deep = serde_json::to_string(&json!({ "tree": nested(70) })).unwrap();
    env.write("deep.json", &deep);
    let out = output_within(
        env.cmd(&["start", "flow.yaml", "--input-file", "deep.json"]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("limit of 64"), "{}", stderr(&out));
    assert_eq!(journal_files(&env), 0);
}

#[test]
fn item_7_a_message_the_worker_refuses_fails_the_attempt_which_is_retried() {
    let env = TestEnv::new();
    register(&env, "shell", &["step"], 1);
    env.write("flow.yaml", ONE_TASK);
    let mut run = ChildGuard(
        env.cmd(&["run", "flow.yaml", "--json", "--no-agents"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn 3ox run"),
    );
    let inbox = env.root().join("agents/shell/1N.3OX");
    let message = wait_for(Duration::from_secs(30), || {
        crate::fake_agent::visible_yaml(&inbox).into_iter().next()
    })
    .expect("no task message was delivered");
    // The message grows past the 4 MiB a worker reads (as a message with a 5 MB input did
    // before 3ox refused such input): the worker refuses it unread.
    let mut text = std::fs::read_to_string(&message).unwrap();
    let filler = format!("# {}\n", "x".repeat(1000));
    text.push_str(&filler.repeat(5 * 1024));
    let name = message.file_name().unwrap().to_string_lossy().into_owned();
    crate::fake_agent::put(&inbox, &name, &text);
    let _worker = ChildGuard(
        env.cmd(&[
            "agent",
            "run",
            "shell",
            "--",
            "sh",
            "-c",
            "cat >/dev/null; echo '{\"ok\": true}'",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn 3ox agent run"),
    );
    let out = output_within_child(&mut run.0, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"]["ok"], true, "{result}");
    // The refused message lies in rejected/ with its note, and the journal says why attempt 1
    // failed: the worker's own reason.
    let note: Value =
        serde_yaml::from_str(&env.read(&format!("agents/shell/1N.3OX/rejected/{name}.why.yaml")))
            .unwrap();
    assert!(
        note["reason"]
            .as_str()
            .unwrap()
            .contains("the limit is 4194304"),
        "{note}"
    );
    let records = journal_records(&env);
    let failed = records
        .iter()
        .find(|r| r["event"] == "task_failed")
        .unwrap_or_else(|| panic!("no task_failed record: {:?}", events(&records)));
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("agent `shell` refused the task message")
            && reason.contains("the limit is 4194304"),
        "{failed}"
    );
    assert_eq!(
        format!("{}.task.yaml", failed["task_id"].as_str().unwrap()),
        name,
        "{failed}"
    );
}

#[test]
fn item_8_a_reply_nested_deeper_than_the_limit_is_refused_before_it_is_journaled() {
    let env = TestEnv::new();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, |_| {
        Answer::Many(vec![
            Answer::Completed(json!({ "tree": nested(70) })),
            Answer::Completed(json!({ "fine": true })),
        ])
    });
    env.write("flow.yaml", ONE_TASK);
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"]["fine"], true, "{result}");
    let rejected = env.root().join("agents/worker/0UT.3OX/rejected");
    let note = wait_for(Duration::from_secs(30), || {
        std::fs::read_dir(&rejected)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".why.yaml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
    })
    .expect("no note in rejected/");
    let note: Value = serde_yaml::from_str(&note).unwrap();
    let reason = note["reason"].as_str().unwrap();
    assert!(
        reason.contains("`output` nests 71 levels") && reason.contains("limit of 64"),
        "{reason}"
    );
    let records = journal_records(&env);
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "reply_rejected" && r["reason"] == reason),
        "{:?}",
        events(&records)
    );
    assert!(
        !records.iter().any(|r| r["output"].get("tree").is_some()),
        "the deep output was journaled"
    );
}

const TWO_TASKS: &str = "name: deeper
tasks:
  - {name: step, taskReferenceName: first}
  - name: step
    taskReferenceName: second
    inputParameters:
      wrapped: ${first.output}
";

/// Runs TWO_TASKS with `first` answering an output nested `levels` deep; returns the result.
fn run_deeper(env: &TestEnv, levels: usize) -> (i32, Value) {
    let _worker = FakeAgent::start(env, "worker", &["step"], 1, move |message| {
        if message["task_ref"] == "first" {
            Answer::Completed(nested(levels))
        } else {
            Answer::Completed(json!({ "depth_seen": true }))
        }
    });
    env.write("flow.yaml", TWO_TASKS);
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    (code, result)
}

/// `3ox status RUN` and `3ox doctor` both read the journal back without a complaint.
fn assert_reads_back(env: &TestEnv, run_id: &str) {
    let status = output_within(
        env.cmd(&["status", run_id, "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let view: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(view.to_string().contains("second"), "{view}");
    let doctor = output_within(env.cmd(&["doctor"]), Duration::from_secs(30));
    assert_eq!(
        doctor.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&doctor),
        stderr(&doctor)
    );
    for record in journal_records(env) {
        assert_ne!(record["event"], "", "{record}");
    }
}

#[test]
fn item_8_a_63_deep_output_mapped_one_level_deeper_reads_back_from_the_journal() {
    // 63 levels mapped under `wrapped`: 64, at the limit, journaled and read back.
    let env = TestEnv::new();
    let (code, result) = run_deeper(&env, 63);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_reads_back(&env, result["run_id"].as_str().unwrap());
    let records = journal_records(&env);
    let scheduled = records
        .iter()
        .find(|r| r["event"] == "task_scheduled" && r["task_ref"] == "second")
        .expect("second was scheduled");
    assert_eq!(
        scheduled["input"]["wrapped"],
        nested(63),
        "the journal holds the mapped input"
    );

    // 64 levels (the deepest reply accepted) mapped one deeper: the task fails with a reason
    // before any message is written, and the journal still reads back.
    let env = TestEnv::new();
    let (code, result) = run_deeper(&env, 64);
    assert_ne!(code, 0, "{result}");
    assert_eq!(result["status"], "FAILED", "{result}");
    assert_eq!(result["failed_task"], "second", "{result}");
    let reason = result["reason"].as_str().unwrap();
    assert!(
        reason.contains("mapped input nests 65 levels") && reason.contains("limit of 64"),
        "{reason}"
    );
    assert_reads_back(&env, result["run_id"].as_str().unwrap());
    let records = journal_records(&env);
    assert!(
        !records
            .iter()
            .any(|r| r["event"] == "task_scheduled" && r["task_ref"] == "second"),
        "second was scheduled: {:?}",
        events(&records)
    );
}

#[test]
fn item_8_a_system_task_whose_input_is_mapped_too_deep_fails_cleanly() {
    let env = TestEnv::new();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, |_| {
        Answer::Completed(nested(64))
    });
    env.write(
        "flow.yaml",
        "name: deeper
tasks:
  - {name: step, taskReferenceName: first}
  - name: keep
    taskReferenceName: second
    type: SET_VARIABLE
    inputParameters:
      kept: ${first.output}
",
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_ne!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["failed_task"], "second", "{result}");
    let reason = result["reason"].as_str().unwrap();
    assert!(
        reason.contains("mapped input nests 65 levels") && reason.contains("limit of 64"),
        "{reason}"
    );
    assert_reads_back(&env, result["run_id"].as_str().unwrap());
}

#[test]
fn item_8_a_script_result_nested_too_deep_fails_the_task_instead_of_being_journaled() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: deep_script
tasks:
  - name: build
    taskReferenceName: build
    type: INLINE
    inputParameters:
      evaluatorType: javascript
      expression: |
        function e() {
          var v = {};
          for (var i = 0; i < 100; i++) { v = { d: v }; }
          return v;
        }
        e();
",
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_ne!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["failed_task"], "build", "{result}");
    let reason = result["reason"].as_str().unwrap();
    assert!(
        reason.contains("the task's output nests") && reason.contains("limit of 64"),
        "{reason}"
    );
    let doctor = output_within(env.cmd(&["doctor"]), Duration::from_secs(30));
    assert_eq!(doctor.status.code(), Some(0), "{}", stdout(&doctor));
    assert!(
        journal_records(&env)
            .iter()
            .all(|r| r["output"].get("result").is_none())
    );
}

#[test]
fn item_22_run_name_runs_the_station_template_or_hints_at_close_names() {
    let env = TestEnv::new();
    let _worker = FakeAgent::start(&env, "worker", &["step"], 1, |_| {
        Answer::Completed(json!({ "from": "template" }))
    });
    env.write(
        "templates/hello.yaml",
        "name: hello\ntasks:\n  - {name: step, taskReferenceName: only}\n",
    );
    env.write("templates/goodbye.json", "{}");
    let (code, result, out) = env.run_flow("hello", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"]["from"], "template", "{result}");

    // A near miss: one error, a hint with the close name, nothing started.
    let runs_before = journal_files(&env);
    let out = output_within(
        env.cmd(&["run", "helo", "--no-agents"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(
        err.contains("templates/helo.yaml") && err.contains("did you mean `hello`"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
    assert_eq!(journal_files(&env), runs_before);

    // A path that does not exist: its OS error once, not twice.
    let out = output_within(
        env.cmd(&["run", "./missing.yaml", "--no-agents"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}
