//! The worker runner: turns any command into an agent (`3ox agent run <name> -- <command>`).
//!
//! A [`Worker`] is a handle to a tokio task that owns one agent's inbox. The task:
//!
//! 1. re-runs messages left in `1N.3OX/claimed/` without a final reply (a worker died while
//!    running them; delivery is at least once);
//! 2. watches `1N.3OX/` with `notify`. Events are only hints: on any event, on a watcher error
//!    and every [`WorkerConfig::rescan_every`] it rescans the folder;
//! 3. claims a message by renaming it into `1N.3OX/claimed/` (a rename that finds nothing means
//!    another worker took it), never holding more than `concurrency` messages at once, so the
//!    rest stays in the inbox for other workers of the same agent;
//! 4. runs the command once per message: the working folder is the station root, the task
//!    `input` is JSON on stdin, and `THREEOX_*` variables say which task it is (see
//!    [`task_env`]). In [`AgentMode::Persistent`] it instead keeps one long-lived process per
//!    slot and speaks JSON lines with it, one task line in and one answer line out
//!    ([`persistent`]). For an agent served in-process (the LLM agent,
//!    [`Runner::InProcess`]) it hands the message to its [`TaskHandler`];
//! 5. turns the result into a reply (see [`reply_for`]) and writes it atomically and durably
//!    as `0UT.3OX/<task_id>.reply.yaml`. While the command runs longer than the heartbeat
//!    interval it writes `IN_PROGRESS` replies `<task_id>.hb-<n>.yaml`.
//!
//! The worker never moves a claimed message afterwards: the orchestrator archives it into
//! `1N.3OX/done/` once it has applied the final reply. A message that does not parse goes to
//! `1N.3OX/rejected/` with a `<name>.why.yaml` note; when its first lines still name a task
//! id and token ([`MessageHeader`]), the worker first answers it with a FAILED reply
//! `<task_id>.refused.reply.yaml` giving the reason, so the attempt fails (and is retried by
//! its policy) instead of waiting forever.
//!
//! While a claimed message runs, the worker holds a lock on it (`File::try_lock`); a worker
//! starting up skips claimed messages that another live worker holds. Locks die with their
//! process, so a crashed worker's messages are picked up again.

mod persistent;

use std::collections::VecDeque;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::mailbox::atomic::{self, Durability};
use crate::mailbox::message::{MessageHeader, TaskMessage};
use crate::mailbox::reply::{self, REPLY_VERSION, Reply, ReplyStatus};
use crate::mailbox::{self, CLAIMED, DONE, REJECTED};
use crate::station::{AgentMode, Station};

/// How much of a failed command's standard error goes into the reply's reason.
const STDERR_TAIL_LINES: usize = 20;
const STDERR_TAIL_BYTES: usize = 2048;
/// How much of a non-object standard output is quoted in the reason.
const STDOUT_QUOTE_CHARS: usize = 200;

/// What a worker needs to know.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub station: Station,
    /// The agent's name: the worker serves `agents/<agent>/1N.3OX/`.
    pub agent: String,
    /// What serves each task: a command, or a handler in this process.
    pub runner: Runner,
    /// For a [`Runner::Command`]: run it once per task, or keep one long-lived process per
    /// slot. An in-process runner is always per task ([`Worker::spawn`] refuses persistent).
    pub mode: AgentMode,
    /// Tasks run at once (at least 1).
    pub concurrency: usize,
    /// How often a running task sends an IN_PROGRESS heartbeat.
    pub heartbeat: Duration,
    /// The safety-net rescan interval, for lost or missing notify events.
    pub rescan_every: Duration,
}

impl WorkerConfig {
    /// A config that runs `argv` once per task, with the default heartbeat (30 s) and rescan
    /// interval (2 s).
    pub fn new(
        station: Station,
        agent: &str,
        argv: Vec<String>,
        concurrency: usize,
    ) -> WorkerConfig {
        WorkerConfig::with_runner(station, agent, Runner::Command(argv), concurrency)
    }

    /// A config with any runner, per-task mode and the default intervals.
    pub fn with_runner(
        station: Station,
        agent: &str,
        runner: Runner,
        concurrency: usize,
    ) -> WorkerConfig {
        WorkerConfig {
            station,
            agent: agent.to_string(),
            runner,
            mode: AgentMode::PerTask,
            concurrency,
            heartbeat: Duration::from_secs(30),
            rescan_every: Duration::from_secs(2),
        }
    }
}

