//! `3ox gc`: bound what a station keeps.
//!
//! A run is collected when its journal says it ended (COMPLETED or FAILED) before the cutoff:
//! the end time is the `at` of its `run_completed` or `run_failed` record, never a file time.
//! Its journal moves to `.3ox/archive/<yyyy-mm of the end>/<run_id>.journal.yaml` (or is
//! deleted), its snapshot entry is removed, and its ownership lock file goes once gc holds
//! that lock. RUNNING runs, runs a live process holds, and unreadable or corrupt journals are
//! left alone.
//!
//! Handled mail (`1N.3OX/done/`, `0UT.3OX/done/`, `0UT.3OX/rejected/` with its notes) is
//! removed when its file was last modified before the cutoff; a move into `done/` keeps the
//! modification time, so that is when the message or reply was written.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    MaintenanceError, Ownership, agent_names, io_err, journal_paths, ownership_lock_path,
    read_journal, run_id_of, take_ownership,
};
use crate::engine::{RunState, RunStatus};
use crate::mailbox::atomic::sync_dir;
use crate::mailbox::{DONE, REJECTED};
use crate::orchestrator::snapshot;
use crate::station::Station;

/// What happens to a collected run's journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposal {
    /// Move it into `.3ox/archive/<yyyy-mm>/`.
    #[default]
    Archive,
    Delete,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Collect what ended (runs) or was written (mail) longer ago than this.
    pub older_than: std::time::Duration,
    pub disposal: Disposal,
    /// Report what would go; change nothing.
    pub dry_run: bool,
    /// The present (a parameter so that tests need no clock).
    pub now: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub disposal: Disposal,
    /// Runs that ended before this, and mail written before it, are collected.
    pub cutoff: DateTime<Utc>,
    /// Runs collected (or, in a dry run, that would be).
    pub runs: Vec<CollectedRun>,
    pub kept: Kept,
    /// Old finished runs left alone on purpose (a live process holds them).
    pub skipped: Vec<Skipped>,
    /// Handled mail removed (or that would be).
    pub mail: Vec<RemovedFile>,
    /// What could not be read or collected.
    pub problems: Vec<Problem>,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct CollectedRun {
    pub run_id: String,
    pub status: RunStatus,
    pub ended_at: DateTime<Utc>,
    /// The journal's place before, relative to the station root.
    pub journal: String,
    /// Its place in the archive (`None` when deleted).
    pub archived_to: Option<String>,
    pub bytes: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Kept {
    /// Runs still RUNNING (whatever their age).
    pub running: usize,
    /// Finished runs that ended after the cutoff.
    pub young: usize,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub run_id: String,
    pub journal: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct RemovedFile {
    /// Relative to the station root.
    pub file: String,
    pub bytes: u64,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Problem {
    pub file: String,
    pub problem: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub runs_archived: usize,
    pub runs_deleted: usize,
    pub files_removed: usize,
    /// Bytes of deleted journals and removed mail (archived journals still take their space).
    pub bytes_freed: u64,
}

/// Collects finished runs and handled mail older than `options.older_than`.
pub fn collect(station: &Station, options: &Options) -> Result<Report, MaintenanceError> {
    let age = chrono::TimeDelta::from_std(options.older_than).ok();
    let cutoff = age
        .and_then(|age| options.now.checked_sub_signed(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut report = Report {
        dry_run: options.dry_run,
        disposal: options.disposal,
        cutoff,
        runs: Vec::new(),
        kept: Kept::default(),
        skipped: Vec::new(),
        mail: Vec::new(),
        problems: Vec::new(),
        summary: Summary::default(),
    };
    collect_runs(station, options, &mut report)?;
    let collected: Vec<String> = report.runs.iter().map(|r| r.run_id.clone()).collect();
    if !options.dry_run
        && let Err(e) = snapshot::remove(station, &collected)
    {
        report.problems.push(Problem {
            file: station.relative(&station.snapshot_dir()),
            problem: format!("cannot remove the collected runs: {e}"),
        });
    }
    collect_mail(station, options, &mut report)?;
    for run in &report.runs {
        match run.archived_to {
            Some(_) => report.summary.runs_archived += 1,
            None => {
                report.summary.runs_deleted += 1;
                report.summary.bytes_freed += run.bytes;
            }
        }
    }
    report.summary.files_removed = report.mail.len();
    report.summary.bytes_freed += report.mail.iter().map(|m| m.bytes).sum::<u64>();
    Ok(report)
}

fn collect_runs(
    station: &Station,
    options: &Options,
    report: &mut Report,
) -> Result<(), MaintenanceError> {
    let runs_dir = station.runs_dir();
    for path in journal_paths(station)? {
        let run_id = run_id_of(&path);
        let journal = station.relative(&path);
        let contents = match read_journal(&path) {
            Ok(contents) => contents,
            Err(e) => {
                report.problems.push(Problem {
                    file: journal,
                    problem: format!("{e}; run `3ox doctor`"),
                });
                continue;
            }
        };
        let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
        let ended_at = state
            .ended_at
            .or_else(|| contents.records.last().map(|r| r.at));
        let Some(ended_at) = ended_at.filter(|_| state.status != RunStatus::Running) else {
            report.kept.running += 1;
            continue;
        };
        if ended_at >= report.cutoff {
            report.kept.young += 1;
            continue;
        }
        // Hold the run's ownership lock (when it has one) until its journal is gone.
        let owner = match take_ownership(&runs_dir, &run_id) {
            Ok(Ownership::Free(lock)) => lock,
            Ok(Ownership::Held) => {
                let reason = format!(
                    "another process holds {}",
                    station.relative(&ownership_lock_path(&runs_dir, &run_id))
                );
                report.skipped.push(Skipped {
                    run_id,
                    journal,
                    reason,
                });
                continue;
            }
            Err(e) => {
                report.problems.push(Problem {
                    file: journal,
                    problem: format!("cannot check the run's ownership lock: {e}"),
                });
                continue;
            }
        };
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let target = match options.disposal {
            Disposal::Archive => Some(
                station
                    .runtime_dir()
                    .join("archive")
                    .join(ended_at.format("%Y-%m").to_string())
                    .join(path.file_name().unwrap_or_default()),
            ),
            Disposal::Delete => None,
        };
        if !options.dry_run {
            let done = match &target {
                Some(target) => archive(&path, target),
                None => std::fs::remove_file(&path)
                    .and_then(|()| sync_dir(&runs_dir))
                    .map_err(|e| format!("cannot delete the journal: {e}")),
            };
            if let Err(problem) = done {
                report.problems.push(Problem {
                    file: journal,
                    problem,
                });
                continue;
            }
            // Its control requests (all handled or moot now that the run has ended) go too.
            let control = crate::orchestrator::control::dir(station, &run_id);
            if let Err(e) = std::fs::remove_dir_all(&control)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(folder = %control.display(), error = %e, "cannot remove a collected run's control requests");
            }
            if let Some(lock) = owner {
                // The run is gone: its lock file is stale now. Removed while held, so nobody
                // can take the run in between; Windows removes open files only once closed.
                let lock_path = ownership_lock_path(&runs_dir, &run_id);
                let removed = std::fs::remove_file(&lock_path);
                drop(lock);
                if removed.is_err() {
                    let _ = std::fs::remove_file(&lock_path);
                }
            }
        }
        report.runs.push(CollectedRun {
            run_id,
            status: state.status,
            ended_at,
            journal,
            archived_to: target.map(|t| station.relative(&t)),
            bytes,
        });
    }
    Ok(())
}

/// Moves a journal into the archive: never over an existing file; the folders are fsynced so
/// the move survives a power cut.
fn archive(path: &Path, target: &Path) -> Result<(), String> {
    let month_dir = target.parent().unwrap_or(Path::new("."));
    if target.exists() {
        return Err(format!(
            "{} already exists; nothing was overwritten",
            target.display()
        ));
    }
    let existed = month_dir.is_dir();
    std::fs::create_dir_all(month_dir)
        .map_err(|e| format!("cannot create {}: {e}", month_dir.display()))?;
    if !existed {
        for dir in month_dir.ancestors().skip(1).take(2) {
            sync_dir(dir).map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
        }
    }
    std::fs::rename(path, target)
        .map_err(|e| format!("cannot move the journal to {}: {e}", target.display()))?;
    for dir in [month_dir, path.parent().unwrap_or(Path::new("."))] {
        sync_dir(dir).map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
    }
    Ok(())
}

fn collect_mail(
    station: &Station,
    options: &Options,
    report: &mut Report,
) -> Result<(), MaintenanceError> {
    let cutoff = SystemTime::from(options.now)
        .checked_sub(options.older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for agent in agent_names(station)? {
        let inbox = station.inbox(&agent);
        let outbox = station.outbox(&agent);
        for dir in [inbox.join(DONE), outbox.join(DONE), outbox.join(REJECTED)] {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("list", &dir)(e)),
            };
            // (name, bytes, modified) of the plain visible files.
            let mut files = Vec::new();
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(meta) = entry.metadata() else { continue };
                if name.starts_with('.') || !meta.file_type().is_file() {
                    continue;
                }
                let modified = meta.modified().unwrap_or(SystemTime::now());
                files.push((name, meta.len(), modified));
            }
            files.sort();
            let mut old: BTreeSet<&str> = files
                .iter()
                .filter(|(_, _, m)| *m < cutoff)
                .map(|(n, _, _)| n.as_str())
                .collect();
            // A refused reply and its note go together.
            let notes: Vec<String> = old.iter().map(|n| format!("{n}.why.yaml")).collect();
            for (name, _, _) in &files {
                if notes.contains(name) {
                    old.insert(name.as_str());
                }
            }
            for (name, bytes, modified) in files.iter().filter(|(n, _, _)| old.contains(n.as_str()))
            {
                let path = dir.join(name);
                if !options.dry_run
                    && let Err(e) = std::fs::remove_file(&path)
                {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        continue;
                    }
                    report.problems.push(Problem {
                        file: station.relative(&path),
                        problem: format!("cannot remove: {e}"),
                    });
                    continue;
                }
                report.mail.push(RemovedFile {
                    file: station.relative(&path),
                    bytes: *bytes,
                    modified: DateTime::<Utc>::from(*modified),
                });
            }
        }
    }
    Ok(())
}
