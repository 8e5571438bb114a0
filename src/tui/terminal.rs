//! The terminal loop: one channel takes the terminal's keys and resizes, the watcher's word
//! that something changed in `.3ox/runs/`, a once-a-second tick for the clocks (and the
//! agents' liveness, which no file event announces), what the loader read, and the outcome
//! of operations. Each message changes the [`App`], then the frame is drawn.
//!
//! Reading the station happens on a loader thread of its own, and so does each operation, so
//! neither a long journal (a run of 10,000 tasks) nor a driver slow to answer freezes the
//! screen: keys, scrolling and resizes are handled while a read is under way. After a change
//! on disk the loader reads the runs and the selected run again, at most every 100 ms and one
//! read at a time (the changes in between are read together); moving the selection reads the
//! newly selected run.
//!
//! Without a watcher (it cannot be made, or `THREEOX_WATCH=poll`) the tick also says "look
//! again" every 250 ms. The terminal is restored on exit and on panic (`ratatui::init`
//! installs the panic hook).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use notify::Watcher as _;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEvent};

use super::actions::{self, Identity};
use super::app::{Action, App};
use super::source::{self, Detail, Header, Source};
use super::ui;
use crate::orchestrator::runtime::{POLL_EVERY, WatchMode};
use crate::query::RunLine;
use crate::station::Station;

/// The least time between two reads of the station after changes.
const REFRESH_GAP: Duration = Duration::from_millis(100);

/// The footer until the station has been read once.
const READING: &str = "reading the station...";

/// How `3ox top` runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub read_only: bool,
    pub who: Identity,
}

enum Msg {
    Key(KeyEvent),
    Resize,
    /// Something changed in `.3ox/runs/`.
    Changed,
    Tick,
    /// An operation's outcome.
    Done(String),
    /// What the loader read.
    Loaded(Box<Loaded>),
}

/// What the loader is asked to read.
struct Load {
    /// The run list and the header too (else only the selected run).
    overview: bool,
    selected: Option<String>,
}

struct Loaded {
    overview: Option<Result<(Vec<RunLine>, Header), String>>,
    selected: Option<String>,
    detail: Option<Result<Detail, String>>,
}

/// Runs the dashboard on the terminal until `q`.
pub fn run(station: Station, options: Options) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel();
    let watcher = watch(&station, tx.clone());
    let polling = watcher.is_none();
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            loop {
                let msg = match event::read() {
                    Ok(Event::Key(key)) => Msg::Key(key),
                    Ok(Event::Resize(..)) => Msg::Resize,
                    Ok(_) => continue,
                    Err(_) => break,
                };
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
    }
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let every = if polling {
                POLL_EVERY
            } else {
                Duration::from_secs(1)
            };
            let mut ticks = 0u32;
            loop {
                std::thread::sleep(every);
                ticks = ticks.wrapping_add(1);
                if polling && tx.send(Msg::Changed).is_err() {
                    break;
                }
                let second = !polling || ticks.is_multiple_of(4);
                if second && tx.send(Msg::Tick).is_err() {
                    break;
                }
            }
        });
    }
    let loads = loader(station.clone(), tx.clone());
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let result = event_loop(&mut terminal, station, options, &tx, &rx, &loads);
    ratatui::restore();
    drop(watcher);
    result
}