/// What serves a worker's tasks.
#[derive(Clone)]
pub enum Runner {
    /// Program and arguments, run once per task (the reply comes from [`reply_for`]).
    Command(Vec<String>),
    /// Code in this process, such as the LLM agent ([`crate::llm::LlmAgent`]).
    InProcess(Arc<dyn TaskHandler>),
}

impl Runner {
    /// What runs the tasks, in words, for progress lines: the command line, or the handler's
    /// description.
    pub fn describe(&self) -> String {
        match self {
            Runner::Command(argv) => argv.join(" "),
            Runner::InProcess(handler) => handler.describe(),
        }
    }

    /// The name heartbeats give for what is still running.
    fn short_name(&self) -> String {
        match self {
            Runner::Command(argv) => format!("`{}`", argv.first().map_or("", String::as_str)),
            Runner::InProcess(handler) => handler.describe(),
        }
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Runner::Command(argv) => f.debug_tuple("Command").field(argv).finish(),
            Runner::InProcess(handler) => f
                .debug_tuple("InProcess")
                .field(&handler.describe())
                .finish(),
        }
    }
}

/// Serves task messages inside the worker's process (instead of a command per task). The
/// worker claims, locks, heartbeats and writes the reply; the handler only decides it.
/// Dropping the future (the worker stops) abandons the task: its message stays claimed and
/// runs again at the next start.
pub trait TaskHandler: Send + Sync + 'static {
    /// What serves the tasks, for progress lines (`the LLM endpoint http://...`).
    fn describe(&self) -> String;
    /// Serves one message.
    fn serve<'a>(
        &'a self,
        message: &'a TaskMessage,
    ) -> Pin<Box<dyn Future<Output = Served> + Send + 'a>>;
}

/// A task's final reply, as it was decided: by a command run per task ([`reply_for`]), by
/// the answer line of a persistent process, or by a [`TaskHandler`].
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub status: ReplyStatus,
    /// The output: an object.
    pub output: Value,
    pub reason: Option<String>,
    /// Log lines kept with the attempt (the reply's `logs`).
    pub logs: Vec<String>,
}

/// What a worker reports while it works, for progress output.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// A message was claimed (or taken up again from `claimed/` at start) and its command started.
    Started {
        task_id: String,
        task: String,
        attempt: u32,
        recovered: bool,
    },
    /// The final reply for a task was written.
    Replied {
        task_id: String,
        status: ReplyStatus,
        elapsed: Duration,
        reason: Option<String>,
    },
    /// A message that does not parse was moved to `rejected/`.
    Rejected { file: String, reason: String },
    /// Persistent mode: a slot started its long-lived process.
    ProcessStarted { slot: usize, pid: u32 },
    /// Persistent mode: a slot's process ended or was stopped; the next task starts another.
    ProcessEnded {
        slot: usize,
        pid: u32,
        reason: String,
    },
    /// Persistent mode: a line a slot's process wrote on its standard error.
    AgentStderr { slot: usize, pid: u32, line: String },
    /// Persistent mode: a line from a slot's process was refused (not JSON, another task id,
    /// too long); the slot waits on for the answer to its task.
    Refused {
        task_id: String,
        pid: u32,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the command for agent `{0}` is empty")]
    NoCommand(String),
    #[error(
        "agent `{agent}` is served in-process by {runner}, which has no process to keep: persistent mode is for a command"
    )]
    PersistentInProcess { agent: String, runner: String },
    #[error("concurrency must be at least 1")]
    ZeroConcurrency,
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// A running worker: stop it with [`Worker::stop`], or wait for it with [`Worker::join`].
pub struct Worker {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts a worker on the current tokio runtime. `events` receives progress, if given.
    pub fn spawn(
        config: WorkerConfig,
        events: Option<mpsc::UnboundedSender<WorkerEvent>>,
    ) -> Result<Worker, WorkerError> {
        if matches!(&config.runner, Runner::Command(argv) if argv.is_empty()) {
            return Err(WorkerError::NoCommand(config.agent));
        }
        if let (Runner::InProcess(handler), AgentMode::Persistent) = (&config.runner, config.mode) {
            return Err(WorkerError::PersistentInProcess {
                agent: config.agent,
                runner: handler.describe(),
            });
        }
        if config.concurrency == 0 {
            return Err(WorkerError::ZeroConcurrency);
        }
        let inbox = config.station.inbox(&config.agent);
        let outbox = config.station.outbox(&config.agent);
        for dir in [inbox.join(CLAIMED), outbox.clone()] {
            std::fs::create_dir_all(&dir).map_err(|source| WorkerError::Io {
                action: "create",
                path: dir.display().to_string(),
                source,
            })?;
        }
        let cancel = CancellationToken::new();
        let actor = Actor {
            config,
            inbox,
            outbox,
            events,
            cancel: cancel.clone(),
            pending: VecDeque::new(),
            running: JoinSet::new(),
            idle: Vec::new(),
            slots_made: 0,
        };
        let task = tokio::spawn(actor.run());
        Ok(Worker { cancel, task })
    }

