//! The built-in LLM agent (`llm:` in agent.yaml) against a fake OpenAI-compatible server
//! started by the test: workflows with LLM_CHAT_COMPLETE / LLM_TEXT_COMPLETE run through
//! `3ox agent run llm`, 429 / 5xx are retried (Retry-After honoured), a 400 fails the task
//! for good with the server's message, a timeout fails the attempt; and the corpus's
//! chat-completion and hitl-approval workflows run through it unchanged.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{
    ChildGuard, TestEnv, files_in, journal_records, output_within, stderr, stdout, wait_for,
};

/// One request the fake server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: String,
    pub body: Value,
    pub at: Instant,
}

/// What the fake server answers.
pub struct Canned {
    status: u16,
    body: Value,
    retry_after: Option<&'static str>,
    delay: Duration,
}

impl Canned {
    fn status(status: u16, body: Value) -> Canned {
        Canned {
            status,
            body,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }
}

/// A chat completion with `text` and token counts 12 + 3.
pub fn completion(text: &str) -> Canned {
    Canned::status(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
        }),
    )
}

/// A fake OpenAI-compatible server on 127.0.0.1: `answer(n, body)` says what to answer to
/// the n-th request (0-based); every request is recorded. Stops when dropped.
pub struct FakeLlm {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl FakeLlm {
    pub fn start(answer: impl Fn(usize, &Value) -> Canned + Send + Sync + 'static) -> FakeLlm {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind a local port");
        let port = server.server_addr().to_ip().expect("an ip address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let answer = Arc::new(answer);
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let mut text = String::new();
                let _ = request.as_reader().read_to_string(&mut text);
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let authorization = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let n = {
                    let mut seen = seen2.lock().unwrap();
                    seen.push(Seen {
                        path: request.url().to_string(),
                        authorization,
                        body: body.clone(),
                        at: Instant::now(),
                    });
                    seen.len() - 1
                };
                let canned = answer(n, &body);
                // Answer from its own thread, so a slow answer does not hold up the next.
                std::thread::spawn(move || {
                    std::thread::sleep(canned.delay);
                    let mut response = tiny_http::Response::from_string(canned.body.to_string())
                        .with_status_code(canned.status)
                        .with_header(
                            tiny_http::Header::from_bytes(
                                &b"Content-Type"[..],
                                &b"application/json"[..],
                            )
                            .unwrap(),
                        );
                    if let Some(wait) = canned.retry_after {
                        response = response.with_header(
                            tiny_http::Header::from_bytes(&b"Retry-After"[..], wait.as_bytes())
                                .unwrap(),
                        );
                    }
                    let _ = request.respond(response);
                });
            }
        });
        FakeLlm {
            port,
            seen,
            stop,
            handle: Some(handle),
        }
    }

    /// The API root to put in `llm.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Registers agent `llm` with an `llm:` section pointing at `server` plus `extra` lines.
fn llm_agent(env: &TestEnv, server: &FakeLlm, extra: &str) {
    env.write(
        "agents/llm/agent.yaml",
        &format!(
            "version: 1\ndescription: the built-in LLM agent, against a fake server\n\
             capabilities: [LLM_CHAT_COMPLETE, LLM_TEXT_COMPLETE]\nllm:\n  base_url: {}\n  \
             model: test-model\n  api_key_env: TEST_LLM_KEY\n  retry_backoff: 50ms\n{extra}",
            server.base_url()
        ),
    );
}

/// Starts `3ox agent run llm` with the API key in its environment; its stderr goes to
/// `llm.log` in the station.
fn start_llm(env: &TestEnv) -> ChildGuard {
    let log = std::fs::File::create(env.root().join("llm.log")).unwrap();
    ChildGuard(
        env.cmd(&["agent", "run", "llm"])
            .env("TEST_LLM_KEY", "sk-test")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start 3ox agent run llm"),
    )
}

/// The final replies the agent wrote that 3ox has applied.
fn applied_replies(env: &TestEnv) -> Vec<Value> {
    let dir = "agents/llm/0UT.3OX/done";
    files_in(env, dir)
        .into_iter()
        .filter(|n| n.ends_with(".reply.yaml"))
        .map(|n| serde_yaml::from_str(&env.read(&format!("{dir}/{n}"))).unwrap())
        .collect()
}

