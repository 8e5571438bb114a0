//! `3ox doctor [--repair] [--json]`: verify every journal, rebuild the state snapshot and
//! compare it, report mail that outlived its run. The work is in [`crate::maintenance::doctor`].
//!
//! Exit 0 when nothing needs attention any more (snapshot differences are always fixed),
//! 1 when a journal is corrupt or unreadable, or a torn tail, a lost tail or stuck mail was
//! left in place, or an I/O error (a full disk) kept doctor from a check; 2 on usage errors.

use super::out::outln;
use std::path::Path;

use anyhow::Context as _;

use crate::journal::JournalError;
use crate::maintenance::doctor::{
    self, Difference, MailKind, Options, Report, SnapshotFound, Verdict,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also repair: cut torn journal tails away, journal again the archived replies a lost
    /// journal tail forgot, move task messages of ended runs into `1N.3OX/done/` and refuse
    /// their replies into `0UT.3OX/rejected/`. Corrupt journals are never changed.
    #[arg(long)]
    pub repair: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let report = doctor::check(
        &station,
        Options {
            repair: args.repair,
        },
    )
    .with_context(|| format!("cannot check the station {}", station.root.display()))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_report(&report, args.repair)?;
    }
    Ok(if report.problems == 0 {
        super::EXIT_OK
    } else {
        super::EXIT_FAILED
    })
}

fn print_report(report: &Report, repair: bool) -> std::io::Result<()> {
    outln!("journals: {}", report.journals.len())?;
    for journal in &report.journals {
        match &journal.verdict {
            Verdict::Ok { records, status } => outln!(
                "  OK         {} ({}, {})",
                journal.run_id,
                count(*records, "record"),
                status_text(*status)
            )?,
            Verdict::TornTail {
                records,
                status,
                offset,
                problem,
                repaired,
                left_because,
            } => {
                outln!("  TORN TAIL  {} at byte {offset}: {problem}", journal.file)?;
                outln!(
                    "             {} before it, {}",
                    count(*records, "complete record"),
                    status_text(*status)
                )?;
                if *repaired {
                    outln!("             repaired: cut at byte {offset}")?;
                } else if let Some(reason) = left_because {
                    outln!("             not repaired: {reason}")?;
                } else {
                    outln!(
                        "             normal after a crash; `3ox doctor --repair` (or `3ox resume`) cuts it away"
                    )?;
                }
            }
            Verdict::Corrupt {
                record,
                offset,
                problem,
            } => {
                outln!(
                    "  CORRUPT    {} record {record} at byte {offset}: {problem}",
                    journal.file
                )?;
                outln!("             hint: {}", corrupt_hint())?;
            }
            Verdict::Unreadable { error } => outln!("  UNREADABLE {}: {error}", journal.file)?,
        }
    }
    let snapshot = &report.snapshot;
    let state = match snapshot.found {
        SnapshotFound::Present if snapshot.differences.is_empty() => {
            "matches the journals".to_string()
        }
        SnapshotFound::Present => format!(
            "{} from the journals",
            count(snapshot.differences.len(), "difference")
        ),
        SnapshotFound::Missing => "missing".to_string(),
        SnapshotFound::Unreadable => "unreadable".to_string(),
    };
    let action = if snapshot.rewritten {
        format!(
            "; rebuilt from the journals ({})",
            count(snapshot.runs, "run")
        )
    } else {
        String::new()
    };
    outln!("snapshot {}: {state}{action}", snapshot.file)?;
    for difference in &snapshot.differences {
        outln!("  {}", describe(difference))?;
    }
    for run_id in &snapshot.unverified {
        outln!("  run {run_id}: entry kept unchecked (its journal cannot be read)")?;
    }
    for run_id in &snapshot.left_to_owner {
        outln!("  run {run_id}: entry left to the process that drives the run")?;
    }
    if !report.stuck_mail.is_empty() {
        outln!("mail of ended runs: {}", report.stuck_mail.len())?;
    }
    for mail in &report.stuck_mail {
        let what = match mail.kind {
            MailKind::TaskMessage => "task message",
            MailKind::Reply => "reply",
        };
        outln!(
            "  {}: {what} of run {}, which ended {}",
            mail.file,
            mail.run_id,
            mail.run_status
        )?;
        if let Some(target) = &mail.moved_to {
            outln!("    moved to {target}")?;
        } else if let Some(reason) = &mail.left_because {
            outln!("    left in place: {reason}")?;
        }
    }
    if !report.orphan_replies.is_empty() {
        outln!("replies no run can take: {}", report.orphan_replies.len())?;
    }
    for orphan in &report.orphan_replies {
        let named = orphan
            .run_id
            .as_ref()
            .map_or_else(|| "names no run".to_string(), |r| format!("names run {r}"));
        outln!(
            "  {}: {named}, answers task {} (written {} s ago)",
            orphan.file,
            orphan.task_id,
            orphan.age_seconds
        )?;
        if let Some(target) = &orphan.moved_to {
            outln!("    refused into {target}")?;
        } else if let Some(reason) = &orphan.left_because {
            outln!("    left in place: {reason}")?;
        }
    }
    if !report.lost_tails.is_empty() {
        outln!("journals that lost their tail: {}", report.lost_tails.len())?;
    }
    for tail in &report.lost_tails {
        let seen = tail
            .snapshot_seq
            .map_or_else(String::new, |seq| format!(", the snapshot saw seq {seq}"));
        outln!(
            "  LOST TAIL  {} (run {}): cut at a record boundary after seq {}{seen}",
            tail.file,
            tail.run_id,
            tail.journal_seq
        )?;
        for reply in &tail.archived_replies {
            outln!(
                "             lost: the record applying {} (task {} `{}`), whose reply was already archived",
                reply.file,
                reply.task_id,
                reply.task_ref
            )?;
        }
        if tail.repaired {
            outln!(
                "             repaired: {} journaled again; `3ox resume {}` (or `3ox up`) goes on from there",
                count(tail.archived_replies.len(), "archived reply"),
                tail.run_id
            )?;
        } else if let Some(reason) = &tail.left_because {
            outln!("             not repaired: {reason}")?;
        } else if tail.archived_replies.is_empty() {
            outln!(
                "             hint: restore the journal from a backup if there is one; `3ox doctor --repair` accepts the loss (what the lost records did may be done again)"
            )?;
        } else {
            outln!(
                "             hint: `3ox doctor --repair` or `3ox resume {}` applies the archived replies again instead of running their tasks again",
                tail.run_id
            )?;
        }
    }
    for problem in &report.disk {
        outln!("  DISK       {}", problem.error)?;
        outln!("             hint: {}", problem.hint)?;
    }
    for folder in &report.open_folders {
        outln!(
            "warning: {} is writable by group or others (mode {}): anyone who can write it can answer or operate in its name; `chmod go-w {}`",
            folder.path,
            folder.mode,
            folder.path
        )?;
    }
    match (report.problems, report.repaired) {
        (0, 0) => outln!("doctor: all good")?,
        (0, repaired) => outln!("doctor: all good after {}", count(repaired, "repair"))?,
        (problems, _) if !repair => outln!(
            "doctor: {}; `3ox doctor --repair` fixes torn tails and stuck mail, never corrupt journals",
            count(problems, "problem")
        )?,
        (problems, _) => outln!("doctor: {} left", count(problems, "problem"))?,
    }
    Ok(())
}

