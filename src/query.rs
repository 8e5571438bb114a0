//! Read-only views of a station's runs: [`status`], [`list`], [`log`] and [`history`].
//!
//! The journals are the truth: every view reads `.3ox/runs/<run>.journal.yaml` with
//! [`journal::read`] and folds it with [`RunState::replay`]; the snapshot is never consulted.
//! Nothing here writes a file or takes a lock a driver could need: whether a run is driven is
//! learned by trying a *shared* lock on its ownership lock file (`.3ox/runs/<run>.lock`),
//! released at once. A driver holds that file exclusively, so the try fails exactly when a
//! driver is alive, and two readers never mistake each other for a driver.
//!
//! Each view is a plain serde-serialisable value; `cli::{status,list,log,history}` print it
//! as text or JSON. Times are taken as parameters (`now`), so the views are pure functions of
//! the journals and the clock.

pub mod summaries;
pub mod task;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::definition::TaskKind;
use crate::engine::{Change, Failure, RunState, RunStatus, TaskStatus};
use crate::journal::{self, Journal, JournalError, Record};
use crate::orchestrator::ownership::RunLock;
use crate::station::Station;

/// How many run ids an "unknown run" error names.
const NEWEST_NAMED: usize = 5;
/// How many matches an "ambiguous prefix" error names.
const MATCHES_NAMED: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("cannot list the runs in {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("this station has no runs yet")]
    NoRuns,
    #[error("no run matches `{query}`")]
    NoSuchRun { query: String, newest: Vec<String> },
    #[error("`{query}` is not a run id: {problem}")]
    NotARunId { query: String, problem: String },
    #[error("`{prefix}` is ambiguous: it starts {} run ids ({})", .matches.len(), few(.matches))]
    Ambiguous {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("run {run_id} cannot be read: {source}")]
    Journal {
        run_id: String,
        source: JournalError,
    },
    #[error("run {run_id} has no records yet (its journal is empty)")]
    Empty { run_id: String },
}

/// The first [`MATCHES_NAMED`] of `ids`, comma-separated.
fn few(ids: &[String]) -> String {
    let mut text = ids[..ids.len().min(MATCHES_NAMED)].join(", ");
    if ids.len() > MATCHES_NAMED {
        text.push_str(", ...");
    }
    text
}

impl QueryError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            QueryError::Io { .. } => "check that --station names a station".to_string(),
            QueryError::NoRuns => "start one with `3ox run FLOW` or `3ox start FLOW`".to_string(),
            QueryError::NotARunId { .. } => {
                "give a run id (or a prefix of one) as `3ox list` shows it, not a path".to_string()
            }
            QueryError::NoSuchRun { newest, .. } if newest.is_empty() => {
                "this station has no runs yet".to_string()
            }
            QueryError::NoSuchRun { newest, .. } => {
                format!("the newest runs are: {}", newest.join(", "))
            }
            QueryError::Ambiguous { .. } => "give more characters of the run id".to_string(),
            QueryError::Journal { source, .. } => source.hint().to_string(),
            QueryError::Empty { .. } => {
                "the run is being created; look again in a moment".to_string()
            }
        }
    }
}

/// An instant, absolute and relative to the run's start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    /// Milliseconds since the run started.
    pub offset_ms: i64,
}

impl Stamp {
    fn of(at: DateTime<Utc>, start: DateTime<Utc>) -> Stamp {
        Stamp {
            at,
            offset_ms: (at - start).num_milliseconds(),
        }
    }
}

/// The workflow a run runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowInfo {
    pub name: String,
    pub version: u32,
    /// The workflow file, relative to the station.
    pub source: String,
}

/// Whether a process drives the run now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    pub held: bool,
    /// Who holds the ownership lock, as its lock file says (`process 4242`); only when held.
    pub holder: Option<String>,
}

/// `3ox status`: one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub run_id: String,
    pub workflow: WorkflowInfo,
    pub status: RunStatus,
    /// Paused by a person (`3ox pause`): nothing new is delivered until `3ox resume RUN`.
    pub paused: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Until the end, or until now for a RUNNING run.
    pub elapsed_ms: u64,
    pub driver: Driver,
    pub input: Value,
    pub tasks: Vec<TaskLine>,
    pub retries: u32,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
    /// The journal, relative to the station.
    pub journal: String,
    /// The run that started this one (SUB_WORKFLOW, START_WORKFLOW, failureWorkflow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<crate::engine::tasks::sub_workflow::ParentLink>,
    /// The runs this one started, in order, with their status as this run last saw it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<crate::engine::tasks::sub_workflow::ChildLink>,
    /// Each task forked by a dynamic fork: the fork's reference and the task's place in it
    /// (text views show the first few of a big fork; `tasks` has them all).
    #[serde(skip)]
    pub forked: HashMap<String, (String, usize)>,
}

