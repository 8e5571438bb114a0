//! SUB_WORKFLOW: run another workflow as a child run and wait for it. Also what every kind of
//! child run shares (START_WORKFLOW, the failure workflow): the links between a run and its
//! children, and how a child's end reaches its parent.
//!
//! The engine decides a child with [`Change::ChildRunStarted`], which carries the child's run
//! id (chosen then) and, when known, its whole definition (inline, or resolved by name in the
//! station when the parent started, see `orchestrator::children`). The orchestrator creates the
//! child's journal right after that change is durable (or, after a crash, on resume), and the
//! child's journal begins with `run_started` and [`Change::ChildOf`]. When the child ends, its
//! parent's driver feeds [`Input::ChildEnded`](crate::engine::Input::ChildEnded): the parent
//! journals [`Change::ChildRunEnded`], and a SUB_WORKFLOW task completes with the child's
//! output (plus `subWorkflowId`) or fails with its reason.
//!
//! Retrying the parent (`3ox retry`) forgets the failed SUB_WORKFLOW task, so the next walk
//! finds the task's child in [`RunState::children`]: a FAILED child is retried
//! ([`Change::ChildRunResumed`] with `retry: true`, its completed work kept), a child still
//! running is waited for again; only a child that completed or was terminated is replaced by a
//! new one.
//!
//! The failure workflow ([`after_end`]): when a run with `failureWorkflow` ends FAILED or
//! TERMINATED, the next [`super::super::advance`] decides its failure run, once per end.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::definition::{TaskDef, WorkflowDef};
use crate::engine::state::{RunState, RunStatus, TaskStatus};
use crate::engine::walk::{Progress, Walker, failure_of};
use crate::engine::{Change, Ctx, emit, retry};
use crate::expr;

/// How deep children may nest (a parent at depth 0, its children at 1, ...). A definition
/// that starts itself is refused when the run starts; this bound catches what names resolved
/// only at run time could still loop through.
pub const MAX_DEPTH: u32 = 16;

/// What started a child run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// A SUB_WORKFLOW task: the parent waits for it.
    SubWorkflow,
    /// A START_WORKFLOW task: fire and forget.
    StartWorkflow,
    /// The parent's `failureWorkflow`, started when the parent failed.
    FailureWorkflow,
}

impl std::fmt::Display for ChildKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChildKind::SubWorkflow => "SUB_WORKFLOW",
            ChildKind::StartWorkflow => "START_WORKFLOW",
            ChildKind::FailureWorkflow => "failureWorkflow",
        })
    }
}

/// A child run's link to its parent (from its `child_of` record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentLink {
    pub run_id: String,
    pub task_ref: Option<String>,
    pub kind: ChildKind,
    /// 1 for a child of a top-level run.
    pub depth: u32,
}

/// A parent's record of one of its child runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildLink {
    pub run_id: String,
    pub kind: ChildKind,
    pub task_ref: Option<String>,
    /// The child workflow's name.
    pub name: String,
    /// The child's status as the parent last learned it.
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    /// The child's input (the SUB_WORKFLOW task's input, kept when a retry resumes it).
    #[serde(skip)]
    pub input: Value,
}

/// This run's depth: 0 for a top-level run.
pub fn depth(state: &RunState) -> u32 {
    state.parent.as_ref().map_or(0, |p| p.depth)
}

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if let Some(current) = w.state.tasks.get(task_ref) {
        return match current.status {
            TaskStatus::Scheduled | TaskStatus::InProgress => Progress::Pending,
            TaskStatus::RetryWait => {
                if current.retry_at.is_none_or(|at| at <= w.ctx.now) {
                    start(w, task)
                } else {
                    Progress::Pending
                }
            }
            s if s.is_done() => Progress::Done,
            _ => Progress::Failed(failure_of(task_ref, current.reason.as_deref())),
        };
    }
    // Forgotten by a retry or a rerun: the task's last child decides.
    let last = w
        .state
        .children
        .values()
        .rev()
        .find(|c| c.kind == ChildKind::SubWorkflow && c.task_ref.as_deref() == Some(task_ref))
        .map(|c| (c.run_id.clone(), c.status));
    match last {
        Some((child_run_id, status @ (RunStatus::Running | RunStatus::Failed))) => {
            w.emit(Change::ChildRunResumed {
                task_ref: task_ref.clone(),
                child_run_id,
                retry: status == RunStatus::Failed,
            });
            Progress::Pending
        }
        _ => start(w, task),
    }
}

