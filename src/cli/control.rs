//! What the commands that change a run share (`pause`, `resume RUN` of a paused run,
//! `terminate`, `retry`, `restart`, `rerun`, `skip`): who asks, how long to wait for the run's
//! driver, and how the outcome is printed. The request goes through
//! [`crate::orchestrator::control::send`].
//!
//! Exit 0 when applied; 2 when refused (it does not apply to the run as it stands, an unknown
//! run or task); 1 when the run's driver did not take the request within `--wait` (it stays
//! queued and the driver applies it later).

use super::out::outln;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use serde_json::json;

use crate::engine::complete::Completion;
use crate::engine::control::Action;
use crate::orchestrator::OrchestratorError;
use crate::orchestrator::control::{self, CONTROL_VERSION, ControlRequest, Outcome, Sent};
use crate::query;

/// The options every run-changing command has.
#[derive(Debug, Clone, clap::Args)]
pub struct ControlArgs {
    /// Who asks, as recorded in the journal (default: the user name from $USER or $USERNAME).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// How long to wait for the run's driver to take the request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The user name to record: `--by`, else $USER, else $USERNAME.
pub fn who(by: Option<&str>) -> String {
    by.map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// This process's uid (Unix).
pub fn uid() -> Option<u32> {
    #[cfg(unix)]
    {
        Some(nix::unistd::getuid().as_raw())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What became of a request, for the caller.
pub enum Done {
    /// Applied; `direct` when by this process (nobody drives the run).
    Applied { direct: bool },
    /// Refused, or queued: the exit code is printed already.
    Other(u8),
}

/// Sends `action` to the run `run` names (an id or a unique prefix) and prints the outcome.
pub fn send(
    station_flag: Option<&Path>,
    run: &str,
    action: Action,
    task: Option<String>,
    reason: Option<String>,
    args: &ControlArgs,
) -> anyhow::Result<Done> {
    send_with(station_flag, run, action, task, reason, None, args)
}

/// [`send`] with the status and output of `complete`.
pub fn send_with(
    station_flag: Option<&Path>,
    run: &str,
    action: Action,
    task: Option<String>,
    reason: Option<String>,
    completion: Option<Completion>,
    args: &ControlArgs,
) -> anyhow::Result<Done> {
    let station = super::station(station_flag)?;
    let (run_id, by, sent) = match request_in(
        &station,
        run,
        action.clone(),
        task,
        reason,
        completion,
        args.by.as_deref(),
        args.wait,
    )? {
        Requested::Unknown(e) => return Ok(Done::Other(super::status::refuse(&e))),
        Requested::NoSuchRun(e) => {
            eprintln!("error: {e}");
            return Ok(Done::Other(super::EXIT_USAGE));
        }
        Requested::Sent { run_id, by, sent } => (run_id, by, sent),
    };
    match sent {
        Sent::Queued { file } => {
            let file = station.relative(&file);
            if args.json {
                super::status::print_json(&json!({
                    "run_id": run_id, "action": action.to_string(), "outcome": "queued", "file": file,
                }))?;
            }
            eprintln!(
                "the request is queued; the driver will apply it ({file}; it did not answer within {})",
                humantime::format_duration(args.wait)
            );
            Ok(Done::Other(super::EXIT_FAILED))
        }
        Sent::Done { result, direct } => {
            if args.json {
                let mut doc = serde_json::to_value(&result)?;
                doc["via"] = json!(if direct { "direct" } else { "driver" });
                super::status::print_json(&doc)?;
            }
            match result.outcome {
                Outcome::Refused => {
                    eprintln!(
                        "error: {}",
                        result
                            .reason
                            .as_deref()
                            .unwrap_or("the request was refused")
                    );
                    if let Some(hint) = &result.hint {
                        eprintln!("hint: {hint}");
                    }
                    Ok(Done::Other(super::EXIT_USAGE))
                }
                Outcome::Applied => {
                    if !args.json {
                        let status = result
                            .status
                            .map(|s| format!(" (now {s})"))
                            .unwrap_or_default();
                        let new = result
                            .new_run_id
                            .as_ref()
                            .map(|id| {
                                let what = if *id == run_id {
                                    "it starts again from the top".to_string()
                                } else {
                                    format!("new run {id}")
                                };
                                format!("; {what}: `3ox resume {id}` or `3ox up` drives it")
                            })
                            .unwrap_or_default();
                        eprintln!("run {run_id}: {action} applied by {}{status}{new}", by);
                        if let Some(id) = &result.new_run_id {
                            outln!("{id}")?;
                        }
                    }
                    Ok(Done::Applied { direct })
                }
            }
        }
    }
}

/// What became of a request, before anything is printed.
#[derive(Debug)]
pub enum Requested {
    /// `run` names no run of the station (or more than one).
    Unknown(query::QueryError),
    /// The run's journal is gone.
    NoSuchRun(String),
    /// Sent to run `run_id` as asked by `by`: applied, refused or queued.
    Sent {
        run_id: String,
        by: String,
        sent: Sent,
    },
}

/// Sends `action` to the run `run` names, as [`send_with`] does, without printing: the one
/// path of every front end that changes runs (the commands, `3ox top`).
#[allow(clippy::too_many_arguments)]
pub fn request_in(
    station: &crate::station::Station,
    run: &str,
    action: Action,
    task: Option<String>,
    reason: Option<String>,
    completion: Option<Completion>,
    by: Option<&str>,
    wait: Duration,
) -> anyhow::Result<Requested> {
    let run_id = match query::resolve(station, Some(run)) {
        Ok(run_id) => run_id,
        Err(e) => return Ok(Requested::Unknown(e)),
    };
    let request = ControlRequest {
        version: CONTROL_VERSION,
        action: action.clone(),
        by: who(by),
        uid: uid(),
        reason,
        task,
        completion,
        at: Utc::now(),
    };
    match control::send(station, &run_id, &request, wait) {
        Ok(sent) => Ok(Requested::Sent {
            run_id,
            by: request.by,
            sent,
        }),
        Err(e @ OrchestratorError::NoSuchRun { .. }) => Ok(Requested::NoSuchRun(e.to_string())),
        Err(e) => Err(e).with_context(|| format!("cannot {action} run {run_id}")),
    }
}

/// The exit code of `done`, for commands that do nothing more.
pub fn code(done: Done) -> u8 {
    match done {
        Done::Applied { .. } => super::EXIT_OK,
        Done::Other(code) => code,
    }
}
