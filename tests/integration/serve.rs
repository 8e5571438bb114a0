//! `3ox serve` through the real binary and a plain HTTP client: the pages, the event stream
//! and its `Last-Event-ID` resume, approvals and run operations from the dashboard, and every
//! rule of its guard (wrong Host, wrong Origin, no token, no CSRF token, escaping). The
//! browser tests are in `serve_browser.rs`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{ChildGuard, TestEnv, files_in, journal_records, stderr, wait_for};

/// A `3ox serve --port 0` of a station, stopped when dropped.
pub struct Server {
    /// The `3ox serve` process (none for a client of a server started elsewhere).
    _child: Option<ChildGuard>,
    pub port: u16,
    pub token: String,
}

impl Server {
    pub fn start(env: &TestEnv, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--port", "0", "--by", "tester"];
        args.extend_from_slice(extra);
        let mut child = env
            .cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn 3ox serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let guard = ChildGuard(child);
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("3ox serve prints its address on the first line of stdout");
        let rest = line
            .trim()
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("not the dashboard's address: {line:?}"));
        let (port, token) = rest.split_once("/?token=").expect("a token in the address");
        Server {
            _child: Some(guard),
            port: port.parse().expect("a port"),
            token: token.to_string(),
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The session cookie, from the token.
    pub fn login(&self) -> String {
        let r = self.get(&format!("/?token={}", self.token), &[]);
        assert_eq!(r.status, 303, "{}", r.text);
        let cookie = r.header("set-cookie").expect("a session cookie");
        cookie.split(';').next().unwrap().to_string()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers, None)
    }

    /// A request with `Host` our address unless `headers` give one.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        form: Option<&str>,
    ) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: {}\r\n", self.host()));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = form {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        if let Some(body) = form {
            stream.write_all(body.as_bytes()).unwrap();
        }
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).expect("read the response");
        Reply::parse(&bytes)
    }

    /// The CSRF token the run page of `run_id` writes into its forms.
    pub fn csrf(&self, cookie: &str, run_id: &str) -> String {
        let page = self
            .get(&format!("/runs/{run_id}"), &[("Cookie", cookie)])
            .text;
        let field = "name=\"csrf\" value=\"";
        let i = page.find(field).expect("a form with the CSRF token") + field.len();
        page[i..].split('"').next().unwrap().to_string()
    }
}

