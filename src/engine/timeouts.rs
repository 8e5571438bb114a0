//! Timers: task timeouts (poll, response, per attempt, total), the workflow's timeout,
//! `startDelay`, and the due times of WAIT tasks.
//!
//! Every timer is a time in the state, never a sleeping loop. The times come from the journal:
//! a task's timeouts from the time its `task_scheduled` (or `task_heartbeat`) was recorded and
//! the definition the journal holds; a WAIT's and a delay's due time from their own change
//! (`wait_started`, `task_delayed`). [`observe`] keeps them up to date as changes are
//! applied (replay included), [`next_due`] feeds `RunState::next_wakeup`, so the driver wakes
//! exactly when the earliest falls due, and [`expire_due`] (called on every input before it
//! is applied, like HUMAN deadlines) acts on each one that has fallen due.
//!
//! Which timeouts exist (each read from the task, or else its `taskDefinition`; 0 or absent
//! means none):
//! - `pollTimeoutSeconds`: no worker claimed the message (moved it into `claimed/`) in time.
//!   The engine cannot see files: when the poll deadline falls due, the driver looks and reports
//!   a claim as [`super::Input::Claimed`] first (see `orchestrator::timers`).
//! - `responseTimeoutSeconds`: no reply or heartbeat since delivery or the last heartbeat. As in
//!   Conductor, the attempt then times out and is retried by the retry policy, whatever the
//!   `timeoutPolicy`.
//! - `timeoutSeconds`: one attempt took longer than this since its delivery.
//! - `totalTimeoutSeconds` (3ox): the task, across all its attempts and the waits between
//!   them, took longer than this since its first delivery. No retry follows.
//!
//! Poll, attempt and total timeouts follow the task's `timeoutPolicy`: RETRY (the attempt
//! fails as timed out and the retry policy decides), TIME_OUT_WF (the run ends TIMED_OUT) or
//! ALERT_ONLY (an alert is journaled once, and the task goes on waiting). Conductor's default,
//! TIME_OUT_WF, is 3ox's too. The workflow's `timeoutSeconds` with its `timeoutPolicy`
//! (TIME_OUT_WF or ALERT_ONLY) bounds the whole run from its start.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::{Failure, RunState, RunStatus, TaskStatus};
use super::walk::{Progress, Walker};
use super::{Change, Ctx, emit, retry};
use crate::definition::{DurationSpec, TaskDef, WorkflowDef};

/// What happens when a timeout falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeoutPolicy {
    /// The attempt fails as timed out; the retry policy decides what follows.
    Retry,
    /// The run ends TIMED_OUT.
    #[default]
    TimeOutWf,
    /// An alert is journaled; nothing else changes.
    AlertOnly,
}

impl TimeoutPolicy {
    pub const NAMES: &'static [&'static str] = &["RETRY", "TIME_OUT_WF", "ALERT_ONLY"];

    pub fn parse(text: &str) -> Option<TimeoutPolicy> {
        Some(match text {
            "RETRY" => TimeoutPolicy::Retry,
            "TIME_OUT_WF" => TimeoutPolicy::TimeOutWf,
            "ALERT_ONLY" => TimeoutPolicy::AlertOnly,
            _ => return None,
        })
    }
}

/// Which timer fell due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    /// `pollTimeoutSeconds`: nobody claimed the message.
    Poll,
    /// `responseTimeoutSeconds`: no reply or heartbeat.
    Response,
    /// `timeoutSeconds`: one attempt.
    Attempt,
    /// `totalTimeoutSeconds`: all attempts together.
    Total,
    /// The workflow's `timeoutSeconds`.
    Workflow,
}

/// A task's timeouts, as its definition states them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskTimeouts {
    pub poll: Option<Duration>,
    pub response: Option<Duration>,
    pub attempt: Option<Duration>,
    pub total: Option<Duration>,
    pub policy: TimeoutPolicy,
}

