//! A run's page (`/runs/RUN`), a task's page (`/runs/RUN/tasks/TASK`) and the run's
//! operations (`POST /runs/RUN/operations/ACTION`).
//!
//! The run page shows the run's header (status, driver, times, input, output, failure, links
//! to its parent and child runs), its diagram coloured by task state (each node carries
//! `data-ref` and a `state-<STATUS>` class, recoloured live from the run's event stream;
//! drawn only up to [`MAX_DIAGRAM_NODES`] nodes), a page of its tasks ([`PER_PAGE`]) as a
//! table and as a timeline ([`super::timeline`]), its approvals and what people did to it.
//! The task page shows each attempt's input, output, reason and logs (the `logs` of the
//! agent's reply, read from the outbox's `done/`).
//!
//! The operations are those of `3ox pause`, `resume`, `retry`, `terminate` and `restart`,
//! sent through the same [`control::send`] as the CLI, recorded as by `web:<user>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{App, Loaded, Pager, pretty, took, when};
use crate::engine::control::Action;
use crate::engine::{Change, RunStatus};
use crate::orchestrator::control::{self, CONTROL_VERSION, ControlRequest, Outcome, Sent};
use crate::query;

/// Tasks a page (of the table and of the timeline).
pub const PER_PAGE: usize = 100;

/// Diagrams with more nodes than this are not drawn (the task table and timeline still are).
pub const MAX_DIAGRAM_NODES: usize = 300;

/// How long an operation waits for the run's driver to take it, as `--wait` of the CLI.
const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub page: Option<usize>,
    /// The outcome of an operation just done, to show once.
    pub done: Option<String>,
}

#[derive(Debug, Serialize)]
struct TaskRow {
    task_ref: String,
    type_name: String,
    status: String,
    attempt: u32,
    agent: Option<String>,
    reason: Option<String>,
    retry_at: Option<String>,
    waits_until: Option<String>,
    approver: Option<String>,
}

#[derive(Debug, Serialize)]
struct Link {
    run_id: String,
    task_ref: Option<String>,
    what: String,
    status: Option<String>,
}

#[derive(Debug, Serialize)]
struct ApprovalRow {
    task_ref: String,
    approver: String,
    requested: String,
    deadline: Option<String>,
    status: String,
    decided_by: Option<String>,
    /// The decision's comment and reason, from its journal record.
    comment: Option<String>,
    reason: Option<String>,
    closed: Option<String>,
}

#[derive(Debug, Serialize)]
struct OperationRow {
    at: String,
    event: String,
    by: String,
    reason: Option<String>,
    task_ref: Option<String>,
}

#[derive(Debug, Serialize)]
struct RunPage {
    run_id: String,
    workflow: String,
    version: u32,
    source: String,
    status: String,
    paused: bool,
    driver: Option<String>,
    started: Option<String>,
    ended: Option<String>,
    elapsed: String,
    retries: u32,
    input: String,
    output: Option<String>,
    failure: Option<String>,
    parent: Option<Link>,
    children: Vec<Link>,
    seq: u64,
    diagram: Option<String>,
    diagram_note: Option<String>,
    tasks: Vec<TaskRow>,
    pager: Pager,
    timeline: String,
    approvals: Vec<ApprovalRow>,
    operations: Vec<OperationRow>,
    actions: Vec<&'static str>,
    done: Option<String>,
}

fn not_found(app: &App, run: &str, why: &str) -> Response {
    app.message(StatusCode::NOT_FOUND, &format!("No run {run}"), why)
}

/// The run `run` names (an id or a unique prefix), loaded.
fn load(app: &App, run: &str) -> Result<(String, Arc<Loaded>), String> {
    let run_id =
        query::resolve(&app.station, Some(run)).map_err(|e| format!("{e}; {}", e.hint()))?;
    let loaded = app.journals.load(&app.station, &run_id)?;
    Ok((run_id, loaded))
}

/// `GET /runs/RUN`.
pub async fn page(
    State(app): State<Arc<App>>,
    Path(run): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let shown = app.clone();
    let built = super::blocking(move || {
        let (run_id, loaded) = load(&shown, &run)?;
        Ok::<_, String>(build(&shown, &run_id, &loaded, q))
    })
    .await;
    match built {
        Ok(page) => app.render("run.html", "runs", page),
        Err(why) => not_found(&app, "", &why),
    }
}

