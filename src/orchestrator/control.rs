//! Control requests: how a person's operation (pause, resume, terminate, retry, rerun, skip,
//! restart) reaches a run.
//!
//! [`send`] first tries to take the run's ownership lock. With it, nobody drives the run: it
//! opens the journal, replays it, and applies the request through the same actor code a
//! driver uses (`RunActor::apply_request`), then lets the run go. Without it, it writes a
//! request file atomically into `.3ox/control/<run_id>/<ulid>.yaml` and waits for the driver,
//! which watches that folder (`RunActor::scan_control`), applies each request (journaled
//! with who asked), writes the outcome beside it as `done/<ulid>.result.yaml` and moves the
//! request into `done/`. A request file that cannot be read is refused with a note, like a
//! bad reply. The order is journal, result, move: a crash in between applies the request
//! again on takeover, which the engine then refuses as already done (paused, ended, ...).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ownership::RunLock;
use super::{OrchestratorError, RunActor, RunOptions, io, progress};
use crate::engine::{self, Ctx, RunStatus, control::Action, control::Command};
use crate::journal::Journal;
use crate::mailbox::atomic::{self, Durability};
use crate::mailbox::{self, DONE};
use crate::station::Station;

/// The version of the request and result file formats.
pub const CONTROL_VERSION: u32 = 1;

/// A request file: `.3ox/control/<run_id>/<ulid>.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    pub version: u32,
    pub action: Action,
    pub by: String,
    /// The asker's uid as the asker states it; the driver records the file owner's instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The status and output of `complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<crate::engine::complete::Completion>,
    pub at: DateTime<Utc>,
}

/// Whether a request was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    Refused,
}

/// A request's outcome: `done/<ulid>.result.yaml`, and what the command prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlResult {
    pub version: u32,
    pub run_id: String,
    pub action: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The run's status after the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
    /// The new run of `restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_run_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// How a request went.
#[derive(Debug)]
pub enum Sent {
    /// Applied or refused, by this process (`direct`) or by the run's driver.
    Done { result: ControlResult, direct: bool },
    /// The driver did not take the request within the wait; it stays queued as `file`.
    Queued { file: PathBuf },
}

/// The suffix of a control folder's doorbell: `.3ox/control/<run_id>.ring`.
pub const RING_SUFFIX: &str = ".ring";

/// The doorbell of run `run_id`'s control folder, beside the folder.
pub fn ring_path(station: &Station, run_id: &str) -> PathBuf {
    station
        .runtime_dir()
        .join("control")
        .join(format!("{run_id}{RING_SUFFIX}"))
}

/// Rings run `run_id`'s doorbell after a request or notice was put into its control folder:
/// the station runtime of the process that drives it watches `.3ox/control/` (one watch for
/// every run) and wakes that run. An empty file; a bell that cannot be rung costs only time
/// (the driver's rescan finds the request within 2 s).
pub fn ring(station: &Station, run_id: &str) {
    let path = ring_path(station, run_id);
    if let Err(error) = atomic::write(&path, b"", Durability::Relaxed) {
        tracing::debug!(%error, path = %path.display(), "cannot ring a control folder's doorbell");
    }
}

/// The folder of `run_id`'s control requests.
pub fn dir(station: &Station, run_id: &str) -> PathBuf {
    station.runtime_dir().join("control").join(run_id)
}