    /// A token that stops the worker when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Stops claiming, kills running commands (their messages stay in `claimed/` and run
    /// again at the next start) and waits for the worker to end.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.join().await;
    }

    /// Waits until the worker ends (it ends only when stopped).
    pub async fn join(self) {
        if let Err(e) = self.task.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// The worker's state, owned by its task.
struct Actor {
    config: WorkerConfig,
    inbox: PathBuf,
    outbox: PathBuf,
    events: Option<mpsc::UnboundedSender<WorkerEvent>>,
    cancel: CancellationToken,
    /// Claimed messages found at start, waiting for a free slot.
    pending: VecDeque<PathBuf>,
    /// Running tasks; in persistent mode each gives its slot back when it ends.
    running: JoinSet<Option<persistent::Slot>>,
    /// Persistent mode: slots with no task, and their processes (if started).
    idle: Vec<persistent::Slot>,
    /// Persistent mode: slots made so far, for their numbers (a panicked task loses its slot).
    slots_made: usize,
}

impl Actor {
    async fn run(mut self) {
        let (hint_tx, mut hints) = mpsc::channel::<()>(1);
        let _watcher = self.watch(hint_tx);
        self.recover();
        let mut rescan = tokio::time::interval(self.config.rescan_every);
        rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(agent = %self.config.agent, inbox = %self.inbox.display(), concurrency = self.config.concurrency, "worker started");
        loop {
            // The first tick of the interval is immediate: that is the scan at start.
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                Some(done) = self.running.join_next(), if !self.running.is_empty() => {
                    match done {
                        Ok(Some(slot)) => self.idle.push(slot),
                        Ok(None) => {}
                        Err(e) if e.is_panic() => tracing::error!(agent = %self.config.agent, "a task runner panicked: {e}"),
                        Err(_) => {}
                    }
                    self.fill_slots();
                }
                Some(()) = hints.recv() => self.fill_slots(),
                _ = rescan.tick() => self.fill_slots(),
            }
        }
        // Dropping the runners drops their children, which kills them (`kill_on_drop`).
        self.running.shutdown().await;
        // Idle persistent processes get end of input and a moment to exit by themselves.
        let mut closing = JoinSet::new();
        for slot in self.idle.drain(..) {
            closing.spawn(slot.close());
        }
        closing.join_all().await;
        tracing::info!(agent = %self.config.agent, "worker stopped");
    }

    /// Starts a notify watcher on the inbox that sends a hint on every arrival or error (not on
    /// reads: listing the inbox would otherwise wake the next listing, forever). Without a
    /// watcher the periodic rescan still finds every message, only later.
    fn watch(&self, hints: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
        use notify::Watcher as _;
        let agent = self.config.agent.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            match &event {
                Err(e) => tracing::warn!(agent = %agent, "inbox watcher error, rescanning: {e}"),
                Ok(event) if !crate::orchestrator::watch::is_arrival(event) => return,
                Ok(_) => {}
            }
            // A full channel already holds a rescan hint; one is enough.
            let _ = hints.try_send(());
        };
        let watcher = notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(&self.inbox, notify::RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    agent = %self.config.agent,
                    "cannot watch {}: {e}; falling back to a rescan every {:?} (on Linux, raise fs.inotify.max_user_watches / max_user_instances if they are exhausted)",
                    self.inbox.display(),
                    self.config.rescan_every
                );
                None
            }
        }
    }

    /// Queues the messages in `claimed/` that have no final reply and that no live worker holds.
    fn recover(&mut self) {
        let claimed_dir = self.inbox.join(CLAIMED);
        let files = match mailbox::list_mail(&claimed_dir) {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!(agent = %self.config.agent, "cannot list {}: {e}", claimed_dir.display());
                return;
            }
        };
        for path in files {
            let replied = task_id_of(&path).is_some_and(|id| self.has_final_reply(id));
            if !replied {
                tracing::info!(agent = %self.config.agent, file = %path.display(), "found a claimed message without a reply; running it again");
                self.pending.push_back(path);
            }
        }
    }

    fn has_final_reply(&self, task_id: &str) -> bool {
        let name = format!("{task_id}.reply.yaml");
        [self.outbox.join(&name), self.outbox.join(DONE).join(&name)]
            .iter()
            .any(|p| p.exists())
    }

    /// Starts tasks until every slot is busy or nothing is left to claim.
    fn fill_slots(&mut self) {
        while self.running.len() < self.config.concurrency {
            if let Some(path) = self.pending.pop_front() {
                self.start(path, true);
                continue;
            }
            let files = match mailbox::list_mail(&self.inbox) {
                Ok(files) => files,
                Err(e) => {
                    tracing::warn!(agent = %self.config.agent, "cannot list {}: {e}", self.inbox.display());
                    return;
                }
            };
            tracing::trace!(agent = %self.config.agent, path = %self.inbox.display(), messages = files.len(), "inbox scanned");
            let mut claimed_any = false;
            for file in files {
                if self.running.len() >= self.config.concurrency {
                    return;
                }
                // Events published to this agent (EVENT tasks) are not tasks to run: they
                // stay in the inbox for whoever reads events.
                if crate::mailbox::event::EventMessage::is_event_file(&file) {
                    continue;
                }
                match mailbox::move_into(&file, CLAIMED) {
                    Ok(claimed) => {
                        claimed_any = true;
                        self.start(claimed, false);
                    }
                    // Another worker of the same agent took it first.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(agent = %self.config.agent, file = %file.display(), "cannot claim: {e}")
                    }
                }
            }
            if !claimed_any {
                return;
            }
        }
    }

    /// Locks and parses a claimed message and runs it in its own task.
    fn start(&mut self, claimed: PathBuf, recovered: bool) {
        // Read before locking: on Windows a lock would keep even this process from reading.
        let message = match TaskMessage::read(&claimed) {
            Ok(message) => message,
            // Gone (archived by the orchestrator in the meantime): nothing to do.
            Err(_) if !claimed.exists() => return,
            Err(reason) => {
                self.reject(&claimed, &reason);
                return;
            }
        };
        let lock = match lock_message(&claimed) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                tracing::info!(agent = %self.config.agent, file = %claimed.display(), "another worker is running this message; skipping it");
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(agent = %self.config.agent, file = %claimed.display(), "cannot lock the claimed message: {e}");
                return;
            }
        };
        if message.agent != self.config.agent {
            tracing::warn!(agent = %self.config.agent, task_id = %message.task_id, "the message is addressed to agent `{}`; running it anyway", message.agent);
        }
        tracing::info!(agent = %self.config.agent, task_id = %message.task_id, task = %message.task, attempt = message.attempt, recovered, path = %claimed.display(), "claimed");
        self.emit(WorkerEvent::Started {
            task_id: message.task_id.clone(),
            task: message.task.clone(),
            attempt: message.attempt,
            recovered,
        });
        let job = Job {
            config: self.config.clone(),
            outbox: self.outbox.clone(),
            message_path: claimed,
            message,
            events: self.events.clone(),
        };
        let slot = match self.config.mode {
            AgentMode::PerTask => None,
            AgentMode::Persistent => Some(self.idle.pop().unwrap_or_else(|| {
                self.slots_made += 1;
                persistent::Slot::new(self.slots_made, self.events.clone())
            })),
        };
        self.running.spawn(async move {
            let slot = job.run(slot).await;
            drop(lock);
            slot
        });
    }

    /// Moves a claimed message that does not parse into `1N.3OX/rejected/` with a note and,
    /// when its header names a task id and token, answers it with a FAILED reply giving the
    /// reason, so that the orchestrator fails the attempt instead of waiting for it.
    fn reject(&self, claimed: &Path, reason: &str) {
        // Before the move: the reply is what the orchestrator waits for; written first, a
        // crash between the two leaves the message claimed, and the next start refuses it
        // again under the same reply name (the orchestrator applies one reply per attempt).
        if let Some(header) = MessageHeader::read(claimed) {
            let reply = Reply {
                version: REPLY_VERSION,
                task_id: header.task_id.clone(),
                status: ReplyStatus::Failed,
                output: Value::Object(Default::default()),
                reason: Some(format!(
                    "agent `{}` refused the task message: {reason}",
                    self.config.agent
                )),
                run_id: header.run_id,
                token: Some(header.token),
                logs: vec![],
            };
            let path = self
                .outbox
                .join(format!("{}.refused.reply.yaml", header.task_id));
            if let Err(e) = atomic::write(&path, reply.to_yaml().as_bytes(), Durability::Durable) {
                tracing::error!(agent = %self.config.agent, task_id = %header.task_id, "cannot write the refusal reply {}: {e}", path.display());
            }
        }
        // The name is the sender's text: no control characters in logs or file names, and
        // an earlier refused file of the same name is kept (the newcomer gets `x.2.yaml`).
        let file = crate::mailbox::display_name(claimed);
        tracing::warn!(agent = %self.config.agent, %file, "rejecting a message: {reason}");
        let dir = self.inbox.join(REJECTED);
        let moved = crate::mailbox::move_to_dir(claimed, &dir, std::ffi::OsStr::new(&file))
            .and_then(|target| {
                let name = crate::mailbox::display_name(&target);
                reply::write_rejection_note(
                    &dir.join(format!("{name}.why.yaml")),
                    &name,
                    reason,
                    Utc::now(),
                )
            });
        if let Err(e) = moved {
            tracing::error!(agent = %self.config.agent, %file, "cannot move the bad message to {}: {e}", dir.display());
        }
        self.emit(WorkerEvent::Rejected {
            file,
            reason: reason.to_string(),
        });
    }

    fn emit(&self, event: WorkerEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }
}