/// A response: status, headers (names lower case), body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Reply {
    fn parse(bytes: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect::<Vec<_>>();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        Reply {
            status,
            text: if chunked {
                dechunk(body)
            } else {
                body.to_string()
            },
            headers,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            out.push_str(&rest[..n.min(rest.len())]);
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A station with a worker agent (a shell command that answers `output`) and the approval
/// gate template, whose HUMAN task `gate` asks the `commander`.
pub fn gate_station(output: &Value) -> TestEnv {
    let env = TestEnv::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    env.write(
        "templates/approval-gate.workflow.yaml",
        &std::fs::read_to_string(repo.join("templates/approval-gate.workflow.yaml")).unwrap(),
    );
    env.write(
        "agents/commander/agent.yaml",
        &std::fs::read_to_string(repo.join("agents/commander/agent.yaml")).unwrap(),
    );
    env.write(
        "agents/worker/agent.yaml",
        "version: 1\ndescription: does the change\ncapabilities: [prepare_change, apply_change, write_note]\nconcurrency: 2\ncommand: [sh, agents/worker/work.sh]\n",
    );
    env.write(
        "agents/worker/work.sh",
        &format!(
            "cat > /dev/null\necho 'worked on it' >&2\ncat <<'EOF'\n{}\nEOF\n",
            serde_json::to_string(output).unwrap()
        ),
    );
    env
}

/// Starts `3ox run approval_gate` in the background and waits for its approval request;
/// returns the driver and the run id.
pub fn start_gate(env: &TestEnv) -> (ChildGuard, String) {
    let child = env
        .cmd(&["run", "approval_gate", "--input", "change=c42", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn 3ox run");
    let guard = ChildGuard(child);
    wait_for(Duration::from_secs(30), || {
        files_in(env, "agents/commander/1N.3OX")
            .into_iter()
            .find(|n| n.ends_with(".approval-request.yaml"))
    })
    .expect("an approval request for the commander");
    let run_id = files_in(env, ".3ox/runs")
        .into_iter()
        .find_map(|n| n.strip_suffix(".journal.yaml").map(str::to_owned))
        .expect("a run");
    (guard, run_id)
}

fn events_of(env: &TestEnv) -> Vec<Value> {
    journal_records(env)
}

#[test]
fn serve_prints_its_address_and_exchanges_the_token_for_a_strict_http_only_cookie() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    // No cookie, no page.
    let r = server.get("/runs", &[]);
    assert_eq!(r.status, 401, "{}", r.text);
    // A wrong token gets nothing.
    let r = server.get("/?token=not-the-token", &[]);
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    // The right one: a cookie and a redirect away from the token.
    let r = server.get(&format!("/runs?token={}&status=RUNNING", server.token), &[]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/runs?status=RUNNING"));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains(&server.token),
        "the cookie is not the token"
    );
    let cookie = server.login();
    let r = server.get("/runs", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("No runs match."), "{}", r.text);
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    // A forged cookie is no cookie.
    let r = server.get("/runs", &[("Cookie", "threeox_session=forged")]);
    assert_eq!(r.status, 401);
}

#[test]
fn serve_refuses_requests_for_another_host_name_even_with_the_cookie() {
    let env = TestEnv::new();
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    for host in [
        "evil.example".to_string(),
        format!("evil.example:{}", server.port),
        format!("127.0.0.1:{}", server.port + 1),
    ] {
        let r = server.get("/runs", &[("Host", &host), ("Cookie", &cookie)]);
        assert_eq!(r.status, 403, "Host {host}: {}", r.text);
        assert!(r.text.contains("wrong Host"), "{}", r.text);
        // Not even the token exchange answers under another name.
        let r = server.get(&format!("/?token={}", server.token), &[("Host", &host)]);
        assert_eq!(r.status, 403);
        assert!(r.header("set-cookie").is_none());
    }
    let localhost = format!("localhost:{}", server.port);
    let r = server.get("/runs", &[("Host", &localhost), ("Cookie", &cookie)]);
    assert_eq!(r.status, 200);
}

#[test]
fn serve_binds_another_address_only_with_allow_remote() {
    let env = TestEnv::new();
    let out = env.run(&["serve", "--port", "0", "--bind", "0.0.0.0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--allow-remote"), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "no address is printed");
}

#[test]
fn an_approval_from_the_dashboard_needs_our_origin_and_the_csrf_token_and_completes_the_run() {
    let env = gate_station(&json!({"summary": "two files"}));
    let (mut driver, run_id) = start_gate(&env);
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let page = server.get("/approvals", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Apply the change c42?"), "{}", page.text);
    assert!(page.text.contains("commander"));
    let csrf = server.csrf(&cookie, &run_id);
    let path = format!("/approvals/{run_id}/gate/approve");
    let origin = format!("http://{}", server.host());
    let outbox = "agents/commander/0UT.3OX";
    let no_decision = |env: &TestEnv| {
        files_in(env, outbox)
            .iter()
            .all(|n| !n.ends_with(".approval.yaml"))
    };
    // Another site's form.
    let r = server.request(
        "POST",
        &path,
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        Some(&format!("csrf={csrf}&comment=ok")),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("wrong Origin"));
    // Our origin without the CSRF token, and with a wrong one.
    for body in [
        "comment=ok".to_string(),
        "csrf=guess&comment=ok".to_string(),
    ] {
        let r = server.request(
            "POST",
            &path,
            &[("Cookie", &cookie), ("Origin", &origin)],
            Some(&body),
        );
        assert_eq!(r.status, 403, "{}", r.text);
        assert!(r.text.contains("CSRF"), "{}", r.text);
    }
    // The CSRF token without the cookie.
    let r = server.request(
        "POST",
        &path,
        &[("Origin", &origin)],
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(r.status, 401);
    assert!(no_decision(&env), "nothing refused wrote a decision");
    // The real thing.
    let r = server.request(
        "POST",
        &path,
        &[("Cookie", &cookie), ("Origin", &origin)],
        Some(&format!("csrf={csrf}&comment=looks+good")),
    );
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with("/approvals?done=")
    );
    let status = wait_for(Duration::from_secs(30), || {
        driver.0.try_wait().unwrap().map(|s| s.code())
    });
    assert_eq!(status, Some(Some(0)), "the run completes");
    let records = events_of(&env);
    let decided = records
        .iter()
        .find(|r| r["event"] == "approval_decided")
        .expect("the decision is journaled");
    assert_eq!(decided["by"], "web:tester");
    assert_eq!(decided["comment"], "looks good");
    assert_eq!(decided["decision"], "approve");
    // The run page says who decided, and what they said.
    let page = server
        .get(&format!("/runs/{run_id}"), &[("Cookie", &cookie)])
        .text;
    assert!(
        page.contains("<td>web:tester</td><td>looks good</td>"),
        "{page}"
    );
    // A second decision is refused with the CLI's words.
    let r = server.request(
        "POST",
        &path,
        &[("Cookie", &cookie), ("Origin", &origin)],
        Some(&format!("csrf={csrf}&comment=again")),
    );
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("no open approval request"), "{}", r.text);
}

#[test]
fn a_rejection_needs_a_reason_and_is_recorded_like_3ox_reject() {
    let env = gate_station(&json!({"summary": "two files"}));
    let (_driver, run_id) = start_gate(&env);
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let csrf = server.csrf(&cookie, &run_id);
    let path = format!("/approvals/{run_id}/gate/reject");
    let r = server.request(
        "POST",
        &path,
        &[("Cookie", &cookie)],
        Some(&format!("csrf={csrf}&reason=")),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    let r = server.request(
        "POST",
        &path,
        &[("Cookie", &cookie)],
        Some(&format!("csrf={csrf}&reason=too+risky")),
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let decided = wait_for(Duration::from_secs(30), || {
        events_of(&env)
            .into_iter()
            .find(|r| r["event"] == "approval_decided")
    })
    .expect("the rejection is journaled");
    assert_eq!(decided["decision"], "reject");
    assert_eq!(decided["reason"], "too risky");
    assert_eq!(decided["by"], "web:tester");
}

#[test]
fn a_task_output_holding_a_script_shows_as_text_on_every_page() {
    let evil = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let env = gate_station(&json!({"summary": evil, "note": evil}));
    let (_driver, run_id) = start_gate(&env);
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    for path in [
        format!("/runs/{run_id}/tasks/prepare"),
        format!("/runs/{run_id}"),
        "/approvals".to_string(),
    ] {
        let r = server.get(&path, &[("Cookie", &cookie)]);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            !r.text.contains("<script>alert"),
            "{path} holds the script as markup"
        );
        assert!(
            !r.text.contains("<img src=x"),
            "{path} holds the image as markup"
        );
    }
    let task = server.get(
        &format!("/runs/{run_id}/tasks/prepare"),
        &[("Cookie", &cookie)],
    );
    assert!(
        task.text.contains("&lt;script&gt;alert("),
        "the output shows as text: {}",
        task.text
    );
    // The approvals page shows the summary the HUMAN task was asked with, as text.
    let approvals = server.get("/approvals", &[("Cookie", &cookie)]);
    assert!(approvals.text.contains("&lt;script&gt;alert("));
    // The only scripts are the dashboard's own.
    assert_eq!(task.text.matches("<script").count(), 1);
    assert!(
        task.text
            .contains(r#"<script src="/static/app.js" defer></script>"#)
    );
}

#[test]
fn the_pages_show_the_run_its_tasks_attempts_agents_and_workflows() {
    let env = gate_station(&json!({"summary": "two files"}));
    let (_driver, run_id) = start_gate(&env);
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let get = |path: &str| {
        let r = server.get(path, &[("Cookie", &cookie)]);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        r.text
    };
    let runs = get("/runs");
    assert!(runs.contains(&run_id) && runs.contains("approval_gate"));
    assert!(get("/runs?status=RUNNING").contains(&run_id));
    assert!(!get("/runs?status=COMPLETED").contains(&run_id));
    assert!(get("/runs?workflow=approval_gate&since=1h").contains(&run_id));
    assert!(!get("/runs?workflow=other").contains(&run_id));
    assert!(get(&format!("/runs?q={}", &run_id[20..])).contains(&run_id));
    assert!(!get("/runs?q=zzzz").contains(&run_id));
    let run = get(&format!("/runs/{run_id}"));
    // The diagram, tagged for recolouring; the task table; the timeline; the operations.
    assert!(
        run.contains(
            r#"class="node state-COMPLETED" id="t_prepare" data-task="prepare" data-ref="prepare""#
        ),
        "{run}"
    );
    assert!(run.contains(r#"data-ref="gate""#));
    assert!(run.contains(r#"class="node state-NOT_STARTED""#));
    assert!(run.contains(r#"<tr data-task-row="gate">"#));
    assert!(run.contains(r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline""#));
    assert!(
        run.contains(r#"class="bar state-COMPLETED""#),
        "an attempt bar"
    );
    assert!(
        run.contains(r#"class="bar approval open""#),
        "the open approval's bar"
    );
    assert!(run.contains(&format!("/runs/{run_id}/operations/pause")));
    assert!(run.contains(&format!("/runs/{run_id}/operations/terminate")));
    assert!(run.contains("approver: commander"));
    // A prefix of the id names the run, as in the CLI.
    assert!(get(&format!("/runs/{}", &run_id[..20])).contains(&run_id));
    let task = get(&format!("/runs/{run_id}/tasks/prepare"));
    assert!(task.contains("Attempt 1"));
    assert!(
        task.contains("&quot;change&quot;: &quot;c42&quot;"),
        "its input: {task}"
    );
    assert!(task.contains("two files"), "its output");
    let agents = get("/agents");
    assert!(agents.contains(r#"<tr data-agent="worker">"#));
    assert!(agents.contains("prepare_change, apply_change, write_note"));
    assert!(agents.contains(r#"<tr data-agent="commander">"#));
    let workflows = get("/workflows");
    assert!(workflows.contains("approval_gate") && workflows.contains("valid"));
    let workflow = get("/workflows/approval-gate");
    assert!(workflow.contains(r#"data-ref="gate""#), "its diagram");
    let r = server.get("/runs/01NOSUCHRUN", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 404);
    let r = server.get("/static/app.js", &[]);
    assert_eq!(r.status, 200, "the script needs no cookie");
    assert!(r.text.contains("EventSource"));
    assert_eq!(server.get("/static/app.css", &[]).status, 200);
}

#[test]
fn a_pause_from_the_dashboard_goes_through_the_control_path_and_is_recorded_as_web() {
    let env = gate_station(&json!({"summary": "two files"}));
    let (_driver, run_id) = start_gate(&env);
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let csrf = server.csrf(&cookie, &run_id);
    let r = server.request(
        "POST",
        &format!("/runs/{run_id}/operations/pause"),
        &[("Cookie", &cookie)],
        Some(&format!("csrf={csrf}&reason=lunch")),
    );
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!("/runs/{run_id}?done=pause")),
        "{location}"
    );
    let paused = events_of(&env)
        .into_iter()
        .find(|r| r["event"] == "run_paused")
        .expect("run_paused is journaled");
    assert_eq!(paused["by"], "web:tester");
    assert_eq!(paused["reason"], "lunch");
    let page = server.get(&location, &[("Cookie", &cookie)]).text;
    assert!(page.contains("pause applied by web:tester"), "{page}");
    assert!(page.contains(&format!("/runs/{run_id}/operations/resume")));
    // An operation that does not apply is refused with the engine's reason.
    let r = server.request(
        "POST",
        &format!("/runs/{run_id}/operations/retry"),
        &[("Cookie", &cookie)],
        Some(&format!("csrf={csrf}")),
    );
    assert_eq!(r.status, 303);
    assert!(r.header("location").unwrap().contains("retry+refused"));
}

/// Reads server-sent events from `path` until `enough` says so; returns `(id, event, data)`.
fn read_events(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    enough: impl Fn(&[(String, String, Value)]) -> bool,
) -> Vec<(String, String, Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", server.host());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let reader = BufReader::new(stream);
    let mut events = Vec::new();
    let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
    for line in reader.lines() {
        let line = line.expect("an event stream line");
        if let Some(v) = line
            .strip_prefix("id: ")
            .or_else(|| line.strip_prefix("id:"))
        {
            id = v.to_string();
        } else if let Some(v) = line
            .strip_prefix("event: ")
            .or_else(|| line.strip_prefix("event:"))
        {
            event = v.to_string();
        } else if let Some(v) = line
            .strip_prefix("data: ")
            .or_else(|| line.strip_prefix("data:"))
        {
            data = v.to_string();
        } else if line.is_empty() && !event.is_empty() {
            events.push((
                std::mem::take(&mut id),
                std::mem::take(&mut event),
                serde_json::from_str(&std::mem::take(&mut data)).unwrap_or(Value::Null),
            ));
            if enough(&events) {
                break;
            }
        }
    }
    events
}

#[test]
fn the_run_stream_sends_each_record_with_its_sequence_number_and_resumes_after_last_event_id() {
    let env = gate_station(&json!({"summary": "two files"}));
    let (mut driver, run_id) = start_gate(&env);
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let path = format!("/runs/{run_id}/events");
    // Resumed after record 2: records 3.. of the journal, in order, ids = sequence numbers.
    let events = read_events(
        &server,
        &path,
        &[("Cookie", &cookie), ("Last-Event-ID", "2")],
        |e| e.iter().any(|(_, _, d)| d["event"] == "approval_requested"),
    );
    let ids: Vec<u64> = events
        .iter()
        .map(|(id, _, _)| id.parse().unwrap())
        .collect();
    assert_eq!(ids[0], 3, "{events:?}");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert!(events.iter().all(|(_, e, _)| e == "record"));
    let seen = *ids.last().unwrap();
    // From the last one seen, live: the approval goes through and the stream says so.
    let waiting = std::thread::spawn({
        let (port, token, cookie, path) = (
            server.port,
            server.token.clone(),
            cookie.clone(),
            path.clone(),
        );
        move || {
            let server = Server::with(port, token);
            read_events(
                &server,
                &path,
                &[("Cookie", &cookie), ("Last-Event-ID", &seen.to_string())],
                |e| e.iter().any(|(_, _, d)| d["event"] == "run_completed"),
            )
        }
    });
    let out = env.run(&["approve", &run_id, "gate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let live = waiting.join().unwrap();
    assert_eq!(live[0].0, (seen + 1).to_string(), "{live:?}");
    let gate = live
        .iter()
        .find(|(_, _, d)| d["event"] == "task_completed" && d["task_ref"] == "gate")
        .expect("the gate's completion");
    assert_eq!(gate.2["task_status"], "COMPLETED");
    // Each event carries the status just after its record, not the run's final one.
    let scheduled = live
        .iter()
        .find(|(_, _, d)| d["event"] == "task_scheduled" && d["task_ref"] == "apply")
        .expect("apply is scheduled");
    assert_eq!(scheduled.2["task_status"], "SCHEDULED", "{live:?}");
    assert_eq!(scheduled.2["run_status"], "RUNNING");
    assert_eq!(live.last().unwrap().2["run_status"], "COMPLETED");
    let _ = wait_for(Duration::from_secs(30), || driver.0.try_wait().unwrap());
    // The station stream, resumed from a time: the run changed since then.
    let events = read_events(
        &server,
        "/events",
        &[("Cookie", &cookie), ("Last-Event-ID", "0")],
        |e| !e.is_empty(),
    );
    assert_eq!(events[0].1, "run");
    assert_eq!(events[0].2["run_id"], run_id.as_str());
    assert_eq!(events[0].2["status"], "COMPLETED");
    // Without the cookie, no stream.
    let r = server.get(&path, &[]);
    assert_eq!(r.status, 401);
}

impl Server {
    /// A client of a server started elsewhere (for another thread).
    fn with(port: u16, token: String) -> Server {
        Server {
            _child: None,
            port,
            token,
        }
    }
}

/// A journal of one run of `n` SIMPLE tasks, each scheduled and completed, written with the
/// library (no engine, no agents): what a long run leaves.
fn big_run(env: &TestEnv, n: usize) -> String {
    use threeox::engine::Change;
    let tasks: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("step_{i}"), "taskReferenceName": format!("t{i}")}))
        .collect();
    let def: threeox::definition::WorkflowDef =
        serde_json::from_value(json!({"name": "big", "version": 1, "tasks": tasks})).unwrap();
    let run_id = ulid::Ulid::new().to_string();
    let runs = env.root().join(".3ox/runs");
    std::fs::create_dir_all(&runs).unwrap();
    let mut journal = threeox::journal::Journal::create(
        &threeox::journal::Journal::path_for(&runs, &run_id),
        threeox::mailbox::atomic::Durability::Relaxed,
    )
    .unwrap();
    let mut at = chrono::Utc::now() - chrono::Duration::hours(1);
    journal
        .append(
            &run_id,
            at,
            vec![Change::RunStarted {
                run_id: run_id.clone(),
                source: "big.yaml".into(),
                workflow: Box::new(def),
                input: json!({}),
            }],
        )
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut changes = Vec::new();
        for i in chunk {
            let task_id = format!("{run_id}-t{i}-1");
            changes.push(Change::TaskScheduled {
                task_ref: format!("t{i}"),
                task_id: task_id.clone(),
                attempt: 1,
                agent: "worker".into(),
                token: "tok".into(),
                input: json!({"i": i}),
            });
            changes.push(Change::TaskCompleted {
                task_ref: format!("t{i}"),
                task_id: Some(task_id),
                input: None,
                output: json!({"done": i}),
            });
        }
        at += chrono::Duration::seconds(1);
        journal.append(&run_id, at, changes).unwrap();
    }
    run_id
}

#[test]
fn a_run_of_10000_tasks_opens_quickly_with_paged_tasks_and_a_capped_diagram() {
    let env = TestEnv::new();
    let run_id = big_run(&env, 10_000);
    // The last task's reply, handled, with its agent's log lines.
    env.write(
        &format!("agents/worker/0UT.3OX/done/{run_id}-t9999-1.reply.yaml"),
        &format!(
            "version: 1\ntask_id: {run_id}-t9999-1\nstatus: COMPLETED\noutput: {{done: 9999}}\nlogs: [\"read 3 files\", \"<b>wrote</b> one\"]\n"
        ),
    );
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    // The first view parses the journal; later ones read it from the cache.
    let first = Instant::now();
    let r = server.get(&format!("/runs/{run_id}"), &[("Cookie", &cookie)]);
    let first = first.elapsed();
    assert_eq!(r.status, 200, "{}", r.text);
    let again = Instant::now();
    let r = server.get(&format!("/runs/{run_id}?page=100"), &[("Cookie", &cookie)]);
    let again = again.elapsed();
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("tasks 9901–10000 of 10000"),
        "the last page"
    );
    assert_eq!(
        r.text.matches("<tr data-task-row=").count(),
        100,
        "one page of tasks"
    );
    assert!(
        r.text.contains("The diagram has 10000 nodes"),
        "no diagram drawn"
    );
    assert!(
        r.text.len() < 1_000_000,
        "the page stays small: {} bytes",
        r.text.len()
    );
    // The first view reads the whole journal (20,001 records) as `3ox status` does: seconds
    // in a debug build on a busy machine. Every later view is served from the parsed journal.
    assert!(
        first < Duration::from_secs(60),
        "the first view took {first:?}"
    );
    assert!(again < Duration::from_secs(1), "a view took {again:?}");
    let task = server.get(
        &format!("/runs/{run_id}/tasks/t9999"),
        &[("Cookie", &cookie)],
    );
    assert_eq!(task.status, 200);
    assert!(task.text.contains("&quot;done&quot;: 9999"));
    assert!(
        task.text
            .contains("read 3 files\n&lt;b&gt;wrote&lt;&#x2f;b&gt; one"),
        "the reply's logs, as text: {}",
        task.text
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_dashboard_even_with_an_event_stream_open() {
    let env = TestEnv::new();
    let mut server = Server::start(&env, &[]);
    let cookie = server.login();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /events HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\n\r\n",
        server.host()
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "the stream is open");
    let child = &mut server._child.as_mut().unwrap().0;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_for(Duration::from_secs(10), || child.try_wait().unwrap());
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "3ox serve ends on Ctrl-C"
    );
}

#[test]
fn a_run_page_links_to_its_child_runs_and_a_child_to_its_parent() {
    let env = TestEnv::new();
    env.write(
        "parent.yaml",
        "name: parent\ntasks:\n  - name: sub\n    taskReferenceName: sub\n    type: SUB_WORKFLOW\n    subWorkflowParam:\n      name: inline_child\n      workflowDefinition:\n        name: inline_child\n        tasks:\n          - {name: nothing, taskReferenceName: nothing, type: NOOP}\n",
    );
    let (code, result, out) = env.run_flow("parent.yaml", &[]);
    assert_eq!(code, 0, "{}", stderr(&out));
    let parent = result["run_id"].as_str().unwrap().to_string();
    let child = result["output"]["subWorkflowId"]
        .as_str()
        .expect("the child's run id")
        .to_string();
    let server = Server::start(&env, &[]);
    let cookie = server.login();
    let page = server.get(&format!("/runs/{parent}"), &[("Cookie", &cookie)]);
    assert!(
        page.text.contains(&format!(r#"href="/runs/{child}""#)),
        "{}",
        page.text
    );
    let page = server.get(&format!("/runs/{child}"), &[("Cookie", &cookie)]);
    assert!(page.text.contains("<dt>Parent</dt>"), "{}", page.text);
    assert!(page.text.contains(&format!(r#"href="/runs/{parent}""#)));
    assert!(page.text.contains("(task sub)"));
}
