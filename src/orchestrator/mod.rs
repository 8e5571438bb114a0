//! The orchestrator: the imperative shell around the engine.
//!
//! A run is driven by an actor ([`RunActor`]) that owns the run's state and journal. It
//! reads wake-ups from the outbox watcher ([`watch`]), its own timer (the earliest retry
//! due, derived from the state) and a periodic safety rescan, and a control channel. For
//! each batch of inputs it asks [`engine::step`] what follows, appends the changes to the
//! journal (one fsync for the batch), and only then acts: delivers task messages, archives
//! handled messages and replies, moves refused replies aside with a note, and refreshes the
//! snapshot ([`snapshot`]). [`managed`] runs the station's agents that have a command.
//! A person's operations on a run (pause, terminate, skip, ...) arrive as request files in
//! the run's control folder, or are applied by the command itself when nobody drives the run
//! ([`control`]).

pub mod capacity;
pub mod children;
pub mod control;
pub mod event;
pub mod http;
pub mod index;
pub mod load;
pub mod lost_tail;
pub mod managed;
pub mod ownership;
pub mod progress;
pub mod runtime;
pub mod served;
pub mod snapshot;
pub mod timers;
pub mod watch;

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::definition::{TaskDef, TaskKind, WorkflowDef};
use crate::engine::{self, Change, Ctx, Failure, Input, RunState, RunStatus};
use crate::journal::{Journal, JournalError, Record};
use crate::mailbox::approval::{self, ApprovalRequest, Mail, StationConfig};
use crate::mailbox::atomic::{self, Durability};
use crate::mailbox::message::{MESSAGE_VERSION, TaskMessage};
use crate::mailbox::reply::{self, Reply};
use crate::mailbox::{self, CLAIMED, DONE};
use crate::station::{AgentDirectory, Station, StationError};
use ownership::RunLock;

pub use watch::Wake;

/// How to drive a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub durability: Durability,
    /// Safety-net rescan of every outbox, in case a notify event was lost.
    pub rescan_every: Duration,
    pub progress: progress::Mode,
    /// Start the station's agents that have a `command`.
    pub start_agents: bool,
    /// Put the run id on every progress line (`3ox up` drives many runs on one stderr).
    pub name_run: bool,
    /// The station runtime the run's driver joins (shared by every run this process drives);
    /// a driver started without one starts its own.
    pub runtime: Option<runtime::StationRuntime>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            durability: Durability::Durable,
            rescan_every: Duration::from_secs(2),
            progress: progress::Mode::Plain,
            start_agents: true,
            name_run: false,
            runtime: None,
        }
    }
}

impl RunOptions {
    /// These options with a station runtime: the one given, or a new one for `station`.
    pub fn with_runtime(mut self, station: &Station) -> RunOptions {
        if self.runtime.is_none() {
            self.runtime = Some(runtime::StationRuntime::from_env(station));
        }
        self
    }
}

/// How a run ended (or stopped).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_id: String,
    pub workflow: String,
    pub status: RunStatus,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
    /// The failing task's last attempt, when the run failed in a task.
    pub failed_attempt: Option<u32>,
    pub elapsed: Duration,
    pub tasks: usize,
    pub retries: u32,
    pub journal: PathBuf,
    /// True when the run was interrupted before it ended (it can be resumed).
    pub interrupted: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    #[error(transparent)]
    Station(#[from] StationError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Refused(String),
    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("cannot watch the outboxes: {0}")]
    Watch(#[from] notify::Error),
    #[error(
        "run {run_id} is being driven by {holder}; only one orchestrator drives a run at a time"
    )]
    Owned { run_id: String, holder: String },
    #[error("no run {run_id} in this station (no {path})")]
    NoSuchRun { run_id: String, path: String },
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> OrchestratorError {
    let action = action.into();
    move |source| OrchestratorError::Io { action, source }
}

/// Messages to a running actor.
#[derive(Debug)]
pub enum Control {
    /// Stop driving (the run stays as it is in the journal).
    Stop,
}

