//! `3ox approvals [--approver NAME] [--json]`: what waits for whom. Every open approval
//! request of the station's running runs, oldest first, with how to decide it. The view is
//! [`crate::query::approvals`].
//!
//! Exit 0 (also when nothing waits); 2 on usage errors.

use std::io::Write as _;
use std::path::Path;

use chrono::Utc;

use super::status::{print_json, refuse, seconds, table, when};
use crate::query::{self, WaitingApproval};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only requests waiting for this approver (an agent name, such as `commander`).
    #[arg(long, value_name = "NAME")]
    pub approver: Option<String>,
    /// Print the requests as JSON on stdout, with each task's input.
    #[arg(long)]
    pub json: bool,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let waiting = match query::approvals(&station, args.approver.as_deref()) {
        Ok(waiting) => waiting,
        Err(e) => return Ok(refuse(&e)),
    };
    if args.json {
        print_json(&serde_json::json!({ "approvals": waiting }))?;
    } else {
        print_lines(&waiting)?;
    }
    Ok(super::EXIT_OK)
}

fn print_lines(waiting: &[WaitingApproval]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if waiting.is_empty() {
        writeln!(out, "no approvals waiting")?;
        return Ok(());
    }
    let now = Utc::now();
    let mut rows = vec![
        [
            "APPROVER", "RUN", "WORKFLOW", "TASK", "WAITING", "DEADLINE", "QUESTION",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for request in waiting {
        let approver = match &request.escalated_from {
            Some(from) => format!("{} (from {from})", request.approver),
            None => request.approver.clone(),
        };
        rows.push(vec![
            approver,
            request.run_id.clone(),
            request.workflow.clone(),
            request.task_ref.clone(),
            seconds((now - request.requested_at).num_milliseconds()),
            request.deadline.map(when).unwrap_or_else(|| "-".into()),
            question(&request.input),
        ]);
    }
    for line in table(&rows) {
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "decide with `3ox approve RUN TASK` or `3ox reject RUN TASK` (add --comment TEXT), or write the approval file the request in the approver's inbox describes"
    )?;
    Ok(())
}

/// What the approver is asked: the input's `question` (or `prompt`, `message`, `title`), else
/// the input as compact JSON.
fn question(input: &serde_json::Value) -> String {
    ["question", "prompt", "message", "title"]
        .iter()
        .find_map(|key| input.get(key).and_then(|v| v.as_str()))
        .map(str::to_string)
        .unwrap_or_else(|| match input {
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        })
}
