//! The simulated run: the pure engine driven in memory with mocked answers and a fake clock.
//!
//! The loop is an event queue of two kinds of events: the mocked answers waiting to be given
//! (each due at the time its task was scheduled plus the outcome's `after`), and the run's
//! own timers ([`RunState::next_wakeup`]: retries, approval deadlines, and whatever timers
//! other task types add there). It always takes the earliest, moves the simulated clock to
//! its time and feeds it to [`engine::step`]; so a retry an hour away costs no real time.
//! The run's changes are recorded with the simulated time they happened at.
//!
//! Everything the engine runs itself (SWITCH, FORK/JOIN, dynamic forks, and every system task
//! that needs nothing from outside) runs for real. What a real run hands to the outside
//! world is answered from the mocks ([`Simulation::answer`]): a `task_scheduled` (SIMPLE and
//! every agent-served type) by a mocked reply, an `approval_requested` (HUMAN) by a mocked
//! approval. Both go through the engine's own checks (task id, token, attempt) exactly like
//! real files.
//!
//! The agent directory is fake: one agent, `mock`, plus every agent a task names, each
//! serving every task name and type the run knows of, with no concurrency limit. It grows as
//! the run reveals new tasks (a dynamic fork's children): a step that met a task no agent
//! served is taken again, from the same state, with the grown directory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::mocks::{MockFile, MockStatus, Outcome};
use crate::definition::WorkflowDef;
use crate::engine::{self, Change, Ctx, Input, RunState, RunStatus};
use crate::mailbox::approval::{APPROVAL_KIND, APPROVAL_VERSION, Approval, Decision};
use crate::mailbox::reply::{REPLY_VERSION, Reply, ReplyStatus};
use crate::station::{AgentConfig, AgentDirectory};

/// The agent that serves every task in a simulated run.
pub const MOCK_AGENT: &str = "mock";
/// The run id of a simulated run.
pub const TEST_RUN_ID: &str = "test";
/// A simulated run that has made this many changes without ending is stopped (see
/// [`Simulation::limit`]).
pub const MAX_CHANGES: usize = 100_000;
/// Concurrency of the fake agents: in a simulation every task may be in flight at once.
const UNLIMITED: usize = 1_000_000;

/// A simulated run, finished (or stuck).
#[derive(Debug, Clone)]
pub struct TestRun {
    /// The run's final state.
    pub state: RunState,
    /// When the simulated clock started.
    pub started_at: DateTime<Utc>,
    /// Every change in order, with the simulated time it happened at.
    pub events: Vec<(Change, DateTime<Utc>)>,
    /// Why the run did not end, when it did not: it waits for something no mock or timer
    /// gives, or it went on past [`MAX_CHANGES`].
    pub stuck: Option<String>,
    /// Keys under `tasks:` that no task used (a typo, or a path not taken).
    pub unused_mocks: Vec<String>,
    /// A mock that did not fit stopped the run here (the events show the path up to it).
    pub error: Option<MockError>,
}

impl TestRun {
    /// Simulated time from the start to the last change.
    pub fn elapsed(&self) -> chrono::Duration {
        self.events
            .last()
            .map_or(chrono::Duration::zero(), |(_, at)| *at - self.started_at)
    }
}

/// A mock that does not fit the run: the run cannot go on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MockError {
    #[error(
        "task `{task_ref}` has no mock; add one under `tasks:` in {file} (by reference or by task name), or give a `default:`"
    )]
    Missing { task_ref: String, file: String },
    #[error(
        "task `{task_ref}` is a HUMAN task: its mock `{key}` needs `decision: approve` or `decision: reject`"
    )]
    NoDecision { task_ref: String, key: String },
    #[error(
        "task `{task_ref}` ({type_name}) is answered by an agent, but its mock `{key}` gives a `decision`; give `output` or `status`"
    )]
    UnexpectedDecision {
        task_ref: String,
        type_name: String,
        key: String,
    },
}

/// A mocked answer waiting for its time.
struct Pending {
    due: DateTime<Utc>,
    seq: u64,
    input: Input,
}

/// A run being simulated.
pub struct Simulation<'m> {
    mocks: &'m MockFile,
    state: RunState,
    agents: AgentDirectory,
    now: DateTime<Utc>,
    ids: u64,
    seq: u64,
    /// How many outcomes of each mock key were used.
    used: HashMap<String, usize>,
    pending: Vec<Pending>,
    events: Vec<(Change, DateTime<Utc>)>,
    max_changes: usize,
}

