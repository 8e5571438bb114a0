//! The state of one run, and how each change updates it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Change;
use crate::definition::{DeadlinePolicy, TaskDef, WorkflowDef};
use crate::expr::Scope;
use crate::mailbox::approval::Decision;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    #[default]
    Running,
    Completed,
    Failed,
    /// Ended by a person (`3ox terminate`).
    Terminated,
    /// Ended by a timeout: the workflow's `timeoutSeconds`, or a task's under TIME_OUT_WF.
    TimedOut,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Completed => "COMPLETED",
            RunStatus::Failed => "FAILED",
            RunStatus::Terminated => "TERMINATED",
            RunStatus::TimedOut => "TIMED_OUT",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// The message is (being) delivered; no reply yet.
    Scheduled,
    /// The agent sent a heartbeat.
    InProgress,
    /// The last attempt failed; another is due at `retry_at`.
    RetryWait,
    Completed,
    /// An optional task failed; the run went on.
    CompletedWithErrors,
    Failed,
    FailedWithTerminalError,
    /// A timeout with no retry left ended it (as Conductor's TIMED_OUT task); the run ends
    /// TIMED_OUT.
    TimedOut,
    /// A person skipped it (`3ox skip`): done, with an empty output.
    Skipped,
    /// It was still scheduled, in progress or waiting for a retry when the run ended (failed,
    /// timed out, terminated, or ended by a TERMINATE task), as Conductor's CANCELED: its
    /// message was withdrawn and a late reply is refused.
    Canceled,
}

impl TaskStatus {
    pub fn is_done(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::CompletedWithErrors | TaskStatus::Skipped
        )
    }

    pub fn is_failed(self) -> bool {
        matches!(
            self,
            TaskStatus::Failed | TaskStatus::FailedWithTerminalError | TaskStatus::TimedOut
        )
    }

    pub fn is_in_flight(self) -> bool {
        matches!(self, TaskStatus::Scheduled | TaskStatus::InProgress)
    }
}

impl std::fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub task_ref: Option<String>,
    pub reason: String,
}

/// One task of a run (all its attempts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub task_ref: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub status: TaskStatus,
    /// The current (or last) attempt; 0 for system tasks.
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The current attempt's token (see `Change::TaskScheduled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub input: Value,
    pub output: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    pub first_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the current attempt was scheduled or last sent a journaled heartbeat: a heartbeat
    /// sooner than [`crate::engine::heartbeat_interval`] after it is coalesced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beat_at: Option<DateTime<Utc>>,
}

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Open,
    Decided(Decision),
    /// The deadline passed first; the policy was applied.
    Expired(DeadlinePolicy),
    /// Closed undecided by a person's operation on the run: the task was skipped or is run
    /// again, or the run was terminated.
    Withdrawn,
}