/// `1 run`, `2 runs`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn status_text(status: Option<crate::engine::RunStatus>) -> String {
    status.map_or_else(|| "no run_started record".to_string(), |s| s.to_string())
}

fn corrupt_hint() -> &'static str {
    JournalError::Corrupt {
        path: String::new(),
        record: 0,
        offset: 0,
        problem: String::new(),
    }
    .hint()
}

fn describe(difference: &Difference) -> String {
    match difference {
        Difference::MissingRun { run_id, status } => {
            format!("run {run_id}: missing from the snapshot (journal: {status})")
        }
        Difference::ExtraRun {
            run_id,
            status: Some(status),
        } => format!("run {run_id}: in the snapshot ({status}) but has no journal"),
        Difference::ExtraRun {
            run_id,
            status: None,
        } => format!("run {run_id}: in the snapshot (unreadable) but has no journal"),
        Difference::UnreadableRun { run_id } => {
            format!("run {run_id}: its snapshot entry cannot be read")
        }
        Difference::RunStatus {
            run_id,
            snapshot,
            journal,
        } => format!("run {run_id}: snapshot says {snapshot}, journal says {journal}"),
        Difference::Task {
            run_id,
            task_ref,
            snapshot,
            journal,
        } => {
            let view = |v: &Option<doctor::TaskView>| {
                v.as_ref().map_or_else(
                    || "absent".to_string(),
                    |v| format!("{} (attempt {})", v.status, v.attempt),
                )
            };
            format!(
                "run {run_id} task {task_ref}: snapshot says {}, journal says {}",
                view(snapshot),
                view(journal)
            )
        }
        Difference::RunFields { run_id, fields } => {
            format!("run {run_id}: {} differ", fields.join(", "))
        }
    }
}
