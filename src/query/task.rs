//! `3ox status RUN --task REF` and `3ox log RUN --task REF`: one task of a run, folded from
//! the run's journal records that name it. Each attempt with its status, times, agent,
//! input, output, reason, heartbeat notes and the backoff before the next; a HUMAN task's
//! approval requests with the decision (who, when, comment, reason); a WAIT's start and due
//! time; a dynamic fork's forked tasks; the child runs the task started; a DO_WHILE's
//! iterations; or, for a task the engine decided itself, that decision.
//!
//! A task of a DO_WHILE body runs as `<ref>__<iteration>`: asked for `<ref>`, the view shows
//! the latest iteration. An unknown reference is an error that names the nearest one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{Loaded, QueryError, Stamp, load, resolve};
use crate::definition::DeadlinePolicy;
use crate::engine::tasks::sub_workflow::ChildLink;
use crate::engine::{ApprovalStatus, Change, RunState, TaskStatus};
use crate::mailbox::approval::Decision;
use crate::station::Station;

/// Why a task cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("run {run_id} has no task `{task_ref}`")]
    NoSuchTask {
        run_id: String,
        task_ref: String,
        /// The nearest reference of the run, when one is close.
        nearest: Option<String>,
    },
}

impl TaskError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            TaskError::Query(e) => e.hint(),
            TaskError::NoSuchTask {
                nearest: Some(near),
                ..
            } => format!("did you mean `{near}`?"),
            TaskError::NoSuchTask { run_id, .. } => {
                format!("`3ox status {run_id}` lists the run's tasks")
            }
        }
    }
}

/// One task of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    pub run_id: String,
    pub task_ref: String,
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// `NOT_STARTED` for a task of the definition the run has not reached.
    pub status: String,
    /// The task's input and output as the run has them now.
    pub input: Value,
    pub output: Value,
    pub reason: Option<String>,
    /// Attempts sent to an agent (or HTTP calls made by 3ox), in order.
    pub attempts: Vec<TaskAttempt>,
    /// Retries so far (attempts after the first).
    pub retries: u32,
    /// What the engine decided, for a task no agent served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<Settled>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitView>,
    /// A `startDelay`: not scheduled before this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delayed_until: Option<Stamp>,
    /// A FORK_JOIN_DYNAMIC: the tasks it forked, with their states.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forked: Vec<ForkedTask>,
    /// A DO_WHILE: its iterations so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// Runs this task started (SUB_WORKFLOW, START_WORKFLOW, forked sub-workflows).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildLink>,
    /// What people and timers did to the task (`3ox complete`, `skip`, timeouts), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<TaskNote>,
}

/// One attempt of a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskAttempt {
    pub attempt: u32,
    pub task_id: String,
    /// The agent the message went to (`(http)` for an HTTP call made by 3ox).
    pub agent: String,
    /// SCHEDULED or IN_PROGRESS while in flight, else how it ended.
    pub status: TaskStatus,
    pub scheduled: Stamp,
    /// When a worker was seen to claim the message.
    pub claimed: Option<Stamp>,
    pub ended: Option<Stamp>,
    pub took_ms: Option<i64>,
    pub input: Value,
    pub output: Option<Value>,
    pub reason: Option<String>,
    /// When the next attempt is due, and the backoff from this attempt's end to then.
    pub retry_at: Option<Stamp>,
    pub backoff_ms: Option<i64>,
    /// The agent's heartbeats with their notes (its log lines).
    pub heartbeats: Vec<super::Heartbeat>,
}

/// How a task the engine ran itself ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settled {
    #[serde(flatten)]
    pub at: Stamp,
    pub outcome: TaskStatus,
    pub output: Value,
    pub reason: Option<String>,
}

/// One approval request of a HUMAN task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalView {
    pub request_id: String,
    pub approver: String,
    pub escalated_from: Option<String>,
    /// The request's `question`, when its input has one.
    pub question: Option<String>,
    pub input: Value,
    pub requested: Stamp,
    pub deadline: Option<DateTime<Utc>>,
    pub status: ApprovalStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<ApprovalDecision>,
    /// The deadline passed first: when, and the policy applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired: Option<(Stamp, DeadlinePolicy)>,
}

