//! HTTP, EVENT and agent-served system types, through the real binary: HTTP calls go to a
//! local server started by the test (tiny_http on 127.0.0.1), events are read back from the
//! files 3ox writes, and an LLM_CHAT_COMPLETE task is served by a fake agent.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, register};
use crate::support::{TestEnv, files_in, journal_records, output_within, stderr, stdout};

/// The start of a PNG file: bytes that are not UTF-8 (0x89, 0xff, 0xfe) and not JSON.
const PNG_BYTES: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01";

/// A request as the test server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// A local HTTP server on 127.0.0.1 with a few routes; stops when dropped.
struct TestServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Routes: `GET /hello` (JSON), `POST /echo` (201, echoes body and two headers),
    /// `/fail` (500 always), `/flaky` (500 the first time, then 200), `/slow` (answers after
    /// 3 s), `/text` (plain text), `/png` ([`PNG_BYTES`], image/png).
    fn start() -> TestServer {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind a local port");
        let port = server.server_addr().to_ip().expect("an ip address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let flaky_hits = Arc::new(Mutex::new(0u32));
            while !stop2.load(Ordering::Relaxed) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let headers: HashMap<String, String> = request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_string(),
                        )
                    })
                    .collect();
                let seen_now = Seen {
                    method: request.method().as_str().to_string(),
                    path: request.url().to_string(),
                    headers,
                    body,
                };
                seen2.lock().unwrap().push(seen_now.clone());
                let flaky_hits = flaky_hits.clone();
                // Each request on its own thread, so a slow answer holds up no other.
                std::thread::spawn(move || {
                    if seen_now.path == "/png" {
                        let png_type =
                            tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"image/png"[..])
                                .unwrap();
                        let _ = request.respond(
                            tiny_http::Response::from_data(PNG_BYTES.to_vec())
                                .with_header(png_type),
                        );
                        return;
                    }
                    let json_type = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"application/json"[..],
                    )
                    .unwrap();
                    let (status, text, json) = match seen_now.path.as_str() {
                        "/hello" => (200, r#"{"greeting":"hello","n":7}"#.to_string(), true),
                        "/echo" => {
                            let body: Value =
                                serde_json::from_str(&seen_now.body).unwrap_or(Value::Null);
                            let echo = json!({
                                "got": body,
                                "key": seen_now.headers.get("x-key"),
                                "content_type": seen_now.headers.get("content-type"),
                            });
                            (201, echo.to_string(), true)
                        }
                        "/fail" => (500, "boom".to_string(), false),
                        "/flaky" => {
                            let mut hits = flaky_hits.lock().unwrap();
                            *hits += 1;
                            if *hits == 1 {
                                (500, "not yet".to_string(), false)
                            } else {
                                (200, r#"{"ok":true}"#.to_string(), true)
                            }
                        }
                        "/slow" => {
                            std::thread::sleep(Duration::from_secs(3));
                            (200, r#"{"late":true}"#.to_string(), true)
                        }
                        "/text" => (200, "plain words".to_string(), false),
                        _ => (404, "no such route".to_string(), false),
                    };
                    let mut response = tiny_http::Response::from_string(text)
                        .with_status_code(status)
                        .with_header(
                            tiny_http::Header::from_bytes(&b"X-Server"[..], &b"tiny"[..]).unwrap(),
                        );
                    if json {
                        response = response.with_header(json_type);
                    }
                    let _ = request.respond(response);
                });
            }
        });
        TestServer {
            port,
            seen,
            stop,
            handle: Some(handle),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[test]
fn http_tasks_get_and_post_with_headers_and_a_json_body() {
    let server = TestServer::start();
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        &format!(
            r#"name: http_calls
tasks:
  - name: fetch
    taskReferenceName: fetch
    type: HTTP
    inputParameters:
      http_request:
        uri: {hello}
        method: GET
        connectionTimeOut: 2000
        readTimeOut: 2000
  - name: post
    taskReferenceName: post
    type: HTTP
    inputParameters:
      uri: {echo}
      method: POST
      headers:
        X-Key: "${{workflow.input.key}}"
      body:
        order: "${{workflow.input.order}}"
        greeting: "${{fetch.output.response.body.greeting}}"
  - name: text
    taskReferenceName: text
    type: HTTP
    inputParameters:
      http_request: {{uri: "{text}"}}
outputParameters:
  greeting: ${{fetch.output.response.body.greeting}}
  server: ${{fetch.output.response.headers.x-server}}
  status: ${{post.output.response.statusCode}}
  reason: ${{post.output.response.reasonPhrase}}
  echoed: ${{post.output.response.body}}
  text: ${{text.output.response.body}}
"#,
            hello = server.url("/hello"),
            echo = server.url("/echo"),
            text = server.url("/text"),
        ),
    );
    let (code, result, out) = env.run_flow("flow.yaml", &["-i", "key=k-42", "-i", "order=A7"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let output = &result["output"];
    assert_eq!(output["greeting"], "hello");
    assert_eq!(output["server"], json!(["tiny"]));
    assert_eq!(output["status"], 201);
    assert_eq!(output["reason"], "Created");
    assert_eq!(
        output["echoed"],
        json!({"got": {"order": "A7", "greeting": "hello"}, "key": "k-42", "content_type": "application/json"})
    );
    assert_eq!(output["text"], "plain words");
    // What the server saw: the method, the header and the JSON body.
    let posts = server.requests("/echo");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].method, "POST");
    assert_eq!(posts[0].headers["x-key"], "k-42");
    let body: Value = serde_json::from_str(&posts[0].body).unwrap();
    assert_eq!(body, json!({"order": "A7", "greeting": "hello"}));
    let gets = server.requests("/hello");
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].method, "GET");
    assert_eq!(gets[0].headers["accept"], "application/json");
    // Journaled: each call's start, then its completion with the response.
    let records = journal_records(&env);
    let started: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "http_call_started")
        .collect();
    assert_eq!(started.len(), 3);
    assert_eq!(started[1]["request"]["method"], "POST");
    assert_eq!(started[1]["request"]["headers"]["X-Key"], "k-42");
    let completed = records
        .iter()
        .find(|r| r["event"] == "task_completed" && r["task_ref"] == "post")
        .unwrap();
    assert_eq!(completed["task_id"], started[1]["task_id"]);
    assert_eq!(completed["output"]["response"]["statusCode"], 201);
}

