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
//! world is answered from the mocks ([`Simulation::answer`]): a `task_scheduled` (SIMPLE,
//! DYNAMIC and every agent-served type) by a mocked reply, an `approval_requested` (HUMAN) by
//! a mocked approval, an `http_call_started` by a mocked [`HttpOutcome`], a `wait_started`
//! with no due time by a mocked `3ox complete` (a control command, checked as the real one
//! is), a SUB_WORKFLOW's `child_run_started` by a mocked child end (or, with
//! `children: run`, by running the child in a nested simulation). All go through the
//! engine's own checks (task id, token, attempt) exactly like real files. When a poll
//! deadline falls due, every mocked message counts as claimed (as the orchestrator reports
//! claimed messages), unless its mock says `claimed: false`.
//!
//! The agent directory is fake: one agent, `mock`, plus every agent a task names, each
//! serving every task name and type the run knows of, with no concurrency limit. It grows as
//! the run reveals new tasks (a dynamic fork's children): a step that met a task no agent
//! served is taken again, from the same state, with the grown directory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::mocks::{ChildMode, MockFile, MockStatus, Outcome};
use crate::definition::WorkflowDef;
use crate::engine::complete::{Completion, CompletionStatus};
use crate::engine::tasks::http::{HttpOutcome, HttpResponse};
use crate::engine::tasks::sub_workflow::ChildKind;
use crate::engine::{self, Change, Ctx, Input, RunState, RunStatus, control, timeouts};
use crate::mailbox::approval::{APPROVAL_KIND, APPROVAL_VERSION, Approval, Decision};
use crate::mailbox::reply::{REPLY_VERSION, Reply, ReplyStatus};
use crate::orchestrator::children;
use crate::station::{AgentConfig, AgentDirectory, Station};

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
    /// The child runs run in the simulation (`children: run`: SUB_WORKFLOW, START_WORKFLOW
    /// and failureWorkflow children), in start order.
    pub children: Vec<ChildTestRun>,
}

/// A SUB_WORKFLOW's child run, run in the same simulation (`children: run`).
#[derive(Debug, Clone)]
pub struct ChildTestRun {
    /// The task that started it, or the failureWorkflow's name.
    pub task_ref: String,
    pub child_run_id: String,
    pub run: TestRun,
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
    #[error(
        "task `{task_ref}` ({type_name}) does not take a `decision`, but its mock `{key}` gives one; give `output` or `status`"
    )]
    DecisionForSystemTask {
        task_ref: String,
        type_name: String,
        key: String,
    },
    #[error(
        "{kind} `{task_ref}` runs workflow `{name}`, which 3ox test cannot run (`children: run`): {problem}; put it in the station's templates/ or workflows/, write it inline, or mock the task under `tasks:`"
    )]
    ChildNotFound {
        kind: String,
        task_ref: String,
        name: String,
        problem: String,
    },
    #[error("task `{task_ref}` is an HTTP task: its mock `{key}` {problem}")]
    BadHttp {
        task_ref: String,
        key: String,
        problem: String,
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
    /// Task ids whose message no worker claims (mocked `claimed: false`).
    unclaimed: BTreeSet<String>,
    /// The id of the run simulated ([`TEST_RUN_ID`], or a child's id).
    run_id: String,
    /// 0 for the workflow tested, 1 for its children, ...
    depth: u32,
    children: Vec<ChildTestRun>,
    /// Children run here that did not end (why), so their parent waits for ever.
    stuck_children: Vec<String>,
    /// Where children named (not inline) are looked up with `children: run`.
    station: Option<Station>,
}