/// The task id a claimed message's file name promises (`<task_id>.task.yaml`).
fn task_id_of(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()?.strip_suffix(".task.yaml")
}

/// Opens a claimed message and locks it for as long as the returned file lives; `None` when
/// another process holds it. The test takes an exclusive lock; the lock kept is shared, so
/// the command can still read the message (`THREEOX_MESSAGE`) where locks are mandatory
/// (Windows).
fn lock_message(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    let file = std::fs::File::open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    file.unlock()?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        // Another worker started up in between and took it.
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// One task: run the command, write the reply.
struct Job {
    config: WorkerConfig,
    outbox: PathBuf,
    message_path: PathBuf,
    message: TaskMessage,
    events: Option<mpsc::UnboundedSender<WorkerEvent>>,
}

impl Job {
    /// Runs the task (per task, or on `slot`'s process) and writes its reply; gives the slot
    /// back.
    async fn run(self, mut slot: Option<persistent::Slot>) -> Option<persistent::Slot> {
        let started = Instant::now();
        let answer = match (&self.config.runner, &mut slot) {
            (Runner::Command(argv), Some(slot)) => slot.serve(&self, argv).await,
            (Runner::Command(argv), None) => Some(self.run_command(argv).await),
            (Runner::InProcess(handler), _) => {
                let handler = handler.clone();
                Some(self.with_heartbeats(handler.serve(&self.message)).await)
            }
        };
        if let Some(answer) = answer {
            self.reply(answer, started.elapsed()).await;
        }
        slot
    }

    fn emit(&self, event: WorkerEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }

    /// Writes the final reply `<task_id>.reply.yaml`.
    async fn reply(&self, answer: Served, elapsed: Duration) {
        let Served {
            status,
            output,
            reason,
            logs,
        } = answer;
        let reply = Reply {
            version: REPLY_VERSION,
            task_id: self.message.task_id.clone(),
            status,
            output,
            reason: reason.clone(),
            run_id: Some(self.message.run_id.clone()),
            token: Some(self.message.token.clone()),
            logs,
        };
        let path = self
            .outbox
            .join(format!("{}.reply.yaml", self.message.task_id));
        match write_reply(path.clone(), reply).await {
            Ok(()) => {
                tracing::info!(agent = %self.config.agent, task_id = %self.message.task_id, ?status, elapsed_ms = elapsed.as_millis() as u64, "reply written");
                if let Some(events) = &self.events {
                    let _ = events.send(WorkerEvent::Replied {
                        task_id: self.message.task_id.clone(),
                        status,
                        elapsed,
                        reason,
                    });
                }
            }
            Err(e) => tracing::error!(
                agent = %self.config.agent,
                task_id = %self.message.task_id,
                "cannot write the reply {}: {e}; the message stays claimed and runs again at the next start",
                path.display()
            ),
        }
    }

    /// Runs the command and maps how it ended to the reply ([`reply_for`]).
    async fn run_command(&self, argv: &[String]) -> Served {
        let outcome = self.execute(argv).await;
        match &outcome {
            Outcome::Exited {
                status,
                stdout,
                stderr,
            } => tracing::info!(
                agent = %self.config.agent,
                task_id = %self.message.task_id,
                exit = %status,
                stdout_bytes = stdout.len(),
                stderr_bytes = stderr.len(),
                "command ended"
            ),
            Outcome::CannotStart(reason) => {
                tracing::info!(agent = %self.config.agent, task_id = %self.message.task_id, "command did not run: {reason}")
            }
        }
        let (status, output, reason) = reply_for(outcome);
        Served {
            status,
            output,
            reason,
            logs: vec![],
        }
    }

    /// Runs the command to its end, sending heartbeats while it runs.
    async fn execute(&self, argv: &[String]) -> Outcome {
        let mut command = tokio::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&self.config.station.root)
            .envs(task_env(
                &self.config,
                &self.outbox,
                &self.message_path,
                &self.message,
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so that stopping the task stops what it started too
        // (`sh -c 'a | b'`, a script's children), not only the direct child.
        #[cfg(unix)]
        command.process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return Outcome::CannotStart(format!("cannot start `{}`: {e}", argv[0])),
        };
        let mut group = ProcessGroup::of(&child);
        let stdin = child.stdin.take();
        let input =
            serde_json::to_vec(&self.message.input).expect("a JSON value always serialises");
        let feed = async move {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input closes the pipe early: not an error.
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
            }
        };
        let finished = async move {
            let ((), output) = tokio::join!(feed, child.wait_with_output());
            // Ended by itself: what it left behind is not followed further. Dropped before
            // this point, `group` kills the whole process group.
            group.ended();
            output
        };
        match self.with_heartbeats(finished).await {
            Ok(output) => Outcome::Exited {
                status: output.status,
                stdout: output.stdout,
                stderr: output.stderr,
            },
            Err(e) => Outcome::CannotStart(format!("lost track of `{}`: {e}", argv[0])),
        }
    }

    /// Waits for `work`, sending an IN_PROGRESS heartbeat every interval while it runs.
    async fn with_heartbeats<T>(&self, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        let every = self.config.heartbeat;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut beats = 0u64;
        let started = Instant::now();
        loop {
            tokio::select! {
                done = &mut work => return done,
                _ = heartbeat.tick() => {
                    beats = self.send_heartbeat(beats + 1, started.elapsed(), None).await;
                }
            }
        }
    }

    /// Writes heartbeat number `n` or later: a task run again after a crash skips the numbers
    /// its earlier run used, so no reply file is ever overwritten. Returns the number used.
    /// `reason` is what the agent said it is doing, if it said so; else the time it has run.
    async fn send_heartbeat(&self, mut n: u64, elapsed: Duration, reason: Option<String>) -> u64 {
        let name = |n: u64| format!("{}.hb-{n}.yaml", self.message.task_id);
        while self.outbox.join(name(n)).exists() || self.outbox.join(DONE).join(name(n)).exists() {
            n += 1;
        }
        let reply = Reply {
            version: REPLY_VERSION,
            task_id: self.message.task_id.clone(),
            status: ReplyStatus::InProgress,
            output: Value::Object(Default::default()),
            reason: Some(reason.unwrap_or_else(|| {
                format!(
                    "{} still running after {}",
                    self.config.runner.short_name(),
                    humantime::format_duration(round_secs(elapsed))
                )
            })),
            run_id: Some(self.message.run_id.clone()),
            token: Some(self.message.token.clone()),
            logs: vec![],
        };
        let path = self.outbox.join(name(n));
        if let Err(e) = write_reply(path.clone(), reply).await {
            tracing::warn!(agent = %self.config.agent, task_id = %self.message.task_id, "cannot write the heartbeat {}: {e}", path.display());
        }
        n
    }
}