/// The `subWorkflowParam` of `task`: `name` and `version` mapped against the run, the inline
/// `workflowDefinition` as written (its `${...}` belong to the child).
fn start(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let raw = task
        .extra
        .get("subWorkflowParam")
        .cloned()
        .unwrap_or(Value::Null);
    let target = match Target::from_param(&raw, &*w.state, "subWorkflowParam") {
        Ok(target) => target,
        Err(reason) => return w.fail_system_task(task, reason),
    };
    let input = w.resolve_input(task);
    match decide_child(
        w.state,
        w.ctx,
        w.out,
        ChildKind::SubWorkflow,
        Some(task),
        target,
        input,
    ) {
        Ok(_) => Progress::Pending,
        Err(reason) => w.fail_system_task(task, reason),
    }
}

/// Which workflow a child runs: a name (and version), and the definition when it is known.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub version: Option<u32>,
    pub workflow: Option<WorkflowDef>,
}

impl Target {
    /// Reads `{name, version, workflowDefinition}` (Conductor's `subWorkflowParam`, or a
    /// START_WORKFLOW's `startWorkflow`). `name` and `version` are mapped against `scope`.
    pub fn from_param(raw: &Value, scope: &dyn expr::Scope, field: &str) -> Result<Target, String> {
        let Some(param) = raw.as_object() else {
            return Err(format!(
                "`{field}` must be a mapping with `name` (and `version`) or `workflowDefinition`"
            ));
        };
        let workflow = match param.get("workflowDefinition") {
            None | Some(Value::Null) => None,
            Some(def @ Value::Object(_)) => Some(
                serde_json::from_value::<WorkflowDef>(def.clone()).map_err(|e| {
                    format!("`{field}.workflowDefinition` is not a workflow definition: {e}")
                })?,
            ),
            Some(other) => {
                return Err(format!(
                    "`{field}.workflowDefinition` must be a workflow definition (a mapping), not `{other}`"
                ));
            }
        };
        let name = param.get("name").map(|n| expr::resolve(n, scope));
        let name = match (name, &workflow) {
            (Some(Value::String(n)), _) if !n.trim().is_empty() => n,
            (None | Some(Value::Null), Some(def)) => def.name.clone(),
            (Some(other), _) => {
                return Err(format!(
                    "`{field}.name` must be a workflow's name, not `{other}`"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "`{field}` names no workflow: give `name` (a workflow of the station's templates/ or workflows/) or an inline `workflowDefinition`"
                ));
            }
        };
        let version = match param.get("version").map(|v| expr::resolve(v, scope)) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| format!("`{field}.version` must be a whole number >= 0"))?,
            ),
            Some(Value::String(s)) if s.trim().parse::<u32>().is_ok() => s.trim().parse().ok(),
            Some(other) => {
                return Err(format!(
                    "`{field}.version` must be a whole number, not `{other}`"
                ));
            }
        };
        Ok(Target {
            name,
            version,
            workflow,
        })
    }
}

/// Decides a child run: emits [`Change::ChildRunStarted`] with a new run id and returns it.
/// Refused past [`MAX_DEPTH`].
pub fn decide_child(
    state: &mut RunState,
    ctx: &mut Ctx<'_>,
    out: &mut Vec<Change>,
    kind: ChildKind,
    task: Option<&TaskDef>,
    target: Target,
    input: Value,
) -> Result<String, String> {
    let depth = depth(state) + 1;
    if depth > MAX_DEPTH {
        return Err(format!(
            "starting workflow `{}` would nest child runs {depth} deep (at most {MAX_DEPTH}): does a workflow start itself, directly or through others?",
            target.name
        ));
    }
    let child_run_id = (ctx.new_id)().to_string();
    let change = Change::ChildRunStarted {
        child_run_id: child_run_id.clone(),
        kind,
        task_ref: task.map(|t| t.task_reference_name.clone()),
        name: target.name,
        workflow_version: target.version,
        workflow: target.workflow.map(Box::new),
        input,
        depth,
    };
    emit(state, out, change, ctx.now);
    Ok(child_run_id)
}