/// Children nested deeper than this are mocked even with `children: run`.
pub const MAX_CHILD_DEPTH: u32 = 16;

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
            unclaimed: BTreeSet::new(),
            run_id: TEST_RUN_ID.to_string(),
            depth: 0,
            children: Vec::new(),
            stuck_children: Vec::new(),
            station: None,
        }
    }

    /// The station in which children named by a SUB_WORKFLOW are looked up (`children: run`),
    /// as `3ox run` looks them up; without one only inline children can run.
    pub fn station(mut self, station: Option<Station>) -> Self {
        self.station = station;
        self
    }

    /// Stops a run that has made `max_changes` changes without ending (default
    /// [`MAX_CHANGES`]).
    pub fn limit(mut self, max_changes: usize) -> Self {
        self.max_changes = max_changes;
        self
    }

    /// Starts the run and drives it until it ends, nothing more can happen, or a mock does
    /// not fit (then [`TestRun::error`] says which, and the events show the path so far).
    pub fn run(self, workflow: Arc<WorkflowDef>, source: &str) -> TestRun {
        let input = self.mocks.input.clone();
        self.run_with(workflow, source, input).0
    }

    /// [`Simulation::run`] with `input`; also returns how much of each mock was used.
    fn run_with(
        mut self,
        workflow: Arc<WorkflowDef>,
        source: &str,
        input: Value,
    ) -> (TestRun, HashMap<String, usize>) {
        let started_at = self.now;
        let start = Input::Start {
            run_id: self.run_id.clone(),
            source: source.to_string(),
            workflow,
            input,
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
        let run = TestRun {
            state: self.state,
            started_at,
            events: self.events,
            stuck,
            unused_mocks,
            error,
            children: self.children,
        };
        (run, self.used)
    }

    /// Runs a child run to its end in this simulation (same mocks, same clock, the mocks'
    /// lists shared); when the parent `waited` for it (SUB_WORKFLOW), queues its end for the
    /// parent at the time it ended. `label` names it in the path (the task, or the
    /// failureWorkflow's name).
    fn run_child(
        &mut self,
        task_ref: &str,
        child_run_id: &str,
        workflow: &WorkflowDef,
        input: &Value,
        waited: bool,
    ) -> Result<(), MockError> {
        let mut child = Simulation::new(self.mocks);
        child.now = self.now;
        child.run_id = child_run_id.to_string();
        child.depth = self.depth + 1;
        child.used = std::mem::take(&mut self.used);
        child.station = self.station.clone();
        // Ids distinct from the parent's and earlier children's.
        child.ids = self.ids + 1_000_000 * (self.children.len() as u64 + 1);
        child.max_changes = self.max_changes.saturating_sub(self.events.len()).max(1);
        let source = format!("{} (child of `{task_ref}`)", workflow.name);
        let (run, used) = child.run_with(Arc::new(workflow.clone()), &source, input.clone());
        // (`run_with` hands `used` back: the lists go on where the child left them.)
        self.used = used;
        let ended_at = run.events.last().map_or(self.now, |(_, at)| *at);
        let state = &run.state;
        let end = Input::ChildEnded {
            child_run_id: child_run_id.to_string(),
            status: state.status,
            output: state
                .output
                .clone()
                .unwrap_or_else(|| Value::Object(Default::default())),
            reason: state.failure.as_ref().map(|f| f.reason.clone()),
        };
        let error = run.error.clone();
        if let Some(stuck) = run.stuck.as_ref().filter(|_| waited) {
            self.stuck_children.push(format!(
                "child run {child_run_id} of `{task_ref}` did not end: {stuck}"
            ));
        }
        let ended = state.status != RunStatus::Running;
        self.children.push(ChildTestRun {
            task_ref: task_ref.to_string(),
            child_run_id: child_run_id.to_string(),
            run,
        });
        if let Some(error) = error {
            return Err(error);
        }
        if ended && waited {
            self.seq += 1;
            self.pending.push(Pending {
                due: ended_at,
                seq: self.seq,
                input: end,
            });
        }
        Ok(())
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
                    // As the orchestrator does when a poll deadline falls due: the messages
                    // a worker claimed are reported first (every mocked one, at once, unless
                    // its mock says `claimed: false`).
                    let claimed: Vec<String> = timeouts::polls_due(&self.state, self.now)
                        .into_iter()
                        .map(|(_, task_id, _)| task_id)
                        .filter(|id| !self.unclaimed.contains(id))
                        .collect();
                    let mut changed = 0;
                    if !claimed.is_empty() {
                        changed += self.feed(Input::Claimed { task_ids: claimed })?;
                    }
                    changed += self.feed(Input::Tick)?;
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
            .map(|t| {
                let unclaimed = t
                    .task_id
                    .as_ref()
                    .is_some_and(|id| self.unclaimed.contains(id));
                let note = if unclaimed {
                    ", its message never claimed (`claimed: false`)"
                } else {
                    ""
                };
                format!("`{}` ({}, {}{note})", t.task_ref, t.type_name, t.status)
            })
            .collect();
        let outside: Vec<String> = self
            .state
            .tasks
            .values()
            .filter(|t| {
                t.type_name == "WAIT"
                    && t.status.is_in_flight()
                    && self.state.timers.waits.get(&t.task_ref) == Some(&None)
            })
            .map(|t| format!("`{}`", t.task_ref))
            .collect();
        if self.state.paused {
            "the run is paused".to_string()
        } else if !self.stuck_children.is_empty() {
            self.stuck_children.join("; ")
        } else if !outside.is_empty() {
            format!(
                "WAIT {} waits to be completed from outside (`3ox complete`), and no mock completes it; give it one under `tasks:` (`{{output: {{...}}}}` or `{{status: FAILED}}`)",
                outside.join(", ")
            )
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
        // A mocked `3ox complete` is checked as the real one is: refused (changing nothing)
        // when the task no longer waits.
        if let Input::Control(command) = &input
            && control::check(&self.state, command).is_err()
        {
            return Vec::new();
        }
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
            load: &crate::engine::no_load,
        };
        let changes = engine::step(&mut self.state, input, &mut ctx);
        self.ids = counter;
        changes
    }

    /// Makes the fake directory serve every task the run knows; true when it had to grow.
    fn cover(&mut self) -> bool {
        let mut names = BTreeSet::new();
        let mut agents = BTreeSet::from([MOCK_AGENT.to_string()]);
        names.extend(self.state.dynamic_choices.values().cloned());
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
                    mode: Default::default(),
                    llm: None,
                };
                (name, config)
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into();
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
                if outcome.claimed == Some(false) {
                    self.unclaimed.insert(task_id.clone());
                    return Ok(());
                }
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
            Change::HttpCallStarted {
                task_ref,
                task_id,
                input,
                ..
            } => {
                let (key, outcome) = self.outcome(task_ref)?;
                self.no_decision(task_ref, &key, &outcome)?;
                let http = self.http_outcome(task_ref, &key, &outcome, input)?;
                let input = Input::HttpResult {
                    task_id: task_id.clone(),
                    outcome: http,
                };
                self.queue(&outcome, input);
            }
            Change::WaitStarted {
                task_ref, input, ..
            } => {
                // Completed from outside: by its own mock only (not `default:`); without
                // one a WAIT with a due time ends then, and one without ends the run stuck,
                // and says so. A mock of a WAIT with a due time completes it early (as
                // `3ox complete` may), when its `after` comes first.
                let Some((key, outcome)) = self.listed(task_ref) else {
                    return Ok(());
                };
                self.no_decision(task_ref, &key, &outcome)?;
                let status = match outcome.status.unwrap_or(MockStatus::Completed) {
                    MockStatus::Completed => CompletionStatus::Completed,
                    MockStatus::Failed => CompletionStatus::Failed,
                    MockStatus::FailedWithTerminalError => {
                        CompletionStatus::FailedWithTerminalError
                    }
                };
                let command = control::Command {
                    action: control::Action::Complete,
                    by: MOCK_AGENT.to_string(),
                    uid: None,
                    reason: outcome.reason.clone(),
                    task: Some(task_ref.clone()),
                    new_run_id: None,
                    completion: Some(Completion {
                        status,
                        output: self.mocked_output(&outcome, input),
                    }),
                };
                self.queue(&outcome, Input::Control(command));
            }
            Change::ChildRunStarted {
                child_run_id,
                kind,
                task_ref,
                input,
                workflow,
                workflow_version,
                name,
                ..
            } => {
                // A SUB_WORKFLOW's parent waits for its child; a START_WORKFLOW's and the
                // failureWorkflow run (with `children: run`) but nothing waits for them.
                let waited = (*kind == ChildKind::SubWorkflow)
                    .then_some(task_ref.as_ref())
                    .flatten();
                let run = self.mocks.children == ChildMode::Run
                    && self.depth < MAX_CHILD_DEPTH
                    && waited.is_none_or(|task_ref| !self.is_listed(task_ref));
                if !run {
                    if let Some(task_ref) = waited {
                        self.end_child(task_ref, child_run_id, input)?;
                    }
                    return Ok(());
                }
                let label = task_ref.clone().unwrap_or_else(|| name.clone());
                let found = match workflow {
                    Some(workflow) => Ok(workflow.as_ref().clone()),
                    None => match &self.station {
                        Some(station) => children::find(station, name, *workflow_version),
                        None => Err("no station holds this workflow file".to_string()),
                    },
                };
                match found {
                    Ok(workflow) => {
                        let waited = waited.is_some();
                        self.run_child(&label, child_run_id, &workflow, input, waited)?;
                    }
                    Err(problem) => {
                        return Err(MockError::ChildNotFound {
                            kind: kind.to_string(),
                            task_ref: label,
                            name: name.clone(),
                            problem,
                        });
                    }
                }
            }
            Change::ChildRunResumed {
                task_ref,
                child_run_id,
                ..
            } => {
                let input = self
                    .state
                    .children
                    .get(child_run_id)
                    .map(|c| c.input.clone())
                    .unwrap_or(Value::Null);
                self.end_child(task_ref, child_run_id, &input)?;
            }
            // Extension point: arms for changes other task types add (see above).
            // START_WORKFLOW children and the failureWorkflow are not waited for: the path
            // shows them (their `child_run_started`), nothing answers them.
            _ => {}
        }
        Ok(())
    }

    /// A SUB_WORKFLOW's child run ends as the task's mock says: COMPLETED with its `output`,
    /// or FAILED with its `reason`.
    fn end_child(
        &mut self,
        task_ref: &str,
        child_run_id: &str,
        input: &Value,
    ) -> Result<(), MockError> {
        let (key, outcome) = self.outcome(task_ref)?;
        self.no_decision(task_ref, &key, &outcome)?;
        let (status, reason) = match outcome.status.unwrap_or(MockStatus::Completed) {
            MockStatus::Completed => (RunStatus::Completed, None),
            MockStatus::Failed | MockStatus::FailedWithTerminalError => (
                RunStatus::Failed,
                Some(
                    outcome
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("mock `{key}` failed")),
                ),
            ),
        };
        let input = Input::ChildEnded {
            child_run_id: child_run_id.to_string(),
            status,
            output: self.mocked_output(&outcome, input),
            reason,
        };
        self.queue(&outcome, input);
        Ok(())
    }

    /// A `decision` is only for HUMAN tasks.
    fn no_decision(&self, task_ref: &str, key: &str, outcome: &Outcome) -> Result<(), MockError> {
        if outcome.decision.is_none() {
            return Ok(());
        }
        let type_name = self
            .state
            .tasks
            .get(task_ref)
            .map_or_else(|| "system".to_string(), |t| t.type_name.clone());
        Err(MockError::DecisionForSystemTask {
            task_ref: task_ref.to_string(),
            type_name,
            key: key.to_string(),
        })
    }

    /// The outcome's `output` with its `${...}` resolved (`input` is the task's input).
    fn mocked_output(&self, outcome: &Outcome, input: &Value) -> Value {
        match &outcome.output {
            Some(output) => crate::expr::resolve(
                output,
                &MockScope {
                    input,
                    state: &self.state,
                },
            ),
            None => Value::Object(Default::default()),
        }
    }

    /// What an HTTP task's call gives: `output.response` (`statusCode` 200 when absent,
    /// `body`, `headers`, `reasonPhrase`) as the response; a FAILED mock without a response
    /// is a call that got no response (retried), a FAILED_WITH_TERMINAL_ERROR one a request
    /// that cannot be sent (not retried).
    fn http_outcome(
        &self,
        task_ref: &str,
        key: &str,
        outcome: &Outcome,
        input: &Value,
    ) -> Result<HttpOutcome, MockError> {
        let output = self.mocked_output(outcome, input);
        let bad = |problem: String| MockError::BadHttp {
            task_ref: task_ref.to_string(),
            key: key.to_string(),
            problem,
        };
        let response = output.get("response");
        let status = outcome.status.unwrap_or(MockStatus::Completed);
        if response.is_none() && status != MockStatus::Completed {
            let reason = outcome
                .reason
                .clone()
                .unwrap_or_else(|| format!("mock `{key}` failed"));
            return Ok(match status {
                MockStatus::FailedWithTerminalError => HttpOutcome::Invalid(reason),
                _ => HttpOutcome::Error(reason),
            });
        }
        let empty = Value::Object(Default::default());
        let response = response.unwrap_or(&empty);
        let Some(fields) = response.as_object() else {
            return Err(bad(format!(
                "gives `output.response: {response}`; it is a mapping (statusCode, body, headers)"
            )));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["statusCode", "body", "headers", "reasonPhrase"].contains(&k.as_str()))
        {
            return Err(bad(format!(
                "gives `output.response.{unknown}`; a response has statusCode, body, headers and reasonPhrase"
            )));
        }
        let status_code = match fields.get("statusCode") {
            None => 200,
            Some(code) => code
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (100..600).contains(c))
                .ok_or_else(|| {
                    bad(format!(
                        "gives `statusCode: {code}`; it is a number from 100 to 599"
                    ))
                })?,
        };
        let mut headers = indexmap::IndexMap::new();
        match fields.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(given)) => {
                for (name, value) in given {
                    let text = |v: &Value| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let values = match value {
                        Value::Array(items) => items.iter().map(text).collect(),
                        other => vec![text(other)],
                    };
                    headers.insert(name.to_ascii_lowercase(), values);
                }
            }
            Some(other) => {
                return Err(bad(format!(
                    "gives `headers: {other}`; headers are a mapping of name to value"
                )));
            }
        }
        let reason_phrase = match fields.get("reasonPhrase") {
            Some(Value::String(phrase)) => phrase.clone(),
            _ => reason_phrase(status_code).to_string(),
        };
        Ok(HttpOutcome::Response(HttpResponse {
            status_code,
            reason_phrase,
            headers,
            body: fields.get("body").cloned().unwrap_or(Value::Null),
        }))
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
        if let Some(found) = self.listed(task_ref) {
            return Ok(found);
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

    /// The next outcome listed under `tasks:` for `task_ref` (not the default): by
    /// reference, by reference without a loop suffix, by the name a DYNAMIC task chose, by
    /// task name.
    fn listed(&mut self, task_ref: &str) -> Option<(String, Outcome)> {
        let key = self.listed_key(task_ref)?;
        let list = &self.mocks.tasks[&key];
        let used = self.used.entry(key.clone()).or_default();
        let outcome = list[(*used).min(list.len() - 1)].clone();
        *used += 1;
        Some((key, outcome))
    }

    /// Whether `task_ref` has outcomes listed under `tasks:` (by any of its keys).
    fn is_listed(&self, task_ref: &str) -> bool {
        self.listed_key(task_ref).is_some()
    }

    /// The key under `tasks:` that `task_ref` is looked up by, when it has one.
    fn listed_key(&self, task_ref: &str) -> Option<String> {
        let name = self.state.def(task_ref).map(|d| d.name.clone());
        let chosen = self.state.dynamic_choices.get(task_ref).cloned();
        let candidates = [
            Some(task_ref),
            without_iteration(task_ref),
            chosen.as_deref(),
            name.as_deref(),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|key| self.mocks.tasks.get(*key).is_some_and(|l| !l.is_empty()))
            .map(str::to_owned)
    }
}

