//! `3ox top`: a terminal dashboard of the station's runs (ratatui on crossterm).
//!
//! # Theory of operation
//!
//! A functional core and a thin shell, as the engine and the orchestrator:
//!
//! - [`app`] holds the whole state (the runs, the header, the selected run's tree and event
//!   tail, the filter, the focused pane, a question being asked); [`keys`] turns a key into
//!   a new state and maybe an [`app::Action`]. Neither reads a file or the clock.
//! - [`ui`] draws a frame from the state, one file per pane: [`header`] (pending approvals
//!   and live agents), [`runs`], [`tree`] (the task tree with states, attempts and times),
//!   [`events`] (the journal's latest records) and [`help`]. Being pure, both are tested on
//!   ratatui's `TestBackend`.
//! - [`source`] reads the station as the other views do (the runs index, the journals, the
//!   worker locks); [`actions`] performs an action through exactly the code of `3ox
//!   approve`, `reject`, `retry`, `pause`, `resume` and `terminate`.
//! - [`terminal`] is the loop: terminal events, a notify watcher on `.3ox/runs/` (so runs
//!   driven by other processes show live) and a clock tick go into one channel; each message
//!   updates the state, a change on disk reads the station again, and the frame is redrawn.

pub mod actions;
pub mod app;
pub mod events;
pub mod header;
pub mod help;
pub mod keys;
pub mod runs;
pub mod source;
pub mod style;
pub mod terminal;
pub mod tree;
pub mod ui;

#[cfg(test)]
mod tests;

use ratatui::layout::Rect;

pub use terminal::{Options, run};

/// `4s`, `3m05s`, `2h10m`, `3d4h`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

/// A `width` x `height` rectangle in the middle of `area` (cut to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
