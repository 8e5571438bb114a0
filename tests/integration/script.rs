//! Scripts through the real binary: INLINE and LAMBDA (JavaScript in the embedded sandbox,
//! and 3ox's safe expressions), SWITCH with JavaScript, DECISION, JSON_JQ_TRANSFORM, the
//! sandboxes' budgets, and Conductor's own definitions of these types.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, journal_records, output_within, stderr, stdout};

/// A Conductor corpus file, copied into the station.
fn corpus(env: &TestEnv, name: &str) -> String {
    let path = crate::support::conductor_corpus().join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let file = format!("{name}.json");
    env.write(&file, &text);
    file
}

/// Runs `flow` with `input` (JSON) to its end: exit code and the JSON result.
fn run_with_input(env: &TestEnv, flow: &str, input: Value) -> (i32, Value) {
    env.write("input.json", &input.to_string());
    let (code, result, _) = env.run_flow(flow, &["--input-file", "input.json"]);
    (code, result)
}

/// The `task_completed` / `task_failed` records of `task_ref`.
fn settled(records: &[Value], task_ref: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| {
            (r["event"] == "task_completed" || r["event"] == "task_failed")
                && r["task_ref"] == task_ref
        })
        .cloned()
        .collect()
}

fn only_settled(env: &TestEnv, task_ref: &str) -> Value {
    let all = settled(&journal_records(env), task_ref);
    assert_eq!(all.len(), 1, "{task_ref}: {all:#?}");
    all[0].clone()
}

/// An agent that completes every task with its reference and input.
fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"ref": message["task_ref"], "input": message["input"]}))
}

fn refs(agent: &FakeAgent) -> Vec<String> {
    agent
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn inline_scripts_compute_values_that_later_tasks_use() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"
name: inline
inputParameters: [n, names]
tasks:
  - name: size
    taskReferenceName: size
    type: INLINE
    inputParameters:
      n: ${workflow.input.n}
      evaluatorType: javascript
      expression: "$.n > 1 ? 'many' : 'few'"
  - name: shout
    taskReferenceName: shout
    type: INLINE
    inputParameters:
      names: ${workflow.input.names}
      evaluatorType: graaljs
      expression: |
        function e() {
          console.log('shouting', $.names.length, 'names');
          return { loud: $.names.map(function (n) { return n.toUpperCase(); }), count: $.names.length };
        }
        e();
  - name: double
    taskReferenceName: double
    type: INLINE
    inputParameters:
      count: ${shout.output.result.count}
      evaluatorType: expression
      expression: count * 2
  - name: legacy
    taskReferenceName: legacy
    type: LAMBDA
    scriptExpression: "if ($.size == 'many') { return {doubled: $.d, first: $.loud[0]} } else { return null }"
    inputParameters:
      size: ${size.output.result}
      d: ${double.output.result}
      loud: ${shout.output.result.loud}
outputParameters:
  size: ${size.output.result}
  legacy: ${legacy.output.result}
"#,
    );
    let (code, result) = run_with_input(&env, "flow.yaml", json!({"n": 3, "names": ["ada", "bo"]}));
    assert_eq!(code, 0, "{result}");
    assert_eq!(
        result["output"],
        json!({"size": "many", "legacy": {"doubled": 4, "first": "ADA"}})
    );
    // The value is journaled with the task's completion, next to the input it came from.
    let record = only_settled(&env, "shout");
    assert_eq!(record["event"], "task_completed");
    assert_eq!(
        record["output"],
        json!({"result": {"loud": ["ADA", "BO"], "count": 2}, "logs": ["[Log] shouting 2 names"]})
    );
    assert_eq!(record["input"]["names"], json!(["ada", "bo"]));
}

#[test]
fn a_script_that_throws_fails_its_task_with_the_error_in_its_output() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: boom\ntasks:\n  - name: boom\n    taskReferenceName: boom\n    type: INLINE\n    inputParameters:\n      evaluatorType: javascript\n      expression: \"if ($.x === undefined) { throw new Error('x is missing'); } 1\"\n",
    );
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{result}");
    assert_eq!(result["status"], "FAILED");
    assert_eq!(result["failed_task"], "boom");
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("Error: x is missing"), "{reason}");
    let record = only_settled(&env, "boom");
    assert_eq!(record["event"], "task_failed");
    assert!(
        record["output"]["error"]
            .as_str()
            .unwrap()
            .contains("x is missing"),
        "{record}"
    );
}

