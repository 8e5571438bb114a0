//! Persistent mode (`mode: persistent` in agent.yaml): one long-lived process per slot,
//! speaking JSON lines, so that an agent keeps its model and context loaded and no process
//! is spawned per task. It applies to a [`Runner::Command`](super::Runner::Command) only: an
//! in-process runner (the LLM agent) has no process to keep, and [`super::Worker::spawn`]
//! refuses the pair.
//!
//! A [`Slot`] is one of the worker's `concurrency` places to run a task. It starts its
//! process with the first task it gets and keeps it for the next ones. For each task it
//! writes one line to the process's stdin ([`request_line`]) and reads lines from its stdout
//! until one answers that task ([`judge`]):
//!
//! - an answer with the task's id and a final status becomes the reply, written by the same
//!   code as in per-task mode; an `IN_PROGRESS` answer becomes a heartbeat reply;
//! - a line that is not a JSON object, names no task or another task, or is longer than the
//!   mailbox size limit is refused: the reason goes to the worker's log (a
//!   [`WorkerEvent::Refused`]) and the slot waits on for its answer;
//! - an answer with the task's id that is malformed (an unknown field, a bad status, an
//!   output that is not an object) fails the attempt with the reason;
//! - end of the process's stdout (it died or closed it) fails the attempt with how it ended
//!   and the tail of its stderr, retryable; the next task starts a new process;
//! - when the task's message leaves `claimed/` while it runs (the orchestrator archived it:
//!   the attempt timed out, or the run ended), the attempt is over: the process is killed,
//!   no reply is written, and the next task starts a new process.
//!
//! When the worker stops, a process running a task is killed (the task runs again at the next
//! start); an idle one gets end of input and [`CLOSE_GRACE`] to exit by itself.
//!
//! The process's stderr is forwarded line by line to the worker's log
//! ([`WorkerEvent::AgentStderr`]); its last lines explain a death. See `docs/protocol.md`.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{
    Job, ProcessGroup, STDERR_TAIL_LINES, STDOUT_QUOTE_CHARS, Served, WorkerConfig, WorkerEvent,
    describe_exit, stderr_tail,
};
use crate::mailbox::{self, reply::ReplyStatus};

/// Version of the JSON lines written to and read from a persistent process.
pub const LINE_VERSION: u32 = 1;

/// How long a process that closed its stdout may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long an idle process may take to exit at end of input when the worker stops.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long the stderr of a process that ended may take to drain into the log.
const STDERR_DRAIN: Duration = Duration::from_millis(500);
/// Longest stderr line forwarded as one line; longer ones are cut into pieces.
const STDERR_LINE_BYTES: u64 = 16 * 1024;
/// How often a running task checks that its message is still in `claimed/` (a stat).
const CLAIM_CHECK: Duration = Duration::from_millis(500);
/// Answer lines read ahead of the task that waits for them.
const LINES_AHEAD: usize = 16;

/// One of a worker's places to run a task, with its process once started.
pub(super) struct Slot {
    /// 1, 2, ...: its number among the worker's slots (`THREEOX_SLOT`).
    index: usize,
    process: Option<Process>,
    /// Where the process's stderr lines go (the process outlives the jobs it serves).
    events: Option<mpsc::UnboundedSender<WorkerEvent>>,
}

impl Slot {
    pub(super) fn new(index: usize, events: Option<mpsc::UnboundedSender<WorkerEvent>>) -> Slot {
        Slot {
            index,
            process: None,
            events,
        }
    }