/// Runs `workflow` with `mocks` to its end (or until it is stuck).
pub fn simulate(
    workflow: Arc<WorkflowDef>,
    source: &str,
    mocks: &MockFile,
) -> Result<TestRun, MockError> {
    let run = Simulation::new(mocks).run(workflow, source);
    match run.error {
        Some(error) => Err(error),
        None => Ok(run),
    }
}

impl<'m> Simulation<'m> {
    pub fn new(mocks: &'m MockFile) -> Simulation<'m> {
        Simulation {
            mocks,
            state: RunState::default(),
            agents: AgentDirectory::default(),
            now: mocks.clock,
            ids: 0,
            seq: 0,
            used: HashMap::new(),
            pending: Vec::new(),
            events: Vec::new(),
            max_changes: MAX_CHANGES,
        }
    }

    /// Stops a run that has made `max_changes` changes without ending (default
    /// [`MAX_CHANGES`]).
    pub fn limit(mut self, max_changes: usize) -> Self {
        self.max_changes = max_changes;
        self
    }

    /// Starts the run and drives it until it ends, nothing more can happen, or a mock does
    /// not fit (then [`TestRun::error`] says which, and the events show the path so far).
    pub fn run(mut self, workflow: Arc<WorkflowDef>, source: &str) -> TestRun {
        let started_at = self.now;
        let start = Input::Start {
            run_id: TEST_RUN_ID.to_string(),
            source: source.to_string(),
            workflow,
            input: self.mocks.input.clone(),
        };
        let (stuck, error) = match self.drive(start) {
            Ok(stuck) => (stuck, None),
            Err(error) => (None, Some(error)),
        };
        let unused_mocks = self
            .mocks
            .keys()
            .filter(|k| !self.used.contains_key(*k))
            .map(str::to_owned)
            .collect();
        TestRun {
            state: self.state,
            started_at,
            events: self.events,
            stuck,
            unused_mocks,
            error,
        }
    }

    /// Feeds `start` and then every answer and timer in time order; returns why the run is
    /// stuck, if it is.
    fn drive(&mut self, start: Input) -> Result<Option<String>, MockError> {
        let started_at = self.now;
        self.feed(start)?;
        let stuck = loop {
            if self.state.status != RunStatus::Running {
                break None;
            }
            if self.events.len() >= self.max_changes {
                break Some(format!(
                    "the run did not end after {} changes (a loop that never ends, or a task retried forever?)",
                    self.events.len()
                ));
            }
            let answer = self
                .pending
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| (p.due, p.seq))
                .map(|(i, p)| (i, p.due));
            let timer = self.state.next_wakeup();
            // An answer due no later than the next timer goes first.
            let answer = answer.filter(|(_, due)| timer.is_none_or(|t| *due <= t));
            match (answer, timer) {
                (Some((i, due)), _) => {
                    let pending = self.pending.remove(i);
                    self.now = self.now.max(due);
                    self.feed(pending.input)?;
                }
                (_, Some(at)) => {
                    let before = self.now;
                    self.now = self.now.max(at);
                    let changed = self.feed(Input::Tick)?;
                    if changed == 0 && at <= before {
                        break Some(format!(
                            "a timer was due at +{}s but the engine did nothing ({})",
                            (at - started_at).num_seconds(),
                            self.waiting_on()
                        ));
                    }
                }
                (None, None) => break Some(self.waiting_on()),
            }
        };
        Ok(stuck)
    }

    /// What the run still waits for, when nothing will come.
    fn waiting_on(&self) -> String {
        let open: Vec<String> = self
            .state
            .tasks
            .values()
            .filter(|t| !t.status.is_done() && !t.status.is_failed())
            .map(|t| format!("`{}` ({}, {})", t.task_ref, t.type_name, t.status))
            .collect();
        if self.state.paused {
            "the run is paused".to_string()
        } else if open.is_empty() {
            "the run waits, but no task is open and no timer is set".to_string()
        } else {
            format!(
                "the run waits for {}, and no mock answers it (3ox test mocks task messages and approval requests)",
                open.join(", ")
            )
        }
    }

