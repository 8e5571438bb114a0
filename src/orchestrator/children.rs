//! Child runs, the orchestrator's side: finding workflows by name in the station, creating
//! the runs the engine decided (SUB_WORKFLOW, START_WORKFLOW, `failureWorkflow`), driving
//! them in the parent's process, telling a parent that its child ended, and putting all of
//! that right after a crash.
//!
//! **Names.** A workflow named in `subWorkflowParam.name`, `startWorkflow.name` or
//! `failureWorkflow` is looked up in the station's `templates/` and then `workflows/` folder:
//! first the files `<name>.workflow.yaml`, `<name>.yaml`, `<name>.yml`, `<name>.json`, then
//! any `.yaml`/`.yml`/`.json` file there whose `name:` is the name. With a `version` the
//! definition's `version` must match; without, the highest version found wins.
//!
//! **Fixed when the parent starts.** [`prepare`] runs before a run's `run_started` is
//! written: every SUB_WORKFLOW and START_WORKFLOW whose name is plain text gets the whole
//! definition it names put into its `workflowDefinition` (nested children too), so the
//! parent's journal holds every definition it will run and replay never reads the station
//! again. A name that is not found, a definition that starts itself (directly or through
//! others) and a child whose SIMPLE tasks no agent serves refuse the run before it starts.
//! Names written as `${...}` and `failureWorkflow` are looked up when the child is created
//! (they are checked when the parent starts when they can be); the child's own `run_started`
//! records what it runs.
//!
//! **Creating.** A child is created after its `child_run_started` is durable in the parent's
//! journal: its journal is written with `run_started` and `child_of` in one append. The id was
//! chosen in the parent's journal, and a child whose journal exists is never created again, so
//! nothing starts twice; after kill -9, `recover` creates what was decided but not created.
//!
//! **Driving.** The process that drives a parent drives its children (a task per child on
//! the same runtime, each holding its child's lock like any driver); `3ox run` and
//! `3ox resume` wait for all of them before they return. `3ox up` may take a child first: the
//! lock decides, and the parent only needs to know when the child ended.
//!
//! **Ends.** A child that ends writes a notice `<child>.child.yaml` into its parent's control
//! folder (`.3ox/control/<parent>/`), which wakes the parent's driver; the parent then reads
//! the child's journal (`poll`, also at every periodic rescan, in case a notice is lost,
//! and on resume, for a child that ended while the parent was down) and feeds
//! `Input::ChildEnded`. Terminating a parent terminates its running SUB_WORKFLOW children;
//! retrying it retries its failed child (see `engine/tasks/sub_workflow.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;

use super::runtime::{ChildDriver, StationRuntime};
use super::{Control, OrchestratorError, RunActor, RunOptions, io, progress, snapshot};
use crate::definition::{self, TaskDef, TaskKind, WorkflowDef};
use crate::engine::tasks::sub_workflow::{ChildKind, ChildLink, failure_workflow, is_input_chosen};
use crate::engine::{Change, Input, RunState, RunStatus};
use crate::journal::{Journal, Record};
use crate::station::Station;

/// The folders of a station where workflows are looked up by name, in order.
pub const WORKFLOW_FOLDERS: &[&str] = &["templates", "workflows"];

/// The suffix of a child's end notice in its parent's control folder.
pub const NOTICE_SUFFIX: &str = ".child.yaml";

// ---- looking workflows up ----