    /// Runs `job` on this slot's process, starting one (`argv`, the worker's
    /// [`Runner::Command`](super::Runner::Command)) when there is none. `None` when the
    /// attempt was over before it answered (its message left `claimed/`): nothing to reply.
    pub(super) async fn serve(&mut self, job: &Job, argv: &[String]) -> Option<Served> {
        if let Some(process) = &mut self.process
            && let Some(status) = process.exited()
        {
            let pid = process.pid;
            let tail = self.process.take().expect("checked").stderr_tail().await;
            job.emit(WorkerEvent::ProcessEnded {
                slot: self.index,
                pid,
                reason: format!("ended between tasks: {}", describe_exit(status, &tail)),
            });
        }
        if self.process.is_none() {
            match Process::spawn(
                argv,
                &job.config,
                &job.outbox,
                self.index,
                self.events.clone(),
            ) {
                Ok(process) => {
                    tracing::info!(agent = %job.config.agent, slot = self.index, pid = process.pid, "persistent process started");
                    job.emit(WorkerEvent::ProcessStarted {
                        slot: self.index,
                        pid: process.pid,
                    });
                    self.process = Some(process);
                }
                Err(reason) => return Some(Served::failed(reason)),
            }
        }
        let process = self.process.as_mut().expect("started above");
        let pid = process.pid;
        let task_id = job.message.task_id.clone();
        if let Err(e) = process.send(&request_line(job)).await {
            tracing::info!(agent = %job.config.agent, slot = self.index, pid, "cannot write the task line: {e}");
            return Some(self.died(job, argv).await);
        }
        let every = job.config.heartbeat;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let check = CLAIM_CHECK;
        let mut still_claimed =
            tokio::time::interval_at(tokio::time::Instant::now() + check, check);
        let mut beats = 0u64;
        let started = Instant::now();
        loop {
            tokio::select! {
                line = process.lines.recv() => {
                    let verdict = match line {
                        None => return Some(self.died(job, argv).await),
                        Some(FromAgent::TooLong) => Verdict::Refused(format!(
                            "a line longer than the limit of {} bytes; put large data in a file and answer with its path",
                            mailbox::MAX_FILE_BYTES
                        )),
                        Some(FromAgent::Line(line)) => judge(&line, &task_id),
                    };
                    match verdict {
                        Verdict::Refused(reason) => {
                            tracing::info!(agent = %job.config.agent, %task_id, pid, "refused a line: {reason}");
                            job.emit(WorkerEvent::Refused { task_id: task_id.clone(), pid, reason });
                        }
                        Verdict::Progress(reason) => {
                            beats = job.send_heartbeat(beats + 1, started.elapsed(), reason).await;
                        }
                        Verdict::Final(answer) => return Some(answer),
                    }
                }
                _ = heartbeat.tick() => {
                    beats = job.send_heartbeat(beats + 1, started.elapsed(), None).await;
                }
                _ = still_claimed.tick() => {
                    if !job.message_path.exists() {
                        tracing::info!(agent = %job.config.agent, %task_id, pid, "the message left claimed/ while its task ran; stopping the process");
                        self.process = None;
                        job.emit(WorkerEvent::ProcessEnded {
                            slot: self.index,
                            pid,
                            reason: format!(
                                "stopped: task {task_id} is over without its answer (its message left claimed/: the attempt timed out or the run ended); the next task starts a new process"
                            ),
                        });
                        return None;
                    }
                }
            }
        }
    }

    /// Closes an idle slot: its process gets end of input (its loop over stdin ends) and
    /// [`CLOSE_GRACE`] to exit, then is killed.
    pub(super) async fn close(self) {
        let Some(process) = self.process else {
            return;
        };
        let Process {
            mut child,
            stdin,
            mut group,
            pid,
            ..
        } = process;
        // Dropping the pipe closes it (shutting a pipe down does not).
        drop(stdin);
        match tokio::time::timeout(CLOSE_GRACE, child.wait()).await {
            Ok(_) => group.ended(),
            Err(_) => {
                tracing::info!(
                    slot = self.index,
                    pid,
                    "the persistent process did not exit at end of input; killing it"
                )
            }
        }
        // Dropped here: killed with its group unless it exited.
    }

