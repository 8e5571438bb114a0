//! `3ox up`: a long-lived orchestrator for the station.
//!
//! It starts the station's managed agents, then drives every run that is RUNNING in its
//! journal and that no other process drives: runs submitted with `3ox start`, and runs
//! orphaned by a crashed orchestrator. It notices new runs through a notify watcher on
//! `.3ox/runs/` (plus a rescan every 2 s as a safety net) and runs until Ctrl-C, when it stops
//! driving (the runs stay RUNNING in their journals, ready for the next `up` or `resume`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use notify::Watcher as _;

use super::run::{DriveArgs, runtime_with_stop};
use crate::orchestrator::{self, Control, OrchestratorError, managed::ManagedAgents};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub drive: DriveArgs,
    /// Exit once no run is left to drive (for scripts and tests) instead of waiting for more.
    #[arg(long)]
    pub until_idle: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    station.prepare_runtime()?;
    // Mail a crash left behind right after its run ended: nothing else would ever move it.
    match crate::maintenance::doctor::tidy_ended_mail(&station) {
        Ok((tidied, orphans)) => {
            let moved = tidied.iter().filter(|m| m.moved_to.is_some()).count();
            if moved > 0 {
                eprintln!("3ox up: tidied {moved} leftover mail file(s) of ended runs");
            }
            let refused = orphans.iter().filter(|m| m.moved_to.is_some()).count();
            if refused > 0 {
                eprintln!("3ox up: refused {refused} reply file(s) that no run can take");
            }
        }
        Err(error) => tracing::warn!(%error, "cannot tidy the leftover mail of ended runs"),
    }
    let agents = station.agents()?;
    let options = orchestrator::RunOptions {
        name_run: true,
        ..args.drive.options()
    };
    let (runtime, mut control) = runtime_with_stop()?;
    runtime.block_on(async {
        let managed = if options.start_agents { Some(ManagedAgents::start(&station, &agents).context("cannot start the managed agents")?) } else { None };
        let (hint_tx, mut hints) = tokio::sync::mpsc::unbounded_channel::<()>();
        // Only new journals matter here (a submitted run); appends to existing ones do not.
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let new_journal = event.as_ref().map_or(true, |e| {
                matches!(e.kind, notify::EventKind::Create(_) | notify::EventKind::Modify(notify::event::ModifyKind::Name(_)))
                    && e.paths.iter().any(|p| p.to_string_lossy().ends_with(".journal.yaml"))
            });
            if new_journal {
                let _ = hint_tx.send(());
            }
        })
        .context("cannot watch .3ox/runs")?;
        watcher.watch(&station.runs_dir(), notify::RecursiveMode::NonRecursive).context("cannot watch .3ox/runs")?;
        eprintln!("3ox up: driving the runs of {} (Ctrl-C stops)", station.root.display());
        let mut driving: HashMap<String, tokio::sync::mpsc::Sender<Control>> = HashMap::new();
        // Runs another process drives: looked at again only at the periodic rescan.
        let mut elsewhere = std::collections::HashSet::new();
        // Runs that cannot be driven (a corrupt journal, say): reported once, then left alone.
        let mut broken = std::collections::HashSet::new();
        let mut tasks = tokio::task::JoinSet::new();
        let mut rescan = tokio::time::interval(Duration::from_secs(2));
        let mut look = true;
        loop {
            if std::mem::take(&mut look) {
                for run_id in orchestrator::running_runs(&station)? {
                    if driving.contains_key(&run_id) || elsewhere.contains(&run_id) || broken.contains(&run_id) {
                        continue;
                    }
                    let (stop, rx) = tokio::sync::mpsc::channel(1);
                    driving.insert(run_id.clone(), stop);
                    let (station, agents, options) = (station.clone(), station.agents().unwrap_or_else(|_| agents.clone()), options.clone());
                    tasks.spawn(async move {
                        let outcome = orchestrator::resume_run(&station, agents, &run_id, options, rx).await;
                        (run_id, outcome)
                    });
                }
                if args.until_idle && tasks.is_empty() {
                    break;
                }
            }
            tokio::select! {
                Some(Control::Stop) = control.recv() => {
                    for stop in driving.values() {
                        let _ = stop.send(Control::Stop).await;
                    }
                    while tasks.join_next().await.is_some() {}
                    break;
                }
                Some(()) = hints.recv() => {
                    while hints.try_recv().is_ok() {}
                    look = true;
                }
                _ = rescan.tick() => {
                    elsewhere.clear();
                    look = true;
                }
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    let (run_id, outcome) = joined.context("a run's driver failed")?;
                    driving.remove(&run_id);
                    match outcome {
                        Ok(outcome) => eprintln!("run {run_id} {} ({} tasks)", outcome.status, outcome.tasks),
                        // Another orchestrator drives it; look again at the next rescan, in
                        // case it dies.
                        Err(OrchestratorError::Owned { .. }) => {
                            elsewhere.insert(run_id);
                        }
                        Err(e) => {
                            eprintln!("run {run_id} cannot be driven: {e}");
                            broken.insert(run_id);
                        }
                    }
                    look = args.until_idle;
                }
            }
        }
        if let Some(managed) = managed {
            managed.stop().await;
        }
        anyhow::Ok(())
    })?;
    Ok(super::EXIT_OK)
}
