//! Where the dashboard's data comes from: the station's files, read as the other views read
//! them, never written (besides the runs index `3ox list` keeps too).
//!
//! - the run list: [`query::list`], which reads only the journals that changed since the runs
//!   index (`.3ox/runs.index.json`) was written;
//! - pending approvals: the open requests of the RUNNING runs, each run's journal read again
//!   only when its length or time changed;
//! - live agents: the worker locks of [`crate::station::liveness`];
//! - the selected run: its journal, folded into a task tree ([`super::tree`]) and an event
//!   tail ([`super::events`]); child runs are read for their part of the tree.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::events::{self, EventLine};
use super::tree::{self, TreeRow};
use crate::engine::{ApprovalStatus, RunState, RunStatus};
use crate::journal::{self, Journal};
use crate::query::{self, ListFilter, RunLine};
use crate::station::Station;

/// One open approval request, for the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub run_id: String,
    pub task_ref: String,
    pub approver: String,
    pub requested_at: DateTime<Utc>,
}

/// An agent of the station and whether a worker serves it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLive {
    pub name: String,
    pub live: bool,
}

/// What the header shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    /// The station's root, as given.
    pub station: String,
    pub approvals: Vec<Waiting>,
    pub agents: Vec<AgentLive>,
}

/// The selected run.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub run_id: String,
    pub workflow: String,
    pub status: RunStatus,
    pub paused: bool,
    /// Whether a process drives it now.
    pub driven: bool,
    pub tree: Vec<TreeRow>,
    pub events: Vec<EventLine>,
}

/// Reads a station for the dashboard, remembering what it need not read again.
pub struct Source {
    station: Station,
    /// Open approvals per RUNNING run, with the journal length and time they were read at.
    approvals: HashMap<String, (u64, Option<SystemTime>, Vec<Waiting>)>,
    /// The run [`Source::detail`] read last, with its journal's length and time then: the run
    /// list and the header take its state from here instead of reading the journal again
    /// (a long journal costs seconds to fold).
    last: Option<(String, Stamp, RunState)>,
}

/// A journal's length and modification time.
type Stamp = (u64, Option<SystemTime>);

impl Source {
    pub fn new(station: Station) -> Source {
        Source {
            station,
            approvals: HashMap::new(),
            last: None,
        }
    }

    pub fn station(&self) -> &Station {
        &self.station
    }

    /// Every run, newest first.
    pub fn runs(&self, now: DateTime<Utc>) -> Result<Vec<RunLine>, query::QueryError> {
        let station = &self.station;
        query::list_with(station, &ListFilter::default(), now, |id| {
            match self.cached(id) {
                Some(state) => Ok(state.clone()),
                None => query::load_state(station, id),
            }
        })
    }

    /// The state of `run_id` as last read, when its journal has not changed since.
    fn cached(&self, run_id: &str) -> Option<&RunState> {
        let (id, stamp, state) = self.last.as_ref()?;
        let now = self::stamp(&Journal::path_for(&self.station.runs_dir(), run_id));
        (id == run_id && *stamp == now).then_some(state)
    }

    /// The header for `runs` (the list [`Source::runs`] gave).
    pub fn header(&mut self, runs: &[RunLine]) -> Header {
        let runs_dir = self.station.runs_dir();
        let mut approvals = Vec::new();
        let mut kept = HashMap::new();
        for run in runs.iter().filter(|r| r.status == Some(RunStatus::Running)) {
            let path = Journal::path_for(&runs_dir, &run.run_id);
            let (len, modified) = stamp(&path);
            let open = match self.approvals.remove(&run.run_id) {
                Some((l, m, open)) if l == len && m == modified => open,
                _ => read_state(&path)
                    .map(|s| open_approvals(&s))
                    .unwrap_or_default(),
            };
            approvals.extend(open.iter().cloned());
            kept.insert(run.run_id.clone(), (len, modified, open));
        }
        self.approvals = kept;
        approvals.sort_by_key(|a| a.requested_at);
        Header {
            station: self.station.root.display().to_string(),
            approvals,
            agents: agents(&self.station),
        }
    }

    /// Run `run_id`: its tree and the tail of its journal.
    pub fn detail(&mut self, run_id: &str) -> Result<Detail, String> {
        let runs_dir = self.station.runs_dir();
        let path = Journal::path_for(&runs_dir, run_id);
        // Taken before the read: a journal that grows meanwhile is read again next time.
        let before = stamp(&path);
        let contents = journal::read(&path).map_err(|e| e.to_string())?;
        let state = RunState::replay(contents.records.iter().map(|r| (&r.change, r.at)));
        let child = |id: &str| read_state(&Journal::path_for(&runs_dir, id));
        let detail = Detail {
            run_id: run_id.to_string(),
            workflow: state.workflow.name.clone(),
            status: state.status,
            paused: state.paused,
            driven: query::driver(&runs_dir, run_id).held,
            tree: tree::rows(&state, &child),
            events: events::tail(&contents.records),
        };
        self.last = Some((run_id.to_string(), before, state));
        Ok(detail)
    }
}

/// The station's agents (folders of `agents/` with an `agent.yaml`) and their liveness.
pub fn agents(station: &Station) -> Vec<AgentLive> {
    let Ok(entries) = std::fs::read_dir(station.agents_dir()) else {
        return Vec::new();
    };
    let mut agents: Vec<AgentLive> = entries
        .flatten()
        .filter(|e| e.path().join("agent.yaml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|name| !name.starts_with('.'))
        .map(|name| AgentLive {
            live: crate::station::liveness::has_live_worker(station, &name),
            name,
        })
        .collect();
    agents.sort_by(|a, b| a.name.cmp(&b.name));
    agents
}

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path).map_or((0, None), |m| (m.len(), m.modified().ok()))
}

fn read_state(path: &Path) -> Option<RunState> {
    let contents = journal::read(path).ok()?;
    Some(RunState::replay(
        contents.records.iter().map(|r| (&r.change, r.at)),
    ))
}

/// The open approval requests of a run.
pub fn open_approvals(state: &RunState) -> Vec<Waiting> {
    if state.status != RunStatus::Running {
        return Vec::new();
    }
    state
        .approvals
        .values()
        .filter(|a| a.status == ApprovalStatus::Open)
        .map(|a| Waiting {
            run_id: state.run_id.clone(),
            task_ref: a.task_ref.clone(),
            approver: a.approver.clone(),
            requested_at: a.requested_at,
        })
        .collect()
}
