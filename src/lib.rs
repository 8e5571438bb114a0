//! 3ox: durable Conductor-style workflows over a filesystem mailbox.
//!
//! # Theory of operation
//!
//! Follow one SIMPLE task from its definition to the journal and back.
//!
//! 1. **Definition** ([`definition`]). `3ox run flow.yaml` loads the workflow file:
//!    [`definition::source`] parses the YAML and remembers the line and column of every node,
//!    [`definition::validate`] collects every mistake with a hint, and only a clean file
//!    becomes a typed [`definition::WorkflowDef`].
//! 2. **Decision** ([`engine`]). The engine is a pure state machine: given a run's state, an
//!    input (start, a reply, a timer) and a context (the clock, an id source, the station's
//!    agents), [`engine::step`] returns the state *changes* ([`engine::Change`]) that follow:
//!    "task `check` attempt 1 is scheduled to agent `checker` with this input". Input
//!    mapping (`${workflow.input.x}`) is done here by [`expr`]. Each task type's rules live in
//!    their own file under `engine/tasks/`.
//! 3. **Journal** ([`journal`]). The orchestrator appends the changes to the run's journal
//!    (`.3ox/runs/<run>.journal.yaml`) under an exclusive file lock, fsyncs, and only then acts
//!    on them. Replaying a journal folds the same changes with [`engine::apply`] and rebuilds
//!    exactly the live state.
//! 4. **Inbox** ([`mailbox::message`]). For a scheduled task the orchestrator writes a task
//!    message into `agents/<agent>/1N.3OX/<task_id>.task.yaml` atomically (dot name, fsync,
//!    rename, fsync the folder) with [`mailbox::atomic`]. The message says how to reply.
//! 5. **Agent** (any process; [`worker`] turns a command into one). It reads the message, does
//!    the work and writes a reply into `agents/<agent>/0UT.3OX/` the same atomic way.
//! 6. **Reply** ([`mailbox::reply`], [`orchestrator`]). One notify watcher per process, the
//!    station runtime ([`orchestrator::runtime`]), routes each new outbox file to the run
//!    that owns the task it is named after; that run's actor parses the reply and feeds it to
//!    [`engine::step`]. A valid reply becomes a
//!    `task_completed` or `task_failed` change (with a retry time from the task's retry
//!    policy); a bad one becomes `reply_rejected` and the file moves into `rejected/` with a
//!    note. Only after the journal append is durable does the reply move into `done/`.
//! 7. **Journal again**, and the loop goes on until the engine emits `run_completed` or
//!    `run_failed`. [`orchestrator::snapshot`] keeps a readable
//!    summary of each run in `.3ox/state/`.
//!
//! A reply is applied only to the attempt in flight: it must carry that attempt's task id and
//! token and sit in the outbox of the agent the task went to; anything else is refused with a
//! reason ([`engine`]'s `on_reply`, [`mailbox::reply`]). A HUMAN task goes the same way with an
//! approval request in the approver's inbox and an approval file in its outbox
//! ([`mailbox::approval`], `engine/tasks/human.rs`).
//!
//! **Crashes.** One process drives a run at a time: it holds an flock on the run's lock file
//! ([`orchestrator::ownership`]). After kill -9, the next driver (`3ox resume`, `3ox up`)
//! cuts a torn journal tail, replays, delivers again what was journaled but never delivered,
//! and goes on ([`orchestrator::resume_run`]); timers are times in the journal.
//!
//! **Operations.** `3ox pause`, `terminate`, `skip`, `retry`, `rerun`, `restart` and
//! `resume RUN` become an [`engine::Input::Control`] that the engine checks
//! ([`engine::control`]) and turns into journaled changes that say who asked. The command
//! applies it itself under the run's lock when nobody drives the run, else leaves a request
//! file in `.3ox/control/<run>/` that the driver applies ([`orchestrator::control`]).
//!
//! **The other task types.** Most of Conductor's types never leave the engine: SWITCH,
//! DO_WHILE (iterations run as `ref__N`), INLINE and JSON_JQ_TRANSFORM (JavaScript in an
//! embedded QuickJS sandbox, jq in a child process, both with budgets: [`expr::script`]),
//! SET_VARIABLE, TERMINATE, EXCLUSIVE_JOIN, DYNAMIC, NOOP. They decide during the walk and
//! journal what they decided, so a replay reads the result instead of computing it again.
//! Types that touch the outside world are decided by the engine and carried out by the
//! orchestrator, which feeds the outcome back as an [`engine::Input`]: an HTTP call
//! ([`orchestrator::http`]), an EVENT message file ([`orchestrator::event`]), a child run for
//! SUB_WORKFLOW, START_WORKFLOW and `failureWorkflow` ([`orchestrator::children`]). WAIT,
//! `startDelay`, timeouts and approval deadlines are times in the state
//! ([`engine::timeouts`]); [`engine::RunState::next_wakeup`] is the one timer the driver arms.
//! Conductor system types 3ox does not run (LLM, MCP, Kafka, ...) go to agents that declare
//! them, like SIMPLE tasks; the LLM agent that ships with 3ox ([`llm`]) serves the LLM ones
//! from an OpenAI-compatible endpoint. `3ox test --mock` drives the same engine in memory on a simulated
//! clock ([`testing`]).
//!
//! **Schedules and models.** `3ox up` also fires `schedules/*.yaml` ([`schedule`]: each slot
//! at most once, its run id derived from the schedule and the slot); `3ox mcp` serves an
//! agent's mailbox to a model as MCP tools ([`mcp`]).
//! `3ox conductor` moves the same definitions and agents onto a Conductor cluster: it
//! registers the exported workflows and serves the cluster's task queues through the agents'
//! mailboxes ([`conductor`]).
//!
//! Stations, agents and their `agent.yaml` are in [`station`]; the template library in
//! [`templates`]; read-only views of runs in
//! [`query`], with the terminal dashboard over them (`3ox top`) in [`tui`] and the web
//! dashboard (`3ox serve`) in [`web`]; `doctor` and `gc` in [`maintenance`]; Conductor
//! import, export and the JSON
//! Schema in [`definition`]; the command line is in [`cli`].

pub mod cli;
pub mod conductor;
pub mod definition;
pub mod engine;
pub mod expr;
pub mod generate;
pub mod graph;
pub mod journal;
pub mod llm;
pub mod mailbox;
pub mod maintenance;
pub mod mcp;
pub mod orchestrator;
pub mod query;
pub mod schedule;
pub mod station;
pub mod templates;
pub mod testing;
pub mod tui;
pub mod web;
pub mod worker;

#[cfg(test)]
mod proptests;