    /// The process ended (or closed its stdout) while running `job`: the attempt fails with
    /// how it ended; the next task starts a new process.
    async fn died(&mut self, job: &Job, argv: &[String]) -> Served {
        let mut process = self.process.take().expect("a running process");
        let pid = process.pid;
        let how = match tokio::time::timeout(EXIT_GRACE, process.child.wait()).await {
            Ok(Ok(status)) => {
                process.group.ended();
                describe_exit(status, &process.stderr_tail().await)
            }
            Ok(Err(e)) => format!("lost track of it: {e}"),
            Err(_) => format!(
                "it closed its standard output but had not exited after {}; stopped it",
                humantime::format_duration(EXIT_GRACE)
            ),
        };
        let reason = format!(
            "the agent process `{}` (pid {pid}) ended before answering task {}: {how}",
            argv[0], job.message.task_id
        );
        job.emit(WorkerEvent::ProcessEnded {
            slot: self.index,
            pid,
            reason: format!("ended while running task {}: {how}", job.message.task_id),
        });
        Served::failed(reason)
    }
}

/// A slot's running process. Dropped, it is killed with its process group.
struct Process {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    lines: mpsc::Receiver<FromAgent>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    stderr_task: JoinHandle<()>,
    group: ProcessGroup,
}

/// What the stdout reader saw.
#[derive(Debug)]
enum FromAgent {
    /// One line, without its end.
    Line(Vec<u8>),
    /// A line longer than [`mailbox::MAX_FILE_BYTES`], skipped.
    TooLong,
}

impl Process {
    fn spawn(
        argv: &[String],
        config: &WorkerConfig,
        outbox: &std::path::Path,
        slot: usize,
        events: Option<mpsc::UnboundedSender<WorkerEvent>>,
    ) -> Result<Process, String> {
        let mut command = tokio::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&config.station.root)
            .envs(slot_env(config, outbox, slot))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, as in per-task mode: stopping the slot stops what it started.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", argv[0]))?;
        let group = ProcessGroup::of(&child);
        let pid = child.id().unwrap_or_default();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(format!("`{}` started without its pipes", argv[0]));
        };
        let (tx, lines) = mpsc::channel(LINES_AHEAD);
        tokio::spawn(read_lines(stdout, tx));
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_task = tokio::spawn(forward_stderr(
            stderr,
            ForwardTo {
                events,
                slot,
                pid,
                tail: stderr_tail.clone(),
            },
        ));
        Ok(Process {
            child,
            pid,
            stdin,
            lines,
            stderr_tail,
            stderr_task,
            group,
        })
    }

    async fn send(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.stdin.write_all(line).await?;
        self.stdin.flush().await
    }

    /// How it ended, if it has.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten()?;
        self.group.ended();
        Some(status)
    }

    /// The last lines of its stderr, after letting the rest drain for a moment.
    async fn stderr_tail(&mut self) -> String {
        // A finished JoinHandle must not be polled again.
        if !self.stderr_task.is_finished() {
            let _ = tokio::time::timeout(STDERR_DRAIN, &mut self.stderr_task).await;
        }
        let lines = self.stderr_tail.lock().expect("not poisoned");
        let text: Vec<&str> = lines.iter().map(String::as_str).collect();
        stderr_tail(text.join("\n").as_bytes())
    }
}

/// Where a process's stderr lines go.
struct ForwardTo {
    events: Option<mpsc::UnboundedSender<WorkerEvent>>,
    slot: usize,
    pid: u32,
    tail: Arc<Mutex<VecDeque<String>>>,
}

