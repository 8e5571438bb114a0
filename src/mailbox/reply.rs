//! The reply: one YAML (or JSON) file an agent writes into its outbox.
//!
//! Parsing is strict about what matters and says exactly what is wrong: a reply that is not
//! YAML, is too large, lacks `task_id` or `status`, has an unknown status or an unknown field
//! is refused with a reason. The orchestrator then moves it into `rejected/` with a
//! `<name>.why.yaml` note beside it (see [`reject`]) and journals the refusal. Every refusal
//! is listed in `docs/bad-input.md`.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::atomic::{self, Durability};

/// Version of the reply format this 3ox reads.
pub const REPLY_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplyStatus {
    Completed,
    Failed,
    FailedWithTerminalError,
    /// A heartbeat: the agent is still working.
    InProgress,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// Format version; 1 when absent.
    #[serde(default = "default_version")]
    pub version: u32,
    pub task_id: String,
    pub status: ReplyStatus,
    /// The task's output: an object.
    #[serde(default = "empty_object")]
    pub output: Value,
    /// Why the task failed, or what it is doing (for IN_PROGRESS).
    #[serde(default)]
    pub reason: Option<String>,
    /// Optional: the run id, echoed from the message.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The attempt's token, echoed from the message; required for the reply to be applied.
    #[serde(default)]
    pub token: Option<String>,
    /// Optional free-form log lines from the agent.
    #[serde(default)]
    pub logs: Vec<String>,
}

fn default_version() -> u32 {
    REPLY_VERSION
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl Reply {
    /// Parses reply text; the error is the reason given to the sender.
    pub fn parse(text: &str) -> Result<Reply, String> {
        Reply::parse_unclipped(text).map_err(clip)
    }

    fn parse_unclipped(text: &str) -> Result<Reply, String> {
        if text.trim().is_empty() {
            return Err("the file is empty; a reply is a YAML mapping: copy the `reply.form` section of the task message".to_string());
        }
        super::yaml::check(text)?;
        let value: Value =
            serde_yaml::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        if !value.is_object() {
            return Err(
                "a reply must be a YAML mapping with task_id, status, output and reason"
                    .to_string(),
            );
        }
        for field in ["task_id", "status"] {
            if value.get(field).is_none() {
                return Err(format!(
                    "the reply has no `{field}` field; copy the `reply.form` section of the task message"
                ));
            }
        }
        let reply: Reply = serde_json::from_value(value).map_err(|e| {
            let text = e.to_string();
            if text.contains("unknown variant") {
                format!("{text}; status must be COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS")
            } else {
                text
            }
        })?;
        if let Some(problem) = super::name_problem(&reply.task_id) {
            return Err(format!(
                "`task_id` is not a task id: {problem}; copy it from the task message"
            ));
        }
        if reply.version != REPLY_VERSION {
            return Err(format!(
                "reply version {} is not supported; write version: {REPLY_VERSION}",
                reply.version
            ));
        }
        if !reply.output.is_object() && !reply.output.is_null() {
            return Err("`output` must be a mapping (key: value pairs)".to_string());
        }
        if let Some(problem) = super::limits::nesting_problem("`output`", &reply.output) {
            return Err(problem);
        }
        Ok(reply)
    }

    /// Reads and parses a reply file. A file whose name holds a control character or is not
    /// UTF-8 is refused unread: such names garble listings, logs and terminals.
    pub fn read(path: &Path) -> Result<Reply, String> {
        Reply::check_name(path)?;
        Reply::parse(&read_limited(path)?)
    }

    /// Refuses a reply file name that is not UTF-8 or holds a control character.
    pub fn check_name(path: &Path) -> Result<(), String> {
        let name = path.file_name().unwrap_or_default();
        match name.to_str() {
            None => {
                return Err(
                    "the file name is not UTF-8; name replies `<task_id>.reply.yaml`".to_string(),
                );
            }
            Some(name) if name.chars().any(char::is_control) => {
                return Err("the file name contains a control character (a line break, an escape, ...); name replies `<task_id>.reply.yaml`".to_string());
            }
            Some(_) => {}
        }
        Ok(())
    }

    pub fn to_yaml(&self) -> String {
        super::yaml::to_string(self).expect("a reply always serialises")
    }
}

/// Longest reason 3ox writes into a note or the journal: serde quotes what it refuses, and a
/// refused value may be megabytes long.
const MAX_REASON_CHARS: usize = 1000;

fn clip(reason: String) -> String {
    match reason.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => format!("{}... (cut)", &reason[..end]),
        None => reason,
    }
}

