//! Conductor's bigger definitions run end to end, unchanged, through the real binary: fake
//! agents serve their SIMPLE tasks and a local server their HTTP calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent};
use crate::support::{TestEnv, stderr, wait_for};

/// Copies corpus file `name` unchanged into the station; returns its file name.
fn corpus_file(env: &TestEnv, name: &str) -> String {
    let path = crate::support::conductor_corpus().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    env.write(name, &text);
    name.to_string()
}

/// Answers every task with its reference and input.
fn echo(message: &Value) -> Answer {
    Answer::Completed(json!({"ref": message["task_ref"], "got": message["input"]}))
}

fn refs(agent: &FakeAgent) -> Vec<String> {
    let mut seen: Vec<String> = agent
        .messages()
        .iter()
        .map(|m| m["task_ref"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen
}

fn status(env: &TestEnv, run_id: &str) -> Value {
    let out = env.run(&["status", run_id, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn wf2_forks_four_tasks_joins_and_outputs_its_input_fields() {
    let env = TestEnv::new();
    let caps = [
        "task_5", "task_28", "task_10", "task_11", "task_20", "task_21", "task_30",
    ];
    let worker = FakeAgent::start(&env, "worker", &caps, 4, echo);
    let flow = corpus_file(&env, "wf2.json");
    let (code, result, out) = env.run_flow(&flow, &["-i", "mod=3", "-i", "oddEven=1"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["output"], json!({"mod": 3, "oddEven": 1}));
    assert_eq!(
        refs(&worker),
        [
            "task_10", "task_11", "task_20", "task_21", "task_28", "task_30", "task_5"
        ]
    );
}

#[test]
fn nested_fork_join_runs_the_inner_decision_and_joins_both_levels() {
    let env = TestEnv::new();
    let caps: Vec<String> = (11..=20).map(|n| format!("integration_task_{n}")).collect();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let worker = FakeAgent::start(&env, "worker", &caps, 4, echo);
    let flow = corpus_file(&env, "nested_fork_join_integration_test.json");
    let (code, result, out) = env.run_flow(
        &flow,
        &["-i", "param1=p1", "-i", "param2=p2", "-i", "case=c"],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    // Decision d1 has cases a and b: "c" takes the default case, t18 then t20def; the
    // other cases' tasks never run.
    assert_eq!(
        refs(&worker),
        ["t11", "t12", "t13", "t14", "t15", "t18", "t20def"]
    );
    // outputParameters {} is Conductor's "no mapping": the last task's output.
    assert_eq!(result["output"]["ref"], "t15");
    let run = status(&env, result["run_id"].as_str().unwrap());
    let text = run.to_string();
    assert!(text.contains("join1") && text.contains("join2"), "{run}");
}

#[test]
fn fork_join_permissive_goes_past_a_failed_branch_and_ends_failed() {
    let env = TestEnv::new();
    let caps = [
        "integration_task_1",
        "integration_task_2",
        "integration_task_3",
    ];
    let worker = FakeAgent::start(&env, "worker", &caps, 4, |m: &Value| {
        if m["task_ref"] == "t1" {
            Answer::Failed("t1 broke".into())
        } else {
            echo(m)
        }
    });
    let flow = corpus_file(&env, "fork_join_permissive_integration_test.json");
    let (code, result, out) = env.run_flow(&flow, &["-i", "param1=p1", "-i", "param2=p2"]);
    assert_ne!(code, 0, "{result}");
    assert_eq!(result["status"], "FAILED", "{result}\n{}", stderr(&out));
    // t1 fails for good (no retries defined); t2 and t3 still run: permissive lets the run
    // go on, and it ends FAILED naming t1.
    let seen = refs(&worker);
    assert!(
        seen.contains(&"t2".to_string()) && seen.contains(&"t3".to_string()),
        "{seen:?}"
    );
    assert_eq!(result["failed_task"], "t1", "{result}");
}

#[test]
fn decision_inside_a_fork_branch_runs_its_case_and_the_join_waits_on_the_others() {
    let env = TestEnv::new();
    let caps = [
        "integration_task_1",
        "integration_task_2",
        "integration_task_5",
        "integration_task_10",
        "integration_task_20",
    ];
    let worker = FakeAgent::start(&env, "worker", &caps, 4, echo);
    let flow = corpus_file(&env, "decision_and_fork_join_integration_test.json");
    let (code, result, out) = env.run_flow(
        &flow,
        &["-i", "param1=p1", "-i", "param2=p2", "-i", "case=c"],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(
        result["output"],
        json!({
            "t20": {"ref": "t20", "got": {"p1": "p1", "p2": "p2"}},
            "t10": {"ref": "t10", "got": {"p1": "p1", "p2": "p2"}},
        })
    );
    assert!(refs(&worker).contains(&"t1".to_string()));
}

/// No agent needed: SWITCH, INLINE (graaljs), SET_VARIABLE inside a DO_WHILE whose graaljs
/// condition reads `${workflow.variables.status}`; 26 iterations, the last 3 kept.
#[test]
fn do_while_keep_last_n_switch_runs_26_iterations_and_keeps_three() {
    let env = TestEnv::new();
    let flow = corpus_file(&env, "do_while_keep_last_n_switch_test.json");
    let (code, result, out) = env.run_flow(&flow, &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    let output = result["output"].as_object().unwrap();
    assert_eq!(output["iteration"], 26);
    let mut kept: Vec<&String> = output.keys().filter(|k| *k != "iteration").collect();
    kept.sort();
    assert_eq!(kept, ["24", "25", "26"]);
    assert_eq!(output["26"]["max_loop_ctrl_ref"]["result"], "stop");
    assert_eq!(output["25"]["inline_ref"]["result"], 3);
}

/// A local HTTP server on 127.0.0.1 answering with `route(method, path, body)`; records
/// `METHOD path body idempotency-key` lines. Stops when dropped.
pub(crate) struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start(
        route: impl Fn(&str, &str, &Value) -> (u16, Value) + Send + 'static,
    ) -> Server {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind a local port");
        let port = server.server_addr().to_ip().expect("an ip address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let mut text = String::new();
                let _ = request.as_reader().read_to_string(&mut text);
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let key = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Idempotency-Key"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let method = request.method().as_str().to_string();
                let path = request.url().to_string();
                seen2
                    .lock()
                    .unwrap()
                    .push(format!("{method} {path} {text} {key}"));
                let (status, answer) = route(&method, &path, &body);
                let json_type =
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .unwrap();
                let _ = request.respond(
                    tiny_http::Response::from_string(answer.to_string())
                        .with_status_code(status)
                        .with_header(json_type),
                );
            }
        });
        Server {
            port,
            seen,
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Corpus file `name` with `from` replaced by `to` everywhere (a URL that needs the internet
/// or a fixed port), written into the station under `as_name`.
fn corpus_file_with(env: &TestEnv, name: &str, as_name: &str, from: &str, to: &str) -> String {
    let path = crate::support::conductor_corpus().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(text.contains(from), "{name} has no {from}");
    env.write(as_name, &text.replace(from, to));
    as_name.to_string()
}

/// The daily report's HTTP GET (jsonplaceholder replaced by a local server) and its output
/// `${fetch_report_data_ref.output.response.body.length()}`, a Jayway path function.
#[test]
fn daily_report_fetches_over_http_and_counts_the_items_with_length() {
    let env = TestEnv::new();
    let server = Server::start(|_, path, _| {
        assert_eq!(path, "/todos?userId=1");
        let todos: Vec<Value> = (1..=20).map(|id| json!({"userId": 1, "id": id})).collect();
        (200, Value::Array(todos))
    });
    let flow = corpus_file_with(
        &env,
        "daily-report-workflow.json",
        "daily-report-workflow.json",
        "https://jsonplaceholder.typicode.com",
        &server.base(),
    );
    let (code, result, out) = env.run_flow(&flow, &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(
        result["output"],
        json!({"statusCode": 200, "itemCount": 20})
    );
    assert_eq!(server.seen().len(), 1);
}

fn saga_server() -> Server {
    Server::start(|_, path, _| {
        if path.starts_with("/inventory/reserve") {
            (200, json!({"reservationId": "res-1"}))
        } else if path.starts_with("/payments/charge") {
            (200, json!({"chargeId": "ch-1"}))
        } else if path.starts_with("/shipping/book") && path.contains("status=fail") {
            (500, json!({"error": "no courier"}))
        } else {
            (200, json!({"ok": true}))
        }
    })
}

fn saga_station(env: &TestEnv, server: &Server) -> String {
    let base = server.base();
    corpus_file_with(
        env,
        "saga-order-compensation.json",
        "templates/saga_order_compensation.json",
        "http://localhost:8088",
        &base,
    );
    corpus_file_with(
        env,
        "saga-order-fulfillment.json",
        "saga.json",
        "http://localhost:8088",
        &base,
    )
}

/// The saga's happy path: three HTTP calls, the output picks the ids from their bodies.
#[test]
fn saga_order_fulfillment_completes_with_the_ids_from_the_http_bodies() {
    let env = TestEnv::new();
    let server = saga_server();
    let flow = saga_station(&env, &server);
    let (code, result, out) = env.run_flow(
        &flow,
        &[
            "-i",
            "orderId=o-7",
            "-i",
            "amount=42",
            "-i",
            "shipmentStatus=ok",
        ],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(
        result["output"],
        json!({"orderId": "o-7", "reservationId": "res-1", "chargeId": "ch-1"})
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen[1].ends_with(r#"{"orderId":"o-7","amount":42} o-7-charge"#),
        "{seen:?}"
    );
}

/// The shipment fails (after its retry): the failure workflow (JSON_JQ_TRANSFORM over the
/// failed run's tasks, SWITCH on its result, HTTP) refunds the charge and releases the stock.
#[test]
fn saga_failure_runs_the_compensation_workflow_which_undoes_what_completed() {
    let env = TestEnv::new();
    let server = saga_server();
    let flow = saga_station(&env, &server);
    let (code, result, out) = env.run_flow(
        &flow,
        &[
            "-i",
            "orderId=o-7",
            "-i",
            "amount=42",
            "-i",
            "shipmentStatus=fail",
        ],
    );
    assert_ne!(code, 0);
    assert_eq!(result["status"], "FAILED", "{result}\n{}", stderr(&out));
    assert_eq!(result["failed_task"], "book_shipment");
    let compensation = wait_for(Duration::from_secs(20), || {
        let out = env.run(&["list", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).ok()?;
        list["runs"]
            .as_array()?
            .iter()
            .find(|r| r["workflow"] == "saga_order_compensation" && r["status"] == "COMPLETED")
            .cloned()
    })
    .expect("the compensation run completes");
    let run = status(&env, compensation["run_id"].as_str().unwrap());
    let output = &run["output"];
    assert_eq!(output["compensatedOrder"], "o-7", "{run}");
    assert_eq!(
        output["stepsCompleted"],
        json!(["reserve_inventory", "charge_payment"])
    );
    assert_eq!(output["paymentRefunded"], true);
    assert_eq!(output["inventoryReleased"], true);
    assert!(
        output["originalFailure"]
            .as_str()
            .unwrap()
            .contains("book_shipment"),
        "{run}"
    );
    let seen = server.seen();
    assert!(
        seen.iter()
            .any(|s| s.starts_with("POST /payments/refund") && s.ends_with("o-7-refund")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s.starts_with("POST /inventory/release") && s.ends_with("o-7-release")),
        "{seen:?}"
    );
}

/// An agent answering with its input, the decision inputs `mod` and `oddEven`, and for
/// `task_4` the dynamic fork's tasks and their inputs.
fn kitchen_agent(env: &TestEnv, odd_even: u32) -> FakeAgent {
    let caps = [
        "task_1", "task_3", "task_4", "task_5", "task_6", "task_10", "task_11", "task_30",
    ];
    FakeAgent::start(env, "worker", &caps, 4, move |m: &Value| {
        let mut out = m["input"].as_object().cloned().unwrap_or_default();
        out.insert("mod".into(), json!(2));
        out.insert("oddEven".into(), json!(odd_even));
        if m["task_ref"] == "task_4" {
            out.insert(
                "dynamicTasks".into(),
                json!([
                    {"name": "task_10", "taskReferenceName": "dyn_a"},
                    {"name": "task_11", "taskReferenceName": "dyn_b"},
                ]),
            );
            out.insert(
                "inputs".into(),
                json!({"dyn_a": {"n": 1}, "dyn_b": {"n": 2}}),
            );
        }
        Answer::Completed(Value::Object(out))
    })
}

fn kitchen_station(env: &TestEnv, server: &Server) -> String {
    corpus_file(env, "sub_flow_1.json");
    let text = env.read("sub_flow_1.json");
    env.write("templates/sub_flow_1.json", &text);
    std::fs::remove_file(env.root().join("sub_flow_1.json")).unwrap();
    corpus_file_with(
        env,
        "kitchensink.json",
        "kitchensink.json",
        "http://localhost:9200",
        &server.base(),
    )
}

fn es_server() -> Server {
    Server::start(|_, path, _| {
        assert_eq!(path, "/conductor/_search?size=10");
        (
            200,
            json!({"hits": {"hits": [
                {"_source": {"workflowId": "w1", "status": "COMPLETED"}},
                {"_source": {"workflowId": "w2", "status": "FAILED"}},
            ]}}),
        )
    })
}

/// kitchensink, the even path: EVENT, DYNAMIC (task_3 by name), DECISION on the dynamic
/// task's output, FORK_JOIN_DYNAMIC over the tasks task_4 returns, HTTP, and outputs that
/// collect with JSONPath's `..status`.
#[test]
fn kitchensink_even_path_forks_dynamically_and_collects_with_descendant_paths() {
    let env = TestEnv::new();
    let server = es_server();
    let worker = kitchen_agent(&env, 0);
    let flow = kitchen_station(&env, &server);
    let (code, result, out) = env.run_flow(
        &flow,
        &["-i", "mod=2", "-i", "oddEven=0", "-i", "task2Name=task_3"],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(
        result["output"],
        json!({"statues": ["COMPLETED", "FAILED"], "workflowIds": ["w1", "w2"]})
    );
    assert_eq!(
        refs(&worker),
        ["dyn_a", "dyn_b", "task_1", "task_2", "task_30", "task_4"]
    );
    let dyn_a = worker
        .messages()
        .into_iter()
        .find(|m| m["task_ref"] == "dyn_a")
        .unwrap();
    assert_eq!(dyn_a["input"], json!({"n": 1}));
    assert_eq!(dyn_a["task"], "task_10");
    let task_30 = worker
        .messages()
        .into_iter()
        .find(|m| m["task_ref"] == "task_30")
        .unwrap();
    assert_eq!(task_30["input"]["statuses"], json!(["COMPLETED", "FAILED"]));
    let events = crate::support::files_in(&env, ".3ox/events/kitchensink/event_0");
    assert_eq!(events.len(), 1, "{events:?}");
}

/// kitchensink, the odd path: a FORK_JOIN with two SUB_WORKFLOW branches (sub_flow_1 from
/// templates/), each a run of its own.
#[test]
fn kitchensink_odd_path_runs_two_sub_workflows_in_a_fork() {
    let env = TestEnv::new();
    let server = es_server();
    let worker = kitchen_agent(&env, 1);
    let flow = kitchen_station(&env, &server);
    let (code, result, out) = env.run_flow(
        &flow,
        &["-i", "mod=2", "-i", "oddEven=1", "-i", "task2Name=task_3"],
    );
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"]["workflowIds"], json!(["w1", "w2"]));
    let seen = refs(&worker);
    assert_eq!(
        seen,
        [
            "task_1", "task_10", "task_11", "task_2", "task_30", "task_5", "task_5", "task_6",
            "task_6"
        ]
    );
    let run = status(&env, result["run_id"].as_str().unwrap());
    let children: Vec<&Value> = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "SUB_WORKFLOW")
        .collect();
    assert_eq!(children.len(), 2, "{run}");
    let list = env.run(&["list", "--json"]);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let subs = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["workflow"] == "sub_flow_1" && r["status"] == "COMPLETED")
        .count();
    assert_eq!(subs, 2, "{list}");
}

/// wf1 is an old definition whose inputs are written without `${}` (`workflow.input.mod`):
/// they are plain text, so its DYNAMIC task asks for a task named `workflow.input.task2Name`
/// and the run fails there, as in Conductor (no such task).
#[test]
fn wf1_fails_at_its_dynamic_task_because_its_inputs_are_plain_text() {
    let env = TestEnv::new();
    let caps: Vec<String> = (1..=30).map(|n| format!("task_{n}")).collect();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let worker = FakeAgent::start(&env, "worker", &caps, 4, echo);
    corpus_file(&env, "sub_flow_1.json");
    std::fs::rename(
        env.root().join("sub_flow_1.json"),
        env.root().join("templates/sub_flow_1.json"),
    )
    .unwrap();
    let flow = corpus_file(&env, "wf1.json");
    let (code, result, _) = env.run_flow(&flow, &["-i", "mod=1", "-i", "task2Name=task_3"]);
    assert_ne!(code, 0);
    assert_eq!(result["status"], "FAILED");
    assert_eq!(result["failed_task"], "task_2");
    assert!(
        result["reason"]
            .as_str()
            .unwrap()
            .contains("`workflow.input.task2Name`"),
        "{result}"
    );
    let task_1 = &worker.messages()[0];
    assert_eq!(
        task_1["input"],
        json!({"mod": "workflow.input.mod", "oddEven": "workflow.input.oddEven"})
    );
}

/// http-poll-external-job: the job is submitted over HTTP (a local server stands for the job
/// API), HTTP_POLL is served by an agent that declares it, the SWITCH on the state it
/// returns runs JSON_JQ_TRANSFORM (SUCCEEDED) or TERMINATE with FAILED (FAILED).
#[test]
fn http_poll_external_job_submits_polls_through_an_agent_and_routes_on_the_state() {
    for state in ["SUCCEEDED", "FAILED"] {
        let env = TestEnv::new();
        let server = Server::start(|method, path, body| {
            assert_eq!((method, path), ("POST", "/jobs"));
            assert_eq!(body, &json!({"dataset": "sales"}));
            (201, json!({"jobId": "job-9"}))
        });
        let poller = FakeAgent::start(&env, "poller", &["HTTP_POLL"], 1, move |m: &Value| {
            let uri = m["input"]["http_request"]["uri"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(uri.ends_with("/jobs/job-9"), "{uri}");
            Answer::Completed(json!({"response": {"statusCode": 200, "body": {
                "jobId": "job-9", "state": state, "error": "disk full",
                "result": {"rows": 42, "artifact": "s3://bucket/out.csv"},
            }}}))
        });
        let flow = corpus_file(&env, "http-poll-external-job.json");
        let url = format!("jobApiUrl={}", server.base());
        let (code, result, out) = env.run_flow(&flow, &["-i", &url, "-i", "dataset=sales"]);
        assert_eq!(poller.messages()[0]["type"], "HTTP_POLL");
        if state == "SUCCEEDED" {
            assert_eq!(code, 0, "{result}\n{}", stderr(&out));
            assert_eq!(
                result["output"],
                json!({"jobId": "job-9", "finalState": "SUCCEEDED", "rows": 42,
                       "artifact": "s3://bucket/out.csv"})
            );
        } else {
            assert_eq!(result["status"], "FAILED", "{result}");
            assert_eq!(result["failed_task"], "terminate_job_failed");
            assert_eq!(
                result["output"],
                json!({"error": "remote_job_failed", "jobId": "job-9", "detail": "disk full"})
            );
        }
    }
}

/// Starts `3ox run <flow> --json --no-agents <extra>` in the background and waits until
/// the run is listed; returns the child and the run id.
fn spawn_run(env: &TestEnv, flow: &str, extra: &[&str]) -> (std::process::Child, String) {
    let mut args = vec!["run", flow, "--json", "--no-agents"];
    args.extend_from_slice(extra);
    let child = env
        .cmd(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run_id = wait_for(Duration::from_secs(20), || {
        let out = env.run(&["list", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).ok()?;
        Some(
            list["runs"].as_array()?.first()?["run_id"]
                .as_str()?
                .to_string(),
        )
    })
    .expect("the run is listed");
    (child, run_id)
}

/// hitl-approval: an LLM agent drafts (LLM_CHAT_COMPLETE served by an agent), the HUMAN task
/// is completed from outside with Conductor-style output (`3ox complete`), the decision is
/// normalised with jq, recorded with SET_VARIABLE and the approved action is POSTed.
#[test]
fn hitl_approval_drafts_waits_for_the_human_and_delivers_the_approved_action() {
    let env = TestEnv::new();
    let server = Server::start(|_, _, _| (200, json!({"delivered": true})));
    let _llm = FakeAgent::start(&env, "llm", &["LLM_CHAT_COMPLETE"], 1, |_: &Value| {
        Answer::Completed(json!({"result": {
            "summary": "late parcel", "proposedMessage": "It ships today.", "riskFlags": [],
        }}))
    });
    env.write("agents/commander/agent.yaml", "version: 1\n");
    let flow = corpus_file(&env, "hitl-approval.json");
    let url = format!("deliveryUrl={}/deliver", server.base());
    let (mut child, run_id) = spawn_run(
        &env,
        &flow,
        &[
            "-i",
            "customerId=c-1",
            "-i",
            "conversation=where is it",
            "-i",
            "actionKey=k-1",
            "-i",
            &url,
        ],
    );
    let inbox = "agents/commander/1N.3OX";
    wait_for(Duration::from_secs(20), || {
        crate::support::files_in(&env, inbox)
            .iter()
            .any(|f| f.ends_with(".approval-request.yaml"))
            .then_some(())
    })
    .expect("the HUMAN task asks the commander");
    let out = env.run(&[
        "complete",
        &run_id,
        "human_decision",
        "--output",
        r#"{"approved": true, "approver": "ann", "note": "fine"}"#,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = crate::support::output_within_child(&mut child, Duration::from_secs(30));
    let result: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(result["status"], "COMPLETED", "{result}");
    assert_eq!(
        result["output"]["approval"],
        json!({"status": "decided", "approved": true, "approver": "ann", "note": "fine"})
    );
    assert_eq!(
        result["output"]["delivery"],
        json!({"status": "sent", "idempotencyKey": "k-1"})
    );
    assert_eq!(
        server.seen(),
        [
            r#"POST /deliver {"customerId":"c-1","message":"It ships today.","approvedBy":"ann"} k-1"#
        ]
    );
    assert!(
        !crate::support::files_in(&env, inbox)
            .iter()
            .any(|f| f.ends_with(".approval-request.yaml")),
        "the request left the commander's inbox"
    );
}

/// wait-for-approval-workflow: a WAIT with no duration, completed by `3ox complete`; the run's
/// output is the WAIT's output.
#[test]
fn wait_for_approval_is_completed_from_outside_and_outputs_what_was_given() {
    let env = TestEnv::new();
    let flow = corpus_file(&env, "wait-for-approval-workflow.json");
    let (mut child, run_id) = spawn_run(&env, &flow, &["-i", "orderId=o-1"]);
    wait_for(Duration::from_secs(20), || {
        let run = status(&env, &run_id);
        (run["tasks"].get(0)?["status"] == "IN_PROGRESS").then_some(())
    })
    .expect("the WAIT starts");
    let out = env.run(&["complete", &run_id, "approval", "--set", "approved=true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = crate::support::output_within_child(&mut child, Duration::from_secs(30));
    let result: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(result["status"], "COMPLETED");
    assert_eq!(result["output"], json!({"approval": {"approved": true}}));
}

/// simple_workflow_with_resp_time_out: unchanged it is two SIMPLE tasks (its response
/// timeout lives in Conductor's task definition of `task_rt`, registered apart); with that
/// definition given as `taskDefinition` (responseTimeoutSeconds 1, one retry), an attempt
/// that never answers times out and the retry completes the run with Conductor's outputs.
#[test]
fn resp_time_out_retries_an_attempt_that_stops_answering() {
    let env = TestEnv::new();
    let worker = FakeAgent::start(
        &env,
        "worker",
        &["task_rt", "integration_task_2"],
        2,
        |m: &Value| match (m["task_ref"].as_str().unwrap(), m["attempt"].as_u64()) {
            ("t1", Some(1)) => Answer::NotYet,
            ("t1", _) => Answer::Completed(json!({"op": "t1-op"})),
            _ => Answer::Completed(json!({"uuid": "u-2"})),
        },
    );
    let mut def: Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::support::conductor_corpus()
                .join("simple_workflow_with_resp_time_out_integration_test.json"),
        )
        .unwrap(),
    )
    .unwrap();
    def["tasks"][0]["taskDefinition"] = json!({
        "name": "task_rt", "responseTimeoutSeconds": 1, "timeoutSeconds": 0,
        "retryCount": 1, "retryDelaySeconds": 0,
    });
    env.write("rto.json", &def.to_string());
    let (code, result, out) = env.run_flow("rto.json", &["-i", "param1=p1", "-i", "param2=p2"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(
        result["output"],
        json!({"o1": "p1", "o2": "u-2", "o3": "t1-op"})
    );
    let attempts: Vec<u64> = worker
        .messages()
        .iter()
        .filter(|m| m["task_ref"] == "t1")
        .map(|m| m["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2]);
    let t2 = worker
        .messages()
        .into_iter()
        .find(|m| m["task_ref"] == "t2")
        .unwrap();
    assert_eq!(t2["input"], json!({"tp1": "p1", "tp2": "t1-op"}));
}

/// do_while_sub_workflow: each iteration's SUB_WORKFLOW (`st1__1`, `st1__2`) is a child run
/// of its own; the second child fails, the loop and the run fail, and `3ox retry` of the
/// parent resumes that same child, which completes the loop.
#[test]
fn do_while_sub_workflow_runs_a_child_per_iteration_and_retry_resumes_the_failed_one() {
    let env = TestEnv::new();
    let fixed = Arc::new(AtomicBool::new(false));
    let children = Arc::new(Mutex::new(Vec::<String>::new()));
    let (fixed2, children2) = (fixed.clone(), children.clone());
    let caps = [
        "integration_task_0",
        "integration_task_1",
        "integration_task_2",
        "simple_task_in_sub_wf",
    ];
    let _worker = FakeAgent::start(&env, "worker", &caps, 4, move |m: &Value| {
        if m["task"] == "simple_task_in_sub_wf" {
            let run = m["run_id"].as_str().unwrap().to_string();
            let mut seen = children2.lock().unwrap();
            if !seen.contains(&run) {
                seen.push(run.clone());
            }
            if seen.len() == 2 && seen[1] == run && !fixed2.load(Ordering::SeqCst) {
                return Answer::Failed("the second child breaks".into());
            }
        }
        echo(m)
    });
    env.write(
        "templates/sub_workflow.yaml",
        "name: sub_workflow\ntasks:\n  - {name: simple_task_in_sub_wf, taskReferenceName: t1}\n",
    );
    let flow = corpus_file(&env, "do_while_sub_workflow_integration_test.json");
    let (code, result, _) = env.run_flow(&flow, &["-i", "loop=2"]);
    assert_ne!(code, 0);
    assert_eq!(result["failed_task"], "loopTask", "{result}");
    assert!(
        result["reason"].as_str().unwrap().contains("st1__2"),
        "{result}"
    );
    let run_id = result["run_id"].as_str().unwrap().to_string();
    fixed.store(true, Ordering::SeqCst);
    let out = env.run(&["retry", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = crate::support::output_within(
        env.cmd(&["resume", &run_id, "--json"]),
        Duration::from_secs(60),
    );
    let result: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(result["status"], "COMPLETED", "{result}");
    let output = &result["output"];
    assert_eq!(output["iteration"], 2);
    let seen = children.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "no third child: the failed one was resumed");
    assert_eq!(output["1"]["st1"]["subWorkflowId"], seen[0]);
    assert_eq!(output["2"]["st1"]["subWorkflowId"], seen[1]);
}
