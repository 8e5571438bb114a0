//! The scheduler `3ox up` runs: one tokio task that fires the station's schedules.
//!
//! Each pass reads `schedules/*.yaml` and [`fire::tick`]s every good schedule (on a blocking
//! thread: it takes file locks and writes files); a bad file is reported once, naming the
//! file and why, and the others go on. Then the task sleeps until the earliest next slot (a
//! timer, not a poll), until `schedules/` changes (a notify watcher), until one of the
//! station's runs ends while a schedule has buffered slots ([`Scheduler::run_ended`]), or
//! until it is stopped. A long sleep is cut at [`MAX_SLEEP`] so a wall clock that jumps is
//! noticed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use notify::Watcher as _;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::file::{self, SCHEDULES_DIR};
use super::fire::{self, Tick};
use crate::station::Station;

/// The longest the scheduler sleeps without looking at the clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

/// While slots wait in a buffer, runs ended by another process are noticed within this.
const BUFFER_RECHECK: Duration = Duration::from_secs(2);

/// A running scheduler: a handle to its task.
pub struct Scheduler {
    stop: CancellationToken,
    ended: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts firing the schedules of `station` (messages go to stderr, prefixed `3ox up:`).
    /// The receiver hears after each pass that submitted runs (look for runs to drive).
    pub fn start(station: &Station) -> (Scheduler, mpsc::UnboundedReceiver<()>) {
        let stop = CancellationToken::new();
        let ended = Arc::new(Notify::new());
        let (submitted, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(station.clone(), stop.clone(), ended.clone(), submitted));
        (Scheduler { stop, ended, task }, rx)
    }

    /// Tells the scheduler that a run ended (a buffered slot may start now).
    pub fn run_ended(&self) {
        self.ended.notify_one();
    }

    /// Stops the scheduler and waits for it (a pass in progress finishes first).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// What one pass over the schedules found.
#[derive(Debug, Default)]
struct Pass {
    next: Option<DateTime<Utc>>,
    waiting: bool,
    lines: Vec<String>,
    /// Bad files and why, as of this pass.
    bad: HashMap<PathBuf, String>,
    paused: Vec<String>,
    /// Runs were submitted.
    submitted: bool,
}

async fn run(
    station: Station,
    stop: CancellationToken,
    ended: Arc<Notify>,
    submitted: mpsc::UnboundedSender<()>,
) {
    let (tx, mut changed) = mpsc::unbounded_channel::<()>();
    let mut watching: Option<(PathBuf, notify::RecommendedWatcher)> = None;
    let mut reported: HashMap<PathBuf, String> = HashMap::new();
    let mut paused_before: Vec<String> = Vec::new();
    loop {
        // Watch schedules/ once it exists; before that, the station root (for its creation).
        let folder = station.root.join(SCHEDULES_DIR);
        let want = if folder.is_dir() {
            folder
        } else {
            station.root.clone()
        };
        if watching.as_ref().is_none_or(|(dir, _)| dir != &want) {
            watching = watch(&want, tx.clone());
        }
        let pass = {
            let station = station.clone();
            match tokio::task::spawn_blocking(move || pass(&station, Utc::now())).await {
                Ok(pass) => pass,
                Err(error) => {
                    tracing::error!(%error, "the scheduler's pass failed");
                    Pass::default()
                }
            }
        };
        for line in &pass.lines {
            eprintln!("3ox up: {line}");
        }
        if pass.submitted {
            let _ = submitted.send(());
        }
        for (path, why) in &pass.bad {
            if reported.get(path) != Some(why) {
                eprintln!(
                    "3ox up: warning: {why}\n    the schedule does not fire until this is fixed; the others do"
                );
            }
        }
        reported = pass.bad;
        for name in &pass.paused {
            if !paused_before.contains(name) {
                eprintln!("3ox up: schedule `{name}` is paused");
            }
        }
        paused_before = pass.paused;
        let sleep = pass.next.map_or(MAX_SLEEP, |next| {
            // A few ms past the slot: the timer may wake a little early.
            (next - Utc::now())
                .to_std()
                .unwrap_or_default()
                .saturating_add(Duration::from_millis(5))
                .min(MAX_SLEEP)
        });
        let sleep = if pass.waiting {
            sleep.min(BUFFER_RECHECK)
        } else {
            sleep
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(sleep) => {}
            Some(()) = changed.recv() => {
                // An editor writes a file in several steps: take them as one change.
                tokio::time::sleep(Duration::from_millis(50)).await;
                while changed.try_recv().is_ok() {}
            }
            () = ended.notified(), if pass.waiting => {}
        }
    }
}

fn watch(
    dir: &std::path::Path,
    tx: mpsc::UnboundedSender<()>,
) -> Option<(PathBuf, notify::RecommendedWatcher)> {
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(%error, "cannot watch the schedules; they are read again at each slot");
            return None;
        }
    };
    if let Err(error) = watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(%error, dir = %dir.display(), "cannot watch the schedules; they are read again at each slot");
        return None;
    }
    Some((dir.to_path_buf(), watcher))
}

/// Reads every schedule and ticks the good ones.
fn pass(station: &Station, now: DateTime<Utc>) -> Pass {
    let mut pass = Pass::default();
    for (path, loaded) in file::files(station)
        .into_iter()
        .map(|path| (path.clone(), file::load(station, &path)))
    {
        let schedule = match loaded {
            Ok(schedule) => schedule,
            Err(error) => {
                pass.bad.insert(path, error.to_string());
                continue;
            }
        };
        if schedule.file.paused {
            pass.paused.push(schedule.name.clone());
        }
        match fire::tick(station, &schedule, now) {
            Ok(tick) => {
                pass.lines.extend(describe(&schedule.name, &tick));
                pass.submitted |= !tick.started.is_empty();
                pass.waiting |= tick.waiting;
                pass.next = match (pass.next, tick.next) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            Err(error) => pass.lines.push(format!(
                "warning: schedule `{}` cannot fire: {error}",
                schedule.name
            )),
        }
    }
    pass
}

fn at(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The log lines of one tick.
fn describe(name: &str, tick: &Tick) -> Vec<String> {
    let mut lines = Vec::new();
    if tick.caught_up > 0 {
        lines.push(format!(
            "schedule `{name}` caught up {} missed slot(s)",
            tick.caught_up
        ));
    }
    if tick.dropped > 0 {
        lines.push(format!(
            "schedule `{name}` dropped {} missed slot(s) beyond its catch_up max",
            tick.dropped
        ));
    }
    for run_id in &tick.canceled {
        lines.push(format!(
            "schedule `{name}` asked run {run_id} to end (overlap cancel_other)"
        ));
    }
    for (slot, run_id) in &tick.started {
        lines.push(format!(
            "schedule `{name}` started run {run_id} for slot {}",
            at(*slot)
        ));
    }
    for slot in &tick.taken {
        lines.push(format!(
            "schedule `{name}`: slot {} was started already",
            at(*slot)
        ));
    }
    for (slot, run_id) in &tick.skipped {
        lines.push(format!(
            "schedule `{name}` skipped slot {}: run {run_id} still runs (overlap skip)",
            at(*slot)
        ));
    }
    for slot in &tick.buffered {
        lines.push(format!(
            "schedule `{name}` buffered slot {} until its running run ends",
            at(*slot)
        ));
    }
    for (slot, why) in &tick.refused {
        lines.push(format!(
            "warning: schedule `{name}` could not start slot {}: {why}",
            at(*slot)
        ));
    }
    lines
}
