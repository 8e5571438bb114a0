//! Walking the task tree to find what to do next.

use serde_json::Value;

use super::state::{Failure, RunState, RunStatus};
use super::{Change, Ctx, emit, tasks};
use crate::definition::{TaskDef, TaskKind};
use crate::expr;

/// Where a task or a block of tasks stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Done,
    Pending,
    Failed(Failure),
}

/// The walker: the state, the context, and the changes emitted so far.
pub struct Walker<'s, 'c, 'a> {
    pub state: &'s mut RunState,
    pub ctx: &'c mut Ctx<'a>,
    pub out: &'s mut Vec<Change>,
}

impl Walker<'_, '_, '_> {
    pub fn emit(&mut self, change: Change) {
        emit(self.state, self.out, change, self.ctx.now);
    }

    /// A task's input: `inputParameters` over its `inputTemplate` (or its `inputExpression`),
    /// every `${...}` resolved against the run (see [`expr::mapping::task_input`]).
    pub fn resolve_input(&self, task: &TaskDef) -> Value {
        expr::mapping::task_input(task, &*self.state, None)
    }

    /// [`Walker::resolve_input`] for a task attempt with id `task_id` (`${CPEWF_TASK_ID}`).
    pub fn resolve_input_for(&self, task: &TaskDef, task_id: &str) -> Value {
        expr::mapping::task_input(task, &*self.state, Some(task_id))
    }

    /// Walks a block: its tasks one after the other. A FORK_JOIN whose JOIN names only some
    /// of its tasks in `joinOn` (or none) lets the walk go on once those are done, as in
    /// Conductor: the other branches go on running beside the tasks after the JOIN, and the
    /// block is done only when they have ended too (a failure in them still fails it).
    pub fn block(&mut self, block: &[TaskDef]) -> Progress {
        let mut still_running = false;
        for (i, task) in block.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| &block[p]);
            match self.task(task, previous) {
                Progress::Done => continue,
                Progress::Pending
                    if block
                        .get(i + 1)
                        .is_some_and(|join| tasks::join::released(self.state, task, join)) =>
                {
                    still_running = true;
                }
                other => return other,
            }
        }
        if still_running {
            Progress::Pending
        } else {
            Progress::Done
        }
    }

    /// Walks several blocks side by side (fork branches): done when all are done, failed as
    /// soon as one fails.
    pub fn branches<'b>(&mut self, branches: impl IntoIterator<Item = &'b [TaskDef]>) -> Progress {
        let mut all_done = true;
        for branch in branches {
            match self.block(branch) {
                Progress::Done => {}
                Progress::Pending => all_done = false,
                failed @ Progress::Failed(_) => return failed,
            }
        }
        if all_done {
            Progress::Done
        } else {
            Progress::Pending
        }
    }

    fn task(&mut self, task: &TaskDef, previous: Option<&TaskDef>) -> Progress {
        if self.state.status != RunStatus::Running {
            // A task of this walk ended the run (TERMINATE): nothing more starts.
            return Progress::Pending;
        }
        // `startDelay` holds a task back; `permissive` lets the walk go on past its failure.
        if let Some(held) = super::timeouts::delay(self, task) {
            return held;
        }
        // Every value journaled must read back: a system task whose mapped input nests too
        // deep fails before it records anything (SIMPLE tasks check when they schedule).
        if !matches!(
            task.kind(),
            TaskKind::Simple | TaskKind::AgentServed(_) | TaskKind::Dynamic
        ) && !self.state.tasks.contains_key(&task.task_reference_name)
            && let Some(reason) = crate::mailbox::limits::nesting_problem(
                "the task's mapped input",
                &self.resolve_input(task),
            )
        {
            let progress = self.fail_system_task(task, reason);
            return super::permissive::pass(task, progress);
        }
        let progress = match task.kind() {
            TaskKind::Simple => tasks::simple::walk(self, task, None),
            TaskKind::Switch => tasks::switch::walk(self, task),
            TaskKind::ForkJoin => tasks::fork_join::walk(self, task),
            TaskKind::ForkJoinDynamic => tasks::fork_join_dynamic::walk(self, task),
            TaskKind::Join => tasks::join::walk(self, task, previous),
            TaskKind::Human => tasks::human::walk(self, task),
            TaskKind::DoWhile => tasks::do_while::walk(self, task),
            TaskKind::SubWorkflow => tasks::sub_workflow::walk(self, task),
            TaskKind::StartWorkflow => tasks::start_workflow::walk(self, task),
            TaskKind::Wait => tasks::wait::walk(self, task),
            TaskKind::Terminate => tasks::terminate::walk(self, task),
            TaskKind::SetVariable => tasks::set_variable::walk(self, task),
            TaskKind::Noop => tasks::noop::walk(self, task),
            TaskKind::Inline => tasks::inline::walk(self, task),
            TaskKind::JsonJqTransform => tasks::json_jq_transform::walk(self, task),
            TaskKind::ExclusiveJoin => tasks::exclusive_join::walk(self, task, previous),
            TaskKind::Dynamic => tasks::dynamic::walk(self, task),
            TaskKind::Event => tasks::event::walk(self, task),
            TaskKind::Http => tasks::http::walk(self, task),
            TaskKind::AgentServed(_) => tasks::agent_served::walk(self, task),
        };
        super::permissive::pass(task, progress)
    }

    /// Ends a system task (one the engine runs itself) with an error.
    pub fn fail_system_task(&mut self, task: &TaskDef, reason: String) -> Progress {
        let change = super::retry::failure(
            Some(task),
            &task.task_reference_name,
            None,
            reason.clone(),
            true,
            0,
            Value::Null,
            self.ctx,
        );
        let optional = matches!(&change, Change::TaskFailed { outcome, .. } if outcome.is_done());
        self.emit(change);
        if optional {
            Progress::Done
        } else {
            Progress::Failed(Failure {
                task_ref: Some(task.task_reference_name.clone()),
                reason,
            })
        }
    }

    /// Where an existing task stands, for the types whose state alone decides it.
    pub fn settled(&self, task_ref: &str) -> Option<Progress> {
        let task = self.state.tasks.get(task_ref)?;
        if task.status.is_done() {
            Some(Progress::Done)
        } else if task.status.is_failed() {
            Some(Progress::Failed(failure_of(
                task_ref,
                task.reason.as_deref(),
            )))
        } else {
            None
        }
    }
}

