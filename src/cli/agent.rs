//! `3ox agent`: run a command as an agent (`agent run`) and list a station's agents (`agent list`).

use super::out::outln;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::mailbox::{self, CLAIMED};
use crate::station::{AgentDirectory, AgentMode, Station};
use crate::worker::{Runner, Worker, WorkerConfig, WorkerEvent};

#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// Serve an agent's inbox: run a command once per task message and write its reply.
    ///
    /// The command gets the task input as JSON on stdin and THREEOX_* variables (task id, run
    /// id, attempt, ...); its working folder is the station root. Exit 0 with a JSON or YAML
    /// object on stdout completes the task with that output; anything else fails it.
    ///
    /// In persistent mode (`mode: persistent` in agent.yaml, or `--mode persistent`) the
    /// command runs once per slot and gets one JSON line per task on stdin; it answers each
    /// with one JSON line on stdout (see docs/protocol.md).
    ///
    /// An agent with an `llm:` section in its agent.yaml is served by 3ox itself: its LLM
    /// tasks go to an OpenAI-compatible chat completions endpoint (docs/llm-agent.md). It
    /// runs no process, so it has no persistent mode.
    Run(RunArgs),
    /// List the station's agents: capabilities, concurrency, command and waiting messages.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The agent to serve (a folder `agents/<name>/` with an `agent.yaml`).
    pub name: String,
    /// Tasks run at once (default: `concurrency` in agent.yaml).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,
    /// How often a running task sends an IN_PROGRESS heartbeat reply.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub heartbeat: Duration,
    /// Run the command once per task, or keep one process per slot speaking JSON lines
    /// (default: `mode` in agent.yaml).
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<AgentMode>,
    /// The command to run, after `--` (default: `command` in agent.yaml).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, cmd: AgentCommand) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    match cmd {
        AgentCommand::Run(args) => run_worker(station, args),
        AgentCommand::List(args) => list(&station, &args),
    }
}

fn load_agents(station: &Station) -> anyhow::Result<AgentDirectory> {
    station.agents().map_err(|e| match e.hint() {
        Some(hint) => anyhow::anyhow!("{e}\nhint: {hint}"),
        None => anyhow::anyhow!(e),
    })
}

fn run_worker(station: Station, args: RunArgs) -> anyhow::Result<u8> {
    let agents = load_agents(&station)?;
    let Some(config) = agents.get(&args.name) else {
        let known: Vec<&str> = agents.agents.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        bail!(
            "no agent `{}` in the station at {}; its agents are: {known}\nhint: an agent is a folder agents/<name>/ with an agent.yaml",
            args.name,
            station.root.display()
        );
    };
    // Held while this worker runs: `3ox run` warns about tasks no worker serves.
    let _serving = crate::station::liveness::WorkerMark::hold(&station, &args.name)
        .context("cannot mark the agent as served")?;
    let runner = if !args.command.is_empty() {
        Runner::Command(args.command)
    } else if let Some(llm) = &config.llm {
        llm_runner(&station, &args.name, llm)?
    } else {
        match &config.command {
            Some(command) => Runner::Command(command.argv()),
            None => bail!(
                "no command to run for agent `{}`\nhint: give one after `--` (3ox agent run {} -- python3 my_agent.py), set `command:` in {}, or make it an LLM agent with an `llm:` section (docs/llm-agent.md)",
                args.name,
                args.name,
                station.agent_dir(&args.name).join("agent.yaml").display()
            ),
        }
    };
    let mode = args.mode.unwrap_or(config.mode);
    if let (Runner::InProcess(_), AgentMode::Persistent) = (&runner, mode) {
        bail!(
            "agent `{}` has an `llm:` section: 3ox serves it in-process, so there is no process to keep and `--mode persistent` does not apply\nhint: leave out `--mode persistent`, or give a command after `--` to run that persistently instead",
            args.name
        );
    }
    let concurrency = args.concurrency.map_or(config.concurrency, usize::from);
    let mut worker_config = WorkerConfig::with_runner(station, &args.name, runner, concurrency);
    worker_config.heartbeat = args.heartbeat;
    worker_config.mode = mode;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
        let name = worker_config.agent.clone();
        let inbox = worker_config.station.inbox(&name);
        let mode = match worker_config.mode {
            AgentMode::PerTask => String::new(),
            AgentMode::Persistent => ", one persistent process per slot".to_string(),
        };
        eprintln!(
            "3ox agent {name}: serving {} with {} (concurrency {concurrency}{mode}); Ctrl-C stops",
            inbox.display(),
            match &worker_config.runner {
                Runner::Command(argv) => format!("`{}`", argv.join(" ")),
                Runner::InProcess(handler) => handler.describe(),
            }
        );
        let worker = Worker::spawn(worker_config, Some(tx))?;
        let stop = async {
            tokio::select! {
                () = shutdown_signal() => {}
                () = orchestrator_gone() => eprintln!("3ox agent {name}: the orchestrator that started it is gone"),
            }
        };
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                Some(event) = events.recv() => print_event(&name, &event),
            }
        }
        eprintln!(
            "3ox agent {name}: stopping (a task still running is killed; its message runs again at the next start)"
        );
        worker.stop().await;
        Ok(super::EXIT_OK)
    });
    // An LLM call still running on a blocking thread is abandoned, not waited for.
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