/// One approval request of a HUMAN task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalState {
    pub request_id: String,
    pub task_ref: String,
    pub token: String,
    pub approver: String,
    pub input: Value,
    pub requested_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    pub on_deadline: DeadlinePolicy,
    pub escalate_to: Option<String>,
    pub escalated_from: Option<String>,
    pub status: ApprovalStatus,
    /// Who decided, when (for refusal notes).
    pub decided_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// The whole state of a run, rebuilt from its journal by folding changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunState {
    pub run_id: String,
    pub source: String,
    pub workflow: Arc<WorkflowDef>,
    pub input: Value,
    pub status: RunStatus,
    /// Paused by a person: the walk schedules nothing until the run is resumed.
    pub paused: bool,
    pub output: Option<Value>,
    pub failure: Option<Failure>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Every task started so far, in order of first start.
    pub tasks: IndexMap<String, TaskState>,
    /// Dynamic forks' expansions, by fork reference.
    pub forks: HashMap<String, Arc<Vec<TaskDef>>>,
    /// Task definitions by reference (static ones and forked ones).
    pub defs: HashMap<String, Arc<TaskDef>>,
    /// Every task id ever issued: id -> (task reference, attempt).
    pub task_ids: HashMap<String, (String, u32)>,
    /// Tasks in flight per agent.
    pub in_flight: BTreeMap<String, usize>,
    /// The task that completed last (its output is the run's default output).
    pub last_completed: Option<String>,
    /// Retries scheduled so far (for summaries).
    pub retries: u32,
    /// Every approval request of the run's HUMAN tasks, by request id, in order.
    pub approvals: IndexMap<String, ApprovalState>,
    /// DO_WHILE loops that have started, by reference: their current iteration and what is
    /// kept of earlier ones (see `tasks::do_while`).
    pub loops: HashMap<String, super::tasks::do_while::LoopState>,
    /// The run that started this one, when it is a child run (its `child_of` record).
    pub parent: Option<super::tasks::sub_workflow::ParentLink>,
    /// The child runs this run started, by child run id, in order.
    pub children: IndexMap<String, super::tasks::sub_workflow::ChildLink>,
    /// The failure workflow's run started for the latest end, and when it was decided.
    pub failure_run: Option<(String, DateTime<Utc>)>,
    /// Timeouts, WAIT due times and start delays (see `engine::timeouts`).
    pub timers: super::timeouts::Timers,
    /// The current (or last) HTTP call of each HTTP task, by task reference.
    pub http_calls: IndexMap<String, super::tasks::http::HttpCall>,
    /// Every event published by the run's EVENT tasks, by message id, in order.
    pub events: IndexMap<String, super::tasks::event::PublishedEvent>,
    /// Variables set by SET_VARIABLE tasks, by name (over the workflow's `variables`; see
    /// [`RunState::variables_doc`]).
    pub variables: serde_json::Map<String, Value>,
    /// The task each DYNAMIC task chose to run, by the DYNAMIC task's reference.
    pub dynamic_choices: HashMap<String, String>,
}

impl Default for WorkflowDef {
    fn default() -> Self {
        WorkflowDef {
            name: String::new(),
            description: None,
            version: 1,
            input_parameters: Vec::new(),
            inputs: IndexMap::new(),
            output_parameters: IndexMap::new(),
            tasks: Vec::new(),
            extra: IndexMap::new(),
        }
    }
}

impl RunState {
    /// The definition of the task with reference `task_ref`.
    pub fn def(&self, task_ref: &str) -> Option<Arc<TaskDef>> {
        self.defs.get(task_ref).cloned()
    }