    /// Steps the engine with `input` (growing the fake directory as needed), records the
    /// changes and queues the mocked answers they call for. Returns how many changes there
    /// were.
    fn feed(&mut self, input: Input) -> Result<usize, MockError> {
        let ids = self.ids;
        let changes = loop {
            let changes = self.step(input.clone());
            if self.cover() {
                // Take the step again from the state before it: the recorded changes
                // replayed, as a journal is after a crash.
                self.state = RunState::replay(self.events.iter().map(|(c, at)| (c, *at)));
                self.ids = ids;
                continue;
            }
            break changes;
        };
        let count = changes.len();
        let mut result = Ok(count);
        for change in changes {
            if result.is_ok() {
                result = self.answer(&change).map(|()| count);
            }
            self.events.push((change, self.now));
        }
        result
    }

    fn step(&mut self, input: Input) -> Vec<Change> {
        let mut counter = self.ids;
        let now = self.now;
        let mut new_id = || {
            counter += 1;
            let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
            ulid::Ulid::from_parts(ms, u128::from(counter).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        };
        let mut ctx = Ctx {
            now,
            agents: &self.agents,
            new_id: &mut new_id,
        };
        let changes = engine::step(&mut self.state, input, &mut ctx);
        self.ids = counter;
        changes
    }

    /// Makes the fake directory serve every task the run knows; true when it had to grow.
    fn cover(&mut self) -> bool {
        let mut names = BTreeSet::new();
        let mut agents = BTreeSet::from([MOCK_AGENT.to_string()]);
        for def in self.state.defs.values() {
            names.insert(def.name.clone());
            names.insert(def.type_name.clone());
            if let Some(agent) = &def.agent {
                agents.insert(agent.clone());
            }
        }
        let served = |agent: &String| {
            self.agents
                .get(agent)
                .is_some_and(|a| names.iter().all(|n| a.capabilities.contains(n)))
        };
        if agents.iter().all(served) {
            return false;
        }
        let capabilities: Vec<String> = names.into_iter().collect();
        self.agents.agents = agents
            .into_iter()
            .map(|name| {
                let config = AgentConfig {
                    version: 1,
                    description: Some("3ox test: serves every task with its mock".to_string()),
                    capabilities: capabilities.clone(),
                    concurrency: UNLIMITED,
                    command: None,
                };
                (name, config)
            })
            .collect();
        true
    }

    /// Queues the mocked answer to `change`, when it is something a real run would wait on
    /// the outside world for.
    ///
    /// **Extension point.** A change that, in a real run, the orchestrator's `carry_out` hands
    /// to the outside world and whose result comes back as an [`Input`] (an HTTP call, a
    /// child run of SUB_WORKFLOW) gets an arm here: take the task's mocked [`Outcome`] with
    /// [`Simulation::outcome`] and [`Simulation::queue`] the `Input` that `carry_out` would
    /// feed back, built from it. Changes without an arm need no answer (the engine decides
    /// them itself); if a run waits on one anyway, it ends "stuck" with the task named.
    pub fn answer(&mut self, change: &Change) -> Result<(), MockError> {
        match change {
            Change::TaskScheduled {
                task_ref,
                task_id,
                agent,
                token,
                input,
                ..
            } => {
                let (key, outcome) = self.outcome(task_ref)?;
                if outcome.decision.is_some() {
                    let type_name = self
                        .state
                        .tasks
                        .get(task_ref)
                        .map_or_else(|| "SIMPLE".to_string(), |t| t.type_name.clone());
                    return Err(MockError::UnexpectedDecision {
                        task_ref: task_ref.clone(),
                        type_name,
                        key,
                    });
                }
                let status = match outcome.status.unwrap_or(MockStatus::Completed) {
                    MockStatus::Completed => ReplyStatus::Completed,
                    MockStatus::Failed => ReplyStatus::Failed,
                    MockStatus::FailedWithTerminalError => ReplyStatus::FailedWithTerminalError,
                };
                let reason = outcome.reason.clone().or_else(|| {
                    (status != ReplyStatus::Completed).then(|| format!("mock `{key}` failed"))
                });
                let reply = Reply {
                    version: REPLY_VERSION,
                    task_id: task_id.clone(),
                    status,
                    output: match &outcome.output {
                        Some(output) => crate::expr::resolve(
                            output,
                            &MockScope {
                                input,
                                state: &self.state,
                            },
                        ),
                        None => Value::Object(Default::default()),
                    },
                    reason,
                    run_id: None,
                    token: Some(token.clone()),
                    logs: Vec::new(),
                };
                let input = Input::Reply {
                    agent: agent.clone(),
                    file: format!("{task_id}.mock.yaml"),
                    reply,
                };
                self.queue(&outcome, input);
            }
            Change::ApprovalRequested {
                task_ref,
                request_id,
                token,
                approver,
                ..
            } => {
                let (key, outcome) = self.outcome(task_ref)?;
                let Some(decision) = outcome.decision else {
                    return Err(MockError::NoDecision {
                        task_ref: task_ref.clone(),
                        key,
                    });
                };
                let decision = Decision::from(decision);
                let reason = outcome.reason.clone().or_else(|| {
                    (decision == Decision::Reject).then(|| format!("mock `{key}` rejected it"))
                });
                let approval = Approval {
                    version: APPROVAL_VERSION,
                    kind: APPROVAL_KIND.to_string(),
                    request_id: request_id.clone(),
                    token: Some(token.clone()),
                    decision,
                    by: outcome.by.clone(),
                    comment: outcome.comment.clone(),
                    reason,
                    run_id: None,
                    signature: None,
                };
                let input = Input::Approval {
                    agent: approver.clone(),
                    file: format!("{request_id}.mock.yaml"),
                    approval,
                };
                self.queue(&outcome, input);
            }
            // An HTTP call: the mock's output is the response (`{response: {statusCode, body,
            // headers}}` as Conductor reports it, or just the body); a failure is a call that
            // could not be made (retried by the task's policy), a terminal one a bad request.
            Change::HttpCallStarted {
                task_ref,
                task_id,
                input,
                ..
            } => {
                let (key, outcome) = self.outcome(task_ref)?;
                let reason = || {
                    outcome
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("mock `{key}` failed"))
                };
                let result = match outcome.status.unwrap_or(MockStatus::Completed) {
                    MockStatus::Completed => {
                        let output = match &outcome.output {
                            Some(output) => crate::expr::resolve(
                                output,
                                &MockScope {
                                    input,
                                    state: &self.state,
                                },
                            ),
                            None => Value::Null,
                        };
                        engine::tasks::http::HttpOutcome::Response(mocked_response(output))
                    }
                    MockStatus::Failed => engine::tasks::http::HttpOutcome::Error(reason()),
                    MockStatus::FailedWithTerminalError => {
                        engine::tasks::http::HttpOutcome::Invalid(reason())
                    }
                };
                let input = Input::HttpResult {
                    task_id: task_id.clone(),
                    outcome: result,
                };
                self.queue(&outcome, input);
            }
            // A SUB_WORKFLOW child: mocked as a whole by the SUB_WORKFLOW task's reference
            // (its output is the child's output; a failure fails the child).
            Change::ChildRunStarted {
                child_run_id,
                kind: engine::tasks::sub_workflow::ChildKind::SubWorkflow,
                task_ref: Some(task_ref),
                input,
                ..
            } => {
                let (key, outcome) = self.outcome(task_ref)?;
                let completed =
                    outcome.status.unwrap_or(MockStatus::Completed) == MockStatus::Completed;
                let output = match (&outcome.output, completed) {
                    (Some(output), true) => crate::expr::resolve(
                        output,
                        &MockScope {
                            input,
                            state: &self.state,
                        },
                    ),
                    (None, true) => Value::Object(Default::default()),
                    (_, false) => Value::Null,
                };
                let input = Input::ChildEnded {
                    child_run_id: child_run_id.clone(),
                    status: if completed {
                        RunStatus::Completed
                    } else {
                        RunStatus::Failed
                    },
                    output,
                    reason: (!completed).then(|| {
                        outcome
                            .reason
                            .clone()
                            .unwrap_or_else(|| format!("mock `{key}` failed"))
                    }),
                };
                self.queue(&outcome, input);
            }
            // Extension point: arms for changes other task types add (see above).
            _ => {}
        }
        Ok(())
    }

