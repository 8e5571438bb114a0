//! Following a run live (`3ox log --follow`, `3ox status --watch`): render the run, then again
//! each time its journal changes, until the run is no longer RUNNING or the reader stops
//! (Ctrl-C, a closed pipe).
//!
//! A notify watcher on `.3ox/runs/` says when the run's journal changed (any event on the file,
//! or a watcher error, counts: the render reads the journal, which is the truth). Events that
//! come together are taken as one change. Without a watcher (it cannot be made, or
//! `THREEOX_WATCH=poll`), the journal is looked at every 250 ms.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use notify::Watcher as _;

use crate::journal::Journal;
use crate::orchestrator::runtime::{POLL_EVERY, WatchMode};
use crate::station::Station;

/// What a render says.
pub enum Rendered {
    /// The run goes on: wait for the next change.
    Running,
    /// The run has ended (or cannot be read): stop following.
    Done(u8),
}

/// Calls `render` now and after each change of `run_id`'s journal, until it says `Done`.
pub fn follow(
    station: &Station,
    run_id: &str,
    mut render: impl FnMut() -> anyhow::Result<Rendered>,
) -> anyhow::Result<u8> {
    if let Rendered::Done(code) = render()? {
        return Ok(code);
    }
    let journal = Journal::path_for(&station.runs_dir(), run_id);
    let (tx, changes) = mpsc::channel::<()>();
    let watcher = match WatchMode::from_env() {
        WatchMode::Poll => None,
        WatchMode::Native => {
            let file = journal.clone();
            let mut watcher =
                notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                    let ours = event
                        .as_ref()
                        .map_or(true, |e| e.paths.iter().any(|p| p == &file));
                    if ours {
                        let _ = tx.send(());
                    }
                });
            match watcher.as_mut() {
                Ok(w) => match w.watch(&station.runs_dir(), notify::RecursiveMode::NonRecursive) {
                    Ok(()) => watcher.ok(),
                    Err(error) => {
                        tracing::warn!(%error, "cannot watch the runs folder; looking every 250 ms");
                        None
                    }
                },
                Err(error) => {
                    tracing::warn!(%error, "cannot watch the runs folder; looking every 250 ms");
                    None
                }
            }
        }
    };
    let mut last_len = file_len(&journal);
    loop {
        match &watcher {
            Some(_) => {
                if changes.recv().is_err() {
                    return Ok(super::EXIT_OK);
                }
                // Take the events of one append (or a burst of them) as one change.
                while changes.recv_timeout(Duration::from_millis(20)).is_ok() {}
            }
            None => {
                std::thread::sleep(POLL_EVERY);
                let len = file_len(&journal);
                if len == last_len {
                    continue;
                }
                last_len = len;
            }
        }
        if let Rendered::Done(code) = render()? {
            return Ok(code);
        }
    }
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}
