//! `3ox conductor worker`: file agents serve a Conductor cluster's task queues.
//!
//! One thread per (agent, task type) long-polls `GET /api/tasks/poll/batch/{type}` for as
//! many tasks as the agent has free slots (its `concurrency`). Each task taken is recorded in
//! the [`ledger`] and then written into the agent's inbox as a task message, as a local run
//! would write it ([`TaskMessage`], atomically): the run id is Conductor's workflow instance
//! id, the attempt is its `retryCount + 1`, the token is fresh.
//!
//! The main thread watches the agents' outboxes (notify, plus a rescan every poll interval)
//! and checks each reply as the orchestrator does ([`Reply::read`], the task id and token of a
//! task this worker took); a reply that fails is moved into `rejected/` with a note and
//! nothing is sent, and one naming a task this worker never took is left for whoever did (a
//! local `3ox up`). An IN_PROGRESS reply becomes an IN_PROGRESS update with
//! `callbackAfterSeconds`; a final one is recorded, then reported with `POST /api/tasks`
//! (status, `outputData`, `reasonForIncompletion`, `logs`), then recorded as reported. The
//! server being unreachable or answering 5xx is tried again with backoff, said on stderr.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use chrono::Utc;
use notify::Watcher as _;
use serde_json::{Value, json};

use super::client::{CallError, Client};
use super::ledger::{self, Record, State, TaskOutcome};
use crate::mailbox::atomic::{self, Durability};
use crate::mailbox::message::{MESSAGE_VERSION, TaskMessage};
use crate::mailbox::reply::{self, Reply, ReplyStatus};
use crate::mailbox::{self, CLAIMED, DONE};
use crate::station::Station;

/// What a worker serves and how.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Agents to serve (all the station's agents with capabilities when empty).
    pub agents: Vec<String>,
    /// How long the server holds each poll (Conductor's `timeout`), and how often the
    /// outboxes are rescanned.
    pub poll_interval: Duration,
    /// `workerid` sent with polls and updates.
    pub worker_id: String,
    /// `callbackAfterSeconds` of an IN_PROGRESS update (when Conductor hands the task out
    /// again if no final result came).
    pub callback_after: u64,
}

/// The tasks in flight, shared by the poll threads and the reporting thread.
#[derive(Default)]
struct Book {
    /// Records by local task id.
    records: HashMap<String, Record>,
    /// Slots asked for by polls under way, by agent: an agent polled for several task types
    /// at once is never handed more tasks than its `concurrency`.
    polling: HashMap<String, usize>,
    /// Outbox files already said on stderr to be left alone.
    left_alone: std::collections::HashSet<std::path::PathBuf>,
}

impl Book {
    fn in_flight(&self, agent: &str) -> usize {
        self.records
            .values()
            .filter(|r| r.agent == agent && r.state != State::Reported)
            .count()
            + self.polling.get(agent).copied().unwrap_or(0)
    }

    fn has_conductor_task(&self, id: &str) -> bool {
        self.records.values().any(|r| r.conductor_task_id == id)
    }
}

struct Shared {
    book: Mutex<Book>,
    freed: Condvar,
}

/// Serves until the process ends. Returns an error only for what stops it at the start.
pub fn run(station: &Station, client: Client, config: WorkerConfig) -> anyhow::Result<()> {
    let directory = station.agents()?;
    let mut served: Vec<(String, usize, Vec<String>)> = Vec::new();
    for (name, agent) in directory.agents.iter() {
        if !config.agents.is_empty() && !config.agents.contains(name) {
            continue;
        }
        if !agent.capabilities.is_empty() {
            served.push((
                name.clone(),
                agent.concurrency.max(1),
                agent.capabilities.clone(),
            ));
        }
    }
    for wanted in &config.agents {
        if directory.get(wanted).is_none() {
            anyhow::bail!("no agent `{wanted}` in this station (agents/{wanted}/agent.yaml)");
        }
    }
    if served.is_empty() {
        anyhow::bail!(
            "no agent to serve: give agents capabilities (task names) in agents/<name>/agent.yaml"
        );
    }
    if let Err(e) = client.authenticate() {
        anyhow::bail!("{e}");
    }
    let client = Arc::new(client);
    let shared = Arc::new(Shared {
        book: Mutex::new(Book::default()),
        freed: Condvar::new(),
    });
    recover(station, &client, &shared, &config)?;

    let (tx, rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |_| {
        let _ = tx.send(());
    })?;
    for (agent, _, _) in &served {
        let outbox = station.outbox(agent);
        crate::station::create_mail_dir(&outbox)?;
        watcher.watch(&outbox, notify::RecursiveMode::NonRecursive)?;
    }
    for (agent, concurrency, types) in &served {
        for task_type in types {
            let (station, client, shared, config) = (
                station.clone(),
                client.clone(),
                shared.clone(),
                config.clone(),
            );
            let (agent, task_type, concurrency) = (agent.clone(), task_type.clone(), *concurrency);
            std::thread::spawn(move || {
                poll_loop(
                    &station,
                    &client,
                    &shared,
                    &config,
                    &agent,
                    concurrency,
                    &task_type,
                );
            });
        }
    }
    eprintln!(
        "conductor worker {} serving {} at {}",
        config.worker_id,
        served
            .iter()
            .map(|(a, _, t)| format!("{a} ({})", t.join(", ")))
            .collect::<Vec<_>>()
            .join(", "),
        client.base()
    );
    loop {
        for (agent, _, _) in &served {
            scan_outbox(station, &client, &shared, &config, agent);
        }
        let _ = rx.recv_timeout(config.poll_interval);
        while rx.try_recv().is_ok() {}
    }
}