/// One task of a run, as `3ox status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskLine {
    pub task_ref: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub status: TaskStatus,
    /// The current (or last) attempt; 0 for system tasks.
    pub attempt: u32,
    pub agent: Option<String>,
    /// Why it failed, or an agent's last heartbeat note.
    pub reason: Option<String>,
    pub retry_at: Option<DateTime<Utc>>,
    /// A WAIT that is waiting: when it ends (absent: until `3ox complete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_until: Option<DateTime<Utc>>,
    /// A HUMAN task: its latest approval request (who must decide, by when, who did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<TaskApproval>,
}

/// The latest approval request of a HUMAN task, as `3ox status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskApproval {
    pub approver: String,
    pub requested_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    /// `open`, `decided`, `expired` or `withdrawn`.
    pub status: crate::engine::ApprovalStatus,
    pub decided_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// `3ox list`: one run per line. An unreadable journal gives a line with `status: null` and
/// the `problem`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLine {
    pub run_id: String,
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub elapsed_ms: Option<u64>,
    /// Tasks COMPLETED (or COMPLETED_WITH_ERRORS) of `tasks_total`.
    pub tasks_done: usize,
    /// Tasks started so far (a SWITCH's branches not taken and tasks not reached yet do not
    /// count).
    pub tasks_total: usize,
    pub failed_task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Which runs `3ox list` shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<RunStatus>,
    pub workflow: Option<String>,
    pub limit: Option<usize>,
}

/// `3ox history`: a finished run (or an unreadable journal, with its `problem`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub run_id: String,
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub tasks: usize,
    pub retries: u32,
    pub output: Option<Value>,
    pub failed_task: Option<String>,
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Which runs `3ox history` shows.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub workflow: Option<String>,
    pub limit: Option<usize>,
}

/// `3ox log`: a run's journal as a timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLog {
    pub run_id: String,
    pub workflow: WorkflowInfo,
    pub status: RunStatus,
    pub started: RunStart,
    /// Tasks in order of first start.
    pub tasks: Vec<TaskLog>,
    pub rejected: Vec<RejectedReply>,
    /// What people did to the run (`3ox pause`, `terminate`, `skip`, ...), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    pub ended: Option<RunEnd>,
    /// Each task forked by a dynamic fork: the fork's reference and the task's place in it
    /// (the text timeline shows the first few of a big fork; `tasks` has them all).
    #[serde(skip)]
    pub forked: HashMap<String, (String, usize)>,
}

/// A person's operation on a run, from its journal record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Operation {
    #[serde(flatten)]
    pub at: Stamp,
    /// The journal event: `run_paused`, `run_resumed`, `run_terminated`, `task_skipped`,
    /// `run_retried`, `run_rerun_from` or `run_restarted`.
    pub event: String,
    pub by: String,
    pub uid: Option<u32>,
    pub reason: Option<String>,
    /// The task of `task_skipped` and `run_rerun_from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_ref: Option<String>,
    /// The tasks due again after `run_retried` and `run_rerun_from`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_run_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStart {
    #[serde(flatten)]
    pub at: Stamp,
    pub input: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEnd {
    #[serde(flatten)]
    pub at: Stamp,
    pub status: RunStatus,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
}

/// One task's history: the attempts of an agent task, or the decision of a system task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskLog {
    pub task_ref: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub status: TaskStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptLog>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
    /// A HUMAN task: its approval requests, each with its decision.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<task::ApprovalView>,
    /// A WAIT: when it started, and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<task::WaitView>,
}

/// One attempt of an agent task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptLog {
    pub attempt: u32,
    pub task_id: String,
    pub agent: String,
    pub scheduled: Stamp,
    /// When the reply settled it; `None` while in flight.
    pub ended: Option<Stamp>,
    pub took_ms: Option<i64>,
    /// SCHEDULED or IN_PROGRESS while in flight; COMPLETED; RETRY_WAIT (another attempt
    /// follows at `retry_at`); FAILED, FAILED_WITH_TERMINAL_ERROR or COMPLETED_WITH_ERRORS.
    pub outcome: TaskStatus,
    pub reason: Option<String>,
    pub retry_at: Option<Stamp>,
    pub heartbeats: Vec<Heartbeat>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heartbeat {
    #[serde(flatten)]
    pub at: Stamp,
    pub note: Option<String>,
}

/// What the engine decided for a task that no agent served (SWITCH, FORK, JOIN, or a task
/// that failed before it could be scheduled).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decided {
    #[serde(flatten)]
    pub at: Stamp,
    pub outcome: TaskStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// SWITCH: the value its expression gave (the case to take).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// SWITCH: `true` when no decision case matched `case` and `defaultCase` ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_case: Option<bool>,
    /// FORK_JOIN: the task references of each branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<Vec<String>>>,
    /// FORK_JOIN_DYNAMIC: the tasks it forked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forked_tasks: Option<Vec<String>>,
    /// JOIN: the tasks whose outputs it gathered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<Vec<String>>,
}