/// Carries `request` to run `run_id` (see the module doc) and waits up to `wait` for a
/// driver to take it.
pub fn send(
    station: &Station,
    run_id: &str,
    request: &ControlRequest,
    wait: Duration,
) -> Result<Sent, OrchestratorError> {
    let runs_dir = station.runs_dir();
    if crate::query::run_id_problem(run_id).is_some()
        || !Journal::path_for(&runs_dir, run_id).exists()
    {
        return Err(OrchestratorError::NoSuchRun {
            run_id: run_id.to_string(),
            path: station.relative(&Journal::path_for(&runs_dir, run_id)),
        });
    }
    if let Some(lock) = RunLock::try_acquire(&runs_dir, run_id).map_err(io("lock the run"))? {
        let mut actor = open(station, run_id)?;
        // Applied by this process: the asker is this process's user, whatever it states.
        let result = actor.apply_request(request, own_uid().or(request.uid))?;
        drop(lock);
        return Ok(Sent::Done {
            result,
            direct: true,
        });
    }
    let folder = dir(station, run_id);
    crate::station::create_mail_dir(&folder).map_err(io("make the control folder"))?;
    let name = format!("{}.yaml", ulid::Ulid::new());
    let path = folder.join(&name);
    let text = crate::mailbox::yaml::to_string(request).expect("a request serializes");
    // Only the asker may write it (the driver refuses a request others could have written).
    atomic::write_with_mode(&path, text.as_bytes(), Durability::Durable, Some(0o600))
        .map_err(io("write the control request"))?;
    ring(station, run_id);
    let result_path = folder.join(DONE).join(result_name(&name));
    let deadline = Instant::now() + wait;
    loop {
        if let Some(result) = read_result(&result_path) {
            return Ok(Sent::Done {
                result,
                direct: false,
            });
        }
        // The driver may have stopped (the run ended, or it was interrupted) before taking
        // the request: then take the run and apply it here.
        if path.exists()
            && let Some(lock) =
                RunLock::try_acquire(&runs_dir, run_id).map_err(io("lock the run"))?
        {
            if path.exists() {
                let mut actor = open(station, run_id)?;
                actor.take_request(&path)?;
            }
            drop(lock);
            continue;
        }
        if Instant::now() >= deadline {
            return Ok(Sent::Queued { file: path });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// An actor over run `run_id` for applying requests (the caller holds the run's lock).
fn open(station: &Station, run_id: &str) -> Result<RunActor, OrchestratorError> {
    let path = Journal::path_for(&station.runs_dir(), run_id);
    let (journal, contents) = Journal::open(&path, Durability::Durable)?;
    let state = engine::RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
    let options = RunOptions {
        progress: progress::Mode::Quiet,
        start_agents: false,
        ..RunOptions::default()
    };
    Ok(RunActor::new(
        station.clone(),
        station.agents()?,
        journal,
        state,
        options,
    ))
}

fn result_name(request: &str) -> String {
    let stem = request
        .strip_suffix(".yaml")
        .or_else(|| request.strip_suffix(".yml"))
        .or_else(|| request.strip_suffix(".json"))
        .unwrap_or(request);
    format!("{stem}.result.yaml")
}

fn read_result(path: &Path) -> Option<ControlResult> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_yaml::from_str(&text).ok()
}

/// Reads a request file, refusing what is not one: too big, not a plain file, not YAML of
/// the request's shape, another version, no `by`. The file is opened once without following
/// a symlink and judged by what was opened (see [`crate::mailbox::reply::read_opened`]).
pub fn read_request(path: &Path) -> Result<ControlRequest, String> {
    read_request_from(path).map(|(request, _)| request)
}

/// [`read_request`], with the opened file's metadata.
fn read_request_from(path: &Path) -> Result<(ControlRequest, std::fs::Metadata), String> {
    let (text, meta) =
        crate::mailbox::reply::read_opened(path).map_err(|e| format!("cannot read it: {e}"))?;
    let request: ControlRequest = serde_yaml::from_str(&text).map_err(|e| {
        format!("it is not a control request (version, action, by, uid, reason, task, at): {e}")
    })?;
    if request.version != CONTROL_VERSION {
        return Err(format!(
            "version {} is not supported (expected {CONTROL_VERSION})",
            request.version
        ));
    }
    if request.by.trim().is_empty() {
        return Err("`by` is empty: say who asks".into());
    }
    Ok((request, meta))
}

/// Refuses a request file that someone other than those who may operate the run could have
/// written, like an approval (see [`crate::mailbox::approval::check_meta`]): writable by
/// group or others, or owned by a uid that is neither the driver's nor the station owner's.
fn check_request_file(meta: &std::fs::Metadata, station: &Station) -> Result<(), String> {
    let allowed: Vec<u32> = own_uid()
        .into_iter()
        .chain(crate::mailbox::approval::owner_uid(&station.root))
        .collect();
    crate::mailbox::approval::check_meta(meta, Some(&allowed)).map_err(|reason| {
        reason
            .replace("the approval file", "the control request")
            .replace(
                "may not approve here",
                "may not operate this run (only the driver's user and the station's owner may)",
            )
    })
}

/// This process's uid (Unix).
fn own_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        Some(nix::unistd::getuid().as_raw())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The uid owning the opened request file (Unix), which no request can forge.
fn file_owner(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Some(meta.uid())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

impl RunActor {
    /// Applies every queued request of this run, oldest first.
    pub(super) fn scan_control(&mut self) -> Result<(), OrchestratorError> {
        // Child runs' ends (their notices live in this folder too).
        super::children::poll(self)?;
        // Answered: a ring after this point wakes the driver again.
        let _ = std::fs::remove_file(ring_path(&self.station, &self.state.run_id));
        let folder = dir(&self.station, &self.state.run_id);
        let files = match mailbox::list_mail(&folder) {
            Ok(files) => files,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                tracing::warn!(folder = %folder.display(), %error, "cannot list control requests");
                return Ok(());
            }
        };
        for path in files {
            if !self.handled.contains(&path) && !super::children::is_notice(&path) {
                self.take_request(&path)?;
            }
        }
        Ok(())
    }

    /// Applies (or refuses) the request file `path`, writes its result beside it in `done/`
    /// and moves it there.
    pub(super) fn take_request(&mut self, path: &Path) -> Result<(), OrchestratorError> {
        let read = read_request_from(path).and_then(|(request, meta)| {
            check_request_file(&meta, &self.station)
                .map(|()| (request, file_owner(&meta)))
                .map_err(|problem| format!("refused: {problem}"))
        });
        let result = match read {
            Ok((request, owner)) => self.apply_request(&request, owner.or(request.uid))?,
            Err(problem) => {
                tracing::warn!(file = %path.display(), %problem, "refused a control request");
                ControlResult {
                    version: CONTROL_VERSION,
                    run_id: self.state.run_id.clone(),
                    action: "?".into(),
                    outcome: Outcome::Refused,
                    reason: Some(format!("malformed control request: {problem}")),
                    hint: Some("see docs/journal.md, section Control, for the format".into()),
                    status: Some(self.state.status),
                    new_run_id: None,
                    at: Utc::now(),
                }
            }
        };
        let name = mailbox::display_name(path);
        let done = path.parent().unwrap_or(Path::new(".")).join(DONE);
        let written = std::fs::create_dir_all(&done).and_then(|()| {
            let text = crate::mailbox::yaml::to_string(&result).expect("a result serializes");
            atomic::write(
                &done.join(result_name(&name)),
                text.as_bytes(),
                self.options.durability,
            )
        });
        if let Err(error) = written.and_then(|()| mailbox::move_into(path, DONE).map(drop)) {
            tracing::warn!(file = %path.display(), %error, "cannot file a handled control request");
            self.handled.insert(path.to_path_buf());
        }
        Ok(())
    }

    /// Asks the engine about `request` and, when it applies, journals and carries out its
    /// changes like any other step. A restart starts the same run again from the top.
    pub(super) fn apply_request(
        &mut self,
        request: &ControlRequest,
        uid: Option<u32>,
    ) -> Result<ControlResult, OrchestratorError> {
        let now = Utc::now();
        self.note_claims(now)?;
        let mut result = ControlResult {
            version: CONTROL_VERSION,
            run_id: self.state.run_id.clone(),
            action: request.action.to_string(),
            outcome: Outcome::Applied,
            reason: None,
            hint: None,
            status: None,
            new_run_id: None,
            at: now,
        };
        let restart = request.action == Action::Restart;
        // As Conductor, a restart starts this same run again (see `Change::RunRestarted`).
        let new_run_id = restart.then(|| self.state.run_id.clone());
        if restart
            && self.state.status != RunStatus::Running
            && let Err(problem) = super::preflight(&self.state.workflow, &self.agents)
        {
            result.outcome = Outcome::Refused;
            result.reason = Some(format!("the run cannot start again:\n{problem}"));
            result.hint = Some("fix the station's agents first".into());
            result.status = Some(self.state.status);
            return Ok(result);
        }
        if request.action == Action::Complete
            && let Some(task) = &request.task
            && let Some(reason) = self.human_complete_refusal(task, uid)
        {
            result.outcome = Outcome::Refused;
            result.reason = Some(reason);
            result.hint = Some(format!(
                "decide a HUMAN task with `3ox approve {run} {task}` or `3ox reject {run} {task} --reason ...` (with `--key FILE` when station.yaml gives the approver a key)",
                run = self.state.run_id
            ));
            result.status = Some(self.state.status);
            return Ok(result);
        }
        let command = Command {
            action: request.action.clone(),
            by: request.by.clone(),
            uid,
            reason: request.reason.clone(),
            task: request.task.clone(),
            new_run_id: new_run_id.clone(),
            completion: request.completion.clone(),
        };
        let mut new_id = || ulid::Ulid::new();
        let load = self.load_lookup();
        let mut ctx = Ctx {
            now,
            agents: &self.agents,
            new_id: &mut new_id,
            load: &load,
        };
        match engine::command(&mut self.state, command, &mut ctx) {
            Err(refusal) => {
                result.outcome = Outcome::Refused;
                result.hint = Some(refusal.hint());
                result.reason = Some(refusal.to_string());
            }
            Ok(changes) => {
                self.commit(changes, now)?;
                self.write_snapshot();
                if let Some(new_run_id) = new_run_id.as_ref().filter(|id| **id != self.state.run_id)
                {
                    super::submit_as(
                        &self.station,
                        new_run_id.clone(),
                        (*self.state.workflow).clone(),
                        self.state.source.clone(),
                        self.state.input.clone(),
                        self.options.durability,
                    )?;
                }
                result.new_run_id = new_run_id;
            }
        }
        result.status = Some(self.state.status);
        Ok(result)
    }

    /// Why `3ox complete` may not decide HUMAN task `task` for the user `uid`, if it may
    /// not: a HUMAN task waiting for a decision is decided only under its approver's rules
    /// in `station.yaml` (see [`crate::mailbox::approval`]). An approver with a `key` takes
    /// only signed approvals, which a completion is not; otherwise the asker must be one of
    /// the uids allowed to decide for the approver.
    fn human_complete_refusal(&self, task: &str, uid: Option<u32>) -> Option<String> {
        let approver = self.state.open_approval(task)?.approver.clone();
        let config = match crate::mailbox::approval::StationConfig::load(&self.station.root) {
            Ok(config) => config,
            Err(problem) => {
                return Some(format!(
                    "the station's approver list cannot be read, so nobody may decide HUMAN task `{task}`: {problem}"
                ));
            }
        };
        if config.approver_key(&approver).is_some() {
            return Some(format!(
                "HUMAN task `{task}` waits for `{approver}`, whose approvals must be signed (station.yaml gives it a key); `3ox complete` carries no signature"
            ));
        }
        let allowed = config.allowed_uids(&approver, &self.station.root)?;
        match uid {
            Some(uid) if allowed.contains(&uid) => None,
            _ => Some(format!(
                "HUMAN task `{task}` waits for `{approver}`; uid {} may not decide for it (allowed: {}; see station.yaml `approvers`)",
                uid.map_or("unknown".to_string(), |u| u.to_string()),
                allowed
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}
