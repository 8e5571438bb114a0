//! JOIN: wait for the tasks of the fork before it that `joinOn` names, then gather their
//! outputs.
//!
//! After a FORK_JOIN, the JOIN waits only for the tasks its `joinOn` lists, as Conductor's
//! `Join` does: once each of them has ended, the JOIN completes and the walk goes on, while
//! the fork's other branches keep running beside it (see [`released`] and
//! `Walker::block`); with an empty or absent `joinOn` it does not wait at all. The run ends
//! only when those branches have ended too, and one of them failing fails the run, as a
//! Conductor workflow fails on any task that fails with no retry left. After a
//! FORK_JOIN_DYNAMIC the JOIN waits for every forked task (Conductor fills its `joinOn` with
//! all of them). Its output maps each joined task reference to that task's output; a task
//! whose output is empty (`{}` or none) is left out, as in Conductor; when an optional joined
//! task failed (COMPLETED_WITH_ERRORS), so is the JOIN, naming it.

use serde_json::{Map, Value};

use crate::definition::{TaskDef, TaskKind};
use crate::engine::walk::{Progress, Walker};
use crate::engine::{Change, RunState, TaskStatus};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef, previous: Option<&TaskDef>) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(progress) = w.settled(task_ref) {
        return progress;
    }
    let joined: Vec<String> = match previous {
        Some(fork) if fork.kind() == TaskKind::ForkJoinDynamic => w
            .state
            .forks
            .get(&fork.task_reference_name)
            .map(|tasks| {
                tasks
                    .iter()
                    .map(|t| t.task_reference_name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        _ => task.join_on.clone(),
    };
    let mut output = Map::new();
    // As Conductor's Join: an optional joined task that failed makes the JOIN
    // COMPLETED_WITH_ERRORS, naming them.
    let with_errors: Vec<String> = joined
        .iter()
        .filter(|r| {
            w.state
                .tasks
                .get(*r)
                .is_some_and(|t| t.status == TaskStatus::CompletedWithErrors)
        })
        .cloned()
        .collect();
    for joined_ref in joined {
        // As Conductor's Join, a joined task with no output is left out.
        if let Some(done) = w.state.tasks.get(&joined_ref)
            && !is_empty_output(&done.output)
        {
            output.insert(joined_ref, done.output.clone());
        }
    }
    let input = w.resolve_input(task);
    w.emit(Change::TaskCompleted {
        task_ref: task_ref.clone(),
        task_id: None,
        input: Some(input),
        output: Value::Object(output),
    });
    if !with_errors.is_empty() {
        let names: Vec<String> = with_errors.iter().map(|r| format!("`{r}`")).collect();
        w.emit(Change::TaskFailed {
            task_ref: task_ref.clone(),
            task_id: None,
            reason: format!("{} completed with errors", names.join(", ")),
            retry_at: None,
            outcome: TaskStatus::CompletedWithErrors,
            output: Value::Null,
        });
    }
    Progress::Done
}

/// Whether the walk may pass `fork` (a FORK_JOIN that has started and is still pending) to
/// the `join` after it: every task `joinOn` names has ended (none when the list is empty). A
/// dynamic fork's JOIN waits for every forked task, so it is never released early.
pub fn released(state: &RunState, fork: &TaskDef, join: &TaskDef) -> bool {
    fork.kind() == TaskKind::ForkJoin
        && join.kind() == TaskKind::Join
        // (Not while the fork itself waits for its startDelay.)
        && state.tasks.contains_key(&fork.task_reference_name)
        && join.join_on.iter().all(|joined| {
            state
                .tasks
                .get(joined)
                .is_some_and(|t| t.status.is_done() || t.status.is_failed())
        })
}

fn is_empty_output(output: &Value) -> bool {
    match output {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}
