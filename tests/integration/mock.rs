//! `3ox test <workflow> --mock <mocks.yaml>` through the real binary: the path it prints (text
//! and JSON), its exit codes, bad mocks files, and the committed templates' mocks.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{TestEnv, stderr, stdout};

/// A check retried an hour later, then a SWITCH on its output.
const FLOW: &str = "
name: checked
inputParameters: [folder]
tasks:
  - name: check
    taskReferenceName: check
    inputParameters: {folder: '${workflow.input.folder}'}
    retry: {count: 2, logic: FIXED, delay: 1h}
  - name: route
    taskReferenceName: route
    type: SWITCH
    evaluatorType: expression
    expression: n > 0
    inputParameters: {n: '${check.output.problem_count}'}
    decisionCases:
      'true': [{name: fix, taskReferenceName: fix, inputParameters: {folder: '${workflow.input.folder}'}}]
    defaultCase: [{name: celebrate, taskReferenceName: celebrate}]
outputParameters:
  problems: ${check.output.problem_count}
  fixed: ${fix.output.fixed}
";

const MOCKS: &str = "version: 1
input: {folder: stock}
tasks:
  check:
    - {status: FAILED, reason: flaky}
    - {output: {problem_count: 2}}
  fix: {output: {fixed: true}}
expect:
  output: {problems: 2, fixed: true}
  ran: [fix]
  not_ran: [celebrate]
  tasks:
    check: {attempts: 2}
    fix: {input: {folder: stock}}
";

fn setup(mocks: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write("flow.yaml", FLOW);
    env.write("m.yaml", mocks);
    env
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exited")
}

/// Every file below `root` with its contents.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let data = if e.file_type().is_file() {
                std::fs::read(e.path()).unwrap_or_default()
            } else {
                Vec::new()
            };
            (e.path().to_path_buf(), data)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn text_output_shows_the_path_on_simulated_time() {
    let env = setup(MOCKS);
    let before = tree(env.root());
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    for line in [
        "check  SIMPLE attempt 1 scheduled",
        "check  FAILED: flaky; retry at +1h",
        "+1h  check  SIMPLE attempt 2 scheduled",
        "check  COMPLETED  output: {\"problem_count\":2}",
        "route  SWITCH chose case `true`",
        "fix    SIMPLE attempt 1 scheduled",
        "run    COMPLETED  output: {\"problems\":2,\"fixed\":true}",
        "result: COMPLETED after 1h of simulated time (3 tasks, 1 retry)",
        "PASS: 6 expectations met",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    assert!(!text.contains("celebrate"), "{text}");
    assert!(
        !text.contains("scheduled  input:"),
        "inputs only with --verbose: {text}"
    );
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml", "--verbose"]);
    let verbose = stdout(&out);
    assert!(
        verbose.contains("fix    SIMPLE attempt 1 scheduled  input: {\"folder\":\"stock\"}"),
        "{verbose}"
    );
    // Nothing in the station was touched: no journal, no run, no file.
    assert_eq!(tree(env.root()), before, "3ox test wrote into the station");
}

#[test]
fn json_output_lists_every_change_with_its_simulated_time() {
    let env = setup(MOCKS);
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(report["status"], "COMPLETED");
    assert_eq!(report["passed"], true);
    assert_eq!(report["elapsed_seconds"], 3600.0);
    assert_eq!(report["output"]["fixed"], true);
    let events = report["events"].as_array().unwrap();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "run_started",
            "task_scheduled",
            "task_failed",
            "task_scheduled",
            "task_completed",
            "task_completed",
            "task_scheduled",
            "task_completed",
            "run_completed"
        ]
    );
    assert_eq!(events[2]["reason"], "flaky");
    assert_eq!(events[3]["at_seconds"], 3600.0);
    assert_eq!(events[3]["attempt"], 2);
    assert_eq!(events[5]["output"]["selectedCase"], "true");
    assert!(events.iter().all(|e| e.get("token").is_none()));
    let check = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task_ref"] == "check")
        .unwrap();
    assert_eq!(check["attempts"], 2);
    assert_eq!(report["expect"]["checks"], 6);
}

