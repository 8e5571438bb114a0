//! `3ox mcp --agent NAME`: one agent's mailbox as an MCP server over stdio (docs/mcp.md).
//!
//! A model (through any MCP client) serves the tasks delivered to agent NAME the way a file
//! agent does, with five tools: `list_tasks` (the waiting messages, a few at a time, bodies
//! on request), `get_task`, `claim_task` (the claim of `3ox agent run`: a rename into
//! `1N.3OX/claimed/`, then a lock held while the task is this session's; a claimed message
//! whose worker died is offered and claimed again), `heartbeat` (an
//! IN_PROGRESS reply `<task_id>.hb-<n>.yaml`) and `reply` (the final reply
//! `<task_id>.reply.yaml`, checked as 3ox checks a reply file before it is written, so a bad
//! one comes back as an error the model can fix). A reply or heartbeat needs a task this
//! session claimed. HUMAN approval requests are not tasks here: no tool lists, claims or
//! answers them (the Commander approves with `3ox approve`).
//!
//! The mailbox logic is [`AgentMailbox`] (plain methods returning `Result<Value, String>`);
//! [`Server`] is the thin rmcp layer over it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::mailbox::atomic::{self, Durability};
use crate::mailbox::message::TaskMessage;
use crate::mailbox::reply::{REPLY_VERSION, Reply, ReplyStatus};
use crate::mailbox::{CLAIMED, DONE};
use crate::station::Station;

/// The most tasks one `list_tasks` call returns.
pub const MAX_LIST: usize = 20;

/// A task this session claimed: its message and the lock held on it.
struct Claim {
    message: TaskMessage,
    _lock: std::fs::File,
}

/// One agent's inbox and outbox, served to a model.
pub struct AgentMailbox {
    agent: String,
    inbox: PathBuf,
    outbox: PathBuf,
    claims: Mutex<HashMap<String, Claim>>,
}