/// The timeout fields a task (or its `taskDefinition`) may hold, in seconds.
pub const TASK_TIMEOUT_FIELDS: &[&str] = &[
    "pollTimeoutSeconds",
    "responseTimeoutSeconds",
    "timeoutSeconds",
    "totalTimeoutSeconds",
];

/// A field of the task, else of its `taskDefinition` (like the retry fields).
fn task_field<'a>(def: &'a TaskDef, name: &str) -> Option<&'a Value> {
    def.extra.get(name).filter(|v| !v.is_null()).or_else(|| {
        def.extra
            .get("taskDefinition")
            .and_then(|d| d.get(name))
            .filter(|v| !v.is_null())
    })
}

/// A number of seconds (or a duration text); zero is "none".
fn seconds(value: Option<&Value>) -> Option<Duration> {
    DurationSpec::from_value(value?)
        .ok()
        .map(|d| d.0)
        .filter(|d| !d.is_zero())
}

impl TaskTimeouts {
    pub fn of(def: &TaskDef) -> TaskTimeouts {
        TaskTimeouts {
            poll: seconds(task_field(def, "pollTimeoutSeconds")),
            response: seconds(task_field(def, "responseTimeoutSeconds")),
            attempt: seconds(task_field(def, "timeoutSeconds")),
            total: seconds(task_field(def, "totalTimeoutSeconds")),
            policy: task_field(def, "timeoutPolicy")
                .and_then(Value::as_str)
                .and_then(TimeoutPolicy::parse)
                .unwrap_or_default(),
        }
    }
}

/// The workflow's `timeoutSeconds` (none when 0 or absent) and `timeoutPolicy`.
pub fn workflow_timeout(workflow: &WorkflowDef) -> Option<(Duration, TimeoutPolicy)> {
    let limit = seconds(workflow.extra.get("timeoutSeconds"))?;
    let policy = workflow
        .extra
        .get("timeoutPolicy")
        .and_then(Value::as_str)
        .and_then(TimeoutPolicy::parse)
        .unwrap_or_default();
    Some((limit, policy))
}

/// A task's `startDelay` (seconds, or a duration text); none when 0 or absent.
pub fn start_delay(def: &TaskDef) -> Option<Duration> {
    seconds(def.extra.get("startDelay"))
}

fn after(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 2)
}

/// The clock of one attempt in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptClock {
    pub task_id: String,
    pub poll_due: Option<DateTime<Utc>>,
    pub response_due: Option<DateTime<Utc>>,
    pub attempt_due: Option<DateTime<Utc>>,
    /// Timers of this attempt that already fired (ALERT_ONLY ones stay in force otherwise).
    pub fired: Vec<TimeoutKind>,
}

impl AttemptClock {
    fn pending(&self) -> impl Iterator<Item = (TimeoutKind, DateTime<Utc>)> + '_ {
        [
            (TimeoutKind::Poll, self.poll_due),
            (TimeoutKind::Response, self.response_due),
            (TimeoutKind::Attempt, self.attempt_due),
        ]
        .into_iter()
        .filter_map(|(k, at)| Some((k, at?)))
        .filter(|(k, _)| !self.fired.contains(k))
    }
}

/// Every timer of a run (part of [`RunState`], rebuilt by replay).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timers {
    /// The attempt in flight of each agent-served task that has a timeout.
    pub attempts: HashMap<String, AttemptClock>,
    /// `totalTimeoutSeconds` deadlines, from each task's first delivery.
    pub totals: HashMap<String, DateTime<Utc>>,
    /// WAIT tasks waiting: their due time, or `None` (completed from outside).
    pub waits: HashMap<String, Option<DateTime<Utc>>>,
    /// Tasks with a `startDelay`, not scheduled before this time.
    pub delays: HashMap<String, DateTime<Utc>>,
    /// Tasks whose `startDelay` has passed (they wait for nothing but an agent's slot).
    pub released: HashSet<String>,
    /// The workflow's ALERT_ONLY timeout fired already.
    pub workflow_alerted: bool,
    /// When the workflow's clock last started again (a person retried or reran the run);
    /// its `timeoutSeconds` counts from here, else from the run's start.
    pub workflow_since: Option<DateTime<Utc>>,
}