    /// Queues `input` to be given `outcome.after` from now.
    pub fn queue(&mut self, outcome: &Outcome, input: Input) {
        let after = outcome
            .after
            .and_then(|d| chrono::Duration::from_std(d.0).ok())
            .unwrap_or_else(chrono::Duration::zero);
        self.seq += 1;
        self.pending.push(Pending {
            due: self.now + after,
            seq: self.seq,
            input,
        });
    }

    /// The next mocked outcome for `task_ref`: by reference, by reference without a loop
    /// suffix, by task name, else the default. Returns the key used and the outcome.
    pub fn outcome(&mut self, task_ref: &str) -> Result<(String, Outcome), MockError> {
        let name = self.state.def(task_ref).map(|d| d.name.clone());
        let candidates = [Some(task_ref), without_iteration(task_ref), name.as_deref()];
        for key in candidates.into_iter().flatten() {
            if let Some(list) = self.mocks.tasks.get(key)
                && let Some(last) = list.len().checked_sub(1)
            {
                let used = self.used.entry(key.to_string()).or_default();
                let outcome = list[(*used).min(last)].clone();
                *used += 1;
                return Ok((key.to_string(), outcome));
            }
        }
        match &self.mocks.default {
            Some(outcome) => Ok(("default".to_string(), outcome.clone())),
            None => Err(MockError::Missing {
                task_ref: task_ref.to_string(),
                file: if self.mocks.file.is_empty() {
                    "the mocks file".to_string()
                } else {
                    self.mocks.file.clone()
                },
            }),
        }
    }
}

