//! The help overlay (`?`): every key.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The keys and what they do, as the help shows them (and docs/cli.md lists them).
pub const KEYS: &[(&str, &str)] = &[
    ("?", "this help (Esc closes it)"),
    ("q, Ctrl-C", "quit"),
    (
        "Tab, Shift-Tab",
        "next / previous pane: runs, tasks, events",
    ),
    (
        "↑ ↓, j k",
        "move in the pane (events: scroll back and forth)",
    ),
    ("PgUp PgDn, g G", "move by ten, to the top / bottom"),
    (
        "Enter",
        "open the selected run: its task tree gets the focus",
    ),
    ("Esc", "back to the runs pane; there, clear the filters"),
    (
        "/",
        "search runs by id or workflow (Enter keeps, Esc clears)",
    ),
    ("s", "filter by status: RUNNING, COMPLETED, ... , any"),
    ("w", "filter by workflow, one after the other, then any"),
    (
        "a",
        "approve the selected waiting HUMAN task (confirm, comment)",
    ),
    (
        "x",
        "reject the selected waiting HUMAN task (confirm, reason)",
    ),
    ("R", "retry the selected run (its failed or canceled tasks)"),
    ("p", "pause the selected run, or resume it when paused"),
    ("T", "terminate the selected run (confirm)"),
];

pub fn render(frame: &mut Frame, area: Rect, read_only: bool) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{key:>16}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::raw(if read_only {
        "  read-only (--read-only): a, x, R, p and T are disabled"
    } else {
        "  a x R p T: the code and checks of 3ox approve, reject, retry, pause/resume, terminate"
    }));
    let height = lines.len() as u16 + 2;
    let area = super::centered(area, 84, height);
    frame.render_widget(Clear, area);
    let block = Block::new().borders(Borders::ALL).title(" keys ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
