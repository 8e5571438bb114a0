//! EVENT: publish the task's input as a message file to an agent's inbox or a station event
//! folder.
//!
//! The `sink` says where ([`parse_sink`]):
//! - `agent:<name>`: into the inbox of agent `<name>` (`agents/<name>/1N.3OX/`);
//! - `conductor`, `conductor:<queue>`, `conductor:<workflow>:<queue>`: Conductor's internal
//!   queue, kept as the station event folder `.3ox/events/<workflow>/<queue>/` (the workflow
//!   is the run's, the queue the task's reference name, when the sink leaves them out, as in
//!   Conductor);
//! - `3ox:<topic>`: the station event folder `.3ox/events/<topic>/`.
//!
//! The walk journals `event_published` (with a new message id, the target and the payload:
//! the task's input plus Conductor's `workflowInstanceId`, `workflowType` and
//! `workflowVersion`) and the task's completion together; the orchestrator writes the file
//! `<message_id>.event.yaml` atomically once that is durable, and on resume writes again any
//! published message whose file is missing (see `orchestrator::event`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::definition::TaskDef;
use crate::engine::Change;
use crate::engine::walk::{Progress, Walker};

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventTarget {
    /// The inbox of this agent.
    Agent { name: String },
    /// The station event folder `.3ox/events/<path...>/`.
    Topic { path: Vec<String> },
}

/// A sink read: where the message goes, and the event name reported as `event_produced`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub target: EventTarget,
    pub event: String,
}

/// Message brokers Conductor publishes to that 3ox has no connection for.
const BROKERS: &[&str] = &[
    "sqs",
    "kafka",
    "nats",
    "nats-stream",
    "nats_stream",
    "amqp",
    "amqp_queue",
    "amqp_exchange",
    "ampq",
    "azure",
    "gcppubsub",
    "gcp_pubsub",
    "ibm_mq",
    "jsm",
];

/// Reads a sink for a task `task_ref` of workflow `workflow`. The error says what is wrong and
/// what to write instead.
pub fn parse_sink(sink: &str, workflow: &str, task_ref: &str) -> Result<Sink, String> {
    let sink = sink.trim();
    if sink.contains("${") {
        return Err(format!(
            "sink `{sink}` holds a `${{...}}` reference, but a sink is fixed text (as in Conductor); name the agent or topic itself"
        ));
    }
    let (prefix, rest) = match sink.split_once(':') {
        Some((prefix, rest)) => (prefix, Some(rest)),
        None => (sink, None),
    };
    let plain = |what: &str, name: &str| match crate::mailbox::name_problem(name) {
        Some(problem) => Err(format!(
            "the {what} `{name}` in sink `{sink}` is not usable: {problem}"
        )),
        None => Ok(name.to_string()),
    };
    match (prefix, rest) {
        ("agent", Some(name)) => {
            let name = plain("agent name", name)?;
            Ok(Sink {
                event: format!("agent:{name}"),
                target: EventTarget::Agent { name },
            })
        }
        ("conductor", rest) => {
            let parts: Vec<&str> = rest.map(|r| r.split(':').collect()).unwrap_or_default();
            let (flow, queue) = match parts.as_slice() {
                [] => (workflow, task_ref),
                [queue] => (workflow, *queue),
                [flow, queue] => (*flow, *queue),
                _ => {
                    return Err(format!(
                        "sink `{sink}` has too many parts; write `conductor`, `conductor:<queue>` or `conductor:<workflow>:<queue>`"
                    ));
                }
            };
            let flow = plain("workflow name", flow)?;
            let queue = plain("queue name", queue)?;
            Ok(Sink {
                event: format!("conductor:{flow}:{queue}"),
                target: EventTarget::Topic {
                    path: vec![flow, queue],
                },
            })
        }
        ("3ox", Some(topic)) => {
            let topic = plain("topic", topic)?;
            Ok(Sink {
                event: format!("3ox:{topic}"),
                target: EventTarget::Topic { path: vec![topic] },
            })
        }
        ("agent" | "3ox", None) => Err(format!(
            "sink `{sink}` names no {}; write `{prefix}:<name>`",
            if prefix == "agent" { "agent" } else { "topic" }
        )),
        (broker, _) if BROKERS.contains(&broker) => Err(format!(
            "3ox has no `{broker}` connection, so sink `{sink}` cannot be published to; publish to an agent that forwards it (`agent:<name>`) or to a station event folder (`conductor:<queue>`, `3ox:<topic>`)"
        )),
        _ => Err(format!(
            "unknown sink `{sink}`; write `agent:<name>` (an agent's inbox), `conductor[:<queue>]` or `3ox:<topic>` (a station event folder)"
        )),
    }
}

