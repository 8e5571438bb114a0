//! HTTP: a real HTTP call, made by the orchestrator; output as Conductor has it.
//!
//! The engine stays pure. The first walk over an HTTP task resolves its input, reads the
//! request from it ([`parse_request`]: Conductor's `http_request` object, or the same fields
//! flat in `inputParameters`) and journals `http_call_started` with a new task id and the
//! attempt number. The orchestrator then makes the call off the actor's thread
//! (`orchestrator::http`) and feeds the result back as [`crate::engine::Input::HttpResult`];
//! [`on_result`] turns it into `task_completed` (a 2xx status) or `task_failed` (any other
//! status, or a transport error such as a refused connection or a timeout), which the task's
//! retry policy may retry as a new attempt with a new task id.
//!
//! A call whose result was never journaled (the process died while it was in flight) is made
//! again when the run is resumed: HTTP calls are at least once. A result for an attempt that
//! is no longer the current one (the task was skipped, retried by a person, or the run ended)
//! changes nothing.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::definition::TaskDef;
use crate::engine::state::{RunState, RunStatus, TaskStatus};
use crate::engine::walk::{Progress, Walker, failure_of};
use crate::engine::{Change, Ctx, emit, retry};

/// The HTTP methods an HTTP task may use (Conductor's list).
pub const METHODS: &[&str] = &[
    "GET", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE",
];

/// Fields of a request, nested in `http_request` or flat in `inputParameters`.
pub const REQUEST_FIELDS: &[&str] = &[
    "uri",
    "method",
    "headers",
    "body",
    "contentType",
    "accept",
    "connectionTimeOut",
    "readTimeOut",
];

/// Conductor request fields 3ox accepts and ignores (service discovery, encoding flags).
pub const IGNORED_REQUEST_FIELDS: &[&str] = &["vipAddress", "appName", "encode", "asyncComplete"];

/// The connection timeout when the request sets none (Conductor's 100 ms is too short for
/// most real services; write `connectionTimeOut: 100` to get it).
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// The read timeout when the request sets none (Conductor's is 150 ms).
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 60_000;

/// One HTTP request, read from a task's resolved input and journaled as it will be sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    pub uri: String,
    pub method: String,
    /// Extra headers, in order; values are text (numbers and mappings are written as JSON).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// The body: text is sent as it is, anything else as JSON. Null: no body.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub body: Value,
    pub content_type: String,
    pub accept: String,
    /// Milliseconds to establish the connection; 0 means no limit.
    pub connection_time_out: u64,
    /// Milliseconds to wait for the response (headers, then body); 0 means no limit.
    pub read_time_out: u64,
}

/// What became of a call: a response (any status), or no response at all.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpOutcome {
    Response(HttpResponse),
    /// The call could not be made or did not finish: refused connection, unknown host,
    /// timeout, a body too large. Retried by the task's policy.
    Error(String),
    /// The request itself cannot be sent (a header name that is not a valid name, say): no
    /// attempt would do better, so the task fails without retries.
    Invalid(String),
}

/// An HTTP response as Conductor reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    pub status_code: u16,
    pub reason_phrase: String,
    /// Header values by name (lower case), as lists: a header may come more than once.
    pub headers: IndexMap<String, Vec<String>>,
    /// The body parsed as JSON when it is JSON, else the text; null when empty; a body that is
    /// not UTF-8 text is `{contentType, base64}` (see [`HttpResponse::parse_body`]).
    pub body: Value,
}

impl HttpResponse {
    /// The task output: `{response: {statusCode, reasonPhrase, headers, body}}`.
    pub fn output(&self) -> Value {
        json!({ "response": self })
    }

    /// The body as Conductor reads it: JSON when it parses, else the text; null when empty.
    /// Bytes that are not UTF-8 text (an image, an archive) are kept whole rather than
    /// mangled into text: `{contentType: <the Content-Type header, else
    /// application/octet-stream>, base64: <standard base64 of the bytes>}`.
    pub fn parse_body(bytes: &[u8], content_type: Option<&str>) -> Value {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Value::Null;
        }
        // JSON nested so deep that the task output (`response.body`, two levels more) would
        // pass [`crate::mailbox::limits::MAX_NESTING_DEPTH`] is kept as text, so the journal
        // reads back.
        if let Ok(json) = serde_json::from_slice::<Value>(bytes)
            && crate::mailbox::limits::depth(&json) + 2 <= crate::mailbox::limits::MAX_NESTING_DEPTH
        {
            return json;
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => {
                use base64::Engine as _;
                json!({
                    "contentType": content_type.unwrap_or("application/octet-stream"),
                    "base64": base64::engine::general_purpose::STANDARD.encode(bytes),
                })
            }
        }
    }
}

