//! DO_WHILE: run a block of tasks again while a condition holds, or once per item.
//!
//! As in Conductor, the `loopOver` tasks run as iteration 1, then `loopCondition` is evaluated
//! and, while it is true, another iteration runs. In iteration N every loop task runs under
//! the reference `<ref>__N` (nested tasks of switches and forks too), so each iteration has
//! its own task states, attempts and task ids. `${ref.output}` written inside or after the
//! loop reads the latest iteration's `ref__N` ([`latest`], used by `Scope::root`).
//!
//! **The condition** is evaluated with the DO_WHILE's `evaluatorType` (JavaScript by
//! default, as in Conductor; 3ox's safe `expression` form and `value-param` work too) over
//! `$` = the DO_WHILE's resolved `inputParameters`, plus `$.<loopRef>` = the DO_WHILE's output
//! (`iteration` and the iterations' outputs), plus `$.<taskRef>` = the latest output of every
//! task in the loop (Conductor writes `$.loop['iteration'] < $.value`).
//!
//! **Items** (Orkes): with `items` (on the task or in `inputParameters`) the loop runs once
//! per item; tasks read `${loopRef.output.loopItem}` and `${loopRef.output.loopIndex}` (zero
//! based). A `loopCondition` given as well can end the loop early. An empty list runs no
//! iteration: the DO_WHILE completes with `iteration: 0`.
//!
//! **Journal.** Each iteration's start is a `loop_iteration_started` change (the first one
//! also carries the resolved input, the items and `keepLastN`). Applying it indexes the
//! renamed task definitions (so replay, `3ox status`, `retry` and `rerun` see them), and with
//! `keepLastN` removes the task states of iterations older than the last N, so a loop that
//! runs for ever keeps a bounded state. The decision to stop is the DO_WHILE's
//! `task_completed`; a script's result is thus recorded, never recomputed on replay.
//!
//! **Output** (as Conductor): `{iteration: N, "1": {taskRef: output, ...}, "2": ...}` with the
//! kept iterations only, plus `loopItem` / `loopIndex` with items.
//!
//! **Failure.** A loop task that fails (after its own retries) fails the DO_WHILE, and the
//! run unless the DO_WHILE is optional. `3ox retry` goes on with the failed iteration;
//! `3ox rerun --from` the DO_WHILE starts the loop afresh, from a task inside it rewinds the
//! loop to that task's iteration.
//!
//! A loop whose iterations complete without waiting (only system tasks) gives way after
//! [`MAX_ITERATIONS_PER_WALK`] iterations: the change says `yielded`, and the run looks again
//! at once ([`wakeups`]), so person's commands and replies still get their turn.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::state::{RunState, TaskState, TaskStatus};
use crate::engine::walk::{Progress, Walker};
use crate::expr::{self, script};

/// Iterations one walk may start before it gives way to other inputs.
pub const MAX_ITERATIONS_PER_WALK: usize = 100;

/// Where one DO_WHILE stands. Rebuilt from `loop_iteration_started` changes.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopState {
    /// The current iteration (1 for the first).
    pub iteration: u32,
    /// The oldest iteration whose task states are still kept.
    pub first_kept: u32,
    /// The list iterated over, with `items`.
    pub items: Option<Arc<Vec<Value>>>,
    pub keep_last_n: Option<u32>,
    /// The DO_WHILE's resolved input (as the loop started).
    pub input: Value,
    /// Reference names of every task inside the loop, as written, in walk order.
    pub members: Arc<Vec<String>>,
    /// The current iteration's tasks, renamed `<ref>__<iteration>`.
    pub block: Arc<Vec<TaskDef>>,
    /// When the current iteration started.
    pub started_at: DateTime<Utc>,
    /// The walk gave way right after starting this iteration.
    pub yielded: bool,
}

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(settled) = w.settled(task_ref) {
        return settled;
    }
    if !w.state.loops.contains_key(task_ref)
        && let Some(progress) = start(w, task)
    {
        return progress;
    }
    loop {
        let Some(current) = w.state.loops.get(task_ref) else {
            return Progress::Pending;
        };
        let (iteration, block) = (current.iteration, current.block.clone());
        match w.block(&block) {
            Progress::Pending => return Progress::Pending,
            Progress::Failed(failure) => {
                let what = match &failure.task_ref {
                    Some(inner) => format!("task `{inner}` failed: {}", failure.reason),
                    None => failure.reason,
                };
                return w.fail_system_task(task, format!("iteration {iteration}: {what}"));
            }
            Progress::Done => {}
        }
        match go_on(w, task) {
            Err(reason) => return w.fail_system_task(task, reason),
            Ok(false) => {
                let output = output(w.state, task_ref, true);
                let input = w.state.loops.get(task_ref).map(|l| l.input.clone());
                w.emit(Change::TaskCompleted {
                    task_ref: task_ref.clone(),
                    task_id: None,
                    input,
                    output,
                });
                return Progress::Done;
            }
            Ok(true) => {
                let started_now = w
                    .out
                    .iter()
                    .filter(|c| matches!(c, Change::LoopIterationStarted { task_ref: r, .. } if r == task_ref))
                    .count();
                let yielded = started_now + 1 >= MAX_ITERATIONS_PER_WALK;
                w.emit(Change::LoopIterationStarted {
                    task_ref: task_ref.clone(),
                    iteration: iteration + 1,
                    input: None,
                    items: None,
                    keep_last_n: None,
                    yielded,
                });
                if yielded {
                    return Progress::Pending;
                }
            }
        }
    }
}

/// Starts the loop: iteration 1, or completion at once for an empty `items` list. `None`
/// when the walk goes on into iteration 1.
fn start(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Option<Progress> {
    let task_ref = &task.task_reference_name;
    let input = w.resolve_input(task);
    let keep_last_n = match keep_last_n(task, &input) {
        Ok(keep) => keep,
        Err(reason) => return Some(w.fail_system_task(task, reason)),
    };
    let items = match items(task, &input, &*w.state) {
        Ok(items) => items,
        Err(reason) => return Some(w.fail_system_task(task, reason)),
    };
    if items.as_ref().is_some_and(Vec::is_empty) {
        w.emit(Change::TaskCompleted {
            task_ref: task_ref.clone(),
            task_id: None,
            input: Some(input),
            output: json!({"iteration": 0}),
        });
        return Some(Progress::Done);
    }
    w.emit(Change::LoopIterationStarted {
        task_ref: task_ref.clone(),
        iteration: 1,
        input: Some(input),
        items,
        keep_last_n,
        yielded: false,
    });
    None
}

/// `keepLastN` from the task, else from its resolved input (Conductor's place).
fn keep_last_n(task: &TaskDef, input: &Value) -> Result<Option<u32>, String> {
    if let Some(keep) = task.keep_last_n {
        return Ok(Some(keep.max(1)));
    }
    match input.get("keepLastN") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| *n >= 1)
            .map(|n| Some(u32::try_from(n).unwrap_or(u32::MAX)))
            .ok_or_else(|| {
                format!("`keepLastN` should be a whole number of at least 1, but it is {value}")
            }),
    }
}

