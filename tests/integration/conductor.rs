//! `3ox conductor register|worker` against a stand-in of Conductor's REST API started by the
//! test (tiny_http on 127.0.0.1, a few handler threads so a long poll does not hold up
//! updates). It implements what 3ox calls, as Conductor's API documentation describes it:
//! `POST /api/token`, `POST /api/metadata/taskdefs`, `PUT /api/metadata/workflow`,
//! `GET /api/tasks/poll/batch/{taskType}`, `POST /api/tasks` and `POST /api/tasks/{id}/log`.

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fake_agent::{Answer, FakeAgent, reply};
use crate::support::{ChildGuard, TestEnv, stderr, wait_for};

/// What the stand-in holds and has received.
#[derive(Default)]
struct Cluster {
    /// Tasks waiting to be polled, by task type.
    queues: HashMap<String, VecDeque<Value>>,
    task_defs: Vec<Value>,
    workflows: Vec<Value>,
    /// TaskResults received with `POST /api/tasks`.
    updates: Vec<Value>,
    /// How many of the next requests to `POST /api/tasks` answer 500.
    fail_updates: u32,
    /// `(keyId, keySecret)` accepted at /api/token; the token it hands out is required then.
    key: Option<(String, String)>,
    /// Polls received, by task type.
    polls: u32,
}

const TOKEN: &str = "tok-123";

struct StandIn {
    url: String,
    state: Arc<Mutex<Cluster>>,
}

impl StandIn {
    fn start(key: Option<(&str, &str)>) -> StandIn {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind a local port"));
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let state = Arc::new(Mutex::new(Cluster {
            key: key.map(|(k, s)| (k.to_string(), s.to_string())),
            ..Cluster::default()
        }));
        for _ in 0..4 {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                while let Ok(mut request) = server.recv() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let token = request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("X-Authorization"))
                        .map(|h| h.value.to_string());
                    let (code, answer) = handle(
                        &state,
                        request.method().as_str(),
                        request.url(),
                        &body,
                        token,
                    );
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"application/json"[..],
                    )
                    .unwrap();
                    let _ = request.respond(
                        tiny_http::Response::from_string(answer.to_string())
                            .with_status_code(code)
                            .with_header(header),
                    );
                }
            });
        }
        StandIn { url, state }
    }

    fn offer(&self, task_type: &str, task: Value) {
        self.state
            .lock()
            .unwrap()
            .queues
            .entry(task_type.to_string())
            .or_default()
            .push_back(task);
    }

    fn updates(&self) -> Vec<Value> {
        self.state.lock().unwrap().updates.clone()
    }

    /// The updates of `task_id` once `n` of them have arrived with a final status.
    fn wait_final(&self, task_id: &str, timeout: Duration) -> Vec<Value> {
        wait_for(timeout, || {
            let of: Vec<Value> = self
                .updates()
                .into_iter()
                .filter(|u| u["taskId"] == task_id)
                .collect();
            of.iter()
                .any(|u| u["status"] != "IN_PROGRESS")
                .then_some(of)
        })
        .unwrap_or_else(|| panic!("no final update of {task_id}; got {:?}", self.updates()))
    }
}

