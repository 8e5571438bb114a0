//! Persistent agents (`mode: persistent`): `3ox run` starts the managed worker, which keeps
//! one real Python process per slot and speaks JSON lines with it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestEnv, journal_records, output_within_child, stderr, stdout, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// One task line in, one answer line out. What it does depends on the task input's `do`:
/// `garbage` and `wrong_id` print a bad line before the answer, `progress` a heartbeat; `die` and `hang` record the
/// pid in `pids/<task_ref>` on attempt 1 and never answer (the test kills a `die`; the
/// worker kills a `hang` when its attempt times out). At end of input it writes
/// `closed-<slot>`.
const AGENT: &str = r#"
import json, os, sys, time
print("persistent agent up", file=sys.stderr, flush=True)
for line in sys.stdin:
    task = json.loads(line)
    what = task["input"].get("do", "")
    if what == "garbage":
        print("this is not json", flush=True)
    if what == "progress":
        print(json.dumps({"task_id": task["task_id"], "status": "IN_PROGRESS", "reason": "warming up"}), flush=True)
    if what == "wrong_id":
        print(json.dumps({"task_id": "not-this-one", "status": "COMPLETED", "output": {}}), flush=True)
    if what in ("die", "hang") and task["attempt"] == 1:
        os.makedirs("pids", exist_ok=True)
        with open("pids/.tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename("pids/.tmp", "pids/" + task["task_ref"])
        time.sleep(600)
    output = {"pid": os.getpid(), "n": task["input"].get("n"), "attempt": task["attempt"],
              "slot": os.environ["THREEOX_SLOT"], "task_type": task["task_type"]}
    print(json.dumps({"task_id": task["task_id"], "status": "COMPLETED", "output": output}), flush=True)
with open("closed-" + os.environ["THREEOX_SLOT"], "w") as f:
    f.write("end of input")
"#;

/// A station whose agent `py` serves task `work` with [`AGENT`] in persistent mode.
fn station() -> TestEnv {
    let env = TestEnv::new();
    env.write("agents/py/agent.py", AGENT);
    env.write(
        "agents/py/agent.yaml",
        "version: 1\ncapabilities: [work]\nconcurrency: 1\nmode: persistent\ncommand: [python3, -u, agents/py/agent.py]\n",
    );
    env
}

/// `3ox run <flow> --json <extra>` (with its managed agent) to its end.
fn run(env: &TestEnv, flow: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["run", flow, "--json"];
    args.extend_from_slice(extra);
    let mut child = env
        .cmd(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start 3ox run");
    finish(env, &mut child)
}

fn finish(env: &TestEnv, child: &mut std::process::Child) -> (i32, Value, String) {
    let out = output_within_child(child, Duration::from_secs(90));
    let result = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON result ({e})\nstdout:\n{}\nstderr:\n{}\nagent log:\n{}",
            stdout(&out),
            stderr(&out),
            agent_log(env)
        )
    });
    (out.status.code().unwrap_or(-1), result, agent_log(env))
}

fn agent_log(env: &TestEnv) -> String {
    std::fs::read_to_string(env.root().join(".3ox/logs/py.log")).unwrap_or_default()
}

/// A one-task workflow whose task input is `input`.
fn one_task(env: &TestEnv, input: &str, extra: &str) {
    env.write(
        "flow.yaml",
        &format!(
            "name: one\ntasks:\n  - {{name: work, taskReferenceName: w, inputParameters: {input}{extra}}}\n"
        ),
    );
}

/// The pid the agent recorded for `task_ref`, once it did.
fn recorded_pid(env: &TestEnv, task_ref: &str) -> i32 {
    let path = env.root().join("pids").join(task_ref);
    wait_for(WAIT, || std::fs::read_to_string(&path).ok())
        .unwrap_or_else(|| panic!("no pid recorded; agent log:\n{}", agent_log(env)))
        .trim()
        .parse()
        .unwrap()
}