/// Checks, before a run starts, that every SIMPLE task of the definition has an agent.
pub fn preflight(workflow: &WorkflowDef, agents: &AgentDirectory) -> Result<(), String> {
    let mut problems = Vec::new();
    check_agents(&workflow.tasks, agents, &mut problems);
    // (io) agent-served types, `agent:` of those, EVENT sinks that name an agent.
    problems.extend(
        served::unserved(workflow, agents)
            .into_iter()
            .map(|u| format!("{}; {}", u.message, u.hint)),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn check_agents(tasks: &[TaskDef], agents: &AgentDirectory, problems: &mut Vec<String>) {
    for task in tasks {
        if task.kind() == TaskKind::Simple {
            match &task.agent {
                Some(name) if agents.get(name).is_none() => {
                    let known: Vec<_> = agents.agents.keys().map(String::as_str).collect();
                    problems.push(format!("task `{}` names agent `{name}`, which this station does not have (agents: {})", task.task_reference_name, if known.is_empty() { "none".into() } else { known.join(", ") }));
                }
                None if agents.serving(&task.name).next().is_none() => problems.push(format!(
                    "no agent serves task `{}` (ref `{}`): add `{}` to the capabilities of an agent in agents/<name>/agent.yaml",
                    task.name, task.task_reference_name, task.name
                )),
                _ => {}
            }
        }
        if task.kind() == TaskKind::Human {
            let approvers = std::iter::once(task.approver()).chain(task.escalate_to.as_deref());
            for name in approvers {
                if agents.get(name).is_none() {
                    problems.push(format!(
                        "HUMAN task `{}` asks approver `{name}`, which this station does not have: add agents/{name}/agent.yaml (`version: 1` is enough; see docs/human-tasks.md)",
                        task.task_reference_name
                    ));
                }
            }
        }
        if task.kind() == TaskKind::ForkJoinDynamic
            && task.agent.is_none()
            && let Some(name) = task
                .input_parameters
                .get("forkTaskName")
                .and_then(Value::as_str)
            && !name.contains("${")
            // Forks of an agent-served type go to the agents serving the type (served.rs).
            && task
                .input_parameters
                .get("forkTaskType")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "SIMPLE")
            && agents.serving(name).next().is_none()
        {
            problems.push(format!(
                "no agent serves task `{name}`, forked by `{}`",
                task.task_reference_name
            ));
        }
        let children: Vec<TaskDef> = task.children().cloned().collect();
        check_agents(&children, agents, problems);
    }
}

/// Starts a new run of `workflow` in `station` and drives it to its end (or until stopped
/// through `control`).
pub async fn run_workflow(
    station: &Station,
    workflow: WorkflowDef,
    source: String,
    input: Value,
    options: RunOptions,
    control: mpsc::Receiver<Control>,
) -> Result<RunOutcome, OrchestratorError> {
    station.prepare_runtime()?;
    let agents = station.agents()?;
    let mut workflow = workflow;
    children::prepare(station, &mut workflow).map_err(OrchestratorError::Refused)?;
    preflight(&workflow, &agents).map_err(OrchestratorError::Refused)?;
    let options = options.with_runtime(station);
    let run_id = ulid::Ulid::new().to_string();
    let lock = RunLock::try_acquire(&station.runs_dir(), &run_id)
        .map_err(io("lock the new run"))?
        .ok_or_else(|| OrchestratorError::Owned {
            run_id: run_id.clone(),
            holder: "another process".into(),
        })?;
    let journal = Journal::create(
        &Journal::path_for(&station.runs_dir(), &run_id),
        options.durability,
    )?;
    let managed = if options.start_agents {
        Some(
            managed::ManagedAgents::start(station, &agents)
                .map_err(io("start the managed agents"))?,
        )
    } else {
        None
    };
    let mut actor = RunActor::new(
        station.clone(),
        agents,
        journal,
        RunState::default(),
        options,
    );
    let start = Input::Start {
        run_id,
        source,
        workflow: Arc::new(workflow),
        input,
    };
    // The whole tree: the children this process drives too.
    let outcome = children::drive_tree(&mut actor, start, control).await;
    drop(lock);
    if let Some(managed) = managed {
        managed.stop().await;
    }
    outcome
}

/// Submits a new run without driving it: its journal holds only `run_started`. Returns the
/// run id; `3ox up` or `3ox resume` drives it.
pub fn submit(
    station: &Station,
    workflow: WorkflowDef,
    source: String,
    input: Value,
    durability: Durability,
) -> Result<String, OrchestratorError> {
    submit_as(
        station,
        ulid::Ulid::new().to_string(),
        workflow,
        source,
        input,
        durability,
    )
}

/// [`submit`] under the run id `run_id` (a restart chooses its new run's id first).
pub fn submit_as(
    station: &Station,
    run_id: String,
    workflow: WorkflowDef,
    source: String,
    input: Value,
    durability: Durability,
) -> Result<String, OrchestratorError> {
    station.prepare_runtime()?;
    let agents = station.agents()?;
    let mut workflow = workflow;
    children::prepare(station, &mut workflow).map_err(OrchestratorError::Refused)?;
    preflight(&workflow, &agents).map_err(OrchestratorError::Refused)?;
    let mut journal =
        Journal::create(&Journal::path_for(&station.runs_dir(), &run_id), durability)?;
    // The workflow's `inputTemplate` defaults are part of the input, as for `3ox run`.
    let input = crate::expr::mapping::workflow_input(&workflow, input);
    let change = Change::RunStarted {
        run_id: run_id.clone(),
        source,
        workflow: Box::new(workflow),
        input,
    };
    let now = Utc::now();
    let records = journal.append(&run_id, now, vec![change])?;
    let state = RunState::replay(records.iter().map(|r| (&r.change, r.at)));
    snapshot::update(
        station,
        vec![(
            run_id.clone(),
            snapshot::RunSummary::of(&state, station).at_seq(journal.last_seq()),
        )],
    )
    .map_err(io("write the state snapshot"))?;
    Ok(run_id)
}

/// Runs of the station that are RUNNING in their journal, oldest first. A journal that
/// cannot be read is logged and skipped.
pub fn running_runs(station: &Station) -> Result<Vec<String>, OrchestratorError> {
    let mut runs = Vec::new();
    let entries = match std::fs::read_dir(station.runs_dir()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
        Err(e) => return Err(io("list the runs")(e)),
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".journal.yaml"))
        .collect();
    paths.sort();
    for path in paths {
        let contents = match crate::journal::read(&path) {
            Ok(contents) => contents,
            Err(error) => {
                // One broken journal must not stop the others from being driven.
                tracing::error!(%error, "skipping a run whose journal cannot be read; `3ox doctor` reports on it");
                continue;
            }
        };
        let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
        if state.status == RunStatus::Running && !state.run_id.is_empty() {
            runs.push(state.run_id);
        }
    }
    Ok(runs)
}

/// Takes over run `run_id` (which must not be driven by anyone else), repairs a torn journal
/// tail, replays the journal, delivers again what was journaled but never delivered, and
/// drives the run to its end (or until stopped through `control`).
pub async fn resume_run(
    station: &Station,
    agents: AgentDirectory,
    run_id: &str,
    options: RunOptions,
    control: mpsc::Receiver<Control>,
) -> Result<RunOutcome, OrchestratorError> {
    let runs_dir = station.runs_dir();
    let path = Journal::path_for(&runs_dir, run_id);
    if crate::query::run_id_problem(run_id).is_some() || !path.exists() {
        return Err(OrchestratorError::NoSuchRun {
            run_id: run_id.to_string(),
            path: station.relative(&path),
        });
    }
    let Some(lock) = RunLock::try_acquire(&runs_dir, run_id).map_err(io("lock the run"))? else {
        let holder =
            RunLock::holder(&runs_dir, run_id).unwrap_or_else(|| "another process".to_string());
        return Err(OrchestratorError::Owned {
            run_id: run_id.to_string(),
            holder,
        });
    };
    let options = options.with_runtime(station);
    let (journal, contents) = Journal::open(&path, options.durability)?;
    if let Some((offset, problem)) = &contents.torn_tail {
        tracing::warn!(run = %run_id, offset, %problem, "the journal ended in a torn record (a crash mid-write); it was cut away");
    }
    let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    let mut actor = RunActor::new(station.clone(), agents, journal, state, options);
    if contents.torn_tail.is_some() {
        actor.progress.note(&format!(
            "run {run_id}: the journal's last record was torn by a crash and was cut away"
        ));
    }
    // Read before the entry is rewritten: a journal that ends below it lost its tail.
    let snapshot_seq = lost_tail::snapshot_seq(station, run_id, contents.torn_tail.is_some());
    // On disk before any message goes out again: other orchestrators on the station learn
    // from the snapshot that this run is live, and leave its replies alone.
    actor.write_snapshot_and_wait().await;
    actor.apply_archived_replies(snapshot_seq)?;
    actor.recover_mailboxes()?;
    children::recover(&mut actor)?;
    if actor.state.status != RunStatus::Running {
        // The run ended, maybe just before a crash: settle what it left in the outboxes.
        let agents: BTreeSet<String> = actor.agents.agents.keys().cloned().collect();
        actor.scan(&agents)?;
        let mut control = control;
        let runtime = actor.options.runtime.clone();
        children::wait_for_children(runtime.as_ref(), run_id, false, Some(&mut control)).await;
        children::recover(&mut actor)?;
        actor.write_snapshot_and_wait().await;
        return Ok(actor.outcome(false));
    }
    let outcome = children::drive_tree(&mut actor, Input::Tick, control).await;
    drop(lock);
    outcome
}