/// A reply the run refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedReply {
    #[serde(flatten)]
    pub at: Stamp,
    pub file: String,
    pub agent: String,
    pub task_id: Option<String>,
    /// The task and attempt the reply named, when its task id is one of this run's.
    pub task_ref: Option<String>,
    pub attempt: Option<u32>,
    pub reason: String,
}

/// The station's run ids (from the journal file names), newest first.
pub fn run_ids(station: &Station) -> Result<Vec<String>, QueryError> {
    let dir = station.runs_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(QueryError::Io {
                path: dir.display().to_string(),
                source,
            });
        }
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".journal.yaml"))
                .filter(|id| !id.is_empty() && !id.starts_with('.'))
                .map(str::to_owned)
        })
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    Ok(ids)
}

/// The run `query` names: a whole run id or a unique prefix of one (any case); without a
/// query, the newest run.
pub fn resolve(station: &Station, query: Option<&str>) -> Result<String, QueryError> {
    let ids = run_ids(station)?;
    let Some(query) = query else {
        return ids.into_iter().next().ok_or(QueryError::NoRuns);
    };
    if let Some(problem) = run_id_problem(query) {
        return Err(QueryError::NotARunId {
            query: query.to_string(),
            problem,
        });
    }
    if ids.iter().any(|id| id == query) {
        return Ok(query.to_string());
    }
    let matches: Vec<String> = ids
        .iter()
        .filter(|id| {
            !query.is_empty()
                && id
                    .get(..query.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(query))
        })
        .cloned()
        .collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one match")),
        0 => Err(QueryError::NoSuchRun {
            query: query.to_string(),
            newest: ids.into_iter().take(NEWEST_NAMED).collect(),
        }),
        _ => Err(QueryError::Ambiguous {
            prefix: query.to_string(),
            matches,
        }),
    }
}

/// Why `id` cannot be a run id (or a prefix of one), if it cannot: run ids are ulids, and
/// 3ox makes a run's files from its id, so a path (`../x`), a dot name or a character
/// beyond letters, digits, `-` and `_` never names a run.
pub fn run_id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("it is empty".to_string());
    }
    if id.len() > 64 {
        return Some(format!("it has {} characters (a run id has 26)", id.len()));
    }
    id.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        .map(|c| format!("it holds {c:?}; a run id has only letters, digits, `-` and `_`"))
}

/// A run's records and the state they fold into.
struct Loaded {
    records: Vec<Record>,
    state: RunState,
    journal: PathBuf,
}

fn load(station: &Station, run_id: &str) -> Result<Loaded, QueryError> {
    let path = Journal::path_for(&station.runs_dir(), run_id);
    // A torn tail is what a driver's append in progress (or a crash) looks like from outside;
    // the complete records before it are the run as it stands.
    let contents = journal::read(&path).map_err(|source| QueryError::Journal {
        run_id: run_id.to_string(),
        source,
    })?;
    let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    if state.run_id.is_empty() {
        return Err(QueryError::Empty {
            run_id: run_id.to_string(),
        });
    }
    Ok(Loaded {
        records: contents.records,
        state,
        journal: path,
    })
}

/// The state of the run `query` names (see [`resolve`]), folded from its journal.
pub fn run_state(station: &Station, query: &str) -> Result<RunState, QueryError> {
    let run_id = resolve(station, Some(query))?;
    Ok(load(station, &run_id)?.state)
}

/// Whether a live process drives `run_id`: tries a shared lock on its ownership lock file
/// (read-only) and releases it at once.
pub fn driver(runs_dir: &Path, run_id: &str) -> Driver {
    let path = RunLock::path_for(runs_dir, run_id);
    let held = match File::open(&path) {
        // No lock file: no process ever drove the run (`3ox start` writes none).
        Err(_) => false,
        Ok(file) => match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(error)) => {
                tracing::warn!(%error, path = %path.display(), "cannot test the run's lock");
                false
            }
        },
    };
    Driver {
        held,
        holder: if held {
            RunLock::holder(runs_dir, run_id)
        } else {
            None
        },
    }
}

fn millis(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_milliseconds()).unwrap_or(0)
}

fn elapsed(state: &RunState, now: DateTime<Utc>) -> Option<u64> {
    let start = state.started_at?;
    Some(millis(start, state.ended_at.unwrap_or(now)))
}

fn workflow_info(state: &RunState) -> WorkflowInfo {
    WorkflowInfo {
        name: state.workflow.name.clone(),
        version: state.workflow.version,
        source: state.source.clone(),
    }
}