#[test]
fn a_script_that_runs_forever_is_stopped_and_fails_only_its_task() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"
name: forever
tasks:
  - name: spin
    taskReferenceName: spin
    type: INLINE
    optional: true
    inputParameters: {evaluatorType: javascript, expression: "while (true) {}"}
  - name: hog
    taskReferenceName: hog
    type: INLINE
    optional: true
    inputParameters: {evaluatorType: javascript, expression: "var a = []; for (;;) { a.push('x'.repeat(1 << 20)); }"}
  - name: after
    taskReferenceName: after
    type: INLINE
    inputParameters: {evaluatorType: javascript, expression: "'still here'"}
"#,
    );
    let started = Instant::now();
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["output"], json!({"result": "still here"}));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let spin = only_settled(&env, "spin");
    assert_eq!(spin["outcome"], "COMPLETED_WITH_ERRORS");
    assert!(
        spin["reason"].as_str().unwrap().contains("time budget"),
        "{spin}"
    );
    let hog = only_settled(&env, "hog");
    assert!(hog["reason"].as_str().unwrap().contains("memory"), "{hog}");
}

#[test]
fn switch_and_decision_choose_cases_with_javascript() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(&env, "worker", &["step"], 2, echo);
    env.write(
        "flow.yaml",
        r#"
name: choose
inputParameters: [n, kind]
tasks:
  - name: by_js
    taskReferenceName: by_js
    type: SWITCH
    evaluatorType: javascript
    expression: "$.n > 10 ? 'big' : 'small'"
    inputParameters: {n: "${workflow.input.n}"}
    decisionCases:
      big: [{name: step, taskReferenceName: big_step}]
      small: [{name: step, taskReferenceName: small_step}]
  - name: by_graal
    taskReferenceName: by_graal
    type: SWITCH
    evaluatorType: graaljs
    expression: "(function () { return $.n % 2 == 0; })()"
    inputParameters: {n: "${workflow.input.n}"}
    decisionCases:
      "true": [{name: step, taskReferenceName: even_step}]
    defaultCase: [{name: step, taskReferenceName: odd_step}]
  - name: legacy_param
    taskReferenceName: legacy_param
    type: DECISION
    caseValueParam: kind
    inputParameters: {kind: "${workflow.input.kind}"}
    decisionCases:
      a: [{name: step, taskReferenceName: kind_a}]
    defaultCase: [{name: step, taskReferenceName: kind_other}]
  - name: legacy_script
    taskReferenceName: legacy_script
    type: DECISION
    caseExpression: "if ($.n >= 12) { 'dozen'; } else { 'fewer'; }"
    inputParameters: {n: "${workflow.input.n}"}
    decisionCases:
      dozen: [{name: step, taskReferenceName: dozen_step}]
      fewer: [{name: step, taskReferenceName: fewer_step}]
"#,
    );
    let (code, result) = run_with_input(&env, "flow.yaml", json!({"n": 12, "kind": "a"}));
    assert_eq!(code, 0, "{result}");
    assert_eq!(
        refs(&worker),
        ["big_step", "even_step", "kind_a", "dozen_step"]
    );
    let records = journal_records(&env);
    assert_eq!(
        settled(&records, "by_js")[0]["output"],
        json!({"evaluationResult": ["big"], "selectedCase": "big"})
    );
    assert_eq!(
        settled(&records, "legacy_script")[0]["output"]["caseOutput"],
        json!(["dozen"])
    );

    let env2 = TestEnv::new();
    let worker2 = FakeAgent::start(&env2, "worker", &["step"], 2, echo);
    env2.write("flow.yaml", &env.read("flow.yaml"));
    let (code, result) = run_with_input(&env2, "flow.yaml", json!({"n": 3, "kind": "z"}));
    assert_eq!(code, 0, "{result}");
    assert_eq!(
        refs(&worker2),
        ["small_step", "odd_step", "kind_other", "fewer_step"]
    );
}

#[test]
fn a_switch_script_that_throws_fails_the_switch() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        "name: s\ntasks:\n  - name: s\n    taskReferenceName: s\n    type: SWITCH\n    evaluatorType: javascript\n    expression: \"$.missing.field\"\n    decisionCases: {a: []}\n",
    );
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{result}");
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("TypeError"), "{reason}");
}

#[test]
fn json_jq_transform_gives_result_result_list_and_error() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"
name: jq
inputParameters: [items]
tasks:
  - name: names
    taskReferenceName: names
    type: JSON_JQ_TRANSFORM
    inputParameters:
      items: ${workflow.input.items}
      queryExpression: ".items[] | .name"
  - name: summary
    taskReferenceName: summary
    type: JSON_JQ_TRANSFORM
    inputParameters:
      all: ${names.output.resultList}
      queryExpression: "{count: (.all | length), joined: (.all | join(\",\"))}"
  - name: nothing
    taskReferenceName: nothing
    type: JSON_JQ_TRANSFORM
    inputParameters: {queryExpression: "empty"}
  - name: broken
    taskReferenceName: broken
    type: JSON_JQ_TRANSFORM
    optional: true
    inputParameters:
      n: 1
      queryExpression: ".n | error(\"n must be 2\")"