/// Reads a mailbox file as UTF-8 text, refusing anything that is not a plain file (a symlink
/// is not followed, a FIFO is not opened), is larger than [`super::MAX_FILE_BYTES`], or is
/// not UTF-8 (UTF-16, as Windows PowerShell 5 writes with `>`, is named as such). A UTF-8
/// byte order mark is dropped.
pub fn read_limited(path: &Path) -> Result<String, String> {
    read_opened(path).map(|(text, _)| text)
}

/// [`read_limited`], with the metadata of the file that was opened and read (`fstat` of the
/// open file, not a second look at the path): whoever judges the file by its owner or mode
/// judges the very file whose text it got, even if the name is swapped meanwhile.
pub fn read_opened(path: &Path) -> Result<(String, std::fs::Metadata), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_symlink() {
            "a symlink"
        } else if kind.is_dir() {
            "a folder"
        } else {
            "not a plain file (a FIFO, socket or device)"
        };
        return Err(format!(
            "{what}: only plain files are read (symlinks are not followed, FIFOs not opened)"
        ));
    }
    let too_large = |len: u64| {
        format!(
            "the file has {len} bytes; the limit is {} (put large data in a file of the station and reply with its path)",
            super::MAX_FILE_BYTES
        )
    };
    if meta.len() > super::MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let file = open_plain(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let opened = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if !opened.is_file() {
        return Err("not a plain file: only plain files are read".to_string());
    }
    // The name may have been swapped since it was looked at: read only the file that was
    // looked at.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err("the file was replaced while it was being read; write replies once, then rename them into place".to_string());
        }
    }
    let mut bytes = Vec::new();
    file.take(super::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > super::MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 text; write UTF-8 (in Windows PowerShell 5: `Set-Content -Encoding utf8`, not `>`)".to_string());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|e| format!("the file is not UTF-8 text ({e}); write replies as UTF-8"))?;
    Ok((text, opened))
}

/// Opens `path` for reading without following a symlink and without blocking on a FIFO
/// (Unix), in case the name was swapped for one after it was looked at.
fn open_plain(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use nix::fcntl::OFlag;
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits());
    }
    options.open(path)
}

/// The note written beside a refused file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectionNote {
    pub version: u32,
    /// The refused file's name.
    pub file: String,
    pub rejected_at: DateTime<Utc>,
    pub reason: String,
}

/// Moves a refused reply into `rejected/` and writes `<name>.why.yaml` beside it. The file
/// keeps its name, with control characters and bytes that are not UTF-8 made `_` (see
/// [`super::display_name`]); a name already taken there gets a number (`x.2.yaml`), so no
/// earlier refusal is overwritten.
pub fn reject(
    path: &Path,
    reason: &str,
    now: DateTime<Utc>,
) -> std::io::Result<std::path::PathBuf> {
    let original = super::display_name(path);
    let kept = kept_name(&original);
    let moved = super::move_as(path, super::REJECTED, std::ffi::OsStr::new(&kept))?;
    let name = super::display_name(&moved);
    write_rejection_note(
        &moved.with_file_name(format!("{name}.why.yaml")),
        if kept == original { &name } else { &original },
        reason,
        now,
    )?;
    Ok(moved)
}

/// The longest file name a refused file keeps in `rejected/`: its note (`<name>.why.yaml`)
/// and the note's temporary file must still fit the filesystem's 255-byte limit.
pub const KEPT_NAME_MAX: usize = 160;

/// `name`, or for a name longer than [`KEPT_NAME_MAX`] bytes its first 140 bytes, `~`, the
/// CRC-32 of the whole name in hex and `.yaml`; the note's `file` then gives the whole name.
pub fn kept_name(name: &str) -> String {
    if name.len() <= KEPT_NAME_MAX {
        return name.to_string();
    }
    let mut end = 140;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}~{:08x}.yaml",
        &name[..end],
        crc32fast::hash(name.as_bytes())
    )
}