/// `3ox status`: the run `query` names (see [`resolve`]), default the newest.
pub fn status(
    station: &Station,
    query: Option<&str>,
    now: DateTime<Utc>,
) -> Result<StatusView, QueryError> {
    let run_id = resolve(station, query)?;
    let Loaded { state, journal, .. } = load(station, &run_id)?;
    Ok(StatusView {
        workflow: workflow_info(&state),
        status: state.status,
        paused: state.paused,
        started_at: state.started_at,
        ended_at: state.ended_at,
        elapsed_ms: elapsed(&state, now).unwrap_or(0),
        driver: driver(&station.runs_dir(), &run_id),
        input: state.input.clone(),
        tasks: state
            .tasks
            .values()
            .map(|t| TaskLine {
                task_ref: t.task_ref.clone(),
                type_name: t.type_name.clone(),
                status: t.status,
                attempt: t.attempt,
                agent: t.agent.clone(),
                reason: t.reason.clone(),
                retry_at: t.retry_at,
                waits_until: state
                    .timers
                    .waits
                    .get(&t.task_ref)
                    .copied()
                    .flatten()
                    .filter(|_| t.status.is_in_flight()),
                approval: state
                    .approvals
                    .values()
                    .rev()
                    .find(|a| a.task_ref == t.task_ref)
                    .map(|a| TaskApproval {
                        approver: a.approver.clone(),
                        requested_at: a.requested_at,
                        deadline: a.deadline,
                        status: a.status,
                        decided_by: a.decided_by.clone(),
                        closed_at: a.closed_at,
                    }),
            })
            .collect(),
        retries: state.retries,
        output: state.output.clone(),
        failure: state.failure.clone(),
        journal: station.relative(&journal),
        parent: state.parent.clone(),
        children: state.children.values().cloned().collect(),
        forked: forked_places(&state),
        run_id,
    })
}

/// Each task forked by a dynamic fork of `state`: the fork's reference and its place in it.
pub fn forked_places(state: &RunState) -> HashMap<String, (String, usize)> {
    state
        .forks
        .iter()
        .flat_map(|(fork, tasks)| {
            tasks
                .iter()
                .enumerate()
                .map(move |(i, t)| (t.task_reference_name.clone(), (fork.clone(), i)))
        })
        .collect()
}

/// `3ox approvals`: one open approval request of a running run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingApproval {
    pub run_id: String,
    pub workflow: String,
    pub task_ref: String,
    pub request_id: String,
    pub approver: String,
    /// Who it was escalated from, when a deadline passed it on.
    pub escalated_from: Option<String>,
    /// The HUMAN task's input: what the approver is asked to decide on.
    pub input: Value,
    pub requested_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    /// The request file in the approver's inbox, relative to the station root.
    pub request_file: String,
}