/// The reasons of the run's failed attempts.
fn failure_reasons(env: &TestEnv) -> Vec<String> {
    journal_records(env)
        .iter()
        .filter(|r| r["event"] == "task_failed")
        .map(|r| r["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn one_persistent_process_serves_twenty_tasks() {
    let env = station();
    env.write(
        "flow.yaml",
        "name: twenty\ninputParameters: [items]\ntasks:\n  - {name: fan, taskReferenceName: fan, type: FORK_JOIN_DYNAMIC, inputParameters: {forkTaskName: work, forkTaskInputs: \"${workflow.input.items}\"}}\n  - {name: join, taskReferenceName: join, type: JOIN}\n",
    );
    let items: Vec<Value> = (0..20).map(|n| json!({"n": n})).collect();
    let items = format!("items={}", serde_json::to_string(&items).unwrap());
    let (code, result, log) = run(&env, "flow.yaml", &["-i", &items]);
    assert_eq!(code, 0, "{result}\nagent log:\n{log}");

    let outputs: Vec<Value> = journal_records(&env)
        .into_iter()
        .filter(|r| {
            r["event"] == "task_completed" && r["task_ref"].as_str().unwrap().starts_with("_work_")
        })
        .map(|r| r["output"].clone())
        .collect();
    assert_eq!(outputs.len(), 20, "{outputs:?}");
    let mut ns: Vec<u64> = outputs.iter().map(|o| o["n"].as_u64().unwrap()).collect();
    ns.sort();
    assert_eq!(ns, (0..20).collect::<Vec<u64>>());
    let pids: std::collections::BTreeSet<u64> =
        outputs.iter().map(|o| o["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 1, "one process served every task: {pids:?}");
    assert!(
        outputs
            .iter()
            .all(|o| o["slot"] == "1" && o["task_type"] == "SIMPLE")
    );
    let pid = pids.first().unwrap();
    assert_eq!(
        log.matches("started process").count(),
        1,
        "one process started:\n{log}"
    );
    // Its stderr goes to the agent's log.
    assert!(
        log.contains(&format!("py[{pid}]: persistent agent up")),
        "{log}"
    );
    // When the run ends and its managed worker stops, the idle process gets end of input and
    // exits by itself.
    assert_eq!(
        std::fs::read_to_string(env.root().join("closed-1"))
            .ok()
            .as_deref(),
        Some("end of input")
    );
}

#[cfg(unix)]
#[test]
fn a_process_killed_mid_task_fails_the_attempt_and_the_retry_runs_on_a_new_one() {
    let env = station();
    one_task(&env, "{do: die}", ", retry: {count: 1, delay: 0s}");
    let mut child = env
        .cmd(&["run", "flow.yaml", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start 3ox run");
    let first = recorded_pid(&env, "w");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let (code, result, log) = finish(&env, &mut child);
    assert_eq!(code, 0, "{result}\nagent log:\n{log}");
    assert_eq!(result["output"]["attempt"], 2, "{result}");
    let second = result["output"]["pid"].as_i64().unwrap();
    assert_ne!(second, i64::from(first), "the retry ran on a new process");
    let reasons = failure_reasons(&env);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains(&format!("(pid {first}) ended before answering task"))
            && reasons[0].contains("killed by signal 9 (SIGKILL)"),
        "{reasons:?}"
    );
    assert_eq!(log.matches("started process").count(), 2, "{log}");
}

#[test]
fn a_line_that_is_not_json_is_refused_and_the_task_still_completes() {
    let env = station();
    one_task(&env, "{do: garbage, n: 1}", "");
    let (code, result, log) = run(&env, "flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\nagent log:\n{log}");
    assert_eq!(result["output"]["n"], 1, "{result}");
    assert!(
        log.contains("refused a line from process")
            && log.contains("not valid JSON")
            && log.contains("this is not json"),
        "{log}"
    );
    assert!(failure_reasons(&env).is_empty());
}

#[test]
fn a_line_naming_another_task_is_refused() {
    let env = station();
    one_task(&env, "{do: wrong_id, n: 2}", "");
    let (code, result, log) = run(&env, "flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\nagent log:\n{log}");
    assert_eq!(result["output"]["n"], 2, "{result}");
    assert!(
        log.contains("refused a line from process")
            && log
                .contains("the line answers task `not-this-one`, but this process is running task"),
        "{log}"
    );
    assert!(failure_reasons(&env).is_empty());
}

#[cfg(unix)]
#[test]
fn a_timed_out_attempt_stops_its_process_and_the_retry_gets_a_new_one() {
    let env = station();
    one_task(
        &env,
        "{do: hang}",
        ", responseTimeoutSeconds: 2, retry: {count: 1, delay: 0s}",
    );
    let mut child = env
        .cmd(&["run", "flow.yaml", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start 3ox run");
    let first = recorded_pid(&env, "w");
    let (code, result, log) = finish(&env, &mut child);
    assert_eq!(code, 0, "{result}\nagent log:\n{log}");
    assert_eq!(result["output"]["attempt"], 2, "{result}");
    assert_ne!(result["output"]["pid"].as_i64().unwrap(), i64::from(first));
    assert!(
        wait_for(WAIT, || (!crate::agent::alive(&first.to_string()))
            .then_some(()))
        .is_some(),
        "the hanging process was stopped"
    );
    assert!(
        log.contains(&format!("process {first} stopped: task")) && log.contains("left claimed/"),
        "{log}"
    );
}

#[test]
fn an_in_progress_line_is_a_heartbeat_reply() {
    let env = station();
    one_task(&env, "{do: progress, n: 3}", "");
    let (code, result, log) = run(&env, "flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\nagent log:\n{log}");
    assert_eq!(result["output"]["n"], 3, "{result}");
    let heartbeats: Vec<String> = walkdir::WalkDir::new(env.root().join("agents/py/0UT.3OX"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".hb-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        heartbeats.len() == 1
            && heartbeats[0].contains("status: IN_PROGRESS")
            && heartbeats[0].contains("reason: warming up"),
        "{heartbeats:?}"
    );
}

#[test]
fn the_mode_flag_makes_a_per_task_agent_persistent() {
    let env = station();
    env.write(
        "agents/py/agent.yaml",
        "version: 1\ncapabilities: [work]\ncommand: [python3, agents/py/agent.py]\n",
    );
    let log = std::fs::File::create(env.root().join(".3ox/logs/py.log")).unwrap();
    let _worker = crate::support::ChildGuard(
        env.cmd(&["agent", "run", "py", "--mode", "persistent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start 3ox agent run"),
    );
    env.write(
        "flow.yaml",
        "name: two\ntasks:\n  - {name: work, taskReferenceName: a, inputParameters: {n: 1}}\n  - {name: work, taskReferenceName: b, inputParameters: {n: \"${a.output.pid}\"}}\n",
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(
        code,
        0,
        "{result}\n{}\nagent log:\n{}",
        stderr(&out),
        agent_log(&env)
    );
    // The second task got the first one's pid as input, and ran on that same process.
    assert_eq!(result["output"]["n"], result["output"]["pid"], "{result}");
}

#[test]
fn each_slot_keeps_its_own_process() {
    let env = station();
    env.write(
        "agents/py/agent.yaml",
        "version: 1\ncapabilities: [work]\nconcurrency: 2\nmode: persistent\ncommand: [python3, agents/py/agent.py]\n",
    );
    env.write(
        "flow.yaml",
        "name: ten\ninputParameters: [items]\ntasks:\n  - {name: fan, taskReferenceName: fan, type: FORK_JOIN_DYNAMIC, inputParameters: {forkTaskName: work, forkTaskInputs: \"${workflow.input.items}\"}}\n  - {name: join, taskReferenceName: join, type: JOIN}\n",
    );
    let items: Vec<Value> = (0..10).map(|n| json!({"n": n})).collect();
    let items = format!("items={}", serde_json::to_string(&items).unwrap());
    let (code, result, log) = run(&env, "flow.yaml", &["-i", &items]);
    assert_eq!(code, 0, "{result}\nagent log:\n{log}");
    let slots: std::collections::BTreeMap<String, std::collections::BTreeSet<u64>> =
        journal_records(&env)
            .into_iter()
            .filter(|r| {
                r["event"] == "task_completed"
                    && r["task_ref"].as_str().unwrap().starts_with("_work_")
            })
            .fold(Default::default(), |mut slots, r| {
                slots
                    .entry(r["output"]["slot"].as_str().unwrap().to_string())
                    .or_default()
                    .insert(r["output"]["pid"].as_u64().unwrap());
                slots
            });
    assert!(!slots.is_empty() && slots.len() <= 2, "{slots:?}");
    for (slot, pids) in &slots {
        assert!(
            ["1", "2"].contains(&slot.as_str()) && pids.len() == 1,
            "{slots:?}"
        );
    }
}
