//! The engine: a pure state machine for one run.
//!
//! [`step`] takes a run's state, an [`Input`] (the run starts, a reply arrives, a timer falls
//! due) and a [`Ctx`] (clock, id source, the station's agents) and returns the state changes
//! ([`Change`]) that follow, applying each one to the state as it goes. It touches no file
//! and reads no clock of its own. The orchestrator journals the changes and then carries them
//! out (delivers messages, archives replies, sets timers).
//!
//! [`apply`] is the fold: replaying a journal's changes into [`RunState::default`] with it
//! rebuilds exactly the state the live run had.
//!
//! How the next work is found: after every input the engine walks the workflow's task tree
//! from the top ([`walk`]). Each task type decides in its own file under `tasks/` whether it
//! is done, still pending, or failed, and what to start; a block (a list of tasks) is done
//! when each of its tasks is done in turn. Walking from the top each time keeps the state
//! small (a record per started task) and makes resuming after a crash nothing special.

pub mod complete;
pub mod control;
pub mod permissive;
pub mod retry;
pub mod state;
pub mod tasks;
pub mod timeouts;
pub mod walk;

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{DeadlinePolicy, TaskDef, WorkflowDef};
use crate::mailbox::approval::{Approval, Decision};
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::station::AgentDirectory;

pub use state::{
    ApprovalState, ApprovalStatus, Failure, RunState, RunStatus, TaskState, TaskStatus,
};

