//! Colours: one place that says how a state looks.

use ratatui::style::{Color, Modifier, Style};

use super::tree::TaskCell;
use crate::engine::{RunStatus, TaskStatus};

pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

pub fn run(status: Option<RunStatus>) -> Style {
    match status {
        Some(RunStatus::Running) => Style::new().fg(Color::Yellow),
        Some(RunStatus::Completed) => Style::new().fg(Color::Green),
        Some(RunStatus::Failed | RunStatus::TimedOut) => Style::new().fg(Color::Red),
        Some(RunStatus::Terminated) => Style::new().fg(Color::Magenta),
        None => Style::new().fg(Color::Red).add_modifier(Modifier::DIM),
    }
}

pub fn task(cell: &TaskCell) -> Style {
    if cell.is_waiting_approval() {
        return Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    }
    match cell.status {
        None => Style::new().add_modifier(Modifier::DIM),
        Some(s) if s.is_done() => Style::new().fg(Color::Green),
        Some(s) if s.is_failed() => Style::new().fg(Color::Red),
        Some(TaskStatus::Canceled) => Style::new().fg(Color::Magenta),
        Some(_) => Style::new().fg(Color::Yellow),
    }
}

pub fn event(name: &str) -> Style {
    if name.contains("failed") || name.contains("rejected") || name.contains("timed_out") {
        Style::new().fg(Color::Red)
    } else if name.contains("completed") || name.contains("decided") {
        Style::new().fg(Color::Green)
    } else if name.starts_with("approval") {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::Blue)
    }
}

/// The border of a pane: bold when it has the focus.
pub fn border(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}