/// Reads `stdout` line by line into `tx` until it ends (or nobody listens).
async fn read_lines(stdout: ChildStdout, tx: mpsc::Sender<FromAgent>) {
    let mut reader = BufReader::new(stdout);
    let cap = mailbox::MAX_FILE_BYTES;
    loop {
        let mut line = Vec::new();
        match (&mut reader)
            .take(cap + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let item = if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            FromAgent::Line(line)
        } else if line.len() as u64 <= cap {
            // The last line, without an end.
            FromAgent::Line(line)
        } else {
            skip_line(&mut reader).await;
            FromAgent::TooLong
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// Skips the rest of a line (or of the stream).
async fn skip_line(reader: &mut BufReader<ChildStdout>) {
    loop {
        let buf = match reader.fill_buf().await {
            Ok(buf) if !buf.is_empty() => buf,
            _ => return,
        };
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(end + 1);
            return;
        }
        let n = buf.len();
        reader.consume(n);
    }
}

/// Forwards `stderr` line by line to the worker's log, keeping the last lines.
async fn forward_stderr(stderr: ChildStderr, to: ForwardTo) {
    let mut reader = BufReader::new(stderr);
    loop {
        let mut bytes = Vec::new();
        match (&mut reader)
            .take(STDERR_LINE_BYTES)
            .read_until(b'\n', &mut bytes)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&bytes)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        {
            let mut tail = to.tail.lock().expect("not poisoned");
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
        }
        tracing::debug!(slot = to.slot, pid = to.pid, "agent stderr: {line}");
        if let Some(events) = &to.events {
            let _ = events.send(WorkerEvent::AgentStderr {
                slot: to.slot,
                pid: to.pid,
                line,
            });
        }
    }
}

/// The environment of a slot's process, besides the worker's own: what stays the same from
/// task to task (the task's own fields come in its line).
fn slot_env(
    config: &WorkerConfig,
    outbox: &std::path::Path,
    slot: usize,
) -> Vec<(&'static str, String)> {
    vec![
        ("THREEOX_AGENT", config.agent.clone()),
        ("THREEOX_STATION", config.station.root.display().to_string()),
        ("THREEOX_REPLY_DIR", outbox.display().to_string()),
        ("THREEOX_MODE", "persistent".to_string()),
        ("THREEOX_SLOT", slot.to_string()),
    ]
}

/// The line that hands a task to a process: what per-task mode passes as stdin and
/// `THREEOX_*` variables, as one JSON object and a newline.
fn request_line(job: &Job) -> Vec<u8> {
    let message = &job.message;
    let request = json!({
        "version": LINE_VERSION,
        "task_id": message.task_id,
        "run_id": message.run_id,
        "workflow": message.workflow,
        "task": message.task,
        "task_ref": message.task_ref,
        "task_type": message.task_type.as_deref().unwrap_or("SIMPLE"),
        "attempt": message.attempt,
        "agent": job.config.agent,
        "message": job.message_path.display().to_string(),
        "input": message.input,
    });
    let mut line = serde_json::to_vec(&request).expect("a JSON value always serialises");
    line.push(b'\n');
    line
}

/// What a line from a process means for the task `task_id` it runs.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Not an answer to this task: logged, and the slot waits on.
    Refused(String),
    /// An `IN_PROGRESS` answer: a heartbeat, with what the agent says it is doing.
    Progress(Option<String>),
    /// The final answer (or a malformed answer to this task, which fails it).
    Final(Served),
}

/// An answer line, checked field by field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerLine {
    #[serde(default = "line_version")]
    version: u32,
    #[allow(
        dead_code,
        reason = "checked before parsing; named so it is a known field"
    )]
    task_id: String,
    status: ReplyStatus,
    #[serde(default)]
    output: Value,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    logs: Vec<String>,
}

fn line_version() -> u32 {
    LINE_VERSION
}