/// The operations that apply to a run as it stands.
fn actions(status: RunStatus, paused: bool) -> Vec<&'static str> {
    match (status, paused) {
        (RunStatus::Running, false) => vec!["pause", "terminate"],
        (RunStatus::Running, true) => vec!["resume", "terminate"],
        (RunStatus::Completed, _) => vec!["restart"],
        _ => vec!["retry", "restart"],
    }
}

fn build(app: &App, run_id: &str, loaded: &Loaded, q: PageQuery) -> RunPage {
    let now = Utc::now();
    let state = &loaded.state;
    let log = loaded.log();
    let driver = query::driver(&app.station.runs_dir(), run_id);
    let pager = Pager::new(state.tasks.len(), PER_PAGE, q.page);
    let page_tasks: Vec<_> = state
        .tasks
        .values()
        .skip(pager.from)
        .take(pager.to - pager.from)
        .collect();
    let refs: Vec<String> = page_tasks.iter().map(|t| t.task_ref.clone()).collect();
    let tasks = page_tasks
        .iter()
        .map(|t| TaskRow {
            task_ref: t.task_ref.clone(),
            type_name: t.type_name.clone(),
            status: t.status.to_string(),
            attempt: t.attempt,
            agent: t.agent.clone(),
            reason: t.reason.as_deref().map(|r| cut(r, 300)),
            retry_at: t.retry_at.map(when),
            waits_until: state
                .timers
                .waits
                .get(&t.task_ref)
                .copied()
                .flatten()
                .filter(|_| t.status.is_in_flight())
                .map(when),
            approver: state
                .approvals
                .values()
                .rev()
                .find(|a| a.task_ref == t.task_ref)
                .map(|a| a.approver.clone()),
        })
        .collect();
    let (diagram, diagram_note) = match diagram_size(&state.workflow.tasks) {
        n if n > MAX_DIAGRAM_NODES => (
            None,
            Some(format!(
                "The diagram has {n} nodes, more than the {MAX_DIAGRAM_NODES} drawn here; see the tasks below or `3ox graph {}`.",
                state.source
            )),
        ),
        _ => (
            Some(diagram_svg(crate::graph::overlay(
                &state.workflow,
                state,
                crate::graph::overlay::DEFAULT_MAX_DYNAMIC,
            ))),
            None,
        ),
    };
    // What each decision said, from its record.
    let decisions: HashMap<&str, (&Option<String>, &Option<String>)> = loaded
        .records
        .iter()
        .filter_map(|r| match &r.change {
            Change::ApprovalDecided {
                request_id,
                comment,
                reason,
                ..
            } => Some((request_id.as_str(), (comment, reason))),
            _ => None,
        })
        .collect();
    RunPage {
        run_id: run_id.to_string(),
        workflow: state.workflow.name.clone(),
        version: state.workflow.version,
        source: state.source.clone(),
        status: state.status.to_string(),
        paused: state.paused,
        driver: driver
            .held
            .then(|| driver.holder.unwrap_or_else(|| "a process".to_string())),
        started: state.started_at.map(when),
        ended: state.ended_at.map(when),
        elapsed: state
            .started_at
            .map(|s| took((state.ended_at.unwrap_or(now) - s).num_milliseconds()))
            .unwrap_or_default(),
        retries: state.retries,
        input: pretty(&state.input),
        output: state.output.as_ref().map(pretty),
        failure: state.failure.as_ref().map(|f| match &f.task_ref {
            Some(t) => format!("task {t}: {}", f.reason),
            None => f.reason.clone(),
        }),
        parent: state.parent.as_ref().map(|p| Link {
            run_id: p.run_id.clone(),
            task_ref: p.task_ref.clone(),
            what: format!("{:?}", p.kind),
            status: None,
        }),
        children: state
            .children
            .values()
            .map(|c| Link {
                run_id: c.run_id.clone(),
                task_ref: c.task_ref.clone(),
                what: c.name.clone(),
                status: Some(c.status.to_string()),
            })
            .collect(),
        seq: loaded.last_seq(),
        diagram,
        diagram_note,
        tasks,
        timeline: super::timeline::render(log, state, &loaded.records, &refs, now),
        pager,
        approvals: state
            .approvals
            .values()
            .map(|a| (a, decisions.get(a.request_id.as_str())))
            .map(|(a, said)| ApprovalRow {
                task_ref: a.task_ref.clone(),
                approver: a.approver.clone(),
                requested: when(a.requested_at),
                deadline: a.deadline.map(when),
                status: format!("{:?}", a.status).to_lowercase(),
                decided_by: a.decided_by.clone(),
                comment: said.and_then(|(c, _)| (*c).clone()),
                reason: said.and_then(|(_, r)| (*r).clone()),
                closed: a.closed_at.map(when),
            })
            .collect(),
        operations: log
            .operations
            .iter()
            .map(|o| OperationRow {
                at: when(o.at.at),
                event: o.event.clone(),
                by: o.by.clone(),
                reason: o.reason.clone(),
                task_ref: o.task_ref.clone(),
            })
            .collect(),
        actions: actions(state.status, state.paused),
        done: q.done,
    }
}

