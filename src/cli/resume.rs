//! `3ox resume [RUN]`: take over runs after a crash and drive them to their end.
//!
//! With a run id, that run (refused when another process drives it); without, every run that
//! is RUNNING in its journal and that nobody drives, side by side.
//!
//! A paused run is unpaused first (journaled with who asked, see [`super::control`]): when
//! nobody drives it, this command then drives it in the foreground; when a driver does, the
//! driver takes the request and this command only reports it (exit 0; 2 refused; 1 queued).

use super::out::outln;
use std::path::Path;

use anyhow::Context as _;

use super::control::{self, ControlArgs, Done};
use super::run::{DriveArgs, exit_code, outcome_json, report, runtime_with_stop};
use crate::engine::control::Action;
use crate::orchestrator::{self, Control, OrchestratorError, RunOutcome, managed::ManagedAgents};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run to resume (default: every run nobody drives).
    pub run: Option<String>,
    /// Who unpauses a paused run, as recorded in the journal (default: $USER or $USERNAME).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Why a paused run is unpaused (recorded in the journal).
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub drive: DriveArgs,
}

/// Whether run `run_id` is paused in its journal.
fn paused(station: &crate::station::Station, run_id: &str) -> bool {
    let path = crate::journal::Journal::path_for(&station.runs_dir(), run_id);
    crate::journal::read(&path).is_ok_and(|contents| {
        crate::engine::RunState::replay(contents.records.iter().map(|r| (&r.change, r.at))).paused
    })
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    station.prepare_runtime()?;
    let agents = station.agents()?;
    // A run is named by its id (or a prefix), never by a path: resolve it among the
    // station's runs first.
    let mut run = match &args.run {
        None => None,
        Some(given) => match crate::query::resolve(&station, Some(given)) {
            Ok(run_id) => Some(run_id),
            Err(e) => return Ok(super::status::refuse(&e)),
        },
    };
    if let Some(run_id) = run.clone()
        && paused(&station, &run_id)
    {
        let control_args = ControlArgs {
            by: args.by.clone(),
            wait: std::time::Duration::from_secs(10),
            json: false,
        };
        let done = control::send(
            station_flag,
            &run_id,
            Action::Resume,
            None,
            args.reason.clone(),
            &control_args,
        )?;
        match done {
            // Nobody drove it: drive it here, as for any run to resume.
            Done::Applied { direct: true } => run = Some(run_id),
            // Its driver unpaused it and goes on driving it.
            Done::Applied { direct: false } => return Ok(super::EXIT_OK),
            Done::Other(code) => return Ok(code),
        }
    }
    let runs = match &run {
        Some(run) => vec![run.clone()],
        None => orchestrator::running_runs(&station)?,
    };
    if runs.is_empty() {
        eprintln!("no run to resume: every run of this station has ended");
        return Ok(super::EXIT_OK);
    }
    let options = args.drive.options();
    let (runtime, mut control) = runtime_with_stop(runs.len() > 1)?;
    let results: Vec<(String, Result<RunOutcome, OrchestratorError>)> = runtime.block_on(async {
        let managed = if options.start_agents { Some(ManagedAgents::start(&station, &agents).context("cannot start the managed agents")?) } else { None };
        // One station runtime for all the runs resumed here.
        let options = crate::orchestrator::RunOptions { runtime: Some(crate::orchestrator::runtime::StationRuntime::from_env(&station)), ..options };
        let mut stops = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for run_id in runs {
            let (stop, rx) = tokio::sync::mpsc::channel(1);
            stops.push(stop);
            let (station, agents, options) = (station.clone(), agents.clone(), options.clone());
            tasks.spawn(async move {
                let outcome = orchestrator::resume_run(&station, agents, &run_id, options, rx).await;
                (run_id, outcome)
            });
        }
        let mut results = Vec::new();
        loop {
            tokio::select! {
                Some(Control::Stop) = control.recv() => for stop in &stops { let _ = stop.send(Control::Stop).await; },
                joined = tasks.join_next() => match joined {
                    Some(Ok(result)) => results.push(result),
                    Some(Err(e)) => anyhow::bail!("a run's driver failed: {e}"),
                    None => break,
                },
            }
        }
        if let Some(managed) = managed {
            managed.stop().await;
        }
        anyhow::Ok(results)
    })?;
    let single = args.run.is_some();
    let mut code = super::EXIT_OK;
    let mut documents = Vec::new();
    for (run_id, result) in results {
        match result {
            Ok(outcome) => {
                code = code.max(exit_code(&outcome));
                if args.drive.json {
                    documents.push(outcome_json(&outcome));
                } else {
                    report(&outcome, false)?;
                }
            }
            Err(e @ (OrchestratorError::Owned { .. } | OrchestratorError::NoSuchRun { .. }))
                if single =>
            {
                eprintln!("error: {e}");
                return Ok(super::EXIT_USAGE);
            }
            Err(e @ OrchestratorError::Owned { .. }) => eprintln!("skipped: {e}"),
            Err(e) => return Err(e).with_context(|| format!("run {run_id} stopped")),
        }
    }
    if args.drive.json {
        let doc = if single {
            documents.pop().unwrap_or_default()
        } else {
            serde_json::Value::Array(documents)
        };
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(code)
}