/// Reads the request of an HTTP task from its resolved input: `http_request` when present,
/// else the same fields flat in the input. The error says what is wrong.
pub fn parse_request(input: &Value) -> Result<HttpRequest, String> {
    let spec = match input.get("http_request") {
        Some(Value::Object(spec)) => spec,
        Some(other) => {
            return Err(format!(
                "`http_request` must be a mapping with uri and method, not {}",
                kind_of(other)
            ));
        }
        None => match input.as_object() {
            Some(flat) => flat,
            None => return Err("the task has no input; give `uri` and `method`".into()),
        },
    };
    let uri = match spec.get("uri") {
        Some(Value::String(uri)) if !uri.trim().is_empty() => uri.trim().to_string(),
        Some(other) => return Err(format!("`uri` must be text, not {}", kind_of(other))),
        None => return Err("the request has no `uri`".into()),
    };
    check_uri(&uri)?;
    let method = match spec.get("method") {
        None | Some(Value::Null) => "GET".to_string(),
        Some(Value::String(m)) => m.trim().to_ascii_uppercase(),
        Some(other) => return Err(format!("`method` must be text, not {}", kind_of(other))),
    };
    if !METHODS.contains(&method.as_str()) {
        return Err(format!(
            "`{method}` is not an HTTP method 3ox sends; use one of {}",
            METHODS.join(", ")
        ));
    }
    let mut headers = IndexMap::new();
    match spec.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                if !is_header_name(name) {
                    return Err(format!("`{name}` is not a valid header name"));
                }
                let text = match value {
                    Value::Null => continue,
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                headers.insert(name.clone(), text);
            }
        }
        Some(other) => {
            return Err(format!(
                "`headers` must be a mapping of names to values, not {}",
                kind_of(other)
            ));
        }
    }
    let text = |field: &str, default: &str| match spec.get(field) {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("`{field}` must be text, not {}", kind_of(other))),
    };
    Ok(HttpRequest {
        uri,
        method,
        headers,
        body: spec.get("body").cloned().unwrap_or(Value::Null),
        content_type: text("contentType", "application/json")?,
        accept: text("accept", "application/json")?,
        connection_time_out: millis(spec.get("connectionTimeOut"), DEFAULT_CONNECT_TIMEOUT_MS)
            .map_err(|e| format!("`connectionTimeOut` {e}"))?,
        read_time_out: millis(spec.get("readTimeOut"), DEFAULT_READ_TIMEOUT_MS)
            .map_err(|e| format!("`readTimeOut` {e}"))?,
    })
}

/// Only absolute http and https addresses are called.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let lower = uri.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(format!(
            "`uri` must be an absolute http:// or https:// address, not `{uri}`"
        )),
    }
}

/// A timeout in milliseconds: a whole number >= 0 (or such a number as text, which is what a
/// `${...}` reference gives), or the default when absent.
pub fn millis(value: Option<&Value>, default: u64) -> Result<u64, String> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| format!("must be a whole number of milliseconds >= 0, not {n}")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("must be a whole number of milliseconds >= 0, not `{s}`")),
        Some(other) => Err(format!(
            "must be a whole number of milliseconds >= 0, not {}",
            kind_of(other)
        )),
    }
}

/// True for a valid HTTP header name (an RFC 9110 token).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    let Some(current) = w.state.tasks.get(task_ref) else {
        return start(w, task, 1);
    };
    match current.status {
        // (A CANCELED task's run has ended: no walk reaches it until a retry resets it.)
        TaskStatus::Scheduled | TaskStatus::InProgress | TaskStatus::Canceled => Progress::Pending,
        TaskStatus::RetryWait => {
            if current.retry_at.is_none_or(|at| at <= w.ctx.now) {
                let next = current.attempt + 1;
                start(w, task, next)
            } else {
                Progress::Pending
            }
        }
        TaskStatus::Completed | TaskStatus::CompletedWithErrors | TaskStatus::Skipped => {
            Progress::Done
        }
        TaskStatus::Failed | TaskStatus::FailedWithTerminalError | TaskStatus::TimedOut => {
            Progress::Failed(failure_of(task_ref, current.reason.as_deref()))
        }
    }
}

