//! Outbox watching: notify events as hints that an agent's outbox should be scanned.
//!
//! Events carry no promise (they can be lost, merged, or overflow), so an event only says
//! "look at this outbox again"; an error says "look at all of them". The orchestrator adds a
//! rescan at start and a periodic rescan as a safety net.
//!
//! Only events that can mean "a file arrived" count ([`is_arrival`]). Reading a folder opens
//! it, and inotify reports that too: reacting to every event would make each scan trigger the
//! next one, a busy loop that costs a core while nothing happens.

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
            Ok(event) if !is_arrival(&event) => {}
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
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.as_ref().map_or(true, is_arrival) {
            let _ = tx.send(Wake::Control);
        }
    })?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| explain(e, dir))?;
    Ok(OutboxWatcher { _watcher: watcher })
}

/// True for an event that may mean a visible file arrived in a watched folder: something was
/// created, renamed into place, or closed after writing, under a name that does not start with
/// `.` (in-progress files), or an event notify could not classify. False for reads (a folder or
/// file opened, read, closed), for files leaving, and for metadata changes.
pub fn is_arrival(event: &notify::Event) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    let kind = match event.kind {
        EventKind::Create(_)
        | EventKind::Modify(ModifyKind::Name(
            RenameMode::To | RenameMode::Both | RenameMode::Any,
        ))
        | EventKind::Modify(ModifyKind::Any | ModifyKind::Data(_))
        | EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Any | EventKind::Other => return true,
        _ => false,
    };
    kind && event.paths.iter().any(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| !n.starts_with('.'))
    })
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
