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

fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"ref": message["task_ref"], "attempt": message["attempt"]}))
}

/// Tasks forked by FORK_JOIN_DYNAMIC keep their own `startDelay`, `optional` and
/// `permissive`: the delayed one starts a second late, the optional failure lets the run
/// complete, and a permissive failure lets it go on to the end and fail there.
#[test]
fn dynamic_forks_keep_start_delay_optional_and_permissive() {
    for (flag, status) in [("optional", "COMPLETED"), ("permissive", "FAILED")] {
        let env = TestEnv::new();
        let worker = FakeAgent::start(&env, "worker", &["good", "bad"], 4, |m: &Value| {
            if m["task"] == "bad" {
                Answer::Failed("bad is bad".into())
            } else {
                echo(m)
            }
        });
        env.write(
            "flow.yaml",
            &format!(
                r#"
name: fd
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters:
      dynamicTasks:
        - {{name: good, taskReferenceName: slow, startDelay: 1}}
        - {{name: bad, taskReferenceName: flag, {flag}: true}}
      dynamicTasksInput: {{slow: {{}}, flag: {{}}}}
    dynamicForkTasksParam: dynamicTasks
    dynamicForkTasksInputParamName: dynamicTasksInput
  - {{name: join, taskReferenceName: join, type: JOIN}}
  - {{name: good, taskReferenceName: after}}
"#
            ),
        );
        let began = Instant::now();
        let (_, result, out) = env.run_flow("flow.yaml", &[]);
        assert_eq!(
            result["status"],
            status,
            "{flag}: {result}\n{}",
            stderr(&out)
        );
        assert!(
            began.elapsed() >= Duration::from_secs(1),
            "startDelay ignored"
        );
        let seen: Vec<String> = worker
            .messages()
            .iter()
            .map(|m| m["task_ref"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(seen, ["flag", "slow", "after"], "{flag}");
    }
}

/// A response timeout inside a DO_WHILE iteration retries that iteration's attempt; the loop
/// goes on with the next iteration.
#[test]
fn a_response_timeout_inside_a_loop_iteration_retries_that_attempt() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["slow", "good"], 4, |m: &Value| {
        if m["task"] == "slow" && m["attempt"] == 1 {
            Answer::NotYet
        } else {
            echo(m)
        }
    });
    env.write(
        "flow.yaml",
        r#"
name: lp
tasks:
  - name: loop
    taskReferenceName: loop
    type: DO_WHILE
    loopCondition: loop.iteration < 2
    evaluatorType: expression
    loopOver:
      - {name: slow, taskReferenceName: slow, responseTimeoutSeconds: 1, retryCount: 1, retryDelaySeconds: 0}
      - {name: good, taskReferenceName: inner, inputParameters: {prev: "${slow.output.attempt}"}}
"#,
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"]["1"]["slow"]["attempt"], 2);
    assert_eq!(result["output"]["2"]["slow"]["attempt"], 2);
    let inner: Vec<Value> = worker
        .messages()
        .into_iter()
        .filter(|m| m["task"] == "good")
        .map(|m| m["input"].clone())
        .collect();
    assert_eq!(inner, [json!({"prev": 2}), json!({"prev": 2})]);
}

/// HTTP, INLINE (JavaScript), a WAIT and a startDelay inside an `items` loop: each
/// iteration calls with its item, computes on the response and waits its second.
#[test]
fn http_inline_wait_and_start_delay_inside_an_items_loop() {
    let env = TestEnv::new();
    let server = crate::corpus_runs::Server::start(|_, path, body| {
        (200, json!({"path": path, "index": body["i"]}))
    });
    let _worker = FakeAgent::start(&env, "worker", &["good"], 4, echo);
    env.write(
        "flow.yaml",
        &format!(
            r#"
name: a
tasks:
  - name: loop
    taskReferenceName: loop
    type: DO_WHILE
    items: [a, b]
    loopOver:
      - {{name: call, taskReferenceName: call, type: HTTP, inputParameters: {{http_request: {{uri: "{}/echo/${{loop.output.loopItem}}", method: POST, body: {{i: "${{loop.output.loopIndex}}"}}}}}}}}
      - {{name: calc, taskReferenceName: calc, type: INLINE, inputParameters: {{evaluatorType: javascript, expression: "$.p + '#' + $.i", p: "${{call.output.response.body.path}}", i: "${{call.output.response.body.index}}"}}}}
      - {{name: nap, taskReferenceName: nap, type: WAIT, inputParameters: {{duration: 1s}}}}
      - {{name: good, taskReferenceName: later, startDelay: 1}}
outputParameters:
  last: "${{calc.output.result}}"
"#,
            server.base()
        ),
    );
    let began = Instant::now();
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert!(
        began.elapsed() >= Duration::from_secs(4),
        "2 x (1 s WAIT + 1 s delay)"
    );
    assert_eq!(result["output"]["last"], "/echo/b#1");
    assert_eq!(server.seen().len(), 2);
}

/// `3ox skip` of a WAIT (one waiting for `3ox complete`, one for an hour) lets the run go on.
#[test]
fn skip_of_a_wait_lets_the_run_go_on() {
    let env = TestEnv::new();
    let _worker = FakeAgent::start(&env, "worker", &["good"], 4, echo);
    env.write(
        "flow.yaml",
        r#"
name: wt
tasks:
  - {name: gate, taskReferenceName: gate, type: WAIT}
  - {name: nap, taskReferenceName: nap, type: WAIT, inputParameters: {duration: "1 hours"}}
  - {name: good, taskReferenceName: after, inputParameters: {g: "${gate.output}"}}
"#,
    );
    let mut child = env
        .cmd(&["run", "flow.yaml", "--json", "--no-agents"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run_id = crate::support::wait_for(Duration::from_secs(20), || {
        Some(list(&env).first()?["run_id"].as_str()?.to_string())
    })
    .unwrap();
    for task in ["gate", "nap"] {
        crate::support::wait_for(Duration::from_secs(20), || {
            let out = env.run(&["status", &run_id, "--json"]);
            let run: Value = serde_json::from_slice(&out.stdout).ok()?;
            run["tasks"]
                .as_array()?
                .iter()
                .any(|t| t["task_ref"] == task || t["ref"] == task)
                .then_some(())
        })
        .unwrap_or_else(|| panic!("{task} starts"));
        let out = env.run(&["skip", &run_id, task]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = output_within_child(&mut child, Duration::from_secs(20));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(result["output"]["ref"], "after");
}

/// kill -9 of `3ox run` while a WAIT waits, an HTTP call is in flight and a SUB_WORKFLOW child
/// runs; `3ox resume` carries each on (the HTTP call again, the same child), `3ox complete`
/// ends the WAIT, and the run completes with all three outputs.
#[test]
fn kill_9_with_a_wait_an_http_call_and_a_child_in_flight_resumes_all_three() {
    let env = TestEnv::new();
    let server = crate::corpus_runs::Server::start(|_, _, _| {
        std::thread::sleep(Duration::from_millis(1500));
        (200, json!({"slow": "done"}))
    });
    let children = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let children2 = children.clone();
    let _worker = FakeAgent::start(&env, "worker", &["sleepy"], 4, move |m: &Value| {
        children2
            .lock()
            .unwrap()
            .push(m["run_id"].as_str().unwrap().to_string());
        echo(m)
    });
    env.write(
        "templates/kid.yaml",
        "name: kid\ntasks:\n  - {name: sleepy, taskReferenceName: zz}\n  - {name: nap, taskReferenceName: nap, type: WAIT, inputParameters: {duration: 2s}}\noutputParameters: {kid: \"${zz.output.ref}\"}\n",
    );
    env.write(
        "flow.yaml",
        &format!(
            r#"
name: kr
tasks:
  - name: f
    taskReferenceName: f
    type: FORK_JOIN
    forkTasks:
      - - {{name: gate, taskReferenceName: gate, type: WAIT}}
      - - {{name: call, taskReferenceName: call, type: HTTP, inputParameters: {{http_request: {{uri: "{}/slow", method: GET}}}}}}
      - - {{name: kid, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {{name: kid}}}}
  - {{name: join, taskReferenceName: join, type: JOIN, joinOn: [gate, call, sub]}}
outputParameters:
  gate: "${{gate.output}}"
  http: "${{call.output.response.body}}"
  kid: "${{sub.output.kid}}"
"#,
            server.base()
        ),
    );
    let mut first = env
        .cmd(&["run", "flow.yaml", "--json", "--no-agents"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // All three in flight: the child's agent task answered, the HTTP request received.
    crate::support::wait_for(Duration::from_secs(20), || {
        (!children.lock().unwrap().is_empty() && !server.seen().is_empty()).then_some(())
    })
    .expect("the child and the HTTP call start");
    first.kill().unwrap();
    first.wait().unwrap();
    let run_id = list(&env)
        .into_iter()
        .find(|r| r["workflow"] == "kr")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut resumed = env
        .cmd(&["resume", &run_id, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once resume drives the run (else `3ox complete` may take the run's lock for a moment
    // itself, and a resume starting then refuses to drive).
    crate::support::wait_for(Duration::from_secs(20), || {
        let out = env.run(&["status", &run_id, "--json"]);
        let run: Value = serde_json::from_slice(&out.stdout).ok()?;
        (run["driver"]["held"] == true).then_some(())
    })
    .expect("resume drives the run");
    let out = env.run(&["complete", &run_id, "gate", "--set", "ok=yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = output_within_child(&mut resumed, Duration::from_secs(30));
    let result: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(
        result["output"],
        json!({"gate": {"ok": "yes"}, "http": {"slow": "done"}, "kid": "zz"})
    );
    assert_eq!(
        children.lock().unwrap().len(),
        1,
        "one child, one agent task"
    );
    let kids: Vec<Value> = list(&env)
        .into_iter()
        .filter(|r| r["workflow"] == "kid")
        .collect();
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0]["status"], "COMPLETED");
}

/// `3ox rerun --from` the task after a SUB_WORKFLOW keeps the child's output; from the
/// SUB_WORKFLOW itself it starts a new child.
#[test]
fn rerun_from_after_a_sub_workflow_keeps_it_and_from_it_starts_a_new_child() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["good"], 4, |m: &Value| {
        Answer::Completed(json!({"ref": m["task_ref"], "run": m["run_id"], "got": m["input"]}))
    });
    env.write(
        "templates/kid.yaml",
        "name: kid\ntasks:\n  - {name: good, taskReferenceName: k}\noutputParameters: {run: \"${k.output.run}\"}\n",
    );
    env.write(
        "flow.yaml",
        r#"
name: p
tasks:
  - {name: kid, taskReferenceName: sub, type: SUB_WORKFLOW, subWorkflowParam: {name: kid}}
  - {name: good, taskReferenceName: after, inputParameters: {child: "${sub.output.run}"}}
outputParameters: {child: "${after.output.got.child}"}
"#,
    );
    let (code, first, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{first}");
    let run_id = first["run_id"].as_str().unwrap().to_string();
    let child = first["output"]["child"].as_str().unwrap().to_string();
    let rerun = |from: &str| {
        let out = env.run(&["rerun", &run_id, "--from", from]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = crate::support::output_within(
            env.cmd(&["resume", &run_id, "--json"]),
            Duration::from_secs(30),
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)))
    };
    let again = rerun("after");
    assert_eq!(again["status"], "COMPLETED");
    assert_eq!(again["output"]["child"], child, "the same child's output");
    let anew = rerun("sub");
    assert_eq!(anew["status"], "COMPLETED");
    assert_ne!(anew["output"]["child"], child, "a new child");
    let kids = list(&env)
        .into_iter()
        .filter(|r| r["workflow"] == "kid")
        .count();
    assert_eq!(kids, 2);
    assert_eq!(
        worker
            .messages()
            .iter()
            .filter(|m| m["task_ref"] == "after")
            .count(),
        3
    );
}

/// TERMINATE inside a DO_WHILE ends the run from the middle of the loop with its output.
#[test]
fn terminate_inside_a_loop_ends_the_run_with_its_output() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["good"], 4, echo);
    env.write(
        "flow.yaml",
        r#"
name: tl
tasks:
  - name: loop
    taskReferenceName: loop
    type: DO_WHILE
    loopCondition: "true"
    evaluatorType: expression
    loopOver:
      - {name: good, taskReferenceName: work}
      - name: check
        taskReferenceName: check
        type: SWITCH
        evaluatorType: javascript
        expression: "$.i >= 3 ? 'stop' : 'go'"
        inputParameters: {i: "${loop.output.iteration}"}
        decisionCases:
          stop:
            - {name: end, taskReferenceName: end, type: TERMINATE, inputParameters: {terminationStatus: COMPLETED, terminationReason: "three is enough", workflowOutput: {last: "${work.output.ref}"}}}
  - {name: good, taskReferenceName: never}
"#,
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"], json!({"last": "work__3"}));
    let seen: Vec<Value> = worker
        .messages()
        .iter()
        .map(|m| m["task_ref"].clone())
        .collect();
    assert_eq!(seen, [json!("work__1"), json!("work__2"), json!("work__3")]);
}

/// `3ox test --mock` answers HTTP calls from the mocks file: a failed call (retried on
/// simulated time), then a response given in Conductor's output form.
#[test]
fn mock_test_answers_http_calls_with_failures_and_responses() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"
name: hm
tasks:
  - {name: call, taskReferenceName: call, type: HTTP, retryCount: 1, retryDelaySeconds: 30, inputParameters: {http_request: {uri: "http://example.invalid/x", method: GET}}}
outputParameters:
  code: "${call.output.response.statusCode}"
  x: "${call.output.response.body.x}"
"#,
    );
    env.write(
        "m.yaml",
        r#"
version: 1
tasks:
  call:
    - {status: FAILED, reason: connection refused}
    - {output: {response: {statusCode: 201, body: {x: 7}}}}
expect:
  status: COMPLETED
  output: {code: 201, x: 7}
"#,
    );
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&out),
        crate::support::stdout(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["output"], json!({"code": 201, "x": 7}));
    assert_eq!(report["elapsed_seconds"], 30.0);
}

/// `3ox test --mock` answers a SUB_WORKFLOW (here inside a DO_WHILE: Conductor's
/// do_while_sub_workflow) by the task's reference, once per iteration; before, the run stuck at
/// the first child.
#[test]
fn mock_test_answers_sub_workflows_inside_a_loop() {
    let env = TestEnv::new();
    let corpus =
        crate::support::conductor_corpus().join("do_while_sub_workflow_integration_test.json");
    env.write("flow.json", &std::fs::read_to_string(corpus).unwrap());
    env.write(
        "m.yaml",
        r#"
version: 1
input: {loop: 2}
tasks:
  integration_task_0: {output: {a: 0}}
  integration_task_1: {output: {a: 1}}
  integration_task_2: {output: {a: 2}}
  st1:
    - {output: {child: "${input.n}"}}
    - {status: FAILED, reason: the second child failed}
expect:
  status: FAILED
"#,
    );
    let out = env.run(&["test", "flow.json", "--mock", "m.yaml", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&out),
        crate::support::stdout(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "FAILED");
    assert_eq!(
        report["failed_task"].as_str().unwrap_or("loopTask"),
        "loopTask"
    );
    let text = report.to_string();
    assert!(text.contains("the second child failed"), "{report}");
}
