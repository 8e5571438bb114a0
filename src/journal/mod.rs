//! The journal: one append-only YAML file per run, `.3ox/runs/<run_id>.journal.yaml`.
//!
//! Every state change of a run is one record, appended before the change is acted on. A
//! record is framed so that a torn write is recognisable:
//!
//! ```text
//! --- # 3ox journal record
//! version: 1
//! seq: 7
//! at: 2026-11-24T10:00:00.123456Z
//! run: 01JD...
//! event: task_completed
//! task_ref: check
//! output: {...}
//! # end seq=7 crc32=5a1f03c2
//! ```
//!
//! The checksum covers the record's body (the lines between the two markers). Records are
//! split by these markers, never with a multi-document YAML iterator (libyaml-based ones loop
//! forever on a truncated last document). On open, a final record without its end marker or
//! with a wrong checksum is a torn write: it is reported and cut away. A bad record anywhere
//! else is corruption, reported with file, record number and byte offset; nothing is skipped.
//!
//! Appends take an exclusive lock on the file (std `File::lock`, which dies with its
//! process), write all records of one step in one `write` and fsync once (group commit).
//! See `docs/journal.md`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Change;
use crate::mailbox::atomic::{Durability, sync_dir};

/// Version of the record format.
pub const RECORD_VERSION: u32 = 1;
const START: &str = "--- # 3ox journal record";
const END_PREFIX: &str = "# end seq=";

/// One journal record: a change with its sequence number, time and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub run: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "journal {path} is no longer the file this run writes to (it was deleted, moved or replaced while the run was driven); nothing more was written"
    )]
    Replaced { path: String },
    #[error("journal {path} is corrupt at record {record} (byte {offset}): {problem}")]
    Corrupt {
        path: String,
        record: u64,
        offset: u64,
        problem: String,
    },
}

impl JournalError {
    pub fn hint(&self) -> &'static str {
        match self {
            JournalError::Io { .. } => {
                "check the permissions and free space of the station's .3ox folder"
            }
            JournalError::Replaced { .. } => {
                "something removed the station's .3ox folder (or this run's journal) under a running driver; restore it from a backup, or start the run again"
            }
            JournalError::Corrupt { .. } => {
                "the journal was changed by something other than 3ox; restore it from a backup, or move it aside to give up the run"
            }
        }
    }
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct Contents {
    pub records: Vec<Record>,
    /// Byte length of the valid part.
    pub valid_len: u64,
    /// A torn final record: its byte offset and what was wrong.
    pub torn_tail: Option<(u64, String)>,
}

/// An open journal, ready to append.
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    durability: Durability,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Journal {
    /// The journal file of `run_id` in `runs_dir`.
    pub fn path_for(runs_dir: &Path, run_id: &str) -> PathBuf {
        runs_dir.join(format!("{run_id}.journal.yaml"))
    }

    /// Creates a new, empty journal (fails if it exists).
    pub fn create(path: &Path, durability: Durability) -> Result<Journal, JournalError> {
        let file = OpenOptions::new()
            .append(true)
            .read(true)
            .create_new(true)
            .open(path)
            .map_err(io_err(path))?;
        if durability == Durability::Durable {
            sync_dir(path.parent().unwrap_or(Path::new("."))).map_err(io_err(path))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            next_seq: 1,
            durability,
        })
    }

    /// Opens an existing journal: reads it, cuts a torn tail away, and returns its records.
    pub fn open(path: &Path, durability: Durability) -> Result<(Journal, Contents), JournalError> {
        let mut file = OpenOptions::new()
            .append(true)
            .read(true)
            .open(path)
            .map_err(io_err(path))?;
        file.lock().map_err(io_err(path))?;
        let contents = read_from(&mut file, path)?;
        if contents.torn_tail.is_some() {
            file.set_len(contents.valid_len).map_err(io_err(path))?;
            file.sync_all().map_err(io_err(path))?;
        }
        file.unlock().map_err(io_err(path))?;
        let next_seq = contents.records.last().map_or(1, |r| r.seq + 1);
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
                next_seq,
                durability,
            },
            contents,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `seq` of the last record written (0 for an empty journal).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Whether the open file is still the one at the journal's path: a journal deleted (say,
    /// with the whole `.3ox/`) or replaced under a running driver must not be written to, or
    /// the records go to a file nobody can read again.
    fn is_at_its_path(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            match (self.file.metadata(), std::fs::metadata(&self.path)) {
                (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
                _ => false,
            }
        }
        #[cfg(not(unix))]
        {
            self.path.exists()
        }
    }

    /// Appends one record per change, in one write and (when durable) one fsync, under an
    /// exclusive lock. Returns the records written.
    pub fn append(
        &mut self,
        run: &str,
        at: DateTime<Utc>,
        changes: Vec<Change>,
    ) -> Result<Vec<Record>, JournalError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let mut bytes = Vec::with_capacity(256 * changes.len());
        let mut records = Vec::with_capacity(changes.len());
        for change in changes {
            let record = Record {
                version: RECORD_VERSION,
                seq: self.next_seq,
                at,
                run: run.to_string(),
                change,
            };
            self.next_seq += 1;
            encode(&record, &mut bytes);
            records.push(record);
        }
        let path = self.path.clone();
        self.file.lock().map_err(io_err(&path))?;
        if !self.is_at_its_path() {
            let _ = self.file.unlock();
            return Err(JournalError::Replaced {
                path: path.display().to_string(),
            });
        }
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| match self.durability {
                Durability::Durable => self.file.sync_data(),
                Durability::Relaxed => Ok(()),
            });
        let unlocked = self.file.unlock();
        written.map_err(io_err(&path))?;
        unlocked.map_err(io_err(&path))?;
        Ok(records)
    }
}

