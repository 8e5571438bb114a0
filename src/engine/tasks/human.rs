//! HUMAN: wait for a person's decision (the Commander's approval).
//!
//! The first walk over a HUMAN task journals `approval_requested`: a fresh request id and
//! token, the approver (`approver:`, default `commander`), the task's mapped input (what is
//! asked: `question`, `why`, the rest as context) and the deadline (`deadline:` from now).
//! The orchestrator then writes the request file into the approver's inbox. The task waits
//! at no cost: nothing polls; the deadline is part of [`RunState::next_wakeup`].
//!
//! An approval file ([`on_approval`]) is applied exactly once: it must name an open request
//! of this run, be in the outbox of the request's approver and carry its token. A valid one
//! journals `approval_decided` and completes the task with `{decision, approved, by, comment,
//! decided_at}`; a rejection completes it too (so a SWITCH can route on the decision) unless
//! the task sets `failOnReject: true`. Anything else is refused with a reason
//! (`reply_rejected`), and the run goes on.
//!
//! At the deadline ([`expire_due`], run before every input, so a decision and its deadline
//! are ordered by the run's single driver) the request is closed with `approval_expired` and
//! the policy applies: REJECT completes the task with `decision: rejected` by
//! `3ox (deadline)`; FAIL fails it; ESCALATE asks `escalateTo` with a new deadline of the
//! same length (once: an escalated request that expires is rejected).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::definition::{DeadlinePolicy, TaskDef};
use crate::engine::state::{ApprovalStatus, RunState, RunStatus};
use crate::engine::walk::{Progress, Walker};
use crate::engine::{Change, Ctx, emit, retry};
use crate::mailbox::approval::{Approval, Decision};

/// Who decides when the deadline's REJECT policy applies.
pub const DEADLINE_DECIDER: &str = "3ox (deadline)";

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if w.state.tasks.contains_key(task_ref) {
        return w.settled(task_ref).unwrap_or(Progress::Pending);
    }
    let input = w.resolve_input(task);
    let change = request(task, task.approver(), input, None, w.ctx);
    w.emit(change);
    Progress::Pending
}

/// A new approval request for `task`, to `approver`.
fn request(
    task: &TaskDef,
    approver: &str,
    input: Value,
    escalated_from: Option<String>,
    ctx: &mut Ctx<'_>,
) -> Change {
    let request_id = (ctx.new_id)().to_string();
    let token = format!("ap-{:020x}", (ctx.new_id)().random());
    let deadline = task
        .deadline
        .and_then(|d| chrono::Duration::from_std(d.0).ok())
        .map(|d| ctx.now + d);
    let on_deadline = if escalated_from.is_some() {
        DeadlinePolicy::Reject
    } else {
        task.on_deadline.unwrap_or_default()
    };
    Change::ApprovalRequested {
        task_ref: task.task_reference_name.clone(),
        request_id,
        token,
        approver: approver.to_string(),
        input,
        deadline,
        on_deadline,
        escalate_to: task.escalate_to.clone(),
        escalated_from,
    }
}

/// The task's output for a decision.
fn output(
    decision: Decision,
    by: &str,
    comment: Option<&str>,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    let mut out = json!({
        "decision": decision.outcome(),
        "approved": decision == Decision::Approve,
        "by": by,
        "comment": comment.unwrap_or_default(),
        "decided_at": at.to_rfc3339(),
    });
    if let Some(reason) = reason {
        out["reason"] = json!(reason);
    }
    out
}

/// Completes (or, for a rejection with `failOnReject`, fails) the task of a decided request.
#[allow(clippy::too_many_arguments)]
fn settle(
    state: &mut RunState,
    out: &mut Vec<Change>,
    ctx: &mut Ctx<'_>,
    task_ref: &str,
    request_id: &str,
    decision: Decision,
    by: &str,
    comment: Option<&str>,
    reason: Option<&str>,
) {
    let def = state.def(task_ref);
    let output = output(decision, by, comment, reason, ctx.now);
    let change = if decision == Decision::Reject && def.as_ref().is_some_and(|d| d.fail_on_reject) {
        let why = format!(
            "rejected by {by}: {}",
            reason.or(comment).unwrap_or("no reason given")
        );
        retry::failure(
            def.as_deref(),
            task_ref,
            Some(request_id.to_string()),
            why,
            true,
            0,
            output,
            ctx,
        )
    } else {
        Change::TaskCompleted {
            task_ref: task_ref.to_string(),
            task_id: Some(request_id.to_string()),
            input: None,
            output,
        }
    };
    emit(state, out, change, ctx.now);
}

