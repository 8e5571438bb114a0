//! `3ox approve <RUN> <TASK>`: approve a HUMAN task's open request.
//!
//! Finds the open approval request of TASK in the run's journal and writes exactly the
//! approval file a person could write by hand into the approver's outbox (atomically, mode
//! 0o644). Whoever drives the run (or the next `3ox resume`) applies it. `3ox reject` shares
//! [`decide`]; the web dashboard (`3ox serve`) shares [`write_decision`]: the same checks and
//! the same file. With `--key FILE` (or `THREEOX_SIGNING_KEY`) the file is signed; when
//! `station.yaml` gives the approver a key, an unsigned decision is not written at all.

use super::out::outln;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::engine::RunState;
use crate::journal::{self, Journal};
use crate::mailbox::approval::StationConfig;
use crate::mailbox::approval::{APPROVAL_KIND, APPROVAL_VERSION, Approval, Decision};
use crate::mailbox::atomic::{self, Durability};
use crate::mailbox::signing;

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
    /// Sign the approval with this private key file (from `3ox keygen`).
    #[arg(long, env = "THREEOX_SIGNING_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
}

pub fn run(station_flag: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    decide(
        station_flag,
        &args.run,
        &args.task,
        Choice {
            decision: Decision::Approve,
            by: args.by,
            comment: args.comment,
            reason: None,
            key: args.key,
        },
    )
}

/// What `3ox approve` / `3ox reject` decide, and the key to sign it with.
pub struct Choice {
    pub decision: Decision,
    pub by: Option<String>,
    pub comment: Option<String>,
    pub reason: Option<String>,
    pub key: Option<PathBuf>,
}

/// Writes the approval file for the open request of `task` in run `run`, and prints what it
/// did (or why not).
pub fn decide(
    station_flag: Option<&Path>,
    run: &str,
    task: &str,
    choice: Choice,
) -> anyhow::Result<u8> {
    let decision = choice.decision;
    let station = super::station(station_flag)?;
    match write_decision(&station, run, task, choice)? {
        Ok(written) => {
            outln!(
                "{} task `{task}` of run {}: wrote {}",
                match decision {
                    Decision::Approve => "approved",
                    Decision::Reject => "rejected",
                },
                written.run_id,
                station.relative(&written.file)
            )?;
            Ok(super::EXIT_OK)
        }
        Err(refused) => {
            eprintln!("error: {refused}");
            Ok(super::EXIT_USAGE)
        }
    }
}

/// A decision written into the approver's outbox.
#[derive(Debug, Clone)]
pub struct Written {
    pub run_id: String,
    /// The approval file.
    pub file: PathBuf,
}

/// The checks and the file of `3ox approve` / `3ox reject`, shared with the web dashboard
/// (`crate::web::approvals`) and `3ox top` (`crate::tui::actions`): resolves the run, finds the task's open approval request, signs
/// the decision when a key is given (refused when `station.yaml` wants a signature and none,
/// or another key, is given), and writes the approval file a person could write by hand into
/// the approver's outbox. `Ok(Err(why))` is a refusal, in words for the person who asked; the
/// outer error is a failure to read or write a file.
pub fn write_decision(
    station: &crate::station::Station,
    run: &str,
    task: &str,
    choice: Choice,
) -> anyhow::Result<Result<Written, String>> {
    let Choice {
        decision,
        by,
        comment,
        reason,
        key,
    } = choice;
    let run_id = match crate::query::resolve(station, Some(run)) {
        Ok(run_id) => run_id,
        Err(error) => return Ok(Err(error.to_string())),
    };
    let path = Journal::path_for(&station.runs_dir(), &run_id);
    let contents = journal::read(&path).with_context(|| format!("cannot read run {run_id}"))?;
    let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    if !state.tasks.contains_key(task) && state.def(task).is_none() {
        return Ok(Err(format!("run {run_id} has no task `{task}`")));
    }
    let Some(request) = state.open_approval(task) else {
        return Ok(Err(format!(
            "task `{task}` of run {run_id} has no open approval request (run {}, task {})",
            state.status,
            state
                .tasks
                .get(task)
                .map_or_else(|| "not started".to_string(), |t| t.status.to_string())
        )));
    };
    let mut approval = Approval {
        version: APPROVAL_VERSION,
        kind: APPROVAL_KIND.to_string(),
        request_id: request.request_id.clone(),
        token: Some(request.token.clone()),
        decision,
        by: Some(by.unwrap_or_else(|| request.approver.clone())),
        comment: Some(comment.unwrap_or_default()),
        reason,
        run_id: Some(run_id.clone()),
        signature: None,
    };
    if let Err(problem) = sign(station, &request.approver, key.as_deref(), &mut approval) {
        return Ok(Err(problem));
    }
    let text = approval.to_yaml();
    if Approval::parse(&text).as_ref() != Ok(&approval) {
        // The signature is over the values as read back: they must survive the YAML.
        return Ok(Err(
            "the decision's text does not read back unchanged from YAML; simplify --comment/--reason/--by"
                .to_string(),
        ));
    }
    let target = station
        .outbox(&request.approver)
        .join(format!("{}.approval.yaml", request.request_id));
    if target.exists() {
        return Ok(Err(format!(
            "{} already holds a decision for this request; it is applied when the run is driven",
            station.relative(&target)
        )));
    }
    atomic::write_with_mode(&target, text.as_bytes(), Durability::Durable, Some(0o644))
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(Ok(Written {
        run_id,
        file: target,
    }))
}

/// Signs `approval` with the key file `key`, if given. Refuses when `station.yaml` wants
/// `approver`'s approvals signed and no key, or another key than its own, is given.
fn sign(
    station: &crate::station::Station,
    approver: &str,
    key: Option<&Path>,
    approval: &mut Approval,
) -> Result<(), String> {
    let config = StationConfig::load(&station.root)?;
    let wanted = config
        .approver_key(approver)
        .transpose()
        .map_err(|e| format!("station.yaml: approvers.{approver}.key: {e}"))?;
    let Some(key) = key else {
        return match wanted {
            Some(_) => Err(format!(
                "station.yaml requires approvals for `{approver}` to be signed, and no key was given\n\
                 hint: add `--key FILE` (the private key file `3ox keygen` wrote, by default \
                 ~/.config/3ox/{approver}.key) or set THREEOX_SIGNING_KEY=FILE"
            )),
            None => Ok(()),
        };
    };
    let signing_key = signing::read_key_file(key)?;
    if let Some(wanted) = wanted
        && signing_key.verifying_key() != wanted
    {
        return Err(format!(
            "{} is not the key station.yaml names for `{approver}` (its public key is {}, station.yaml wants {}); an approval signed with it would be refused",
            key.display(),
            signing::public_key_text(&signing_key.verifying_key()),
            signing::public_key_text(&wanted)
        ));
    }
    approval.signature = Some(signing::sign(approval, &signing_key));
    Ok(())
}