/// When the workflow's `timeoutSeconds` falls due, with its policy.
fn workflow_due(state: &RunState) -> Option<(DateTime<Utc>, Duration, TimeoutPolicy)> {
    let (limit, policy) = workflow_timeout(&state.workflow)?;
    let since = state.timers.workflow_since.or(state.started_at)?;
    Some((after(since, limit), limit, policy))
}

/// Updates the timers for `change` (applied at `at`), after the state itself took it.
pub fn observe(state: &mut RunState, change: &Change, at: DateTime<Utc>) {
    let timers = &mut state.timers;
    match change {
        Change::TaskScheduled {
            task_ref,
            task_id,
            attempt,
            ..
        } => {
            timers.delays.remove(task_ref);
            let limits = state
                .defs
                .get(task_ref)
                .map(|d| TaskTimeouts::of(d))
                .unwrap_or_default();
            timers.attempts.insert(
                task_ref.clone(),
                AttemptClock {
                    task_id: task_id.clone(),
                    poll_due: limits.poll.map(|d| after(at, d)),
                    response_due: limits.response.map(|d| after(at, d)),
                    attempt_due: limits.attempt.map(|d| after(at, d)),
                    fired: Vec::new(),
                },
            );
            // Attempt 1 starts the task afresh (a loop's next iteration, say); later attempts
            // keep the first one's total deadline.
            if *attempt <= 1 {
                timers.totals.remove(task_ref);
            }
            if let Some(total) = limits.total {
                timers
                    .totals
                    .entry(task_ref.clone())
                    .or_insert_with(|| after(at, total));
            }
        }
        Change::TaskHeartbeat {
            task_ref, task_id, ..
        } => {
            let response = state
                .defs
                .get(task_ref)
                .and_then(|d| TaskTimeouts::of(d).response);
            if let Some(clock) = timers.attempts.get_mut(task_ref)
                && clock.task_id == *task_id
            {
                clock.poll_due = None;
                clock.response_due = response.map(|d| after(at, d));
                clock.fired.retain(|k| *k != TimeoutKind::Response);
            }
        }
        Change::TaskClaimed { task_ref, task_id } => {
            if let Some(clock) = timers.attempts.get_mut(task_ref)
                && clock.task_id == *task_id
            {
                clock.poll_due = None;
            }
        }
        Change::TaskCompleted { task_ref, .. } | Change::TaskSkipped { task_ref, .. } => {
            timers.attempts.remove(task_ref);
            timers.totals.remove(task_ref);
            timers.waits.remove(task_ref);
        }
        Change::TaskFailed {
            task_ref, outcome, ..
        } => {
            timers.attempts.remove(task_ref);
            timers.waits.remove(task_ref);
            if *outcome != TaskStatus::RetryWait {
                timers.totals.remove(task_ref);
            }
        }
        Change::RunRetried { tasks, .. } | Change::RunRerunFrom { tasks, .. } => {
            timers.workflow_since = Some(at);
            timers.workflow_alerted = false;
            for task_ref in tasks {
                timers.attempts.remove(task_ref);
                timers.totals.remove(task_ref);
                timers.waits.remove(task_ref);
                timers.delays.remove(task_ref);
                timers.released.remove(task_ref);
            }
        }
        Change::WaitStarted {
            task_ref, until, ..
        } => {
            timers.waits.insert(task_ref.clone(), *until);
        }
        Change::TaskDelayed { task_ref, due } => {
            timers.delays.insert(task_ref.clone(), *due);
            timers.released.remove(task_ref);
        }
        Change::TaskDelayEnded { task_ref } => {
            timers.released.insert(task_ref.clone());
        }
        Change::TimeoutAlert { task_ref, kind, .. } => match (task_ref, kind) {
            (_, TimeoutKind::Workflow) => timers.workflow_alerted = true,
            (Some(task_ref), kind) => fired(timers, task_ref, *kind),
            (None, _) => {}
        },
        Change::TaskTimedOut { task_ref, kind, .. } => fired(timers, task_ref, *kind),
        Change::RunTimedOut { reason, task_ref } => {
            super::control::withdraw(state, None, at);
            state.status = RunStatus::TimedOut;
            state.paused = false;
            state.failure = Some(Failure {
                task_ref: task_ref.clone(),
                reason: reason.clone(),
            });
            state.ended_at = Some(at);
        }
        _ => {}
    }
}