#[test]
fn a_failed_run_exits_1_unless_failure_is_expected() {
    let env = setup("version: 1\ntasks:\n  check: {status: FAILED, reason: disk gone}\n");
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(
        text.contains("check  FAILED: disk gone; retry at +1h"),
        "{text}"
    );
    assert!(
        text.contains("check  FAILED: disk gone\n"),
        "the third attempt ends it: {text}"
    );
    assert!(text.contains("result: FAILED after 2h"), "{text}");
    assert!(
        text.contains("status: expected COMPLETED, got FAILED"),
        "{text}"
    );

    let out = env.run(&[
        "test",
        "flow.yaml",
        "--mock",
        "m.yaml",
        "--expect-status",
        "FAILED",
    ]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let out = env.run(&[
        "test",
        "flow.yaml",
        "--mock",
        "m.yaml",
        "--expect-status",
        "BROKEN",
    ]);
    assert_eq!(code(&out), 2, "a bad --expect-status is bad usage");
    // --input goes over the mocks file's input.
    let out = env.run(&[
        "test",
        "flow.yaml",
        "--mock",
        "m.yaml",
        "--expect-status",
        "FAILED",
        "--input",
        "folder=[x, y]",
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        report["tasks"][0]["input"]["folder"],
        serde_json::json!(["x", "y"])
    );
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml", "--input", "nokey"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn an_expectation_that_does_not_hold_exits_1_and_says_what_differed() {
    let mocks = MOCKS
        .replace("{problems: 2, fixed: true}", "{problems: 3, fixed: true}")
        .replace("not_ran: [celebrate]", "not_ran: [fix]");
    let env = setup(&mocks);
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("FAIL:"), "{text}");
    assert!(
        text.contains("output.problems: expected 3, got 2"),
        "{text}"
    );
    assert!(
        text.contains("not_ran: task `fix` ran (COMPLETED)"),
        "{text}"
    );
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["expect"]["mismatches"].as_array().unwrap().len(), 2);
}

#[test]
fn a_bad_mocks_file_is_reported_with_its_line_and_column() {
    let env = setup("version: 1\ntasks:\n  check:\n    - {output: {}}\n    - {status: DONE}\n");
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("--> m.yaml:5:16"), "{err}");
    assert!(err.contains("unknown variant `DONE`"), "{err}");
    assert!(err.contains("m.yaml is not a valid mocks file"), "{err}");
    assert!(stdout(&out).is_empty());

    env.write("m.yaml", "version: 1\ntasks:\n  check: [{output: {}}\n");
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not valid YAML"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--> m.yaml:4:"), "{}", stderr(&out));
}

