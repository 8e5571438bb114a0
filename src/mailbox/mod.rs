//! The filesystem mailbox: how files move between 3ox and agents.
//!
//! Every agent has an inbox `agents/<agent>/1N.3OX/` and an outbox `agents/<agent>/0UT.3OX/`.
//!
//! - [`message`]: the task message 3ox writes into an inbox, one file per attempt;
//! - [`reply`]: the reply an agent writes into its outbox, and how a bad one is refused;
//! - [`event`]: the message an EVENT task publishes into an inbox or a station event folder;
//! - [`approval`]: the approval request 3ox writes to a Commander and the approval file the
//!   Commander writes back (`kind: approval`), and who may write it;
//! - [`atomic`]: the one way anybody exposes a file here: write under a dot name, fsync,
//!   rename into place (and fsync the folder), so nobody ever reads half a file;
//! - [`yaml`]: the guard every YAML file written by others passes before serde reads it;
//! - [`limits`]: how deep and how big a reply's output or a task's input may be.
//!
//! Files whose names start with `.` are in progress and every reader ignores them. Handled
//! files move into `done/` below the folder they were in; refused replies move into
//! `rejected/` with a `<name>.why.yaml` note beside them. What is refused, and why, is listed
//! in `docs/bad-input.md`.

pub mod approval;
pub mod atomic;
pub mod event;
pub mod limits;
pub mod message;
pub mod reply;
pub mod signing;
pub mod yaml;

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

/// Longest name 3ox accepts for an agent, a task reference or a task id.
pub const MAX_NAME_CHARS: usize = 128;

/// True for the names mailbox readers handle: visible files ending in .yaml, .yml or .json.
pub fn is_mail_name(name: &str) -> bool {
    !name.starts_with('.')
        && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
}

/// The visible mail files directly inside `dir`, sorted by name (ulids sort by time). Names
/// that are not UTF-8 are listed too (judged by their lossy form), so that a reader can
/// refuse them visibly instead of leaving them unexplained; symlinks and FIFOs are listed
/// for the same reason (readers refuse them unread, see [`reply::read_limited`]).
pub fn list_mail(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if is_mail_name(&entry.file_name().to_string_lossy())
            && entry.file_type().is_ok_and(|t| !t.is_dir())
        {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// What makes `name` unusable as the name of an agent folder, a task reference or a task id,
/// or `None` when it is a plain name: not empty, at most [`MAX_NAME_CHARS`] characters, no
/// `/` or `\`, no control character, not `.` or `..` and not starting with `.` (hidden, and
/// the mailbox's "in progress" mark), no `:` (a drive or stream on Windows).
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("it is empty")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Some("it is longer than 128 characters")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if name.contains(['/', '\\']) {
        Some("it contains a path separator (`/` or `\\`)")
    } else if name.starts_with('.') {
        Some(
            "it starts with `.` (`..` leaves the folder; other dot names are hidden and mean \"in progress\")",
        )
    } else if name.contains(':') {
        Some("it contains `:` (a drive or stream name on Windows)")
    } else {
        None
    }
}

/// A file's name fit to show, log and use as a file name: control characters (a newline, an
/// escape) and bytes that are not UTF-8 become `_`.
pub fn display_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.chars()
        .map(|c| {
            if c.is_control() || c == char::REPLACEMENT_CHARACTER {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Moves `file` into the folder `sub` beside it (`done/`, `rejected/`, `claimed/`), creating the
/// folder when needed. Returns the new path. A file already there under the same name is kept:
/// the newcomer gets a free name (`x.yaml` -> `x.2.yaml`).
pub fn move_into(file: &Path, sub: &str) -> std::io::Result<PathBuf> {
    move_as(file, sub, file.file_name().unwrap_or_default())
}

/// Moves `file` into the folder `sub` beside it under `name` (or a free variant of it).
pub(crate) fn move_as(file: &Path, sub: &str, name: &std::ffi::OsStr) -> std::io::Result<PathBuf> {
    move_to_dir(
        file,
        &file.parent().unwrap_or(Path::new(".")).join(sub),
        name,
    )
}

/// Moves `file` into `dir` under `name` (or a free variant of it), creating `dir` if needed.
pub(crate) fn move_to_dir(
    file: &Path,
    dir: &Path,
    name: &std::ffi::OsStr,
) -> std::io::Result<PathBuf> {
    let dir = dir.to_path_buf();
    let target = free_name(&dir, name);
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

/// `dir/name`, or `dir/<stem>.<n>.<ext>` with the first `n` from 2 that is free.
fn free_name(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    let taken = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let first = dir.join(name);
    if !taken(&first) {
        return first;
    }
    let name = name.to_string_lossy();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (&*name, String::new()),
    };
    (2u32..)
        .map(|n| dir.join(format!("{stem}.{n}{ext}")))
        .find(|p| !taken(p))
        .expect("some number is free")
}