/// Closes every open request whose deadline has come and applies its policy.
pub fn expire_due(state: &mut RunState, ctx: &mut Ctx<'_>, out: &mut Vec<Change>) {
    let due: Vec<(String, String, DeadlinePolicy)> = state
        .approvals
        .values()
        .filter(|a| a.status == ApprovalStatus::Open && a.deadline.is_some_and(|d| d <= ctx.now))
        .map(|a| (a.request_id.clone(), a.task_ref.clone(), a.on_deadline))
        .collect();
    for (request_id, task_ref, policy) in due {
        emit(
            state,
            out,
            Change::ApprovalExpired {
                task_ref: task_ref.clone(),
                request_id: request_id.clone(),
                policy,
            },
            ctx.now,
        );
        let def = state.def(&task_ref);
        match (policy, def) {
            (DeadlinePolicy::Escalate, Some(def)) if def.escalate_to.is_some() => {
                let input = state.approvals[&request_id].input.clone();
                let to = def.escalate_to.clone().unwrap_or_default();
                let change = request(&def, &to, input, Some(request_id), ctx);
                emit(state, out, change, ctx.now);
            }
            (DeadlinePolicy::Fail, def) => {
                let reason = "no decision before the deadline (onDeadline: FAIL)".to_string();
                let change = retry::failure(
                    def.as_deref(),
                    &task_ref,
                    Some(request_id),
                    reason,
                    true,
                    0,
                    Value::Null,
                    ctx,
                );
                emit(state, out, change, ctx.now);
            }
            _ => settle(
                state,
                out,
                ctx,
                &task_ref,
                &request_id,
                Decision::Reject,
                DEADLINE_DECIDER,
                None,
                Some("no decision before the deadline"),
            ),
        }
    }
}

/// What a closed request's deadline led to, for the note of a late approval.
fn what_the_deadline_did(state: &RunState, request_id: &str, policy: DeadlinePolicy) -> String {
    match policy {
        DeadlinePolicy::Reject => "the task was rejected by 3ox (deadline)".to_string(),
        DeadlinePolicy::Fail => "the task failed".to_string(),
        DeadlinePolicy::Escalate => {
            match state
                .approvals
                .values()
                .find(|a| a.escalated_from.as_deref() == Some(request_id))
            {
                Some(next) => format!(
                    "the request was escalated to `{}` as request {}",
                    next.approver, next.request_id
                ),
                None => "the task was rejected by 3ox (deadline)".to_string(),
            }
        }
    }
}

/// Applies (or refuses, with a reason) an approval file found in `agent`'s outbox.
pub fn on_approval(
    state: &mut RunState,
    out: &mut Vec<Change>,
    ctx: &mut Ctx<'_>,
    agent: String,
    file: String,
    approval: Approval,
) {
    let reject = |reason: String| Change::ReplyRejected {
        file: file.clone(),
        agent: agent.clone(),
        task_id: Some(approval.request_id.clone()),
        reason,
    };
    let Some(request) = state.approvals.get(&approval.request_id).cloned() else {
        let reason = format!(
            "no approval request `{}` in run {}; answer a request you received (an approval of another run or an old one is not replayed)",
            approval.request_id, state.run_id
        );
        return emit(state, out, reject(reason), ctx.now);
    };
    if state.status != RunStatus::Running {
        let reason = format!(
            "run {} has already ended ({}); the approval came too late",
            state.run_id, state.status
        );
        return emit(state, out, reject(reason), ctx.now);
    }
    if request.approver != agent {
        let reason = format!(
            "request {} is for approver `{}`, but this approval is in the outbox of `{agent}`",
            request.request_id, request.approver
        );
        return emit(state, out, reject(reason), ctx.now);
    }
    if approval.token.as_deref() != Some(request.token.as_str()) {
        let reason = match &approval.token {
            None => "the approval has no `token`; copy it from the approval request (`reply.form.token`)".to_string(),
            Some(_) => format!(
                "wrong token for request {} of task `{}`; copy it from the approval request",
                request.request_id, request.task_ref
            ),
        };
        return emit(state, out, reject(reason), ctx.now);
    }
    let closed = request
        .closed_at
        .map(|at| at.to_rfc3339())
        .unwrap_or_default();
    match request.status {
        ApprovalStatus::Open => {}
        ApprovalStatus::Decided(decision) => {
            let reason = format!(
                "duplicate: request {} of task `{}` was already decided ({} by {} at {closed})",
                request.request_id,
                request.task_ref,
                decision.outcome(),
                request.decided_by.as_deref().unwrap_or("?")
            );
            return emit(state, out, reject(reason), ctx.now);
        }
        ApprovalStatus::Expired(policy) => {
            let reason = format!(
                "too late: the deadline of request {} passed at {closed} (onDeadline: {policy}): {}",
                request.request_id,
                what_the_deadline_did(state, &request.request_id, policy)
            );
            return emit(state, out, reject(reason), ctx.now);
        }
        ApprovalStatus::Withdrawn => {
            let reason = format!(
                "withdrawn: request {} of task `{}` was withdrawn at {closed} (the task was skipped or run again, or the run was terminated)",
                request.request_id, request.task_ref
            );
            return emit(state, out, reject(reason), ctx.now);
        }
    }
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let reason = text(&approval.reason);
    if approval.decision == Decision::Reject && reason.is_none() {
        let reason = "a rejection needs a `reason` (say why, for the record)".to_string();
        return emit(state, out, reject(reason), ctx.now);
    }
    let by = text(&approval.by).unwrap_or_else(|| request.approver.clone());
    let comment = text(&approval.comment);
    emit(
        state,
        out,
        Change::ApprovalDecided {
            task_ref: request.task_ref.clone(),
            request_id: request.request_id.clone(),
            decision: approval.decision,
            by: by.clone(),
            comment: comment.clone(),
            reason: reason.clone(),
            file: Some(file.clone()),
        },
        ctx.now,
    );
    settle(
        state,
        out,
        ctx,
        &request.task_ref,
        &request.request_id,
        approval.decision,
        &by,
        comment.as_deref(),
        reason.as_deref(),
    );
}