/// Locks a claimed message as `3ox agent run` does: an exclusive test, then a shared lock
/// kept while the claim lives; `None` when another process holds it.
fn lock_message(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    let file = std::fs::File::open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    file.unlock()?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

fn task_id_of(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()?.strip_suffix(".task.yaml")
}

fn summary(message: &TaskMessage, bodies: bool) -> Value {
    let mut line = json!({
        "task_id": message.task_id,
        "task": message.task,
        "task_ref": message.task_ref,
        "type": message.task_type,
        "workflow": message.workflow,
        "run_id": message.run_id,
        "attempt": message.attempt,
        "created_at": message.created_at,
    });
    if bodies {
        line["input"] = message.input.clone();
    }
    line
}

impl AgentMailbox {
    /// The mailbox of agent `agent` (it must be registered in the station).
    pub fn open(station: &Station, agent: &str) -> Result<AgentMailbox, String> {
        let agents = station.agents().map_err(|e| e.to_string())?;
        if agents.get(agent).is_none() {
            return Err(format!(
                "no agent `{agent}` in this station; make agents/{agent}/agent.yaml (docs/protocol.md)"
            ));
        }
        Ok(AgentMailbox {
            agent: agent.to_string(),
            inbox: station.inbox(agent),
            outbox: station.outbox(agent),
            claims: Mutex::new(HashMap::new()),
        })
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<String, Claim>> {
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The task messages waiting: in the inbox, and claimed ones that no live worker holds
    /// and that have no final reply (a worker died on them; `3ox agent run` takes those up
    /// again too), oldest first.
    fn waiting(&self) -> Result<Vec<(PathBuf, TaskMessage)>, String> {
        let mut files = crate::mailbox::list_mail(&self.inbox)
            .map_err(|e| format!("cannot list {}: {e}", self.inbox.display()))?;
        let mine: Vec<String> = self.claims().keys().cloned().collect();
        files.extend(
            crate::mailbox::list_mail(&self.inbox.join(CLAIMED))
                .unwrap_or_default()
                .into_iter()
                .filter(|p| task_id_of(p).is_some_and(|id| !mine.iter().any(|m| m == id)))
                .filter(|p| self.orphaned(p)),
        );
        let mut found: Vec<(PathBuf, TaskMessage)> = files
            .into_iter()
            .filter(|p| task_id_of(p).is_some())
            .filter_map(|p| TaskMessage::read(&p).ok().map(|m| (p, m)))
            .collect();
        found.sort_by(|a, b| a.1.task_id.cmp(&b.1.task_id));
        Ok(found)
    }

    /// Whether a claimed message was left by a worker that is gone: no lock on it, and no
    /// final reply.
    fn orphaned(&self, claimed: &Path) -> bool {
        let Some(task_id) = task_id_of(claimed) else {
            return false;
        };
        let name = format!("{task_id}.reply.yaml");
        if self.outbox.join(&name).exists() || self.outbox.join(DONE).join(&name).exists() {
            return false;
        }
        std::fs::File::open(claimed).is_ok_and(|file| match file.try_lock() {
            Ok(()) => file.unlock().is_ok(),
            Err(_) => false,
        })
    }

    /// `list_tasks`: up to `limit` waiting tasks after the task id `after`.
    pub fn list_tasks(
        &self,
        limit: Option<usize>,
        after: Option<&str>,
        bodies: bool,
    ) -> Result<Value, String> {
        let limit = limit.unwrap_or(5).clamp(1, MAX_LIST);
        let waiting = self.waiting()?;
        let rest: Vec<&TaskMessage> = waiting
            .iter()
            .map(|(_, m)| m)
            .filter(|m| after.is_none_or(|a| m.task_id.as_str() > a))
            .collect();
        let tasks: Vec<Value> = rest
            .iter()
            .take(limit)
            .map(|m| summary(m, bodies))
            .collect();
        let mut claimed: Vec<String> = self.claims().keys().cloned().collect();
        claimed.sort();
        Ok(json!({
            "agent": self.agent,
            "tasks": tasks,
            "more": rest.len() > limit,
            "claimed_by_you": claimed,
        }))
    }

    /// `get_task`: one task, waiting or claimed by this session, with its input.
    pub fn get_task(&self, task_id: &str) -> Result<Value, String> {
        if let Some(claim) = self.claims().get(task_id) {
            let mut task = summary(&claim.message, true);
            task["claimed_by_you"] = json!(true);
            return Ok(task);
        }
        let path = self.inbox.join(TaskMessage::file_name(task_id));
        let left = self
            .inbox
            .join(CLAIMED)
            .join(TaskMessage::file_name(task_id));
        let path = if path.is_file() || !self.orphaned(&left) {
            path
        } else {
            left
        };
        if crate::mailbox::name_problem(task_id).is_none() && path.is_file() {
            let message = TaskMessage::read(&path)?;
            let mut task = summary(&message, true);
            task["claimed_by_you"] = json!(false);
            return Ok(task);
        }
        Err(self.unknown(task_id))
    }

    fn unknown(&self, task_id: &str) -> String {
        let approval = self
            .inbox
            .join(crate::mailbox::approval::ApprovalRequest::file_name(
                task_id,
            ));
        if crate::mailbox::name_problem(task_id).is_none() && approval.is_file() {
            return format!(
                "`{task_id}` is a HUMAN approval request: no tool can answer it; the Commander approves or rejects it (`3ox approve`)"
            );
        }
        if crate::mailbox::name_problem(task_id).is_none()
            && self
                .inbox
                .join(CLAIMED)
                .join(TaskMessage::file_name(task_id))
                .is_file()
        {
            return format!(
                "task `{task_id}` is claimed by another worker of agent `{}`",
                self.agent
            );
        }
        format!(
            "no task `{task_id}` waits for agent `{}`; call list_tasks for the waiting ones",
            self.agent
        )
    }

    /// `claim_task`: the claim of a file agent: rename into `claimed/`, then hold a lock.
    pub fn claim_task(&self, task_id: &str) -> Result<Value, String> {
        if self.claims().contains_key(task_id) {
            return self.get_task(task_id);
        }
        if crate::mailbox::name_problem(task_id).is_some() {
            return Err(self.unknown(task_id));
        }
        let path = self.inbox.join(TaskMessage::file_name(task_id));
        let left = self
            .inbox
            .join(CLAIMED)
            .join(TaskMessage::file_name(task_id));
        let (message, claimed) = if let Ok(message) = TaskMessage::read(&path) {
            match crate::mailbox::move_into(&path, CLAIMED) {
                Ok(claimed) => (message, claimed),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(format!(
                        "task `{task_id}` was claimed by another worker just now"
                    ));
                }
                Err(e) => return Err(format!("cannot claim task `{task_id}`: {e}")),
            }
        } else if self.orphaned(&left)
            && let Ok(message) = TaskMessage::read(&left)
        {
            // Left claimed by a worker that died: taken up again, as `3ox agent run` does.
            (message, left)
        } else {
            return Err(self.unknown(task_id));
        };
        let lock = lock_message(&claimed)
            .map_err(|e| format!("cannot lock the claimed task `{task_id}`: {e}"))?
            .ok_or_else(|| format!("task `{task_id}` is claimed by another worker"))?;
        let task = summary(&message, true);
        self.claims().insert(
            task_id.to_string(),
            Claim {
                message,
                _lock: lock,
            },
        );
        Ok(task)
    }

    fn claimed(&self, task_id: &str) -> Result<TaskMessage, String> {
        self.claims()
            .get(task_id)
            .map(|c| c.message.clone())
            .ok_or_else(|| {
                format!(
                    "you have not claimed task `{task_id}`; call claim_task first (a reply or heartbeat needs a task this session claimed)"
                )
            })
    }

    /// `heartbeat`: an IN_PROGRESS reply for a claimed task.
    pub fn heartbeat(&self, task_id: &str, note: Option<String>) -> Result<Value, String> {
        let message = self.claimed(task_id)?;
        let name = |n: u64| format!("{task_id}.hb-{n}.yaml");
        let mut n = 1;
        while self.outbox.join(name(n)).exists() || self.outbox.join(DONE).join(name(n)).exists() {
            n += 1;
        }
        let reply = Reply {
            version: REPLY_VERSION,
            task_id: task_id.to_string(),
            status: ReplyStatus::InProgress,
            output: json!({}),
            reason: Some(note.unwrap_or_else(|| "working on it".to_string())),
            run_id: Some(message.run_id.clone()),
            token: Some(message.token.clone()),
            logs: vec![],
        };
        self.write(&name(n), &reply)?;
        Ok(json!({ "task_id": task_id, "heartbeat": n }))
    }

    /// `reply`: the final reply of a claimed task, checked as a reply file is checked.
    pub fn reply(
        &self,
        task_id: &str,
        status: &str,
        output: Option<Value>,
        reason: Option<String>,
        logs: Vec<String>,
    ) -> Result<Value, String> {
        let message = self.claimed(task_id)?;
        let status: ReplyStatus = serde_json::from_value(json!(status)).map_err(|_| {
            format!("status `{status}` is not one of COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR")
        })?;
        if status == ReplyStatus::InProgress {
            return Err(
                "a final reply cannot be IN_PROGRESS; call heartbeat while working".to_string(),
            );
        }
        let reply = Reply {
            version: REPLY_VERSION,
            task_id: task_id.to_string(),
            status,
            output: output.unwrap_or_else(|| json!({})),
            reason,
            run_id: Some(message.run_id.clone()),
            token: Some(message.token.clone()),
            logs,
        };
        // The checks 3ox makes of a reply file, before anything is written.
        let text = crate::mailbox::yaml::to_string(&reply)
            .map_err(|e| format!("the reply was refused: {e}"))?;
        Reply::parse(&text).map_err(|e| {
            format!(
                "the reply was refused: {e}; fix it and call reply again (the task is still yours)"
            )
        })?;
        if let Some(problem) = crate::mailbox::limits::input_problem("`output`", &reply.output) {
            return Err(format!(
                "the reply was refused: {problem}; fix it and call reply again (the task is still yours)"
            ));
        }
        self.write(&format!("{task_id}.reply.yaml"), &reply)?;
        self.claims().remove(task_id);
        Ok(json!({ "task_id": task_id, "status": reply.status, "written": true }))
    }

    fn write(&self, name: &str, reply: &Reply) -> Result<(), String> {
        let path = self.outbox.join(name);
        atomic::write(&path, reply.to_yaml().as_bytes(), Durability::Durable)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// `list_tasks` parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListTasks {
    /// How many tasks to return (default 5, at most 20).
    pub limit: Option<usize>,
    /// Return the tasks after this task id (for the next page).
    pub after: Option<String>,
    /// Include each task's input (default false: call get_task for one).
    pub bodies: Option<bool>,
}

/// A task id.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TaskId {
    /// The task id (from list_tasks).
    pub task_id: String,
}

/// `heartbeat` parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Heartbeat {
    /// A task this session claimed.
    pub task_id: String,
    /// What you are doing, for the people watching.
    pub note: Option<String>,
}

/// `reply` parameters.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReplyArgs {
    /// A task this session claimed.
    pub task_id: String,
    /// COMPLETED, FAILED (retried if the task allows) or FAILED_WITH_TERMINAL_ERROR.
    pub status: String,
    /// The task's output: an object.
    pub output: Option<Value>,
    /// Why it failed (for FAILED).
    pub reason: Option<String>,
    /// Log lines to keep with the reply.
    pub logs: Option<Vec<String>>,
}

