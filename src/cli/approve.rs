//! `3ox approve <RUN> <TASK>`: approve a HUMAN task's open request.
//!
//! Finds the open approval request of TASK in the run's journal and writes exactly the
//! approval file a person could write by hand into the approver's outbox (atomically, mode
//! 0o644). Whoever drives the run (or the next `3ox resume`) applies it. `3ox reject` shares
//! [`decide`].

use std::path::Path;

use anyhow::Context as _;

use crate::engine::RunState;
use crate::journal::{self, Journal};
use crate::mailbox::approval::{APPROVAL_KIND, APPROVAL_VERSION, Approval, Decision};
use crate::mailbox::atomic::{self, Durability};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (its id or a unique prefix of it).
    pub run: String,
    /// The HUMAN task's reference name.
    pub task: String,
    /// A comment for the record.
    #[arg(long)]
    pub comment: Option<String>,
    /// Who decides (for the record; default: the approver's name).
    #[arg(long)]
    pub by: Option<String>,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    decide(
        station_flag,
        &args.run,
        &args.task,
        Decision::Approve,
        args.by,
        args.comment,
        None,
    )
}

/// Writes the approval file for the open request of `task` in run `run`.
pub fn decide(
    station_flag: Option<&Path>,
    run: &str,
    task: &str,
    decision: Decision,
    by: Option<String>,
    comment: Option<String>,
    reason: Option<String>,
) -> anyhow::Result<u8> {
    let station = super::station(station_flag)?;
    let run_id = match crate::query::resolve(&station, Some(run)) {
        Ok(run_id) => run_id,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(super::EXIT_USAGE);
        }
    };
    let path = Journal::path_for(&station.runs_dir(), &run_id);
    let contents = journal::read(&path).with_context(|| format!("cannot read run {run_id}"))?;
    let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    if !state.tasks.contains_key(task) && state.def(task).is_none() {
        eprintln!("error: run {run_id} has no task `{task}`");
        return Ok(super::EXIT_USAGE);
    }
    let Some(request) = state.open_approval(task) else {
        eprintln!(
            "error: task `{task}` of run {run_id} has no open approval request (run {}, task {})",
            state.status,
            state
                .tasks
                .get(task)
                .map_or_else(|| "not started".to_string(), |t| t.status.to_string())
        );
        return Ok(super::EXIT_USAGE);
    };
    let approval = Approval {
        version: APPROVAL_VERSION,
        kind: APPROVAL_KIND.to_string(),
        request_id: request.request_id.clone(),
        token: Some(request.token.clone()),
        decision,
        by: Some(by.unwrap_or_else(|| request.approver.clone())),
        comment: Some(comment.unwrap_or_default()),
        reason,
        run_id: Some(run_id.clone()),
    };
    let target = station
        .outbox(&request.approver)
        .join(format!("{}.approval.yaml", request.request_id));
    if target.exists() {
        eprintln!(
            "error: {} already holds a decision for this request; it is applied when the run is driven",
            station.relative(&target)
        );
        return Ok(super::EXIT_USAGE);
    }
    atomic::write_with_mode(
        &target,
        approval.to_yaml().as_bytes(),
        Durability::Durable,
        Some(0o644),
    )
    .with_context(|| format!("cannot write {}", target.display()))?;
    println!(
        "{} task `{task}` of run {run_id}: wrote {}",
        match decision {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        },
        station.relative(&target)
    );
    Ok(super::EXIT_OK)
}
