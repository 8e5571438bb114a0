//! `agents/<name>/agent.yaml`: who an agent is and what it serves.
//!
//! ```yaml
//! version: 1
//! description: checks inventory folders
//! capabilities: [validate_folder]   # task names this agent serves
//! concurrency: 4                    # tasks in flight at once (default 1)
//! command: [python3, agents/inventory-checker/check_folder.py]   # optional: 3ox runs it
//! mode: per-task                    # or `persistent`: one long-lived process per slot
//! ```
//!
//! Instead of a `command`, an `llm:` section makes the agent the built-in LLM agent
//! ([`crate::llm`]): `3ox agent run` then serves it by calling a chat completions endpoint.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Station, StationError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Task names (or Conductor task types) this agent serves.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// How many tasks may be in flight at this agent at once.
    #[serde(default = "one_usize")]
    pub concurrency: usize,
    /// A command 3ox runs as a managed worker for this agent (`3ox agent run`): a list of
    /// program and arguments, or one string run by the shell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// How `3ox agent run` runs the command: once per task (default), or once per slot,
    /// speaking JSON lines (see `worker::persistent`). Not with `llm`.
    #[serde(default, skip_serializing_if = "AgentMode::is_per_task")]
    pub mode: AgentMode,
    /// Makes the agent the built-in LLM agent (no `command`): where its chat completions
    /// endpoint is and how to call it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<crate::llm::LlmSettings>,
}

/// How a worker runs an agent's command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AgentMode {
    /// One process per task: the input on stdin, the output on stdout, the exit code.
    #[default]
    PerTask,
    /// One long-lived process per slot: one JSON line in per task, one JSON line back.
    Persistent,
}

impl AgentMode {
    pub fn is_per_task(&self) -> bool {
        *self == AgentMode::PerTask
    }

    /// The name written in agent.yaml (`per-task`, `persistent`).
    pub fn name(self) -> &'static str {
        match self {
            AgentMode::PerTask => "per-task",
            AgentMode::Persistent => "persistent",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Command {
    Argv(Vec<String>),
    Shell(String),
}

impl Command {
    /// Program and arguments; a shell string runs through `sh -c` (or `cmd /C` on Windows).
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Argv(argv) => argv.clone(),
            Command::Shell(line) if cfg!(windows) => vec!["cmd".into(), "/C".into(), line.clone()],
            Command::Shell(line) => vec!["sh".into(), "-c".into(), line.clone()],
        }
    }
}

fn one() -> u32 {
    1
}

fn one_usize() -> usize {
    1
}

impl AgentConfig {
    /// Whether `3ox run` starts `3ox agent run` for this agent: it has a command or is the
    /// built-in LLM agent.
    pub fn is_managed(&self) -> bool {
        self.command.is_some() || self.llm.is_some()
    }

    /// Reads an agent.yaml: at most [`crate::mailbox::MAX_FILE_BYTES`], UTF-8, and not a
    /// document that expands through aliases past [`crate::mailbox::yaml::MAX_EXPANDED_NODES`].
    pub fn read(path: &Path) -> Result<AgentConfig, StationError> {
        let bad = |message: String| StationError::BadAgent {
            path: path.display().to_string(),
            message,
        };
        let io = |source| StationError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > crate::mailbox::MAX_FILE_BYTES {
            return Err(bad(format!(
                "the file has {len} bytes; the limit is {}",
                crate::mailbox::MAX_FILE_BYTES
            )));
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| {
                f.take(crate::mailbox::MAX_FILE_BYTES)
                    .read_to_string(&mut text)
            })
            .map_err(io)?;
        crate::mailbox::yaml::check(&text).map_err(bad)?;
        let config: AgentConfig =
            serde_yaml::from_str(&text).map_err(|e| StationError::BadAgent {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        if config.version != 1 {
            return Err(StationError::BadAgent {
                path: path.display().to_string(),
                message: format!(
                    "version {} is not supported; write version: 1",
                    config.version
                ),
            });
        }
        if config.concurrency == 0 {
            return Err(StationError::BadAgent {
                path: path.display().to_string(),
                message: "concurrency must be at least 1".into(),
            });
        }
        if config.command.is_some() && config.llm.is_some() {
            return Err(StationError::BadAgent {
                path: path.display().to_string(),
                message: "an agent has a `command` or an `llm` section, not both".into(),
            });
        }
        if config.llm.is_some() && config.mode == AgentMode::Persistent {
            return Err(StationError::BadAgent {
                path: path.display().to_string(),
                message: "`mode: persistent` is for a `command`; an agent with an `llm` section is served by 3ox itself, so remove `mode` (or the `llm` section)".into(),
            });
        }
        if let Some(llm) = &config.llm {
            llm.check().map_err(|message| StationError::BadAgent {
                path: path.display().to_string(),
                message,
            })?;
        }
        if matches!(&config.command, Some(Command::Argv(argv)) if argv.is_empty()) {
            return Err(StationError::BadAgent {
                path: path.display().to_string(),
                message: "command is an empty list".into(),
            });
        }
        Ok(config)
    }
}

/// The agents of a station, by name. Clones share the map: `3ox up` gives every run it
/// drives the directory as it read it, and a copy per run cost 50 KB with 100 agents.
#[derive(Debug, Clone, Default)]
pub struct AgentDirectory {
    pub agents: std::sync::Arc<BTreeMap<String, AgentConfig>>,
}

impl AgentDirectory {
    pub fn load(station: &Station) -> Result<AgentDirectory, StationError> {
        let mut agents = BTreeMap::new();
        let dir = station.agents_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AgentDirectory::default());
            }
            Err(source) => {
                return Err(StationError::Io {
                    action: "list",
                    path: dir.display().to_string(),
                    source,
                });
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let config_path = path.join("agent.yaml");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.')
                || !entry.file_type().is_ok_and(|t| t.is_dir())
                || !config_path.is_file()
            {
                continue;
            }
            // The folder name is the agent's name: it goes into messages, journals and paths.
            let problem = match entry.file_name().to_str() {
                None => Some("it is not UTF-8"),
                Some(name) => crate::mailbox::name_problem(name),
            };
            if let Some(problem) = problem {
                return Err(StationError::BadAgent {
                    path: format!("{}/{}", dir.display(), crate::mailbox::display_name(&path)),
                    message: format!(
                        "the folder name is not usable as an agent name: {problem}; rename the folder (letters, digits, `-` and `_` are safe)"
                    ),
                });
            }
            let config = AgentConfig::read(&config_path)?;
            for sub in [station.inbox(&name), station.outbox(&name)] {
                super::create_mail_dir(&sub).map_err(|source| StationError::Io {
                    action: "create",
                    path: sub.display().to_string(),
                    source,
                })?;
            }
            agents.insert(name, config);
        }
        Ok(AgentDirectory {
            agents: std::sync::Arc::new(agents),
        })
    }

    pub fn get(&self, name: &str) -> Option<&AgentConfig> {
        self.agents.get(name)
    }

    /// Agents that serve `task_name`, in name order.
    pub fn serving<'a>(
        &'a self,
        task_name: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a AgentConfig)> + 'a {
        self.agents
            .iter()
            .filter(move |(_, a)| a.capabilities.iter().any(|c| c == task_name))
    }
}
