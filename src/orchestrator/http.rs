//! HTTP tasks: the calls themselves, made off the run actor's thread.
//!
//! When `http_call_started` is journaled, [`HttpCalls::start`] runs the call on a thread of
//! its own with a blocking client (`ureq`: http and https, rustls) and sends the outcome to
//! the actor's channel; the actor feeds it to the engine as
//! [`crate::engine::Input::HttpResult`], and the engine journals completion or failure. A run
//! resumed after a crash starts again every call whose result is not in the journal
//! ([`HttpCalls::start`] from `recover_io`): calls are made at least once, so a service that
//! must not act twice should honour an idempotency key (send one in `headers`).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::engine::tasks::http::{HttpOutcome, HttpRequest, HttpResponse};

/// Largest response body read; a larger one fails the attempt (the body is journaled).
pub const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// A finished call.
#[derive(Debug)]
pub struct HttpDone {
    pub task_id: String,
    pub outcome: HttpOutcome,
}

/// Calls one run makes at once; more wait in line (a wide fork of HTTP tasks does not open
/// a thread and a connection per task at the same moment).
pub const MAX_CONCURRENT_CALLS: usize = 32;

/// The calls one run actor has under way, and the channel their outcomes come back on.
pub struct HttpCalls {
    tx: mpsc::UnboundedSender<HttpDone>,
    rx: Option<mpsc::UnboundedReceiver<HttpDone>>,
    /// Task ids whose call was started (or queued) by this actor: each is made once per actor.
    started: HashSet<String>,
    /// Calls under way.
    running: usize,
    /// Calls waiting for one under way to finish.
    waiting: VecDeque<(String, HttpRequest)>,
}

impl Default for HttpCalls {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        HttpCalls {
            tx,
            rx: Some(rx),
            started: HashSet::new(),
            running: 0,
            waiting: VecDeque::new(),
        }
    }
}

impl HttpCalls {
    /// The channel the outcomes arrive on (taken once, by the actor's loop).
    pub fn results(&mut self) -> mpsc::UnboundedReceiver<HttpDone> {
        match self.rx.take() {
            Some(rx) => rx,
            None => {
                let (tx, rx) = mpsc::unbounded_channel();
                self.tx = tx;
                rx
            }
        }
    }

    /// Starts the call for attempt `task_id` on a thread of its own, unless this actor already
    /// did. Only a driver (inside the tokio runtime) makes calls; a command applying an
    /// operation to a run nobody drives leaves the call to the next driver, which makes it on
    /// resume. A plain thread, not tokio's blocking pool: a call still under way when the
    /// driver stops (Ctrl-C) must not hold the process up until its timeout; the journal
    /// still says "in flight", so the next driver makes it again.
    pub fn start(&mut self, task_id: &str, request: &HttpRequest) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if !self.started.insert(task_id.to_string()) {
            return;
        }
        if self.running >= MAX_CONCURRENT_CALLS {
            self.waiting
                .push_back((task_id.to_string(), request.clone()));
            return;
        }
        self.spawn(task_id.to_string(), request.clone());
    }

    /// A call's outcome arrived: the next waiting call (if any) starts.
    pub fn finished(&mut self) {
        self.running = self.running.saturating_sub(1);
        if let Some((task_id, request)) = self.waiting.pop_front() {
            self.spawn(task_id, request);
        }
    }

    fn spawn(&mut self, task_id: String, request: HttpRequest) {
        self.running += 1;
        let tx = self.tx.clone();
        let (failed_tx, failed_id) = (tx.clone(), task_id.clone());
        let spawned = std::thread::Builder::new()
            .name("3ox-http".into())
            .spawn(move || {
                let outcome = call(&request);
                let _ = tx.send(HttpDone { task_id, outcome });
            });
        if let Err(problem) = spawned {
            let _ = failed_tx.send(HttpDone {
                task_id: failed_id,
                outcome: HttpOutcome::Error(format!(
                    "cannot start a thread for the call: {problem}"
                )),
            });
        }
    }
}

