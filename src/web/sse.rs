//! Live updates: Server-Sent Events from the journals.
//!
//! [`Hub`] owns one notify watcher on `.3ox/runs/` (as `3ox log --follow` does,
//! `crate::cli::follow`) and broadcasts the id of each run whose journal changed. A rescan
//! every 2 s (every 250 ms with `THREEOX_WATCH=poll`, the only source then) compares the
//! journals' lengths, so a lost or overflowed event costs at most that delay.
//!
//! Two streams:
//! - `GET /runs/RUN/events`: one `record` event per new journal record of the run, with
//!   the record's sequence number as the event id and, as data,
//!   `{"seq", "event", "task_ref", "task_status", "run_status", "paused"}` (the task's and the
//!   run's status just after that record: each stream folds the records one by one). A browser reconnecting sends
//!   `Last-Event-ID` and gets the records after it; the first connection passes `?after=SEQ`,
//!   the last record the page was rendered from. More than [`MAX_BEHIND`] records behind, it
//!   gets one `reload` event instead.
//! - `GET /events`: one `run` event per change of any run, with data
//!   `{"run_id", "workflow", "status", "tasks_done", "tasks_total"}` and as event id the time
//!   of the run's last record (milliseconds since 1970); with `Last-Event-ID`, the runs whose
//!   journal changed since that time are sent first.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use notify::Watcher as _;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;

use super::App;
use crate::engine::RunState;
use crate::orchestrator::runtime::{POLL_EVERY, WatchMode};
use crate::station::Station;

/// A stream this many records behind asks the page to reload instead.
pub const MAX_BEHIND: u64 = 2_000;

/// Changes that come this close together are read as one.
const SETTLE: Duration = Duration::from_millis(50);

/// The rescan period beside the native watcher.
const RESCAN_EVERY: Duration = Duration::from_secs(2);

/// Says which runs' journals changed.
pub struct Hub {
    tx: broadcast::Sender<String>,
    _watcher: Option<notify::RecommendedWatcher>,
    /// The rescan thread ends when this is dropped.
    _alive: Arc<()>,
}

/// The run id of a journal's path, if it is one.
fn run_of(path: &std::path::Path) -> Option<String> {
    path.file_name()?
        .to_str()?
        .strip_suffix(".journal.yaml")
        .filter(|id| !id.is_empty() && !id.starts_with('.'))
        .map(str::to_owned)
}

impl Hub {
    /// Watches `station`'s `.3ox/runs/` (made if missing).
    pub fn watch(station: &Station) -> anyhow::Result<Hub> {
        let runs = station.runs_dir();
        std::fs::create_dir_all(&runs)?;
        let (tx, _) = broadcast::channel(1024);
        let mode = WatchMode::from_env();
        let watcher = match mode {
            WatchMode::Poll => None,
            WatchMode::Native => {
                let sender = tx.clone();
                let made =
                    notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                        if let Ok(event) = event {
                            for run in event.paths.iter().filter_map(|p| run_of(p)) {
                                let _ = sender.send(run);
                            }
                        }
                    })
                    .and_then(|mut w| {
                        w.watch(&runs, notify::RecursiveMode::NonRecursive)
                            .map(|()| w)
                    });
                match made {
                    Ok(w) => Some(w),
                    Err(error) => {
                        tracing::warn!(%error, "cannot watch the runs folder; looking every 250 ms");
                        None
                    }
                }
            }
        };
        let every = if watcher.is_some() {
            RESCAN_EVERY
        } else {
            POLL_EVERY
        };
        let sender = tx.clone();
        let alive = Arc::new(());
        let weak = Arc::downgrade(&alive);
        std::thread::Builder::new()
            .name("3ox-serve-rescan".into())
            .spawn(move || rescan(&runs, every, &sender, &weak))?;
        Ok(Hub {
            tx,
            _watcher: watcher,
            _alive: alive,
        })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }
}