/// How many nodes the diagram of `tasks` has (a task and the tasks nested in it), counted
/// without laying it out: drawing is not linear in the size, so a large one is not drawn.
pub fn diagram_size(tasks: &[crate::definition::TaskDef]) -> usize {
    tasks
        .iter()
        .map(|t| {
            1 + t.fork_tasks.iter().map(|b| diagram_size(b)).sum::<usize>()
                + t.decision_cases
                    .values()
                    .map(|c| diagram_size(c))
                    .sum::<usize>()
                + diagram_size(&t.default_case)
                + diagram_size(&t.loop_over)
        })
        .sum()
}

/// The SVG of `graph`, laid out: each node group carries `data-ref="<taskRef>"` and, for a
/// run's graph, the class `state-<STATUS>` that the page's script replaces as records arrive.
pub fn diagram_svg(graph: crate::graph::Graph) -> String {
    crate::graph::svg::render(&crate::graph::layout(graph))
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[derive(Debug, Serialize)]
struct AttemptView {
    attempt: u32,
    task_id: String,
    agent: String,
    scheduled: String,
    ended: Option<String>,
    took: Option<String>,
    outcome: String,
    reason: Option<String>,
    retry_at: Option<String>,
    input: Option<String>,
    output: Option<String>,
    logs: Vec<String>,
    heartbeats: Vec<String>,
}

#[derive(Debug, Serialize)]
struct TaskPage {
    run_id: String,
    task_ref: String,
    type_name: String,
    status: String,
    reason: Option<String>,
    input: String,
    output: String,
    attempts: Vec<AttemptView>,
    decided: Option<String>,
}

/// `GET /runs/RUN/tasks/TASK`.
pub async fn task_page(
    State(app): State<Arc<App>>,
    Path((run, task)): Path<(String, String)>,
) -> Response {
    let shown = app.clone();
    let built = super::blocking(move || {
        let (run_id, loaded) = load(&shown, &run)?;
        task_view(&shown, &run_id, &loaded, &task)
    })
    .await;
    match built {
        Ok(page) => app.render("task.html", "runs", page),
        Err(why) => app.message(StatusCode::NOT_FOUND, "No such task", &why),
    }
}

fn task_view(app: &App, run_id: &str, loaded: &Loaded, task_ref: &str) -> Result<TaskPage, String> {
    let state = &loaded.state;
    let Some(task) = state.tasks.get(task_ref) else {
        return Err(format!(
            "run {run_id} has no task `{task_ref}` (not started, or not one of its tasks)"
        ));
    };
    // Each attempt's input and output, by task id, from its records.
    let mut inputs: HashMap<&str, &Value> = HashMap::new();
    let mut outputs: HashMap<&str, &Value> = HashMap::new();
    for r in &loaded.records {
        match &r.change {
            Change::TaskScheduled {
                task_ref: t,
                task_id,
                input,
                ..
            }
            | Change::HttpCallStarted {
                task_ref: t,
                task_id,
                input,
                ..
            } if t == task_ref => {
                inputs.insert(task_id, input);
            }
            Change::TaskCompleted {
                task_ref: t,
                task_id: Some(task_id),
                output,
                ..
            } if t == task_ref => {
                outputs.insert(task_id, output);
            }
            _ => {}
        }
    }
    let log = loaded.log();
    let entry = log.tasks.iter().find(|t| t.task_ref == task_ref);
    let attempts = entry
        .map(|t| {
            t.attempts
                .iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    task_id: a.task_id.clone(),
                    agent: a.agent.clone(),
                    scheduled: when(a.scheduled.at),
                    ended: a.ended.map(|e| when(e.at)),
                    took: a.took_ms.map(took),
                    outcome: a.outcome.to_string(),
                    reason: a.reason.clone(),
                    retry_at: a.retry_at.map(|r| when(r.at)),
                    input: inputs.get(a.task_id.as_str()).map(|v| pretty(v)),
                    output: outputs.get(a.task_id.as_str()).map(|v| pretty(v)),
                    logs: reply_logs(app, &a.agent, &a.task_id),
                    heartbeats: a
                        .heartbeats
                        .iter()
                        .map(|h| {
                            format!(
                                "{}{}",
                                when(h.at.at),
                                h.note
                                    .as_deref()
                                    .map(|n| format!(": {n}"))
                                    .unwrap_or_default()
                            )
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(TaskPage {
        run_id: run_id.to_string(),
        task_ref: task_ref.to_string(),
        type_name: task.type_name.clone(),
        status: task.status.to_string(),
        reason: task.reason.clone(),
        input: pretty(&task.input),
        output: pretty(&task.output),
        attempts,
        decided: entry.and_then(|t| t.decided.as_ref()).map(|d| {
            format!(
                "{} at {}{}",
                d.outcome,
                when(d.at.at),
                d.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )
        }),
    })
}

/// The `logs` of the reply that settled attempt `task_id` (handled replies are in the
/// outbox's `done/`; a reply not applied yet is in the outbox).
fn reply_logs(app: &App, agent: &str, task_id: &str) -> Vec<String> {
    // `(http)`: made by 3ox itself, no reply file.
    if agent.starts_with('(') {
        return Vec::new();
    }
    let outbox = app.station.outbox(agent);
    let name = format!("{task_id}.reply.yaml");
    [
        outbox.join(crate::mailbox::DONE).join(&name),
        outbox.join(&name),
    ]
    .iter()
    .find_map(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        crate::mailbox::reply::Reply::parse(&text).ok()
    })
    .map(|reply| reply.logs)
    .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub struct OperationForm {
    #[serde(default)]
    pub reason: String,
}

/// `POST /runs/RUN/operations/ACTION`: pause, resume, retry, terminate or restart, as the CLI
/// does it; back to the run page with the outcome.
pub async fn operate(
    State(app): State<Arc<App>>,
    Path((run, action)): Path<(String, String)>,
    Form(form): Form<OperationForm>,
) -> Response {
    let action = match action.as_str() {
        "pause" => Action::Pause,
        "resume" => Action::Resume,
        "retry" => Action::Retry,
        "terminate" => Action::Terminate,
        "restart" => Action::Restart,
        _ => {
            return app.message(
                StatusCode::NOT_FOUND,
                "No such operation",
                "The operations are pause, resume, retry, terminate and restart.",
            );
        }
    };
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    let worker = app.clone();
    let outcome = super::blocking(move || -> Result<(String, String), String> {
        let run_id = query::resolve(&worker.station, Some(&run)).map_err(|e| e.to_string())?;
        let request = ControlRequest {
            version: CONTROL_VERSION,
            action: action.clone(),
            by: worker.who(),
            uid: crate::cli::control::uid(),
            reason,
            task: None,
            completion: None,
            at: Utc::now(),
        };
        let said = match control::send(&worker.station, &run_id, &request, WAIT)
            .map_err(|e| e.to_string())?
        {
            Sent::Queued { .. } => format!(
                "{action}: queued; the run's driver did not take it within {}s and will apply it later",
                WAIT.as_secs()
            ),
            Sent::Done { result, .. } => match result.outcome {
                Outcome::Applied => format!(
                    "{action} applied by {}{}",
                    request.by,
                    result
                        .status
                        .map(|s| format!(" (now {s})"))
                        .unwrap_or_default()
                ),
                Outcome::Refused => format!(
                    "{action} refused: {}{}",
                    result.reason.as_deref().unwrap_or("it does not apply"),
                    result
                        .hint
                        .as_deref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default()
                ),
            },
        };
        Ok((run_id, said))
    })
    .await;
    match outcome {
        Ok((run_id, said)) => {
            let to = format!(
                "/runs/{run_id}?{}",
                serde_urlencoded::to_string([("done", said.as_str())]).unwrap_or_default()
            );
            Redirect::to(&to).into_response()
        }
        Err(why) => app.message(StatusCode::BAD_REQUEST, "Not done", &why),
    }
}
