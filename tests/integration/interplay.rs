//! Where the areas of issue 3 meet: retries waiting for a slot, timeouts inside loops, flags
//! on forked tasks, TERMINATE inside loops and forks, control commands across children.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, output_within_child, stderr};

/// User plus system CPU time of process `pid` so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime), counted after the name from field 3.
    let ticks: u64 = fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A retry that falls due while the agent's only slot is taken waits for the slot without
/// waking the run over and over: the run's CPU time stays near zero while the slot is held (it was ~190 ms in 2 s when the
/// driver re-armed its timer for the past retry: a wake-up every millisecond).
#[test]
fn a_due_retry_waiting_for_a_slot_does_not_spin_the_run() {
    let env = TestEnv::new();
    let first_a = Arc::new(AtomicUsize::new(0));
    let seen_b: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let (first_a2, seen_b2) = (first_a.clone(), seen_b.clone());
    let _agent =
        FakeAgent::start(
            &env,
            "worker",
            &["x"],
            1,
            move |message: &Value| match message["task_ref"].as_str().unwrap() {
                "a" if first_a2.fetch_add(1, Ordering::SeqCst) == 0 => {
                    Answer::Failed("flaky".into())
                }
                "b" => {
                    let since = *seen_b2.lock().unwrap().get_or_insert_with(Instant::now);
                    if since.elapsed() < Duration::from_millis(3500) {
                        Answer::NotYet
                    } else {
                        Answer::Completed(json!({"done": "b"}))
                    }
                }
                _ => Answer::Completed(json!({"done": message["task_ref"]})),
            },
        );
    env.write(
        "flow.yaml",
        r#"
name: slots
tasks:
  - name: both
    taskReferenceName: both
    type: FORK_JOIN
    forkTasks:
      - - {name: x, taskReferenceName: a, retryCount: 1, retryDelaySeconds: 1}
      - - {name: x, taskReferenceName: b}
  - {name: j, taskReferenceName: j, type: JOIN, joinOn: [a, b]}
"#,
    );
    let mut child = env
        .cmd(&["run", "flow.yaml", "--json", "--no-agents"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Once b holds the slot and a's retry is due (a second after its failure), measure the
    // run's CPU over two seconds.
    let start = Instant::now();
    while seen_b.lock().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "b never sent");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(1300));
    let before = cpu_time(pid).expect("cpu time");
    std::thread::sleep(Duration::from_millis(2000));
    let during = cpu_time(pid).expect("cpu time") - before;
    let out = output_within_child(&mut child, Duration::from_secs(30));
    let result: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(
        first_a.load(Ordering::SeqCst),
        2,
        "a ran twice: the retry went out"
    );
    assert!(
        during < Duration::from_millis(50),
        "the run used {during:?} of CPU in 2 s while waiting for a slot"
    );
}

fn run_within(env: &TestEnv, flow: &str, limit: Duration) -> Value {
    let out =
        crate::support::output_within(env.cmd(&["run", flow, "--json", "--no-agents"]), limit);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
}

fn list(env: &TestEnv) -> Vec<Value> {
    let out = env.run(&["list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["runs"].as_array().unwrap().clone()
}

/// A parent that times out (its `timeoutSeconds`) terminates its running SUB_WORKFLOW child,
/// as a terminated or failed parent does; before, the child (a WAIT for `3ox complete`) ran
/// on and `3ox run` never returned.
#[test]
fn a_parent_that_times_out_terminates_its_running_child() {
    let env = TestEnv::new();
    env.write(
        "templates/waiter.yaml",
        "name: waiter\ntasks:\n  - {name: gate, taskReferenceName: gate, type: WAIT}\n",
    );
    env.write(
        "flow.yaml",
        r#"
name: parent
timeoutSeconds: 1
tasks:
  - {name: waiter, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: waiter}}
"#,
    );
    let result = run_within(&env, "flow.yaml", Duration::from_secs(20));
    assert_eq!(result["status"], "TIMED_OUT", "{result}");
    let child = list(&env)
        .into_iter()
        .find(|r| r["workflow"] == "waiter")
        .unwrap();
    assert_eq!(child["status"], "TERMINATED", "{child}");
}

/// A TERMINATE task (COMPLETED) in one fork branch ends the run; the SUB_WORKFLOW child
/// running in the other branch is terminated with it.
#[test]
fn a_terminate_task_in_a_fork_branch_terminates_the_child_of_another_branch() {
    let env = TestEnv::new();
    env.write(
        "templates/waiter.yaml",
        "name: waiter\ntasks:\n  - {name: gate, taskReferenceName: gate, type: WAIT}\n",
    );
    env.write(
        "flow.yaml",
        r#"
name: parent
tasks:
  - name: f
    taskReferenceName: f
    type: FORK_JOIN
    forkTasks:
      - - {name: waiter, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: waiter}}
      - - {name: nap, taskReferenceName: nap, type: WAIT, inputParameters: {duration: 1s}}
        - {name: end, taskReferenceName: end, type: TERMINATE, inputParameters: {terminationStatus: COMPLETED, workflowOutput: {done: early}}}
  - {name: j, taskReferenceName: j, type: JOIN, joinOn: [sub, end]}
"#,
    );
    let result = run_within(&env, "flow.yaml", Duration::from_secs(20));
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"], json!({"done": "early"}));
    let child = list(&env)
        .into_iter()
        .find(|r| r["workflow"] == "waiter")
        .unwrap();
    assert_eq!(child["status"], "TERMINATED", "{child}");
}

/// A child that times out tells its parent at once (not at the parent's next rescan, 2 s
/// later): the parent fails right after the child's 1 s timeout.
#[test]
fn a_child_that_times_out_fails_its_parent_at_once() {
    let env = TestEnv::new();
    env.write(
        "templates/slowkid.yaml",
        "name: slowkid\ntimeoutSeconds: 1\ntasks:\n  - {name: gate, taskReferenceName: gate, type: WAIT}\n",
    );
    env.write(
        "flow.yaml",
        "name: parent\ntasks:\n  - {name: slowkid, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: slowkid}}\n",
    );
    let result = run_within(&env, "flow.yaml", Duration::from_secs(20));
    assert_eq!(result["status"], "FAILED", "{result}");
    assert!(
        result["reason"].as_str().unwrap().contains("TIMED_OUT"),
        "{result}"
    );
    let elapsed = result["elapsed_ms"].as_u64().unwrap();
    assert!(elapsed < 1700, "the parent learned after {elapsed} ms");
}
