//! Performing an [`Action`]: exactly the code of the commands. A decision goes through
//! [`crate::cli::approve::write_decision`] (as `3ox approve` / `3ox reject`), a run operation
//! through [`crate::cli::control::request_in`] (as `3ox retry`, `pause`, `resume RUN`,
//! `terminate`). What became of it comes back as one line for the footer.

use std::time::Duration;

use super::app::Action;
use crate::cli::approve::{Choice, write_decision};
use crate::cli::control::{Requested, request_in};
use crate::engine::RunStatus;
use crate::engine::control::Action as Operation;
use crate::mailbox::approval::Decision;
use crate::orchestrator::control::{Outcome, Sent};
use crate::station::Station;

/// How long an operation waits for the run's driver to take it (then it stays queued).
pub const WAIT: Duration = Duration::from_secs(5);

/// Who decides and asks, and with which signing key.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `--by`: recorded as who decided or asked (default: the approver for a decision, the
    /// user name for an operation).
    pub by: Option<String>,
    /// `--key`: the signing key of decisions.
    pub key: Option<std::path::PathBuf>,
}

/// Performs `action`; returns the line to show.
pub fn perform(station: &Station, who: &Identity, action: Action) -> String {
    match perform_inner(station, who, action) {
        Ok(line) => line,
        Err(error) => format!("error: {error:#}"),
    }
}

fn perform_inner(station: &Station, who: &Identity, action: Action) -> anyhow::Result<String> {
    let (run_id, operation) = match action {
        Action::Quit => return Ok(String::new()),
        Action::Approve {
            run_id,
            task_ref,
            comment,
        } => {
            return decide(
                station,
                who,
                &run_id,
                &task_ref,
                Decision::Approve,
                Some(comment),
                None,
            );
        }
        Action::Reject {
            run_id,
            task_ref,
            reason,
        } => {
            return decide(
                station,
                who,
                &run_id,
                &task_ref,
                Decision::Reject,
                None,
                Some(reason),
            );
        }
        Action::Retry { run_id } => (run_id, Operation::Retry),
        Action::Pause { run_id } => (run_id, Operation::Pause),
        Action::Resume { run_id } => (run_id, Operation::Resume),
        Action::Terminate { run_id } => (run_id, Operation::Terminate),
    };
    let reason = Some("from 3ox top".to_string());
    let what = operation.to_string();
    Ok(
        match request_in(
            station,
            &run_id,
            operation,
            None,
            reason,
            None,
            who.by.as_deref(),
            WAIT,
        )? {
            Requested::Unknown(e) => format!("error: {e}"),
            Requested::NoSuchRun(e) => format!("error: {e}"),
            Requested::Sent { run_id, by, sent } => match sent {
                Sent::Queued { file } => format!(
                    "{what} of run {run_id} is queued; its driver will apply it ({})",
                    station.relative(&file)
                ),
                Sent::Done { result, direct } => match result.outcome {
                    Outcome::Refused => format!(
                        "refused: {}{}",
                        result
                            .reason
                            .as_deref()
                            .unwrap_or("the request was refused"),
                        result
                            .hint
                            .map(|h| format!(" (hint: {h})"))
                            .unwrap_or_default()
                    ),
                    Outcome::Applied => format!(
                        "run {run_id}: {what} applied by {by}{}{}",
                        result
                            .status
                            .map(|s| format!(" (now {s})"))
                            .unwrap_or_default(),
                        if direct && result.status == Some(RunStatus::Running) {
                            format!("; nobody drives it: `3ox resume {run_id}` or `3ox up` does")
                        } else {
                            String::new()
                        }
                    ),
                },
            },
        },
    )
}

fn decide(
    station: &Station,
    who: &Identity,
    run_id: &str,
    task_ref: &str,
    decision: Decision,
    comment: Option<String>,
    reason: Option<String>,
) -> anyhow::Result<String> {
    let choice = Choice {
        decision,
        by: who.by.clone(),
        comment,
        reason,
        key: who.key.clone(),
    };
    Ok(match write_decision(station, run_id, task_ref, choice)? {
        Ok(written) => format!(
            "{} task `{task_ref}` of run {}: wrote {}",
            match decision {
                Decision::Approve => "approved",
                Decision::Reject => "rejected",
            },
            written.run_id,
            station.relative(&written.file)
        ),
        Err(problem) => format!("refused: {problem}"),
    })
}
