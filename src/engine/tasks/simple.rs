//! SIMPLE: work done by an agent through its mailbox.
//!
//! The first walk over a SIMPLE task picks an agent with free capacity and schedules
//! attempt 1 (the orchestrator then delivers the message). A reply completes or fails the
//! attempt; a failure with retries left waits in RETRY_WAIT until its time, and the walk after
//! that schedules the next attempt with a new task id. When no agent has capacity the task
//! simply stays unscheduled; a later walk (after a reply frees a slot) picks it up.

use serde_json::Value;

use crate::definition::TaskDef;
use crate::engine::state::TaskStatus;
use crate::engine::walk::{Progress, Walker, failure_of};
use crate::engine::{Change, retry};

/// Walks a SIMPLE task. `input` overrides the mapped inputParameters (forked tasks).
pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef, input: Option<&Value>) -> Progress {
    let task_ref = &task.task_reference_name;
    let Some(current) = w.state.tasks.get(task_ref) else {
        return schedule(w, task, 1, input);
    };
    match current.status {
        // (A CANCELED task's run has ended: no walk reaches it until a retry resets it.)
        TaskStatus::Scheduled | TaskStatus::InProgress | TaskStatus::Canceled => Progress::Pending,
        TaskStatus::RetryWait => {
            let due = current.retry_at.is_none_or(|at| at <= w.ctx.now);
            let next = current.attempt + 1;
            if due {
                schedule(w, task, next, input)
            } else {
                Progress::Pending
            }
        }
        TaskStatus::Completed | TaskStatus::CompletedWithErrors | TaskStatus::Skipped => {
            Progress::Done
        }
        TaskStatus::Failed | TaskStatus::FailedWithTerminalError | TaskStatus::TimedOut => {
            Progress::Failed(failure_of(task_ref, current.reason.as_deref()))
        }
    }
}

fn schedule(
    w: &mut Walker<'_, '_, '_>,
    task: &TaskDef,
    attempt: u32,
    input: Option<&Value>,
) -> Progress {
    let agent = match pick_agent(w, task) {
        Ok(Some(agent)) => agent,
        Ok(None) => return Progress::Pending,
        Err(reason) => return fail_before_delivery(w, task, attempt, reason),
    };
    let task_id = (w.ctx.new_id)().to_string();
    let input = match input {
        Some(given) => given.clone(),
        None => w.resolve_input_for(task, &task_id),
    };
    // A message the worker would refuse, or a record the journal could not read back: the
    // attempt fails here, before anything is delivered, and the same input would fail again.
    if let Some(reason) = crate::mailbox::limits::input_problem("the task's mapped input", &input) {
        return fail_before_delivery(w, task, attempt, reason);
    }
    let token = format!("tk-{:020x}", (w.ctx.new_id)().random());
    w.emit(Change::TaskScheduled {
        task_ref: task.task_reference_name.clone(),
        task_id,
        attempt,
        agent,
        token,
        input,
    });
    Progress::Pending
}

/// Fails attempt `attempt` of `task` for good before any message is delivered (no agent can
/// take it, or its input cannot travel): an optional task ends COMPLETED_WITH_ERRORS and the
/// run goes on, any other fails the run.
fn fail_before_delivery(
    w: &mut Walker<'_, '_, '_>,
    task: &TaskDef,
    attempt: u32,
    reason: String,
) -> Progress {
    let change = retry::failure(
        Some(task),
        &task.task_reference_name,
        None,
        reason.clone(),
        true,
        attempt,
        Value::Null,
        w.ctx,
    );
    let optional = matches!(&change, Change::TaskFailed { outcome, .. } if outcome.is_done());
    w.emit(change);
    if optional {
        Progress::Done
    } else {
        Progress::Failed(failure_of(&task.task_reference_name, Some(&reason)))
    }
}

/// The agent to send `task` to: the one named in `agent:`, else, among the agents whose
/// capabilities list the task's name and that have a slot free for this run, the one with
/// the most slots free across the station ([`Ctx::load`](crate::engine::Ctx::load)), then
/// the most free for this run, then the first by name. `Ok(None)` when every candidate is at
/// its concurrency limit for this run; `Err` when no agent can ever serve it.
pub fn pick_agent(w: &Walker<'_, '_, '_>, task: &TaskDef) -> Result<Option<String>, String> {
    let free = |name: &str, concurrency: usize| {
        concurrency.saturating_sub(w.state.in_flight.get(name).copied().unwrap_or(0))
    };
    if let Some(name) = &task.agent {
        let Some(agent) = w.ctx.agents.get(name) else {
            let known: Vec<&str> = w.ctx.agents.agents.keys().map(String::as_str).collect();
            return Err(format!(
                "no agent named `{name}` in this station (agents: {})",
                list_or_none(&known)
            ));
        };
        return Ok((free(name, agent.concurrency) > 0).then(|| name.clone()));
    }
    // (name, (slots free across the station, slots free for this run)).
    let mut best: Option<(&String, (i64, usize))> = None;
    let mut any = false;
    let capability = super::agent_served::capability(task);
    for (name, agent) in w.ctx.agents.serving(capability) {
        any = true;
        let slots = free(name, agent.concurrency);
        let station_free = i64::try_from(agent.concurrency).unwrap_or(i64::MAX)
            - i64::try_from((w.ctx.load)(name)).unwrap_or(i64::MAX);
        let score = (station_free, slots);
        if slots > 0 && best.is_none_or(|(_, b)| score > b) {
            best = Some((name, score));
        }
    }
    if !any {
        if capability != task.name {
            return Err(format!(
                "no agent of this station serves task type {capability}; add `{capability}` to the capabilities of an agent (agents/<name>/agent.yaml) or name one with `agent:`"
            ));
        }
        return Err(format!(
            "no agent of this station serves task `{}`; add it to the capabilities of an agent (agents/<name>/agent.yaml) or name one with `agent:`",
            task.name
        ));
    }
    Ok(best.map(|(name, _)| name.clone()))
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