/// Every open approval request of the station's running runs (for `approver` only, when
/// given), oldest request first. Unreadable journals are left out (`3ox list` shows them).
pub fn approvals(
    station: &Station,
    approver: Option<&str>,
) -> Result<Vec<WaitingApproval>, QueryError> {
    let mut waiting: Vec<WaitingApproval> = all_runs(station)?
        .into_iter()
        .filter_map(|(run_id, run)| run.ok().map(|state| (run_id, state)))
        .filter(|(_, state)| state.status == RunStatus::Running)
        .flat_map(|(run_id, state)| {
            state
                .approvals
                .values()
                .filter(|a| a.status == crate::engine::ApprovalStatus::Open)
                .filter(|a| approver.is_none_or(|who| who == a.approver))
                .map(|a| WaitingApproval {
                    run_id: run_id.clone(),
                    workflow: state.workflow.name.clone(),
                    task_ref: a.task_ref.clone(),
                    request_id: a.request_id.clone(),
                    approver: a.approver.clone(),
                    escalated_from: a.escalated_from.clone(),
                    input: a.input.clone(),
                    requested_at: a.requested_at,
                    deadline: a.deadline,
                    request_file: station.relative(&station.inbox(&a.approver).join(
                        crate::mailbox::approval::ApprovalRequest::file_name(&a.request_id),
                    )),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    waiting.sort_by(|a, b| (a.requested_at, &a.run_id).cmp(&(b.requested_at, &b.run_id)));
    Ok(waiting)
}

/// A run id and its state, or why its journal cannot be read.
type Scanned = (String, Result<RunState, QueryError>);

/// Every run's state (or why it cannot be read), newest first.
fn all_runs(station: &Station) -> Result<Vec<Scanned>, QueryError> {
    Ok(run_ids(station)?
        .into_iter()
        .filter_map(|id| match load(station, &id) {
            Ok(loaded) => Some((id, Ok(loaded.state))),
            // Not a run yet: its creator has not written `run_started`.
            Err(QueryError::Empty { .. }) => None,
            Err(e) => Some((id, Err(e))),
        })
        .collect())
}

fn problem(error: &QueryError) -> String {
    match error {
        QueryError::Journal { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// `3ox list`: the runs that pass `filter`, newest first. A run whose journal cannot be read
/// is listed with its problem, unless a status or workflow filter is given.
pub fn list(
    station: &Station,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> Result<Vec<RunLine>, QueryError> {
    list_with(station, filter, now, |id| load_state(station, id))
}

/// Run `run_id`'s state, folded from its journal (as every view reads it).
pub fn load_state(station: &Station, run_id: &str) -> Result<RunState, QueryError> {
    load(station, run_id).map(|l| l.state)
}

/// [`list`], reading a changed run's state with `load` (`3ox top` gives the state it has read
/// already instead of reading the journal again).
pub fn list_with(
    station: &Station,
    filter: &ListFilter,
    now: DateTime<Utc>,
    load: impl Fn(&str) -> Result<RunState, QueryError>,
) -> Result<Vec<RunLine>, QueryError> {
    let lines =
        summaries::summaries(station, load)?
            .into_iter()
            .filter_map(|(id, run)| match run {
                Ok(run) => {
                    let wanted = filter.status.is_none_or(|s| s == run.status)
                        && filter.workflow.as_ref().is_none_or(|w| *w == run.workflow);
                    wanted.then(|| RunLine {
                        run_id: id,
                        elapsed_ms: run
                            .started_at
                            .map(|start| millis(start, run.ended_at.unwrap_or(now))),
                        workflow: Some(run.workflow),
                        status: Some(run.status),
                        started_at: run.started_at,
                        tasks_done: run.tasks_done,
                        tasks_total: run.tasks_total,
                        failed_task: run.failed_task,
                        problem: None,
                    })
                }
                Err(error) => {
                    (filter.status.is_none() && filter.workflow.is_none()).then(|| RunLine {
                        run_id: id,
                        workflow: None,
                        status: None,
                        started_at: None,
                        elapsed_ms: None,
                        tasks_done: 0,
                        tasks_total: 0,
                        failed_task: None,
                        problem: Some(problem(&error)),
                    })
                }
            });
    Ok(lines.take(filter.limit.unwrap_or(usize::MAX)).collect())
}

/// `3ox history`: finished runs (COMPLETED or FAILED) that pass `filter`, newest first. A run
/// whose journal cannot be read is listed with its problem, unless a workflow filter is given.
pub fn history(station: &Station, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>, QueryError> {
    let entries = summaries::summaries(station, |id| load(station, id).map(|l| l.state))?
        .into_iter()
        .filter_map(|(id, run)| match run {
            Ok(run) => {
                let wanted = run.status != RunStatus::Running
                    && filter.workflow.as_ref().is_none_or(|w| *w == run.workflow);
                wanted.then(|| HistoryEntry {
                    run_id: id,
                    workflow: Some(run.workflow),
                    status: Some(run.status),
                    started_at: run.started_at,
                    ended_at: run.ended_at,
                    duration_ms: run.started_at.zip(run.ended_at).map(|(s, e)| millis(s, e)),
                    tasks: run.tasks_total,
                    retries: run.retries,
                    output: run.output,
                    failed_task: run.failed_task,
                    reason: run.reason,
                    problem: None,
                })
            }
            Err(error) => filter.workflow.is_none().then(|| HistoryEntry {
                run_id: id,
                workflow: None,
                status: None,
                started_at: None,
                ended_at: None,
                duration_ms: None,
                tasks: 0,
                retries: 0,
                output: None,
                failed_task: None,
                reason: None,
                problem: Some(problem(&error)),
            }),
        });
    Ok(entries.take(filter.limit.unwrap_or(usize::MAX)).collect())
}

/// `3ox log`: the run `query` names, as a timeline.
pub fn log(station: &Station, query: &str) -> Result<RunLog, QueryError> {
    let run_id = resolve(station, Some(query))?;
    let Loaded { records, state, .. } = load(station, &run_id)?;
    Ok(timeline(&records, &state))
}

/// Folds a run's records into its timeline; `state` is the same records replayed.
pub fn timeline(records: &[Record], state: &RunState) -> RunLog {
    let start = state
        .started_at
        .or_else(|| records.first().map(|r| r.at))
        .unwrap_or_default();
    let stamp = |at| Stamp::of(at, start);
    let mut tasks: IndexMap<String, TaskLog> = IndexMap::new();
    let mut ids: HashMap<String, (String, u32)> = HashMap::new();
    let mut rejected = Vec::new();
    let mut operations = Vec::new();
    let mut ended = None;
    for record in records {
        let at = record.at;
        match &record.change {
            Change::RunStarted { .. } | Change::ForkExpanded { .. } => {}
            Change::ApprovalRequested {
                task_ref,
                request_id,
                approver,
                input,
                deadline,
                escalated_from,
                ..
            } => task_log(&mut tasks, state, task_ref)
                .approvals
                .push(task::ApprovalView {
                    request_id: request_id.clone(),
                    approver: approver.clone(),
                    escalated_from: escalated_from.clone(),
                    question: input
                        .get("question")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    input: input.clone(),
                    requested: stamp(at),
                    deadline: *deadline,
                    status: state
                        .approvals
                        .get(request_id)
                        .map_or(crate::engine::ApprovalStatus::Open, |a| a.status),
                    decision: None,
                    expired: None,
                }),
            Change::ApprovalDecided {
                task_ref,
                request_id,
                decision,
                by,
                comment,
                reason,
                file,
            } => {
                if let Some(a) = task_log(&mut tasks, state, task_ref)
                    .approvals
                    .iter_mut()
                    .rev()
                    .find(|a| a.request_id == *request_id)
                {
                    a.decision = Some(task::ApprovalDecision {
                        at: stamp(at),
                        decision: *decision,
                        by: by.clone(),
                        comment: comment.clone(),
                        reason: reason.clone(),
                        file: file.clone(),
                    });
                }
            }
            Change::ApprovalExpired {
                task_ref,
                request_id,
                policy,
            } => {
                if let Some(a) = task_log(&mut tasks, state, task_ref)
                    .approvals
                    .iter_mut()
                    .rev()
                    .find(|a| a.request_id == *request_id)
                {
                    a.expired = Some((stamp(at), *policy));
                }
            }
            // An iteration's tasks show under their own references (`<ref>__<n>`).
            Change::LoopIterationStarted { .. } => {}

            Change::ChildRunStarted { .. }
            | Change::ChildRunResumed { .. }
            | Change::ChildRunEnded { .. }
            | Change::ChildOf { .. } => {}

            Change::WaitStarted {
                task_ref, until, ..
            } => {
                task_log(&mut tasks, state, task_ref).wait = Some(task::WaitView {
                    started: stamp(at),
                    until: *until,
                });
            }
            Change::TaskDelayed { .. }
            | Change::TaskDelayEnded { .. }
            | Change::TaskClaimed { .. }
            | Change::TaskTimedOut { .. } => {}
            // An ALERT_ONLY timeout changes nothing, so the timeline shows it beside the
            // operations, by `3ox`.
            Change::TimeoutAlert {
                task_ref, reason, ..
            } => operations.push(Operation {
                at: stamp(at),
                event: "timeout_alert".into(),
                by: "3ox".into(),
                uid: None,
                reason: Some(reason.clone()),
                task_ref: task_ref.clone(),
                tasks: Vec::new(),
                new_run_id: None,
            }),
            Change::TaskUpdatedBy {
                task_ref,
                status,
                by,
                uid,
                reason,
                ..
            } => operations.push(Operation {
                at: stamp(at),
                event: "task_updated_by".into(),
                by: by.clone(),
                uid: *uid,
                reason: Some(match reason {
                    Some(why) => format!("{status}: {why}"),
                    None => status.to_string(),
                }),
                task_ref: Some(task_ref.clone()),
                tasks: Vec::new(),
                new_run_id: None,
            }),
            Change::RunTimedOut { .. } => {
                ended = Some(RunEnd {
                    at: stamp(at),
                    status: state.status,
                    output: state.output.clone(),
                    failure: state.failure.clone(),
                });
            }

            Change::EventPublished { .. } => {}
            Change::HttpCallStarted {
                task_ref,
                task_id,
                attempt,
                ..
            } => {
                ids.insert(task_id.clone(), (task_ref.clone(), *attempt));
                task_log(&mut tasks, state, task_ref)
                    .attempts
                    // Made by 3ox itself, not by an agent.
                    .push(AttemptLog::started(*attempt, task_id, "(http)", stamp(at)));
            }

            Change::VariablesSet { .. }
            | Change::DynamicTaskChosen { .. }
            | Change::RunEndedByTask { .. } => {}

            Change::TaskScheduled {
                task_ref,
                task_id,
                attempt,
                agent,
                ..
            } => {
                ids.insert(task_id.clone(), (task_ref.clone(), *attempt));
                task_log(&mut tasks, state, task_ref)
                    .attempts
                    .push(AttemptLog::started(*attempt, task_id, agent, stamp(at)));
            }
            Change::TaskHeartbeat {
                task_ref,
                task_id,
                note,
            } => {
                let task = task_log(&mut tasks, state, task_ref);
                if let Some(attempt) = attempt_of(task, &ids, Some(task_id)) {
                    if attempt.outcome == TaskStatus::Scheduled {
                        attempt.outcome = TaskStatus::InProgress;
                    }
                    attempt.heartbeats.push(Heartbeat {
                        at: stamp(at),
                        note: note.clone(),
                    });
                }
            }
            Change::TaskCompleted {
                task_ref,
                task_id,
                output,
                ..
            } => {
                let task = task_log(&mut tasks, state, task_ref);
                if task.attempts.is_empty() {
                    let decided = decision(
                        state,
                        task_ref,
                        stamp(at),
                        TaskStatus::Completed,
                        None,
                        output,
                    );
                    task.decided = Some(decided);
                } else if let Some(attempt) = attempt_of(task, &ids, task_id.as_ref()) {
                    settle(attempt, stamp(at), TaskStatus::Completed, None, None);
                }
            }
            Change::TaskFailed {
                task_ref,
                task_id,
                reason,
                retry_at,
                outcome,
                ..
            } => {
                let task = task_log(&mut tasks, state, task_ref);
                let reason = Some(reason.clone());
                if task.attempts.is_empty() {
                    let decided =
                        decision(state, task_ref, stamp(at), *outcome, reason, &Value::Null);
                    task.decided = Some(decided);
                } else if let Some(attempt) = attempt_of(task, &ids, task_id.as_ref()) {
                    settle(attempt, stamp(at), *outcome, reason, retry_at.map(stamp));
                }
            }
            Change::ReplyRejected {
                file,
                agent,
                task_id,
                reason,
            } => {
                let known = task_id.as_ref().and_then(|id| ids.get(id));
                rejected.push(RejectedReply {
                    at: stamp(at),
                    file: file.clone(),
                    agent: agent.clone(),
                    task_id: task_id.clone(),
                    task_ref: known.map(|(r, _)| r.clone()),
                    attempt: known.map(|(_, n)| *n),
                    reason: reason.clone(),
                });
            }
            Change::TaskCanceled {
                task_ref, reason, ..
            } => {
                let reason = Some(reason.clone());
                let task = task_log(&mut tasks, state, task_ref);
                match task.attempts.last_mut() {
                    Some(attempt) if attempt.ended.is_none() => {
                        settle(attempt, stamp(at), TaskStatus::Canceled, reason, None);
                    }
                    _ => {
                        let decided = decision(
                            state,
                            task_ref,
                            stamp(at),
                            TaskStatus::Canceled,
                            reason,
                            &Value::Null,
                        );
                        task.decided = Some(decided);
                    }
                }
            }
            Change::RunPaused { .. }
            | Change::RunResumed { .. }
            | Change::RunRestarted { .. }
            | Change::TaskSkipped { .. }
            | Change::RunRetried { .. }
            | Change::RunRerunFrom { .. } => {
                if let Some(operation) = operation(&record.change, stamp(at)) {
                    operations.push(operation);
                }
                if let Change::TaskSkipped {
                    task_ref,
                    reason,
                    by,
                    ..
                } = &record.change
                {
                    let reason = Some(match reason {
                        Some(why) => format!("skipped by {by}: {why}"),
                        None => format!("skipped by {by}"),
                    });
                    let task = task_log(&mut tasks, state, task_ref);
                    match task.attempts.last_mut() {
                        Some(attempt) if attempt.ended.is_none() => {
                            settle(attempt, stamp(at), TaskStatus::Skipped, reason, None);
                        }
                        _ => {
                            let decided = decision(
                                state,
                                task_ref,
                                stamp(at),
                                TaskStatus::Skipped,
                                reason,
                                &Value::Null,
                            );
                            task.decided = Some(decided);
                        }
                    }
                }
                let restarted_here = matches!(
                    &record.change,
                    Change::RunRestarted { new_run_id, .. } if *new_run_id == state.run_id
                );
                if restarted_here
                    || matches!(
                        record.change,
                        Change::TaskSkipped { .. }
                            | Change::RunRetried { .. }
                            | Change::RunRerunFrom { .. }
                    )
                {
                    // These open an ended run again.
                    ended = None;
                }
            }
            Change::RunTerminated { .. }
            | Change::RunCompleted { .. }
            | Change::RunFailed { .. } => {
                if let Some(operation) = operation(&record.change, stamp(at)) {
                    operations.push(operation);
                }
                ended = Some(RunEnd {
                    at: stamp(at),
                    status: state.status,
                    output: state.output.clone(),
                    failure: state.failure.clone(),
                });
            }
        }
    }
    RunLog {
        run_id: state.run_id.clone(),
        workflow: workflow_info(state),
        status: state.status,
        started: RunStart {
            at: stamp(start),
            input: state.input.clone(),
        },
        tasks: tasks.into_values().collect(),
        rejected,
        operations,
        ended,
        forked: forked_places(state),
    }
}

/// The operation a control change records, if it is one.
fn operation(change: &Change, at: Stamp) -> Option<Operation> {
    let event = serde_json::to_value(change)
        .ok()
        .and_then(|v| v["event"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let op = |by: &String, uid: &Option<u32>, reason: Option<String>| Operation {
        at,
        event: event.clone(),
        by: by.clone(),
        uid: *uid,
        reason,
        task_ref: None,
        tasks: Vec::new(),
        new_run_id: None,
    };
    Some(match change {
        Change::RunPaused { by, uid, reason } | Change::RunResumed { by, uid, reason } => {
            op(by, uid, reason.clone())
        }
        Change::RunTerminated { by, uid, reason } => op(by, uid, Some(reason.clone())),
        Change::TaskSkipped {
            task_ref,
            by,
            uid,
            reason,
        } => Operation {
            task_ref: Some(task_ref.clone()),
            ..op(by, uid, reason.clone())
        },
        Change::RunRetried {
            by,
            uid,
            reason,
            tasks,
        } => Operation {
            tasks: tasks.clone(),
            ..op(by, uid, reason.clone())
        },
        Change::RunRerunFrom {
            task_ref,
            by,
            uid,
            reason,
            tasks,
        } => Operation {
            task_ref: Some(task_ref.clone()),
            tasks: tasks.clone(),
            ..op(by, uid, reason.clone())
        },
        Change::RunRestarted {
            new_run_id,
            by,
            uid,
            reason,
        } => Operation {
            new_run_id: Some(new_run_id.clone()),
            ..op(by, uid, reason.clone())
        },
        _ => return None,
    })
}

/// The timeline entry of `task_ref`, made on its first record.
impl AttemptLog {
    /// An attempt just sent to `agent` (or made by 3ox itself), with no outcome yet.
    fn started(attempt: u32, task_id: &str, agent: &str, scheduled: Stamp) -> AttemptLog {
        AttemptLog {
            attempt,
            task_id: task_id.to_string(),
            agent: agent.to_string(),
            scheduled,
            ended: None,
            took_ms: None,
            outcome: TaskStatus::Scheduled,
            reason: None,
            retry_at: None,
            heartbeats: Vec::new(),
        }
    }
}

fn task_log<'a>(
    tasks: &'a mut IndexMap<String, TaskLog>,
    state: &RunState,
    task_ref: &str,
) -> &'a mut TaskLog {
    tasks.entry(task_ref.to_string()).or_insert_with(|| {
        let task = state.tasks.get(task_ref);
        TaskLog {
            task_ref: task_ref.to_string(),
            name: task.map_or_else(|| task_ref.to_string(), |t| t.name.clone()),
            type_name: task.map_or_else(|| "SIMPLE".to_string(), |t| t.type_name.clone()),
            status: task.map_or(TaskStatus::Scheduled, |t| t.status),
            attempts: Vec::new(),
            decided: None,
            approvals: Vec::new(),
            wait: None,
        }
    })
}

/// The attempt a record of `task` belongs to: the one its task id names, else the last one.
fn attempt_of<'a>(
    task: &'a mut TaskLog,
    ids: &HashMap<String, (String, u32)>,
    task_id: Option<&String>,
) -> Option<&'a mut AttemptLog> {
    match task_id.and_then(|id| ids.get(id)) {
        Some((_, n)) => task.attempts.iter_mut().rev().find(|a| a.attempt == *n),
        None => task.attempts.last_mut(),
    }
}

fn settle(
    attempt: &mut AttemptLog,
    at: Stamp,
    outcome: TaskStatus,
    reason: Option<String>,
    retry_at: Option<Stamp>,
) {
    attempt.took_ms = Some(at.offset_ms - attempt.scheduled.offset_ms);
    attempt.ended = Some(at);
    attempt.outcome = outcome;
    attempt.reason = reason;
    attempt.retry_at = retry_at;
}

fn decision(
    state: &RunState,
    task_ref: &str,
    at: Stamp,
    outcome: TaskStatus,
    reason: Option<String>,
    output: &Value,
) -> Decided {
    let mut decided = Decided {
        at,
        outcome,
        reason,
        case: None,
        default_case: None,
        branches: None,
        forked_tasks: None,
        joined: None,
    };
    let Some(def) = state.def(task_ref) else {
        return decided;
    };
    let completed = outcome == TaskStatus::Completed;
    match def.kind() {
        TaskKind::Switch if completed => {
            decided.case = output
                .get("selectedCase")
                .and_then(Value::as_str)
                .map(str::to_owned);
            decided.default_case = Some(
                decided
                    .case
                    .as_ref()
                    .is_none_or(|c| !def.decision_cases.contains_key(c)),
            );
        }
        TaskKind::ForkJoin => {
            decided.branches = Some(
                def.fork_tasks
                    .iter()
                    .map(|b| b.iter().map(|t| t.task_reference_name.clone()).collect())
                    .collect(),
            );
        }
        TaskKind::ForkJoinDynamic if completed => {
            decided.forked_tasks = Some(state.forks.get(task_ref).map_or_else(Vec::new, |ts| {
                ts.iter().map(|t| t.task_reference_name.clone()).collect()
            }));
        }
        TaskKind::Join if completed => {
            decided.joined = output.as_object().map(|m| m.keys().cloned().collect());
        }
        _ => {}
    }
    decided
}
