//! EVENT tasks: writing the message files, and writing a missing one again on resume.
//!
//! The file is written only after `event_published` is durable in the journal, atomically
//! (dot name, fsync, rename), under an id-based name, so writing it again is harmless. An
//! agent's inbox (`sink: agent:<name>`) or the station event folder `.3ox/events/<topic...>/`
//! receives it. The format is [`crate::mailbox::event::EventMessage`].

use std::path::PathBuf;

use crate::engine::RunState;
use crate::engine::tasks::event::{EventTarget, PublishedEvent};
use crate::mailbox::event::{EVENT_KIND, EVENT_VERSION, EventMessage};
use crate::mailbox::{CLAIMED, DONE};
use crate::station::Station;

/// The station's event folders live below this folder of `.3ox/`.
pub const EVENTS_DIR: &str = "events";

/// The folder a target's files go into.
pub fn folder(station: &Station, target: &EventTarget) -> PathBuf {
    match target {
        EventTarget::Agent { name } => station.inbox(name),
        EventTarget::Topic { path } => path
            .iter()
            .fold(station.runtime_dir().join(EVENTS_DIR), |dir, part| {
                dir.join(part)
            }),
    }
}

/// The file of a published event, with its contents. Makes the folder when it is missing.
pub fn delivery(
    station: &Station,
    state: &RunState,
    event: &PublishedEvent,
) -> std::io::Result<(PathBuf, Vec<u8>)> {
    let dir = folder(station, &event.target);
    std::fs::create_dir_all(&dir)?;
    let task = state
        .def(&event.task_ref)
        .map_or_else(|| event.task_ref.clone(), |d| d.name.clone());
    let message = EventMessage {
        version: EVENT_VERSION,
        kind: EVENT_KIND.to_string(),
        message_id: event.message_id.clone(),
        event: event.event.clone(),
        sink: event.sink.clone(),
        run_id: state.run_id.clone(),
        workflow: state.workflow.name.clone(),
        workflow_version: state.workflow.version,
        task_ref: event.task_ref.clone(),
        task,
        published_at: event.published_at,
        payload: event.payload.clone(),
    };
    let path = dir.join(EventMessage::file_name(&event.message_id));
    Ok((path, message.to_yaml().into_bytes()))
}

/// True when the event's file is where readers may have left it: the folder, `claimed/` or
/// `done/` below it.
pub fn is_written(station: &Station, event: &PublishedEvent) -> bool {
    let dir = folder(station, &event.target);
    let name = EventMessage::file_name(&event.message_id);
    [
        dir.join(&name),
        dir.join(CLAIMED).join(&name),
        dir.join(DONE).join(&name),
    ]
    .iter()
    .any(|p| p.exists())
}
