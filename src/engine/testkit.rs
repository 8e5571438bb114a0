//! The engine's unit-test kit: a run driven by hand with plain values (no files, no clock,
//! no processes). [`Driver`] holds the state, the agents, the time and the id counter, feeds
//! inputs and commands through [`step`] and [`command`](super::command), and keeps every
//! change with its time so a test can check that replaying them rebuilds the live state.
//! Each test file names its own [`Sim`] (`type Sim = testkit::Sim<Marker>` with a marker
//! type of its own) and adds the helpers its task type needs in an `impl Sim` block.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::control::{self, Action, ControlError};
use super::{Change, Ctx, Input, RunState, step};
use crate::definition::WorkflowDef;
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::station::{AgentConfig, AgentDirectory};

/// When every simulated run starts: 2026-01-01 00:00 UTC.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// An agents directory: `(name, capabilities, concurrency)` per agent.
pub(crate) fn agents(list: &[(&str, &[&str], usize)]) -> AgentDirectory {
    let mut dir = AgentDirectory::default();
    for (name, caps, concurrency) in list {
        let config = AgentConfig {
            version: 1,
            description: None,
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            concurrency: *concurrency,
            command: None,
            mode: Default::default(),
            llm: None,
        };
        std::sync::Arc::make_mut(&mut dir.agents).insert(name.to_string(), config);
    }
    dir
}

/// The workflow in `yaml`, checked as `3ox run` checks it (panics with the diagnostics).
pub(crate) fn workflow(yaml: &str) -> Arc<WorkflowDef> {
    Arc::new(
        crate::definition::parse_str(yaml, std::path::Path::new("test.yaml"))
            .unwrap_or_else(|e| panic!("{e:?}")),
    )
}

/// A person's operation on a run with every optional field empty; set the ones a test needs
/// with struct update syntax (`Command { task: Some("a".into()), ..command(Skip, "ann") }`).
pub(crate) fn command(action: Action, by: &str) -> control::Command {
    control::Command {
        action,
        by: by.into(),
        uid: None,
        reason: None,
        task: None,
        new_run_id: None,
        completion: None,
    }
}

/// An agent's reply to `task_id` with every optional field empty; set the ones a test needs
/// with struct update syntax (`Reply { token, ..reply(id, status, output) }`).
pub(crate) fn reply(task_id: impl Into<String>, status: ReplyStatus, output: Value) -> Reply {
    Reply {
        version: 1,
        task_id: task_id.into(),
        status,
        output,
        reason: None,
        run_id: None,
        token: None,
        logs: Vec::new(),
    }
}

/// A run driven by hand, recording every change with its time.
pub(crate) struct Driver {
    pub(crate) state: RunState,
    pub(crate) agents: AgentDirectory,
    pub(crate) now: DateTime<Utc>,
    /// How many ids have been handed out (ids are deterministic: made from this counter).
    pub(crate) ids: u64,
    pub(crate) log: Vec<(Change, DateTime<Utc>)>,
}

impl Driver {
    /// A run of `flow` started at [`t0`] with `input`.
    pub(crate) fn start(flow: Arc<WorkflowDef>, input: Value, agents: AgentDirectory) -> Driver {
        let mut driver = Driver {
            state: RunState::default(),
            agents,
            now: t0(),
            ids: 0,
            log: Vec::new(),
        };
        driver.input(Input::Start {
            run_id: "RUN".into(),
            source: "test.yaml".into(),
            workflow: flow,
            input,
        });
        driver
    }

    /// Runs `f` with the state and an engine context at the current time.
    pub(crate) fn with_ctx<T>(&mut self, f: impl FnOnce(&mut RunState, &mut Ctx<'_>) -> T) -> T {
        let mut counter = self.ids;
        let mut new_id = || {
            counter += 1;
            ulid::Ulid::from_parts(counter, u128::from(counter) * 7919)
        };
        let mut ctx = Ctx {
            now: self.now,
            agents: &self.agents,
            new_id: &mut new_id,
            load: &crate::engine::no_load,
        };
        let result = f(&mut self.state, &mut ctx);
        self.ids = counter;
        result
    }

    fn record(&mut self, changes: &[Change]) {
        let now = self.now;
        self.log.extend(changes.iter().map(|c| (c.clone(), now)));
    }

    /// Feeds one input through [`step`] and records its changes.
    pub(crate) fn input(&mut self, input: Input) -> Vec<Change> {
        let changes = self.with_ctx(|state, ctx| step(state, input, ctx));
        self.record(&changes);
        changes
    }

    /// A person's operation, checked first as the CLI does; records the changes if it applies.
    pub(crate) fn command(
        &mut self,
        command: control::Command,
    ) -> Result<Vec<Change>, ControlError> {
        let result = self.with_ctx(|state, ctx| super::command(state, command, ctx));
        if let Ok(changes) = &result {
            self.record(changes);
        }
        result
    }

    /// The token issued with task id `task_id` (the task's current one, or none).
    pub(crate) fn token_of(&self, task_id: &str) -> Option<String> {
        self.log.iter().find_map(|(c, _)| match c {
            Change::TaskScheduled {
                task_id: id, token, ..
            } if id == task_id => Some(token.clone()),
            _ => None,
        })
    }

    /// Why the run failed (or was terminated); panics when it has not.
    pub(crate) fn failure_reason(&self) -> &str {
        let failure = self.state.failure.as_ref();
        &failure
            .unwrap_or_else(|| panic!("the run has not failed"))
            .reason
    }

    /// The state that replaying the recorded changes gives.
    pub(crate) fn replayed(&self) -> RunState {
        RunState::replay(self.log.iter().map(|(c, at)| (c, *at)))
    }

    /// Replays the journal (through YAML, as the journal stores it) and checks it rebuilds
    /// exactly the live state.
    pub(crate) fn assert_replays(&self) {
        let decoded: Vec<(Change, DateTime<Utc>)> = self
            .log
            .iter()
            .map(|(c, at)| {
                let yaml = serde_yaml::to_string(c).unwrap();
                (serde_yaml::from_str(&yaml).unwrap(), *at)
            })
            .collect();
        assert_eq!(decoded, self.log, "changes survive the journal's YAML");
        let replayed = RunState::replay(decoded.iter().map(|(c, at)| (c, *at)));
        assert_eq!(replayed, self.state);
    }
}

/// A test file's simulated run: a [`Driver`] (reached through `Deref`), tagged with a type
/// `F` of that file so that each file's `impl Sim<F>` helpers stay its own.
pub(crate) struct Sim<F> {
    driver: Driver,
    file: std::marker::PhantomData<F>,
}

impl<F> Sim<F> {
    pub(crate) fn new(driver: Driver) -> Self {
        Sim {
            driver,
            file: std::marker::PhantomData,
        }
    }
}

impl<F> Deref for Sim<F> {
    type Target = Driver;
    fn deref(&self) -> &Driver {
        &self.driver
    }
}

impl<F> DerefMut for Sim<F> {
    fn deref_mut(&mut self) -> &mut Driver {
        &mut self.driver
    }
}