/// The list to iterate over: the task's `items` (resolved) or `inputParameters.items` (or
/// `inputParameters._items`).
fn items(task: &TaskDef, input: &Value, state: &RunState) -> Result<Option<Vec<Value>>, String> {
    let value = match &task.items {
        Some(written) => expr::resolve(written, state),
        // Conductor's DoWhile reads `inputParameters._items` (Orkes writes `items`).
        None => match input.get("items").or_else(|| input.get("_items")) {
            None => return Ok(None),
            Some(value) => value.clone(),
        },
    };
    match value {
        Value::Array(items) => Ok(Some(items)),
        Value::Null => Err(
            "`items` resolved to nothing (null); give a list, e.g. `${workflow.input.files}`"
                .to_string(),
        ),
        other => Err(format!("`items` should be a list, but it is {other}")),
    }
}

/// Whether another iteration runs after the current one.
fn go_on(w: &Walker<'_, '_, '_>, task: &TaskDef) -> Result<bool, String> {
    let task_ref = &task.task_reference_name;
    let Some(current) = w.state.loops.get(task_ref) else {
        return Ok(false);
    };
    if let Some(items) = &current.items
        && current.iteration as usize >= items.len()
    {
        return Ok(false);
    }
    let Some(condition) = task
        .loop_condition
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    else {
        // Items without a condition: every item gets its iteration.
        return Ok(current.items.is_some());
    };
    let vars = condition_input(w.state, task);
    let evaluator = task.evaluator_type.as_deref().unwrap_or("javascript");
    let result = script::evaluate(evaluator, condition, &vars).map_err(|e| {
        format!(
            "the loopCondition of `{task_ref}` failed after iteration {}: {e}",
            current.iteration
        )
    })?;
    Ok(truthy(&result))
}

/// `$` for the condition: the resolved inputParameters, the DO_WHILE's output under its own
/// reference, and the latest output of every loop task under its reference as written.
pub fn condition_input(state: &RunState, task: &TaskDef) -> Value {
    let task_ref = &task.task_reference_name;
    let params = Value::Object(
        task.input_parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    let mut vars = match expr::resolve(&params, state) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if let Some(current) = state.loops.get(task_ref) {
        for member in current.members.iter() {
            if let Some(latest) = latest(state, member)
                && let Some(done) = state.tasks.get(&latest)
            {
                vars.insert(member.clone(), done.output.clone());
            }
        }
    }
    vars.insert(task_ref.clone(), output(state, task_ref, true));
    Value::Object(vars)
}

/// A condition's result as a yes or no: `true`, a non-zero number, a non-empty text other
/// than `false`, any list or mapping.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty() && s != "false",
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The DO_WHILE's output: `iteration`, each kept iteration's task outputs keyed by its number
/// (the current one too with `with_current`), and `loopItem` / `loopIndex` with items.
pub fn output(state: &RunState, task_ref: &str, with_current: bool) -> Value {
    let Some(current) = state.loops.get(task_ref) else {
        return json!({"iteration": 0});
    };
    let mut out = Map::new();
    out.insert("iteration".into(), json!(current.iteration));
    let last = if with_current {
        current.iteration
    } else {
        current.iteration - 1
    };
    for n in current.first_kept..=last {
        let mut outputs = Map::new();
        for member in current.members.iter() {
            if let Some(done) = state.tasks.get(&iteration_ref(member, n)) {
                outputs.insert(member.clone(), done.output.clone());
            }
        }
        out.insert(n.to_string(), Value::Object(outputs));
    }
    if let Some(items) = &current.items {
        let index = current.iteration.saturating_sub(1);
        out.insert(
            "loopItem".into(),
            items.get(index as usize).cloned().unwrap_or(Value::Null),
        );
        out.insert("loopIndex".into(), json!(index));
    }
    Value::Object(out)
}

/// The reference of loop task `member` in iteration `n`.
pub fn iteration_ref(member: &str, n: u32) -> String {
    format!("{member}__{n}")
}

/// For a reference written as in the definition (`check`) of a task inside a loop: the
/// reference of its latest iteration that has started (`check__3`). `None` for any other
/// name, or one that is a task of its own.
pub fn latest(state: &RunState, name: &str) -> Option<String> {
    if state.loops.is_empty() || state.tasks.contains_key(name) {
        return None;
    }
    let current = state
        .loops
        .values()
        .find(|l| l.members.iter().any(|m| m == name))?;
    (current.first_kept..=current.iteration)
        .rev()
        .map(|n| iteration_ref(name, n))
        .find(|r| state.tasks.contains_key(r))
}

/// Iteration `n` of `tasks`: every reference (nested ones too, and `joinOn` entries naming
/// loop tasks) renamed `<ref>__<n>`.
pub fn rename(tasks: &[TaskDef], n: u32, members: &[String]) -> Vec<TaskDef> {
    tasks
        .iter()
        .map(|task| {
            let mut renamed = task.clone();
            renamed.task_reference_name = iteration_ref(&task.task_reference_name, n);
            for case in renamed.decision_cases.values_mut() {
                *case = rename(case, n, members);
            }
            renamed.default_case = rename(&renamed.default_case, n, members);
            renamed.fork_tasks = renamed
                .fork_tasks
                .iter()
                .map(|branch| rename(branch, n, members))
                .collect();
            renamed.loop_over = rename(&renamed.loop_over, n, members);
            for joined in &mut renamed.join_on {
                if members.contains(joined) {
                    *joined = iteration_ref(joined, n);
                }
            }
            renamed
        })
        .collect()
}

/// Every reference inside `tasks`, depth first.
fn members_of(tasks: &[TaskDef], out: &mut Vec<String>) {
    for task in tasks {
        out.push(task.task_reference_name.clone());
        let children: Vec<TaskDef> = task.children().cloned().collect();
        members_of(&children, out);
    }
}

/// Applies `loop_iteration_started`: the loop's new iteration, its renamed definitions, the
/// removal of iterations older than `keepLastN`, and the DO_WHILE's task state.
#[allow(clippy::too_many_arguments)]
pub fn apply_started(
    state: &mut RunState,
    task_ref: &str,
    iteration: u32,
    input: Option<&Value>,
    items: Option<&Vec<Value>>,
    keep_last_n: Option<u32>,
    yielded: bool,
    at: DateTime<Utc>,
) {
    let Some(def) = state.def(task_ref) else {
        return;
    };
    let fresh = iteration <= 1 || !state.loops.contains_key(task_ref);
    if fresh {
        forget(state, task_ref);
        let mut members = Vec::new();
        members_of(&def.loop_over, &mut members);
        state.loops.insert(
            task_ref.to_string(),
            LoopState {
                iteration,
                first_kept: iteration.max(1),
                items: items.map(|i| Arc::new(i.clone())),
                keep_last_n,
                input: input.cloned().unwrap_or(Value::Null),
                members: Arc::new(members),
                block: Arc::new(Vec::new()),
                started_at: at,
                yielded,
            },
        );
    }
    let current = state.loops.get_mut(task_ref).expect("inserted above");
    current.iteration = iteration;
    current.started_at = at;
    current.yielded = yielded;
    let block = rename(&def.loop_over, iteration, &current.members);
    current.block = Arc::new(block.clone());
    let members = current.members.clone();
    index_defs(state, &block);
    // Keep the last N iterations, the one starting now included.
    if let Some(keep) = state.loops[task_ref].keep_last_n {
        let first_to_keep = iteration.saturating_sub(keep.max(1)) + 1;
        let first_kept = state.loops[task_ref].first_kept;
        for old in first_kept..first_to_keep.min(iteration) {
            remove_iteration(state, &members, old);
        }
        if let Some(current) = state.loops.get_mut(task_ref) {
            current.first_kept = current.first_kept.max(first_to_keep.min(iteration));
        }
    }
    let output = output(state, task_ref, false);
    let entry = task_entry(state, &def, at);
    entry.status = TaskStatus::InProgress;
    entry.output = output;
    entry.reason = None;
    if let Some(input) = input {
        entry.input = input.clone();
    }
}

fn index_defs(state: &mut RunState, tasks: &[TaskDef]) {
    for task in tasks {
        state
            .defs
            .insert(task.task_reference_name.clone(), Arc::new(task.clone()));
        let children: Vec<TaskDef> = task.children().cloned().collect();
        index_defs(state, &children);
    }
}

fn task_entry<'s>(state: &'s mut RunState, def: &TaskDef, at: DateTime<Utc>) -> &'s mut TaskState {
    let task = state
        .tasks
        .entry(def.task_reference_name.clone())
        .or_insert_with(|| TaskState {
            task_ref: def.task_reference_name.clone(),
            name: def.name.clone(),
            type_name: def.type_name.clone(),
            status: TaskStatus::InProgress,
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
        });
    task.updated_at = at;
    task
}