fn task_failures(env: &TestEnv) -> Vec<Value> {
    journal_records(env)
        .into_iter()
        .filter(|r| r["event"] == "task_failed")
        .collect()
}

const ONE_CHAT: &str = r#"
name: ask
version: 1
tasks:
  - name: ask_model
    taskReferenceName: ask
    type: LLM_CHAT_COMPLETE
    retryCount: RETRIES
    retryDelaySeconds: 0
    inputParameters:
      messages:
        - {role: user, message: "${workflow.input.question}"}
outputParameters:
  answer: ${ask.output.result}
"#;

fn one_chat(env: &TestEnv, retries: u32) -> String {
    env.write(
        "ask.yaml",
        &ONE_CHAT.replace("RETRIES", &retries.to_string()),
    );
    "ask.yaml".to_string()
}

/// `3ox run` starts the LLM agent by itself (an `llm:` section makes it managed); a chat
/// completion and a text completion from a prompt template run to COMPLETED, with the text,
/// the finish reason and the token usage in the output, and the requests carry Conductor's
/// fields mapped to OpenAI's.
#[test]
fn chat_and_text_completions_run_to_completed_through_the_managed_llm_agent() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|_, body| {
        let last = body["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string();
        if last.contains("capital") {
            completion("Paris")
        } else {
            completion(&format!("echo: {last}"))
        }
    });
    llm_agent(&env, &server, "");
    env.write(
        "agents/llm/prompts/haiku.txt",
        "Write a haiku about ${subject}.",
    );
    env.write(
        "flow.yaml",
        r#"
name: llm_demo
version: 1
tasks:
  - name: chat_task
    taskReferenceName: chat
    type: LLM_CHAT_COMPLETE
    inputParameters:
      llmProvider: openai
      model: gpt-4o-mini
      instructions: You answer in one word.
      messages:
        - {role: system, message: You are a geography teacher.}
        - {role: user, message: "What is the capital of ${workflow.input.country}?"}
      temperature: 0.2
      topP: 0.9
      maxTokens: 50
      stopWords: ["\n\n"]
  - name: text_task
    taskReferenceName: text
    type: LLM_TEXT_COMPLETE
    inputParameters:
      promptName: haiku
      promptVariables: {subject: "${chat.output.result}"}
outputParameters:
  capital: ${chat.output.result}
  finish: ${chat.output.finishReason}
  tokens: ["${chat.output.promptTokens}", "${chat.output.completionTokens}", "${chat.output.tokenUsed}"]
  haiku: ${text.output.result}
"#,
    );
    let mut cmd = env.cmd(&["run", "flow.yaml", "--json", "-i", "country=France"]);
    cmd.env("TEST_LLM_KEY", "sk-test");
    let out = output_within(cmd, Duration::from_secs(60));
    let result: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", stdout(&out), stderr(&out)));
    assert_eq!(result["status"], "COMPLETED", "{result}\n{}", stderr(&out));
    assert_eq!(
        result["output"],
        json!({
            "capital": "Paris",
            "finish": "STOP",
            "tokens": [12, 3, 15],
            "haiku": "echo: Write a haiku about Paris.",
        })
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(seen[0].authorization, "Bearer sk-test");
    assert_eq!(
        seen[0].body,
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "You answer in one word."},
                {"role": "system", "content": "You are a geography teacher."},
                {"role": "user", "content": "What is the capital of France?"},
            ],
            "temperature": 0.2, "top_p": 0.9, "max_tokens": 50, "stop": ["\n\n"],
        })
    );
    assert_eq!(
        seen[1].body["messages"],
        json!([{"role": "user", "content": "Write a haiku about Paris."}])
    );
}