/// The reason phrase of a common HTTP status (empty for others).
fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
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
        let run = run(
            RETRIED,
            "version: 1\ntasks:\n  check: [{status: FAILED, reason: flaky}, {status: FAILED}, {output: {problems: [p]}}]\n  report: {output: {done: true}}\n",
        );
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
                "_check_folder_0": {"folder": "a", "note": "checked a of [\"a\",\"b\"]"},
                "_check_folder_1": {"folder": "b", "note": "checked b of [\"a\",\"b\"]"},
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
  _check_folder_1: [{status: FAILED, reason: disk}, {output: {ok: false}}]
  left: {output: {side: l}}
  right: {output: {side: r}}
",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        let gathered = &run.state.tasks["gather"].output;
        assert_eq!(gathered["_check_folder_0"], json!({"ok": true}));
        assert_eq!(gathered["_check_folder_1"], json!({"ok": false}));
        assert_eq!(gathered["_check_folder_2"], json!({"ok": true}));
        assert_eq!(run.state.tasks["_check_folder_1"].attempt, 2);
        assert_eq!(
            run.state.tasks["meet"].output,
            json!({"left": {"side": "l"}, "right": {"side": "r"}})
        );
        // The three children were in flight together.
        let first = times(
            &run,
            |c| matches!(c, Change::TaskScheduled { attempt: 1, task_ref, .. } if task_ref.starts_with("_check_folder_")),
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

    /// Every change of `run` whose event name is `event`, as JSON.
    fn events_named(run: &TestRun, event: &str) -> Vec<Value> {
        run.events
            .iter()
            .filter_map(|(c, _)| serde_json::to_value(c).ok())
            .filter(|v| v["event"] == event)
            .collect()
    }

    const FETCHED: &str = "
name: fetched
tasks:
  - name: fetch
    taskReferenceName: fetch
    type: HTTP
    retry: {count: 2, logic: FIXED, delay: 30s}
    inputParameters:
      http_request: {uri: 'https://example.com/items/${workflow.input.id}', method: GET}
  - name: use
    taskReferenceName: use
    inputParameters: {items: '${fetch.output.response.body.items}', code: '${fetch.output.response.statusCode}'}
";

    #[test]
    fn an_http_task_takes_its_mocked_responses_and_retries_on_simulated_time() {
        let run = run(
            FETCHED,
            "
version: 1
input: {id: 7}
tasks:
  fetch:
    - {status: FAILED, reason: connection refused}
    - {output: {response: {statusCode: 503, body: busy}}}
    - {output: {response: {statusCode: 200, body: {items: ['${input.http_request.uri}']}, headers: {X-Trace: abc}}}, after: 2s}
  use: {}
",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        assert_eq!(run.state.tasks["fetch"].attempt, 3);
        let calls = times(&run, |c| matches!(c, Change::HttpCallStarted { .. }));
        assert_eq!(calls, vec![0, 30, 60]);
        let reasons: Vec<String> = run
            .events
            .iter()
            .filter_map(|(c, _)| match c {
                Change::TaskFailed { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(reasons.len(), 2);
        assert!(reasons[0].contains("connection refused"), "{reasons:?}");
        assert!(reasons[1].contains("503"), "{reasons:?}");
        let response = &run.state.tasks["fetch"].output["response"];
        assert_eq!(response["statusCode"], 200);
        assert_eq!(response["reasonPhrase"], "OK");
        assert_eq!(response["headers"], json!({"x-trace": ["abc"]}));
        assert_eq!(
            run.state.tasks["use"].input,
            json!({"items": ["https://example.com/items/7"], "code": 200})
        );
        assert_eq!(run.elapsed().num_seconds(), 62);
    }

    #[test]
    fn http_mocks_that_do_not_fit_are_errors() {
        let err = simulate(
            workflow(FETCHED),
            "flow.yaml",
            &mocks("version: 1\ntasks:\n  fetch: {output: {response: {statusCode: 99}}}\n"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("statusCode: 99"), "{err}");
        let err = simulate(
            workflow(FETCHED),
            "flow.yaml",
            &mocks("version: 1\ntasks:\n  fetch: {decision: approve}\n"),
        )
        .unwrap_err();
        assert!(
            matches!(err, MockError::DecisionForSystemTask { .. }),
            "{err:?}"
        );
        // A terminal error is a request that cannot be sent: no retry.
        let run = run(
            FETCHED,
            "version: 1\ntasks:\n  fetch: {status: FAILED_WITH_TERMINAL_ERROR, reason: bad header}\n",
        );
        assert_eq!(run.state.status, RunStatus::Failed);
        assert_eq!(run.state.tasks["fetch"].attempt, 1);
    }

    const WAITED: &str = "
name: waited
tasks:
  - name: cool_down
    taskReferenceName: cool
    type: WAIT
    inputParameters: {duration: 1 hour}
  - name: hold
    taskReferenceName: hold
    type: WAIT
  - name: after
    taskReferenceName: after
    inputParameters: {by: '${hold.output.by}'}
";

    #[test]
    fn a_wait_for_an_hour_passes_on_simulated_time_and_an_outside_one_takes_its_mock() {
        let run = run(
            WAITED,
            "version: 1\ntasks:\n  hold: {output: {by: ops}, after: 10m}\n  after: {}\n",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        let completed = times(
            &run,
            |c| matches!(c, Change::TaskCompleted { task_ref, .. } if task_ref == "cool" || task_ref == "hold"),
        );
        assert_eq!(completed, vec![3600, 4200]);
        let updated = events_named(&run, "task_updated_by");
        assert_eq!(updated.len(), 1);
        assert_eq!(updated[0]["task_ref"], "hold");
        assert_eq!(updated[0]["by"], MOCK_AGENT);
        assert_eq!(run.state.tasks["after"].input, json!({"by": "ops"}));
        // A failing completion goes through the task's policy (no retries: the run fails).
        let failed = run_failed_hold();
        assert_eq!(failed.state.status, RunStatus::Failed);
        assert_eq!(failed.state.tasks["hold"].reason.as_deref(), Some("no"));
    }

    fn run_failed_hold() -> TestRun {
        run(
            WAITED,
            "version: 1\ntasks:\n  hold: {status: FAILED, reason: 'no'}\n",
        )
    }

    #[test]
    fn an_outside_wait_without_a_mock_is_reported() {
        let run = run(WAITED, "version: 1\ndefault: {output: {}}\n");
        assert_eq!(run.state.status, RunStatus::Running);
        let stuck = run.stuck.clone().expect("stuck");
        assert!(
            stuck.contains("WAIT `hold` waits to be completed from outside"),
            "{stuck}"
        );
        assert_eq!(run.elapsed().num_seconds(), 3600);
    }

    const PARENT: &str = "
name: parent
tasks:
  - name: build
    taskReferenceName: build
    type: SUB_WORKFLOW
    retry: {count: 1, delay: 1m}
    inputParameters: {commit: '${workflow.input.commit}'}
    subWorkflowParam:
      name: build_it
      workflowDefinition:
        name: build_it
        tasks:
          - {name: compile, taskReferenceName: compile}
  - name: ship
    taskReferenceName: ship
    inputParameters: {artifact: '${build.output.artifact}'}
";

    #[test]
    fn a_sub_workflow_is_mocked_by_its_childs_end() {
        let run = run(
            PARENT,
            "
version: 1
input: {commit: abc}
tasks:
  build:
    - {status: FAILED, reason: tests failed}
    - {output: {artifact: 'app-${input.commit}.tar'}, after: 5m}
  ship: {}
",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        let started = events_named(&run, "child_run_started");
        assert_eq!(started.len(), 2, "the task's retry is a new child run");
        assert_eq!(started[1]["input"], json!({"commit": "abc"}));
        assert_ne!(started[0]["child_run_id"], started[1]["child_run_id"]);
        let ended = events_named(&run, "child_run_ended");
        assert_eq!(ended.len(), 2);
        assert_eq!(ended[0]["status"], "FAILED");
        assert_eq!(ended[1]["status"], "COMPLETED");
        let build = &run.state.tasks["build"].output;
        assert_eq!(build["artifact"], "app-abc.tar");
        assert_eq!(build["subWorkflowId"], started[1]["child_run_id"]);
        assert_eq!(
            run.state.tasks["ship"].input,
            json!({"artifact": "app-abc.tar"})
        );
        assert_eq!(run.elapsed().num_seconds(), 360);
        // The child's own tasks are not run: `compile` needs no mock.
        assert!(!run.state.tasks.contains_key("compile"));
    }

    #[test]
    fn a_failure_workflow_and_a_started_workflow_show_in_the_path() {
        let flow = "
name: order
failureWorkflow: undo_order
tasks:
  - name: kick
    taskReferenceName: kick
    type: START_WORKFLOW
    inputParameters:
      startWorkflow: {name: report, input: {day: monday}}
  - {name: charge, taskReferenceName: charge}
";
        let run = run(
            flow,
            "version: 1\ninput: {orderId: 9}\ntasks:\n  charge: {status: FAILED, reason: card declined}\n",
        );
        assert_eq!(run.state.status, RunStatus::Failed);
        let started = events_named(&run, "child_run_started");
        assert_eq!(started.len(), 2, "{started:?}");
        assert_eq!(started[0]["kind"], "start_workflow");
        assert_eq!(started[0]["input"], json!({"day": "monday"}));
        assert_eq!(started[1]["kind"], "failure_workflow");
        assert_eq!(started[1]["name"], "undo_order");
        assert_eq!(started[1]["input"]["orderId"], 9);
        assert_eq!(
            started[1]["input"]["reason"],
            json!(run.state.failure.as_ref().unwrap().reason)
        );
        assert_eq!(
            started[1]["input"]["failedReferenceTaskNames"],
            json!(["charge"])
        );
    }

    #[test]
    fn a_loop_over_items_takes_per_iteration_mocks() {
        let flow = "
name: looped
tasks:
  - name: each_file
    taskReferenceName: each
    type: DO_WHILE
    inputParameters: {items: '${workflow.input.files}'}
    loopOver:
      - name: convert
        taskReferenceName: convert
        retry: {count: 1, delay: 10s}
        inputParameters: {file: '${each.output.loopItem}'}
  - name: report
    taskReferenceName: report
    inputParameters: {last: '${convert.output}'}
";
        let run = run(
            flow,
            "
version: 1
input: {files: [a, b, c]}
tasks:
  convert__2: [{status: FAILED, reason: corrupt}, {output: {file: '${input.file}', fixed: true}}]
  convert: {output: {file: '${input.file}'}}
  report: {}
",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        assert_eq!(run.state.tasks["convert__1"].output, json!({"file": "a"}));
        assert_eq!(
            run.state.tasks["convert__2"].output,
            json!({"file": "b", "fixed": true})
        );
        assert_eq!(run.state.tasks["convert__3"].output, json!({"file": "c"}));
        assert_eq!(run.state.tasks["each"].output["iteration"], 3);
        assert_eq!(
            run.state.tasks["report"].input,
            json!({"last": {"file": "c"}})
        );
        assert!(run.unused_mocks.is_empty(), "{:?}", run.unused_mocks);
    }

    #[test]
    fn a_terminate_ends_the_run_on_the_path_taken() {
        let flow = "
name: gatekeeper
tasks:
  - {name: check, taskReferenceName: check}
  - name: route
    taskReferenceName: route
    type: SWITCH
    expression: ok
    inputParameters: {ok: '${check.output.ok}'}
    decisionCases:
      'false':
        - name: stop
          taskReferenceName: stop
          type: TERMINATE
          inputParameters:
            terminationStatus: FAILED
            terminationReason: check said no
            workflowOutput: {why: '${check.output.why}'}
  - {name: go_on, taskReferenceName: go_on}
";
        let stopped = run(
            flow,
            "version: 1\ntasks:\n  check: {output: {ok: false, why: too big}}\n  go_on: {}\n",
        );
        assert_eq!(stopped.state.status, RunStatus::Failed);
        assert_eq!(stopped.state.output, Some(json!({"why": "too big"})));
        assert!(!stopped.state.tasks.contains_key("go_on"));
        assert_eq!(stopped.unused_mocks, vec!["go_on".to_string()]);
        let ended = events_named(&stopped, "run_ended_by_task");
        assert_eq!(ended[0]["reason"], "check said no");
        let through = run(
            flow,
            "version: 1\ntasks:\n  check: {output: {ok: true}}\n  go_on: {}\n",
        );
        assert_eq!(through.state.status, RunStatus::Completed);
        assert!(!through.state.tasks.contains_key("stop"));
    }

    #[test]
    fn a_dynamic_task_is_mocked_by_the_name_it_chose_and_events_need_no_mock() {
        let flow = "
name: dyn
tasks:
  - name: convert
    taskReferenceName: convert
    type: DYNAMIC
    dynamicTaskNameParam: taskToExecute
    inputParameters: {taskToExecute: '${workflow.input.converter}'}
  - name: tell
    taskReferenceName: tell
    type: EVENT
    sink: conductor:done
    inputParameters: {result: '${convert.output.result}'}
";
        let run = run(
            flow,
            "version: 1\ninput: {converter: to_pdf}\ntasks:\n  to_pdf: {output: {result: doc.pdf}}\n  to_png: {output: {result: doc.png}}\n",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        assert_eq!(
            run.state.tasks["convert"].output,
            json!({"result": "doc.pdf"})
        );
        assert_eq!(run.unused_mocks, vec!["to_png".to_string()]);
        let published = events_named(&run, "event_published");
        assert_eq!(published.len(), 1);
        assert_eq!(published[0]["payload"]["result"], "doc.pdf");
    }

    #[test]
    fn mocked_messages_are_claimed_at_once_unless_the_mock_says_not() {
        let flow = "
name: polled
tasks:
  - name: slow
    taskReferenceName: slow
    pollTimeoutSeconds: 60
    timeoutPolicy: RETRY
    retry: {count: 1, delay: 0s}
";
        let claimed = run(
            flow,
            "version: 1\ntasks:\n  slow: {output: {done: true}, after: 5m}\n",
        );
        assert_eq!(
            claimed.state.status,
            RunStatus::Completed,
            "{:?}",
            claimed.stuck
        );
        assert_eq!(events_named(&claimed, "task_claimed").len(), 1);
        assert!(events_named(&claimed, "task_timed_out").is_empty());
        let lost = run(
            flow,
            "version: 1\ntasks:\n  slow: [{claimed: false}, {output: {done: true}}]\n",
        );
        assert_eq!(lost.state.status, RunStatus::Completed, "{:?}", lost.stuck);
        let timed_out = times(&lost, |c| matches!(c, Change::TaskTimedOut { .. }));
        assert_eq!(timed_out, vec![60]);
        assert_eq!(lost.state.tasks["slow"].attempt, 2);
    }

    #[test]
    fn the_new_task_types_replay_to_the_final_state() {
        for (flow, text) in [
            (
                FETCHED,
                "version: 1\ntasks:\n  fetch: [{status: FAILED}, {output: {response: {body: {items: []}}}}]\n  use: {}\n",
            ),
            (
                WAITED,
                "version: 1\ntasks:\n  hold: {output: {by: ops}}\n  after: {}\n",
            ),
            (
                PARENT,
                "version: 1\ntasks:\n  build: [{status: FAILED}, {output: {artifact: x}}]\n  ship: {}\n",
            ),
        ] {
            let run = run(flow, text);
            assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
            let replayed = RunState::replay(run.events.iter().map(|(c, at)| (c, *at)));
            assert_eq!(replayed, run.state);
        }
    }

    #[test]
    fn with_children_run_the_childs_definition_runs_with_the_same_mocks() {
        let text = "
version: 1
children: run
input: {commit: abc}
tasks:
  compile: [{status: FAILED, reason: flaky}, {output: {artifact: 'app-${workflow.input.commit}.tar'}, after: 2m}]
  ship: {}
";
        let run = run(PARENT, text);
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        // The child ran its own task: its first failure failed the child, and the parent's
        // retry started a second child that took the next outcome of the shared list.
        assert_eq!(run.children.len(), 2);
        assert_eq!(run.children[0].run.state.status, RunStatus::Failed);
        let second = &run.children[1].run;
        assert_eq!(second.state.status, RunStatus::Completed);
        assert_eq!(second.state.run_id, run.children[1].child_run_id);
        assert_eq!(second.state.tasks["compile"].input, json!({}));
        assert_eq!(
            run.state.tasks["build"].output["subWorkflowId"],
            json!(run.children[1].child_run_id)
        );
        assert_eq!(
            run.state.tasks["ship"].input,
            json!({"artifact": "app-abc.tar"}),
            "the child's default output is its last task's"
        );
        // The second child started after the 1m retry delay and took 2m.
        let ended = times(&run, |c| matches!(c, Change::ChildRunEnded { .. }));
        assert_eq!(ended, vec![0, 180]);
        assert!(run.unused_mocks.is_empty(), "{:?}", run.unused_mocks);

        // A SUB_WORKFLOW listed under `tasks:` is mocked even so.
        let mocked = run_with_build_mock();
        assert!(mocked.children.is_empty());
        assert_eq!(mocked.state.tasks["build"].output["artifact"], "m");
    }

    fn run_with_build_mock() -> TestRun {
        run(
            PARENT,
            "version: 1\nchildren: run\ntasks:\n  build: {output: {artifact: m}}\n  ship: {}\n",
        )
    }

    #[test]
    fn a_child_run_that_does_not_end_is_named_in_the_parents_stuck_reason() {
        let flow = PARENT.replace(
            "- {name: compile, taskReferenceName: compile}",
            "- {name: hold, taskReferenceName: hold, type: WAIT}",
        );
        let run = run(&flow, "version: 1\nchildren: run\ndefault: {}\n");
        assert_eq!(run.state.status, RunStatus::Running);
        let stuck = run.stuck.clone().expect("stuck");
        assert!(stuck.contains("of `build` did not end"), "{stuck}");
        assert!(stuck.contains("WAIT `hold`"), "{stuck}");
    }

    #[test]
    fn a_mock_completes_a_timed_wait_early_only_when_it_comes_first() {
        let early = run(
            WAITED,
            "version: 1\ntasks:\n  cool: {output: {early: true}, after: 10m}\n  hold: {}\n  after: {}\n",
        );
        assert_eq!(
            early.state.status,
            RunStatus::Completed,
            "{:?}",
            early.stuck
        );
        assert_eq!(early.state.tasks["cool"].output, json!({"early": true}));
        let cool = times(
            &early,
            |c| matches!(c, Change::TaskCompleted { task_ref, .. } if task_ref == "cool"),
        );
        assert_eq!(cool, vec![600]);
        let late = run(
            WAITED,
            "version: 1\ntasks:\n  cool: {output: {early: true}, after: 2h}\n  hold: {}\n  after: {}\n",
        );
        assert_eq!(late.state.status, RunStatus::Completed, "{:?}", late.stuck);
        assert_eq!(late.state.tasks["cool"].output, json!({}));
        assert!(
            events_named(&late, "task_updated_by")
                .iter()
                .all(|e| e["task_ref"] != "cool")
        );
    }

    #[test]
    fn with_children_run_a_started_workflow_runs_and_nothing_waits_for_it() {
        let flow = "
name: nightly
tasks:
  - name: kick
    taskReferenceName: kick
    type: START_WORKFLOW
    inputParameters:
      startWorkflow:
        name: report
        input: {day: monday}
        workflowDefinition:
          name: report
          tasks:
            - {name: write_report, taskReferenceName: write, inputParameters: {day: '${workflow.input.day}'}}
  - {name: tidy, taskReferenceName: tidy}
";
        let run = run(
            flow,
            "version: 1\nchildren: run\ntasks:\n  write: {output: {pages: 3}, after: 1h}\n  tidy: {after: 1m}\n",
        );
        assert_eq!(run.state.status, RunStatus::Completed, "{:?}", run.stuck);
        assert_eq!(run.elapsed().num_seconds(), 60, "the parent did not wait");
        assert_eq!(run.children.len(), 1);
        let child = &run.children[0];
        assert_eq!(child.task_ref, "kick");
        assert_eq!(child.run.state.status, RunStatus::Completed);
        assert_eq!(
            child.run.state.tasks["write"].input,
            json!({"day": "monday"})
        );
        assert_eq!(child.run.elapsed().num_seconds(), 3600);
        assert!(events_named(&run, "child_run_ended").is_empty());
    }

    #[test]
    fn agent_served_types_are_mocked_and_scripts_run_for_real_on_their_output() {
        let flow = "
name: summarize
tasks:
  - name: ask
    taskReferenceName: ask
    type: LLM_CHAT_COMPLETE
    inputParameters: {prompt: 'summarize ${workflow.input.doc}'}
  - name: count
    taskReferenceName: count
    type: INLINE
    inputParameters:
      evaluatorType: javascript
      expression: '$.text.split(\" \").length'
      text: '${ask.output.text}'
  - name: keep
    taskReferenceName: keep
    type: SET_VARIABLE
    inputParameters: {words: '${count.output.result}'}
  - name: pick
    taskReferenceName: pick
    type: JSON_JQ_TRANSFORM
    inputParameters: {queryExpression: '.w * 10', w: '${workflow.variables.words}'}
  - {name: lost, taskReferenceName: lost}
";
        let run = run(
            flow,
            "version: 1\ninput: {doc: a.txt}\ntasks:\n  ask: {output: {text: 'three short words', prompt: '${input.prompt}'}}\n  lost: {claimed: false}\n",
        );
        assert_eq!(run.state.tasks["ask"].output["prompt"], "summarize a.txt");
        assert_eq!(run.state.tasks["count"].output["result"], 3);
        assert_eq!(run.state.variables["words"], 3);
        assert_eq!(run.state.tasks["pick"].output["result"], 30);
        // Nobody claims `lost`, and it has no poll timeout: the run waits, and says why.
        assert_eq!(run.state.status, RunStatus::Running);
        let stuck = run.stuck.clone().expect("stuck");
        assert!(
            stuck.contains("`lost` (SIMPLE, SCHEDULED, its message never claimed"),
            "{stuck}"
        );
    }
}