#[test]
fn a_500_fails_the_attempt_and_the_retry_policy_retries_it() {
    let server = TestServer::start();
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        &format!(
            "name: flaky_http\ntasks:\n  - name: call\n    taskReferenceName: call\n    type: HTTP\n    retry: {{count: 2, delay: 100ms}}\n    inputParameters:\n      http_request: {{uri: \"{}\", method: GET}}\n",
            server.url("/flaky")
        ),
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"]["response"]["body"], json!({"ok": true}));
    assert_eq!(result["retries"], 1);
    assert_eq!(server.requests("/flaky").len(), 2);
    let records = journal_records(&env);
    let failed = records
        .iter()
        .find(|r| r["event"] == "task_failed")
        .unwrap();
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 500 Internal Server Error"),
        "{failed}"
    );
    assert_eq!(failed["output"]["response"]["statusCode"], 500);
    assert_eq!(failed["output"]["response"]["body"], "not yet");
    let ids: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "http_call_started")
        .map(|r| &r["task_id"])
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "a retry is a new attempt with its own id");
}

#[test]
fn a_500_with_no_retries_left_fails_the_run_with_the_status() {
    let server = TestServer::start();
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        &format!(
            "name: failing_http\ntasks:\n  - name: call\n    taskReferenceName: call\n    type: HTTP\n    retryCount: 1\n    retryDelaySeconds: 0\n    inputParameters:\n      uri: \"{}\"\n      method: DELETE\n",
            server.url("/fail")
        ),
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "FAILED");
    assert_eq!(result["failed_task"], "call");
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(reason.contains("DELETE"), "{reason}");
    let hits = server.requests("/fail");
    assert_eq!(hits.len(), 2, "one attempt and one retry");
    assert!(hits.iter().all(|h| h.method == "DELETE"));
}

#[test]
fn a_read_timeout_fails_the_attempt_with_the_timeout_named() {
    let server = TestServer::start();
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        &format!(
            "name: slow_http\ntasks:\n  - name: call\n    taskReferenceName: call\n    type: HTTP\n    inputParameters:\n      http_request: {{uri: \"{}\", method: GET, readTimeOut: 300}}\n",
            server.url("/slow")
        ),
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{result}\n{}", stderr(&out));
    let reason = result["reason"].as_str().unwrap();
    assert!(reason.contains("timed out"), "{reason}");
    assert!(reason.contains("readTimeOut 300 ms"), "{reason}");
    // Journaled times: the attempt ended long before the server's answer (3 s) would have.
    let records = journal_records(&env);
    let at = |event: &str| {
        let record = records.iter().find(|r| r["event"] == event).unwrap();
        chrono::DateTime::parse_from_rfc3339(record["at"].as_str().unwrap()).unwrap()
    };
    let waited = (at("task_failed") - at("http_call_started")).num_milliseconds();
    assert!(
        (300..2500).contains(&waited),
        "the attempt took {waited} ms; the read timeout is 300 ms"
    );
}