/// A 429 with `Retry-After: 1` and then a 503 are retried within one attempt; the first wait
/// is the server's (1 s, not the 50 ms backoff), and the retries are in the reply's logs.
#[test]
fn a_429_and_a_503_are_retried_and_retry_after_is_honoured() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|n, _| match n {
        0 => Canned {
            retry_after: Some("1"),
            ..Canned::status(429, json!({"error": {"message": "slow down"}}))
        },
        1 => Canned::status(503, json!({"error": "loading model"})),
        _ => completion("fine"),
    });
    llm_agent(&env, &server, "");
    let _agent = start_llm(&env);
    let flow = one_chat(&env, 0);
    let (code, result, out) = env.run_flow(&flow, &["-i", "question=ok?"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"], json!({"answer": "fine"}));
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let first_wait = seen[1].at - seen[0].at;
    assert!(
        first_wait >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured: {first_wait:?}"
    );
    let replies = applied_replies(&env);
    assert_eq!(replies.len(), 1, "{replies:?}");
    let logs: Vec<&str> = replies[0]["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(
        logs[0].starts_with("try 1 of 4: HTTP 429 Too Many Requests")
            && logs[0].contains("slow down")
            && logs[0].ends_with("trying again in 1s"),
        "{logs:?}"
    );
    assert!(
        logs[1].contains("HTTP 503") && logs[1].contains("loading model"),
        "{logs:?}"
    );
    assert!(task_failures(&env).is_empty());
}

/// A 400 fails the task with the server's message and without a retry, although the task
/// allows two.
#[test]
fn a_400_fails_the_task_for_good_with_the_servers_message() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|_, _| {
        Canned::status(
            400,
            json!({"error": {"message": "model 'test-model' not found", "type": "invalid_request_error"}}),
        )
    });
    llm_agent(&env, &server, "");
    let _agent = start_llm(&env);
    let flow = one_chat(&env, 2);
    let (code, result, out) = env.run_flow(&flow, &["-i", "question=hi"]);
    assert_ne!(code, 0, "{result}");
    assert_eq!(result["status"], "FAILED", "{result}\n{}", stderr(&out));
    assert_eq!(server.seen().len(), 1, "a 400 is not retried");
    let failures = task_failures(&env);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let reason = failures[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 400 Bad Request") && reason.contains("model 'test-model' not found"),
        "{reason}"
    );
    assert_eq!(failures[0]["outcome"], "FAILED_WITH_TERMINAL_ERROR");
    assert!(failures[0]["retry_at"].is_null(), "{:?}", failures[0]);
}

/// A server that does not answer within the agent's timeout fails the attempt (FAILED, so
/// the task's retry policy applies): the retry, answered at once, completes the run.
#[test]
fn a_timeout_fails_the_attempt_and_the_tasks_retry_completes_it() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|n, _| match n {
        0 => Canned {
            delay: Duration::from_secs(3),
            ..completion("too late")
        },
        _ => completion("in time"),
    });
    llm_agent(&env, &server, "  timeout: 500ms\n");
    let _agent = start_llm(&env);
    let flow = one_chat(&env, 1);
    let (code, result, out) = env.run_flow(&flow, &["-i", "question=hi"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["output"], json!({"answer": "in time"}));
    let failures = task_failures(&env);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["outcome"], "RETRY_WAIT", "{:?}", failures[0]);
    let reason = failures[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("did not answer within the timeout of 500ms"),
        "{reason}"
    );
    assert_eq!(server.seen().len(), 2);
}

/// A task input the agent cannot use (no messages) fails for good without calling the server.
#[test]
fn a_task_without_messages_fails_for_good_without_a_call() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|_, _| completion("unused"));
    llm_agent(&env, &server, "");
    let _agent = start_llm(&env);
    env.write(
        "empty.yaml",
        "name: empty\nversion: 1\ntasks:\n  - {name: c, taskReferenceName: c, type: LLM_CHAT_COMPLETE, retryCount: 3}\n",
    );
    let (_, result, out) = env.run_flow("empty.yaml", &[]);
    assert_eq!(result["status"], "FAILED", "{result}\n{}", stderr(&out));
    let failures = task_failures(&env);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]["reason"]
            .as_str()
            .unwrap()
            .contains("LLM_CHAT_COMPLETE needs `messages`"),
        "{failures:?}"
    );
    assert!(server.seen().is_empty());
}

