//! What a run is woken for ([`Wake`]), and which watcher events count.
//!
//! Events carry no promise (they can be lost, merged, or overflow), so an event only says
//! "look at this file" (or, after an error, "look at everything"); the station runtime
//! ([`super::runtime`]) adds a periodic rescan as a safety net, and a run scans everything
//! once when it starts.
//!
//! Only events that can mean "a file arrived" count ([`is_arrival`]). Reading a folder opens
//! it, and inotify reports that too: reacting to every event would make each scan trigger the
//! next one, a busy loop that costs a core while nothing happens.

use std::path::{Path, PathBuf};

/// What a run should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// These files of an agent's outbox (routed to their owner by [`super::runtime`]).
    Files { agent: String, paths: Vec<PathBuf> },
    /// Every outbox (an event may have been lost).
    All,
    /// A control request may have arrived (see [`super::control`]).
    Control,
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

pub(super) fn explain(error: notify::Error, dir: &Path) -> notify::Error {
    let hint = match &error.kind {
        notify::ErrorKind::MaxFilesWatch => {
            " (the inotify watch limit is reached: raise it with `sysctl fs.inotify.max_user_watches=524288`)"
        }
        _ => "",
    };
    notify::Error::generic(&format!("cannot watch {}: {error}{hint}", dir.display()))
}