/// Compares the journals' lengths every `every`, and says which changed, until the hub is
/// gone.
fn rescan(
    runs: &std::path::Path,
    every: Duration,
    tx: &broadcast::Sender<String>,
    alive: &std::sync::Weak<()>,
) {
    let lengths = |runs: &std::path::Path| -> HashMap<String, u64> {
        std::fs::read_dir(runs)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| Some((run_of(&e.path())?, e.metadata().ok()?.len())))
            .collect()
    };
    let mut seen = lengths(runs);
    loop {
        std::thread::sleep(every);
        if alive.upgrade().is_none() {
            return;
        }
        let now = lengths(runs);
        for (run, len) in &now {
            if seen.get(run) != Some(len) {
                let _ = tx.send(run.clone());
            }
        }
        seen = now;
    }
}

/// Waits for the next change of a run that `wanted` accepts (and the others that come with
/// it); `None` when the hub closed or the server stops.
async fn next_change(
    rx: &mut broadcast::Receiver<String>,
    stopping: &tokio_util::sync::CancellationToken,
    wanted: impl Fn(&str) -> bool,
) -> Option<Vec<String>> {
    let mut runs = Vec::new();
    loop {
        let received = tokio::select! {
            received = rx.recv() => received,
            () = stopping.cancelled() => return None,
        };
        match received {
            Ok(run) if wanted(&run) => {
                runs.push(run);
                break;
            }
            Ok(_) => {}
            // Missed some: read everything again.
            Err(broadcast::error::RecvError::Lagged(_)) => break,
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
    tokio::time::sleep(SETTLE).await;
    while let Ok(run) = rx.try_recv() {
        if wanted(&run) && !runs.contains(&run) {
            runs.push(run);
        }
    }
    Some(runs)
}

#[derive(Debug, Deserialize)]
pub struct After {
    pub after: Option<u64>,
}

fn last_event_id(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `GET /runs/RUN/events`.
pub async fn run_events(
    State(app): State<Arc<App>>,
    Path(run): Path<String>,
    Query(after): Query<After>,
    headers: HeaderMap,
) -> Response {
    if crate::query::run_id_problem(&run).is_some() {
        return app.message(
            axum::http::StatusCode::NOT_FOUND,
            "No such run",
            "That is not a run id.",
        );
    }
    let resume = last_event_id(&headers).or(after.after);
    let rx = app.changes.subscribe();
    let state = RunStream {
        app,
        run,
        last: resume,
        rx,
        pending: VecDeque::new(),
        first: true,
        folded: None,
    };
    Sse::new(run_stream(state))
        .keep_alive(KeepAlive::default())
        .into_response()
}

struct RunStream {
    app: Arc<App>,
    run: String,
    /// The last record sent (or that the page showed); `None`: from now on.
    last: Option<u64>,
    rx: broadcast::Receiver<String>,
    pending: VecDeque<Event>,
    first: bool,
    /// The run as of record `last`, folded record by record, so each event says the task's
    /// and the run's status as they were after that record.
    folded: Option<Box<RunState>>,
}

/// The events of `loaded`'s records after `from`, each with the status of its task and of
/// the run just after it; `folded` is the run as of `from` (rebuilt from the records when
/// `None`) and comes back as of the last record.
fn fold(
    folded: Option<Box<RunState>>,
    loaded: &super::Loaded,
    from: u64,
) -> (Box<RunState>, Vec<Event>) {
    let mut state = folded.unwrap_or_else(|| {
        Box::new(RunState::replay(
            loaded
                .records
                .iter()
                .take_while(|r| r.seq <= from)
                .map(|r| (&r.change, r.at)),
        ))
    });
    let mut events = Vec::new();
    for record in loaded.records.iter().filter(|r| r.seq > from) {
        crate::engine::apply(&mut state, &record.change, record.at);
        let change = serde_json::to_value(&record.change).unwrap_or_default();
        let task_ref = change["task_ref"].as_str();
        let data = json!({
            "seq": record.seq,
            "event": change["event"],
            "task_ref": task_ref,
            "task_status": task_ref.and_then(|t| state.tasks.get(t)).map(|t| t.status),
            "run_status": state.status,
            "paused": state.paused,
        });
        events.push(
            Event::default()
                .event("record")
                .id(record.seq.to_string())
                .data(data.to_string()),
        );
    }
    (state, events)
}

fn run_stream(state: RunStream) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.pending.pop_front() {
                return Some((Ok(event), s));
            }
            if !s.first {
                let run = s.run.clone();
                next_change(&mut s.rx, &s.app.stopping, |r| r == run).await?;
            }
            s.first = false;
            let (app, run) = (s.app.clone(), s.run.clone());
            let Ok(loaded) = super::blocking(move || app.journals.load(&app.station, &run)).await
            else {
                continue;
            };
            let last_seq = loaded.last_seq();
            let from = match s.last {
                None => {
                    s.last = Some(last_seq);
                    continue;
                }
                Some(seen) => seen,
            };
            if from > last_seq
                || s.folded
                    .as_ref()
                    .is_some_and(|f| f.run_id != loaded.state.run_id)
            {
                // The page saw more than the journal holds: it was replaced. Start again.
                s.folded = None;
                s.pending
                    .push_back(Event::default().event("reload").data("{}"));
                s.last = Some(last_seq);
                continue;
            }
            if last_seq - from > MAX_BEHIND {
                s.folded = None;
                s.pending.push_back(
                    Event::default()
                        .event("reload")
                        .id(last_seq.to_string())
                        .data("{}"),
                );
                s.last = Some(last_seq);
                continue;
            }
            let folded = s.folded.take();
            let (state, events) = super::blocking(move || fold(folded, &loaded, from)).await;
            s.folded = Some(state);
            s.pending.extend(events);
            s.last = Some(last_seq);
        }
    })
}