/// Marks timer `kind` of `task_ref` as fired, so it does not fire again.
fn fired(timers: &mut Timers, task_ref: &str, kind: TimeoutKind) {
    if kind == TimeoutKind::Total {
        timers.totals.remove(task_ref);
    } else if let Some(clock) = timers.attempts.get_mut(task_ref) {
        clock.fired.push(kind);
    }
}

/// The earliest time a timer of the run falls due (for `RunState::next_wakeup`).
pub fn next_due(state: &RunState) -> Option<DateTime<Utc>> {
    if state.status != RunStatus::Running {
        return None;
    }
    let timers = &state.timers;
    let in_flight = |task_ref: &str, task_id: &str| {
        state
            .tasks
            .get(task_ref)
            .is_some_and(|t| t.status.is_in_flight() && t.task_id.as_deref() == Some(task_id))
    };
    let attempts = timers
        .attempts
        .iter()
        .filter(|(r, c)| in_flight(r, &c.task_id))
        .filter_map(|(_, c)| c.pending().map(|(_, at)| at).min());
    let totals = timers
        .totals
        .iter()
        .filter(|(r, _)| {
            state
                .tasks
                .get(*r)
                .is_some_and(|t| t.status.is_in_flight() || t.status == TaskStatus::RetryWait)
        })
        .map(|(_, at)| *at);
    // A paused run walks nothing, so neither a WAIT nor a delay can end before it resumes.
    let walking = !state.paused;
    let waits = timers
        .waits
        .iter()
        .filter(|(r, _)| walking && state.tasks.get(*r).is_some_and(|t| t.status.is_in_flight()))
        .filter_map(|(_, at)| *at);
    let delays = timers
        .delays
        .iter()
        .filter(|(r, _)| walking && !state.tasks.contains_key(*r) && !timers.released.contains(*r))
        .map(|(_, at)| *at);
    let workflow = workflow_due(state)
        .filter(|_| !timers.workflow_alerted)
        .map(|(at, _, _)| at);
    attempts
        .chain(totals)
        .chain(waits)
        .chain(delays)
        .chain(workflow)
        .min()
}

/// The attempts whose poll deadline has fallen due by `now`: (task reference, task id,
/// agent). The driver looks whether each message was claimed before the engine acts.
pub fn polls_due(state: &RunState, now: DateTime<Utc>) -> Vec<(String, String, String)> {
    if state.status != RunStatus::Running {
        return Vec::new();
    }
    let mut due: Vec<(String, String, String)> = state
        .timers
        .attempts
        .iter()
        .filter(|(_, c)| {
            c.poll_due.is_some_and(|at| at <= now) && !c.fired.contains(&TimeoutKind::Poll)
        })
        .filter_map(|(r, c)| {
            let task = state.tasks.get(r)?;
            let agent = task.agent.clone()?;
            (task.status == TaskStatus::Scheduled && task.task_id.as_deref() == Some(&c.task_id))
                .then(|| (r.clone(), c.task_id.clone(), agent))
        })
        .collect();
    due.sort();
    due
}

/// Records that the messages of `task_ids` were found claimed by a worker.
pub fn on_claimed(
    state: &mut RunState,
    out: &mut Vec<Change>,
    ctx: &Ctx<'_>,
    task_ids: Vec<String>,
) {
    for task_id in task_ids {
        let Some((task_ref, _)) = state.task_ids.get(&task_id).cloned() else {
            continue;
        };
        let current = state
            .timers
            .attempts
            .get(&task_ref)
            .is_some_and(|c| c.task_id == task_id && c.poll_due.is_some());
        if current {
            emit(
                state,
                out,
                Change::TaskClaimed { task_ref, task_id },
                ctx.now,
            );
        }
    }
}