/// The response of a mocked HTTP call: the mock's `response` (Conductor's output form), or
/// the whole output as the body; status 200 unless it says otherwise.
fn mocked_response(output: Value) -> engine::tasks::http::HttpResponse {
    let response = match output.get("response") {
        Some(response) if response.is_object() => response.clone(),
        _ => serde_json::json!({ "body": output }),
    };
    let status_code = response
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
        .unwrap_or(200);
    let headers = response
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let values = match v {
                        Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                            .collect(),
                        Value::String(text) => vec![text.clone()],
                        other => vec![other.to_string()],
                    };
                    (k.to_ascii_lowercase(), values)
                })
                .collect()
        })
        .unwrap_or_default();
    engine::tasks::http::HttpResponse {
        status_code,
        reason_phrase: response
            .get("reasonPhrase")
            .and_then(Value::as_str)
            .unwrap_or(if status_code < 400 { "OK" } else { "Error" })
            .to_string(),
        headers,
        body: response.get("body").cloned().unwrap_or(Value::Null),
    }
}

/// What `${...}` in a mocked output may name: `input` (the task's own input, as scheduled),
/// `workflow` and every task of the run, as in `inputParameters`.
struct MockScope<'a> {
    input: &'a Value,
    state: &'a RunState,
}

impl crate::expr::Scope for MockScope<'_> {
    fn root(&self, name: &str) -> Option<Value> {
        if name == "input" {
            return Some(self.input.clone());
        }
        crate::expr::Scope::root(self.state, name)
    }
}