/// `GET /events`.
pub async fn station_events(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let since = last_event_id(&headers);
    let rx = app.changes.subscribe();
    let state = StationStream {
        app,
        rx,
        since,
        pending: VecDeque::new(),
    };
    Sse::new(station_stream(state))
        .keep_alive(KeepAlive::default())
        .into_response()
}

struct StationStream {
    app: Arc<App>,
    rx: broadcast::Receiver<String>,
    /// On the first turn: resume from this time (ms); then `None`.
    since: Option<u64>,
    pending: VecDeque<Event>,
}

fn station_stream(state: StationStream) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(state, |mut s| async move {
        loop {
            if let Some(event) = s.pending.pop_front() {
                return Some((Ok(event), s));
            }
            let runs = match s.since.take() {
                Some(since) => {
                    let app = s.app.clone();
                    super::blocking(move || changed_since(&app.station, since)).await
                }
                None => next_change(&mut s.rx, &s.app.stopping, |_| true).await?,
            };
            let app = s.app.clone();
            let events = super::blocking(move || {
                runs.iter()
                    .filter_map(|run| {
                        let loaded = app.journals.load(&app.station, run).ok()?;
                        let state = &loaded.state;
                        let last = loaded.records.last()?;
                        let data = json!({
                            "run_id": run,
                            "workflow": state.workflow.name,
                            "status": state.status,
                            "tasks_done": state.tasks.values().filter(|t| t.status.is_done()).count(),
                            "tasks_total": state.tasks.len(),
                        });
                        Some(
                            Event::default()
                                .event("run")
                                .id(last.at.timestamp_millis().to_string())
                                .data(data.to_string()),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .await;
            s.pending.extend(events);
        }
    })
}

/// The runs whose journal was modified at or after `since_ms` (ms since 1970).
fn changed_since(station: &Station, since_ms: u64) -> Vec<String> {
    let since = std::time::UNIX_EPOCH + Duration::from_millis(since_ms);
    std::fs::read_dir(station.runs_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        })
        .filter_map(|e| run_of(&e.path()))
        .collect()
}