"#,
    );
    let (code, result) = run_with_input(
        &env,
        "flow.yaml",
        json!({"items": [{"name": "ada"}, {"name": "bo"}]}),
    );
    assert_eq!(code, 0, "{result}");
    let records = journal_records(&env);
    assert_eq!(
        settled(&records, "names")[0]["output"],
        json!({"result": "ada", "resultList": ["ada", "bo"]})
    );
    assert_eq!(
        settled(&records, "summary")[0]["output"]["result"],
        json!({"count": 2, "joined": "ada,bo"})
    );
    assert_eq!(
        settled(&records, "nothing")[0]["output"],
        json!({"result": null, "resultList": []})
    );
    let broken = &settled(&records, "broken")[0];
    assert_eq!(broken["event"], "task_failed");
    assert_eq!(broken["output"], json!({"error": "n must be 2"}));
    assert_eq!(broken["reason"], "n must be 2");
}

#[test]
fn a_jq_program_that_recurses_or_loops_forever_fails_only_its_task() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"
name: jq_forever
tasks:
  - name: deep
    taskReferenceName: deep
    type: JSON_JQ_TRANSFORM
    optional: true
    inputParameters: {queryExpression: "def f: 1 + f; f"}
  - name: spin
    taskReferenceName: spin
    type: JSON_JQ_TRANSFORM
    optional: true
    inputParameters: {queryExpression: "last(repeat(1))"}
  - name: quit
    taskReferenceName: quit
    type: JSON_JQ_TRANSFORM
    optional: true
    inputParameters: {queryExpression: "halt"}
  - name: secrets
    taskReferenceName: secrets
    type: JSON_JQ_TRANSFORM
    inputParameters: {queryExpression: "env | length"}
  - name: after
    taskReferenceName: after
    type: JSON_JQ_TRANSFORM
    inputParameters: {queryExpression: "\"still here\""}
"#,
    );
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"]["result"], "still here");
    let deep = only_settled(&env, "deep");
    assert!(
        deep["reason"].as_str().unwrap().contains("stack overflow"),
        "{deep}"
    );
    let spin = only_settled(&env, "spin");
    assert!(
        spin["reason"].as_str().unwrap().contains("time budget"),
        "{spin}"
    );
    let quit = only_settled(&env, "quit");
    assert!(
        quit["reason"].as_str().unwrap().contains("called halt"),
        "{quit}"
    );
    // The orchestrator's environment does not reach the program.
    assert_eq!(only_settled(&env, "secrets")["output"]["result"], json!(0));
}