/// The workflow `name` (at `version`, else the highest) of the station.
pub fn find(station: &Station, name: &str, version: Option<u32>) -> Result<WorkflowDef, String> {
    // The name becomes part of a file name: only a plain name may.
    if let Some(problem) = crate::mailbox::name_problem(name) {
        return Err(format!(
            "`{}` is not usable as a workflow name: {problem}",
            name.escape_debug()
        ));
    }
    let mut found: Vec<(PathBuf, WorkflowDef)> = Vec::new();
    let mut broken = Vec::new();
    for folder in WORKFLOW_FOLDERS {
        let dir = station.root.join(folder);
        let mut candidates: Vec<PathBuf> = [".workflow.yaml", ".yaml", ".yml", ".json"]
            .iter()
            .map(|ext| dir.join(format!("{name}{ext}")))
            .filter(|p| p.is_file())
            .collect();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut others: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.to_string_lossy();
                    (n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".json"))
                        && !candidates.contains(p)
                })
                .collect();
            others.sort();
            candidates.extend(others);
        }
        for path in candidates {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let named = serde_yaml::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned));
            if named.as_deref() != Some(name) {
                continue;
            }
            match definition::parse_str(&text, &path) {
                Ok(def) => found.push((path, def)),
                Err(error) => {
                    broken.push(format!("{}: {}", station.relative(&path), problems(&error)))
                }
            }
        }
    }
    let matching = found
        .into_iter()
        .filter(|(_, d)| version.is_none_or(|v| d.version == v))
        .max_by_key(|(_, d)| d.version);
    if let Some((_, def)) = matching {
        return Ok(def);
    }
    let wanted = match version {
        Some(v) => format!("workflow `{name}` version {v}"),
        None => format!("workflow `{name}`"),
    };
    let mut message = format!(
        "no {wanted} in this station: put it in templates/{name}.yaml or workflows/{name}.yaml (its `name:` must be `{name}`), or give the definition inline (`workflowDefinition`)"
    );
    if !broken.is_empty() {
        message.push_str(&format!(
            "; these files name it but are not valid: {}",
            broken.join("; ")
        ));
    }
    Err(message)
}