/// The actor that owns one run.
pub struct RunActor {
    station: Station,
    agents: AgentDirectory,
    journal: Journal,
    state: RunState,
    options: RunOptions,
    progress: progress::Progress,
    /// Reply files already handled by this actor (in case moving one aside failed).
    handled: HashSet<PathBuf>,
    last_snapshot: Instant,
    /// Changes were journaled since the snapshot was last written.
    snapshot_stale: bool,
    started: Instant,
    /// (io) HTTP calls under way.
    http: http::HttpCalls,
    /// How many commits journaled changes: the driver's idle-timer rule holds only while the
    /// state has not changed since its idle walk.
    commits: u64,
    /// Agents already named in a "no worker serves it" warning.
    warned_unserved: BTreeSet<String>,
}

/// How long a task message waits unclaimed before the driver looks for a live worker.
pub const UNSERVED_AFTER: Duration = Duration::from_secs(5);

impl RunActor {
    pub fn new(
        station: Station,
        agents: AgentDirectory,
        journal: Journal,
        state: RunState,
        options: RunOptions,
    ) -> RunActor {
        let progress = progress::Progress::for_run(options.progress, &state, options.name_run);
        RunActor {
            station,
            agents,
            journal,
            state,
            options,
            progress,
            handled: HashSet::new(),
            last_snapshot: Instant::now(),
            snapshot_stale: true,
            started: Instant::now(),
            http: http::HttpCalls::default(),
            commits: 0,
            warned_unserved: BTreeSet::new(),
        }
    }

    /// Drives the run from `first` until it ends or is stopped.
    pub async fn drive(
        &mut self,
        first: Input,
        mut control: mpsc::Receiver<Control>,
    ) -> Result<RunOutcome, OrchestratorError> {
        let outboxes: Vec<(String, PathBuf)> = self
            .agents
            .agents
            .keys()
            .map(|name| (name.clone(), self.station.outbox(name)))
            .collect();
        let runtime = match &self.options.runtime {
            Some(runtime) => runtime.clone(),
            None => {
                let runtime = runtime::StationRuntime::from_env(&self.station);
                self.options.runtime = Some(runtime.clone());
                runtime
            }
        };
        // The run id is known before the first step journals anything (a new run's is in
        // `first`): the run's routes must be in place before its first message goes out.
        let run_id = match &first {
            Input::Start { run_id, .. } => run_id.clone(),
            _ => self.state.run_id.clone(),
        };
        let control_dir = control::dir(&self.station, &run_id);
        crate::station::create_mail_dir(&control_dir).map_err(io("make the control folder"))?;
        let mut subscription =
            runtime.subscribe(&run_id, &outboxes, &control_dir, self.owned_keys());
        let mut http_results = self.http.results();
        self.step_all(vec![first])?;
        self.scan(&outboxes.iter().map(|(a, _)| a.clone()).collect())?;
        self.scan_control()?;
        let mut rescan = tokio::time::interval(self.options.rescan_every);
        rescan.tick().await;
        let mut interrupted = false;
        // The time of the last timer walk that changed nothing (and the commit count then):
        // while nothing has changed since, the wakeups due by then wait for a free slot, not
        // for time, and are not slept for again (see `next_wakeup_after`).
        let mut idle_since: Option<(chrono::DateTime<Utc>, u64)> = None;
        while self.state.status == RunStatus::Running {
            let idle = idle_since
                .filter(|(_, commits)| *commits == self.commits)
                .map(|(at, _)| at);
            let wait = self
                .state
                .next_wakeup_after(idle)
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            tokio::select! {
                Some(wake) = subscription.wakes.recv() => {
                    let mut files = Vec::new();
                    let mut all = false;
                    let mut requests = false;
                    for wake in std::iter::once(wake).chain(std::iter::from_fn(|| subscription.wakes.try_recv().ok())) {
                        match wake {
                            Wake::Files { agent, paths } => files.extend(paths.into_iter().map(|p| (agent.clone(), p))),
                            Wake::All => all = true,
                            Wake::Control => requests = true,
                        }
                    }
                    if all {
                        self.scan(&outboxes.iter().map(|(a, _)| a.clone()).collect())?;
                    } else {
                        files.sort();
                        files.dedup();
                        self.take_files(files)?;
                    }
                    if requests {
                        self.scan_control()?;
                    }
                }
                () = sleep_for(wait), if wait.is_some() => {
                    let now = Utc::now();
                    tracing::debug!(run = %self.state.run_id, "timers due");
                    if !self.step_all_at(vec![Input::Tick], now)? {
                        idle_since = Some((now, self.commits));
                    }
                }
                Some(done) = http_results.recv() => {
                    let mut inputs = Vec::new();
                    for done in std::iter::once(done).chain(std::iter::from_fn(|| http_results.try_recv().ok())) {
                        self.http.finished();
                        inputs.push(Input::HttpResult { task_id: done.task_id, outcome: done.outcome });
                    }
                    self.step_all(inputs)?;
                }
                // The station runtime rescans the folders; this writes a snapshot that was
                // held back, and says when a task waits for a worker that is not there.
                _ = rescan.tick() => {
                    self.refresh_snapshot();
                    self.warn_unserved(Utc::now());
                }
                message = control.recv() => match message {
                    Some(Control::Stop) | None => { interrupted = true; break; }
                },
            }
        }
        // On disk before the driver returns (the process may exit right after), including a
        // summary queued but not yet written.
        self.write_snapshot_and_wait().await;
        self.progress.finish();
        Ok(self.outcome(interrupted))
    }

