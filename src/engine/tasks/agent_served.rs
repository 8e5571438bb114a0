//! Conductor system types served by agents (LLM_*, KAFKA_PUBLISH, JDBC, ...) through the mailbox.
//!
//! 3ox does not call language models, brokers or databases itself. A task of one of these
//! types ([`crate::definition::AGENT_SERVED_TYPES`]) goes to an agent of the station that
//! lists the *type name* among its capabilities (an LLM agent lists `LLM_CHAT_COMPLETE`), or to
//! the agent named in `agent:`, exactly like a SIMPLE task: same message (which says the type
//! in `type:`), same reply, same retries. `3ox validate` in a station and `3ox run` / `3ox
//! start` refuse a workflow whose type no agent serves (see `orchestrator::io_preflight`).

use crate::definition::{TaskDef, TaskKind};
use crate::engine::walk::{Progress, Walker};

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    super::simple::walk(w, task, None)
}

/// The capability an agent must declare to serve `task`: the type name for an agent-served
/// type, the task's `name` for a SIMPLE task.
pub fn capability(task: &TaskDef) -> &str {
    match task.kind() {
        TaskKind::AgentServed(type_name) => type_name,
        _ => &task.name,
    }
}
