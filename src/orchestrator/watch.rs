//! Outbox watching: notify events as hints that an agent's outbox should be scanned.
//!
//! Events carry no promise (they can be lost, merged, or overflow), so every event only says
//! "look at this outbox again"; an error says "look at all of them". The orchestrator adds a
//! rescan at start and a periodic rescan as a safety net.

use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

/// Which outboxes to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    Agent(String),
    All,
    /// A control request may have arrived (see [`super::control`]).
    Control,
}

/// Keeps the watcher alive; dropping it stops watching.
pub struct OutboxWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Watches each `(agent, outbox)` folder and sends a [`Wake`] for every change.
pub fn watch_outboxes(
    outboxes: &[(String, PathBuf)],
    tx: UnboundedSender<Wake>,
) -> notify::Result<OutboxWatcher> {
    let by_dir: Vec<(PathBuf, String)> = outboxes
        .iter()
        .map(|(agent, dir)| (dir.clone(), agent.clone()))
        .collect();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                for path in &event.paths {
                    let dir = path.parent().unwrap_or(Path::new(""));
                    if let Some((_, agent)) = by_dir.iter().find(|(d, _)| d == dir || d == path) {
                        let _ = tx.send(Wake::Agent(agent.clone()));
                    }
                }
                if event.need_rescan() {
                    let _ = tx.send(Wake::All);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "watcher error; rescanning every outbox");
                let _ = tx.send(Wake::All);
            }
        })?;
    for (_, dir) in outboxes {
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| explain(e, dir))?;
    }
    Ok(OutboxWatcher { _watcher: watcher })
}

/// Watches a run's control folder and sends [`Wake::Control`] for every change.
pub fn watch_control(dir: &Path, tx: UnboundedSender<Wake>) -> notify::Result<OutboxWatcher> {
    let mut watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
        let _ = tx.send(Wake::Control);
    })?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| explain(e, dir))?;
    Ok(OutboxWatcher { _watcher: watcher })
}

fn explain(error: notify::Error, dir: &Path) -> notify::Error {
    let hint = match &error.kind {
        notify::ErrorKind::MaxFilesWatch => {
            " (the inotify watch limit is reached: raise it with `sysctl fs.inotify.max_user_watches=524288`)"
        }
        _ => "",
    };
    notify::Error::generic(&format!("cannot watch {}: {error}{hint}", dir.display()))
}
