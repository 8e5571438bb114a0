//! `3ox schedule list`: every schedule with its next fire time and its last slot and run.
//!
//! A schedule file that is wrong is listed too, as `invalid` with the reason.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::cli::out::outln;
use crate::schedule::{file, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One schedule as `--json` prints it.
#[derive(Debug, Serialize)]
struct Line {
    name: String,
    file: String,
    /// `active`, `paused` or `invalid`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cron: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    /// The next slot, in the schedule's zone (none when paused or past its end).
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// The slot of the newest run the schedule started (a trigger: when it was triggered).
    #[serde(skip_serializing_if = "Option::is_none")]
    last_slot: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_run: Option<String>,
    buffered: usize,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = crate::cli::station(station_flag)?;
    let now = Utc::now();
    let mut lines = Vec::new();
    for path in file::files(&station) {
        let name = file::name_of(&path);
        let saved = state::read(&station, &name).unwrap_or_default();
        let mut line = Line {
            name: name.clone(),
            file: station.relative(&path),
            state: "active",
            error: None,
            workflow: None,
            cron: None,
            time_zone: None,
            next: None,
            last_slot: saved.runs.last().map(|r| r.slot),
            last_run: saved.runs.last().map(|r| r.run_id.clone()),
            buffered: saved.buffered.len(),
        };
        match file::load(&station, &path) {
            Ok(schedule) => {
                line.workflow = Some(schedule.file.workflow.clone());
                line.cron = Some(schedule.file.cron.clone());
                line.time_zone = Some(schedule.timing.zone.name().to_string());
                if schedule.file.paused {
                    line.state = "paused";
                } else {
                    line.next = schedule.timing.next_slot(now, false).map(|slot| {
                        slot.with_timezone(&schedule.timing.zone)
                            .to_rfc3339_opts(SecondsFormat::Secs, false)
                    });
                }
            }
            Err(e) => {
                line.state = "invalid";
                line.error = Some(format!("{}: {}", e.message, e.hint));
            }
        }
        lines.push(line);
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&lines)?)?;
        return Ok(crate::cli::EXIT_OK);
    }
    if lines.is_empty() {
        eprintln!("no schedules in schedules/ (docs/schedules.md)");
        return Ok(crate::cli::EXIT_OK);
    }
    let dash = || "-".to_string();
    let mut rows = vec![
        [
            "NAME",
            "WORKFLOW",
            "CRON",
            "ZONE",
            "NEXT",
            "LAST SLOT",
            "LAST RUN",
            "STATE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for line in &lines {
        let state = match &line.error {
            Some(error) => format!("invalid: {error}"),
            None => line.state.to_string(),
        };
        rows.push(vec![
            line.name.clone(),
            line.workflow.clone().unwrap_or_else(dash),
            line.cron.clone().unwrap_or_else(dash),
            line.time_zone.clone().unwrap_or_else(dash),
            line.next.clone().unwrap_or_else(dash),
            line.last_slot
                .map(|s| s.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_else(dash),
            line.last_run.clone().unwrap_or_else(dash),
            state,
        ]);
    }
    for text in crate::cli::table::lines(&rows) {
        outln!("{text}")?;
    }
    Ok(crate::cli::EXIT_OK)
}