    /// After a restart, puts the mailboxes back in line with the journal:
    /// - writes again every task message whose `task_scheduled` is in the journal but which is
    ///   in none of the places a message can be (inbox, `claimed/`, `done/`), because the crash
    ///   came between the journal append and the delivery;
    /// - archives the messages of attempts that are settled in the journal but still in the
    ///   inbox or `claimed/`, because the crash came before they were tidied away.
    fn recover_mailboxes(&mut self) -> Result<(), OrchestratorError> {
        self.recover_io()?;
        for (task_id, (task_ref, attempt)) in &self.state.task_ids {
            let Some(task) = self.state.tasks.get(task_ref) else {
                continue;
            };
            let current = task.attempt == *attempt && task.status.is_in_flight();
            if let (false, Some(agent)) = (current, &task.agent) {
                self.archive_message(agent, task_id);
            }
        }
        let closed: Vec<String> = self
            .state
            .approvals
            .values()
            .filter(|a| a.status != engine::ApprovalStatus::Open)
            .map(|a| a.request_id.clone())
            .collect();
        for request_id in closed {
            self.archive_request(&request_id);
        }
        if self.state.status != RunStatus::Running {
            return Ok(());
        }
        let mut deliveries = Vec::new();
        // Open approval requests: written again only when in neither the inbox nor `done/`.
        for request in self
            .state
            .approvals
            .values()
            .filter(|a| a.status == engine::ApprovalStatus::Open)
        {
            let inbox = self.station.inbox(&request.approver);
            let name = ApprovalRequest::file_name(&request.request_id);
            if [inbox.join(&name), inbox.join(DONE).join(&name)]
                .iter()
                .any(|p| p.exists())
            {
                continue;
            }
            if let Some((path, file)) = self.request_file(&request.request_id) {
                deliveries.push((path, file.to_yaml().into_bytes()));
            }
        }
        for task in self
            .state
            .tasks
            .values()
            .filter(|t| t.status.is_in_flight())
        {
            let (Some(task_id), Some(agent), Some(token)) =
                (&task.task_id, &task.agent, &task.token)
            else {
                continue;
            };
            let inbox = self.station.inbox(agent);
            let name = TaskMessage::file_name(task_id);
            if [
                inbox.join(&name),
                inbox.join(CLAIMED).join(&name),
                inbox.join(DONE).join(&name),
            ]
            .iter()
            .any(|p| p.exists())
            {
                continue;
            }
            let message = self.message(
                &task.task_ref,
                task_id,
                task.attempt,
                agent,
                token,
                &task.input,
                task.updated_at,
            );
            deliveries.push((inbox.join(name), message.to_yaml().into_bytes()));
        }
        if !deliveries.is_empty() {
            tracing::info!(run = %self.state.run_id, count = deliveries.len(), "delivering task messages again that a crash kept from their inbox");
        }
        atomic::write_batch(&deliveries, self.options.durability)
            .map_err(io("deliver task messages again"))
    }

    /// (io) After a restart: writes again every published event whose file is missing, and,
    /// while the run goes on, makes again every HTTP call whose result is not journaled.
    fn recover_io(&mut self) -> Result<(), OrchestratorError> {
        let mut deliveries = Vec::new();
        for published in self.state.events.values() {
            if !event::is_written(&self.station, published) {
                deliveries.push(
                    event::delivery(&self.station, &self.state, published)
                        .map_err(io("make the event folder"))?,
                );
            }
        }
        if !deliveries.is_empty() {
            tracing::info!(run = %self.state.run_id, count = deliveries.len(), "writing events again that a crash kept from their folder");
        }
        atomic::write_batch(&deliveries, self.options.durability)
            .map_err(io("write event messages again"))?;
        if self.state.status != RunStatus::Running {
            return Ok(());
        }
        let calls: Vec<(String, engine::tasks::http::HttpRequest)> = self
            .state
            .http_calls
            .iter()
            .filter(|(task_ref, call)| {
                self.state.tasks.get(*task_ref).is_some_and(|t| {
                    t.status.is_in_flight() && t.task_id.as_deref() == Some(call.task_id.as_str())
                })
            })
            .map(|(_, call)| (call.task_id.clone(), call.request.clone()))
            .collect();
        for (task_id, request) in calls {
            tracing::info!(run = %self.state.run_id, %task_id, uri = %request.uri, "making an HTTP call again whose result a crash kept from the journal");
            self.http.start(&task_id, &request);
        }
        Ok(())
    }

    fn outcome(&self, interrupted: bool) -> RunOutcome {
        let state = &self.state;
        let failed_attempt = state
            .failure
            .as_ref()
            .and_then(|f| f.task_ref.as_ref())
            .and_then(|r| state.tasks.get(r))
            .map(|t| t.attempt);
        RunOutcome {
            run_id: state.run_id.clone(),
            workflow: state.workflow.name.clone(),
            status: state.status,
            output: state.output.clone(),
            failure: state.failure.clone(),
            failed_attempt,
            elapsed: self.started.elapsed(),
            tasks: state.tasks.len(),
            retries: state.retries,
            journal: self.journal.path().to_path_buf(),
            interrupted,
        }
    }

    /// Reads every visible reply in the outboxes of `agents` and applies them as one batch.
    fn scan(&mut self, agents: &BTreeSet<String>) -> Result<(), OrchestratorError> {
        let mut files = Vec::new();
        for agent in agents {
            let outbox = self.station.outbox(agent);
            match mailbox::list_mail(&outbox) {
                Ok(found) => files.extend(found.into_iter().map(|p| (agent.clone(), p))),
                Err(error) => {
                    tracing::warn!(outbox = %outbox.display(), %error, "cannot list outbox");
                }
            }
        }
        self.take_files(files)
    }

