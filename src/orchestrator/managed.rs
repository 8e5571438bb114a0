//! Managed agents: for every agent whose agent.yaml has a `command`, the orchestrator runs
//! `3ox agent run <name>` as a child process for as long as it drives runs. Their output goes
//! to `.3ox/logs/<agent>.log`.

use std::fs::OpenOptions;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::station::{AgentDirectory, Station};

/// The running workers; dropping this kills them.
pub struct ManagedAgents {
    children: Vec<(String, Child)>,
}

impl ManagedAgents {
    /// Starts a worker for each agent with a command.
    pub fn start(station: &Station, agents: &AgentDirectory) -> std::io::Result<ManagedAgents> {
        let exe = std::env::current_exe()?;
        let mut children = Vec::new();
        for (name, config) in &agents.agents {
            if config.command.is_none() {
                continue;
            }
            let log_path = station.logs_dir().join(format!("{name}.log"));
            let log = OpenOptions::new().create(true).append(true).open(&log_path)?;
            let child = Command::new(&exe)
                .arg("--station")
                .arg(&station.root)
                .args(["agent", "run", name])
                .current_dir(&station.root)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .kill_on_drop(true)
                .spawn()?;
            tracing::info!(agent = %name, log = %log_path.display(), "started managed agent");
            children.push((name.clone(), child));
        }
        Ok(ManagedAgents { children })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.children.iter().map(|(name, _)| name.as_str())
    }

    /// Stops every worker and waits for it.
    pub async fn stop(mut self) {
        for (name, child) in &mut self.children {
            if let Err(error) = child.start_kill() {
                tracing::debug!(agent = %name, %error, "managed agent already gone");
            }
            let _ = child.wait().await;
        }
    }
}
