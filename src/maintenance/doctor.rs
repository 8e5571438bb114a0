//! `3ox doctor`: verify every journal, rebuild the state snapshot from them and compare, find
//! journals cut at a record boundary (`lost_tails`, see `crate::orchestrator::lost_tail`) and
//! mail that outlived its run. An I/O error met on the way (a full disk) is a finding
//! (`disk`), not a failure.
//!
//! What doctor changes: the snapshot (always rewritten where it differs from the journals;
//! it is derived data; the entry of a run whose lost tail is not repaired is kept, as the
//! evidence), and with `repair` torn journal tails (cut away, as `3ox resume` would), lost
//! tails (the archived replies journaled again, as `3ox resume` would) and leftover mail of
//! ended runs (task messages into `1N.3OX/done/`, replies refused into `0UT.3OX/rejected/`
//! with a note). A corrupt journal is never changed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::TryLockError;
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;

use super::{
    MaintenanceError, Ownership, agent_names, io_err, journal_paths, read_journal, run_id_of,
    take_ownership,
};
use crate::engine::{self, Ctx, Input, RunState, RunStatus, TaskStatus};
use crate::journal::{Contents, Journal, JournalError};
use crate::mailbox::atomic::Durability;
use crate::mailbox::message::TaskMessage;
use crate::mailbox::reply::{self, Reply};
use crate::mailbox::{self, CLAIMED, DONE};
use crate::orchestrator::lost_tail;
use crate::orchestrator::snapshot::{self, RunSummary, Snapshot};
use crate::station::{AgentDirectory, Station};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Cut torn tails away and move leftover mail of ended runs.
    pub repair: bool,
}

/// Everything doctor found and did.
#[derive(Debug, Serialize)]
pub struct Report {
    pub journals: Vec<JournalCheck>,
    pub snapshot: SnapshotCheck,
    pub stuck_mail: Vec<StuckMail>,
    /// Replies no run on the station can take: they name a run that has no journal here (or
    /// none, and answer no task any journal knows).
    pub orphan_replies: Vec<OrphanReply>,
    /// Mail and control folders that users other than their owner may write: whoever can
    /// write an outbox can answer its agent's tasks (see docs/security.md).
    pub open_folders: Vec<OpenFolder>,
    /// Journals cut at a record boundary: every record left is whole, but the snapshot saw a
    /// later `seq`, or replies of attempts the journal has in flight are already archived.
    pub lost_tails: Vec<LostTail>,
    /// I/O errors met while checking (a full disk, a folder that cannot be read): what they
    /// kept doctor from doing.
    pub disk: Vec<DiskProblem>,
    /// Findings that still need attention (a corrupt or unreadable journal, a torn tail or
    /// stuck mail left in place). Zero means the station is in order now.
    pub problems: usize,
    /// Findings this run repaired (snapshot rewrites not counted).
    pub repaired: usize,
}

/// One journal's verdict.
#[derive(Debug, Serialize)]
pub struct JournalCheck {
    /// Relative to the station root.
    pub file: String,
    /// From the file name.
    pub run_id: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Every record is framed, checksummed and in sequence. `status` is `None` for a journal
    /// without a `run_started` record (created, then the process died).
    Ok {
        records: usize,
        status: Option<RunStatus>,
    },
    /// The last record is incomplete: a write was cut short (normal after a crash). `records`
    /// and `status` describe the valid part, which ends at byte `offset`.
    TornTail {
        records: usize,
        status: Option<RunStatus>,
        offset: u64,
        problem: String,
        repaired: bool,
        /// Why a repair was not done (the run is driven by another process).
        #[serde(skip_serializing_if = "Option::is_none")]
        left_because: Option<String>,
    },
    /// A bad record with records after it, a sequence gap or an unreadable record: never
    /// repaired, never skipped.
    Corrupt {
        record: u64,
        offset: u64,
        problem: String,
    },
    /// The file cannot be read at all.
    Unreadable { error: String },
}