/// A state change: one journal record's event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Change {
    /// A run begins. Carries the whole definition so the journal alone can rebuild the run.
    RunStarted {
        run_id: String,
        source: String,
        workflow: Box<WorkflowDef>,
        input: Value,
    },
    /// A SIMPLE task's attempt is due at `agent`: the message is about to be delivered.
    TaskScheduled {
        task_ref: String,
        task_id: String,
        attempt: u32,
        agent: String,
        /// A secret of this attempt, written in its message; the reply must echo it.
        token: String,
        input: Value,
    },
    /// An agent reported it is still working (an IN_PROGRESS reply).
    TaskHeartbeat {
        task_ref: String,
        task_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A task completed: a SIMPLE task's reply, or a system task decided by the engine (which
    /// then also records the input it was given).
    TaskCompleted {
        task_ref: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Value>,
        output: Value,
    },
    /// A task attempt failed. With `retry_at` it will be tried again then; without, the task
    /// ended in `outcome` (FAILED, FAILED_WITH_TERMINAL_ERROR, or COMPLETED_WITH_ERRORS when
    /// it is optional).
    TaskFailed {
        task_ref: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_at: Option<DateTime<Utc>>,
        outcome: TaskStatus,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        output: Value,
    },
    /// A dynamic fork's tasks, fixed when the fork starts.
    ForkExpanded {
        task_ref: String,
        tasks: Vec<TaskDef>,
    },
    /// A HUMAN task asks `approver` for a decision: the request file is about to be written
    /// into the approver's inbox (see `mailbox::approval`).
    ApprovalRequested {
        task_ref: String,
        request_id: String,
        /// A secret of this request, written in the request file; the approval must echo it.
        token: String,
        approver: String,
        /// The task's input after mapping: `question`, `why` and the rest as context.
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<DateTime<Utc>>,
        on_deadline: DeadlinePolicy,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalate_to: Option<String>,
        /// The request this one escalates (after its deadline passed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalated_from: Option<String>,
    },
    /// An approval request was decided (by a person's approval file, or by the deadline's
    /// REJECT policy, `by: 3ox (deadline)`). The task's completion or failure follows.
    ApprovalDecided {
        task_ref: String,
        request_id: String,
        decision: Decision,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The approval file, when a person decided.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// An approval request's deadline passed with no decision; `policy` says what follows.
    ApprovalExpired {
        task_ref: String,
        request_id: String,
        policy: DeadlinePolicy,
    },
    /// A task still scheduled, in progress or waiting for a retry when the run ends: it is
    /// CANCELED (as in Conductor), its message or approval request is withdrawn. Journaled
    /// right before the change that ends the run.
    TaskCanceled {
        task_ref: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        reason: String,
    },
    /// A reply was refused; the file moves to `rejected/` with this reason beside it.
    ReplyRejected {
        file: String,
        agent: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        reason: String,
    },
    RunCompleted {
        output: Value,
    },
    RunFailed {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_ref: Option<String>,
        /// The run's output, as Conductor gives a failed workflow: `outputParameters` mapped
        /// (the failed task's output included), or a FAILED TERMINATE's `workflowOutput`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Value>,
    },
    /// A person paused the run: nothing new is scheduled until it is resumed (replies to what
    /// is in flight still apply).
    RunPaused {
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A person resumed a paused run.
    RunResumed {
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A person ended the run: status TERMINATED with `reason`.
    RunTerminated {
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        reason: String,
    },
    /// A person skipped a task: it is SKIPPED with an empty output and the run goes on (a
    /// FAILED run is opened again).
    TaskSkipped {
        task_ref: String,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A person retried a FAILED run: it runs again, `tasks` (the failed ones, and those left
    /// in flight) are due again as a new attempt; completed work is kept.
    RunRetried {
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        tasks: Vec<String>,
    },
    /// A person reran an ended run from `task_ref`: it and the started tasks after it in the
    /// walk order (`tasks`) run again; the ones before are kept.
    RunRerunFrom {
        task_ref: String,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        tasks: Vec<String>,
    },
    /// A person restarted the run. When `new_run_id` is this run's own id (what `3ox restart`
    /// does, as Conductor restarts the same workflow id) the run starts again from the top
    /// with the same definition and input, its earlier tasks forgotten (their records stay
    /// above in the journal). Journals written before that name a new run of the same
    /// definition and input instead, and leave this run as it was.
    RunRestarted {
        new_run_id: String,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Iteration `iteration` of DO_WHILE `task_ref` starts: its tasks run as `<ref>__<n>`
    /// (see `engine/tasks/do_while.rs`). The first iteration's change also carries the
    /// DO_WHILE's resolved input, the items iterated over and `keepLastN`; with `keepLastN`,
    /// applying it removes the task states of iterations older than the last N.
    LoopIterationStarted {
        task_ref: String,
        iteration: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<Vec<Value>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep_last_n: Option<u32>,
        /// The walk gave way after starting this iteration (many iterations went by without
        /// waiting): the run looks again at once.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        yielded: bool,
    },
    /// A child run is decided (SUB_WORKFLOW, START_WORKFLOW, or the `failureWorkflow` after
    /// the run failed), with its run id chosen now. Journaled before the child exists: the
    /// orchestrator creates the child's journal right after (or on resume).
    ChildRunStarted {
        child_run_id: String,
        kind: tasks::sub_workflow::ChildKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_ref: Option<String>,
        /// The child workflow's name (and version, when given).
        name: String,
        /// (`version` is the journal record's own field, hence the longer name.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workflow_version: Option<u32>,
        /// The child's whole definition when it is fixed already (inline, or resolved by name
        /// when this run started); else the orchestrator resolves `name` in the station when
        /// it creates the child, and the child's own `run_started` records it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workflow: Option<Box<WorkflowDef>>,
        input: Value,
        /// The child's nesting depth (1 for a child of a top-level run).
        depth: u32,
    },
    /// The run was retried (or rerun) and a SUB_WORKFLOW task waits again for its child run:
    /// with `retry`, the child had failed and is retried too (its completed work kept).
    ChildRunResumed {
        task_ref: String,
        child_run_id: String,
        retry: bool,
    },
    /// A child run ended (as its own journal says).
    ChildRunEnded {
        child_run_id: String,
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Value::is_null")]
        output: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// In a child run's journal, right after `run_started`: the run that started it.
    ChildOf {
        parent_run_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_task_ref: Option<String>,
        kind: tasks::sub_workflow::ChildKind,
        depth: u32,
    },
    /// A WAIT task began waiting: it completes at `until`, or, without, when completed from
    /// outside (`3ox complete`). The due time is chosen once, here.
    WaitStarted {
        task_ref: String,
        task_id: String,
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
    },
    /// A task with a `startDelay` is not scheduled before `due`.
    TaskDelayed {
        task_ref: String,
        due: DateTime<Utc>,
    },
    /// A task's `startDelay` has passed: the task may be scheduled (now, or when its agent
    /// has a free slot; no timer is needed for that).
    TaskDelayEnded {
        task_ref: String,
    },
    /// A worker was found to have claimed the attempt's message (its poll timeout is met).
    TaskClaimed {
        task_ref: String,
        task_id: String,
    },
    /// An attempt timed out (`kind` says which timer); the `task_failed` that follows says
    /// whether it is retried, and a `run_timed_out` follows under TIME_OUT_WF.
    TaskTimedOut {
        task_ref: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        kind: timeouts::TimeoutKind,
        reason: String,
    },
    /// A timeout with policy ALERT_ONLY fell due (of a task, or of the workflow when
    /// `task_ref` is absent): recorded, and nothing else changes.
    TimeoutAlert {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_ref: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        kind: timeouts::TimeoutKind,
        reason: String,
    },
    /// The run ended TIMED_OUT (the workflow's timeout, or a task's under TIME_OUT_WF).
    RunTimedOut {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_ref: Option<String>,
    },
    /// A person completed or failed a task from outside (`3ox complete`); the
    /// `task_completed` or `task_failed` follows.
    TaskUpdatedBy {
        task_ref: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
        status: complete::CompletionStatus,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// An HTTP task's attempt starts: the orchestrator makes the call (again, after a crash
    /// before its result was journaled) and feeds the result back as [`Input::HttpResult`].
    HttpCallStarted {
        task_ref: String,
        task_id: String,
        attempt: u32,
        /// The task's input after mapping.
        input: Value,
        /// The request read from it, as it is sent.
        request: tasks::http::HttpRequest,
    },
    /// An EVENT task published its message: the orchestrator writes the message file (again
    /// on resume when it is missing). The task's completion follows.
    EventPublished {
        task_ref: String,
        message_id: String,
        /// The sink as written.
        sink: String,
        /// The event name (`event_produced`).
        event_name: String,
        target: tasks::event::EventTarget,
        /// The message's payload: the task's input plus the workflow's id, type and version.
        payload: Value,
    },
    /// A SET_VARIABLE task set `variables` (its resolved input): merged into the run's
    /// variables, read as `${workflow.variables.<name>}`. The task's completion follows.
    VariablesSet {
        task_ref: String,
        variables: Value,
    },
    /// A DYNAMIC task chose the task it runs: `task_name` (from its `dynamicTaskNameParam`
    /// input), fixed here so a replay runs the same one.
    DynamicTaskChosen {
        task_ref: String,
        task_name: String,
    },
    /// A TERMINATE task ends the run with `status` (COMPLETED, FAILED or TERMINATED), `reason`
    /// and `output` (its `workflowOutput`). Work in flight is withdrawn; the end change
    /// (`run_completed`, `run_failed` or `run_terminated`) follows at once.
    RunEndedByTask {
        task_ref: String,
        status: RunStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        output: Value,
    },
}

/// What happened, from the engine's point of view.
#[derive(Debug, Clone)]
pub enum Input {
    /// Start a new run.
    Start {
        run_id: String,
        source: String,
        workflow: Arc<WorkflowDef>,
        input: Value,
    },
    /// Look again: a timer fell due, an agent gained capacity, or the run is resumed.
    Tick,
    /// A parsed reply found in `agent`'s outbox as `file`.
    Reply {
        agent: String,
        file: String,
        reply: Reply,
    },
    /// A parsed approval file found in `agent`'s outbox as `file` (its owner and mode were
    /// already checked by the orchestrator).
    Approval {
        agent: String,
        file: String,
        approval: Approval,
    },
    /// A file in `agent`'s outbox that could not be read as a reply.
    BadReply {
        agent: String,
        file: String,
        reason: String,
    },
    /// A person's operation on the run (see [`control`]); check it first with
    /// [`control::check`] (or use [`command`]), a refused one changes nothing.
    Control(control::Command),

    /// A child run ended: its parent's driver read the child's journal.
    ChildEnded {
        child_run_id: String,
        status: RunStatus,
        output: Value,
        reason: Option<String>,
    },
    /// The driver found the messages of these attempts claimed by a worker (asked when their
    /// poll deadline fell due, see [`timeouts::polls_due`]).
    Claimed { task_ids: Vec<String> },
    /// The result of the HTTP call made for task id `task_id` (see `tasks::http`).
    HttpResult {
        task_id: String,
        outcome: tasks::http::HttpOutcome,
    },
}

/// What the engine may consult: the time, a source of ids, the station's agents and how
/// busy they are.
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub agents: &'a AgentDirectory,
    pub new_id: &'a mut dyn FnMut() -> ulid::Ulid,
    /// The tasks in flight at each agent across every run the caller knows of (this run's
    /// included). It only chooses among the agents that serve a task and have a free slot
    /// for this run, so that many runs spread their work over every agent that can do it,
    /// instead of each run sending its first task to the same one. The choice is journaled
    /// (`task_scheduled` names the agent), so replay never consults it.
    pub load: &'a dyn Fn(&str) -> usize,
}

/// A [`Ctx::load`] for callers that know of no other run: every agent is idle.
pub fn no_load(_agent: &str) -> usize {
    0
}

/// Decides what follows from `input`, applies it to `state`, and returns the changes in order:
/// [`receive`] and then [`advance`].
pub fn step(state: &mut RunState, input: Input, ctx: &mut Ctx<'_>) -> Vec<Change> {
    let mut out = receive(state, input, ctx);
    out.extend(advance(state, ctx));
    out
}

/// Applies `input` (and any deadline that fell due) without walking the workflow. Several
/// inputs that arrive together (the replies of one outbox scan) are received one by one and
/// followed by a single [`advance`], so a scan costs one walk, not one per reply.
pub fn receive(state: &mut RunState, input: Input, ctx: &mut Ctx<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    if state.status == RunStatus::Running && !matches!(input, Input::Start { .. }) {
        // Deadlines first: a decision that arrives after its deadline finds the request
        // already closed, so exactly one of the two wins.
        tasks::human::expire_due(state, ctx, &mut out);
        if let Input::Claimed { task_ids } = &input {
            timeouts::on_claimed(state, &mut out, ctx, task_ids.clone());
        }
        timeouts::expire_due(state, ctx, &mut out);
    }
    match input {
        Input::Start {
            run_id,
            source,
            workflow,
            input,
        } => {
            // The workflow's `inputTemplate` defaults are part of the input from the start.
            let input = crate::expr::mapping::workflow_input(&workflow, input);
            let change = Change::RunStarted {
                run_id,
                source,
                workflow: Box::new((*workflow).clone()),
                input,
            };
            emit(state, &mut out, change, ctx.now);
        }
        Input::Tick | Input::Claimed { .. } => {}
        Input::Control(command) => control::on_command(state, &mut out, ctx, command),
        Input::Reply { agent, file, reply } => on_reply(state, &mut out, ctx, agent, file, reply),
        Input::Approval {
            agent,
            file,
            approval,
        } => tasks::human::on_approval(state, &mut out, ctx, agent, file, approval),
        Input::ChildEnded {
            child_run_id,
            status,
            output,
            reason,
        } => tasks::sub_workflow::on_child_ended(
            state,
            &mut out,
            ctx,
            child_run_id,
            status,
            output,
            reason,
        ),
        Input::BadReply {
            agent,
            file,
            reason,
        } => {
            emit(
                state,
                &mut out,
                Change::ReplyRejected {
                    file: bounded(file),
                    agent,
                    task_id: None,
                    reason: bounded(reason),
                },
                ctx.now,
            );
        }
        // (io) an HTTP call's result.
        Input::HttpResult { task_id, outcome } => {
            tasks::http::on_result(state, &mut out, ctx, task_id, outcome);
        }
    }
    out
}

/// Walks the workflow and returns what it starts, completes or ends (nothing while the run is
/// paused or over).
pub fn advance(state: &mut RunState, ctx: &mut Ctx<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    if state.status == RunStatus::Running && !state.paused {
        walk::advance(state, ctx, &mut out);
    }
    // A run that has just failed (in the walk, or terminated) starts its failure workflow.
    tasks::sub_workflow::after_end(state, ctx, &mut out);
    out
}

/// A person's operation: refused with the reason when it does not apply to the run as it
/// stands, else its changes (and what the walk then schedules), like [`step`].
pub fn command(
    state: &mut RunState,
    command: control::Command,
    ctx: &mut Ctx<'_>,
) -> Result<Vec<Change>, control::ControlError> {
    control::check(state, &command)?;
    Ok(step(state, Input::Control(command), ctx))
}

/// The shortest time between two journaled heartbeats of one attempt: a tenth of the task's
/// `responseTimeoutSeconds`, and at most [`HEARTBEAT_INTERVAL_MAX`]. A heartbeat sooner than
/// this after the attempt was scheduled or last beat, that neither starts the task (SCHEDULED
/// to IN_PROGRESS) nor changes its note, is taken (moved to `done/`) but not journaled, so an
/// agent that beats in a tight loop cannot grow the journal faster than this; the response
/// deadline it would have moved is then at most this much earlier.
pub fn heartbeat_interval(def: Option<&TaskDef>) -> std::time::Duration {
    def.and_then(|d| timeouts::TaskTimeouts::of(d).response)
        .map_or(HEARTBEAT_INTERVAL_MAX, |response| {
            (response / 10).min(HEARTBEAT_INTERVAL_MAX)
        })
}

/// See [`heartbeat_interval`].
pub const HEARTBEAT_INTERVAL_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether an IN_PROGRESS reply to a task in flight would change nothing worth a journal
/// record (see [`heartbeat_interval`]).
fn heartbeat_is_redundant(
    state: &RunState,
    task_ref: &str,
    reply: &Reply,
    now: DateTime<Utc>,
) -> bool {
    let task = &state.tasks[task_ref];
    let Some(beat_at) = task.beat_at else {
        return false;
    };
    let interval = heartbeat_interval(state.def(task_ref).as_deref());
    let since = (now - beat_at).to_std().unwrap_or_default();
    task.status == TaskStatus::InProgress && reply.reason == task.reason && since < interval
}

/// The most of a refused file's name, task id or reason that its `reply_rejected` record
/// keeps (the refusal note beside the file has the whole reason): what a sender controls
/// costs the journal a bounded amount per file.
pub const REFUSAL_TEXT_MAX: usize = 1000;

/// `text` cut to [`REFUSAL_TEXT_MAX`] bytes at a character boundary, marked with `...`.
fn bounded(mut text: String) -> String {
    if text.len() > REFUSAL_TEXT_MAX {
        let mut end = REFUSAL_TEXT_MAX - 3;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// Applies `change` to `state` and records it in `out`. A change that ends a running run is
/// preceded by a `task_canceled` for each task that had not ended (see [`cancel_unfinished`]).
pub(crate) fn emit(state: &mut RunState, out: &mut Vec<Change>, change: Change, at: DateTime<Utc>) {
    if state.status == RunStatus::Running
        && let Some(ends) = ending_status(&change)
    {
        cancel_unfinished(state, out, ends, at);
    }
    apply(state, &change, at);
    out.push(change);
}

/// The status `change` ends the run in, when it ends it.
fn ending_status(change: &Change) -> Option<RunStatus> {
    match change {
        Change::RunCompleted { .. } => Some(RunStatus::Completed),
        Change::RunFailed { .. } => Some(RunStatus::Failed),
        Change::RunTerminated { .. } => Some(RunStatus::Terminated),
        Change::RunTimedOut { .. } => Some(RunStatus::TimedOut),
        _ => None,
    }
}

/// As Conductor's `cancelNonTerminalTasks`: every task still scheduled, in progress (a HUMAN
/// task waiting for its decision, a WAIT, a child run) or waiting for a retry is CANCELED
/// when the run ends.
fn cancel_unfinished(
    state: &mut RunState,
    out: &mut Vec<Change>,
    ends: RunStatus,
    at: DateTime<Utc>,
) {
    let unfinished: Vec<(String, Option<String>)> = state
        .tasks
        .values()
        .filter(|t| t.status.is_in_flight() || t.status == TaskStatus::RetryWait)
        .map(|t| (t.task_ref.clone(), t.task_id.clone()))
        .collect();
    for (task_ref, task_id) in unfinished {
        let change = Change::TaskCanceled {
            task_ref,
            task_id,
            reason: format!("canceled: the run ended {ends} before it finished"),
        };
        apply(state, &change, at);
        out.push(change);
    }
}

fn on_reply(
    state: &mut RunState,
    out: &mut Vec<Change>,
    ctx: &mut Ctx<'_>,
    agent: String,
    file: String,
    reply: Reply,
) {
    let reject = |reason: String| Change::ReplyRejected {
        file: bounded(file.clone()),
        agent: agent.clone(),
        task_id: Some(bounded(reply.task_id.clone())),
        reason: bounded(reason),
    };
    let Some((task_ref, attempt)) = state.task_ids.get(&reply.task_id).cloned() else {
        let reason = format!(
            "no task with id `{}` in this run; reply to a task message you received",
            reply.task_id
        );
        return emit(state, out, reject(reason), ctx.now);
    };
    if state.status != RunStatus::Running {
        let canceled = match state.tasks.get(&task_ref) {
            Some(t) if t.status == TaskStatus::Canceled && t.attempt == attempt => {
                format!(" and task `{task_ref}` was canceled")
            }
            _ => String::new(),
        };
        let reason = format!(
            "run {} has already ended ({}){canceled}; the reply came too late",
            state.run_id, state.status
        );
        return emit(state, out, reject(reason), ctx.now);
    }
    let task = &state.tasks[&task_ref];
    if task.attempt != attempt {
        let reason = format!(
            "stale: this reply is for attempt {attempt} of task `{task_ref}`, which is now at attempt {}",
            task.attempt
        );
        return emit(state, out, reject(reason), ctx.now);
    }
    if task.agent.as_deref() != Some(agent.as_str()) {
        let reason = format!(
            "task `{task_ref}` was sent to agent `{}`, but this reply is in the outbox of `{agent}`",
            task.agent.as_deref().unwrap_or("?")
        );
        return emit(state, out, reject(reason), ctx.now);
    }
    if reply.token.is_none() || reply.token != task.token {
        let reason = match &reply.token {
            None => "the reply has no `token`; copy it from the task message (`reply.form.token`)"
                .to_string(),
            Some(_) => format!(
                "wrong token for attempt {attempt} of task `{task_ref}`; copy it from the task message"
            ),
        };
        return emit(state, out, reject(reason), ctx.now);
    }
    if !matches!(task.status, TaskStatus::Scheduled | TaskStatus::InProgress) {
        let reason = format!(
            "duplicate: attempt {attempt} of task `{task_ref}` was already settled ({})",
            task.status
        );
        return emit(state, out, reject(reason), ctx.now);
    }
    if reply.status == ReplyStatus::InProgress
        && heartbeat_is_redundant(state, &task_ref, &reply, ctx.now)
    {
        // Consumed as handled with nothing journaled: see `heartbeat_interval`.
        return;
    }
    let task_id = Some(reply.task_id.clone());
    let output = if reply.output.is_null() {
        Value::Object(Default::default())
    } else {
        reply.output
    };
    let change = match reply.status {
        ReplyStatus::InProgress => Change::TaskHeartbeat {
            task_ref,
            task_id: reply.task_id,
            note: reply.reason,
        },
        ReplyStatus::Completed => Change::TaskCompleted {
            task_ref,
            task_id,
            input: None,
            output,
        },
        ReplyStatus::Failed | ReplyStatus::FailedWithTerminalError => {
            let terminal = reply.status == ReplyStatus::FailedWithTerminalError;
            let reason = reply
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "the agent gave no reason".to_string());
            let def = state.def(&task_ref);
            retry::failure(
                def.as_deref(),
                &task_ref,
                task_id,
                reason,
                terminal,
                attempt,
                output,
                ctx,
            )
        }
    };
    emit(state, out, change, ctx.now);
}

/// Applies one change to the state. Total: a change that does not fit (which a correct
/// journal never holds) leaves the state as it is.
pub fn apply(state: &mut RunState, change: &Change, at: DateTime<Utc>) {
    state.apply(change, at);
}