/// Removes every trace of iteration `n` of the loop tasks `members`: task states, renamed
/// definitions, dynamic forks' expansions, task ids (a late reply to one is refused as
/// unknown) and closed approval requests.
fn remove_iteration(state: &mut RunState, members: &[String], n: u32) {
    let mut gone: HashSet<String> = HashSet::new();
    for member in members {
        let renamed = iteration_ref(member, n);
        if let Some(forked) = state.forks.remove(&renamed) {
            gone.extend(forked.iter().map(|t| t.task_reference_name.clone()));
        }
        gone.insert(renamed);
    }
    remove_refs(state, &gone);
}

fn remove_refs(state: &mut RunState, gone: &HashSet<String>) {
    if gone.is_empty() {
        return;
    }
    for task_ref in gone {
        state.settle(task_ref);
        state.tasks.shift_remove(task_ref);
        state.defs.remove(task_ref);
    }
    state
        .task_ids
        .retain(|_, (task_ref, _)| !gone.contains(task_ref));
    state.approvals.retain(|_, a| !gone.contains(&a.task_ref));
    if state
        .last_completed
        .as_ref()
        .is_some_and(|r| gone.contains(r))
    {
        state.last_completed = None;
    }
}

/// Forgets loop `task_ref` and every kept iteration's tasks.
fn forget(state: &mut RunState, task_ref: &str) {
    let Some(old) = state.loops.remove(task_ref) else {
        return;
    };
    for n in old.first_kept..=old.iteration {
        remove_iteration(state, &old.members, n);
    }
}

/// Before a rerun resets `tasks`: a loop among them starts afresh; a loop with tasks of one
/// of its iterations among them goes back to that iteration (later ones are dropped, the DO_WHILE
/// is open again).
pub fn on_rerun(state: &mut RunState, tasks: &[String], at: DateTime<Utc>) {
    let loops: Vec<String> = state.loops.keys().cloned().collect();
    for loop_ref in loops {
        if tasks.contains(&loop_ref) {
            forget(state, &loop_ref);
            continue;
        }
        let current = state.loops[&loop_ref].clone();
        let rewind_to = (current.first_kept..=current.iteration).find(|n| {
            current
                .members
                .iter()
                .any(|m| tasks.contains(&iteration_ref(m, *n)))
        });
        let Some(n) = rewind_to else { continue };
        for later in n + 1..=current.iteration {
            remove_iteration(state, &current.members, later);
        }
        if let Some(def) = state.def(&loop_ref) {
            let block = rename(&def.loop_over, n, &current.members);
            index_defs(state, &block);
            if let Some(l) = state.loops.get_mut(&loop_ref) {
                l.iteration = n;
                l.block = Arc::new(block);
                l.started_at = at;
                l.yielded = false;
            }
            let output = output(state, &loop_ref, false);
            let entry = task_entry(state, &def, at);
            entry.status = TaskStatus::InProgress;
            entry.output = output;
            entry.reason = None;
        }
    }
}

/// A retried DO_WHILE that has started goes on with its current iteration: it is IN_PROGRESS
/// again (rather than forgotten, as other system tasks are). `false` for any other task.
pub fn reopen(state: &mut RunState, task_ref: &str, at: DateTime<Utc>) -> bool {
    if !state.loops.contains_key(task_ref) {
        return false;
    }
    let Some(task) = state.tasks.get_mut(task_ref) else {
        return false;
    };
    task.status = TaskStatus::InProgress;
    task.reason = None;
    task.retry_at = None;
    task.updated_at = at;
    if state.last_completed.as_deref() == Some(task_ref) {
        state.last_completed = None;
    }
    true
}

