//! What a failed attempt leads to: another attempt after a delay, or the end of the task.

use chrono::Duration as ChronoDuration;
use serde_json::Value;

use super::{Change, Ctx, TaskStatus};
use crate::definition::TaskDef;

/// The change for a failed attempt `attempt` of `task_ref`.
#[allow(clippy::too_many_arguments)]
pub fn failure(
    def: Option<&TaskDef>,
    task_ref: &str,
    task_id: Option<String>,
    reason: String,
    terminal: bool,
    attempt: u32,
    output: Value,
    ctx: &mut Ctx<'_>,
) -> Change {
    let policy = def.map(TaskDef::effective_retry).unwrap_or_default();
    let optional = def.is_some_and(|d| d.optional);
    let retries_used = attempt.saturating_sub(1);
    let output = if output.as_object().is_some_and(|o| o.is_empty()) {
        Value::Null
    } else {
        output
    };
    if !terminal && retries_used < policy.count {
        let mut delay = policy.delay_before(retries_used + 1);
        let jitter_ms = u64::try_from(policy.jitter.0.as_millis()).unwrap_or(u64::MAX);
        if jitter_ms > 0 {
            // The randomness of a fresh ulid is as good as any for spreading retries; the
            // chosen time is journaled, so replay does not depend on it.
            let random = u64::try_from((ctx.new_id)().random() & u128::from(u64::MAX)).unwrap_or(0);
            delay += std::time::Duration::from_millis(random % (jitter_ms + 1));
        }
        let delay = ChronoDuration::from_std(delay).unwrap_or(ChronoDuration::MAX);
        return Change::TaskFailed {
            task_ref: task_ref.to_string(),
            task_id,
            reason,
            retry_at: Some(ctx.now + delay),
            outcome: TaskStatus::RetryWait,
            output,
        };
    }
    let outcome = if optional {
        TaskStatus::CompletedWithErrors
    } else if terminal {
        TaskStatus::FailedWithTerminalError
    } else {
        TaskStatus::Failed
    };
    Change::TaskFailed {
        task_ref: task_ref.to_string(),
        task_id,
        reason,
        retry_at: None,
        outcome,
        output,
    }
}