#[test]
fn the_jq_sandbox_holds_its_memory_limit() {
    let env = TestEnv::new();
    let mut child = env
        .cmd(&["jq-sandbox", "--memory-bytes", "200000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let request = json!({"program": "[range(100000000) | [.]] | length", "input": null});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = crate::support::output_within_child(&mut child, Duration::from_secs(60));
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("memory allocation"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_points_at_broken_scripts_and_jq_programs() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"name: broken
tasks:
  - name: calc
    taskReferenceName: calc
    type: INLINE
    inputParameters:
      evaluatorType: javascript
      expression: "$.a +* 2"
  - name: jq
    taskReferenceName: jq
    type: JSON_JQ_TRANSFORM
    inputParameters:
      queryExpression: ".a | nosuchfilter"
  - name: old
    taskReferenceName: old
    type: LAMBDA
    inputParameters: {a: 1}
"#,
    );
    let out = env.run(&["validate", "flow.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("flow.yaml:8:25"), "{text}");
    assert!(text.contains("is not valid JavaScript"), "{text}");
    assert!(text.contains("flow.yaml:13:30"), "{text}");
    assert!(text.contains("undefined filter `nosuchfilter`"), "{text}");
    assert!(
        text.contains("LAMBDA task `old` has no `scriptExpression`"),
        "{text}"
    );
}

#[test]
fn a_script_result_is_computed_once_and_replayed_from_the_journal() {
    let env = TestEnv::new();
    let release = Arc::new(AtomicBool::new(false));
    let gate = release.clone();
    let worker = FakeAgent::start(&env, "worker", &["hold"], 1, move |message| {
        if gate.load(Ordering::Relaxed) {
            Answer::Completed(json!({"seen": message["input"]["pick"]}))
        } else {
            Answer::NotYet
        }
    });
    env.write(
        "flow.yaml",
        r#"
name: once
tasks:
  - name: pick
    taskReferenceName: pick
    type: INLINE
    inputParameters: {evaluatorType: javascript, expression: "Math.random() + ':' + Date.now()"}
  - name: hold
    taskReferenceName: hold
    inputParameters: {pick: "${pick.output.result}"}
outputParameters:
  seen: ${hold.output.seen}
  pick: ${pick.output.result}
"#,
    );
    let out = env.run(&["start", "flow.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first: Child = env
        .cmd(&["resume", &run_id, "--no-agents"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let picked = crate::support::wait_for(Duration::from_secs(20), || {
        settled(&journal_records(&env), "pick").first().cloned()
    })
    .expect("the INLINE task never completed");
    crate::support::wait_for(Duration::from_secs(20), || {
        (!worker.messages().is_empty()).then_some(())
    })
    .expect("the held task was never delivered");
    first.kill().unwrap();
    first.wait().unwrap();

    release.store(true, Ordering::Relaxed);
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let value = &picked["output"]["result"];
    assert!(value.is_string());
    assert_eq!(result["output"], json!({"seen": value, "pick": value}));
    assert_eq!(
        settled(&journal_records(&env), "pick").len(),
        1,
        "the script ran once"
    );
}

// ---- Conductor's own definitions ----

#[test]
fn conductor_lambda_runs_as_written() {
    let env = TestEnv::new();
    let flow = corpus(&env, "simple_lambda_workflow_integration_test");
    let (code, result) = run_with_input(&env, &flow, json!({"a": 1}));
    assert_eq!(code, 0, "{result}");
    assert_eq!(result["output"], json!({"result": {"testvalue": true}}));
    let env = TestEnv::new();
    let flow = corpus(&env, "simple_lambda_workflow_integration_test");
    let (_, result) = run_with_input(&env, &flow, json!({"a": 2}));
    assert_eq!(result["output"], json!({"result": {"testvalue": false}}));
}

#[test]
fn conductor_json_jq_transforms_run_as_written() {
    let env = TestEnv::new();
    let flow = corpus(&env, "simple_json_jq_transform_integration_test");
    let (code, result) = run_with_input(
        &env,
        &flow,
        json!({"in1": {"array": ["a", "b"]}, "in2": {"array": ["c", "d"]}}),
    );
    assert_eq!(code, 0, "{result}");
    assert_eq!(
        result["output"],
        json!({"result": {"out": ["a", "b", "c", "d"]}, "resultList": [{"out": ["a", "b", "c", "d"]}]})
    );

    // jq decides a DECISION by value, whose branch runs jq again and a JavaScript DECISION.
    let env = TestEnv::new();
    let flow = corpus(&env, "json_jq_transform_result_integration_test");
    let (code, result) = run_with_input(&env, &flow, json!({"requestedAction": "redeliver"}));
    assert_eq!(code, 0, "{result}");
    let records = journal_records(&env);
    assert_eq!(
        settled(&records, "json_jq_1")[0]["output"]["result"],
        "CREATE"
    );
    assert_eq!(
        settled(&records, "json_jq_2")[0]["output"]["result"],
        json!(["redeliver", "redeliver_from_validation_error", "redelivery"])
    );
    assert_eq!(
        settled(&records, "decide_2")[0]["output"]["caseOutput"],
        json!(["true"])
    );
}

#[test]
fn conductor_switch_and_decision_definitions_run_with_fake_agents() {
    let tasks = [
        "integration_task_1",
        "integration_task_2",
        "integration_task_3",
        "integration_task_4",
        "integration_task_5",
        "integration_task_10",
        "integration_task_20",
    ];
    for (file, input, expected) in [
        (
            "simple_decision_task_integration_test",
            json!({"case": "c", "param1": "p1", "param2": "p2"}),
            vec!["t1", "t2", "t20"],
        ),
        (
            "simple_decision_task_integration_test",
            json!({"case": "zzz", "param1": "p1", "param2": "p2"}),
            vec!["t5", "t20"],
        ),
        (
            "simple_switch_task_integration_test",
            json!({"case": "c", "param1": "p1", "param2": "p2"}),
            vec!["t1", "t2", "t20"],
        ),
        (
            "conditional_switch_task_workflow_integration_test",
            json!({"param1": "nested", "param2": "two", "finalCase": "notify"}),
            vec!["t2", "integration_task_4"],
        ),
        (
            "conditional_switch_task_workflow_integration_test",
            json!({"param1": "three", "param2": "one"}),
            vec!["t3"],
        ),
    ] {
        let env = TestEnv::new();
        let worker = FakeAgent::start(&env, "worker", &tasks, 2, echo);
        let flow = corpus(&env, file);
        let (code, result) = run_with_input(&env, &flow, input.clone());
        assert_eq!(code, 0, "{file} {input}: {result}");
        assert_eq!(refs(&worker), expected, "{file} {input}");
    }
}