/// A child run ended (its parent's driver read its journal): record it, and settle the
/// SUB_WORKFLOW task waiting for it. Idempotent: an end already recorded changes nothing.
pub fn on_child_ended(
    state: &mut RunState,
    out: &mut Vec<Change>,
    ctx: &mut Ctx<'_>,
    child_run_id: String,
    status: RunStatus,
    output: Value,
    reason: Option<String>,
) {
    let Some(link) = state.children.get(&child_run_id) else {
        return;
    };
    if link.status == status || status == RunStatus::Running {
        return;
    }
    let (kind, task_ref) = (link.kind, link.task_ref.clone());
    emit(
        state,
        out,
        Change::ChildRunEnded {
            child_run_id: child_run_id.clone(),
            status,
            output: output.clone(),
            reason: reason.clone(),
        },
        ctx.now,
    );
    let Some(task_ref) = task_ref.filter(|_| kind == ChildKind::SubWorkflow) else {
        return;
    };
    let waiting = state.tasks.get(&task_ref).is_some_and(|t| {
        t.status.is_in_flight() && t.task_id.as_deref() == Some(child_run_id.as_str())
    });
    if state.status != RunStatus::Running || !waiting {
        return;
    }
    let mut result = Map::new();
    result.insert("subWorkflowId".into(), json!(child_run_id));
    let change = if status == RunStatus::Completed {
        if let Value::Object(fields) = output {
            result.extend(fields);
        }
        Change::TaskCompleted {
            task_ref,
            task_id: None,
            input: None,
            output: Value::Object(result),
        }
    } else {
        let why = reason.unwrap_or_else(|| "no reason given".into());
        let reason = format!("sub workflow run {child_run_id} ended {status}: {why}");
        let attempt = state.tasks.get(&task_ref).map_or(1, |t| t.attempt);
        let def = state.def(&task_ref);
        retry::failure(
            def.as_deref(),
            &task_ref,
            None,
            reason,
            false,
            attempt,
            Value::Object(result),
            ctx,
        )
    };
    emit(state, out, change, ctx.now);
}

/// After a run ended FAILED, or TERMINATED in its own walk (a TERMINATE task): decides its
/// `failureWorkflow` run, once per end. `walked` holds the changes of the walk just done. A
/// person's `3ox terminate` does not start it (as in Conductor, where terminating through the
/// API does not either).
pub fn after_end(state: &mut RunState, ctx: &mut Ctx<'_>, walked: &mut Vec<Change>) {
    let out = walked;
    let ended_in_walk = out
        .iter()
        .any(|c| matches!(c, Change::RunTerminated { .. } | Change::RunFailed { .. }));
    let failed = match state.status {
        RunStatus::Failed => true,
        RunStatus::Terminated => ended_in_walk,
        _ => false,
    };
    if !failed {
        return;
    }
    let Some(written) = failure_workflow(&state.workflow) else {
        return;
    };
    let Some(name) = failure_workflow_for(state, written) else {
        tracing::warn!(
            run = %state.run_id,
            failure_workflow = written,
            "the failure workflow is not started: the run's input names none"
        );
        return;
    };
    let handled = state
        .failure_run
        .as_ref()
        .is_some_and(|(_, at)| state.ended_at.is_none_or(|end| *at >= end));
    if handled {
        return;
    }
    let input = failure_input(state);
    let target = Target {
        name: name.to_string(),
        version: None,
        workflow: None,
    };
    if let Err(reason) = decide_child(
        state,
        ctx,
        out,
        ChildKind::FailureWorkflow,
        None,
        target,
        input,
    ) {
        tracing::warn!(run = %state.run_id, %reason, "the failure workflow is not started");
    }
}