/// Corpus file `name`, unchanged, into the station.
fn corpus_file(env: &TestEnv, name: &str) -> String {
    let path = crate::support::conductor_corpus().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    env.write(name, &text);
    name.to_string()
}

/// The corpus's 01-chat-completion runs unchanged through the LLM agent: its `gpt-4o-mini`
/// is replaced by the agent's model, its messages and settings are sent.
#[test]
fn corpus_chat_completion_runs_through_the_llm_agent() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|_, _| completion("The capital of France is Paris."));
    llm_agent(&env, &server, "");
    let _agent = start_llm(&env);
    let flow = corpus_file(&env, "01-chat-completion.json");
    let (code, result, out) = env.run_flow(&flow, &[]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    assert_eq!(result["status"], "COMPLETED");
    // No outputParameters: the run's output is the last task's, Conductor's LLM output.
    assert_eq!(
        result["output"],
        json!({
            "result": "The capital of France is Paris.", "finishReason": "STOP",
            "promptTokens": 12, "completionTokens": 3, "tokenUsed": 15,
        })
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body,
        json!({
            "model": "test-model",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is the capital of France?"},
            ],
            "temperature": 0.7, "max_tokens": 500,
        })
    );
}

/// The corpus's hitl-approval runs unchanged: the LLM agent drafts with `jsonOutput` (the
/// model's JSON becomes `result`), the Commander approves with `3ox complete`, and the
/// approved message from the draft is POSTed.
#[test]
fn corpus_hitl_approval_drafts_through_the_llm_agent_and_delivers_the_approved_draft() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|_, _| {
        completion(
            r#"{"summary": "late parcel", "proposedMessage": "Your parcel ships today.", "riskFlags": []}"#,
        )
    });
    let delivery = crate::corpus_runs::Server::start(|_, _, _| (200, json!({"delivered": true})));
    llm_agent(&env, &server, "");
    env.write("agents/commander/agent.yaml", "version: 1\n");
    let _agent = start_llm(&env);
    let flow = corpus_file(&env, "hitl-approval.json");
    let url = format!("deliveryUrl={}/deliver", delivery.base());
    let mut child = env
        .cmd(&[
            "run",
            &flow,
            "--json",
            "--no-agents",
            "-i",
            "customerId=c-1",
            "-i",
            "conversation=where is my parcel",
            "-i",
            "actionKey=k-1",
            "-i",
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let inbox = "agents/commander/1N.3OX";
    let request: Value = wait_for(Duration::from_secs(30), || {
        files_in(&env, inbox)
            .into_iter()
            .find(|f| f.ends_with(".approval-request.yaml"))
            .map(|f| serde_yaml::from_str(&env.read(&format!("{inbox}/{f}"))).unwrap())
    })
    .expect("the HUMAN task asks the commander after the draft");
    let run_id = request["run_id"].as_str().unwrap().to_string();
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
        result["output"]["draft"],
        json!({"summary": "late parcel", "proposedMessage": "Your parcel ships today.", "riskFlags": []})
    );
    assert_eq!(
        result["output"]["delivery"],
        json!({"status": "sent", "idempotencyKey": "k-1"})
    );
    assert_eq!(
        delivery.seen(),
        [
            r#"POST /deliver {"customerId":"c-1","message":"Your parcel ships today.","approvedBy":"ann"} k-1"#
        ]
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body["response_format"],
        json!({"type": "json_object"})
    );
    assert_eq!(seen[0].body["temperature"], 0.2);
    assert_eq!(
        seen[0].body["messages"][1]["content"],
        "Customer: c-1\nConversation: where is my parcel"
    );
}

/// In a station without an LLM agent, `3ox validate` points at the built-in one.
#[test]
fn validate_without_an_llm_agent_points_at_the_built_in_one() {
    let env = TestEnv::new();
    let flow = corpus_file(&env, "01-chat-completion.json");
    let out = env.run(&["validate", &flow]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .contains("3ox's own LLM agent serves this type: an agent.yaml with an `llm:` section"),
        "{}",
        stdout(&out)
    );
}

