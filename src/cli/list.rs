//! `3ox list [--status S] [--workflow NAME] [--limit N] [--json]`: the station's runs, newest
//! first, one line each. The view is [`crate::query::list`].
//!
//! Exit 0 (also when a journal cannot be read: that run's line says why); 2 on usage errors.

use std::io::Write as _;
use std::path::Path;

use chrono::Utc;

use super::status::{print_json, refuse, seconds, table, when};
use crate::engine::RunStatus;
use crate::query::{self, ListFilter, RunLine};

/// A run status, as `--status` takes it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusArg {
    Running,
    Completed,
    Failed,
    Terminated,
    TimedOut,
}

impl From<StatusArg> for RunStatus {
    fn from(arg: StatusArg) -> RunStatus {
        match arg {
            StatusArg::Running => RunStatus::Running,
            StatusArg::Completed => RunStatus::Completed,
            StatusArg::Failed => RunStatus::Failed,
            StatusArg::Terminated => RunStatus::Terminated,
            StatusArg::TimedOut => RunStatus::TimedOut,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only runs with this status.
    #[arg(long, value_enum, ignore_case = true)]
    pub status: Option<StatusArg>,
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
    let filter = ListFilter {
        status: args.status.map(RunStatus::from),
        workflow: args.workflow,
        limit: args.limit,
    };
    let runs = match query::list(&station, &filter, Utc::now()) {
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

fn print_lines(runs: &[RunLine]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if runs.is_empty() {
        writeln!(out, "no runs")?;
        return Ok(());
    }
    let mut rows = vec![
        [
            "RUN", "WORKFLOW", "STATUS", "STARTED", "ELAPSED", "TASKS", "",
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
                problem.clone(),
            ],
            None => vec![
                run.run_id.clone(),
                run.workflow.clone().unwrap_or_default(),
                run.status.map(|s| s.to_string()).unwrap_or_default(),
                run.started_at.map(when).unwrap_or_default(),
                run.elapsed_ms
                    .map(|ms| seconds(ms.try_into().unwrap_or(i64::MAX)))
                    .unwrap_or_default(),
                format!("{}/{}", run.tasks_done, run.tasks_total),
                run.failed_task
                    .as_ref()
                    .map(|t| format!("failed at {t}"))
                    .unwrap_or_default(),
            ],
        };
        rows.push(row);
    }
    for line in table(&rows) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