/// Loads the ledger: delivers again the messages of `taken` tasks that left the inbox without
/// a reply, and reports the `replied` ones.
fn recover(
    station: &Station,
    client: &Client,
    shared: &Shared,
    config: &WorkerConfig,
) -> anyhow::Result<()> {
    for record in ledger::load(station) {
        match record.state {
            State::Taken => {
                let inbox = station.inbox(&record.agent);
                let name = TaskMessage::file_name(&record.task_id);
                let present = [inbox.join(&name), inbox.join(CLAIMED).join(&name)]
                    .iter()
                    .any(|p| p.exists());
                if !present {
                    deliver(station, &record.message)?;
                }
            }
            State::Replied => {}
            State::Reported => continue,
        }
        let id = record.task_id.clone();
        shared
            .book
            .lock()
            .expect("book")
            .records
            .insert(id.clone(), record);
        report_pending(station, client, shared, config, &id);
    }
    Ok(())
}

/// Long-polls one task type for one agent, forever.
fn poll_loop(
    station: &Station,
    client: &Client,
    shared: &Shared,
    config: &WorkerConfig,
    agent: &str,
    concurrency: usize,
    task_type: &str,
) {
    let mut refusals = 0u32;
    loop {
        let free = {
            let mut book = shared.book.lock().expect("book");
            let free = concurrency.saturating_sub(book.in_flight(agent));
            if free == 0 {
                let _ = shared.freed.wait_timeout(book, config.poll_interval);
                continue;
            }
            *book.polling.entry(agent.to_string()).or_default() += free;
            free
        };
        let release = || {
            let mut book = shared.book.lock().expect("book");
            if let Some(n) = book.polling.get_mut(agent) {
                *n = n.saturating_sub(free);
            }
        };
        let path = format!(
            "/api/tasks/poll/batch/{}?workerid={}&count={free}&timeout={}",
            encode(task_type),
            encode(&config.worker_id),
            config.poll_interval.as_millis()
        );
        let tasks = match client.get(&path) {
            Ok(Value::Array(tasks)) => tasks,
            Ok(_) => Vec::new(),
            Err(e) => {
                // A refusal (the client tries 5xx and unreachable servers itself): say it,
                // wait longer each time.
                release();
                refusals += 1;
                let wait = super::client::backoff(config.poll_interval, refusals);
                eprintln!(
                    "conductor: {e}; polling {task_type} again in {}",
                    humantime::format_duration(Duration::from_millis(wait.as_millis() as u64))
                );
                std::thread::sleep(wait);
                continue;
            }
        };
        refusals = 0;
        // The tasks taken now count as in flight in their records.
        release();
        for task in tasks {
            if let Err(e) = take(station, shared, agent, task_type, &task) {
                eprintln!("conductor: cannot take a task of type {task_type}: {e}");
            }
        }
    }
}

