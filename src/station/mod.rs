//! A station: the folder tree 3ox works on, and the agents registered in it.
//!
//! ```text
//! agents/<name>/agent.yaml   an agent: capabilities, concurrency, optional command
//! agents/<name>/1N.3OX/      its inbox (task messages)
//! agents/<name>/0UT.3OX/     its outbox (replies)
//! stations/                  other stations
//! templates/                 reusable workflow definitions
//! schedules/                 schedules `3ox up` fires (docs/schedules.md)
//! .3ox/                      journals, state snapshot, locks, logs (runtime data)
//! ```

pub mod agent;
pub mod example;
pub mod liveness;
pub mod start_keys;

use std::path::{Path, PathBuf};

pub use agent::{AgentConfig, AgentDirectory, AgentMode};

/// Runtime data folder of a station.
pub const RUNTIME_DIR: &str = ".3ox";

/// A station root.
#[derive(Debug, Clone)]
pub struct Station {
    pub root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error("no station found at {start} or above it")]
    NotFound { start: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadAgent { path: String, message: String },
}

impl StationError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            StationError::NotFound { .. } => {
                Some("run `3ox init` to make one, or pass --station DIR")
            }
            StationError::BadAgent { .. } => Some("see docs/protocol.md for the agent.yaml format"),
            StationError::Io { .. } => None,
        }
    }
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StationError + 'a {
    move |source| StationError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// The mode 3ox gives the folders others write into (mailboxes, control folders): only the
/// owner may write, whatever the umask (see `docs/security.md`).
pub const MAIL_DIR_MODE: u32 = 0o755;

/// Creates `dir` (and missing parents) with [`MAIL_DIR_MODE`] for the folders it creates; a
/// folder that exists is left as it is (`3ox doctor` reports one others may write).
pub fn create_mail_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(MAIL_DIR_MODE);
    }
    builder.create(dir)?;
    // The umask may have taken bits away, never added them; set the mode exactly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(MAIL_DIR_MODE))?;
    }
    Ok(())
}

impl Station {
    /// Finds the station containing `start`: the nearest folder at or above it with a `.3ox/`
    /// or an `agents/` folder.
    pub fn discover(start: &Path) -> Result<Station, StationError> {
        let start = std::path::absolute(start).map_err(io("resolve", start))?;
        for dir in start.ancestors() {
            if dir.join(RUNTIME_DIR).is_dir() || dir.join("agents").is_dir() {
                return Ok(Station {
                    root: dir.to_path_buf(),
                });
            }
        }
        Err(StationError::NotFound {
            start: start.display().to_string(),
        })
    }

    /// Opens `root` as a station without searching.
    pub fn at(root: &Path) -> Result<Station, StationError> {
        let root = std::path::absolute(root).map_err(io("resolve", root))?;
        Ok(Station { root })
    }

    /// Makes the station layout at `root` (folders that exist are kept).
    pub fn init(root: &Path) -> Result<Station, StationError> {
        for sub in [
            "agents",
            "stations",
            "templates",
            RUNTIME_DIR,
            ".3ox/runs",
            ".3ox/logs",
            ".3ox/control",
        ] {
            let dir = root.join(sub);
            create_mail_dir(&dir).map_err(io("create", &dir))?;
        }
        let ignore = root.join(RUNTIME_DIR).join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "# runtime data of this station\n*\n")
                .map_err(io("write", &ignore))?;
        }
        Station::at(root)
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.root.join(RUNTIME_DIR)
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.runtime_dir().join("runs")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.runtime_dir().join("logs")
    }

    /// The folder of the runs' snapshot entries, one file per run.
    pub fn snapshot_dir(&self) -> PathBuf {
        self.runtime_dir().join("state")
    }

    /// Where snapshots of version 1 kept every run in one file; `3ox doctor` removes it.
    pub fn legacy_snapshot_path(&self) -> PathBuf {
        self.runtime_dir().join("workflow.state.yaml")
    }

    pub fn agents_dir(&self) -> PathBuf {
        self.root.join("agents")
    }

    pub fn agent_dir(&self, name: &str) -> PathBuf {
        self.agents_dir().join(name)
    }

    pub fn inbox(&self, agent: &str) -> PathBuf {
        self.agent_dir(agent).join(crate::mailbox::INBOX)
    }

    pub fn outbox(&self, agent: &str) -> PathBuf {
        self.agent_dir(agent).join(crate::mailbox::OUTBOX)
    }

    /// A path relative to the station root, with `/` separators, for files agents read.
    pub fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Ensures the runtime folders exist.
    pub fn prepare_runtime(&self) -> Result<(), StationError> {
        for dir in [self.runs_dir(), self.logs_dir()] {
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        }
        Ok(())
    }

    /// Reads every `agents/<name>/agent.yaml`, creating missing mailbox folders.
    pub fn agents(&self) -> Result<AgentDirectory, StationError> {
        AgentDirectory::load(self)
    }
}