    /// Warns (once per agent) when a task message has waited in an inbox for
    /// [`UNSERVED_AFTER`], unclaimed, and no `3ox agent run` worker serves that agent
    /// (see [`crate::station::liveness`]).
    fn warn_unserved(&mut self, now: chrono::DateTime<Utc>) {
        let waiting: Vec<(String, String, i64)> = self
            .state
            .tasks
            .values()
            .filter(|t| t.status == engine::TaskStatus::Scheduled)
            .filter_map(|t| {
                let waited = (now - t.updated_at).to_std().ok()?;
                let agent = t.agent.clone()?;
                let task_id = t.task_id.as_deref()?;
                (waited >= UNSERVED_AFTER
                    && !self.warned_unserved.contains(&agent)
                    && self
                        .station
                        .inbox(&agent)
                        .join(TaskMessage::file_name(task_id))
                        .is_file())
                .then(|| (t.task_ref.clone(), agent, waited.as_secs() as i64))
            })
            .collect();
        for (task_ref, agent, waited) in waiting {
            if self.warned_unserved.contains(&agent)
                || crate::station::liveness::has_live_worker(&self.station, &agent)
            {
                continue;
            }
            tracing::warn!(run = %self.state.run_id, task = %task_ref, %agent, waited, "a task waits for an agent no worker serves");
            self.progress.note(&format!(
                "warning: task {task_ref} has waited {waited} s in agents/{agent}/1N.3OX/ and no worker serves agent {agent}; start one with `3ox agent run {agent}` (or give agents/{agent}/agent.yaml a `command:` and 3ox starts it)"
            ));
            self.warned_unserved.insert(agent);
        }
    }

    /// The ids this run owns that an agent's file can be named after: its task ids and its
    /// approval request ids (see [`runtime`]).
    fn owned_keys(&self) -> Vec<String> {
        self.state
            .task_ids
            .keys()
            .cloned()
            .chain(self.state.approvals.keys().cloned())
            .collect()
    }