/// Times the run must look again for loops that gave way (see [`MAX_ITERATIONS_PER_WALK`]):
/// a loop that yielded and whose new iteration has not started any task yet.
pub fn wakeups(state: &RunState) -> impl Iterator<Item = DateTime<Utc>> + '_ {
    state.loops.iter().filter_map(|(task_ref, l)| {
        let open = state
            .tasks
            .get(task_ref)
            .is_none_or(|t| !t.status.is_done() && !t.status.is_failed());
        let untouched = !l
            .block
            .iter()
            .any(|t| state.tasks.contains_key(&t.task_reference_name));
        (l.yielded && open && untouched && !state.paused).then_some(l.started_at)
    })
}

/// For a task inside a DO_WHILE named as written (`step`, which never runs under that name):
/// its kept iterations' references that have run (`step__3`, ...), newest last. `None` for
/// any other name.
pub fn iterations_of(state: &RunState, name: &str) -> Option<Vec<String>> {
    fn inside(tasks: &[TaskDef], name: &str, in_loop: bool) -> bool {
        tasks.iter().any(|t| {
            (in_loop && t.task_reference_name == name)
                || inside(
                    &t.children().cloned().collect::<Vec<_>>(),
                    name,
                    in_loop || t.kind() == crate::definition::TaskKind::DoWhile,
                )
        })
    }
    if state.tasks.contains_key(name) || !inside(&state.workflow.tasks, name, false) {
        return None;
    }
    let mut refs: Vec<String> = state
        .loops
        .values()
        .filter(|l| l.members.iter().any(|m| m == name))
        .flat_map(|l| (l.first_kept..=l.iteration).map(|n| iteration_ref(name, n)))
        .filter(|r| state.tasks.contains_key(r))
        .collect();
    let skip = refs.len().saturating_sub(20);
    refs.drain(..skip);
    Some(refs)
}

