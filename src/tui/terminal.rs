//! The terminal loop: one channel takes the terminal's keys and resizes, the watcher's word
//! that something changed in `.3ox/runs/`, a once-a-second tick for the clocks (and the
//! agents' liveness, which no file event announces), and the outcome of operations (run on a
//! thread of their own, so a driver slow to answer never freezes the screen). Each message
//! changes the [`App`]; after a change on disk the runs and the selected run are read again;
//! then the frame is drawn.
//!
//! Without a watcher (it cannot be made, or `THREEOX_WATCH=poll`) the tick also says "look
//! again" every 250 ms. The terminal is restored on exit and on panic (`ratatui::init`
//! installs the panic hook).

use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use notify::Watcher as _;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEvent};

use super::actions::{self, Identity};
use super::app::{Action, App};
use super::source::Source;
use super::ui;
use crate::orchestrator::runtime::{POLL_EVERY, WatchMode};
use crate::station::Station;

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
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let result = event_loop(&mut terminal, station, options, &tx, &rx);
    ratatui::restore();
    drop(watcher);
    result
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    station: Station,
    options: Options,
    tx: &mpsc::Sender<Msg>,
    rx: &mpsc::Receiver<Msg>,
) -> anyhow::Result<()> {
    let mut source = Source::new(station);
    let mut app = App::new(options.read_only, Utc::now());
    refresh(&mut source, &mut app);
    loop {
        terminal.draw(|frame| ui::draw(frame, &app))?;
        let Ok(first) = rx.recv() else {
            return Ok(());
        };
        let before = app.selected.clone();
        let mut changed = false;
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Key(key) => match app.on_key(key) {
                    Some(Action::Quit) => return Ok(()),
                    Some(action) => {
                        let (station, who, tx) =
                            (source.station().clone(), options.who.clone(), tx.clone());
                        std::thread::spawn(move || {
                            let _ = tx.send(Msg::Done(actions::perform(&station, &who, action)));
                        });
                    }
                    None => {}
                },
                // The next draw takes the new size.
                Msg::Resize => terminal.autoresize()?,
                Msg::Changed => changed = true,
                Msg::Tick => {
                    app.now = Utc::now();
                    app.header.agents = source.agents();
                }
                Msg::Done(line) => {
                    app.done(line);
                    changed = true;
                }
            }
        }
        if changed {
            refresh(&mut source, &mut app);
        } else if app.selected != before {
            load_detail(&source, &mut app);
        }
    }
}

/// Reads the runs, the header and the selected run again.
fn refresh(source: &mut Source, app: &mut App) {
    app.now = Utc::now();
    match source.runs(app.now) {
        Ok(runs) => {
            let header = source.header(&runs);
            app.problem = None;
            app.set_runs(runs, header);
        }
        Err(e) => app.problem = Some(format!("cannot list the runs: {e}")),
    }
    load_detail(source, app);
}

fn load_detail(source: &Source, app: &mut App) {
    let detail = match &app.selected {
        None => None,
        Some(run_id) => match source.detail(run_id) {
            Ok(detail) => Some(detail),
            Err(problem) => {
                app.message = Some(format!("run {run_id}: {problem}"));
                None
            }
        },
    };
    app.set_detail(detail);
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