#[test]
fn a_refused_connection_fails_the_attempt_with_the_reason() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        &format!(
            "name: nobody_home\ntasks:\n  - name: call\n    taskReferenceName: call\n    type: HTTP\n    inputParameters:\n      uri: http://127.0.0.1:{port}/x\n"
        ),
    );
    let (code, result, _) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 1, "{result}");
    let reason = result["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("GET http://127.0.0.1:{port}/x failed")),
        "{reason}"
    );
}

#[test]
fn an_http_call_in_flight_when_the_process_dies_is_made_again_on_resume() {
    let server = TestServer::start();
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        &format!(
            "name: slow_call\ntasks:\n  - name: call\n    taskReferenceName: call\n    type: HTTP\n    inputParameters:\n      http_request: {{uri: \"{}\", readTimeOut: 10000}}\n",
            server.url("/slow")
        ),
    );
    let out = env.run(&["start", "flow.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first: Child = env
        .cmd(&["resume", &run_id, "--no-agents"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests("/slow").is_empty() {
        assert!(Instant::now() < deadline, "the call was never made");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killed while the call is in flight: only its start is journaled.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        !journal_records(&env)
            .iter()
            .any(|r| r["event"] == "task_completed")
    );
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        server.requests("/slow").len(),
        2,
        "made again: at least once"
    );
    let records = journal_records(&env);
    let started: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "http_call_started")
        .collect();
    assert_eq!(started.len(), 1, "the same attempt, not a new one");
    let completed: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "task_completed")
        .collect();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["task_id"], started[0]["task_id"]);
    assert_eq!(
        completed[0]["output"]["response"]["body"],
        json!({"late": true})
    );
}

/// The visible files of a folder (a kill may leave a writer's dot-named temporary behind).
fn visible(env: &TestEnv, rel: &str) -> Vec<String> {
    files_in(env, rel)
        .into_iter()
        .filter(|name| !name.starts_with('.'))
        .collect()
}

fn event_flow() -> &'static str {
    r#"name: publish
tasks:
  - name: tell_billing
    taskReferenceName: tell_billing
    type: EVENT
    sink: agent:billing
    inputParameters:
      order: ${workflow.input.order}
  - name: announce
    taskReferenceName: announce
    type: EVENT
    sink: conductor:orders
    inputParameters:
      order: ${workflow.input.order}
      what: shipped
  - name: finish
    taskReferenceName: finish
"#
}