/// Every kept iteration's tasks of loop `task_ref`, in order (for the walk order of `rerun`).
pub fn kept_iterations(state: &RunState, task_ref: &str) -> Vec<TaskDef> {
    let Some(current) = state.loops.get(task_ref) else {
        return Vec::new();
    };
    let Some(def) = state.def(task_ref) else {
        return Vec::new();
    };
    (current.first_kept..=current.iteration)
        .flat_map(|n| rename(&def.loop_over, n, &current.members))
        .collect()
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::engine::Input;
    use crate::engine::testkit::{self, Driver};
    use crate::mailbox::reply::{Reply, ReplyStatus};

    /// A run driven by hand with a fake clock and one agent `worker` serving `work`.
    pub(super) type Sim = testkit::Sim<DoWhile>;
    pub(super) struct DoWhile;

    impl Sim {
        pub fn start(flow: &str, input: Value) -> Sim {
            let agents = testkit::agents(&[("worker", &["work"], 4)]);
            Sim::new(Driver::start(testkit::workflow(flow), input, agents))
        }

        pub fn in_flight(&self) -> Vec<String> {
            self.state
                .tasks
                .values()
                .filter(|t| t.status.is_in_flight() && t.agent.is_some())
                .map(|t| t.task_ref.clone())
                .collect()
        }

        pub fn reply(&mut self, task_ref: &str, status: ReplyStatus, output: Value) -> Vec<Change> {
            self.now += chrono::Duration::seconds(1);
            let task = self.state.tasks[task_ref].clone();
            assert!(task.status.is_in_flight(), "{task_ref} is not in flight");
            let reply = Reply {
                reason: Some("broken".into()),
                token: task.token.clone(),
                ..crate::engine::testkit::reply(task.task_id.clone().unwrap(), status, output)
            };
            self.input(Input::Reply {
                agent: task.agent.clone().unwrap(),
                file: "r.yaml".into(),
                reply,
            })
        }

        pub fn complete(&mut self, task_ref: &str, output: Value) {
            self.reply(task_ref, ReplyStatus::Completed, output);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::tests_support::Sim;
    use super::*;
    use crate::engine::control::{self, Action};
    use crate::engine::testkit;
    use crate::engine::{Input, RunStatus};
    use crate::mailbox::reply::ReplyStatus;

    const COUNTED: &str = "
name: counted
tasks:
  - name: count
    taskReferenceName: count
    type: DO_WHILE
    inputParameters: {times: '${workflow.input.times}'}
    evaluatorType: expression
    loopCondition: count.iteration < times
    loopOver:
      - {name: work, taskReferenceName: step, inputParameters: {n: '${count.output.iteration}', before: '${step.output.seen}'}}
  - {name: work, taskReferenceName: after, inputParameters: {last: '${step.output.seen}'}}
";

    #[test]
    fn a_counted_loop_runs_each_iteration_under_its_own_reference() {
        let mut sim = Sim::start(COUNTED, json!({"times": 3}));
        for n in 1..=3u32 {
            let step_ref = format!("step__{n}");
            assert_eq!(sim.in_flight(), vec![step_ref.clone()]);
            let task = &sim.state.tasks[&step_ref];
            assert_eq!(task.input["n"], json!(n), "the iteration is visible inside");
            let before = if n == 1 { Value::Null } else { json!(n - 1) };
            assert_eq!(
                task.input["before"], before,
                "`${{step.output}}` is the latest"
            );
            sim.complete(&step_ref, json!({"seen": n}));
        }
        assert_eq!(sim.in_flight(), vec!["after".to_string()]);
        assert_eq!(sim.state.tasks["after"].input["last"], json!(3));
        let out = &sim.state.tasks["count"].output;
        assert_eq!(out["iteration"], json!(3));
        assert_eq!(out["1"]["step"]["seen"], json!(1));
        assert_eq!(out["3"]["step"]["seen"], json!(3));
        sim.complete("after", json!({}));
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(sim.replayed(), sim.state, "replay rebuilds the live state");
        let starts = sim
            .log
            .iter()
            .filter(|(c, _)| matches!(c, Change::LoopIterationStarted { .. }))
            .count();
        assert_eq!(starts, 3);
    }

    #[test]
    fn the_body_runs_once_even_when_the_condition_is_false_from_the_start() {
        let mut sim = Sim::start(COUNTED, json!({"times": 0}));
        sim.complete("step__1", json!({"seen": 1}));
        assert_eq!(sim.in_flight(), vec!["after".to_string()]);
        assert_eq!(sim.state.tasks["count"].output["iteration"], json!(1));
    }

    #[test]
    fn keep_last_n_bounds_the_state_however_long_the_loop_runs() {
        let flow = COUNTED.replace("    loopOver:", "    keepLastN: 2\n    loopOver:");
        let mut sim = Sim::start(&flow, json!({"times": 50}));
        for n in 1..=50u32 {
            sim.complete(&format!("step__{n}"), json!({"seen": n}));
            assert!(
                sim.state.tasks.len() <= 4,
                "{} tasks kept",
                sim.state.tasks.len()
            );
            assert!(sim.state.task_ids.len() <= 3, "two iterations and `after`");
            assert!(sim.state.defs.keys().filter(|d| d.contains("__")).count() <= 2);
        }
        assert!(!sim.state.tasks.contains_key("step__48"));
        assert!(sim.state.tasks.contains_key("step__49"));
        let out = &sim.state.tasks["count"].output;
        assert_eq!(out["iteration"], json!(50));
        let kept: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(kept, ["iteration", "49", "50"]);
        assert_eq!(sim.state.tasks["after"].input["last"], json!(50));
        assert_eq!(sim.replayed(), sim.state);
    }

    #[test]
    fn keep_last_n_is_read_from_the_input_as_conductor_writes_it() {
        let flow = COUNTED.replace(
            "{times: '${workflow.input.times}'}",
            "{times: '${workflow.input.times}', keepLastN: 1}",
        );
        let mut sim = Sim::start(&flow, json!({"times": 5}));
        for n in 1..=5u32 {
            sim.complete(&format!("step__{n}"), json!({"seen": n}));
        }
        let out = &sim.state.tasks["count"].output;
        let kept: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(kept, ["iteration", "5"]);
    }

    const ITEMS: &str = "
name: items
tasks:
  - name: each
    taskReferenceName: each
    type: DO_WHILE
    inputParameters: {items: '${workflow.input.files}'}
    loopOver:
      - {name: work, taskReferenceName: file, inputParameters: {item: '${each.output.loopItem}', index: '${each.output.loopIndex}'}}
";

    #[test]
    fn items_run_one_iteration_per_item_with_loop_item_and_index() {
        let mut sim = Sim::start(ITEMS, json!({"files": ["a", "b", "c"]}));
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            let r = format!("file__{}", i + 1);
            assert_eq!(sim.in_flight(), vec![r.clone()]);
            assert_eq!(sim.state.tasks[&r].input, json!({"item": name, "index": i}));
            sim.complete(&r, json!({"done": name}));
        }
        assert_eq!(sim.state.status, RunStatus::Completed);
        let out = sim.state.output.clone().unwrap();
        assert_eq!(out["iteration"], json!(3));
        assert_eq!(out["2"]["file"]["done"], json!("b"));
        assert_eq!(sim.replayed(), sim.state);
    }

    #[test]
    fn a_condition_beside_items_can_end_the_loop_early() {
        let flow = ITEMS.replace(
            "    loopOver:",
            "    evaluatorType: expression\n    loopCondition: not file.stop\n    loopOver:",
        );
        let mut sim = Sim::start(&flow, json!({"files": ["a", "b", "c", "d"]}));
        sim.complete("file__1", json!({"stop": false}));
        sim.complete("file__2", json!({"stop": true}));
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(sim.state.tasks["each"].output["iteration"], json!(2));
        assert_eq!(sim.state.tasks["each"].output["loopItem"], json!("b"));
    }

    #[test]
    fn an_empty_items_list_runs_no_iteration() {
        let sim = Sim::start(ITEMS, json!({"files": []}));
        assert!(sim.in_flight().is_empty());
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(sim.state.tasks["each"].output, json!({"iteration": 0}));
        assert!(!sim.state.tasks.keys().any(|k| k.starts_with("file")));
    }

    #[test]
    fn items_that_are_not_a_list_fail_the_loop_with_the_reason() {
        let sim = Sim::start(ITEMS, json!({"files": "a,b"}));
        assert_eq!(sim.state.status, RunStatus::Failed);
        let reason = &sim.failure_reason();
        assert!(reason.contains("`items` should be a list"), "{reason}");
    }

    #[test]
    fn a_failing_iteration_fails_the_loop_and_retry_goes_on_with_that_iteration() {
        let mut sim = Sim::start(COUNTED, json!({"times": 3}));
        sim.complete("step__1", json!({"seen": 1}));
        sim.reply("step__2", ReplyStatus::Failed, json!({}));
        assert_eq!(sim.state.status, RunStatus::Failed);
        let failure = sim.state.failure.clone().unwrap();
        assert_eq!(failure.task_ref.as_deref(), Some("count"));
        assert!(
            failure
                .reason
                .contains("iteration 2: task `step__2` failed: broken"),
            "{}",
            failure.reason
        );
        assert_eq!(
            sim.state.tasks["count"].status,
            TaskStatus::FailedWithTerminalError
        );
        let retry = testkit::command(Action::Retry, "ann");
        sim.input(Input::Control(retry));
        assert_eq!(sim.state.status, RunStatus::Running);
        assert_eq!(sim.state.tasks["count"].status, TaskStatus::InProgress);
        assert_eq!(
            sim.state.tasks.get_index_of("count"),
            Some(0),
            "still listed first"
        );
        assert_eq!(sim.in_flight(), vec!["step__2".to_string()]);
        assert_eq!(sim.state.tasks["step__2"].attempt, 2);
        sim.complete("step__2", json!({"seen": 2}));
        sim.complete("step__3", json!({"seen": 3}));
        sim.complete("after", json!({}));
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(
            sim.state.tasks["count"].output["1"]["step"]["seen"],
            json!(1)
        );
        assert_eq!(sim.replayed(), sim.state);
    }

    #[test]
    fn retries_of_a_loop_task_work_within_its_iteration() {
        let flow = COUNTED.replace(
            "{name: work, taskReferenceName: step,",
            "{name: work, taskReferenceName: step, retry: {count: 1, delay: 5s},",
        );
        let mut sim = Sim::start(&flow, json!({"times": 2}));
        sim.reply("step__1", ReplyStatus::Failed, json!({}));
        assert_eq!(sim.state.tasks["step__1"].status, TaskStatus::RetryWait);
        let due = sim.state.next_wakeup().unwrap();
        sim.now = due;
        sim.input(Input::Tick);
        assert_eq!(sim.state.tasks["step__1"].attempt, 2);
        sim.complete("step__1", json!({"seen": 1}));
        assert_eq!(sim.in_flight(), vec!["step__2".to_string()]);
        assert_eq!(sim.state.tasks["step__2"].attempt, 1);
    }

    #[test]
    fn an_optional_loop_lets_the_run_go_on() {
        let flow = COUNTED.replace(
            "    type: DO_WHILE\n",
            "    type: DO_WHILE\n    optional: true\n",
        );
        let mut sim = Sim::start(&flow, json!({"times": 3}));
        sim.reply("step__1", ReplyStatus::Failed, json!({}));
        assert_eq!(
            sim.state.tasks["count"].status,
            TaskStatus::CompletedWithErrors
        );
        assert_eq!(sim.in_flight(), vec!["after".to_string()]);
    }

    #[test]
    fn a_condition_that_cannot_be_evaluated_fails_the_loop() {
        let flow = COUNTED.replace("count.iteration < times", "count.iteration < nothing_here");
        let mut sim = Sim::start(&flow, json!({"times": 3}));
        sim.complete("step__1", json!({}));
        assert_eq!(sim.state.status, RunStatus::Failed);
        let reason = &sim.failure_reason();
        assert!(
            reason.contains("loopCondition of `count` failed after iteration 1"),
            "{reason}"
        );
    }

    #[test]
    fn the_condition_sees_the_latest_outputs_of_the_loop_tasks() {
        let flow = COUNTED.replace("count.iteration < times", "step.more");
        let mut sim = Sim::start(&flow, json!({"times": 0}));
        sim.complete("step__1", json!({"more": true}));
        sim.complete("step__2", json!({"more": true}));
        sim.complete("step__3", json!({"more": false}));
        assert_eq!(sim.in_flight(), vec!["after".to_string()]);
        assert_eq!(sim.state.tasks["count"].output["iteration"], json!(3));
    }

    #[test]
    fn a_loop_of_system_tasks_gives_way_and_asks_to_be_woken() {
        let flow = "
name: fast
tasks:
  - name: spin
    taskReferenceName: spin
    type: DO_WHILE
    evaluatorType: expression
    loopCondition: spin.iteration < 250
    loopOver:
      - {name: pick, taskReferenceName: pick, type: SWITCH, expression: x, inputParameters: {x: a}, decisionCases: {}}
";
        let mut sim = Sim::start(flow, json!({}));
        assert_eq!(
            sim.state.loops["spin"].iteration,
            MAX_ITERATIONS_PER_WALK as u32
        );
        assert_eq!(sim.state.next_wakeup(), Some(sim.now), "look again at once");
        sim.input(Input::Tick);
        assert_eq!(
            sim.state.loops["spin"].iteration,
            2 * MAX_ITERATIONS_PER_WALK as u32
        );
        sim.input(Input::Tick);
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(sim.state.tasks["spin"].output["iteration"], json!(250));
        assert_eq!(sim.state.next_wakeup(), None);
        assert_eq!(sim.replayed(), sim.state);
    }

    #[test]
    fn forks_and_joins_inside_a_loop_are_renamed_per_iteration() {
        let flow = "
name: forky
tasks:
  - name: l
    taskReferenceName: l
    type: DO_WHILE
    evaluatorType: expression
    loopCondition: l.iteration < 2
    loopOver:
      - name: fork
        taskReferenceName: fork
        type: FORK_JOIN
        forkTasks:
          - [{name: work, taskReferenceName: a}]
          - [{name: work, taskReferenceName: b}]
      - {name: join, taskReferenceName: join, type: JOIN, joinOn: [a, b]}
";
        let mut sim = Sim::start(flow, json!({}));
        let mut flying = sim.in_flight();
        flying.sort();
        assert_eq!(flying, ["a__1", "b__1"]);
        sim.complete("a__1", json!({"x": 1}));
        sim.complete("b__1", json!({"x": 2}));
        assert_eq!(
            sim.state.tasks["join__1"].output,
            json!({"a__1": {"x": 1}, "b__1": {"x": 2}})
        );
        sim.complete("a__2", json!({}));
        sim.complete("b__2", json!({}));
        assert_eq!(sim.state.status, RunStatus::Completed);
    }

    #[test]
    fn rerun_from_the_loop_starts_it_afresh_and_from_a_task_inside_rewinds_to_its_iteration() {
        let mut sim = Sim::start(COUNTED, json!({"times": 3}));
        for n in 1..=3u32 {
            sim.complete(&format!("step__{n}"), json!({"seen": n}));
        }
        sim.complete("after", json!({}));
        assert_eq!(sim.state.status, RunStatus::Completed);
        let rerun = |task: &str| control::Command {
            task: Some(task.into()),
            ..testkit::command(Action::RerunFrom, "ann")
        };
        control::check(&sim.state, &rerun("step__2")).unwrap();
        sim.input(Input::Control(rerun("step__2")));
        assert_eq!(sim.in_flight(), vec!["step__2".to_string()]);
        assert!(!sim.state.tasks.contains_key("step__3"));
        assert_eq!(sim.state.tasks["count"].output["iteration"], json!(2));
        sim.complete("step__2", json!({"seen": 20}));
        sim.complete("step__3", json!({"seen": 30}));
        sim.complete("after", json!({}));
        assert_eq!(
            sim.state.tasks["count"].output["2"]["step"]["seen"],
            json!(20)
        );
        sim.input(Input::Control(rerun("count")));
        assert_eq!(sim.in_flight(), vec!["step__1".to_string()]);
        assert!(!sim.state.tasks.contains_key("step__2"));
        assert_eq!(sim.replayed(), sim.state);
    }

    /// Random replies (completions, failures with retries left, terminal failures), retries
    /// of the failed run and reruns, for many seeds: after every input, replaying the journal
    /// so far rebuilds exactly the live state, and `keepLastN` holds.
    #[test]
    fn replay_rebuilds_the_live_state_through_random_loop_histories() {
        let flow = COUNTED
            .replace("    loopOver:", "    keepLastN: 3\n    loopOver:")
            .replace(
                "{name: work, taskReferenceName: step,",
                "{name: work, taskReferenceName: step, retry: {count: 1},",
            );
        for seed in 0..40u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut sim = Sim::start(&flow, json!({"times": rng.u32(1..12)}));
            for _ in 0..60 {
                if sim.state.status == RunStatus::Failed {
                    sim.input(Input::Control(testkit::command(Action::Retry, "t")));
                } else if sim.state.status == RunStatus::Completed {
                    let started: Vec<String> = sim.state.tasks.keys().cloned().collect();
                    let from = started[rng.usize(..started.len())].clone();
                    sim.input(Input::Control(control::Command {
                        task: Some(from),
                        ..testkit::command(Action::RerunFrom, "t")
                    }));
                } else if let Some(task_ref) = sim.in_flight().first().cloned() {
                    let status = match rng.u8(..10) {
                        0..=6 => ReplyStatus::Completed,
                        7 | 8 => ReplyStatus::Failed,
                        _ => ReplyStatus::FailedWithTerminalError,
                    };
                    sim.reply(&task_ref, status, json!({"seen": rng.u8(..)}));
                } else {
                    sim.now += chrono::Duration::seconds(1);
                    sim.input(Input::Tick);
                }
                assert_eq!(sim.replayed(), sim.state, "seed {seed}");
                let iterations = sim.state.tasks.keys().filter(|k| k.contains("__")).count();
                assert!(iterations <= 3, "seed {seed}: {iterations} iterations kept");
            }
        }
    }

    #[test]
    fn operations_name_an_iteration_not_the_task_as_written() {
        let mut sim = Sim::start(COUNTED, json!({"times": 3}));
        sim.complete("step__1", json!({"seen": 1}));
        let skip = |task: &str| control::Command {
            task: Some(task.into()),
            ..testkit::command(Action::Skip, "ann")
        };
        let err = control::check(&sim.state, &skip("step")).unwrap_err();
        assert!(err.to_string().contains("has no task `step`"), "{err}");
        assert!(err.hint().contains("step__1, step__2"), "{}", err.hint());
        control::check(&sim.state, &skip("step__2")).unwrap();
        sim.input(Input::Control(skip("step__2")));
        assert_eq!(sim.state.tasks["step__2"].status, TaskStatus::Skipped);
        assert_eq!(
            sim.in_flight(),
            vec!["step__3".to_string()],
            "the loop goes on"
        );
    }

    #[test]
    fn row_13_inputparameters_underscore_items_iterate_like_items() {
        let flow = ITEMS
            .replace(
                "{items: '${workflow.input.files}'}",
                "{_items: '${workflow.input.files}'}",
            )
            .replace("    loopOver:", "    loopCondition: 'true'\n    loopOver:");
        let mut sim = Sim::start(&flow, json!({"files": ["a", "b"]}));
        for (i, name) in ["a", "b"].iter().enumerate() {
            let r = format!("file__{}", i + 1);
            assert_eq!(sim.in_flight(), vec![r.clone()]);
            assert_eq!(sim.state.tasks[&r].input, json!({"item": name, "index": i}));
            sim.complete(&r, json!({"done": name}));
        }
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(sim.state.tasks["each"].output["iteration"], json!(2));
        assert_eq!(sim.replayed(), sim.state);
    }
}

