//! `3ox gc --older-than <DURATION> [--archive | --delete] [--dry-run] [--json]`: archive or
//! delete finished runs and remove old handled mail. The work is in
//! [`crate::maintenance::gc`]; the policy is in `docs/maintenance.md`.
//!
//! Exit 0 when everything due was collected (or listed, with `--dry-run`), 1 when something
//! could not be read or collected, 2 on usage errors.

use super::out::outln;
use std::path::Path;

use anyhow::Context as _;
use chrono::Utc;

use crate::maintenance::gc::{self, Disposal, Options, Report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Collect runs that ended, and handled mail written, longer ago than this (`30d`, `12h`,
    /// `2w 3d`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub older_than: std::time::Duration,
    /// Move collected journals into `.3ox/archive/<yyyy-mm>/` (the default).
    #[arg(long, conflicts_with = "delete")]
    pub archive: bool,
    /// Delete collected journals instead of archiving them.
    #[arg(long)]
    pub delete: bool,
    /// List what would go; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let options = Options {
        older_than: args.older_than,
        disposal: if args.delete {
            Disposal::Delete
        } else {
            Disposal::Archive
        },
        dry_run: args.dry_run,
        now: Utc::now(),
    };
    let report = gc::collect(&station, &options)
        .with_context(|| format!("cannot collect in the station {}", station.root.display()))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        print_report(&report, args.older_than)?;
    }
    Ok(if report.problems.is_empty() {
        super::EXIT_OK
    } else {
        super::EXIT_FAILED
    })
}

fn print_report(report: &Report, older_than: std::time::Duration) -> std::io::Result<()> {
    let (would, prefix) = if report.dry_run {
        ("would be ", "dry run: nothing changed; ")
    } else {
        ("", "")
    };
    for run in &report.runs {
        let action = match &run.archived_to {
            Some(target) => format!("{would}archived to {target}"),
            None => format!("{would}deleted"),
        };
        outln!(
            "run {} ({}, ended {}): {action}",
            run.run_id,
            run.status,
            run.ended_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
    }
    for skipped in &report.skipped {
        outln!("run {} kept: {}", skipped.run_id, skipped.reason)?;
    }
    for file in &report.mail {
        outln!("mail {} {would}removed", file.file)?;
    }
    for problem in &report.problems {
        outln!("problem: {}: {}", problem.file, problem.problem)?;
    }
    let s = &report.summary;
    outln!(
        "{prefix}older than {}: runs {} archived, {} deleted; mail {} removed; {} bytes freed; kept {} running and {} younger runs",
        humantime::format_duration(older_than),
        s.runs_archived,
        s.runs_deleted,
        s.files_removed,
        s.bytes_freed,
        report.kept.running,
        report.kept.young,
    )?;
    Ok(())
}