/// Who decided an approval request, when and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalDecision {
    #[serde(flatten)]
    pub at: Stamp,
    pub decision: Decision,
    pub by: String,
    pub comment: Option<String>,
    pub reason: Option<String>,
    /// The approval file, relative to the station.
    pub file: Option<String>,
}

/// A WAIT task's wait.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitView {
    pub started: Stamp,
    /// When it ends by itself; none: until `3ox complete`.
    pub until: Option<DateTime<Utc>>,
}

/// A task forked by a dynamic fork.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkedTask {
    pub task_ref: String,
    /// `NOT_STARTED` before it is scheduled.
    pub status: String,
    pub attempt: u32,
}

/// Something done to the task from outside its attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskNote {
    #[serde(flatten)]
    pub at: Stamp,
    pub what: String,
}

/// The task `task_ref` of the run `query` names.
pub fn task(station: &Station, query: &str, task_ref: &str) -> Result<TaskView, TaskError> {
    let run_id = resolve(station, Some(query))?;
    let Loaded { records, state, .. } = load(station, &run_id)?;
    let changes: Vec<(&Change, DateTime<Utc>)> =
        records.iter().map(|r| (&r.change, r.at)).collect();
    view(&state, &changes, task_ref)
}

/// The task view of `task_ref` from a run's changes and their replayed `state`.
pub fn view(
    state: &RunState,
    changes: &[(&Change, DateTime<Utc>)],
    task_ref: &str,
) -> Result<TaskView, TaskError> {
    let task_ref = actual_ref(state, task_ref).ok_or_else(|| TaskError::NoSuchTask {
        run_id: state.run_id.clone(),
        task_ref: task_ref.to_string(),
        nearest: nearest(state, task_ref),
    })?;
    let start = state
        .started_at
        .or_else(|| changes.first().map(|(_, at)| *at))
        .unwrap_or_default();
    let stamp = |at| Stamp::of(at, start);
    let task = state.tasks.get(&task_ref);
    let def = state.def(&task_ref);
    let mut v = TaskView {
        run_id: state.run_id.clone(),
        name: task
            .map(|t| t.name.clone())
            .or_else(|| def.as_ref().map(|d| d.name.clone()))
            .unwrap_or_else(|| task_ref.clone()),
        type_name: task
            .map(|t| t.type_name.clone())
            .or_else(|| def.as_ref().map(|d| d.type_name.clone()))
            .unwrap_or_default(),
        status: task.map_or_else(
            || crate::graph::overlay::NOT_STARTED.to_string(),
            |t| t.status.to_string(),
        ),
        input: task.map_or(Value::Null, |t| t.input.clone()),
        output: task.map_or(Value::Null, |t| t.output.clone()),
        reason: task.and_then(|t| t.reason.clone()),
        attempts: Vec::new(),
        retries: 0,
        decided: None,
        approvals: Vec::new(),
        wait: None,
        delayed_until: None,
        forked: Vec::new(),
        iterations: None,
        children: state
            .children
            .values()
            .filter(|c| c.task_ref.as_deref() == Some(task_ref.as_str()))
            .cloned()
            .collect(),
        notes: Vec::new(),
        task_ref: task_ref.clone(),
    };
    let mine = |r: &String| *r == task_ref;
    for &(change, at) in changes {
        match change {
            Change::TaskScheduled {
                task_ref: r,
                task_id,
                attempt,
                agent,
                input,
                ..
            } if mine(r) => v.attempts.push(attempt_started(
                *attempt,
                task_id,
                agent,
                stamp(at),
                input.clone(),
            )),
            Change::HttpCallStarted {
                task_ref: r,
                task_id,
                attempt,
                input,
                ..
            } if mine(r) => v.attempts.push(attempt_started(
                *attempt,
                task_id,
                "(http)",
                stamp(at),
                input.clone(),
            )),
            Change::TaskClaimed {
                task_ref: r,
                task_id,
            } if mine(r) => {
                if let Some(a) = attempt_mut(&mut v.attempts, Some(task_id)) {
                    a.claimed.get_or_insert(stamp(at));
                }
            }
            Change::TaskHeartbeat {
                task_ref: r,
                task_id,
                note,
            } if mine(r) => {
                if let Some(a) = attempt_mut(&mut v.attempts, Some(task_id)) {
                    if a.status == TaskStatus::Scheduled {
                        a.status = TaskStatus::InProgress;
                    }
                    a.heartbeats.push(super::Heartbeat {
                        at: stamp(at),
                        note: note.clone(),
                    });
                }
            }
            Change::TaskCompleted {
                task_ref: r,
                task_id,
                output,
                ..
            } if mine(r) => settle(
                &mut v,
                task_id.as_ref(),
                stamp(at),
                TaskStatus::Completed,
                output,
                None,
                None,
            ),
            Change::TaskFailed {
                task_ref: r,
                task_id,
                reason,
                retry_at,
                outcome,
                output,
            } if mine(r) => settle(
                &mut v,
                task_id.as_ref(),
                stamp(at),
                *outcome,
                output,
                Some(reason.clone()),
                retry_at.map(stamp),
            ),
            Change::TaskCanceled {
                task_ref: r,
                task_id,
                reason,
            } if mine(r) => settle(
                &mut v,
                task_id.as_ref(),
                stamp(at),
                TaskStatus::Canceled,
                &Value::Null,
                Some(reason.clone()),
                None,
            ),
            Change::TaskSkipped {
                task_ref: r,
                by,
                reason,
                ..
            } if mine(r) => {
                let why = match reason {
                    Some(why) => format!("skipped by {by}: {why}"),
                    None => format!("skipped by {by}"),
                };
                v.notes.push(TaskNote {
                    at: stamp(at),
                    what: why.clone(),
                });
                let in_flight = v.attempts.last().is_some_and(|a| a.ended.is_none());
                if in_flight || v.attempts.is_empty() {
                    settle(
                        &mut v,
                        None,
                        stamp(at),
                        TaskStatus::Skipped,
                        &Value::Null,
                        Some(why),
                        None,
                    );
                }
            }
            Change::TaskTimedOut {
                task_ref: r,
                kind,
                reason,
                ..
            } if mine(r) => v.notes.push(TaskNote {
                at: stamp(at),
                what: format!(
                    "timed out ({} timeout): {reason}",
                    format!("{kind:?}").to_lowercase()
                ),
            }),
            Change::TimeoutAlert {
                task_ref: Some(r),
                reason,
                ..
            } if mine(r) => v.notes.push(TaskNote {
                at: stamp(at),
                what: format!("timeout alert: {reason}"),
            }),
            Change::TaskUpdatedBy {
                task_ref: r,
                status,
                by,
                reason,
                ..
            } if mine(r) => v.notes.push(TaskNote {
                at: stamp(at),
                what: match reason {
                    Some(why) => format!("set {status} by {by}: {why}"),
                    None => format!("set {status} by {by}"),
                },
            }),
            Change::WaitStarted {
                task_ref: r, until, ..
            } if mine(r) => {
                v.wait = Some(WaitView {
                    started: stamp(at),
                    until: *until,
                });
            }
            Change::TaskDelayed { task_ref: r, due } if mine(r) => {
                v.delayed_until = Some(stamp(*due));
            }
            Change::ApprovalRequested {
                task_ref: r,
                request_id,
                approver,
                input,
                deadline,
                escalated_from,
                ..
            } if mine(r) => v.approvals.push(ApprovalView {
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
                    .map_or(ApprovalStatus::Open, |a| a.status),
                decision: None,
                expired: None,
            }),
            Change::ApprovalDecided {
                task_ref: r,
                request_id,
                decision,
                by,
                comment,
                reason,
                file,
            } if mine(r) => {
                if let Some(a) = v
                    .approvals
                    .iter_mut()
                    .rev()
                    .find(|a| a.request_id == *request_id)
                {
                    a.decision = Some(ApprovalDecision {
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
                task_ref: r,
                request_id,
                policy,
            } if mine(r) => {
                if let Some(a) = v
                    .approvals
                    .iter_mut()
                    .rev()
                    .find(|a| a.request_id == *request_id)
                {
                    a.expired = Some((stamp(at), *policy));
                }
            }
            Change::LoopIterationStarted {
                task_ref: r,
                iteration,
                ..
            } if mine(r) => v.iterations = Some(*iteration),
            Change::DynamicTaskChosen {
                task_ref: r,
                task_name,
            } if mine(r) => v.notes.push(TaskNote {
                at: stamp(at),
                what: format!("runs task `{task_name}`"),
            }),
            _ => {}
        }
    }
    v.retries = v
        .attempts
        .iter()
        .filter(|a| a.attempt > 1)
        .count()
        .try_into()
        .unwrap_or(u32::MAX);
    if let Some(n) = task
        .and_then(|t| t.output.get("iteration"))
        .and_then(Value::as_u64)
    {
        v.iterations = u32::try_from(n).ok();
    }
    if let Some(forked) = state.forks.get(&task_ref) {
        v.forked = forked
            .iter()
            .map(|t| {
                let s = state.tasks.get(&t.task_reference_name);
                ForkedTask {
                    task_ref: t.task_reference_name.clone(),
                    status: s.map_or_else(
                        || crate::graph::overlay::NOT_STARTED.to_string(),
                        |s| s.status.to_string(),
                    ),
                    attempt: s.map_or(0, |s| s.attempt),
                }
            })
            .collect();
    }
    Ok(v)
}

/// The reference `asked` names in the run: itself, or a loop task's latest iteration.
fn actual_ref(state: &RunState, asked: &str) -> Option<String> {
    if state.tasks.contains_key(asked) || state.def(asked).is_some() {
        return Some(asked.to_string());
    }
    let prefix = format!("{asked}__");
    state
        .tasks
        .keys()
        .filter_map(|k| {
            k.strip_prefix(&prefix)
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| (n, k))
        })
        .max()
        .map(|(_, k)| k.clone())
}

/// The run's task reference nearest to `asked`, if one is close enough to be a misspelling.
fn nearest(state: &RunState, asked: &str) -> Option<String> {
    let asked = asked.to_lowercase();
    state
        .tasks
        .keys()
        .chain(state.defs.keys())
        .map(|c| (c, strsim::jaro_winkler(&asked, &c.to_lowercase())))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c.clone())
}

fn attempt_started(
    attempt: u32,
    task_id: &str,
    agent: &str,
    scheduled: Stamp,
    input: Value,
) -> TaskAttempt {
    TaskAttempt {
        attempt,
        task_id: task_id.to_string(),
        agent: agent.to_string(),
        status: TaskStatus::Scheduled,
        scheduled,
        claimed: None,
        ended: None,
        took_ms: None,
        input,
        output: None,
        reason: None,
        retry_at: None,
        backoff_ms: None,
        heartbeats: Vec::new(),
    }
}

/// The attempt `task_id` names, else the last one.
fn attempt_mut<'a>(
    attempts: &'a mut [TaskAttempt],
    task_id: Option<&String>,
) -> Option<&'a mut TaskAttempt> {
    match task_id {
        Some(id) if attempts.iter().any(|a| a.task_id == *id) => {
            attempts.iter_mut().rev().find(|a| a.task_id == *id)
        }
        _ => attempts.last_mut(),
    }
}

/// An outcome: of its attempt, or the engine's decision when no attempt was made.
fn settle(
    v: &mut TaskView,
    task_id: Option<&String>,
    at: Stamp,
    outcome: TaskStatus,
    output: &Value,
    reason: Option<String>,
    retry_at: Option<Stamp>,
) {
    let in_flight = v.attempts.iter().any(|a| a.ended.is_none());
    match attempt_mut(&mut v.attempts, task_id) {
        Some(a) if a.ended.is_none() || (task_id.is_some() && !in_flight) => {
            a.took_ms = Some(at.offset_ms - a.scheduled.offset_ms);
            a.ended = Some(at);
            a.status = outcome;
            a.output = (!output.is_null()).then(|| output.clone());
            a.reason = reason;
            a.backoff_ms = retry_at.map(|r| r.offset_ms - at.offset_ms);
            a.retry_at = retry_at;
        }
        _ => {
            v.decided = Some(Settled {
                at,
                outcome,
                output: output.clone(),
                reason,
            });
        }
    }
}
