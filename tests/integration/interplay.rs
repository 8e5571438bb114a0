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