fn describe(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Acts on every timer that has fallen due by `ctx.now`: the workflow's timeout first, then
/// each task's, in the order of the run's tasks.
pub fn expire_due(state: &mut RunState, ctx: &mut Ctx<'_>, out: &mut Vec<Change>) {
    if state.status != RunStatus::Running {
        return;
    }
    if let Some((due, limit, policy)) = workflow_due(state)
        && !state.timers.workflow_alerted
        && due <= ctx.now
    {
        let reason = format!(
            "the run did not finish within the workflow's timeoutSeconds ({})",
            describe(limit)
        );
        if policy == TimeoutPolicy::AlertOnly {
            let alert = Change::TimeoutAlert {
                task_ref: None,
                task_id: None,
                kind: TimeoutKind::Workflow,
                reason,
            };
            emit(state, out, alert, ctx.now);
        } else {
            emit(
                state,
                out,
                Change::RunTimedOut {
                    reason,
                    task_ref: None,
                },
                ctx.now,
            );
            return;
        }
    }
    let refs: Vec<String> = state.tasks.keys().cloned().collect();
    for task_ref in refs {
        // Each firing settles the attempt or marks its timer fired, so this ends; several
        // timers of one task may have fallen due while nobody drove the run.
        while state.status == RunStatus::Running
            && let Some(kind) = due_kind(state, &task_ref, ctx.now)
        {
            fire(state, ctx, out, &task_ref, kind);
        }
    }
}

/// The timer of `task_ref` that fell due first, if any.
fn due_kind(state: &RunState, task_ref: &str, now: DateTime<Utc>) -> Option<TimeoutKind> {
    let task = state.tasks.get(task_ref)?;
    let mut due: Vec<(DateTime<Utc>, TimeoutKind)> = Vec::new();
    if task.status.is_in_flight()
        && let Some(clock) = state.timers.attempts.get(task_ref)
        && task.task_id.as_deref() == Some(clock.task_id.as_str())
    {
        due.extend(
            clock
                .pending()
                .filter(|(_, at)| *at <= now)
                .map(|(k, at)| (at, k)),
        );
    }
    if (task.status.is_in_flight() || task.status == TaskStatus::RetryWait)
        && let Some(at) = state.timers.totals.get(task_ref)
        && *at <= now
    {
        due.push((*at, TimeoutKind::Total));
    }
    due.into_iter().min_by_key(|(at, _)| *at).map(|(_, k)| k)
}

fn fire(
    state: &mut RunState,
    ctx: &mut Ctx<'_>,
    out: &mut Vec<Change>,
    task_ref: &str,
    kind: TimeoutKind,
) {
    let def = state.def(task_ref);
    let limits = def.as_deref().map(TaskTimeouts::of).unwrap_or_default();
    let task = &state.tasks[task_ref];
    let task_id = task.task_id.clone();
    let attempt = task.attempt;
    let reason = match kind {
        TimeoutKind::Poll => format!(
            "no worker claimed the message of attempt {attempt} within pollTimeoutSeconds ({})",
            describe(limits.poll.unwrap_or_default())
        ),
        TimeoutKind::Response => format!(
            "no reply or heartbeat to attempt {attempt} within responseTimeoutSeconds ({})",
            describe(limits.response.unwrap_or_default())
        ),
        TimeoutKind::Attempt => format!(
            "attempt {attempt} did not finish within timeoutSeconds ({})",
            describe(limits.attempt.unwrap_or_default())
        ),
        TimeoutKind::Total | TimeoutKind::Workflow => format!(
            "the task did not finish within totalTimeoutSeconds ({}) across its attempts",
            describe(limits.total.unwrap_or_default())
        ),
    };
    // As in Conductor, a response timeout always retries (within the retry policy).
    let policy = if kind == TimeoutKind::Response {
        TimeoutPolicy::Retry
    } else {
        limits.policy
    };
    if policy == TimeoutPolicy::AlertOnly {
        let alert = Change::TimeoutAlert {
            task_ref: Some(task_ref.to_string()),
            task_id,
            kind,
            reason,
        };
        return emit(state, out, alert, ctx.now);
    }
    let timed_out = Change::TaskTimedOut {
        task_ref: task_ref.to_string(),
        task_id: task_id.clone(),
        kind,
        reason: reason.clone(),
    };
    emit(state, out, timed_out, ctx.now);
    let optional = def.as_ref().is_some_and(|d| d.optional);
    let final_failure = |reason: String, optional: bool| Change::TaskFailed {
        task_ref: task_ref.to_string(),
        task_id: task_id.clone(),
        reason,
        retry_at: None,
        outcome: if optional {
            TaskStatus::CompletedWithErrors
        } else {
            TaskStatus::TimedOut
        },
        output: Value::Null,
    };
    let reason = format!("timed out: {reason}");
    if policy == TimeoutPolicy::TimeOutWf {
        emit(state, out, final_failure(reason.clone(), false), ctx.now);
        let run_reason = format!("task `{task_ref}` {reason}");
        let change = Change::RunTimedOut {
            reason: run_reason,
            task_ref: Some(task_ref.to_string()),
        };
        return emit(state, out, change, ctx.now);
    }
    let change = if kind == TimeoutKind::Total {
        final_failure(reason, optional)
    } else {
        let change = retry::failure(
            def.as_deref(),
            task_ref,
            task_id.clone(),
            reason.clone(),
            false,
            attempt,
            Value::Null,
            ctx,
        );
        // No retry that would only start after the total deadline.
        let total = state.timers.totals.get(task_ref).copied();
        match (&change, total) {
            (
                Change::TaskFailed {
                    retry_at: Some(at), ..
                },
                Some(total),
            ) if *at >= total => final_failure(
                format!("{reason}; no retry, totalTimeoutSeconds would pass first"),
                optional,
            ),
            // As in Conductor, a timeout with no retry left ends the task TIMED_OUT, and
            // with it the run.
            (
                Change::TaskFailed {
                    retry_at: None,
                    outcome: TaskStatus::Failed | TaskStatus::FailedWithTerminalError,
                    ..
                },
                _,
            ) => final_failure(reason, false),
            _ => change,
        }
    };
    let ends_run = matches!(
        &change,
        Change::TaskFailed {
            outcome: TaskStatus::TimedOut,
            ..
        }
    );
    let failure_reason = match &change {
        Change::TaskFailed { reason, .. } => reason.clone(),
        _ => String::new(),
    };
    emit(state, out, change, ctx.now);
    if ends_run && state.status == RunStatus::Running {
        let change = Change::RunTimedOut {
            reason: format!("task `{task_ref}` {failure_reason}"),
            task_ref: Some(task_ref.to_string()),
        };
        emit(state, out, change, ctx.now);
    }
}

/// `startDelay`: the first walk over a task with a delay journals when it is due
/// (`task_delayed`); until then the task stays pending; the first walk after it journals
/// `task_delay_ended` and lets the task start. `None`: no delay holds the task back.
pub fn delay(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Option<Progress> {
    let task_ref = &task.task_reference_name;
    if w.state.tasks.contains_key(task_ref) {
        return None;
    }
    let delay = start_delay(task)?;
    if w.state.timers.released.contains(task_ref) {
        return None;
    }
    match w.state.timers.delays.get(task_ref) {
        Some(due) if *due <= w.ctx.now => {
            // Journaled once, so a task that then waits for an agent's free slot is no
            // reason to wake up again.
            w.emit(Change::TaskDelayEnded {
                task_ref: task_ref.clone(),
            });
            None
        }
        Some(_) => Some(Progress::Pending),
        None => {
            let due = after(w.ctx.now, delay);
            w.emit(Change::TaskDelayed {
                task_ref: task_ref.clone(),
                due,
            });
            Some(Progress::Pending)
        }
    }
}

#[cfg(test)]
#[path = "timers_tests.rs"]
mod tests;