/// The snapshot compared with what the journals say.
#[derive(Debug, Serialize)]
pub struct SnapshotCheck {
    /// Relative to the station root.
    pub file: String,
    pub found: SnapshotFound,
    /// Runs in the snapshot rebuilt from the journals.
    pub runs: usize,
    pub differences: Vec<Difference>,
    /// True when doctor wrote the rebuilt entries.
    pub rewritten: bool,
    /// Runs whose journal is corrupt or unreadable: their snapshot entries were neither
    /// checked nor changed.
    pub unverified: Vec<String>,
    /// Runs driven by another process whose differing entry was left to that process.
    pub left_to_owner: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotFound {
    Present,
    Missing,
    Unreadable,
}

/// A task's place in the snapshot or in its journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskView {
    pub status: TaskStatus,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The journal has the run; the snapshot does not.
    MissingRun { run_id: String, status: RunStatus },
    /// The snapshot has a run without a journal (its status is unknown when the entry
    /// cannot be read).
    ExtraRun {
        run_id: String,
        status: Option<RunStatus>,
    },
    /// The run's entry file cannot be read (or is of another version).
    UnreadableRun { run_id: String },
    RunStatus {
        run_id: String,
        snapshot: RunStatus,
        journal: RunStatus,
    },
    /// A task's status or attempt differs, or the task is on one side only.
    Task {
        run_id: String,
        task_ref: String,
        snapshot: Option<TaskView>,
        journal: Option<TaskView>,
    },
    /// Other fields of the entry differ (workflow, source, journal, times, output, failure).
    RunFields { run_id: String, fields: Vec<String> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// A task message in `1N.3OX/` or `1N.3OX/claimed/`.
    TaskMessage,
    /// A reply in `0UT.3OX/`.
    Reply,
}

/// Mail that belongs to a run that has ended.
#[derive(Debug, Serialize)]
pub struct StuckMail {
    pub agent: String,
    pub kind: MailKind,
    /// Relative to the station root.
    pub file: String,
    pub run_id: String,
    pub run_status: RunStatus,
    /// Where `repair` moved it.
    pub moved_to: Option<String>,
    /// Why `repair` did not move it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_because: Option<String>,
}

/// A journal that lost its tail at a record boundary (see [`Report::lost_tails`] and
/// `crate::orchestrator::lost_tail`).
#[derive(Debug, Serialize)]
pub struct LostTail {
    pub run_id: String,
    /// The journal, relative to the station root.
    pub file: String,
    /// The `seq` of the journal's last record (before a repair).
    pub journal_seq: u64,
    /// The snapshot's `last_seq` for the run, when it is above the journal's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_seq: Option<u64>,
    /// Final replies in `0UT.3OX/done/` of attempts the journal has in flight: applied once,
    /// and the records saying so were lost.
    pub archived_replies: Vec<LostReply>,
    /// `repair` journaled the archived replies again (as `3ox resume` does).
    pub repaired: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_because: Option<String>,
}

/// An archived reply the journal lost (see [`LostTail`]).
#[derive(Debug, Serialize)]
pub struct LostReply {
    pub agent: String,
    pub task_ref: String,
    pub task_id: String,
    /// Relative to the station root.
    pub file: String,
}

/// An I/O error met while checking (see [`Report::disk`]).
#[derive(Debug, Serialize)]
pub struct DiskProblem {
    /// What doctor was doing, as in `cannot write .3ox/workflow.state.yaml`.
    pub error: String,
    /// The OS error kind, as in `StorageFull`.
    pub kind: String,
    pub hint: String,
}

impl DiskProblem {
    fn of(error: &MaintenanceError) -> DiskProblem {
        let MaintenanceError::Io { source, .. } = error;
        let hint = if source.kind() == std::io::ErrorKind::StorageFull {
            "the disk is full: free space on the station's file system, then run `3ox doctor` again"
        } else {
            "check the permissions and free space of the station's folders, then run `3ox doctor` again"
        };
        DiskProblem {
            error: error.to_string(),
            kind: format!("{:?}", source.kind()),
            hint: hint.to_string(),
        }
    }
}

/// A folder group or others may write (see [`Report::open_folders`]).
#[derive(Debug, Serialize)]
pub struct OpenFolder {
    /// Relative to the station root.
    pub path: String,
    /// Its permission bits, in octal (`777`).
    pub mode: String,
}

/// Every inbox, outbox and control folder of the station that group or others may write.
fn find_open_folders(station: &Station) -> Result<Vec<OpenFolder>, MaintenanceError> {
    let mut folders = Vec::new();
    for agent in agent_names(station)? {
        folders.push(station.inbox(&agent));
        folders.push(station.outbox(&agent));
    }
    let control = station.root.join(".3ox/control");
    folders.push(control.clone());
    if let Ok(runs) = std::fs::read_dir(&control) {
        folders.extend(runs.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    let mut open = Vec::new();
    #[cfg(unix)]
    for folder in folders {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(meta) = std::fs::symlink_metadata(&folder) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o7777;
        // A sticky world-writable folder (like /tmp) still lets others add files.
        if mode & 0o022 != 0 {
            open.push(OpenFolder {
                path: station.relative(&folder),
                mode: format!("{mode:o}"),
            });
        }
    }
    #[cfg(not(unix))]
    drop(folders);
    Ok(open)
}

/// A reply that no run can take (see [`Report::orphan_replies`]).
#[derive(Debug, Serialize)]
pub struct OrphanReply {
    pub agent: String,
    /// Relative to the station root.
    pub file: String,
    /// The run it names, if it names one.
    pub run_id: Option<String>,
    pub task_id: String,
    /// Seconds since the file was last written.
    pub age_seconds: u64,
    /// Where `repair` refused it to (only once it is older than [`ORPHAN_GRACE`]).
    pub moved_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_because: Option<String>,
}

/// How old a reply no run can take must be before `repair` (and `3ox up` when it starts)
/// refuses it: younger ones may answer a run whose journal another process is creating.
pub const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// What the journals say about the runs.
#[derive(Default)]
struct Truth {
    /// Rebuilt snapshot entries of the runs whose journal could be read.
    runs: BTreeMap<String, RunSummary>,
    /// Task id -> run id, for every attempt ever scheduled.
    task_runs: HashMap<String, String>,
    /// Runs whose journal is corrupt or unreadable.
    unverified: BTreeSet<String>,
    /// Readable journals: run id -> (path, replayed state, last seq, had a torn tail).
    states: BTreeMap<String, (PathBuf, RunState, u64, bool)>,
    /// Runs whose snapshot entry is kept as it is: the evidence of a lost tail not repaired.
    keep_entry: BTreeSet<String>,
}

/// Checks the station; with `options.repair`, repairs what can be repaired safely.
pub fn check(station: &Station, options: Options) -> Result<Report, MaintenanceError> {
    let mut truth = Truth::default();
    let mut journals = Vec::new();
    let paths = match journal_paths(station) {
        Ok(paths) => paths,
        // Nothing else can be judged without the journals.
        Err(e) => return Ok(Report::of_disk(DiskProblem::of(&e))),
    };
    for path in paths {
        journals.push(check_journal(station, &path, options, &mut truth));
    }
    let mut disk = Vec::new();
    let lost_tails = find_lost_tails(station, &mut truth, options);
    let snapshot = check_snapshot(station, &truth, &mut disk);
    let (stuck_mail, orphan_replies) =
        find_stuck_mail(station, &truth, options).unwrap_or_else(|e| {
            disk.push(DiskProblem::of(&e));
            (Vec::new(), Vec::new())
        });
    let open_folders = find_open_folders(station).unwrap_or_else(|e| {
        disk.push(DiskProblem::of(&e));
        Vec::new()
    });
    let tails_left = lost_tails.iter().filter(|t| !t.repaired).count();
    let journal_problems = journals
        .iter()
        .filter(|j| {
            !matches!(
                j.verdict,
                Verdict::Ok { .. } | Verdict::TornTail { repaired: true, .. }
            )
        })
        .count();
    let journal_repairs = journals
        .iter()
        .filter(|j| matches!(j.verdict, Verdict::TornTail { repaired: true, .. }))
        .count();
    let mail_problems = stuck_mail.iter().filter(|m| m.moved_to.is_none()).count();
    let orphans_left = orphan_replies
        .iter()
        .filter(|m| m.moved_to.is_none())
        .count();
    Ok(Report {
        problems: journal_problems
            + mail_problems
            + orphans_left
            + open_folders.len()
            + tails_left
            + disk.len(),
        repaired: journal_repairs
            + (stuck_mail.len() - mail_problems)
            + (orphan_replies.len() - orphans_left)
            + (lost_tails.len() - tails_left),
        journals,
        snapshot,
        stuck_mail,
        orphan_replies,
        open_folders,
        lost_tails,
        disk,
    })
}

impl Report {
    /// The report when the runs folder itself cannot be listed.
    fn of_disk(problem: DiskProblem) -> Report {
        Report {
            journals: Vec::new(),
            snapshot: SnapshotCheck {
                file: String::new(),
                found: SnapshotFound::Unreadable,
                runs: 0,
                differences: Vec::new(),
                rewritten: false,
                unverified: Vec::new(),
                left_to_owner: Vec::new(),
            },
            stuck_mail: Vec::new(),
            orphan_replies: Vec::new(),
            open_folders: Vec::new(),
            lost_tails: Vec::new(),
            disk: vec![problem],
            problems: 1,
            repaired: 0,
        }
    }
}

/// Journals cut at a record boundary (see [`LostTail`]); with `repair`, journals the archived
/// replies again under the run's ownership lock, as `3ox resume` does (without walking on:
/// the next driver does that). Must run before [`check_snapshot`] rewrites the entries.
fn find_lost_tails(station: &Station, truth: &mut Truth, options: Options) -> Vec<LostTail> {
    let old = snapshot::read_all(station)
        .map(|s| s.runs)
        .unwrap_or_default();
    let mut found = Vec::new();
    let run_ids: Vec<String> = truth.states.keys().cloned().collect();
    for run_id in run_ids {
        let (path, state, journal_seq, torn) = &truth.states[&run_id];
        // A torn tail is reported as such: the torn record may be the one the snapshot saw.
        let snapshot_seq = old
            .get(&run_id)
            .map(|entry| entry.last_seq)
            .filter(|seq| *seq > journal_seq + u64::from(*torn));
        let archived = lost_tail::archived_replies(station, state);
        if snapshot_seq.is_none() && archived.is_empty() {
            continue;
        }
        // A live driver may have applied a reply since the journal was read here.
        let owner = match take_ownership(&station.runs_dir(), &run_id) {
            Ok(Ownership::Held) => continue,
            Ok(Ownership::Free(lock)) => lock,
            Err(_) => None,
        };
        let mut tail = LostTail {
            run_id: run_id.clone(),
            file: station.relative(path),
            journal_seq: *journal_seq,
            snapshot_seq,
            archived_replies: archived
                .iter()
                .map(|a| LostReply {
                    agent: a.agent.clone(),
                    task_ref: a.task_ref.clone(),
                    task_id: a.task_id.clone(),
                    file: station.relative(&a.path),
                })
                .collect(),
            repaired: false,
            left_because: None,
        };
        let path = path.clone();
        if !options.repair {
            truth.keep_entry.insert(run_id.clone());
        } else if archived.is_empty() {
            // Nothing outside the journal says what the lost records held: the entry follows
            // the journal from now on, so the loss is reported once.
            tail.left_because = Some(
                "no archived reply answers what the journal has in flight: what the lost records said is gone; the snapshot entry now follows the journal".to_string(),
            );
        } else {
            match reapply(station, &path, &archived) {
                Ok((state, last_seq)) => {
                    tail.repaired = true;
                    truth.runs.insert(
                        run_id.clone(),
                        RunSummary::of(&state, station).at_seq(last_seq),
                    );
                }
                Err(e) => {
                    tail.left_because = Some(e.to_string());
                    truth.keep_entry.insert(run_id.clone());
                }
            }
        }
        drop(owner);
        found.push(tail);
    }
    found
}

/// Journals `archived` replies to the run of the journal at `path` as the engine receives
/// them; returns the state after and the journal's last seq.
fn reapply(
    station: &Station,
    path: &Path,
    archived: &[lost_tail::ArchivedReply],
) -> Result<(RunState, u64), JournalError> {
    let (mut journal, contents) = Journal::open(path, Durability::Durable)?;
    let mut state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    let agents = AgentDirectory::load(station).unwrap_or_default();
    let now = Utc::now();
    let mut new_id = ulid::Ulid::new;
    let mut ctx = Ctx {
        now,
        agents: &agents,
        new_id: &mut new_id,
        load: &crate::engine::no_load,
    };
    let mut changes = Vec::new();
    for reply in archived {
        changes.extend(engine::receive(
            &mut state,
            Input::Reply {
                agent: reply.agent.clone(),
                file: mailbox::display_name(&reply.path),
                reply: reply.reply.clone(),
            },
            &mut ctx,
        ));
    }
    let run_id = state.run_id.clone();
    journal.append(&run_id, now, changes)?;
    Ok((state, journal.last_seq()))
}

fn check_journal(
    station: &Station,
    path: &Path,
    options: Options,
    truth: &mut Truth,
) -> JournalCheck {
    let run_id = run_id_of(path);
    let file = station.relative(path);
    let verdict = match read_journal(path) {
        Ok(contents) => match contents.torn_tail.clone() {
            None => {
                let status = learn(station, Some(path), &contents, truth);
                Verdict::Ok {
                    records: contents.records.len(),
                    status,
                }
            }
            Some((offset, problem)) => {
                let (contents, repaired, left_because) = if options.repair {
                    repair_tail(station, path, &run_id, contents)
                } else {
                    (contents, false, None)
                };
                let status = learn(station, Some(path), &contents, truth);
                Verdict::TornTail {
                    records: contents.records.len(),
                    status,
                    offset,
                    problem,
                    repaired,
                    left_because,
                }
            }
        },
        Err(JournalError::Corrupt {
            record,
            offset,
            problem,
            ..
        }) => {
            truth.unverified.insert(run_id.clone());
            Verdict::Corrupt {
                record,
                offset,
                problem,
            }
        }
        Err(JournalError::Io { source, .. }) => {
            truth.unverified.insert(run_id.clone());
            Verdict::Unreadable {
                error: source.to_string(),
            }
        }
        // Only appends report a replaced journal; a read never does.
        Err(error @ JournalError::Replaced { .. }) => {
            truth.unverified.insert(run_id.clone());
            Verdict::Unreadable {
                error: error.to_string(),
            }
        }
    };
    JournalCheck {
        file,
        run_id,
        verdict,
    }
}

/// Cuts a torn tail away under the journal's lock (`Journal::open` does exactly that), unless
/// a live process owns the run. Returns the contents after the attempt.
fn repair_tail(
    station: &Station,
    path: &Path,
    run_id: &str,
    contents: Contents,
) -> (Contents, bool, Option<String>) {
    let _owner = match take_ownership(&station.runs_dir(), run_id) {
        Ok(Ownership::Free(lock)) => lock,
        Ok(Ownership::Held) => {
            return (
                contents,
                false,
                Some(
                    "the run is driven by another process, which repairs its own journal"
                        .to_string(),
                ),
            );
        }
        Err(e) => {
            return (
                contents,
                false,
                Some(format!("cannot check the run's ownership lock: {e}")),
            );
        }
    };
    match Journal::open(path, Durability::Durable) {
        Ok((_journal, reopened)) => (reopened, true, None),
        Err(e) => (contents, false, Some(e.to_string())),
    }
}

/// Folds a readable journal into `truth`; returns the run's status (`None` without a
/// `run_started` record).
fn learn(
    station: &Station,
    path: Option<&Path>,
    contents: &Contents,
    truth: &mut Truth,
) -> Option<RunStatus> {
    let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    if state.run_id.is_empty() {
        return None;
    }
    for task_id in state.task_ids.keys() {
        truth
            .task_runs
            .insert(task_id.clone(), state.run_id.clone());
    }
    let last_seq = contents.records.last().map_or(0, |r| r.seq);
    truth.runs.insert(
        state.run_id.clone(),
        RunSummary::of(&state, station).at_seq(last_seq),
    );
    let status = state.status;
    let torn = contents.torn_tail.is_some();
    if let Some(path) = path {
        truth.states.insert(
            state.run_id.clone(),
            (path.to_path_buf(), state, last_seq, torn),
        );
    }
    Some(status)
}

fn check_snapshot(station: &Station, truth: &Truth, disk: &mut Vec<DiskProblem>) -> SnapshotCheck {
    let path = station.snapshot_dir();
    let (found, old): (SnapshotFound, Option<Snapshot>) = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (SnapshotFound::Missing, None),
        _ => match snapshot::read_all(station) {
            Some(old) => (SnapshotFound::Present, Some(old)),
            None => (SnapshotFound::Unreadable, None),
        },
    };
    let mut differences = Vec::new();
    let mut to_write = Vec::new();
    let mut to_remove = Vec::new();
    let (old_runs, unreadable) = old.map(|s| (s.runs, s.unreadable)).unwrap_or_default();
    for (run_id, rebuilt) in &truth.runs {
        match old_runs.get(run_id) {
            None if unreadable.contains(run_id) => {
                differences.push(Difference::UnreadableRun {
                    run_id: run_id.clone(),
                });
                to_write.push(run_id.clone());
            }
            None if found == SnapshotFound::Present => {
                differences.push(Difference::MissingRun {
                    run_id: run_id.clone(),
                    status: rebuilt.status,
                });
                to_write.push(run_id.clone());
            }
            None => to_write.push(run_id.clone()),
            Some(entry) if entry != rebuilt => {
                differences.extend(compare(run_id, entry, rebuilt));
                to_write.push(run_id.clone());
            }
            Some(_) => {}
        }
    }
    for (run_id, entry) in &old_runs {
        if !truth.runs.contains_key(run_id) && !truth.unverified.contains(run_id) {
            differences.push(Difference::ExtraRun {
                run_id: run_id.clone(),
                status: Some(entry.status),
            });
            to_remove.push(run_id.clone());
        }
    }
    for run_id in &unreadable {
        if !truth.runs.contains_key(run_id) && !truth.unverified.contains(run_id) {
            differences.push(Difference::ExtraRun {
                run_id: run_id.clone(),
                status: None,
            });
            to_remove.push(run_id.clone());
        }
    }
    // A running run's orchestrator refreshes its own entry (and may be a step ahead of what
    // was read here): leave those entries to it.
    let mut left_to_owner = Vec::new();
    let mut writes = Vec::new();
    for run_id in to_write {
        if truth.keep_entry.contains(&run_id) {
            continue;
        }
        let summary = truth.runs[&run_id].clone();
        if summary.status == RunStatus::Running
            && matches!(
                take_ownership(&station.runs_dir(), &run_id),
                Ok(Ownership::Held)
            )
        {
            left_to_owner.push(run_id);
        } else {
            writes.push((run_id, summary));
        }
    }
    // A station that never ran anything (no .3ox/ yet) has nothing to rebuild.
    let nothing_to_write = truth.runs.is_empty() && !station.runtime_dir().is_dir();
    let rewrite = !nothing_to_write
        && (found != SnapshotFound::Present
            || !writes.is_empty()
            || !to_remove.is_empty()
            || station.legacy_snapshot_path().exists());
    let mut rewritten = false;
    if rewrite {
        let legacy = station.legacy_snapshot_path();
        let written = snapshot::update(station, writes)
            .and_then(|()| snapshot::remove(station, &to_remove))
            .and_then(|()| match std::fs::remove_file(&legacy) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            })
            .map_err(io_err("write", &path));
        match written {
            Ok(()) => rewritten = true,
            Err(e) => disk.push(DiskProblem::of(&e)),
        }
    }
    SnapshotCheck {
        file: station.relative(&path),
        found,
        runs: truth.runs.len(),
        differences,
        rewritten,
        unverified: truth.unverified.iter().cloned().collect(),
        left_to_owner,
    }
}

/// The differences between a snapshot entry and the entry rebuilt from the journal.
fn compare(run_id: &str, entry: &RunSummary, rebuilt: &RunSummary) -> Vec<Difference> {
    let mut differences = Vec::new();
    if entry.status != rebuilt.status {
        differences.push(Difference::RunStatus {
            run_id: run_id.to_string(),
            snapshot: entry.status,
            journal: rebuilt.status,
        });
    }
    let task_refs: BTreeSet<&String> = entry.tasks.keys().chain(rebuilt.tasks.keys()).collect();
    for task_ref in task_refs {
        let view = |s: &RunSummary| {
            s.tasks.get(task_ref).map(|t| TaskView {
                status: t.status,
                attempt: t.attempt,
            })
        };
        let (snapshot, journal) = (view(entry), view(rebuilt));
        if snapshot != journal {
            differences.push(Difference::Task {
                run_id: run_id.to_string(),
                task_ref: task_ref.clone(),
                snapshot,
                journal,
            });
        }
    }
    let mut fields = Vec::new();
    let checks = [
        ("workflow", entry.workflow == rebuilt.workflow),
        ("source", entry.source == rebuilt.source),
        ("journal", entry.journal == rebuilt.journal),
        ("started_at", entry.started_at == rebuilt.started_at),
        ("ended_at", entry.ended_at == rebuilt.ended_at),
        ("output", entry.output == rebuilt.output),
        ("failure", entry.failure == rebuilt.failure),
        ("last_seq", entry.last_seq == rebuilt.last_seq),
    ];
    fields.extend(
        checks
            .iter()
            .filter(|(_, same)| !same)
            .map(|(name, _)| (*name).to_string()),
    );
    // Same statuses and attempts, other task details (agent, reason, times) differ.
    if entry.tasks != rebuilt.tasks
        && differences
            .iter()
            .all(|d| !matches!(d, Difference::Task { .. }))
    {
        fields.push("tasks".to_string());
    }
    if !fields.is_empty() {
        differences.push(Difference::RunFields {
            run_id: run_id.to_string(),
            fields,
        });
    }
    differences
}

/// Task messages in inboxes (or `claimed/`) and replies in outboxes whose run has ended.
/// Moves the leftover mail of ended runs out of the mailboxes, as `3ox doctor --repair` does,
/// and returns what it found: `3ox up` calls this when it starts, so a crash between a run's
/// end and the tidying of its mail does not leave mail that nothing ever moves. Only journals
/// that read cleanly count (a torn or corrupt one is doctor's to report).
pub fn tidy_ended_mail(
    station: &Station,
) -> Result<(Vec<StuckMail>, Vec<OrphanReply>), MaintenanceError> {
    let mut truth = Truth::default();
    for path in journal_paths(station)? {
        if let Ok(contents) = read_journal(&path)
            && contents.torn_tail.is_none()
        {
            learn(station, None, &contents, &mut truth);
        }
    }
    find_stuck_mail(station, &truth, Options { repair: true })
}

fn find_stuck_mail(
    station: &Station,
    truth: &Truth,
    options: Options,
) -> Result<(Vec<StuckMail>, Vec<OrphanReply>), MaintenanceError> {
    let mut orphans = Vec::new();
    let ended = |run_id: &str| {
        truth
            .runs
            .get(run_id)
            .map(|r| r.status)
            .filter(|s| *s != RunStatus::Running)
    };
    let mut stuck = Vec::new();
    for agent in agent_names(station)? {
        let inbox = station.inbox(&agent);
        for dir in [inbox.clone(), inbox.join(CLAIMED)] {
            for path in list(&dir)? {
                let Ok(message) = TaskMessage::read(&path) else {
                    continue;
                };
                let Some(status) = ended(&message.run_id) else {
                    continue;
                };
                let mut mail = StuckMail {
                    agent: agent.clone(),
                    kind: MailKind::TaskMessage,
                    file: station.relative(&path),
                    run_id: message.run_id,
                    run_status: status,
                    moved_to: None,
                    left_because: None,
                };
                if options.repair {
                    match archive_message(&path, &inbox) {
                        Ok(target) => mail.moved_to = Some(station.relative(&target)),
                        // Another process (an orchestrator archiving it) was quicker.
                        Err(MoveError::Gone) => continue,
                        Err(MoveError::Left(reason)) => mail.left_because = Some(reason),
                    }
                }
                stuck.push(mail);
            }
        }
        for path in list(&station.outbox(&agent))? {
            let Ok(reply) = Reply::read(&path) else {
                continue;
            };
            let Some(run_id) = reply
                .run_id
                .clone()
                .or_else(|| truth.task_runs.get(&reply.task_id).cloned())
                .filter(|run| truth.runs.contains_key(run) || truth.unverified.contains(run))
            else {
                orphans.push(orphan(station, &agent, &path, reply, options));
                continue;
            };
            let Some(status) = ended(&run_id) else {
                continue;
            };
            let mut mail = StuckMail {
                agent: agent.clone(),
                kind: MailKind::Reply,
                file: station.relative(&path),
                run_id: run_id.clone(),
                run_status: status,
                moved_to: None,
                left_because: None,
            };
            if options.repair {
                let reason = format!(
                    "the run {run_id} had already ended {status} when `3ox doctor --repair` found this reply"
                );
                match reply::reject(&path, &reason, Utc::now()) {
                    Ok(target) => mail.moved_to = Some(station.relative(&target)),
                    // Another run's orchestrator refused it first.
                    Err(_) if std::fs::symlink_metadata(&path).is_err() => continue,
                    Err(e) => mail.left_because = Some(e.to_string()),
                }
            }
            stuck.push(mail);
        }
    }
    Ok((stuck, orphans))
}

/// A reply no run can take; refused with `repair` once older than [`ORPHAN_GRACE`].
fn orphan(
    station: &Station,
    agent: &str,
    path: &Path,
    reply: Reply,
    options: Options,
) -> OrphanReply {
    let age = std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .unwrap_or_default();
    let mut found = OrphanReply {
        agent: agent.to_string(),
        file: station.relative(path),
        run_id: reply.run_id.clone(),
        task_id: reply.task_id.clone(),
        age_seconds: age.as_secs(),
        moved_to: None,
        left_because: None,
    };
    if options.repair {
        if age < ORPHAN_GRACE {
            found.left_because = Some(format!(
                "younger than {} s; refused once older",
                ORPHAN_GRACE.as_secs()
            ));
        } else {
            let reason = match &reply.run_id {
                Some(run) => format!(
                    "no run `{run}` on this station (never started here, or archived by gc); reply only to task messages you received"
                ),
                None => format!(
                    "no run on this station has a task with id `{}`; reply to a task message you received",
                    reply.task_id
                ),
            };
            match reply::reject(path, &reason, Utc::now()) {
                Ok(target) => found.moved_to = Some(station.relative(&target)),
                Err(e) => found.left_because = Some(e.to_string()),
            }
        }
    }
    found
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, MaintenanceError> {
    match mailbox::list_mail(dir) {
        Ok(files) => Ok(files),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err("list", dir)(e)),
    }
}

/// Why a task message was not moved.
enum MoveError {
    /// It is no longer there: somebody else moved it.
    Gone,
    Left(String),
}

impl From<std::io::Error> for MoveError {
    fn from(e: std::io::Error) -> MoveError {
        if e.kind() == std::io::ErrorKind::NotFound {
            MoveError::Gone
        } else {
            MoveError::Left(e.to_string())
        }
    }
}

/// Moves a task message of an ended run into `1N.3OX/done/`, unless a worker still holds it
/// (a claimed message being worked on is locked by its worker).
fn archive_message(path: &Path, inbox: &Path) -> Result<PathBuf, MoveError> {
    let file = std::fs::File::open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(MoveError::Left(
                "a worker is still working on it".to_string(),
            ));
        }
        Err(TryLockError::Error(e)) => return Err(MoveError::Left(e.to_string())),
    }
    // Let go before the rename: Windows does not rename open files.
    drop(file);
    let done = inbox.join(DONE);
    std::fs::create_dir_all(&done).map_err(|e| MoveError::Left(e.to_string()))?;
    let target = done.join(path.file_name().unwrap_or_default());
    if target.exists() {
        return Err(MoveError::Left(format!(
            "{} already exists",
            target.display()
        )));
    }
    std::fs::rename(path, &target)?;
    Ok(target)
}