pub fn walk(w: &mut Walker<'_, '_, '_>, task: &TaskDef) -> Progress {
    let task_ref = &task.task_reference_name;
    if w.state.tasks.contains_key(task_ref) {
        return w.settled(task_ref).unwrap_or(Progress::Pending);
    }
    let workflow = w.state.workflow.name.clone();
    let sink_text = task.sink.clone().unwrap_or_default();
    let sink = match parse_sink(&sink_text, &workflow, task_ref) {
        Ok(sink) => sink,
        Err(problem) => return w.fail_system_task(task, problem),
    };
    if let EventTarget::Agent { name } = &sink.target
        && w.ctx.agents.get(name).is_none()
    {
        return w.fail_system_task(
            task,
            format!("sink `{sink_text}` names agent `{name}`, which this station does not have"),
        );
    }
    let input = w.resolve_input(task);
    let mut payload = match &input {
        Value::Object(map) => map.clone(),
        Value::Null => Map::new(),
        other => Map::from_iter([("input".to_string(), other.clone())]),
    };
    payload.insert("workflowInstanceId".into(), json!(w.state.run_id));
    payload.insert("workflowType".into(), json!(workflow));
    payload.insert("workflowVersion".into(), json!(w.state.workflow.version));
    let payload = Value::Object(payload);
    let message_id = (w.ctx.new_id)().to_string();
    let mut output = payload.clone();
    if let Value::Object(map) = &mut output {
        map.insert("event_produced".into(), json!(sink.event));
        map.insert("sink".into(), json!(sink_text));
        map.insert("message_id".into(), json!(message_id));
    }
    w.emit(Change::EventPublished {
        task_ref: task_ref.clone(),
        message_id,
        sink: sink_text,
        event_name: sink.event,
        target: sink.target,
        payload,
    });
    w.emit(Change::TaskCompleted {
        task_ref: task_ref.clone(),
        task_id: None,
        input: Some(input),
        output,
    });
    Progress::Done
}

/// A published event, kept in the run state so a resumed run can write a missing file again.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedEvent {
    pub message_id: String,
    pub task_ref: String,
    pub sink: String,
    pub event: String,
    pub target: EventTarget,
    pub payload: Value,
    pub published_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_name_an_agent_or_a_station_folder() {
        let sink = parse_sink("agent:billing", "flow", "ev").unwrap();
        assert_eq!(
            sink.target,
            EventTarget::Agent {
                name: "billing".into()
            }
        );
        assert_eq!(sink.event, "agent:billing");
        let topic = |s: &str| parse_sink(s, "flow", "ev").unwrap();
        assert_eq!(topic("conductor").event, "conductor:flow:ev");
        assert_eq!(
            topic("conductor:orders").target,
            EventTarget::Topic {
                path: vec!["flow".into(), "orders".into()]
            }
        );
        assert_eq!(
            topic("conductor:other:orders").event,
            "conductor:other:orders"
        );
        assert_eq!(
            topic("3ox:alerts").target,
            EventTarget::Topic {
                path: vec!["alerts".into()]
            }
        );
    }

    #[test]
    fn unusable_sinks_are_refused_with_a_reason() {
        for (sink, expected) in [
            ("sqs:queue", "no `sqs` connection"),
            ("agent:", "is not usable"),
            ("agent", "names no agent"),
            ("agent:../x", "path separator"),
            ("conductor:a:b:c", "too many parts"),
            ("smoke:signal", "unknown sink"),
            ("agent:${workflow.input.who}", "fixed text"),
        ] {
            let err = parse_sink(sink, "flow", "ev").unwrap_err();
            assert!(err.contains(expected), "{sink}: {err}");
        }
    }
}
