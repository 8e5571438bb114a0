//! What the driver does for the engine's timers that needs the file system: whether a task
//! message was claimed by a worker (moved into `1N.3OX/claimed/`, or already into `done/`),
//! asked only when the attempt's poll deadline (`pollTimeoutSeconds`) falls due. A claim found
//! becomes [`Input::Claimed`] and is journaled (`task_claimed`) before anything else is
//! applied, so the engine's poll timeout never fires for a message a worker holds.

use chrono::{DateTime, Utc};

use super::{OrchestratorError, RunActor};
use crate::engine::{self, Ctx, Input};
use crate::mailbox::message::TaskMessage;
use crate::mailbox::{CLAIMED, DONE};

impl RunActor {
    /// Journals the claims of the attempts whose poll deadline fell due by `now`.
    pub(super) fn note_claims(&mut self, now: DateTime<Utc>) -> Result<(), OrchestratorError> {
        let due = engine::timeouts::polls_due(&self.state, now);
        if due.is_empty() {
            return Ok(());
        }
        let claimed: Vec<String> = due
            .into_iter()
            .filter(|(_, task_id, agent)| {
                let inbox = self.station.inbox(agent);
                let name = TaskMessage::file_name(task_id);
                [
                    inbox.join(CLAIMED).join(&name),
                    inbox.join(DONE).join(&name),
                ]
                .iter()
                .any(|p| p.exists())
            })
            .map(|(_, task_id, _)| task_id)
            .collect();
        if claimed.is_empty() {
            return Ok(());
        }
        let mut new_id = ulid::Ulid::new;
        let load = self.load_lookup();
        let mut ctx = Ctx {
            now,
            agents: &self.agents,
            new_id: &mut new_id,
            load: &load,
        };
        let input = Input::Claimed { task_ids: claimed };
        let changes = engine::receive(&mut self.state, input, &mut ctx);
        self.commit(changes, now)
    }
}