/// The built-in LLM agent for an agent.yaml with an `llm:` section, its environment read.
fn llm_runner(
    station: &Station,
    name: &str,
    settings: &crate::llm::LlmSettings,
) -> anyhow::Result<Runner> {
    let config = settings
        .resolve(name, &station.root, |var| std::env::var(var).ok())
        .map_err(|e| anyhow::anyhow!("agent `{name}`: {e}\nhint: see docs/llm-agent.md"))?;
    if config.model.is_none() && !config.use_task_model {
        eprintln!(
            "3ox agent {name}: warning: no model: {}; its tasks fail until one is given",
            config.model_hint
        );
    }
    Ok(Runner::InProcess(std::sync::Arc::new(
        crate::llm::LlmAgent::new(config),
    )))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Resolves when the orchestrator that started this worker as a managed agent is gone, however
/// it ended (kill -9 included): it holds the write end of this process's stdin, so stdin ends
/// (see `orchestrator::managed`). Never resolves for a worker started by hand.
async fn orchestrator_gone() {
    if std::env::var_os(crate::orchestrator::managed::MANAGED_ENV).is_none() {
        return std::future::pending().await;
    }
    // Nothing is ever written; a read returns 0 (end of file) or an error once the writer is
    // gone. On a blocking thread: std's stdin has no async form here.
    let _ = tokio::task::spawn_blocking(|| {
        use std::io::Read as _;
        let mut buf = [0u8; 64];
        while let Ok(n) = std::io::stdin().read(&mut buf) {
            if n == 0 {
                return;
            }
        }
    })
    .await;
}

fn print_event(agent: &str, event: &WorkerEvent) {
    match event {
        WorkerEvent::Started {
            task_id,
            task,
            attempt,
            recovered,
        } => {
            let again = if *recovered {
                " (left claimed by an earlier worker; running again)"
            } else {
                ""
            };
            eprintln!("3ox agent {agent}: {task_id} {task} attempt {attempt} started{again}");
        }
        WorkerEvent::Replied {
            task_id,
            status,
            elapsed,
            reason,
        } => {
            let status = serde_json::to_value(status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let reason = reason
                .as_deref()
                .and_then(|r| r.lines().next())
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            eprintln!(
                "3ox agent {agent}: {task_id} {status} after {:.1}s{reason}",
                elapsed.as_secs_f64()
            );
        }
        WorkerEvent::Rejected { file, reason } => {
            eprintln!("3ox agent {agent}: rejected {file}: {reason}")
        }
        WorkerEvent::ProcessStarted { slot, pid } => {
            eprintln!("3ox agent {agent}: slot {slot}: started process {pid}")
        }
        WorkerEvent::ProcessEnded { slot, pid, reason } => {
            eprintln!("3ox agent {agent}: slot {slot}: process {pid} {reason}")
        }
        WorkerEvent::AgentStderr { pid, line, .. } => eprintln!("{agent}[{pid}]: {line}"),
        WorkerEvent::Refused {
            task_id,
            pid,
            reason,
        } => eprintln!("3ox agent {agent}: {task_id}: refused a line from process {pid}: {reason}"),
    }
}

#[derive(Debug, Serialize)]
struct AgentRow {
    name: String,
    capabilities: Vec<String>,
    concurrency: usize,
    command: Option<Vec<String>>,
    /// `per-task` or `persistent`.
    mode: &'static str,
    /// The API root of a built-in LLM agent (its `llm.base_url` as written).
    #[serde(skip_serializing_if = "Option::is_none")]
    llm: Option<String>,
    /// Messages in the inbox, not yet claimed.
    waiting: usize,
    /// Messages claimed by a worker and not yet archived.
    claimed: usize,
}

fn list(station: &Station, args: &ListArgs) -> anyhow::Result<u8> {
    let agents = load_agents(station)?;
    let count = |dir: &Path| mailbox::list_mail(dir).map_or(0, |files| files.len());
    let rows: Vec<AgentRow> = agents
        .agents
        .iter()
        .map(|(name, config)| {
            let inbox = station.inbox(name);
            AgentRow {
                name: name.clone(),
                capabilities: config.capabilities.clone(),
                concurrency: config.concurrency,
                command: config.command.as_ref().map(|c| c.argv()),
                mode: config.mode.name(),
                llm: config.llm.as_ref().map(|l| l.base_url.clone()),
                waiting: count(&inbox),
                claimed: count(&inbox.join(CLAIMED)),
            }
        })
        .collect();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&rows).context("cannot write JSON")?
        )?;
        return Ok(super::EXIT_OK);
    }
    if rows.is_empty() {
        outln!(
            "no agents in {} (add agents/<name>/agent.yaml)",
            station.root.display()
        )?;
        return Ok(super::EXIT_OK);
    }
    let mut table = vec![
        [
            "AGENT",
            "CAPABILITIES",
            "CONC",
            "WAITING",
            "CLAIMED",
            "COMMAND",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for row in &rows {
        let command = match (&row.command, &row.llm) {
            (Some(argv), _) => argv.join(" "),
            (None, Some(base_url)) => format!("(llm) {base_url}"),
            (None, None) => "-".to_string(),
        };
        table.push(vec![
            row.name.clone(),
            capabilities(&row.capabilities),
            row.concurrency.to_string(),
            row.waiting.to_string(),
            row.claimed.to_string(),
            command,
        ]);
    }
    for line in super::table::lines(&table) {
        outln!("{line}")?;
    }
    Ok(super::EXIT_OK)
}

/// An agent's capabilities for the table: as many as fit in a cell, then how many more.
fn capabilities(all: &[String]) -> String {
    let joined = all.join(",");
    if joined.chars().count() <= super::table::MAX_CELL_CHARS {
        return joined;
    }
    let mut shown = String::new();
    for (i, capability) in all.iter().enumerate() {
        let more = format!(" (+{} more)", all.len() - i);
        let next = if shown.is_empty() {
            capability.clone()
        } else {
            format!("{shown},{capability}")
        };
        if next.chars().count() + more.chars().count() > super::table::MAX_CELL_CHARS {
            return format!("{shown}{more}");
        }
        shown = next;
    }
    shown
}
