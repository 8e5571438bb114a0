//! The runs pane: the station's runs, newest first, as the filter admits them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Row, Table, TableState};

use super::app::App;
use super::style;

pub fn render(frame: &mut Frame, area: Rect, block: Block, app: &App, focused: bool) {
    let visible = app.visible();
    let rows = visible.iter().map(|run| {
        let status = match (&run.status, &run.problem) {
            (Some(status), _) => status.to_string(),
            (None, _) => "UNREADABLE".to_string(),
        };
        let paused = app
            .current()
            .is_some_and(|d| d.run_id == run.run_id && d.paused);
        Row::new(vec![
            run.run_id.clone(),
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
        ])
        .style(style::run(run.status))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(26),
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
    )
    .header(
        Row::new(vec!["RUN", "WORKFLOW", "STATUS", "TASKS", "AGE"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(block)
    .row_highlight_style(if focused {
        style::selected()
    } else {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    });
    let mut state = TableState::default().with_selected(app.run_cursor());
    frame.render_stateful_widget(table, area, &mut state);
}
