//! JOIN: wait for the fork before it, then gather its outputs.
//!
//! The walk reaches a JOIN only once the fork before it is done (every branch finished), so
//! a JOIN never waits on its own and can never be left stuck in RUNNING. Its output maps each
//! joined task reference to that task's output: the `joinOn` list for a static fork (or each
//! branch's last task when `joinOn` is empty), every forked task for a dynamic fork. A task
//! whose output is empty (`{}` or none) is left out, as in Conductor.

use serde_json::{Map, Value};

use crate::definition::{TaskDef, TaskKind};
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};

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
        Some(fork) if fork.kind() == TaskKind::ForkJoin && task.join_on.is_empty() => fork
            .fork_tasks
            .iter()
            .filter_map(|branch| branch.last())
            .map(|t| t.task_reference_name.clone())
            .collect(),
        _ => task.join_on.clone(),
    };
    let mut output = Map::new();
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
    Progress::Done
}

fn is_empty_output(output: &Value) -> bool {
    match output {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}
