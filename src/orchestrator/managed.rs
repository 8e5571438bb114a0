//! Managed agents: for every agent whose agent.yaml has a `command` or an `llm:` section (the
//! built-in LLM agent), the orchestrator runs `3ox agent run <name>` as a child process for
//! as long as it drives runs. Their output goes to `.3ox/logs/<agent>.log`.
//!
//! A managed worker must not outlive its orchestrator, also when that one is killed with
//! SIGKILL and cannot stop it: each gets a pipe as stdin whose write end only the orchestrator
//! holds (nothing is ever written), and [`MANAGED_ENV`]; the worker stops when its stdin ends,
//! which the kernel does when the orchestrator's process ends, however it ends.

use std::fs::OpenOptions;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::station::{AgentDirectory, Station};

/// Set (to the orchestrator's pid) in a managed worker's environment: it stops when its stdin
/// ends.
pub const MANAGED_ENV: &str = "THREEOX_MANAGED_BY";

/// The running workers; dropping this kills them.
pub struct ManagedAgents {
    children: Vec<(String, Child)>,
}

impl ManagedAgents {
    /// Starts a worker for each agent with a command.
    pub fn start(station: &Station, agents: &AgentDirectory) -> std::io::Result<ManagedAgents> {
        let exe = std::env::current_exe()?;
        let mut children = Vec::new();
        for (name, config) in agents.agents.iter() {
            if !config.is_managed() {
                continue;
            }
            let log_path = station.logs_dir().join(format!("{name}.log"));
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)?;
            let child = Command::new(&exe)
                .arg("--station")
                .arg(&station.root)
                .args(["agent", "run", name])
                .current_dir(&station.root)
                .stdin(Stdio::piped())
                .env(MANAGED_ENV, std::process::id().to_string())
                .stdout(log.try_clone()?)
                .stderr(log)
                .kill_on_drop(true)
                .spawn()?;
            tracing::info!(agent = %name, log = %log_path.display(), "started managed agent");
            children.push((name.clone(), child));
        }
        Ok(ManagedAgents { children })
    }

    /// How many workers run.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.children.iter().map(|(name, _)| name.as_str())
    }

    /// Stops every worker: asks it to stop (SIGTERM, so it stops the commands it runs), and
    /// kills it if it has not exited within [`GRACE`].
    pub async fn stop(mut self) {
        for (name, child) in &mut self.children {
            ask_to_stop(name, child);
        }
        for (name, child) in &mut self.children {
            if tokio::time::timeout(GRACE, child.wait()).await.is_err() {
                tracing::warn!(agent = %name, "managed agent did not stop in time; killing it");
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }
}

/// How long a managed agent may take to stop after it was asked to.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

#[cfg(unix)]
fn ask_to_stop(name: &str, child: &mut Child) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        return;
    };
    if let Err(error) = kill(Pid::from_raw(pid), Signal::SIGTERM) {
        tracing::debug!(agent = %name, %error, "managed agent already gone");
    }
}

#[cfg(not(unix))]
fn ask_to_stop(name: &str, child: &mut Child) {
    if let Err(error) = child.start_kill() {
        tracing::debug!(agent = %name, %error, "managed agent already gone");
    }
}
