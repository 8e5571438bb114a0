//! A journal that lost its tail at a record boundary, and how a takeover makes up for it.
//!
//! A torn final record is recognisable (no end marker, a wrong checksum); a journal cut
//! exactly between two records is not: every record left is whole and in sequence. Such a
//! cut (a restored backup, a file system that lost the last writes, a careless `truncate`)
//! turns a COMPLETED run back into a RUNNING one whose last tasks look in flight. Two things
//! outside the journal still know better:
//!
//! - the state snapshot: each run's entry carries `last_seq`, the `seq` of the journal's last
//!   record when the entry was written, so a journal that ends below it lost records;
//! - the archived mail: 3ox moves a reply into `0UT.3OX/done/` only after the record that
//!   applied it is durable, so a final reply there whose task id and token are those of an
//!   attempt the journal still has in flight was applied, and the record saying so was lost.
//!
//! On takeover (`3ox resume`, `3ox up`) the driver applies those archived replies again, from
//! where they lie, as the reply inputs they were ([`RunActor::apply_archived_replies`]): the
//! engine journals them now, and the agent does not run the task a second time. `3ox doctor`
//! reports both signs (its `lost_tail` check) and, with `--repair`, journals the archived
//! replies the same way. See `docs/journal.md` ("A journal cut at a record boundary").

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::Utc;

use super::{OrchestratorError, RunActor, snapshot};
use crate::engine::{Input, RunState, RunStatus};
use crate::mailbox::reply::{Reply, ReplyStatus};
use crate::mailbox::{self, DONE};
use crate::station::Station;

/// A final reply in an outbox's `done/` for an attempt the journal has in flight.
#[derive(Debug, Clone)]
pub struct ArchivedReply {
    pub agent: String,
    pub task_ref: String,
    pub task_id: String,
    pub path: PathBuf,
    pub reply: Reply,
}

/// The final replies (not IN_PROGRESS) in the agents' `0UT.3OX/done/` that answer an attempt
/// of `state` still in flight, with the same task id and token: one per attempt (the first by
/// file name), in task order. A run that is not RUNNING has none.
pub fn archived_replies(station: &Station, state: &RunState) -> Vec<ArchivedReply> {
    if state.status != RunStatus::Running {
        return Vec::new();
    }
    // agent -> task id -> (task ref, token)
    let mut in_flight: HashMap<&str, HashMap<&str, (&str, &str)>> = HashMap::new();
    for task in state.tasks.values().filter(|t| t.status.is_in_flight()) {
        if let (Some(task_id), Some(agent), Some(token)) = (&task.task_id, &task.agent, &task.token)
        {
            in_flight
                .entry(agent.as_str())
                .or_default()
                .insert(task_id.as_str(), (task.task_ref.as_str(), token.as_str()));
        }
    }
    let mut found: Vec<ArchivedReply> = Vec::new();
    for (agent, tasks) in in_flight {
        let done = station.outbox(agent).join(DONE);
        for path in mailbox::list_mail(&done).unwrap_or_default() {
            let Ok(reply) = Reply::read(&path) else {
                continue;
            };
            let Some(&(task_ref, token)) = tasks.get(reply.task_id.as_str()) else {
                continue;
            };
            if reply.status == ReplyStatus::InProgress
                || reply.token.as_deref() != Some(token)
                || found.iter().any(|f| f.task_id == reply.task_id)
            {
                continue;
            }
            found.push(ArchivedReply {
                agent: agent.to_string(),
                task_ref: task_ref.to_string(),
                task_id: reply.task_id.clone(),
                path,
                reply,
            });
        }
    }
    found.sort_by(|a, b| (&a.task_ref, &a.task_id).cmp(&(&b.task_ref, &b.task_id)));
    found
}

/// The `last_seq` the station's snapshot holds for `run_id` (0 when it has none), read
/// before a takeover rewrites the entry; less one when the journal had a torn tail (`torn`):
/// the torn record, reported as such, may be the one the snapshot saw last.
pub fn snapshot_seq(station: &Station, run_id: &str, torn: bool) -> u64 {
    snapshot::read_run(station, run_id)
        .map(|r| r.last_seq)
        .unwrap_or(0)
        .saturating_sub(u64::from(torn))
}

impl RunActor {
    /// On takeover: applies again every archived reply of an attempt the journal still has in
    /// flight (see the module comment), journals what follows, and says so on stderr. Also
    /// says so when the journal ends below `snapshot_seq` (the snapshot's `last_seq` for the
    /// run, read before the takeover rewrote it). Returns how many replies were applied.
    pub(super) fn apply_archived_replies(
        &mut self,
        snapshot_seq: u64,
    ) -> Result<usize, OrchestratorError> {
        let run_id = self.state.run_id.clone();
        let last_seq = self.journal.last_seq();
        let found = archived_replies(&self.station, &self.state);
        if found.is_empty() {
            if snapshot_seq > last_seq {
                let line = format!(
                    "run {run_id}: the journal lost its last records (it ends at seq {last_seq}, the snapshot saw seq {snapshot_seq}); no archived reply answers what it has in flight"
                );
                tracing::warn!(run = %run_id, last_seq, snapshot_seq, "the journal lost its tail");
                self.progress.warn(&line);
            }
            return Ok(0);
        }
        let now = Utc::now();
        let mut changes = Vec::new();
        for archived in &found {
            tracing::info!(run = %run_id, task = %archived.task_ref, task_id = %archived.task_id, file = %archived.path.display(), "applying again an archived reply the journal lost");
            changes.extend(self.receive(
                Input::Reply {
                    agent: archived.agent.clone(),
                    file: mailbox::display_name(&archived.path),
                    reply: archived.reply.clone(),
                },
                now,
            ));
        }
        changes.extend(self.advance(now));
        self.commit(changes, now)?;
        let line = format!(
            "run {run_id}: the journal lost its last records (a cut at a record boundary); {} archived {} applied again",
            found.len(),
            if found.len() == 1 {
                "reply was"
            } else {
                "replies were"
            }
        );
        self.progress.warn(&line);
        self.refresh_snapshot();
        Ok(found.len())
    }
}
