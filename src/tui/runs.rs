//! The runs pane: the station's runs, newest first, as the filter admits them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Row, Table, TableState};

use super::app::App;
use super::style;

pub fn render(frame: &mut Frame, area: Rect, block: Block, app: &App, focused: bool) {
    let visible = app.visible();
    // A narrow pane shows the start of each run id (the search still matches all of it).
    let width = block.inner(area).width;
    let id_width: u16 = if width >= 64 { 26 } else { 13 };
    // AGE goes first when even that is too wide.
    let columns = if width >= 50 { 5 } else { 4 };
    let rows = visible.iter().map(|run| {
        let status = match (&run.status, &run.problem) {
            (Some(status), _) => status.to_string(),
            (None, _) => "UNREADABLE".to_string(),
        };
        let paused = app
            .current()
            .is_some_and(|d| d.run_id == run.run_id && d.paused);
        let mut cells = vec![
            short(&run.run_id, id_width as usize),
            run.workflow.clone().unwrap_or_else(|| "?".into()),
            if paused {
                format!("{status} (paused)")
            } else {
                status
            },
            format!("{}/{}", run.tasks_done, run.tasks_total),
            run.started_at
                .map(|t| super::duration((app.now - t).num_seconds()))
                .unwrap_or_default(),
        ];
        cells.truncate(columns);
        Row::new(cells).style(style::run(run.status))
    });
    let mut widths = vec![
        Constraint::Length(id_width),
        Constraint::Min(6),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    widths.truncate(columns);
    let mut header = vec!["RUN", "WORKFLOW", "STATUS", "TASKS", "AGE"];
    header.truncate(columns);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(block)
        .row_highlight_style(if focused {
            style::selected()
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        });
    let mut state = TableState::default().with_selected(app.run_cursor());
    frame.render_stateful_widget(table, area, &mut state);
}

/// `id`, or its start and `…` when it is longer than `width`.
fn short(id: &str, width: usize) -> String {
    if id.chars().count() <= width {
        id.to_string()
    } else {
        let head: String = id.chars().take(width.saturating_sub(1)).collect();
        format!("{head}…")
    }
}
