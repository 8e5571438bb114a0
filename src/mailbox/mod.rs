//! The filesystem mailbox: how files move between 3ox and agents.
//!
//! Every agent has an inbox `agents/<agent>/1N.3OX/` and an outbox `agents/<agent>/0UT.3OX/`.
//!
//! - [`message`]: the task message 3ox writes into an inbox, one file per attempt;
//! - [`reply`]: the reply an agent writes into its outbox, and how a bad one is refused;
//! - [`atomic`]: the one way anybody exposes a file here: write under a dot name, fsync,
//!   rename into place (and fsync the folder), so nobody ever reads half a file.
//!
//! Files whose names start with `.` are in progress and every reader ignores them. Handled
//! files move into `done/` below the folder they were in; refused replies move into
//! `rejected/` with a `<name>.why.yaml` note beside them.

pub mod atomic;
pub mod message;
pub mod reply;

use std::path::{Path, PathBuf};

/// Inbox folder name inside an agent folder.
pub const INBOX: &str = "1N.3OX";
/// Outbox folder name inside an agent folder.
pub const OUTBOX: &str = "0UT.3OX";
/// Where handled files go, below the inbox or outbox.
pub const DONE: &str = "done";
/// Where a worker moves a message it has claimed, below the inbox.
pub const CLAIMED: &str = "claimed";
/// Where refused replies go, below the outbox.
pub const REJECTED: &str = "rejected";
/// Largest file 3ox reads from a mailbox; anything larger is refused unread.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// True for the names mailbox readers handle: visible files ending in .yaml, .yml or .json.
pub fn is_mail_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
}

/// The visible mail files directly inside `dir`, sorted by name (ulids sort by time).
pub fn list_mail(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_mail_name(name) && entry.file_type().is_ok_and(|t| !t.is_dir()) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Moves `file` into the folder `sub` beside it (`done/`, `rejected/`, `claimed/`), creating the
/// folder when needed. Returns the new path.
pub fn move_into(file: &Path, sub: &str) -> std::io::Result<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new(".")).join(sub);
    let target = dir.join(file.file_name().unwrap_or_default());
    match std::fs::rename(file, &target) {
        Ok(()) => Ok(target),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => {
            std::fs::create_dir_all(&dir)?;
            std::fs::rename(file, &target)?;
            Ok(target)
        }
        Err(e) => Err(e),
    }
}