fn text(result: Result<Value, String>) -> Result<String, String> {
    result.map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// The MCP server over an [`AgentMailbox`].
pub struct Server {
    mailbox: std::sync::Arc<AgentMailbox>,
    tool_router: ToolRouter<Self>,
}

impl Clone for Server {
    fn clone(&self) -> Self {
        Server {
            mailbox: self.mailbox.clone(),
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router]
impl Server {
    pub fn new(mailbox: AgentMailbox) -> Server {
        Server {
            mailbox: std::sync::Arc::new(mailbox),
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "List the tasks waiting for this agent, oldest first, a few at a time (ids and names; bodies=true adds each input). `more` says whether another page follows (pass the last task_id as `after`)."
    )]
    async fn list_tasks(&self, Parameters(p): Parameters<ListTasks>) -> Result<String, String> {
        text(
            self.mailbox
                .list_tasks(p.limit, p.after.as_deref(), p.bodies.unwrap_or(false)),
        )
    }

    #[tool(description = "One task with its input: a waiting one, or one you claimed.")]
    async fn get_task(&self, Parameters(p): Parameters<TaskId>) -> Result<String, String> {
        text(self.mailbox.get_task(&p.task_id))
    }

    #[tool(
        description = "Claim a waiting task so that no other worker takes it; then work on it and call reply (and heartbeat while it takes long)."
    )]
    async fn claim_task(&self, Parameters(p): Parameters<TaskId>) -> Result<String, String> {
        text(self.mailbox.claim_task(&p.task_id))
    }

    #[tool(
        description = "Say that you are still working on a task you claimed (an IN_PROGRESS reply)."
    )]
    async fn heartbeat(&self, Parameters(p): Parameters<Heartbeat>) -> Result<String, String> {
        text(self.mailbox.heartbeat(&p.task_id, p.note))
    }

    #[tool(
        description = "The final reply to a task you claimed: status COMPLETED with an output object, or FAILED / FAILED_WITH_TERMINAL_ERROR with a reason. A reply that 3ox would refuse comes back as an error saying what to fix."
    )]
    async fn reply(&self, Parameters(p): Parameters<ReplyArgs>) -> Result<String, String> {
        text(self.mailbox.reply(
            &p.task_id,
            &p.status,
            p.output,
            p.reason,
            p.logs.unwrap_or_default(),
        ))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Serves agent `agent` of `station` over stdin/stdout until the client closes it.
pub async fn serve_stdio(station: &Station, agent: &str) -> anyhow::Result<()> {
    use rmcp::ServiceExt as _;
    let mailbox = AgentMailbox::open(station, agent).map_err(anyhow::Error::msg)?;
    let service = Server::new(mailbox).serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
