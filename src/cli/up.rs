//! `3ox up`: a long-lived orchestrator for the station.
//!
//! It starts the station's managed agents, then drives every run that is RUNNING in its
//! journal and that no other process drives: runs submitted with `3ox start`, and runs
//! orphaned by a crashed orchestrator. It notices new runs through a notify watcher on
//! `.3ox/runs/` (plus a rescan every 2 s as a safety net) and runs until Ctrl-C, when it stops
//! driving (the runs stay RUNNING in their journals, ready for the next `up` or `resume`).
//!
//! All the runs share one station runtime (`orchestrator::runtime`): one watcher, one
//! rescan, replies routed to the run that owns them. The run index (`orchestrator::index`)
//! reads a journal only when it changed. A run that cannot be driven for a passing reason is
//! tried again with backoff; one that cannot be driven at all (a corrupt journal) is reported,
//! and `--until-idle` then exits 1 naming it. It drives at most as many runs at once as it can
//! hold files open for (`orchestrator::capacity`); the others wait, oldest first, and start as
//! driven runs end. It also fires the station's schedules (`crate::schedule`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::run::{DriveArgs, runtime_with_stop};
use crate::orchestrator::index::RunIndex;
use crate::orchestrator::runtime::StationRuntime;
use crate::orchestrator::{self, Control, OrchestratorError, managed::ManagedAgents};
use crate::station::AgentDirectory;

/// How many times a run that failed to be driven for a passing reason is tried again.
const RETRIES: u32 = 5;

/// A run `up` could not drive, and what it does about it.
#[derive(Debug)]
struct Undriven {
    why: String,
    /// Tried again no more: the trouble lasts (or the retries are spent).
    lasting: bool,
    attempts: u32,
    backoff: Duration,
    retry_at: Option<Instant>,
}

impl Undriven {
    fn new(why: String, lasting: bool) -> Undriven {
        Undriven {
            why,
            lasting,
            attempts: 0,
            backoff: Duration::from_secs(1),
            retry_at: None,
        }
    }

    fn failed(&mut self, why: String, lasting: bool, now: Instant) {
        self.why = why;
        self.attempts += 1;
        self.lasting = lasting || self.attempts > RETRIES;
        if self.attempts > 1 {
            self.backoff = (self.backoff * 2).min(Duration::from_secs(30));
        }
        self.retry_at = (!self.lasting).then(|| now + self.backoff);
    }

    fn given_up(&self) -> bool {
        self.lasting
    }