fn handle(
    state: &Mutex<Cluster>,
    method: &str,
    url: &str,
    body: &str,
    token: Option<String>,
) -> (u16, Value) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let needs_token = state.lock().unwrap().key.is_some();
    if path == "/api/token" && method == "POST" {
        let asked: Value = serde_json::from_str(body).unwrap_or_default();
        let cluster = state.lock().unwrap();
        let good = cluster
            .key
            .as_ref()
            .is_some_and(|(k, s)| asked["keyId"] == k.as_str() && asked["keySecret"] == s.as_str());
        return if good {
            (200, json!({"token": TOKEN}))
        } else {
            (
                401,
                json!({"status": 401, "message": "Invalid access key or secret", "retryable": false}),
            )
        };
    }
    if needs_token && token.as_deref() != Some(TOKEN) {
        return (
            401,
            json!({"status": 401, "message": "Token verification failed", "retryable": false}),
        );
    }
    match (method, path) {
        ("POST", "/api/metadata/taskdefs") => {
            let defs: Vec<Value> = serde_json::from_str(body).unwrap();
            state.lock().unwrap().task_defs.extend(defs);
            (200, Value::Null)
        }
        ("PUT", "/api/metadata/workflow") => {
            let defs: Vec<Value> = serde_json::from_str(body).unwrap();
            state.lock().unwrap().workflows.extend(defs);
            (200, json!({}))
        }
        ("POST", "/api/tasks") => {
            let mut cluster = state.lock().unwrap();
            if cluster.fail_updates > 0 {
                cluster.fail_updates -= 1;
                return (
                    500,
                    json!({"status": 500, "message": "Internal error (stand-in)"}),
                );
            }
            let update: Value = serde_json::from_str(body).unwrap();
            let id = update["taskId"].clone();
            cluster.updates.push(update);
            (200, id)
        }
        ("GET", p) if p.starts_with("/api/tasks/poll/batch/") => {
            let task_type = p.trim_start_matches("/api/tasks/poll/batch/").to_string();
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .unwrap_or_default()
                    .to_string()
            };
            let count: usize = param("count").parse().unwrap_or(1);
            let timeout: u64 = param("timeout").parse().unwrap_or(100);
            assert!(!param("workerid").is_empty(), "polls name the worker");
            // A long poll: hold the request until a task is there or the timeout passes.
            let deadline = Instant::now() + Duration::from_millis(timeout.min(2000));
            loop {
                {
                    let mut cluster = state.lock().unwrap();
                    cluster.polls += 1;
                    let queue = cluster.queues.entry(task_type.clone()).or_default();
                    if !queue.is_empty() || Instant::now() >= deadline {
                        let n = count.min(queue.len());
                        let tasks: Vec<Value> = queue.drain(..n).collect();
                        return (200, Value::Array(tasks));
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        _ => (
            404,
            json!({"status": 404, "message": format!("no route {method} {path}")}),
        ),
    }
}

/// A Conductor Task as `poll/batch` returns it.
fn task(id: &str, task_type: &str, input: Value) -> Value {
    json!({
        "taskType": task_type,
        "taskDefName": task_type,
        "status": "IN_PROGRESS",
        "inputData": input,
        "referenceTaskName": format!("{task_type}_ref"),
        "retryCount": 0,
        "seq": 1,
        "pollCount": 1,
        "taskId": id,
        "workflowInstanceId": "wf-1",
        "workflowType": "scaled",
        "callbackAfterSeconds": 0,
        "responseTimeoutSeconds": 3600,
    })
}

/// `3ox conductor worker URL` with stderr in a file; killed when dropped.
fn start_worker(env: &TestEnv, url: &str, extra: &[&str]) -> ChildGuard {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.root().join("worker.log"))
        .unwrap();
    let mut args = vec!["conductor", "worker", url, "--poll-interval", "200ms"];
    args.extend_from_slice(extra);
    ChildGuard(
        env.cmd(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the worker"),
    )
}

const FLOW: &str = r#"
name: scaled
version: 2
tasks:
  - name: check
    taskReferenceName: check_ref
    type: SIMPLE
    agent: checker
    retry: {count: 3, delay: 5s}
    inputParameters:
      folder: ${workflow.input.folder}
  - name: report
    taskReferenceName: report_ref
    type: SIMPLE
"#;

#[test]
fn register_sends_the_exported_workflows_and_their_task_definitions() {
    let env = TestEnv::new();
    env.write("workflows/scaled.yaml", FLOW);
    let server = StandIn::start(Some(("app-key", "app-secret")));

    let out = env.run(&[
        "conductor",
        "register",
        &server.url,
        "--key",
        "app-key",
        "--secret",
        "app-secret",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`agent`"),
        "what is dropped is said: {}",
        stderr(&out)
    );
    let exported = env.run(&["export", "workflows/scaled.yaml", "--format", "conductor"]);
    let exported: Value = serde_json::from_slice(&exported.stdout).unwrap();
    let cluster = server.state.lock().unwrap();
    assert_eq!(cluster.workflows, vec![exported]);
    let names: Vec<&str> = cluster
        .task_defs
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["check", "report"]);
    assert_eq!(cluster.task_defs[0]["retryCount"], 3);
    assert_eq!(cluster.task_defs[0]["retryDelaySeconds"], 5);
    let sent = json!({"taskDefs": cluster.task_defs, "workflows": cluster.workflows});
    drop(cluster);

    // --dry-run prints the same bodies and sends nothing.
    let quiet = StandIn::start(None);
    let out = env.run(&["conductor", "register", &quiet.url, "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, sent);
    assert!(quiet.state.lock().unwrap().workflows.is_empty());
}

#[test]
fn register_with_bad_auth_is_refused_with_the_servers_message() {
    let env = TestEnv::new();
    env.write("workflows/scaled.yaml", FLOW);
    let server = StandIn::start(Some(("app-key", "app-secret")));
    let out = env.run(&[
        "conductor",
        "register",
        &server.url,
        "--key",
        "app-key",
        "--secret",
        "wrong",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Invalid access key or secret"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["conductor", "register", &server.url, "--token", "forged"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Token verification failed"),
        "{}",
        stderr(&out)
    );
    let cluster = server.state.lock().unwrap();
    assert!(cluster.workflows.is_empty() && cluster.task_defs.is_empty());
}

#[test]
fn register_strict_refuses_what_the_cluster_would_drop_and_sends_nothing() {
    let env = TestEnv::new();
    env.write("workflows/scaled.yaml", FLOW);
    let server = StandIn::start(None);
    let out = env.run(&["conductor", "register", &server.url, "--strict"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nothing registered"),
        "{}",
        stderr(&out)
    );
    assert!(server.state.lock().unwrap().workflows.is_empty());
}

#[test]
fn the_worker_serves_conductor_tasks_through_a_file_agent() {
    let env = TestEnv::new();
    let server = StandIn::start(Some(("k", "s")));
    let _agent = FakeAgent::start(&env, "checker", &["check"], 2, |message| {
        let folder = message["input"]["folder"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match folder.as_str() {
            "broken" => Answer::Failed("folder broken has no index".into()),
            "slow" => Answer::Many(vec![
                Answer::Raw(reply(message, "IN_PROGRESS", json!({}), "half way")),
                Answer::Completed(json!({"ok": true, "folder": folder})),
            ]),
            _ => Answer::Completed(json!({"ok": true, "folder": folder})),
        }
    });
    for (id, folder) in [("t1", "a"), ("t2", "broken"), ("t3", "slow")] {
        server.offer("check", task(id, "check", json!({"folder": folder})));
    }
    let _worker = start_worker(&env, &server.url, &["--key", "k", "--secret", "s"]);

    let done = server.wait_final("t1", Duration::from_secs(20));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["status"], "COMPLETED");
    assert_eq!(done[0]["outputData"], json!({"ok": true, "folder": "a"}));
    assert_eq!(done[0]["workflowInstanceId"], "wf-1");

    let failed = server.wait_final("t2", Duration::from_secs(20));
    assert_eq!(failed.last().unwrap()["status"], "FAILED");
    assert_eq!(
        failed.last().unwrap()["reasonForIncompletion"],
        "folder broken has no index"
    );

    let slow = server.wait_final("t3", Duration::from_secs(20));
    let statuses: Vec<&str> = slow.iter().map(|u| u["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["IN_PROGRESS", "COMPLETED"]);
    assert_eq!(slow[0]["callbackAfterSeconds"], 60);
    assert_eq!(slow[0]["logs"][0]["log"], "half way");

    // The messages were task messages as a local run writes them, now archived.
    let done_dir = env.root().join("agents/checker/1N.3OX/done");
    let archived = wait_for(Duration::from_secs(10), || {
        let n = std::fs::read_dir(&done_dir).map(|d| d.count()).unwrap_or(0);
        (n == 3).then_some(n)
    });
    assert_eq!(archived, Some(3));
}

#[test]
fn a_reply_that_fails_the_checks_is_refused_to_the_agent_and_nothing_is_sent() {
    let env = TestEnv::new();
    let server = StandIn::start(None);
    let _agent = FakeAgent::start(&env, "checker", &["check"], 1, |message| {
        let mut forged = message.clone();
        forged["token"] = json!("guessed");
        Answer::Many(vec![
            Answer::Raw(reply(&forged, "COMPLETED", json!({"forged": true}), "")),
            Answer::Completed(json!({"ok": true})),
        ])
    });
    server.offer("check", task("t1", "check", json!({})));
    let _worker = start_worker(&env, &server.url, &[]);
    let updates = server.wait_final("t1", Duration::from_secs(20));
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["outputData"], json!({"ok": true}));
    let rejected = env.root().join("agents/checker/0UT.3OX/rejected");
    let note = wait_for(Duration::from_secs(5), || {
        std::fs::read_dir(&rejected)
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".why.yaml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
    })
    .expect("a note beside the refused reply");
    assert!(note.contains("token"), "{note}");

    // A reply naming a task this worker did not take (a local run's) is left where it is.
    let outbox = env.root().join("agents/checker/0UT.3OX");
    crate::fake_agent::put(
        &outbox,
        "local.reply.yaml",
        "version: 1\ntask_id: 01JLOCALRUNTASK0000000000\ntoken: t\nstatus: COMPLETED\n",
    );
    let said = wait_for(Duration::from_secs(10), || {
        env.read("worker.log")
            .contains("left agents/checker/0UT.3OX/local.reply.yaml alone")
            .then_some(())
    });
    assert!(said.is_some(), "{}", env.read("worker.log"));
    assert!(outbox.join("local.reply.yaml").exists());
}

#[test]
fn a_worker_killed_after_taking_a_task_reports_it_once_after_a_restart() {
    let env = TestEnv::new();
    let server = StandIn::start(None);
    crate::fake_agent::register(&env, "checker", &["check"], 1);
    server.offer("check", task("t1", "check", json!({"folder": "a"})));
    let mut worker = start_worker(&env, &server.url, &[]);
    let inbox = env.root().join("agents/checker/1N.3OX");
    let message = wait_for(Duration::from_secs(20), || {
        crate::fake_agent::visible_yaml(&inbox).into_iter().next()
    })
    .expect("the task is delivered");
    worker.0.kill().unwrap();
    worker.0.wait().unwrap();

    // The agent answers while no worker runs.
    let text = std::fs::read_to_string(&message).unwrap();
    let message_value: Value = serde_yaml::from_str(&text).unwrap();
    crate::fake_agent::put(
        &env.root().join("agents/checker/0UT.3OX"),
        "answer.yaml",
        &reply(&message_value, "COMPLETED", json!({"n": 1}), ""),
    );
    let _worker = start_worker(&env, &server.url, &[]);
    let updates = server.wait_final("t1", Duration::from_secs(20));
    assert_eq!(updates.len(), 1);
    // A second task goes through after it: had t1 been reported twice, it would show by then.
    let _agent = FakeAgent::start(&env, "checker", &["check"], 1, |_| {
        Answer::Completed(json!({}))
    });
    server.offer("check", task("t2", "check", json!({})));
    server.wait_final("t2", Duration::from_secs(20));
    let of_t1 = server
        .updates()
        .into_iter()
        .filter(|u| u["taskId"] == "t1")
        .count();
    assert_eq!(of_t1, 1);
    let ledger = env.read(&format!(
        ".3ox/conductor/tasks/{}.yaml",
        message_value["task_id"].as_str().unwrap()
    ));
    assert!(ledger.contains("state: reported"), "{ledger}");
}

#[test]
fn a_server_answering_500_is_tried_again_with_backoff_and_nothing_is_lost() {
    let env = TestEnv::new();
    let server = StandIn::start(None);
    server.state.lock().unwrap().fail_updates = 2;
    let _agent = FakeAgent::start(&env, "checker", &["check"], 1, |_| {
        Answer::Completed(json!({"ok": true}))
    });
    server.offer("check", task("t1", "check", json!({})));
    let _worker = start_worker(&env, &server.url, &[]);
    let updates = server.wait_final("t1", Duration::from_secs(20));
    assert_eq!(updates.len(), 1);
    let log = env.read("worker.log");
    assert!(
        log.contains("the server answered 500") && log.contains("trying again in"),
        "{log}"
    );
}

#[test]
fn a_worker_with_a_refused_key_says_the_servers_message_and_stops() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "checker", &["check"], 1);
    let server = StandIn::start(Some(("k", "s")));
    let out = crate::support::output_within(
        env.cmd(&[
            "conductor",
            "worker",
            &server.url,
            "--key",
            "k",
            "--secret",
            "bad",
        ]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Invalid access key or secret"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_worker_refuses_an_agent_the_station_does_not_have() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "checker", &["check"], 1);
    let out = env.run(&[
        "conductor",
        "worker",
        "http://127.0.0.1:9",
        "--agent",
        "nobody",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no agent `nobody`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_server_is_said_on_stderr_and_the_worker_goes_on() {
    let env = TestEnv::new();
    crate::fake_agent::register(&env, "checker", &["check"], 1);
    // A port nobody listens on: bind one, note it, free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _worker = start_worker(&env, &format!("http://127.0.0.1:{port}"), &[]);
    let said = wait_for(Duration::from_secs(20), || {
        let log = std::fs::read_to_string(env.root().join("worker.log")).unwrap_or_default();
        (log.contains("cannot reach the server") && log.matches("trying again in").count() >= 2)
            .then_some(log)
    });
    assert!(said.is_some(), "{}", env.read("worker.log"));
}

#[test]
fn agents_run_by_3ox_agent_run_serve_the_cluster_unchanged() {
    let env = TestEnv::new();
    env.write(
        "agents/echoer/agent.yaml",
        "version: 1\ncapabilities: [echo]\ncommand: cat\n",
    );
    env.write(
        "agents/breaker/agent.yaml",
        "version: 1\ncapabilities: [break]\ncommand: 'echo no disk left >&2; exit 3'\n",
    );
    let server = StandIn::start(None);
    server.offer("echo", task("e1", "echo", json!({"folder": "a", "n": 2})));
    server.offer("break", task("b1", "break", json!({})));
    let agents: Vec<ChildGuard> = ["echoer", "breaker"]
        .iter()
        .map(|agent| {
            ChildGuard(
                env.cmd(&["agent", "run", agent])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start 3ox agent run"),
            )
        })
        .collect();
    let _worker = start_worker(&env, &server.url, &[]);
    let echoed = server.wait_final("e1", Duration::from_secs(30));
    assert_eq!(echoed.last().unwrap()["status"], "COMPLETED");
    assert_eq!(
        echoed.last().unwrap()["outputData"],
        json!({"folder": "a", "n": 2})
    );
    let broke = server.wait_final("b1", Duration::from_secs(30));
    let last = broke.last().unwrap();
    assert_eq!(last["status"], "FAILED");
    let reason = last["reasonForIncompletion"].as_str().unwrap();
    assert!(
        reason.contains("exit code 3") && reason.contains("no disk left"),
        "{reason}"
    );
    drop(agents);
}
