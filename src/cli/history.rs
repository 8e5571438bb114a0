//! `3ox history [--workflow NAME] [--limit N] [--json]`: finished runs (COMPLETED or FAILED),
//! newest first, with duration, task count, retries and outcome. The view is
//! [`crate::query::history`].
//!
//! Exit 0 (also when a journal cannot be read: that run's line says why); 2 on usage errors.

use std::io::Write as _;
use std::path::Path;

use super::status::{brief, print_json, refuse, seconds, table, when};
use crate::query::{self, HistoryEntry, HistoryFilter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only runs of the workflow with this name.
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,
    /// At most N runs (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print the runs as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let filter = HistoryFilter {
        workflow: args.workflow,
        limit: args.limit,
    };
    let runs = match query::history(&station, &filter) {
        Ok(runs) => runs,
        Err(e) => return Ok(refuse(&e)),
    };
    if args.json {
        print_json(&serde_json::json!({ "runs": runs }))?;
    } else {
        print_lines(&runs)?;
    }
    Ok(super::EXIT_OK)
}

fn print_lines(runs: &[HistoryEntry]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if runs.is_empty() {
        writeln!(out, "no finished runs")?;
        return Ok(());
    }
    let mut rows = vec![
        [
            "RUN", "WORKFLOW", "STATUS", "ENDED", "DURATION", "TASKS", "RETRIES", "OUTCOME",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for run in runs {
        let row = match &run.problem {
            Some(problem) => vec![
                run.run_id.clone(),
                "?".into(),
                "UNREADABLE".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                problem.clone(),
            ],
            None => {
                let outcome = match (&run.failed_task, &run.reason, &run.output) {
                    (Some(task), Some(reason), _) => format!("failed at {task}: {reason}"),
                    (None, Some(reason), _) => format!("failed: {reason}"),
                    (_, None, Some(output)) => format!("output {}", brief(output, 60)),
                    _ => String::new(),
                };
                vec![
                    run.run_id.clone(),
                    run.workflow.clone().unwrap_or_default(),
                    run.status.map(|s| s.to_string()).unwrap_or_default(),
                    run.ended_at.map(when).unwrap_or_default(),
                    run.duration_ms
                        .map(|ms| seconds(ms.try_into().unwrap_or(i64::MAX)))
                        .unwrap_or_default(),
                    run.tasks.to_string(),
                    run.retries.to_string(),
                    outcome,
                ]
            }
        };
        rows.push(row);
    }
    for line in table(&rows) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