/// The process group of a running task's command. Dropped before the command ended (the
/// worker stops, or the task is cancelled), it kills the whole group: `kill_on_drop` alone
/// reaches only the direct child and would leave its children running.
struct ProcessGroup {
    id: Option<u32>,
}

impl ProcessGroup {
    fn of(child: &tokio::process::Child) -> ProcessGroup {
        ProcessGroup { id: child.id() }
    }

    /// The command ended by itself: leave whatever it left behind alone.
    fn ended(&mut self) {
        self.id = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pgid) = self.id.and_then(|id| i32::try_from(id).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn round_secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

async fn write_reply(path: PathBuf, reply: Reply) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || {
        atomic::write(&path, reply.to_yaml().as_bytes(), Durability::Durable)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The environment a task's command gets, besides the worker's own.
pub fn task_env(
    config: &WorkerConfig,
    outbox: &Path,
    message_path: &Path,
    message: &TaskMessage,
) -> Vec<(&'static str, String)> {
    vec![
        ("THREEOX_MESSAGE", message_path.display().to_string()),
        ("THREEOX_TASK_ID", message.task_id.clone()),
        ("THREEOX_RUN_ID", message.run_id.clone()),
        ("THREEOX_TASK", message.task.clone()),
        ("THREEOX_TASK_REF", message.task_ref.clone()),
        ("THREEOX_ATTEMPT", message.attempt.to_string()),
        ("THREEOX_AGENT", config.agent.clone()),
        ("THREEOX_STATION", config.station.root.display().to_string()),
        ("THREEOX_REPLY_DIR", outbox.display().to_string()),
        (
            "THREEOX_TASK_TYPE",
            message
                .task_type
                .clone()
                .unwrap_or_else(|| "SIMPLE".to_string()),
        ),
    ]
}

impl Served {
    fn failed(reason: String) -> Served {
        Served {
            status: ReplyStatus::Failed,
            output: Value::Object(Default::default()),
            reason: Some(reason),
            logs: vec![],
        }
    }
}

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    Exited {
        status: ExitStatus,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
    /// The command could not be started (or waited for); the text says why.
    CannotStart(String),
}

/// Maps how a command ended to a reply's status, output and reason:
///
/// - exit 0: standard output read as JSON, else YAML (empty means `{}`); an object is the
///   output of a COMPLETED reply, anything else is FAILED;
/// - a non-zero exit code: FAILED, `exit code N: <tail of stderr>`;
/// - killed by a signal: FAILED, naming the signal;
/// - could not start: FAILED with the OS error.
pub fn reply_for(outcome: Outcome) -> (ReplyStatus, Value, Option<String>) {
    let empty = || Value::Object(Default::default());
    let (status, stdout, stderr) = match outcome {
        Outcome::CannotStart(reason) => return (ReplyStatus::Failed, empty(), Some(reason)),
        Outcome::Exited {
            status,
            stdout,
            stderr,
        } => (status, stdout, stderr),
    };
    if status.success() {
        return match parse_output(&stdout) {
            Ok(output) => (ReplyStatus::Completed, output, None),
            Err(reason) => (ReplyStatus::Failed, empty(), Some(reason)),
        };
    }
    (
        ReplyStatus::Failed,
        empty(),
        Some(describe_exit(status, &stderr_tail(&stderr))),
    )
}

/// How a process ended, with the tail of its standard error: `exit code 3: <tail>`,
/// `killed by signal 9 (SIGKILL) (nothing on standard error)`.
fn describe_exit(status: ExitStatus, tail: &str) -> String {
    let how = match (status.code(), signal_of(status)) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!(
            "killed by signal {signal}{}",
            signal_name(signal)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        (None, None) => format!("ended abnormally ({status})"),
    };
    if tail.is_empty() {
        format!("{how} (nothing on standard error)")
    } else {
        format!("{how}: {tail}")
    }
}

/// Reads a successful command's standard output as the task output.
fn parse_output(stdout: &[u8]) -> Result<Value, String> {
    if stdout.len() as u64 > mailbox::MAX_FILE_BYTES {
        return Err(format!(
            "the command printed {} bytes; a reply may have at most {}",
            stdout.len(),
            mailbox::MAX_FILE_BYTES
        ));
    }
    let text = String::from_utf8_lossy(stdout);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let value =
        serde_json::from_str::<Value>(trimmed).or_else(|_| serde_yaml::from_str::<Value>(trimmed));
    match value {
        Ok(value) if value.is_object() => Ok(value),
        _ => {
            let quote: String = trimmed.chars().take(STDOUT_QUOTE_CHARS).collect();
            let more = if quote.len() < trimmed.len() {
                "..."
            } else {
                ""
            };
            Err(format!(
                "the command succeeded but its standard output is not a JSON or YAML object: {quote}{more}"
            ))
        }
    }
}

/// The last lines of standard error, at most [`STDERR_TAIL_LINES`] lines and about
/// [`STDERR_TAIL_BYTES`] bytes.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
    if tail.len() > STDERR_TAIL_BYTES {
        let mut cut = tail.len() - STDERR_TAIL_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail = format!("...{}", &tail[cut..]);
    }
    tail.trim().to_string()
}

#[cfg(unix)]
fn signal_of(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn signal_of(_status: ExitStatus) -> Option<i32> {
    None
}

/// Names of the signals a task is commonly killed by.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn exited(code: i32, stdout: &str, stderr: &str) -> Outcome {
        use std::os::unix::process::ExitStatusExt as _;
        Outcome::Exited {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn stdout_becomes_the_output() {
        let (status, output, reason) = reply_for(exited(0, "{\"n\": 2}\n", ""));
        assert_eq!(
            (status, output["n"].clone(), reason),
            (ReplyStatus::Completed, Value::from(2), None)
        );
        let (status, output, _) = reply_for(exited(0, "n: 3\nok: true\n", ""));
        assert_eq!(
            (status, output["n"].clone()),
            (ReplyStatus::Completed, Value::from(3))
        );
        let (status, output, _) = reply_for(exited(0, "  \n", ""));
        assert_eq!(
            (status, output),
            (ReplyStatus::Completed, serde_json::json!({}))
        );
    }

    #[cfg(unix)]
    #[test]
    fn failures_say_why() {
        let (status, _, reason) = reply_for(exited(0, "[1, 2]", ""));
        assert_eq!(status, ReplyStatus::Failed);
        assert!(
            reason
                .unwrap()
                .contains("not a JSON or YAML object: [1, 2]")
        );
        let stderr: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let (status, _, reason) = reply_for(exited(3, "", &stderr));
        let reason = reason.unwrap();
        assert_eq!(status, ReplyStatus::Failed);
        assert!(reason.starts_with("exit code 3: line 11\n"), "{reason}");
        assert!(
            reason.ends_with("line 30") && !reason.contains("line 10\n"),
            "{reason}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_signal_is_named() {
        use std::os::unix::process::ExitStatusExt as _;
        let outcome = Outcome::Exited {
            status: ExitStatus::from_raw(9),
            stdout: vec![],
            stderr: vec![],
        };
        let (_, _, reason) = reply_for(outcome);
        assert_eq!(
            reason.unwrap(),
            "killed by signal 9 (SIGKILL) (nothing on standard error)"
        );
    }

    #[test]
    fn a_long_stderr_is_cut_to_its_end() {
        let tail = stderr_tail("é".repeat(3000).as_bytes());
        assert!(tail.starts_with("...") && tail.len() <= STDERR_TAIL_BYTES + 4);
    }

    struct Nothing;

    impl TaskHandler for Nothing {
        fn describe(&self) -> String {
            "a test handler".into()
        }

        fn serve<'a>(
            &'a self,
            _message: &'a TaskMessage,
        ) -> Pin<Box<dyn Future<Output = Served> + Send + 'a>> {
            Box::pin(async { Served::failed("not called".into()) })
        }
    }

    /// An in-process handler has no process to keep: a persistent worker for it is refused
    /// before anything is created.
    #[test]
    fn persistent_mode_is_refused_for_an_in_process_runner() {
        let dir = tempfile::tempdir().unwrap();
        let station = Station::at(dir.path()).unwrap();
        let mut config =
            WorkerConfig::with_runner(station, "llm", Runner::InProcess(Arc::new(Nothing)), 1);
        config.mode = AgentMode::Persistent;
        let error = match Worker::spawn(config, None) {
            Err(error) => error.to_string(),
            Ok(_) => panic!("a persistent in-process worker was started"),
        };
        assert!(
            error.contains("a test handler") && error.contains("persistent mode is for a command"),
            "{error}"
        );
        assert!(!dir.path().join("agents").exists());
    }
}
