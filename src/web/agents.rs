//! The agents page (`/agents`): each agent of the station with its capabilities, concurrency,
//! mode and command, the messages waiting in its inbox and claimed by a worker, the last
//! heartbeat of a task it works on (from the running runs' journals), and whether a
//! `3ox agent run` worker serves it now ([`crate::station::liveness`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{App, when};
use crate::engine::RunStatus;
use crate::mailbox::{self, CLAIMED};
use crate::station::liveness;

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    description: Option<String>,
    capabilities: Vec<String>,
    concurrency: usize,
    mode: &'static str,
    command: Option<String>,
    waiting: usize,
    claimed: usize,
    last_heartbeat: Option<String>,
    alive: bool,
}

#[derive(Debug, Serialize)]
struct Page {
    agents: Vec<Row>,
    error: Option<String>,
}

/// `GET /agents`.
pub async fn page(State(app): State<Arc<App>>) -> Response {
    let shown = app.clone();
    let page = super::blocking(move || build(&shown)).await;
    app.render("agents.html", "agents", page)
}

/// The newest heartbeat of a task each agent works on, in the running runs.
fn heartbeats(app: &App) -> HashMap<String, DateTime<Utc>> {
    let mut beats: HashMap<String, DateTime<Utc>> = HashMap::new();
    let Ok(ids) = crate::query::run_ids(&app.station) else {
        return beats;
    };
    let running = crate::query::list(&app.station, &Default::default(), Utc::now())
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.status == Some(RunStatus::Running))
        .map(|r| r.run_id)
        .filter(|id| ids.contains(id));
    for run in running {
        let Ok(loaded) = app.journals.load(&app.station, &run) else {
            continue;
        };
        for task in loaded.state.tasks.values() {
            if let (Some(agent), Some(at)) = (&task.agent, task.beat_at) {
                let newest = beats.entry(agent.clone()).or_insert(at);
                *newest = (*newest).max(at);
            }
        }
    }
    beats
}

fn build(app: &App) -> Page {
    let agents = match app.station.agents() {
        Ok(agents) => agents,
        Err(e) => {
            return Page {
                agents: Vec::new(),
                error: Some(e.to_string()),
            };
        }
    };
    let beats = heartbeats(app);
    let count = |dir: &std::path::Path| mailbox::list_mail(dir).map_or(0, |files| files.len());
    Page {
        agents: agents
            .agents
            .iter()
            .map(|(name, config)| {
                let inbox = app.station.inbox(name);
                Row {
                    name: name.clone(),
                    description: config.description.clone(),
                    capabilities: config.capabilities.clone(),
                    concurrency: config.concurrency,
                    mode: config.mode.name(),
                    command: match (&config.command, &config.llm) {
                        (Some(c), _) => Some(c.argv().join(" ")),
                        (None, Some(llm)) => Some(format!("(llm) {}", llm.base_url)),
                        (None, None) => None,
                    },
                    waiting: count(&inbox),
                    claimed: count(&inbox.join(CLAIMED)),
                    last_heartbeat: beats.get(name).copied().map(when),
                    alive: liveness::has_live_worker(&app.station, name),
                }
            })
            .collect(),
        error: None,
    }
}