/// Whether a `failureWorkflow` is chosen by the run's input: Conductor's
/// `$workflow.input.<key>`, or a `${...}` reference. Such a name is looked up when the failure
/// workflow starts, not when the run starts.
pub fn is_input_chosen(name: &str) -> bool {
    name.starts_with('$')
}

/// The name of the failure workflow of `state`'s run: the written name, or the text the run's
/// input holds where the name is chosen by the input (`None` when it holds none).
pub fn failure_workflow_for(state: &RunState, written: &str) -> Option<String> {
    if !is_input_chosen(written) {
        return Some(written.to_string());
    }
    let chosen = match written.strip_prefix("$workflow.input.") {
        Some(key) => state.input.get(key).cloned().unwrap_or(Value::Null),
        None => crate::expr::resolve(&Value::String(written.to_string()), state),
    };
    chosen
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

/// The workflow's `failureWorkflow`, as written, when it names one (Conductor writes `""`
/// for none).
pub fn failure_workflow(workflow: &WorkflowDef) -> Option<&str> {
    workflow
        .extra
        .get("failureWorkflow")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

/// The failure workflow's input: the failed run's input, and Conductor's `workflowId`,
/// `reason`, `failureStatus`, `failureTaskId`, plus `failedTaskNames`,
/// `failedReferenceTaskNames` and the whole `failedWorkflow` (its tasks with
/// `referenceTaskName`, `status`, `outputData`, ...), which compensation reads to learn what
/// to undo.
pub fn failure_input(state: &RunState) -> Value {
    let mut input = match &state.input {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    let failure = state.failure.clone();
    let failed_ref = failure.as_ref().and_then(|f| f.task_ref.clone());
    let failed_task = failed_ref.as_ref().and_then(|r| state.tasks.get(r));
    // The failed tasks, and the task that ended the run (a TERMINATE task completes, yet it
    // is the one that failed the run), each once.
    let failed: Vec<_> = state
        .tasks
        .values()
        .filter(|t| t.status.is_failed() || Some(&t.task_ref) == failed_ref.as_ref())
        .collect();
    let reason = failure
        .as_ref()
        .map(|f| f.reason.clone())
        .unwrap_or_default();
    input.insert("workflowId".into(), json!(state.run_id));
    input.insert("reason".into(), json!(reason));
    input.insert("failureStatus".into(), json!(state.status));
    input.insert(
        "failureTaskId".into(),
        json!(failed_task.and_then(|t| t.task_id.clone())),
    );
    input.insert(
        "failedTaskNames".into(),
        json!(failed.iter().map(|t| t.name.clone()).collect::<Vec<_>>()),
    );
    input.insert(
        "failedReferenceTaskNames".into(),
        json!(
            failed
                .iter()
                .map(|t| t.task_ref.clone())
                .collect::<Vec<_>>()
        ),
    );
    let tasks: Vec<Value> = state
        .tasks
        .values()
        .map(|t| {
            json!({
                "referenceTaskName": t.task_ref,
                "taskDefName": t.name,
                "taskType": t.type_name,
                "status": t.status,
                "taskId": t.task_id,
                "retryCount": t.attempt.saturating_sub(1),
                "inputData": t.input,
                "outputData": t.output,
                "reasonForIncompletion": t.reason,
            })
        })
        .collect();
    input.insert(
        "failedWorkflow".into(),
        json!({
            "workflowId": state.run_id,
            "workflowName": state.workflow.name,
            "workflowType": state.workflow.name,
            "version": state.workflow.version,
            "status": state.status,
            "input": state.input,
            "output": state.output,
            "reasonForIncompletion": reason,
            "failedReferenceTaskNames": failed.iter().map(|t| t.task_ref.clone()).collect::<Vec<_>>(),
            "tasks": tasks,
        }),
    );
    Value::Object(input)
}

/// Applies the subflow changes to `state` (called from `RunState::apply`).
pub fn apply(state: &mut RunState, change: &Change, at: DateTime<Utc>) {
    match change {
        Change::ChildRunStarted {
            child_run_id,
            kind,
            task_ref,
            name,
            input,
            ..
        } => {
            state.children.insert(
                child_run_id.clone(),
                ChildLink {
                    run_id: child_run_id.clone(),
                    kind: *kind,
                    task_ref: task_ref.clone(),
                    name: name.clone(),
                    status: RunStatus::Running,
                    started_at: at,
                    input: input.clone(),
                },
            );
            match (kind, task_ref) {
                (ChildKind::SubWorkflow, Some(task_ref)) => {
                    let task = state.task_entry(task_ref, at);
                    task.status = TaskStatus::Scheduled;
                    task.attempt += 1;
                    task.task_id = Some(child_run_id.clone());
                    task.input = input.clone();
                    task.reason = None;
                    task.retry_at = None;
                }
                (ChildKind::FailureWorkflow, _) => {
                    state.failure_run = Some((child_run_id.clone(), at));
                }
                _ => {}
            }
        }
        Change::ChildRunResumed {
            task_ref,
            child_run_id,
            ..
        } => {
            let mut input = Value::Null;
            if let Some(link) = state.children.get_mut(child_run_id) {
                link.status = RunStatus::Running;
                input = link.input.clone();
            }
            let task = state.task_entry(task_ref, at);
            task.status = TaskStatus::Scheduled;
            task.attempt = task.attempt.max(1);
            task.task_id = Some(child_run_id.clone());
            task.input = input;
            task.reason = None;
            task.retry_at = None;
        }
        Change::ChildRunEnded {
            child_run_id,
            status,
            ..
        } => {
            if let Some(link) = state.children.get_mut(child_run_id) {
                link.status = *status;
            }
        }
        Change::ChildOf {
            parent_run_id,
            parent_task_ref,
            kind,
            depth,
        } => {
            state.parent = Some(ParentLink {
                run_id: parent_run_id.clone(),
                task_ref: parent_task_ref.clone(),
                kind: *kind,
                depth: *depth,
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

    use super::*;
    use crate::engine::control::Action;
    use crate::engine::{Input, step};
    use crate::station::AgentDirectory;

    /// A run driven by hand with a fixed clock and counted ids.
    struct Sim {
        state: RunState,
        agents: AgentDirectory,
        ids: u64,
        log: Vec<Change>,
        times: Vec<DateTime<Utc>>,
    }

    impl Sim {
        fn start(flow: &str) -> Sim {
            let workflow = crate::definition::parse_str(flow, std::path::Path::new("t.yaml"))
                .unwrap_or_else(|e| panic!("{e:?}"));
            let mut sim = Sim {
                state: RunState::default(),
                agents: AgentDirectory::default(),
                ids: 0,
                log: Vec::new(),
                times: Vec::new(),
            };
            sim.input(Input::Start {
                run_id: "PARENT".into(),
                source: "t.yaml".into(),
                workflow: Arc::new(workflow),
                input: json!({"order": "A-1"}),
            });
            sim
        }

        fn input(&mut self, input: Input) -> Vec<Change> {
            let mut counter = self.ids;
            let mut new_id = || {
                counter += 1;
                ulid::Ulid::from_parts(counter, u128::from(counter))
            };
            let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + chrono::Duration::seconds(i64::try_from(self.log.len()).unwrap());
            let mut ctx = Ctx {
                now,
                agents: &self.agents,
                new_id: &mut new_id,
                load: &crate::engine::no_load,
            };
            let changes = step(&mut self.state, input, &mut ctx);
            self.ids = counter;
            self.log.extend(changes.iter().cloned());
            self.times.extend(changes.iter().map(|_| now));
            changes
        }

        fn children(&self, kind: ChildKind) -> Vec<String> {
            self.log
                .iter()
                .filter_map(|c| match c {
                    Change::ChildRunStarted {
                        child_run_id,
                        kind: k,
                        ..
                    } if *k == kind => Some(child_run_id.clone()),
                    _ => None,
                })
                .collect()
        }

        fn ended(&mut self, child: &str, status: RunStatus, output: Value) -> Vec<Change> {
            self.input(Input::ChildEnded {
                child_run_id: child.to_string(),
                status,
                output,
                reason: (status != RunStatus::Completed).then(|| "disk full".to_string()),
            })
        }

        fn control(&mut self, action: Action) -> Vec<Change> {
            self.input(Input::Control(crate::engine::testkit::command(
                action, "ann",
            )))
        }

        /// Replaying the log gives the live state.
        fn check_replay(&self) {
            let mut replayed = RunState::default();
            for (change, at) in self.log.iter().zip(&self.times) {
                replayed.apply(change, *at);
            }
            assert_eq!(replayed.children, self.state.children);
            assert_eq!(replayed.status, self.state.status);
            assert_eq!(
                replayed.tasks.keys().collect::<Vec<_>>(),
                self.state.tasks.keys().collect::<Vec<_>>()
            );
        }
    }

    const PARENT: &str = r#"
name: parent
failureWorkflow: undo
tasks:
  - name: sub
    taskReferenceName: sub
    type: SUB_WORKFLOW
    inputParameters: {order: "${workflow.input.order}"}
    subWorkflowParam:
      name: child
      workflowDefinition:
        name: child
        tasks:
          - {name: step, taskReferenceName: step, inputParameters: {o: "${workflow.input.order}"}}
"#;

    #[test]
    fn a_child_that_completes_completes_the_task_with_its_output_and_subworkflowid() {
        let mut sim = Sim::start(PARENT);
        let children = sim.children(ChildKind::SubWorkflow);
        assert_eq!(children.len(), 1);
        let Some(Change::ChildRunStarted {
            input, workflow, ..
        }) = sim
            .log
            .iter()
            .find(|c| matches!(c, Change::ChildRunStarted { .. }))
        else {
            unreachable!()
        };
        assert_eq!(input, &json!({"order": "A-1"}));
        // The inline definition keeps its own `${...}` for the child.
        let step = &workflow.as_ref().unwrap().tasks[0];
        assert_eq!(step.input_parameters["o"], json!("${workflow.input.order}"));
        assert_eq!(sim.state.tasks["sub"].status, TaskStatus::Scheduled);
        // Nothing more happens on a tick while the child runs.
        assert!(sim.input(Input::Tick).is_empty());
        sim.ended(&children[0], RunStatus::Completed, json!({"total": 3}));
        assert_eq!(sim.state.status, RunStatus::Completed);
        assert_eq!(
            sim.state.tasks["sub"].output,
            json!({"subWorkflowId": children[0], "total": 3})
        );
        // A repeated notice changes nothing.
        assert!(
            sim.ended(&children[0], RunStatus::Completed, json!({}))
                .is_empty()
        );
        assert!(sim.children(ChildKind::FailureWorkflow).is_empty());
        sim.check_replay();
    }

    #[test]
    fn retrying_the_parent_retries_the_failed_child_instead_of_starting_another() {
        let mut sim = Sim::start(PARENT);
        let child = sim.children(ChildKind::SubWorkflow)[0].clone();
        sim.ended(&child, RunStatus::Failed, Value::Null);
        assert_eq!(sim.state.status, RunStatus::Failed);
        assert!(
            sim.state
                .failure
                .as_ref()
                .unwrap()
                .reason
                .contains("disk full")
        );
        let changes = sim.control(Action::Retry);
        assert!(changes.iter().any(|c| matches!(c,
            Change::ChildRunResumed { child_run_id, retry: true, .. } if *child_run_id == child)));
        assert_eq!(sim.children(ChildKind::SubWorkflow), vec![child.clone()]);
        assert_eq!(
            sim.state.tasks["sub"].task_id.as_deref(),
            Some(child.as_str())
        );
        assert_eq!(sim.state.tasks["sub"].input, json!({"order": "A-1"}));
        sim.ended(&child, RunStatus::Completed, json!({"ok": true}));
        assert_eq!(sim.state.status, RunStatus::Completed);
        sim.check_replay();
    }

    #[test]
    fn a_failed_run_decides_its_failure_workflow_once_with_the_failure_input() {
        let mut sim = Sim::start(PARENT);
        let child = sim.children(ChildKind::SubWorkflow)[0].clone();
        let changes = sim.ended(&child, RunStatus::Failed, Value::Null);
        let failure = sim.children(ChildKind::FailureWorkflow);
        assert_eq!(failure.len(), 1);
        // Decided in the same batch as the end.
        let end = changes
            .iter()
            .position(|c| matches!(c, Change::RunFailed { .. }));
        let decision = changes.iter().position(|c| {
            matches!(
                c,
                Change::ChildRunStarted {
                    kind: ChildKind::FailureWorkflow,
                    ..
                }
            )
        });
        assert!(end.unwrap() < decision.unwrap());
        let Some(Change::ChildRunStarted { input, name, .. }) = changes.get(decision.unwrap())
        else {
            unreachable!()
        };
        assert_eq!(name, "undo");
        assert_eq!(input["order"], "A-1");
        assert_eq!(input["workflowId"], "PARENT");
        assert_eq!(input["failureStatus"], "FAILED");
        assert_eq!(input["failureTaskId"], json!(child));
        assert_eq!(input["failedReferenceTaskNames"], json!(["sub"]));
        assert_eq!(
            input["failedWorkflow"]["tasks"][0]["referenceTaskName"],
            "sub"
        );
        assert!(sim.input(Input::Tick).is_empty(), "once per end");
        sim.check_replay();
        // Retried and failed again: a new end, a new failure run.
        sim.control(Action::Retry);
        sim.ended(&child, RunStatus::Failed, Value::Null);
        assert_eq!(sim.children(ChildKind::FailureWorkflow).len(), 2);
    }

    #[test]
    fn a_terminate_task_that_fails_the_run_is_named_as_the_failed_task() {
        let flow = "name: parent\nfailureWorkflow: undo\ntasks:\n  - name: stop\n    taskReferenceName: stop\n    type: TERMINATE\n    inputParameters: {terminationStatus: FAILED, terminationReason: no stock}\n";
        let sim = Sim::start(flow);
        let failure = sim.children(ChildKind::FailureWorkflow);
        assert_eq!(failure.len(), 1);
        let input = sim
            .log
            .iter()
            .find_map(|c| match c {
                Change::ChildRunStarted {
                    kind: ChildKind::FailureWorkflow,
                    input,
                    ..
                } => Some(input.clone()),
                _ => None,
            })
            .expect("the failure workflow's input");
        assert_eq!(input["failedReferenceTaskNames"], json!(["stop"]));
        assert_eq!(input["failedTaskNames"], json!(["stop"]));
        assert_eq!(
            input["failedWorkflow"]["failedReferenceTaskNames"],
            json!(["stop"])
        );
    }

    #[test]
    fn a_person_terminating_the_run_does_not_start_the_failure_workflow() {
        let mut sim = Sim::start(PARENT);
        sim.control(Action::Terminate);
        assert_eq!(sim.state.status, RunStatus::Terminated);
        assert!(sim.children(ChildKind::FailureWorkflow).is_empty());
    }

    #[test]
    fn children_nested_too_deep_are_not_started() {
        let mut sim = Sim::start(
            "name: deep\ntasks:\n  - {name: step, taskReferenceName: first}\n  - {name: again, taskReferenceName: again, type: SUB_WORKFLOW, subWorkflowParam: {name: deep}}\n",
        );
        // A child at the deepest level allowed, before its tasks run.
        let mut state = RunState::default();
        for change in sim.log.iter().take(1) {
            state.apply(change, Utc::now());
        }
        state.apply(
            &Change::ChildOf {
                parent_run_id: "UP".into(),
                parent_task_ref: Some("again".into()),
                kind: ChildKind::SubWorkflow,
                depth: MAX_DEPTH,
            },
            Utc::now(),
        );
        state.apply(
            &Change::TaskCompleted {
                task_ref: "first".into(),
                task_id: None,
                input: None,
                output: json!({}),
            },
            Utc::now(),
        );
        sim.state = state;
        sim.log.clear();
        sim.times.clear();
        sim.input(Input::Tick);
        assert_eq!(sim.state.status, RunStatus::Failed);
        let reason = &sim.state.failure.as_ref().unwrap().reason;
        assert!(reason.contains("17 deep (at most 16)"), "{reason}");
        assert!(sim.children(ChildKind::SubWorkflow).is_empty());
    }

    #[test]
    fn start_workflow_completes_at_once_with_the_new_run_id() {
        let sim = Sim::start(
            "name: p\ntasks:\n  - name: st\n    taskReferenceName: st\n    type: START_WORKFLOW\n    inputParameters:\n      startWorkflow: {name: other, version: 3, input: {o: \"${workflow.input.order}\"}}\n",
        );
        assert_eq!(sim.state.status, RunStatus::Completed);
        let started = sim.children(ChildKind::StartWorkflow);
        assert_eq!(
            sim.state.tasks["st"].output,
            json!({"workflowId": started[0]})
        );
        let Some(Change::ChildRunStarted {
            input,
            workflow_version,
            workflow,
            ..
        }) = sim
            .log
            .iter()
            .find(|c| matches!(c, Change::ChildRunStarted { .. }))
        else {
            unreachable!()
        };
        assert_eq!(input, &json!({"o": "A-1"}));
        assert_eq!(*workflow_version, Some(3));
        assert!(workflow.is_none(), "resolved by the orchestrator");
        // The whole request given at run time, as Conductor's corpus does; a bad one fails.
        let sim = Sim::start(
            "name: p\ntasks:\n  - {name: st, taskReferenceName: st, type: START_WORKFLOW, inputParameters: {startWorkflow: \"${workflow.input.order}\"}}\n",
        );
        assert_eq!(sim.state.status, RunStatus::Failed);
        let reason = &sim.state.failure.as_ref().unwrap().reason;
        assert!(
            reason.contains("needs `inputParameters.startWorkflow`"),
            "{reason}"
        );
        sim.check_replay();
    }

    #[test]
    fn the_subflow_changes_read_back_from_a_journal_as_written() {
        let def = crate::definition::parse_str(
            "name: c\nversion: 3\ntasks:\n  - {name: s, taskReferenceName: s}\n",
            std::path::Path::new("c.yaml"),
        )
        .unwrap();
        let changes = vec![
            Change::ChildRunStarted {
                child_run_id: "C1".into(),
                kind: ChildKind::SubWorkflow,
                task_ref: Some("sub".into()),
                name: "c".into(),
                workflow_version: Some(3),
                workflow: Some(Box::new(def)),
                input: json!({"x": [1, "two"]}),
                depth: 2,
            },
            Change::ChildRunStarted {
                child_run_id: "C2".into(),
                kind: ChildKind::FailureWorkflow,
                task_ref: None,
                name: "undo".into(),
                workflow_version: None,
                workflow: None,
                input: json!({}),
                depth: 1,
            },
            Change::ChildRunResumed {
                task_ref: "sub".into(),
                child_run_id: "C1".into(),
                retry: true,
            },
            Change::ChildRunEnded {
                child_run_id: "C1".into(),
                status: RunStatus::Completed,
                output: json!({"version": 7}),
                reason: None,
            },
            Change::ChildOf {
                parent_run_id: "P".into(),
                parent_task_ref: Some("sub".into()),
                kind: ChildKind::StartWorkflow,
                depth: 1,
            },
        ];
        let mut bytes = Vec::new();
        let records: Vec<crate::journal::Record> = changes
            .into_iter()
            .enumerate()
            .map(|(i, change)| crate::journal::Record {
                version: 1,
                seq: i as u64 + 1,
                at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                run: "P".into(),
                change,
            })
            .collect();
        for record in &records {
            crate::journal::encode(record, &mut bytes);
        }
        let read = crate::journal::decode(&bytes, std::path::Path::new("j.yaml")).unwrap();
        assert_eq!(read.records, records);
    }
}