#[test]
fn events_go_to_an_agent_inbox_and_a_station_folder_once_across_a_resume() {
    let env = TestEnv::new();
    register(&env, "billing", &[], 1);
    // The last task waits for an agent that answers only when told to.
    let go = Arc::new(AtomicBool::new(false));
    let go2 = go.clone();
    let _worker = FakeAgent::start(&env, "worker", &["finish"], 1, move |_| {
        if go2.load(Ordering::Relaxed) {
            Answer::Completed(json!({"done": true}))
        } else {
            Answer::NotYet
        }
    });
    env.write("flow.yaml", event_flow());
    let out = env.run(&["start", "flow.yaml", "--json", "-i", "order=A7"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run_id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut first = env
        .cmd(&["resume", &run_id, "--no-agents"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while visible(&env, ".3ox/events/publish/orders").is_empty()
        || visible(&env, "agents/billing/1N.3OX").is_empty()
    {
        assert!(Instant::now() < deadline, "the events were never written");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();

    // The agent's inbox holds the event (the worker's inbox holds only the task message).
    let inbox = visible(&env, "agents/billing/1N.3OX");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(inbox[0].ends_with(".event.yaml"));
    let event: Value =
        serde_yaml::from_str(&env.read(&format!("agents/billing/1N.3OX/{}", inbox[0]))).unwrap();
    assert_eq!(event["version"], 1);
    assert_eq!(event["kind"], "event");
    assert_eq!(event["event"], "agent:billing");
    assert_eq!(event["run_id"], run_id.as_str());
    assert_eq!(event["task_ref"], "tell_billing");
    assert_eq!(event["payload"]["order"], "A7");
    assert_eq!(event["payload"]["workflowInstanceId"], run_id.as_str());
    assert_eq!(event["payload"]["workflowType"], "publish");
    assert_eq!(
        format!("{}.event.yaml", event["message_id"].as_str().unwrap()),
        inbox[0]
    );
    // The station folder event.
    let folder = visible(&env, ".3ox/events/publish/orders");
    assert_eq!(folder.len(), 1);
    let station_text = env.read(&format!(".3ox/events/publish/orders/{}", folder[0]));
    let station_event: Value = serde_yaml::from_str(&station_text).unwrap();
    assert_eq!(station_event["event"], "conductor:publish:orders");
    assert_eq!(station_event["payload"]["what"], "shipped");

    // A crash between the journal and the file: the file is written again on resume, under
    // the same name, and the other one is not written twice.
    std::fs::remove_file(
        env.root()
            .join(format!("agents/billing/1N.3OX/{}", inbox[0])),
    )
    .unwrap();
    go.store(true, Ordering::Relaxed);
    let out = output_within(
        env.cmd(&["resume", &run_id, "--no-agents", "--json"]),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(visible(&env, "agents/billing/1N.3OX"), inbox);
    assert_eq!(visible(&env, ".3ox/events/publish/orders"), folder);
    assert_eq!(
        env.read(&format!(".3ox/events/publish/orders/{}", folder[0])),
        station_text
    );
    let records = journal_records(&env);
    let published: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "event_published")
        .collect();
    assert_eq!(published.len(), 2, "each event journaled once");
    // The EVENT task's output, as Conductor has it.
    let done = records
        .iter()
        .find(|r| r["event"] == "task_completed" && r["task_ref"] == "announce")
        .unwrap();
    assert_eq!(done["output"]["event_produced"], "conductor:publish:orders");
    assert_eq!(done["output"]["sink"], "conductor:orders");
    assert_eq!(done["output"]["order"], "A7");
}

#[test]
fn an_event_to_an_agent_the_station_lacks_is_refused_before_the_run() {
    let env = TestEnv::new();
    register(&env, "worker", &["finish"], 1);
    env.write("flow.yaml", event_flow());
    let out = env.run(&["validate", "flow.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("publishes to agent `billing`"), "{text}");
    assert!(text.contains("flow.yaml:6:"), "points at the sink: {text}");
    let out = env.run(&["run", "flow.yaml", "--no-agents"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("publishes to agent `billing`"),
        "{}",
        stderr(&out)
    );
    assert!(!env.root().join(".3ox/runs").exists() || files_in(&env, ".3ox/runs").is_empty());
}

#[test]
fn bad_http_and_event_definitions_are_refused_with_line_and_hint() {
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        r#"name: bad_io
tasks:
  - name: a
    taskReferenceName: a
    type: HTTP
    inputParameters:
      http_request:
        uri: ftp://example.org
        method: FETCH
        readTimeOut: soon
        methd: GET
        headers: {"Bad Name": x}
    asyncComplete: true
  - name: b
    taskReferenceName: b
    type: EVENT
    sink: sqs:orders
  - name: c
    taskReferenceName: c
    type: EVENT
  - name: d
    taskReferenceName: d
    sink: agent:x
"#,
    );
    let out = env.run(&["validate", "flow.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    for expected in [
        "flow.yaml:8:",
        "absolute http:// or https://",
        "flow.yaml:9:",
        "`method` of task `a` must be one of",
        "flow.yaml:10:",
        "`readTimeOut` of task `a`",
        "unknown field `methd`",
        "did you mean `method`?",
        "`Bad Name` in the headers of task `a` is not a valid header name",
        "has no API to complete them from outside",
        "flow.yaml:17:",
        "no `sqs` connection",
        "EVENT task `c` has no `sink`",
        "`sink` only applies to EVENT tasks",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn an_agent_served_type_goes_to_the_agent_that_declares_it() {
    let env = TestEnv::new();
    let llm = FakeAgent::start(&env, "llm", &["LLM_CHAT_COMPLETE"], 1, |message| {
        Answer::Completed(json!({
            "result": format!("Paris ({})", message["input"]["model"].as_str().unwrap_or("?")),
            "type_seen": message["type"],
        }))
    });
    // The shape of Conductor's LLM chat example (corpus 01-chat-completion.json).
    env.write(
        "chat.json",
        r#"{"name": "chat_workflow", "version": 1, "schemaVersion": 2, "tasks": [
  {"name": "chat_task", "taskReferenceName": "chat", "type": "LLM_CHAT_COMPLETE",
   "inputParameters": {"llmProvider": "openai", "model": "gpt-4o-mini",
     "messages": [{"role": "system", "message": "You are a helpful assistant."},
                  {"role": "user", "message": "What is the capital of France?"}],
     "temperature": 0.7, "maxTokens": 500}}]}"#,
    );
    let out = env.run(&["validate", "chat.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let (code, result, out) = env.run_flow("chat.json", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"]["result"], "Paris (gpt-4o-mini)");
    assert_eq!(result["output"]["type_seen"], "LLM_CHAT_COMPLETE");
    let messages = llm.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["type"], "LLM_CHAT_COMPLETE");
    assert_eq!(messages[0]["task"], "chat_task");
    assert_eq!(
        messages[0]["input"]["messages"][1]["message"],
        "What is the capital of France?"
    );
}

#[test]
fn a_type_nobody_serves_is_refused_by_validate_run_and_start() {
    let env = TestEnv::new();
    // An agent that serves the task's *name* does not serve its type.
    register(&env, "other", &["chat_task"], 1);
    env.write(
        "flow.yaml",
        "name: chat\ntasks:\n  - name: chat_task\n    taskReferenceName: chat\n    type: LLM_CHAT_COMPLETE\n    inputParameters: {model: m}\n",
    );
    let out = env.run(&["validate", "flow.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("task `chat` has type LLM_CHAT_COMPLETE, which 3ox does not run itself and no agent of this station serves"),
        "{text}"
    );
    assert!(text.contains("flow.yaml:5:"), "{text}");
    assert!(
        text.contains("add `LLM_CHAT_COMPLETE` to the capabilities"),
        "{text}"
    );
    // Outside any station, the file itself is fine.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("flow.yaml");
    std::fs::copy(env.root().join("flow.yaml"), &copy).unwrap();
    let out = env
        .cmd(&["validate", copy.to_str().unwrap()])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    for args in [
        vec!["run", "flow.yaml", "--no-agents"],
        vec!["start", "flow.yaml"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("LLM_CHAT_COMPLETE"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(
        files_in(&env, ".3ox/runs").is_empty(),
        "nothing was created"
    );
}

#[test]
fn a_worker_leaves_events_in_its_inbox_alone() {
    let env = TestEnv::new();
    env.write(
        "agents/billing/agent.yaml",
        "version: 1\ncapabilities: [bill]\ncommand: [sh, -c, 'cat >/dev/null; echo \"{\\\"billed\\\": true}\"']\n",
    );
    env.write(
        "flow.yaml",
        "name: bill\ntasks:\n  - {name: note, taskReferenceName: note, type: EVENT, sink: 'agent:billing', inputParameters: {order: A7}}\n  - {name: bill, taskReferenceName: bill}\n",
    );
    // The managed worker serves the task while the event sits in the same inbox.
    let out = output_within(
        env.cmd(&["run", "flow.yaml", "--json"]),
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["output"], json!({"billed": true}));
    let inbox = files_in(&env, "agents/billing/1N.3OX");
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert!(inbox[0].ends_with(".event.yaml"));
    assert!(files_in(&env, "agents/billing/1N.3OX/rejected").is_empty());
}

#[test]
fn a_managed_command_serving_a_system_type_is_told_the_type() {
    let env = TestEnv::new();
    env.write(
        "agents/llm/agent.yaml",
        "version: 1\ncapabilities: [LLM_TEXT_COMPLETE]\ncommand: [sh, -c, 'read input; printf \"{\\\"type\\\": \\\"%s\\\", \\\"task\\\": \\\"%s\\\", \\\"input\\\": %s}\" \"$THREEOX_TASK_TYPE\" \"$THREEOX_TASK\" \"$input\"']\n",
    );
    env.write(
        "flow.yaml",
        "name: complete\ntasks:\n  - {name: summarize, taskReferenceName: s, type: LLM_TEXT_COMPLETE, inputParameters: {prompt: hi}}\n",
    );
    let out = output_within(
        env.cmd(&["run", "flow.yaml", "--json"]),
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result["output"],
        json!({"type": "LLM_TEXT_COMPLETE", "task": "summarize", "input": {"prompt": "hi"}})
    );
}

#[test]
fn a_binary_http_response_body_is_kept_whole_as_base64_with_its_content_type() {
    use base64::Engine as _;
    let server = TestServer::start();
    let env = TestEnv::new();
    env.write(
        "flow.yaml",
        &format!(
            "name: png\ntasks:\n  - {{name: get, taskReferenceName: get, type: HTTP, inputParameters: {{http_request: {{uri: \"{}\"}}}}}}\noutputParameters:\n  body: ${{get.output.response.body}}\n",
            server.url("/png")
        ),
    );
    let (code, result, out) = env.run_flow("flow.yaml", &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let body = &result["output"]["body"];
    assert_eq!(body["contentType"], "image/png", "{body}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["base64"].as_str().expect("base64 text"))
        .unwrap();
    assert_eq!(bytes, PNG_BYTES, "the bytes come back exactly");
}