/// Writes a rejection note at `note_path`.
pub fn write_rejection_note(
    note_path: &Path,
    file: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> std::io::Result<()> {
    let note = RejectionNote {
        version: 1,
        file: file.to_string(),
        rejected_at: now,
        reason: reason.to_string(),
    };
    let text = super::yaml::to_string(&note).expect("a note always serialises");
    atomic::write(note_path, text.as_bytes(), Durability::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_reply_parses() {
        let r =
            Reply::parse("version: 1\ntask_id: T1\nstatus: COMPLETED\noutput: {n: 2}\n").unwrap();
        assert_eq!(r.status, ReplyStatus::Completed);
        assert_eq!(r.output["n"], 2);
    }

    #[test]
    fn bad_replies_say_why() {
        assert!(
            Reply::parse("task_id: [")
                .unwrap_err()
                .contains("not valid YAML")
        );
        assert!(
            Reply::parse("status: COMPLETED")
                .unwrap_err()
                .contains("`task_id`")
        );
        assert!(
            Reply::parse("task_id: a\nstatus: DONE")
                .unwrap_err()
                .contains("status must be")
        );
        assert!(
            Reply::parse("task_id: a\nstatus: FAILED\nreasn: x")
                .unwrap_err()
                .contains("reasn")
        );
        assert!(Reply::parse("- a\n- b").unwrap_err().contains("mapping"));
        assert!(
            Reply::parse("task_id: a\nstatus: COMPLETED\noutput: 3")
                .unwrap_err()
                .contains("output")
        );
    }

    #[test]
    fn odd_replies_say_why() {
        assert!(Reply::parse("").unwrap_err().contains("the file is empty"));
        assert!(
            Reply::parse("task_id: ../../etc/x\nstatus: COMPLETED")
                .unwrap_err()
                .contains("not a task id")
        );
        assert!(
            Reply::parse("task_id: a\nstatus: COMPLETED\nversion: 2")
                .unwrap_err()
                .contains("version 2 is not supported")
        );
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(
            Reply::parse(&deep).is_err(),
            "deep nesting is refused, not a stack overflow"
        );
    }

    #[test]
    fn a_reason_quoting_a_huge_value_is_cut() {
        let huge = "x".repeat(100_000);
        let err = Reply::parse(&format!("task_id: a\nstatus: {huge}\n")).unwrap_err();
        assert!(
            err.len() < 1100 && err.ends_with("(cut)"),
            "{} chars",
            err.len()
        );
    }

    #[test]
    fn read_limited_refuses_what_is_not_small_plain_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        assert_eq!(
            read_limited(&write("bom.yaml", b"\xEF\xBB\xBFa: 1")).unwrap(),
            "a: 1"
        );
        assert!(
            read_limited(&write("u16.yaml", b"\xFF\xFEa\0:\0"))
                .unwrap_err()
                .contains("UTF-16")
        );
        assert!(
            read_limited(&write("latin1.yaml", b"caf\xE9: 1"))
                .unwrap_err()
                .contains("not UTF-8")
        );
        let big = write(
            "big.yaml",
            &vec![b'a'; super::super::MAX_FILE_BYTES as usize + 1],
        );
        assert!(
            read_limited(&big)
                .unwrap_err()
                .contains("the limit is 4194304")
        );
        #[cfg(unix)]
        {
            let target = write("target.yaml", b"a: 1");
            let link = dir.path().join("link.yaml");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert!(read_limited(&link).unwrap_err().starts_with("a symlink"));
        }
    }

    #[test]
    fn a_refused_file_is_moved_under_a_sane_name_and_never_over_another() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let first = dir.path().join("a\nb\x1b.yaml");
        std::fs::write(&first, "one").unwrap();
        assert!(
            Reply::read(&first)
                .unwrap_err()
                .contains("control character")
        );
        let moved = reject(&first, "first", now).unwrap();
        assert_eq!(moved.file_name().unwrap(), "a_b_.yaml");
        let second = dir.path().join("a_b_.yaml");
        std::fs::write(&second, "two").unwrap();
        let moved = reject(&second, "second", now).unwrap();
        assert_eq!(moved.file_name().unwrap(), "a_b_.2.yaml");
        let rejected = dir.path().join(crate::mailbox::REJECTED);
        assert_eq!(
            std::fs::read_to_string(rejected.join("a_b_.yaml")).unwrap(),
            "one"
        );
        let note: RejectionNote = serde_yaml::from_str(
            &std::fs::read_to_string(rejected.join("a_b_.2.yaml.why.yaml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            (note.file.as_str(), note.reason.as_str()),
            ("a_b_.2.yaml", "second")
        );
    }
}

#[cfg(all(test, unix))]
mod open_tests {
    use super::open_plain;

    /// A name swapped for a symlink or a FIFO between the look and the open must neither be
    /// followed nor block the reader.
    #[test]
    fn opening_follows_no_symlink_and_does_not_block_on_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.yaml");
        std::fs::write(&target, "task_id: x\n").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_plain(&link).is_err(), "a symlink was followed");
        let fifo = dir.path().join("pipe.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Without O_NONBLOCK this open would wait for a writer forever.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(open_plain(&fifo).is_ok()).unwrap());
        let opened = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("opening a FIFO blocked");
        assert!(opened);
        assert!(open_plain(&target).is_ok());
    }
}