/// Records a polled task and delivers its message.
fn take(
    station: &Station,
    shared: &Shared,
    agent: &str,
    task_type: &str,
    task: &Value,
) -> anyhow::Result<()> {
    let field = |name: &str| task.get(name).and_then(Value::as_str).unwrap_or_default();
    let conductor_id = field("taskId").to_string();
    if conductor_id.is_empty() {
        anyhow::bail!("the server handed out a task without a taskId");
    }
    if shared
        .book
        .lock()
        .expect("book")
        .has_conductor_task(&conductor_id)
    {
        // Handed out again after an IN_PROGRESS callback: the agent still has it.
        return Ok(());
    }
    let task_id = ulid::Ulid::new().to_string();
    let token = format!("tk-{}", crate::web::security::random_token());
    let run_id = field("workflowInstanceId").to_string();
    let name = [field("taskDefName"), field("taskType")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or(task_type)
        .to_string();
    let outbox = station.relative(&station.outbox(agent));
    let kind = field("taskType");
    let message = TaskMessage {
        version: MESSAGE_VERSION,
        task_id: task_id.clone(),
        run_id: run_id.clone(),
        workflow: field("workflowType").to_string(),
        task: name,
        task_ref: field("referenceTaskName").to_string(),
        attempt: task
            .get("retryCount")
            .and_then(Value::as_u64)
            .map_or(1, |n| n as u32 + 1),
        token: token.clone(),
        agent: agent.to_string(),
        created_at: Utc::now(),
        input: task.get("inputData").cloned().unwrap_or_else(|| json!({})),
        task_type: (!kind.is_empty() && kind != "SIMPLE").then(|| kind.to_string()),
        reply: TaskMessage::reply_instructions(&task_id, &run_id, &token, &outbox),
    };
    let record = Record {
        version: ledger::LEDGER_VERSION,
        task_id: task_id.clone(),
        conductor_task_id: conductor_id,
        workflow_instance_id: run_id,
        task_type: task_type.to_string(),
        agent: agent.to_string(),
        token,
        taken_at: Utc::now(),
        state: State::Taken,
        message: message.clone(),
        result: None,
        reported_at: None,
        note: None,
    };
    record.save(station)?;
    shared
        .book
        .lock()
        .expect("book")
        .records
        .insert(task_id, record);
    deliver(station, &message)?;
    Ok(())
}

fn deliver(station: &Station, message: &TaskMessage) -> std::io::Result<()> {
    let path = station
        .inbox(&message.agent)
        .join(TaskMessage::file_name(&message.task_id));
    atomic::write(&path, message.to_yaml().as_bytes(), Durability::Durable)
}

/// Handles every reply in `agent`'s outbox.
fn scan_outbox(
    station: &Station,
    client: &Client,
    shared: &Shared,
    config: &WorkerConfig,
    agent: &str,
) {
    let Ok(files) = mailbox::list_mail(&station.outbox(agent)) else {
        return;
    };
    for path in files {
        match check(shared, agent, &path) {
            Err(Checked::NotOurs(task_id)) => {
                let mut book = shared.book.lock().expect("book");
                if book.left_alone.insert(path.clone()) {
                    eprintln!(
                        "conductor: left {} alone: this worker took no task `{task_id}` (a reply for a local run?)",
                        station.relative(&path)
                    );
                }
            }
            Err(Checked::Again) => {
                // The final reply of a task recorded as replied before a restart.
                let _ = mailbox::move_into(&path, DONE);
            }
            Err(Checked::Refused(reason)) => {
                eprintln!("conductor: refused {}: {reason}", station.relative(&path));
                if let Err(e) = reply::reject(&path, &reason, Utc::now()) {
                    eprintln!(
                        "conductor: cannot move {} into rejected/: {e}",
                        path.display()
                    );
                }
            }
            Ok((reply, record)) if reply.status == ReplyStatus::InProgress => {
                let body = result_body(
                    &record,
                    config,
                    &TaskOutcome {
                        status: "IN_PROGRESS".into(),
                        output_data: reply.output.clone(),
                        reason_for_incompletion: None,
                        logs: reply
                            .logs
                            .iter()
                            .cloned()
                            .chain(reply.reason.clone())
                            .collect(),
                    },
                );
                if let Err(e) = client.post("/api/tasks", &body) {
                    eprintln!("conductor: heartbeat of {} not sent: {e}", record.task_id);
                }
                let _ = mailbox::move_into(&path, DONE);
            }
            Ok((reply, mut record)) => {
                let status = match reply.status {
                    ReplyStatus::Completed => "COMPLETED",
                    ReplyStatus::Failed => "FAILED",
                    ReplyStatus::FailedWithTerminalError => "FAILED_WITH_TERMINAL_ERROR",
                    ReplyStatus::InProgress => unreachable!("handled above"),
                };
                record.state = State::Replied;
                record.result = Some(TaskOutcome {
                    status: status.into(),
                    output_data: reply.output,
                    reason_for_incompletion: reply.reason.filter(|r| !r.is_empty()),
                    logs: reply.logs,
                });
                if let Err(e) = record.save(station) {
                    eprintln!(
                        "conductor: cannot record the reply of {}: {e}",
                        record.task_id
                    );
                    continue;
                }
                let id = record.task_id.clone();
                shared
                    .book
                    .lock()
                    .expect("book")
                    .records
                    .insert(id.clone(), record);
                let _ = mailbox::move_into(&path, DONE);
                report_pending(station, client, shared, config, &id);
            }
        }
    }
}

/// Why an outbox file is not reported.
enum Checked {
    /// It fails the checks: it goes to `rejected/` with this reason.
    Refused(String),
    /// It names a task this worker did not take: it is left for whoever did.
    NotOurs(String),
    /// The final reply of a task whose result is recorded already (it was read before a
    /// crash that came before it left the outbox).
    Again,
}

/// A reply that passes the usual checks, with the record of its task.
fn check(shared: &Shared, agent: &str, path: &Path) -> Result<(Reply, Record), Checked> {
    let reply = Reply::read(path).map_err(Checked::Refused)?;
    let book = shared.book.lock().expect("book");
    let Some(record) = book.records.get(&reply.task_id) else {
        return Err(Checked::NotOurs(reply.task_id));
    };
    if record.agent != agent {
        return Err(Checked::Refused(format!(
            "task `{}` went to agent `{}`, not `{agent}`: reply in its outbox",
            reply.task_id, record.agent
        )));
    }
    if reply.token.as_deref() != Some(record.token.as_str()) {
        return Err(Checked::Refused(
            "the token does not match the task message's; copy `token` from `reply.form`".into(),
        ));
    }
    if record.state != State::Taken {
        let same = record
            .result
            .as_ref()
            .is_some_and(|r| r.output_data == reply.output);
        return Err(if same && reply.status != ReplyStatus::InProgress {
            Checked::Again
        } else {
            Checked::Refused(format!(
                "task `{}` already has its final reply",
                reply.task_id
            ))
        });
    }
    Ok((reply, record.clone()))
}

/// Reports the result of a `replied` task, trying until the server takes it (or refuses it
/// for good, which is recorded in the record's `note`).
fn report_pending(
    station: &Station,
    client: &Client,
    shared: &Shared,
    config: &WorkerConfig,
    task_id: &str,
) {
    let Some(mut record) = shared
        .book
        .lock()
        .expect("book")
        .records
        .get(task_id)
        .cloned()
    else {
        return;
    };
    let Some(outcome) = record
        .result
        .clone()
        .filter(|_| record.state == State::Replied)
    else {
        return;
    };
    let body = result_body(&record, config, &outcome);
    match client.post("/api/tasks", &body) {
        Ok(_) => {}
        Err(e @ CallError::Refused { .. }) => {
            eprintln!("conductor: the result of {task_id} was refused: {e}");
            record.note = Some(e.to_string());
        }
        Err(e) => {
            // Only with a bounded retry; the worker's client tries forever.
            eprintln!("conductor: {e}");
            return;
        }
    }
    record.state = State::Reported;
    record.reported_at = Some(Utc::now());
    if let Err(e) = record.save(station) {
        eprintln!("conductor: cannot record that {task_id} was reported: {e}");
    }
    archive_message(station, &record.agent, task_id);
    shared
        .book
        .lock()
        .expect("book")
        .records
        .insert(task_id.to_string(), record);
    shared.freed.notify_all();
}

/// Conductor's TaskResult for a record.
fn result_body(record: &Record, config: &WorkerConfig, outcome: &TaskOutcome) -> Value {
    let now = Utc::now().timestamp_millis();
    let mut body = json!({
        "workflowInstanceId": record.workflow_instance_id,
        "taskId": record.conductor_task_id,
        "workerId": config.worker_id,
        "status": outcome.status,
        "outputData": outcome.output_data,
        "logs": outcome.logs.iter().map(|line| json!({
            "log": line, "taskId": record.conductor_task_id, "createdTime": now,
        })).collect::<Vec<_>>(),
    });
    if let Some(reason) = &outcome.reason_for_incompletion {
        body["reasonForIncompletion"] = json!(reason);
    }
    if outcome.status == "IN_PROGRESS" {
        body["callbackAfterSeconds"] = json!(config.callback_after);
    }
    body
}

/// Moves a reported task's message into `done/` (from the inbox or `claimed/`).
fn archive_message(station: &Station, agent: &str, task_id: &str) {
    let inbox = station.inbox(agent);
    let name = TaskMessage::file_name(task_id);
    for place in [inbox.join(&name), inbox.join(CLAIMED).join(&name)] {
        if place.exists() {
            let target = inbox.join(DONE);
            let _ = std::fs::create_dir_all(&target);
            let _ = std::fs::rename(&place, target.join(&name));
            return;
        }
    }
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