/// The validator's DO_WHILE rules (`definition::validate`), through the public loader.
#[cfg(test)]
mod validation_tests {
    use crate::definition::{LoadError, Severity, parse_str};

    /// Every error as (line, column, message, hint).
    fn errors(text: &str) -> Vec<(usize, usize, String, String)> {
        match parse_str(text, std::path::Path::new("t.yaml")) {
            Ok(_) => Vec::new(),
            Err(LoadError::Invalid { diagnostics, .. }) => diagnostics
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| (d.line, d.column, d.message, d.hint.unwrap_or_default()))
                .collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn one(text: &str) -> (usize, usize, String, String) {
        let mut all = errors(text);
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }

    #[test]
    fn a_complete_loop_is_valid_and_deserializes() {
        let text = "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    keepLastN: 3\n    loopCondition: \"$.l['iteration'] < 3\"\n    loopOver:\n      - {name: a, taskReferenceName: a}\n  - {name: b, taskReferenceName: b, inputParameters: {x: '${a.output.x}', y: '${a__2.output.x}'}}\n";
        let def = parse_str(text, std::path::Path::new("t.yaml")).unwrap();
        assert_eq!(def.tasks[0].keep_last_n, Some(3));
        assert_eq!(def.tasks[0].loop_over.len(), 1);
        assert_eq!(def.tasks[0].children().count(), 1);
    }

    #[test]
    fn loop_over_must_be_a_non_empty_list() {
        let (line, col, msg, hint) = one(
            "name: w\ntasks:\n  - {name: l, taskReferenceName: l, type: DO_WHILE, loopCondition: x, loopOver: []}\n",
        );
        assert_eq!((line, col), (3, 81), "{msg}");
        assert!(msg.contains("has no tasks in `loopOver`"), "{msg}");
        assert!(hint.contains("loopOver"), "{hint}");
        let (_, _, msg, _) = one(
            "name: w\ntasks:\n  - {name: l, taskReferenceName: l, type: DO_WHILE, loopCondition: x}\n",
        );
        assert!(msg.contains("has no `loopOver`"), "{msg}");
    }

    #[test]
    fn a_condition_is_required_unless_items_are_given() {
        let (line, _, msg, hint) = one(
            "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    loopOver: [{name: a, taskReferenceName: a}]\n",
        );
        assert_eq!(line, 3);
        assert!(msg.contains("has no `loopCondition`"), "{msg}");
        assert!(hint.contains("items"), "{hint}");
        assert!(
            errors("name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    inputParameters: {items: '${workflow.input.list}'}\n    loopOver: [{name: a, taskReferenceName: a}]\n")
                .is_empty()
        );
        assert!(
            errors("name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    items: [1, 2]\n    loopOver: [{name: a, taskReferenceName: a}]\n")
                .is_empty()
        );
    }

    #[test]
    fn keep_last_n_must_be_a_whole_number_of_at_least_one() {
        for (bad, shown) in [("0", "`0`"), ("2.5", "`2.5`"), ("many", "`many`")] {
            let text = format!(
                "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    loopCondition: x\n    keepLastN: {bad}\n    loopOver: [{{name: a, taskReferenceName: a}}]\n"
            );
            let (line, col, msg, hint) = one(&text);
            assert_eq!((line, col), (7, 16), "{msg}");
            assert!(
                msg.contains("whole number of at least 1") && msg.contains(shown),
                "{msg}"
            );
            assert!(hint.contains("keepLastN: 5"), "{hint}");
        }
        let text = "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    loopCondition: x\n    inputParameters: {keepLastN: -1}\n    loopOver: [{name: a, taskReferenceName: a}]\n";
        let (line, _, msg, _) = one(text);
        assert_eq!(line, 7);
        assert!(msg.contains("keepLastN"), "{msg}");
    }

    #[test]
    fn items_must_be_a_list_or_a_reference() {
        let text = "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    items: 3\n    loopOver: [{name: a, taskReferenceName: a}]\n";
        let (line, _, msg, _) = one(text);
        assert_eq!(line, 6);
        assert!(msg.contains("`items` must be a list"), "{msg}");
    }

    #[test]
    fn loop_fields_on_other_types_are_reported() {
        let text = "name: w\ntasks:\n  - name: a\n    taskReferenceName: a\n    loopCondition: x < 3\n    keepLastN: 2\n";
        let all = errors(text);
        assert_eq!(all.len(), 2, "{all:#?}");
        assert_eq!((all[0].0, all[0].1), (5, 5));
        assert!(
            all[0]
                .2
                .contains("`loopCondition` only applies to DO_WHILE tasks"),
            "{}",
            all[0].2
        );
        assert!(all[0].3.contains("type: DO_WHILE"));
        assert!(all[1].2.contains("`keepLastN` only applies to DO_WHILE"));
        // Conductor writes `loopOver: []` on every task: that is no mistake.
        assert!(
            errors("name: w\ntasks:\n  - {name: a, taskReferenceName: a, loopOver: []}\n")
                .is_empty()
        );
    }

    #[test]
    fn a_loop_inside_a_loop_is_refused_with_the_way_out() {
        let text = "name: w\ntasks:\n  - name: outer\n    taskReferenceName: outer\n    type: DO_WHILE\n    loopCondition: x\n    loopOver:\n      - name: inner\n        taskReferenceName: inner\n        type: DO_WHILE\n        loopCondition: y\n        loopOver: [{name: a, taskReferenceName: a}]\n";
        let (line, col, msg, hint) = one(text);
        assert_eq!((line, col), (10, 15));
        assert!(
            msg.contains("DO_WHILE `inner` is inside DO_WHILE task `outer`"),
            "{msg}"
        );
        assert!(hint.contains("SUB_WORKFLOW"), "{hint}");
    }

    #[test]
    fn conditions_are_checked_for_their_evaluator() {
        let base = "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    inputParameters: {go: true}\n    loopOver: [{name: a, taskReferenceName: a}]\n";
        let (line, _, msg, _) = one(&format!(
            "{base}    evaluatorType: expression\n    loopCondition: 'l.iteration <'\n"
        ));
        assert_eq!(line, 9);
        assert!(msg.contains("does not compile"), "{msg}");
        let (_, _, msg, hint) = one(&format!(
            "{base}    evaluatorType: javascrpt\n    loopCondition: x\n"
        ));
        assert!(msg.contains("unknown evaluator `javascrpt`"), "{msg}");
        assert!(hint.contains("`javascript`"), "{hint}");
        let (_, _, msg, _) = one(&format!(
            "{base}    evaluatorType: value-param\n    loopCondition: stop\n"
        ));
        assert!(msg.contains("no input `stop`"), "{msg}");
        assert!(
            errors(&format!(
                "{base}    evaluatorType: value-param\n    loopCondition: go\n"
            ))
            .is_empty()
        );
    }

    #[test]
    fn references_to_an_iteration_of_an_unknown_task_are_still_refused() {
        let text = "name: w\ntasks:\n  - {name: b, taskReferenceName: b, inputParameters: {x: '${zz__2.output.x}'}}\n";
        let (_, _, msg, _) = one(text);
        assert!(msg.contains("`zz__2`"), "{msg}");
    }

    #[test]
    fn row_13_a_loop_that_is_always_true_with_no_items_is_warned_about() {
        let warnings = |text: &str| -> Vec<(usize, String, String)> {
            let src = crate::definition::source::Source::parse(text, "t.yaml").unwrap();
            crate::definition::validate::check(&src)
                .into_iter()
                .filter(|d| d.severity == Severity::Warning)
                .map(|d| (d.line, d.message, d.hint.unwrap_or_default()))
                .collect()
        };
        let endless = "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    loopCondition: 'true'\n    loopOver: [{name: a, taskReferenceName: a}]\n";
        assert!(errors(endless).is_empty());
        let found = warnings(endless);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 6);
        assert!(found[0].1.contains("always true"), "{found:?}");
        assert!(found[0].2.contains("_items"), "{found:?}");
        let with_items = endless.replace(
            "    loopOver:",
            "    inputParameters: {_items: [1, 2]}\n    loopOver:",
        );
        assert!(warnings(&with_items).is_empty());
        let terminated = endless.replace(
            "[{name: a, taskReferenceName: a}]",
            "[{name: a, taskReferenceName: a}, {name: s, taskReferenceName: s, type: SWITCH, expression: x, inputParameters: {x: a}, decisionCases: {a: [{name: t, taskReferenceName: t, type: TERMINATE, inputParameters: {terminationStatus: COMPLETED}}]}}]",
        );
        assert!(
            warnings(&terminated).is_empty(),
            "{:?}",
            warnings(&terminated)
        );
    }
}