/// A call that takes longer than `--heartbeat` sends IN_PROGRESS heartbeats naming the
/// endpoint, and `3ox agent list` shows the agent's endpoint.
#[test]
fn a_slow_answer_sends_heartbeats_and_agent_list_shows_the_endpoint() {
    let env = TestEnv::new();
    let server = FakeLlm::start(|_, _| Canned {
        delay: Duration::from_millis(1500),
        ..completion("slow but fine")
    });
    llm_agent(&env, &server, "");
    let listed = env.run(&["agent", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let llm = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "llm")
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(llm["llm"], server.base_url(), "{llm}");
    assert!(llm["command"].is_null(), "{llm}");
    let log = std::fs::File::create(env.root().join("llm.log")).unwrap();
    let _agent = ChildGuard(
        env.cmd(&["agent", "run", "llm", "--heartbeat", "300ms"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let flow = one_chat(&env, 0);
    let (code, result, out) = env.run_flow(&flow, &["-i", "question=hi"]);
    assert_eq!(code, 0, "{result}\n{}", stderr(&out));
    let dir = "agents/llm/0UT.3OX/done";
    let beats: Vec<Value> = files_in(&env, dir)
        .into_iter()
        .filter(|n| n.contains(".hb-"))
        .map(|n| serde_yaml::from_str(&env.read(&format!("{dir}/{n}"))).unwrap())
        .collect();
    assert!(
        !beats.is_empty(),
        "no heartbeat in {:?}",
        files_in(&env, dir)
    );
    assert_eq!(beats[0]["status"], "IN_PROGRESS");
    let reason = beats[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("the LLM endpoint") && reason.contains("still running"),
        "{reason}"
    );
}

/// A broken `llm:` section is refused with the field named, and so is an agent with both a
/// command and an `llm:` section.
#[test]
fn a_bad_llm_section_is_refused_with_the_field_named() {
    let env = TestEnv::new();
    for (yaml, expected) in [
        ("llm:\n  timeout: soon\n", "llm.timeout"),
        ("llm:\n  base_url: ftp://x\n", "llm.base_url"),
        ("llm:\n  modle: x\n", "modle"),
        (
            "command: [sh, x.sh]\nllm: {}\n",
            "a `command` or an `llm` section, not both",
        ),
    ] {
        env.write("agents/llm/agent.yaml", &format!("version: 1\n{yaml}"));
        let out = env.run(&["agent", "list"]);
        assert_ne!(out.status.code(), Some(0), "{yaml}");
        assert!(stderr(&out).contains(expected), "{yaml}: {}", stderr(&out));
    }
}

/// The LLM agent runs inside 3ox, so it has no process to keep: `mode: persistent` beside an
/// `llm:` section is refused when agent.yaml is read, naming both fields; and
/// `agent run --mode persistent` on an LLM agent is refused before it serves anything.
#[test]
fn persistent_mode_with_an_llm_section_is_refused_naming_both_fields() {
    let env = TestEnv::new();
    let llm = "llm:\n  base_url: http://127.0.0.1:9/v1\n  model: m\n";
    env.write(
        "agents/llm/agent.yaml",
        &format!("version: 1\ncapabilities: [LLM_CHAT_COMPLETE]\nmode: persistent\n{llm}"),
    );
    for args in [&["agent", "list"][..], &["agent", "run", "llm"]] {
        let out = output_within(env.cmd(args), Duration::from_secs(20));
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("agents/llm/agent.yaml")
                && err.contains("`mode: persistent`")
                && err.contains("`llm` section"),
            "{args:?}: {err}"
        );
    }

    env.write(
        "agents/llm/agent.yaml",
        &format!("version: 1\ncapabilities: [LLM_CHAT_COMPLETE]\n{llm}"),
    );
    let out = output_within(
        env.cmd(&["agent", "run", "llm", "--mode", "persistent"]),
        Duration::from_secs(20),
    );
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("`llm:` section") && err.contains("`--mode persistent` does not apply"),
        "{err}"
    );
}