pub fn failure_of(task_ref: &str, reason: Option<&str>) -> Failure {
    Failure {
        task_ref: Some(task_ref.to_string()),
        reason: reason.unwrap_or("failed").to_string(),
    }
}

/// Walks the whole workflow once and ends the run when it is done or has failed.
pub fn advance(state: &mut RunState, ctx: &mut Ctx<'_>, out: &mut Vec<Change>) {
    let workflow = state.workflow.clone();
    let progress = Walker { state, ctx, out }.block(&workflow.tasks);
    match progress {
        Progress::Pending => {}
        Progress::Done => {
            if let Some(failure) = super::permissive::failure(state) {
                let task_ref = failure.task_ref.clone().unwrap_or_default();
                let reason = format!("task `{task_ref}` failed: {}", failure.reason);
                let change = Change::RunFailed {
                    reason,
                    task_ref: failure.task_ref,
                    output: failed_output(state),
                };
                emit(state, out, change, ctx.now);
                return;
            }
            let output = run_output(state);
            emit(state, out, Change::RunCompleted { output }, ctx.now);
        }
        Progress::Failed(failure) => {
            let reason = match &failure.task_ref {
                Some(task_ref) => format!("task `{task_ref}` failed: {}", failure.reason),
                None => failure.reason,
            };
            emit(
                state,
                out,
                Change::RunFailed {
                    reason,
                    task_ref: failure.task_ref,
                    output: failed_output(state),
                },
                ctx.now,
            );
        }
    }
    debug_assert!(
        state.status != RunStatus::Running
            || !out.iter().any(|c| matches!(c, Change::RunCompleted { .. }))
    );
}

/// A failed run's output, as Conductor evaluates it: `outputParameters` mapped (with the
/// failed task's output), or none when the workflow declares none.
fn failed_output(state: &RunState) -> Option<Value> {
    (!state.workflow.output_parameters.is_empty()).then(|| run_output(state))
}

/// The run's output: `outputParameters` mapped, or the last completed task's output.
fn run_output(state: &RunState) -> Value {
    if state.workflow.output_parameters.is_empty() {
        return state
            .last_completed
            .as_ref()
            .and_then(|r| state.tasks.get(r))
            .map_or_else(|| Value::Object(Default::default()), |t| t.output.clone());
    }
    let params = Value::Object(
        state
            .workflow
            .output_parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    expr::resolve(&params, state)
}
