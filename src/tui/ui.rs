//! One frame of the dashboard: the header on top, the runs on the left, the selected run's
//! task tree and event tail on the right, a footer with the keys and the last message, and
//! the help or a question over it all.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Mode, Pane};
use super::{events, header, help, runs, style, tree};

pub fn draw(frame: &mut Frame, app: &App) {
    let [top, body, footer] = Layout::vertical([
        Constraint::Length(header::HEIGHT),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    header::render(frame, top, app);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(44), Constraint::Fill(1)]).areas(body);
    let [tasks, tail] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Fill(1)]).areas(right);

    let filter = app.filter.describe();
    let runs_title = if filter.is_empty() {
        format!(" runs ({}) ", app.visible().len())
    } else {
        format!(" runs ({}) [{filter}] ", app.visible().len())
    };
    runs::render(
        frame,
        left,
        pane(runs_title, app.focus == Pane::Runs),
        app,
        app.focus == Pane::Runs,
    );

    let detail = app.current();
    let tree_title = match detail {
        Some(d) => format!(
            " {} {} · {}{}{} ",
            d.workflow,
            d.run_id,
            d.status,
            if d.paused { " (paused)" } else { "" },
            if d.driven { " · driven" } else { "" }
        ),
        None => " tasks ".to_string(),
    };
    let rows = detail.map_or(&[][..], |d| &d.tree[..]);
    tree::render(
        frame,
        tasks,
        pane(tree_title, app.focus == Pane::Tree),
        rows,
        (app.focus == Pane::Tree).then_some(app.tree_cursor),
        app.now,
    );
    let lines = detail.map_or(&[][..], |d| &d.events[..]);
    let tail_title = if app.events_scroll > 0 {
        format!(" events (-{}) ", app.events_scroll)
    } else {
        " events ".to_string()
    };
    events::render(
        frame,
        tail,
        pane(tail_title, app.focus == Pane::Events),
        lines,
        app.events_scroll,
    );
    render_footer(frame, footer, app);

    match &app.mode {
        Mode::Help => help::render(frame, frame.area(), app.read_only),
        Mode::Confirm(pending) => question(
            frame,
            vec![
                Line::raw(pending.question()),
                Line::raw(""),
                Line::styled(
                    "y: yes   n / Esc: no",
                    Style::new().add_modifier(Modifier::DIM),
                ),
            ],
        ),
        Mode::Prompt { pending, text } => question(
            frame,
            vec![
                Line::raw(pending.question()),
                Line::raw(""),
                Line::from(vec![
                    Span::styled(
                        format!("{}: ", pending.prompt().unwrap_or("Text")),
                        Style::new().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(text.clone()),
                    Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
                ]),
                Line::raw(""),
                Line::styled(
                    "Enter: send   Esc: cancel",
                    Style::new().add_modifier(Modifier::DIM),
                ),
            ],
        ),
        Mode::Normal | Mode::Search => {}
    }
}

fn pane(title: String, focused: bool) -> Block<'static> {
    Block::new()
        .borders(Borders::ALL)
        .border_style(style::border(focused))
        .title(title)
}

fn render_footer(frame: &mut Frame, area: Rect, app: &App) {
    let line = if app.mode == Mode::Search {
        Line::from(vec![
            Span::styled("/", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(app.filter.search.clone()),
            Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            Span::styled(
                "   Enter: keep   Esc: clear",
                Style::new().add_modifier(Modifier::DIM),
            ),
        ])
    } else if let Some(problem) = &app.problem {
        Line::styled(problem.clone(), Style::new().fg(Color::Red))
    } else if let Some(message) = &app.message {
        Line::styled(message.clone(), Style::new().fg(Color::Yellow))
    } else {
        Line::styled(
            "?:help  /:search  s:status  w:workflow  Tab:pane  Enter:open  a:approve  x:reject  R:retry  p:pause  T:terminate  q:quit",
            Style::new().add_modifier(Modifier::DIM),
        )
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn question(frame: &mut Frame, lines: Vec<Line>) {
    let area = super::centered(frame.area(), 80, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(Color::Yellow))
        .title(" confirm ");
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