#[test]
fn a_task_without_a_mock_is_bad_usage_that_names_it() {
    let env =
        setup("version: 1\ninput: {folder: x}\ntasks:\n  check: {output: {problem_count: 1}}\n");
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("task `fix` has no mock; add one"),
        "{}",
        stderr(&out)
    );
    // The path up to that task is shown.
    let text = stdout(&out);
    assert!(text.contains("route  SWITCH chose case `true`"), "{text}");
    assert!(text.contains("fix    SIMPLE attempt 1 scheduled"), "{text}");
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml", "--json"]);
    assert_eq!(code(&out), 2);
    let report: Value = serde_json::from_str(&stdout(&out)).expect("a JSON document");
    assert_eq!(report["status"], "ERROR");
    assert_eq!(report["passed"], false);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("task `fix` has no mock")
    );
    // A default covers it.
    env.write(
        "m.yaml",
        "version: 1\ntasks:\n  check: {output: {problem_count: 1}}\ndefault: {output: {fixed: false}}\n",
    );
    let out = env.run(&["test", "flow.yaml", "--mock", "m.yaml"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn an_invalid_workflow_is_bad_usage() {
    let env = setup(MOCKS);
    env.write(
        "broken.yaml",
        "name: broken\ntasks:\n  - name: a\n    type: SWITCH\n",
    );
    let out = env.run(&["test", "broken.yaml", "--mock", "m.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("broken.yaml:"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a valid workflow"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_templates_pass_with_their_mocks() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = TestEnv::new();
    let mut tested = Vec::new();
    for entry in std::fs::read_dir(repo.join("templates/tests")).unwrap() {
        let mocks = entry.unwrap().path();
        let name = mocks.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".mocks.yaml") else {
            continue;
        };
        // `approval-gate.deadline.mocks.yaml` tests `approval-gate.workflow.yaml`.
        let template = stem.split('.').next().unwrap();
        let workflow = repo.join(format!("templates/{template}.workflow.yaml"));
        let out = env.run(&[
            "test",
            workflow.to_str().unwrap(),
            "--mock",
            mocks.to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{name}:\n{}{}", stdout(&out), stderr(&out));
        assert!(stdout(&out).contains("PASS: "), "{}", stdout(&out));
        tested.push(template.to_string());
    }
    tested.sort();
    tested.dedup();
    // Every template has its mocks.
    assert_eq!(
        tested,
        [
            "approval-gate",
            "backup-and-verify",
            "batch-validation",
            "code-review",
            "deploy-with-rollback",
            "etl-with-retries",
            "incident-triage",
            "inventory-validation",
            "llm-document-pipeline",
            "nightly-report",
            "release-checklist",
            "research-fanout",
            "rollback-deploy",
            "station-sync",
        ]
    );
}

#[test]
fn validate_checks_mocks_files_as_mocks_files() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = TestEnv::new();
    // In the repository's station: the LLM templates need its agent serving LLM_CHAT_COMPLETE.
    let out = env.run(&[
        "--station",
        repo.to_str().unwrap(),
        "validate",
        repo.join("templates").to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    assert!(
        text.contains("ok  ") && text.contains("approval-gate.mocks.yaml"),
        "{text}"
    );

    env.write(
        "tests/flow.mocks.yaml",
        "version: 2\ntasks: {a: {status: DONE}}\n",
    );
    let out = env.run(&["validate", "tests"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 2, "{text}");
    assert!(text.contains("mocks version 2 is not supported"), "{text}");
    assert!(text.contains("--> tests/flow.mocks.yaml:2:"), "{text}");
}

/// `text` with every run of spaces made one (the path's columns are as wide as needed).
fn squeeze(text: &str) -> String {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every kind of task at once: an HTTP call that fails once, a WAIT of an hour, a WAIT
/// completed from outside, a SUB_WORKFLOW (by name, not in the station: mocked), a DO_WHILE
/// over items, an EVENT, then a SWITCH to a TERMINATE.
const TOUR: &str = "
name: tour
inputParameters: [files]
failureWorkflow: undo_tour
tasks:
  - name: fetch
    taskReferenceName: fetch
    type: HTTP
    retry: {count: 2, logic: FIXED, delay: 30s}
    inputParameters:
      http_request: {uri: 'https://example.com/orders', method: POST, body: {files: '${workflow.input.files}'}}
  - name: cool_down
    taskReferenceName: cool
    type: WAIT
    inputParameters: {duration: 1 hour}
  - name: sign_off
    taskReferenceName: sign_off
    type: WAIT
  - name: build
    taskReferenceName: build
    type: SUB_WORKFLOW
    subWorkflowParam: {name: build_it}
    inputParameters: {order: '${fetch.output.response.body.order}'}
  - name: each_file
    taskReferenceName: each
    type: DO_WHILE
    inputParameters: {items: '${workflow.input.files}'}
    loopOver:
      - name: convert
        taskReferenceName: convert
        retry: {count: 1, delay: 10s}
        inputParameters: {file: '${each.output.loopItem}'}
  - name: tell
    taskReferenceName: tell
    type: EVENT
    sink: conductor:converted
    inputParameters: {artifact: '${build.output.artifact}', by: '${sign_off.output.by}'}
  - name: route
    taskReferenceName: route
    type: SWITCH
    expression: ok
    inputParameters: {ok: '${convert.output.ok}'}
    decisionCases:
      'false':
        - name: stop
          taskReferenceName: stop
          type: TERMINATE
          inputParameters: {terminationStatus: FAILED, terminationReason: 'last file did not convert'}
  - {name: publish, taskReferenceName: publish}
";

const TOUR_MOCKS: &str = "version: 1
input: {files: [a.doc, b.doc]}
tasks:
  fetch:
    - {status: FAILED, reason: connection refused}
    - {output: {response: {statusCode: 201, body: {order: 42}}}}
  sign_off: {output: {by: ops}, after: 15m}
  build: {output: {artifact: 'order-${input.order}.tar'}}
  convert__2: [{status: FAILED, reason: corrupt}, {output: {file: '${input.file}', ok: true}}]
  convert: {output: {file: '${input.file}', ok: true}}
  publish: {}
expect:
  status: COMPLETED
  ran: [publish, cool, sign_off]
  not_ran: [stop]
  tasks:
    fetch: {attempts: 2}
    convert__2: {attempts: 2}
    tell: {output: {artifact: order-42.tar, by: ops}}
";

#[test]
fn every_task_type_runs_without_agents_on_simulated_time() {
    let env = TestEnv::new();
    env.write("tour.yaml", TOUR);
    env.write("tour.mocks.yaml", TOUR_MOCKS);
    let before = tree(env.root());
    let out = env.run(&["test", "tour.yaml", "--mock", "tour.mocks.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    for line in [
        "fetch         HTTP attempt 1: POST https://example.com/orders",
        "fetch         FAILED: POST https://example.com/orders failed: connection refused; retry at +30s",
        "+30s  fetch         HTTP attempt 2: POST https://example.com/orders",
        "cool          WAIT until +1h 30s",
        "+1h 30s  cool          COMPLETED",
        "sign_off      WAIT for completion from outside (`3ox complete`)",
        "+1h 15m 30s  sign_off      COMPLETED from outside by mock",
        "build         SUB_WORKFLOW starts child `build_it`  input: {\"order\":42}",
        "build         child run ended COMPLETED  output: {\"artifact\":\"order-42.tar\"}",
        "each          DO_WHILE iteration 2",
        "convert__2    FAILED: corrupt; retry at +1h 15m 40s",
        "tell          EVENT published to conductor:tour:converted",
        "route         SWITCH chose case `true`",
        "result: COMPLETED after 1h 15m 40s of simulated time",
        "PASS: 8 expectations met",
    ] {
        assert!(
            squeeze(&text).contains(&squeeze(line)),
            "missing `{line}` in:\n{text}"
        );
    }
    assert_eq!(tree(env.root()), before, "3ox test wrote into the station");

    // The last file fails to convert: the SWITCH takes the TERMINATE, the run fails, and the
    // failureWorkflow it would start is shown with its input.
    let failing = TOUR_MOCKS
        .replace(
            "convert: {output: {file: '${input.file}', ok: true}}",
            "convert: {output: {file: '${input.file}', ok: false}}",
        )
        .replace(
            "convert__2: [{status: FAILED, reason: corrupt}, {output: {file: '${input.file}', ok: true}}]",
            "",
        )
        .replace("status: COMPLETED", "status: FAILED")
        .replace("ran: [publish, cool, sign_off]", "ran: [stop]")
        .replace("not_ran: [stop]", "not_ran: [publish]")
        .replace("    convert__2: {attempts: 2}\n", "");
    env.write("stop.mocks.yaml", &failing);
    let out = env.run(&["test", "tour.yaml", "--mock", "stop.mocks.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    for line in [
        "stop          TERMINATE ends the run FAILED: last file did not convert",
        "run           FAILED: last file did not convert",
        "run           failureWorkflow starts `undo_tour`  input: {\"files\":[\"a.doc\",\"b.doc\"],\"workflowId\":\"test\"",
        "note: the mock for `publish` was not used",
    ] {
        assert!(
            squeeze(&text).contains(&squeeze(line)),
            "missing `{line}` in:\n{text}"
        );
    }
}

#[test]
fn an_outside_wait_without_a_mock_fails_the_test_and_says_why() {
    let env = TestEnv::new();
    env.write("tour.yaml", TOUR);
    env.write("m.yaml", "version: 1\ndefault: {output: {}}\n");
    let out = env.run(&["test", "tour.yaml", "--mock", "m.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    assert!(
        text.contains("WAIT `sign_off` waits to be completed from outside (`3ox complete`), and no mock completes it"),
        "{text}"
    );
}

#[test]
fn children_run_runs_a_named_child_from_the_station_with_the_same_mocks() {
    let env = TestEnv::new();
    env.write(
        "templates/build_it.workflow.yaml",
        "name: build_it\ntasks:\n  - {name: compile, taskReferenceName: compile, inputParameters: {order: '${workflow.input.order}'}}\noutputParameters:\n  artifact: ${compile.output.artifact}\n",
    );
    env.write(
        "parent.yaml",
        "name: parent\ntasks:\n  - name: build\n    taskReferenceName: build\n    type: SUB_WORKFLOW\n    subWorkflowParam: {name: build_it}\n    inputParameters: {order: 7}\n",
    );
    env.write(
        "m.yaml",
        "version: 1\nchildren: run\ntasks:\n  compile: {output: {artifact: 'order-${input.order}.tar'}, after: 3m}\nexpect:\n  output: {artifact: order-7.tar}\n",
    );
    let out = env.run(&["test", "parent.yaml", "--mock", "m.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    for line in [
        "build          SUB_WORKFLOW starts child `build_it`  input: {\"order\":7}",
        "build/compile  SIMPLE attempt 1 scheduled",
        "+3m  build/compile  COMPLETED  output: {\"artifact\":\"order-7.tar\"}",
        "+3m  build          child run ended COMPLETED",
    ] {
        assert!(
            squeeze(&text).contains(&squeeze(line)),
            "missing `{line}` in:\n{text}"
        );
    }
    let out = env.run(&["test", "parent.yaml", "--mock", "m.yaml", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let child = &report["children"][0];
    assert_eq!(child["task_ref"], "build");
    assert_eq!(child["workflow"], "build_it");
    assert_eq!(child["status"], "COMPLETED");
    assert!(
        child["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "task_scheduled" && e["task_ref"] == "compile")
    );

    // A child that is not in the station cannot run: bad usage, naming it.
    std::fs::remove_file(env.root().join("templates/build_it.workflow.yaml")).unwrap();
    let out = env.run(&["test", "parent.yaml", "--mock", "m.yaml"]);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("build_it"), "{}", stderr(&out));
}

#[test]
fn children_run_runs_the_failure_workflow_so_a_saga_can_be_tested() {
    let env = TestEnv::new();
    env.write(
        "templates/undo_order.workflow.yaml",
        "name: undo_order\ntasks:\n  - name: refund\n    taskReferenceName: refund\n    inputParameters: {order: '${workflow.input.orderId}', failed: '${workflow.input.failedReferenceTaskNames}'}\n",
    );
    env.write(
        "order.yaml",
        "name: order\ninputParameters: [orderId]\nfailureWorkflow: undo_order\ntasks:\n  - {name: charge_card, taskReferenceName: charge}\n  - {name: ship, taskReferenceName: ship}\n",
    );
    env.write(
        "m.yaml",
        "version: 1\nchildren: run\ninput: {orderId: 9}\ntasks:\n  charge: {output: {charged: true}}\n  ship: {status: FAILED, reason: no stock}\n  refund: {output: {refunded: '${input.order}'}, after: 2m}\nexpect:\n  status: FAILED\n  reason: no stock\n",
    );
    let out = env.run(&["test", "order.yaml", "--mock", "m.yaml"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    for line in [
        "run FAILED: task `ship` failed: no stock",
        "run failureWorkflow starts `undo_order` input: {\"orderId\":9,",
        "undo_order/refund SIMPLE attempt 1 scheduled",
        "+2m undo_order/refund COMPLETED output: {\"refunded\":9}",
        "+2m undo_order/run COMPLETED",
    ] {
        assert!(
            squeeze(&text).contains(&squeeze(line)),
            "missing `{line}` in:\n{text}"
        );
    }
    let out = env.run(&["test", "order.yaml", "--mock", "m.yaml", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let child = &report["children"][0];
    assert_eq!(child["workflow"], "undo_order");
    assert_eq!(child["status"], "COMPLETED");
    let refund = child["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "task_scheduled")
        .unwrap();
    assert_eq!(refund["input"]["order"], 9);
}