/// Conductor's JavaScript conditions (through the embedded engine).
#[cfg(test)]
mod javascript_tests {
    use serde_json::json;

    use super::tests_support::*;

    #[test]
    fn conductors_javascript_condition_reads_the_iteration_and_the_inputs() {
        let flow = "
name: js
tasks:
  - name: loopTask
    taskReferenceName: loopTask
    type: DO_WHILE
    inputParameters: {value: '${workflow.input.loop}'}
    loopCondition: \"if ($.loopTask['iteration'] < $.value) { true; } else { false;} \"
    loopOver:
      - {name: work, taskReferenceName: step}
";
        let mut sim = Sim::start(flow, json!({"loop": 2}));
        sim.complete("step__1", json!({}));
        sim.complete("step__2", json!({}));
        assert_eq!(sim.state.status, crate::engine::RunStatus::Completed);
        assert_eq!(sim.state.tasks["loopTask"].output["iteration"], json!(2));
    }

    #[test]
    fn a_javascript_condition_sees_the_loop_tasks_outputs() {
        let flow = "
name: js
tasks:
  - name: l
    taskReferenceName: l
    type: DO_WHILE
    loopCondition: \"$.step.more && $.l['1'].step.more\"
    loopOver:
      - {name: work, taskReferenceName: step}
";
        let mut sim = Sim::start(flow, json!({}));
        sim.complete("step__1", json!({"more": true}));
        sim.complete("step__2", json!({"more": false}));
        assert_eq!(sim.state.status, crate::engine::RunStatus::Completed);
    }

    #[test]
    fn a_javascript_syntax_error_is_found_by_the_validator() {
        let text = "name: w\ntasks:\n  - name: l\n    taskReferenceName: l\n    type: DO_WHILE\n    loopCondition: \"$.l['iteration'] <\"\n    loopOver: [{name: a, taskReferenceName: a}]\n";
        let err = crate::definition::parse_str(text, std::path::Path::new("t.yaml")).unwrap_err();
        let crate::definition::LoadError::Invalid { diagnostics, .. } = err else {
            panic!("{err}")
        };
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        // Line 6 is `    loopCondition: "$.l['iteration'] <"`: the error is at the end of the script (column 39).
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (6, 39));
        assert!(
            diagnostics[0]
                .message
                .contains("loopCondition of task `l` is not valid JavaScript"),
            "{}",
            diagnostics[0].message
        );
    }
}