/// Reads one line from a process running task `task_id`.
fn judge(line: &[u8], task_id: &str) -> Verdict {
    let quote = || {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        let quote: String = text.chars().take(STDOUT_QUOTE_CHARS).collect();
        let more = if quote.len() < text.len() { "..." } else { "" };
        format!("{quote}{more}")
    };
    let value: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(e) => return Verdict::Refused(format!("not valid JSON ({e}): {}", quote())),
    };
    let Some(object) = value.as_object() else {
        return Verdict::Refused(format!("not a JSON object: {}", quote()));
    };
    match object.get("task_id") {
        Some(Value::String(id)) if id == task_id => {}
        Some(Value::String(other)) => {
            return Verdict::Refused(format!(
                "the line answers task `{other}`, but this process is running task `{task_id}`; answer each task line with its own `task_id`"
            ));
        }
        _ => {
            return Verdict::Refused(format!(
                "the line has no `task_id` string; an answer names the task it answers: {}",
                quote()
            ));
        }
    }
    let malformed = |problem: String| {
        Verdict::Final(Served::failed(format!(
            "the agent's answer to the task is malformed: {problem}"
        )))
    };
    let answer: AnswerLine = match serde_json::from_value(value) {
        Ok(answer) => answer,
        Err(e) if e.to_string().contains("unknown variant") => {
            return malformed(format!(
                "{e}; status must be COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS"
            ));
        }
        Err(e) => return malformed(e.to_string()),
    };
    if answer.version != LINE_VERSION {
        return malformed(format!(
            "version {} is not supported; write version: {LINE_VERSION} (or leave it out)",
            answer.version
        ));
    }
    let output = match answer.output {
        Value::Null => Value::Object(Default::default()),
        output @ Value::Object(_) => output,
        _ => return malformed("`output` must be a JSON object".to_string()),
    };
    if let Some(problem) = mailbox::limits::nesting_problem("`output`", &output) {
        return malformed(problem);
    }
    if answer.status == ReplyStatus::InProgress {
        return Verdict::Progress(answer.reason);
    }
    Verdict::Final(Served {
        status: answer.status,
        output,
        reason: answer.reason,
        logs: answer.logs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_answer(line: &str) -> Served {
        match judge(line.as_bytes(), "T1") {
            Verdict::Final(answer) => answer,
            other => panic!("not final: {other:?}"),
        }
    }

    fn refused(line: &str) -> String {
        match judge(line.as_bytes(), "T1") {
            Verdict::Refused(reason) => reason,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn an_answer_to_the_task_is_its_reply() {
        let answer = final_answer(
            r#"{"task_id": "T1", "status": "COMPLETED", "output": {"n": 2}, "logs": ["a"]}"#,
        );
        assert_eq!(
            answer,
            Served {
                status: ReplyStatus::Completed,
                output: json!({"n": 2}),
                reason: None,
                logs: vec!["a".into()],
            }
        );
        let answer = final_answer(r#"{"task_id": "T1", "status": "FAILED", "reason": "no"}"#);
        assert_eq!(
            (answer.status, answer.output, answer.reason.as_deref()),
            (ReplyStatus::Failed, json!({}), Some("no"))
        );
        assert_eq!(
            judge(
                br#"{"task_id": "T1", "status": "IN_PROGRESS", "reason": "thinking"}"#,
                "T1"
            ),
            Verdict::Progress(Some("thinking".into()))
        );
    }

    #[test]
    fn lines_that_do_not_answer_the_task_are_refused() {
        assert!(
            refused("hello").starts_with("not valid JSON"),
            "{}",
            refused("hello")
        );
        assert!(refused("[1]").starts_with("not a JSON object: [1]"));
        assert!(refused(r#"{"status": "COMPLETED"}"#).contains("no `task_id`"));
        let reason = refused(r#"{"task_id": "T0", "status": "COMPLETED"}"#);
        assert!(
            reason.contains("answers task `T0`") && reason.contains("running task `T1`"),
            "{reason}"
        );
    }

    #[test]
    fn a_malformed_answer_to_the_task_fails_it() {
        let reason = |line: &str| final_answer(line).reason.unwrap();
        assert!(reason(r#"{"task_id": "T1", "status": "DONE"}"#).contains("status must be"));
        assert!(
            reason(r#"{"task_id": "T1", "status": "COMPLETED", "outptu": {}}"#)
                .contains("unknown field `outptu`")
        );
        assert!(reason(r#"{"task_id": "T1"}"#).contains("missing field `status`"));
        assert!(
            reason(r#"{"task_id": "T1", "status": "COMPLETED", "output": [1]}"#)
                .contains("`output` must be a JSON object")
        );
        assert!(
            reason(r#"{"version": 2, "task_id": "T1", "status": "COMPLETED"}"#)
                .contains("version 2 is not supported")
        );
    }
}