/// Makes one HTTP call and waits for its outcome.
pub fn call(request: &HttpRequest) -> HttpOutcome {
    let limit = |ms: u64| (ms > 0).then(|| Duration::from_millis(ms));
    let connect = limit(request.connection_time_out);
    let read = limit(request.read_time_out);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_resolve(connect)
        .timeout_connect(connect)
        .timeout_recv_response(read)
        .timeout_recv_body(read)
        .user_agent(concat!("3ox/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut builder = ureq::http::Request::builder()
        .method(request.method.as_str())
        .uri(request.uri.as_str());
    let has = |name: &str| request.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    let body: Option<Vec<u8>> = match &request.body {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text.clone().into_bytes()),
        other => Some(serde_json::to_vec(other).unwrap_or_default()),
    };
    if body.is_some() && !has("content-type") {
        builder = builder.header("Content-Type", request.content_type.as_str());
    }
    if !has("accept") {
        builder = builder.header("Accept", request.accept.as_str());
    }
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let sent = match body {
        Some(bytes) => builder.body(bytes).map(|r| agent.run(r)),
        None => builder.body(()).map(|r| agent.run(r)),
    };
    let mut response = match sent {
        Err(problem) => {
            return HttpOutcome::Invalid(format!("the request is not valid: {problem}"));
        }
        Ok(Err(problem)) => return HttpOutcome::Error(describe(&problem, request)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    let mut headers: indexmap::IndexMap<String, Vec<String>> = indexmap::IndexMap::new();
    for (name, value) in response.headers() {
        headers
            .entry(name.as_str().to_string())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let bytes = match response
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
    {
        Ok(bytes) => bytes,
        Err(problem) => return HttpOutcome::Error(describe(&problem, request)),
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.first())
        .map(String::as_str);
    let body = HttpResponse::parse_body(&bytes, content_type);
    HttpOutcome::Response(HttpResponse {
        status_code: status.as_u16(),
        reason_phrase: status.canonical_reason().unwrap_or_default().to_string(),
        headers,
        body,
    })
}

/// A transport error in words, with the timeout that ran out when it is one.
fn describe(problem: &ureq::Error, request: &HttpRequest) -> String {
    match problem {
        ureq::Error::Timeout(which) => {
            let phase = format!("{which:?}");
            let (field, ms) = if phase.contains("Connect") || phase.contains("Resolve") {
                ("connectionTimeOut", request.connection_time_out)
            } else {
                ("readTimeOut", request.read_time_out)
            };
            format!("timed out ({phase}) after {field} {ms} ms")
        }
        ureq::Error::BodyExceedsLimit(limit) => {
            format!("the response body is larger than {limit} bytes")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A local server that holds each request 150 ms and counts how many it holds at once.
    fn slow_server(peak: Arc<AtomicUsize>) -> (u16, std::thread::JoinHandle<()>) {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let handle = std::thread::spawn(move || {
            let now = Arc::new(AtomicUsize::new(0));
            let mut served = 0;
            while served < 40 {
                let Ok(Some(request)) = server.recv_timeout(Duration::from_secs(10)) else {
                    return;
                };
                served += 1;
                let (now, peak) = (now.clone(), peak.clone());
                std::thread::spawn(move || {
                    let held = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(held, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(150));
                    now.fetch_sub(1, Ordering::SeqCst);
                    let _ = request.respond(tiny_http::Response::from_string("{\"ok\":true}"));
                });
            }
        });
        (port, handle)
    }

    #[test]
    fn calls_run_side_by_side_but_never_more_than_the_limit() {
        let peak = Arc::new(AtomicUsize::new(0));
        let (port, server) = slow_server(peak.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let outcomes = runtime.block_on(async {
            let mut calls = HttpCalls::default();
            let mut results = calls.results();
            let request = crate::engine::tasks::http::parse_request(
                &serde_json::json!({"uri": format!("http://127.0.0.1:{port}/x")}),
            )
            .unwrap();
            for i in 0..40 {
                calls.start(&format!("t{i}"), &request);
                calls.start(&format!("t{i}"), &request); // a repeat is not made twice
            }
            let mut outcomes = Vec::new();
            while outcomes.len() < 40 {
                let done = tokio::time::timeout(Duration::from_secs(20), results.recv())
                    .await
                    .expect("every call ends")
                    .unwrap();
                calls.finished();
                outcomes.push(done);
            }
            outcomes
        });
        server.join().unwrap();
        assert!(outcomes.iter().all(|d| matches!(&d.outcome,
            HttpOutcome::Response(r) if r.status_code == 200 && r.body["ok"] == true)));
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= MAX_CONCURRENT_CALLS, "{peak} calls at once");
        assert!(peak > 1, "the calls ran one after the other");
    }
}