/// Encodes one record with its frame.
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    let body = crate::mailbox::yaml::to_string(record).expect("a journal record always serialises");
    let crc = crc32fast::hash(body.as_bytes());
    out.extend_from_slice(START.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body.as_bytes());
    if !body.ends_with('\n') {
        out.push(b'\n');
    }
    out.extend_from_slice(format!("{END_PREFIX}{} crc32={crc:08x}\n", record.seq).as_bytes());
}

/// Reads a journal file without changing it.
pub fn read(path: &Path) -> Result<Contents, JournalError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    read_from(&mut file, path)
}

fn read_from(file: &mut File, path: &Path) -> Result<Contents, JournalError> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io_err(path))?;
    file.read_to_end(&mut bytes).map_err(io_err(path))?;
    decode(&bytes, path)
}

/// Splits and checks the records of a journal's bytes.
pub fn decode(bytes: &[u8], path: &Path) -> Result<Contents, JournalError> {
    let mut contents = Contents::default();
    let mut offset = 0usize;
    let corrupt = |record: u64, offset: usize, problem: String| JournalError::Corrupt {
        path: path.display().to_string(),
        record,
        offset: offset as u64,
        problem,
    };
    while offset < bytes.len() {
        let record_no = contents.records.len() as u64 + 1;
        // A damaged record is a torn write only when no whole record (marker, body, end
        // marker, good checksum) follows it. The marker's text inside the torn record's own
        // values does not count: it never makes a record that checks out.
        let is_tail = |from: usize| !holds_a_whole_record(&bytes[from + 1..]);
        let frame = match split_frame(&bytes[offset..]) {
            Ok(frame) => frame,
            Err(problem) if is_tail(offset) => {
                contents.torn_tail = Some((offset as u64, problem));
                break;
            }
            Err(problem) => return Err(corrupt(record_no, offset, problem)),
        };
        match check_frame(&frame, record_no) {
            Ok(record) => {
                if record.seq != record_no {
                    return Err(corrupt(
                        record_no,
                        offset,
                        format!(
                            "sequence number {} where {record_no} was expected",
                            record.seq
                        ),
                    ));
                }
                contents.records.push(record);
                offset += frame.len;
                contents.valid_len = offset as u64;
            }
            Err(problem) if is_tail(offset) => {
                contents.torn_tail = Some((offset as u64, problem));
                break;
            }
            Err(problem) => return Err(corrupt(record_no, offset, problem)),
        }
    }
    Ok(contents)
}

/// Whether a whole record with a good checksum starts anywhere in `bytes`.
fn holds_a_whole_record(bytes: &[u8]) -> bool {
    (0..bytes.len())
        .filter(|&i| bytes[i..].starts_with(START.as_bytes()))
        .any(|i| {
            split_frame(&bytes[i..]).is_ok_and(|frame| {
                end_marker(&frame).is_ok_and(|(_, crc)| crc32fast::hash(frame.body) == crc)
            })
        })
}

struct Frame<'a> {
    body: &'a [u8],
    end_line: &'a str,
    /// Bytes of the whole frame, end marker line included.
    len: usize,
}

fn split_frame(bytes: &[u8]) -> Result<Frame<'_>, String> {
    let start_len = START.len() + 1;
    if bytes.len() < start_len
        || &bytes[..START.len()] != START.as_bytes()
        || bytes[START.len()] != b'\n'
    {
        return Err("the record does not start with the record marker".to_string());
    }
    let mut pos = start_len;
    while pos < bytes.len() {
        let line_end = bytes[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| pos + i);
        let Some(line_end) = line_end else { break };
        let line = &bytes[pos..line_end];
        if line.starts_with(END_PREFIX.as_bytes()) {
            let end_line =
                std::str::from_utf8(line).map_err(|_| "the end marker is not text".to_string())?;
            return Ok(Frame {
                body: &bytes[start_len..pos],
                end_line,
                len: line_end + 1,
            });
        }
        pos = line_end + 1;
    }
    Err("the record has no end marker (a write was cut short)".to_string())
}