/// The errors of a definition that does not load, each with its line and hint.
pub fn problems(error: &definition::LoadError) -> String {
    match error {
        definition::LoadError::Invalid { diagnostics, .. } => diagnostics
            .iter()
            .filter(|d| d.severity == definition::Severity::Error)
            .map(|d| {
                let hint = d
                    .hint
                    .as_deref()
                    .map_or_else(String::new, |h| format!(" ({h})"));
                format!("line {}: {}{hint}", d.line, d.message)
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// A literal (not `${...}`) text.
fn literal(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.contains("${") && !s.trim().is_empty())
}

fn version_of(value: Option<&Value>) -> Option<u32> {
    match value? {
        Value::Number(n) => n.as_u64().and_then(|v| u32::try_from(v).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Fixes every child definition `workflow` names (see the module doc), checks its failure
/// workflow, refuses cycles. `Err` is the reason the run cannot start.
pub fn prepare(station: &Station, workflow: &mut WorkflowDef) -> Result<(), String> {
    let mut path = vec![workflow.name.clone()];
    prepare_def(station, workflow, &mut path)
}

fn prepare_def(
    station: &Station,
    workflow: &mut WorkflowDef,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let fixed_failure_workflow = failure_workflow(workflow)
        .filter(|name| !is_input_chosen(name))
        .map(str::to_owned);
    if let Some(name) = fixed_failure_workflow {
        if path.contains(&name) {
            return Err(cycle(path, &name, "failureWorkflow"));
        }
        let mut def = find(station, &name, None)
            .map_err(|e| format!("`failureWorkflow` of `{}`: {e}", workflow.name))?;
        path.push(name);
        let checked = prepare_def(station, &mut def, path);
        path.pop();
        checked?;
    }
    let agents = station.agents().map_err(|e| e.to_string())?;
    prepare_tasks(station, &mut workflow.tasks, path, &agents)
}

fn cycle(path: &[String], name: &str, how: &str) -> String {
    let mut chain: Vec<&str> = path.iter().map(String::as_str).collect();
    chain.push(name);
    format!(
        "workflow `{name}` starts itself ({how}): {}; a workflow cannot run inside itself",
        chain.join(" -> ")
    )
}

fn prepare_tasks(
    station: &Station,
    tasks: &mut [TaskDef],
    path: &mut Vec<String>,
    agents: &crate::station::AgentDirectory,
) -> Result<(), String> {
    for task in tasks.iter_mut() {
        match task.kind() {
            TaskKind::SubWorkflow => {
                if let Some(Value::Object(param)) = task.extra.get_mut("subWorkflowParam") {
                    let label = format!("SUB_WORKFLOW `{}`", task.task_reference_name);
                    prepare_param(station, param, path, agents, &label, "SUB_WORKFLOW")?;
                }
            }
            TaskKind::StartWorkflow => {
                if let Some(Value::Object(param)) = task
                    .input_parameters
                    .get_mut("startWorkflow")
                    .filter(|v| v.is_object())
                {
                    let label = format!("START_WORKFLOW `{}`", task.task_reference_name);
                    prepare_param(station, param, path, agents, &label, "START_WORKFLOW")?;
                }
            }
            _ => {}
        }
        // Nested task lists (switch cases, fork branches, ...): fixed in place.
        for case in task.decision_cases.values_mut() {
            prepare_tasks(station, case, path, agents)?;
        }
        prepare_tasks(station, &mut task.default_case, path, agents)?;
        for branch in &mut task.fork_tasks {
            prepare_tasks(station, branch, path, agents)?;
        }
        if let Some(Value::Array(loop_over)) = task.extra.get_mut("loopOver") {
            let mut inner: Vec<TaskDef> = loop_over
                .iter()
                .filter_map(|t| serde_json::from_value(t.clone()).ok())
                .collect();
            if inner.len() == loop_over.len() {
                prepare_tasks(station, &mut inner, path, agents)?;
                *loop_over = inner
                    .iter()
                    .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
                    .collect();
            }
        }
    }
    Ok(())
}

fn prepare_param(
    station: &Station,
    param: &mut serde_json::Map<String, Value>,
    path: &mut Vec<String>,
    agents: &crate::station::AgentDirectory,
    label: &str,
    how: &str,
) -> Result<(), String> {
    let mut def = match param.get("workflowDefinition") {
        Some(inline @ Value::Object(_)) => {
            let text = serde_json::to_string_pretty(inline).unwrap_or_default();
            definition::parse_str(&text, Path::new("workflowDefinition")).map_err(|e| {
                format!(
                    "{label}: its inline workflowDefinition is not valid: {}",
                    problems(&e)
                )
            })?
        }
        _ => {
            let Some(name) = literal(param.get("name")) else {
                // Resolved when the child is created (a `${...}` name).
                return Ok(());
            };
            if path.iter().any(|p| p == name) {
                return Err(cycle(path, name, how));
            }
            let version = version_of(param.get("version"));
            find(station, name, version).map_err(|e| format!("{label}: {e}"))?
        }
    };
    if path.contains(&def.name) {
        return Err(cycle(path, &def.name.clone(), how));
    }
    path.push(def.name.clone());
    let nested = prepare_def(station, &mut def, path);
    path.pop();
    nested?;
    super::preflight(&def, agents).map_err(|problem| {
        format!(
            "{label} runs workflow `{}`, which cannot start here:\n{problem}",
            def.name
        )
    })?;
    param.insert(
        "workflowDefinition".into(),
        serde_json::to_value(&def).map_err(|e| e.to_string())?,
    );
    Ok(())
}

// ---- creating and driving ----

/// Waits for the children this process drives for `parent` (and theirs, which their own
/// drivers wait for). With `stop`, or as soon as `control` says stop (Ctrl-C), tells them to
/// stop driving (they stay RUNNING in their journals, for `3ox resume` or `3ox up`).
pub async fn wait_for_children(
    runtime: Option<&StationRuntime>,
    parent: &str,
    mut stop: bool,
    mut control: Option<&mut mpsc::Receiver<Control>>,
) {
    let Some(runtime) = runtime else {
        return;
    };
    loop {
        let batch = runtime.take_children(parent);
        if batch.is_empty() {
            return;
        }
        let mut pending = batch.into_iter().collect::<std::collections::VecDeque<_>>();
        while let Some(ChildDriver {
            stop: sender,
            task: mut handle,
            ..
        }) = pending.pop_front()
        {
            if stop {
                let _ = sender.send(Control::Stop).await;
                let _ = handle.await;
                continue;
            }
            let asked = match control.as_deref_mut() {
                Some(control) => tokio::select! {
                    _ = &mut handle => false,
                    _ = control.recv() => true,
                },
                None => {
                    let _ = (&mut handle).await;
                    false
                }
            };
            if asked {
                stop = true;
                let _ = sender.send(Control::Stop).await;
                let _ = handle.await;
            }
        }
    }
}

/// Drives `actor`'s run from `first` (see `RunActor::drive`), then waits for the children
/// this process drives for it: the whole tree. `control` stops both.
pub(super) async fn drive_tree(
    actor: &mut RunActor,
    first: Input,
    mut control: mpsc::Receiver<Control>,
) -> Result<super::RunOutcome, OrchestratorError> {
    let (tx, rx) = mpsc::channel(1);
    let mut tx = Some(tx);
    let outcome = {
        let drive = actor.drive(first, rx);
        tokio::pin!(drive);
        loop {
            tokio::select! {
                outcome = &mut drive => break outcome,
                message = control.recv(), if tx.is_some() => match (message, &tx) {
                    (Some(message), Some(forward)) => { let _ = forward.send(message).await; }
                    // The asker is gone: the driver sees its channel close, as without us.
                    _ => tx = None,
                },
            }
        }
    };
    let interrupted = outcome.as_ref().map_or(true, |o| o.interrupted) || tx.is_none();
    let runtime = actor.options.runtime.clone();
    wait_for_children(
        runtime.as_ref(),
        &actor.state.run_id,
        interrupted,
        Some(&mut control),
    )
    .await;
    if outcome.is_ok() && !interrupted {
        // The ends of the children that outlived the run (START_WORKFLOW, failureWorkflow)
        // go into its journal too, so `3ox status` shows how they ended.
        poll(actor)?;
    }
    outcome
}

/// Starts driving child `child` of `parent` in this process, when there is a runtime to do
/// it on (a command that applied an operation directly has none: `3ox resume` drives it).
fn spawn_driver(station: &Station, options: &RunOptions, parent: &str, child: &str) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Some(runtime) = options.runtime.clone() else {
        return;
    };
    if runtime.drives_child(parent, child) {
        return;
    }
    let agents = match station.agents() {
        Ok(agents) => agents,
        Err(error) => {
            tracing::warn!(%error, child, "cannot read the agents to drive a child run");
            return;
        }
    };
    let (tx, rx) = mpsc::channel(1);
    let station = station.clone();
    let options = RunOptions {
        progress: progress::Mode::Quiet,
        start_agents: false,
        ..options.clone()
    };
    let run_id = child.to_string();
    let task = handle.spawn(async move {
        match super::resume_run(&station, agents, &run_id, options, rx).await {
            Ok(_) | Err(OrchestratorError::Owned { .. }) => {}
            Err(error) => tracing::warn!(run = %run_id, %error, "a child run cannot be driven"),
        }
    });
    runtime.add_child(
        parent,
        ChildDriver {
            run_id: child.to_string(),
            stop: tx,
            task,
        },
    );
}

/// The definition a child decided in `change` runs.
fn child_definition(station: &Station, change: &Change) -> Result<WorkflowDef, String> {
    let Change::ChildRunStarted {
        name,
        workflow_version: version,
        workflow,
        ..
    } = change
    else {
        return Err("not a child run".into());
    };
    let mut def = match workflow {
        // Checked like a file (an inline definition may come from the run's input).
        Some(def) => {
            let text = serde_json::to_string_pretty(def).map_err(|e| e.to_string())?;
            definition::parse_str(&text, Path::new("workflowDefinition"))
                .map_err(|e| format!("the definition of `{name}` is not valid: {}", problems(&e)))?
        }
        None => find(station, name, *version)?,
    };
    prepare(station, &mut def)?;
    Ok(def)
}

/// Creates the child run `change` decided, unless its journal exists already. `Ok(true)`
/// when it was created now.
fn create_child(
    actor: &RunActor,
    change: &Change,
) -> Result<bool, Result<String, OrchestratorError>> {
    let Change::ChildRunStarted {
        child_run_id,
        kind,
        task_ref,
        input,
        depth,
        ..
    } = change
    else {
        return Ok(false);
    };
    let station = &actor.station;
    let path = child_journal(station, child_run_id);
    match crate::journal::read(&path) {
        Ok(contents) if contents.records.is_empty() => {
            // Created but empty (a crash between creating the file and the first append).
            std::fs::remove_file(&path)
                .map_err(io("remove an empty child journal"))
                .map_err(Err)?;
        }
        // Created already (readable or not): never twice.
        Ok(_) => return Ok(false),
        Err(_) if path.exists() => return Ok(false),
        Err(_) => {}
    }
    let workflow = child_definition(station, change).map_err(Ok)?;
    let agents = station.agents().map_err(|e| Err(e.into()))?;
    super::preflight(&workflow, &agents).map_err(Ok)?;
    let path = Journal::path_for(&station.runs_dir(), child_run_id);
    let mut journal =
        Journal::create(&path, actor.options.durability).map_err(|e| Err(e.into()))?;
    let changes = vec![
        Change::RunStarted {
            run_id: child_run_id.clone(),
            source: format!("{kind} of run {}", actor.state.run_id),
            workflow: Box::new(workflow),
            input: input.clone(),
        },
        Change::ChildOf {
            parent_run_id: actor.state.run_id.clone(),
            parent_task_ref: task_ref.clone(),
            kind: *kind,
            depth: *depth,
        },
    ];
    let records = journal
        .append(child_run_id, Utc::now(), changes)
        .map_err(|e| Err(e.into()))?;
    let state = RunState::replay(records.iter().map(|r| (&r.change, r.at)));
    if let Err(error) = snapshot::update(
        station,
        vec![(
            child_run_id.clone(),
            snapshot::RunSummary::of(&state, station).at_seq(journal.last_seq()),
        )],
    ) {
        tracing::warn!(%error, "cannot write the state snapshot");
    }
    Ok(true)
}

/// The journal of run `run_id`: in `.3ox/runs/`, or where `3ox gc` archived it
/// (`.3ox/archive/<yyyy-mm>/`), so a child collected while its parent was not driven is
/// neither created again nor waited for forever.
fn child_journal(station: &Station, run_id: &str) -> PathBuf {
    let live = Journal::path_for(&station.runs_dir(), run_id);
    if live.exists() {
        return live;
    }
    let archive = station.runtime_dir().join("archive");
    std::fs::read_dir(&archive)
        .into_iter()
        .flatten()
        .flatten()
        .map(|month| Journal::path_for(&month.path(), run_id))
        .find(|p| p.exists())
        .unwrap_or(live)
}

/// The `child_run_started` record of `child` in this run's journal.
fn decision(actor: &RunActor, child: &str) -> Option<Change> {
    let contents = crate::journal::read(actor.journal.path()).ok()?;
    contents.records.into_iter().rev().find_map(|r| match r.change {
        c @ Change::ChildRunStarted { .. }
            if matches!(&c, Change::ChildRunStarted { child_run_id, .. } if child_run_id == child) =>
        {
            Some(c)
        }
        _ => None,
    })
}

/// Creates (when needed) and drives child `change`; a child that cannot be created ends
/// FAILED in the parent's eyes, with the reason.
fn start_child(actor: &mut RunActor, change: &Change) -> Result<(), OrchestratorError> {
    let Change::ChildRunStarted { child_run_id, .. } = change else {
        return Ok(());
    };
    match create_child(actor, change) {
        Ok(_) => {
            spawn_driver(
                &actor.station,
                &actor.options,
                &actor.state.run_id,
                child_run_id,
            );
            Ok(())
        }
        Err(Ok(reason)) => {
            actor
                .progress
                .note(&format!("child run {child_run_id} cannot start: {reason}"));
            actor.step_all(vec![Input::ChildEnded {
                child_run_id: child_run_id.clone(),
                status: RunStatus::Failed,
                output: Value::Null,
                reason: Some(format!("the child run cannot start: {reason}")),
            }])
        }
        Err(Err(error)) => Err(error),
    }
}

/// Carries out the subflow side of journaled `records` (called after every commit).
pub(super) fn after_commit(
    actor: &mut RunActor,
    records: &[Record],
) -> Result<(), OrchestratorError> {
    for record in records {
        match &record.change {
            change @ Change::ChildRunStarted { .. } => start_child(actor, change)?,
            Change::ChildRunResumed {
                child_run_id,
                retry,
                ..
            } => {
                if *retry {
                    operate(actor, child_run_id, crate::engine::control::Action::Retry);
                }
                spawn_driver(
                    &actor.station,
                    &actor.options,
                    &actor.state.run_id,
                    child_run_id,
                );
            }
            // A parent that ends without its SUB_WORKFLOW children (terminated, failed in
            // another branch, timed out, or ended by a TERMINATE task) ends them too; so does
            // skipping the task that waits for one.
            Change::RunTerminated { .. }
            | Change::RunFailed { .. }
            | Change::RunTimedOut { .. }
            | Change::RunCompleted { .. }
            | Change::TaskSkipped { .. } => {
                let skipped = match &record.change {
                    Change::TaskSkipped { task_ref, .. } => Some(task_ref.as_str()),
                    _ => None,
                };
                let running: Vec<String> = running_children(&actor.state)
                    .filter(|c| c.kind == ChildKind::SubWorkflow)
                    .filter(|c| skipped.is_none() || c.task_ref.as_deref() == skipped)
                    .map(|c| c.run_id.clone())
                    .collect();
                for child in running {
                    operate(actor, &child, crate::engine::control::Action::Terminate);
                }
            }
            _ => {}
        }
        if matches!(
            record.change,
            Change::RunCompleted { .. }
                | Change::RunFailed { .. }
                | Change::RunTerminated { .. }
                | Change::RunTimedOut { .. }
        ) {
            notify_parent(actor);
        }
    }
    Ok(())
}

/// Asks child `child` to retry or terminate, as its parent (applied at once when nobody drives
/// it, else queued for its driver).
fn operate(actor: &RunActor, child: &str, action: crate::engine::control::Action) {
    let reason = match action {
        crate::engine::control::Action::Retry => "the parent run was retried".to_string(),
        _ => match &actor.state.status {
            RunStatus::Running => "its task in the parent run was skipped".to_string(),
            status => format!("the parent run ended ({status})"),
        },
    };
    let request = super::control::ControlRequest {
        version: super::control::CONTROL_VERSION,
        action,
        by: format!("run {}", actor.state.run_id),
        uid: None,
        reason: Some(reason),
        task: None,
        completion: None,
        at: Utc::now(),
    };
    if let Err(error) = super::control::send(&actor.station, child, &request, Duration::ZERO) {
        tracing::warn!(child, %error, "cannot pass an operation on to a child run");
    }
}

fn running_children(state: &RunState) -> impl Iterator<Item = &ChildLink> {
    state
        .children
        .values()
        .filter(|c| c.status == RunStatus::Running)
}

/// Tells this run's parent (if any) that it ended: a notice in the parent's control folder.
fn notify_parent(actor: &RunActor) {
    let Some(parent) = &actor.state.parent else {
        return;
    };
    let folder = super::control::dir(&actor.station, &parent.run_id);
    let notice = serde_json::json!({
        "version": 1,
        "kind": "child_ended",
        "child_run_id": actor.state.run_id,
        "status": actor.state.status,
    });
    let text = crate::mailbox::yaml::to_string(&notice).unwrap_or_default();
    let path = folder.join(format!("{}{NOTICE_SUFFIX}", actor.state.run_id));
    let written = std::fs::create_dir_all(&folder).and_then(|()| {
        crate::mailbox::atomic::write(&path, text.as_bytes(), actor.options.durability)
    });
    if let Err(error) = written {
        // The parent's periodic look at its children finds the end anyway.
        tracing::warn!(%error, "cannot leave a notice for the parent run");
    } else {
        super::control::ring(&actor.station, &parent.run_id);
    }
}

/// True for a child's end notice (not a control request).
pub fn is_notice(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(NOTICE_SUFFIX))
}

/// Reads the journals of this run's children that it believes running, and feeds the ends it
/// finds; clears the notices. A child whose journal is missing (decided, then a crash) is
/// created.
pub(super) fn poll(actor: &mut RunActor) -> Result<(), OrchestratorError> {
    let folder = super::control::dir(&actor.station, &actor.state.run_id);
    if let Ok(entries) = std::fs::read_dir(&folder) {
        for entry in entries.flatten() {
            if is_notice(&entry.path()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let running: Vec<String> = running_children(&actor.state)
        .map(|c| c.run_id.clone())
        .collect();
    let mut inputs = Vec::new();
    for child in running {
        let path = child_journal(&actor.station, &child);
        let contents = match crate::journal::read(&path) {
            Ok(contents) if !contents.records.is_empty() => contents,
            Err(_) if path.exists() => {
                // Unreadable (`3ox doctor` reports on it): the child's end cannot be known
                // from it, and it is not created again either.
                tracing::warn!(run = %child, "the journal of a child run cannot be read");
                continue;
            }
            _ => {
                if let Some(change) = decision(actor, &child) {
                    start_child(actor, &change)?;
                }
                continue;
            }
        };
        let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
        if state.status == RunStatus::Running {
            continue;
        }
        inputs.push(Input::ChildEnded {
            child_run_id: child,
            status: state.status,
            output: state.output.clone().unwrap_or(Value::Null),
            reason: state.failure.as_ref().map(|f| f.reason.clone()),
        });
    }
    if !inputs.is_empty() {
        actor.step_all(inputs)?;
    }
    Ok(())
}

/// After a restart: creates the children that were decided but not created, drives the
/// running ones, and notices those that ended while nobody drove this run.
pub(super) fn recover(actor: &mut RunActor) -> Result<(), OrchestratorError> {
    let running: Vec<String> = running_children(&actor.state)
        .map(|c| c.run_id.clone())
        .collect();
    for child in &running {
        let path = Journal::path_for(&actor.station.runs_dir(), child);
        let created = crate::journal::read(&path).is_ok_and(|c| !c.records.is_empty());
        if created {
            spawn_driver(&actor.station, &actor.options, &actor.state.run_id, child);
        }
    }
    poll(actor)
}

// ---- cycles, for `3ox validate` ----

/// The first way `workflow` starts itself, following the names it gives (looked up in
/// `station` when there is one; a name not found there ends the search, it is not an error
/// here): the reference of the task (or `failureWorkflow`) where it happens, and why.
pub fn find_cycle(station: Option<&Station>, workflow: &WorkflowDef) -> Option<(String, String)> {
    let mut path = vec![workflow.name.clone()];
    cycle_in(station, workflow, &mut path, None)
}

/// A workflow another one names: where (a task reference, or `failureWorkflow`), how, and
/// the definition when it is inline.
struct Named {
    site: String,
    name: String,
    inline: Option<WorkflowDef>,
    version: Option<u32>,
    how: &'static str,
}

fn named_in(tasks: &[TaskDef], out: &mut Vec<Named>) {
    for task in tasks {
        let (param, how) = match task.kind() {
            TaskKind::SubWorkflow => (task.extra.get("subWorkflowParam"), "SUB_WORKFLOW"),
            TaskKind::StartWorkflow => {
                (task.input_parameters.get("startWorkflow"), "START_WORKFLOW")
            }
            _ => (None, ""),
        };
        if let Some(Value::Object(param)) = param {
            let inline = param
                .get("workflowDefinition")
                .and_then(|d| serde_json::from_value::<WorkflowDef>(d.clone()).ok());
            let name = inline
                .as_ref()
                .map(|d| d.name.clone())
                .or_else(|| literal(param.get("name")).map(str::to_owned));
            if let Some(name) = name {
                out.push(Named {
                    site: task.task_reference_name.clone(),
                    name,
                    inline,
                    version: version_of(param.get("version")),
                    how,
                });
            }
        }
        let children: Vec<TaskDef> = task.children().cloned().collect();
        named_in(&children, out);
    }
}

fn cycle_in(
    station: Option<&Station>,
    workflow: &WorkflowDef,
    path: &mut Vec<String>,
    at: Option<&str>,
) -> Option<(String, String)> {
    let mut targets = Vec::new();
    if let Some(name) = failure_workflow(workflow).filter(|name| !is_input_chosen(name)) {
        targets.push(Named {
            site: "failureWorkflow".into(),
            name: name.to_string(),
            inline: None,
            version: None,
            how: "failureWorkflow",
        });
    }
    named_in(&workflow.tasks, &mut targets);
    for target in targets {
        let site = at.map_or_else(|| target.site.clone(), str::to_owned);
        if path.contains(&target.name) {
            return Some((site, cycle(path, &target.name, target.how)));
        }
        let def = target
            .inline
            .or_else(|| station.and_then(|s| find(s, &target.name, target.version).ok()));
        if let Some(def) = def {
            path.push(target.name);
            let found = cycle_in(station, &def, path, Some(&site));
            path.pop();
            if found.is_some() {
                return found;
            }
        }
    }
    None
}