/// The loader thread: reads what it is asked, one request at a time, and sends it back.
fn loader(station: Station, tx: mpsc::Sender<Msg>) -> mpsc::Sender<Load> {
    let (loads, requests) = mpsc::channel::<Load>();
    std::thread::spawn(move || {
        let mut source = Source::new(station);
        for load in requests {
            // At the start nothing is selected yet: the newest run is.
            let selected = load.selected.or_else(|| {
                crate::query::run_ids(source.station())
                    .ok()
                    .and_then(|ids| ids.first().cloned())
            });
            // The selected run first: the run list and the header reuse its state.
            let detail = selected.as_ref().map(|id| source.detail(id));
            let overview = load.overview.then(|| {
                source
                    .runs(Utc::now())
                    .map(|runs| {
                        let header = source.header(&runs);
                        (runs, header)
                    })
                    .map_err(|e| format!("cannot list the runs: {e}"))
            });
            let loaded = Loaded {
                overview,
                selected,
                detail,
            };
            if tx.send(Msg::Loaded(Box::new(loaded))).is_err() {
                break;
            }
        }
    });
    loads
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    station: Station,
    options: Options,
    tx: &mpsc::Sender<Msg>,
    rx: &mpsc::Receiver<Msg>,
    loads: &mpsc::Sender<Load>,
) -> anyhow::Result<()> {
    let mut app = App::new(options.read_only, Utc::now());
    app.message = Some(READING.to_string());
    let mut last_load = Instant::now();
    let mut loading = true;
    loads.send(Load {
        overview: true,
        selected: None,
    })?;
    // A change seen and not read yet.
    let mut stale = false;
    // The selection moved while a read was under way.
    let mut moved = false;
    loop {
        terminal.draw(|frame| ui::draw(frame, &app))?;
        let first = if stale && !loading {
            match rx.recv_timeout(REFRESH_GAP.saturating_sub(last_load.elapsed())) {
                Ok(msg) => Some(msg),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        } else {
            match rx.recv() {
                Ok(msg) => Some(msg),
                Err(_) => return Ok(()),
            }
        };
        let before = app.selected.clone();
        for msg in first.into_iter().chain(rx.try_iter()) {
            match msg {
                Msg::Key(key) => match app.on_key(key) {
                    Some(Action::Quit) => return Ok(()),
                    Some(action) => {
                        let (station, who, tx) = (station.clone(), options.who.clone(), tx.clone());
                        std::thread::spawn(move || {
                            let _ = tx.send(Msg::Done(actions::perform(&station, &who, action)));
                        });
                    }
                    None => {}
                },
                // The next draw takes the new size.
                Msg::Resize => terminal.autoresize()?,
                Msg::Changed => stale = true,
                Msg::Tick => {
                    app.now = Utc::now();
                    app.header.agents = source::agents(&station);
                }
                Msg::Done(line) => {
                    app.done(line);
                    stale = true;
                }
                Msg::Loaded(loaded) => {
                    loading = false;
                    apply(&mut app, *loaded);
                }
            }
        }
        if app.selected != before {
            moved = true;
        }
        if loading {
            continue;
        }
        if stale && last_load.elapsed() >= REFRESH_GAP {
            loads.send(Load {
                overview: true,
                selected: app.selected.clone(),
            })?;
            (loading, stale, moved) = (true, false, false);
            last_load = Instant::now();
        } else if moved {
            loads.send(Load {
                overview: false,
                selected: app.selected.clone(),
            })?;
            (loading, moved) = (true, false);
        }
    }
}

/// Takes what the loader read into the app.
fn apply(app: &mut App, loaded: Loaded) {
    app.now = Utc::now();
    match loaded.overview {
        Some(Ok((runs, header))) => {
            app.problem = None;
            if app.message.as_deref() == Some(READING) {
                app.message = None;
            }
            if app.selected.is_none() {
                app.selected = loaded.selected.clone();
            }
            app.set_runs(runs, header);
        }
        Some(Err(problem)) => app.problem = Some(problem),
        None => {}
    }
    match loaded.detail {
        Some(Ok(detail)) => app.set_detail(Some(detail)),
        Some(Err(problem)) if app.selected == loaded.selected => {
            app.message = Some(format!(
                "run {}: {problem}",
                loaded.selected.unwrap_or_default()
            ));
        }
        Some(Err(_)) | None => {}
    }
}

/// A watcher on `.3ox/runs/` that says [`Msg::Changed`] on every change (not on reads, ours
/// included); `None` when polling is asked for or no watcher can be made.
fn watch(station: &Station, tx: mpsc::Sender<Msg>) -> Option<notify::RecommendedWatcher> {
    if WatchMode::from_env() == WatchMode::Poll {
        return None;
    }
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        use notify::EventKind::Access;
        use notify::event::{AccessKind, AccessMode};
        let reading = matches!(
            &event,
            Ok(e) if matches!(e.kind, Access(kind) if kind != AccessKind::Close(AccessMode::Write))
        );
        if !reading {
            let _ = tx.send(Msg::Changed);
        }
    })
    .map_err(|error| tracing::warn!(%error, "cannot watch the runs folder; looking every 250 ms"))
    .ok()?;
    watcher
        .watch(&station.runs_dir(), notify::RecursiveMode::NonRecursive)
        .map_err(
            |error| tracing::warn!(%error, "cannot watch the runs folder; looking every 250 ms"),
        )
        .ok()?;
    Some(watcher)
}