/// Journals the start of attempt `attempt`; a request that cannot be read fails the task
/// (no attempt would do better).
fn start(w: &mut Walker<'_, '_, '_>, task: &TaskDef, attempt: u32) -> Progress {
    // The id is chosen before the input is resolved, ready for `${CPEWF_TASK_ID}` (the
    // task's own id, a natural idempotency key) once mapping resolves it.
    let task_id = (w.ctx.new_id)().to_string();
    let input = w.resolve_input(task);
    let request = match parse_request(&input) {
        Ok(request) => request,
        Err(problem) => {
            return w.fail_system_task(task, format!("the HTTP request is not usable: {problem}"));
        }
    };
    w.emit(Change::HttpCallStarted {
        task_ref: task.task_reference_name.clone(),
        task_id,
        attempt,
        input,
        request,
    });
    Progress::Pending
}

/// Applies the result of the call made for `task_id`: completion for a 2xx status, a failed
/// attempt (retried by the task's policy) for any other status or a transport error. A result
/// for an attempt that is no longer in flight changes nothing.
pub fn on_result(
    state: &mut RunState,
    out: &mut Vec<Change>,
    ctx: &mut Ctx<'_>,
    task_id: String,
    outcome: HttpOutcome,
) {
    if state.status != RunStatus::Running {
        return;
    }
    let Some((task_ref, attempt)) = state.task_ids.get(&task_id).cloned() else {
        return;
    };
    let Some(task) = state.tasks.get(&task_ref) else {
        return;
    };
    if task.task_id.as_deref() != Some(task_id.as_str()) || !task.status.is_in_flight() {
        return;
    }
    let (method, uri) = state
        .http_calls
        .get(&task_ref)
        .map(|c| (c.request.method.clone(), c.request.uri.clone()))
        .unwrap_or_default();
    let outcome_kind = match &outcome {
        HttpOutcome::Invalid(_) => OutcomeKind::Invalid,
        _ => OutcomeKind::Other,
    };
    let change = match outcome {
        HttpOutcome::Response(response) if (200..300).contains(&response.status_code) => {
            Change::TaskCompleted {
                task_ref,
                task_id: Some(task_id),
                input: None,
                output: response.output(),
            }
        }
        HttpOutcome::Response(response) => {
            let reason = format!(
                "HTTP {} {} from {method} {uri}",
                response.status_code, response.reason_phrase
            );
            let def = state.def(&task_ref);
            retry::failure(
                def.as_deref(),
                &task_ref,
                Some(task_id),
                reason,
                false,
                attempt,
                response.output(),
                ctx,
            )
        }
        HttpOutcome::Error(problem) | HttpOutcome::Invalid(problem) => {
            let terminal = matches!(outcome_kind, OutcomeKind::Invalid);
            let reason = format!("{method} {uri} failed: {problem}");
            let def = state.def(&task_ref);
            retry::failure(
                def.as_deref(),
                &task_ref,
                Some(task_id),
                reason,
                terminal,
                attempt,
                Value::Null,
                ctx,
            )
        }
    };
    emit(state, out, change, ctx.now);
}

enum OutcomeKind {
    Invalid,
    Other,
}