    /// Rebuilds a run from its changes.
    pub fn replay<'a>(changes: impl IntoIterator<Item = (&'a Change, DateTime<Utc>)>) -> RunState {
        let mut state = RunState::default();
        for (change, at) in changes {
            state.apply(change, at);
        }
        state
    }

    /// When the engine must look again by itself: the earliest retry due or approval
    /// deadline.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.next_wakeup_after(None)
    }

    /// The earliest wakeup strictly later than `after` (all of them when `None`). The driver
    /// passes the time of a walk that changed nothing: what fell due by then is waiting for
    /// something other than time (a free agent slot), and the next reply or rescan walks
    /// again, so waking for it again would only spin.
    pub fn next_wakeup_after(&self, after: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        if self.status != RunStatus::Running {
            return None;
        }
        let retries = self
            .tasks
            .values()
            // A paused run schedules no retry, so none is a reason to look again.
            .filter(|t| !self.paused && t.status == TaskStatus::RetryWait)
            .filter_map(|t| t.retry_at);
        let deadlines = self
            .approvals
            .values()
            .filter(|a| a.status == ApprovalStatus::Open)
            .filter_map(|a| a.deadline);
        let deadlines = deadlines.chain(super::tasks::do_while::wakeups(self));

        let timers = super::timeouts::next_due(self);

        retries
            .chain(deadlines)
            .chain(timers)
            .filter(|at| after.is_none_or(|after| *at > after))
            .min()
    }

    /// The `workflow` root of `${...}` references: `{input, workflowId, ...}`.
    fn workflow_doc(&self) -> Value {
        json!({
            "input": self.input,
            "workflowId": self.run_id,
            "workflowType": self.workflow.name,
            "name": self.workflow.name,
            "version": self.workflow.version,
            "status": self.status,
        })
    }

    /// `${workflow.variables}`: the workflow's `variables` (initial values) with what
    /// SET_VARIABLE tasks set laid over them.
    pub fn variables_doc(&self) -> Value {
        let mut all = match self.workflow.extra.get("variables") {
            Some(Value::Object(initial)) => initial.clone(),
            _ => serde_json::Map::new(),
        };
        all.extend(self.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(all)
    }

    /// The open approval request of task `task_ref`, if any.
    pub fn open_approval(&self, task_ref: &str) -> Option<&ApprovalState> {
        self.approvals
            .values()
            .find(|a| a.task_ref == task_ref && a.status == ApprovalStatus::Open)
    }

    /// Starts the run again from the top under the same id, as Conductor's restart: the same
    /// definition, input and parent; no task, child, variable or timer of the earlier
    /// attempt (whose records stay in the journal, so a late reply to one of its tasks is
    /// refused as unknown).
    fn restart(&mut self, at: DateTime<Utc>) {
        let earlier = std::mem::take(self);
        *self = RunState {
            run_id: earlier.run_id,
            source: earlier.source,
            workflow: earlier.workflow,
            input: earlier.input,
            parent: earlier.parent,
            started_at: Some(at),
            ..RunState::default()
        };
        let tasks = self.workflow.tasks.clone();
        self.index_defs(&tasks);
    }

    fn index_defs(&mut self, tasks: &[TaskDef]) {
        for task in tasks {
            self.defs
                .insert(task.task_reference_name.clone(), Arc::new(task.clone()));
            let children: Vec<TaskDef> = task.children().cloned().collect();
            self.index_defs(&children);
        }
    }

    pub(crate) fn task_entry(&mut self, task_ref: &str, at: DateTime<Utc>) -> &mut TaskState {
        if !self.tasks.contains_key(task_ref) {
            let def = self.def(task_ref);
            let task = TaskState {
                task_ref: task_ref.to_string(),
                name: def
                    .as_ref()
                    .map_or_else(|| task_ref.to_string(), |d| d.name.clone()),
                type_name: def
                    .as_ref()
                    .map_or_else(|| "SIMPLE".to_string(), |d| d.type_name.clone()),
                status: TaskStatus::Scheduled,
                attempt: 0,
                task_id: None,
                agent: None,
                token: None,
                input: Value::Null,
                output: Value::Null,
                reason: None,
                retry_at: None,
                first_at: at,
                updated_at: at,
                beat_at: None,
            };
            self.tasks.insert(task_ref.to_string(), task);
        }
        let task = self.tasks.get_mut(task_ref).expect("inserted above");
        task.updated_at = at;
        task
    }

    /// Ends an attempt that was in flight: frees its agent slot.
    pub(super) fn settle(&mut self, task_ref: &str) {
        let Some(task) = self.tasks.get(task_ref) else {
            return;
        };
        if task.status.is_in_flight()
            && let Some(agent) = &task.agent
            && let Some(n) = self.in_flight.get_mut(agent)
        {
            *n = n.saturating_sub(1);
        }
    }

    pub(super) fn apply(&mut self, change: &Change, at: DateTime<Utc>) {
        match change {
            Change::RunStarted {
                run_id,
                source,
                workflow,
                input,
            } => {
                self.run_id = run_id.clone();
                self.source = source.clone();
                self.workflow = Arc::new((**workflow).clone());
                self.input = input.clone();
                self.status = RunStatus::Running;
                self.started_at = Some(at);
                let tasks = workflow.tasks.clone();
                self.index_defs(&tasks);
            }
            Change::TaskScheduled {
                task_ref,
                task_id,
                attempt,
                agent,
                token,
                input,
            } => {
                self.settle(task_ref);
                let task = self.task_entry(task_ref, at);
                task.status = TaskStatus::Scheduled;
                task.attempt = *attempt;
                task.task_id = Some(task_id.clone());
                task.agent = Some(agent.clone());
                task.token = Some(token.clone());
                task.input = input.clone();
                task.retry_at = None;
                task.reason = None;
                task.beat_at = Some(at);
                *self.in_flight.entry(agent.clone()).or_default() += 1;
                self.task_ids
                    .insert(task_id.clone(), (task_ref.clone(), *attempt));
                if *attempt > 1 {
                    self.retries += 1;
                }
            }
            Change::TaskHeartbeat { task_ref, note, .. } => {
                let task = self.task_entry(task_ref, at);
                if task.status == TaskStatus::Scheduled {
                    task.status = TaskStatus::InProgress;
                }
                if note.is_some() {
                    task.reason.clone_from(note);
                }
                task.beat_at = Some(at);
            }
            Change::TaskCompleted {
                task_ref,
                input,
                output,
                ..
            } => {
                self.settle(task_ref);
                let task = self.task_entry(task_ref, at);
                task.status = TaskStatus::Completed;
                task.output = output.clone();
                task.reason = None;
                if let Some(input) = input {
                    task.input = input.clone();
                }
                self.last_completed = Some(task_ref.clone());
            }
            Change::TaskFailed {
                task_ref,
                reason,
                retry_at,
                outcome,
                output,
                ..
            } => {
                self.settle(task_ref);
                let task = self.task_entry(task_ref, at);
                task.status = *outcome;
                task.reason = Some(reason.clone());
                task.retry_at = *retry_at;
                if !output.is_null() {
                    task.output = output.clone();
                }
                if *outcome == TaskStatus::CompletedWithErrors {
                    self.last_completed = Some(task_ref.clone());
                }
            }
            Change::ForkExpanded { task_ref, tasks } => {
                self.index_defs(tasks);
                self.forks.insert(task_ref.clone(), Arc::new(tasks.clone()));
            }
            Change::ApprovalRequested {
                task_ref,
                request_id,
                token,
                approver,
                input,
                deadline,
                on_deadline,
                escalate_to,
                escalated_from,
            } => {
                let task = self.task_entry(task_ref, at);
                task.status = TaskStatus::Scheduled;
                task.attempt += 1;
                task.task_id = Some(request_id.clone());
                task.input = input.clone();
                task.reason = None;
                self.approvals.insert(
                    request_id.clone(),
                    ApprovalState {
                        request_id: request_id.clone(),
                        task_ref: task_ref.clone(),
                        token: token.clone(),
                        approver: approver.clone(),
                        input: input.clone(),
                        requested_at: at,
                        deadline: *deadline,
                        on_deadline: *on_deadline,
                        escalate_to: escalate_to.clone(),
                        escalated_from: escalated_from.clone(),
                        status: ApprovalStatus::Open,
                        decided_by: None,
                        closed_at: None,
                    },
                );
            }
            Change::ApprovalDecided {
                request_id,
                decision,
                by,
                ..
            } => {
                if let Some(request) = self.approvals.get_mut(request_id)
                    && request.status == ApprovalStatus::Open
                {
                    request.status = ApprovalStatus::Decided(*decision);
                    request.decided_by = Some(by.clone());
                    request.closed_at = Some(at);
                }
            }
            Change::ApprovalExpired {
                request_id, policy, ..
            } => {
                if let Some(request) = self.approvals.get_mut(request_id) {
                    request.status = ApprovalStatus::Expired(*policy);
                    request.closed_at = Some(at);
                }
            }
            Change::ReplyRejected { .. } => {}
            Change::TaskCanceled {
                task_ref, reason, ..
            } => {
                if self.tasks.contains_key(task_ref) {
                    self.settle(task_ref);
                    super::control::withdraw(self, Some(task_ref), at);
                    let task = self.task_entry(task_ref, at);
                    task.status = TaskStatus::Canceled;
                    task.reason = Some(reason.clone());
                    task.retry_at = None;
                }
            }
            Change::RunCompleted { output } => {
                self.status = RunStatus::Completed;
                self.output = Some(output.clone());
                self.ended_at = Some(at);
            }
            Change::RunFailed {
                reason,
                task_ref,
                output,
            } => {
                if let Some(output) = output {
                    self.output = Some(output.clone());
                }
                self.status = RunStatus::Failed;
                self.failure = Some(Failure {
                    task_ref: task_ref.clone(),
                    reason: reason.clone(),
                });
                self.ended_at = Some(at);
            }
            Change::RunPaused { .. } => self.paused = true,
            Change::RunResumed { .. } => self.paused = false,
            Change::RunTerminated { reason, .. } => {
                super::control::withdraw(self, None, at);
                self.status = RunStatus::Terminated;
                self.paused = false;
                self.failure = Some(Failure {
                    task_ref: None,
                    reason: reason.clone(),
                });
                self.ended_at = Some(at);
            }
            Change::TaskSkipped {
                task_ref,
                by,
                reason,
                ..
            } => {
                self.settle(task_ref);
                super::control::withdraw(self, Some(task_ref), at);
                let task = self.task_entry(task_ref, at);
                task.status = TaskStatus::Skipped;
                task.output = Value::Object(Default::default());
                task.retry_at = None;
                task.reason = Some(match reason {
                    Some(why) => format!("skipped by {by}: {why}"),
                    None => format!("skipped by {by}"),
                });
                if self.status == RunStatus::Failed {
                    // The run goes on: what was canceled when it failed is due again.
                    let canceled: Vec<String> = self
                        .tasks
                        .values()
                        .filter(|t| t.status == TaskStatus::Canceled)
                        .map(|t| t.task_ref.clone())
                        .collect();
                    super::control::reset(self, &canceled, at);
                    super::control::reopen(self);
                }
            }
            Change::RunRetried { tasks, .. } | Change::RunRerunFrom { tasks, .. } => {
                if matches!(change, Change::RunRerunFrom { .. }) {
                    super::tasks::do_while::on_rerun(self, tasks, at);
                }
                super::control::reset(self, tasks, at);
                super::control::reopen(self);
            }
            // A restart of this same run (Conductor's): it starts again from the top.
            Change::RunRestarted { new_run_id, .. } if *new_run_id == self.run_id => {
                self.restart(at);
            }
            Change::RunRestarted { .. } => {}
            Change::LoopIterationStarted {
                task_ref,
                iteration,
                input,
                items,
                keep_last_n,
                yielded,
            } => super::tasks::do_while::apply_started(
                self,
                task_ref,
                *iteration,
                input.as_ref(),
                items.as_ref(),
                *keep_last_n,
                *yielded,
                at,
            ),

            Change::ChildRunStarted { .. }
            | Change::ChildRunResumed { .. }
            | Change::ChildRunEnded { .. }
            | Change::ChildOf { .. } => super::tasks::sub_workflow::apply(self, change, at),

            Change::WaitStarted {
                task_ref,
                task_id,
                input,
                ..
            } => {
                let task = self.task_entry(task_ref, at);
                task.status = TaskStatus::InProgress;
                task.attempt += 1;
                task.task_id = Some(task_id.clone());
                task.input = input.clone();
                task.reason = None;
                task.retry_at = None;
                let attempt = task.attempt;
                self.task_ids
                    .insert(task_id.clone(), (task_ref.clone(), attempt));
            }
            Change::TaskDelayed { .. }
            | Change::TaskDelayEnded { .. }
            | Change::TaskClaimed { .. }
            | Change::TaskTimedOut { .. }
            | Change::TimeoutAlert { .. }
            | Change::RunTimedOut { .. } => {
                // Timers only: see `timeouts::observe` below.
            }
            Change::TaskUpdatedBy { task_ref, .. } => {
                // A HUMAN task completed from outside (Conductor's way): its request closes.
                super::control::withdraw(self, Some(task_ref), at);
            }

            Change::VariablesSet { variables, .. } => {
                if let Value::Object(set) = variables {
                    self.variables
                        .extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            Change::DynamicTaskChosen {
                task_ref,
                task_name,
            } => {
                self.dynamic_choices
                    .insert(task_ref.clone(), task_name.clone());
                if let Some(def) = self.defs.get(task_ref) {
                    let mut chosen = (**def).clone();
                    chosen.name.clone_from(task_name);
                    self.defs.insert(task_ref.clone(), Arc::new(chosen));
                }
                if let Some(task) = self.tasks.get_mut(task_ref) {
                    task.name.clone_from(task_name);
                }
            }
            Change::RunEndedByTask { output, .. } => {
                super::control::withdraw(self, None, at);
                self.output = Some(output.clone());
            }
            Change::HttpCallStarted {
                task_ref,
                task_id,
                attempt,
                input,
                request,
            } => {
                self.settle(task_ref);
                let task = self.task_entry(task_ref, at);
                task.status = TaskStatus::Scheduled;
                task.attempt = *attempt;
                task.task_id = Some(task_id.clone());
                task.agent = None;
                task.token = None;
                task.input = input.clone();
                task.retry_at = None;
                task.reason = None;
                self.task_ids
                    .insert(task_id.clone(), (task_ref.clone(), *attempt));
                self.http_calls.insert(
                    task_ref.clone(),
                    super::tasks::http::HttpCall {
                        task_id: task_id.clone(),
                        attempt: *attempt,
                        request: request.clone(),
                    },
                );
                if *attempt > 1 {
                    self.retries += 1;
                }
            }
            Change::EventPublished {
                task_ref,
                message_id,
                sink,
                event_name,
                target,
                payload,
            } => {
                let task = self.task_entry(task_ref, at);
                task.attempt = 1;
                task.task_id = Some(message_id.clone());
                self.events.insert(
                    message_id.clone(),
                    super::tasks::event::PublishedEvent {
                        message_id: message_id.clone(),
                        task_ref: task_ref.clone(),
                        sink: sink.clone(),
                        event: event_name.clone(),
                        target: target.clone(),
                        payload: payload.clone(),
                        published_at: at,
                    },
                );
            }
        }
        // Timers follow every change (WAIT due times, timeouts, delays, TIMED_OUT).
        super::timeouts::observe(self, change, at);
    }
}

impl Scope for RunState {
    fn root(&self, name: &str) -> Option<Value> {
        if let Some(latest) = super::tasks::do_while::latest(self, name) {
            return self.root(&latest);
        }

        if name == "workflow" {
            let mut doc = self.workflow_doc();
            doc["variables"] = self.variables_doc();
            return Some(doc);
        }

        if name == "workflow" {
            return Some(self.workflow_doc());
        }
        let task = self.tasks.get(name)?;
        Some(self.task_doc(task))
    }
}

impl RunState {
    /// `${<ref>...}`: a task's document, with the fields Conductor's `ParametersUtils` maps
    /// (`referenceTaskName`, `taskType`, `retryCount`, times in epoch milliseconds, ...) and
    /// 3ox's own `attempt`. A field 3ox does not keep is given as Conductor's default for it.
    fn task_doc(&self, task: &TaskState) -> Value {
        let millis = |at: DateTime<Utc>| at.timestamp_millis();
        let ended = task.status.is_done() || task.status.is_failed();
        let end_time = if ended { millis(task.updated_at) } else { 0 };
        // A worker task counts as polled once its agent holds it (or has answered).
        let picked = task.agent.is_some() && task.status != TaskStatus::Scheduled;
        // Inside a DO_WHILE, `check__3` is iteration 3 of the loop member `check`.
        let iteration = task
            .task_ref
            .rsplit_once("__")
            .filter(|(member, _)| {
                self.loops
                    .values()
                    .any(|l| l.members.iter().any(|m| m == member))
            })
            .and_then(|(_, n)| n.parse::<u32>().ok())
            .unwrap_or(0);
        json!({
            "input": task.input,
            "output": task.output,
            "status": task.status,
            "taskId": task.task_id,
            "attempt": task.attempt,
            "reasonForIncompletion": task.reason,
            "referenceTaskName": task.task_ref,
            "taskType": task.type_name,
            "taskDefName": task.name,
            "retryCount": task.attempt.saturating_sub(1),
            "scheduledTime": millis(task.first_at),
            "startTime": millis(task.first_at),
            "endTime": end_time,
            "updateTime": millis(task.updated_at),
            "workflowInstanceId": self.run_id,
            "workflowType": self.workflow.name,
            "correlationId": Value::Null,
            "pollCount": u32::from(picked || (ended && task.agent.is_some())),
            "callbackAfterSeconds": 0,
            "workerId": task.agent,
            "iteration": iteration,
        })
    }
}