    /// Reads the files `(agent, path)` of agents' outboxes and applies them as one batch;
    /// files of another run are handed to it, when this process drives it.
    fn take_files(&mut self, files: Vec<(String, PathBuf)>) -> Result<(), OrchestratorError> {
        let mut batch = Vec::new();
        for (agent, path) in files {
            let agent = &agent;
            {
                // Gone (taken by its run), or a folder: not mail.
                match std::fs::symlink_metadata(&path) {
                    _ if self.handled.contains(&path) => continue,
                    Err(_) => continue,
                    Ok(meta) if meta.is_dir() => continue,
                    Ok(_) => {}
                }
                // Named after a task or request of another run this process drives: the
                // station runtime routes it there; not read here.
                if let Some(runtime) = &self.options.runtime
                    && let Some(key) = runtime::key_of(&path)
                    && runtime
                        .owner_of(key)
                        .is_some_and(|owner| owner != self.state.run_id)
                {
                    continue;
                }
                // Journaled and shown without control characters (a name is the sender's text).
                let file = mailbox::display_name(&path);
                let input = match approval::read_mail_opened(&path) {
                    Ok((Mail::Approval(approval), opened)) => {
                        match self.approval_input(agent, &opened, file, approval) {
                            Some(input) => input,
                            None => continue,
                        }
                    }
                    Ok((Mail::Reply(reply), _)) => {
                        match self.owner_elsewhere(agent, &reply) {
                            Some((owner, RunStatus::Running)) => {
                                // Its own driver judges it.
                                if let Some(runtime) = &self.options.runtime {
                                    runtime.forward(&owner, agent, path);
                                }
                                continue;
                            }
                            Some((owner, status)) => {
                                // Not this run's: refused with its note, but not journaled here
                                // (it would be a record of another run's business in this one).
                                let reason = format!(
                                    "run {owner} has ended ({status}); the reply came too late"
                                );
                                if let Err(error) = reply::reject(&path, &reason, Utc::now()) {
                                    tracing::warn!(file = %path.display(), %error, "cannot refuse a late reply of another run");
                                    self.handled.insert(path);
                                }
                                continue;
                            }
                            None => Input::Reply {
                                agent: agent.clone(),
                                file,
                                reply,
                            },
                        }
                    }
                    // Gone between listing and reading: another run's orchestrator took its own reply.
                    Err(_) if std::fs::symlink_metadata(&path).is_err() => continue,
                    Err(reason) => Input::BadReply {
                        agent: agent.clone(),
                        file,
                        reason,
                    },
                };
                batch.push((path, input));
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        self.note_claims(now)?;
        let mut changes = Vec::new();
        let mut dispositions = Vec::with_capacity(batch.len());
        for (path, input) in batch {
            let agent = match &input {
                Input::Reply { agent, .. } | Input::BadReply { agent, .. } => Some(agent.clone()),
                _ => None,
            };
            let received = self.receive(input, now);
            let refused = received.iter().find_map(|c| match c {
                Change::ReplyRejected { reason, .. } => Some(reason.clone()),
                _ => None,
            });
            dispositions.push((path, agent, refused));
            changes.extend(received);
        }
        // One walk for the whole batch (see `engine::receive`).
        changes.extend(self.advance(now));
        self.commit(changes, now)?;
        // The journal now holds what the replies meant: only now may they leave the outbox.
        for (path, agent, refused) in dispositions {
            let agent = agent.unwrap_or_default();
            match &refused {
                None => {
                    tracing::debug!(run = %self.state.run_id, %agent, path = %path.display(), "reply applied")
                }
                Some(reason) => {
                    tracing::debug!(run = %self.state.run_id, %agent, path = %path.display(), %reason, "reply refused")
                }
            }
            let moved = match &refused {
                None => mailbox::move_into(&path, DONE).map(drop),
                Some(reason) => reply::reject(&path, reason, now).map(drop),
            };
            if let Err(error) = moved {
                tracing::warn!(file = %path.display(), %error, "cannot move a handled reply out of the outbox");
                self.handled.insert(path);
            }
        }
        self.refresh_snapshot();
        Ok(())
    }

    /// The other run `reply` answers, with that run's status, when it is not this run's:
    /// several runs share a station's outboxes, and each leaves the replies of a run that is
    /// still going to that run's orchestrator (and refuses those of a run that has ended as
    /// too late). The owner is found from the reply's `run_id`, or else from the task message
    /// it answers; its status, from the state snapshot. `None`: the reply is this run's to
    /// judge (including a reply to no run at all).
    fn owner_elsewhere(&self, agent: &str, reply: &Reply) -> Option<(String, RunStatus)> {
        if self.state.task_ids.contains_key(&reply.task_id) {
            return None;
        }
        // A run this process drives: it is going (no need to read anything).
        if let Some(owner) = self
            .options
            .runtime
            .as_ref()
            .and_then(|runtime| runtime.owner_of(&reply.task_id))
            .filter(|owner| *owner != self.state.run_id)
        {
            return Some((owner, RunStatus::Running));
        }
        let owner = reply.run_id.clone().or_else(|| {
            let inbox = self.station.inbox(agent);
            let name = TaskMessage::file_name(&reply.task_id);
            [
                inbox.join(&name),
                inbox.join(CLAIMED).join(&name),
                inbox.join(DONE).join(&name),
            ]
            .iter()
            .find_map(|path| TaskMessage::read(path).ok())
            .map(|message| message.run_id)
        });
        let owner = owner.filter(|run| *run != self.state.run_id)?;
        let status = snapshot::read_run(&self.station, &owner)?.status;
        Some((owner, status))
    }

    /// The input for an approval file in `agent`'s outbox: refused when the file is not one
    /// only an allowed user could have written (see [`approval::check_file`]) or, when
    /// `station.yaml` gives the approver a key, not signed with it; `None` when it
    /// answers a request of another run that is still going (that run's driver judges it).
    fn approval_input(
        &self,
        agent: &str,
        opened: &std::fs::Metadata,
        file: String,
        approval: approval::Approval,
    ) -> Option<Input> {
        let bad = |reason: String| Input::BadReply {
            agent: agent.to_string(),
            file: file.clone(),
            reason,
        };
        let config = match StationConfig::load(&self.station.root) {
            Ok(config) => config,
            Err(problem) => {
                return Some(bad(format!(
                    "the station's approver list cannot be read, so no approval counts: {problem}"
                )));
            }
        };
        let allowed = config.allowed_uids(agent, &self.station.root);
        if let Err(reason) = approval::check_meta(opened, allowed.as_deref()) {
            return Some(bad(reason));
        }
        if let Err(reason) = config.check_signature(agent, &approval) {
            return Some(bad(reason));
        }
        if !self.state.approvals.contains_key(&approval.request_id) {
            let owner = approval.run_id.clone().or_else(|| {
                let inbox = self.station.inbox(agent);
                let name = ApprovalRequest::file_name(&approval.request_id);
                [inbox.join(&name), inbox.join(DONE).join(&name)]
                    .iter()
                    .find_map(|p| ApprovalRequest::read(p).ok())
                    .map(|r| r.run_id)
            });
            if let Some(owner) = owner.filter(|run| *run != self.state.run_id) {
                let status = snapshot::read_run(&self.station, &owner).map(|r| r.status);
                match status {
                    Some(RunStatus::Running) => return None,
                    Some(status) => {
                        return Some(bad(format!(
                            "request {} belongs to run {owner}, which has ended ({status}); the approval came too late",
                            approval.request_id
                        )));
                    }
                    None => {}
                }
            }
        }
        Some(Input::Approval {
            agent: agent.to_string(),
            file,
            approval,
        })
    }

    /// The approval request file for request `request_id` of the state.
    fn request_file(&self, request_id: &str) -> Option<(PathBuf, ApprovalRequest)> {
        let request = self.state.approvals.get(request_id)?;
        let name = self
            .state
            .def(&request.task_ref)
            .map_or_else(|| request.task_ref.clone(), |d| d.name.clone());
        let outbox = self
            .station
            .relative(&self.station.outbox(&request.approver));
        let text = |key: &str| {
            request
                .input
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let file = ApprovalRequest {
            version: approval::APPROVAL_VERSION,
            kind: approval::REQUEST_KIND.to_string(),
            request_id: request_id.to_string(),
            run_id: self.state.run_id.clone(),
            workflow: self.state.workflow.name.clone(),
            task_ref: request.task_ref.clone(),
            task: name,
            question: text("question"),
            why: text("why"),
            input: request.input.clone(),
            approver: request.approver.clone(),
            requested_at: request.requested_at,
            deadline: request.deadline,
            on_deadline: request.deadline.map(|_| request.on_deadline),
            reply: ApprovalRequest::reply_section(
                request_id,
                &self.state.run_id,
                &request.task_ref,
                &request.token,
                &request.approver,
                &outbox,
            ),
        };
        let path = self
            .station
            .inbox(&request.approver)
            .join(ApprovalRequest::file_name(request_id));
        Some((path, file))
    }

    /// Moves the files of the requests a person's operation withdrew into `done/`.
    fn archive_withdrawn(&self) {
        let withdrawn: Vec<String> = self
            .state
            .approvals
            .values()
            .filter(|a| a.status == engine::ApprovalStatus::Withdrawn)
            .map(|a| a.request_id.clone())
            .collect();
        for request_id in withdrawn {
            self.archive_request(&request_id);
        }
    }

    /// Moves a closed request's file out of the approver's inbox into `done/`.
    fn archive_request(&self, request_id: &str) {
        let Some(request) = self.state.approvals.get(request_id) else {
            return;
        };
        let inbox = self.station.inbox(&request.approver);
        let name = ApprovalRequest::file_name(request_id);
        let place = inbox.join(&name);
        if place.exists()
            && let Err(error) = mailbox::move_into(&place, DONE)
        {
            tracing::warn!(file = %place.display(), %error, "cannot archive a closed approval request");
        }
    }

    /// [`Ctx::load`] for this run's steps: the station runtime's counts when a runtime drives
    /// it, else none.
    fn load_lookup(&self) -> impl Fn(&str) -> usize + use<> {
        let runtime = self.options.runtime.clone();
        move |agent: &str| runtime.as_ref().map_or(0, |r| r.load_of(agent))
    }

    fn receive(&mut self, input: Input, now: chrono::DateTime<Utc>) -> Vec<Change> {
        let mut new_id = ulid::Ulid::new;
        let load = self.load_lookup();
        let mut ctx = Ctx {
            now,
            agents: &self.agents,
            new_id: &mut new_id,
            load: &load,
        };
        engine::receive(&mut self.state, input, &mut ctx)
    }

    fn advance(&mut self, now: chrono::DateTime<Utc>) -> Vec<Change> {
        let mut new_id = ulid::Ulid::new;
        let load = self.load_lookup();
        let mut ctx = Ctx {
            now,
            agents: &self.agents,
            new_id: &mut new_id,
            load: &load,
        };
        engine::advance(&mut self.state, &mut ctx)
    }

    fn step(&mut self, input: Input, now: chrono::DateTime<Utc>) -> Vec<Change> {
        let mut new_id = || ulid::Ulid::new();
        let load = self.load_lookup();
        let mut ctx = Ctx {
            now,
            agents: &self.agents,
            new_id: &mut new_id,
            load: &load,
        };
        engine::step(&mut self.state, input, &mut ctx)
    }

    fn step_all(&mut self, inputs: Vec<Input>) -> Result<(), OrchestratorError> {
        self.step_all_at(inputs, Utc::now()).map(|_| ())
    }

    /// `step_all` at `now`; says whether the inputs changed anything.
    fn step_all_at(
        &mut self,
        inputs: Vec<Input>,
        now: chrono::DateTime<Utc>,
    ) -> Result<bool, OrchestratorError> {
        self.note_claims(now)?;
        let mut changes = Vec::new();
        for input in inputs {
            changes.extend(self.step(input, now));
        }
        let changed = !changes.is_empty();
        self.commit(changes, now)?;
        self.refresh_snapshot();
        Ok(changed)
    }

    /// Journals `changes` (decided at `now`), then carries them out.
    fn commit(
        &mut self,
        changes: Vec<Change>,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), OrchestratorError> {
        if changes.is_empty() {
            return Ok(());
        }
        let (journal, run_id) = (&mut self.journal, &self.state.run_id);
        let records = runtime::off_the_driver(self.options.durability, || {
            journal.append(run_id, now, changes)
        })?;
        for record in &records {
            tracing::trace!(run = %self.state.run_id, seq = record.seq, change = ?record.change, "journal record");
        }
        tracing::debug!(
            run = %self.state.run_id,
            records = records.len(),
            last_seq = records.last().map(|r| r.seq),
            path = %self.journal.path().display(),
            "journal append"
        );
        self.commits += 1;
        self.snapshot_stale = true;
        self.progress.show(&records, &self.state);
        if records
            .iter()
            .any(|r| matches!(r.change, Change::RunStarted { .. }))
        {
            // Before any message goes out: other orchestrators on the station learn from the
            // snapshot that this run is live, and leave its replies alone.
            self.write_snapshot_now();
        }
        if let Some(runtime) = &self.options.runtime {
            runtime.publish_load(&self.state.run_id, &self.state.in_flight);
            // Before any message or request goes out: its answer must find its way here.
            let keys = records.iter().filter_map(|r| match &r.change {
                Change::TaskScheduled { task_id, .. } => Some(task_id.clone()),
                Change::ApprovalRequested { request_id, .. } => Some(request_id.clone()),
                _ => None,
            });
            runtime.register(&self.state.run_id, keys);
        }
        self.carry_out(&records)?;
        children::after_commit(self, &records)
    }

    /// Refreshes the snapshot at most twice a second, and when the run has ended. Called after
    /// a step's effects are all done: another orchestrator that reads "ended" must find every
    /// reply this run applied already moved out of the outboxes.
    fn refresh_snapshot(&mut self) {
        if self.snapshot_stale
            && (self.state.status != RunStatus::Running
                || self.last_snapshot.elapsed() > Duration::from_millis(500))
        {
            self.write_snapshot();
        }
    }

    fn carry_out(&mut self, records: &[Record]) -> Result<(), OrchestratorError> {
        let mut deliveries = Vec::new();
        // (task, agent, path) of the task messages among `deliveries`, for the log.
        let mut delivered = Vec::new();
        for record in records {
            match &record.change {
                Change::TaskScheduled {
                    task_ref,
                    task_id,
                    attempt,
                    agent,
                    token,
                    input,
                } => {
                    let message =
                        self.message(task_ref, task_id, *attempt, agent, token, input, record.at);
                    let path = self
                        .station
                        .inbox(agent)
                        .join(TaskMessage::file_name(task_id));
                    delivered.push((task_ref.clone(), agent.clone(), path.clone()));
                    deliveries.push((path, message.to_yaml().into_bytes()));
                }
                Change::ApprovalRequested { request_id, .. } => {
                    if let Some((path, request)) = self.request_file(request_id) {
                        deliveries.push((path, request.to_yaml().into_bytes()));
                    }
                }
                Change::ApprovalDecided { request_id, .. }
                | Change::ApprovalExpired { request_id, .. } => {
                    self.archive_request(request_id);
                }
                Change::TaskSkipped { task_ref, .. } => {
                    // A skipped attempt in flight: its message leaves the inbox.
                    if let Some(task) = self.state.tasks.get(task_ref)
                        && let (Some(agent), Some(task_id)) = (&task.agent, &task.task_id)
                    {
                        self.archive_message(agent, task_id);
                    }
                    self.archive_withdrawn();
                }
                Change::TaskCanceled {
                    task_ref,
                    task_id: Some(task_id),
                    ..
                } => {
                    // The run ended with the task unfinished: its message leaves the inbox
                    // (also one of this same batch not delivered yet), its request too.
                    if let Some(agent) =
                        self.state.tasks.get(task_ref).and_then(|t| t.agent.clone())
                    {
                        let path = self
                            .station
                            .inbox(&agent)
                            .join(TaskMessage::file_name(task_id));
                        deliveries.retain(|(p, _)| *p != path);
                        self.archive_message(&agent, task_id);
                    }
                    self.archive_withdrawn();
                }
                Change::RunRetried { .. }
                | Change::RunRerunFrom { .. }
                | Change::TaskUpdatedBy { .. } => {
                    self.archive_withdrawn();
                }
                Change::RunTerminated { .. } => {
                    self.archive_withdrawn();
                    // Nothing in flight will be waited for: its messages leave the inboxes.
                    for task in self
                        .state
                        .tasks
                        .values()
                        .filter(|t| t.status.is_in_flight())
                    {
                        if let (Some(agent), Some(task_id)) = (&task.agent, &task.task_id) {
                            self.archive_message(agent, task_id);
                        }
                    }
                }
                Change::TaskCompleted {
                    task_ref,
                    task_id: Some(task_id),
                    ..
                }
                | Change::TaskFailed {
                    task_ref,
                    task_id: Some(task_id),
                    ..
                } => {
                    if let Some(agent) =
                        self.state.tasks.get(task_ref).and_then(|t| t.agent.clone())
                    {
                        self.archive_message(&agent, task_id);
                    }
                }

                Change::RunTimedOut { .. } => {
                    self.archive_withdrawn();
                    // Nothing in flight will be waited for: its messages leave the inboxes.
                    for task in self
                        .state
                        .tasks
                        .values()
                        .filter(|t| t.status.is_in_flight())
                    {
                        if let (Some(agent), Some(task_id)) = (&task.agent, &task.task_id) {
                            self.archive_message(agent, task_id);
                        }
                    }
                }

                Change::HttpCallStarted {
                    task_id, request, ..
                } => self.http.start(task_id, request),
                Change::EventPublished { message_id, .. } => {
                    if let Some(published) = self.state.events.get(message_id) {
                        let file = event::delivery(&self.station, &self.state, published)
                            .map_err(io("make the event folder"))?;
                        deliveries.push(file);
                    }
                }

                Change::RunEndedByTask { .. } => {
                    // As for `3ox terminate`: what is in flight leaves the inboxes, including
                    // messages of this same batch not delivered yet.
                    self.archive_withdrawn();
                    for task in self
                        .state
                        .tasks
                        .values()
                        .filter(|t| t.status.is_in_flight())
                    {
                        if let (Some(agent), Some(task_id)) = (&task.agent, &task.task_id) {
                            let path = self
                                .station
                                .inbox(agent)
                                .join(TaskMessage::file_name(task_id));
                            deliveries.retain(|(p, _)| *p != path);
                            self.archive_message(agent, task_id);
                        }
                    }
                }

                _ => {}
            }
        }
        let durability = self.options.durability;
        runtime::off_the_driver(durability, || atomic::write_batch(&deliveries, durability))
            .map_err(io("deliver task messages"))?;
        for (task, agent, path) in delivered {
            if deliveries.iter().any(|(p, _)| *p == path) {
                tracing::debug!(run = %self.state.run_id, %task, %agent, path = %path.display(), "task message delivered");
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn message(
        &self,
        task_ref: &str,
        task_id: &str,
        attempt: u32,
        agent: &str,
        token: &str,
        input: &Value,
        at: chrono::DateTime<Utc>,
    ) -> TaskMessage {
        let name = self
            .state
            .def(task_ref)
            .map_or_else(|| task_ref.to_string(), |d| d.name.clone());
        let outbox = self.station.relative(&self.station.outbox(agent));
        TaskMessage {
            version: MESSAGE_VERSION,
            task_id: task_id.to_string(),
            run_id: self.state.run_id.clone(),
            workflow: self.state.workflow.name.clone(),
            task: name,
            task_ref: task_ref.to_string(),
            attempt,
            token: token.to_string(),
            agent: agent.to_string(),
            created_at: at,
            input: input.clone(),
            task_type: self
                .state
                .def(task_ref)
                .filter(|d| matches!(d.kind(), TaskKind::AgentServed(_)))
                .map(|d| d.type_name.clone()),
            reply: TaskMessage::reply_instructions(task_id, &self.state.run_id, token, &outbox),
        }
    }

    /// Moves a settled task's message out of the inbox (or out of `claimed/`) into `done/`.
    fn archive_message(&self, agent: &str, task_id: &str) {
        let inbox = self.station.inbox(agent);
        let name = TaskMessage::file_name(task_id);
        for place in [inbox.join(&name), inbox.join(CLAIMED).join(&name)] {
            let target = inbox.join(DONE).join(&name);
            match std::fs::rename(&place, &target) {
                Ok(()) => return,
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && !target.parent().is_some_and(std::path::Path::exists) =>
                {
                    if std::fs::create_dir_all(inbox.join(DONE)).is_ok()
                        && std::fs::rename(&place, &target).is_ok()
                    {
                        return;
                    }
                }
                Err(_) => {}
            }
        }
    }

    /// Writes the run's summary into the snapshot: queued with the station runtime's writer
    /// when there is one (see [`runtime`]), else at once.
    fn write_snapshot(&mut self) {
        if let Some(runtime) = &self.options.runtime {
            self.last_snapshot = Instant::now();
            self.snapshot_stale = false;
            let summary = snapshot::RunSummary::of(&self.state, &self.station)
                .at_seq(self.journal.last_seq());
            runtime.queue_snapshot(&self.state.run_id, summary);
            return;
        }
        self.write_snapshot_now();
    }

    /// Writes the run's summary and returns once it is on disk.
    async fn write_snapshot_and_wait(&mut self) {
        match self.options.runtime.clone() {
            Some(runtime) => {
                self.last_snapshot = Instant::now();
                self.snapshot_stale = false;
                let summary = snapshot::RunSummary::of(&self.state, &self.station)
                    .at_seq(self.journal.last_seq());
                runtime.write_snapshot(&self.state.run_id, summary).await;
            }
            None => self.write_snapshot_now(),
        }
    }

    /// Writes the run's summary into the snapshot now, in this thread.
    fn write_snapshot_now(&mut self) {
        self.last_snapshot = Instant::now();
        self.snapshot_stale = false;
        let summary =
            snapshot::RunSummary::of(&self.state, &self.station).at_seq(self.journal.last_seq());
        if let Err(error) =
            snapshot::update(&self.station, vec![(self.state.run_id.clone(), summary)])
        {
            tracing::warn!(%error, "cannot write the state snapshot");
        }
    }
}

async fn sleep_for(wait: Option<Duration>) {
    tokio::time::sleep(wait.unwrap_or(Duration::from_secs(24 * 3600))).await;
}