/// The sequence number and checksum of a frame's end marker.
fn end_marker(frame: &Frame<'_>) -> Result<(u64, u32), String> {
    let rest = &frame.end_line[END_PREFIX.len()..];
    let (seq_text, crc_text) = rest
        .split_once(" crc32=")
        .ok_or("the end marker has no checksum")?;
    let seq: u64 = seq_text
        .parse()
        .map_err(|_| format!("the end marker's sequence `{seq_text}` is not a number"))?;
    let crc = u32::from_str_radix(crc_text.trim(), 16)
        .map_err(|_| format!("the checksum `{crc_text}` is not hexadecimal"))?;
    Ok((seq, crc))
}

fn check_frame(frame: &Frame<'_>, expected_seq: u64) -> Result<Record, String> {
    let (seq, crc) = end_marker(frame)?;
    if crc32fast::hash(frame.body) != crc {
        return Err(format!("checksum mismatch in record {seq}"));
    }
    if seq != expected_seq {
        return Err(format!(
            "end marker of record {seq} where {expected_seq} was expected"
        ));
    }
    let text =
        std::str::from_utf8(frame.body).map_err(|_| "the record is not UTF-8 text".to_string())?;
    serde_yaml::from_str::<Record>(text).map_err(|e| format!("the record does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(n: u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        for seq in 1..=n {
            let change = Change::TaskCompleted {
                task_ref: format!("t{seq}"),
                task_id: None,
                input: None,
                output: json!({"n": seq, "text": "a\n--- b\n# end seq=9"}),
            };
            let record = Record {
                version: 1,
                seq,
                at: Utc::now(),
                run: "R".into(),
                change,
            };
            encode(&record, &mut bytes);
        }
        bytes
    }

    #[test]
    fn records_round_trip_even_with_marker_like_text_inside() {
        let contents = decode(&sample(3), Path::new("j")).unwrap();
        assert_eq!(contents.records.len(), 3);
        assert!(contents.torn_tail.is_none());
        assert_eq!(contents.records[2].seq, 3);
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_torn_tail() {
        let whole = sample(3);
        let two = decode(&whole, Path::new("j")).unwrap();
        let prefix_len = {
            let mut b = Vec::new();
            for r in &two.records[..2] {
                encode(r, &mut b);
            }
            b.len()
        };
        for cut in prefix_len + 1..whole.len() {
            let contents = decode(&whole[..cut], Path::new("j")).unwrap();
            assert_eq!(contents.records.len(), 2, "cut at {cut}");
            assert_eq!(
                contents.torn_tail.as_ref().map(|t| t.0),
                Some(prefix_len as u64),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_before_the_last_record_is_corruption() {
        let whole = sample(3);
        let last_start = {
            let two = decode(&whole, Path::new("j")).unwrap();
            let mut b = Vec::new();
            for r in &two.records[..2] {
                encode(r, &mut b);
            }
            b.len()
        };
        for at in 0..last_start {
            let mut bytes = whole.clone();
            bytes[at] ^= 0x01;
            match decode(&bytes, Path::new("j")) {
                Err(JournalError::Corrupt { .. }) => {}
                other => panic!("flip at byte {at} not reported as corruption: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod marker_tests {
    use super::*;

    #[test]
    fn marker_lines_inside_top_level_text_cannot_end_a_record() {
        let nasty = format!(
            "first line\n{START}\n# end seq=1 crc32=00000000\n{}",
            "long words ".repeat(40)
        );
        for text in [
            nasty.clone(),
            nasty.replace('\n', " "),
            format!("  {nasty}  "),
            format!("'{nasty}\""),
        ] {
            let change = Change::RunFailed {
                reason: text.clone(),
                task_ref: Some(text.clone()),
                output: None,
            };
            let record = Record {
                version: 1,
                seq: 1,
                at: Utc::now(),
                run: "R".into(),
                change,
            };
            let mut bytes = Vec::new();
            encode(&record, &mut bytes);
            let body = String::from_utf8(bytes.clone()).unwrap();
            let inner: Vec<&str> = body.lines().skip(1).collect();
            let inner = &inner[..inner.len() - 1];
            assert!(
                inner
                    .iter()
                    .all(|l| !l.starts_with(END_PREFIX) && *l != START),
                "a marker line leaked:\n{body}"
            );
            let contents = decode(&bytes, Path::new("j")).unwrap();
            assert_eq!(contents.records, vec![record]);
        }
    }
}