/// The call in flight (or last made) for one HTTP task, kept in the run state so a resumed
/// run can make it again.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    pub task_id: String,
    pub attempt: u32,
    pub request: HttpRequest,
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::engine::Input;
    use crate::engine::testkit::{self, Driver};

    /// A run of the pure engine with a fake clock and counted ids, recording every change.
    type Sim = testkit::Sim<Http>;
    struct Http;

    impl Sim {
        /// A run of `flow` with these agents (serving nothing, one task at a time).
        fn start(flow: &str, agents: &[&str]) -> Sim {
            let agents: Vec<_> = agents.iter().map(|name| (*name, &[][..], 1)).collect();
            let agents = testkit::agents(&agents);
            let input = json!({"n": 5});
            Sim::new(Driver::start(testkit::workflow(flow), input, agents))
        }

        fn call_of(&self, task_ref: &str) -> HttpCall {
            self.state.http_calls[task_ref].clone()
        }

        fn respond(&mut self, task_id: &str, status: u16, body: Value) -> Vec<Change> {
            self.input(Input::HttpResult {
                task_id: task_id.into(),
                outcome: HttpOutcome::Response(HttpResponse {
                    status_code: status,
                    reason_phrase: "Reason".into(),
                    headers: IndexMap::new(),
                    body,
                }),
            })
        }
    }

    const FLOW: &str = "name: f\ntasks:\n  - name: call\n    taskReferenceName: call\n    type: HTTP\n    retry: {count: 1, delay: 2s}\n    inputParameters:\n      http_request: {uri: \"http://h/${workflow.input.n}\", method: post, body: {n: \"${workflow.input.n}\"}}\n";

    #[test]
    fn a_call_is_journaled_then_its_2xx_result_completes_the_task() {
        let mut sim = Sim::start(FLOW, &[]);
        let call = sim.call_of("call");
        assert_eq!(call.attempt, 1);
        assert_eq!(call.request.uri, "http://h/5");
        assert_eq!(call.request.method, "POST");
        assert_eq!(call.request.body, json!({"n": 5}));
        assert!(sim.state.tasks["call"].status.is_in_flight());
        assert_eq!(
            sim.state.next_wakeup(),
            None,
            "no timer: the result wakes the run"
        );
        let changes = sim.respond(&call.task_id, 200, json!({"ok": 1}));
        assert!(matches!(&changes[0], Change::TaskCompleted { output, .. }
            if output["response"]["body"] == json!({"ok": 1}) && output["response"]["statusCode"] == 200));
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(sim.replayed(), sim.state);
    }

    #[test]
    fn a_failed_status_is_retried_as_a_new_attempt_at_its_time() {
        let mut sim = Sim::start(FLOW, &[]);
        let first = sim.call_of("call");
        sim.respond(&first.task_id, 503, json!("busy"));
        let task = &sim.state.tasks["call"];
        assert_eq!(task.status, TaskStatus::RetryWait);
        assert!(
            task.reason
                .as_deref()
                .unwrap()
                .contains("HTTP 503 Reason from POST http://h/5")
        );
        assert_eq!(task.output["response"]["body"], "busy");
        assert_eq!(
            sim.state.next_wakeup(),
            Some(sim.now + Duration::seconds(2))
        );
        assert!(sim.input(Input::Tick).is_empty(), "not due yet");
        sim.now += Duration::seconds(2);
        sim.input(Input::Tick);
        let second = sim.call_of("call");
        assert_eq!(second.attempt, 2);
        assert_ne!(second.task_id, first.task_id);
        // The first attempt's late result changes nothing.
        assert!(sim.respond(&first.task_id, 200, json!({})).is_empty());
        sim.input(Input::HttpResult {
            task_id: second.task_id.clone(),
            outcome: HttpOutcome::Error("connection refused".into()),
        });
        assert_eq!(sim.state.status, RunStatus::Failed);
        let reason = &sim.failure_reason();
        assert!(
            reason.contains("POST http://h/5 failed: connection refused"),
            "{reason}"
        );
        assert_eq!(sim.state.retries, 1);
        assert_eq!(sim.replayed(), sim.state);
    }

    #[test]
    fn a_request_that_cannot_be_sent_fails_without_retries() {
        let mut sim = Sim::start(FLOW, &[]);
        let call = sim.call_of("call");
        sim.input(Input::HttpResult {
            task_id: call.task_id,
            outcome: HttpOutcome::Invalid("bad header name".into()),
        });
        assert_eq!(
            sim.state.tasks["call"].status,
            TaskStatus::FailedWithTerminalError
        );
        assert_eq!(sim.state.status, RunStatus::Failed);
        assert_eq!(sim.replayed(), sim.state);
    }

    #[test]
    fn the_io_changes_read_back_from_a_journal_as_written() {
        let mut sim = Sim::start(FLOW, &[]);
        let call = sim.call_of("call");
        sim.respond(
            &call.task_id,
            200,
            json!({"text": "a\u{2028}b", "n": [1, 2]}),
        );
        let flow = "name: e\ntasks:\n  - {name: t, taskReferenceName: t, type: EVENT, sink: 'conductor:q', inputParameters: {k: v}}\n";
        let events = Sim::start(flow, &[]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal.yaml");
        let mut journal =
            crate::journal::Journal::create(&path, crate::mailbox::atomic::Durability::Relaxed)
                .unwrap();
        let changes: Vec<Change> = sim
            .log
            .iter()
            .chain(events.log.iter())
            .map(|(c, _)| c.clone())
            .collect();
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::HttpCallStarted { .. }))
        );
        assert!(
            changes
                .iter()
                .any(|c| matches!(c, Change::EventPublished { .. }))
        );
        journal.append("RUN", sim.now, changes.clone()).unwrap();
        let read: Vec<Change> = crate::journal::read(&path)
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.change)
            .collect();
        assert_eq!(read, changes);
    }

    #[test]
    fn header_names_are_checked() {
        assert!(is_header_name("Idempotency-Key"));
        assert!(!is_header_name("Bad Name"));
        assert!(!is_header_name(""));
        assert!(!is_header_name("a:b"));
    }

    #[test]
    fn an_unusable_request_fails_the_task_without_a_call() {
        let flow = "name: f\ntasks:\n  - name: call\n    taskReferenceName: call\n    type: HTTP\n    inputParameters: {uri: \"${workflow.input.missing}\"}\n";
        let sim = Sim::start(flow, &[]);
        assert!(sim.state.http_calls.is_empty());
        assert_eq!(sim.state.status, RunStatus::Failed);
        assert!(sim.failure_reason().contains("not usable"));
    }

    #[test]
    fn an_event_is_journaled_with_its_payload_and_completes_at_once() {
        let flow = "name: f\ntasks:\n  - name: tell\n    taskReferenceName: tell\n    type: EVENT\n    sink: agent:billing\n    inputParameters: {n: \"${workflow.input.n}\"}\n";
        let sim = Sim::start(flow, &["billing"]);
        assert_eq!(sim.state.status, RunStatus::Completed);
        let (_, event) = sim.state.events.first().unwrap();
        assert_eq!(
            event.target,
            crate::engine::tasks::event::EventTarget::Agent {
                name: "billing".into()
            }
        );
        assert_eq!(event.payload["n"], 5);
        assert_eq!(event.payload["workflowInstanceId"], "RUN");
        let output = &sim.state.tasks["tell"].output;
        assert_eq!(output["event_produced"], "agent:billing");
        assert_eq!(output["message_id"], json!(event.message_id));
        assert_eq!(sim.replayed(), sim.state);
        // Without the agent the task fails with the reason.
        let sim = Sim::start(flow, &[]);
        assert_eq!(sim.state.status, RunStatus::Failed);
        assert!(sim.state.events.is_empty());
    }

    #[test]
    fn the_nested_form_is_read_with_defaults() {
        let input = json!({"http_request": {"uri": "http://localhost:8080/x", "method": "post",
            "headers": {"X-Count": 3, "X-Name": "a", "X-Skip": null}, "body": {"a": 1}}});
        let request = parse_request(&input).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.uri, "http://localhost:8080/x");
        assert_eq!(request.headers["X-Count"], "3");
        assert_eq!(request.headers["X-Name"], "a");
        assert!(!request.headers.contains_key("X-Skip"));
        assert_eq!(request.body, json!({"a": 1}));
        assert_eq!(request.content_type, "application/json");
        assert_eq!(request.connection_time_out, DEFAULT_CONNECT_TIMEOUT_MS);
        assert_eq!(request.read_time_out, DEFAULT_READ_TIMEOUT_MS);
    }

    #[test]
    fn the_flat_form_is_read_and_timeouts_may_be_text() {
        let input =
            json!({"uri": "https://example.org", "connectionTimeOut": "250", "readTimeOut": 0});
        let request = parse_request(&input).unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.connection_time_out, 250);
        assert_eq!(request.read_time_out, 0);
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let cases = [
            (json!({}), "no `uri`"),
            (json!({"uri": "localhost:80"}), "absolute http"),
            (
                json!({"uri": "http://x", "method": "FETCH"}),
                "not an HTTP method",
            ),
            (
                json!({"uri": "http://x", "headers": [1]}),
                "`headers` must be a mapping",
            ),
            (
                json!({"uri": "http://x", "readTimeOut": -1}),
                "`readTimeOut` must be",
            ),
            (
                json!({"http_request": "x"}),
                "`http_request` must be a mapping",
            ),
        ];
        for (input, expected) in cases {
            let err = parse_request(&input).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }

    #[test]
    fn bodies_nested_too_deep_for_the_journal_are_kept_as_text() {
        let deep = format!("{}{}", "[".repeat(63), "]".repeat(63));
        assert_eq!(
            HttpResponse::parse_body(deep.as_bytes(), None),
            Value::String(deep.clone())
        );
        let fits = format!("{}{}", "[".repeat(62), "]".repeat(62));
        assert!(HttpResponse::parse_body(fits.as_bytes(), None).is_array());
    }

    #[test]
    fn bodies_are_parsed_as_json_when_they_are_json() {
        assert_eq!(
            HttpResponse::parse_body(br#"{"a":[1]}"#, None),
            json!({"a": [1]})
        );
        assert_eq!(
            HttpResponse::parse_body(b"plain text", None),
            json!("plain text")
        );
        assert_eq!(HttpResponse::parse_body(b"  ", None), Value::Null);
    }
}