/// `check__2` -> `check`: the reference a loop iteration's task was written with.
pub fn without_iteration(task_ref: &str) -> Option<&str> {
    let (base, n) = task_ref.rsplit_once("__")?;
    (!base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TaskStatus;
    use serde_json::json;

    fn workflow(yaml: &str) -> Arc<WorkflowDef> {
        Arc::new(
            crate::definition::parse_str(yaml, std::path::Path::new("flow.yaml"))
                .unwrap_or_else(|e| panic!("{e:?}")),
        )
    }

    fn mocks(yaml: &str) -> MockFile {
        MockFile::parse(yaml, "mocks.yaml").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn run(flow: &str, mock_yaml: &str) -> TestRun {
        simulate(workflow(flow), "flow.yaml", &mocks(mock_yaml)).expect("the simulation runs")
    }

    /// The simulated seconds since the start at which each change named `event` happened.
    fn times(run: &TestRun, pick: impl Fn(&Change) -> bool) -> Vec<i64> {
        run.events
            .iter()
            .filter(|(c, _)| pick(c))
            .map(|(_, at)| (*at - run.started_at).num_seconds())
            .collect()
    }

    const RETRIED: &str = "
name: retried
tasks:
  - name: check
    taskReferenceName: check
    retry: {count: 3, logic: FIXED, delay: 1h}
  - name: report
    taskReferenceName: report
    inputParameters: {problems: '${check.output.problems}'}
";

    #[test]
    fn a_retry_sequence_runs_on_simulated_time() {
        let started = std::time::Instant::now();
        let run = run(
            RETRIED,
            "version: 1\ntasks:\n  check: [{status: FAILED, reason: flaky}, {status: FAILED}, {output: {problems: [p]}}]\n  report: {output: {done: true}}\n",
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        let check = &run.state.tasks["check"];
        assert_eq!(check.attempt, 3);
        // Attempts 2 and 3 start an hour after each failure, without an hour passing.
        let scheduled = times(
            &run,
            |c| matches!(c, Change::TaskScheduled { task_ref, .. } if task_ref == "check"),
        );
        assert_eq!(scheduled, vec![0, 3600, 7200]);
        assert_eq!(run.elapsed().num_seconds(), 7200);
        assert_eq!(run.state.tasks["report"].input, json!({"problems": ["p"]}));
        let reasons: Vec<String> = run
            .events
            .iter()
            .filter_map(|(c, _)| match c {
                Change::TaskFailed { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(reasons, vec!["flaky", "mock `check` failed"]);
    }

    #[test]
    fn the_last_outcome_repeats_until_the_retries_run_out() {
        let run = run(
            RETRIED,
            "version: 1\ntasks:\n  check: [{status: FAILED, reason: down}]\n  report: {}\n",
        );
        assert_eq!(run.state.status, RunStatus::Failed);
        assert_eq!(run.state.tasks["check"].attempt, 4);
        assert!(!run.state.tasks.contains_key("report"));
        assert_eq!(run.unused_mocks, vec!["report".to_string()]);
    }

    #[test]
    fn a_terminal_error_is_not_retried() {
        let run = run(
            RETRIED,
            "version: 1\ntasks:\n  check: {status: FAILED_WITH_TERMINAL_ERROR, reason: bad input}\n",
        );
        assert_eq!(run.state.status, RunStatus::Failed);
        assert_eq!(run.state.tasks["check"].attempt, 1);
        assert_eq!(
            run.state.tasks["check"].status,
            TaskStatus::FailedWithTerminalError
        );
    }

    #[test]
    fn time_taken_by_a_mock_moves_the_clock() {
        let run = run(
            RETRIED,
            "version: 1\ntasks:\n  check: {output: {}, after: 90s}\n  report: {after: 10s}\n",
        );
        assert_eq!(run.state.status, RunStatus::Completed);
        let completed = times(&run, |c| matches!(c, Change::TaskCompleted { .. }));
        assert_eq!(completed, vec![90, 100]);
    }

    const SWITCHED: &str = "
name: switched
tasks:
  - name: count
    taskReferenceName: count
  - name: route
    taskReferenceName: route
    type: SWITCH
    evaluatorType: expression
    expression: n > 0
    inputParameters: {n: '${count.output.n}'}
    decisionCases:
      'true':
        - {name: fix, taskReferenceName: fix}
    defaultCase:
      - {name: celebrate, taskReferenceName: celebrate}
";

    #[test]
    fn a_switch_takes_the_path_the_mocked_output_chooses() {
        let mocks_for = |n: u32| {
            format!(
                "version: 1\ntasks:\n  count: {{output: {{n: {n}}}}}\ndefault: {{output: {{}}}}\n"
            )
        };
        let run_with = |n| run(SWITCHED, &mocks_for(n));
        let some = run_with(3);
        assert_eq!(some.state.tasks["route"].output["selectedCase"], "true");
        assert!(some.state.tasks.contains_key("fix"));
        assert!(!some.state.tasks.contains_key("celebrate"));
        let none = run_with(0);
        assert!(none.state.tasks.contains_key("celebrate"));
        assert!(!none.state.tasks.contains_key("fix"));
        assert_eq!(none.state.status, RunStatus::Completed);
    }

    #[test]
    fn a_mocked_output_may_echo_the_task_input() {
        let flow = "
name: echoed
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters:
      forkTaskName: check_folder
      forkTaskInputs: ${workflow.input.folders}
  - {name: gather, taskReferenceName: gather, type: JOIN}
";
        let run = run(
            flow,
            "version: 1\ninput: {folders: [a, b]}\ntasks:\n  check_folder: {output: {folder: '${input.item}', note: 'checked ${input.item} of ${workflow.input.folders}'}}\n",
        );
        assert_eq!(
            run.state.tasks["gather"].output,
            json!({
                "fan_0": {"folder": "a", "note": "checked a of [\"a\",\"b\"]"},
                "fan_1": {"folder": "b", "note": "checked b of [\"a\",\"b\"]"},
            })
        );
    }

    #[test]
    fn forks_run_for_real_and_children_are_mocked_by_reference_or_name() {
        let flow = "
name: forked
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters:
      forkTaskName: check_folder
      forkTaskInputs: ${workflow.input.folders}
    retry: {count: 1, delay: 5s}
  - {name: gather, taskReferenceName: gather, type: JOIN}
  - name: both
    taskReferenceName: both
    type: FORK_JOIN
    forkTasks:
      - [{name: left, taskReferenceName: left}]
      - [{name: right, taskReferenceName: right}]
  - {name: meet, taskReferenceName: meet, type: JOIN, joinOn: [left, right]}
";
        let run = run(
            flow,
            "
version: 1
input: {folders: [a, b, c]}
tasks:
  check_folder: {output: {ok: true}}
  fan_1: [{status: FAILED, reason: disk}, {output: {ok: false}}]
  left: {output: {side: l}}
  right: {output: {side: r}}
",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        let gathered = &run.state.tasks["gather"].output;
        assert_eq!(gathered["fan_0"], json!({"ok": true}));
        assert_eq!(gathered["fan_1"], json!({"ok": false}));
        assert_eq!(gathered["fan_2"], json!({"ok": true}));
        assert_eq!(run.state.tasks["fan_1"].attempt, 2);
        assert_eq!(
            run.state.tasks["meet"].output,
            json!({"left": {"side": "l"}, "right": {"side": "r"}})
        );
        // The three children were in flight together.
        let first = times(
            &run,
            |c| matches!(c, Change::TaskScheduled { attempt: 1, task_ref, .. } if task_ref.starts_with("fan_")),
        );
        assert_eq!(first, vec![0, 0, 0]);
    }

    const GATED: &str = "
name: gated
tasks:
  - name: approve
    taskReferenceName: gate
    type: HUMAN
    deadline: 30m
    inputParameters: {question: go?}
  - name: route
    taskReferenceName: route
    type: SWITCH
    expression: d
    inputParameters: {d: '${gate.output.decision}'}
    decisionCases:
      approved: [{name: apply, taskReferenceName: apply}]
    defaultCase: [{name: note, taskReferenceName: note}]
";

    #[test]
    fn approvals_are_decided_by_their_mock() {
        let approved = run(
            GATED,
            "version: 1\ntasks:\n  gate: {decision: approve, by: ops, comment: fine}\n  apply: {}\n",
        );
        assert_eq!(
            approved.state.status,
            RunStatus::Completed,
            "{:?}",
            approved.stuck
        );
        let gate = &approved.state.tasks["gate"].output;
        assert_eq!(gate["decision"], "approved");
        assert_eq!(gate["by"], "ops");
        assert!(approved.state.tasks.contains_key("apply"));

        let rejected = run(
            GATED,
            "version: 1\ntasks:\n  gate: {decision: rejected, reason: not now}\n  note: {}\n",
        );
        assert_eq!(rejected.state.tasks["gate"].output["reason"], "not now");
        assert!(rejected.state.tasks.contains_key("note"));
        assert!(!rejected.state.tasks.contains_key("apply"));
    }

    #[test]
    fn a_decision_after_the_deadline_loses_to_it() {
        let run = run(
            GATED,
            "version: 1\ntasks:\n  gate: {decision: approve, after: 2h}\n  note: {}\n",
        );
        assert_eq!(run.state.status, RunStatus::Completed);
        assert_eq!(
            run.state.tasks["gate"].output["by"],
            crate::engine::tasks::human::DEADLINE_DECIDER
        );
        let expired = times(&run, |c| matches!(c, Change::ApprovalExpired { .. }));
        assert_eq!(expired, vec![1800]);
        assert!(run.state.tasks.contains_key("note"));
    }

    #[test]
    fn an_escalated_request_takes_the_next_outcome() {
        let flow = GATED.replace(
            "deadline: 30m",
            "deadline: 30m\n    onDeadline: ESCALATE\n    escalateTo: boss\n    failOnReject: true",
        );
        let run = run(
            &flow,
            "version: 1\ntasks:\n  gate: [{decision: approve, after: 1h}, {decision: reject, reason: too risky, after: 5m}]\n",
        );
        assert_eq!(run.state.status, RunStatus::Failed);
        let requests: Vec<(i64, String)> = run
            .events
            .iter()
            .filter_map(|(c, at)| match c {
                Change::ApprovalRequested { approver, .. } => {
                    Some(((*at - run.started_at).num_seconds(), approver.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            requests,
            vec![(0, "commander".into()), (1800, "boss".into())]
        );
        assert_eq!(run.elapsed().num_seconds(), 2100);
        assert!(
            run.state
                .failure
                .as_ref()
                .unwrap()
                .reason
                .contains("too risky"),
            "{:?}",
            run.state.failure
        );
    }

    #[test]
    fn a_task_without_a_mock_is_an_error_that_names_it() {
        let err = simulate(
            workflow(SWITCHED),
            "flow.yaml",
            &mocks("version: 1\ntasks:\n  count: {output: {n: 1}}\n"),
        )
        .unwrap_err();
        assert_eq!(
            err,
            MockError::Missing {
                task_ref: "fix".into(),
                file: "mocks.yaml".into()
            }
        );
        assert!(err.to_string().contains("task `fix` has no mock; add one"));
        // The run keeps the path up to the task without a mock.
        let file = mocks("version: 1\ntasks:\n  count: {output: {n: 1}}\n");
        let partial = Simulation::new(&file).run(workflow(SWITCHED), "flow.yaml");
        assert!(partial.error.is_some());
        assert!(matches!(
            partial.events.last(),
            Some((Change::TaskScheduled { task_ref, .. }, _)) if task_ref == "fix"
        ));
    }

    #[test]
    fn mocks_of_the_wrong_kind_are_errors() {
        let err = simulate(
            workflow(GATED),
            "flow.yaml",
            &mocks("version: 1\ntasks:\n  gate: {output: {}}\n"),
        )
        .unwrap_err();
        assert!(matches!(err, MockError::NoDecision { .. }), "{err:?}");
        let err = simulate(
            workflow(RETRIED),
            "flow.yaml",
            &mocks("version: 1\ndefault: {decision: approve}\n"),
        )
        .unwrap_err();
        assert!(
            matches!(err, MockError::UnexpectedDecision { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn loop_iterations_fall_back_to_the_reference_they_were_written_with() {
        assert_eq!(without_iteration("check__2"), Some("check"));
        assert_eq!(without_iteration("a__b__10"), Some("a__b"));
        assert_eq!(without_iteration("check"), None);
        assert_eq!(without_iteration("check__x"), None);
        assert_eq!(without_iteration("__3"), None);
        let file = mocks("version: 1\ntasks:\n  check: [{output: {i: 1}}, {output: {i: 2}}]\n");
        let mut sim = Simulation::new(&file);
        let first = sim.outcome("check__1").unwrap();
        let second = sim.outcome("check__2").unwrap();
        let third = sim.outcome("check__3").unwrap();
        assert_eq!(first.0, "check");
        assert_eq!(first.1.output, Some(json!({"i": 1})));
        assert_eq!(second.1.output, Some(json!({"i": 2})));
        assert_eq!(
            third.1.output,
            Some(json!({"i": 2})),
            "the last one repeats"
        );
    }

    #[test]
    fn a_run_that_does_not_end_is_stopped() {
        let flow = RETRIED.replace("count: 3", "count: 1000000");
        let file = mocks("version: 1\ntasks:\n  check: {status: FAILED}\n");
        let run = Simulation::new(&file)
            .limit(500)
            .run(workflow(&flow), "flow.yaml");
        assert_eq!(run.state.status, RunStatus::Running);
        let stuck = run.stuck.expect("stopped");
        assert!(stuck.contains("did not end after 50"), "{stuck}");
        assert!(run.state.tasks["check"].attempt > 200);
    }

    #[test]
    fn the_same_mocks_give_the_same_run() {
        let text = "version: 1\ntasks:\n  check: [{status: FAILED}, {output: {problems: []}}]\n  report: {}\n";
        let flow = RETRIED.replace("delay: 1h}", "delay: 1h, jitter: 10m}");
        let a = run(&flow, text);
        let b = run(&flow, text);
        assert_eq!(a.events, b.events);
    }

    #[test]
    fn the_events_are_a_journal_that_replays_to_the_final_state() {
        let forked = "
name: forked
tasks:
  - name: fan
    taskReferenceName: fan
    type: FORK_JOIN_DYNAMIC
    inputParameters: {forkTaskName: check_folder, forkTaskInputs: [a, b]}
    retry: {count: 2, delay: 5s}
  - {name: gather, taskReferenceName: gather, type: JOIN}
";
        for (flow, text) in [
            (
                forked,
                "version: 1\ntasks:\n  check_folder: [{status: FAILED}, {output: {ok: true}}]\n",
            ),
            (
                GATED,
                "version: 1\ntasks:\n  gate: {decision: approve, after: 1h}\n  note: {}\n",
            ),
        ] {
            let run = run(flow, text);
            assert_ne!(run.state.status, RunStatus::Running);
            let replayed = RunState::replay(run.events.iter().map(|(c, at)| (c, *at)));
            assert_eq!(replayed, run.state);
        }
    }
}