    /// True when it may be tried again (a lasting one only once its journal changed, which the
    /// index notices).
    fn due(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|at| at <= now)
    }
}

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
    let (runtime, mut control) = runtime_with_stop(true)?;
    let undriven = runtime.block_on(async {
        let managed = if options.start_agents { Some(ManagedAgents::start(&station, &agents).context("cannot start the managed agents")?) } else { None };
        // One station runtime for every run this process drives (and their children).
        let station_runtime = StationRuntime::from_env(&station);
        let options = orchestrator::RunOptions { runtime: Some(station_runtime.clone()), ..options };
        // New journals (a submitted run) wake the loop; appends to existing ones do not.
        let mut hints = station_runtime.new_journals();
        // `schedules/*.yaml` fire as runs this loop then drives (src/schedule/scheduler.rs).
        let (scheduler, mut scheduled) = crate::schedule::Scheduler::start(&station);
        eprintln!("3ox up: driving the runs of {} (Ctrl-C stops)", station.root.display());
        let mut index = RunIndex::default();
        let mut driving: HashMap<String, tokio::sync::mpsc::Sender<Control>> = HashMap::new();
        // Runs another process drives: looked at again only at the periodic rescan.
        let mut elsewhere = HashSet::new();
        // Runs that cannot be driven now, with why and when to try again (a transient failure
        // is tried again with backoff; a journal that cannot be read waits until it changes).
        let mut undriven: HashMap<String, Undriven> = HashMap::new();
        // Runs whose journal cannot be read, as of the last look (read again when they change).
        let mut unreadable: HashMap<String, String> = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        // Runs found RUNNING while as many were driven as the process can hold open
        // (`capacity`), in order of submission (run ids sort by time): started as others end.
        let capacity = orchestrator::capacity::runs_at_once(managed.as_ref().map_or(0, ManagedAgents::len));
        let mut waiting: BTreeSet<String> = BTreeSet::new();
        let drive = |tasks: &mut tokio::task::JoinSet<_>, driving: &mut HashMap<String, tokio::sync::mpsc::Sender<Control>>, run_id: String, agents: &AgentDirectory| {
            let (stop, rx) = tokio::sync::mpsc::channel(1);
            driving.insert(run_id.clone(), stop);
            let (station, agents, options) = (station.clone(), agents.clone(), options.clone());
            tasks.spawn(async move {
                let outcome = orchestrator::resume_run(&station, agents, &run_id, options, rx).await;
                (run_id, outcome)
            });
        };
        let mut rescan = tokio::time::interval(Duration::from_secs(2));
        let mut look = true;
        let mut latest_agents = agents.clone();
        loop {
            if std::mem::take(&mut look) {
                let runs_dir = station.runs_dir();
                let now = Instant::now();
                let seen = index
                    .look(&runs_dir, |run| driving.contains_key(run) || elsewhere.contains(run))
                    .context("cannot list the runs")?;
                for (run_id, why) in &seen.unreadable {
                    if !unreadable.contains_key(run_id) {
                        eprintln!("run {run_id} cannot be driven: {why} (`3ox doctor` says more)");
                    }
                }
                unreadable = seen.unreadable.into_iter().collect();
                // The agents as they are now (one may have been added), read once per look,
                // not once per run.
                let agents_now = match station.agents() {
                    Ok(now) => now,
                    Err(_) => agents.clone(),
                };
                for run_id in seen.running {
                    if undriven.get(&run_id).is_some_and(|u| !u.due(now)) {
                        continue;
                    }
                    if driving.len() < capacity {
                        waiting.remove(&run_id);
                        drive(&mut tasks, &mut driving, run_id, &agents_now);
                    } else {
                        waiting.insert(run_id);
                    }
                }
                latest_agents = agents_now;
                if args.until_idle && tasks.is_empty() && waiting.is_empty() && undriven.values().all(|u| u.given_up()) {
                    break;
                }
            }
            let retry_at = undriven.values().filter(|u| !u.given_up()).filter_map(|u| u.retry_at).min();
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
                Some(()) = scheduled.recv() => {
                    while scheduled.try_recv().is_ok() {}
                    look = true;
                }
                _ = rescan.tick() => {
                    elsewhere.clear();
                    look = true;
                }
                () = tokio::time::sleep_until(retry_at.unwrap_or_else(Instant::now).into()), if retry_at.is_some() => {
                    look = true;
                }
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    let (run_id, outcome) = joined.context("a run's driver failed")?;
                    driving.remove(&run_id);
                    scheduler.run_ended();
                    match outcome {
                        Ok(outcome) => {
                            undriven.remove(&run_id);
                            eprintln!("run {run_id} {} ({} tasks)", outcome.status, outcome.tasks);
                        }
                        // Another orchestrator drives it; look again at the next rescan, in
                        // case it dies.
                        Err(OrchestratorError::Owned { .. }) => {
                            undriven.remove(&run_id);
                            elsewhere.insert(run_id);
                        }
                        Err(e) => {
                            // A journal that cannot be read or was replaced is no passing
                            // trouble; anything else (I/O, a watcher, the disk) may be.
                            let lasting = matches!(e, OrchestratorError::Journal(_) | OrchestratorError::NoSuchRun { .. } | OrchestratorError::Refused(_));
                            let entry = undriven.entry(run_id.clone()).or_insert_with(|| Undriven::new(e.to_string(), lasting));
                            entry.failed(e.to_string(), lasting, Instant::now());
                            if entry.given_up() {
                                eprintln!("run {run_id} cannot be driven: {e}");
                            } else {
                                eprintln!("run {run_id} cannot be driven for now: {e}; trying again in {} s", entry.backoff.as_secs());
                            }
                        }
                    }
                    while driving.len() < capacity && let Some(next) = waiting.pop_first() {
                        if !driving.contains_key(&next) {
                            drive(&mut tasks, &mut driving, next, &latest_agents);
                        }
                    }
                    // Only to know whether anything is left (`--until-idle`): a look per
                    // finished run would cost O(runs) each.
                    look = tasks.is_empty();
                }
            }
        }
        scheduler.stop().await;
        if let Some(managed) = managed {
            managed.stop().await;
        }
        let mut left: Vec<(String, String)> = undriven.into_iter().map(|(run, u)| (run, u.why)).collect();
        left.extend(unreadable);
        anyhow::Ok(left)
    })?;
    if args.until_idle && !undriven.is_empty() {
        let mut runs = undriven;
        runs.sort_by(|a, b| a.0.cmp(&b.0));
        eprintln!("3ox up: {} run(s) were left undriven:", runs.len());
        for (run_id, why) in runs {
            eprintln!("  {run_id}: {why}");
        }
        return Ok(super::EXIT_FAILED);
    }
    Ok(super::EXIT_OK)
}
